//! The deterministic discrete-event engine: one queue, one loop, the only place time advances.
//!
//! The loop pops the earliest `(time, seq)` event, hands it to a replica (with that region's
//! local clock readings) or to a fault, and turns the replica's actions into new events. Idle
//! time is skipped. After `duration` the run quiesces: faults heal, crashed regions recover,
//! clients stop, and the loop continues until replication has drained or `quiesce_limit` passes.

mod clients;
pub mod clock;
mod end;
mod faults;
pub mod network;
pub mod observe;
pub mod queue;
mod service;
pub mod trace;
pub mod workload;

#[cfg(test)]
mod tests;

use crate::replica::{
    Action, ClientOp, Durable, Key, Now, Outbox, RegionId, Replica, TimerId, WireMessage,
};
use crate::scenario::{FaultAction, Scenario};
use crate::time::{SimTime, Span};
use clients::Clients;
use clock::Clock;
use network::{DropReason, Network, SendOutcome};
pub use observe::Observe;
use queue::EventQueue;
pub use service::ServiceStats;
use trace::Trace;
use workload::Workload;

#[derive(Copy, Clone, Debug)]
enum Event {
    Client(RegionId),
    Deliver(u32),
    Timer {
        region: RegionId,
        id: TimerId,
        gen: u32,
    },
    Fault(u32),
    /// Region `region`'s replica has finished the input at the head of its service queue
    /// (`gen` guards against a crash in between).
    Served {
        region: RegionId,
        gen: u32,
    },
    /// The `for` of fault `i` has run out.
    FaultEnd(u32),
    /// A rerouted client operation (index into `rerouted_ops`) reaches its region.
    RerouteOp(u32),
    /// The answer to a rerouted operation (index into `rerouted_replies`) reaches its client.
    RerouteReply(u32),
    /// A client retries an operation (index into `retry_queue`).
    Retry(u32),
    /// Region's time daemon polls and corrects its wall clock.
    ClockSync(RegionId),
    /// Every region snapshots its disk to the backup store.
    Backup,
    /// A lost region's backup image has been downloaded: it comes up.
    Rebuild(RegionId),
    EndOfRun,
}

struct Envelope<M> {
    from: RegionId,
    to: RegionId,
    msg: M,
    /// Index into the recorded sequence window, or `NOT_RECORDED`.
    seq: u32,
}

const NOT_RECORDED: u32 = u32::MAX;

/// A message recorded for the sequence diagram.
#[derive(Clone, Debug)]
pub struct SeqRecord {
    pub from: RegionId,
    pub to: RegionId,
    pub kind: &'static str,
    pub sent: SimTime,
    pub recv: Option<SimTime>,
    pub dropped: Option<DropReason>,
}

/// An input waiting for (or in) a replica's service: replicas with service times handle one
/// input at a time.
enum Input<M> {
    Client(ClientOp),
    Msg(RegionId, M),
}

/// A disk snapshot: when taken, when it reached the store, its size, the image.
type Snapshot<D> = (SimTime, SimTime, u64, D);

struct Node<R: Replica> {
    /// Inputs queued for service, the head being served (only with service times).
    serving: std::collections::VecDeque<(Input<R::Msg>, SimTime)>,
    serve_gen: u32,
    replica: Option<R>,
    durable: R::Durable,
    /// Persisted but not yet synced: lost if the region crashes.
    unsynced: Vec<<R::Durable as Durable>::Op>,
    clock: Clock,
    timer_gen: Vec<u32>,
    cfg: R::Config,
}

/// How many events of each kind the loop processed.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct EventCounts {
    pub client_ops: u64,
    pub deliveries: u64,
    pub timers: u64,
    pub faults: u64,
}

impl EventCounts {
    pub fn total(&self) -> u64 {
        self.client_ops + self.deliveries + self.timers + self.faults
    }
}

/// What one region's time daemon did over a run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClockStats {
    pub polls: u64,
    pub steps: u64,
    /// The largest |wall clock − true time| a poll found before correcting it.
    pub max_error_ns: u64,
    /// Wall clock − true time when the run ended.
    pub final_error_ns: i64,
}

