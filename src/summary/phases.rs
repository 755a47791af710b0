//! What the system was doing when each fault began: the spans of failover, catch-up after a
//! heal and anti-entropy repair, and the phases in force at a given time.

use super::{ms, HealOut};
use crate::series::ReportData;
use crate::time::SimTime;

/// The phases a fault can begin in, in report order (`steady`: none of the others).
pub const PHASES: [&str; 4] = ["steady", "failover", "catch-up", "anti-entropy"];

/// The time spans (ms) of each phase but `steady`, from a run's failures, heals, backlog and
/// anti-entropy sessions; a failover still open at the end runs to `end_ms`. Catch-up after a
/// heal lasts until everything acknowledged before it is visible everywhere; if some write
/// never is (a rewound write, say), until every region's backlog is down to the floor it keeps
/// until the next heal, so writes that will never arrive do not stretch it to the end.
pub(super) fn phase_spans(
    failovers: &[crate::failures::FailureOut],
    heals: &[HealOut],
    rd: &ReportData,
    repairing: &[(SimTime, SimTime)],
    end_ms: f64,
) -> [(&'static str, Vec<(f64, f64)>); 3] {
    let failover = failovers
        .iter()
        .filter_map(|f| {
            let from = f.at_ms + f.detected_after_ms?;
            let back = f
                .rto_ms
                .or(f.elected_after_ms)
                .map_or(end_ms, |d| f.at_ms + d);
            Some((from, back.max(from)))
        })
        .collect();
    let catch_up = heals
        .iter()
        .enumerate()
        .filter_map(|(i, h)| {
            if let Some(d) = h.converged_after_ms {
                return Some((h.at_ms, h.at_ms + d));
            }
            if rd.bucket_ms <= 0.0 {
                return None;
            }
            let bucket = |t: f64| (t / rd.bucket_ms) as usize;
            let next = heals.get(i + 1).map_or(end_ms, |n| n.at_ms);
            let (from, to) = (bucket(h.at_ms), bucket(next).max(bucket(h.at_ms) + 1));
            let window = |b: &Vec<u64>| b[from.min(b.len())..to.min(b.len())].to_vec();
            let floors: Vec<u64> = rd
                .series
                .values()
                .map(|s| window(&s.backlog).into_iter().min().unwrap_or(0))
                .collect();
            let drained = (from..to).find(|&j| {
                rd.series
                    .values()
                    .zip(&floors)
                    .all(|(s, &f)| s.backlog.get(j).is_none_or(|&b| b <= f))
            })?;
            Some((h.at_ms, (drained as f64 * rd.bucket_ms).max(h.at_ms)))
        })
        .collect();
    let ae = repairing.iter().map(|&(a, b)| (ms(a), ms(b))).collect();
    [
        ("failover", failover),
        ("catch-up", catch_up),
        ("anti-entropy", ae),
    ]
}

/// The phases in force at `t` (a span holds its start, not its end); `steady` if none.
pub(super) fn phases_at(spans: &[(&'static str, Vec<(f64, f64)>)], t: f64) -> Vec<String> {
    let mut v: Vec<String> = spans
        .iter()
        .filter(|(_, s)| s.iter().any(|&(a, b)| a <= t && t < b))
        .map(|(name, _)| name.to_string())
        .collect();
    if v.is_empty() {
        v.push("steady".into());
    }
    v
}
