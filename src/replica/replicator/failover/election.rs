//! Failover elections: staggered candidacy, pre-votes and votes (the most up-to-date candidate
//! wins), taking office, and operator-ordered handovers.

use super::super::{Msg, Op, Out, Replicator, Timer};
use super::{majority, Fence, FoMsg, Pos};
use crate::replica::{Note, Now, RegionId};
use crate::time::{Mono, Span};
use std::sync::Arc;

/// Elections and handovers.
impl Replicator {
    pub(super) fn schedule_election(&mut self, now: Now, out: &mut Out) {
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

    pub(super) fn leader_alive(&self) -> bool {
        let f = self.fo.as_ref().expect("failover configured");
        f.leading
            || f.leader
                .is_some_and(|l| l != self.me() && f.suspected & (1 << l.0) == 0)
    }

    pub(in crate::replica::replicator) fn on_elect_timer(&mut self, now: Now, out: &mut Out) {
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
    pub(super) fn ask_votes(&self, term: u64, pre: bool, transfer: bool, out: &mut Out) {
        let pos = self.fo_pos();
        for p in self.peers() {
            out.send(
                RegionId(p as u16),
                Msg::Failover(FoMsg::VoteReq {
                    term,
                    pos,
                    pre,
                    transfer,
                }),
            );
        }
    }

    /// A pre-vote won (or an operator ordered it): take the next term and ask for votes.
    pub(super) fn start_election(&mut self, now: Now, out: &mut Out, transfer: bool) {
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
    pub(in crate::replica::replicator) fn on_vote_req(
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
                Msg::Failover(FoMsg::Vote {
                    term: t,
                    granted: false,
                    pre,
                }),
            );
            return;
        }
        if pre {
            // Would grant: the history is at least as complete as ours. Nothing changes here.
            let granted = pos >= my_pos;
            out.send(from, Msg::Failover(FoMsg::Vote { term, granted, pre }));
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
            Msg::Failover(FoMsg::Vote {
                term,
                granted: grant,
                pre: false,
            }),
        );
    }

    #[inline(never)]
    pub(in crate::replica::replicator) fn on_vote(
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

    pub(super) fn become_leader(&mut self, now: Now, out: &mut Out) {
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
    pub(super) fn adopt_term(&mut self, term: u64, leader: Option<RegionId>, out: &mut Out) {
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

    /// A forwarded write reached this region, which does not lead.
    /// Operator: make this region the primary. With a live primary in reach it asks for a
    /// planned handover; without one it forces an election (voters waive the up-to-date
    /// check, so writes only the old primary held are lost and counted).
    pub(in crate::replica::replicator) fn fo_promote(&mut self, now: Now, out: &mut Out) {
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
                out.send(l, Msg::Failover(FoMsg::TransferReq));
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
    pub(in crate::replica::replicator) fn on_transfer_req(
        &mut self,
        now: Now,
        from: RegionId,
        out: &mut Out,
    ) {
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
        out.send(from, Msg::Failover(FoMsg::TimeoutNow { term, upto }));
    }

    #[inline(never)]
    pub(in crate::replica::replicator) fn on_timeout_now(
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
    pub(in crate::replica::replicator) fn fo_check_transfer(&mut self, now: Now, out: &mut Out) {
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
}
