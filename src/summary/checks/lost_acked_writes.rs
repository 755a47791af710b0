//! `no-lost-acked-writes`: every acknowledged write survives somewhere (and, when a new primary
//! discards what it never received, none was cut from the history by a failover).

use super::{ms, result, Check, CheckResult, Inputs};

/// No acknowledged write is lost.
pub struct NoLostAckedWrites;

impl Check for NoLostAckedWrites {
    fn name(&self) -> &'static str {
        "no-lost-acked-writes"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let obs = &i.out.observer;
        let detail = match i.lost.first() {
            None => format!(
                "all {} acknowledged writes survive",
                crate::units::thousands(obs.writes_acked)
            ),
            Some(&first) => {
                let w = &obs.writes[first as usize];
                format!(
                    "{} acknowledged writes lost; first: write {} to key {} at {} (acked {:.3}ms, seed {})",
                    crate::units::thousands(i.lost.len() as u64),
                    first,
                    w.key,
                    i.names[w.origin.idx()],
                    ms(w.acked),
                    i.seed
                )
            }
        };
        result(self, i.lost.is_empty(), detail)
    }

    /// Async failover loses writes by design; a scenario that expects it bounds the loss.
    fn tolerated_by(&self, sc: &crate::scenario::Scenario) -> Option<&'static str> {
        (sc.expect.rpo_writes.is_some() || sc.expect.lost_acked_writes.is_some())
            .then_some("expect.rpo_writes / expect.lost_acked_writes")
    }
}
