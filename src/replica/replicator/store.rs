//! The store: a region's local copy of the data, one component of the replicator.
//!
//! It owns the last-writer-wins cell of every key, the per-key state of tables with data
//! (whole values under register policies, CRDT states under merging ones), the hybrid logical
//! clock `lww-hlc` tables stamp with, the running state digest, the set of entries applied
//! (so a copy arriving twice is applied once), the `manual` conflicts parked for an operator
//! and the delta gaps waiting for their predecessors, with the timers of those two queues.
//!
//! Its methods see nothing of the rest of the replica: they are handed the configuration,
//! the time and the outbox, and they push only what the data itself causes (persist ops,
//! notes, its two timers, a fetch of a key's whole value). What needs another component — a
//! write the operator makes to resolve a conflict — is returned to the `Replicator`, which
//! wires the components together.

use super::disk::{seq_set, Seen};
use super::rpc::RepairMsg;
use super::{Config, Disk, EntryId, Msg, Op, Out, Timer};
use crate::replica::causal::{Actor, Dot, Hlc};
use crate::replica::data::{data_key_digest, Data, Policy};
use crate::replica::plan::Plan;
use crate::replica::{cell_digest, Cell, Key, Note, Now, OpId, RegionId};
use crate::time::{Mono, Span, Wall};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A region's data: cells, data-policy state, clock, digest, applied entries, and the two
/// queues the data causes (parked conflicts, delta gaps).
pub(super) struct Store {
    cells: Vec<Cell>,
    /// Per key of a table with data (empty when no table has any).
    data: Vec<Option<Data>>,
    /// The hybrid logical clock `lww-hlc` tables stamp with.
    hlc: Hlc,
    digest: u64,
    seen: Seen,
    /// `manual` keys homed here whose conflicts wait for the operator, with when they were
    /// parked (in-memory, like a work queue: a restart re-parks what its data still shows).
    parked: BTreeMap<Key, Mono>,
    /// Keys a delta left with a gap among one origin's writes: since when, that origin, and
    /// the region that sent the delta (asked for the whole value if the gap outlives a timeout).
    gaps: BTreeMap<Key, (Mono, Actor, RegionId)>,
    gap_armed: bool,
    /// When the operator's timer is set to fire, if it is.
    operator_armed: Option<Mono>,
}

/// Persists `op` unless the replica runs without durable storage (`Config::durable`).
#[inline]
fn persist(cfg: &Config, out: &mut Out, op: impl FnOnce() -> Op) {
    if cfg.durable {
        out.persist(op());
    }
}

impl Store {
    /// The data a disk (or a backup image) holds, for a plan of `plan.n` regions.
    pub(super) fn from_disk(disk: &Disk, plan: &Plan) -> Store {
        let mut cells = disk.cells.clone();
        if cells.is_empty() {
            cells.reserve(1024);
        }
        let data: Vec<Option<Data>> = disk
            .data
            .iter()
            .map(|d| d.as_ref().map(|d| Data::clone(d)))
            .collect();
        let tables = &plan.tables;
        let digest = cells
            .iter()
            .enumerate()
            .filter(|(_, c)| !c.stamp.is_none())
            .fold(0u64, |acc, (k, c)| {
                let key = Key(k as u64);
                acc.wrapping_add(match data.get(k) {
                    Some(Some(d)) if tables.policy(key).merges() => data_key_digest(key, d),
                    _ => cell_digest(key, c),
                })
            });
        let mut seen = disk.seen.clone();
        seen.resize_with(plan.n, Vec::new);
        Store {
            cells,
            data,
            hlc: Hlc::default(),
            digest,
            seen,
            parked: BTreeMap::new(),
            gaps: BTreeMap::new(),
            gap_armed: false,
            operator_armed: None,
        }
    }

    /// The running digest of every key's value (the replica's state digest).
    #[inline]
    pub(super) fn digest(&self) -> u64 {
        self.digest
    }

