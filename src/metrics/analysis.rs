//! End-of-run analysis: lost acknowledged writes, lost updates, convergence after a heal.

use super::*;

impl Observer {
    /// The newest stamp any region holds for key `k` at the end of the run.
    pub(super) fn final_stamp(&self, k: usize) -> Stamp {
        self.mirror[k * self.n..(k + 1) * self.n]
            .iter()
            .copied()
            .max()
            .unwrap_or(Stamp::NONE)
    }

    /// The newest stamp any region holds for each key at the end of the run. A pass over every
    /// key and region (5 M stamps at 100 k keys x 50 regions), so a summary computes it once
    /// and hands it to the analyses that need it.
    pub fn final_stamps(&self) -> Vec<Stamp> {
        (0..self.keys).map(|k| self.final_stamp(k)).collect()
    }

    /// Acknowledged writes whose effect survives nowhere: the key's final value is older (or,
    /// for a merging key, no region reflects the write).
    pub fn lost_acked(&self) -> Vec<u32> {
        self.lost_acked_given(&self.final_stamps())
    }

    /// `lost_acked` with the final stamps already computed.
    pub fn lost_acked_given(&self, fin: &[Stamp]) -> Vec<u32> {
        self.writes
            .iter()
            .enumerate()
            .filter(|(_, w)| {
                w.is_acked()
                    && if self.merges(w.key as usize) {
                        !self.survives(w)
                    } else {
                        fin[w.key as usize] < w.stamp
                    }
            })
            .map(|(i, _)| i as u32)
            .collect()
    }

    /// Lost updates under last-writer-wins (see `LostUpdates`).
    pub fn lost_updates(&self, names: &[String]) -> LostUpdates {
        self.lost_updates_given(names, &self.final_stamps())
    }

    /// `lost_updates` with the final stamps already computed.
    pub fn lost_updates_given(&self, names: &[String], fin: &[Stamp]) -> LostUpdates {
        // Judged per key, newest stamp first. An LWW-Map resolves each field on its own, so its
        // writes are judged per field: a register of its own, whose final stamp is the newest
        // surviving write of it.
        let field = |w: &WriteRec| -> Option<u32> {
            (self.tables.is_some() && self.policy(w.key as usize).stamps_fields())
                .then(|| w.kind().member().map_or(0, |m| m.0))
        };
        // Bucketed by key first (a counting sort), then each key's few writes sorted: one sort
        // of every write took more time than the rest of the analysis.
        let judged = |w: &WriteRec| {
            !w.stamp.is_none() && (!self.merges(w.key as usize) || field(w).is_some())
        };
        let (start, by_key) = self.bucket_by_key(judged);
        let mut out = LostUpdates::default();
        let mut scratch: Vec<(u32, std::cmp::Reverse<Stamp>, u32)> = Vec::new();
        let mut order: Vec<u32> = Vec::new();
        let mut seen: Vec<Stamp> = Vec::new();
        for k in 0..self.keys {
            let bucket = &by_key[start[k] as usize..start[k + 1] as usize];
            scratch.clear();
            scratch.extend(bucket.iter().map(|&j| {
                let w = &self.writes[j as usize];
                (field(w).unwrap_or(0), std::cmp::Reverse(w.stamp), j)
            }));
            scratch.sort_unstable();
            order.clear();
            order.extend(scratch.iter().map(|t| t.2));
            let mut i = 0;
            while i < order.len() {
                let first = &self.writes[order[i] as usize];
                let (key, member) = (first.key, field(first));
                // One key's writes, sorted by field first: a group ends where the field changes.
                let group_end = i + scratch[i..]
                    .iter()
                    .position(|t| t.0 != scratch[i].0)
                    .unwrap_or(order.len() - i);
                let final_stamp = match member {
                    None => fin[key as usize],
                    Some(_) => order[i..group_end]
                        .iter()
                        .map(|&j| &self.writes[j as usize])
                        .find(|w| self.survives(w))
                        .map_or(Stamp::NONE, |w| w.stamp),
                };
                // The values some write of this key replaced knowingly (its region held them when
                // it was stamped): those were overwritten by a write that knew about them.
                seen.clear();
                seen.extend(
                    order[i..group_end]
                        .iter()
                        .map(|&j| self.writes[j as usize].seen),
                );
                seen.sort_unstable();
                let mut newest_above: Option<u32> = None;
                // Over the writes stamped above the current one: the latest any began and the
                // earliest any was acknowledged (for the real-time judgement).
                let (mut latest_issue_above, mut first_ack_above) = (None, SimTime::MAX);
                // First-writer-wins orders by the negated clock: the earliest write wins by design.
                let fww = self.policy(key as usize).wins_earliest();
                let real_time = self.real_time_order && !fww;
                while i < group_end {
                    let w = &self.writes[order[i] as usize];
                    let superseded = w.stamp < final_stamp;
                    // A write that began after this one was acknowledged followed it in real
                    // time: replacing it is what a sequential history does.
                    let followed = real_time && latest_issue_above.is_some_and(|t| t > w.acked);
                    if w.is_acked()
                        && superseded
                        && !followed
                        && seen.binary_search(&w.stamp).is_err()
                    {
                        out.total += 1;
                        out.lost_at.push((w.origin.idx(), w.acked));
                        if fww && w.seen > w.stamp {
                            // It saw the value that beat it: first-writer-wins refuses later
                            // writes by design.
                            out.rejected += 1;
                            newest_above = Some(order[i]);
                            i += 1;
                            continue;
                        }
                        let skew = if fww {
                            // The earlier write in real time lost because its clock read later.
                            newest_above.is_some_and(|j| self.writes[j as usize].issued > w.acked)
                        } else {
                            // Or, judged in real time, it began after a newer-stamped write
                            // was acknowledged: later, yet stamped lower by its clock.
                            w.seen > w.stamp || (real_time && first_ack_above < w.issued)
                        };
                        let skew_ms = skew.then(|| {
                            let ahead = match (fww, newest_above) {
                                // Negated clocks: how far its clock read ahead of the winner's.
                                (true, Some(j)) => {
                                    self.writes[j as usize].stamp.wall.0 - w.stamp.wall.0
                                }
                                _ if w.seen > w.stamp => {
                                    w.seen.wall.0.saturating_sub(w.stamp.wall.0)
                                }
                                // At least as far as the write stamped just above it.
                                _ => newest_above.map_or(0, |j| {
                                    self.writes[j as usize]
                                        .stamp
                                        .wall
                                        .0
                                        .saturating_sub(w.stamp.wall.0)
                                }),
                            };
                            ns_to_ms(ahead.max(0) as u64)
                        });
                        if skew {
                            out.skew += 1;
                            out.max_skew_ms = out.max_skew_ms.max(skew_ms.unwrap_or(0.0));
                        } else {
                            out.concurrent += 1;
                        }
                        if out.examples.len() < 5 {
                            let winner = newest_above.map(|j| &self.writes[j as usize]);
                            out.examples.push(LostUpdateExample {
                                key: key as u64,
                                lost_op: order[i] as u64,
                                lost_region: names[w.origin.idx()].clone(),
                                lost_acked_ms: ns_to_ms(w.acked.0),
                                skew_ms,
                                winner_op: newest_above.map(|j| j as u64),
                                winner_region: winner.map(|x| names[x.origin.idx()].clone()),
                            });
                        }
                    }
                    newest_above = Some(order[i]);
                    latest_issue_above = latest_issue_above.max(Some(w.issued));
                    first_ack_above = first_ack_above.min(w.acked);
                    i += 1;
                }
            }
        }
        out
    }

