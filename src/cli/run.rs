//! `sim run`: one scenario, one seed; the terminal summary, summary.json, the report and the verdict.

use super::{input, limits, print_report_files, InputError};
use anyhow::Context;
use regionsim::output::{slug, write_atomic, AtomicFile};
use regionsim::report::{text, write_report, ImageFormat};
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use regionsim::{run as simulate, RunOptions};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Scenario file (YAML)
    file: PathBuf,
    /// Override the scenario's seed
    #[arg(long)]
    seed: Option<u64>,
    /// Output directory [default: reports/<name>/seed-<seed>]
    #[arg(long)]
    out: Option<PathBuf>,
    /// Print only the verdict line (and errors)
    #[arg(long, short)]
    quiet: bool,
    /// Also write every event as JSON lines to this file
    #[arg(long, value_name = "FILE.jsonl")]
    trace: Option<PathBuf>,
    /// Refuse scenarios estimated to need more simulated events than this, and stop a run
    /// that processes more (exit 2)
    #[arg(long, default_value_t = DEFAULT_MAX_EVENTS)]
    max_events: u64,
    /// Stop a run whose process memory passes this (e.g. 8GiB, 512MiB; 0 = no bound); exit 2
    #[arg(long, default_value = "8GiB", value_parser = regionsim::units::parse_bytes)]
    max_memory: u64,
    /// Skip the HTML report and charts (summary.json only)
    #[arg(long)]
    no_report: bool,
    /// Chart image files to write beside the report
    #[arg(long, value_enum, default_value_t = ImageFormat::Both)]
    format: ImageFormat,
}

pub fn run(a: Args) -> Result<ExitCode, InputError> {
    let limits = limits(a.max_events, a.max_memory);
    let sc = input(Scenario::load(&a.file))?;
    input(sc.check_size(limits.max_events))?;
    let seed = a.seed.unwrap_or(sc.seed);
    for w in &sc.warnings {
        eprintln!("warning: {}: {w}", sc.file);
    }
    let dir = a.out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join(format!("seed-{seed}"))
    });

    let (trace_file, trace_writer) = match &a.trace {
        Some(p) => {
            let (f, w) = input(
                AtomicFile::create(p).with_context(|| format!("cannot create {}", p.display())),
            )?;
            (Some(f), Some(Box::new(w) as Box<dyn std::io::Write>))
        }
        None => (None, None),
    };

    // Seed banner first, so even a crash leaves the seed on screen.
    if !a.quiet {
        eprintln!("running {} with seed {seed}", sc.file);
    }
    let total_ns = sc.duration.0;
    let bar = super::bar(
        total_ns / 1_000_000,
        a.quiet,
        "{bar:40.cyan/blue} {pos}/{len} sim-ms  {msg}  eta {eta}",
    );
    let started = std::time::Instant::now();
    let mut tick = |t: regionsim::time::SimTime, events: u64| {
        if let Some(b) = &bar {
            b.set_position((t.0.min(total_ns)) / 1_000_000);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("{:.1}M events/s", events as f64 / secs / 1e6));
        }
    };
    let result = simulate(
        &sc,
        RunOptions {
            seed: Some(seed),
            trace: trace_writer,
            progress: Some(&mut tick),
            limits,
        },
    );
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let mut summary = match result {
        Ok(s) => {
            if let Some(f) = trace_file {
                input(f.commit().context("cannot finish the trace file"))?;
            }
            s
        }
        Err(e) => {
            if let Some(f) = trace_file {
                f.abandon();
            }
            return Err(InputError(e.into()));
        }
    };

    // Measured before the report is drawn: the figure is what the simulation and its analysis
    // needed.
    summary.wall.peak_rss_bytes = peak_rss_bytes();
    let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
    let path = dir.join("summary.json");
    input(
        write_atomic(&path, json.as_bytes())
            .with_context(|| format!("cannot write {}", path.display())),
    )?;
    let files = match (!a.no_report).then_some(a.format) {
        Some(format) => Some(input(write_report(&summary, &dir, format))?),
        None => None,
    };

    if !a.quiet {
        print!("{}", text::render(&summary));
        println!("\nwrote {}", path.display());
        if let Some(f) = &files {
            print_report_files(f);
        }
        if let Some(t) = &a.trace {
            println!("wrote {}", t.display());
        }
    }
    let failed = summary.failed_names();
    if failed.is_empty() {
        println!(
            "PASS {} (seed {seed}): all checks and expectations hold",
            sc.name
        );
        Ok(ExitCode::SUCCESS)
    } else {
        println!("FAIL {} (seed {seed}): {}", sc.name, failed.join(", "));
        println!("repro: {}", summary.repro);
        Ok(ExitCode::from(1))
    }
}

/// The process's peak resident set size (`VmHWM`), where the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
