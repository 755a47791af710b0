//! `sim report`: re-render a saved summary.json's report without re-simulating.

use super::{input, print_report_files, InputError};
use anyhow::Context;
use regionsim::report::{write_report, ImageFormat};
use regionsim::summary::RunSummary;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A summary.json written by `sim run`
    summary: PathBuf,
    /// Output directory [default: the summary's directory]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Chart image files to write beside the report
    #[arg(long, value_enum, default_value_t = ImageFormat::Both)]
    format: ImageFormat,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let text = input(
        std::fs::read_to_string(&a.summary)
            .with_context(|| format!("cannot read {}", a.summary.display())),
    )?;
    let s: RunSummary = input(serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a summary.json written by this version of sim",
            a.summary.display()
        )
    }))?;
    let dir = a.out.unwrap_or_else(|| {
        a.summary
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    print_report_files(&input(write_report(&s, &dir, a.format))?);
    Ok(ExitCode::SUCCESS)
}
