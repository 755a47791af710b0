//! Failures as observers see them: suspicions (true or false), elections, leadership, fenced
//! and rewound writes, split-brain writes, and from these RPO and RTO per failure.
//!
//! Read-only like every observer: it learns leadership from the replicas' notes and whether a
//! region is really down from the engine, and never touches simulation state.

use crate::replica::{OpId, RegionId, Stamp};
use crate::time::SimTime;
use std::collections::BTreeMap;

/// One failover-related fact, in time order.
#[derive(Clone, Debug, PartialEq)]
pub enum FoKind {
    /// `by` began to suspect `peer`; `alive`: the peer was up (a false suspicion).
    Suspect {
        by: RegionId,
        peer: RegionId,
        alive: bool,
    },
    ElectionStarted {
        by: RegionId,
        term: u64,
    },
    BecameLeader {
        region: RegionId,
        term: u64,
        prev: Option<(RegionId, u32, u64)>,
    },
    SteppedDown {
        region: RegionId,
        term: u64,
        deposed: bool,
    },
    /// An operator asked `region` to become primary (`planned`: a handover from a live one).
    Promote {
        region: RegionId,
        planned: bool,
    },
    /// Primary `from` stopped taking writes to hand over to `to`.
    HandingOver {
        from: RegionId,
        to: RegionId,
    },
    /// Chain mode: head `head` reconfigured the chain.
    ChainChanged {
        head: RegionId,
        members: u8,
        joining: u8,
        tail: RegionId,
        reads: RegionId,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct FoEvent {
    pub at: SimTime,
    pub kind: FoKind,
}

/// The run's failover log.
#[derive(Clone, Debug, Default)]
pub struct FailoverLog {
    pub events: Vec<FoEvent>,
    /// Per region: the term it currently leads, if any.
    leading: Vec<Option<u64>>,
    /// Per region: up (ground truth from the engine).
    alive: Vec<bool>,
    /// Writes stamped by a primary while a primary of a newer term was accepting writes.
    pub split_brain: Vec<(SimTime, OpId)>,
    /// Replicated writes refused at some region because they lie beyond a fence (deduplicated
    /// when summarised).
    pub fenced: Vec<OpId>,
    pub rewound_keys: u64,
    /// Cuts of primary streams: (time, origin, epoch, last seq in the history, and where the
    /// history resumes if that primary led again in the same incarnation). Writes of that
    /// stream in between were discarded (when the run discards).
    pub cuts: Vec<(SimTime, RegionId, u32, u64, Option<u64>)>,
    /// Per region: the (epoch, counter) of the newest write it stamped.
    last_stamp: Vec<Option<(u64, u64)>>,
    /// Rebuilds of regions whose disk was lost, in start order.
    pub restores: Vec<RestoreRec>,
}

/// One rebuild of a lost region.
#[derive(Clone, Debug, PartialEq)]
pub struct RestoreRec {
    pub region: RegionId,
    /// When the rebuild began (new machines: the end of the loss).
    pub started: SimTime,
    /// The backup it started from (when it was taken), if any.
    pub backup: Option<SimTime>,
    /// When the backup image had been downloaded and the region came up.
    pub up: SimTime,
    /// When every peer had sent what it lacked.
    pub done: Option<SimTime>,
    pub keys: u64,
    pub bytes: u64,
}

impl FailoverLog {
    pub fn new(n: usize) -> FailoverLog {
        FailoverLog {
            leading: vec![None; n],
            alive: vec![true; n],
            last_stamp: vec![None; n],
            ..FailoverLog::default()
        }
    }

    pub fn set_alive(&mut self, r: RegionId, alive: bool) {
        self.alive[r.idx()] = alive;
        if !alive {
            // A crashed primary accepts nothing; it will not say so itself.
            self.leading[r.idx()] = None;
        }
    }

    pub fn suspect(&mut self, by: RegionId, peer: RegionId, at: SimTime) {
        let alive = self.alive[peer.idx()];
        self.events.push(FoEvent {
            at,
            kind: FoKind::Suspect { by, peer, alive },
        });
    }

    pub fn election(&mut self, by: RegionId, term: u64, at: SimTime) {
        self.events.push(FoEvent {
            at,
            kind: FoKind::ElectionStarted { by, term },
        });
    }

    pub fn became_leader(
        &mut self,
        region: RegionId,
        term: u64,
        prev: Option<(RegionId, u32, u64)>,
        at: SimTime,
    ) {
        self.leading[region.idx()] = Some(term);
        // Leading again in the same incarnation: what it writes from now on is history again
        // (the replicas close their fence the same way).
        if let Some((e, c)) = self.last_stamp[region.idx()] {
            for cut in self.cuts.iter_mut() {
                if cut.1 == region && cut.2 as u64 & 0xffff == e && cut.4.is_none() {
                    cut.4 = Some(c);
                }
            }
        }
        if let Some((o, e, upto)) = prev {
            self.cuts.push((at, o, e, upto, None));
        }
        self.events.push(FoEvent {
            at,
            kind: FoKind::BecameLeader { region, term, prev },
        });
    }

    pub fn stepped_down(&mut self, region: RegionId, term: u64, deposed: bool, at: SimTime) {
        self.leading[region.idx()] = None;
        self.events.push(FoEvent {
            at,
            kind: FoKind::SteppedDown {
                region,
                term,
                deposed,
            },
        });
    }

    pub fn restore_started(
        &mut self,
        region: RegionId,
        started: SimTime,
        backup: Option<SimTime>,
        up: SimTime,
    ) {
        self.restores.push(RestoreRec {
            region,
            started,
            backup,
            up,
            done: None,
            keys: 0,
            bytes: 0,
        });
    }

    pub fn restored(&mut self, region: RegionId, keys: u64, bytes: u64, at: SimTime) {
        if let Some(r) = self
            .restores
            .iter_mut()
            .rev()
            .find(|r| r.region == region && r.done.is_none())
        {
            r.done = Some(at);
            r.keys = keys;
            r.bytes = bytes;
        }
    }

    pub fn note(&mut self, kind: FoKind, at: SimTime) {
        self.events.push(FoEvent { at, kind });
    }

    /// A write was stamped at `r`: under failover, by a primary. If another region leads a
    /// newer term, this primary is stale and the write is split brain.
    pub fn stamped(&mut self, r: RegionId, op: OpId, stamp: Stamp, at: SimTime) {
        self.last_stamp[r.idx()] = Some(((stamp.tie >> 32) & 0xffff, stamp.tie & 0xffff_ffff));
        let Some(mine) = self.leading.get(r.idx()).copied().flatten() else {
            return;
        };
        if self.leading.iter().any(|t| t.is_some_and(|t| t > mine)) {
            self.split_brain.push((at, op));
        }
    }

    /// Regions leading at once right now (the single-primary invariant wants at most one).
    pub fn leaders_now(&self) -> usize {
        self.leading.iter().filter(|t| t.is_some()).count()
    }

    /// Whether a write with `stamp` was cut from the history by a fence.
    pub fn discarded(&self, stamp: Stamp) -> bool {
        self.cut_of(stamp).is_some()
    }

    /// When the first cut that discarded a write with `stamp` was made.
    pub fn cut_of(&self, stamp: Stamp) -> Option<SimTime> {
        if stamp.is_none() {
            return None;
        }
        let epoch16 = (stamp.tie >> 32) & 0xffff;
        let seq = stamp.tie & 0xffff_ffff;
        self.cuts
            .iter()
            .find(|&&(_, o, e, upto, to)| {
                o == stamp.region()
                    && (e as u64 & 0xffff) == epoch16
                    && seq > upto
                    && to.is_none_or(|t| seq <= t)
            })
            .map(|c| c.0)
    }

    /// The primary at `t` (the newest region to become one at or before `t`, if still up).
    pub fn leader_at(&self, t: SimTime) -> Option<RegionId> {
        self.events
            .iter()
            .take_while(|e| e.at <= t)
            .filter_map(|e| match e.kind {
                FoKind::BecameLeader { region, .. } => Some(region),
                _ => None,
            })
            .last()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Wall;

    #[test]
    fn rto_phases_run_from_mark_to_mark_and_add_up() {
        // Detected at 1 s, elected at 1.3 s, first writes back at 1.5 s, last at 5 s.
        let p = RtoPhases::split(5000.0, Some(1000.0), Some(1300.0), Some(1500.0));
        assert_eq!(
            p,
            RtoPhases {
                detection_ms: Some(1000.0),
                election_ms: Some(300.0),
                promotion_ms: Some(200.0),
                rerouting_ms: 3500.0,
            }
        );
        // No election (a backup crashed): the clients' move is all rerouting.
        let p = RtoPhases::split(3000.0, Some(900.0), None, Some(3000.0));
        assert_eq!(
            (
                p.detection_ms,
                p.election_ms,
                p.promotion_ms,
                p.rerouting_ms
            ),
            (Some(900.0), None, None, 2100.0)
        );
        // Marks past the RTO (writes came back before anyone suspected) are clamped.
        let p = RtoPhases::split(400.0, Some(900.0), None, Some(400.0));
        assert_eq!((p.detection_ms, p.rerouting_ms), (Some(400.0), 0.0));
        assert_eq!(
            RtoPhases::split(5000.0, Some(1000.0), Some(1300.0), Some(1500.0)).describe(true),
            "detection 1.00s + election 300ms + promotion 200ms + rerouting 3.50s"
        );
    }

    #[test]
    fn a_stale_primary_writing_while_a_newer_one_leads_is_split_brain() {
        let mut f = FailoverLog::new(3);
        let (a, b) = (RegionId(0), RegionId(1));
        let s = |seq| Stamp::new(Wall(1), a, 1, seq);
        f.became_leader(a, 1, None, SimTime(0));
        f.stamped(a, OpId(1), s(1), SimTime(10));
        assert!(f.split_brain.is_empty());
        f.became_leader(b, 2, Some((a, 1, 5)), SimTime(20));
        assert_eq!(f.leaders_now(), 2);
        f.stamped(b, OpId(2), Stamp::new(Wall(1), b, 1, 1), SimTime(21));
        f.stamped(a, OpId(3), s(7), SimTime(22));
        assert_eq!(f.split_brain, vec![(SimTime(22), OpId(3))]);
        // The cut: a's writes of epoch 1 beyond seq 5 are discarded, earlier ones are not.
        assert!(!f.discarded(s(5)));
        assert!(f.discarded(s(6)));
        assert!(!f.discarded(Stamp::new(Wall(1), b, 1, 6)));
        f.set_alive(a, false);
        assert_eq!(f.leaders_now(), 1);
        // a leads again in the same incarnation (after a handover back, say): its writes from
        // then on are history, the ones between the cut and its return stay discarded.
        f.became_leader(a, 3, Some((b, 1, 1)), SimTime(30));
        assert!(f.discarded(s(7)));
        assert!(!f.discarded(s(8)));
    }
}

/// One failure (a crash or a partition) and what it cost, as written to `summary.json`.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FailureOut {
    pub at_ms: f64,
    /// `crash` or `partition`.
    pub kind: String,
    /// The crashed region, or for a partition the primary it cut off (if any).
    pub region: Option<String>,
    pub label: String,
    /// From the failure until some region suspected it (a crashed region, or anyone across a
    /// partition).
    pub detected_after_ms: Option<f64>,
    /// The region elected primary after the failure, and when.
    pub new_primary: Option<String>,
    pub elected_after_ms: Option<f64>,
    /// Until writes succeeded again from every client region that lost them (null: some
    /// region's writes never recovered before the next failure or the end of the run).
    pub rto_ms: Option<f64>,
    /// The outage was still on when the run ended: `rto_ms` is a lower bound (the rest of the
    /// run), not a measurement.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rto_cut_off: bool,
    /// Per client region whose writes failed: until they succeeded again.
    pub rto_by_region_ms: std::collections::BTreeMap<String, Option<f64>>,
    /// Acknowledged writes lost to this failure, and the time they span: from the oldest lost
    /// acknowledgement to the failure (or to the newest lost one, if a cut-off primary kept
    /// acknowledging after it).
    pub rpo_writes: u64,
    pub rpo_window_ms: f64,
    /// Writes a stale primary accepted while a newer one led.
    pub split_brain_writes: u64,
    /// A region loss: how the region was rebuilt (absent for other failures).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<RestoreOut>,
    /// Chain mode: when the head first reconfigured the chain after the failure.
    #[serde(default)]
    pub reconfigured_after_ms: Option<f64>,
    /// When the first client region that lost writes had them succeed again (not counting a
    /// crashed region's own clients, who only come back by moving or with their region).
    #[serde(default)]
    pub writes_resumed_after_ms: Option<f64>,
    /// The RTO split into consecutive phases that add up to it (absent with no outage).
    #[serde(default)]
    pub rto_phases: Option<RtoPhases>,
}

/// An outage's RTO as consecutive phases (a phase that did not happen is null).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RtoPhases {
    /// From the failure until some region suspected it.
    pub detection_ms: Option<f64>,
    /// From the suspicion until a new primary was elected (or, in chain mode, the head
    /// reconfigured the chain around the failed region).
    pub election_ms: Option<f64>,
    /// From then until the first client region wrote successfully again: the new primary's
    /// lease and catch-up, and clients learning where it is.
    pub promotion_ms: Option<f64>,
    /// From then until every client region wrote again: health checks, DNS and retries moving
    /// clients whose region stayed unavailable, or the region coming back.
    pub rerouting_ms: f64,
}

impl RtoPhases {
    /// Splits `rto` at the marks (ms after the failure) that happened; each phase runs from
    /// the previous mark, so the phases add up to `rto`. Promotion needs an election: without
    /// one, the first writes back were moved clients, which is rerouting.
    pub fn split(
        rto: f64,
        detected: Option<f64>,
        elected: Option<f64>,
        resumed: Option<f64>,
    ) -> RtoPhases {
        let mut prev = 0.0f64;
        let mut phase = |mark: Option<f64>| {
            mark.map(|m| {
                let m = m.clamp(prev, rto);
                let d = m - prev;
                prev = m;
                d
            })
        };
        let detection_ms = phase(detected);
        let election_ms = phase(elected);
        let promotion_ms = phase(elected.and(resumed));
        RtoPhases {
            detection_ms,
            election_ms,
            promotion_ms,
            rerouting_ms: rto - prev,
        }
    }

