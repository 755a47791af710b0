//! The validated model the engine runs: names resolved to ids, units to integers, no spec
//! types left to re-check. A `Scenario` that exists is runnable.

use super::*;

#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub offset_ns: i64,
    /// Drift in parts per billion (integer, so clock arithmetic stays exact).
    pub drift_ppb: i64,
    /// Bound of the noise on each wall-clock reading (0: none).
    pub noise_ns: u64,
    pub sync: Option<crate::time::ClockSync>,
    pub location: Option<(f64, f64)>,
}

/// The default stall threshold: ten times the normal lag of the slowest link (its nominal
/// one-way latency plus jitter, plus the time a batch may wait to fill), and at least 1 s.
/// Ten times leaves room for what normal operation adds on top of one hop (relays in a ring or
/// line, a retransmission after a lost message) while a partition or crash still shows; a fixed
/// 1 s made every write on a link with a second of latency a stall.
pub fn default_stall_after(
    latency: &[Option<LinkLatency>],
    jitter: Span,
    batch_delay: Span,
) -> Span {
    let slowest = latency
        .iter()
        .flatten()
        .map(|l| l.spec.nominal())
        .max()
        .unwrap_or(Span::ZERO);
    let normal = slowest
        .0
        .saturating_add(jitter.0)
        .saturating_add(batch_delay.0);
    Span(normal.saturating_mul(10).max(Span::from_secs(1).0))
}

/// A directed link's latency: its distribution spec (kept for reports) and sampler.
#[derive(Debug, Clone)]
pub struct LinkLatency {
    pub spec: DistSpec,
    pub sampler: Sampler,
    /// Where the figure came from: `links`, `preset`, or `default`.
    pub origin: &'static str,
}

#[derive(Debug, Clone)]
pub struct NetworkModel {
    /// `latency[from * n + to]`; the diagonal is unused.
    pub latency: Vec<Option<LinkLatency>>,
    pub jitter: Sampler,
    pub jitter_spec: Option<DistSpec>,
    pub loss: f64,
    pub duplicate: f64,
    pub fifo: bool,
    /// Bits per second per directed link (`from * n + to`); 0 means uncapped.
    pub bandwidth_bps: Vec<u64>,
    /// Per message class (`MsgClass as usize`), if overridden: the latency per directed link
    /// (None: the link's own) and a delay added on top.
    pub classes: [Option<ClassLatency>; 7],
}

#[derive(Debug, Clone)]
pub struct ClassLatency {
    pub links: Vec<Option<Sampler>>,
    pub add: Option<Sampler>,
}

/// Per region: the write-apply and read-serve service time samplers (None: instant).
#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub write: Vec<Option<Sampler>>,
    pub read: Vec<Option<Sampler>>,
}

/// The validated fault actions, one kind per file in `src/faults/`.
pub use crate::faults::{FaultAction, FaultClass};

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Position in the file's `faults` list, so reports can point back at it.
    pub index: usize,
    pub at: SimTime,
    pub until: Option<SimTime>,
    pub action: FaultAction,
    /// What it is, for reports: the action's class, or a finer one its maker knows (a weather
    /// cut is a degrade of loss 1).
    pub class: FaultClass,
    /// A one-line human description ("partition [us-east, eu-west] | [ap-south] for 45s").
    pub label: String,
    /// The same without the `for` ("partition [us-east, eu-west] | [ap-south]").
    pub what: String,
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub keys: u64,
    pub key_distribution: KeyDistribution,
    /// Client operations per simulated second, per region.
    pub rates: Vec<f64>,
    pub write_fraction: f64,
    pub value_bytes: u32,
    /// Operation classes with non-zero weight, in a fixed order: (is_write, level, weight).
    pub classes: Vec<(bool, Level, f64)>,
    pub reroute_after: Option<Span>,
    pub retry: Option<Retry>,
    /// Nominal one-way latency `from * n + to` (rerouted clients pay it each way).
    pub nominal: Vec<u64>,
    /// Named tables in key order (empty: one key space of puts and gets from `classes`).
    pub tables: Vec<TableLoad>,
    /// Client sessions per region (0: not tracked).
    pub sessions: u32,
}

/// The transport every replica is configured with, and the names reports give the design.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplicationModel {
    /// `replication.mode` as written in YAML (`multi-master`, `quorum`, ...).
    pub mode: String,
    /// The topology as reports describe it (`ring (bidirectional)`, `hub (us-east)`, with
    /// `, shortest-latency routing` when so routed).
    pub topology: String,
    /// How long a change-log entry is kept for a peer that has not acknowledged it.
    pub log_retention: Option<Span>,
    /// Change-log batches in flight per link.
    pub window: u32,
    /// Entries per batch at most.
    pub max_batch: u32,
    /// Retransmission timeout: first value, floor and ceiling.
    pub rto_initial: Span,
    pub rto_min: Span,
    pub rto_max: Span,
}

