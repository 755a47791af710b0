//! The terminal summary: a readable rendering of a `RunSummary`, computed from it alone.

use crate::metrics::StatsMs;
use crate::summary::RunSummary;
pub use crate::units::{human_bytes, human_ms, thousands};
use std::fmt::Write;

/// A signed duration, e.g. `-120ms` or `+3.2ms`.
fn signed_ms(ms: f64) -> String {
    if ms < 0.0 {
        format!("-{}", human_ms(-ms))
    } else {
        format!("+{}", human_ms(ms))
    }
}

fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.2}G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        format!("{x:.0}")
    }
}

fn stats_row(out: &mut String, label: &str, s: &StatsMs, width: usize) {
    let _ = writeln!(
        out,
        "  {label:<width$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        thousands(s.count),
        human_ms(s.p50),
        human_ms(s.p90),
        human_ms(s.p99),
        human_ms(s.p999),
        human_ms(s.max),
    );
}

fn mark(ok: bool) -> &'static str {
    if ok {
        "ok  "
    } else {
        "FAIL"
    }
}

/// Renders the whole terminal summary.
pub fn render(s: &RunSummary) -> String {
    let mut o = String::new();
    let w = s.regions.iter().map(|r| r.len()).max().unwrap_or(8).max(11);
    header(&mut o, s);
    workload(&mut o, s);
    levels(&mut o, s);
    visibility(&mut o, s, w);
    lag(&mut o, s, w);
    timeline(&mut o, s);
    messages(&mut o, s);
    anti_entropy(&mut o, s);
    clocks(&mut o, s, w);
    service(&mut o, s, w);
    stalest_pair(&mut o, s);
    stalls(&mut o, s, w);
    data_loss(&mut o, s);
    failures(&mut o, s);
    verdicts(&mut o, s);
    speed(&mut o, s);
    o
}

/// The title lines: scenario, seed, strategy, how to reproduce, warnings.
fn header(o: &mut String, s: &RunSummary) {
    let _ = writeln!(
        o,
        "regionsim {} | {} | seed {}",
        s.version, s.scenario, s.seed
    );
    let _ = writeln!(
        o,
        "  {} regions, {} simulated + {} quiesce{}, trace digest {}",
        s.regions.len(),
        human_ms(s.duration_ns as f64 / 1e6),
        human_ms(s.quiesce.ns as f64 / 1e6),
        if s.quiesce.drained {
            ""
        } else {
            " (NOT drained)"
        },
        s.trace_digest
    );
    if !s.replication.mode.is_empty() {
        let _ = writeln!(
            o,
            "  replication: {} over {} ({})",
            s.replication.mode, s.replication.topology, s.replication.detail
        );
    }
    let _ = writeln!(o, "  repro: {}", s.repro);
    for warning in &s.warnings {
        let _ = writeln!(o, "  warning: {warning}");
    }
}