    /// "detection 933ms + election 247ms + promotion 120ms + rerouting 3.89s".
    pub fn describe(&self, elected: bool) -> String {
        let hm = crate::units::human_ms;
        let mut parts = Vec::new();
        if let Some(d) = self.detection_ms {
            parts.push(format!("detection {}", hm(d)));
        }
        if let Some(e) = self.election_ms {
            let what = if elected {
                "election"
            } else {
                "chain reconfiguration"
            };
            parts.push(format!("{what} {}", hm(e)));
        }
        if let Some(p) = self.promotion_ms {
            parts.push(format!("promotion {}", hm(p)));
        }
        parts.push(format!("rerouting {}", hm(self.rerouting_ms)));
        parts.join(" + ")
    }
}

/// The rebuild of a lost region.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RestoreOut {
    /// When new machines took over (the end of the loss).
    pub started_at_ms: f64,
    /// The snapshot it started from: when it was taken (null: none, it started empty).
    pub backup_taken_at_ms: Option<f64>,
    /// Downloading the snapshot.
    pub download_ms: f64,
    /// From the start of the rebuild until every peer had sent what it lacked (null: not
    /// finished by the end of the run).
    pub restore_ms: Option<f64>,
    /// Values and bytes fetched from peers (the change since the snapshot).
    pub keys_from_peers: u64,
    pub bytes_from_peers: u64,
}

