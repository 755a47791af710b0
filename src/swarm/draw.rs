//! Draws a whole random scenario from a swarm seed: mode and its options, topology and routing,
//! regions from a shipped preset, clocks, tables and data policies, durability, clients and
//! weather, always within what the validator accepts.
//!
//! The draw builds the YAML a user would write (so a failing seed is written out as a standalone
//! file that `sim run` reproduces) and, beside it, the [`Promises`] that configuration makes:
//! which checks must pass for it and which losses are the design's, not a bug. Every draw comes
//! from one ChaCha stream of the seed, in a fixed order, so the same seed always gives the same
//! scenario on every machine.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// What one drawn configuration promises, so the swarm can tell a bug from the design's cost.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Promises {
    /// Acknowledged writes may be lost (async replication with failover, group commit, disk
    /// loss, no fencing, a forced promotion, acknowledgement by fewer than a majority).
    pub may_lose_acked: bool,
    /// Replicas may stay apart after quiesce (bounded retention without anti-entropy, quorum
    /// writes without hints or repair): the design documents this, the check measures it.
    pub may_diverge: bool,
    /// Two primaries may accept writes (fencing off).
    pub may_split_brain: bool,
    /// Counter/set/map semantics checks whose table policy does not promise them (a
    /// read-modify-write counter under `lww` loses increments by design).
    pub unpromised: BTreeSet<String>,
}

/// One drawn scenario: the YAML text, the coverage tags it exercises and its promises.
#[derive(Clone, Debug)]
pub struct Drawn {
    pub yaml: String,
    /// `(dimension, value)` pairs for the coverage table (mode, topology, policy, level, ...).
    pub tags: BTreeSet<(String, String)>,
    pub promises: Promises,
}

struct Dice(ChaCha8Rng);

impl Dice {
    fn below(&mut self, n: u64) -> u64 {
        self.0.next_u64() % n.max(1)
    }
    fn int(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi - lo + 1)
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.0.next_u64() >> 11) as f64 / (1u64 << 53) as f64 > 1.0 - p
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
    fn ms(&mut self, lo: u64, hi: u64) -> String {
        format!("{}ms", self.int(lo, hi))
    }
    fn shuffle<T>(&mut self, xs: &mut [T]) {
        for i in (1..xs.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            xs.swap(i, j);
        }
    }
    /// Weights that sum to exactly 1 (in hundredths), one per name, each at least 0.01.
    fn weights(&mut self, names: &[&str]) -> Map<String, Value> {
        let mut parts: Vec<u64> = names.iter().map(|_| self.int(1, 10)).collect();
        let total: u64 = parts.iter().sum();
        let mut hundredths: Vec<u64> = parts.iter().map(|p| (p * 100 / total).max(1)).collect();
        let sum: u64 = hundredths.iter().sum();
        // Give the rounding remainder to the largest share so the total is exactly 100.
        let big = (0..parts.len()).max_by_key(|&i| parts[i]).unwrap_or(0);
        hundredths[big] = (hundredths[big] + 100).saturating_sub(sum).max(1);
        parts.clear();
        names
            .iter()
            .zip(hundredths)
            .map(|(n, h)| (n.to_string(), json!(h as f64 / 100.0)))
            .collect()
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    MultiMaster,
    PrimaryBackup,
    Quorum,
    Chain,
}

/// The preset tables a swarm draws its regions from, and a few of each table's regions that
/// keep long-haul round trips representative without every run spanning the planet.
const PRESETS: &[&str] = &["aws-2023", "aws-2020", "gcp-2023", "azure-2025", "ibm-2025"];

fn slug(name: &str) -> String {
    name.to_ascii_lowercase().replace(' ', "-")
}

/// The state every section of one draw threads through: the seed's dice, the coverage tags
/// drawn so far and the promises the configuration makes.
struct Draft {
    d: Dice,
    tags: BTreeSet<(String, String)>,
    pr: Promises,
}

/// The drawn world: the regions (their YAML names, in draw order), how many were asked for,
/// the run's length, and the scenario so far (name, regions, network, clocks).
struct World {
    names: Vec<String>,
    n: usize,
    duration_s: u64,
    sc: Value,
}

