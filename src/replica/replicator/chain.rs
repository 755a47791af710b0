//! Chain replication under failover: the elected primary is the chain's head and keeps the
//! chain's configuration, the role van Renesse and Schneider give a separate master.
//!
//! The head keeps every region it does not suspect in the chain: first the members, in the
//! configured order going round from the head, then regions catching up, which join at the
//! tail. Each region forwards the head's stream to its successor; a write commits when the last
//! member (the tail) holds it durably, and reads go to the tail. Reconfiguration:
//! - a suspected region leaves at once (its predecessor now feeds its successor, and resends
//!   what it holds above the commit point: the removed region may not have forwarded it);
//! - writes waiting on a removed tail commit at the new tail as soon as it holds them;
//! - a returning region queues behind the tail, pulls from the head what it missed, and
//!   becomes the tail once it holds the head's stream up to where the head was when it
//!   queued (from there on the chain has been forwarding to it).
//!
//! A chain of `k` members keeps acknowledged writes through `k - 1` failures. Elections, leases
//! and fencing are primary-backup's: the chain only changes where entries flow and who commits.

use super::read_guard::Refusal;
use super::{Entry, Out, Replicator};
use crate::replica::plan::Need;
use crate::replica::{Key, Note, Now, RegionId};
use std::sync::Arc;

/// The chain as its head configured it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainView {
    /// The head's term.
    pub term: u64,
    /// Forwarding order, head first: the members, then regions catching up.
    pub order: Vec<RegionId>,
    /// How many of `order` are members; the last member is the tail.
    pub members: usize,
    /// The member answering reads: the tail, except just after a joiner became the tail,
    /// until it holds every write acknowledged before (its predecessor still forwards them).
    pub reads: usize,
}

impl ChainView {
    pub fn successor(&self, r: RegionId) -> Option<RegionId> {
        let i = self.order.iter().position(|&x| x == r)?;
        self.order.get(i + 1).copied()
    }

    pub fn tail(&self) -> Option<RegionId> {
        self.members.checked_sub(1).map(|i| self.order[i])
    }

    pub fn read_region(&self) -> Option<RegionId> {
        self.order
            .get(self.reads)
            .copied()
            .filter(|_| self.members > 0)
    }

    /// Bytes on the wire (in a heartbeat): a count and a region id each.
    pub fn wire_bytes(&self) -> u64 {
        6 + 2 * self.order.len() as u64
    }
}

impl Replicator {
    /// Chain mode under failover: the chain view replaces the static route tree.
    pub(super) fn chain_on(&self) -> bool {
        self.fo.as_ref().is_some_and(|f| f.view.is_some())
    }

    pub(super) fn chain_view(&self) -> Option<&ChainView> {
        self.fo.as_ref()?.view.as_deref()
    }

    /// Where this region forwards the head's stream (None: it is the last in the chain, or
    /// has not heard the head's chain yet).
    pub(super) fn chain_succ(&self) -> Option<RegionId> {
        self.chain_view()?.successor(self.me())
    }

    /// The tail as this region knows it: where writes commit.
    pub(super) fn chain_tail(&self) -> Option<RegionId> {
        self.chain_view()?.tail()
    }

    /// Where reads go, as this region knows the chain.
    pub(super) fn chain_reads(&self) -> Option<RegionId> {
        self.chain_view()?.read_region()
    }

    /// What a write waits for: the tail, and the region answering reads if that is still the
    /// previous tail (a new tail may hold writes from its catch-up that its predecessor, which
    /// answers reads meanwhile, has not received yet).
    pub(super) fn chain_need(&self) -> Need {
        let me = self.me();
        let tail = self.chain_tail().unwrap_or(me);
        match self.chain_reads() {
            Some(r) if r != tail => Need::All(Replicator::bit(tail) | Replicator::bit(r)),
            _ => Need::Region(tail),
        }
    }

    /// Read guard (see `read_guard`): in chain mode, a read sent here is refused unless this
    /// region answers the chain's reads now, and a primary read also unless `key` is settled.
    #[inline]
    pub(super) fn chain_read_guard(&self, key: Key, primary: bool, now: Now) -> Option<Refusal> {
        if !self.chain_on() {
            return None;
        }
        if !self.chain_serves_reads(now) {
            // No longer where the chain reads (it left, a new tail took over, or it lost
            // touch with the head): the client learns of the new chain and retries.
            return Some(Refusal::ChainNotReading);
        }
        if primary && !self.chain_read_settled(key) {
            // Reads still come here while a newer tail catches up, and this key has a write
            // that tail may not hold yet: answering it could show a value reads there miss.
            return Some(Refusal::ChainUnsettled);
        }
        None
    }

