//! Map CRDTs (documents of fields): `or-map` (observed-remove map of multi-value registers:
//! a put concurrent with a remove survives, concurrent puts of one field are all kept) and
//! `lww-map` (each field a last-writer-wins register on wall-clock stamps; a remove is a write
//! of "absent").

use super::{
    causal_state, ctx_digest, own, sum_mixed, Data, DataPolicy, DataState, Shape, View, WriteKind,
};
use crate::replica::causal::{Actor, CausalContext};
use crate::replica::crdt::{plain_dot_store, Causal, DotFun, DotMap, Lattice};
use crate::replica::{mix64, OpId, Stamp};
use crate::time::Wall;
use std::collections::BTreeMap;

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

plain_dot_store!(LwwMap<u32, OpId>, |s: &LwwMap<u32, OpId>| s.0.is_empty());

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

/// `or-map`: add-wins fields, concurrent puts kept (the CRDT of maps).
pub struct OrMapPolicy;

impl DataPolicy for OrMapPolicy {
    const NAME: &'static str = "or-map";
    const MERGES: bool = true;
    const ADD_WINS: bool = true;
    const CRDT_OF: Option<Shape> = Some(Shape::Map);

    fn fits(shape: Shape) -> bool {
        shape == Shape::Map
    }

    fn empty() -> Data {
        Data::OrMap(Causal::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, op: OpId, _: Wall, kind: WriteKind) -> Option<Data> {
        match (d, kind) {
            (Data::OrMap(m), WriteKind::PutField(f)) => Some(Data::OrMap(m.put(a, f, op))),
            (Data::OrMap(m), WriteKind::RemoveField(f)) => Some(Data::OrMap(m.remove(a, &f))),
            _ => None,
        }
    }
}

/// `lww-map`: each field resolved on its own by wall-clock stamp.
pub struct LwwMapPolicy;

impl DataPolicy for LwwMapPolicy {
    const NAME: &'static str = "lww-map";
    const MERGES: bool = true;
    const ADD_WINS: bool = true;
    const STAMPS_FIELDS: bool = true;

    fn fits(shape: Shape) -> bool {
        shape == Shape::Map
    }

    fn empty() -> Data {
        Data::LwwMap(Causal::default())
    }

    #[inline]
    fn update(d: &mut Data, a: Actor, op: OpId, wall: Wall, kind: WriteKind) -> Option<Data> {
        let Data::LwwMap(m) = d else { return None };
        let (f, value) = match kind {
            WriteKind::PutField(f) => (f, Some(op)),
            WriteKind::RemoveField(f) => (f, None),
            _ => return None,
        };
        // The field's stamp: the writer's wall clock, its dot breaking ties (so by region, as
        // plain LWW does).
        let dot = m.ctx.next_dot(a);
        let store = m.store.set(Stamp { wall, tie: dot.0 }, f, value);
        Some(Data::LwwMap(own(&mut m.ctx, dot, store)))
    }
}

impl DataState for OrMap<u32, OpId> {
    const TAG: u64 = 10;
    causal_state!();

    fn view(&self) -> View {
        View::Map(
            self.store
                .0
                .iter()
                .map(|(&f, vals)| (f, vals.0.values().copied().collect()))
                .collect(),
        )
    }

    fn siblings(&self) -> usize {
        self.store.0.values().map(|v| v.0.len()).max().unwrap_or(1)
    }

    /// A field: its number, and each value with its dot.
    fn body_bytes(&self, value_bytes: u32) -> u64 {
        self.store
            .0
            .values()
            .map(|v| 4 + (8 + value_bytes as u64) * v.0.len() as u64)
            .sum()
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx)
            ^ sum_mixed(self.store.0.iter().map(|(&f, vals)| {
                f as u64 ^ sum_mixed(vals.0.iter().map(|(d, v)| d.0 ^ mix64(v.0)))
            }))
    }
}

impl DataState for Causal<LwwMap<u32, OpId>> {
    const TAG: u64 = 11;
    causal_state!();

    fn view(&self) -> View {
        View::Map(
            self.store
                .0
                .iter()
                .filter_map(|(&f, r)| r.value.map(|v| (f, vec![v])))
                .collect(),
        )
    }

