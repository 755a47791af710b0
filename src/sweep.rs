//! `sim sweep`: one scenario over many seeds, in parallel, aggregated with confidence intervals;
//! failing seeds listed with a repro command each; a panic in one seed captured as a failure of
//! that seed. `--shard i/n` runs a slice of the seeds and `merge` combines slices into exactly the
//! result a single machine would produce.

use crate::compare::{estimate, Estimate, RunMetrics, RunRow, METRICS};
use crate::scenario::Scenario;
use crate::summary::RunSummary;
use crate::{run, Limits, RunOptions};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    #[error("--shard `{0}`: expected I/N with 0 <= I < N, e.g. 0/4")]
    Shard(String),
    #[error("nothing to merge")]
    NothingToMerge,
    #[error("{0} and {1} are sweeps of different scenarios or versions")]
    Mismatch(String, String),
    #[error("{a} and {b} both ran seed {seed} with different results")]
    Conflict { a: String, b: String, seed: u64 },
}

/// `i/n`: this machine runs the seeds at positions congruent to `i` modulo `n`.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::str::FromStr for Shard {
    type Err = SweepError;
    fn from_str(s: &str) -> Result<Shard, SweepError> {
        let bad = || SweepError::Shard(s.to_string());
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (
            i.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }
}

impl Shard {
    pub fn select(&self, seeds: &[u64]) -> Vec<u64> {
        seeds
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as u32 % self.count == self.index)
            .map(|(_, s)| *s)
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Failing {
    pub seed: u64,
    pub failed: Vec<String>,
    pub repro: String,
}

/// `sweep.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SweepSummary {
    pub scenario: String,
    pub file: String,
    pub version: String,
    /// Every seed of the whole sweep (all shards).
    pub seeds: Vec<u64>,
    /// Set when this file holds one shard's runs.
    pub shard: Option<Shard>,
    /// Runs in seed order.
    pub runs: Vec<RunRow>,
    pub passed: u64,
    pub failed: u64,
    /// Runs that panicked (also counted in `failed`).
    pub panics: u64,
    /// How many runs failed each check or expectation.
    pub failures_by_check: BTreeMap<String, u64>,
    pub estimates: BTreeMap<String, Estimate>,
    pub failing: Vec<Failing>,
    /// Per fault kind over all seeds: faults realised and how many took effect.
    pub fault_coverage: BTreeMap<String, FaultCoverage>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct FaultCoverage {
    pub realised: u64,
    pub took_effect: u64,
    /// By the phase each fault began in (`steady`, `failover`, `catch-up`, `anti-entropy`):
    /// [realised, took effect].
    #[serde(default)]
    pub by_phase: BTreeMap<String, [u64; 2]>,
}

/// Runs `seeds` with `jobs` threads; `runner` runs one seed (injected so tests can make it panic).
pub fn sweep_with<F>(
    sc_name: &str,
    file: &str,
    all_seeds: &[u64],
    shard: Option<Shard>,
    jobs: usize,
    runner: F,
    progress: &(dyn Fn(u64) + Sync),
) -> SweepSummary
where
    F: Fn(u64) -> Result<RunSummary, String> + Sync,
{
    let seeds = shard.map_or_else(|| all_seeds.to_vec(), |s| s.select(all_seeds));
    let done = std::sync::atomic::AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(crate::clamp_jobs(jobs))
        .build()
        .expect("a thread pool can be built");
    let rows: Vec<RunRow> = pool.install(|| {
        seeds
            .par_iter()
            .map(|&seed| {
                // A panic is a finding about that seed, not the end of the sweep.
                let outcome =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| runner(seed)));
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                row(seed, outcome)
            })
            .collect()
    });
    summarise(sc_name, file, all_seeds, shard, rows)
}

fn panic_text(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-text panic payload".into())
}

fn row(seed: u64, outcome: std::thread::Result<Result<RunSummary, String>>) -> RunRow {
    match outcome {
        Ok(Ok(s)) => RunRow {
            fault_kinds: crate::compare::fault_coverage(&s),
            fault_phases: crate::compare::fault_phase_coverage(&s),
            seed,
            passed: s.passed,
            failed_checks: s.failed_names(),
            trace_digest: s.trace_digest.clone(),
            metrics: RunMetrics::of(&s),
        },
        Ok(Err(e)) => RunRow {
            fault_kinds: BTreeMap::new(),
            fault_phases: BTreeMap::new(),
            seed,
            passed: false,
            failed_checks: vec![format!("error: {e}")],
            trace_digest: String::new(),
            metrics: RunMetrics::default(),
        },
        Err(p) => RunRow {
            fault_kinds: BTreeMap::new(),
            fault_phases: BTreeMap::new(),
            seed,
            passed: false,
            failed_checks: vec![format!("panic: {}", panic_text(p))],
            trace_digest: String::new(),
            metrics: RunMetrics::default(),
        },
    }
}

