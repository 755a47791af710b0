//! State-machine tests of the replicator: log shipping, durability, conflict policies and
//! anti-entropy, driven message by message.

use super::msg::RPC_BYTES;
use super::*;
use crate::replica::data::Policy;
use crate::replica::plan::Strategy;
use crate::replica::Note;
use crate::replica::{Durable, MsgClass, WireMessage};
use crate::time::Wall;

fn cfg(id: u16, flush: Span) -> Config {
    Config {
        id: RegionId(id),
        window: 4,
        max_batch: 2,
        rto_initial: Span::from_secs(1),
        rto_min: Span::from_millis(200),
        rto_max: Span::from_secs(5),
        flush_interval: flush,
        durable: true,
        plan: Arc::new(Plan::mesh(3, Strategy::MultiMaster)),
    }
}

fn now(ms: u64) -> Now {
    Now {
        mono: Mono(ms * 1_000_000),
        wall: Wall(ms as i64 * 1_000_000),
    }
}

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

/// Applies persisted ops to a disk, honouring `Sync` like the engine does.
fn flush_to(disk: &mut Disk, pending: &mut Vec<Op>, out: Out) {
    for a in out.actions {
        match a {
            Action::Persist(op) => pending.push(op),
            Action::Sync => pending.drain(..).for_each(|op| disk.apply(op)),
            _ => {}
        }
    }
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

/// `manual`: a conflict on key 4 (home: region 0, as 4 mod 2 = 0) is parked in region 0's
/// queue only, with the operator's timer set for the delay; when it fires the operator
/// keeps the value written last (op 2) with a write covering both siblings, which ends the
/// conflict at region 1 too. A client's covering write instead unparks it as the client's.
#[test]
fn manual_conflicts_wait_in_the_home_regions_queue_for_the_operator() {
    use crate::replica::data::View;
    let mk = |operator: Option<Span>| {
        let mut plan = Plan::mesh(2, Strategy::MultiMaster);
        plan.tables = Arc::new(crate::replica::data::Tables::single(1024, Policy::Manual));
        plan.operator = operator;
        let plan = Arc::new(plan);
        let mk = |id: u16| {
            let mut c = cfg(id, Span::ZERO);
            c.plan = Arc::clone(&plan);
            Replicator::from_disk(c, &Disk::default())
        };
        (mk(0), mk(1))
    };
    let delay = Span::from_millis(500);
    let (mut a, mut b) = mk(Some(delay));
    let oa = write(&mut a, 10, 1, 4);
    let ob = write(&mut b, 10, 2, 4);
    let (mut xa, mut xb) = (Out::default(), Out::default());
    a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut xa);
    b.on_message(now(20), RegionId(0), sends(&oa)[0].1.clone(), &mut xb);
    let parked = |o: &Out| {
        o.actions
            .iter()
            .filter(|x| {
                matches!(
                    x,
                    Action::Note(Note::Parked {
                        key: Key(4),
                        depth: 1
                    })
                )
            })
            .count()
    };
    assert_eq!(
        (parked(&xa), parked(&xb)),
        (1, 0),
        "only the home region parks"
    );
    assert!(xa.actions.iter().any(|x| matches!(
        x,
        Action::SetTimer { id, at } if *id == a.timer(Timer::Operator) && *at == Mono(520_000_000)
    )));
    assert!(
        !a.is_quiescent(),
        "a parked conflict with an operator is work to do"
    );
    assert_eq!(
        b.view_of(Key(4)),
        Some(View::Values(vec![OpId(1), OpId(2)]))
    );

    let mut xo = Out::default();
    let op_timer = a.timer(Timer::Operator);
    a.on_timer(now(520), op_timer, &mut xo);
    assert!(xo.actions.iter().any(|x| matches!(
        x,
        Action::Note(Note::Unparked { key: Key(4), by_operator: true, depth: 0, waited })
            if *waited == delay
    )));
    assert!(
        !xo.actions.iter().any(|x| matches!(
            x,
            Action::Note(Note::WriteStamped { .. }) | Action::Reply(_)
        )),
        "the operator's write has no client"
    );
    assert_eq!(a.view_of(Key(4)), Some(View::Values(vec![OpId(2)])));
    let resolution = sends(&xo)[0].1.clone();
    b.on_message(now(530), RegionId(0), resolution, &mut Out::default());
    assert_eq!(b.view_of(Key(4)), Some(View::Values(vec![OpId(2)])));
    assert_eq!(a.state_digest(), b.state_digest());

    // Without an operator the conflict waits, and a client's covering write ends it.
    let (mut a, mut b) = mk(None);
    let oa = write(&mut a, 10, 1, 4);
    let ob = write(&mut b, 10, 2, 4);
    let mut xa = Out::default();
    a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut xa);
    assert_eq!(parked(&xa), 1);
    assert!(!xa
        .actions
        .iter()
        .any(|x| matches!(x, Action::SetTimer { id, .. } if *id == a.timer(Timer::Operator))));
    b.on_message(
        now(20),
        RegionId(0),
        sends(&oa)[0].1.clone(),
        &mut Out::default(),
    );
    let xw = write(&mut a, 900, 3, 4);
    assert!(xw.actions.iter().any(|x| matches!(
        x,
        Action::Note(Note::Unparked {
            key: Key(4),
            by_operator: false,
            depth: 0,
            ..
        })
    )));
    assert_eq!(a.view_of(Key(4)), Some(View::Values(vec![OpId(3)])));
}

