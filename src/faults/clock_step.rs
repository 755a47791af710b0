//! `clock_step`: a region's wall clock jumps (an NTP correction, a leap second smeared badly).

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::replica::RegionId;
use crate::time::SignedSpan;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockStepSpec {
    pub region: String,
    pub by: SignedSpan,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClockStep {
    pub region: RegionId,
    pub by_ns: i64,
}

impl FaultKind for ClockStep {
    const KEY: &'static str = "clock_step";
    const TAKES_FOR: bool = false;
    type Spec = ClockStepSpec;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        cs: &ClockStepSpec,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let region = cx.region(&format!("{path}.clock_step.region"), &cs.region)?;
        Ok((
            ClockStep {
                region,
                by_ns: cs.by.0,
            },
            format!("clock step {} by {}", cs.region, cs.by),
        ))
    }

    fn class(&self) -> FaultClass {
        FaultClass::ClockStep
    }

    fn start<H: FaultHost>(&self, host: &mut H, _fault: usize, _label: &str) {
        host.step_clock(self.region, self.by_ns);
    }

    fn to_spec(&self, names: &[String]) -> Vec<ClockStepSpec> {
        vec![ClockStepSpec {
            region: names[self.region.idx()].clone(),
            by: SignedSpan(self.by_ns),
        }]
    }
}
