//! The `faults` timeline's file format: one entry per fault, each with exactly one action.

use super::*;

/// One entry of the fault timeline: `at`, exactly one action, and an optional `for`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    pub at: Span,
    #[serde(default, rename = "for")]
    pub for_: Option<Span>,
    #[serde(default)]
    pub partition: Option<Vec<Vec<String>>>,
    #[serde(default)]
    pub heal: Option<HealSpec>,
    #[serde(default)]
    pub crash: Option<String>,
    #[serde(default)]
    pub recover: Option<String>,
    #[serde(default)]
    pub clock_step: Option<ClockStepSpec>,
    #[serde(default)]
    pub degrade: Option<DegradeSpec>,
    /// Operator: make this region the primary (a planned handover when the primary is in
    /// reach, else a forced promotion). Needs `replication.failover`.
    #[serde(default)]
    pub promote: Option<String>,
    /// The region loses its disk as well as its process (a fire, a deleted volume). With
    /// `for`, new machines take over after that long; it restores from the newest backup
    /// (`durability.backup`), if any, then from its peers.
    #[serde(default)]
    pub region_loss: Option<String>,
    /// Operator: move the primary around these regions, one promote every `every`, starting
    /// with the first region at `at`.
    #[serde(default)]
    pub follow_the_sun: Option<FollowTheSunSpec>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FollowTheSunSpec {
    pub regions: Vec<String>,
    pub every: Span,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HealSpec {
    /// Partitions and degraded links.
    All,
    Partitions,
    Links,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStepSpec {
    pub region: String,
    pub by: SignedSpan,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeSpec {
    pub link: String,
    /// Replaces the link's one-way latency while degraded.
    #[serde(default)]
    pub latency: Option<DistSpec>,
    /// Added to every message's latency while degraded.
    #[serde(default)]
    pub add_latency: Option<Span>,
    /// Replaces the loss probability while degraded.
    #[serde(default)]
    pub loss: Option<f64>,
}
