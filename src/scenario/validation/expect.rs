//! The `expect` section: bounds on the run's numbers, and the trace digest to reproduce.

use super::*;

pub(in crate::scenario) fn expect(v: &Validator, e: &ExpectSpec) -> Result<Expect, ScenarioError> {
    let trace_digest = match &e.trace_digest {
        Some(d) if d.len() != 16 || !d.chars().all(|c| c.is_ascii_hexdigit()) => {
            return Err(v.err(
                "expect.trace_digest",
                format!("`{d}` is not a 16-digit hex digest"),
            ));
        }
        d => d.as_ref().map(|d| d.to_lowercase()),
    };
    Ok(Expect {
        converged: e.converged,
        lost_acked_writes: e.lost_acked_writes,
        lost_updates: e.lost_updates,
        skew_lost_updates: e.skew_lost_updates,
        unresolved_conflicts: e.unresolved_conflicts,
        stale_reads: e.stale_reads,
        failed_writes: e.failed_writes,
        visibility_p50: e.visibility_p50,
        visibility_p90: e.visibility_p90,
        visibility_p99: e.visibility_p99,
        visibility_max: e.visibility_max,
        after_heal: e.after_heal,
        rpo_writes: e.rpo_writes,
        rpo_window: e.rpo_window,
        rto: e.rto,
        split_brain_writes: e.split_brain_writes,
        trace_digest,
    })
}
