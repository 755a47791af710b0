//! Sans-IO replica interface: what a replica is given (local time, messages, timers, client ops)
//! and what it may ask for (sends, timers, replies, persistence), plus the shared data types.
//!
//! Nothing under `replica/` knows the engine exists. A replica never reads a clock (time comes
//! in `Now`), never touches a socket (it pushes `Action::Send`), and owns no randomness. The
//! same code could sit behind a real event loop; the engine is one such loop.

pub mod causal;
pub mod crdt;
pub mod data;
pub mod detector;
pub mod modes;
pub mod plan;
pub mod replicator;
pub mod seqset;

use crate::time::{Mono, Span, Wall};
use std::fmt;

/// A region's index in the scenario's region list.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RegionId(pub u16);

impl RegionId {
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

/// A key of the replicated key-value space.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Key(pub u64);

/// A client operation's id, unique within a run; the written value of a write.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct OpId(pub u64);

impl OpId {
    /// Reads get ids in the top half of the id space, so a write's id indexes the write log.
    pub const READ_BIT: u64 = 1 << 63;
    pub fn is_read(self) -> bool {
        self.0 & OpId::READ_BIT != 0
    }
}

/// The version stamp that orders writes under last-writer-wins: the writer's wall clock, then
/// a tie-break of (region, incarnation, per-incarnation counter) so every stamp is unique.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp {
    pub wall: Wall,
    pub tie: u64,
}

impl Stamp {
    /// Below every real stamp: "no value yet".
    pub const NONE: Stamp = Stamp {
        wall: Wall(i64::MIN),
        tie: 0,
    };

    pub fn new(wall: Wall, region: RegionId, epoch: u32, counter: u32) -> Stamp {
        Stamp {
            wall,
            tie: ((region.0 as u64) << 48) | (((epoch & 0xffff) as u64) << 32) | counter as u64,
        }
    }

    pub fn region(self) -> RegionId {
        RegionId((self.tie >> 48) as u16)
    }

    pub fn is_none(self) -> bool {
        self == Stamp::NONE
    }
}

impl fmt::Display for Stamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_none() {
            f.write_str("none")
        } else {
            write!(
                f,
                "{}ns@r{}#{}",
                self.wall.0,
                self.region().0,
                self.tie & 0xffff_ffff_ffff
            )
        }
    }
}

/// A stored value: its stamp and the id of the write that produced it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub struct Cell {
    pub stamp: Stamp,
    pub value: OpId,
}

/// The replica's view of "now": both clocks of its own machine, never the true time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Now {
    pub mono: Mono,
    pub wall: Wall,
}

/// A replica-chosen timer name; setting a timer that is already set moves it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u32);

/// A per-operation consistency level (tunable consistency). `Default` means the replication
/// mode's own default for that kind of operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    #[default]
    Default,
    /// Answered by the replica in the client's region (writes: acknowledged once held there).
    Local,
    /// A majority of the key's replicas (in quorum mode: `w` for writes, `r` for reads).
    Quorum,
    /// Read from the primary (primary-backup) or the tail (chain).
    Primary,
    /// Every replica of the key.
    All,
}

impl Level {
    pub const ALL: [Level; 5] = [
        Level::Default,
        Level::Local,
        Level::Quorum,
        Level::Primary,
        Level::All,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Default => "default",
            Level::Local => "local",
            Level::Quorum => "quorum",
            Level::Primary => "primary",
            Level::All => "all",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

/// A client request delivered to the replica in the client's home region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    Write {
        op: OpId,
        key: Key,
        value_bytes: u32,
        level: Level,
        kind: data::WriteKind,
    },
    Read {
        op: OpId,
        key: Key,
        level: Level,
    },
}

/// An operator's instruction to one region (a control-plane call such as `pg_ctl promote`
/// or a managed database's "fail over to" button).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Become the primary: a planned handover from the current primary if it is reachable
    /// (it drains first, so nothing is lost), otherwise a forced promotion.
    Promote,
}

