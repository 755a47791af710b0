//! `or-set-semantics` (runs with add-wins set tables): an element is present iff some surviving
//! add of it was seen by no remove.

use super::{ms, result, Check, CheckResult, Inputs};

/// Sets follow add-wins (OR-Set) semantics.
pub struct OrSetSemantics;

impl Check for OrSetSemantics {
    fn name(&self) -> &'static str {
        "or-set-semantics"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let facts = i.conflicts?;
        let c = &facts.out;
        if c.set_keys == 0 {
            return None;
        }
        let obs = &i.out.observer;
        let detail = match facts.first_wrong_element {
            None => format!(
                "in all {} set keys an element is present iff an add of it was seen by no remove",
                c.set_keys
            ),
            Some((k, e, missing)) => {
                let adds = obs.adds_of(k as u32, e);
                let example = adds.last().map_or(String::new(), |&w| {
                    let r = &obs.writes[w as usize];
                    format!(
                        "; its last add was write {w} at {}, acked {:.3}ms",
                        i.names[r.origin.idx()],
                        ms(r.acked)
                    )
                });
                format!(
                    "{} wrong elements in {} set keys; first: key {k} element {e} is {} but should {}{example} (seed {})",
                    c.set_violations,
                    c.set_keys,
                    if missing { "missing" } else { "present" },
                    if missing {
                        "be there (an add of it was never seen by a remove)"
                    } else {
                        "not (every add of it was removed)"
                    },
                    i.seed
                )
            }
        };
        result(self, facts.first_wrong_element.is_none(), detail)
    }
}
