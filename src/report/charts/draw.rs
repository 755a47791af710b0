//! The drawing of the larger charts: visibility CDF, lag histograms, the fault timeline,
//! availability, staleness, heatmaps and the message sequence diagram. The data they plot comes
//! from the pure functions in the parent module.

use super::*;

pub(super) fn draw_cdf<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let hists = &s.report_data.visibility_hist;
    let (lo, hi) = log_range(hists.values().flat_map(|h| h.iter().map(|b| b.0)));
    let mut chart = ChartBuilder::on(root)
        .caption(caption(ChartKind::VisibilityCdf.title()).0, caption("").1)
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.0)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("visibility (log scale)")
        .y_desc("fraction of writes")
        .x_label_formatter(&ms_label)
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(RGBColor(235, 235, 235))
        .draw()
        .map_err(e)?;
    for (i, region) in s.regions.iter().enumerate() {
        let Some(h) = hists.get(region) else { continue };
        let pts: Vec<(f64, f64)> = cdf(h).into_iter().map(|(x, y)| (x.max(lo), y)).collect();
        if pts.is_empty() {
            continue;
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(e)?
            .label(format!("from {region}"))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

/// Rows and columns of the lag small multiples: every pair up to 6 regions, else the 16 slowest.
pub(super) fn lag_grid(s: &RunSummary) -> (u32, u32) {
    let pairs = lag_pairs(s).len() as u32;
    let cols = (pairs as f64).sqrt().ceil().clamp(1.0, 6.0) as u32;
    (pairs.div_ceil(cols).max(1), cols)
}

/// The pairs shown as small multiples (slowest first when they must be limited).
pub fn lag_pairs(s: &RunSummary) -> Vec<String> {
    let mut pairs: Vec<(&String, f64)> = s
        .report_data
        .lag_hist
        .iter()
        .filter(|(_, h)| !h.is_empty())
        .map(|(k, _)| (k, s.lag_ms.get(k).map_or(0.0, |st| st.p99)))
        .collect();
    if s.regions.len() > 6 {
        pairs.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
        pairs.truncate(16);
    } else {
        // Natural order: by origin region, then target, as the regions are listed.
        let pos = |name: &str| {
            s.regions
                .iter()
                .position(|r| r == name)
                .unwrap_or(usize::MAX)
        };
        pairs.sort_by_key(|(k, _)| {
            let (a, b) = k.split_once("->").unwrap_or((k, ""));
            (pos(a), pos(b))
        });
    }
    pairs.into_iter().map(|(k, _)| k.clone()).collect()
}

pub(super) fn draw_lag_histograms<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let pairs = lag_pairs(s);
    let (rows, cols) = lag_grid(s);
    let title = if s.regions.len() > 6 {
        "Replication lag: the 16 slowest region pairs"
    } else {
        ChartKind::LagHistograms.title()
    };
    let body = root.titled(title, ("sans-serif", 18)).map_err(e)?;
    let cells = body.split_evenly((rows as usize, cols as usize));
    let (lo, hi) = log_range(
        s.report_data
            .lag_hist
            .values()
            .flat_map(|h| h.iter().map(|b| b.0)),
    );
    for (cell, pair) in cells.iter().zip(&pairs) {
        let h = &s.report_data.lag_hist[pair];
        let max = h.iter().map(|b| b.1).max().unwrap_or(1) as f64;
        let label = pair.replace("->", " \u{2192} ");
        let mut chart = ChartBuilder::on(cell)
            .caption(label, ("sans-serif", 13))
            .margin(6)
            .x_label_area_size(30)
            .y_label_area_size(44)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..max * 1.1)
            .map_err(e)?;
        chart
            .configure_mesh()
            .x_labels(4)
            .y_labels(3)
            .x_label_formatter(&ms_label)
            .y_label_formatter(&|v| format!("{v:.0}"))
            .x_desc("lag")
            .label_style(("sans-serif", 10))
            .light_line_style(RGBColor(240, 240, 240))
            .draw()
            .map_err(e)?;
        let c = color(
            s.regions
                .iter()
                .position(|r| pair.starts_with(&format!("{r}->")))
                .unwrap_or(0),
        );
        chart
            .draw_series(h.iter().map(|&(edge, count)| {
                let left = (edge / 10f64.powf(0.1)).max(lo);
                Rectangle::new(
                    [(left, 0.0), (edge.max(lo), count as f64)],
                    c.mix(0.75).filled(),
                )
            }))
            .map_err(e)?;
    }
    Ok(())
}

