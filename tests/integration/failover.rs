//! Failover: detection, elections, fencing, RPO and RTO.

use crate::common::*;

/// Three regions at a constant 20 ms one way, primary-backup with automatic failover.
pub(crate) fn failover_world(sync: &str, failover: &str, faults: &str, seed: u64) -> RunSummary {
    simulate(
        &format!(
            r#"
name: failover
duration: 30s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}]
network: {{ latency: {{ default: 20ms }} }}
replication:
  mode: primary-backup
  sync: {sync}
  failover: {failover}
workload: {{ keys: 100000, rate_per_region: 50 }}
faults: {faults}
"#
        ),
        Some(seed),
    )
}

/// A heartbeat detector suspects a crashed primary exactly one timeout after the last heartbeat
/// arrived: between timeout + latency - interval and timeout + latency after the crash. The
/// next region in priority order stands one stagger later and wins after a pre-vote and a vote
/// round trip: 200 ms + 2 x 40 ms.
#[test]
fn heartbeat_detection_takes_the_timeout_and_election_two_round_trips() {
    let s = failover_world(
        "async",
        "{ detector: { interval: 100ms, timeout: 1s }, stagger: 200ms }",
        "[{ at: 10.05s, crash: r0 }]",
        1,
    );
    let f = &s.failovers[0];
    let d = f.detected_after_ms.expect("detected");
    assert!((920.0..=1020.0).contains(&d), "detected after {d}ms");
    assert_eq!(f.new_primary.as_deref(), Some("r1"));
    let e = f.elected_after_ms.expect("elected");
    assert!(
        (e - (d + 280.0)).abs() < 1e-6,
        "elected {e}ms, detected {d}ms"
    );
    // r1's and r2's clients write again once r1 leads; r0's clients only when r0 is back.
    assert!(f.rto_by_region_ms["r1"].unwrap() >= e);
    assert!(f.rto_by_region_ms["r2"].unwrap() >= e);
    assert_eq!(f.rto_by_region_ms["r0"], None, "r0 stays down: {f:?}");
    let fo = s.failover.as_ref().unwrap();
    assert_eq!((fo.elections, fo.leaders, fo.false_suspicions), (1, 2, 0));
    assert!(s.passed, "{:?}", s.checks);
}

/// Elections need a majority: with the primary on the minority side of a partition the
/// majority side elects and the old primary steps down when its lease runs out; with no side
/// holding a majority nobody is elected and writes fail until the heal.
#[test]
fn a_minority_never_elects_a_primary() {
    let five = |partition: &str| {
        simulate(
            &format!(
                r#"
name: minority
duration: 20s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}, {{ name: r3 }}, {{ name: r4 }}]
network: {{ latency: {{ default: 15ms }} }}
replication: {{ mode: primary-backup, failover: {{}} }}
workload: {{ keys: 100000, rate_per_region: 20 }}
faults: [{{ at: 5s, partition: {partition}, for: 8s }}]
"#
            ),
            None,
        )
    };
    let s = five("[[r0, r1], [r2, r3, r4]]");
    let f = &s.failovers[0];
    let new = f.new_primary.clone().expect("the majority side elects");
    assert!(["r2", "r3", "r4"].contains(&new.as_str()), "{new}");
    let fo = s.failover.as_ref().unwrap();
    assert!(fo
        .events
        .iter()
        .any(|e| e.what.contains("r0 steps down") && e.what.contains("lease expired")));
    assert_eq!(fo.split_brain_writes, 0);
    // (Async: what r0 acknowledged in its last lease is lost; that is the next test's subject.)
    let ok = |s: &RunSummary, name: &str| s.checks.iter().any(|c| c.name == name && c.passed);
    assert!(
        ok(&s, "convergence") && ok(&s, "single-primary"),
        "{:?}",
        s.checks
    );

    let s = five("[[r0, r1], [r2, r3], [r4]]");
    let f = &s.failovers[0];
    // Nobody is elected while the regions are split three ways; after the heal at 13 s the
    // most up-to-date region (the old primary) wins again.
    assert!(f.elected_after_ms.unwrap() >= 8000.0, "{f:?}");
    assert_eq!(f.new_primary.as_deref(), Some("r0"));
    // Every region's writes stop (the primary lost its lease) until the heal at 13 s.
    for (r, back) in &f.rto_by_region_ms {
        assert!(back.unwrap() >= 8000.0, "{r}: {back:?}");
    }
    assert!(
        ok(&s, "convergence") && ok(&s, "single-primary"),
        "{:?}",
        s.checks
    );
}

