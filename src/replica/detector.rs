//! Failure detectors over heartbeat arrivals: a fixed timeout, and phi accrual (Hayashibara et
//! al., as in Cassandra and Akka). Pure functions of the arrival times a replica saw on its own
//! monotonic clock; the replica asks when suspicion would begin and sets a timer for it.

use crate::time::{Mono, Span};
use std::collections::VecDeque;

/// How a replica decides that a peer is down.
#[derive(Clone, Debug, PartialEq)]
pub enum DetectorSpec {
    /// Suspect a peer `timeout` after its last heartbeat.
    Heartbeat { interval: Span, timeout: Span },
    /// Suspect a peer once phi (how unlikely the silence is, -log10 of the probability that a
    /// heartbeat is still coming, from the mean and deviation of recent inter-arrival times)
    /// exceeds `threshold`.
    Phi {
        interval: Span,
        threshold: f64,
        /// Inter-arrival samples kept.
        window: u32,
        /// Floor of the deviation, so a perfectly regular network does not make phi explode
        /// at the first late heartbeat.
        min_std_dev: Span,
        /// Added to the mean: silence this long is expected (GC pauses, batching).
        pause: Span,
    },
}

impl DetectorSpec {
    /// How often heartbeats are sent.
    pub fn interval(&self) -> Span {
        match self {
            DetectorSpec::Heartbeat { interval, .. } | DetectorSpec::Phi { interval, .. } => {
                *interval
            }
        }
    }

    /// The shortest silence after which this detector can suspect a peer. A leader's lease
    /// must be shorter than this, or a deposed leader might still be writing when the others
    /// elect its successor.
    pub fn earliest_suspicion(&self) -> Span {
        match self {
            DetectorSpec::Heartbeat { timeout, .. } => *timeout,
            // Phi with every heartbeat exactly on time: mean = interval, deviation at its floor.
            DetectorSpec::Phi {
                interval,
                threshold,
                min_std_dev,
                pause,
                ..
            } => Span(crossing(
                (interval.0 + pause.0) as f64,
                min_std_dev.0 as f64,
                *threshold,
            )),
        }
    }
}

/// One peer's heartbeat history.
#[derive(Clone, Debug)]
pub struct Detector {
    last: Option<Mono>,
    samples: VecDeque<u64>,
    sum: f64,
    sum_sq: f64,
}

impl Detector {
    /// A detector that has heard nothing yet. `since` counts as a first heartbeat, so a peer
    /// that never speaks is suspected like one that fell silent at `since`.
    pub fn new(since: Mono) -> Detector {
        Detector {
            last: Some(since),
            samples: VecDeque::new(),
            sum: 0.0,
            sum_sq: 0.0,
        }
    }

    /// A heartbeat arrived at `now`.
    pub fn heartbeat(&mut self, spec: &DetectorSpec, now: Mono) {
        if let (Some(last), DetectorSpec::Phi { window, .. }) = (self.last, spec) {
            let gap = now.0.saturating_sub(last.0);
            self.samples.push_back(gap);
            self.sum += gap as f64;
            self.sum_sq += (gap as f64) * (gap as f64);
            while self.samples.len() > (*window).max(1) as usize {
                let old = self.samples.pop_front().expect("non-empty") as f64;
                self.sum -= old;
                self.sum_sq -= old * old;
            }
        }
        self.last = Some(now.max(self.last.unwrap_or(now)));
    }

    /// When the peer will be suspected if nothing more arrives.
    pub fn suspect_at(&self, spec: &DetectorSpec) -> Mono {
        let last = self.last.unwrap_or(Mono(0));
        match spec {
            DetectorSpec::Heartbeat { timeout, .. } => Mono(last.0.saturating_add(timeout.0)),
            DetectorSpec::Phi {
                interval,
                threshold,
                min_std_dev,
                pause,
                ..
            } => {
                let (mean, sd) = self.mean_sd(interval.0, min_std_dev.0);
                Mono(
                    last.0
                        .saturating_add(crossing(mean + pause.0 as f64, sd, *threshold)),
                )
            }
        }
    }

    /// Phi at `now` (heartbeat detector: 0 before the timeout, infinity after).
    pub fn phi(&self, spec: &DetectorSpec, now: Mono) -> f64 {
        let last = self.last.unwrap_or(Mono(0));
        let gap = now.0.saturating_sub(last.0) as f64;
        match spec {
            DetectorSpec::Heartbeat { timeout, .. } => {
                if gap >= timeout.0 as f64 {
                    f64::INFINITY
                } else {
                    0.0
                }
            }
            DetectorSpec::Phi {
                interval,
                min_std_dev,
                pause,
                ..
            } => {
                let (mean, sd) = self.mean_sd(interval.0, min_std_dev.0);
                phi(gap, mean + pause.0 as f64, sd)
            }
        }
    }

