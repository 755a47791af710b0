//! `summary.md`: a short Markdown verdict for CI job summaries and pull requests.

use crate::summary::RunSummary;
use crate::units::{human_ms, thousands};
use std::fmt::Write;

/// Markdown table cells must not break the table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(s: &RunSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### {} `{}` (seed {})\n",
        if s.passed { "PASS" } else { "FAIL" },
        cell(&s.scenario),
        s.seed
    );
    let _ = writeln!(
        o,
        "Reproduce: `{}`  \nTrace digest: `{}`\n",
        s.repro, s.trace_digest
    );
    let _ = writeln!(o, "| result | check | detail |\n|---|---|---|");
    for (ok, name, detail) in s.verdict_rows() {
        let _ = writeln!(
            o,
            "| {} | {} | {} |",
            if ok { "pass" } else { "**FAIL**" },
            cell(&name),
            cell(&detail)
        );
    }
    let v = &s.visibility_ms;
    let _ = writeln!(o, "\n| metric | value |\n|---|---|");
    let _ = writeln!(
        o,
        "| visibility p50 / p99 / max | {} / {} / {} |",
        human_ms(v.p50),
        human_ms(v.p99),
        human_ms(v.max)
    );
    let _ = writeln!(
        o,
        "| writes acked / failed | {} / {} |",
        thousands(s.writes.acked),
        thousands(s.writes.failed)
    );
    let _ = writeln!(
        o,
        "| acknowledged writes lost | {} |",
        thousands(s.lost_acked_writes)
    );
    if !s.failovers.is_empty() {
        let _ = writeln!(
            o,
            "| RPO: writes lost / longest window | {} / {} |",
            thousands(s.rpo.writes),
            human_ms(s.rpo.max_window_ms)
        );
        let _ = writeln!(
            o,
            "| RTO: longest / outages | {} / {} |",
            if s.rto.unrecovered > 0 {
                "never".to_string()
            } else if s.rto.max_cut_off {
                crate::failures::describe_rto(s.rto.max_ms, true)
            } else {
                s.rto.max_ms.map_or("-".to_string(), human_ms)
            },
            s.rto.outages
        );
    }
    let _ = writeln!(
        o,
        "| lost updates (concurrent + skew) | {} ({} + {}) |",
        thousands(s.lost_updates.total),
        thousands(s.lost_updates.concurrent),
        thousands(s.lost_updates.skew)
    );
    let _ = writeln!(
        o,
        "| stale reads | {} of {} |",
        thousands(s.reads.stale),
        thousands(s.reads.total)
    );
    for h in &s.convergence.heals {
        let _ = writeln!(
            o,
            "| converged after {} at {} | {} |",
            cell(&h.label),
            human_ms(h.at_ms),
            h.converged_after_ms.map_or("never".into(), human_ms)
        );
    }
    let _ = writeln!(
        o,
        "| messages sent / dropped / retransmitted | {} / {} / {} |",
        thousands(s.messages.sent),
        thousands(s.messages.dropped),
        thousands(s.messages.retransmitted)
    );
    o
}