/// Aggregates rows (any order) into a summary; the same rows always give the same bytes.
pub fn summarise(
    name: &str,
    file: &str,
    all_seeds: &[u64],
    shard: Option<Shard>,
    mut rows: Vec<RunRow>,
) -> SweepSummary {
    rows.sort_by_key(|r| r.seed);
    let ok_rows: Vec<&RunRow> = rows.iter().filter(|r| !r.trace_digest.is_empty()).collect();
    let estimates = METRICS
        .iter()
        .map(|(m, _, _)| {
            let xs: Vec<f64> = ok_rows
                .iter()
                .filter_map(|r| crate::compare::metric_of(&r.metrics, m))
                .collect();
            (m.to_string(), estimate(&xs))
        })
        .collect();
    let mut failures_by_check = BTreeMap::new();
    for r in &rows {
        for f in &r.failed_checks {
            let key = f.split(':').next().unwrap_or(f).to_string();
            *failures_by_check.entry(key).or_insert(0) += 1;
        }
    }
    let failing = rows
        .iter()
        .filter(|r| !r.passed)
        .map(|r| Failing {
            seed: r.seed,
            failed: r.failed_checks.clone(),
            repro: format!("sim run {file} --seed {}", r.seed),
        })
        .collect();
    let passed = rows.iter().filter(|r| r.passed).count() as u64;
    let mut fault_coverage: BTreeMap<String, FaultCoverage> = BTreeMap::new();
    for r in &rows {
        for (k, [n, e]) in &r.fault_kinds {
            let c = fault_coverage.entry(k.clone()).or_default();
            c.realised += n;
            c.took_effect += e;
        }
        for (k, phases) in &r.fault_phases {
            let c = fault_coverage.entry(k.clone()).or_default();
            for (p, [n, e]) in phases {
                let x = c.by_phase.entry(p.clone()).or_default();
                x[0] += n;
                x[1] += e;
            }
        }
    }
    SweepSummary {
        fault_coverage,
        scenario: name.to_string(),
        file: file.to_string(),
        version: crate::summary::VERSION.to_string(),
        seeds: all_seeds.to_vec(),
        shard,
        passed,
        failed: rows.len() as u64 - passed,
        panics: rows
            .iter()
            .filter(|r| r.failed_checks.iter().any(|f| f.starts_with("panic:")))
            .count() as u64,
        failures_by_check,
        estimates,
        failing,
        runs: rows,
    }
}

/// Runs a scenario over seeds with the default [`Limits`].
pub fn sweep(
    sc: &Scenario,
    seeds: &[u64],
    shard: Option<Shard>,
    jobs: usize,
    progress: &(dyn Fn(u64) + Sync),
) -> SweepSummary {
    sweep_limited(sc, seeds, shard, jobs, Limits::default(), progress)
}

