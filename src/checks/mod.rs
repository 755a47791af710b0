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

use crate::engine::RunOutput;
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
