//! End-of-run checks as plug-ins. Each check is one file here: a type implementing [`Check`]
//! that reads the finished run ([`Inputs`]) and returns its verdict, or nothing when it does not
//! apply to the run (a `single-primary` check without failover). [`REGISTRY`] lists them in the
//! order `summary.json` and every report show them; `summary::build` runs the registry, and the
//! text, HTML and Markdown renderers list whatever results it holds, so a new check is its file
//! plus one line in [`REGISTRY`].
//!
//! Checks run once per run, after the simulation, and read only what the engine and its
//! observer recorded: they never perturb the simulation and cost nothing while it runs.

mod convergence;
mod counters_exact;
mod linearizable_reads;
mod lost_acked_writes;
mod or_map;
mod or_set;
mod session_guarantees;
mod single_primary;
mod strong_eventual;

use crate::metrics::RunOutput;
use crate::replica::Stamp;
use crate::scenario::Scenario;
use crate::summary::ConflictFacts;
use serde::{Deserialize, Serialize};

/// The checks of every run, in report order.
pub static REGISTRY: &[&dyn Check] = &[
    &convergence::Convergence,
    &lost_acked_writes::NoLostAckedWrites,
    &single_primary::SinglePrimary,
    &linearizable_reads::LinearizableReads,
    &strong_eventual::StrongEventualConsistency,
    &counters_exact::CountersExact,
    &or_set::OrSetSemantics,
    &or_map::OrMapSemantics,
    &session_guarantees::SessionGuarantees,
];

/// One check's verdict, as `summary.json` and the reports list it.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// One line: what held, or what broke first (with the seed to replay it).
    pub detail: String,
}

/// What a check may read once the run is over.
pub struct Inputs<'a> {
    pub sc: &'a Scenario,
    /// The engine's output; `out.observer` holds what the observer recorded.
    pub out: &'a RunOutput,
    /// Region names, by region index.
    pub names: &'a [String],
    pub seed: u64,
    /// Each key's final stamp.
    pub fin: &'a [Stamp],
    /// Acknowledged writes that were lost (write ids, ascending).
    pub lost: &'a [u32],
    /// Every region's state agrees (each key's replicas, with partial placement).
    pub final_digests_equal: bool,
    /// What conflict resolution did (runs with tables or a policy other than `lww`).
    pub conflicts: Option<&'a ConflictFacts>,
}

/// An end-of-run check.
pub trait Check: Sync {
    /// The name the check is listed under (kebab-case, stable: CI greps for it).
    fn name(&self) -> &'static str;

    /// The verdict, or `None` when the check does not apply to this run (it is then skipped:
    /// not listed, and it does not decide the run). The result carries [`Check::name`].
    fn finish(&self, inputs: &Inputs) -> Option<CheckResult>;

    /// The `expect:` keys that, when the scenario sets one, bound what this check finds, so
    /// that the bound decides instead of the check's zero tolerance (a scenario that expects
    /// loss under async failover). `None`: the check always decides.
    fn tolerated_by(&self, _sc: &Scenario) -> Option<&'static str> {
        None
    }
}

/// Runs `checks` in order and collects the results of those that apply; a failure that the
/// scenario's `expect:` bounds is marked tolerated and passes.
pub fn run(checks: &[&dyn Check], inputs: &Inputs) -> Vec<CheckResult> {
    let mut results = Vec::with_capacity(checks.len());
    for check in checks {
        let Some(mut r) = check.finish(inputs) else {
            continue;
        };
        if !r.passed {
            if let Some(by) = check.tolerated_by(inputs.sc) {
                r.passed = true;
                r.detail = format!("{} (tolerated: bounded by {by})", r.detail);
            }
        }
        results.push(r);
    }
    results
}

/// A result named after `check`.
fn result(check: &dyn Check, passed: bool, detail: String) -> Option<CheckResult> {
    Some(CheckResult {
        name: check.name().into(),
        passed,
        detail,
    })
}