    /// Every key's cell, by key (empty cells for keys never written).
    #[inline]
    pub(super) fn cells(&self) -> &[Cell] {
        &self.cells
    }

    /// Whether any key holds data (a table with data has been written).
    #[inline]
    pub(super) fn has_data(&self) -> bool {
        !self.data.is_empty()
    }

    /// The entries applied, per origin and origin epoch.
    #[inline]
    pub(super) fn seen(&self) -> &Seen {
        &self.seen
    }

    /// No delta gap is waiting, and (when an operator resolves conflicts) none is parked.
    pub(super) fn settled(&self, operator: bool) -> bool {
        self.gaps.is_empty() && (!operator || self.parked.is_empty())
    }

    #[inline]
    pub(super) fn cell(&self, key: Key) -> Cell {
        self.cells
            .get(key.0 as usize)
            .copied()
            .unwrap_or_else(Cell::default_none)
    }

    #[inline]
    pub(super) fn local_cell(&self, key: Key) -> Option<Cell> {
        let c = self.cell(key);
        (!c.stamp.is_none()).then_some(c)
    }

    #[inline]
    pub(super) fn data_of(&self, key: Key) -> Option<&Data> {
        self.data.get(key.0 as usize).and_then(|d| d.as_ref())
    }

    fn data_slot(&mut self, key: Key) -> &mut Option<Data> {
        let i = key.0 as usize;
        if self.data.len() <= i {
            self.data.resize(i + 1, None);
        }
        &mut self.data[i]
    }

    /// Register policies: the clock part of the stamp of a local write made at `wall`
    /// (advancing the hybrid logical clock if the policy stamps with it).
    #[inline]
    pub(super) fn stamp_wall(&mut self, policy: Policy, wall: Wall) -> Wall {
        policy.stamp_wall(wall, &mut self.hlc)
    }

    /// Last-writer-wins: install `cell` if its stamp is newer than what the key holds.
    pub(super) fn apply_lww(&mut self, key: Key, cell: Cell, cfg: &Config, out: &mut Out) -> bool {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if cell.stamp <= old.stamp {
            return false;
        }
        if !old.stamp.is_none() {
            self.digest = self.digest.wrapping_sub(cell_digest(key, &old));
        }
        self.digest = self.digest.wrapping_add(cell_digest(key, &cell));
        self.cells[i] = cell;
        persist(cfg, out, || Op::Cell(key, cell));
        out.note(Note::Applied {
            key,
            old: old.stamp,
            new: cell.stamp,
        });
        true
    }

    /// Replaces a key's value unconditionally (rewinding a discarded write).
    pub(super) fn rewind(&mut self, key: Key, cell: Cell, cfg: &Config, out: &mut Out) {
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        let old = self.cells[i];
        if !old.stamp.is_none() {
            self.digest = self.digest.wrapping_sub(cell_digest(key, &old));
        }
        if !cell.stamp.is_none() {
            self.digest = self.digest.wrapping_add(cell_digest(key, &cell));
        }
        self.cells[i] = cell;
        persist(cfg, out, || Op::Cell(key, cell));
        out.note(Note::Rewound {
            key,
            old: old.stamp,
            new: cell.stamp,
        });
    }

    /// A key's contribution to the state digest: its data if its values merge, else its cell.
    pub(super) fn key_digest(&self, key: Key, c: &Cell, plan: &Plan) -> u64 {
        match self.data_of(key) {
            Some(d) if plan.tables.policy(key).merges() => data_key_digest(key, d),
            _ => cell_digest(key, c),
        }
    }

