//! Rebuilding a region whose disk is gone: it starts from a backup image (or empty) under a
//! new incarnation, then asks every peer for the values it lacks (a state transfer: the change
//! log since the backup, as values) until each has answered.
//!
//! A peer sends only the cells whose newest write the rebuilt region has not seen (judged from
//! the seen-prefix summary it sends), so a restore from a recent backup ships little. Asking
//! every peer, not one, matters for multi-master: each origin is the one region sure to hold
//! all of its own writes.
//!
//! A region that relays (ring, line, tree, a chain, a mesh origin's own fan-out) had
//! acknowledged entries upstream that it may not have passed on when its disk went: upstream
//! has settled them and will never resend. So once its own transfer is done, the rebuilt region
//! offers its state to every region it relays for, and each asks it, with its own seen-prefix
//! summary, for what it lacks (a catch-up: the same request and answer, reporting nothing).
//!
//! Until its own transfer is done, a rebuilt region that answers the reads promising the latest
//! value (a primary, a chain's tail) refuses them (`rebuilding`): its copy may be empty or old.

use super::anti_entropy::AeStore;
use super::msg::{data_bytes, data_fingerprint, RPC_BYTES};
use super::read_guard::Refusal;
use super::{Msg, Op, Out, Replicator, Timer};
use crate::replica::data::Data;
use crate::replica::plan::Plan;
use crate::replica::{Cell, Key, Note, Now, RegionId, Stamp, TimerId};
use crate::replica::{MsgClass, WireMessage, Work};
use crate::time::Mono;
use std::sync::Arc;

/// Restore: the state transfer of a region rebuilt after losing its disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RestoreMsg {
    /// A rebuilt region (its disk was lost) asks for the values it lacks; `have` is what it
    /// has seen: per origin and incarnation, the contiguous prefix.
    StateReq { have: Vec<(RegionId, u32, u64)> },
    /// The answer: the cells whose newest write the asker has not seen, and what this region
    /// has seen (so the asker does not apply those entries again).
    State {
        cells: Vec<(Key, Cell)>,
        data: Vec<(Key, Arc<Data>)>,
        seen: Vec<(RegionId, u32, u64)>,
        value_bytes: u32,
    },
    /// From a rebuilt region that relays entries to the receiver, once its state transfer is
    /// done: entries it had taken from upstream before its disk was lost may never have
    /// reached you; ask me (`StateReq`) for what you lack.
    StateOffer,
}

impl WireMessage for RestoreMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            RestoreMsg::StateOffer => RPC_BYTES,
            RestoreMsg::StateReq { have } => RPC_BYTES + 16 * have.len() as u64,
            RestoreMsg::State {
                cells,
                data,
                seen,
                value_bytes,
            } => {
                RPC_BYTES
                    + cells.len() as u64 * (32 + *value_bytes as u64)
                    + 16 * seen.len() as u64
                    + data_bytes(data, *value_bytes)
            }
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            RestoreMsg::StateOffer | RestoreMsg::StateReq { .. } | RestoreMsg::State { .. } => {
                MsgClass::AntiEntropy
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            RestoreMsg::StateOffer => "state-offer",
            RestoreMsg::StateReq { .. } => "state-request",
            RestoreMsg::State { .. } => "state",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            RestoreMsg::StateOffer => 27 << 58,
            RestoreMsg::StateReq { have } => {
                24 << 58
                    ^ have.iter().fold(0u64, |a, (o, e, u)| {
                        a.rotate_left(7) ^ (o.0 as u64) << 48 ^ (*e as u64) << 32 ^ u
                    })
            }
            RestoreMsg::State {
                cells, seen, data, ..
            } => {
                25 << 58
                    ^ cells
                        .iter()
                        .fold(0u64, |a, (k, c)| a.rotate_left(5) ^ k.0 ^ c.value.0)
                    ^ (seen.len() as u64) << 40
                    ^ data_fingerprint(data)
            }
        }
    }

    fn work(&self) -> Work {
        Work::NONE
    }

    fn is_retransmission(&self) -> bool {
        false
    }

    fn carries_key(&self, _key: Key) -> bool {
        false
    }
}

