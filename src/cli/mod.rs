//! The `sim` subcommands, one file each: its clap argument struct and the function that runs it.
//! What they share lives here: the exit-2 error type, run limits and progress bars.

pub mod check;
pub mod compare;
pub mod merge;
pub mod presets;
pub mod report;
pub mod run;
pub mod shrink;
pub mod swarm;
pub mod sweep;
pub mod validate;

use indicatif::{ProgressBar, ProgressStyle};
use regionsim::Limits;
use std::io::IsTerminal;

/// An error that should exit with status 2 (bad input or I/O).
pub struct InputError(pub anyhow::Error);

/// Marks a library or I/O error as bad input (exit 2).
pub fn input<T, E: Into<anyhow::Error>>(r: Result<T, E>) -> Result<T, InputError> {
    r.map_err(|e| InputError(e.into()))
}

pub fn limits(max_events: u64, max_memory: u64) -> Limits {
    Limits {
        max_events,
        max_memory,
    }
}

/// A progress bar with `template`, only on a terminal and never with `--quiet`.
pub fn bar(len: u64, quiet: bool, template: &str) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(len);
        b.set_style(ProgressStyle::with_template(template).expect("valid template"));
        b
    })
}

/// A progress bar over seeds, only on a terminal and never with `--quiet`.
pub fn seeds_bar(count: u64, quiet: bool) -> Option<ProgressBar> {
    bar(
        count,
        quiet,
        "{bar:40.cyan/blue} {pos}/{len} seeds  {per_sec}  eta {eta}",
    )
}

pub fn print_report_files(f: &regionsim::report::ReportFiles) {
    println!(
        "wrote {} ({} chart files) and {}",
        f.index.display(),
        f.images.len(),
        f.markdown.display()
    );
}
