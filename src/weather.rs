//! Weather: randomised faults realised per seed within the scenario's declared bounds (swarm
//! testing). Each fault kind draws from its own stream of the run's `Faults` concern, so adding
//! crash weather never changes where partitions fall.

use crate::dist::unit_f64;
use crate::faults::{ClockStep, Crash, Degrade, FaultAction, FaultClass, Partition};
use crate::replica::RegionId;
use crate::rng::{stream, Concern, SimRng};
use crate::scenario::{
    ClockStepWeather, CrashWeather, DegradeWeather, Fault, PartitionShape, PartitionWeather,
    Scenario, SpanRange,
};
use crate::time::{SimTime, Span};
use rand::Rng;

fn uniform_ms(rng: &mut SimRng, r: &SpanRange) -> Span {
    // Whole milliseconds keep realised schedules readable (`for 3.214s`, not 3214567891ns).
    let (lo, hi) = (r.min.0 / 1_000_000, r.max.0 / 1_000_000);
    let ms = lo + (rng.next_u64() % (hi - lo + 1));
    Span::from_millis(ms.max(1))
}

fn pick(rng: &mut SimRng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

/// Two distinct regions.
fn pair(rng: &mut SimRng, n: usize) -> (usize, usize) {
    let a = pick(rng, n);
    let b = (a + 1 + pick(rng, n - 1)) % n;
    (a, b)
}

/// Poisson arrival times at `per_min` in [start, end).
fn arrivals(rng: &mut SimRng, per_min: f64, start: SimTime, end: SimTime) -> Vec<SimTime> {
    let mut out = Vec::new();
    if per_min <= 0.0 {
        return out;
    }
    let mean_ns = 60e9 / per_min;
    let mut t = start.0 as f64;
    loop {
        let u = unit_f64(rng).max(f64::MIN_POSITIVE);
        t += -u.ln() * mean_ns;
        // Whole milliseconds, like every other realised number.
        let at = SimTime((t as u64) / 1_000_000 * 1_000_000);
        if at >= end || out.len() >= 100_000 {
            break;
        }
        out.push(at);
    }
    out
}

/// One realised weather fault before indexing: start, length (none for an instant), action,
/// class and what it does.
type Drawn = (SimTime, Option<Span>, FaultAction, FaultClass, String);

/// The window the weather blows in, the region count and their names.
struct Sky<'a> {
    sc: &'a Scenario,
    seed: u64,
    n: usize,
    start: SimTime,
    end: SimTime,
}