    fn field_stamp(&self, f: u32) -> Option<Stamp> {
        self.store.0.get(&f).map(|r| r.stamp)
    }

    /// A field: its number, its 16-byte stamp and its value (a removed field is a stamp
    /// without a value).
    fn body_bytes(&self, value_bytes: u32) -> u64 {
        self.store
            .0
            .values()
            .map(|r| 20 + r.value.map_or(0, |_| value_bytes as u64))
            .sum()
    }

    fn digest_body(&self) -> u64 {
        ctx_digest(&self.ctx)
            ^ sum_mixed(self.store.0.iter().map(|(&f, r)| {
                f as u64
                    ^ mix64(r.stamp.wall.0 as u64 ^ mix64(r.stamp.tie))
                    ^ r.value.map_or(0, |v| mix64(v.0 ^ 0xa5a5))
            }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::crdt::laws::{actor, laws, ops};
    use crate::replica::data::tests::a;
    use crate::replica::data::Policy;
    use crate::replica::RegionId;
    use proptest::prelude::*;

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

    /// A put of a field concurrent with its remove: an OR-Map keeps the put (add wins); an
    /// LWW-Map keeps whichever is stamped later; a whole document under LWW keeps the later
    /// document, dropping the other region's field as well. Concurrent puts of one field:
    /// the OR-Map keeps both values, the LWW-Map the later one.
    #[test]
    fn map_fields_resolve_by_policy() {
        let put = |f| WriteKind::PutField(f);
        // One history under `policy`: x puts field 1 (write 1, seen by y); then concurrently y
        // removes it (5) and puts field 2 (6) while x puts field 1 again (4) and field 2 (4);
        // each then merges the other's. Returns the converged value and the first delta.
        let history = |policy| {
            let (mut x, mut y) = (None, None);
            let op = |slot: &mut Option<Data>, r, id, wall, kind| {
                Data::update(slot, policy, a(r), OpId(id), Wall(wall), kind)
            };
            let base = op(&mut x, 0, 1, 0, put(1));
            Data::merge(&mut y, &base);
            let rm = op(&mut y, 1, 2, 5, WriteKind::RemoveField(1));
            let ys = [rm, op(&mut y, 1, 5, 6, put(2))];
            let xs = [op(&mut x, 0, 3, 4, put(1)), op(&mut x, 0, 4, 4, put(2))];
            ys.iter().for_each(|d| drop(Data::merge(&mut x, d)));
            xs.iter().for_each(|d| drop(Data::merge(&mut y, d)));
            assert_eq!(x, y, "{policy:?} converges");
            (x.unwrap(), base, ys[1].clone())
        };
        let (or, _, _) = history(Policy::OrMap);
        let want = View::Map(vec![(1, vec![OpId(3)]), (2, vec![OpId(4), OpId(5)])]);
        assert_eq!(or.view(), want, "add wins; both puts kept");
        assert_eq!(or.siblings(), 2);
        let (lww, base, late) = history(Policy::LwwMap);
        assert_eq!(lww.field_stamp(1).unwrap().wall, Wall(5));
        let want = View::Map(vec![(2, vec![OpId(5)])]);
        assert_eq!(lww.view(), want, "the later remove and put win");
        assert!(
            late.wire_bytes(100) < base.wire_bytes(100) + 40,
            "a field delta does not grow with the document"
        );

        let doc = Data::rewrite(None, OpId(1), put(1)).unwrap();
        let doc = Data::rewrite(Some(&doc), OpId(2), put(2)).unwrap();
        let doc = Data::rewrite(Some(&doc), OpId(3), WriteKind::RemoveField(1)).unwrap();
        assert_eq!(doc.view(), View::Map(vec![(2, vec![OpId(2)])]));
        assert_eq!(
            doc.wire_bytes(100),
            104,
            "a document write ships every field"
        );
    }

    proptest! {
        #[test]
        fn or_map_laws(ops in ops(), order in proptest::collection::vec(0usize..30, 1..30), dup in 0usize..10) {
            laws::<OrMap<u8, u64>>(&ops, &order, dup, |s, a, kind, e, i| {
                if kind == 0 { s.remove(a, &e) } else { s.put(a, e, i) }
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
    }
}
