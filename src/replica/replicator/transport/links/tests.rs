//! The link transport alone: a `Links` driven by hand, its `Out` actions and state asserted
//! exactly (no replicator, no network).

use super::*;
use crate::replica::replicator::EntryId;
use crate::replica::{Action, Cell, Key, OpId, Stamp, TimerId};
use crate::time::Wall;

const MS: u64 = 1_000_000;

/// Region 0 of three, durable, rto 1 s initial, 200 ms min, 5 s max.
fn params(window: u64, max_batch: u64) -> LinkParams {
    LinkParams {
        me: RegionId(0),
        n: 3,
        window,
        max_batch,
        batch_delay: Span::ZERO,
        rto_initial: Span::from_secs(1),
        rto_min: Span::from_millis(200),
        rto_max: Span::from_secs(5),
        give_up_after: None,
        permille: vec![1000; 3],
        durable: true,
    }
}

fn links(p: LinkParams) -> Links {
    Links::new(p, &[], &[], false)
}

fn at(ms: u64) -> Mono {
    Mono(ms * MS)
}

fn hdr() -> Header {
    Header {
        epoch: 1,
        durable_own: (1, 0),
        lost_after: None,
        term: 0,
    }
}

fn entry(seq: u64) -> Entry {
    let id = EntryId {
        origin: RegionId(0),
        epoch: 1,
        seq,
    };
    let cell = Cell {
        stamp: Stamp::new(Wall(seq as i64), RegionId(0), 1, seq as u32),
        value: OpId(seq),
    };
    Entry::new(id, Key(seq), cell, 100)
}

/// Queues entries `1..=k` on the link to peer 1.
fn queue(l: &mut Links, k: u64) {
    let mut out = Out::default();
    for s in 1..=k {
        l.enqueue(1, entry(s), at(0), &mut out);
    }
    assert_eq!(
        out.actions.len(),
        k as usize,
        "one Append persisted per entry"
    );
}

/// The actions, abbreviated: `R(to, first, len, retransmit)` for a Replicate, `A(to, upto)` for
/// an ack, `T(id, ms)` for a timer, `P(op)` for a persisted link operation.
#[derive(Debug, PartialEq, Eq)]
enum A {
    R(u16, u64, usize, bool),
    Ack(u16, u32, u64),
    T(u32, u64),
    Trunc(u16, usize),
    Recv(u16, u32, u64),
    Note,
}

fn acts(out: &Out) -> Vec<A> {
    out.actions
        .iter()
        .map(|a| match a {
            Action::Send {
                to,
                msg:
                    Msg::Link(LinkMsg::Replicate {
                        first,
                        entries,
                        retransmit,
                        ..
                    }),
            } => A::R(to.0, *first, entries.len(), *retransmit),
            Action::Send {
                to,
                msg: Msg::Link(LinkMsg::Ack { epoch, upto }),
            } => A::Ack(to.0, *epoch, *upto),
            Action::SetTimer {
                id: TimerId(id),
                at,
            } => A::T(*id, at.0 / MS),
            Action::Persist(Op::TruncateFront(r, k)) => A::Trunc(r.0, *k),
            Action::Persist(Op::Recv(r, e, p)) => A::Recv(r.0, *e, *p),
            Action::Note(_) => A::Note,
            other => panic!("unexpected action {other:?}"),
        })
        .collect()
}

// Timer ids with three regions: Retransmit(p) = p, Batch(p) = 5 + p.
const RETX_1: u32 = 1;
const BATCH_1: u32 = 6;

