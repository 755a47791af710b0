//! `sim compare`: runs every combination of `--vary` settings on the same seeds and aggregates the
//! results side by side (means with 95% confidence intervals across seeds).
//!
//! A variant is the scenario file with some keys overridden; it is validated exactly like a file,
//! so a bad value is reported with the variant that produced it. Runs are independent and
//! single-threaded, so they run in parallel across threads with results identical for any
//! `--jobs`.

use crate::scenario::{Scenario, ScenarioError};
use crate::summary::RunSummary;
use crate::{run, Limits, RunError, RunOptions};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use serde_yaml::Value;
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum CompareError {
    #[error("--vary `{0}`: expected KEY=VALUE[,VALUE...], e.g. network.loss=0,0.01")]
    VarySyntax(String),
    #[error("--vary `{key}`: {message}")]
    VaryPath { key: String, message: String },
    #[error("--seeds `{0}`: expected a seed, a list (1,2,5) or an inclusive range (1..20)")]
    Seeds(String),
    #[error("--seeds `{0}`: at most 10000 seeds")]
    TooManySeeds(String),
    #[error("{file}: not a YAML mapping")]
    NotAMapping { file: String },
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("variant {variant}: {source}")]
    Variant {
        variant: String,
        #[source]
        source: ScenarioError,
    },
    #[error("variant {variant}, seed {seed}: {source}")]
    Run {
        variant: String,
        seed: u64,
        #[source]
        source: RunError,
    },
}

/// One `--vary KEY=V1,V2,...`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Vary {
    pub key: String,
    pub values: Vec<String>,
}

/// Splits on commas outside brackets and braces, so `{ zipf: 1.1 }` stays one value.
fn split_values(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '{' | '[' => depth += 1,
            '}' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(cur.trim().to_string());
                cur.clear();
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

impl std::str::FromStr for Vary {
    type Err = CompareError;
    fn from_str(s: &str) -> Result<Vary, CompareError> {
        let (key, values) = s
            .split_once('=')
            .ok_or_else(|| CompareError::VarySyntax(s.to_string()))?;
        let key = key.trim().to_string();
        let values = split_values(values);
        if key.is_empty() || values.iter().any(|v| v.is_empty()) {
            return Err(CompareError::VarySyntax(s.to_string()));
        }
        Ok(Vary { key, values })
    }
}

/// Parses `7`, `1,2,5` or `1..20` (inclusive).
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, CompareError> {
    let bad = || CompareError::Seeds(s.to_string());
    let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..") {
        let (a, b): (u64, u64) = (
            a.trim().parse().map_err(|_| bad())?,
            b.trim().parse().map_err(|_| bad())?,
        );
        if a > b {
            return Err(bad());
        }
        if b - a >= 10_000 {
            return Err(CompareError::TooManySeeds(s.to_string()));
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|x| x.trim().parse().map_err(|_| bad()))
            .collect::<Result<_, _>>()?
    };
    if seeds.is_empty() {
        return Err(bad());
    }
    if seeds.len() > 10_000 {
        return Err(CompareError::TooManySeeds(s.to_string()));
    }
    Ok(seeds)
}

/// Sets `path` (`a.b.c`, with `name[i]` for list items) in a YAML document, creating maps.
fn set_path(doc: &mut Value, path: &str, new: Value) -> Result<(), String> {
    let mut cur = doc;
    let parts: Vec<&str> = path.split('.').collect();
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let (name, index) = match part.split_once('[') {
            Some((n, rest)) => {
                let idx: usize = rest
                    .strip_suffix(']')
                    .and_then(|x| x.parse().ok())
                    .ok_or_else(|| format!("`{part}` is not `name[index]`"))?;
                (n, Some(idx))
            }
            None => (*part, None),
        };
        if name.is_empty() {
            return Err("empty key segment".into());
        }
        let map = cur
            .as_mapping_mut()
            .ok_or_else(|| format!("`{}` is not a mapping", parts[..i].join(".")))?;
        let key = Value::String(name.to_string());
        match index {
            None if last => {
                map.insert(key, new);
                return Ok(());
            }
            None => {
                if !map.contains_key(&key) {
                    map.insert(key.clone(), Value::Mapping(Default::default()));
                }
                cur = map.get_mut(&key).expect("just ensured");
            }
            Some(idx) => {
                let seq = map
                    .get_mut(&key)
                    .and_then(Value::as_sequence_mut)
                    .ok_or_else(|| format!("`{name}` is not a list"))?;
                let len = seq.len();
                let item = seq
                    .get_mut(idx)
                    .ok_or_else(|| format!("`{name}` has {len} items, no [{idx}]"))?;
                if last {
                    *item = new;
                    return Ok(());
                }
                cur = item;
            }
        }
    }
    Ok(())
}

