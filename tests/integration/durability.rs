//! Crashes and durability.

use crate::common::*;

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
