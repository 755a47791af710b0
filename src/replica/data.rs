//! What a key holds beyond a plain last-writer-wins value: the conflict policy of each table,
//! the operations clients send (put, increment, add and remove elements), and the per-key
//! data those policies keep (whole values written by read-modify-write, multi-value registers,
//! counters, sets and maps of fields as CRDTs).
//!
//! Tables are contiguous ranges of the key space, so a key's policy is a binary search.

use super::causal::{Actor, CausalContext, Dot};
use super::crdt::{
    Causal, CausalCounter, Digest, GCounter, GSet, Lattice, LwwMap, MvRegister, OrMap, OrSet,
    TwoPSet,
};
use super::{mix64, Key, OpId, Stamp};
use crate::time::Wall;
use std::collections::{BTreeMap, BTreeSet};

/// How concurrent writes to one key are resolved.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Policy {
    /// Last writer wins on the writer's physical wall clock (region id breaks ties).
    Lww,
    /// Last writer wins on a hybrid logical clock: a write always beats what its region had
    /// seen, whatever the clocks say.
    LwwHlc,
    /// First writer wins: the earliest stamp keeps the key; later writes are dropped.
    Fww,
    /// Multi-value register: concurrent writes are all kept as siblings; the next write from a
    /// region that has seen them resolves them.
    Siblings,
    /// Like siblings, but every conflict is parked and counted for an operator to resolve.
    Manual,
    PnCounter,
    GCounter,
    /// Observed-remove set (add wins).
    OrSet,
    GSet,
    /// Two-phase set (a removed element never returns).
    TwoPSet,
    /// Observed-remove map of multi-value registers: a put of a field concurrent with its
    /// remove survives, and concurrent puts of one field are all kept.
    OrMap,
    /// Map of last-writer-wins registers: each field is resolved on its own by wall-clock
    /// stamp, a remove being a write of "absent".
    LwwMap,
}

impl Policy {
    pub const ALL: [Policy; 12] = [
        Policy::Lww,
        Policy::LwwHlc,
        Policy::Fww,
        Policy::Siblings,
        Policy::Manual,
        Policy::PnCounter,
        Policy::GCounter,
        Policy::OrSet,
        Policy::GSet,
        Policy::TwoPSet,
        Policy::OrMap,
        Policy::LwwMap,
    ];

    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Lww => "lww",
            Policy::LwwHlc => "lww-hlc",
            Policy::Fww => "fww",
            Policy::Siblings => "siblings",
            Policy::Manual => "manual",
            Policy::PnCounter => "pn-counter",
            Policy::GCounter => "g-counter",
            Policy::OrSet => "or-set",
            Policy::GSet => "g-set",
            Policy::TwoPSet => "2p-set",
            Policy::OrMap => "or-map",
            Policy::LwwMap => "lww-map",
        }
    }

    /// Register policies keep one value chosen by its stamp; the rest merge states.
    pub fn merges(self) -> bool {
        !matches!(self, Policy::Lww | Policy::LwwHlc | Policy::Fww)
    }

    /// Sets (and a map's fields) under this policy should behave as add-wins sets (OR-Set
    /// semantics): OR-Sets and OR-Maps do by construction; register policies holding whole
    /// sets or documents, and LWW-Maps, are judged by the same rule so their cost shows.
    pub fn add_wins(self) -> bool {
        matches!(
            self,
            Policy::OrSet
                | Policy::OrMap
                | Policy::LwwMap
                | Policy::Lww
                | Policy::LwwHlc
                | Policy::Fww
        )
    }

    /// The data shapes this policy can hold.
    pub fn fits(self, shape: Shape) -> bool {
        match self {
            Policy::Lww | Policy::LwwHlc | Policy::Fww => true,
            Policy::Siblings | Policy::Manual => shape == Shape::Register,
            Policy::PnCounter | Policy::GCounter => shape == Shape::Counter,
            Policy::OrSet | Policy::GSet | Policy::TwoPSet => shape == Shape::Set,
            Policy::OrMap | Policy::LwwMap => shape == Shape::Map,
        }
    }

    /// The CRDT that suits a shape (`conflict: crdt`).
    pub fn crdt_for(shape: Shape) -> Policy {
        match shape {
            Shape::Register => Policy::Siblings,
            Shape::Counter => Policy::PnCounter,
            Shape::Set => Policy::OrSet,
            Shape::Map => Policy::OrMap,
        }
    }
}

