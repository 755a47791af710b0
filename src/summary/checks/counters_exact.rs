//! `counters-exact` (runs with counter tables): each counter's converged value is the sum of
//! its surviving acknowledged increments and decrements.

use super::{ms, result, Check, CheckResult, Inputs};

/// Counters count exactly.
pub struct CountersExact;

impl Check for CountersExact {
    fn name(&self) -> &'static str {
        "counters-exact"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let facts = i.conflicts?;
        let c = &facts.out;
        if c.counter_keys == 0 {
            return None;
        }
        let obs = &i.out.observer;
        let detail = match facts.first_wrong_counter {
            None => format!(
                "all {} counters equal the sum of their acknowledged increments and decrements",
                c.counter_keys
            ),
            Some((k, want, actual)) => {
                // A register policy overwrote increments it never saw: name one of them.
                let lost = if i.sc.plan.tables.policy(crate::replica::Key(k)).merges() {
                    Vec::new()
                } else {
                    obs.lost_update_ops(k as u32)
                };
                let example = lost.first().map_or(String::new(), |&w| {
                    let r = &obs.writes[w as usize];
                    format!(
                        "; e.g. write {w} ({:?}) at {}, acked {:.3}ms, was overwritten by a write that never saw it",
                        r.kind(),
                        i.names[r.origin.idx()],
                        ms(r.acked)
                    )
                });
                format!(
                    "{} of {} counters are off by {} in all; first: key {k} is {actual}, its surviving acknowledged operations add up to {want}{example} (seed {})",
                    c.counters_wrong, c.counter_keys, c.counter_error, i.seed
                )
            }
        };
        result(self, facts.first_wrong_counter.is_none(), detail)
    }
}
