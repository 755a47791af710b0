//! The log-shipping replica behind every replication strategy: multi-master, primary-backup,
//! chain and quorum differ only in who originates writes, where entries are routed, which
//! regions hold which keys, and what a write or read waits for (see [`super::plan::Plan`]).
//!
//! Each write is stamped by its originating region, applied (last-writer-wins) and queued on
//! the replication links the plan routes it over. Every directed link has its own reliable
//! transport: window-limited go-back-N, cumulative acks, RFC 6298 retransmission timeouts with
//! exponential backoff. Loss and partitions delay entries; they never lose them (unless the
//! plan gives up on unacknowledged entries, as quorum replication without hinted handoff does).
//!
//! Relays: a region that receives an entry forwards it along the origin's route tree, never back
//! to where it came from, and deduplicates by entry id, so a ring or hub delivers every entry
//! to every holder exactly once.
//!
//! Two identities are kept apart on purpose:
//! - transport positions (`first`, `upto`) number what one sender incarnation (epoch) put on one
//!   link, so acks and retransmission are simple counters;
//! - entry ids `(origin, epoch, seq)` name a write wherever it travels, so copies that reach a
//!   region twice (retransmissions, relays, recovered orphans) are applied once.
//!
//! Acknowledgement: a write that must be held by other regions before its client hears back
//! (semi-sync, sync, quorum, chain) carries `notify`; each holder that has made it durable
//! tells the origin directly (`Msg::Durable`), like an RPC response.
//!
//! Durability: receivers acknowledge only what they have made durable, so a sender may forget
//! an acknowledged entry. With `flush_interval` > 0 clients are acknowledged before the fsync;
//! peers then retain an origin's entries until the origin announces them durable (on disk: a
//! peer restarting meanwhile still holds them), and when a restarted origin announces what it
//! lost, peers relay those orphans back to everyone. A write is therefore lost only if no region
//! held it durably.

use super::causal::{Actor, Dot, Hlc};
use super::crdt::Digest;
use super::data::{data_key_digest, Data, Policy, View, WriteKind};
use super::plan::Plan;
use super::{
    cell_digest, mix64, Action, Cell, ClientOp, Command, Key, Level, Note, Now, OpId, Outbox,
    RegionId, Replica, Reply, Stamp, TimerId, Work,
};
use crate::time::{Mono, Span};
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

mod anti_entropy;
mod chain;
mod disk;
mod failover;
mod msg;
mod read_guard;
mod requests;
mod restore;
mod rpc;
mod timer;
mod transport;
use anti_entropy::AntiEntropy;
pub use anti_entropy::{AeMsg, AeSession};
pub use chain::ChainView;
use disk::{drop_front, seq_set, Seen};
pub use disk::{Disk, Op};
use failover::Fo;
pub use failover::{Fence, FoMsg, Heartbeat, Pos};
pub use msg::Msg;
use requests::Requests;
pub use restore::RestoreMsg;
pub use rpc::{ClientMsg, RepairMsg};
pub use timer::Timer;
pub use transport::LinkMsg;
use transport::{LinkParams, Links};

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: RegionId,
    pub window: u32,
    pub max_batch: u32,
    pub rto_initial: Span,
    pub rto_min: Span,
    pub rto_max: Span,
    /// Zero: fsync before every acknowledgement.
    pub flush_interval: Span,
    /// Whether to write durable storage at all. A host that can never crash (an in-memory
    /// deployment, or a simulation without crash faults) turns it off: nothing would read it.
    pub durable: bool,
    pub plan: Arc<Plan>,
}

/// Where a write lives in its origin's history.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    pub origin: RegionId,
    pub epoch: u32,
    pub seq: u64,
}

/// One change-log entry: a write and its integrity check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    pub key: Key,
    pub cell: Cell,
    pub value_bytes: u32,
    pub checksum: u32,
    /// The origin waits to hear that holders have this entry durably.
    pub notify: bool,
    /// Tables with data: the whole new value (register policies) or the delta (merging ones).
    pub data: Option<Arc<Data>>,
}