/// What a state transfer asks of the local data, beyond what anti-entropy does.
pub(super) trait RestoreStore: AeStore {
    /// What this region has seen: per origin and incarnation, the contiguous prefix.
    fn seen_summary(&self) -> Vec<(RegionId, u32, u64)>;
    /// Marks origin `o`'s entries of incarnation `e` up to `upto` as seen (durably).
    fn advance_seen(&mut self, o: RegionId, e: u32, upto: u64, out: &mut Out);
}

/// What the component needs to know of the replica running it.
#[derive(Clone, Copy)]
pub(super) struct RestoreCtx<'a> {
    pub(super) plan: &'a Plan,
    pub(super) me: RegionId,
    /// The id of the replica's restore timer.
    pub(super) timer: TimerId,
    /// Whether the replica persists (a replica without a disk records nothing).
    pub(super) durable: bool,
}

impl RestoreCtx<'_> {
    fn peers(&self) -> impl Iterator<Item = usize> + 'static {
        let me = self.me.idx();
        (0..self.plan.n).filter(move |&p| p != me)
    }
}

/// A transfer in progress.
pub(super) struct Transfer {
    /// Peers that have not answered yet.
    pub waiting: u64,
    pub sent: Mono,
    pub keys: u64,
    pub bytes: u64,
    /// Peers heard from (any message) since the rebuild began.
    pub heard: u64,
    /// `Restored` has been reported (the peers still owing were all silent: down or cut off;
    /// they are still asked, but the region holds what the reachable ones have).
    pub noted: bool,
    /// This region's own rebuild (not a catch-up from a rebuilt relay): when it completes, the
    /// regions it relays for are offered its state.
    pub rebuild: bool,
}

/// Restore: a rebuilt region's state transfer, and the catch-ups it offers the regions it
/// relays for.
#[derive(Default)]
pub(super) struct Restoring {
    pub(super) transfer: Option<Transfer>,
    /// Peers this region relays for that have not yet asked it for what they lack since it was
    /// rebuilt (see [`Restoring::on_state`]'s `relay_mask`).
    pub(super) relay_owed: u64,
}

/// How long to wait for a peer's answer before asking again (it may be down or cut off).
const RETRY_NS: u64 = 1_000_000_000;

fn bit(r: RegionId) -> u64 {
    1u64 << r.0
}

impl Restoring {
    /// What a recovering region's disk says it still owed when it went down (see
    /// [`Restoring::persist`]).
    pub(super) fn resumed(disk: &super::Disk) -> Restoring {
        Restoring {
            transfer: disk.restore.map(|(waiting, rebuild)| Transfer {
                waiting,
                sent: Mono(0),
                keys: 0,
                bytes: 0,
                heard: 0,
                // Its rebuild was reported when it began; the report's end is this one's.
                noted: !rebuild,
                rebuild,
            }),
            relay_owed: disk.relay_owed,
        }
    }

    /// A region of `n` rebuilt from a backup image (or from nothing): it asks every peer. A
    /// backup taken while an earlier rebuild was still offering its state: this rebuild's
    /// offers, once its own transfer is done, reach the same regions.
    pub(super) fn rebuilt(me: RegionId, n: usize) -> Restoring {
        let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        Restoring {
            transfer: Some(Transfer {
                waiting: all & !(1u64 << me.0),
                sent: Mono(0),
                keys: 0,
                bytes: 0,
                heard: 0,
                noted: false,
                rebuild: true,
            }),
            relay_owed: 0,
        }
    }

    /// Records the restore still owed (peers to hear from, and whether it is a rebuild), so a
    /// crash before it completes resumes it rather than leaving the region short.
    pub(super) fn persist(&self, cx: RestoreCtx, out: &mut Out) {
        if cx.durable {
            let owed = self.transfer.as_ref().map(|r| (r.waiting, r.rebuild));
            out.persist(Op::Restore(owed, self.relay_owed));
        }
    }