    /// Whether this region may answer the chain's reads now: it is where reads go, and it
    /// still hears the head within the lease. A head drops a region only after suspecting it,
    /// later than the lease, so a read region cut off from its head stops answering before the
    /// head commits writes elsewhere (the head itself needs its own lease).
    pub(super) fn chain_serves_reads(&self, now: Now) -> bool {
        let Some(f) = self.fo.as_ref() else {
            return true;
        };
        if self.chain_reads() != Some(self.me()) {
            return false;
        }
        let spec = self
            .cfg
            .plan
            .failover
            .as_ref()
            .expect("failover configured");
        if !spec.fencing {
            return true;
        }
        if f.leading {
            return self.lease_ok(now);
        }
        f.leader.is_some() && now.mono.0 < f.leader_contact.0 + spec.lease.0
    }

    /// Whether this region, answering the chain's reads, may answer `key` from its copy: as
    /// the tail always (what it holds is committed); while a newer tail catches up only if no
    /// entry of `key` above the commit point is held here, since reads move to that tail once
    /// it holds what every member held (`handoff`), and it may lack such an entry then.
    pub(super) fn chain_read_settled(&self, key: Key) -> bool {
        let Some(f) = self.fo.as_ref() else {
            return true;
        };
        self.chain_tail() == Some(self.me()) || !f.recent.iter().any(|e| e.key == key)
    }

    /// Head: the newest entry of its stream that every member holds (as their heartbeats say).
    pub(super) fn chain_commit(&self, own: u64) -> u64 {
        let Some(f) = self.fo.as_ref() else {
            return own;
        };
        let Some(v) = f.view.as_deref() else {
            return own;
        };
        v.order[..v.members]
            .iter()
            .filter(|&&r| r != self.me())
            .map(|r| match f.peer_pos[r.idx()] {
                (t, u) if t == f.term => u,
                _ => 0,
            })
            .fold(own, u64::min)
    }

    /// Head: rebuilds the chain from what it suspects and what joiners hold, and installs it
    /// if it changed (the next heartbeats carry it). Returns whether it changed.
    pub(super) fn chain_reconfigure(&mut self, now: Now, out: &mut Out) -> bool {
        let me = self.me();
        let n = self.n();
        let own = self.upto_of(me, self.epoch);
        let plan = Arc::clone(&self.cfg.plan);
        let Some(config) = plan.chain_order() else {
            return false;
        };
        let Some(f) = self.fo.as_mut() else {
            return false;
        };
        if !f.leading {
            return false;
        }
        let Some(cur) = f.view.clone() else {
            return false;
        };
        let ok = |r: RegionId| r != me && f.suspected & (1u64 << r.0) == 0;
        let start = config.iter().position(|&r| r == me).unwrap_or(0);
        let place =
            |r: &RegionId| (config.iter().position(|x| x == r).unwrap_or(0) + n - start) % n;
        let mut order = vec![me];
        order.extend(cur.order[..cur.members].iter().copied().filter(|&r| ok(r)));
        if cur.term != f.term {
            // A new head's stream starts empty: its members (who all hold what the old tail
            // committed) line up in the configured order going round from it.
            order[1..].sort_by_key(place);
        }
        let mut members = order.len();
        order.extend(cur.order[cur.members..].iter().copied().filter(|&r| ok(r)));
        for k in 1..n {
            let r = config[(start + k) % n];
            if ok(r) && !order.contains(&r) {
                order.push(r);
                f.join_mark[r.idx()] = own;
            }
        }
        // The first joiner becomes the tail once it holds the stream up to where it joined.
        while members < order.len() {
            let r = order[members];
            match f.peer_pos[r.idx()] {
                (t, u) if t == f.term && u >= f.join_mark[r.idx()] => {
                    members += 1;
                    f.read_mark[r.idx()] = own;
                }
                _ => break,
            }
        }
        // A region answering reads though no longer the tail answers only what every member
        // holds (`chain_read_settled`) once it has heard so; before that, as the tail it
        // thought it was, it answered whatever it held. Its echo of a heartbeat carrying this
        // chain bounds that: all of it came from this stream before the echo arrived.
        if f.handoff.is_none() && cur.term == f.term && cur.read_region() != cur.tail() {
            let heard = match cur.read_region() {
                Some(r) if r == me => true,
                Some(r) => f.echo[r.idx()] > f.view_at,
                None => false,
            };
            if heard {
                f.handoff = Some(own);
            }
        }
        // Reads go to the last member holding every acknowledged write: one that already
        // did (the head, members of a new term, the prefix that answered reads before), or a
        // new tail that holds the stream up to where the head was when it became the tail and
        // everything the region answering reads meanwhile may have answered.
        let valid = |r: RegionId| {
            r == me
                || (cur.term != f.term && cur.order[..cur.members].contains(&r))
                || cur.order[..cur.members.min(cur.reads + 1)].contains(&r)
                || matches!(f.peer_pos[r.idx()], (t, u) if t == f.term
                    && u >= f.read_mark[r.idx()]
                    && f.handoff.is_some_and(|m| u >= m))
        };
        let reads = order[..members]
            .iter()
            .take_while(|&&r| valid(r))
            .count()
            .saturating_sub(1);
        let view = ChainView {
            term: f.term,
            order,
            members,
            reads,
        };
        if view == *cur {
            return false;
        }
        out.note(Note::ChainChanged {
            members: members as u8,
            joining: (view.order.len() - members) as u8,
            tail: view.tail().unwrap_or(me),
            reads: view.read_region().unwrap_or(me),
        });
        f.view_at = now.mono;
        f.handoff = None;
        self.chain_install(Arc::new(view), now, out);
        true
    }

