//! Validation: resolves names to ids and rejects impossible values, naming the file and the
//! YAML path of each.
//! One file per section; this one holds the [`Validator`] they share and the order in which
//! the sections are checked (the first error found is the one reported).

mod expect;
mod faults;
mod network;
mod regions;
mod replication;
mod weather;
mod workload;

use super::*;

pub(super) struct Validator<'a> {
    pub(super) file: &'a str,
    pub(super) names: Vec<String>,
}

impl Validator<'_> {
    /// Refuses a timer-like setting below its floor. A timer set to a few nanoseconds validates
    /// as a tiny number but fires billions of times per simulated second, so a run that looks
    /// small never finishes (or fills memory); `why` says what the floor stands for.
    pub(super) fn floor(
        &self,
        path: &str,
        value: Span,
        floor: Span,
        why: &str,
    ) -> Result<(), ScenarioError> {
        if value < floor {
            return Err(self.err(path, format!("{value} is below the {floor} floor ({why})")));
        }
        Ok(())
    }

    /// Like [`Validator::floor`] for settings where 0 means "off" or "at once".
    pub(super) fn floor_or_zero(
        &self,
        path: &str,
        value: Span,
        floor: Span,
        why: &str,
    ) -> Result<(), ScenarioError> {
        if value != Span::ZERO && value < floor {
            return Err(self.err(
                path,
                format!("{value} is below the {floor} floor ({why}; 0 turns it off)"),
            ));
        }
        Ok(())
    }

    pub(super) fn err(&self, path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }

    pub(super) fn region(&self, path: &str, name: &str) -> Result<RegionId, ScenarioError> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| RegionId(i as u16))
            .ok_or_else(|| {
                self.err(
                    path,
                    format!(
                        "unknown region `{name}`; regions are: {}",
                        self.names.join(", ")
                    ),
                )
            })
    }

    pub(super) fn probability(&self, path: &str, p: f64) -> Result<f64, ScenarioError> {
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(
                path,
                format!("must be a probability between 0 and 1, got {p}"),
            ))
        }
    }

    /// Parses `"a <-> b"` (both directions) or `"a -> b"` into directed pairs.
    pub(super) fn link(
        &self,
        path: &str,
        text: &str,
    ) -> Result<Vec<(RegionId, RegionId)>, ScenarioError> {
        let (a, b, both) = if let Some((a, b)) = text.split_once("<->") {
            (a, b, true)
        } else if let Some((a, b)) = text.split_once("->") {
            (a, b, false)
        } else {
            return Err(self.err(
                path,
                format!("`{text}` is not a link; write `a <-> b` (both directions) or `a -> b`"),
            ));
        };
        let a = self.region(path, a.trim())?;
        let b = self.region(path, b.trim())?;
        if a == b {
            return Err(self.err(path, format!("`{text}` links a region to itself")));
        }
        Ok(if both {
            vec![(a, b), (b, a)]
        } else {
            vec![(a, b)]
        })
    }

    pub(super) fn dist(&self, path: &str, spec: &DistSpec) -> Result<Sampler, ScenarioError> {
        spec.compile().map_err(|e| self.err(path, e.to_string()))
    }
}