/// One combination of `--vary` values.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VariantSpec {
    /// `loss=0.01, flush_interval=10ms` (last key segment = value).
    pub label: String,
    /// Full key -> value as given.
    pub settings: BTreeMap<String, String>,
}

/// Expands the cartesian product of `vary` (first key outermost).
pub fn variants(vary: &[Vary]) -> Vec<VariantSpec> {
    let mut out = vec![VariantSpec {
        label: String::new(),
        settings: BTreeMap::new(),
    }];
    for v in vary {
        let short = v.key.rsplit('.').next().unwrap_or(&v.key).to_string();
        out = out
            .into_iter()
            .flat_map(|base| {
                let short = short.clone();
                v.values.iter().map(move |val| {
                    let mut s = base.clone();
                    s.settings.insert(v.key.clone(), val.clone());
                    let part = format!("{short}={val}");
                    s.label = if s.label.is_empty() {
                        part
                    } else {
                        format!("{}, {part}", s.label)
                    };
                    s
                })
            })
            .collect::<Vec<_>>();
    }
    if vary.is_empty() {
        out[0].label = "as written".into();
    }
    out
}

/// Builds the scenario of one variant from the file's text.
pub fn variant_scenario(text: &str, file: &str, v: &VariantSpec) -> Result<Scenario, CompareError> {
    let mut doc: Value = serde_yaml::from_str(text).map_err(|e| {
        CompareError::Scenario(ScenarioError::Shape {
            file: file.to_string(),
            message: e.to_string(),
        })
    })?;
    if !doc.is_mapping() {
        return Err(CompareError::NotAMapping {
            file: file.to_string(),
        });
    }
    for (key, val) in &v.settings {
        // Each value is YAML: `0.01` is a number, `mesh` a string, `{ zipf: 1.1 }` a map.
        let parsed: Value =
            serde_yaml::from_str(val).unwrap_or_else(|_| Value::String(val.clone()));
        set_path(&mut doc, key, parsed).map_err(|message| CompareError::VaryPath {
            key: key.clone(),
            message,
        })?;
    }
    let text = serde_yaml::to_string(&doc).expect("a YAML value serialises");
    let mut sc = Scenario::parse(&text, file).map_err(|source| CompareError::Variant {
        variant: v.label.clone(),
        source,
    })?;
    // Reports echo what the user wrote, plus the override.
    sc.source = format!("# {file} with {}\n{text}", v.label);
    Ok(sc)
}