/// A moment connectivity or a region came back, for convergence-after-heal.
#[derive(Clone, Debug)]
pub struct HealMark {
    pub at: SimTime,
    pub label: String,
}

#[derive(Clone, Debug)]
pub struct CrashMark {
    pub region: RegionId,
    pub at: SimTime,
    pub recovered: Option<SimTime>,
}

/// A fault as it actually played out.
#[derive(Clone, Debug)]
pub struct FaultMark {
    /// Index into the run's fault list (for `RunOutput::effects`).
    pub fault: usize,
    pub at: SimTime,
    pub until: Option<SimTime>,
    pub label: String,
    pub class: crate::faults::FaultClass,
}

/// Everything a run produced, before it is summarised.
pub struct RunOutput<O> {
    /// Why the loop stopped before the run finished, if a [`Limits`] bound was passed.
    pub stopped: Option<Stopped>,
    pub observer: O,
    pub counts: EventCounts,
    pub trace_digest: u64,
    pub trace_error: Option<std::io::Error>,
    pub end: SimTime,
    pub drained: bool,
    pub region_digests: Vec<Option<u64>>,
    /// With partial replica placement: keys whose replicas disagree at the end (else 0; full
    /// placement compares `region_digests`).
    pub divergent_keys: u64,
    /// The first divergent key, for the check's message.
    pub first_divergent_key: Option<u64>,
    pub heals: Vec<HealMark>,
    pub crashes: Vec<CrashMark>,
    pub faults: Vec<FaultMark>,
    pub sequence: Vec<SeqRecord>,
    /// Messages sent in the window beyond what was recorded.
    pub sequence_truncated: u64,
    /// Per fault: messages it dropped or delayed and client operations it failed.
    pub effects: Vec<u64>,
    /// Per region service-queue statistics, when service times are configured.
    pub service: Option<Vec<ServiceStats>>,
    /// Per region: polls and steps of its time daemon, and the largest error a poll found.
    pub clocks: Vec<ClockStats>,
    /// Keys of tables with data (counters, sets, siblings): the value the first live region
    /// holds at the end, for the data checkers.
    pub final_views: Vec<(u64, crate::replica::data::View)>,
    /// The first such key two live regions disagree on, with the two regions and their values.
    pub view_mismatch: Option<ViewMismatch>,
}

/// Bounds that hold while a run runs, so a scenario that validates but runs away (a timer that
/// fires far too often, a retransmission storm) stops with an error instead of running for
/// hours or exhausting memory. They only ever end a run; they never change one that finishes.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Most events the loop may process.
    pub max_events: u64,
    /// Most resident memory of the whole process (bytes), read from the OS; 0 turns it off.
    pub max_memory: u64,
}

impl Limits {
    /// No bound at all.
    pub const NONE: Limits = Limits {
        max_events: u64::MAX,
        max_memory: 0,
    };

    /// Called every 65,536 events. Memory is read from `/proc` only every 2^18 events: the read
    /// costs microseconds, which at that spacing is well under 0.1% of a run.
    fn exceeded(&self, processed: u64, at: SimTime) -> Option<Stopped> {
        if processed > self.max_events {
            return Some(Stopped::Events {
                limit: self.max_events,
                at,
            });
        }
        if self.max_memory > 0 && processed & 0x3ffff == 0 {
            if let Some(rss) = resident_bytes() {
                if rss > self.max_memory {
                    return Some(Stopped::Memory {
                        limit: self.max_memory,
                        rss,
                        at,
                    });
                }
            }
        }
        None
    }
}

/// The process's resident memory now (Linux `/proc/self/status`; `None` elsewhere, which turns
/// the memory bound off). The engine has no allocator of its own to count, and the whole
/// process is what the machine runs out of.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// A run ended early by its [`Limits`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Stopped {
    Events { limit: u64, at: SimTime },
    Memory { limit: u64, rss: u64, at: SimTime },
}

/// Two regions holding different values of one key at the end of a run.
#[derive(Clone, Debug)]
pub struct ViewMismatch {
    pub key: u64,
    pub a: RegionId,
    pub b: RegionId,
    pub a_view: Option<crate::replica::data::View>,
    pub b_view: Option<crate::replica::data::View>,
}

