//! The observer's side of the observation seam: building it for a scenario, and turning the
//! engine's events into updates of the live metrics.

use super::{Observer, ReadIssue};
use crate::engine::network::DropReason;
use crate::engine::Observe;
use crate::replica::{ClientOp, Key, Level, MsgClass, Note, OpId, RegionId, Replica, Reply};
use crate::scenario::Scenario;
use crate::time::SimTime;

impl Observer {
    /// The observer for a run of `sc`: sized for it, with its tables, sessions and checks.
    pub fn for_scenario(sc: &Scenario) -> Observer {
        let mut o = Observer::new(
            sc.n(),
            sc.workload.keys,
            sc.plan.holders.clone(),
            {
                // Poisson totals stay within a few percent of the mean; 10% headroom.
                let w = sc.workload.rates.iter().sum::<f64>()
                    * sc.duration.as_secs_f64()
                    * sc.workload.write_fraction;
                (w * 1.1).min(1e9) as usize
            },
            crate::series::bucket_for(sc.duration),
        );
        o.stall_after = sc.stall_after;
        o.set_tables(std::sync::Arc::clone(&sc.plan.tables));
        o.set_sessions(sc.workload.sessions);
        // Table workloads read at the default level.
        let levels = sc.workload.classes.iter().filter(|c| !c.0).map(|c| c.1);
        let tables = (!sc.workload.tables.is_empty()).then_some(Level::Default);
        o.lin = super::linearizable::Tracker::new(
            &sc.plan,
            levels.chain(tables),
            sc.workload.keys as usize,
        );
        o.set_real_time_order(sc.plan.stamps_without_holding());
        o
    }

    /// The merging tables' key ranges (sets, maps and siblings track writes by dot).
    fn merging_keys(&self) -> Vec<std::ops::Range<u64>> {
        match &self.tables {
            None => Vec::new(),
            Some(t) => {
                t.0.iter()
                    .filter(|t| t.policy.merges())
                    .map(|t| t.first..t.end)
                    .collect()
            }
        }
    }
}

impl Observe for Observer {
    #[inline]
    fn op_issued(&mut self, r: RegionId, op: &ClientOp, now: SimTime) {
        match *op {
            ClientOp::Write {
                op,
                key,
                level,
                kind,
                ..
            } => {
                self.on_issue(r, op, key, Some(kind), level, now);
            }
            ClientOp::Read { op, key, level } => {
                let session = self.on_issue(r, op, key, None, level, now);
                let mut issue: ReadIssue = self.read_issue(key, level, now);
                issue.session = session;
                self.reads_in_progress.insert(op, issue);
            }
        }
    }

    #[inline]
    fn op_answered(&mut self, r: RegionId, reply: Reply, now: SimTime) {
        let read = match reply {
            Reply::ReadOk { op, .. } if op.is_read() => self.reads_in_progress.remove(&op),
            _ => None,
        };
        self.on_reply(r, reply, read, now);
    }

    fn op_failed(&mut self, r: RegionId, op: OpId, now: SimTime) {
        if op.is_read() {
            match self.reads_in_progress.remove(&op) {
                Some(issue) => self.on_reply(r, Reply::Failed { op }, Some(issue), now),
                None => self.on_unavailable(r, op, Level::Default, now),
            }
        } else {
            let level = self.writes[op.0 as usize].level;
            self.on_unavailable(r, op, level, now);
        }
    }

    fn write_retried(&mut self, old: OpId, new: OpId) {
        self.on_retry_write(old, new);
    }

    fn read_retried(&mut self, _op: OpId) {
        self.read_retries += 1;
    }

    #[inline]
    fn sent(
        &mut self,
        from: RegionId,
        to: RegionId,
        bytes: u64,
        retransmission: bool,
        class: MsgClass,
    ) {
        self.on_send(from, to, bytes, retransmission, class);
    }

    #[inline]
    fn duplicated(&mut self, _from: RegionId, _to: RegionId) {
        self.msgs.duplicated += 1;
    }

    #[inline]
    fn delivered(&mut self, _from: RegionId, _to: RegionId) {
        self.msgs.delivered += 1;
    }

    #[inline]
    fn dropped(&mut self, _from: RegionId, _to: RegionId, reason: DropReason) {
        let m = &mut self.msgs;
        m.dropped += 1;
        match reason {
            DropReason::Partition => m.dropped_partition += 1,
            DropReason::Loss => m.dropped_loss += 1,
            DropReason::Crashed => m.dropped_crashed += 1,
        }
    }

    #[inline]
    fn note(&mut self, r: RegionId, note: Note, now: SimTime) {
        self.on_note(r, note, now);
    }

    fn replica_started<R: Replica>(&mut self, r: RegionId, replica: &R, now: SimTime) {
        self.resync(r, replica.cells().map(|(k, c)| (k, c.stamp)), now);
        for keys in self.merging_keys() {
            for k in keys {
                self.resync_dots(r, Key(k), &replica.dots_of(Key(k)));
            }
        }
    }

    fn region_down(&mut self, r: RegionId, _now: SimTime) {
        self.fo.set_alive(r, false);
    }

    fn region_up(&mut self, r: RegionId, _now: SimTime) {
        self.fo.set_alive(r, true);
    }

    fn restore_started(
        &mut self,
        r: RegionId,
        now: SimTime,
        taken: Option<SimTime>,
        until: SimTime,
    ) {
        self.fo.restore_started(r, now, taken, until);
    }

    fn clock_error(&mut self, r: RegionId, err_ns: i64, now: SimTime) {
        self.series.clock_error(r.idx(), err_ns, now);
    }

    fn run_ended<'a, R: Replica + 'a>(
        &mut self,
        live: impl Iterator<Item = &'a R> + Clone,
        _now: SimTime,
    ) {
        let merging = self.merging_keys();
        if merging.is_empty() {
            return;
        }
        let mut dots = std::collections::BTreeSet::new();
        for keys in merging {
            for k in keys {
                for rep in live.clone() {
                    dots.extend(rep.dots_of(Key(k)).into_iter().map(|d| (k as u32, d.0)));
                }
            }
        }
        self.set_final_dots(dots);
    }
}