    /// Installs a value that arrived from elsewhere (an entry, anti-entropy, a state
    /// transfer): by its stamp under a register policy (with its whole value, if its table
    /// keeps one), by merging under a merging policy. True if anything changed. `now`: the
    /// local monotonic time of the input being handled (when a conflict it causes is parked).
    pub(super) fn install_value(
        &mut self,
        key: Key,
        cell: Cell,
        data: Option<&Arc<Data>>,
        now: Mono,
        cfg: &Config,
        out: &mut Out,
    ) -> bool {
        let policy = cfg.plan.tables.policy(key);
        if !policy.merges() {
            if policy.observes_hlc() {
                self.hlc.observe(cell.stamp.wall);
            }
            let applied = self.apply_lww(key, cell, cfg, out);
            if applied {
                if let Some(d) = data {
                    *self.data_slot(key) = Some(Data::clone(d));
                    persist(cfg, out, || Op::Data(key, Arc::clone(d)));
                }
            }
            return applied;
        }
        let Some(d) = data else {
            return false; // a merging key's value travels as data; a bare cell says nothing
        };
        self.merge_data(key, cell, |slot| Data::merge(slot, d), now, cfg, out)
    }

    /// Changes a merging key's data with `f` (which returns the writes that became part of
    /// it), keeping the digest, the key's summary cell (its newest write) and the disk in step.
    pub(super) fn merge_data(
        &mut self,
        key: Key,
        cell: Cell,
        f: impl FnOnce(&mut Option<Data>) -> Vec<Dot>,
        now: Mono,
        cfg: &Config,
        out: &mut Out,
    ) -> bool {
        let before = self.data_of(key).map(|d| data_key_digest(key, d));
        let new = f(self.data_slot(key));
        // A delta can change a value without bringing a write it lacks: a re-add seen late
        // still takes away the adds it replaced. Only an unchanged value is a no-op.
        let Some(d) = self.data_of(key) else {
            return false; // nothing merged (a delta of another type, which no plan sends)
        };
        let after = data_key_digest(key, d);
        if new.is_empty() && Some(after) == before {
            return false;
        }
        let siblings = d.siblings() as u32;
        let keep = cfg.durable.then(|| Arc::new(d.clone()));
        self.digest = self
            .digest
            .wrapping_sub(before.unwrap_or(0))
            .wrapping_add(after);
        let i = key.0 as usize;
        if self.cells.len() <= i {
            self.cells.resize(i + 1, Cell::default_none());
        }
        if cell.stamp > self.cells[i].stamp {
            self.cells[i] = cell;
            persist(cfg, out, || Op::Cell(key, cell));
        }
        if let Some(d) = keep {
            out.persist(Op::Data(key, d));
        }
        for dot in new {
            out.note(Note::Merged { key, dot, siblings });
        }
        self.track_conflict(key, siblings, now, cfg, out);
        true
    }

    /// Records that entry `id` was applied here; false if it already was.
    #[inline]
    pub(super) fn mark_seen(&mut self, id: EntryId, cfg: &Config, out: &mut Out) -> bool {
        let fresh = seq_set(&mut self.seen[id.origin.idx()], id.epoch).insert(id.seq);
        if fresh {
            persist(cfg, out, || Op::Seen(id));
        }
        fresh
    }

    /// Records that every entry of `origin`'s incarnation `epoch` up to `upto` is held here
    /// (a state transfer or catch-up brought their effect).
    pub(super) fn advance_seen(
        &mut self,
        origin: RegionId,
        epoch: u32,
        upto: u64,
        cfg: &Config,
        out: &mut Out,
    ) {
        let set = seq_set(&mut self.seen[origin.idx()], epoch);
        if set.upto() < upto {
            set.advance_to(upto);
            persist(cfg, out, || Op::SeenUpto(origin, epoch, upto));
        }
    }

    /// Delta-state replication's fallback: a delta from `origin` left a gap in `key`'s causal
    /// context among `origin`'s own writes. Its predecessors may still be on their way (the
    /// transport applies entries that arrive out of order and retransmits the ones lost), so
    /// wait one request timeout; if the gap is still there then (a log given up after
    /// `log_retention`, say), ask `from` for the key's whole value.
    pub(super) fn note_gap(
        &mut self,
        key: Key,
        origin: Actor,
        from: RegionId,
        now: Now,
        cfg: &Config,
        out: &mut Out,
    ) {
        if self.gaps.contains_key(&key) || !self.has_gap(key, origin) {
            return;
        }
        self.gaps.insert(key, (now.mono, origin, from));
        if !self.gap_armed {
            self.gap_armed = true;
            out.set_timer(
                Timer::Gap.id(cfg.plan.n),
                now.mono + cfg.plan.request_timeout,
            );
        }
    }

