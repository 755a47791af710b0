//! The simulated network: per-link latency and jitter, loss, duplication, FIFO order, partitions
//! and degraded links. It decides when (or whether) a message arrives; it never looks inside.

use crate::dist::{unit_f64, Sampler};
use crate::replica::MsgClass;
use crate::replica::RegionId;
use crate::rng::{stream, Concern, SimRng};
use crate::scenario::{ClassLatency, NetworkModel};
use crate::time::{SimTime, Span};

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum DropReason {
    Partition,
    Loss,
    /// The destination was down when the message arrived.
    Crashed,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    Dropped(DropReason),
    Arrives {
        at: SimTime,
        duplicate_at: Option<SimTime>,
    },
}

/// One active degradation of a link (a fault with an id, so its end removes exactly it).
#[derive(Clone, Debug)]
struct Degradation {
    id: usize,
    latency: Option<Sampler>,
    add: u64,
    loss: Option<f64>,
}

pub struct Network {
    n: usize,
    latency: Vec<Sampler>,
    jitter: Sampler,
    loss: f64,
    duplicate: f64,
    fifo: bool,
    rngs: Vec<SimRng>,
    last_arrival: Vec<SimTime>,
    /// Bits per second per link (0: uncapped) and when each capped link finishes its queue.
    bandwidth: Vec<u64>,
    busy_until: Vec<SimTime>,
    /// Partition side per region; regions on different sides cannot exchange messages.
    side: Vec<u32>,
    degraded: Vec<Vec<Degradation>>,
    classes: [Option<ClassLatency>; 7],
}

impl Network {
    pub fn new(model: &NetworkModel, n: usize, seed: u64) -> Network {
        let latency = (0..n * n)
            .map(|i| {
                model.latency[i]
                    .as_ref()
                    .map(|l| l.sampler.clone())
                    .unwrap_or(Sampler::Constant(0))
            })
            .collect();
        let rngs = (0..n * n)
            .map(|i| {
                stream(
                    seed,
                    Concern::Network,
                    (((i / n) as u32) << 16) | (i % n) as u32,
                )
            })
            .collect();
        Network {
            n,
            latency,
            jitter: model.jitter.clone(),
            loss: model.loss,
            duplicate: model.duplicate,
            fifo: model.fifo,
            rngs,
            last_arrival: vec![SimTime::ZERO; n * n],
            bandwidth: model.bandwidth_bps.clone(),
            busy_until: vec![SimTime::ZERO; n * n],
            side: vec![0; n],
            degraded: vec![Vec::new(); n * n],
            classes: model.classes.clone(),
        }
    }

    pub fn connected(&self, a: RegionId, b: RegionId) -> bool {
        self.side[a.idx()] == self.side[b.idx()]
    }

    pub fn partitioned(&self) -> bool {
        self.side.iter().any(|s| *s != self.side[0])
    }

    pub fn any_degraded(&self) -> bool {
        self.degraded.iter().any(|d| !d.is_empty())
    }

    pub fn set_partition(&mut self, sides: &[u32]) {
        self.side.copy_from_slice(sides);
    }

    pub fn heal_partition(&mut self) {
        self.side.iter_mut().for_each(|s| *s = 0);
    }

    pub fn degrade(
        &mut self,
        id: usize,
        links: &[(RegionId, RegionId)],
        latency: Option<Sampler>,
        add: Span,
        loss: Option<f64>,
    ) {
        for (a, b) in links {
            self.degraded[a.idx() * self.n + b.idx()].push(Degradation {
                id,
                latency: latency.clone(),
                add: add.0,
                loss,
            });
        }
    }

    pub fn undegrade(&mut self, id: usize) {
        self.degraded
            .iter_mut()
            .for_each(|d| d.retain(|g| g.id != id));
    }

    /// The id of the degradation in force on `a -> b`, if any.
    pub fn degradation(&self, a: RegionId, b: RegionId) -> Option<usize> {
        self.degraded[a.idx() * self.n + b.idx()]
            .last()
            .map(|d| d.id)
    }

    pub fn heal_links(&mut self) {
        self.degraded.iter_mut().for_each(Vec::clear);
    }

