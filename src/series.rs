//! Report data collected while a run goes: per-region time series, staleness by age, log-binned
//! histograms and the message window for sequence diagrams. All of it is plain serde data in
//! `RunSummary.report_data`, so charts can be re-rendered without re-simulating.
//!
//! Collection is passive: time buckets advance when observed events cross them, never through
//! events of their own, so collecting cannot change a run.

use crate::time::{SimTime, Span};
use crate::units::ns_to_ms;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The time-series bucket width: about 240 buckets over the run, at least 10ms, whole ms.
pub fn bucket_for(duration: Span) -> Span {
    let raw = (duration.0 / 240).max(10_000_000);
    Span(raw.div_ceil(1_000_000) * 1_000_000)
}

/// Per-region series over simulated time, one value per bucket.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct RegionSeries {
    /// Most acknowledged writes (from elsewhere) not yet held here, within the bucket.
    pub backlog: Vec<u64>,
    /// Largest replication lag observed for a write arriving here in the bucket (ms).
    pub lag_max_ms: Vec<f64>,
    /// Client operations of this region that succeeded / failed in the bucket.
    pub ops_ok: Vec<u64>,
    pub ops_failed: Vec<u64>,
    /// The series below exist only in runs that have what they measure (empty otherwise).
    /// This region's wall-clock error (ms) found by its time daemon's last poll in the bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clock_error_ms: Vec<Option<f64>>,
    /// Acknowledged writes of this region, by acknowledgement time, that a concurrent or
    /// clock-skewed write later overwrote (last/first-writer-wins).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub lost_updates: Vec<u64>,
    /// Merges here that left a key with concurrent values (siblings).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sibling_merges: Vec<u64>,
    /// The most siblings one key held here in the bucket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub siblings_max: Vec<u32>,
    /// `manual` tables: the most conflicts waiting in this region's operator queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conflicts_parked: Vec<u64>,
}

/// The slot for bucket `cur` of a series that is only filled in some runs (grown on demand).
#[inline]
fn sparse<T: Default + Clone>(v: &mut Vec<T>, cur: usize) -> &mut T {
    if v.len() <= cur {
        v.resize(cur + 1, T::default());
    }
    &mut v[cur]
}

/// Pads an on-demand series to `len` buckets in every region once any region has it, so
/// charts see aligned series.
pub fn pad_sparse<T: Default + Clone>(
    series: &mut [RegionSeries],
    field: fn(&mut RegionSeries) -> &mut Vec<T>,
) {
    let len = series.first().map_or(0, |s| s.backlog.len());
    if series.iter_mut().any(|s| !field(s).is_empty()) {
        for s in series.iter_mut() {
            field(s).resize(len, T::default());
        }
    }
}

/// One staleness bucket: reads whose key's newest acknowledged write was at most `age_le_ms`
/// old (and older than the previous bucket's bound), and how many of them returned it.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StalenessBucket {
    pub age_le_ms: f64,
    pub reads: u64,
    pub fresh: u64,
}

/// A message in the recorded sequence window.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct SeqMessage {
    pub from: String,
    pub to: String,
    pub kind: String,
    pub sent_ms: f64,
    /// None if it never arrived.
    pub recv_ms: Option<f64>,
    /// Why it was dropped, if it was.
    pub dropped: Option<String>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SequenceWindow {
    pub from_ms: f64,
    pub to_ms: f64,
    pub messages: Vec<SeqMessage>,
    /// Messages sent in the window but not recorded (the window holds at most `MAX_SEQ`).
    pub truncated: u64,
}

/// Everything the report stage needs beyond the headline metrics.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReportData {
    pub bucket_ms: f64,
    pub series: BTreeMap<String, RegionSeries>,
    /// Per directed pair "a->b": `[upper bin edge in ms, count]`, non-empty bins only.
    pub lag_hist: BTreeMap<String, Vec<(f64, u64)>>,
    /// Per origin region, the same for visibility.
    pub visibility_hist: BTreeMap<String, Vec<(f64, u64)>>,
    pub staleness: Vec<StalenessBucket>,
    /// The same per "writer->reader" region pair (pairs with reads only).
    #[serde(default)]
    pub staleness_by_pair: BTreeMap<String, Vec<StalenessBucket>>,
    /// Configured (nominal) one-way latency in ms, `[from][to]`; null on the diagonal.
    pub latency_ms: Vec<Vec<Option<f64>>>,
    pub sequence: SequenceWindow,
}

