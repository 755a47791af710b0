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

pub use crate::faults::{ActionSpec, ClockStepSpec, DegradeSpec, HealSpec};

impl FaultSpec {
    /// The actions this entry names (exactly one in a valid entry), in registry order;
    /// `follow_the_sun` is not one (it expands into promotes).
    pub fn actions(&self) -> Vec<ActionSpec> {
        [
            self.partition.clone().map(ActionSpec::Partition),
            self.heal.map(ActionSpec::Heal),
            self.crash.clone().map(ActionSpec::Crash),
            self.region_loss.clone().map(ActionSpec::RegionLoss),
            self.recover.clone().map(ActionSpec::Recover),
            self.clock_step.clone().map(ActionSpec::ClockStep),
            self.degrade.clone().map(ActionSpec::Degrade),
            self.promote.clone().map(ActionSpec::Promote),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// This entry with `action` as its only action.
    pub fn set_action(&mut self, action: ActionSpec) {
        self.partition = None;
        self.heal = None;
        self.crash = None;
        self.region_loss = None;
        self.recover = None;
        self.clock_step = None;
        self.degrade = None;
        self.promote = None;
        self.follow_the_sun = None;
        match action {
            ActionSpec::Partition(s) => self.partition = Some(s),
            ActionSpec::Heal(s) => self.heal = Some(s),
            ActionSpec::Crash(s) => self.crash = Some(s),
            ActionSpec::RegionLoss(s) => self.region_loss = Some(s),
            ActionSpec::Recover(s) => self.recover = Some(s),
            ActionSpec::ClockStep(s) => self.clock_step = Some(s),
            ActionSpec::Degrade(s) => self.degrade = Some(s),
            ActionSpec::Promote(s) => self.promote = Some(s),
        }
    }
}
