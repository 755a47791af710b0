//! End-to-end behaviour: analytic oracles, determinism, durability under crashes, and the `sim`
//! command line (exit codes, outputs, bad input). One integration-test binary on purpose.

use regionsim::metrics::StatsMs;
use regionsim::scenario::Scenario;
use regionsim::summary::RunSummary;
use regionsim::{run, RunOptions};
use std::path::{Path, PathBuf};
use std::process::Command;

fn scenario(text: &str) -> Scenario {
    Scenario::parse(text, "test.yaml").unwrap_or_else(|e| panic!("{e}"))
}

fn simulate(text: &str, seed: Option<u64>) -> RunSummary {
    run(
        &scenario(text),
        RunOptions {
            seed,
            ..Default::default()
        },
    )
    .expect("run")
}

const MS: f64 = 1.0;

// ---------------------------------------------------------------------------------------------
// Analytic oracles.

/// Constant latency, no jitter, keys so many that no two writes collide: every write from an
/// origin becomes visible exactly when it reaches the farthest region, and each pair's lag is
/// exactly its one-way latency.
#[test]
fn constant_latency_visibility_is_the_max_one_way_latency() {
    let s = simulate(
        r#"
name: oracle
duration: 10s
regions: [{ name: r0 }, { name: r1 }, { name: r2 }]
network:
  latency:
    links: { "r0 <-> r1": 40ms, "r0 <-> r2": 100ms, "r1 <-> r2": 60ms }
workload: { keys: 1000000, rate_per_region: 50 }
"#,
        None,
    );
    assert!(s.passed, "{:?}", s.checks);
    for (origin, want) in [("r0", 100.0), ("r1", 60.0), ("r2", 100.0)] {
        let v = &s.visibility_by_origin_ms[origin];
        assert!(v.count > 400, "{origin}: {v:?}");
        assert_eq!((v.min, v.max), (want * MS, want * MS), "{origin}: {v:?}");
    }
    for (pair, want) in [
        ("r0->r1", 40.0),
        ("r1->r0", 40.0),
        ("r0->r2", 100.0),
        ("r2->r1", 60.0),
    ] {
        let l = &s.lag_ms[pair];
        assert_eq!((l.min, l.max), (want, want), "{pair}: {l:?}");
    }
    assert_eq!(s.messages.dropped, 0);
    assert_eq!(s.messages.retransmitted, 0);
    // Each write: one replicate and one ack per peer.
    assert_eq!(s.messages.sent, 4 * s.writes.acked);
}

/// The links of the four-region oracles: a distinct constant latency on every pair.
const FOUR_LINKS: &str = r#"    links:
      "a <-> b": 10ms
      "b <-> c": 20ms
      "c <-> d": 30ms
      "d <-> a": 40ms
      "a <-> c": 50ms
      "b <-> d": 70ms"#;

/// Four regions with a distinct constant latency on every link, so each strategy's timing has
/// exactly one right answer. `extra` is the `replication` block; clients only where `rates` says.
fn four(replication: &str, rates: &str, mix: &str) -> RunSummary {
    simulate(
        &format!(
            r#"
name: oracle
duration: 10s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}, {{ name: d }}]
network:
  latency:
{FOUR_LINKS}
replication: {replication}
workload:
  keys: 1000000
  rate_per_region: 0
  rates: {rates}
  mix: {mix}
"#
        ),
        None,
    )
}

fn exact(s: &StatsMs, want: f64, what: &str) {
    assert!(s.count > 100, "{what}: {s:?}");
    assert_eq!((s.min, s.max), (want, want), "{what}: {s:?}");
}

fn level<'a>(s: &'a RunSummary, op: &str, level: &str) -> &'a regionsim::summary::LevelOut {
    s.levels
        .iter()
        .find(|l| l.op == op && l.level == level)
        .unwrap_or_else(|| panic!("no {op} {level} in {:?}", s.levels))
}

/// The four-region links of `four`, with blocks of its own (`network.classes`, `service`...).
fn four_with(network_extra: &str, top: &str) -> RunSummary {
    simulate(
        &format!(
            r#"
name: oracle
duration: 20s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}, {{ name: d }}]
network:
  latency:
{FOUR_LINKS}
{network_extra}
{top}
workload:
  keys: 1000000
  rate_per_region: 0
  rates: {{ a: 5 }}
  mix: {{ write: 0.5, read: 0.5 }}
"#
        ),
        None,
    )
}

/// Service times and per-class latencies add up exactly. A quorum write to all four replicas
/// from a: apply at a (2 ms), a -> c (50), apply at c (2), c's durable ack back (50 + 5 added
/// to write acks) = 109 ms. A read of all four: serve at a (1), a read request everywhere
/// (30, overriding every link), serve at c (1), c's reply (50 + 5) = 87 ms. Writes that arrive
/// while a replica is busy queue, so only the unqueued minimum and median are exact.
#[test]
fn service_times_and_message_classes_add_up_exactly() {
    let s = four_with(
        "  classes:\n    write_ack: { add: 5ms }\n    read_request: { default: 30ms }\n    read_reply: { add: 5ms }",
        "replication: { mode: quorum, w: 4, r: 4 }\nservice: { write: 2ms, read: 1ms }",
    );
    assert!(s.passed, "{:?}", s.checks);
    for (op, want) in [("write", 109.0), ("read", 87.0)] {
        let l = &level(&s, op, "default").latency_ms;
        assert!(l.count > 30, "{op}: {l:?}");
        // The median is read from a 3-significant-digit histogram.
        assert!(l.min == want && (l.p50 - want).abs() < 0.1, "{op}: {l:?}");
    }
    // Every region applied every write; a also served every read, the others one each too.
    for sv in &s.service {
        assert_eq!(sv.writes, s.writes.acked, "{sv:?}");
        assert_eq!(sv.reads, s.reads.total, "{sv:?}");
    }
    let a = &s.service[0];
    let busy_ms = (2 * a.writes + a.reads) as f64;
    let run_ms = s.sim_time_ns as f64 / 1e6;
    assert!(
        (a.utilisation_pct - 100.0 * busy_ms / run_ms).abs() < 1e-6,
        "{a:?}"
    );
    let class = |c: &str| s.efficiency.classes.iter().find(|x| x.class == c).cloned();
    assert_eq!(class("read_request").unwrap().messages, 3 * s.reads.total);
    assert_eq!(class("write_ack").unwrap().messages, 3 * s.writes.acked);
    assert!(class("anti_entropy").is_none());
}

/// Per (writer -> reader) staleness against the constant-latency oracle: a read at b of a
/// write acknowledged at a is fresh exactly when the write is at least 40 ms old (d <-> a), so
/// every read in the 50-100 ms bucket and after is fresh and t99 is the 50 ms bound; reads in a
/// write's own region are always fresh.
#[test]
fn staleness_per_pair_matches_the_one_way_latency() {
    let s = simulate(
        r#"
name: pairs
duration: 30s
regions: [{ name: a }, { name: b }]
network:
  latency:
    default: 40ms
workload: { keys: 4, rate_per_region: 200, mix: { write: 0.3, read: 0.7 } }
"#,
        None,
    );
    let pair = |w: &str, r: &str| {
        s.staleness_pairs
            .iter()
            .find(|p| p.writer == w && p.reader == r)
            .unwrap_or_else(|| panic!("{w}->{r} in {:?}", s.staleness_pairs))
    };
    for (w, r) in [("a", "b"), ("b", "a")] {
        let p = pair(w, r);
        assert!(p.reads_within_100ms > 500, "{p:?}");
        assert!(p.fresh_within_100ms_pct.unwrap() < 90.0, "{p:?}");
        assert_eq!(p.t99_ms, Some(50.0), "{p:?}");
        let curve = &s.report_data.staleness_by_pair[&format!("{w}->{r}")];
        for b in curve {
            if b.age_le_ms > 50.0 {
                assert_eq!(b.fresh, b.reads, "{w}->{r}: {b:?}");
            }
        }
        assert!(curve
            .iter()
            .any(|b| b.age_le_ms <= 20.0 && b.fresh < b.reads));
    }
    for w in ["a", "b"] {
        let p = pair(w, w);
        assert_eq!(p.fresh_pct, 100.0, "{p:?}");
        assert_eq!(p.t99_ms, Some(0.0), "{p:?}");
    }
    let total: u64 = s.staleness_pairs.iter().map(|p| p.reads).sum();
    let curve: u64 = s.report_data.staleness.iter().map(|b| b.reads).sum();
    assert_eq!(total, curve, "the pairs partition the overall curve");
}