    /// Whether this region is rebuilding: until every peer has answered its state transfer,
    /// its copy may lack writes acknowledged before its disk went (an empty key, or an older
    /// value) that some peer holds, so it must not answer reads that promise the latest value.
    /// Every peer, not some: with async replication, or a sync write on a backup since cut off,
    /// the one peer still owing may be the only holder. A catch-up from a rebuilt relay
    /// (`rebuild` false) does not count: a region answering promised reads (the primary, the
    /// chain's tail) already held every write before it was acknowledged.
    pub(super) fn rebuilding(&self) -> bool {
        self.transfer.as_ref().is_some_and(|r| r.rebuild)
    }

    /// Nothing owed: no transfer in progress, no offer outstanding.
    pub(super) fn is_idle(&self) -> bool {
        self.transfer.is_none() && self.relay_owed == 0
    }

    /// The replica starts (or restarts): resume a transfer still owed, and the offers.
    pub(super) fn start<S: RestoreStore>(
        &mut self,
        store: &S,
        cx: RestoreCtx,
        now: Now,
        out: &mut Out,
    ) {
        if self.transfer.is_some() {
            self.persist(cx, out);
            self.ask(store, cx, now, out);
        }
        self.offer(cx, now, out);
    }

    /// Starts (or re-asks) the state transfer from every peer still owing an answer.
    fn ask<S: RestoreStore>(&mut self, store: &S, cx: RestoreCtx, now: Now, out: &mut Out) {
        let Some(r) = self.transfer.as_mut() else {
            return;
        };
        r.sent = now.mono;
        let waiting = r.waiting;
        let have = store.seen_summary();
        for p in cx.peers() {
            if waiting & (1 << p) != 0 {
                out.send(
                    RegionId(p as u16),
                    Msg::Restore(RestoreMsg::StateReq { have: have.clone() }),
                );
            }
        }
        out.set_timer(cx.timer, Mono(now.mono.0 + RETRY_NS));
    }

    pub(super) fn on_timer<S: RestoreStore>(
        &mut self,
        store: &S,
        cx: RestoreCtx,
        now: Now,
        out: &mut Out,
    ) {
        let Some(r) = self.transfer.as_mut() else {
            self.offer(cx, now, out);
            return;
        };
        if !r.noted && r.waiting & r.heard == 0 && r.waiting.count_ones() < cx.plan.n as u32 - 1 {
            r.noted = true;
            out.note(Note::Restored {
                keys: r.keys,
                bytes: r.bytes,
            });
        }
        self.ask(store, cx, now, out);
    }

    /// Any message from `from` shows it is reachable.
    #[inline]
    pub(super) fn heard(&mut self, from: RegionId) {
        if let Some(r) = self.transfer.as_mut() {
            r.heard |= 1 << from.0;
        }
    }

    /// Routes a state-transfer message; `relay_mask` is who this region relays for (offered
    /// its state when its own rebuild completes).
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn on_msg<S: RestoreStore>(
        &mut self,
        store: &mut S,
        cx: RestoreCtx,
        relay_mask: impl FnOnce() -> u64,
        from: RegionId,
        msg: RestoreMsg,
        now: Now,
        out: &mut Out,
    ) {
        match msg {
            RestoreMsg::StateOffer => self.on_state_offer(store, cx, from, now, out),
            RestoreMsg::StateReq { have } => self.on_state_req(store, cx, from, have, out),
            RestoreMsg::State {
                cells, data, seen, ..
            } => self.on_state(store, cx, relay_mask, from, (cells, data, seen), now, out),
        }
    }

