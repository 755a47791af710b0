//! `sim shrink`: turns a failing seed into a small standalone scenario that fails the same way.
//!
//! The seed's weather is realised into an explicit fault list first, so the reproducer needs no
//! weather block. Then greedy passes, each kept only if the run still fails the same check:
//! drop faults (halves first, then one at a time), shorten them, weaken partitions into lossy
//! links, then shrink the world (duration, rate, keys, regions). Every candidate is validated
//! and run exactly like `sim run`, so the result reproduces with the printed command.

use crate::scenario::{FaultSpec, Scenario, ScenarioError, ScenarioSpec};
use crate::time::Span;
use crate::{run, RunOptions};

/// How a shrink went.
#[derive(Debug)]
pub struct Shrunk {
    /// The failure every kept candidate reproduces (a check or expectation name).
    pub target: String,
    /// The reproducer, as YAML (with a header comment).
    pub yaml: String,
    /// Runs tried, and how many of them still failed.
    pub runs: u32,
    pub kept: u32,
    /// (what, before, after) per dimension that changed.
    pub changes: Vec<(String, String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    #[error("{0}")]
    Scenario(#[from] ScenarioError),
    /// The failing run itself passed a run-time limit (`--max-events`, memory).
    #[error("seed {seed}: {source}")]
    Run {
        seed: u64,
        #[source]
        source: crate::RunError,
    },
    #[error("seed {0} passes every check and expectation: nothing to shrink")]
    Passes(u64),
    #[error("seed {seed} fails only `trace_digest`: a changed digest is a behaviour change to bless, not a bug to shrink")]
    DigestOnly { seed: u64 },
    #[error(
        "the realised scenario no longer fails (`{0}` passed without weather); please report this"
    )]
    NotReproducible(String),
}

/// The YAML form of a validated fault: one entry, or one per link for a degrade the spec
/// cannot write as one (a partition realised as several cut links).
fn fault_specs(sc: &Scenario, f: &crate::scenario::Fault) -> Vec<FaultSpec> {
    let names: Vec<String> = sc.regions.iter().map(|r| r.name.clone()).collect();
    let entry = FaultSpec {
        at: Span(f.at.0),
        for_: f.until.map(|u| Span(u.0 - f.at.0)),
        ..FaultSpec::default()
    };
    f.action
        .to_spec(&names)
        .into_iter()
        .map(|action| {
            let mut spec = entry.clone();
            spec.set_action(action);
            spec
        })
        .collect()
}

/// The scenario as one standalone spec: weather realised for `seed` into explicit faults,
/// quantile files inlined, no recorded digest to match.
pub fn standalone(sc: &Scenario, seed: u64) -> ScenarioSpec {
    let realised = sc.with_weather(seed);
    let mut spec = sc
        .spec()
        .expect("the text of a scenario that parsed once parses again");
    spec.weather = None;
    spec.seed = Some(seed);
    spec.faults = realised
        .faults
        .iter()
        .flat_map(|f| fault_specs(sc, f))
        .collect();
    spec.expect.trace_digest = None;
    crate::scenario::inline_dist_files(&mut spec);
    spec
}

struct Search<'a> {
    file: &'a str,
    seed: u64,
    target: String,
    runs: u32,
    kept: u32,
    max_runs: u32,
    progress: &'a dyn Fn(u32, u32),
}