/// What the replication section drew and later sections depend on.
struct Replication {
    mode: Mode,
    rep: Map<String, Value>,
    failover: bool,
    levels_read: Vec<&'static str>,
    levels_write: Vec<&'static str>,
    /// Whether an acknowledged write is held by a majority (see [`Draft::mode`]).
    majority_acks: bool,
    anti_entropy: bool,
    retention: bool,
}

/// Draws the scenario of `seed`.
pub fn draw(seed: u64) -> Drawn {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    // A stream of its own, so a swarm seed never shares numbers with a run's streams.
    rng.set_stream(0x5357_4152_4d00);
    let mut dr = Draft {
        d: Dice(rng),
        tags: BTreeSet::new(),
        pr: Promises::default(),
    };
    // Every section draws from the one stream in this fixed order: reordering them would
    // change every seed's scenario.
    let World {
        names,
        n,
        duration_s,
        mut sc,
    } = dr.world(seed);
    let mut repl = dr.replication(&names, n);
    let mut workload = dr.data(&mut repl);
    sc["replication"] = Value::Object(std::mem::take(&mut repl.rep));
    let backup = dr.durability(&names, &mut sc);
    dr.clients(&names, &mut repl, &mut workload);
    sc["workload"] = Value::Object(workload);
    dr.faults(&names, duration_s, repl.failover, backup, &mut sc);
    dr.promises(&sc, &repl);
    let yaml = serde_yaml::to_string(&sc).expect("a drawn scenario serialises");
    Drawn {
        yaml,
        tags: dr.tags,
        promises: dr.pr,
    }
}

impl Draft {
    fn tag(&mut self, k: &str, v: &str) {
        self.tags.insert((k.to_string(), v.to_string()));
    }

    /// The world: preset, regions and their clocks, latency and network, global clocks.
    fn world(&mut self, seed: u64) -> World {
        let d = &mut self.d;
        let preset_name = *d.pick(PRESETS);
        let preset = crate::presets::find(preset_name)
            .expect("a shipped preset")
            .table();
        let n = *d.pick(&[2u64, 3, 3, 3, 4, 4, 5, 5, 6, 7]) as usize;
        let mut pool: Vec<String> = preset.regions.clone();
        d.shuffle(&mut pool);
        let picked: Vec<String> = pool.into_iter().take(n).collect();
        let names: Vec<String> = picked.iter().map(|r| slug(r)).collect();
        self.tag("preset", preset_name);
        self.tag("regions", &n.to_string());
        let duration_s = self.d.int(10, 30);
        let mut regions = Vec::new();
        for name in &names {
            let mut r = json!({ "name": name });
            if self.d.chance(0.25) {
                let d = &mut self.d;
                let off = d.int(0, 800) as i64 - 400;
                r["clock"] = json!({ "offset": format!("{off}ms"), "drift_ppm": d.int(0, 400) as i64 - 200 });
                self.tag("clocks", "offset+drift");
            }
            regions.push(r);
        }
        let map: Map<String, Value> = names
            .iter()
            .zip(&picked)
            .map(|(s, p)| (s.clone(), json!(p)))
            .collect();
        let network = self.network(preset_name, map);
        let mut sc = json!({
            "name": format!("swarm-{seed}"),
            "description": format!("Drawn by `sim swarm` from seed {seed}."),
            "seed": seed,
            "duration": format!("{duration_s}s"),
            "regions": regions,
            "network": network,
        });
        if self.d.chance(0.25) {
            let mut clocks = json!({ "noise": self.d.ms(0, 3) });
            if self.d.chance(0.5) {
                clocks["ntp"] = json!({ "interval": format!("{}s", self.d.int(4, 32)) });
                self.tag("clocks", "ntp");
            }
            sc["clocks"] = clocks;
            self.tag("clocks", "noise");
        }
        World {
            names,
            n,
            duration_s,
            sc,
        }
    }

