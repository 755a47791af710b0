//! Async multi-master (active-active) replication over a full mesh with last-writer-wins.
//!
//! Each region applies and acknowledges its clients' writes locally, appends them to its
//! change log, and ships the log to every peer over a per-link reliable transport:
//! window-limited go-back-N, cumulative acks, RFC 6298 retransmission timeouts with
//! exponential backoff. Loss and partitions delay entries; they never lose them.
//!
//! Two identities are kept apart on purpose:
//! - transport positions (`first`, `upto`) number what one sender incarnation (epoch) put on one
//!   link, so acks and retransmission are simple counters;
//! - entry ids `(origin, epoch, seq)` name a write wherever it travels, so copies that reach a
//!   region twice (retransmissions, relayed orphans) are applied once.
//!
//! Durability: receivers acknowledge only what they have made durable, so a sender may forget
//! an acknowledged entry. With `flush_interval` > 0 clients are acknowledged before the fsync;
//! peers then retain an origin's entries until the origin announces them durable, and when a
//! restarted origin announces what it lost, peers relay those orphans back to everyone. A write
//! is therefore lost only if no region held it durably.

use super::{
    cell_digest, mix64, Action, Cell, ClientOp, Durable, Key, Note, Now, OpId, Outbox, RegionId,
    Replica, Reply, Stamp, TimerId, WireMessage,
};
use crate::time::{Mono, Span};
use std::collections::{BTreeSet, VecDeque};

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: RegionId,
    pub n: usize,
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
}

impl Entry {
    fn compute_checksum(id: EntryId, key: Key, cell: &Cell, value_bytes: u32) -> u32 {
        let h = mix64(
            id.seq
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
        Entry {
            id,
            key,
            cell,
            value_bytes,
            checksum: Entry::compute_checksum(id, key, &cell, value_bytes),
        }
    }

    pub fn verify(&self) -> bool {
        self.checksum == Entry::compute_checksum(self.id, self.key, &self.cell, self.value_bytes)
    }

    /// Bytes on the wire: id, key, stamp, value id, checksum, then the value itself.
    pub fn wire_bytes(&self) -> u64 {
        44 + self.value_bytes as u64
    }
}

/// The entries of one replication message. Steady-state messages carry one entry, which is
/// stored inline so the hot path does not allocate.
pub type Batch = smallvec::SmallVec<[Entry; 1]>;

/// A position in an origin's own history: (epoch, seq).
pub type LogMark = (u32, u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// Log entries at transport positions `first..first+len` of the sender's epoch `epoch`.
    /// An empty batch is a probe: it announces the epoch and asks for an ack.
    Replicate {
        epoch: u32,
        first: u64,
        entries: Batch,
        /// The sender's own entries up to here are durable at the sender.
        durable_own: LogMark,
        /// Set after a restart: the sender's own entries after this mark were lost locally.
        lost_after: Option<LogMark>,
        retransmit: bool,
    },
    /// Everything up to transport position `upto` of the sender's epoch `epoch` is durable here.
    Ack { epoch: u32, upto: u64 },
}

impl WireMessage for Msg {
    fn wire_bytes(&self) -> u64 {
        match self {
            Msg::Replicate { entries, .. } => {
                48 + entries.iter().map(Entry::wire_bytes).sum::<u64>()
            }
            Msg::Ack { .. } => 24,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Msg::Replicate { entries, .. } if entries.is_empty() => "probe",
            Msg::Replicate { .. } => "replicate",
            Msg::Ack { .. } => "ack",
        }
    }
    fn is_retransmission(&self) -> bool {
        matches!(
            self,
            Msg::Replicate {
                retransmit: true,
                ..
            }
        )
    }
    fn carries_key(&self, key: Key) -> bool {
        matches!(self, Msg::Replicate { entries, .. } if entries.iter().any(|e| e.key == key))
    }
    fn fingerprint(&self) -> u64 {
        match self {
            Msg::Replicate {
                epoch,
                first,
                entries,
                ..
            // The trace folds this through a mixer, so a cheap injective-enough packing suffices.
            } => {
                (*first).rotate_left(24)
                    ^ (*epoch as u64) << 56
                    ^ (entries.len() as u64) << 44
                    ^ entries.first().map_or(0, |e| e.key.0.rotate_left(32) ^ e.id.seq)
            }
            Msg::Ack { epoch, upto } => 1 << 63 ^ (*epoch as u64) << 48 ^ upto,
        }
    }
}

/// A set of sequence numbers: a contiguous prefix plus stragglers above it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    upto: u64,
    above: BTreeSet<u64>,
}

