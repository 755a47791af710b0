//! Clocks (noise and NTP-like synchronisation) and data policies.

use crate::common::*;

/// Two regions whose time daemons poll every 10 s with perfect measurements: b's 400 ms error
/// is beyond the 128 ms step threshold and is stepped away at its first poll (10 s); a's 20 ms
/// is slewed away at 500 ppm, 5 ms per poll interval, so its polls find 20, 15, 10, 5 and 0 ms.
#[test]
fn ntp_steps_large_errors_and_slews_small_ones() {
    let s = simulate(
        r#"
name: ntp
duration: 60s
regions:
  - { name: a, clock: { offset: -20ms } }
  - { name: b, clock: { offset: 400ms } }
clocks:
  ntp: { interval: 10s, accuracy: 0ms }
network: { latency: { links: { "a <-> b": 30ms } } }
workload: { keys: 50, rate_per_region: 20 }
"#,
        None,
    );
    let (a, b) = (&s.clocks[0], &s.clocks[1]);
    assert_eq!((a.region.as_str(), b.region.as_str()), ("a", "b"));
    assert_eq!(
        (a.steps, a.max_error_ms, a.final_error_ms),
        (0, 20.0, 0.0),
        "{a:?}"
    );
    assert_eq!(
        (b.steps, b.max_error_ms, b.final_error_ms),
        (1, 400.0, 0.0),
        "{b:?}"
    );
    assert!(a.polls >= 6 && b.polls >= 5, "{a:?} {b:?}");
    let series = &s.report_data.series["a"].clock_error_ms;
    let bucket = s.report_data.bucket_ms;
    let polls: Vec<f64> = series.iter().flatten().copied().collect();
    assert_eq!(&polls[..6], &[-20.0, -15.0, -10.0, -5.0, 0.0, 0.0]);
    assert_eq!(
        series[(5000.0 / bucket) as usize],
        Some(-20.0),
        "first poll at 5 s"
    );
    // The time daemon's corrections are part of the behaviour the digest pins.
    let without = simulate(
        r#"
name: ntp
duration: 60s
regions:
  - { name: a, clock: { offset: -20ms } }
  - { name: b, clock: { offset: 400ms } }
network: { latency: { links: { "a <-> b": 30ms } } }
workload: { keys: 50, rate_per_region: 20 }
"#,
        None,
    );
    assert!(
        without.clocks.is_empty(),
        "no clock section without noise or a daemon"
    );
    assert_ne!(s.trace_digest, without.trace_digest);
}

/// Perfect clocks never make a causally later write lose; reading noise alone does, as soon
/// as it exceeds the time between a write arriving and the next local write of the key.
#[test]
fn clock_noise_alone_causes_skew_lost_updates() {
    let run_with = |clocks: &str, seed: u64| {
        simulate(
            &format!(
                r#"
name: noise
duration: 20s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
{clocks}
network: {{ latency: {{ links: {{ "a <-> b": 2ms, "b <-> c": 2ms, "a <-> c": 2ms }} }} }}
workload: {{ keys: 5, rate_per_region: 200, mix: {{ write: 0.8, read: 0.2 }} }}
"#
            ),
            Some(seed),
        )
    };
    let perfect = run_with("", 3);
    let noisy = run_with("clocks: { noise: 5ms }", 3);
    assert!(
        perfect.lost_updates.total > 0,
        "concurrent writes still collide"
    );
    assert_eq!(perfect.lost_updates.skew, 0, "{:?}", perfect.lost_updates);
    assert!(noisy.lost_updates.skew > 100, "{:?}", noisy.lost_updates);
    assert!(
        noisy.lost_updates.max_skew_ms <= 10.0,
        "at most twice the noise bound"
    );
    assert_eq!(noisy.clocks.len(), 3);
    assert_eq!(noisy.clocks[0].noise_ms, 5.0);
    // Noise draws come from the clocks' own streams: same seed, same run; another seed differs.
    assert_eq!(
        noisy.trace_digest,
        run_with("clocks: { noise: 5ms }", 3).trace_digest
    );
    let other = run_with("clocks: { noise: 5ms }", 4);
    assert_ne!(noisy.trace_digest, other.trace_digest);
}

