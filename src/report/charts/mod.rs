//! Charts of one run, drawn from a `RunSummary` alone (SVG for the HTML report, PNG for slides).
//!
//! The data each chart plots comes from small pure functions (`cdf`, `fault_spans`,
//! `availability`, `staleness_points`) so it can be tested without pixels; the drawing code only
//! lays it out. Text is rendered with the bundled DejaVu font, so no system font is needed.

use crate::faults::{FaultClass, HealSpec};
use crate::series::RegionSeries;
use crate::summary::RunSummary;
use crate::units::human_ms;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;
use std::sync::Once;

mod draw;
use draw::*;

pub type DrawResult = Result<(), String>;

fn e<T: std::fmt::Display>(x: T) -> String {
    x.to_string()
}

/// Registers the bundled font once; every chart needs it for PNG text.
pub fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = plotters::style::register_font(
            "sans-serif",
            FontStyle::Normal,
            dejavu::sans::regular(),
        );
        let _ = plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold());
    });
}

/// The charts a run report contains.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChartKind {
    VisibilityCdf,
    LagHistograms,
    Timeline,
    Availability,
    Staleness,
    LatencyHeatmap,
    LagHeatmap,
    StalenessHeatmap,
    Sequence,
    Conflicts,
    Siblings,
    ClockError,
}

impl ChartKind {
    pub fn file_stem(self) -> &'static str {
        match self {
            ChartKind::VisibilityCdf => "visibility-cdf",
            ChartKind::LagHistograms => "lag-histograms",
            ChartKind::Timeline => "backlog-timeline",
            ChartKind::Availability => "availability",
            ChartKind::Staleness => "staleness",
            ChartKind::LatencyHeatmap => "latency-heatmap",
            ChartKind::LagHeatmap => "lag-p99-heatmap",
            ChartKind::StalenessHeatmap => "staleness-t99-heatmap",
            ChartKind::Sequence => "message-sequence",
            ChartKind::Conflicts => "conflicts-timeline",
            ChartKind::Siblings => "siblings-timeline",
            ChartKind::ClockError => "clock-error",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            ChartKind::VisibilityCdf => {
                "Visibility: time from ack until every region holds the write"
            }
            ChartKind::LagHistograms => "Replication lag per region pair",
            ChartKind::Timeline => "Replication backlog per region over time",
            ChartKind::Availability => "Client availability per region over time",
            ChartKind::Staleness => "Staleness: does a read return the latest acknowledged write?",
            ChartKind::LatencyHeatmap => "Configured one-way latency (ms)",
            ChartKind::LagHeatmap => "Observed replication lag p99 (ms)",
            ChartKind::StalenessHeatmap => {
                "Reads return the latest write 99% of the time after (ms)"
            }
            ChartKind::Sequence => "Message sequence",
            ChartKind::Conflicts => "Conflicts per region over time",
            ChartKind::Siblings => "Siblings per key over time",
            ChartKind::ClockError => "Clock error found by each region's time daemon",
        }
    }

    fn size(self, s: &RunSummary) -> (u32, u32) {
        let n = s.regions.len() as u32;
        match self {
            ChartKind::LagHistograms => {
                let (rows, cols) = lag_grid(s);
                (cols * 270 + 20, rows * 190 + 50)
            }
            ChartKind::LatencyHeatmap | ChartKind::LagHeatmap | ChartKind::StalenessHeatmap => {
                let side = (n * 70).clamp(280, 900);
                (side + 160, side + 120)
            }
            ChartKind::Sequence => (960, 640),
            _ => (960, 420),
        }
    }
}

