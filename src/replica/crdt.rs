//! Conflict-free replicated data types: the machinery shared by the data policies (a
//! join-semilattice, digests, dot stores and their causal join). Each concrete type lives with
//! its policy under `super::data`: counters, sets, maps, the multi-value register. Updates are
//! delta mutators (each returns the small delta to ship; merging deltas or whole states in any
//! order, any number of times, reaches the same state); `laws` (tests only) checks that.
//!
//! Causal types (multi-value register, OR-Set, OR-Map) follow Almeida, Shoker and Baquero,
//! "Delta state replicated data types" (2018): a dot store plus a causal context, so removes
//! need no tombstones: a dot the context has seen but the store lacks was removed.

use super::causal::{CausalContext, Dot};
use std::collections::{BTreeMap, BTreeSet};

/// A join-semilattice: `merge` is commutative, associative and idempotent.
pub trait Lattice: Clone + PartialEq + std::fmt::Debug {
    fn merge(&mut self, other: &Self);
}

/// An order-independent 64-bit digest of a value (equal states, equal digests).
pub trait Digest {
    fn digest(&self) -> u64;
}

/// What a causal CRDT stores next to its context. `join` is the causal join: an entry survives
/// if both sides have it, or one side has it and the other has not seen its dot.
pub trait DotStore: Clone + PartialEq + std::fmt::Debug + Default {
    fn join(&mut self, ctx: &CausalContext, other: &Self, other_ctx: &CausalContext);
    fn is_bottom(&self) -> bool;
    fn dots(&self, out: &mut Vec<Dot>);
}

/// A set of dots (one OR-Set element's live adds).
pub type DotSet = BTreeSet<Dot>;

impl DotStore for DotSet {
    fn join(&mut self, ctx: &CausalContext, other: &Self, other_ctx: &CausalContext) {
        self.retain(|d| other.contains(d) || !other_ctx.contains(*d));
        for &d in other {
            if !ctx.contains(d) {
                self.insert(d);
            }
        }
    }
    fn is_bottom(&self) -> bool {
        self.is_empty()
    }
    fn dots(&self, out: &mut Vec<Dot>) {
        out.extend(self.iter().copied());
    }
}

/// Dots mapped to values (a multi-value register's concurrent values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotFun<V>(pub BTreeMap<Dot, V>);

impl<V> Default for DotFun<V> {
    fn default() -> Self {
        DotFun(BTreeMap::new())
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> DotStore for DotFun<V> {
    fn join(&mut self, ctx: &CausalContext, other: &Self, other_ctx: &CausalContext) {
        self.0
            .retain(|d, _| other.0.contains_key(d) || !other_ctx.contains(*d));
        for (&d, v) in &other.0 {
            if !ctx.contains(d) {
                self.0.insert(d, v.clone());
            }
        }
    }
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }
    fn dots(&self, out: &mut Vec<Dot>) {
        out.extend(self.0.keys().copied());
    }
}

/// Keys mapped to dot stores (an OR-Set's elements, an OR-Map's fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DotMap<K: Ord, S>(pub BTreeMap<K, S>);

impl<K: Ord, S> Default for DotMap<K, S> {
    fn default() -> Self {
        DotMap(BTreeMap::new())
    }
}

impl<K: Ord + Clone + std::fmt::Debug, S: DotStore> DotStore for DotMap<K, S> {
    fn join(&mut self, ctx: &CausalContext, other: &Self, other_ctx: &CausalContext) {
        let keys: BTreeSet<K> = self.0.keys().chain(other.0.keys()).cloned().collect();
        let empty = S::default();
        for k in keys {
            let mut mine = self.0.remove(&k).unwrap_or_default();
            mine.join(ctx, other.0.get(&k).unwrap_or(&empty), other_ctx);
            if !mine.is_bottom() {
                self.0.insert(k, mine);
            }
        }
    }
    fn is_bottom(&self) -> bool {
        self.0.is_empty()
    }
    fn dots(&self, out: &mut Vec<Dot>) {
        for s in self.0.values() {
            s.dots(out);
        }
    }
}

/// State-based types without dots join by their own merge; wrapped in `Causal` they gain a
/// record of which operations they contain.
macro_rules! plain_dot_store {
    ($t:ty, $bottom:expr) => {
        impl $crate::replica::crdt::DotStore for $t {
            fn join(
                &mut self,
                _: &$crate::replica::causal::CausalContext,
                other: &Self,
                _: &$crate::replica::causal::CausalContext,
            ) {
                $crate::replica::crdt::Lattice::merge(self, other);
            }
            #[allow(clippy::redundant_closure_call)]
            fn is_bottom(&self) -> bool {
                ($bottom)(self)
            }
            fn dots(&self, _: &mut Vec<$crate::replica::causal::Dot>) {}
        }
    };
}

pub(crate) use plain_dot_store;

/// A dot store with the context of every event it reflects.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Causal<S> {
    pub store: S,
    pub ctx: CausalContext,
}