/// Two regions write the same key concurrently: siblings keep both values, and the next
/// write from a region that has seen both resolves them.
#[test]
fn siblings_keep_concurrent_writes_until_a_write_that_saw_them() {
    use crate::replica::data::View;
    let (mut a, mut b, _) = policy_pair(Policy::Siblings);
    let oa = write(&mut a, 10, 1, 4);
    let ob = write(&mut b, 10, 2, 4);
    let mut x = Out::default();
    a.on_message(now(20), RegionId(1), sends(&ob)[0].1.clone(), &mut x);
    assert!(x
        .actions
        .iter()
        .any(|a| matches!(a, Action::Note(Note::Merged { siblings: 2, .. }))));
    b.on_message(
        now(20),
        RegionId(0),
        sends(&oa)[0].1.clone(),
        &mut Out::default(),
    );
    assert_eq!(
        a.view_of(Key(4)),
        Some(View::Values(vec![OpId(1), OpId(2)]))
    );
    assert_eq!(a.state_digest(), b.state_digest());
    let oa = write(&mut a, 30, 3, 4);
    b.on_message(
        now(40),
        RegionId(0),
        sends(&oa)[0].1.clone(),
        &mut Out::default(),
    );
    assert_eq!(b.view_of(Key(4)), Some(View::Values(vec![OpId(3)])));
}

#[test]
fn a_write_is_applied_acked_durable_and_shipped_to_every_peer() {
    let mut r = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
    let out = write(&mut r, 10, 7, 3);
    let kinds: Vec<&str> = out
        .actions
        .iter()
        .map(|a| match a {
            Action::Note(Note::WriteStamped { .. }) => "stamped",
            Action::Note(Note::Applied { .. }) => "applied",
            Action::Persist(_) => "persist",
            Action::Sync => "sync",
            Action::Reply(Reply::WriteOk { .. }) => "ack",
            Action::Send { .. } => "send",
            Action::SetTimer { .. } => "timer",
            _ => "other",
        })
        .collect();
    // Durable (sync) strictly before the client ack; shipped after.
    assert_eq!(
        kinds,
        [
            "stamped", "persist", "persist", "applied", "persist", "persist", "persist", "sync",
            "ack", "send", "timer", "send", "timer"
        ]
    );
    let s = sends(&out);
    assert_eq!(s.iter().map(|(to, _)| to.0).collect::<Vec<_>>(), [1, 2]);
    match s[0].1 {
        Msg::Link(LinkMsg::Replicate {
            first,
            entries,
            retransmit,
            ..
        }) => {
            assert_eq!((*first, entries.len(), *retransmit), (1, 1, false));
            assert_eq!(entries[0].cell.value, OpId(7));
            assert!(entries[0].verify());
        }
        m => panic!("{m:?}"),
    }
}

