//! Read-only observers: visibility, replication lag, staleness, message counts, and the
//! end-of-run analysis of lost acknowledged writes and lost updates.
//!
//! The observer mirrors each region's per-key stamp from the replicas' `Note`s, so it never
//! inspects replica internals mid-run and never draws randomness: observing cannot perturb.

mod events;

/// A finished run's output, observed by the standard metrics.
pub type RunOutput = crate::engine::RunOutput<Observer>;

use crate::replica::data::{Policy, Tables, WriteKind};
use crate::replica::{Key, Level, MsgClass, Note, OpId, RegionId, Reply, Stamp};
use crate::series::{SeriesCollector, StalenessCollector};
use crate::time::{SimTime, Span};
use hdrhistogram::Histogram;
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

/// A session write's links, kept beside the write log (only when sessions are tracked): the
/// session, its previous acknowledged write, and its latest read when this write was issued.
#[derive(Copy, Clone, Debug)]
struct SessionLink {
    session: u32,
    prev_write: u32,
    after_read: Option<(u32, Stamp)>,
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
    pub lin: Option<crate::linearizable::Bound>,
}

/// Exact count/mean/min/max plus hdrhistogram quantiles (3 significant digits).
pub struct LatencyStats {
    hist: Histogram<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        LatencyStats::with_precision(3)
    }
}