impl<S: DotStore> Lattice for Causal<S> {
    fn merge(&mut self, other: &Self) {
        self.store.join(&self.ctx, &other.store, &other.ctx);
        self.ctx.merge(&other.ctx);
    }
}

impl<S: DotStore> Causal<S> {
    /// Applies a delta made here and returns it (for shipping).
    pub(crate) fn local(&mut self, d: Causal<S>) -> Causal<S> {
        self.merge(&d);
        d
    }
}

/// The merge laws every CRDT must satisfy, for the proptests beside each type.
#[cfg(test)]
pub(crate) mod laws {
    use super::*;
    use crate::replica::causal::Actor;
    use crate::replica::RegionId;
    use proptest::prelude::*;

    pub(crate) fn actor(i: u8) -> Actor {
        Actor::new(RegionId(i as u16), 1)
    }

    /// One generated operation: (replica, kind, element).
    pub(crate) type GenOp = (u8, u8, u8);

    pub(crate) fn ops() -> impl Strategy<Value = Vec<GenOp>> {
        proptest::collection::vec((0u8..3, 0u8..3, 0u8..4), 0..30)
    }

    /// Runs `ops` on three replicas; each op is applied where it happens and its delta kept.
    fn run<T: Lattice + Default>(
        ops: &[GenOp],
        apply: impl Fn(&mut T, Actor, u8, u8, u64) -> T,
    ) -> (Vec<T>, Vec<(u8, T)>) {
        let mut reps = vec![T::default(), T::default(), T::default()];
        let mut deltas = Vec::new();
        for (i, &(r, kind, e)) in ops.iter().enumerate() {
            let d = apply(&mut reps[r as usize], actor(r), kind, e, i as u64 + 1);
            deltas.push((r, d));
        }
        (reps, deltas)
    }

    /// Laws every CRDT must satisfy, checked on states reached by real operations.
    pub(crate) fn laws<T: Lattice + Default>(
        ops: &[GenOp],
        order: &[usize],
        dup: usize,
        apply: impl Fn(&mut T, Actor, u8, u8, u64) -> T,
    ) -> Result<(), TestCaseError> {
        let (reps, deltas) = run(ops, apply);
        let (a, b, c) = (&reps[0], &reps[1], &reps[2]);
        // Commutative, associative, idempotent.
        let mut ab = a.clone();
        ab.merge(b);
        let mut ba = b.clone();
        ba.merge(a);
        prop_assert_eq!(&ab, &ba);
        let mut ab_c = ab.clone();
        ab_c.merge(c);
        let mut bc = b.clone();
        bc.merge(c);
        let mut a_bc = a.clone();
        a_bc.merge(&bc);
        prop_assert_eq!(&ab_c, &a_bc);
        let mut aa = a.clone();
        aa.merge(a);
        prop_assert_eq!(&aa, a);
        // Full-state merge of everything.
        let full = ab_c;
        // Deltas in any order, some delivered twice, converge to the same state.
        let mut via_deltas = T::default();
        let n = deltas.len();
        for k in 0..n + dup.min(n) {
            let i = order.get(k % order.len().max(1)).copied().unwrap_or(k) % n.max(1);
            if n > 0 {
                via_deltas.merge(&deltas[(i + k) % n].1);
            }
        }
        for (_, d) in &deltas {
            via_deltas.merge(d); // every delta at least once
        }
        prop_assert_eq!(&via_deltas, &full);
        // Deltas in reverse order too.
        let mut rev = T::default();
        for (_, d) in deltas.iter().rev() {
            rev.merge(d);
        }
        prop_assert_eq!(&rev, &full);
        Ok(())
    }
}