#[test]
fn receiver_applies_once_and_acks_cumulatively() {
    let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
    let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &Disk::default());
    let out = write(&mut a, 1, 1, 5);
    let msg = sends(&out)[0].1.clone();
    let mut ob = Out::default();
    b.on_message(now(2), RegionId(0), msg.clone(), &mut ob);
    assert_eq!(b.cell(Key(5)).value, OpId(1));
    assert_eq!(
        sends(&ob),
        vec![(RegionId(0), &Msg::Link(LinkMsg::Ack { epoch: 1, upto: 1 }))]
    );
    // A duplicate changes nothing but is acknowledged again.
    let mut ob2 = Out::default();
    b.on_message(now(3), RegionId(0), msg, &mut ob2);
    assert!(!ob2
        .actions
        .iter()
        .any(|a| matches!(a, Action::Note(Note::Applied { .. }))));
    assert_eq!(
        sends(&ob2),
        vec![(RegionId(0), &Msg::Link(LinkMsg::Ack { epoch: 1, upto: 1 }))]
    );
    assert_eq!(a.state_digest(), b.state_digest());
}

#[test]
fn out_of_order_delivery_waits_for_the_gap() {
    let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
    let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &Disk::default());
    let m1 = sends(&write(&mut a, 1, 1, 1))[0].1.clone();
    let m2 = sends(&write(&mut a, 2, 2, 2))[0].1.clone();
    let mut o = Out::default();
    b.on_message(now(5), RegionId(0), m2, &mut o);
    assert_eq!(
        sends(&o)[0].1,
        &Msg::Link(LinkMsg::Ack { epoch: 1, upto: 0 })
    );
    assert_eq!(b.cell(Key(2)).value, OpId(2), "applied even out of order");
    let mut o = Out::default();
    b.on_message(now(6), RegionId(0), m1, &mut o);
    assert_eq!(
        sends(&o)[0].1,
        &Msg::Link(LinkMsg::Ack { epoch: 1, upto: 2 })
    );
}

#[test]
fn timeout_goes_back_n_with_backoff_and_window() {
    let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
    for i in 0..6 {
        let out = write(&mut a, i, i, i);
        // Window 4: the 5th and 6th writes are not sent until acks arrive.
        let to_b = sends(&out).iter().filter(|(to, _)| to.0 == 1).count();
        assert_eq!(to_b, usize::from(i < 4), "write {i}");
    }
    let mut out = Out::default();
    a.on_timer(now(1000), a.timer(Timer::Retransmit(1)), &mut out);
    let s: Vec<_> = sends(&out)
        .into_iter()
        .filter(|(to, _)| to.0 == 1)
        .collect();
    // Resends positions 1..=4 in batches of 2, flagged as retransmissions.
    let firsts: Vec<(u64, usize, bool)> = s
        .iter()
        .map(|(_, m)| match m {
            Msg::Link(LinkMsg::Replicate {
                first,
                entries,
                retransmit,
                ..
            }) => (*first, entries.len(), *retransmit),
            _ => panic!(),
        })
        .collect();
    assert_eq!(firsts, [(1, 2, true), (3, 2, true)]);
    let timer = out.actions.iter().find_map(|x| match x {
        Action::SetTimer { id, at } if id.0 == 1 => Some(*at),
        _ => None,
    });
    assert_eq!(
        timer,
        Some(Mono(1000 * 1_000_000 + 2_000_000_000)),
        "timeout doubled to 2s"
    );
    // An ack of 4 opens the window for 5 and 6.
    let mut out = Out::default();
    a.on_message(
        now(1100),
        RegionId(1),
        Msg::Link(LinkMsg::Ack { epoch: 1, upto: 4 }),
        &mut out,
    );
    let s = sends(&out);
    assert_eq!(s.len(), 1);
    assert!(
        matches!(s[0].1, Msg::Link(LinkMsg::Replicate { first: 5, entries, .. }) if entries.len() == 2)
    );
}

