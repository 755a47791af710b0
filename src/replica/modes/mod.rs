//! Replication modes: what differs between multi-master, primary-backup, quorum and chain
//! replication, one file per mode behind the [`Mode`] trait, selected by [`with_mode!`] (the
//! registry: one line per mode).
//!
//! A mode answers the policy questions the replica asks of its plan: which region originates
//! a client's write, what a write waits for before its client hears back, what a read at the
//! default level means and how many replicas it waits for, and who answers primary reads.
//! Everything else (the transport, failover, anti-entropy, restore) is shared.
//!
//! A mode answers from its configuration alone. Questions whose answer depends on a replica's
//! state (whether this region may answer a primary read now: the chain's view, a failover
//! lease, a rebuild) are read guards, each beside the state it reads and all asked through one
//! question, `Replicator::read_refusal` (see `replicator/read_guard.rs`).
//!
//! Dispatch is static: the registry matches the plan's [`Strategy`](super::plan::Strategy) once per question and
//! calls the mode's inlined method, so a mode adds no dynamic dispatch on the write path.

mod chain;
mod multi_master;
mod primary_backup;
mod quorum;

pub use chain::Chain;
pub use multi_master::MultiMaster;
pub use primary_backup::PrimaryBackup;
pub use quorum::Quorum;

use super::plan::Need;
use super::{Level, RegionId};

/// The policy of one replication mode.
pub trait Mode {
    /// The region whose replica originates (stamps and ships) a write that a client issued
    /// at `at`, or None if such a write is rejected there.
    fn originator(&self, at: RegionId) -> Option<RegionId>;

    /// The region that takes writes when the run starts, if one region does.
    fn first_writer(&self) -> Option<RegionId> {
        None
    }

    /// The region answering `Level::Primary` reads, if one region does.
    fn read_primary(&self) -> Option<RegionId> {
        None
    }

    /// How many holders (the origin's own copy counts) a write at `level` to a key with `h`
    /// holders waits for, before clamping to `1..=h`.
    fn write_count(&self, level: Level, h: u32) -> u32 {
        match level {
            Level::Local => 1,
            Level::All => h,
            Level::Quorum => majority(h),
            Level::Default | Level::Primary => 1,
        }
    }

    /// What a write at `level` to a key with `h` holders waits for.
    #[inline]
    fn write_need(&self, level: Level, h: u32) -> Need {
        Need::Count(self.write_count(level, h).clamp(1, h.max(1)))
    }

    /// What a read at `Level::Default` means in this mode.
    fn default_read_level(&self) -> Level {
        Level::Local
    }

    /// How many of `h` holders a `Level::Quorum` read waits for, before clamping.
    fn quorum_read_count(&self, h: u32) -> u32 {
        majority(h)
    }

    /// Whether a write's coordinator need not hold the key, so lost updates must be judged by
    /// real-time order rather than by what the stamping region held.
    fn stamps_without_holding(&self) -> bool {
        false
    }
}

/// A majority of `h` holders.
pub fn majority(h: u32) -> u32 {
    h / 2 + 1
}

/// The registry: runs `$body` with `$m` bound to the mode `$strategy` configures.
///
/// Adding a mode: a file in this folder implementing [`Mode`], its [`Strategy`](super::plan::Strategy) variant, and
/// one line here.
macro_rules! with_mode {
    ($strategy:expr, $m:ident => $body:expr) => {{
        use $crate::replica::plan::Strategy;
        match $strategy {
            Strategy::MultiMaster => {
                let $m = $crate::replica::modes::MultiMaster;
                $body
            }
            Strategy::PrimaryBackup {
                primary,
                forward,
                sync,
            } => {
                let $m = $crate::replica::modes::PrimaryBackup {
                    primary: *primary,
                    forward: *forward,
                    sync: *sync,
                };
                $body
            }
            Strategy::Quorum {
                w,
                r,
                hinted_handoff,
            } => {
                let $m = $crate::replica::modes::Quorum {
                    w: *w,
                    r: *r,
                    hinted_handoff: *hinted_handoff,
                };
                $body
            }
            Strategy::Chain { order } => {
                let $m = $crate::replica::modes::Chain { order: &order[..] };
                $body
            }
        }
    }};
}
pub(crate) use with_mode;

#[cfg(test)]
mod tests {
    use crate::replica::plan::{Need, Plan, Strategy, Sync};
    use crate::replica::{Level, RegionId};

    fn plan(s: Strategy) -> Plan {
        Plan::mesh(5, s)
    }

    /// Write needs, read levels and read needs per mode and level, for 5 holders: the table
    /// the per-strategy matches in `Plan` used to compute.
    #[test]
    fn each_mode_answers_the_plans_policy_questions() {
        let r = RegionId;
        let levels = [
            Level::Default,
            Level::Local,
            Level::Quorum,
            Level::Primary,
            Level::All,
        ];
        let count = |p: &Plan| levels.map(|l| p.write_need(l, 5));
        let reads = |p: &Plan| levels.map(|l| (p.read_level(l), p.read_need(p.read_level(l), 5)));
        let c = Need::Count;

        let mm = plan(Strategy::MultiMaster);
        assert_eq!(count(&mm), [c(1), c(1), c(3), c(1), c(5)]);
        assert_eq!(mm.originator(r(3)), Some(r(3)));
        assert_eq!((mm.first_writer(), mm.read_primary()), (None, None));
        assert_eq!(reads(&mm)[0], (Level::Local, 1));
        assert!(!mm.stamps_without_holding());

        let pb = plan(Strategy::PrimaryBackup {
            primary: r(1),
            forward: false,
            sync: Sync::Sync { backups: 2 },
        });
        assert_eq!(count(&pb), [c(3), c(1), c(3), c(3), c(5)]);
        assert_eq!(
            (pb.originator(r(1)), pb.originator(r(2))),
            (Some(r(1)), None)
        );
        assert_eq!(
            (pb.first_writer(), pb.read_primary()),
            (Some(r(1)), Some(r(1)))
        );
        let semi = plan(Strategy::PrimaryBackup {
            primary: r(1),
            forward: true,
            sync: Sync::SemiSync,
        });
        assert_eq!(semi.write_need(Level::Default, 5), c(2));
        assert_eq!(semi.originator(r(2)), Some(r(1)));

        let q = plan(Strategy::Quorum {
            w: 2,
            r: 4,
            hinted_handoff: true,
        });
        assert_eq!(count(&q), [c(2), c(1), c(2), c(1), c(5)]);
        assert_eq!(
            reads(&q),
            [
                (Level::Quorum, 4),
                (Level::Local, 1),
                (Level::Quorum, 4),
                (Level::Primary, 1),
                (Level::All, 5)
            ]
        );
        assert_eq!(q.originator(r(4)), Some(r(4)));
        assert!(q.stamps_without_holding());

        let ch = plan(Strategy::Chain {
            order: vec![r(2), r(0), r(4)],
        });
        assert_eq!(count(&ch), [Need::Region(r(4)); 5]);
        assert_eq!(ch.originator(r(0)), Some(r(2)));
        assert_eq!(
            (ch.first_writer(), ch.read_primary()),
            (Some(r(2)), Some(r(4)))
        );
        assert_eq!(reads(&ch)[0], (Level::Primary, 1));
        assert_eq!(reads(&ch)[2], (Level::Quorum, 3));
    }
}
