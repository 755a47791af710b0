//! Building the validated plans of the `replication` section: strategy and routes, NTP, tables
//! and their policies, failover, and the cost table.

use super::*;

/// Builds the replication plan (strategy, routes, placement) from the `replication` block.
pub(super) fn replication_plan(
    v: &Validator,
    rep: &ReplicationSpec,
    n: usize,
    nominal: &[u64],
    keys: u64,
    value_bytes: u32,
) -> Result<Plan, ScenarioError> {
    // Settings of other modes and topologies are ignored rather than refused, so one file can
    // be compared across them (`sim compare --vary replication.mode=...`).
    if rep.mode == Mode::Quorum && rep.topology != Topology::Mesh {
        return Err(v.err(
            "replication.topology",
            "quorum coordinators write to every replica directly; use `topology: mesh`",
        ));
    }

    let strategy = strategy(v, rep, n)?;
    let links = topology_links(v, rep, n, &strategy)?;
    let origins: Vec<usize> = match &strategy {
        Strategy::MultiMaster | Strategy::Quorum { .. } => (0..n).collect(),
        // With failover any region may become the primary.
        Strategy::PrimaryBackup { .. } | Strategy::Chain { .. } if rep.failover.is_some() => {
            (0..n).collect()
        }
        Strategy::PrimaryBackup { primary, .. } => vec![primary.idx()],
        Strategy::Chain { order } => vec![order[0].idx()],
    };
    let routes = topology::routes(
        n,
        &links,
        nominal,
        rep.routing == Routing::ShortestLatency,
        &origins,
    )
    .map_err(|(o, u)| {
        v.err(
            "replication.topology",
            format!(
                "the {:?} topology is disconnected: {} cannot reach {}",
                rep.topology, v.names[o], v.names[u]
            )
            .to_lowercase(),
        )
    })?;

    let holders = holders(v, rep, n, keys, &strategy)?;
    let compression_permille = compression(v, rep, n)?;

    let nearest = (0..n)
        .map(|r| {
            let mut o: Vec<usize> = (0..n).filter(|&p| p != r).collect();
            o.sort_by_key(|&p| (nominal[r * n + p] + nominal[p * n + r], p));
            o.into_iter().map(|p| RegionId(p as u16)).collect()
        })
        .collect();

    if let Some(r) = rep.log_retention {
        v.floor(
            "replication.log_retention",
            r,
            FLOOR_TIMER,
            "a log kept for less than a millisecond is gone before any region can fetch it",
        )?;
    }
    let give_up_after = match (&strategy, rep.log_retention) {
        (
            Strategy::Quorum {
                hinted_handoff: false,
                ..
            },
            r,
        ) => Some(r.map_or(rep.request_timeout, |r| r.min(rep.request_timeout))),
        (_, r) => r,
    };
    let anti_entropy = anti_entropy(v, rep, n)?;

    let failover = match (&rep.failover, &strategy) {
        (Some(f), Strategy::PrimaryBackup { .. } | Strategy::Chain { .. }) => {
            let rtt = (0..n)
                .flat_map(|a| (0..n).map(move |b| (a, b)))
                .filter(|(a, b)| a != b)
                .map(|(a, b)| nominal[a * n + b] + nominal[b * n + a])
                .max()
                .unwrap_or(0);
            Some(failover_plan(v, f, n, rep, &strategy, Span(rtt))?)
        }
        _ => None,
    };

    Ok(Plan {
        n,
        strategy,
        routes,
        holders,
        nearest,
        request_timeout: rep.request_timeout,
        batch_delay: rep.batch.max_delay,
        compression_permille,
        read_repair: rep.read_repair,
        value_bytes,
        give_up_after,
        keys,
        anti_entropy,
        failover,
        // Set by the caller, which validates the tables with the workload.
        tables: Arc::new(Tables::single(keys, Policy::Lww)),
        operator: None,
    })
}