impl Search<'_> {
    /// Whether `spec` is a valid scenario that still fails the target.
    fn fails(&mut self, spec: &ScenarioSpec) -> bool {
        if self.runs >= self.max_runs {
            return false;
        }
        let Ok(text) = serde_yaml::to_string(spec) else {
            return false;
        };
        let Ok(sc) = Scenario::parse(&text, self.file) else {
            return false; // an invalid candidate (a fault after the end, a removed region)
        };
        if sc.check_size(crate::scenario::DEFAULT_MAX_EVENTS).is_err() {
            return false;
        }
        self.runs += 1;
        let Ok(s) = run(
            &sc,
            RunOptions {
                seed: Some(self.seed),
                ..Default::default()
            },
        ) else {
            return false;
        };
        let hit = s.failed_names().contains(&self.target);
        self.kept += hit as u32;
        (self.progress)(self.runs, self.kept);
        hit
    }

    /// Keeps `edit(spec)` if it still fails.
    fn try_edit(
        &mut self,
        spec: &mut ScenarioSpec,
        edit: impl FnOnce(&mut ScenarioSpec) -> bool,
    ) -> bool {
        let mut cand = spec.clone();
        if !edit(&mut cand) {
            return false;
        }
        if self.fails(&cand) {
            *spec = cand;
            true
        } else {
            false
        }
    }

    fn drop_faults(&mut self, spec: &mut ScenarioSpec) -> bool {
        let mut progress = false;
        let mut chunk = spec.faults.len().div_ceil(2).max(1);
        while chunk >= 1 && !spec.faults.is_empty() {
            let mut i = 0;
            while i < spec.faults.len() {
                let end = (i + chunk).min(spec.faults.len());
                if self.try_edit(spec, |c| {
                    c.faults.drain(i..end);
                    true
                }) {
                    progress = true;
                } else {
                    i += chunk;
                }
            }
            if chunk == 1 {
                break;
            }
            chunk /= 2;
        }
        progress
    }

    fn shorten_faults(&mut self, spec: &mut ScenarioSpec) -> bool {
        let mut progress = false;
        for i in 0..spec.faults.len() {
            while let Some(d) = spec.faults[i].for_ {
                if d <= Span::from_millis(100) {
                    break;
                }
                let half = Span(d.0 / 2 / 1_000_000 * 1_000_000);
                if !self.try_edit(spec, |c| {
                    c.faults[i].for_ = Some(half);
                    true
                }) {
                    break;
                }
                progress = true;
            }
        }
        progress
    }

    /// Each fault its kind can weaken becomes the weaker faults (a partition: 50% loss on
    /// the links it cut), with the same `at` and `for`.
    fn weaken_faults(&mut self, spec: &mut ScenarioSpec) -> bool {
        let mut progress = false;
        let mut i = 0;
        while i < spec.faults.len() {
            let f = spec.faults[i].clone();
            // Only a valid entry (one action) is weakened.
            let weak: Option<Vec<FaultSpec>> = match f.actions().as_slice() {
                [action] => action.weaken().map(|w| {
                    w.into_iter()
                        .map(|a| {
                            let mut g = f.clone();
                            g.set_action(a);
                            g
                        })
                        .collect()
                }),
                _ => None,
            };
            let Some(weak) = weak else {
                i += 1;
                continue;
            };
            let count = weak.len();
            if self.try_edit(spec, |c| {
                c.faults.splice(i..=i, weak);
                true
            }) {
                progress = true;
                i += count;
            } else {
                i += 1;
            }
        }
        progress
    }

    fn shrink_world(&mut self, spec: &mut ScenarioSpec) -> bool {
        let mut progress = false;
        // Duration: halve while every fault still starts before the end.
        loop {
            let d = Span(spec.duration.0 / 2 / 1_000_000 * 1_000_000);
            if d < Span::from_secs(1) {
                break;
            }
            if !self.try_edit(spec, |c| {
                c.duration = d;
                c.faults.iter().all(|f| f.at < d)
            }) {
                break;
            }
            progress = true;
        }
        // Request rate (every region's), then keys.
        while spec.workload.rate_per_region > 1.0 || spec.workload.rates.values().any(|r| *r > 1.0)
        {
            if !self.try_edit(spec, |c| {
                c.workload.rate_per_region = (c.workload.rate_per_region / 2.0).floor();
                c.workload
                    .rates
                    .values_mut()
                    .for_each(|r| *r = (*r / 2.0).floor());
                true
            }) {
                break;
            }
            progress = true;
        }
        while spec.workload.keys > 1 {
            if !self.try_edit(spec, |c| {
                c.workload.keys /= 2;
                true
            }) {
                break;
            }
            progress = true;
        }
        // Regions: drop any the rest of the scenario does not need.
        let mut i = spec.regions.len();
        while i > 0 && spec.regions.len() > 1 {
            i -= 1;
            if i >= spec.regions.len() {
                continue;
            }
            if self.try_edit(spec, |c| {
                let gone = c.regions.remove(i).name;
                c.workload.rates.remove(&gone);
                c.network.latency.map.remove(&gone);
                true
            }) {
                progress = true;
            }
        }
        progress
    }
}

