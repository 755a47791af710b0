//! Reports: HTML, charts, re-rendering.

use crate::common::*;

#[test]
fn cli_run_writes_a_report_and_sim_report_rerenders_it_identically() {
    let dir = temp_dir("report");
    let (code, stdout, stderr) = sim(&[
        "run",
        "scenarios/partition.yaml",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("index.html"), "{stdout}");
    assert_eq!(
        files_in(&dir),
        ["charts", "index.html", "summary.json", "summary.md"]
    );
    let charts = files_in(&dir.join("charts"));
    for stem in [
        "visibility-cdf",
        "lag-histograms",
        "backlog-timeline",
        "availability",
        "staleness",
        "latency-heatmap",
        "lag-p99-heatmap",
        "staleness-t99-heatmap",
        "message-sequence",
        "conflicts-timeline",
    ] {
        assert!(
            charts.contains(&format!("{stem}.png")) && charts.contains(&format!("{stem}.svg")),
            "{stem}: {charts:?}"
        );
    }
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert!(
        html.contains("partition-heal")
            && html.contains("sim run scenarios/partition.yaml --seed 42")
    );
    assert_eq!(html.matches("<figure").count(), 10);
    assert!(
        !html.contains("http://")
            || html
                .matches("http://")
                .all(|_| html.contains("xmlns=\"http://www.w3.org/2000/svg\"")),
        "no external references except the SVG namespace"
    );
    assert!(
        !html.contains("<script") && !html.contains("<link") && !html.contains("<img"),
        "self-contained"
    );
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    assert!(
        md.starts_with("### PASS `partition-heal` (seed 42)"),
        "{md}"
    );

    // Re-render from the saved summary into another directory: identical bytes, no simulation.
    let again = temp_dir("report-again");
    let (code, stdout, stderr) = sim(&[
        "report",
        dir.join("summary.json").to_str().unwrap(),
        "--out",
        again.to_str().unwrap(),
        "--format",
        "svg",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        std::fs::read(again.join("index.html")).unwrap(),
        html.as_bytes()
    );
    assert_eq!(
        std::fs::read(again.join("summary.md")).unwrap(),
        md.as_bytes()
    );
    assert!(
        files_in(&again.join("charts"))
            .iter()
            .all(|f| f.ends_with(".svg")),
        "--format svg writes SVG only"
    );

    // A second run renders the same report (the wall clock never reaches it).
    let third = temp_dir("report-third");
    let (code, _, _) = sim(&[
        "run",
        "scenarios/partition.yaml",
        "--out",
        third.to_str().unwrap(),
        "--format",
        "png",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(third.join("index.html")).unwrap(),
        html.as_bytes()
    );
    assert!(
        files_in(&third.join("charts"))
            .iter()
            .all(|f| f.ends_with(".png")),
        "--format png writes PNG only"
    );

    // --no-report: the summary alone.
    let bare = temp_dir("report-none");
    let (code, _, _) = sim(&[
        "run",
        "scenarios/bench-mesh3.yaml",
        "--out",
        bare.to_str().unwrap(),
        "--no-report",
    ]);
    assert_eq!(code, 0);
    assert_eq!(files_in(&bare), ["summary.json"]);
}

#[test]
fn report_escapes_scenario_text() {
    let dir = temp_dir("escape");
    let file = dir.join("hostile.yaml");
    std::fs::write(
        &file,
        "name: \"x<script>alert(1)</script>\"\ndescription: \"<img src=x onerror=alert(2)> & co\"\nduration: 2s\n\
         regions: [{name: \"a<b>\"}, {name: \"c&d\"}]\nnetwork: {latency: {default: 5ms}}\nworkload: {keys: 10, rate_per_region: 20}\n",
    )
    .unwrap();
    let out = dir.join("out");
    let (code, stdout, stderr) = sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(
        !html.contains("<script>alert(1)") && !html.contains("<img src=x"),
        "unescaped scenario text"
    );
    assert!(html.contains("x&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt; &amp; co"));
    assert!(
        !html.contains("<b>") && html.contains("a&lt;b&gt;"),
        "region names escaped in tables and charts"
    );
}

#[test]
fn sim_report_rejects_bad_summaries() {
    let dir = temp_dir("bad-summary");
    let f = dir.join("summary.json");
    std::fs::write(&f, "{ not json").unwrap();
    let (code, _, stderr) = sim(&["report", f.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a summary.json"), "{stderr}");
    let (code, _, stderr) = sim(&["report", dir.join("missing.json").to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(stderr.contains("cannot read"), "{stderr}");
    assert!(files_in(&dir) == ["summary.json"], "nothing written");
}