    /// A peer asks for the values a rebuilt region lacks.
    fn on_state_req<S: RestoreStore>(
        &mut self,
        store: &S,
        cx: RestoreCtx,
        from: RegionId,
        have: Vec<(RegionId, u32, u64)>,
        out: &mut Out,
    ) {
        if self.relay_owed & bit(from) != 0 {
            self.relay_owed &= !bit(from);
            self.persist(cx, out);
        }
        let covered = |s: Stamp| {
            let epoch16 = (s.tie >> 32) & 0xffff;
            let counter = s.tie & 0xffff_ffff;
            have.iter().any(|&(o, e, upto)| {
                o == s.region() && e as u64 & 0xffff == epoch16 && counter <= upto
            })
        };
        // A merging key's newest stamp does not stand for the rest of its value: send it whole.
        let tables = &cx.plan.tables;
        let cells: Vec<(Key, Cell)> = store
            .cells()
            .iter()
            .enumerate()
            .filter(|(k, c)| {
                !c.stamp.is_none() && (!covered(c.stamp) || tables.policy(Key(*k as u64)).merges())
            })
            .map(|(k, c)| (Key(k as u64), *c))
            .collect();
        let data = store.data_for(&cells);
        out.send(
            from,
            Msg::Restore(RestoreMsg::State {
                cells,
                data,
                seen: store.seen_summary(),
                value_bytes: cx.plan.value_bytes,
            }),
        );
    }

    /// A peer's answer: merge its values (newest stamp wins) and what it has seen.
    #[allow(clippy::too_many_arguments, clippy::type_complexity)]
    fn on_state<S: RestoreStore>(
        &mut self,
        store: &mut S,
        cx: RestoreCtx,
        relay_mask: impl FnOnce() -> u64,
        from: RegionId,
        (cells, data, seen): (
            Vec<(Key, Cell)>,
            Vec<(Key, Arc<Data>)>,
            Vec<(RegionId, u32, u64)>,
        ),
        now: Now,
        out: &mut Out,
    ) {
        let Some(r) = self.transfer.as_mut() else {
            return; // a duplicate, or an answer to a request already satisfied
        };
        if r.waiting & (1 << from.0) == 0 {
            return;
        }
        r.waiting &= !(1 << from.0);
        r.keys += cells.len() as u64;
        r.bytes += cells.len() as u64 * (32 + cx.plan.value_bytes as u64)
            + data_bytes(&data, cx.plan.value_bytes);
        // A rebuilt region takes the peer's seen-prefixes, so entries it already holds as values
        // are not applied again. A region catching up from a rebuilt relay must not: it relays
        // too, and an entry marked seen here would be dropped, not passed on, when it arrives.
        // Nor with partial placement (quorum `n` below the region count): a peer has seen
        // writes to keys it does not hold (its own, at least), and the prefix taken here is
        // sent as `have` to the peers still owing, which then withhold exactly those keys.
        let seen = if r.rebuild && cx.plan.holders.is_none() {
            seen
        } else {
            Vec::new()
        };
        for (k, c) in cells {
            let d = data
                .binary_search_by_key(&k, |(dk, _)| *dk)
                .ok()
                .map(|i| &data[i].1);
            store.install(k, c, d, out);
        }
        for (o, e, upto) in seen {
            store.advance_seen(o, e, upto, out);
        }
        let r = self.transfer.as_ref().expect("checked above");
        let done = r.waiting == 0;
        let rebuild = done && r.rebuild;
        if done {
            if !r.noted {
                out.note(Note::Restored {
                    keys: r.keys,
                    bytes: r.bytes,
                });
            }
            self.transfer = None;
            out.cancel_timer(cx.timer);
            if rebuild {
                self.relay_owed = relay_mask();
            }
        }
        // One record, made durable with the values: a transfer that completed must never be
        // on disk as one still owed by nobody (a crash before the next sync left it so, and the
        // restarted region then waited for no answer forever, never quiescent).
        self.persist(cx, out);
        store.make_durable(now, out);
        if rebuild {
            self.offer(cx, now, out);
        }
    }

    /// Offers this rebuilt region's state to the regions it relays for that have not asked yet,
    /// again every `RETRY_NS` (an offer may be lost or the region down).
    fn offer(&mut self, cx: RestoreCtx, now: Now, out: &mut Out) {
        if self.relay_owed == 0 {
            return;
        }
        for p in cx.peers() {
            if self.relay_owed & (1 << p) != 0 {
                out.send(RegionId(p as u16), Msg::Restore(RestoreMsg::StateOffer));
            }
        }
        out.set_timer(cx.timer, Mono(now.mono.0 + RETRY_NS));
    }