#[test]
fn log_is_truncated_once_every_peer_acked() {
    let mut a = Replicator::from_disk(cfg(0, Span::ZERO), &Disk::default());
    write(&mut a, 1, 1, 1);
    write(&mut a, 2, 2, 2);
    let mut out = Out::default();
    a.on_message(
        now(3),
        RegionId(1),
        Msg::Link(LinkMsg::Ack { epoch: 1, upto: 2 }),
        &mut out,
    );
    assert_eq!(a.log_len(), 2);
    assert!(!a.is_quiescent());
    a.on_message(
        now(3),
        RegionId(2),
        Msg::Link(LinkMsg::Ack { epoch: 1, upto: 1 }),
        &mut out,
    );
    assert_eq!(a.log_len(), 1);
    a.on_message(
        now(3),
        RegionId(2),
        Msg::Link(LinkMsg::Ack { epoch: 1, upto: 2 }),
        &mut out,
    );
    assert_eq!(a.log_len(), 0);
    assert!(a.is_quiescent());
}

#[test]
fn flush_mode_acks_clients_first_and_peers_only_after_fsync() {
    let ten = Span::from_millis(10);
    let mut a = Replicator::from_disk(cfg(0, ten), &Disk::default());
    let mut b = Replicator::from_disk(cfg(1, ten), &Disk::default());
    let out = write(&mut a, 0, 1, 1);
    assert!(
        !out.actions.iter().any(|x| matches!(x, Action::Sync)),
        "no fsync before the ack"
    );
    assert!(out
        .actions
        .iter()
        .any(|x| matches!(x, Action::Reply(Reply::WriteOk { .. }))));
    let msg = sends(&out)[0].1.clone();
    let mut ob = Out::default();
    b.on_message(now(1), RegionId(0), msg, &mut ob);
    assert!(sends(&ob).is_empty(), "no ack before the flush");
    let mut ob = Out::default();
    b.on_timer(now(11), b.timer(Timer::Flush), &mut ob);
    assert!(matches!(ob.actions[0], Action::Sync));
    assert_eq!(
        sends(&ob),
        vec![(RegionId(0), &Msg::Link(LinkMsg::Ack { epoch: 1, upto: 1 }))]
    );
}

#[test]
fn crash_before_fsync_recovers_orphans_from_peers() {
    let ten = Span::from_millis(10);
    let mut disk_a = Disk::default();
    let mut pend_a = Vec::new();
    let mut a = Replicator::from_disk(cfg(0, ten), &disk_a);
    let mut b = Replicator::from_disk(cfg(1, ten), &Disk::default());
    let mut c = Replicator::from_disk(cfg(2, ten), &Disk::default());
    let mut o = Out::default();
    a.on_start(now(0), &mut o);
    flush_to(&mut disk_a, &mut pend_a, o);
    // Write reaches b only; a crashes before its fsync.
    let out = write(&mut a, 1, 42, 9);
    let to_b = sends(&out)
        .into_iter()
        .find(|(t, _)| t.0 == 1)
        .unwrap()
        .1
        .clone();
    flush_to(&mut disk_a, &mut pend_a, out);
    let mut ob = Out::default();
    b.on_message(now(2), RegionId(0), to_b, &mut ob);
    assert_eq!(b.cell(Key(9)).value, OpId(42));
    // Crash: pending ops are lost; the write is gone from a's disk.
    let mut a2 = Replicator::from_disk(cfg(0, ten), &disk_a);
    assert!(a2.cell(Key(9)).stamp.is_none());
    let mut o = Out::default();
    a2.on_start(now(20), &mut o);
    let probe_b = sends(&o)
        .into_iter()
        .find(|(t, _)| t.0 == 1)
        .unwrap()
        .1
        .clone();
    // b learns of the restart and relays the orphan to a and c.
    let mut ob = Out::default();
    b.on_message(now(30), RegionId(0), probe_b, &mut ob);
    let relays = sends(&ob);
    let to_a = relays.iter().find(|(t, _)| t.0 == 0).unwrap().1.clone();
    let to_c = relays.iter().find(|(t, _)| t.0 == 2).unwrap().1.clone();
    let mut o = Out::default();
    a2.on_message(now(40), RegionId(1), to_a, &mut o);
    c.on_message(now(40), RegionId(1), to_c, &mut Out::default());
    assert_eq!(a2.cell(Key(9)).value, OpId(42));
    assert_eq!(c.cell(Key(9)).value, OpId(42));
    assert_eq!(a2.state_digest(), b.state_digest());
    assert_eq!(b.state_digest(), c.state_digest());
}