/// What a table's values are, judged by the operations its clients send.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Shape {
    /// `put` and `get`.
    Register,
    /// `incr`, `decr` and `get`.
    Counter,
    /// `add`, `remove` and `get`.
    Set,
    /// A document of `fields`: `put` and `remove` of a field, and `get` of the document.
    Map,
}

impl Shape {
    pub fn name(self) -> &'static str {
        match self {
            Shape::Register => "register",
            Shape::Counter => "counter",
            Shape::Set => "set",
            Shape::Map => "map",
        }
    }
}

/// A named range of keys with one policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    pub name: String,
    /// Keys `first..end`.
    pub first: u64,
    pub end: u64,
    pub policy: Policy,
    pub shape: Shape,
}

/// The key space's tables, in key order (one table of plain registers when none are declared).
#[derive(Clone, Debug, PartialEq)]
pub struct Tables(pub Vec<Table>);

impl Tables {
    pub fn single(keys: u64, policy: Policy) -> Tables {
        Tables(vec![Table {
            name: "kv".into(),
            first: 0,
            end: keys,
            policy,
            shape: Shape::Register,
        }])
    }

    pub fn of(&self, key: Key) -> &Table {
        let i = self.0.partition_point(|t| t.end <= key.0);
        &self.0[i.min(self.0.len() - 1)]
    }

    pub fn policy(&self, key: Key) -> Policy {
        if self.0.len() == 1 {
            return self.0[0].policy;
        }
        self.of(key).policy
    }

    /// Whether any key carries data beyond a plain register value.
    pub fn has_data(&self) -> bool {
        self.0
            .iter()
            .any(|t| t.policy.merges() || t.shape != Shape::Register)
    }

    pub fn uses(&self, p: Policy) -> bool {
        self.0.iter().any(|t| t.policy == p)
    }
}

/// What a client write does to its key.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum WriteKind {
    /// Replace the value (the written value is the write's id).
    #[default]
    Put,
    /// Add to a counter (negative: subtract).
    Incr(i64),
    /// Add an element to a set.
    Insert(u32),
    /// Remove an element from a set.
    Remove(u32),
    /// Set one field of a map (its value is the write's id).
    PutField(u32),
    /// Remove one field of a map.
    RemoveField(u32),
}

impl WriteKind {
    /// The set element or map field the operation touches, and whether it adds (an insert or
    /// a put of a field) rather than removes it.
    pub fn member(self) -> Option<(u32, bool)> {
        match self {
            WriteKind::Insert(e) | WriteKind::PutField(e) => Some((e, true)),
            WriteKind::Remove(e) | WriteKind::RemoveField(e) => Some((e, false)),
            WriteKind::Put | WriteKind::Incr(_) => None,
        }
    }
}

/// The data of one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Data {
    /// A counter under a register policy: the whole value, written by read-modify-write.
    Int(i64),
    /// A set under a register policy: the whole set, written by read-modify-write.
    Elems(BTreeSet<u32>),
    Mv(MvRegister<OpId>),
    Counter(CausalCounter),
    GCounter(Causal<GCounter>),
    OrSet(OrSet<u32>),
    GSet(Causal<GSet<u32>>),
    TwoP(Causal<TwoPSet<u32>>),
    /// A map under a register policy: the whole document (field -> the write that set it),
    /// written by read-modify-write.
    Fields(BTreeMap<u32, OpId>),
    OrMap(OrMap<u32, OpId>),
    LwwMap(Causal<LwwMap<u32, OpId>>),
}

/// A key's value as a reader (or a checker) sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum View {
    /// One value, or several concurrent ones (siblings), each the id of the write that made it.
    Values(Vec<OpId>),
    Count(i64),
    Elems(Vec<u32>),
    /// A map's present fields, each with its value (several when concurrent puts are kept).
    Map(Vec<(u32, Vec<OpId>)>),
}