#[test]
fn window_limits_what_is_in_flight() {
    let mut l = links(params(4, 2));
    queue(&mut l, 10);
    let mut out = Out::default();
    l.transmit(1, at(0), hdr(), &mut out, true);
    // Positions 1..=4 fill the window of 4: two batches of 2, then the retransmission timer.
    assert_eq!(
        acts(&out),
        vec![
            A::R(1, 1, 2, false),
            A::R(1, 3, 2, false),
            A::T(RETX_1, 1000)
        ]
    );
    let mut out = Out::default();
    l.transmit(1, at(1), hdr(), &mut out, true);
    assert_eq!(
        acts(&out),
        vec![],
        "window full, timer running: nothing to do"
    );
    assert!(l.outstanding(1));
}

#[test]
fn cumulative_ack_moves_the_window_and_truncates() {
    let mut l = links(params(4, 2));
    queue(&mut l, 10);
    l.transmit(1, at(0), hdr(), &mut Out::default(), true);
    let mut out = Out::default();
    l.on_ack(1, 1, 2, at(100), hdr(), &mut out);
    // Acked 1..=2: they leave the queue (and the disk); the RTT sample of 100 ms gives an RTO
    // of 100 + max(4 * 50, 1) = 300 ms, due before the armed 1 s, so the timer moves to 400 ms;
    // the window (3..=6) lets positions 5..=6 go.
    assert_eq!(
        acts(&out),
        vec![A::Trunc(1, 2), A::T(RETX_1, 400), A::R(1, 5, 2, false)]
    );
    assert_eq!(l.out[1].base, 3);
    assert_eq!(l.out[1].queue.len(), 8);
    // An ack for another epoch than this incarnation's is ignored.
    let mut out = Out::default();
    l.on_ack(1, 2, 6, at(150), hdr(), &mut out);
    assert_eq!(acts(&out), vec![]);
    assert_eq!(l.out[1].acked, 2);
}

#[test]
fn rto_follows_rfc_6298_smoothing() {
    let mut l = links(params(4, 2));
    queue(&mut l, 10);
    l.transmit(1, at(0), hdr(), &mut Out::default(), true); // times position 2, sent at 0
    l.on_ack(1, 1, 2, at(100), hdr(), &mut Out::default()); // first sample: 100 ms
    let o = &l.out[1];
    assert_eq!(o.srtt, Some(Span(100 * MS)));
    assert_eq!(o.rttvar, Span(50 * MS));
    assert_eq!(o.rto, Span(300 * MS));
    // Positions 5..=6 went at 100 ms (timed: 6); acked at 280 ms, a sample of 180 ms:
    // rttvar = (3 * 50 + |100 - 180|) / 4 = 57.5, srtt = (7 * 100 + 180) / 8 = 110,
    // rto = 110 + 4 * 57.5 = 340 ms.
    l.on_ack(1, 1, 6, at(280), hdr(), &mut Out::default());
    let o = &l.out[1];
    assert_eq!(o.srtt, Some(Span(110 * MS)));
    assert_eq!(o.rttvar, Span(57_500_000));
    assert_eq!(o.rto, Span(340 * MS));
    // Karn: an ack covering only retransmitted positions takes no sample, and the RTO never
    // drops below the minimum: a 1 ms sample gives 200 ms, not 1 + 4 * rttvar' below it.
    let mut m = links(params(4, 2));
    queue(&mut m, 2);
    m.transmit(1, at(0), hdr(), &mut Out::default(), true);
    m.on_ack(1, 1, 2, at(1), hdr(), &mut Out::default());
    assert_eq!(
        m.out[1].rto,
        Span(200 * MS),
        "1 + max(4 * 0.5, 1) ms, clamped up to min"
    );
}

#[test]
fn back_off_doubles_up_to_the_maximum() {
    let mut l = links(params(4, 2));
    queue(&mut l, 1);
    l.transmit(1, at(0), hdr(), &mut Out::default(), true);
    let mut now = 0;
    let mut rtos = Vec::new();
    let mut unreachable = Vec::new();
    for _ in 0..4 {
        now += l.out[1].rto.0 / MS;
        let t = l.on_retransmit_timer(1, at(now), hdr(), |_| 0, &mut Out::default());
        rtos.push(l.out[1].rto.0 / MS);
        unreachable.push(t.unreachable);
    }
    assert_eq!(rtos, vec![2000, 4000, 5000, 5000]);
    assert_eq!(
        unreachable,
        vec![false, true, true, true],
        "two timeouts in a row"
    );
    // An ack resets the count (and, with a sample, the RTO).
    l.on_ack(1, 1, 1, at(now + 1), hdr(), &mut Out::default());
    assert_eq!(l.out[1].timeouts, 0);
    assert!(!l.outstanding(1));
}