    /// Decides the fate of one message sent now from `a` to `b`. Draws come from the link's own
    /// stream in a fixed order (loss, latency, jitter, duplication).
    #[inline]
    /// Decides the fate of a `bytes`-byte message from `a` to `b` sent at `now`.
    pub fn send(
        &mut self,
        now: SimTime,
        a: RegionId,
        b: RegionId,
        bytes: u64,
        class: MsgClass,
    ) -> SendOutcome {
        if !self.connected(a, b) {
            return SendOutcome::Dropped(DropReason::Partition);
        }
        let l = a.idx() * self.n + b.idx();
        let deg = self.degraded[l].last();
        let loss = deg.and_then(|d| d.loss).unwrap_or(self.loss);
        let rng = &mut self.rngs[l];
        if loss > 0.0 && unit_f64(rng) < loss {
            return SendOutcome::Dropped(DropReason::Loss);
        }
        // A degraded link's latency wins over a class override; the class's `add` still applies.
        let class = self.classes[class as usize].as_ref();
        let base = deg
            .and_then(|d| d.latency.as_ref())
            .or_else(|| class.and_then(|c| c.links[l].as_ref()))
            .unwrap_or(&self.latency[l]);
        let class_add = class.and_then(|c| c.add.as_ref());
        let add = deg.map_or(0, |d| d.add);
        let delay = |rng: &mut SimRng| {
            let j = if self.jitter.is_zero() {
                0
            } else {
                self.jitter.sample(rng)
            };
            let extra = class_add.map_or(0, |s| s.sample(rng));
            base.sample(rng) + j + add + extra
        };
        // A capped link serialises messages one after another: a message leaves once those
        // before it have, then takes bytes / bandwidth to put on the wire.
        let bps = self.bandwidth[l];
        let departs = if bps == 0 {
            now
        } else {
            let start = now.max(self.busy_until[l]);
            // Capped far above any run length, so an absurd size cannot overflow the clock.
            let tx = (bytes as u128 * 8 * 1_000_000_000)
                .div_ceil(bps as u128)
                .min(1 << 60) as u64;
            self.busy_until[l] = start + Span(tx);
            self.busy_until[l]
        };
        let now = departs;
        let d1 = delay(rng);
        let dup = if self.duplicate > 0.0 && unit_f64(rng) < self.duplicate {
            Some(delay(rng))
        } else {
            None
        };
        let mut at = now + Span(d1);
        if self.fifo {
            // Per-link order: never overtake an earlier message (ties keep send order via seq).
            at = at.max(self.last_arrival[l]);
            self.last_arrival[l] = at;
        }
        let duplicate_at = dup.map(|d| {
            let mut t = now + Span(d);
            if self.fifo {
                t = t.max(self.last_arrival[l]);
                self.last_arrival[l] = t;
            }
            t
        });
        SendOutcome::Arrives { at, duplicate_at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn net(extra: &str) -> Network {
        let text = format!(
            "name: t\nduration: 10s\nregions: [{{name: a}}, {{name: b}}, {{name: c}}]\nnetwork:\n  latency:\n    default: 50ms\n{extra}\nworkload: {{ keys: 1, rate_per_region: 1 }}\n"
        );
        let s = Scenario::parse(&text, "t.yaml").unwrap();
        Network::new(&s.network, 3, 1)
    }

    #[test]
    fn constant_latency_and_partitions() {
        let mut n = net("");
        let r = |i| RegionId(i);
        assert_eq!(
            n.send(SimTime(0), r(0), r(1), 100, MsgClass::Replication),
            SendOutcome::Arrives {
                at: SimTime(50_000_000),
                duplicate_at: None
            }
        );
        n.set_partition(&[0, 0, 1]);
        assert_eq!(
            n.send(SimTime(0), r(0), r(2), 100, MsgClass::Replication),
            SendOutcome::Dropped(DropReason::Partition)
        );
        assert!(matches!(
            n.send(SimTime(0), r(0), r(1), 100, MsgClass::Replication),
            SendOutcome::Arrives { .. }
        ));
        n.heal_partition();
        assert!(matches!(
            n.send(SimTime(0), r(0), r(2), 100, MsgClass::Replication),
            SendOutcome::Arrives { .. }
        ));
    }

    #[test]
    fn fifo_never_reorders_under_jitter() {
        let mut n = net("    jitter: { dist: exponential, mean: 20ms }");
        let mut last = SimTime::ZERO;
        for i in 0..10_000u64 {
            if let SendOutcome::Arrives { at, .. } = n.send(
                SimTime(i * 1_000_000),
                RegionId(0),
                RegionId(1),
                100,
                MsgClass::Replication,
            ) {
                assert!(at >= last);
                last = at;
            }
        }
    }

    #[test]
    fn loss_rate_is_respected() {
        let mut n = net("  loss: 0.1");
        let lost = (0..100_000)
            .filter(|_| {
                n.send(
                    SimTime(0),
                    RegionId(0),
                    RegionId(1),
                    100,
                    MsgClass::Replication,
                ) == SendOutcome::Dropped(DropReason::Loss)
            })
            .count();
        assert!((9_500..10_500).contains(&lost), "{lost}");
    }

    #[test]
    fn degradation_stacks_and_is_removed_by_id() {
        let mut n = net("");
        let link = [(RegionId(0), RegionId(1))];
        n.degrade(
            7,
            &link,
            Some(Sampler::Constant(400_000_000)),
            Span::ZERO,
            None,
        );
        let at = |n: &mut Network| match n.send(
            SimTime(0),
            RegionId(0),
            RegionId(1),
            100,
            MsgClass::Replication,
        ) {
            SendOutcome::Arrives { at, .. } => at.0,
            _ => panic!(),
        };
        assert_eq!(at(&mut n), 400_000_000);
        n.undegrade(7);
        let mut fresh = net("");
        assert_eq!(at(&mut fresh), 50_000_000);
    }

    #[test]
    fn capped_link_queues_messages_behind_each_other() {
        // 8 Mbps: a 1000-byte message takes exactly 1 ms on the wire.
        let mut n = net("  bandwidth: { default: 8 Mbps }");
        let at = |n: &mut Network, t: u64| match n.send(
            SimTime(t),
            RegionId(0),
            RegionId(1),
            1000,
            MsgClass::Replication,
        ) {
            SendOutcome::Arrives { at, .. } => at.0,
            _ => panic!(),
        };
        assert_eq!(at(&mut n, 0), 51_000_000);
        // Sent at the same instant: waits for the first to leave.
        assert_eq!(at(&mut n, 0), 52_000_000);
        // After the queue has drained, no wait.
        assert_eq!(at(&mut n, 10_000_000), 61_000_000);
        // Another link is unaffected.
        assert!(matches!(
            n.send(SimTime(0), RegionId(1), RegionId(0), 1000, MsgClass::Replication),
            SendOutcome::Arrives { at, .. } if at.0 == 51_000_000
        ));
    }
}