impl View {
    /// Concurrent values kept: a register's siblings, or the most on one field of a map.
    pub fn siblings(&self) -> usize {
        match self {
            View::Values(v) => v.len(),
            View::Map(m) => m.iter().map(|(_, v)| v.len()).max().unwrap_or(1),
            View::Count(_) | View::Elems(_) => 1,
        }
    }
}

impl Data {
    /// The empty value of a merging policy.
    fn empty(policy: Policy) -> Data {
        match policy {
            Policy::Siblings | Policy::Manual => Data::Mv(MvRegister::default()),
            Policy::PnCounter => Data::Counter(CausalCounter::default()),
            Policy::GCounter => Data::GCounter(Causal::default()),
            Policy::OrSet => Data::OrSet(OrSet::default()),
            Policy::GSet => Data::GSet(Causal::default()),
            Policy::TwoPSet => Data::TwoP(Causal::default()),
            Policy::OrMap => Data::OrMap(Causal::default()),
            Policy::LwwMap => Data::LwwMap(Causal::default()),
            Policy::Lww | Policy::LwwHlc | Policy::Fww => Data::Int(0),
        }
    }

    /// Under a register policy: the whole new value a read-modify-write of `cur` by write
    /// `op` produces, or None for a plain put (whose value is the write's id).
    pub fn rewrite(cur: Option<&Data>, op: OpId, kind: WriteKind) -> Option<Data> {
        match kind {
            WriteKind::Put => None,
            WriteKind::Incr(by) => {
                let v = match cur {
                    Some(Data::Int(v)) => *v,
                    _ => 0,
                };
                Some(Data::Int(v.saturating_add(by)))
            }
            WriteKind::Insert(e) | WriteKind::Remove(e) => {
                let mut s = match cur {
                    Some(Data::Elems(s)) => s.clone(),
                    _ => BTreeSet::new(),
                };
                if matches!(kind, WriteKind::Insert(_)) {
                    s.insert(e);
                } else {
                    s.remove(&e);
                }
                Some(Data::Elems(s))
            }
            WriteKind::PutField(f) | WriteKind::RemoveField(f) => {
                let mut m = match cur {
                    Some(Data::Fields(m)) => m.clone(),
                    _ => BTreeMap::new(),
                };
                if matches!(kind, WriteKind::PutField(_)) {
                    m.insert(f, op);
                } else {
                    m.remove(&f);
                }
                Some(Data::Fields(m))
            }
        }
    }

    /// The dot the next operation of `a` on this key takes.
    pub fn next_dot(cur: Option<&Data>, a: Actor) -> Dot {
        match cur.and_then(|d| d.ctx()) {
            Some(c) => c.next_dot(a),
            None => Dot::new(a, 1),
        }
    }

