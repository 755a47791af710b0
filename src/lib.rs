//! regionsim: a deterministic multi-region replication simulator.
//!
//! A scenario (regions, latencies, faults, workload) is validated into a [`scenario::Scenario`],
//! run by the discrete-event [`engine`] driving sans-IO [`replica`] state machines, observed by
//! read-only [`metrics`], and summarised into a plain [`summary::RunSummary`] that the
//! [`report`] stage renders.

// The public library API (see docs/library.md) is documented item by item: running a scenario
// (this file), the sans-IO replica interface (`replica`'s own items) and time. The other modules
// are public because the `sim` binary and the tests use them; their items are documented where
// it helps a reader, without the lint's demand on every field.
#![warn(missing_docs)]

#[allow(missing_docs)]
pub mod check;
#[allow(missing_docs)]
pub mod compare;
#[allow(missing_docs)]
pub mod dist;
#[allow(missing_docs)]
pub mod engine;
#[allow(missing_docs)]
pub mod failures;
#[allow(missing_docs)]
pub mod faults;
#[allow(missing_docs)]
pub mod metrics;
#[allow(missing_docs)]
pub mod output;
#[allow(missing_docs)]
pub mod presets;
pub mod replica;
#[allow(missing_docs)]
pub mod report;
#[allow(missing_docs)]
pub mod rng;
#[allow(missing_docs)]
pub mod scenario;
#[allow(missing_docs)]
pub mod series;
#[allow(missing_docs)]
pub mod shrink;
#[allow(missing_docs)]
pub mod summary;
#[allow(missing_docs)]
pub mod swarm;
#[allow(missing_docs)]
pub mod sweep;
pub mod time;
#[allow(missing_docs)]
pub mod topology;
#[allow(missing_docs)]
pub mod units;
#[allow(missing_docs)]
pub mod weather;

/// The `linearizable-reads` check's tracker, part of the metrics (kept at its old path).
pub use metrics::linearizable;

use engine::trace::Trace;
pub use engine::Limits;
use engine::{Engine, Progress};
use replica::replicator::{Config as ReplicaConfig, Replicator};
use scenario::Scenario;
use std::io::Write;
use summary::RunSummary;

/// Threads for parallel runs: 0 means one per core; absurd requests are capped, since each run
/// is single-threaded and more threads than runs or cores only costs memory.
pub fn clamp_jobs(jobs: usize) -> usize {
    jobs.min(256)
}

/// How to run a scenario.
#[derive(Default)]
pub struct RunOptions<'a> {
    /// Overrides the scenario's seed.
    pub seed: Option<u64>,
    /// Where to write the JSON-lines event trace, if anywhere.
    pub trace: Option<Box<dyn Write>>,
    /// Called now and then with the simulated time reached and the events processed so far.
    pub progress: Option<Progress<'a>>,
    /// Bounds that stop a runaway run with [`RunError::EventLimit`] or [`RunError::MemoryLimit`].
    pub limits: Limits,
}

/// The default memory bound: far above any shipped scenario (the largest peaks well under
/// 1 GiB), low enough to stop a runaway run before the machine swaps.
pub const DEFAULT_MAX_MEMORY: u64 = 8 << 30;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_events: scenario::DEFAULT_MAX_EVENTS,
            max_memory: DEFAULT_MAX_MEMORY,
        }
    }
}

/// Why a run stopped without a summary.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The trace file could not be written.
    #[error("writing the trace failed: {0}")]
    Trace(#[source] std::io::Error),
    /// More events than [`Limits::max_events`] were processed.
    #[error(
        "stopped at simulated time {at} after more than {limit} events (the --max-events limit): \
         something fires far more often than the estimate assumed, e.g. a very short timer or a \
         retransmission storm; raise the limit with --max-events if the run is really this large"
    )]
    EventLimit {
        /// The limit that was passed.
        limit: u64,
        /// The simulated time the run had reached.
        at: time::SimTime,
    },
    /// The process's memory passed [`Limits::max_memory`].
    #[error(
        "stopped at simulated time {at}: the process uses {} of memory, above the {} limit \
         (--max-memory); something in the run grows without bound, or raise the limit",
        units::human_bytes(*rss), units::human_bytes(*limit)
    )]
    MemoryLimit {
        /// The limit that was passed, in bytes.
        limit: u64,
        /// The process's resident memory when it was noticed, in bytes.
        rss: u64,
        /// The simulated time the run had reached.
        at: time::SimTime,
    },
}

/// A finished simulation, before it is summarised.
pub struct Simulated {
    /// The seed it ran with.
    pub seed: u64,
    /// What the engine recorded, the observer's metrics included.
    pub output: engine::RunOutput<metrics::Observer>,
    /// Host time the engine took (feeds only the summary's `wall` section).
    pub wall_ns: u64,
}

