//! `recover`: a crashed region restarts now (from its disk, or rebuilt if it was lost).

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::RegionId;

#[derive(Debug, Clone, PartialEq)]
pub struct Recover {
    pub region: RegionId,
}

impl FaultKind for Recover {
    const KEY: &'static str = "recover";
    const TAKES_FOR: bool = false;
    /// The region's name.
    type Spec = String;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        r: &String,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let region = cx.region(&format!("{path}.recover"), r)?;
        Ok((Recover { region }, format!("recover {r}")))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Recover
    }

    fn start<H: FaultHost>(&self, host: &mut H, _fault: usize, _label: &str) {
        host.recover(self.region);
    }

    fn to_spec(&self, names: &[String]) -> Vec<String> {
        vec![names[self.region.idx()].clone()]
    }
}
