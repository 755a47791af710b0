//! The clients: what the simulation needs to remember about operations in progress.
//!
//! A client issues an operation to its home region, or, once its health check has given up on
//! that region (`reroute_after`), to the nearest healthy one, paying the trip both ways. A
//! failed operation is retried after a backoff while the retry policy allows. The state this
//! takes (outstanding reads and writes, which try each is on, rerouted operations and replies in
//! flight, retries waiting out their backoff) lives here, owned by the engine: observers see the
//! same moments as events but are never asked what to do next.

use super::observe::Observe;
use super::workload::Workload;
use super::{Engine, Event, Input, Phase};
use crate::replica::{ClientOp, Key, Level, OpId, RegionId, Replica, Reply, Work};
use crate::rng::SimRng;
use crate::scenario::{Retry, Scenario};
use crate::time::{SimTime, Span};
use std::collections::BTreeMap;

/// Client-side state of operations in progress (see the module docs).
pub(super) struct Clients {
    retry: Option<Retry>,
    reroute_after: Option<Span>,
    /// Per region: down since (for client rerouting).
    down_since: Vec<Option<SimTime>>,
    /// Per region: since when its health endpoint has said it cannot take writes.
    unhealthy_since: Vec<Option<SimTime>>,
    /// Rerouted operations in flight to their region, by event number: (region, op).
    rerouted_ops: BTreeMap<u32, (RegionId, ClientOp)>,
    /// Rerouted operations awaiting a reply: op -> client home region.
    rerouted: BTreeMap<OpId, RegionId>,
    /// Replies on their way back to rerouted clients, by event number: (home region, reply).
    rerouted_replies: BTreeMap<u32, (RegionId, Reply)>,
    /// Event numbers for reroutes and retries (one counter for both).
    seq: u32,
    /// Retries waiting out their backoff, by event number: (home region, op).
    retry_queue: BTreeMap<u32, (RegionId, ClientOp)>,
    /// Which try each retried operation in progress is on (2 for the first retry).
    attempt: BTreeMap<OpId, u32>,
    /// Per home region: the clients' jitter stream.
    retry_rng: Vec<SimRng>,
    /// With retries only: reads in progress (key, level), to send them again.
    reads: BTreeMap<OpId, (Key, Level)>,
    /// With retries only: every write by id (write ids are dense), to send it again.
    writes: Vec<ClientOp>,
}

impl Clients {
    pub(super) fn new(sc: &Scenario, seed: u64) -> Clients {
        let n = sc.n();
        Clients {
            retry: sc.workload.retry,
            reroute_after: sc.workload.reroute_after,
            down_since: vec![None; n],
            unhealthy_since: vec![None; n],
            rerouted_ops: BTreeMap::new(),
            rerouted: BTreeMap::new(),
            rerouted_replies: BTreeMap::new(),
            seq: 0,
            retry_queue: BTreeMap::new(),
            attempt: BTreeMap::new(),
            retry_rng: match sc.workload.retry {
                Some(_) => (0..n)
                    .map(|i| crate::rng::stream(seed, crate::rng::Concern::Retry, i as u32))
                    .collect(),
                None => Vec::new(),
            },
            reads: BTreeMap::new(),
            writes: Vec::new(),
        }
    }

    /// Nothing client-side is in flight: no rerouted operation or reply, no pending retry.
    pub(super) fn idle(&self) -> bool {
        self.rerouted_ops.is_empty()
            && self.rerouted_replies.is_empty()
            && self.retry_queue.is_empty()
    }

    /// A client issued `op` for the first time.
    #[inline]
    fn issued(&mut self, op: &ClientOp) {
        if self.retry.is_none() {
            return;
        }
        match *op {
            ClientOp::Write { op: id, .. } => {
                debug_assert_eq!(id.0, self.writes.len() as u64);
                self.writes.push(*op);
            }
            ClientOp::Read { op, key, level } => {
                self.reads.insert(op, (key, level));
            }
        }
    }

    /// Operation `op` is over (answered, or failed for good).
    #[inline]
    fn done(&mut self, op: OpId) {
        if !self.attempt.is_empty() {
            self.attempt.remove(&op);
        }
        if self.retry.is_some() && op.is_read() {
            self.reads.remove(&op);
        }
    }

