//! `sim swarm` and the swarm half of `sim merge`: run the seeds, write every failing seed's drawn
//! scenario and its shrunk reproducer, print the coverage table.

use super::{input, InputError};
use anyhow::Context;
use rayon::prelude::*;
use regionsim::compare::parse_seeds;
use regionsim::output::write_atomic;
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use regionsim::shrink;
use regionsim::swarm::{self, SwarmSummary};
use regionsim::sweep::Shard;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Seeds: N, a list (1,2,5) or an inclusive range (1..1000)
    #[arg(long, default_value = "1..200")]
    seeds: String,
    /// Parallel runs (0 = one per core); results do not depend on it
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Run only slice I of N of the seeds (combine slices with `sim merge`)
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Output directory [default: reports/swarm]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the verdict line (and failing seeds)
    #[arg(long, short)]
    quiet: bool,
    /// Most candidate runs when shrinking each failing seed (0: do not shrink)
    #[arg(long, default_value_t = 120)]
    shrink_runs: u32,
    /// YAML list of known open findings (`- { seed: N, finding: CHECK, note: ... }`): they are
    /// reported but do not fail the swarm; a listed finding that no longer occurs does
    #[arg(long, value_name = "FILE.yaml")]
    known: Option<PathBuf>,
    /// Refuse drawn scenarios estimated to need more simulated events than this
    #[arg(long, default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
}

/// One known open finding: a seed and the check it fails, with why it is still open.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Known {
    seed: u64,
    finding: String,
    note: String,
}

fn load_known(path: &Path) -> Result<Vec<Known>, InputError> {
    let text = input(
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display())),
    )?;
    let known: Vec<Known> = input(serde_yaml::from_str(&text).with_context(|| {
        format!(
            "{}: not a list of {{ seed, finding, note }}",
            path.display()
        )
    }))?;
    for k in &known {
        if k.note.trim().is_empty() {
            return Err(InputError(anyhow::anyhow!(
                "{}: seed {} ({}) needs a note saying why it is still open",
                path.display(),
                k.seed,
                k.finding
            )));
        }
    }
    Ok(known)
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let seeds = input(parse_seeds(&a.seeds))?;
    let known = match &a.known {
        Some(p) => load_known(p)?,
        None => Vec::new(),
    };
    let shard: Option<Shard> = match &a.shard {
        Some(s) => Some(input(s.parse())?),
        None => None,
    };
    let count = shard.map_or(seeds.len(), |s| s.select(&seeds).len()) as u64;
    let dir = a
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join("swarm"));
    if !a.quiet {
        eprintln!("swarming {count} drawn scenarios");
    }
    let bar = super::seeds_bar(count, a.quiet);
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let started = std::time::Instant::now();
    // Panics are findings about a seed: reported in the swarm, not printed as they happen.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let (mut s, drawn) = swarm::swarm(&seeds, shard, a.jobs, a.max_events, &tick);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    // Each failing seed: its drawn scenario as a standalone file, then a shrunk reproducer.
    for f in &s.failing {
        let d = &drawn[&f.seed];
        let header = format!(
            "# Drawn by `sim swarm --seeds {0}` (seed {0}); findings: {1}\n# Reproduce: sim run <this file>\n",
            f.seed,
            f.findings.join("; ")
        );
        let path = dir.join(&f.scenario);
        input(
            write_atomic(&path, format!("{header}{}", d.yaml).as_bytes())
                .with_context(|| format!("cannot write {}", path.display())),
        )?;
    }
    let shrink_runs = a.shrink_runs;
    let shrunk: Vec<(Option<String>, Option<String>)> = s
        .failing
        .par_iter()
        .map(|f| {
            let file = dir.join(&f.scenario).display().to_string();
            shrink_one(
                &drawn[&f.seed].yaml,
                &file,
                f.seed,
                &f.findings[0],
                shrink_runs,
            )
        })
        .collect();
    std::panic::set_hook(hook);
    for (f, (yaml, note)) in s.failing.iter_mut().zip(shrunk) {
        match yaml {
            Some(y) => {
                let rel = format!("failing/seed-{}.shrunk.yaml", f.seed);
                let path = dir.join(&rel);
                input(
                    write_atomic(&path, y.as_bytes())
                        .with_context(|| format!("cannot write {}", path.display())),
                )?;
                f.shrunk = Some(rel);
            }
            None => f.shrink_note = note,
        }
    }
    let json = write(&s, &dir)?;
    if !a.quiet {
        eprintln!(
            "{} seeds in {:.1} s",
            count,
            started.elapsed().as_secs_f64()
        );
    }
    let code = verdict(&s, &json, a.quiet);
    if a.known.is_none() {
        return Ok(code);
    }
    Ok(known_verdict(
        &s,
        &known,
        a.known.as_deref().unwrap_or(Path::new("")),
    ))
}