/// The per-run numbers a comparison aggregates.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RunMetrics {
    pub visibility_p50_ms: f64,
    pub visibility_p99_ms: f64,
    pub visibility_max_ms: f64,
    /// The slowest convergence after any heal; absent without heals, `never` counted apart.
    pub after_heal_ms: Option<f64>,
    pub never_converged_after_heal: bool,
    pub stale_read_pct: f64,
    pub messages_per_write: f64,
    pub bytes_per_write: f64,
    pub lost_acked_writes: f64,
    pub lost_updates: f64,
    pub skew_lost_updates: f64,
    pub failed_writes: f64,
    /// Slowest level's p99 client latency (writes, reads).
    #[serde(default)]
    pub write_p99_ms: Option<f64>,
    #[serde(default)]
    pub read_p99_ms: Option<f64>,
    /// P(a read returns the newest acknowledged write | it came within 100 ms of that ack).
    #[serde(default)]
    pub fresh_within_100ms_pct: Option<f64>,
    #[serde(default)]
    pub cost_per_million_writes_usd: Option<f64>,
    /// The longest time any region had a write pending for over the stall threshold.
    #[serde(default)]
    pub longest_stall_ms: f64,
    /// Acknowledged writes lost to failures (runs with crashes or partitions).
    #[serde(default)]
    pub rpo_writes: Option<f64>,
    /// The longest RTO (runs where some failure cost writes, all of which recovered).
    #[serde(default)]
    pub rto_ms: Option<f64>,
    /// Writes accepted by a deposed primary (runs with failover).
    #[serde(default)]
    pub split_brain_writes: Option<f64>,
    /// Anti-entropy bytes per write and keys it repaired (runs with anti-entropy only).
    #[serde(default)]
    pub anti_entropy_bytes_per_write: Option<f64>,
    #[serde(default)]
    pub anti_entropy_keys_repaired: Option<f64>,
    /// Tables with data: counters' total error, set elements breaking add-wins semantics,
    /// and keys left holding siblings.
    #[serde(default)]
    pub counter_error: Option<f64>,
    #[serde(default)]
    pub set_violations: Option<f64>,
    /// Map tables: fields whose values break add-wins semantics at the end.
    #[serde(default)]
    pub map_violations: Option<f64>,
    #[serde(default)]
    pub keys_with_siblings: Option<f64>,
    /// `manual` tables: conflicts parked, and the longest any waited in a queue.
    #[serde(default)]
    pub conflicts_parked: Option<f64>,
    #[serde(default)]
    pub conflict_wait_max_ms: Option<f64>,
}

/// Per fault kind: how many faults the run had and how many took effect.
/// Per fault kind, then per phase the fault began in: [realised, took effect]. A fault that
/// began during two phases (a failover while catching up) counts in both.
pub fn fault_phase_coverage(s: &RunSummary) -> BTreeMap<String, BTreeMap<String, [u64; 2]>> {
    let mut m: BTreeMap<String, BTreeMap<String, [u64; 2]>> = BTreeMap::new();
    for f in &s.faults {
        if let Some(e) = f.effects {
            let kind = m
                .entry(
                    f.class()
                        .map_or("other", crate::faults::FaultClass::name)
                        .to_string(),
                )
                .or_default();
            for p in &f.phases {
                let c = kind.entry(p.clone()).or_default();
                c[0] += 1;
                c[1] += u64::from(e > 0);
            }
        }
    }
    m
}

pub fn fault_coverage(s: &RunSummary) -> BTreeMap<String, [u64; 2]> {
    let mut m: BTreeMap<String, [u64; 2]> = BTreeMap::new();
    for f in &s.faults {
        if let Some(e) = f.effects {
            let c = m
                .entry(
                    f.class()
                        .map_or("other", crate::faults::FaultClass::name)
                        .to_string(),
                )
                .or_default();
            c[0] += 1;
            c[1] += u64::from(e > 0);
        }
    }
    m
}

