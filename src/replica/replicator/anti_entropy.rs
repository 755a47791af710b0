//! Anti-entropy: periodic Merkle-tree comparison of the keys two regions share.

//!
//! [`AntiEntropy`] is a component: it owns the sessions, the round-robin over peers, the debt
//! of sessions owed to regions that missed given-up entries, and the Merkle tree cache. It
//! reads and repairs the local data only through [`AeStore`], and the replica wires it in
//! (routing its messages and timer, and making repairs durable).

use super::msg::{data_bytes, data_fingerprint, writes, RPC_BYTES};
use super::Out;
use super::{Msg, Replicator, Timer};
use crate::replica::data::Data;
use crate::replica::plan::Plan;
use crate::replica::{mix64, Note, Now, Stamp, TimerId};
use crate::replica::{Cell, Key, MsgClass, RegionId, WireMessage, Work};
use crate::time::Mono;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Anti-entropy: a Merkle-tree comparison session between two regions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AeMsg {
    /// Anti-entropy: the sender's Merkle hashes of tree `nodes` at `level` (0 = root), over the
    /// keys the two regions share. The receiver answers with the children of those that differ
    /// (or, at the leaves, with its cells there).
    Hashes {
        session: AeSession,
        level: u8,
        nodes: Vec<(u32, u64)>,
    },
    /// Anti-entropy: the sender's cells in leaf ranges that differ. With `reply`, the receiver
    /// sends back its own newer cells in the same ranges.
    Cells {
        session: AeSession,
        leaves: Vec<u32>,
        cells: Vec<(Key, Cell)>,
        /// The data of those keys whose tables keep data, by key.
        data: Vec<(Key, Arc<Data>)>,
        reply: bool,
        value_bytes: u32,
    },
    /// Anti-entropy: to the session's initiator, the session ended elsewhere after `round`
    /// (`in_sync`: the trees matched at the root).
    Done { session: AeSession, in_sync: bool },
}

impl WireMessage for AeMsg {
    fn wire_bytes(&self) -> u64 {
        match self {
            AeMsg::Hashes { nodes, .. } => RPC_BYTES + 4 + 12 * nodes.len() as u64,
            AeMsg::Cells {
                leaves,
                cells,
                data,
                value_bytes,
                ..
            } => {
                RPC_BYTES
                    + 4 * leaves.len() as u64
                    + cells.len() as u64 * (32 + *value_bytes as u64)
                    + data_bytes(data, *value_bytes)
            }
            AeMsg::Done { .. } => RPC_BYTES,
        }
    }

    fn class(&self) -> MsgClass {
        match self {
            AeMsg::Hashes { .. } | AeMsg::Cells { .. } | AeMsg::Done { .. } => {
                MsgClass::AntiEntropy
            }
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            AeMsg::Hashes { .. } => "ae-hashes",
            AeMsg::Cells { .. } => "ae-cells",
            AeMsg::Done { .. } => "ae-done",
        }
    }

    fn fingerprint(&self) -> u64 {
        match self {
            AeMsg::Hashes {
                session,
                level,
                nodes,
            } => {
                11 << 60
                    ^ (session.id as u64) << 24
                    ^ (*level as u64) << 16
                    ^ nodes
                        .iter()
                        .fold(0u64, |a, (i, h)| a.rotate_left(5) ^ h ^ *i as u64)
            }
            AeMsg::Cells {
                session,
                cells,
                data,
                ..
            } => {
                12 << 60
                    ^ (session.id as u64) << 24
                    ^ cells
                        .iter()
                        .fold(0u64, |a, (k, c)| a.rotate_left(5) ^ k.0 ^ c.value.0)
                    ^ data_fingerprint(data)
            }
            AeMsg::Done { session, .. } => {
                13 << 60 ^ (session.id as u64) << 24 ^ session.round as u64
            }
        }
    }

