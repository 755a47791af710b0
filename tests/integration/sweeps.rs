//! Sweeps, sharding and shrinking.

use crate::common::*;

#[test]
fn cli_sweep_shards_merge_to_the_single_machine_sweep() {
    let dir = temp_dir("sweep");
    let whole = dir.join("whole");
    let (code, stdout, stderr) = sim(&[
        "sweep",
        "scenarios/lossy-links.yaml",
        "--seeds",
        "1..6",
        "--jobs",
        "2",
        "--out",
        whole.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.ends_with("6 passed, 0 failed\n"), "{stdout}");
    let mut shard_files = Vec::new();
    for i in 0..2 {
        let d = dir.join(format!("shard{i}"));
        let (code, stdout, _) = sim(&[
            "sweep",
            "scenarios/lossy-links.yaml",
            "--seeds",
            "1..6",
            "--shard",
            &format!("{i}/2"),
            "--jobs",
            "1",
            "--out",
            d.to_str().unwrap(),
            "-q",
        ]);
        assert_eq!(code, 0, "{stdout}");
        assert_eq!(stdout, "3 passed, 0 failed\n");
        shard_files.push(d.join("sweep.json").to_string_lossy().into_owned());
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge"];
    args.extend(shard_files.iter().map(String::as_str));
    args.extend(["--out", merged.to_str().unwrap(), "-q"]);
    let (code, stdout, stderr) = sim(&args);
    assert_eq!(code, 0, "{stdout}{stderr}");
    // Byte-identical, floats included (JSON numbers must round-trip exactly).
    assert!(
        std::fs::read_to_string(merged.join("sweep.json")).unwrap()
            == std::fs::read_to_string(whole.join("sweep.json")).unwrap(),
        "merged shards differ from the single-machine sweep"
    );
    assert!(merged.join("sweep.md").exists());
}

#[test]
fn cli_sweep_reports_failing_seeds_and_rejects_bad_input() {
    let dir = temp_dir("sweep-fail");
    let file = dir.join("tight.yaml");
    std::fs::write(
        &file,
        "name: tight\nduration: 2s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: {dist: uniform, low: 10ms, high: 30ms}}, loss: 0.05}\n\
         workload: {keys: 50, rate_per_region: 50}\nexpect: {visibility_max: 500ms}\n",
    )
    .unwrap();
    let (code, stdout, _) = sim(&[
        "sweep",
        file.to_str().unwrap(),
        "--seeds",
        "1..12",
        "--out",
        dir.join("o").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("Failing seeds")
            && stdout.contains(&format!("sim run {} --seed 8", file.display())),
        "{stdout}"
    );
    assert!(stdout.contains("expect.visibility_max"), "{stdout}");
    for (args, needle) in [
        (
            vec!["sweep", "scenarios/bench-mesh3.yaml", "--shard", "2/2"],
            "--shard",
        ),
        (
            vec!["sweep", "scenarios/bench-mesh3.yaml", "--seeds", "x"],
            "--seeds",
        ),
    ] {
        let (code, _, stderr) = sim(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(stderr.contains(needle), "{stderr}");
    }
    let bogus = dir.join("bogus.json");
    std::fs::write(&bogus, "[]").unwrap();
    let (code, _, stderr) = sim(&[
        "merge",
        bogus.to_str().unwrap(),
        "--out",
        dir.join("m").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("is not a sweep.json"), "{stderr}");
}

/// An absurd --jobs is capped, not a crash.
/// A seed whose weather breaks an expectation shrinks to a standalone file with fewer faults and
/// a smaller world that fails the same expectation, and says how to run it.
#[test]
fn cli_shrink_writes_a_smaller_reproducer_that_fails_the_same_way() {
    let dir = temp_dir("shrink");
    let file = dir.join("wx.yaml");
    std::fs::write(
        &file,
        r#"
name: wx
seed: 1
duration: 60s
regions: [{ name: a }, { name: b }, { name: c }, { name: d }]
network: { latency: { default: 40ms } }
workload: { keys: 2000, rate_per_region: 100, mix: { write: 0.7, read: 0.3 } }
weather:
  start: 5s
  partitions: { per_min: 6, duration: { min: 2s, max: 10s } }
  degrades: { per_min: 6, duration: { min: 2s, max: 8s }, add_latency: { min: 50ms, max: 300ms } }
  clock_steps: { per_min: 2, by: { min: -1s, max: 1s } }
expect:
  skew_lost_updates: 0
"#,
    )
    .unwrap();
    let sc = Scenario::load(&file).unwrap();
    let realised = sc.with_weather(1).faults.len();
    assert!(realised >= 5, "{realised} faults");
    let out = dir.join("min.yaml");
    let (code, stdout, stderr) = sim(&[
        "shrink",
        file.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.contains("still fails `expect.skew_lost_updates`"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("reproduce: sim run {} --seed 1", out.display())),
        "{stdout}"
    );
    let min = Scenario::load(&out).unwrap();
    assert!(min.weather.is_none());
    assert!(min.faults.len() < realised, "{} faults", min.faults.len());
    assert!(
        min.faults
            .iter()
            .any(|f| matches!(f.action, regionsim::scenario::FaultAction::ClockStep { .. })),
        "a skew anomaly needs a clock step: {:?}",
        min.faults
    );
    assert!(min.workload.keys < 2000 || min.n() < 4 || min.duration < sc.duration);
    let (code, stdout, _) = sim(&[
        "run",
        out.to_str().unwrap(),
        "--seed",
        "1",
        "--no-report",
        "--out",
        dir.join("r").to_str().unwrap(),
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("expect.skew_lost_updates"), "{stdout}");

    // A passing seed has nothing to shrink; bad input is exit 2.
    let ok = dir.join("ok.yaml");
    std::fs::write(
        &ok,
        "name: ok\nduration: 2s\nregions: [{name: a}, {name: b}]\nnetwork: {latency: {default: 5ms}}\nworkload: {keys: 10, rate_per_region: 5}\n",
    )
    .unwrap();
    let (code, stdout, _) = sim(&[
        "shrink",
        ok.to_str().unwrap(),
        "--out",
        dir.join("x.yaml").to_str().unwrap(),
    ]);
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing to shrink"), "{stdout}");
    assert!(!dir.join("x.yaml").exists());
    let (code, _, stderr) = sim(&["shrink", "no/such.yaml"]);
    assert_eq!(code, 2, "{stderr}");
}

#[test]
fn cli_huge_jobs_is_capped_not_a_panic() {
    let dir = temp_dir("jobs");
    for cmd in ["sweep", "check"] {
        let target = if cmd == "sweep" {
            "scenarios/bench-mesh3.yaml"
        } else {
            "scenarios"
        };
        let mut args = vec![cmd, target, "--jobs", "100000000"];
        let out = dir.join(cmd);
        if cmd == "sweep" {
            args.extend(["--seeds", "1..2", "-q", "--out", out.to_str().unwrap()]);
        }
        let (code, stdout, stderr) = sim(&args);
        assert_eq!(code, 0, "{cmd}: {stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}
