//! Engine unit tests, with a tiny scripted replica instead of the real protocol: event order,
//! partitions, crashes (lost unsynced writes, lost queued inputs, stale timers), determinism and
//! the end of a run.

use super::*;
use crate::replica::{Cell, Command, Key, MsgClass, Now, Reply, Work};
use crate::time::Mono;

const MS: u64 = 1_000_000;

/// A message of the test protocol: a numbered ping.
#[derive(Clone, Debug, PartialEq)]
struct Ping(u64);

impl WireMessage for Ping {
    fn class(&self) -> MsgClass {
        MsgClass::Replication
    }
    fn work(&self) -> Work {
        Work {
            writes: 1,
            reads: 0,
        }
    }
    fn wire_bytes(&self) -> u64 {
        100
    }
    fn kind(&self) -> &'static str {
        "ping"
    }
    fn is_retransmission(&self) -> bool {
        false
    }
    fn fingerprint(&self) -> u64 {
        self.0
    }
    fn carries_key(&self, _key: Key) -> bool {
        false
    }
}

/// The test replica's disk: the ping ids it persisted and synced.
#[derive(Clone, Debug, Default, PartialEq)]
struct Disk(Vec<u64>);

impl Durable for Disk {
    type Op = u64;
    fn apply(&mut self, op: u64) {
        self.0.push(op);
    }
}

/// What each region does: at mono time `.0` (ms) send ping `.2` to region `.1`.
#[derive(Clone, Debug)]
struct Script(Vec<(u64, u16, u64)>);

/// Sends its script's pings on timers (timer `i` for entry `i`), logs every ping it receives
/// with the mono time, persists each and syncs after even-numbered ones.
struct Flood {
    script: Script,
    /// What the disk held when this incarnation started.
    disk_at_start: Vec<u64>,
    /// (mono ns, from, ping id) of every ping received, in order.
    got: Vec<(u64, u16, u64)>,
    /// (mono ns, script entry) of every timer that fired.
    fired: Vec<(u64, usize)>,
}

type Out = Outbox<Ping, u64>;

impl Replica for Flood {
    type Msg = Ping;
    type Durable = Disk;
    type Config = Script;

    fn recover(cfg: &Script, disk: &Disk) -> Self {
        Flood {
            script: cfg.clone(),
            disk_at_start: disk.0.clone(),
            got: Vec::new(),
            fired: Vec::new(),
        }
    }
    fn on_start(&mut self, now: Now, out: &mut Out) {
        for (i, &(at, _, _)) in self.script.0.iter().enumerate() {
            if at * MS >= now.mono.0 {
                out.actions.push(Action::SetTimer {
                    id: TimerId(i as u32),
                    at: Mono(at * MS),
                });
            }
        }
    }
    fn on_message(&mut self, now: Now, from: RegionId, msg: Ping, out: &mut Out) {
        self.got.push((now.mono.0, from.0, msg.0));
        out.actions.push(Action::Persist(msg.0));
        if msg.0.is_multiple_of(2) {
            out.actions.push(Action::Sync);
        }
    }
    fn on_timer(&mut self, now: Now, id: TimerId, out: &mut Out) {
        let (_, to, ping) = self.script.0[id.0 as usize];
        self.fired.push((now.mono.0, id.0 as usize));
        out.actions.push(Action::Send {
            to: RegionId(to),
            msg: Ping(ping),
        });
    }
    fn on_client_op(&mut self, _now: Now, op: ClientOp, out: &mut Out) {
        out.actions.push(Action::Reply(Reply::Failed {
            op: clients::op_id(&op),
        }));
    }
    fn on_command(&mut self, _now: Now, _cmd: Command, _out: &mut Out) {}
    fn state_digest(&self) -> u64 {
        self.got.iter().fold(0u64, |d, &(t, f, p)| {
            crate::replica::mix64(d ^ t ^ (f as u64) << 48 ^ p)
        })
    }
    fn is_quiescent(&self) -> bool {
        true
    }
    fn cells(&self) -> Box<dyn Iterator<Item = (Key, Cell)> + '_> {
        Box::new(std::iter::empty())
    }
    fn cell_of(&self, _key: Key) -> Option<Cell> {
        None
    }
    fn client_work(&self, _op: &ClientOp) -> Work {
        Work::NONE
    }
}

