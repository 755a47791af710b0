//! The reliable link transport between two regions: its messages (log entries, cumulative
//! acks, durability notices).

use super::msg::writes;
use super::{drop_front, Entry, Msg, Op, SeqSet, Timer, MAX_SPARE_BATCHES};
use super::{Batch, LogMark};
use super::{Out, Replicator};
use crate::replica::causal::Actor;
use crate::replica::Note;
use crate::replica::{Key, MsgClass, WireMessage, Work};
use crate::replica::{Now, RegionId};
use crate::time::{Mono, Span};
use std::collections::VecDeque;
use std::sync::Arc;

/// Messages of the reliable link transport: log entries, cumulative acks, and the
/// durability notices a holder sends an entry's origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LinkMsg {
    /// Log entries at transport positions `first..first+len` of the sender's epoch `epoch`.
    /// An empty batch is a probe: it announces the epoch and asks for an ack.
    Replicate {
        epoch: u32,
        first: u64,
        /// Positions below this are settled (acknowledged or given up): do not wait for them.
        floor: u64,
        entries: Batch,
        /// The sender's own entries up to here are durable at the sender.
        durable_own: LogMark,
        /// Set after a restart: the sender's own entries after this mark were lost locally.
        lost_after: Option<LogMark>,
        retransmit: bool,
        /// Size on the wire after compression.
        wire: u32,
        /// Failover: the sender's term. A receiver whose fences come from an older term cannot
        /// judge the entries against fences it has not learned yet, so it leaves them
        /// unacknowledged for now.
        term: u64,
    },
    /// Everything up to transport position `upto` of the sender's epoch `epoch` is durable here.
    Ack { epoch: u32, upto: u64 },
    /// To an origin: these of its entries (its epoch `epoch`) are durable here.
    Durable {
        epoch: u32,
        seqs: smallvec::SmallVec<[u64; 2]>,
    },
}

impl WireMessage for LinkMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            LinkMsg::Replicate { wire, .. } => *wire as u64,
            LinkMsg::Ack { .. } => 24,
            LinkMsg::Durable { seqs, .. } => 16 + 8 * seqs.len() as u64,
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            LinkMsg::Replicate { .. } | LinkMsg::Ack { .. } => MsgClass::Replication,
            LinkMsg::Durable { .. } => MsgClass::WriteAck,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            LinkMsg::Replicate { entries, .. } if entries.is_empty() => "probe",
            LinkMsg::Replicate { .. } => "replicate",
            LinkMsg::Ack { .. } => "ack",
            LinkMsg::Durable { .. } => "durable",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            LinkMsg::Replicate {
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
            LinkMsg::Ack { epoch, upto } => 1 << 63 ^ (*epoch as u64) << 48 ^ upto,
            LinkMsg::Durable { epoch, seqs } => {
                3 << 60 ^ (*epoch as u64) << 40 ^ seqs.first().copied().unwrap_or(0) ^ (seqs.len() as u64) << 32
            }
        }
    }

    #[inline]
    fn work(&self) -> Work {
        match self {
            LinkMsg::Replicate { entries, .. } => writes(entries.len()),
            _ => Work::NONE,
        }
    }

    #[inline]
    fn is_retransmission(&self) -> bool {
        matches!(
            self,
            LinkMsg::Replicate {
                retransmit: true,
                ..
            }
        )
    }

    fn carries_key(&self, key: Key) -> bool {
        match self {
            LinkMsg::Replicate { entries, .. } => entries.iter().any(|e| e.key == key),
            _ => false,
        }
    }
}

