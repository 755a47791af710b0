//! The trace: a digest folded over the ordered stream of processed events, and an optional
//! JSON-lines copy of that stream for people and tools.
//!
//! The digest is the run's fingerprint: same scenario, seed and build give the same digest; any
//! change in what happened, or when, changes it.

use super::network::DropReason;
use crate::replica::{mix64, Key, OpId, RegionId, Reply, TimerId, WireMessage};
use crate::time::SimTime;
use std::io::Write;

pub struct Trace {
    h: u64,
    names: Vec<String>,
    out: Option<Box<dyn Write>>,
    error: Option<std::io::Error>,
}

impl Trace {
    /// A digest-only trace.
    pub fn digest_only() -> Trace {
        Trace {
            h: 0x5eed_cafe_f00d_d00d,
            names: Vec::new(),
            out: None,
            error: None,
        }
    }

    /// A trace that also writes one JSON object per event to `out`.
    pub fn with_writer(region_names: &[String], out: Box<dyn Write>) -> Trace {
        Trace {
            names: region_names
                .iter()
                .map(|n| serde_json::to_string(n).expect("strings serialise"))
                .collect(),
            out: Some(out),
            ..Trace::digest_only()
        }
    }

    #[inline]
    fn fold(&mut self, t: SimTime, code: u64, a: u64, b: u64) {
        self.h = mix64(self.h.rotate_left(23) ^ t.0 ^ (code << 58) ^ mix64(a ^ b.rotate_left(29)));
    }

    fn line(&mut self, f: impl FnOnce(&[String], &mut dyn Write) -> std::io::Result<()>) {
        if let Some(out) = self.out.as_mut() {
            if self.error.is_none() {
                if let Err(e) = f(&self.names, out) {
                    self.error = Some(e);
                }
            }
        }
    }

    #[inline]
    pub fn client(&mut self, t: SimTime, r: RegionId, op: OpId, key: Key, write: bool) {
        self.fold(t, 1, (r.0 as u64) << 48 ^ op.0, key.0 ^ write as u64);
        if self.out.is_some() {
            self.line(|n, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"client","region":{},"op":"{}","id":{},"key":{}}}"#,
                    t.0,
                    n[r.idx()],
                    if write { "write" } else { "read" },
                    op.0 & !OpId::READ_BIT,
                    key.0
                )
            });
        }
    }

    #[inline]
    pub fn deliver<M: WireMessage>(&mut self, t: SimTime, from: RegionId, to: RegionId, msg: &M) {
        self.fold(t, 2, (from.0 as u64) << 16 | to.0 as u64, msg.fingerprint());
        if self.out.is_some() {
            let (kind, bytes) = (msg.kind(), msg.wire_bytes());
            self.line(|n, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"deliver","from":{},"to":{},"msg":"{}","bytes":{}}}"#,
                    t.0,
                    n[from.idx()],
                    n[to.idx()],
                    kind,
                    bytes
                )
            });
        }
    }

    pub fn drop(&mut self, t: SimTime, from: RegionId, to: RegionId, why: DropReason) {
        self.fold(t, 3, (from.0 as u64) << 16 | to.0 as u64, why as u64);
        if self.out.is_some() {
            self.line(|n, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"drop","from":{},"to":{},"reason":"{}"}}"#,
                    t.0,
                    n[from.idx()],
                    n[to.idx()],
                    format!("{why:?}").to_lowercase()
                )
            });
        }
    }

    #[inline]
    pub fn timer(&mut self, t: SimTime, r: RegionId, id: TimerId) {
        self.fold(t, 4, r.0 as u64, id.0 as u64);
        if self.out.is_some() {
            self.line(|n, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"timer","region":{},"timer":{}}}"#,
                    t.0,
                    n[r.idx()],
                    id.0
                )
            });
        }
    }

    /// A clock synchronisation poll: the correction applied (stepped or slewed in).
    pub fn clock(&mut self, t: SimTime, r: RegionId, correction_ns: i64, stepped: bool) {
        self.fold(
            t,
            7,
            r.0 as u64 | (stepped as u64) << 32,
            correction_ns as u64,
        );
        if self.out.is_some() {
            self.line(|n, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"{}","region":{},"correction_ns":{}}}"#,
                    t.0,
                    if stepped { "clock_step" } else { "clock_slew" },
                    n[r.idx()],
                    correction_ns
                )
            });
        }
    }

    pub fn fault(&mut self, t: SimTime, index: u32) {
        self.fold(t, 5, index as u64, 0);
        if self.out.is_some() {
            let (i, end) = (index & 0x7fff_ffff, index & 0x8000_0000 != 0);
            self.line(|_, w| {
                writeln!(
                    w,
                    r#"{{"t_ns":{},"ev":"{}","fault":{}}}"#,
                    t.0,
                    if end { "fault_end" } else { "fault" },
                    i
                )
            });
        }
    }

    /// A client reply (JSON lines only: replies follow from the inputs the digest already covers).
    pub fn reply(&mut self, t: SimTime, r: RegionId, reply: &Reply) {
        if self.out.is_none() {
            return;
        }
        let text = match reply {
            Reply::WriteOk { op, stamp } => format!(
                r#""op":"write","id":{},"ok":true,"stamp_wall_ns":{}"#,
                op.0, stamp.wall.0
            ),
            Reply::ReadOk { op, cell, .. } => format!(
                r#""op":"read","id":{},"ok":true,"value":{},"stamp_wall_ns":{}"#,
                op.0 & !OpId::READ_BIT,
                cell.map_or("null".to_string(), |c| c.value.0.to_string()),
                cell.map_or("null".to_string(), |c| c.stamp.wall.0.to_string())
            ),
            Reply::Failed { op } => format!(
                r#""op":"{}","id":{},"ok":false"#,
                if op.is_read() { "read" } else { "write" },
                op.0 & !OpId::READ_BIT
            ),
        };
        self.line(|n, w| {
            writeln!(
                w,
                r#"{{"t_ns":{},"ev":"reply","region":{},{text}}}"#,
                t.0,
                n[r.idx()]
            )
        });
    }

    /// The final digest, and the first error writing the JSON-lines copy (if any).
    pub fn finish(mut self) -> (u64, Option<std::io::Error>) {
        if let Some(out) = self.out.as_mut() {
            if let Err(e) = out.flush() {
                self.error.get_or_insert(e);
            }
        }
        (self.h, self.error)
    }
}

pub fn digest_hex(d: u64) -> String {
    format!("{d:016x}")
}