/// A simulated time in milliseconds, as check details print it.
fn ms(t: crate::time::SimTime) -> f64 {
    crate::metrics::ns_to_ms(t.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A check that exists only here: it fails, naming the run's seed, unless `tolerated`
    /// (then `expect.lost_acked_writes` bounds it); `applies: false` skips it.
    struct Demo {
        applies: bool,
    }

    impl Check for Demo {
        fn name(&self) -> &'static str {
            "demo-check"
        }

        fn finish(&self, i: &Inputs) -> Option<CheckResult> {
            if !self.applies {
                return None;
            }
            result(
                self,
                false,
                format!("demo found {} regions (seed {})", i.names.len(), i.seed),
            )
        }

        fn tolerated_by(&self, sc: &Scenario) -> Option<&'static str> {
            sc.expect
                .lost_acked_writes
                .is_some()
                .then_some("expect.lost_acked_writes")
        }
    }

    fn summary(extra: &str, demo: &Demo) -> crate::summary::RunSummary {
        let sc = Scenario::parse(
            &format!(
                "name: demo\nseed: 3\nduration: 2s\nregions: [{{name: a}}, {{name: b}}]\nnetwork: {{latency: {{default: 10ms}}}}\nworkload: {{keys: 10, rate_per_region: 20, mix: {{write: 0.5, read: 0.5}}}}\n{extra}"
            ),
            "demo.yaml",
        )
        .unwrap();
        let sim = crate::simulate(&sc, crate::RunOptions::default()).unwrap();
        let mut registry: Vec<&dyn Check> = REGISTRY.to_vec();
        registry.push(demo);
        crate::summary::build_with(&sc, sim.seed, &sim.output, 0, &registry)
    }

    /// A check added to the registry is judged, decides the run, and is listed by the text,
    /// HTML and Markdown renderers without any of them naming it.
    #[test]
    fn a_registered_check_appears_in_every_rendering() {
        let s = summary("", &Demo { applies: true });
        let names: Vec<&str> = s.checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["convergence", "no-lost-acked-writes", "demo-check"]);
        let demo = &s.checks[2];
        assert!(!demo.passed);
        assert_eq!(demo.detail, "demo found 2 regions (seed 3)");
        assert!(!s.passed);
        assert_eq!(s.failed_names(), ["demo-check"]);

        let text = crate::report::text::render(&s);
        assert!(
            text.contains("\n  FAIL demo-check             demo found 2 regions (seed 3)\n"),
            "{text}"
        );
        let html = crate::report::html::render(&s, &[]);
        assert!(html.contains(
            r#"<tr><td class="bad">FAIL</td><td>demo-check</td><td>demo found 2 regions (seed 3)</td></tr>"#
        ));
        let md = crate::report::markdown::render(&s);
        assert!(
            md.contains("| **FAIL** | demo-check | demo found 2 regions (seed 3) |\n"),
            "{md}"
        );
    }

    /// A check that does not apply is not listed; a failure the scenario's `expect:` bounds is
    /// tolerated and passes.
    #[test]
    fn a_check_is_skipped_when_it_does_not_apply_and_tolerated_when_bounded() {
        let skipped = summary("", &Demo { applies: false });
        assert!(skipped.checks.iter().all(|c| c.name != "demo-check"));
        assert!(skipped.passed);

        let bounded = summary(
            "expect: {lost_acked_writes: {max: 0}}\n",
            &Demo { applies: true },
        );
        let demo = bounded
            .checks
            .iter()
            .find(|c| c.name == "demo-check")
            .unwrap();
        assert!(demo.passed);
        assert_eq!(
            demo.detail,
            "demo found 2 regions (seed 3) (tolerated: bounded by expect.lost_acked_writes)"
        );
        assert!(bounded.passed);
    }

    /// The registry lists each shipped check once, in report order.
    #[test]
    fn the_registry_lists_the_shipped_checks_in_report_order() {
        let names: Vec<&str> = REGISTRY.iter().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "convergence",
                "no-lost-acked-writes",
                "single-primary",
                "linearizable-reads",
                "strong-eventual-consistency",
                "counters-exact",
                "or-set-semantics",
                "or-map-semantics",
                "session-guarantees"
            ]
        );
    }
}