    /// The network block: latency from the preset (with jitter), loss, duplication, order,
    /// bandwidth.
    fn network(&mut self, preset_name: &str, map: Map<String, Value>) -> Value {
        let d = &mut self.d;
        let mut latency = json!({ "preset": preset_name, "map": map });
        match d.below(3) {
            0 => {}
            1 => latency["jitter"] = json!({ "dist": "exponential", "mean": d.ms(1, 5) }),
            _ => {
                latency["jitter"] =
                    json!({ "dist": "lognormal", "median": d.ms(1, 4), "sigma": 0.5 });
            }
        }
        let mut network = json!({ "latency": latency });
        network["loss"] = json!(*d.pick(&[0.0, 0.0, 0.001, 0.01]));
        if self.d.chance(0.15) {
            network["duplicate"] = json!(0.001);
            self.tag("network", "duplicate");
        }
        if self.d.chance(0.2) {
            network["fifo"] = json!(false);
            self.tag("network", "non-fifo");
        }
        if self.d.chance(0.15) {
            network["bandwidth"] = json!({ "default": *self.d.pick(&["100 Mbps", "1 Gbps"]) });
            self.tag("network", "bandwidth");
        }
        network
    }

    /// The replication block: mode and its options, topology, failover, transport options,
    /// anti-entropy and log retention.
    fn replication(&mut self, names: &[String], n: usize) -> Replication {
        let mode = *self.d.pick(&[
            Mode::MultiMaster,
            Mode::MultiMaster,
            Mode::PrimaryBackup,
            Mode::PrimaryBackup,
            Mode::Quorum,
            Mode::Chain,
        ]);
        let mut repl = Replication {
            mode,
            rep: Map::new(),
            failover: false,
            levels_read: vec!["read", "read_local", "read_quorum", "read_all"],
            levels_write: vec!["write", "write_local", "write_quorum", "write_all"],
            majority_acks: true,
            anti_entropy: false,
            retention: false,
        };
        let mode_name = match mode {
            Mode::MultiMaster => "multi-master",
            Mode::PrimaryBackup => "primary-backup",
            Mode::Quorum => "quorum",
            Mode::Chain => "chain",
        };
        repl.rep.insert("mode".into(), json!(mode_name));
        self.tag("mode", mode_name);
        let can_retopologise = self.mode(names, n, &mut repl);
        if can_retopologise {
            self.topology(names, n, &mut repl.rep);
        } else {
            self.tag(
                "topology",
                if mode == Mode::Chain { "chain" } else { "mesh" },
            );
        }
        if repl.failover {
            let fo = draw_failover(&mut self.d, names);
            self.tag("failover", fo.1);
            repl.rep.insert("failover".into(), fo.0);
        }
        self.transport(n, &mut repl);
        repl
    }

    /// The options of the drawn mode. Returns whether the mode's replication topology may be
    /// drawn too.
    fn mode(&mut self, names: &[String], n: usize, repl: &mut Replication) -> bool {
        let rep = &mut repl.rep;
        // Loss of acknowledged writes depends on who must hold a write before it is
        // acknowledged; a write level of `local` acknowledges at one region whatever the mode.
        match repl.mode {
            Mode::MultiMaster => true,
            Mode::PrimaryBackup => {
                let d = &mut self.d;
                let primary = d.pick(names).clone();
                rep.insert("primary".into(), json!(primary));
                let sync = *d.pick(&["async", "semi-sync", "sync"]);
                rep.insert("sync".into(), json!(sync));
                self.tag("sync", sync);
                let d = &mut self.d;
                let backups = n - 1;
                let acked_on = match sync {
                    "async" => 1,
                    "semi-sync" => 2,
                    _ => {
                        let k = if d.chance(0.3) && backups > 1 {
                            let k = d.int(1, backups as u64 - 1) as usize;
                            rep.insert("sync_backups".into(), json!(k));
                            k
                        } else {
                            backups
                        };
                        k + 1
                    }
                };
                repl.majority_acks = acked_on > n / 2;
                if d.chance(0.1) {
                    rep.insert("forward".into(), json!(false));
                    self.tag("pb", "no-forward");
                }
                repl.levels_read.push("read_primary");
                repl.failover = self.d.chance(0.7);
                !repl.failover
            }
            Mode::Quorum => {
                self.quorum(names, n, repl);
                false
            }
            Mode::Chain => {
                let d = &mut self.d;
                if d.chance(0.5) {
                    let mut order = names.to_vec();
                    d.shuffle(&mut order);
                    rep.insert("chain".into(), json!(order));
                }
                repl.levels_write = vec!["write"];
                repl.levels_read.push("read_primary");
                repl.failover = d.chance(0.6);
                false
            }
        }
    }

