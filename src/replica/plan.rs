//! The static replication plan every replica is configured with: the strategy, who may
//! originate writes, how each origin's entries are routed (relays), which regions hold which
//! keys, and what each consistency level waits for.
//!
//! It is plain data, computed once from the scenario and shared by all replicas. A real service
//! would load the same thing from its deployment configuration.

use super::data::{Policy, Tables};
use super::modes::{with_mode, Mode};
use super::{Key, Level, RegionId};
use crate::time::Span;
use std::sync::Arc;

/// How strongly primary-backup acknowledges a write by default.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Sync {
    /// At once, when the primary holds it.
    Async,
    /// Once the primary and at least one backup hold it durably.
    SemiSync,
    /// Once the primary and `backups` backups hold it durably.
    Sync { backups: u32 },
}

/// The replication strategy.
#[derive(Clone, Debug, PartialEq)]
pub enum Strategy {
    /// Every region accepts writes and acknowledges them locally (active-active).
    MultiMaster,
    /// One primary takes writes; other regions forward them (or reject them).
    PrimaryBackup {
        primary: RegionId,
        forward: bool,
        sync: Sync,
    },
    /// Writes enter at the head, flow down the chain, commit at the tail; reads at the tail.
    Chain { order: Vec<RegionId> },
    /// Dynamo-style: the coordinator writes to the key's replicas and waits for `w`; reads ask
    /// them all and wait for `r`.
    Quorum {
        w: u32,
        r: u32,
        /// Without hinted handoff, entries a replica has not acknowledged within the request
        /// timeout are given up.
        hinted_handoff: bool,
    },
}

/// A next hop for one origin's entries, and the regions reached through it (bit per region).
pub type Hop = (RegionId, u64);

#[derive(Clone, Debug)]
pub struct Plan {
    pub n: usize,
    pub strategy: Strategy,
    /// `routes[origin][region]`: where `region` sends `origin`'s entries next.
    pub routes: Vec<Vec<Vec<Hop>>>,
    /// Per key, the regions holding a replica (bit per region); `None`: all regions hold all keys.
    pub holders: Option<Arc<Vec<u64>>>,
    /// Per region, every other region from nearest to farthest (nominal latency).
    pub nearest: Vec<Vec<RegionId>>,
    /// A remote write or read not answered within this fails.
    pub request_timeout: Span,
    /// Send a partial batch only after waiting this long for it to fill (0: at once).
    pub batch_delay: Span,
    /// Wire size of replicated payload per directed link, in thousandths (1000 = uncompressed).
    pub compression_permille: Vec<u32>,
    /// Answer quorum reads by repairing the stale replicas that responded.
    pub read_repair: bool,
    /// The workload's value size (sizes read replies and repairs on the wire).
    pub value_bytes: u32,
    /// Change-log entries a peer has not acknowledged within this are given up (quorum without
    /// hinted handoff: the request timeout; otherwise a configured log retention), leaving the
    /// gap to read repair and anti-entropy.
    pub give_up_after: Option<Span>,
    /// Keys in the key space (anti-entropy splits it into ranges).
    pub keys: u64,
    pub anti_entropy: Option<AntiEntropy>,
    /// Primary-backup or chain with failover: detection, elections, leases and fencing (in a
    /// chain the elected primary is the head, and it reconfigures the chain around failures).
    pub failover: Option<Failover>,
    /// Which keys belong to which table, and each table's conflict policy.
    pub tables: Arc<Tables>,
    /// `manual` tables: how long a conflict waits before the key's home region's operator
    /// resolves it (None: only clients' writes resolve conflicts).
    pub operator: Option<Span>,
}

/// What a deposed primary does with writes the new primary never received.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rejoin {
    /// Throw them away (and rewind every replica that applied them), as a Raft log truncation
    /// or `pg_rewind` does: the new primary's history wins.
    Discard,
    /// Keep them and let last-writer-wins merge them in.
    Reconcile,
}

/// Automatic failover of the primary.
#[derive(Clone, Debug, PartialEq)]
pub struct Failover {
    pub detector: super::detector::DetectorSpec,
    /// A primary accepts writes only while a majority has answered a heartbeat it sent within
    /// this long; a region does not vote while it has heard from a live primary within it.
    pub lease: Span,
    /// Leases on (above); `false` lets a partitioned primary keep accepting writes.
    pub fencing: bool,
    pub rejoin: Rejoin,
    /// Preference order of candidates: the region at rank `i` waits `i * stagger` after
    /// suspecting the primary before it stands for election.
    pub priority: Vec<RegionId>,
    pub stagger: Span,
    /// Only an operator's `promote` elects a new primary; detection still runs and is
    /// reported, and a region that cannot reach the primary still refuses writes.
    pub manual: bool,
}

impl Failover {
    /// How long a candidate waits for votes before trying again with a new term.
    pub fn election_timeout(&self, n: usize) -> Span {
        Span(self.detector.interval().0 * 4 + self.stagger.0 * n as u64)
    }

    pub fn rank(&self, r: RegionId) -> u64 {
        self.priority
            .iter()
            .position(|&p| p == r)
            .unwrap_or(self.priority.len()) as u64
    }
}

