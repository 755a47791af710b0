//! The event queue: pending events ordered by `(time, seq)`, where `seq` is the insertion count.
//!
//! The sequence number makes ties deterministic: two events at the same instant always pop in
//! the order they were scheduled, whatever the heap's internal layout.
//!
//! Events on a FIFO channel (a network link that never reorders) arrive already sorted, so they
//! wait in a per-channel queue and only each channel's head sits in the heap. The pop order is
//! exactly the same; the heap just stays small (links + clients + timers, not every message).

use crate::time::SimTime;
use std::collections::VecDeque;

/// `key` packs `(time, seq)` as `time << 64 | seq`, so ordering is one integer comparison.
struct Item<T> {
    key: u128,
    payload: Slot<T>,
}

enum Slot<T> {
    Direct(T),
    /// The head of FIFO channel `c`.
    Channel(u32),
}

/// A 4-ary min-heap on `key`: half the depth of a binary heap, and a node's children sit in
/// one or two cache lines.
struct QuadHeap<T> {
    v: Vec<Item<T>>,
}

impl<T> QuadHeap<T> {
    fn with_capacity(n: usize) -> Self {
        QuadHeap {
            v: Vec::with_capacity(n),
        }
    }

    #[inline]
    fn push(&mut self, item: Item<T>) {
        let key = item.key;
        self.v.push(item);
        let base = self.v.len() - 1;
        // Find where the new item belongs, then rotate it up that path (measured faster here
        // than a hole-based sift-up, as sift-ups are short).
        let mut i = base;
        while i > 0 {
            let parent = (i - 1) / 4;
            if self.v[parent].key <= key {
                break;
            }
            i = parent;
        }
        let mut child = base;
        while child != i {
            let parent = (child - 1) / 4;
            self.v.swap(parent, child);
            child = parent;
        }
    }

    #[inline]
    fn pop(&mut self) -> Option<Item<T>> {
        let mut top = self.v.pop()?;
        if self.v.is_empty() {
            return Some(top);
        }
        std::mem::swap(&mut top, &mut self.v[0]);
        let len = self.v.len();
        let ptr = self.v.as_mut_ptr();
        // SAFETY: the classic "hole" sift-down. The element at index 0 is read out, leaving a
        // logical hole; each step copies the smallest child into the hole and the hole moves
        // down; finally the element is written into the hole. Every index is < len, nothing
        // here can panic, so the vector is never observed (or dropped) with a hole in it.
        unsafe {
            let elem = std::ptr::read(ptr);
            let key = elem.key;
            let mut hole = 0;
            loop {
                let first = 4 * hole + 1;
                if first >= len {
                    break;
                }
                let end = (first + 4).min(len);
                let mut m = first;
                let mut mk = (*ptr.add(first)).key;
                for c in first + 1..end {
                    let ck = (*ptr.add(c)).key;
                    if ck < mk {
                        m = c;
                        mk = ck;
                    }
                }
                if mk >= key {
                    break;
                }
                std::ptr::copy_nonoverlapping(ptr.add(m), ptr.add(hole), 1);
                hole = m;
            }
            std::ptr::write(ptr.add(hole), elem);
        }
        Some(top)
    }

    fn peek(&self) -> Option<&Item<T>> {
        self.v.first()
    }
}

pub struct EventQueue<T> {
    heap: QuadHeap<T>,
    channels: Vec<VecDeque<(u128, T)>>,
    next_seq: u64,
    len: usize,
}

impl<T> Default for EventQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn key(time: SimTime, seq: u64) -> u128 {
    (time.0 as u128) << 64 | seq as u128
}

impl<T> EventQueue<T> {
    pub fn new() -> Self {
        EventQueue {
            heap: QuadHeap::with_capacity(1024),
            channels: Vec::new(),
            next_seq: 0,
            len: 0,
        }
    }

