//! The client requests a replica has in flight, as one component: writes it originated that
//! wait for their holders (`commits`), writes it forwarded to the originating region
//! (`forwards`), forwarded writes it already originated (`forwarded_seen`, so a duplicated
//! message does not write twice), reads waiting for replies (`reads`), and the deadlines of all
//! of these behind one timer.
//!
//! [`Requests`] owns that state and touches nothing else: what it needs from the replica (its
//! id and incarnation, where a deadline falls and which timer to set) is handed in, and what it
//! cannot do itself it returns (a read that has all its replies goes back to the
//! [`Replicator`](super::Replicator), which answers it and repairs stale copies from the
//! store). Replies to clients are the component's own output: it pushes them into `out`.

use super::{ClientMsg, Msg, Out};
use crate::replica::plan::Need;
use crate::replica::{Cell, Key, OpId, RegionId, Reply, Stamp, TimerId};
use crate::time::Mono;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A write waiting for holders before its client is acknowledged.
#[derive(Clone, Debug)]
pub(super) struct Commit {
    pub(super) op: OpId,
    pub(super) client: RegionId,
    pub(super) stamp: Stamp,
    pub(super) need: Need,
    pub(super) have: u64,
}

/// A read waiting for replies.
#[derive(Clone, Debug)]
pub(super) struct ReadWait {
    pub(super) key: Key,
    pub(super) need: u32,
    pub(super) got: u32,
    pub(super) best: Option<Cell>,
    /// The replica whose copy is `best` (reported to observers only).
    pub(super) by: RegionId,
    pub(super) replies: smallvec::SmallVec<[(RegionId, Stamp); 4]>,
}

/// Something that fails if not answered by its deadline.
#[derive(Copy, Clone, Debug)]
pub(super) enum Pending {
    Commit(u32, u64),
    Forward(OpId),
    Read(OpId),
}

/// Where a new request's deadline falls, and the host timer that fires for it.
#[derive(Copy, Clone, Debug)]
pub(super) struct Deadline {
    pub(super) at: Mono,
    pub(super) timer: TimerId,
}

/// Who the replica is right now: its region (replies to its own clients are local, others go
/// back over the network) and its incarnation (commits of an earlier one are gone).
#[derive(Copy, Clone, Debug)]
pub(super) struct Ctx {
    pub(super) me: RegionId,
    pub(super) epoch: u32,
}

/// Whether a write holding copies at `have` (a region bitmask) has what `need` asks for.
#[inline]
pub(super) fn satisfied(need: Need, have: u64) -> bool {
    match need {
        Need::Count(k) => have.count_ones() >= k,
        Need::Region(r) => have & (1u64 << r.0) != 0,
        Need::All(mask) => have & mask == mask,
    }
}

/// Acknowledges a committed write to its client: locally if the client is here, else to the
/// region that forwarded it.
#[inline]
pub(super) fn reply_write(me: RegionId, client: RegionId, op: OpId, stamp: Stamp, out: &mut Out) {
    if client == me {
        out.reply(Reply::WriteOk { op, stamp });
    } else {
        out.send(client, Msg::Client(ClientMsg::WriteDone { op, stamp }));
    }
}

/// The client requests in flight at one replica (see the module docs).
#[derive(Debug, Default)]
pub(super) struct Requests {
    /// Own writes awaiting their commit need, by sequence number in the current incarnation.
    commits: BTreeMap<u64, Commit>,
    /// Client writes forwarded to the originating region, awaiting `WriteDone`.
    forwards: BTreeSet<OpId>,
    /// Forwarded writes already originated (a duplicated message must not write twice).
    forwarded_seen: BTreeSet<OpId>,
    reads: BTreeMap<OpId, ReadWait>,
    /// Request deadlines in the order they were set (one timeout, so also in time order).
    deadlines: VecDeque<(Mono, Pending)>,
    deadline_armed: bool,
}

impl Requests {
    /// No client waits on this replica (forwarded-write dedup state is history, not work).
    #[inline]
    pub(super) fn is_idle(&self) -> bool {
        self.commits.is_empty() && self.forwards.is_empty() && self.reads.is_empty()
    }

    /// Queues `what`'s deadline; sets the request timer unless it is already set (deadlines
    /// come in time order, so the armed timer is never later than this one).
    #[inline]
    fn add_deadline(&mut self, what: Pending, d: Deadline, out: &mut Out) {
        self.deadlines.push_back((d.at, what));
        if !self.deadline_armed {
            self.deadline_armed = true;
            out.set_timer(d.timer, d.at);
        }
    }