/// An observer that writes down message events as (from, to, what), and region and fault
/// events as (time ms, which).
#[derive(Default)]
struct Recorder {
    log: Vec<(u16, u16, &'static str)>,
    down: Vec<(u64, u16)>,
    up: Vec<(u64, u16)>,
    faults: Vec<(u64, usize, bool)>,
}

impl Observe for Recorder {
    fn sent(&mut self, from: RegionId, to: RegionId, _: u64, _: bool, _: MsgClass) {
        self.log.push((from.0, to.0, "sent"));
    }
    fn delivered(&mut self, from: RegionId, to: RegionId) {
        self.log.push((from.0, to.0, "delivered"));
    }
    fn dropped(&mut self, from: RegionId, to: RegionId, reason: DropReason) {
        let what = match reason {
            DropReason::Partition => "dropped: partition",
            DropReason::Loss => "dropped: loss",
            DropReason::Crashed => "dropped: crashed",
        };
        self.log.push((from.0, to.0, what));
    }
    fn region_down(&mut self, r: RegionId, now: SimTime) {
        self.down.push((now.0 / MS, r.0));
    }
    fn region_up(&mut self, r: RegionId, now: SimTime) {
        self.up.push((now.0 / MS, r.0));
    }
    fn fault_started(&mut self, fault: usize, now: SimTime) {
        self.faults.push((now.0 / MS, fault, true));
    }
    fn fault_ended(&mut self, fault: usize, now: SimTime) {
        self.faults.push((now.0 / MS, fault, false));
    }
}

/// Three regions a, b, c, 100ms apart, no client traffic, 3s long; `extra` adds sections.
fn scenario(extra: &str) -> Scenario {
    scenario_on("network:\n  latency:\n    default: 100ms\n", extra)
}

/// [`scenario`] with another `network` section.
fn scenario_on(network: &str, extra: &str) -> Scenario {
    let text = format!(
        "name: t\nduration: 3s\nregions: [{{name: a}}, {{name: b}}, {{name: c}}]\n{network}workload: {{ keys: 1, rate_per_region: 0 }}\n{extra}"
    );
    Scenario::parse(&text, "t.yaml").expect("valid test scenario")
}

/// Region `i`'s script from `all`: (at ms, from, to, ping).
fn scripts(all: &[(u64, u16, u16, u64)]) -> impl Fn(RegionId) -> Script + '_ {
    move |r| {
        Script(
            all.iter()
                .filter(|e| e.1 == r.0)
                .map(|&(at, _, to, p)| (at, to, p))
                .collect(),
        )
    }
}

/// Runs `sc` to its end but keeps the engine, so the test can look at the replicas.
fn run_kept<'s>(
    sc: &'s Scenario,
    seed: u64,
    all: &[(u64, u16, u16, u64)],
) -> (Engine<'s, Flood, Recorder>, bool) {
    let mut e = Engine::<Flood, _>::new(
        sc,
        seed,
        Trace::digest_only(),
        Recorder::default(),
        scripts(all),
    );
    let end = e.start();
    let (drained, stopped) = e.event_loop(end, None, Limits::NONE);
    assert_eq!(stopped, None);
    (e, drained)
}

fn got(e: &Engine<'_, Flood, Recorder>, r: usize) -> Vec<(u64, u16, u64)> {
    let rep = e.nodes[r].replica.as_ref().expect("live replica");
    rep.got.iter().map(|&(t, f, p)| (t / MS, f, p)).collect()
}

