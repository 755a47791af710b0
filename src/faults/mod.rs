//! Fault kinds as typed data: one file per kind, one registry.
//!
//! Each kind is a small struct (the validated action) implementing [`FaultKind`]: its YAML key,
//! how its spec entry is validated into the model and labelled, what it does when it starts and
//! ends (through [`FaultHost`], which the engine implements), its [`FaultClass`] for charts,
//! coverage and the failure table, how it is written back as YAML, and how `sim shrink` weakens
//! it. The [`registry!`] at the bottom turns the list of kinds into the [`FaultAction`] enum and
//! its dispatch, so the engine, the validator and the shrinker never match on kinds themselves.
//!
//! Adding a kind: its file here, one line in the registry, and its field in
//! `scenario/spec/faults.rs` (`FaultSpec`, `FaultSpec::actions`, `FaultSpec::set_action`).
//!
//! This module sits below `scenario`: it names regions by [`RegionId`] and reaches the
//! validator only through [`Resolve`], so `scenario` can hold its types without a cycle.

mod clock_step;
mod crash;
mod degrade;
mod heal;
mod partition;
mod promote;
mod recover;
mod region_loss;

pub use clock_step::{ClockStep, ClockStepSpec};
pub use crash::Crash;
pub use degrade::{Degrade, DegradeSpec};
pub use heal::{Heal, HealSpec};
pub use partition::Partition;
pub use promote::Promote;
pub use recover::Recover;
pub use region_loss::RegionLoss;

use crate::dist::DistSpec;
use crate::replica::{Command, RegionId};
use crate::time::Span;

/// What a fault is, for charts, coverage tables, stall attribution and effect counts. Set when
/// the fault is made (the kind's own class, or a finer one such as a weather cut, which is a
/// degrade of loss 1), so nothing downstream parses labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FaultClass {
    Partition,
    /// A link dropping everything in one direction (weather `one-way`).
    OneWayCut,
    /// Two regions that cannot talk while both still reach the rest (weather `non-transitive`).
    NonTransitiveCut,
    Degrade,
    Crash,
    RegionLoss,
    ClockStep,
    Heal,
    Recover,
    Promote,
}

impl FaultClass {
    /// Every class, in the order labels are recognised by [`FaultClass::of_label`].
    pub const ALL: [FaultClass; 10] = [
        FaultClass::Partition,
        FaultClass::Crash,
        FaultClass::Degrade,
        FaultClass::OneWayCut,
        FaultClass::NonTransitiveCut,
        FaultClass::ClockStep,
        FaultClass::Heal,
        FaultClass::Recover,
        FaultClass::Promote,
        FaultClass::RegionLoss,
    ];

    /// The name reports and coverage tables use; also how the kind's labels begin.
    pub fn name(self) -> &'static str {
        match self {
            FaultClass::Partition => "partition",
            FaultClass::OneWayCut => "one-way cut",
            FaultClass::NonTransitiveCut => "non-transitive cut",
            FaultClass::Degrade => "degrade",
            FaultClass::Crash => "crash",
            FaultClass::RegionLoss => "region loss",
            FaultClass::ClockStep => "clock step",
            FaultClass::Heal => "heal",
            FaultClass::Recover => "recover",
            FaultClass::Promote => "promote",
        }
    }

    /// Whether the run counts what the fault did (messages dropped or delayed, client
    /// operations failed while a region was down, a promote obeyed), so coverage can tell a
    /// fault that bit from one that never took effect. Region losses and promotes count too:
    /// the engine charges them like crashes and commands, and reports once dropped the counts
    /// because they recognised kinds by label prefix.
    pub fn counts_effects(self) -> bool {
        matches!(
            self,
            FaultClass::Partition
                | FaultClass::Degrade
                | FaultClass::OneWayCut
                | FaultClass::NonTransitiveCut
                | FaultClass::Crash
                | FaultClass::RegionLoss
                | FaultClass::Promote
        )
    }

    /// Whether a stall that begins while the fault is in force is attributed to it (a heal, a
    /// recovery or a clock step does not stop writes).
    pub fn can_stall(self) -> bool {
        !matches!(
            self,
            FaultClass::Heal | FaultClass::Recover | FaultClass::ClockStep
        )
    }

    /// Whether it cuts regions off from each other (a partition or a cut link); charts shade
    /// these as partitions.
    pub fn severs(self) -> bool {
        matches!(
            self,
            FaultClass::Partition | FaultClass::OneWayCut | FaultClass::NonTransitiveCut
        )
    }

    /// The class [`FaultClass::name`] names.
    pub fn from_name(name: &str) -> Option<FaultClass> {
        FaultClass::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The class of a fault known only by its label, as in a `summary.json` written before
    /// `FaultOut::kind` existed: the label begins with the class name, after an optional
    /// `weather: `. `None` for a label no kind makes.
    pub fn of_label(label: &str) -> Option<FaultClass> {
        let l = label.strip_prefix("weather: ").unwrap_or(label);
        FaultClass::ALL
            .into_iter()
            .find(|c| l.starts_with(c.name()))
    }
}

