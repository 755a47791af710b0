//! `RunSummary`: the plain, serialisable result of one run (the `summary.json` contract), built
//! from the engine's output, with the end-of-run checks and the scenario's expectations.
//!
//! Everything but the `wall` section is a pure function of scenario, seed and build, so two
//! runs produce byte-identical JSON apart from `wall`.
//!
//! Layout: this file holds the types (the JSON schema); `build` assembles a summary from a
//! run's output, `sections` computes the per-topic sections, `phases` what the system was doing
//! when each fault began, `conflicts` what conflict resolution did to the data, and `expect`
//! judges the scenario's `expect:` block. The checks themselves live in [`crate::summary::checks`].

mod build;
pub mod checks;
mod conflicts;
mod expect;
mod phases;
mod sections;

pub use build::{build, build_with};
pub use checks::CheckResult as Check;

pub use conflicts::{ConflictFacts, ConflictsOut, ManualOut, TableOut};
pub use expect::evaluate;
pub use phases::PHASES;
pub use sections::t99;

use crate::engine::EventCounts;
use crate::metrics::{ns_to_ms, LostUpdates, MessageCounts, StatsMs};
use crate::series::ReportData;
use crate::time::SimTime;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunSummary {
    pub scenario: String,
    pub file: String,
    pub description: Option<String>,
    pub seed: u64,
    pub version: String,
    pub repro: String,
    pub trace_digest: String,
    /// Events processed: client ops, message deliveries, timers and faults.
    pub events: u64,
    pub events_breakdown: EventCounts,
    pub sim_time_ns: u64,
    pub duration_ns: u64,
    pub quiesce: Quiesce,
    pub regions: Vec<String>,
    pub writes: Writes,
    pub reads: Reads,
    /// From a write's ack until every region holds it or a newer value of its key.
    pub visibility_ms: StatsMs,
    pub visibility_by_origin_ms: BTreeMap<String, StatsMs>,
    /// Acknowledged writes that never became visible everywhere (lost, or still in flight).
    pub visibility_incomplete: u64,
    /// Per directed pair "a->b": from the ack at a until b holds the write or a newer value.
    pub lag_ms: BTreeMap<String, StatsMs>,
    pub convergence: Convergence,
    pub lost_acked_writes: u64,
    pub crashes: Vec<CrashOut>,
    /// Every crash and partition: detection, election, RPO and RTO.
    #[serde(default)]
    pub failovers: Vec<crate::failures::FailureOut>,
    #[serde(default)]
    pub rpo: crate::failures::RpoOut,
    #[serde(default)]
    pub rto: crate::failures::RtoOut,
    /// Suspicions, elections and fencing (runs with `replication.failover`).
    #[serde(default)]
    pub failover: Option<crate::failures::FailoverStats>,
    pub lost_updates: LostUpdates,
    /// Conflict policies and data types (runs with tables, or a policy other than `lww`).
    #[serde(default)]
    pub conflicts: Option<ConflictsOut>,
    /// Session guarantees (runs with `workload.sessions`).
    #[serde(default)]
    pub sessions: Option<crate::metrics::SessionViolations>,
    pub messages: MessageCounts,
    /// The replication strategy and topology this run used.
    #[serde(default)]
    pub replication: ReplicationOut,
    /// Client operations per kind and consistency level: latency, failures, staleness.
    #[serde(default)]
    pub levels: Vec<LevelOut>,
    /// Messages, bytes and egress cost, per write and per link.
    #[serde(default)]
    pub efficiency: Efficiency,
    /// Regions that had a write pending for over `stall_after_ms`, and for how long.
    #[serde(default)]
    pub stalls: Vec<StallOut>,
    /// The stall threshold the run used (`report.stall_after`; 0 in summaries written before
    /// it was configurable, which used 1 s).
    #[serde(default)]
    pub stall_after_ms: f64,
    /// Staleness per (writer region -> reader region): reads of keys whose newest acknowledged
    /// write came from the writer's clients.
    #[serde(default)]
    pub staleness_pairs: Vec<StalenessPairOut>,
    /// Merkle-tree anti-entropy, when configured.
    #[serde(default)]
    pub anti_entropy: Option<AntiEntropyOut>,
    /// Replica service queues, when service times are configured.
    #[serde(default)]
    pub service: Vec<ServiceOut>,
    /// Per-region clocks, when any region has reading noise or a time daemon.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clocks: Vec<ClockOut>,
    pub faults: Vec<FaultOut>,
    pub warnings: Vec<String>,
    pub checks: Vec<Check>,
    pub expectations: Vec<Expectation>,
    pub passed: bool,
    /// Histograms, time series and windows for charts (`sim report` re-renders from these).
    pub report_data: ReportData,
    /// The scenario file's text as written (echoed in reports).
    pub scenario_yaml: String,
    /// Host-dependent timings: the only part that differs between identical runs.
    pub wall: WallClock,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Quiesce {
    pub drained: bool,
    pub ns: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Writes {
    pub issued: u64,
    pub acked: u64,
    pub failed: u64,
    /// Client retries (`workload.retry`): a write counts once above, however many tries.
    #[serde(default)]
    pub retries: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Reads {
    pub total: u64,
    pub stale: u64,
    pub failed: u64,
    #[serde(default)]
    pub retries: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Convergence {
    pub converged: bool,
    pub final_digests_equal: bool,
    pub region_digests: BTreeMap<String, Option<String>>,
    /// Per heal: ms until every write acknowledged before it was visible everywhere
    /// (null: some never were).
    pub after_heal_ms: Vec<Option<f64>>,
    pub heals: Vec<HealOut>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReplicationOut {
    pub mode: String,
    pub topology: String,
    /// One line: "primary us-east, semi-sync, forwarding" / "n=3 w=2 r=2, hinted handoff".
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LevelOut {
    /// `write` or `read`.
    pub op: String,
    /// The level as written in the mix (`default`, `local`, `quorum`, `primary`, `all`).
    pub level: String,
    /// What it waits for under this strategy ("majority of 3 replicas").
    pub meaning: String,
    pub ok: u64,
    pub failed: u64,
    pub latency_ms: StatsMs,
    /// Reads only: returned an older value than the newest acknowledged write.
    pub stale: u64,
    pub stale_pct: f64,
    /// Reads only: versions behind, averaged over stale reads, and the worst.
    pub k_stale_mean: f64,
    pub k_stale_max: u64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Efficiency {
    pub messages_per_write: f64,
    pub bytes_per_write: f64,
    /// Present when the scenario has a `cost` block.
    pub cost_usd: Option<f64>,
    pub cost_per_million_writes_usd: Option<f64>,
    /// Directed links that carried traffic.
    pub links: Vec<LinkOut>,
    /// Traffic per message class that carried any.
    #[serde(default)]
    pub classes: Vec<ClassOut>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClassOut {
    pub class: String,
    pub messages: u64,
    pub bytes: u64,
    pub bytes_per_write: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StalenessPairOut {
    pub writer: String,
    pub reader: String,
    pub reads: u64,
    pub fresh_pct: f64,
    /// Reads issued within 100 ms of the write's acknowledgement, and the share of them that
    /// returned it (null: none).
    pub reads_within_100ms: u64,
    pub fresh_within_100ms_pct: Option<f64>,
    /// The smallest age bucket bound after which at least 99% of reads in every later bucket
    /// returned the latest write (null: never within the run).
    pub t99_ms: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct AntiEntropyOut {
    pub interval_ms: f64,
    pub fanout: u32,
    pub leaves: u32,
    pub branching: u32,
    pub sessions: u64,
    /// Sessions whose end reached the initiator (others lost a message and were retried).
    pub finished: u64,
    /// Finished sessions whose trees matched at the root (one message).
    pub in_sync: u64,
    /// Messages per finished session.
    pub rounds_mean: f64,
    pub rounds_max: u64,
    pub keys_repaired: u64,
    pub messages: u64,
    pub bytes: u64,
    /// What shipping the initiator's whole shared state every session would have cost.
    pub full_state_bytes: u64,
    /// `bytes` as a percentage of `full_state_bytes`.
    pub bytes_vs_full_state_pct: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ServiceOut {
    pub region: String,
    pub writes: u64,
    pub reads: u64,
    /// Share of the run the replica spent serving.
    pub utilisation_pct: f64,
    pub wait_mean_ms: f64,
    pub wait_max_ms: f64,
    pub max_queue: u64,
}

/// One region's clock: how it was configured and what its time daemon did.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ClockOut {
    pub region: String,
    pub offset_ms: f64,
    pub drift_ppm: f64,
    /// Bound of the noise on each reading.
    pub noise_ms: f64,
    /// Poll interval of its time daemon (None: unsynchronised).
    pub ntp_interval_ms: Option<f64>,
    pub polls: u64,
    /// Polls that stepped the clock (the rest slewed it).
    pub steps: u64,
    /// The largest error a poll found before correcting it.
    pub max_error_ms: f64,
    /// Wall clock minus true time when the run ended.
    pub final_error_ms: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct LinkOut {
    pub link: String,
    pub messages: u64,
    pub bytes: u64,
    pub bytes_per_write: f64,
    pub usd_per_gb: Option<f64>,
    pub cost_usd: Option<f64>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct StallOut {
    pub region: String,
    /// Total time with some write pending for over the stall threshold.
    pub total_ms: f64,
    pub longest_ms: f64,
    pub longest_from_ms: f64,
    pub longest_to_ms: f64,
    /// The fault active when the longest stall began, if any.
    pub during: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct HealOut {
    pub at_ms: f64,
    pub label: String,
    pub converged_after_ms: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CrashOut {
    pub region: String,
    pub at_ms: f64,
    pub recovered_at_ms: Option<f64>,
    pub lost_acked_writes: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct FaultOut {
    pub at_ms: f64,
    pub until_ms: Option<f64>,
    pub label: String,
    /// What kind of fault it is (`partition`, `one-way cut`, `non-transitive cut`, `degrade`,
    /// `crash`, `region loss`, `clock step`, `heal`, `recover`, `promote`): reports shade and
    /// count faults by it. Empty in summaries written before it existed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// For partitions, degraded links and crashes: messages dropped or delayed and client
    /// operations failed because of it (0 = it never took effect).
    pub effects: Option<u64>,
    /// What the system was doing when the fault began: `failover` (a failure detected and its
    /// writes not yet back), `catch-up` (after a heal, until what was acknowledged before it
    /// is visible everywhere), `anti-entropy` (a session repairing differences), or `steady`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phases: Vec<String>,
    /// Its `for` ran past `duration`: quiesce healed it at the end of the run instead.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cut_off: bool,
}

impl FaultOut {
    /// Its class, from `kind`; summaries written before `kind` existed fall back to the
    /// label's first words, which is how those versions named the kind.
    pub fn class(&self) -> Option<crate::faults::FaultClass> {
        crate::faults::FaultClass::from_name(&self.kind)
            .or_else(|| crate::faults::FaultClass::of_label(&self.label))
    }
}

impl RunSummary {
    /// The stall threshold as reports print it ("1.00s"); 1 s for older summaries.
    pub fn stall_after(&self) -> String {
        crate::units::human_ms(if self.stall_after_ms > 0.0 {
            self.stall_after_ms
        } else {
            1000.0
        })
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Expectation {
    pub name: String,
    pub passed: bool,
    pub expected: String,
    pub actual: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct WallClock {
    pub ms: f64,
    pub events_per_sec: f64,
    pub sim_to_wall_ratio: f64,
    /// Peak resident memory of the process once the run and its analysis were done, where the
    /// platform reports it (Linux). `sim run` fills it in; runs of a sweep share a process, so
    /// theirs is absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_bytes: Option<u64>,
}

impl RunSummary {
    /// Names of the failed checks and expectations (`expect.` prefixed), checks first.
    pub fn failed_names(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter(|c| !c.passed)
            .map(|c| c.name.clone())
            .chain(
                self.expectations
                    .iter()
                    .filter(|e| !e.passed)
                    .map(|e| format!("expect.{}", e.name)),
            )
            .collect()
    }

    /// Every check and expectation as (passed, name, detail), failures first.
    pub fn verdict_rows(&self) -> Vec<(bool, String, String)> {
        let mut rows: Vec<(bool, String, String)> = self
            .checks
            .iter()
            .map(|c| (c.passed, c.name.clone(), c.detail.clone()))
            .chain(self.expectations.iter().map(|x| {
                (
                    x.passed,
                    format!("expect.{}", x.name),
                    format!("expected {}, got {}", x.expected, x.actual),
                )
            }))
            .collect();
        rows.sort_by_key(|r| r.0);
        rows
    }

    /// The JSON form without the host-dependent `wall` section (for determinism comparisons).
    pub fn deterministic_json(&self) -> String {
        let mut s = self.clone();
        s.wall = WallClock::default();
        serde_json::to_string_pretty(&s).expect("summary serialises")
    }
}

/// A simulated time in milliseconds, as the summary reports times.
fn ms(t: SimTime) -> f64 {
    ns_to_ms(t.0)
}

#[cfg(test)]
mod tests {
    /// Reports classify a summary's faults by their `kind`; a summary written before `kind`
    /// existed still classifies by the label's first words.
    #[test]
    fn a_summary_fault_is_classified_by_its_kind_and_old_ones_by_their_label() {
        let new: crate::summary::FaultOut = serde_json::from_str(
            r#"{"at_ms": 1.0, "until_ms": null, "label": "lose eu", "kind": "region loss", "effects": 3}"#,
        )
        .unwrap();
        assert_eq!(new.class(), Some(crate::faults::FaultClass::RegionLoss));
        let old: crate::summary::FaultOut = serde_json::from_str(
            r#"{"at_ms": 1.0, "until_ms": null, "label": "weather: partition [a] | [b]", "effects": 0}"#,
        )
        .unwrap();
        assert_eq!(old.kind, "");
        assert_eq!(old.class(), Some(crate::faults::FaultClass::Partition));
        let json = serde_json::to_string(&new).unwrap();
        assert!(json.contains(r#""kind":"region loss""#), "{json}");
    }
}
