//! The reliable link transport between two regions: its messages (log entries, cumulative
//! acks, durability notices), the [`Links`] component that runs it (window, cumulative acks,
//! RTO, go-back-N; see `links`), and the log-shipping wiring around it (routing entries onto
//! links, applying what they deliver).

use super::msg::writes;
use super::{drop_front, Entry, Msg, Op};
use super::{Batch, LogMark};
use super::{Out, Replicator};
use crate::replica::causal::Actor;
use crate::replica::plan::Plan;
use crate::replica::Note;
use crate::replica::{Key, MsgClass, WireMessage, Work};
use crate::replica::{Now, RegionId};
use std::sync::Arc;

mod links;
pub(crate) use links::{Header, LinkParams, Links};

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

/// Log shipping over the links: routing entries onto them (the origin's route tree, or the
/// chain), and applying what they deliver (fencing, dedup by entry id, install, relay, retain
/// for orphan recovery). The transport itself is the [`Links`] component; these methods wire
/// it to the rest of the replica.
impl Replicator {
    /// What every `Replicate` this replica sends carries about it.
    #[inline]
    fn link_header(&self) -> Header {
        Header {
            epoch: self.epoch,
            durable_own: (self.epoch, self.durable_own),
            lost_after: self.lost_after,
            term: self.fo.as_ref().map_or(0, |f| f.term),
        }
    }

    /// Queues `e` on the link to `p`.
    #[inline]
    pub(super) fn enqueue(&mut self, p: usize, e: Entry, now: Now, out: &mut Out) {
        self.links.enqueue(p, e, now.mono, out);
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

    /// Sends whatever the window allows to peer `p` (see [`Links::transmit`]).
    #[inline]
    pub(super) fn transmit(&mut self, p: usize, now: Now, out: &mut Out, force: bool) {
        let hdr = self.link_header();
        self.links.transmit(p, now.mono, hdr, out, force);
    }

    /// Sends what is queued to every peer in `mask`.
    #[inline]
    pub(super) fn transmit_mask(&mut self, mask: u64, now: Now, out: &mut Out) {
        if mask != 0 {
            let hdr = self.link_header();
            self.links.transmit_mask(mask, now.mono, hdr, out);
        }
    }

    /// At start: probes and first sends on every link.
    pub(super) fn links_start(&mut self, now: Now, out: &mut Out) {
        let hdr = self.link_header();
        self.links.start(now.mono, hdr, out);
    }

    /// A partial batch to `p` has waited long enough.
    pub(super) fn on_batch_timer(&mut self, now: Now, p: usize, out: &mut Out) {
        let hdr = self.link_header();
        self.links.on_batch_timer(p, now.mono, hdr, out);
    }

    #[inline]
    fn on_ack(&mut self, now: Now, from: usize, epoch: u32, upto: u64, out: &mut Out) {
        let hdr = self.link_header();
        self.links.on_ack(from, epoch, upto, now.mono, hdr, out);
    }

    /// A `Replicate` from `from`: the links drop what they already delivered; the rest is
    /// applied here (fenced, deduplicated by entry id, installed, relayed, retained), then
    /// acknowledged once durable.
    fn on_replicate(
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
        let Some(mut rx) = self.links.receive(from, epoch, first, floor, out) else {
            return; // from before the sender's restart
        };
        if rx.new_epoch && lost_after.is_some() {
            self.relay_orphans(now, s, out);
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
        let me = self.me();
        let mut queued = 0u64;
        let mut entries = entries;
        for e in entries.drain(..) {
            if !self.links.fresh(&mut rx) {
                continue; // already received on this link
            }
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
        self.links.recycle(entries);
        if rx.advanced {
            self.links.persist_recv(from, out);
        }
        if self.sync_mode() {
            self.sync(out);
            self.links.ack(from, out);
            self.send_notifies(out);
        } else {
            self.links.owe_ack(from);
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        self.transmit_mask(queued, now, out);
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
        self.durable_write(now, out);
        self.transmit_mask(queued, now, out);
    }

    #[cfg(test)]
    pub(super) fn log_len(&self) -> usize {
        self.links.log_len()
    }

    /// Transport: the oldest unacknowledged send to `p` may have timed out. Regions that miss
    /// given-up entries are owed anti-entropy; a peer silent for two timeouts is unreachable.
    pub(super) fn on_retransmit_timer(&mut self, now: Now, p: usize, out: &mut Out) {
        let hdr = self.link_header();
        let (plan, me) = (&self.cfg.plan, self.cfg.id);
        let t =
            self.links
                .on_retransmit_timer(p, now.mono, hdr, |e| downstream(plan, me, p, e), out);
        if t.missed != 0 {
            self.ae.owe(t.missed, now.mono);
        }
        if t.unreachable {
            self.ae.mark_unreachable(p);
        }
    }
}

/// The regions that receive `e` through `me`'s link to `p`: `p` itself and, where `p`
/// relays, every holder of `e`'s key below it in the origin's route tree.
fn downstream(plan: &Plan, me: RegionId, p: usize, e: &Entry) -> u64 {
    let below = plan.routes[e.id.origin.idx()][me.idx()]
        .iter()
        .find(|(next, _)| next.idx() == p)
        .map_or(0, |&(_, reach)| reach & plan.holders(e.key));
    below | (1u64 << p)
}