    fn has_gap(&self, key: Key, origin: Actor) -> bool {
        self.data_of(key)
            .and_then(|d| d.ctx())
            .is_some_and(|c| c.cloud.iter().any(|d| d.actor() == origin))
    }

    /// The gap timer: every gap that outlived the request timeout and is still there gets
    /// its key's whole value asked for, from the region whose delta revealed it.
    pub(super) fn on_gap_timer(&mut self, now: Now, cfg: &Config, out: &mut Out) {
        self.gap_armed = false;
        let timeout = cfg.plan.request_timeout;
        let due: Vec<Key> = self
            .gaps
            .iter()
            .filter(|(_, (since, _, _))| *since + timeout <= now.mono)
            .map(|(&k, _)| k)
            .collect();
        for key in due {
            let (_, origin, from) = self.gaps.remove(&key).expect("listed");
            if self.has_gap(key, origin) {
                out.note(Note::GapFetch { key });
                out.send(from, Msg::Repair(RepairMsg::Fetch { key }));
            }
        }
        if let Some(first) = self.gaps.values().map(|g| g.0).min() {
            self.gap_armed = true;
            out.set_timer(Timer::Gap.id(cfg.plan.n), (first + timeout).max(now.mono));
        }
    }

    /// `manual` tables: a conflict on a key homed here (key mod regions, so exactly one
    /// region's operator owns it) is parked when the key gains siblings and leaves the queue
    /// when they are gone, whoever resolved them.
    pub(super) fn track_conflict(
        &mut self,
        key: Key,
        siblings: u32,
        now: Mono,
        cfg: &Config,
        out: &mut Out,
    ) {
        if key.0 % cfg.plan.n as u64 != cfg.id.0 as u64
            || !cfg.plan.tables.policy(key).parks_conflicts()
        {
            return;
        }
        if siblings > 1 {
            if self.parked.contains_key(&key) {
                return;
            }
            self.parked.insert(key, now);
            out.note(Note::Parked {
                key,
                depth: self.parked.len() as u32,
            });
            if let Some(delay) = cfg.plan.operator {
                if self.operator_armed.is_none() {
                    self.operator_armed = Some(now + delay);
                    out.set_timer(Timer::Operator.id(cfg.plan.n), now + delay);
                }
            }
        } else if let Some(at) = self.parked.remove(&key) {
            out.note(Note::Unparked {
                key,
                waited: now - at,
                by_operator: false,
                depth: self.parked.len() as u32,
            });
        }
    }

    /// The operator's timer fired: the conflicts that have waited `delay` by `now`, with when
    /// each was parked, in key order. The caller resolves each with [`Self::unpark`] and then
    /// calls [`Self::rearm_operator`].
    pub(super) fn operator_due(&mut self, now: Now, delay: Option<Span>) -> Vec<(Key, Mono)> {
        self.operator_armed = None;
        let Some(delay) = delay else {
            return Vec::new();
        };
        self.parked
            .iter()
            .filter(|(_, &at)| at + delay <= now.mono)
            .map(|(&k, &at)| (k, at))
            .collect()
    }

    /// The operator takes `key` (parked at `at`) off the queue. Returns the value it keeps —
    /// the one written last (the highest operation id among the siblings) — for the caller to
    /// write with a causal context covering them all, so every region converges on it.
    pub(super) fn unpark(&mut self, key: Key, at: Mono, now: Now, out: &mut Out) -> Option<OpId> {
        self.parked.remove(&key);
        out.note(Note::Unparked {
            key,
            waited: now.mono - at,
            by_operator: true,
            depth: self.parked.len() as u32,
        });
        match self.data_of(key) {
            Some(Data::Mv(r)) => r.values().max().copied(),
            _ => None,
        }
    }