    /// Under a merging policy: applies the operation to `cur` (creating the value if needed)
    /// as actor `a` at wall-clock time `wall` (which only LWW-Map fields keep), and returns
    /// the delta to ship.
    pub fn update(
        cur: &mut Option<Data>,
        policy: Policy,
        a: Actor,
        op: OpId,
        wall: Wall,
        kind: WriteKind,
    ) -> Data {
        let d = cur.get_or_insert_with(|| Data::empty(policy));
        match (d, kind) {
            (Data::Mv(r), _) => Data::Mv(r.write(a, op)),
            (Data::Counter(c), WriteKind::Incr(by)) => Data::Counter(c.add(a, by)),
            (Data::GCounter(c), WriteKind::Incr(by)) => {
                let dot = c.ctx.next_dot(a);
                c.ctx.insert(dot);
                let mut ctx = CausalContext::default();
                ctx.insert(dot);
                Data::GCounter(Causal {
                    store: c.store.incr(a, by.max(0) as u64),
                    ctx,
                })
            }
            (Data::OrSet(s), WriteKind::Insert(e)) => Data::OrSet(s.add(a, e)),
            (Data::OrSet(s), WriteKind::Remove(e)) => Data::OrSet(s.remove(a, &e)),
            (Data::GSet(s), WriteKind::Insert(e)) => {
                let (dot, store) = (s.ctx.next_dot(a), s.store.add(e));
                Data::GSet(Data::own(&mut s.ctx, dot, store))
            }
            (Data::TwoP(s), kind @ (WriteKind::Insert(_) | WriteKind::Remove(_))) => {
                let dot = s.ctx.next_dot(a);
                let store = match kind {
                    WriteKind::Insert(e) => s.store.add(e),
                    WriteKind::Remove(e) => s.store.remove(e).unwrap_or_default(),
                    _ => unreachable!("matched above"),
                };
                Data::TwoP(Data::own(&mut s.ctx, dot, store))
            }
            (Data::OrMap(m), WriteKind::PutField(f)) => Data::OrMap(m.put(a, f, op)),
            (Data::OrMap(m), WriteKind::RemoveField(f)) => Data::OrMap(m.remove(a, &f)),
            (Data::LwwMap(m), kind @ (WriteKind::PutField(f) | WriteKind::RemoveField(f))) => {
                // The field's stamp: the writer's wall clock, its dot breaking ties (so by
                // region, as plain LWW does).
                let dot = m.ctx.next_dot(a);
                let value = matches!(kind, WriteKind::PutField(_)).then_some(op);
                let store = m.store.set(Stamp { wall, tie: dot.0 }, f, value);
                Data::LwwMap(Data::own(&mut m.ctx, dot, store))
            }
            (d, kind) => {
                // Validation keeps operations to the shapes their policies fit; an operation
                // that does not fit still takes a dot, so it is accounted for, and changes
                // nothing else.
                debug_assert!(false, "{kind:?} on {d:?}");
                let ctx = d.ctx_mut().expect("merging policies have contexts");
                let dot = ctx.next_dot(a);
                ctx.insert(dot);
                let mut only = Data::empty(policy);
                only.ctx_mut().expect("merging").insert(dot);
                only
            }
        }
    }

    /// Records `dot` in `ctx` and returns the delta `store` with only that dot as context.
    fn own<S>(ctx: &mut CausalContext, dot: Dot, store: S) -> Causal<S> {
        ctx.insert(dot);
        let mut c = CausalContext::default();
        c.insert(dot);
        Causal { store, ctx: c }
    }

    /// Merges a delta or whole state into `cur`; returns the operations (dots) that are new
    /// here. A delta of another type (impossible from a valid plan) is ignored.
    pub fn merge(cur: &mut Option<Data>, other: &Data) -> Vec<Dot> {
        let Some(oc) = other.ctx() else {
            return Vec::new();
        };
        let d = cur.get_or_insert_with(|| other.bottom());
        let new = match d.ctx() {
            Some(c) => oc.dots_missing_from(c),
            None => return Vec::new(),
        };
        match (d, other) {
            (Data::Mv(a), Data::Mv(b)) => a.merge(b),
            (Data::Counter(a), Data::Counter(b)) => a.merge(b),
            (Data::GCounter(a), Data::GCounter(b)) => a.merge(b),
            (Data::OrSet(a), Data::OrSet(b)) => a.merge(b),
            (Data::GSet(a), Data::GSet(b)) => a.merge(b),
            (Data::TwoP(a), Data::TwoP(b)) => a.merge(b),
            (Data::OrMap(a), Data::OrMap(b)) => a.merge(b),
            (Data::LwwMap(a), Data::LwwMap(b)) => a.merge(b),
            _ => return Vec::new(),
        }
        new
    }

    fn bottom(&self) -> Data {
        match self {
            Data::Int(_) => Data::Int(0),
            Data::Elems(_) => Data::Elems(BTreeSet::new()),
            Data::Mv(_) => Data::Mv(Default::default()),
            Data::Counter(_) => Data::Counter(Default::default()),
            Data::GCounter(_) => Data::GCounter(Default::default()),
            Data::OrSet(_) => Data::OrSet(Default::default()),
            Data::GSet(_) => Data::GSet(Default::default()),
            Data::TwoP(_) => Data::TwoP(Default::default()),
            Data::Fields(_) => Data::Fields(BTreeMap::new()),
            Data::OrMap(_) => Data::OrMap(Default::default()),
            Data::LwwMap(_) => Data::LwwMap(Default::default()),
        }
    }