impl SeqSet {
    /// Inserts `seq`; false if it was already present.
    pub fn insert(&mut self, seq: u64) -> bool {
        if seq <= self.upto || self.above.contains(&seq) {
            return false;
        }
        if seq == self.upto + 1 {
            self.upto = seq;
            while self.above.remove(&(self.upto + 1)) {
                self.upto += 1;
            }
        } else {
            self.above.insert(seq);
        }
        true
    }

    pub fn contains(&self, seq: u64) -> bool {
        seq <= self.upto || self.above.contains(&seq)
    }

    pub fn upto(&self) -> u64 {
        self.upto
    }
}

/// Which entries of each origin a replica has applied, per origin epoch.
/// Epochs are few (one per restart) and the newest is almost always the one asked for, so a
/// short list searched from the back beats a map.
type Seen = Vec<Vec<(u32, SeqSet)>>;

fn seq_set(per_origin: &mut Vec<(u32, SeqSet)>, epoch: u32) -> &mut SeqSet {
    match per_origin.iter().rposition(|(e, _)| *e == epoch) {
        Some(i) => &mut per_origin[i].1,
        None => {
            per_origin.push((epoch, SeqSet::default()));
            &mut per_origin.last_mut().expect("just pushed").1
        }
    }
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct MmDurable {
    pub epoch: u32,
    pub own_seq: u64,
    pub cells: Vec<Cell>,
    pub log: VecDeque<Entry>,
    pub seen: Seen,
    /// Per sender: (sender epoch, transport position received contiguously).
    pub recv: Vec<(u32, u64)>,
}

#[derive(Clone, Debug)]
pub enum Op {
    Epoch(u32),
    OwnSeq(u64),
    Cell(Key, Cell),
    Append(Entry),
    TruncateFront(usize),
    Seen(EntryId),
    Recv(RegionId, u32, u64),
}

impl Durable for MmDurable {
    type Op = Op;
    fn apply(&mut self, op: Op) {
        match op {
            Op::Epoch(e) => {
                self.epoch = e;
                self.own_seq = 0;
            }
            Op::OwnSeq(s) => self.own_seq = s,
            Op::Cell(k, c) => {
                let i = k.0 as usize;
                if self.cells.len() <= i {
                    self.cells.resize(i + 1, Cell::default_none());
                }
                self.cells[i] = c;
            }
            Op::Append(e) => self.log.push_back(e),
            Op::TruncateFront(k) => {
                self.log.drain(..k.min(self.log.len()));
            }
            Op::Seen(id) => {
                let o = id.origin.idx();
                if self.seen.len() <= o {
                    self.seen.resize_with(o + 1, Vec::new);
                }
                seq_set(&mut self.seen[o], id.epoch).insert(id.seq);
            }
            Op::Recv(s, e, p) => {
                let i = s.idx();
                if self.recv.len() <= i {
                    self.recv.resize(i + 1, (0, 0));
                }
                self.recv[i] = (e, p);
            }
        }
    }
}

impl Cell {
    /// The empty cell: no write has reached this key.
    pub fn default_none() -> Cell {
        Cell {
            stamp: Stamp::NONE,
            value: OpId(0),
        }
    }
}

/// Sending side of one link.
#[derive(Clone, Debug)]
struct Outgoing {
    /// Highest transport position the peer acknowledged.
    acked: u64,
    /// Next position to send.
    next: u64,
    /// Highest position ever sent (anything at or below is a retransmission).
    high_sent: u64,
    rto: Span,
    srtt: Option<Span>,
    rttvar: Span,
    /// One fresh send being timed for an RTT sample (Karn: never a retransmission).
    timed: Option<(u64, Mono)>,
    /// When the oldest outstanding send times out, if anything is outstanding. Moving it does
    /// not touch the host's timer: the timer may fire early and is then re-armed (acks move the
    /// deadline constantly, and re-arming on each would flood the event queue).
    deadline: Option<Mono>,
    /// The time the host timer is currently set for.
    armed_at: Option<Mono>,
    /// A restarted replica probes until each peer has acknowledged its new epoch.
    hello_pending: bool,
}

/// Receiving side of one link.
#[derive(Clone, Debug, Default)]
struct Incoming {
    epoch: u32,
    cum: u64,
    ooo: BTreeSet<u64>,
    need_ack: bool,
}

pub struct MultiMaster {
    cfg: Config,
    epoch: u32,
    own_seq: u64,
    durable_own: u64,
    lost_after: Option<LogMark>,
    counter: u32,
    cells: Vec<Cell>,
    digest: u64,
    log: VecDeque<Entry>,
    /// Transport position of `log[0]`.
    log_base: u64,
    out: Vec<Outgoing>,
    inc: Vec<Incoming>,
    seen: Seen,
    /// Per origin: its own entries it has not yet announced durable (kept for orphan relay).
    retained: Vec<VecDeque<Entry>>,
    dirty: bool,
    flush_armed: bool,
}

type Out = Outbox<Msg, Op>;

impl MultiMaster {
    fn flush_timer(&self) -> TimerId {
        TimerId(self.cfg.n as u32)
    }

    pub fn from_disk(cfg: Config, disk: &MmDurable) -> MultiMaster {
        let n = cfg.n;
        let epoch = disk.epoch + 1;
        let mut cells = disk.cells.clone();
        if cells.is_empty() {
            cells.reserve(1024);
        }
        let digest = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stamp.is_none())
            .fold(0u64, |acc, (k, c)| {
                acc.wrapping_add(cell_digest(Key(k as u64), c))
            });
        let mut seen = disk.seen.clone();
        seen.resize_with(n, Vec::new);
        let mut inc = vec![Incoming::default(); n];
        for (i, (e, p)) in disk.recv.iter().enumerate().take(n) {
            inc[i].epoch = *e;
            inc[i].cum = *p;
        }
        let restarted = disk.epoch > 0;
        let out = (0..n)
            .map(|_| Outgoing {
                acked: 0,
                next: 1,
                high_sent: 0,
                rto: cfg.rto_initial,
                srtt: None,
                rttvar: Span::ZERO,
                timed: None,
                deadline: None,
                armed_at: None,
                hello_pending: restarted,
            })
            .collect();
        MultiMaster {
            epoch,
            own_seq: 0,
            durable_own: 0,
            lost_after: restarted.then_some((disk.epoch, disk.own_seq)),
            counter: 0,
            cells,
            digest,
            // The surviving log is re-sent under the new epoch; peers drop what they already have.
            log: disk.log.clone(),
            log_base: 1,
            out,
            inc,
            seen,
            retained: vec![VecDeque::new(); n],
            dirty: false,
            flush_armed: false,
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

    fn peers(&self) -> impl Iterator<Item = usize> + 'static {
        let me = self.cfg.id.idx();
        (0..self.cfg.n).filter(move |&p| p != me)
    }

    fn last_pos(&self) -> u64 {
        self.log_base + self.log.len() as u64 - 1
    }

    fn cell(&self, key: Key) -> Cell {
        self.cells
            .get(key.0 as usize)
            .copied()
            .unwrap_or_else(Cell::default_none)
    }

    /// Last-writer-wins: install `cell` if its stamp is newer than what the key holds.
    fn apply_lww(&mut self, key: Key, cell: Cell, out: &mut Out) {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if cell.stamp <= old.stamp {
            return;
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
    }

    fn mark_seen(&mut self, id: EntryId, out: &mut Out) -> bool {
        let fresh = seq_set(&mut self.seen[id.origin.idx()], id.epoch).insert(id.seq);
        if fresh {
            self.persist(out, || Op::Seen(id));
        }
        fresh
    }

    fn append(&mut self, e: Entry, out: &mut Out) {
        self.persist(out, || Op::Append(e.clone()));
        self.log.push_back(e);
    }

    fn outstanding(&self, p: usize) -> bool {
        let o = &self.out[p];
        o.hello_pending || o.acked < self.last_pos()
    }

    /// Restarts the retransmission deadline of peer `p`; sets the host timer only if it would
    /// otherwise fire too late.
    fn arm(&mut self, p: usize, now: Now, out: &mut Out) {
        let o = &mut self.out[p];
        let d = now.mono + o.rto;
        o.deadline = Some(d);
        if o.armed_at.is_none_or(|a| a > d) {
            o.armed_at = Some(d);
            out.set_timer(TimerId(p as u32), d);
        }
    }

    /// Sends whatever the window allows to peer `p`.
    fn transmit(&mut self, p: usize, now: Now, out: &mut Out) {
        let last = self.last_pos();
        if self.out[p].next > last && self.out[p].deadline.is_some() {
            return; // nothing new to send and the timer is running: the common ack path
        }
        let window = self.cfg.window as u64;
        let max_batch = self.cfg.max_batch as u64;
        loop {
            let o = &self.out[p];
            let start = o.next;
            if start > last || start - o.acked > window {
                break;
            }
            let end = last.min(start + max_batch - 1).min(o.acked + window);
            let from = (start - self.log_base) as usize;
            let to = (end - self.log_base) as usize;
            let entries: Batch = if from == to {
                smallvec::smallvec![self.log[from].clone()]
            } else {
                self.log.range(from..=to).cloned().collect()
            };
            let retransmit = start <= o.high_sent;
            let msg = Msg::Replicate {
                epoch: self.epoch,
                first: start,
                entries,
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit,
            };
            out.send(RegionId(p as u16), msg);
            let o = &mut self.out[p];
            if o.timed.is_none() && !retransmit {
                o.timed = Some((end, now.mono));
            }
            o.high_sent = o.high_sent.max(end);
            o.next = end + 1;
        }
        if self.outstanding(p) && self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
    }

    fn probe(&self, p: usize, out: &mut Out) {
        out.send(
            RegionId(p as u16),
            Msg::Replicate {
                epoch: self.epoch,
                first: self.out[p].next,
                entries: Batch::new(),
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit: false,
            },
        );
    }

    fn truncate_log(&mut self, out: &mut Out) {
        let min_acked = self
            .peers()
            .map(|p| self.out[p].acked)
            .min()
            .unwrap_or(self.last_pos());
        if min_acked < self.log_base {
            return;
        }
        let k = ((min_acked - self.log_base + 1) as usize).min(self.log.len());
        if k > 0 {
            self.log.drain(..k);
            self.log_base += k as u64;
            self.persist(out, || Op::TruncateFront(k));
        }
    }

    fn on_ack(&mut self, now: Now, from: usize, epoch: u32, upto: u64, out: &mut Out) {
        if epoch != self.epoch {
            return; // an ack for a previous incarnation's positions
        }
        let (min, max) = (self.cfg.rto_min, self.cfg.rto_max);
        let o = &mut self.out[from];
        o.hello_pending = false;
        if upto > o.acked {
            if let Some((pos, t)) = o.timed {
                if upto >= pos {
                    // RFC 6298 smoothing.
                    let r = now.mono - t;
                    match o.srtt {
                        None => {
                            o.srtt = Some(r);
                            o.rttvar = Span(r.0 / 2);
                        }
                        Some(s) => {
                            o.rttvar = Span((3 * o.rttvar.0 + s.0.abs_diff(r.0)) / 4);
                            o.srtt = Some(Span((7 * s.0 + r.0) / 8));
                        }
                    }
                    o.timed = None;
                }
            }
            if let Some(s) = o.srtt {
                o.rto = Span((s.0 + (4 * o.rttvar.0).max(1_000_000)).clamp(min.0, max.0));
            }
            o.acked = upto;
            if o.next <= upto {
                o.next = upto + 1;
            }
            self.truncate_log(out);
            if self.outstanding(from) {
                self.arm(from, now, out);
            } else {
                self.out[from].deadline = None;
            }
        } else if !self.outstanding(from) {
            self.out[from].deadline = None;
        }
        self.transmit(from, now, out);
    }

    fn on_replicate(
        &mut self,
        now: Now,
        from: RegionId,
        (epoch, first, entries, durable_own, lost_after): (
            u32,
            u64,
            Batch,
            LogMark,
            Option<LogMark>,
        ),
        out: &mut Out,
    ) {
        let s = from.idx();
        if epoch < self.inc[s].epoch {
            return; // from before the sender's restart
        }
        if epoch > self.inc[s].epoch {
            self.inc[s] = Incoming {
                epoch,
                ..Incoming::default()
            };
            self.persist(out, || Op::Recv(from, epoch, 0));
            if lost_after.is_some() {
                self.relay_orphans(now, s, out);
            }
        }
        // The sender's own entries up to `durable_own` are safe at the sender: stop retaining.
        while self.retained[s]
            .front()
            .is_some_and(|e| (e.id.epoch, e.id.seq) <= durable_own)
        {
            self.retained[s].pop_front();
        }
        let mut advanced = false;
        for (i, e) in entries.into_iter().enumerate() {
            let pos = first + i as u64;
            let inc = &mut self.inc[s];
            if pos <= inc.cum || inc.ooo.contains(&pos) {
                continue; // already received on this link
            }
            if pos == inc.cum + 1 {
                inc.cum = pos;
                // Stragglers are rare: skip the set entirely on the in-order path.
                while !inc.ooo.is_empty() && inc.ooo.remove(&(inc.cum + 1)) {
                    inc.cum += 1;
                }
                advanced = true;
            } else {
                inc.ooo.insert(pos);
            }
            if !e.verify() {
                out.note(Note::CorruptEntry);
                continue;
            }
            if !self.mark_seen(e.id, out) {
                continue; // already applied via another path
            }
            self.apply_lww(e.key, e.cell, out);
            if e.id.origin == from && (e.id.epoch, e.id.seq) > durable_own {
                self.retained[s].push_back(e);
            }
        }
        if advanced {
            self.persist(out, || Op::Recv(from, self.inc[s].epoch, self.inc[s].cum));
        }
        if self.sync_mode() {
            self.sync(out);
            out.send(
                from,
                Msg::Ack {
                    epoch: self.inc[s].epoch,
                    upto: self.inc[s].cum,
                },
            );
        } else {
            self.inc[s].need_ack = true;
            self.dirty = true;
            self.ensure_flush(now, out);
        }
    }

    /// The sender restarted and lost its own entries after some mark: everything of its we
    /// still retain is exactly that tail. Re-originate it from here so every region gets it.
    fn relay_orphans(&mut self, now: Now, s: usize, out: &mut Out) {
        let orphans: Vec<Entry> = self.retained[s].drain(..).collect();
        if orphans.is_empty() {
            return;
        }
        for e in orphans {
            self.append(e, out);
        }
        if self.sync_mode() {
            self.sync(out);
        } else {
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        for p in self.peers() {
            self.transmit(p, now, out);
        }
    }

    fn ensure_flush(&mut self, now: Now, out: &mut Out) {
        if !self.flush_armed {
            self.flush_armed = true;
            out.set_timer(self.flush_timer(), now.mono + self.cfg.flush_interval);
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
        for s in 0..self.cfg.n {
            if self.inc[s].need_ack {
                self.inc[s].need_ack = false;
                out.send(
                    RegionId(s as u16),
                    Msg::Ack {
                        epoch: self.inc[s].epoch,
                        upto: self.inc[s].cum,
                    },
                );
            }
        }
    }

    #[cfg(test)]
    fn log_len(&self) -> usize {
        self.log.len()
    }
}

impl Replica for MultiMaster {
    type Msg = Msg;
    type Durable = MmDurable;
    type Config = Config;

    fn recover(cfg: &Config, disk: &MmDurable) -> MultiMaster {
        MultiMaster::from_disk(cfg.clone(), disk)
    }

    fn on_start(&mut self, now: Now, out: &mut Out) {
        self.persist(out, || Op::Epoch(self.epoch));
        self.sync(out);
        for p in self.peers() {
            if self.out[p].hello_pending {
                self.probe(p, out);
            }
            self.transmit(p, now, out);
        }
    }

    fn on_message(&mut self, now: Now, from: RegionId, msg: Msg, out: &mut Out) {
        match msg {
            Msg::Replicate {
                epoch,
                first,
                entries,
                durable_own,
                lost_after,
                ..
            } => self.on_replicate(
                now,
                from,
                (epoch, first, entries, durable_own, lost_after),
                out,
            ),
            Msg::Ack { epoch, upto } => self.on_ack(now, from.idx(), epoch, upto, out),
        }
    }

    fn on_timer(&mut self, now: Now, id: TimerId, out: &mut Out) {
        if id == self.flush_timer() {
            self.flush(out);
            return;
        }
        let p = id.0 as usize;
        let o = &mut self.out[p];
        o.armed_at = None;
        match o.deadline {
            None => return,
            Some(d) if now.mono < d => {
                // Fired early: the deadline moved since the timer was set.
                o.armed_at = Some(d);
                out.set_timer(id, d);
                return;
            }
            Some(_) => {}
        }
        if !self.outstanding(p) {
            self.out[p].deadline = None;
            return;
        }
        // Go back N: resend from the first unacknowledged entry, with a doubled timeout.
        let o = &mut self.out[p];
        o.next = o.acked + 1;
        o.timed = None;
        o.rto = Span((o.rto.0.saturating_mul(2)).min(self.cfg.rto_max.0));
        o.deadline = None;
        if o.hello_pending {
            self.probe(p, out);
        }
        self.transmit(p, now, out);
        if self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
    }

    fn on_client_op(&mut self, now: Now, op: ClientOp, out: &mut Out) {
        match op {
            ClientOp::Read { op, key } => {
                let c = self.cell(key);
                out.reply(Reply::ReadOk {
                    op,
                    cell: (!c.stamp.is_none()).then_some(c),
                });
            }
            ClientOp::Write {
                op,
                key,
                value_bytes,
            } => {
                self.counter = self.counter.wrapping_add(1);
                let stamp = Stamp::new(now.wall, self.cfg.id, self.epoch, self.counter);
                out.note(Note::WriteStamped {
                    op,
                    key,
                    stamp,
                    seen: self.cell(key).stamp,
                });
                self.own_seq += 1;
                let id = EntryId {
                    origin: self.cfg.id,
                    epoch: self.epoch,
                    seq: self.own_seq,
                };
                let cell = Cell { stamp, value: op };
                self.mark_seen(id, out);
                // Under LWW a write stamped below the current value loses at once, even locally.
                self.apply_lww(key, cell, out);
                self.append(Entry::new(id, key, cell, value_bytes), out);
                self.persist(out, || Op::OwnSeq(self.own_seq));
                if self.sync_mode() {
                    self.sync(out);
                    self.durable_own = self.own_seq;
                } else {
                    self.dirty = true;
                    self.ensure_flush(now, out);
                }
                out.reply(Reply::WriteOk { op, stamp });
                for p in self.peers() {
                    self.transmit(p, now, out);
                }
            }
        }
    }

    fn state_digest(&self) -> u64 {
        self.digest
    }

    fn is_quiescent(&self) -> bool {
        !self.dirty && self.peers().all(|p| !self.outstanding(p))
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
mod tests {
    use super::*;
    use crate::time::Wall;

    fn cfg(id: u16, flush: Span) -> Config {
        Config {
            id: RegionId(id),
            n: 3,
            window: 4,
            max_batch: 2,
            rto_initial: Span::from_secs(1),
            rto_min: Span::from_millis(200),
            rto_max: Span::from_secs(5),
            flush_interval: flush,
            durable: true,
        }
    }

    fn now(ms: u64) -> Now {
        Now {
            mono: Mono(ms * 1_000_000),
            wall: Wall(ms as i64 * 1_000_000),
        }
    }

    fn write(r: &mut MultiMaster, t: u64, op: u64, key: u64) -> Out {
        let mut out = Out::default();
        r.on_client_op(
            now(t),
            ClientOp::Write {
                op: OpId(op),
                key: Key(key),
                value_bytes: 10,
            },
            &mut out,
        );
        out
    }

    /// Applies persisted ops to a disk, honouring `Sync` like the engine does.
    fn flush_to(disk: &mut MmDurable, pending: &mut Vec<Op>, out: Out) {
        for a in out.actions {
            match a {
                Action::Persist(op) => pending.push(op),
                Action::Sync => pending.drain(..).for_each(|op| disk.apply(op)),
                _ => {}
            }
        }
    }

    #[test]
    fn a_write_is_applied_acked_durable_and_shipped_to_every_peer() {
        let mut r = MultiMaster::from_disk(cfg(0, Span::ZERO), &MmDurable::default());
        let out = write(&mut r, 10, 7, 3);
        let kinds: Vec<&str> = out
            .actions
            .iter()
            .map(|a| match a {
                Action::Note(Note::WriteStamped { .. }) => "stamped",
                Action::Note(Note::Applied { .. }) => "applied",
                Action::Persist(_) => "persist",
                Action::Sync => "sync",
                Action::Reply(Reply::WriteOk { .. }) => "ack",
                Action::Send { .. } => "send",
                Action::SetTimer { .. } => "timer",
                _ => "other",
            })
            .collect();
        // Durable (sync) strictly before the client ack; shipped after.
        assert_eq!(
            kinds,
            [
                "stamped", "persist", "persist", "applied", "persist", "persist", "sync", "ack",
                "send", "timer", "send", "timer"
            ]
        );
        let s = sends(&out);
        assert_eq!(s.iter().map(|(to, _)| to.0).collect::<Vec<_>>(), [1, 2]);
        match s[0].1 {
            Msg::Replicate {
                first,
                entries,
                retransmit,
                ..
            } => {
                assert_eq!((*first, entries.len(), *retransmit), (1, 1, false));
                assert_eq!(entries[0].cell.value, OpId(7));
                assert!(entries[0].verify());
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn receiver_applies_once_and_acks_cumulatively() {
        let mut a = MultiMaster::from_disk(cfg(0, Span::ZERO), &MmDurable::default());
        let mut b = MultiMaster::from_disk(cfg(1, Span::ZERO), &MmDurable::default());
        let out = write(&mut a, 1, 1, 5);
        let msg = sends(&out)[0].1.clone();
        let mut ob = Out::default();
        b.on_message(now(2), RegionId(0), msg.clone(), &mut ob);
        assert_eq!(b.cell(Key(5)).value, OpId(1));
        assert_eq!(
            sends(&ob),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
        // A duplicate changes nothing but is acknowledged again.
        let mut ob2 = Out::default();
        b.on_message(now(3), RegionId(0), msg, &mut ob2);
        assert!(!ob2
            .actions
            .iter()
            .any(|a| matches!(a, Action::Note(Note::Applied { .. }))));
        assert_eq!(
            sends(&ob2),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
        assert_eq!(a.state_digest(), b.state_digest());
    }

    #[test]
    fn out_of_order_delivery_waits_for_the_gap() {
        let mut a = MultiMaster::from_disk(cfg(0, Span::ZERO), &MmDurable::default());
        let mut b = MultiMaster::from_disk(cfg(1, Span::ZERO), &MmDurable::default());
        let m1 = sends(&write(&mut a, 1, 1, 1))[0].1.clone();
        let m2 = sends(&write(&mut a, 2, 2, 2))[0].1.clone();
        let mut o = Out::default();
        b.on_message(now(5), RegionId(0), m2, &mut o);
        assert_eq!(sends(&o)[0].1, &Msg::Ack { epoch: 1, upto: 0 });
        assert_eq!(b.cell(Key(2)).value, OpId(2), "applied even out of order");
        let mut o = Out::default();
        b.on_message(now(6), RegionId(0), m1, &mut o);
        assert_eq!(sends(&o)[0].1, &Msg::Ack { epoch: 1, upto: 2 });
    }

    #[test]
    fn timeout_goes_back_n_with_backoff_and_window() {
        let mut a = MultiMaster::from_disk(cfg(0, Span::ZERO), &MmDurable::default());
        for i in 0..6 {
            let out = write(&mut a, i, i, i);
            // Window 4: the 5th and 6th writes are not sent until acks arrive.
            let to_b = sends(&out).iter().filter(|(to, _)| to.0 == 1).count();
            assert_eq!(to_b, usize::from(i < 4), "write {i}");
        }
        let mut out = Out::default();
        a.on_timer(now(1000), TimerId(1), &mut out);
        let s: Vec<_> = sends(&out)
            .into_iter()
            .filter(|(to, _)| to.0 == 1)
            .collect();
        // Resends positions 1..=4 in batches of 2, flagged as retransmissions.
        let firsts: Vec<(u64, usize, bool)> = s
            .iter()
            .map(|(_, m)| match m {
                Msg::Replicate {
                    first,
                    entries,
                    retransmit,
                    ..
                } => (*first, entries.len(), *retransmit),
                _ => panic!(),
            })
            .collect();
        assert_eq!(firsts, [(1, 2, true), (3, 2, true)]);
        let timer = out.actions.iter().find_map(|x| match x {
            Action::SetTimer { id, at } if id.0 == 1 => Some(*at),
            _ => None,
        });
        assert_eq!(
            timer,
            Some(Mono(1000 * 1_000_000 + 2_000_000_000)),
            "timeout doubled to 2s"
        );
        // An ack of 4 opens the window for 5 and 6.
        let mut out = Out::default();
        a.on_message(
            now(1100),
            RegionId(1),
            Msg::Ack { epoch: 1, upto: 4 },
            &mut out,
        );
        let s = sends(&out);
        assert_eq!(s.len(), 1);
        assert!(matches!(s[0].1, Msg::Replicate { first: 5, entries, .. } if entries.len() == 2));
    }

    #[test]
    fn log_is_truncated_once_every_peer_acked() {
        let mut a = MultiMaster::from_disk(cfg(0, Span::ZERO), &MmDurable::default());
        write(&mut a, 1, 1, 1);
        write(&mut a, 2, 2, 2);
        let mut out = Out::default();
        a.on_message(
            now(3),
            RegionId(1),
            Msg::Ack { epoch: 1, upto: 2 },
            &mut out,
        );
        assert_eq!(a.log_len(), 2);
        assert!(!a.is_quiescent());
        a.on_message(
            now(3),
            RegionId(2),
            Msg::Ack { epoch: 1, upto: 1 },
            &mut out,
        );
        assert_eq!(a.log_len(), 1);
        a.on_message(
            now(3),
            RegionId(2),
            Msg::Ack { epoch: 1, upto: 2 },
            &mut out,
        );
        assert_eq!(a.log_len(), 0);
        assert!(a.is_quiescent());
    }

    #[test]
    fn flush_mode_acks_clients_first_and_peers_only_after_fsync() {
        let ten = Span::from_millis(10);
        let mut a = MultiMaster::from_disk(cfg(0, ten), &MmDurable::default());
        let mut b = MultiMaster::from_disk(cfg(1, ten), &MmDurable::default());
        let out = write(&mut a, 0, 1, 1);
        assert!(
            !out.actions.iter().any(|x| matches!(x, Action::Sync)),
            "no fsync before the ack"
        );
        assert!(out
            .actions
            .iter()
            .any(|x| matches!(x, Action::Reply(Reply::WriteOk { .. }))));
        let msg = sends(&out)[0].1.clone();
        let mut ob = Out::default();
        b.on_message(now(1), RegionId(0), msg, &mut ob);
        assert!(sends(&ob).is_empty(), "no ack before the flush");
        let mut ob = Out::default();
        b.on_timer(now(11), TimerId(3), &mut ob);
        assert!(matches!(ob.actions[0], Action::Sync));
        assert_eq!(
            sends(&ob),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
    }

    #[test]
    fn crash_before_fsync_recovers_orphans_from_peers() {
        let ten = Span::from_millis(10);
        let mut disk_a = MmDurable::default();
        let mut pend_a = Vec::new();
        let mut a = MultiMaster::from_disk(cfg(0, ten), &disk_a);
        let mut b = MultiMaster::from_disk(cfg(1, ten), &MmDurable::default());
        let mut c = MultiMaster::from_disk(cfg(2, ten), &MmDurable::default());
        let mut o = Out::default();
        a.on_start(now(0), &mut o);
        flush_to(&mut disk_a, &mut pend_a, o);
        // Write reaches b only; a crashes before its fsync.
        let out = write(&mut a, 1, 42, 9);
        let to_b = sends(&out)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        flush_to(&mut disk_a, &mut pend_a, out);
        let mut ob = Out::default();
        b.on_message(now(2), RegionId(0), to_b, &mut ob);
        assert_eq!(b.cell(Key(9)).value, OpId(42));
        // Crash: pending ops are lost; the write is gone from a's disk.
        let mut a2 = MultiMaster::from_disk(cfg(0, ten), &disk_a);
        assert!(a2.cell(Key(9)).stamp.is_none());
        let mut o = Out::default();
        a2.on_start(now(20), &mut o);
        let probe_b = sends(&o)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        // b learns of the restart and relays the orphan to a and c.
        let mut ob = Out::default();
        b.on_message(now(30), RegionId(0), probe_b, &mut ob);
        let relays = sends(&ob);
        let to_a = relays.iter().find(|(t, _)| t.0 == 0).unwrap().1.clone();
        let to_c = relays.iter().find(|(t, _)| t.0 == 2).unwrap().1.clone();
        let mut o = Out::default();
        a2.on_message(now(40), RegionId(1), to_a, &mut o);
        c.on_message(now(40), RegionId(1), to_c, &mut Out::default());
        assert_eq!(a2.cell(Key(9)).value, OpId(42));
        assert_eq!(c.cell(Key(9)).value, OpId(42));
        assert_eq!(a2.state_digest(), b.state_digest());
        assert_eq!(b.state_digest(), c.state_digest());
    }

    #[test]
    fn seqset_tracks_prefix_and_stragglers() {
        let mut s = SeqSet::default();
        assert!(s.insert(2));
        assert_eq!(s.upto(), 0);
        assert!(s.insert(1));
        assert_eq!(s.upto(), 2);
        assert!(!s.insert(2));
        assert!(s.insert(5));
        assert!(s.contains(5) && !s.contains(4));
    }
}
