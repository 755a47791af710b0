//! Assembles a [`RunSummary`] from a finished run: the lost writes and the failures they are
//! charged to, the checks of the registry, every reported section and the expectations.

use super::phases::{phase_spans, phases_at};
use super::sections::{efficiency, level_rows, replication_out, staleness_pairs, stall_rows};
use super::{
    conflicts, evaluate, ms, AntiEntropyOut, ClockOut, Convergence, CrashOut, FaultOut, HealOut,
    Quiesce, Reads, RunSummary, ServiceOut, WallClock, Writes, VERSION,
};
use crate::failures::{Failure, FailureOut, LostView, RpoOut, RtoOut, WriteView};
use crate::metrics::RunOutput;
use crate::metrics::{ns_to_ms, Observer};
use crate::scenario::Scenario;
use crate::series::{log_bins, ReportData, SeqMessage, SequenceWindow};
use crate::summary::checks::{Check, Inputs};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// Builds the summary of a finished run, with the shipped checks ([`crate::summary::checks::REGISTRY`]).
pub fn build(sc: &Scenario, seed: u64, out: &RunOutput, wall_ns: u64) -> RunSummary {
    build_with(sc, seed, out, wall_ns, crate::summary::checks::REGISTRY)
}

/// Builds the summary of a finished run, judging it with `checks` (listed in that order).
pub fn build_with(
    sc: &Scenario,
    seed: u64,
    out: &RunOutput,
    wall_ns: u64,
    checks: &[&dyn Check],
) -> RunSummary {
    let names: Vec<String> = sc.regions.iter().map(|r| r.name.clone()).collect();
    let obs = &out.observer;

    let fin = obs.final_stamps();
    let lost_cut = lost_writes(sc, obs, &fin);
    let lost: Vec<u32> = lost_cut.iter().map(|l| l.0).collect();
    let failures = failures_of(sc, out);
    let lost_views: Vec<LostView> = lost_cut
        .iter()
        .map(|&(w, acked, cut)| LostView {
            origin: obs.writes[w as usize].origin,
            acked,
            cut,
        })
        .collect();
    let crashes = crash_rows(out, &failures, &lost_views, &names);
    let heals = heal_rows(out, &lost);
    let final_digests_equal = digests_agree(sc, out);
    let converged = final_digests_equal && out.drained;

    let failovers = crate::failures::summarise(
        &failures,
        &obs.fo,
        &write_views(obs, &failures),
        &lost_views,
        &names,
        (SimTime(sc.duration.0).max(out.end), SimTime(sc.duration.0)),
        sc.plan.request_timeout,
    );
    let conflicts = conflicts::analyse(sc, out);
    let checks = crate::summary::checks::run(
        checks,
        &Inputs {
            sc,
            out,
            names: &names,
            seed,
            fin: &fin,
            lost: &lost,
            final_digests_equal,
            conflicts: conflicts.as_ref(),
        },
    );
    let lost_updates = obs.lost_updates_given(&names, &fin);
    drop(fin);
    let report_data = report_data(sc, out, &names, &lost_updates.lost_at);
    let spans = phase_spans(
        &failovers,
        &heals,
        &report_data,
        &obs.ae.repairing,
        ms(out.end.max(SimTime(sc.duration.0))),
    );
    let duration_ns = sc.duration.0;
    let events = out.counts.total();

    let mut summary = RunSummary {
        scenario: sc.name.clone(),
        file: sc.file.clone(),
        description: sc.description.clone(),
        seed,
        version: VERSION.to_string(),
        repro: format!("sim run {} --seed {seed}", sc.file),
        trace_digest: format!("{:016x}", out.trace_digest),
        events,
        events_breakdown: out.counts.clone(),
        sim_time_ns: out.end.0,
        duration_ns,
        quiesce: Quiesce {
            drained: out.drained,
            ns: out.end.0.saturating_sub(duration_ns),
        },
        regions: names.clone(),
        writes: Writes {
            issued: obs.writes_issued,
            acked: obs.writes_acked,
            failed: obs.writes_failed,
            retries: obs.write_retries,
        },
        reads: Reads {
            total: obs.reads_total,
            stale: obs.reads_stale,
            failed: obs.reads_failed,
            retries: obs.read_retries,
        },
        visibility_ms: obs.visibility().to_ms(),
        visibility_by_origin_ms: names
            .iter()
            .zip(&obs.visibility_by_origin)
            .map(|(name, v)| (name.clone(), v.to_ms()))
            .collect(),
        visibility_incomplete: obs.incomplete_visibility(),
        lag_ms: lag_ms(obs, &names),
        convergence: Convergence {
            converged,
            final_digests_equal,
            region_digests: names
                .iter()
                .zip(&out.region_digests)
                .map(|(n, d)| (n.clone(), d.map(|d| format!("{d:016x}"))))
                .collect(),
            after_heal_ms: heals.iter().map(|h| h.converged_after_ms).collect(),
            heals,
        },
        lost_acked_writes: lost.len() as u64,
        crashes,
        rpo: rpo_out(&failovers),
        rto: rto_out(&failovers),
        failovers,
        failover: sc
            .plan
            .failover
            .as_ref()
            .map(|_| crate::failures::stats(&obs.fo, &names)),
        lost_updates,
        conflicts: conflicts.map(|c| c.out),
        sessions: (sc.workload.sessions > 0).then(|| obs.sessions.violations.clone()),
        messages: obs.msgs.clone(),
        replication: replication_out(sc),
        levels: level_rows(sc, obs),
        efficiency: efficiency(sc, obs, &names),
        stalls: stall_rows(out, obs, &names),
        stall_after_ms: ms(SimTime(obs.stall_after.0)),
        staleness_pairs: staleness_pairs(obs, &names),
        anti_entropy: anti_entropy_out(sc, obs),
        clocks: clock_rows(sc, out),
        service: service_rows(out, &names),
        faults: fault_rows(sc, out, &spans),
        warnings: sc.warnings.clone(),
        checks,
        expectations: Vec::new(),
        passed: false,
        report_data,
        scenario_yaml: sc.source.clone(),
        wall: wall_clock(out, events, wall_ns),
    };
    summary.expectations = evaluate(sc, &summary);
    summary.passed =
        summary.checks.iter().all(|c| c.passed) && summary.expectations.iter().all(|e| e.passed);
    summary
}

