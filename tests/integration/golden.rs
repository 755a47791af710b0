//! CI replay and golden behaviour.

use crate::common::*;

#[test]
fn cli_check_blesses_then_catches_behaviour_changes() {
    let dir = temp_dir("check");
    let base = "name: g\nduration: 3s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 20ms}}\nworkload: {keys: 100, rate_per_region: 100}\n";
    std::fs::write(dir.join("g.yaml"), base).unwrap();
    let d = dir.to_str().unwrap();
    let (code, stdout, _) = sim(&["check", d]);
    assert_eq!(code, 1, "no golden yet: {stdout}");
    assert!(
        stdout.contains("no golden digest recorded") && stdout.ends_with("0 passed, 1 failed\n"),
        "{stdout}"
    );
    let (code, stdout, _) = sim(&["check", d, "--bless"]);
    assert_eq!(code, 0, "{stdout}");
    assert!(dir.join("golden.json").exists());
    let (code, stdout, _) = sim(&["check", d]);
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.ends_with("1 passed, 0 failed\n"), "{stdout}");
    // Same file, different behaviour: fails and says what changed.
    std::fs::write(
        dir.join("g.yaml"),
        base.replace("rate_per_region: 100", "rate_per_region: 120"),
    )
    .unwrap();
    let (code, stdout, _) = sim(&["check", d]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("behaviour changed")
            && stdout.contains("trace_digest")
            && stdout.contains("events"),
        "{stdout}"
    );
    let (code, stdout, _) = sim(&["check", d, "--bless"]);
    assert_eq!(code, 0);
    assert!(stdout.contains("re-blessed"), "{stdout}");
    // A failed expectation fails the check even with a matching golden.
    std::fs::write(
        dir.join("g.yaml"),
        format!(
            "{}expect: {{ visibility_max: 1ms }}\n",
            base.replace("rate_per_region: 100", "rate_per_region: 120")
        ),
    )
    .unwrap();
    let (code, stdout, _) = sim(&["check", d]);
    assert_eq!(code, 1);
    assert!(
        stdout.contains("failed expect.visibility_max: sim run"),
        "{stdout}"
    );
    let (code, _, stderr) = sim(&["check", dir.join("nothing").to_str().unwrap()]);
    assert_eq!(code, 2, "{stderr}");
}

/// The shipped scenarios still behave exactly as recorded in scenarios/golden.json. A change that
/// alters behaviour fails here until re-blessed with `sim check --bless`.
#[test]
fn shipped_scenarios_match_their_golden_digests() {
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shipped("golden.json")).unwrap()).unwrap();
    for (file, g) in golden["scenarios"].as_object().unwrap() {
        let sc = Scenario::load(&shipped(file)).unwrap();
        let s = run(&sc, RunOptions::default()).unwrap();
        assert_eq!(
            s.trace_digest,
            g["trace_digest"].as_str().unwrap(),
            "{file} behaves differently"
        );
        assert_eq!(s.events, g["events"].as_u64().unwrap(), "{file}");
    }
}