#[derive(Debug, Clone)]
pub struct Scenario {
    pub file: String,
    pub name: String,
    pub description: Option<String>,
    pub seed: u64,
    pub duration: Span,
    pub quiesce_limit: Span,
    pub regions: Vec<Region>,
    pub network: NetworkModel,
    /// How replicas ship their logs, and how reports name the design.
    pub replication: ReplicationModel,
    /// Zero: fsync before every acknowledgement; otherwise group commit at this interval.
    pub flush_interval: Span,
    pub backup: Option<Backup>,
    /// The replication plan every replica is configured with.
    pub plan: Arc<Plan>,
    /// US dollars per GB per directed link (`from * n + to`), if a `cost` block was given.
    pub cost_per_gb: Option<Vec<f64>>,
    /// Replica service times, if any are configured.
    pub service: Option<ServiceModel>,
    pub workload: Workload,
    pub faults: Vec<Fault>,
    pub expect: Expect,
    /// Validated weather (realised per seed by `weather::realize`).
    pub weather: Option<Weather>,
    /// The message-sequence window: [from, to) and an optional key filter.
    pub sequence_window: (SimTime, SimTime, Option<u64>),
    /// How long a write may be pending at a region before the region counts as stalled.
    pub stall_after: Span,
    /// Non-fatal findings (e.g. a latency faster than light), shown before the run.
    pub warnings: Vec<String>,
    /// The file's text as written, echoed into reports.
    pub source: String,
}

impl Scenario {
    pub fn n(&self) -> usize {
        self.regions.len()
    }

    pub fn region_name(&self, r: RegionId) -> &str {
        &self.regions[r.idx()].name
    }

    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
            file: file.clone(),
            source,
        })?;
        Scenario::parse(&text, &file)
    }

    /// The scenario's file as parsed again into its YAML types (quantile files inlined into
    /// their paths' specs), for tools that write a modified copy (`sim shrink`). The model
    /// itself keeps no spec types.
    pub fn spec(&self) -> Result<ScenarioSpec, ScenarioError> {
        let mut spec: ScenarioSpec =
            serde_yaml::from_str(&self.source).map_err(|e| yaml_error(&self.file, e))?;
        resolve_dist_files(&mut spec, &self.file)?;
        Ok(spec)
    }

    pub fn parse(text: &str, file: &str) -> Result<Scenario, ScenarioError> {
        check_nesting(text, file)?;
        let mut spec: ScenarioSpec = serde_yaml::from_str(text).map_err(|e| yaml_error(file, e))?;
        resolve_dist_files(&mut spec, file)?;
        let mut sc = validate(spec, file)?;
        sc.source = text.to_string();
        Ok(sc)
    }

    /// A rough count of the events a run will simulate (client ops and message deliveries),
    /// used to refuse runs that would take hours or exhaust memory.
    pub fn estimated_events(&self) -> f64 {
        let secs = self.duration.as_secs_f64();
        let ops: f64 = self.workload.rates.iter().sum::<f64>() * secs;
        let peers = self.n().saturating_sub(1) as f64;
        ops * (1.0 + self.workload.write_fraction * peers * 2.0)
    }

    /// Refuses scenarios too large to simulate on this machine.
    pub fn check_size(&self, max_events: u64) -> Result<(), ScenarioError> {
        let est = self.estimated_events();
        if est > max_events as f64 {
            return Err(ScenarioError::TooLarge {
                file: self.file.clone(),
                message: format!(
                    "about {:.3e} events to simulate (client ops plus message deliveries), above the limit of {:.3e}; \
                     shorten `duration`, lower the rates, or raise the limit with --max-events",
                    est, max_events as f64
                ),
            });
        }
        Ok(())
    }
}

/// The `weather:` block validated: its window resolved against `duration`, each kind's rate
/// and ranges checked. The per-kind settings are plain values (rates and ranges) that the file
/// format and the model share.
#[derive(Debug, Clone, PartialEq)]
pub struct Weather {
    /// No weather before this time.
    pub start: SimTime,
    /// No new weather from this time on.
    pub end: SimTime,
    pub partitions: Option<PartitionWeather>,
    pub crashes: Option<CrashWeather>,
    pub degrades: Option<DegradeWeather>,
    pub clock_steps: Option<ClockStepWeather>,
}

/// The `expect:` block validated: bounds on the run's numbers (plain [`Bound`] values) and
/// the trace digest, checked to be 16 hex digits and kept in lower case.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Expect {
    pub converged: Option<bool>,
    pub lost_acked_writes: Option<Bound<u64>>,
    pub lost_updates: Option<Bound<u64>>,
    pub skew_lost_updates: Option<Bound<u64>>,
    /// `manual` tables: keys still holding siblings at the end.
    pub unresolved_conflicts: Option<Bound<u64>>,
    pub stale_reads: Option<Bound<u64>>,
    pub failed_writes: Option<Bound<u64>>,
    pub visibility_p50: Option<Bound<Span>>,
    pub visibility_p90: Option<Bound<Span>>,
    pub visibility_p99: Option<Bound<Span>>,
    pub visibility_max: Option<Bound<Span>>,
    /// Bound on the slowest convergence after a heal.
    pub after_heal: Option<Bound<Span>>,
    /// Acknowledged writes lost to failures in total (RPO).
    pub rpo_writes: Option<Bound<u64>>,
    /// The longest RPO window of any failure.
    pub rpo_window: Option<Bound<Span>>,
    /// The longest RTO of any failure.
    pub rto: Option<Bound<Span>>,
    /// Writes accepted by a deposed primary.
    pub split_brain_writes: Option<Bound<u64>>,
    /// The exact trace digest (16 lower-case hex digits) this scenario and seed must reproduce.
    pub trace_digest: Option<String>,
}