/// Per heal: when everything acknowledged before it (and not lost) was visible everywhere.
fn heal_rows(out: &RunOutput, lost: &[u32]) -> Vec<HealOut> {
    out.heals
        .iter()
        .map(|h| HealOut {
            at_ms: ms(h.at),
            label: h.label.clone(),
            converged_after_ms: out
                .observer
                .converged_after(h.at, lost)
                .map(|s| ns_to_ms(s.0)),
        })
        .collect()
}

/// Every region ended in the same state. With partial placement regions hold different keys:
/// each key's replicas are compared instead.
fn digests_agree(sc: &Scenario, out: &RunOutput) -> bool {
    let digests = &out.region_digests;
    if sc.plan.holders.is_some() {
        out.divergent_keys == 0 && digests.iter().all(|d| d.is_some())
    } else {
        digests.iter().all(|d| d.is_some() && *d == digests[0])
    }
}

/// Per directed pair "a->b": from the ack at a until b holds the write or a newer value.
fn lag_ms(obs: &Observer, names: &[String]) -> BTreeMap<String, crate::metrics::StatsMs> {
    let n = names.len();
    let mut lag_ms = BTreeMap::new();
    for a in 0..n {
        for b in 0..n {
            if a != b {
                lag_ms.insert(
                    format!("{}->{}", names[a], names[b]),
                    obs.lag[a * n + b].to_ms(),
                );
            }
        }
    }
    lag_ms
}

