//! The log-shipping replica behind every replication strategy: multi-master, primary-backup,
//! chain and quorum differ only in who originates writes, where entries are routed, which
//! regions hold which keys, and what a write or read waits for (see [`super::plan::Plan`]).
//!
//! Each write is stamped by its originating region, applied (last-writer-wins) and queued on
//! the replication links the plan routes it over. Every directed link has its own reliable
//! transport: window-limited go-back-N, cumulative acks, RFC 6298 retransmission timeouts with
//! exponential backoff. Loss and partitions delay entries; they never lose them (unless the
//! plan gives up on unacknowledged entries, as quorum replication without hinted handoff does).
//!
//! Relays: a region that receives an entry forwards it along the origin's route tree, never back
//! to where it came from, and deduplicates by entry id, so a ring or hub delivers every entry
//! to every holder exactly once.
//!
//! Two identities are kept apart on purpose:
//! - transport positions (`first`, `upto`) number what one sender incarnation (epoch) put on one
//!   link, so acks and retransmission are simple counters;
//! - entry ids `(origin, epoch, seq)` name a write wherever it travels, so copies that reach a
//!   region twice (retransmissions, relays, recovered orphans) are applied once.
//!
//! Acknowledgement: a write that must be held by other regions before its client hears back
//! (semi-sync, sync, quorum, chain) carries `notify`; each holder that has made it durable
//! tells the origin directly (`Msg::Durable`), like an RPC response.
//!
//! Durability: receivers acknowledge only what they have made durable, so a sender may forget
//! an acknowledged entry. With `flush_interval` > 0 clients are acknowledged before the fsync;
//! peers then retain an origin's entries until the origin announces them durable (on disk: a
//! peer restarting meanwhile still holds them), and when a restarted origin announces what it
//! lost, peers relay those orphans back to everyone. A write is therefore lost only if no region
//! held it durably.

use super::causal::{Actor, Dot, Hlc};
use super::crdt::Digest;
use super::data::{data_key_digest, Data, Policy, View, WriteKind};
use super::plan::{Need, Plan};
use super::{
    cell_digest, mix64, Action, Cell, ClientOp, Command, Durable, Key, Level, MsgClass, Note, Now,
    OpId, Outbox, RegionId, Replica, Reply, Stamp, TimerId, WireMessage, Work,
};
use crate::time::{Mono, Span, Wall};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

mod chain;
mod failover;
mod restore;
mod timer;
pub use timer::Timer;
pub use chain::ChainView;
use failover::Fo;

/// Static configuration of one replica.
#[derive(Clone, Debug)]
pub struct Config {
    pub id: RegionId,
    pub window: u32,
    pub max_batch: u32,
    pub rto_initial: Span,
    pub rto_min: Span,
    pub rto_max: Span,
    /// Zero: fsync before every acknowledgement.
    pub flush_interval: Span,
    /// Whether to write durable storage at all. A host that can never crash (an in-memory
    /// deployment, or a simulation without crash faults) turns it off: nothing would read it.
    pub durable: bool,
    pub plan: Arc<Plan>,
}

/// Where a write lives in its origin's history.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryId {
    pub origin: RegionId,
    pub epoch: u32,
    pub seq: u64,
}

/// One change-log entry: a write and its integrity check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub id: EntryId,
    pub key: Key,
    pub cell: Cell,
    pub value_bytes: u32,
    pub checksum: u32,
    /// The origin waits to hear that holders have this entry durably.
    pub notify: bool,
    /// Tables with data: the whole new value (register policies) or the delta (merging ones).
    pub data: Option<Arc<Data>>,
}

impl Entry {
    fn compute_checksum(
        id: EntryId,
        key: Key,
        cell: &Cell,
        value_bytes: u32,
        data: Option<&Arc<Data>>,
    ) -> u32 {
        let h = mix64(
            data.map_or(0, |d| d.digest())
                ^ id.seq
                ^ (id.origin.0 as u64) << 48
                ^ (id.epoch as u64) << 32
                ^ mix64(
                    key.0
                        ^ cell.stamp.tie.rotate_left(17)
                        ^ (cell.stamp.wall.0 as u64).rotate_left(41)
                        ^ cell.value.0.rotate_left(7)
                        ^ value_bytes as u64,
                ),
        );
        (h ^ (h >> 32)) as u32
    }

    pub fn new(id: EntryId, key: Key, cell: Cell, value_bytes: u32) -> Entry {
        Entry::with_data(id, key, cell, value_bytes, None)
    }

    pub fn with_data(
        id: EntryId,
        key: Key,
        cell: Cell,
        value_bytes: u32,
        data: Option<Arc<Data>>,
    ) -> Entry {
        Entry {
            id,
            key,
            cell,
            value_bytes,
            checksum: Entry::compute_checksum(id, key, &cell, value_bytes, data.as_ref()),
            notify: false,
            data,
        }
    }

    pub fn verify(&self) -> bool {
        self.checksum
            == Entry::compute_checksum(
                self.id,
                self.key,
                &self.cell,
                self.value_bytes,
                self.data.as_ref(),
            )
    }

    /// Bytes on the wire: id, key, stamp, value id, checksum, then the value itself (or, for
    /// tables with data, the new value or delta instead).
    pub fn wire_bytes(&self) -> u64 {
        44 + match &self.data {
            None => self.value_bytes as u64,
            Some(d) => d.wire_bytes(self.value_bytes),
        }
    }
}

/// The entries of one replication message. On the heap so a message stays small to move; a
/// receiver keeps emptied buffers for its own sends (`Replicator::spare`), so the hot path
/// does not allocate.
pub type Batch = Vec<Entry>;

/// At most this many emptied batch buffers are kept for reuse.
const MAX_SPARE_BATCHES: usize = 64;

/// A position in an origin's own history: (epoch, seq).
pub type LogMark = (u32, u64);

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
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
    Ack {
        epoch: u32,
        upto: u64,
    },
    /// To an origin: these of its entries (its epoch `epoch`) are durable here.
    Durable {
        epoch: u32,
        seqs: smallvec::SmallVec<[u64; 2]>,
    },
    /// A client write handed to the region that originates writes.
    Forward {
        op: OpId,
        key: Key,
        value_bytes: u32,
        level: Level,
        kind: WriteKind,
    },
    /// The forwarded write `op` is committed.
    WriteDone {
        op: OpId,
        stamp: Stamp,
    },
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
    Fetch {
        key: Key,
    },
    /// Anti-entropy: the sender's Merkle hashes of tree `nodes` at `level` (0 = root), over the
    /// keys the two regions share. The receiver answers with the children of those that differ
    /// (or, at the leaves, with its cells there).
    AeHashes {
        session: AeSession,
        level: u8,
        nodes: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's cells in leaf ranges that differ. With `reply`, the receiver
    /// sends back its own newer cells in the same ranges.
    AeCells {
        session: AeSession,
        leaves: Vec<u32>,
        cells: Vec<(Key, Cell)>,
        /// The data of those keys whose tables keep data, by key.
        data: Vec<(Key, Arc<Data>)>,
        reply: bool,
        value_bytes: u32,
    },
    /// Anti-entropy: to the session's initiator, the session ended elsewhere after `round`
    /// (`in_sync`: the trees matched at the root).
    AeDone {
        session: AeSession,
        in_sync: bool,
    },
    /// Failover: every region's periodic heartbeat to every other region.
    Heartbeat(Heartbeat),
    /// Failover: a candidate asks for a vote in `term`; `pos` is how much history it holds.
    /// A `pre` vote (Raft's pre-vote) only asks whether the vote would be granted: nobody's
    /// term changes, so a region that cannot win never inflates terms and deposes a healthy
    /// primary when it comes back.
    VoteReq {
        term: u64,
        pos: Pos,
        pre: bool,
        /// An operator-ordered promotion (a planned handover, or a manual failover): voters
        /// set aside leader stickiness and the up-to-date check, as Raft does for a
        /// leadership transfer.
        transfer: bool,
    },
    Vote {
        term: u64,
        granted: bool,
        pre: bool,
    },
    /// Failover: to the primary, from a region missing the tail of the previous primary's
    /// stream `(origin, epoch)` after `after`.
    CatchUpReq {
        origin: RegionId,
        epoch: u32,
        after: u64,
    },
    /// The missing entries, or (when the primary no longer has them) its whole state, which
    /// stands for everything up to `upto`.
    CatchUp {
        origin: RegionId,
        epoch: u32,
        upto: u64,
        entries: Vec<Entry>,
        snapshot: Vec<(Key, Cell)>,
        value_bytes: u32,
    },
    /// Failover: to the primary, from a region that applied writes the primary discarded:
    /// send your values of these keys.
    Resync {
        keys: Vec<Key>,
    },
    ResyncCells {
        cells: Vec<(Key, Option<Cell>)>,
        value_bytes: u32,
    },
    /// The forwarded write `op` reached a region that is not (or no longer) the primary.
    NotPrimary {
        op: OpId,
    },
    /// A rebuilt region (its disk was lost) asks for the values it lacks; `have` is what it
    /// has seen: per origin and incarnation, the contiguous prefix.
    StateReq {
        have: Vec<(RegionId, u32, u64)>,
    },
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
    /// Failover: to the primary, from a region an operator asked to promote: hand over.
    TransferReq,
    /// From the primary handing over (it has stopped taking writes): stand for election in
    /// the next term as soon as you hold my stream up to `upto`.
    TimeoutNow {
        term: u64,
        upto: u64,
    },
}

/// How much of the replicated history a region holds: (term of the primary stream it follows,
/// entries of that stream it holds contiguously). Compared lexicographically in elections.
pub type Pos = (u64, u64);

/// Entries of `(origin, epoch)` with sequence numbers in `from..=to` are not part of the
/// history: a new primary was elected without them.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    pub origin: RegionId,
    pub epoch: u32,
    pub from: u64,
    pub to: Option<u64>,
}

