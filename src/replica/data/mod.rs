//! What a key holds beyond a plain last-writer-wins value: the conflict policy of each table,
//! the operations clients send (put, increment, add and remove elements), and the per-key
//! data those policies keep (whole values written by read-modify-write, multi-value registers,
//! counters, sets and maps of fields as CRDTs).
//!
//! Each policy is a zero-sized type implementing [`DataPolicy`], in the file of its family:
//! [`register`] (lww, lww-hlc, fww), [`siblings`] (siblings, manual), [`counters`]
//! (pn-counter, g-counter), [`sets`] (or-set, g-set, 2p-set) and [`maps`] (or-map, lww-map).
//! The per-key value of each is a [`DataState`], one variant of [`Data`]. The two registries
//! at the foot of this file (`policies!` and `states!`) list them; they generate the
//! [`Policy`] and [`Data`] enums, whose methods forward to the policy's file by a `match`
//! (static dispatch: applying a write costs what it did when the policies were written out
//! inline, with no boxed trait object per key).
//!
//! Tables are contiguous ranges of the key space, so a key's policy is a binary search.

pub mod counters;
pub mod maps;
pub mod register;
pub mod sets;
pub mod siblings;

use super::causal::{Actor, CausalContext, Dot, Hlc};
use super::crdt::Digest;
use super::{mix64, Key, OpId, Stamp};
use crate::time::Wall;
use std::collections::{BTreeMap, BTreeSet};

/// One conflict policy: its name, the shapes of data it can hold, and how a write under it
/// applies. Implemented by a zero-sized type per policy and listed once in `policies!`.
///
/// Register policies (`MERGES == false`) keep one value per key chosen by its stamp (the
/// replicator compares stamps; a policy only chooses the stamp's clock, [`Self::stamp_wall`]).
/// Merging policies keep a [`DataState`] per key and apply writes with [`Self::update`].
pub trait DataPolicy {
    /// The name used in scenario files and reports.
    const NAME: &'static str;
    /// Whether values merge (a state per key with a causal context) rather than one value
    /// chosen by its stamp.
    const MERGES: bool;
    /// Whether sets (and a map's fields) under this policy should behave as add-wins sets:
    /// the add-wins checks judge tables under it.
    const ADD_WINS: bool;
    /// The shape this policy is the CRDT of (what `conflict: crdt` picks for that shape).
    const CRDT_OF: Option<Shape> = None;
    /// An operation this policy cannot perform, as `(operation in the workload, why)`: a
    /// scenario whose table sends it under this policy is refused.
    const REFUSES: Option<(&'static str, &'static str)> = None;

    /// Whether each conflict under this policy is parked for an operator to resolve
    /// (`replication.operator`).
    const PARKS_CONFLICTS: bool = false;

    /// Whether this policy can hold data of `shape`.
    fn fits(shape: Shape) -> bool;

    /// Register policies: the clock part of the stamp of a write made at wall-clock `now`
    /// (`hlc` is the region's hybrid logical clock).
    #[inline]
    fn stamp_wall(now: Wall, _hlc: &mut Hlc) -> Wall {
        now
    }

    /// Register policies: whether a stamp arriving from elsewhere must advance the region's
    /// hybrid logical clock.
    const OBSERVES_HLC: bool = false;

    /// Whether a write of one field of a map is stamped on its own, so what it replaces is
    /// that field's stamp rather than the key's newest.
    const STAMPS_FIELDS: bool = false;

    /// Whether the earliest write wins by design (its stamps order clocks backwards), so a
    /// later write it discards is the policy working, not an update lost to real-time order.
    const WINS_EARLIEST: bool = false;

    /// Merging policies: the empty value.
    fn empty() -> Data {
        Data::Int(0)
    }

    /// Merging policies: applies write `op` of `kind` by actor `a` at wall-clock `wall` to `d`
    /// (made by [`Self::empty`] or an earlier update) and returns the delta to ship; None if
    /// the operation does not fit the value (validation keeps that from happening).
    fn update(_d: &mut Data, _a: Actor, _op: OpId, _wall: Wall, _kind: WriteKind) -> Option<Data> {
        None
    }
}

/// The value of one key under a policy: one variant of [`Data`], listed once in `states!`.
pub trait DataState: Clone + PartialEq + Default {
    /// Mixed into the digest so equal-looking values of different types differ. Fixed per
    /// type: digests are compared with golden files.
    const TAG: u64;

