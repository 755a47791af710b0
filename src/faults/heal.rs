//! `heal`: ends partitions, degraded links, or both, at once.

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use serde::{Deserialize, Serialize};

/// What a `heal` ends.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum HealSpec {
    /// Partitions and degraded links.
    All,
    Partitions,
    Links,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Heal {
    pub what: HealSpec,
}

impl FaultKind for Heal {
    const KEY: &'static str = "heal";
    const TAKES_FOR: bool = false;
    type Spec = HealSpec;

    fn validate<C: Resolve>(
        _cx: &C,
        _path: &str,
        h: &HealSpec,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let label = format!(
            "heal {}",
            serde_yaml::to_string(h).unwrap_or_default().trim()
        );
        Ok((Heal { what: *h }, label))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Heal
    }

    fn start<H: FaultHost>(&self, host: &mut H, _fault: usize, label: &str) {
        if matches!(self.what, HealSpec::All | HealSpec::Partitions) {
            host.heal_partition(None);
        }
        if matches!(self.what, HealSpec::All | HealSpec::Links) {
            host.heal_links();
        }
        host.heal_mark(label.to_string());
    }

    fn to_spec(&self, _names: &[String]) -> Vec<HealSpec> {
        vec![self.what]
    }
}
