//! Failover state-machine tests: exact steps of detection, elections, leases and fences.

use super::super::{sends, Config, Disk, LinkMsg, Replicator};
use super::*;
use crate::replica::plan::{Strategy, Sync};
use crate::replica::{Action, Cell, Outbox, Replica, Stamp, TimerId, WireMessage};

fn cfg(id: u16) -> Config {
    super::super::failover_test_config(
        id,
        Strategy::PrimaryBackup {
            primary: RegionId(0),
            forward: true,
            sync: Sync::Async,
        },
    )
}

fn at(ms: u64) -> Now {
    super::super::test_now(ms)
}

fn timers(out: &Out) -> Vec<(TimerId, Mono)> {
    out.actions
        .iter()
        .filter_map(|a| match a {
            Action::SetTimer { id, at } => Some((*id, *at)),
            _ => None,
        })
        .collect()
}

use super::super::{notes, test_heartbeat};

/// The exact actions of one failover, as a backup sees it: silence from the primary for
/// the timeout is a suspicion and an election timer one stagger later; that timer sends
/// pre-votes (no term taken); a granted pre-vote makes it a candidate of term 2 asking
/// for real votes; a granted vote makes it primary, cutting the old stream where it is.
#[test]
fn a_backup_suspects_pre_votes_votes_and_leads_in_exact_steps() {
    let mut r1 = Replicator::recover(&cfg(1), &Disk::default());
    let mut out = Outbox::default();
    r1.on_start(at(0), &mut out);
    assert_eq!(
        sends(&out)
            .iter()
            .map(|(to, m)| (to.0, m.kind()))
            .collect::<Vec<_>>(),
        vec![(0, "heartbeat"), (2, "heartbeat")]
    );
    assert!(timers(&out).contains(&(r1.timer(Timer::Detect), Mono(1_000_000_000))));
    // r2 keeps talking; r0 (the primary) never does.
    for t in (100..=1000).step_by(100) {
        let hb = test_heartbeat(t, None);
        let mut o = Outbox::default();
        r1.on_message(
            at(t),
            RegionId(2),
            Msg::Failover(FoMsg::Heartbeat(hb)),
            &mut o,
        );
    }
    let mut out = Outbox::default();
    r1.on_timer(at(1000), r1.timer(Timer::Detect), &mut out);
    assert_eq!(notes(&out), vec![Note::Suspect { peer: RegionId(0) }]);
    // Rank 1: one stagger (200 ms) before standing.
    assert!(timers(&out).contains(&(r1.timer(Timer::Elect), Mono(1_200_000_000))));

    let mut out = Outbox::default();
    r1.on_timer(at(1200), r1.timer(Timer::Elect), &mut out);
    let pre = sends(&out);
    assert_eq!(pre.len(), 2);
    for (_, m) in &pre {
        assert_eq!(
            **m,
            Msg::Failover(FoMsg::VoteReq {
                term: 2,
                pos: (1, 0),
                pre: true,
                transfer: false,
            })
        );
    }
    assert!(notes(&out).is_empty(), "a pre-vote changes no term");

    let mut out = Outbox::default();
    let grant = |pre| {
        Msg::Failover(FoMsg::Vote {
            term: 2,
            granted: true,
            pre,
        })
    };
    r1.on_message(at(1240), RegionId(2), grant(true), &mut out);
    assert_eq!(notes(&out), vec![Note::ElectionStarted { term: 2 }]);
    assert!(out
        .actions
        .iter()
        .any(|a| matches!(a, Action::Persist(Op::Term(2, Some(RegionId(1)))))));
    assert!(matches!(out.actions.last(), Some(Action::Send { .. })));
    let real: Vec<_> = sends(&out)
        .into_iter()
        .map(|(to, m)| (to.0, m.clone()))
        .collect();
    assert_eq!(
        real,
        vec![
            (
                0,
                Msg::Failover(FoMsg::VoteReq {
                    term: 2,
                    pos: (1, 0),
                    pre: false,
                    transfer: false,
                })
            ),
            (
                2,
                Msg::Failover(FoMsg::VoteReq {
                    term: 2,
                    pos: (1, 0),
                    pre: false,
                    transfer: false,
                })
            ),
        ]
    );

    let mut out = Outbox::default();
    r1.on_message(at(1280), RegionId(2), grant(false), &mut out);
    assert_eq!(
        notes(&out),
        vec![Note::BecameLeader {
            term: 2,
            prev: Some((RegionId(0), 1, 0))
        }]
    );
    assert!(r1.fo_may_write(at(1280)));
    // It announces itself at once, with the fence on r0's stream.
    let hb = sends(&out);
    assert_eq!(hb.len(), 2);
    match hb[0].1 {
        Msg::Failover(FoMsg::Heartbeat(h)) => {
            assert_eq!((h.term, h.leader), (2, Some(RegionId(1))));
            assert_eq!(
                h.fences.as_ref(),
                &vec![Fence {
                    origin: RegionId(0),
                    epoch: 1,
                    from: 1,
                    to: None
                }]
            );
        }
        ref m => panic!("{m:?}"),
    }
}