    /// The operations a merging value reflects.
    pub fn ctx(&self) -> Option<&CausalContext> {
        match self {
            Data::Int(_) | Data::Elems(_) | Data::Fields(_) => None,
            Data::Mv(x) => Some(&x.ctx),
            Data::Counter(x) => Some(&x.ctx),
            Data::GCounter(x) => Some(&x.ctx),
            Data::OrSet(x) => Some(&x.ctx),
            Data::GSet(x) => Some(&x.ctx),
            Data::TwoP(x) => Some(&x.ctx),
            Data::OrMap(x) => Some(&x.ctx),
            Data::LwwMap(x) => Some(&x.ctx),
        }
    }

    fn ctx_mut(&mut self) -> Option<&mut CausalContext> {
        match self {
            Data::Int(_) | Data::Elems(_) | Data::Fields(_) => None,
            Data::Mv(x) => Some(&mut x.ctx),
            Data::Counter(x) => Some(&mut x.ctx),
            Data::GCounter(x) => Some(&mut x.ctx),
            Data::OrSet(x) => Some(&mut x.ctx),
            Data::GSet(x) => Some(&mut x.ctx),
            Data::TwoP(x) => Some(&mut x.ctx),
            Data::OrMap(x) => Some(&mut x.ctx),
            Data::LwwMap(x) => Some(&mut x.ctx),
        }
    }

    pub fn view(&self) -> View {
        match self {
            Data::Int(v) => View::Count(*v),
            Data::Elems(s) => View::Elems(s.iter().copied().collect()),
            Data::Mv(r) => View::Values(r.values().copied().collect()),
            Data::Counter(c) => View::Count(c.store.value()),
            Data::GCounter(c) => View::Count(c.store.value() as i64),
            Data::OrSet(s) => View::Elems(s.elements().copied().collect()),
            Data::GSet(s) => View::Elems(s.store.0.iter().copied().collect()),
            Data::TwoP(s) => View::Elems(s.store.elements().copied().collect()),
            Data::Fields(m) => View::Map(m.iter().map(|(&f, &v)| (f, vec![v])).collect()),
            Data::OrMap(m) => View::Map(
                m.store
                    .0
                    .iter()
                    .map(|(&f, vals)| (f, vals.0.values().copied().collect()))
                    .collect(),
            ),
            Data::LwwMap(m) => View::Map(
                m.store
                    .0
                    .iter()
                    .filter_map(|(&f, r)| r.value.map(|v| (f, vec![v])))
                    .collect(),
            ),
        }
    }

    /// An LWW-Map field's stamp (what a write of the field replaces), if the field was ever
    /// written here.
    pub fn field_stamp(&self, f: u32) -> Option<Stamp> {
        match self {
            Data::LwwMap(m) => m.store.0.get(&f).map(|r| r.stamp),
            _ => None,
        }
    }

    /// Concurrent values held (multi-value registers; an OR-Map's most on one field), else 1.
    pub fn siblings(&self) -> usize {
        match self {
            Data::Mv(r) => r.siblings(),
            Data::OrMap(m) => m.store.0.values().map(|v| v.0.len()).max().unwrap_or(1),
            _ => 1,
        }
    }