impl Replicator {
    /// Routes a transport message (the hot path: every replicated batch and ack).
    #[inline]
    pub(super) fn on_link_msg(&mut self, now: Now, from: RegionId, msg: LinkMsg, out: &mut Out) {
        match msg {
            LinkMsg::Replicate { term, .. }
                if self.fo.as_ref().is_some_and(|f| term > f.fences_term) =>
            {
                // Judged later, against the newer term's fences (the sender will resend).
            }
            LinkMsg::Replicate {
                epoch,
                first,
                floor,
                entries,
                durable_own,
                lost_after,
                ..
            } => {
                self.on_replicate(
                    now,
                    from,
                    (epoch, first, floor, entries, durable_own, lost_after),
                    out,
                );
                if self.fo.as_ref().is_some_and(|f| f.transfer_wait.is_some()) {
                    self.fo_check_transfer(now, out);
                }
            }
            LinkMsg::Ack { epoch, upto } => self.on_ack(now, from.idx(), epoch, upto, out),
            LinkMsg::Durable { epoch, seqs } => self.on_durable(from, epoch, &seqs, out),
        }
    }
}

/// Sending side of one link.
#[derive(Clone, Debug)]
pub(super) struct Outgoing {
    /// Entries at transport positions `base..base+len`, not yet settled.
    pub(super) queue: VecDeque<Entry>,
    /// When each queued entry was queued (only kept when the plan gives up on old entries).
    pub(super) queued_at: VecDeque<Mono>,
    pub(super) base: u64,
    /// Highest transport position the peer acknowledged (or that was given up).
    pub(super) acked: u64,
    /// Next position to send.
    pub(super) next: u64,
    /// Highest position ever sent (anything at or below is a retransmission).
    pub(super) high_sent: u64,
    pub(super) rto: Span,
    pub(super) srtt: Option<Span>,
    pub(super) rttvar: Span,
    /// One fresh send being timed for an RTT sample (Karn: never a retransmission).
    pub(super) timed: Option<(u64, Mono)>,
    /// When the oldest outstanding send times out, if anything is outstanding. Moving it does
    /// not touch the host's timer: the timer may fire early and is then re-armed (acks move the
    /// deadline constantly, and re-arming on each would flood the event queue).
    pub(super) deadline: Option<Mono>,
    /// The time the host timer is currently set for.
    pub(super) armed_at: Option<Mono>,
    /// A restarted replica probes until each peer has acknowledged its new epoch.
    pub(super) hello_pending: bool,
    /// A partial batch is waiting for `batch_delay`.
    pub(super) batch_armed: bool,
    /// Retransmission timeouts since the peer last acknowledged anything.
    pub(super) timeouts: u32,
}

impl Outgoing {
    /// A link after (re)start: the surviving `queue` is re-sent from position 1 under the new
    /// epoch (peers drop what they already have); a restarted replica probes first.
    pub(super) fn new(
        queue: VecDeque<Entry>,
        keep_times: bool,
        rto: Span,
        restarted: bool,
    ) -> Outgoing {
        Outgoing {
            queued_at: if keep_times {
                queue.iter().map(|_| Mono(0)).collect()
            } else {
                VecDeque::new()
            },
            queue,
            base: 1,
            acked: 0,
            next: 1,
            high_sent: 0,
            rto,
            srtt: None,
            rttvar: Span::ZERO,
            timed: None,
            deadline: None,
            armed_at: None,
            hello_pending: restarted,
            batch_armed: false,
            timeouts: 0,
        }
    }

    pub(super) fn last_pos(&self) -> u64 {
        self.base + self.queue.len() as u64 - 1
    }

    /// The peer acknowledged everything up to `upto` (above what it had): take an RTT sample
    /// if the timed send is covered (RFC 6298 smoothing), recompute the RTO within
    /// `min..=max`, and move the window.
    #[inline]
    pub(super) fn acknowledge(&mut self, upto: u64, now: Mono, min: Span, max: Span) {
        if let Some((pos, t)) = self.timed {
            if upto >= pos {
                let r = now - t;
                match self.srtt {
                    None => {
                        self.srtt = Some(r);
                        self.rttvar = Span(r.0 / 2);
                    }
                    Some(s) => {
                        self.rttvar = Span((3 * self.rttvar.0 + s.0.abs_diff(r.0)) / 4);
                        self.srtt = Some(Span((7 * s.0 + r.0) / 8));
                    }
                }
                self.timed = None;
            }
        }
        if let Some(s) = self.srtt {
            self.rto = Span((s.0 + (4 * self.rttvar.0).max(1_000_000)).clamp(min.0, max.0));
        }
        self.acked = upto;
        self.timeouts = 0;
        if self.next <= upto {
            self.next = upto + 1;
        }
    }

