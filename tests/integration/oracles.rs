//! Analytic oracles: exact outcomes of simple worlds against closed forms.

use crate::common::*;

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
pub(crate) const FOUR_LINKS: &str = r#"    links:
      "a <-> b": 10ms
      "b <-> c": 20ms
      "c <-> d": 30ms
      "d <-> a": 40ms
      "a <-> c": 50ms
      "b <-> d": 70ms"#;

/// Four regions with a distinct constant latency on every link, so each strategy's timing has
/// exactly one right answer. `extra` is the `replication` block; clients only where `rates` says.
pub(crate) fn four(replication: &str, rates: &str, mix: &str) -> RunSummary {
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

/// The four-region links of `four`, with blocks of its own (`network.classes`, `service`...).
pub(crate) fn four_with(network_extra: &str, top: &str) -> RunSummary {
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
