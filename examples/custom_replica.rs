//! Bring your own protocol: a gossip register written against regionsim's sans-IO `Replica`
//! trait, run under a shipped scenario's network, clocks and faults, and judged by the standard
//! metrics, checks and HTML report.
//!
//! The protocol: every region keeps last-writer-wins cells and numbers each change it applies.
//! Every `ROUND`, a region asks the next peer (round robin) for the changes it has not yet
//! pulled from it (push-pull gossip with per-peer watermarks). A lost message costs one round;
//! a crashed peer is simply skipped until it answers again.
//!
//! Run it: `cargo run --release --example custom_replica [scenario.yaml]`.

use regionsim::replica::{
    cell_digest, Cell, ClientOp, Durable, Key, MsgClass, Note, Now, Outbox, RegionId, Replica,
    Reply, Stamp, TimerId, WireMessage, Work,
};
use regionsim::report::{text, write_report, ImageFormat};
use regionsim::scenario::Scenario;
use regionsim::time::Span;
use std::collections::BTreeMap;

/// How often a region pulls from its next peer.
const ROUND: Span = Span(100_000_000);
/// The most changes one answer carries; the rest come next round.
const MAX_CELLS: usize = 512;
const GOSSIP: TimerId = TimerId(0);

/// What each region is told at start: who it is and who its peers are.
#[derive(Clone)]
struct Config {
    id: RegionId,
    regions: u16,
}

/// A pull asks a peer for its changes numbered above `n` by its incarnation `epoch`; the
/// answer (`cells` set) carries them, up to change `n` of incarnation `epoch`.
#[derive(Clone, Debug)]
struct Msg {
    epoch: u32,
    n: u64,
    cells: Option<Vec<(Key, Cell)>>,
}

impl WireMessage for Msg {
    fn class(&self) -> MsgClass {
        match self.cells {
            None => MsgClass::AntiEntropy,
            Some(_) => MsgClass::Replication,
        }
    }
    fn work(&self) -> Work {
        let writes = self.cells.as_ref().map_or(0, |c| c.len() as u32);
        Work { writes, reads: 0 }
    }
    fn wire_bytes(&self) -> u64 {
        16 + 40 * self.cells.as_ref().map_or(0, |c| c.len() as u64)
    }
    fn kind(&self) -> &'static str {
        ["pull", "push"][self.cells.is_some() as usize]
    }
    /// Gossip never stops, so the run may end with some in flight.
    fn is_background(&self) -> bool {
        true
    }
    fn fingerprint(&self) -> u64 {
        let cells = self.cells.iter().flatten();
        cells.fold(self.n ^ (self.epoch as u64) << 48, |h, (k, c)| {
            h.rotate_left(5) ^ cell_digest(*k, c)
        })
    }
    fn carries_key(&self, key: Key) -> bool {
        self.cells.iter().flatten().any(|(k, _)| *k == key)
    }
}

/// What survives a crash: the cells and the incarnation (so stamps stay unique).
#[derive(Clone, Default)]
struct Disk {
    cells: BTreeMap<Key, Cell>,
    epoch: u32,
}

enum Op {
    Put(Key, Cell),
    Epoch(u32),
}

impl Durable for Disk {
    type Op = Op;
    fn apply(&mut self, op: Op) {
        match op {
            Op::Put(k, c) => drop(self.cells.insert(k, c)),
            Op::Epoch(e) => self.epoch = e,
        }
    }
}

struct Gossip {
    cfg: Config,
    epoch: u32,
    counter: u32,
    /// Each key's cell and the number of the change that put it there.
    cells: BTreeMap<Key, (Cell, u64)>,
    /// Change number → key, the newest change of each key only.
    changes: BTreeMap<u64, Key>,
    version: u64,
    /// Per peer: the highest change number of theirs we hold (and of which incarnation: a
    /// restarted peer numbers its changes afresh), and the highest of ours they said they
    /// hold (their last pull).
    pulled: Vec<(u32, u64)>,
    acked: Vec<u64>,
    next_peer: u16,
}

type Out = Outbox<Msg, Op>;

impl Gossip {
    /// Installs `cell` if it is newer than what `key` holds.
    fn apply(&mut self, key: Key, cell: Cell, out: &mut Out) {
        let old = self.cell_of(key).map_or(Stamp::NONE, |c| c.stamp);
        if cell.stamp <= old {
            return;
        }
        self.version += 1;
        if let Some((_, prev)) = self.cells.insert(key, (cell, self.version)) {
            self.changes.remove(&prev);
        }
        self.changes.insert(self.version, key);
        out.persist(Op::Put(key, cell));
        out.note(Note::Applied {
            key,
            old,
            new: cell.stamp,
        });
    }
}

impl Replica for Gossip {
    type Msg = Msg;
    type Durable = Disk;
    type Config = Config;