    /// A retransmission timeout: go back N (resend from the first unacknowledged entry) with
    /// the RTO doubled up to `max`. Returns the timeouts in a row without an ack.
    #[inline]
    pub(super) fn back_off(&mut self, max: Span) -> u32 {
        self.timeouts += 1;
        self.next = self.acked + 1;
        self.timed = None;
        self.rto = Span((self.rto.0.saturating_mul(2)).min(max.0));
        self.deadline = None;
        self.timeouts
    }
}

/// Receiving side of one link.
#[derive(Clone, Debug, Default)]
pub(super) struct Incoming {
    pub(super) epoch: u32,
    /// Transport positions received: the contiguous prefix is what an ack covers.
    pub(super) pos: SeqSet,
    pub(super) need_ack: bool,
}

/// Log shipping over the per-peer links: queueing and routing entries, window-limited
/// go-back-N transmission, cumulative acks and RFC 6298 retransmission timeouts, and the
/// receiving side (dedup, apply, ack, relay).
impl Replicator {
    /// Queues `e` on the link to `p`.
    pub(super) fn enqueue(&mut self, p: usize, e: Entry, now: Now, out: &mut Out) {
        self.persist(out, || Op::Append(RegionId(p as u16), e.clone()));
        let o = &mut self.out[p];
        o.queue.push_back(e);
        if self.cfg.plan.gives_up() {
            o.queued_at.push_back(now.mono);
        }
    }

    /// Queues a fresh entry (originated here, or received from `from`) on every link of its
    /// origin's route tree below this region that leads to a holder of its key.
    pub(super) fn route(
        &mut self,
        e: &Entry,
        from: Option<RegionId>,
        now: Now,
        out: &mut Out,
    ) -> u64 {
        if self.chain_on() {
            // The chain as its head configured it replaces the static route tree.
            return match self.chain_succ() {
                Some(s) if Some(s) != from => {
                    self.enqueue(s.idx(), e.clone(), now, out);
                    Replicator::bit(s)
                }
                _ => 0,
            };
        }
        let plan = Arc::clone(&self.cfg.plan);
        let holders = plan.holders(e.key);
        let mut queued = 0u64;
        for &(next, reach) in &plan.routes[e.id.origin.idx()][self.me().idx()] {
            if Some(next) == from || reach & holders == 0 {
                continue;
            }
            self.enqueue(next.idx(), e.clone(), now, out);
            queued |= Replicator::bit(next);
        }
        queued
    }

    pub(super) fn outstanding(&self, p: usize) -> bool {
        let o = &self.out[p];
        o.hello_pending || o.acked < o.last_pos()
    }

    /// Restarts the retransmission deadline of peer `p`; sets the host timer only if it would
    /// otherwise fire too late.
    pub(super) fn arm(&mut self, p: usize, now: Now, out: &mut Out) {
        let o = &mut self.out[p];
        let d = now.mono + o.rto;
        o.deadline = Some(d);
        if o.armed_at.is_none_or(|a| a > d) {
            o.armed_at = Some(d);
            out.set_timer(self.timer(Timer::Retransmit(p)), d);
        }
    }

