//! Scenario files: the YAML contract users write (`*Spec` types) and the validated model the
//! engine runs (`Scenario`).
//!
//! Parsing rejects unknown keys and wrong types with serde's line/column; validation then
//! resolves names to ids and rejects impossible values, naming the file and the YAML path. A
//! `Scenario` that exists is runnable: the engine never re-checks it.

use crate::dist::{DistSpec, Sampler};
use crate::presets;
use crate::replica::data::{Policy, Shape, Table, Tables};
use crate::replica::detector::DetectorSpec;
use crate::replica::plan::{AntiEntropy, Failover, Plan, Rejoin, Strategy, Sync};
use crate::replica::{Level, RegionId};
use crate::time::{SignedSpan, SimTime, Span};
use crate::topology;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The most regions a run supports (coverage is tracked in a 64-bit mask per write).
pub const MAX_REGIONS: usize = 64;
/// Most memory the dense per-key state may take.
pub const MAX_STATE_BYTES: f64 = 16.0 * (1u64 << 30) as f64;
/// Default refusal threshold for the estimated number of simulated events.
pub const DEFAULT_MAX_EVENTS: u64 = 300_000_000;

/// The shortest setting accepted for a timer that talks across the network or to a disk
/// (retransmission, heartbeats, request timeouts, retries, fsync groups...): below a millisecond
/// it is shorter than any round trip between regions, and a run quietly simulates billions of
/// timer events instead of failing fast.
pub const FLOOR_TIMER: Span = Span(1_000_000);
/// The shortest anti-entropy interval: each round exchanges digest trees with a peer, so even
/// 10ms is far more often than any real system does it.
pub const FLOOR_ANTI_ENTROPY: Span = Span(10_000_000);

// ---------------------------------------------------------------------------------------------
// The file format.

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    pub duration: Span,
    #[serde(default)]
    pub quiesce_limit: Option<Span>,
    pub regions: Vec<RegionSpec>,
    /// Clock noise and synchronisation for every region (a region's `clock` overrides).
    #[serde(default)]
    pub clocks: ClocksSpec,
    pub network: NetworkSpec,
    #[serde(default)]
    pub replication: ReplicationSpec,
    #[serde(default)]
    pub durability: DurabilitySpec,
    /// Egress pricing, for cost per million writes.
    #[serde(default)]
    pub cost: Option<CostSpec>,
    /// Replica service times (apply a write, serve a read).
    #[serde(default)]
    pub service: Option<ServiceSpec>,
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Randomised faults, realised per seed within these bounds.
    #[serde(default)]
    pub weather: Option<WeatherSpec>,
    #[serde(default)]
    pub expect: ExpectSpec,
    #[serde(default)]
    pub report: ReportSpec,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpanRange {
    pub min: Span,
    pub max: Span,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignedRange {
    pub min: SignedSpan,
    pub max: SignedSpan,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProbRange {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// One region against the rest.
    Isolate,
    /// The regions split into two random halves.
    Halves,
    /// One direction of one link cut (a -> b only).
    OneWay,
    /// One link cut both ways while both ends still reach everyone else.
    NonTransitive,
}

fn all_shapes() -> Vec<PartitionShape> {
    vec![
        PartitionShape::Isolate,
        PartitionShape::Halves,
        PartitionShape::OneWay,
        PartitionShape::NonTransitive,
    ]
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartitionWeather {
    pub per_min: f64,
    pub duration: SpanRange,
    #[serde(default = "all_shapes")]
    pub shapes: Vec<PartitionShape>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrashWeather {
    pub per_min: f64,
    pub downtime: SpanRange,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DegradeWeather {
    pub per_min: f64,
    pub duration: SpanRange,
    #[serde(default)]
    pub add_latency: Option<SpanRange>,
    #[serde(default)]
    pub loss: Option<ProbRange>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockStepWeather {
    pub per_min: f64,
    pub by: SignedRange,
}

/// The `weather:` block: fault rates and bounds; each seed realises its own schedule.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    /// No weather before this time (default 0).
    #[serde(default)]
    pub start: Option<Span>,
    /// No new weather after this time (default `duration`).
    #[serde(default)]
    pub end: Option<Span>,
    #[serde(default)]
    pub partitions: Option<PartitionWeather>,
    #[serde(default)]
    pub crashes: Option<CrashWeather>,
    #[serde(default)]
    pub degrades: Option<DegradeWeather>,
    #[serde(default)]
    pub clock_steps: Option<ClockStepWeather>,
}

/// What the report shows beyond the defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The window drawn as a message-sequence diagram.
    #[serde(default)]
    pub sequence: Option<SequenceSpec>,
    /// A write pending at a region for longer than this counts as the region stalled (default:
    /// relative to the links' normal lag, see [`default_stall_after`]).
    #[serde(default)]
    pub stall_after: Option<Span>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    pub from: Span,
    pub to: Span,
    /// Only replication messages carrying this key (acks are never keyed).
    #[serde(default)]
    pub key: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    pub name: String,
    #[serde(default)]
    pub clock: ClockSpec,
    /// Where the region is, for the speed-of-light check (preset regions are known already).
    #[serde(default)]
    pub location: Option<LocationSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    #[serde(default)]
    pub offset: SignedSpan,
    #[serde(default)]
    pub drift_ppm: f64,
    /// Bound of uniform noise on every wall-clock reading (overrides `clocks.noise`).
    #[serde(default)]
    pub noise: Option<Span>,
    /// NTP-like periodic correction (overrides `clocks.ntp`).
    #[serde(default)]
    pub ntp: Option<NtpSpec>,
}

/// Clock settings every region gets unless its own `clock` says otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksSpec {
    #[serde(default)]
    pub noise: Option<Span>,
    #[serde(default)]
    pub ntp: Option<NtpSpec>,
}

/// Who resolves `manual` conflicts, and how fast.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// How long a conflict waits in the queue before the operator resolves it.
    pub delay: Span,
}

/// ntpd-style phase correction: poll, step large errors, slew small ones.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NtpSpec {
    #[serde(default = "default_ntp_interval")]
    pub interval: Span,
    /// How far off one measurement of the clock's error may be (uniform, ±).
    #[serde(default = "default_ntp_accuracy")]
    pub accuracy: Span,
    #[serde(default = "default_ntp_step")]
    pub step_threshold: Span,
    #[serde(default = "default_ntp_slew")]
    pub max_slew_ppm: f64,
}

fn default_ntp_interval() -> Span {
    Span::from_millis(64_000)
}
fn default_ntp_accuracy() -> Span {
    Span::from_millis(1)
}
fn default_ntp_step() -> Span {
    Span::from_millis(128)
}
fn default_ntp_slew() -> f64 {
    500.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub latency: LatencySpec,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
    #[serde(default = "yes")]
    pub fifo: bool,
    /// Per-link bandwidth caps; messages queue behind each other on a capped link.
    #[serde(default)]
    pub bandwidth: Option<BandwidthSpec>,
    /// Latency overrides per message class (measured request/response profiles).
    #[serde(default)]
    pub classes: ClassesSpec,
}

/// `network.classes`: one optional override per message class.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesSpec {
    #[serde(default)]
    pub replication: Option<ClassLatencySpec>,
    #[serde(default)]
    pub write_request: Option<ClassLatencySpec>,
    #[serde(default)]
    pub write_ack: Option<ClassLatencySpec>,
    #[serde(default)]
    pub read_request: Option<ClassLatencySpec>,
    #[serde(default)]
    pub read_reply: Option<ClassLatencySpec>,
    #[serde(default)]
    pub anti_entropy: Option<ClassLatencySpec>,
    #[serde(default)]
    pub control: Option<ClassLatencySpec>,
}

impl ClassesSpec {
    /// In `MsgClass` order.
    pub fn all(&self) -> [&Option<ClassLatencySpec>; 7] {
        [
            &self.replication,
            &self.write_request,
            &self.write_ack,
            &self.read_request,
            &self.read_reply,
            &self.anti_entropy,
            &self.control,
        ]
    }
    pub fn all_mut(&mut self) -> [&mut Option<ClassLatencySpec>; 7] {
        [
            &mut self.replication,
            &mut self.write_request,
            &mut self.write_ack,
            &mut self.read_request,
            &mut self.read_reply,
            &mut self.anti_entropy,
            &mut self.control,
        ]
    }
}

/// The latency of one message class: replaces the link latency (`default`, or per link in
/// `links`) and/or adds to it (`add`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassLatencySpec {
    #[serde(default)]
    pub default: Option<DistSpec>,
    #[serde(default)]
    pub links: BTreeMap<String, DistSpec>,
    #[serde(default)]
    pub add: Option<DistSpec>,
}