#[test]
fn timeout_goes_back_n() {
    let mut l = links(params(4, 2));
    queue(&mut l, 10);
    l.transmit(1, at(0), hdr(), &mut Out::default(), true);
    // Acked 1 (no RTT sample: the timed send ends at 2); 2..=5 now in flight.
    l.on_ack(1, 1, 1, at(50), hdr(), &mut Out::default());
    assert_eq!(l.out[1].next, 6);
    let deadline = l.out[1].deadline.expect("armed").0 / MS;
    assert_eq!(
        deadline, 1050,
        "the ack moved the deadline to 50 ms + rto 1 s"
    );
    // The host timer, set for 1 s, fires early: it is only re-armed.
    let mut out = Out::default();
    let t = l.on_retransmit_timer(1, at(1000), hdr(), |_| 0, &mut out);
    assert_eq!(acts(&out), vec![A::T(RETX_1, 1050)]);
    assert_eq!(t, Timeout::default());
    // On time: resend everything unacknowledged from position 2, as retransmissions, within
    // the window, and re-arm with the doubled RTO (2 s).
    let mut out = Out::default();
    let t = l.on_retransmit_timer(1, at(1050), hdr(), |_| 0, &mut out);
    assert_eq!(
        acts(&out),
        vec![A::R(1, 2, 2, true), A::R(1, 4, 2, true), A::T(RETX_1, 3050)]
    );
    assert_eq!(t, Timeout::default());
}

#[test]
fn a_partial_batch_waits_for_batch_delay() {
    let mut p = params(64, 4);
    p.batch_delay = Span::from_millis(10);
    let mut l = links(p);
    queue(&mut l, 2);
    let mut out = Out::default();
    l.transmit(1, at(0), hdr(), &mut out, false);
    l.transmit(1, at(3), hdr(), &mut out, false);
    assert_eq!(
        acts(&out),
        vec![A::T(BATCH_1, 10)],
        "armed once, nothing sent"
    );
    let mut out = Out::default();
    l.on_batch_timer(1, at(10), hdr(), &mut out);
    assert_eq!(acts(&out), vec![A::R(1, 1, 2, false), A::T(RETX_1, 1010)]);
    // A full batch does not wait.
    queue(&mut l, 4);
    let mut out = Out::default();
    l.on_ack(1, 1, 2, at(20), hdr(), &mut out);
    // (the RTO, re-armed on the ack, is 200 ms: a 10 ms sample clamped up to the minimum)
    assert_eq!(
        acts(&out),
        vec![A::Trunc(1, 2), A::T(RETX_1, 220), A::R(1, 3, 4, false)]
    );
}

/// Receives `entries` entries at `first` from peer 0 on a `Links` of region 1: how many were
/// fresh, and what `receive` said.
fn deliver(
    l: &mut Links,
    epoch: u32,
    first: u64,
    floor: u64,
    entries: u64,
    out: &mut Out,
) -> Option<(Vec<bool>, Received)> {
    let mut rx = l.receive(RegionId(0), epoch, first, floor, out)?;
    let fresh = (0..entries).map(|_| l.fresh(&mut rx)).collect();
    Some((fresh, rx))
}

fn receiver() -> Links {
    let mut p = params(64, 16);
    p.me = RegionId(1);
    links(p)
}

