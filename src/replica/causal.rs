//! Logical time and causality: Lamport clocks, hybrid logical clocks, version vectors, dots and
//! causal contexts (the dotted version vectors that multi-value registers and OR-Sets rest on).
//!
//! All of it is plain data driven by the caller: an HLC is handed the local wall-clock reading,
//! it never reads one.

use super::RegionId;
use crate::time::Wall;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

/// Who issues dots: one incarnation of one region (a region that lost its disk comes back as a
/// new actor, so it can never reissue a dot it issued before). Packed `region << 16 | epoch`.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Actor(pub u32);

impl Actor {
    pub fn new(region: RegionId, epoch: u32) -> Actor {
        Actor(((region.0 as u32) << 16) | (epoch & 0xffff))
    }
    pub fn region(self) -> RegionId {
        RegionId((self.0 >> 16) as u16)
    }
}

/// One event of one actor: its `n`th (from 1). Packed exactly like a [`super::Stamp`]'s
/// tie-break, so an operation's dot and its stamp name each other.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Dot(pub u64);

impl Dot {
    pub fn new(actor: Actor, n: u32) -> Dot {
        Dot(((actor.0 as u64) << 32) | n as u64)
    }
    pub fn actor(self) -> Actor {
        Actor((self.0 >> 32) as u32)
    }
    pub fn n(self) -> u32 {
        self.0 as u32
    }
}

/// How two causal histories relate.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Causality {
    Equal,
    /// The left one happened before the right one (the right one has seen it).
    Before,
    After,
    Concurrent,
}

/// A version vector: per actor, how many of its events have been seen.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector(pub BTreeMap<Actor, u32>);

impl VersionVector {
    pub fn get(&self, a: Actor) -> u32 {
        self.0.get(&a).copied().unwrap_or(0)
    }

    /// Records the next event of `a` and returns its dot.
    pub fn increment(&mut self, a: Actor) -> Dot {
        let n = self.0.entry(a).or_insert(0);
        *n += 1;
        Dot::new(a, *n)
    }

    pub fn contains(&self, d: Dot) -> bool {
        self.get(d.actor()) >= d.n()
    }

    /// Pointwise maximum.
    pub fn merge(&mut self, other: &VersionVector) {
        for (&a, &n) in &other.0 {
            let e = self.0.entry(a).or_insert(0);
            *e = (*e).max(n);
        }
    }

    pub fn compare(&self, other: &VersionVector) -> Causality {
        let (mut less, mut greater) = (false, false);
        for (&a, &n) in &self.0 {
            match n.cmp(&other.get(a)) {
                Ordering::Less => less = true,
                Ordering::Greater => greater = true,
                Ordering::Equal => {}
            }
        }
        for (&a, &n) in &other.0 {
            if !self.0.contains_key(&a) && n > 0 {
                less = true;
            }
        }
        match (less, greater) {
            (false, false) => Causality::Equal,
            (true, false) => Causality::Before,
            (false, true) => Causality::After,
            (true, true) => Causality::Concurrent,
        }
    }
}

/// A causal context: the set of dots seen, kept as a version vector (every dot up to `vv[a]`)
/// plus a cloud of dots seen out of order. Adding the missing dot folds the cloud back into the
/// vector, so a context stays small however long the history.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct CausalContext {
    pub vv: VersionVector,
    pub cloud: BTreeSet<Dot>,
}

impl CausalContext {
    pub fn contains(&self, d: Dot) -> bool {
        self.vv.contains(d) || self.cloud.contains(&d)
    }

    pub fn is_empty(&self) -> bool {
        self.vv.0.is_empty() && self.cloud.is_empty()
    }

    /// Adds one dot. Returns false if it was already there.
    pub fn insert(&mut self, d: Dot) -> bool {
        if self.contains(d) {
            return false;
        }
        if self.vv.get(d.actor()) + 1 == d.n() {
            self.vv.0.insert(d.actor(), d.n());
            self.compact(d.actor());
        } else {
            self.cloud.insert(d);
        }
        true
    }

    /// Folds cloud dots of `a` that now continue the vector into it.
    fn compact(&mut self, a: Actor) {
        let mut n = self.vv.get(a);
        while self.cloud.remove(&Dot::new(a, n + 1)) {
            n += 1;
        }
        if n > 0 {
            self.vv.0.insert(a, n);
        }
        // Cloud dots the vector has overtaken are redundant.
        let lo = Dot::new(a, 0);
        let hi = Dot::new(a, n);
        let stale: Vec<Dot> = self.cloud.range(lo..=hi).copied().collect();
        for d in stale {
            self.cloud.remove(&d);
        }
    }

    pub fn merge(&mut self, other: &CausalContext) {
        self.vv.merge(&other.vv);
        for &d in &other.cloud {
            if !self.vv.contains(d) {
                self.cloud.insert(d);
            }
        }
        let actors: BTreeSet<Actor> = self
            .cloud
            .iter()
            .map(|d| d.actor())
            .chain(other.vv.0.keys().copied())
            .collect();
        for a in actors {
            self.compact(a);
        }
    }

