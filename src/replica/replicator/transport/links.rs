//! The reliable link transport as a component: one [`Links`] owns, per peer, the sending side
//! of a directed link ([`Outgoing`]) and the receiving side of the reverse one ([`Incoming`]),
//! plus a pool of emptied batch buffers.
//!
//! What it does, per link: a window of unacknowledged transport positions, cumulative acks
//! that move the window and truncate the queue, an RFC 6298 retransmission timeout (smoothed
//! RTT, Karn's rule, exponential back-off up to a maximum), go-back-N resend on timeout, an
//! optional batching delay, probes that announce a new epoch, and (for plans that give up on
//! old entries) dropping entries a peer has not acknowledged in time. On the receiving side it
//! deduplicates transport positions, forgets positions from an older sender epoch and honours
//! the sender's floor.
//!
//! What it does not do: it never looks at what an entry means. It does not route entries,
//! apply them, fence them or track who holds which key: those belong to the replication mode
//! that drives it (today the log-shipping `Replicator`; a consensus mode could drive it for its
//! AppendEntries stream). The owner hands in, explicitly, what the transport needs of its state
//! (a [`Header`] for what every `Replicate` carries, the time, the output buffer), and the
//! transport hands back what the owner must act on: which received entries are new
//! ([`Links::receive`], then [`Links::fresh`] per entry), whether a new sender epoch began, which
//! regions missed given-up entries and whether a peer stopped answering ([`Timeout`]).
//!
//! Driving it (what an owner does; `transport.rs` is the log-shipping owner):
//! - build it once with [`Links::new`] from [`LinkParams`] and what the disk kept;
//! - to send: [`Links::enqueue`] entries on a peer's link, then [`Links::transmit`] (or
//!   [`Links::transmit_mask`]); at start, [`Links::start`];
//! - on `Ack`: [`Links::on_ack`]; on `Replicate`: [`Links::receive`], [`Links::fresh`] per
//!   entry (apply the fresh ones), [`Links::recycle`] the buffer, [`Links::persist_recv`] if
//!   advanced, then [`Links::ack`] once durable, or [`Links::owe_ack`] and
//!   [`Links::send_owed_acks`] after the next fsync;
//! - on its timers: [`Links::on_retransmit_timer`] and [`Links::on_batch_timer`];
//! - quiescence: nothing is [`Links::outstanding`] on any link.
//!
//! Everything it emits goes into the owner's [`Out`], in the order the transport has always
//! emitted it: sends (`Replicate`, probes, `Ack`), its two timers ([`Timer::Retransmit`] and
//! [`Timer::Batch`], numbered by the replicator's timer layout) and, when durable, the link
//! operations of the disk (`Append`, `TruncateFront`, `Recv`).

use super::super::MAX_SPARE_BATCHES;
use super::super::{drop_front, Batch, Config, Entry, LogMark, Msg, Op, Out, SeqSet, Timer};
use super::LinkMsg;
use crate::replica::RegionId;
use crate::time::{Mono, Span};
use std::collections::VecDeque;

/// What every `Replicate` (and probe) carries about its sender besides entries: the owner's
/// state at send time, handed in by value.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    /// The sender's incarnation: transport positions are numbered per epoch, and acks for
    /// another epoch are ignored.
    pub(crate) epoch: u32,
    /// The sender's own entries up to here are durable at the sender.
    pub(crate) durable_own: LogMark,
    /// Set after a restart: the sender's own entries after this mark were lost locally.
    pub(crate) lost_after: Option<LogMark>,
    /// Failover: the sender's term (0 without failover).
    pub(crate) term: u64,
}

/// Fixed parameters of one replica's links, taken from its configuration once.
#[derive(Clone, Debug)]
pub(crate) struct LinkParams {
    /// This region (it has no link to itself).
    pub(crate) me: RegionId,
    /// Regions in the plan: links are indexed by peer, and timer ids depend on it.
    pub(crate) n: usize,
    /// Most transport positions outstanding (sent, unacknowledged) per link.
    pub(crate) window: u64,
    /// Most entries per `Replicate`.
    pub(crate) max_batch: u64,
    /// A partial batch waits this long for more entries (0: send at once).
    pub(crate) batch_delay: Span,
    pub(crate) rto_initial: Span,
    pub(crate) rto_min: Span,
    pub(crate) rto_max: Span,
    /// Entries a peer has not acknowledged this long after they were queued are given up.
    pub(crate) give_up_after: Option<Span>,
    /// Per peer: wire size of replicated payload, in thousandths.
    pub(crate) permille: Vec<u64>,
    /// Whether to emit disk operations at all (`Config::durable`).
    pub(crate) durable: bool,
}