impl Sky<'_> {
    #[inline]
    fn name(&self, r: usize) -> String {
        self.sc.regions[r].name.clone()
    }

    /// Partitions, each of a shape drawn from those allowed (non-transitive needs 3 regions).
    fn partitions(&self, w: &PartitionWeather, out: &mut Vec<Drawn>) {
        let n = self.n;
        let mut rng = stream(self.seed, Concern::Faults, 1);
        let shapes: Vec<PartitionShape> = w
            .shapes
            .iter()
            .copied()
            .filter(|s| n >= 3 || *s != PartitionShape::NonTransitive)
            .collect();
        for at in arrivals(&mut rng, w.per_min, self.start, self.end) {
            let dur = uniform_ms(&mut rng, &w.duration);
            let shape = shapes[pick(&mut rng, shapes.len())];
            let (action, class, label) = self.partition(&mut rng, shape);
            out.push((at, Some(dur), action, class, label));
        }
    }

    /// One partition of `shape`, its regions drawn from `rng`.
    fn partition(
        &self,
        rng: &mut SimRng,
        shape: PartitionShape,
    ) -> (FaultAction, FaultClass, String) {
        let n = self.n;
        match shape {
            PartitionShape::Isolate => {
                let r = pick(rng, n);
                let groups = (0..n).map(|i| u32::from(i == r)).collect();
                (
                    FaultAction::Partition(Partition { groups }),
                    FaultClass::Partition,
                    format!("partition isolates {}", self.name(r)),
                )
            }
            PartitionShape::Halves => {
                let mut order: Vec<usize> = (0..n).collect();
                for i in (1..n).rev() {
                    let j = pick(rng, i + 1);
                    order.swap(i, j);
                }
                let mut groups = vec![0u32; n];
                let mut side: Vec<String> = Vec::new();
                for &r in &order[..n / 2] {
                    groups[r] = 1;
                    side.push(self.name(r));
                }
                side.sort();
                (
                    FaultAction::Partition(Partition { groups }),
                    FaultClass::Partition,
                    format!("partition halves: [{}] | rest", side.join(", ")),
                )
            }
            PartitionShape::OneWay => {
                let (a, b) = pair(rng, n);
                (
                    FaultAction::Degrade(Degrade {
                        links: vec![(RegionId(a as u16), RegionId(b as u16))],
                        latency: None,
                        add_latency: None,
                        loss: Some(1.0),
                    }),
                    FaultClass::OneWayCut,
                    format!("one-way cut {} -> {}", self.name(a), self.name(b)),
                )
            }
            PartitionShape::NonTransitive => {
                let (a, b) = pair(rng, n);
                let (ra, rb) = (RegionId(a as u16), RegionId(b as u16));
                (
                    FaultAction::Degrade(Degrade {
                        links: vec![(ra, rb), (rb, ra)],
                        latency: None,
                        add_latency: None,
                        loss: Some(1.0),
                    }),
                    FaultClass::NonTransitiveCut,
                    format!("non-transitive cut {} <-> {}", self.name(a), self.name(b)),
                )
            }
        }
    }

    fn crashes(&self, w: &CrashWeather, out: &mut Vec<Drawn>) {
        let mut rng = stream(self.seed, Concern::Faults, 2);
        for at in arrivals(&mut rng, w.per_min, self.start, self.end) {
            let dur = uniform_ms(&mut rng, &w.downtime);
            let r = pick(&mut rng, self.n);
            out.push((
                at,
                Some(dur),
                FaultAction::Crash(Crash {
                    region: RegionId(r as u16),
                }),
                FaultClass::Crash,
                format!("crash {}", self.name(r)),
            ));
        }
    }

    fn degrades(&self, w: &DegradeWeather, out: &mut Vec<Drawn>) {
        let mut rng = stream(self.seed, Concern::Faults, 3);
        for at in arrivals(&mut rng, w.per_min, self.start, self.end) {
            let dur = uniform_ms(&mut rng, &w.duration);
            let (a, b) = pair(&mut rng, self.n);
            let add = w.add_latency.as_ref().map(|r| {
                let (lo, hi) = (r.min.0 / 1_000_000, r.max.0 / 1_000_000);
                Span::from_millis(lo + rng.next_u64() % (hi - lo + 1))
            });
            let loss = w.loss.map(|l| {
                ((l.min + unit_f64(&mut rng) * (l.max - l.min)) * 1000.0).round() / 1000.0
            });
            let (ra, rb) = (RegionId(a as u16), RegionId(b as u16));
            let mut parts = Vec::new();
            if let Some(a) = add {
                parts.push(format!("+{a}"));
            }
            if let Some(l) = loss {
                parts.push(format!("loss {l}"));
            }
            out.push((
                at,
                Some(dur),
                FaultAction::Degrade(Degrade {
                    links: vec![(ra, rb), (rb, ra)],
                    latency: None,
                    add_latency: add,
                    loss,
                }),
                FaultClass::Degrade,
                format!(
                    "degrade {} <-> {} ({})",
                    self.name(a),
                    self.name(b),
                    parts.join(", ")
                ),
            ));
        }
    }

    fn clock_steps(&self, w: &ClockStepWeather, out: &mut Vec<Drawn>) {
        let mut rng = stream(self.seed, Concern::Faults, 4);
        for at in arrivals(&mut rng, w.per_min, self.start, self.end) {
            let (lo, hi) = (w.by.min.0 / 1_000_000, w.by.max.0 / 1_000_000);
            let by_ms = lo + (rng.next_u64() % ((hi - lo) as u64 + 1)) as i64;
            let r = pick(&mut rng, self.n);
            out.push((
                at,
                None,
                FaultAction::ClockStep(ClockStep {
                    region: RegionId(r as u16),
                    by_ns: by_ms * 1_000_000,
                }),
                FaultClass::ClockStep,
                format!(
                    "clock step {} by {}",
                    self.name(r),
                    crate::time::SignedSpan(by_ms * 1_000_000)
                ),
            ));
        }
    }
}

/// The faults the weather brings for `seed`, labelled `weather: ...`, indexed after the file's.
pub fn realize(sc: &Scenario, seed: u64) -> Vec<Fault> {
    let Some(wx) = &sc.weather else {
        return Vec::new();
    };
    let sky = Sky {
        sc,
        seed,
        n: sc.n(),
        start: wx.start,
        end: wx.end,
    };
    let mut out: Vec<Drawn> = Vec::new();
    // Each kind has its own stream; the order of kinds fixes only the order of the output.
    if let Some(w) = &wx.partitions {
        sky.partitions(w, &mut out);
    }
    if let Some(w) = &wx.crashes {
        sky.crashes(w, &mut out);
    }
    if let Some(w) = &wx.degrades {
        sky.degrades(w, &mut out);
    }
    if let Some(w) = &wx.clock_steps {
        sky.clock_steps(w, &mut out);
    }
    let base = sc.faults.iter().map(|f| f.index + 1).max().unwrap_or(0);
    out.into_iter()
        .enumerate()
        .map(|(k, (at, dur, action, class, what))| {
            let label = match dur {
                Some(d) => format!("weather: {what} for {d}"),
                None => format!("weather: {what}"),
            };
            Fault {
                index: base + k,
                at,
                until: dur.map(|d| at + d),
                action,
                class,
                label,
                what: format!("weather: {what}"),
            }
        })
        .collect()
}