fn shade_spans<DB: DrawingBackend>(
    chart: &mut ChartContext<
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    shades: &[Shade],
    y: std::ops::Range<f64>,
) -> DrawResult {
    // The full height of the plot, below zero too (a clock running behind plots negative).
    chart
        .draw_series(shades.iter().map(|sh| {
            Rectangle::new(
                [(sh.from_s, y.start), (sh.to_s, y.end)],
                shade_color(sh.kind).filled(),
            )
        }))
        .map_err(e)?;
    let height = y.end - y.start;
    chart
        .draw_series(shades.iter().enumerate().map(|(i, sh)| {
            // Stagger labels down from the top so overlapping spans stay readable.
            let y = y.end - height * (0.03 + 0.07 * (i % 4) as f64);
            Text::new(
                sh.label.clone(),
                (sh.from_s, y),
                ("sans-serif", 11).into_font().color(&RGBColor(90, 90, 90)),
            )
        }))
        .map_err(e)?;
    Ok(())
}

type TimeChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// Axes over simulated time (0..`x_end` seconds) and `y`, with the mesh drawn.
pub(super) fn time_axes<'a, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x_end: f64,
    y: std::ops::Range<f64>,
    y_desc: &str,
    y_fmt: &dyn Fn(&f64) -> String,
) -> Result<TimeChart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(root)
        .caption(title, ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..x_end, y)
        .map_err(e)?;
    let xl = secs_label(x_end);
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .x_label_formatter(&xl)
        .y_desc(y_desc)
        .y_label_formatter(y_fmt)
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(e)?;
    Ok(chart)
}

/// Fault spans shaded (spans still open at the end stop at `x_end`) and instants (clock
/// steps) as purple lines, labelled at height `label_y` if given.
pub(super) fn fault_marks<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB>,
    s: &RunSummary,
    x_end: f64,
    y: std::ops::Range<f64>,
    label_y: Option<f64>,
) -> DrawResult {
    let (shades, instants) = fault_spans(s);
    let shades: Vec<Shade> = shades
        .into_iter()
        .map(|mut sh| {
            sh.from_s = sh.from_s.min(x_end);
            sh.to_s = sh.to_s.min(x_end);
            sh
        })
        .collect();
    shade_spans(chart, &shades, y.clone())?;
    let purple = RGBColor(120, 60, 160);
    for (t, label) in &instants {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(*t, y.start), (*t, y.end)],
                purple.stroke_width(1),
            )))
            .map_err(e)?;
        if let Some(ly) = label_y {
            chart
                .draw_series(std::iter::once(Text::new(
                    label.clone(),
                    (*t, ly),
                    ("sans-serif", 11).into_font().color(&purple),
                )))
                .map_err(e)?;
        }
    }
    Ok(())
}

pub(super) fn draw_timeline<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let rd = &s.report_data;
    let bucket_s = rd.bucket_ms / 1e3;
    let end_s = s.sim_time_ns as f64 / 1e9;
    let max = rd
        .series
        .values()
        .flat_map(|v| v.backlog.iter())
        .copied()
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let y_top = max * 1.15;
    let x_end = end_s.max(bucket_s);
    let y_fmt = |v: &f64| format!("{v:.0}");
    let title = ChartKind::Timeline.title();
    let mut chart = time_axes(
        root,
        title,
        x_end,
        0f64..y_top,
        "writes not yet held",
        &y_fmt,
    )?;
    fault_marks(&mut chart, s, x_end, 0f64..y_top, Some(y_top * 0.62))?;
    for (i, region) in s.regions.iter().enumerate() {
        let Some(series) = rd.series.get(region) else {
            continue;
        };
        let c = color(i);
        let pts = series
            .backlog
            .iter()
            .enumerate()
            .map(|(b, &v)| (b as f64 * bucket_s, v as f64));
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(e)?
            .label(region.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    legend_box(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

pub(super) fn draw_availability<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let rd = &s.report_data;
    let end_s = (s.duration_ns as f64 / 1e9).max(rd.bucket_ms / 1e3);
    let mut chart = ChartBuilder::on(root)
        .caption(ChartKind::Availability.title(), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d(0f64..end_s, 0f64..1.08)
        .map_err(e)?;
    let xl = secs_label(end_s);
    chart
        .configure_mesh()
        .x_desc("simulated time (s)")
        .x_label_formatter(&xl)
        .y_desc("operations that succeeded")
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(e)?;
    let (shades, _) = fault_spans(s);
    let outages: Vec<Shade> = shades
        .into_iter()
        .filter(|x| matches!(x.kind, ShadeKind::Crash | ShadeKind::Partition))
        .collect();
    shade_spans(&mut chart, &outages, 0.0..1.08)?;
    // RTO spans as bars along the bottom, elections as vertical marks.
    let rto_colour = RGBColor(200, 40, 40);
    for (i, (from, to, label)) in rto_spans(s).iter().enumerate() {
        let y = 0.04 + 0.05 * (i % 3) as f64;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(*from, y - 0.012), (*to, y + 0.012)],
                rto_colour.mix(0.8).filled(),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label.clone(),
                (*from, y + 0.045),
                ("sans-serif", 11).into_font().color(&rto_colour),
            )))
            .map_err(e)?;
    }
    let mark = RGBColor(30, 110, 60);
    for (t, label) in failover_marks(s) {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(t, 0.0), (t, 1.08)],
                mark.stroke_width(2),
            )))
            .map_err(e)?;
        chart
            .draw_series(std::iter::once(Text::new(
                label,
                (t + end_s * 0.004, 0.55),
                ("sans-serif", 11).into_font().color(&mark),
            )))
            .map_err(e)?;
    }
    for (i, region) in s.regions.iter().enumerate() {
        let Some(series) = rd.series.get(region) else {
            continue;
        };
        let pts = availability(series, rd.bucket_ms);
        if pts.is_empty() {
            continue;
        }
        let c = color(i);
        chart
            .draw_series(LineSeries::new(pts, c.stroke_width(2)))
            .map_err(e)?
            .label(region.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    legend_box(&mut chart, SeriesLabelPosition::LowerRight)?;
    Ok(())
}

pub(super) fn draw_staleness<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let pts = staleness_points(s);
    let (lo, hi) = log_range(pts.iter().map(|p| p.0));
    let mut chart = ChartBuilder::on(root)
        .caption(ChartKind::Staleness.title(), ("sans-serif", 18))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(56)
        .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.05)
        .map_err(e)?;
    chart
        .configure_mesh()
        .x_desc("time since the latest write to the key was acknowledged (upper bound of bucket)")
        .y_desc("P(read returned it)")
        .x_label_formatter(&ms_label)
        .y_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .light_line_style(RGBColor(240, 240, 240))
        .draw()
        .map_err(e)?;
    let c = color(0);
    chart
        .draw_series(LineSeries::new(pts.clone(), c.stroke_width(2)))
        .map_err(e)?;
    chart
        .draw_series(pts.iter().map(|&(x, y)| Circle::new((x, y), 4, c.filled())))
        .map_err(e)?;
    Ok(())
}