impl Entry {
    fn compute_checksum(
        id: EntryId,
        key: Key,
        cell: &Cell,
        value_bytes: u32,
        data: Option<&Arc<Data>>,
    ) -> u32 {
        let h = mix64(
            data.map_or(0, |d| d.digest())
                ^ id.seq
                ^ (id.origin.0 as u64) << 48
                ^ (id.epoch as u64) << 32
                ^ mix64(
                    key.0
                        ^ cell.stamp.tie.rotate_left(17)
                        ^ (cell.stamp.wall.0 as u64).rotate_left(41)
                        ^ cell.value.0.rotate_left(7)
                        ^ value_bytes as u64,
                ),
        );
        (h ^ (h >> 32)) as u32
    }

    pub fn new(id: EntryId, key: Key, cell: Cell, value_bytes: u32) -> Entry {
        Entry::with_data(id, key, cell, value_bytes, None)
    }

    pub fn with_data(
        id: EntryId,
        key: Key,
        cell: Cell,
        value_bytes: u32,
        data: Option<Arc<Data>>,
    ) -> Entry {
        Entry {
            id,
            key,
            cell,
            value_bytes,
            checksum: Entry::compute_checksum(id, key, &cell, value_bytes, data.as_ref()),
            notify: false,
            data,
        }
    }

    pub fn verify(&self) -> bool {
        self.checksum
            == Entry::compute_checksum(
                self.id,
                self.key,
                &self.cell,
                self.value_bytes,
                self.data.as_ref(),
            )
    }

    /// Bytes on the wire: id, key, stamp, value id, checksum, then the value itself (or, for
    /// tables with data, the new value or delta instead).
    pub fn wire_bytes(&self) -> u64 {
        44 + match &self.data {
            None => self.value_bytes as u64,
            Some(d) => d.wire_bytes(self.value_bytes),
        }
    }
}

/// The entries of one replication message. On the heap so a message stays small to move; a
/// receiver keeps emptied buffers for its own sends (the spare pool of `Links`), so the hot path
/// does not allocate.
pub type Batch = Vec<Entry>;

/// At most this many emptied batch buffers are kept for reuse.
const MAX_SPARE_BATCHES: usize = 64;

/// A position in an origin's own history: (epoch, seq).
pub type LogMark = (u32, u64);

pub use super::seqset::SeqSet;

impl Cell {
    /// The empty cell: no write has reached this key.
    pub fn default_none() -> Cell {
        Cell {
            stamp: Stamp::NONE,
            value: OpId(0),
        }
    }
}

pub struct Replicator {
    cfg: Config,
    epoch: u32,
    own_seq: u64,
    durable_own: u64,
    lost_after: Option<LogMark>,
    cells: Vec<Cell>,
    /// Per key of a table with data (empty when no table has any).
    data: Vec<Option<Data>>,
    /// The hybrid logical clock `lww-hlc` tables stamp with.
    hlc: Hlc,
    digest: u64,
    /// The reliable link transport to and from every peer.
    links: Links,
    seen: Seen,
    /// Per origin: its own entries it has not yet announced durable (kept for orphan relay).
    retained: Vec<VecDeque<Entry>>,
    dirty: bool,
    flush_armed: bool,
    /// Durable notifications owed to origins once the next fsync completes.
    notify_pending: Vec<EntryId>,
    /// Client requests in flight: commits, forwarded writes, reads, and their deadlines.
    requests: Requests,
    ae: AntiEntropy,
    /// Failover state (primary-backup with `failover`).
    fo: Option<Box<Fo>>,
    /// What the disk said about terms at recovery (read once by `fo_start`).
    disk_term: u64,
    disk_voted: Option<RegionId>,
    disk_stream: (u64, RegionId, u32),
    disk_fences: Arc<Vec<Fence>>,
    /// Rebuilt after losing its disk (from a backup image or from nothing).
    rebuilt: bool,
    restore: restore::Restoring,
    /// `manual` keys homed here whose conflicts wait for the operator, with when they were
    /// parked (in-memory, like a work queue: a restart re-parks what its data still shows).
    parked: BTreeMap<Key, Mono>,
    /// Keys a delta left with a gap among one origin's writes: since when, that origin, and
    /// the region that sent the delta (asked for the whole value if the gap outlives a timeout).
    gaps: BTreeMap<Key, (Mono, Actor, RegionId)>,
    gap_armed: bool,
    /// When the operator's timer is set to fire, if it is.
    operator_armed: Option<Mono>,
    /// The local monotonic time of the input being handled (for parking conflicts found deep
    /// inside a merge).
    now_mono: Mono,
}

