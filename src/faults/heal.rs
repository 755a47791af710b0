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

impl HealSpec {
    /// Whether this heal ends a fault of `class` that is in force: partitions are ended by
    /// `all` and `partitions`; link faults (degradations and the weather's cuts) by `all` and
    /// `links`. Charts end their shading with it.
    pub fn ends(self, class: FaultClass) -> bool {
        let link_fault = matches!(
            class,
            FaultClass::Degrade | FaultClass::OneWayCut | FaultClass::NonTransitiveCut
        );
        match self {
            HealSpec::All => class == FaultClass::Partition || link_fault,
            HealSpec::Partitions => class == FaultClass::Partition,
            HealSpec::Links => link_fault,
        }
    }

    /// The scope a heal's summary label (`heal all`, `heal partitions`, `heal links`, as
    /// [`Heal`]'s validation writes it) records: the label is the spec serialised, so this
    /// reads it back through the same serde names rather than matching strings.
    pub fn of_label(label: &str) -> Option<HealSpec> {
        serde_yaml::from_str(label.strip_prefix("heal ")?).ok()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_heal_label_reads_back_as_its_scope_and_the_scope_says_what_it_ends() {
        for h in [HealSpec::All, HealSpec::Partitions, HealSpec::Links] {
            let label = format!("heal {}", serde_yaml::to_string(&h).unwrap().trim());
            assert_eq!(HealSpec::of_label(&label), Some(h), "{label}");
        }
        assert_eq!(HealSpec::of_label("quiesce: heal all"), None);
        assert_eq!(HealSpec::of_label("heal everything"), None);
        use FaultClass as C;
        let ends = |h: HealSpec| {
            [
                C::Partition,
                C::Degrade,
                C::OneWayCut,
                C::NonTransitiveCut,
                C::Crash,
            ]
            .map(|c| h.ends(c))
        };
        assert_eq!(ends(HealSpec::All), [true, true, true, true, false]);
        assert_eq!(
            ends(HealSpec::Partitions),
            [true, false, false, false, false]
        );
        assert_eq!(ends(HealSpec::Links), [false, true, true, true, false]);
    }
}
