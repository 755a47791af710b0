//! Renders a `CompareSummary`: the terminal table, `compare.md`, grouped bar charts and the
//! comparison HTML report. Like the run report, it reads only the summary.

use super::charts::register_fonts;
use super::html::esc;
use super::ImageFormat;
use crate::compare::{shown_metrics, CompareSummary, Estimate, METRICS};
use crate::output::write_atomic;
use crate::units::{human_bytes, human_ms};
use plotters::coord::Shift;
use plotters::prelude::*;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// Formats an estimate in the metric's unit: `45.2ms ± 1.3ms`, `0.52% ± 0.1`, `432 B`.
pub fn fmt_estimate(e: &Estimate, unit: &str) -> String {
    if e.n == 0 {
        return "-".into();
    }
    let one = |x: f64| match unit {
        "ms" => human_ms(x),
        "%" => format!("{x:.2}%"),
        "B" => human_bytes(x.round() as u64),
        _ if x.abs() >= 100.0 || x == x.round() => format!("{x:.0}"),
        _ => format!("{x:.2}"),
    };
    if e.ci95 > 0.0 {
        format!("{} ± {}", one(e.mean), one(e.ci95))
    } else {
        one(e.mean)
    }
}

/// The terminal (and Markdown) table rows: header plus one row per variant.
pub fn table(c: &CompareSummary) -> (Vec<String>, Vec<Vec<String>>) {
    let metrics = shown_metrics(c.variants.iter().map(|v| &v.estimates));
    let mut header = vec!["variant".to_string(), "passed".to_string()];
    header.extend(metrics.iter().map(|(_, label, _)| label.to_string()));
    let rows = c
        .variants
        .iter()
        .map(|v| {
            let passed = v.runs.iter().filter(|r| r.passed).count();
            let mut row = vec![v.label.clone(), format!("{passed}/{}", v.runs.len())];
            row.extend(
                metrics
                    .iter()
                    .map(|(name, _, unit)| fmt_estimate(&v.estimates[*name], unit)),
            );
            row
        })
        .collect();
    (header, rows)
}

pub fn render_text(c: &CompareSummary) -> String {
    let (header, rows) = table(c);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "regionsim {} | compare {} | {} variants x {} seeds",
        c.version,
        c.scenario,
        c.variants.len(),
        c.seeds.len()
    );
    let _ = writeln!(
        o,
        "  repro: {}\n  values: mean ± 95% confidence half-width across seeds\n",
        c.repro
    );
    // Transposed when wide: one block per variant reads better than a 12-column row.
    for (ri, r) in rows.iter().enumerate() {
        let _ = writeln!(o, "{}", r[0]);
        for (i, cell) in r.iter().enumerate().skip(1) {
            let _ = writeln!(o, "  {:<w$}  {cell}", header[i], w = widths_label(&header));
        }
        let failing: Vec<String> = c.variants[ri]
            .runs
            .iter()
            .filter(|run| !run.passed)
            .map(|run| format!("seed {} ({})", run.seed, run.failed_checks.join(", ")))
            .collect();
        if !failing.is_empty() {
            let _ = writeln!(o, "  failing: {}", failing.join("; "));
        }
        let _ = writeln!(o);
    }
    o
}

fn widths_label(header: &[String]) -> usize {
    header
        .iter()
        .skip(1)
        .map(|h| h.chars().count())
        .max()
        .unwrap_or(10)
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|")
}

pub fn render_markdown(c: &CompareSummary) -> String {
    let (header, rows) = table(c);
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### Compare `{}` ({} seeds)\n",
        md_cell(&c.scenario),
        c.seeds.len()
    );
    let _ = writeln!(
        o,
        "Reproduce: `{}`  \nValues: mean ± 95% confidence half-width across seeds.\n",
        c.repro
    );
    let _ = writeln!(
        o,
        "| {} |",
        header
            .iter()
            .map(|h| md_cell(h))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    let _ = writeln!(o, "|{}", "---|".repeat(header.len()));
    for r in rows {
        let _ = writeln!(
            o,
            "| {} |",
            r.iter().map(|x| md_cell(x)).collect::<Vec<_>>().join(" | ")
        );
    }
    o
}