type Out = Outbox<Msg, Op>;

impl Replicator {
    fn n(&self) -> usize {
        self.cfg.plan.n
    }

    /// The host id of one of this replica's timers.
    #[inline]
    pub(crate) fn timer(&self, t: Timer) -> TimerId {
        t.id(self.n())
    }

    pub fn from_disk(cfg: Config, disk: &Disk) -> Replicator {
        let n = cfg.plan.n;
        let epoch = disk.epoch + 1;
        let mut cells = disk.cells.clone();
        if cells.is_empty() {
            cells.reserve(1024);
        }
        let data: Vec<Option<Data>> = disk
            .data
            .iter()
            .map(|d| d.as_ref().map(|d| Data::clone(d)))
            .collect();
        let tables = Arc::clone(&cfg.plan.tables);
        let digest = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stamp.is_none())
            .fold(0u64, |acc, (k, c)| {
                let key = Key(k as u64);
                acc.wrapping_add(match data.get(k) {
                    Some(Some(d)) if tables.policy(key).merges() => data_key_digest(key, d),
                    _ => cell_digest(key, c),
                })
            });
        let mut seen = disk.seen.clone();
        seen.resize_with(n, Vec::new);
        let restarted = disk.epoch > 0;
        let links = Links::new(
            LinkParams::from_config(&cfg),
            &disk.links,
            &disk.recv,
            restarted,
        );
        Replicator {
            epoch,
            own_seq: 0,
            durable_own: 0,
            lost_after: restarted.then_some((disk.epoch, disk.own_seq)),
            cells,
            data,
            hlc: Hlc::default(),
            digest,
            links,
            seen,
            retained: {
                // Kept on disk: a region that restarts while an origin is down still owes it
                // the orphans it held (swarm seed 5045).
                let mut r = disk.retained.clone();
                r.resize_with(n, VecDeque::new);
                r
            },
            dirty: false,
            flush_armed: false,
            notify_pending: Vec::new(),
            requests: Requests::default(),
            ae: AntiEntropy::new(&cfg.plan, cfg.id, n),
            fo: None,
            disk_term: disk.term,
            disk_voted: disk.voted,
            disk_stream: disk.stream,
            disk_fences: Arc::clone(&disk.fences),
            rebuilt: false,
            restore: restore::Restoring::resumed(disk),
            parked: BTreeMap::new(),
            gaps: BTreeMap::new(),
            gap_armed: false,
            operator_armed: None,
            now_mono: Mono(0),
            cfg,
        }
    }

    /// Persists `op` unless this replica runs without durable storage (`Config::durable`).
    #[inline]
    fn persist(&self, out: &mut Out, op: impl FnOnce() -> Op) {
        if self.cfg.durable {
            out.persist(op());
        }
    }

    #[inline]
    fn sync(&self, out: &mut Out) {
        if self.cfg.durable {
            out.sync();
        }
    }

    fn sync_mode(&self) -> bool {
        self.cfg.flush_interval == Span::ZERO
    }

    /// Makes what was just persisted durable now (fsync per write) or at the next flush.
    fn durable_write(&mut self, now: Now, out: &mut Out) {
        if self.sync_mode() {
            self.sync(out);
        } else {
            self.dirty = true;
            self.ensure_flush(now, out);
        }
    }

    fn me(&self) -> RegionId {
        self.cfg.id
    }

    /// The region answering `Level::Primary` reads: the current primary under failover.
    fn primary(&self) -> Option<RegionId> {
        if self.chain_on() {
            return self.chain_reads();
        }
        match &self.fo {
            Some(f) if f.leading => Some(self.me()),
            Some(f) => f.leader.or(self.cfg.plan.read_primary()),
            None => self.cfg.plan.read_primary(),
        }
    }

    fn bit(r: RegionId) -> u64 {
        1u64 << r.0
    }

    fn peers(&self) -> impl Iterator<Item = usize> + 'static {
        let me = self.cfg.id.idx();
        (0..self.cfg.plan.n).filter(move |&p| p != me)
    }

    pub fn cell(&self, key: Key) -> Cell {
        self.cells
            .get(key.0 as usize)
            .copied()
            .unwrap_or_else(Cell::default_none)
    }

    fn local_cell(&self, key: Key) -> Option<Cell> {
        let c = self.cell(key);
        (!c.stamp.is_none()).then_some(c)
    }

    /// Last-writer-wins: install `cell` if its stamp is newer than what the key holds.
    fn apply_lww(&mut self, key: Key, cell: Cell, out: &mut Out) -> bool {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if cell.stamp <= old.stamp {
            return false;
        }
        if !old.stamp.is_none() {
            self.digest = self.digest.wrapping_sub(cell_digest(key, &old));
        }
        self.digest = self.digest.wrapping_add(cell_digest(key, &cell));
        self.cells[i] = cell;
        self.persist(out, || Op::Cell(key, cell));
        out.note(Note::Applied {
            key,
            old: old.stamp,
            new: cell.stamp,
        });
        true
    }

    /// A key's contribution to the state digest: its data if its values merge, else its cell.
    fn key_digest(&self, key: Key, c: &Cell) -> u64 {
        match self.data_of(key) {
            Some(d) if self.cfg.plan.tables.policy(key).merges() => data_key_digest(key, d),
            _ => cell_digest(key, c),
        }
    }

    fn data_slot(&mut self, key: Key) -> &mut Option<Data> {
        let i = key.0 as usize;
        if self.data.len() <= i {
            self.data.resize(i + 1, None);
        }
        &mut self.data[i]
    }

    fn data_of(&self, key: Key) -> Option<&Data> {
        self.data.get(key.0 as usize).and_then(|d| d.as_ref())
    }

    /// Installs a value that arrived from elsewhere (an entry, anti-entropy, a state
    /// transfer): by its stamp under a register policy (with its whole value, if its table
    /// keeps one), by merging under a merging policy. True if anything changed.
    fn install_value(
        &mut self,
        key: Key,
        cell: Cell,
        data: Option<&Arc<Data>>,
        out: &mut Out,
    ) -> bool {
        let policy = self.cfg.plan.tables.policy(key);
        if !policy.merges() {
            if policy == Policy::LwwHlc {
                self.hlc.observe(cell.stamp.wall);
            }
            let applied = self.apply_lww(key, cell, out);
            if applied {
                if let Some(d) = data {
                    *self.data_slot(key) = Some(Data::clone(d));
                    self.persist(out, || Op::Data(key, Arc::clone(d)));
                }
            }
            return applied;
        }
        let Some(d) = data else {
            return false; // a merging key's value travels as data; a bare cell says nothing
        };
        self.merge_data(key, cell, |slot| Data::merge(slot, d), out)
    }

    /// Changes a merging key's data with `f` (which returns the writes that became part of
    /// it), keeping the digest, the key's summary cell (its newest write) and the disk in step.
    fn merge_data(
        &mut self,
        key: Key,
        cell: Cell,
        f: impl FnOnce(&mut Option<Data>) -> Vec<Dot>,
        out: &mut Out,
    ) -> bool {
        let before = self.data_of(key).map(|d| data_key_digest(key, d));
        let new = f(self.data_slot(key));
        // A delta can change a value without bringing a write it lacks: a re-add seen late
        // still takes away the adds it replaced. Only an unchanged value is a no-op.
        let Some(d) = self.data_of(key) else {
            return false; // nothing merged (a delta of another type, which no plan sends)
        };
        let after = data_key_digest(key, d);
        if new.is_empty() && Some(after) == before {
            return false;
        }
        let siblings = d.siblings() as u32;
        let keep = self.cfg.durable.then(|| Arc::new(d.clone()));
        self.digest = self
            .digest
            .wrapping_sub(before.unwrap_or(0))
            .wrapping_add(after);
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        if cell.stamp > self.cells[i].stamp {
            self.cells[i] = cell;
            self.persist(out, || Op::Cell(key, cell));
        }
        if let Some(d) = keep {
            out.persist(Op::Data(key, d));
        }
        for dot in new {
            out.note(Note::Merged { key, dot, siblings });
        }
        self.track_conflict(key, siblings, out);
        true
    }

    /// Delta-state replication's fallback: a delta from `origin` left a gap in `key`'s causal
    /// context among `origin`'s own writes. Its predecessors may still be on their way (the
    /// transport applies entries that arrive out of order and retransmits the ones lost), so
    /// wait one request timeout; if the gap is still there then (a log given up after
    /// `log_retention`, say), ask `from` for the key's whole value.
    fn note_gap(&mut self, key: Key, origin: Actor, from: RegionId, now: Now, out: &mut Out) {
        if self.gaps.contains_key(&key) || !self.has_gap(key, origin) {
            return;
        }
        self.gaps.insert(key, (now.mono, origin, from));
        if !self.gap_armed {
            self.gap_armed = true;
            out.set_timer(
                self.timer(Timer::Gap),
                now.mono + self.cfg.plan.request_timeout,
            );
        }
    }

    fn has_gap(&self, key: Key, origin: Actor) -> bool {
        self.data_of(key)
            .and_then(|d| d.ctx())
            .is_some_and(|c| c.cloud.iter().any(|d| d.actor() == origin))
    }

    fn on_gap_timer(&mut self, now: Now, out: &mut Out) {
        self.gap_armed = false;
        let timeout = self.cfg.plan.request_timeout;
        let due: Vec<Key> = self
            .gaps
            .iter()
            .filter(|(_, (since, _, _))| *since + timeout <= now.mono)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            let (_, origin, from) = self.gaps.remove(&key).expect("listed");
            if self.has_gap(key, origin) {
                out.note(Note::GapFetch { key });
                out.send(from, Msg::Repair(RepairMsg::Fetch { key }));
            }
        }
        if let Some(first) = self.gaps.values().map(|g| g.0).min() {
            self.gap_armed = true;
            out.set_timer(self.timer(Timer::Gap), (first + timeout).max(now.mono));
        }
    }

    /// `manual` tables: a conflict on a key homed here (key mod regions, so exactly one
    /// region's operator owns it) is parked when the key gains siblings and leaves the queue
    /// when they are gone, whoever resolved them.
    fn track_conflict(&mut self, key: Key, siblings: u32, out: &mut Out) {
        if key.0 % self.n() as u64 != self.me().0 as u64
            || self.cfg.plan.tables.policy(key) != Policy::Manual
        {
            return;
        }
        let now = self.now_mono;
        if siblings > 1 {
            if self.parked.contains_key(&key) {
                return;
            }
            self.parked.insert(key, now);
            out.note(Note::Parked {
                key,
                depth: self.parked.len() as u32,
            });
            if let Some(delay) = self.cfg.plan.operator {
                if self.operator_armed.is_none() {
                    self.operator_armed = Some(now + delay);
                    out.set_timer(self.timer(Timer::Operator), now + delay);
                }
            }
        } else if let Some(at) = self.parked.remove(&key) {
            out.note(Note::Unparked {
                key,
                waited: now - at,
                by_operator: false,
                depth: self.parked.len() as u32,
            });
        }
    }

    /// The operator works through every conflict that has waited its delay: keeps the value
    /// written last (the highest operation id among the siblings) with a write whose causal
    /// context covers them all, so every region converges on it.
    fn on_operator_timer(&mut self, now: Now, out: &mut Out) {
        self.operator_armed = None;
        let Some(delay) = self.cfg.plan.operator else {
            return;
        };
        let due: Vec<(Key, Mono)> = self
            .parked
            .iter()
            .filter(|(_, &at)| at + delay <= now.mono)
            .map(|(&k, &at)| (k, at))
            .collect();
        for (key, at) in due {
            self.parked.remove(&key);
            out.note(Note::Unparked {
                key,
                waited: now.mono - at,
                by_operator: true,
                depth: self.parked.len() as u32,
            });
            let keep = match self.data_of(key) {
                Some(Data::Mv(r)) => r.values().max().copied(),
                _ => None,
            };
            if let Some(keep) = keep {
                let bytes = self.cfg.plan.value_bytes;
                let kind = WriteKind::Put;
                self.originate(now, keep, key, bytes, Level::Default, kind, None, out);
            }
        }
        if let Some(&first) = self.parked.values().min() {
            let at = (first + delay).max(now.mono);
            self.operator_armed = Some(at);
            out.set_timer(self.timer(Timer::Operator), at);
        }
    }

    /// After a restart: re-parks the conflicts its data still holds.
    fn repark(&mut self, out: &mut Out) {
        if !self
            .cfg
            .plan
            .tables
            .0
            .iter()
            .any(|t| t.policy == Policy::Manual)
        {
            return;
        }
        let keys: Vec<(Key, u32)> = self
            .data
            .iter()
            .enumerate()
            .filter_map(|(k, d)| Some((Key(k as u64), d.as_ref()?.siblings() as u32)))
            .filter(|&(_, s)| s > 1)
            .collect();
        for (key, siblings) in keys {
            self.track_conflict(key, siblings, out);
        }
    }

    fn mark_seen(&mut self, id: EntryId, out: &mut Out) -> bool {
        let fresh = seq_set(&mut self.seen[id.origin.idx()], id.epoch).insert(id.seq);
        if fresh {
            self.persist(out, || Op::Seen(id));
        }
        fresh
    }

    fn ensure_flush(&mut self, now: Now, out: &mut Out) {
        if !self.flush_armed {
            self.flush_armed = true;
            out.set_timer(self.timer(Timer::Flush), now.mono + self.cfg.flush_interval);
        }
    }

    fn flush(&mut self, out: &mut Out) {
        self.flush_armed = false;
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.sync(out);
        self.durable_own = self.own_seq;
        self.links.send_owed_acks(out);
        self.send_notifies(out);
    }
}

