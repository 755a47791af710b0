//! The `sim` command line: parses arguments, hands each subcommand to its file under `cli/`, maps
//! outcomes to exit codes (0 all checks pass, 1 a check or expectation failed, 2 bad input or
//! I/O error).

use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod cli;

#[derive(Parser)]
#[command(
    name = "sim",
    version,
    about = "Deterministic multi-region replication simulator"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Run a scenario and write DIR/summary.json
    Run(cli::run::Args),
    /// Run variants of a scenario on the same seeds and compare them side by side
    Compare(cli::compare::Args),
    /// Replay scenarios with their seeds; fail on a failed check or expectation, or when a
    /// trace digest differs from the recorded golden (golden.json beside the scenarios)
    Check(cli::check::Args),
    /// Run one scenario over many seeds in parallel; exit 1 if any seed fails a check
    Sweep(cli::sweep::Args),
    /// Draw a random whole scenario per seed (mode, topology, policies, clients, weather), run
    /// every check, judge it against what the configuration promises; exit 1 on any finding
    Swarm(cli::swarm::Args),
    /// Reduce a failing seed to a minimal standalone scenario that fails the same check
    Shrink(cli::shrink::Args),
    /// Combine the sweep.json files of shards into one sweep
    Merge(cli::merge::Args),
    /// Re-render the report of a saved summary.json without re-simulating
    Report(cli::report::Args),
    /// Check scenario files without running them
    Validate(cli::validate::Args),
    /// List the shipped latency presets, or show one
    Presets(cli::presets::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().cmd {
        Cmd::Run(a) => cli::run::run(a),
        Cmd::Compare(a) => cli::compare::run(a),
        Cmd::Check(a) => cli::check::run(a),
        Cmd::Sweep(a) => cli::sweep::run(a),
        Cmd::Swarm(a) => cli::swarm::run(a),
        Cmd::Shrink(a) => cli::shrink::run(a),
        Cmd::Merge(a) => cli::merge::run(a),
        Cmd::Report(a) => cli::report::run(a),
        Cmd::Validate(a) => cli::validate::run(a),
        Cmd::Presets(a) => cli::presets::run(a),
    };
    match result {
        Ok(code) => code,
        Err(cli::InputError(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