impl Fence {
    pub fn covers(&self, id: EntryId) -> bool {
        id.origin == self.origin
            && id.epoch == self.epoch
            && id.seq >= self.from
            && self.to.is_none_or(|t| id.seq <= t)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heartbeat {
    pub term: u64,
    /// The primary of `term` as the sender knows it (itself if it is leading).
    pub leader: Option<RegionId>,
    /// The sender's incarnation (a new primary's stream is `(sender, epoch)`).
    pub epoch: u32,
    /// The sender's monotonic clock when it sent this.
    pub sent: Mono,
    /// The newest `sent` the sender received from the receiver: the receiver's lease evidence.
    pub echo: Option<Mono>,
    pub pos: Pos,
    /// Primary only: the newest entry of its stream that a majority holds.
    pub commit: u64,
    pub fences: Arc<Vec<Fence>>,
    /// Chain mode, from the head: the chain as it configured it.
    pub chain: Option<Arc<ChainView>>,
}

/// Names an anti-entropy session (its initiator and number) and counts its messages so far.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AeSession {
    pub initiator: RegionId,
    pub id: u32,
    pub round: u32,
}

impl AeSession {
    fn next(self) -> AeSession {
        AeSession {
            round: self.round + 1,
            ..self
        }
    }
}

/// Header bytes of a small request or response message.
const RPC_BYTES: u64 = 32;

/// Folds shipped data into a message fingerprint (zero when there is none).
fn data_fingerprint(data: &[(Key, Arc<Data>)]) -> u64 {
    data.iter()
        .fold(0u64, |a, (k, d)| a.rotate_left(5) ^ k.0 ^ d.digest())
}

/// Wire bytes of the data shipped with anti-entropy or state transfer.
fn data_bytes(data: &[(Key, Arc<Data>)], value_bytes: u32) -> u64 {
    data.iter().map(|(_, d)| d.wire_bytes(value_bytes)).sum()
}

impl WireMessage for Msg {
    fn wire_bytes(&self) -> u64 {
        match self {
            Msg::Replicate { wire, .. } => *wire as u64,
            Msg::Ack { .. } => 24,
            Msg::Durable { seqs, .. } => 16 + 8 * seqs.len() as u64,
            Msg::Forward { value_bytes, .. } => RPC_BYTES + 16 + *value_bytes as u64,
            Msg::WriteDone { .. } => RPC_BYTES + 16,
            Msg::ReadReq { .. } => RPC_BYTES,
            Msg::ReadResp { value_bytes, .. } => RPC_BYTES + 24 + *value_bytes as u64,
            Msg::Repair {
                value_bytes, data, ..
            } => {
                RPC_BYTES
                    + 24
                    + data
                        .as_ref()
                        .map_or(*value_bytes as u64, |d| d.wire_bytes(*value_bytes))
            }
            Msg::Fetch { .. } => RPC_BYTES + 8,
            Msg::AeHashes { nodes, .. } => RPC_BYTES + 4 + 12 * nodes.len() as u64,
            Msg::AeCells {
                leaves,
                cells,
                data,
                value_bytes,
                ..
            } => {
                RPC_BYTES
                    + 4 * leaves.len() as u64
                    + cells.len() as u64 * (32 + *value_bytes as u64)
                    + data_bytes(data, *value_bytes)
            }
            Msg::AeDone { .. } => RPC_BYTES,
            Msg::Heartbeat(h) => {
                RPC_BYTES
                    + 56
                    + 24 * h.fences.len() as u64
                    + h.chain.as_ref().map_or(0, |c| c.wire_bytes())
            }
            Msg::VoteReq { .. } => RPC_BYTES + 25,
            Msg::TransferReq | Msg::StateOffer => RPC_BYTES,
            Msg::StateReq { have } => RPC_BYTES + 16 * have.len() as u64,
            Msg::State {
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
            Msg::TimeoutNow { .. } => RPC_BYTES + 16,
            Msg::Vote { .. } => RPC_BYTES + 9,
            Msg::CatchUpReq { .. } => RPC_BYTES + 16,
            Msg::CatchUp {
                entries,
                snapshot,
                value_bytes,
                ..
            } => {
                RPC_BYTES
                    + 16
                    + entries.iter().map(|e| e.wire_bytes()).sum::<u64>()
                    + snapshot.len() as u64 * (32 + *value_bytes as u64)
            }
            Msg::Resync { keys } => RPC_BYTES + 8 * keys.len() as u64,
            Msg::ResyncCells { cells, value_bytes } => {
                RPC_BYTES + cells.len() as u64 * (32 + *value_bytes as u64)
            }
            Msg::NotPrimary { .. } => RPC_BYTES + 8,
        }
    }
    fn is_background(&self) -> bool {
        matches!(self, Msg::Heartbeat(_))
    }
    fn class(&self) -> MsgClass {
        match self {
            Msg::Replicate { .. } | Msg::Ack { .. } | Msg::Repair { .. } | Msg::Fetch { .. } => {
                MsgClass::Replication
            }
            Msg::Durable { .. } | Msg::WriteDone { .. } => MsgClass::WriteAck,
            Msg::Forward { .. } => MsgClass::WriteRequest,
            Msg::ReadReq { .. } => MsgClass::ReadRequest,
            Msg::ReadResp { .. } => MsgClass::ReadReply,
            Msg::AeHashes { .. }
            | Msg::AeCells { .. }
            | Msg::AeDone { .. }
            | Msg::StateOffer
            | Msg::StateReq { .. }
            | Msg::State { .. } => MsgClass::AntiEntropy,
            Msg::NotPrimary { .. } => MsgClass::WriteAck,
            Msg::Heartbeat(_)
            | Msg::VoteReq { .. }
            | Msg::TransferReq
            | Msg::TimeoutNow { .. }
            | Msg::Vote { .. }
            | Msg::CatchUpReq { .. }
            | Msg::CatchUp { .. }
            | Msg::Resync { .. }
            | Msg::ResyncCells { .. } => MsgClass::Control,
        }
    }
    fn work(&self) -> Work {
        let writes = |k: usize| Work {
            writes: k.min(u32::MAX as usize) as u32,
            reads: 0,
        };
        match self {
            Msg::Replicate { entries, .. } => writes(entries.len()),
            Msg::Forward { .. } | Msg::Repair { .. } => writes(1),
            Msg::AeCells { cells, .. } => writes(cells.len()),
            Msg::CatchUp {
                entries, snapshot, ..
            } => writes(entries.len() + snapshot.len()),
            Msg::ResyncCells { cells, .. } => writes(cells.len()),
            Msg::ReadReq { .. } => Work {
                writes: 0,
                reads: 1,
            },
            _ => Work::NONE,
        }
    }
    fn kind(&self) -> &'static str {
        match self {
            Msg::Replicate { entries, .. } if entries.is_empty() => "probe",
            Msg::Replicate { .. } => "replicate",
            Msg::Ack { .. } => "ack",
            Msg::Durable { .. } => "durable",
            Msg::Forward { .. } => "forward",
            Msg::WriteDone { .. } => "write-done",
            Msg::ReadReq { .. } => "read",
            Msg::ReadResp { .. } => "read-reply",
            Msg::Repair { data: None, .. } => "repair",
            Msg::Repair { .. } => "key-state",
            Msg::Fetch { .. } => "fetch",
            Msg::AeHashes { .. } => "ae-hashes",
            Msg::AeCells { .. } => "ae-cells",
            Msg::AeDone { .. } => "ae-done",
            Msg::Heartbeat(_) => "heartbeat",
            Msg::VoteReq { pre: true, .. } => "pre-vote-request",
            Msg::VoteReq { .. } => "vote-request",
            Msg::TransferReq => "transfer-request",
            Msg::StateOffer => "state-offer",
            Msg::StateReq { .. } => "state-request",
            Msg::State { .. } => "state",
            Msg::TimeoutNow { .. } => "timeout-now",
            Msg::Vote { .. } => "vote",
            Msg::CatchUpReq { .. } => "catch-up-request",
            Msg::CatchUp { .. } => "catch-up",
            Msg::Resync { .. } => "resync",
            Msg::ResyncCells { .. } => "resync-cells",
            Msg::NotPrimary { .. } => "not-primary",
        }
    }
    fn is_retransmission(&self) -> bool {
        matches!(
            self,
            Msg::Replicate {
                retransmit: true,
                ..
            }
        )
    }
    fn carries_key(&self, key: Key) -> bool {
        match self {
            Msg::Replicate { entries, .. } => entries.iter().any(|e| e.key == key),
            Msg::Forward { key: k, .. }
            | Msg::ReadReq { key: k, .. }
            | Msg::Repair { key: k, .. }
            | Msg::Fetch { key: k } => *k == key,
            _ => false,
        }
    }
    fn fingerprint(&self) -> u64 {
        match self {
            Msg::Replicate {
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
            Msg::Ack { epoch, upto } => 1 << 63 ^ (*epoch as u64) << 48 ^ upto,
            Msg::Durable { epoch, seqs } => {
                3 << 60 ^ (*epoch as u64) << 40 ^ seqs.first().copied().unwrap_or(0) ^ (seqs.len() as u64) << 32
            }
            Msg::Forward { op, key, .. } => 5 << 60 ^ op.0 ^ key.0.rotate_left(32),
            Msg::WriteDone { op, .. } => 6 << 60 ^ op.0,
            Msg::ReadReq { op, key, .. } => 7 << 60 ^ op.0 ^ key.0.rotate_left(32),
            Msg::ReadResp { op, cell, .. } => {
                9 << 60 ^ op.0 ^ cell.map_or(0, |c| c.value.0.rotate_left(32))
            }
            Msg::Repair { key, cell, data, .. } => {
                10 << 60
                    ^ key.0
                    ^ cell.value.0.rotate_left(32)
                    ^ data.as_ref().map_or(0, |d| data_key_digest(*key, d).rotate_left(17))
            }
            Msg::Fetch { key } => 26 << 58 ^ key.0,
            Msg::AeHashes {
                session,
                level,
                nodes,
            } => {
                11 << 60
                    ^ (session.id as u64) << 24
                    ^ (*level as u64) << 16
                    ^ nodes.iter().fold(0u64, |a, (i, h)| a.rotate_left(5) ^ h ^ *i as u64)
            }
            Msg::AeCells {
                session,
                cells,
                data,
                ..
            } => {
                12 << 60
                    ^ (session.id as u64) << 24
                    ^ cells
                        .iter()
                        .fold(0u64, |a, (k, c)| a.rotate_left(5) ^ k.0 ^ c.value.0)
                    ^ data_fingerprint(data)
            }
            Msg::AeDone { session, .. } => 13 << 60 ^ (session.id as u64) << 24 ^ session.round as u64,
            Msg::Heartbeat(h) => {
                14 << 60
                    ^ h.term << 40
                    ^ h.sent.0
                    ^ h.pos.1.rotate_left(20)
                    ^ h.leader.map_or(0, |l| l.0 as u64 + 1) << 52
                    ^ h.chain.as_ref().map_or(0, |c| {
                        c.order
                            .iter()
                            .fold(c.members as u64, |a, r| a.rotate_left(5) ^ r.0 as u64)
                            .rotate_left(13)
                    })
            }
            Msg::VoteReq {
                term,
                pos,
                pre,
                transfer,
            } => {
                15 << 60
                    ^ term << 40
                    ^ pos.0 << 20
                    ^ pos.1
                    ^ (*pre as u64) << 59
                    ^ (*transfer as u64) << 58
            }
            Msg::TransferReq => 22 << 58,
            Msg::StateOffer => 27 << 58,
            Msg::StateReq { have } => {
                24 << 58
                    ^ have
                        .iter()
                        .fold(0u64, |a, (o, e, u)| a.rotate_left(7) ^ (o.0 as u64) << 48 ^ (*e as u64) << 32 ^ u)
            }
            Msg::State {
                cells, seen, data, ..
            } => {
                25 << 58
                    ^ cells.iter().fold(0u64, |a, (k, c)| a.rotate_left(5) ^ k.0 ^ c.value.0)
                    ^ (seen.len() as u64) << 40
                    ^ data_fingerprint(data)
            }
            Msg::TimeoutNow { term, upto } => 23 << 58 ^ term << 32 ^ upto,
            Msg::Vote { term, granted, pre } => {
                16 << 58 ^ term << 2 ^ (*granted as u64) << 1 ^ *pre as u64
            }
            Msg::CatchUpReq { origin, epoch, after } => {
                17 << 58 ^ (origin.0 as u64) << 48 ^ (*epoch as u64) << 32 ^ after
            }
            Msg::CatchUp {
                upto,
                entries,
                snapshot,
                ..
            } => 18 << 58 ^ upto ^ (entries.len() as u64) << 32 ^ (snapshot.len() as u64) << 16,
            Msg::Resync { keys } => {
                19 << 58 ^ keys.iter().fold(0u64, |a, k| a.rotate_left(5) ^ k.0)
            }
            Msg::ResyncCells { cells, .. } => {
                20 << 58
                    ^ cells.iter().fold(0u64, |a, (k, c)| {
                        a.rotate_left(5) ^ k.0 ^ c.map_or(0, |c| c.value.0)
                    })
            }
            Msg::NotPrimary { op } => 21 << 58 ^ op.0,
        }
    }
}

pub use super::seqset::SeqSet;

/// Which entries of each origin a replica has applied, per origin epoch.
/// Epochs are few (one per restart) and the newest is almost always the one asked for, so a
/// short list searched from the back beats a map.
type Seen = Vec<Vec<(u32, SeqSet)>>;

fn seq_set(per_origin: &mut Vec<(u32, SeqSet)>, epoch: u32) -> &mut SeqSet {
    match per_origin.iter().rposition(|(e, _)| *e == epoch) {
        Some(i) => &mut per_origin[i].1,
        None => {
            per_origin.push((epoch, SeqSet::default()));
            &mut per_origin.last_mut().expect("just pushed").1
        }
    }
}

/// Removes the first `k` items (or all, if fewer). Acks usually settle one or two entries, and
/// popping those costs a fraction of a `drain`, whose drop must stitch the ring back together.
fn drop_front<T>(q: &mut VecDeque<T>, k: usize) {
    if k >= q.len() {
        q.clear();
    } else {
        for _ in 0..k {
            q.pop_front();
        }
    }
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub epoch: u32,
    pub own_seq: u64,
    pub cells: Vec<Cell>,
    /// Per key of a table with data: its value (merging policies) or whole value (others).
    pub data: Vec<Option<Arc<Data>>>,
    /// Per outgoing link: entries not yet acknowledged by that peer.
    pub links: Vec<VecDeque<Entry>>,
    pub seen: Seen,
    /// Per sender: (sender epoch, transport position received contiguously).
    pub recv: Vec<(u32, u64)>,
    /// Failover: the current term and this region's vote in it.
    pub term: u64,
    pub voted: Option<RegionId>,
    /// Failover: the primary stream followed (term, origin, epoch).
    pub stream: (u64, RegionId, u32),
    /// Failover: the cuts of the history this region knows. A restarted region that wins an
    /// election publishes its fences as the history's, so forgetting one would let the writes
    /// it cut off back in.
    pub fences: Arc<Vec<Fence>>,
    /// A state transfer not yet complete: the peers still owing an answer, and whether it is
    /// this region's rebuild (not a catch-up from a rebuilt relay).
    pub restore: Option<(u64, bool)>,
    /// A rebuilt relay: the regions it has not yet heard ask for its state.
    pub relay_owed: u64,
    /// Per origin: its entries received from it that it had not yet announced durable (the
    /// orphans this region relays back if the origin restarts without them, even if this
    /// region restarted meanwhile).
    pub retained: Vec<VecDeque<Entry>>,
}

#[derive(Clone, Debug)]
pub enum Op {
    Epoch(u32),
    OwnSeq(u64),
    Cell(Key, Cell),
    Data(Key, Arc<Data>),
    Append(RegionId, Entry),
    TruncateFront(RegionId, usize),
    Seen(EntryId),
    Recv(RegionId, u32, u64),
    Term(u64, Option<RegionId>),
    Stream(u64, RegionId, u32),
    Fences(Arc<Vec<Fence>>),
    SeenUpto(RegionId, u32, u64),
    Restore(Option<(u64, bool)>, u64),
    /// Retain an entry of this origin (it is not yet durable there).
    Retain(RegionId, Entry),
    /// Stop retaining the first `k` entries of this origin.
    Release(RegionId, usize),
}

impl Durable for Disk {
    type Op = Op;
    fn apply(&mut self, op: Op) {
        match op {
            Op::Epoch(e) => {
                self.epoch = e;
                self.own_seq = 0;
            }
            Op::OwnSeq(s) => self.own_seq = s,
            Op::Cell(k, c) => {
                let i = k.0 as usize;
                if self.cells.len() <= i {
                    self.cells.resize(i + 1, Cell::default_none());
                }
                self.cells[i] = c;
            }
            Op::Data(k, d) => {
                let i = k.0 as usize;
                if self.data.len() <= i {
                    self.data.resize(i + 1, None);
                }
                self.data[i] = Some(d);
            }
            Op::Append(p, e) => {
                if self.links.len() <= p.idx() {
                    self.links.resize_with(p.idx() + 1, VecDeque::new);
                }
                self.links[p.idx()].push_back(e)
            }
            Op::TruncateFront(p, k) => {
                if let Some(l) = self.links.get_mut(p.idx()) {
                    drop_front(l, k);
                }
            }
            Op::Seen(id) => {
                let o = id.origin.idx();
                if self.seen.len() <= o {
                    self.seen.resize_with(o + 1, Vec::new);
                }
                seq_set(&mut self.seen[o], id.epoch).insert(id.seq);
            }
            Op::Term(t, v) => {
                self.term = t;
                self.voted = v;
            }
            Op::Stream(t, o, e) => self.stream = (t, o, e),
            Op::Fences(f) => self.fences = f,
            Op::Restore(owed, relay) => {
                self.restore = owed;
                self.relay_owed = relay;
            }
            Op::SeenUpto(o, e, upto) => {
                if self.seen.len() <= o.idx() {
                    self.seen.resize_with(o.idx() + 1, Vec::new);
                }
                seq_set(&mut self.seen[o.idx()], e).advance_to(upto);
            }
            Op::Retain(o, e) => {
                if self.retained.len() <= o.idx() {
                    self.retained.resize_with(o.idx() + 1, VecDeque::new);
                }
                self.retained[o.idx()].push_back(e);
            }
            Op::Release(o, k) => {
                if let Some(q) = self.retained.get_mut(o.idx()) {
                    drop_front(q, k);
                }
            }
            Op::Recv(s, e, p) => {
                let i = s.idx();
                if self.recv.len() <= i {
                    self.recv.resize(i + 1, (0, 0));
                }
                self.recv[i] = (e, p);
            }
        }
    }
}

impl Cell {
    /// The empty cell: no write has reached this key.
    pub fn default_none() -> Cell {
        Cell {
            stamp: Stamp::NONE,
            value: OpId(0),
        }
    }
}

/// Sending side of one link.
#[derive(Clone, Debug)]
struct Outgoing {
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
    fn last_pos(&self) -> u64 {
        self.base + self.queue.len() as u64 - 1
    }
}

/// Receiving side of one link.
#[derive(Clone, Debug, Default)]
struct Incoming {
    epoch: u32,
    /// Transport positions received: the contiguous prefix is what an ack covers.
    pos: SeqSet,
    need_ack: bool,
}

/// A write waiting for holders before its client is acknowledged.
#[derive(Clone, Debug)]
struct Commit {
    op: OpId,
    client: RegionId,
    stamp: Stamp,
    need: Need,
    have: u64,
}

/// A read waiting for replies.
#[derive(Clone, Debug)]
struct ReadWait {
    key: Key,
    need: u32,
    got: u32,
    best: Option<Cell>,
    /// The replica whose copy is `best` (reported to observers only).
    by: RegionId,
    replies: smallvec::SmallVec<[(RegionId, Stamp); 4]>,
}

/// Something that fails if not answered by its deadline.
#[derive(Copy, Clone, Debug)]
enum Pending {
    Commit(u32, u64),
    Forward(OpId),
    Read(OpId),
}

pub struct Replicator {
    cfg: Config,
    /// Emptied batch buffers from received messages, reused for outgoing ones: a replica
    /// sends about as many batches as it receives, so allocation drops out of the hot path.
    /// Holds no state that reaches behaviour.
    spare: Vec<Batch>,
    epoch: u32,
    own_seq: u64,
    durable_own: u64,
    lost_after: Option<LogMark>,
    cells: Vec<Cell>,
    /// Per key of a table with data (empty when no table has any).
    data: Vec<Option<Data>>,
    /// The hybrid logical clock `lww-hlc` tables stamp with.
    hlc: Hlc,
    digest: u64,
    out: Vec<Outgoing>,
    inc: Vec<Incoming>,
    seen: Seen,
    /// Per origin: its own entries it has not yet announced durable (kept for orphan relay).
    retained: Vec<VecDeque<Entry>>,
    dirty: bool,
    flush_armed: bool,
    /// Durable notifications owed to origins once the next fsync completes.
    notify_pending: Vec<EntryId>,
    commits: BTreeMap<u64, Commit>,
    /// Client writes forwarded to the originating region, awaiting `WriteDone`.
    forwards: BTreeSet<OpId>,
    reads: BTreeMap<OpId, ReadWait>,
    /// Request deadlines in the order they were set (one timeout, so also in time order).
    deadlines: VecDeque<(Mono, Pending)>,
    deadline_armed: bool,
    /// Forwarded writes already originated (a duplicated message must not write twice).
    forwarded_seen: BTreeSet<OpId>,
    ae: AeState,
    /// Failover state (primary-backup with `failover`).
    fo: Option<Box<Fo>>,
    /// What the disk said about terms at recovery (read once by `fo_start`).
    disk_term: u64,
    disk_voted: Option<RegionId>,
    disk_stream: (u64, RegionId, u32),
    disk_fences: Arc<Vec<Fence>>,
    /// Rebuilt after losing its disk (from a backup image or from nothing).
    rebuilt: bool,
    restore: Option<restore::Restore>,
    /// Peers this region relays for that have not yet asked it for what they lack since it was
    /// rebuilt (see `restore::relay_mask`).
    relay_owed: u64,
    /// `manual` keys homed here whose conflicts wait for the operator, with when they were
    /// parked (in-memory, like a work queue: a restart re-parks what its data still shows).
    parked: BTreeMap<Key, Mono>,
    /// Keys a delta left with a gap among one origin's writes: since when, that origin, and
    /// the region that sent the delta (asked for the whole value if the gap outlives a timeout).
    gaps: BTreeMap<Key, (Mono, Actor, RegionId)>,
    gap_armed: bool,
    /// When the operator's timer is set to fire, if it is.
    operator_armed: Option<Mono>,
    /// The local monotonic time of the input being handled (for parking conflicts found deep
    /// inside a merge).
    now_mono: Mono,
}

/// Anti-entropy bookkeeping.
#[derive(Default)]
struct AeState {
    /// Regions sharing at least one key with this one, in index order.
    peers: Vec<RegionId>,
    /// Round-robin position in `peers`.
    next: usize,
    last_id: u32,
    /// Sessions this region started: id -> (peer, start).
    active: BTreeMap<u32, (RegionId, Mono)>,
    /// Regions that missed log entries this region gave up (the peer the link led to and every
    /// holder it would have relayed them to): a session with each is owed.
    owed: u64,
    /// Per region, when a session with it was last owed: only a session started since then
    /// covers the entries given up.
    owed_at: Vec<Mono>,
    /// Peers that stopped acknowledging (repeated retransmission timeouts): hearing from one
    /// again is a heal, and starts a session at once.
    unreachable: u64,
    /// The last tree built.
    cache: Option<TreeCache>,
}

/// A Merkle tree and what it was built from.
struct TreeCache {
    /// The regions whose shared keys it covers (both bits), or `u64::MAX` for all keys.
    mask: u64,
    /// The state digest when it was built: an unchanged digest means an unchanged tree.
    digest: u64,
    /// Hashes per level, root first.
    levels: Arc<Vec<Vec<u64>>>,
    /// Keys with a value among those covered.
    shared: u64,
}

type Out = Outbox<Msg, Op>;

impl Replicator {
    fn n(&self) -> usize {
        self.cfg.plan.n
    }