/// The lost writes as (write, acked, the failover cut that lost it), ascending by write:
/// acknowledged writes whose value survives nowhere, and (when a new primary discards what it
/// never received) writes cut from the history by a failover, even if a later write to the same
/// key hides the loss in the final state.
fn lost_writes(
    sc: &Scenario,
    obs: &Observer,
    fin: &[crate::replica::Stamp],
) -> Vec<(u32, SimTime, Option<SimTime>)> {
    let discard = sc
        .plan
        .failover
        .as_ref()
        .is_some_and(|f| f.rejoin == crate::replica::plan::Rejoin::Discard);
    let mut lost_cut: Vec<(u32, SimTime, Option<SimTime>)> = obs
        .lost_acked_given(fin)
        .into_iter()
        .map(|w| (w, obs.writes[w as usize].acked, None))
        .collect();
    if discard && !obs.fo.cuts.is_empty() {
        for (i, w) in obs.writes.iter().enumerate() {
            if w.is_acked() {
                if let Some(c) = obs.fo.cut_of(w.stamp) {
                    lost_cut.push((i as u32, w.acked, Some(c)));
                }
            }
        }
        lost_cut.sort_by_key(|l| (l.0, l.2.is_none()));
        lost_cut.dedup_by_key(|l| l.0);
    }
    lost_cut
}

/// The run's failures (crashes, region losses, promotions and partitions), to which lost writes
/// and outages are charged.
fn failures_of(sc: &Scenario, out: &RunOutput) -> Vec<Failure> {
    out.faults
        .iter()
        .filter_map(|f| {
            use crate::scenario::FaultAction;
            let (kind, region) = match &sc.faults.get(f.fault)?.action {
                FaultAction::Crash(c) => ("crash", Some(c.region)),
                FaultAction::RegionLoss(l) => ("region-loss", Some(l.region)),
                FaultAction::Promote(p) => ("promote", Some(p.region)),
                FaultAction::Partition(_) => ("partition", out.observer.fo.leader_at(f.at)),
                _ => return None,
            };
            Some(Failure {
                at: f.at,
                until: f.until,
                kind,
                region,
                label: f.label.clone(),
            })
        })
        .collect()
}

/// One row per crash. Each lost write is charged to one failure; a crash's count is what its
/// row charges.
fn crash_rows(
    out: &RunOutput,
    failures: &[Failure],
    lost_views: &[LostView],
    names: &[String],
) -> Vec<CrashOut> {
    let owners: Vec<Option<usize>> = lost_views
        .iter()
        .map(|l| crate::failures::owner_of(failures, l))
        .collect();
    out.crashes
        .iter()
        .map(|c| {
            let lost_here = owners
                .iter()
                .flatten()
                .filter(|&&o| {
                    let f = &failures[o];
                    matches!(f.kind, "crash" | "region-loss")
                        && f.region == Some(c.region)
                        && f.at == c.at
                })
                .count() as u64;
            CrashOut {
                region: names[c.region.idx()].clone(),
                at_ms: ms(c.at),
                recovered_at_ms: c.recovered.map(ms),
                lost_acked_writes: lost_here,
            }
        })
        .collect()
}

/// The writes' outcomes, for the failure table. A try that failed and was retried is not an
/// outcome; its retry (issued with the first try's time, later in the log) is. Sorted back into
/// issue order. Only writes issued from the first failure on can fall in a failure's window, so
/// only those are copied (none in a run without failures: this copy was the largest allocation
/// of a summary).
fn write_views(obs: &Observer, failures: &[Failure]) -> Vec<WriteView> {
    match failures.iter().map(|f| f.at).min() {
        None => Vec::new(),
        Some(first) => {
            let keep = |w: &&crate::metrics::WriteRec| !w.retried && w.issued >= first;
            let mut v = Vec::with_capacity(obs.writes.iter().filter(keep).count());
            v.extend(obs.writes.iter().filter(keep).map(|w| WriteView {
                client: w.client,
                issued: w.issued,
                acked: w.is_acked().then_some(w.acked),
            }));
            v.sort_by_key(|w| w.issued);
            v
        }
    }
}

/// Writes lost to failures and the widest window of them.
fn rpo_out(failovers: &[FailureOut]) -> RpoOut {
    RpoOut {
        writes: failovers.iter().map(|f| f.rpo_writes).sum(),
        max_window_ms: failovers
            .iter()
            .map(|f| f.rpo_window_ms)
            .fold(0.0, f64::max),
    }
}

