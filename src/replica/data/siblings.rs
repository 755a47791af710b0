//! Sibling-keeping registers: `siblings` and `manual` keep every concurrent write of a key (a
//! multi-value register); the next write from a region that has seen them all resolves them.
//! Under `manual` each conflict is also parked for an operator (the replicator counts and
//! resolves them; the data is the same).

use super::{causal_state, ctx_digest, Data, DataPolicy, DataState, Shape, View, WriteKind};
use crate::replica::causal::{Actor, CausalContext};
use crate::replica::crdt::{Causal, DotFun};
use crate::replica::{mix64, OpId};
use crate::time::Wall;
use std::collections::BTreeMap;

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

/// Every write, whatever its kind, writes the register (validation keeps them to puts).
fn write(d: &mut Data, a: Actor, op: OpId) -> Option<Data> {
    let Data::Mv(r) = d else { return None };
    Some(Data::Mv(r.write(a, op)))
}

/// `siblings`: concurrent writes are all kept; the next write that has seen them resolves them.
pub struct Siblings;

impl DataPolicy for Siblings {
    const NAME: &'static str = "siblings";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;
    const CRDT_OF: Option<Shape> = Some(Shape::Register);

    fn fits(shape: Shape) -> bool {
        shape == Shape::Register
    }

    fn empty() -> Data {
        Data::Mv(MvRegister::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, op: OpId, _: Wall, _: WriteKind) -> Option<Data> {
        write(d, a, op)
    }
}

/// `manual`: like siblings, but every conflict is parked and counted for an operator.
pub struct Manual;

impl DataPolicy for Manual {
    const NAME: &'static str = "manual";
    const MERGES: bool = true;
    const ADD_WINS: bool = false;
    const PARKS_CONFLICTS: bool = true;

    fn fits(shape: Shape) -> bool {
        shape == Shape::Register
    }

    fn empty() -> Data {
        Data::Mv(MvRegister::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, op: OpId, _: Wall, _: WriteKind) -> Option<Data> {
        write(d, a, op)
    }
}

impl DataState for MvRegister<OpId> {
    const TAG: u64 = 3;
    causal_state!();

    fn view(&self) -> View {
        View::Values(self.values().copied().collect())
    }

    fn siblings(&self) -> usize {
        Causal::siblings(self)
    }

    fn body_bytes(&self, value_bytes: u32) -> u64 {
        (8 + value_bytes as u64) * Causal::siblings(self) as u64
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx)
            ^ self
                .store
                .0
                .iter()
                .fold(0u64, |a, (d, v)| a.wrapping_add(mix64(d.0 ^ mix64(v.0))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::crdt::laws::{actor, laws, ops};
    use crate::replica::crdt::Lattice;
    use proptest::prelude::*;

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

    proptest! {
        #[test]
        fn mv_register_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<MvRegister<u64>>(&ops, &order, dup, |s, a, _, _, i| s.write(a, i))?;
        }
    }
}
