//! Automatic failover for primary-backup: heartbeats and failure detection, terms and votes
//! (the most up-to-date candidate wins), leader leases, fencing of a deposed primary's stream,
//! and catch-up or rewind of backups to the new primary's history.
//!
//! History is a sequence of primary streams `(term, origin, epoch)`. A new primary cuts the
//! previous stream at what it holds (a [`Fence`]); backups that hold more rewind (discard
//! mode), backups that hold less catch up from the new primary. Safety of leases: a primary
//! writes only while a majority echoed a heartbeat it sent within `lease`, and a region votes
//! only after `lease` without hearing from a live primary, so with `lease` below the detector's
//! earliest suspicion (validated) two primaries never accept writes at once (up to clock drift).

use super::{ChainView, Entry, EntryId, Fence, Heartbeat, Msg, Op, Out, Pos, Replicator, Timer};
use crate::replica::detector::Detector;
use crate::replica::plan::{Failover, Rejoin};
use crate::replica::{Cell, Key, Note, Now, OpId, RegionId, Reply, Stamp};
use crate::time::{Mono, Span};
use std::collections::VecDeque;
use std::sync::Arc;

/// Failover state of one replica.
pub(super) struct Fo {
    pub term: u64,
    pub voted: Option<RegionId>,
    /// The primary of `term`, if known.
    pub leader: Option<RegionId>,
    /// This region is the primary and may accept writes.
    pub leading: bool,
    pub candidate: bool,
    /// Pre-vote round in progress (no term taken yet).
    pub pre: bool,
    pub votes: u64,
    pub vote_sent: Mono,
    /// The primary stream this region follows: (term, origin, epoch).
    pub stream: (u64, RegionId, u32),
    pub fences: Arc<Vec<Fence>>,
    /// The term whose primary these fences come from: entries sent in a newer term cannot be
    /// judged by them yet.
    pub fences_term: u64,
    pub detectors: Vec<Detector>,
    pub suspected: u64,
    /// Per peer: the newest of this region's heartbeat send times the peer echoed.
    pub echo: Vec<Mono>,
    /// Per peer: its newest heartbeat send time, echoed back to it.
    pub peer_sent: Vec<Option<Mono>>,
    pub peer_pos: Vec<Pos>,
    /// When this region last heard from a live primary (or granted a vote).
    pub leader_contact: Mono,
    /// Entries of the followed stream above its commit point (rewind and catch-up need them).
    pub recent: VecDeque<Entry>,
    /// The tail of the previous stream (a new primary serves catch-up from it).
    pub prev: VecDeque<Entry>,
    pub commit: u64,
    /// Keys waiting for the primary's values after discarding fenced writes, and when they
    /// were last asked for (a lost request is asked again).
    pub rewind: Option<Vec<Key>>,
    pub rewind_sent: Mono,
    /// The fences changed (or this region restarted): look for fenced values once.
    pub scan: bool,
    pub catchup_sent: Option<Mono>,
    pub detect_armed: Option<Mono>,
    pub elect_armed: bool,
    /// Primary: handing over to this region since then (no writes meanwhile).
    pub handover: Option<(RegionId, Mono)>,
    /// A promotion target: stand as soon as the primary's stream `term` is held up to `upto`.
    pub transfer_wait: Option<(u64, u64)>,
    /// The election in progress was ordered by an operator (retried as such).
    pub transfer_election: bool,
    /// An operator's promote this region is still carrying out: when last tried, and tries.
    pub promote: Option<(Mono, u32)>,
    /// Manual mode: this region restarted as the primary of its last stream; with no newer
    /// primary heard it takes the role back (as its operator configured it).
    pub resume: bool,
    /// Chain mode: the chain as the head configured it (empty until heard after a restart).
    pub view: Option<Arc<ChainView>>,
    /// Head, chain mode: per region, its own stream's position when that region queued to
    /// join (it becomes the tail once it holds that much).
    pub join_mark: Vec<u64>,
    /// Head, chain mode: per region, its own stream's position when that region became the
    /// tail (it answers reads once it holds that much).
    pub read_mark: Vec<u64>,
    /// Head, chain mode: when it installed its current chain (heartbeats sent later carry it).
    pub view_at: Mono,
    /// Head, chain mode: while reads stay at a region that is no longer the tail, its own
    /// stream's position once that region has echoed a heartbeat carrying the chain (set then,
    /// reset by every new chain). Up to then the region may have answered, as the tail it
    /// thought it was, entries the new tail lacks: reads move on only once it holds this much.
    pub handoff: Option<u64>,
    /// Chain mode: the term and the highest entry of the followed stream held at the last
    /// heartbeat. A hole still below it a heartbeat later is no reordering: fetch it.
    pub gap_mark: (u64, u64),
}

impl Fo {
    pub fn new(n: usize, now: Mono) -> Fo {
        Fo {
            term: 0,
            voted: None,
            leader: None,
            leading: false,
            candidate: false,
            pre: false,
            votes: 0,
            vote_sent: now,
            stream: (0, RegionId(0), 0),
            fences: Arc::new(Vec::new()),
            fences_term: 0,
            detectors: vec![Detector::new(now); n],
            suspected: 0,
            echo: vec![now; n],
            peer_sent: vec![None; n],
            peer_pos: vec![(0, 0); n],
            leader_contact: now,
            recent: VecDeque::new(),
            prev: VecDeque::new(),
            commit: 0,
            rewind: None,
            rewind_sent: now,
            scan: true,
            catchup_sent: None,
            detect_armed: None,
            elect_armed: false,
            handover: None,
            transfer_wait: None,
            transfer_election: false,
            promote: None,
            resume: false,
            view: None,
            join_mark: vec![0; n],
            read_mark: vec![0; n],
            view_at: now,
            handoff: None,
            gap_mark: (0, 0),
        }
    }
}

fn majority(n: usize) -> u32 {
    n as u32 / 2 + 1
}

impl Replicator {
    fn fspec(&self) -> &Failover {
        self.cfg
            .plan
            .failover
            .as_ref()
            .expect("failover configured")
    }

    fn fo(&mut self) -> &mut Fo {
        self.fo.as_mut().expect("failover configured")
    }

    /// With failover: the region this one should send its clients' writes to (itself when it
    /// is the primary), or None while no primary is known.
    pub(super) fn fo_originator(&self) -> Option<RegionId> {
        let f = self.fo.as_ref()?;
        if f.leading {
            Some(self.me())
        } else {
            f.leader.filter(|&l| l != self.me())
        }
    }

