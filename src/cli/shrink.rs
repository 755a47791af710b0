//! `sim shrink`: reduce a failing seed to a minimal standalone scenario.

use super::{input, InputError};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use regionsim::output::{slug, write_atomic};
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use regionsim::shrink;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (YAML)
    file: PathBuf,
    /// The failing seed [default: the scenario's seed]
    #[arg(long)]
    seed: Option<u64>,
    /// Where to write the reproducer [default: reports/<name>/shrink-seed-<seed>.yaml]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Most candidate runs to try
    #[arg(long, default_value_t = 400)]
    max_runs: u32,
    /// Print only the output path
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&a.file))?;
    input(sc.check_size(DEFAULT_MAX_EVENTS))?;
    let seed = a.seed.unwrap_or(sc.seed);
    let path = a.out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join(format!("shrink-seed-{seed}.yaml"))
    });
    if !a.quiet {
        eprintln!("shrinking {} at seed {seed}", sc.file);
    }
    let bar = (!a.quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new_spinner();
        b.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("valid template"),
        );
        b
    });
    let progress = |runs: u32, kept: u32| {
        if let Some(b) = &bar {
            b.set_message(format!("{runs} candidate runs, {kept} still failing"));
            b.tick();
        }
    };
    let result = shrink::shrink(&sc, seed, a.max_runs, &progress);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let shrunk = match result {
        Ok(s) => s,
        Err(shrink::ShrinkError::Passes(_)) => {
            println!("seed {seed} passes every check and expectation: nothing to shrink");
            return Ok(ExitCode::SUCCESS);
        }
        Err(e) => return Err(InputError(e.into())),
    };
    input(
        write_atomic(&path, shrunk.yaml.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
    )?;
    if !a.quiet {
        println!(
            "still fails `{}` after {} candidate runs ({} kept)",
            shrunk.target, shrunk.runs, shrunk.kept
        );
        for (what, before, after) in &shrunk.changes {
            println!("  {what:<16} {before} -> {after}");
        }
        println!("wrote {}", path.display());
    }
    println!("reproduce: sim run {} --seed {seed}", path.display());
    Ok(ExitCode::SUCCESS)
}
