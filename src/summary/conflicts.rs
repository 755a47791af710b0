//! What conflict resolution did to the data: tables and their policies, siblings, operator
//! queues, and the counts the data checkers judge (exact counters, add-wins sets and maps).
//! The verdicts themselves are checks in [`crate::summary::checks`].

use crate::metrics::RunOutput;
use crate::metrics::{ns_to_ms, Observer};
use crate::replica::data::{Shape, Tables, View};
use crate::scenario::Scenario;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One table and its policy, as reported.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct TableOut {
    pub name: String,
    pub policy: String,
    pub shape: String,
    pub keys: u64,
    pub writes_acked: u64,
}

/// What conflict resolution did to the data.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ConflictsOut {
    pub tables: Vec<TableOut>,
    /// Merges that left a key holding concurrent values (siblings), over all regions.
    pub sibling_merges: u64,
    /// The most concurrent values one key held anywhere.
    pub max_siblings: u32,
    /// Keys still holding concurrent values at the end (waiting for a resolving write).
    pub keys_with_siblings: u64,
    /// Merging tables: whole values fetched because a delta arrived after a gap.
    #[serde(default)]
    pub gap_fetches: u64,
    /// `manual` tables: the operator queues (None without manual tables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualOut>,
    /// Counter tables: keys, keys whose final value is not the sum of their acknowledged
    /// increments and decrements, and the total absolute error.
    pub counter_keys: u64,
    pub counters_wrong: u64,
    pub counter_error: u64,
    /// Set tables judged by add-wins semantics: keys, and (key, element) pairs present when
    /// they should not be or absent when they should be.
    pub set_keys: u64,
    pub set_violations: u64,
    /// Map tables judged field by field by add-wins semantics: keys, and fields whose values
    /// are not exactly the puts seen by no remove or later put of that field.
    #[serde(default)]
    pub map_keys: u64,
    #[serde(default)]
    pub map_violations: u64,
    /// Map tables: puts seen by no remove or later put of their field whose value is gone
    /// (overwritten by a concurrent write of the field, or of the whole document).
    #[serde(default)]
    pub lost_field_writes: u64,
    /// Of those, puts that had seen the value that beat them: lost to an older write because
    /// of clock skew.
    #[serde(default)]
    pub field_skew_losses: u64,
}

/// What happened to conflicts parked for an operator (`manual` tables).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ManualOut {
    /// How long a conflict waits before the operator resolves it (None: no operator).
    pub operator_delay_ms: Option<f64>,
    /// Conflicts that entered a queue (a restarted region re-parks what it still holds).
    pub parked: u64,
    pub resolved_by_operator: u64,
    /// Resolved by a client's write whose causal context covered the siblings first.
    pub resolved_by_clients: u64,
    /// Manual keys still holding siblings at the end: conflicts left unresolved.
    pub unresolved: u64,
    pub max_queue: u32,
    pub wait_mean_ms: f64,
    pub wait_max_ms: f64,
}

/// What the data checkers need besides the reported section: the first wrong key of each kind,
/// found while counting, so a check can describe it without searching again.
pub struct ConflictFacts {
    /// The `conflicts` section of the summary.
    pub out: ConflictsOut,
    /// Keys with data in the final views (what strong eventual consistency compares).
    pub keys_with_data: usize,
    /// The first counter whose value is not its operations' sum: (key, sum, value).
    pub first_wrong_counter: Option<(u64, i64, i64)>,
    /// The first wrong set element: (key, element, missing rather than present).
    pub first_wrong_element: Option<(u64, u32, bool)>,
    /// The first wrong map field: (key, field, the values held, the values it should hold).
    pub first_wrong_field: Option<(u64, u32, Vec<u32>, Vec<u32>)>,
}

