//! Register policies: `lww`, `lww-hlc` and `fww` keep one value per key, chosen by its stamp
//! (the replicator compares stamps; a policy only picks the clock a stamp is read from). A
//! counter, set or document under a register policy is a whole value written by
//! read-modify-write ([`Data::rewrite`]): the later write replaces the whole of it, which is
//! the cost the conflict checks show.

use super::{elems_digest, sum_mixed, Data, DataPolicy, DataState, Shape, View, WriteKind};
use crate::replica::causal::Hlc;
use crate::replica::{mix64, OpId};
use crate::time::Wall;
use std::collections::{BTreeMap, BTreeSet};

/// `lww`: last writer wins on the writer's physical wall clock (region id breaks ties).
pub struct Lww;

impl DataPolicy for Lww {
    const NAME: &'static str = "lww";
    const MERGES: bool = false;
    const ADD_WINS: bool = true;

    fn fits(_: Shape) -> bool {
        true
    }
}

/// `lww-hlc`: last writer wins on a hybrid logical clock, so a write always beats what its
/// region had seen, whatever the clocks say.
pub struct LwwHlc;

impl DataPolicy for LwwHlc {
    const NAME: &'static str = "lww-hlc";
    const MERGES: bool = false;
    const ADD_WINS: bool = true;
    const OBSERVES_HLC: bool = true;

    fn fits(_: Shape) -> bool {
        true
    }

    #[inline]
    fn stamp_wall(now: Wall, hlc: &mut Hlc) -> Wall {
        hlc.now(now)
    }
}

/// `fww`: first writer wins: the earliest stamp keeps the key; later writes are dropped.
pub struct Fww;

impl DataPolicy for Fww {
    const NAME: &'static str = "fww";
    const MERGES: bool = false;
    const ADD_WINS: bool = true;
    const WINS_EARLIEST: bool = true;

    fn fits(_: Shape) -> bool {
        true
    }

    /// The earliest stamp must win: order by the negated clock.
    #[inline]
    fn stamp_wall(now: Wall, _: &mut Hlc) -> Wall {
        Wall(now.0.saturating_neg())
    }
}

/// A counter under a register policy.
impl DataState for i64 {
    const TAG: u64 = 1;

    fn view(&self) -> View {
        View::Count(*self)
    }

    fn body_bytes(&self, _: u32) -> u64 {
        8
    }

    fn digest_body(&self) -> u64 {
        *self as u64
    }
}

/// A set under a register policy.
impl DataState for BTreeSet<u32> {
    const TAG: u64 = 2;

    fn view(&self) -> View {
        View::Elems(self.iter().copied().collect())
    }

    fn body_bytes(&self, _: u32) -> u64 {
        4 * self.len() as u64
    }

    fn digest_body(&self) -> u64 {
        elems_digest(self.iter().copied())
    }
}

/// A document under a register policy: field -> the write that set it.
impl DataState for BTreeMap<u32, OpId> {
    const TAG: u64 = 9;

    fn view(&self) -> View {
        View::Map(self.iter().map(|(&f, &v)| (f, vec![v])).collect())
    }

    /// A field: its number and value.
    fn body_bytes(&self, value_bytes: u32) -> u64 {
        (4 + value_bytes as u64) * self.len() as u64
    }

    fn digest_body(&self) -> u64 {
        sum_mixed(self.iter().map(|(&f, v)| ((f as u64) << 40) ^ mix64(v.0)))
    }
}

impl Data {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::data::Policy;

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

    /// Each register policy reads its stamp from its own clock: the wall clock, the HLC (which
    /// stamps above what it has observed), or the negated wall clock (earliest wins).
    #[test]
    fn register_policies_choose_their_stamp_clock() {
        let mut hlc = Hlc::default();
        hlc.observe(Wall(1 << 30));
        let now = Wall(1_000_000);
        assert_eq!(Policy::Lww.stamp_wall(now, &mut hlc), now);
        assert_eq!(Policy::Fww.stamp_wall(now, &mut hlc), Wall(-1_000_000));
        assert_eq!(
            Policy::LwwHlc.stamp_wall(now, &mut hlc),
            Wall((1 << 30) + 1)
        );
        assert_eq!(
            hlc.last(),
            Wall((1 << 30) + 1),
            "only lww-hlc ticks the clock"
        );
    }
}
