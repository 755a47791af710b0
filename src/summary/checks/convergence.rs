//! `convergence`: after quiesce every region holds the same state (with partial placement:
//! every key's replicas agree), and replication drained.

use super::{result, Check, CheckResult, Inputs};

/// Every region ends in the same state.
pub struct Convergence;

impl Check for Convergence {
    fn name(&self) -> &'static str {
        "convergence"
    }

    fn finish(&self, i: &Inputs) -> Option<CheckResult> {
        let (sc, out, names, seed) = (i.sc, i.out, i.names, i.seed);
        let n = names.len();
        let digests = &out.region_digests;
        let partial = sc.plan.holders.is_some();
        let converged = i.final_digests_equal && out.drained;
        let detail = if converged && partial {
            format!(
                "every key's replicas agree across all {n} regions ({} keys)",
                sc.workload.keys
            )
        } else if converged {
            format!(
                "all {n} regions hold state digest {:016x}",
                digests[0].unwrap_or(0)
            )
        } else if partial && out.drained && out.divergent_keys > 0 {
            format!(
                "{} keys have replicas that disagree after quiesce; first: key {} (seed {seed})",
                out.divergent_keys,
                out.first_divergent_key.unwrap_or(0)
            )
        } else if !out.drained {
            format!(
                "replication had not drained {} after the run (quiesce_limit); regions {}",
                sc.quiesce_limit,
                if i.final_digests_equal {
                    "happen to agree"
                } else {
                    "differ"
                }
            )
        } else {
            let parts: Vec<String> = digests
                .iter()
                .zip(names)
                .map(|(d, n)| format!("{n}={}", d.map_or("down".into(), |d| format!("{d:016x}"))))
                .collect();
            format!(
                "region states differ after quiesce: {}; {} (seed {seed})",
                parts.join(", "),
                which_differ(
                    out.divergent_keys,
                    out.first_divergent_key,
                    out.view_mismatch.as_ref(),
                    names
                )
            )
        };
        result(self, converged, detail)
    }
}

/// What differs between regions whose state digests disagree. Cells are compared key by key;
/// a merging table can agree on every cell and still differ in its values, which the view
/// comparison names instead.
fn which_differ(
    divergent_keys: u64,
    first_divergent_key: Option<u64>,
    view_mismatch: Option<&crate::engine::ViewMismatch>,
    names: &[String],
) -> String {
    match (first_divergent_key, view_mismatch) {
        (Some(k), _) => format!("{divergent_keys} keys differ, first: key {k}"),
        (None, Some(m)) => format!(
            "every key's cell agrees but the values of key {} differ ({} and {})",
            m.key,
            names[m.a.idx()],
            names[m.b.idx()]
        ),
        (None, None) => {
            "every key's cell and value agree; the difference is in replica metadata".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ViewMismatch;
    use crate::replica::data::View;
    use crate::replica::RegionId;

    #[test]
    fn a_divergence_names_the_key_whether_cells_or_only_values_differ() {
        let names = vec!["us".to_string(), "eu".to_string()];
        let m = ViewMismatch {
            key: 7,
            a: RegionId(0),
            b: RegionId(1),
            a_view: Some(View::Count(1)),
            b_view: Some(View::Count(2)),
        };
        assert_eq!(
            which_differ(3, Some(4), Some(&m), &names),
            "3 keys differ, first: key 4"
        );
        assert_eq!(
            which_differ(0, None, Some(&m), &names),
            "every key's cell agrees but the values of key 7 differ (us and eu)"
        );
        assert_eq!(
            which_differ(0, None, None, &names),
            "every key's cell and value agree; the difference is in replica metadata"
        );
    }
}