/// Periodic Merkle-tree anti-entropy between replicas that share keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AntiEntropy {
    /// How often each region starts sessions.
    pub interval: Span,
    /// Peers per round.
    pub fanout: u32,
    /// Key ranges at the bottom of the tree (`branching` to the power of the depth).
    pub leaves: u32,
    pub branching: u32,
}

impl AntiEntropy {
    /// Levels below the root.
    pub fn depth(&self) -> u32 {
        let mut d = 0;
        let mut w = 1u64;
        while w < self.leaves as u64 {
            w *= self.branching as u64;
            d += 1;
        }
        d
    }
}

/// What a write must reach before its client is acknowledged.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Need {
    /// This many holders (the origin's own copy counts).
    Count(u32),
    /// This region specifically (the chain's tail).
    Region(RegionId),
    /// Every region in the mask (a reconfigured chain: its new tail, and the region still
    /// answering reads until the new tail has caught up).
    All(u64),
}

impl Plan {
    /// Whether lost updates must be judged by real-time order rather than by what the stamping
    /// region held: true when a write's coordinator need not hold the key (quorum), so its
    /// copy says nothing about what the write replaces.
    pub fn stamps_without_holding(&self) -> bool {
        with_mode!(&self.strategy, m => m.stamps_without_holding())
    }

    pub fn all_mask(&self) -> u64 {
        if self.n >= 64 {
            u64::MAX
        } else {
            (1u64 << self.n) - 1
        }
    }

    /// Whether unacknowledged entries are ever given up.
    pub fn gives_up(&self) -> bool {
        self.give_up_after.is_some()
    }

    #[inline]
    pub fn holders(&self, key: Key) -> u64 {
        match &self.holders {
            None => self.all_mask(),
            Some(h) => h[key.0 as usize],
        }
    }

    /// Replicas per key (placement gives every key the same number).
    pub fn replicas_per_key(&self) -> u32 {
        self.holders
            .as_ref()
            .map_or(self.n as u32, |h| h.first().map_or(0, |m| m.count_ones()))
    }

    #[inline]
    pub fn holds(&self, r: RegionId, key: Key) -> bool {
        self.holders(key) & (1u64 << r.0) != 0
    }

    /// The region whose replica originates (stamps and ships) a write that a client issued at
    /// `at`, or None if such a write is rejected there.
    #[inline]
    pub fn originator(&self, at: RegionId) -> Option<RegionId> {
        with_mode!(&self.strategy, m => m.originator(at))
    }

    /// The region that takes writes when the run starts: the primary or the chain's head.
    pub fn first_writer(&self) -> Option<RegionId> {
        with_mode!(&self.strategy, m => m.first_writer())
    }

    /// The configured chain, head first (chain mode only).
    pub fn chain_order(&self) -> Option<&[RegionId]> {
        match &self.strategy {
            Strategy::Chain { order } => Some(order),
            _ => None,
        }
    }

    /// The region answering `Level::Primary` reads: the primary or the chain's tail.
    pub fn read_primary(&self) -> Option<RegionId> {
        with_mode!(&self.strategy, m => m.read_primary())
    }

    /// What a write at `level` to a key with `h` holders waits for.
    #[inline]
    pub fn write_need(&self, level: Level, h: u32) -> Need {
        with_mode!(&self.strategy, m => m.write_need(level, h))
    }

    /// The effective level of a read at `level` (resolving `Default` per strategy).
    #[inline]
    pub fn read_level(&self, level: Level) -> Level {
        match level {
            Level::Default => with_mode!(&self.strategy, m => m.default_read_level()),
            l => l,
        }
    }

    /// How many of `h` holders a read at (resolved) `level` waits for.
    pub fn read_need(&self, level: Level, h: u32) -> u32 {
        let c = match level {
            Level::All => h,
            Level::Quorum => with_mode!(&self.strategy, m => m.quorum_read_count(h)),
            _ => 1,
        };
        c.clamp(1, h.max(1))
    }
}

impl Plan {
    /// A full mesh where every origin sends straight to every other region, all regions hold
    /// all keys, and neighbours are ordered by index (tests and simple hosts).
    pub fn mesh(n: usize, strategy: Strategy) -> Plan {
        let strategy_gives_up = matches!(
            strategy,
            Strategy::Quorum {
                hinted_handoff: false,
                ..
            }
        );
        let routes = (0..n)
            .map(|o| {
                (0..n)
                    .map(|r| {
                        if r != o {
                            return Vec::new();
                        }
                        (0..n)
                            .filter(|&p| p != o)
                            .map(|p| (RegionId(p as u16), 1u64 << p))
                            .collect()
                    })
                    .collect()
            })
            .collect();
        Plan {
            n,
            strategy,
            routes,
            holders: None,
            nearest: (0..n)
                .map(|r| {
                    (0..n)
                        .filter(|&p| p != r)
                        .map(|p| RegionId(p as u16))
                        .collect()
                })
                .collect(),
            request_timeout: Span::from_secs(2),
            batch_delay: Span::ZERO,
            compression_permille: vec![1000; n * n],
            read_repair: false,
            value_bytes: 100,
            give_up_after: match strategy_gives_up {
                true => Some(Span::from_secs(2)),
                false => None,
            },
            keys: 1024,
            anti_entropy: None,
            failover: None,
            tables: Arc::new(Tables::single(1024, Policy::Lww)),
            operator: None,
        }
    }
}
