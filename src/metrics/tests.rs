//! Unit tests of the observer.

use super::*;
use crate::replica::Cell;
use crate::time::Wall;

fn stamp(wall: i64, region: u16, c: u32) -> Stamp {
    Stamp::new(Wall(wall), RegionId(region), 1, c)
}

fn write(o: &mut Observer, op: u64, r: u16, key: u64, s: Stamp, seen: Stamp, t: u64) {
    let (rid, k) = (RegionId(r), Key(key));
    o.on_issue(
        rid,
        OpId(op),
        k,
        Some(WriteKind::Put),
        Level::Default,
        SimTime(t),
    );
    o.on_note(
        rid,
        Note::WriteStamped {
            op: OpId(op),
            key: k,
            stamp: s,
            seen,
        },
        SimTime(t),
    );
    if s > seen {
        o.on_note(
            rid,
            Note::Applied {
                key: k,
                old: seen,
                new: s,
            },
            SimTime(t),
        );
    }
    o.on_reply(
        rid,
        Reply::WriteOk {
            op: OpId(op),
            stamp: s,
        },
        None,
        SimTime(t),
    );
}

#[test]
fn a_write_record_is_80_bytes_and_keeps_its_operation() {
    // The write log is most of a run's memory: growing the record grows every run.
    assert_eq!(std::mem::size_of::<WriteRec>(), 80);
    let amount = u32::MAX as i64;
    for k in [
        WriteKind::Put,
        WriteKind::Incr(0),
        WriteKind::Incr(7),
        WriteKind::Incr(-7),
        WriteKind::Incr(amount),
        WriteKind::Incr(-amount),
        WriteKind::Insert(3),
        WriteKind::Remove(u32::MAX),
        WriteKind::PutField(0),
        WriteKind::RemoveField(9),
    ] {
        let w = WriteRec::issued(1, RegionId(0), Level::Default, k, SimTime::ZERO);
        assert_eq!(w.kind(), k);
    }
}

#[test]
fn visibility_and_lag_from_notes() {
    let mut o = Observer::new(3, 4, None, 0, Span(1_000));
    let s = stamp(10, 0, 1);
    write(&mut o, 0, 0, 2, s, Stamp::NONE, 100);
    o.on_note(
        RegionId(1),
        Note::Applied {
            key: Key(2),
            old: Stamp::NONE,
            new: s,
        },
        SimTime(140),
    );
    assert_eq!(o.visibility().count(), 0);
    o.on_note(
        RegionId(2),
        Note::Applied {
            key: Key(2),
            old: Stamp::NONE,
            new: s,
        },
        SimTime(200),
    );
    assert_eq!(o.visibility().count(), 1);
    assert_eq!(o.visibility().max_ns(), 100);
    assert_eq!(o.lag[1].max_ns(), 40);
    assert_eq!(o.lag[2].max_ns(), 100);
}

#[test]
fn stale_reads_compare_with_the_newest_acked_write() {
    let mut o = Observer::new(2, 1, None, 0, Span(1_000));
    let s = stamp(10, 0, 1);
    write(&mut o, 0, 0, 0, s, Stamp::NONE, 1);
    o.on_reply(
        RegionId(1),
        Reply::ReadOk {
            op: OpId(OpId::READ_BIT),
            cell: None,
            by: RegionId(1),
        },
        Some(o.read_issue(Key(0), Level::Default, SimTime(2))),
        SimTime(2),
    );
    o.on_reply(
        RegionId(1),
        Reply::ReadOk {
            op: OpId(OpId::READ_BIT | 1),
            cell: Some(Cell {
                stamp: s,
                value: OpId(0),
            }),
            by: RegionId(1),
        },
        Some(o.read_issue(Key(0), Level::Default, SimTime(3))),
        SimTime(3),
    );
    assert_eq!((o.reads_total, o.reads_stale), (2, 1));
}

