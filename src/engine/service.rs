//! Service times: replicas that take time to apply writes and serve reads handle one input at a
//! time, so inputs queue behind each other (and a crash loses the queue).

use super::{Engine, Event, Input, Observe};
use crate::replica::{RegionId, Replica, WireMessage, Work};
use crate::time::Span;

/// One region's service queue over the run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct ServiceStats {
    pub writes: u64,
    pub reads: u64,
    /// Time spent serving.
    pub busy_ns: u64,
    /// Sum and maximum of the time inputs waited before their service began.
    pub wait_ns_sum: u64,
    pub wait_ns_max: u64,
    pub inputs: u64,
    pub max_queue: u64,
}

impl<R: Replica, O: Observe> Engine<'_, R, O> {
    /// Queues an input for region `r`'s replica; it starts service at once if the replica is idle.
    #[inline(never)]
    pub(super) fn enqueue(&mut self, r: RegionId, input: Input<R::Msg>) {
        self.queued_inputs += 1;
        let node = &mut self.nodes[r.idx()];
        node.serving.push_back((input, self.now));
        let len = node.serving.len() as u64;
        let st = &mut self.service_stats[r.idx()];
        st.max_queue = st.max_queue.max(len);
        if len == 1 {
            self.start_service(r);
        }
    }

    /// Draws the service time of the input at the head of `r`'s queue and schedules its end.
    #[inline(never)]
    fn start_service(&mut self, r: RegionId) {
        let Some((model, rngs)) = self.service.as_mut() else {
            return;
        };
        let node = &self.nodes[r.idx()];
        let Some((input, arrived)) = node.serving.front() else {
            return;
        };
        let work = match (input, node.replica.as_ref()) {
            (Input::Client(op), Some(rep)) => rep.client_work(op),
            (Input::Msg(_, m), _) => m.work(),
            _ => Work::NONE,
        };
        let rng = &mut rngs[r.idx()];
        let mut t = 0u64;
        if let Some(w) = &model.write[r.idx()] {
            for _ in 0..work.writes {
                t = t.saturating_add(w.sample(rng));
            }
        }
        if let Some(rd) = &model.read[r.idx()] {
            for _ in 0..work.reads {
                t = t.saturating_add(rd.sample(rng));
            }
        }
        let st = &mut self.service_stats[r.idx()];
        st.writes += work.writes as u64;
        st.reads += work.reads as u64;
        st.inputs += 1;
        st.busy_ns += t;
        let wait = self.now.saturating_since(*arrived).0;
        st.wait_ns_sum += wait;
        st.wait_ns_max = st.wait_ns_max.max(wait);
        let gen = node.serve_gen;
        self.queue
            .push(self.now + Span(t), Event::Served { region: r, gen });
    }

    #[inline(never)]
    pub(super) fn on_served(&mut self, r: RegionId, gen: u32) {
        let node = &mut self.nodes[r.idx()];
        if node.serve_gen != gen || node.replica.is_none() {
            return;
        }
        let Some((input, _)) = node.serving.pop_front() else {
            return;
        };
        self.queued_inputs -= 1;
        match input {
            Input::Client(op) => self.dispatch(r, |rep, now, out| rep.on_client_op(now, op, out)),
            Input::Msg(from, msg) => {
                self.dispatch(r, |rep, now, out| rep.on_message(now, from, msg, out))
            }
        }
        if self.nodes[r.idx()].replica.is_some() && !self.nodes[r.idx()].serving.is_empty() {
            self.start_service(r);
        }
    }
}