/// Operations issued, acknowledged, failed and retried.
fn workload(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\nWorkload");
    let _ = writeln!(
        o,
        "  writes  {:>11} issued  {:>11} acked  {:>9} failed",
        thousands(s.writes.issued),
        thousands(s.writes.acked),
        thousands(s.writes.failed)
    );
    let stale_pct = if s.reads.total > 0 {
        format!(
            " ({:.2}%)",
            100.0 * s.reads.stale as f64 / s.reads.total as f64
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "  reads   {:>11} total   {:>11} stale{stale_pct}  {} failed",
        thousands(s.reads.total),
        thousands(s.reads.stale),
        thousands(s.reads.failed)
    );
    if s.writes.retries + s.reads.retries > 0 {
        let _ = writeln!(
            o,
            "  retries {:>11} writes  {:>11} reads (each operation counts once above)",
            thousands(s.writes.retries),
            thousands(s.reads.retries)
        );
    }
}

/// Client operations per consistency level.
fn levels(o: &mut String, s: &RunSummary) {
    if !s.levels.is_empty() {
        let _ = writeln!(
            o,
            "\nConsistency levels\n  {:<6} {:<8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>8} {:>7}  waits for",
            "op", "level", "ok", "failed", "p50", "p99", "max", "stale", "k-max"
        );
        for l in &s.levels {
            let stale = if l.op == "read" {
                format!("{:.2}%", l.stale_pct)
            } else {
                "-".into()
            };
            let k = if l.op == "read" {
                l.k_stale_max.to_string()
            } else {
                "-".into()
            };
            let _ = writeln!(
                o,
                "  {:<6} {:<8} {:>9} {:>7} {:>9} {:>9} {:>9} {:>8} {:>7}  {}",
                l.op,
                l.level,
                thousands(l.ok),
                thousands(l.failed),
                human_ms(l.latency_ms.p50),
                human_ms(l.latency_ms.p99),
                human_ms(l.latency_ms.max),
                stale,
                k,
                l.meaning
            );
        }
    }
}

/// From a write's ack until every region holds it, per origin.
fn visibility(o: &mut String, s: &RunSummary, w: usize) {
    let _ = writeln!(
        o,
        "\nVisibility: ack -> held in every region\n  {:<w$} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
        "origin", "count", "p50", "p90", "p99", "p99.9", "max"
    );
    stats_row(o, "all", &s.visibility_ms, w);
    for r in &s.regions {
        if let Some(st) = s.visibility_by_origin_ms.get(r) {
            stats_row(o, r, st, w);
        }
    }
    if s.visibility_incomplete > 0 {
        let _ = writeln!(
            o,
            "  {} acknowledged writes never became visible everywhere",
            thousands(s.visibility_incomplete)
        );
    }
}

/// Replication lag p99 per directed pair.
fn lag(o: &mut String, s: &RunSummary, w: usize) {
    let _ = writeln!(o, "\nReplication lag p99 (row: from, column: to)");
    let _ = write!(o, "  {:<w$}", "");
    for r in &s.regions {
        let _ = write!(o, " {r:>w$}");
    }
    let _ = writeln!(o);
    for a in &s.regions {
        let _ = write!(o, "  {a:<w$}");
        for b in &s.regions {
            let cell = if a == b {
                ".".to_string()
            } else {
                s.lag_ms
                    .get(&format!("{a}->{b}"))
                    .map_or("-".into(), |st| human_ms(st.p99))
            };
            let _ = write!(o, " {cell:>w$}");
        }
        let _ = writeln!(o);
    }
}

/// Faults and heals in time order.
fn timeline(o: &mut String, s: &RunSummary) {
    if !s.faults.is_empty() || !s.convergence.heals.is_empty() {
        let _ = writeln!(o, "\nTimeline");
        let mut rows: Vec<(f64, String)> = Vec::new();
        for f in &s.faults {
            let note = match (f.effects == Some(0), f.cut_off) {
                (true, _) => " (never took effect)",
                (false, true) => " (cut off by the end of the run)",
                _ => "",
            };
            rows.push((
                f.at_ms,
                format!("fault  {}{note}{}", f.label, super::during(&f.phases)),
            ));
        }
        for h in &s.convergence.heals {
            let after = h
                .converged_after_ms
                .map_or("never converged".to_string(), |v| {
                    format!("converged after {}", human_ms(v))
                });
            rows.push((h.at_ms, format!("heal   {} -> {after}", h.label)));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, text) in rows {
            let _ = writeln!(o, "  {:>9}  {text}", human_ms(t));
        }
    }
}

/// Message counts, bytes, egress cost, per link and per class.
fn messages(o: &mut String, s: &RunSummary) {
    let m = &s.messages;
    let _ = writeln!(o, "\nMessages");
    let _ = writeln!(
        o,
        "  sent {}  delivered {}  dropped {} (partition {}, loss {}, region down {})",
        thousands(m.sent),
        thousands(m.delivered),
        thousands(m.dropped),
        thousands(m.dropped_partition),
        thousands(m.dropped_loss),
        thousands(m.dropped_crashed)
    );
    let per_write = if s.writes.acked > 0 {
        format!(
            ", {:.1} msgs and {} per write",
            m.sent as f64 / s.writes.acked as f64,
            human_bytes(m.bytes / s.writes.acked)
        )
    } else {
        String::new()
    };
    let _ = writeln!(
        o,
        "  duplicated {}  retransmitted {}  {} on the wire{per_write}",
        thousands(m.duplicated),
        thousands(m.retransmitted),
        human_bytes(m.bytes)
    );

    let e = &s.efficiency;
    if let (Some(total), Some(per_m)) = (e.cost_usd, e.cost_per_million_writes_usd) {
        let _ = writeln!(
            o,
            "  egress cost ${total:.4} for this run, ${per_m:.2} per million writes"
        );
    }
    if s.messages.abandoned_entries > 0 {
        let _ = writeln!(
            o,
            "  {} log entries given up before a replica acknowledged them (no hinted handoff, or past log_retention)",
            thousands(s.messages.abandoned_entries)
        );
    }
    if !e.links.is_empty() && e.links.len() <= 30 {
        let lw = e
            .links
            .iter()
            .map(|l| l.link.len())
            .max()
            .unwrap_or(4)
            .max(4);
        let _ = writeln!(
            o,
            "  {:<lw$} {:>10} {:>10} {:>10} {:>10}",
            "link", "messages", "bytes", "B/write", "cost"
        );
        for l in &e.links {
            let _ = writeln!(
                o,
                "  {:<lw$} {:>10} {:>10} {:>10.1} {:>10}",
                l.link,
                thousands(l.messages),
                human_bytes(l.bytes),
                l.bytes_per_write,
                l.cost_usd.map_or("-".into(), |c| format!("${c:.4}"))
            );
        }
    }

    if e.classes.len() > 1 {
        let parts: Vec<String> = e
            .classes
            .iter()
            .map(|c| {
                format!(
                    "{} {} ({})",
                    c.class.replace('_', " "),
                    thousands(c.messages),
                    human_bytes(c.bytes)
                )
            })
            .collect();
        let _ = writeln!(o, "  by class: {}", parts.join(", "));
    }
}

/// Merkle-tree anti-entropy sessions and what they repaired.
fn anti_entropy(o: &mut String, s: &RunSummary) {
    if let Some(a) = &s.anti_entropy {
        let _ = writeln!(
            o,
            "\nAnti-entropy (Merkle tree, {} ranges, every {} to {} peer{})",
            a.leaves,
            human_ms(a.interval_ms),
            a.fanout,
            if a.fanout == 1 { "" } else { "s" }
        );
        let _ = writeln!(
            o,
            "  {} sessions ({} finished, {} already in sync), {:.1} messages per session (max {})",
            thousands(a.sessions),
            thousands(a.finished),
            thousands(a.in_sync),
            a.rounds_mean,
            a.rounds_max
        );
        let _ = writeln!(
            o,
            "  repaired {} keys with {} ({:.1}% of the {} a full-state transfer would have sent)",
            thousands(a.keys_repaired),
            human_bytes(a.bytes),
            a.bytes_vs_full_state_pct,
            human_bytes(a.full_state_bytes)
        );
    }
}

/// Per-region clocks and their time daemons.
fn clocks(o: &mut String, s: &RunSummary, w: usize) {
    if !s.clocks.is_empty() {
        let _ = writeln!(
            o,
            "\nClocks\n  {:<w$} {:>9} {:>9} {:>8} {:>8} {:>6} {:>6} {:>10} {:>10}",
            "region", "offset", "drift", "noise", "ntp", "polls", "steps", "max error", "at end"
        );
        for c in &s.clocks {
            let _ = writeln!(
                o,
                "  {:<w$} {:>9} {:>6.1}ppm {:>8} {:>8} {:>6} {:>6} {:>10} {:>10}",
                c.region,
                signed_ms(c.offset_ms),
                c.drift_ppm,
                human_ms(c.noise_ms),
                c.ntp_interval_ms.map_or("off".to_string(), human_ms),
                c.polls,
                c.steps,
                human_ms(c.max_error_ms),
                signed_ms(c.final_error_ms)
            );
        }
    }
}

/// Replica service queues.
fn service(o: &mut String, s: &RunSummary, w: usize) {
    if !s.service.is_empty() {
        let _ = writeln!(
            o,
            "\nReplica service\n  {:<w$} {:>9} {:>9} {:>6} {:>10} {:>10} {:>6}",
            "region", "writes", "reads", "busy", "wait mean", "wait max", "queue"
        );
        for sv in &s.service {
            let _ = writeln!(
                o,
                "  {:<w$} {:>9} {:>9} {:>5.1}% {:>10} {:>10} {:>6}",
                sv.region,
                thousands(sv.writes),
                thousands(sv.reads),
                sv.utilisation_pct,
                human_ms(sv.wait_mean_ms),
                human_ms(sv.wait_max_ms),
                sv.max_queue
            );
        }
    }
}

/// The writer/reader pair with the fewest fresh recent reads.
fn stalest_pair(o: &mut String, s: &RunSummary) {
    if let Some(worst) = s
        .staleness_pairs
        .iter()
        // Too few recent reads say nothing; the HTML table lists every pair.
        .filter(|p| p.writer != p.reader && p.reads_within_100ms >= 20)
        .min_by(|a, b| {
            a.fresh_within_100ms_pct
                .unwrap_or(100.0)
                .total_cmp(&b.fresh_within_100ms_pct.unwrap_or(100.0))
        })
        .filter(|p| p.fresh_within_100ms_pct.is_some())
    {
        let _ = writeln!(
            o,
            "\nStalest pair: reads at {} of writes from {}: {:.1}% of {} reads within 100ms of the ack were fresh; {}",
            worst.reader,
            worst.writer,
            worst.fresh_within_100ms_pct.unwrap_or(100.0),
            thousands(worst.reads_within_100ms),
            worst.t99_ms.map_or("never 99% fresh within the run".to_string(), |t| format!(
                "99% fresh after {}",
                human_ms(t)
            ))
        );
    }
}

/// Regions where a write stayed pending past the stall threshold.
fn stalls(o: &mut String, s: &RunSummary, w: usize) {
    if !s.stalls.is_empty() {
        let _ = writeln!(
            o,
            "\nStalled regions (a write pending there for over {})\n  {:<w$} {:>9} {:>9}  longest span, during",
            s.stall_after(),
            "region",
            "total",
            "longest"
        );
        for st in &s.stalls {
            let _ = writeln!(
                o,
                "  {:<w$} {:>9} {:>9}  {} - {}{}",
                st.region,
                human_ms(st.total_ms),
                human_ms(st.longest_ms),
                human_ms(st.longest_from_ms),
                human_ms(st.longest_to_ms),
                st.during
                    .as_ref()
                    .map_or(String::new(), |d| format!(", during {d}"))
            );
        }
    }
}

/// Lost writes and updates, conflict resolution and session guarantees.
fn data_loss(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\nData loss");
    let _ = writeln!(
        o,
        "  acknowledged writes lost: {}",
        thousands(s.lost_acked_writes)
    );
    for c in &s.crashes {
        let _ = writeln!(
            o,
            "    crash of {} at {}: {} lost",
            c.region,
            human_ms(c.at_ms),
            thousands(c.lost_acked_writes)
        );
    }
    let lu = &s.lost_updates;
    let _ = write!(
        o,
        "  lost updates (LWW overwrote a write it never saw): {} = {} concurrent + {} clock skew",
        thousands(lu.total),
        thousands(lu.concurrent),
        thousands(lu.skew)
    );
    if lu.skew > 0 {
        let _ = write!(o, " (max skew {})", human_ms(lu.max_skew_ms));
    }
    if lu.rejected > 0 {
        let _ = write!(
            o,
            "; plus {} later writes first-writer-wins refused",
            thousands(lu.rejected)
        );
    }
    let _ = writeln!(o);
    if let Some(c) = &s.conflicts {
        conflicts_section(o, c);
    }
    if let Some(v) = &s.sessions {
        let _ = writeln!(
            o,
            "\nSession guarantees ({} sessions)\n  read-your-writes {}  monotonic reads {}  monotonic writes {}  writes-follow-reads {} (violations)",
            thousands(v.sessions),
            thousands(v.read_your_writes),
            thousands(v.monotonic_reads),
            thousands(v.monotonic_writes),
            thousands(v.writes_follow_reads)
        );
    }
}

/// Failures: detection, failover, RPO and RTO, and the failover log.
fn failures(o: &mut String, s: &RunSummary) {
    if !s.failovers.is_empty() {
        let _ = writeln!(o, "\nFailures: detection, failover, RPO and RTO");
        let opt = |v: Option<f64>| v.map_or("-".to_string(), human_ms);
        let _ = writeln!(
            o,
            "  {:<9} {:<11} {:<16} {:>9} {:>9} {:<16} {:>9} {:>10} {:>9} {:>10}",
            "at",
            "kind",
            "region",
            "detected",
            "elected",
            "new primary",
            "RTO",
            "RPO writes",
            "window",
            "split-brain"
        );
        for f in &s.failovers {
            let _ = writeln!(
                o,
                "  {:<9} {:<11} {:<16} {:>9} {:>9} {:<16} {:>9} {:>10} {:>9} {:>10}",
                human_ms(f.at_ms),
                f.kind,
                f.region.as_deref().unwrap_or("-"),
                opt(f.detected_after_ms),
                opt(f.elected_after_ms),
                f.new_primary.as_deref().unwrap_or("-"),
                if f.rto_by_region_ms.is_empty() {
                    "none".to_string()
                } else {
                    crate::failures::describe_rto(f.rto_ms, f.rto_cut_off)
                },
                thousands(f.rpo_writes),
                human_ms(f.rpo_window_ms),
                thousands(f.split_brain_writes)
            );
            if !f.rto_by_region_ms.is_empty() {
                let parts: Vec<String> = f
                    .rto_by_region_ms
                    .iter()
                    .map(|(r, v)| {
                        format!("{r} {}", crate::failures::describe_back(*v, f.rto_cut_off))
                    })
                    .collect();
                let _ = writeln!(o, "            writes back: {}", parts.join(", "));
            }
            if let (Some(p), Some(rto)) = (&f.rto_phases, f.rto_ms) {
                let _ = writeln!(
                    o,
                    "            RTO {} = {}",
                    human_ms(rto),
                    p.describe(f.new_primary.is_some())
                );
            }
            if let Some(r) = &f.restore {
                let _ = writeln!(o, "            {}", r.describe());
            }
        }
        if let Some(fo) = &s.failover {
            let _ = writeln!(o, "  {}", fo.headline());
            for e in fo
                .events
                .iter()
                .filter(|e| !e.what.contains(" suspects "))
                .take(12)
            {
                let _ = writeln!(o, "    {:>9}  {}", human_ms(e.at_ms), e.what);
            }
        }
    }
}

/// Every check the run was judged by, and the scenario's expectations; failures first.
fn verdicts(o: &mut String, s: &RunSummary) {
    let _ = writeln!(o, "\nChecks");
    let mut checks: Vec<_> = s.checks.iter().collect();
    checks.sort_by_key(|c| c.passed);
    for c in checks {
        let _ = writeln!(o, "  {} {:<22} {}", mark(c.passed), c.name, c.detail);
    }
    if !s.expectations.is_empty() {
        let _ = writeln!(o, "Expectations");
        let mut exps: Vec<_> = s.expectations.iter().collect();
        exps.sort_by_key(|e| e.passed);
        for e in exps {
            let _ = writeln!(
                o,
                "  {} {:<22} expected {}, got {}",
                mark(e.passed),
                e.name,
                e.expected,
                e.actual
            );
        }
    }
}

/// Host speed of the run (the only line that differs between identical runs).
fn speed(o: &mut String, s: &RunSummary) {
    let wall = &s.wall;
    let memory = wall
        .peak_rss_bytes
        .map(|b| format!(", peak memory {}", human_bytes(b)))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "\nSpeed: {} events in {} ({} events/s, {:.0}x faster than real time{memory})",
        thousands(s.events),
        human_ms(wall.ms),
        si(wall.events_per_sec),
        wall.sim_to_wall_ratio
    );
}

