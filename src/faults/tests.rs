//! The registry and each kind on their own: validation through a stub resolver, start and end
//! effects through a recording host, the YAML round trip and shrink's weakening.

use super::*;

/// Regions `a`, `b`, `c`; errors are `path: message` strings.
struct Names;

impl Resolve for Names {
    type Error = String;
    fn err(&self, path: String, message: String) -> String {
        format!("{path}: {message}")
    }
    fn region(&self, path: &str, name: &str) -> Result<RegionId, String> {
        ["a", "b", "c"]
            .iter()
            .position(|n| *n == name)
            .map(|i| RegionId(i as u16))
            .ok_or_else(|| format!("{path}: unknown region `{name}`"))
    }
    fn link(&self, path: &str, text: &str) -> Result<Vec<(RegionId, RegionId)>, String> {
        let (a, b) = text
            .split_once("<->")
            .ok_or_else(|| format!("{path}: bad"))?;
        let (a, b) = (self.region(path, a.trim())?, self.region(path, b.trim())?);
        Ok(vec![(a, b), (b, a)])
    }
    fn dist(&self, _path: &str, _spec: &DistSpec) -> Result<(), String> {
        Ok(())
    }
    fn probability(&self, path: &str, p: f64) -> Result<f64, String> {
        (0.0..=1.0)
            .contains(&p)
            .then_some(p)
            .ok_or_else(|| format!("{path}: not a probability"))
    }
}

/// Records every call, and answers `heal_partition` as an engine whose partition in force is
/// `active`'s.
#[derive(Default)]
struct Host {
    calls: Vec<String>,
    active: Option<usize>,
}

impl FaultHost for Host {
    fn partition(&mut self, fault: usize, groups: &[u32]) {
        self.active = Some(fault);
        self.calls.push(format!("partition {fault} {groups:?}"));
    }
    fn heal_partition(&mut self, fault: Option<usize>) -> bool {
        if fault.is_some_and(|f| self.active != Some(f)) {
            return false;
        }
        self.active = None;
        self.calls.push(format!("heal_partition {fault:?}"));
        true
    }
    fn heal_links(&mut self) {
        self.calls.push("heal_links".into());
    }
    fn heal_mark(&mut self, label: String) {
        self.calls.push(format!("mark {label}"));
    }
    fn crash(&mut self, fault: usize, region: RegionId) {
        self.calls.push(format!("crash {fault} {}", region.0));
    }
    fn lose_disk(&mut self, region: RegionId) {
        self.calls.push(format!("lose_disk {}", region.0));
    }
    fn recover(&mut self, region: RegionId) {
        self.calls.push(format!("recover {}", region.0));
    }
    fn step_clock(&mut self, region: RegionId, by_ns: i64) {
        self.calls.push(format!("step {} {by_ns}", region.0));
    }
    fn degrade(
        &mut self,
        fault: usize,
        links: &[(RegionId, RegionId)],
        latency: Option<&DistSpec>,
        add_latency: Span,
        loss: Option<f64>,
    ) {
        self.calls.push(format!(
            "degrade {fault} {} {} {} {loss:?}",
            links.len(),
            latency.is_some(),
            add_latency.0
        ));
    }
    fn undegrade(&mut self, fault: usize) {
        self.calls.push(format!("undegrade {fault}"));
    }
    fn command(&mut self, fault: usize, region: RegionId, command: Command) {
        self.calls
            .push(format!("command {fault} {} {command:?}", region.0));
    }
}

fn names() -> Vec<String> {
    ["a", "b", "c"].iter().map(|s| s.to_string()).collect()
}