/// Called every few thousand events with the current simulated time and event count.
pub type Progress<'a> = &'a mut dyn FnMut(SimTime, u64);

#[derive(PartialEq, Eq, Clone, Copy)]
enum Phase {
    Running,
    Quiesce,
}

pub struct Engine<'s, R: Replica, O: Observe> {
    sc: &'s Scenario,
    now: SimTime,
    queue: EventQueue<Event>,
    nodes: Vec<Node<R>>,
    slab: Vec<Option<Envelope<R::Msg>>>,
    free: Vec<u32>,
    /// Messages in flight, heartbeats excepted (they never stop, and must not keep a drained
    /// run going).
    in_flight: u64,
    net: Network,
    workload: Workload,
    obs: O,
    trace: Trace,
    outbox: Outbox<R::Msg, <R::Durable as Durable>::Op>,
    phase: Phase,
    counts: EventCounts,
    active_partition: Option<u32>,
    /// Whether any region can crash in this run (a crash fault exists).
    crashable: bool,
    heals: Vec<HealMark>,
    crashes: Vec<CrashMark>,
    faults: Vec<FaultMark>,
    sequence: Vec<SeqRecord>,
    sequence_truncated: u64,
    effects: Vec<u64>,
    /// The fault that crashed each region, while it is down.
    crash_fault: Vec<Option<usize>>,
    /// Service-time samplers and their random streams (one per region), if configured.
    service: Option<(crate::scenario::ServiceModel, Vec<crate::rng::SimRng>)>,
    /// Inputs waiting in service queues (the run has not drained while any are).
    queued_inputs: u64,
    pub service_stats: Vec<ServiceStats>,
    /// Per region: what its time daemon did.
    clock_stats: Vec<ClockStats>,
    /// Client operations in progress: retries, reroutes.
    clients: Clients,
    /// Per region: how many times a replica was started (a rebuilt one takes a newer
    /// incarnation than any it had).
    starts: Vec<u32>,
    /// Per region: its disk is gone (a region loss) and it has not been rebuilt yet.
    lost: Vec<bool>,
    /// Per region: a rebuild is under way (downloading its backup).
    rebuilding: Vec<bool>,
    /// Per region: snapshots (taken, in the store from, size in bytes, disk image), oldest
    /// first; only the newest complete one and those still uploading are kept.
    backups: Vec<Vec<Snapshot<R::Durable>>>,
}

impl<'s, R: Replica, O: Observe> Engine<'s, R, O> {
    /// Builds the world for `sc` with replicas configured by `cfg(region)`.
    pub fn new(
        sc: &'s Scenario,
        seed: u64,
        trace: Trace,
        obs: O,
        cfg: impl Fn(RegionId) -> R::Config,
    ) -> Self {
        let n = sc.n();
        let nodes = (0..n)
            .map(|i| {
                let r = &sc.regions[i];
                let cfg = cfg(RegionId(i as u16));
                Node {
                    serving: std::collections::VecDeque::new(),
                    serve_gen: 0,
                    replica: None,
                    durable: R::Durable::default(),
                    unsynced: Vec::new(),
                    clock: {
                        let c = Clock::new(r.offset_ns, r.drift_ppb);
                        if r.noise_ns > 0 || r.sync.is_some() {
                            let rng =
                                crate::rng::stream(seed, crate::rng::Concern::Clocks, i as u32);
                            c.with_rng(r.noise_ns, rng)
                        } else {
                            c
                        }
                    },
                    timer_gen: Vec::new(),
                    cfg,
                }
            })
            .collect();
        Engine {
            sc,
            now: SimTime::ZERO,
            queue: EventQueue::new(),
            nodes,
            slab: Vec::with_capacity(1024),
            free: Vec::new(),
            in_flight: 0,
            net: Network::new(&sc.network, n, seed),
            workload: Workload::new(&sc.workload, seed),
            obs,
            trace,
            outbox: Outbox {
                actions: Vec::with_capacity(256),
            },
            phase: Phase::Running,
            counts: EventCounts::default(),
            active_partition: None,
            crashable: sc.backup.is_some()
                || sc.faults.iter().any(|f| {
                    matches!(
                        f.action,
                        FaultAction::Crash { .. } | FaultAction::RegionLoss { .. }
                    )
                }),
            heals: Vec::new(),
            crashes: Vec::new(),
            faults: Vec::new(),
            sequence: Vec::new(),
            sequence_truncated: 0,
            effects: vec![0; sc.faults.len()],
            crash_fault: vec![None; n],
            service: sc.service.clone().map(|m| {
                let rngs = (0..n)
                    .map(|i| crate::rng::stream(seed, crate::rng::Concern::Service, i as u32))
                    .collect();
                (m, rngs)
            }),
            queued_inputs: 0,
            service_stats: vec![ServiceStats::default(); n],
            clock_stats: vec![ClockStats::default(); n],
            clients: Clients::new(sc, seed),
            starts: vec![0; n],
            lost: vec![false; n],
            rebuilding: vec![false; n],
            backups: (0..n).map(|_| Vec::new()).collect(),
        }
    }

