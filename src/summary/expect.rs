//! The scenario's `expect:` block judged against a finished summary.

use super::{Expectation, RunSummary};
use crate::scenario::{Bound, Scenario};
use crate::time::Span;

fn count_bound(name: &str, b: &Bound<u64>, actual: u64) -> Expectation {
    let mut parts = vec![];
    let mut ok = true;
    if let Some(min) = b.min {
        parts.push(format!(">= {min}"));
        ok &= actual >= min;
    }
    if let Some(max) = b.max {
        parts.push(format!("<= {max}"));
        ok &= actual <= max;
    }
    Expectation {
        name: name.into(),
        passed: ok,
        expected: parts.join(" and "),
        actual: actual.to_string(),
    }
}

fn span_bound(name: &str, b: &Bound<Span>, actual_ms: Option<f64>) -> Expectation {
    let mut parts = vec![];
    let mut ok = actual_ms.is_some();
    let a = actual_ms.unwrap_or(f64::INFINITY);
    if let Some(min) = b.min {
        parts.push(format!(">= {min}"));
        ok &= a >= min.as_ms_f64();
    }
    if let Some(max) = b.max {
        parts.push(format!("<= {max}"));
        ok &= a <= max.as_ms_f64();
    }
    Expectation {
        name: name.into(),
        passed: ok,
        expected: parts.join(" and "),
        actual: actual_ms.map_or("never".into(), crate::units::human_ms),
    }
}

/// Checks the scenario's `expect:` block against a summary.
pub fn evaluate(sc: &Scenario, s: &RunSummary) -> Vec<Expectation> {
    let e = &sc.expect;
    let mut out = Vec::new();
    if let Some(want) = e.converged {
        out.push(Expectation {
            name: "converged".into(),
            passed: s.convergence.converged == want,
            expected: want.to_string(),
            actual: s.convergence.converged.to_string(),
        });
    }
    let counts = [
        (
            "lost_acked_writes",
            &e.lost_acked_writes,
            s.lost_acked_writes,
        ),
        ("lost_updates", &e.lost_updates, s.lost_updates.total),
        (
            "skew_lost_updates",
            &e.skew_lost_updates,
            s.lost_updates.skew,
        ),
        (
            "unresolved_conflicts",
            &e.unresolved_conflicts,
            s.conflicts
                .as_ref()
                .and_then(|c| c.manual.as_ref())
                .map_or(0, |m| m.unresolved),
        ),
        ("stale_reads", &e.stale_reads, s.reads.stale),
        ("failed_writes", &e.failed_writes, s.writes.failed),
    ];
    for (name, bound, actual) in counts {
        if let Some(b) = bound {
            out.push(count_bound(name, b, actual));
        }
    }
    let vis = &s.visibility_ms;
    let has = vis.count > 0;
    let spans = [
        ("visibility_p50", &e.visibility_p50, vis.p50),
        ("visibility_p90", &e.visibility_p90, vis.p90),
        ("visibility_p99", &e.visibility_p99, vis.p99),
        ("visibility_max", &e.visibility_max, vis.max),
    ];
    for (name, bound, actual) in spans {
        if let Some(b) = bound {
            out.push(span_bound(name, b, has.then_some(actual)));
        }
    }
    if let Some(b) = &e.after_heal {
        // The slowest heal; "never" if any heal did not converge.
        let worst = s
            .convergence
            .after_heal_ms
            .iter()
            .try_fold(0.0f64, |acc, v| v.map(|v| acc.max(v)));
        out.push(span_bound("after_heal", b, worst));
    }
    if let Some(b) = &e.rpo_writes {
        out.push(count_bound("rpo_writes", b, s.rpo.writes));
    }
    if let Some(b) = &e.rpo_window {
        out.push(span_bound("rpo_window", b, Some(s.rpo.max_window_ms)));
    }
    if let Some(b) = &e.rto {
        let worst = if s.rto.unrecovered > 0 {
            None
        } else {
            Some(s.rto.max_ms.unwrap_or(0.0))
        };
        let mut x = span_bound("rto", b, worst);
        if s.rto.max_cut_off {
            // Only a lower bound is known: a `max` cannot be shown to hold; a `min` holds if the
            // lower bound already meets it.
            x.passed = b.max.is_none() && b.min.is_none_or(|m| worst >= Some(m.as_ms_f64()));
            x.actual = crate::failures::describe_rto(worst, true);
        }
        out.push(x);
    }
    if let Some(b) = &e.split_brain_writes {
        let n = s.failover.as_ref().map_or(0, |f| f.split_brain_writes);
        out.push(count_bound("split_brain_writes", b, n));
    }
    if let Some(d) = &e.trace_digest {
        out.push(Expectation {
            name: "trace_digest".into(),
            passed: d.eq_ignore_ascii_case(&s.trace_digest),
            expected: d.to_lowercase(),
            actual: s.trace_digest.clone(),
        });
    }
    out
}
