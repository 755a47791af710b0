//! Requests between replicas on behalf of clients (forwarded writes, remote reads) and
//! single-key repair.

use super::msg::{writes, RPC_BYTES};
use super::read_guard::Asked;
use super::requests::{reply_write, satisfied, Commit, Ctx, Deadline, ReadWait};
use super::{Entry, EntryId, Op, Timer};
use super::{Msg, Out, Replicator};
use crate::replica::causal::Actor;
use crate::replica::data::{data_key_digest, Data, WriteKind};
use crate::replica::Note;
use crate::replica::{Cell, Key, Level, MsgClass, OpId, Stamp, WireMessage, Work};
use crate::replica::{Now, RegionId, Reply};
use std::sync::Arc;

/// Client requests one region hands another: forwarded writes, remote reads, and their answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientMsg {
    /// A client write handed to the region that originates writes.
    Forward {
        op: OpId,
        key: Key,
        value_bytes: u32,
        level: Level,
        kind: WriteKind,
    },
    /// The forwarded write `op` is committed.
    WriteDone { op: OpId, stamp: Stamp },
    ReadReq {
        op: OpId,
        key: Key,
        /// A `primary` read: only a primary holding its lease may answer it.
        primary: bool,
    },
    ReadResp {
        op: OpId,
        cell: Option<Cell>,
        value_bytes: u32,
    },
    /// The forwarded write `op` reached a region that is not (or no longer) the primary.
    NotPrimary { op: OpId },
}

impl WireMessage for ClientMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            ClientMsg::Forward { value_bytes, .. } => RPC_BYTES + 16 + *value_bytes as u64,
            ClientMsg::WriteDone { .. } => RPC_BYTES + 16,
            ClientMsg::ReadReq { .. } => RPC_BYTES,
            ClientMsg::ReadResp { value_bytes, .. } => RPC_BYTES + 24 + *value_bytes as u64,
            ClientMsg::NotPrimary { .. } => RPC_BYTES + 8,
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            ClientMsg::WriteDone { .. } => MsgClass::WriteAck,
            ClientMsg::Forward { .. } => MsgClass::WriteRequest,
            ClientMsg::ReadReq { .. } => MsgClass::ReadRequest,
            ClientMsg::ReadResp { .. } => MsgClass::ReadReply,
            ClientMsg::NotPrimary { .. } => MsgClass::WriteAck,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            ClientMsg::Forward { .. } => "forward",
            ClientMsg::WriteDone { .. } => "write-done",
            ClientMsg::ReadReq { .. } => "read",
            ClientMsg::ReadResp { .. } => "read-reply",
            ClientMsg::NotPrimary { .. } => "not-primary",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            ClientMsg::Forward { op, key, .. } => 5 << 60 ^ op.0 ^ key.0.rotate_left(32),
            ClientMsg::WriteDone { op, .. } => 6 << 60 ^ op.0,
            ClientMsg::ReadReq { op, key, .. } => 7 << 60 ^ op.0 ^ key.0.rotate_left(32),
            ClientMsg::ReadResp { op, cell, .. } => {
                9 << 60 ^ op.0 ^ cell.map_or(0, |c| c.value.0.rotate_left(32))
            }
            ClientMsg::NotPrimary { op } => 21 << 58 ^ op.0,
        }
    }

    fn work(&self) -> Work {
        match self {
            ClientMsg::Forward { .. } => writes(1),
            ClientMsg::ReadReq { .. } => Work {
                writes: 0,
                reads: 1,
            },
            _ => Work::NONE,
        }
    }

    fn is_retransmission(&self) -> bool {
        false
    }

    fn carries_key(&self, key: Key) -> bool {
        match self {
            ClientMsg::Forward { key: k, .. } | ClientMsg::ReadReq { key: k, .. } => *k == key,
            _ => false,
        }
    }
}

/// Single-key repair between replicas: read repair, and fetching a whole value after a causal gap.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RepairMsg {
    /// Read repair: install `cell` if it is newer. With `data`, the answer to a `Fetch`: the
    /// key's whole value, merged like anti-entropy's.
    Repair {
        key: Key,
        cell: Cell,
        value_bytes: u32,
        data: Option<Arc<Data>>,
    },
    /// A delta left a gap in this key's causal context (an earlier write of some region never
    /// arrived): send me your whole value of `key`.
    Fetch { key: Key },
}

