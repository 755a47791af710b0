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

use super::causal::{Actor, Dot};
use super::crdt::Digest;
use super::data::{Data, View, WriteKind};
use super::plan::Plan;
use super::{
    mix64, Action, Cell, ClientOp, Command, Key, Level, Now, OpId, Outbox, RegionId, Replica,
    Reply, Stamp, TimerId, Work,
};
use crate::time::{Mono, Span};
use std::collections::VecDeque;
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
mod store;
mod timer;
mod transport;
use anti_entropy::AntiEntropy;
pub use anti_entropy::{AeMsg, AeSession};
pub use chain::ChainView;
use disk::drop_front;
pub use disk::{Disk, Op};
use failover::Fo;
pub use failover::{Fence, FoMsg, Heartbeat, Pos};
pub use msg::Msg;
use requests::Requests;
pub use restore::RestoreMsg;
pub use rpc::{ClientMsg, RepairMsg};
use store::Store;
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
    /// The local data: cells, data-policy state, clock, digest, applied entries, and the
    /// conflicts and delta gaps they leave.
    store: Store,
    /// The reliable link transport to and from every peer.
    links: Links,
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
            store: Store::from_disk(disk, &cfg.plan),
            links,
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

    /// This replica's region.
    pub(crate) fn me(&self) -> RegionId {
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

    // The store's operations, under the names the other components' files call them by.

    #[inline]
    pub fn cell(&self, key: Key) -> Cell {
        self.store.cell(key)
    }

    #[inline]
    fn local_cell(&self, key: Key) -> Option<Cell> {
        self.store.local_cell(key)
    }

    #[inline]
    fn apply_lww(&mut self, key: Key, cell: Cell, out: &mut Out) -> bool {
        self.store.apply_lww(key, cell, &self.cfg, out)
    }

    #[inline]
    fn key_digest(&self, key: Key, c: &Cell) -> u64 {
        self.store.key_digest(key, c, &self.cfg.plan)
    }

    #[inline]
    fn data_of(&self, key: Key) -> Option<&Data> {
        self.store.data_of(key)
    }

    #[inline]
    fn install_value(
        &mut self,
        key: Key,
        cell: Cell,
        data: Option<&Arc<Data>>,
        out: &mut Out,
    ) -> bool {
        let now = self.now_mono;
        self.store
            .install_value(key, cell, data, now, &self.cfg, out)
    }

    #[inline]
    fn merge_data(
        &mut self,
        key: Key,
        cell: Cell,
        f: impl FnOnce(&mut Option<Data>) -> Vec<Dot>,
        out: &mut Out,
    ) -> bool {
        let now = self.now_mono;
        self.store.merge_data(key, cell, f, now, &self.cfg, out)
    }

    #[inline]
    fn note_gap(&mut self, key: Key, origin: Actor, from: RegionId, now: Now, out: &mut Out) {
        self.store.note_gap(key, origin, from, now, &self.cfg, out)
    }

    #[inline]
    fn mark_seen(&mut self, id: EntryId, out: &mut Out) -> bool {
        self.store.mark_seen(id, &self.cfg, out)
    }

    /// The operator works through every conflict that has waited its delay: the store hands
    /// back the value each keeps, written here with a causal context covering all its
    /// siblings, so every region converges on it.
    fn on_operator_timer(&mut self, now: Now, out: &mut Out) {
        let delay = self.cfg.plan.operator;
        for (key, at) in self.store.operator_due(now, delay) {
            if let Some(keep) = self.store.unpark(key, at, now, out) {
                let bytes = self.cfg.plan.value_bytes;
                let kind = WriteKind::Put;
                self.originate(now, keep, key, bytes, Level::Default, kind, None, out);
            }
        }
        self.store.rearm_operator(now, delay, &self.cfg, out);
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
        self.store.repark(now.mono, &self.cfg, out);
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
            Timer::Gap => self.store.on_gap_timer(now, &self.cfg, out),
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
        self.store.digest()
    }

    fn is_quiescent(&self) -> bool {
        !self.dirty
            && self.requests.is_idle()
            && self.peers().all(|p| !self.links.outstanding(p))
            && !self.ae.owes()
            && self.restore.is_idle()
            && self.fo_quiescent()
            // Conflicts waiting for an operator are work still to do.
            && self.store.settled(self.cfg.plan.operator.is_some())
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
            self.store
                .cells()
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
pub(crate) fn notes(out: &Outbox<Msg, Op>) -> Vec<super::Note> {
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
