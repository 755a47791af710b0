//! What a replica keeps on durable storage, and the operations that change it.

use super::{Entry, EntryId, Fence, SeqSet};
use crate::replica::data::Data;
use crate::replica::{Cell, Durable, Key, RegionId};
use std::collections::VecDeque;
use std::sync::Arc;

/// Which entries of each origin a replica has applied, per origin epoch.
/// Epochs are few (one per restart) and the newest is almost always the one asked for, so a
/// short list searched from the back beats a map.
pub(super) type Seen = Vec<Vec<(u32, SeqSet)>>;

pub(super) fn seq_set(per_origin: &mut Vec<(u32, SeqSet)>, epoch: u32) -> &mut SeqSet {
    match per_origin.iter().rposition(|(e, _)| *e == epoch) {
        Some(i) => &mut per_origin[i].1,
        None => {
            per_origin.push((epoch, SeqSet::default()));
            &mut per_origin.last_mut().expect("just pushed").1
        }
    }
}

/// Removes the first `k` items (or all, if fewer). Acks usually settle one or two entries, and
/// popping those costs a fraction of a `drain`, whose drop must stitch the ring back together.
pub(super) fn drop_front<T>(q: &mut VecDeque<T>, k: usize) {
    if k >= q.len() {
        q.clear();
    } else {
        for _ in 0..k {
            q.pop_front();
        }
    }
}

/// What survives a crash.
#[derive(Clone, Debug, Default)]
pub struct Disk {
    pub epoch: u32,
    pub own_seq: u64,
    pub cells: Vec<Cell>,
    /// Per key of a table with data: its value (merging policies) or whole value (others).
    pub data: Vec<Option<Arc<Data>>>,
    /// Per outgoing link: entries not yet acknowledged by that peer.
    pub links: Vec<VecDeque<Entry>>,
    pub seen: Seen,
    /// Per sender: (sender epoch, transport position received contiguously).
    pub recv: Vec<(u32, u64)>,
    /// Failover: the current term and this region's vote in it.
    pub term: u64,
    pub voted: Option<RegionId>,
    /// Failover: the primary stream followed (term, origin, epoch).
    pub stream: (u64, RegionId, u32),
    /// Failover: the cuts of the history this region knows. A restarted region that wins an
    /// election publishes its fences as the history's, so forgetting one would let the writes
    /// it cut off back in.
    pub fences: Arc<Vec<Fence>>,
    /// A state transfer not yet complete: the peers still owing an answer, and whether it is
    /// this region's rebuild (not a catch-up from a rebuilt relay).
    pub restore: Option<(u64, bool)>,
    /// A rebuilt relay: the regions it has not yet heard ask for its state.
    pub relay_owed: u64,
    /// Per origin: its entries received from it that it had not yet announced durable (the
    /// orphans this region relays back if the origin restarts without them, even if this
    /// region restarted meanwhile).
    pub retained: Vec<VecDeque<Entry>>,
}

#[derive(Clone, Debug)]
pub enum Op {
    Epoch(u32),
    OwnSeq(u64),
    Cell(Key, Cell),
    Data(Key, Arc<Data>),
    Append(RegionId, Entry),
    TruncateFront(RegionId, usize),
    Seen(EntryId),
    Recv(RegionId, u32, u64),
    Term(u64, Option<RegionId>),
    Stream(u64, RegionId, u32),
    Fences(Arc<Vec<Fence>>),
    SeenUpto(RegionId, u32, u64),
    Restore(Option<(u64, bool)>, u64),
    /// Retain an entry of this origin (it is not yet durable there).
    Retain(RegionId, Entry),
    /// Stop retaining the first `k` entries of this origin.
    Release(RegionId, usize),
}

impl Durable for Disk {
    type Op = Op;
    fn apply(&mut self, op: Op) {
        match op {
            Op::Epoch(e) => {
                self.epoch = e;
                self.own_seq = 0;
            }
            Op::OwnSeq(s) => self.own_seq = s,
            Op::Cell(k, c) => {
                let i = k.0 as usize;
                if self.cells.len() <= i {
                    self.cells.resize(i + 1, Cell::default_none());
                }
                self.cells[i] = c;
            }
            Op::Data(k, d) => {
                let i = k.0 as usize;
                if self.data.len() <= i {
                    self.data.resize(i + 1, None);
                }
                self.data[i] = Some(d);
            }
            Op::Append(p, e) => {
                if self.links.len() <= p.idx() {
                    self.links.resize_with(p.idx() + 1, VecDeque::new);
                }
                self.links[p.idx()].push_back(e)
            }
            Op::TruncateFront(p, k) => {
                if let Some(l) = self.links.get_mut(p.idx()) {
                    drop_front(l, k);
                }
            }
            Op::Seen(id) => {
                let o = id.origin.idx();
                if self.seen.len() <= o {
                    self.seen.resize_with(o + 1, Vec::new);
                }
                seq_set(&mut self.seen[o], id.epoch).insert(id.seq);
            }
            Op::Term(t, v) => {
                self.term = t;
                self.voted = v;
            }
            Op::Stream(t, o, e) => self.stream = (t, o, e),
            Op::Fences(f) => self.fences = f,
            Op::Restore(owed, relay) => {
                self.restore = owed;
                self.relay_owed = relay;
            }
            Op::SeenUpto(o, e, upto) => {
                if self.seen.len() <= o.idx() {
                    self.seen.resize_with(o.idx() + 1, Vec::new);
                }
                seq_set(&mut self.seen[o.idx()], e).advance_to(upto);
            }
            Op::Retain(o, e) => {
                if self.retained.len() <= o.idx() {
                    self.retained.resize_with(o.idx() + 1, VecDeque::new);
                }
                self.retained[o.idx()].push_back(e);
            }
            Op::Release(o, k) => {
                if let Some(q) = self.retained.get_mut(o.idx()) {
                    drop_front(q, k);
                }
            }
            Op::Recv(s, e, p) => {
                let i = s.idx();
                if self.recv.len() <= i {
                    self.recv.resize(i + 1, (0, 0));
                }
                self.recv[i] = (e, p);
            }
        }
    }
}
