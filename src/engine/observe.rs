//! The observation seam: what the engine tells whoever watches a run.
//!
//! The engine reports each observable moment (a client operation issued, answered or failed, a
//! message sent, delivered or dropped, a replica's note, a region going down or coming up, a
//! fault starting or ending, a clock found off) to an [`Observe`] implementation, and never
//! reads anything back: observers cannot steer the simulation, so any number of them (metrics,
//! checkers, a test's recorder) see the same run. The engine is generic over its observer, so
//! every call is statically dispatched and inlined; an event costs what the observer does with it.
//!
//! Every method has an empty default, so an observer implements only what it watches, and
//! `()` observes nothing.

use super::network::DropReason;
use crate::replica::{ClientOp, MsgClass, Note, OpId, RegionId, Replica, Reply};
use crate::time::SimTime;

/// Receives a run's observation events, in simulated-time order.
#[allow(unused_variables)]
pub trait Observe {
    /// A client in region `r` issued `op` (before any replica sees it; a retry is not issued
    /// again, see [`Observe::write_retried`]).
    #[inline]
    fn op_issued(&mut self, r: RegionId, op: &ClientOp, now: SimTime) {}
    /// A client whose home is `r` heard a successful answer (`WriteOk` or `ReadOk`).
    #[inline]
    fn op_answered(&mut self, r: RegionId, reply: Reply, now: SimTime) {}
    /// Operation `op` of a client whose home is `r` failed for good (no retry is left).
    #[inline]
    fn op_failed(&mut self, r: RegionId, op: OpId, now: SimTime) {}
    /// A client retries write `old` as the new write `new` after a failure.
    #[inline]
    fn write_retried(&mut self, old: OpId, new: OpId) {}
    /// A client retries read `op` (under the same id) after a failure.
    #[inline]
    fn read_retried(&mut self, op: OpId) {}
    /// A message of `bytes` left `from` for `to` (whatever then happens to it).
    #[inline]
    fn sent(
        &mut self,
        from: RegionId,
        to: RegionId,
        bytes: u64,
        retransmission: bool,
        class: MsgClass,
    ) {
    }
    /// The network will deliver a second copy of the message just sent.
    #[inline]
    fn duplicated(&mut self, from: RegionId, to: RegionId) {}
    /// A message reached its live destination.
    #[inline]
    fn delivered(&mut self, from: RegionId, to: RegionId) {}
    /// A message was lost: at sending (partition, loss) or on arrival (partition, crash).
    #[inline]
    fn dropped(&mut self, from: RegionId, to: RegionId, reason: DropReason) {}
    /// Replica `r` reported something (a write stamped, applied, a failover step...).
    #[inline]
    fn note(&mut self, r: RegionId, note: Note, now: SimTime) {}
    /// Region `r`'s replica (re)started from its disk and now holds what `replica` shows.
    #[inline]
    fn replica_started<R: Replica>(&mut self, r: RegionId, replica: &R, now: SimTime) {}
    /// Region `r` crashed (or was lost).
    #[inline]
    fn region_down(&mut self, r: RegionId, now: SimTime) {}
    /// Region `r` is up again (its replica starts next, see [`Observe::replica_started`]).
    #[inline]
    fn region_up(&mut self, r: RegionId, now: SimTime) {}
    /// Lost region `r` started downloading the backup taken at `taken` (None: none exists);
    /// it comes up at `until`.
    #[inline]
    fn restore_started(
        &mut self,
        r: RegionId,
        now: SimTime,
        taken: Option<SimTime>,
        until: SimTime,
    ) {
    }
    /// Fault `fault` (index into the run's fault list) took effect.
    #[inline]
    fn fault_started(&mut self, fault: usize, now: SimTime) {}
    /// Fault `fault`'s `for` ran out and its effect ended.
    #[inline]
    fn fault_ended(&mut self, fault: usize, now: SimTime) {}
    /// A time daemon found region `r`'s wall clock off by `err_ns` before correcting it.
    #[inline]
    fn clock_error(&mut self, r: RegionId, err_ns: i64, now: SimTime) {}
    /// The run is over; `live` are the replicas still up, in region order.
    #[inline]
    fn run_ended<'a, R: Replica + 'a>(
        &mut self,
        live: impl Iterator<Item = &'a R> + Clone,
        now: SimTime,
    ) {
    }
}

/// Observes nothing (for runs that only need the engine's own output).
impl Observe for () {}