    fn work(&self) -> Work {
        match self {
            AeMsg::Cells { cells, .. } => writes(cells.len()),
            _ => Work::NONE,
        }
    }

    fn is_retransmission(&self) -> bool {
        false
    }

    fn carries_key(&self, _key: Key) -> bool {
        false
    }
}

/// Names an anti-entropy session (its initiator and number) and counts its messages so far.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct AeSession {
    pub initiator: RegionId,
    pub id: u32,
    pub round: u32,
}

impl AeSession {
    pub(super) fn next(self) -> AeSession {
        AeSession {
            round: self.round + 1,
            ..self
        }
    }
}

/// What anti-entropy asks of the local copy of the data.
pub(super) trait AeStore {
    /// The running digest of the whole state (unchanged digest, unchanged tree).
    fn digest(&self) -> u64;
    /// Every key's cell, by key index.
    fn cells(&self) -> &[Cell];
    /// A key's contribution to the digest.
    fn key_digest(&self, key: Key, c: &Cell) -> u64;
    fn cell(&self, key: Key) -> Cell;
    /// The data of those of `cells` whose tables keep data (shipped alongside them).
    fn data_for(&self, cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)>;
    /// Installs a value from a peer; true if anything changed.
    fn install(&mut self, key: Key, cell: Cell, data: Option<&Arc<Data>>, out: &mut Out) -> bool;
    /// Makes the values just installed durable (before anything is sent back).
    fn make_durable(&mut self, now: Now, out: &mut Out);
}

/// What a session needs to know of the replica running it.
#[derive(Clone, Copy)]
pub(super) struct AeCtx<'a> {
    pub(super) plan: &'a Plan,
    pub(super) me: RegionId,
    /// The id of the replica's anti-entropy timer.
    pub(super) timer: TimerId,
}

/// Anti-entropy: a Merkle tree per peer over the key ranges both hold, compared top down in
/// alternating messages, so only ranges that differ are descended into and only their cells
/// cross the network.
#[derive(Default)]
pub(super) struct AntiEntropy {
    /// Regions sharing at least one key with this one, in index order.
    pub(super) peers: Vec<RegionId>,
    /// Round-robin position in `peers`.
    next: usize,
    last_id: u32,
    /// Sessions this region started: id -> (peer, start).
    active: BTreeMap<u32, (RegionId, Mono)>,
    /// Regions that missed log entries this region gave up (the peer the link led to and every
    /// holder it would have relayed them to): a session with each is owed.
    pub(super) owed: u64,
    /// Per region, when a session with it was last owed: only a session started since then
    /// covers the entries given up.
    owed_at: Vec<Mono>,
    /// Peers that stopped acknowledging (repeated retransmission timeouts): hearing from one
    /// again is a heal, and starts a session at once.
    unreachable: u64,
    /// The last tree built.
    cache: Option<TreeCache>,
}

/// A Merkle tree and what it was built from.
struct TreeCache {
    /// The regions whose shared keys it covers (both bits), or `u64::MAX` for all keys.
    mask: u64,
    /// The state digest when it was built: an unchanged digest means an unchanged tree.
    digest: u64,
    /// Hashes per level, root first.
    levels: Arc<Vec<Vec<u64>>>,
    /// Keys with a value among those covered.
    shared: u64,
}

fn bit(r: RegionId) -> u64 {
    1u64 << r.0
}

impl AntiEntropy {
    /// The component of region `me` of `n`: its peers are the regions it shares a key with.
    pub(super) fn new(plan: &Plan, me: RegionId, n: usize) -> AntiEntropy {
        AntiEntropy {
            peers: match &plan.anti_entropy {
                None => Vec::new(),
                Some(_) => (0..n)
                    .filter(|&p| p != me.idx())
                    .filter(|&p| {
                        let both = (1u64 << p) | (1u64 << me.0);
                        match &plan.holders {
                            None => true,
                            Some(h) => h.iter().any(|m| m & both == both),
                        }
                    })
                    .map(|p| RegionId(p as u16))
                    .collect(),
            },
            owed_at: vec![Mono(0); n],
            ..AntiEntropy::default()
        }
    }

