//! Counter CRDTs: `pn-counter` (increments and decrements) and `g-counter` (increments only),
//! each one monotone count per actor, merged by pointwise maximum. Wrapped in `Causal`, they
//! also record which operations they hold, so observers can tell which writes a value reflects.

use super::{causal_state, ctx_digest, own, Data, DataPolicy, DataState, Shape, View, WriteKind};
use crate::replica::causal::{Actor, CausalContext, Dot};
use crate::replica::crdt::{plain_dot_store, Causal, Digest, DotStore, Lattice};
use crate::replica::{mix64, OpId};
use crate::time::Wall;
use std::collections::BTreeMap;

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

plain_dot_store!(GCounter, |s: &GCounter| s.0.is_empty());

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

/// `pn-counter`: increments and decrements, merged (the CRDT of counters).
pub struct PnCounterPolicy;

impl DataPolicy for PnCounterPolicy {
    const NAME: &'static str = "pn-counter";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;
    const CRDT_OF: Option<Shape> = Some(Shape::Counter);

    fn fits(shape: Shape) -> bool {
        shape == Shape::Counter
    }

    fn empty() -> Data {
        Data::Counter(CausalCounter::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, _: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        match (d, kind) {
            (Data::Counter(c), WriteKind::Incr(by)) => Some(Data::Counter(c.add(a, by))),
            _ => None,
        }
    }
}

/// `g-counter`: increments only (a decrement is refused by validation).
pub struct GCounterPolicy;

impl DataPolicy for GCounterPolicy {
    const NAME: &'static str = "g-counter";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;
    const REFUSES: Option<(&'static str, &'static str)> = Some(("decr", "only grows"));

    fn fits(shape: Shape) -> bool {
        shape == Shape::Counter
    }

    fn empty() -> Data {
        Data::GCounter(Causal::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, _: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        match (d, kind) {
            (Data::GCounter(c), WriteKind::Incr(by)) => {
                let dot = c.ctx.next_dot(a);
                let store = c.store.incr(a, by.max(0) as u64);
                Some(Data::GCounter(own(&mut c.ctx, dot, store)))
            }
            _ => None,
        }
    }
}

impl DataState for CausalCounter {
    const TAG: u64 = 4;
    causal_state!();

    fn view(&self) -> View {
        View::Count(self.store.value())
    }

    fn body_bytes(&self, _: u32) -> u64 {
        12 * (self.store.p.0.len() + self.store.n.0.len()) as u64
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx) ^ self.store.digest()
    }
}

impl DataState for Causal<GCounter> {
    const TAG: u64 = 5;
    causal_state!();

    fn view(&self) -> View {
        View::Count(self.store.value() as i64)
    }

    fn body_bytes(&self, _: u32) -> u64 {
        12 * self.store.0.len() as u64
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx) ^ self.store.digest()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::crdt::laws::{actor, laws, ops};
    use crate::replica::data::tests::up;
    use crate::replica::data::Policy;
    use proptest::prelude::*;

    #[test]
    fn counters_sum() {
        let mut c = CausalCounter::default();
        c.add(actor(0), 5);
        c.add(actor(1), -2);
        assert_eq!(c.store.value(), 3);
        assert_eq!(c.ctx.vv.get(actor(0)), 1);
    }

    /// A g-counter ignores a negative increment (validation refuses `decr`) but still takes
    /// its dot.
    #[test]
    fn a_g_counter_only_grows() {
        let mut x = None;
        up(&mut x, Policy::GCounter, 0, 1, WriteKind::Incr(3));
        let d = up(&mut x, Policy::GCounter, 0, 2, WriteKind::Incr(-5));
        assert_eq!(x.as_ref().unwrap().view(), View::Count(3));
        assert!(d.ctx().unwrap().contains(Dot::new(actor(0), 2)));
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
    }
}