    /// The operations a merging value reflects (None for whole values).
    fn ctx(&self) -> Option<&CausalContext> {
        None
    }

    fn ctx_mut(&mut self) -> Option<&mut CausalContext> {
        None
    }

    /// Joins `other` (a delta or a whole state) into this one.
    fn join(&mut self, _other: &Self) {}

    /// The value as a reader (or a checker) sees it.
    fn view(&self) -> View;

    /// Concurrent values held (multi-value registers; an OR-Map's most on one field), else 1.
    fn siblings(&self) -> usize {
        1
    }

    /// An LWW-Map field's stamp, if the field was ever written here.
    fn field_stamp(&self, _f: u32) -> Option<Stamp> {
        None
    }

    /// Approximate size on the wire without the context (see [`Data::wire_bytes`]).
    fn body_bytes(&self, value_bytes: u32) -> u64;

    /// An order-independent digest of the value, before its tag is mixed in.
    fn digest_body(&self) -> u64;
}

/// Implements the context methods of a [`DataState`] that is a `Causal` store.
macro_rules! causal_state {
    () => {
        fn ctx(&self) -> Option<&$crate::replica::causal::CausalContext> {
            Some(&self.ctx)
        }
        fn ctx_mut(&mut self) -> Option<&mut $crate::replica::causal::CausalContext> {
            Some(&mut self.ctx)
        }
        fn join(&mut self, other: &Self) {
            $crate::replica::crdt::Lattice::merge(self, other)
        }
    };
}
pub(crate) use causal_state;

/// The registry of policies: generates [`Policy`], whose methods forward to each policy's
/// [`DataPolicy`] implementation.
macro_rules! policies {
    ($( $(#[$doc:meta])* $v:ident => $t:ty, )*) => {
        /// How concurrent writes to one key are resolved: a handle on one [`DataPolicy`].
        #[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Policy {
            $( $(#[$doc])* $v, )*
        }

        impl Policy {
            const COUNT: usize = [$(stringify!($v)),*].len();
            /// Every policy, in registry order.
            pub const ALL: [Policy; Policy::COUNT] = [$(Policy::$v),*];

            /// The name used in scenario files and reports.
            #[inline]
            pub fn name(self) -> &'static str {
                match self { $( Policy::$v => <$t as DataPolicy>::NAME, )* }
            }

            /// Register policies keep one value chosen by its stamp; the rest merge states.
            #[inline]
            pub fn merges(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::MERGES, )* }
            }

            /// Sets (and a map's fields) under this policy should behave as add-wins sets
            /// (OR-Set semantics): OR-Sets and OR-Maps do by construction; register policies
            /// holding whole sets or documents, and LWW-Maps, are judged by the same rule so
            /// their cost shows.
            #[inline]
            pub fn add_wins(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::ADD_WINS, )* }
            }

            /// The data shapes this policy can hold.
            pub fn fits(self, shape: Shape) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::fits(shape), )* }
            }

            /// Whether conflicts under this policy wait for an operator.
            #[inline]
            pub fn parks_conflicts(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::PARKS_CONFLICTS, )* }
            }

            /// The operation this policy refuses, and why.
            pub fn refuses(self) -> Option<(&'static str, &'static str)> {
                match self { $( Policy::$v => <$t as DataPolicy>::REFUSES, )* }
            }

            fn crdt_of(self) -> Option<Shape> {
                match self { $( Policy::$v => <$t as DataPolicy>::CRDT_OF, )* }
            }

            /// Register policies: the clock part of the stamp of a write made at `now`.
            #[inline]
            pub fn stamp_wall(self, now: Wall, hlc: &mut Hlc) -> Wall {
                match self { $( Policy::$v => <$t as DataPolicy>::stamp_wall(now, hlc), )* }
            }

            /// Register policies: whether a stamp from elsewhere advances the region's HLC.
            #[inline]
            pub fn observes_hlc(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::OBSERVES_HLC, )* }
            }

            /// Whether a field write replaces the field's own stamp (not the key's newest).
            #[inline]
            pub fn stamps_fields(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::STAMPS_FIELDS, )* }
            }

            /// Whether the earliest write wins by design (first-writer-wins).
            #[inline]
            pub fn wins_earliest(self) -> bool {
                match self { $( Policy::$v => <$t as DataPolicy>::WINS_EARLIEST, )* }
            }

            fn empty(self) -> Data {
                match self { $( Policy::$v => <$t as DataPolicy>::empty(), )* }
            }

            #[inline]
            fn update(self, d: &mut Data, a: Actor, op: OpId, wall: Wall, kind: WriteKind) -> Option<Data> {
                match self { $( Policy::$v => <$t as DataPolicy>::update(d, a, op, wall, kind), )* }
            }
        }
    };
}

