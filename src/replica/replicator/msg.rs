//! The replicator's wire messages: one enum per subsystem, each defined beside the code that
//! sends and handles it, gathered here into the one message type the host carries.
//!
//! Every [`WireMessage`] answer (class, kind, size, fingerprint) is the subsystem's own; this
//! file only delegates, so a message's trace fingerprint and wire size do not depend on how
//! the subsystems are grouped.

use super::{AeMsg, ClientMsg, FoMsg, LinkMsg, RepairMsg, RestoreMsg};
use crate::replica::crdt::Digest;
use crate::replica::data::Data;
use crate::replica::{Key, MsgClass, WireMessage, Work};
use std::sync::Arc;

/// A message between two replicas, by subsystem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Msg {
    /// The reliable link transport (log shipping).
    Link(LinkMsg),
    /// Client requests forwarded between regions.
    Client(ClientMsg),
    /// Single-key repair.
    Repair(RepairMsg),
    /// Anti-entropy sessions.
    Ae(AeMsg),
    /// Failover: heartbeats, elections, catch-up.
    Failover(FoMsg),
    /// Restore of a rebuilt region.
    Restore(RestoreMsg),
}

macro_rules! from_sub {
    ($($variant:ident($ty:ty)),*) => {$(
        impl From<$ty> for Msg {
            #[inline]
            fn from(m: $ty) -> Msg {
                Msg::$variant(m)
            }
        }
    )*};
}
from_sub!(
    Link(LinkMsg),
    Client(ClientMsg),
    Repair(RepairMsg),
    Ae(AeMsg),
    Failover(FoMsg),
    Restore(RestoreMsg)
);

/// Applies `$e` to the subsystem message inside `$msg`, whichever it is.
macro_rules! each {
    ($msg:expr, $m:ident => $e:expr) => {
        match $msg {
            Msg::Link($m) => $e,
            Msg::Client($m) => $e,
            Msg::Repair($m) => $e,
            Msg::Ae($m) => $e,
            Msg::Failover($m) => $e,
            Msg::Restore($m) => $e,
        }
    };
}

impl WireMessage for Msg {
    #[inline]
    fn class(&self) -> MsgClass {
        each!(self, m => m.class())
    }
    #[inline]
    fn work(&self) -> Work {
        each!(self, m => m.work())
    }
    #[inline]
    fn wire_bytes(&self) -> u64 {
        each!(self, m => m.wire_bytes())
    }
    #[inline]
    fn kind(&self) -> &'static str {
        each!(self, m => m.kind())
    }
    #[inline]
    fn is_background(&self) -> bool {
        each!(self, m => m.is_background())
    }
    #[inline]
    fn is_retransmission(&self) -> bool {
        each!(self, m => m.is_retransmission())
    }
    #[inline]
    fn fingerprint(&self) -> u64 {
        each!(self, m => m.fingerprint())
    }
    #[inline]
    fn carries_key(&self, key: Key) -> bool {
        each!(self, m => m.carries_key(key))
    }
}

/// The work of applying `k` writes.
#[inline]
pub(super) fn writes(k: usize) -> Work {
    Work {
        writes: k.min(u32::MAX as usize) as u32,
        reads: 0,
    }
}

/// Header bytes of a small request or response message.
pub(super) const RPC_BYTES: u64 = 32;

/// Folds shipped data into a message fingerprint (zero when there is none).
pub(super) fn data_fingerprint(data: &[(Key, Arc<Data>)]) -> u64 {
    data.iter()
        .fold(0u64, |a, (k, d)| a.rotate_left(5) ^ k.0 ^ d.digest())
}

/// Wire bytes of the data shipped with anti-entropy or state transfer.
pub(super) fn data_bytes(data: &[(Key, Arc<Data>)], value_bytes: u32) -> u64 {
    data.iter().map(|(_, d)| d.wire_bytes(value_bytes)).sum()
}

/// Grouping by subsystem must not make a message bigger to move than the flat enum was.
const _: () = assert!(std::mem::size_of::<Msg>() <= 104);
