//! The `replication` and `durability` sections: timers with their floors, the replication plan
//! with its tables and operator, and backups.

use super::*;

/// The replication and durability timers, each against its floor.
pub(in crate::scenario) fn timers(v: &Validator, spec: &ScenarioSpec) -> Result<(), ScenarioError> {
    let rep = &spec.replication;
    if rep.window == 0 {
        return Err(v.err("replication.window", "must be at least 1"));
    }
    if rep.batch.max_entries == 0 {
        return Err(v.err("replication.batch.max_entries", "must be at least 1"));
    }
    let rt = rep.retransmit;
    for (name, value) in [("initial", rt.initial), ("min", rt.min), ("max", rt.max)] {
        v.floor(
            &format!("replication.retransmit.{name}"),
            value,
            FLOOR_TIMER,
            "every unacknowledged message is resent each time it runs out",
        )?;
    }
    if rt.min > rt.max {
        return Err(v.err(
            "replication.retransmit",
            format!("min ({}) must not exceed max ({})", rt.min, rt.max),
        ));
    }
    v.floor(
        "replication.request_timeout",
        rep.request_timeout,
        FLOOR_TIMER,
        "a request waits at least this long for replies from across the network",
    )?;
    v.floor_or_zero(
        "durability.flush_interval",
        spec.durability.flush_interval,
        FLOOR_TIMER,
        "a region with unsynced writes fsyncs at this interval",
    )?;
    Ok(())
}

/// The replication plan: strategy, routes and placement, the tables, a conflict operator.
pub(in crate::scenario) fn plan(
    v: &Validator,
    spec: &ScenarioSpec,
    nominal: &[u64],
    keys: u64,
    tables: Tables,
) -> Result<Plan, ScenarioError> {
    let rep = &spec.replication;
    let n = spec.regions.len();
    let mut plan = replication_plan(v, rep, n, nominal, keys, spec.workload.value_bytes)?;
    if let Some(o) = rep.operator {
        if !tables.0.iter().any(|t| t.policy.parks_conflicts()) {
            return Err(v.err(
                "replication.operator",
                "resolves `manual` conflicts, but no table uses the `manual` policy",
            ));
        }
        v.floor(
            "replication.operator.delay",
            o.delay,
            FLOOR_TIMER,
            "an operator resolves each conflict after this delay",
        )?;
        plan.operator = Some(o.delay);
    }
    plan.tables = Arc::new(tables);
    Ok(plan)
}

/// Periodic snapshots to a store region.
pub(in crate::scenario) fn backup(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<Option<Backup>, ScenarioError> {
    Ok(match &spec.durability.backup {
        None => None,
        Some(b) => {
            let p = "durability.backup";
            if b.every < Span::from_secs(1) {
                return Err(v.err(
                    format!("{p}.every"),
                    format!("{} is too often: at least 1s between snapshots", b.every),
                ));
            }
            Some(Backup {
                every: b.every,
                store: v.region(&format!("{p}.store"), &b.store)?,
                bits_per_sec: b.bandwidth.bits_per_sec,
            })
        }
    })
}

/// The transport settings and the design's names as reports give them.
pub(super) fn model(spec: &ScenarioSpec, regions: &[Region]) -> ReplicationModel {
    let rep = &spec.replication;
    // The names as written in YAML.
    let yaml_name = |v: serde_json::Value| v.as_str().unwrap_or_default().to_string();
    let t = yaml_name(serde_json::to_value(rep.topology).expect("unit variant"));
    let t = match rep.topology {
        Topology::Ring if rep.bidirectional => "ring (bidirectional)".into(),
        // Without `hub`, the first region is the hub.
        Topology::Hub => format!("hub ({})", rep.hub.as_deref().unwrap_or(&regions[0].name)),
        _ => t,
    };
    let topology = if rep.routing == Routing::ShortestLatency {
        format!("{t}, shortest-latency routing")
    } else {
        t
    };
    ReplicationModel {
        mode: yaml_name(serde_json::to_value(rep.mode).expect("unit variant")),
        topology,
        log_retention: rep.log_retention,
        window: rep.window,
        max_batch: rep.batch.max_entries,
        rto_initial: rep.retransmit.initial,
        rto_min: rep.retransmit.min,
        rto_max: rep.retransmit.max,
    }
}
