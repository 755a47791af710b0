//! `region_loss`: a region crashes and loses its disk (a fire, a deleted volume). With `for`,
//! new machines take over after that long and restore from the newest backup, if any, then
//! from their peers.

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::RegionId;

#[derive(Debug, Clone, PartialEq)]
pub struct RegionLoss {
    pub region: RegionId,
}

impl FaultKind for RegionLoss {
    const KEY: &'static str = "region_loss";
    const TAKES_FOR: bool = true;
    /// The region's name.
    type Spec = String;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        r: &String,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let region = cx.region(&format!("{path}.region_loss"), r)?;
        Ok((RegionLoss { region }, format!("region loss {r}")))
    }

    fn class(&self) -> FaultClass {
        FaultClass::RegionLoss
    }

    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, _label: &str) {
        host.crash(fault, self.region);
        host.lose_disk(self.region);
    }

    fn end<H: FaultHost>(&self, host: &mut H, _fault: usize, _what: &str) {
        host.recover(self.region);
    }

    fn to_spec(&self, names: &[String]) -> Vec<String> {
        vec![names[self.region.idx()].clone()]
    }
}