impl LatencyStats {
    /// `digits` significant digits, 1ns to one simulated day (longer values saturate). Per-pair
    /// lag uses 2 digits (1%): the pairs grow with n^2, and at 3 digits a 50-region mesh would
    /// need over half a gigabyte of histograms.
    pub fn with_precision(digits: u8) -> Self {
        LatencyStats {
            hist: Histogram::new_with_bounds(1, 86_400_000_000_000, digits).expect("valid bounds"),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// Latency statistics in milliseconds, as written to `summary.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatsMs {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Nanoseconds to milliseconds, rounded to the microsecond so JSON stays readable.
pub fn ns_to_ms(ns: u64) -> f64 {
    (ns / 1000) as f64 / 1000.0 + if ns % 1000 >= 500 { 0.001 } else { 0.0 }
}

impl LatencyStats {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
        self.count += 1;
        self.sum += ns as u128;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Folds `other` into this (exact count, sum, min and max; merged histogram).
    pub fn merge(&mut self, other: &LatencyStats) {
        self.hist.add(&other.hist).expect("same bounds");
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The recorded distribution as `(value ns, count)` pairs.
    pub fn recorded(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_ns(&self) -> u64 {
        self.max
    }

    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // hdrhistogram reports the top of the bucket; never exceed the exact maximum.
        self.hist.value_at_quantile(q).min(self.max).max(self.min)
    }

    pub fn to_ms(&self) -> StatsMs {
        if self.count == 0 {
            return StatsMs::default();
        }
        StatsMs {
            count: self.count,
            mean: ns_to_ms((self.sum / self.count as u128) as u64),
            min: ns_to_ms(self.min),
            p50: ns_to_ms(self.quantile_ns(0.5)),
            p90: ns_to_ms(self.quantile_ns(0.9)),
            p99: ns_to_ms(self.quantile_ns(0.99)),
            p999: ns_to_ms(self.quantile_ns(0.999)),
            max: ns_to_ms(self.max),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageCounts {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub dropped_partition: u64,
    pub dropped_loss: u64,
    pub dropped_crashed: u64,
    pub duplicated: u64,
    pub retransmitted: u64,
    pub bytes: u64,
    pub corrupt_entries: u64,
    /// Entries given up without hinted handoff (the replica missed the write).
    #[serde(default)]
    pub abandoned_entries: u64,
}

/// Anti-entropy as the regions reported it (bytes come from the per-class traffic counts).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AeCounts {
    pub sessions: u64,
    /// Sessions whose initiator heard the end (the rest lost a message on the way).
    pub finished: u64,
    /// Finished sessions whose trees already matched at the root.
    pub in_sync: u64,
    pub rounds_sum: u64,
    pub rounds_max: u64,
    pub keys_repaired: u64,
    /// What shipping each session initiator's whole shared state would have cost instead.
    pub full_state_bytes: u64,
    /// (start, end) of each finished session that found differences to repair: the
    /// anti-entropy phase a fault can strike in.
    pub repairing: Vec<(SimTime, SimTime)>,
}

/// Operations at one consistency level.
#[derive(Default)]
pub struct LevelStats {
    pub write_latency: LatencyStats,
    pub read_latency: LatencyStats,
    pub writes_failed: u64,
    pub reads_failed: u64,
    pub reads_stale: u64,
    /// Sum and maximum of versions-behind over stale reads.
    pub k_stale_sum: u64,
    pub k_stale_max: u64,
}

/// A write pending at a region for longer than this counts as that region being stalled,
/// unless the scenario says otherwise (`report.stall_after`, or its default relative to the
/// links' normal lag: see `scenario::default_stall_after`).
pub const STALL_THRESHOLD: Span = Span::from_secs(1);

/// One lost update, described so a person can find it in a trace.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LostUpdateExample {
    pub key: u64,
    pub lost_op: u64,
    pub lost_region: String,
    pub lost_acked_ms: f64,
    /// How far the losing write's clock was behind the value it had already seen (skew only).
    pub skew_ms: Option<f64>,
    pub winner_op: Option<u64>,
    pub winner_region: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LostUpdates {
    /// Acknowledged writes silently overwritten by a write that never saw them.
    pub total: u64,
    /// ...of which the two writes were concurrent (neither saw the other).
    pub concurrent: u64,
    /// ...of which the lost write had already seen a newer-stamped value: causally later,
    /// lost only because its region's clock was behind. (First-writer-wins: the lost write was
    /// acknowledged before the winner was even issued, and lost because its clock ran ahead.)
    pub skew: u64,
    /// First-writer-wins: later writes dropped because the key already had a value they had
    /// seen (the policy's intent, but acknowledged all the same).
    #[serde(default)]
    pub rejected: u64,
    pub max_skew_ms: f64,
    pub examples: Vec<LostUpdateExample>,
    /// Origin region and acknowledgement time of each lost write (for the series only).
    #[serde(skip)]
    pub lost_at: Vec<(usize, SimTime)>,
}

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
    pub lin: Option<crate::linearizable::Tracker>,
    /// Quorum mode: writes are blind (a coordinator stamps without reading, and may hold no
    /// copy at all), so what a write replaced knowingly is judged by real-time order too.
    real_time_order: bool,
    /// Reads in progress: key, level and issue time (for latency and staleness by level).
    reads_in_progress: std::collections::BTreeMap<OpId, ReadIssue>,
}

/// Client sessions and the guarantees they were given (Terry et al., 1994).
#[derive(Default)]
pub struct Sessions {
    /// Sessions per region (0: not tracked). A region's operations take its sessions in turn.
    pub per_region: u32,
    ops: Vec<u64>,
    /// Per write (by index, only when sessions are tracked): its session links.
    links: Vec<SessionLink>,
    /// Per (session, key): the session's newest acknowledged write, and the newest stamp it
    /// read.
    wrote: std::collections::BTreeMap<(u32, u32), u32>,
    read: std::collections::BTreeMap<(u32, u32), Stamp>,
    /// Per session: its newest acknowledged write and its newest read (key, stamp).
    last_write: std::collections::BTreeMap<u32, u32>,
    last_read: std::collections::BTreeMap<u32, (u32, Stamp)>,
    pub violations: SessionViolations,
}

impl Sessions {
    /// Whether sessions are tracked (then every operation belongs to one).
    #[inline]
    fn tracked(&self) -> bool {
        self.per_region != 0
    }
}

/// Violations per session guarantee, with the first of each described.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SessionViolations {
    pub sessions: u64,
    /// A read missed a write its own session had acknowledged.
    pub read_your_writes: u64,
    /// A read returned an older value of a key than the session had already read.
    pub monotonic_reads: u64,
    /// A region applied a session's write before that session's previous write.
    pub monotonic_writes: u64,
    /// A region applied a session's write before the write that session had read first.
    pub writes_follow_reads: u64,
    pub examples: Vec<String>,
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

    fn violation(&mut self, what: String) {
        let v = &mut self.sessions.violations;
        if v.examples.len() < 4 {
            v.examples.push(what);
        }
    }

    /// The writes to merging keys that survive somewhere at the end: (key, dot).
    /// A time daemon found region `r`'s wall clock off by `err_ns` (reported, never acted on).
    pub fn clock_error(&mut self, r: RegionId, err_ns: i64, now: SimTime) {
        self.series.clock_error(r.idx(), err_ns, now);
    }

    pub fn set_final_dots(&mut self, dots: std::collections::BTreeSet<(u32, u64)>) {
        self.final_dots = Some(dots);
    }

    /// Region `r` restarted and its merging key `key` now reflects exactly `dots`: writes it
    /// had covered but lost are pending there again.
    pub fn resync_dots(&mut self, r: RegionId, key: Key, dots: &[crate::replica::causal::Dot]) {
        let bit = 1u64 << r.0;
        let lost = |s: Stamp| {
            dots.binary_search(&crate::replica::causal::Dot(s.tie))
                .is_err()
        };
        for &(s, w) in &self.pending[key.0 as usize] {
            let rec = &mut self.writes[w as usize];
            if rec.covered & bit != 0 && lost(s) {
                rec.covered &= !bit;
            }
        }
        // Set adds visible everywhere have left `pending`, but the add-wins oracle asks what
        // this region holds when it next removes: clear those it lost too.
        let k = key.0 as u32;
        for (_, adds) in self.set_adds.range((k, 0)..=(k, u32::MAX)) {
            for &a in adds {
                let rec = &mut self.writes[a as usize];
                if rec.covered & bit != 0 && lost(rec.stamp) {
                    rec.covered &= !bit;
                }
            }
        }
    }

    /// Set tables with add-wins semantics: an element should be present iff some add of it
    /// survives and no remove (nor re-add) issued where that add had been seen. Returns, per
    /// key, the elements that should be present, and the add writes per (key, element).
    pub fn add_wins_oracle(&self) -> std::collections::BTreeMap<u32, Vec<u32>> {
        let mut want: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (&(k, e), adds) in &self.set_adds {
            let v = want.entry(k).or_default();
            if adds.iter().any(|&a| self.add_is_live(a)) {
                v.push(e);
            }
        }
        want
    }

    /// Live: the add (or put of a field) survives and no surviving remove, re-add or later
    /// put of the same element or field had seen it where it was issued.
    fn add_is_live(&self, a: u32) -> bool {
        self.survives(&self.writes[a as usize])
            && !self
                .add_observed
                .range((a, 0)..=(a, u32::MAX))
                .any(|&(_, by)| self.survives(&self.writes[by as usize]))
    }

    /// Map tables with add-wins semantics: per (key, field), the puts a field should hold
    /// (live puts, oldest first); fields without any are absent from the map.
    pub fn live_puts(&self) -> std::collections::BTreeMap<(u32, u32), Vec<u32>> {
        self.set_adds
            .iter()
            .filter_map(|(&kf, adds)| {
                let live: Vec<u32> = adds
                    .iter()
                    .copied()
                    .filter(|&a| self.add_is_live(a))
                    .collect();
                (!live.is_empty()).then_some((kf, live))
            })
            .collect()
    }

    /// Whether write `by` had seen write `a` (of the same element or field) where it was
    /// issued.
    pub fn observed(&self, a: u32, by: u32) -> bool {
        self.add_observed.contains(&(a, by))
    }

    /// The add writes of element `e` of key `k` (set tables).
    pub fn adds_of(&self, k: u32, e: u32) -> Vec<u32> {
        self.set_adds.get(&(k, e)).cloned().unwrap_or_default()
    }

    /// The acknowledged writes of key `k` overwritten by a write that never saw them (the
    /// lost updates of one key, oldest first).
    pub fn lost_update_ops(&self, k: u32) -> Vec<u32> {
        let fin = self.final_stamp(k as usize);
        let mut ws: Vec<u32> = (0..self.writes.len() as u32)
            .filter(|&i| {
                let w = &self.writes[i as usize];
                w.key == k && !w.stamp.is_none()
            })
            .collect();
        let mut seen: Vec<Stamp> = ws.iter().map(|&i| self.writes[i as usize].seen).collect();
        seen.sort_unstable();
        ws.sort_by_key(|&i| self.writes[i as usize].stamp);
        ws.retain(|&i| {
            let w = &self.writes[i as usize];
            w.is_acked() && w.stamp < fin && seen.binary_search(&w.stamp).is_err()
        });
        ws
    }

    /// Whether write `i`'s effect is still somewhere at the end of the run (merging keys by
    /// dot; under last-writer-wins it survives as long as it was stamped).
    pub fn survives(&self, w: &WriteRec) -> bool {
        if w.stamp.is_none() {
            return false;
        }
        match &self.final_dots {
            Some(d) if self.merges(w.key as usize) => d.contains(&(w.key, w.stamp.tie)),
            _ => true,
        }
    }

    /// A session read of `ri.key` at region `r` returned stamp `got`: it must reflect the
    /// session's own acknowledged write (read your writes) and be no older than what the
    /// session read before (monotonic reads).
    fn session_read(&mut self, r: RegionId, ri: ReadIssue, got: Stamp, now: SimTime) {
        let (s, k) = (ri.session, ri.key.0 as u32);
        if let Some(&w) = self.sessions.wrote.get(&(s, k)) {
            let rec = &self.writes[w as usize];
            let missing = if self.merges(k as usize) {
                rec.covered & (1u64 << r.0) == 0
            } else {
                got < rec.stamp
            };
            if missing {
                self.sessions.violations.read_your_writes += 1;
                self.violation(format!(
                    "read your writes: session {s} read key {k} at region {} at {:.3}ms without its own write {w}",
                    r.0,
                    ns_to_ms(now.0)
                ));
            }
        }
        let prev = self.sessions.read.get(&(s, k)).copied();
        if prev.is_some_and(|p| got < p) && !self.merges(k as usize) {
            self.sessions.violations.monotonic_reads += 1;
            self.violation(format!(
                "monotonic reads: session {s} read key {k} at region {} at {:.3}ms and got an older value than it had read before",
                r.0,
                ns_to_ms(now.0)
            ));
        }
        let newest = prev.map_or(got, |p| p.max(got));
        self.sessions.read.insert((s, k), newest);
        self.sessions.last_read.insert(s, (k, got));
    }

    /// A region is applying session write `w`: it must already hold the session's
    /// previous write (monotonic writes) and what the session had read before issuing `w`
    /// (writes follow reads).
    fn session_order(&mut self, w: u32, r: RegionId, now: SimTime) {
        let bit = 1u64 << r.0;
        let SessionLink {
            session,
            prev_write: prev,
            after_read: after,
        } = self.sessions.links[w as usize];
        if prev != NO_SESSION && self.writes[prev as usize].covered & bit == 0 {
            self.sessions.violations.monotonic_writes += 1;
            self.violation(format!(
                "monotonic writes: region {} applied write {w} of session {session} at {:.3}ms before the session's previous write {prev}",
                r.0,
                ns_to_ms(now.0)
            ));
        }
        if let Some((k, stamp)) = after {
            let have = self.mirror[k as usize * self.n + r.idx()];
            if !self.merges(k as usize) && have < stamp {
                self.sessions.violations.writes_follow_reads += 1;
                self.violation(format!(
                    "writes follow reads: region {} applied write {w} of session {session} at {:.3}ms without the value of key {k} the session had read ({stamp})",
                    r.0,
                    ns_to_ms(now.0)
                ));
            }
        }
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

    /// A message left `from` for `to`.
    #[inline]
    pub fn on_send(
        &mut self,
        from: RegionId,
        to: RegionId,
        bytes: u64,
        retransmission: bool,
        class: MsgClass,
    ) {
        self.class_msgs[class as usize] += 1;
        self.class_bytes[class as usize] += bytes;
        let m = &mut self.msgs;
        m.sent += 1;
        m.bytes += bytes;
        if retransmission {
            m.retransmitted += 1;
        }
        let l = from.idx() * self.n + to.idx();
        self.link_msgs[l] += 1;
        self.link_bytes[l] += bytes;
    }

    fn stall(&mut self, r: RegionId, from: SimTime, to: SimTime) {
        let v = &mut self.stalls[r.idx()];
        v.push((from, to));
        if v.len() >= 4096 {
            *v = merge_intervals(std::mem::take(v));
        }
    }

    /// Per region: (total time stalled, longest stall, intervals), merged.
    pub fn stalls(&self) -> Vec<Vec<(SimTime, SimTime)>> {
        self.stalls
            .iter()
            .map(|v| merge_intervals(v.clone()))
            .collect()
    }

    /// A client issued an operation at region `r` (before the replica sees it).
    /// `kind` is None for a read. Returns the operation's client session.
    pub fn on_issue(
        &mut self,
        r: RegionId,
        op: OpId,
        key: Key,
        kind: Option<WriteKind>,
        level: Level,
        now: SimTime,
    ) -> u32 {
        let ss = &mut self.sessions;
        let session = if ss.per_region == 0 {
            NO_SESSION
        } else {
            let i = ss.ops[r.idx()];
            ss.ops[r.idx()] += 1;
            r.0 as u32 * ss.per_region + (i % ss.per_region as u64) as u32
        };
        let Some(kind) = kind else {
            return session;
        };
        debug_assert_eq!(op.0, self.writes.len() as u64);
        self.writes_issued += 1;
        if session != NO_SESSION {
            ss.links.push(SessionLink {
                session,
                prev_write: ss.last_write.get(&session).copied().unwrap_or(NO_SESSION),
                after_read: ss.last_read.get(&session).copied(),
            });
        }
        self.writes
            .push(WriteRec::issued(key.0 as u32, r, level, kind, now));
        session
    }

    /// A client retries write `old` as the new write `new` (a retried write is a new write:
    /// the failed try may still be applied somewhere). The retry keeps the first try's issue
    /// time, so its latency includes the failed tries and the backoff, and it is not counted
    /// as issued again.
    pub fn on_retry_write(&mut self, old: OpId, new: OpId) {
        debug_assert_eq!(new.0, self.writes.len() as u64);
        self.writes[old.0 as usize].retried = true;
        let o = &self.writes[old.0 as usize];
        let rec = WriteRec::issued(o.key, o.client, o.level, o.kind(), o.issued);
        self.writes.push(rec);
        if let Some(&link) = self.sessions.links.get(old.0 as usize) {
            self.sessions.links.push(link);
        }
        self.write_retries += 1;
    }

    #[inline]
    fn cover(&mut self, w: u32, r: RegionId, now: SimTime) -> bool {
        let rec = &mut self.writes[w as usize];
        let bit = 1u64 << r.0;
        if rec.covered & bit != 0 {
            return false;
        }
        rec.covered |= bit;
        let (acked, origin, key) = (rec.acked, rec.origin, rec.key);
        if r != origin && rec.is_acked() {
            let lag = now.saturating_since(acked).0;
            self.lag[origin.idx() * self.n + r.idx()].record(lag);
            self.series.lag(r.idx(), lag, now);
            self.series.backlog_sub(r.idx(), now);
            if lag > self.stall_after.0 {
                self.stall(r, acked + self.stall_after, now);
            }
        }
        let mask = self.holders(key as usize);
        let rec = &mut self.writes[w as usize];
        if rec.covered & mask == mask {
            rec.visible = now;
            if rec.is_acked() {
                let v = now.saturating_since(rec.acked).0;
                self.visibility_by_origin[rec.origin.idx()].record(v);
            }
            return true;
        }
        false
    }

    pub fn on_note(&mut self, r: RegionId, note: Note, now: SimTime) {
        match note {
            Note::WriteStamped {
                op,
                key,
                stamp,
                seen,
            } => {
                let k = key.0 as usize;
                self.fo.stamped(r, op, stamp, now);
                let rec = &mut self.writes[op.0 as usize];
                rec.stamp = stamp;
                rec.seen = seen;
                rec.origin = r;
                let kind = rec.kind();
                if let (Some(t), Some((e, adds_it))) = (&self.tables, kind.member()) {
                    if t.of(key).policy.add_wins() {
                        // What this write's region held of the element: a remove takes those
                        // adds away; a re-add replaces them.
                        let bit = 1u64 << r.0;
                        let adds = self.set_adds.entry((k as u32, e)).or_default();
                        for &a in adds.iter() {
                            if self.writes[a as usize].covered & bit != 0 {
                                self.add_observed.insert((a, op.0 as u32));
                            }
                        }
                        if adds_it {
                            adds.push(op.0 as u32);
                            self.add_by_dot.insert((k as u32, stamp.tie), op.0 as u32);
                        }
                    }
                }
                // Regions that already hold a newer value cover this write from the start
                // (under last-writer-wins; a merging key covers each write when it merges it).
                if !self.merges(k) {
                    for q in 0..self.n {
                        if self.mirror[k * self.n + q] >= stamp {
                            self.cover(op.0 as u32, RegionId(q as u16), now);
                        }
                    }
                }
                let mask = self.holders(k);
                if self.writes[op.0 as usize].covered & mask != mask {
                    self.pending[k].push((stamp, op.0 as u32));
                }
            }
            Note::Applied { key, old, new } => {
                let k = key.0 as usize;
                self.mirror[k * self.n + r.idx()] = new;
                let mut i = 0;
                while i < self.pending[k].len() {
                    let (s, w) = self.pending[k][i];
                    if s == new && self.sessions.tracked() {
                        // This region applies the write itself (the others in the range it
                        // only supersedes): it must hold what the session did before.
                        self.session_order(w, r, now);
                    }
                    if s > old && s <= new && self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Note::Merged { key, dot, siblings } => {
                let k = key.0 as usize;
                if siblings > 1 {
                    self.conflicts.sibling_merges += 1;
                }
                self.series.merged(r.idx(), siblings, now);
                self.conflicts.max_siblings = self.conflicts.max_siblings.max(siblings);
                if let Some(i) = self.pending[k].iter().position(|(s, _)| s.tie == dot.0) {
                    let (s, w) = self.pending[k][i];
                    if self.sessions.tracked() {
                        self.session_order(w, r, now);
                    }
                    let m = &mut self.mirror[k * self.n + r.idx()];
                    *m = (*m).max(s);
                    if self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    }
                } else if let Some(&w) = self.add_by_dot.get(&(k as u32, dot.0)) {
                    // Visible everywhere already, then lost here and merged back.
                    self.writes[w as usize].covered |= 1u64 << r.0;
                }
            }
            other => self.on_rare_note(r, other, now),
        }
    }

    /// Notes that arrive a few times per run (faults, failover, anti-entropy, operator
    /// queues): kept out of line so the per-write path above stays small in the i-cache.
    #[cold]
    #[inline(never)]
    fn on_rare_note(&mut self, r: RegionId, note: Note, now: SimTime) {
        match note {
            Note::Parked { depth, .. } => {
                self.conflicts.parked += 1;
                self.conflicts.max_queue = self.conflicts.max_queue.max(depth);
                self.series.parked(r.idx(), depth as u64, now);
            }
            Note::Unparked {
                waited,
                by_operator,
                depth,
                ..
            } => {
                if by_operator {
                    self.conflicts.resolved_by_operator += 1;
                } else {
                    self.conflicts.resolved_by_clients += 1;
                }
                self.conflicts.wait_ns_sum += waited.0;
                self.conflicts.wait_ns_max = self.conflicts.wait_ns_max.max(waited.0);
                self.series.parked(r.idx(), depth as u64, now);
            }
            Note::GapFetch { .. } => self.conflicts.gap_fetches += 1,
            Note::CorruptEntry => self.msgs.corrupt_entries += 1,
            Note::Abandoned { entries } => self.msgs.abandoned_entries += entries as u64,
            Note::AeStarted { full_state_bytes } => {
                self.ae.sessions += 1;
                self.ae.full_state_bytes += full_state_bytes;
            }
            Note::AeFinished {
                rounds,
                in_sync,
                took,
            } => {
                if !in_sync {
                    self.ae
                        .repairing
                        .push((SimTime(now.0.saturating_sub(took.0)), now));
                }
                self.ae.finished += 1;
                self.ae.in_sync += in_sync as u64;
                self.ae.rounds_sum += rounds as u64;
                self.ae.rounds_max = self.ae.rounds_max.max(rounds as u64);
            }
            Note::AeRepaired { keys } => self.ae.keys_repaired += keys as u64,
            Note::Suspect { peer } => self.fo.suspect(r, peer, now),
            Note::Trusted { .. } => {}
            Note::Restored { keys, bytes } => self.fo.restored(r, keys, bytes, now),
            Note::PromoteRequested { planned } => self
                .fo
                .note(crate::failures::FoKind::Promote { region: r, planned }, now),
            Note::HandingOver { to } => self
                .fo
                .note(crate::failures::FoKind::HandingOver { from: r, to }, now),
            Note::ElectionStarted { term } => self.fo.election(r, term, now),
            Note::BecameLeader { term, prev } => self.fo.became_leader(r, term, prev, now),
            Note::SteppedDown { term, deposed } => self.fo.stepped_down(r, term, deposed, now),
            Note::Fenced { op } => self.fo.fenced.push(op),
            Note::ChainChanged {
                members,
                joining,
                tail,
                reads,
            } => self.fo.note(
                crate::failures::FoKind::ChainChanged {
                    head: r,
                    members,
                    joining,
                    tail,
                    reads,
                },
                now,
            ),
            Note::Rewound { key, old: _, new } => {
                self.fo.rewound_keys += 1;
                let k = key.0 as usize;
                self.mirror[k * self.n + r.idx()] = new;
                // Writes this region covered only through the discarded value are pending
                // here again. Those the installed value is at least as new as are covered now:
                // the region holds them or what replaced them (installed, not applied, so no
                // `Applied` note will say so; left pending they were never visible everywhere
                // and the heal "never converged" although every region ended equal).
                let bit = 1u64 << r.0;
                let mut i = 0;
                while i < self.pending[k].len() {
                    let (s, w) = self.pending[k][i];
                    if s > new {
                        self.writes[w as usize].covered &= !bit;
                        i += 1;
                    } else if !self.fo.discarded(s) && self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Note::WriteStamped { .. } | Note::Applied { .. } | Note::Merged { .. } => {
                unreachable!("handled by on_note")
            }
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
            lin: self.lin.as_ref().filter(|t| t.on[level.index()]).map(|t| {
                crate::linearizable::Bound {
                    write: self.versions[k].last().copied().unwrap_or(u32::MAX),
                    read: t.read_bound(k),
                }
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

    /// A reply reached a client at `r`; `read` describes the read it answers.
    pub fn on_reply(&mut self, r: RegionId, reply: Reply, read: Option<ReadIssue>, now: SimTime) {
        match reply {
            Reply::WriteOk { op, stamp } => {
                self.writes_acked += 1;
                self.series.op(r.idx(), true, now);
                let rec = &self.writes[op.0 as usize];
                let k = rec.key as usize;
                if self.sessions.tracked() {
                    let s = self.sessions.links[op.0 as usize].session;
                    self.sessions.wrote.insert((s, k as u32), op.0 as u32);
                    self.sessions.last_write.insert(s, op.0 as u32);
                }
                self.levels[rec.level.index()]
                    .write_latency
                    .record(now.saturating_since(rec.issued).0);
                if stamp > self.latest_acked[k] {
                    self.latest_acked[k] = stamp;
                    self.latest_acked_at[k] = now;
                    self.latest_acked_writer[k] = r.0;
                    debug_assert_eq!(self.writes[op.0 as usize].stamp, stamp);
                    self.versions[k].push(op.0 as u32);
                }
                let mask = self.holders(k);
                let rec = &mut self.writes[op.0 as usize];
                rec.acked = now;
                // Coverage that happened before the ack counts as zero lag; the rest is backlog.
                let (origin, covered) = (rec.origin, rec.covered);
                for q in 0..self.n {
                    if q == origin.idx() || mask & (1 << q) == 0 {
                        continue;
                    }
                    if covered & (1 << q) != 0 {
                        self.lag[origin.idx() * self.n + q].record(0);
                    } else {
                        self.series.backlog_add(q, now);
                    }
                }
                if covered & mask == mask {
                    self.visibility_by_origin[origin.idx()].record(0);
                }
            }
            Reply::ReadOk { cell, by, .. } => {
                self.reads_total += 1;
                self.series.op(r.idx(), true, now);
                let Some(ri) = read else { return };
                let k = ri.key.0 as usize;
                if let (Some(t), Some(bound)) = (self.lin.as_mut(), ri.lin) {
                    let acked = match bound.write {
                        u32::MAX => Stamp::NONE,
                        w => self.writes[w as usize].stamp,
                    };
                    let s = crate::linearizable::Suspect {
                        key: k as u32,
                        region: r,
                        by,
                        issued: ri.issued,
                        done: now,
                        got: cell.map_or(Stamp::NONE, |c| c.stamp),
                        got_write: cell.map_or(u32::MAX, |c| c.value.0 as u32),
                        bound,
                        prior: (SimTime(0), r),
                    };
                    t.completed(s, acked);
                }
                let lv = &mut self.levels[ri.level.index()];
                lv.read_latency.record(now.saturating_since(ri.issued).0);
                let got = cell.map_or(Stamp::NONE, |c| c.stamp);
                if ri.session != NO_SESSION {
                    self.session_read(r, ri, got, now);
                }
                // Stale: older than a write acknowledged before the read began. (A write acked
                // while the read was in flight is concurrent with it; either answer is fresh.)
                let latest = ri.baseline;
                let behind = if self.tables.is_some() && self.policy(k).merges() {
                    // A merged value is stale if it lacks any write acknowledged before the
                    // read began (its newest stamp alone cannot tell).
                    let bit = 1u64 << r.0;
                    self.pending[k]
                        .iter()
                        .filter(|&&(_, w)| {
                            let rec = &self.writes[w as usize];
                            rec.acked <= ri.issued && rec.covered & bit == 0
                        })
                        .count() as u64
                } else if got < latest {
                    // Versions behind: acknowledged latest values newer than what was read.
                    let (v, log) = (&self.versions[k], &self.writes);
                    let upto = |s: Stamp| v.partition_point(|&w| log[w as usize].stamp <= s);
                    (upto(latest) - upto(got)) as u64
                } else {
                    0
                };
                let lv = &mut self.levels[ri.level.index()];
                if behind > 0 {
                    self.reads_stale += 1;
                    lv.reads_stale += 1;
                    lv.k_stale_sum += behind;
                    lv.k_stale_max = lv.k_stale_max.max(behind);
                }
                if !latest.is_none() {
                    let age = ri.issued.saturating_since(ri.baseline_acked).0;
                    self.staleness.record(age, behind == 0);
                    self.staleness_pairs[ri.writer.idx() * self.n + r.idx()]
                        .record(age, behind == 0);
                }
            }
            Reply::Failed { op } => {
                self.series.op(r.idx(), false, now);
                if op.is_read() {
                    self.reads_failed += 1;
                    let level = read.map_or(Level::Default, |x| x.level);
                    self.levels[level.index()].reads_failed += 1;
                } else {
                    self.writes_failed += 1;
                    let level = self.writes[op.0 as usize].level;
                    self.levels[level.index()].writes_failed += 1;
                }
            }
        }
    }

    /// A client op that reached a region that is down.
    pub fn on_unavailable(&mut self, r: RegionId, op: OpId, level: Level, now: SimTime) {
        let read = op.is_read().then(|| self.read_issue(Key(0), level, now));
        self.on_reply(r, Reply::Failed { op }, read, now);
    }

    /// After a restart, replace region `r`'s mirror with what it actually holds now; writes it
    /// covered before but lost in the crash are uncovered again.
    pub fn resync(&mut self, r: RegionId, cells: impl Iterator<Item = (Key, Stamp)>, now: SimTime) {
        for k in 0..self.keys {
            self.mirror[k * self.n + r.idx()] = Stamp::NONE;
        }
        for (k, s) in cells {
            self.mirror[k.0 as usize * self.n + r.idx()] = s;
        }
        let bit = 1u64 << r.0;
        for k in 0..self.keys {
            for &(_, w) in &self.pending[k] {
                let rec = &mut self.writes[w as usize];
                if rec.covered & bit != 0 && self.mirror[k * self.n + r.idx()] < rec.stamp {
                    rec.covered &= !bit;
                    if rec.is_acked() && rec.origin != r {
                        self.series.backlog_add(r.idx(), now);
                    }
                }
            }
        }
    }

    /// The newest stamp any region holds for key `k` at the end of the run.
    fn final_stamp(&self, k: usize) -> Stamp {
        self.mirror[k * self.n..(k + 1) * self.n]
            .iter()
            .copied()
            .max()
            .unwrap_or(Stamp::NONE)
    }

    /// The newest stamp any region holds for each key at the end of the run. A pass over every
    /// key and region (5 M stamps at 100 k keys x 50 regions), so a summary computes it once
    /// and hands it to the analyses that need it.
    pub fn final_stamps(&self) -> Vec<Stamp> {
        (0..self.keys).map(|k| self.final_stamp(k)).collect()
    }

    /// Acknowledged writes whose effect survives nowhere: the key's final value is older (or,
    /// for a merging key, no region reflects the write).
    pub fn lost_acked(&self) -> Vec<u32> {
        self.lost_acked_given(&self.final_stamps())
    }

    /// `lost_acked` with the final stamps already computed.
    pub fn lost_acked_given(&self, fin: &[Stamp]) -> Vec<u32> {
        self.writes
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.is_acked()
                    && if self.merges(w.key as usize) {
                        !self.survives(w)
                    } else {
                        fin[w.key as usize] < w.stamp
                    }
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Lost updates under last-writer-wins (see `LostUpdates`).
    pub fn lost_updates(&self, names: &[String]) -> LostUpdates {
        self.lost_updates_given(names, &self.final_stamps())
    }

    /// `lost_updates` with the final stamps already computed.
    pub fn lost_updates_given(&self, names: &[String], fin: &[Stamp]) -> LostUpdates {
        // Judged per key, newest stamp first. An LWW-Map resolves each field on its own, so its
        // writes are judged per field: a register of its own, whose final stamp is the newest
        // surviving write of it.
        let field = |w: &WriteRec| -> Option<u32> {
            (self.tables.is_some() && self.policy(w.key as usize) == Policy::LwwMap)
                .then(|| w.kind().member().map_or(0, |m| m.0))
        };
        // Bucketed by key first (a counting sort), then each key's few writes sorted: one sort
        // of every write took more time than the rest of the analysis.
        let judged = |w: &WriteRec| {
            !w.stamp.is_none() && (!self.merges(w.key as usize) || field(w).is_some())
        };
        let mut start = vec![0u32; self.keys + 1];
        for w in self.writes.iter().filter(|w| judged(w)) {
            start[w.key as usize + 1] += 1;
        }
        for k in 0..self.keys {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        // Only write indices are bucketed (4 bytes a write). Each key's few writes are copied
        // out with their sort keys into a scratch buffer and sorted there (an indirect sort
        // through the write log would miss the cache on every comparison), so the analysis adds
        // little to a run's peak memory. A key's writes are all judged per field (an LWW-Map) or
        // none are, so within a key the field alone orders them.
        let mut by_key = vec![0u32; start[self.keys] as usize];
        for (i, w) in self.writes.iter().enumerate().filter(|(_, w)| judged(w)) {
            let at = &mut fill[w.key as usize];
            by_key[*at as usize] = i as u32;
            *at += 1;
        }
        drop(fill);
        let mut out = LostUpdates::default();
        let mut scratch: Vec<(u32, std::cmp::Reverse<Stamp>, u32)> = Vec::new();
        let mut order: Vec<u32> = Vec::new();
        let mut seen: Vec<Stamp> = Vec::new();
        for k in 0..self.keys {
            let bucket = &by_key[start[k] as usize..start[k + 1] as usize];
            scratch.clear();
            scratch.extend(bucket.iter().map(|&j| {
                let w = &self.writes[j as usize];
                (field(w).unwrap_or(0), std::cmp::Reverse(w.stamp), j)
            }));
            scratch.sort_unstable();
            order.clear();
            order.extend(scratch.iter().map(|t| t.2));
            let mut i = 0;
            while i < order.len() {
                let first = &self.writes[order[i] as usize];
                let (key, member) = (first.key, field(first));
                // One key's writes, sorted by field first: a group ends where the field changes.
                let group_end = i + scratch[i..]
                    .iter()
                    .position(|t| t.0 != scratch[i].0)
                    .unwrap_or(order.len() - i);
                let final_stamp = match member {
                    None => fin[key as usize],
                    Some(_) => order[i..group_end]
                        .iter()
                        .map(|&j| &self.writes[j as usize])
                        .find(|w| self.survives(w))
                        .map_or(Stamp::NONE, |w| w.stamp),
                };
                // The values some write of this key replaced knowingly (its region held them when
                // it was stamped): those were overwritten by a write that knew about them.
                seen.clear();
                seen.extend(
                    order[i..group_end]
                        .iter()
                        .map(|&j| self.writes[j as usize].seen),
                );
                seen.sort_unstable();
                let mut newest_above: Option<u32> = None;
                // Over the writes stamped above the current one: the latest any began and the
                // earliest any was acknowledged (for the real-time judgement).
                let (mut latest_issue_above, mut first_ack_above) = (None, SimTime::MAX);
                let fww = self.policy(key as usize) == Policy::Fww;
                let real_time = self.real_time_order && !fww;
                while i < group_end {
                    let w = &self.writes[order[i] as usize];
                    let superseded = w.stamp < final_stamp;
                    // A write that began after this one was acknowledged followed it in real
                    // time: replacing it is what a sequential history does.
                    let followed = real_time && latest_issue_above.is_some_and(|t| t > w.acked);
                    if w.is_acked()
                        && superseded
                        && !followed
                        && seen.binary_search(&w.stamp).is_err()
                    {
                        out.total += 1;
                        out.lost_at.push((w.origin.idx(), w.acked));
                        if fww && w.seen > w.stamp {
                            // It saw the value that beat it: first-writer-wins refuses later
                            // writes by design.
                            out.rejected += 1;
                            newest_above = Some(order[i]);
                            i += 1;
                            continue;
                        }
                        let skew = if fww {
                            // The earlier write in real time lost because its clock read later.
                            newest_above.is_some_and(|j| self.writes[j as usize].issued > w.acked)
                        } else {
                            // Or, judged in real time, it began after a newer-stamped write
                            // was acknowledged: later, yet stamped lower by its clock.
                            w.seen > w.stamp || (real_time && first_ack_above < w.issued)
                        };
                        let skew_ms = skew.then(|| {
                            let ahead = match (fww, newest_above) {
                                // Negated clocks: how far its clock read ahead of the winner's.
                                (true, Some(j)) => {
                                    self.writes[j as usize].stamp.wall.0 - w.stamp.wall.0
                                }
                                _ if w.seen > w.stamp => {
                                    w.seen.wall.0.saturating_sub(w.stamp.wall.0)
                                }
                                // At least as far as the write stamped just above it.
                                _ => newest_above.map_or(0, |j| {
                                    self.writes[j as usize]
                                        .stamp
                                        .wall
                                        .0
                                        .saturating_sub(w.stamp.wall.0)
                                }),
                            };
                            ns_to_ms(ahead.max(0) as u64)
                        });
                        if skew {
                            out.skew += 1;
                            out.max_skew_ms = out.max_skew_ms.max(skew_ms.unwrap_or(0.0));
                        } else {
                            out.concurrent += 1;
                        }
                        if out.examples.len() < 5 {
                            let winner = newest_above.map(|j| &self.writes[j as usize]);
                            out.examples.push(LostUpdateExample {
                                key: key as u64,
                                lost_op: order[i] as u64,
                                lost_region: names[w.origin.idx()].clone(),
                                lost_acked_ms: ns_to_ms(w.acked.0),
                                skew_ms,
                                winner_op: newest_above.map(|j| j as u64),
                                winner_region: winner.map(|x| names[x.origin.idx()].clone()),
                            });
                        }
                    }
                    newest_above = Some(order[i]);
                    latest_issue_above = latest_issue_above.max(Some(w.issued));
                    first_ack_above = first_ack_above.min(w.acked);
                    i += 1;
                }
            }
        }
        out
    }

    /// Per heal at `h`: how long until every (surviving) write acknowledged before `h` was
    /// visible everywhere. None if some never became visible.
    pub fn converged_after(&self, h: SimTime, lost: &[u32]) -> Option<Span> {
        let mut worst = SimTime::ZERO;
        let mut li = 0;
        for (i, w) in self.writes.iter().enumerate() {
            while li < lost.len() && (lost[li] as usize) < i {
                li += 1;
            }
            if li < lost.len() && lost[li] as usize == i {
                continue;
            }
            if w.is_acked() && w.acked <= h {
                if w.visible == SimTime::MAX {
                    return None;
                }
                worst = worst.max(w.visible);
            }
        }
        Some(worst.saturating_since(h))
    }

    /// Visibility over all origins (merged once, rather than recorded twice per write).
    pub fn visibility(&self) -> LatencyStats {
        let mut all = LatencyStats::default();
        for v in &self.visibility_by_origin {
            all.merge(v);
        }
        all
    }

    /// Acknowledged writes never visible in every region by the end of the run.
    pub fn incomplete_visibility(&self) -> u64 {
        self.writes
            .iter()
            .filter(|w| w.is_acked() && w.visible == SimTime::MAX)
            .count() as u64
    }
}

/// Sorts and merges overlapping intervals.
pub fn merge_intervals(mut v: Vec<(SimTime, SimTime)>) -> Vec<(SimTime, SimTime)> {
    v.sort_unstable();
    let mut out: Vec<(SimTime, SimTime)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::Cell;
    use crate::time::Wall;

    fn stamp(wall: i64, region: u16, c: u32) -> Stamp {
        Stamp::new(Wall(wall), RegionId(region), 1, c)
    }

    fn write(o: &mut Observer, op: u64, r: u16, key: u64, s: Stamp, seen: Stamp, t: u64) {
        let (rid, k) = (RegionId(r), Key(key));
        o.on_issue(
            rid,
            OpId(op),
            k,
            Some(WriteKind::Put),
            Level::Default,
            SimTime(t),
        );
        o.on_note(
            rid,
            Note::WriteStamped {
                op: OpId(op),
                key: k,
                stamp: s,
                seen,
            },
            SimTime(t),
        );
        if s > seen {
            o.on_note(
                rid,
                Note::Applied {
                    key: k,
                    old: seen,
                    new: s,
                },
                SimTime(t),
            );
        }
        o.on_reply(
            rid,
            Reply::WriteOk {
                op: OpId(op),
                stamp: s,
            },
            None,
            SimTime(t),
        );
    }

    #[test]
    fn a_write_record_is_80_bytes_and_keeps_its_operation() {
        // The write log is most of a run's memory: growing the record grows every run.
        assert_eq!(std::mem::size_of::<WriteRec>(), 80);
        let amount = u32::MAX as i64;
        for k in [
            WriteKind::Put,
            WriteKind::Incr(0),
            WriteKind::Incr(7),
            WriteKind::Incr(-7),
            WriteKind::Incr(amount),
            WriteKind::Incr(-amount),
            WriteKind::Insert(3),
            WriteKind::Remove(u32::MAX),
            WriteKind::PutField(0),
            WriteKind::RemoveField(9),
        ] {
            let w = WriteRec::issued(1, RegionId(0), Level::Default, k, SimTime::ZERO);
            assert_eq!(w.kind(), k);
        }
    }

    #[test]
    fn visibility_and_lag_from_notes() {
        let mut o = Observer::new(3, 4, None, 0, Span(1_000));
        let s = stamp(10, 0, 1);
        write(&mut o, 0, 0, 2, s, Stamp::NONE, 100);
        o.on_note(
            RegionId(1),
            Note::Applied {
                key: Key(2),
                old: Stamp::NONE,
                new: s,
            },
            SimTime(140),
        );
        assert_eq!(o.visibility().count(), 0);
        o.on_note(
            RegionId(2),
            Note::Applied {
                key: Key(2),
                old: Stamp::NONE,
                new: s,
            },
            SimTime(200),
        );
        assert_eq!(o.visibility().count(), 1);
        assert_eq!(o.visibility().max_ns(), 100);
        assert_eq!(o.lag[1].max_ns(), 40);
        assert_eq!(o.lag[2].max_ns(), 100);
    }

    #[test]
    fn stale_reads_compare_with_the_newest_acked_write() {
        let mut o = Observer::new(2, 1, None, 0, Span(1_000));
        let s = stamp(10, 0, 1);
        write(&mut o, 0, 0, 0, s, Stamp::NONE, 1);
        o.on_reply(
            RegionId(1),
            Reply::ReadOk {
                op: OpId(OpId::READ_BIT),
                cell: None,
                by: RegionId(1),
            },
            Some(o.read_issue(Key(0), Level::Default, SimTime(2))),
            SimTime(2),
        );
        o.on_reply(
            RegionId(1),
            Reply::ReadOk {
                op: OpId(OpId::READ_BIT | 1),
                cell: Some(Cell {
                    stamp: s,
                    value: OpId(0),
                }),
                by: RegionId(1),
            },
            Some(o.read_issue(Key(0), Level::Default, SimTime(3))),
            SimTime(3),
        );
        assert_eq!((o.reads_total, o.reads_stale), (2, 1));
    }

    /// One session in region a writes key 0 then key 1; region b applies the second first
    /// (monotonic writes broken), then a read of key 0 at b misses the session's write.
    #[test]
    fn session_guarantees_catch_out_of_order_application_and_missed_writes() {
        let mut o = Observer::new(2, 2, None, 0, Span(1_000));
        o.set_sessions(1);
        let (s1, s2) = (stamp(10, 0, 1), stamp(20, 0, 2));
        assert_eq!(
            o.on_issue(
                RegionId(0),
                OpId(0),
                Key(0),
                Some(WriteKind::Put),
                Level::Default,
                SimTime(1)
            ),
            0
        );
        o.on_note(
            RegionId(0),
            Note::WriteStamped {
                op: OpId(0),
                key: Key(0),
                stamp: s1,
                seen: Stamp::NONE,
            },
            SimTime(1),
        );
        o.on_note(
            RegionId(0),
            Note::Applied {
                key: Key(0),
                old: Stamp::NONE,
                new: s1,
            },
            SimTime(1),
        );
        o.on_reply(
            RegionId(0),
            Reply::WriteOk {
                op: OpId(0),
                stamp: s1,
            },
            None,
            SimTime(1),
        );
        o.on_issue(
            RegionId(0),
            OpId(1),
            Key(1),
            Some(WriteKind::Put),
            Level::Default,
            SimTime(2),
        );
        o.on_note(
            RegionId(0),
            Note::WriteStamped {
                op: OpId(1),
                key: Key(1),
                stamp: s2,
                seen: Stamp::NONE,
            },
            SimTime(2),
        );
        o.on_note(
            RegionId(0),
            Note::Applied {
                key: Key(1),
                old: Stamp::NONE,
                new: s2,
            },
            SimTime(2),
        );
        o.on_reply(
            RegionId(0),
            Reply::WriteOk {
                op: OpId(1),
                stamp: s2,
            },
            None,
            SimTime(2),
        );
        // b applies write 1 before write 0.
        o.on_note(
            RegionId(1),
            Note::Applied {
                key: Key(1),
                old: Stamp::NONE,
                new: s2,
            },
            SimTime(5),
        );
        assert_eq!(o.sessions.violations.monotonic_writes, 1);
        o.on_note(
            RegionId(1),
            Note::Applied {
                key: Key(0),
                old: Stamp::NONE,
                new: s1,
            },
            SimTime(6),
        );
        assert_eq!(
            o.sessions.violations.monotonic_writes, 1,
            "in order: no more"
        );
        // The session (region a's only one) reads key 0 through b's stale copy, then a fresh one.
        let read = |o: &mut Observer, op: u64, got: Option<Stamp>, t: u64| {
            let s = o.on_issue(
                RegionId(0),
                OpId(OpId::READ_BIT | op),
                Key(0),
                None,
                Level::Default,
                SimTime(t),
            );
            let mut ri = o.read_issue(Key(0), Level::Default, SimTime(t));
            ri.session = s;
            let cell = got.map(|stamp| crate::replica::Cell {
                stamp,
                value: OpId(0),
            });
            o.on_reply(
                RegionId(1),
                Reply::ReadOk {
                    op: OpId(OpId::READ_BIT | op),
                    cell,
                    by: RegionId(1),
                },
                Some(ri),
                SimTime(t),
            );
        };
        read(&mut o, 0, None, 7);
        assert_eq!(o.sessions.violations.read_your_writes, 1);
        read(&mut o, 1, Some(s1), 8);
        read(&mut o, 2, None, 9);
        assert_eq!(o.sessions.violations.read_your_writes, 2);
        assert_eq!(
            o.sessions.violations.monotonic_reads, 1,
            "went back after reading s1"
        );
        assert_eq!(o.sessions.violations.examples.len(), 4);
    }

    #[test]
    fn lost_updates_split_concurrent_and_skew() {
        let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        let mut o = Observer::new(2, 3, None, 0, Span(1_000));
        // Key 0: two concurrent writes; the lower stamp is lost.
        write(&mut o, 0, 0, 0, stamp(100, 0, 1), Stamp::NONE, 1);
        write(&mut o, 1, 1, 0, stamp(200, 1, 1), Stamp::NONE, 1);
        // Key 1: b writes at 500; a has seen it but its clock reads 300: skew anomaly.
        write(&mut o, 2, 1, 1, stamp(500, 1, 2), Stamp::NONE, 1);
        o.on_note(
            RegionId(0),
            Note::Applied {
                key: Key(1),
                old: Stamp::NONE,
                new: stamp(500, 1, 2),
            },
            SimTime(5),
        );
        write(&mut o, 3, 0, 1, stamp(300, 0, 2), stamp(500, 1, 2), 6);
        // Key 2: a sequential overwrite (the second saw the first): not lost.
        write(&mut o, 4, 0, 2, stamp(100, 0, 3), Stamp::NONE, 1);
        write(&mut o, 5, 0, 2, stamp(150, 0, 4), stamp(100, 0, 3), 2);
        // Make region b converge with a.
        o.on_note(
            RegionId(1),
            Note::Applied {
                key: Key(0),
                old: stamp(200, 1, 1),
                new: stamp(200, 1, 1),
            },
            SimTime(9),
        );
        let lu = o.lost_updates(&names);
        assert_eq!((lu.total, lu.concurrent, lu.skew), (2, 1, 1), "{lu:?}");
        let skewed = lu.examples.iter().find(|e| e.skew_ms.is_some()).unwrap();
        assert_eq!(skewed.lost_op, 3);
        assert!(o.lost_acked().is_empty());
    }
}
