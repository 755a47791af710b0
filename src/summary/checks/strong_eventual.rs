//! `strong-eventual-consistency` (runs with data types: counters, sets, maps): every live
//! replica holds the same value of each key once the run is quiet.

use super::{result, Check, CheckResult, Inputs};

/// Replicas of typed data agree value by value.
pub struct StrongEventualConsistency;

impl Check for StrongEventualConsistency {
    fn name(&self) -> &'static str {
        "strong-eventual-consistency"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let facts = i.conflicts?;
        if !i.sc.plan.tables.has_data() {
            return None;
        }
        let out = i.out;
        let drained = out.drained;
        let detail = match (&out.view_mismatch, drained) {
            (None, true) => format!(
                "every live replica holds the same value of each of the {} keys with data",
                facts.keys_with_data
            ),
            (None, false) => "replication had not drained, so the run never went quiet".into(),
            (Some(m), _) => format!(
                "key {} differs after quiesce: {} holds {:?}, {} holds {:?} (seed {})",
                m.key,
                i.names[m.a.idx()],
                m.a_view,
                i.names[m.b.idx()],
                m.b_view,
                i.seed
            ),
        };
        result(self, drained && out.view_mismatch.is_none(), detail)
    }
}
