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