    /// The host id of one of this replica's timers.
    #[inline]
    pub(crate) fn timer(&self, t: Timer) -> TimerId {
        t.id(self.n())
    }

    pub fn from_disk(cfg: Config, disk: &Disk) -> Replicator {
        let n = cfg.plan.n;
        let epoch = disk.epoch + 1;
        let mut cells = disk.cells.clone();
        if cells.is_empty() {
            cells.reserve(1024);
        }
        let data: Vec<Option<Data>> = disk
            .data
            .iter()
            .map(|d| d.as_ref().map(|d| Data::clone(d)))
            .collect();
        let tables = Arc::clone(&cfg.plan.tables);
        let digest = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stamp.is_none())
            .fold(0u64, |acc, (k, c)| {
                let key = Key(k as u64);
                acc.wrapping_add(match data.get(k) {
                    Some(Some(d)) if tables.policy(key).merges() => data_key_digest(key, d),
                    _ => cell_digest(key, c),
                })
            });
        let mut seen = disk.seen.clone();
        seen.resize_with(n, Vec::new);
        let mut inc = vec![Incoming::default(); n];
        for (i, (e, p)) in disk.recv.iter().enumerate().take(n) {
            inc[i].epoch = *e;
            inc[i].pos.advance_to(*p);
        }
        let restarted = disk.epoch > 0;
        let out = (0..n)
            .map(|p| {
                // The surviving queue is re-sent under the new epoch; peers drop what they have.
                let queue = disk.links.get(p).cloned().unwrap_or_default();
                Outgoing {
                    queued_at: if cfg.plan.gives_up() {
                        queue.iter().map(|_| Mono(0)).collect()
                    } else {
                        VecDeque::new()
                    },
                    queue,
                    base: 1,
                    acked: 0,
                    next: 1,
                    high_sent: 0,
                    rto: cfg.rto_initial,
                    srtt: None,
                    rttvar: Span::ZERO,
                    timed: None,
                    deadline: None,
                    armed_at: None,
                    hello_pending: restarted,
                    batch_armed: false,
                    timeouts: 0,
                }
            })
            .collect();
        Replicator {
            epoch,
            own_seq: 0,
            durable_own: 0,
            lost_after: restarted.then_some((disk.epoch, disk.own_seq)),
            cells,
            data,
            hlc: Hlc::default(),
            digest,
            out,
            inc,
            seen,
            retained: {
                // Kept on disk: a region that restarts while an origin is down still owes it
                // the orphans it held (swarm seed 5045).
                let mut r = disk.retained.clone();
                r.resize_with(n, VecDeque::new);
                r
            },
            dirty: false,
            flush_armed: false,
            notify_pending: Vec::new(),
            commits: BTreeMap::new(),
            forwards: BTreeSet::new(),
            reads: BTreeMap::new(),
            deadlines: VecDeque::new(),
            deadline_armed: false,
            forwarded_seen: BTreeSet::new(),
            ae: AeState {
                peers: match &cfg.plan.anti_entropy {
                    None => Vec::new(),
                    Some(_) => (0..n)
                        .filter(|&p| p != cfg.id.idx())
                        .filter(|&p| {
                            let both = (1u64 << p) | (1u64 << cfg.id.0);
                            match &cfg.plan.holders {
                                None => true,
                                Some(h) => h.iter().any(|m| m & both == both),
                            }
                        })
                        .map(|p| RegionId(p as u16))
                        .collect(),
                },
                owed_at: vec![Mono(0); n],
                ..AeState::default()
            },
            fo: None,
            disk_term: disk.term,
            disk_voted: disk.voted,
            disk_stream: disk.stream,
            disk_fences: Arc::clone(&disk.fences),
            rebuilt: false,
            restore: Replicator::resumed_restore(disk),
            relay_owed: disk.relay_owed,
            parked: BTreeMap::new(),
            gaps: BTreeMap::new(),
            gap_armed: false,
            operator_armed: None,
            now_mono: Mono(0),
            spare: Vec::new(),
            cfg,
        }
    }

    /// Persists `op` unless this replica runs without durable storage (`Config::durable`).
    #[inline]
    fn persist(&self, out: &mut Out, op: impl FnOnce() -> Op) {
        if self.cfg.durable {
            out.persist(op());
        }
    }

    #[inline]
    fn sync(&self, out: &mut Out) {
        if self.cfg.durable {
            out.sync();
        }
    }

    fn sync_mode(&self) -> bool {
        self.cfg.flush_interval == Span::ZERO
    }

    /// Makes what was just persisted durable now (fsync per write) or at the next flush.
    fn durable_write(&mut self, now: Now, out: &mut Out) {
        if self.sync_mode() {
            self.sync(out);
        } else {
            self.dirty = true;
            self.ensure_flush(now, out);
        }
    }

    fn me(&self) -> RegionId {
        self.cfg.id
    }

    /// The region answering `Level::Primary` reads: the current primary under failover.
    fn primary(&self) -> Option<RegionId> {
        if self.chain_on() {
            return self.chain_reads();
        }
        match &self.fo {
            Some(f) if f.leading => Some(self.me()),
            Some(f) => f.leader.or(self.cfg.plan.read_primary()),
            None => self.cfg.plan.read_primary(),
        }
    }

    fn bit(r: RegionId) -> u64 {
        1u64 << r.0
    }

    fn peers(&self) -> impl Iterator<Item = usize> + 'static {
        let me = self.cfg.id.idx();
        (0..self.cfg.plan.n).filter(move |&p| p != me)
    }

    pub fn cell(&self, key: Key) -> Cell {
        self.cells
            .get(key.0 as usize)
            .copied()
            .unwrap_or_else(Cell::default_none)
    }

    fn local_cell(&self, key: Key) -> Option<Cell> {
        let c = self.cell(key);
        (!c.stamp.is_none()).then_some(c)
    }

    /// Last-writer-wins: install `cell` if its stamp is newer than what the key holds.
    fn apply_lww(&mut self, key: Key, cell: Cell, out: &mut Out) -> bool {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if cell.stamp <= old.stamp {
            return false;
        }
        if !old.stamp.is_none() {
            self.digest = self.digest.wrapping_sub(cell_digest(key, &old));
        }
        self.digest = self.digest.wrapping_add(cell_digest(key, &cell));
        self.cells[i] = cell;
        self.persist(out, || Op::Cell(key, cell));
        out.note(Note::Applied {
            key,
            old: old.stamp,
            new: cell.stamp,
        });
        true
    }

    /// A key's contribution to the state digest: its data if its values merge, else its cell.
    fn key_digest(&self, key: Key, c: &Cell) -> u64 {
        match self.data_of(key) {
            Some(d) if self.cfg.plan.tables.policy(key).merges() => data_key_digest(key, d),
            _ => cell_digest(key, c),
        }
    }

    fn data_slot(&mut self, key: Key) -> &mut Option<Data> {
        let i = key.0 as usize;
        if self.data.len() <= i {
            self.data.resize(i + 1, None);
        }
        &mut self.data[i]
    }

    fn data_of(&self, key: Key) -> Option<&Data> {
        self.data.get(key.0 as usize).and_then(|d| d.as_ref())
    }

    /// Installs a value that arrived from elsewhere (an entry, anti-entropy, a state
    /// transfer): by its stamp under a register policy (with its whole value, if its table
    /// keeps one), by merging under a merging policy. True if anything changed.
    fn install_value(
        &mut self,
        key: Key,
        cell: Cell,
        data: Option<&Arc<Data>>,
        out: &mut Out,
    ) -> bool {
        let policy = self.cfg.plan.tables.policy(key);
        if !policy.merges() {
            if policy == Policy::LwwHlc {
                self.hlc.observe(cell.stamp.wall);
            }
            let applied = self.apply_lww(key, cell, out);
            if applied {
                if let Some(d) = data {
                    *self.data_slot(key) = Some(Data::clone(d));
                    self.persist(out, || Op::Data(key, Arc::clone(d)));
                }
            }
            return applied;
        }
        let Some(d) = data else {
            return false; // a merging key's value travels as data; a bare cell says nothing
        };
        self.merge_data(key, cell, |slot| Data::merge(slot, d), out)
    }

    /// Changes a merging key's data with `f` (which returns the writes that became part of
    /// it), keeping the digest, the key's summary cell (its newest write) and the disk in step.
    fn merge_data(
        &mut self,
        key: Key,
        cell: Cell,
        f: impl FnOnce(&mut Option<Data>) -> Vec<Dot>,
        out: &mut Out,
    ) -> bool {
        let before = self.data_of(key).map(|d| data_key_digest(key, d));
        let new = f(self.data_slot(key));
        // A delta can change a value without bringing a write it lacks: a re-add seen late
        // still takes away the adds it replaced. Only an unchanged value is a no-op.
        let Some(d) = self.data_of(key) else {
            return false; // nothing merged (a delta of another type, which no plan sends)
        };
        let after = data_key_digest(key, d);
        if new.is_empty() && Some(after) == before {
            return false;
        }
        let siblings = d.siblings() as u32;
        let keep = self.cfg.durable.then(|| Arc::new(d.clone()));
        self.digest = self
            .digest
            .wrapping_sub(before.unwrap_or(0))
            .wrapping_add(after);
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        if cell.stamp > self.cells[i].stamp {
            self.cells[i] = cell;
            self.persist(out, || Op::Cell(key, cell));
        }
        if let Some(d) = keep {
            out.persist(Op::Data(key, d));
        }
        for dot in new {
            out.note(Note::Merged { key, dot, siblings });
        }
        self.track_conflict(key, siblings, out);
        true
    }

    /// Delta-state replication's fallback: a delta from `origin` left a gap in `key`'s causal
    /// context among `origin`'s own writes. Its predecessors may still be on their way (the
    /// transport applies entries that arrive out of order and retransmits the ones lost), so
    /// wait one request timeout; if the gap is still there then (a log given up after
    /// `log_retention`, say), ask `from` for the key's whole value.
    fn note_gap(&mut self, key: Key, origin: Actor, from: RegionId, now: Now, out: &mut Out) {
        if self.gaps.contains_key(&key) || !self.has_gap(key, origin) {
            return;
        }
        self.gaps.insert(key, (now.mono, origin, from));
        if !self.gap_armed {
            self.gap_armed = true;
            out.set_timer(self.timer(Timer::Gap), now.mono + self.cfg.plan.request_timeout);
        }
    }

    fn has_gap(&self, key: Key, origin: Actor) -> bool {
        self.data_of(key)
            .and_then(|d| d.ctx())
            .is_some_and(|c| c.cloud.iter().any(|d| d.actor() == origin))
    }