/// One session in region a writes key 0 then key 1; region b applies the second first
/// (monotonic writes broken), then a read of key 0 at b misses the session's write.
#[test]
fn session_guarantees_catch_out_of_order_application_and_missed_writes() {
    let mut o = Observer::new(2, 2, None, 0, Span(1_000));
    o.set_sessions(1);
    let (s1, s2) = (stamp(10, 0, 1), stamp(20, 0, 2));
    assert_eq!(
        o.on_issue(
            RegionId(0),
            OpId(0),
            Key(0),
            Some(WriteKind::Put),
            Level::Default,
            SimTime(1)
        ),
        0
    );
    o.on_note(
        RegionId(0),
        Note::WriteStamped {
            op: OpId(0),
            key: Key(0),
            stamp: s1,
            seen: Stamp::NONE,
        },
        SimTime(1),
    );
    o.on_note(
        RegionId(0),
        Note::Applied {
            key: Key(0),
            old: Stamp::NONE,
            new: s1,
        },
        SimTime(1),
    );
    o.on_reply(
        RegionId(0),
        Reply::WriteOk {
            op: OpId(0),
            stamp: s1,
        },
        None,
        SimTime(1),
    );
    o.on_issue(
        RegionId(0),
        OpId(1),
        Key(1),
        Some(WriteKind::Put),
        Level::Default,
        SimTime(2),
    );
    o.on_note(
        RegionId(0),
        Note::WriteStamped {
            op: OpId(1),
            key: Key(1),
            stamp: s2,
            seen: Stamp::NONE,
        },
        SimTime(2),
    );
    o.on_note(
        RegionId(0),
        Note::Applied {
            key: Key(1),
            old: Stamp::NONE,
            new: s2,
        },
        SimTime(2),
    );
    o.on_reply(
        RegionId(0),
        Reply::WriteOk {
            op: OpId(1),
            stamp: s2,
        },
        None,
        SimTime(2),
    );
    // b applies write 1 before write 0.
    o.on_note(
        RegionId(1),
        Note::Applied {
            key: Key(1),
            old: Stamp::NONE,
            new: s2,
        },
        SimTime(5),
    );
    assert_eq!(o.sessions.violations.monotonic_writes, 1);
    o.on_note(
        RegionId(1),
        Note::Applied {
            key: Key(0),
            old: Stamp::NONE,
            new: s1,
        },
        SimTime(6),
    );
    assert_eq!(
        o.sessions.violations.monotonic_writes, 1,
        "in order: no more"
    );
    // The session (region a's only one) reads key 0 through b's stale copy, then a fresh one.
    let read = |o: &mut Observer, op: u64, got: Option<Stamp>, t: u64| {
        let s = o.on_issue(
            RegionId(0),
            OpId(OpId::READ_BIT | op),
            Key(0),
            None,
            Level::Default,
            SimTime(t),
        );
        let mut ri = o.read_issue(Key(0), Level::Default, SimTime(t));
        ri.session = s;
        let cell = got.map(|stamp| crate::replica::Cell {
            stamp,
            value: OpId(0),
        });
        o.on_reply(
            RegionId(1),
            Reply::ReadOk {
                op: OpId(OpId::READ_BIT | op),
                cell,
                by: RegionId(1),
            },
            Some(ri),
            SimTime(t),
        );
    };
    read(&mut o, 0, None, 7);
    assert_eq!(o.sessions.violations.read_your_writes, 1);
    read(&mut o, 1, Some(s1), 8);
    read(&mut o, 2, None, 9);
    assert_eq!(o.sessions.violations.read_your_writes, 2);
    assert_eq!(
        o.sessions.violations.monotonic_reads, 1,
        "went back after reading s1"
    );
    assert_eq!(o.sessions.violations.examples.len(), 4);
}