/// A crash of `r{region}` at `crash_ms` for `down_ms`, and maybe a second 1 s crash.
pub(crate) fn crash_faults(
    crash_ms: u64,
    down_ms: u64,
    region: usize,
    second: Option<(u64, usize)>,
) -> String {
    let mut faults = format!("[{{ at: {crash_ms}ms, crash: r{region}, for: {down_ms}ms }}");
    if let Some((at, r)) = second {
        faults.push_str(&format!(", {{ at: {at}ms, crash: r{r}, for: 1s }}"));
    }
    faults.push(']');
    faults
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 24, ..Default::default() })]
    /// Semi-sync over three regions acknowledges a write once a majority holds it durably, and
    /// the most up-to-date candidate wins: no crash of any region at any time loses an
    /// acknowledged write, and no two primaries accept writes at once.
    #[test]
    fn semi_sync_failover_never_loses_an_acknowledged_write(
        crash_ms in 2_000u64..25_000,
        down_ms in 500u64..8_000,
        region in 0usize..3,
        second in proptest::option::of((2_000u64..25_000, 0usize..3)),
        seed in 1u64..1000,
    ) {
        let faults = crash_faults(crash_ms, down_ms, region, second);
        let s = failover_world("semi-sync", "{}", &faults, seed);
        proptest::prop_assert_eq!(s.lost_acked_writes, 0, "{}", faults);
        proptest::prop_assert!(s.passed, "{} {:?}", faults, s.checks);
    }
}

/// Chain replication with failover over three regions, 20 ms apart (no jitter).
pub(crate) fn chain_world(chain: &str, faults: &str, seed: u64) -> RunSummary {
    simulate(
        &format!(
            r#"
name: chain
duration: 30s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}]
network: {{ latency: {{ default: 20ms }} }}
replication:
  mode: chain
  chain: {chain}
  failover: {{ detector: {{ interval: 100ms, timeout: 1s }}, stagger: 200ms }}
workload: {{ keys: 100000, rate_per_region: 50, mix: {{ write: 0.7, read: 0.3 }} }}
faults: {faults}
"#
        ),
        Some(seed),
    )
}

pub(crate) fn chain_events(s: &RunSummary) -> Vec<String> {
    s.failover
        .as_ref()
        .expect("failover stats")
        .events
        .iter()
        .filter(|e| e.what.contains("chain"))
        .map(|e| e.what.clone())
        .collect()
}

/// The tail crashes: the head suspects it one timeout after its last heartbeat and drops it
/// at once, and the writes waiting on it commit at the new tail, which already holds them.
/// So no write waits longer than the detection (at most timeout + latency), none is lost,
/// reads move to the new tail without a stale answer, and the old tail rejoins at the end.
#[test]
fn a_chain_drops_its_crashed_tail_at_detection_and_takes_it_back_at_the_end() {
    let s = chain_world("[r0, r1, r2]", "[{ at: 10.05s, crash: r2, for: 5s }]", 1);
    let f = &s.failovers[0];
    let d = f.detected_after_ms.expect("detected");
    assert!((920.0..=1020.0).contains(&d), "detected after {d}ms");
    assert_eq!(f.reconfigured_after_ms, Some(d), "{f:?}");
    assert_eq!(f.new_primary, None, "the head did not change");
    let w = level(&s, "write", "default");
    assert!(
        (880.0..=1020.0 + 20.0).contains(&w.latency_ms.max),
        "the longest write waited for the reconfiguration: {:?}",
        w.latency_ms
    );
    assert_eq!(s.lost_acked_writes, 0);
    assert_eq!(s.reads.stale, 0);
    assert_eq!(
        chain_events(&s),
        vec![
            "r0 reconfigures the chain: 2 members, tail r1",
            "r0 reconfigures the chain: 2 members, tail r1, 1 catching up to join",
            "r0 reconfigures the chain: 3 members, tail r2 (reads stay at r1 until it has caught up)",
            "r0 reconfigures the chain: 3 members, tail r2",
        ]
    );
    assert!(s.passed, "{:?}", s.checks);
}

