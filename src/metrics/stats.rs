//! Latency statistics (exact count, mean and extremes with hdrhistogram quantiles) and the
//! plain counts the summary reports.

use crate::time::SimTime;
use crate::units::ns_to_ms;
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Exact count/mean/min/max plus hdrhistogram quantiles (3 significant digits).
pub struct LatencyStats {
    hist: Histogram<u64>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for LatencyStats {
    fn default() -> Self {
        LatencyStats::with_precision(3)
    }
}

impl LatencyStats {
    /// `digits` significant digits, 1ns to one simulated day (longer values saturate). Per-pair
    /// lag uses 2 digits (1%): the pairs grow with n^2, and at 3 digits a 50-region mesh would
    /// need over half a gigabyte of histograms.
    pub fn with_precision(digits: u8) -> Self {
        LatencyStats {
            hist: Histogram::new_with_bounds(1, 86_400_000_000_000, digits).expect("valid bounds"),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }
}

/// Latency statistics in milliseconds, as written to `summary.json`.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StatsMs {
    pub count: u64,
    pub mean: f64,
    pub min: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl LatencyStats {
    #[inline]
    pub fn record(&mut self, ns: u64) {
        self.hist.saturating_record(ns);
        self.count += 1;
        self.sum += ns as u128;
        self.min = self.min.min(ns);
        self.max = self.max.max(ns);
    }

    /// Folds `other` into this (exact count, sum, min and max; merged histogram).
    pub fn merge(&mut self, other: &LatencyStats) {
        self.hist.add(&other.hist).expect("same bounds");
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// The recorded distribution as `(value ns, count)` pairs.
    pub fn recorded(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.hist
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn max_ns(&self) -> u64 {
        self.max
    }

    pub fn quantile_ns(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // hdrhistogram reports the top of the bucket; never exceed the exact maximum.
        self.hist.value_at_quantile(q).min(self.max).max(self.min)
    }

    pub fn to_ms(&self) -> StatsMs {
        if self.count == 0 {
            return StatsMs::default();
        }
        StatsMs {
            count: self.count,
            mean: ns_to_ms((self.sum / self.count as u128) as u64),
            min: ns_to_ms(self.min),
            p50: ns_to_ms(self.quantile_ns(0.5)),
            p90: ns_to_ms(self.quantile_ns(0.9)),
            p99: ns_to_ms(self.quantile_ns(0.99)),
            p999: ns_to_ms(self.quantile_ns(0.999)),
            max: ns_to_ms(self.max),
        }
    }
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct MessageCounts {
    pub sent: u64,
    pub delivered: u64,
    pub dropped: u64,
    pub dropped_partition: u64,
    pub dropped_loss: u64,
    pub dropped_crashed: u64,
    pub duplicated: u64,
    pub retransmitted: u64,
    pub bytes: u64,
    pub corrupt_entries: u64,
    /// Entries given up without hinted handoff (the replica missed the write).
    #[serde(default)]
    pub abandoned_entries: u64,
}

/// Anti-entropy as the regions reported it (bytes come from the per-class traffic counts).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct AeCounts {
    pub sessions: u64,
    /// Sessions whose initiator heard the end (the rest lost a message on the way).
    pub finished: u64,
    /// Finished sessions whose trees already matched at the root.
    pub in_sync: u64,
    pub rounds_sum: u64,
    pub rounds_max: u64,
    pub keys_repaired: u64,
    /// What shipping each session initiator's whole shared state would have cost instead.
    pub full_state_bytes: u64,
    /// (start, end) of each finished session that found differences to repair: the
    /// anti-entropy phase a fault can strike in.
    pub repairing: Vec<(SimTime, SimTime)>,
}

/// Operations at one consistency level.
#[derive(Default)]
pub struct LevelStats {
    pub write_latency: LatencyStats,
    pub read_latency: LatencyStats,
    pub writes_failed: u64,
    pub reads_failed: u64,
    pub reads_stale: u64,
    /// Sum and maximum of versions-behind over stale reads.
    pub k_stale_sum: u64,
    pub k_stale_max: u64,
}

/// One lost update, described so a person can find it in a trace.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct LostUpdateExample {
    pub key: u64,
    pub lost_op: u64,
    pub lost_region: String,
    pub lost_acked_ms: f64,
    /// How far the losing write's clock was behind the value it had already seen (skew only).
    pub skew_ms: Option<f64>,
    pub winner_op: Option<u64>,
    pub winner_region: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LostUpdates {
    /// Acknowledged writes silently overwritten by a write that never saw them.
    pub total: u64,
    /// ...of which the two writes were concurrent (neither saw the other).
    pub concurrent: u64,
    /// ...of which the lost write had already seen a newer-stamped value: causally later,
    /// lost only because its region's clock was behind. (First-writer-wins: the lost write was
    /// acknowledged before the winner was even issued, and lost because its clock ran ahead.)
    pub skew: u64,
    /// First-writer-wins: later writes dropped because the key already had a value they had
    /// seen (the policy's intent, but acknowledged all the same).
    #[serde(default)]
    pub rejected: u64,
    pub max_skew_ms: f64,
    pub examples: Vec<LostUpdateExample>,
    /// Origin region and acknowledgement time of each lost write (for the series only).
    #[serde(skip)]
    pub lost_at: Vec<(usize, SimTime)>,
}

/// Sorts and merges overlapping intervals.
pub fn merge_intervals(mut v: Vec<(SimTime, SimTime)>) -> Vec<(SimTime, SimTime)> {
    v.sort_unstable();
    let mut out: Vec<(SimTime, SimTime)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}