/// Validates, starts (as fault 7) and ends one entry: (label, calls at start, calls at end).
fn run(spec: ActionSpec) -> (String, Vec<String>, Vec<String>) {
    let (action, label) = spec.validate(&Names, "faults[0]", None, 3).unwrap();
    let mut host = Host::default();
    action.start(&mut host, 7, &label);
    let started = std::mem::take(&mut host.calls);
    action.end(&mut host, 7, &label);
    (label, started, host.calls)
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn keys_are_listed_in_registry_order() {
    assert_eq!(
        KEYS,
        [
            "partition",
            "heal",
            "crash",
            "region_loss",
            "recover",
            "clock_step",
            "degrade",
            "promote"
        ]
    );
}

#[test]
fn each_kind_starts_and_ends_through_the_host() {
    let (label, start, end) = run(ActionSpec::Partition(vec![vec!["a".into()]]));
    assert_eq!(label, "partition [a]");
    assert_eq!(start, strs(&["partition 7 [0, 1, 1]"]));
    assert_eq!(
        end,
        strs(&["heal_partition Some(7)", "mark end of partition [a]"])
    );

    let (label, start, end) = run(ActionSpec::Heal(HealSpec::Partitions));
    assert_eq!(label, "heal partitions");
    assert_eq!(
        start,
        strs(&["heal_partition None", "mark heal partitions"])
    );
    assert!(end.is_empty());
    let (_, start, _) = run(ActionSpec::Heal(HealSpec::All));
    assert_eq!(
        start,
        strs(&["heal_partition None", "heal_links", "mark heal all"])
    );

    let (label, start, end) = run(ActionSpec::Crash("b".into()));
    assert_eq!(label, "crash b");
    assert_eq!((start, end), (strs(&["crash 7 1"]), strs(&["recover 1"])));

    let (label, start, end) = run(ActionSpec::RegionLoss("c".into()));
    assert_eq!(label, "region loss c");
    assert_eq!(
        (start, end),
        (strs(&["crash 7 2", "lose_disk 2"]), strs(&["recover 2"]))
    );

    let (label, start, end) = run(ActionSpec::Recover("a".into()));
    assert_eq!(label, "recover a");
    assert_eq!((start, end), (strs(&["recover 0"]), vec![]));

    let (label, start, _) = run(ActionSpec::ClockStep(ClockStepSpec {
        region: "b".into(),
        by: crate::time::SignedSpan(-2_000_000),
    }));
    assert_eq!(label, "clock step b by -2ms");
    assert_eq!(start, strs(&["step 1 -2000000"]));

    let (label, start, end) = run(ActionSpec::Degrade(DegradeSpec {
        link: "a <-> c".into(),
        latency: None,
        add_latency: Some(Span::from_millis(50)),
        loss: Some(0.25),
    }));
    assert_eq!(label, "degrade a <-> c (+50ms, loss 0.25)");
    assert_eq!(start, strs(&["degrade 7 2 false 50000000 Some(0.25)"]));
    assert_eq!(
        end,
        strs(&[
            "undegrade 7",
            "mark end of degrade a <-> c (+50ms, loss 0.25)"
        ])
    );

    let (label, start, _) = run(ActionSpec::Promote("c".into()));
    assert_eq!(label, "promote c");
    assert_eq!(start, strs(&["command 7 2 Promote"]));
}

#[test]
fn a_partition_ends_only_if_still_in_force() {
    let (a, label) = ActionSpec::Partition(vec![vec!["a".into()], vec!["b".into()]])
        .validate(&Names, "faults[0]", None, 3)
        .unwrap();
    let mut host = Host::default();
    a.start(&mut host, 1, &label);
    host.active = Some(2); // a newer partition replaced it
    host.calls.clear();
    a.end(&mut host, 1, &label);
    assert!(host.calls.is_empty(), "{:?}", host.calls);
}

#[test]
fn kinds_without_for_refuse_one() {
    for (spec, key) in [
        (ActionSpec::Heal(HealSpec::All), "heal"),
        (ActionSpec::Recover("a".into()), "recover"),
        (ActionSpec::Promote("a".into()), "promote"),
        (
            ActionSpec::ClockStep(ClockStepSpec {
                region: "a".into(),
                by: crate::time::SignedSpan(1),
            }),
            "clock_step",
        ),
    ] {
        let e = spec
            .validate(&Names, "faults[2]", Some(Span::from_secs(1)), 3)
            .unwrap_err();
        assert_eq!(e, format!("faults[2].for: `{key}` takes no `for`"));
    }
    // Unknown regions are reported at the kind's own path.
    let e = ActionSpec::Crash("x".into())
        .validate(&Names, "faults[1]", Some(Span::from_secs(1)), 3)
        .unwrap_err();
    assert_eq!(e, "faults[1].crash: unknown region `x`");
}

#[test]
fn classes_come_from_the_kind_and_labels_read_back() {
    let class = |s: ActionSpec| s.validate(&Names, "f", None, 3).unwrap().0.class();
    assert_eq!(
        class(ActionSpec::RegionLoss("a".into())),
        FaultClass::RegionLoss
    );
    assert_eq!(class(ActionSpec::Promote("a".into())), FaultClass::Promote);
    assert_eq!(class(ActionSpec::Heal(HealSpec::Links)), FaultClass::Heal);
    for c in FaultClass::ALL {
        assert_eq!(FaultClass::of_label(&format!("{} x", c.name())), Some(c));
        assert_eq!(
            FaultClass::of_label(&format!("weather: {} x for 1s", c.name())),
            Some(c)
        );
    }
    assert_eq!(FaultClass::of_label("quiesce: heal all"), None);
    let counted: Vec<FaultClass> = FaultClass::ALL
        .into_iter()
        .filter(|c| c.counts_effects())
        .collect();
    use FaultClass::*;
    assert_eq!(
        counted,
        [
            Partition,
            Crash,
            Degrade,
            OneWayCut,
            NonTransitiveCut,
            Promote,
            RegionLoss
        ]
    );
}

#[test]
fn actions_write_back_as_the_yaml_they_came_from() {
    let round = |s: ActionSpec| {
        let (a, _) = s.validate(&Names, "f", None, 3).unwrap();
        let back = a.to_spec(&names());
        assert_eq!(back.len(), 1);
        let (b, _) = back[0].validate(&Names, "f", None, 3).unwrap();
        match (&a, &b) {
            // The sides may be numbered differently; who is with whom is what matters.
            (FaultAction::Partition(p), FaultAction::Partition(q)) => {
                for i in 0..3 {
                    for j in 0..3 {
                        assert_eq!(p.groups[i] == p.groups[j], q.groups[i] == q.groups[j]);
                    }
                }
            }
            _ => assert_eq!(a, b),
        }
        format!("{:?}", back[0])
    };
    assert_eq!(
        round(ActionSpec::Partition(vec![
            vec!["c".into()],
            vec!["a".into()]
        ])),
        r#"Partition([["a"], ["b"], ["c"]])"#
    );
    round(ActionSpec::Crash("b".into()));
    round(ActionSpec::RegionLoss("b".into()));
    round(ActionSpec::Degrade(DegradeSpec {
        link: "b <-> c".into(),
        latency: None,
        add_latency: None,
        loss: Some(1.0),
    }));
    // A degrade over unrelated links is written as one entry per directed link.
    let d = FaultAction::Degrade(Degrade {
        links: vec![(RegionId(0), RegionId(1)), (RegionId(2), RegionId(1))],
        latency: None,
        add_latency: None,
        loss: Some(1.0),
    });
    let links: Vec<String> = d
        .to_spec(&names())
        .into_iter()
        .map(|s| match s {
            ActionSpec::Degrade(d) => d.link,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(links, ["a -> b", "c -> b"]);
}

#[test]
fn shrink_weakens_only_partitions() {
    let weak = ActionSpec::Partition(vec![vec!["a".into()], vec!["b".into(), "c".into()]])
        .weaken()
        .unwrap();
    let links: Vec<String> = weak
        .into_iter()
        .map(|s| match s {
            ActionSpec::Degrade(d) => {
                assert_eq!(d.loss, Some(0.5));
                d.link
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(links, ["a <-> b", "a <-> c"]);
    assert!(ActionSpec::Crash("a".into()).weaken().is_none());
}
