//! `degrade`: a link (or both directions of one) gets slower or lossier while the fault lasts.

use super::{FaultClass, FaultHost, FaultKind, Resolve};
use crate::dist::DistSpec;
use crate::replica::RegionId;
use crate::time::Span;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DegradeSpec {
    pub link: String,
    /// Replaces the link's one-way latency while degraded.
    #[serde(default)]
    pub latency: Option<DistSpec>,
    /// Added to every message's latency while degraded.
    #[serde(default)]
    pub add_latency: Option<Span>,
    /// Replaces the loss probability while degraded.
    #[serde(default)]
    pub loss: Option<f64>,
}

/// The directed links degraded and how; `None` leaves that property as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Degrade {
    pub links: Vec<(RegionId, RegionId)>,
    pub latency: Option<DistSpec>,
    pub add_latency: Option<Span>,
    pub loss: Option<f64>,
}

impl FaultKind for Degrade {
    const KEY: &'static str = "degrade";
    const TAKES_FOR: bool = true;
    type Spec = DegradeSpec;

    fn validate<C: Resolve>(
        cx: &C,
        path: &str,
        d: &DegradeSpec,
        _n: usize,
    ) -> Result<(Self, String), C::Error> {
        let p = format!("{path}.degrade");
        let links = cx.link(&format!("{p}.link"), &d.link)?;
        if d.latency.is_none() && d.add_latency.is_none() && d.loss.is_none() {
            return Err(cx.err(p, "needs at least one of latency, add_latency, loss".into()));
        }
        if let Some(l) = &d.latency {
            cx.dist(&format!("{p}.latency"), l)?;
        }
        if let Some(l) = d.loss {
            cx.probability(&format!("{p}.loss"), l)?;
        }
        let mut parts = vec![];
        if let Some(l) = &d.latency {
            parts.push(format!("latency {}", l.nominal()));
        }
        if let Some(a) = d.add_latency {
            parts.push(format!("+{a}"));
        }
        if let Some(l) = d.loss {
            parts.push(format!("loss {l}"));
        }
        Ok((
            Degrade {
                links,
                latency: d.latency.clone(),
                add_latency: d.add_latency,
                loss: d.loss,
            },
            format!("degrade {} ({})", d.link, parts.join(", ")),
        ))
    }

    fn class(&self) -> FaultClass {
        FaultClass::Degrade
    }

    fn start<H: FaultHost>(&self, host: &mut H, fault: usize, _label: &str) {
        host.degrade(
            fault,
            &self.links,
            self.latency.as_ref(),
            self.add_latency.unwrap_or(Span::ZERO),
            self.loss,
        );
    }

    fn end<H: FaultHost>(&self, host: &mut H, fault: usize, what: &str) {
        host.undegrade(fault);
        host.heal_mark(format!("end of {what}"));
    }

    /// One link, or both directions of one, fit one entry; anything else (a weather cut or a
    /// realised partition over several links) becomes one entry per directed link.
    fn to_spec(&self, names: &[String]) -> Vec<DegradeSpec> {
        let one = |link: String| DegradeSpec {
            link,
            latency: self.latency.clone(),
            add_latency: self.add_latency,
            loss: self.loss,
        };
        let name = |r: RegionId| &names[r.idx()];
        let links = &self.links;
        if links.len() > 2 || (links.len() == 2 && links[1] != (links[0].1, links[0].0)) {
            return links
                .iter()
                .map(|&(a, b)| one(format!("{} -> {}", name(a), name(b))))
                .collect();
        }
        let (a, b) = links[0];
        vec![one(if links.len() == 2 {
            format!("{} <-> {}", name(a), name(b))
        } else {
            format!("{} -> {}", name(a), name(b))
        })]
    }
}
