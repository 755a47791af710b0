//! `SeqSet`: which sequence numbers of one origin's stream a replica holds, as a contiguous
//! prefix plus a bitmap of the stragglers above it.
//!
//! Every applied entry passes through here twice (the replica's own record and the disk's), and
//! under loss or reordering most of them arrive above a gap. A bitmap keeps those inserts to a
//! few word operations; a tree set cost a node allocation and rebalancing per straggler.

use std::collections::VecDeque;

/// A set of sequence numbers: `1..=upto` plus stragglers above it.
///
/// Invariant (so that derived equality is equality of sets): every set bit is above `upto`,
/// and `bits` is empty (with `base` 0) or starts and ends with a non-zero word.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SeqSet {
    upto: u64,
    /// Word index (`seq / 64`) of `bits[0]`.
    base: u64,
    /// Bit `seq % 64` of word `seq / 64 - base` is set when straggler `seq` is present.
    bits: VecDeque<u64>,
}

impl SeqSet {
    /// Inserts `seq`; false if it was already present.
    pub fn insert(&mut self, seq: u64) -> bool {
        if self.contains(seq) {
            return false;
        }
        if seq == self.upto + 1 {
            self.upto = seq;
            if !self.bits.is_empty() {
                self.absorb();
            }
        } else {
            self.set(seq);
        }
        true
    }

    #[inline]
    pub fn contains(&self, seq: u64) -> bool {
        seq <= self.upto || self.straggler(seq)
    }

    pub fn upto(&self) -> u64 {
        self.upto
    }

    /// The highest sequence number present.
    pub fn max(&self) -> u64 {
        match self.bits.back() {
            Some(&w) => {
                (self.base + self.bits.len() as u64 - 1) * 64 + 63 - w.leading_zeros() as u64
            }
            None => self.upto,
        }
    }

    /// Marks everything up to `upto` present (a snapshot stood in for those entries).
    pub fn advance_to(&mut self, upto: u64) {
        if upto <= self.upto {
            return;
        }
        self.upto = upto;
        // Drop the stragglers the prefix now covers, then take in any run just above it.
        let word = upto / 64;
        while !self.bits.is_empty() && self.base < word {
            self.bits.pop_front();
            self.base += 1;
        }
        if self.base == word {
            if let Some(front) = self.bits.front_mut() {
                let keep = if upto % 64 == 63 {
                    0
                } else {
                    !0u64 << (upto % 64 + 1)
                };
                *front &= keep;
            }
        }
        self.absorb();
    }

    #[inline]
    fn straggler(&self, seq: u64) -> bool {
        let w = seq / 64;
        match w.checked_sub(self.base) {
            Some(i) if (i as usize) < self.bits.len() => {
                self.bits[i as usize] >> (seq % 64) & 1 != 0
            }
            _ => false,
        }
    }

    fn set(&mut self, seq: u64) {
        let w = seq / 64;
        if self.bits.is_empty() {
            self.base = w;
            self.bits.push_back(0);
        }
        while w < self.base {
            self.bits.push_front(0);
            self.base -= 1;
        }
        while w >= self.base + self.bits.len() as u64 {
            self.bits.push_back(0);
        }
        self.bits[(w - self.base) as usize] |= 1 << (seq % 64);
    }