    /// A rebuilt relay offers its state: ask it for what this region lacks.
    fn on_state_offer<S: RestoreStore>(
        &mut self,
        store: &S,
        cx: RestoreCtx,
        from: RegionId,
        now: Now,
        out: &mut Out,
    ) {
        match self.transfer.as_mut() {
            Some(r) => r.waiting |= bit(from),
            None => {
                self.transfer = Some(Transfer {
                    waiting: bit(from),
                    sent: now.mono,
                    keys: 0,
                    bytes: 0,
                    heard: 0,
                    noted: true, // a catch-up, not a rebuild: nothing to report
                    rebuild: false,
                });
            }
        }
        self.persist(cx, out);
        self.ask(store, cx, now, out);
    }
}

/// Wiring: the replica routes restore's messages and timer to the component, and serves as its
/// store.
impl Replicator {
    /// Runs `f` with the component taken out of the replica, so that the replica itself can
    /// serve as the component's [`RestoreStore`] (restores are rare; the empty default taken in
    /// its place allocates nothing).
    #[inline(never)]
    fn with_restore<T>(
        &mut self,
        f: impl FnOnce(&mut Restoring, &mut Replicator, RestoreCtx) -> T,
    ) -> T {
        let mut c = std::mem::take(&mut self.restore);
        let plan = Arc::clone(&self.cfg.plan);
        let cx = RestoreCtx {
            plan: &plan,
            me: self.me(),
            timer: self.timer(Timer::Restore),
            durable: self.cfg.durable,
        };
        let t = f(&mut c, self, cx);
        self.restore = c;
        t
    }

    /// The replica starts: resume what was owed.
    pub(super) fn restore_start(&mut self, now: Now, out: &mut Out) {
        if !self.restore.is_idle() {
            self.with_restore(|c, r, cx| c.start(r, cx, now, out));
        }
    }

    pub(super) fn on_restore_timer(&mut self, now: Now, out: &mut Out) {
        self.with_restore(|c, r, cx| c.on_timer(r, cx, now, out));
    }

    /// Routes a state-transfer message.
    pub(super) fn on_restore_msg(
        &mut self,
        now: Now,
        from: RegionId,
        msg: RestoreMsg,
        out: &mut Out,
    ) {
        let mask = matches!(msg, RestoreMsg::State { .. }).then(|| self.relay_mask());
        self.with_restore(|c, r, cx| c.on_msg(r, cx, || mask.unwrap_or(0), from, msg, now, out));
    }

    /// Whether this region is rebuilding (see [`Restoring::rebuilding`]).
    pub(super) fn rebuilding(&self) -> bool {
        self.restore.rebuilding()
    }

    /// Read guard (see `read_guard`): a primary read is refused while `rebuilding`.
    #[inline]
    pub(super) fn restore_read_guard(&self, primary: bool) -> Option<Refusal> {
        (primary && self.rebuilding()).then_some(Refusal::Rebuilding)
    }

    /// The regions that receive entries through this one: below it in any origin's route tree
    /// (its own included), or after it in the chain.
    fn relay_mask(&self) -> u64 {
        let me = self.me();
        if let Some(v) = self.chain_view() {
            let at = v
                .order
                .iter()
                .position(|&x| x == me)
                .map_or(v.order.len(), |i| i + 1);
            return v.order[at..].iter().fold(0, |m, &r| m | Replicator::bit(r));
        }
        let mask = self.cfg.plan.routes.iter().fold(0u64, |m, per_region| {
            per_region[me.idx()]
                .iter()
                .fold(m, |m, &(_, reach)| m | reach)
        });
        mask & !Replicator::bit(me)
    }
}