/// `service`: how long a replica takes to apply a write and to serve a read (it handles one
/// input at a time, so inputs queue behind each other).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub write: Option<DistSpec>,
    #[serde(default)]
    pub read: Option<DistSpec>,
    /// Per-region overrides.
    #[serde(default)]
    pub regions: BTreeMap<String, ServiceTimes>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimes {
    #[serde(default)]
    pub write: Option<DistSpec>,
    #[serde(default)]
    pub read: Option<DistSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthSpec {
    #[serde(default)]
    pub default: Option<Rate>,
    #[serde(default)]
    pub links: BTreeMap<String, Rate>,
}

/// A data rate written as `100 Mbps`, `1 Gbps`, `10 MB/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Rate {
    pub bits_per_sec: u64,
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        let b = r.bits_per_sec;
        if b.is_multiple_of(1_000_000_000) {
            format!("{} Gbps", b / 1_000_000_000)
        } else if b.is_multiple_of(1_000_000) {
            format!("{} Mbps", b / 1_000_000)
        } else if b.is_multiple_of(1000) {
            format!("{} Kbps", b / 1000)
        } else {
            format!("{b} bps")
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (t[..split].trim(), t[split..].trim());
        let bad =
            || format!("`{text}` is not a data rate; write e.g. `100 Mbps`, `1 Gbps` or `10 MB/s`");
        let x: f64 = num.parse().map_err(|_| bad())?;
        let mult: f64 = match unit {
            "bps" => 1.0,
            "Kbps" | "kbps" => 1e3,
            "Mbps" => 1e6,
            "Gbps" => 1e9,
            "B/s" => 8.0,
            "KB/s" | "kB/s" => 8e3,
            "MB/s" => 8e6,
            "GB/s" => 8e9,
            _ => return Err(bad()),
        };
        let bits = x * mult;
        if !(bits.is_finite() && (1.0..=1e15).contains(&bits)) {
            return Err(format!("`{text}` must be between 1 bps and 1 Pbps"));
        }
        Ok(Rate {
            bits_per_sec: bits.round() as u64,
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Egress prices in US dollars per GB, per directed link.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// A price sheet from `presets/cost/` (see `sim presets`).
    #[serde(default)]
    pub preset: Option<String>,
    /// Scenario region -> the preset's region name (defaults to the latency `map`, then the name).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub default: Option<f64>,
    #[serde(default)]
    pub links: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    #[serde(default)]
    pub preset: Option<String>,
    /// Scenario region name -> preset region name.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub default: Option<DistSpec>,
    #[serde(default)]
    pub links: BTreeMap<String, DistSpec>,
    #[serde(default)]
    pub jitter: Option<DistSpec>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    #[default]
    MultiMaster,
    PrimaryBackup,
    Quorum,
    Chain,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    #[default]
    Mesh,
    Ring,
    Hub,
    #[serde(alias = "chain")]
    Line,
    Tree,
    Custom,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Routing {
    /// Along the topology's links, fewest hops first (then lowest latency).
    #[default]
    Direct,
    /// Along the topology's links, lowest total nominal latency (relaying when that is faster).
    ShortestLatency,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum SyncSpec {
    #[default]
    Async,
    SemiSync,
    Sync,
}

/// `replication.conflict`: how concurrent writes to a key are resolved (tables without a
/// policy of their own in `replication.tables` use it).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum Conflict {
    #[default]
    Lww,
    LwwHlc,
    Fww,
    Siblings,
    Manual,
    /// The CRDT that suits each table: multi-value registers, PN-counters, OR-Sets.
    Crdt,
}

impl Conflict {
    pub fn policy(self, shape: Shape) -> Policy {
        match self {
            Conflict::Lww => Policy::Lww,
            Conflict::LwwHlc => Policy::LwwHlc,
            Conflict::Fww => Policy::Fww,
            // Counters and sets cannot keep siblings usefully: they use their CRDTs, as Riak's
            // data types do beside its sibling-keeping objects.
            Conflict::Siblings if shape == Shape::Register => Policy::Siblings,
            Conflict::Manual if shape == Shape::Register => Policy::Manual,
            Conflict::Siblings | Conflict::Manual | Conflict::Crdt => Policy::crdt_for(shape),
        }
    }
}

/// `workload.tables.<name>`: a range of keys with its own operations.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableSpec {
    pub keys: u64,
    /// This table's share of each region's operations (shares are normalised).
    #[serde(default = "one")]
    pub share: f64,
    pub ops: TableOps,
    /// `add`/`remove`: elements are drawn uniformly from `0..elements`.
    #[serde(default = "default_elements")]
    pub elements: u32,
    /// Makes the table a map of this many fields: `put` and `remove` act on one field drawn
    /// uniformly from `0..fields`.
    #[serde(default)]
    pub fields: Option<u32>,
    /// `incr`/`decr`: by how much.
    #[serde(default = "one_u32")]
    pub amount: u32,
}

fn default_elements() -> u32 {
    32
}

fn one_u32() -> u32 {
    1
}

/// A table's operation mix (weights add up to 1).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TableOps {
    #[serde(default)]
    pub put: f64,
    #[serde(default)]
    pub get: f64,
    #[serde(default)]
    pub incr: f64,
    #[serde(default)]
    pub decr: f64,
    #[serde(default)]
    pub add: f64,
    #[serde(default)]
    pub remove: f64,
}

/// One operation a table's clients send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableOp {
    Put,
    Get,
    Incr,
    Decr,
    Add,
    Remove,
}

impl TableOps {
    pub fn weights(&self) -> [(&'static str, TableOp, f64); 6] {
        [
            ("put", TableOp::Put, self.put),
            ("get", TableOp::Get, self.get),
            ("incr", TableOp::Incr, self.incr),
            ("decr", TableOp::Decr, self.decr),
            ("add", TableOp::Add, self.add),
            ("remove", TableOp::Remove, self.remove),
        ]
    }
}

/// A validated table of the workload.
#[derive(Debug, Clone, PartialEq)]
pub struct TableLoad {
    pub name: String,
    pub first: u64,
    pub keys: u64,
    /// Cumulative share (upper bound) among the tables.
    pub share_upto: f64,
    /// Cumulative operation weights: (upper bound, operation).
    pub ops: Vec<(f64, TableOp)>,
    pub elements: u32,
    /// Map tables: how many fields a document has (0: not a map).
    pub fields: u32,
    pub amount: u32,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BatchSpec {
    /// Most entries in one replication message.
    #[serde(default = "default_max_batch")]
    pub max_entries: u32,
    /// How long a partial batch may wait to fill before it is sent.
    #[serde(default)]
    pub max_delay: Span,
}

impl Default for BatchSpec {
    fn default() -> Self {
        BatchSpec {
            max_entries: default_max_batch(),
            max_delay: Span::ZERO,
        }
    }
}

/// Compressed size / raw size of replicated payload: one ratio, or per link.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(untagged)]
pub enum CompressionSpec {
    Ratio(f64),
    PerLink {
        #[serde(default = "one")]
        default: f64,
        #[serde(default)]
        links: BTreeMap<String, f64>,
    },
}

fn one() -> f64 {
    1.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicationSpec {
    #[serde(default)]
    pub mode: Mode,
    #[serde(default)]
    pub topology: Topology,
    /// `ring`: links both ways round the ring.
    #[serde(default)]
    pub bidirectional: bool,
    /// `hub`: the region every other region links to.
    #[serde(default)]
    pub hub: Option<String>,
    /// `tree`: children per node (regions in list order, breadth first).
    #[serde(default)]
    pub fanout: Option<u32>,
    /// `custom`: the replication links (`a -> b` or `a <-> b`).
    #[serde(default)]
    pub links: Vec<String>,
    #[serde(default)]
    pub routing: Routing,
    #[serde(default)]
    pub conflict: Conflict,
    /// Per workload table, its own conflict policy (`lww`, `lww-hlc`, `fww`, `siblings`,
    /// `manual`, `crdt`, `pn-counter`, `g-counter`, `or-set`, `g-set`, `2p-set`).
    #[serde(default)]
    pub tables: BTreeMap<String, String>,
    /// `manual` tables: the operator who works through parked conflicts (none: conflicts wait
    /// until a client's write resolves them).
    #[serde(default)]
    pub operator: Option<OperatorSpec>,
    /// primary-backup: the primary (default: the first region).
    #[serde(default)]
    pub primary: Option<String>,
    /// primary-backup: forward writes issued elsewhere to the primary (else reject them).
    #[serde(default = "yes")]
    pub forward: bool,
    /// primary-backup: when a write is acknowledged.
    #[serde(default)]
    pub sync: SyncSpec,
    /// primary-backup with `sync: sync`: how many backups must hold a write (default: all).
    #[serde(default)]
    pub sync_backups: Option<u32>,
    /// chain: head to tail (default: the region list).
    #[serde(default)]
    pub chain: Option<Vec<String>>,
    /// quorum: replicas per key (default: every region).
    #[serde(default)]
    pub n: Option<u32>,
    /// quorum: write acknowledgements needed (default: majority of n).
    #[serde(default)]
    pub w: Option<u32>,
    /// quorum: read replies needed (default: majority of n).
    #[serde(default)]
    pub r: Option<u32>,
    /// quorum: the regions holding replicas (default: consistent hashing when n < regions).
    #[serde(default)]
    pub replicas: Option<Vec<String>>,
    #[serde(default)]
    pub read_repair: bool,
    /// quorum: keep retrying writes to replicas that did not answer (else give up at the timeout).
    #[serde(default = "yes")]
    pub hinted_handoff: bool,
    /// A forwarded write, remote read or acknowledged write not answered within this fails.
    #[serde(default = "default_request_timeout")]
    pub request_timeout: Span,
    /// Most unacknowledged log entries in flight per link.
    #[serde(default = "default_window")]
    pub window: u32,
    #[serde(default)]
    pub batch: BatchSpec,
    #[serde(default)]
    pub compression: Option<CompressionSpec>,
    #[serde(default)]
    pub retransmit: RetransmitSpec,
    /// Change-log entries a peer has not acknowledged within this are dropped (a bounded hint
    /// window or binlog retention); the peer then depends on anti-entropy or read repair.
    #[serde(default)]
    pub log_retention: Option<Span>,
    #[serde(default)]
    pub anti_entropy: Option<AntiEntropySpec>,
    /// primary-backup: automatic (or `manual`) failover.
    #[serde(default, deserialize_with = "failover_spec")]
    pub failover: Option<FailoverSpec>,
}

/// `replication.failover: auto | manual` is short for `{ mode: auto | manual }`.
fn failover_spec<'de, D: Deserializer<'de>>(d: D) -> Result<Option<FailoverSpec>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Option<FailoverSpec>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("`auto`, `manual`, or a map of failover settings")
        }
        fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<Self::Value, E> {
            let mode = match s {
                "auto" => FailoverMode::Auto,
                "manual" => FailoverMode::Manual,
                _ => {
                    return Err(E::invalid_value(
                        serde::de::Unexpected::Str(s),
                        &"`auto` or `manual`",
                    ))
                }
            };
            let mut spec: FailoverSpec =
                serde_yaml::from_str("{}").expect("every field has a default");
            spec.mode = mode;
            Ok(Some(spec))
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
            FailoverSpec::deserialize(serde::de::value::MapAccessDeserializer::new(m)).map(Some)
        }
    }
    d.deserialize_any(V)
}

/// `replication.failover.mode`.
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FailoverMode {
    /// Regions elect a new primary when they suspect the old one.
    #[default]
    Auto,
    /// Only an operator's `promote` fault elects one.
    Manual,
}

/// `replication.failover`: detection, election and fencing for primary-backup.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct FailoverSpec {
    #[serde(default)]
    pub mode: FailoverMode,
    #[serde(default)]
    pub detector: DetectorConfig,
    /// Default: 80% of the detector's earliest suspicion.
    #[serde(default)]
    pub lease: Option<Span>,
    #[serde(default)]
    pub fencing: FencingSpec,
    #[serde(default)]
    pub rejoin: RejoinSpec,
    /// Candidate preference (default: the region list).
    #[serde(default)]
    pub priority: Option<Vec<String>>,
    #[serde(default = "default_stagger")]
    pub stagger: Span,
}

