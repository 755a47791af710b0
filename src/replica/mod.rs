//! Sans-IO replica interface: what a replica is given (local time, messages, timers, client ops)
//! and what it may ask for (sends, timers, replies, persistence), plus the shared data types.
//!
//! Nothing under `replica/` knows the engine exists. A replica never reads a clock (time comes
//! in `Now`), never touches a socket (it pushes `Action::Send`), and owns no randomness. The
//! same code could sit behind a real event loop; the engine is one such loop.

#[allow(missing_docs)]
pub mod causal;
#[allow(missing_docs)]
pub mod crdt;
#[allow(missing_docs)]
pub mod data;
#[allow(missing_docs)]
pub mod detector;
#[allow(missing_docs)]
pub mod modes;
#[allow(missing_docs)]
pub mod plan;
#[allow(missing_docs)]
pub mod replicator;
#[allow(missing_docs)]
pub mod seqset;

use crate::time::{Mono, Span, Wall};
use std::fmt;

/// A region's index in the scenario's region list.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct RegionId(pub u16);

impl RegionId {
    /// The index, for indexing per-region vectors.
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
    /// Whether this is a read's id.
    pub fn is_read(self) -> bool {
        self.0 & OpId::READ_BIT != 0
    }
}

/// The version stamp that orders writes under last-writer-wins: the writer's wall clock, then
/// a tie-break of (region, incarnation, per-incarnation counter) so every stamp is unique.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Stamp {
    /// The writer's clock reading (wall clock, or hybrid logical clock under `lww-hlc`).
    pub wall: Wall,
    /// Region, incarnation and counter packed (see [`Stamp::new`]): unique per write.
    pub tie: u64,
}

impl Stamp {
    /// Below every real stamp: "no value yet".
    pub const NONE: Stamp = Stamp {
        wall: Wall(i64::MIN),
        tie: 0,
    };

    /// The stamp of the `counter`th write of incarnation `epoch` of `region`, taken at `wall`.
    pub fn new(wall: Wall, region: RegionId, epoch: u32, counter: u32) -> Stamp {
        Stamp {
            wall,
            tie: ((region.0 as u64) << 48) | (((epoch & 0xffff) as u64) << 32) | counter as u64,
        }
    }

    /// The region that wrote it.
    pub fn region(self) -> RegionId {
        RegionId((self.tie >> 48) as u16)
    }

    /// Whether this is [`Stamp::NONE`].
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
    /// The version: later stamps win under last-writer-wins.
    pub stamp: Stamp,
    /// The write whose value this is.
    pub value: OpId,
}

/// The replica's view of "now": both clocks of its own machine, never the true time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Now {
    /// The monotonic clock: for timers and timeouts.
    pub mono: Mono,
    /// The wall clock: for stamps; it may be offset, drift and step.
    pub wall: Wall,
}

/// A replica-chosen timer name; setting a timer that is already set moves it.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u32);

/// A per-operation consistency level (tunable consistency). `Default` means the replication
/// mode's own default for that kind of operation.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Level {
    /// The mode's own default for this kind of operation.
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
    /// Every level, in index order.
    pub const ALL: [Level; 5] = [
        Level::Default,
        Level::Local,
        Level::Quorum,
        Level::Primary,
        Level::All,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Level::Default => "default",
            Level::Local => "local",
            Level::Quorum => "quorum",
            Level::Primary => "primary",
            Level::All => "all",
        }
    }

    /// Its position in [`Level::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A client request delivered to the replica in the client's home region.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// Write `key`; the written value is the operation's id.
    Write {
        /// The operation's id, unique in the run.
        op: OpId,
        /// The key written.
        key: Key,
        /// The value's size, for wire and storage accounting.
        value_bytes: u32,
        /// What the client waits for.
        level: Level,
        /// What kind of update it is (a put, or an operation on a merging type).
        kind: data::WriteKind,
    },
    /// Read `key`.
    Read {
        /// The operation's id, unique in the run.
        op: OpId,
        /// The key read.
        key: Key,
        /// How fresh the answer must be.
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
    /// The write succeeded (at the level it asked for).
    WriteOk {
        /// The write's id.
        op: OpId,
        /// The stamp it was given.
        stamp: Stamp,
    },
    /// `by`: the replica whose copy answered (the newest of several for quorum reads).
    ReadOk {
        /// The read's id.
        op: OpId,
        /// The value found, if the key had one.
        cell: Option<Cell>,
        /// The replica whose copy answered.
        by: RegionId,
    },
    /// The operation failed (timed out, refused, or its region cannot serve it).
    Failed {
        /// The operation's id.
        op: OpId,
    },
}