impl Replica for Replicator {
    type Msg = Msg;
    type Durable = Disk;
    type Config = Config;

    fn recover(cfg: &Config, disk: &Disk) -> Replicator {
        Replicator::from_disk(cfg.clone(), disk)
    }

    fn rebuild(cfg: &Config, image: &Disk, min_epoch: u32) -> Replicator {
        let mut r = Replicator::from_disk(cfg.clone(), image);
        r.epoch = r.epoch.max(min_epoch);
        r.rebuilt = true;
        r.links.hello_all();
        r.restore = restore::Restoring::rebuilt(r.me(), r.n());
        r
    }

    fn on_start(&mut self, now: Now, out: &mut Out) {
        self.now_mono = now.mono;
        self.persist(out, || Op::Epoch(self.epoch));
        self.repark(out);
        self.restore_start(now, out);
        if self.cfg.plan.failover.is_some() {
            self.fo_start(now, out);
        }
        self.sync(out);
        if let Some(ae) = &self.cfg.plan.anti_entropy {
            // Staggered, so regions do not all compare at the same instant.
            let first = Span(ae.interval.0 / self.n() as u64 * (self.me().idx() as u64 + 1));
            out.set_timer(self.timer(Timer::AntiEntropy), now.mono + first);
        }
        self.links_start(now, out);
    }

