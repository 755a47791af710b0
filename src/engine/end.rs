//! The end of a run: how far the replicas disagree, and the final values the data checkers read.

use super::{Engine, Node, Observe, ViewMismatch};
use crate::replica::{Key, RegionId, Replica};

impl<R: Replica, O: Observe> Engine<'_, R, O> {
    /// How many keys the regions disagree on at the end, and the first of them.
    #[cold]
    #[inline(never)]
    pub(super) fn divergence(&self) -> (u64, Option<u64>) {
        let n = self.sc.n();
        let (mut divergent_keys, mut first_divergent_key) = (0, None);
        if let Some(holders) = &self.sc.plan.holders {
            for (k, &mask) in holders.iter().enumerate() {
                let mut first: Option<Option<crate::replica::Cell>> = None;
                let mut differs = false;
                for r in (0..n).filter(|r| mask & (1 << r) != 0) {
                    let c = self.nodes[r]
                        .replica
                        .as_ref()
                        .and_then(|x| x.cell_of(Key(k as u64)));
                    match first {
                        None => first = Some(c),
                        Some(f) => differs |= f != c,
                    }
                }
                if differs {
                    divergent_keys += 1;
                    first_divergent_key.get_or_insert(k as u64);
                }
            }
        }
        if self.sc.plan.holders.is_none()
            && region_digests_differ(&self.nodes)
            && self.nodes.iter().all(|nd| nd.replica.is_some())
        {
            // Name the first key the regions disagree on, for the convergence check's message.
            for k in 0..self.sc.workload.keys {
                let first = self.nodes[0]
                    .replica
                    .as_ref()
                    .and_then(|x| x.cell_of(Key(k)));
                if self.nodes[1..]
                    .iter()
                    .any(|nd| nd.replica.as_ref().and_then(|x| x.cell_of(Key(k))) != first)
                {
                    divergent_keys += 1;
                    first_divergent_key.get_or_insert(k);
                }
            }
        }
        (divergent_keys, first_divergent_key)
    }

    /// The end-of-run values of keys whose tables keep data, and the first key on which two
    /// live holders disagree (keys read through the replicas' public views, after the run).
    #[cold]
    #[inline(never)]
    pub(super) fn final_views(
        &self,
    ) -> (Vec<(u64, crate::replica::data::View)>, Option<ViewMismatch>) {
        let tables = &self.sc.plan.tables;
        if !tables.has_data() {
            return (Vec::new(), None);
        }
        let mut views = Vec::new();
        let mut mismatch = None;
        for t in tables
            .0
            .iter()
            .filter(|t| t.policy.merges() || t.shape != crate::replica::data::Shape::Register)
        {
            for k in t.first..t.end {
                let key = Key(k);
                let mut first: Option<(RegionId, Option<crate::replica::data::View>)> = None;
                for (i, nd) in self.nodes.iter().enumerate() {
                    let Some(rep) = nd.replica.as_ref() else {
                        continue;
                    };
                    let r = RegionId(i as u16);
                    if !self.sc.plan.holds(r, key) {
                        continue;
                    }
                    let v = rep.view_of(key);
                    match &first {
                        None => first = Some((r, v)),
                        Some((a, av)) => {
                            if mismatch.is_none() && *av != v {
                                mismatch = Some(ViewMismatch {
                                    key: k,
                                    a: *a,
                                    b: r,
                                    a_view: av.clone(),
                                    b_view: v,
                                });
                            }
                        }
                    }
                }
                if let Some((_, Some(v))) = first {
                    views.push((k, v));
                }
            }
        }
        (views, mismatch)
    }
}

fn region_digests_differ<R: Replica>(nodes: &[Node<R>]) -> bool {
    let mut d = nodes
        .iter()
        .map(|nd| nd.replica.as_ref().map(|r| r.state_digest()));
    let first = d.next().flatten();
    d.any(|x| x != first)
}