/// Swarm seed 5045: the region holding an origin's orphans restarts (after its own fsync)
/// while the origin is down. Its retained entries used to live only in memory, so when the
/// origin came back without its unsynced tail nobody relayed it and the origin never
/// learned the write its peers held. They are now on disk, and b still relays.
#[test]
fn orphans_survive_a_restart_of_the_region_holding_them() {
    let ten = Span::from_millis(10);
    let mut disk_a = Disk::default();
    let mut pend_a = Vec::new();
    let mut disk_b = Disk::default();
    let mut pend_b = Vec::new();
    let mut a = Replicator::from_disk(cfg(0, ten), &disk_a);
    let mut b = Replicator::from_disk(cfg(1, ten), &disk_b);
    let mut c = Replicator::from_disk(cfg(2, ten), &Disk::default());
    let mut o = Out::default();
    a.on_start(now(0), &mut o);
    flush_to(&mut disk_a, &mut pend_a, o);
    let mut o = Out::default();
    b.on_start(now(0), &mut o);
    flush_to(&mut disk_b, &mut pend_b, o);
    // The write reaches b only; a crashes before its fsync.
    let out = write(&mut a, 1, 42, 9);
    let to_b = sends(&out)
        .into_iter()
        .find(|(t, _)| t.0 == 1)
        .unwrap()
        .1
        .clone();
    flush_to(&mut disk_a, &mut pend_a, out);
    let mut ob = Out::default();
    b.on_message(now(2), RegionId(0), to_b, &mut ob);
    flush_to(&mut disk_b, &mut pend_b, ob);
    // b's group commit makes the entry durable, then b crashes and restarts too.
    let mut ob = Out::default();
    b.on_timer(now(12), b.timer(Timer::Flush), &mut ob);
    flush_to(&mut disk_b, &mut pend_b, ob);
    assert_eq!(disk_b.retained[0].len(), 1, "retained on disk");
    let mut b = Replicator::from_disk(cfg(1, ten), &disk_b);
    assert_eq!(b.cell(Key(9)).value, OpId(42));
    let mut ob = Out::default();
    b.on_start(now(15), &mut ob);
    flush_to(&mut disk_b, &mut pend_b, ob);
    // a comes back without the write; b learns of it and relays the orphan to a and c.
    let mut a2 = Replicator::from_disk(cfg(0, ten), &disk_a);
    assert!(a2.cell(Key(9)).stamp.is_none());
    let mut o = Out::default();
    a2.on_start(now(20), &mut o);
    let probe_b = sends(&o)
        .into_iter()
        .find(|(t, _)| t.0 == 1)
        .unwrap()
        .1
        .clone();
    let mut ob = Out::default();
    b.on_message(now(30), RegionId(0), probe_b, &mut ob);
    let relays = sends(&ob);
    let to_a = relays.iter().find(|(t, _)| t.0 == 0).unwrap().1.clone();
    let to_c = relays.iter().find(|(t, _)| t.0 == 2).unwrap().1.clone();
    flush_to(&mut disk_b, &mut pend_b, ob);
    a2.on_message(now(40), RegionId(1), to_a, &mut Out::default());
    c.on_message(now(40), RegionId(1), to_c, &mut Out::default());
    assert_eq!(a2.cell(Key(9)).value, OpId(42));
    assert_eq!(c.cell(Key(9)).value, OpId(42));
    assert_eq!(a2.state_digest(), b.state_digest());
    assert_eq!(b.state_digest(), c.state_digest());
    // Relayed once: the disk no longer retains it (its copies are on b's links).
    let mut ob = Out::default();
    b.on_timer(now(45), b.timer(Timer::Flush), &mut ob);
    flush_to(&mut disk_b, &mut pend_b, ob);
    assert!(disk_b.retained[0].is_empty());
    assert_eq!(disk_b.links[0].len() + disk_b.links[2].len(), 2);
}

