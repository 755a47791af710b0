//! Time types: true simulated time, spans, and the node-local clock readings replicas see.
//!
//! Everything is integer nanoseconds. Floats never carry time inside a run because their
//! rounding would make results depend on evaluation order; `Instant` never appears because a
//! simulation must not read the host clock.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::ops::{Add, AddAssign, Sub};
use std::str::FromStr;

/// Nanoseconds per microsecond.
pub const NS_PER_US: u64 = 1_000;
/// Nanoseconds per millisecond.
pub const NS_PER_MS: u64 = 1_000_000;
/// Nanoseconds per second.
pub const NS_PER_S: u64 = 1_000_000_000;

/// True (global) simulated time since the start of a run. Only the engine sees it.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

/// A non-negative length of time.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

/// A signed length of time (clock offsets and steps can go backwards).
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SignedSpan(pub i64);

/// A node's monotonic clock reading: never steps, but runs at the node's drifted rate.
/// Replicas use it for timers, like `CLOCK_MONOTONIC`.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mono(pub u64);

/// A node's wall-clock reading: offset, drifting and stepped, like `CLOCK_REALTIME`.
/// Replicas use it for last-writer-wins stamps; it may go backwards.
#[derive(
    Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Wall(pub i64);

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any event: "never".
    pub const MAX: SimTime = SimTime(u64::MAX);
    /// Nanoseconds since the start of the run.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// Milliseconds since the start of the run, as reports print them.
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    /// How long after `earlier` this is (zero if it is not after it).
    pub fn saturating_since(self, earlier: SimTime) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }
}

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);
    /// A span of `ns` nanoseconds.
    pub const fn from_nanos(ns: u64) -> Span {
        Span(ns)
    }
    /// A span of `us` microseconds.
    pub const fn from_micros(us: u64) -> Span {
        Span(us * NS_PER_US)
    }
    /// A span of `ms` milliseconds.
    pub const fn from_millis(ms: u64) -> Span {
        Span(ms * NS_PER_MS)
    }
    /// A span of `s` seconds.
    pub const fn from_secs(s: u64) -> Span {
        Span(s * NS_PER_S)
    }
    /// Its length in nanoseconds.
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// Its length in milliseconds.
    pub fn as_ms_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS as f64
    }
    /// Its length in seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S as f64
    }
    /// `k` times this span, saturating at the longest span.
    pub fn saturating_mul(self, k: u64) -> Span {
        Span(self.0.saturating_mul(k))
    }
}

impl Add<Span> for SimTime {
    type Output = SimTime;
    fn add(self, rhs: Span) -> SimTime {
        SimTime(self.0.saturating_add(rhs.0))
    }
}
impl AddAssign<Span> for SimTime {
    fn add_assign(&mut self, rhs: Span) {
        self.0 = self.0.saturating_add(rhs.0);
    }
}
impl Sub<SimTime> for SimTime {
    type Output = Span;
    fn sub(self, rhs: SimTime) -> Span {
        Span(self.0.saturating_sub(rhs.0))
    }
}
impl Add for Span {
    type Output = Span;
    fn add(self, rhs: Span) -> Span {
        Span(self.0.saturating_add(rhs.0))
    }
}
impl Add<Span> for Mono {
    type Output = Mono;
    fn add(self, rhs: Span) -> Mono {
        Mono(self.0.saturating_add(rhs.0))
    }
}
impl Sub<Mono> for Mono {
    type Output = Span;
    fn sub(self, rhs: Mono) -> Span {
        Span(self.0.saturating_sub(rhs.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&Span(self.0), f)
    }
}

impl fmt::Display for Span {
    /// Shortest exact rendering in the largest unit that divides evenly, so values print
    /// back the way users wrote them (`40ms`, `2s`, `250us`, `1500ms`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ns = self.0;
        if ns == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in [
            ("h", 3600 * NS_PER_S),
            ("min", 60 * NS_PER_S),
            ("s", NS_PER_S),
            ("ms", NS_PER_MS),
            ("us", NS_PER_US),
        ] {
            if ns.is_multiple_of(scale) {
                return write!(f, "{}{}", ns / scale, unit);
            }
        }
        write!(f, "{ns}ns")
    }
}

impl fmt::Display for SignedSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0 {
            write!(f, "-{}", Span(self.0.unsigned_abs()))
        } else {
            write!(f, "{}", Span(self.0 as u64))
        }
    }
}

