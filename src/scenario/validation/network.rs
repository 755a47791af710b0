//! The `network` section: one-way latency for every ordered pair (links, preset, default),
//! jitter, loss and duplication, speed-of-light warnings, bandwidth and per-class latency.

use super::*;

/// The validated latency model, before bandwidth and message classes are added.
pub(in crate::scenario) struct Links {
    pub latency: Vec<Option<LinkLatency>>,
    pub jitter: Sampler,
    pub loss: f64,
    pub duplicate: f64,
    /// Latencies faster than light in fibre between the regions' locations.
    pub warnings: Vec<String>,
}

/// Latency, jitter, loss and duplication; fills in regions' locations from the preset.
pub(in crate::scenario) fn links(
    v: &Validator,
    spec: &ScenarioSpec,
    regions: &mut [Region],
) -> Result<Links, ScenarioError> {
    let n = regions.len();
    let lat = &spec.network.latency;
    let table = match &lat.preset {
        Some(name) => Some(presets::find(name).map(|p| p.table()).ok_or_else(|| {
            v.err(
                "network.latency.preset",
                format!(
                    "unknown preset `{name}`; available: {}",
                    presets::names().join(", ")
                ),
            )
        })?),
        None => None,
    };
    for (from, to) in &lat.map {
        let path = format!("network.latency.map.{from}");
        v.region(&path, from)?;
        match &table {
            None => return Err(v.err(path, "`map` needs a `preset`")),
            Some(t) if t.index(to).is_none() => {
                return Err(v.err(
                    path,
                    format!(
                        "`{to}` is not in preset `{}`; it has: {}",
                        lat.preset.as_deref().unwrap_or(""),
                        t.regions.join(", ")
                    ),
                ))
            }
            Some(_) => {}
        }
    }
    let preset_name = |r: &Region| -> String {
        lat.map
            .get(&r.name)
            .cloned()
            .unwrap_or_else(|| r.name.clone())
    };
    // Locations: explicit, else the mapped preset region's.
    for r in regions.iter_mut() {
        if r.location.is_none() && table.is_some() {
            r.location = presets::location(&preset_name(r));
        }
    }

    let mut latency: Vec<Option<LinkLatency>> = vec![None; n * n];
    for (key, d) in &lat.links {
        let path = format!("network.latency.links.\"{key}\"");
        let sampler = v.dist(&path, d)?;
        for (a, b) in v.link(&path, key)? {
            let slot = &mut latency[a.idx() * n + b.idx()];
            if slot.is_some() {
                return Err(v.err(
                    path,
                    format!(
                        "latency {} -> {} is given twice",
                        regions[a.idx()].name,
                        regions[b.idx()].name
                    ),
                ));
            }
            *slot = Some(LinkLatency {
                spec: d.clone(),
                sampler: sampler.clone(),
                origin: "links",
            });
        }
    }
    let default = match &lat.default {
        Some(d) => Some((d.clone(), v.dist("network.latency.default", d)?)),
        None => None,
    };
    for a in 0..n {
        for b in 0..n {
            if a == b || latency[a * n + b].is_some() {
                continue;
            }
            let from_preset = table
                .as_ref()
                .and_then(|t| t.one_way(&preset_name(&regions[a]), &preset_name(&regions[b])));
            latency[a * n + b] = if let Some(ow) = from_preset {
                Some(LinkLatency {
                    spec: DistSpec::constant(ow),
                    sampler: Sampler::Constant(ow.0),
                    origin: "preset",
                })
            } else if let Some((spec, sampler)) = &default {
                Some(LinkLatency {
                    spec: spec.clone(),
                    sampler: sampler.clone(),
                    origin: "default",
                })
            } else {
                return Err(v.err(
                    "network.latency",
                    format!(
                        "no latency for {} -> {}: add it under `links`, set a `default`, or use a `preset` that has both regions",
                        regions[a].name, regions[b].name
                    ),
                ));
            };
        }
    }
    let jitter = match &lat.jitter {
        Some(j) => v.dist("network.latency.jitter", j)?,
        None => Sampler::Constant(0),
    };
    let loss = v.probability("network.loss", spec.network.loss)?;
    let duplicate = v.probability("network.duplicate", spec.network.duplicate)?;
    if loss >= 1.0 {
        return Err(v.err(
            "network.loss",
            "a loss of 1 means nothing is ever delivered; use a partition for that",
        ));
    }

    let warnings = light_warnings(regions, &latency);
    Ok(Links {
        latency,
        jitter,
        loss,
        duplicate,
        warnings,
    })
}