#[test]
fn lost_updates_split_concurrent_and_skew() {
    let names: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
    let mut o = Observer::new(2, 3, None, 0, Span(1_000));
    // Key 0: two concurrent writes; the lower stamp is lost.
    write(&mut o, 0, 0, 0, stamp(100, 0, 1), Stamp::NONE, 1);
    write(&mut o, 1, 1, 0, stamp(200, 1, 1), Stamp::NONE, 1);
    // Key 1: b writes at 500; a has seen it but its clock reads 300: skew anomaly.
    write(&mut o, 2, 1, 1, stamp(500, 1, 2), Stamp::NONE, 1);
    o.on_note(
        RegionId(0),
        Note::Applied {
            key: Key(1),
            old: Stamp::NONE,
            new: stamp(500, 1, 2),
        },
        SimTime(5),
    );
    write(&mut o, 3, 0, 1, stamp(300, 0, 2), stamp(500, 1, 2), 6);
    // Key 2: a sequential overwrite (the second saw the first): not lost.
    write(&mut o, 4, 0, 2, stamp(100, 0, 3), Stamp::NONE, 1);
    write(&mut o, 5, 0, 2, stamp(150, 0, 4), stamp(100, 0, 3), 2);
    // Make region b converge with a.
    o.on_note(
        RegionId(1),
        Note::Applied {
            key: Key(0),
            old: stamp(200, 1, 1),
            new: stamp(200, 1, 1),
        },
        SimTime(9),
    );
    let lu = o.lost_updates(&names);
    assert_eq!((lu.total, lu.concurrent, lu.skew), (2, 1, 1), "{lu:?}");
    let skewed = lu.examples.iter().find(|e| e.skew_ms.is_some()).unwrap();
    assert_eq!(skewed.lost_op, 3);
    assert!(o.lost_acked().is_empty());
}

/// Replicas driven message by message with an observer watching what they report: the
/// observer's oracles (lost updates, skew, live field puts) judged against the conflict
/// policies. Here rather than beside the replicator so the replica module's tests do not
/// depend on the metrics module.
mod with_replicas {
    use crate::metrics::Observer;
    use crate::replica::data::{Policy, WriteKind};
    use crate::replica::plan::{Plan, Strategy};
    use crate::replica::replicator::{sends, test_config, Config, Disk, Op, Replicator};
    use crate::replica::{
        Action, ClientOp, Key, Level, Now, OpId, Outbox, RegionId, Replica, Reply,
    };
    use crate::time::{Mono, Span, Wall};
    use std::sync::Arc;

    type Out = Outbox<crate::replica::replicator::Msg, Op>;

    /// The replicator tests' region: a small window and batch, fsync per write.
    fn cfg(id: u16, flush: Span) -> Config {
        Config {
            window: 4,
            max_batch: 2,
            flush_interval: flush,
            ..test_config(id, Plan::mesh(3, Strategy::MultiMaster))
        }
    }

    use crate::replica::replicator::test_now as now;

    fn write(r: &mut Replicator, t: u64, op: u64, key: u64) -> Out {
        let mut out = Out::default();
        r.on_client_op(
            now(t),
            ClientOp::Write {
                op: OpId(op),
                key: Key(key),
                value_bytes: 10,
                level: Level::Default,
                kind: WriteKind::Put,
            },
            &mut out,
        );
        out
    }

    /// Two multi-master replicas whose every key is under `policy`, and their tables.
    fn policy_pair(policy: Policy) -> (Replicator, Replicator, Arc<crate::replica::data::Tables>) {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.tables = Arc::new(crate::replica::data::Tables::single(1024, policy));
        let plan = Arc::new(plan);
        let mk = |id: u16| {
            let mut c = cfg(id, Span::ZERO);
            c.plan = Arc::clone(&plan);
            Replicator::from_disk(c, &Disk::default())
        };
        (mk(0), mk(1), Arc::clone(&plan.tables))
    }

    /// Feeds what a replica reported (notes, client replies) to an observer at true time `t`.
    fn observe(o: &mut Observer, r: u16, t_ms: u64, out: &Out) {
        let t = crate::time::SimTime(t_ms * 1_000_000);
        for a in &out.actions {
            match a {
                Action::Note(n) => o.on_note(RegionId(r), *n, t),
                Action::Reply(rep @ Reply::WriteOk { .. }) => {
                    o.on_reply(RegionId(r), *rep, None, t)
                }
                _ => {}
            }
        }
    }