    /// The quorum mode's options: replica set, `w` and `r`, hinted handoff, read repair.
    fn quorum(&mut self, names: &[String], n: usize, repl: &mut Replication) {
        let rep = &mut repl.rep;
        let d = &mut self.d;
        let k = if d.chance(0.5) {
            n
        } else {
            d.int(1, n as u64) as usize
        };
        if d.chance(0.3) && k < n {
            let mut rs = names.to_vec();
            d.shuffle(&mut rs);
            rs.truncate(k);
            rep.insert("replicas".into(), json!(rs));
            self.tag("quorum", "replicas-list");
        } else {
            rep.insert("n".into(), json!(k));
        }
        let d = &mut self.d;
        let w = d.int(1, k as u64);
        let r = d.int(1, k as u64);
        rep.insert("w".into(), json!(w));
        rep.insert("r".into(), json!(r));
        self.tag("quorum", if w + r > k as u64 { "r+w>n" } else { "r+w<=n" });
        repl.majority_acks = w as usize > k / 2;
        let hh = self.d.chance(0.7);
        rep.insert("hinted_handoff".into(), json!(hh));
        self.tag("quorum", if hh { "hinted-handoff" } else { "no-hints" });
        if self.d.chance(0.5) {
            rep.insert("read_repair".into(), json!(true));
            self.tag("quorum", "read-repair");
        }
    }

    /// The replication topology and routing of a mode that lets them be chosen.
    fn topology(&mut self, names: &[String], n: usize, rep: &mut Map<String, Value>) {
        let topo = *self.d.pick(&[
            "mesh", "mesh", "ring", "ring-bi", "hub", "line", "tree", "custom",
        ]);
        self.tag("topology", topo);
        let d = &mut self.d;
        match topo {
            "ring-bi" => {
                rep.insert("topology".into(), json!("ring"));
                rep.insert("bidirectional".into(), json!(true));
            }
            "hub" => {
                rep.insert("topology".into(), json!("hub"));
                if d.chance(0.5) {
                    rep.insert("hub".into(), json!(d.pick(names).clone()));
                }
            }
            "tree" => {
                rep.insert("topology".into(), json!("tree"));
                rep.insert("fanout".into(), json!(d.int(1, 3)));
            }
            "custom" => {
                // A bidirectional ring (connected), plus a few random chords.
                let mut links: Vec<String> = (0..n)
                    .filter(|&i| n > 2 || i == 0)
                    .map(|i| format!("{} <-> {}", names[i], names[(i + 1) % n]))
                    .collect();
                for _ in 0..d.below(3) {
                    let (a, b) = (d.below(n as u64) as usize, d.below(n as u64) as usize);
                    if a != b {
                        links.push(format!("{} -> {}", names[a], names[b]));
                    }
                }
                rep.insert("topology".into(), json!("custom"));
                rep.insert("links".into(), json!(links));
            }
            t => {
                rep.insert("topology".into(), json!(t));
            }
        }
        if self.d.chance(0.4) {
            rep.insert("routing".into(), json!("shortest-latency"));
            self.tag("routing", "shortest-latency");
        }
    }