/// Facts a replica reports about itself for observers (metrics and checkers). They have no
/// effect on the simulation; a real service would send them to its tracing pipeline.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// A client write was stamped; `seen` is the stamp the key held locally at that moment.
    WriteStamped {
        /// The write.
        op: OpId,
        /// Its key.
        key: Key,
        /// The stamp it got.
        stamp: Stamp,
        /// The stamp the key held here when it was stamped.
        seen: Stamp,
    },
    /// The replica's value for `key` changed from stamp `old` to `new` (new > old).
    Applied {
        /// The key.
        key: Key,
        /// The stamp it held.
        old: Stamp,
        /// The stamp it holds now.
        new: Stamp,
    },
    /// A key whose values merge (siblings, CRDTs) now reflects the write with dot `dot` (its
    /// stamp's tie-break); `siblings` is how many concurrent values the key holds now.
    Merged {
        /// The key.
        key: Key,
        /// The write it now reflects.
        dot: causal::Dot,
        /// Concurrent values the key holds now.
        siblings: u32,
    },
    /// `manual` policy: a conflict on `key` entered this region's operator queue, which now
    /// holds `depth` conflicts.
    Parked {
        /// The key in conflict.
        key: Key,
        /// Conflicts in the queue now.
        depth: u32,
    },
    /// ...and left it after `waited`: resolved by the operator, or by a client's write whose
    /// causal context covered the siblings.
    Unparked {
        /// The key.
        key: Key,
        /// How long it was parked.
        waited: Span,
        /// Resolved by the operator (else by a client's write).
        by_operator: bool,
        /// Conflicts in the queue now.
        depth: u32,
    },
    /// A delta left a gap in `key`'s causal context: the whole value was asked for.
    GapFetch {
        /// The key fetched whole.
        key: Key,
    },
    /// A received log entry failed its checksum and was discarded.
    CorruptEntry,
    /// Entries for a peer were given up after the write timeout (no hinted handoff): that peer
    /// misses them until a read repair or a later write brings the key up to date.
    Abandoned {
        /// How many entries were given up.
        entries: u32,
    },
    /// This region started an anti-entropy session; shipping its whole state for the keys it
    /// shares with the peer instead would have cost `full_state_bytes`.
    AeStarted {
        /// What shipping the shared state whole would have cost.
        full_state_bytes: u64,
    },
    /// A session this region started has ended after `rounds` messages, `took` after it
    /// started; `in_sync` if the trees already matched at the root.
    AeFinished {
        /// Messages the session took.
        rounds: u32,
        /// The trees matched at the root: nothing to repair.
        in_sync: bool,
        /// Time from its start.
        took: Span,
    },
    /// Anti-entropy installed newer values for `keys` keys here.
    AeRepaired {
        /// Keys that got a newer value.
        keys: u32,
    },
    /// A rebuilt region has heard from every peer: `keys` values and `bytes` came in.
    Restored {
        /// Values that came in from peers.
        keys: u64,
        /// Bytes they took.
        bytes: u64,
    },
    /// Failover: this region's detector began to suspect `peer`.
    Suspect {
        /// The region suspected.
        peer: RegionId,
    },
    /// ...and heard from it again.
    Trusted {
        /// The region trusted again.
        peer: RegionId,
    },
    /// This region stood for election in `term`.
    ElectionStarted {
        /// The term it stood in.
        term: u64,
    },
    /// This region became the primary of `term`. `prev` is where it cut the previous primary's
    /// stream `(origin, epoch, last seq held)`: that primary's later writes are not history.
    BecameLeader {
        /// The term it leads.
        term: u64,
        /// Where it cut the previous primary's stream, if it knew one.
        prev: Option<(RegionId, u32, u64)>,
    },
    /// An operator asked this region to become primary: `planned` if it asked the live
    /// primary to hand over, else it forces an election.
    PromoteRequested {
        /// A handover from a live primary (else a forced election).
        planned: bool,
    },
    /// This primary stopped taking writes to hand over to `to`.
    HandingOver {
        /// The region it hands over to.
        to: RegionId,
    },
    /// This region stopped accepting writes as primary of `term`: deposed by a newer term, or
    /// (`deposed: false`) its lease ran out.
    SteppedDown {
        /// The term it led.
        term: u64,
        /// Deposed by a newer term (else its lease ran out).
        deposed: bool,
    },
    /// Chain mode: this head reconfigured the chain to `members` members ending at `tail`,
    /// with `joining` regions catching up behind it; `reads` answers reads.
    ChainChanged {
        /// Members of the chain.
        members: u8,
        /// Regions catching up behind it.
        joining: u8,
        /// The chain's tail.
        tail: RegionId,
        /// The region that answers reads.
        reads: RegionId,
    },
    /// A replicated write (`op`) was refused because a new primary was elected without it.
    Fenced {
        /// The write refused.
        op: OpId,
    },
    /// A discarded write was rewound: `key` went from stamp `old` back to `new`.
    Rewound {
        /// The key.
        key: Key,
        /// The stamp it held.
        old: Stamp,
        /// The older stamp it holds now.
        new: Stamp,
    },
}