/// The answer a client receives.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    WriteOk {
        op: OpId,
        stamp: Stamp,
    },
    /// `by`: the replica whose copy answered (the newest of several for quorum reads).
    ReadOk {
        op: OpId,
        cell: Option<Cell>,
        by: RegionId,
    },
    Failed {
        op: OpId,
    },
}

/// Facts a replica reports about itself for observers (metrics and checkers). They have no
/// effect on the simulation; a real service would send them to its tracing pipeline.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A client write was stamped; `seen` is the stamp the key held locally at that moment.
    WriteStamped {
        op: OpId,
        key: Key,
        stamp: Stamp,
        seen: Stamp,
    },
    /// The replica's value for `key` changed from stamp `old` to `new` (new > old).
    Applied { key: Key, old: Stamp, new: Stamp },
    /// A key whose values merge (siblings, CRDTs) now reflects the write with dot `dot` (its
    /// stamp's tie-break); `siblings` is how many concurrent values the key holds now.
    Merged {
        key: Key,
        dot: causal::Dot,
        siblings: u32,
    },
    /// `manual` policy: a conflict on `key` entered this region's operator queue, which now
    /// holds `depth` conflicts.
    Parked { key: Key, depth: u32 },
    /// ...and left it after `waited`: resolved by the operator, or by a client's write whose
    /// causal context covered the siblings.
    Unparked {
        key: Key,
        waited: Span,
        by_operator: bool,
        depth: u32,
    },
    /// A delta left a gap in `key`'s causal context: the whole value was asked for.
    GapFetch { key: Key },
    /// A received log entry failed its checksum and was discarded.
    CorruptEntry,
    /// Entries for a peer were given up after the write timeout (no hinted handoff): that peer
    /// misses them until a read repair or a later write brings the key up to date.
    Abandoned { entries: u32 },
    /// This region started an anti-entropy session; shipping its whole state for the keys it
    /// shares with the peer instead would have cost `full_state_bytes`.
    AeStarted { full_state_bytes: u64 },
    /// A session this region started has ended after `rounds` messages, `took` after it
    /// started; `in_sync` if the trees already matched at the root.
    AeFinished {
        rounds: u32,
        in_sync: bool,
        took: Span,
    },
    /// Anti-entropy installed newer values for `keys` keys here.
    AeRepaired { keys: u32 },
    /// A rebuilt region has heard from every peer: `keys` values and `bytes` came in.
    Restored { keys: u64, bytes: u64 },
    /// Failover: this region's detector began to suspect `peer`.
    Suspect { peer: RegionId },
    /// ...and heard from it again.
    Trusted { peer: RegionId },
    /// This region stood for election in `term`.
    ElectionStarted { term: u64 },
    /// This region became the primary of `term`. `prev` is where it cut the previous primary's
    /// stream `(origin, epoch, last seq held)`: that primary's later writes are not history.
    BecameLeader {
        term: u64,
        prev: Option<(RegionId, u32, u64)>,
    },
    /// An operator asked this region to become primary: `planned` if it asked the live
    /// primary to hand over, else it forces an election.
    PromoteRequested { planned: bool },
    /// This primary stopped taking writes to hand over to `to`.
    HandingOver { to: RegionId },
    /// This region stopped accepting writes as primary of `term`: deposed by a newer term, or
    /// (`deposed: false`) its lease ran out.
    SteppedDown { term: u64, deposed: bool },
    /// Chain mode: this head reconfigured the chain to `members` members ending at `tail`,
    /// with `joining` regions catching up behind it; `reads` answers reads.
    ChainChanged {
        members: u8,
        joining: u8,
        tail: RegionId,
        reads: RegionId,
    },
    /// A replicated write (`op`) was refused because a new primary was elected without it.
    Fenced { op: OpId },
    /// A discarded write was rewound: `key` went from stamp `old` back to `new`.
    Rewound { key: Key, old: Stamp, new: Stamp },
}

