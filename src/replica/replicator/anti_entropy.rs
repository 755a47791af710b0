//! Anti-entropy: periodic Merkle-tree comparison of the keys two regions share.

use super::msg::{data_bytes, data_fingerprint, writes, RPC_BYTES};
use super::{Msg, Timer};
use super::{Out, Replicator};
use crate::replica::data::Data;
use crate::replica::Now;
use crate::replica::{mix64, Note, Stamp};
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

impl Replicator {
    /// Routes an anti-entropy message.
    #[inline(never)]
    pub(super) fn on_ae_msg(&mut self, now: Now, from: RegionId, msg: AeMsg, out: &mut Out) {
        match msg {
            AeMsg::Hashes {
                session,
                level,
                nodes,
            } => self.on_ae_hashes(from, session, level, &nodes, out),
            AeMsg::Cells {
                session,
                leaves,
                cells,
                data,
                reply,
                ..
            } => self.on_ae_cells(now, from, session, &leaves, &cells, &data, reply, out),
            AeMsg::Done { session, in_sync } => self.ae_finish(session, in_sync, out),
        }
    }
}

/// Anti-entropy bookkeeping.
#[derive(Default)]
pub(super) struct AeState {
    /// Regions sharing at least one key with this one, in index order.
    pub(super) peers: Vec<RegionId>,
    /// Round-robin position in `peers`.
    pub(super) next: usize,
    pub(super) last_id: u32,
    /// Sessions this region started: id -> (peer, start).
    pub(super) active: BTreeMap<u32, (RegionId, Mono)>,
    /// Regions that missed log entries this region gave up (the peer the link led to and every
    /// holder it would have relayed them to): a session with each is owed.
    pub(super) owed: u64,
    /// Per region, when a session with it was last owed: only a session started since then
    /// covers the entries given up.
    pub(super) owed_at: Vec<Mono>,
    /// Peers that stopped acknowledging (repeated retransmission timeouts): hearing from one
    /// again is a heal, and starts a session at once.
    pub(super) unreachable: u64,
    /// The last tree built.
    pub(super) cache: Option<TreeCache>,
}

/// A Merkle tree and what it was built from.
pub(super) struct TreeCache {
    /// The regions whose shared keys it covers (both bits), or `u64::MAX` for all keys.
    pub(super) mask: u64,
    /// The state digest when it was built: an unchanged digest means an unchanged tree.
    pub(super) digest: u64,
    /// Hashes per level, root first.
    pub(super) levels: Arc<Vec<Vec<u64>>>,
    /// Keys with a value among those covered.
    pub(super) shared: u64,
}

/// Anti-entropy: a Merkle tree per peer over the key ranges both hold, compared top down in
/// alternating messages, so only ranges that differ are descended into and only their cells
/// cross the network.
impl Replicator {
    pub(super) fn ae_busy_with(&self, peer: RegionId) -> bool {
        self.ae.active.values().any(|(p, _)| *p == peer)
    }

    /// The regions whose shared keys a tree for `peer` covers (both bits), or all regions.
    pub(super) fn ae_mask(&self, peer: RegionId) -> u64 {
        match self.cfg.plan.holders {
            None => u64::MAX,
            Some(_) => Replicator::bit(peer) | Replicator::bit(self.me()),
        }
    }

    pub(super) fn shares(&self, mask: u64, key: usize) -> bool {
        mask == u64::MAX || self.cfg.plan.holders(Key(key as u64)) & mask == mask
    }

    pub(super) fn leaf_of(keys: u64, leaves: u32, key: u64) -> usize {
        ((key as u128 * leaves as u128) / keys.max(1) as u128) as usize
    }

    /// Keys `lo..hi` of leaf range `leaf`.
    pub(super) fn leaf_keys(keys: u64, leaves: u32, leaf: u32) -> std::ops::Range<u64> {
        let l = leaves as u128;
        let lo = (leaf as u128 * keys as u128).div_ceil(l) as u64;
        let hi = ((leaf as u128 + 1) * keys as u128).div_ceil(l) as u64;
        lo..hi.min(keys)
    }

