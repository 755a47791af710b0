//! `crash`: a region's process dies; what it had not fsynced is lost, its disk survives. With
//! `for`, it restarts from its disk after that long.

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::RegionId;

#[derive(Debug, Clone, PartialEq)]
pub struct Crash {
    pub region: RegionId,
}

impl FaultKind for Crash {
    const KEY: &'static str = "crash";
    const TAKES_FOR: bool = true;
    /// The region's name.
    type Spec = String;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        r: &String,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let region = cx.region(&format!("{path}.crash"), r)?;
        Ok((Crash { region }, format!("crash {r}")))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Crash
    }

    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, _label: &str) {
        host.crash(fault, self.region);
    }

    fn end<H: FaultHost>(&self, host: &mut H, _fault: usize, _what: &str) {
        host.recover(self.region);
    }

    fn to_spec(&self, names: &[String]) -> Vec<String> {
        vec![names[self.region.idx()].clone()]
    }
}