/// The mode and its own settings: the primary and sync level, the chain's order, quorum sizes.
fn strategy(v: &Validator, rep: &ReplicationSpec, n: usize) -> Result<Strategy, ScenarioError> {
    let idx = |path: &str, name: &str| v.region(path, name).map(|r| r.idx());
    Ok(match rep.mode {
        Mode::MultiMaster => Strategy::MultiMaster,
        Mode::PrimaryBackup => {
            let primary = match &rep.primary {
                Some(p) => idx("replication.primary", p)?,
                None => 0,
            };
            let sync = match rep.sync {
                SyncSpec::Async => Sync::Async,
                SyncSpec::SemiSync => Sync::SemiSync,
                SyncSpec::Sync => {
                    let backups = rep.sync_backups.unwrap_or(n as u32 - 1);
                    if backups as usize > n - 1 {
                        return Err(v.err(
                            "replication.sync_backups",
                            format!("there are only {} backups, got {backups}", n - 1),
                        ));
                    }
                    Sync::Sync { backups }
                }
            };
            Strategy::PrimaryBackup {
                primary: RegionId(primary as u16),
                forward: rep.forward,
                sync,
            }
        }
        Mode::Chain => {
            let order: Vec<usize> = match &rep.chain {
                None => (0..n).collect(),
                Some(names) => {
                    let mut o = Vec::new();
                    for (i, name) in names.iter().enumerate() {
                        let r = idx(&format!("replication.chain[{i}]"), name)?;
                        if o.contains(&r) {
                            return Err(v.err(
                                format!("replication.chain[{i}]"),
                                format!("`{name}` appears twice in the chain"),
                            ));
                        }
                        o.push(r);
                    }
                    if o.len() != n {
                        return Err(v.err(
                            "replication.chain",
                            "must list every region exactly once (head first, tail last)",
                        ));
                    }
                    o
                }
            };
            Strategy::Chain {
                order: order.iter().map(|&r| RegionId(r as u16)).collect(),
            }
        }
        Mode::Quorum => {
            let replicas_n = match (&rep.replicas, rep.n) {
                (Some(list), Some(k)) if list.len() != k as usize => {
                    return Err(v.err(
                        "replication.n",
                        format!("is {k} but `replicas` lists {} regions", list.len()),
                    ))
                }
                (Some(list), _) => list.len() as u32,
                (None, Some(k)) => k,
                (None, None) => n as u32,
            };
            if replicas_n == 0 || replicas_n as usize > n {
                return Err(v.err(
                    "replication.n",
                    format!("must be between 1 and the number of regions ({n}), got {replicas_n}"),
                ));
            }
            let maj = replicas_n / 2 + 1;
            let w = rep.w.unwrap_or(maj);
            let r = rep.r.unwrap_or(maj);
            for (name, x) in [("w", w), ("r", r)] {
                if x == 0 || x > replicas_n {
                    return Err(v.err(
                        format!("replication.{name}"),
                        format!("must be between 1 and n ({replicas_n}), got {x}"),
                    ));
                }
            }
            Strategy::Quorum {
                w,
                r,
                hinted_handoff: rep.hinted_handoff,
            }
        }
    })
}

/// Which region ships entries to which: the chain's order, or the topology.
fn topology_links(
    v: &Validator,
    rep: &ReplicationSpec,
    n: usize,
    strategy: &Strategy,
) -> Result<Vec<bool>, ScenarioError> {
    let idx = |path: &str, name: &str| v.region(path, name).map(|r| r.idx());
    Ok(match (strategy, rep.topology) {
        // With failover the head reconfigures the chain around failures: any region may feed
        // any other.
        (Strategy::Chain { .. }, _) if rep.failover.is_some() => topology::mesh(n),
        (Strategy::Chain { order }, _) => {
            let o: Vec<usize> = order.iter().map(|r| r.idx()).collect();
            // Entries only flow down the chain.
            let mut l = vec![false; n * n];
            for w in o.windows(2) {
                l[w[0] * n + w[1]] = true;
            }
            l
        }
        (_, Topology::Mesh) => topology::mesh(n),
        (_, Topology::Ring) => topology::ring(n, rep.bidirectional),
        (_, Topology::Hub) => {
            let h = match &rep.hub {
                Some(h) => idx("replication.hub", h)?,
                None => 0,
            };
            topology::hub(n, h)
        }
        (_, Topology::Line) => topology::line(n, &(0..n).collect::<Vec<_>>()),
        (_, Topology::Tree) => {
            let k = rep.fanout.unwrap_or(2);
            if k == 0 {
                return Err(v.err("replication.fanout", "must be at least 1"));
            }
            topology::tree(n, k as usize)
        }
        (_, Topology::Custom) => {
            if rep.links.is_empty() {
                return Err(v.err("replication.links", "`topology: custom` needs `links`"));
            }
            let mut l = vec![false; n * n];
            for (i, text) in rep.links.iter().enumerate() {
                for (a, b) in v.link(&format!("replication.links[{i}]"), text)? {
                    l[a.idx() * n + b.idx()] = true;
                }
            }
            l
        }
    })
}