/// What a fault can do to a running simulation. The engine implements it; kinds call it from
/// [`FaultKind::start`] and [`FaultKind::end`]. `fault` is the fault's index in the run's list,
/// to which its effects are charged.
pub trait FaultHost {
    /// Splits the network: `groups[r]` is region `r`'s side.
    fn partition(&mut self, fault: usize, groups: &[u32]);
    /// Heals the partition in force, if any (only if it is `fault`'s, when given); whether it
    /// healed one.
    fn heal_partition(&mut self, fault: Option<usize>) -> bool;
    /// Restores every degraded link.
    fn heal_links(&mut self);
    /// Marks a heal on the timeline (convergence after heal is measured from it).
    fn heal_mark(&mut self, label: String);
    /// Crashes `region` (if up): its process and unsynced writes are gone.
    fn crash(&mut self, fault: usize, region: RegionId);
    /// `region`'s disk is gone too (and any backup still uploading from it).
    fn lose_disk(&mut self, region: RegionId);
    /// Brings `region` back up (rebuilding it if its disk was lost).
    fn recover(&mut self, region: RegionId);
    /// Steps `region`'s wall clock by `by_ns`.
    fn step_clock(&mut self, region: RegionId, by_ns: i64);
    /// Degrades `links` until [`FaultHost::undegrade`] with the same `fault`.
    fn degrade(
        &mut self,
        fault: usize,
        links: &[(RegionId, RegionId)],
        latency: Option<&DistSpec>,
        add_latency: Span,
        loss: Option<f64>,
    );
    /// Ends `fault`'s degradation.
    fn undegrade(&mut self, fault: usize);
    /// An operator's command to `region`; a region that is down never hears it.
    fn command(&mut self, fault: usize, region: RegionId, command: Command);
}

/// What a kind's validation needs from the scenario validator: names resolved to ids, values
/// checked, errors that name the file and the YAML path.
pub trait Resolve {
    type Error;
    fn err(&self, path: String, message: String) -> Self::Error;
    fn region(&self, path: &str, name: &str) -> Result<RegionId, Self::Error>;
    /// `"a <-> b"` or `"a -> b"` as directed pairs.
    fn link(&self, path: &str, text: &str) -> Result<Vec<(RegionId, RegionId)>, Self::Error>;
    fn dist(&self, path: &str, spec: &DistSpec) -> Result<(), Self::Error>;
    fn probability(&self, path: &str, p: f64) -> Result<f64, Self::Error>;
}

/// One kind of fault: the validated action and everything that differs between kinds.
pub trait FaultKind: Sized + Clone {
    /// Its key in a `faults` entry.
    const KEY: &'static str;
    /// Whether it may have a `for` (a duration after which [`FaultKind::end`] undoes it).
    const TAKES_FOR: bool;
    /// Its value in a `faults` entry.
    type Spec: Clone;