/// The charts worth drawing for this summary (e.g. no staleness chart without reads).
pub fn charts_for(s: &RunSummary) -> Vec<ChartKind> {
    let mut v = vec![
        ChartKind::VisibilityCdf,
        ChartKind::LagHistograms,
        ChartKind::Timeline,
        ChartKind::Availability,
    ];
    if !s.report_data.staleness.is_empty() {
        v.push(ChartKind::Staleness);
    }
    if s.regions.len() > 1 {
        v.push(ChartKind::LatencyHeatmap);
        v.push(ChartKind::LagHeatmap);
    }
    if s.staleness_pairs.iter().any(|p| p.writer != p.reader) {
        v.push(ChartKind::StalenessHeatmap);
    }
    let any = |f: fn(&RegionSeries) -> bool| s.report_data.series.values().any(f);
    if any(|r| {
        r.lost_updates
            .iter()
            .chain(&r.sibling_merges)
            .any(|&c| c > 0)
    }) {
        v.push(ChartKind::Conflicts);
    }
    if any(|r| r.siblings_max.iter().any(|&m| m > 1) || !r.conflicts_parked.is_empty()) {
        v.push(ChartKind::Siblings);
    }
    if any(|r| !r.clock_error_ms.is_empty()) {
        v.push(ChartKind::ClockError);
    }
    if !s.report_data.sequence.messages.is_empty() {
        v.push(ChartKind::Sequence);
    }
    v
}

/// One line per region: `(seconds, value)` points and a dashed companion (possibly empty).
type RegionLines = Vec<(String, Vec<(f64, f64)>, Vec<(f64, f64)>)>;

/// One point per time bucket: (bucket start in seconds, value).
fn bucket_points<T: Copy>(v: &[T], bucket_s: f64, f: impl Fn(T) -> f64) -> Vec<(f64, f64)> {
    v.iter()
        .enumerate()
        .map(|(i, &c)| (i as f64 * bucket_s, f(c)))
        .collect()
}

/// Conflicts per bucket and region: lost updates (solid) and sibling merges (dashed).
pub fn conflict_lines(s: &RunSummary) -> RegionLines {
    let b = s.report_data.bucket_ms / 1e3;
    region_lines(s, |r| {
        (
            bucket_points(&r.lost_updates, b, |c| c as f64),
            bucket_points(&r.sibling_merges, b, |c| c as f64),
        )
    })
}

/// The most siblings on one key (solid) and parked conflicts (dashed) per bucket and region.
pub fn sibling_lines(s: &RunSummary) -> RegionLines {
    let b = s.report_data.bucket_ms / 1e3;
    region_lines(s, |r| {
        (
            bucket_points(&r.siblings_max, b, |c| c as f64),
            bucket_points(&r.conflicts_parked, b, |c| c as f64),
        )
    })
}

/// Each poll's measured clock error (ms) per region, at the poll's bucket.
pub fn clock_lines(s: &RunSummary) -> RegionLines {
    let b = s.report_data.bucket_ms / 1e3;
    region_lines(s, |r| {
        let polls = bucket_points(&r.clock_error_ms, b, |e| e.unwrap_or(f64::NAN));
        (
            polls.into_iter().filter(|p| !p.1.is_nan()).collect(),
            Vec::new(),
        )
    })
}

fn region_lines(
    s: &RunSummary,
    f: impl Fn(&RegionSeries) -> (Vec<(f64, f64)>, Vec<(f64, f64)>),
) -> RegionLines {
    s.regions
        .iter()
        .filter_map(|r| {
            let (a, b) = f(s.report_data.series.get(r)?);
            Some((r.clone(), a, b))
        })
        .collect()
}

/// Renders a chart as an SVG document.
pub fn to_svg(kind: ChartKind, s: &RunSummary) -> Result<String, String> {
    register_fonts();
    let mut buf = String::new();
    {
        let root = SVGBackend::with_string(&mut buf, kind.size(s)).into_drawing_area();
        draw(kind, s, &root)?;
        root.present().map_err(e)?;
    }
    Ok(buf)
}

/// Renders a chart as a PNG file.
pub fn to_png(kind: ChartKind, s: &RunSummary, path: &Path) -> DrawResult {
    register_fonts();
    let root = BitMapBackend::new(path, kind.size(s)).into_drawing_area();
    draw(kind, s, &root)?;
    root.present().map_err(e)
}

