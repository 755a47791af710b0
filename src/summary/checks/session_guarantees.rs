//! `session-guarantees` (runs with `workload.sessions`): read-your-writes, monotonic reads,
//! monotonic writes and writes-follow-reads held for every session.

use super::{result, Check, CheckResult, Inputs};

/// Every session's guarantees held.
pub struct SessionGuarantees;

impl Check for SessionGuarantees {
    fn name(&self) -> &'static str {
        "session-guarantees"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        if i.sc.workload.sessions == 0 {
            return None;
        }
        let v = &i.out.observer.sessions.violations;
        let total =
            v.read_your_writes + v.monotonic_reads + v.monotonic_writes + v.writes_follow_reads;
        let detail = if total == 0 {
            format!(
                "{} sessions: every read saw the session's own writes and earlier reads; every region applied each session's writes in order, after what it had read",
                v.sessions
            )
        } else {
            format!(
                "{} violations: read-your-writes {}, monotonic reads {}, monotonic writes {}, writes-follow-reads {}; first: {} (seed {})",
                total,
                v.read_your_writes,
                v.monotonic_reads,
                v.monotonic_writes,
                v.writes_follow_reads,
                v.examples.first().map_or("", |e| e.as_str()),
                i.seed
            )
        };
        result(self, total == 0, detail)
    }
}