impl LinkParams {
    /// The links' parameters in a replicator's configuration.
    pub(crate) fn from_config(cfg: &Config) -> LinkParams {
        let n = cfg.plan.n;
        let me = cfg.id;
        LinkParams {
            me,
            n,
            window: cfg.window as u64,
            max_batch: cfg.max_batch as u64,
            batch_delay: cfg.plan.batch_delay,
            rto_initial: cfg.rto_initial,
            rto_min: cfg.rto_min,
            rto_max: cfg.rto_max,
            give_up_after: cfg.plan.give_up_after,
            permille: (0..n)
                .map(|p| cfg.plan.compression_permille[me.idx() * n + p] as u64)
                .collect(),
            durable: cfg.durable,
        }
    }
}

/// Sending side of one link.
#[derive(Clone, Debug)]
pub(crate) struct Outgoing {
    /// Entries at transport positions `base..base+len`, not yet settled.
    queue: VecDeque<Entry>,
    /// When each queued entry was queued (only kept when the plan gives up on old entries).
    queued_at: VecDeque<Mono>,
    base: u64,
    /// Highest transport position the peer acknowledged (or that was given up).
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
    /// A partial batch is waiting for `batch_delay`.
    batch_armed: bool,
    /// Retransmission timeouts since the peer last acknowledged anything.
    timeouts: u32,
}

