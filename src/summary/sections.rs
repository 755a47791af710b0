//! The per-topic sections of a summary: replication strategy, consistency levels, efficiency,
//! staleness per region pair and stalls.

use super::{
    ms, ClassOut, Efficiency, LevelOut, LinkOut, ReplicationOut, StalenessPairOut, StallOut,
};
use crate::metrics::ns_to_ms;
use crate::metrics::RunOutput;
use crate::scenario::Scenario;

pub(super) fn replication_out(sc: &Scenario) -> ReplicationOut {
    use crate::replica::plan::{Strategy, Sync};
    let rep = &sc.replication;
    let name = |r: crate::replica::RegionId| sc.region_name(r).to_string();
    let detail = match &sc.plan.strategy {
        Strategy::MultiMaster => "every region accepts writes, acknowledged locally".to_string(),
        Strategy::PrimaryBackup {
            primary,
            forward,
            sync,
        } => format!(
            "primary {}, {}, {}",
            name(*primary),
            match sync {
                Sync::Async => "async".to_string(),
                Sync::SemiSync => "semi-sync".to_string(),
                Sync::Sync { backups } => format!("sync to {backups} backups"),
            },
            if *forward {
                "other regions forward writes"
            } else {
                "other regions reject writes"
            }
        ),
        Strategy::Chain { order } => format!(
            "chain {}",
            order
                .iter()
                .map(|r| name(*r))
                .collect::<Vec<_>>()
                .join(" -> ")
        ),
        Strategy::Quorum {
            w,
            r,
            hinted_handoff,
        } => {
            let n = sc.plan.replicas_per_key();
            format!(
                "n={n} w={w} r={r}{}{}",
                if *hinted_handoff {
                    ", hinted handoff"
                } else {
                    ", no hinted handoff"
                },
                if sc.plan.read_repair {
                    ", read repair"
                } else {
                    ""
                }
            )
        }
    };
    ReplicationOut {
        mode: rep.mode.clone(),
        topology: rep.topology.clone(),
        detail: {
            let mut d = detail;
            if let Some(r) = rep.log_retention {
                d.push_str(&format!(", log kept {r} per peer"));
            }
            if let Some(a) = &sc.plan.anti_entropy {
                d.push_str(&format!(", anti-entropy every {}", a.interval));
            }
            if let Some(f) = &sc.plan.failover {
                d.push_str(match (f.manual, &sc.plan.strategy) {
                    (true, _) => ", manual failover",
                    (false, Strategy::Chain { .. }) => {
                        ", automatic failover (the head reconfigures the chain)"
                    }
                    (false, _) => ", automatic failover",
                });
            }
            d
        },
    }
}

/// What a level waits for under the scenario's strategy, in words.
fn level_meaning(sc: &Scenario, write: bool, level: crate::replica::Level) -> String {
    use crate::replica::plan::Need;
    use crate::replica::Level;
    let plan = &sc.plan;
    let h = plan.replicas_per_key();
    if write {
        if plan.originator(crate::replica::RegionId(0)).is_none() {
            return "rejected outside the primary".into();
        }
        match plan.write_need(level, h) {
            Need::Region(r) if plan.failover.is_some() => {
                format!("committed at the tail ({} at first)", sc.region_name(r))
            }
            Need::Region(r) => format!("committed at the tail ({})", sc.region_name(r)),
            Need::All(_) => "committed at the tail and the read region".into(),
            Need::Count(1) => "held by the originating region".into(),
            Need::Count(k) => format!("held durably by {k} of {h} replicas"),
        }
    } else {
        match plan.read_level(level) {
            Level::Primary => match plan.read_primary() {
                Some(p) if plan.failover.is_some() => format!(
                    "read at the {} ({} at first)",
                    match plan.chain_order() {
                        Some(_) => "tail",
                        None => "primary",
                    },
                    sc.region_name(p)
                ),
                Some(p) => format!("read at {}", sc.region_name(p)),
                None => "local replica".into(),
            },
            Level::Quorum | Level::All => {
                let k = plan.read_need(plan.read_level(level), h);
                format!("newest of {k} of {h} replicas")
            }
            _ => "local replica (nearest if none here)".into(),
        }
    }
}

pub(super) fn level_rows(sc: &Scenario, obs: &crate::metrics::Observer) -> Vec<LevelOut> {
    use crate::replica::Level;
    let mut rows = Vec::new();
    for write in [true, false] {
        for level in Level::ALL {
            let l = &obs.levels[level.index()];
            let (lat, failed) = if write {
                (&l.write_latency, l.writes_failed)
            } else {
                (&l.read_latency, l.reads_failed)
            };
            if lat.count() == 0 && failed == 0 {
                continue;
            }
            let ok = lat.count();
            rows.push(LevelOut {
                op: if write { "write" } else { "read" }.into(),
                level: level.name().into(),
                meaning: level_meaning(sc, write, level),
                ok,
                failed,
                latency_ms: lat.to_ms(),
                stale: if write { 0 } else { l.reads_stale },
                stale_pct: if write || ok == 0 {
                    0.0
                } else {
                    100.0 * l.reads_stale as f64 / ok as f64
                },
                k_stale_mean: if write || l.reads_stale == 0 {
                    0.0
                } else {
                    l.k_stale_sum as f64 / l.reads_stale as f64
                },
                k_stale_max: if write { 0 } else { l.k_stale_max },
            });
        }
    }
    rows
}