/// The head crashes: its successor in the configured chain (r0 here, after head r2) holds the
/// most and is first in the default priority, so it stands one stagger after suspecting and is
/// elected after a pre-vote and a vote round trip; the chain shrinks to it and r1. The RTO
/// phases add up to the RTO.
#[test]
fn a_chain_elects_the_heads_successor_and_its_rto_phases_add_up() {
    let s = chain_world("[r2, r0, r1]", "[{ at: 10.05s, crash: r2, for: 5s }]", 2);
    let f = &s.failovers[0];
    assert_eq!(f.new_primary.as_deref(), Some("r0"), "{f:?}");
    let (d, e) = (f.detected_after_ms.unwrap(), f.elected_after_ms.unwrap());
    assert!(
        (e - d - (200.0 + 4.0 * 20.0)).abs() < 1.0,
        "detected {d}, elected {e}"
    );
    assert_eq!(f.reconfigured_after_ms, Some(e));
    assert_eq!(
        chain_events(&s)[0],
        "r0 reconfigures the chain: 2 members, tail r1"
    );
    let p = f.rto_phases.as_ref().expect("an outage");
    let sum = p.detection_ms.unwrap_or(0.0)
        + p.election_ms.unwrap_or(0.0)
        + p.promotion_ms.unwrap_or(0.0)
        + p.rerouting_ms;
    assert!((sum - f.rto_ms.unwrap()).abs() < 1e-6, "{p:?} vs {f:?}");
    assert_eq!(p.detection_ms, Some(d));
    assert_eq!(s.lost_acked_writes, 0);
    assert_eq!(s.reads.stale, 0);
    assert!(s.passed, "{:?}", s.checks);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 16, ..Default::default() })]
    /// A chain acknowledges a write once its tail holds it, and every member holds what its
    /// successor does: no crash of any member at any time (two, possibly overlapping) loses an
    /// acknowledged write, and reads at the tail are never stale.
    #[test]
    fn a_chain_with_failover_never_loses_an_acknowledged_write_or_reads_stale(
        crash_ms in 2_000u64..25_000,
        down_ms in 500u64..8_000,
        region in 0usize..3,
        second in proptest::option::of((2_000u64..25_000, 0usize..3)),
        seed in 1u64..1000,
    ) {
        let faults = crash_faults(crash_ms, down_ms, region, second);
        let s = chain_world("[r0, r1, r2]", &faults, seed);
        proptest::prop_assert_eq!(s.lost_acked_writes, 0, "{}", faults);
        proptest::prop_assert_eq!(s.reads.stale, 0, "{}", faults);
        proptest::prop_assert!(s.passed, "{} {:?}", faults, s.checks);
    }
}

/// Async: a crashed primary's last writes were already on the wire, so a crash loses nothing;
/// a partition drops them, and the cut-off primary keeps acknowledging until its lease runs
/// out. The RPO window is then at most the lease plus a heartbeat interval plus the one-way
/// latency, and every lost write falls in it.
#[test]
fn async_rpo_is_bounded_by_the_lease_and_the_replication_lag() {
    let crash = failover_world(
        "async",
        "{ lease: 800ms }",
        "[{ at: 10s, crash: r0, for: 5s }]",
        3,
    );
    assert_eq!(crash.rpo.writes, 0, "{:?}", crash.failovers);
    let cut = failover_world(
        "async",
        "{ lease: 800ms }",
        "[{ at: 10s, partition: [[r0], [r1, r2]], for: 5s }]",
        3,
    );
    let f = &cut.failovers[0];
    assert!(f.rpo_writes > 0, "{f:?}");
    assert!(f.rpo_window_ms <= 800.0 + 100.0 + 20.0, "{f:?}");
    // r0's clients write 50/s (Poisson): the window bounds how many could be lost.
    assert!(
        f.rpo_writes as f64 <= 2.0 * 50.0 * (f.rpo_window_ms / 1000.0) + 5.0,
        "{f:?}"
    );
    assert_eq!(cut.lost_acked_writes, f.rpo_writes);
    assert!(!cut.passed, "an unbounded loss fails no-lost-acked-writes");
}

