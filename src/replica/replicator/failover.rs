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

mod catchup;
mod election;
mod msg;
pub use msg::{Fence, FoMsg, Heartbeat, Pos};

use super::read_guard::Refusal;
use super::{ChainView, ClientMsg, Entry, EntryId, Msg, Op, Out, Replicator, Timer};
use crate::replica::detector::Detector;
use crate::replica::plan::{Failover, Rejoin};
use crate::replica::{Key, Note, Now, OpId, RegionId};
use crate::time::Mono;
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

    /// Read guard (see `read_guard`): a primary read reached a deposed (or lease-less)
    /// primary, which must not hand out a value a newer primary may have overwritten.
    #[inline]
    pub(super) fn failover_read_guard(&self, primary: bool, now: Now) -> Option<Refusal> {
        (primary && !self.pb_serves_reads(now)).then_some(Refusal::NoLease)
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
        self.store.seen()[origin.idx()]
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

    /// Whether writes sent here now reach a primary this region believes alive.
    pub(super) fn fo_serves_writes(&self) -> bool {
        self.leader_alive()
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
            out.send(RegionId(p as u16), Msg::Failover(FoMsg::Heartbeat(hb)));
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
                out.send(leader, Msg::Failover(FoMsg::Resync { keys: keys.clone() }));
                f.rewind_sent = now.mono;
            }
        }
        if discard && f.rewind.is_none() && f.scan && !fences.is_empty() {
            // Values written by entries the history does not contain, however they got here
            // (as the followed stream, before a restart, or in flight when the fence was cut):
            // a scan of the stored stamps, only when the fences change.
            f.scan = false;
            let keys: Vec<Key> = self
                .store
                .cells()
                .iter()
                .enumerate()
                .filter(|(_, c)| self.fenced_stamp(c.stamp))
                .map(|(k, _)| Key(k as u64))
                .collect();
            if !keys.is_empty() {
                out.send(leader, Msg::Failover(FoMsg::Resync { keys: keys.clone() }));
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
                            Msg::Failover(FoMsg::CatchUpReq {
                                origin: last.origin,
                                epoch: last.epoch,
                                after: have,
                            }),
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
            if !discard && self.chain_on() {
                self.reconcile_cut(now, out);
            }
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
                    Msg::Failover(FoMsg::CatchUpReq {
                        origin: o,
                        epoch: e,
                        after: have,
                    }),
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

    /// Chain with `rejoin: reconcile`: the entries of the stream just left that the new head's
    /// cut leaves out (a deposed head's writes it never passed on) are kept, but a chain only
    /// carries an entry downstream of where it is, so the new head and every region above this
    /// one would never get them (issue 22, swarm seed 9947). Send them straight to every region,
    /// as no one's pending write (no durability notice: their clients were answered long ago).
    fn reconcile_cut(&mut self, now: Now, out: &mut Out) {
        let f = self.fo.as_ref().expect("failover configured");
        let cut: Vec<Entry> = f
            .prev
            .iter()
            .filter(|e| f.fences.iter().any(|fc| fc.covers(e.id)))
            .cloned()
            .collect();
        if cut.is_empty() {
            return;
        }
        let mut queued = 0u64;
        for mut e in cut {
            e.notify = false;
            for p in self.peers() {
                self.enqueue(p, e.clone(), now, out);
                queued |= 1u64 << p;
            }
        }
        self.durable_write(now, out);
        self.transmit_mask(queued, now, out);
    }

    pub(super) fn reject_forward(&self, from: RegionId, op: OpId, out: &mut Out) {
        out.send(from, Msg::Client(ClientMsg::NotPrimary { op }));
    }

    #[inline(never)]
    pub(super) fn on_not_primary(&mut self, op: OpId, out: &mut Out) {
        self.requests.refused(op, out);
    }
}

impl Replicator {
    /// Routes a failover message.
    #[inline(never)]
    pub(super) fn on_fo_msg(&mut self, now: Now, from: RegionId, msg: FoMsg, out: &mut Out) {
        match msg {
            FoMsg::Heartbeat(hb) => self.on_heartbeat(now, from, hb, out),
            FoMsg::VoteReq {
                term,
                pos,
                pre,
                transfer,
            } => self.on_vote_req(now, from, term, pos, pre, transfer, out),
            FoMsg::TransferReq => self.on_transfer_req(now, from, out),
            FoMsg::TimeoutNow { term, upto } => self.on_timeout_now(now, from, term, upto, out),
            FoMsg::Vote { term, granted, pre } => self.on_vote(now, from, term, granted, pre, out),
            FoMsg::CatchUpReq {
                origin,
                epoch,
                after,
            } => self.on_catch_up_req(from, origin, epoch, after, out),
            FoMsg::CatchUp {
                origin,
                epoch,
                upto,
                entries,
                snapshot,
                ..
            } => self.on_catch_up(now, origin, epoch, upto, entries, snapshot, out),
            FoMsg::Resync { keys } => self.on_resync(from, keys, out),
            FoMsg::ResyncCells { cells, .. } => self.on_resync_cells(now, cells, out),
        }
    }
}

#[cfg(test)]
mod tests;