fn default_stagger() -> Span {
    Span::from_millis(200)
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum FencingSpec {
    #[default]
    Lease,
    None,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum RejoinSpec {
    #[default]
    Discard,
    Reconcile,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorKind {
    #[default]
    Heartbeat,
    Phi,
}

/// `replication.failover.detector`.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DetectorConfig {
    #[serde(default)]
    pub kind: DetectorKind,
    #[serde(default = "default_hb_interval")]
    pub interval: Span,
    /// heartbeat: silence before suspicion.
    #[serde(default)]
    pub timeout: Option<Span>,
    /// phi: suspicion threshold (default 8).
    #[serde(default)]
    pub threshold: Option<f64>,
    /// phi: inter-arrival samples kept (default 100).
    #[serde(default)]
    pub window: Option<u32>,
    /// phi: floor of the deviation (default 20ms).
    #[serde(default)]
    pub min_std_dev: Option<Span>,
    /// phi: expected pause added to the mean (default 0).
    #[serde(default)]
    pub pause: Option<Span>,
}

fn default_hb_interval() -> Span {
    Span::from_millis(100)
}

impl Default for DetectorConfig {
    fn default() -> Self {
        serde_yaml::from_str("{}").expect("every field has a default")
    }
}

/// `replication.anti_entropy`: periodic Merkle-tree comparison between replicas.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AntiEntropySpec {
    /// How often each region starts a round.
    pub interval: Span,
    /// Peers per round (default 1).
    #[serde(default = "one_peer")]
    pub fanout: u32,
    /// Key ranges at the bottom of the tree; a power of `branching` (default 256).
    #[serde(default = "default_ae_leaves")]
    pub leaves: u32,
    /// Children per tree node (default 16).
    #[serde(default = "default_ae_branching")]
    pub branching: u32,
}

fn one_peer() -> u32 {
    1
}
fn default_ae_leaves() -> u32 {
    256
}
fn default_ae_branching() -> u32 {
    16
}

fn default_request_timeout() -> Span {
    Span::from_secs(2)
}
fn default_window() -> u32 {
    4096
}
fn default_max_batch() -> u32 {
    512
}

impl Default for ReplicationSpec {
    fn default() -> Self {
        serde_yaml::from_str("{}").expect("every field has a default")
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RetransmitSpec {
    /// Timeout before the first round-trip sample.
    #[serde(default = "default_rto_initial")]
    pub initial: Span,
    #[serde(default = "default_rto_min")]
    pub min: Span,
    /// Ceiling of the exponential backoff.
    #[serde(default = "default_rto_max")]
    pub max: Span,
}

fn default_rto_initial() -> Span {
    Span::from_secs(1)
}
fn default_rto_min() -> Span {
    Span::from_millis(200)
}
fn default_rto_max() -> Span {
    Span::from_secs(5)
}

impl Default for RetransmitSpec {
    fn default() -> Self {
        RetransmitSpec {
            initial: default_rto_initial(),
            min: default_rto_min(),
            max: default_rto_max(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DurabilitySpec {
    /// 0 (default): every write is fsynced before it is acknowledged. Otherwise writes are
    /// acknowledged at once and fsynced in groups every `flush_interval`.
    #[serde(default)]
    pub flush_interval: Span,
    /// Periodic disk snapshots shipped to an object store, restored after a `region_loss`.
    #[serde(default)]
    pub backup: Option<BackupSpec>,
}

/// `durability.backup`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupSpec {
    /// How often every region snapshots its disk.
    pub every: Span,
    /// The region whose object store holds the snapshots (cross-region: pick another one
    /// than the regions you expect to lose).
    pub store: String,
    /// Upload and download rate between a region and the store.
    pub bandwidth: Rate,
}

/// A validated backup policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backup {
    pub every: Span,
    pub store: RegionId,
    pub bits_per_sec: u64,
}

impl Backup {
    /// Time to move `bytes` between region `r` and the store: the nominal one-way latency
    /// plus the bytes at the configured rate.
    pub fn transfer(&self, bytes: u64, latency_ns: u64) -> Span {
        let ns = (bytes as u128 * 8 * 1_000_000_000 / self.bits_per_sec as u128) as u64;
        Span(latency_ns.saturating_add(ns))
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The key space (with `tables`: their keys added up, and it may be left out).
    #[serde(default)]
    pub keys: u64,
    /// Named tables of keys with their own operations (counters, sets, registers).
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// Client sessions per region, checked for session guarantees (0: not tracked). A
    /// region's operations take its sessions in turn.
    #[serde(default)]
    pub sessions: u32,
    #[serde(default)]
    pub key_distribution: KeyDistribution,
    pub rate_per_region: f64,
    #[serde(default)]
    pub rates: BTreeMap<String, f64>,
    #[serde(default)]
    pub mix: MixSpec,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: u32,
    /// Clients of a region that has been down this long (health check plus DNS TTL) send
    /// their operations to the nearest region that is up; absent, they wait for their region.
    /// A region that is up but cannot serve writes (it knows no reachable primary) counts as
    /// down to the health check.
    #[serde(default)]
    pub reroute_after: Option<Span>,
    /// Clients retry failed operations with exponential backoff.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
}

/// `workload.retry`: how a client retries an operation that failed or timed out.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Tries in all, the first included (an SDK's `max_attempts`).
    pub attempts: u32,
    /// The wait before the first retry; it doubles on every further one.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    /// The longest wait (default: 20 x `backoff`).
    #[serde(default)]
    pub max_backoff: Option<Span>,
    /// Full jitter (default): each wait is drawn uniformly between 0 and its backoff, so
    /// clients that failed together do not retry together. `false`: exactly the backoff.
    #[serde(default = "yes")]
    pub jitter: bool,
}

fn default_backoff() -> Span {
    Span::from_millis(100)
}

fn yes() -> bool {
    true
}

/// A validated retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Span,
    pub max_backoff: Span,
    pub jitter: bool,
}

impl Retry {
    /// The backoff before retry number `k` (1 for the first retry), before jitter.
    pub fn backoff(&self, k: u32) -> Span {
        let b = self
            .backoff
            .0
            .saturating_mul(1u64 << (k.saturating_sub(1)).min(40));
        Span(b.min(self.max_backoff.0))
    }
}

fn default_value_bytes() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MixSpec {
    /// Writes at the mode's default consistency level.
    #[serde(default)]
    pub write: f64,
    /// Reads at the mode's default consistency level.
    #[serde(default)]
    pub read: f64,
    #[serde(default)]
    pub write_local: f64,
    #[serde(default)]
    pub write_quorum: f64,
    #[serde(default)]
    pub write_all: f64,
    #[serde(default)]
    pub read_local: f64,
    #[serde(default)]
    pub read_quorum: f64,
    #[serde(default)]
    pub read_primary: f64,
    #[serde(default)]
    pub read_all: f64,
}

impl MixSpec {
    /// Every operation class with its YAML name: (name, is_write, level, weight).
    pub fn classes(&self) -> [(&'static str, bool, Level, f64); 9] {
        [
            ("write", true, Level::Default, self.write),
            ("write_local", true, Level::Local, self.write_local),
            ("write_quorum", true, Level::Quorum, self.write_quorum),
            ("write_all", true, Level::All, self.write_all),
            ("read", false, Level::Default, self.read),
            ("read_local", false, Level::Local, self.read_local),
            ("read_quorum", false, Level::Quorum, self.read_quorum),
            ("read_primary", false, Level::Primary, self.read_primary),
            ("read_all", false, Level::All, self.read_all),
        ]
    }
}

impl Default for MixSpec {
    fn default() -> Self {
        MixSpec {
            write: 1.0,
            read: 0.0,
            write_local: 0.0,
            write_quorum: 0.0,
            write_all: 0.0,
            read_local: 0.0,
            read_quorum: 0.0,
            read_primary: 0.0,
            read_all: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum KeyDistribution {
    #[default]
    Uniform,
    Zipf(f64),
}

/// Written back the way it is read: `uniform` or `{ zipf: 1.1 }`.
impl Serialize for KeyDistribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            KeyDistribution::Uniform => s.serialize_str("uniform"),
            KeyDistribution::Zipf(x) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("zipf", x)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for KeyDistribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyDistribution;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`uniform` or `{ zipf: <exponent> }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyDistribution, E> {
                match v {
                    "uniform" => Ok(KeyDistribution::Uniform),
                    _ => Err(E::custom(format!(
                        "unknown key distribution `{v}`, expected `uniform` or `{{ zipf: <exponent> }}`"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<KeyDistribution, A::Error> {
                let k: String = m
                    .next_key()?
                    .ok_or_else(|| serde::de::Error::custom("empty key distribution"))?;
                if k != "zipf" {
                    return Err(serde::de::Error::custom(format!(
                        "unknown key distribution `{k}`, expected `uniform` or `{{ zipf: <exponent> }}`"
                    )));
                }
                let s: f64 = m.next_value()?;
                if m.next_key::<String>()?.is_some() {
                    return Err(serde::de::Error::custom(
                        "`zipf` takes exactly one exponent",
                    ));
                }
                Ok(KeyDistribution::Zipf(s))
            }
        }
        d.deserialize_any(V)
    }
}

/// One entry of the fault timeline: `at`, exactly one action, and an optional `for`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub at: Span,
    #[serde(default, rename = "for")]
    pub for_: Option<Span>,
    #[serde(default)]
    pub partition: Option<Vec<Vec<String>>>,
    #[serde(default)]
    pub heal: Option<HealSpec>,
    #[serde(default)]
    pub crash: Option<String>,
    #[serde(default)]
    pub recover: Option<String>,
    #[serde(default)]
    pub clock_step: Option<ClockStepSpec>,
    #[serde(default)]
    pub degrade: Option<DegradeSpec>,
    /// Operator: make this region the primary (a planned handover when the primary is in
    /// reach, else a forced promotion). Needs `replication.failover`.
    #[serde(default)]
    pub promote: Option<String>,
    /// The region loses its disk as well as its process (a fire, a deleted volume). With
    /// `for`, new machines take over after that long; it restores from the newest backup
    /// (`durability.backup`), if any, then from its peers.
    #[serde(default)]
    pub region_loss: Option<String>,
    /// Operator: move the primary around these regions, one promote every `every`, starting
    /// with the first region at `at`.
    #[serde(default)]
    pub follow_the_sun: Option<FollowTheSunSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowTheSunSpec {
    pub regions: Vec<String>,
    pub every: Span,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HealSpec {
    /// Partitions and degraded links.
    All,
    Partitions,
    Links,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStepSpec {
    pub region: String,
    pub by: SignedSpan,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeSpec {
    pub link: String,
    /// Replaces the link's one-way latency while degraded.
    #[serde(default)]
    pub latency: Option<DistSpec>,
    /// Added to every message's latency while degraded.
    #[serde(default)]
    pub add_latency: Option<Span>,
    /// Replaces the loss probability while degraded.
    #[serde(default)]
    pub loss: Option<f64>,
}

/// Bounds on a metric: `{ min, max }`, or a bare value meaning `max`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bound<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full<T> {
            #[serde(default = "none")]
            min: Option<T>,
            #[serde(default = "none")]
            max: Option<T>,
        }
        fn none<T>() -> Option<T> {
            None
        }
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Bound<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bound: a value (the maximum) or `{ min: .., max: .. }`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Bound<T>, A::Error> {
                let full: Full<T> =
                    Full::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(Bound {
                    min: full.min,
                    max: full.max,
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::StrDeserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::U64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::I64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::F64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    #[serde(default)]
    pub converged: Option<bool>,
    #[serde(default)]
    pub lost_acked_writes: Option<Bound<u64>>,
    #[serde(default)]
    pub lost_updates: Option<Bound<u64>>,
    #[serde(default)]
    pub skew_lost_updates: Option<Bound<u64>>,
    /// `manual` tables: keys still holding siblings at the end.
    #[serde(default)]
    pub unresolved_conflicts: Option<Bound<u64>>,
    #[serde(default)]
    pub stale_reads: Option<Bound<u64>>,
    #[serde(default)]
    pub failed_writes: Option<Bound<u64>>,
    #[serde(default)]
    pub visibility_p50: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_p90: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_p99: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_max: Option<Bound<Span>>,
    /// Bound on the slowest convergence after a heal.
    #[serde(default)]
    pub after_heal: Option<Bound<Span>>,
    /// Acknowledged writes lost to failures in total (RPO); bounding it (or
    /// `lost_acked_writes`) lets the `no-lost-acked-writes` check tolerate that many.
    #[serde(default)]
    pub rpo_writes: Option<Bound<u64>>,
    /// The longest RPO window of any failure.
    #[serde(default)]
    pub rpo_window: Option<Bound<Span>>,
    /// The longest RTO of any failure ("never" fails a maximum).
    #[serde(default)]
    pub rto: Option<Bound<Span>>,
    /// Writes accepted by a deposed primary; bounding it lets `single-primary` tolerate them.
    #[serde(default)]
    pub split_brain_writes: Option<Bound<u64>>,
    /// The exact trace digest (hex) this scenario and seed must reproduce.
    #[serde(default)]
    pub trace_digest: Option<String>,
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// Why a scenario could not be loaded; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("{file}: cannot read: {source}")]
    Io {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}:{column}: {message}")]
    Syntax {
        file: String,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{file}: {message}")]
    Shape { file: String, message: String },
    #[error("{file}: {path}: {message}")]
    Invalid {
        file: String,
        path: String,
        message: String,
    },
    #[error("{file}: refusing to run: {message}")]
    TooLarge { file: String, message: String },
}

// ---------------------------------------------------------------------------------------------
// The validated model.

#[derive(Debug, Clone)]
pub struct Region {
    pub name: String,
    pub offset_ns: i64,
    /// Drift in parts per billion (integer, so clock arithmetic stays exact).
    pub drift_ppb: i64,
    /// Bound of the noise on each wall-clock reading (0: none).
    pub noise_ns: u64,
    pub sync: Option<crate::engine::clock::ClockSync>,
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

#[derive(Debug, Clone, PartialEq)]
pub enum FaultAction {
    /// Group number per region; regions in different groups cannot talk.
    Partition {
        groups: Vec<u32>,
    },
    Heal(HealSpec),
    Crash {
        region: RegionId,
    },
    Recover {
        region: RegionId,
    },
    ClockStep {
        region: RegionId,
        by_ns: i64,
    },
    Degrade {
        links: Vec<(RegionId, RegionId)>,
        latency: Option<DistSpec>,
        add_latency: Option<Span>,
        loss: Option<f64>,
    },
    /// An operator orders `region` to become the primary.
    Promote {
        region: RegionId,
    },
    /// `region` crashes and loses its disk.
    RegionLoss {
        region: RegionId,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Position in the file's `faults` list, so reports can point back at it.
    pub index: usize,
    pub at: SimTime,
    pub until: Option<SimTime>,
    pub action: FaultAction,
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
    pub replication: ReplicationSpec,
    pub durability: DurabilitySpec,
    pub backup: Option<Backup>,
    /// The replication plan every replica is configured with.
    pub plan: Arc<Plan>,
    /// US dollars per GB per directed link (`from * n + to`), if a `cost` block was given.
    pub cost_per_gb: Option<Vec<f64>>,
    /// Replica service times, if any are configured.
    pub service: Option<ServiceModel>,
    pub workload: Workload,
    pub faults: Vec<Fault>,
    pub expect: ExpectSpec,
    /// Validated weather (realised per seed by `weather::realize`).
    pub weather: Option<WeatherSpec>,
    /// The message-sequence window: [from, to) and an optional key filter.
    pub sequence_window: (SimTime, SimTime, Option<u64>),
    /// How long a write may be pending at a region before the region counts as stalled.
    pub stall_after: Span,
    /// Non-fatal findings (e.g. a latency faster than light), shown before the run.
    pub warnings: Vec<String>,
    /// The spec as parsed.
    pub spec: ScenarioSpec,
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

/// The deepest nesting of collections a scenario may have. The deepest real one is under ten
/// levels; the YAML parser takes time quadratic in depth before serde's own recursion limit
/// can refuse it (100,000 levels took 43 s), so absurd nesting is refused before parsing.
pub const MAX_NESTING: usize = 64;

/// Refuses YAML nested deeper than [`MAX_NESTING`], in one linear pass over the text. It counts
/// flow brackets (`[`, `{`) outside quotes and comments, block indentation levels, and block
/// sequence dashes sharing a line (`- - - x`). It over-counts rather than under-counts (a
/// bracket inside a multi-line quoted string counts), which at this limit only matters for
/// files no one writes.
fn check_nesting(text: &str, file: &str) -> Result<(), ScenarioError> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        if flow == 0 && !body.is_empty() && !body.starts_with('#') {
            while indents.last().is_some_and(|&t| t > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
        }
        let mut dashes = 0;
        let mut rest = body;
        while rest == "-" || rest.starts_with("- ") {
            dashes += 1;
            rest = rest[1..].trim_start_matches(' ');
        }
        let block = indents.len() + dashes;
        let (mut quote, mut escaped, mut prev) = (None, false, ' ');
        for (col, ch) in line.char_indices() {
            match quote {
                Some('"') if escaped => escaped = false,
                Some('"') if ch == '\\' => escaped = true,
                Some(q) if ch == q => quote = None,
                Some(_) => {}
                None => match ch {
                    '#' if prev.is_whitespace() => break,
                    '"' | '\'' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(ch),
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = ch;
            if block + flow > MAX_NESTING {
                return Err(ScenarioError::Syntax {
                    file: file.to_string(),
                    line: i + 1,
                    column: col + 1,
                    message: format!(
                        "collections nested more than {MAX_NESTING} levels deep; a scenario \
                         needs fewer than ten, so this is refused before parsing"
                    ),
                });
            }
        }
    }
    Ok(())
}

fn yaml_error(file: &str, e: serde_yaml::Error) -> ScenarioError {
    let message = e.to_string();
    match e.location() {
        Some(loc) => {
            // The location is already in our prefix; drop serde_yaml's " at line X column Y".
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            ScenarioError::Syntax {
                file: file.to_string(),
                line: loc.line(),
                column: loc.column(),
                message,
            }
        }
        None => ScenarioError::Shape {
            file: file.to_string(),
            message,
        },
    }
}

struct Validator<'a> {
    file: &'a str,
    names: Vec<String>,
}

impl Validator<'_> {
    /// Refuses a timer-like setting below its floor. A timer set to a few nanoseconds validates
    /// as a tiny number but fires billions of times per simulated second, so a run that looks
    /// small never finishes (or fills memory); `why` says what the floor stands for.
    fn floor(&self, path: &str, value: Span, floor: Span, why: &str) -> Result<(), ScenarioError> {
        if value < floor {
            return Err(self.err(path, format!("{value} is below the {floor} floor ({why})")));
        }
        Ok(())
    }

    /// Like [`Validator::floor`] for settings where 0 means "off" or "at once".
    fn floor_or_zero(
        &self,
        path: &str,
        value: Span,
        floor: Span,
        why: &str,
    ) -> Result<(), ScenarioError> {
        if value != Span::ZERO && value < floor {
            return Err(self.err(
                path,
                format!("{value} is below the {floor} floor ({why}; 0 turns it off)"),
            ));
        }
        Ok(())
    }

    fn err(&self, path: impl Into<String>, message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            file: self.file.to_string(),
            path: path.into(),
            message: message.into(),
        }
    }

    fn region(&self, path: &str, name: &str) -> Result<RegionId, ScenarioError> {
        self.names
            .iter()
            .position(|n| n == name)
            .map(|i| RegionId(i as u16))
            .ok_or_else(|| {
                self.err(
                    path,
                    format!(
                        "unknown region `{name}`; regions are: {}",
                        self.names.join(", ")
                    ),
                )
            })
    }

    fn probability(&self, path: &str, p: f64) -> Result<f64, ScenarioError> {
        if p.is_finite() && (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(self.err(
                path,
                format!("must be a probability between 0 and 1, got {p}"),
            ))
        }
    }

    /// Parses `"a <-> b"` (both directions) or `"a -> b"` into directed pairs.
    fn link(&self, path: &str, text: &str) -> Result<Vec<(RegionId, RegionId)>, ScenarioError> {
        let (a, b, both) = if let Some((a, b)) = text.split_once("<->") {
            (a, b, true)
        } else if let Some((a, b)) = text.split_once("->") {
            (a, b, false)
        } else {
            return Err(self.err(
                path,
                format!("`{text}` is not a link; write `a <-> b` (both directions) or `a -> b`"),
            ));
        };
        let a = self.region(path, a.trim())?;
        let b = self.region(path, b.trim())?;
        if a == b {
            return Err(self.err(path, format!("`{text}` links a region to itself")));
        }
        Ok(if both {
            vec![(a, b), (b, a)]
        } else {
            vec![(a, b)]
        })
    }

    fn dist(&self, path: &str, spec: &DistSpec) -> Result<Sampler, ScenarioError> {
        spec.compile().map_err(|e| self.err(path, e.to_string()))
    }
}

/// Builds the replication plan (strategy, routes, placement) from the `replication` block.
fn replication_plan(
    v: &Validator,
    rep: &ReplicationSpec,
    n: usize,
    nominal: &[u64],
    keys: u64,
    value_bytes: u32,
) -> Result<Plan, ScenarioError> {
    let idx = |path: &str, name: &str| v.region(path, name).map(|r| r.idx());
    // Settings of other modes and topologies are ignored rather than refused, so one file can
    // be compared across them (`sim compare --vary replication.mode=...`).
    if rep.mode == Mode::Quorum && rep.topology != Topology::Mesh {
        return Err(v.err(
            "replication.topology",
            "quorum coordinators write to every replica directly; use `topology: mesh`",
        ));
    }

    let strategy = match rep.mode {
        Mode::MultiMaster => Strategy::MultiMaster,
        Mode::PrimaryBackup => {
            let primary = match &rep.primary {
                Some(p) => idx("replication.primary", p)?,
                None => 0,
            };
            let sync = match rep.sync {
                SyncSpec::Async => Sync::Async,
                SyncSpec::SemiSync => Sync::SemiSync,
                SyncSpec::Sync => {
                    let backups = rep.sync_backups.unwrap_or(n as u32 - 1);
                    if backups as usize > n - 1 {
                        return Err(v.err(
                            "replication.sync_backups",
                            format!("there are only {} backups, got {backups}", n - 1),
                        ));
                    }
                    Sync::Sync { backups }
                }
            };
            Strategy::PrimaryBackup {
                primary: RegionId(primary as u16),
                forward: rep.forward,
                sync,
            }
        }
        Mode::Chain => {
            let order: Vec<usize> = match &rep.chain {
                None => (0..n).collect(),
                Some(names) => {
                    let mut o = Vec::new();
                    for (i, name) in names.iter().enumerate() {
                        let r = idx(&format!("replication.chain[{i}]"), name)?;
                        if o.contains(&r) {
                            return Err(v.err(
                                format!("replication.chain[{i}]"),
                                format!("`{name}` appears twice in the chain"),
                            ));
                        }
                        o.push(r);
                    }
                    if o.len() != n {
                        return Err(v.err(
                            "replication.chain",
                            "must list every region exactly once (head first, tail last)",
                        ));
                    }
                    o
                }
            };
            Strategy::Chain {
                order: order.iter().map(|&r| RegionId(r as u16)).collect(),
            }
        }
        Mode::Quorum => {
            let replicas_n = match (&rep.replicas, rep.n) {
                (Some(list), Some(k)) if list.len() != k as usize => {
                    return Err(v.err(
                        "replication.n",
                        format!("is {k} but `replicas` lists {} regions", list.len()),
                    ))
                }
                (Some(list), _) => list.len() as u32,
                (None, Some(k)) => k,
                (None, None) => n as u32,
            };
            if replicas_n == 0 || replicas_n as usize > n {
                return Err(v.err(
                    "replication.n",
                    format!("must be between 1 and the number of regions ({n}), got {replicas_n}"),
                ));
            }
            let maj = replicas_n / 2 + 1;
            let w = rep.w.unwrap_or(maj);
            let r = rep.r.unwrap_or(maj);
            for (name, x) in [("w", w), ("r", r)] {
                if x == 0 || x > replicas_n {
                    return Err(v.err(
                        format!("replication.{name}"),
                        format!("must be between 1 and n ({replicas_n}), got {x}"),
                    ));
                }
            }
            Strategy::Quorum {
                w,
                r,
                hinted_handoff: rep.hinted_handoff,
            }
        }
    };

    // Links of the replication topology.
    let links = match (&strategy, rep.topology) {
        // With failover the head reconfigures the chain around failures: any region may feed
        // any other.
        (Strategy::Chain { .. }, _) if rep.failover.is_some() => topology::mesh(n),
        (Strategy::Chain { order }, _) => {
            let o: Vec<usize> = order.iter().map(|r| r.idx()).collect();
            // Entries only flow down the chain.
            let mut l = vec![false; n * n];
            for w in o.windows(2) {
                l[w[0] * n + w[1]] = true;
            }
            l
        }
        (_, Topology::Mesh) => topology::mesh(n),
        (_, Topology::Ring) => topology::ring(n, rep.bidirectional),
        (_, Topology::Hub) => {
            let h = match &rep.hub {
                Some(h) => idx("replication.hub", h)?,
                None => 0,
            };
            topology::hub(n, h)
        }
        (_, Topology::Line) => topology::line(n, &(0..n).collect::<Vec<_>>()),
        (_, Topology::Tree) => {
            let k = rep.fanout.unwrap_or(2);
            if k == 0 {
                return Err(v.err("replication.fanout", "must be at least 1"));
            }
            topology::tree(n, k as usize)
        }
        (_, Topology::Custom) => {
            if rep.links.is_empty() {
                return Err(v.err("replication.links", "`topology: custom` needs `links`"));
            }
            let mut l = vec![false; n * n];
            for (i, text) in rep.links.iter().enumerate() {
                for (a, b) in v.link(&format!("replication.links[{i}]"), text)? {
                    l[a.idx() * n + b.idx()] = true;
                }
            }
            l
        }
    };
    let origins: Vec<usize> = match &strategy {
        Strategy::MultiMaster | Strategy::Quorum { .. } => (0..n).collect(),
        // With failover any region may become the primary.
        Strategy::PrimaryBackup { .. } | Strategy::Chain { .. } if rep.failover.is_some() => {
            (0..n).collect()
        }
        Strategy::PrimaryBackup { primary, .. } => vec![primary.idx()],
        Strategy::Chain { order } => vec![order[0].idx()],
    };
    let routes = topology::routes(
        n,
        &links,
        nominal,
        rep.routing == Routing::ShortestLatency,
        &origins,
    )
    .map_err(|(o, u)| {
        v.err(
            "replication.topology",
            format!(
                "the {:?} topology is disconnected: {} cannot reach {}",
                rep.topology, v.names[o], v.names[u]
            )
            .to_lowercase(),
        )
    })?;

    let holders = match (&strategy, &rep.replicas) {
        (Strategy::Quorum { .. }, Some(list)) => {
            let mut mask = 0u64;
            for (i, name) in list.iter().enumerate() {
                let r = idx(&format!("replication.replicas[{i}]"), name)?;
                if mask & (1 << r) != 0 {
                    return Err(v.err(
                        format!("replication.replicas[{i}]"),
                        format!("`{name}` is listed twice"),
                    ));
                }
                mask |= 1 << r;
            }
            Some(Arc::new(vec![mask; keys as usize]))
        }
        (Strategy::Quorum { .. }, None) if rep.n.is_some_and(|k| (k as usize) < n) => {
            Some(Arc::new(topology::consistent_hash(
                n,
                rep.n.unwrap_or(0) as usize,
                keys,
            )))
        }
        _ => None,
    };

    let mut compression_permille = vec![1000u32; n * n];
    let ratio = |path: &str, x: f64| -> Result<u32, ScenarioError> {
        if x.is_finite() && x > 0.0 && x <= 10.0 {
            Ok((x * 1000.0).round().max(1.0) as u32)
        } else {
            Err(v.err(
                path,
                format!("must be a ratio above 0 (at most 10), got {x}"),
            ))
        }
    };
    match &rep.compression {
        None => {}
        Some(CompressionSpec::Ratio(x)) => {
            let r = ratio("replication.compression", *x)?;
            compression_permille.iter_mut().for_each(|c| *c = r);
        }
        Some(CompressionSpec::PerLink { default, links }) => {
            let r = ratio("replication.compression.default", *default)?;
            compression_permille.iter_mut().for_each(|c| *c = r);
            for (key, x) in links {
                let path = format!("replication.compression.links.\"{key}\"");
                let r = ratio(&path, *x)?;
                for (a, b) in v.link(&path, key)? {
                    compression_permille[a.idx() * n + b.idx()] = r;
                }
            }
        }
    }

    let nearest = (0..n)
        .map(|r| {
            let mut o: Vec<usize> = (0..n).filter(|&p| p != r).collect();
            o.sort_by_key(|&p| (nominal[r * n + p] + nominal[p * n + r], p));
            o.into_iter().map(|p| RegionId(p as u16)).collect()
        })
        .collect();

    if let Some(r) = rep.log_retention {
        v.floor(
            "replication.log_retention",
            r,
            FLOOR_TIMER,
            "a log kept for less than a millisecond is gone before any region can fetch it",
        )?;
    }
    let give_up_after = match (&strategy, rep.log_retention) {
        (
            Strategy::Quorum {
                hinted_handoff: false,
                ..
            },
            r,
        ) => Some(r.map_or(rep.request_timeout, |r| r.min(rep.request_timeout))),
        (_, r) => r,
    };
    let anti_entropy = match rep.anti_entropy {
        None => None,
        Some(a) => {
            let p = "replication.anti_entropy";
            v.floor(
                &format!("{p}.interval"),
                a.interval,
                FLOOR_ANTI_ENTROPY,
                "every round compares digests with a peer across the network",
            )?;
            if a.fanout == 0 || a.fanout as usize >= n.max(2) {
                return Err(v.err(
                    format!("{p}.fanout"),
                    format!(
                        "must be between 1 and {} (the other regions), got {}",
                        n.saturating_sub(1).max(1),
                        a.fanout
                    ),
                ));
            }
            if !(2..=256).contains(&a.branching) {
                return Err(v.err(
                    format!("{p}.branching"),
                    format!("must be between 2 and 256, got {}", a.branching),
                ));
            }
            let mut w = 1u64;
            while w < a.leaves as u64 {
                w *= a.branching as u64;
            }
            if w != a.leaves as u64 || a.leaves > 1 << 20 {
                return Err(v.err(
                    format!("{p}.leaves"),
                    format!(
                        "must be a power of branching ({}) up to 1048576, got {}",
                        a.branching, a.leaves
                    ),
                ));
            }
            Some(AntiEntropy {
                interval: a.interval,
                fanout: a.fanout,
                leaves: a.leaves,
                branching: a.branching,
            })
        }
    };

    let failover = match (&rep.failover, &strategy) {
        (Some(f), Strategy::PrimaryBackup { .. } | Strategy::Chain { .. }) => {
            let rtt = (0..n)
                .flat_map(|a| (0..n).map(move |b| (a, b)))
                .filter(|(a, b)| a != b)
                .map(|(a, b)| nominal[a * n + b] + nominal[b * n + a])
                .max()
                .unwrap_or(0);
            Some(failover_plan(v, f, n, rep, &strategy, Span(rtt))?)
        }
        _ => None,
    };

    Ok(Plan {
        n,
        strategy,
        routes,
        holders,
        nearest,
        request_timeout: rep.request_timeout,
        batch_delay: rep.batch.max_delay,
        compression_permille,
        read_repair: rep.read_repair,
        value_bytes,
        give_up_after,
        keys,
        anti_entropy,
        failover,
        // Set by the caller, which validates the tables with the workload.
        tables: Arc::new(Tables::single(keys, Policy::Lww)),
        operator: None,
    })
}

/// Validates `workload.tables` with `replication.conflict` and `replication.tables`: the
/// tables in key order with their policies, what their clients do, and the key space's size.
/// Validates an `ntp` block at `path`.
fn ntp_plan(
    v: &Validator,
    path: &str,
    n: &NtpSpec,
) -> Result<crate::engine::clock::ClockSync, ScenarioError> {
    v.floor(
        &format!("{path}.interval"),
        n.interval,
        FLOOR_TIMER,
        "a time daemon polls its servers over the network",
    )?;
    if n.accuracy.0 >= n.step_threshold.0 {
        return Err(v.err(
            format!("{path}.accuracy"),
            "must be below step_threshold (or every poll would step the clock)",
        ));
    }
    if !n.max_slew_ppm.is_finite() || n.max_slew_ppm <= 0.0 || n.max_slew_ppm > 100_000.0 {
        return Err(v.err(
            format!("{path}.max_slew_ppm"),
            format!("must be in (0, 100000] ppm, got {}", n.max_slew_ppm),
        ));
    }
    Ok(crate::engine::clock::ClockSync {
        interval_ns: n.interval.0,
        accuracy_ns: n.accuracy.0,
        step_threshold_ns: n.step_threshold.0,
        max_slew_ppb: (n.max_slew_ppm * 1000.0).round() as i64,
    })
}

fn tables_plan(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<(Tables, Vec<TableLoad>, u64), ScenarioError> {
    let (w, rep) = (&spec.workload, &spec.replication);
    if w.tables.is_empty() {
        if let Some(name) = rep.tables.keys().next() {
            return Err(v.err(
                format!("replication.tables.{name}"),
                "there are no `workload.tables` to give a policy to",
            ));
        }
        let policy = rep.conflict.policy(Shape::Register);
        return Ok((Tables::single(w.keys, policy), Vec::new(), w.keys));
    }
    if w.mix != MixSpec::default() {
        return Err(v.err(
            "workload.mix",
            "with `tables`, each table's `ops` sets what its clients do; remove `mix`",
        ));
    }
    for name in rep.tables.keys() {
        if !w.tables.contains_key(name) {
            let known: Vec<&str> = w.tables.keys().map(|s| s.as_str()).collect();
            return Err(v.err(
                format!("replication.tables.{name}"),
                format!("no workload table `{name}` (tables: {})", known.join(", ")),
            ));
        }
    }
    let total_share: f64 = w.tables.values().map(|t| t.share).sum();
    let (mut tables, mut loads) = (Vec::new(), Vec::new());
    let (mut first, mut share_upto) = (0u64, 0.0);
    for (name, t) in &w.tables {
        let p = format!("workload.tables.{name}");
        if t.keys == 0 {
            return Err(v.err(format!("{p}.keys"), "must be at least 1"));
        }
        if !(t.share.is_finite() && t.share > 0.0) {
            return Err(v.err(format!("{p}.share"), "must be a number above 0"));
        }
        if t.elements == 0 {
            return Err(v.err(format!("{p}.elements"), "must be at least 1"));
        }
        if t.amount == 0 {
            return Err(v.err(format!("{p}.amount"), "must be at least 1"));
        }
        let mut ops = Vec::new();
        let mut total = 0.0;
        for (op, kind, weight) in t.ops.weights() {
            v.probability(&format!("{p}.ops.{op}"), weight)?;
            total += weight;
            if weight > 0.0 {
                ops.push((total, kind));
            }
        }
        if (total - 1.0).abs() > 1e-9 {
            return Err(v.err(
                format!("{p}.ops"),
                format!("the operation weights must add up to 1, got {total}"),
            ));
        }
        if let Some(last) = ops.last_mut() {
            last.0 = f64::INFINITY; // rounding must never leave a gap at the top
        }
        let o = &t.ops;
        let shape = if let Some(fields) = t.fields {
            if fields == 0 {
                return Err(v.err(format!("{p}.fields"), "must be at least 1"));
            }
            if o.incr + o.decr + o.add > 0.0 {
                return Err(v.err(
                    format!("{p}.ops"),
                    "a map table (one with `fields`) takes put and remove of a field, and get; counters and sets go in tables of their own",
                ));
            }
            Shape::Map
        } else {
            let shapes = [
                (o.put > 0.0, Shape::Register),
                (o.incr + o.decr > 0.0, Shape::Counter),
                (o.add + o.remove > 0.0, Shape::Set),
            ];
            let used: Vec<Shape> = shapes.iter().filter(|s| s.0).map(|s| s.1).collect();
            if used.len() > 1 {
                return Err(v.err(
                    format!("{p}.ops"),
                    "a table is a register (put), a counter (incr, decr), a set (add, remove) or, with `fields`, a map (put, remove); split it into tables",
                ));
            }
            used.first().copied().unwrap_or(Shape::Register)
        };
        let policy = match rep.tables.get(name) {
            None => rep.conflict.policy(shape),
            Some(text) => parse_policy(text, shape).ok_or_else(|| {
                v.err(
                    format!("replication.tables.{name}"),
                    format!(
                        "unknown policy `{text}`; expected one of lww, lww-hlc, fww, siblings, manual, crdt, pn-counter, g-counter, or-set, g-set, 2p-set, or-map, lww-map"
                    ),
                )
            })?,
        };
        let at = if rep.tables.contains_key(name) {
            format!("replication.tables.{name}")
        } else {
            "replication.conflict".to_string()
        };
        if !policy.fits(shape) {
            return Err(v.err(
                at,
                format!(
                    "`{}` cannot hold table `{name}`, which is a {} by its operations",
                    policy.name(),
                    shape.name()
                ),
            ));
        }
        if policy == Policy::GCounter && o.decr > 0.0 {
            return Err(v.err(
                at,
                format!("a g-counter only grows, but `{name}` has `decr`"),
            ));
        }
        if policy == Policy::GSet && o.remove > 0.0 {
            return Err(v.err(at, format!("a g-set only grows, but `{name}` has `remove`")));
        }
        if (policy.merges() || shape != Shape::Register) && rep.mode != Mode::MultiMaster {
            return Err(v.err(
                at,
                format!(
                    "table `{name}` ({} under `{}`) needs `replication.mode: multi-master`: read-modify-write and merged values are modelled for active-active replication",
                    shape.name(),
                    policy.name()
                ),
            ));
        }
        share_upto += t.share / total_share;
        tables.push(Table {
            name: name.clone(),
            first,
            end: first + t.keys,
            policy,
            shape,
        });
        loads.push(TableLoad {
            name: name.clone(),
            first,
            keys: t.keys,
            share_upto,
            ops,
            elements: t.elements,
            fields: t.fields.unwrap_or(0),
            amount: t.amount,
        });
        first = first.saturating_add(t.keys);
    }
    if let Some(last) = loads.last_mut() {
        last.share_upto = f64::INFINITY;
    }
    if w.keys != 0 && w.keys != first {
        return Err(v.err(
            "workload.keys",
            format!(
                "the tables hold {first} keys, but `keys` says {}; leave `keys` out",
                w.keys
            ),
        ));
    }
    Ok((Tables(tables), loads, first))
}

/// A policy name from `replication.tables`.
fn parse_policy(text: &str, shape: Shape) -> Option<Policy> {
    if text == "crdt" {
        return Some(Policy::crdt_for(shape));
    }
    Policy::ALL.into_iter().find(|p| p.name() == text)
}

/// Validates `replication.failover`.
fn failover_plan(
    v: &Validator,
    f: &FailoverSpec,
    n: usize,
    rep: &ReplicationSpec,
    strategy: &Strategy,
    max_rtt: Span,
) -> Result<Failover, ScenarioError> {
    let p = "replication.failover";
    let chain = match strategy {
        Strategy::Chain { order } => Some(order),
        _ => None,
    };
    if rep.topology != Topology::Mesh && chain.is_none() {
        return Err(v.err(
            "replication.topology",
            "failover needs `topology: mesh`: a new primary must reach every backup directly",
        ));
    }
    if n < 2 {
        return Err(v.err(p, "failover needs at least two regions"));
    }
    let d = &f.detector;
    let dp = format!("{p}.detector");
    v.floor(
        &format!("{dp}.interval"),
        d.interval,
        FLOOR_TIMER,
        "every region heartbeats every other region at this interval",
    )?;
    let detector = match d.kind {
        DetectorKind::Heartbeat => {
            if d.threshold.is_some() || d.window.is_some() || d.min_std_dev.is_some() {
                return Err(v.err(
                    dp,
                    "`threshold`, `window` and `min_std_dev` belong to `kind: phi`",
                ));
            }
            let timeout = d.timeout.unwrap_or(Span(d.interval.0 * 10));
            if timeout <= d.interval {
                return Err(v.err(
                    format!("{dp}.timeout"),
                    format!(
                        "must be longer than the heartbeat interval ({})",
                        d.interval
                    ),
                ));
            }
            DetectorSpec::Heartbeat {
                interval: d.interval,
                timeout,
            }
        }
        DetectorKind::Phi => {
            if d.timeout.is_some() {
                return Err(v.err(
                    format!("{dp}.timeout"),
                    "a phi detector has no fixed timeout; set `threshold`",
                ));
            }
            let threshold = d.threshold.unwrap_or(8.0);
            if !(threshold.is_finite() && threshold > 0.0 && threshold <= 30.0) {
                return Err(v.err(
                    format!("{dp}.threshold"),
                    format!("must be above 0 and at most 30, got {threshold}"),
                ));
            }
            let window = d.window.unwrap_or(100);
            if window == 0 || window > 10_000 {
                return Err(v.err(
                    format!("{dp}.window"),
                    format!("must be between 1 and 10000 samples, got {window}"),
                ));
            }
            DetectorSpec::Phi {
                interval: d.interval,
                threshold,
                window,
                min_std_dev: d.min_std_dev.unwrap_or(Span::from_millis(100)).max(Span(1)),
                pause: d.pause.unwrap_or(Span::ZERO),
            }
        }
    };
    let hm = |x: Span| crate::units::human_ms(x.as_ms_f64());
    let earliest = detector.earliest_suspicion();
    // A primary renews its lease from heartbeat echoes. At a heartbeat tick the freshest echo
    // it is sure to hold is of a heartbeat sent two intervals plus a round trip ago (the peer
    // echoes on its own next tick): a shorter lease and a healthy primary keeps losing it.
    let need = Span(2 * d.interval.0 + max_rtt.0);
    let lease = f.lease.unwrap_or(if earliest.0 / 10 * 8 > need.0 {
        Span(earliest.0 / 10 * 8)
    } else {
        Span((need.0 + earliest.0) / 2)
    });
    if let Some(l) = f.lease {
        v.floor(
            &format!("{p}.lease"),
            l,
            FLOOR_TIMER,
            "a lease is renewed from heartbeats across the network",
        )?;
    }
    if f.fencing == FencingSpec::Lease && lease <= need {
        return Err(v.err(
            format!("{p}.lease"),
            format!(
                "{} is too short: a primary renews its lease from heartbeat echoes, which \
                 can be two heartbeat intervals ({}) plus the longest round trip ({}) old; \
                 lengthen the detector's timeout (or raise a phi detector's threshold or \
                 min_std_dev) so that a lease fits below its earliest suspicion ({})",
                hm(lease),
                hm(d.interval),
                hm(max_rtt),
                hm(earliest)
            ),
        ));
    }
    if f.fencing == FencingSpec::Lease && (lease == Span::ZERO || lease >= earliest) {
        return Err(v.err(
            format!("{p}.lease"),
            format!(
                "must be above 0 and below the detector's earliest suspicion ({}), or a deposed \
                 primary could still accept writes when its successor is elected",
                hm(earliest)
            ),
        ));
    }
    let priority = match &f.priority {
        // A chain's head is best succeeded by its successor, which holds the most.
        None => match chain {
            Some(order) => order.clone(),
            None => (0..n).map(|i| RegionId(i as u16)).collect(),
        },
        Some(list) => {
            let mut out: Vec<RegionId> = Vec::new();
            for (i, name) in list.iter().enumerate() {
                let r = v.region(&format!("{p}.priority[{i}]"), name)?;
                if out.contains(&r) {
                    return Err(v.err(
                        format!("{p}.priority[{i}]"),
                        format!("`{name}` is listed twice"),
                    ));
                }
                out.push(r);
            }
            out
        }
    };
    Ok(Failover {
        detector,
        lease,
        fencing: f.fencing == FencingSpec::Lease,
        rejoin: match f.rejoin {
            RejoinSpec::Discard => Rejoin::Discard,
            RejoinSpec::Reconcile => Rejoin::Reconcile,
        },
        priority,
        stagger: f.stagger,
        manual: f.mode == FailoverMode::Manual,
    })
}

/// Resolves the `cost` block to a price per directed link.
fn cost_table(
    v: &Validator,
    c: &CostSpec,
    regions: &[Region],
    latency_map: &BTreeMap<String, String>,
) -> Result<Vec<f64>, ScenarioError> {
    let n = regions.len();
    let price = |path: &str, x: f64| -> Result<f64, ScenarioError> {
        if x.is_finite() && (0.0..=100.0).contains(&x) {
            Ok(x)
        } else {
            Err(v.err(
                path,
                format!("must be a price in USD per GB between 0 and 100, got {x}"),
            ))
        }
    };
    let mut table: Vec<Option<f64>> = vec![None; n * n];
    for (key, x) in &c.links {
        let path = format!("cost.links.\"{key}\"");
        let x = price(&path, *x)?;
        for (a, b) in v.link(&path, key)? {
            table[a.idx() * n + b.idx()] = Some(x);
        }
    }
    let sheet = match &c.preset {
        None => None,
        Some(name) => Some(presets::find_cost(name).ok_or_else(|| {
            v.err(
                "cost.preset",
                format!(
                    "unknown cost preset `{name}`; available: {}",
                    presets::cost_names().join(", ")
                ),
            )
        })?),
    };
    for from in c.map.keys() {
        v.region(&format!("cost.map.{from}"), from)?;
    }
    let default = match c.default {
        Some(x) => Some(price("cost.default", x)?),
        None => None,
    };
    let sheet_name = |r: &Region| -> String {
        c.map
            .get(&r.name)
            .or_else(|| latency_map.get(&r.name))
            .cloned()
            .unwrap_or_else(|| r.name.clone())
    };
    let mut out = vec![0.0; n * n];
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            out[a * n + b] = match table[a * n + b] {
                Some(x) => x,
                None => match sheet
                    .as_ref()
                    .and_then(|s| s.price(&sheet_name(&regions[a]), &sheet_name(&regions[b])))
                    .or(default)
                {
                    Some(x) => x,
                    None => {
                        return Err(v.err(
                            "cost",
                            format!(
                                "no price for {} -> {}: add it under `links`, set a `default`, or use a `preset` that has the region",
                                regions[a].name, regions[b].name
                            ),
                        ))
                    }
                },
            };
        }
    }
    Ok(out)
}

/// Every distribution a scenario holds, with its YAML path.
fn dists_mut(spec: &mut ScenarioSpec) -> Vec<(String, &mut DistSpec)> {
    let mut v: Vec<(String, &mut DistSpec)> = Vec::new();
    let lat = &mut spec.network.latency;
    if let Some(d) = &mut lat.default {
        v.push(("network.latency.default".into(), d));
    }
    if let Some(d) = &mut lat.jitter {
        v.push(("network.latency.jitter".into(), d));
    }
    for (k, d) in &mut lat.links {
        v.push((format!("network.latency.links.\"{k}\""), d));
    }
    for (c, slot) in crate::replica::MsgClass::ALL
        .iter()
        .zip(spec.network.classes.all_mut())
    {
        let Some(cl) = slot else { continue };
        let p = format!("network.classes.{}", c.name());
        if let Some(d) = &mut cl.default {
            v.push((format!("{p}.default"), d));
        }
        if let Some(d) = &mut cl.add {
            v.push((format!("{p}.add"), d));
        }
        for (k, d) in &mut cl.links {
            v.push((format!("{p}.links.\"{k}\""), d));
        }
    }
    if let Some(sv) = &mut spec.service {
        if let Some(d) = &mut sv.write {
            v.push(("service.write".into(), d));
        }
        if let Some(d) = &mut sv.read {
            v.push(("service.read".into(), d));
        }
        for (r, t) in &mut sv.regions {
            if let Some(d) = &mut t.write {
                v.push((format!("service.regions.{r}.write"), d));
            }
            if let Some(d) = &mut t.read {
                v.push((format!("service.regions.{r}.read"), d));
            }
        }
    }
    for (i, f) in spec.faults.iter_mut().enumerate() {
        if let Some(d) = f.degrade.as_mut().and_then(|g| g.latency.as_mut()) {
            v.push((format!("faults[{i}].degrade.latency"), d));
        }
    }
    v
}

/// Drops the `file` of every empirical distribution whose quantiles are already loaded, so the
/// spec stands alone (it can be written anywhere and still parse).
pub fn inline_dist_files(spec: &mut ScenarioSpec) {
    fn inline(d: &mut DistSpec) {
        match d {
            DistSpec::Empirical { file, quantiles } if !quantiles.is_empty() => *file = None,
            DistSpec::Mixture { components } => {
                components.iter_mut().for_each(|c| inline(&mut c.latency))
            }
            _ => {}
        }
    }
    for (_, d) in dists_mut(spec) {
        inline(d);
    }
}

/// Loads the quantile files of empirical distributions (relative to the scenario's folder) into
/// the spec, so the run, its summary and any re-run see the same numbers.
fn resolve_dist_files(spec: &mut ScenarioSpec, file: &str) -> Result<(), ScenarioError> {
    let base = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for (path, d) in dists_mut(spec) {
        resolve_one(d, &base, file, &path)?;
    }
    Ok(())
}

fn resolve_one(d: &mut DistSpec, base: &Path, file: &str, path: &str) -> Result<(), ScenarioError> {
    let err = |message: String| ScenarioError::Invalid {
        file: file.to_string(),
        path: path.to_string(),
        message,
    };
    match d {
        DistSpec::Empirical {
            file: Some(name),
            quantiles,
        } => {
            if !quantiles.is_empty() {
                return Err(err(
                    "give either `file` or `quantiles`, not both".to_string()
                ));
            }
            let full = base.join(&*name);
            let text = std::fs::read_to_string(&full)
                .map_err(|e| err(format!("cannot read `{}`: {e}", full.display())))?;
            *quantiles = crate::dist::read_quantiles_csv(&text)
                .map_err(|e| err(format!("{}: {e}", full.display())))?;
        }
        DistSpec::Mixture { components } => {
            for (i, c) in components.iter_mut().enumerate() {
                resolve_one(
                    &mut c.latency,
                    base,
                    file,
                    &format!("{path}.components[{i}].latency"),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn validate(spec: ScenarioSpec, file: &str) -> Result<Scenario, ScenarioError> {
    let names: Vec<String> = spec.regions.iter().map(|r| r.name.clone()).collect();
    let v = Validator { file, names };

    if spec.name.trim().is_empty() {
        return Err(v.err("name", "must not be empty"));
    }
    if spec.duration == Span::ZERO {
        return Err(v.err("duration", "must be longer than 0"));
    }
    if spec.quiesce_limit == Some(Span::ZERO) {
        return Err(v.err("quiesce_limit", "must be longer than 0"));
    }
    if spec.regions.is_empty() {
        return Err(v.err("regions", "needs at least one region"));
    }
    if spec.regions.len() > MAX_REGIONS {
        return Err(v.err(
            "regions",
            format!(
                "at most {MAX_REGIONS} regions are supported, got {}",
                spec.regions.len()
            ),
        ));
    }

    let mut regions = Vec::with_capacity(spec.regions.len());
    for (i, r) in spec.regions.iter().enumerate() {
        let path = format!("regions[{i}]");
        if r.name.trim().is_empty() || r.name.contains("->") || r.name.contains("<->") {
            return Err(v.err(
                format!("{path}.name"),
                "must be a non-empty name without `->`",
            ));
        }
        if let Some(j) = spec.regions[..i].iter().position(|o| o.name == r.name) {
            return Err(v.err(
                format!("{path}.name"),
                format!("duplicate region `{}` (also regions[{j}])", r.name),
            ));
        }
        let ppm = r.clock.drift_ppm;
        if !ppm.is_finite() || ppm.abs() > 10_000.0 {
            return Err(v.err(
                format!("{path}.clock.drift_ppm"),
                format!("must be between -10000 and 10000 ppm, got {ppm}"),
            ));
        }
        if let Some(loc) = r.location {
            if !(-90.0..=90.0).contains(&loc.lat) || !(-180.0..=180.0).contains(&loc.lon) {
                return Err(v.err(
                    format!("{path}.location"),
                    "lat must be in [-90, 90] and lon in [-180, 180]",
                ));
            }
        }
        let noise = r.clock.noise.or(spec.clocks.noise).unwrap_or_default();
        let noise_path = if r.clock.noise.is_some() {
            format!("{path}.clock.noise")
        } else {
            "clocks.noise".to_string()
        };
        if noise.0 > 10_000_000_000 {
            return Err(v.err(noise_path, "must be at most 10s"));
        }
        let sync = match (r.clock.ntp, spec.clocks.ntp) {
            (Some(n), _) => Some(ntp_plan(&v, &format!("{path}.clock.ntp"), &n)?),
            (None, Some(n)) => Some(ntp_plan(&v, "clocks.ntp", &n)?),
            (None, None) => None,
        };
        regions.push(Region {
            name: r.name.clone(),
            offset_ns: r.clock.offset.0,
            drift_ppb: (ppm * 1000.0).round() as i64,
            noise_ns: noise.0,
            sync,
            location: r.location.map(|l| (l.lat, l.lon)),
        });
    }
    let n = regions.len();

    // --- network -------------------------------------------------------------------------
    let lat = &spec.network.latency;
    let table = match &lat.preset {
        Some(name) => Some(presets::find(name).map(|p| p.table()).ok_or_else(|| {
            v.err(
                "network.latency.preset",
                format!(
                    "unknown preset `{name}`; available: {}",
                    presets::names().join(", ")
                ),
            )
        })?),
        None => None,
    };
    for (from, to) in &lat.map {
        let path = format!("network.latency.map.{from}");
        v.region(&path, from)?;
        match &table {
            None => return Err(v.err(path, "`map` needs a `preset`")),
            Some(t) if t.index(to).is_none() => {
                return Err(v.err(
                    path,
                    format!(
                        "`{to}` is not in preset `{}`; it has: {}",
                        lat.preset.as_deref().unwrap_or(""),
                        t.regions.join(", ")
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let preset_name = |r: &Region| -> String {
        lat.map
            .get(&r.name)
            .cloned()
            .unwrap_or_else(|| r.name.clone())
    };
    // Locations: explicit, else the mapped preset region's.
    for r in &mut regions {
        if r.location.is_none() && table.is_some() {
            r.location = presets::location(&preset_name(r));
        }
    }

    let mut latency: Vec<Option<LinkLatency>> = vec![None; n * n];
    for (key, d) in &lat.links {
        let path = format!("network.latency.links.\"{key}\"");
        let sampler = v.dist(&path, d)?;
        for (a, b) in v.link(&path, key)? {
            let slot = &mut latency[a.idx() * n + b.idx()];
            if slot.is_some() {
                return Err(v.err(
                    path,
                    format!(
                        "latency {} -> {} is given twice",
                        regions[a.idx()].name,
                        regions[b.idx()].name
                    ),
                ));
            }
            *slot = Some(LinkLatency {
                spec: d.clone(),
                sampler: sampler.clone(),
                origin: "links",
            });
        }
    }
    let default = match &lat.default {
        Some(d) => Some((d.clone(), v.dist("network.latency.default", d)?)),
        None => None,
    };
    for a in 0..n {
        for b in 0..n {
            if a == b || latency[a * n + b].is_some() {
                continue;
            }
            let from_preset = table
                .as_ref()
                .and_then(|t| t.one_way(&preset_name(&regions[a]), &preset_name(&regions[b])));
            latency[a * n + b] = if let Some(ow) = from_preset {
                Some(LinkLatency {
                    spec: DistSpec::constant(ow),
                    sampler: Sampler::Constant(ow.0),
                    origin: "preset",
                })
            } else if let Some((spec, sampler)) = &default {
                Some(LinkLatency {
                    spec: spec.clone(),
                    sampler: sampler.clone(),
                    origin: "default",
                })
            } else {
                return Err(v.err(
                    "network.latency",
                    format!(
                        "no latency for {} -> {}: add it under `links`, set a `default`, or use a `preset` that has both regions",
                        regions[a].name, regions[b].name
                    ),
                ));
            };
        }
    }
    let jitter = match &lat.jitter {
        Some(j) => v.dist("network.latency.jitter", j)?,
        None => Sampler::Constant(0),
    };
    let loss = v.probability("network.loss", spec.network.loss)?;
    let duplicate = v.probability("network.duplicate", spec.network.duplicate)?;
    if loss >= 1.0 {
        return Err(v.err(
            "network.loss",
            "a loss of 1 means nothing is ever delivered; use a partition for that",
        ));
    }

    // Speed-of-light floor.
    let mut warnings = Vec::new();
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            let (Some(la), Some(lb)) = (regions[a].location, regions[b].location) else {
                continue;
            };
            let link = latency[a * n + b].as_ref().expect("filled above");
            let km = presets::great_circle_km(la, lb);
            let floor = presets::fibre_floor(km);
            let nominal = link.spec.nominal();
            if nominal < floor {
                warnings.push(format!(
                    "latency {} -> {} is {} but light in fibre needs at least {} for {:.0} km",
                    regions[a].name, regions[b].name, nominal, floor, km
                ));
            }
        }
    }

    // --- replication -----------------------------------------------------------------------
    let rep = &spec.replication;
    if rep.window == 0 {
        return Err(v.err("replication.window", "must be at least 1"));
    }
    if rep.batch.max_entries == 0 {
        return Err(v.err("replication.batch.max_entries", "must be at least 1"));
    }
    let rt = rep.retransmit;
    for (name, value) in [("initial", rt.initial), ("min", rt.min), ("max", rt.max)] {
        v.floor(
            &format!("replication.retransmit.{name}"),
            value,
            FLOOR_TIMER,
            "every unacknowledged message is resent each time it runs out",
        )?;
    }
    if rt.min > rt.max {
        return Err(v.err(
            "replication.retransmit",
            format!("min ({}) must not exceed max ({})", rt.min, rt.max),
        ));
    }
    v.floor(
        "replication.request_timeout",
        rep.request_timeout,
        FLOOR_TIMER,
        "a request waits at least this long for replies from across the network",
    )?;
    v.floor_or_zero(
        "durability.flush_interval",
        spec.durability.flush_interval,
        FLOOR_TIMER,
        "a region with unsynced writes fsyncs at this interval",
    )?;
    let nominal: Vec<u64> = (0..n * n)
        .map(|i| latency[i].as_ref().map_or(0, |l| l.spec.nominal().0))
        .collect();
    let nominal_latency = nominal.clone();
    let retry = match &spec.workload.retry {
        None => None,
        Some(r) => {
            let p = "workload.retry";
            if r.attempts == 0 || r.attempts > 100 {
                return Err(v.err(
                    format!("{p}.attempts"),
                    format!(
                        "must be between 1 and 100 (tries in all, the first included), got {}",
                        r.attempts
                    ),
                ));
            }
            v.floor(
                &format!("{p}.backoff"),
                r.backoff,
                FLOOR_TIMER,
                "a client waits at least this long before it tries again",
            )?;
            let max_backoff = r
                .max_backoff
                .unwrap_or(Span(r.backoff.0.saturating_mul(20)));
            if max_backoff < r.backoff {
                return Err(v.err(
                    format!("{p}.max_backoff"),
                    format!(
                        "{max_backoff} is shorter than the first backoff ({})",
                        r.backoff
                    ),
                ));
            }
            Some(Retry {
                attempts: r.attempts,
                backoff: r.backoff,
                max_backoff,
                jitter: r.jitter,
            })
        }
    };
    if let Some(r) = spec.workload.reroute_after {
        v.floor(
            "workload.reroute_after",
            r,
            FLOOR_TIMER,
            "a health check takes time",
        )?;
    }
    let (tables, table_loads, keys) = tables_plan(&v, &spec)?;
    if spec.workload.sessions > 1_000_000 {
        return Err(v.err(
            "workload.sessions",
            format!(
                "at most 1000000 sessions per region, got {}",
                spec.workload.sessions
            ),
        ));
    }
    let mut plan = replication_plan(&v, rep, n, &nominal, keys, spec.workload.value_bytes)?;
    if let Some(o) = rep.operator {
        if !tables.0.iter().any(|t| t.policy == Policy::Manual) {
            return Err(v.err(
                "replication.operator",
                "resolves `manual` conflicts, but no table uses the `manual` policy",
            ));
        }
        v.floor(
            "replication.operator.delay",
            o.delay,
            FLOOR_TIMER,
            "an operator resolves each conflict after this delay",
        )?;
        plan.operator = Some(o.delay);
    }
    plan.tables = Arc::new(tables);

    // --- workload ----------------------------------------------------------------------------
    let w = &spec.workload;
    if keys == 0 {
        return Err(v.err("workload.keys", "must be at least 1"));
    }
    // Per-key state is dense (observer mirror, replica tables): about 64 bytes per key per region.
    let state_bytes = keys as f64 * n as f64 * 64.0;
    if keys > u32::MAX as u64 || state_bytes > MAX_STATE_BYTES {
        return Err(v.err(
            "workload.keys",
            format!(
                "{} keys x {n} regions needs about {:.0} GiB of state, more than the {:.0} GiB allowed; lower `keys`",
                keys,
                state_bytes / (1u64 << 30) as f64,
                MAX_STATE_BYTES / (1u64 << 30) as f64
            ),
        ));
    }
    if let KeyDistribution::Zipf(s) = w.key_distribution {
        if !(s.is_finite() && s > 0.0) {
            return Err(v.err(
                "workload.key_distribution.zipf",
                format!("the exponent must be > 0, got {s}"),
            ));
        }
    }
    let rate_ok = |r: f64| r.is_finite() && (0.0..=10_000_000.0).contains(&r);
    if !rate_ok(w.rate_per_region) {
        return Err(v.err(
            "workload.rate_per_region",
            format!(
                "must be between 0 and 1e7 ops per second, got {}",
                w.rate_per_region
            ),
        ));
    }
    let mut rates = vec![w.rate_per_region; n];
    for (name, r) in &w.rates {
        let path = format!("workload.rates.{name}");
        let id = v.region(&path, name)?;
        if !rate_ok(*r) {
            return Err(v.err(
                path,
                format!("must be between 0 and 1e7 ops per second, got {r}"),
            ));
        }
        rates[id.idx()] = *r;
    }
    let mix = w.mix;
    let mut classes = Vec::new();
    let mut total = 0.0;
    for (name, write, level, weight) in mix.classes() {
        let path = format!("workload.mix.{name}");
        v.probability(&path, weight)?;
        total += weight;
        if weight == 0.0 {
            continue;
        }
        match (spec.replication.mode, write, level) {
            (Mode::MultiMaster | Mode::Quorum, false, Level::Primary) => {
                return Err(v.err(
                    path,
                    "only primary-backup and chain have a primary to read from; use read_quorum or read_all",
                ))
            }
            (Mode::Chain, true, l) if l != Level::Default => {
                return Err(v.err(
                    path,
                    "chain replication commits every write at the tail; use plain `write`",
                ))
            }
            _ => {}
        }
        classes.push((write, level, weight));
    }
    if (total - 1.0).abs() > 1e-9 {
        return Err(v.err(
            "workload.mix",
            format!("the operation weights must add up to 1, got {total}"),
        ));
    }
    let write_fraction: f64 = classes.iter().filter(|c| c.0).map(|c| c.2).sum();

    // --- bandwidth and cost --------------------------------------------------------------------
    let mut bandwidth_bps = vec![0u64; n * n];
    if let Some(bw) = &spec.network.bandwidth {
        if let Some(d) = bw.default {
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    bandwidth_bps[a * n + b] = d.bits_per_sec;
                }
            }
        }
        for (key, r) in &bw.links {
            let path = format!("network.bandwidth.links.\"{key}\"");
            for (a, b) in v.link(&path, key)? {
                bandwidth_bps[a.idx() * n + b.idx()] = r.bits_per_sec;
            }
        }
    }
    let cost_per_gb = match &spec.cost {
        None => None,
        Some(c) => Some(cost_table(&v, c, &regions, &lat.map)?),
    };

    // --- message classes and service times -----------------------------------------------------
    let mut msg_classes: [Option<ClassLatency>; 7] = Default::default();
    for (c, spec_c) in crate::replica::MsgClass::ALL
        .iter()
        .zip(spec.network.classes.all())
    {
        let Some(cl) = spec_c else { continue };
        let p = format!("network.classes.{}", c.name());
        if cl.default.is_none() && cl.links.is_empty() && cl.add.is_none() {
            return Err(v.err(p, "needs `default`, `links` or `add`"));
        }
        let mut links: Vec<Option<Sampler>> = vec![None; n * n];
        if let Some(d) = &cl.default {
            let smp = v.dist(&format!("{p}.default"), d)?;
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    links[a * n + b] = Some(smp.clone());
                }
            }
        }
        for (key, d) in &cl.links {
            let path = format!("{p}.links.\"{key}\"");
            let smp = v.dist(&path, d)?;
            for (a, b) in v.link(&path, key)? {
                links[a.idx() * n + b.idx()] = Some(smp.clone());
            }
        }
        let add = match &cl.add {
            Some(d) => Some(v.dist(&format!("{p}.add"), d)?),
            None => None,
        };
        msg_classes[*c as usize] = Some(ClassLatency { links, add });
    }
    let service = match &spec.service {
        None => None,
        Some(sv) => {
            let mut write = vec![None; n];
            let mut read = vec![None; n];
            let nonzero =
                |path: &str, d: &Option<DistSpec>| -> Result<Option<Sampler>, ScenarioError> {
                    match d {
                        None => Ok(None),
                        Some(d) => {
                            let smp = v.dist(path, d)?;
                            Ok((!smp.is_zero()).then_some(smp))
                        }
                    }
                };
            let (w, r) = (
                nonzero("service.write", &sv.write)?,
                nonzero("service.read", &sv.read)?,
            );
            write.iter_mut().for_each(|x| *x = w.clone());
            read.iter_mut().for_each(|x| *x = r.clone());
            for (name, t) in &sv.regions {
                let p = format!("service.regions.{name}");
                let i = v.region(&p, name)?.idx();
                if t.write.is_some() {
                    write[i] = nonzero(&format!("{p}.write"), &t.write)?;
                }
                if t.read.is_some() {
                    read[i] = nonzero(&format!("{p}.read"), &t.read)?;
                }
            }
            (write.iter().chain(&read).any(Option::is_some)).then_some(ServiceModel { write, read })
        }
    };

    let backup = match &spec.durability.backup {
        None => None,
        Some(b) => {
            let p = "durability.backup";
            if b.every < Span::from_secs(1) {
                return Err(v.err(
                    format!("{p}.every"),
                    format!("{} is too often: at least 1s between snapshots", b.every),
                ));
            }
            Some(Backup {
                every: b.every,
                store: v.region(&format!("{p}.store"), &b.store)?,
                bits_per_sec: b.bandwidth.bits_per_sec,
            })
        }
    };

    // --- faults ------------------------------------------------------------------------------
    let end = SimTime(spec.duration.0);
    let mut faults = Vec::new();
    for (i, f) in spec.faults.iter().enumerate() {
        let path = format!("faults[{i}]");
        let at = SimTime(f.at.0);
        if at >= end {
            return Err(v.err(
                format!("{path}.at"),
                format!(
                    "{} is not before the end of the run ({})",
                    f.at, spec.duration
                ),
            ));
        }
        if f.for_ == Some(Span::ZERO) {
            return Err(v.err(format!("{path}.for"), "must be longer than 0"));
        }
        let actions = [
            f.partition.is_some(),
            f.heal.is_some(),
            f.crash.is_some(),
            f.recover.is_some(),
            f.clock_step.is_some(),
            f.degrade.is_some(),
            f.promote.is_some(),
            f.follow_the_sun.is_some(),
            f.region_loss.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if actions != 1 {
            return Err(v.err(
                path,
                format!(
                    "needs exactly one of partition, heal, crash, region_loss, recover, clock_step, degrade, promote, follow_the_sun (found {actions})"
                ),
            ));
        }
        if (f.promote.is_some() || f.follow_the_sun.is_some()) && plan.failover.is_none() {
            return Err(v.err(
                path,
                "`promote` and `follow_the_sun` need `replication.failover` (auto or manual)",
            ));
        }
        if let Some(fs) = &f.follow_the_sun {
            let p = format!("{path}.follow_the_sun");
            if f.for_.is_some() {
                return Err(v.err(format!("{path}.for"), "`follow_the_sun` takes no `for`"));
            }
            if fs.regions.is_empty() {
                return Err(v.err(format!("{p}.regions"), "name at least one region"));
            }
            if fs.every < Span::from_secs(1) {
                return Err(v.err(
                    format!("{p}.every"),
                    format!("{} is too often: at least 1s between moves", fs.every),
                ));
            }
            let mut regions = Vec::new();
            for (j, name) in fs.regions.iter().enumerate() {
                regions.push((v.region(&format!("{p}.regions[{j}]"), name)?, name.clone()));
            }
            // One promote per move, until the end of the run.
            let mut t = at;
            let mut j = 0;
            while t < end {
                let (region, name) = regions[j % regions.len()].clone();
                let label = format!("promote {name} (follow the sun)");
                faults.push(Fault {
                    index: i,
                    at: t,
                    until: None,
                    action: FaultAction::Promote { region },
                    what: label.clone(),
                    label,
                });
                t += fs.every;
                j += 1;
            }
            continue;
        }
        let (action, label) = if let Some(r) = &f.region_loss {
            let region = v.region(&format!("{path}.region_loss"), r)?;
            (
                FaultAction::RegionLoss { region },
                format!("region loss {r}"),
            )
        } else if let Some(r) = &f.promote {
            if f.for_.is_some() {
                return Err(v.err(format!("{path}.for"), "`promote` takes no `for`"));
            }
            let region = v.region(&format!("{path}.promote"), r)?;
            (FaultAction::Promote { region }, format!("promote {r}"))
        } else if let Some(groups) = &f.partition {
            let p = format!("{path}.partition");
            if groups.len() < 2 && groups.iter().map(|g| g.len()).sum::<usize>() >= n {
                return Err(v.err(p, "a partition needs at least two sides"));
            }
            // Regions not named form one more side together.
            let mut side = vec![u32::MAX; n];
            for (g, members) in groups.iter().enumerate() {
                if members.is_empty() {
                    return Err(v.err(format!("{p}[{g}]"), "a side must name at least one region"));
                }
                for m in members {
                    let id = v.region(&format!("{p}[{g}]"), m)?;
                    if side[id.idx()] != u32::MAX {
                        return Err(v.err(p, format!("region `{m}` is named twice")));
                    }
                    side[id.idx()] = g as u32;
                }
            }
            let rest = groups.len() as u32;
            for s in &mut side {
                if *s == u32::MAX {
                    *s = rest;
                }
            }
            let label = format!(
                "partition {}",
                groups
                    .iter()
                    .map(|g| format!("[{}]", g.join(", ")))
                    .collect::<Vec<_>>()
                    .join(" | ")
            );
            (FaultAction::Partition { groups: side }, label)
        } else if let Some(h) = f.heal {
            if f.for_.is_some() {
                return Err(v.err(format!("{path}.for"), "`heal` takes no `for`"));
            }
            (
                FaultAction::Heal(h),
                format!(
                    "heal {}",
                    serde_yaml::to_string(&h).unwrap_or_default().trim()
                ),
            )
        } else if let Some(r) = &f.crash {
            let region = v.region(&format!("{path}.crash"), r)?;
            (FaultAction::Crash { region }, format!("crash {r}"))
        } else if let Some(r) = &f.recover {
            if f.for_.is_some() {
                return Err(v.err(format!("{path}.for"), "`recover` takes no `for`"));
            }
            let region = v.region(&format!("{path}.recover"), r)?;
            (FaultAction::Recover { region }, format!("recover {r}"))
        } else if let Some(cs) = &f.clock_step {
            if f.for_.is_some() {
                return Err(v.err(format!("{path}.for"), "`clock_step` takes no `for`"));
            }
            let region = v.region(&format!("{path}.clock_step.region"), &cs.region)?;
            (
                FaultAction::ClockStep {
                    region,
                    by_ns: cs.by.0,
                },
                format!("clock step {} by {}", cs.region, cs.by),
            )
        } else {
            let d = f.degrade.as_ref().expect("counted above");
            let p = format!("{path}.degrade");
            let links = v.link(&format!("{p}.link"), &d.link)?;
            if d.latency.is_none() && d.add_latency.is_none() && d.loss.is_none() {
                return Err(v.err(p, "needs at least one of latency, add_latency, loss"));
            }
            if let Some(l) = &d.latency {
                v.dist(&format!("{p}.latency"), l)?;
            }
            if let Some(l) = d.loss {
                v.probability(&format!("{p}.loss"), l)?;
            }
            let mut parts = vec![];
            if let Some(l) = &d.latency {
                parts.push(format!("latency {}", l.nominal()));
            }
            if let Some(a) = d.add_latency {
                parts.push(format!("+{a}"));
            }
            if let Some(l) = d.loss {
                parts.push(format!("loss {l}"));
            }
            (
                FaultAction::Degrade {
                    links,
                    latency: d.latency.clone(),
                    add_latency: d.add_latency,
                    loss: d.loss,
                },
                format!("degrade {} ({})", d.link, parts.join(", ")),
            )
        };
        let until = f.for_.map(|d| at + d);
        if let (Some(u), Some(d)) = (until, f.for_) {
            if u.0 > spec.duration.0 {
                warnings.push(format!(
                    "faults[{i}].for: {d} runs past the end of the run ({}); quiesce undoes it then, so it is cut off",
                    spec.duration
                ));
            }
        }
        let what = label.clone();
        let label = match f.for_ {
            Some(d) => format!("{label} for {d}"),
            None => label,
        };
        faults.push(Fault {
            index: i,
            at,
            until,
            action,
            label,
            what,
        });
    }
    // Stable: faults at the same instant apply in file order.
    faults.sort_by_key(|f| (f.at, f.index));

    if let Some(d) = &spec.expect.trace_digest {
        if d.len() != 16 || !d.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(v.err(
                "expect.trace_digest",
                format!("`{d}` is not a 16-digit hex digest"),
            ));
        }
    }

    // The sequence window: as configured, else around the first fault, else mid-run.
    let sequence_window = match &spec.report.sequence {
        Some(q) => {
            if q.from >= q.to {
                return Err(v.err(
                    "report.sequence",
                    format!("from ({}) must be before to ({})", q.from, q.to),
                ));
            }
            if q.from >= spec.duration {
                return Err(v.err(
                    "report.sequence.from",
                    format!(
                        "{} is not before the end of the run ({})",
                        q.from, spec.duration
                    ),
                ));
            }
            if let Some(k) = q.key {
                if k >= keys {
                    return Err(v.err(
                        "report.sequence.key",
                        format!("key {k} is outside the key space 0..{keys}"),
                    ));
                }
            }
            (SimTime(q.from.0), SimTime(q.to.0), q.key)
        }
        None => match faults.first() {
            Some(f) => (
                SimTime(f.at.0.saturating_sub(20_000_000)),
                f.at + Span::from_millis(150),
                None,
            ),
            None => {
                let mid = SimTime(spec.duration.0 / 2);
                (mid, mid + Span::from_millis(500), None)
            }
        },
    };

    if let Some(wx) = &spec.weather {
        let p = "weather";
        let start = wx.start.unwrap_or(Span::ZERO);
        let end = wx.end.unwrap_or(spec.duration);
        if start >= end || end > spec.duration {
            return Err(v.err(
                p,
                format!(
                    "needs start < end <= duration (got {start} .. {end}, duration {})",
                    spec.duration
                ),
            ));
        }
        let rate = |path: &str, r: f64| -> Result<(), ScenarioError> {
            if r.is_finite() && (0.0..=600.0).contains(&r) {
                Ok(())
            } else {
                Err(v.err(path, format!("per_min must be between 0 and 600, got {r}")))
            }
        };
        let span_range = |path: &str, r: &SpanRange| -> Result<(), ScenarioError> {
            if r.min == Span::ZERO || r.min > r.max {
                Err(v.err(
                    path,
                    format!("needs 0 < min <= max (got {} .. {})", r.min, r.max),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(w) = &wx.partitions {
            rate("weather.partitions.per_min", w.per_min)?;
            span_range("weather.partitions.duration", &w.duration)?;
            if w.shapes.is_empty() {
                return Err(v.err("weather.partitions.shapes", "needs at least one shape"));
            }
            if n < 2 {
                return Err(v.err("weather.partitions", "partitions need at least two regions"));
            }
            if n < 3 && w.shapes == [PartitionShape::NonTransitive] {
                return Err(v.err(
                    "weather.partitions.shapes",
                    "non-transitive cuts need at least three regions",
                ));
            }
        }
        if let Some(w) = &wx.crashes {
            rate("weather.crashes.per_min", w.per_min)?;
            span_range("weather.crashes.downtime", &w.downtime)?;
        }
        if let Some(w) = &wx.degrades {
            rate("weather.degrades.per_min", w.per_min)?;
            span_range("weather.degrades.duration", &w.duration)?;
            if n < 2 {
                return Err(v.err(
                    "weather.degrades",
                    "degraded links need at least two regions",
                ));
            }
            if let Some(l) = &w.add_latency {
                if l.min > l.max {
                    return Err(v.err("weather.degrades.add_latency", "needs min <= max"));
                }
            }
            if let Some(l) = &w.loss {
                v.probability("weather.degrades.loss.min", l.min)?;
                v.probability("weather.degrades.loss.max", l.max)?;
                if l.min > l.max {
                    return Err(v.err("weather.degrades.loss", "needs min <= max"));
                }
            }
            if w.add_latency.is_none() && w.loss.is_none() {
                return Err(v.err("weather.degrades", "needs add_latency, loss or both"));
            }
        }
        if let Some(w) = &wx.clock_steps {
            rate("weather.clock_steps.per_min", w.per_min)?;
            if w.by.min > w.by.max {
                return Err(v.err("weather.clock_steps.by", "needs min <= max"));
            }
        }
    }

    let stall_after = match spec.report.stall_after {
        Some(t) => {
            v.floor(
                "report.stall_after",
                t,
                Span::from_millis(1),
                "every write pending longer opens a stall interval",
            )?;
            t
        }
        None => default_stall_after(
            &latency,
            lat.jitter.as_ref().map_or(Span::ZERO, |j| j.nominal()),
            spec.replication.batch.max_delay,
        ),
    };

    Ok(Scenario {
        weather: spec.weather.clone(),
        sequence_window,
        stall_after,
        file: file.to_string(),
        name: spec.name.clone(),
        description: spec.description.clone(),
        seed: spec.seed.unwrap_or(1),
        duration: spec.duration,
        quiesce_limit: spec.quiesce_limit.unwrap_or(Span::from_secs(600)),
        regions,
        network: NetworkModel {
            latency,
            jitter,
            jitter_spec: lat.jitter.clone(),
            loss,
            duplicate,
            fifo: spec.network.fifo,
            bandwidth_bps,
            classes: msg_classes,
        },
        replication: spec.replication.clone(),
        durability: spec.durability.clone(),
        backup,
        plan: Arc::new(plan),
        cost_per_gb,
        service,
        workload: Workload {
            keys,
            tables: table_loads,
            sessions: w.sessions,
            key_distribution: w.key_distribution,
            rates,
            write_fraction,
            value_bytes: w.value_bytes,
            classes,
            reroute_after: w.reroute_after,
            retry,
            nominal: nominal_latency,
        },
        faults,
        expect: spec.expect.clone(),
        warnings,
        spec,
        source: String::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Key;

    const BASE: &str = r#"
name: t
duration: 10s
regions: [{ name: a }, { name: b }, { name: c }]
network:
  latency:
    default: 50ms
workload: { keys: 10, rate_per_region: 10 }
"#;

    fn with(extra: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&format!("{BASE}{extra}"), "t.yaml")
    }

    fn err(extra: &str) -> String {
        with(extra).unwrap_err().to_string()
    }

    const TABLES: &str = r#"
name: t
duration: 10s
regions: [{ name: a }, { name: b }]
network: { latency: { default: 50ms } }
workload:
  rate_per_region: 10
  tables:
    cart: { keys: 4, ops: { add: 0.5, remove: 0.5 } }
    stock: { keys: 3, share: 2, ops: { incr: 0.5, decr: 0.3, get: 0.2 } }
"#;

    fn tables(extra: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&format!("{TABLES}{extra}"), "t.yaml")
    }

    #[test]
    fn timer_settings_below_their_floor_are_refused_naming_path_and_floor() {
        // The issue's reproducers: both validated and then ran away.
        assert_eq!(
            err("replication: { anti_entropy: { interval: 1ns } }"),
            "t.yaml: replication.anti_entropy.interval: 1ns is below the 10ms floor \
             (every round compares digests with a peer across the network)"
        );
        assert_eq!(
            err("replication: { retransmit: { initial: 1ns, min: 1ns, max: 1ns } }"),
            "t.yaml: replication.retransmit.initial: 1ns is below the 1ms floor \
             (every unacknowledged message is resent each time it runs out)"
        );
        for (extra, path) in [
            (
                "replication: { retransmit: { initial: 1s, min: 999us } }",
                "replication.retransmit.min: 999us is below the 1ms floor",
            ),
            (
                "replication: { request_timeout: 10us }",
                "replication.request_timeout: 10us is below the 1ms floor",
            ),
            (
                "replication: { log_retention: 1ns }",
                "replication.log_retention: 1ns is below the 1ms floor",
            ),
            (
                "replication: { mode: primary-backup, failover: { detector: { interval: 100us } } }",
                "replication.failover.detector.interval: 100us is below the 1ms floor",
            ),
            (
                "clocks: { ntp: { interval: 1us } }",
                "clocks.ntp.interval: 1us is below the 1ms floor",
            ),
            (
                "durability: { flush_interval: 1ns }",
                "durability.flush_interval: 1ns is below the 1ms floor",
            ),
        ] {
            let e = err(extra);
            assert!(e.starts_with(&format!("t.yaml: {path} (")), "{extra}: {e}");
        }
        let w = |extra: &str| {
            Scenario::parse(
                &format!(
                    "{}{extra}",
                    BASE.replace("workload: { keys: 10, rate_per_region: 10 }\n", "")
                ),
                "t.yaml",
            )
            .unwrap_err()
            .to_string()
        };
        assert!(
            w("workload: { keys: 10, rate_per_region: 10, reroute_after: 1ns }")
                .starts_with("t.yaml: workload.reroute_after: 1ns is below the 1ms floor")
        );
        assert!(w(
            "workload: { keys: 10, rate_per_region: 10, retry: { attempts: 3, backoff: 1ns } }"
        )
        .starts_with("t.yaml: workload.retry.backoff: 1ns is below the 1ms floor"));
        // At the floor, and 0 where 0 means "off", are fine.
        with("replication: { anti_entropy: { interval: 10ms }, retransmit: { initial: 1ms, min: 1ms, max: 1ms } }")
            .unwrap();
        with("durability: { flush_interval: 0ms }").unwrap();
    }

    #[test]
    fn absurd_nesting_is_refused_before_parsing() {
        // The issue's reproducer: 100,000 levels took 43 s to refuse.
        let deep = format!("name: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
        assert_eq!(
            Scenario::parse(&deep, "deep.yaml").unwrap_err().to_string(),
            "deep.yaml:1:70: collections nested more than 64 levels deep; a scenario needs \
             fewer than ten, so this is refused before parsing"
        );
        // Block style: one mapping per line, each indented further; line 65 is level 65.
        let block: String = (0..100)
            .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
            .collect();
        assert!(Scenario::parse(&block, "b.yaml")
            .unwrap_err()
            .to_string()
            .starts_with("b.yaml:65:1: collections nested more than 64 levels"));
        // Brackets in quotes and comments do not count.
        let quoted = format!("name: '{}' # {}\n", "[".repeat(100), "{".repeat(100));
        assert!(!Scenario::parse(&quoted, "q.yaml")
            .unwrap_err()
            .to_string()
            .contains("nested"));
    }

    #[test]
    fn tables_lay_out_the_key_space_with_their_policies() {
        let s = tables("replication: { conflict: crdt }").unwrap();
        assert_eq!(s.workload.keys, 7);
        let t = &s.plan.tables;
        assert_eq!(
            (t.of(Key(3)).name.as_str(), t.policy(Key(3))),
            ("cart", Policy::OrSet)
        );
        assert_eq!(t.policy(Key(4)), Policy::PnCounter);
        assert!((s.workload.tables[0].share_upto - 1.0 / 3.0).abs() < 1e-12);
        let s = tables("replication: { conflict: siblings, tables: { stock: lww } }").unwrap();
        assert_eq!(
            s.plan.tables.policy(Key(0)),
            Policy::OrSet,
            "siblings: sets use OR-Sets"
        );
        assert_eq!(s.plan.tables.policy(Key(6)), Policy::Lww);
        assert_eq!(tables("").unwrap().plan.tables.policy(Key(0)), Policy::Lww);
    }

    #[test]
    fn table_mistakes_are_clear_errors() {
        let e = |x: &str| tables(x).unwrap_err().to_string();
        let m = e("replication: { tables: { cart: bag } }");
        assert!(
            m.contains("replication.tables.cart") && m.contains("unknown policy `bag`"),
            "{m}"
        );
        let m = e("replication: { tables: { cart: pn-counter } }");
        assert!(
            m.contains("`pn-counter` cannot hold table `cart`, which is a set"),
            "{m}"
        );
        let m = e("replication: { tables: { stock: g-counter } }");
        assert!(
            m.contains("g-counter only grows") && m.contains("decr"),
            "{m}"
        );
        let m = e("replication: { tables: { basket: or-set } }");
        assert!(
            m.contains("no workload table `basket` (tables: cart, stock)"),
            "{m}"
        );
        let m = e("replication: { mode: primary-backup, conflict: crdt }");
        assert!(m.contains("needs `replication.mode: multi-master`"), "{m}");
        let m = e("replication: { mode: primary-backup }");
        assert!(
            m.contains("needs `replication.mode: multi-master`"),
            "counter tables rewrite whole values: {m}"
        );
        let bad_ops = TABLES.replace("remove: 0.5", "remove: 0.4");
        let m = Scenario::parse(&bad_ops, "t.yaml").unwrap_err().to_string();
        assert!(
            m.contains("workload.tables.cart.ops") && m.contains("add up to 1"),
            "{m}"
        );
        let mixed = TABLES.replace("{ add: 0.5, remove: 0.5 }", "{ add: 0.5, incr: 0.5 }");
        let m = Scenario::parse(&mixed, "t.yaml").unwrap_err().to_string();
        assert!(
            m.contains("a table is a register (put), a counter (incr, decr), a set"),
            "{m}"
        );
        let m = Scenario::parse(
            &TABLES.replace(
                "rate_per_region: 10",
                "rate_per_region: 10\n  mix: { write: 0.5, read: 0.5 }",
            ),
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            m.contains("workload.mix") && m.contains("remove `mix`"),
            "{m}"
        );
        let m = Scenario::parse(
            &TABLES.replace("rate_per_region: 10", "rate_per_region: 10\n  keys: 9"),
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            m.contains("the tables hold 7 keys, but `keys` says 9"),
            "{m}"
        );
        let map = |ops: &str, fields: &str, policy: &str| {
            let t = TABLES.replace(
                "    stock:",
                &format!("    doc: {{ keys: 5, ops: {ops}{fields} }}\n    stock:"),
            );
            Scenario::parse(
                &format!("{t}replication: {{ tables: {{ doc: {policy} }} }}"),
                "t.yaml",
            )
        };
        let s = map("{ put: 0.5, remove: 0.2, get: 0.3 }", ", fields: 6", "crdt").unwrap();
        let doc = &s.plan.tables.0[1];
        assert_eq!(
            (doc.name.as_str(), doc.shape, doc.policy),
            ("doc", Shape::Map, Policy::OrMap)
        );
        assert_eq!(s.workload.tables[1].fields, 6);
        for (ops, fields, policy, want) in [
            (
                "{ put: 1 }",
                ", fields: 0",
                "lww",
                "workload.tables.doc.fields: must be at least 1",
            ),
            (
                "{ put: 0.5, add: 0.5 }",
                ", fields: 3",
                "lww",
                "workload.tables.doc.ops: a map table",
            ),
            (
                "{ put: 1 }",
                ", fields: 3",
                "or-set",
                "`or-set` cannot hold table `doc`, which is a map",
            ),
            (
                "{ put: 1 }",
                "",
                "lww-map",
                "`lww-map` cannot hold table `doc`, which is a register",
            ),
        ] {
            let m = map(ops, fields, policy).unwrap_err().to_string();
            assert!(m.contains(want), "{m}");
        }
        let t = TABLES.replace(
            "    stock:",
            "    doc: { keys: 5, ops: { put: 1 }, fields: 3 }\n    stock:",
        );
        let m = Scenario::parse(
            &format!("{t}replication: {{ conflict: siblings }}"),
            "t.yaml",
        );
        let policy = m.unwrap().plan.tables.0[1].policy;
        assert_eq!(policy, Policy::OrMap, "maps keep siblings per field");
        let m = err("replication: { tables: { x: lww } }");
        assert!(m.contains("no `workload.tables`"), "{m}");
        let m = err("replication: { conflict: last-writer }");
        assert!(m.contains("unknown variant `last-writer`"), "{m}");
    }

    #[test]
    fn minimal_scenario_is_valid() {
        let s = with("").unwrap();
        assert_eq!(s.n(), 3);
        assert_eq!(s.seed, 1);
        assert_eq!(s.quiesce_limit, Span::from_secs(600));
        assert!(s.network.latency[1].as_ref().unwrap().origin == "default");
    }

    #[test]
    fn unknown_key_reports_line_and_column() {
        let e = Scenario::parse(&format!("{BASE}bogus: 1\n"), "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.yaml:"), "{e}");
        assert!(e.contains("unknown field `bogus`"), "{e}");
    }

    #[test]
    fn semantic_errors_name_the_path() {
        let e = err("faults: [{ at: 1s, crash: zz }]");
        assert!(
            e.contains("faults[0].crash") && e.contains("unknown region `zz`"),
            "{e}"
        );
        let e = err("faults: [{ at: 11s, crash: a }]");
        assert!(
            e.contains("faults[0].at") && e.contains("not before the end"),
            "{e}"
        );
        let e = err("faults: [{ at: 1s, partition: [[a, b], [b]] }]");
        assert!(e.contains("named twice"), "{e}");
        let e = err("faults: [{ at: 1s, crash: a, heal: all }]");
        assert!(e.contains("exactly one"), "{e}");
    }

    #[test]
    fn probabilities_and_durations_are_checked() {
        let e = Scenario::parse(
            &BASE.replace("default: 50ms", "default: 50ms\n  loss: 1.5"),
            "t.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("network.loss") && e.contains("probability"),
            "{e}"
        );
        let e = Scenario::parse(&BASE.replace("duration: 10s", "duration: 0s"), "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("duration"), "{e}");
        let e = Scenario::parse(&BASE.replace("duration: 10s", "duration: -3s"), "t.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("negative"), "{e}");
    }

    #[test]
    fn missing_latency_without_default() {
        let text = BASE.replace("default: 50ms", "links: { \"a <-> b\": 10ms }");
        let e = Scenario::parse(&text, "t.yaml").unwrap_err().to_string();
        assert!(e.contains("no latency for a -> c"), "{e}");
    }

    #[test]
    fn duplicate_regions_are_refused() {
        let text = BASE.replace("{ name: c }", "{ name: a }");
        let e = Scenario::parse(&text, "t.yaml").unwrap_err().to_string();
        assert!(
            e.contains("regions[2].name") && e.contains("duplicate"),
            "{e}"
        );
    }

    #[test]
    fn preset_fills_pairs_and_flags_faster_than_light() {
        let text = r#"
name: p
duration: 10s
regions: [{ name: us }, { name: eu }]
network:
  latency:
    preset: aws-2023
    map: { us: us-east-1, eu: eu-west-1 }
    links: { "us -> eu": 5ms }
workload: { keys: 10, rate_per_region: 10 }
"#;
        let s = Scenario::parse(text, "p.yaml").unwrap();
        assert_eq!(s.network.latency[1].as_ref().unwrap().origin, "links");
        assert_eq!(s.network.latency[2].as_ref().unwrap().origin, "preset");
        assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
        assert!(s.warnings[0].contains("light in fibre"));
    }

    #[test]
    fn size_refusal() {
        let s = Scenario::parse(
            &BASE.replace("rate_per_region: 10", "rate_per_region: 1000000"),
            "t.yaml",
        )
        .unwrap();
        assert!(s.check_size(1_000_000).is_err());
        assert!(with("").unwrap().check_size(DEFAULT_MAX_EVENTS).is_ok());
    }

    #[test]
    fn bounds_accept_bare_values_and_maps() {
        let s =
            with("expect: { lost_acked_writes: 0, visibility_p99: { max: 5s }, after_heal: 2s }")
                .unwrap();
        assert_eq!(
            s.expect.lost_acked_writes,
            Some(Bound {
                min: None,
                max: Some(0)
            })
        );
        assert_eq!(
            s.expect.visibility_p99.unwrap().max,
            Some(Span::from_secs(5))
        );
        assert_eq!(s.expect.after_heal.unwrap().max, Some(Span::from_secs(2)));
    }
}