    /// Batching, window, retransmission, timeouts, compression, anti-entropy and retention.
    fn transport(&mut self, n: usize, repl: &mut Replication) {
        let rep = &mut repl.rep;
        let d = &mut self.d;
        if d.chance(0.2) {
            rep.insert(
                "batch".into(),
                json!({ "max_entries": d.int(4, 512), "max_delay": d.ms(0, 10) }),
            );
        }
        if d.chance(0.15) {
            rep.insert("window".into(), json!(d.int(8, 4096)));
        }
        if d.chance(0.15) {
            rep.insert(
                "retransmit".into(),
                json!({ "initial": d.ms(300, 2000), "min": d.ms(100, 300), "max": d.ms(2000, 5000) }),
            );
        }
        if d.chance(0.15) {
            rep.insert("request_timeout".into(), json!(d.ms(1000, 3000)));
        }
        if d.chance(0.1) {
            rep.insert("compression".into(), json!(0.5));
        }
        repl.anti_entropy = repl.mode != Mode::Chain && d.chance(0.4);
        if repl.anti_entropy {
            let branching = *d.pick(&[4u64, 16]);
            let leaves = if branching == 4 {
                *d.pick(&[16u64, 64, 256])
            } else {
                *d.pick(&[16u64, 256])
            };
            rep.insert(
                "anti_entropy".into(),
                json!({ "interval": format!("{}s", d.int(2, 8)), "fanout": d.int(1, (n as u64 - 1).max(1)), "leaves": leaves, "branching": branching }),
            );
            self.tag("anti-entropy", "on");
        }
        repl.retention = repl.mode != Mode::Chain && self.d.chance(0.25);
        if repl.retention {
            let v = json!(format!("{}s", self.d.int(2, 10)));
            repl.rep.insert("log_retention".into(), v);
            self.tag("log-retention", "bounded");
        }
    }

    /// Data: a conflict policy, and (multi-master) tables of every kind. Returns the workload
    /// so far (its tables, if any).
    fn data(&mut self, repl: &mut Replication) -> Map<String, Value> {
        let rep = &mut repl.rep;
        let mut workload = Map::new();
        if repl.mode == Mode::MultiMaster {
            let conflict = *self
                .d
                .pick(&["lww", "lww", "lww-hlc", "fww", "siblings", "manual", "crdt"]);
            rep.insert("conflict".into(), json!(conflict));
            if self.d.chance(0.5) {
                let (tables, policies) = draw_tables(&mut self.d, &mut self.pr);
                for p in &policies {
                    self.tag("policy", p);
                }
                workload.insert("tables".into(), Value::Object(tables.0));
                rep.insert("tables".into(), Value::Object(tables.1));
            } else {
                self.tag("policy", conflict);
            }
            // An operator needs a `manual` table to resolve (the validator says so).
            let manual = match rep.get("tables").and_then(|t| t.as_object()) {
                Some(t) => t.values().any(|p| p == "manual"),
                None => conflict == "manual",
            };
            if manual && self.d.chance(0.6) {
                rep.insert("operator".into(), json!({ "delay": self.d.ms(500, 5000) }));
                self.tag("policy", "manual+operator");
            }
        } else {
            self.tag("policy", "lww");
        }
        // Without hints a replica that missed a write stays behind until anti-entropy, or a
        // read repair of that very key, fixes it (documented): read repair alone leaves unread
        // keys apart.
        if repl.mode == Mode::Quorum
            && !repl.anti_entropy
            && rep.get("hinted_handoff") == Some(&json!(false))
        {
            self.pr.may_diverge = true;
        }
        // Bounded retention without anti-entropy leaves a key whose last entries were given up
        // behind for good, whatever its policy: gap fetches repair only keys written again
        // (documented under *Conflict resolution*). Counters and sets are then off too.
        if repl.retention && !repl.anti_entropy {
            self.pr.may_diverge = true;
            for c in ["counters-exact", "or-set-semantics", "or-map-semantics"] {
                self.pr.unpromised.insert(c.into());
            }
        }
        workload
    }

    /// Durability: group commit and backups. Returns whether backups are on.
    fn durability(&mut self, names: &[String], sc: &mut Value) -> bool {
        let mut durability = Map::new();
        if self.d.chance(0.15) {
            durability.insert("flush_interval".into(), json!(self.d.ms(5, 100)));
            self.pr.may_lose_acked = true;
            self.tag("durability", "group-commit");
        }
        let backup = self.d.chance(0.15);
        if backup {
            let d = &mut self.d;
            durability.insert(
                "backup".into(),
                json!({ "every": format!("{}s", d.int(3, 10)), "store": d.pick(names).clone(), "bandwidth": "100 Mbps" }),
            );
            self.tag("durability", "backup");
        }
        if !durability.is_empty() {
            sc["durability"] = Value::Object(durability);
        }
        backup
    }