/// Groups and series of the bar charts: (group labels, series labels, index[group][series]).
pub fn grouping(c: &CompareSummary) -> (Vec<String>, Vec<String>, Vec<Vec<Option<usize>>>) {
    if c.vary.len() == 2 {
        let (g, s) = (&c.vary[0], &c.vary[1]);
        let groups: Vec<String> = g
            .values
            .iter()
            .map(|v| format!("{}={v}", short(&g.key)))
            .collect();
        let series: Vec<String> = s
            .values
            .iter()
            .map(|v| format!("{}={v}", short(&s.key)))
            .collect();
        let idx = (0..g.values.len())
            .map(|gi| {
                (0..s.values.len())
                    .map(|si| Some(gi * s.values.len() + si))
                    .collect()
            })
            .collect();
        (groups, series, idx)
    } else {
        let groups = c.variants.iter().map(|v| v.label.clone()).collect();
        let idx = (0..c.variants.len()).map(|i| vec![Some(i)]).collect();
        (groups, vec![String::new()], idx)
    }
}

fn short(key: &str) -> &str {
    key.rsplit('.').next().unwrap_or(key)
}

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

/// Grouped bars of one metric, with 95% confidence whiskers.
pub fn draw_metric<DB: DrawingBackend>(
    c: &CompareSummary,
    metric: &str,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    let (label, unit) = METRICS
        .iter()
        .find(|m| m.0 == metric)
        .map(|m| (m.1, m.2))
        .ok_or_else(|| format!("unknown metric {metric}"))?;
    root.fill(&WHITE).map_err(e)?;
    let (groups, series, idx) = grouping(c);
    let value = |i: Option<usize>| i.map(|i| c.variants[i].estimates[metric]);
    let top = idx
        .iter()
        .flatten()
        .filter_map(|&i| value(i))
        .map(|est| est.mean + est.ci95)
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.15 } else { 1.0 };
    let ng = groups.len().max(1);
    let ns = series.len().max(1);
    let title = if unit.is_empty() {
        label.to_string()
    } else {
        format!("{label} ({unit})")
    };
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 16))
        .margin(10)
        .x_label_area_size(if ng > 4 { 70 } else { 40 })
        .y_label_area_size(64)
        .build_cartesian_2d(0f64..ng as f64, 0f64..top)
        .map_err(e)?;
    let group_labels = groups.clone();
    let fmt_x = move |x: &f64| {
        let i = x.floor() as usize;
        if (x - (i as f64 + 0.5)).abs() < 1e-6 {
            group_labels.get(i).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let unit_owned = unit.to_string();
    let fmt_y = move |y: &f64| match unit_owned.as_str() {
        "ms" => super::charts::axis_ms(y),
        "%" => format!("{y:.1}%"),
        "B" => human_bytes(y.round() as u64),
        _ if *y >= 1000.0 => format!("{:.0}k", y / 1000.0),
        _ => format!("{y:.1}"),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(ng * 2 + 1)
        .x_label_formatter(&fmt_x)
        .y_label_formatter(&fmt_y)
        .y_desc(if unit.is_empty() {
            "mean over seeds"
        } else {
            unit
        })
        .label_style(("sans-serif", 11))
        .light_line_style(RGBColor(238, 238, 238))
        .draw()
        .map_err(e)?;
    let width = 0.8 / ns as f64;
    for (si, sname) in series.iter().enumerate() {
        let col = super::charts::color(si);
        let bars: Vec<(f64, Estimate)> = idx
            .iter()
            .enumerate()
            .filter_map(|(gi, row)| {
                value(row[si]).map(|est| (gi as f64 + 0.1 + si as f64 * width, est))
            })
            .collect();
        let drawn = chart
            .draw_series(bars.iter().map(|(x, est)| {
                Rectangle::new([(*x, 0.0), (*x + width * 0.92, est.mean)], col.filled())
            }))
            .map_err(e)?;
        if !sname.is_empty() {
            drawn
                .label(sname.clone())
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], col.filled()));
        }
        chart
            .draw_series(
                bars.iter()
                    .filter(|(_, est)| est.ci95 > 0.0)
                    .map(|(x, est)| {
                        let mid = *x + width * 0.46;
                        PathElement::new(
                            vec![(mid, est.mean - est.ci95), (mid, est.mean + est.ci95)],
                            BLACK.stroke_width(1),
                        )
                    }),
            )
            .map_err(e)?;
    }
    if series.len() > 1 {
        super::charts::legend_box(&mut chart, SeriesLabelPosition::UpperRight)?;
    }
    Ok(())
}

