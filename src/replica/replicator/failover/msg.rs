//! Failover messages and the data they carry (heartbeats, fences, history positions).

use super::super::msg::{writes, RPC_BYTES};
use super::super::{ChainView, Entry, EntryId};
use crate::replica::{Cell, Key, MsgClass, RegionId, WireMessage, Work};
use crate::time::Mono;
use std::sync::Arc;

/// Failover: heartbeats, elections, handovers, and bringing backups onto the new primary's history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FoMsg {
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
    /// Failover: to the primary, from a region an operator asked to promote: hand over.
    TransferReq,
    /// From the primary handing over (it has stopped taking writes): stand for election in
    /// the next term as soon as you hold my stream up to `upto`.
    TimeoutNow {
        term: u64,
        upto: u64,
    },
}

impl WireMessage for FoMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            FoMsg::Heartbeat(h) => {
                RPC_BYTES
                    + 56
                    + 24 * h.fences.len() as u64
                    + h.chain.as_ref().map_or(0, |c| c.wire_bytes())
            }
            FoMsg::VoteReq { .. } => RPC_BYTES + 25,
            FoMsg::TransferReq => RPC_BYTES,
            FoMsg::TimeoutNow { .. } => RPC_BYTES + 16,
            FoMsg::Vote { .. } => RPC_BYTES + 9,
            FoMsg::CatchUpReq { .. } => RPC_BYTES + 16,
            FoMsg::CatchUp {
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
            FoMsg::Resync { keys } => RPC_BYTES + 8 * keys.len() as u64,
            FoMsg::ResyncCells { cells, value_bytes } => {
                RPC_BYTES + cells.len() as u64 * (32 + *value_bytes as u64)
            }
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            FoMsg::Heartbeat(_)
            | FoMsg::VoteReq { .. }
            | FoMsg::TransferReq
            | FoMsg::TimeoutNow { .. }
            | FoMsg::Vote { .. }
            | FoMsg::CatchUpReq { .. }
            | FoMsg::CatchUp { .. }
            | FoMsg::Resync { .. }
            | FoMsg::ResyncCells { .. } => MsgClass::Control,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            FoMsg::Heartbeat(_) => "heartbeat",
            FoMsg::VoteReq { pre: true, .. } => "pre-vote-request",
            FoMsg::VoteReq { .. } => "vote-request",
            FoMsg::TransferReq => "transfer-request",
            FoMsg::TimeoutNow { .. } => "timeout-now",
            FoMsg::Vote { .. } => "vote",
            FoMsg::CatchUpReq { .. } => "catch-up-request",
            FoMsg::CatchUp { .. } => "catch-up",
            FoMsg::Resync { .. } => "resync",
            FoMsg::ResyncCells { .. } => "resync-cells",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            FoMsg::Heartbeat(h) => {
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
            FoMsg::VoteReq {
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
            FoMsg::TransferReq => 22 << 58,
            FoMsg::TimeoutNow { term, upto } => 23 << 58 ^ term << 32 ^ upto,
            FoMsg::Vote { term, granted, pre } => {
                16 << 58 ^ term << 2 ^ (*granted as u64) << 1 ^ *pre as u64
            }
            FoMsg::CatchUpReq {
                origin,
                epoch,
                after,
            } => 17 << 58 ^ (origin.0 as u64) << 48 ^ (*epoch as u64) << 32 ^ after,
            FoMsg::CatchUp {
                upto,
                entries,
                snapshot,
                ..
            } => 18 << 58 ^ upto ^ (entries.len() as u64) << 32 ^ (snapshot.len() as u64) << 16,
            FoMsg::Resync { keys } => {
                19 << 58 ^ keys.iter().fold(0u64, |a, k| a.rotate_left(5) ^ k.0)
            }
            FoMsg::ResyncCells { cells, .. } => {
                20 << 58
                    ^ cells.iter().fold(0u64, |a, (k, c)| {
                        a.rotate_left(5) ^ k.0 ^ c.map_or(0, |c| c.value.0)
                    })
            }
        }
    }

    fn work(&self) -> Work {
        match self {
            FoMsg::CatchUp {
                entries, snapshot, ..
            } => writes(entries.len() + snapshot.len()),
            FoMsg::ResyncCells { cells, .. } => writes(cells.len()),
            _ => Work::NONE,
        }
    }

    fn is_background(&self) -> bool {
        matches!(self, FoMsg::Heartbeat(_))
    }

    fn is_retransmission(&self) -> bool {
        false
    }

    fn carries_key(&self, _key: Key) -> bool {
        false
    }
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
