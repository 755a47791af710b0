//! Faults and disasters as the engine applies them: a fault's start and end effects, crashes,
//! recoveries, region loss and rebuilds from backups, and the quiesce that heals everything.

use super::{CrashMark, Engine, Event, FaultMark, HealMark, Input, Observe, Phase};
use crate::dist::DistSpec;
use crate::faults::FaultHost;
use crate::replica::Command;
use crate::replica::{ClientOp, RegionId, Replica};
use crate::time::Span;

impl<R: Replica, O: Observe> Engine<'_, R, O> {
    #[cold]
    #[inline(never)]
    pub(super) fn heal_mark(&mut self, label: String) {
        self.heals.push(HealMark {
            at: self.now,
            label,
        });
    }

    #[cold]
    #[inline(never)]
    pub(super) fn crash(&mut self, r: RegionId) {
        let node = &mut self.nodes[r.idx()];
        if node.replica.is_none() {
            return;
        }
        node.replica = None;
        // Whatever was written but not fsynced is gone, and so is every queued input; clients
        // waiting on one hear nothing (their operation fails).
        node.unsynced.clear();
        node.serve_gen = node.serve_gen.wrapping_add(1);
        let lost: Vec<_> = node.serving.drain(..).collect();
        self.queued_inputs -= lost.len() as u64;
        for (input, _) in lost {
            if let Input::Client(op) = input {
                let id = match op {
                    ClientOp::Write { op, .. } | ClientOp::Read { op, .. } => op,
                };
                let home = self.clients.take_reroute(id).unwrap_or(r);
                self.client_failed(home, id);
            }
        }
        let node = &mut self.nodes[r.idx()];
        node.timer_gen
            .iter_mut()
            .for_each(|g| *g = g.wrapping_add(1));
        self.obs.region_down(r, self.now);
        self.clients.region_down(r, self.now);
        self.crashes.push(CrashMark {
            region: r,
            at: self.now,
            recovered: None,
        });
    }

    #[cold]
    #[inline(never)]
    pub(super) fn recover(&mut self, r: RegionId, why: &str) {
        if self.nodes[r.idx()].replica.is_some() || self.rebuilding[r.idx()] {
            return;
        }
        if self.lost[r.idx()] {
            // New machines: download the newest complete backup, then come up from it.
            self.rebuilding[r.idx()] = true;
            let (taken, wait) = match (self.sc.backup, self.newest_backup(r)) {
                (Some(b), Some(i)) => {
                    let (taken, _, bytes, _) = &self.backups[r.idx()][i];
                    let lat = self.sc.workload.nominal[b.store.idx() * self.sc.n() + r.idx()];
                    (Some(*taken), b.transfer(*bytes, lat))
                }
                _ => (None, Span::ZERO),
            };
            self.obs
                .restore_started(r, self.now, taken, self.now + wait);
            self.heal_mark(format!("{why} {} (rebuild)", self.sc.region_name(r)));
            self.queue.push(self.now + wait, Event::Rebuild(r));
            return;
        }
        self.start_replica_after_crash(r, false);
        self.heal_mark(format!("{why} {}", self.sc.region_name(r)));
    }

    /// A down region comes back: its crash is closed and its replica started.
    #[cold]
    #[inline(never)]
    pub(super) fn start_replica_after_crash(&mut self, r: RegionId, rebuilt: bool) {
        if let Some(c) = self.crashes.iter_mut().rev().find(|c| c.region == r) {
            c.recovered = Some(self.now);
        }
        self.obs.region_up(r, self.now);
        self.clients.region_up(r);
        self.start_replica(r, rebuilt);
    }

    /// The newest backup of `r` that had reached the store by now.
    pub(super) fn newest_backup(&self, r: RegionId) -> Option<usize> {
        self.backups[r.idx()]
            .iter()
            .rposition(|(_, stored, _, _)| *stored <= self.now)
    }

    /// A lost region comes up on new machines from its backup image (or empty) and fetches
    /// the rest from its peers.
    #[cold]
    #[inline(never)]
    pub(super) fn rebuild(&mut self, r: RegionId) {
        self.rebuilding[r.idx()] = false;
        self.lost[r.idx()] = false;
        let image = match self.newest_backup(r) {
            Some(i) => self.backups[r.idx()][i].3.clone(),
            None => R::Durable::default(),
        };
        self.nodes[r.idx()].durable = image;
        self.start_replica_after_crash(r, true);
    }

    /// Fault `i` starts: it is recorded, its end scheduled, and its kind applies it.
    #[cold]
    #[inline(never)]
    pub(super) fn on_fault(&mut self, i: usize) {
        self.counts.faults += 1;
        self.trace.fault(self.now, i as u32);
        self.obs.fault_started(i, self.now);
        let sc = self.sc;
        let f = &sc.faults[i];
        self.faults.push(FaultMark {
            fault: i,
            at: f.at,
            until: f.until,
            label: f.label.clone(),
            class: f.class,
        });
        if let Some(until) = f.until {
            self.queue.push(until, Event::FaultEnd(i as u32));
        }
        f.action.start(self, i, &f.label);
    }

    /// Fault `i`'s `for` ran out: its kind undoes it (unless quiesce already healed everything).
    #[cold]
    #[inline(never)]
    pub(super) fn on_fault_end(&mut self, i: usize) {
        if self.phase != Phase::Running {
            return; // quiesce has already healed everything
        }
        self.trace.fault(self.now, i as u32 | 0x8000_0000);
        self.obs.fault_ended(i, self.now);
        let sc = self.sc;
        let f = &sc.faults[i];
        f.action.end(self, i, &f.what);
    }

    #[cold]
    #[inline(never)]
    pub(super) fn on_end_of_run(&mut self) {
        self.phase = Phase::Quiesce;
        if self.net.partitioned() || self.net.any_degraded() {
            self.net.heal_partition();
            self.net.heal_links();
            self.active_partition = None;
            self.heal_mark("quiesce: heal all".to_string());
        }
        for i in 0..self.nodes.len() {
            self.recover(RegionId(i as u16), "quiesce: recover");
        }
    }
}