const SIZE: (u32, u32) = (560, 340);

pub fn metric_svg(c: &CompareSummary, metric: &str) -> Result<String, String> {
    register_fonts();
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, SIZE).into_drawing_area();
        draw_metric(c, metric, &root)?;
        root.present().map_err(e)?;
    }
    Ok(buf)
}

pub fn render_html(c: &CompareSummary, charts: &[(&str, String)]) -> String {
    let mut o = String::new();
    let all_pass = c.variants.iter().all(|v| v.pass_rate == 1.0);
    let _ = write!(
        o,
        r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>compare {}: regionsim</title><style>{}
.grid {{ display:grid; grid-template-columns: repeat(auto-fill, minmax(480px, 1fr)); gap: 12px; }}
.grid figure {{ margin: 0; }}</style></head><body><main>"#,
        esc(&c.scenario),
        super::html::CSS
    );
    let _ = write!(
        o,
        r#"<h1>Compare {} <span class="verdict {}">{}</span></h1><p class="sub">{} variants &times; {} seeds &middot; regionsim {} &middot; values are means with 95% confidence intervals across seeds</p><p>Reproduce: <code class="repro">{}</code></p>"#,
        esc(&c.scenario),
        if all_pass { "pass" } else { "fail" },
        if all_pass { "ALL PASS" } else { "SOME FAIL" },
        c.variants.len(),
        c.seeds.len(),
        esc(&c.version),
        esc(&c.repro)
    );
    let (header, rows) = table(c);
    o.push_str("<h2>Side by side</h2><table><tr>");
    for h in &header {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>");
    for r in &rows {
        o.push_str("<tr>");
        for (i, cell) in r.iter().enumerate() {
            let _ = write!(
                o,
                r#"<td{}>{}</td>"#,
                if i == 0 { "" } else { r#" class="num""# },
                esc(cell)
            );
        }
        o.push_str("</tr>");
    }
    o.push_str("</table><h2>Charts</h2><div class=\"grid\">");
    for (metric, svg) in charts {
        let _ = write!(o, r#"<figure id="{}">{}</figure>"#, esc(metric), svg.trim());
    }
    o.push_str("</div><h2>Runs that failed a check</h2>");
    let failing: Vec<(String, u64, String)> = c
        .variants
        .iter()
        .flat_map(|v| {
            v.runs
                .iter()
                .filter(|r| !r.passed)
                .map(move |r| (v.label.clone(), r.seed, r.failed_checks.join(", ")))
        })
        .collect();
    if failing.is_empty() {
        o.push_str("<p>None: every run passed its checks and expectations.</p>");
    } else {
        o.push_str("<table><tr><th>variant</th><th>seed</th><th>failed</th></tr>");
        for (label, seed, checks) in failing {
            let _ = write!(
                o,
                "<tr><td>{}</td><td>{seed}</td><td>{}</td></tr>",
                esc(&label),
                esc(&checks)
            );
        }
        o.push_str("</table>");
    }
    o.push_str("</main></body></html>");
    o
}

#[derive(Debug, Default)]
pub struct CompareFiles {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub index: PathBuf,
    pub images: Vec<PathBuf>,
}

/// Writes `compare.json`, `compare.md`, `index.html` and `charts/*` into `dir`.
pub fn write_compare(
    c: &CompareSummary,
    dir: &Path,
    format: ImageFormat,
) -> Result<CompareFiles, super::ReportError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| super::ReportError::Io { path, source }
    };
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).map_err(io(&charts_dir))?;
    let mut files = CompareFiles {
        json: dir.join("compare.json"),
        markdown: dir.join("compare.md"),
        index: dir.join("index.html"),
        images: Vec::new(),
    };
    let json = serde_json::to_string_pretty(c).expect("compare summary serialises");
    write_atomic(&files.json, json.as_bytes()).map_err(io(&files.json))?;
    write_atomic(&files.markdown, render_markdown(c).as_bytes()).map_err(io(&files.markdown))?;
    let mut charts = Vec::new();
    for (metric, _, _) in shown_metrics(c.variants.iter().map(|v| &v.estimates)) {
        let chart_err = |message| super::ReportError::Chart {
            chart: metric,
            message,
        };
        let svg = metric_svg(c, metric).map_err(chart_err)?;
        if matches!(format, ImageFormat::Svg | ImageFormat::Both) {
            let p = charts_dir.join(format!("{metric}.svg"));
            write_atomic(&p, svg.as_bytes()).map_err(io(&p))?;
            files.images.push(p);
        }
        if matches!(format, ImageFormat::Png | ImageFormat::Both) {
            let p = charts_dir.join(format!("{metric}.png"));
            let tmp = charts_dir.join(format!(".{metric}.tmp.{}.png", std::process::id()));
            let drawn = {
                let root = BitMapBackend::new(&tmp, SIZE).into_drawing_area();
                draw_metric(c, metric, &root).and_then(|_| root.present().map_err(e))
            };
            if let Err(message) = drawn {
                let _ = std::fs::remove_file(&tmp);
                return Err(chart_err(message));
            }
            std::fs::rename(&tmp, &p).map_err(io(&p))?;
            files.images.push(p);
        }
        charts.push((metric, svg));
    }
    write_atomic(&files.index, render_html(c, &charts).as_bytes()).map_err(io(&files.index))?;
    Ok(files)
}