    /// An own write (sequence `seq` of incarnation `epoch`) waits for its holders.
    #[inline]
    pub(super) fn await_commit(
        &mut self,
        epoch: u32,
        seq: u64,
        c: Commit,
        d: Deadline,
        out: &mut Out,
    ) {
        self.commits.insert(seq, c);
        self.add_deadline(Pending::Commit(epoch, seq), d, out);
    }

    /// `from` holds the writes `seqs` of incarnation `epoch` durably: acknowledges those that
    /// now have what they wait for, in the order given.
    #[inline]
    pub(super) fn durable(
        &mut self,
        from: RegionId,
        epoch: u32,
        seqs: &[u64],
        ctx: Ctx,
        out: &mut Out,
    ) {
        if epoch != ctx.epoch {
            return;
        }
        for &seq in seqs {
            if let Some(c) = self.commits.get_mut(&seq) {
                c.have |= 1u64 << from.0;
                if satisfied(c.need, c.have) {
                    let c = self.commits.remove(&seq).expect("present");
                    reply_write(ctx.me, c.client, c.op, c.stamp, out);
                }
            }
        }
    }

    /// Every waiting write now waits for `need` (a reconfigured chain): acknowledges, in
    /// sequence order, those it already has.
    pub(super) fn renew_need(&mut self, need: Need, me: RegionId, out: &mut Out) {
        let done: Vec<u64> = self
            .commits
            .iter_mut()
            .filter_map(|(&seq, c)| {
                c.need = need;
                satisfied(need, c.have).then_some(seq)
            })
            .collect();
        for seq in done {
            let c = self.commits.remove(&seq).expect("present");
            reply_write(me, c.client, c.op, c.stamp, out);
        }
    }

    /// A client write was forwarded to its originating region: wait for `WriteDone`.
    #[inline]
    pub(super) fn await_forward(&mut self, op: OpId, d: Deadline, out: &mut Out) {
        self.forwards.insert(op);
        self.add_deadline(Pending::Forward(op), d, out);
    }

    /// The forwarded write `op` committed: true if its client still waits (answer it).
    #[inline]
    pub(super) fn forward_done(&mut self, op: OpId) -> bool {
        self.forwards.remove(&op)
    }

    /// A forwarded write `op` arrived to be originated here: true the first time, false for a
    /// duplicate. Forgets ids far below `op`: ids are issued in time order, so anything that
    /// old is long settled.
    #[inline]
    pub(super) fn first_forward(&mut self, op: OpId) -> bool {
        if !self.forwarded_seen.insert(op) {
            return false;
        }
        while self
            .forwarded_seen
            .first()
            .is_some_and(|f| f.0 + 1_000_000 < op.0)
        {
            self.forwarded_seen.pop_first();
        }
        true
    }

    /// A read was sent to the regions that answer it: wait for their replies.
    #[inline]
    pub(super) fn await_read(&mut self, op: OpId, w: ReadWait, d: Deadline, out: &mut Out) {
        self.reads.insert(op, w);
        self.add_deadline(Pending::Read(op), d, out);
    }

    /// `from` answered the read `op` with `cell`: returns the read once it has all the replies
    /// it waits for (the caller answers it), else None (also for a read answered already, or
    /// timed out).
    #[inline]
    pub(super) fn read_reply(
        &mut self,
        from: RegionId,
        op: OpId,
        cell: Option<Cell>,
    ) -> Option<ReadWait> {
        let w = self.reads.get_mut(&op)?;
        w.got += 1;
        if w.replies.is_empty() {
            w.by = from;
        }
        w.replies
            .push((from, cell.map_or(Stamp::NONE, |c| c.stamp)));
        if cell.map(|c| c.stamp) > w.best.map(|c| c.stamp) {
            w.best = cell;
            w.by = from;
        }
        if w.got >= w.need {
            return self.reads.remove(&op);
        }
        None
    }

    /// The region asked to originate or answer `op` refused (it is not, or no longer, the
    /// primary): fails the forwarded write or read `op` if its client still waits.
    pub(super) fn refused(&mut self, op: OpId, out: &mut Out) {
        if self.forwards.remove(&op) || self.reads.remove(&op).is_some() {
            out.reply(Reply::Failed { op });
        }
    }