    /// Clients: rates, key distribution, the operation mix (without tables), retries,
    /// rerouting and sessions.
    fn clients(
        &mut self,
        names: &[String],
        repl: &mut Replication,
        workload: &mut Map<String, Value>,
    ) {
        let d = &mut self.d;
        let rate = d.int(20, 120);
        workload.insert("rate_per_region".into(), json!(rate));
        if d.chance(0.2) {
            let quiet = d.pick(names).clone();
            workload.insert("rates".into(), json!({ quiet: 0 }));
        }
        if d.chance(0.5) {
            workload.insert(
                "key_distribution".into(),
                json!({ "zipf": *d.pick(&[0.6, 0.9, 1.1]) }),
            );
        }
        if !workload.contains_key("tables") {
            workload.insert("keys".into(), json!(d.int(20, 2000)));
            let mut ops: Vec<&str> = Vec::new();
            for l in &repl.levels_write {
                if d.chance(if *l == "write" { 1.0 } else { 0.4 }) {
                    ops.push(l);
                }
            }
            for l in &repl.levels_read {
                if d.chance(if *l == "read" { 0.8 } else { 0.4 }) {
                    ops.push(l);
                }
            }
            for o in &ops {
                self.tag("level", o);
            }
            if ops.contains(&"write_local") && repl.mode != Mode::MultiMaster {
                repl.majority_acks = false;
            }
            workload.insert("mix".into(), Value::Object(self.d.weights(&ops)));
        }
        if self.d.chance(0.3) {
            let d = &mut self.d;
            workload.insert(
                "retry".into(),
                json!({ "attempts": d.int(2, 4), "backoff": d.ms(50, 300) }),
            );
            self.tag("clients", "retry");
        }
        if self.d.chance(0.3) {
            workload.insert("reroute_after".into(), json!(self.d.ms(1000, 5000)));
            self.tag("clients", "reroute");
        }
        if self.d.chance(0.3) {
            workload.insert("sessions".into(), json!(self.d.int(1, 20)));
            self.tag("clients", "sessions");
        }
    }

    /// Faults: weather and scheduled faults.
    fn faults(
        &mut self,
        names: &[String],
        duration_s: u64,
        failover: bool,
        backup: bool,
        sc: &mut Value,
    ) {
        let tags = &mut self.tags;
        let mut tag = |k: &str, v: &str| {
            tags.insert((k.to_string(), v.to_string()));
        };
        let (weather, faults) =
            draw_faults(&mut self.d, names, duration_s, failover, backup, &mut tag);
        if let Some(w) = weather {
            sc["weather"] = w;
        }
        if !faults.is_empty() {
            if faults.iter().any(|f| f.get("region_loss").is_some()) {
                self.pr.may_lose_acked = true;
            }
            sc["faults"] = json!(faults);
        }
    }

    /// What this configuration promises, from what failover and faults were drawn.
    fn promises(&mut self, sc: &Value, repl: &Replication) {
        let pr = &mut self.pr;
        let failover = repl.failover;
        let fenced = sc["replication"]["failover"]["fencing"] != json!("none");
        if failover && !fenced {
            pr.may_split_brain = true;
            pr.may_lose_acked = true;
        }
        // A new primary need not hold what fewer than a majority acknowledged; an operator's
        // forced promotion discards what only the old primary held (counted as RPO).
        if failover && (!repl.majority_acks || sc["faults"].to_string().contains("promote")) {
            pr.may_lose_acked = true;
        }
        if failover && sc["replication"]["failover"]["rejoin"] == json!("reconcile") {
            pr.may_lose_acked = true;
        }
        let keeps = if pr.may_lose_acked {
            "may-lose-acked"
        } else {
            "keeps-acked"
        };
        self.tag("promises", keeps);
    }
}