/// Upper edges of the staleness age buckets, in ms (the last is open-ended).
pub const STALENESS_EDGES_MS: &[f64] = &[
    1.0,
    2.0,
    5.0,
    10.0,
    20.0,
    50.0,
    100.0,
    200.0,
    500.0,
    1_000.0,
    2_000.0,
    5_000.0,
    10_000.0,
    30_000.0,
    60_000.0,
    f64::INFINITY,
];

/// Most messages a sequence window records.
pub const MAX_SEQ: usize = 120;

/// Bins per decade when histograms are stored.
const BINS_PER_DECADE: f64 = 10.0;

/// Re-bins `(value_ns, count)` pairs into log-spaced bins, 10 per decade, returning
/// `(upper edge ms, count)` for non-empty bins in increasing order. Zero lands in the first bin.
pub fn log_bins(values: impl Iterator<Item = (u64, u64)>) -> Vec<(f64, u64)> {
    let mut bins: BTreeMap<i64, u64> = BTreeMap::new();
    for (ns, count) in values {
        if count == 0 {
            continue;
        }
        let ms = ns as f64 / 1e6;
        // Bin i covers (10^((i-1)/10), 10^(i/10)] ms; everything at or below 1us goes to the first.
        let i = if ms <= 1e-3 {
            -30
        } else {
            (ms.log10() * BINS_PER_DECADE).ceil() as i64
        };
        *bins.entry(i).or_default() += count;
    }
    bins.into_iter()
        .map(|(i, c)| (round4(10f64.powf(i as f64 / BINS_PER_DECADE)), c))
        .collect()
}

fn round4(x: f64) -> f64 {
    if x == 0.0 {
        return 0.0;
    }
    let mag = 10f64.powi(3 - x.abs().log10().floor() as i32);
    (x * mag).round() / mag
}

/// Builds the time series as the run goes.
pub struct SeriesCollector {
    bucket_ns: u64,
    next_edge: u64,
    cur: usize,
    backlog_now: Vec<u64>,
    /// Operator queue depth per region, once it has had one (carried into later buckets).
    parked_now: Vec<Option<u64>>,
    /// Lag maxima in ns while running (converted to ms once, in `finish`).
    lag_max_ns: Vec<Vec<u64>>,
    series: Vec<RegionSeries>,
}

impl SeriesCollector {
    pub fn new(n: usize, bucket_ns: u64) -> SeriesCollector {
        let mut s = SeriesCollector {
            bucket_ns: bucket_ns.max(1),
            next_edge: bucket_ns.max(1),
            cur: 0,
            backlog_now: vec![0; n],
            parked_now: vec![None; n],
            lag_max_ns: vec![Vec::new(); n],
            series: vec![RegionSeries::default(); n],
        };
        s.open_bucket();
        s
    }

    pub fn bucket_ns(&self) -> u64 {
        self.bucket_ns
    }

    fn open_bucket(&mut self) {
        for (r, s) in self.series.iter_mut().enumerate() {
            s.backlog.push(self.backlog_now[r]);
            self.lag_max_ns[r].push(0);
            s.ops_ok.push(0);
            s.ops_failed.push(0);
            if let Some(d) = self.parked_now[r] {
                *sparse(&mut s.conflicts_parked, self.cur) = d;
            }
        }
    }

    /// The finished series, lag converted to ms. `lost` are the (region, acknowledged at) of
    /// lost updates, known only once the run is over.
    pub fn finish(&self, lost: &[(usize, SimTime)]) -> Vec<RegionSeries> {
        let mut out: Vec<RegionSeries> = self
            .series
            .iter()
            .zip(&self.lag_max_ns)
            .map(|(s, lag)| RegionSeries {
                lag_max_ms: lag.iter().map(|&ns| ns_to_ms(ns)).collect(),
                ..s.clone()
            })
            .collect();
        let last = self.cur;
        for &(r, at) in lost {
            let b = ((at.0 / self.bucket_ns) as usize).min(last);
            *sparse(&mut out[r].lost_updates, b) += 1;
        }
        pad_sparse(&mut out, |s| &mut s.clock_error_ms);
        pad_sparse(&mut out, |s| &mut s.lost_updates);
        pad_sparse(&mut out, |s| &mut s.sibling_merges);
        pad_sparse(&mut out, |s| &mut s.siblings_max);
        pad_sparse(&mut out, |s| &mut s.conflicts_parked);
        out
    }