    /// The request timer fired at `now`: fails, in deadline order, every request still waiting
    /// whose deadline has passed, then sets `timer` for the next deadline, if any.
    pub(super) fn expire(&mut self, now: Mono, ctx: Ctx, timer: TimerId, out: &mut Out) {
        self.deadline_armed = false;
        while let Some(&(at, what)) = self.deadlines.front() {
            if at > now {
                break;
            }
            self.deadlines.pop_front();
            match what {
                Pending::Commit(epoch, seq) => {
                    if epoch == ctx.epoch {
                        if let Some(c) = self.commits.remove(&seq) {
                            // A forwarding client region times out on its own deadline.
                            if c.client == ctx.me {
                                out.reply(Reply::Failed { op: c.op });
                            }
                        }
                    }
                }
                Pending::Forward(op) => {
                    if self.forwards.remove(&op) {
                        out.reply(Reply::Failed { op });
                    }
                }
                Pending::Read(op) => {
                    if self.reads.remove(&op).is_some() {
                        out.reply(Reply::Failed { op });
                    }
                }
            }
        }
        if let Some(&(at, _)) = self.deadlines.front() {
            self.deadline_armed = true;
            out.set_timer(timer, at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::{Action, Outbox};
    use crate::time::Wall;

    const TIMER: TimerId = TimerId(4);
    const ME: RegionId = RegionId(0);
    const CTX: Ctx = Ctx { me: ME, epoch: 2 };

    /// What the component asked for, comparably.
    #[derive(Debug, PartialEq)]
    enum A {
        Reply(Reply),
        Timer(TimerId, Mono),
        Done(RegionId, OpId, Stamp),
    }

    fn acts(out: &Out) -> Vec<A> {
        out.actions
            .iter()
            .map(|a| match a {
                Action::Reply(r) => A::Reply(*r),
                Action::SetTimer { id, at } => A::Timer(*id, *at),
                Action::Send {
                    to,
                    msg: Msg::Client(ClientMsg::WriteDone { op, stamp }),
                } => A::Done(*to, *op, *stamp),
                a => panic!("unexpected {a:?}"),
            })
            .collect()
    }

    fn ms(t: u64) -> Mono {
        Mono(t * 1_000_000)
    }

    fn due(t: u64) -> Deadline {
        Deadline {
            at: ms(t),
            timer: TIMER,
        }
    }

    fn stamp(op: u64) -> Stamp {
        Stamp::new(Wall(op as i64), ME, 2, op as u32)
    }

    fn commit(op: u64, client: RegionId, need: Need) -> Commit {
        Commit {
            op: OpId(op),
            client,
            stamp: stamp(op),
            need,
            have: 1, // the origin's own copy
        }
    }

    fn read(need: u32) -> ReadWait {
        ReadWait {
            key: Key(9),
            need,
            got: 0,
            best: None,
            by: ME,
            replies: smallvec::SmallVec::new(),
        }
    }

    fn cell(op: u64) -> Cell {
        Cell {
            stamp: stamp(op),
            value: OpId(op),
        }
    }

    /// A write needing 3 holders is acknowledged at the second peer's durable notice (its own
    /// copy is the first), locally for a client here and by `WriteDone` for a forwarding
    /// region; a repeated notice, or one from an earlier incarnation, does nothing.
    #[test]
    fn a_commit_is_acknowledged_when_its_need_is_reached() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        q.await_commit(2, 1, commit(7, ME, Need::Count(3)), due(100), &mut out);
        q.await_commit(
            2,
            2,
            commit(8, RegionId(3), Need::Count(3)),
            due(100),
            &mut out,
        );
        assert_eq!(acts(&out), vec![A::Timer(TIMER, ms(100))], "one timer");
        let mut out = Outbox::default();
        q.durable(RegionId(1), 1, &[1, 2], CTX, &mut out);
        q.durable(RegionId(1), 2, &[1, 2], CTX, &mut out);
        q.durable(RegionId(1), 2, &[1, 2], CTX, &mut out);
        assert_eq!(
            acts(&out),
            vec![],
            "old incarnation; then one holder, twice"
        );
        assert!(!q.is_idle());
        q.durable(RegionId(2), 2, &[2, 1], CTX, &mut out);
        assert_eq!(
            acts(&out),
            vec![
                A::Done(RegionId(3), OpId(8), stamp(8)),
                A::Reply(Reply::WriteOk {
                    op: OpId(7),
                    stamp: stamp(7)
                }),
            ],
            "in the order the notice lists them"
        );
        assert!(q.is_idle());
    }

    /// A reconfigured chain: every waiting write takes the new need, and those that already
    /// have it are acknowledged in sequence order.
    #[test]
    fn a_new_need_acknowledges_what_already_has_it() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        let tail = Need::Region(RegionId(2));
        q.await_commit(2, 5, commit(50, ME, tail), due(10), &mut out);
        q.await_commit(2, 6, commit(60, ME, tail), due(10), &mut out);
        q.durable(RegionId(1), 2, &[6], CTX, &mut out);
        let mut out = Outbox::default();
        q.renew_need(Need::Region(RegionId(1)), ME, &mut out);
        let ok = |op| {
            A::Reply(Reply::WriteOk {
                op: OpId(op),
                stamp: stamp(op),
            })
        };
        assert_eq!(acts(&out), vec![ok(60)]);
        q.durable(RegionId(1), 2, &[5], CTX, &mut out);
        assert_eq!(acts(&out), vec![ok(60), ok(50)], "waits for r1 now");
    }

    /// A forwarded write is answered once; a duplicated forward is originated once.
    #[test]
    fn forwards_are_answered_once_and_duplicates_ignored() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        q.await_forward(OpId(3), due(5), &mut out);
        assert!(q.forward_done(OpId(3)));
        assert!(!q.forward_done(OpId(3)));
        assert!(q.is_idle());

        assert!(q.first_forward(OpId(10)));
        assert!(!q.first_forward(OpId(10)), "a duplicated request");
        assert!(q.first_forward(OpId(1_000_010)));
        assert!(!q.first_forward(OpId(10)), "still within the window");
        assert!(q.first_forward(OpId(1_000_011)));
        assert!(q.first_forward(OpId(10)), "forgotten: far below the newest");
    }