pub fn draw<DB: DrawingBackend>(
    kind: ChartKind,
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
) -> DrawResult {
    root.fill(&WHITE).map_err(e)?;
    match kind {
        ChartKind::VisibilityCdf => draw_cdf(s, root),
        ChartKind::LagHistograms => draw_lag_histograms(s, root),
        ChartKind::Timeline => draw_timeline(s, root),
        ChartKind::Availability => draw_availability(s, root),
        ChartKind::Staleness => draw_staleness(s, root),
        ChartKind::LatencyHeatmap => {
            let m = &s.report_data.latency_ms;
            draw_heatmap(kind.title(), ROW_FROM, &s.regions, m, root)
        }
        ChartKind::LagHeatmap => {
            let n = s.regions.len();
            let m: Vec<Vec<Option<f64>>> = (0..n)
                .map(|a| {
                    (0..n)
                        .map(|b| {
                            (a != b)
                                .then(|| {
                                    s.lag_ms.get(&format!("{}->{}", s.regions[a], s.regions[b]))
                                })
                                .flatten()
                                .filter(|st| st.count > 0)
                                .map(|st| st.p99)
                        })
                        .collect()
                })
                .collect();
            draw_heatmap(kind.title(), ROW_FROM, &s.regions, &m, root)
        }
        ChartKind::StalenessHeatmap => draw_heatmap(
            kind.title(),
            "row: writer, column: reader; grey: never 99% fresh, or no reads",
            &s.regions,
            &staleness_matrix(s),
            root,
        ),
        ChartKind::Sequence => draw_sequence(s, root),
        ChartKind::Conflicts => draw_lines(
            s,
            root,
            kind,
            &conflict_lines(s),
            &format!(
                "per {} (solid: lost updates, dashed: sibling merges)",
                human_ms(s.report_data.bucket_ms)
            ),
            false,
        ),
        ChartKind::Siblings => draw_lines(
            s,
            root,
            kind,
            &sibling_lines(s),
            "solid: most siblings on a key, dashed: operator queue",
            false,
        ),
        ChartKind::ClockError => draw_lines(
            s,
            root,
            kind,
            &clock_lines(s),
            "wall clock - true time (ms), before correction",
            true,
        ),
    }
}