/// The terminal rendering of a sweep.
pub fn render_sweep_text(s: &crate::sweep::SweepSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "regionsim {} | sweep {} | {} seeds{}",
        s.version,
        s.scenario,
        s.runs.len(),
        s.shard.map_or(String::new(), |sh| format!(
            " (shard {}/{} of {})",
            sh.index,
            sh.count,
            s.seeds.len()
        ))
    );
    let _ = writeln!(
        o,
        "  {} passed, {} failed{}\n  values: mean ± 95% confidence half-width across seeds\n",
        s.passed,
        s.failed,
        if s.panics > 0 {
            format!(" ({} panicked)", s.panics)
        } else {
            String::new()
        }
    );
    let metrics = shown_metrics(std::iter::once(&s.estimates));
    let w = metrics.iter().map(|m| m.1.len()).max().unwrap_or(10);
    for (name, label, unit) in &metrics {
        let _ = writeln!(
            o,
            "  {label:<w$}  {}",
            fmt_estimate(&s.estimates[*name], unit)
        );
    }
    if !s.fault_coverage.is_empty() {
        let _ = writeln!(
            o,
            "\nFault coverage (faults realised / took effect, all seeds; then by what the system was doing when each began)"
        );
        for (kind, c) in &s.fault_coverage {
            let phases: Vec<String> = crate::summary::PHASES
                .iter()
                .filter_map(|p| {
                    let [n, e] = c.by_phase.get(*p).copied().unwrap_or_default();
                    (n > 0).then(|| format!("{p} {n}/{e}"))
                })
                .collect();
            let cover = format!("{} / {}", c.realised, c.took_effect);
            let _ = writeln!(o, "  {kind:<w$}  {cover:<13}  {}", phases.join(", "));
        }
        let missing: Vec<&str> = crate::summary::PHASES[1..]
            .iter()
            .copied()
            .filter(|p| {
                s.fault_coverage
                    .values()
                    .all(|c| !c.by_phase.contains_key(*p))
            })
            .collect();
        if !missing.is_empty() {
            let _ = writeln!(
                o,
                "  no fault began during: {} (widen the weather or add seeds to cover them)",
                missing.join(", ")
            );
        }
    }
    if !s.failures_by_check.is_empty() {
        let _ = writeln!(o, "\nFailures by check");
        for (check, n) in &s.failures_by_check {
            let _ = writeln!(o, "  {check:<w$}  {n}");
        }
        let _ = writeln!(
            o,
            "\nFailing seeds{}",
            if s.failing.len() > 20 {
                " (first 20)"
            } else {
                ""
            }
        );
        for f in s.failing.iter().take(20) {
            let _ = writeln!(
                o,
                "  seed {:<8} {:<40} {}",
                f.seed,
                f.failed.join(", "),
                f.repro
            );
        }
    }
    o
}