/// Shrinks the failure of `sc` at `seed`; `max_runs` bounds the work, `progress(runs, kept)`
/// is called after every candidate run.
pub fn shrink(
    sc: &Scenario,
    seed: u64,
    max_runs: u32,
    progress: &dyn Fn(u32, u32),
) -> Result<Shrunk, ShrinkError> {
    shrink_to(sc, seed, None, max_runs, progress)
}

/// As [`shrink`], keeping the failure of `target` (a check or `expect.` name) instead of the
/// first one the run fails: `sim swarm` shrinks the finding, not a failure it judged by design.
pub fn shrink_to(
    sc: &Scenario,
    seed: u64,
    target: Option<&str>,
    max_runs: u32,
    progress: &dyn Fn(u32, u32),
) -> Result<Shrunk, ShrinkError> {
    let first = run(
        sc,
        RunOptions {
            seed: Some(seed),
            ..Default::default()
        },
    )
    .map_err(|source| ShrinkError::Run { seed, source })?;
    let failed = first.failed_names();
    let wanted = failed
        .iter()
        .find(|f| target.map_or(*f != "trace_digest", |t| *f == t));
    let Some(target) = wanted.cloned() else {
        return Err(if failed.is_empty() {
            ShrinkError::Passes(seed)
        } else {
            ShrinkError::DigestOnly { seed }
        });
    };
    let mut spec = standalone(sc, seed);
    let original = spec.clone();
    let mut search = Search {
        file: &sc.file,
        seed,
        target: target.clone(),
        runs: 0,
        kept: 0,
        max_runs,
        progress,
    };
    if !search.fails(&spec) {
        return Err(ShrinkError::NotReproducible(target));
    }
    loop {
        let mut changed = search.drop_faults(&mut spec);
        changed |= search.shorten_faults(&mut spec);
        changed |= search.weaken_faults(&mut spec);
        changed |= search.shrink_world(&mut spec);
        if !changed || search.runs >= max_runs {
            break;
        }
    }
    let mut changes = Vec::new();
    let mut note = |what: &str, a: String, b: String| {
        if a != b {
            changes.push((what.to_string(), a, b));
        }
    };
    note(
        "faults",
        original.faults.len().to_string(),
        spec.faults.len().to_string(),
    );
    note(
        "duration",
        original.duration.to_string(),
        spec.duration.to_string(),
    );
    note(
        "regions",
        original.regions.len().to_string(),
        spec.regions.len().to_string(),
    );
    note(
        "rate per region",
        original.workload.rate_per_region.to_string(),
        spec.workload.rate_per_region.to_string(),
    );
    note(
        "keys",
        original.workload.keys.to_string(),
        spec.workload.keys.to_string(),
    );
    spec.name = format!("{}-shrunk", original.name);
    spec.description = Some(format!(
        "Shrunk by `sim shrink {} --seed {seed}`: still fails `{target}`.",
        sc.file
    ));
    let body = concise_yaml(&spec);
    let yaml = format!(
        "# A minimal reproducer written by `sim shrink` from {} (seed {seed}).\n# It fails `{target}`; run it with: sim run <this file> --seed {seed}\n{body}",
        sc.file
    );
    Ok(Shrunk {
        target,
        yaml,
        runs: search.runs,
        kept: search.kept,
        changes,
    })
}