    /// Approximate size on the wire: 8 bytes per context entry and per dot, 8 per counter
    /// entry or element, plus `value_bytes` per register value.
    pub fn wire_bytes(&self, value_bytes: u32) -> u64 {
        let ctx = self.ctx().map_or(0, |c| c.wire_bytes());
        ctx + match self {
            Data::Int(_) => 8,
            Data::Elems(s) => 4 * s.len() as u64,
            Data::Mv(r) => (8 + value_bytes as u64) * r.siblings() as u64,
            Data::Counter(c) => 12 * (c.store.p.0.len() + c.store.n.0.len()) as u64,
            Data::GCounter(c) => 12 * c.store.0.len() as u64,
            Data::OrSet(s) => s.store.0.values().map(|d| 4 + 8 * d.len() as u64).sum(),
            Data::GSet(s) => 4 * s.store.0.len() as u64,
            Data::TwoP(s) => 4 * (s.store.added.len() + s.store.removed.len()) as u64,
            // A field: its number and value (an LWW field also its 16-byte stamp; a removed
            // one is a stamp without a value).
            Data::Fields(m) => (4 + value_bytes as u64) * m.len() as u64,
            Data::OrMap(m) => m
                .store
                .0
                .values()
                .map(|v| 4 + (8 + value_bytes as u64) * v.0.len() as u64)
                .sum(),
            Data::LwwMap(m) => m
                .store
                .0
                .values()
                .map(|r| 20 + r.value.map_or(0, |_| value_bytes as u64))
                .sum(),
        }
    }
}

/// An order-independent sum of mixed parts (equal multisets, equal sums).
fn sum_mixed(parts: impl Iterator<Item = u64>) -> u64 {
    parts.fold(0u64, |acc, h| acc.wrapping_add(mix64(h)))
}

fn ctx_digest(c: &CausalContext) -> u64 {
    let vv = c.vv.0.iter().fold(0u64, |acc, (a, n)| {
        acc.wrapping_add(mix64(((a.0 as u64) << 32) ^ *n as u64))
    });
    c.cloud
        .iter()
        .fold(mix64(vv), |acc, d| acc.wrapping_add(mix64(d.0 ^ 0x5555)))
}

impl Digest for Data {
    fn digest(&self) -> u64 {
        let tag = |t: u64, h: u64| mix64(t.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h);
        let elems = |it: &mut dyn Iterator<Item = u32>| {
            it.fold(0u64, |acc, e| acc.wrapping_add(mix64(e as u64 + 1)))
        };
        match self {
            Data::Int(v) => tag(1, *v as u64),
            Data::Elems(s) => tag(2, elems(&mut s.iter().copied())),
            Data::Mv(r) => tag(
                3,
                ctx_digest(&r.ctx)
                    ^ r.store
                        .0
                        .iter()
                        .fold(0u64, |a, (d, v)| a.wrapping_add(mix64(d.0 ^ mix64(v.0)))),
            ),
            Data::Counter(c) => tag(4, ctx_digest(&c.ctx) ^ c.store.digest()),
            Data::GCounter(c) => tag(5, ctx_digest(&c.ctx) ^ c.store.digest()),
            Data::OrSet(s) => tag(
                6,
                ctx_digest(&s.ctx)
                    ^ s.store.0.iter().fold(0u64, |a, (e, ds)| {
                        a.wrapping_add(mix64(
                            *e as u64 ^ ds.iter().fold(0u64, |x, d| x.wrapping_add(mix64(d.0))),
                        ))
                    }),
            ),
            Data::GSet(s) => tag(
                7,
                ctx_digest(&s.ctx) ^ elems(&mut s.store.0.iter().copied()),
            ),
            Data::TwoP(s) => tag(
                8,
                ctx_digest(&s.ctx)
                    ^ elems(&mut s.store.added.iter().copied())
                    ^ elems(&mut s.store.removed.iter().copied()).rotate_left(7),
            ),
            Data::Fields(m) => tag(
                9,
                sum_mixed(m.iter().map(|(&f, v)| ((f as u64) << 40) ^ mix64(v.0))),
            ),
            Data::OrMap(m) => tag(
                10,
                ctx_digest(&m.ctx)
                    ^ sum_mixed(m.store.0.iter().map(|(&f, vals)| {
                        f as u64 ^ sum_mixed(vals.0.iter().map(|(d, v)| d.0 ^ mix64(v.0)))
                    })),
            ),
            Data::LwwMap(m) => tag(
                11,
                ctx_digest(&m.ctx)
                    ^ sum_mixed(m.store.0.iter().map(|(&f, r)| {
                        f as u64
                            ^ mix64(r.stamp.wall.0 as u64 ^ mix64(r.stamp.tie))
                            ^ r.value.map_or(0, |v| mix64(v.0 ^ 0xa5a5))
                    })),
            ),
        }
    }
}

