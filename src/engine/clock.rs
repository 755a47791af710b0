//! Per-region clocks: maps true simulated time to a region's monotonic and wall-clock readings.
//!
//! `mono(t) = t + t·drift` (never steps); `wall(t) = mono(t) + offset + Σ steps`. Drift is held in
//! parts per billion and computed in i128, so clock readings are exact integers.

use crate::time::{Mono, SimTime, Wall};

const BILLION: i128 = 1_000_000_000;

#[derive(Clone, Debug)]
pub struct Clock {
    pub offset_ns: i64,
    pub drift_ppb: i64,
    pub steps_ns: i64,
}

impl Clock {
    pub fn new(offset_ns: i64, drift_ppb: i64) -> Clock {
        // Validation bounds drift to ±1%, so the monotonic clock always moves forward.
        debug_assert!(drift_ppb.abs() < 1_000_000_000);
        Clock {
            offset_ns,
            drift_ppb,
            steps_ns: 0,
        }
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

    /// Both readings at once (one drift computation).
    #[inline]
    pub fn now(&self, t: SimTime) -> (Mono, Wall) {
        let m = self.mono(t);
        let w = (m.0 as i64)
            .saturating_add(self.offset_ns)
            .saturating_add(self.steps_ns);
        (m, Wall(w))
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