/// Log entries dropped after `log_retention` during a long partition are gone for good without
/// anti-entropy; with it, the regions converge, repairing with a fraction of a full transfer.
#[test]
fn anti_entropy_converges_what_log_truncation_lost() {
    let text = |ae: &str| {
        format!(
            r#"
name: ae
duration: 40s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network:
  latency:
    default: 60ms
replication:
  log_retention: 3s
{ae}
workload: {{ keys: 5000, rate_per_region: 40, mix: {{ write: 0.5, read: 0.5 }} }}
faults:
  - {{ at: 5s, for: 15s, partition: [[a, b], [c]] }}
"#
        )
    };
    let without = simulate(&text(""), Some(1));
    assert!(
        without.messages.abandoned_entries > 100,
        "{:?}",
        without.messages
    );
    assert!(!without.convergence.converged, "{:?}", without.convergence);
    assert!(without.anti_entropy.is_none());
    let with = simulate(
        &text("  anti_entropy: { interval: 2s, fanout: 1, leaves: 64, branching: 4 }"),
        Some(1),
    );
    assert!(with.passed, "{:?}", with.checks);
    assert!(with.convergence.converged);
    assert_eq!(
        with.messages.abandoned_entries,
        without.messages.abandoned_entries
    );
    let ae = with.anti_entropy.as_ref().unwrap();
    assert!(ae.keys_repaired > 100, "{ae:?}");
    assert!(ae.finished > 10 && ae.finished <= ae.sessions, "{ae:?}");
    // 64 leaves of 4: the root and 3 levels below it, cells, cells back, and the end notice.
    assert!(ae.rounds_max <= 7, "{ae:?}");
    assert!(ae.bytes > 0 && ae.bytes < ae.full_state_bytes / 4, "{ae:?}");
    // Same seed, same bytes: anti-entropy is part of the deterministic run.
    let again = simulate(
        &text("  anti_entropy: { interval: 2s, fanout: 1, leaves: 64, branching: 4 }"),
        Some(1),
    );
    assert_eq!(again.trace_digest, with.trace_digest);
}

/// Ring a -> b -> c -> d -> a: a write reaches the last region after the sum of the hops.
#[test]
fn ring_visibility_is_the_sum_of_the_hops() {
    let s = four(
        "{ topology: ring }",
        "{ a: 30, b: 30, c: 30, d: 30 }",
        "{ write: 1 }",
    );
    assert!(s.passed, "{:?}", s.checks);
    for (origin, want) in [("a", 60.0), ("b", 90.0), ("c", 80.0), ("d", 70.0)] {
        exact(&s.visibility_by_origin_ms[origin], want, origin);
    }
    // A relay forwards, never echoes: one replicate per hop (3) and its ack (3) per write.
    assert_eq!(s.messages.sent, 6 * s.writes.acked);
}

/// Hub c: a write from a reaches the others at a -> c, then c -> farthest.
#[test]
fn hub_visibility_is_origin_to_hub_to_target() {
    let s = four(
        "{ topology: hub, hub: c }",
        "{ a: 30, b: 30, c: 30, d: 30 }",
        "{ write: 1 }",
    );
    assert!(s.passed, "{:?}", s.checks);
    // a: 50 to c, then max(c->b 20, c->d 30) = 80; b: 20 + max(50, 30) = 70;
    // c: max(50, 20, 30) = 50; d: 30 + max(50, 20) = 80.
    for (origin, want) in [("a", 80.0), ("b", 70.0), ("c", 50.0), ("d", 80.0)] {
        exact(&s.visibility_by_origin_ms[origin], want, origin);
    }
    exact(&s.lag_ms["a->b"], 70.0, "a->b through the hub");
}

/// Shortest-latency routing relays when a detour beats the direct link: d -> b directly is
/// 70 ms, d -> a -> b is 40 + 10 = 50 ms.
#[test]
fn shortest_latency_routing_takes_the_faster_detour() {
    let s = four("{ routing: shortest-latency }", "{ d: 30 }", "{ write: 1 }");
    assert!(s.passed, "{:?}", s.checks);
    exact(&s.lag_ms["d->b"], 50.0, "d->b via a");
    exact(&s.lag_ms["d->a"], 40.0, "d->a direct");
    exact(&s.lag_ms["d->c"], 30.0, "d->c direct");
}

/// Quorum with every region a replica: a write from a is acknowledged at the w-th smallest
/// round trip (a's own copy is the 0 ms one).
#[test]
fn quorum_write_latency_is_the_wth_smallest_round_trip() {
    // Round trips from a: self 0, b 20, d 80, c 100.
    for (w, want) in [(1, 0.0), (2, 20.0), (3, 80.0), (4, 100.0)] {
        let s = four(
            &format!("{{ mode: quorum, w: {w}, r: 1 }}"),
            "{ a: 30 }",
            "{ write: 1 }",
        );
        assert!(s.passed, "w={w}: {:?}", s.checks);
        exact(
            &level(&s, "write", "default").latency_ms,
            want,
            &format!("w={w}"),
        );
    }
}

/// Primary-backup: sync waits for the slowest backup's round trip, semi-sync for the fastest,
/// async for nothing; a client elsewhere adds its round trip to the primary.
#[test]
fn primary_backup_ack_latency_follows_the_sync_mode() {
    for (sync, want) in [("sync", 100.0), ("semi-sync", 20.0), ("async", 0.0)] {
        let s = four(
            &format!("{{ mode: primary-backup, primary: a, sync: {sync} }}"),
            "{ a: 30 }",
            "{ write: 1 }",
        );
        assert!(s.passed, "{sync}: {:?}", s.checks);
        exact(&level(&s, "write", "default").latency_ms, want, sync);
    }
    // A client at c forwards to a (50 ms) and hears back (50 ms) on top of semi-sync's 20 ms.
    let s = four(
        "{ mode: primary-backup, primary: a, sync: semi-sync }",
        "{ c: 30 }",
        "{ write: 1 }",
    );
    exact(
        &level(&s, "write", "default").latency_ms,
        120.0,
        "forwarded",
    );
    // Without forwarding, writes outside the primary are refused.
    let s = four(
        "{ mode: primary-backup, primary: a, forward: false }",
        "{ c: 30 }",
        "{ write: 1 }",
    );
    assert_eq!(s.writes.acked, 0);
    assert_eq!(s.writes.failed, s.writes.issued);
}

/// Chain a -> b -> c -> d: acknowledged when the tail has it and its word is back at the head.
#[test]
fn chain_ack_is_the_sum_of_the_hops_plus_the_return() {
    let s = four("{ mode: chain }", "{ a: 30 }", "{ write: 1 }");
    assert!(s.passed, "{:?}", s.checks);
    // a->b 10 + b->c 20 + c->d 30, then d->a 40.
    exact(&level(&s, "write", "default").latency_ms, 100.0, "chain");
    // Reads go to the tail: a round trip a <-> d.
    let s = four("{ mode: chain }", "{ a: 30 }", "{ write: 0.5, read: 0.5 }");
    exact(&level(&s, "read", "default").latency_ms, 80.0, "tail read");
}

/// R + W > N: a read never misses a write acknowledged before it began, whatever the seed.
/// R + W <= N: it sometimes does.
#[test]
fn quorum_intersection_decides_whether_reads_can_be_stale() {
    let text = |w: u32, r: u32| {
        format!(
            r#"
name: quorum-property
duration: 5s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network:
  latency:
    default: {{ dist: uniform, low: 5ms, high: 80ms }}
  fifo: false
replication: {{ mode: quorum, n: 3, w: {w}, r: {r} }}
workload:
  keys: 5
  rate_per_region: 400
  mix: {{ write: 0.5, read: 0.5 }}
"#
        )
    };
    let mut weak_stale = 0;
    for seed in 1..=12 {
        let strong = simulate(&text(2, 2), Some(seed));
        assert!(strong.passed, "seed {seed}: {:?}", strong.checks);
        assert!(strong.reads.total > 1000);
        assert_eq!(strong.reads.stale, 0, "r+w>n, seed {seed}");
        let weak = simulate(&text(1, 1), Some(seed));
        weak_stale += weak.reads.stale;
    }
    assert!(weak_stale > 0, "r+w<=n never produced a stale read");
}

/// A cyclic custom graph under loss and duplication: relays deduplicate, never loop, and
/// every region ends with every write.
#[test]
fn relays_over_a_cyclic_graph_neither_loop_nor_lose() {
    let s = simulate(
        r#"
name: cyclic
duration: 10s
regions: [{ name: a }, { name: b }, { name: c }, { name: d }, { name: e }]
network:
  latency: { default: { dist: uniform, low: 10ms, high: 60ms } }
  loss: 0.05
  duplicate: 0.2
replication:
  topology: custom
  links: ["a <-> b", "b <-> c", "c <-> a", "c <-> d", "d <-> e", "e <-> c"]
workload: { keys: 1000, rate_per_region: 100, mix: { write: 0.7, read: 0.3 } }
"#,
        None,
    );
    assert!(s.passed, "{:?}", s.checks);
    assert_eq!(s.visibility_incomplete, 0);
    // A tree over 5 regions has 4 edges: 4 replicates and 4 acks per write, plus what loss
    // costs in retransmissions. A loop would multiply this.
    let per_write = s.messages.sent as f64 / s.writes.acked as f64;
    assert!(
        (8.0..10.0).contains(&per_write),
        "{per_write} messages per write"
    );
}