    /// Installs a chain (this head's own, or the head's as heard in its heartbeat). A new
    /// successor gets what this region holds above the commit point; a head whose tail moved
    /// commits the writes the new tail already holds.
    pub(super) fn chain_install(&mut self, view: Arc<ChainView>, now: Now, out: &mut Out) {
        let old_succ = self.chain_succ();
        let old_need = self.chain_need();
        self.fo.as_mut().expect("failover configured").view = Some(view);
        let recent = &self.fo.as_ref().expect("failover configured").recent;
        match self.chain_succ() {
            Some(s) if Some(s) != old_succ && !recent.is_empty() => {
                let resend: Vec<Entry> = recent.iter().cloned().collect();
                for e in resend {
                    self.enqueue(s.idx(), e, now, out);
                }
                self.transmit(s.idx(), now, out, true);
            }
            _ => {}
        }
        let need = self.chain_need();
        if self.fo.as_ref().is_some_and(|f| f.leading) && need != old_need {
            let me = self.me();
            self.requests.renew_need(need, me, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{notes, sends, test_heartbeat, Config, Disk, FoMsg, LinkMsg, Msg, Timer};
    use super::*;
    use crate::replica::plan::Strategy;
    use crate::replica::{Action, ClientOp, Key, Level, OpId, Outbox, Replica, Reply, WireMessage};

    fn cfg(id: u16) -> Config {
        let r = RegionId;
        super::super::failover_test_config(
            id,
            Strategy::Chain {
                order: vec![r(0), r(1), r(2)],
            },
        )
    }

    fn at(ms: u64) -> Now {
        super::super::test_now(ms)
    }

    /// The head's exact steps when its middle region goes silent: a write goes to the middle
    /// only and waits for the tail; one timeout later the head suspects the middle, drops it
    /// from the chain, resends the waiting write straight to the tail and announces the new
    /// chain; the tail's durable notice then acknowledges the client.
    #[test]
    fn the_head_drops_a_silent_middle_and_resends_to_the_tail() {
        let mut r0 = Replicator::recover(&cfg(0), &Disk::default());
        let mut out = Outbox::default();
        r0.on_start(at(0), &mut out);
        let mut out = Outbox::default();
        let write = ClientOp::Write {
            kind: crate::replica::data::WriteKind::Put,
            op: OpId(7),
            key: Key(3),
            value_bytes: 100,
            level: Level::Default,
        };
        r0.on_client_op(at(10), write, &mut out);
        let to: Vec<(u16, &str)> = sends(&out).iter().map(|(t, m)| (t.0, m.kind())).collect();
        assert_eq!(to, vec![(1, "replicate")], "down the chain only");
        assert!(!out.actions.iter().any(|a| matches!(a, Action::Reply(_))));

        // r2 keeps answering heartbeats (echoing r0's), r1 never does.
        for t in (100..=1000).step_by(100) {
            let hb = test_heartbeat(t, Some(t - 100));
            let mut o = Outbox::default();
            r0.on_message(
                at(t),
                RegionId(2),
                Msg::Failover(FoMsg::Heartbeat(hb)),
                &mut o,
            );
        }
        let mut out = Outbox::default();
        r0.on_timer(at(1010), r0.timer(Timer::Detect), &mut out);
        assert_eq!(
            notes(&out),
            vec![
                Note::Suspect { peer: RegionId(1) },
                Note::ChainChanged {
                    members: 2,
                    joining: 0,
                    tail: RegionId(2),
                    reads: RegionId(2),
                },
            ]
        );
        let sent = sends(&out);
        let resent: Vec<u64> = sent
            .iter()
            .filter_map(|(t, m)| match m {
                Msg::Link(LinkMsg::Replicate { entries, .. }) if t.0 == 2 => {
                    Some(entries.iter().map(|e| e.id.seq).collect::<Vec<_>>())
                }
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(
            resent,
            vec![1],
            "the waiting write goes straight to the new tail"
        );
        let chains: Vec<&ChainView> = sent
            .iter()
            .filter_map(|(_, m)| match m {
                Msg::Failover(FoMsg::Heartbeat(h)) => h.chain.as_deref(),
                _ => None,
            })
            .collect();
        assert_eq!(chains.len(), 2, "announced to both at once");
        assert_eq!(chains[0].order, vec![RegionId(0), RegionId(2)]);

        let mut out = Outbox::default();
        let seqs = smallvec::smallvec![1];
        r0.on_message(
            at(1050),
            RegionId(2),
            Msg::Link(LinkMsg::Durable { epoch: 1, seqs }),
            &mut out,
        );
        assert!(out
            .actions
            .iter()
            .any(|a| matches!(a, Action::Reply(Reply::WriteOk { op: OpId(7), .. }))));
    }

    /// A head whose chain has reads at r1 while r2 is the tail (r2 joined and caught up).
    fn head_reading_before(reads: usize) -> Replicator {
        let mut r0 = Replicator::recover(&cfg(0), &Disk::default());
        let mut out = Outbox::default();
        r0.on_start(at(0), &mut out);
        let f = r0.fo.as_mut().expect("failover");
        f.view = Some(Arc::new(ChainView {
            term: 1,
            order: vec![RegionId(0), RegionId(1), RegionId(2)],
            members: 3,
            reads,
        }));
        f.view_at = at(500).mono;
        f.peer_pos = vec![(1, 0); 3];
        r0
    }

    /// Issue 21 (swarm seeds 1512, 1696): reads moved from the old tail to the new one as soon
    /// as it held the stream up to where it joined, while the old tail, not yet aware, still
    /// answered newer writes the new tail lacked; the next read there went back in time. Now
    /// reads move only once the old reader has echoed a heartbeat carrying the chain, and the
    /// new tail holds the head's stream as it was then.
    #[test]
    fn reads_move_to_a_new_tail_only_after_the_old_reader_heard_of_it() {
        let mut r0 = head_reading_before(1);
        let mut out = Outbox::default();
        let hb = |sent, echo| Msg::Failover(FoMsg::Heartbeat(test_heartbeat(sent, Some(echo))));
        r0.on_message(at(520), RegionId(1), hb(520, 400), &mut out);
        r0.on_message(at(520), RegionId(2), hb(520, 400), &mut out);
        assert!(!r0.chain_reconfigure(at(600), &mut out), "r1 has not heard");
        assert_eq!(r0.chain_reads(), Some(RegionId(1)));
        r0.on_message(at(700), RegionId(1), hb(700, 600), &mut out);
        assert!(r0.chain_reconfigure(at(710), &mut out));
        assert_eq!(r0.chain_reads(), Some(RegionId(2)));
    }

    /// The region answering reads while a newer tail catches up (here the head) refuses a key
    /// with a write above the commit point (the new tail may lack it) and answers the others.
    #[test]
    fn a_reader_behind_a_new_tail_refuses_keys_with_uncommitted_writes() {
        let mut r0 = head_reading_before(0);
        let mut out = Outbox::default();
        for t in [100, 200, 300] {
            let hb = Msg::Failover(FoMsg::Heartbeat(test_heartbeat(t, Some(t))));
            r0.on_message(at(t), RegionId(2), hb, &mut out);
        }
        let write = ClientOp::Write {
            kind: crate::replica::data::WriteKind::Put,
            op: OpId(7),
            key: Key(3),
            value_bytes: 100,
            level: Level::Default,
        };
        r0.on_client_op(at(310), write, &mut out);
        let read = |op, key| ClientOp::Read {
            op: OpId(op),
            key: Key(key),
            level: Level::Primary,
        };
        let mut out = Outbox::default();
        r0.on_client_op(at(320), read(8, 3), &mut out);
        r0.on_client_op(at(320), read(9, 4), &mut out);
        let replies: Vec<(u64, bool)> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Reply(Reply::Failed { op }) => Some((op.0, false)),
                Action::Reply(Reply::ReadOk { op, .. }) => Some((op.0, true)),
                _ => None,
            })
            .collect();
        assert_eq!(replies, vec![(8, false), (9, true)]);
    }

    #[test]
    fn successor_and_tail_follow_the_order_and_members() {
        let r = RegionId;
        let v = ChainView {
            term: 1,
            order: vec![r(2), r(0), r(1)],
            members: 2,
            reads: 0,
        };
        assert_eq!(v.read_region(), Some(r(2)));
        assert_eq!(v.successor(r(2)), Some(r(0)));
        assert_eq!(v.successor(r(0)), Some(r(1)), "the tail feeds the joiner");
        assert_eq!(v.successor(r(1)), None);
        assert_eq!(v.successor(r(3)), None);
        assert_eq!(v.tail(), Some(r(0)));
        assert_eq!(ChainView::default().tail(), None);
    }
}