impl RestoreStore for Replicator {
    fn seen_summary(&self) -> Vec<(RegionId, u32, u64)> {
        let mut v = Vec::new();
        for (o, per) in self.store.seen().iter().enumerate() {
            for (e, set) in per {
                if set.upto() > 0 {
                    v.push((RegionId(o as u16), *e, set.upto()));
                }
            }
        }
        v
    }

    fn advance_seen(&mut self, o: RegionId, e: u32, upto: u64, out: &mut Out) {
        self.store.advance_seen(o, e, upto, &self.cfg, out);
    }
}

#[cfg(test)]
mod tests {
    use super::super::{
        sends, test_now, ClientMsg, Config, Disk, Msg, Out, Replicator, RestoreMsg,
    };
    use crate::replica::plan::{Plan, Strategy, Sync};
    use crate::replica::{
        Action, Cell, ClientOp, Key, Level, OpId, RegionId, Replica, Reply, Stamp,
    };
    use crate::time::Wall;

    /// Region 0 of three, the fixed primary of async primary-backup (no failover).
    fn primary_cfg() -> Config {
        let plan = Plan::mesh(
            3,
            Strategy::PrimaryBackup {
                primary: RegionId(0),
                forward: true,
                sync: Sync::Async,
            },
        );
        super::super::test_config(0, plan)
    }

    /// What the primary answers region 1's primary read of key 0, and its own client's.
    fn answers(r: &mut Replicator, ms: u64) -> (Msg, Reply) {
        let now = test_now(ms);
        let mut out = Out::default();
        let req = Msg::Client(ClientMsg::ReadReq {
            op: OpId(ms),
            key: Key(0),
            primary: true,
        });
        r.on_message(now, RegionId(1), req, &mut out);
        let sent: Vec<_> = sends(&out)
            .into_iter()
            .map(|(to, m)| (to, m.clone()))
            .collect();
        assert_eq!(sent.len(), 1, "{sent:?}");
        assert_eq!(sent[0].0, RegionId(1));
        let mut out = Out::default();
        let op = ClientOp::Read {
            op: OpId(ms + 1),
            key: Key(0),
            level: Level::Primary,
        };
        r.on_client_op(now, op, &mut out);
        let reply = out.actions.iter().find_map(|a| match a {
            Action::Reply(rep) => Some(*rep),
            _ => None,
        });
        (
            sent[0].1.clone(),
            reply.expect("a local primary read is answered at once"),
        )
    }

    /// Issue 22 (swarm seed 9200): quorum with `n: 2` of three regions; key 0 is held by
    /// regions 0 and 1 only. Region 1 is rebuilt from nothing; its request to region 0 is lost,
    /// region 2 (which holds no key 0 but has seen every one of its own writes, key 0's
    /// included) answers first. The rebuilt region took region 2's seen-prefix as its own and
    /// re-asked region 0 claiming to have seen region 2's writes, so region 0 withheld key 0
    /// (whose newest write came from region 2) and region 1 stayed without it for good. With
    /// partial placement a peer's seen-prefix covers writes to keys it does not hold, so the
    /// rebuilt region must not take it: the re-ask carries only what it had itself.
    #[test]
    fn a_rebuilt_quorum_replica_does_not_claim_a_non_holders_seen_writes() {
        let mut plan = Plan::mesh(
            3,
            Strategy::Quorum {
                w: 2,
                r: 2,
                hinted_handoff: true,
            },
        );
        plan.holders = Some(std::sync::Arc::new(vec![0b011]));
        plan.keys = 1;
        let mut r = Replicator::rebuild(&super::super::test_config(1, plan), &Disk::default(), 2);
        r.on_start(test_now(0), &mut Out::default());
        let answer = Msg::Restore(RestoreMsg::State {
            cells: Vec::new(),
            data: Vec::new(),
            seen: vec![(RegionId(2), 1, 5)],
            value_bytes: 100,
        });
        r.on_message(test_now(100), RegionId(2), answer, &mut Out::default());
        let mut out = Out::default();
        r.on_restore_timer(test_now(1000), &mut out); // the retry re-asks
        let asked: Vec<_> = sends(&out)
            .into_iter()
            .map(|(to, m)| (to, m.clone()))
            .collect();
        assert_eq!(
            asked,
            vec![(
                RegionId(0),
                Msg::Restore(RestoreMsg::StateReq { have: Vec::new() })
            )]
        );
    }

