//! Scenario files: the YAML contract users write (`*Spec` types) and the validated model the
//! engine runs (`Scenario`).
//!
//! Parsing rejects unknown keys and wrong types with serde's line/column; validation then
//! resolves names to ids and rejects impossible values, naming the file and the YAML path. A
//! `Scenario` that exists is runnable: the engine never re-checks it.

use crate::dist::{DistSpec, Sampler};
use crate::presets;
use crate::replica::data::{Policy, Shape, Table, Tables};
use crate::replica::detector::DetectorSpec;
use crate::replica::plan::{AntiEntropy, Failover, Plan, Rejoin, Strategy, Sync};
use crate::replica::{Level, RegionId};
use crate::time::{SignedSpan, SimTime, Span};
use crate::topology;
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::Arc;

/// The most regions a run supports (coverage is tracked in a 64-bit mask per write).
pub const MAX_REGIONS: usize = 64;
/// Most memory the dense per-key state may take.
pub const MAX_STATE_BYTES: f64 = 16.0 * (1u64 << 30) as f64;
/// Default refusal threshold for the estimated number of simulated events.
pub const DEFAULT_MAX_EVENTS: u64 = 300_000_000;

/// The shortest setting accepted for a timer that talks across the network or to a disk
/// (retransmission, heartbeats, request timeouts, retries, fsync groups...): below a millisecond
/// it is shorter than any round trip between regions, and a run quietly simulates billions of
/// timer events instead of failing fast.
pub const FLOOR_TIMER: Span = Span(1_000_000);
/// The shortest anti-entropy interval: each round exchanges digest trees with a peer, so even
/// 10ms is far more often than any real system does it.
pub const FLOOR_ANTI_ENTROPY: Span = Span(10_000_000);

mod error;
mod load;
mod model;
mod plans;
mod spec;
mod validation;

pub use error::ScenarioError;
pub use load::{inline_dist_files, MAX_NESTING};
pub use model::*;
pub use spec::*;

use load::*;
use plans::*;
use validation::*;

#[cfg(test)]
mod tests;