/// What fault kinds do to the simulation (see `crate::faults`).
impl<R: Replica, O: Observe> FaultHost for Engine<'_, R, O> {
    fn partition(&mut self, fault: usize, groups: &[u32]) {
        self.net.set_partition(groups);
        self.active_partition = Some(fault as u32);
    }

    fn heal_partition(&mut self, fault: Option<usize>) -> bool {
        if fault.is_some_and(|i| self.active_partition != Some(i as u32)) {
            return false;
        }
        self.net.heal_partition();
        self.active_partition = None;
        true
    }

    fn heal_links(&mut self) {
        self.net.heal_links();
    }

    fn heal_mark(&mut self, label: String) {
        Engine::heal_mark(self, label);
    }

    fn crash(&mut self, fault: usize, region: RegionId) {
        // The crash's client failures are charged to the fault that caused it.
        if self.nodes[region.idx()].replica.is_some() {
            self.crash_fault[region.idx()] = Some(fault);
        }
        Engine::crash(self, region);
    }

    fn lose_disk(&mut self, r: RegionId) {
        // The disk goes with it, and any snapshot still uploading from it.
        self.nodes[r.idx()].durable = R::Durable::default();
        self.lost[r.idx()] = true;
        let now = self.now;
        self.backups[r.idx()].retain(|(_, stored, _, _)| *stored <= now);
    }

    fn recover(&mut self, region: RegionId) {
        Engine::recover(self, region, "recover");
    }

    fn step_clock(&mut self, region: RegionId, by_ns: i64) {
        self.nodes[region.idx()].clock.step(by_ns);
    }

    fn degrade(
        &mut self,
        fault: usize,
        links: &[(RegionId, RegionId)],
        latency: Option<&DistSpec>,
        add_latency: Span,
        loss: Option<f64>,
    ) {
        let sampler = latency.map(|d| d.compile().expect("validated"));
        self.net.degrade(fault, links, sampler, add_latency, loss);
    }

    fn undegrade(&mut self, fault: usize) {
        self.net.undegrade(fault);
    }

    fn command(&mut self, fault: usize, region: RegionId, command: Command) {
        // The control plane reaches a region that is up; a down one never hears it.
        if self.nodes[region.idx()].replica.is_some() {
            self.effects[fault] += 1;
            self.dispatch(region, |rep, now, out| rep.on_command(now, command, out));
        }
    }
}