/// RPO over the run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RpoOut {
    pub writes: u64,
    pub max_window_ms: f64,
}

/// RTO over the run.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct RtoOut {
    /// Failures after which some client region's writes failed.
    pub outages: u64,
    pub max_ms: Option<f64>,
    pub mean_ms: Option<f64>,
    /// Outages whose writes never recovered before the next failure.
    pub unrecovered: u64,
    /// Outages still on when the run ended (their lower bound counts in `max_ms`, not in
    /// `mean_ms`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub cut_off: u64,
    /// Some outage was cut off, so `max_ms` is a lower bound: the longest RTO is at least that.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub max_cut_off: bool,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One client region's writes-back time as reports print it ("not by the end of the run" when
/// the run ended during the outage).
pub fn describe_back(back_ms: Option<f64>, cut_off: bool) -> String {
    match back_ms {
        Some(v) => crate::units::human_ms(v),
        None if cut_off => "not by the end of the run".to_string(),
        None => "never".to_string(),
    }
}

/// An RTO as reports print it: "1.07s", "≥ 40.0s, run ended" or "never".
pub fn describe_rto(rto_ms: Option<f64>, cut_off: bool) -> String {
    match rto_ms {
        Some(v) if cut_off => format!("≥ {}, run ended", crate::units::human_ms(v)),
        Some(v) => crate::units::human_ms(v),
        None => "never".to_string(),
    }
}

