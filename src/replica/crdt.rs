//! Conflict-free replicated data types: counters, registers, sets and maps with state-based
//! merge and delta mutators (each update returns the small delta to ship; merging deltas or
//! whole states in any order, any number of times, reaches the same state).
//!
//! Causal types (multi-value register, OR-Set, OR-Map) follow Almeida, Shoker and Baquero,
//! "Delta state replicated data types" (2018): a dot store plus a causal context, so removes
//! need no tombstones: a dot the context has seen but the store lacks was removed.

use super::causal::{Actor, CausalContext, Dot};
use super::{mix64, Stamp};
use std::collections::{BTreeMap, BTreeSet};

/// A join-semilattice: `merge` is commutative, associative and idempotent.
pub trait Lattice: Clone + PartialEq + std::fmt::Debug {
    fn merge(&mut self, other: &Self);
}

/// An order-independent 64-bit digest of a value (equal states, equal digests).
pub trait Digest {
    fn digest(&self) -> u64;
}

fn h2(a: u64, b: u64) -> u64 {
    mix64(a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ mix64(b))
}

/// Grow-only counter: one monotone count per actor; the value is their sum.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GCounter(pub BTreeMap<Actor, u64>);

impl GCounter {
    pub fn value(&self) -> u64 {
        self.0.values().sum()
    }
    /// Adds `by` for `a`; the delta is `a`'s new count.
    pub fn incr(&mut self, a: Actor, by: u64) -> GCounter {
        let c = self.0.entry(a).or_insert(0);
        *c += by;
        GCounter(BTreeMap::from([(a, *c)]))
    }
}

impl Lattice for GCounter {
    fn merge(&mut self, other: &Self) {
        for (&a, &n) in &other.0 {
            let c = self.0.entry(a).or_insert(0);
            *c = (*c).max(n);
        }
    }
}

impl Digest for GCounter {
    fn digest(&self) -> u64 {
        self.0
            .iter()
            .fold(0, |acc, (a, n)| acc.wrapping_add(h2(a.0 as u64, *n)))
    }
}

/// Positive-negative counter: increments and decrements as two grow-only counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PnCounter {
    pub p: GCounter,
    pub n: GCounter,
}

impl PnCounter {
    pub fn value(&self) -> i64 {
        self.p.value() as i64 - self.n.value() as i64
    }
    /// Adds `by` (negative: subtracts); the delta carries only the side that moved.
    pub fn add(&mut self, a: Actor, by: i64) -> PnCounter {
        let mut d = PnCounter::default();
        if by >= 0 {
            d.p = self.p.incr(a, by as u64);
        } else {
            d.n = self.n.incr(a, by.unsigned_abs());
        }
        d
    }
}

impl Lattice for PnCounter {
    fn merge(&mut self, other: &Self) {
        self.p.merge(&other.p);
        self.n.merge(&other.n);
    }
}

impl Digest for PnCounter {
    fn digest(&self) -> u64 {
        h2(self.p.digest(), self.n.digest().rotate_left(1))
    }
}

/// Last-writer-wins register: the value with the highest stamp.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LwwRegister<V> {
    pub stamp: Stamp,
    pub value: Option<V>,
}