    /// Sets the operator's timer for the oldest conflict still parked, if any (and if an
    /// operator resolves conflicts: `delay`).
    pub(super) fn rearm_operator(
        &mut self,
        now: Now,
        delay: Option<Span>,
        cfg: &Config,
        out: &mut Out,
    ) {
        let Some(delay) = delay else {
            return;
        };
        if let Some(&first) = self.parked.values().min() {
            let at = (first + delay).max(now.mono);
            self.operator_armed = Some(at);
            out.set_timer(Timer::Operator.id(cfg.plan.n), at);
        }
    }

    /// After a restart: re-parks the conflicts its data still holds.
    pub(super) fn repark(&mut self, now: Mono, cfg: &Config, out: &mut Out) {
        if !cfg.plan.tables.0.iter().any(|t| t.policy.parks_conflicts()) {
            return;
        }
        let keys: Vec<(Key, u32)> = self
            .data
            .iter()
            .enumerate()
            .filter_map(|(k, d)| Some((Key(k as u64), d.as_ref()?.siblings() as u32)))
            .filter(|&(_, s)| s > 1)
            .collect();
        for (key, siblings) in keys {
            self.track_conflict(key, siblings, now, cfg, out);
        }
    }
}

#[cfg(test)]
mod tests {
    //! The store alone: built from an empty disk, fed values, asked questions; every action
    //! it asks of its host is checked, in order.

    use super::super::{test_config, test_now, Action};
    use super::*;
    use crate::replica::data::{Tables, WriteKind};
    use crate::replica::plan::Strategy;
    use crate::replica::{Stamp, TimerId};

    /// Region `id` of two, every key under `policy`, an operator taking `operator` (if any).
    fn cfg(id: u16, policy: Policy, operator: Option<Span>) -> Config {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.tables = Arc::new(Tables::single(1024, policy));
        plan.operator = operator;
        test_config(id, plan)
    }

    fn store(cfg: &Config) -> Store {
        Store::from_disk(&Disk::default(), &cfg.plan)
    }

    fn cell(wall: i64, region: u16, value: u64) -> Cell {
        Cell {
            stamp: Stamp::new(Wall(wall), RegionId(region), 1, 1),
            value: OpId(value),
        }
    }

    /// The notes among `out`'s actions.
    fn notes(out: &Out) -> Vec<Note> {
        super::super::notes(out)
    }

    fn timers(out: &Out) -> Vec<(TimerId, Mono)> {
        out.actions
            .iter()
            .filter_map(|a| match a {
                Action::SetTimer { id, at } => Some((*id, *at)),
                _ => None,
            })
            .collect()
    }

    /// A merging write by `actor` (op `op`) on a scratch copy of a key, as the delta it ships.
    fn delta(
        scratch: &mut Option<Data>,
        policy: Policy,
        actor: u32,
        op: u64,
        kind: WriteKind,
    ) -> Arc<Data> {
        let d = Data::update(scratch, policy, Actor(actor), OpId(op), Wall(0), kind);
        Arc::new(d)
    }