/// The shipped split-brain scenario: without fencing the cut-off primary keeps taking writes
/// while a second primary leads; with leases it steps down first and no write is split brain.
#[test]
fn split_brain_appears_without_fencing_and_never_with_it() {
    let text = std::fs::read_to_string(shipped("split-brain.yaml")).unwrap();
    let none = simulate(&text, None);
    let fo = none.failover.as_ref().unwrap();
    assert!(fo.split_brain_writes > 500, "{fo:?}");
    assert!(none.rpo.writes >= fo.split_brain_writes);
    assert!(
        none.passed,
        "the scenario expects split brain: {:?}",
        none.expectations
    );
    let fenced = simulate(&text.replace("fencing: none", "fencing: lease"), None);
    let fo2 = fenced.failover.as_ref().unwrap();
    assert_eq!(fo2.split_brain_writes, 0);
    assert!(fenced.rpo.writes < none.rpo.writes / 10, "{:?}", fenced.rpo);
    assert!(
        fenced.checks.iter().all(|c| c.passed),
        "{:?}",
        fenced.checks
    );
    // Reconciling instead of discarding keeps the split-brain writes: nothing acknowledged is
    // lost, last-writer-wins merges them.
    let kept = simulate(&text.replace("rejoin: discard", "rejoin: reconcile"), None);
    assert_eq!(kept.lost_acked_writes, 0);
    assert!(kept.convergence.converged);
}

/// A phi-accrual detector on a steady link suspects a crash a little after one interval
/// (deviation at its floor) and is deterministic like everything else.
#[test]
fn phi_detector_fails_over_and_failover_runs_are_deterministic() {
    let phi = "{ detector: { kind: phi, interval: 100ms, threshold: 8, min_std_dev: 50ms } }";
    let a = failover_world("async", phi, "[{ at: 10s, crash: r0 }]", 5);
    let f = &a.failovers[0];
    let d = f.detected_after_ms.unwrap();
    // Mean 100 ms, deviation at its 50 ms floor: phi 8 is about 280 ms past the mean after
    // the last heartbeat, which arrived up to one interval before the crash.
    assert!((280.0..=400.0).contains(&d), "{d}");
    assert_eq!(a.failover.as_ref().unwrap().leaders, 2, "no flapping lease");
    assert_eq!(f.new_primary.as_deref(), Some("r1"));
    let b = failover_world("async", phi, "[{ at: 10s, crash: r0 }]", 5);
    assert_eq!(a.trace_digest, b.trace_digest);
    let c = failover_world("async", phi, "[{ at: 10s, crash: r0 }]", 6);
    assert_ne!(a.trace_digest, c.trace_digest);
}

/// Clients of a crashed region move to the nearest region that is up once it has been down
/// for `reroute_after`: their writes fail for that long, then succeed at one round trip to the
/// new region (multi-master acknowledges there at once), and come home when it recovers.
#[test]
fn rerouted_clients_write_again_after_the_health_check_delay() {
    let s = simulate(
        r#"
name: reroute
duration: 30s
regions: [{ name: r0 }, { name: r1 }, { name: r2 }]
network: { latency: { links: { "r0 <-> r1": 20ms, "r0 <-> r2": 50ms, "r1 <-> r2": 40ms } } }
workload: { keys: 100000, rate_per_region: 50, reroute_after: 2s }
faults: [{ at: 10s, crash: r0, for: 10s }]
"#,
        None,
    );
    let f = &s.failovers[0];
    let back = f.rto_by_region_ms["r0"].expect("r0's clients write again");
    // The first write issued after 12 s, plus 40 ms to r1 and back.
    assert!((2040.0..2200.0).contains(&back), "{back}");
    assert_eq!(f.rto_ms, Some(back));
    // Only writes issued in the first 2 s of the outage failed (Poisson, 50/s).
    assert!((60..=140).contains(&s.writes.failed), "{:?}", s.writes);
    // A rerouted write takes exactly the round trip; local ones are instant.
    let w = level(&s, "write", "default");
    assert_eq!(w.latency_ms.max, 40.0, "{:?}", w.latency_ms);
    assert!(s.passed, "{:?}", s.checks);
}

