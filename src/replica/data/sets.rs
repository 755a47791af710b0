//! Set CRDTs: `or-set` (observed-remove, add wins), `g-set` (grow-only) and `2p-set`
//! (two-phase: a removed element never returns).

use super::{
    causal_state, ctx_digest, elems_digest, own, Data, DataPolicy, DataState, Shape, View,
    WriteKind,
};
use crate::replica::causal::{Actor, CausalContext};
use crate::replica::crdt::{plain_dot_store, Causal, DotMap, DotSet, Lattice};
use crate::replica::{mix64, OpId};
use crate::time::Wall;
use std::collections::{BTreeMap, BTreeSet};

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

plain_dot_store!(GSet<u32>, |s: &GSet<u32>| s.0.is_empty());
plain_dot_store!(TwoPSet<u32>, |s: &TwoPSet<u32>| s.added.is_empty()
    && s.removed.is_empty());

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

/// `or-set`: observed-remove set, add wins (the CRDT of sets).
pub struct OrSetPolicy;

impl DataPolicy for OrSetPolicy {
    const NAME: &'static str = "or-set";
    const MERGES: bool = true;
    const ADD_WINS: bool = true;
    const CRDT_OF: Option<Shape> = Some(Shape::Set);

    fn fits(shape: Shape) -> bool {
        shape == Shape::Set
    }

    fn empty() -> Data {
        Data::OrSet(OrSet::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, _: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        match (d, kind) {
            (Data::OrSet(s), WriteKind::Insert(e)) => Some(Data::OrSet(s.add(a, e))),
            (Data::OrSet(s), WriteKind::Remove(e)) => Some(Data::OrSet(s.remove(a, &e))),
            _ => None,
        }
    }
}

/// `g-set`: grow-only set (a remove is refused by validation).
pub struct GSetPolicy;

impl DataPolicy for GSetPolicy {
    const NAME: &'static str = "g-set";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;
    const REFUSES: Option<(&'static str, &'static str)> = Some(("remove", "only grows"));

    fn fits(shape: Shape) -> bool {
        shape == Shape::Set
    }

    fn empty() -> Data {
        Data::GSet(Causal::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, _: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        match (d, kind) {
            (Data::GSet(s), WriteKind::Insert(e)) => {
                let (dot, store) = (s.ctx.next_dot(a), s.store.add(e));
                Some(Data::GSet(own(&mut s.ctx, dot, store)))
            }
            _ => None,
        }
    }
}

/// `2p-set`: two-phase set; a removed element never returns.
pub struct TwoPSetPolicy;

impl DataPolicy for TwoPSetPolicy {
    const NAME: &'static str = "2p-set";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;

    fn fits(shape: Shape) -> bool {
        shape == Shape::Set
    }

    fn empty() -> Data {
        Data::TwoP(Causal::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, _: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        let Data::TwoP(s) = d else { return None };
        let dot = s.ctx.next_dot(a);
        let store = match kind {
            WriteKind::Insert(e) => s.store.add(e),
            WriteKind::Remove(e) => s.store.remove(e).unwrap_or_default(),
            _ => return None,
        };
        Some(Data::TwoP(own(&mut s.ctx, dot, store)))
    }
}

impl DataState for OrSet<u32> {
    const TAG: u64 = 6;
    causal_state!();

    fn view(&self) -> View {
        View::Elems(self.elements().copied().collect())
    }

    fn body_bytes(&self, _: u32) -> u64 {
        self.store.0.values().map(|d| 4 + 8 * d.len() as u64).sum()
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx)
            ^ self.store.0.iter().fold(0u64, |a, (e, ds)| {
                a.wrapping_add(mix64(
                    *e as u64 ^ ds.iter().fold(0u64, |x, d| x.wrapping_add(mix64(d.0))),
                ))
            })
    }
}

impl DataState for Causal<GSet<u32>> {
    const TAG: u64 = 7;
    causal_state!();

    fn view(&self) -> View {
        View::Elems(self.store.0.iter().copied().collect())
    }

    fn body_bytes(&self, _: u32) -> u64 {
        4 * self.store.0.len() as u64
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx) ^ elems_digest(self.store.0.iter().copied())
    }
}

impl DataState for Causal<TwoPSet<u32>> {
    const TAG: u64 = 8;
    causal_state!();

    fn view(&self) -> View {
        View::Elems(self.store.elements().copied().collect())
    }

    fn body_bytes(&self, _: u32) -> u64 {
        4 * (self.store.added.len() + self.store.removed.len()) as u64
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx)
            ^ elems_digest(self.store.added.iter().copied())
            ^ elems_digest(self.store.removed.iter().copied()).rotate_left(7)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::causal::Dot;
    use crate::replica::crdt::laws::{actor, laws, ops};
    use crate::replica::crdt::Digest;
    use crate::replica::data::tests::up;
    use crate::replica::data::Policy;
    use proptest::prelude::*;

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
    fn two_p_set_never_readds() {
        let mut s = TwoPSet::default();
        s.add(1u32);
        assert!(s.remove(1).is_some());
        s.add(1);
        assert!(!s.contains(&1));
        assert!(s.remove(9).is_none(), "cannot remove what was never added");
    }

    /// A re-add seen late still removes the adds it replaced, though it brings no write the
    /// receiver lacks (the receiver already learned its dot from a later remove): a host must
    /// judge "changed" by the value, not by new dots.
    #[test]
    fn a_late_delta_can_change_a_value_without_new_writes() {
        let (mut x, mut y) = (None, None);
        let add_x = up(&mut x, Policy::OrSet, 0, 1, WriteKind::Insert(3));
        Data::merge(&mut y, &add_x);
        let readd = up(&mut y, Policy::OrSet, 1, 2, WriteKind::Insert(3));
        let rm = up(&mut y, Policy::OrSet, 1, 3, WriteKind::Remove(3));
        assert_eq!(
            Data::merge(&mut x, &rm).len(),
            2,
            "the remove and the re-add's dot"
        );
        assert_eq!(
            x.as_ref().unwrap().view(),
            View::Elems(vec![3]),
            "x's add survives"
        );
        let before = x.as_ref().unwrap().digest();
        assert!(Data::merge(&mut x, &readd).is_empty(), "nothing new...");
        assert_ne!(
            x.as_ref().unwrap().digest(),
            before,
            "...but the value changed"
        );
        assert_eq!(x, y);
    }

    proptest! {
        #[test]
        fn or_set_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<OrSet<u8>>(&ops, &order, dup, |s, a, kind, e, _| {
                if kind == 0 { s.remove(a, &e) } else { s.add(a, e) }
            })?;
        }

        #[test]
        fn g_set_and_two_p_set_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<GSet<u8>>(&ops, &order, dup, |s, _, _, e, _| s.add(e))?;
            laws::<TwoPSet<u8>>(&ops, &order, dup, |s, _, kind, e, _| {
                if kind == 0 { s.remove(e).unwrap_or_default() } else { s.add(e) }
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
