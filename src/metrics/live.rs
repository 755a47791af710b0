//! Live mirroring: the observer follows each region's per-key stamp from the replicas' notes
//! and the clients' operations, recording visibility, lag, stalls, latency and staleness as the
//! run goes.

use super::*;

impl Observer {
    /// A message left `from` for `to`.
    #[inline]
    pub fn on_send(
        &mut self,
        from: RegionId,
        to: RegionId,
        bytes: u64,
        retransmission: bool,
        class: MsgClass,
    ) {
        self.class_msgs[class as usize] += 1;
        self.class_bytes[class as usize] += bytes;
        let m = &mut self.msgs;
        m.sent += 1;
        m.bytes += bytes;
        if retransmission {
            m.retransmitted += 1;
        }
        let l = from.idx() * self.n + to.idx();
        self.link_msgs[l] += 1;
        self.link_bytes[l] += bytes;
    }

    pub(super) fn stall(&mut self, r: RegionId, from: SimTime, to: SimTime) {
        let v = &mut self.stalls[r.idx()];
        v.push((from, to));
        if v.len() >= 4096 {
            *v = merge_intervals(std::mem::take(v));
        }
    }

    /// Per region: (total time stalled, longest stall, intervals), merged.
    pub fn stalls(&self) -> Vec<Vec<(SimTime, SimTime)>> {
        self.stalls
            .iter()
            .map(|v| merge_intervals(v.clone()))
            .collect()
    }

    /// A client issued an operation at region `r` (before the replica sees it).
    /// `kind` is None for a read. Returns the operation's client session.
    pub fn on_issue(
        &mut self,
        r: RegionId,
        op: OpId,
        key: Key,
        kind: Option<WriteKind>,
        level: Level,
        now: SimTime,
    ) -> u32 {
        let ss = &mut self.sessions;
        let session = if ss.per_region == 0 {
            NO_SESSION
        } else {
            let i = ss.ops[r.idx()];
            ss.ops[r.idx()] += 1;
            r.0 as u32 * ss.per_region + (i % ss.per_region as u64) as u32
        };
        let Some(kind) = kind else {
            return session;
        };
        debug_assert_eq!(op.0, self.writes.len() as u64);
        self.writes_issued += 1;
        if session != NO_SESSION {
            ss.links.push(SessionLink {
                session,
                prev_write: ss.last_write.get(&session).copied().unwrap_or(NO_SESSION),
                after_read: ss.last_read.get(&session).copied(),
            });
        }
        self.writes
            .push(WriteRec::issued(key.0 as u32, r, level, kind, now));
        session
    }

    /// A client retries write `old` as the new write `new` (a retried write is a new write:
    /// the failed try may still be applied somewhere). The retry keeps the first try's issue
    /// time, so its latency includes the failed tries and the backoff, and it is not counted
    /// as issued again.
    pub fn on_retry_write(&mut self, old: OpId, new: OpId) {
        debug_assert_eq!(new.0, self.writes.len() as u64);
        self.writes[old.0 as usize].retried = true;
        let o = &self.writes[old.0 as usize];
        let rec = WriteRec::issued(o.key, o.client, o.level, o.kind(), o.issued);
        self.writes.push(rec);
        if let Some(&link) = self.sessions.links.get(old.0 as usize) {
            self.sessions.links.push(link);
        }
        self.write_retries += 1;
    }

    #[inline]
    pub(super) fn cover(&mut self, w: u32, r: RegionId, now: SimTime) -> bool {
        let rec = &mut self.writes[w as usize];
        let bit = 1u64 << r.0;
        if rec.covered & bit != 0 {
            return false;
        }
        rec.covered |= bit;
        let (acked, origin, key) = (rec.acked, rec.origin, rec.key);
        if r != origin && rec.is_acked() {
            let lag = now.saturating_since(acked).0;
            self.lag[origin.idx() * self.n + r.idx()].record(lag);
            self.series.lag(r.idx(), lag, now);
            self.series.backlog_sub(r.idx(), now);
            if lag > self.stall_after.0 {
                self.stall(r, acked + self.stall_after, now);
            }
        }
        let mask = self.holders(key as usize);
        let rec = &mut self.writes[w as usize];
        if rec.covered & mask == mask {
            rec.visible = now;
            if rec.is_acked() {
                let v = now.saturating_since(rec.acked).0;
                self.visibility_by_origin[rec.origin.idx()].record(v);
            }
            return true;
        }
        false
    }

