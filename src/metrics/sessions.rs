//! Client sessions and the guarantees they were given (Terry et al., 1994): which write and
//! read each session saw last, and the violations of read-your-writes, monotonic reads,
//! monotonic writes and writes-follow-reads.

use super::*;

/// A session write's links, kept beside the write log (only when sessions are tracked): the
/// session, its previous acknowledged write, and its latest read when this write was issued.
#[derive(Copy, Clone, Debug)]
pub(super) struct SessionLink {
    pub(super) session: u32,
    pub(super) prev_write: u32,
    pub(super) after_read: Option<(u32, Stamp)>,
}

/// Client sessions and the guarantees they were given (Terry et al., 1994).
#[derive(Default)]
pub struct Sessions {
    /// Sessions per region (0: not tracked). A region's operations take its sessions in turn.
    pub per_region: u32,
    pub(super) ops: Vec<u64>,
    /// Per write (by index, only when sessions are tracked): its session links.
    pub(super) links: Vec<SessionLink>,
    /// Per (session, key): the session's newest acknowledged write, and the newest stamp it
    /// read.
    pub(super) wrote: std::collections::BTreeMap<(u32, u32), u32>,
    pub(super) read: std::collections::BTreeMap<(u32, u32), Stamp>,
    /// Per session: its newest acknowledged write and its newest read (key, stamp).
    pub(super) last_write: std::collections::BTreeMap<u32, u32>,
    pub(super) last_read: std::collections::BTreeMap<u32, (u32, Stamp)>,
    pub violations: SessionViolations,
}

impl Sessions {
    /// Whether sessions are tracked (then every operation belongs to one).
    #[inline]
    pub(super) fn tracked(&self) -> bool {
        self.per_region != 0
    }
}

/// Violations per session guarantee, with the first of each described.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct SessionViolations {
    pub sessions: u64,
    /// A read missed a write its own session had acknowledged.
    pub read_your_writes: u64,
    /// A read returned an older value of a key than the session had already read.
    pub monotonic_reads: u64,
    /// A region applied a session's write before that session's previous write.
    pub monotonic_writes: u64,
    /// A region applied a session's write before the write that session had read first.
    pub writes_follow_reads: u64,
    pub examples: Vec<String>,
}

impl Observer {
    pub(super) fn violation(&mut self, what: String) {
        let v = &mut self.sessions.violations;
        if v.examples.len() < 4 {
            v.examples.push(what);
        }
    }

    /// A session read of `ri.key` at region `r` returned stamp `got`: it must reflect the
    /// session's own acknowledged write (read your writes) and be no older than what the
    /// session read before (monotonic reads).
    pub(super) fn session_read(&mut self, r: RegionId, ri: ReadIssue, got: Stamp, now: SimTime) {
        let (s, k) = (ri.session, ri.key.0 as u32);
        if let Some(&w) = self.sessions.wrote.get(&(s, k)) {
            let rec = &self.writes[w as usize];
            let missing = if self.merges(k as usize) {
                rec.covered & (1u64 << r.0) == 0
            } else {
                got < rec.stamp
            };
            if missing {
                self.sessions.violations.read_your_writes += 1;
                self.violation(format!(
                    "read your writes: session {s} read key {k} at region {} at {:.3}ms without its own write {w}",
                    r.0,
                    ns_to_ms(now.0)
                ));
            }
        }
        let prev = self.sessions.read.get(&(s, k)).copied();
        if prev.is_some_and(|p| got < p) && !self.merges(k as usize) {
            self.sessions.violations.monotonic_reads += 1;
            self.violation(format!(
                "monotonic reads: session {s} read key {k} at region {} at {:.3}ms and got an older value than it had read before",
                r.0,
                ns_to_ms(now.0)
            ));
        }
        let newest = prev.map_or(got, |p| p.max(got));
        self.sessions.read.insert((s, k), newest);
        self.sessions.last_read.insert(s, (k, got));
    }

    /// A region is applying session write `w`: it must already hold the session's
    /// previous write (monotonic writes) and what the session had read before issuing `w`
    /// (writes follow reads).
    pub(super) fn session_order(&mut self, w: u32, r: RegionId, now: SimTime) {
        let bit = 1u64 << r.0;
        let SessionLink {
            session,
            prev_write: prev,
            after_read: after,
        } = self.sessions.links[w as usize];
        if prev != NO_SESSION && self.writes[prev as usize].covered & bit == 0 {
            self.sessions.violations.monotonic_writes += 1;
            self.violation(format!(
                "monotonic writes: region {} applied write {w} of session {session} at {:.3}ms before the session's previous write {prev}",
                r.0,
                ns_to_ms(now.0)
            ));
        }
        if let Some((k, stamp)) = after {
            let have = self.mirror[k as usize * self.n + r.idx()];
            if !self.merges(k as usize) && have < stamp {
                self.sessions.violations.writes_follow_reads += 1;
                self.violation(format!(
                    "writes follow reads: region {} applied write {w} of session {session} at {:.3}ms without the value of key {k} the session had read ({stamp})",
                    r.0,
                    ns_to_ms(now.0)
                ));
            }
        }
    }
}