/// The leader its heartbeats (term 1 here) name, and what they are sent to (test helper).
fn announced(out: &Out) -> Vec<(u16, u64, Option<RegionId>)> {
    sends(out)
        .into_iter()
        .filter_map(|(to, m)| match m {
            Msg::Failover(FoMsg::Heartbeat(h)) => Some((to.0, h.term, h.leader)),
            _ => None,
        })
        .collect()
}

/// Swarm seed 2234: the primary r0 loses its disk for 62 ms and is rebuilt from nothing
/// (term 0). Its peers, who never suspected it, name it the primary of term 1; it took that
/// as its own term's primary without leading it, and its heartbeats then vouched for a
/// primary nobody was: no election ever started and writes failed for good. It now adopts
/// the term without a primary, says so, and stands for election once the lease it may
/// have granted has run out.
#[test]
fn a_rebuilt_primary_named_by_its_peers_does_not_vouch_for_itself() {
    let mut r0 = Replicator::rebuild(&cfg(0), &Disk::default(), 1);
    let mut out = Outbox::default();
    r0.on_start(at(0), &mut out);
    for t in [100, 200] {
        let mut o = Outbox::default();
        let hb = test_heartbeat(t, None);
        r0.on_message(
            at(t),
            RegionId(1),
            Msg::Failover(FoMsg::Heartbeat(hb)),
            &mut o,
        );
    }
    assert!(!r0.fo_serves_writes());
    let mut out = Outbox::default();
    r0.on_timer(at(250), r0.timer(Timer::Heartbeat), &mut out);
    assert_eq!(announced(&out), vec![(1, 1, None), (2, 1, None)]);
    // No primary heard for the earliest suspicion (1 s): an election, rank 0 at once.
    let mut out = Outbox::default();
    r0.on_timer(at(1000), r0.timer(Timer::Detect), &mut out);
    assert!(timers(&out).contains(&(r0.timer(Timer::Elect), Mono(1_000_000_000))));
    let mut out = Outbox::default();
    r0.on_timer(at(1000), r0.timer(Timer::Elect), &mut out);
    let asks: Vec<_> = sends(&out)
        .into_iter()
        .map(|(to, m)| (to.0, m.clone()))
        .collect();
    let pre = Msg::Failover(FoMsg::VoteReq {
        term: 2,
        pos: (0, 0),
        pre: true,
        transfer: false,
    });
    assert_eq!(asks, vec![(1, pre.clone()), (2, pre)]);
}

/// Swarm seed 2234, second half: once the old primary r0 says it does not lead term 1, a
/// follower that has not heard that yet (r2) still names r0 in its heartbeats. Taking that
/// second-hand news back had r1 and r2 re-teach each other r0 for minutes. r1 now believes
/// r0 about itself and elects.
/// A region still hearing a live primary refuses to vote, pre-vote or not.
#[test]
fn a_region_that_hears_its_primary_refuses_votes() {
    let mut r2 = Replicator::recover(&cfg(2), &Disk::default());
    let mut out = Outbox::default();
    r2.on_start(at(0), &mut out);
    let mut out = Outbox::default();
    r2.on_message(
        at(300),
        RegionId(1),
        Msg::Failover(FoMsg::VoteReq {
            term: 2,
            pos: (1, 5),
            pre: true,
            transfer: false,
        }),
        &mut out,
    );
    assert_eq!(
        sends(&out)
            .into_iter()
            .map(|(to, m)| (to.0, m.clone()))
            .collect::<Vec<_>>(),
        vec![(
            1,
            Msg::Failover(FoMsg::Vote {
                term: 1,
                granted: false,
                pre: true,
            })
        )]
    );
}