    /// The validated action and its label (without the `for`); `path` is the entry's YAML path
    /// (`faults[3]`), `n` the number of regions.
    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        spec: &Self::Spec,
        n: usize,
    ) -> Result<(Self, String), C::Error>;

    /// The class of the faults of this kind.
    fn class(&self) -> FaultClass;

    /// What happens when the fault starts (`label`: the fault's label).
    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, label: &str);

    /// What happens when its `for` runs out (`what`: its label without the `for`).
    fn end<H: FaultHost>(&self, _host: &mut H, _fault: usize, _what: &str) {}

    /// The action as YAML entries (`names`: region names by id); one entry, unless the spec
    /// cannot say it in one (a degrade of several unrelated links).
    fn to_spec(&self, names: &[String]) -> Vec<Self::Spec>;

    /// What `sim shrink` tries in its place (weaker faults that may still fail the same way);
    /// `None`: it is not weakened.
    fn weaken(_spec: &Self::Spec) -> Option<Vec<ActionSpec>> {
        None
    }
}

/// The `for` error of a kind that takes none.
fn no_for<C: Resolve>(cx: &C, path: &str, key: &str) -> C::Error {
    cx.err(format!("{path}.for"), format!("`{key}` takes no `for`"))
}

/// Generates, from the list of kinds, the model's [`FaultAction`], the spec's [`ActionSpec`]
/// and their dispatch. The order is the one error messages list the keys in.
macro_rules! registry {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// A validated fault action: one variant per kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum FaultAction {
            $($variant($ty)),*
        }

        /// A fault action as written in a `faults` entry: one variant per kind.
        #[derive(Debug, Clone)]
        pub enum ActionSpec {
            $($variant(<$ty as FaultKind>::Spec)),*
        }

        /// Every kind's YAML key, in registry order.
        pub const KEYS: &[&str] = &[$(<$ty as FaultKind>::KEY),*];

        impl FaultAction {
            /// The class of this fault (before any finer class its maker gives it).
            pub fn class(&self) -> FaultClass {
                match self {
                    $(FaultAction::$variant(k) => k.class()),*
                }
            }

            /// Applies the fault's start.
            #[inline]
            pub fn start<H: FaultHost>(&self, host: &mut H, fault: usize, label: &str) {
                match self {
                    $(FaultAction::$variant(k) => k.start(host, fault, label)),*
                }
            }

            /// Applies the fault's end (its `for` ran out).
            #[inline]
            pub fn end<H: FaultHost>(&self, host: &mut H, fault: usize, what: &str) {
                match self {
                    $(FaultAction::$variant(k) => k.end(host, fault, what)),*
                }
            }

            /// The action as YAML entries (see [`FaultKind::to_spec`]).
            pub fn to_spec(&self, names: &[String]) -> Vec<ActionSpec> {
                match self {
                    $(FaultAction::$variant(k) => {
                        k.to_spec(names).into_iter().map(ActionSpec::$variant).collect()
                    }),*
                }
            }
        }

        impl ActionSpec {
            /// Its key in a `faults` entry.
            pub fn key(&self) -> &'static str {
                match self {
                    $(ActionSpec::$variant(_) => <$ty as FaultKind>::KEY),*
                }
            }

            /// Validates the entry's action (`for_`: the entry's `for`): the action and its
            /// label without the `for`.
            pub fn validate<C: Resolve>(
                &self,
                cx: &C,
                path: &str,
                for_: Option<Span>,
                n: usize,
            ) -> Result<(FaultAction, String), C::Error> {
                match self {
                    $(ActionSpec::$variant(s) => {
                        if !<$ty as FaultKind>::TAKES_FOR && for_.is_some() {
                            return Err(no_for(cx, path, <$ty as FaultKind>::KEY));
                        }
                        let (k, label) = <$ty as FaultKind>::validate(cx, path, s, n)?;
                        Ok((FaultAction::$variant(k), label))
                    }),*
                }
            }

            /// What `sim shrink` tries in its place (see [`FaultKind::weaken`]).
            pub fn weaken(&self) -> Option<Vec<ActionSpec>> {
                match self {
                    $(ActionSpec::$variant(s) => <$ty as FaultKind>::weaken(s)),*
                }
            }
        }
    };
}

registry! {
    Partition(Partition),
    Heal(Heal),
    Crash(Crash),
    RegionLoss(RegionLoss),
    Recover(Recover),
    ClockStep(ClockStep),
    Degrade(Degrade),
    Promote(Promote),
}

#[cfg(test)]
mod tests;