/// The registry of values: generates [`Data`], whose methods forward to each type's
/// [`DataState`] implementation.
macro_rules! states {
    ($( $(#[$doc:meta])* $v:ident($t:ty), )*) => {
        /// The data of one key.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Data {
            $( $(#[$doc])* $v($t), )*
        }

        $(
            impl From<$t> for Data {
                #[inline]
                fn from(x: $t) -> Data {
                    Data::$v(x)
                }
            }
        )*

        impl Data {
            /// The operations a merging value reflects.
            pub fn ctx(&self) -> Option<&CausalContext> {
                match self { $( Data::$v(x) => x.ctx(), )* }
            }

            fn ctx_mut(&mut self) -> Option<&mut CausalContext> {
                match self { $( Data::$v(x) => x.ctx_mut(), )* }
            }

            /// The empty value of the same type.
            fn bottom(&self) -> Data {
                match self { $( Data::$v(_) => Data::$v(Default::default()), )* }
            }

            /// Joins `other` into this value if it is of the same type; false if not.
            fn join_same(&mut self, other: &Data) -> bool {
                match (self, other) {
                    $( (Data::$v(a), Data::$v(b)) => { a.join(b); true } )*
                    #[allow(unreachable_patterns)]
                    _ => false,
                }
            }

            /// The value as a reader (or a checker) sees it.
            pub fn view(&self) -> View {
                match self { $( Data::$v(x) => x.view(), )* }
            }

            /// An LWW-Map field's stamp (what a write of the field replaces), if the field was
            /// ever written here.
            pub fn field_stamp(&self, f: u32) -> Option<Stamp> {
                match self { $( Data::$v(x) => x.field_stamp(f), )* }
            }

            /// Concurrent values held (multi-value registers; an OR-Map's most on one field),
            /// else 1.
            pub fn siblings(&self) -> usize {
                match self { $( Data::$v(x) => x.siblings(), )* }
            }

            fn body_bytes(&self, value_bytes: u32) -> u64 {
                match self { $( Data::$v(x) => x.body_bytes(value_bytes), )* }
            }

            fn tagged_digest(&self) -> u64 {
                match self { $( Data::$v(x) => tag(<$t as DataState>::TAG, x.digest_body()), )* }
            }
        }
    };
}

policies! {
    /// Last writer wins on the writer's physical wall clock (region id breaks ties).
    Lww => register::Lww,
    /// Last writer wins on a hybrid logical clock: a write always beats what its region had
    /// seen, whatever the clocks say.
    LwwHlc => register::LwwHlc,
    /// First writer wins: the earliest stamp keeps the key; later writes are dropped.
    Fww => register::Fww,
    /// Multi-value register: concurrent writes are all kept as siblings; the next write from a
    /// region that has seen them resolves them.
    Siblings => siblings::Siblings,
    /// Like siblings, but every conflict is parked and counted for an operator to resolve.
    Manual => siblings::Manual,
    /// Increments and decrements, merged.
    PnCounter => counters::PnCounterPolicy,
    /// Increments only, merged.
    GCounter => counters::GCounterPolicy,
    /// Observed-remove set (add wins).
    OrSet => sets::OrSetPolicy,
    /// Grow-only set.
    GSet => sets::GSetPolicy,
    /// Two-phase set (a removed element never returns).
    TwoPSet => sets::TwoPSetPolicy,
    /// Observed-remove map of multi-value registers: a put of a field concurrent with its
    /// remove survives, and concurrent puts of one field are all kept.
    OrMap => maps::OrMapPolicy,
    /// Map of last-writer-wins registers: each field is resolved on its own by wall-clock
    /// stamp, a remove being a write of "absent".
    LwwMap => maps::LwwMapPolicy,
}

states! {
    /// A counter under a register policy: the whole value, written by read-modify-write.
    Int(i64),
    /// A set under a register policy: the whole set, written by read-modify-write.
    Elems(BTreeSet<u32>),
    Mv(siblings::MvRegister<OpId>),
    Counter(counters::CausalCounter),
    GCounter(crate::replica::crdt::Causal<counters::GCounter>),
    OrSet(sets::OrSet<u32>),
    GSet(crate::replica::crdt::Causal<sets::GSet<u32>>),
    TwoP(crate::replica::crdt::Causal<sets::TwoPSet<u32>>),
    /// A map under a register policy: the whole document (field -> the write that set it),
    /// written by read-modify-write.
    Fields(BTreeMap<u32, OpId>),
    OrMap(maps::OrMap<u32, OpId>),
    LwwMap(crate::replica::crdt::Causal<maps::LwwMap<u32, OpId>>),
}

impl Policy {
    /// The policy named `name` in a scenario file.
    pub fn from_name(name: &str) -> Option<Policy> {
        Policy::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The CRDT that suits a shape (`conflict: crdt`).
    pub fn crdt_for(shape: Shape) -> Policy {
        Policy::ALL
            .into_iter()
            .find(|p| p.crdt_of() == Some(shape))
            .expect("every shape has a CRDT in the registry")
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
        let d = cur.get_or_insert_with(|| policy.empty());
        if let Some(delta) = policy.update(d, a, op, wall, kind) {
            return delta;
        }
        // Validation keeps operations to the shapes their policies fit; an operation that
        // does not fit still takes a dot, so it is accounted for, and changes nothing else.
        debug_assert!(false, "{kind:?} on {d:?}");
        let ctx = d.ctx_mut().expect("merging policies have contexts");
        let dot = ctx.next_dot(a);
        ctx.insert(dot);
        let mut only = policy.empty();
        only.ctx_mut().expect("merging").insert(dot);
        only
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
        if !d.join_same(other) {
            return Vec::new();
        }
        new
    }

    /// Approximate size on the wire: 8 bytes per context entry and per dot, 8 per counter
    /// entry or element, plus `value_bytes` per register value. Kept out of line: plain
    /// registers carry no data, and inlining it perturbs the send path's code.
    #[inline(never)]
    pub fn wire_bytes(&self, value_bytes: u32) -> u64 {
        let ctx = self.ctx().map_or(0, |c| c.wire_bytes());
        ctx + self.body_bytes(value_bytes)
    }
}

/// Records `dot` in `ctx` and returns the delta `store` with only that dot as context.
pub(crate) fn own<S>(
    ctx: &mut CausalContext,
    dot: Dot,
    store: S,
) -> crate::replica::crdt::Causal<S> {
    ctx.insert(dot);
    let mut c = CausalContext::default();
    c.insert(dot);
    crate::replica::crdt::Causal { store, ctx: c }
}

/// Mixes a state's tag into its digest.
fn tag(t: u64, h: u64) -> u64 {
    mix64(t.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ h)
}

/// An order-independent sum of mixed elements.
pub(crate) fn elems_digest(it: impl Iterator<Item = u32>) -> u64 {
    it.fold(0u64, |acc, e| acc.wrapping_add(mix64(e as u64 + 1)))
}

/// An order-independent sum of mixed parts (equal multisets, equal sums).
pub(crate) fn sum_mixed(parts: impl Iterator<Item = u64>) -> u64 {
    parts.fold(0u64, |acc, h| acc.wrapping_add(mix64(h)))
}

pub(crate) fn ctx_digest(c: &CausalContext) -> u64 {
    let vv = c.vv.0.iter().fold(0u64, |acc, (a, n)| {
        acc.wrapping_add(mix64(((a.0 as u64) << 32) ^ *n as u64))
    });
    c.cloud
        .iter()
        .fold(mix64(vv), |acc, d| acc.wrapping_add(mix64(d.0 ^ 0x5555)))
}

impl Digest for Data {
    fn digest(&self) -> u64 {
        self.tagged_digest()
    }
}

/// The digest contribution of a key whose value merges (its data, not its newest stamp).
pub fn data_key_digest(key: Key, d: &Data) -> u64 {
    mix64(key.0.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ d.digest().rotate_left(9))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::replica::RegionId;

    pub(crate) fn a(i: u16) -> Actor {
        Actor::new(RegionId(i), 1)
    }

    /// Region `r`'s write `op` on a value of `policy` (the wall clock only matters to maps).
    pub(crate) fn up(
        slot: &mut Option<Data>,
        policy: Policy,
        r: u16,
        op: u64,
        kind: WriteKind,
    ) -> Data {
        Data::update(slot, policy, a(r), OpId(op), Wall(0), kind)
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

    /// The registry answers what the enum used to spell out: names in order, which policies
    /// merge, which are judged add-wins, what each can hold, the CRDT of each shape.
    #[test]
    fn the_registry_describes_every_policy() {
        let names: Vec<&str> = Policy::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(
            names,
            [
                "lww",
                "lww-hlc",
                "fww",
                "siblings",
                "manual",
                "pn-counter",
                "g-counter",
                "or-set",
                "g-set",
                "2p-set",
                "or-map",
                "lww-map"
            ]
        );
        for p in Policy::ALL {
            assert_eq!(Policy::from_name(p.name()), Some(p));
        }
        assert_eq!(Policy::from_name("crdt"), None);
        let merging: Vec<Policy> = Policy::ALL.into_iter().filter(|p| p.merges()).collect();
        assert_eq!(merging, &Policy::ALL[3..]);
        let add_wins: Vec<&str> = Policy::ALL
            .into_iter()
            .filter(|p| p.add_wins())
            .map(Policy::name)
            .collect();
        assert_eq!(
            add_wins,
            ["lww", "lww-hlc", "fww", "or-set", "or-map", "lww-map"]
        );
        let holders = |s| -> Vec<&str> {
            Policy::ALL
                .into_iter()
                .filter(|p| p.fits(s))
                .map(Policy::name)
                .collect()
        };
        assert_eq!(
            holders(Shape::Register),
            ["lww", "lww-hlc", "fww", "siblings", "manual"]
        );
        assert_eq!(
            holders(Shape::Counter),
            ["lww", "lww-hlc", "fww", "pn-counter", "g-counter"]
        );
        assert_eq!(
            holders(Shape::Set),
            ["lww", "lww-hlc", "fww", "or-set", "g-set", "2p-set"]
        );
        assert_eq!(
            holders(Shape::Map),
            ["lww", "lww-hlc", "fww", "or-map", "lww-map"]
        );
        let crdts = [Shape::Register, Shape::Counter, Shape::Set, Shape::Map].map(Policy::crdt_for);
        assert_eq!(
            crdts,
            [
                Policy::Siblings,
                Policy::PnCounter,
                Policy::OrSet,
                Policy::OrMap
            ]
        );
        let refusals: Vec<_> = Policy::ALL
            .into_iter()
            .filter_map(Policy::refuses)
            .collect();
        assert_eq!(refusals, [("decr", "only grows"), ("remove", "only grows")]);
        let observes: Vec<_> = Policy::ALL
            .into_iter()
            .filter(|p| p.observes_hlc())
            .collect();
        assert_eq!(observes, [Policy::LwwHlc]);
    }

    /// Each value type's digest tag is fixed (digests are compared with golden files): the
    /// empty value of each type digests as it always has.
    #[test]
    fn digest_tags_are_stable() {
        let empty = CausalContext::default();
        let bodies = [
            (Data::Int(0), 1, 0),
            (Data::Elems(BTreeSet::new()), 2, 0),
            (Data::Mv(Default::default()), 3, ctx_digest(&empty)),
            (Data::Fields(BTreeMap::new()), 9, 0),
            (Data::LwwMap(Default::default()), 11, ctx_digest(&empty)),
        ];
        for (d, t, body) in bodies {
            assert_eq!(d.digest(), tag(t, body), "{d:?}");
        }
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

    /// A delta of another type (impossible from a valid plan) changes nothing and brings no
    /// new operations.
    #[test]
    fn a_delta_of_another_type_is_ignored() {
        let mut x = None;
        up(&mut x, Policy::OrSet, 0, 1, WriteKind::Insert(3));
        let before = x.clone();
        let mut y = None;
        let d = up(&mut y, Policy::PnCounter, 1, 2, WriteKind::Incr(1));
        assert!(Data::merge(&mut x, &d).is_empty());
        assert_eq!(x, before);
        let mut whole = Some(Data::Int(4));
        assert!(
            Data::merge(&mut whole, &d).is_empty(),
            "a whole value never merges"
        );
        assert_eq!(whole, Some(Data::Int(4)));
    }
}