/// Quorum placement: the listed replicas, or consistent hashing when `n` is below the regions.
fn holders(
    v: &Validator,
    rep: &ReplicationSpec,
    n: usize,
    keys: u64,
    strategy: &Strategy,
) -> Result<Option<Arc<Vec<u64>>>, ScenarioError> {
    let idx = |path: &str, name: &str| v.region(path, name).map(|r| r.idx());
    Ok(match (strategy, &rep.replicas) {
        (Strategy::Quorum { .. }, Some(list)) => {
            let mut mask = 0u64;
            for (i, name) in list.iter().enumerate() {
                let r = idx(&format!("replication.replicas[{i}]"), name)?;
                if mask & (1 << r) != 0 {
                    return Err(v.err(
                        format!("replication.replicas[{i}]"),
                        format!("`{name}` is listed twice"),
                    ));
                }
                mask |= 1 << r;
            }
            Some(Arc::new(vec![mask; keys as usize]))
        }
        (Strategy::Quorum { .. }, None) if rep.n.is_some_and(|k| (k as usize) < n) => {
            Some(Arc::new(topology::consistent_hash(
                n,
                rep.n.unwrap_or(0) as usize,
                keys,
            )))
        }
        _ => None,
    })
}

/// Compression per ordered pair, in thousandths of the raw size.
fn compression(v: &Validator, rep: &ReplicationSpec, n: usize) -> Result<Vec<u32>, ScenarioError> {
    let mut compression_permille = vec![1000u32; n * n];
    let ratio = |path: &str, x: f64| -> Result<u32, ScenarioError> {
        if x.is_finite() && x > 0.0 && x <= 10.0 {
            Ok((x * 1000.0).round().max(1.0) as u32)
        } else {
            Err(v.err(
                path,
                format!("must be a ratio above 0 (at most 10), got {x}"),
            ))
        }
    };
    match &rep.compression {
        None => {}
        Some(CompressionSpec::Ratio(x)) => {
            let r = ratio("replication.compression", *x)?;
            compression_permille.iter_mut().for_each(|c| *c = r);
        }
        Some(CompressionSpec::PerLink { default, links }) => {
            let r = ratio("replication.compression.default", *default)?;
            compression_permille.iter_mut().for_each(|c| *c = r);
            for (key, x) in links {
                let path = format!("replication.compression.links.\"{key}\"");
                let r = ratio(&path, *x)?;
                for (a, b) in v.link(&path, key)? {
                    compression_permille[a.idx() * n + b.idx()] = r;
                }
            }
        }
    }
    Ok(compression_permille)
}

/// Anti-entropy rounds: interval, fanout and the digest tree's shape.
fn anti_entropy(
    v: &Validator,
    rep: &ReplicationSpec,
    n: usize,
) -> Result<Option<AntiEntropy>, ScenarioError> {
    Ok(match rep.anti_entropy {
        None => None,
        Some(a) => {
            let p = "replication.anti_entropy";
            v.floor(
                &format!("{p}.interval"),
                a.interval,
                FLOOR_ANTI_ENTROPY,
                "every round compares digests with a peer across the network",
            )?;
            if a.fanout == 0 || a.fanout as usize >= n.max(2) {
                return Err(v.err(
                    format!("{p}.fanout"),
                    format!(
                        "must be between 1 and {} (the other regions), got {}",
                        n.saturating_sub(1).max(1),
                        a.fanout
                    ),
                ));
            }
            if !(2..=256).contains(&a.branching) {
                return Err(v.err(
                    format!("{p}.branching"),
                    format!("must be between 2 and 256, got {}", a.branching),
                ));
            }
            let mut w = 1u64;
            while w < a.leaves as u64 {
                w *= a.branching as u64;
            }
            if w != a.leaves as u64 || a.leaves > 1 << 20 {
                return Err(v.err(
                    format!("{p}.leaves"),
                    format!(
                        "must be a power of branching ({}) up to 1048576, got {}",
                        a.branching, a.leaves
                    ),
                ));
            }
            Some(AntiEntropy {
                interval: a.interval,
                fanout: a.fanout,
                leaves: a.leaves,
                branching: a.branching,
            })
        }
    })
}