    // The handlers of anti-entropy, failover and restore messages are `#[inline(never)]`:
    // they are rare next to replication, and keeping them out of this function keeps the
    // per-message path small in the instruction cache.
    fn on_message(&mut self, now: Now, from: RegionId, msg: Msg, out: &mut Out) {
        self.now_mono = now.mono;
        self.restore.heard(from);
        self.ae_heard_from(from, now, out);
        match msg {
            Msg::Link(m) => self.on_link_msg(now, from, m, out),
            Msg::Client(m) => self.on_client_msg(now, from, m, out),
            Msg::Repair(m) => self.on_repair_msg(now, from, m, out),
            Msg::Ae(m) => self.on_ae_msg(now, from, m, out),
            Msg::Failover(m) => self.on_fo_msg(now, from, m, out),
            Msg::Restore(m) => self.on_restore_msg(now, from, m, out),
        }
    }

    fn on_timer(&mut self, now: Now, id: TimerId, out: &mut Out) {
        self.now_mono = now.mono;
        let Some(timer) = Timer::from_id(id, self.n()) else {
            return;
        };
        match timer {
            Timer::Retransmit(p) => self.on_retransmit_timer(now, p, out),
            Timer::Flush => self.flush(out),
            Timer::Request => self.on_request_timer(now, out),
            Timer::Batch(p) => self.on_batch_timer(now, p, out),
            Timer::AntiEntropy => self.ae_tick(now, out),
            Timer::Operator => self.on_operator_timer(now, out),
            Timer::Gap => self.on_gap_timer(now, out),
            Timer::Restore => self.on_restore_timer(now, out),
            // Failover timers are only ever set with failover on.
            Timer::Heartbeat if self.fo.is_some() => self.hb_tick(now, out),
            Timer::Detect if self.fo.is_some() => self.on_detect_timer(now, out),
            Timer::Elect if self.fo.is_some() => self.on_elect_timer(now, out),
            Timer::Heartbeat | Timer::Detect | Timer::Elect => {}
        }
    }
    fn on_client_op(&mut self, now: Now, op: ClientOp, out: &mut Out) {
        self.now_mono = now.mono;
        match op {
            ClientOp::Read { op, key, level } => self.read(now, op, key, level, out),
            ClientOp::Write {
                op,
                key,
                value_bytes,
                level,
                kind,
            } => {
                let me = self.me();
                let originator = match self.fo {
                    Some(_) => self.fo_originator(),
                    None => self.cfg.plan.originator(me),
                };
                match originator {
                    None => out.reply(Reply::Failed { op }),
                    Some(o) if o == me && self.fo.is_some() && !self.fo_may_write(now) => {
                        out.reply(Reply::Failed { op })
                    }
                    Some(o) if o == me => {
                        self.originate(now, op, key, value_bytes, level, kind, Some(me), out)
                    }
                    Some(o) => {
                        out.send(
                            o,
                            Msg::Client(ClientMsg::Forward {
                                op,
                                key,
                                value_bytes,
                                level,
                                kind,
                            }),
                        );
                        let d = self.deadline(now);
                        self.requests.await_forward(op, d, out);
                    }
                }
            }
        }
    }

