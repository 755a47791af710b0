//! The replicator's timers, typed: every timer a component sets is a [`Timer`] variant, and
//! this file alone maps them to and from the host's numeric [`TimerId`].
//!
//! The numbering is part of the observable run: the engine's trace digest folds in every timer
//! id it fires, so the layout below is the one the replicator has always used and must not
//! change (per-peer timers first, then one id per singleton timer):
//!
//! | id (n regions)    | timer                                  |
//! |-------------------|----------------------------------------|
//! | `0 .. n`          | `Retransmit(peer)`                     |
//! | `n`               | `Flush`                                |
//! | `n + 1`           | `Request`                              |
//! | `n + 2 .. 2n + 2` | `Batch(peer)`                          |
//! | `2n + 2`          | `AntiEntropy`                          |
//! | `2n + 3`          | `Heartbeat`                            |
//! | `2n + 4`          | `Detect`                               |
//! | `2n + 5`          | `Elect`                                |
//! | `2n + 6`          | `Restore`                              |
//! | `2n + 7`          | `Operator`                             |
//! | `2n + 8`          | `Gap`                                  |

use crate::replica::TimerId;

/// A timer of the replicator, by what it is for.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Timer {
    /// Transport: the oldest unacknowledged send on the link to this peer times out.
    Retransmit(usize),
    /// Group commit: fsync what was written since the last flush.
    Flush,
    /// The earliest client-request deadline (commit, forwarded write or read).
    Request,
    /// Transport: a partial batch to this peer has waited `batch_delay`.
    Batch(usize),
    /// Anti-entropy: start the next session.
    AntiEntropy,
    /// Failover: send heartbeats.
    Heartbeat,
    /// Failover: check the failure detectors.
    Detect,
    /// Failover: an election (or pre-vote) round timed out, or a staggered candidacy is due.
    Elect,
    /// Restore: re-ask the peers that still owe a state transfer answer.
    Restore,
    /// Manual conflicts: the operator resolves the oldest parked conflict.
    Operator,
    /// A delta's causal gap outlived its timeout: fetch the whole value.
    Gap,
}

impl Timer {
    /// The host timer id of this timer in a plan of `n` regions.
    #[inline]
    pub fn id(self, n: usize) -> TimerId {
        let n = n as u32;
        TimerId(match self {
            Timer::Retransmit(p) => p as u32,
            Timer::Flush => n,
            Timer::Request => n + 1,
            Timer::Batch(p) => n + 2 + p as u32,
            Timer::AntiEntropy => 2 * n + 2,
            Timer::Heartbeat => 2 * n + 3,
            Timer::Detect => 2 * n + 4,
            Timer::Elect => 2 * n + 5,
            Timer::Restore => 2 * n + 6,
            Timer::Operator => 2 * n + 7,
            Timer::Gap => 2 * n + 8,
        })
    }

    /// The timer a host timer id names in a plan of `n` regions (`None`: not one of ours).
    #[inline]
    pub fn from_id(id: TimerId, n: usize) -> Option<Timer> {
        let (id, n) = (id.0, n as u32);
        Some(if id < n {
            Timer::Retransmit(id as usize)
        } else if id < n + 2 {
            if id == n {
                Timer::Flush
            } else {
                Timer::Request
            }
        } else if id < 2 * n + 2 {
            Timer::Batch((id - n - 2) as usize)
        } else {
            match id - (2 * n + 2) {
                0 => Timer::AntiEntropy,
                1 => Timer::Heartbeat,
                2 => Timer::Detect,
                3 => Timer::Elect,
                4 => Timer::Restore,
                5 => Timer::Operator,
                6 => Timer::Gap,
                _ => return None,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_the_historic_layout_and_round_trip() {
        let n = 3;
        let all = [
            (Timer::Retransmit(0), 0),
            (Timer::Retransmit(2), 2),
            (Timer::Flush, 3),
            (Timer::Request, 4),
            (Timer::Batch(0), 5),
            (Timer::Batch(2), 7),
            (Timer::AntiEntropy, 8),
            (Timer::Heartbeat, 9),
            (Timer::Detect, 10),
            (Timer::Elect, 11),
            (Timer::Restore, 12),
            (Timer::Operator, 13),
            (Timer::Gap, 14),
        ];
        for (t, id) in all {
            assert_eq!(t.id(n), TimerId(id), "{t:?}");
            assert_eq!(Timer::from_id(TimerId(id), n), Some(t));
        }
        assert_eq!(Timer::from_id(TimerId(15), n), None);
    }
}
