//! Per-region clocks: maps true simulated time to a region's monotonic and wall-clock readings.
//!
//! `mono(t) = t + t·drift` (never steps); `wall(t) = mono(t) + offset + Σ steps + slew(t)`, and
//! the reading a replica sees adds bounded noise. Drift is held in parts per billion and computed
//! in i128, so clock readings are exact integers.
//!
//! Time synchronisation is modelled on ntpd's clock discipline, phase only: at each poll the
//! daemon measures the wall clock's error against true time (within its accuracy), steps the
//! clock if the error is beyond the step threshold (ntpd: 128 ms) and otherwise slews it away at
//! a bounded rate (ntpd: 500 ppm), so the wall clock never jumps for small corrections. Drift is
//! not trained away, so errors grow again between polls: the saw-tooth of a host whose
//! frequency file is wrong.

use crate::rng::SimRng;
use crate::time::{Mono, SimTime, Wall};
use rand::RngExt;

const BILLION: i128 = 1_000_000_000;

/// The scenario's description of a time daemon (kept with the time types, so the scenario
/// model does not depend on the engine).
pub use crate::time::ClockSync;

/// A correction being slewed in: `total_ns` spread from `from` at `rate_ppb` of elapsed time.
#[derive(Clone, Copy, Debug)]
struct Slew {
    from: SimTime,
    total_ns: i64,
    rate_ppb: i64,
}

impl Slew {
    fn applied(&self, t: SimTime) -> i64 {
        let elapsed = t.0.saturating_sub(self.from.0) as i128;
        let done = (elapsed * self.rate_ppb as i128 / BILLION) as i64;
        done.min(self.total_ns.abs()) * self.total_ns.signum()
    }
}

/// What one synchronisation poll did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Correction {
    Stepped(i64),
    Slewing(i64),
}

#[derive(Clone, Debug)]
pub struct Clock {
    pub offset_ns: i64,
    pub drift_ppb: i64,
    pub steps_ns: i64,
    /// Bound of the uniform noise on each wall reading a replica sees (0: none).
    pub noise_ns: u64,
    slew: Option<Slew>,
    /// The clock's own stream: reading noise and synchronisation measurements draw from it.
    rng: Option<SimRng>,
}

impl Clock {
    pub fn new(offset_ns: i64, drift_ppb: i64) -> Clock {
        // Validation bounds drift to ±1%, so the monotonic clock always moves forward.
        debug_assert!(drift_ppb.abs() < 1_000_000_000);
        Clock {
            offset_ns,
            drift_ppb,
            steps_ns: 0,
            noise_ns: 0,
            slew: None,
            rng: None,
        }
    }

    /// Adds reading noise and synchronisation measurements, drawn from `rng` (the region's
    /// clock stream); without them the clock never draws.
    pub fn with_rng(mut self, noise_ns: u64, rng: SimRng) -> Clock {
        self.noise_ns = noise_ns;
        self.rng = Some(rng);
        self
    }

    #[inline]
    pub fn mono(&self, t: SimTime) -> Mono {
        if self.drift_ppb == 0 {
            return Mono(t.0); // the common case, without 128-bit division
        }
        let t = t.0 as i128;
        Mono((t + t * self.drift_ppb as i128 / BILLION).max(0) as u64)
    }

    #[inline]
    pub fn wall(&self, t: SimTime) -> Wall {
        self.now(t).1
    }

    /// Both readings at once (one drift computation), without noise: what reports and
    /// synchronisation use.
    #[inline]
    pub fn now(&self, t: SimTime) -> (Mono, Wall) {
        let m = self.mono(t);
        let mut w = (m.0 as i64)
            .saturating_add(self.offset_ns)
            .saturating_add(self.steps_ns);
        if let Some(s) = &self.slew {
            w = w.saturating_add(s.applied(t));
        }
        (m, Wall(w))
    }

    /// What a replica reads: `now` plus the reading's noise. Noise is per reading (a jittery
    /// time source), so two readings close together may go backwards by up to twice the bound.
    #[inline]
    pub fn read(&mut self, t: SimTime) -> (Mono, Wall) {
        let (m, w) = self.now(t);
        if self.noise_ns == 0 {
            return (m, w);
        }
        let b = self.noise_ns as i64;
        let rng = self.rng.as_mut().expect("a noisy clock has its stream");
        (m, Wall(w.0.saturating_add(rng.random_range(-b..=b))))
    }

    /// The wall clock's error against true time (without noise).
    pub fn error_ns(&self, t: SimTime) -> i64 {
        self.now(t).1 .0.saturating_sub(t.0 as i64)
    }

    /// One synchronisation poll at true time `t`: measures the error within the accuracy, then
    /// steps or starts slewing it away (replacing any slew still under way).
    pub fn sync(&mut self, t: SimTime, sync: &ClockSync) -> Correction {
        if let Some(s) = self.slew.take() {
            self.steps_ns = self.steps_ns.saturating_add(s.applied(t));
        }
        let acc = sync.accuracy_ns as i64;
        let noise = match (acc, self.rng.as_mut()) {
            (0, _) | (_, None) => 0,
            (_, Some(rng)) => rng.random_range(-acc..=acc),
        };
        let measured = self.error_ns(t).saturating_add(noise);
        if measured.unsigned_abs() >= sync.step_threshold_ns {
            self.step(-measured);
            Correction::Stepped(-measured)
        } else {
            self.slew = (measured != 0).then_some(Slew {
                from: t,
                total_ns: -measured,
                rate_ppb: sync.max_slew_ppb,
            });
            Correction::Slewing(-measured)
        }
    }