    fn on_gap_timer(&mut self, now: Now, out: &mut Out) {
        self.gap_armed = false;
        let timeout = self.cfg.plan.request_timeout;
        let due: Vec<Key> = self
            .gaps
            .iter()
            .filter(|(_, (since, _, _))| *since + timeout <= now.mono)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            let (_, origin, from) = self.gaps.remove(&key).expect("listed");
            if self.has_gap(key, origin) {
                out.note(Note::GapFetch { key });
                out.send(from, Msg::Fetch { key });
            }
        }
        if let Some(first) = self.gaps.values().map(|g| g.0).min() {
            self.gap_armed = true;
            out.set_timer(self.timer(Timer::Gap), (first + timeout).max(now.mono));
        }
    }

    /// `manual` tables: a conflict on a key homed here (key mod regions, so exactly one
    /// region's operator owns it) is parked when the key gains siblings and leaves the queue
    /// when they are gone, whoever resolved them.
    fn track_conflict(&mut self, key: Key, siblings: u32, out: &mut Out) {
        if key.0 % self.n() as u64 != self.me().0 as u64
            || self.cfg.plan.tables.policy(key) != Policy::Manual
        {
            return;
        }
        let now = self.now_mono;
        if siblings > 1 {
            if self.parked.contains_key(&key) {
                return;
            }
            self.parked.insert(key, now);
            out.note(Note::Parked {
                key,
                depth: self.parked.len() as u32,
            });
            if let Some(delay) = self.cfg.plan.operator {
                if self.operator_armed.is_none() {
                    self.operator_armed = Some(now + delay);
                    out.set_timer(self.timer(Timer::Operator), now + delay);
                }
            }
        } else if let Some(at) = self.parked.remove(&key) {
            out.note(Note::Unparked {
                key,
                waited: now - at,
                by_operator: false,
                depth: self.parked.len() as u32,
            });
        }
    }

    /// The operator works through every conflict that has waited its delay: keeps the value
    /// written last (the highest operation id among the siblings) with a write whose causal
    /// context covers them all, so every region converges on it.
    fn on_operator_timer(&mut self, now: Now, out: &mut Out) {
        self.operator_armed = None;
        let Some(delay) = self.cfg.plan.operator else {
            return;
        };
        let due: Vec<(Key, Mono)> = self
            .parked
            .iter()
            .filter(|(_, &at)| at + delay <= now.mono)
            .map(|(&k, &at)| (k, at))
            .collect();
        for (key, at) in due {
            self.parked.remove(&key);
            out.note(Note::Unparked {
                key,
                waited: now.mono - at,
                by_operator: true,
                depth: self.parked.len() as u32,
            });
            let keep = match self.data_of(key) {
                Some(Data::Mv(r)) => r.values().max().copied(),
                _ => None,
            };
            if let Some(keep) = keep {
                let bytes = self.cfg.plan.value_bytes;
                let kind = WriteKind::Put;
                self.originate(now, keep, key, bytes, Level::Default, kind, None, out);
            }
        }
        if let Some(&first) = self.parked.values().min() {
            let at = (first + delay).max(now.mono);
            self.operator_armed = Some(at);
            out.set_timer(self.timer(Timer::Operator), at);
        }
    }

    /// After a restart: re-parks the conflicts its data still holds.
    fn repark(&mut self, out: &mut Out) {
        if !self
            .cfg
            .plan
            .tables
            .0
            .iter()
            .any(|t| t.policy == Policy::Manual)
        {
            return;
        }
        let keys: Vec<(Key, u32)> = self
            .data
            .iter()
            .enumerate()
            .filter_map(|(k, d)| Some((Key(k as u64), d.as_ref()?.siblings() as u32)))
            .filter(|&(_, s)| s > 1)
            .collect();
        for (key, siblings) in keys {
            self.track_conflict(key, siblings, out);
        }
    }

    fn mark_seen(&mut self, id: EntryId, out: &mut Out) -> bool {
        let fresh = seq_set(&mut self.seen[id.origin.idx()], id.epoch).insert(id.seq);
        if fresh {
            self.persist(out, || Op::Seen(id));
        }
        fresh
    }

    /// Queues `e` on the link to `p`.
    fn enqueue(&mut self, p: usize, e: Entry, now: Now, out: &mut Out) {
        self.persist(out, || Op::Append(RegionId(p as u16), e.clone()));
        let o = &mut self.out[p];
        o.queue.push_back(e);
        if self.cfg.plan.gives_up() {
            o.queued_at.push_back(now.mono);
        }
    }

    /// Queues a fresh entry (originated here, or received from `from`) on every link of its
    /// origin's route tree below this region that leads to a holder of its key.
    fn route(&mut self, e: &Entry, from: Option<RegionId>, now: Now, out: &mut Out) -> u64 {
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

    fn outstanding(&self, p: usize) -> bool {
        let o = &self.out[p];
        o.hello_pending || o.acked < o.last_pos()
    }

    /// Restarts the retransmission deadline of peer `p`; sets the host timer only if it would
    /// otherwise fire too late.
    fn arm(&mut self, p: usize, now: Now, out: &mut Out) {
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
    fn transmit(&mut self, p: usize, now: Now, out: &mut Out, force: bool) {
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
            let msg = Msg::Replicate {
                epoch: self.epoch,
                first: start,
                floor: o.base,
                entries,
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit,
                wire: (48 + payload * permille / 1000).min(u32::MAX as u64) as u32,
                term: self.fo.as_ref().map_or(0, |f| f.term),
            };
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

    fn probe(&self, p: usize, out: &mut Out) {
        let o = &self.out[p];
        out.send(
            RegionId(p as u16),
            Msg::Replicate {
                epoch: self.epoch,
                first: o.next,
                floor: o.base,
                entries: Batch::new(),
                durable_own: (self.epoch, self.durable_own),
                lost_after: self.lost_after,
                retransmit: false,
                wire: 48,
                term: self.fo.as_ref().map_or(0, |f| f.term),
            },
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
            self.persist(out, || Op::TruncateFront(RegionId(p as u16), k));
        }
    }

    fn on_ack(&mut self, now: Now, from: usize, epoch: u32, upto: u64, out: &mut Out) {
        if epoch != self.epoch {
            return; // an ack for a previous incarnation's positions
        }
        let (min, max) = (self.cfg.rto_min, self.cfg.rto_max);
        let o = &mut self.out[from];
        o.hello_pending = false;
        if upto > o.acked {
            if let Some((pos, t)) = o.timed {
                if upto >= pos {
                    // RFC 6298 smoothing.
                    let r = now.mono - t;
                    match o.srtt {
                        None => {
                            o.srtt = Some(r);
                            o.rttvar = Span(r.0 / 2);
                        }
                        Some(s) => {
                            o.rttvar = Span((3 * o.rttvar.0 + s.0.abs_diff(r.0)) / 4);
                            o.srtt = Some(Span((7 * s.0 + r.0) / 8));
                        }
                    }
                    o.timed = None;
                }
            }
            if let Some(s) = o.srtt {
                o.rto = Span((s.0 + (4 * o.rttvar.0).max(1_000_000)).clamp(min.0, max.0));
            }
            o.acked = upto;
            o.timeouts = 0;
            if o.next <= upto {
                o.next = upto + 1;
            }
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
                Msg::Ack {
                    epoch: self.inc[s].epoch,
                    upto: self.inc[s].pos.upto(),
                },
            );
            self.send_notifies(out);
        } else {
            self.inc[s].need_ack = true;
            self.dirty = true;
            self.ensure_flush(now, out);
        }
        self.transmit_mask(queued, now, out);
    }

    fn transmit_mask(&mut self, mut mask: u64, now: Now, out: &mut Out) {
        while mask != 0 {
            let p = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            self.transmit(p, now, out, false);
        }
    }

    /// Tells origins which of their entries are now durable here (one message per origin).
    fn send_notifies(&mut self, out: &mut Out) {
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
            out.send(origin, Msg::Durable { epoch, seqs });
        }
        pending.clear();
        self.notify_pending = pending;
    }

    /// The sender restarted and lost its own entries after some mark: everything of its we
    /// still retain is exactly that tail. Re-originate it from here, straight to every region
    /// that holds its key (recovery ignores the route tree: relays may be what failed).
    fn relay_orphans(&mut self, now: Now, s: usize, out: &mut Out) {
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

    fn ensure_flush(&mut self, now: Now, out: &mut Out) {
        if !self.flush_armed {
            self.flush_armed = true;
            out.set_timer(self.timer(Timer::Flush), now.mono + self.cfg.flush_interval);
        }
    }

    fn flush(&mut self, out: &mut Out) {
        self.flush_armed = false;
        if !self.dirty {
            return;
        }
        self.dirty = false;
        self.sync(out);
        self.durable_own = self.own_seq;
        for s in 0..self.n() {
            if self.inc[s].need_ack {
                self.inc[s].need_ack = false;
                out.send(
                    RegionId(s as u16),
                    Msg::Ack {
                        epoch: self.inc[s].epoch,
                        upto: self.inc[s].pos.upto(),
                    },
                );
            }
        }
        self.send_notifies(out);
    }

    fn add_deadline(&mut self, now: Now, what: Pending, out: &mut Out) {
        let at = now.mono + self.cfg.plan.request_timeout;
        self.deadlines.push_back((at, what));
        if !self.deadline_armed {
            self.deadline_armed = true;
            out.set_timer(self.timer(Timer::Request), at);
        }
    }

    fn on_request_timer(&mut self, now: Now, out: &mut Out) {
        self.deadline_armed = false;
        while let Some(&(at, what)) = self.deadlines.front() {
            if at > now.mono {
                break;
            }
            self.deadlines.pop_front();
            match what {
                Pending::Commit(epoch, seq) => {
                    if epoch == self.epoch {
                        if let Some(c) = self.commits.remove(&seq) {
                            // A forwarding client region times out on its own deadline.
                            if c.client == self.me() {
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
            out.set_timer(self.timer(Timer::Request), at);
        }
    }

    fn reply_write(&self, client: RegionId, op: OpId, stamp: Stamp, out: &mut Out) {
        if client == self.me() {
            out.reply(Reply::WriteOk { op, stamp });
        } else {
            out.send(client, Msg::WriteDone { op, stamp });
        }
    }

    fn satisfied(need: Need, have: u64) -> bool {
        match need {
            Need::Count(k) => have.count_ones() >= k,
            Need::Region(r) => have & Replicator::bit(r) != 0,
            Need::All(mask) => have & mask == mask,
        }
    }

    /// Stamps, applies and ships a write this region originates for a client at `client`.
    #[allow(clippy::too_many_arguments)]
    fn originate(
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
        let seen = match (policy, kind.member()) {
            (Policy::LwwMap, Some((f, _))) => self
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
            let wall = match policy {
                Policy::LwwHlc => self.hlc.now(now.wall),
                // The earliest stamp must win: order by the negated clock.
                Policy::Fww => Wall(now.wall.0.saturating_neg()),
                _ => now.wall,
            };
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
        let waits = client.is_some() && !Replicator::satisfied(need, have);
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
                self.commits.insert(
                    id.seq,
                    Commit {
                        op,
                        client,
                        stamp,
                        need,
                        have,
                    },
                );
                self.add_deadline(now, Pending::Commit(self.epoch, id.seq), out);
            }
            Some(client) => self.reply_write(client, op, stamp, out),
            None => {}
        }
        self.transmit_mask(queued, now, out);
    }

    fn on_durable(&mut self, from: RegionId, epoch: u32, seqs: &[u64], out: &mut Out) {
        if epoch != self.epoch {
            return;
        }
        for &seq in seqs {
            if let Some(c) = self.commits.get_mut(&seq) {
                c.have |= Replicator::bit(from);
                if Replicator::satisfied(c.need, c.have) {
                    let c = self.commits.remove(&seq).expect("present");
                    self.reply_write(c.client, c.op, c.stamp, out);
                }
            }
        }
    }

    fn read(&mut self, now: Now, op: OpId, key: Key, level: Level, out: &mut Out) {
        let plan = Arc::clone(&self.cfg.plan);
        let me = self.me();
        let holders = plan.holders(key);
        let level = plan.read_level(level);
        if level == Level::Primary
            && self.chain_on()
            && (self.chain_reads().is_none()
                || (self.chain_reads() == Some(me) && !self.chain_serves_reads(now)))
        {
            // A chain region that restarted has not heard where the chain reads yet (its own
            // copy may be far behind), or it is the read region but cut off from the head.
            out.reply(Reply::Failed { op });
            return;
        }
        if level == Level::Primary
            && self.chain_on()
            && self.chain_reads() == Some(me)
            && !self.chain_read_settled(key)
        {
            // Reads still come here while a newer tail catches up, and this key has a write
            // that tail may not hold yet: answering it could show a value reads there miss.
            out.reply(Reply::Failed { op });
            return;
        }
        if level == Level::Primary && self.primary() == Some(me) && self.rebuilding() {
            // This region answers primary reads but lost its disk and has not heard every
            // peer's state yet: its copy may be missing acknowledged writes.
            out.reply(Reply::Failed { op });
            return;
        }
        if level == Level::Primary && self.primary() == Some(me) && !self.pb_serves_reads(now) {
            // This region led (or leads) but lost its lease, or is handing over: a newer
            // primary may already be committing writes its copy lacks.
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
                Msg::ReadReq {
                    op,
                    key,
                    primary: level == Level::Primary,
                },
            );
        }
        self.reads.insert(op, w);
        self.add_deadline(now, Pending::Read(op), out);
    }

    fn finish_read(&mut self, op: OpId, w: ReadWait, out: &mut Out) {
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
                    Msg::Repair {
                        key: w.key,
                        cell: best,
                        value_bytes: self.cfg.plan.value_bytes,
                        data: None,
                    },
                );
            }
        }
    }

    fn on_read_resp(&mut self, from: RegionId, op: OpId, cell: Option<Cell>, out: &mut Out) {
        let Some(w) = self.reads.get_mut(&op) else {
            return; // answered already, or timed out
        };
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
            let w = self.reads.remove(&op).expect("present");
            self.finish_read(op, w, out);
        }
    }

    #[cfg(test)]
    fn log_len(&self) -> usize {
        self.out.iter().map(|o| o.queue.len()).max().unwrap_or(0)
    }

    /// Transport: the oldest unacknowledged send to `p` may have timed out.
    fn on_retransmit_timer(&mut self, now: Now, p: usize, out: &mut Out) {
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
        let o = &mut self.out[p];
        o.timeouts += 1;
        if o.timeouts >= 2 {
            self.ae.unreachable |= 1u64 << p;
        }
        let o = &mut self.out[p];
        o.next = o.acked + 1;
        o.timed = None;
        o.rto = Span((o.rto.0.saturating_mul(2)).min(self.cfg.rto_max.0));
        o.deadline = None;
        if o.hello_pending {
            self.probe(p, out);
        }
        self.transmit(p, now, out, true);
        if self.out[p].deadline.is_none() {
            self.arm(p, now, out);
        }
    }
}

impl Replica for Replicator {
    type Msg = Msg;
    type Durable = Disk;
    type Config = Config;

    fn recover(cfg: &Config, disk: &Disk) -> Replicator {
        Replicator::from_disk(cfg.clone(), disk)
    }

    fn rebuild(cfg: &Config, image: &Disk, min_epoch: u32) -> Replicator {
        let mut r = Replicator::from_disk(cfg.clone(), image);
        r.epoch = r.epoch.max(min_epoch);
        r.rebuilt = true;
        // A backup taken while an earlier rebuild was still offering its state: this rebuild's
        // offers, once its own transfer is done, reach the same regions.
        r.relay_owed = 0;
        for o in r.out.iter_mut() {
            o.hello_pending = true;
        }
        let n = r.n();
        let all = if n >= 64 { u64::MAX } else { (1u64 << n) - 1 };
        r.restore = Some(restore::Restore {
            waiting: all & !(1u64 << r.me().0),
            sent: Mono(0),
            keys: 0,
            bytes: 0,
            heard: 0,
            noted: false,
            rebuild: true,
        });
        r
    }

