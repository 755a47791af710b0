//! The client workload: Poisson arrivals per region, key choice (uniform or Zipf), read/write mix.
//! Each region draws from its own stream, so changing one region's rate leaves the others' alone.

use crate::dist::unit_f64;
use crate::replica::data::WriteKind;
use crate::replica::{ClientOp, Key, Level, OpId, RegionId};
use crate::rng::{stream, Concern, SimRng};
use crate::scenario::{KeyDistribution, TableLoad, TableOp, Workload as Spec};
use crate::time::{SimTime, Span};
use rand::Rng;
use rand_distr::{Distribution, Exp, Zipf};

pub struct Workload {
    keys: u64,
    zipf: Option<Zipf<f64>>,
    /// Cumulative weights of the operation classes: (upper bound, is_write, level).
    classes: Vec<(f64, bool, Level)>,
    value_bytes: u32,
    gaps: Vec<Option<Exp<f64>>>,
    rngs: Vec<SimRng>,
    next_write: u64,
    next_read: u64,
    /// Named tables (empty: one key space drawn with `zipf` and `classes`).
    tables: Vec<(TableLoad, Option<Zipf<f64>>)>,
}

/// A uniform draw from `0..n` (one 64-bit draw, no modulo bias worth the name).
fn below(rng: &mut SimRng, n: u64) -> u64 {
    ((rng.next_u64() as u128 * n as u128) >> 64) as u64
}

fn zipf(keys: u64, kd: KeyDistribution) -> Option<Zipf<f64>> {
    match kd {
        KeyDistribution::Uniform => None,
        KeyDistribution::Zipf(s) => Some(Zipf::new(keys as f64, s).expect("validated exponent")),
    }
}

/// A key among `keys`: uniform, or Zipf ranks (1-based; rank 1, the hottest, is key 0).
fn draw_key(rng: &mut SimRng, keys: u64, z: &Option<Zipf<f64>>) -> u64 {
    match z {
        None => below(rng, keys),
        Some(z) => (z.sample(rng) as u64).clamp(1, keys) - 1,
    }
}

impl Workload {
    pub fn new(spec: &Spec, seed: u64) -> Workload {
        let n = spec.rates.len();
        Workload {
            keys: spec.keys,
            zipf: zipf(spec.keys, spec.key_distribution),
            tables: spec
                .tables
                .iter()
                .map(|t| (t.clone(), zipf(t.keys, spec.key_distribution)))
                .collect(),
            classes: {
                let mut acc = 0.0;
                let mut v: Vec<(f64, bool, Level)> = spec
                    .classes
                    .iter()
                    .map(|&(w, l, x)| {
                        acc += x;
                        (acc, w, l)
                    })
                    .collect();
                if let Some(last) = v.last_mut() {
                    last.0 = f64::INFINITY; // rounding must never leave a gap at the top
                }
                v
            },
            value_bytes: spec.value_bytes,
            // Inter-arrival gaps in nanoseconds.
            gaps: spec
                .rates
                .iter()
                .map(|&r| (r > 0.0).then(|| Exp::new(r / 1e9).expect("validated rate")))
                .collect(),
            rngs: (0..n)
                .map(|r| stream(seed, Concern::Workload, r as u32))
                .collect(),
            next_write: 0,
            next_read: 0,
        }
    }

    /// When region `r`'s next client operation arrives, or None if it has no clients.
    pub fn next_arrival(&mut self, r: RegionId, now: SimTime) -> Option<SimTime> {
        let gap = self.gaps[r.idx()].as_ref()?;
        let ns = gap.sample(&mut self.rngs[r.idx()]);
        // At least 1ns apart so a region's arrivals are strictly ordered.
        Some(now + Span((ns.round() as u64).max(1)))
    }

    /// Draws the next operation of region `r`'s clients.
    pub fn next_op(&mut self, r: RegionId) -> ClientOp {
        if !self.tables.is_empty() {
            return self.next_table_op(r);
        }
        let rng = &mut self.rngs[r.idx()];
        let key = draw_key(rng, self.keys, &self.zipf);
        // One class needs no draw; otherwise one uniform draw picks it (writes first, so a plain
        // write/read mix draws exactly as `u < write_fraction`).
        let (is_write, level) = if self.classes.len() == 1 {
            (self.classes[0].1, self.classes[0].2)
        } else {
            let u = unit_f64(rng);
            let c = self
                .classes
                .iter()
                .find(|c| u < c.0)
                .expect("the last bound is infinite");
            (c.1, c.2)
        };
        if is_write {
            let op = self.new_write_id();
            ClientOp::Write {
                op,
                key: Key(key),
                value_bytes: self.value_bytes,
                level,
                kind: WriteKind::Put,
            }
        } else {
            let op = OpId(OpId::READ_BIT | self.next_read);
            self.next_read += 1;
            ClientOp::Read {
                op,
                key: Key(key),
                level,
            }
        }
    }
}