    fn state(cells: Vec<(Key, Cell)>) -> Msg {
        Msg::Restore(RestoreMsg::State {
            cells,
            data: Vec::new(),
            seen: Vec::new(),
            value_bytes: 100,
        })
    }

    /// Issue 21 (swarm seed 417): a fixed primary rebuilt from nothing answered primary reads
    /// from its empty copy while the state transfer was still under way, returning an empty
    /// key for a write acknowledged seconds earlier. It now refuses them until every peer has
    /// answered: one peer's state is not enough (the other may be the only holder).
    #[test]
    fn a_rebuilding_primary_refuses_primary_reads_until_every_peer_has_answered() {
        let mut r = Replicator::rebuild(&primary_cfg(), &Disk::default(), 2);
        r.on_start(test_now(0), &mut Out::default());
        let refused = |(m, rep): (Msg, Reply), at: u64| {
            assert!(
                matches!(m, Msg::Client(ClientMsg::NotPrimary { op }) if op == OpId(at)),
                "{m:?}"
            );
            assert_eq!(rep, Reply::Failed { op: OpId(at + 1) });
        };
        refused(answers(&mut r, 10), 10);
        // Region 1 holds nothing newer; region 2 holds key 0's acknowledged value.
        let cell = Cell {
            stamp: Stamp {
                wall: Wall(5_000_000),
                tie: 0,
            },
            value: OpId(7),
        };
        r.on_message(
            test_now(20),
            RegionId(1),
            state(vec![]),
            &mut Out::default(),
        );
        refused(answers(&mut r, 30), 30);
        let s = state(vec![(Key(0), cell)]);
        r.on_message(test_now(40), RegionId(2), s, &mut Out::default());
        let (m, rep) = answers(&mut r, 50);
        assert!(
            matches!(m, Msg::Client(ClientMsg::ReadResp { op, cell: Some(c), .. }) if op == OpId(50) && c == cell),
            "{m:?}"
        );
        let by = RegionId(0);
        assert_eq!(
            rep,
            Reply::ReadOk {
                op: OpId(51),
                cell: Some(cell),
                by
            }
        );
    }
}

/// The component alone, against a store that is a vector of cells and a seen map: what a
/// rebuild asks, reports and records, with no replica around it.
#[cfg(test)]
mod component_tests {
    use super::*;
    use crate::replica::plan::Strategy;
    use crate::replica::{Action, OpId, Wall};

    #[derive(Default)]
    struct FakeStore {
        cells: Vec<Cell>,
        seen: Vec<(RegionId, u32, u64)>,
        durable_calls: u32,
    }

    impl AeStore for FakeStore {
        fn digest(&self) -> u64 {
            0
        }
        fn cells(&self) -> &[Cell] {
            &self.cells
        }
        fn key_digest(&self, _key: Key, _c: &Cell) -> u64 {
            0
        }
        fn cell(&self, key: Key) -> Cell {
            self.cells[key.0 as usize]
        }
        fn data_for(&self, _cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
            Vec::new()
        }
        fn install(&mut self, key: Key, cell: Cell, _d: Option<&Arc<Data>>, _o: &mut Out) -> bool {
            let old = &mut self.cells[key.0 as usize];
            let newer = cell.stamp > old.stamp;
            if newer {
                *old = cell;
            }
            newer
        }
        fn make_durable(&mut self, _now: Now, _out: &mut Out) {
            self.durable_calls += 1;
        }
    }

    impl RestoreStore for FakeStore {
        fn seen_summary(&self) -> Vec<(RegionId, u32, u64)> {
            self.seen.clone()
        }
        fn advance_seen(&mut self, o: RegionId, e: u32, upto: u64, _out: &mut Out) {
            self.seen.push((o, e, upto));
        }
    }