#[test]
fn events_at_the_same_time_run_in_the_order_they_were_scheduled() {
    let sc = scenario("");
    // a sends pings 1, 2, 3 to b at 200ms (three timers due together); c sends 4 at 100ms,
    // which arrives at b at 200ms, before a's three do (they arrive at 300ms).
    let all = [
        (200, 0, 1, 1),
        (200, 0, 1, 2),
        (200, 0, 1, 3),
        (100, 2, 1, 4),
        (250, 1, 0, 5),
    ];
    let (e, drained) = run_kept(&sc, 1, &all);
    assert!(drained);
    assert_eq!(
        got(&e, 1),
        vec![(200, 2, 4), (300, 0, 1), (300, 0, 2), (300, 0, 3)]
    );
    assert_eq!(got(&e, 0), vec![(350, 1, 5)]);
    let fired = &e.nodes[0].replica.as_ref().unwrap().fired;
    assert_eq!(fired, &vec![(200 * MS, 0), (200 * MS, 1), (200 * MS, 2)]);
    assert_eq!(e.counts.timers, 5);
    assert_eq!(e.counts.deliveries, 5);
}

#[test]
fn a_partition_drops_messages_across_groups_until_it_heals() {
    let sc =
        scenario("faults:\n  - { at: 1s, partition: [[a, c], [b]] }\n  - { at: 2s, heal: all }\n");
    // a pings b every 300ms from 300ms; a also pings c at 1200ms (same side).
    let mut all: Vec<_> = (1..=8).map(|i| (300 * i, 0, 1, i)).collect();
    all.push((1200, 0, 2, 100));
    let (e, drained) = run_kept(&sc, 1, &all);
    assert!(drained);
    // 3 (sent 900ms) lands at 1000ms, just after the cut (the fault was scheduled first, so
    // it runs first at equal times); 4, 5, 6 were sent across the cut.
    assert_eq!(
        got(&e, 1),
        vec![(400, 0, 1), (700, 0, 2), (2200, 0, 7), (2500, 0, 8)]
    );
    assert_eq!(got(&e, 2), vec![(1300, 0, 100)]);
    let drops: Vec<_> = e
        .obs
        .log
        .iter()
        .filter(|l| l.2.starts_with("dropped"))
        .collect();
    assert_eq!(drops.len(), 4);
    assert!(drops
        .iter()
        .all(|l| l.2 == "dropped: partition" && l.1 == 1));
    // Every drop is charged to the partition; the heal charges nothing.
    assert_eq!(e.effects, vec![4, 0]);
    assert_eq!(e.heals.len(), 1);
    assert_eq!(e.heals[0].at, SimTime(2000 * MS));
    assert_eq!(e.obs.faults, vec![(1000, 0, true), (2000, 1, true)]);
}

#[test]
fn a_crash_loses_unsynced_writes_queued_inputs_and_stale_timers() {
    let sc =
        scenario("service: { write: 100ms }\nfaults:\n  - { at: 1150ms, crash: b, for: 50ms }\n");
    let all = [
        // b receives 2 (synced), then 3 (persisted, not synced) by 600ms.
        (200, 0, 1, 2),
        (400, 0, 1, 3),
        // Three pings reach b together at 1000ms: 11 is served by 1100ms, 13 is in service
        // and 15 queued when b crashes at 1150ms.
        (900, 0, 1, 11),
        (900, 0, 1, 13),
        (900, 0, 1, 15),
        // b's timer for 1250ms is set before the crash and again after the restart at 1200ms:
        // it must fire once (the first one is stale), and a receives 7 once.
        (1250, 1, 0, 7),
    ];
    let (e, drained) = run_kept(&sc, 1, &all);
    assert!(drained);
    let b = e.nodes[1].replica.as_ref().unwrap();
    // 11 is odd (not synced): only the synced 2 survives on disk.
    assert_eq!(b.disk_at_start, vec![2]);
    assert!(b.got.is_empty(), "queued inputs are lost with the crash");
    assert_eq!(b.fired, vec![(1250 * MS, 0)]);
    // a serves it for 100ms too.
    assert_eq!(got(&e, 0), vec![(1450, 1, 7)]);
    assert_eq!(e.queued_inputs, 0);
    assert_eq!(e.obs.down, vec![(1150, 1)]);
    assert_eq!(e.obs.up, vec![(1200, 1)]);
    assert_eq!(e.crashes.len(), 1);
    assert_eq!(e.crashes[0].recovered, Some(SimTime(1200 * MS)));
    // b's service queue: 2 and 3, then 11 and 13 began service; 15 never did.
    assert_eq!(e.service_stats[1].inputs, 4);
    assert_eq!(e.service_stats[1].max_queue, 3);
}