impl WireMessage for RepairMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            RepairMsg::Repair {
                value_bytes, data, ..
            } => {
                RPC_BYTES
                    + 24
                    + data
                        .as_ref()
                        .map_or(*value_bytes as u64, |d| d.wire_bytes(*value_bytes))
            }
            RepairMsg::Fetch { .. } => RPC_BYTES + 8,
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            RepairMsg::Repair { .. } | RepairMsg::Fetch { .. } => MsgClass::Replication,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            RepairMsg::Repair { data: None, .. } => "repair",
            RepairMsg::Repair { .. } => "key-state",
            RepairMsg::Fetch { .. } => "fetch",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            RepairMsg::Repair {
                key, cell, data, ..
            } => {
                10 << 60
                    ^ key.0
                    ^ cell.value.0.rotate_left(32)
                    ^ data
                        .as_ref()
                        .map_or(0, |d| data_key_digest(*key, d).rotate_left(17))
            }
            RepairMsg::Fetch { key } => 26 << 58 ^ key.0,
        }
    }

    fn work(&self) -> Work {
        match self {
            RepairMsg::Repair { .. } => writes(1),
            RepairMsg::Fetch { .. } => Work::NONE,
        }
    }

    fn is_retransmission(&self) -> bool {
        false
    }

    fn carries_key(&self, key: Key) -> bool {
        match self {
            RepairMsg::Repair { key: k, .. } | RepairMsg::Fetch { key: k } => *k == key,
        }
    }
}

impl Replicator {
    /// Routes a client request forwarded from another region, or its answer.
    #[inline]
    pub(super) fn on_client_msg(
        &mut self,
        now: Now,
        from: RegionId,
        msg: ClientMsg,
        out: &mut Out,
    ) {
        match msg {
            ClientMsg::NotPrimary { op } => self.on_not_primary(op, out),
            ClientMsg::Forward {
                op,
                key,
                value_bytes,
                level,
                kind,
            } => {
                if self.fo.is_some() {
                    if !self.fo_may_write(now) {
                        self.reject_forward(from, op, out);
                        return;
                    }
                } else if self.cfg.plan.originator(from) != Some(self.me()) {
                    return; // not ours to originate (a misrouted request): the client times out
                }
                if !self.requests.first_forward(op) {
                    return; // a duplicated request
                }
                self.originate(now, op, key, value_bytes, level, kind, Some(from), out);
            }
            ClientMsg::WriteDone { op, stamp } => {
                if self.requests.forward_done(op) {
                    out.reply(Reply::WriteOk { op, stamp });
                }
            }
            ClientMsg::ReadReq { op, key, primary }
                if self
                    .read_refusal(Asked::ByPeer, key, primary, now)
                    .is_some() =>
            {
                // This copy may miss acknowledged writes (see `read_guard`): the client's region
                // fails the read, or learns of a new chain and retries.
                out.send(from, Msg::Client(ClientMsg::NotPrimary { op }));
            }
            ClientMsg::ReadReq { op, key, .. } => {
                let cell = self.local_cell(key);
                out.send(
                    from,
                    Msg::Client(ClientMsg::ReadResp {
                        op,
                        cell,
                        value_bytes: if cell.is_some() {
                            self.cfg.plan.value_bytes
                        } else {
                            0
                        },
                    }),
                );
            }
            ClientMsg::ReadResp { op, cell, .. } => self.on_read_resp(from, op, cell, out),
        }
    }
}

impl Replicator {
    /// Routes a single-key repair message.
    #[inline(never)]
    pub(super) fn on_repair_msg(
        &mut self,
        now: Now,
        from: RegionId,
        msg: RepairMsg,
        out: &mut Out,
    ) {
        match msg {
            RepairMsg::Fetch { key } => {
                if let Some(d) = self.data_of(key) {
                    let data = Some(Arc::new(d.clone()));
                    let cell = self.cell(key);
                    let value_bytes = self.cfg.plan.value_bytes;
                    out.send(
                        from,
                        Msg::Repair(RepairMsg::Repair {
                            key,
                            cell,
                            value_bytes,
                            data,
                        }),
                    );
                }
            }
            RepairMsg::Repair {
                key, cell, data, ..
            } => {
                if self.cfg.plan.holds(self.me(), key) {
                    if data.is_some() {
                        self.install_value(key, cell, data.as_ref(), out);
                    } else {
                        self.apply_lww(key, cell, out);
                    }
                    self.durable_write(now, out);
                }
            }
        }
    }
}