/// A failover block: detector, lease, fencing, rejoin, priority. Returns it and its tag.
fn draw_failover(d: &mut Dice, names: &[String]) -> (Value, &'static str) {
    let interval = d.int(100, 250);
    // Long enough for the longest nominal round trip of any preset (about 400 ms) to fit a lease.
    let timeout = d.int(2000, 4000);
    let mut fo = Map::new();
    let manual = d.chance(0.15);
    if manual {
        fo.insert("mode".into(), json!("manual"));
    }
    if d.chance(0.3) {
        fo.insert(
            "detector".into(),
            json!({ "kind": "phi", "interval": format!("{interval}ms"), "threshold": d.int(8, 12), "min_std_dev": "500ms", "pause": "1s" }),
        );
    } else {
        fo.insert(
            "detector".into(),
            json!({ "kind": "heartbeat", "interval": format!("{interval}ms"), "timeout": format!("{timeout}ms") }),
        );
        // An explicit lease between what renewal needs (two heartbeats plus the longest round
        // trip of any preset, under 1 s) and the detector's suspicion.
        if d.chance(0.3) {
            fo.insert("lease".into(), json!(d.ms(1000, timeout * 9 / 10)));
        }
    }
    if d.chance(0.1) {
        fo.insert("fencing".into(), json!("none"));
    }
    if d.chance(0.3) {
        fo.insert("rejoin".into(), json!("reconcile"));
    }
    if d.chance(0.3) {
        let mut p = names.to_vec();
        d.shuffle(&mut p);
        fo.insert("priority".into(), json!(p));
        fo.insert("stagger".into(), json!(d.ms(50, 300)));
    }
    (Value::Object(fo), if manual { "manual" } else { "auto" })
}

type Tables = (Map<String, Value>, Map<String, Value>);

/// Workload tables of every kind with policies drawn for each; marks the semantics checks a
/// register policy does not promise.
fn draw_tables(d: &mut Dice, pr: &mut Promises) -> (Tables, Vec<String>) {
    let mut load = Map::new();
    let mut pol = Map::new();
    let mut policies = Vec::new();
    let mut add = |name: &str, spec: Value, policy: &str, load: &mut Map<String, Value>| {
        load.insert(name.into(), spec);
        pol.insert(name.into(), json!(policy));
        policies.push(policy.to_string());
    };
    // A table entry names one policy; `siblings`/`manual` fit registers only (the scenario-wide
    // `conflict` maps them to the table's CRDT).
    let registers = ["lww", "lww-hlc", "fww"];
    if d.chance(0.6) {
        let p = *d.pick(&["or-set", "or-set", "g-set", "2p-set", "crdt", "lww", "fww"]);
        let ops = match p {
            "g-set" => json!({ "add": 0.6, "get": 0.4 }),
            _ => json!({ "add": 0.45, "remove": 0.2, "get": 0.35 }),
        };
        if registers.contains(&p) {
            pr.unpromised.insert("or-set-semantics".into());
        }
        let spec = json!({ "keys": d.int(20, 500), "share": d.int(1, 5), "ops": ops, "elements": d.int(2, 16) });
        add("cart", spec, p, &mut load);
    }
    if d.chance(0.5) {
        let p = *d.pick(&["pn-counter", "pn-counter", "g-counter", "crdt", "lww"]);
        let ops = match p {
            "g-counter" => json!({ "incr": 0.6, "get": 0.4 }),
            _ => json!({ "incr": 0.3, "decr": 0.3, "get": 0.4 }),
        };
        if registers.contains(&p) {
            pr.unpromised.insert("counters-exact".into());
        }
        let spec = json!({ "keys": d.int(5, 200), "share": d.int(1, 5), "ops": ops });
        add("inventory", spec, p, &mut load);
    }
    if d.chance(0.5) {
        let p = *d.pick(&["or-map", "or-map", "lww-map", "crdt", "lww"]);
        if matches!(p, "lww-map" | "lww") {
            pr.unpromised.insert("or-map-semantics".into());
        }
        let spec = json!({ "keys": d.int(20, 500), "share": d.int(1, 5), "ops": { "put": 0.4, "remove": 0.1, "get": 0.5 }, "fields": d.int(2, 8) });
        add("settings", spec, p, &mut load);
    }
    if load.is_empty() || d.chance(0.5) {
        let p = *d.pick(&["lww", "lww-hlc", "fww", "siblings", "manual", "crdt"]);
        let spec = json!({ "keys": d.int(20, 1000), "share": d.int(1, 5), "ops": { "put": 0.5, "get": 0.5 } });
        add("profile", spec, p, &mut load);
    }
    ((load, pol), policies)
}