    /// The next dot `a` should issue: one past the highest of its dots seen here.
    pub fn next_dot(&self, a: Actor) -> Dot {
        let hi = self
            .cloud
            .range(Dot::new(a, 0)..=Dot::new(a, u32::MAX))
            .next_back()
            .map_or(0, |d| d.n());
        Dot::new(a, self.vv.get(a).max(hi) + 1)
    }

    /// Every dot seen here and not in `other`, in order (what merging this into `other` adds).
    pub fn dots_missing_from(&self, other: &CausalContext) -> Vec<Dot> {
        let mut v = Vec::new();
        for (&a, &n) in &self.vv.0 {
            for i in other.vv.get(a) + 1..=n {
                let d = Dot::new(a, i);
                if !other.cloud.contains(&d) {
                    v.push(d);
                }
            }
        }
        for &d in &self.cloud {
            if !other.contains(d) {
                v.push(d);
            }
        }
        v.sort_unstable();
        v
    }

    /// Dots in the cloud mean a gap: some earlier dot of that actor has not arrived.
    pub fn has_gaps(&self) -> bool {
        !self.cloud.is_empty()
    }

    /// Approximate wire size: 8 bytes per vector entry and per cloud dot.
    pub fn wire_bytes(&self) -> u64 {
        8 * (self.vv.0.len() + self.cloud.len()) as u64
    }
}

/// A Lamport clock: a counter that every event increments and every message carries, so an
/// event's counter exceeds that of every event it could have heard of.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Lamport(pub u64);

impl Lamport {
    /// A local event (a write): its timestamp.
    pub fn tick(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }
    /// A timestamp received from elsewhere.
    pub fn observe(&mut self, t: u64) {
        self.0 = self.0.max(t);
    }
}

/// A hybrid logical clock (Kulkarni et al., 2014) packed into one wall-clock-like integer:
/// the high bits follow physical time, the low `HLC_LOGICAL_BITS` count events within one
/// granule. A timestamp is always above every timestamp the node has issued or observed and
/// never below its own physical clock, so causally later writes always stamp higher while
/// timestamps stay close to real time. When the logical part overflows it carries into the
/// physical part, as a counter would.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Hlc {
    last: i64,
}

/// Logical bits: 16, so the physical part has a granule of 65.536 us.
pub const HLC_LOGICAL_BITS: u32 = 16;
const HLC_MASK: i64 = (1 << HLC_LOGICAL_BITS) - 1;

impl Hlc {
    /// The physical part of a wall-clock reading.
    pub fn physical(wall: Wall) -> i64 {
        wall.0 & !HLC_MASK
    }

    /// The timestamp of a local event at physical reading `wall`.
    pub fn now(&mut self, wall: Wall) -> Wall {
        let pt = Hlc::physical(wall);
        self.last = if pt > self.last {
            pt
        } else {
            self.last.saturating_add(1)
        };
        Wall(self.last)
    }

    /// A timestamp received from elsewhere (the next local event stamps above it).
    pub fn observe(&mut self, t: Wall) {
        self.last = self.last.max(t.0);
    }

