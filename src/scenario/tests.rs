//! Unit tests of parsing and validation.

use super::*;
use crate::replica::Key;

const BASE: &str = r#"
name: t
duration: 10s
regions: [{ name: a }, { name: b }, { name: c }]
network:
  latency:
    default: 50ms
workload: { keys: 10, rate_per_region: 10 }
"#;

fn with(extra: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&format!("{BASE}{extra}"), "t.yaml")
}

fn err(extra: &str) -> String {
    with(extra).unwrap_err().to_string()
}

const TABLES: &str = r#"
name: t
duration: 10s
regions: [{ name: a }, { name: b }]
network: { latency: { default: 50ms } }
workload:
  rate_per_region: 10
  tables:
    cart: { keys: 4, ops: { add: 0.5, remove: 0.5 } }
    stock: { keys: 3, share: 2, ops: { incr: 0.5, decr: 0.3, get: 0.2 } }
"#;

fn tables(extra: &str) -> Result<Scenario, ScenarioError> {
    Scenario::parse(&format!("{TABLES}{extra}"), "t.yaml")
}

#[test]
fn timer_settings_below_their_floor_are_refused_naming_path_and_floor() {
    // The issue's reproducers: both validated and then ran away.
    assert_eq!(
        err("replication: { anti_entropy: { interval: 1ns } }"),
        "t.yaml: replication.anti_entropy.interval: 1ns is below the 10ms floor \
             (every round compares digests with a peer across the network)"
    );
    assert_eq!(
        err("replication: { retransmit: { initial: 1ns, min: 1ns, max: 1ns } }"),
        "t.yaml: replication.retransmit.initial: 1ns is below the 1ms floor \
             (every unacknowledged message is resent each time it runs out)"
    );
    for (extra, path) in [
        (
            "replication: { retransmit: { initial: 1s, min: 999us } }",
            "replication.retransmit.min: 999us is below the 1ms floor",
        ),
        (
            "replication: { request_timeout: 10us }",
            "replication.request_timeout: 10us is below the 1ms floor",
        ),
        (
            "replication: { log_retention: 1ns }",
            "replication.log_retention: 1ns is below the 1ms floor",
        ),
        (
            "replication: { mode: primary-backup, failover: { detector: { interval: 100us } } }",
            "replication.failover.detector.interval: 100us is below the 1ms floor",
        ),
        (
            "clocks: { ntp: { interval: 1us } }",
            "clocks.ntp.interval: 1us is below the 1ms floor",
        ),
        (
            "durability: { flush_interval: 1ns }",
            "durability.flush_interval: 1ns is below the 1ms floor",
        ),
    ] {
        let e = err(extra);
        assert!(e.starts_with(&format!("t.yaml: {path} (")), "{extra}: {e}");
    }
    let w = |extra: &str| {
        Scenario::parse(
            &format!(
                "{}{extra}",
                BASE.replace("workload: { keys: 10, rate_per_region: 10 }\n", "")
            ),
            "t.yaml",
        )
        .unwrap_err()
        .to_string()
    };
    assert!(
        w("workload: { keys: 10, rate_per_region: 10, reroute_after: 1ns }")
            .starts_with("t.yaml: workload.reroute_after: 1ns is below the 1ms floor")
    );
    assert!(
        w("workload: { keys: 10, rate_per_region: 10, retry: { attempts: 3, backoff: 1ns } }")
            .starts_with("t.yaml: workload.retry.backoff: 1ns is below the 1ms floor")
    );
    // At the floor, and 0 where 0 means "off", are fine.
    with("replication: { anti_entropy: { interval: 10ms }, retransmit: { initial: 1ms, min: 1ms, max: 1ms } }")
            .unwrap();
    with("durability: { flush_interval: 0ms }").unwrap();
}

#[test]
fn absurd_nesting_is_refused_before_parsing() {
    // The issue's reproducer: 100,000 levels took 43 s to refuse.
    let deep = format!("name: {}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(
        Scenario::parse(&deep, "deep.yaml").unwrap_err().to_string(),
        "deep.yaml:1:70: collections nested more than 64 levels deep; a scenario needs \
             fewer than ten, so this is refused before parsing"
    );
    // Block style: one mapping per line, each indented further; line 65 is level 65.
    let block: String = (0..100)
        .map(|i| format!("{}k{i}:\n", "  ".repeat(i)))
        .collect();
    assert!(Scenario::parse(&block, "b.yaml")
        .unwrap_err()
        .to_string()
        .starts_with("b.yaml:65:1: collections nested more than 64 levels"));
    // Brackets in quotes and comments do not count.
    let quoted = format!("name: '{}' # {}\n", "[".repeat(100), "{".repeat(100));
    assert!(!Scenario::parse(&quoted, "q.yaml")
        .unwrap_err()
        .to_string()
        .contains("nested"));
}

