//! The `sim` command line: parses arguments, calls the library, maps outcomes to exit codes
//! (0 all checks pass, 1 a check or expectation failed, 2 bad input or I/O error).

use anyhow::Context;
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use regionsim::check;
use regionsim::compare::{compare, parse_seeds, variants, CompareError, Vary};
use regionsim::output::{slug, write_atomic, AtomicFile};
use regionsim::report::compare::{self as compare_report, write_compare};
use regionsim::report::{text, write_report, ImageFormat};
use regionsim::scenario::{Scenario, DEFAULT_MAX_EVENTS};
use regionsim::shrink;
use regionsim::summary::RunSummary;
use regionsim::sweep::{self, Shard, SweepSummary};
use regionsim::{presets, run, Limits, RunOptions};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

mod swarm_cmd;

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
    Run {
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
    },
    /// Run variants of a scenario on the same seeds and compare them side by side
    Compare {
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
    },
    /// Replay scenarios with their seeds; fail on a failed check or expectation, or when a
    /// trace digest differs from the recorded golden (golden.json beside the scenarios)
    Check {
        /// Scenario files or directories of them [default: scenarios]
        paths: Vec<PathBuf>,
        /// Record the current digests as golden and print what changed
        #[arg(long)]
        bless: bool,
        /// Parallel runs (0 = one per core)
        #[arg(long, default_value_t = 0)]
        jobs: usize,
    },
    /// Run one scenario over many seeds in parallel; exit 1 if any seed fails a check
    Sweep {
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
    },
    /// Draw a random whole scenario per seed (mode, topology, policies, clients, weather), run
    /// every check, judge it against what the configuration promises; exit 1 on any finding
    Swarm {
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
    },
    /// Reduce a failing seed to a minimal standalone scenario that fails the same check
    Shrink {
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
    },
    /// Combine the sweep.json files of shards into one sweep
    Merge {
        /// sweep.json files written by `sim sweep --shard` (or swarm.json by `sim swarm --shard`)
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Output directory for the merged sweep.json and sweep.md (or swarm.json)
        #[arg(long)]
        out: PathBuf,
        /// Print only the verdict line
        #[arg(long, short)]
        quiet: bool,
    },
    /// Re-render the report of a saved summary.json without re-simulating
    Report {
        /// A summary.json written by `sim run`
        summary: PathBuf,
        /// Output directory [default: the summary's directory]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Chart image files to write beside the report
        #[arg(long, value_enum, default_value_t = ImageFormat::Both)]
        format: ImageFormat,
    },
    /// Check scenario files without running them
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List the shipped latency presets, or show one
    Presets { name: Option<String> },
}