    /// Moves the run of stragglers directly above `upto` into the prefix, then restores the
    /// invariant (no leading or trailing zero words).
    fn absorb(&mut self) {
        loop {
            let next = self.upto + 1;
            let w = next / 64;
            let i = match w.checked_sub(self.base) {
                Some(i) if (i as usize) < self.bits.len() => i as usize,
                _ => break,
            };
            let off = next % 64;
            // The number of consecutive set bits from `off` upwards (at most 64 - off).
            let run = (!(self.bits[i] >> off)).trailing_zeros() as u64;
            if run == 0 {
                break;
            }
            let mask = if run == 64 {
                !0
            } else {
                ((1u64 << run) - 1) << off
            };
            self.bits[i] &= !mask;
            self.upto += run;
            if off + run < 64 {
                break;
            }
        }
        while self.bits.front() == Some(&0) {
            self.bits.pop_front();
            self.base += 1;
        }
        while self.bits.back() == Some(&0) {
            self.bits.pop_back();
        }
        if self.bits.is_empty() {
            self.base = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// The reference: a prefix plus a tree of stragglers (the representation this replaced).
    #[derive(Default)]
    struct Model {
        upto: u64,
        above: BTreeSet<u64>,
    }

    impl Model {
        fn insert(&mut self, seq: u64) -> bool {
            if seq <= self.upto || self.above.contains(&seq) {
                return false;
            }
            if seq == self.upto + 1 {
                self.upto = seq;
                while self.above.remove(&(self.upto + 1)) {
                    self.upto += 1;
                }
            } else {
                self.above.insert(seq);
            }
            true
        }
        fn advance_to(&mut self, upto: u64) {
            if upto > self.upto {
                self.upto = upto;
                self.above = self.above.split_off(&(upto + 1));
                while self.above.remove(&(self.upto + 1)) {
                    self.upto += 1;
                }
            }
        }
        fn max(&self) -> u64 {
            self.above.last().copied().unwrap_or(self.upto)
        }
    }

    #[test]
    fn tracks_prefix_and_stragglers() {
        let mut s = SeqSet::default();
        assert!(s.insert(2));
        assert_eq!(s.upto(), 0);
        assert!(s.insert(1));
        assert_eq!(s.upto(), 2);
        assert!(!s.insert(2));
        assert!(s.insert(5));
        assert!(s.contains(5) && !s.contains(4));
        assert_eq!(s.max(), 5);
    }

    #[test]
    fn a_run_across_word_boundaries_is_absorbed_at_once() {
        let mut s = SeqSet::default();
        for seq in 2..=300 {
            assert!(s.insert(seq));
        }
        assert_eq!((s.upto(), s.max()), (0, 300));
        assert!(s.insert(1));
        assert_eq!(s.upto(), 300);
        assert_eq!(
            s,
            SeqSet {
                upto: 300,
                ..SeqSet::default()
            }
        );
    }

    #[test]
    fn advance_to_drops_covered_stragglers_and_absorbs_the_next_run() {
        let mut s = SeqSet::default();
        for seq in [10, 63, 64, 65, 200] {
            s.insert(seq);
        }
        s.advance_to(62);
        assert_eq!(s.upto(), 65);
        assert!(s.contains(200) && !s.contains(199));
        s.advance_to(1000);
        assert_eq!(
            s,
            SeqSet {
                upto: 1000,
                ..SeqSet::default()
            }
        );
    }

    proptest! {
        /// Any sequence of inserts and advances gives the same answers as the tree-set model,
        /// and two sets holding the same numbers compare equal however they got there.
        #[test]
        fn matches_the_tree_set_model(
            ops in proptest::collection::vec((0u8..8, 1u64..400), 0..300)
        ) {
            let (mut s, mut m) = (SeqSet::default(), Model::default());
            for (kind, seq) in ops {
                if kind == 0 {
                    s.advance_to(seq);
                    m.advance_to(seq);
                } else {
                    prop_assert_eq!(s.insert(seq), m.insert(seq));
                }
                prop_assert_eq!(s.upto(), m.upto);
                prop_assert_eq!(s.max(), m.max());
                for probe in [seq.saturating_sub(1), seq, seq + 1, seq + 64] {
                    prop_assert_eq!(s.contains(probe), probe <= m.upto || m.above.contains(&probe));
                }
            }
            let mut fresh = SeqSet { upto: m.upto, ..SeqSet::default() };
            for &x in &m.above {
                fresh.set(x);
            }
            prop_assert_eq!(s, fresh);
        }
    }
}