    /// The regions in `missed` missed entries given up at `now`: a session with each is owed.
    pub(super) fn owe(&mut self, missed: u64, now: Mono) {
        for &r in &self.peers {
            if missed & bit(r) != 0 {
                self.owed |= bit(r);
                self.owed_at[r.idx()] = now;
            }
        }
    }

    /// Whether `r` had stopped acknowledging (so hearing from it is news).
    #[inline]
    pub(super) fn is_unreachable(&self, r: RegionId) -> bool {
        self.unreachable & bit(r) != 0
    }

    /// Peer `p` stopped acknowledging on its link.
    pub(super) fn mark_unreachable(&mut self, p: usize) {
        self.unreachable |= 1u64 << p;
    }

    /// Heard from `from`: if it had stopped answering, it is back, and a session starts at
    /// once rather than at the next round.
    #[inline]
    pub(super) fn heard_from<S: AeStore>(
        &mut self,
        store: &S,
        cx: AeCtx,
        from: RegionId,
        now: Mono,
        out: &mut Out,
    ) {
        if self.is_unreachable(from) {
            self.unreachable &= !bit(from);
            if self.peers.contains(&from) && !self.busy_with(from) {
                self.start(store, cx, from, now, out);
            }
        }
    }

    pub(super) fn busy_with(&self, peer: RegionId) -> bool {
        self.active.values().any(|(p, _)| *p == peer)
    }

    /// Whether any region is still owed a session.
    pub(super) fn owes(&self) -> bool {
        self.owed != 0
    }

    /// The regions whose shared keys a tree for `peer` covers (both bits), or all regions.
    fn mask(cx: AeCtx, peer: RegionId) -> u64 {
        match cx.plan.holders {
            None => u64::MAX,
            Some(_) => bit(peer) | bit(cx.me),
        }
    }

    fn shares(plan: &Plan, mask: u64, key: usize) -> bool {
        mask == u64::MAX || plan.holders(Key(key as u64)) & mask == mask
    }

    fn leaf_of(keys: u64, leaves: u32, key: u64) -> usize {
        ((key as u128 * leaves as u128) / keys.max(1) as u128) as usize
    }

    /// Keys `lo..hi` of leaf range `leaf`.
    fn leaf_keys(keys: u64, leaves: u32, leaf: u32) -> std::ops::Range<u64> {
        let l = leaves as u128;
        let lo = (leaf as u128 * keys as u128).div_ceil(l) as u64;
        let hi = ((leaf as u128 + 1) * keys as u128).div_ceil(l) as u64;
        lo..hi.min(keys)
    }

    /// The tree (levels root first) for the keys shared with `peer`, and how many of those keys
    /// hold a value here. Rebuilt only when the state or the peer's key set changed.
    fn tree<S: AeStore>(
        &mut self,
        store: &S,
        cx: AeCtx,
        peer: RegionId,
    ) -> (Arc<Vec<Vec<u64>>>, u64) {
        let mask = Self::mask(cx, peer);
        let digest = store.digest();
        if let Some(c) = &self.cache {
            if c.mask == mask && c.digest == digest {
                return (Arc::clone(&c.levels), c.shared);
            }
        }
        let ae = cx.plan.anti_entropy.as_ref().expect("anti-entropy on");
        let keys = cx.plan.keys;
        let depth = ae.depth() as usize;
        let b = ae.branching as usize;
        let mut leaves = vec![0u64; ae.leaves as usize];
        let mut shared = 0u64;
        for (k, c) in store.cells().iter().enumerate() {
            if c.stamp.is_none() || k as u64 >= keys || !Self::shares(cx.plan, mask, k) {
                continue;
            }
            shared += 1;
            let l = Self::leaf_of(keys, ae.leaves, k as u64);
            leaves[l] = leaves[l].wrapping_add(store.key_digest(Key(k as u64), c));
        }
        let mut levels = vec![leaves];
        for _ in 0..depth {
            let below = levels.last().expect("leaves");
            let up: Vec<u64> = below
                .chunks(b)
                .map(|ch| {
                    ch.iter().enumerate().fold(0u64, |a, (j, h)| {
                        a.wrapping_add(mix64(h ^ (j as u64 + 1).wrapping_mul(0x9e37_79b9)))
                    })
                })
                .collect();
            levels.push(up);
        }
        levels.reverse();
        let t = Arc::new(levels);
        self.cache = Some(TreeCache {
            mask,
            digest,
            levels: Arc::clone(&t),
            shared,
        });
        (t, shared)
    }

