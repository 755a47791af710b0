//! Read guards: the one question a replica asks before answering a read from its own copy,
//! [`Replicator::read_refusal`], and the guards behind it.
//!
//! A read that promises the latest value (a `primary` read; in chain mode any read sent to
//! the chain) may only be answered by a region whose copy is known to hold every acknowledged
//! write. Whether this region's copy is one depends on state other components own, so each
//! of them answers for itself, beside its state:
//! - the chain under failover (`chain_read_guard`, chain.rs): this region must be where the
//!   chain reads and still hear its head, and a key with a write a newer tail may lack is
//!   refused;
//! - a rebuild from a lost disk (`restore_read_guard`, restore.rs): until every peer answered;
//! - the failover lease (`failover_read_guard`, failover.rs): a deposed or lease-less primary.
//!
//! `read_refusal` asks them in that order and returns the first refusal. Which reply a refusal
//! gets is the caller's: a client's read here fails (`Reply::Failed`), a read another region
//! sent here is answered `NotPrimary` (that region fails it, or learns of a new chain).
//!
//! Adding a guard (a new mode, or a new way for a copy to miss acknowledged writes): write
//! `fn <component>_read_guard(&self, ..) -> Option<Refusal>` in the component's own file, add
//! its [`Refusal`] variant here, and one line to `read_refusal`. The order of those lines is
//! part of behaviour only through which refusal is reported: every refusal at one call site
//! gets the same reply.

use super::Replicator;
use crate::replica::{Key, Now};

/// Why this region will not answer a read from its own copy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Refusal {
    /// Chain: this region has not heard where the chain reads yet (a client's primary read).
    NoReadRegion,
    /// Chain: this region is not where the chain reads, or lost touch with the head.
    ChainNotReading,
    /// Chain: a newer tail is catching up and may lack a write of this key held here.
    ChainUnsettled,
    /// Rebuilt from a lost disk and not yet heard from every peer.
    Rebuilding,
    /// A primary that lost its lease, was deposed, or is handing over.
    NoLease,
}

/// Where the read to be answered comes from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(super) enum Asked {
    /// A client of this region. Only a primary read is guarded, and only if this region is the
    /// one answering primary reads; otherwise it goes to that region, whose guards answer.
    ByClient,
    /// Another region sent the read here to be answered.
    ByPeer,
}

impl Replicator {
    /// The one question before serving a read of `key` (`primary`: a primary read): whether
    /// this region must refuse to answer it from its copy now, and why.
    #[inline]
    pub(super) fn read_refusal(
        &self,
        asked: Asked,
        key: Key,
        primary: bool,
        now: Now,
    ) -> Option<Refusal> {
        if asked == Asked::ByClient {
            if !primary {
                return None;
            }
            match self.primary() {
                // A chain region that restarted has not heard where the chain reads yet (its
                // own copy may be far behind).
                None if self.chain_on() => return Some(Refusal::NoReadRegion),
                Some(p) if p == self.me() => {}
                _ => return None,
            }
        }
        if let r @ Some(_) = self.chain_read_guard(key, primary, now) {
            return r;
        }
        if let r @ Some(_) = self.restore_read_guard(primary) {
            return r;
        }
        self.failover_read_guard(primary, now)
    }
}

#[cfg(test)]
mod tests {
    use super::super::{failover_test_config, test_config, test_now, ChainView, Disk, Entry};
    use super::super::{EntryId, Replicator};
    use super::{Asked, Refusal};
    use crate::replica::plan::{Plan, Strategy, Sync};
    use crate::replica::{Cell, Key, OpId, Outbox, RegionId, Replica, Stamp};
    use std::sync::Arc;

    const R: fn(u16) -> RegionId = RegionId;

    /// Every combination of who asks and whether the read is a primary one, for `key` at
    /// `ms`: [client primary, client other, peer primary, peer other].
    fn answers(r: &Replicator, key: u64, ms: u64) -> [Option<Refusal>; 4] {
        let now = test_now(ms);
        let k = Key(key);
        [
            r.read_refusal(Asked::ByClient, k, true, now),
            r.read_refusal(Asked::ByClient, k, false, now),
            r.read_refusal(Asked::ByPeer, k, true, now),
            r.read_refusal(Asked::ByPeer, k, false, now),
        ]
    }