/// What a replica asks its host to do.
#[derive(Debug)]
pub enum Action<M, P> {
    Send {
        to: RegionId,
        msg: M,
    },
    SetTimer {
        id: TimerId,
        at: Mono,
    },
    CancelTimer {
        id: TimerId,
    },
    Reply(Reply),
    /// Write to local storage; survives a crash only once a later `Sync` completes.
    Persist(P),
    /// fsync: everything persisted so far becomes durable.
    Sync,
    Note(Note),
}

/// The buffer a replica writes its actions into during one input. Reused across inputs so the
/// hot path does not allocate.
pub struct Outbox<M, P> {
    pub actions: Vec<Action<M, P>>,
}

/// Empty and allocation-free, so a host can `mem::take` its buffer cheaply.
impl<M, P> Default for Outbox<M, P> {
    fn default() -> Self {
        Outbox {
            actions: Vec::new(),
        }
    }
}

impl<M, P> Outbox<M, P> {
    #[inline]
    pub fn send(&mut self, to: RegionId, msg: M) {
        self.actions.push(Action::Send { to, msg });
    }
    #[inline]
    pub fn set_timer(&mut self, id: TimerId, at: Mono) {
        self.actions.push(Action::SetTimer { id, at });
    }
    #[inline]
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.actions.push(Action::CancelTimer { id });
    }
    #[inline]
    pub fn reply(&mut self, r: Reply) {
        self.actions.push(Action::Reply(r));
    }
    #[inline]
    pub fn persist(&mut self, p: P) {
        self.actions.push(Action::Persist(p));
    }
    #[inline]
    pub fn sync(&mut self) {
        self.actions.push(Action::Sync);
    }
    #[inline]
    pub fn note(&mut self, n: Note) {
        self.actions.push(Action::Note(n));
    }
}

/// Stable storage as a replica defines it: a value that persisted operations are applied to.
pub trait Durable: Default + Clone {
    type Op;
    fn apply(&mut self, op: Self::Op);
}

/// What a message is for, so a network can give each class its own latency (request/response
/// profiles measured separately) and reports can split traffic by purpose.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum MsgClass {
    /// Change-log shipping and its transport acks, and read repair.
    Replication = 0,
    /// A client write handed to the region that must originate it.
    WriteRequest = 1,
    /// "This write is held / committed": what a waiting write is acknowledged by.
    WriteAck = 2,
    /// A read sent to another region's replica.
    ReadRequest = 3,
    ReadReply = 4,
    /// Merkle-tree comparison and repair, and state transfer to a rebuilt region.
    AntiEntropy = 5,
    /// Failover: heartbeats, votes, catch-up and resynchronisation after a new primary.
    Control = 6,
}

impl MsgClass {
    pub const ALL: [MsgClass; 7] = [
        MsgClass::Replication,
        MsgClass::WriteRequest,
        MsgClass::WriteAck,
        MsgClass::ReadRequest,
        MsgClass::ReadReply,
        MsgClass::AntiEntropy,
        MsgClass::Control,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            MsgClass::Replication => "replication",
            MsgClass::WriteRequest => "write_request",
            MsgClass::WriteAck => "write_ack",
            MsgClass::ReadRequest => "read_request",
            MsgClass::ReadReply => "read_reply",
            MsgClass::AntiEntropy => "anti_entropy",
            MsgClass::Control => "control",
        }
    }
}

/// The work an input costs the replica that handles it: how many writes it applies and how
/// many reads it serves (a host with service times charges these).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Work {
    pub writes: u32,
    pub reads: u32,
}

impl Work {
    pub const NONE: Work = Work {
        writes: 0,
        reads: 0,
    };
    pub fn is_none(self) -> bool {
        self.writes == 0 && self.reads == 0
    }
}