/// Client operations: originating writes and waiting for their holders, reads at the
/// level asked for; what is in flight, and its deadlines, is the [`Requests`] component's.
impl Replicator {
    /// Where a request issued now times out, and the timer that fires for it.
    #[inline]
    pub(super) fn deadline(&self, now: Now) -> Deadline {
        Deadline {
            at: now.mono + self.cfg.plan.request_timeout,
            timer: self.timer(Timer::Request),
        }
    }

    /// Who this replica is, for the requests component.
    #[inline]
    pub(super) fn ctx(&self) -> Ctx {
        Ctx {
            me: self.me(),
            epoch: self.epoch,
        }
    }

    pub(super) fn on_request_timer(&mut self, now: Now, out: &mut Out) {
        let (ctx, timer) = (self.ctx(), self.timer(Timer::Request));
        self.requests.expire(now.mono, ctx, timer, out);
    }

    /// Stamps, applies and ships a write this region originates for a client at `client`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn originate(
        &mut self,
        now: Now,
        op: OpId,
        key: Key,
        value_bytes: u32,
        level: Level,
        kind: WriteKind,
        client: Option<RegionId>,
        out: &mut Out,
    ) {
        let me = self.me();
        let policy = self.cfg.plan.tables.policy(key);
        // What the write replaces: the key's newest stamp, or for an LWW-Map the field's.
        let seen = match kind.member() {
            Some((f, _)) if policy.stamps_fields() => self
                .data_of(key)
                .and_then(|d| d.field_stamp(f))
                .unwrap_or(Stamp::NONE),
            _ => self.cell(key).stamp,
        };
        // A write with no client is the operator's: observers learn of it by its merge alone.
        let stamped = |out: &mut Out, stamp| {
            if client.is_some() {
                out.note(Note::WriteStamped {
                    op,
                    key,
                    stamp,
                    seen,
                });
            }
        };
        let (stamp, data) = if policy.merges() {
            // The write's dot (this incarnation's next operation on this key) is its stamp's
            // tie-break, so observers can tell which writes a merged value reflects.
            let actor = Actor::new(me, self.epoch);
            let dot = Data::next_dot(self.data_of(key), actor);
            let stamp = Stamp {
                wall: now.wall,
                tie: dot.0,
            };
            stamped(out, stamp);
            let mut delta = None;
            let cell = Cell { stamp, value: op };
            self.merge_data(
                key,
                cell,
                |slot| {
                    delta = Some(Data::update(slot, policy, actor, op, now.wall, kind));
                    vec![dot]
                },
                out,
            );
            (stamp, delta.map(Arc::new))
        } else {
            // The policy picks the clock: the wall clock, the HLC, or (first writer wins) the
            // negated wall clock.
            let wall = self.store.stamp_wall(policy, now.wall);
            // The tie-break counts this incarnation's entries, not only its LWW writes: a state
            // transfer judges a cell's write seen by comparing it with seen-prefixes of seqs.
            let stamp = Stamp::new(wall, me, self.epoch, (self.own_seq + 1) as u32);
            stamped(out, stamp);
            (
                stamp,
                Data::rewrite(self.data_of(key), op, kind).map(Arc::new),
            )
        };
        self.own_seq += 1;
        let id = EntryId {
            origin: me,
            epoch: self.epoch,
            seq: self.own_seq,
        };
        let cell = Cell { stamp, value: op };
        let holders = self.cfg.plan.holders(key);
        let need = match self.chain_on() {
            true => self.chain_need(),
            false => self.cfg.plan.write_need(level, holders.count_ones()),
        };
        let have = holders & Replicator::bit(me);
        let waits = client.is_some() && !satisfied(need, have);
        self.mark_seen(id, out);
        if have != 0 && !policy.merges() {
            // Under LWW a write stamped below the current value loses at once, even locally.
            self.install_value(key, cell, data.as_ref(), out);
        }
        let mut e = Entry::with_data(id, key, cell, value_bytes, data);
        e.notify = waits;
        self.fo_track(&e);
        let queued = self.route(&e, None, now, out);
        self.persist(out, || Op::OwnSeq(self.own_seq));
        if self.sync_mode() {
            self.sync(out);
            self.durable_own = self.own_seq;
        } else {
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        match client {
            Some(client) if waits => {
                let c = Commit {
                    op,
                    client,
                    stamp,
                    need,
                    have,
                };
                let d = self.deadline(now);
                self.requests.await_commit(self.epoch, id.seq, c, d, out);
            }
            Some(client) => reply_write(me, client, op, stamp, out),
            None => {}
        }
        self.transmit_mask(queued, now, out);
    }

    #[inline]
    pub(super) fn on_durable(&mut self, from: RegionId, epoch: u32, seqs: &[u64], out: &mut Out) {
        let ctx = self.ctx();
        self.requests.durable(from, epoch, seqs, ctx, out);
    }

    pub(super) fn read(&mut self, now: Now, op: OpId, key: Key, level: Level, out: &mut Out) {
        let plan = Arc::clone(&self.cfg.plan);
        let me = self.me();
        let holders = plan.holders(key);
        let level = plan.read_level(level);
        if self
            .read_refusal(Asked::ByClient, key, level == Level::Primary, now)
            .is_some()
        {
            // No region is known to answer primary reads, or this one does but its copy may
            // miss acknowledged writes (see `read_guard`).
            out.reply(Reply::Failed { op });
            return;
        }
        let (targets, need) = match level {
            Level::Quorum | Level::All => (holders, plan.read_need(level, holders.count_ones())),
            Level::Primary => match self.primary() {
                Some(p) => (Replicator::bit(p), 1),
                None => (Replicator::bit(me) & holders, 1),
            },
            Level::Local | Level::Default => (Replicator::bit(me) & holders, 1),
        };
        // A region without a replica reads from the nearest one that has it.
        let targets = if targets == 0 {
            plan.nearest[me.idx()]
                .iter()
                .find(|r| holders & Replicator::bit(**r) != 0)
                .map_or(0, |r| Replicator::bit(*r))
        } else {
            targets
        };
        let mut w = ReadWait {
            key,
            need,
            got: 0,
            best: None,
            by: me,
            replies: smallvec::SmallVec::new(),
        };
        if targets & Replicator::bit(me) != 0 {
            let c = self.local_cell(key);
            w.got = 1;
            w.best = c;
            w.replies.push((me, c.map_or(Stamp::NONE, |c| c.stamp)));
        }
        if w.got >= w.need {
            self.finish_read(op, w, out);
            return;
        }
        let mut t = targets & !Replicator::bit(me);
        while t != 0 {
            let p = t.trailing_zeros() as u16;
            t &= t - 1;
            out.send(
                RegionId(p),
                Msg::Client(ClientMsg::ReadReq {
                    op,
                    key,
                    primary: level == Level::Primary,
                }),
            );
        }
        let d = self.deadline(now);
        self.requests.await_read(op, w, d, out);
    }

    pub(super) fn finish_read(&mut self, op: OpId, w: ReadWait, out: &mut Out) {
        out.reply(Reply::ReadOk {
            op,
            cell: w.best,
            by: w.by,
        });
        let Some(best) = w.best else { return };
        if !self.cfg.plan.read_repair {
            return;
        }
        for &(r, s) in &w.replies {
            if s >= best.stamp {
                continue;
            }
            if r == self.me() {
                self.apply_lww(w.key, best, out);
            } else {
                out.send(
                    r,
                    Msg::Repair(RepairMsg::Repair {
                        key: w.key,
                        cell: best,
                        value_bytes: self.cfg.plan.value_bytes,
                        data: None,
                    }),
                );
            }
        }
    }

    pub(super) fn on_read_resp(
        &mut self,
        from: RegionId,
        op: OpId,
        cell: Option<Cell>,
        out: &mut Out,
    ) {
        if let Some(w) = self.requests.read_reply(from, op, cell) {
            self.finish_read(op, w, out);
        }
    }
}