fn text_style(size: u32, hpos: HPos, vpos: VPos) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(hpos, vpos))
}

/// A region x region matrix drawn cell by cell (row = from, column = to).
pub(super) const ROW_FROM: &str = "row: from, column: to";

pub(super) fn draw_heatmap<DB: DrawingBackend>(
    title: &str,
    subtitle: &str,
    names: &[String],
    m: &[Vec<Option<f64>>],
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let n = names.len().max(1);
    let (w, h) = root.dim_in_pixel();
    let left = 140i32;
    let top = 90i32;
    let side = ((w as i32 - left - 20).min(h as i32 - top - 30)).max(40);
    let cell = side / n as i32;
    root.draw_text(
        title,
        &text_style(17, HPos::Center, VPos::Top),
        (w as i32 / 2, 10),
    )
    .map_err(e)?;
    root.draw_text(
        subtitle,
        &text_style(12, HPos::Center, VPos::Top),
        (w as i32 / 2, 34),
    )
    .map_err(e)?;
    let max = m
        .iter()
        .flatten()
        .flatten()
        .copied()
        .fold(0.0f64, f64::max)
        .max(1e-9);
    let label_size = if n > 12 { 9 } else { 12 };
    for (i, name) in names.iter().enumerate() {
        let short: String = name.chars().take(16).collect();
        root.draw_text(
            &short,
            &text_style(label_size, HPos::Right, VPos::Center),
            (left - 8, top + i as i32 * cell + cell / 2),
        )
        .map_err(e)?;
        root.draw_text(
            &short,
            &text_style(label_size, HPos::Center, VPos::Bottom),
            (left + i as i32 * cell + cell / 2, top - 6),
        )
        .map_err(e)?;
    }
    for (a, row) in m.iter().enumerate() {
        for (b, v) in row.iter().enumerate() {
            let (x0, y0) = (left + b as i32 * cell, top + a as i32 * cell);
            let fill = match v {
                // White to deep blue as the value grows.
                Some(v) => {
                    let t = (v / max).clamp(0.0, 1.0);
                    RGBColor(
                        (247.0 - t * 239.0) as u8,
                        (251.0 - t * 203.0) as u8,
                        (255.0 - t * 148.0) as u8,
                    )
                }
                None => RGBColor(230, 230, 230),
            };
            root.draw(&Rectangle::new(
                [(x0, y0), (x0 + cell - 1, y0 + cell - 1)],
                fill.filled(),
            ))
            .map_err(e)?;
            if let Some(v) = v {
                if cell >= 28 {
                    let t = (v / max).clamp(0.0, 1.0);
                    let ink = if t > 0.55 { WHITE } else { BLACK };
                    let text = if *v >= 100.0 {
                        format!("{v:.0}")
                    } else {
                        format!("{v:.1}")
                    };
                    root.draw_text(
                        &text,
                        &("sans-serif", if cell >= 50 { 12 } else { 9 })
                            .into_font()
                            .color(&ink)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                        (x0 + cell / 2, y0 + cell / 2),
                    )
                    .map_err(e)?;
                }
            }
        }
    }
    Ok(())
}

