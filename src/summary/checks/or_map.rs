//! `or-map-semantics` (runs with add-wins map tables, or register policies writing whole
//! documents): each field holds exactly the puts of it that no remove or later put had seen.

use super::{result, Check, CheckResult, Inputs};

/// Maps follow add-wins (OR-Map) semantics field by field.
pub struct OrMapSemantics;

impl Check for OrMapSemantics {
    fn name(&self) -> &'static str {
        "or-map-semantics"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let facts = i.conflicts?;
        let c = &facts.out;
        if c.map_keys == 0 {
            return None;
        }
        let obs = &i.out.observer;
        let describe = |w: u32| {
            let r = &obs.writes[w as usize];
            format!(
                "write {w} ({:?}) at {}, issued {:.3}ms",
                r.kind(),
                i.names[r.origin.idx()],
                crate::metrics::ns_to_ms(r.issued.0)
            )
        };
        let detail = match &facts.first_wrong_field {
            None => format!(
                "in all {} map keys each field holds exactly the puts of it that no remove or later put had seen",
                c.map_keys
            ),
            Some((k, f, have, want)) => {
                let list = |ws: &[u32]| {
                    if ws.is_empty() {
                        "nothing (absent)".to_string()
                    } else {
                        ws.iter().map(|&w| describe(w)).collect::<Vec<_>>().join(", ")
                    }
                };
                format!(
                    "{} wrong fields in {} map keys, {} field writes lost ({} to an older write by clock skew); first: key {k} field {f} holds {} but should hold {} (seed {})",
                    c.map_violations,
                    c.map_keys,
                    c.lost_field_writes,
                    c.field_skew_losses,
                    list(have),
                    list(want),
                    i.seed
                )
            }
        };
        result(self, facts.first_wrong_field.is_none(), detail)
    }
}