/// Failover activity (runs with `replication.failover`).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FailoverStats {
    pub suspicions: u64,
    /// Suspicions of a region that was up (slow or cut-off links, not a crash).
    pub false_suspicions: u64,
    pub elections: u64,
    /// Times a region became primary (the first primary included).
    pub leaders: u64,
    pub split_brain_writes: u64,
    /// Distinct replicated writes refused as beyond a fence.
    pub fenced_writes: u64,
    pub rewound_keys: u64,
    /// Planned handovers a primary began (operator promotions with the primary in reach).
    #[serde(default)]
    pub handovers: u64,
    /// Chain mode: times the head reconfigured the chain (a region left, or joined at the tail).
    #[serde(default)]
    pub chain_changes: u64,
    /// Leadership changes and suspicions, in time order (at most 200).
    pub events: Vec<FoEventOut>,
}

#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq)]
pub struct FoEventOut {
    pub at_ms: f64,
    pub what: String,
}

/// A failure as the summary needs it: when, what, which region, and the fault label.
pub struct Failure {
    pub at: SimTime,
    /// When it was healed, if it was.
    pub until: Option<SimTime>,
    pub kind: &'static str,
    pub region: Option<RegionId>,
    pub label: String,
}

/// One lost acknowledged write as `summarise` needs it.
pub struct LostView {
    /// The region that stamped it (the primary, under primary-backup).
    pub origin: RegionId,
    pub acked: SimTime,
    /// When the fence that discarded it was made, if one did.
    pub cut: Option<SimTime>,
}