pub(super) fn efficiency(
    sc: &Scenario,
    obs: &crate::metrics::Observer,
    names: &[String],
) -> Efficiency {
    let n = names.len();
    let writes = obs.writes_issued.max(1) as f64;
    let mut links = Vec::new();
    let mut total_cost = 0.0;
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let l = a * n + b;
            if obs.link_msgs[l] == 0 {
                continue;
            }
            let price = sc.cost_per_gb.as_ref().map(|c| c[l]);
            let cost = price.map(|p| p * obs.link_bytes[l] as f64 / 1e9);
            total_cost += cost.unwrap_or(0.0);
            links.push(LinkOut {
                link: format!("{}->{}", names[a], names[b]),
                messages: obs.link_msgs[l],
                bytes: obs.link_bytes[l],
                bytes_per_write: obs.link_bytes[l] as f64 / writes,
                usd_per_gb: price,
                cost_usd: cost,
            });
        }
    }
    let priced = sc.cost_per_gb.is_some();
    Efficiency {
        messages_per_write: obs.msgs.sent as f64 / writes,
        bytes_per_write: obs.msgs.bytes as f64 / writes,
        cost_usd: priced.then_some(total_cost),
        cost_per_million_writes_usd: priced.then(|| total_cost / writes * 1e6),
        links,
        classes: crate::replica::MsgClass::ALL
            .iter()
            .filter(|c| obs.class_msgs[**c as usize] > 0)
            .map(|c| ClassOut {
                class: c.name().to_string(),
                messages: obs.class_msgs[*c as usize],
                bytes: obs.class_bytes[*c as usize],
                bytes_per_write: obs.class_bytes[*c as usize] as f64 / writes,
            })
            .collect(),
    }
}

pub(super) fn staleness_pairs(
    obs: &crate::metrics::Observer,
    names: &[String],
) -> Vec<StalenessPairOut> {
    let n = names.len();
    let mut rows = Vec::new();
    for w in 0..n {
        for r in 0..n {
            let buckets = obs.staleness_pairs[w * n + r].finish();
            let reads: u64 = buckets.iter().map(|b| b.reads).sum();
            if reads == 0 {
                continue;
            }
            let fresh: u64 = buckets.iter().map(|b| b.fresh).sum();
            let (r100, f100) = buckets
                .iter()
                .filter(|b| b.age_le_ms <= 100.0)
                .fold((0, 0), |(a, f), b| (a + b.reads, f + b.fresh));
            rows.push(StalenessPairOut {
                writer: names[w].clone(),
                reader: names[r].clone(),
                reads,
                fresh_pct: 100.0 * fresh as f64 / reads as f64,
                reads_within_100ms: r100,
                fresh_within_100ms_pct: (r100 > 0).then(|| 100.0 * f100 as f64 / r100 as f64),
                t99_ms: t99(&buckets),
            });
        }
    }
    rows
}

/// The smallest bucket bound after which every later bucket has at least 99% fresh reads.
pub fn t99(buckets: &[crate::series::StalenessBucket]) -> Option<f64> {
    let ok = |b: &crate::series::StalenessBucket| b.fresh * 100 >= b.reads * 99;
    if buckets.last().is_some_and(|b| !ok(b)) {
        return None;
    }
    let first_bad_from_end = buckets.iter().rposition(|b| !ok(b));
    Some(match first_bad_from_end {
        None => 0.0,
        Some(i) => buckets[i].age_le_ms,
    })
}

pub(super) fn stall_rows(
    out: &RunOutput,
    obs: &crate::metrics::Observer,
    names: &[String],
) -> Vec<StallOut> {
    let mut rows = Vec::new();
    for (r, intervals) in obs.stalls().iter().enumerate() {
        let Some(&(from, to)) = intervals
            .iter()
            .max_by_key(|(a, b)| (b.0 - a.0, std::cmp::Reverse(a.0)))
        else {
            continue;
        };
        let total: u64 = intervals.iter().map(|(a, b)| b.0 - a.0).sum();
        // The fault in force when the stall began.
        let began = from;
        let during = out
            .faults
            .iter()
            .rev()
            .filter(|f| f.class.can_stall())
            .find(|f| f.at <= began && f.until.is_none_or(|u| u >= began))
            .map(|f| f.label.clone());
        rows.push(StallOut {
            region: names[r].clone(),
            total_ms: ns_to_ms(total),
            longest_ms: ns_to_ms(to.0 - from.0),
            longest_from_ms: ms(from),
            longest_to_ms: ms(to),
            during,
        });
    }
    rows
}
