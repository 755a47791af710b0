//! `sim check`: replays scenarios with their seeds, applies their checks and expectations, and
//! compares each run's trace digest with the recorded golden one, so a change that alters
//! behaviour fails until it is deliberately re-blessed (`--bless`).
//!
//! Goldens live beside the scenarios in `golden.json` (one per directory), keyed by file name.

use crate::output::write_atomic;
use crate::scenario::{Scenario, ScenarioError, DEFAULT_MAX_EVENTS};
use crate::summary::RunSummary;
use crate::{run, RunError, RunOptions};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const GOLDEN_FILE: &str = "golden.json";

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: not a golden file: {message}")]
    Golden { path: PathBuf, message: String },
    #[error("no scenario files (*.yaml) in {0}")]
    Empty(String),
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error("{file}: {source}")]
    Run {
        file: String,
        #[source]
        source: RunError,
    },
}

/// What is recorded for one scenario: its digest and the headline numbers, so a re-bless can
/// say what changed.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Golden {
    pub seed: u64,
    pub trace_digest: String,
    pub events: u64,
    pub writes_acked: u64,
    pub visibility_p99_ms: f64,
    pub lost_acked_writes: u64,
    pub lost_updates: u64,
    pub converged: bool,
}

impl Golden {
    fn of(s: &RunSummary) -> Golden {
        Golden {
            seed: s.seed,
            trace_digest: s.trace_digest.clone(),
            events: s.events,
            writes_acked: s.writes.acked,
            visibility_p99_ms: s.visibility_ms.p99,
            lost_acked_writes: s.lost_acked_writes,
            lost_updates: s.lost_updates.total,
            converged: s.convergence.converged,
        }
    }

    /// Human-readable differences from `old` ("events 1,000 -> 1,020").
    pub fn diff(&self, old: &Golden) -> Vec<String> {
        let mut d = Vec::new();
        let mut cmp = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name} {a} -> {b}"));
            }
        };
        cmp("seed", old.seed.to_string(), self.seed.to_string());
        cmp(
            "trace_digest",
            old.trace_digest.clone(),
            self.trace_digest.clone(),
        );
        cmp("events", old.events.to_string(), self.events.to_string());
        cmp(
            "writes_acked",
            old.writes_acked.to_string(),
            self.writes_acked.to_string(),
        );
        cmp(
            "visibility_p99_ms",
            old.visibility_p99_ms.to_string(),
            self.visibility_p99_ms.to_string(),
        );
        cmp(
            "lost_acked_writes",
            old.lost_acked_writes.to_string(),
            self.lost_acked_writes.to_string(),
        );
        cmp(
            "lost_updates",
            old.lost_updates.to_string(),
            self.lost_updates.to_string(),
        );
        cmp(
            "converged",
            old.converged.to_string(),
            self.converged.to_string(),
        );
        d
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct GoldenFile {
    /// Goldens are only comparable within one simulator version and platform; recorded for people.
    pub version: String,
    pub scenarios: BTreeMap<String, Golden>,
}

/// One scenario's outcome.
#[derive(Clone, Debug)]
pub struct CheckRow {
    pub file: PathBuf,
    pub name: String,
    pub seed: u64,
    pub trace_digest: String,
    /// Failed checks and expectations.
    pub failed: Vec<String>,
    pub golden: GoldenStatus,
    pub changes: Vec<String>,
    pub wall_ms: f64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GoldenStatus {
    Matches,
    Differs,
    Missing,
    /// `--bless` recorded it.
    Blessed,
}

impl CheckRow {
    pub fn passed(&self) -> bool {
        self.failed.is_empty()
            && matches!(self.golden, GoldenStatus::Matches | GoldenStatus::Blessed)
    }
}

/// Scenario files named by `paths`: files as given, directories' `*.yaml` (not recursive), sorted.
pub fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>, CheckError> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let rd = std::fs::read_dir(p).map_err(|source| CheckError::Io {
                path: p.clone(),
                source,
            })?;
            let mut files: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "yaml" || x == "yml"))
                .collect();
            if files.is_empty() {
                return Err(CheckError::Empty(p.display().to_string()));
            }
            files.sort();
            out.extend(files);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

fn golden_path(file: &Path) -> PathBuf {
    file.parent().unwrap_or(Path::new(".")).join(GOLDEN_FILE)
}

fn load_golden(path: &Path) -> Result<GoldenFile, CheckError> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| CheckError::Golden {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(GoldenFile::default()),
        Err(source) => Err(CheckError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Runs every file (in parallel), compares with goldens, and with `bless` records the new ones.
pub fn check(files: &[PathBuf], bless: bool, jobs: usize) -> Result<Vec<CheckRow>, CheckError> {
    let scenarios: Vec<Scenario> = files
        .iter()
        .map(|f| {
            let sc = Scenario::load(f)?;
            sc.check_size(DEFAULT_MAX_EVENTS)?;
            Ok(sc)
        })
        .collect::<Result<_, CheckError>>()?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(crate::clamp_jobs(jobs))
        .build()
        .expect("a thread pool can be built");
    let results: Vec<Result<(RunSummary, f64), CheckError>> = pool.install(|| {
        scenarios
            .par_iter()
            .map(|sc| {
                let t = std::time::Instant::now();
                let s = run(sc, RunOptions::default()).map_err(|source| CheckError::Run {
                    file: sc.file.clone(),
                    source,
                })?;
                Ok((s, t.elapsed().as_secs_f64() * 1e3))
            })
            .collect()
    });
    let mut goldens: BTreeMap<PathBuf, GoldenFile> = BTreeMap::new();
    let mut rows = Vec::new();
    for ((file, sc), r) in files.iter().zip(&scenarios).zip(results) {
        let (s, wall_ms) = r?;
        let gpath = golden_path(file);
        if !goldens.contains_key(&gpath) {
            goldens.insert(gpath.clone(), load_golden(&gpath)?);
        }
        let gf = goldens.get_mut(&gpath).expect("just loaded");
        let key = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let now = Golden::of(&s);
        let (status, changes) = match gf.scenarios.get(&key) {
            Some(old) if *old == now => (GoldenStatus::Matches, Vec::new()),
            Some(old) => (GoldenStatus::Differs, now.diff(old)),
            None => (GoldenStatus::Missing, Vec::new()),
        };
        let status = if bless && status != GoldenStatus::Matches {
            gf.scenarios.insert(key, now);
            GoldenStatus::Blessed
        } else {
            status
        };
        rows.push(CheckRow {
            file: file.clone(),
            name: sc.name.clone(),
            seed: s.seed,
            trace_digest: s.trace_digest.clone(),
            failed: s.failed_names(),
            golden: status,
            changes,
            wall_ms,
        });
    }
    if bless {
        for (path, mut gf) in goldens {
            gf.version = crate::summary::VERSION.to_string();
            let json = serde_json::to_string_pretty(&gf).expect("golden file serialises") + "\n";
            write_atomic(&path, json.as_bytes())
                .map_err(|source| CheckError::Io { path, source })?;
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_what_changed() {
        let a = Golden {
            seed: 1,
            trace_digest: "aa".into(),
            events: 10,
            writes_acked: 5,
            visibility_p99_ms: 1.5,
            lost_acked_writes: 0,
            lost_updates: 0,
            converged: true,
        };
        let mut b = a.clone();
        b.trace_digest = "bb".into();
        b.events = 12;
        assert_eq!(b.diff(&a), ["trace_digest aa -> bb", "events 10 -> 12"]);
        assert!(a.diff(&a).is_empty());
    }
}