    fn local_now(&mut self, r: RegionId) -> Now {
        let (mono, wall) = self.nodes[r.idx()].clock.read(self.now);
        Now { mono, wall }
    }

    /// Runs to the end of the quiesce phase.
    pub fn run(mut self, progress: Option<Progress>, limits: Limits) -> RunOutput<O> {
        let end = self.start();
        let (drained, stopped) = self.event_loop(end, progress, limits);
        self.finish(drained, stopped)
    }

    /// Starts every replica and schedules the first events: client arrivals, faults, clock
    /// polls, backups and the end of the run (at the returned time).
    fn start(&mut self) -> SimTime {
        let n = self.sc.n();
        let end = SimTime(self.sc.duration.0);
        for i in 0..n {
            self.start_replica(RegionId(i as u16), false);
        }
        for i in 0..n {
            let r = RegionId(i as u16);
            if let Some(t) = self.workload.next_arrival(r, SimTime::ZERO) {
                if t < end {
                    self.queue.push(t, Event::Client(r));
                }
            }
        }
        for (i, f) in self.sc.faults.iter().enumerate() {
            self.queue.push(f.at, Event::Fault(i as u32));
        }
        for (i, reg) in self.sc.regions.iter().enumerate() {
            if let Some(s) = reg.sync {
                // Daemons started together would poll in lockstep; stagger the first polls
                // across one interval.
                let first = s.interval_ns * (i as u64 + 1) / n as u64;
                self.queue
                    .push(SimTime(first), Event::ClockSync(RegionId(i as u16)));
            }
        }
        if let Some(b) = self.sc.backup {
            if SimTime(b.every.0) < end {
                self.queue.push(SimTime(b.every.0), Event::Backup);
            }
        }
        self.queue.push(end, Event::EndOfRun);
        end
    }

    /// The loop: pops events in `(time, seq)` order until the run has drained after `end`, the
    /// quiesce limit passes, or a [`Limits`] bound stops it. Returns (drained, stopped).
    fn event_loop(
        &mut self,
        end: SimTime,
        mut progress: Option<Progress>,
        limits: Limits,
    ) -> (bool, Option<Stopped>) {
        let hard_end = end + self.sc.quiesce_limit;
        let mut processed: u64 = 0;
        let mut stopped = None;
        while let Some((t, _seq, ev)) = self.queue.pop() {
            if t > hard_end {
                break;
            }
            self.now = t;
            match ev {
                Event::Client(r) => self.on_client(r, end),
                Event::Deliver(slot) => self.on_deliver(slot),
                Event::Timer { region, id, gen } => self.on_timer(region, id, gen),
                Event::Fault(i) => self.on_fault(i as usize),
                Event::FaultEnd(i) => self.on_fault_end(i as usize),
                Event::Served { region, gen } => self.on_served(region, gen),
                Event::RerouteOp(i) => self.on_reroute_op(i),
                Event::RerouteReply(i) => self.on_reroute_reply(i),
                Event::Retry(i) => self.on_retry(i),
                Event::ClockSync(r) => self.on_clock_sync(r),
                Event::Backup => self.on_backup(end),
                Event::Rebuild(r) => self.rebuild(r),
                Event::EndOfRun => self.on_end_of_run(),
            }
            processed += 1;
            // Limits are checked with the progress report, every 65,536 events, so the hot loop
            // pays one mask test per event and nothing more.
            if processed & 0xffff == 0 {
                if let Some(p) = progress.as_mut() {
                    p(self.now, processed);
                }
                stopped = limits.exceeded(processed, self.now);
                if stopped.is_some() {
                    break;
                }
            }
            if self.phase == Phase::Quiesce && self.drained() && self.clients.idle() {
                break;
            }
        }
        // However the loop ended, the run has drained if nothing is left in flight (client
        // retries and reroutes still waiting do not count once the loop is over).
        (self.phase == Phase::Quiesce && self.drained(), stopped)
    }