/// Everything persisted in `out` reaches `disk` (the test syncs at once).
fn persist_all(disk: &mut Disk, out: &Out) {
    use crate::replica::Durable;
    for a in &out.actions {
        if let Action::Persist(op) = a {
            disk.apply(op.clone());
        }
    }
}

/// Issue 21, 3.2: a region that learned a fence, crashed, and was elected before hearing
/// any primary used to publish a history without that fence (fences lived only in memory),
/// so the cut-off writes of the old stream were applied again when they arrived. The fence
/// now survives the restart: the new primary's heartbeat carries it, and an entry behind it
/// is fenced, not applied.
#[test]
fn a_fence_survives_a_restart_and_an_election_before_any_primary_is_heard() {
    let mut disk = Disk::default();
    let mut r1 = Replicator::recover(&cfg(1), &disk);
    let mut out = Outbox::default();
    r1.on_start(at(0), &mut out);
    persist_all(&mut disk, &out);
    // r2 leads term 2 and cut r0's stream before its first entry.
    let r0_cut = Fence {
        origin: RegionId(0),
        epoch: 1,
        from: 1,
        to: None,
    };
    let hb = Heartbeat {
        term: 2,
        leader: Some(RegionId(2)),
        pos: (2, 0),
        fences: Arc::new(vec![r0_cut]),
        ..test_heartbeat(100, None)
    };
    let mut out = Outbox::default();
    r1.on_message(
        at(100),
        RegionId(2),
        Msg::Failover(FoMsg::Heartbeat(hb)),
        &mut out,
    );
    persist_all(&mut disk, &out);

    // Crash and restart; an operator promotes r1 and r2 votes for it.
    let mut r1 = Replicator::recover(&cfg(1), &disk);
    let mut out = Outbox::default();
    r1.on_start(at(5000), &mut out);
    let mut out = Outbox::default();
    r1.fo_promote(at(5000), &mut out);
    let mut out = Outbox::default();
    let vote = Msg::Failover(FoMsg::Vote {
        term: 3,
        granted: true,
        pre: false,
    });
    r1.on_message(at(5040), RegionId(2), vote, &mut out);
    assert_eq!(
        notes(&out),
        vec![Note::BecameLeader {
            term: 3,
            prev: Some((RegionId(2), 1, 0))
        }]
    );
    let r2_cut = Fence {
        origin: RegionId(2),
        epoch: 1,
        from: 1,
        to: None,
    };
    match sends(&out).first() {
        Some((_, Msg::Failover(FoMsg::Heartbeat(h)))) => {
            assert_eq!(h.fences.as_ref(), &vec![r0_cut, r2_cut])
        }
        m => panic!("{m:?}"),
    }

    // r0's cut-off write arrives late: acknowledged on the link, never applied.
    let entry = Entry::new(
        EntryId {
            origin: RegionId(0),
            epoch: 1,
            seq: 1,
        },
        Key(7),
        Cell {
            stamp: Stamp::new(crate::time::Wall(50_000_000), RegionId(0), 1, 1),
            value: OpId(70),
        },
        10,
    );
    let late = Msg::Link(LinkMsg::Replicate {
        epoch: 1,
        first: 1,
        floor: 1,
        entries: vec![entry],
        durable_own: (1, 1),
        lost_after: None,
        retransmit: true,
        wire: 100,
        term: 1,
    });
    let mut out = Outbox::default();
    r1.on_message(at(5100), RegionId(0), late, &mut out);
    assert_eq!(notes(&out), vec![Note::Fenced { op: OpId(70) }]);
    assert!(r1.cell(Key(7)).stamp.is_none());
}