impl<V> Default for LwwRegister<V> {
    fn default() -> Self {
        LwwRegister {
            stamp: Stamp::NONE,
            value: None,
        }
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> LwwRegister<V> {
    pub fn set(&mut self, stamp: Stamp, v: Option<V>) -> LwwRegister<V> {
        let d = LwwRegister { stamp, value: v };
        self.merge(&d);
        d
    }
}

impl<V: Clone + PartialEq + std::fmt::Debug> Lattice for LwwRegister<V> {
    fn merge(&mut self, other: &Self) {
        if other.stamp > self.stamp {
            *self = other.clone();
        }
    }
}

/// Grow-only set.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GSet<E: Ord>(pub BTreeSet<E>);

impl<E: Ord> Default for GSet<E> {
    fn default() -> Self {
        GSet(BTreeSet::new())
    }
}

impl<E: Ord + Clone + std::fmt::Debug> GSet<E> {
    pub fn add(&mut self, e: E) -> GSet<E> {
        self.0.insert(e.clone());
        GSet(BTreeSet::from([e]))
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for GSet<E> {
    fn merge(&mut self, other: &Self) {
        self.0.extend(other.0.iter().cloned());
    }
}

/// Two-phase set: an element once removed can never come back (the removal is a tombstone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TwoPSet<E: Ord> {
    pub added: BTreeSet<E>,
    pub removed: BTreeSet<E>,
}

impl<E: Ord> Default for TwoPSet<E> {
    fn default() -> Self {
        TwoPSet {
            added: BTreeSet::new(),
            removed: BTreeSet::new(),
        }
    }
}

impl<E: Ord + Clone + std::fmt::Debug> TwoPSet<E> {
    pub fn contains(&self, e: &E) -> bool {
        self.added.contains(e) && !self.removed.contains(e)
    }
    pub fn elements(&self) -> impl Iterator<Item = &E> {
        self.added.iter().filter(|e| !self.removed.contains(*e))
    }
    pub fn add(&mut self, e: E) -> TwoPSet<E> {
        self.added.insert(e.clone());
        TwoPSet {
            added: BTreeSet::from([e]),
            removed: BTreeSet::new(),
        }
    }
    /// Removes `e` (only an element seen here can be removed: 2P-Set's precondition).
    pub fn remove(&mut self, e: E) -> Option<TwoPSet<E>> {
        if !self.added.contains(&e) {
            return None;
        }
        self.removed.insert(e.clone());
        Some(TwoPSet {
            added: BTreeSet::new(),
            removed: BTreeSet::from([e]),
        })
    }
}

impl<E: Ord + Clone + std::fmt::Debug> Lattice for TwoPSet<E> {
    fn merge(&mut self, other: &Self) {
        self.added.extend(other.added.iter().cloned());
        self.removed.extend(other.removed.iter().cloned());
    }
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

/// Counters carry no dots: their causal join is the pointwise maximum, so wrapping one in
/// `Causal` only adds a record of which operations it contains.
impl DotStore for PnCounter {
    fn join(&mut self, _: &CausalContext, other: &Self, _: &CausalContext) {
        self.merge(other);
    }
    fn is_bottom(&self) -> bool {
        self.p.0.is_empty() && self.n.0.is_empty()
    }
    fn dots(&self, _: &mut Vec<Dot>) {}
}

/// State-based types without dots join by their own merge; wrapped in `Causal` they gain a
/// record of which operations they contain.
macro_rules! plain_dot_store {
    ($t:ty, $bottom:expr) => {
        impl DotStore for $t {
            fn join(&mut self, _: &CausalContext, other: &Self, _: &CausalContext) {
                self.merge(other);
            }
            #[allow(clippy::redundant_closure_call)]
            fn is_bottom(&self) -> bool {
                ($bottom)(self)
            }
            fn dots(&self, _: &mut Vec<Dot>) {}
        }
    };
}

plain_dot_store!(GCounter, |s: &GCounter| s.0.is_empty());
plain_dot_store!(GSet<u32>, |s: &GSet<u32>| s.0.is_empty());
plain_dot_store!(TwoPSet<u32>, |s: &TwoPSet<u32>| s.added.is_empty()
    && s.removed.is_empty());
plain_dot_store!(LwwMap<u32, super::OpId>, |s: &LwwMap<u32, super::OpId>| s
    .0
    .is_empty());

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
    fn local(&mut self, d: Causal<S>) -> Causal<S> {
        self.merge(&d);
        d
    }
}

/// Multi-value register: a write replaces every value it has seen; concurrent writes are all
/// kept (siblings) until a write that has seen them all replaces them.
pub type MvRegister<V> = Causal<DotFun<V>>;

impl<V: Clone + PartialEq + std::fmt::Debug> Causal<DotFun<V>> {
    pub fn write(&mut self, a: Actor, v: V) -> MvRegister<V> {
        let d = self.ctx.next_dot(a);
        let mut ctx = CausalContext::default();
        for &old in self.store.0.keys() {
            ctx.insert(old);
        }
        ctx.insert(d);
        self.local(Causal {
            store: DotFun(BTreeMap::from([(d, v)])),
            ctx,
        })
    }
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.store.0.values()
    }
    pub fn siblings(&self) -> usize {
        self.store.0.len()
    }
}

/// Observed-remove set, add-wins: a remove takes away the adds it has seen; an add concurrent
/// with it survives.
pub type OrSet<E> = Causal<DotMap<E, DotSet>>;

impl<E: Ord + Clone + std::fmt::Debug> Causal<DotMap<E, DotSet>> {
    pub fn contains(&self, e: &E) -> bool {
        self.store.0.contains_key(e)
    }
    pub fn elements(&self) -> impl Iterator<Item = &E> {
        self.store.0.keys()
    }
    pub fn add(&mut self, a: Actor, e: E) -> OrSet<E> {
        let d = self.ctx.next_dot(a);
        let mut ctx = CausalContext::default();
        if let Some(old) = self.store.0.get(&e) {
            old.iter().for_each(|&o| {
                ctx.insert(o);
            });
        }
        ctx.insert(d);
        self.local(Causal {
            store: DotMap(BTreeMap::from([(e, DotSet::from([d]))])),
            ctx,
        })
    }
    /// Removes the adds of `e` seen here. The remove itself takes a dot too, so it is an event
    /// other replicas can tell they have seen.
    pub fn remove(&mut self, a: Actor, e: &E) -> OrSet<E> {
        let d = self.ctx.next_dot(a);
        let mut ctx = CausalContext::default();
        if let Some(old) = self.store.0.get(e) {
            old.iter().for_each(|&o| {
                ctx.insert(o);
            });
        }
        ctx.insert(d);
        self.local(Causal {
            store: DotMap::default(),
            ctx,
        })
    }
}

/// Observed-remove map of multi-value registers: a field is present while some write to it
/// has not been observed by a remove.
pub type OrMap<K, V> = Causal<DotMap<K, DotFun<V>>>;

impl<K: Ord + Clone + std::fmt::Debug, V: Clone + PartialEq + std::fmt::Debug>
    Causal<DotMap<K, DotFun<V>>>
{
    pub fn put(&mut self, a: Actor, k: K, v: V) -> OrMap<K, V> {
        let d = self.ctx.next_dot(a);
        let mut ctx = CausalContext::default();
        if let Some(old) = self.store.0.get(&k) {
            old.0.keys().for_each(|&o| {
                ctx.insert(o);
            });
        }
        ctx.insert(d);
        self.local(Causal {
            store: DotMap(BTreeMap::from([(k, DotFun(BTreeMap::from([(d, v)])))])),
            ctx,
        })
    }
    pub fn remove(&mut self, a: Actor, k: &K) -> OrMap<K, V> {
        let d = self.ctx.next_dot(a);
        let mut ctx = CausalContext::default();
        if let Some(old) = self.store.0.get(k) {
            old.0.keys().for_each(|&o| {
                ctx.insert(o);
            });
        }
        ctx.insert(d);
        self.local(Causal {
            store: DotMap::default(),
            ctx,
        })
    }
}

/// Counter with a record of the increments it holds.
pub type CausalCounter = Causal<PnCounter>;

impl Causal<PnCounter> {
    pub fn add(&mut self, a: Actor, by: i64) -> CausalCounter {
        let d = self.ctx.next_dot(a);
        let store = self.store.add(a, by);
        self.ctx.insert(d);
        let mut ctx = CausalContext::default();
        ctx.insert(d);
        Causal { store, ctx }
    }
}

/// Last-writer-wins map: each field is an LWW register; a remove is a write of "absent".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LwwMap<K: Ord, V>(pub BTreeMap<K, LwwRegister<V>>);

impl<K: Ord, V> Default for LwwMap<K, V> {
    fn default() -> Self {
        LwwMap(BTreeMap::new())
    }
}

impl<K: Ord + Clone + std::fmt::Debug, V: Clone + PartialEq + std::fmt::Debug> LwwMap<K, V> {
    pub fn set(&mut self, stamp: Stamp, k: K, v: Option<V>) -> LwwMap<K, V> {
        let r = self.0.entry(k.clone()).or_default().set(stamp, v);
        LwwMap(BTreeMap::from([(k, r)]))
    }
    pub fn get(&self, k: &K) -> Option<&V> {
        self.0.get(k).and_then(|r| r.value.as_ref())
    }
}

impl<K: Ord + Clone + std::fmt::Debug, V: Clone + PartialEq + std::fmt::Debug> Lattice
    for LwwMap<K, V>
{
    fn merge(&mut self, other: &Self) {
        for (k, r) in &other.0 {
            self.0.entry(k.clone()).or_default().merge(r);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::RegionId;
    use crate::time::Wall;
    use proptest::prelude::*;

    fn actor(i: u8) -> Actor {
        Actor::new(RegionId(i as u16), 1)
    }

    #[test]
    fn mv_register_keeps_concurrent_writes_and_resolves_on_the_next() {
        let (mut a, mut b) = (MvRegister::<u32>::default(), MvRegister::<u32>::default());
        let da = a.write(actor(0), 1);
        let db = b.write(actor(1), 2);
        a.merge(&db);
        b.merge(&da);
        assert_eq!(a, b);
        assert_eq!(a.values().copied().collect::<Vec<_>>(), vec![1, 2]);
        let d = a.write(actor(0), 3);
        b.merge(&d);
        assert_eq!(b.values().copied().collect::<Vec<_>>(), vec![3]);
    }

    #[test]
    fn or_set_add_wins_over_a_concurrent_remove() {
        let (mut a, mut b) = (OrSet::<u32>::default(), OrSet::<u32>::default());
        let add1 = a.add(actor(0), 7);
        b.merge(&add1);
        let rm = b.remove(actor(1), &7); // b saw add1 and removes it
        let add2 = a.add(actor(0), 7); // concurrently a adds 7 again
        a.merge(&rm);
        b.merge(&add2);
        assert_eq!(a, b);
        assert!(a.contains(&7), "the unobserved add survives the remove");
        let rm2 = a.remove(actor(0), &7);
        b.merge(&rm2);
        assert!(!b.contains(&7));
    }

    #[test]
    fn a_remove_delivered_before_its_add_still_removes_it() {
        let (mut a, mut b, mut c) = (OrSet::default(), OrSet::default(), OrSet::default());
        let add = a.add(actor(0), 1u32);
        b.merge(&add);
        let rm = b.remove(actor(1), &1);
        c.merge(&rm);
        c.merge(&add);
        assert!(!c.contains(&1));
    }

    #[test]
    fn two_p_set_never_readds_and_counters_sum() {
        let mut s = TwoPSet::default();
        s.add(1u32);
        assert!(s.remove(1).is_some());
        s.add(1);
        assert!(!s.contains(&1));
        assert!(s.remove(9).is_none(), "cannot remove what was never added");
        let mut c = CausalCounter::default();
        c.add(actor(0), 5);
        c.add(actor(1), -2);
        assert_eq!(c.store.value(), 3);
        assert_eq!(c.ctx.vv.get(actor(0)), 1);
    }

    #[test]
    fn or_map_fields_and_lww_map() {
        let mut m = OrMap::<u32, u32>::default();
        m.put(actor(0), 1, 10);
        m.put(actor(0), 2, 20);
        m.remove(actor(0), &1);
        assert_eq!(m.store.0.keys().copied().collect::<Vec<_>>(), vec![2]);
        let mut l = LwwMap::<u32, u32>::default();
        let s = |w| Stamp::new(Wall(w), RegionId(0), 1, w as u32);
        let d1 = l.set(s(2), 1, Some(5));
        let mut l2 = LwwMap::default();
        l2.set(s(1), 1, Some(4));
        l2.merge(&d1);
        assert_eq!(l2.get(&1), Some(&5));
    }

    /// One generated operation: (replica, kind, element).
    type GenOp = (u8, u8, u8);

    fn ops() -> impl Strategy<Value = Vec<GenOp>> {
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
    fn laws<T: Lattice + Default>(
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

    proptest! {
        #[test]
        fn pn_counter_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<CausalCounter>(&ops, &order, dup, |s, a, kind, e, _| {
                s.add(a, if kind == 0 { -(e as i64) } else { e as i64 + 1 })
            })?;
        }

        #[test]
        fn g_counter_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<GCounter>(&ops, &order, dup, |s, a, _, e, _| s.incr(a, e as u64 + 1))?;
        }

        #[test]
        fn or_set_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<OrSet<u8>>(&ops, &order, dup, |s, a, kind, e, _| {
                if kind == 0 { s.remove(a, &e) } else { s.add(a, e) }
            })?;
        }

        #[test]
        fn mv_register_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<MvRegister<u64>>(&ops, &order, dup, |s, a, _, _, i| s.write(a, i))?;
        }

        #[test]
        fn or_map_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<OrMap<u8, u64>>(&ops, &order, dup, |s, a, kind, e, i| {
                if kind == 0 { s.remove(a, &e) } else { s.put(a, e, i) }
            })?;
        }

        #[test]
        fn g_set_and_two_p_set_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<GSet<u8>>(&ops, &order, dup, |s, _, _, e, _| s.add(e))?;
            laws::<TwoPSet<u8>>(&ops, &order, dup, |s, _, kind, e, _| {
                if kind == 0 { s.remove(e).unwrap_or_default() } else { s.add(e) }
            })?;
        }

        #[test]
        fn lww_register_and_map_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            let stamp = |a: Actor, i: u64| Stamp::new(Wall(i as i64), a.region(), 1, i as u32);
            laws::<LwwRegister<u64>>(&ops, &order, dup, |s, a, _, _, i| s.set(stamp(a, i), Some(i)))?;
            laws::<LwwMap<u8, u64>>(&ops, &order, dup, |s, a, kind, e, i| {
                s.set(stamp(a, i), e, (kind != 0).then_some(i))
            })?;
        }