#[test]
fn bad_mode_and_topology_settings_are_clear_errors() {
    let base = |rep: &str| {
        format!(
            "name: t\nduration: 1s\nregions: [{{name: a}}, {{name: b}}, {{name: c}}]\nnetwork: {{ latency: {{ default: 10ms }} }}\nreplication: {rep}\nworkload: {{ keys: 10, rate_per_region: 1 }}\n"
        )
    };
    for (rep, want) in [
        (
            "{ topology: hub, hub: nowhere }",
            "replication.hub: unknown region `nowhere`",
        ),
        (
            "{ mode: quorum, w: 4 }",
            "replication.w: must be between 1 and n (3), got 4",
        ),
        (
            "{ mode: quorum, n: 5 }",
            "replication.n: must be between 1 and the number of regions (3)",
        ),
        (
            "{ topology: custom, links: [\"a <-> b\"] }",
            "disconnected: a cannot reach c",
        ),
        ("{ mode: quorum, topology: ring }", "use `topology: mesh`"),
        (
            "{ mode: chain, chain: [a, b] }",
            "must list every region exactly once",
        ),
        (
            "{ mode: primary-backup, sync: sync, sync_backups: 3 }",
            "there are only 2 backups",
        ),
        ("{ topology: star }", "unknown variant `star`"),
        (
            "{ mode: primary-backup, topology: ring, failover: {} }",
            "failover needs `topology: mesh`",
        ),
        (
            "{ mode: primary-backup, failover: { detector: { timeout: 1s }, lease: 1s } }",
            "replication.failover.lease: must be above 0 and below the detector's earliest suspicion (1.00s)",
        ),
        (
            "{ mode: primary-backup, failover: { detector: { kind: phi, timeout: 1s } } }",
            "replication.failover.detector.timeout: a phi detector has no fixed timeout",
        ),
        (
            "{ mode: primary-backup, failover: { detector: { timeout: 50ms } } }",
            "replication.failover.detector.timeout: must be longer than the heartbeat interval",
        ),
        (
            "{ mode: primary-backup, failover: { priority: [a, a] } }",
            "replication.failover.priority[1]: `a` is listed twice",
        ),
        (
            "{ mode: primary-backup, failover: { fencing: maybe } }",
            "unknown variant `maybe`",
        ),
        (
            "{ mode: primary-backup, failover: { detector: { kind: phi, threshold: 0 } } }",
            "replication.failover.detector.threshold: must be above 0",
        ),
        (
            "{ mode: primary-backup, failover: { detector: { kind: phi, min_std_dev: 5ms } } }",
            "replication.failover.lease: ",
        ),
    ] {
        let err = Scenario::parse(&base(rep), "t.yaml")
            .err()
            .unwrap_or_else(|| panic!("{rep} accepted"));
        let msg = err.to_string();
        assert!(msg.contains(want), "{rep}: {msg}");
    }
}

/// One-way latency L plus exponential jitter of mean m, no FIFO clamping. Two regions: the
/// visibility of a write is L + X, mean L + m. Three regions at equal L: the max of two
/// independent exponentials has mean 1.5 m, so visibility has mean L + 1.5 m.
#[test]
fn exponential_jitter_matches_closed_form_means() {
    let base = |regions: &str| {
        format!(
            r#"
name: jitter
duration: 60s
regions: {regions}
network:
  latency:
    default: 50ms
    jitter: {{ dist: exponential, mean: 10ms }}
  fifo: false
workload: {{ keys: 1000000, rate_per_region: 500 }}
"#
        )
    };
    let two = simulate(&base("[{ name: a }, { name: b }]"), None);
    let three = simulate(&base("[{ name: a }, { name: b }, { name: c }]"), None);
    // Stated tolerance: 2% of the mean with ~30,000+ samples (standard error is about 0.1%).
    let close = |got: f64, want: f64| (got - want).abs() / want < 0.02;
    assert!(
        close(two.visibility_ms.mean, 60.0),
        "two regions: {:?}",
        two.visibility_ms
    );
    assert!(
        close(three.visibility_ms.mean, 65.0),
        "three regions: {:?}",
        three.visibility_ms
    );
    // A newer local write can cover one still in flight, so only the median is bounded by L.
    assert!(two.visibility_ms.p50 >= 50.0);
}

/// Loss, duplication, reordering and a flapping link: retransmission delivers everything,
/// exactly once, and regions converge. A property over several seeds.
#[test]
fn loss_and_retransmission_never_lose_a_write() {
    let text = r#"
name: lossy
duration: 20s
regions: [{ name: a }, { name: b }, { name: c }]
network:
  latency:
    default: { dist: uniform, low: 10ms, high: 60ms }
    jitter: { dist: exponential, mean: 5ms }
  loss: 0.1
  duplicate: 0.05
  fifo: false
replication: { retransmit: { initial: 300ms, min: 100ms, max: 1s } }
workload: { keys: 500, rate_per_region: 200, mix: { write: 0.8, read: 0.2 } }
faults:
  - { at: 5s, partition: [[a], [b, c]], for: 3s }
  - { at: 10s, degrade: { link: "a <-> b", loss: 0.9 }, for: 4s }
"#;
    for seed in 1..=8 {
        let s = simulate(text, Some(seed));
        assert!(s.convergence.converged, "seed {seed}: {:?}", s.checks);
        assert_eq!(s.lost_acked_writes, 0, "seed {seed}");
        assert_eq!(s.visibility_incomplete, 0, "seed {seed}");
        assert!(
            s.messages.retransmitted > 0 && s.messages.dropped_loss > 0,
            "seed {seed}"
        );
        assert!(s.messages.duplicated > 0, "seed {seed}");
        // Every acked write was eventually visible in every region.
        assert_eq!(s.visibility_ms.count, s.writes.acked, "seed {seed}");
    }
}

/// A partition still in force at the end is healed by the quiesce phase, and the backlog drains.
#[test]
fn quiesce_heals_and_drains() {
    let s = simulate(
        r#"
name: q
duration: 10s
regions: [{ name: a }, { name: b }]
network: { latency: { default: 30ms } }
workload: { keys: 100, rate_per_region: 100 }
faults: [{ at: 2s, partition: [[a], [b]] }]
"#,
        None,
    );
    assert!(
        s.quiesce.drained && s.convergence.converged,
        "{:?}",
        s.checks
    );
    let last = s.convergence.heals.last().expect("quiesce heal");
    assert_eq!(last.label, "quiesce: heal all");
    assert_eq!(last.at_ms, 10_000.0);
    assert!(last.converged_after_ms.unwrap() > 0.0);
    assert!(s.messages.dropped_partition > 0);
}

// ---------------------------------------------------------------------------------------------
// Crashes and durability.

/// With fsync before every ack (the default), a crash loses nothing acknowledged.
#[test]
fn synchronous_durability_survives_crashes() {
    let s = simulate(
        r#"
name: crash-sync
duration: 20s
regions: [{ name: a }, { name: b }, { name: c }]
network: { latency: { default: 20ms } }
workload: { keys: 1000, rate_per_region: 300 }
faults:
  - { at: 5s, crash: a, for: 3s }
  - { at: 12s, crash: b, for: 2s }
"#,
        None,
    );
    assert!(s.passed, "{:?}", s.checks);
    assert_eq!(s.lost_acked_writes, 0);
    assert!(
        s.writes.failed > 0,
        "clients of a crashed region see failures"
    );
    assert_eq!(s.crashes.len(), 2);
    assert_eq!(s.crashes[0].recovered_at_ms, Some(8_000.0));
}

/// Acks before fsync, and a region whose writes cannot leave it (isolated): a crash destroys the
/// acknowledged-but-unflushed writes, and they are attributed to that crash.
#[test]
fn flush_interval_crash_loses_unreplicated_writes_and_attributes_them() {
    let s = simulate(
        r#"
name: crash-flush
duration: 20s
regions: [{ name: a }, { name: b }]
network: { latency: { default: 20ms } }
durability: { flush_interval: 500ms }
workload: { keys: 100000, rate_per_region: 1000 }
faults:
  - { at: 5s, partition: [[a], [b]] }
  - { at: 8100ms, crash: a, for: 1s }
  - { at: 12s, heal: all }
"#,
        None,
    );
    assert!(
        s.lost_acked_writes > 0,
        "unflushed isolated writes must be lost"
    );
    // At most one flush interval of a's writes (1000/s) can be unflushed.
    assert!(s.lost_acked_writes < 700, "{}", s.lost_acked_writes);
    assert_eq!(s.crashes[0].lost_acked_writes, s.lost_acked_writes);
    assert!(
        !s.checks
            .iter()
            .find(|c| c.name == "no-lost-acked-writes")
            .unwrap()
            .passed
    );
    // The survivors still agree.
    assert!(s.convergence.converged, "{:?}", s.checks);
}

/// Acks before fsync, but every write was already on the wire to a peer when its origin
/// crashed: peers hold the orphans and relay them back, so nothing is lost and all converge.
#[test]
fn flush_interval_crash_recovers_orphans_from_peers() {
    let s = simulate(
        r#"
name: crash-orphans
duration: 20s
regions: [{ name: a }, { name: b }, { name: c }]
network: { latency: { default: 20ms } }
durability: { flush_interval: 300ms }
workload: { keys: 100000, rate_per_region: 1000 }
faults:
  - { at: 7s, crash: a, for: 2s }
"#,
        None,
    );
    assert!(s.passed, "{:?} {:?}", s.checks, s.crashes);
    assert_eq!(s.lost_acked_writes, 0);
    assert_eq!(s.visibility_incomplete, 0);
}

