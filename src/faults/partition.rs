//! `partition`: the regions split into sides that cannot talk to each other; regions not named
//! form one more side together. A newer partition replaces the one in force.

use super::{ActionSpec, DegradeSpec, FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::RegionId;

/// The side of each region (`groups[r]`); regions on different sides cannot talk.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    pub groups: Vec<u32>,
}

impl FaultKind for Partition {
    const KEY: &'static str = "partition";
    const TAKES_FOR: bool = true;
    /// The sides, each a list of region names.
    type Spec = Vec<Vec<String>>;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        groups: &Vec<Vec<String>>,
        n: usize,
    ) -> Result<(Self, String), C::Error> {
        let p = format!("{path}.partition");
        if groups.len() < 2 && groups.iter().map(|g| g.len()).sum::<usize>() >= n {
            return Err(cx.err(p, "a partition needs at least two sides".into()));
        }
        let mut side = vec![u32::MAX; n];
        for (g, members) in groups.iter().enumerate() {
            if members.is_empty() {
                return Err(cx.err(
                    format!("{p}[{g}]"),
                    "a side must name at least one region".into(),
                ));
            }
            for m in members {
                let id = cx.region(&format!("{p}[{g}]"), m)?;
                if side[id.idx()] != u32::MAX {
                    return Err(cx.err(p, format!("region `{m}` is named twice")));
                }
                side[id.idx()] = g as u32;
            }
        }
        let rest = groups.len() as u32;
        for s in &mut side {
            if *s == u32::MAX {
                *s = rest;
            }
        }
        let label = format!(
            "partition {}",
            groups
                .iter()
                .map(|g| format!("[{}]", g.join(", ")))
                .collect::<Vec<_>>()
                .join(" | ")
        );
        Ok((Partition { groups: side }, label))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Partition
    }

    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, _label: &str) {
        host.partition(fault, &self.groups);
    }

    /// Heals the partition only if it is still the one in force (a newer one replaced it, or a
    /// `heal` ended it, otherwise).
    fn end<H: FaultHost>(&self, host: &mut H, fault: usize, what: &str) {
        if host.heal_partition(Some(fault)) {
            host.heal_mark(format!("end of {what}"));
        }
    }

    fn to_spec(&self, names: &[String]) -> Vec<Vec<Vec<String>>> {
        // Sides in order of their first region, which is how validation numbered them.
        let mut sides: Vec<(u32, Vec<String>)> = Vec::new();
        for (i, g) in self.groups.iter().enumerate() {
            let name = names[RegionId(i as u16).idx()].clone();
            match sides.iter_mut().find(|(s, _)| s == g) {
                Some((_, v)) => v.push(name),
                None => sides.push((*g, vec![name])),
            }
        }
        vec![sides.into_iter().map(|(_, v)| v).collect()]
    }

    /// 50% loss between the regions of different named sides, one `degrade` per pair (the
    /// unnamed rest is not a side here, so a one-side partition weakens to nothing).
    fn weaken(groups: &Vec<Vec<String>>) -> Option<Vec<ActionSpec>> {
        let mut out = Vec::new();
        for (gi, g) in groups.iter().enumerate() {
            for other in groups.iter().skip(gi + 1) {
                for a in g {
                    for b in other {
                        out.push(ActionSpec::Degrade(DegradeSpec {
                            link: format!("{a} <-> {b}"),
                            latency: None,
                            add_latency: None,
                            loss: Some(0.5),
                        }));
                    }
                }
            }
        }
        Some(out)
    }
}