impl Workload {
    /// With tables: pick a table by share, a key in it, then one of its operations (each
    /// choice among several costs one draw; a single option costs none).
    fn next_table_op(&mut self, r: RegionId) -> ClientOp {
        let rng = &mut self.rngs[r.idx()];
        let t = if self.tables.len() == 1 {
            0
        } else {
            let u = unit_f64(rng);
            self.tables
                .iter()
                .position(|t| u < t.0.share_upto)
                .expect("the last bound is infinite")
        };
        let (load, z) = &self.tables[t];
        let key = Key(load.first + draw_key(rng, load.keys, z));
        let op = if load.ops.len() == 1 {
            load.ops[0].1
        } else {
            let u = unit_f64(rng);
            load.ops
                .iter()
                .find(|o| u < o.0)
                .expect("the last bound is infinite")
                .1
        };
        let amount = load.amount as i64;
        let kind = match op {
            TableOp::Get => {
                let op = OpId(OpId::READ_BIT | self.next_read);
                self.next_read += 1;
                return ClientOp::Read {
                    op,
                    key,
                    level: Level::Default,
                };
            }
            // A map's put and remove draw the field they act on (other tables draw nothing).
            TableOp::Put if load.fields > 0 => {
                WriteKind::PutField(below(rng, load.fields as u64) as u32)
            }
            TableOp::Remove if load.fields > 0 => {
                WriteKind::RemoveField(below(rng, load.fields as u64) as u32)
            }
            TableOp::Put => WriteKind::Put,
            TableOp::Incr => WriteKind::Incr(amount),
            TableOp::Decr => WriteKind::Incr(-amount),
            TableOp::Add => WriteKind::Insert(below(rng, load.elements as u64) as u32),
            TableOp::Remove => WriteKind::Remove(below(rng, load.elements as u64) as u32),
        };
        ClientOp::Write {
            op: self.new_write_id(),
            key,
            value_bytes: self.value_bytes,
            level: Level::Default,
            kind,
        }
    }

    /// The id of the next write (a retried write is a new write and takes one too).
    pub fn new_write_id(&mut self) -> OpId {
        let op = OpId(self.next_write);
        self.next_write += 1;
        op
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Workload as Spec;

    fn spec(rate: f64, write: f64, kd: KeyDistribution) -> Spec {
        Spec {
            keys: 100,
            key_distribution: kd,
            rates: vec![rate, 0.0],
            write_fraction: write,
            value_bytes: 10,
            retry: None,
            classes: [
                (true, Level::Default, write),
                (false, Level::Default, 1.0 - write),
            ]
            .into_iter()
            .filter(|c| c.2 > 0.0)
            .collect(),
            reroute_after: None,
            nominal: vec![0; 4],
            tables: Vec::new(),
            sessions: 0,
        }
    }

    #[test]
    fn poisson_rate_and_mix() {
        let mut w = Workload::new(&spec(1000.0, 0.8, KeyDistribution::Uniform), 1);
        let mut t = SimTime::ZERO;
        let mut ops = 0;
        let mut writes = 0;
        while let Some(next) = w.next_arrival(RegionId(0), t) {
            if next.0 > 100_000_000_000 {
                break;
            }
            t = next;
            ops += 1;
            if matches!(w.next_op(RegionId(0)), ClientOp::Write { .. }) {
                writes += 1;
            }
        }
        assert!(
            (99_000..101_000).contains(&ops),
            "{ops} ops in 100s at 1000/s"
        );
        let frac = writes as f64 / ops as f64;
        assert!((frac - 0.8).abs() < 0.01, "{frac}");
        assert_eq!(
            w.next_arrival(RegionId(1), t),
            None,
            "rate 0 means no clients"
        );
    }

    #[test]
    fn zipf_prefers_low_keys() {
        let mut w = Workload::new(&spec(1.0, 1.0, KeyDistribution::Zipf(1.1)), 1);
        let mut hot = 0;
        for _ in 0..10_000 {
            if let ClientOp::Write { key, .. } = w.next_op(RegionId(0)) {
                assert!(key.0 < 100);
                if key.0 == 0 {
                    hot += 1;
                }
            }
        }
        assert!(hot > 1_000, "key 0 should be hottest ({hot})");
    }
}
