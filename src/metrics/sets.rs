//! Sets, maps and siblings: which writes added each element, which of them survive, and the
//! add-wins oracle the data checkers compare the final values with.

use super::*;

impl Observer {
    pub fn set_final_dots(&mut self, dots: std::collections::BTreeSet<(u32, u64)>) {
        self.final_dots = Some(dots);
    }

    /// Region `r` restarted and its merging key `key` now reflects exactly `dots`: writes it
    /// had covered but lost are pending there again.
    pub fn resync_dots(&mut self, r: RegionId, key: Key, dots: &[crate::replica::causal::Dot]) {
        let bit = 1u64 << r.0;
        let lost = |s: Stamp| {
            dots.binary_search(&crate::replica::causal::Dot(s.tie))
                .is_err()
        };
        for &(s, w) in &self.pending[key.0 as usize] {
            let rec = &mut self.writes[w as usize];
            if rec.covered & bit != 0 && lost(s) {
                rec.covered &= !bit;
            }
        }
        // Set adds visible everywhere have left `pending`, but the add-wins oracle asks what
        // this region holds when it next removes: clear those it lost too.
        let k = key.0 as u32;
        for (_, adds) in self.set_adds.range((k, 0)..=(k, u32::MAX)) {
            for &a in adds {
                let rec = &mut self.writes[a as usize];
                if rec.covered & bit != 0 && lost(rec.stamp) {
                    rec.covered &= !bit;
                }
            }
        }
    }

    /// Set tables with add-wins semantics: an element should be present iff some add of it
    /// survives and no remove (nor re-add) issued where that add had been seen. Returns, per
    /// key, the elements that should be present, and the add writes per (key, element).
    pub fn add_wins_oracle(&self) -> std::collections::BTreeMap<u32, Vec<u32>> {
        let mut want: std::collections::BTreeMap<u32, Vec<u32>> = Default::default();
        for (&(k, e), adds) in &self.set_adds {
            let v = want.entry(k).or_default();
            if adds.iter().any(|&a| self.add_is_live(a)) {
                v.push(e);
            }
        }
        want
    }

    /// Live: the add (or put of a field) survives and no surviving remove, re-add or later
    /// put of the same element or field had seen it where it was issued.
    pub(super) fn add_is_live(&self, a: u32) -> bool {
        self.survives(&self.writes[a as usize])
            && !self
                .add_observed
                .range((a, 0)..=(a, u32::MAX))
                .any(|&(_, by)| self.survives(&self.writes[by as usize]))
    }

    /// Map tables with add-wins semantics: per (key, field), the puts a field should hold
    /// (live puts, oldest first); fields without any are absent from the map.
    pub fn live_puts(&self) -> std::collections::BTreeMap<(u32, u32), Vec<u32>> {
        self.set_adds
            .iter()
            .filter_map(|(&kf, adds)| {
                let live: Vec<u32> = adds
                    .iter()
                    .copied()
                    .filter(|&a| self.add_is_live(a))
                    .collect();
                (!live.is_empty()).then_some((kf, live))
            })
            .collect()
    }

    /// Whether write `by` had seen write `a` (of the same element or field) where it was
    /// issued.
    pub fn observed(&self, a: u32, by: u32) -> bool {
        self.add_observed.contains(&(a, by))
    }

    /// The add writes of element `e` of key `k` (set tables).
    pub fn adds_of(&self, k: u32, e: u32) -> Vec<u32> {
        self.set_adds.get(&(k, e)).cloned().unwrap_or_default()
    }

    /// The acknowledged writes of key `k` overwritten by a write that never saw them (the
    /// lost updates of one key, oldest first).
    pub fn lost_update_ops(&self, k: u32) -> Vec<u32> {
        let fin = self.final_stamp(k as usize);
        let mut ws: Vec<u32> = (0..self.writes.len() as u32)
            .filter(|&i| {
                let w = &self.writes[i as usize];
                w.key == k && !w.stamp.is_none()
            })
            .collect();
        let mut seen: Vec<Stamp> = ws.iter().map(|&i| self.writes[i as usize].seen).collect();
        seen.sort_unstable();
        ws.sort_by_key(|&i| self.writes[i as usize].stamp);
        ws.retain(|&i| {
            let w = &self.writes[i as usize];
            w.is_acked() && w.stamp < fin && seen.binary_search(&w.stamp).is_err()
        });
        ws
    }

    /// Whether write `i`'s effect is still somewhere at the end of the run (merging keys by
    /// dot; under last-writer-wins it survives as long as it was stamped).
    pub fn survives(&self, w: &WriteRec) -> bool {
        if w.stamp.is_none() {
            return false;
        }
        match &self.final_dots {
            Some(d) if self.merges(w.key as usize) => d.contains(&(w.key, w.stamp.tie)),
            _ => true,
        }
    }
}
