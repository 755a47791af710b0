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
        let actions = f.actions();
        let found = actions.len() + usize::from(f.follow_the_sun.is_some());
        if found != 1 {
            return Err(v.err(
                path,
                format!(
                    "needs exactly one of {}, follow_the_sun (found {found})",
                    crate::faults::KEYS.join(", ")
                ),
            ));
        }
        // An operator's command needs someone to obey it.
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
        let (action, label) = actions[0].validate(v, &path, f.for_, n)?;
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
            class: action.class(),
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
            action: FaultAction::Promote(crate::faults::Promote { region }),
            class: FaultClass::Promote,
            what: label.clone(),
            label,
        });
        t += fs.every;
        j += 1;
    }
    Ok(faults)
}

/// Kinds validate their own entries through this.
impl crate::faults::Resolve for Validator<'_> {
    type Error = ScenarioError;

    fn err(&self, path: String, message: String) -> ScenarioError {
        Validator::err(self, path, message)
    }

    fn region(&self, path: &str, name: &str) -> Result<RegionId, ScenarioError> {
        Validator::region(self, path, name)
    }

    fn link(&self, path: &str, text: &str) -> Result<Vec<(RegionId, RegionId)>, ScenarioError> {
        Validator::link(self, path, text)
    }

    fn dist(&self, path: &str, spec: &DistSpec) -> Result<(), ScenarioError> {
        Validator::dist(self, path, spec).map(|_| ())
    }

    fn probability(&self, path: &str, p: f64) -> Result<f64, ScenarioError> {
        Validator::probability(self, path, p)
    }
}