/// The failure a lost write is charged to (an index into `failures`).
///
/// An operator's promote is what ends a manual failover, so the cut it makes discards the
/// writes of the failure before it: it is charged only when no failure explains the loss. Among
/// the failures that began by the cut (any, for a write lost in a crash), those of the write's
/// own region are preferred: a crash of it, or a partition that cut it off as primary. Of
/// these, the one it was acknowledged during (a cut-off primary acknowledging, or an
/// acknowledgement still in flight when its primary crashed), else the first after the
/// acknowledgement (what stopped it replicating), else the last before it.
pub fn owner_of(failures: &[Failure], w: &LostView) -> Option<usize> {
    let by = w.cut.unwrap_or(SimTime::MAX);
    let pick = |ok: &dyn Fn(&Failure) -> bool| -> Option<usize> {
        let c: Vec<usize> = (0..failures.len())
            .filter(|&i| failures[i].at <= by && ok(&failures[i]))
            .collect();
        let during = c.iter().rev().copied().find(|&i| {
            let f = &failures[i];
            f.at <= w.acked && f.until.is_some_and(|u| w.acked < u)
        });
        during
            .or_else(|| c.iter().copied().find(|&i| failures[i].at >= w.acked))
            .or_else(|| c.last().copied())
    };
    let failure = |f: &Failure| f.kind != "promote";
    pick(&|f| failure(f) && f.region == Some(w.origin))
        .or_else(|| pick(&failure))
        .or_else(|| pick(&|_| true))
}