    /// The oracle of clock skew: region b's clock runs S = 200 ms fast. b writes key 0 at
    /// t = 1000 ms (stamped 1200 ms); a receives it at 1010 ms and overwrites it at 1050 ms
    /// (stamped 1050 ms): causally later, stamped earlier. Last-writer-wins keeps b's value and
    /// the observer reports a's write as one lost update, a skew anomaly of 150 ms; an HLC
    /// stamps a's write above what it saw and loses nothing; siblings keep a's write (it
    /// replaced what it had seen) and lose nothing either.
    #[test]
    fn skew_loses_the_causally_later_write_under_lww_only() {
        use crate::replica::data::View;
        for (policy, lost, skew) in [
            (Policy::Lww, 1, 1),
            (Policy::LwwHlc, 0, 0),
            (Policy::Siblings, 0, 0),
        ] {
            let (mut a, mut b, tables) = policy_pair(policy);
            let mut o = Observer::new(2, 1024, None, 0, Span(1_000_000));
            o.set_tables(tables);
            let skewed = |ms: u64| Now {
                mono: Mono(ms * 1_000_000),
                wall: Wall((ms as i64 + 200) * 1_000_000),
            };
            let issue = |o: &mut Observer, r: u16, op: u64, ms: u64| {
                o.on_issue(
                    RegionId(r),
                    OpId(op),
                    Key(0),
                    Some(WriteKind::Put),
                    Level::Default,
                    crate::time::SimTime(ms * 1_000_000),
                )
            };
            issue(&mut o, 1, 0, 1000);
            let mut ob = Out::default();
            b.on_client_op(
                skewed(1000),
                ClientOp::Write {
                    op: OpId(0),
                    key: Key(0),
                    value_bytes: 10,
                    level: Level::Default,
                    kind: WriteKind::Put,
                },
                &mut ob,
            );
            observe(&mut o, 1, 1000, &ob);
            let mut oa = Out::default();
            a.on_message(now(1010), RegionId(1), sends(&ob)[0].1.clone(), &mut oa);
            observe(&mut o, 0, 1010, &oa);
            issue(&mut o, 0, 1, 1050);
            let oa = write(&mut a, 1050, 1, 0);
            observe(&mut o, 0, 1050, &oa);
            let mut ob = Out::default();
            b.on_message(skewed(1060), RegionId(0), sends(&oa)[0].1.clone(), &mut ob);
            observe(&mut o, 1, 1060, &ob);
            assert_eq!(a.state_digest(), b.state_digest(), "{policy:?} converges");
            let lu = o.lost_updates(&["a".to_string(), "b".to_string()]);
            assert_eq!((lu.total, lu.skew), (lost, skew), "{policy:?}: {lu:?}");
            if skew > 0 {
                assert_eq!(lu.examples[0].lost_op, 1);
                assert_eq!(lu.examples[0].skew_ms, Some(150.0));
                assert_eq!(a.cell(Key(0)).value, OpId(0), "b's value won");
            } else if policy == Policy::LwwHlc {
                assert_eq!(a.cell(Key(0)).value, OpId(1), "a's value won");
            }
            if policy == Policy::Siblings {
                assert_eq!(b.view_of(Key(0)), Some(View::Values(vec![OpId(1)])));
                assert_eq!(a.dots_of(Key(0)).len(), 2, "both writes are in its history");
            }
        }
    }

