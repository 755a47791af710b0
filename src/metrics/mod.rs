//! Read-only observers: visibility, replication lag, staleness, message counts, and the
//! end-of-run analysis of lost acknowledged writes and lost updates.
//!
//! The observer mirrors each region's per-key stamp from the replicas' `Note`s, so it never
//! inspects replica internals mid-run and never draws randomness: observing cannot perturb.

mod analysis;
mod events;
pub mod linearizable;
mod live;
mod sessions;
mod sets;
mod stats;
#[cfg(test)]
mod tests;

pub use crate::units::ns_to_ms;
use sessions::SessionLink;
pub use sessions::{SessionViolations, Sessions};
pub use stats::*;

/// A finished run's output, observed by the standard metrics.
pub type RunOutput = crate::engine::RunOutput<Observer>;

use crate::replica::data::{Policy, Tables, WriteKind};
use crate::replica::{Key, Level, MsgClass, Note, OpId, RegionId, Reply, Stamp};
use crate::series::{SeriesCollector, StalenessCollector};
use crate::time::{SimTime, Span};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// One client write as the observer knows it.
///
/// The run keeps one of these per write until the end-of-run analyses (lost writes, lost
/// updates, convergence after each heal) have read them, so it is the bulk of a run's memory:
/// 80 bytes, with the operation packed and the session links kept aside (only session runs
/// need them).
#[derive(Clone, Debug)]
pub struct WriteRec {
    pub key: u32,
    /// The client's region until the write is stamped, then the region that stamped it.
    pub origin: RegionId,
    /// The region whose client issued the write.
    pub client: RegionId,
    pub level: Level,
    pub issued: SimTime,
    pub stamp: Stamp,
    /// The stamp the key held at the origin when this write was stamped.
    pub seen: Stamp,
    pub acked: SimTime,
    pub visible: SimTime,
    pub covered: u64,
    /// This try failed and the client retried it as a later write.
    pub retried: bool,
    kind_tag: u8,
    kind_arg: u32,
}

/// A `WriteKind` as a tag and a 32-bit argument (kept as two fields of `WriteRec`, so the tag
/// fills padding): the workload's amounts are `u32`, so an increment keeps its sign in the tag
/// and its size in the argument.
fn pack_kind(k: WriteKind) -> (u8, u32) {
    match k {
        WriteKind::Put => (0, 0),
        // Amounts beyond 32 bits saturate; scenarios cannot express them (`amount: u32`).
        WriteKind::Incr(by) if by >= 0 => (1, by.min(u32::MAX as i64) as u32),
        WriteKind::Incr(by) => (2, by.unsigned_abs().min(u32::MAX as u64) as u32),
        WriteKind::Insert(e) => (3, e),
        WriteKind::Remove(e) => (4, e),
        WriteKind::PutField(e) => (5, e),
        WriteKind::RemoveField(e) => (6, e),
    }
}

fn unpack_kind(tag: u8, arg: u32) -> WriteKind {
    match tag {
        0 => WriteKind::Put,
        1 => WriteKind::Incr(arg as i64),
        2 => WriteKind::Incr(-(arg as i64)),
        3 => WriteKind::Insert(arg),
        4 => WriteKind::Remove(arg),
        5 => WriteKind::PutField(arg),
        _ => WriteKind::RemoveField(arg),
    }
}

/// No session tracking for this operation.
pub const NO_SESSION: u32 = u32::MAX;

impl WriteRec {
    /// A write a client in region `client` has just issued: not stamped, acked or seen yet.
    fn issued(
        key: u32,
        client: RegionId,
        level: Level,
        kind: WriteKind,
        issued: SimTime,
    ) -> WriteRec {
        let (kind_tag, kind_arg) = pack_kind(kind);
        WriteRec {
            key,
            origin: client,
            client,
            level,
            issued,
            stamp: Stamp::NONE,
            seen: Stamp::NONE,
            acked: SimTime::MAX,
            visible: SimTime::MAX,
            covered: 0,
            retried: false,
            kind_tag,
            kind_arg,
        }
    }

    pub fn is_acked(&self) -> bool {
        self.acked != SimTime::MAX
    }

    /// What the write did.
    pub fn kind(&self) -> WriteKind {
        unpack_kind(self.kind_tag, self.kind_arg)
    }
}

/// A read in progress as the observer needs it: its key and level, when it was issued, and the
/// newest write of its key acknowledged by then (stamp, ack time) - what a fresh read must return.
#[derive(Copy, Clone, Debug)]
pub struct ReadIssue {
    pub key: Key,
    pub level: Level,
    pub issued: SimTime,
    pub baseline: Stamp,
    pub baseline_acked: SimTime,
    /// The client region of that write.
    pub writer: RegionId,
    /// The client session that issued the read (`NO_SESSION` without session tracking).
    pub session: u32,
    /// What it must not be older than, if its level promises linearizability.
    pub lin: Option<linearizable::Bound>,
}