#[test]
fn a_message_to_a_crashed_region_is_dropped_on_arrival() {
    let sc = scenario("faults:\n  - { at: 500ms, crash: b, for: 1s }\n");
    let all = [(450, 0, 1, 1), (1600, 0, 1, 2)];
    let (e, drained) = run_kept(&sc, 1, &all);
    assert!(drained);
    assert_eq!(got(&e, 1), vec![(1700, 0, 2)]);
    let drops: Vec<_> = e
        .obs
        .log
        .iter()
        .filter(|l| l.2.starts_with("dropped"))
        .collect();
    assert_eq!(drops, vec![&(0, 1, "dropped: crashed")]);
    assert_eq!(e.effects, vec![1]);
}

#[test]
fn the_same_scenario_and_seed_give_the_same_run() {
    // Random latency and loss: the network draws from the seed's streams.
    let sc = scenario_on(
        "network:\n  latency:\n    default: 80ms\n    jitter: { dist: exponential, mean: 20ms }\n  loss: 0.2\n",
        "",
    );
    let all: Vec<_> = (0..60)
        .map(|i| (40 * i + 10, (i % 3) as u16, ((i + 1) % 3) as u16, i))
        .collect();
    let run = |seed| {
        let e = Engine::<Flood, _>::new(
            &sc,
            seed,
            Trace::digest_only(),
            Recorder::default(),
            scripts(&all),
        );
        e.run(None, Limits::NONE)
    };
    let (a, b, c) = (run(7), run(7), run(8));
    assert_eq!(a.trace_digest, b.trace_digest);
    assert_eq!(a.region_digests, b.region_digests);
    assert_eq!(a.observer.log, b.observer.log);
    assert_eq!(a.end, b.end);
    // Another seed draws other latencies and losses.
    assert_ne!(a.trace_digest, c.trace_digest);
    let lost = |o: &RunOutput<Recorder>| {
        o.observer
            .log
            .iter()
            .filter(|l| l.2 == "dropped: loss")
            .count()
    };
    assert!(lost(&a) > 0, "20% loss over 60 pings drops some");
}

#[test]
fn the_run_ends_when_replication_has_drained_after_duration() {
    let sc = scenario("");
    // The last ping leaves at 2950ms and lands at 3050ms, after the 3s duration.
    let all = [(2950, 0, 1, 1), (3500, 0, 1, 2)];
    let e = Engine::<Flood, _>::new(
        &sc,
        1,
        Trace::digest_only(),
        Recorder::default(),
        scripts(&all),
    );
    let out = e.run(None, Limits::NONE);
    assert!(out.drained);
    assert_eq!(out.end, SimTime(3050 * MS));
    assert_eq!(out.counts.deliveries, 1);
    assert_eq!(out.counts.timers, 1, "the 3500ms timer never fires");
}

#[test]
fn an_event_limit_stops_the_run() {
    let sc = scenario("");
    let all: Vec<_> = (0..70_000).map(|i| (i / 100, 0, 1, i)).collect();
    let e = Engine::<Flood, _>::new(
        &sc,
        1,
        Trace::digest_only(),
        Recorder::default(),
        scripts(&all),
    );
    let out = e.run(
        None,
        Limits {
            max_events: 65_000,
            max_memory: 0,
        },
    );
    assert_eq!(
        out.stopped,
        Some(Stopped::Events {
            limit: 65_000,
            at: out.end
        })
    );
    assert!(!out.drained);
}