/// An error that should exit with status 2 (bad input or I/O).
struct InputError(anyhow::Error);

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.cmd {
        Cmd::Run {
            file,
            seed,
            out,
            quiet,
            trace,
            max_events,
            max_memory,
            no_report,
            format,
        } => cmd_run(
            file,
            seed,
            out,
            quiet,
            trace,
            limits(max_events, max_memory),
            (!no_report).then_some(format),
        ),
        Cmd::Compare {
            file,
            vary,
            seeds,
            jobs,
            out,
            quiet,
            strict,
            format,
            max_events,
            max_memory,
        } => cmd_compare(
            file,
            vary,
            seeds,
            jobs,
            out,
            quiet,
            strict,
            format,
            limits(max_events, max_memory),
        ),
        Cmd::Check { paths, bless, jobs } => cmd_check(paths, bless, jobs),
        Cmd::Sweep {
            file,
            seeds,
            jobs,
            shard,
            out,
            quiet,
            max_events,
            max_memory,
        } => cmd_sweep(
            file,
            seeds,
            jobs,
            shard,
            out,
            quiet,
            limits(max_events, max_memory),
        ),
        Cmd::Swarm {
            seeds,
            jobs,
            shard,
            out,
            quiet,
            shrink_runs,
            known,
            max_events,
        } => swarm_cmd::run(swarm_cmd::Args {
            seeds,
            jobs,
            shard,
            out,
            quiet,
            shrink_runs,
            known,
            max_events,
        }),
        Cmd::Merge { files, out, quiet } => cmd_merge(files, out, quiet),
        Cmd::Shrink {
            file,
            seed,
            out,
            max_runs,
            quiet,
        } => cmd_shrink(file, seed, out, max_runs, quiet),
        Cmd::Report {
            summary,
            out,
            format,
        } => cmd_report(summary, out, format),
        Cmd::Validate { files } => cmd_validate(files),
        Cmd::Presets { name } => cmd_presets(name),
    };
    match result {
        Ok(code) => code,
        Err(InputError(e)) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn limits(max_events: u64, max_memory: u64) -> Limits {
    Limits {
        max_events,
        max_memory,
    }
}

fn input<T, E: Into<anyhow::Error>>(r: Result<T, E>) -> Result<T, InputError> {
    r.map_err(|e| InputError(e.into()))
}

fn cmd_run(
    file: PathBuf,
    seed: Option<u64>,
    out: Option<PathBuf>,
    quiet: bool,
    trace: Option<PathBuf>,
    limits: Limits,
    report: Option<ImageFormat>,
) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&file))?;
    input(sc.check_size(limits.max_events))?;
    let seed = seed.unwrap_or(sc.seed);
    for w in &sc.warnings {
        eprintln!("warning: {}: {w}", sc.file);
    }
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join(format!("seed-{seed}"))
    });

    let (trace_file, trace_writer) = match &trace {
        Some(p) => {
            let (f, w) = input(
                AtomicFile::create(p).with_context(|| format!("cannot create {}", p.display())),
            )?;
            (Some(f), Some(Box::new(w) as Box<dyn std::io::Write>))
        }
        None => (None, None),
    };

    // Seed banner first, so even a crash leaves the seed on screen.
    let show_progress = !quiet && std::io::stderr().is_terminal();
    if !quiet {
        eprintln!("running {} with seed {seed}", sc.file);
    }
    let total_ns = sc.duration.0;
    let bar = show_progress.then(|| {
        let b = ProgressBar::new(total_ns / 1_000_000);
        b.set_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} sim-ms  {msg}  eta {eta}")
                .expect("valid template"),
        );
        b
    });
    let started = std::time::Instant::now();
    let mut tick = |t: regionsim::time::SimTime, events: u64| {
        if let Some(b) = &bar {
            b.set_position((t.0.min(total_ns)) / 1_000_000);
            let secs = started.elapsed().as_secs_f64().max(1e-9);
            b.set_message(format!("{:.1}M events/s", events as f64 / secs / 1e6));
        }
    };
    let result = run(
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
    let files = match report {
        Some(format) => Some(input(write_report(&summary, &dir, format))?),
        None => None,
    };

    if !quiet {
        print!("{}", text::render(&summary));
        println!("\nwrote {}", path.display());
        if let Some(f) = &files {
            print_report_files(f);
        }
        if let Some(t) = &trace {
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

#[allow(clippy::too_many_arguments)]
fn cmd_compare(
    file: PathBuf,
    vary: Vec<String>,
    seeds: Option<String>,
    jobs: usize,
    out: Option<PathBuf>,
    quiet: bool,
    strict: bool,
    format: ImageFormat,
    limits: Limits,
) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&file))?;
    let text = sc.source.clone();
    let vary: Vec<Vary> = input(
        vary.iter()
            .map(|v| v.parse())
            .collect::<Result<_, CompareError>>(),
    )?;
    let seeds = match seeds {
        Some(s) => input(parse_seeds(&s))?,
        None => vec![sc.seed],
    };
    let total = variants(&vary).len() as u64 * seeds.len() as u64;
    let dir = out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join("compare")
    });
    if !quiet {
        eprintln!(
            "comparing {} variants x {} seeds of {}",
            total / seeds.len() as u64,
            seeds.len(),
            sc.file
        );
    }
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(total);
        b.set_style(
            ProgressStyle::with_template("{bar:40.cyan/blue} {pos}/{len} runs  eta {eta}")
                .expect("valid template"),
        );
        b
    });
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    let result = compare(&text, &sc.file, &vary, &seeds, jobs, limits, &tick);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let c = input(result)?;
    let files = input(write_compare(&c, &dir, format))?;
    if !quiet {
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
    if strict && failing > 0 {
        println!("FAIL: {failing} of {total} runs failed a check or expectation");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

fn cmd_check(paths: Vec<PathBuf>, bless: bool, jobs: usize) -> Result<ExitCode, InputError> {
    let paths = if paths.is_empty() {
        vec![PathBuf::from("scenarios")]
    } else {
        paths
    };
    let files = input(check::collect(&paths))?;
    let rows = input(check::check(&files, bless, jobs))?;
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
    let passed = rows.iter().filter(|r| r.passed()).count();
    println!("{} passed, {} failed", passed, rows.len() - passed);
    Ok(if passed == rows.len() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn write_sweep(s: &SweepSummary, dir: &std::path::Path) -> Result<PathBuf, InputError> {
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

fn sweep_verdict(s: &SweepSummary, json: &std::path::Path, quiet: bool) -> ExitCode {
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

fn cmd_sweep(
    file: PathBuf,
    seeds: String,
    jobs: usize,
    shard: Option<String>,
    out: Option<PathBuf>,
    quiet: bool,
    limits: Limits,
) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&file))?;
    input(sc.check_size(limits.max_events))?;
    let seeds = input(parse_seeds(&seeds))?;
    let shard: Option<Shard> = match shard {
        Some(s) => Some(input(s.parse())?),
        None => None,
    };
    let count = shard.map_or(seeds.len(), |s| s.select(&seeds).len()) as u64;
    let dir = out.unwrap_or_else(|| PathBuf::from("reports").join(slug(&sc.name)).join("sweep"));
    if !quiet {
        eprintln!("sweeping {} over {count} seeds", sc.file);
    }
    let bar = seeds_bar(count, quiet);
    let tick = |done: u64| {
        if let Some(b) = &bar {
            b.set_position(done);
        }
    };
    // Panics are findings about a seed: reported in the sweep, not printed as they happen.
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let s = sweep::sweep_limited(&sc, &seeds, shard, jobs, limits, &tick);
    std::panic::set_hook(hook);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let json = write_sweep(&s, &dir)?;
    Ok(sweep_verdict(&s, &json, quiet))
}

/// A progress bar over seeds, only on a terminal and never with `--quiet`.
fn seeds_bar(count: u64, quiet: bool) -> Option<ProgressBar> {
    (!quiet && std::io::stderr().is_terminal()).then(|| {
        let b = ProgressBar::new(count);
        b.set_style(
            ProgressStyle::with_template(
                "{bar:40.cyan/blue} {pos}/{len} seeds  {per_sec}  eta {eta}",
            )
            .expect("valid template"),
        );
        b
    })
}

fn cmd_shrink(
    file: PathBuf,
    seed: Option<u64>,
    out: Option<PathBuf>,
    max_runs: u32,
    quiet: bool,
) -> Result<ExitCode, InputError> {
    let sc = input(Scenario::load(&file))?;
    input(sc.check_size(DEFAULT_MAX_EVENTS))?;
    let seed = seed.unwrap_or(sc.seed);
    let path = out.unwrap_or_else(|| {
        PathBuf::from("reports")
            .join(slug(&sc.name))
            .join(format!("shrink-seed-{seed}.yaml"))
    });
    if !quiet {
        eprintln!("shrinking {} at seed {seed}", sc.file);
    }
    let bar = (!quiet && std::io::stderr().is_terminal()).then(|| {
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
    let result = shrink::shrink(&sc, seed, max_runs, &progress);
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
    if !quiet {
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

fn cmd_merge(files: Vec<PathBuf>, out: PathBuf, quiet: bool) -> Result<ExitCode, InputError> {
    if let Some(code) = swarm_cmd::merge(&files, &out, quiet)? {
        return Ok(code);
    }
    let mut parts = Vec::new();
    for f in &files {
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
    let json = write_sweep(&merged, &out)?;
    Ok(sweep_verdict(&merged, &json, quiet))
}

fn print_report_files(f: &regionsim::report::ReportFiles) {
    println!(
        "wrote {} ({} chart files) and {}",
        f.index.display(),
        f.images.len(),
        f.markdown.display()
    );
}

fn cmd_report(
    summary: PathBuf,
    out: Option<PathBuf>,
    format: ImageFormat,
) -> Result<ExitCode, InputError> {
    let text = input(
        std::fs::read_to_string(&summary)
            .with_context(|| format!("cannot read {}", summary.display())),
    )?;
    let s: RunSummary = input(serde_json::from_str(&text).with_context(|| {
        format!(
            "{} is not a summary.json written by this version of sim",
            summary.display()
        )
    }))?;
    let dir = out.unwrap_or_else(|| {
        summary
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("."))
    });
    print_report_files(&input(write_report(&s, &dir, format))?);
    Ok(ExitCode::SUCCESS)
}

fn cmd_validate(files: Vec<PathBuf>) -> Result<ExitCode, InputError> {
    let mut bad = 0;
    for f in &files {
        match Scenario::load(f).and_then(|sc| sc.check_size(DEFAULT_MAX_EVENTS).map(|_| sc)) {
            Ok(sc) => {
                println!(
                    "ok   {}: {} regions, {} faults, about {:.2e} events",
                    f.display(),
                    sc.n(),
                    sc.faults.len(),
                    sc.estimated_events()
                );
                for w in &sc.warnings {
                    println!("     warning: {w}");
                }
            }
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if bad == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

fn cmd_presets(name: Option<String>) -> Result<ExitCode, InputError> {
    match name {
        None => {
            println!("{:<12} {:<10} {:>7}  source", "preset", "cloud", "regions");
            for p in presets::PRESETS {
                let t = p.table();
                let src: String = t.source.chars().take(90).collect();
                println!(
                    "{:<12} {:<10} {:>7}  {src}...",
                    p.name,
                    p.cloud,
                    t.regions.len()
                );
            }
            println!("\nValues are round-trip times; scenarios use RTT/2 as one-way latency. `sim presets NAME` shows one.");
        }
        Some(n) => {
            let p = input(presets::find(&n).ok_or_else(|| {
                anyhow::anyhow!(
                    "unknown preset `{n}`; available: {}",
                    presets::names().join(", ")
                )
            }))?;
            let t = p.table();
            println!(
                "{} ({}, {} regions; presets/latency/{})",
                p.name,
                p.cloud,
                t.regions.len(),
                p.file
            );
            println!("source: {}\n", t.source);
            println!("one-way latency in ms (RTT/2), row = from, column = to:");
            let w = t.regions.iter().map(|r| r.len()).max().unwrap_or(4);
            print!("{:<w$}", "");
            for (j, _) in t.regions.iter().enumerate() {
                print!(" {:>6}", j);
            }
            println!();
            for (i, r) in t.regions.iter().enumerate() {
                print!("{r:<w$}");
                for j in 0..t.regions.len() {
                    match t.rtt_ms[i][j] {
                        Some(v) if i != j => print!(" {:>6.1}", v / 2.0),
                        _ => print!(" {:>6}", "."),
                    }
                }
                println!("  [{i}]");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The process's peak resident set size (`VmHWM`), where the platform reports it.
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}