impl RunMetrics {
    pub fn of(s: &RunSummary) -> RunMetrics {
        let acked = s.writes.acked.max(1) as f64;
        let heals = &s.convergence.after_heal_ms;
        let worst = heals.iter().try_fold(0.0f64, |a, v| v.map(|v| a.max(v)));
        RunMetrics {
            visibility_p50_ms: s.visibility_ms.p50,
            visibility_p99_ms: s.visibility_ms.p99,
            visibility_max_ms: s.visibility_ms.max,
            after_heal_ms: if heals.is_empty() { None } else { worst },
            never_converged_after_heal: !heals.is_empty() && worst.is_none(),
            stale_read_pct: if s.reads.total > 0 {
                100.0 * s.reads.stale as f64 / s.reads.total as f64
            } else {
                0.0
            },
            messages_per_write: s.messages.sent as f64 / acked,
            bytes_per_write: s.messages.bytes as f64 / acked,
            write_p99_ms: s
                .levels
                .iter()
                .filter(|l| l.op == "write" && l.ok > 0)
                .map(|l| l.latency_ms.p99)
                .reduce(f64::max),
            read_p99_ms: s
                .levels
                .iter()
                .filter(|l| l.op == "read" && l.ok > 0)
                .map(|l| l.latency_ms.p99)
                .reduce(f64::max),
            fresh_within_100ms_pct: {
                let (reads, fresh) = s
                    .report_data
                    .staleness
                    .iter()
                    .filter(|b| b.age_le_ms <= 100.0)
                    .fold((0, 0), |(r, f), b| (r + b.reads, f + b.fresh));
                (reads > 0).then(|| 100.0 * fresh as f64 / reads as f64)
            },
            cost_per_million_writes_usd: s.efficiency.cost_per_million_writes_usd,
            longest_stall_ms: s.stalls.iter().map(|x| x.longest_ms).fold(0.0, f64::max),
            anti_entropy_bytes_per_write: s.anti_entropy.as_ref().map(|a| a.bytes as f64 / acked),
            anti_entropy_keys_repaired: s.anti_entropy.as_ref().map(|a| a.keys_repaired as f64),
            rpo_writes: (!s.failovers.is_empty()).then_some(s.rpo.writes as f64),
            // A cut-off outage's RTO is only a lower bound: no number to compare.
            rto_ms: (s.rto.outages > 0 && s.rto.unrecovered == 0 && !s.rto.max_cut_off)
                .then_some(s.rto.max_ms)
                .flatten(),
            split_brain_writes: s.failover.as_ref().map(|f| f.split_brain_writes as f64),
            counter_error: s
                .conflicts
                .as_ref()
                .filter(|c| c.counter_keys > 0)
                .map(|c| c.counter_error as f64),
            set_violations: s
                .conflicts
                .as_ref()
                .filter(|c| c.set_keys > 0)
                .map(|c| c.set_violations as f64),
            map_violations: s
                .conflicts
                .as_ref()
                .filter(|c| c.map_keys > 0)
                .map(|c| c.map_violations as f64),
            keys_with_siblings: s
                .conflicts
                .as_ref()
                .filter(|c| {
                    c.tables
                        .iter()
                        .any(|t| t.shape == "register" || t.shape == "map")
                })
                .map(|c| c.keys_with_siblings as f64),
            conflicts_parked: s
                .conflicts
                .as_ref()
                .and_then(|c| c.manual.as_ref())
                .map(|m| m.parked as f64),
            conflict_wait_max_ms: s
                .conflicts
                .as_ref()
                .and_then(|c| c.manual.as_ref())
                .map(|m| m.wait_max_ms),
            lost_acked_writes: s.lost_acked_writes as f64,
            lost_updates: s.lost_updates.total as f64,
            skew_lost_updates: s.lost_updates.skew as f64,
            failed_writes: s.writes.failed as f64,
        }
    }
}

/// The metrics compared, in display order: (json name, label, unit).
pub const METRICS: &[(&str, &str, &str)] = &[
    ("visibility_p50_ms", "visibility p50", "ms"),
    ("visibility_p99_ms", "visibility p99", "ms"),
    ("after_heal_ms", "convergence after heal (worst)", "ms"),
    ("stale_read_pct", "stale reads", "%"),
    (
        "fresh_within_100ms_pct",
        "fresh reads within 100ms of ack",
        "%",
    ),
    ("write_p99_ms", "write latency p99", "ms"),
    ("read_p99_ms", "read latency p99", "ms"),
    ("longest_stall_ms", "longest stall", "ms"),
    ("messages_per_write", "messages per write", ""),
    ("bytes_per_write", "bytes per write", "B"),
    (
        "anti_entropy_bytes_per_write",
        "anti-entropy bytes per write",
        "B",
    ),
    (
        "anti_entropy_keys_repaired",
        "keys repaired by anti-entropy",
        "",
    ),
    (
        "cost_per_million_writes_usd",
        "egress $ per million writes",
        "$",
    ),
    ("lost_acked_writes", "acknowledged writes lost", ""),
    ("rpo_writes", "RPO: writes lost to failures", ""),
    ("rto_ms", "RTO: longest outage of writes", "ms"),
    ("split_brain_writes", "split-brain writes", ""),
    ("lost_updates", "lost updates", ""),
    ("skew_lost_updates", "lost updates from clock skew", ""),
    ("counter_error", "counter error (sum over keys)", ""),
    ("set_violations", "set elements breaking add-wins", ""),
    ("map_violations", "map fields breaking add-wins", ""),
    ("keys_with_siblings", "keys left with siblings", ""),
    ("conflicts_parked", "conflicts parked for an operator", ""),
    (
        "conflict_wait_max_ms",
        "longest wait in an operator queue",
        "ms",
    ),
    ("failed_writes", "failed writes", ""),
];