/// Why a duration string was rejected; rendered into the scenario error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid duration `{input}`: {reason} (expected a number and a unit, e.g. `250us`, `40ms`, `1.5s`, `5min`)")]
pub struct DurationParseError {
    /// The text as written.
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// Parses `[-]<number>[.<fraction>]<unit>` exactly into signed nanoseconds.
/// Units: ns, us (or µs), ms, s, min (or m), h. A bare `0` is accepted.
pub fn parse_signed_nanos(input: &str) -> Result<i64, DurationParseError> {
    let err = |reason| DurationParseError {
        input: input.to_string(),
        reason,
    };
    let s = input.trim();
    let (neg, body) = match s.strip_prefix('-') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if body == "0" {
        return Ok(0);
    }
    let split = body
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| err("missing unit"))?;
    let (num, unit) = body.split_at(split);
    let unit = unit.trim();
    let scale: u64 = match unit {
        "ns" => 1,
        "us" | "µs" => NS_PER_US,
        "ms" => NS_PER_MS,
        "s" | "sec" => NS_PER_S,
        "m" | "min" => 60 * NS_PER_S,
        "h" => 3600 * NS_PER_S,
        _ => return Err(err("unknown unit (use ns, us, ms, s, min or h)")),
    };
    if num.is_empty() {
        return Err(err("missing number"));
    }
    let (int_part, frac_part) = match num.split_once('.') {
        Some((i, f)) => (i, f),
        None => (num, ""),
    };
    if frac_part.contains('.') || (int_part.is_empty() && frac_part.is_empty()) {
        return Err(err("malformed number"));
    }
    let int: u64 = if int_part.is_empty() {
        0
    } else {
        int_part.parse().map_err(|_| err("number too large"))?
    };
    let mut total = int
        .checked_mul(scale)
        .ok_or_else(|| err("number too large"))?;
    // Fractional digits are scaled exactly; digits beyond nanosecond precision are refused
    // rather than silently rounded.
    let mut place = scale;
    for c in frac_part.chars() {
        if !place.is_multiple_of(10) {
            return Err(err("more precision than one nanosecond"));
        }
        place /= 10;
        let d = c.to_digit(10).ok_or_else(|| err("malformed number"))? as u64;
        total = total
            .checked_add(d * place)
            .ok_or_else(|| err("number too large"))?;
    }
    let total = i64::try_from(total).map_err(|_| err("number too large"))?;
    Ok(if neg { -total } else { total })
}

impl FromStr for Span {
    type Err = DurationParseError;
    fn from_str(s: &str) -> Result<Span, DurationParseError> {
        let ns = parse_signed_nanos(s)?;
        if ns < 0 {
            return Err(DurationParseError {
                input: s.to_string(),
                reason: "must not be negative",
            });
        }
        Ok(Span(ns as u64))
    }
}

impl FromStr for SignedSpan {
    type Err = DurationParseError;
    fn from_str(s: &str) -> Result<SignedSpan, DurationParseError> {
        parse_signed_nanos(s).map(SignedSpan)
    }
}

struct DurationVisitor<T>(std::marker::PhantomData<T>);

impl<T: FromStr<Err = DurationParseError>> serde::de::Visitor<'_> for DurationVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a duration such as `40ms`, `2s` or `5min`")
    }
    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<T, E> {
        v.parse().map_err(E::custom)
    }
    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        // A bare number is ambiguous (seconds? ms?), so only 0 is accepted without a unit.
        if v == 0 {
            "0".parse().map_err(E::custom)
        } else {
            Err(E::custom(format!(
                "`{v}` has no unit; write e.g. `{v}ms` or `{v}s`"
            )))
        }
    }
    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        self.visit_u64(v.unsigned_abs()).and_then(|t| {
            if v < 0 {
                Err(E::custom(format!("`{v}` has no unit")))
            } else {
                Ok(t)
            }
        })
    }
    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<T, E> {
        Err(E::custom(format!(
            "`{v}` has no unit; write e.g. `{v}ms` or `{v}s`"
        )))
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Span, D::Error> {
        d.deserialize_any(DurationVisitor::<Span>(std::marker::PhantomData))
    }
}
impl<'de> Deserialize<'de> for SignedSpan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<SignedSpan, D::Error> {
        d.deserialize_any(DurationVisitor::<SignedSpan>(std::marker::PhantomData))
    }
}
impl Serialize for Span {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}
impl Serialize for SignedSpan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// NTP-like periodic correction of one region's wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClockSync {
    /// Time between polls.
    pub interval_ns: u64,
    /// How far off a poll's measurement of the error may be (uniform, ±).
    pub accuracy_ns: u64,
    /// Errors at least this large are stepped; smaller ones are slewed.
    pub step_threshold_ns: u64,
    /// The fastest a slew may correct, in parts per billion of elapsed time.
    pub max_slew_ppb: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_exactly() {
        assert_eq!("250us".parse::<Span>().unwrap(), Span(250_000));
        assert_eq!("40ms".parse::<Span>().unwrap(), Span(40_000_000));
        assert_eq!("2s".parse::<Span>().unwrap(), Span(2 * NS_PER_S));
        assert_eq!("5min".parse::<Span>().unwrap(), Span(300 * NS_PER_S));
        assert_eq!("1h".parse::<Span>().unwrap(), Span(3600 * NS_PER_S));
        assert_eq!("7ns".parse::<Span>().unwrap(), Span(7));
        assert_eq!("1.5s".parse::<Span>().unwrap(), Span(1_500_000_000));
        assert_eq!("0.001ms".parse::<Span>().unwrap(), Span(1_000));
        assert_eq!("0".parse::<Span>().unwrap(), Span(0));
        assert_eq!(
            "-2s".parse::<SignedSpan>().unwrap(),
            SignedSpan(-2_000_000_000)
        );
    }

    #[test]
    fn rejects_bad_durations_with_reasons() {
        for bad in ["", "40", "ms", "4x", "1.2.3s", "-1s", "1.0000000001s"] {
            assert!(bad.parse::<Span>().is_err(), "{bad:?} should be rejected");
        }
        let e = "40 parsecs".parse::<Span>().unwrap_err();
        assert!(e.to_string().contains("unknown unit"), "{e}");
    }

    #[test]
    fn display_round_trips() {
        for s in ["40ms", "2s", "5min", "250us", "1500ms", "3ns", "1h"] {
            let span: Span = s.parse().unwrap();
            assert_eq!(span.to_string(), s);
            assert_eq!(span.to_string().parse::<Span>().unwrap(), span);
        }
        assert_eq!(SignedSpan(-2_000_000_000).to_string(), "-2s");
    }
}