impl Outgoing {
    /// A link after (re)start: the surviving `queue` is re-sent from position 1 under the new
    /// epoch (peers drop what they already have); a restarted replica probes first.
    fn new(queue: VecDeque<Entry>, keep_times: bool, rto: Span, restarted: bool) -> Outgoing {
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

    #[inline]
    fn last_pos(&self) -> u64 {
        self.base + self.queue.len() as u64 - 1
    }

    #[inline]
    fn outstanding(&self) -> bool {
        self.hello_pending || self.acked < self.last_pos()
    }

    /// The peer acknowledged everything up to `upto` (above what it had): take an RTT sample
    /// if the timed send is covered (RFC 6298 smoothing), recompute the RTO within
    /// `min..=max`, and move the window.
    #[inline]
    fn acknowledge(&mut self, upto: u64, now: Mono, min: Span, max: Span) {
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
    fn back_off(&mut self, max: Span) -> u32 {
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
pub(crate) struct Incoming {
    epoch: u32,
    /// Transport positions received: the contiguous prefix is what an ack covers.
    pos: SeqSet,
    need_ack: bool,
}

/// A `Replicate` being received: what it told the receiver, and where [`Links::fresh`] is in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Received {
    /// The sender's epoch is new here: it restarted (if the message carries `lost_after`, the
    /// owner relays the sender's orphans).
    pub(crate) new_epoch: bool,
    /// The contiguous prefix received moved: the owner persists it ([`Links::persist_recv`])
    /// once it has applied the entries.
    pub(crate) advanced: bool,
    /// The sender's peer index.
    from: usize,
    /// The transport position of the next entry [`Links::fresh`] is asked about.
    pos: u64,
}

/// What a retransmission timeout left for the owner to act on.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Timeout {
    /// Regions (bitmask) that miss entries given up on this link, as the owner's `who_misses`
    /// computed them: the owner repairs them some other way (anti-entropy).
    pub(crate) missed: u64,
    /// The peer has now timed out twice or more in a row without acknowledging anything.
    pub(crate) unreachable: bool,
}

/// Every link of one replica: sending and receiving side per peer, and the spare batches.
#[derive(Clone, Debug)]
pub(crate) struct Links {
    params: LinkParams,
    out: Vec<Outgoing>,
    inc: Vec<Incoming>,
    /// Emptied batch buffers from received messages, reused for outgoing ones: a replica
    /// sends about as many batches as it receives, so allocation drops out of the hot path.
    /// Holds no state that reaches behaviour.
    spare: Vec<Batch>,
}

impl Links {
    /// The links after (re)start: per peer, the queue that survived on disk (`queues`, re-sent
    /// from position 1 under the new epoch) and what was received from it (`recv`: the
    /// sender's epoch and contiguous position). A `restarted` replica probes every peer first.
    pub(crate) fn new(
        params: LinkParams,
        queues: &[VecDeque<Entry>],
        recv: &[(u32, u64)],
        restarted: bool,
    ) -> Links {
        let n = params.n;
        let mut inc = vec![Incoming::default(); n];
        for (i, (e, p)) in recv.iter().enumerate().take(n) {
            inc[i].epoch = *e;
            inc[i].pos.advance_to(*p);
        }
        let keep_times = params.give_up_after.is_some();
        let out = (0..n)
            .map(|p| {
                let queue = queues.get(p).cloned().unwrap_or_default();
                Outgoing::new(queue, keep_times, params.rto_initial, restarted)
            })
            .collect();
        Links {
            params,
            out,
            inc,
            spare: Vec::new(),
        }
    }

    /// Rebuilt from a backup image: probe every peer with the new epoch before sending.
    pub(crate) fn hello_all(&mut self) {
        for o in self.out.iter_mut() {
            o.hello_pending = true;
        }
    }

    /// At start: probe the peers that have not heard this epoch, and send what is queued.
    pub(crate) fn start(&mut self, now: Mono, hdr: Header, out: &mut Out) {
        let me = self.params.me.idx();
        for p in (0..self.params.n).filter(|&p| p != me) {
            if self.out[p].hello_pending {
                self.probe(p, hdr, out);
            }
            self.transmit(p, now, hdr, out, true);
        }
    }

    /// Queues `e` on the link to `p` (persisting it, so a restart resends it).
    #[inline]
    pub(crate) fn enqueue(&mut self, p: usize, e: Entry, now: Mono, out: &mut Out) {
        if self.params.durable {
            out.persist(Op::Append(RegionId(p as u16), e.clone()));
        }
        let o = &mut self.out[p];
        o.queue.push_back(e);
        if self.params.give_up_after.is_some() {
            o.queued_at.push_back(now);
        }
    }

    /// Something on the link to `p` awaits the peer's ack (entries, or the new epoch itself).
    #[inline]
    pub(crate) fn outstanding(&self, p: usize) -> bool {
        self.out[p].outstanding()
    }

    /// Restarts the retransmission deadline of peer `p`; sets the host timer only if it would
    /// otherwise fire too late.
    fn arm(&mut self, p: usize, now: Mono, out: &mut Out) {
        let o = &mut self.out[p];
        let d = now + o.rto;
        o.deadline = Some(d);
        if o.armed_at.is_none_or(|a| a > d) {
            o.armed_at = Some(d);
            out.set_timer(Timer::Retransmit(p).id(self.params.n), d);
        }
    }

    /// Sends whatever the window allows to peer `p`. Unless `force`d, a partial batch waits up
    /// to `batch_delay` for more entries.
    #[inline]
    pub(crate) fn transmit(
        &mut self,
        p: usize,
        now: Mono,
        hdr: Header,
        out: &mut Out,
        force: bool,
    ) {
        let o = &self.out[p];
        if o.next > o.last_pos() && o.deadline.is_some() {
            return; // nothing new to send and the timer is running: the common ack path
        }
        // Out of line, so that the check above is all an ack costs and the header is only
        // built when something is sent.
        self.send_window(p, now, &hdr, out, force);
    }

    #[inline(never)]
    fn send_window(&mut self, p: usize, now: Mono, hdr: &Header, out: &mut Out, force: bool) {
        let last = self.out[p].last_pos();
        let window = self.params.window;
        let max_batch = self.params.max_batch;
        let delay = self.params.batch_delay;
        if !force && delay > Span::ZERO {
            let o = &self.out[p];
            if o.next <= last && last - o.next + 1 < max_batch {
                if !o.batch_armed {
                    self.out[p].batch_armed = true;
                    out.set_timer(Timer::Batch(p).id(self.params.n), now + delay);
                }
                return;
            }
        }
        let permille = self.params.permille[p];
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
                epoch: hdr.epoch,
                first: start,
                floor: o.base,
                entries,
                durable_own: hdr.durable_own,
                lost_after: hdr.lost_after,
                retransmit,
                wire: (48 + payload * permille / 1000).min(u32::MAX as u64) as u32,
                term: hdr.term,
            });
            out.send(RegionId(p as u16), msg);
            let o = &mut self.out[p];
            if o.timed.is_none() && !retransmit {
                o.timed = Some((end, now));
            }
            o.high_sent = o.high_sent.max(end);
            o.next = end + 1;
        }
        if self.outstanding(p) && self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
    }

    /// [`Links::transmit`] (not forced) to every peer in the bitmask `mask`, lowest first.
    #[inline]
    pub(crate) fn transmit_mask(&mut self, mut mask: u64, now: Mono, hdr: Header, out: &mut Out) {
        while mask != 0 {
            let p = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            self.transmit(p, now, hdr, out, false);
        }
    }

    /// A partial batch to `p` has waited `batch_delay`: send it.
    pub(crate) fn on_batch_timer(&mut self, p: usize, now: Mono, hdr: Header, out: &mut Out) {
        self.out[p].batch_armed = false;
        self.transmit(p, now, hdr, out, true);
    }

    /// An empty `Replicate` to `p`: announces the epoch and the floor, and asks for an ack.
    pub(crate) fn probe(&self, p: usize, hdr: Header, out: &mut Out) {
        let o = &self.out[p];
        out.send(
            RegionId(p as u16),
            Msg::Link(LinkMsg::Replicate {
                epoch: hdr.epoch,
                first: o.next,
                floor: o.base,
                entries: Batch::new(),
                durable_own: hdr.durable_own,
                lost_after: hdr.lost_after,
                retransmit: false,
                wire: 48,
                term: hdr.term,
            }),
        );
    }

    /// Drops entries the peer has settled from the front of link `p`'s queue.
    fn truncate(&mut self, p: usize, out: &mut Out) {
        let o = &mut self.out[p];
        if o.acked < o.base {
            return;
        }
        let k = ((o.acked - o.base + 1) as usize).min(o.queue.len());
        if k > 0 {
            drop_front(&mut o.queue, k);
            drop_front(&mut o.queued_at, k);
            o.base += k as u64;
            if self.params.durable {
                out.persist(Op::TruncateFront(RegionId(p as u16), k));
            }
        }
    }

    /// `Ack { epoch, upto }` from peer `from`: moves the window (ignored if for another epoch
    /// than `hdr.epoch`), then sends what the window now allows.
    #[inline]
    pub(crate) fn on_ack(
        &mut self,
        from: usize,
        epoch: u32,
        upto: u64,
        now: Mono,
        hdr: Header,
        out: &mut Out,
    ) {
        if epoch != hdr.epoch {
            return; // an ack for a previous incarnation's positions
        }
        let (min, max) = (self.params.rto_min, self.params.rto_max);
        let o = &mut self.out[from];
        o.hello_pending = false;
        if upto > o.acked {
            o.acknowledge(upto, now, min, max);
            self.truncate(from, out);
            if self.outstanding(from) {
                self.arm(from, now, out);
            } else {
                self.out[from].deadline = None;
            }
        } else if !self.outstanding(from) {
            self.out[from].deadline = None;
        }
        self.transmit(from, now, hdr, out, true);
    }

    /// The receiving side of `Replicate { epoch, first, floor, .. }` from `from`. `None`: the
    /// message is from before the sender's restart and must be ignored. Otherwise the owner
    /// asks [`Links::fresh`] of each entry in order, and applies only the fresh ones; then it
    /// calls [`Links::persist_recv`] if [`Received::advanced`], acknowledges ([`Links::ack`]
    /// or [`Links::owe_ack`]) and hands the buffer back ([`Links::recycle`]).
    #[inline]
    pub(crate) fn receive(
        &mut self,
        from: RegionId,
        epoch: u32,
        first: u64,
        floor: u64,
        out: &mut Out,
    ) -> Option<Received> {
        let inc = &mut self.inc[from.idx()];
        if epoch < inc.epoch {
            return None; // from before the sender's restart
        }
        let new_epoch = epoch > inc.epoch;
        if new_epoch {
            *inc = Incoming {
                epoch,
                ..Incoming::default()
            };
            if self.params.durable {
                out.persist(Op::Recv(from, epoch, 0));
            }
        }
        let mut advanced = false;
        // Positions below the floor were settled by the sender: stop waiting for them.
        if floor > inc.pos.upto() + 1 {
            inc.pos.advance_to(floor - 1);
            advanced = true;
        }
        Some(Received {
            new_epoch,
            advanced,
            from: from.idx(),
            pos: first,
        })
    }

    /// Whether the next entry of the `Replicate` being received (`rx`) is at a transport
    /// position not received before on its link (false: a duplicate, to be skipped). Called
    /// once per entry, in order.
    #[inline]
    pub(crate) fn fresh(&mut self, rx: &mut Received) -> bool {
        let inc = &mut self.inc[rx.from];
        let pos = rx.pos;
        rx.pos += 1;
        let before = inc.pos.upto();
        if !inc.pos.insert(pos) {
            return false; // already received on this link
        }
        rx.advanced |= inc.pos.upto() > before;
        true
    }

    /// Keeps an emptied received batch for a later send.
    #[inline]
    pub(crate) fn recycle(&mut self, entries: Batch) {
        if self.spare.len() < MAX_SPARE_BATCHES && entries.capacity() > 0 {
            self.spare.push(entries);
        }
    }

    /// Persists what has been received from `from` (its epoch and contiguous position).
    #[inline]
    pub(crate) fn persist_recv(&self, from: RegionId, out: &mut Out) {
        if self.params.durable {
            let inc = &self.inc[from.idx()];
            out.persist(Op::Recv(from, inc.epoch, inc.pos.upto()));
        }
    }

    /// Acknowledges to `to` everything received contiguously from it (the owner has made it
    /// durable).
    #[inline]
    pub(crate) fn ack(&self, to: RegionId, out: &mut Out) {
        let inc = &self.inc[to.idx()];
        out.send(
            to,
            Msg::Link(LinkMsg::Ack {
                epoch: inc.epoch,
                upto: inc.pos.upto(),
            }),
        );
    }

    /// `to` is owed an ack once what was received from it is durable ([`Links::send_owed_acks`]).
    #[inline]
    pub(crate) fn owe_ack(&mut self, to: RegionId) {
        self.inc[to.idx()].need_ack = true;
    }

    /// After an fsync: acknowledges to every peer owed an ack, by peer index.
    pub(crate) fn send_owed_acks(&mut self, out: &mut Out) {
        for s in 0..self.params.n {
            if self.inc[s].need_ack {
                self.inc[s].need_ack = false;
                self.ack(RegionId(s as u16), out);
            }
        }
    }

    /// The oldest unacknowledged send to `p` may have timed out. Fired early (the deadline
    /// moved), the timer is re-armed; on time, entries older than `give_up_after` are given up
    /// (`who_misses(e)`: the regions, as a bitmask, that miss entry `e` if the link to `p`
    /// drops it), then everything unacknowledged is resent with a doubled timeout.
    pub(crate) fn on_retransmit_timer(
        &mut self,
        p: usize,
        now: Mono,
        hdr: Header,
        who_misses: impl Fn(&Entry) -> u64,
        out: &mut Out,
    ) -> Timeout {
        let mut t = Timeout::default();
        let o = &mut self.out[p];
        o.armed_at = None;
        match o.deadline {
            None => return t,
            Some(d) if now < d => {
                // Fired early: the deadline moved since the timer was set.
                o.armed_at = Some(d);
                out.set_timer(Timer::Retransmit(p).id(self.params.n), d);
                return t;
            }
            Some(_) => {}
        }
        if let Some(timeout) = self.params.give_up_after {
            t.missed = self.give_up(p, now, timeout, hdr, who_misses, out);
        }
        if !self.outstanding(p) {
            self.out[p].deadline = None;
            return t;
        }
        // Go back N: resend from the first unacknowledged entry, with a doubled timeout.
        t.unreachable = self.out[p].back_off(self.params.rto_max) >= 2;
        if self.out[p].hello_pending {
            self.probe(p, hdr, out);
        }
        self.transmit(p, now, hdr, out, true);
        if self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
        t
    }

    /// Entries the peer has not acknowledged within `timeout` of being queued are given up:
    /// the peer is told (via `floor`) not to wait for them. Returns who misses them.
    fn give_up(
        &mut self,
        p: usize,
        now: Mono,
        timeout: Span,
        hdr: Header,
        who_misses: impl Fn(&Entry) -> u64,
        out: &mut Out,
    ) -> u64 {
        let o = &mut self.out[p];
        let mut k = 0usize;
        while o.queued_at.get(k).is_some_and(|&t| t + timeout <= now) && k < o.queue.len() {
            k += 1;
        }
        // Only what the peer has not acknowledged is given up; the rest is already settled.
        let unacked_from = (o.acked + 1).saturating_sub(o.base) as usize;
        if k == 0 {
            return 0;
        }
        let missed = o
            .queue
            .range(unacked_from.min(k)..k)
            .fold(0u64, |m, e| m | who_misses(e));
        drop_front(&mut o.queue, k);
        drop_front(&mut o.queued_at, k);
        o.base += k as u64;
        o.acked = o.acked.max(o.base - 1);
        o.next = o.next.max(o.base);
        let given_up = k.saturating_sub(unacked_from) as u32;
        if self.params.durable {
            out.persist(Op::TruncateFront(RegionId(p as u16), k));
        }
        if given_up > 0 {
            out.note(crate::replica::Note::Abandoned { entries: given_up });
        }
        // Tell the peer at once, so it stops waiting for the gap.
        if !self.outstanding(p) {
            self.probe(p, hdr, out);
        }
        if given_up > 0 {
            missed
        } else {
            0
        }
    }

    /// The longest queue of any link (tests).
    #[cfg(test)]
    pub(crate) fn log_len(&self) -> usize {
        self.out.iter().map(|o| o.queue.len()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests;