    fn on_start(&mut self, now: Now, out: &mut Out) {
        self.now_mono = now.mono;
        self.persist(out, || Op::Epoch(self.epoch));
        self.repark(out);
        if self.restore.is_some() {
            self.persist_restore(out);
            self.restore_ask(now, out);
        }
        self.offer_state(now, out);
        if self.cfg.plan.failover.is_some() {
            self.fo_start(now, out);
        }
        self.sync(out);
        if let Some(ae) = &self.cfg.plan.anti_entropy {
            // Staggered, so regions do not all compare at the same instant.
            let first = Span(ae.interval.0 / self.n() as u64 * (self.me().idx() as u64 + 1));
            out.set_timer(self.timer(Timer::AntiEntropy), now.mono + first);
        }
        for p in self.peers() {
            if self.out[p].hello_pending {
                self.probe(p, out);
            }
            self.transmit(p, now, out, true);
        }
    }

    // The handlers of anti-entropy, failover and restore messages are `#[inline(never)]`:
    // they are rare next to replication, and keeping them out of this function keeps the
    // per-message path small in the instruction cache.
    fn on_message(&mut self, now: Now, from: RegionId, msg: Msg, out: &mut Out) {
        self.now_mono = now.mono;
        if self.restore.is_some() {
            self.restore_heard(from);
        }
        if self.ae.unreachable & Replicator::bit(from) != 0 {
            // A peer that had stopped answering is back: compare at once rather than wait.
            self.ae.unreachable &= !Replicator::bit(from);
            if self.ae.peers.contains(&from) && !self.ae_busy_with(from) {
                self.ae_start(from, now, out);
            }
        }
        match msg {
            Msg::AeHashes {
                session,
                level,
                nodes,
            } => self.on_ae_hashes(from, session, level, &nodes, out),
            Msg::AeCells {
                session,
                leaves,
                cells,
                data,
                reply,
                ..
            } => self.on_ae_cells(now, from, session, &leaves, &cells, &data, reply, out),
            Msg::AeDone { session, in_sync } => self.ae_finish(session, in_sync, out),
            Msg::Heartbeat(hb) => self.on_heartbeat(now, from, hb, out),
            Msg::VoteReq {
                term,
                pos,
                pre,
                transfer,
            } => self.on_vote_req(now, from, term, pos, pre, transfer, out),
            Msg::TransferReq => self.on_transfer_req(now, from, out),
            Msg::StateOffer => self.on_state_offer(now, from, out),
            Msg::StateReq { have } => self.on_state_req(from, have, out),
            Msg::State {
                cells, data, seen, ..
            } => self.on_state(now, from, cells, data, seen, out),
            Msg::TimeoutNow { term, upto } => self.on_timeout_now(now, from, term, upto, out),
            Msg::Vote { term, granted, pre } => self.on_vote(now, from, term, granted, pre, out),
            Msg::CatchUpReq {
                origin,
                epoch,
                after,
            } => self.on_catch_up_req(from, origin, epoch, after, out),
            Msg::CatchUp {
                origin,
                epoch,
                upto,
                entries,
                snapshot,
                ..
            } => self.on_catch_up(now, origin, epoch, upto, entries, snapshot, out),
            Msg::Resync { keys } => self.on_resync(from, keys, out),
            Msg::ResyncCells { cells, .. } => self.on_resync_cells(now, cells, out),
            Msg::NotPrimary { op } => self.on_not_primary(op, out),
            Msg::Replicate { term, .. }
                if self.fo.as_ref().is_some_and(|f| term > f.fences_term) =>
            {
                // Judged later, against the newer term's fences (the sender will resend).
            }
            Msg::Replicate {
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
            Msg::Ack { epoch, upto } => self.on_ack(now, from.idx(), epoch, upto, out),
            Msg::Durable { epoch, seqs } => self.on_durable(from, epoch, &seqs, out),
            Msg::Forward {
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
                if !self.forwarded_seen.insert(op) {
                    return; // a duplicated request
                }
                // Ids are issued in time order: anything far below the newest is long settled.
                while self
                    .forwarded_seen
                    .first()
                    .is_some_and(|f| f.0 + 1_000_000 < op.0)
                {
                    self.forwarded_seen.pop_first();
                }
                self.originate(now, op, key, value_bytes, level, kind, Some(from), out);
            }
            Msg::WriteDone { op, stamp } => {
                if self.forwards.remove(&op) {
                    out.reply(Reply::WriteOk { op, stamp });
                }
            }
            Msg::ReadReq { op, .. } if self.chain_on() && !self.chain_serves_reads(now) => {
                // No longer where the chain reads (it left, a new tail took over, or it lost
                // touch with the head): the client learns of the new chain and retries.
                out.send(from, Msg::NotPrimary { op });
            }
            Msg::ReadReq {
                op,
                key,
                primary: true,
            } if self.chain_on() && !self.chain_read_settled(key) => {
                // As in `read`: a write of this key may not have reached the new tail yet.
                out.send(from, Msg::NotPrimary { op });
            }
            Msg::ReadReq {
                op, primary: true, ..
            } if self.rebuilding() => {
                // Rebuilding from a lost disk: the copy may lack acknowledged writes until every
                // peer has answered (see `rebuilding`). The client's region fails the read.
                out.send(from, Msg::NotPrimary { op });
            }
            Msg::ReadReq {
                op, primary: true, ..
            } if !self.pb_serves_reads(now) => {
                // A primary read reached a deposed (or lease-less) primary: the client's
                // region fails it rather than hand out a value a newer primary may have
                // overwritten.
                out.send(from, Msg::NotPrimary { op });
            }
            Msg::ReadReq { op, key, .. } => {
                let cell = self.local_cell(key);
                out.send(
                    from,
                    Msg::ReadResp {
                        op,
                        cell,
                        value_bytes: if cell.is_some() {
                            self.cfg.plan.value_bytes
                        } else {
                            0
                        },
                    },
                );
            }
            Msg::ReadResp { op, cell, .. } => self.on_read_resp(from, op, cell, out),
            Msg::Fetch { key } => {
                if let Some(d) = self.data_of(key) {
                    let data = Some(Arc::new(d.clone()));
                    let cell = self.cell(key);
                    let value_bytes = self.cfg.plan.value_bytes;
                    out.send(
                        from,
                        Msg::Repair {
                            key,
                            cell,
                            value_bytes,
                            data,
                        },
                    );
                }
            }
            Msg::Repair {
                key, cell, data, ..
            } => {
                if self.cfg.plan.holds(self.me(), key) {
                    if data.is_some() {
                        self.install_value(key, cell, data.as_ref(), out);
                    } else {
                        self.apply_lww(key, cell, out);
                    }
                    if self.sync_mode() {
                        self.sync(out);
                    } else {
                        self.dirty = true;
                        self.ensure_flush(now, out);
                    }
                }
            }
        }
    }

    fn on_timer(&mut self, now: Now, id: TimerId, out: &mut Out) {
        self.now_mono = now.mono;
        let Some(timer) = Timer::from_id(id, self.n()) else {
            return;
        };
        match timer {
            Timer::Retransmit(p) => self.on_retransmit_timer(now, p, out),
            Timer::Flush => self.flush(out),
            Timer::Request => self.on_request_timer(now, out),
            Timer::Batch(p) => {
                self.out[p].batch_armed = false;
                self.transmit(p, now, out, true);
            }
            Timer::AntiEntropy => self.ae_tick(now, out),
            Timer::Operator => self.on_operator_timer(now, out),
            Timer::Gap => self.on_gap_timer(now, out),
            Timer::Restore => self.on_restore_timer(now, out),
            // Failover timers are only ever set with failover on.
            Timer::Heartbeat if self.fo.is_some() => self.hb_tick(now, out),
            Timer::Detect if self.fo.is_some() => self.on_detect_timer(now, out),
            Timer::Elect if self.fo.is_some() => self.on_elect_timer(now, out),
            Timer::Heartbeat | Timer::Detect | Timer::Elect => {}
        }
    }
    fn on_client_op(&mut self, now: Now, op: ClientOp, out: &mut Out) {
        self.now_mono = now.mono;
        match op {
            ClientOp::Read { op, key, level } => self.read(now, op, key, level, out),
            ClientOp::Write {
                op,
                key,
                value_bytes,
                level,
                kind,
            } => {
                let me = self.me();
                let originator = match self.fo {
                    Some(_) => self.fo_originator(),
                    None => self.cfg.plan.originator(me),
                };
                match originator {
                    None => out.reply(Reply::Failed { op }),
                    Some(o) if o == me && self.fo.is_some() && !self.fo_may_write(now) => {
                        out.reply(Reply::Failed { op })
                    }
                    Some(o) if o == me => {
                        self.originate(now, op, key, value_bytes, level, kind, Some(me), out)
                    }
                    Some(o) => {
                        out.send(
                            o,
                            Msg::Forward {
                                op,
                                key,
                                value_bytes,
                                level,
                                kind,
                            },
                        );
                        self.forwards.insert(op);
                        self.add_deadline(now, Pending::Forward(op), out);
                    }
                }
            }
        }
    }

    fn state_digest(&self) -> u64 {
        self.digest
    }

    fn is_quiescent(&self) -> bool {
        !self.dirty
            && self.commits.is_empty()
            && self.forwards.is_empty()
            && self.reads.is_empty()
            && self.peers().all(|p| !self.outstanding(p))
            && self.ae.owed == 0
            && self.restore.is_none()
            && self.relay_owed == 0
            && self.fo_quiescent()
            && self.gaps.is_empty()
            // Conflicts waiting for an operator are work still to do.
            && (self.cfg.plan.operator.is_none() || self.parked.is_empty())
    }

    fn cell_of(&self, key: Key) -> Option<Cell> {
        self.local_cell(key)
    }

    fn view_of(&self, key: Key) -> Option<View> {
        self.data_of(key).map(|d| d.view())
    }

    fn dots_of(&self, key: Key) -> Vec<Dot> {
        self.data_of(key)
            .and_then(|d| d.ctx())
            .map_or(Vec::new(), |c| {
                c.dots_missing_from(&super::causal::CausalContext::default())
            })
    }

    fn client_work(&self, op: &ClientOp) -> Work {
        let plan = &self.cfg.plan;
        let me = self.me();
        match *op {
            ClientOp::Write { key, .. } => {
                let originates = match self.fo {
                    Some(ref f) => f.leading,
                    None => plan.originator(me) == Some(me),
                };
                if originates && plan.holds(me, key) {
                    Work {
                        writes: 1,
                        reads: 0,
                    }
                } else {
                    Work::NONE
                }
            }
            ClientOp::Read { key, level, .. } => {
                let local = match (plan.read_level(level), self.primary()) {
                    (Level::Primary, Some(p)) => p == me,
                    _ => plan.holds(me, key),
                };
                if local {
                    Work {
                        writes: 0,
                        reads: 1,
                    }
                } else {
                    Work::NONE
                }
            }
        }
    }

    fn on_command(&mut self, now: Now, cmd: Command, out: &mut Out) {
        self.now_mono = now.mono;
        match cmd {
            Command::Promote => {
                if let Some(f) = self.fo.as_mut() {
                    f.promote = None; // a new order: its own tries
                    self.fo_promote(now, out);
                }
            }
        }
    }

    fn serves_writes(&self) -> bool {
        self.fo.is_none() || self.fo_serves_writes()
    }

    fn cells(&self) -> Box<dyn Iterator<Item = (Key, Cell)> + '_> {
        Box::new(
            self.cells
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.stamp.is_none())
                .map(|(k, c)| (Key(k as u64), *c)),
        )
    }
}

impl Replicator {
    /// Without hinted handoff, entries a peer has not acknowledged within the request timeout
    /// are given up: the peer is told (via `floor`) not to wait for them.
    fn give_up(&mut self, p: usize, now: Now, out: &mut Out) {
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
            for &r in &self.ae.peers {
                if missed & Replicator::bit(r) != 0 {
                    self.ae.owed |= Replicator::bit(r);
                    self.ae.owed_at[r.idx()] = now.mono;
                }
            }
        }
        // Tell the peer at once, so it stops waiting for the gap.
        if !self.outstanding(p) {
            self.probe(p, out);
        }
    }
}

/// Anti-entropy: a Merkle tree per peer over the key ranges both hold, compared top down in
/// alternating messages, so only ranges that differ are descended into and only their cells
/// cross the network.
impl Replicator {
    /// The regions that receive `e` through the link to `p`: `p` itself and, where `p`
    /// relays, every holder of `e`'s key below it in the origin's route tree.
    fn downstream(&self, p: usize, e: &Entry) -> u64 {
        let plan = &self.cfg.plan;
        let below = plan.routes[e.id.origin.idx()][self.me().idx()]
            .iter()
            .find(|(next, _)| next.idx() == p)
            .map_or(0, |&(_, reach)| reach & plan.holders(e.key));
        below | (1u64 << p)
    }

    fn ae_busy_with(&self, peer: RegionId) -> bool {
        self.ae.active.values().any(|(p, _)| *p == peer)
    }

    /// The regions whose shared keys a tree for `peer` covers (both bits), or all regions.
    fn ae_mask(&self, peer: RegionId) -> u64 {
        match self.cfg.plan.holders {
            None => u64::MAX,
            Some(_) => Replicator::bit(peer) | Replicator::bit(self.me()),
        }
    }

    fn shares(&self, mask: u64, key: usize) -> bool {
        mask == u64::MAX || self.cfg.plan.holders(Key(key as u64)) & mask == mask
    }

    fn leaf_of(keys: u64, leaves: u32, key: u64) -> usize {
        ((key as u128 * leaves as u128) / keys.max(1) as u128) as usize
    }

    /// Keys `lo..hi` of leaf range `leaf`.
    fn leaf_keys(keys: u64, leaves: u32, leaf: u32) -> std::ops::Range<u64> {
        let l = leaves as u128;
        let lo = (leaf as u128 * keys as u128).div_ceil(l) as u64;
        let hi = ((leaf as u128 + 1) * keys as u128).div_ceil(l) as u64;
        lo..hi.min(keys)
    }