/// Weather of every shape (each kind with some probability) and a few explicit faults.
fn draw_faults(
    d: &mut Dice,
    names: &[String],
    duration_s: u64,
    failover: bool,
    backup: bool,
    tag: &mut impl FnMut(&str, &str),
) -> (Option<Value>, Vec<Value>) {
    let n = names.len();
    let mut weather = Map::new();
    if n >= 2 && d.chance(0.6) {
        // A non-transitive cut needs a third region to route around it.
        let all: &[&str] = if n >= 3 {
            &["isolate", "halves", "one-way", "non-transitive"]
        } else {
            &["isolate", "halves", "one-way"]
        };
        let shapes: Vec<&str> = all.iter().copied().filter(|_| d.chance(0.6)).collect();
        let shapes = if shapes.is_empty() {
            vec![*d.pick(all)]
        } else {
            shapes
        };
        for s in &shapes {
            tag("weather", s);
        }
        weather.insert(
            "partitions".into(),
            json!({ "per_min": d.int(1, 4), "duration": { "min": "1s", "max": format!("{}s", d.int(2, 8)) }, "shapes": shapes }),
        );
    }
    if d.chance(0.5) {
        weather.insert(
            "crashes".into(),
            json!({ "per_min": d.int(1, 3), "downtime": { "min": "1s", "max": format!("{}s", d.int(2, 8)) } }),
        );
        tag("weather", "crashes");
    }
    if n >= 2 && d.chance(0.4) {
        weather.insert(
            "degrades".into(),
            json!({ "per_min": d.int(1, 3), "duration": { "min": "1s", "max": "6s" }, "add_latency": { "min": "20ms", "max": "300ms" }, "loss": { "min": 0, "max": 0.3 } }),
        );
        tag("weather", "degrades");
    }
    if d.chance(0.3) {
        weather.insert(
            "clock_steps".into(),
            json!({ "per_min": d.int(1, 3), "by": { "min": "-800ms", "max": "800ms" } }),
        );
        tag("weather", "clock-steps");
    }
    let weather = (!weather.is_empty()).then(|| {
        weather.insert("start".into(), json!("1s"));
        weather.insert("end".into(), json!(format!("{}s", duration_s - 1)));
        Value::Object(weather)
    });
    let mut faults = Vec::new();
    let at = |d: &mut Dice| format!("{}ms", d.int(1000, (duration_s - 2) * 1000));
    if failover && d.chance(0.3) {
        faults.push(json!({ "at": at(d), "promote": d.pick(names).clone() }));
        tag("fault", "promote");
    }
    if d.chance(0.1) {
        let mut f = json!({ "at": at(d), "region_loss": d.pick(names).clone() });
        if d.chance(0.7) {
            f["for"] = json!(format!("{}s", d.int(1, 5)));
        }
        faults.push(f);
        tag(
            "fault",
            if backup {
                "region-loss+backup"
            } else {
                "region-loss"
            },
        );
    }
    if d.chance(0.15) {
        faults.push(json!({ "at": at(d), "crash": d.pick(names).clone(), "for": format!("{}ms", d.int(500, 5000)) }));
        tag("fault", "crash");
    }
    if d.chance(0.1) {
        faults.push(json!({ "at": at(d), "clock_step": { "region": d.pick(names).clone(), "by": format!("{}ms", d.int(0, 3000) as i64 - 1500) } }));
        tag("fault", "clock-step");
    }
    (weather, faults)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed draws the same scenario; different seeds differ.
    #[test]
    fn draws_are_deterministic() {
        assert_eq!(draw(7).yaml, draw(7).yaml);
        assert_ne!(draw(7).yaml, draw(8).yaml);
    }

    /// Every drawn scenario is one the validator accepts: a refusal is a bug in the swarm.
    #[test]
    fn every_draw_validates() {
        for seed in 1..=300 {
            let dr = draw(seed);
            if let Err(e) = crate::scenario::Scenario::parse(&dr.yaml, "swarm.yaml") {
                panic!("seed {seed}: {e}\n{}", dr.yaml);
            }
        }
    }
}
