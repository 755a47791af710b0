//! Lost updates in quorum mode and relay/restore regressions.

use crate::common::*;

/// Quorum mode with a region that only coordinates: it holds no copy, so every write it stamps
/// "saw" nothing. `keys` and `rate` set how often writes to one key overlap.
pub(crate) fn coordinator_only(keys: u64, rate: u64) -> String {
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
pub(crate) fn overwritten_by_a_concurrent_write_only(text: &str) -> (u64, u64) {
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