/// Everything `summarise` needs from one write.
pub struct WriteView {
    pub client: RegionId,
    pub issued: SimTime,
    pub acked: Option<SimTime>,
}

/// RPO and RTO per failure. `lost` are the run's lost acknowledged writes (charged by
/// [`owner_of`]); `writes` the whole write log in issue order; `end` the end of the run (its
/// quiesce included) and `duration` the end of the workload; `guard` the request timeout (a write issued that close to the next failure may have failed
/// because of it, so it does not count against this one).
pub fn summarise(
    failures: &[Failure],
    log: &FailoverLog,
    writes: &[WriteView],
    lost: &[LostView],
    names: &[String],
    (end, duration): (SimTime, SimTime),
    guard: crate::time::Span,
) -> Vec<FailureOut> {
    let ms = |t: u64| crate::units::ns_to_ms(t);
    let mut out = Vec::with_capacity(failures.len());
    let owners: Vec<Option<usize>> = lost.iter().map(|l| owner_of(failures, l)).collect();
    for (i, f) in failures.iter().enumerate() {
        // An operator's promote does not end a failure's window (in manual mode it is how the
        // failure ends); it ends another promote's.
        let following = failures[i + 1..]
            .iter()
            .find(|g| g.kind != "promote" || f.kind == "promote");
        let next = following.map_or(end, |g| g.at);
        let within = |t: SimTime| t >= f.at && t < next;
        let detected = log.events.iter().find_map(|e| match e.kind {
            FoKind::Suspect { peer, .. }
                if within(e.at)
                    && f.kind != "promote"
                    && (f.kind != "crash" || Some(peer) == f.region) =>
            {
                Some(e.at)
            }
            _ => None,
        });
        let elected = log.events.iter().find_map(|e| match e.kind {
            FoKind::BecameLeader { region, .. } if within(e.at) => Some((e.at, region)),
            _ => None,
        });
        let reconfigured = log.events.iter().find_map(|e| match e.kind {
            FoKind::ChainChanged { .. } if within(e.at) && f.kind != "promote" => Some(e.at),
            _ => None,
        });
        let by_region = rto_by_region(f, (next, following), writes, names, guard);
        // The last failure's outage may still be on when the workload stops: its RTO is then
        // only known to be at least the rest of the run (not "never", not a number).
        let rto_cut_off = following.is_none()
            && by_region
                .values()
                .any(|v| v.is_none_or(|b| f.at.0 as f64 + b * 1e6 > duration.0 as f64));
        let rto_ms = if by_region.is_empty() {
            Some(0.0)
        } else if rto_cut_off {
            Some(ms(duration.0.saturating_sub(f.at.0)))
        } else if by_region.values().any(|v| v.is_none()) {
            None
        } else {
            by_region.values().flatten().copied().reduce(f64::max)
        };
        // The first writes back that the failover brought: a crashed region's own clients
        // come back only by moving (or by the region's return).
        let resumed = by_region
            .iter()
            .filter(|(r, _)| f.kind == "partition" || f.region.map(|x| &names[x.idx()]) != Some(*r))
            .filter_map(|(_, v)| *v)
            .reduce(f64::min);
        let since = |t: SimTime| ms(t.0 - f.at.0);
        let rto_phases = rto_ms
            .filter(|_| !by_region.is_empty() && !rto_cut_off)
            .map(|rto| {
                RtoPhases::split(
                    rto,
                    detected.map(since),
                    elected.map(|(t, _)| t).or(reconfigured).map(since),
                    resumed,
                )
            });
        let (rpo_writes, window) = rpo(lost, &owners, i, f.at);
        out.push(FailureOut {
            at_ms: ms(f.at.0),
            kind: f.kind.to_string(),
            region: f.region.map(|r| names[r.idx()].clone()),
            label: f.label.clone(),
            detected_after_ms: detected.map(|t| ms(t.0 - f.at.0)),
            new_primary: elected.map(|(_, r)| names[r.idx()].clone()),
            elected_after_ms: elected.map(|(t, _)| ms(t.0 - f.at.0)),
            rto_ms,
            rto_cut_off,
            rto_by_region_ms: by_region,
            rpo_writes,
            rpo_window_ms: ms(window),
            split_brain_writes: log.split_brain.iter().filter(|(t, _)| within(*t)).count() as u64,
            restore: restore_of(log, f),
            reconfigured_after_ms: reconfigured.map(since),
            writes_resumed_after_ms: resumed,
            rto_phases,
        });
    }
    out
}