    /// No message in flight, no input queued, and every replica up and quiescent.
    #[inline]
    fn drained(&self) -> bool {
        self.in_flight == 0 && self.queued_inputs == 0 && self.all_quiescent()
    }

    /// What the run produced: final digests, divergence, views and everything recorded.
    fn finish(mut self, drained: bool, stopped: Option<Stopped>) -> RunOutput<O> {
        let region_digests = self
            .nodes
            .iter()
            .map(|nd| nd.replica.as_ref().map(|r| r.state_digest()))
            .collect();
        let (divergent_keys, first_divergent_key) = self.divergence();
        let (final_views, view_mismatch) = self.final_views();
        self.obs.run_ended(
            self.nodes.iter().filter_map(|nd| nd.replica.as_ref()),
            self.now,
        );
        for (st, nd) in self.clock_stats.iter_mut().zip(&self.nodes) {
            st.final_error_ns = nd.clock.error_ns(self.now);
        }
        let (trace_digest, trace_error) = self.trace.finish();
        RunOutput {
            stopped,
            final_views,
            view_mismatch,
            observer: self.obs,
            counts: self.counts,
            trace_digest,
            trace_error,
            end: self.now,
            drained,
            region_digests,
            divergent_keys,
            first_divergent_key,
            heals: self.heals,
            crashes: self.crashes,
            faults: self.faults,
            sequence: self.sequence,
            sequence_truncated: self.sequence_truncated,
            effects: self.effects,
            service: self.service.is_some().then_some(self.service_stats),
            clocks: self.clock_stats,
        }
    }

    fn all_quiescent(&self) -> bool {
        self.nodes
            .iter()
            .all(|nd| nd.replica.as_ref().is_some_and(|r| r.is_quiescent()))
    }

    /// Starts region `r`'s replica from its disk; `rebuilt`: the disk is a restored image (or
    /// empty) after a region loss, and the replica takes an incarnation newer than any before.
    #[cold]
    #[inline(never)]
    fn start_replica(&mut self, r: RegionId, rebuilt: bool) {
        self.starts[r.idx()] += 1;
        let starts = self.starts[r.idx()];
        let node = &mut self.nodes[r.idx()];
        let replica = if rebuilt {
            R::rebuild(&node.cfg, &node.durable, starts + 1)
        } else {
            R::recover(&node.cfg, &node.durable)
        };
        self.obs.replica_started(r, &replica, self.now);
        node.replica = Some(replica);
        self.dispatch(r, |rep, now, out| rep.on_start(now, out));
    }

    fn on_deliver(&mut self, slot: u32) {
        let env = self.slab[slot as usize].take().expect("live slot");
        self.free.push(slot);
        if !env.msg.is_background() {
            self.in_flight -= 1;
        }
        self.counts.deliveries += 1;
        let (from, to) = (env.from, env.to);
        if env.seq != NOT_RECORDED {
            let rec = &mut self.sequence[env.seq as usize];
            if self.nodes[to.idx()].replica.is_none() {
                rec.dropped = Some(DropReason::Crashed);
            } else if !self.net.connected(from, to) {
                rec.dropped = Some(DropReason::Partition);
            } else {
                rec.recv = Some(self.now);
            }
        }
        if self.nodes[to.idx()].replica.is_none() {
            if let Some(f) = self.crash_fault[to.idx()] {
                self.effects[f] += 1;
            }
            self.obs.dropped(from, to, DropReason::Crashed);
            self.trace.drop(self.now, from, to, DropReason::Crashed);
            return;
        }
        if !self.net.connected(from, to) {
            // The link was cut while the message was in flight.
            if let Some(p) = self.active_partition {
                self.effects[p as usize] += 1;
            }
            self.obs.dropped(from, to, DropReason::Partition);
            self.trace.drop(self.now, from, to, DropReason::Partition);
            return;
        }
        self.obs.delivered(from, to);
        self.trace.deliver(self.now, from, to, &env.msg);
        if self.service.is_some() && !env.msg.work().is_none() {
            self.enqueue(to, Input::Msg(from, env.msg));
            return;
        }
        self.dispatch(to, |rep, now, out| rep.on_message(now, from, env.msg, out));
    }

