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