/// Runs a scenario over seeds; a seed that passes `limits` is reported as failing with the
/// error, like a panicking one, and the sweep goes on.
pub fn sweep_limited(
    sc: &Scenario,
    seeds: &[u64],
    shard: Option<Shard>,
    jobs: usize,
    limits: Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> SweepSummary {
    sweep_with(
        &sc.name,
        &sc.file,
        seeds,
        shard,
        jobs,
        |seed| {
            run(
                sc,
                RunOptions {
                    seed: Some(seed),
                    limits,
                    ..Default::default()
                },
            )
            .map_err(|e| e.to_string())
        },
        progress,
    )
}

/// Combines shard results (named for messages) into the whole sweep.
pub fn merge(parts: &[(String, SweepSummary)]) -> Result<SweepSummary, SweepError> {
    let (first_name, first) = parts.first().ok_or(SweepError::NothingToMerge)?;
    let mut by_seed: BTreeMap<u64, (&str, RunRow)> = BTreeMap::new();
    let mut seeds = first.seeds.clone();
    for (name, p) in parts {
        if p.scenario != first.scenario || p.file != first.file || p.version != first.version {
            return Err(SweepError::Mismatch(first_name.clone(), name.clone()));
        }
        for s in &p.seeds {
            if !seeds.contains(s) {
                seeds.push(*s);
            }
        }
        for r in &p.runs {
            match by_seed.get(&r.seed) {
                Some((other, prev)) if prev != r => {
                    return Err(SweepError::Conflict {
                        a: other.to_string(),
                        b: name.clone(),
                        seed: r.seed,
                    })
                }
                _ => {
                    by_seed.insert(r.seed, (name, r.clone()));
                }
            }
        }
    }
    let rows = by_seed.into_values().map(|(_, r)| r).collect();
    Ok(summarise(&first.scenario, &first.file, &seeds, None, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: s\nduration: 2s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: { dist: uniform, low: 10ms, high: 30ms }}, loss: 0.05}\nworkload: {keys: 50, rate_per_region: 50}\nexpect: {visibility_max: 500ms}\n";

    #[test]
    fn shards_merge_into_the_single_machine_result() {
        let sc = Scenario::parse(TEXT, "s.yaml").unwrap();
        let seeds: Vec<u64> = (1..=12).collect();
        let whole = sweep(&sc, &seeds, None, 2, &|_| {});
        let parts: Vec<(String, SweepSummary)> = (0..3)
            .map(|i| {
                let shard = Some(Shard { index: i, count: 3 });
                (format!("shard{i}"), sweep(&sc, &seeds, shard, 1, &|_| {}))
            })
            .collect();
        assert_eq!(parts[0].1.runs.len(), 4);
        let merged = merge(&parts).unwrap();
        assert_eq!(
            serde_json::to_string(&merged).unwrap(),
            serde_json::to_string(&whole).unwrap()
        );
        assert_eq!(whole.runs.len(), 12);
        assert!(
            whole.failed > 0 && whole.passed > 0,
            "some seeds miss the tight bound: {whole:?}"
        );
        assert!(whole
            .failing
            .iter()
            .all(|f| f.repro == format!("sim run s.yaml --seed {}", f.seed)));
        assert_eq!(
            whole.failures_by_check.get("expect.visibility_max"),
            Some(&whole.failed)
        );
    }

    #[test]
    fn a_panicking_seed_is_a_failure_not_a_crash() {
        let sc = Scenario::parse(TEXT, "s.yaml").unwrap();
        let prev = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let s = sweep_with(
            "s",
            "s.yaml",
            &[1, 2, 3, 4],
            None,
            2,
            |seed| {
                if seed == 3 {
                    panic!("invariant broken at seed {seed}");
                }
                run(
                    &sc,
                    RunOptions {
                        seed: Some(seed),
                        ..Default::default()
                    },
                )
                .map_err(|e| e.to_string())
            },
            &|_| {},
        );
        std::panic::set_hook(prev);
        assert_eq!(s.runs.len(), 4);
        assert_eq!(s.panics, 1);
        let p = s.failing.iter().find(|f| f.seed == 3).unwrap();
        assert_eq!(p.failed, ["panic: invariant broken at seed 3"]);
        assert_eq!(
            s.estimates["visibility_p50_ms"].n, 3,
            "the panicked seed has no metrics"
        );
    }

    /// 3 regions x 1,000 writes/s for 60 s: about 900,000 events.
    const BUSY: &str = "name: busy\nduration: 60s\nregions: [{name: a}, {name: b}, {name: c}]\nnetwork: {latency: {default: 20ms}}\nworkload: {keys: 100, rate_per_region: 1000, mix: {write: 1.0}}\n";

    #[test]
    fn a_run_past_its_limits_stops_with_an_error_and_a_sweep_reports_the_seed() {
        let sc = Scenario::parse(BUSY, "busy.yaml").unwrap();
        let limits = |max_events, max_memory| RunOptions {
            limits: Limits {
                max_events,
                max_memory,
            },
            ..Default::default()
        };
        // Checked every 65,536 events: the first check past 100,000 is at 131,072.
        let e = run(&sc, limits(100_000, 0)).unwrap_err();
        let crate::RunError::EventLimit { limit, at } = e else {
            panic!("{e}")
        };
        assert_eq!(limit, 100_000);
        assert!(at.0 > 0 && at.0 < 60_000_000_000, "stopped early, at {at}");
        assert!(e.to_string().starts_with(&format!(
            "stopped at simulated time {at} after more than 100000 events (the --max-events limit)"
        )));
        // Any process is bigger than one byte: the first memory check (2^18 events) stops it.
        let e = run(&sc, limits(u64::MAX, 1)).unwrap_err();
        assert!(
            matches!(e, crate::RunError::MemoryLimit { limit: 1, .. }),
            "{e}"
        );
        // The default limits leave a normal run alone.
        assert!(run(&sc, RunOptions::default()).is_ok());

        let s = sweep_limited(
            &sc,
            &[1, 2],
            None,
            1,
            Limits {
                max_events: 100_000,
                max_memory: 0,
            },
            &|_| {},
        );
        assert_eq!(s.runs.len(), 2);
        assert_eq!(s.failing.len(), 2);
        assert!(
            s.failing[0].failed[0].starts_with("error: stopped at simulated time"),
            "{:?}",
            s.failing[0].failed
        );
    }

    #[test]
    fn shard_parsing_and_selection() {
        let s: Shard = "1/3".parse().unwrap();
        assert_eq!(s.select(&[10, 11, 12, 13, 14]), [11, 14]);
        assert!("3/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
    }

    #[test]
    fn merging_detects_mismatches_and_conflicts() {
        let sc = Scenario::parse(TEXT, "s.yaml").unwrap();
        let a = sweep(&sc, &[1, 2], None, 1, &|_| {});
        let mut b = a.clone();
        b.runs[0].trace_digest = "different".into();
        let e = merge(&[("a".into(), a.clone()), ("b".into(), b)]).unwrap_err();
        assert!(matches!(e, SweepError::Conflict { seed: 1, .. }), "{e}");
        let mut c = a.clone();
        c.scenario = "other".into();
        assert!(matches!(
            merge(&[("a".into(), a), ("c".into(), c)]),
            Err(SweepError::Mismatch(..))
        ));
    }
}