/// Seeds of the failover weather sweep that once ended diverged: a region judged a newer
/// primary's entries against fences it had not learned yet (and refused them for good), or
/// kept a value from a fenced write that arrived outside the stream it followed.
#[test]
fn failover_under_weather_converges_on_the_seeds_that_once_diverged() {
    let text = std::fs::read_to_string(shipped("failover-weather.yaml")).unwrap();
    for seed in [51, 115, 117, 186] {
        let s = simulate(&text, Some(seed));
        assert!(s.passed, "seed {seed}: {:?}", s.checks);
        assert!(s.failover.as_ref().unwrap().elections >= 1, "seed {seed}");
    }
}

/// The same weather over a chain with failover. These seeds once ended diverged or never
/// drained: a returning region that got entries from a catch-up did not forward them down the
/// chain (only fresh entries travel on), a hole no later entry would fill was never fetched,
/// and a catch-up lost on the wire was waited for forever.
#[test]
fn chain_failover_under_weather_converges_on_the_seeds_that_once_diverged() {
    let text = std::fs::read_to_string(shipped("failover-weather.yaml"))
        .unwrap()
        .replace("mode: primary-backup", "mode: chain");
    for seed in [4, 5, 25, 58] {
        let s = simulate(&text, Some(seed));
        assert!(s.passed, "seed {seed}: {:?}", s.checks);
        assert_eq!(s.reads.stale, 0, "seed {seed}: reads go to the tail");
        assert!(
            s.failover.as_ref().unwrap().chain_changes >= 2,
            "seed {seed}"
        );
    }
}

pub(crate) fn operator_world(failover: &str, workload: &str, faults: &str) -> RunSummary {
    simulate(
        &format!(
            r#"
name: operator
duration: 30s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}]
network: {{ latency: {{ default: 20ms }} }}
replication:
  mode: primary-backup
  sync: async
  failover: {failover}
workload: {workload}
faults: {faults}
"#
        ),
        Some(1),
    )
}

/// A planned handover under async replication loses nothing: the primary stops taking writes,
/// tells the target how much to wait for, and the target stands once it holds it all. With
/// 20 ms links: the request (20 ms), the primary's answer (20 ms), then one vote round trip.
#[test]
fn planned_handover_moves_the_primary_and_loses_nothing() {
    let s = operator_world(
        "manual",
        "{ keys: 100000, rate_per_region: 200, retry: { attempts: 5, backoff: 50ms } }",
        "[{ at: 10s, promote: r1 }]",
    );
    let f = &s.failovers[0];
    assert_eq!(
        (f.kind.as_str(), f.new_primary.as_deref()),
        ("promote", Some("r1"))
    );
    assert_eq!(f.elected_after_ms, Some(80.0), "{f:?}");
    assert_eq!((f.rpo_writes, s.lost_acked_writes), (0, 0));
    let fo = s.failover.as_ref().unwrap();
    assert_eq!(
        (fo.handovers, fo.elections, fo.split_brain_writes),
        (1, 1, 0)
    );
    // Writes sent to r0 during the handover were refused and retried at r1: none failed.
    assert_eq!(s.writes.failed, 0, "{:?}", s.writes);
    assert!(s.writes.retries > 0);
    assert!(s.passed, "{:?}", s.checks);
}