    /// Schedules `payload` at `time`; returns its sequence number.
    #[inline]
    pub fn push(&mut self, time: SimTime, payload: T) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.len += 1;
        self.heap.push(Item {
            key: key(time, seq),
            payload: Slot::Direct(payload),
        });
        seq
    }

    /// Schedules `payload` on FIFO channel `channel`. If `time` is earlier than the channel's
    /// last event (the caller broke FIFO), it is scheduled directly: order stays exact.
    #[inline]
    pub fn push_fifo(&mut self, channel: usize, time: SimTime, payload: T) -> u64 {
        if self.channels.len() <= channel {
            self.channels.resize_with(channel + 1, VecDeque::new);
        }
        let seq = self.next_seq;
        let k = key(time, seq);
        let q = &mut self.channels[channel];
        match q.back() {
            Some((last, _)) if (*last >> 64) > (k >> 64) => return self.push(time, payload),
            _ => {}
        }
        self.next_seq += 1;
        self.len += 1;
        if q.is_empty() {
            self.heap.push(Item {
                key: k,
                payload: Slot::Channel(channel as u32),
            });
        }
        q.push_back((k, payload));
        seq
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, u64, T)> {
        let item = self.heap.pop()?;
        self.len -= 1;
        let split = |k: u128| (SimTime((k >> 64) as u64), k as u64);
        match item.payload {
            Slot::Direct(p) => {
                let (t, s) = split(item.key);
                Some((t, s, p))
            }
            Slot::Channel(c) => {
                let q = &mut self.channels[c as usize];
                let (k, p) = q.pop_front().expect("a channel in the heap is non-empty");
                debug_assert_eq!(k, item.key);
                if let Some((next, _)) = q.front() {
                    self.heap.push(Item {
                        key: *next,
                        payload: Slot::Channel(c),
                    });
                }
                let (t, s) = split(k);
                Some((t, s, p))
            }
        }
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|i| SimTime((i.key >> 64) as u64))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ties_pop_in_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), "b1");
        q.push(SimTime(1), "a");
        q.push(SimTime(5), "b2");
        q.push(SimTime(5), "b3");
        let order: Vec<_> = std::iter::from_fn(|| q.pop().map(|(_, _, p)| p)).collect();
        assert_eq!(order, ["a", "b1", "b2", "b3"]);
    }

    proptest! {
        /// Mixed direct and channel pushes (including out-of-order ones on a channel) pop in
        /// exactly (time, seq) order.
        #[test]
        fn channels_pop_in_global_order(ops in proptest::collection::vec((0u64..60, 0usize..4, any::<bool>()), 0..300)) {
            let mut q = EventQueue::new();
            let mut expected = Vec::new();
            let mut now = 0;
            for (i, (dt, ch, direct)) in ops.iter().enumerate() {
                // Interleave pops to exercise channel heads moving while others push.
                if i % 7 == 6 {
                    if let Some((t, s, _)) = q.pop() {
                        now = t.0;
                        expected.retain(|e: &(u64, u64)| *e != (t.0, s));
                    }
                }
                let t = SimTime(now + dt);
                let s = if *direct { q.push(t, i) } else { q.push_fifo(*ch, t, i) };
                expected.push((t.0, s));
            }
            expected.sort();
            let got: Vec<(u64, u64)> = std::iter::from_fn(|| q.pop().map(|(t, s, _)| (t.0, s))).collect();
            prop_assert_eq!(got, expected);
            prop_assert!(q.is_empty());
        }

        #[test]
        fn pops_sorted_by_time_then_seq(times in proptest::collection::vec(0u64..50, 0..200)) {
            let mut q = EventQueue::new();
            for (i, t) in times.iter().enumerate() {
                q.push(SimTime(*t), i);
            }
            let mut expected: Vec<(u64, usize)> = times.iter().copied().zip(0..).collect();
            expected.sort();
            let got: Vec<(u64, usize)> =
                std::iter::from_fn(|| q.pop().map(|(t, _, p)| (t.0, p))).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