    /// The newest timestamp issued or observed.
    pub fn last(&self) -> Wall {
        Wall(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn a(i: u16) -> Actor {
        Actor::new(RegionId(i), 1)
    }

    #[test]
    fn dots_and_stamp_ties_share_a_layout() {
        let s = super::super::Stamp::new(Wall(5), RegionId(3), 7, 42);
        let d = Dot(s.tie);
        assert_eq!(d.actor(), Actor::new(RegionId(3), 7));
        assert_eq!(d.actor().region(), RegionId(3));
        assert_eq!(d.n(), 42);
    }

    /// Every pair of vectors over two actors with counts 0..=2: compare agrees with the
    /// definition (pointwise <=) and is antisymmetric.
    #[test]
    fn version_vector_compare_exhaustive() {
        let mut all = Vec::new();
        for x in 0..=2u32 {
            for y in 0..=2u32 {
                let mut v = VersionVector::default();
                if x > 0 {
                    v.0.insert(a(0), x);
                }
                if y > 0 {
                    v.0.insert(a(1), y);
                }
                all.push((x, y, v));
            }
        }
        for (x1, y1, v1) in &all {
            for (x2, y2, v2) in &all {
                let le = x1 <= x2 && y1 <= y2;
                let ge = x1 >= x2 && y1 >= y2;
                let want = match (le, ge) {
                    (true, true) => Causality::Equal,
                    (true, false) => Causality::Before,
                    (false, true) => Causality::After,
                    (false, false) => Causality::Concurrent,
                };
                assert_eq!(v1.compare(v2), want, "{v1:?} vs {v2:?}");
                let back = match want {
                    Causality::Before => Causality::After,
                    Causality::After => Causality::Before,
                    c => c,
                };
                assert_eq!(v2.compare(v1), back);
                let mut m = v1.clone();
                m.merge(v2);
                assert_eq!(m.get(a(0)), (*x1).max(*x2));
                assert!(matches!(
                    v1.compare(&m),
                    Causality::Before | Causality::Equal
                ));
            }
        }
    }

    #[test]
    fn explicit_zero_entries_compare_equal_to_absent_ones() {
        let mut v = VersionVector::default();
        v.0.insert(a(0), 0);
        assert_eq!(v.compare(&VersionVector::default()), Causality::Equal);
    }

    #[test]
    fn context_compacts_out_of_order_dots() {
        let mut c = CausalContext::default();
        assert!(c.insert(Dot::new(a(0), 2)));
        assert!(c.insert(Dot::new(a(0), 3)));
        assert!(c.has_gaps());
        assert_eq!(c.next_dot(a(0)), Dot::new(a(0), 4));
        assert!(c.insert(Dot::new(a(0), 1)));
        assert!(!c.has_gaps(), "{c:?}");
        assert_eq!(c.vv.get(a(0)), 3);
        assert!(!c.insert(Dot::new(a(0), 2)), "already seen");
        let mut other = CausalContext::default();
        other.insert(Dot::new(a(0), 1));
        other.insert(Dot::new(a(1), 1));
        assert_eq!(
            c.dots_missing_from(&other),
            vec![Dot::new(a(0), 2), Dot::new(a(0), 3)]
        );
        other.merge(&c);
        assert_eq!(other.vv.get(a(0)), 3);
        assert!(c.dots_missing_from(&other).is_empty());
    }

    #[test]
    fn lamport_orders_causally_later_events_higher() {
        let (mut p, mut q) = (Lamport::default(), Lamport::default());
        let t1 = p.tick();
        p.tick();
        let t3 = p.tick();
        q.observe(t3);
        let t4 = q.tick();
        assert!(t1 < t3 && t3 < t4);
    }

    #[test]
    fn hlc_stamps_above_what_it_has_seen_even_with_a_slow_clock() {
        let mut fast = Hlc::default();
        let mut slow = Hlc::default();
        let t_fast = fast.now(Wall(250_000_000)); // 250 ms ahead
        slow.observe(t_fast);
        let t_slow = slow.now(Wall(1_000)); // physical clock says ~0
        assert!(t_slow > t_fast, "causally later stamps higher");
        assert_eq!(t_slow.0 - t_fast.0, 1, "by one logical tick");
        // Once physical time passes the observed stamp, the physical part takes over again.
        let later = slow.now(Wall(300_000_000));
        assert_eq!(later, Wall(Hlc::physical(Wall(300_000_000))));
    }

    proptest! {
        #[test]
        fn context_insert_order_does_not_matter(mut dots in proptest::collection::vec((0u16..3, 1u32..12), 0..40)) {
            let mut a1 = CausalContext::default();
            for &(r, n) in &dots {
                a1.insert(Dot::new(a(r), n));
            }
            dots.reverse();
            let mut a2 = CausalContext::default();
            for &(r, n) in &dots {
                a2.insert(Dot::new(a(r), n));
            }
            prop_assert_eq!(&a1, &a2);
            for &(r, n) in &dots {
                prop_assert!(a1.contains(Dot::new(a(r), n)));
            }
            // Merging two halves gives the same context as inserting everything.
            let (h1, h2) = dots.split_at(dots.len() / 2);
            let mut b1 = CausalContext::default();
            h1.iter().for_each(|&(r, n)| { b1.insert(Dot::new(a(r), n)); });
            let mut b2 = CausalContext::default();
            h2.iter().for_each(|&(r, n)| { b2.insert(Dot::new(a(r), n)); });
            b1.merge(&b2);
            prop_assert_eq!(&b1, &a1);
        }

        /// Nodes with clock offsets within +-S exchange messages that take non-negative time.
        /// Every node's HLC is strictly monotonic, never below its physical clock, and never
        /// more than 2S (the largest offset between two clocks) plus one granule per event
        /// ahead of it.
        #[test]
        fn hlc_is_monotonic_and_bounded(
            offsets in proptest::collection::vec(-50_000_000i64..50_000_000, 3),
            events in proptest::collection::vec((0usize..3, 0usize..3, 0u64..2_000_000, any::<bool>()), 1..200),
        ) {
            let s: i64 = 50_000_000;
            let mut clocks = [Hlc::default(); 3];
            let mut last = [i64::MIN; 3];
            let mut t: i64 = 1_000_000_000;
            let mut inflight: Vec<(usize, Wall)> = Vec::new();
            for (i, (node, to, dt, deliver)) in events.into_iter().enumerate() {
                t += dt as i64;
                if deliver && !inflight.is_empty() {
                    let (dst, ts) = inflight.remove(i % inflight.len());
                    clocks[dst].observe(ts);
                }
                let wall = Wall(t + offsets[node]);
                let ts = clocks[node].now(wall);
                prop_assert!(ts.0 > last[node], "monotonic");
                prop_assert!(ts.0 >= Hlc::physical(wall), "never below physical time");
                prop_assert!(ts.0 - wall.0 <= 2 * s + 200, "within the skew bound: {}", ts.0 - wall.0);
                last[node] = ts.0;
                inflight.push((to, ts));
            }
        }
    }
}