    /// A quorum read finishes at its second reply, with the newest copy and who held it; later
    /// replies find nothing waiting.
    #[test]
    fn a_read_finishes_at_its_needed_reply() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        q.await_read(OpId(4), read(2), due(5), &mut out);
        assert!(q.read_reply(RegionId(1), OpId(4), Some(cell(1))).is_none());
        let w = q.read_reply(RegionId(2), OpId(4), Some(cell(2)));
        let w = w.expect("finished");
        assert_eq!((w.got, w.best, w.by), (2, Some(cell(2)), RegionId(2)));
        assert_eq!(
            w.replies.as_slice(),
            &[(RegionId(1), stamp(1)), (RegionId(2), stamp(2))]
        );
        assert!(q.read_reply(RegionId(3), OpId(4), None).is_none());
        assert!(q.is_idle());
    }

    /// A refusal fails a forwarded write or a read once; an unknown op is ignored.
    #[test]
    fn a_refusal_fails_the_request_once() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        q.await_forward(OpId(1), due(5), &mut out);
        q.await_read(OpId(2), read(1), due(5), &mut out);
        let mut out = Outbox::default();
        for op in [1, 2, 1, 2, 3] {
            q.refused(OpId(op), &mut out);
        }
        let failed = |op| A::Reply(Reply::Failed { op: OpId(op) });
        assert_eq!(acts(&out), vec![failed(1), failed(2)]);
    }

    /// Deadlines expire in the order they were set, only those due, skipping requests already
    /// answered and commits of another incarnation (and a forwarding region's commits, whose
    /// client times out there); the one timer is then set for the next deadline, and only when
    /// it is not already set.
    #[test]
    fn deadlines_expire_in_order_and_rearm_the_one_timer() {
        let mut q = Requests::default();
        let mut out = Outbox::default();
        q.await_forward(OpId(1), due(10), &mut out);
        q.await_read(OpId(2), read(2), due(20), &mut out);
        q.await_commit(1, 3, commit(3, ME, Need::Count(2)), due(20), &mut out);
        q.await_commit(
            2,
            4,
            commit(4, RegionId(5), Need::Count(2)),
            due(25),
            &mut out,
        );
        q.await_commit(2, 5, commit(5, ME, Need::Count(2)), due(30), &mut out);
        q.await_forward(OpId(6), due(40), &mut out);
        assert_eq!(acts(&out), vec![A::Timer(TIMER, ms(10))]);
        assert!(q.forward_done(OpId(6)));

        let failed = |op| A::Reply(Reply::Failed { op: OpId(op) });
        let mut out = Outbox::default();
        q.expire(ms(9), CTX, TIMER, &mut out);
        assert_eq!(acts(&out), vec![A::Timer(TIMER, ms(10))], "early: re-armed");
        let mut out = Outbox::default();
        q.expire(ms(25), CTX, TIMER, &mut out);
        assert_eq!(
            acts(&out),
            vec![failed(1), failed(2), A::Timer(TIMER, ms(30))],
            "commit 3 is an earlier incarnation's, commit 4's client is elsewhere"
        );
        let mut out = Outbox::default();
        q.await_read(OpId(7), read(2), due(50), &mut out);
        assert_eq!(acts(&out), vec![], "the timer is set already");
        q.expire(ms(60), CTX, TIMER, &mut out);
        assert_eq!(acts(&out), vec![failed(5), failed(7)], "6 was answered");
        let mut out = Outbox::default();
        q.await_read(OpId(8), read(2), due(70), &mut out);
        assert_eq!(
            acts(&out),
            vec![A::Timer(TIMER, ms(70))],
            "disarmed: set again"
        );
    }
}