    fn pb() -> Strategy {
        Strategy::PrimaryBackup {
            primary: R(0),
            forward: true,
            sync: Sync::Async,
        }
    }

    fn started(cfg: &super::super::Config) -> Replicator {
        let mut r = Replicator::recover(cfg, &Disk::default());
        r.on_start(test_now(0), &mut Outbox::default());
        r
    }

    /// A fixed primary answers every read; rebuilt from a lost disk it refuses primary reads
    /// (from its clients and from peers) until every peer has answered, and a rebuilt backup
    /// refuses the primary reads peers send it, while its clients' go to the primary.
    #[test]
    fn a_rebuilt_region_refuses_primary_reads() {
        let none = [None; 4];
        let cfg = |id| test_config(id, Plan::mesh(3, pb()));
        let r0 = Replicator::recover(&cfg(0), &Disk::default());
        assert_eq!(answers(&r0, 1, 10), none);
        let r0 = Replicator::rebuild(&cfg(0), &Disk::default(), 0);
        let rb = Some(Refusal::Rebuilding);
        assert_eq!(answers(&r0, 1, 10), [rb, None, rb, None]);
        let r1 = Replicator::rebuild(&cfg(1), &Disk::default(), 0);
        assert_eq!(answers(&r1, 1, 10), [None, None, rb, None]);
    }

    /// Under failover the leader answers primary reads while it holds its lease (800 ms from
    /// its last echoes) and not while handing over; a follower refuses the ones peers send
    /// it, and its clients' go to the leader.
    #[test]
    fn a_primary_without_its_lease_refuses_primary_reads() {
        let no = Some(Refusal::NoLease);
        let mut r0 = started(&failover_test_config(0, pb()));
        assert_eq!(answers(&r0, 1, 799), [None; 4]);
        assert_eq!(answers(&r0, 1, 800), [no, None, no, None]);
        r0.fo.as_mut().expect("failover").handover = Some((R(1), test_now(0).mono));
        assert_eq!(answers(&r0, 1, 10), [no, None, no, None]);
        let r1 = started(&failover_test_config(1, pb()));
        assert_eq!(answers(&r1, 1, 10), [None, None, no, None]);
    }

    fn chain_region(id: u16, members: usize, reads: usize) -> Replicator {
        let order = vec![R(0), R(1), R(2)];
        let strategy = Strategy::Chain {
            order: order.clone(),
        };
        let mut r = started(&failover_test_config(id, strategy));
        r.fo.as_mut().expect("failover").view = Some(Arc::new(ChainView {
            term: 1,
            order,
            members,
            reads,
        }));
        r
    }

    /// Chain reads: only the region where the chain reads answers any read peers send, and
    /// only while it hears the head (800 ms lease); not knowing the read region fails a
    /// client's primary read; a read region that is not yet the tail refuses primary reads
    /// of a key with a write above the commit point.
    #[test]
    fn the_chain_answers_reads_only_where_and_while_it_may() {
        let not = Some(Refusal::ChainNotReading);
        let tail = chain_region(2, 3, 2);
        assert_eq!(answers(&tail, 1, 10), [None; 4]);
        assert_eq!(answers(&tail, 1, 800), [not, None, not, not]);
        let middle = chain_region(1, 3, 2);
        assert_eq!(answers(&middle, 1, 10), [None, None, not, not]);
        let unknown = chain_region(1, 0, 0);
        let nowhere = Some(Refusal::NoReadRegion);
        assert_eq!(answers(&unknown, 1, 10), [nowhere, None, not, not]);

        let mut reads = chain_region(1, 3, 1);
        assert_eq!(answers(&reads, 3, 10), [None; 4]);
        let id = EntryId {
            origin: R(0),
            epoch: 1,
            seq: 1,
        };
        let cell = Cell {
            stamp: Stamp::NONE,
            value: OpId(1),
        };
        let e = Entry::new(id, Key(3), cell, 10);
        reads.fo.as_mut().expect("failover").recent.push_back(e);
        let un = Some(Refusal::ChainUnsettled);
        assert_eq!(answers(&reads, 3, 10), [un, None, un, None]);
        assert_eq!(answers(&reads, 4, 10), [None; 4]);
    }
}
