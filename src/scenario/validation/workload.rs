//! The `workload` section: client retries and rerouting, sessions, keys, rates, the operation
//! mix against what the mode offers, and service times.

use super::*;

/// Retries and rerouting of the clients, and the number of sessions.
pub(in crate::scenario) fn clients(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<Option<Retry>, ScenarioError> {
    let retry = match &spec.workload.retry {
        None => None,
        Some(r) => {
            let p = "workload.retry";
            if r.attempts == 0 || r.attempts > 100 {
                return Err(v.err(
                    format!("{p}.attempts"),
                    format!(
                        "must be between 1 and 100 (tries in all, the first included), got {}",
                        r.attempts
                    ),
                ));
            }
            v.floor(
                &format!("{p}.backoff"),
                r.backoff,
                FLOOR_TIMER,
                "a client waits at least this long before it tries again",
            )?;
            let max_backoff = r
                .max_backoff
                .unwrap_or(Span(r.backoff.0.saturating_mul(20)));
            if max_backoff < r.backoff {
                return Err(v.err(
                    format!("{p}.max_backoff"),
                    format!(
                        "{max_backoff} is shorter than the first backoff ({})",
                        r.backoff
                    ),
                ));
            }
            Some(Retry {
                attempts: r.attempts,
                backoff: r.backoff,
                max_backoff,
                jitter: r.jitter,
            })
        }
    };
    if let Some(r) = spec.workload.reroute_after {
        v.floor(
            "workload.reroute_after",
            r,
            FLOOR_TIMER,
            "a health check takes time",
        )?;
    }
    if spec.workload.sessions > 1_000_000 {
        return Err(v.err(
            "workload.sessions",
            format!(
                "at most 1000000 sessions per region, got {}",
                spec.workload.sessions
            ),
        ));
    }
    Ok(retry)
}

/// Per-region rates, and the operation classes `(write, level, weight)` with the write share.
pub(in crate::scenario) struct Ops {
    pub rates: Vec<f64>,
    pub classes: Vec<(bool, Level, f64)>,
    pub write_fraction: f64,
}

/// Keys, key distribution, rates and the operation mix.
pub(in crate::scenario) fn ops(
    v: &Validator,
    spec: &ScenarioSpec,
    keys: u64,
) -> Result<Ops, ScenarioError> {
    let n = spec.regions.len();
    let w = &spec.workload;
    if keys == 0 {
        return Err(v.err("workload.keys", "must be at least 1"));
    }
    // Per-key state is dense (observer mirror, replica tables): about 64 bytes per key per region.
    let state_bytes = keys as f64 * n as f64 * 64.0;
    if keys > u32::MAX as u64 || state_bytes > MAX_STATE_BYTES {
        return Err(v.err(
            "workload.keys",
            format!(
                "{} keys x {n} regions needs about {:.0} GiB of state, more than the {:.0} GiB allowed; lower `keys`",
                keys,
                state_bytes / (1u64 << 30) as f64,
                MAX_STATE_BYTES / (1u64 << 30) as f64
            ),
        ));
    }
    if let KeyDistribution::Zipf(s) = w.key_distribution {
        if !(s.is_finite() && s > 0.0) {
            return Err(v.err(
                "workload.key_distribution.zipf",
                format!("the exponent must be > 0, got {s}"),
            ));
        }
    }
    let rate_ok = |r: f64| r.is_finite() && (0.0..=10_000_000.0).contains(&r);
    if !rate_ok(w.rate_per_region) {
        return Err(v.err(
            "workload.rate_per_region",
            format!(
                "must be between 0 and 1e7 ops per second, got {}",
                w.rate_per_region
            ),
        ));
    }
    let mut rates = vec![w.rate_per_region; n];
    for (name, r) in &w.rates {
        let path = format!("workload.rates.{name}");
        let id = v.region(&path, name)?;
        if !rate_ok(*r) {
            return Err(v.err(
                path,
                format!("must be between 0 and 1e7 ops per second, got {r}"),
            ));
        }
        rates[id.idx()] = *r;
    }
    let mix = w.mix;
    let mut classes = Vec::new();
    let mut total = 0.0;
    for (name, write, level, weight) in mix.classes() {
        let path = format!("workload.mix.{name}");
        v.probability(&path, weight)?;
        total += weight;
        if weight == 0.0 {
            continue;
        }
        match (spec.replication.mode, write, level) {
            (Mode::MultiMaster | Mode::Quorum, false, Level::Primary) => {
                return Err(v.err(
                    path,
                    "only primary-backup and chain have a primary to read from; use read_quorum or read_all",
                ))
            }
            (Mode::Chain, true, l) if l != Level::Default => {
                return Err(v.err(
                    path,
                    "chain replication commits every write at the tail; use plain `write`",
                ))
            }
            _ => {}
        }
        classes.push((write, level, weight));
    }
    if (total - 1.0).abs() > 1e-9 {
        return Err(v.err(
            "workload.mix",
            format!("the operation weights must add up to 1, got {total}"),
        ));
    }
    let write_fraction: f64 = classes.iter().filter(|c| c.0).map(|c| c.2).sum();
    Ok(Ops {
        rates,
        classes,
        write_fraction,
    })
}

/// Service times per region (`None` when every one is zero).
pub(in crate::scenario) fn service(
    v: &Validator,
    spec: &ScenarioSpec,
    n: usize,
) -> Result<Option<ServiceModel>, ScenarioError> {
    Ok(match &spec.service {
        None => None,
        Some(sv) => {
            let mut write = vec![None; n];
            let mut read = vec![None; n];
            let nonzero =
                |path: &str, d: &Option<DistSpec>| -> Result<Option<Sampler>, ScenarioError> {
                    match d {
                        None => Ok(None),
                        Some(d) => {
                            let smp = v.dist(path, d)?;
                            Ok((!smp.is_zero()).then_some(smp))
                        }
                    }
                };
            let (w, r) = (
                nonzero("service.write", &sv.write)?,
                nonzero("service.read", &sv.read)?,
            );
            write.iter_mut().for_each(|x| *x = w.clone());
            read.iter_mut().for_each(|x| *x = r.clone());
            for (name, t) in &sv.regions {
                let p = format!("service.regions.{name}");
                let i = v.region(&p, name)?.idx();
                if t.write.is_some() {
                    write[i] = nonzero(&format!("{p}.write"), &t.write)?;
                }
                if t.read.is_some() {
                    read[i] = nonzero(&format!("{p}.read"), &t.read)?;
                }
            }
            (write.iter().chain(&read).any(Option::is_some)).then_some(ServiceModel { write, read })
        }
    })
}
