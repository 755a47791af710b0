//! Comparisons of designs side by side.

use crate::common::*;

#[test]
fn cli_compare_writes_json_markdown_and_report() {
    let dir = temp_dir("compare");
    let (code, stdout, stderr) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "network.loss=0,0.02",
        "--vary",
        "duration=5s",
        "--seeds",
        "1..3",
        "--jobs",
        "2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("loss=0, duration=5s") && stdout.contains("loss=0.02, duration=5s"),
        "{stdout}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    assert_eq!(json["variants"].as_array().unwrap().len(), 2);
    assert_eq!(json["seeds"], serde_json::json!([1, 2, 3]));
    assert_eq!(json["variants"][0]["runs"].as_array().unwrap().len(), 3);
    // With no loss and constant latency, visibility p99 is the same for every seed.
    assert_eq!(
        json["variants"][0]["estimates"]["visibility_p99_ms"]["ci95"],
        0.0
    );
    let html = std::fs::read_to_string(dir.join("index.html")).unwrap();
    assert_eq!(
        html.matches("<figure").count(),
        11,
        "one chart per metric with a value (no heals, reads or prices here)"
    );
    assert!(
        std::fs::read_to_string(dir.join("compare.md"))
            .unwrap()
            .contains("| loss=0.02, duration=5s | 0/3 |"),
        "loss breaks the 100ms visibility_max expectation"
    );
    // Same seeds, one thread: identical results.
    let dir1 = temp_dir("compare-1job");
    let (code, _, _) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "network.loss=0,0.02",
        "--vary",
        "duration=5s",
        "--seeds",
        "1..3",
        "--jobs",
        "1",
        "--out",
        dir1.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        std::fs::read(dir1.join("compare.json")).unwrap(),
        std::fs::read(dir.join("compare.json")).unwrap()
    );
}

/// The comparison: on a skewed-clock scenario LWW loses updates to skew, a hybrid
/// logical clock loses none to skew, and siblings and CRDTs lose none at all (for a few more
/// bytes per write); on the counter scenario LWW read-modify-write counters drift and CRDTs
/// stay exact.
#[test]
fn cli_compare_conflict_policies_side_by_side() {
    let dir = temp_dir("compare-conflict");
    let (code, stdout, stderr) = sim(&[
        "compare",
        "scenarios/clock-skew-lww.yaml",
        "--vary",
        "replication.conflict=lww,lww-hlc,siblings,crdt",
        "--vary",
        "duration=40s",
        "--out",
        dir.to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("compare.json")).unwrap()).unwrap();
    let m = |i: usize, name: &str| json["variants"][i]["runs"][0]["metrics"][name].as_f64();
    assert!(
        m(0, "skew_lost_updates").unwrap() > 0.0,
        "lww loses to skew"
    );
    assert!(m(0, "lost_updates").unwrap() > m(0, "skew_lost_updates").unwrap());
    assert_eq!(
        m(1, "skew_lost_updates"),
        Some(0.0),
        "an HLC never loses to skew"
    );
    assert!(
        m(1, "lost_updates").unwrap() > 0.0,
        "...but still loses concurrent writes"
    );
    for i in [2, 3] {
        assert_eq!(
            m(i, "lost_updates"),
            Some(0.0),
            "variant {i} keeps siblings"
        );
        assert!(m(i, "bytes_per_write").unwrap() > m(0, "bytes_per_write").unwrap());
        assert!(m(i, "keys_with_siblings").unwrap() > 0.0);
    }
    let (code, stdout, stderr) = sim(&[
        "compare",
        "scenarios/counters.yaml",
        "--vary",
        "replication.conflict=lww,crdt",
        "--out",
        dir.join("counters").to_str().unwrap(),
        "-q",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("counters/compare.json")).unwrap())
            .unwrap();
    let run = |i: usize| &json["variants"][i]["runs"][0];
    // `views` stays a g-counter in both (its own policy); `stock` follows `conflict`.
    assert!(run(0)["metrics"]["counter_error"].as_f64().unwrap() > 0.0);
    assert_eq!(
        run(0)["failed_checks"],
        serde_json::json!(["counters-exact"])
    );
    assert_eq!(run(1)["metrics"]["counter_error"].as_f64(), Some(0.0));
    assert_eq!(run(1)["passed"], true);
}

#[test]
fn cli_compare_strict_and_bad_input() {
    let dir = temp_dir("compare-bad");
    let (code, _, stderr) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "network.loss=2",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("variant loss=2") && stderr.contains("network.loss"),
        "{stderr}"
    );
    let (code, _, stderr) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "nonsense",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("KEY=VALUE"), "{stderr}");
    let (code, _, stderr) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--seeds",
        "9..1",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--seeds"), "{stderr}");
    let (code, _, stderr) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "regions[7].name=x",
        "--out",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("3 items"), "{stderr}");
    // A tight expectation fails some variant: --strict turns that into exit 1.
    let (code, stdout, _) = sim(&[
        "compare",
        "scenarios/bench-mesh3.yaml",
        "--vary",
        "expect.visibility_max=50ms,1s",
        "--vary",
        "duration=2s",
        "--out",
        dir.to_str().unwrap(),
        "--strict",
        "-q",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("FAIL: 1 of 2 runs"), "{stdout}");
}