    /// Whether this region may stamp a client write now.
    pub(super) fn fo_may_write(&self, now: Now) -> bool {
        let f = self.fo.as_ref().expect("failover configured");
        f.leading && f.handover.is_none() && (!self.fspec().fencing || self.lease_ok(now))
    }

    /// Primary-backup with failover: whether this region may answer `primary` reads now. Only
    /// a primary that may write does: with leases on, no newer primary can have been elected
    /// while it holds its lease, so its copy has every acknowledged write. Without failover
    /// (a fixed primary) and in chain mode (`chain_serves_reads`) this always holds.
    pub(super) fn pb_serves_reads(&self, now: Now) -> bool {
        self.fo.is_none() || self.chain_on() || self.fo_may_write(now)
    }

    pub(super) fn lease_ok(&self, now: Now) -> bool {
        let f = self.fo.as_ref().expect("failover configured");
        let lease = self.fspec().lease;
        let fresh = self
            .peers()
            .filter(|&p| f.echo[p].0 + lease.0 > now.mono.0)
            .count() as u32;
        fresh + 1 >= majority(self.n())
    }

    /// This region's history position.
    pub(super) fn fo_pos(&self) -> Pos {
        let f = self.fo.as_ref().expect("failover configured");
        let (t, o, e) = f.stream;
        (t, self.upto_of(o, e))
    }

    fn seen_of(&self, origin: RegionId, epoch: u32) -> Option<&super::SeqSet> {
        self.seen[origin.idx()]
            .iter()
            .rev()
            .find(|(e, _)| *e == epoch)
            .map(|(_, s)| s)
    }

    /// The contiguous prefix of `origin`'s stream `epoch` held here.
    pub(super) fn upto_of(&self, origin: RegionId, epoch: u32) -> u64 {
        self.seen_of(origin, epoch).map_or(0, |s| s.upto())
    }

    /// The highest entry of that stream held here (above `upto_of` when there is a hole).
    fn max_of(&self, origin: RegionId, epoch: u32) -> u64 {
        self.seen_of(origin, epoch).map_or(0, |s| s.max())
    }

    /// Whether `id` lies beyond a fence (only when discarding).
    pub(super) fn fenced(&self, id: EntryId) -> bool {
        match &self.fo {
            Some(f) if self.fspec().rejoin == Rejoin::Discard => {
                f.fences.iter().any(|fc| fc.covers(id))
            }
            _ => false,
        }
    }

    /// A fresh entry of the followed stream was applied (or originated) here.
    pub(super) fn fo_track(&mut self, e: &Entry) {
        if let Some(f) = self.fo.as_mut() {
            let (_, o, ep) = f.stream;
            if e.id.origin == o && e.id.epoch == ep && e.id.seq > f.commit {
                f.recent.push_back(e.clone());
            }
        }
    }

    pub(super) fn fo_quiescent(&self) -> bool {
        self.fo.as_ref().is_none_or(|f| {
            f.rewind.is_none() && f.catchup_sent.is_none() && !f.candidate && !f.pre
        })
    }

    pub(super) fn fo_start(&mut self, now: Now, out: &mut Out) {
        let n = self.n();
        let mut f = Fo::new(n, now.mono);
        let plan = Arc::clone(&self.cfg.plan);
        if plan.chain_order().is_some() {
            f.view = Some(Arc::new(ChainView::default()));
        }
        if self.disk_term == 0 && !self.rebuilt {
            // First boot: the configured primary leads term 1, no election needed.
            let primary = plan.first_writer().expect("primary-backup or chain");
            if let Some(order) = plan.chain_order() {
                f.view = Some(Arc::new(ChainView {
                    term: 1,
                    order: order.to_vec(),
                    members: order.len(),
                    reads: order.len() - 1,
                }));
            }
            f.term = 1;
            f.leader = Some(primary);
            f.leading = primary == self.me();
            f.stream = (1, primary, 1);
            f.fences_term = 1;
            self.persist(out, || Op::Term(1, None));
            self.persist(out, || Op::Stream(1, primary, 1));
            if f.leading {
                out.note(Note::BecameLeader {
                    term: 1,
                    prev: None,
                });
            }
        } else {
            // A restart: never resume leading (a successor may exist); listen first.
            f.term = self.disk_term;
            f.voted = self.disk_voted;
            f.stream = self.disk_stream;
            // The cuts it knew still hold: were it elected before hearing a primary, it would
            // otherwise publish a history without them and take the cut-off writes back in.
            // `fences_term` stays 0: entries are judged only once a primary's fences are heard
            // (or this region leads), as newer ones may exist.
            f.fences = Arc::clone(&self.disk_fences);
            f.resume = plan.failover.as_ref().is_some_and(|x| x.manual)
                && self.disk_stream.1 == self.me()
                && self.disk_stream.0 == self.disk_term;
        }
        self.fo = Some(Box::new(f));
        self.hb_tick(now, out);
        self.arm_detect(now, out);
    }

    fn arm_detect(&mut self, now: Now, out: &mut Out) {
        let spec = self.fspec().detector.clone();
        let earliest = spec.earliest_suspicion();
        let peers: Vec<usize> = self.peers().collect();
        let f = self.fo();
        let mut at: Option<Mono> = None;
        for p in peers {
            if f.suspected & (1 << p) == 0 {
                let t = f.detectors[p].suspect_at(&spec);
                at = Some(at.map_or(t, |a: Mono| a.min(t)));
            }
        }
        let t = Mono(f.leader_contact.0 + earliest.0);
        if f.leader.is_none() && !f.leading && !f.candidate && t > now.mono {
            // No primary known (after a restart): stand for election if none shows up.
            at = Some(at.map_or(t, |a| a.min(t)));
        }
        if let Some(t) = at {
            let t = t.max(now.mono);
            if f.detect_armed.is_none_or(|a| a > t) {
                f.detect_armed = Some(t);
                let id = self.timer(Timer::Detect);
                out.set_timer(id, t);
            }
        }
    }