    /// The earliest true time at which this clock's monotonic reading is at least `m`
    /// (when a timer set for local time `m` fires).
    pub fn sim_time_at(&self, m: Mono) -> SimTime {
        let m128 = m.0 as i128;
        let denom = BILLION + self.drift_ppb as i128;
        let mut t = ((m128 * BILLION + denom - 1) / denom).max(0) as u64;
        // Integer division in mono() may leave us one nanosecond off either way.
        while self.mono(SimTime(t)) < m {
            t += 1;
        }
        while t > 0 && self.mono(SimTime(t - 1)) >= m {
            t -= 1;
        }
        SimTime(t)
    }

    pub fn step(&mut self, by_ns: i64) {
        self.steps_ns = self.steps_ns.saturating_add(by_ns);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn offset_drift_and_steps() {
        let mut c = Clock::new(120_000_000, 25_000); // +120ms, 25ppm
        let t = SimTime(10_000_000_000); // 10 s
        assert_eq!(c.mono(t), Mono(10_000_250_000));
        assert_eq!(c.wall(t), Wall(10_000_250_000 + 120_000_000));
        c.step(-2_000_000_000);
        assert_eq!(
            c.wall(t),
            Wall(10_000_250_000 + 120_000_000 - 2_000_000_000)
        );
        assert_eq!(
            c.mono(t),
            Mono(10_000_250_000),
            "steps never move the monotonic clock"
        );
    }

    fn ntp() -> ClockSync {
        ClockSync {
            interval_ns: 64_000_000_000,
            accuracy_ns: 0,
            step_threshold_ns: 128_000_000,
            max_slew_ppb: 500_000,
        }
    }

    #[test]
    fn sync_steps_large_errors_and_slews_small_ones() {
        // 300 ms ahead: beyond the threshold, stepped back at once.
        let mut c = Clock::new(300_000_000, 0);
        let t = SimTime(1_000_000_000);
        assert_eq!(c.sync(t, &ntp()), Correction::Stepped(-300_000_000));
        assert_eq!(c.error_ns(t), 0);

        // 40 ms behind: slewed forward at 500 ppm, so it takes 80 s and never jumps.
        let mut c = Clock::new(-40_000_000, 0);
        assert_eq!(c.sync(t, &ntp()), Correction::Slewing(40_000_000));
        assert_eq!(c.error_ns(t), -40_000_000);
        assert_eq!(c.error_ns(SimTime(t.0 + 10_000_000_000)), -35_000_000);
        assert_eq!(c.error_ns(SimTime(t.0 + 80_000_000_000)), 0);
        assert_eq!(c.error_ns(SimTime(t.0 + 500_000_000_000)), 0);
        // The wall clock stays monotonic while slewing.
        let mut last = c.wall(t);
        for s in 1..200 {
            let w = c.wall(SimTime(t.0 + s * 500_000_000));
            assert!(w > last);
            last = w;
        }
    }

    #[test]
    fn sync_folds_a_running_slew_and_drift_comes_back() {
        // 50 ppm fast: 3.2 ms per 64 s poll, slewed away in 6.4 s each time.
        let mut c = Clock::new(0, 50_000);
        let p = ntp();
        let mut worst_after_first = 0i64;
        for i in 1..=10u64 {
            let t = SimTime(i * p.interval_ns);
            let before = c.error_ns(t);
            assert!(before > 0, "fast clocks drift ahead between polls");
            c.sync(t, &p);
            if i > 1 {
                worst_after_first = worst_after_first.max(before);
            }
            // Ten seconds after a poll the slew is done.
            assert!(c.error_ns(SimTime(t.0 + 10_000_000_000)).abs() <= 500_000);
        }
        assert_eq!(worst_after_first, 3_200_000);
    }

    #[test]
    fn noise_is_bounded_and_reproducible() {
        let mk = || {
            Clock::new(0, 0).with_rng(
                2_000_000,
                crate::rng::stream(5, crate::rng::Concern::Clocks, 0),
            )
        };
        let (mut a, mut b) = (mk(), mk());
        let mut spread = (i64::MAX, i64::MIN);
        for i in 0..1000u64 {
            let t = SimTime(i * 1_000_000);
            let (_, wa) = a.read(t);
            assert_eq!(wa, b.read(t).1);
            let e = wa.0 - t.0 as i64;
            assert!(e.abs() <= 2_000_000);
            spread = (spread.0.min(e), spread.1.max(e));
        }
        assert!(spread.0 < -1_800_000 && spread.1 > 1_800_000, "{spread:?}");
        assert_eq!(a.now(SimTime(7)).1, Wall(7), "reports read without noise");
    }

    proptest! {
        #[test]
        fn timer_inverse_is_exact(ppb in -9_000_000i64..9_000_000, m in 0u64..1_000_000_000_000_000) {
            let c = Clock::new(0, ppb);
            let t = c.sim_time_at(Mono(m));
            prop_assert!(c.mono(t) >= Mono(m));
            prop_assert!(t.0 == 0 || c.mono(SimTime(t.0 - 1)) < Mono(m));
        }
    }
}