#[test]
fn tables_lay_out_the_key_space_with_their_policies() {
    let s = tables("replication: { conflict: crdt }").unwrap();
    assert_eq!(s.workload.keys, 7);
    let t = &s.plan.tables;
    assert_eq!(
        (t.of(Key(3)).name.as_str(), t.policy(Key(3))),
        ("cart", Policy::OrSet)
    );
    assert_eq!(t.policy(Key(4)), Policy::PnCounter);
    assert!((s.workload.tables[0].share_upto - 1.0 / 3.0).abs() < 1e-12);
    let s = tables("replication: { conflict: siblings, tables: { stock: lww } }").unwrap();
    assert_eq!(
        s.plan.tables.policy(Key(0)),
        Policy::OrSet,
        "siblings: sets use OR-Sets"
    );
    assert_eq!(s.plan.tables.policy(Key(6)), Policy::Lww);
    assert_eq!(tables("").unwrap().plan.tables.policy(Key(0)), Policy::Lww);
}

#[test]
fn table_mistakes_are_clear_errors() {
    let e = |x: &str| tables(x).unwrap_err().to_string();
    let m = e("replication: { tables: { cart: bag } }");
    assert!(
        m.contains("replication.tables.cart") && m.contains("unknown policy `bag`"),
        "{m}"
    );
    let m = e("replication: { tables: { cart: pn-counter } }");
    assert!(
        m.contains("`pn-counter` cannot hold table `cart`, which is a set"),
        "{m}"
    );
    let m = e("replication: { tables: { stock: g-counter } }");
    assert!(
        m.contains("g-counter only grows") && m.contains("decr"),
        "{m}"
    );
    let m = e("replication: { tables: { basket: or-set } }");
    assert!(
        m.contains("no workload table `basket` (tables: cart, stock)"),
        "{m}"
    );
    let m = e("replication: { mode: primary-backup, conflict: crdt }");
    assert!(m.contains("needs `replication.mode: multi-master`"), "{m}");
    let m = e("replication: { mode: primary-backup }");
    assert!(
        m.contains("needs `replication.mode: multi-master`"),
        "counter tables rewrite whole values: {m}"
    );
    let bad_ops = TABLES.replace("remove: 0.5", "remove: 0.4");
    let m = Scenario::parse(&bad_ops, "t.yaml").unwrap_err().to_string();
    assert!(
        m.contains("workload.tables.cart.ops") && m.contains("add up to 1"),
        "{m}"
    );
    let mixed = TABLES.replace("{ add: 0.5, remove: 0.5 }", "{ add: 0.5, incr: 0.5 }");
    let m = Scenario::parse(&mixed, "t.yaml").unwrap_err().to_string();
    assert!(
        m.contains("a table is a register (put), a counter (incr, decr), a set"),
        "{m}"
    );
    let m = Scenario::parse(
        &TABLES.replace(
            "rate_per_region: 10",
            "rate_per_region: 10\n  mix: { write: 0.5, read: 0.5 }",
        ),
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        m.contains("workload.mix") && m.contains("remove `mix`"),
        "{m}"
    );
    let m = Scenario::parse(
        &TABLES.replace("rate_per_region: 10", "rate_per_region: 10\n  keys: 9"),
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        m.contains("the tables hold 7 keys, but `keys` says 9"),
        "{m}"
    );
    let map = |ops: &str, fields: &str, policy: &str| {
        let t = TABLES.replace(
            "    stock:",
            &format!("    doc: {{ keys: 5, ops: {ops}{fields} }}\n    stock:"),
        );
        Scenario::parse(
            &format!("{t}replication: {{ tables: {{ doc: {policy} }} }}"),
            "t.yaml",
        )
    };
    let s = map("{ put: 0.5, remove: 0.2, get: 0.3 }", ", fields: 6", "crdt").unwrap();
    let doc = &s.plan.tables.0[1];
    assert_eq!(
        (doc.name.as_str(), doc.shape, doc.policy),
        ("doc", Shape::Map, Policy::OrMap)
    );
    assert_eq!(s.workload.tables[1].fields, 6);
    for (ops, fields, policy, want) in [
        (
            "{ put: 1 }",
            ", fields: 0",
            "lww",
            "workload.tables.doc.fields: must be at least 1",
        ),
        (
            "{ put: 0.5, add: 0.5 }",
            ", fields: 3",
            "lww",
            "workload.tables.doc.ops: a map table",
        ),
        (
            "{ put: 1 }",
            ", fields: 3",
            "or-set",
            "`or-set` cannot hold table `doc`, which is a map",
        ),
        (
            "{ put: 1 }",
            "",
            "lww-map",
            "`lww-map` cannot hold table `doc`, which is a register",
        ),
    ] {
        let m = map(ops, fields, policy).unwrap_err().to_string();
        assert!(m.contains(want), "{m}");
    }
    let t = TABLES.replace(
        "    stock:",
        "    doc: { keys: 5, ops: { put: 1 }, fields: 3 }\n    stock:",
    );
    let m = Scenario::parse(
        &format!("{t}replication: {{ conflict: siblings }}"),
        "t.yaml",
    );
    let policy = m.unwrap().plan.tables.0[1].policy;
    assert_eq!(policy, Policy::OrMap, "maps keep siblings per field");
    let m = err("replication: { tables: { x: lww } }");
    assert!(m.contains("no `workload.tables`"), "{m}");
    let m = err("replication: { conflict: last-writer }");
    assert!(m.contains("unknown variant `last-writer`"), "{m}");
}