    /// This region's cells, shared with `peer`, in the given leaf ranges.
    fn cells_in<S: AeStore>(
        store: &S,
        cx: AeCtx,
        peer: RegionId,
        leaves: &[u32],
    ) -> Vec<(Key, Cell)> {
        let ae = cx.plan.anti_entropy.as_ref().expect("anti-entropy on");
        let keys = cx.plan.keys;
        let mask = Self::mask(cx, peer);
        let mut cells = Vec::new();
        for &l in leaves {
            for k in Self::leaf_keys(keys, ae.leaves, l) {
                let c = store.cell(Key(k));
                if !c.stamp.is_none() && Self::shares(cx.plan, mask, k as usize) {
                    cells.push((Key(k), c));
                }
            }
        }
        cells
    }

    /// Starts a session with `peer`: the root of the tree of the keys both hold.
    #[inline(never)]
    pub(super) fn start<S: AeStore>(
        &mut self,
        store: &S,
        cx: AeCtx,
        peer: RegionId,
        now: Mono,
        out: &mut Out,
    ) {
        self.last_id = self.last_id.wrapping_add(1);
        let id = self.last_id;
        self.active.insert(id, (peer, now));
        let (tree, shared) = self.tree(store, cx, peer);
        out.note(Note::AeStarted {
            full_state_bytes: RPC_BYTES + shared * (32 + cx.plan.value_bytes as u64),
        });
        out.send(
            peer,
            Msg::Ae(AeMsg::Hashes {
                session: AeSession {
                    initiator: cx.me,
                    id,
                    round: 1,
                },
                level: 0,
                nodes: vec![(0, tree[0][0])],
            }),
        );
    }

    /// Ends `session` here: the initiator records it, anyone else tells the initiator.
    #[inline(never)]
    fn finish(&mut self, cx: AeCtx, session: AeSession, in_sync: bool, now: Mono, out: &mut Out) {
        if session.initiator == cx.me {
            if let Some((peer, started)) = self.active.remove(&session.id) {
                if started >= self.owed_at[peer.idx()] {
                    self.owed &= !bit(peer);
                }
                out.note(Note::AeFinished {
                    rounds: session.round,
                    in_sync,
                    took: now - started,
                });
            }
        } else {
            out.send(
                session.initiator,
                Msg::Ae(AeMsg::Done {
                    session: session.next(),
                    in_sync,
                }),
            );
        }
    }