    fn state_digest(&self) -> u64 {
        self.digest
    }

    fn is_quiescent(&self) -> bool {
        !self.dirty
            && self.requests.is_idle()
            && self.peers().all(|p| !self.links.outstanding(p))
            && !self.ae.owes()
            && self.restore.is_idle()
            && self.fo_quiescent()
            && self.gaps.is_empty()
            // Conflicts waiting for an operator are work still to do.
            && (self.cfg.plan.operator.is_none() || self.parked.is_empty())
    }

    fn cell_of(&self, key: Key) -> Option<Cell> {
        self.local_cell(key)
    }

    fn view_of(&self, key: Key) -> Option<View> {
        self.data_of(key).map(|d| d.view())
    }

    fn dots_of(&self, key: Key) -> Vec<Dot> {
        self.data_of(key)
            .and_then(|d| d.ctx())
            .map_or(Vec::new(), |c| {
                c.dots_missing_from(&super::causal::CausalContext::default())
            })
    }

    fn client_work(&self, op: &ClientOp) -> Work {
        let plan = &self.cfg.plan;
        let me = self.me();
        match *op {
            ClientOp::Write { key, .. } => {
                let originates = match self.fo {
                    Some(ref f) => f.leading,
                    None => plan.originator(me) == Some(me),
                };
                if originates && plan.holds(me, key) {
                    Work {
                        writes: 1,
                        reads: 0,
                    }
                } else {
                    Work::NONE
                }
            }
            ClientOp::Read { key, level, .. } => {
                let local = match (plan.read_level(level), self.primary()) {
                    (Level::Primary, Some(p)) => p == me,
                    _ => plan.holds(me, key),
                };
                if local {
                    Work {
                        writes: 0,
                        reads: 1,
                    }
                } else {
                    Work::NONE
                }
            }
        }
    }