    /// Region `r` crashed at `now`: its clients' health checks start counting.
    pub(super) fn region_down(&mut self, r: RegionId, now: SimTime) {
        self.down_since[r.idx()] = Some(now);
    }

    pub(super) fn region_up(&mut self, r: RegionId) {
        self.down_since[r.idx()] = None;
    }

    /// If `op` was rerouted, forgets that and returns its client's home region.
    #[inline]
    pub(super) fn take_reroute(&mut self, op: OpId) -> Option<RegionId> {
        self.rerouted.remove(&op)
    }

    /// The next event number for a reroute or a retry.
    fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Whether operation `id` of a client at `r` gets another try, and if so after how long and
    /// as which operation (a retried write is a new write, with a new id from `workload`).
    fn retry(
        &mut self,
        r: RegionId,
        id: OpId,
        workload: &mut Workload,
    ) -> Option<(Span, ClientOp)> {
        let retry = self.retry?;
        let tries = self.attempt.remove(&id).unwrap_or(1);
        if tries >= retry.attempts || (id.is_read() && !self.reads.contains_key(&id)) {
            return None;
        }
        let base = retry.backoff(tries).0;
        let wait = if retry.jitter {
            // Full jitter: uniform in [0, base] (the modulo bias is below 2^-20).
            use rand::Rng;
            self.retry_rng[r.idx()].next_u64() % (base + 1)
        } else {
            base
        };
        let op = if id.is_read() {
            let (key, level) = self.reads[&id];
            ClientOp::Read { op: id, key, level }
        } else {
            let new = workload.new_write_id();
            let mut op = self.writes[id.0 as usize];
            if let ClientOp::Write { op: o, .. } = &mut op {
                *o = new;
            }
            debug_assert_eq!(new.0, self.writes.len() as u64);
            self.writes.push(op);
            op
        };
        self.attempt.insert(op_id(&op), tries + 1);
        Some((Span(wait), op))
    }
}

/// The id of a client operation.
#[inline]
pub(super) fn op_id(op: &ClientOp) -> OpId {
    match *op {
        ClientOp::Write { op, .. } | ClientOp::Read { op, .. } => op,
    }
}

