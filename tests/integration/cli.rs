//! The command line: exit codes, outputs, bad input.

use crate::common::*;

#[test]
fn cli_run_writes_the_summary_contract_and_exits_zero() {
    let dir = temp_dir("run");
    let trace = dir.join("t.jsonl");
    let (code, stdout, stderr) = sim(&[
        "run",
        "scenarios/bench-mesh3.yaml",
        "--out",
        dir.to_str().unwrap(),
        "--seed",
        "5",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("PASS bench-mesh3 (seed 5)"), "{stdout}");
    assert!(
        stdout.contains("repro: sim run scenarios/bench-mesh3.yaml --seed 5"),
        "{stdout}"
    );
    assert!(stderr.contains("with seed 5"), "seed banner: {stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    for key in [
        "scenario",
        "seed",
        "version",
        "trace_digest",
        "events",
        "sim_time_ns",
        "wall",
        "writes",
        "reads",
        "visibility_ms",
        "lag_ms",
        "convergence",
        "lost_acked_writes",
        "lost_updates",
        "messages",
        "checks",
        "expectations",
    ] {
        assert!(json.get(key).is_some(), "summary.json lacks `{key}`");
    }
    for key in ["ms", "events_per_sec", "sim_to_wall_ratio"] {
        assert!(json["wall"].get(key).is_some(), "wall lacks {key}");
    }
    if cfg!(target_os = "linux") {
        // At least the 300 k write records of 80 bytes are resident, and far less than a GiB.
        let rss = json["wall"]["peak_rss_bytes"]
            .as_u64()
            .expect("peak memory on Linux");
        assert!((24 << 20..1 << 30).contains(&rss), "peak RSS {rss}");
        assert!(stdout.contains(", peak memory "), "{stdout}");
    }
    for key in ["count", "mean", "p50", "p90", "p99", "p999", "max"] {
        assert!(
            json["visibility_ms"].get(key).is_some(),
            "visibility_ms lacks {key}"
        );
    }
    assert_eq!(json["seed"], 5);
    assert!(json["lag_ms"].get("r0->r1").is_some());
    assert!(json["convergence"].get("after_heal_ms").is_some());
    assert!(std::fs::metadata(&trace).unwrap().len() > 0);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left behind");
    // --quiet prints only the verdict.
    let (code, stdout, stderr) = sim(&[
        "run",
        "scenarios/bench-mesh3.yaml",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn cli_failed_expectation_exits_one_with_repro() {
    let dir = temp_dir("fail");
    let file = dir.join("strict.yaml");
    std::fs::write(
        &file,
        "name: strict\nduration: 5s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 50ms}}\n\
         workload: {keys: 100, rate_per_region: 50}\nexpect: {visibility_p99: 10ms}\n",
    )
    .unwrap();
    let (code, stdout, _) = sim(&[
        "run",
        file.to_str().unwrap(),
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("FAIL strict (seed 1): expect.visibility_p99"),
        "{stdout}"
    );
    assert!(stdout.contains("repro: sim run"), "{stdout}");
}

/// Each bad input: exit 2, a message naming the file and where, no panic, no output written.
#[test]
fn cli_bad_input_exits_two_with_a_located_message() {
    let dir = temp_dir("bad");
    let base = "name: bad\nduration: 5s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 50ms}}\nworkload: {keys: 10, rate_per_region: 5}\n";
    let cases: &[(&str, String, &[&str])] = &[
        (
            "malformed",
            "name: [unclosed\n".into(),
            &["malformed.yaml:"],
        ),
        (
            "unknown-key",
            format!("{base}colour: blue\n"),
            &["unknown-key.yaml:6:", "unknown field `colour`"],
        ),
        (
            "unknown-region",
            format!("{base}faults: [{{at: 1s, crash: mars}}]\n"),
            &["faults[0].crash", "unknown region `mars`"],
        ),
        (
            "after-end",
            format!("{base}faults: [{{at: 9s, crash: a}}]\n"),
            &["faults[0].at", "not before the end"],
        ),
        (
            "bad-prob",
            base.replace("default: 50ms}", "default: 50ms}, loss: 2"),
            &["network.loss", "between 0 and 1"],
        ),
        (
            "neg-duration",
            base.replace("duration: 5s", "duration: -5s"),
            &["duration", "negative"],
        ),
        (
            "twice",
            format!("{base}faults: [{{at: 1s, partition: [[a, b], [a]]}}]\n"),
            &["named twice"],
        ),
        (
            "dup-region",
            base.replace("{name: b}", "{name: a}"),
            &["regions[1].name", "duplicate"],
        ),
        (
            "no-latency",
            base.replace("{latency: {default: 50ms}}", "{latency: {}}"),
            &["no latency for a -> b"],
        ),
        (
            "huge",
            base.replace("rate_per_region: 5", "rate_per_region: 9000000")
                .replace("5s", "500s"),
            &["refusing to run"],
        ),
        (
            "too-many-keys",
            base.replace("keys: 10", "keys: 900000000000"),
            &["workload.keys", "GiB"],
        ),
        (
            "bad-unit",
            base.replace("duration: 5s", "duration: 5 parsecs"),
            &["duration", "unknown unit"],
        ),
        (
            "missing-quantiles",
            base.replace(
                "default: 50ms}",
                "default: {dist: empirical, file: nope.csv}}",
            ),
            &["network.latency.default", "cannot read", "nope.csv"],
        ),
        (
            "bad-quantiles",
            base.replace(
                "default: 50ms}",
                "default: {dist: empirical, quantiles: [[0.9, 40ms], [0.5, 50ms]]}}",
            ),
            &["network.latency.default", "quantiles must increase"],
        ),
        (
            "unknown-class",
            base.replace(
                "default: 50ms}",
                "default: 50ms}, classes: {gossip: {add: 1ms}}",
            ),
            &["unknown field `gossip`", "read_reply"],
        ),
        (
            "bad-service",
            format!("{base}service: {{regions: {{mars: {{write: 1ms}}}}}}\n"),
            &["service.regions.mars", "unknown region `mars`"],
        ),
        (
            "bad-tree",
            format!("{base}replication: {{anti_entropy: {{interval: 5s, leaves: 100}}}}\n"),
            &["replication.anti_entropy.leaves", "power of branching"],
        ),
    ];
    for (name, text, needles) in cases {
        let file = dir.join(format!("{name}.yaml"));
        std::fs::write(&file, text).unwrap();
        let out_dir = dir.join(format!("out-{name}"));
        let (code, stdout, stderr) = sim(&[
            "run",
            file.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        assert_eq!(code, 2, "{name}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{name}: {stderr}");
        assert!(stderr.starts_with("error: "), "{name}: {stderr}");
        for n in *needles {
            assert!(stderr.contains(n), "{name}: `{n}` not in: {stderr}");
        }
        assert!(!out_dir.exists(), "{name}: nothing should be written");
        let (vcode, _, _) = sim(&["validate", file.to_str().unwrap()]);
        assert_eq!(vcode, 2, "validate {name}");
    }
    let (code, _, stderr) = sim(&["run", "does/not/exist.yaml"]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("does/not/exist.yaml: cannot read"),
        "{stderr}"
    );
    let (code, _, _) = sim(&["run"]);
    assert_eq!(code, 2, "missing argument is a usage error");
}

#[test]
fn cli_validate_accepts_every_shipped_scenario() {
    let mut files: Vec<String> = std::fs::read_dir(shipped(""))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert!(files.len() >= 5);
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let (code, stdout, stderr) = sim(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("ok ")).count(),
        files.len()
    );
}

#[test]
fn cli_presets_lists_and_shows() {
    let (code, stdout, _) = sim(&["presets"]);
    assert_eq!(code, 0);
    for p in ["aws-2023", "aws-2020", "azure-2025", "gcp-2023", "ibm-2025"] {
        assert!(stdout.contains(p), "{p} missing from {stdout}");
    }
    let (code, stdout, _) = sim(&["presets", "gcp-2023"]);
    assert_eq!(code, 0);
    assert!(
        stdout.contains("us-east4") && stdout.contains("source:"),
        "{stdout}"
    );
    let (code, _, stderr) = sim(&["presets", "nope"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown preset `nope`"));
}

/// Every shipped scenario passes its own expectations (CI replays them).
#[test]
fn shipped_scenarios_meet_their_expectations() {
    for name in [
        "partition.yaml",
        "steady-mesh.yaml",
        "lossy-links.yaml",
        "clock-skew-lww.yaml",
        "bench-mesh3.yaml",
        "weather.yaml",
        "shopping-cart.yaml",
        "counters.yaml",
    ] {
        let sc = Scenario::load(&shipped(name)).unwrap();
        let s = run(&sc, RunOptions::default()).unwrap();
        assert!(s.passed, "{name}: {:?} {:?}", s.checks, s.expectations);
    }
}