pub(super) fn draw_sequence<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    let seq = &s.report_data.sequence;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let (left, right, top, bottom) = (90, 30, 80, 30);
    let n = s.regions.len().max(1) as i32;
    let lane = |name: &str| {
        let i = s.regions.iter().position(|r| r == name).unwrap_or(0) as i32;
        left + (right_edge(w, right) - left) * (2 * i + 1) / (2 * n)
    };
    // When the window filled up, show only the stretch the recorded messages cover.
    let to_ms = if seq.truncated > 0 {
        let last = seq
            .messages
            .iter()
            .map(|m| m.recv_ms.unwrap_or(m.sent_ms).max(m.sent_ms))
            .fold(seq.from_ms, f64::max);
        (last + (last - seq.from_ms) * 0.05).min(seq.to_ms)
    } else {
        seq.to_ms
    };
    let span = (to_ms - seq.from_ms).max(1e-6);
    let y_of = |t: f64| {
        top + (((t - seq.from_ms) / span).clamp(0.0, 1.0) * (h - top - bottom) as f64) as i32
    };
    let title = format!(
        "{} from {} to {} (times relative to the start){}",
        ChartKind::Sequence.title(),
        human_ms(seq.from_ms),
        human_ms(to_ms),
        if seq.truncated > 0 {
            format!(" (first {} messages)", seq.messages.len())
        } else {
            String::new()
        }
    );
    root.draw_text(
        &title,
        &text_style(17, HPos::Center, VPos::Top),
        (w / 2, 10),
    )
    .map_err(e)?;
    root.draw_text(
        "time runs down; blue: replicate, green: ack, grey: probe, orange x: dropped",
        &text_style(12, HPos::Center, VPos::Top),
        (w / 2, 34),
    )
    .map_err(e)?;
    for r in &s.regions {
        let x = lane(r);
        root.draw(&PathElement::new(
            vec![(x, top), (x, h - bottom)],
            RGBColor(150, 150, 150).stroke_width(1),
        ))
        .map_err(e)?;
        root.draw_text(r, &text_style(12, HPos::Center, VPos::Bottom), (x, top - 6))
            .map_err(e)?;
    }
    // Time ticks.
    for k in 0..=5 {
        let t = seq.from_ms + span * k as f64 / 5.0;
        root.draw_text(
            &format!("{:.1}ms", t - seq.from_ms),
            &text_style(10, HPos::Right, VPos::Center),
            (left - 8, y_of(t)),
        )
        .map_err(e)?;
    }
    for m in &seq.messages {
        let (x0, y0) = (lane(&m.from), y_of(m.sent_ms));
        let x1 = lane(&m.to);
        let ink = match m.kind.as_str() {
            "replicate" => RGBColor(0, 114, 178),
            "ack" => RGBColor(0, 158, 115),
            _ => RGBColor(130, 130, 130),
        };
        match (m.recv_ms, &m.dropped) {
            (_, Some(_)) => {
                // Dropped: half-way, then an x.
                let (xm, ym) = ((x0 + x1) / 2, y0 + 14);
                root.draw(&PathElement::new(
                    vec![(x0, y0), (xm, ym)],
                    RGBColor(213, 94, 0).stroke_width(1),
                ))
                .map_err(e)?;
                for (dx, dy) in [(-4, -4), (-4, 4)] {
                    root.draw(&PathElement::new(
                        vec![(xm + dx, ym + dy), (xm - dx, ym - dy)],
                        RGBColor(213, 94, 0).stroke_width(2),
                    ))
                    .map_err(e)?;
                }
            }
            (recv, None) => {
                let y1 = recv.map_or(h - bottom, y_of);
                root.draw(&PathElement::new(
                    vec![(x0, y0), (x1, y1)],
                    ink.stroke_width(1),
                ))
                .map_err(e)?;
                if recv.is_some() {
                    // Arrowhead.
                    let dir = if x1 >= x0 { -1 } else { 1 };
                    for dy in [-3, 3] {
                        root.draw(&PathElement::new(
                            vec![(x1, y1), (x1 + dir * 7, y1 - 3 + dy)],
                            ink.stroke_width(1),
                        ))
                        .map_err(e)?;
                    }
                }
            }
        }
    }
    Ok(())
}

fn right_edge(w: i32, right: i32) -> i32 {
    w - right
}