/// With `failover: manual` a crashed primary is replaced only when an operator says so: no
/// election until the promote (a forced one: no live primary in reach), and the crash's RTO
/// runs until then. Without a promote, the restarted primary takes its role back.
#[test]
fn manual_failover_waits_for_the_operator() {
    let wl = "{ keys: 100000, rate_per_region: 50 }";
    let s = operator_world(
        "manual",
        wl,
        "[{ at: 10s, crash: r0, for: 15s }, { at: 16s, promote: r2 }]",
    );
    let crash = &s.failovers[0];
    assert!(crash.detected_after_ms.is_some());
    // Nobody elects before the operator's promote at 16 s (one vote round trip).
    assert_eq!(crash.elected_after_ms, Some(6040.0));
    // r1's clients write again once r2 leads; r0's only when r0 is back (no rerouting here).
    let rto = crash.rto_by_region_ms["r1"].expect("writes came back");
    assert!((6040.0..6200.0).contains(&rto), "RTO {rto}");
    let promote = &s.failovers[1];
    assert_eq!(promote.new_primary.as_deref(), Some("r2"));
    // Forced: one vote round trip.
    assert_eq!(promote.elected_after_ms, Some(40.0));
    assert_eq!(s.failover.as_ref().unwrap().handovers, 0);

    let s = operator_world("manual", wl, "[{ at: 10s, crash: r0, for: 5s }]");
    let fo = s.failover.as_ref().unwrap();
    assert_eq!(fo.elections, 1, "{:?}", fo.events);
    let back = fo
        .events
        .iter()
        .find(|e| e.what.starts_with("r0 becomes primary"))
        .unwrap();
    // r0 restarts at 15 s, listens for the detector's earliest suspicion, then takes back the
    // role in one vote round trip.
    assert!((16000.0..16100.0).contains(&back.at_ms), "{back:?}");
    assert!(s.passed, "{:?}", s.checks);
}

/// Retries turn an outage shorter than the backoff into latency. r0 (multi-master) is down
/// from 10 s to 12 s; its clients try twice, 1 s apart: a write issued in the first second
/// fails twice, one issued in the second succeeds on its retry, exactly 1 s late.
#[test]
fn client_retries_turn_short_outages_into_latency() {
    let world = |retry: &str| {
        simulate(
            &format!(
                r#"
name: retries
duration: 20s
regions: [{{ name: r0 }}, {{ name: r1 }}]
network: {{ latency: {{ default: 20ms }} }}
workload: {{ keys: 100000, rate_per_region: 100, mix: {{ write: 1 }}{retry} }}
faults: [{{ at: 10s, crash: r0, for: 2s }}]
"#
            ),
            Some(4),
        )
    };
    let plain = world("");
    let retried = world(", retry: { attempts: 2, backoff: 1s, jitter: false }");
    // The workload draws the same operations either way (retries have their own stream).
    assert_eq!(plain.writes.issued, retried.writes.issued);
    // Every write that failed at once was retried once.
    assert_eq!(retried.writes.retries, plain.writes.failed);
    assert!(retried.writes.failed > 0 && retried.writes.failed < plain.writes.failed);
    assert_eq!(
        retried.writes.acked + retried.writes.failed,
        retried.writes.issued
    );
    let w = level(&retried, "write", "default");
    assert_eq!(w.latency_ms.max, 1000.0, "{:?}", w.latency_ms);
}

/// A region that is up but cannot reach the primary says so on its health endpoint: after
/// `reroute_after` its clients go to the nearest region that can take writes.
#[test]
fn clients_of_a_region_cut_off_from_the_primary_are_rerouted() {
    let s = operator_world(
        "{ detector: { interval: 100ms, timeout: 1s } }",
        "{ keys: 100000, rate_per_region: 50, reroute_after: 2s }",
        "[{ at: 10s, partition: [[r2], [r0, r1]], for: 15s }]",
    );
    let f = &s.failovers[0];
    let back = f.rto_by_region_ms["r2"].expect("r2's clients write again");
    // Suspicion after about 1 s, the health check's 2 s, then a round trip to r1.
    assert!((2850.0..3200.0).contains(&back), "{back}");
    assert!(s.passed, "{:?}", s.checks);
}