    pub(super) fn on_detect_timer(&mut self, now: Now, out: &mut Out) {
        let spec = self.fspec().detector.clone();
        let earliest = spec.earliest_suspicion();
        let peers: Vec<usize> = self.peers().collect();
        self.fo().detect_armed = None;
        let mut leader_lost = false;
        for p in peers {
            let f = self.fo();
            if f.suspected & (1 << p) != 0 || f.detectors[p].suspect_at(&spec) > now.mono {
                continue;
            }
            f.suspected |= 1 << p;
            if f.leader == Some(RegionId(p as u16)) && !f.leading {
                leader_lost = true;
            }
            out.note(Note::Suspect {
                peer: RegionId(p as u16),
            });
        }
        let f = self.fo();
        if f.leader.is_none()
            && !f.leading
            && !f.candidate
            && now.mono.0 >= f.leader_contact.0 + earliest.0
        {
            leader_lost = true;
        }
        if leader_lost && self.fspec().manual {
            // Only an operator elects; a restarted primary takes its role back unless a newer
            // one has shown up.
            let f = self.fo();
            if f.resume && f.leader.is_none() && !f.candidate {
                f.resume = false;
                self.start_election(now, out, true);
            }
        } else if leader_lost {
            self.schedule_election(now, out);
        }
        if self.chain_reconfigure(now, out) {
            // Tell the chain now rather than at the next heartbeat: writes wait on it.
            self.hb_tick(now, out);
        }
        self.arm_detect(now, out);
    }

    fn schedule_election(&mut self, now: Now, out: &mut Out) {
        if self.fspec().manual {
            return;
        }
        let delay = Span(self.fspec().stagger.0 * self.fspec().rank(self.me()));
        let id = self.timer(Timer::Elect);
        let f = self.fo();
        if f.elect_armed || f.leading || f.candidate || f.pre {
            return;
        }
        f.elect_armed = true;
        out.set_timer(id, now.mono + delay);
    }

    /// Whether writes sent here now reach a primary this region believes alive.
    pub(super) fn fo_serves_writes(&self) -> bool {
        self.leader_alive()
    }

    fn leader_alive(&self) -> bool {
        let f = self.fo.as_ref().expect("failover configured");
        f.leading
            || f.leader
                .is_some_and(|l| l != self.me() && f.suspected & (1 << l.0) == 0)
    }

    pub(super) fn on_elect_timer(&mut self, now: Now, out: &mut Out) {
        let lease = self.fspec().lease;
        // Retry periods differ by rank: two candidates that split a vote once drift apart
        // instead of splitting every round (Raft randomises; a replica has no randomness).
        let me = self.me();
        let timeout = Span(
            self.fspec().election_timeout(self.n()).0
                + self.fspec().stagger.0 * self.fspec().rank(me),
        );
        let id = self.timer(Timer::Elect);
        let n = self.n();
        let f = self.fo();
        f.elect_armed = false;
        if f.leading {
            return;
        }
        if f.candidate && f.transfer_election {
            // An operator's election keeps its standing until it wins or a primary appears.
            f.candidate = false;
            self.start_election(now, out, true);
            return;
        }
        if f.candidate || f.pre {
            // No majority in time: start over (with a pre-vote again).
            f.candidate = false;
            f.pre = false;
        } else if self.leader_alive() {
            return;
        }
        let f = self.fo();
        if now.mono.0 < f.leader_contact.0 + lease.0 {
            // Still inside a lease this region may have granted: wait it out.
            f.elect_armed = true;
            out.set_timer(id, Mono(f.leader_contact.0 + lease.0));
            return;
        }
        // Retry later whatever happens; a region that hears no majority keeps quiet meanwhile.
        f.elect_armed = true;
        out.set_timer(id, now.mono + timeout);
        let heard = (n as u32 - 1) - (f.suspected & !(1u64 << me.0)).count_ones();
        if heard + 1 < majority(n) {
            return;
        }
        f.pre = true;
        f.votes = 1 << me.0;
        f.vote_sent = now.mono;
        let term = f.term + 1;
        self.ask_votes(term, true, false, out);
        if n == 1 {
            self.start_election(now, out, false);
        }
    }

    /// Asks every other region for a (pre-)vote in `term`.
    fn ask_votes(&self, term: u64, pre: bool, transfer: bool, out: &mut Out) {
        let pos = self.fo_pos();
        for p in self.peers() {
            out.send(
                RegionId(p as u16),
                Msg::VoteReq {
                    term,
                    pos,
                    pre,
                    transfer,
                },
            );
        }
    }