/// `sweep.md`.
pub fn render_sweep_markdown(s: &crate::sweep::SweepSummary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "### Sweep `{}`: {} of {} seeds passed\n",
        md_cell(&s.scenario),
        s.passed,
        s.runs.len()
    );
    let _ = writeln!(o, "| metric | mean ± 95% CI |\n|---|---|");
    for (name, label, unit) in shown_metrics(std::iter::once(&s.estimates)) {
        let _ = writeln!(
            o,
            "| {label} | {} |",
            fmt_estimate(&s.estimates[name], unit)
        );
    }
    if !s.failing.is_empty() {
        let _ = writeln!(o, "\n| failing seed | failed | repro |\n|---|---|---|");
        for f in s.failing.iter().take(50) {
            let _ = writeln!(
                o,
                "| {} | {} | `{}` |",
                f.seed,
                md_cell(&f.failed.join(", ")),
                f.repro
            );
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compare::{compare, Vary};

    #[test]
    fn two_keys_make_groups_and_series() {
        let base = "name: c\nduration: 2s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 20ms}}\nworkload: {keys: 100, rate_per_region: 50}\n";
        let vary = [
            Vary {
                key: "network.loss".into(),
                values: vec!["0".into(), "0.1".into(), "0.2".into()],
            },
            Vary {
                key: "durability.flush_interval".into(),
                values: vec!["0".into(), "10ms".into()],
            },
        ];
        let c = compare(
            base,
            "c.yaml",
            &vary,
            &[1, 2],
            0,
            crate::Limits::NONE,
            &|_| {},
        )
        .unwrap();
        let (groups, series, idx) = grouping(&c);
        assert_eq!(groups, ["loss=0", "loss=0.1", "loss=0.2"]);
        assert_eq!(series, ["flush_interval=0", "flush_interval=10ms"]);
        assert_eq!(idx[2][1], Some(5));
        assert_eq!(c.variants[5].label, "loss=0.2, flush_interval=10ms");
        for (m, _, _) in shown_metrics(c.variants.iter().map(|v| &v.estimates)) {
            let svg = metric_svg(&c, m).unwrap();
            assert!(svg.contains("<rect") && svg.contains("loss=0.1"), "{m}");
        }
        let md = render_markdown(&c);
        assert_eq!(md.lines().filter(|l| l.starts_with("| loss=")).count(), 6);
        let text = render_text(&c);
        assert!(text.contains("loss=0.2, flush_interval=10ms"));
    }

    #[test]
    fn estimates_format_with_units() {
        let est = Estimate {
            mean: 45.25,
            ci95: 1.5,
            n: 3,
        };
        assert_eq!(fmt_estimate(&est, "ms"), "45.2ms ± 1.5ms");
        assert_eq!(
            fmt_estimate(
                &Estimate {
                    mean: 432.0,
                    ci95: 0.0,
                    n: 2
                },
                "B"
            ),
            "432 B"
        );
        assert_eq!(fmt_estimate(&Estimate::default(), ""), "-");
    }
}
