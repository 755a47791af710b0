//! Bringing a region onto the new primary's history: catch-up of a missing stream tail, and
//! resync of keys whose fenced writes a region discarded.

use super::super::{Entry, EntryId, Msg, Out, Replicator};
use super::FoMsg;
use crate::replica::{Cell, Key, Now, RegionId, Stamp};

/// Catch-up and resync.
impl Replicator {
    /// Whether a stored stamp was written by a fenced entry.
    pub(super) fn fenced_stamp(&self, s: Stamp) -> bool {
        if s.is_none() {
            return false;
        }
        let f = self.fo.as_ref().expect("fo");
        f.fences.iter().any(|fc| {
            fc.origin == s.region()
                && (fc.epoch & 0xffff) as u64 == (s.tie >> 32) & 0xffff
                && fc.covers(EntryId {
                    origin: fc.origin,
                    epoch: fc.epoch,
                    seq: s.tie & 0xffff_ffff,
                })
        })
    }

    #[inline(never)]
    pub(in crate::replica::replicator) fn on_catch_up_req(
        &mut self,
        from: RegionId,
        origin: RegionId,
        epoch: u32,
        after: u64,
        out: &mut Out,
    ) {
        let f = self.fo.as_ref().expect("fo");
        let own = f.leading && origin == self.me() && epoch == self.epoch;
        let upto = if own {
            // Chain: a region rejoining the chain asks for the head's own stream.
            self.upto_of(origin, epoch)
        } else {
            match f
                .fences
                .iter()
                .rev()
                .find(|fc| fc.origin == origin && fc.epoch == epoch)
            {
                Some(fc) => fc.from - 1,
                None => return,
            }
        };
        let tail: Vec<Entry> = if own { &f.recent } else { &f.prev }
            .iter()
            .filter(|e| e.id.origin == origin && e.id.epoch == epoch)
            .filter(|e| e.id.seq > after && e.id.seq <= upto)
            .cloned()
            .collect();
        let complete = tail.first().is_some_and(|e| e.id.seq == after + 1)
            && tail.len() as u64 == upto - after;
        let value_bytes = self.cfg.plan.value_bytes;
        let msg = if complete || after >= upto {
            Msg::Failover(FoMsg::CatchUp {
                origin,
                epoch,
                upto,
                entries: tail,
                snapshot: Vec::new(),
                value_bytes,
            })
        } else {
            // The tail is gone (committed and trimmed): send the whole state instead.
            let snapshot: Vec<(Key, Cell)> = self
                .store
                .cells()
                .iter()
                .enumerate()
                .filter(|(_, c)| !c.stamp.is_none())
                .map(|(k, c)| (Key(k as u64), *c))
                .collect();
            Msg::Failover(FoMsg::CatchUp {
                origin,
                epoch,
                upto,
                // A chain head's entries above its commit point come along as entries: the
                // asker forwards what it learns down the chain, which a snapshot cannot do.
                entries: if own { tail } else { Vec::new() },
                snapshot,
                value_bytes,
            })
        };
        out.send(from, msg);
    }

    #[allow(clippy::too_many_arguments)]
    #[inline(never)]
    pub(in crate::replica::replicator) fn on_catch_up(
        &mut self,
        now: Now,
        origin: RegionId,
        epoch: u32,
        upto: u64,
        entries: Vec<Entry>,
        snapshot: Vec<(Key, Cell)>,
        out: &mut Out,
    ) {
        let chain = self.chain_on();
        let mut queued = 0;
        for e in entries {
            if e.verify() && self.mark_seen(e.id, out) {
                self.apply_lww(e.key, e.cell, out);
                self.fo_track(&e);
                if chain {
                    // In a chain every region forwards what it learns first, however it
                    // learned it: its successor will not get it from anyone else.
                    queued |= self.route(&e, None, now, out);
                    if e.notify {
                        // The head may be waiting for this region as its (new) tail.
                        self.notify_pending.push(e.id);
                    }
                }
            }
        }
        for (k, c) in snapshot {
            self.apply_lww(k, c, out);
        }
        self.store.advance_seen(origin, epoch, upto, &self.cfg, out);
        self.fo().catchup_sent = None;
        self.durable_write(now, out);
        if self.sync_mode() {
            self.send_notifies(out);
        }
        self.transmit_mask(queued, now, out);
    }

    #[inline(never)]
    pub(in crate::replica::replicator) fn on_resync(
        &mut self,
        from: RegionId,
        keys: Vec<Key>,
        out: &mut Out,
    ) {
        let cells = keys.iter().map(|&k| (k, self.local_cell(k))).collect();
        out.send(
            from,
            Msg::Failover(FoMsg::ResyncCells {
                cells,
                value_bytes: self.cfg.plan.value_bytes,
            }),
        );
    }

    #[inline(never)]
    pub(in crate::replica::replicator) fn on_resync_cells(
        &mut self,
        now: Now,
        cells: Vec<(Key, Option<Cell>)>,
        out: &mut Out,
    ) {
        if self.fo().rewind.take().is_none() {
            return;
        }
        for (k, c) in cells {
            let mine = self.cell(k);
            if self.fenced_stamp(mine.stamp) {
                self.install(k, c.unwrap_or_else(Cell::default_none), out);
            } else if let Some(c) = c {
                self.apply_lww(k, c, out);
            }
        }
        self.durable_write(now, out);
    }

    /// Replaces a key's value unconditionally (rewinding a discarded write).
    pub(super) fn install(&mut self, key: Key, cell: Cell, out: &mut Out) {
        self.store.rewind(key, cell, &self.cfg, out)
    }
}