// ---------------------------------------------------------------------------------------------
// Determinism.

fn shipped(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios")
        .join(name)
}

#[test]
fn same_seed_same_bytes_different_seed_different_digest() {
    let sc = Scenario::load(&shipped("partition.yaml")).unwrap();
    let a = run(&sc, RunOptions::default()).unwrap();
    let b = run(&sc, RunOptions::default()).unwrap();
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.deterministic_json(), b.deterministic_json());
    let c = run(
        &sc,
        RunOptions {
            seed: Some(43),
            ..Default::default()
        },
    )
    .unwrap();
    assert_ne!(a.trace_digest, c.trace_digest);
    assert_ne!(a.writes.issued, 0);
}

#[test]
fn trace_file_is_deterministic_and_matches_the_event_count() {
    let sc = Scenario::load(&shipped("lossy-links.yaml")).unwrap();
    let capture = || {
        let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        struct W(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for W {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let s = run(
            &sc,
            RunOptions {
                trace: Some(Box::new(W(buf.clone()))),
                ..Default::default()
            },
        )
        .unwrap();
        let bytes = buf.lock().unwrap().clone();
        (s, bytes)
    };
    let (s1, t1) = capture();
    let (s2, t2) = capture();
    assert_eq!(t1, t2);
    assert_eq!(s1.trace_digest, s2.trace_digest);
    let text = String::from_utf8(t1).unwrap();
    let delivers = text
        .lines()
        .filter(|l| l.contains(r#""ev":"deliver""#))
        .count() as u64;
    assert_eq!(delivers, s1.messages.delivered);
    let reads = text
        .lines()
        .filter(|l| l.contains(r#""ev":"reply","region""#) && l.contains(r#""op":"read""#))
        .count() as u64;
    assert_eq!(
        reads,
        s1.reads.total + s1.reads.failed,
        "every read's reply is traced"
    );
    for line in text.lines().take(100) {
        serde_json::from_str::<serde_json::Value>(line).expect("each line is JSON");
    }
    // Tracing to a file does not change the run.
    let plain = run(&sc, RunOptions::default()).unwrap();
    assert_eq!(plain.trace_digest, s1.trace_digest);
}

// ---------------------------------------------------------------------------------------------
// The command line.

fn sim(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sim"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run sim");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp_dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("regionsim-it-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

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

// ---------------------------------------------------------------------------------------------
// Reports.

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

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

// ---------------------------------------------------------------------------------------------
// Comparisons.

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

/// The issue's comparison: on a skewed-clock scenario LWW loses updates to skew, a hybrid
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

// ---------------------------------------------------------------------------------------------
// CI replay and golden behaviour.

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

// ---------------------------------------------------------------------------------------------
// Sweeps.

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

// ---------------------------------------------------------------------------------------------
// Failover: detection, elections, fencing, RPO and RTO.

/// Three regions at a constant 20 ms one way, primary-backup with automatic failover.
fn failover_world(sync: &str, failover: &str, faults: &str, seed: u64) -> RunSummary {
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
fn crash_faults(
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
fn chain_world(chain: &str, faults: &str, seed: u64) -> RunSummary {
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

fn chain_events(s: &RunSummary) -> Vec<String> {
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

fn operator_world(failover: &str, workload: &str, faults: &str) -> RunSummary {
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

// ---------------------------------------------------------------------------------------------
// Clocks: noise and NTP-like synchronisation.

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

// ---------------------------------------------------------------------------------------------
// Swarm: random whole configurations.

/// `sim swarm` runs drawn scenarios, writes swarm.json with a coverage table, writes each failing
/// seed's scenario as a standalone file that validates, and exits 1 exactly when it found
/// something; shards merge into the single-machine result.
#[test]
fn cli_swarm_writes_coverage_and_failing_scenarios_and_merges_shards() {
    let dir = temp_dir("swarm");
    let whole = dir.join("whole");
    let (code, stdout, stderr) = sim(&[
        "swarm",
        "--seeds",
        "1..12",
        "--shrink-runs",
        "0",
        "--out",
        whole.to_str().unwrap(),
    ]);
    let s: regionsim::swarm::SwarmSummary =
        serde_json::from_str(&std::fs::read_to_string(whole.join("swarm.json")).unwrap()).unwrap();
    assert_eq!(s.runs.len(), 12);
    assert_eq!(code, if s.failed > 0 { 1 } else { 0 }, "{stdout}{stderr}");
    assert!(stdout.contains(&format!("swarm: {} passed, {} failed", s.passed, s.failed)));
    // Coverage names every mode it drew, with run counts that add up.
    let modes = &s.coverage["mode"];
    assert_eq!(modes.values().map(|c| c[0]).sum::<u64>(), 12);
    for f in &s.failing {
        let file = whole.join(&f.scenario);
        let (code, out, err) = sim(&["validate", file.to_str().unwrap()]);
        assert_eq!(code, 0, "{out}{err}");
    }
    // Two shards merged with `sim merge` give the same summary.
    let mut files = Vec::new();
    for i in 0..2 {
        let d = dir.join(format!("shard{i}"));
        let (_, out, err) = sim(&[
            "swarm",
            "--seeds",
            "1..12",
            "--shard",
            &format!("{i}/2"),
            "--shrink-runs",
            "0",
            "--quiet",
            "--out",
            d.to_str().unwrap(),
        ]);
        assert!(out.contains("swarm:"), "{out}{err}");
        files.push(d.join("swarm.json").to_str().unwrap().to_string());
    }
    let merged = dir.join("merged");
    let mut args = vec!["merge", "--out", merged.to_str().unwrap(), "--quiet"];
    args.extend(files.iter().map(|s| s.as_str()));
    let (code2, out, err) = sim(&args);
    assert_eq!(code2, code, "{out}{err}");
    let m: regionsim::swarm::SwarmSummary =
        serde_json::from_str(&std::fs::read_to_string(merged.join("swarm.json")).unwrap()).unwrap();
    assert_eq!(m.runs, s.runs);
    assert_eq!(m.coverage, s.coverage);
    // Bad arguments are input errors.
    for bad in [
        vec!["swarm", "--seeds", "x"],
        vec!["swarm", "--shard", "2/2"],
    ] {
        let (code, _, err) = sim(&bad);
        assert_eq!(code, 2, "{bad:?}: {err}");
    }
}

/// The swarm can fail: a failure the drawn configuration does not document is a finding. The
/// same runs judged as if every configuration promised everything turn their by-design failures
/// into findings.
#[test]
fn swarm_findings_are_what_the_configuration_does_not_document() {
    let mut by_design = 0;
    for seed in 45..=55 {
        let (_, r) = regionsim::swarm::run_seed(seed, regionsim::scenario::DEFAULT_MAX_EVENTS);
        let strict = regionsim::swarm::draw::Promises::default();
        let all: Vec<String> = r.findings.iter().chain(&r.by_design).cloned().collect();
        let (findings, documented) = regionsim::swarm::judge(&all, &strict);
        // Only session guarantees are measured rather than promised, in every configuration.
        assert!(documented.iter().all(|d| d == "session-guarantees"));
        assert_eq!(findings.len() + documented.len(), all.len(), "seed {seed}");
        by_design += r
            .by_design
            .iter()
            .filter(|d| *d != "session-guarantees")
            .count();
    }
    assert!(by_design > 0, "no seed in 45..55 failed a check by design");
}
/// Issue 21, 3.1: the primary's region is cut off for 15 s; its lease lapses and us-east-2 is
/// elected. The deposed primary used to keep answering `read_primary` from its own copy (284
/// of 13,872 primary reads stale, up to 71 versions behind, every check passing). Now it
/// refuses them, and `linearizable-reads` (which failed on this run before the fix) holds.
#[test]
fn a_deposed_primary_does_not_answer_primary_reads() {
    let text = |fencing: &str| {
        format!(
            r#"
name: stale-primary
seed: 1
duration: 40s
regions: [{{ name: us-east-1 }}, {{ name: us-east-2 }}, {{ name: us-west-2 }}]
network: {{ latency: {{ preset: aws-2023, jitter: {{ dist: exponential, mean: 1ms }} }} }}
replication:
  mode: primary-backup
  primary: us-east-1
  sync: semi-sync
  failover: {{ detector: {{ kind: heartbeat, interval: 200ms, timeout: 3s }}{fencing} }}
workload: {{ keys: 1000, key_distribution: {{ zipf: 1.0 }}, rate_per_region: 200, mix: {{ write: 0.4, read_primary: 0.6 }}, reroute_after: 5s }}
faults: [{{ at: 10s, partition: [[us-east-1]], for: 15s }}]
"#
        )
    };
    let s = simulate(&text(""), None);
    let lin = s
        .checks
        .iter()
        .find(|c| c.name == "linearizable-reads")
        .expect("primary reads under semi-sync promise linearizability");
    assert!(lin.passed, "{}", lin.detail);
    let reads = level(&s, "read", "primary");
    assert_eq!((reads.stale, reads.k_stale_max), (0, 0));
    assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
    // Without leases a cut-off primary keeps its role: no such promise, so no such check.
    let s = simulate(&text(", fencing: none"), None);
    assert!(s.checks.iter().all(|c| c.name != "linearizable-reads"));
}

/// A scenario whose region `lost` (the one answering promised reads) loses its disk for 1 s at
/// 5 s and is rebuilt from nothing: its state transfer takes 160 ms (the round trip to c).
fn rebuilt_reader(replication: &str, mix: &str, lost: &str) -> String {
    format!(
        r#"
name: rebuilt-reader
seed: 1
duration: 10s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network: {{ latency: {{ links: {{ "a <-> b": 50ms, "a <-> c": 80ms, "b <-> c": 60ms }} }} }}
replication: {replication}
workload: {{ keys: 5, rate_per_region: 100, mix: {{ write: 0.5, {mix}: 0.5 }} }}
faults: [{{ at: 5s, region_loss: {lost}, for: 1s }}]
"#
    )
}

/// Issue 21 (swarm seeds 417, 530, 916): a region answering promised reads (a fixed primary, a
/// chain's tail still in the chain) that came back from a lost disk answered them from its
/// empty copy while its state transfer was under way: 4 stale reads in each run below, keys
/// empty up to 99 (primary) and 92 (tail) versions behind, `linearizable-reads` failing. Now
/// it refuses them until every peer has answered.
#[test]
fn a_rebuilding_primary_or_tail_does_not_answer_promised_reads() {
    let pb = rebuilt_reader("{ mode: primary-backup, primary: a }", "read_primary", "a");
    let chain = rebuilt_reader(
        "{ mode: chain, chain: [a, b, c], failover: { detector: { kind: heartbeat, interval: 200ms, timeout: 5s } } }",
        "read",
        "c",
    );
    for (text, read) in [(pb, "primary"), (chain, "default")] {
        let s = simulate(&text, None);
        let lin = s
            .checks
            .iter()
            .find(|c| c.name == "linearizable-reads")
            .expect("promised reads");
        assert!(lin.passed, "{}", lin.detail);
        let reads = level(&s, "read", read);
        assert_eq!((reads.stale, reads.k_stale_max), (0, 0), "{read}");
        assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
    }
}

/// Issue 21, 3.2: sync primary-backup with failover. Virginia is deposed, elected again
/// (term 3, fencing ireland's stream), crashes and, having heard no primary after its restart,
/// is elected at term 4. Fences lived only in memory, so its term-4 history lacked ireland's
/// fence and ireland's cut-off writes, retransmitted to it, were applied: 3 keys differed
/// (seed 1; 16 of seeds 1..200 failed `convergence`). Fences are now persisted.
#[test]
fn a_primary_reelected_after_a_restart_keeps_the_fences_it_knew() {
    let text = r#"
name: pb-sync-diverge
seed: 1
duration: 60s
regions: [{name: virginia}, {name: oregon}, {name: ireland}, {name: frankfurt}, {name: tokyo}]
network:
  latency: {preset: aws-2023, map: {virginia: us-east-1, oregon: us-west-2, ireland: eu-west-1, frankfurt: eu-central-1, tokyo: ap-northeast-1}, jitter: {dist: exponential, mean: 2ms}}
  loss: 0.001
replication: {mode: primary-backup, primary: virginia, sync: sync, failover: {detector: {kind: heartbeat, interval: 100ms, timeout: 1500ms}, lease: 1s}}
workload: {keys: 2000, key_distribution: {zipf: 0.8}, rate_per_region: 150, mix: {write: 0.7, read: 0.3}}
faults:
  - {at: 3764ms, for: 8114ms, crash: virginia}
  - {at: 12332ms, for: 8016ms, partition: [[frankfurt]]}
  - {at: 33976ms, for: 3074ms, partition: [[ireland]]}
  - {at: 38079ms, for: 4479ms, crash: virginia}
"#;
    for seed in [1, 20, 28, 36] {
        let s = simulate(text, Some(seed));
        let conv = s
            .checks
            .iter()
            .find(|c| c.name == "convergence")
            .expect("convergence is checked");
        assert!(conv.passed, "seed {seed}: {}", conv.detail);
        assert!(
            s.checks.iter().all(|c| c.passed),
            "seed {seed}: {:?}",
            s.checks
        );
    }
}

/// Swarm seed 917 (shrunk): ap-southeast-2's disk is lost and it is rebuilt; us-west-2 catches
/// up from it and crashes 270 ms later, before its next fsync. The finished transfer was on
/// disk as one still owed by no peer (its completion was recorded after the sync), so the
/// restarted region waited for nobody's answer forever and replication never drained.
#[test]
fn a_crash_right_after_a_state_transfer_does_not_leave_it_owed_forever() {
    let text = r#"
name: swarm-917-shrunk
seed: 917
duration: 14s
regions: [{name: ap-southeast-2}, {name: us-west-2}]
network: {latency: {preset: aws-2020}, fifo: false}
replication:
  mode: primary-backup
  primary: us-west-2
  sync: semi-sync
  failover: {detector: {kind: heartbeat, interval: 113ms, timeout: 2500ms}, stagger: 200ms, fencing: lease, rejoin: discard}
workload: {keys: 1, rate_per_region: 1.0, mix: {write: 0.38, read: 0.31, read_all: 0.31}}
faults:
  - {at: 4573ms, for: 4s, region_loss: ap-southeast-2}
  - {at: 9199ms, for: 61ms, crash: us-west-2}
"#;
    let s = simulate(text, None);
    let conv = s
        .checks
        .iter()
        .find(|c| c.name == "convergence")
        .expect("convergence is checked");
    assert!(conv.passed, "{}", conv.detail);
    assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
}

/// Issue 21, swarm seeds 1512 and 1696 (shrunk): a chain head re-elected after a crash (1512)
/// or a partition (1696) takes the other regions back; reads stay at the old tail until the
/// new tail has caught up, then move. The old tail kept answering writes sent after the move
/// (as the tail it still thought it was, then while no longer the tail) that the new tail did
/// not hold yet, so its next read returned an older value: 2 stale promised reads in each run.
/// Reads now move only once the old reader has heard of the new tail and the new tail holds
/// everything it may have answered, and meanwhile the old reader refuses keys with writes the
/// new tail may lack (16 and 113 more refused reads here).
#[test]
fn reads_handed_to_a_new_chain_tail_never_go_back_in_time() {
    let crash = r#"
name: swarm-1512-shrunk
seed: 1512
duration: 9s
regions: [{name: london}, {name: washington-dc}, {name: montreal}, {name: tokyo}]
network:
  latency: {preset: ibm-2025, map: {london: London, montreal: Montreal, tokyo: Tokyo, washington-dc: Washington DC}}
  loss: 0.01
replication:
  mode: chain
  failover: {mode: auto, detector: {kind: heartbeat, interval: 112ms, timeout: 2606ms}, stagger: 200ms, fencing: lease, rejoin: discard}
  chain: [london, washington-dc, tokyo, montreal]
workload: {keys: 1, mix: {write: 0.44, read: 0.31, read_local: 0.25}, sessions: 11, key_distribution: {zipf: 0.9}, rate_per_region: 11.0, reroute_after: 4618ms}
faults: [{at: 2807ms, for: 481ms, crash: london}]
"#;
    let partition = r#"
name: swarm-1696-shrunk
seed: 1696
duration: 12500ms
regions:
  - {name: east-us}
  - {name: north-europe, clock: {offset: -167ms, drift_ppm: 190.0}}
  - {name: germany-west-central, clock: {offset: -19ms, drift_ppm: 59.0}}
  - {name: central-india}
clocks: {noise: 1ms, ntp: {interval: 15s, accuracy: 1ms, step_threshold: 128ms, max_slew_ppm: 500.0}}
network:
  latency:
    preset: azure-2025
    map: {central-india: Central India, east-us: East US, germany-west-central: Germany West Central, north-europe: North Europe}
    jitter: {dist: exponential, mean: 5ms}
  loss: 0.001
  fifo: false
replication:
  mode: chain
  failover:
    mode: auto
    detector: {kind: phi, interval: 245ms, pause: 1s, threshold: 8.0, min_std_dev: 500ms}
    stagger: 200ms
    fencing: lease
    rejoin: reconcile
  chain: [germany-west-central, east-us, north-europe, central-india]
workload: {keys: 70, rates: {east-us: 0.0}, mix: {write: 0.5, read_primary: 0.5}, key_distribution: {zipf: 1.1}, rate_per_region: 94.0}
faults: [{at: 6196ms, for: 4383ms, partition: [[east-us, north-europe, central-india], [germany-west-central]]}]
"#;
    for (text, read, ok) in [(crash, "default", 59), (partition, "primary", 1246)] {
        let s = simulate(text, None);
        let lin = s
            .checks
            .iter()
            .find(|c| c.name == "linearizable-reads")
            .expect("promised reads");
        assert!(lin.passed, "{}", lin.detail);
        let reads = level(&s, "read", read);
        assert_eq!((reads.ok, reads.stale), (ok, 0), "{read}");
        assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
    }
}

/// Issue 21, swarm seed 5995 (shrunk): semi-sync primary-backup with `rejoin: reconcile`;
/// ap-south-1, the primary, is partitioned alone and keeps acknowledging `write_local` writes
/// (held by it alone, by design) until its lease runs out. af-south-1 takes over, its history
/// cut after ap-south-1's entry 810, and answers primary reads without those writes until
/// ap-south-1 rejoins and reconciles. The check held them against those reads (17 of 916
/// failed) because it excused cut writes only under `rejoin: discard`; a cut write is the
/// failover's RPO either way.
#[test]
fn writes_cut_by_a_failover_are_not_held_against_reads_under_reconcile() {
    let text = r#"
name: swarm-5995-shrunk
seed: 5995
duration: 15s
regions:
  - {name: ap-south-1, clock: {offset: -252ms, drift_ppm: 55.0}}
  - {name: af-south-1}
  - {name: eu-central-1}
network:
  latency: {preset: aws-2023, jitter: {dist: exponential, mean: 3ms}}
  loss: 0.01
replication:
  mode: primary-backup
  failover:
    mode: auto
    detector: {kind: phi, interval: 206ms, pause: 1s, threshold: 8.0, min_std_dev: 500ms}
    stagger: 200ms
    fencing: lease
    rejoin: reconcile
  sync: semi-sync
  log_retention: 4s
  primary: ap-south-1
workload:
  keys: 100
  rate_per_region: 98.0
  mix: {write: 0.07, read: 0.21, write_local: 0.24, write_quorum: 0.21, read_primary: 0.27}
  key_distribution: {zipf: 0.6}
faults: [{at: 5385ms, for: 3902ms, partition: [[ap-south-1], [af-south-1, eu-central-1]]}]
"#;
    let s = simulate(text, None);
    let lin = s
        .checks
        .iter()
        .find(|c| c.name == "linearizable-reads")
        .expect("promised reads");
    assert!(lin.passed, "{}", lin.detail);
    assert_eq!(level(&s, "read", "primary").ok, 916);
}

// Lost updates in quorum mode (issue 21, 3.5).

/// Quorum mode with a region that only coordinates: it holds no copy, so every write it stamps
/// "saw" nothing. `keys` and `rate` set how often writes to one key overlap.
fn coordinator_only(keys: u64, rate: u64) -> String {
    format!(
        r#"
name: quorum-coordinator-only
seed: 1
duration: 30s
regions: [{{ name: us-east-1 }}, {{ name: us-west-2 }}, {{ name: eu-west-1 }}, {{ name: ap-south-1 }}]
network: {{ latency: {{ preset: aws-2023 }} }}
replication: {{ mode: quorum, n: 3, w: 2, r: 2, replicas: [us-west-2, eu-west-1, ap-south-1] }}
workload:
  keys: {keys}
  rate_per_region: 0
  rates: {{ us-east-1: {rate} }}
  mix: {{ write: 1.0 }}
"#
    )
}

/// Acknowledged writes overwritten (a higher stamp exists) by no write that began after their
/// acknowledgement, counted straight from the write log: the lost updates under real-time order.
fn overwritten_by_a_concurrent_write_only(text: &str) -> (u64, u64) {
    let sim = regionsim::simulate(&scenario(text), RunOptions::default()).expect("run");
    let ws = &sim.output.observer.writes;
    let mut lost = 0;
    let mut overwritten = 0;
    for w in ws.iter().filter(|w| w.is_acked()) {
        let above: Vec<_> = ws
            .iter()
            .filter(|x| x.key == w.key && !x.stamp.is_none() && x.stamp > w.stamp)
            .collect();
        if !above.is_empty() {
            overwritten += 1;
            if above.iter().all(|x| x.issued <= w.acked) {
                lost += 1;
            }
        }
    }
    (overwritten, lost)
}

#[test]
fn quorum_sequential_overwrites_from_a_coordinator_only_region_are_not_lost_updates() {
    // 10 writes a second over 20 keys: a key is written every 2 s on average, and the 69.5 ms
    // writes of one key never overlap with this seed (checked from the write log below).
    let text = coordinator_only(20, 10);
    let (overwritten, concurrent) = overwritten_by_a_concurrent_write_only(&text);
    assert_eq!((overwritten, concurrent), (286, 0));
    let s = simulate(&text, None);
    // Before the fix every overwrite counted: 286 lost updates.
    assert_eq!(s.lost_updates.total, 0);
}

#[test]
fn quorum_concurrent_overwrites_still_count_as_lost_updates() {
    // 400 writes a second over 5 keys: each key sees a write every 12.5 ms, well inside the
    // 69.5 ms a write takes, so most overwrites are by writes that began before the ack.
    let text = coordinator_only(5, 400);
    let (overwritten, concurrent) = overwritten_by_a_concurrent_write_only(&text);
    let s = simulate(&text, None);
    assert!(
        concurrent > 0 && concurrent < overwritten,
        "{concurrent} of {overwritten}"
    );
    assert_eq!(s.lost_updates.total, concurrent);
    assert_eq!(s.lost_updates.concurrent, concurrent);
    assert_eq!(s.lost_updates.skew, 0);
}
/// Issue 21, 3.3: OR-Sets over a hub (or a tree, which on three regions is the same star)
/// with `log_retention` and anti-entropy. ap-south's links degrade to 50% loss until 0.7 s
/// before the end; ap-south gives up entries on its link to the hub, which relays them to
/// eu-west. Only ap-south and the hub used to be owed an anti-entropy session, so once the hub
/// was repaired the run drained with eu-west still missing those writes (32 keys differed,
/// `convergence` and `strong-eventual-consistency` failed). Giving up entries now owes a
/// session to every holder the link would have relayed them to.
#[test]
fn or_sets_converge_over_hub_and_tree_after_relayed_entries_are_given_up() {
    for topology in ["hub", "tree"] {
        let s = simulate(
            &format!(
                r#"
name: orset-{topology}
seed: 7
duration: 90s
regions: [{{name: us-east}}, {{name: eu-west}}, {{name: ap-south}}]
network: {{latency: {{preset: aws-2023, map: {{us-east: us-east-1, eu-west: eu-west-1, ap-south: ap-south-1}}, jitter: {{dist: exponential, mean: 2ms}}}}, loss: 0.001}}
replication: {{tables: {{cart: or-set}}, topology: {topology}, log_retention: 5s, anti_entropy: {{interval: 5s}}}}
workload: {{rate_per_region: 100, key_distribution: {{zipf: 1.0}}, tables: {{cart: {{keys: 2000, share: 1, ops: {{add: 0.45, remove: 0.2, get: 0.35}}, elements: 12}}}}}}
faults:
  - {{at: 75002ms, for: 14296ms, degrade: {{link: "us-east <-> ap-south", loss: 0.5}}}}
  - {{at: 75002ms, for: 14296ms, degrade: {{link: "eu-west <-> ap-south", loss: 0.5}}}}
"#
            ),
            None,
        );
        assert!(s.passed, "{topology}: {:?}", s.checks);
        let sec = s
            .checks
            .iter()
            .find(|c| c.name == "strong-eventual-consistency")
            .unwrap();
        assert!(sec.passed, "{topology}: {sec:?}");
        assert!(s.convergence.converged && s.convergence.final_digests_equal);
        let digests: Vec<_> = s.convergence.region_digests.values().collect();
        assert_eq!(digests.len(), 3);
        assert!(
            digests.iter().all(|d| d.is_some() && *d == digests[0]),
            "{topology}: {digests:?}"
        );
        // The scenario does exercise the path: entries were given up and repaired.
        assert!(s.messages.abandoned_entries > 0, "{topology}");
        assert!(s.anti_entropy.as_ref().unwrap().keys_repaired > 0);
    }
}

/// `log_retention` is how long unacknowledged entries are kept; they used to be given up
/// after `request_timeout` (2 s) whatever the retention said. A 3 s partition with a 10 s
/// retention gives up nothing (it gave up every entry queued in its first second before).
#[test]
fn log_retention_keeps_entries_for_the_configured_time() {
    let text = |retention: &str| {
        format!(
            r#"
name: retention
seed: 1
duration: 20s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network: {{ latency: {{ default: 30ms }} }}
replication: {{ log_retention: {retention} }}
workload: {{ keys: 1000, rate_per_region: 50, mix: {{ write: 0.5, read: 0.5 }} }}
faults:
  - {{ at: 5s, for: 3s, partition: [[a, b], [c]] }}
"#
        )
    };
    let kept = simulate(&text("10s"), None);
    assert_eq!(kept.messages.abandoned_entries, 0, "{:?}", kept.messages);
    assert!(kept.passed, "{:?}", kept.checks);
    let short = simulate(&text("1s"), None);
    assert!(short.messages.abandoned_entries > 0, "{:?}", short.messages);
}
/// A relay that loses its disk had acknowledged entries upstream (which then forgets them)
/// while a batch of them still waited to go downstream. Once rebuilt, it offers its state to
/// the regions it relays for, which fetch what they lack: every region converges and, as the
/// relay takes no client writes, nothing acknowledged is lost (no backup RPO applies).
#[test]
fn regions_behind_a_lost_relay_catch_up_from_it() {
    for (topology, replication) in [
        ("line", "topology: line, "),
        ("ring", "topology: ring, "),
        ("chain", "mode: chain, "),
    ] {
        let s = simulate(
            &format!(
                r#"
name: relay-loss
duration: 10s
regions: [{{ name: a }}, {{ name: b }}, {{ name: c }}]
network: {{ latency: {{ default: 30ms }} }}
replication: {{ {replication}batch: {{ max_entries: 1000, max_delay: 20ms }} }}
workload: {{ keys: 100000, rate_per_region: 100, rates: {{ b: 0 }}, mix: {{ write: 1 }} }}
faults: [{{ at: 5s, for: 1s, region_loss: b }}]
"#
            ),
            Some(1),
        );
        assert!(s.convergence.converged, "{topology}: {:?}", s.checks);
        assert_eq!(s.lost_acked_writes, 0, "{topology}");
        assert!(s.passed, "{topology}: {:?}", s.checks);
    }
}

/// A state transfer judges whether the asker has seen a cell's write from the stamp's
/// counter. That counter must number the origin's entries, not only its LWW writes: with a
/// merging table beside an FWW one, a write numbered 5 among 19 entries looked seen by a
/// region that had seen 15 entries, and the rebuilt region never got it.
#[test]
fn restore_with_merging_and_lww_tables_fetches_every_newer_write() {
    let s = simulate(
        r#"
name: restore-mixed-tables
duration: 30s
regions: [{ name: us-east4 }, { name: australia-southeast1 }]
network: { latency: { preset: gcp-2023 } }
replication: { tables: { cart: g-set, profile: fww } }
durability: { backup: { every: 7s, store: us-east4, bandwidth: 100 Mbps } }
workload:
  rate_per_region: 5
  tables:
    cart: { keys: 300, share: 5, ops: { add: 0.6, get: 0.4 }, elements: 9 }
    profile: { keys: 800, share: 1, ops: { put: 0.5, get: 0.5 } }
faults: [{ at: 19412ms, region_loss: australia-southeast1 }]
"#,
        Some(51),
    );
    assert!(s.convergence.converged, "{:?}", s.checks);
    assert!(s.passed, "{:?}", s.checks);
}

/// A rebuilt region that crashes (disk intact) before its peers answered its state request
/// resumes the transfer when it comes back: what it still owes is on its disk. Without that it
/// came back as an ordinary restart and never fetched the values its lost disk had held.
#[test]
fn a_crash_during_a_restore_resumes_it() {
    let s = simulate(
        r#"
name: crash-during-restore
duration: 12s
regions: [{ name: a }, { name: b }]
network: { latency: { default: 50ms } }
workload: { keys: 100000, rate_per_region: 50, rates: { b: 0 }, mix: { write: 1 } }
faults:
  - { at: 5s, for: 2s, region_loss: b }
  - { at: 7010ms, for: 100ms, crash: b }
"#,
        Some(1),
    );
    assert!(s.convergence.converged, "{:?}", s.checks);
    assert_eq!(s.lost_acked_writes, 0);
    let r = s.failovers[0].restore.as_ref().expect("rebuilt");
    assert!(r.restore_ms.is_some(), "{r:?}");
    assert!(s.passed, "{:?}", s.checks);
}

/// Found by `sim swarm` (seed 172, shrunk): in a bidirectional ring with reordering, a region
/// catching up from a rebuilt neighbour took that neighbour's seen-prefixes, so the
/// neighbour's newest write, arriving afterwards on the normal path, looked like a duplicate
/// and was not passed on to the next region, which kept an older value for good.
#[test]
fn a_catch_up_does_not_swallow_entries_still_to_be_relayed() {
    let s = simulate(
        r#"
name: swarm-172-shrunk
seed: 172
duration: 4500ms
regions:
- name: east-us
- name: central-india
- name: uk-south
- name: australia-east
  clock:
    offset: -266ms
    drift_ppm: 27.0
- name: brazil-south
network:
  latency:
    preset: azure-2025
    map:
      australia-east: Australia East
      brazil-south: Brazil South
      central-india: Central India
      east-us: East US
      uk-south: UK South
  loss: 0.001
  fifo: false
replication:
  batch:
    max_entries: 17
    max_delay: 6ms
  topology: ring
  bidirectional: true
workload:
  keys: 445
  mix:
    write: 0.03
    read: 0.25
    write_local: 0.37
    read_all: 0.21
    read_local: 0.14
  sessions: 4
  key_distribution:
    zipf: 0.6
  rate_per_region: 48.0
faults:
- at: 2537ms
  for: 1s
  region_loss: uk-south
"#,
        Some(172),
    );
    assert!(s.convergence.converged, "{:?}", s.checks);
    assert_eq!(s.lost_acked_writes, 0);
}

/// Issue 21, 3.6d: a fault whose `for` runs past the end of the run used to be accepted
/// silently. It is warned about, marked `cut_off` in the summary and named so in the timeline;
/// a fault that ends in time is not.
#[test]
fn a_fault_running_past_the_end_is_warned_about_and_reported_cut_off() {
    let text = "name: cut\nduration: 10s\nregions: [{ name: a }, { name: b }]\nnetwork: { latency: { default: 20ms } }\nworkload: { keys: 10, rate_per_region: 20 }\nfaults:\n  - { at: 2s, crash: b, for: 3s }\n  - { at: 8s, partition: [[a], [b]], for: 5s }\n";
    let sc = scenario(text);
    assert_eq!(sc.warnings.len(), 1, "{:?}", sc.warnings);
    assert!(
        sc.warnings[0].starts_with("faults[1].for: 5s runs past the end of the run (10s)"),
        "{}",
        sc.warnings[0]
    );
    let s = simulate(text, None);
    let cut: Vec<bool> = s.faults.iter().map(|f| f.cut_off).collect();
    assert_eq!(cut, vec![false, true]);
    let txt = regionsim::report::text::render(&s);
    assert_eq!(
        txt.matches("(cut off by the end of the run)").count(),
        1,
        "{txt}"
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 21 item 6: failures reported as they happened.

/// Async manual failover with batched replication: r0 crashes with a few acknowledged writes
/// still in its unsent batch, and the operator promotes r1 25 s later. The promote's fence
/// discards those writes, but they were lost to the crash: the crash row carries them, with a
/// window of tens of milliseconds (the batch delay), and the promote row none.
#[test]
fn writes_a_promote_fences_off_are_charged_to_the_crash_that_lost_them() {
    let s = simulate(
        r#"
name: operator
duration: 30s
regions: [{ name: r0 }, { name: r1 }, { name: r2 }]
network: { latency: { default: 20ms } }
replication:
  mode: primary-backup
  sync: async
  failover: manual
  batch: { max_delay: 50ms }
workload: { keys: 100000, rate_per_region: 200 }
faults: [{ at: 3s, crash: r0, for: 26s }, { at: 28s, promote: r1 }]
"#,
        Some(1),
    );
    let (crash, promote) = (&s.failovers[0], &s.failovers[1]);
    assert_eq!(
        (crash.kind.as_str(), promote.kind.as_str()),
        ("crash", "promote")
    );
    assert_eq!(s.lost_acked_writes, 4);
    assert_eq!(
        (crash.rpo_writes, crash.rpo_window_ms),
        (4, 21.561),
        "{crash:?}"
    );
    assert_eq!(
        (promote.rpo_writes, promote.rpo_window_ms),
        (0, 0.0),
        "{promote:?}"
    );
    // The data-loss table says the same.
    assert_eq!(s.crashes[0].lost_acked_writes, 4);
    assert_eq!((s.rpo.writes, s.rpo.max_window_ms), (4, 21.561));
}

/// A crash whose outage is still on at the end of the run: r0's own clients never write again
/// (no rerouting), so the RTO is only known to be at least the rest of the run. It is reported
/// as that lower bound, flagged, and `expect.rto` treats it so.
#[test]
fn an_rto_cut_off_by_the_end_of_the_run_is_a_lower_bound() {
    let text = |bound: &str| {
        format!(
            r#"
name: cut
duration: 60s
regions: [{{ name: r0 }}, {{ name: r1 }}, {{ name: r2 }}]
network: {{ latency: {{ default: 20ms }} }}
replication:
  mode: primary-backup
  sync: async
  failover: {{ detector: {{ kind: heartbeat, interval: 200ms, timeout: 3s }} }}
workload: {{ keys: 100000, rate_per_region: 200 }}
faults: [{{ at: 20s, crash: r0 }}]
expect: {{ rto: {bound} }}
"#
        )
    };
    let s = simulate(&text("{ max: 1h }"), Some(1));
    let f = &s.failovers[0];
    assert_eq!((f.rto_ms, f.rto_cut_off), (Some(40_000.0), true), "{f:?}");
    assert_eq!(f.rto_by_region_ms["r0"], None);
    assert_eq!(f.rto_phases, None);
    assert_eq!(
        (
            s.rto.max_ms,
            s.rto.max_cut_off,
            s.rto.cut_off,
            s.rto.unrecovered
        ),
        (Some(40_000.0), true, 1, 0)
    );
    assert_eq!(
        regionsim::failures::describe_rto(f.rto_ms, f.rto_cut_off),
        "≥ 40.00s, run ended"
    );
    let rto = |s: &RunSummary| {
        let e = s.expectations.iter().find(|e| e.name == "rto").unwrap();
        (e.passed, e.actual.clone())
    };
    // A maximum cannot be shown to hold, however large.
    assert_eq!(rto(&s), (false, "≥ 40.00s, run ended".to_string()));
    // A minimum holds when the lower bound meets it, and not otherwise.
    assert!(rto(&simulate(&text("{ min: 30s }"), Some(1))).0);
    assert!(!rto(&simulate(&text("{ min: 50s }"), Some(1))).0);
    // The text report says so.
    let txt = regionsim::report::text::render(&s);
    assert!(txt.contains("≥ 40.00s, run ended"), "{txt}");
    assert!(txt.contains("r0 not by the end of the run"), "{txt}");
}

/// A link whose normal lag is a second: with the old fixed 1 s threshold every write on it was
/// a stall, the whole run long. The default threshold is ten times the link's normal lag; a
/// scenario can still set its own.
#[test]
fn normal_one_second_lag_is_not_a_stall() {
    let text = |report: &str| {
        format!(
            r#"
name: slow-link
duration: 60s
regions: [{{ name: a }}, {{ name: b }}]
network: {{ latency: {{ default: 1s, jitter: {{ dist: exponential, mean: 10ms }} }} }}
workload: {{ keys: 100000, rate_per_region: 20 }}
report: {report}
"#
        )
    };
    let s = simulate(&text("{}"), Some(1));
    // 10 x (1 s + the jitter's median, 10 ms x ln 2).
    assert_eq!(s.stall_after_ms, 10_069.315);
    assert!(s.stalls.is_empty(), "{:?}", s.stalls);
    let s = simulate(&text("{ stall_after: 1s }"), Some(1));
    assert_eq!(s.stall_after_ms, 1000.0);
    // At 1 s, every write whose jitter was not nil is a stall: over 11 s of each region's run.
    let totals: Vec<f64> = s.stalls.iter().map(|st| st.total_ms).collect();
    assert_eq!(totals, [11_539.126, 11_527.501]);
    let err = Scenario::parse(&text("{ stall_after: 0 }"), "t.yaml").unwrap_err();
    assert!(
        err.to_string()
            .contains("report.stall_after: 0s is below the 1ms floor"),
        "{err}"
    );
}

/// Weather's faults are summarised as the run realised them (merged with the declared ones and
/// sorted by time). Summarising against the declared list found none of them: no failure rows
/// and no fault ever beginning during `failover`, across every weather crash of a primary.
#[test]
fn weather_failures_are_summarised_and_phased() {
    let text = std::fs::read_to_string("scenarios/failover-weather.yaml").unwrap();
    let s = simulate(&text, Some(1));
    let rows: Vec<(&str, Option<&str>)> = s
        .failovers
        .iter()
        .map(|f| (f.kind.as_str(), f.region.as_deref()))
        .collect();
    assert_eq!(
        rows,
        [
            ("partition", Some("virginia")),
            ("crash", Some("tokyo")),
            ("partition", Some("ireland")),
            ("crash", Some("virginia")),
        ]
    );
    // The clock step at 64.4 s lands while the partition that cut off the primary ireland is
    // still being failed over (its writes are back only after 10.18 s).
    let step = s.faults.iter().find(|f| f.at_ms == 64_376.0).unwrap();
    assert!(step.label.contains("clock step"), "{}", step.label);
    assert_eq!(step.phases, ["failover"]);
}

/// After the partitioned primary's stream is cut, regions that applied its discarded writes
/// install the new primary's values for those keys. Writes those values include (or replaced)
/// were left pending at them forever, so the heal read "never converged" while the
/// `convergence` check passed. They are covered when the value is installed.
#[test]
fn a_heal_after_a_rewind_converges_as_the_convergence_check_says() {
    let text = std::fs::read_to_string("scenarios/region-failover.yaml").unwrap();
    let s = simulate(&text, None);
    assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
    let heals: Vec<(&str, Option<f64>)> = s
        .convergence
        .heals
        .iter()
        .map(|h| (h.label.as_str(), h.converged_after_ms))
        .collect();
    assert_eq!(
        heals,
        [
            ("recover us-east-1", Some(3363.094)),
            (
                "end of partition [us-west-2] | [us-east-1, eu-west-1]",
                Some(2806.189)
            ),
        ]
    );
    // What stays invisible is some of what the cut discarded (RPO 76), nothing else.
    assert_eq!((s.visibility_incomplete, s.rpo.writes), (3, 76));
}

/// Swarm seed 5045 (shrunk): a chain with group commit. The head ap-southeast-1 crashes 28 ms
/// after originating a write to key 466, before its fsync; ap-east-1 (its successor) holds the
/// orphan, but crashes too, 44 ms before the head returns, and kept its orphans only in
/// memory. Nobody relayed the write back and the head kept the key empty for good (1 key
/// differed). Orphans are now retained on disk.
#[test]
fn orphans_survive_a_restart_of_their_holder_while_the_origin_is_down() {
    let text = r#"
name: swarm-5045-shrunk
seed: 5045
duration: 28s
regions:
- name: ap-southeast-1
- name: ap-east-1
  clock: {offset: 357ms, drift_ppm: 51.0}
- name: eu-central-1
network:
  latency:
    preset: aws-2023
    map: {ap-east-1: ap-east-1, ap-southeast-1: ap-southeast-1, eu-central-1: eu-central-1}
    jitter: {dist: exponential, mean: 1ms}
replication: {mode: chain}
durability: {flush_interval: 86ms}
workload:
  keys: 619
  rate_per_region: 44.0
  mix: {write: 0.43, read: 0.13, read_local: 0.44}
  key_distribution: {zipf: 0.6}
faults:
- {at: 17517ms, for: 2080ms, crash: ap-southeast-1}
- {at: 19561ms, for: 74ms, crash: ap-east-1}
"#;
    let s = simulate(text, None);
    let conv = s
        .checks
        .iter()
        .find(|c| c.name == "convergence")
        .expect("convergence is checked");
    assert!(conv.passed, "{}", conv.detail);
    let digests: Vec<_> = s.convergence.region_digests.values().collect();
    assert_eq!(digests.len(), 3);
    assert!(
        digests.iter().all(|d| d.is_some() && *d == digests[0]),
        "{digests:?}"
    );
    assert_eq!(s.lost_acked_writes, 0);
    assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
}

/// Swarm seed 2234 (shrunk): the semi-sync primary australia-east loses its disk for 62 ms at
/// 3.69 s and is rebuilt from nothing. Nobody suspected it, so its peers named it the primary
/// of term 1; it took itself for that term's primary without leading it, its heartbeats
/// vouched for it, and no election ever started: every later write failed and replication
/// never drained (`convergence` failed after the 10 min quiesce limit). Now east-us is elected
/// at 7.46 s and the run drains.
#[test]
fn a_primary_rebuilt_before_anyone_suspected_it_is_replaced_by_an_election() {
    let text = r#"
name: swarm-2234-shrunk
seed: 2234
duration: 5s
regions:
- name: central-india
- name: north-europe
  clock: {offset: 198ms, drift_ppm: 172.0}
- name: australia-east
  clock: {offset: -284ms, drift_ppm: -87.0}
- name: east-us
network:
  latency:
    preset: azure-2025
    map: {australia-east: Australia East, central-india: Central India, east-us: East US, north-europe: North Europe}
    jitter: {dist: lognormal, median: 3ms, sigma: 0.5}
replication:
  mode: primary-backup
  failover:
    mode: auto
    detector: {kind: phi, interval: 214ms, pause: 1s, threshold: 10.0, min_std_dev: 500ms}
    stagger: 200ms
    fencing: lease
    rejoin: reconcile
  anti_entropy: {interval: 6s, fanout: 3, leaves: 256, branching: 16}
  log_retention: 8s
  primary: australia-east
  sync: semi-sync
durability:
  backup: {every: 8s, store: east-us, bandwidth: 100 Mbps}
workload:
  keys: 1
  mix: {write: 0.36, read: 0.17, read_all: 0.2, read_quorum: 0.27}
  sessions: 15
  key_distribution: {zipf: 0.9}
  rate_per_region: 1.0
  reroute_after: 1276ms
faults:
- {at: 1599ms, for: 3438ms, crash: central-india}
- {at: 3687ms, for: 62ms, region_loss: australia-east}
"#;
    let s = simulate(text, None);
    let conv = s
        .checks
        .iter()
        .find(|c| c.name == "convergence")
        .expect("convergence is checked");
    assert!(conv.passed, "{}", conv.detail);
    assert!(s.quiesce.drained, "{:?}", s.quiesce);
    let fo = s.failover.as_ref().expect("failover");
    assert_eq!((fo.elections, fo.leaders), (1, 2));
    assert_eq!(s.failovers[1].new_primary.as_deref(), Some("east-us"));
    // Late: followers that have not heard australia-east disown its term keep re-teaching each
    // other that it is the primary, so east-us stands only 2.4 min into the quiesce. Refusing
    // such second-hand news elected it in 3.8 s but let a less up-to-date region win the race
    // after a three-way split (`a_minority_never_elects_a_primary`); still open.
    assert_eq!(s.failovers[1].elected_after_ms, Some(146618.647));
    assert!(s.checks.iter().all(|c| c.passed), "{:?}", s.checks);
}