/// Runs one scenario to completion with regionsim's own replication (the engine alone; see
/// [`summarise`]).
pub fn simulate(sc: &Scenario, opts: RunOptions) -> Result<Simulated, RunError> {
    // Every strategy is the same replica driven by a different plan.
    simulate_with::<Replicator>(sc, opts, replicator_config)
}

/// The configuration of regionsim's own replica in region `id` of (realised) scenario `sc`.
fn replicator_config(sc: &Scenario, id: replica::RegionId) -> ReplicaConfig {
    let rep = &sc.replication;
    // Disk contents matter only if a region restarts from them or they are backed up.
    let durable = sc.backup.is_some()
        || sc.faults.iter().any(|f| {
            matches!(
                f.action,
                scenario::FaultAction::Crash { .. } | scenario::FaultAction::RegionLoss { .. }
            )
        });
    ReplicaConfig {
        id,
        window: rep.window,
        max_batch: rep.max_batch,
        rto_initial: rep.rto_initial,
        rto_min: rep.rto_min,
        rto_max: rep.rto_max,
        flush_interval: sc.flush_interval,
        durable,
        plan: sc.plan.clone(),
    }
}

/// Runs one scenario to completion with a replica of your own: any type implementing
/// [`replica::Replica`], built for each region by `config` (given the scenario as this seed
/// runs it, weather realised, and the region). The scenario supplies the world
/// (regions, latencies, loss, clocks, faults, workload); its `replication` section still
/// decides which checks apply and where clients send operations, so pick the mode whose
/// promises your protocol means to keep (e.g. `multi-master` for an eventually consistent one).
/// See `examples/custom_replica.rs`.
pub fn simulate_with<R: replica::Replica>(
    sc: &Scenario,
    opts: RunOptions,
    config: impl Fn(&Scenario, replica::RegionId) -> R::Config,
) -> Result<Simulated, RunError> {
    let seed = opts.seed.unwrap_or(sc.seed);
    // Weather is part of the world this seed describes: realise it before the run.
    let sc = &*realised(sc, seed);
    let names: Vec<String> = sc.regions.iter().map(|r| r.name.clone()).collect();
    let trace = match opts.trace {
        Some(w) => Trace::with_writer(&names, w),
        None => Trace::digest_only(),
    };
    // Wall time is measured around the engine, never inside it: it only feeds the `wall` section.
    let started = std::time::Instant::now();
    let obs = metrics::Observer::for_scenario(sc);
    let output = Engine::<R, _>::new(sc, seed, trace, obs, |id| config(sc, id))
        .run(opts.progress, opts.limits);
    let wall_ns = started.elapsed().as_nanos() as u64;
    match output.stopped {
        Some(engine::Stopped::Events { limit, at }) => {
            return Err(RunError::EventLimit { limit, at })
        }
        Some(engine::Stopped::Memory { limit, rss, at }) => {
            return Err(RunError::MemoryLimit { limit, rss, at })
        }
        None => {}
    }
    if let Some(e) = &output.trace_error {
        return Err(RunError::Trace(std::io::Error::new(
            e.kind(),
            e.to_string(),
        )));
    }
    Ok(Simulated {
        seed,
        output,
        wall_ns,
    })
}

/// Summarises a finished simulation: checks, expectations and every metric.
pub fn summarise(sc: &Scenario, sim: &Simulated) -> RunSummary {
    // The run's faults are indexed in the realised list (weather included, sorted by time):
    // summarising against the declared one would miss weather's failures or misname faults.
    summary::build(&realised(sc, sim.seed), sim.seed, &sim.output, sim.wall_ns)
}

/// The scenario as seed `seed` runs it: with its weather realised into `faults`.
fn realised(sc: &Scenario, seed: u64) -> std::borrow::Cow<'_, Scenario> {
    if sc.weather.is_some() {
        std::borrow::Cow::Owned(sc.with_weather(seed))
    } else {
        std::borrow::Cow::Borrowed(sc)
    }
}

/// Runs one scenario to completion and summarises it.
pub fn run(sc: &Scenario, opts: RunOptions) -> Result<RunSummary, RunError> {
    let sim = simulate(sc, opts)?;
    Ok(summarise(sc, &sim))
}

/// Runs one scenario with a replica of your own (see [`simulate_with`]) and summarises it with
/// the standard metrics and checks.
pub fn run_with<R: replica::Replica>(
    sc: &Scenario,
    opts: RunOptions,
    config: impl Fn(&Scenario, replica::RegionId) -> R::Config,
) -> Result<RunSummary, RunError> {
    let sim = simulate_with::<R>(sc, opts, config)?;
    Ok(summarise(sc, &sim))
}