/// What conflict resolution did to the data (tables, siblings, manual queues), and what the
/// data checkers (exact counters, add-wins sets and maps) found. Runs without tables or other
/// policies have none.
pub(crate) fn analyse(sc: &Scenario, out: &RunOutput) -> Option<ConflictFacts> {
    use crate::replica::data::View;
    let tables = &sc.plan.tables;
    let plain = tables.0.len() == 1
        && tables.0[0].policy == crate::replica::data::Policy::Lww
        && !tables.has_data();
    if plain {
        return None;
    }
    let obs = &out.observer;
    let mut c = ConflictsOut {
        sibling_merges: obs.conflicts.sibling_merges,
        max_siblings: obs.conflicts.max_siblings,
        gap_fetches: obs.conflicts.gap_fetches,
        ..ConflictsOut::default()
    };
    let sums = table_rows(sc, obs, &mut c);
    let views: BTreeMap<u64, &View> = out.final_views.iter().map(|(k, v)| (*k, v)).collect();
    c.keys_with_siblings = views.values().filter(|v| v.siblings() > 1).count() as u64;
    c.manual = manual(sc, obs, &views);
    let first_wrong_counter = counters(tables, &views, &sums, &mut c);
    let first_wrong_element = sets(tables, obs, &views, &mut c);
    let first_wrong_field = maps(tables, obs, &views, &mut c);
    Some(ConflictFacts {
        out: c,
        keys_with_data: views.len(),
        first_wrong_counter,
        first_wrong_element,
        first_wrong_field,
    })
}

/// One row per table; returns each key's sum of surviving acknowledged increments.
fn table_rows(sc: &Scenario, obs: &Observer, c: &mut ConflictsOut) -> Vec<i64> {
    use crate::replica::data::WriteKind;
    let mut acked_per_key = vec![0u64; sc.workload.keys as usize];
    let mut sums = vec![0i64; sc.workload.keys as usize];
    for w in obs.writes.iter().filter(|w| w.is_acked()) {
        acked_per_key[w.key as usize] += 1;
        // Writes lost outright (no-lost-acked-writes reports them) are not the merge's fault.
        if let (WriteKind::Incr(by), true) = (w.kind(), obs.survives(w)) {
            sums[w.key as usize] += by;
        }
    }
    for t in &sc.plan.tables.0 {
        c.tables.push(TableOut {
            name: t.name.clone(),
            policy: t.policy.name().into(),
            shape: t.shape.name().into(),
            keys: t.end - t.first,
            writes_acked: acked_per_key[t.first as usize..t.end as usize].iter().sum(),
        });
    }
    sums
}

/// The operator queues of `manual` tables (None without any).
fn manual(sc: &Scenario, obs: &Observer, views: &BTreeMap<u64, &View>) -> Option<ManualOut> {
    let manual_keys: Vec<(u64, u64)> = sc
        .plan
        .tables
        .0
        .iter()
        .filter(|t| t.policy.parks_conflicts())
        .map(|t| (t.first, t.end))
        .collect();
    if manual_keys.is_empty() {
        return None;
    }
    let k = &obs.conflicts;
    let left = k.resolved_by_operator + k.resolved_by_clients;
    Some(ManualOut {
        operator_delay_ms: sc.plan.operator.map(|d| ns_to_ms(d.0)),
        parked: k.parked,
        resolved_by_operator: k.resolved_by_operator,
        resolved_by_clients: k.resolved_by_clients,
        unresolved: views
            .iter()
            .filter(|(key, v)| {
                manual_keys.iter().any(|&(a, b)| (a..b).contains(*key))
                    && matches!(v, View::Values(x) if x.len() > 1)
            })
            .count() as u64,
        max_queue: k.max_queue,
        wait_mean_ms: if left > 0 {
            ns_to_ms(k.wait_ns_sum) / left as f64
        } else {
            0.0
        },
        wait_max_ms: ns_to_ms(k.wait_ns_max),
    })
}