#[test]
fn bad_clock_settings_name_their_path() {
    let base = |clock: &str| {
        format!(
            "name: x\nduration: 1s\nregions: [{{ name: a{clock} }}, {{ name: b }}]\nnetwork: {{ latency: {{ links: {{ \"a <-> b\": 1ms }} }} }}\nworkload: {{ keys: 10, rate_per_region: 1 }}\n"
        )
    };
    for (clock, want) in [
        (
            ", clock: { ntp: { accuracy: 200ms } }",
            "regions[0].clock.ntp.accuracy",
        ),
        (
            ", clock: { ntp: { max_slew_ppm: 0 } }",
            "regions[0].clock.ntp.max_slew_ppm",
        ),
        (
            ", clock: { ntp: { interval: 0s } }",
            "regions[0].clock.ntp.interval",
        ),
        (", clock: { noise: 11s }", "regions[0].clock.noise"),
        (", clock: { ntp: { every: 1s } }", "unknown field `every`"),
    ] {
        let err = Scenario::parse(&base(clock), "c.yaml")
            .unwrap_err()
            .to_string();
        assert!(err.contains(want), "{clock}: {err}");
    }
}

/// Every parked conflict leaves its queue exactly once (no crashes here, so none is re-parked):
/// by the operator after exactly its delay, or sooner by a client's covering write. Without an
/// operator some are still waiting at the end, and the expectation says so.
#[test]
fn manual_conflicts_are_resolved_by_the_operator_or_clients() {
    let text = std::fs::read_to_string("scenarios/manual-review.yaml").unwrap();
    let s = simulate(&text, None);
    assert!(s.passed, "{:?} {:?}", s.checks, s.expectations);
    let m = s.conflicts.as_ref().unwrap().manual.as_ref().unwrap();
    assert!(
        m.resolved_by_operator > 0 && m.resolved_by_clients > 0,
        "{m:?}"
    );
    assert_eq!(m.parked, m.resolved_by_operator + m.resolved_by_clients);
    assert_eq!((m.unresolved, m.operator_delay_ms), (0, Some(5000.0)));
    assert_eq!(
        m.wait_max_ms, 5000.0,
        "the operator waits exactly its delay"
    );
    let deepest = s
        .report_data
        .series
        .values()
        .flat_map(|r| r.conflicts_parked.iter().copied())
        .max();
    assert_eq!(
        deepest,
        Some(m.max_queue as u64),
        "the chart's queue peaks where the summary says"
    );

    let without = text.replace("  operator: { delay: 5s }\n", "");
    let s = simulate(&without, None);
    let m = s.conflicts.as_ref().unwrap().manual.as_ref().unwrap();
    assert_eq!((m.resolved_by_operator, m.operator_delay_ms), (0, None));
    assert!(m.unresolved > 0, "{m:?}");
    assert_eq!(m.parked, m.resolved_by_clients + m.unresolved);
    let e = s
        .expectations
        .iter()
        .find(|e| e.name == "unresolved_conflicts")
        .unwrap();
    assert!(!e.passed);
}

/// Delta-state replication falls back to whole values on gaps: with change logs kept only 1 s,
/// a 5 s partition makes regions give up entries, so later deltas arrive without their
/// predecessors. Without anti-entropy, only the per-key fetch repairs them (with the fetch
/// disabled this run ends divergent: convergence, strong-eventual-consistency and
/// or-set-semantics fail).
#[test]
fn delta_gaps_are_repaired_by_fetching_the_whole_value() {
    let s = simulate(
        r#"
name: gaps
seed: 3
duration: 20s
regions: [{ name: a }, { name: b }, { name: c }]
network: { latency: { links: { "a <-> b": 20ms, "b <-> c": 20ms, "a <-> c": 20ms } } }
replication:
  mode: multi-master
  log_retention: 1s
  conflict: crdt
workload:
  rate_per_region: 100
  tables:
    stock: { keys: 10, share: 0.5, ops: { incr: 0.5, decr: 0.3, get: 0.2 } }
    cart: { keys: 20, share: 0.5, ops: { add: 0.5, remove: 0.3, get: 0.2 }, elements: 8 }
faults:
  - { at: 5s, partition: [[a, b], [c]] }
  - { at: 10s, heal: all }
"#,
        None,
    );
    assert!(s.passed, "{:?}", s.checks);
    assert!(s.messages.abandoned_entries > 0);
    let c = s.conflicts.as_ref().unwrap();
    assert!(c.gap_fetches > 0, "{c:?}");
    assert_eq!((c.counters_wrong, c.set_violations), (0, 0));
    assert!(s.anti_entropy.is_none());
}