/// Validates an `ntp` block at `path`.
pub(super) fn ntp_plan(
    v: &Validator,
    path: &str,
    n: &NtpSpec,
) -> Result<crate::time::ClockSync, ScenarioError> {
    v.floor(
        &format!("{path}.interval"),
        n.interval,
        FLOOR_TIMER,
        "a time daemon polls its servers over the network",
    )?;
    if n.accuracy.0 >= n.step_threshold.0 {
        return Err(v.err(
            format!("{path}.accuracy"),
            "must be below step_threshold (or every poll would step the clock)",
        ));
    }
    if !n.max_slew_ppm.is_finite() || n.max_slew_ppm <= 0.0 || n.max_slew_ppm > 100_000.0 {
        return Err(v.err(
            format!("{path}.max_slew_ppm"),
            format!("must be in (0, 100000] ppm, got {}", n.max_slew_ppm),
        ));
    }
    Ok(crate::time::ClockSync {
        interval_ns: n.interval.0,
        accuracy_ns: n.accuracy.0,
        step_threshold_ns: n.step_threshold.0,
        max_slew_ppb: (n.max_slew_ppm * 1000.0).round() as i64,
    })
}

/// Validates `workload.tables` with `replication.conflict` and `replication.tables`: the
/// tables in key order with their policies, what their clients do, and the key space's size.
pub(super) fn tables_plan(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<(Tables, Vec<TableLoad>, u64), ScenarioError> {
    let (w, rep) = (&spec.workload, &spec.replication);
    if w.tables.is_empty() {
        if let Some(name) = rep.tables.keys().next() {
            return Err(v.err(
                format!("replication.tables.{name}"),
                "there are no `workload.tables` to give a policy to",
            ));
        }
        let policy = rep.conflict.policy(Shape::Register);
        return Ok((Tables::single(w.keys, policy), Vec::new(), w.keys));
    }
    if w.mix != MixSpec::default() {
        return Err(v.err(
            "workload.mix",
            "with `tables`, each table's `ops` sets what its clients do; remove `mix`",
        ));
    }
    for name in rep.tables.keys() {
        if !w.tables.contains_key(name) {
            let known: Vec<&str> = w.tables.keys().map(|s| s.as_str()).collect();
            return Err(v.err(
                format!("replication.tables.{name}"),
                format!("no workload table `{name}` (tables: {})", known.join(", ")),
            ));
        }
    }
    let total_share: f64 = w.tables.values().map(|t| t.share).sum();
    let (mut tables, mut loads) = (Vec::new(), Vec::new());
    let (mut first, mut share_upto) = (0u64, 0.0);
    for (name, t) in &w.tables {
        let (ops, shape, policy) = table_plan(v, rep, name, t)?;
        share_upto += t.share / total_share;
        tables.push(Table {
            name: name.clone(),
            first,
            end: first + t.keys,
            policy,
            shape,
        });
        loads.push(TableLoad {
            name: name.clone(),
            first,
            keys: t.keys,
            share_upto,
            ops,
            elements: t.elements,
            fields: t.fields.unwrap_or(0),
            amount: t.amount,
        });
        first = first.saturating_add(t.keys);
    }
    if let Some(last) = loads.last_mut() {
        last.share_upto = f64::INFINITY;
    }
    if w.keys != 0 && w.keys != first {
        return Err(v.err(
            "workload.keys",
            format!(
                "the tables hold {first} keys, but `keys` says {}; leave `keys` out",
                w.keys
            ),
        ));
    }
    Ok((Tables(tables), loads, first))
}

/// Validates one workload table `name`: its sizes, its operation weights (returned as the
/// cumulative draw table), its shape and the policy that holds it.
#[allow(clippy::type_complexity)]
fn table_plan(
    v: &Validator,
    rep: &ReplicationSpec,
    name: &str,
    t: &TableSpec,
) -> Result<(Vec<(f64, TableOp)>, Shape, Policy), ScenarioError> {
    let p = format!("workload.tables.{name}");
    if t.keys == 0 {
        return Err(v.err(format!("{p}.keys"), "must be at least 1"));
    }
    if !(t.share.is_finite() && t.share > 0.0) {
        return Err(v.err(format!("{p}.share"), "must be a number above 0"));
    }
    if t.elements == 0 {
        return Err(v.err(format!("{p}.elements"), "must be at least 1"));
    }
    if t.amount == 0 {
        return Err(v.err(format!("{p}.amount"), "must be at least 1"));
    }
    let mut ops = Vec::new();
    let mut total = 0.0;
    for (op, kind, weight) in t.ops.weights() {
        v.probability(&format!("{p}.ops.{op}"), weight)?;
        total += weight;
        if weight > 0.0 {
            ops.push((total, kind));
        }
    }
    if (total - 1.0).abs() > 1e-9 {
        return Err(v.err(
            format!("{p}.ops"),
            format!("the operation weights must add up to 1, got {total}"),
        ));
    }
    if let Some(last) = ops.last_mut() {
        last.0 = f64::INFINITY; // rounding must never leave a gap at the top
    }
    let shape = table_shape(v, &p, t)?;
    let policy = table_policy(v, rep, name, t, shape)?;
    Ok((ops, shape, policy))
}

/// A table's shape by its operations (a map if it has `fields`); a table mixing shapes is
/// refused.
fn table_shape(v: &Validator, p: &str, t: &TableSpec) -> Result<Shape, ScenarioError> {
    let o = &t.ops;
    if let Some(fields) = t.fields {
        if fields == 0 {
            return Err(v.err(format!("{p}.fields"), "must be at least 1"));
        }
        if o.incr + o.decr + o.add > 0.0 {
            return Err(v.err(
                format!("{p}.ops"),
                "a map table (one with `fields`) takes put and remove of a field, and get; counters and sets go in tables of their own",
            ));
        }
        return Ok(Shape::Map);
    }
    let shapes = [
        (o.put > 0.0, Shape::Register),
        (o.incr + o.decr > 0.0, Shape::Counter),
        (o.add + o.remove > 0.0, Shape::Set),
    ];
    let used: Vec<Shape> = shapes.iter().filter(|s| s.0).map(|s| s.1).collect();
    if used.len() > 1 {
        return Err(v.err(
            format!("{p}.ops"),
            "a table is a register (put), a counter (incr, decr), a set (add, remove) or, with `fields`, a map (put, remove); split it into tables",
        ));
    }
    Ok(used.first().copied().unwrap_or(Shape::Register))
}

/// The policy of table `name` (its own, or the conflict policy's for its shape), checked
/// against its shape, its operations and the replication mode.
fn table_policy(
    v: &Validator,
    rep: &ReplicationSpec,
    name: &str,
    t: &TableSpec,
    shape: Shape,
) -> Result<Policy, ScenarioError> {
    let o = &t.ops;
    let policy = match rep.tables.get(name) {
        None => rep.conflict.policy(shape),
        Some(text) => parse_policy(text, shape).ok_or_else(|| {
            v.err(
                format!("replication.tables.{name}"),
                format!(
                    "unknown policy `{text}`; expected one of {}",
                    policy_names()
                ),
            )
        })?,
    };
    let at = if rep.tables.contains_key(name) {
        format!("replication.tables.{name}")
    } else {
        "replication.conflict".to_string()
    };
    if !policy.fits(shape) {
        return Err(v.err(
            at,
            format!(
                "`{}` cannot hold table `{name}`, which is a {} by its operations",
                policy.name(),
                shape.name()
            ),
        ));
    }
    if let Some((refused, why)) = policy.refuses() {
        let sent = o.weights().iter().any(|w| w.0 == refused && w.2 > 0.0);
        if sent {
            return Err(v.err(
                at,
                format!("a {} {why}, but `{name}` has `{refused}`", policy.name()),
            ));
        }
    }
    if (policy.merges() || shape != Shape::Register) && rep.mode != Mode::MultiMaster {
        return Err(v.err(
            at,
            format!(
                "table `{name}` ({} under `{}`) needs `replication.mode: multi-master`: read-modify-write and merged values are modelled for active-active replication",
                shape.name(),
                policy.name()
            ),
        ));
    }
    Ok(policy)
}

/// A policy name from `replication.tables`.
pub(super) fn parse_policy(text: &str, shape: Shape) -> Option<Policy> {
    if text == "crdt" {
        return Some(Policy::crdt_for(shape));
    }
    Policy::from_name(text)
}

/// Every name `replication.tables` accepts, as errors list them: the policies that can hold
/// a register, `crdt`, then the rest, in registry order.
fn policy_names() -> String {
    let (registers, rest): (Vec<Policy>, Vec<Policy>) = Policy::ALL
        .into_iter()
        .partition(|p| p.fits(Shape::Register));
    let names = registers.iter().map(|p| p.name()).chain(["crdt"]);
    let names: Vec<&str> = names.chain(rest.iter().map(|p| p.name())).collect();
    names.join(", ")
}

/// Validates `replication.failover`.
pub(super) fn failover_plan(
    v: &Validator,
    f: &FailoverSpec,
    n: usize,
    rep: &ReplicationSpec,
    strategy: &Strategy,
    max_rtt: Span,
) -> Result<Failover, ScenarioError> {
    let p = "replication.failover";
    let chain = match strategy {
        Strategy::Chain { order } => Some(order),
        _ => None,
    };
    if rep.topology != Topology::Mesh && chain.is_none() {
        return Err(v.err(
            "replication.topology",
            "failover needs `topology: mesh`: a new primary must reach every backup directly",
        ));
    }
    if n < 2 {
        return Err(v.err(p, "failover needs at least two regions"));
    }
    let detector = detector_plan(v, p, &f.detector)?;
    let lease = lease_plan(v, f, &detector, max_rtt)?;
    let priority = priority_plan(v, f, n, chain.map(|o| o.as_slice()))?;
    Ok(Failover {
        detector,
        lease,
        fencing: f.fencing == FencingSpec::Lease,
        rejoin: match f.rejoin {
            RejoinSpec::Discard => Rejoin::Discard,
            RejoinSpec::Reconcile => Rejoin::Reconcile,
        },
        priority,
        stagger: f.stagger,
        manual: f.mode == FailoverMode::Manual,
    })
}

/// Validates `replication.failover.detector`: a heartbeat timeout or a phi accrual detector.
fn detector_plan(
    v: &Validator,
    p: &str,
    d: &DetectorConfig,
) -> Result<DetectorSpec, ScenarioError> {
    let dp = format!("{p}.detector");
    v.floor(
        &format!("{dp}.interval"),
        d.interval,
        FLOOR_TIMER,
        "every region heartbeats every other region at this interval",
    )?;
    let detector = match d.kind {
        DetectorKind::Heartbeat => {
            if d.threshold.is_some() || d.window.is_some() || d.min_std_dev.is_some() {
                return Err(v.err(
                    dp,
                    "`threshold`, `window` and `min_std_dev` belong to `kind: phi`",
                ));
            }
            let timeout = d.timeout.unwrap_or(Span(d.interval.0 * 10));
            if timeout <= d.interval {
                return Err(v.err(
                    format!("{dp}.timeout"),
                    format!(
                        "must be longer than the heartbeat interval ({})",
                        d.interval
                    ),
                ));
            }
            DetectorSpec::Heartbeat {
                interval: d.interval,
                timeout,
            }
        }
        DetectorKind::Phi => {
            if d.timeout.is_some() {
                return Err(v.err(
                    format!("{dp}.timeout"),
                    "a phi detector has no fixed timeout; set `threshold`",
                ));
            }
            let threshold = d.threshold.unwrap_or(8.0);
            if !(threshold.is_finite() && threshold > 0.0 && threshold <= 30.0) {
                return Err(v.err(
                    format!("{dp}.threshold"),
                    format!("must be above 0 and at most 30, got {threshold}"),
                ));
            }
            let window = d.window.unwrap_or(100);
            if window == 0 || window > 10_000 {
                return Err(v.err(
                    format!("{dp}.window"),
                    format!("must be between 1 and 10000 samples, got {window}"),
                ));
            }
            DetectorSpec::Phi {
                interval: d.interval,
                threshold,
                window,
                min_std_dev: d.min_std_dev.unwrap_or(Span::from_millis(100)).max(Span(1)),
                pause: d.pause.unwrap_or(Span::ZERO),
            }
        }
    };
    Ok(detector)
}

/// The primary's lease (given, or derived from the detector's earliest suspicion), checked
/// to be renewable from heartbeats and to expire before a successor can be elected.
fn lease_plan(
    v: &Validator,
    f: &FailoverSpec,
    detector: &DetectorSpec,
    max_rtt: Span,
) -> Result<Span, ScenarioError> {
    let p = "replication.failover";
    let d = &f.detector;
    let hm = |x: Span| crate::units::human_ms(x.as_ms_f64());
    let earliest = detector.earliest_suspicion();
    // A primary renews its lease from heartbeat echoes. At a heartbeat tick the freshest echo
    // it is sure to hold is of a heartbeat sent two intervals plus a round trip ago (the peer
    // echoes on its own next tick): a shorter lease and a healthy primary keeps losing it.
    let need = Span(2 * d.interval.0 + max_rtt.0);
    let lease = f.lease.unwrap_or(if earliest.0 / 10 * 8 > need.0 {
        Span(earliest.0 / 10 * 8)
    } else {
        Span((need.0 + earliest.0) / 2)
    });
    if let Some(l) = f.lease {
        v.floor(
            &format!("{p}.lease"),
            l,
            FLOOR_TIMER,
            "a lease is renewed from heartbeats across the network",
        )?;
    }
    if f.fencing == FencingSpec::Lease && lease <= need {
        return Err(v.err(
            format!("{p}.lease"),
            format!(
                "{} is too short: a primary renews its lease from heartbeat echoes, which \
                 can be two heartbeat intervals ({}) plus the longest round trip ({}) old; \
                 lengthen the detector's timeout (or raise a phi detector's threshold or \
                 min_std_dev) so that a lease fits below its earliest suspicion ({})",
                hm(lease),
                hm(d.interval),
                hm(max_rtt),
                hm(earliest)
            ),
        ));
    }
    if f.fencing == FencingSpec::Lease && (lease == Span::ZERO || lease >= earliest) {
        return Err(v.err(
            format!("{p}.lease"),
            format!(
                "must be above 0 and below the detector's earliest suspicion ({}), or a deposed \
                 primary could still accept writes when its successor is elected",
                hm(earliest)
            ),
        ));
    }
    Ok(lease)
}

/// The order regions are promoted in: the given `priority` list, else a chain's order, else
/// region order.
fn priority_plan(
    v: &Validator,
    f: &FailoverSpec,
    n: usize,
    chain: Option<&[RegionId]>,
) -> Result<Vec<RegionId>, ScenarioError> {
    let p = "replication.failover";
    let priority = match &f.priority {
        // A chain's head is best succeeded by its successor, which holds the most.
        None => match chain {
            Some(order) => order.to_vec(),
            None => (0..n).map(|i| RegionId(i as u16)).collect(),
        },
        Some(list) => {
            let mut out: Vec<RegionId> = Vec::new();
            for (i, name) in list.iter().enumerate() {
                let r = v.region(&format!("{p}.priority[{i}]"), name)?;
                if out.contains(&r) {
                    return Err(v.err(
                        format!("{p}.priority[{i}]"),
                        format!("`{name}` is listed twice"),
                    ));
                }
                out.push(r);
            }
            out
        }
    };
    Ok(priority)
}

/// Resolves the `cost` block to a price per directed link.
pub(super) fn cost_table(
    v: &Validator,
    c: &CostSpec,
    regions: &[Region],
    latency_map: &BTreeMap<String, String>,
) -> Result<Vec<f64>, ScenarioError> {
    let n = regions.len();
    let price = |path: &str, x: f64| -> Result<f64, ScenarioError> {
        if x.is_finite() && (0.0..=100.0).contains(&x) {
            Ok(x)
        } else {
            Err(v.err(
                path,
                format!("must be a price in USD per GB between 0 and 100, got {x}"),
            ))
        }
    };
    let mut table: Vec<Option<f64>> = vec![None; n * n];
    for (key, x) in &c.links {
        let path = format!("cost.links.\"{key}\"");
        let x = price(&path, *x)?;
        for (a, b) in v.link(&path, key)? {
            table[a.idx() * n + b.idx()] = Some(x);
        }
    }
    let sheet = match &c.preset {
        None => None,
        Some(name) => Some(presets::find_cost(name).ok_or_else(|| {
            v.err(
                "cost.preset",
                format!(
                    "unknown cost preset `{name}`; available: {}",
                    presets::cost_names().join(", ")
                ),
            )
        })?),
    };
    for from in c.map.keys() {
        v.region(&format!("cost.map.{from}"), from)?;
    }
    let default = match c.default {
        Some(x) => Some(price("cost.default", x)?),
        None => None,
    };
    let sheet_name = |r: &Region| -> String {
        c.map
            .get(&r.name)
            .or_else(|| latency_map.get(&r.name))
            .cloned()
            .unwrap_or_else(|| r.name.clone())
    };
    let mut out = vec![0.0; n * n];
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            out[a * n + b] = match table[a * n + b] {
                Some(x) => x,
                None => match sheet
                    .as_ref()
                    .and_then(|s| s.price(&sheet_name(&regions[a]), &sheet_name(&regions[b])))
                    .or(default)
                {
                    Some(x) => x,
                    None => {
                        return Err(v.err(
                            "cost",
                            format!(
                                "no price for {} -> {}: add it under `links`, set a `default`, or use a `preset` that has the region",
                                regions[a].name, regions[b].name
                            ),
                        ))
                    }
                },
            };
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The names an unknown policy's error lists, and which policy each `conflict` picks for
    /// each shape, are what they were when both were written out by hand.
    #[test]
    fn policy_names_and_conflict_defaults_come_from_the_registry() {
        assert_eq!(
            policy_names(),
            "lww, lww-hlc, fww, siblings, manual, crdt, pn-counter, g-counter, or-set, g-set, 2p-set, or-map, lww-map"
        );
        let shapes = [Shape::Register, Shape::Counter, Shape::Set, Shape::Map];
        let crdts = [
            Policy::Siblings,
            Policy::PnCounter,
            Policy::OrSet,
            Policy::OrMap,
        ];
        for (shape, crdt) in shapes.into_iter().zip(crdts) {
            for (c, p) in [
                (Conflict::Lww, Policy::Lww),
                (Conflict::LwwHlc, Policy::LwwHlc),
                (Conflict::Fww, Policy::Fww),
            ] {
                assert_eq!(c.policy(shape), p, "{c:?} holds every shape");
            }
            let mv = |p| if shape == Shape::Register { p } else { crdt };
            assert_eq!(Conflict::Siblings.policy(shape), mv(Policy::Siblings));
            assert_eq!(Conflict::Manual.policy(shape), mv(Policy::Manual));
            assert_eq!(Conflict::Crdt.policy(shape), crdt);
            assert_eq!(parse_policy("crdt", shape), Some(crdt));
        }
        assert_eq!(parse_policy("2p-set", Shape::Set), Some(Policy::TwoPSet));
        assert_eq!(parse_policy("bag", Shape::Set), None);
    }

    /// A grow-only policy refuses the operation that would shrink it, by the policy's name and
    /// the operation's, at the table's path; the exact messages of before the registry.
    #[test]
    fn grow_only_policies_refuse_their_shrinking_operation() {
        let yaml = |tables: &str| {
            format!(
                "name: t\nduration: 10s\nregions: [{{ name: a }}, {{ name: b }}]\n\
                 network: {{ latency: {{ default: 50ms }} }}\n\
                 workload:\n  rate_per_region: 10\n  tables:\n\
                 \x20   cart: {{ keys: 4, ops: {{ add: 0.5, remove: 0.5 }} }}\n\
                 \x20   stock: {{ keys: 3, ops: {{ incr: 0.5, decr: 0.3, get: 0.2 }} }}\n\
                 replication: {{ tables: {{ {tables} }} }}\n"
            )
        };
        let err = |t: &str| {
            crate::scenario::Scenario::parse(&yaml(t), "t.yaml")
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            err("stock: g-counter"),
            "t.yaml: replication.tables.stock: a g-counter only grows, but `stock` has `decr`"
        );
        assert_eq!(
            err("cart: g-set"),
            "t.yaml: replication.tables.cart: a g-set only grows, but `cart` has `remove`"
        );
        assert_eq!(
            err("cart: bag"),
            format!(
                "t.yaml: replication.tables.cart: unknown policy `bag`; expected one of {}",
                policy_names()
            )
        );
        crate::scenario::Scenario::parse(&yaml("cart: or-set, stock: pn-counter"), "t.yaml")
            .expect("the CRDTs hold both tables");
    }
}
