//! `sim sweep`: one scenario over many seeds, and the files and verdict a sweep (or a merge of
//! sweep shards) writes.

use super::{input, limits, InputError};
use anyhow::Context;
use regionsim::compare::parse_seeds;
use regionsim::output::{slug, write_atomic};
use regionsim::report::compare as compare_report;
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use regionsim::sweep::{self, Shard, SweepSummary};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (YAML)
    file: PathBuf,
    /// Seeds: N, a list (1,2,5) or an inclusive range (1..1000)
    #[arg(long, default_value = "1..100")]
    seeds: String,
    /// Parallel runs (0 = one per core); results do not depend on it
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Run only slice I of N of the seeds (combine slices with `sim merge`)
    #[arg(long, value_name = "I/N")]
    shard: Option<String>,
    /// Output directory [default: reports/<name>/sweep]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the verdict line
    #[arg(long, short)]
    quiet: bool,
    /// Refuse scenarios estimated to need more simulated events than this, and stop a run
    /// that processes more (each run; such a seed is reported as failing)
    #[arg(long, default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
    /// Stop a run whose process memory passes this (e.g. 8GiB, 512MiB; 0 = no bound); exit 2
    #[arg(long, default_value = "8GiB", value_parser = regionsim::units::parse_bytes)]
    max_memory: u64,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let limits = limits(a.max_events, a.max_memory);
    let sc = input(Scenario::load(&a.file))?;
    input(sc.check_size(limits.max_events))?;
    let seeds = input(parse_seeds(&a.seeds))?;
    let shard: Option<Shard> = match a.shard {
        Some(s) => Some(input(s.parse())?),
        None => None,
    };
    let count = shard.map_or(seeds.len(), |s| s.select(&seeds).len()) as u64;
    let dir = a
        .out
        .unwrap_or_else(|| PathBuf::from("reports").join(slug(&sc.name)).join("sweep"));
    if !a.quiet {
        eprintln!("sweeping {} over {count} seeds", sc.file);
    }
    let bar = super::seeds_bar(count, a.quiet);
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    // Panics are findings about a seed: reported in the sweep, not printed as they happen.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let s = sweep::sweep_limited(&sc, &seeds, shard, a.jobs, limits, &tick);
    std::panic::set_hook(hook);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let json = write(&s, &dir)?;
    Ok(verdict(&s, &json, a.quiet))
}

/// Writes DIR/sweep.json and DIR/sweep.md; returns the JSON's path.
pub fn write(s: &SweepSummary, dir: &Path) -> Result<PathBuf, InputError> {
    let json = dir.join("sweep.json");
    let text = serde_json::to_string_pretty(s).expect("sweep serialises");
    input(
        write_atomic(&json, text.as_bytes())
            .with_context(|| format!("cannot write {}", json.display())),
    )?;
    let md = dir.join("sweep.md");
    input(
        write_atomic(&md, compare_report::render_sweep_markdown(s).as_bytes())
            .with_context(|| format!("cannot write {}", md.display())),
    )?;
    Ok(json)
}

/// Prints the sweep (unless quiet) and its verdict line; exit 1 if any seed failed.
pub fn verdict(s: &SweepSummary, json: &Path, quiet: bool) -> ExitCode {
    if !quiet {
        print!("{}", compare_report::render_sweep_text(s));
        println!("\nwrote {}", json.display());
    }
    println!("{} passed, {} failed", s.passed, s.failed);
    if s.failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