fn ae_cfg(id: u16) -> Config {
    let mut plan = Plan::mesh(2, Strategy::MultiMaster);
    plan.keys = 64;
    plan.anti_entropy = Some(crate::replica::plan::AntiEntropy {
        interval: Span::from_secs(1),
        fanout: 1,
        leaves: 16,
        branching: 4,
    });
    Config {
        plan: Arc::new(plan),
        durable: false,
        ..cfg(id, Span::ZERO)
    }
}

/// Runs one anti-entropy session from `a` (region 0) to `b` (region 1), delivering every
/// anti-entropy message at once and dropping all other traffic. Returns the kinds of the
/// messages in order, their total bytes, and the notes the initiator emitted.
fn ae_session(a: &mut Replicator, b: &mut Replicator) -> (Vec<&'static str>, u64, Vec<Note>) {
    let mut out = Out::default();
    a.ae_start(RegionId(1), now(1000), &mut out);
    let (mut kinds, mut bytes, mut notes) = (Vec::new(), 0u64, Vec::new());
    let mut queue: VecDeque<(RegionId, RegionId, Msg)> = VecDeque::new();
    let take = |from: RegionId, out: Out, q: &mut VecDeque<_>, notes: &mut Vec<Note>| {
        for act in out.actions {
            match act {
                Action::Send { to, msg } if msg.class() == MsgClass::AntiEntropy => {
                    q.push_back((from, to, msg))
                }
                Action::Note(n) if from == RegionId(0) => notes.push(n),
                _ => {}
            }
        }
    };
    take(RegionId(0), out, &mut queue, &mut notes);
    while let Some((from, to, msg)) = queue.pop_front() {
        kinds.push(msg.kind());
        bytes += msg.wire_bytes();
        let mut out = Out::default();
        let r = if to == RegionId(0) { &mut *a } else { &mut *b };
        r.on_message(now(1001), from, msg, &mut out);
        take(to, out, &mut queue, &mut notes);
        assert!(kinds.len() < 50, "session does not end: {kinds:?}");
    }
    (kinds, bytes, notes)
}

#[test]
fn anti_entropy_in_sync_is_one_message() {
    let (mut a, mut b) = (
        Replicator::from_disk(ae_cfg(0), &Disk::default()),
        Replicator::from_disk(ae_cfg(1), &Disk::default()),
    );
    let (kinds, _, notes) = ae_session(&mut a, &mut b);
    // b matches the root and tells a the session is over.
    assert_eq!(kinds, ["ae-hashes", "ae-done"]);
    assert!(notes.iter().any(|n| matches!(
        n,
        Note::AeFinished {
            rounds: 2,
            in_sync: true,
            ..
        }
    )));
}