    fn on_command(&mut self, now: Now, cmd: Command, out: &mut Out) {
        self.now_mono = now.mono;
        match cmd {
            Command::Promote => {
                if let Some(f) = self.fo.as_mut() {
                    f.promote = None; // a new order: its own tries
                    self.fo_promote(now, out);
                }
            }
        }
    }

    fn serves_writes(&self) -> bool {
        self.fo.is_none() || self.fo_serves_writes()
    }

    fn cells(&self) -> Box<dyn Iterator<Item = (Key, Cell)> + '_> {
        Box::new(
            self.cells
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.stamp.is_none())
                .map(|(k, c)| (Key(k as u64), *c)),
        )
    }
}

impl Replicator {}

/// Anti-entropy: a Merkle tree per peer over the key ranges both hold, compared top down in
/// alternating messages, so only ranges that differ are descended into and only their cells
/// cross the network.
impl Replicator {}

/// Three regions 100 ms heartbeats apart in failover tests: a 1 s heartbeat timeout, an 800 ms
/// lease with fencing, discard on rejoin, priority by index, 200 ms stagger.
#[cfg(test)]
pub(crate) fn failover_test_config(id: u16, strategy: super::plan::Strategy) -> Config {
    use crate::replica::detector::DetectorSpec;
    let r = RegionId;
    let mut plan = Plan::mesh(3, strategy);
    plan.failover = Some(super::plan::Failover {
        detector: DetectorSpec::Heartbeat {
            interval: Span::from_millis(100),
            timeout: Span::from_secs(1),
        },
        lease: Span::from_millis(800),
        fencing: true,
        rejoin: super::plan::Rejoin::Discard,
        manual: false,
        priority: vec![r(0), r(1), r(2)],
        stagger: Span::from_millis(200),
    });
    test_config(id, plan)
}