impl Scenario {
    /// This scenario with the weather of `seed` added to its fault timeline.
    pub fn with_weather(&self, seed: u64) -> Scenario {
        let mut sc = self.clone();
        let extra = realize(self, seed);
        if !extra.is_empty() {
            sc.faults.extend(extra);
            sc.faults.sort_by_key(|f| (f.at, f.index));
        }
        sc
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"
name: w
duration: 60s
regions: [{ name: a }, { name: b }, { name: c }]
network: { latency: { default: 20ms } }
workload: { keys: 100, rate_per_region: 20 }
weather:
  start: 5s
  partitions: { per_min: 6, duration: { min: 1s, max: 5s } }
  crashes: { per_min: 2, downtime: { min: 1s, max: 3s } }
  degrades: { per_min: 3, duration: { min: 2s, max: 4s }, add_latency: { min: 50ms, max: 200ms }, loss: { min: 0.1, max: 0.3 } }
  clock_steps: { per_min: 2, by: { min: -500ms, max: 500ms } }
"#;

    #[test]
    fn realised_weather_is_seeded_and_bounded() {
        let sc = Scenario::parse(TEXT, "w.yaml").unwrap();
        let a = realize(&sc, 1);
        assert_eq!(a, realize(&sc, 1), "same seed, same weather");
        assert_ne!(a, realize(&sc, 2), "another seed, other weather");
        assert!(a.len() > 5, "{} faults", a.len());
        for f in &a {
            assert!(
                f.at >= SimTime(5_000_000_000) && f.at < SimTime(60_000_000_000),
                "{f:?}"
            );
            assert!(f.label.starts_with("weather: "));
            assert_eq!(f.at.0 % 1_000_000, 0, "whole ms");
            match &f.action {
                FaultAction::Crash { .. } => {
                    let d = f.until.unwrap() - f.at;
                    assert!(d >= Span::from_secs(1) && d <= Span::from_secs(3));
                }
                FaultAction::ClockStep(c) => assert!(c.by_ns.abs() <= 500_000_000),
                FaultAction::Degrade(d) => {
                    let l = d.loss.unwrap();
                    assert!(l == 1.0 || (0.1..=0.3).contains(&l), "{l}");
                }
                FaultAction::Partition(Partition { groups }) => {
                    assert!(groups.iter().any(|g| *g != groups[0]))
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn kinds_draw_from_independent_streams() {
        // Removing crash weather must not move the partitions.
        let sc = Scenario::parse(TEXT, "w.yaml").unwrap();
        let without = Scenario::parse(
            &TEXT.replace(
                "  crashes: { per_min: 2, downtime: { min: 1s, max: 3s } }\n",
                "",
            ),
            "w.yaml",
        )
        .unwrap();
        let parts = |faults: Vec<Fault>| -> Vec<(SimTime, String)> {
            faults
                .into_iter()
                .filter(|f| f.label.contains("partition"))
                .map(|f| (f.at, f.label))
                .collect()
        };
        assert_eq!(parts(realize(&sc, 7)), parts(realize(&without, 7)));
    }

    #[test]
    fn weather_runs_converge_and_show_in_the_summary() {
        let sc = Scenario::parse(TEXT, "w.yaml").unwrap();
        let s = crate::run(
            &sc,
            crate::RunOptions {
                seed: Some(3),
                ..Default::default()
            },
        )
        .unwrap();
        let realised = s
            .faults
            .iter()
            .filter(|f| f.label.starts_with("weather: "))
            .count();
        assert_eq!(realised, realize(&sc, 3).len());
        assert!(s.convergence.converged, "{:?}", s.checks);
        assert_eq!(
            s.lost_acked_writes, 0,
            "synchronous durability loses nothing"
        );
        assert!(
            s.faults.iter().any(|f| f.effects.unwrap_or(0) > 0),
            "some weather took effect"
        );
    }

    #[test]
    fn bad_weather_is_refused() {
        let e = Scenario::parse(&TEXT.replace("per_min: 6", "per_min: -1"), "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("weather.partitions.per_min"), "{e}");
        let e = Scenario::parse(
            &TEXT.replace("min: 1s, max: 5s", "min: 5s, max: 1s"),
            "w.yaml",
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("weather.partitions.duration"), "{e}");
        let e = Scenario::parse(&TEXT.replace("start: 5s", "start: 90s"), "w.yaml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("weather") && e.contains("start < end"), "{e}");
    }
}