    fn on_timer(&mut self, r: RegionId, id: TimerId, gen: u32) {
        let node = &self.nodes[r.idx()];
        if node.replica.is_none() || node.timer_gen.get(id.0 as usize) != Some(&gen) {
            return; // cancelled, moved, or its region crashed
        }
        self.counts.timers += 1;
        self.trace.timer(self.now, r, id);
        self.dispatch(r, |rep, now, out| rep.on_timer(now, id, out));
    }

    /// Hands one input to live replica `r` (with its local clock readings) and carries out the
    /// actions it asked for.
    #[inline]
    fn dispatch(
        &mut self,
        r: RegionId,
        input: impl FnOnce(&mut R, Now, &mut Outbox<R::Msg, <R::Durable as Durable>::Op>),
    ) {
        let now = self.local_now(r);
        let mut out = std::mem::take(&mut self.outbox);
        input(
            self.nodes[r.idx()]
                .replica
                .as_mut()
                .expect("dispatch to a live replica"),
            now,
            &mut out,
        );
        self.outbox = out;
        self.apply_actions(r);
    }

    /// Carries out what replica `r` asked for in its last input.
    fn apply_actions(&mut self, r: RegionId) {
        let mut out = std::mem::take(&mut self.outbox);
        for a in out.actions.drain(..) {
            match a {
                Action::Send { to, msg } => self.send(r, to, msg),
                Action::SetTimer { id, at } => {
                    let node = &mut self.nodes[r.idx()];
                    let gen = bump(&mut node.timer_gen, id);
                    let t = node.clock.sim_time_at(at).max(self.now);
                    self.queue.push(t, Event::Timer { region: r, id, gen });
                }
                Action::CancelTimer { id } => {
                    bump(&mut self.nodes[r.idx()].timer_gen, id);
                }
                Action::Reply(reply) => self.reply(r, reply),
                // Disk contents are read only when a crashed region restarts; in a run that
                // can never crash one, keeping them is unobservable work and is skipped.
                Action::Persist(op) => {
                    if self.crashable {
                        self.nodes[r.idx()].unsynced.push(op)
                    }
                }
                Action::Sync => {
                    let node = &mut self.nodes[r.idx()];
                    for op in node.unsynced.drain(..) {
                        node.durable.apply(op);
                    }
                }
                Action::Note(note) => self.obs.note(r, note, self.now),
            }
        }
        self.outbox = out;
    }

    fn send(&mut self, from: RegionId, to: RegionId, msg: R::Msg) {
        let bytes = msg.wire_bytes();
        self.obs
            .sent(from, to, bytes, msg.is_retransmission(), msg.class());
        let outcome = self.net.send(self.now, from, to, bytes, msg.class());
        // Attribute the message to the fault that shaped its fate, if any (only faulty runs pay).
        if !self.effects.is_empty() {
            if let Some(d) = self.net.degradation(from, to) {
                self.effects[d] += 1;
            } else if matches!(outcome, SendOutcome::Dropped(DropReason::Partition)) {
                if let Some(p) = self.active_partition {
                    self.effects[p as usize] += 1;
                }
            }
        }
        let seq = self.record_send(from, to, &msg, &outcome);
        match outcome {
            SendOutcome::Dropped(reason) => {
                self.obs.dropped(from, to, reason);
                self.trace.drop(self.now, from, to, reason);
            }
            SendOutcome::Arrives { at, duplicate_at } => {
                if let Some(dup_at) = duplicate_at {
                    self.obs.duplicated(from, to);
                    let slot = self.alloc(Envelope {
                        from,
                        to,
                        msg: msg.clone(),
                        seq: NOT_RECORDED,
                    });
                    self.queue.push(dup_at, Event::Deliver(slot));
                }
                let slot = self.alloc(Envelope { from, to, msg, seq });
                if self.sc.network.fifo {
                    // Arrivals on a FIFO link are already in order: let the link queue them.
                    let link = from.idx() * self.sc.n() + to.idx();
                    self.queue.push_fifo(link, at, Event::Deliver(slot));
                } else {
                    self.queue.push(at, Event::Deliver(slot));
                }
            }
        }
    }

