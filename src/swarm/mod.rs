//! `sim swarm`: random whole configurations, not only random faults. Each seed draws a scenario
//! ([`draw`]), runs it with every check, and judges the result against what that configuration
//! promises; failing seeds are written out as standalone YAML and shrunk, and a coverage table
//! says what was exercised and how often each part failed.
//!
//! Judging is where a swarm earns trust: a check whose failure the configuration documents
//! (acknowledged writes lost by async failover, replicas left apart without anti-entropy, split
//! brain with fencing off) is recorded as *by design*; every other failed check, a panic, a run
//! error or a drawn scenario the validator refuses is a finding.

pub mod draw;

use crate::scenario::Scenario;
use crate::sweep::Shard;
use crate::{run, RunOptions};
use draw::{Drawn, Promises};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One seed's outcome.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SwarmRun {
    pub seed: u64,
    /// Findings: checks the configuration promised and failed, panics, errors.
    pub findings: Vec<String>,
    /// Checks that failed where the configuration documents the failure.
    pub by_design: Vec<String>,
    /// `dimension=value` tags the drawn scenario exercised (fault kinds that took effect too).
    pub tags: Vec<String>,
    pub trace_digest: String,
}

impl SwarmRun {
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }
}

/// A failing seed and where its files are.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SwarmFailing {
    pub seed: u64,
    pub findings: Vec<String>,
    /// The drawn scenario, standalone (relative to the output directory).
    pub scenario: String,
    /// The shrunk reproducer, when shrinking succeeded.
    pub shrunk: Option<String>,
    /// Why there is no shrunk reproducer, when there is none.
    pub shrink_note: Option<String>,
}

/// `swarm.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SwarmSummary {
    pub version: String,
    pub seeds: Vec<u64>,
    pub shard: Option<Shard>,
    pub runs: Vec<SwarmRun>,
    pub passed: u64,
    pub failed: u64,
    /// dimension -> value -> [runs, failed runs].
    pub coverage: BTreeMap<String, BTreeMap<String, [u64; 2]>>,
    /// check -> runs where it failed by design.
    pub by_design: BTreeMap<String, u64>,
    pub failing: Vec<SwarmFailing>,
}

/// Splits failed checks into findings and failures the configuration documents.
pub fn judge(failed: &[String], p: &Promises) -> (Vec<String>, Vec<String>) {
    let mut findings = Vec::new();
    let mut by_design = Vec::new();
    for name in failed {
        let documented = match name.as_str() {
            "convergence" | "strong-eventual-consistency" => p.may_diverge,
            "no-lost-acked-writes" => p.may_lose_acked,
            "single-primary" => p.may_split_brain,
            // Sessions take their region's operations in turn without waiting for the previous
            // one, and no shipped mode routes a session's reads to where its writes went: the
            // guarantees are measured (how often they break), not promised.
            "session-guarantees" => true,
            other => p.unpromised.contains(other),
        };
        if documented {
            by_design.push(name.clone());
        } else {
            findings.push(name.clone());
        }
    }
    (findings, by_design)
}

/// Draws, validates, runs and judges one seed. Never panics outward: the caller catches.
pub fn run_seed(seed: u64, max_events: u64) -> (Drawn, SwarmRun) {
    let drawn = draw::draw(seed);
    let mut out = SwarmRun {
        seed,
        findings: Vec::new(),
        by_design: Vec::new(),
        tags: drawn.tags.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        trace_digest: String::new(),
    };
    let sc = match Scenario::parse(&drawn.yaml, &format!("swarm-seed-{seed}.yaml")) {
        Ok(sc) => sc,
        Err(e) => {
            out.findings.push(format!("swarm-invalid: {e}"));
            return (drawn, out);
        }
    };
    if let Err(e) = sc.check_size(max_events) {
        out.findings.push(format!("swarm-too-big: {e}"));
        return (drawn, out);
    }
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(
            &sc,
            RunOptions {
                seed: Some(seed),
                ..Default::default()
            },
        )
    }));
    match outcome {
        Ok(Ok(s)) => {
            let (f, b) = judge(&s.failed_names(), &drawn.promises);
            out.findings = f;
            out.by_design = b;
            out.trace_digest = s.trace_digest.clone();
            for (kind, [_, took]) in crate::compare::fault_coverage(&s) {
                if took > 0 {
                    out.tags.push(format!("fault-took-effect={kind}"));
                }
            }
            out.tags.sort();
            out.tags.dedup();
        }
        Ok(Err(e)) => out.findings.push(format!("error: {e}")),
        Err(p) => out.findings.push(format!("panic: {}", panic_text(p))),
    }
    (drawn, out)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

/// Runs the swarm over `seeds` (this shard's slice) with `jobs` threads.
pub fn swarm(
    seeds: &[u64],
    shard: Option<Shard>,
    jobs: usize,
    max_events: u64,
    progress: &(dyn Fn(u64) + Sync),
) -> (SwarmSummary, BTreeMap<u64, Drawn>) {
    let mine = shard.map_or_else(|| seeds.to_vec(), |s| s.select(seeds));
    let done = std::sync::atomic::AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(crate::clamp_jobs(jobs))
        .build()
        .expect("a thread pool can be built");
    let results: Vec<(Drawn, SwarmRun)> = pool.install(|| {
        mine.par_iter()
            .map(|&seed| {
                let r = run_seed(seed, max_events);
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                r
            })
            .collect()
    });
    let mut drawn = BTreeMap::new();
    let mut runs = Vec::new();
    for (d, r) in results {
        if !r.passed() {
            drawn.insert(r.seed, d);
        }
        runs.push(r);
    }
    (summarise(seeds, shard, runs), drawn)
}