/// Outages of writes: the longest and mean recovery, and those the run ended before.
fn rto_out(failovers: &[FailureOut]) -> RtoOut {
    let hit: Vec<&FailureOut> = failovers
        .iter()
        .filter(|f| !f.rto_by_region_ms.is_empty())
        .collect();
    let done: Vec<f64> = hit
        .iter()
        .filter(|f| !f.rto_cut_off)
        .filter_map(|f| f.rto_ms)
        .collect();
    let cut: Vec<f64> = hit
        .iter()
        .filter(|f| f.rto_cut_off)
        .filter_map(|f| f.rto_ms)
        .collect();
    let longest = |v: &[f64]| v.iter().copied().fold(0.0, f64::max);
    let unrecovered = (hit.len() - done.len() - cut.len()) as u64;
    RtoOut {
        outages: hit.len() as u64,
        max_ms: (unrecovered == 0)
            .then(|| longest(&done).max(longest(&cut)))
            .filter(|_| !hit.is_empty()),
        mean_ms: (!done.is_empty()).then(|| done.iter().sum::<f64>() / done.len() as f64),
        unrecovered,
        cut_off: cut.len() as u64,
        max_cut_off: unrecovered == 0 && !cut.is_empty(),
    }
}

/// The histograms, time series and message sequence the charts draw.
fn report_data(
    sc: &Scenario,
    out: &RunOutput,
    names: &[String],
    lost_at: &[(usize, SimTime)],
) -> ReportData {
    let obs = &out.observer;
    let n = names.len();
    let drop_name = |d: crate::engine::network::DropReason| {
        match d {
            crate::engine::network::DropReason::Partition => "partition",
            crate::engine::network::DropReason::Loss => "loss",
            crate::engine::network::DropReason::Crashed => "region down",
        }
        .to_string()
    };
    ReportData {
        bucket_ms: ns_to_ms(obs.series.bucket_ns()),
        series: names
            .iter()
            .cloned()
            .zip(obs.series.finish(lost_at))
            .collect(),
        lag_hist: (0..n)
            .flat_map(|a| (0..n).filter(move |&b| b != a).map(move |b| (a, b)))
            .map(|(a, b)| {
                (
                    format!("{}->{}", names[a], names[b]),
                    log_bins(obs.lag[a * n + b].recorded()),
                )
            })
            .collect(),
        visibility_hist: (0..n)
            .map(|r| {
                (
                    names[r].clone(),
                    log_bins(obs.visibility_by_origin[r].recorded()),
                )
            })
            .collect(),
        staleness: obs.staleness.finish(),
        staleness_by_pair: (0..n * n)
            .filter(|&i| obs.staleness_pairs[i].buckets.iter().any(|b| b.reads > 0))
            .map(|i| {
                (
                    format!("{}->{}", names[i / n], names[i % n]),
                    obs.staleness_pairs[i].finish(),
                )
            })
            .collect(),
        latency_ms: (0..n)
            .map(|a| {
                (0..n)
                    .map(|b| {
                        sc.network.latency[a * n + b]
                            .as_ref()
                            .filter(|_| a != b)
                            .map(|l| ns_to_ms(l.spec.nominal().0))
                    })
                    .collect()
            })
            .collect(),
        sequence: SequenceWindow {
            from_ms: ms(sc.sequence_window.0),
            to_ms: ms(sc.sequence_window.1),
            messages: out
                .sequence
                .iter()
                .map(|m| SeqMessage {
                    from: names[m.from.idx()].clone(),
                    to: names[m.to.idx()].clone(),
                    kind: m.kind.to_string(),
                    sent_ms: ms(m.sent),
                    recv_ms: m.recv.map(ms),
                    dropped: m.dropped.map(drop_name),
                })
                .collect(),
            truncated: out.sequence_truncated,
        },
    }
}