/// The spec as YAML without what it would get by default: no nulls, no empty lists or maps,
/// no keys equal to their defaults (so the reproducer reads like a hand-written scenario).
pub fn concise_yaml(spec: &ScenarioSpec) -> String {
    use serde_yaml::Value;
    const BASE: &str = "name: d\nduration: 1s\nregions: [{ name: d }]\nnetwork: { latency: { default: 1ms } }\nworkload: { keys: 1, rate_per_region: 1 }\n";
    let defaults: ScenarioSpec = serde_yaml::from_str(BASE).expect("the defaults parse");
    let mut v = serde_yaml::to_value(spec).expect("a spec serialises");
    let d = serde_yaml::to_value(&defaults).expect("a spec serialises");
    // Keys the format requires, kept even when they happen to equal the placeholder.
    const REQUIRED: &[&str] = &["name", "duration", "regions", "keys", "rate_per_region"];
    fn prune(v: &mut Value, d: Option<&Value>, top: bool) {
        match v {
            // A distribution is one value: `{ dist: constant, value: 40ms }` loses meaning
            // without its tag, so it is kept or dropped whole.
            Value::Mapping(m) if m.contains_key("dist") => {}
            Value::Mapping(m) => {
                let keys: Vec<Value> = m.keys().cloned().collect();
                for k in keys {
                    let dk = d.and_then(|d| d.get(&k));
                    let required = top || k.as_str().is_some_and(|s| REQUIRED.contains(&s));
                    let child = m.get_mut(&k).expect("present");
                    if !required && dk == Some(child) {
                        m.remove(&k);
                        continue;
                    }
                    prune(child, dk, false);
                    let empty = match &*child {
                        Value::Null => true,
                        Value::Mapping(x) => x.is_empty(),
                        Value::Sequence(x) => x.is_empty(),
                        _ => false,
                    };
                    if empty && !required {
                        m.remove(&k);
                    }
                }
            }
            Value::Sequence(items) => {
                // A list's items are compared with the default list's first item (regions).
                let first = d.and_then(|d| d.as_sequence()).and_then(|s| s.first());
                for it in items.iter_mut() {
                    prune(it, first, false);
                }
            }
            _ => {}
        }
    }
    if let Value::Mapping(m) = &mut v {
        for (k, child) in m.iter_mut() {
            let keep_whole = k.as_str().is_some_and(|s| s == "name" || s == "duration");
            if !keep_whole {
                prune(child, d.get(k), false);
            }
        }
        m.retain(|k, child| {
            k.as_str().is_some_and(|s| REQUIRED.contains(&s))
                || !matches!(child, Value::Null)
                    && !child.as_mapping().is_some_and(|x| x.is_empty())
                    && !child.as_sequence().is_some_and(|x| x.is_empty())
        });
    }
    serde_yaml::to_string(&v).expect("a value serialises")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every shipped scenario survives the trip through its standalone YAML unchanged: same
    /// seed, same trace digest. Shrinking depends on it.
    #[test]
    fn standalone_specs_reproduce_the_original_run() {
        for entry in std::fs::read_dir("scenarios").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "yaml") {
                continue;
            }
            let sc = Scenario::load(&path).unwrap();
            let seed = sc.seed;
            let text = concise_yaml(&standalone(&sc, seed));
            let again = Scenario::parse(&text, &sc.file)
                .unwrap_or_else(|e| panic!("{}: {e}\n{text}", path.display()));
            let opts = |s| RunOptions {
                seed: Some(s),
                ..Default::default()
            };
            let a = run(&sc, opts(seed)).unwrap();
            let b = run(&again, opts(seed)).unwrap();
            assert_eq!(a.trace_digest, b.trace_digest, "{}", path.display());
            assert_eq!(a.failed_names(), b.failed_names(), "{}", path.display());
        }
    }
}