/// A write pending at a region for longer than this counts as that region being stalled,
/// unless the scenario says otherwise (`report.stall_after`, or its default relative to the
/// links' normal lag: see `scenario::default_stall_after`).
pub const STALL_THRESHOLD: Span = Span::from_secs(1);

pub struct Observer {
    n: usize,
    keys: usize,
    /// Key-major (`k * n + region`), so one key's stamps share a cache line.
    mirror: Vec<Stamp>,
    pub writes: Vec<WriteRec>,
    /// Per key: writes not yet visible everywhere, with their stamps inline so the scan on
    /// every apply does not touch the (large, cold) write log.
    pending: Vec<Vec<(Stamp, u32)>>,
    latest_acked: Vec<Stamp>,
    pub visibility_by_origin: Vec<LatencyStats>,
    pub lag: Vec<LatencyStats>,
    pub writes_issued: u64,
    pub writes_acked: u64,
    pub writes_failed: u64,
    /// Client retries of writes and of reads.
    pub write_retries: u64,
    pub read_retries: u64,
    pub reads_total: u64,
    pub reads_stale: u64,
    pub reads_failed: u64,
    pub msgs: MessageCounts,
    latest_acked_at: Vec<SimTime>,
    pub series: SeriesCollector,
    pub staleness: StalenessCollector,
    all_mask: u64,
    /// Per key, the regions holding it (partial placement), else every region.
    holders: Option<Arc<Vec<u64>>>,
    pub levels: [LevelStats; 5],
    /// Per key, the acknowledged writes (by index) that became its latest value, in order, so
    /// in stamp order. Indices rather than stamps: 4 bytes a write instead of 16, and only a
    /// stale read looks the stamps up.
    versions: Vec<Vec<u32>>,
    /// Messages and bytes per directed link (`from * n + to`).
    pub link_msgs: Vec<u64>,
    pub link_bytes: Vec<u64>,
    /// Per region: intervals during which some write acknowledged elsewhere had been pending
    /// there for over `stall_after`.
    stalls: Vec<Vec<(SimTime, SimTime)>>,
    /// How long a write may be pending at a region before it counts as stalled.
    pub stall_after: Span,
    /// Messages and bytes per message class (`MsgClass as usize`).
    pub class_msgs: [u64; 7],
    pub class_bytes: [u64; 7],
    pub ae: AeCounts,
    /// Per key: the client region of the newest acknowledged write.
    latest_acked_writer: Vec<u16>,
    /// Staleness by (writer region -> reader region), `writer * n + reader`.
    pub staleness_pairs: Vec<StalenessCollector>,
    /// Suspicions, elections, leadership and fencing (failover runs).
    pub fo: crate::failures::FailoverLog,
    /// Conflict policies per table, when any table is not plain last-writer-wins.
    tables: Option<Arc<Tables>>,
    pub conflicts: ConflictCounts,
    /// Set and map tables: per (key, element or field), the writes that added (put) it.
    set_adds: std::collections::BTreeMap<(u32, u32), Vec<u32>>,
    /// Set and map tables with merging values: (key, dot) of each add, to find the write again when a
    /// region that lost it merges it back (after it was visible everywhere).
    add_by_dot: std::collections::BTreeMap<(u32, u64), u32>,
    /// (add, later write): the later remove or re-add of the same element had seen the add
    /// where it was issued.
    add_observed: std::collections::BTreeSet<(u32, u32)>,
    /// Merging keys: the writes (key, dot) some live region reflects at the end.
    final_dots: Option<std::collections::BTreeSet<(u32, u64)>>,
    pub sessions: Sessions,
    /// The `linearizable-reads` check, when some read's level promises it.
    pub lin: Option<linearizable::Tracker>,
    /// Quorum mode: writes are blind (a coordinator stamps without reading, and may hold no
    /// copy at all), so what a write replaced knowingly is judged by real-time order too.
    real_time_order: bool,
    /// Reads in progress: key, level and issue time (for latency and staleness by level).
    reads_in_progress: std::collections::BTreeMap<OpId, ReadIssue>,
}

/// Conflicts as the replicas reported them while merging.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ConflictCounts {
    /// Merges that left a key with concurrent values (siblings), summed over regions.
    pub sibling_merges: u64,
    /// The most concurrent values any key held anywhere.
    pub max_siblings: u32,
    /// `manual` tables: conflicts that entered an operator queue (a restart re-parks what is
    /// left, counting it again), and how they left it.
    pub parked: u64,
    pub resolved_by_operator: u64,
    pub resolved_by_clients: u64,
    /// The longest any operator queue was, and time spent waiting in one.
    pub max_queue: u32,
    pub wait_ns_sum: u64,
    pub wait_ns_max: u64,
    /// Whole values asked for because a delta arrived without its predecessors.
    #[serde(default)]
    pub gap_fetches: u64,
}