/// Tables, their policies, and what the data checkers found.
fn conflicts_section(o: &mut String, c: &crate::summary::ConflictsOut) {
    let _ = writeln!(o, "\nConflict resolution");
    let _ = writeln!(
        o,
        "  {:<16} {:<11} {:<9} {:>7} {:>12}",
        "table", "policy", "shape", "keys", "writes acked"
    );
    for t in &c.tables {
        let _ = writeln!(
            o,
            "  {:<16} {:<11} {:<9} {:>7} {:>12}",
            t.name,
            t.policy,
            t.shape,
            thousands(t.keys),
            thousands(t.writes_acked)
        );
    }
    if c.max_siblings > 0 {
        let _ = writeln!(
            o,
            "  siblings: {} merges left concurrent values (at most {} on one key); {} keys still hold siblings",
            thousands(c.sibling_merges),
            c.max_siblings,
            thousands(c.keys_with_siblings)
        );
    }
    if c.gap_fetches > 0 {
        let _ = writeln!(
            o,
            "  delta gaps: {} whole values fetched because a delta arrived without its predecessors",
            thousands(c.gap_fetches)
        );
    }
    if let Some(m) = &c.manual {
        let _ = writeln!(
            o,
            "  manual: {} conflicts parked, {} resolved by the operator ({}), {} by clients' writes, {} unresolved; queue at most {}, wait mean {} max {}",
            thousands(m.parked),
            thousands(m.resolved_by_operator),
            m.operator_delay_ms
                .map_or("no operator".to_string(), |d| format!("after {}", human_ms(d))),
            thousands(m.resolved_by_clients),
            thousands(m.unresolved),
            m.max_queue,
            human_ms(m.wait_mean_ms),
            human_ms(m.wait_max_ms)
        );
    }
    if c.counter_keys > 0 {
        let _ = writeln!(
            o,
            "  counters: {} of {} wrong, off by {} in all",
            thousands(c.counters_wrong),
            thousands(c.counter_keys),
            thousands(c.counter_error)
        );
    }
    if c.set_keys > 0 {
        let _ = writeln!(
            o,
            "  sets (add-wins): {} wrong elements in {} keys",
            thousands(c.set_violations),
            thousands(c.set_keys)
        );
    }
    if c.map_keys > 0 {
        let _ = writeln!(
            o,
            "  maps (add-wins per field): {} wrong fields in {} keys; {} field writes lost, {} of them to clock skew",
            thousands(c.map_violations),
            thousands(c.map_keys),
            thousands(c.lost_field_writes),
            thousands(c.field_skew_losses)
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(thousands(100), "100");
        assert_eq!(human_ms(0.5), "500us");
        assert_eq!(human_ms(45.25), "45.2ms");
        assert_eq!(human_ms(2310.0), "2.31s");
        assert_eq!(human_ms(300_000.0), "5.0min");
        assert_eq!(human_bytes(2048), "2.0 KiB");
    }
}
