//! `sim compare`: variants of one scenario on the same seeds, side by side.

use super::{input, limits, InputError};
use regionsim::compare::{compare, parse_seeds, variants, CompareError, Vary};
use regionsim::output::slug;
use regionsim::report::compare::{self as compare_report, write_compare};
use regionsim::report::ImageFormat;
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (YAML)
    file: PathBuf,
    /// KEY=V1,V2,...: a scenario key (dotted path, e.g. network.loss) and the values to try;
    /// repeat for a grid
    #[arg(long, value_name = "KEY=VALUES")]
    vary: Vec<String>,
    /// Seeds: N, a list (1,2,5) or an inclusive range (1..20) [default: the scenario's seed]
    #[arg(long)]
    seeds: Option<String>,
    /// Parallel runs (0 = one per core); results do not depend on it
    #[arg(long, default_value_t = 0)]
    jobs: usize,
    /// Output directory [default: reports/<name>/compare]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the output paths
    #[arg(long, short)]
    quiet: bool,
    /// Exit 1 if any run fails a check or expectation
    #[arg(long)]
    strict: bool,
    /// Chart image files to write beside the report
    #[arg(long, value_enum, default_value_t = ImageFormat::Both)]
    format: ImageFormat,
    /// Refuse variants estimated to need more simulated events than this, and stop a run
    /// that processes more (each run)
    #[arg(long, default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
    /// Stop a run whose process memory passes this (e.g. 8GiB, 512MiB; 0 = no bound); exit 2
    #[arg(long, default_value = "8GiB", value_parser = regionsim::units::parse_bytes)]
    max_memory: u64,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&a.file))?;
    let text = sc.source.clone();
    let vary: Vec<Vary> = input(
        a.vary
            .iter()
            .map(|v| v.parse())
            .collect::<Result<_, CompareError>>(),
    )?;
    let seeds = match a.seeds {
        Some(s) => input(parse_seeds(&s))?,
        None => vec![sc.seed],
    };
    let total = variants(&vary).len() as u64 * seeds.len() as u64;
    let dir = a.out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join("compare")
    });
    if !a.quiet {
        eprintln!(
            "comparing {} variants x {} seeds of {}",
            total / seeds.len() as u64,
            seeds.len(),
            sc.file
        );
    }
    let bar = super::bar(
        total,
        a.quiet,
        "{bar:40.cyan/blue} {pos}/{len} runs  eta {eta}",
    );
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let limits = limits(a.max_events, a.max_memory);
    let result = compare(&text, &sc.file, &vary, &seeds, a.jobs, limits, &tick);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let c = input(result)?;
    let files = input(write_compare(&c, &dir, a.format))?;
    if !a.quiet {
        print!("{}", compare_report::render_text(&c));
    }
    println!(
        "wrote {}, {} and {} ({} chart files)",
        files.json.display(),
        files.markdown.display(),
        files.index.display(),
        files.images.len()
    );
    let failing = c
        .variants
        .iter()
        .flat_map(|v| &v.runs)
        .filter(|r| !r.passed)
        .count();
    if a.strict && failing > 0 {
        println!("FAIL: {failing} of {total} runs failed a check or expectation");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}