    /// The writes `judged` accepts, bucketed by key (a counting sort): key `k`'s are
    /// `by_key[start[k]..start[k + 1]]`, in write order.
    fn bucket_by_key(&self, judged: impl Fn(&WriteRec) -> bool) -> (Vec<u32>, Vec<u32>) {
        let mut start = vec![0u32; self.keys + 1];
        for w in self.writes.iter().filter(|w| judged(w)) {
            start[w.key as usize + 1] += 1;
        }
        for k in 0..self.keys {
            start[k + 1] += start[k];
        }
        let mut fill = start.clone();
        // Only write indices are bucketed (4 bytes a write). Each key's few writes are copied
        // out with their sort keys into a scratch buffer and sorted there (an indirect sort
        // through the write log would miss the cache on every comparison), so the analysis adds
        // little to a run's peak memory. A key's writes are all judged per field (an LWW-Map) or
        // none are, so within a key the field alone orders them.
        let mut by_key = vec![0u32; start[self.keys] as usize];
        for (i, w) in self.writes.iter().enumerate().filter(|(_, w)| judged(w)) {
            let at = &mut fill[w.key as usize];
            by_key[*at as usize] = i as u32;
            *at += 1;
        }
        (start, by_key)
    }

    /// Per heal at `h`: how long until every (surviving) write acknowledged before `h` was
    /// visible everywhere. None if some never became visible.
    pub fn converged_after(&self, h: SimTime, lost: &[u32]) -> Option<Span> {
        let mut worst = SimTime::ZERO;
        let mut li = 0;
        for (i, w) in self.writes.iter().enumerate() {
            while li < lost.len() && (lost[li] as usize) < i {
                li += 1;
            }
            if li < lost.len() && lost[li] as usize == i {
                continue;
            }
            if w.is_acked() && w.acked <= h {
                if w.visible == SimTime::MAX {
                    return None;
                }
                worst = worst.max(w.visible);
            }
        }
        Some(worst.saturating_since(h))
    }

    /// Visibility over all origins (merged once, rather than recorded twice per write).
    pub fn visibility(&self) -> LatencyStats {
        let mut all = LatencyStats::default();
        for v in &self.visibility_by_origin {
            all.merge(v);
        }
        all
    }

    /// Acknowledged writes never visible in every region by the end of the run.
    pub fn incomplete_visibility(&self) -> u64 {
        self.writes
            .iter()
            .filter(|w| w.is_acked() && w.visible == SimTime::MAX)
            .count() as u64
    }
}