#[test]
fn a_duplicated_replicate_is_deduplicated() {
    let mut l = receiver();
    let mut out = Out::default();
    let (fresh, rx) = deliver(&mut l, 1, 1, 1, 3, &mut out).expect("current epoch");
    assert_eq!(fresh, vec![true, true, true]);
    assert!(rx.new_epoch && rx.advanced);
    l.persist_recv(RegionId(0), &mut out);
    l.ack(RegionId(0), &mut out);
    assert_eq!(
        acts(&out),
        vec![A::Recv(0, 1, 0), A::Recv(0, 1, 3), A::Ack(0, 1, 3)]
    );
    // The same message again: nothing fresh, nothing advanced.
    let mut out = Out::default();
    let (fresh, rx) = deliver(&mut l, 1, 1, 1, 3, &mut out).expect("current epoch");
    assert_eq!(fresh, vec![false, false, false]);
    assert!(!rx.new_epoch && !rx.advanced);
    assert_eq!(acts(&out), vec![]);
    // Overlapping a go-back-N resend: only position 4 is new.
    let (fresh, rx) = deliver(&mut l, 1, 2, 1, 3, &mut out).expect("current epoch");
    assert_eq!(fresh, vec![false, false, true]);
    assert!(rx.advanced);
    // Out of order: position 6 is new but the contiguous prefix (4) does not move.
    let (fresh, rx) = deliver(&mut l, 1, 6, 1, 1, &mut out).expect("current epoch");
    assert_eq!(fresh, vec![true]);
    assert!(!rx.advanced);
    // A floor above the prefix: the sender gave up on 5, so the prefix jumps past it.
    let (fresh, rx) = deliver(&mut l, 1, 7, 6, 0, &mut out).expect("current epoch");
    assert!(fresh.is_empty() && rx.advanced);
    l.owe_ack(RegionId(0));
    let mut out = Out::default();
    l.send_owed_acks(&mut out);
    l.send_owed_acks(&mut out);
    assert_eq!(acts(&out), vec![A::Ack(0, 1, 6)], "owed once, sent once");
}

#[test]
fn a_stale_epoch_is_ignored_and_a_new_one_starts_over() {
    let mut l = receiver();
    let mut out = Out::default();
    deliver(&mut l, 2, 1, 1, 2, &mut out).expect("first epoch heard");
    let mut out = Out::default();
    assert!(
        deliver(&mut l, 1, 3, 1, 2, &mut out).is_none(),
        "from before the restart"
    );
    assert_eq!(acts(&out), vec![]);
    // A newer epoch numbers positions afresh: position 1 is new again.
    let (fresh, rx) = deliver(&mut l, 3, 1, 1, 1, &mut out).expect("newer epoch");
    assert_eq!(fresh, vec![true]);
    assert!(rx.new_epoch);
    assert_eq!(acts(&out), vec![A::Recv(0, 3, 0)]);
}

#[test]
fn giving_up_reports_who_missed_the_entries() {
    let mut p = params(64, 16);
    p.give_up_after = Some(Span::from_secs(2));
    let mut l = links(p);
    queue(&mut l, 3); // queued at 0
    l.transmit(1, at(0), hdr(), &mut Out::default(), true);
    // At the first timeout (1 s) nothing is old enough to give up: back off and resend.
    let t = l.on_retransmit_timer(1, at(1000), hdr(), |_| 0b110, &mut Out::default());
    assert_eq!(t, Timeout::default());
    // At 3 s all three are 2 s old: given up, the peer and whoever it relays to miss them.
    let mut out = Out::default();
    let t = l.on_retransmit_timer(1, at(3000), hdr(), |_| 0b110, &mut out);
    assert_eq!(
        t,
        Timeout {
            missed: 0b110,
            unreachable: false
        }
    );
    assert_eq!(
        acts(&out),
        vec![A::Trunc(1, 3), A::Note, A::R(1, 4, 0, false)]
    );
    assert!(!l.outstanding(1));
}
