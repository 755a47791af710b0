//! `promote`: an operator orders a region to become the primary (a planned handover when the
//! primary is in reach, else a forced promotion). Needs `replication.failover`;
//! `follow_the_sun` expands into one of these per move.

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::{Command, RegionId};

#[derive(Debug, Clone, PartialEq)]
pub struct Promote {
    pub region: RegionId,
}

impl FaultKind for Promote {
    const KEY: &'static str = "promote";
    const TAKES_FOR: bool = false;
    /// The region's name.
    type Spec = String;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        r: &String,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let region = cx.region(&format!("{path}.promote"), r)?;
        Ok((Promote { region }, format!("promote {r}")))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Promote
    }

    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, _label: &str) {
        host.command(fault, self.region, Command::Promote);
    }

    fn to_spec(&self, names: &[String]) -> Vec<String> {
        vec![names[self.region.idx()].clone()]
    }
}
