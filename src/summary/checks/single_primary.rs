//! `single-primary` (runs with `replication.failover`): no deposed primary accepted a write
//! while a newer primary led (split brain).

use super::{ms, result, Check, CheckResult, Inputs};

/// At most one primary accepts writes at a time.
pub struct SinglePrimary;

impl Check for SinglePrimary {
    fn name(&self) -> &'static str {
        "single-primary"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        i.sc.plan.failover.as_ref()?;
        let obs = &i.out.observer;
        let split = obs.fo.split_brain.len();
        let detail = if split == 0 {
            "no primary accepted a write while a newer primary led".to_string()
        } else {
            let (t, op) = obs.fo.split_brain[0];
            let w = &obs.writes[op.0 as usize];
            format!(
                "{split} writes accepted by a deposed primary (split brain); first: write {} to key {} at {} ({:.3}ms, seed {})",
                op.0,
                w.key,
                i.names[w.origin.idx()],
                ms(t),
                i.seed
            )
        };
        result(self, split == 0, detail)
    }

    /// `fencing: none` allows split brain; a scenario that expects it bounds it.
    fn tolerated_by(&self, sc: &crate::scenario::Scenario) -> Option<&'static str> {
        sc.expect
            .split_brain_writes
            .is_some()
            .then_some("expect.split_brain_writes")
    }
}