    /// The tree (levels root first) for the keys shared with `peer`, and how many of those keys
    /// hold a value here. Rebuilt only when the state or the peer's key set changed.
    fn ae_tree(&mut self, peer: RegionId) -> (Arc<Vec<Vec<u64>>>, u64) {
        let mask = self.ae_mask(peer);
        if let Some(c) = &self.ae.cache {
            if c.mask == mask && c.digest == self.digest {
                return (Arc::clone(&c.levels), c.shared);
            }
        }
        let ae = self.cfg.plan.anti_entropy.clone().expect("anti-entropy on");
        let keys = self.cfg.plan.keys;
        let depth = ae.depth() as usize;
        let b = ae.branching as usize;
        let mut leaves = vec![0u64; ae.leaves as usize];
        let mut shared = 0u64;
        for (k, c) in self.cells.iter().enumerate() {
            if c.stamp.is_none() || k as u64 >= keys || !self.shares(mask, k) {
                continue;
            }
            shared += 1;
            let l = Replicator::leaf_of(keys, ae.leaves, k as u64);
            leaves[l] = leaves[l].wrapping_add(self.key_digest(Key(k as u64), c));
        }
        let mut levels = vec![leaves];
        for _ in 0..depth {
            let below = levels.last().expect("leaves");
            let up: Vec<u64> = below
                .chunks(b)
                .map(|ch| {
                    ch.iter().enumerate().fold(0u64, |a, (j, h)| {
                        a.wrapping_add(mix64(h ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9)))
                    })
                })
                .collect();
            levels.push(up);
        }
        levels.reverse();
        let t = Arc::new(levels);
        self.ae.cache = Some(TreeCache {
            mask,
            digest: self.digest,
            levels: Arc::clone(&t),
            shared,
        });
        (t, shared)
    }

    /// This region's cells, shared with `peer`, in the given leaf ranges.
    fn ae_cells_in(&self, peer: RegionId, leaves: &[u32]) -> Vec<(Key, Cell)> {
        let ae = self
            .cfg
            .plan
            .anti_entropy
            .as_ref()
            .expect("anti-entropy on");
        let keys = self.cfg.plan.keys;
        let mask = self.ae_mask(peer);
        let mut cells = Vec::new();
        for &l in leaves {
            for k in Replicator::leaf_keys(keys, ae.leaves, l) {
                let c = self.cell(Key(k));
                if !c.stamp.is_none() && self.shares(mask, k as usize) {
                    cells.push((Key(k), c));
                }
            }
        }
        cells
    }

    /// The data of those of `cells` whose tables keep data (shipped alongside them).
    fn data_for(&self, cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
        if self.data.is_empty() {
            return Vec::new();
        }
        cells
            .iter()
            .filter_map(|(k, _)| self.data_of(*k).map(|d| (*k, Arc::new(d.clone()))))
            .collect()
    }

    #[inline(never)]
    fn ae_start(&mut self, peer: RegionId, now: Now, out: &mut Out) {
        self.ae.last_id = self.ae.last_id.wrapping_add(1);
        let id = self.ae.last_id;
        self.ae.active.insert(id, (peer, now.mono));
        let (tree, shared) = self.ae_tree(peer);
        out.note(Note::AeStarted {
            full_state_bytes: RPC_BYTES + shared * (32 + self.cfg.plan.value_bytes as u64),
        });
        out.send(
            peer,
            Msg::AeHashes {
                session: AeSession {
                    initiator: self.me(),
                    id,
                    round: 1,
                },
                level: 0,
                nodes: vec![(0, tree[0][0])],
            },
        );
    }

    /// Ends `session` here: the initiator records it, anyone else tells the initiator.
    #[inline(never)]
    fn ae_finish(&mut self, session: AeSession, in_sync: bool, out: &mut Out) {
        if session.initiator == self.me() {
            if let Some((peer, started)) = self.ae.active.remove(&session.id) {
                if started >= self.ae.owed_at[peer.idx()] {
                    self.ae.owed &= !Replicator::bit(peer);
                }
                out.note(Note::AeFinished {
                    rounds: session.round,
                    in_sync,
                    took: self.now_mono - started,
                });
            }
        } else {
            out.send(
                session.initiator,
                Msg::AeDone {
                    session: session.next(),
                    in_sync,
                },
            );
        }
    }

    #[inline(never)]
    fn on_ae_hashes(
        &mut self,
        from: RegionId,
        session: AeSession,
        level: u8,
        nodes: &[(u32, u64)],
        out: &mut Out,
    ) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        let (tree, _) = self.ae_tree(from);
        let Some(mine) = tree.get(level as usize) else {
            return; // not a level of our tree: a peer configured differently
        };
        let differ: Vec<u32> = nodes
            .iter()
            .filter(|(i, h)| mine.get(*i as usize).is_some_and(|m| m != h))
            .map(|(i, _)| *i)
            .collect();
        if differ.is_empty() {
            self.ae_finish(session, level == 0, out);
            return;
        }
        if level as u32 == ae.depth() {
            let cells = self.ae_cells_in(from, &differ);
            let data = self.data_for(&cells);
            out.send(
                from,
                Msg::AeCells {
                    session: session.next(),
                    leaves: differ,
                    cells,
                    data,
                    reply: true,
                    value_bytes: self.cfg.plan.value_bytes,
                },
            );
            return;
        }
        let b = ae.branching;
        let below = &tree[level as usize + 1];
        let children = differ
            .iter()
            .flat_map(|&i| (i * b..(i + 1) * b).map(|c| (c, below[c as usize])))
            .collect();
        out.send(
            from,
            Msg::AeHashes {
                session: session.next(),
                level: level + 1,
                nodes: children,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn on_ae_cells(
        &mut self,
        now: Now,
        from: RegionId,
        session: AeSession,
        leaves: &[u32],
        cells: &[(Key, Cell)],
        data: &[(Key, Arc<Data>)],
        reply: bool,
        out: &mut Out,
    ) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        let keys = self.cfg.plan.keys;
        let me = self.me();
        let mut repaired = 0u32;
        let tables = Arc::clone(&self.cfg.plan.tables);
        for &(k, c) in cells {
            if k.0 >= keys || !self.cfg.plan.holds(me, k) {
                continue;
            }
            let d = data
                .binary_search_by_key(&k, |(dk, _)| *dk)
                .ok()
                .map(|i| &data[i].1);
            // A merging key's newest stamp says nothing about what else it holds: merge.
            let merges = tables.policy(k).merges();
            if (merges || c.stamp > self.cell(k).stamp) && self.install_value(k, c, d, out) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            out.note(Note::AeRepaired { keys: repaired });
            if self.sync_mode() {
                self.sync(out);
            } else {
                self.dirty = true;
                self.ensure_flush(now, out);
            }
        }
        if !reply {
            self.ae_finish(session, false, out);
            return;
        }
        let leaves: Vec<u32> = leaves.iter().copied().filter(|&l| l < ae.leaves).collect();
        // Send back only what is newer here than what they sent (or what they lack).
        let theirs: BTreeMap<Key, Stamp> = cells.iter().map(|(k, c)| (*k, c.stamp)).collect();
        let newer: Vec<(Key, Cell)> = self
            .ae_cells_in(from, &leaves)
            .into_iter()
            .filter(|(k, c)| {
                tables.policy(*k).merges() || theirs.get(k).is_none_or(|s| c.stamp > *s)
            })
            .collect();
        if newer.is_empty() {
            self.ae_finish(session, false, out);
            return;
        }
        let data = self.data_for(&newer);
        out.send(
            from,
            Msg::AeCells {
                session: session.next(),
                leaves,
                cells: newer,
                data,
                reply: false,
                value_bytes: self.cfg.plan.value_bytes,
            },
        );
    }

    /// A periodic round: owed peers first, then the next peers in turn, `fanout` in all.
    fn ae_tick(&mut self, now: Now, out: &mut Out) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        // A session unanswered for a whole interval was lost on the way; forget it.
        let expiry = ae.interval.max(self.cfg.plan.request_timeout);
        self.ae
            .active
            .retain(|_, (_, started)| *started + expiry > now.mono);
        let mut started = 0u32;
        let peers = self.ae.peers.clone();
        for &p in &peers {
            if started < ae.fanout
                && self.ae.owed & Replicator::bit(p) != 0
                && !self.ae_busy_with(p)
            {
                self.ae_start(p, now, out);
                started += 1;
            }
        }
        for _ in 0..peers.len() {
            if started >= ae.fanout {
                break;
            }
            let p = peers[self.ae.next % peers.len()];
            self.ae.next += 1;
            if !self.ae_busy_with(p) {
                self.ae_start(p, now, out);
                started += 1;
            }
        }
        out.set_timer(self.timer(Timer::AntiEntropy), now.mono + ae.interval);
    }
}

/// Three regions 100 ms heartbeats apart in failover tests: a 1 s heartbeat timeout, an 800 ms
/// lease with fencing, discard on rejoin, priority by index, 200 ms stagger.
#[cfg(test)]
pub(crate) fn failover_test_config(id: u16, strategy: super::plan::Strategy) -> Config {
    use crate::replica::detector::DetectorSpec;
    let r = RegionId;
    let mut plan = Plan::mesh(3, strategy);
    plan.failover = Some(super::plan::Failover {
        detector: DetectorSpec::Heartbeat {
            interval: Span::from_millis(100),
            timeout: Span::from_secs(1),
        },
        lease: Span::from_millis(800),
        fencing: true,
        rejoin: super::plan::Rejoin::Discard,
        manual: false,
        priority: vec![r(0), r(1), r(2)],
        stagger: Span::from_millis(200),
    });
    test_config(id, plan)
}

/// A durable region with the default window and timeouts, running `plan`: what state-machine
/// tests of failover and restore share.
#[cfg(test)]
pub(crate) fn test_config(id: u16, plan: Plan) -> Config {
    Config {
        id: RegionId(id),
        window: 64,
        max_batch: 16,
        rto_initial: Span::from_secs(1),
        rto_min: Span::from_millis(200),
        rto_max: Span::from_secs(5),
        flush_interval: Span::ZERO,
        durable: true,
        plan: Arc::new(plan),
    }
}

/// Test time: `ms` milliseconds on both clocks.
#[cfg(test)]
pub(crate) fn test_now(ms: u64) -> Now {
    Now {
        mono: Mono(ms * 1_000_000),
        wall: crate::time::Wall(ms as i64 * 1_000_000),
    }
}

/// A heartbeat from a follower of r0's term-1 stream, sent at `sent_ms`, echoing r0's heartbeat
/// of `echo_ms` (failover tests).
#[cfg(test)]
pub(crate) fn test_heartbeat(sent_ms: u64, echo_ms: Option<u64>) -> Heartbeat {
    Heartbeat {
        term: 1,
        leader: Some(RegionId(0)),
        epoch: 1,
        sent: Mono(sent_ms * 1_000_000),
        echo: echo_ms.map(|e| Mono(e * 1_000_000)),
        pos: (1, 0),
        commit: 0,
        fences: Arc::new(Vec::new()),
        chain: None,
    }
}

/// The notes in an outbox (test helper).
#[cfg(test)]
pub(crate) fn notes(out: &Outbox<Msg, Op>) -> Vec<Note> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Note(n) => Some(*n),
            _ => None,
        })
        .collect()
}