/// Latencies that beat light in fibre between the regions' known locations: warnings, since a
/// configuration may mean it (a what-if), but usually it is a typo or a round trip given as
/// one-way.
fn light_warnings(regions: &[Region], latency: &[Option<LinkLatency>]) -> Vec<String> {
    let n = regions.len();
    let mut warnings = Vec::new();
    for a in 0..n {
        for b in 0..n {
            if a == b {
                continue;
            }
            let (Some(la), Some(lb)) = (regions[a].location, regions[b].location) else {
                continue;
            };
            let link = latency[a * n + b].as_ref().expect("filled above");
            let km = presets::great_circle_km(la, lb);
            let floor = presets::fibre_floor(km);
            let nominal = link.spec.nominal();
            if nominal < floor {
                warnings.push(format!(
                    "latency {} -> {} is {} but light in fibre needs at least {} for {:.0} km",
                    regions[a].name, regions[b].name, nominal, floor, km
                ));
            }
        }
    }
    warnings
}

/// Bits per second per ordered pair (0: unlimited).
pub(in crate::scenario) fn bandwidth(
    v: &Validator,
    spec: &ScenarioSpec,
    n: usize,
) -> Result<Vec<u64>, ScenarioError> {
    let mut bandwidth_bps = vec![0u64; n * n];
    if let Some(bw) = &spec.network.bandwidth {
        if let Some(d) = bw.default {
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    bandwidth_bps[a * n + b] = d.bits_per_sec;
                }
            }
        }
        for (key, r) in &bw.links {
            let path = format!("network.bandwidth.links.\"{key}\"");
            for (a, b) in v.link(&path, key)? {
                bandwidth_bps[a.idx() * n + b.idx()] = r.bits_per_sec;
            }
        }
    }
    Ok(bandwidth_bps)
}

/// Latency overrides per message class.
pub(in crate::scenario) fn message_classes(
    v: &Validator,
    spec: &ScenarioSpec,
    n: usize,
) -> Result<[Option<ClassLatency>; 7], ScenarioError> {
    let mut msg_classes: [Option<ClassLatency>; 7] = Default::default();
    for (c, spec_c) in crate::replica::MsgClass::ALL
        .iter()
        .zip(spec.network.classes.all())
    {
        let Some(cl) = spec_c else { continue };
        let p = format!("network.classes.{}", c.name());
        if cl.default.is_none() && cl.links.is_empty() && cl.add.is_none() {
            return Err(v.err(p, "needs `default`, `links` or `add`"));
        }
        let mut links: Vec<Option<Sampler>> = vec![None; n * n];
        if let Some(d) = &cl.default {
            let smp = v.dist(&format!("{p}.default"), d)?;
            for a in 0..n {
                for b in (0..n).filter(|&b| b != a) {
                    links[a * n + b] = Some(smp.clone());
                }
            }
        }
        for (key, d) in &cl.links {
            let path = format!("{p}.links.\"{key}\"");
            let smp = v.dist(&path, d)?;
            for (a, b) in v.link(&path, key)? {
                links[a.idx() * n + b.idx()] = Some(smp.clone());
            }
        }
        let add = match &cl.add {
            Some(d) => Some(v.dist(&format!("{p}.add"), d)?),
            None => None,
        };
        msg_classes[*c as usize] = Some(ClassLatency { links, add });
    }
    Ok(msg_classes)
}