/// RTO per client region: from failure `f` until that region's writes succeed again, for
/// each region whose writes failed in the failure's window (ending at `next`, where the
/// `following` failure, if any, starts).
fn rto_by_region(
    f: &Failure,
    (next, following): (SimTime, Option<&Failure>),
    writes: &[WriteView],
    names: &[String],
    guard: crate::time::Span,
) -> BTreeMap<String, Option<f64>> {
    let ms = |t: u64| crate::units::ns_to_ms(t);
    let within = |t: SimTime| t >= f.at && t < next;
    let mut by_region = BTreeMap::new();
    // The write log is in issue order: slice this failure's window once.
    let lo = writes.partition_point(|w| w.issued < f.at);
    let hi = writes.partition_point(|w| w.issued < next);
    for (r, name) in names.iter().enumerate() {
        let r = RegionId(r as u16);
        let mine = writes[lo..hi]
            .iter()
            .filter(|w| w.client == r && within(w.issued))
            .collect::<Vec<_>>();
        let horizon = match following {
            Some(g) => SimTime(g.at.0.saturating_sub(guard.0)),
            None => SimTime::MAX,
        };
        // The outage ends at the first success issued after the first failure (a later
        // blip, such as a recovered region's first moments, does not extend it).
        let Some(first_fail) = mine
            .iter()
            .position(|w| w.acked.is_none() && w.issued < horizon)
        else {
            continue;
        };
        let back = mine[first_fail + 1..]
            .iter()
            .filter_map(|w| w.acked)
            .min()
            .map(|a| ms(a.0 - f.at.0));
        by_region.insert(name.clone(), back);
    }
    by_region
}

/// How many acknowledged writes failure `i` (at `at`) lost, and the window they span.
fn rpo(lost: &[LostView], owners: &[Option<usize>], i: usize, at: SimTime) -> (u64, u64) {
    let mut rpo_writes = 0;
    let (mut oldest, mut newest) = (SimTime::MAX, at);
    for (l, _) in lost.iter().zip(owners).filter(|(_, &o)| o == Some(i)) {
        rpo_writes += 1;
        oldest = oldest.min(l.acked);
        newest = newest.max(l.acked);
    }
    // From the oldest lost acknowledgement to the failure, or to the newest one when a
    // cut-off primary kept acknowledging writes after it.
    let window = if rpo_writes == 0 {
        0
    } else {
        newest.0.saturating_sub(oldest.0)
    };
    (rpo_writes, window)
}

/// The restore that brought back the region lost in `f` (a region loss only).
fn restore_of(log: &FailoverLog, f: &Failure) -> Option<RestoreOut> {
    let ms = |t: u64| crate::units::ns_to_ms(t);
    (f.kind == "region-loss")
        .then(|| {
            log.restores
                .iter()
                .find(|r| Some(r.region) == f.region && r.started >= f.at)
        })
        .flatten()
        .map(|r| RestoreOut {
            started_at_ms: ms(r.started.0),
            backup_taken_at_ms: r.backup.map(|t| ms(t.0)),
            download_ms: ms(r.up.0 - r.started.0),
            restore_ms: r.done.map(|d| ms(d.0 - r.started.0)),
            keys_from_peers: r.keys,
            bytes_from_peers: r.bytes,
        })
}

impl RestoreOut {
    /// One line: "from the backup taken at 1.50min (downloaded in 364ms), then 32 values
    /// (4.1 KiB) from peers: restored after 512ms".
    pub fn describe(&self) -> String {
        let hm = crate::units::human_ms;
        let from = match self.backup_taken_at_ms {
            Some(t) => format!(
                "from the backup taken at {} (downloaded in {})",
                hm(t),
                hm(self.download_ms)
            ),
            None => "from nothing (no backup)".to_string(),
        };
        format!(
            "rebuilt {from}, then {} values ({}) from peers: restored {}",
            crate::units::thousands(self.keys_from_peers),
            crate::units::human_bytes(self.bytes_from_peers),
            self.restore_ms
                .map_or("not by the end of the run".to_string(), |r| format!(
                    "after {}",
                    hm(r)
                ))
        )
    }
}