    /// Records a send in the sequence window if it falls inside it; returns its index.
    #[inline]
    fn record_send(
        &mut self,
        from: RegionId,
        to: RegionId,
        msg: &R::Msg,
        outcome: &SendOutcome,
    ) -> u32 {
        let (start, end, key) = self.sc.sequence_window;
        if self.now < start || self.now >= end || key.is_some_and(|k| !msg.carries_key(Key(k))) {
            return NOT_RECORDED;
        }
        if self.sequence.len() >= crate::series::MAX_SEQ {
            self.sequence_truncated += 1;
            return NOT_RECORDED;
        }
        self.sequence.push(SeqRecord {
            from,
            to,
            kind: msg.kind(),
            sent: self.now,
            recv: None,
            dropped: match outcome {
                SendOutcome::Dropped(r) => Some(*r),
                SendOutcome::Arrives { .. } => None,
            },
        });
        (self.sequence.len() - 1) as u32
    }

    fn alloc(&mut self, env: Envelope<R::Msg>) -> u32 {
        if !env.msg.is_background() {
            self.in_flight += 1;
        }
        match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(env);
                s
            }
            None => {
                self.slab.push(Some(env));
                (self.slab.len() - 1) as u32
            }
        }
    }

    /// A time daemon's poll: corrects the region's wall clock and schedules the next poll (the
    /// run ends without waiting for them).
    #[cold]
    #[inline(never)]
    fn on_clock_sync(&mut self, r: RegionId) {
        let Some(sync) = self.sc.regions[r.idx()].sync else {
            return;
        };
        let clock = &mut self.nodes[r.idx()].clock;
        let before = clock.error_ns(self.now);
        let c = clock.sync(self.now, &sync);
        let (by, stepped) = match c {
            clock::Correction::Stepped(by) => (by, true),
            clock::Correction::Slewing(by) => (by, false),
        };
        self.trace.clock(self.now, r, by, stepped);
        let st = &mut self.clock_stats[r.idx()];
        st.polls += 1;
        st.steps += stepped as u64;
        st.max_error_ns = st.max_error_ns.max(before.unsigned_abs());
        self.obs.clock_error(r, before, self.now);
        self.queue
            .push(self.now + Span(sync.interval_ns), Event::ClockSync(r));
    }

    /// Every live region snapshots its durable state and uploads it to the store.
    #[cold]
    #[inline(never)]
    fn on_backup(&mut self, end: SimTime) {
        let Some(b) = self.sc.backup else {
            return;
        };
        if self.phase == Phase::Running && self.now + b.every < end {
            self.queue.push(self.now + b.every, Event::Backup);
        }
        let per_cell = 32 + self.sc.workload.value_bytes as u64;
        for i in 0..self.nodes.len() {
            let Some(rep) = self.nodes[i].replica.as_ref() else {
                continue;
            };
            let bytes = rep.cells().count() as u64 * per_cell;
            let lat = self.sc.workload.nominal[i * self.sc.n() + b.store.idx()];
            let stored = self.now + b.transfer(bytes, lat);
            let image = self.nodes[i].durable.clone();
            let now = self.now;
            let list = &mut self.backups[i];
            // Keep the newest complete snapshot and the ones still uploading.
            if let Some(k) = list.iter().rposition(|(_, s, _, _)| *s <= now) {
                list.drain(..k);
            }
            list.push((now, stored, bytes, image));
        }
    }
}

fn bump(gens: &mut Vec<u32>, id: TimerId) -> u32 {
    let i = id.0 as usize;
    if gens.len() <= i {
        gens.resize(i + 1, 0);
    }
    gens[i] = gens[i].wrapping_add(1);
    gens[i]
}