    #[test]
    fn lww_installs_only_a_newer_stamp_and_ties_break_by_region() {
        let cfg = cfg(0, Policy::Lww, None);
        let mut s = store(&cfg);
        let (a, b) = (cell(100, 0, 1), cell(100, 1, 2));
        assert!(b.stamp > a.stamp, "same clock: the higher region wins");
        let mut out = Out::default();
        assert!(s.apply_lww(Key(3), a, &cfg, &mut out));
        assert!(matches!(
            &out.actions[..],
            [Action::Persist(Op::Cell(Key(3), c)), Action::Note(Note::Applied { key: Key(3), old, new })]
                if *c == a && *old == Stamp::NONE && *new == a.stamp
        ));
        let mut out = Out::default();
        assert!(s.apply_lww(Key(3), b, &cfg, &mut out));
        assert!(matches!(
            &out.actions[..],
            [Action::Persist(Op::Cell(Key(3), c)), Action::Note(Note::Applied { key: Key(3), old, new })]
                if *c == b && *old == a.stamp && *new == b.stamp
        ));
        // Older, or the same stamp again: nothing changes and nothing is asked.
        let mut out = Out::default();
        assert!(!s.apply_lww(Key(3), a, &cfg, &mut out));
        assert!(!s.apply_lww(Key(3), b, &cfg, &mut out));
        assert!(!s.apply_lww(Key(3), cell(99, 1, 9), &cfg, &mut out));
        assert!(out.actions.is_empty());
        assert_eq!(s.cell(Key(3)), b);
        assert_eq!(s.local_cell(Key(3)), Some(b));
        assert_eq!(s.local_cell(Key(4)), None, "never written");
        assert_eq!(s.cell(Key(4)), Cell::default_none());
        // A newer clock beats a higher region.
        assert!(s.apply_lww(Key(3), cell(101, 0, 3), &cfg, &mut out));
        assert_eq!(s.cell(Key(3)).value, OpId(3));
    }

    #[test]
    fn the_digest_follows_the_content_exactly() {
        let cfg = cfg(0, Policy::Lww, None);
        let mut s = store(&cfg);
        let mut out = Out::default();
        assert_eq!(s.digest(), 0, "empty");
        let (a, b, c) = (cell(100, 0, 1), cell(200, 1, 2), cell(300, 0, 3));
        s.apply_lww(Key(1), a, &cfg, &mut out);
        assert_eq!(s.digest(), cell_digest(Key(1), &a));
        s.apply_lww(Key(2), b, &cfg, &mut out);
        let both = cell_digest(Key(1), &a).wrapping_add(cell_digest(Key(2), &b));
        assert_eq!(s.digest(), both);
        s.apply_lww(Key(1), b, &cfg, &mut out); // loses to nothing: b is newer than a
        s.apply_lww(Key(1), a, &cfg, &mut out); // rejected: no change
        let replaced = cell_digest(Key(1), &b).wrapping_add(cell_digest(Key(2), &b));
        assert_eq!(s.digest(), replaced);
        // The same content reached in another order digests the same.
        let mut t = store(&cfg);
        t.apply_lww(Key(2), b, &cfg, &mut out);
        t.apply_lww(Key(1), b, &cfg, &mut out);
        assert_eq!(t.digest(), s.digest());
        // Rewinding replaces unconditionally, even with an older or an empty cell.
        s.rewind(Key(1), a, &cfg, &mut out);
        assert_eq!(s.digest(), both);
        s.rewind(Key(2), Cell::default_none(), &cfg, &mut out);
        assert_eq!(s.digest(), cell_digest(Key(1), &a));
        s.apply_lww(Key(1), c, &cfg, &mut out);
        assert_eq!(s.digest(), cell_digest(Key(1), &c));
        // A store rebuilt from what was persisted starts from the same digest.
        let mut disk = Disk::default();
        for a in out.actions {
            if let Action::Persist(op) = a {
                crate::replica::Durable::apply(&mut disk, op);
            }
        }
        assert_eq!(Store::from_disk(&disk, &cfg.plan).digest(), s.digest());
    }