        /// OR-Set semantics against an oracle: after all deliveries an element is present iff
        /// some add of it was observed by no remove (nor replaced by a later add of it).
        #[test]
        fn or_set_present_iff_an_add_was_unobserved(ops in ops(), cut in 0usize..30) {
            // Replicas exchange all deltas up to `cut`, then run the rest without talking.
            let mut reps = vec![OrSet::<u8>::default(); 3];
            let mut deltas: Vec<OrSet<u8>> = Vec::new();
            let mut adds: Vec<(u8, Dot)> = Vec::new();
            let mut observed: BTreeSet<Dot> = BTreeSet::new();
            for (i, &(r, kind, e)) in ops.iter().enumerate() {
                if i == cut {
                    for rep in reps.iter_mut() {
                        for d in &deltas { rep.merge(d); }
                    }
                }
                let rep = &mut reps[r as usize];
                let d = if kind == 0 {
                    if let Some(seen) = rep.store.0.get(&e) { observed.extend(seen.iter().copied()); }
                    rep.remove(actor(r), &e)
                } else {
                    // A re-add replaces the adds it has seen (they live on through it).
                    if let Some(seen) = rep.store.0.get(&e) { observed.extend(seen.iter().copied()); }
                    let d = rep.add(actor(r), e);
                    adds.push((e, *d.store.0[&e].iter().next().unwrap()));
                    d
                };
                deltas.push(d);
            }
            let mut fin = OrSet::<u8>::default();
            for d in &deltas { fin.merge(d); }
            for e in 0u8..4 {
                let want = adds.iter().any(|(x, dot)| *x == e && !observed.contains(dot));
                prop_assert_eq!(fin.contains(&e), want, "element {}", e);
            }
        }
    }
}