/// What a replica asks its host to do.
#[derive(Debug)]
pub enum Action<M, P> {
    /// Send `msg` to region `to`.
    Send {
        /// The receiver.
        to: RegionId,
        /// The message.
        msg: M,
    },
    /// Fire timer `id` when the monotonic clock reaches `at` (moving it if already set).
    SetTimer {
        /// The timer.
        id: TimerId,
        /// The deadline on this region's monotonic clock.
        at: Mono,
    },
    /// Forget timer `id`.
    CancelTimer {
        /// The timer.
        id: TimerId,
    },
    /// Answer a client.
    Reply(Reply),
    /// Write to local storage; survives a crash only once a later `Sync` completes.
    Persist(P),
    /// fsync: everything persisted so far becomes durable.
    Sync,
    /// Tell observers something (no effect on the run).
    Note(Note),
}

/// The buffer a replica writes its actions into during one input. Reused across inputs so the
/// hot path does not allocate.
pub struct Outbox<M, P> {
    /// The actions, in the order they were asked for.
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
    /// Asks for [`Action::Send`].
    #[inline]
    pub fn send(&mut self, to: RegionId, msg: M) {
        self.actions.push(Action::Send { to, msg });
    }
    /// Asks for [`Action::SetTimer`].
    #[inline]
    pub fn set_timer(&mut self, id: TimerId, at: Mono) {
        self.actions.push(Action::SetTimer { id, at });
    }
    /// Asks for [`Action::CancelTimer`].
    #[inline]
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.actions.push(Action::CancelTimer { id });
    }
    /// Asks for [`Action::Reply`].
    #[inline]
    pub fn reply(&mut self, r: Reply) {
        self.actions.push(Action::Reply(r));
    }
    /// Asks for [`Action::Persist`].
    #[inline]
    pub fn persist(&mut self, p: P) {
        self.actions.push(Action::Persist(p));
    }
    /// Asks for [`Action::Sync`].
    #[inline]
    pub fn sync(&mut self) {
        self.actions.push(Action::Sync);
    }
    /// Asks for [`Action::Note`].
    #[inline]
    pub fn note(&mut self, n: Note) {
        self.actions.push(Action::Note(n));
    }
}

/// Stable storage as a replica defines it: a value that persisted operations are applied to.
pub trait Durable: Default + Clone {
    /// One persisted operation.
    type Op;
    /// Applies a persisted operation to the stored value.
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
    /// The answer to a read request.
    ReadReply = 4,
    /// Merkle-tree comparison and repair, and state transfer to a rebuilt region.
    AntiEntropy = 5,
    /// Failover: heartbeats, votes, catch-up and resynchronisation after a new primary.
    Control = 6,
}

impl MsgClass {
    /// Every class, in index order.
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
    /// Writes applied.
    pub writes: u32,
    /// Reads served.
    pub reads: u32,
}

impl Work {
    /// No work.
    pub const NONE: Work = Work {
        writes: 0,
        reads: 0,
    };
    /// Whether it is no work.
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
    /// What replicas send each other.
    type Msg: WireMessage + Clone;
    /// What survives a crash on the region's disk.
    type Durable: Durable;
    /// What each region's replica is built with.
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

    /// Called once after `recover` or `rebuild`: set the first timers.
    fn on_start(&mut self, now: Now, out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>);
    /// A message from `from` has arrived.
    fn on_message(
        &mut self,
        now: Now,
        from: RegionId,
        msg: Self::Msg,
        out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    );
    /// Timer `id` has fired.
    fn on_timer(
        &mut self,
        now: Now,
        id: TimerId,
        out: &mut Outbox<Self::Msg, <Self::Durable as Durable>::Op>,
    );
    /// A client in this region issued `op`; answer it with [`Outbox::reply`], now or later.
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
