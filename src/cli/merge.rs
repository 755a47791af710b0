//! `sim merge`: combine the shards of a sweep (or of a swarm) run on several machines.

use super::{input, InputError};
use anyhow::Context;
use regionsim::sweep::{self, SweepSummary};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// sweep.json files written by `sim sweep --shard` (or swarm.json by `sim swarm --shard`)
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Output directory for the merged sweep.json and sweep.md (or swarm.json)
    #[arg(long)]
    out: PathBuf,
    /// Print only the verdict line
    #[arg(long, short)]
    quiet: bool,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    if let Some(code) = super::swarm::merge(&a.files, &a.out, a.quiet)? {
        return Ok(code);
    }
    let mut parts = Vec::new();
    for f in &a.files {
        let text = input(
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display())),
        )?;
        let s: SweepSummary =
            input(serde_json::from_str(&text).with_context(|| {
                format!("{} is not a sweep.json written by sim sweep", f.display())
            }))?;
        parts.push((f.display().to_string(), s));
    }
    let merged = input(sweep::merge(&parts))?;
    let json = super::sweep::write(&merged, &a.out)?;
    Ok(super::sweep::verdict(&merged, &json, a.quiet))
}
