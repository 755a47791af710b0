//! Rendering stage: turns a finished `RunSummary` into things people read. It never simulates,
//! so a saved `summary.json` can be re-rendered at any time (`sim report`).

pub mod charts;
pub mod compare;
pub mod html;
pub mod markdown;
pub mod text;

use crate::output::write_atomic;
use crate::summary::RunSummary;
use charts::ChartKind;
use std::path::{Path, PathBuf};

/// Which image files to write beside the report (the HTML always inlines SVG).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ImageFormat {
    Png,
    Svg,
    #[default]
    Both,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot draw the {chart} chart: {message}")]
    Chart {
        chart: &'static str,
        message: String,
    },
}

/// What a report wrote.
#[derive(Debug, Default)]
pub struct ReportFiles {
    pub index: PathBuf,
    pub markdown: PathBuf,
    pub images: Vec<PathBuf>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReportError + '_ {
    move |source| ReportError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `index.html`, `summary.md` and `charts/*` into `dir`, each file atomically.
pub fn write_report(
    s: &RunSummary,
    dir: &Path,
    format: ImageFormat,
) -> Result<ReportFiles, ReportError> {
    let charts_dir = dir.join("charts");
    std::fs::create_dir_all(&charts_dir).map_err(io(&charts_dir))?;
    let mut files = ReportFiles::default();
    let mut rendered: Vec<(ChartKind, String)> = Vec::new();
    for kind in charts::charts_for(s) {
        let chart_err = |message| ReportError::Chart {
            chart: kind.file_stem(),
            message,
        };
        let svg = charts::to_svg(kind, s).map_err(chart_err)?;
        if matches!(format, ImageFormat::Svg | ImageFormat::Both) {
            let p = charts_dir.join(format!("{}.svg", kind.file_stem()));
            write_atomic(&p, svg.as_bytes()).map_err(io(&p))?;
            files.images.push(p);
        }
        if matches!(format, ImageFormat::Png | ImageFormat::Both) {
            let p = charts_dir.join(format!("{}.png", kind.file_stem()));
            // Drawn to a temporary name, then renamed: no half-written image survives a failure.
            let tmp = charts_dir.join(format!(
                ".{}.tmp.{}.png",
                kind.file_stem(),
                std::process::id()
            ));
            if let Err(message) = charts::to_png(kind, s, &tmp) {
                let _ = std::fs::remove_file(&tmp);
                return Err(chart_err(message));
            }
            std::fs::rename(&tmp, &p).map_err(io(&p))?;
            files.images.push(p);
        }
        rendered.push((kind, svg));
    }
    files.index = dir.join("index.html");
    write_atomic(&files.index, html::render(s, &rendered).as_bytes()).map_err(io(&files.index))?;
    files.markdown = dir.join("summary.md");
    write_atomic(&files.markdown, markdown::render(s).as_bytes()).map_err(io(&files.markdown))?;
    Ok(files)
}

/// " during catch-up" for a fault that began outside steady running (nothing when steady, or
/// for summaries written before phases were recorded).
pub(crate) fn during(phases: &[String]) -> String {
    let busy: Vec<&str> = phases
        .iter()
        .map(String::as_str)
        .filter(|p| *p != "steady")
        .collect();
    if busy.is_empty() {
        String::new()
    } else {
        format!(" during {}", busy.join(" and "))
    }
}