pub(super) fn validate(spec: ScenarioSpec, file: &str) -> Result<Scenario, ScenarioError> {
    let names: Vec<String> = spec.regions.iter().map(|r| r.name.clone()).collect();
    let v = Validator { file, names };

    if spec.name.trim().is_empty() {
        return Err(v.err("name", "must not be empty"));
    }
    if spec.duration == Span::ZERO {
        return Err(v.err("duration", "must be longer than 0"));
    }
    if spec.quiesce_limit == Some(Span::ZERO) {
        return Err(v.err("quiesce_limit", "must be longer than 0"));
    }
    if spec.regions.is_empty() {
        return Err(v.err("regions", "needs at least one region"));
    }
    if spec.regions.len() > MAX_REGIONS {
        return Err(v.err(
            "regions",
            format!(
                "at most {MAX_REGIONS} regions are supported, got {}",
                spec.regions.len()
            ),
        ));
    }

    let mut regions = regions::regions(&v, &spec)?;
    let n = regions.len();
    let lat = &spec.network.latency;
    let links = network::links(&v, &spec, &mut regions)?;
    let mut warnings = links.warnings;
    replication::timers(&v, &spec)?;
    let nominal: Vec<u64> = (0..n * n)
        .map(|i| links.latency[i].as_ref().map_or(0, |l| l.spec.nominal().0))
        .collect();
    let retry = workload::clients(&v, &spec)?;
    let (tables, table_loads, keys) = tables_plan(&v, &spec)?;
    let plan = replication::plan(&v, &spec, &nominal, keys, tables)?;
    let ops = workload::ops(&v, &spec, keys)?;
    let bandwidth_bps = network::bandwidth(&v, &spec, n)?;
    let cost_per_gb = match &spec.cost {
        None => None,
        Some(c) => Some(cost_table(&v, c, &regions, &lat.map)?),
    };
    let msg_classes = network::message_classes(&v, &spec, n)?;
    let service = workload::service(&v, &spec, n)?;
    let backup = replication::backup(&v, &spec)?;
    let faults = faults::faults(&v, &spec, plan.failover.is_some(), &mut warnings)?;
    let replication = replication::model(&spec, &regions);
    let expect = expect::expect(&v, &spec.expect)?;
    let sequence_window = sequence_window(&v, &spec, keys, &faults)?;
    let weather = weather::weather(&v, &spec)?;
    let stall_after = match spec.report.stall_after {
        Some(t) => {
            v.floor(
                "report.stall_after",
                t,
                Span::from_millis(1),
                "every write pending longer opens a stall interval",
            )?;
            t
        }
        None => default_stall_after(
            &links.latency,
            lat.jitter.as_ref().map_or(Span::ZERO, |j| j.nominal()),
            spec.replication.batch.max_delay,
        ),
    };

    Ok(Scenario {
        weather,
        sequence_window,
        stall_after,
        file: file.to_string(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        seed: spec.seed.unwrap_or(1),
        duration: spec.duration,
        quiesce_limit: spec.quiesce_limit.unwrap_or(Span::from_secs(600)),
        regions,
        network: NetworkModel {
            latency: links.latency,
            jitter: links.jitter,
            jitter_spec: lat.jitter.clone(),
            loss: links.loss,
            duplicate: links.duplicate,
            fifo: spec.network.fifo,
            bandwidth_bps,
            classes: msg_classes,
        },
        replication,
        flush_interval: spec.durability.flush_interval,
        backup,
        plan: Arc::new(plan),
        cost_per_gb,
        service,
        workload: Workload {
            keys,
            tables: table_loads,
            sessions: spec.workload.sessions,
            key_distribution: spec.workload.key_distribution,
            rates: ops.rates,
            write_fraction: ops.write_fraction,
            value_bytes: spec.workload.value_bytes,
            classes: ops.classes,
            reroute_after: spec.workload.reroute_after,
            retry,
            nominal,
        },
        faults,
        expect,
        warnings,
        source: String::new(),
    })
}

/// The window the sequence chart shows: as configured, else around the first fault, else
/// mid-run.
fn sequence_window(
    v: &Validator,
    spec: &ScenarioSpec,
    keys: u64,
    faults: &[Fault],
) -> Result<(SimTime, SimTime, Option<u64>), ScenarioError> {
    Ok(match &spec.report.sequence {
        Some(q) => {
            if q.from >= q.to {
                return Err(v.err(
                    "report.sequence",
                    format!("from ({}) must be before to ({})", q.from, q.to),
                ));
            }
            if q.from >= spec.duration {
                return Err(v.err(
                    "report.sequence.from",
                    format!(
                        "{} is not before the end of the run ({})",
                        q.from, spec.duration
                    ),
                ));
            }
            if let Some(k) = q.key {
                if k >= keys {
                    return Err(v.err(
                        "report.sequence.key",
                        format!("key {k} is outside the key space 0..{keys}"),
                    ));
                }
            }
            (SimTime(q.from.0), SimTime(q.to.0), q.key)
        }
        None => match faults.first() {
            Some(f) => (
                SimTime(f.at.0.saturating_sub(20_000_000)),
                f.at + Span::from_millis(150),
                None,
            ),
            None => {
                let mid = SimTime(spec.duration.0 / 2);
                (mid, mid + Span::from_millis(500), None)
            }
        },
    })
}
