//! Reading a scenario file: refusing absurd nesting before the YAML parser sees it, turning
//! serde errors into file:line:column messages, and inlining distribution files.

use super::*;

/// The deepest nesting of collections a scenario may have. The deepest real one is under ten
/// levels; the YAML parser takes time quadratic in depth before serde's own recursion limit
/// can refuse it (100,000 levels took 43 s), so absurd nesting is refused before parsing.
pub const MAX_NESTING: usize = 64;

/// A double quote (named, so the scan below reads as the YAML rules it follows).
const DQ: char = '\u{22}';

/// Refuses YAML nested deeper than [`MAX_NESTING`], in one linear pass over the text. It counts
/// flow brackets (`[`, `{`) outside quotes and comments, block indentation levels, and block
/// sequence dashes sharing a line (`- - - x`). It over-counts rather than under-counts (a
/// bracket inside a multi-line quoted string counts), which at this limit only matters for
/// files no one writes.
pub(super) fn check_nesting(text: &str, file: &str) -> Result<(), ScenarioError> {
    let mut flow = 0usize;
    let mut indents: Vec<usize> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let body = line.trim_start_matches(' ');
        let indent = line.len() - body.len();
        if flow == 0 && !body.is_empty() && !body.starts_with('#') {
            while indents.last().is_some_and(|&t| t > indent) {
                indents.pop();
            }
            if indents.last() != Some(&indent) {
                indents.push(indent);
            }
        }
        let mut dashes = 0;
        let mut rest = body;
        while rest == "-" || rest.starts_with("- ") {
            dashes += 1;
            rest = rest[1..].trim_start_matches(' ');
        }
        let block = indents.len() + dashes;
        let (mut quote, mut escaped, mut prev) = (None, false, ' ');
        for (col, ch) in line.char_indices() {
            match quote {
                Some(DQ) if escaped => escaped = false,
                Some(DQ) if ch == '\\' => escaped = true,
                Some(q) if ch == q => quote = None,
                Some(_) => {}
                None => match ch {
                    '#' if prev.is_whitespace() => break,
                    DQ | '\'' if prev.is_whitespace() || "[{,:".contains(prev) => quote = Some(ch),
                    '[' | '{' => flow += 1,
                    ']' | '}' => flow = flow.saturating_sub(1),
                    _ => {}
                },
            }
            prev = ch;
            if block + flow > MAX_NESTING {
                return Err(ScenarioError::Syntax {
                    file: file.to_string(),
                    line: i + 1,
                    column: col + 1,
                    message: format!(
                        "collections nested more than {MAX_NESTING} levels deep; a scenario \
                         needs fewer than ten, so this is refused before parsing"
                    ),
                });
            }
        }
    }
    Ok(())
}

pub(super) fn yaml_error(file: &str, e: serde_yaml::Error) -> ScenarioError {
    let message = e.to_string();
    match e.location() {
        Some(loc) => {
            // The location is already in our prefix; drop serde_yaml's " at line X column Y".
            let message = match message.rfind(" at line ") {
                Some(i) => message[..i].to_string(),
                None => message,
            };
            ScenarioError::Syntax {
                file: file.to_string(),
                line: loc.line(),
                column: loc.column(),
                message,
            }
        }
        None => ScenarioError::Shape {
            file: file.to_string(),
            message,
        },
    }
}

/// Every distribution a scenario holds, with its YAML path.
pub(super) fn dists_mut(spec: &mut ScenarioSpec) -> Vec<(String, &mut DistSpec)> {
    let mut v: Vec<(String, &mut DistSpec)> = Vec::new();
    let lat = &mut spec.network.latency;
    if let Some(d) = &mut lat.default {
        v.push(("network.latency.default".into(), d));
    }
    if let Some(d) = &mut lat.jitter {
        v.push(("network.latency.jitter".into(), d));
    }
    for (k, d) in &mut lat.links {
        v.push((format!("network.latency.links.\"{k}\""), d));
    }
    for (c, slot) in crate::replica::MsgClass::ALL
        .iter()
        .zip(spec.network.classes.all_mut())
    {
        let Some(cl) = slot else { continue };
        let p = format!("network.classes.{}", c.name());
        if let Some(d) = &mut cl.default {
            v.push((format!("{p}.default"), d));
        }
        if let Some(d) = &mut cl.add {
            v.push((format!("{p}.add"), d));
        }
        for (k, d) in &mut cl.links {
            v.push((format!("{p}.links.\"{k}\""), d));
        }
    }
    if let Some(sv) = &mut spec.service {
        if let Some(d) = &mut sv.write {
            v.push(("service.write".into(), d));
        }
        if let Some(d) = &mut sv.read {
            v.push(("service.read".into(), d));
        }
        for (r, t) in &mut sv.regions {
            if let Some(d) = &mut t.write {
                v.push((format!("service.regions.{r}.write"), d));
            }
            if let Some(d) = &mut t.read {
                v.push((format!("service.regions.{r}.read"), d));
            }
        }
    }
    for (i, f) in spec.faults.iter_mut().enumerate() {
        if let Some(d) = f.degrade.as_mut().and_then(|g| g.latency.as_mut()) {
            v.push((format!("faults[{i}].degrade.latency"), d));
        }
    }
    v
}

/// Drops the `file` of every empirical distribution whose quantiles are already loaded, so the
/// spec stands alone (it can be written anywhere and still parse).
pub fn inline_dist_files(spec: &mut ScenarioSpec) {
    fn inline(d: &mut DistSpec) {
        match d {
            DistSpec::Empirical { file, quantiles } if !quantiles.is_empty() => *file = None,
            DistSpec::Mixture { components } => {
                components.iter_mut().for_each(|c| inline(&mut c.latency))
            }
            _ => {}
        }
    }
    for (_, d) in dists_mut(spec) {
        inline(d);
    }
}

/// Loads the quantile files of empirical distributions (relative to the scenario's folder) into
/// the spec, so the run, its summary and any re-run see the same numbers.
pub(super) fn resolve_dist_files(spec: &mut ScenarioSpec, file: &str) -> Result<(), ScenarioError> {
    let base = Path::new(file)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    for (path, d) in dists_mut(spec) {
        resolve_one(d, &base, file, &path)?;
    }
    Ok(())
}

pub(super) fn resolve_one(
    d: &mut DistSpec,
    base: &Path,
    file: &str,
    path: &str,
) -> Result<(), ScenarioError> {
    let err = |message: String| ScenarioError::Invalid {
        file: file.to_string(),
        path: path.to_string(),
        message,
    };
    match d {
        DistSpec::Empirical {
            file: Some(name),
            quantiles,
        } => {
            if !quantiles.is_empty() {
                return Err(err(
                    "give either `file` or `quantiles`, not both".to_string()
                ));
            }
            let full = base.join(&*name);
            let text = std::fs::read_to_string(&full)
                .map_err(|e| err(format!("cannot read `{}`: {e}", full.display())))?;
            *quantiles = crate::dist::read_quantiles_csv(&text)
                .map_err(|e| err(format!("{}: {e}", full.display())))?;
        }
        DistSpec::Mixture { components } => {
            for (i, c) in components.iter_mut().enumerate() {
                resolve_one(
                    &mut c.latency,
                    base,
                    file,
                    &format!("{path}.components[{i}].latency"),
                )?;
            }
        }
        _ => {}
    }
    Ok(())
}