/// Collects the sends in an outbox (test and debugging helper).
pub fn sends(out: &Outbox<Msg, Op>) -> Vec<(RegionId, &Msg)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::Send { to, msg } => Some((*to, msg)),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::plan::Strategy;
    use crate::time::Wall;

    fn cfg(id: u16, flush: Span) -> Config {
        Config {
            id: RegionId(id),
            window: 4,
            max_batch: 2,
            rto_initial: Span::from_secs(1),
            rto_min: Span::from_millis(200),
            rto_max: Span::from_secs(5),
            flush_interval: flush,
            durable: true,
            plan: Arc::new(Plan::mesh(3, Strategy::MultiMaster)),
        }
    }

    fn now(ms: u64) -> Now {
        Now {
            mono: Mono(ms * 1_000_000),
            wall: Wall(ms as i64 * 1_000_000),
        }
    }

    fn write(r: &mut Replicator, t: u64, op: u64, key: u64) -> Out {
        let mut out = Out::default();
        r.on_client_op(
            now(t),
            ClientOp::Write {
                op: OpId(op),
                key: Key(key),
                value_bytes: 10,
                level: Level::Default,
                kind: WriteKind::Put,
            },
            &mut out,
        );
        out
    }

    /// Applies persisted ops to a disk, honouring `Sync` like the engine does.
    fn flush_to(disk: &mut Disk, pending: &mut Vec<Op>, out: Out) {
        for a in out.actions {
            match a {
                Action::Persist(op) => pending.push(op),
                Action::Sync => pending.drain(..).for_each(|op| disk.apply(op)),
                _ => {}
            }
        }
    }

    /// Two multi-master replicas whose every key is under `policy`, and their tables.
    fn policy_pair(policy: Policy) -> (Replicator, Replicator, Arc<crate::replica::data::Tables>) {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.tables = Arc::new(crate::replica::data::Tables::single(1024, policy));
        let plan = Arc::new(plan);
        let mk = |id: u16| {
            let mut c = cfg(id, Span::ZERO);
            c.plan = Arc::clone(&plan);
            Replicator::from_disk(c, &Disk::default())
        };
        (mk(0), mk(1), Arc::clone(&plan.tables))
    }

    /// Feeds what a replica reported (notes, client replies) to an observer at true time `t`.
    fn observe(o: &mut crate::metrics::Observer, r: u16, t_ms: u64, out: &Out) {
        let t = crate::time::SimTime(t_ms * 1_000_000);
        for a in &out.actions {
            match a {
                Action::Note(n) => o.on_note(RegionId(r), *n, t),
                Action::Reply(rep @ Reply::WriteOk { .. }) => {
                    o.on_reply(RegionId(r), *rep, None, t)
                }
                _ => {}
            }
        }
    }

    /// The oracle of clock skew: region b's clock runs S = 200 ms fast. b writes key 0 at
    /// t = 1000 ms (stamped 1200 ms); a receives it at 1010 ms and overwrites it at 1050 ms
    /// (stamped 1050 ms): causally later, stamped earlier. Last-writer-wins keeps b's value and
    /// the observer reports a's write as one lost update, a skew anomaly of 150 ms; an HLC
    /// stamps a's write above what it saw and loses nothing; siblings keep a's write (it
    /// replaced what it had seen) and lose nothing either.
    #[test]
    fn skew_loses_the_causally_later_write_under_lww_only() {
        use crate::metrics::Observer;
        use crate::replica::data::View;
        for (policy, lost, skew) in [
            (Policy::Lww, 1, 1),
            (Policy::LwwHlc, 0, 0),
            (Policy::Siblings, 0, 0),
        ] {
            let (mut a, mut b, tables) = policy_pair(policy);
            let mut o = Observer::new(2, 1024, None, 0, Span(1_000_000));
            o.set_tables(tables);
            let skewed = |ms: u64| Now {
                mono: Mono(ms * 1_000_000),
                wall: Wall((ms as i64 + 200) * 1_000_000),
            };
            let issue = |o: &mut Observer, r: u16, op: u64, ms: u64| {
                o.on_issue(
                    RegionId(r),
                    OpId(op),
                    Key(0),
                    Some(WriteKind::Put),
                    Level::Default,
                    crate::time::SimTime(ms * 1_000_000),
                )
            };
            issue(&mut o, 1, 0, 1000);
            let mut ob = Out::default();
            b.on_client_op(
                skewed(1000),
                ClientOp::Write {
                    op: OpId(0),
                    key: Key(0),
                    value_bytes: 10,
                    level: Level::Default,
                    kind: WriteKind::Put,
                },
                &mut ob,
            );
            observe(&mut o, 1, 1000, &ob);
            let mut oa = Out::default();
            a.on_message(now(1010), RegionId(1), sends(&ob)[0].1.clone(), &mut oa);
            observe(&mut o, 0, 1010, &oa);
            issue(&mut o, 0, 1, 1050);
            let oa = write(&mut a, 1050, 1, 0);
            observe(&mut o, 0, 1050, &oa);
            let mut ob = Out::default();
            b.on_message(skewed(1060), RegionId(0), sends(&oa)[0].1.clone(), &mut ob);
            observe(&mut o, 1, 1060, &ob);
            assert_eq!(a.state_digest(), b.state_digest(), "{policy:?} converges");
            let lu = o.lost_updates(&["a".to_string(), "b".to_string()]);
            assert_eq!((lu.total, lu.skew), (lost, skew), "{policy:?}: {lu:?}");
            if skew > 0 {
                assert_eq!(lu.examples[0].lost_op, 1);
                assert_eq!(lu.examples[0].skew_ms, Some(150.0));
                assert_eq!(a.cell(Key(0)).value, OpId(0), "b's value won");
            } else if policy == Policy::LwwHlc {
                assert_eq!(a.cell(Key(0)).value, OpId(1), "a's value won");
            }
            if policy == Policy::Siblings {
                assert_eq!(b.view_of(Key(0)), Some(View::Values(vec![OpId(1)])));
                assert_eq!(a.dots_of(Key(0)).len(), 2, "both writes are in its history");
            }
        }
    }

    /// Maps, field by field. Region b's clock runs 200 ms fast. Key 0: b puts field 1 at
    /// t = 1000 ms (write 0, stamped 1200); a receives it at 1010 and puts field 1 again at
    /// 1050 (write 3, stamped 1050): causally later, stamped earlier. Key 1: at 1000 a puts
    /// field 1 (write 1) and b field 2 (write 2), concurrently; each gets the other's at 1010.
    /// - `lww` (whole documents, read-modify-write): a's key-0 write loses by skew and a's
    ///   key-1 document loses to b's (field 1 is gone, though nobody removed it): 2 lost.
    /// - `lww-map`: only the same-field skew loss on key 0; key 1 keeps both fields.
    /// - `or-map`: nothing lost; the causally later put replaces the one it saw.
    #[test]
    fn map_policies_lose_field_writes_by_document_by_field_or_not_at_all() {
        use crate::metrics::Observer;
        use crate::replica::data::{Shape, Table, Tables, View};
        let map = |fields: &[(u32, u64)]| {
            View::Map(fields.iter().map(|&(f, op)| (f, vec![OpId(op)])).collect())
        };
        for (policy, lost, skew, key0, key1) in [
            (Policy::Lww, 2, 1, map(&[(1, 0)]), map(&[(2, 2)])),
            (Policy::LwwMap, 1, 1, map(&[(1, 0)]), map(&[(1, 1), (2, 2)])),
            (Policy::OrMap, 0, 0, map(&[(1, 3)]), map(&[(1, 1), (2, 2)])),
        ] {
            let mut plan = Plan::mesh(2, Strategy::MultiMaster);
            plan.tables = Arc::new(Tables(vec![Table {
                name: "profile".into(),
                first: 0,
                end: 1024,
                policy,
                shape: Shape::Map,
            }]));
            let plan = Arc::new(plan);
            let mk = |id: u16| {
                let mut c = cfg(id, Span::ZERO);
                c.plan = Arc::clone(&plan);
                Replicator::from_disk(c, &Disk::default())
            };
            let (mut a, mut b) = (mk(0), mk(1));
            let mut o = Observer::new(2, 1024, None, 0, Span(1_000_000));
            o.set_tables(Arc::clone(&plan.tables));
            let at = |ms: u64, fast: bool| Now {
                mono: Mono(ms * 1_000_000),
                wall: Wall((ms as i64 + if fast { 200 } else { 0 }) * 1_000_000),
            };
            // Region r puts `field` of `key` as write `op` at true time `ms`.
            let put = |o: &mut Observer, r: &mut Replicator, op: u64, key: u64, field, ms| {
                let id = r.me();
                let kind = WriteKind::PutField(field);
                let t = crate::time::SimTime(ms * 1_000_000);
                o.on_issue(id, OpId(op), Key(key), Some(kind), Level::Default, t);
                let mut out = Out::default();
                let w = ClientOp::Write {
                    op: OpId(op),
                    key: Key(key),
                    value_bytes: 10,
                    level: Level::Default,
                    kind,
                };
                r.on_client_op(at(ms, id == RegionId(1)), w, &mut out);
                observe(o, id.0, ms, &out);
                out
            };
            let deliver = |o: &mut Observer, to: &mut Replicator, from: &Out, ms: u64| {
                let mut out = Out::default();
                let id = to.me();
                let msg = sends(from)[0].1.clone();
                to.on_message(at(ms, id == RegionId(1)), RegionId(1 - id.0), msg, &mut out);
                observe(o, id.0, ms, &out);
            };
            let b0 = put(&mut o, &mut b, 0, 0, 1, 1000);
            let a1 = put(&mut o, &mut a, 1, 1, 1, 1000);
            let b1 = put(&mut o, &mut b, 2, 1, 2, 1000);
            deliver(&mut o, &mut a, &b0, 1010);
            deliver(&mut o, &mut a, &b1, 1010);
            deliver(&mut o, &mut b, &a1, 1010);
            let a0 = put(&mut o, &mut a, 3, 0, 1, 1050);
            deliver(&mut o, &mut b, &a0, 1060);
            assert_eq!(a.state_digest(), b.state_digest(), "{policy:?} converges");
            assert_eq!(a.view_of(Key(0)), Some(key0.clone()), "{policy:?} key 0");
            assert_eq!(b.view_of(Key(1)), Some(key1.clone()), "{policy:?} key 1");
            let lu = o.lost_updates(&["a".to_string(), "b".to_string()]);
            assert_eq!((lu.total, lu.skew), (lost, skew), "{policy:?}: {lu:?}");
            if skew > 0 {
                let e = lu.examples.iter().find(|e| e.skew_ms.is_some()).unwrap();
                assert_eq!((e.lost_op, e.skew_ms), (3, Some(150.0)));
            }
            // The field-level oracle: the puts seen by no later put of their field.
            let live = o.live_puts();
            assert_eq!(live.get(&(0, 1)), Some(&vec![3]), "{policy:?}");
            assert_eq!(live.get(&(1, 1)), Some(&vec![1]), "{policy:?}");
            assert_eq!(live.get(&(1, 2)), Some(&vec![2]), "{policy:?}");
        }
    }

    /// `manual`: a conflict on key 4 (home: region 0, as 4 mod 2 = 0) is parked in region 0's
    /// queue only, with the operator's timer set for the delay; when it fires the operator
    /// keeps the value written last (op 2) with a write covering both siblings, which ends the
    /// conflict at region 1 too. A client's covering write instead unparks it as the client's.
    #[test]
    fn manual_conflicts_wait_in_the_home_regions_queue_for_the_operator() {
        use crate::replica::data::View;
        let mk = |operator: Option<Span>| {
            let mut plan = Plan::mesh(2, Strategy::MultiMaster);
            plan.tables = Arc::new(crate::replica::data::Tables::single(1024, Policy::Manual));
            plan.operator = operator;
            let plan = Arc::new(plan);
            let mk = |id: u16| {
                let mut c = cfg(id, Span::ZERO);
                c.plan = Arc::clone(&plan);
                Replicator::from_disk(c, &Disk::default())
            };
            (mk(0), mk(1))
        };
        let delay = Span::from_millis(500);
        let (mut a, mut b) = mk(Some(delay));
        let oa = write(&mut a, 10, 1, 4);
        let ob = write(&mut b, 10, 2, 4);
        let (mut xa, mut xb) = (Out::default(), Out::default());
        a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut xa);
        b.on_message(now(20), RegionId(0), sends(&oa)[0].1.clone(), &mut xb);
        let parked = |o: &Out| {
            o.actions
                .iter()
                .filter(|x| {
                    matches!(
                        x,
                        Action::Note(Note::Parked {
                            key: Key(4),
                            depth: 1
                        })
                    )
                })
                .count()
        };
        assert_eq!(
            (parked(&xa), parked(&xb)),
            (1, 0),
            "only the home region parks"
        );
        assert!(xa.actions.iter().any(|x| matches!(
            x,
            Action::SetTimer { id, at } if *id == a.timer(Timer::Operator) && *at == Mono(520_000_000)
        )));
        assert!(
            !a.is_quiescent(),
            "a parked conflict with an operator is work to do"
        );
        assert_eq!(
            b.view_of(Key(4)),
            Some(View::Values(vec![OpId(1), OpId(2)]))
        );

        let mut xo = Out::default();
        let op_timer = a.timer(Timer::Operator);
        a.on_timer(now(520), op_timer, &mut xo);
        assert!(xo.actions.iter().any(|x| matches!(
            x,
            Action::Note(Note::Unparked { key: Key(4), by_operator: true, depth: 0, waited })
                if *waited == delay
        )));
        assert!(
            !xo.actions.iter().any(|x| matches!(
                x,
                Action::Note(Note::WriteStamped { .. }) | Action::Reply(_)
            )),
            "the operator's write has no client"
        );
        assert_eq!(a.view_of(Key(4)), Some(View::Values(vec![OpId(2)])));
        let resolution = sends(&xo)[0].1.clone();
        b.on_message(now(530), RegionId(0), resolution, &mut Out::default());
        assert_eq!(b.view_of(Key(4)), Some(View::Values(vec![OpId(2)])));
        assert_eq!(a.state_digest(), b.state_digest());

        // Without an operator the conflict waits, and a client's covering write ends it.
        let (mut a, mut b) = mk(None);
        let oa = write(&mut a, 10, 1, 4);
        let ob = write(&mut b, 10, 2, 4);
        let mut xa = Out::default();
        a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut xa);
        assert_eq!(parked(&xa), 1);
        assert!(!xa
            .actions
            .iter()
            .any(|x| matches!(x, Action::SetTimer { id, .. } if *id == a.timer(Timer::Operator))));
        b.on_message(
            now(20),
            RegionId(0),
            sends(&oa)[0].1.clone(),
            &mut Out::default(),
        );
        let xw = write(&mut a, 900, 3, 4);
        assert!(xw.actions.iter().any(|x| matches!(
            x,
            Action::Note(Note::Unparked {
                key: Key(4),
                by_operator: false,
                depth: 0,
                ..
            })
        )));
        assert_eq!(a.view_of(Key(4)), Some(View::Values(vec![OpId(3)])));
    }

    /// Two regions write the same key concurrently: siblings keep both values, and the next
    /// write from a region that has seen both resolves them.
    #[test]
    fn siblings_keep_concurrent_writes_until_a_write_that_saw_them() {
        use crate::replica::data::View;
        let (mut a, mut b, _) = policy_pair(Policy::Siblings);
        let oa = write(&mut a, 10, 1, 4);
        let ob = write(&mut b, 10, 2, 4);
        let mut x = Out::default();
        a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut x);
        assert!(x
            .actions
            .iter()
            .any(|a| matches!(a, Action::Note(Note::Merged { siblings: 2, .. }))));
        b.on_message(
            now(20),
            RegionId(0),
            sends(&oa)[0].1.clone(),
            &mut Out::default(),
        );
        assert_eq!(
            a.view_of(Key(4)),
            Some(View::Values(vec![OpId(1), OpId(2)]))
        );
        assert_eq!(a.state_digest(), b.state_digest());
        let oa = write(&mut a, 30, 3, 4);
        b.on_message(
            now(40),
            RegionId(0),
            sends(&oa)[0].1.clone(),
            &mut Out::default(),
        );
        assert_eq!(b.view_of(Key(4)), Some(View::Values(vec![OpId(3)])));
    }

    #[test]
    fn a_write_is_applied_acked_durable_and_shipped_to_every_peer() {
        let mut r = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
        let out = write(&mut r, 10, 7, 3);
        let kinds: Vec<&str> = out
            .actions
            .iter()
            .map(|a| match a {
                Action::Note(Note::WriteStamped { .. }) => "stamped",
                Action::Note(Note::Applied { .. }) => "applied",
                Action::Persist(_) => "persist",
                Action::Sync => "sync",
                Action::Reply(Reply::WriteOk { .. }) => "ack",
                Action::Send { .. } => "send",
                Action::SetTimer { .. } => "timer",
                _ => "other",
            })
            .collect();
        // Durable (sync) strictly before the client ack; shipped after.
        assert_eq!(
            kinds,
            [
                "stamped", "persist", "persist", "applied", "persist", "persist", "persist",
                "sync", "ack", "send", "timer", "send", "timer"
            ]
        );
        let s = sends(&out);
        assert_eq!(s.iter().map(|(to, _)| to.0).collect::<Vec<_>>(), [1, 2]);
        match s[0].1 {
            Msg::Replicate {
                first,
                entries,
                retransmit,
                ..
            } => {
                assert_eq!((*first, entries.len(), *retransmit), (1, 1, false));
                assert_eq!(entries[0].cell.value, OpId(7));
                assert!(entries[0].verify());
            }
            m => panic!("{m:?}"),
        }
    }

    #[test]
    fn receiver_applies_once_and_acks_cumulatively() {
        let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
        let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &Disk::default());
        let out = write(&mut a, 1, 1, 5);
        let msg = sends(&out)[0].1.clone();
        let mut ob = Out::default();
        b.on_message(now(2), RegionId(0), msg.clone(), &mut ob);
        assert_eq!(b.cell(Key(5)).value, OpId(1));
        assert_eq!(
            sends(&ob),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
        // A duplicate changes nothing but is acknowledged again.
        let mut ob2 = Out::default();
        b.on_message(now(3), RegionId(0), msg, &mut ob2);
        assert!(!ob2
            .actions
            .iter()
            .any(|a| matches!(a, Action::Note(Note::Applied { .. }))));
        assert_eq!(
            sends(&ob2),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
        assert_eq!(a.state_digest(), b.state_digest());
    }

    #[test]
    fn out_of_order_delivery_waits_for_the_gap() {
        let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
        let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &Disk::default());
        let m1 = sends(&write(&mut a, 1, 1, 1))[0].1.clone();
        let m2 = sends(&write(&mut a, 2, 2, 2))[0].1.clone();
        let mut o = Out::default();
        b.on_message(now(5), RegionId(0), m2, &mut o);
        assert_eq!(sends(&o)[0].1, &Msg::Ack { epoch: 1, upto: 0 });
        assert_eq!(b.cell(Key(2)).value, OpId(2), "applied even out of order");
        let mut o = Out::default();
        b.on_message(now(6), RegionId(0), m1, &mut o);
        assert_eq!(sends(&o)[0].1, &Msg::Ack { epoch: 1, upto: 2 });
    }

    #[test]
    fn timeout_goes_back_n_with_backoff_and_window() {
        let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
        for i in 0..6 {
            let out = write(&mut a, i, i, i);
            // Window 4: the 5th and 6th writes are not sent until acks arrive.
            let to_b = sends(&out).iter().filter(|(to, _)| to.0 == 1).count();
            assert_eq!(to_b, usize::from(i < 4), "write {i}");
        }
        let mut out = Out::default();
        a.on_timer(now(1000), a.timer(Timer::Retransmit(1)), &mut out);
        let s: Vec<_> = sends(&out)
            .into_iter()
            .filter(|(to, _)| to.0 == 1)
            .collect();
        // Resends positions 1..=4 in batches of 2, flagged as retransmissions.
        let firsts: Vec<(u64, usize, bool)> = s
            .iter()
            .map(|(_, m)| match m {
                Msg::Replicate {
                    first,
                    entries,
                    retransmit,
                    ..
                } => (*first, entries.len(), *retransmit),
                _ => panic!(),
            })
            .collect();
        assert_eq!(firsts, [(1, 2, true), (3, 2, true)]);
        let timer = out.actions.iter().find_map(|x| match x {
            Action::SetTimer { id, at } if id.0 == 1 => Some(*at),
            _ => None,
        });
        assert_eq!(
            timer,
            Some(Mono(1000 * 1_000_000 + 2_000_000_000)),
            "timeout doubled to 2s"
        );
        // An ack of 4 opens the window for 5 and 6.
        let mut out = Out::default();
        a.on_message(
            now(1100),
            RegionId(1),
            Msg::Ack { epoch: 1, upto: 4 },
            &mut out,
        );
        let s = sends(&out);
        assert_eq!(s.len(), 1);
        assert!(matches!(s[0].1, Msg::Replicate { first: 5, entries, .. } if entries.len() == 2));
    }

    #[test]
    fn log_is_truncated_once_every_peer_acked() {
        let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
        write(&mut a, 1, 1, 1);
        write(&mut a, 2, 2, 2);
        let mut out = Out::default();
        a.on_message(
            now(3),
            RegionId(1),
            Msg::Ack { epoch: 1, upto: 2 },
            &mut out,
        );
        assert_eq!(a.log_len(), 2);
        assert!(!a.is_quiescent());
        a.on_message(
            now(3),
            RegionId(2),
            Msg::Ack { epoch: 1, upto: 1 },
            &mut out,
        );
        assert_eq!(a.log_len(), 1);
        a.on_message(
            now(3),
            RegionId(2),
            Msg::Ack { epoch: 1, upto: 2 },
            &mut out,
        );
        assert_eq!(a.log_len(), 0);
        assert!(a.is_quiescent());
    }

    #[test]
    fn flush_mode_acks_clients_first_and_peers_only_after_fsync() {
        let ten = Span::from_millis(10);
        let mut a = Replicator::from_disk(cfg(0, ten), &Disk::default());
        let mut b = Replicator::from_disk(cfg(1, ten), &Disk::default());
        let out = write(&mut a, 0, 1, 1);
        assert!(
            !out.actions.iter().any(|x| matches!(x, Action::Sync)),
            "no fsync before the ack"
        );
        assert!(out
            .actions
            .iter()
            .any(|x| matches!(x, Action::Reply(Reply::WriteOk { .. }))));
        let msg = sends(&out)[0].1.clone();
        let mut ob = Out::default();
        b.on_message(now(1), RegionId(0), msg, &mut ob);
        assert!(sends(&ob).is_empty(), "no ack before the flush");
        let mut ob = Out::default();
        b.on_timer(now(11), b.timer(Timer::Flush), &mut ob);
        assert!(matches!(ob.actions[0], Action::Sync));
        assert_eq!(
            sends(&ob),
            vec![(RegionId(0), &Msg::Ack { epoch: 1, upto: 1 })]
        );
    }

    #[test]
    fn crash_before_fsync_recovers_orphans_from_peers() {
        let ten = Span::from_millis(10);
        let mut disk_a = Disk::default();
        let mut pend_a = Vec::new();
        let mut a = Replicator::from_disk(cfg(0, ten), &disk_a);
        let mut b = Replicator::from_disk(cfg(1, ten), &Disk::default());
        let mut c = Replicator::from_disk(cfg(2, ten), &Disk::default());
        let mut o = Out::default();
        a.on_start(now(0), &mut o);
        flush_to(&mut disk_a, &mut pend_a, o);
        // Write reaches b only; a crashes before its fsync.
        let out = write(&mut a, 1, 42, 9);
        let to_b = sends(&out)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        flush_to(&mut disk_a, &mut pend_a, out);
        let mut ob = Out::default();
        b.on_message(now(2), RegionId(0), to_b, &mut ob);
        assert_eq!(b.cell(Key(9)).value, OpId(42));
        // Crash: pending ops are lost; the write is gone from a's disk.
        let mut a2 = Replicator::from_disk(cfg(0, ten), &disk_a);
        assert!(a2.cell(Key(9)).stamp.is_none());
        let mut o = Out::default();
        a2.on_start(now(20), &mut o);
        let probe_b = sends(&o)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        // b learns of the restart and relays the orphan to a and c.
        let mut ob = Out::default();
        b.on_message(now(30), RegionId(0), probe_b, &mut ob);
        let relays = sends(&ob);
        let to_a = relays.iter().find(|(t, _)| t.0 == 0).unwrap().1.clone();
        let to_c = relays.iter().find(|(t, _)| t.0 == 2).unwrap().1.clone();
        let mut o = Out::default();
        a2.on_message(now(40), RegionId(1), to_a, &mut o);
        c.on_message(now(40), RegionId(1), to_c, &mut Out::default());
        assert_eq!(a2.cell(Key(9)).value, OpId(42));
        assert_eq!(c.cell(Key(9)).value, OpId(42));
        assert_eq!(a2.state_digest(), b.state_digest());
        assert_eq!(b.state_digest(), c.state_digest());
    }

    /// Swarm seed 5045: the region holding an origin's orphans restarts (after its own fsync)
    /// while the origin is down. Its retained entries used to live only in memory, so when the
    /// origin came back without its unsynced tail nobody relayed it and the origin never
    /// learned the write its peers held. They are now on disk, and b still relays.
    #[test]
    fn orphans_survive_a_restart_of_the_region_holding_them() {
        let ten = Span::from_millis(10);
        let mut disk_a = Disk::default();
        let mut pend_a = Vec::new();
        let mut disk_b = Disk::default();
        let mut pend_b = Vec::new();
        let mut a = Replicator::from_disk(cfg(0, ten), &disk_a);
        let mut b = Replicator::from_disk(cfg(1, ten), &disk_b);
        let mut c = Replicator::from_disk(cfg(2, ten), &Disk::default());
        let mut o = Out::default();
        a.on_start(now(0), &mut o);
        flush_to(&mut disk_a, &mut pend_a, o);
        let mut o = Out::default();
        b.on_start(now(0), &mut o);
        flush_to(&mut disk_b, &mut pend_b, o);
        // The write reaches b only; a crashes before its fsync.
        let out = write(&mut a, 1, 42, 9);
        let to_b = sends(&out)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        flush_to(&mut disk_a, &mut pend_a, out);
        let mut ob = Out::default();
        b.on_message(now(2), RegionId(0), to_b, &mut ob);
        flush_to(&mut disk_b, &mut pend_b, ob);
        // b's group commit makes the entry durable, then b crashes and restarts too.
        let mut ob = Out::default();
        b.on_timer(now(12), b.timer(Timer::Flush), &mut ob);
        flush_to(&mut disk_b, &mut pend_b, ob);
        assert_eq!(disk_b.retained[0].len(), 1, "retained on disk");
        let mut b = Replicator::from_disk(cfg(1, ten), &disk_b);
        assert_eq!(b.cell(Key(9)).value, OpId(42));
        let mut ob = Out::default();
        b.on_start(now(15), &mut ob);
        flush_to(&mut disk_b, &mut pend_b, ob);
        // a comes back without the write; b learns of it and relays the orphan to a and c.
        let mut a2 = Replicator::from_disk(cfg(0, ten), &disk_a);
        assert!(a2.cell(Key(9)).stamp.is_none());
        let mut o = Out::default();
        a2.on_start(now(20), &mut o);
        let probe_b = sends(&o)
            .into_iter()
            .find(|(t, _)| t.0 == 1)
            .unwrap()
            .1
            .clone();
        let mut ob = Out::default();
        b.on_message(now(30), RegionId(0), probe_b, &mut ob);
        let relays = sends(&ob);
        let to_a = relays.iter().find(|(t, _)| t.0 == 0).unwrap().1.clone();
        let to_c = relays.iter().find(|(t, _)| t.0 == 2).unwrap().1.clone();
        flush_to(&mut disk_b, &mut pend_b, ob);
        a2.on_message(now(40), RegionId(1), to_a, &mut Out::default());
        c.on_message(now(40), RegionId(1), to_c, &mut Out::default());
        assert_eq!(a2.cell(Key(9)).value, OpId(42));
        assert_eq!(c.cell(Key(9)).value, OpId(42));
        assert_eq!(a2.state_digest(), b.state_digest());
        assert_eq!(b.state_digest(), c.state_digest());
        // Relayed once: the disk no longer retains it (its copies are on b's links).
        let mut ob = Out::default();
        b.on_timer(now(45), b.timer(Timer::Flush), &mut ob);
        flush_to(&mut disk_b, &mut pend_b, ob);
        assert!(disk_b.retained[0].is_empty());
        assert_eq!(disk_b.links[0].len() + disk_b.links[2].len(), 2);
    }

    fn ae_cfg(id: u16) -> Config {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.keys = 64;
        plan.anti_entropy = Some(crate::replica::plan::AntiEntropy {
            interval: Span::from_secs(1),
            fanout: 1,
            leaves: 16,
            branching: 4,
        });
        Config {
            plan: Arc::new(plan),
            durable: false,
            ..cfg(id, Span::ZERO)
        }
    }

    /// Runs one anti-entropy session from `a` (region 0) to `b` (region 1), delivering every
    /// anti-entropy message at once and dropping all other traffic. Returns the kinds of the
    /// messages in order, their total bytes, and the notes the initiator emitted.
    fn ae_session(a: &mut Replicator, b: &mut Replicator) -> (Vec<&'static str>, u64, Vec<Note>) {
        let mut out = Out::default();
        a.ae_start(RegionId(1), now(1000), &mut out);
        let (mut kinds, mut bytes, mut notes) = (Vec::new(), 0u64, Vec::new());
        let mut queue: VecDeque<(RegionId, RegionId, Msg)> = VecDeque::new();
        let take = |from: RegionId, out: Out, q: &mut VecDeque<_>, notes: &mut Vec<Note>| {
            for act in out.actions {
                match act {
                    Action::Send { to, msg } if msg.class() == MsgClass::AntiEntropy => {
                        q.push_back((from, to, msg))
                    }
                    Action::Note(n) if from == RegionId(0) => notes.push(n),
                    _ => {}
                }
            }
        };
        take(RegionId(0), out, &mut queue, &mut notes);
        while let Some((from, to, msg)) = queue.pop_front() {
            kinds.push(msg.kind());
            bytes += msg.wire_bytes();
            let mut out = Out::default();
            let r = if to == RegionId(0) { &mut *a } else { &mut *b };
            r.on_message(now(1001), from, msg, &mut out);
            take(to, out, &mut queue, &mut notes);
            assert!(kinds.len() < 50, "session does not end: {kinds:?}");
        }
        (kinds, bytes, notes)
    }

    #[test]
    fn anti_entropy_in_sync_is_one_message() {
        let (mut a, mut b) = (
            Replicator::from_disk(ae_cfg(0), &Disk::default()),
            Replicator::from_disk(ae_cfg(1), &Disk::default()),
        );
        let (kinds, _, notes) = ae_session(&mut a, &mut b);
        // b matches the root and tells a the session is over.
        assert_eq!(kinds, ["ae-hashes", "ae-done"]);
        assert!(notes.iter().any(|n| matches!(
            n,
            Note::AeFinished {
                rounds: 2,
                in_sync: true,
                ..
            }
        )));
    }

    #[test]
    fn anti_entropy_descends_only_into_the_range_that_differs() {
        let (mut a, mut b) = (
            Replicator::from_disk(ae_cfg(0), &Disk::default()),
            Replicator::from_disk(ae_cfg(1), &Disk::default()),
        );
        for k in 0..64 {
            // The same writes everywhere (as if replicated), except key 37 only at b.
            let c = Cell {
                stamp: Stamp::new(Wall(k as i64), RegionId(0), 1, k as u32 + 1),
                value: OpId(k + 1),
            };
            a.apply_lww(Key(k), c, &mut Out::default());
            b.apply_lww(Key(k), c, &mut Out::default());
        }
        write(&mut b, 500, 999, 37);
        assert_ne!(a.state_digest(), b.state_digest());
        let (kinds, bytes, notes) = ae_session(&mut a, &mut b);
        // a: the root; b: its 4 children; a: the 4 leaves under the child that differs; b: the
        // 4 cells of the one differing leaf (16 leaves over 64 keys). a has nothing newer to
        // send back and, being the initiator, ends the session itself.
        assert_eq!(kinds, ["ae-hashes", "ae-hashes", "ae-hashes", "ae-cells"]);
        assert_eq!(a.cell(Key(37)).value, OpId(999));
        assert_eq!(a.state_digest(), b.state_digest());
        let full = match notes[0] {
            Note::AeStarted { full_state_bytes } => full_state_bytes,
            ref n => panic!("{n:?}"),
        };
        assert_eq!(full, RPC_BYTES + 64 * (32 + 100));
        assert!(bytes * 10 < full, "{bytes} vs full state {full}");
        assert!(notes.iter().any(|n| matches!(
            n,
            Note::AeFinished {
                rounds: 4,
                in_sync: false,
                ..
            }
        )));
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever each side missed, one session leaves both with the newest value of every key.
        #[test]
        fn anti_entropy_converges_from_any_divergence(
            wa in proptest::collection::vec((0u64..64, 0u64..100), 0..40),
            wb in proptest::collection::vec((0u64..64, 0u64..100), 0..40),
        ) {
            let (mut a, mut b) = (
                Replicator::from_disk(ae_cfg(0), &Disk::default()),
                Replicator::from_disk(ae_cfg(1), &Disk::default()),
            );
            for (i, (k, t)) in wa.iter().enumerate() {
                write(&mut a, *t, i as u64 + 1, *k);
            }
            for (i, (k, t)) in wb.iter().enumerate() {
                write(&mut b, *t, 1000 + i as u64, *k);
            }
            let want: Vec<Cell> = (0..64)
                .map(|k| {
                    let (x, y) = (a.cell(Key(k)), b.cell(Key(k)));
                    if x.stamp >= y.stamp { x } else { y }
                })
                .collect();
            ae_session(&mut a, &mut b);
            proptest::prop_assert_eq!(a.state_digest(), b.state_digest());
            for k in 0..64u64 {
                proptest::prop_assert_eq!(a.cell(Key(k)), want[k as usize]);
            }
        }
    }

    /// Swarm seed 917: a catch-up from a rebuilt relay completes, and the region crashes
    /// before its next fsync. What survives must be the finished transfer, not one still owed
    /// by no peer (which waited for no answer forever: never quiescent).
    #[test]
    fn a_state_transfer_completes_on_disk_with_its_values() {
        let mut disk = Disk::default();
        let mut pending = Vec::new();
        let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &disk);
        let mut out = Out::default();
        b.on_start(now(0), &mut out);
        flush_to(&mut disk, &mut pending, out);
        let mut out = Out::default();
        b.on_message(now(10), RegionId(0), Msg::StateOffer, &mut out);
        flush_to(&mut disk, &mut pending, out);
        assert!(b.restore.is_some());
        let cell = Cell {
            stamp: Stamp::new(Wall(5_000_000), RegionId(0), 1, 1),
            value: OpId(9),
        };
        let state = Msg::State {
            cells: vec![(Key(3), cell)],
            data: Vec::new(),
            seen: Vec::new(),
            value_bytes: 10,
        };
        let mut out = Out::default();
        b.on_message(now(20), RegionId(0), state, &mut out);
        assert!(b.restore.is_none());
        // The crash: only what was synced survives.
        flush_to(&mut disk, &mut pending, out);
        assert_eq!(disk.restore, None);
        let b = Replicator::from_disk(cfg(1, Span::ZERO), &disk);
        assert!(b.restore.is_none());
        assert_eq!(b.cell(Key(3)), cell);
    }
}