/// With a list of known open findings: exit 1 only on a finding not listed, or on a listed one
/// that no longer occurs (so the list cannot outlive its bugs).
fn known_verdict(s: &SwarmSummary, known: &[Known], path: &Path) -> ExitCode {
    let ran: std::collections::BTreeSet<u64> = s.runs.iter().map(|r| r.seed).collect();
    let listed = |seed: u64, f: &str| {
        let check = f.split(':').next().unwrap_or(f);
        known.iter().any(|k| k.seed == seed && k.finding == check)
    };
    let mut new = 0;
    let mut still = 0;
    for r in &s.runs {
        for f in &r.findings {
            if listed(r.seed, f) {
                still += 1;
            } else {
                new += 1;
            }
        }
    }
    let mut gone = Vec::new();
    for k in known.iter().filter(|k| ran.contains(&k.seed)) {
        let r = s.runs.iter().find(|r| r.seed == k.seed);
        let present = r.is_some_and(|r| {
            r.findings
                .iter()
                .any(|f| f.split(':').next().unwrap_or(f) == k.finding)
        });
        if !present {
            gone.push(format!("seed {} {}", k.seed, k.finding));
        }
    }
    println!(
        "known open findings ({}): {still} still occur; new findings: {new}",
        path.display()
    );
    for k in known.iter().filter(|k| ran.contains(&k.seed)) {
        println!("  known: seed {} {}: {}", k.seed, k.finding, k.note);
    }
    if !gone.is_empty() {
        println!(
            "no longer found (remove them from {}): {}",
            path.display(),
            gone.join(", ")
        );
    }
    if new == 0 && gone.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// Shrinks one failing seed's first finding; returns the reproducer or why there is none.
fn shrink_one(
    yaml: &str,
    file: &str,
    seed: u64,
    finding: &str,
    max_runs: u32,
) -> (Option<String>, Option<String>) {
    if max_runs == 0 {
        return (None, Some("--shrink-runs 0".into()));
    }
    if finding.contains(':') {
        // Panics, run errors and refused draws are reproduced by the drawn file itself.
        return (
            None,
            Some("not a check failure; run the drawn scenario".into()),
        );
    }
    let Ok(sc) = Scenario::parse(yaml, file) else {
        return (None, Some("the drawn scenario does not validate".into()));
    };
    let none = |_: u32, _: u32| {};
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        shrink::shrink_to(&sc, seed, Some(finding), max_runs, &none)
    }));
    match outcome {
        Ok(Ok(s)) => (Some(s.yaml), None),
        Ok(Err(e)) => (None, Some(e.to_string())),
        Err(_) => (None, Some("a candidate panicked while shrinking".into())),
    }
}

fn write(s: &SwarmSummary, dir: &Path) -> Result<PathBuf, InputError> {
    let json = dir.join("swarm.json");
    let text = serde_json::to_string_pretty(s).expect("a swarm summary serialises");
    input(
        write_atomic(&json, text.as_bytes())
            .with_context(|| format!("cannot write {}", json.display())),
    )?;
    Ok(json)
}

fn verdict(s: &SwarmSummary, json: &Path, quiet: bool) -> ExitCode {
    if !quiet {
        print!("{}", swarm::render_text(s));
        println!("\nwrote {}", json.display());
    } else {
        for f in &s.failing {
            println!("seed {}: {}", f.seed, f.findings.join("; "));
        }
    }
    println!("swarm: {} passed, {} failed", s.passed, s.failed);
    if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

/// `sim merge` of swarm shards: `Some(exit code)` when the files are swarm summaries.
pub fn merge(files: &[PathBuf], out: &Path, quiet: bool) -> Result<Option<ExitCode>, InputError> {
    let mut parts = Vec::new();
    for f in files {
        let Ok(text) = std::fs::read_to_string(f) else {
            return Ok(None);
        };
        match serde_json::from_str::<SwarmSummary>(&text) {
            Ok(s) => parts.push(s),
            Err(_) if parts.is_empty() => return Ok(None),
            Err(e) => {
                return Err(InputError(anyhow::anyhow!(
                    "{} is not a swarm.json written by sim swarm: {e}",
                    f.display()
                )))
            }
        }
    }
    let merged = input(swarm::merge(&parts))?;
    let json = write(&merged, out)?;
    Ok(Some(verdict(&merged, &json, quiet)))
}