#[test]
fn anti_entropy_descends_only_into_the_range_that_differs() {
    let (mut a, mut b) = (
        Replicator::from_disk(ae_cfg(0), &Disk::default()),
        Replicator::from_disk(ae_cfg(1), &Disk::default()),
    );
    for k in 0..64 {
        // The same writes everywhere (as if replicated), except key 37 only at b.
        let c = Cell {
            stamp: Stamp::new(Wall(k as i64), RegionId(0), 1, k as u32 + 1),
            value: OpId(k + 1),
        };
        a.apply_lww(Key(k), c, &mut Out::default());
        b.apply_lww(Key(k), c, &mut Out::default());
    }
    write(&mut b, 500, 999, 37);
    assert_ne!(a.state_digest(), b.state_digest());
    let (kinds, bytes, notes) = ae_session(&mut a, &mut b);
    // a: the root; b: its 4 children; a: the 4 leaves under the child that differs; b: the
    // 4 cells of the one differing leaf (16 leaves over 64 keys). a has nothing newer to
    // send back and, being the initiator, ends the session itself.
    assert_eq!(kinds, ["ae-hashes", "ae-hashes", "ae-hashes", "ae-cells"]);
    assert_eq!(a.cell(Key(37)).value, OpId(999));
    assert_eq!(a.state_digest(), b.state_digest());
    let full = match notes[0] {
        Note::AeStarted { full_state_bytes } => full_state_bytes,
        ref n => panic!("{n:?}"),
    };
    assert_eq!(full, RPC_BYTES + 64 * (32 + 100));
    assert!(bytes * 10 < full, "{bytes} vs full state {full}");
    assert!(notes.iter().any(|n| matches!(
        n,
        Note::AeFinished {
            rounds: 4,
            in_sync: false,
            ..
        }
    )));
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Whatever each side missed, one session leaves both with the newest value of every key.
    #[test]
    fn anti_entropy_converges_from_any_divergence(
        wa in proptest::collection::vec((0u64..64, 0u64..100), 0..40),
        wb in proptest::collection::vec((0u64..64, 0u64..100), 0..40),
    ) {
        let (mut a, mut b) = (
            Replicator::from_disk(ae_cfg(0), &Disk::default()),
            Replicator::from_disk(ae_cfg(1), &Disk::default()),
        );
        for (i, (k, t)) in wa.iter().enumerate() {
            write(&mut a, *t, i as u64 + 1, *k);
        }
        for (i, (k, t)) in wb.iter().enumerate() {
            write(&mut b, *t, 1000 + i as u64, *k);
        }
        let want: Vec<Cell> = (0..64)
            .map(|k| {
                let (x, y) = (a.cell(Key(k)), b.cell(Key(k)));
                if x.stamp >= y.stamp { x } else { y }
            })
            .collect();
        ae_session(&mut a, &mut b);
        proptest::prop_assert_eq!(a.state_digest(), b.state_digest());
        for k in 0..64u64 {
            proptest::prop_assert_eq!(a.cell(Key(k)), want[k as usize]);
        }
    }
}

/// Swarm seed 917: a catch-up from a rebuilt relay completes, and the region crashes
/// before its next fsync. What survives must be the finished transfer, not one still owed
/// by no peer (which waited for no answer forever: never quiescent).
#[test]
fn a_state_transfer_completes_on_disk_with_its_values() {
    let mut disk = Disk::default();
    let mut pending = Vec::new();
    let mut b = Replicator::from_disk(cfg(1, Span::ZERO), &disk);
    let mut out = Out::default();
    b.on_start(now(0), &mut out);
    flush_to(&mut disk, &mut pending, out);
    let mut out = Out::default();
    b.on_message(
        now(10),
        RegionId(0),
        Msg::Restore(RestoreMsg::StateOffer),
        &mut out,
    );
    flush_to(&mut disk, &mut pending, out);
    assert!(b.restore.transfer.is_some());
    let cell = Cell {
        stamp: Stamp::new(Wall(5_000_000), RegionId(0), 1, 1),
        value: OpId(9),
    };
    let state = Msg::Restore(RestoreMsg::State {
        cells: vec![(Key(3), cell)],
        data: Vec::new(),
        seen: Vec::new(),
        value_bytes: 10,
    });
    let mut out = Out::default();
    b.on_message(now(20), RegionId(0), state, &mut out);
    assert!(b.restore.transfer.is_none());
    // The crash: only what was synced survives.
    flush_to(&mut disk, &mut pending, out);
    assert_eq!(disk.restore, None);
    let b = Replicator::from_disk(cfg(1, Span::ZERO), &disk);
    assert!(b.restore.transfer.is_none());
    assert_eq!(b.cell(Key(3)), cell);
}