/// A durable region with the default window and timeouts, running `plan`: what state-machine
/// tests of failover and restore share.
#[cfg(test)]
pub(crate) fn test_config(id: u16, plan: Plan) -> Config {
    Config {
        id: RegionId(id),
        window: 64,
        max_batch: 16,
        rto_initial: Span::from_secs(1),
        rto_min: Span::from_millis(200),
        rto_max: Span::from_secs(5),
        flush_interval: Span::ZERO,
        durable: true,
        plan: Arc::new(plan),
    }
}

/// Test time: `ms` milliseconds on both clocks.
#[cfg(test)]
pub(crate) fn test_now(ms: u64) -> Now {
    Now {
        mono: Mono(ms * 1_000_000),
        wall: crate::time::Wall(ms as i64 * 1_000_000),
    }
}

/// A heartbeat from a follower of r0's term-1 stream, sent at `sent_ms`, echoing r0's heartbeat
/// of `echo_ms` (failover tests).
#[cfg(test)]
pub(crate) fn test_heartbeat(sent_ms: u64, echo_ms: Option<u64>) -> Heartbeat {
    Heartbeat {
        term: 1,
        leader: Some(RegionId(0)),
        epoch: 1,
        sent: Mono(sent_ms * 1_000_000),
        echo: echo_ms.map(|e| Mono(e * 1_000_000)),
        pos: (1, 0),
        commit: 0,
        fences: Arc::new(Vec::new()),
        chain: None,
    }
}

/// The notes in an outbox (test helper).
#[cfg(test)]
pub(crate) fn notes(out: &Outbox<Msg, Op>) -> Vec<Note> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Note(n) => Some(*n),
            _ => None,
        })
        .collect()
}

/// Collects the sends in an outbox (test and debugging helper).
pub fn sends(out: &Outbox<Msg, Op>) -> Vec<(RegionId, &Msg)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, msg } => Some((*to, msg)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests;
