//! `sim check`: replay scenarios at their seeds against their golden digests.

use super::{input, InputError};
use regionsim::check;
use regionsim::report::text;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario files or directories of them [default: scenarios]
    paths: Vec<PathBuf>,
    /// Record the current digests as golden and print what changed
    #[arg(long)]
    bless: bool,
    /// Parallel runs (0 = one per core)
    #[arg(long, default_value_t = 0)]
    jobs: usize,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let paths = if a.paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        a.paths
    };
    let files = input(check::collect(&paths))?;
    let rows = input(check::check(&files, a.bless, a.jobs))?;
    let w = rows
        .iter()
        .map(|r| r.file.display().to_string().len())
        .max()
        .unwrap_or(8)
        .max(8);
    println!(
        "{:<w$}  {:>6}  {:<7}  {:<16}  {:>7}",
        "scenario", "seed", "result", "trace digest", "time"
    );
    for r in &rows {
        print_row(r, w);
    }
    let passed = rows.iter().filter(|r| r.passed()).count();
    println!("{} passed, {} failed", passed, rows.len() - passed);
    Ok(if passed == rows.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn print_row(r: &check::CheckRow, w: usize) {
    let verdict = if r.passed() { "ok" } else { "FAIL" };
    println!(
        "{:<w$}  {:>6}  {:<7}  {:<16}  {:>7}",
        r.file.display(),
        r.seed,
        verdict,
        r.trace_digest,
        text::human_ms(r.wall_ms)
    );
    for f in &r.failed {
        println!(
            "    failed {f}: sim run {} --seed {}",
            r.file.display(),
            r.seed
        );
    }
    match r.golden {
        check::GoldenStatus::Matches => {}
        check::GoldenStatus::Missing => {
            println!("    no golden digest recorded; record it with `sim check --bless`")
        }
        check::GoldenStatus::Differs => {
            println!("    behaviour changed (re-bless with `sim check --bless` if intended):");
            for c in &r.changes {
                println!("      {c}");
            }
        }
        check::GoldenStatus::Blessed => {
            if r.changes.is_empty() {
                println!("    recorded golden digest");
            } else {
                println!("    re-blessed:");
                for c in &r.changes {
                    println!("      {c}");
                }
            }
        }
    }
}