/// What a message on the wire must tell its carrier.
pub trait WireMessage {
    /// What the message is for.
    fn class(&self) -> MsgClass;
    /// The work handling it costs the receiver.
    fn work(&self) -> Work;
    /// Size on the wire in bytes, for bandwidth and cost accounting.
    fn wire_bytes(&self) -> u64;
    /// A short name for traces ("replicate", "ack").
    fn kind(&self) -> &'static str;
    /// Periodic traffic that never ends (heartbeats): a run can be drained while some is in
    /// flight.
    fn is_background(&self) -> bool {
        false
    }
    /// True if this message resends data already sent once.
    fn is_retransmission(&self) -> bool {
        false
    }
    /// A compact fingerprint of the content, folded into the trace digest.
    fn fingerprint(&self) -> u64;
    /// Whether the message carries data of `key` (for keyed sequence diagrams).
    fn carries_key(&self, _key: Key) -> bool {
        false
    }
}

/// A replication state machine.
pub trait Replica: Sized {
    type Msg: WireMessage + Clone;
    type Durable: Durable;
    type Config: Clone;

    /// Builds a replica from what survived on its disk; a fresh one recovers from empty storage.
    fn recover(cfg: &Self::Config, disk: &Self::Durable) -> Self;
    /// Builds a replica whose disk was lost, from a backup `image` (or an empty one), under
    /// an incarnation of at least `min_epoch` (its old ones may be known to peers). It should
    /// fetch what it lacks from its peers; by default it just recovers from the image.
    fn rebuild(cfg: &Self::Config, image: &Self::Durable, min_epoch: u32) -> Self {
        let _ = min_epoch;
        Self::recover(cfg, image)
    }

    fn on_start(&mut self, now: Now, out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>);
    fn on_message(
        &mut self,
        now: Now,
        from: RegionId,
        msg: Self::Msg,
        out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    );
    fn on_timer(
        &mut self,
        now: Now,
        id: TimerId,
        out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    );
    fn on_client_op(
        &mut self,
        now: Now,
        op: ClientOp,
        out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    );
    /// An operator command; replicas without a control plane ignore it.
    fn on_command(
        &mut self,
        _now: Now,
        _cmd: Command,
        _out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    ) {
    }

    /// An order-independent digest of the replicated state; equal digests mean equal states.
    fn state_digest(&self) -> u64;
    /// True when the replica has nothing left to replicate or make durable.
    fn is_quiescent(&self) -> bool;
    /// Every stored cell, in key order (observers resynchronise from it after a restart).
    fn cells(&self) -> Box<dyn Iterator<Item = (Key, Cell)> + '_>;
    /// The stored cell of one key.
    fn cell_of(&self, key: Key) -> Option<Cell>;
    /// The value of a key whose table keeps data (counters, sets, siblings), for checkers.
    fn view_of(&self, _key: Key) -> Option<data::View> {
        None
    }
    /// The writes a merging key reflects (by dot), for observers resynchronising after a
    /// restart.
    fn dots_of(&self, _key: Key) -> Vec<causal::Dot> {
        Vec::new()
    }
    /// The work a client operation costs this replica (applying a write it originates, serving
    /// a read from its own copy); zero for what it only passes on. By default every operation
    /// is served here.
    fn client_work(&self, op: &ClientOp) -> Work {
        match op {
            ClientOp::Write { .. } => Work {
                writes: 1,
                reads: 0,
            },
            ClientOp::Read { .. } => Work {
                writes: 0,
                reads: 1,
            },
        }
    }
    /// What the region's health endpoint answers: whether it can take writes now (it is, or
    /// can reach, a primary it believes alive). Client health checks reroute away from a
    /// region that says no.
    fn serves_writes(&self) -> bool {
        true
    }
}

/// A 64-bit mixer (the finaliser of SplitMix64): cheap, well distributed, stable forever.
#[inline]
pub fn mix64(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// The digest contribution of one key's cell; states digest as the wrapping sum of these.
#[inline]
pub fn cell_digest(key: Key, cell: &Cell) -> u64 {
    mix64(
        key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15)
            ^ mix64(
                cell.stamp.wall.0 as u64
                    ^ cell.stamp.tie.rotate_left(32)
                    ^ cell.value.0.rotate_left(16),
            ),
    )
}