/// The metrics that have a value in at least one of `sets` (a scenario without a `cost` block
/// has no cost; one without reads no read latency), in display order.
pub fn shown_metrics<'a>(
    sets: impl Iterator<Item = &'a BTreeMap<String, Estimate>>,
) -> Vec<(&'static str, &'static str, &'static str)> {
    let sets: Vec<_> = sets.collect();
    METRICS
        .iter()
        .filter(|(name, _, _)| sets.iter().any(|s| s.get(*name).is_some_and(|e| e.n > 0)))
        .copied()
        .collect()
}

/// The value of metric `name` (one of `METRICS`) in `m`.
pub fn metric_of(m: &RunMetrics, name: &str) -> Option<f64> {
    Some(match name {
        "visibility_p50_ms" => m.visibility_p50_ms,
        "visibility_p99_ms" => m.visibility_p99_ms,
        "after_heal_ms" => return m.after_heal_ms,
        "stale_read_pct" => m.stale_read_pct,
        "messages_per_write" => m.messages_per_write,
        "write_p99_ms" => return m.write_p99_ms,
        "read_p99_ms" => return m.read_p99_ms,
        "fresh_within_100ms_pct" => return m.fresh_within_100ms_pct,
        "cost_per_million_writes_usd" => return m.cost_per_million_writes_usd,
        "longest_stall_ms" => m.longest_stall_ms,
        "bytes_per_write" => m.bytes_per_write,
        "anti_entropy_bytes_per_write" => return m.anti_entropy_bytes_per_write,
        "anti_entropy_keys_repaired" => return m.anti_entropy_keys_repaired,
        "lost_acked_writes" => m.lost_acked_writes,
        "rpo_writes" => return m.rpo_writes,
        "rto_ms" => return m.rto_ms,
        "split_brain_writes" => return m.split_brain_writes,
        "lost_updates" => m.lost_updates,
        "skew_lost_updates" => m.skew_lost_updates,
        "counter_error" => return m.counter_error,
        "set_violations" => return m.set_violations,
        "map_violations" => return m.map_violations,
        "keys_with_siblings" => return m.keys_with_siblings,
        "conflicts_parked" => return m.conflicts_parked,
        "conflict_wait_max_ms" => return m.conflict_wait_max_ms,
        "failed_writes" => m.failed_writes,
        _ => return None,
    })
}

/// Mean and 95% confidence half-width (normal approximation) over the seeds that have a value.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Estimate {
    pub mean: f64,
    pub ci95: f64,
    pub n: u64,
}