    /// The tree (levels root first) for the keys shared with `peer`, and how many of those keys
    /// hold a value here. Rebuilt only when the state or the peer's key set changed.
    pub(super) fn ae_tree(&mut self, peer: RegionId) -> (Arc<Vec<Vec<u64>>>, u64) {
        let mask = self.ae_mask(peer);
        if let Some(c) = &self.ae.cache {
            if c.mask == mask && c.digest == self.digest {
                return (Arc::clone(&c.levels), c.shared);
            }
        }
        let ae = self.cfg.plan.anti_entropy.clone().expect("anti-entropy on");
        let keys = self.cfg.plan.keys;
        let depth = ae.depth() as usize;
        let b = ae.branching as usize;
        let mut leaves = vec![0u64; ae.leaves as usize];
        let mut shared = 0u64;
        for (k, c) in self.cells.iter().enumerate() {
            if c.stamp.is_none() || k as u64 >= keys || !self.shares(mask, k) {
                continue;
            }
            shared += 1;
            let l = Replicator::leaf_of(keys, ae.leaves, k as u64);
            leaves[l] = leaves[l].wrapping_add(self.key_digest(Key(k as u64), c));
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
        self.ae.cache = Some(TreeCache {
            mask,
            digest: self.digest,
            levels: Arc::clone(&t),
            shared,
        });
        (t, shared)
    }

    /// This region's cells, shared with `peer`, in the given leaf ranges.
    pub(super) fn ae_cells_in(&self, peer: RegionId, leaves: &[u32]) -> Vec<(Key, Cell)> {
        let ae = self
            .cfg
            .plan
            .anti_entropy
            .as_ref()
            .expect("anti-entropy on");
        let keys = self.cfg.plan.keys;
        let mask = self.ae_mask(peer);
        let mut cells = Vec::new();
        for &l in leaves {
            for k in Replicator::leaf_keys(keys, ae.leaves, l) {
                let c = self.cell(Key(k));
                if !c.stamp.is_none() && self.shares(mask, k as usize) {
                    cells.push((Key(k), c));
                }
            }
        }
        cells
    }

    /// The data of those of `cells` whose tables keep data (shipped alongside them).
    pub(super) fn data_for(&self, cells: &[(Key, Cell)]) -> Vec<(Key, Arc<Data>)> {
        if self.data.is_empty() {
            return Vec::new();
        }
        cells
            .iter()
            .filter_map(|(k, _)| self.data_of(*k).map(|d| (*k, Arc::new(d.clone()))))
            .collect()
    }

    #[inline(never)]
    pub(super) fn ae_start(&mut self, peer: RegionId, now: Now, out: &mut Out) {
        self.ae.last_id = self.ae.last_id.wrapping_add(1);
        let id = self.ae.last_id;
        self.ae.active.insert(id, (peer, now.mono));
        let (tree, shared) = self.ae_tree(peer);
        out.note(Note::AeStarted {
            full_state_bytes: RPC_BYTES + shared * (32 + self.cfg.plan.value_bytes as u64),
        });
        out.send(
            peer,
            Msg::Ae(AeMsg::Hashes {
                session: AeSession {
                    initiator: self.me(),
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
    pub(super) fn ae_finish(&mut self, session: AeSession, in_sync: bool, out: &mut Out) {
        if session.initiator == self.me() {
            if let Some((peer, started)) = self.ae.active.remove(&session.id) {
                if started >= self.ae.owed_at[peer.idx()] {
                    self.ae.owed &= !Replicator::bit(peer);
                }
                out.note(Note::AeFinished {
                    rounds: session.round,
                    in_sync,
                    took: self.now_mono - started,
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

    #[inline(never)]
    pub(super) fn on_ae_hashes(
        &mut self,
        from: RegionId,
        session: AeSession,
        level: u8,
        nodes: &[(u32, u64)],
        out: &mut Out,
    ) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        let (tree, _) = self.ae_tree(from);
        let Some(mine) = tree.get(level as usize) else {
            return; // not a level of our tree: a peer configured differently
        };
        let differ: Vec<u32> = nodes
            .iter()
            .filter(|(i, h)| mine.get(*i as usize).is_some_and(|m| m != h))
            .map(|(i, _)| *i)
            .collect();
        if differ.is_empty() {
            self.ae_finish(session, level == 0, out);
            return;
        }
        if level as u32 == ae.depth() {
            let cells = self.ae_cells_in(from, &differ);
            let data = self.data_for(&cells);
            out.send(
                from,
                Msg::Ae(AeMsg::Cells {
                    session: session.next(),
                    leaves: differ,
                    cells,
                    data,
                    reply: true,
                    value_bytes: self.cfg.plan.value_bytes,
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

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(super) fn on_ae_cells(
        &mut self,
        now: Now,
        from: RegionId,
        session: AeSession,
        leaves: &[u32],
        cells: &[(Key, Cell)],
        data: &[(Key, Arc<Data>)],
        reply: bool,
        out: &mut Out,
    ) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        let keys = self.cfg.plan.keys;
        let me = self.me();
        let mut repaired = 0u32;
        let tables = Arc::clone(&self.cfg.plan.tables);
        for &(k, c) in cells {
            if k.0 >= keys || !self.cfg.plan.holds(me, k) {
                continue;
            }
            let d = data
                .binary_search_by_key(&k, |(dk, _)| *dk)
                .ok()
                .map(|i| &data[i].1);
            // A merging key's newest stamp says nothing about what else it holds: merge.
            let merges = tables.policy(k).merges();
            if (merges || c.stamp > self.cell(k).stamp) && self.install_value(k, c, d, out) {
                repaired += 1;
            }
        }
        if repaired > 0 {
            out.note(Note::AeRepaired { keys: repaired });
            if self.sync_mode() {
                self.sync(out);
            } else {
                self.dirty = true;
                self.ensure_flush(now, out);
            }
        }
        if !reply {
            self.ae_finish(session, false, out);
            return;
        }
        let leaves: Vec<u32> = leaves.iter().copied().filter(|&l| l < ae.leaves).collect();
        // Send back only what is newer here than what they sent (or what they lack).
        let theirs: BTreeMap<Key, Stamp> = cells.iter().map(|(k, c)| (*k, c.stamp)).collect();
        let newer: Vec<(Key, Cell)> = self
            .ae_cells_in(from, &leaves)
            .into_iter()
            .filter(|(k, c)| {
                tables.policy(*k).merges() || theirs.get(k).is_none_or(|s| c.stamp > *s)
            })
            .collect();
        if newer.is_empty() {
            self.ae_finish(session, false, out);
            return;
        }
        let data = self.data_for(&newer);
        out.send(
            from,
            Msg::Ae(AeMsg::Cells {
                session: session.next(),
                leaves,
                cells: newer,
                data,
                reply: false,
                value_bytes: self.cfg.plan.value_bytes,
            }),
        );
    }

    /// A periodic round: owed peers first, then the next peers in turn, `fanout` in all.
    pub(super) fn ae_tick(&mut self, now: Now, out: &mut Out) {
        let Some(ae) = self.cfg.plan.anti_entropy.clone() else {
            return;
        };
        // A session unanswered for a whole interval was lost on the way; forget it.
        let expiry = ae.interval.max(self.cfg.plan.request_timeout);
        self.ae
            .active
            .retain(|_, (_, started)| *started + expiry > now.mono);
        let mut started = 0u32;
        let peers = self.ae.peers.clone();
        for &p in &peers {
            if started < ae.fanout
                && self.ae.owed & Replicator::bit(p) != 0
                && !self.ae_busy_with(p)
            {
                self.ae_start(p, now, out);
                started += 1;
            }
        }
        for _ in 0..peers.len() {
            if started >= ae.fanout {
                break;
            }
            let p = peers[self.ae.next % peers.len()];
            self.ae.next += 1;
            if !self.ae_busy_with(p) {
                self.ae_start(p, now, out);
                started += 1;
            }
        }
        out.set_timer(self.timer(Timer::AntiEntropy), now.mono + ae.interval);
    }
}