    /// Mean and deviation of inter-arrival times; before any sample, the nominal interval.
    fn mean_sd(&self, interval: u64, min_sd: u64) -> (f64, f64) {
        let k = self.samples.len() as f64;
        if k == 0.0 {
            return (interval as f64, (min_sd as f64).max(1.0));
        }
        let mean = self.sum / k;
        let var = (self.sum_sq / k - mean * mean).max(0.0);
        (mean, var.sqrt().max(min_sd as f64).max(1.0))
    }
}

/// Phi of a silence of `gap` ns under a normal model of inter-arrival times, with the logistic
/// approximation of the normal CDF that Akka uses (accurate to about 1e-4 and monotone).
pub fn phi(gap: f64, mean: f64, sd: f64) -> f64 {
    let y = (gap - mean) / sd;
    let e = (-y * (1.5976 + 0.070566 * y * y)).exp();
    let p = if gap > mean {
        e / (1.0 + e)
    } else {
        1.0 - 1.0 / (1.0 + e)
    };
    if p <= 0.0 {
        f64::INFINITY
    } else {
        -p.log10()
    }
}

/// The silence (ns) at which phi first reaches `threshold`, by bisection (phi rises with the
/// gap), to the nanosecond.
fn crossing(mean: f64, sd: f64, threshold: f64) -> u64 {
    let (mut lo, mut hi) = (0u64, (mean + sd).max(1.0) as u64);
    while phi(hi as f64, mean, sd) < threshold {
        if hi > u64::MAX / 4 {
            return hi;
        }
        hi *= 2;
    }
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        if phi(mid as f64, mean, sd) < threshold {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(x: u64) -> Span {
        Span::from_millis(x)
    }

    #[test]
    fn heartbeat_detector_suspects_exactly_timeout_after_the_last_beat() {
        let spec = DetectorSpec::Heartbeat {
            interval: ms(100),
            timeout: ms(1000),
        };
        let mut d = Detector::new(Mono(0));
        assert_eq!(d.suspect_at(&spec), Mono(ms(1000).0));
        d.heartbeat(&spec, Mono(ms(250).0));
        assert_eq!(d.suspect_at(&spec), Mono(ms(1250).0));
        assert_eq!(d.phi(&spec, Mono(ms(1249).0)), 0.0);
        assert!(d.phi(&spec, Mono(ms(1250).0)).is_infinite());
        // A late, reordered beat never moves suspicion backwards.
        d.heartbeat(&spec, Mono(ms(200).0));
        assert_eq!(d.suspect_at(&spec), Mono(ms(1250).0));
    }

    #[test]
    fn phi_is_about_0_3_at_the_mean_and_grows_with_silence() {
        // At the mean the logistic CDF is 1/2: phi = log10(2).
        assert!((phi(100.0, 100.0, 10.0) - 2f64.log10()).abs() < 1e-9);
        let mut last = 0.0;
        for gap in [50.0, 100.0, 110.0, 130.0, 150.0, 200.0] {
            let p = phi(gap, 100.0, 10.0);
            assert!(p > last, "phi must rise with the gap: {p} at {gap}");
            last = p;
        }
        // Three deviations late: P about 0.00135, phi about 2.87; four: about 4.5.
        assert!((phi(130.0, 100.0, 10.0) - 2.87).abs() < 0.05);
        assert!(phi(140.0, 100.0, 10.0) > 4.0);
    }

    #[test]
    fn phi_detector_waits_longer_on_a_jittery_link() {
        let spec = DetectorSpec::Phi {
            interval: ms(100),
            threshold: 8.0,
            window: 100,
            min_std_dev: ms(1),
            pause: Span::ZERO,
        };
        let (mut steady, mut jittery) = (Detector::new(Mono(0)), Detector::new(Mono(0)));
        let (mut t1, mut t2) = (0u64, 0u64);
        for i in 0..100u64 {
            t1 += ms(100).0;
            steady.heartbeat(&spec, Mono(t1));
            // Alternating 60 ms and 140 ms gaps: same mean, 40 ms deviation.
            t2 += if i % 2 == 0 { ms(60).0 } else { ms(140).0 };
            jittery.heartbeat(&spec, Mono(t2));
        }
        let wait_steady = steady.suspect_at(&spec).0 - t1;
        let wait_jittery = jittery.suspect_at(&spec).0 - t2;
        // Steady: mean 100 ms, deviation at its 1 ms floor; phi 8 is about 10 deviations out.
        assert!(
            (ms(105).0..ms(115).0).contains(&wait_steady),
            "{wait_steady}"
        );
        assert!(wait_jittery > 3 * (wait_steady - ms(100).0) + ms(100).0);
        // The computed crossing is where phi reaches the threshold, to the nanosecond.
        let at = steady.suspect_at(&spec);
        assert!(steady.phi(&spec, at) >= 8.0);
        assert!(steady.phi(&spec, Mono(at.0 - 1)) < 8.0);
        assert_eq!(spec.earliest_suspicion().0, wait_steady);
    }
}