    /// Maps, field by field. Region b's clock runs 200 ms fast. Key 0: b puts field 1 at
    /// t = 1000 ms (write 0, stamped 1200); a receives it at 1010 and puts field 1 again at
    /// 1050 (write 3, stamped 1050): causally later, stamped earlier. Key 1: at 1000 a puts
    /// field 1 (write 1) and b field 2 (write 2), concurrently; each gets the other's at 1010.
    /// - `lww` (whole documents, read-modify-write): a's key-0 write loses by skew and a's
    ///   key-1 document loses to b's (field 1 is gone, though nobody removed it): 2 lost.
    /// - `lww-map`: only the same-field skew loss on key 0; key 1 keeps both fields.
    /// - `or-map`: nothing lost; the causally later put replaces the one it saw.
    #[test]
    fn map_policies_lose_field_writes_by_document_by_field_or_not_at_all() {
        use crate::replica::data::{Shape, Table, Tables, View};
        let map = |fields: &[(u32, u64)]| {
            View::Map(fields.iter().map(|&(f, op)| (f, vec![OpId(op)])).collect())
        };
        for (policy, lost, skew, key0, key1) in [
            (Policy::Lww, 2, 1, map(&[(1, 0)]), map(&[(2, 2)])),
            (Policy::LwwMap, 1, 1, map(&[(1, 0)]), map(&[(1, 1), (2, 2)])),
            (Policy::OrMap, 0, 0, map(&[(1, 3)]), map(&[(1, 1), (2, 2)])),
        ] {
            let mut plan = Plan::mesh(2, Strategy::MultiMaster);
            plan.tables = Arc::new(Tables(vec![Table {
                name: "profile".into(),
                first: 0,
                end: 1024,
                policy,
                shape: Shape::Map,
            }]));
            let plan = Arc::new(plan);
            let mk = |id: u16| {
                let mut c = cfg(id, Span::ZERO);
                c.plan = Arc::clone(&plan);
                Replicator::from_disk(c, &Disk::default())
            };
            let (mut a, mut b) = (mk(0), mk(1));
            let mut o = Observer::new(2, 1024, None, 0, Span(1_000_000));
            o.set_tables(Arc::clone(&plan.tables));
            let at = |ms: u64, fast: bool| Now {
                mono: Mono(ms * 1_000_000),
                wall: Wall((ms as i64 + if fast { 200 } else { 0 }) * 1_000_000),
            };
            // Region r puts `field` of `key` as write `op` at true time `ms`.
            let put = |o: &mut Observer, r: &mut Replicator, op: u64, key: u64, field, ms| {
                let id = r.me();
                let kind = WriteKind::PutField(field);
                let t = crate::time::SimTime(ms * 1_000_000);
                o.on_issue(id, OpId(op), Key(key), Some(kind), Level::Default, t);
                let mut out = Out::default();
                let w = ClientOp::Write {
                    op: OpId(op),
                    key: Key(key),
                    value_bytes: 10,
                    level: Level::Default,
                    kind,
                };
                r.on_client_op(at(ms, id == RegionId(1)), w, &mut out);
                observe(o, id.0, ms, &out);
                out
            };
            let deliver = |o: &mut Observer, to: &mut Replicator, from: &Out, ms: u64| {
                let mut out = Out::default();
                let id = to.me();
                let msg = sends(from)[0].1.clone();
                to.on_message(at(ms, id == RegionId(1)), RegionId(1 - id.0), msg, &mut out);
                observe(o, id.0, ms, &out);
            };
            let b0 = put(&mut o, &mut b, 0, 0, 1, 1000);
            let a1 = put(&mut o, &mut a, 1, 1, 1, 1000);
            let b1 = put(&mut o, &mut b, 2, 1, 2, 1000);
            deliver(&mut o, &mut a, &b0, 1010);
            deliver(&mut o, &mut a, &b1, 1010);
            deliver(&mut o, &mut b, &a1, 1010);
            let a0 = put(&mut o, &mut a, 3, 0, 1, 1050);
            deliver(&mut o, &mut b, &a0, 1060);
            assert_eq!(a.state_digest(), b.state_digest(), "{policy:?} converges");
            assert_eq!(a.view_of(Key(0)), Some(key0.clone()), "{policy:?} key 0");
            assert_eq!(b.view_of(Key(1)), Some(key1.clone()), "{policy:?} key 1");
            let lu = o.lost_updates(&["a".to_string(), "b".to_string()]);
            assert_eq!((lu.total, lu.skew), (lost, skew), "{policy:?}: {lu:?}");
            if skew > 0 {
                let e = lu.examples.iter().find(|e| e.skew_ms.is_some()).unwrap();
                assert_eq!((e.lost_op, e.skew_ms), (3, Some(150.0)));
            }
            // The field-level oracle: the puts seen by no later put of their field.
            let live = o.live_puts();
            assert_eq!(live.get(&(0, 1)), Some(&vec![3]), "{policy:?}");
            assert_eq!(live.get(&(1, 1)), Some(&vec![1]), "{policy:?}");
            assert_eq!(live.get(&(1, 2)), Some(&vec![2]), "{policy:?}");
        }
    }
}