impl Observer {
    /// `expected_writes` pre-sizes the write log (growing a large one copies it).
    pub fn new(
        n: usize,
        keys: u64,
        holders: Option<Arc<Vec<u64>>>,
        expected_writes: usize,
        bucket: Span,
    ) -> Observer {
        let keys = keys as usize;
        Observer {
            n,
            keys,
            mirror: vec![Stamp::NONE; n * keys],
            writes: Vec::with_capacity(expected_writes),
            pending: vec![Vec::new(); keys],
            latest_acked: vec![Stamp::NONE; keys],
            visibility_by_origin: (0..n).map(|_| LatencyStats::default()).collect(),
            lag: (0..n * n)
                .map(|_| LatencyStats::with_precision(2))
                .collect(),
            writes_issued: 0,
            writes_acked: 0,
            writes_failed: 0,
            write_retries: 0,
            read_retries: 0,
            reads_total: 0,
            reads_stale: 0,
            reads_failed: 0,
            msgs: MessageCounts::default(),
            latest_acked_at: vec![SimTime::ZERO; keys],
            series: SeriesCollector::new(n, bucket.0),
            staleness: StalenessCollector::default(),
            all_mask: if n == 64 { u64::MAX } else { (1u64 << n) - 1 },
            holders,
            levels: Default::default(),
            versions: vec![Vec::new(); keys],
            link_msgs: vec![0; n * n],
            link_bytes: vec![0; n * n],
            stalls: vec![Vec::new(); n],
            stall_after: STALL_THRESHOLD,
            class_msgs: [0; 7],
            class_bytes: [0; 7],
            ae: AeCounts::default(),
            latest_acked_writer: vec![0; keys],
            staleness_pairs: (0..n * n).map(|_| StalenessCollector::default()).collect(),
            fo: crate::failures::FailoverLog::new(n),
            tables: None,
            conflicts: ConflictCounts::default(),
            set_adds: Default::default(),
            add_by_dot: Default::default(),
            add_observed: Default::default(),
            final_dots: None,
            sessions: Sessions {
                ops: vec![0; n],
                ..Sessions::default()
            },
            lin: None,
            real_time_order: false,
            reads_in_progress: Default::default(),
        }
    }

    /// Judges lost updates by real-time order as well as by what the stamping region held
    /// (quorum mode, where the stamping region's copy says nothing about what a write
    /// replaces: a coordinator outside the key's replicas holds none).
    pub fn set_real_time_order(&mut self, on: bool) {
        self.real_time_order = on;
    }

    /// Tracks `per_region` client sessions per region (0: none). Called before the first write:
    /// the session links are kept per write, beside the write log.
    pub fn set_sessions(&mut self, per_region: u32) {
        debug_assert!(self.writes.is_empty(), "sessions are set before any write");
        self.sessions.per_region = per_region;
        self.sessions.violations.sessions = per_region as u64 * self.n as u64;
    }

    /// The writes to merging keys that survive somewhere at the end: (key, dot).
    /// A time daemon found region `r`'s wall clock off by `err_ns` (reported, never acted on).
    pub fn clock_error(&mut self, r: RegionId, err_ns: i64, now: SimTime) {
        self.series.clock_error(r.idx(), err_ns, now);
    }

    /// Judges keys by their tables' conflict policies (without this every key is LWW).
    pub fn set_tables(&mut self, t: Arc<Tables>) {
        if t.0.iter().any(|t| t.policy != Policy::Lww) || t.has_data() {
            self.tables = Some(t);
        }
    }

    /// The conflict policy of key `k`.
    #[inline]
    pub fn policy(&self, k: usize) -> Policy {
        match &self.tables {
            None => Policy::Lww,
            Some(t) => t.policy(Key(k as u64)),
        }
    }

    /// Whether key `k`'s values merge (its writes are tracked by dot, not by stamp order).
    #[inline]
    fn merges(&self, k: usize) -> bool {
        self.tables.is_some() && self.policy(k).merges()
    }

    /// The regions that hold `key` (its writes are visible once all of them have applied it).
    #[inline]
    pub fn holders(&self, key: usize) -> u64 {
        match &self.holders {
            None => self.all_mask,
            Some(h) => h[key],
        }
    }

    /// What a read issued now for `key` at `level` must be judged against.
    pub fn read_issue(&self, key: Key, level: Level, now: SimTime) -> ReadIssue {
        let k = key.0 as usize;
        ReadIssue {
            key,
            level,
            issued: now,
            baseline: self.latest_acked[k],
            baseline_acked: self.latest_acked_at[k],
            writer: RegionId(self.latest_acked_writer[k]),
            session: NO_SESSION,
            lin: self
                .lin
                .as_ref()
                .filter(|t| t.on[level.index()])
                .map(|t| linearizable::Bound {
                    write: self.versions[k].last().copied().unwrap_or(u32::MAX),
                    read: t.read_bound(k),
                }),
        }
    }

    /// Key `k`'s acknowledged writes that became its newest value, in stamp order.
    pub fn versions_of(&self, k: usize) -> &[u32] {
        &self.versions[k]
    }

    /// Whether key `k`'s values merge (its newest stamp does not order them).
    pub fn key_merges(&self, k: usize) -> bool {
        self.tables.is_some() && self.policy(k).merges()
    }
}