    fn at(ms: u64) -> Now {
        Now {
            mono: Mono(ms * 1_000_000),
            wall: Wall(ms as i64 * 1_000_000),
        }
    }

    fn cell(v: u64) -> Cell {
        Cell {
            stamp: Stamp::new(Wall(v as i64), RegionId(1), 1, v as u32),
            value: OpId(v),
        }
    }

    fn kinds(out: &Out) -> Vec<String> {
        out.actions
            .iter()
            .map(|a| match a {
                Action::Send { to, msg } => format!("send {} {}", to.0, msg.kind()),
                Action::SetTimer { at, .. } => format!("timer {}", at.0 / 1_000_000),
                Action::CancelTimer { .. } => "cancel".into(),
                Action::Persist(Op::Restore(owed, relay)) => format!("persist {owed:?} {relay}"),
                Action::Note(Note::Restored { keys, .. }) => format!("restored {keys}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn a_rebuild_asks_every_peer_reports_when_only_silent_ones_owe_and_ends_on_the_last_answer() {
        let plan = Plan::mesh(3, Strategy::MultiMaster);
        let cx = RestoreCtx {
            plan: &plan,
            me: RegionId(0),
            timer: TimerId(9),
            durable: true,
        };
        let mut store = FakeStore {
            cells: vec![Cell::default_none(); 4],
            ..FakeStore::default()
        };
        let mut c = Restoring::rebuilt(RegionId(0), 3);
        assert!(c.rebuilding() && !c.is_idle());
        let mut out = Out::default();
        c.start(&store, cx, at(0), &mut out);
        assert_eq!(
            kinds(&out),
            [
                "persist Some((6, true)) 0",
                "send 1 state-request",
                "send 2 state-request",
                "timer 1000"
            ]
        );
        // Region 1 answers with two values; region 2 stays silent.
        c.heard(RegionId(1));
        let state = RestoreMsg::State {
            cells: vec![(Key(1), cell(5)), (Key(3), cell(7))],
            data: Vec::new(),
            seen: vec![(RegionId(1), 1, 7)],
            value_bytes: 100,
        };
        let mut out = Out::default();
        c.on_msg(&mut store, cx, || 0, RegionId(1), state, at(10), &mut out);
        assert_eq!(kinds(&out), ["persist Some((4, true)) 0"]);
        assert_eq!(
            (store.cells[1].value, store.cells[3].value),
            (OpId(5), OpId(7))
        );
        assert_eq!(
            store.seen,
            [(RegionId(1), 1, 7)],
            "a rebuild takes the seen prefixes"
        );
        assert_eq!(store.durable_calls, 1);
        // The retry: only silent peers owe, so the region reports what it holds, and asks again.
        let mut out = Out::default();
        c.on_timer(&store, cx, at(1000), &mut out);
        assert_eq!(
            kinds(&out),
            ["restored 2", "send 2 state-request", "timer 2000"]
        );
        assert!(c.rebuilding(), "still owed by region 2");
        // Region 2's answer ends it: no second report, the timer goes, and the regions this
        // one relays for (here: 2) are offered its state.
        let empty = RestoreMsg::State {
            cells: Vec::new(),
            data: Vec::new(),
            seen: Vec::new(),
            value_bytes: 100,
        };
        let mut out = Out::default();
        c.on_msg(
            &mut store,
            cx,
            || 0b100,
            RegionId(2),
            empty,
            at(1500),
            &mut out,
        );
        assert_eq!(
            kinds(&out),
            [
                "cancel",
                "persist None 4",
                "send 2 state-offer",
                "timer 2500"
            ]
        );
        assert!(!c.rebuilding() && !c.is_idle());
        // Region 2 asks: the offer is settled.
        let mut out = Out::default();
        let req = RestoreMsg::StateReq { have: Vec::new() };
        c.on_msg(&mut store, cx, || 0, RegionId(2), req, at(1600), &mut out);
        assert_eq!(kinds(&out), ["persist None 0", "send 2 state"]);
        assert!(c.is_idle());
    }
}