/// Merkle-tree anti-entropy, when configured.
fn anti_entropy_out(sc: &Scenario, obs: &Observer) -> Option<AntiEntropyOut> {
    let a = sc.plan.anti_entropy.as_ref()?;
    let c = &obs.ae;
    let class = crate::replica::MsgClass::AntiEntropy as usize;
    let bytes = obs.class_bytes[class];
    Some(AntiEntropyOut {
        interval_ms: ns_to_ms(a.interval.0),
        fanout: a.fanout,
        leaves: a.leaves,
        branching: a.branching,
        sessions: c.sessions,
        finished: c.finished,
        in_sync: c.in_sync,
        rounds_mean: if c.finished > 0 {
            c.rounds_sum as f64 / c.finished as f64
        } else {
            0.0
        },
        rounds_max: c.rounds_max,
        keys_repaired: c.keys_repaired,
        messages: obs.class_msgs[class],
        bytes,
        full_state_bytes: c.full_state_bytes,
        bytes_vs_full_state_pct: if c.full_state_bytes > 0 {
            100.0 * bytes as f64 / c.full_state_bytes as f64
        } else {
            0.0
        },
    })
}

/// Per-region clocks, when any region has reading noise or a time daemon.
fn clock_rows(sc: &Scenario, out: &RunOutput) -> Vec<ClockOut> {
    if !sc
        .regions
        .iter()
        .any(|r| r.noise_ns > 0 || r.sync.is_some())
    {
        return Vec::new();
    }
    sc.regions
        .iter()
        .zip(&out.clocks)
        .map(|(r, st)| ClockOut {
            region: r.name.clone(),
            offset_ms: r.offset_ns as f64 / 1e6,
            drift_ppm: r.drift_ppb as f64 / 1000.0,
            noise_ms: ns_to_ms(r.noise_ns),
            ntp_interval_ms: r.sync.map(|s| ns_to_ms(s.interval_ns)),
            polls: st.polls,
            steps: st.steps,
            max_error_ms: ns_to_ms(st.max_error_ns),
            final_error_ms: st.final_error_ns as f64 / 1e6,
        })
        .collect()
}

/// Replica service queues, when service times are configured.
fn service_rows(out: &RunOutput, names: &[String]) -> Vec<ServiceOut> {
    let Some(v) = out.service.as_ref() else {
        return Vec::new();
    };
    v.iter()
        .enumerate()
        .map(|(r, st)| ServiceOut {
            region: names[r].clone(),
            writes: st.writes,
            reads: st.reads,
            utilisation_pct: 100.0 * st.busy_ns as f64 / out.end.0.max(1) as f64,
            wait_mean_ms: if st.inputs > 0 {
                ns_to_ms(st.wait_ns_sum) / st.inputs as f64
            } else {
                0.0
            },
            wait_max_ms: ns_to_ms(st.wait_ns_max),
            max_queue: st.max_queue,
        })
        .collect()
}

/// One row per fault: when, its effects, and the phases it began in.
fn fault_rows(
    sc: &Scenario,
    out: &RunOutput,
    spans: &[(&'static str, Vec<(f64, f64)>)],
) -> Vec<FaultOut> {
    out.faults
        .iter()
        .map(|f| FaultOut {
            at_ms: ms(f.at),
            until_ms: f.until.map(ms),
            label: f.label.clone(),
            kind: f.class.name().to_string(),
            effects: f
                .class
                .counts_effects()
                .then(|| out.effects.get(f.fault).copied().unwrap_or(0)),
            phases: phases_at(spans, ms(f.at)),
            cut_off: f.until.is_some_and(|u| u.0 > sc.duration.0),
        })
        .collect()
}

/// Host-dependent timings.
fn wall_clock(out: &RunOutput, events: u64, wall_ns: u64) -> WallClock {
    WallClock {
        ms: wall_ns as f64 / 1e6,
        events_per_sec: if wall_ns > 0 {
            events as f64 / (wall_ns as f64 / 1e9)
        } else {
            0.0
        },
        sim_to_wall_ratio: if wall_ns > 0 {
            out.end.0 as f64 / wall_ns as f64
        } else {
            0.0
        },
        peak_rss_bytes: None,
    }
}