/// Aggregates runs (any order) into a summary; the same runs always give the same bytes.
pub fn summarise(seeds: &[u64], shard: Option<Shard>, mut runs: Vec<SwarmRun>) -> SwarmSummary {
    runs.sort_by_key(|r| r.seed);
    let mut coverage: BTreeMap<String, BTreeMap<String, [u64; 2]>> = BTreeMap::new();
    let mut by_design: BTreeMap<String, u64> = BTreeMap::new();
    for r in &runs {
        for t in &r.tags {
            let (k, v) = t.split_once('=').unwrap_or((t, ""));
            let c = coverage
                .entry(k.to_string())
                .or_default()
                .entry(v.to_string())
                .or_default();
            c[0] += 1;
            c[1] += u64::from(!r.passed());
        }
        for b in &r.by_design {
            *by_design.entry(b.clone()).or_default() += 1;
        }
    }
    let failing = runs
        .iter()
        .filter(|r| !r.passed())
        .map(|r| SwarmFailing {
            seed: r.seed,
            findings: r.findings.clone(),
            scenario: format!("failing/seed-{}.yaml", r.seed),
            shrunk: None,
            shrink_note: None,
        })
        .collect();
    let passed = runs.iter().filter(|r| r.passed()).count() as u64;
    SwarmSummary {
        version: crate::summary::VERSION.to_string(),
        seeds: seeds.to_vec(),
        shard,
        failed: runs.len() as u64 - passed,
        passed,
        runs,
        coverage,
        by_design,
        failing,
    }
}

/// Combines shard summaries into the whole swarm (the same bytes one machine would write).
pub fn merge(parts: &[SwarmSummary]) -> Result<SwarmSummary, crate::sweep::SweepError> {
    let first = parts
        .first()
        .ok_or(crate::sweep::SweepError::NothingToMerge)?;
    let mut by_seed: BTreeMap<u64, SwarmRun> = BTreeMap::new();
    let mut failing: BTreeMap<u64, SwarmFailing> = BTreeMap::new();
    for p in parts {
        if p.version != first.version || p.seeds != first.seeds {
            return Err(crate::sweep::SweepError::Mismatch(
                "swarm shards".into(),
                "of different seeds or versions".into(),
            ));
        }
        for r in &p.runs {
            by_seed.insert(r.seed, r.clone());
        }
        for f in &p.failing {
            failing.insert(f.seed, f.clone());
        }
    }
    let mut s = summarise(&first.seeds, None, by_seed.into_values().collect());
    // Shrunk reproducers were written by the shard that ran the seed.
    for f in &mut s.failing {
        if let Some(x) = failing.remove(&f.seed) {
            *f = x;
        }
    }
    Ok(s)
}

/// The terminal table: verdict, coverage per dimension, by-design failures, failing seeds.
pub fn render_text(s: &SwarmSummary) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let total = s.passed + s.failed;
    let _ = writeln!(o, "coverage ({total} seeds)   runs  failed");
    for (dim, vals) in &s.coverage {
        let _ = writeln!(o, "{dim}");
        for (v, [runs, failed]) in vals {
            let _ = writeln!(o, "  {v:<24}{runs:>6}  {failed:>6}");
        }
    }
    if !s.by_design.is_empty() {
        let _ = writeln!(
            o,
            "\nfailed by design (documented for the drawn configuration):"
        );
        for (c, n) in &s.by_design {
            let _ = writeln!(o, "  {c:<28}{n:>6} runs");
        }
    }
    if !s.failing.is_empty() {
        let _ = writeln!(o, "\nfailing seeds:");
        for f in &s.failing {
            let _ = writeln!(o, "  seed {}: {}", f.seed, f.findings.join("; "));
            let _ = writeln!(o, "    scenario: {}", f.scenario);
            match (&f.shrunk, &f.shrink_note) {
                (Some(p), _) => {
                    let _ = writeln!(o, "    shrunk:   {p}");
                }
                (None, Some(n)) => {
                    let _ = writeln!(o, "    shrunk:   none ({n})");
                }
                _ => {}
            }
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Judging: documented failures are by design only where the configuration says so.
    #[test]
    fn judging_separates_findings_from_documented_costs() {
        let failed: Vec<String> = ["convergence", "no-lost-acked-writes", "counters-exact"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let strict = Promises::default();
        let (f, b) = judge(&failed, &strict);
        assert_eq!(f, failed);
        assert!(b.is_empty());
        let mut lax = Promises {
            may_lose_acked: true,
            ..Default::default()
        };
        lax.unpromised.insert("counters-exact".into());
        let (f, b) = judge(&failed, &lax);
        assert_eq!(f, vec!["convergence".to_string()]);
        assert_eq!(b, vec!["no-lost-acked-writes", "counters-exact"]);
    }

    /// Shards merge into exactly what one machine computes.
    #[test]
    fn shards_merge_into_the_single_machine_result() {
        let seeds: Vec<u64> = (1..=6).collect();
        let none = |_| {};
        let (whole, _) = swarm(&seeds, None, 1, crate::scenario::DEFAULT_MAX_EVENTS, &none);
        let parts: Vec<SwarmSummary> = (0..2)
            .map(|i| {
                let sh = Shard { index: i, count: 2 };
                swarm(
                    &seeds,
                    Some(sh),
                    1,
                    crate::scenario::DEFAULT_MAX_EVENTS,
                    &none,
                )
                .0
            })
            .collect();
        assert_eq!(merge(&parts).unwrap(), whole);
    }
}
