//! The `regions` list: unique names, clocks (offset, drift, noise, NTP) and locations.

use super::*;

pub(in crate::scenario) fn regions(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<Vec<Region>, ScenarioError> {
    let mut regions = Vec::with_capacity(spec.regions.len());
    for (i, r) in spec.regions.iter().enumerate() {
        let path = format!("regions[{i}]");
        if r.name.trim().is_empty() || r.name.contains("->") || r.name.contains("<->") {
            return Err(v.err(
                format!("{path}.name"),
                "must be a non-empty name without `->`",
            ));
        }
        if let Some(j) = spec.regions[..i].iter().position(|o| o.name == r.name) {
            return Err(v.err(
                format!("{path}.name"),
                format!("duplicate region `{}` (also regions[{j}])", r.name),
            ));
        }
        let ppm = r.clock.drift_ppm;
        if !ppm.is_finite() || ppm.abs() > 10_000.0 {
            return Err(v.err(
                format!("{path}.clock.drift_ppm"),
                format!("must be between -10000 and 10000 ppm, got {ppm}"),
            ));
        }
        if let Some(loc) = r.location {
            if !(-90.0..=90.0).contains(&loc.lat) || !(-180.0..=180.0).contains(&loc.lon) {
                return Err(v.err(
                    format!("{path}.location"),
                    "lat must be in [-90, 90] and lon in [-180, 180]",
                ));
            }
        }
        let noise = r.clock.noise.or(spec.clocks.noise).unwrap_or_default();
        let noise_path = if r.clock.noise.is_some() {
            format!("{path}.clock.noise")
        } else {
            "clocks.noise".to_string()
        };
        if noise.0 > 10_000_000_000 {
            return Err(v.err(noise_path, "must be at most 10s"));
        }
        let sync = match (r.clock.ntp, spec.clocks.ntp) {
            (Some(n), _) => Some(ntp_plan(v, &format!("{path}.clock.ntp"), &n)?),
            (None, Some(n)) => Some(ntp_plan(v, "clocks.ntp", &n)?),
            (None, None) => None,
        };
        regions.push(Region {
            name: r.name.clone(),
            offset_ns: r.clock.offset.0,
            drift_ppb: (ppm * 1000.0).round() as i64,
            noise_ns: noise.0,
            sync,
            location: r.location.map(|l| (l.lat, l.lon)),
        });
    }
    Ok(regions)
}