    #[test]
    fn an_entry_is_marked_seen_once() {
        let cfg = cfg(0, Policy::Lww, None);
        let mut s = store(&cfg);
        let id = EntryId {
            origin: RegionId(1),
            epoch: 2,
            seq: 5,
        };
        let mut out = Out::default();
        assert!(s.mark_seen(id, &cfg, &mut out));
        assert!(!s.mark_seen(id, &cfg, &mut out), "a duplicate");
        assert!(matches!(&out.actions[..], [Action::Persist(Op::Seen(i))] if *i == id));
        // Another epoch of the same origin is another history.
        assert!(s.mark_seen(EntryId { epoch: 3, ..id }, &cfg, &mut out));
        // Advancing the prefix covers what is below it, and persists only once.
        let mut out = Out::default();
        s.advance_seen(RegionId(1), 2, 7, &cfg, &mut out);
        s.advance_seen(RegionId(1), 2, 6, &cfg, &mut out);
        assert!(matches!(
            &out.actions[..],
            [Action::Persist(Op::SeenUpto(RegionId(1), 2, 7))]
        ));
        let seq = |seq| EntryId { seq, ..id };
        assert!(!s.mark_seen(seq(1), &cfg, &mut out));
        assert!(s.mark_seen(seq(8), &cfg, &mut out));
        // Without durable storage nothing is persisted.
        let volatile = Config {
            durable: false,
            ..cfg.clone()
        };
        let mut out = Out::default();
        assert!(s.mark_seen(seq(9), &volatile, &mut out));
        assert!(out.actions.is_empty());
    }

    /// A delta from actor 7 whose predecessor has not arrived leaves a gap; the gap timer,
    /// one request timeout later, asks the region that sent the delta for the whole value.
    /// A gap closed before the timer fires asks for nothing.
    #[test]
    fn a_gap_that_outlives_the_timeout_fetches_the_whole_value() {
        let cfg = cfg(0, Policy::GCounter, None);
        let timeout = cfg.plan.request_timeout;
        let mut s = store(&cfg);
        let mut scratch = None;
        let first = delta(&mut scratch, Policy::GCounter, 7, 1, WriteKind::Incr(1));
        let second = delta(&mut scratch, Policy::GCounter, 7, 2, WriteKind::Incr(1));
        let c = cell(100, 1, 2);
        let t0 = test_now(1000);
        let mut out = Out::default();
        assert!(s.install_value(Key(4), c, Some(&second), t0.mono, &cfg, &mut out));
        let mut out = Out::default();
        s.note_gap(Key(4), Actor(7), RegionId(1), t0, &cfg, &mut out);
        assert_eq!(timers(&out), vec![(Timer::Gap.id(2), t0.mono + timeout)]);
        assert_eq!(out.actions.len(), 1);
        // The same gap noted again: already waiting.
        let mut out = Out::default();
        s.note_gap(
            Key(4),
            Actor(7),
            RegionId(1),
            test_now(1001),
            &cfg,
            &mut out,
        );
        assert!(out.actions.is_empty());
        assert!(!s.settled(false), "a gap is work still to do");
        let mut out = Out::default();
        s.on_gap_timer(
            Now {
                mono: t0.mono + timeout,
                ..t0
            },
            &cfg,
            &mut out,
        );
        assert_eq!(notes(&out), vec![Note::GapFetch { key: Key(4) }]);
        assert_eq!(
            super::super::sends(&out),
            vec![(RegionId(1), &Msg::Repair(RepairMsg::Fetch { key: Key(4) }))]
        );
        assert_eq!(out.actions.len(), 2, "no timer: no gap left");
        assert!(s.settled(false));
        // Again, but the missing write arrives in time: the timer finds no gap.
        let mut t = store(&cfg);
        let mut out = Out::default();
        t.install_value(Key(4), c, Some(&second), t0.mono, &cfg, &mut out);
        t.note_gap(Key(4), Actor(7), RegionId(1), t0, &cfg, &mut out);
        t.install_value(Key(4), c, Some(&first), t0.mono, &cfg, &mut out);
        let mut out = Out::default();
        t.on_gap_timer(
            Now {
                mono: t0.mono + timeout,
                ..t0
            },
            &cfg,
            &mut out,
        );
        assert!(out.actions.is_empty());
        // A key without a gap is not tracked at all.
        t.note_gap(Key(4), Actor(7), RegionId(1), t0, &cfg, &mut out);
        assert!(out.actions.is_empty() && t.settled(false));
    }