    /// A time daemon found region `r`'s clock off by `err_ns`.
    pub fn clock_error(&mut self, r: usize, err_ns: i64, now: SimTime) {
        self.at(now);
        let ms = err_ns as f64 / 1e6;
        *sparse(&mut self.series[r].clock_error_ms, self.cur) = Some(ms);
    }

    /// A merge at region `r` left a key with `siblings` concurrent values.
    pub fn merged(&mut self, r: usize, siblings: u32, now: SimTime) {
        self.at(now);
        let s = &mut self.series[r];
        if siblings > 1 {
            *sparse(&mut s.sibling_merges, self.cur) += 1;
        }
        let m = sparse(&mut s.siblings_max, self.cur);
        *m = (*m).max(siblings);
    }

    /// Region `r`'s operator queue now holds `depth` conflicts.
    pub fn parked(&mut self, r: usize, depth: u64, now: SimTime) {
        self.at(now);
        self.parked_now[r] = Some(depth);
        let m = sparse(&mut self.series[r].conflicts_parked, self.cur);
        *m = (*m).max(depth);
    }

    /// Advances to the bucket holding `now` (buckets in between carry the backlog forward).
    #[inline]
    pub fn at(&mut self, now: SimTime) {
        while now.0 >= self.next_edge {
            self.next_edge += self.bucket_ns;
            self.cur += 1;
            self.open_bucket();
        }
    }

    #[inline]
    pub fn backlog_add(&mut self, r: usize, now: SimTime) {
        self.at(now);
        self.backlog_now[r] += 1;
        let b = &mut self.series[r].backlog[self.cur];
        *b = (*b).max(self.backlog_now[r]);
    }

    #[inline]
    pub fn backlog_sub(&mut self, r: usize, now: SimTime) {
        self.at(now);
        self.backlog_now[r] = self.backlog_now[r].saturating_sub(1);
    }

    #[inline]
    pub fn lag(&mut self, r: usize, lag_ns: u64, now: SimTime) {
        self.at(now);
        let m = &mut self.lag_max_ns[r][self.cur];
        *m = (*m).max(lag_ns);
    }

    #[inline]
    pub fn op(&mut self, r: usize, ok: bool, now: SimTime) {
        self.at(now);
        let s = &mut self.series[r];
        if ok {
            s.ops_ok[self.cur] += 1;
        } else {
            s.ops_failed[self.cur] += 1;
        }
    }
}

/// Staleness by age, as the run goes.
#[derive(Clone, Debug)]
pub struct StalenessCollector {
    pub buckets: Vec<StalenessBucket>,
}

impl Default for StalenessCollector {
    fn default() -> Self {
        StalenessCollector {
            buckets: STALENESS_EDGES_MS
                .iter()
                .map(|&e| StalenessBucket {
                    age_le_ms: e,
                    reads: 0,
                    fresh: 0,
                })
                .collect(),
        }
    }
}

impl StalenessCollector {
    #[inline]
    pub fn record(&mut self, age_ns: u64, fresh: bool) {
        let ms = age_ns as f64 / 1e6;
        let i = STALENESS_EDGES_MS
            .iter()
            .position(|&e| ms <= e)
            .unwrap_or(STALENESS_EDGES_MS.len() - 1);
        let b = &mut self.buckets[i];
        b.reads += 1;
        b.fresh += fresh as u64;
    }

