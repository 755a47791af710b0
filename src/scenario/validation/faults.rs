//! The `faults` timeline: each entry's time, its one action (regions and links resolved) and
//! its label; `follow_the_sun` expands into one promote per move.

use super::*;

/// Every fault in application order (time, then file order), warning about any whose `for`
/// runs past the end of the run.
pub(in crate::scenario) fn faults(
    v: &Validator,
    spec: &ScenarioSpec,
    has_failover: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<Fault>, ScenarioError> {
    let n = spec.regions.len();
    let end = SimTime(spec.duration.0);
    let mut faults = Vec::new();
    for (i, f) in spec.faults.iter().enumerate() {
        let path = format!("faults[{i}]");
        let at = SimTime(f.at.0);
        if at >= end {
            return Err(v.err(
                format!("{path}.at"),
                format!(
                    "{} is not before the end of the run ({})",
                    f.at, spec.duration
                ),
            ));
        }
        if f.for_ == Some(Span::ZERO) {
            return Err(v.err(format!("{path}.for"), "must be longer than 0"));
        }
        let actions = [
            f.partition.is_some(),
            f.heal.is_some(),
            f.crash.is_some(),
            f.recover.is_some(),
            f.clock_step.is_some(),
            f.degrade.is_some(),
            f.promote.is_some(),
            f.follow_the_sun.is_some(),
            f.region_loss.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if actions != 1 {
            return Err(v.err(
                path,
                format!(
                    "needs exactly one of partition, heal, crash, region_loss, recover, clock_step, degrade, promote, follow_the_sun (found {actions})"
                ),
            ));
        }
        if (f.promote.is_some() || f.follow_the_sun.is_some()) && !has_failover {
            return Err(v.err(
                path,
                "`promote` and `follow_the_sun` need `replication.failover` (auto or manual)",
            ));
        }
        if let Some(fs) = &f.follow_the_sun {
            faults.extend(follow_the_sun(v, &path, i, at, end, f, fs)?);
            continue;
        }
        let (action, label) = action(v, &path, f, n)?;
        let until = f.for_.map(|d| at + d);
        if let (Some(u), Some(d)) = (until, f.for_) {
            if u.0 > spec.duration.0 {
                warnings.push(format!(
                    "faults[{i}].for: {d} runs past the end of the run ({}); quiesce undoes it then, so it is cut off",
                    spec.duration
                ));
            }
        }
        let what = label.clone();
        let label = match f.for_ {
            Some(d) => format!("{label} for {d}"),
            None => label,
        };
        faults.push(Fault {
            index: i,
            at,
            until,
            action,
            label,
            what,
        });
    }
    // Stable: faults at the same instant apply in file order.
    faults.sort_by_key(|f| (f.at, f.index));
    Ok(faults)
}

/// One promote per move, round the listed regions, until the end of the run.
fn follow_the_sun(
    v: &Validator,
    path: &str,
    i: usize,
    at: SimTime,
    end: SimTime,
    f: &FaultSpec,
    fs: &FollowTheSunSpec,
) -> Result<Vec<Fault>, ScenarioError> {
    let mut faults = Vec::new();
    let p = format!("{path}.follow_the_sun");
    if f.for_.is_some() {
        return Err(v.err(format!("{path}.for"), "`follow_the_sun` takes no `for`"));
    }
    if fs.regions.is_empty() {
        return Err(v.err(format!("{p}.regions"), "name at least one region"));
    }
    if fs.every < Span::from_secs(1) {
        return Err(v.err(
            format!("{p}.every"),
            format!("{} is too often: at least 1s between moves", fs.every),
        ));
    }
    let mut regions = Vec::new();
    for (j, name) in fs.regions.iter().enumerate() {
        regions.push((v.region(&format!("{p}.regions[{j}]"), name)?, name.clone()));
    }
    // One promote per move, until the end of the run.
    let mut t = at;
    let mut j = 0;
    while t < end {
        let (region, name) = regions[j % regions.len()].clone();
        let label = format!("promote {name} (follow the sun)");
        faults.push(Fault {
            index: i,
            at: t,
            until: None,
            action: FaultAction::Promote { region },
            what: label.clone(),
            label,
        });
        t += fs.every;
        j += 1;
    }
    Ok(faults)
}

/// The entry's one action and its label (without the `for`).
fn action(
    v: &Validator,
    path: &str,
    f: &FaultSpec,
    n: usize,
) -> Result<(FaultAction, String), ScenarioError> {
    Ok(if let Some(r) = &f.region_loss {
        let region = v.region(&format!("{path}.region_loss"), r)?;
        (
            FaultAction::RegionLoss { region },
            format!("region loss {r}"),
        )
    } else if let Some(r) = &f.promote {
        if f.for_.is_some() {
            return Err(v.err(format!("{path}.for"), "`promote` takes no `for`"));
        }
        let region = v.region(&format!("{path}.promote"), r)?;
        (FaultAction::Promote { region }, format!("promote {r}"))
    } else if let Some(groups) = &f.partition {
        let p = format!("{path}.partition");
        if groups.len() < 2 && groups.iter().map(|g| g.len()).sum::<usize>() >= n {
            return Err(v.err(p, "a partition needs at least two sides"));
        }
        // Regions not named form one more side together.
        let mut side = vec![u32::MAX; n];
        for (g, members) in groups.iter().enumerate() {
            if members.is_empty() {
                return Err(v.err(format!("{p}[{g}]"), "a side must name at least one region"));
            }
            for m in members {
                let id = v.region(&format!("{p}[{g}]"), m)?;
                if side[id.idx()] != u32::MAX {
                    return Err(v.err(p, format!("region `{m}` is named twice")));
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
        (FaultAction::Partition { groups: side }, label)
    } else if let Some(h) = f.heal {
        if f.for_.is_some() {
            return Err(v.err(format!("{path}.for"), "`heal` takes no `for`"));
        }
        (
            FaultAction::Heal(h),
            format!(
                "heal {}",
                serde_yaml::to_string(&h).unwrap_or_default().trim()
            ),
        )
    } else if let Some(r) = &f.crash {
        let region = v.region(&format!("{path}.crash"), r)?;
        (FaultAction::Crash { region }, format!("crash {r}"))
    } else if let Some(r) = &f.recover {
        if f.for_.is_some() {
            return Err(v.err(format!("{path}.for"), "`recover` takes no `for`"));
        }
        let region = v.region(&format!("{path}.recover"), r)?;
        (FaultAction::Recover { region }, format!("recover {r}"))
    } else if let Some(cs) = &f.clock_step {
        if f.for_.is_some() {
            return Err(v.err(format!("{path}.for"), "`clock_step` takes no `for`"));
        }
        let region = v.region(&format!("{path}.clock_step.region"), &cs.region)?;
        (
            FaultAction::ClockStep {
                region,
                by_ns: cs.by.0,
            },
            format!("clock step {} by {}", cs.region, cs.by),
        )
    } else {
        let d = f.degrade.as_ref().expect("counted above");
        let p = format!("{path}.degrade");
        let links = v.link(&format!("{p}.link"), &d.link)?;
        if d.latency.is_none() && d.add_latency.is_none() && d.loss.is_none() {
            return Err(v.err(p, "needs at least one of latency, add_latency, loss"));
        }
        if let Some(l) = &d.latency {
            v.dist(&format!("{p}.latency"), l)?;
        }
        if let Some(l) = d.loss {
            v.probability(&format!("{p}.loss"), l)?;
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
        (
            FaultAction::Degrade {
                links,
                latency: d.latency.clone(),
                add_latency: d.add_latency,
                loss: d.loss,
            },
            format!("degrade {} ({})", d.link, parts.join(", ")),
        )
    })
}