/// Map tables on the shipped `user-profiles.yaml`, the same seed under each policy. An OR-Map
/// loses nothing and keeps concurrent puts of a field side by side; an LWW-Map loses only
/// writes of the same field (some of them causally later writes lost to clock skew); whole
/// documents under LWW lose more, at more bytes per write, because each write carries every
/// field and a concurrent edit of another field overwrites it. The field-level check judges all
/// three by the same rule.
#[test]
fn map_tables_lose_field_writes_by_document_by_field_or_not_at_all() {
    let text = std::fs::read_to_string("scenarios/user-profiles.yaml").unwrap();
    let under = |p: &str| {
        simulate(
            &text.replace("profile: or-map", &format!("profile: {p}")),
            None,
        )
    };
    let (or, lm, doc) = (under("or-map"), under("lww-map"), under("lww"));
    let c = |s: &RunSummary| s.conflicts.clone().unwrap();
    let check = |s: &RunSummary| {
        let k = s
            .checks
            .iter()
            .find(|k| k.name == "or-map-semantics")
            .unwrap();
        (k.passed, k.detail.clone())
    };

    assert!(or.passed, "{:?}", or.checks);
    assert_eq!((or.lost_updates.total, c(&or).map_violations), (0, 0));
    assert_eq!(c(&or).map_keys, 1000);
    assert!(
        c(&or).max_siblings > 1,
        "concurrent puts of one field are kept"
    );

    let (ok, detail) = check(&lm);
    assert!(
        !ok && detail.contains("(seed 3)") && detail.contains("PutField"),
        "{detail}"
    );
    assert!(c(&lm).lost_field_writes > 0 && c(&lm).field_skew_losses > 0);
    assert!(lm.lost_updates.skew > 0 && lm.lost_updates.concurrent > 0);
    assert!(lm
        .checks
        .iter()
        .all(|k| k.passed || k.name == "or-map-semantics"));

    assert!(!check(&doc).0);
    assert!(
        doc.lost_updates.total > 2 * lm.lost_updates.total,
        "{:?}",
        doc.lost_updates
    );
    assert!(c(&doc).lost_field_writes > c(&lm).lost_field_writes);
    let bytes = |s: &RunSummary| s.messages.bytes as f64 / s.writes.acked as f64;
    assert!(
        bytes(&doc) > 2.0 * bytes(&lm),
        "{} vs {}",
        bytes(&doc),
        bytes(&lm)
    );
    assert_eq!(or.trace_digest, under("or-map").trace_digest);
}

/// Fault coverage by phase: each fault is labelled with what the system was doing when it
/// began. Here the primary crashes at 10 s (detected about 1 s later, writes back within
/// seconds), so a degraded link at 12 s begins during `failover`; a partition from 20 s to 30 s
/// leaves a backlog, so a degraded link 100 ms after the heal begins during `catch-up`; one at
/// 50 s finds the system `steady`. A sweep adds the phases up per fault kind.
#[test]
fn faults_are_labelled_with_the_phase_they_began_in() {
    let text = std::fs::read_to_string("scenarios/region-failover.yaml")
        .unwrap()
        .replace("duration: 120s", "duration: 60s")
        .replace("rpo_writes: { max: 400 }", "rpo_writes: { max: 100000 }")
        .replace(
            "  - { at: 30s, crash: us-east-1, for: 30s }\n  - { at: 80s, partition: [[us-west-2], [us-east-1, eu-west-1]], for: 15s }",
            "  - { at: 10s, crash: us-east-1, for: 5s }\n  - { at: 12s, degrade: { link: \"us-west-2 <-> eu-west-1\", latency: 5ms }, for: 1s }\n  - { at: 20s, partition: [[eu-west-1], [us-east-1, us-west-2]], for: 10s }\n  - { at: 30.1s, degrade: { link: \"us-west-2 <-> eu-west-1\", latency: 5ms }, for: 1s }\n  - { at: 50s, degrade: { link: \"us-west-2 <-> eu-west-1\", latency: 5ms }, for: 1s }",
        );
    let s = simulate(&text, None);
    let phases: Vec<(f64, Vec<String>)> = s
        .faults
        .iter()
        .map(|f| (f.at_ms, f.phases.clone()))
        .collect();
    let at = |t: f64| &phases.iter().find(|p| p.0 == t).unwrap().1;
    assert_eq!(at(10_000.0), &["steady"], "{phases:?}");
    assert_eq!(at(12_000.0), &["failover"], "{phases:?}");
    assert_eq!(at(30_100.0), &["catch-up"], "{phases:?}");
    assert_eq!(at(50_000.0), &["steady"], "{phases:?}");
    let cov = regionsim::compare::fault_phase_coverage(&s);
    assert_eq!(cov["degrade"]["failover"], [1, 1]);
    assert_eq!(cov["degrade"]["catch-up"], [1, 1]);
    assert_eq!(cov["degrade"]["steady"], [1, 1]);
}