    pub fn on_note(&mut self, r: RegionId, note: Note, now: SimTime) {
        match note {
            Note::WriteStamped {
                op,
                key,
                stamp,
                seen,
            } => {
                let k = key.0 as usize;
                self.fo.stamped(r, op, stamp, now);
                let rec = &mut self.writes[op.0 as usize];
                rec.stamp = stamp;
                rec.seen = seen;
                rec.origin = r;
                let kind = rec.kind();
                if let (Some(t), Some((e, adds_it))) = (&self.tables, kind.member()) {
                    if t.of(key).policy.add_wins() {
                        // What this write's region held of the element: a remove takes those
                        // adds away; a re-add replaces them.
                        let bit = 1u64 << r.0;
                        let adds = self.set_adds.entry((k as u32, e)).or_default();
                        for &a in adds.iter() {
                            if self.writes[a as usize].covered & bit != 0 {
                                self.add_observed.insert((a, op.0 as u32));
                            }
                        }
                        if adds_it {
                            adds.push(op.0 as u32);
                            self.add_by_dot.insert((k as u32, stamp.tie), op.0 as u32);
                        }
                    }
                }
                // Regions that already hold a newer value cover this write from the start
                // (under last-writer-wins; a merging key covers each write when it merges it).
                if !self.merges(k) {
                    for q in 0..self.n {
                        if self.mirror[k * self.n + q] >= stamp {
                            self.cover(op.0 as u32, RegionId(q as u16), now);
                        }
                    }
                }
                let mask = self.holders(k);
                if self.writes[op.0 as usize].covered & mask != mask {
                    self.pending[k].push((stamp, op.0 as u32));
                }
            }
            Note::Applied { key, old, new } => {
                let k = key.0 as usize;
                self.mirror[k * self.n + r.idx()] = new;
                let mut i = 0;
                while i < self.pending[k].len() {
                    let (s, w) = self.pending[k][i];
                    if s == new && self.sessions.tracked() {
                        // This region applies the write itself (the others in the range it
                        // only supersedes): it must hold what the session did before.
                        self.session_order(w, r, now);
                    }
                    if s > old && s <= new && self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Note::Merged { key, dot, siblings } => {
                let k = key.0 as usize;
                if siblings > 1 {
                    self.conflicts.sibling_merges += 1;
                }
                self.series.merged(r.idx(), siblings, now);
                self.conflicts.max_siblings = self.conflicts.max_siblings.max(siblings);
                if let Some(i) = self.pending[k].iter().position(|(s, _)| s.tie == dot.0) {
                    let (s, w) = self.pending[k][i];
                    if self.sessions.tracked() {
                        self.session_order(w, r, now);
                    }
                    let m = &mut self.mirror[k * self.n + r.idx()];
                    *m = (*m).max(s);
                    if self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    }
                } else if let Some(&w) = self.add_by_dot.get(&(k as u32, dot.0)) {
                    // Visible everywhere already, then lost here and merged back.
                    self.writes[w as usize].covered |= 1u64 << r.0;
                }
            }
            other => self.on_rare_note(r, other, now),
        }
    }

    /// Notes that arrive a few times per run (faults, failover, anti-entropy, operator
    /// queues): kept out of line so the per-write path above stays small in the i-cache.
    #[cold]
    #[inline(never)]
    pub(super) fn on_rare_note(&mut self, r: RegionId, note: Note, now: SimTime) {
        match note {
            Note::Parked { depth, .. } => {
                self.conflicts.parked += 1;
                self.conflicts.max_queue = self.conflicts.max_queue.max(depth);
                self.series.parked(r.idx(), depth as u64, now);
            }
            Note::Unparked {
                waited,
                by_operator,
                depth,
                ..
            } => {
                if by_operator {
                    self.conflicts.resolved_by_operator += 1;
                } else {
                    self.conflicts.resolved_by_clients += 1;
                }
                self.conflicts.wait_ns_sum += waited.0;
                self.conflicts.wait_ns_max = self.conflicts.wait_ns_max.max(waited.0);
                self.series.parked(r.idx(), depth as u64, now);
            }
            Note::GapFetch { .. } => self.conflicts.gap_fetches += 1,
            Note::CorruptEntry => self.msgs.corrupt_entries += 1,
            Note::Abandoned { entries } => self.msgs.abandoned_entries += entries as u64,
            Note::AeStarted { full_state_bytes } => {
                self.ae.sessions += 1;
                self.ae.full_state_bytes += full_state_bytes;
            }
            Note::AeFinished {
                rounds,
                in_sync,
                took,
            } => {
                if !in_sync {
                    self.ae
                        .repairing
                        .push((SimTime(now.0.saturating_sub(took.0)), now));
                }
                self.ae.finished += 1;
                self.ae.in_sync += in_sync as u64;
                self.ae.rounds_sum += rounds as u64;
                self.ae.rounds_max = self.ae.rounds_max.max(rounds as u64);
            }
            Note::AeRepaired { keys } => self.ae.keys_repaired += keys as u64,
            Note::Suspect { peer } => self.fo.suspect(r, peer, now),
            Note::Trusted { .. } => {}
            Note::Restored { keys, bytes } => self.fo.restored(r, keys, bytes, now),
            Note::PromoteRequested { planned } => self
                .fo
                .note(crate::failures::FoKind::Promote { region: r, planned }, now),
            Note::HandingOver { to } => self
                .fo
                .note(crate::failures::FoKind::HandingOver { from: r, to }, now),
            Note::ElectionStarted { term } => self.fo.election(r, term, now),
            Note::BecameLeader { term, prev } => self.fo.became_leader(r, term, prev, now),
            Note::SteppedDown { term, deposed } => self.fo.stepped_down(r, term, deposed, now),
            Note::Fenced { op } => self.fo.fenced.push(op),
            Note::ChainChanged {
                members,
                joining,
                tail,
                reads,
            } => self.fo.note(
                crate::failures::FoKind::ChainChanged {
                    head: r,
                    members,
                    joining,
                    tail,
                    reads,
                },
                now,
            ),
            Note::Rewound { key, old: _, new } => {
                self.fo.rewound_keys += 1;
                let k = key.0 as usize;
                self.mirror[k * self.n + r.idx()] = new;
                // Writes this region covered only through the discarded value are pending
                // here again. Those the installed value is at least as new as are covered now:
                // the region holds them or what replaced them (installed, not applied, so no
                // `Applied` note will say so; left pending they were never visible everywhere
                // and the heal "never converged" although every region ended equal).
                let bit = 1u64 << r.0;
                let mut i = 0;
                while i < self.pending[k].len() {
                    let (s, w) = self.pending[k][i];
                    if s > new {
                        self.writes[w as usize].covered &= !bit;
                        i += 1;
                    } else if !self.fo.discarded(s) && self.cover(w, r, now) {
                        self.pending[k].swap_remove(i);
                    } else {
                        i += 1;
                    }
                }
            }
            Note::WriteStamped { .. } | Note::Applied { .. } | Note::Merged { .. } => {
                unreachable!("handled by on_note")
            }
        }
    }

    /// A reply reached a client at `r`; `read` describes the read it answers.
    pub fn on_reply(&mut self, r: RegionId, reply: Reply, read: Option<ReadIssue>, now: SimTime) {
        match reply {
            Reply::WriteOk { op, stamp } => {
                self.writes_acked += 1;
                self.series.op(r.idx(), true, now);
                let rec = &self.writes[op.0 as usize];
                let k = rec.key as usize;
                if self.sessions.tracked() {
                    let s = self.sessions.links[op.0 as usize].session;
                    self.sessions.wrote.insert((s, k as u32), op.0 as u32);
                    self.sessions.last_write.insert(s, op.0 as u32);
                }
                self.levels[rec.level.index()]
                    .write_latency
                    .record(now.saturating_since(rec.issued).0);
                if stamp > self.latest_acked[k] {
                    self.latest_acked[k] = stamp;
                    self.latest_acked_at[k] = now;
                    self.latest_acked_writer[k] = r.0;
                    debug_assert_eq!(self.writes[op.0 as usize].stamp, stamp);
                    self.versions[k].push(op.0 as u32);
                }
                let mask = self.holders(k);
                let rec = &mut self.writes[op.0 as usize];
                rec.acked = now;
                // Coverage that happened before the ack counts as zero lag; the rest is backlog.
                let (origin, covered) = (rec.origin, rec.covered);
                for q in 0..self.n {
                    if q == origin.idx() || mask & (1 << q) == 0 {
                        continue;
                    }
                    if covered & (1 << q) != 0 {
                        self.lag[origin.idx() * self.n + q].record(0);
                    } else {
                        self.series.backlog_add(q, now);
                    }
                }
                if covered & mask == mask {
                    self.visibility_by_origin[origin.idx()].record(0);
                }
            }
            Reply::ReadOk { cell, by, .. } => {
                self.reads_total += 1;
                self.series.op(r.idx(), true, now);
                let Some(ri) = read else { return };
                let k = ri.key.0 as usize;
                if let (Some(t), Some(bound)) = (self.lin.as_mut(), ri.lin) {
                    let acked = match bound.write {
                        u32::MAX => Stamp::NONE,
                        w => self.writes[w as usize].stamp,
                    };
                    let s = super::linearizable::Suspect {
                        key: k as u32,
                        region: r,
                        by,
                        issued: ri.issued,
                        done: now,
                        got: cell.map_or(Stamp::NONE, |c| c.stamp),
                        got_write: cell.map_or(u32::MAX, |c| c.value.0 as u32),
                        bound,
                        prior: (SimTime(0), r),
                    };
                    t.completed(s, acked);
                }
                let lv = &mut self.levels[ri.level.index()];
                lv.read_latency.record(now.saturating_since(ri.issued).0);
                let got = cell.map_or(Stamp::NONE, |c| c.stamp);
                if ri.session != NO_SESSION {
                    self.session_read(r, ri, got, now);
                }
                // Stale: older than a write acknowledged before the read began. (A write acked
                // while the read was in flight is concurrent with it; either answer is fresh.)
                let latest = ri.baseline;
                let behind = if self.tables.is_some() && self.policy(k).merges() {
                    // A merged value is stale if it lacks any write acknowledged before the
                    // read began (its newest stamp alone cannot tell).
                    let bit = 1u64 << r.0;
                    self.pending[k]
                        .iter()
                        .filter(|&&(_, w)| {
                            let rec = &self.writes[w as usize];
                            rec.acked <= ri.issued && rec.covered & bit == 0
                        })
                        .count() as u64
                } else if got < latest {
                    // Versions behind: acknowledged latest values newer than what was read.
                    let (v, log) = (&self.versions[k], &self.writes);
                    let upto = |s: Stamp| v.partition_point(|&w| log[w as usize].stamp <= s);
                    (upto(latest) - upto(got)) as u64
                } else {
                    0
                };
                let lv = &mut self.levels[ri.level.index()];
                if behind > 0 {
                    self.reads_stale += 1;
                    lv.reads_stale += 1;
                    lv.k_stale_sum += behind;
                    lv.k_stale_max = lv.k_stale_max.max(behind);
                }
                if !latest.is_none() {
                    let age = ri.issued.saturating_since(ri.baseline_acked).0;
                    self.staleness.record(age, behind == 0);
                    self.staleness_pairs[ri.writer.idx() * self.n + r.idx()]
                        .record(age, behind == 0);
                }
            }
            Reply::Failed { op } => {
                self.series.op(r.idx(), false, now);
                if op.is_read() {
                    self.reads_failed += 1;
                    let level = read.map_or(Level::Default, |x| x.level);
                    self.levels[level.index()].reads_failed += 1;
                } else {
                    self.writes_failed += 1;
                    let level = self.writes[op.0 as usize].level;
                    self.levels[level.index()].writes_failed += 1;
                }
            }
        }
    }

    /// A client op that reached a region that is down.
    pub fn on_unavailable(&mut self, r: RegionId, op: OpId, level: Level, now: SimTime) {
        let read = op.is_read().then(|| self.read_issue(Key(0), level, now));
        self.on_reply(r, Reply::Failed { op }, read, now);
    }

    /// After a restart, replace region `r`'s mirror with what it actually holds now; writes it
    /// covered before but lost in the crash are uncovered again.
    pub fn resync(&mut self, r: RegionId, cells: impl Iterator<Item = (Key, Stamp)>, now: SimTime) {
        for k in 0..self.keys {
            self.mirror[k * self.n + r.idx()] = Stamp::NONE;
        }
        for (k, s) in cells {
            self.mirror[k.0 as usize * self.n + r.idx()] = s;
        }
        let bit = 1u64 << r.0;
        for k in 0..self.keys {
            for &(_, w) in &self.pending[k] {
                let rec = &mut self.writes[w as usize];
                if rec.covered & bit != 0 && self.mirror[k * self.n + r.idx()] < rec.stamp {
                    rec.covered &= !bit;
                    if rec.is_acked() && rec.origin != r {
                        self.series.backlog_add(r.idx(), now);
                    }
                }
            }
        }
    }
}