pub fn estimate(xs: &[f64]) -> Estimate {
    let n = xs.len();
    if n == 0 {
        return Estimate::default();
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    let ci95 = if n > 1 {
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
        1.96 * (var / n as f64).sqrt()
    } else {
        0.0
    };
    Estimate {
        mean,
        ci95,
        n: n as u64,
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunRow {
    /// Per fault kind: [realised, took effect] in this run.
    #[serde(default)]
    pub fault_kinds: BTreeMap<String, [u64; 2]>,
    /// Per fault kind and the phase it began in: [realised, took effect].
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fault_phases: BTreeMap<String, BTreeMap<String, [u64; 2]>>,
    pub seed: u64,
    pub passed: bool,
    pub failed_checks: Vec<String>,
    pub trace_digest: String,
    pub metrics: RunMetrics,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct VariantResult {
    pub label: String,
    pub settings: BTreeMap<String, String>,
    pub runs: Vec<RunRow>,
    pub pass_rate: f64,
    /// Metric name -> estimate across seeds.
    pub estimates: BTreeMap<String, Estimate>,
}

/// The result of `sim compare` (`compare.json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CompareSummary {
    pub scenario: String,
    pub file: String,
    pub version: String,
    pub vary: Vec<Vary>,
    pub seeds: Vec<u64>,
    pub variants: Vec<VariantResult>,
    pub repro: String,
}

/// Runs every variant on every seed with `jobs` threads (0 = all cores). `progress` is called
/// with the number of finished runs (from worker threads).
pub fn compare(
    text: &str,
    file: &str,
    vary: &[Vary],
    seeds: &[u64],
    jobs: usize,
    limits: Limits,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<CompareSummary, CompareError> {
    let specs = variants(vary);
    let scenarios: Vec<Scenario> = specs
        .iter()
        .map(|v| {
            let sc = variant_scenario(text, file, v)?;
            sc.check_size(limits.max_events)
                .map_err(|source| CompareError::Variant {
                    variant: v.label.clone(),
                    source,
                })?;
            Ok(sc)
        })
        .collect::<Result<_, CompareError>>()?;
    let tasks: Vec<(usize, u64)> = (0..specs.len())
        .flat_map(|v| seeds.iter().map(move |&s| (v, s)))
        .collect();
    let done = std::sync::atomic::AtomicU64::new(0);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(crate::clamp_jobs(jobs))
        .build()
        .expect("a thread pool can be built");
    // Each task is one deterministic, single-threaded run; collecting by index keeps the output
    // independent of scheduling.
    let results: Vec<Result<RunSummary, CompareError>> = pool.install(|| {
        tasks
            .par_iter()
            .map(|&(v, seed)| {
                let r = run(
                    &scenarios[v],
                    RunOptions {
                        seed: Some(seed),
                        limits,
                        ..Default::default()
                    },
                )
                .map_err(|source| CompareError::Run {
                    variant: specs[v].label.clone(),
                    seed,
                    source,
                });
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1);
                r
            })
            .collect()
    });
    let mut per_variant: Vec<Vec<RunRow>> = vec![Vec::new(); specs.len()];
    for ((v, seed), r) in tasks.iter().zip(results) {
        let s = r?;
        per_variant[*v].push(RunRow {
            fault_kinds: fault_coverage(&s),
            fault_phases: fault_phase_coverage(&s),
            seed: *seed,
            passed: s.passed,
            failed_checks: s.failed_names(),
            trace_digest: s.trace_digest.clone(),
            metrics: RunMetrics::of(&s),
        });
    }
    let variants = specs
        .into_iter()
        .zip(per_variant)
        .map(|(spec, runs)| {
            let estimates = METRICS
                .iter()
                .map(|(name, _, _)| {
                    let xs: Vec<f64> = runs
                        .iter()
                        .filter_map(|r| metric_of(&r.metrics, name))
                        .collect();
                    (name.to_string(), estimate(&xs))
                })
                .collect();
            VariantResult {
                pass_rate: runs.iter().filter(|r| r.passed).count() as f64
                    / runs.len().max(1) as f64,
                label: spec.label,
                settings: spec.settings,
                runs,
                estimates,
            }
        })
        .collect();
    let vary_args: String = vary
        .iter()
        .map(|v| format!(" --vary {}={}", v.key, v.values.join(",")))
        .collect();
    let seeds_arg = if seeds.len() > 1 && seeds.windows(2).all(|w| w[1] == w[0] + 1) {
        format!("{}..{}", seeds[0], seeds[seeds.len() - 1])
    } else {
        seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    };
    Ok(CompareSummary {
        scenario: scenarios
            .first()
            .map(|s| s.name.clone())
            .unwrap_or_default(),
        file: file.to_string(),
        version: crate::summary::VERSION.to_string(),
        vary: vary.to_vec(),
        seeds: seeds.to_vec(),
        variants,
        repro: format!("sim compare {file}{vary_args} --seeds {seeds_arg}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vary_parsing_keeps_structured_values_whole() {
        let v: Vary = "workload.key_distribution=uniform,{ zipf: 1.1 }"
            .parse()
            .unwrap();
        assert_eq!(v.values, ["uniform", "{ zipf: 1.1 }"]);
        assert!("nokey".parse::<Vary>().is_err());
        assert!("a=".parse::<Vary>().is_err());
    }

    #[test]
    fn seeds_forms() {
        assert_eq!(parse_seeds("1..4").unwrap(), [1, 2, 3, 4]);
        assert_eq!(parse_seeds("5,9").unwrap(), [5, 9]);
        assert_eq!(parse_seeds("7").unwrap(), [7]);
        assert!(parse_seeds("4..1").is_err());
        assert!(parse_seeds("x").is_err());
        assert!(parse_seeds("1..100000").is_err());
    }

    #[test]
    fn cartesian_product_first_key_outermost() {
        let v = variants(&[
            Vary {
                key: "network.loss".into(),
                values: vec!["0".into(), "0.1".into()],
            },
            Vary {
                key: "durability.flush_interval".into(),
                values: vec!["0".into(), "10ms".into()],
            },
        ]);
        let labels: Vec<&str> = v.iter().map(|x| x.label.as_str()).collect();
        assert_eq!(
            labels,
            [
                "loss=0, flush_interval=0",
                "loss=0, flush_interval=10ms",
                "loss=0.1, flush_interval=0",
                "loss=0.1, flush_interval=10ms"
            ]
        );
    }

    #[test]
    fn set_path_creates_maps_and_indexes_lists() {
        let mut doc: Value =
            serde_yaml::from_str("a: { b: 1 }\nl: [ { x: 1 }, { x: 2 } ]").unwrap();
        set_path(&mut doc, "a.c.d", Value::from(5)).unwrap();
        set_path(&mut doc, "l[1].x", Value::from(9)).unwrap();
        assert_eq!(doc["a"]["c"]["d"], Value::from(5));
        assert_eq!(doc["l"][1]["x"], Value::from(9));
        assert!(set_path(&mut doc, "l[7].x", Value::from(1))
            .unwrap_err()
            .contains("2 items"));
        assert!(set_path(&mut doc, "a.b.z", Value::from(1))
            .unwrap_err()
            .contains("not a mapping"));
    }

    #[test]
    fn estimates() {
        let e = estimate(&[1.0, 2.0, 3.0]);
        assert_eq!((e.mean, e.n), (2.0, 3));
        assert!((e.ci95 - 1.96 * (1.0f64 / 3.0).sqrt()).abs() < 1e-12);
        assert_eq!(estimate(&[]).n, 0);
    }

    const BASE: &str = "name: c\nduration: 3s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 20ms}}\nworkload: {keys: 100, rate_per_region: 100}\n";

    #[test]
    fn results_do_not_depend_on_jobs_and_variants_differ() {
        let vary = [Vary {
            key: "network.loss".into(),
            values: vec!["0".into(), "0.2".into()],
        }];
        let one = compare(BASE, "c.yaml", &vary, &[1, 2, 3], 1, Limits::NONE, &|_| {}).unwrap();
        let two = compare(BASE, "c.yaml", &vary, &[1, 2, 3], 2, Limits::NONE, &|_| {}).unwrap();
        assert_eq!(one, two);
        assert_eq!(one.variants.len(), 2);
        // Go-back-N resends lost stretches in batches: fewer messages than 1:1 acks, more bytes.
        let lossless = &one.variants[0].estimates["bytes_per_write"];
        let lossy = &one.variants[1].estimates["bytes_per_write"];
        assert_eq!(lossless.n, 3);
        assert!(
            lossy.mean > 1.5 * lossless.mean,
            "retransmissions cost bytes: {lossy:?} vs {lossless:?}"
        );
        assert_eq!(
            lossless.ci95, 0.0,
            "constant latency, no loss: identical per seed"
        );
        assert_eq!(
            one.repro,
            "sim compare c.yaml --vary network.loss=0,0.2 --seeds 1..3"
        );
    }

    #[test]
    fn a_bad_variant_names_itself() {
        let vary = [Vary {
            key: "network.loss".into(),
            values: vec!["2".into()],
        }];
        let e = compare(BASE, "c.yaml", &vary, &[1], 1, Limits::NONE, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("variant loss=2") && e.contains("network.loss"),
            "{e}"
        );
    }
}