    /// JSON cannot hold infinity: the open-ended last bucket is written with its lower bound
    /// doubled, and only buckets that saw reads are kept.
    pub fn finish(&self) -> Vec<StalenessBucket> {
        let n = self.buckets.len();
        self.buckets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.reads > 0)
            .map(|(i, b)| StalenessBucket {
                age_le_ms: if i == n - 1 {
                    STALENESS_EDGES_MS[n - 2] * 2.0
                } else {
                    b.age_le_ms
                },
                ..b.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_bins_are_ten_per_decade() {
        // 1ms, 1.05ms and 1.2ms: 1ms and 1.05ms... bin edges are 10^(k/10): 1.0, 1.2589, ...
        let bins = log_bins(
            [
                (1_000_000, 2),
                (1_050_000, 3),
                (1_200_000, 1),
                (100_000_000, 5),
                (0, 4),
            ]
            .into_iter(),
        );
        assert_eq!(
            bins[0],
            (0.001, 4),
            "zero and sub-microsecond values share the first bin"
        );
        assert_eq!(bins[1], (1.0, 2));
        assert_eq!(bins[2], (1.259, 4));
        assert_eq!(bins[3], (100.0, 5));
        assert_eq!(bins.iter().map(|b| b.1).sum::<u64>(), 15);
    }

    #[test]
    fn on_demand_series_are_aligned_and_queue_depth_carries_forward() {
        let mut s = SeriesCollector::new(2, 100);
        s.merged(0, 1, SimTime(10));
        s.merged(0, 3, SimTime(20));
        s.parked(1, 2, SimTime(120));
        s.parked(1, 1, SimTime(150));
        s.clock_error(0, -2_500_000, SimTime(210));
        s.at(SimTime(420));
        let f = s.finish(&[(1, SimTime(330)), (1, SimTime(399)), (0, SimTime(5))]);
        assert_eq!(f[0].sibling_merges, vec![1, 0, 0, 0, 0]);
        assert_eq!(f[0].siblings_max, vec![3, 0, 0, 0, 0]);
        assert_eq!(f[1].siblings_max, vec![0; 5], "padded in every region");
        // The queue held 2 then 1 in bucket 1, and still 1 in every later bucket.
        assert_eq!(f[1].conflicts_parked, vec![0, 2, 1, 1, 1]);
        assert_eq!(f[0].conflicts_parked, vec![0; 5]);
        assert_eq!(f[1].lost_updates, vec![0, 0, 0, 2, 0]);
        assert_eq!(f[0].lost_updates, vec![1, 0, 0, 0, 0]);
        assert_eq!(
            f[0].clock_error_ms,
            vec![None, None, Some(-2.5), None, None]
        );
        let quiet = SeriesCollector::new(1, 100).finish(&[]);
        assert!(quiet[0].siblings_max.is_empty() && quiet[0].lost_updates.is_empty());
    }

    #[test]
    fn series_buckets_carry_backlog_and_count_ops() {
        let mut s = SeriesCollector::new(2, 100);
        s.backlog_add(1, SimTime(10));
        s.backlog_add(1, SimTime(20));
        s.backlog_sub(1, SimTime(150));
        s.op(0, true, SimTime(160));
        s.op(0, false, SimTime(170));
        s.lag(1, 3_000_000, SimTime(260));
        s.at(SimTime(420));
        let f = s.finish(&[]);
        assert_eq!(f[1].backlog, vec![2, 2, 1, 1, 1]);
        assert_eq!(f[0].ops_ok, vec![0, 1, 0, 0, 0]);
        assert_eq!(f[0].ops_failed, vec![0, 1, 0, 0, 0]);
        assert_eq!(f[1].lag_max_ms, vec![0.0, 0.0, 3.0, 0.0, 0.0]);
    }

    #[test]
    fn staleness_buckets_by_age() {
        let mut st = StalenessCollector::default();
        st.record(500_000, true); // 0.5ms
        st.record(3_000_000, false); // 3ms
        st.record(3_500_000, true);
        st.record(200_000_000_000, false); // 200s: open-ended
        let b = st.finish();
        assert_eq!(b.len(), 3);
        assert_eq!((b[0].age_le_ms, b[0].reads, b[0].fresh), (1.0, 1, 1));
        assert_eq!((b[1].age_le_ms, b[1].reads, b[1].fresh), (5.0, 2, 1));
        assert_eq!((b[2].age_le_ms, b[2].reads), (120_000.0, 1));
    }
}