/// The digest contribution of a key whose value merges (its data, not its newest stamp).
pub fn data_key_digest(key: Key, d: &Data) -> u64 {
    mix64(key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ d.digest().rotate_left(9))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::RegionId;

    fn a(i: u16) -> Actor {
        Actor::new(RegionId(i), 1)
    }

    /// Region `r`'s write `op` on a value of `policy` (the wall clock only matters to maps).
    fn up(slot: &mut Option<Data>, policy: Policy, r: u16, op: u64, kind: WriteKind) -> Data {
        Data::update(slot, policy, a(r), OpId(op), Wall(0), kind)
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

    #[test]
    fn tables_find_their_keys() {
        let t = Tables(vec![
            Table {
                name: "cart".into(),
                first: 0,
                end: 10,
                policy: Policy::OrSet,
                shape: Shape::Set,
            },
            Table {
                name: "inv".into(),
                first: 10,
                end: 15,
                policy: Policy::PnCounter,
                shape: Shape::Counter,
            },
        ]);
        assert_eq!(t.policy(Key(0)), Policy::OrSet);
        assert_eq!(t.policy(Key(9)), Policy::OrSet);
        assert_eq!(t.policy(Key(10)), Policy::PnCounter);
        assert_eq!(t.of(Key(14)).name, "inv");
        assert!(t.has_data());
        assert!(!Tables::single(5, Policy::Lww).has_data());
    }

    #[test]
    fn register_policies_rewrite_whole_values() {
        let v = Data::rewrite(Some(&Data::Int(5)), OpId(0), WriteKind::Incr(-2));
        assert_eq!(v, Some(Data::Int(3)));
        let s = Data::rewrite(None, OpId(0), WriteKind::Insert(4)).unwrap();
        let s = Data::rewrite(Some(&s), OpId(0), WriteKind::Insert(2)).unwrap();
        let s = Data::rewrite(Some(&s), OpId(0), WriteKind::Remove(4)).unwrap();
        assert_eq!(s.view(), View::Elems(vec![2]));
        assert_eq!(Data::rewrite(None, OpId(0), WriteKind::Put), None);
    }

    #[test]
    fn merging_policies_ship_deltas_and_report_new_operations() {
        let mut x = None;
        let mut y = None;
        let d1 = up(&mut x, Policy::PnCounter, 0, 1, WriteKind::Incr(5));
        let d2 = up(&mut y, Policy::PnCounter, 1, 2, WriteKind::Incr(-2));
        assert_eq!(Data::merge(&mut x, &d2), vec![Dot::new(a(1), 1)]);
        assert_eq!(Data::merge(&mut y, &d1), vec![Dot::new(a(0), 1)]);
        assert!(
            Data::merge(&mut y, &d1).is_empty(),
            "a duplicate adds nothing"
        );
        assert_eq!(x, y);
        assert_eq!(x.as_ref().unwrap().view(), View::Count(3));
        assert_eq!(
            Data::next_dot(x.as_ref(), a(0)),
            Dot::new(a(0), 2),
            "dots count per key"
        );
        let mut s = None;
        up(&mut s, Policy::OrSet, 0, 3, WriteKind::Insert(7));
        let rm = up(&mut s, Policy::OrSet, 0, 4, WriteKind::Remove(7));
        assert_eq!(s.as_ref().unwrap().view(), View::Elems(vec![]));
        assert!(rm.wire_bytes(100) < 64, "a remove delta is small");
        let mut m = None;
        up(&mut m, Policy::Siblings, 0, 5, WriteKind::Put);
        let mut m2 = None;
        let d = up(&mut m2, Policy::Siblings, 1, 6, WriteKind::Put);
        Data::merge(&mut m, &d);
        assert_eq!(m.as_ref().unwrap().siblings(), 2);
        assert_eq!(
            m.as_ref().unwrap().view(),
            View::Values(vec![OpId(5), OpId(6)])
        );
        assert_ne!(m.as_ref().unwrap().digest(), m2.as_ref().unwrap().digest());
    }
}