    /// `manual`: concurrent writes to key 0 (homed at region 0 of two) park a conflict and set
    /// the operator's timer; the operator takes the value written last; a write that has
    /// seen both siblings also takes the conflict off the queue.
    #[test]
    fn a_manual_conflict_is_parked_and_resolved() {
        let delay = Span::from_secs(5);
        let cfg = cfg(0, Policy::Manual, Some(delay));
        let mut s = store(&cfg);
        let (mut x, mut y) = (None, None);
        let dx = delta(&mut x, Policy::Manual, 10, 3, WriteKind::Put);
        let dy = delta(&mut y, Policy::Manual, 11, 8, WriteKind::Put);
        let t0 = test_now(1000);
        let mut out = Out::default();
        s.install_value(Key(0), cell(100, 0, 3), Some(&dx), t0.mono, &cfg, &mut out);
        assert!(timers(&out).is_empty(), "one value: no conflict");
        let mut out = Out::default();
        s.install_value(Key(0), cell(90, 1, 8), Some(&dy), t0.mono, &cfg, &mut out);
        assert_eq!(
            notes(&out)[1..],
            [Note::Parked {
                key: Key(0),
                depth: 1
            }]
        );
        assert_eq!(timers(&out), vec![(Timer::Operator.id(2), t0.mono + delay)]);
        assert!(!s.settled(true) && s.settled(false));
        // Key 1 is homed at region 1: its conflicts are that region's operator's.
        let mut out = Out::default();
        s.install_value(Key(1), cell(100, 0, 3), Some(&dx), t0.mono, &cfg, &mut out);
        s.install_value(Key(1), cell(90, 1, 8), Some(&dy), t0.mono, &cfg, &mut out);
        assert!(!notes(&out).iter().any(|n| matches!(n, Note::Parked { .. })));
        // Too early: nothing is due.
        let early = test_now(1000 + 4999);
        assert!(s.operator_due(early, Some(delay)).is_empty());
        let due_at = test_now(1000 + 5000);
        let due = s.operator_due(due_at, Some(delay));
        assert_eq!(due, vec![(Key(0), t0.mono)]);
        let mut out = Out::default();
        assert_eq!(s.unpark(Key(0), t0.mono, due_at, &mut out), Some(OpId(8)));
        assert_eq!(
            notes(&out),
            vec![Note::Unparked {
                key: Key(0),
                waited: delay,
                by_operator: true,
                depth: 0
            }]
        );
        s.rearm_operator(due_at, Some(delay), &cfg, &mut out);
        assert!(timers(&out).is_empty(), "nothing left parked");
        assert!(s.settled(true));

        // Parked again after a restart: re-parked from the data alone.
        let mut r = store(&cfg);
        let mut out = Out::default();
        r.install_value(Key(0), cell(100, 0, 3), Some(&dx), t0.mono, &cfg, &mut out);
        r.install_value(Key(0), cell(90, 1, 8), Some(&dy), t0.mono, &cfg, &mut out);
        let mut disk = Disk::default();
        for a in out.actions {
            if let Action::Persist(op) = a {
                crate::replica::Durable::apply(&mut disk, op);
            }
        }
        let mut r = Store::from_disk(&disk, &cfg.plan);
        let t1 = test_now(2000);
        let mut out = Out::default();
        r.repark(t1.mono, &cfg, &mut out);
        assert_eq!(
            notes(&out),
            vec![Note::Parked {
                key: Key(0),
                depth: 1
            }]
        );
        // A write that has seen both siblings resolves it, whoever wrote it.
        let mut both = None;
        Data::merge(&mut both, &dx);
        Data::merge(&mut both, &dy);
        let resolve = delta(&mut both, Policy::Manual, 12, 9, WriteKind::Put);
        let mut out = Out::default();
        let t2 = test_now(2500);
        r.install_value(
            Key(0),
            cell(300, 1, 9),
            Some(&resolve),
            t2.mono,
            &cfg,
            &mut out,
        );
        assert_eq!(
            notes(&out).last(),
            Some(&Note::Unparked {
                key: Key(0),
                waited: Span::from_millis(500),
                by_operator: false,
                depth: 0
            })
        );
        assert!(r.settled(true));
    }
}