/// A region that loses its disk comes back from its newest complete snapshot plus what its
/// peers hold beyond it; losing every region at once loses what was written after the last
/// snapshot (the backup RPO), and nothing before it.
#[test]
fn region_loss_restores_from_backup_and_peers() {
    let world = |faults: &str| {
        simulate(
            &format!(
                r#"
name: restore
duration: 40s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}]
network: {{ latency: {{ default: 20ms }} }}
durability: {{ backup: {{ every: 10s, store: r1, bandwidth: 1 Gbps }} }}
workload: {{ keys: 1000000, rate_per_region: 100, mix: {{ write: 1 }} }}
faults: {faults}
"#
            ),
            Some(2),
        )
    };
    let s = world("[{ at: 25s, region_loss: r2, for: 5s }]");
    let r = s.failovers[0].restore.as_ref().expect("rebuilt");
    assert_eq!(
        (r.started_at_ms, r.backup_taken_at_ms),
        (30000.0, Some(20000.0))
    );
    assert!(r.download_ms > 20.0 && r.download_ms < 100.0, "{r:?}");
    assert!(r.keys_from_peers > 1000, "{r:?}");
    assert!(r.restore_ms.is_some());
    assert_eq!(s.lost_acked_writes, 0);
    assert!(s.passed, "{:?}", s.checks);

    let s = world(
        "[{ at: 25s, region_loss: r0, for: 5s }, { at: 25s, region_loss: r1, for: 5s }, \
         { at: 25s, region_loss: r2, for: 5s }]",
    );
    // About 5 s x 300 writes/s acknowledged after the 20 s snapshot, all gone.
    assert!((1200..1800).contains(&s.rpo.writes), "{:?}", s.rpo);
    assert!(
        s.rpo.max_window_ms > 4900.0 && s.rpo.max_window_ms <= 5000.0,
        "{:?}",
        s.rpo
    );
    assert!(s.convergence.converged, "{:?}", s.checks);
}

/// Operator actions, retries, region loss and backups: bad values name their YAML path.
#[test]
fn operator_retry_and_backup_settings_are_validated() {
    let base = |replication: &str, workload: &str, extra: &str| {
        format!(
            r#"
name: t
duration: 60s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network: {{ latency: {{ default: 20ms }} }}
replication: {replication}
workload: {{ keys: 100, rate_per_region: 10{workload} }}
{extra}
"#
        )
    };
    let pb = "{ mode: primary-backup, failover: manual }";
    for (text, want) in [
        (
            base("{ mode: primary-backup, failover: sometimes }", "", ""),
            "expected `auto` or `manual`",
        ),
        (
            base(
                "{ mode: primary-backup }",
                "",
                "faults: [{ at: 1s, promote: b }]",
            ),
            "faults[0]: `promote` and `follow_the_sun` need `replication.failover`",
        ),
        (
            base(pb, "", "faults: [{ at: 1s, promote: z }]"),
            "faults[0].promote: unknown region `z`",
        ),
        (
            base(pb, "", "faults: [{ at: 1s, promote: b, for: 2s }]"),
            "faults[0].for: `promote` takes no `for`",
        ),
        (
            base(
                pb,
                "",
                "faults: [{ at: 1s, follow_the_sun: { regions: [b, c], every: 100ms } }]",
            ),
            "faults[0].follow_the_sun.every: 100ms is too often",
        ),
        (
            base(
                pb,
                "",
                "faults: [{ at: 1s, follow_the_sun: { regions: [], every: 10s } }]",
            ),
            "faults[0].follow_the_sun.regions: name at least one region",
        ),
        (
            base(pb, ", retry: { attempts: 0 }", ""),
            "workload.retry.attempts: must be between 1 and 100",
        ),
        (
            base(
                pb,
                ", retry: { attempts: 3, backoff: 1s, max_backoff: 10ms }",
                "",
            ),
            "workload.retry.max_backoff: 10ms is shorter than the first backoff (1s)",
        ),
        (
            base(pb, "", "faults: [{ at: 1s, region_loss: q }]"),
            "faults[0].region_loss: unknown region `q`",
        ),
        (
            base(
                pb,
                "",
                "durability: { backup: { every: 10ms, store: a, bandwidth: 1 Gbps } }",
            ),
            "durability.backup.every: 10ms is too often",
        ),
        (
            base(
                pb,
                "",
                "durability: { backup: { every: 10s, store: a, bandwidth: fast } }",
            ),
            "is not a data rate",
        ),
    ] {
        let err = Scenario::parse(&text, "t.yaml")
            .err()
            .unwrap_or_else(|| panic!("accepted:\n{text}"));
        let msg = err.to_string();
        assert!(msg.contains(want), "want `{want}`, got: {msg}");
    }
}