    /// A pre-vote won (or an operator ordered it): take the next term and ask for votes.
    fn start_election(&mut self, now: Now, out: &mut Out, transfer: bool) {
        let me = self.me();
        let timeout = self.fspec().election_timeout(self.n());
        let id = self.timer(Timer::Elect);
        let f = self.fo();
        if transfer {
            // Retried by the election timer until it wins or a primary appears.
            f.elect_armed = true;
            out.set_timer(id, now.mono + timeout);
        }
        f.transfer_election = transfer;
        f.transfer_wait = None;
        f.pre = false;
        f.term += 1;
        f.voted = Some(me);
        f.leader = None;
        f.candidate = true;
        f.votes = 1 << me.0;
        f.vote_sent = now.mono;
        let term = f.term;
        self.persist(out, || Op::Term(term, Some(me)));
        self.sync(out);
        out.note(Note::ElectionStarted { term });
        self.ask_votes(term, false, transfer, out);
        if self.n() == 1 {
            self.become_leader(now, out);
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn on_vote_req(
        &mut self,
        now: Now,
        from: RegionId,
        term: u64,
        pos: Pos,
        pre: bool,
        transfer: bool,
        out: &mut Out,
    ) {
        let lease = self.fspec().lease;
        let my_pos = self.fo_pos();
        let alive = self.leader_alive();
        let f = self.fo();
        // An operator's promotion overrides stickiness: the primary handing over has stopped
        // writing, and a forced promotion is the operator's call.
        let sticky = !transfer
            && (f.leading
                || (alive && f.leader != Some(from))
                || now.mono.0 < f.leader_contact.0 + lease.0);
        if term < f.term || (pre && term == f.term) || sticky {
            // A region that still hears a live primary ignores the election (leader
            // stickiness), so a partitioned region cannot depose a healthy primary.
            let t = f.term;
            out.send(
                from,
                Msg::Vote {
                    term: t,
                    granted: false,
                    pre,
                },
            );
            return;
        }
        if pre {
            // Would grant: the history is at least as complete as ours. Nothing changes here.
            let granted = pos >= my_pos;
            out.send(from, Msg::Vote { term, granted, pre });
            return;
        }
        if term > f.term {
            self.adopt_term(term, None, out);
        }
        let f = self.fo();
        let grant = f.voted.is_none_or(|v| v == from) && (transfer || pos >= my_pos);
        if grant {
            f.voted = Some(from);
            f.leader_contact = now.mono;
            self.persist(out, || Op::Term(term, Some(from)));
            self.sync(out);
        }
        out.send(
            from,
            Msg::Vote {
                term,
                granted: grant,
                pre: false,
            },
        );
    }

    #[inline(never)]
    pub(super) fn on_vote(
        &mut self,
        now: Now,
        from: RegionId,
        term: u64,
        granted: bool,
        pre: bool,
        out: &mut Out,
    ) {
        let n = self.n();
        let f = self.fo();
        if pre {
            if f.pre && granted && term == f.term + 1 {
                f.votes |= 1 << from.0;
                if f.votes.count_ones() >= majority(n) {
                    self.start_election(now, out, false);
                }
            }
            return;
        }
        if term > f.term {
            self.adopt_term(term, None, out);
            return;
        }
        if !(f.candidate && term == f.term && granted) {
            return;
        }
        f.votes |= 1 << from.0;
        f.echo[from.idx()] = f.echo[from.idx()].max(f.vote_sent);
        if f.votes.count_ones() >= majority(n) {
            self.become_leader(now, out);
        }
    }

    fn become_leader(&mut self, now: Now, out: &mut Out) {
        let me = self.me();
        let epoch = self.epoch;
        let own_seq = self.own_seq;
        let (st, so, se) = self.fo.as_ref().expect("failover").stream;
        let upto = self.upto_of(so, se);
        let f = self.fo();
        f.candidate = false;
        f.transfer_election = false;
        f.promote = None;
        f.resume = false;
        // A catch-up it asked of the old primary is moot: its own history is the history now.
        f.catchup_sent = None;
        f.leading = true;
        f.leader = Some(me);
        let mut fences: Vec<Fence> = f.fences.as_ref().clone();
        // Writes this region stamped in earlier terms of this incarnation beyond a fence stay
        // fenced; what it writes from now on is history again.
        for fc in fences.iter_mut() {
            if fc.origin == me && fc.epoch == epoch && fc.to.is_none() {
                fc.to = Some(own_seq);
            }
        }
        let prev = if (so, se) != (me, epoch) && st > 0 {
            fences.push(Fence {
                origin: so,
                epoch: se,
                from: upto + 1,
                to: None,
            });
            Some((so, se, upto))
        } else {
            None
        };
        f.fences = Arc::new(fences);
        f.fences_term = f.term;
        let fences = Arc::clone(&f.fences);
        self.persist(out, || Op::Fences(fences));
        let f = self.fo();
        f.prev = std::mem::take(&mut f.recent);
        f.stream = (f.term, me, epoch);
        f.commit = own_seq;
        let term = f.term;
        self.persist(out, || Op::Stream(term, me, epoch));
        out.note(Note::BecameLeader { term, prev });
        self.chain_reconfigure(now, out);
        self.hb_tick(now, out);
    }

    /// Learns of a newer term (whose primary may not be known yet).
    fn adopt_term(&mut self, term: u64, leader: Option<RegionId>, out: &mut Out) {
        let f = self.fo();
        let old = f.term;
        let was_leading = f.leading;
        f.term = term;
        f.voted = None;
        f.leader = leader;
        f.leading = false;
        f.candidate = false;
        f.pre = false;
        f.transfer_election = false;
        f.handover = None;
        f.resume = false;
        self.persist(out, || Op::Term(term, None));
        if was_leading {
            out.note(Note::SteppedDown {
                term: old,
                deposed: true,
            });
        }
    }

    pub(super) fn hb_tick(&mut self, now: Now, out: &mut Out) {
        let interval = self.fspec().detector.interval();
        let fencing = self.fspec().fencing;
        let n = self.n();
        let id = self.timer(Timer::Heartbeat);
        out.set_timer(id, now.mono + interval);
        let timeout = self.fspec().election_timeout(n);
        let f = self.fo();
        if f.handover
            .is_some_and(|(_, t)| now.mono.0 > t.0 + 2 * timeout.0)
        {
            // The successor never took over: take writes again (our term is still current).
            f.handover = None;
        }
        if f.promote.is_some_and(|(t, _)| now.mono.0 > t.0 + timeout.0) {
            self.fo_promote(now, out);
        }
        // In manual mode a primary without its lease only pauses writes (`fo_may_write`):
        // nobody would elect a successor.
        if self.fo.as_ref().expect("failover").leading
            && fencing
            && !self.fspec().manual
            && !self.lease_ok(now)
        {
            let f = self.fo();
            f.leading = false;
            f.leader = None;
            let term = f.term;
            out.note(Note::SteppedDown {
                term,
                deposed: false,
            });
            self.schedule_election(now, out);
        }
        self.chain_reconfigure(now, out);
        let me = self.me();
        let own = self.upto_of(me, self.epoch);
        let epoch = self.epoch;
        let peers: Vec<usize> = self.peers().collect();
        let pos = self.fo_pos();
        let chain_commit = self.chain_on().then(|| self.chain_commit(own));
        let f = self.fo();
        if let (true, Some(c)) = (f.leading, chain_commit) {
            // A chain commits at its tail, which holds the least of any member.
            f.commit = f.commit.max(c);
            let c = f.commit;
            while f.recent.front().is_some_and(|e| e.id.seq <= c) {
                f.recent.pop_front();
            }
        } else if f.leading {
            // Commit point: the highest seq that a majority (this region included) holds.
            let mut held: Vec<u64> = peers
                .iter()
                .map(|&p| {
                    if f.peer_pos[p].0 == f.term {
                        f.peer_pos[p].1
                    } else {
                        0
                    }
                })
                .collect();
            held.push(own);
            held.sort_unstable_by(|a, b| b.cmp(a));
            f.commit = f.commit.max(held[majority(n) as usize - 1]);
            let c = f.commit;
            while f.recent.front().is_some_and(|e| e.id.seq <= c) {
                f.recent.pop_front();
            }
        }
        for p in peers {
            let hb = Heartbeat {
                term: f.term,
                leader: if f.leading { Some(me) } else { f.leader },
                epoch,
                sent: now.mono,
                echo: f.peer_sent[p],
                pos,
                commit: f.commit,
                fences: Arc::clone(&f.fences),
                chain: match f.leading {
                    true => f.view.clone(),
                    false => None,
                },
            };
            out.send(RegionId(p as u16), Msg::Heartbeat(hb));
        }
    }

    #[inline(never)]
    pub(super) fn on_heartbeat(&mut self, now: Now, from: RegionId, hb: Heartbeat, out: &mut Out) {
        let spec = self.fspec().detector.clone();
        let p = from.idx();
        let me = self.me();
        let f = self.fo();
        f.detectors[p].heartbeat(&spec, now.mono);
        f.peer_sent[p] = Some(hb.sent);
        if let Some(e) = hb.echo {
            f.echo[p] = f.echo[p].max(e);
        }
        f.peer_pos[p] = hb.pos;
        if f.suspected & (1 << p) != 0 {
            f.suspected &= !(1 << p);
            out.note(Note::Trusted { peer: from });
        }
        if hb.term < f.term {
            return;
        }
        if hb.term > f.term {
            // A peer may name this region the primary of a term it no longer remembers (it was
            // rebuilt from an older image or from nothing): it does not lead that term, and
            // taking itself as the term's primary would have its heartbeats vouch for a primary
            // nobody is, so no election would ever replace it (swarm seed 2234).
            let leader = hb.leader.filter(|&l| l != me);
            self.adopt_term(hb.term, leader, out);
        }
        let f = self.fo();
        if hb.leader == Some(from) {
            if f.leader != Some(from) {
                f.leader = Some(from);
                f.candidate = false;
            }
            f.leader_contact = now.mono;
            self.follow(now, from, &hb, out);
            let f = self.fo();
            if let Some(v) = hb.chain.as_ref().filter(|v| v.term == f.term) {
                if f.view.as_ref().is_some_and(|mine| mine != v) {
                    self.chain_install(Arc::clone(v), now, out);
                }
            }
        } else if f.leader == Some(from) {
            // The primary says it no longer leads (its lease ran out): elect a successor.
            f.leader = None;
            self.schedule_election(now, out);
        } else if f.leader.is_none() && !f.leading && hb.leader.is_some_and(|l| l != me) {
            // Second-hand news of a primary: forward writes there until we hear it ourselves.
            f.leader = hb.leader;
        }
    }

    /// Brings this region's history in line with the primary's: adopt its fences, rewind what
    /// it discarded, catch up what it holds, then follow its stream.
    fn follow(&mut self, now: Now, leader: RegionId, hb: &Heartbeat, out: &mut Out) {
        let discard = self.fspec().rejoin == Rejoin::Discard;
        let f = self.fo();
        f.fences_term = f.fences_term.max(hb.term);
        if !Arc::ptr_eq(&f.fences, &hb.fences) && f.fences.as_ref() != hb.fences.as_ref() {
            f.fences = Arc::clone(&hb.fences);
            f.scan = true;
            self.persist(out, || Op::Fences(Arc::clone(&hb.fences)));
        }
        let f = self.fo();
        let fences = Arc::clone(&f.fences);
        let stream = f.stream;
        let mut caught_up = true;
        if let Some(keys) = &f.rewind {
            if now.mono.0 > f.rewind_sent.0 + 1_000_000_000 {
                out.send(leader, Msg::Resync { keys: keys.clone() });
                f.rewind_sent = now.mono;
            }
        }
        if discard && f.rewind.is_none() && f.scan && !fences.is_empty() {
            // Values written by entries the history does not contain, however they got here
            // (as the followed stream, before a restart, or in flight when the fence was cut):
            // a scan of the stored stamps, only when the fences change.
            f.scan = false;
            let keys: Vec<Key> = self
                .cells
                .iter()
                .enumerate()
                .filter(|(_, c)| self.fenced_stamp(c.stamp))
                .map(|(k, _)| Key(k as u64))
                .collect();
            if !keys.is_empty() {
                out.send(leader, Msg::Resync { keys: keys.clone() });
                let f = self.fo();
                f.rewind = Some(keys);
                f.rewind_sent = now.mono;
            }
        }
        if let Some(last) = fences.last() {
            if stream.0 < hb.term {
                let have = self.upto_of(last.origin, last.epoch);
                if have + 1 < last.from {
                    caught_up = false;
                    let f = self.fo();
                    if f.catchup_sent
                        .is_none_or(|t| now.mono.0 > t.0 + 1_000_000_000)
                    {
                        f.catchup_sent = Some(now.mono);
                        out.send(
                            leader,
                            Msg::CatchUpReq {
                                origin: last.origin,
                                epoch: last.epoch,
                                after: have,
                            },
                        );
                    }
                }
            }
        }
        let f = self.fo();
        if caught_up && f.rewind.is_none() && f.stream.0 < hb.term {
            f.stream = (hb.term, leader, hb.epoch);
            f.prev = std::mem::take(&mut f.recent);
            f.commit = 0;
            f.catchup_sent = None;
            let (t, o, e) = f.stream;
            self.persist(out, || Op::Stream(t, o, e));
        }
        let chain = self.chain_on();
        let f = self.fo();
        if chain && f.stream.0 == hb.term && f.stream.1 == leader {
            // Chain: a region that was out of the chain lacks part of the stream below the
            // commit point (nobody forwarded it), and one whose predecessor held entries from
            // a catch-up of its own was never forwarded those (only fresh entries travel on):
            // pull the hole from the head.
            let (t, o, e) = f.stream;
            let have = self.upto_of(o, e);
            let top = self.max_of(o, e);
            let f = self.fo();
            let hole = f.gap_mark.0 == t && have < f.gap_mark.1;
            f.gap_mark = (t, top);
            if !(have < hb.commit || hole) {
                // Whatever was asked for has arrived, by the answer or down the chain.
                f.catchup_sent = None;
            } else if f
                .catchup_sent
                .is_none_or(|t| now.mono.0 > t.0 + 1_000_000_000)
            {
                f.catchup_sent = Some(now.mono);
                out.send(
                    leader,
                    Msg::CatchUpReq {
                        origin: o,
                        epoch: e,
                        after: have,
                    },
                );
            }
        }
        let f = self.fo();
        if f.stream.0 == hb.term {
            f.commit = f.commit.max(hb.commit);
            let c = f.commit;
            while f.recent.front().is_some_and(|e| e.id.seq <= c) {
                f.recent.pop_front();
            }
        }
    }

    /// Whether a stored stamp was written by a fenced entry.
    fn fenced_stamp(&self, s: Stamp) -> bool {
        if s.is_none() {
            return false;
        }
        let f = self.fo.as_ref().expect("fo");
        f.fences.iter().any(|fc| {
            fc.origin == s.region()
                && (fc.epoch & 0xffff) as u64 == (s.tie >> 32) & 0xffff
                && fc.covers(EntryId {
                    origin: fc.origin,
                    epoch: fc.epoch,
                    seq: s.tie & 0xffff_ffff,
                })
        })
    }

    #[inline(never)]
    pub(super) fn on_catch_up_req(
        &mut self,
        from: RegionId,
        origin: RegionId,
        epoch: u32,
        after: u64,
        out: &mut Out,
    ) {
        let f = self.fo.as_ref().expect("fo");
        let own = f.leading && origin == self.me() && epoch == self.epoch;
        let upto = if own {
            // Chain: a region rejoining the chain asks for the head's own stream.
            self.upto_of(origin, epoch)
        } else {
            match f
                .fences
                .iter()
                .rev()
                .find(|fc| fc.origin == origin && fc.epoch == epoch)
            {
                Some(fc) => fc.from - 1,
                None => return,
            }
        };
        let tail: Vec<Entry> = if own { &f.recent } else { &f.prev }
            .iter()
            .filter(|e| e.id.origin == origin && e.id.epoch == epoch)
            .filter(|e| e.id.seq > after && e.id.seq <= upto)
            .cloned()
            .collect();
        let complete = tail.first().is_some_and(|e| e.id.seq == after + 1)
            && tail.len() as u64 == upto - after;
        let value_bytes = self.cfg.plan.value_bytes;
        let msg = if complete || after >= upto {
            Msg::CatchUp {
                origin,
                epoch,
                upto,
                entries: tail,
                snapshot: Vec::new(),
                value_bytes,
            }
        } else {
            // The tail is gone (committed and trimmed): send the whole state instead.
            let snapshot: Vec<(Key, Cell)> = self
                .cells
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.stamp.is_none())
                .map(|(k, c)| (Key(k as u64), *c))
                .collect();
            Msg::CatchUp {
                origin,
                epoch,
                upto,
                // A chain head's entries above its commit point come along as entries: the
                // asker forwards what it learns down the chain, which a snapshot cannot do.
                entries: if own { tail } else { Vec::new() },
                snapshot,
                value_bytes,
            }
        };
        out.send(from, msg);
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn on_catch_up(
        &mut self,
        now: Now,
        origin: RegionId,
        epoch: u32,
        upto: u64,
        entries: Vec<Entry>,
        snapshot: Vec<(Key, Cell)>,
        out: &mut Out,
    ) {
        let chain = self.chain_on();
        let mut queued = 0;
        for e in entries {
            if e.verify() && self.mark_seen(e.id, out) {
                self.apply_lww(e.key, e.cell, out);
                self.fo_track(&e);
                if chain {
                    // In a chain every region forwards what it learns first, however it
                    // learned it: its successor will not get it from anyone else.
                    queued |= self.route(&e, None, now, out);
                    if e.notify {
                        // The head may be waiting for this region as its (new) tail.
                        self.notify_pending.push(e.id);
                    }
                }
            }
        }
        for (k, c) in snapshot {
            self.apply_lww(k, c, out);
        }
        let set = super::seq_set(&mut self.seen[origin.idx()], epoch);
        if set.upto() < upto {
            set.advance_to(upto);
            self.persist(out, || Op::SeenUpto(origin, epoch, upto));
        }
        self.fo().catchup_sent = None;
        self.durable_write(now, out);
        if self.sync_mode() {
            self.send_notifies(out);
        }
        self.transmit_mask(queued, now, out);
    }

    #[inline(never)]
    pub(super) fn on_resync(&mut self, from: RegionId, keys: Vec<Key>, out: &mut Out) {
        let cells = keys.iter().map(|&k| (k, self.local_cell(k))).collect();
        out.send(
            from,
            Msg::ResyncCells {
                cells,
                value_bytes: self.cfg.plan.value_bytes,
            },
        );
    }

    #[inline(never)]
    pub(super) fn on_resync_cells(
        &mut self,
        now: Now,
        cells: Vec<(Key, Option<Cell>)>,
        out: &mut Out,
    ) {
        if self.fo().rewind.take().is_none() {
            return;
        }
        for (k, c) in cells {
            let mine = self.cell(k);
            if self.fenced_stamp(mine.stamp) {
                self.install(k, c.unwrap_or_else(Cell::default_none), out);
            } else if let Some(c) = c {
                self.apply_lww(k, c, out);
            }
        }
        self.durable_write(now, out);
    }

    /// Replaces a key's value unconditionally (rewinding a discarded write).
    fn install(&mut self, key: Key, cell: Cell, out: &mut Out) {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if !old.stamp.is_none() {
            self.digest = self.digest.wrapping_sub(super::cell_digest(key, &old));
        }
        if !cell.stamp.is_none() {
            self.digest = self.digest.wrapping_add(super::cell_digest(key, &cell));
        }
        self.cells[i] = cell;
        self.persist(out, || Op::Cell(key, cell));
        out.note(Note::Rewound {
            key,
            old: old.stamp,
            new: cell.stamp,
        });
    }

    /// A forwarded write reached this region, which does not lead.
    /// Operator: make this region the primary. With a live primary in reach it asks for a
    /// planned handover; without one it forces an election (voters waive the up-to-date
    /// check, so writes only the old primary held are lost and counted).
    pub(super) fn fo_promote(&mut self, now: Now, out: &mut Out) {
        let alive = self.leader_alive();
        let f = self.fo();
        if f.leading || f.candidate {
            f.promote = None;
            return;
        }
        let tries = f.promote.map_or(0, |(_, k)| k) + 1;
        if tries > 5 {
            // Give up, as an operator's runbook would after a few attempts.
            f.promote = None;
            return;
        }
        f.promote = Some((now.mono, tries));
        match f.leader {
            Some(l) if alive => {
                out.note(Note::PromoteRequested { planned: true });
                out.send(l, Msg::TransferReq);
            }
            _ => {
                out.note(Note::PromoteRequested { planned: false });
                self.start_election(now, out, true);
            }
        }
    }

    /// The primary hears that an operator wants `from` to take over: it stops taking writes
    /// and tells `from` how much of its stream to wait for.
    #[inline(never)]
    pub(super) fn on_transfer_req(&mut self, now: Now, from: RegionId, out: &mut Out) {
        let upto = self.upto_of(self.me(), self.epoch);
        let f = self.fo();
        if !f.leading {
            return; // the target retries, and forces an election if no primary is left
        }
        if f.handover.is_none_or(|(to, _)| to != from) {
            f.handover = Some((from, now.mono));
            out.note(Note::HandingOver { to: from });
        }
        let term = f.term;
        out.send(from, Msg::TimeoutNow { term, upto });
    }

    #[inline(never)]
    pub(super) fn on_timeout_now(
        &mut self,
        now: Now,
        from: RegionId,
        term: u64,
        upto: u64,
        out: &mut Out,
    ) {
        let f = self.fo();
        if term != f.term || f.leader != Some(from) || f.leading {
            return;
        }
        f.transfer_wait = Some((term, upto));
        self.fo_check_transfer(now, out);
    }

    /// A promotion target stands once it holds everything the old primary wrote.
    pub(super) fn fo_check_transfer(&mut self, now: Now, out: &mut Out) {
        let Some(f) = self.fo.as_ref() else {
            return;
        };
        let Some((term, upto)) = f.transfer_wait else {
            return;
        };
        let (st, so, se) = f.stream;
        if f.term != term || f.candidate || f.leading {
            self.fo().transfer_wait = None;
            return;
        }
        if st == term && Some(so) == f.leader && self.upto_of(so, se) >= upto {
            self.start_election(now, out, true);
        }
    }

    pub(super) fn reject_forward(&self, from: RegionId, op: OpId, out: &mut Out) {
        out.send(from, Msg::NotPrimary { op });
    }

    #[inline(never)]
    pub(super) fn on_not_primary(&mut self, op: OpId, out: &mut Out) {
        if self.forwards.remove(&op) || self.reads.remove(&op).is_some() {
            out.reply(Reply::Failed { op });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{sends, Config, Disk, Replicator};
    use super::*;
    use crate::replica::plan::{Strategy, Sync};
    use crate::replica::{Action, Outbox, Replica, TimerId, WireMessage};

    fn cfg(id: u16) -> Config {
        super::super::failover_test_config(
            id,
            Strategy::PrimaryBackup {
                primary: RegionId(0),
                forward: true,
                sync: Sync::Async,
            },
        )
    }

    fn at(ms: u64) -> Now {
        super::super::test_now(ms)
    }

    fn timers(out: &Out) -> Vec<(TimerId, Mono)> {
        out.actions
            .iter()
            .filter_map(|a| match a {
                Action::SetTimer { id, at } => Some((*id, *at)),
                _ => None,
            })
            .collect()
    }

    use super::super::{notes, test_heartbeat};

    /// The exact actions of one failover, as a backup sees it: silence from the primary for
    /// the timeout is a suspicion and an election timer one stagger later; that timer sends
    /// pre-votes (no term taken); a granted pre-vote makes it a candidate of term 2 asking
    /// for real votes; a granted vote makes it primary, cutting the old stream where it is.
    #[test]
    fn a_backup_suspects_pre_votes_votes_and_leads_in_exact_steps() {
        let mut r1 = Replicator::recover(&cfg(1), &Disk::default());
        let mut out = Outbox::default();
        r1.on_start(at(0), &mut out);
        assert_eq!(
            sends(&out)
                .iter()
                .map(|(to, m)| (to.0, m.kind()))
                .collect::<Vec<_>>(),
            vec![(0, "heartbeat"), (2, "heartbeat")]
        );
        assert!(timers(&out).contains(&(r1.timer(Timer::Detect), Mono(1_000_000_000))));
        // r2 keeps talking; r0 (the primary) never does.
        for t in (100..=1000).step_by(100) {
            let hb = test_heartbeat(t, None);
            let mut o = Outbox::default();
            r1.on_message(at(t), RegionId(2), Msg::Heartbeat(hb), &mut o);
        }
        let mut out = Outbox::default();
        r1.on_timer(at(1000), r1.timer(Timer::Detect), &mut out);
        assert_eq!(notes(&out), vec![Note::Suspect { peer: RegionId(0) }]);
        // Rank 1: one stagger (200 ms) before standing.
        assert!(timers(&out).contains(&(r1.timer(Timer::Elect), Mono(1_200_000_000))));

        let mut out = Outbox::default();
        r1.on_timer(at(1200), r1.timer(Timer::Elect), &mut out);
        let pre = sends(&out);
        assert_eq!(pre.len(), 2);
        for (_, m) in &pre {
            assert_eq!(
                **m,
                Msg::VoteReq {
                    term: 2,
                    pos: (1, 0),
                    pre: true,
                    transfer: false,
                }
            );
        }
        assert!(notes(&out).is_empty(), "a pre-vote changes no term");

        let mut out = Outbox::default();
        let grant = |pre| Msg::Vote {
            term: 2,
            granted: true,
            pre,
        };
        r1.on_message(at(1240), RegionId(2), grant(true), &mut out);
        assert_eq!(notes(&out), vec![Note::ElectionStarted { term: 2 }]);
        assert!(out
            .actions
            .iter()
            .any(|a| matches!(a, Action::Persist(Op::Term(2, Some(RegionId(1)))))));
        assert!(matches!(out.actions.last(), Some(Action::Send { .. })));
        let real: Vec<_> = sends(&out)
            .into_iter()
            .map(|(to, m)| (to.0, m.clone()))
            .collect();
        assert_eq!(
            real,
            vec![
                (
                    0,
                    Msg::VoteReq {
                        term: 2,
                        pos: (1, 0),
                        pre: false,
                        transfer: false,
                    }
                ),
                (
                    2,
                    Msg::VoteReq {
                        term: 2,
                        pos: (1, 0),
                        pre: false,
                        transfer: false,
                    }
                ),
            ]
        );

        let mut out = Outbox::default();
        r1.on_message(at(1280), RegionId(2), grant(false), &mut out);
        assert_eq!(
            notes(&out),
            vec![Note::BecameLeader {
                term: 2,
                prev: Some((RegionId(0), 1, 0))
            }]
        );
        assert!(r1.fo_may_write(at(1280)));
        // It announces itself at once, with the fence on r0's stream.
        let hb = sends(&out);
        assert_eq!(hb.len(), 2);
        match hb[0].1 {
            Msg::Heartbeat(h) => {
                assert_eq!((h.term, h.leader), (2, Some(RegionId(1))));
                assert_eq!(
                    h.fences.as_ref(),
                    &vec![Fence {
                        origin: RegionId(0),
                        epoch: 1,
                        from: 1,
                        to: None
                    }]
                );
            }
            ref m => panic!("{m:?}"),
        }
    }

    /// The leader its heartbeats (term 1 here) name, and what they are sent to (test helper).
    fn announced(out: &Out) -> Vec<(u16, u64, Option<RegionId>)> {
        sends(out)
            .into_iter()
            .filter_map(|(to, m)| match m {
                Msg::Heartbeat(h) => Some((to.0, h.term, h.leader)),
                _ => None,
            })
            .collect()
    }

    /// Swarm seed 2234: the primary r0 loses its disk for 62 ms and is rebuilt from nothing
    /// (term 0). Its peers, who never suspected it, name it the primary of term 1; it took that
    /// as its own term's primary without leading it, and its heartbeats then vouched for a
    /// primary nobody was: no election ever started and writes failed for good. It now adopts
    /// the term without a primary, says so, and stands for election once the lease it may
    /// have granted has run out.
    #[test]
    fn a_rebuilt_primary_named_by_its_peers_does_not_vouch_for_itself() {
        let mut r0 = Replicator::rebuild(&cfg(0), &Disk::default(), 1);
        let mut out = Outbox::default();
        r0.on_start(at(0), &mut out);
        for t in [100, 200] {
            let mut o = Outbox::default();
            let hb = test_heartbeat(t, None);
            r0.on_message(at(t), RegionId(1), Msg::Heartbeat(hb), &mut o);
        }
        assert!(!r0.fo_serves_writes());
        let mut out = Outbox::default();
        r0.on_timer(at(250), r0.timer(Timer::Heartbeat), &mut out);
        assert_eq!(announced(&out), vec![(1, 1, None), (2, 1, None)]);
        // No primary heard for the earliest suspicion (1 s): an election, rank 0 at once.
        let mut out = Outbox::default();
        r0.on_timer(at(1000), r0.timer(Timer::Detect), &mut out);
        assert!(timers(&out).contains(&(r0.timer(Timer::Elect), Mono(1_000_000_000))));
        let mut out = Outbox::default();
        r0.on_timer(at(1000), r0.timer(Timer::Elect), &mut out);
        let asks: Vec<_> = sends(&out)
            .into_iter()
            .map(|(to, m)| (to.0, m.clone()))
            .collect();
        let pre = Msg::VoteReq {
            term: 2,
            pos: (0, 0),
            pre: true,
            transfer: false,
        };
        assert_eq!(asks, vec![(1, pre.clone()), (2, pre)]);
    }

    /// Swarm seed 2234, second half: once the old primary r0 says it does not lead term 1, a
    /// follower that has not heard that yet (r2) still names r0 in its heartbeats. Taking that
    /// second-hand news back had r1 and r2 re-teach each other r0 for minutes. r1 now believes
    /// r0 about itself and elects.
    /// A region still hearing a live primary refuses to vote, pre-vote or not.
    #[test]
    fn a_region_that_hears_its_primary_refuses_votes() {
        let mut r2 = Replicator::recover(&cfg(2), &Disk::default());
        let mut out = Outbox::default();
        r2.on_start(at(0), &mut out);
        let mut out = Outbox::default();
        r2.on_message(
            at(300),
            RegionId(1),
            Msg::VoteReq {
                term: 2,
                pos: (1, 5),
                pre: true,
                transfer: false,
            },
            &mut out,
        );
        assert_eq!(
            sends(&out)
                .into_iter()
                .map(|(to, m)| (to.0, m.clone()))
                .collect::<Vec<_>>(),
            vec![(
                1,
                Msg::Vote {
                    term: 1,
                    granted: false,
                    pre: true,
                }
            )]
        );
    }

    /// Everything persisted in `out` reaches `disk` (the test syncs at once).
    fn persist_all(disk: &mut Disk, out: &Out) {
        use crate::replica::Durable;
        for a in &out.actions {
            if let Action::Persist(op) = a {
                disk.apply(op.clone());
            }
        }
    }

    /// Issue 21, 3.2: a region that learned a fence, crashed, and was elected before hearing
    /// any primary used to publish a history without that fence (fences lived only in memory),
    /// so the cut-off writes of the old stream were applied again when they arrived. The fence
    /// now survives the restart: the new primary's heartbeat carries it, and an entry behind it
    /// is fenced, not applied.
    #[test]
    fn a_fence_survives_a_restart_and_an_election_before_any_primary_is_heard() {
        let mut disk = Disk::default();
        let mut r1 = Replicator::recover(&cfg(1), &disk);
        let mut out = Outbox::default();
        r1.on_start(at(0), &mut out);
        persist_all(&mut disk, &out);
        // r2 leads term 2 and cut r0's stream before its first entry.
        let r0_cut = Fence {
            origin: RegionId(0),
            epoch: 1,
            from: 1,
            to: None,
        };
        let hb = Heartbeat {
            term: 2,
            leader: Some(RegionId(2)),
            pos: (2, 0),
            fences: Arc::new(vec![r0_cut]),
            ..test_heartbeat(100, None)
        };
        let mut out = Outbox::default();
        r1.on_message(at(100), RegionId(2), Msg::Heartbeat(hb), &mut out);
        persist_all(&mut disk, &out);

        // Crash and restart; an operator promotes r1 and r2 votes for it.
        let mut r1 = Replicator::recover(&cfg(1), &disk);
        let mut out = Outbox::default();
        r1.on_start(at(5000), &mut out);
        let mut out = Outbox::default();
        r1.fo_promote(at(5000), &mut out);
        let mut out = Outbox::default();
        let vote = Msg::Vote {
            term: 3,
            granted: true,
            pre: false,
        };
        r1.on_message(at(5040), RegionId(2), vote, &mut out);
        assert_eq!(
            notes(&out),
            vec![Note::BecameLeader {
                term: 3,
                prev: Some((RegionId(2), 1, 0))
            }]
        );
        let r2_cut = Fence {
            origin: RegionId(2),
            epoch: 1,
            from: 1,
            to: None,
        };
        match sends(&out).first() {
            Some((_, Msg::Heartbeat(h))) => assert_eq!(h.fences.as_ref(), &vec![r0_cut, r2_cut]),
            m => panic!("{m:?}"),
        }

        // r0's cut-off write arrives late: acknowledged on the link, never applied.
        let entry = Entry::new(
            EntryId {
                origin: RegionId(0),
                epoch: 1,
                seq: 1,
            },
            Key(7),
            Cell {
                stamp: Stamp::new(crate::time::Wall(50_000_000), RegionId(0), 1, 1),
                value: OpId(70),
            },
            10,
        );
        let late = Msg::Replicate {
            epoch: 1,
            first: 1,
            floor: 1,
            entries: vec![entry],
            durable_own: (1, 1),
            lost_after: None,
            retransmit: true,
            wire: 100,
            term: 1,
        };
        let mut out = Outbox::default();
        r1.on_message(at(5100), RegionId(0), late, &mut out);
        assert_eq!(notes(&out), vec![Note::Fenced { op: OpId(70) }]);
        assert!(r1.cell(Key(7)).stamp.is_none());
    }
}
