//! The `replication` section's file format: mode, topology, sync, tables and their policies,
//! failover, anti-entropy, retransmission and durability.

use super::*;

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
    /// The policy of a table of `shape` that names none of its own.
    pub fn policy(self, shape: Shape) -> Policy {
        let named = match self {
            Conflict::Lww => Policy::Lww,
            Conflict::LwwHlc => Policy::LwwHlc,
            Conflict::Fww => Policy::Fww,
            Conflict::Siblings => Policy::Siblings,
            Conflict::Manual => Policy::Manual,
            Conflict::Crdt => return Policy::crdt_for(shape),
        };
        // Counters and sets cannot keep siblings usefully: they use their CRDTs, as Riak's
        // data types do beside its sibling-keeping objects.
        if named.fits(shape) {
            named
        } else {
            Policy::crdt_for(shape)
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