    fn recover(cfg: &Config, disk: &Disk) -> Gossip {
        let n = cfg.regions as usize;
        let mut g = Gossip {
            cfg: cfg.clone(),
            epoch: disk.epoch + 1,
            counter: 0,
            cells: BTreeMap::new(),
            changes: BTreeMap::new(),
            version: 0,
            pulled: vec![(0, 0); n],
            acked: vec![0; n],
            next_peer: cfg.id.0,
        };
        // Change numbers restart with the incarnation: peers will pull everything once more.
        for (&k, &c) in &disk.cells {
            g.apply(k, c, &mut Outbox::default());
        }
        g
    }

    fn on_start(&mut self, now: Now, out: &mut Out) {
        out.persist(Op::Epoch(self.epoch));
        out.sync();
        out.set_timer(GOSSIP, now.mono + ROUND);
    }

    fn on_timer(&mut self, now: Now, _id: TimerId, out: &mut Out) {
        self.next_peer = (self.next_peer + 1) % self.cfg.regions;
        if self.next_peer == self.cfg.id.0 {
            self.next_peer = (self.next_peer + 1) % self.cfg.regions;
        }
        let peer = RegionId(self.next_peer);
        let (epoch, n) = self.pulled[peer.idx()];
        out.send(
            peer,
            Msg {
                epoch,
                n,
                cells: None,
            },
        );
        out.set_timer(GOSSIP, now.mono + ROUND);
    }

    fn on_message(&mut self, _now: Now, from: RegionId, msg: Msg, out: &mut Out) {
        if let Some(cells) = msg.cells {
            for (k, c) in cells {
                self.apply(k, c, out);
            }
            self.pulled[from.idx()] = (msg.epoch, msg.n);
            return;
        }
        // Numbers from an earlier incarnation of ours mean nothing now: start over.
        let after = if msg.epoch == self.epoch { msg.n } else { 0 };
        self.acked[from.idx()] = after;
        let newer = self.changes.range(after + 1..).take(MAX_CELLS);
        let n = newer.clone().last().map_or(self.version, |(v, _)| *v);
        let cells = Some(newer.map(|(_, k)| (*k, self.cells[k].0)).collect());
        let epoch = self.epoch;
        out.send(from, Msg { epoch, n, cells });
    }

    fn on_client_op(&mut self, now: Now, op: ClientOp, out: &mut Out) {
        match op {
            ClientOp::Write { op, key, .. } => {
                self.counter += 1;
                let stamp = Stamp::new(now.wall, self.cfg.id, self.epoch, self.counter);
                let seen = self.cell_of(key).map_or(Stamp::NONE, |c| c.stamp);
                out.note(Note::WriteStamped {
                    op,
                    key,
                    stamp,
                    seen,
                });
                self.apply(key, Cell { stamp, value: op }, out);
                // Acknowledged once durable here: the write survives a crash of this region.
                out.sync();
                out.reply(Reply::WriteOk { op, stamp });
            }
            ClientOp::Read { op, key, .. } => {
                let cell = self.cell_of(key);
                out.reply(Reply::ReadOk {
                    op,
                    cell,
                    by: self.cfg.id,
                });
            }
        }
    }

    fn state_digest(&self) -> u64 {
        let digests = self.cells().map(|(k, c)| cell_digest(k, &c));
        digests.fold(0, u64::wrapping_add)
    }

    /// Nothing left to ship: every peer's last pull covered all our changes.
    fn is_quiescent(&self) -> bool {
        let me = self.cfg.id.idx();
        (self.acked.iter().enumerate()).all(|(i, &a)| i == me || a >= self.version)
    }

    fn cells(&self) -> Box<dyn Iterator<Item = (Key, Cell)> + '_> {
        Box::new(self.cells.iter().map(|(k, (c, _))| (*k, *c)))
    }

    fn cell_of(&self, key: Key) -> Option<Cell> {
        self.cells.get(&key).map(|(c, _)| *c)
    }
}

fn main() -> anyhow::Result<()> {
    let path = std::env::args()
        .nth(1)
        .unwrap_or("scenarios/partition.yaml".into());
    let sc = Scenario::load(path.as_ref())?;
    let regions = sc.regions.len() as u16;
    let summary =
        regionsim::run_with::<Gossip>(&sc, Default::default(), |_, id| Config { id, regions })?;
    print!("{}", text::render(&summary));
    let dir = std::path::Path::new("reports/custom-replica");
    let files = write_report(&summary, dir, ImageFormat::Svg)?;
    println!("\nwrote {}", files.index.display());
    // Same exit convention as `sim run`: 1 when a check or expectation failed.
    let failed = summary.failed_names();
    if !failed.is_empty() {
        println!("FAIL: {}", failed.join(", "));
        std::process::exit(1);
    }
    Ok(())
}
