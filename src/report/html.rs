//! The HTML report: one self-contained file (inline SVG and CSS, no network fetches) that a team
//! can open, attach to a design review and trust. Every string from the scenario is escaped.

use super::charts::ChartKind;
use crate::summary::RunSummary;
use crate::units::{human_bytes, human_ms, thousands};
use std::fmt::Write;

/// Escapes text for HTML element content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

pub(crate) const CSS: &str = r#"
:root { --fg:#1d2330; --muted:#5b6475; --line:#e3e6ec; --ok:#0a7d4f; --bad:#b3261e; --bg:#f7f8fa; }
* { box-sizing: border-box; }
body { margin:0; font:15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
main { max-width: 1080px; margin: 0 auto; padding: 28px 20px 60px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 14px; }
.verdict { display:inline-block; padding: 4px 12px; border-radius: 6px; color: #fff; font-weight: 700; letter-spacing: .04em; }
.pass { background: var(--ok); } .fail { background: var(--bad); }
code, pre { font: 13px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 12px; overflow-x: auto; }
.repro { background:#fff; border:1px solid var(--line); border-radius:6px; padding:8px 12px; display:inline-block; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #f0f2f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.ok { color: var(--ok); font-weight: 700; } .bad { color: var(--bad); font-weight: 700; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 10px; }
.card { background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px 12px; }
.card .k { color: var(--muted); font-size: 13px; } .card .v { font-size: 20px; font-weight: 650; }
figure { margin: 18px 0; background:#fff; border:1px solid var(--line); border-radius:8px; padding: 10px; }
figure svg { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { color: var(--muted); font-size: 13px; margin-top: 6px; }
.warn { background:#fff7e0; border:1px solid #f0d48a; border-radius:6px; padding:8px 12px; }
"#;

fn card(o: &mut String, k: &str, v: &str) {
    let _ = write!(
        o,
        r#"<div class="card"><div class="k">{}</div><div class="v">{}</div></div>"#,
        esc(k),
        esc(v)
    );
}

/// What each chart shows, for its caption.
fn chart_caption(k: ChartKind) -> &'static str {
    match k {
        ChartKind::VisibilityCdf => "Fraction of acknowledged writes visible in every region within a given time, per origin region.",
        ChartKind::LagHistograms => "Distribution of replication lag (ack at the origin until the target holds the write or a newer value), per directed pair; log time axis.",
        ChartKind::Timeline => "Acknowledged writes from other regions not yet held by each region. Shaded: partitions (red), degraded links (orange), regions down (grey); purple lines: clock steps.",
        ChartKind::Availability => "Share of each region's client operations that succeeded per time bucket; grey spans: the region was down.",
        ChartKind::Staleness => "For reads, the probability of returning the latest acknowledged write, by how long ago that write was acknowledged.",
        ChartKind::LatencyHeatmap => "The one-way latency configured for each directed pair (the median of its distribution).",
        ChartKind::LagHeatmap => "The 99th percentile of observed replication lag for each directed pair.",
        ChartKind::StalenessHeatmap => "Row: the region whose clients wrote the key's newest acknowledged value; column: the region reading it. Each cell is the age (since the ack) after which at least 99% of reads returned that write, by staleness bucket; blank: no such reads, or never 99% fresh within the run.",
        ChartKind::Conflicts => "Per time bucket and region: acknowledged writes of that region later overwritten by a write that never saw them (solid, by acknowledgement time), and merges there that left a key with concurrent values (dashed). Shaded: faults.",
        ChartKind::Siblings => "The most concurrent values (siblings) one key held in each region per time bucket (solid); for `manual` tables, conflicts waiting in the region's operator queue (dashed).",
        ChartKind::ClockError => "What each region's time daemon measured at its polls: wall clock minus true time before it stepped or slewed the error away. Drift makes the saw-tooth; steps are jumps.",
        ChartKind::Sequence => "Regions as vertical lines, messages as arrows, time running down, in a short window around the first fault (choose one, optionally for one key, with `report.sequence` in the scenario).",
    }
}

/// Renders the report; `charts` are (kind, SVG document) in display order.
pub fn render(s: &RunSummary, charts: &[(ChartKind, String)]) -> String {
    let mut o = String::with_capacity(64 * 1024);
    header(&mut o, s);
    verdict(&mut o, s);
    cards(&mut o, s);
    chart_figures(&mut o, charts);
    timeline(&mut o, s);
    crashes(&mut o, s);
    failure_table(&mut o, s);
    leadership(&mut o, s);
    levels(&mut o, s);
    stalls(&mut o, s);
    traffic(&mut o, s);
    conflicts(&mut o, s);
    anti_entropy(&mut o, s);
    clocks(&mut o, s);
    service(&mut o, s);
    staleness(&mut o, s);
    lag(&mut o, s);
    footer(&mut o, s);
    o
}

/// The title, verdict badge, description, strategy, repro line and warnings.
fn header(o: &mut String, s: &RunSummary) {
    let verdict = if s.passed {
        ("PASS", "pass")
    } else {
        ("FAIL", "fail")
    };
    let _ = write!(
        o,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{} (seed {}): regionsim report</title><style>{CSS}</style></head><body><main>"#,
        esc(&s.scenario),
        s.seed
    );
    let _ = write!(
        o,
        r#"<h1>{} <span class="verdict {}">{}</span></h1><p class="sub">{} regions &middot; {} simulated (+{} quiesce) &middot; seed {} &middot; regionsim {} &middot; trace digest <code>{}</code></p>"#,
        esc(&s.scenario),
        verdict.1,
        verdict.0,
        s.regions.len(),
        esc(&human_ms(s.duration_ns as f64 / 1e6)),
        esc(&human_ms(s.quiesce.ns as f64 / 1e6)),
        s.seed,
        esc(&s.version),
        esc(&s.trace_digest)
    );
    if let Some(d) = &s.description {
        let _ = write!(o, "<p>{}</p>", esc(d));
    }
    if !s.replication.mode.is_empty() {
        let _ = write!(
            o,
            "<p>Replication: <strong>{}</strong> over <strong>{}</strong> ({})</p>",
            esc(&s.replication.mode),
            esc(&s.replication.topology),
            esc(&s.replication.detail)
        );
    }
    let _ = write!(
        o,
        r#"<p>Reproduce: <code class="repro">{}</code></p>"#,
        esc(&s.repro)
    );
    for w in &s.warnings {
        let _ = write!(o, r#"<p class="warn">Warning: {}</p>"#, esc(w));
    }
}

/// Every check and expectation, failures first.
fn verdict(o: &mut String, s: &RunSummary) {
    // Verdict: failures first.
    let _ = write!(
        o,
        "<h2>Verdict</h2><table><tr><th>result</th><th>check</th><th>detail</th></tr>"
    );
    for (ok, name, detail) in s.verdict_rows() {
        let _ = write!(
            o,
            r#"<tr><td class="{}">{}</td><td>{}</td><td>{}</td></tr>"#,
            if ok { "ok" } else { "bad" },
            if ok { "pass" } else { "FAIL" },
            esc(&name),
            esc(&detail)
        );
    }
    o.push_str("</table>");
}

/// Headline numbers.
fn cards(o: &mut String, s: &RunSummary) {
    // Headline numbers.
    o.push_str(r#"<h2>Summary</h2><div class="cards">"#);
    let v = &s.visibility_ms;
    card(
        o,
        "visibility p50 / p99",
        &format!("{} / {}", human_ms(v.p50), human_ms(v.p99)),
    );
    card(o, "visibility max", &human_ms(v.max));
    card(
        o,
        "writes acked / failed",
        &format!(
            "{} / {}",
            thousands(s.writes.acked),
            thousands(s.writes.failed)
        ),
    );
    card(
        o,
        "acknowledged writes lost",
        &thousands(s.lost_acked_writes),
    );
    card(
        o,
        "lost updates (skew)",
        &format!(
            "{} ({})",
            thousands(s.lost_updates.total),
            thousands(s.lost_updates.skew)
        ),
    );
    let stale_pct = if s.reads.total > 0 {
        100.0 * s.reads.stale as f64 / s.reads.total as f64
    } else {
        0.0
    };
    card(
        o,
        "stale reads",
        &format!("{} ({stale_pct:.2}%)", thousands(s.reads.stale)),
    );
    let worst_heal = s
        .convergence
        .after_heal_ms
        .iter()
        .try_fold(0.0f64, |a, v| v.map(|v| a.max(v)));
    card(
        o,
        "slowest convergence after heal",
        &match (s.convergence.after_heal_ms.is_empty(), worst_heal) {
            (true, _) => "no heals".into(),
            (false, Some(w)) => human_ms(w),
            (false, None) => "never".into(),
        },
    );
    let per_write = s.messages.bytes.checked_div(s.writes.acked).unwrap_or(0);
    card(o, "bytes per write", &human_bytes(per_write));
    card(
        o,
        "messages sent / dropped",
        &format!(
            "{} / {}",
            thousands(s.messages.sent),
            thousands(s.messages.dropped)
        ),
    );
    card(o, "events simulated", &thousands(s.events));
    o.push_str("</div>");
}

/// The charts, in display order.
fn chart_figures(o: &mut String, charts: &[(ChartKind, String)]) {
    // Charts.
    o.push_str("<h2>Charts</h2>");
    for (kind, svg) in charts {
        let _ = write!(
            o,
            r#"<figure id="{}">{}<figcaption>{}</figcaption></figure>"#,
            kind.file_stem(),
            svg.trim_start_matches(|c: char| c != '<').trim(),
            esc(chart_caption(*kind))
        );
    }
}

/// Faults and heals in time order.
fn timeline(o: &mut String, s: &RunSummary) {
    // Fault timeline.
    o.push_str("<h2>Fault timeline</h2>");
    if s.faults.is_empty() && s.convergence.heals.is_empty() {
        o.push_str("<p>No faults.</p>");
    } else {
        o.push_str(r#"<table><tr><th class="num">at</th><th>event</th><th>until</th><th class="num">converged after</th></tr>"#);
        let mut rows: Vec<(f64, String, String, String)> = s
            .faults
            .iter()
            .map(|f| {
                let label = match f.effects {
                    Some(0) => format!("{} (never took effect)", f.label),
                    Some(n) => format!(
                        "{} ({} messages or operations affected)",
                        f.label,
                        thousands(n)
                    ),
                    None => f.label.clone(),
                } + if f.cut_off {
                    " (cut off by the end of the run)"
                } else {
                    ""
                } + &super::during(&f.phases);
                (
                    f.at_ms,
                    label,
                    f.until_ms.map_or(String::new(), human_ms),
                    String::new(),
                )
            })
            .collect();
        for h in &s.convergence.heals {
            rows.push((
                h.at_ms,
                h.label.clone(),
                String::new(),
                h.converged_after_ms.map_or("never".into(), human_ms),
            ));
        }
        rows.sort_by(|a, b| a.0.total_cmp(&b.0));
        for (t, what, until, after) in rows {
            let _ = write!(
                o,
                r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td><td class="num">{}</td></tr>"#,
                esc(&human_ms(t)),
                esc(&what),
                esc(&until),
                esc(&after)
            );
        }
        o.push_str("</table>");
    }
}

/// Data loss per crash.
fn crashes(o: &mut String, s: &RunSummary) {
    // Per-failure data loss.
    o.push_str("<h2>Failures and data loss</h2>");
    if s.crashes.is_empty() {
        o.push_str("<p>No region crashed.</p>");
    } else {
        o.push_str(r#"<table><tr><th>region</th><th class="num">crashed at</th><th class="num">recovered at</th><th class="num">acknowledged writes lost (RPO)</th></tr>"#);
        for c in &s.crashes {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&c.region),
                esc(&human_ms(c.at_ms)),
                esc(&c.recovered_at_ms.map_or("not recovered".into(), human_ms)),
                thousands(c.lost_acked_writes)
            );
        }
        o.push_str("</table>");
    }
}

/// Every failure: detection, election, RTO and RPO.
fn failure_table(o: &mut String, s: &RunSummary) {
    if !s.failovers.is_empty() {
        o.push_str(r#"<p>Every crash, region loss, partition and operator promotion: how long until it was suspected and a new primary elected, how long until writes succeeded again from every client region that lost them (RTO), and the acknowledged writes it lost (RPO) with the time they span.</p><table><tr><th class="num">at</th><th>kind</th><th>region</th><th class="num">detected after</th><th class="num">elected after</th><th>new primary</th><th class="num">RTO</th><th>writes back, per client region</th><th class="num">RPO writes</th><th class="num">RPO window</th><th class="num">split-brain writes</th></tr>"#);
        let opt = |v: Option<f64>| v.map_or("-".to_string(), human_ms);
        for f in &s.failovers {
            let per: Vec<String> = f
                .rto_by_region_ms
                .iter()
                .map(|(r, v)| format!("{r} {}", crate::failures::describe_back(*v, f.rto_cut_off)))
                .collect();
            let _ = write!(
                o,
                r#"<tr><td class="num">{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&human_ms(f.at_ms)),
                esc(&f.kind),
                esc(f.region.as_deref().unwrap_or("-")),
                esc(&opt(f.detected_after_ms)),
                esc(&opt(f.elected_after_ms)),
                esc(f.new_primary.as_deref().unwrap_or("-")),
                esc(&if per.is_empty() {
                    "no writes failed".to_string()
                } else {
                    crate::failures::describe_rto(f.rto_ms, f.rto_cut_off)
                }),
                esc(&per.join(", ")),
                thousands(f.rpo_writes),
                esc(&human_ms(f.rpo_window_ms)),
                thousands(f.split_brain_writes)
            );
            if let (Some(p), Some(rto)) = (&f.rto_phases, f.rto_ms) {
                let _ = write!(
                    o,
                    r#"<tr><td></td><td colspan="10">RTO {} = {}</td></tr>"#,
                    esc(&human_ms(rto)),
                    esc(&p.describe(f.new_primary.is_some()))
                );
            }
            if let Some(r) = &f.restore {
                let _ = write!(
                    o,
                    r#"<tr><td></td><td colspan="10">{}</td></tr>"#,
                    esc(&r.describe())
                );
            }
        }
        o.push_str("</table>");
    }
}

/// The failover log and the lost updates.
fn leadership(o: &mut String, s: &RunSummary) {
    if let Some(fo) = &s.failover {
        let _ = write!(o, "<p>Failover: {}.</p>", esc(&fo.headline()));
        o.push_str(r#"<table><tr><th class="num">at</th><th>leadership</th></tr>"#);
        for e in fo.events.iter().filter(|e| !e.what.contains(" suspects ")) {
            let _ = write!(
                o,
                r#"<tr><td class="num">{}</td><td>{}</td></tr>"#,
                esc(&human_ms(e.at_ms)),
                esc(&e.what)
            );
        }
        o.push_str("</table>");
    }
    let lu = &s.lost_updates;
    let _ = write!(
        o,
        "<p>Last-writer-wins overwrote {} acknowledged writes that the overwriting region had never seen: {} concurrent, {} because of clock skew{}.</p>",
        thousands(lu.total),
        thousands(lu.concurrent),
        thousands(lu.skew),
        if lu.skew > 0 { format!(" (worst skew {})", human_ms(lu.max_skew_ms)) } else { String::new() }
    );
}

/// Client operations per consistency level.
fn levels(o: &mut String, s: &RunSummary) {
    // Consistency levels.
    if !s.levels.is_empty() {
        o.push_str(r#"<h2>Consistency levels</h2><table><tr><th>operation</th><th>level</th><th>waits for</th><th class="num">ok</th><th class="num">failed</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th><th class="num">stale</th><th class="num">versions behind (mean / max)</th></tr>"#);
        for l in &s.levels {
            let read = l.op == "read";
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&l.op),
                esc(&l.level),
                esc(&l.meaning),
                thousands(l.ok),
                thousands(l.failed),
                esc(&human_ms(l.latency_ms.p50)),
                esc(&human_ms(l.latency_ms.p99)),
                esc(&human_ms(l.latency_ms.max)),
                if read {
                    format!("{:.2}%", l.stale_pct)
                } else {
                    "-".into()
                },
                if read {
                    format!("{:.2} / {}", l.k_stale_mean, l.k_stale_max)
                } else {
                    "-".into()
                }
            );
        }
        o.push_str("</table>");
    }
}

/// Regions where a write stayed pending past the stall threshold.
fn stalls(o: &mut String, s: &RunSummary) {
    // Stalls.
    if !s.stalls.is_empty() {
        let _ = write!(
            o,
            "<h2>Stalled regions</h2><p>A region is stalled while some write acknowledged elsewhere has been pending there for over {}.</p>",
            esc(&s.stall_after())
        );
        o.push_str(r#"<table><tr><th>region</th><th class="num">total</th><th class="num">longest</th><th>longest span</th><th>during</th></tr>"#);
        for st in &s.stalls {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td>{} &ndash; {}</td><td>{}</td></tr>"#,
                esc(&st.region),
                esc(&human_ms(st.total_ms)),
                esc(&human_ms(st.longest_ms)),
                esc(&human_ms(st.longest_from_ms)),
                esc(&human_ms(st.longest_to_ms)),
                esc(st.during.as_deref().unwrap_or("-"))
            );
        }
        o.push_str("</table>");
    }
}

/// Efficiency and cost per link and per message class.
fn traffic(o: &mut String, s: &RunSummary) {
    // Efficiency and cost per link.
    let e = &s.efficiency;
    if !e.links.is_empty() {
        let _ = write!(
            o,
            "<h2>Traffic and cost</h2><p>{:.2} messages and {:.0} bytes per write{}.</p>",
            e.messages_per_write,
            e.bytes_per_write,
            match (e.cost_usd, e.cost_per_million_writes_usd) {
                (Some(c), Some(m)) =>
                    format!("; egress ${c:.4} for this run, ${m:.2} per million writes"),
                _ => String::new(),
            }
        );
        o.push_str(r#"<table><tr><th>link</th><th class="num">messages</th><th class="num">bytes</th><th class="num">bytes per write</th><th class="num">$/GB</th><th class="num">cost</th></tr>"#);
        for l in &e.links {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.1}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&l.link),
                thousands(l.messages),
                thousands(l.bytes),
                l.bytes_per_write,
                l.usd_per_gb.map_or("-".into(), |p| format!("{p}")),
                l.cost_usd.map_or("-".into(), |c| format!("${c:.4}"))
            );
        }
        o.push_str("</table>");
    }

    if e.classes.len() > 1 {
        o.push_str(r#"<h3>By message class</h3><table><tr><th>class</th><th class="num">messages</th><th class="num">bytes</th><th class="num">bytes per write</th></tr>"#);
        for c in &e.classes {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.1}</td></tr>"#,
                esc(&c.class.replace('_', " ")),
                thousands(c.messages),
                thousands(c.bytes),
                c.bytes_per_write
            );
        }
        o.push_str("</table>");
    }
}

/// Tables, their policies, and what conflict resolution did to the data.
fn conflicts(o: &mut String, s: &RunSummary) {
    if let Some(c) = &s.conflicts {
        o.push_str(r#"<h2>Conflict resolution</h2><table><tr><th>table</th><th>policy</th><th>shape</th><th class="num">keys</th><th class="num">writes acknowledged</th></tr>"#);
        for t in &c.tables {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td>{}</td><td>{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&t.name),
                esc(&t.policy),
                esc(&t.shape),
                thousands(t.keys),
                thousands(t.writes_acked)
            );
        }
        o.push_str("</table>");
        let _ = write!(
            o,
            r#"<p>Siblings: {} merges left concurrent values (at most {} on one key; {} keys still hold them). Counters wrong: {} of {} (off by {}). Set elements breaking add-wins semantics: {} in {} keys. Map fields breaking add-wins semantics: {} in {} keys ({} field writes lost, {} to clock skew). Lost updates: {} ({} concurrent, {} from clock skew, {} refused by first-writer-wins).</p>"#,
            thousands(c.sibling_merges),
            c.max_siblings,
            thousands(c.keys_with_siblings),
            thousands(c.counters_wrong),
            thousands(c.counter_keys),
            thousands(c.counter_error),
            thousands(c.set_violations),
            thousands(c.set_keys),
            thousands(c.map_violations),
            thousands(c.map_keys),
            thousands(c.lost_field_writes),
            thousands(c.field_skew_losses),
            thousands(s.lost_updates.total),
            thousands(s.lost_updates.concurrent),
            thousands(s.lost_updates.skew),
            thousands(s.lost_updates.rejected)
        );
        if c.gap_fetches > 0 {
            let _ = write!(
                o,
                "<p>Delta gaps: {} times a delta arrived without an earlier write it depends on, and the region fetched the key's whole value from the sender.</p>",
                thousands(c.gap_fetches)
            );
        }
        if let Some(m) = &c.manual {
            let _ = write!(
                o,
                r#"<p>Manual resolution: {} conflicts entered an operator queue (each key's queue is in its home region, key mod regions); {} were resolved by the operator ({}), {} by clients' writes whose causal context covered the siblings, and {} were still unresolved at the end. Longest queue: {}; time waiting: mean {}, max {}.</p>"#,
                thousands(m.parked),
                thousands(m.resolved_by_operator),
                esc(&m.operator_delay_ms.map_or(
                    "no operator configured".to_string(),
                    |d| format!("after {}", human_ms(d))
                )),
                thousands(m.resolved_by_clients),
                thousands(m.unresolved),
                m.max_queue,
                esc(&human_ms(m.wait_mean_ms)),
                esc(&human_ms(m.wait_max_ms))
            );
        }
    }
}

/// Merkle-tree anti-entropy sessions.
fn anti_entropy(o: &mut String, s: &RunSummary) {
    if let Some(a) = &s.anti_entropy {
        let _ = write!(
            o,
            r#"<h2>Anti-entropy</h2><p>Merkle trees over {} key ranges ({} children per node), compared every {} with {} peer(s).</p><table><tr><th>sessions</th><th class="num">finished</th><th class="num">already in sync</th><th class="num">messages per session (mean / max)</th><th class="num">keys repaired</th><th class="num">bytes</th><th class="num">full-state transfer</th><th class="num">share</th></tr><tr><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.1} / {}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.1}%</td></tr></table>"#,
            a.leaves,
            a.branching,
            esc(&human_ms(a.interval_ms)),
            a.fanout,
            thousands(a.sessions),
            thousands(a.finished),
            thousands(a.in_sync),
            a.rounds_mean,
            a.rounds_max,
            thousands(a.keys_repaired),
            thousands(a.bytes),
            thousands(a.full_state_bytes),
            a.bytes_vs_full_state_pct
        );
    }
}

/// Per-region clocks and their time daemons.
fn clocks(o: &mut String, s: &RunSummary) {
    if !s.clocks.is_empty() {
        o.push_str(r#"<h2>Clocks</h2><p>Replicas read their own wall clock: offset and drift make it wrong, noise makes each reading jitter, and a time daemon (NTP-like) measures the error at each poll, steps errors beyond its threshold and slews smaller ones away.</p><table><tr><th>region</th><th class="num">offset</th><th class="num">drift</th><th class="num">noise</th><th class="num">poll every</th><th class="num">polls</th><th class="num">steps</th><th class="num">largest error</th><th class="num">error at end</th></tr>"#);
        for c in &s.clocks {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{:+.3} ms</td><td class="num">{:.1} ppm</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:+.3} ms</td></tr>"#,
                esc(&c.region),
                c.offset_ms,
                c.drift_ppm,
                esc(&human_ms(c.noise_ms)),
                esc(&c.ntp_interval_ms.map_or("off".to_string(), human_ms)),
                c.polls,
                c.steps,
                esc(&human_ms(c.max_error_ms)),
                c.final_error_ms
            );
        }
        o.push_str("</table>");
    }
}

/// Replica service queues.
fn service(o: &mut String, s: &RunSummary) {
    if !s.service.is_empty() {
        o.push_str(r#"<h2>Replica service</h2><p>Each replica applies writes and serves reads one at a time; inputs queue behind each other.</p><table><tr><th>region</th><th class="num">writes</th><th class="num">reads</th><th class="num">busy</th><th class="num">wait (mean)</th><th class="num">wait (max)</th><th class="num">longest queue</th></tr>"#);
        for sv in &s.service {
            let _ = write!(
                o,
                r#"<tr><td>{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{:.1}%</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&sv.region),
                thousands(sv.writes),
                thousands(sv.reads),
                sv.utilisation_pct,
                esc(&human_ms(sv.wait_mean_ms)),
                esc(&human_ms(sv.wait_max_ms)),
                sv.max_queue
            );
        }
        o.push_str("</table>");
    }
}

/// Staleness per writer and reader region.
fn staleness(o: &mut String, s: &RunSummary) {
    if !s.staleness_pairs.is_empty() {
        o.push_str(r#"<h2>Staleness per writer and reader</h2><p>Reads of keys whose newest acknowledged write came from the writer region's clients: how often they returned it, and after how long 99% of reads did.</p>"#);
        // Large meshes have thousands of pairs: show the stalest ones (the heatmap has them all).
        let mut pairs: Vec<_> = s.staleness_pairs.iter().collect();
        if pairs.len() > 40 {
            pairs.sort_by(|a, b| {
                a.fresh_within_100ms_pct
                    .unwrap_or(100.0)
                    .total_cmp(&b.fresh_within_100ms_pct.unwrap_or(100.0))
                    .then(a.fresh_pct.total_cmp(&b.fresh_pct))
            });
            pairs.truncate(40);
            let _ = write!(
                o,
                r#"<p>The 40 stalest of {} pairs (all are in <code>summary.json</code>).</p>"#,
                s.staleness_pairs.len()
            );
        }
        o.push_str(r#"<table><tr><th>writer &rarr; reader</th><th class="num">reads</th><th class="num">fresh</th><th class="num">reads within 100 ms of the ack</th><th class="num">of which fresh</th><th class="num">99% fresh after</th></tr>"#);
        for p in pairs {
            let _ = write!(
                o,
                r#"<tr><td>{} &rarr; {}</td><td class="num">{}</td><td class="num">{:.2}%</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                esc(&p.writer),
                esc(&p.reader),
                thousands(p.reads),
                p.fresh_pct,
                thousands(p.reads_within_100ms),
                p.fresh_within_100ms_pct
                    .map_or("-".to_string(), |x| format!("{x:.1}%")),
                esc(&p.t99_ms.map_or("never".to_string(), human_ms))
            );
        }
        o.push_str("</table>");
    }
}

/// Replication lag per directed pair.
fn lag(o: &mut String, s: &RunSummary) {
    // Lag table.
    o.push_str(r#"<h2>Replication lag per pair</h2><table><tr><th>pair</th><th class="num">count</th><th class="num">p50</th><th class="num">p99</th><th class="num">max</th></tr>"#);
    for a in &s.regions {
        for b in &s.regions {
            if let Some(st) = s.lag_ms.get(&format!("{a}->{b}")) {
                let _ = write!(
                    o,
                    r#"<tr><td>{} &rarr; {}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td><td class="num">{}</td></tr>"#,
                    esc(a),
                    esc(b),
                    thousands(st.count),
                    esc(&human_ms(st.p50)),
                    esc(&human_ms(st.p99)),
                    esc(&human_ms(st.max))
                );
            }
        }
    }
    o.push_str("</table>");
}

/// The scenario as written, and how to re-render.
fn footer(o: &mut String, s: &RunSummary) {
    let _ = write!(
        o,
        "<h2>Scenario</h2><p><code>{}</code></p><pre>{}</pre>",
        esc(&s.file),
        esc(&s.scenario_yaml)
    );
    let _ = write!(
        o,
        r#"<p class="sub">Generated by regionsim {} from <code>summary.json</code>; re-render with <code>sim report summary.json</code>.</p></main></body></html>"#,
        esc(&s.version)
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_everything_dangerous() {
        assert_eq!(
            esc(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;/script&gt;&#39;"
        );
    }
}