    /// Handles one anti-entropy message; keys it repairs are made durable before anything
    /// is sent back.
    #[inline(never)]
    pub(super) fn on_msg<S: AeStore>(
        &mut self,
        store: &mut S,
        cx: AeCtx,
        from: RegionId,
        msg: AeMsg,
        now: Now,
        out: &mut Out,
    ) {
        let mono = now.mono;
        match msg {
            AeMsg::Hashes {
                session,
                level,
                nodes,
            } => self.on_hashes(store, cx, from, session, level, &nodes, mono, out),
            AeMsg::Cells {
                session,
                leaves,
                cells,
                data,
                reply,
                ..
            } => {
                let Some(ae) = cx.plan.anti_entropy.as_ref() else {
                    return;
                };
                let repaired = Self::apply_cells(store, cx, &cells, &data, out);
                if repaired > 0 {
                    out.note(Note::AeRepaired { keys: repaired });
                    store.make_durable(now, out);
                }
                if !reply {
                    self.finish(cx, session, false, mono, out);
                    return;
                }
                let leaves: Vec<u32> = leaves.iter().copied().filter(|&l| l < ae.leaves).collect();
                self.reply_cells(store, cx, from, session, leaves, &cells, mono, out);
            }
            AeMsg::Done { session, in_sync } => self.finish(cx, session, in_sync, mono, out),
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    fn on_hashes<S: AeStore>(
        &mut self,
        store: &S,
        cx: AeCtx,
        from: RegionId,
        session: AeSession,
        level: u8,
        nodes: &[(u32, u64)],
        now: Mono,
        out: &mut Out,
    ) {
        let Some(ae) = cx.plan.anti_entropy.as_ref() else {
            return;
        };
        let (tree, _) = self.tree(store, cx, from);
        let Some(mine) = tree.get(level as usize) else {
            return; // not a level of our tree: a peer configured differently
        };
        let differ: Vec<u32> = nodes
            .iter()
            .filter(|(i, h)| mine.get(*i as usize).is_some_and(|m| m != h))
            .map(|(i, _)| *i)
            .collect();
        if differ.is_empty() {
            self.finish(cx, session, level == 0, now, out);
            return;
        }
        if level as u32 == ae.depth() {
            let cells = Self::cells_in(store, cx, from, &differ);
            let data = store.data_for(&cells);
            out.send(
                from,
                Msg::Ae(AeMsg::Cells {
                    session: session.next(),
                    leaves: differ,
                    cells,
                    data,
                    reply: true,
                    value_bytes: cx.plan.value_bytes,
                }),
            );
            return;
        }
        let b = ae.branching;
        let below = &tree[level as usize + 1];
        let children = differ
            .iter()
            .flat_map(|&i| (i * b..(i + 1) * b).map(|c| (c, below[c as usize])))
            .collect();
        out.send(
            from,
            Msg::Ae(AeMsg::Hashes {
                session: session.next(),
                level: level + 1,
                nodes: children,
            }),
        );
    }

    /// Installs the cells a peer sent that this region holds and that are newer here (or
    /// merge); returns how many keys changed.
    fn apply_cells<S: AeStore>(
        store: &mut S,
        cx: AeCtx,
        cells: &[(Key, Cell)],
        data: &[(Key, Arc<Data>)],
        out: &mut Out,
    ) -> u32 {
        let keys = cx.plan.keys;
        let mut repaired = 0u32;
        for &(k, c) in cells {
            if k.0 >= keys || !cx.plan.holds(cx.me, k) {
                continue;
            }
            let d = data
                .binary_search_by_key(&k, |(dk, _)| *dk)
                .ok()
                .map(|i| &data[i].1);
            // A merging key's newest stamp says nothing about what else it holds: merge.
            let merges = cx.plan.tables.policy(k).merges();
            if (merges || c.stamp > store.cell(k).stamp) && store.install(k, c, d, out) {
                repaired += 1;
            }
        }
        repaired
    }

    /// Sends back what is newer here than what the peer sent (or what it lacks), in `leaves`.
    #[allow(clippy::too_many_arguments)]
    fn reply_cells<S: AeStore>(
        &mut self,
        store: &S,
        cx: AeCtx,
        from: RegionId,
        session: AeSession,
        leaves: Vec<u32>,
        cells: &[(Key, Cell)],
        now: Mono,
        out: &mut Out,
    ) {
        let tables = &cx.plan.tables;
        let theirs: BTreeMap<Key, Stamp> = cells.iter().map(|(k, c)| (*k, c.stamp)).collect();
        let newer: Vec<(Key, Cell)> = Self::cells_in(store, cx, from, &leaves)
            .into_iter()
            .filter(|(k, c)| {
                tables.policy(*k).merges() || theirs.get(k).is_none_or(|s| c.stamp > *s)
            })
            .collect();
        if newer.is_empty() {
            self.finish(cx, session, false, now, out);
            return;
        }
        let data = store.data_for(&newer);
        out.send(
            from,
            Msg::Ae(AeMsg::Cells {
                session: session.next(),
                leaves,
                cells: newer,
                data,
                reply: false,
                value_bytes: cx.plan.value_bytes,
            }),
        );
    }

    /// A periodic round: owed peers first, then the next peers in turn, `fanout` in all.
    pub(super) fn tick<S: AeStore>(&mut self, store: &S, cx: AeCtx, now: Mono, out: &mut Out) {
        let Some(ae) = cx.plan.anti_entropy.as_ref() else {
            return;
        };
        // A session unanswered for a whole interval was lost on the way; forget it.
        let expiry = ae.interval.max(cx.plan.request_timeout);
        self.active
            .retain(|_, (_, started)| *started + expiry > now);
        let mut started = 0u32;
        let peers = self.peers.clone();
        for &p in &peers {
            if started < ae.fanout && self.owed & bit(p) != 0 && !self.busy_with(p) {
                self.start(store, cx, p, now, out);
                started += 1;
            }
        }
        for _ in 0..peers.len() {
            if started >= ae.fanout {
                break;
            }
            let p = peers[self.next % peers.len()];
            self.next += 1;
            if !self.busy_with(p) {
                self.start(store, cx, p, now, out);
                started += 1;
            }
        }
        out.set_timer(cx.timer, now + ae.interval);
    }
}

/// Wiring: the replica routes anti-entropy's messages and timer to the component, and serves
/// as its store.
impl Replicator {
    /// Runs `f` with the component taken out of the replica, so that the replica itself can
    /// serve as the component's [`AeStore`] (sessions are rare; taking an empty default in its
    /// place allocates nothing).
    #[inline(never)]
    fn with_ae(&mut self, f: impl FnOnce(&mut AntiEntropy, &mut Replicator, AeCtx)) {
        let mut ae = std::mem::take(&mut self.ae);
        let plan = Arc::clone(&self.cfg.plan);
        let cx = AeCtx {
            plan: &plan,
            me: self.me(),
            timer: self.timer(Timer::AntiEntropy),
        };
        f(&mut ae, self, cx);
        self.ae = ae;
    }

    /// Routes an anti-entropy message.
    pub(super) fn on_ae_msg(&mut self, now: Now, from: RegionId, msg: AeMsg, out: &mut Out) {
        self.with_ae(|ae, r, cx| ae.on_msg(r, cx, from, msg, now, out));
    }

    /// The periodic round.
    pub(super) fn ae_tick(&mut self, now: Now, out: &mut Out) {
        self.with_ae(|ae, r, cx| ae.tick(r, cx, now.mono, out));
    }

    /// Starts a session with `peer` now.
    #[cfg(test)]
    pub(super) fn ae_start(&mut self, peer: RegionId, now: Now, out: &mut Out) {
        self.with_ae(|ae, r, cx| ae.start(r, cx, peer, now.mono, out));
    }

    /// Heard from `from` (on the path of every message: the check is one bit).
    #[inline]
    pub(super) fn ae_heard_from(&mut self, from: RegionId, now: Now, out: &mut Out) {
        if self.ae.is_unreachable(from) {
            // A peer that had stopped answering is back: compare at once rather than wait.
            self.with_ae(|ae, r, cx| ae.heard_from(r, cx, from, now.mono, out));
        }
    }

    /// The data of those of `cells` whose tables keep data (shipped alongside them).
    pub(super) fn data_for(&self, cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
        if !self.store.has_data() {
            return Vec::new();
        }
        cells
            .iter()
            .filter_map(|(k, _)| self.data_of(*k).map(|d| (*k, Arc::new(d.clone()))))
            .collect()
    }
}

impl AeStore for Replicator {
    fn digest(&self) -> u64 {
        self.store.digest()
    }

    fn cells(&self) -> &[Cell] {
        self.store.cells()
    }

    fn key_digest(&self, key: Key, c: &Cell) -> u64 {
        Replicator::key_digest(self, key, c)
    }

    fn cell(&self, key: Key) -> Cell {
        Replicator::cell(self, key)
    }

    fn data_for(&self, cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
        Replicator::data_for(self, cells)
    }

    fn install(&mut self, key: Key, cell: Cell, data: Option<&Arc<Data>>, out: &mut Out) -> bool {
        self.install_value(key, cell, data, out)
    }

    fn make_durable(&mut self, now: Now, out: &mut Out) {
        self.durable_write(now, out);
    }
}

/// The component alone, against a store that is a plain vector of cells: the exact messages
/// of a session and what it repairs, with no replica around it.
#[cfg(test)]
mod tests {
    use super::*;
    use crate::replica::plan::Strategy;
    use crate::replica::{Action, OpId, Wall};
    use crate::time::Span;

    /// Cells by key and a digest that is their sum; counts the calls to make repairs durable.
    #[derive(Default)]
    struct VecStore {
        cells: Vec<Cell>,
        durable_calls: u32,
    }

    impl AeStore for VecStore {
        fn digest(&self) -> u64 {
            self.cells.iter().enumerate().fold(0u64, |a, (k, c)| {
                a.wrapping_add(self.key_digest(Key(k as u64), c))
            })
        }
        fn cells(&self) -> &[Cell] {
            &self.cells
        }
        fn key_digest(&self, key: Key, c: &Cell) -> u64 {
            if c.stamp.is_none() {
                0
            } else {
                mix64(key.0 ^ c.stamp.tie.rotate_left(17) ^ c.value.0.rotate_left(40))
            }
        }
        fn cell(&self, key: Key) -> Cell {
            self.cells[key.0 as usize]
        }
        fn data_for(&self, _cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
            Vec::new()
        }
        fn install(&mut self, key: Key, cell: Cell, _d: Option<&Arc<Data>>, _o: &mut Out) -> bool {
            let old = &mut self.cells[key.0 as usize];
            let newer = cell.stamp > old.stamp;
            if newer {
                *old = cell;
            }
            newer
        }
        fn make_durable(&mut self, _now: Now, _out: &mut Out) {
            self.durable_calls += 1;
        }
    }

    fn plan() -> Plan {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.keys = 64;
        plan.anti_entropy = Some(crate::replica::plan::AntiEntropy {
            interval: Span::from_secs(1),
            fanout: 1,
            leaves: 16,
            branching: 4,
        });
        plan
    }

    fn cell(k: u64, v: u64) -> Cell {
        Cell {
            stamp: Stamp::new(Wall(v as i64), RegionId(0), 1, k as u32 + 1),
            value: OpId(v),
        }
    }

    fn at(ms: u64) -> Now {
        Now {
            mono: Mono(ms * 1_000_000),
            wall: Wall(ms as i64 * 1_000_000),
        }
    }

    /// Runs a session from region 0 to region 1, delivering each message at once; returns the
    /// kinds of the messages in order and every note.
    fn session(plan: &Plan, a: &mut VecStore, b: &mut VecStore) -> (Vec<&'static str>, Vec<Note>) {
        let cx = |me: u16| AeCtx {
            plan,
            me: RegionId(me),
            timer: TimerId(7),
        };
        let (mut ae_a, mut ae_b) = (
            AntiEntropy::new(plan, RegionId(0), 2),
            AntiEntropy::new(plan, RegionId(1), 2),
        );
        let mut out = Out::default();
        ae_a.start(a, cx(0), RegionId(1), Mono(0), &mut out);
        let (mut kinds, mut notes) = (Vec::new(), Vec::new());
        let mut from = 0u16;
        loop {
            let mut next = None;
            for act in std::mem::take(&mut out.actions) {
                match act {
                    Action::Send {
                        msg: Msg::Ae(m), ..
                    } => next = Some(m),
                    Action::Note(n) => notes.push(n),
                    _ => {}
                }
            }
            let Some(m) = next else { break };
            kinds.push(Msg::Ae(m.clone()).kind());
            let to = 1 - from;
            let (ae, store) = if to == 0 {
                (&mut ae_a, &mut *a)
            } else {
                (&mut ae_b, &mut *b)
            };
            ae.on_msg(store, cx(to), RegionId(from), m, at(1), &mut out);
            from = to;
            assert!(kinds.len() < 20, "session does not end: {kinds:?}");
        }
        assert!(
            !ae_a.busy_with(RegionId(1)),
            "the initiator closed the session"
        );
        (kinds, notes)
    }

    #[test]
    fn a_session_descends_into_the_differing_leaf_and_repairs_both_ways() {
        let plan = plan();
        let (mut a, mut b) = (VecStore::default(), VecStore::default());
        a.cells = (0..64).map(|k| cell(k, 10)).collect();
        b.cells = a.cells.clone();
        // Key 37 is newer at b, key 38 newer at a: both in leaf 9 (keys 36..40).
        b.cells[37] = cell(37, 20);
        a.cells[38] = cell(38, 30);
        let (kinds, notes) = session(&plan, &mut a, &mut b);
        assert_eq!(
            kinds,
            [
                "ae-hashes",
                "ae-hashes",
                "ae-hashes",
                "ae-cells",
                "ae-cells",
                "ae-done"
            ]
        );
        assert_eq!(a.cells, b.cells, "converged");
        assert_eq!((a.cells[37].value, a.cells[38].value), (OpId(20), OpId(30)));
        // Each side repaired one key and made it durable once.
        assert_eq!((a.durable_calls, b.durable_calls), (1, 1));
        let repaired: Vec<u32> = notes
            .iter()
            .filter_map(|n| match n {
                Note::AeRepaired { keys } => Some(*keys),
                _ => None,
            })
            .collect();
        assert_eq!(repaired, [1, 1]);
        assert!(notes.iter().any(|n| matches!(
            n,
            Note::AeFinished {
                rounds: 6,
                in_sync: false,
                ..
            }
        )));
    }

    #[test]
    fn owed_peers_go_first_and_a_round_starts_fanout_sessions_then_rearms() {
        let mut plan = Plan::mesh(4, Strategy::MultiMaster);
        plan.keys = 8;
        plan.anti_entropy = Some(crate::replica::plan::AntiEntropy {
            interval: Span::from_secs(2),
            fanout: 2,
            leaves: 4,
            branching: 4,
        });
        let store = VecStore {
            cells: (0..8).map(|k| cell(k, 1)).collect(),
            ..VecStore::default()
        };
        let cx = AeCtx {
            plan: &plan,
            me: RegionId(0),
            timer: TimerId(7),
        };
        let mut ae = AntiEntropy::new(&plan, RegionId(0), 4);
        assert_eq!(ae.peers, [RegionId(1), RegionId(2), RegionId(3)]);
        ae.owe(1 << 3, Mono(5));
        let mut out = Out::default();
        ae.tick(&store, cx, Mono(10), &mut out);
        let sent: Vec<RegionId> = out
            .actions
            .iter()
            .filter_map(|a| match a {
                Action::Send { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        // The owed peer first, then the round-robin's next one.
        assert_eq!(sent, [RegionId(3), RegionId(1)]);
        assert!(out.actions.iter().any(|a| matches!(
            a,
            Action::SetTimer { id: TimerId(7), at } if *at == Mono(10) + Span::from_secs(2)
        )));
        assert!(ae.owes(), "owed until the session finishes");
    }
}