    /// Sends whatever the window allows to peer `p`. Unless `force`d, a partial batch waits up
    /// to the plan's `batch_delay` for more entries.
    pub(super) fn transmit(&mut self, p: usize, now: Now, out: &mut Out, force: bool) {
        let last = self.out[p].last_pos();
        if self.out[p].next > last && self.out[p].deadline.is_some() {
            return; // nothing new to send and the timer is running: the common ack path
        }
        let window = self.cfg.window as u64;
        let max_batch = self.cfg.max_batch as u64;
        let delay = self.cfg.plan.batch_delay;
        if !force && delay > Span::ZERO {
            let o = &self.out[p];
            if o.next <= last && last - o.next + 1 < max_batch {
                if !o.batch_armed {
                    self.out[p].batch_armed = true;
                    out.set_timer(self.timer(Timer::Batch(p)), now.mono + delay);
                }
                return;
            }
        }
        let permille = self.cfg.plan.compression_permille[self.me().idx() * self.n() + p] as u64;
        loop {
            let o = &self.out[p];
            let start = o.next;
            if start > last || start - o.acked > window {
                break;
            }
            let end = last.min(start + max_batch - 1).min(o.acked + window);
            let from = (start - o.base) as usize;
            let to = (end - o.base) as usize;
            let mut entries = self.spare.pop().unwrap_or_default();
            entries.extend(o.queue.range(from..=to).cloned());
            let payload: u64 = entries.iter().map(Entry::wire_bytes).sum();
            let retransmit = start <= o.high_sent;
            let msg = Msg::Link(LinkMsg::Replicate {
                epoch: self.epoch,
                first: start,
                floor: o.base,
                entries,
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit,
                wire: (48 + payload * permille / 1000).min(u32::MAX as u64) as u32,
                term: self.fo.as_ref().map_or(0, |f| f.term),
            });
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

    pub(super) fn probe(&self, p: usize, out: &mut Out) {
        let o = &self.out[p];
        out.send(
            RegionId(p as u16),
            Msg::Link(LinkMsg::Replicate {
                epoch: self.epoch,
                first: o.next,
                floor: o.base,
                entries: Batch::new(),
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit: false,
                wire: 48,
                term: self.fo.as_ref().map_or(0, |f| f.term),
            }),
        );
    }

    /// Drops entries the peer has settled from the front of link `p`'s queue.
    pub(super) fn truncate(&mut self, p: usize, out: &mut Out) {
        let o = &mut self.out[p];
        if o.acked < o.base {
            return;
        }
        let k = ((o.acked - o.base + 1) as usize).min(o.queue.len());
        if k > 0 {
            drop_front(&mut o.queue, k);
            drop_front(&mut o.queued_at, k);
            o.base += k as u64;
            self.persist(out, || Op::TruncateFront(RegionId(p as u16), k));
        }
    }

    pub(super) fn on_ack(&mut self, now: Now, from: usize, epoch: u32, upto: u64, out: &mut Out) {
        if epoch != self.epoch {
            return; // an ack for a previous incarnation's positions
        }
        let (min, max) = (self.cfg.rto_min, self.cfg.rto_max);
        let o = &mut self.out[from];
        o.hello_pending = false;
        if upto > o.acked {
            o.acknowledge(upto, now.mono, min, max);
            self.truncate(from, out);
            if self.outstanding(from) {
                self.arm(from, now, out);
            } else {
                self.out[from].deadline = None;
            }
        } else if !self.outstanding(from) {
            self.out[from].deadline = None;
        }
        self.transmit(from, now, out, true);
    }

    pub(super) fn on_replicate(
        &mut self,
        now: Now,
        from: RegionId,
        (epoch, first, floor, entries, durable_own, lost_after): (
            u32,
            u64,
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
        let safe = self.retained[s]
            .iter()
            .take_while(|e| (e.id.epoch, e.id.seq) <= durable_own)
            .count();
        if safe > 0 {
            drop_front(&mut self.retained[s], safe);
            self.persist(out, || Op::Release(from, safe));
        }
        let mut advanced = false;
        // Positions below the floor were settled by the sender: stop waiting for them.
        if floor > self.inc[s].pos.upto() + 1 {
            self.inc[s].pos.advance_to(floor - 1);
            advanced = true;
        }
        let me = self.me();
        let mut queued = 0u64;
        let mut entries = entries;
        for (i, e) in entries.drain(..).enumerate() {
            let pos = first + i as u64;
            let inc = &mut self.inc[s];
            let before = inc.pos.upto();
            if !inc.pos.insert(pos) {
                continue; // already received on this link
            }
            advanced |= inc.pos.upto() > before;
            if !e.verify() {
                out.note(Note::CorruptEntry);
                continue;
            }
            if self.fo.is_some() && self.fenced(e.id) {
                // A deposed primary's write the history does not contain: acknowledged on the
                // link (so it stops being resent) but never applied.
                out.note(Note::Fenced { op: e.cell.value });
                continue;
            }
            if !self.mark_seen(e.id, out) {
                if e.notify && e.id.origin != me && self.chain_on() {
                    // A reconfigured chain's new tail may hold this from a catch-up, and the
                    // head waits to hear it from the tail.
                    self.notify_pending.push(e.id);
                }
                continue; // already applied via another path
            }
            self.fo_track(&e);
            let holder = self.cfg.plan.holds(me, e.key);
            if holder {
                self.install_value(e.key, e.cell, e.data.as_ref(), out);
                let origin = Actor::new(e.id.origin, e.id.epoch);
                self.note_gap(e.key, origin, from, now, out);
                if e.notify && e.id.origin != me {
                    self.notify_pending.push(e.id);
                }
            }
            queued |= self.route(&e, Some(from), now, out);
            if e.id.origin == from && (e.id.epoch, e.id.seq) > durable_own {
                self.persist(out, || Op::Retain(from, e.clone()));
                self.retained[s].push_back(e);
            }
        }
        if self.spare.len() < MAX_SPARE_BATCHES && entries.capacity() > 0 {
            self.spare.push(entries);
        }
        if advanced {
            self.persist(out, || {
                Op::Recv(from, self.inc[s].epoch, self.inc[s].pos.upto())
            });
        }
        if self.sync_mode() {
            self.sync(out);
            out.send(
                from,
                Msg::Link(LinkMsg::Ack {
                    epoch: self.inc[s].epoch,
                    upto: self.inc[s].pos.upto(),
                }),
            );
            self.send_notifies(out);
        } else {
            self.inc[s].need_ack = true;
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        self.transmit_mask(queued, now, out);
    }

    pub(super) fn transmit_mask(&mut self, mut mask: u64, now: Now, out: &mut Out) {
        while mask != 0 {
            let p = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            self.transmit(p, now, out, false);
        }
    }

    /// Tells origins which of their entries are now durable here (one message per origin).
    pub(super) fn send_notifies(&mut self, out: &mut Out) {
        if self.notify_pending.is_empty() {
            return;
        }
        let mut pending = std::mem::take(&mut self.notify_pending);
        pending.sort_unstable();
        let mut i = 0;
        while i < pending.len() {
            let (origin, epoch) = (pending[i].origin, pending[i].epoch);
            let mut seqs = smallvec::SmallVec::new();
            while i < pending.len() && pending[i].origin == origin && pending[i].epoch == epoch {
                seqs.push(pending[i].seq);
                i += 1;
            }
            out.send(origin, Msg::Link(LinkMsg::Durable { epoch, seqs }));
        }
        pending.clear();
        self.notify_pending = pending;
    }

    /// The sender restarted and lost its own entries after some mark: everything of its we
    /// still retain is exactly that tail. Re-originate it from here, straight to every region
    /// that holds its key (recovery ignores the route tree: relays may be what failed).
    pub(super) fn relay_orphans(&mut self, now: Now, s: usize, out: &mut Out) {
        let orphans: Vec<Entry> = self.retained[s].drain(..).collect();
        if !orphans.is_empty() {
            self.persist(out, || Op::Release(RegionId(s as u16), orphans.len()));
        }
        if orphans.is_empty() {
            return;
        }
        let plan = Arc::clone(&self.cfg.plan);
        let mut queued = 0u64;
        for e in orphans {
            let holders = plan.holders(e.key);
            for p in self.peers() {
                if holders & (1u64 << p) != 0 {
                    self.enqueue(p, e.clone(), now, out);
                    queued |= 1u64 << p;
                }
            }
        }
        if self.sync_mode() {
            self.sync(out);
        } else {
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        self.transmit_mask(queued, now, out);
    }

    #[cfg(test)]
    pub(super) fn log_len(&self) -> usize {
        self.out.iter().map(|o| o.queue.len()).max().unwrap_or(0)
    }

    /// Transport: the oldest unacknowledged send to `p` may have timed out.
    pub(super) fn on_retransmit_timer(&mut self, now: Now, p: usize, out: &mut Out) {
        let id = self.timer(Timer::Retransmit(p));
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
        if self.cfg.plan.gives_up() {
            self.give_up(p, now, out);
        }
        if !self.outstanding(p) {
            self.out[p].deadline = None;
            return;
        }
        // Go back N: resend from the first unacknowledged entry, with a doubled timeout.
        if self.out[p].back_off(self.cfg.rto_max) >= 2 {
            self.ae.mark_unreachable(p);
        }
        if self.out[p].hello_pending {
            self.probe(p, out);
        }
        self.transmit(p, now, out, true);
        if self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
    }

    /// Without hinted handoff, entries a peer has not acknowledged within the request timeout
    /// are given up: the peer is told (via `floor`) not to wait for them.
    pub(super) fn give_up(&mut self, p: usize, now: Now, out: &mut Out) {
        let timeout = self
            .cfg
            .plan
            .give_up_after
            .unwrap_or(self.cfg.plan.request_timeout);
        let o = &mut self.out[p];
        let mut k = 0usize;
        while o.queued_at.get(k).is_some_and(|&t| t + timeout <= now.mono) && k < o.queue.len() {
            k += 1;
        }
        // Only what the peer has not acknowledged is given up; the rest is already settled.
        let unacked_from = (o.acked + 1).saturating_sub(o.base) as usize;
        if k == 0 {
            return;
        }
        // Who misses the given-up entries: the peer, and every holder of their keys it would
        // have relayed them to (over a hub, ring, line or tree, the peer is often a relay).
        let missed = self.out[p]
            .queue
            .range(unacked_from.min(k)..k)
            .fold(0u64, |m, e| m | self.downstream(p, e));
        let o = &mut self.out[p];
        drop_front(&mut o.queue, k);
        drop_front(&mut o.queued_at, k);
        o.base += k as u64;
        o.acked = o.acked.max(o.base - 1);
        o.next = o.next.max(o.base);
        let given_up = k.saturating_sub(unacked_from) as u32;
        self.persist(out, || Op::TruncateFront(RegionId(p as u16), k));
        if given_up > 0 {
            out.note(Note::Abandoned { entries: given_up });
            self.ae.owe(missed, now.mono);
        }
        // Tell the peer at once, so it stops waiting for the gap.
        if !self.outstanding(p) {
            self.probe(p, out);
        }
    }

    /// The regions that receive `e` through the link to `p`: `p` itself and, where `p`
    /// relays, every holder of `e`'s key below it in the origin's route tree.
    pub(super) fn downstream(&self, p: usize, e: &Entry) -> u64 {
        let plan = &self.cfg.plan;
        let below = plan.routes[e.id.origin.idx()][self.me().idx()]
            .iter()
            .find(|(next, _)| next.idx() == p)
            .map_or(0, |&(_, reach)| reach & plan.holders(e.key));
        below | (1u64 << p)
    }
}