impl<R: Replica, O: Observe> Engine<'_, R, O> {
    /// A client of region `r` issues its next operation (and the next arrival is scheduled).
    pub(super) fn on_client(&mut self, r: RegionId, end: SimTime) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(t) = self.workload.next_arrival(r, self.now) {
            if t < end {
                self.queue.push(t, Event::Client(r));
            }
        }
        let op = self.workload.next_op(r);
        self.counts.client_ops += 1;
        let (id, key, is_write) = match op {
            ClientOp::Write { op, key, .. } => (op, key, true),
            ClientOp::Read { op, key, .. } => (op, key, false),
        };
        self.trace.client(self.now, r, id, key, is_write);
        self.obs.op_issued(r, &op, self.now);
        self.clients.issued(&op);
        self.submit(r, op);
    }

    /// A client of region `r` sends `op`: to its region, or, once the health check has given
    /// up on that region, to the nearest healthy one.
    pub(super) fn submit(&mut self, r: RegionId, op: ClientOp) {
        let id = op_id(&op);
        let up = match &self.nodes[r.idx()].replica {
            None => false,
            Some(rep) => {
                if self.clients.reroute_after.is_some() {
                    let unhealthy = &mut self.clients.unhealthy_since[r.idx()];
                    if rep.serves_writes() {
                        *unhealthy = None;
                    } else if unhealthy.is_none() {
                        *unhealthy = Some(self.now);
                    }
                }
                true
            }
        };
        if let Some(t) = self.reroute_target(r) {
            // The client's health check has given up on its region: it goes to the nearest
            // healthy region, paying the trip there (and back for the answer).
            self.clients.rerouted.insert(id, r);
            let lat = self.sc.workload.nominal[r.idx() * self.sc.n() + t.idx()];
            let i = self.clients.next_seq();
            self.clients.rerouted_ops.insert(i, (t, op));
            self.queue.push(self.now + Span(lat), Event::RerouteOp(i));
            return;
        }
        if !up {
            if let Some(f) = self.crash_fault[r.idx()] {
                self.effects[f] += 1;
            }
            self.trace.reply(self.now, r, &Reply::Failed { op: id });
            self.client_failed(r, id);
            return;
        }
        if self.service.is_some() {
            let work = self.nodes[r.idx()]
                .replica
                .as_ref()
                .map_or(Work::NONE, |rep| rep.client_work(&op));
            if !work.is_none() {
                self.enqueue(r, Input::Client(op));
                return;
            }
        }
        self.dispatch(r, |rep, now, out| rep.on_client_op(now, op, out));
    }

    /// Operation `id` of a client in region `r` failed: it is retried after a backoff if the
    /// policy allows another try, otherwise the failure is final.
    #[cold]
    #[inline(never)]
    pub(super) fn client_failed(&mut self, r: RegionId, id: OpId) {
        if self.phase == Phase::Running {
            if let Some((wait, op)) = self.clients.retry(r, id, &mut self.workload) {
                match op {
                    ClientOp::Write { op: new, .. } => self.obs.write_retried(id, new),
                    ClientOp::Read { .. } => self.obs.read_retried(id),
                }
                let i = self.clients.next_seq();
                self.clients.retry_queue.insert(i, (r, op));
                self.queue.push(self.now + wait, Event::Retry(i));
                return;
            }
        }
        self.clients.done(id);
        self.obs.op_failed(r, id, self.now);
    }

    /// A retry's backoff has passed: the client sends the operation again.
    #[cold]
    #[inline(never)]
    pub(super) fn on_retry(&mut self, i: u32) {
        let (r, op) = self.clients.retry_queue.remove(&i).expect("live retry");
        let (id, key, is_write) = match op {
            ClientOp::Write { op, key, .. } => (op, key, true),
            ClientOp::Read { op, key, .. } => (op, key, false),
        };
        self.trace.client(self.now, r, id, key, is_write);
        self.submit(r, op);
    }

    /// Where region `r`'s clients go while `r` is down, if they have been rerouted.
    fn reroute_target(&self, r: RegionId) -> Option<RegionId> {
        let after = self.clients.reroute_after?;
        let since = self.clients.down_since[r.idx()].or(self.clients.unhealthy_since[r.idx()])?;
        if self.now < since + after {
            return None;
        }
        self.sc.plan.nearest[r.idx()].iter().copied().find(|&t| {
            t != r
                && self.nodes[t.idx()]
                    .replica
                    .as_ref()
                    .is_some_and(|rep| rep.serves_writes())
        })
    }

    /// A rerouted operation reaches the region it was sent to.
    #[cold]
    #[inline(never)]
    pub(super) fn on_reroute_op(&mut self, i: u32) {
        let (t, op) = self.clients.rerouted_ops.remove(&i).expect("live reroute");
        let id = op_id(&op);
        if self.nodes[t.idx()].replica.is_none() {
            // That region went down too on the way.
            let home = self.clients.take_reroute(id).expect("rerouted op");
            self.client_failed(home, id);
            return;
        }
        self.dispatch(t, |rep, now, out| rep.on_client_op(now, op, out));
    }

    /// Region `r` answered `reply`: it goes to the client, by the long way back if the
    /// operation was rerouted.
    #[inline]
    pub(super) fn reply(&mut self, r: RegionId, reply: Reply) {
        let op = match reply {
            Reply::WriteOk { op, .. } | Reply::ReadOk { op, .. } | Reply::Failed { op } => op,
        };
        if let Some(home) = self.clients.take_reroute(op) {
            let lat = self.sc.workload.nominal[r.idx() * self.sc.n() + home.idx()];
            let i = self.clients.next_seq();
            self.clients.rerouted_replies.insert(i, (home, reply));
            self.queue
                .push(self.now + Span(lat), Event::RerouteReply(i));
            return;
        }
        self.client_hears(r, reply);
    }

    /// The answer to a rerouted operation reaches its client.
    #[cold]
    #[inline(never)]
    pub(super) fn on_reroute_reply(&mut self, i: u32) {
        let (home, reply) = self
            .clients
            .rerouted_replies
            .remove(&i)
            .expect("live reply");
        self.client_hears(home, reply);
    }

    /// A reply reaches its client in region `r`.
    fn client_hears(&mut self, r: RegionId, reply: Reply) {
        self.trace.reply(self.now, r, &reply);
        let op = match reply {
            Reply::Failed { op } => return self.client_failed(r, op),
            Reply::WriteOk { op, .. } | Reply::ReadOk { op, .. } => op,
        };
        self.clients.done(op);
        self.obs.op_answered(r, reply, self.now);
    }
}