/// A per-region line chart over simulated time, with fault spans shaded. `points` draws
/// markers (sparse samples such as polls) rather than joining buckets.
fn draw_lines<DB: DrawingBackend>(
    s: &RunSummary,
    root: &DrawingArea<DB, Shift>,
    kind: ChartKind,
    lines: &RegionLines,
    y_desc: &str,
    points: bool,
) -> DrawResult {
    let rd = &s.report_data;
    let bucket_s = rd.bucket_ms / 1e3;
    let end_s = (s.sim_time_ns as f64 / 1e9).max(bucket_s);
    let ys = || {
        lines
            .iter()
            .flat_map(|(_, a, b)| a.iter().chain(b).map(|p| p.1))
    };
    let hi = ys().fold(0f64, f64::max);
    let lo = ys().fold(0f64, f64::min);
    let pad = ((hi - lo) * 0.15).max(1.0);
    let (y_lo, y_hi) = (if lo < 0.0 { lo - pad } else { 0.0 }, hi + pad);
    let y_fmt = |v: &f64| {
        if v.abs() >= 10.0 || v.fract() == 0.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    };
    let mut chart = time_axes(root, kind.title(), end_s, y_lo..y_hi, y_desc, &y_fmt)?;
    fault_marks(&mut chart, s, end_s, y_lo..y_hi, None)?;
    if y_lo < 0.0 {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (end_s, 0.0)],
                RGBColor(150, 150, 150).stroke_width(1),
            )))
            .map_err(e)?;
    }
    for (i, (region, solid, dashed)) in lines.iter().enumerate() {
        let c = color(i);
        if points {
            // Samples between corrections: joining them would invent the values in between.
            chart
                .draw_series(solid.iter().map(|&p| Circle::new(p, 3, c.filled())))
                .map_err(e)?
                .label(region.clone())
                .legend(move |(x, y)| Circle::new((x + 9, y), 3, c.filled()));
        } else {
            chart
                .draw_series(LineSeries::new(solid.iter().copied(), c.stroke_width(2)))
                .map_err(e)?
                .label(region.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        if !dashed.is_empty() {
            chart
                .draw_series(DashedLineSeries::new(
                    dashed.iter().copied(),
                    6,
                    4,
                    c.stroke_width(2),
                ))
                .map_err(e)?;
        }
    }
    legend_box(&mut chart, SeriesLabelPosition::UpperRight)?;
    Ok(())
}

/// Writer x reader: the age after which 99% of reads returned the latest write (ms). Pairs
/// without reads, or never 99% fresh within the run, are blank.
pub fn staleness_matrix(s: &RunSummary) -> Vec<Vec<Option<f64>>> {
    let n = s.regions.len();
    let mut m = vec![vec![None; n]; n];
    for p in &s.staleness_pairs {
        let a = s.regions.iter().position(|r| *r == p.writer);
        let b = s.regions.iter().position(|r| *r == p.reader);
        if let (Some(a), Some(b)) = (a, b) {
            m[a][b] = p.t99_ms;
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// Data the charts plot (pure, tested).

/// Cumulative fraction at each bin's upper edge: `(edge ms, fraction <= edge)`.
pub fn cdf(hist: &[(f64, u64)]) -> Vec<(f64, f64)> {
    let total: u64 = hist.iter().map(|b| b.1).sum();
    if total == 0 {
        return Vec::new();
    }
    let mut acc = 0;
    hist.iter()
        .map(|&(edge, c)| {
            acc += c;
            (edge, acc as f64 / total as f64)
        })
        .collect()
}

/// A shaded interval on a timeline, in seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Shade {
    pub from_s: f64,
    pub to_s: f64,
    pub label: String,
    pub kind: ShadeKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShadeKind {
    Partition,
    Degraded,
    Crash,
}

/// Fault intervals of the run: partitions and degradations until their `for` ran out or a heal
/// ended them (else the end of the run), and crashes until their recovery.
pub fn fault_spans(s: &RunSummary) -> (Vec<Shade>, Vec<(f64, String)>) {
    let end_s = s.duration_ns as f64 / 1e9;
    let heals: Vec<(f64, HealSpec)> = s
        .faults
        .iter()
        .filter(|f| f.class() == Some(FaultClass::Heal))
        .filter_map(|f| Some((f.at_ms / 1e3, HealSpec::of_label(&f.label)?)))
        .collect();
    let mut shades = Vec::new();
    let mut instants = Vec::new();
    for (i, f) in s.faults.iter().enumerate() {
        let at = f.at_ms / 1e3;
        let Some(class) = f.class() else { continue };
        let kind = match class {
            c if c.severs() => ShadeKind::Partition,
            FaultClass::Degrade => ShadeKind::Degraded,
            FaultClass::ClockStep => {
                instants.push((at, f.label.clone()));
                continue;
            }
            _ => continue,
        };
        let ended_by_heal = heals
            .iter()
            .find(|(t, h)| *t >= at && h.ends(class))
            .map(|(t, _)| *t);
        // A newer partition replaces an older one (cuts are link faults and do not).
        let is_partition = |g: &crate::summary::FaultOut| g.class() == Some(FaultClass::Partition);
        let replaced = is_partition(f)
            .then(|| {
                s.faults[i + 1..]
                    .iter()
                    .find(|g| is_partition(g))
                    .map(|g| g.at_ms / 1e3)
            })
            .flatten();
        let to = [f.until_ms.map(|u| u / 1e3), ended_by_heal, replaced]
            .into_iter()
            .flatten()
            .fold(end_s, f64::min);
        shades.push(Shade {
            from_s: at,
            to_s: to,
            label: f
                .label
                .split(" for ")
                .next()
                .unwrap_or(&f.label)
                .to_string(),
            kind,
        });
    }
    for c in &s.crashes {
        shades.push(Shade {
            from_s: c.at_ms / 1e3,
            to_s: c.recovered_at_ms.map_or(end_s, |r| r / 1e3),
            label: format!("{} down", c.region),
            kind: ShadeKind::Crash,
        });
    }
    (shades, instants)
}

/// Per failure that cost writes: the RTO span `(from s, to s, label)`; a failure whose writes
/// never came back spans to the end of the run ("RTO never").
pub fn rto_spans(s: &RunSummary) -> Vec<(f64, f64, String)> {
    let end_s = s.sim_time_ns as f64 / 1e9;
    s.failovers
        .iter()
        .filter(|f| !f.rto_by_region_ms.is_empty())
        .map(|f| {
            let from = f.at_ms / 1e3;
            match f.rto_ms {
                Some(r) => (
                    from,
                    from + r / 1e3,
                    format!(
                        "RTO {}",
                        crate::failures::describe_rto(Some(r), f.rto_cut_off)
                    ),
                ),
                None => (from, end_s, "RTO: never recovered".to_string()),
            }
        })
        .collect()
}

/// Elections after failures: `(t s, "<region> primary")`.
pub fn failover_marks(s: &RunSummary) -> Vec<(f64, String)> {
    s.failovers
        .iter()
        .filter_map(|f| {
            let t = f.elected_after_ms?;
            Some((
                (f.at_ms + t) / 1e3,
                format!("{} primary", f.new_primary.as_deref().unwrap_or("?")),
            ))
        })
        .collect()
}

/// Fraction of a region's client operations that succeeded, per bucket with any: `(t s, f)`.
pub fn availability(series: &RegionSeries, bucket_ms: f64) -> Vec<(f64, f64)> {
    series
        .ops_ok
        .iter()
        .zip(&series.ops_failed)
        .enumerate()
        .filter(|(_, (ok, failed))| *ok + *failed > 0)
        .map(|(i, (ok, failed))| {
            (
                (i as f64 + 0.5) * bucket_ms / 1e3,
                *ok as f64 / (*ok + *failed) as f64,
            )
        })
        .collect()
}

/// `(age ms, P(read returned the latest acknowledged write))` per staleness bucket.
pub fn staleness_points(s: &RunSummary) -> Vec<(f64, f64)> {
    s.report_data
        .staleness
        .iter()
        .map(|b| (b.age_le_ms, b.fresh as f64 / b.reads as f64))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Drawing.

/// The series legend every chart uses: a light box at `pos`.
pub(crate) fn legend_box<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    pos: SeriesLabelPosition,
) -> DrawResult {
    chart
        .configure_series_labels()
        .position(pos)
        .background_style(WHITE.mix(0.9))
        .border_style(RGBColor(200, 200, 200))
        .draw()
        .map_err(e)
}

pub(crate) fn color(i: usize) -> RGBColor {
    // Colour-blind-friendly (Okabe-Ito), then the default palette.
    const OKABE_ITO: [(u8, u8, u8); 7] = [
        (0, 114, 178),
        (230, 159, 0),
        (0, 158, 115),
        (204, 121, 167),
        (86, 180, 233),
        (213, 94, 0),
        (240, 228, 66),
    ];
    match OKABE_ITO.get(i) {
        Some(&(r, g, b)) => RGBColor(r, g, b),
        None => {
            let c = Palette99::pick(i).to_rgba();
            RGBColor(c.0, c.1, c.2)
        }
    }
}

fn shade_color(k: ShadeKind) -> RGBAColor {
    match k {
        ShadeKind::Partition => RGBColor(220, 50, 47).mix(0.12),
        ShadeKind::Degraded => RGBColor(230, 159, 0).mix(0.15),
        ShadeKind::Crash => RGBColor(90, 90, 90).mix(0.15),
    }
}

fn caption(title: &str) -> (&str, (&'static str, u32)) {
    (title, ("sans-serif", 18))
}

/// A decade-aligned log range covering `values`. The first histogram bin (zero and sub-microsecond
/// values, edge 0.001 ms) does not stretch the range: those points are drawn at its left edge.
fn log_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (mut lo, mut hi) = (f64::INFINITY, 0.0f64);
    for v in values {
        if v > 0.0011 {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if !lo.is_finite() {
        return (0.1, 10.0);
    }
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
    (lo, hi)
}

/// Compact labels for log time axes in ms: `10us`, `1ms`, `100ms`, `10s`.
pub fn axis_ms(v: &f64) -> String {
    let v = *v;
    let trim = |x: f64| {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    if v < 1.0 {
        format!("{}us", trim(v * 1000.0))
    } else if v < 1000.0 {
        format!("{}ms", trim(v))
    } else {
        format!("{}s", trim(v / 1000.0))
    }
}

fn ms_label(v: &f64) -> String {
    axis_ms(v)
}

/// Whole seconds on long time axes, tenths on short ones.
fn secs_label(span_s: f64) -> impl Fn(&f64) -> String {
    move |v: &f64| {
        if span_s >= 10.0 {
            format!("{v:.0}")
        } else {
            format!("{v:.1}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::summary::{CrashOut, FaultOut};

    fn summary() -> RunSummary {
        let sc = crate::scenario::Scenario::parse(
            "name: t\nduration: 10s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 10ms}}\nworkload: {keys: 10, rate_per_region: 50, mix: {write: 0.5, read: 0.5}}\nfaults: [{at: 2s, partition: [[a], [b]]}, {at: 4s, heal: all}, {at: 5s, crash: b, for: 1s}, {at: 6s, clock_step: {region: a, by: -1s}}, {at: 7s, degrade: {link: \"a <-> b\", loss: 0.5}}]\n",
            "t.yaml",
        )
        .unwrap();
        crate::run(&sc, crate::RunOptions::default()).unwrap()
    }

    /// The crash of b (5 s to 6 s) cost b's clients writes until it recovered; with no
    /// failover there is no election mark. A failover summary's election becomes a mark at
    /// failure + elected-after, and an unrecovered outage spans to the end.
    #[test]
    fn rto_spans_and_failover_marks_follow_the_failures() {
        let mut s = summary();
        let spans = rto_spans(&s);
        let crash = spans
            .iter()
            .find(|x| x.0 == 5.0)
            .expect("the crash cost writes");
        let rto = s.failovers.iter().find(|f| f.kind == "crash").unwrap();
        let back = rto.rto_ms.unwrap();
        assert!(back >= 1000.0, "b is down for 1 s: {back}");
        assert_eq!(crash.1, 5.0 + back / 1e3);
        assert!(failover_marks(&s).is_empty());
        s.failovers[0].elected_after_ms = Some(1500.0);
        s.failovers[0].new_primary = Some("b".into());
        s.failovers[0].rto_ms = None;
        s.failovers[0].rto_by_region_ms.insert("a".into(), None);
        let at = s.failovers[0].at_ms / 1e3;
        assert_eq!(
            failover_marks(&s),
            vec![(at + 1.5, "b primary".to_string())]
        );
        let end = s.sim_time_ns as f64 / 1e9;
        assert!(rto_spans(&s)
            .iter()
            .any(|x| x.0 == at && x.1 == end && x.2 == "RTO: never recovered"));
    }

    #[test]
    fn cdf_reaches_one_in_order() {
        let c = cdf(&[(1.0, 1), (2.0, 2), (5.0, 1)]);
        assert_eq!(c, vec![(1.0, 0.25), (2.0, 0.75), (5.0, 1.0)]);
        assert!(cdf(&[]).is_empty());
    }

    #[test]
    fn spans_end_at_heals_recoveries_and_run_end() {
        let s = summary();
        let (shades, instants) = fault_spans(&s);
        let find = |k: ShadeKind| shades.iter().find(|x| x.kind == k).unwrap().clone();
        let p = find(ShadeKind::Partition);
        assert_eq!((p.from_s, p.to_s), (2.0, 4.0), "ended by `heal all`");
        let c = find(ShadeKind::Crash);
        assert_eq!((c.from_s, c.to_s, c.label.as_str()), (5.0, 6.0, "b down"));
        let d = find(ShadeKind::Degraded);
        assert_eq!((d.from_s, d.to_s), (7.0, 10.0), "open until the run ends");
        assert_eq!(instants.len(), 1);
        assert_eq!(instants[0].0, 6.0);
        let _ = (CrashOut::clone, FaultOut::clone);
    }

    #[test]
    fn availability_drops_while_a_region_is_down() {
        let s = summary();
        let b = availability(&s.report_data.series["b"], s.report_data.bucket_ms);
        let during: Vec<f64> = b
            .iter()
            .filter(|(t, _)| *t > 5.1 && *t < 5.9)
            .map(|p| p.1)
            .collect();
        assert!(
            !during.is_empty() && during.iter().all(|&f| f == 0.0),
            "{during:?}"
        );
        let before: Vec<f64> = b.iter().filter(|(t, _)| *t < 1.9).map(|p| p.1).collect();
        assert!(before.iter().all(|&f| f == 1.0));
    }

    /// A clock running behind plots below zero; the fault shading must cover that part of the
    /// plot too, not only the strip above zero.
    #[test]
    fn fault_shading_spans_negative_values() {
        let mut s = summary();
        for r in s.report_data.series.values_mut() {
            r.clock_error_ms = (0..100).map(|i| Some(-5.0 * i as f64)).collect();
        }
        let svg = to_svg(ChartKind::ClockError, &s).unwrap();
        let attr = |tag: &str, name: &str| -> f64 {
            let at = tag.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            tag[at..].split('"').next().unwrap().parse().unwrap()
        };
        let image_height = attr(&svg[..svg.find('>').unwrap()], "height");
        // The partition (2 s to 4 s) is the only red shade.
        let shade = svg
            .split("<rect")
            .find(|t| t.contains("#DC322F"))
            .expect("a partition shade");
        let height = attr(shade, "height");
        assert!(
            height > 0.5 * image_height,
            "shade {height} of {image_height} px"
        );
    }

    #[test]
    fn every_chart_renders_to_svg_and_png() {
        let s = summary();
        let dir = std::env::temp_dir().join(format!("regionsim-charts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let kinds = charts_for(&s);
        assert!(
            kinds.contains(&ChartKind::Staleness) && kinds.contains(&ChartKind::Sequence),
            "{kinds:?}"
        );
        for k in kinds {
            let svg = to_svg(k, &s).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("</svg>"), "{k:?}");
            assert!(svg.contains("<text"), "{k:?} has no text");
            let png = dir.join(format!("{}.png", k.file_stem()));
            to_png(k, &s, &png).unwrap();
            let bytes = std::fs::read(&png).unwrap();
            assert_eq!(&bytes[1..4], b"PNG", "{k:?}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[cfg(test)]
mod axis_tests {
    use super::*;

    #[test]
    fn axis_labels_are_compact() {
        assert_eq!(axis_ms(&0.01), "10us");
        assert_eq!(axis_ms(&1.0), "1ms");
        assert_eq!(axis_ms(&100.0), "100ms");
        assert_eq!(axis_ms(&100_000.0), "100s");
        assert_eq!(axis_ms(&2500.0), "2.5s");
        assert_eq!(log_range([0.001, 5.0, 700.0].into_iter()), (1.0, 1000.0));
    }
}