#[test]
fn minimal_scenario_is_valid() {
    let s = with("").unwrap();
    assert_eq!(s.n(), 3);
    assert_eq!(s.seed, 1);
    assert_eq!(s.quiesce_limit, Span::from_secs(600));
    assert!(s.network.latency[1].as_ref().unwrap().origin == "default");
}

#[test]
fn unknown_key_reports_line_and_column() {
    let e = Scenario::parse(&format!("{BASE}bogus: 1\n"), "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("t.yaml:"), "{e}");
    assert!(e.contains("unknown field `bogus`"), "{e}");
}

#[test]
fn semantic_errors_name_the_path() {
    let e = err("faults: [{ at: 1s, crash: zz }]");
    assert!(
        e.contains("faults[0].crash") && e.contains("unknown region `zz`"),
        "{e}"
    );
    let e = err("faults: [{ at: 11s, crash: a }]");
    assert!(
        e.contains("faults[0].at") && e.contains("not before the end"),
        "{e}"
    );
    let e = err("faults: [{ at: 1s, partition: [[a, b], [b]] }]");
    assert!(e.contains("named twice"), "{e}");
    let e = err("faults: [{ at: 1s, crash: a, heal: all }]");
    assert!(e.contains("exactly one"), "{e}");
}

#[test]
fn probabilities_and_durations_are_checked() {
    let e = Scenario::parse(
        &BASE.replace("default: 50ms", "default: 50ms\n  loss: 1.5"),
        "t.yaml",
    )
    .unwrap_err()
    .to_string();
    assert!(
        e.contains("network.loss") && e.contains("probability"),
        "{e}"
    );
    let e = Scenario::parse(&BASE.replace("duration: 10s", "duration: 0s"), "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("duration"), "{e}");
    let e = Scenario::parse(&BASE.replace("duration: 10s", "duration: -3s"), "t.yaml")
        .unwrap_err()
        .to_string();
    assert!(e.contains("negative"), "{e}");
}

#[test]
fn missing_latency_without_default() {
    let text = BASE.replace("default: 50ms", "links: { \"a <-> b\": 10ms }");
    let e = Scenario::parse(&text, "t.yaml").unwrap_err().to_string();
    assert!(e.contains("no latency for a -> c"), "{e}");
}

#[test]
fn duplicate_regions_are_refused() {
    let text = BASE.replace("{ name: c }", "{ name: a }");
    let e = Scenario::parse(&text, "t.yaml").unwrap_err().to_string();
    assert!(
        e.contains("regions[2].name") && e.contains("duplicate"),
        "{e}"
    );
}

#[test]
fn preset_fills_pairs_and_flags_faster_than_light() {
    let text = r#"
name: p
duration: 10s
regions: [{ name: us }, { name: eu }]
network:
  latency:
    preset: aws-2023
    map: { us: us-east-1, eu: eu-west-1 }
    links: { "us -> eu": 5ms }
workload: { keys: 10, rate_per_region: 10 }
"#;
    let s = Scenario::parse(text, "p.yaml").unwrap();
    assert_eq!(s.network.latency[1].as_ref().unwrap().origin, "links");
    assert_eq!(s.network.latency[2].as_ref().unwrap().origin, "preset");
    assert_eq!(s.warnings.len(), 1, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("light in fibre"));
}

#[test]
fn size_refusal() {
    let s = Scenario::parse(
        &BASE.replace("rate_per_region: 10", "rate_per_region: 1000000"),
        "t.yaml",
    )
    .unwrap();
    assert!(s.check_size(1_000_000).is_err());
    assert!(with("").unwrap().check_size(DEFAULT_MAX_EVENTS).is_ok());
}

#[test]
fn bounds_accept_bare_values_and_maps() {
    let s = with("expect: { lost_acked_writes: 0, visibility_p99: { max: 5s }, after_heal: 2s }")
        .unwrap();
    assert_eq!(
        s.expect.lost_acked_writes,
        Some(Bound {
            min: None,
            max: Some(0)
        })
    );
    assert_eq!(
        s.expect.visibility_p99.unwrap().max,
        Some(Span::from_secs(5))
    );
    assert_eq!(s.expect.after_heal.unwrap().max, Some(Span::from_secs(2)));
}