impl FailoverStats {
    /// The headline counts as one line: "suspicions 4, false suspicions (region was up) 4, ...".
    pub fn headline(&self) -> String {
        self.counts()
            .iter()
            .map(|(what, n)| format!("{what} {}", crate::units::thousands(*n)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The headline counts, labelled, in the order reports show them.
    pub fn counts(&self) -> [(&'static str, u64); 8] {
        [
            ("suspicions", self.suspicions),
            ("false suspicions (region was up)", self.false_suspicions),
            ("elections", self.elections),
            ("planned handovers", self.handovers),
            ("primaries", self.leaders),
            ("replicated writes fenced off", self.fenced_writes),
            ("keys rewound", self.rewound_keys),
            ("split-brain writes", self.split_brain_writes),
        ]
    }
}

/// Run-wide failover activity.
pub fn stats(log: &FailoverLog, names: &[String]) -> FailoverStats {
    let ms = |t: SimTime| crate::units::ns_to_ms(t.0);
    let mut s = FailoverStats::default();
    for e in &log.events {
        let what = match &e.kind {
            FoKind::Suspect { by, peer, alive } => {
                s.suspicions += 1;
                s.false_suspicions += *alive as u64;
                format!(
                    "{} suspects {}{}",
                    names[by.idx()],
                    names[peer.idx()],
                    if *alive { " (false: it is up)" } else { "" }
                )
            }
            FoKind::ElectionStarted { by, term } => {
                s.elections += 1;
                format!("{} stands for election (term {term})", names[by.idx()])
            }
            FoKind::BecameLeader { region, term, prev } => {
                s.leaders += 1;
                match prev {
                    Some((o, _, upto)) => format!(
                        "{} becomes primary (term {term}), {}'s stream cut after entry {upto}",
                        names[region.idx()],
                        names[o.idx()]
                    ),
                    None => format!("{} is primary (term {term})", names[region.idx()]),
                }
            }
            FoKind::SteppedDown {
                region,
                term,
                deposed,
            } => format!(
                "{} steps down as primary of term {term} ({})",
                names[region.idx()],
                if *deposed {
                    "a newer term exists"
                } else {
                    "lease expired"
                }
            ),
            FoKind::Promote { region, planned } => format!(
                "operator: promote {} ({})",
                names[region.idx()],
                if *planned {
                    "planned handover"
                } else {
                    "forced: no live primary in reach"
                }
            ),
            FoKind::ChainChanged {
                head,
                members,
                joining,
                tail,
                reads,
            } => {
                s.chain_changes += 1;
                format!(
                    "{} reconfigures the chain: {members} member{}, tail {}{}{}",
                    names[head.idx()],
                    if *members == 1 { "" } else { "s" },
                    names[tail.idx()],
                    if reads != tail {
                        format!(
                            " (reads stay at {} until it has caught up)",
                            names[reads.idx()]
                        )
                    } else {
                        String::new()
                    },
                    match joining {
                        0 => String::new(),
                        j => format!(", {j} catching up to join"),
                    }
                )
            }
            FoKind::HandingOver { from, to } => {
                s.handovers += 1;
                format!(
                    "{} stops taking writes to hand over to {}",
                    names[from.idx()],
                    names[to.idx()]
                )
            }
        };
        if s.events.len() < 200 {
            s.events.push(FoEventOut {
                at_ms: ms(e.at),
                what,
            });
        }
    }
    s.split_brain_writes = log.split_brain.len() as u64;
    let mut fenced = log.fenced.clone();
    fenced.sort_unstable();
    fenced.dedup();
    s.fenced_writes = fenced.len() as u64;
    s.rewound_keys = log.rewound_keys;
    s
}