/// Counters: the converged value must be the sum of every acknowledged increment. Returns the
/// first wrong one as (key, sum, value).
fn counters(
    tables: &Tables,
    views: &BTreeMap<u64, &View>,
    sums: &[i64],
    c: &mut ConflictsOut,
) -> Option<(u64, i64, i64)> {
    let mut first_wrong: Option<(u64, i64, i64)> = None;
    for t in tables.0.iter().filter(|t| t.shape == Shape::Counter) {
        for k in t.first..t.end {
            c.counter_keys += 1;
            let actual = match views.get(&k) {
                Some(View::Count(v)) => *v,
                _ => 0,
            };
            let want = sums[k as usize];
            if actual != want {
                c.counters_wrong += 1;
                c.counter_error += want.abs_diff(actual);
                first_wrong.get_or_insert((k, want, actual));
            }
        }
    }
    first_wrong
}

/// Sets: present iff some surviving add was not seen by a remove (add-wins). Returns the first
/// wrong element as (key, element, missing).
fn sets(
    tables: &Tables,
    obs: &Observer,
    views: &BTreeMap<u64, &View>,
    c: &mut ConflictsOut,
) -> Option<(u64, u32, bool)> {
    let oracle = obs.add_wins_oracle();
    let mut first_bad: Option<(u64, u32, bool)> = None;
    for t in tables
        .0
        .iter()
        .filter(|t| t.shape == Shape::Set && t.policy.add_wins())
    {
        for k in t.first..t.end {
            c.set_keys += 1;
            let have: Vec<u32> = match views.get(&k) {
                Some(View::Elems(e)) => e.clone(),
                _ => Vec::new(),
            };
            let want = oracle.get(&(k as u32)).cloned().unwrap_or_default();
            for &e in want.iter().filter(|e| !have.contains(e)) {
                c.set_violations += 1;
                first_bad.get_or_insert((k, e, true));
            }
            for &e in have.iter().filter(|e| !want.contains(e)) {
                c.set_violations += 1;
                first_bad.get_or_insert((k, e, false));
            }
        }
    }
    first_bad
}

/// Maps: a field holds exactly the values of the puts of it that no surviving remove or later
/// put had seen (add-wins field by field, OR-Map semantics); register policies writing whole
/// documents and LWW-Maps are judged by the same rule, so their lost field writes show.
/// Returns the first wrong field as (key, field, values held, values it should hold).
fn maps(
    tables: &Tables,
    obs: &Observer,
    views: &BTreeMap<u64, &View>,
    c: &mut ConflictsOut,
) -> Option<(u64, u32, Vec<u32>, Vec<u32>)> {
    use crate::replica::OpId;
    let live = obs.live_puts();
    let mut first_bad: Option<(u64, u32, Vec<u32>, Vec<u32>)> = None;
    for t in tables
        .0
        .iter()
        .filter(|t| t.shape == Shape::Map && t.policy.add_wins())
    {
        for k in t.first..t.end {
            c.map_keys += 1;
            let held: &[(u32, Vec<OpId>)] = match views.get(&k) {
                Some(View::Map(m)) => m,
                _ => &[],
            };
            let k32 = k as u32;
            let mut fields: Vec<u32> = held.iter().map(|(f, _)| *f).collect();
            fields.extend(live.range((k32, 0)..=(k32, u32::MAX)).map(|(kf, _)| kf.1));
            fields.sort_unstable();
            fields.dedup();
            for f in fields {
                let mut have: Vec<u32> = held
                    .iter()
                    .find(|(g, _)| *g == f)
                    .map_or(Vec::new(), |(_, v)| v.iter().map(|o| o.0 as u32).collect());
                let mut want = live.get(&(k32, f)).cloned().unwrap_or_default();
                have.sort_unstable();
                want.sort_unstable();
                if have == want {
                    continue;
                }
                c.map_violations += 1;
                for &p in want.iter().filter(|p| !have.contains(p)) {
                    c.lost_field_writes += 1;
                    if have.iter().any(|&w| obs.observed(w, p)) {
                        c.field_skew_losses += 1;
                    }
                }
                first_bad.get_or_insert((k, f, have, want));
            }
        }
    }
    first_bad
}
