//! The `workload` section's file format: rates, the operation mix, key distribution, retries.

use super::*;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WorkloadSpec {
    /// The key space (with `tables`: their keys added up, and it may be left out).
    #[serde(default)]
    pub keys: u64,
    /// Named tables of keys with their own operations (counters, sets, registers).
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// Client sessions per region, checked for session guarantees (0: not tracked). A
    /// region's operations take its sessions in turn.
    #[serde(default)]
    pub sessions: u32,
    #[serde(default)]
    pub key_distribution: KeyDistribution,
    pub rate_per_region: f64,
    #[serde(default)]
    pub rates: BTreeMap<String, f64>,
    #[serde(default)]
    pub mix: MixSpec,
    #[serde(default = "default_value_bytes")]
    pub value_bytes: u32,
    /// Clients of a region that has been down this long (health check plus DNS TTL) send
    /// their operations to the nearest region that is up; absent, they wait for their region.
    /// A region that is up but cannot serve writes (it knows no reachable primary) counts as
    /// down to the health check.
    #[serde(default)]
    pub reroute_after: Option<Span>,
    /// Clients retry failed operations with exponential backoff.
    #[serde(default)]
    pub retry: Option<RetrySpec>,
}

/// `workload.retry`: how a client retries an operation that failed or timed out.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RetrySpec {
    /// Tries in all, the first included (an SDK's `max_attempts`).
    pub attempts: u32,
    /// The wait before the first retry; it doubles on every further one.
    #[serde(default = "default_backoff")]
    pub backoff: Span,
    /// The longest wait (default: 20 x `backoff`).
    #[serde(default)]
    pub max_backoff: Option<Span>,
    /// Full jitter (default): each wait is drawn uniformly between 0 and its backoff, so
    /// clients that failed together do not retry together. `false`: exactly the backoff.
    #[serde(default = "yes")]
    pub jitter: bool,
}

fn default_backoff() -> Span {
    Span::from_millis(100)
}

pub(super) fn yes() -> bool {
    true
}

/// A validated retry policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retry {
    pub attempts: u32,
    pub backoff: Span,
    pub max_backoff: Span,
    pub jitter: bool,
}

impl Retry {
    /// The backoff before retry number `k` (1 for the first retry), before jitter.
    pub fn backoff(&self, k: u32) -> Span {
        let b = self
            .backoff
            .0
            .saturating_mul(1u64 << (k.saturating_sub(1)).min(40));
        Span(b.min(self.max_backoff.0))
    }
}

fn default_value_bytes() -> u32 {
    100
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MixSpec {
    /// Writes at the mode's default consistency level.
    #[serde(default)]
    pub write: f64,
    /// Reads at the mode's default consistency level.
    #[serde(default)]
    pub read: f64,
    #[serde(default)]
    pub write_local: f64,
    #[serde(default)]
    pub write_quorum: f64,
    #[serde(default)]
    pub write_all: f64,
    #[serde(default)]
    pub read_local: f64,
    #[serde(default)]
    pub read_quorum: f64,
    #[serde(default)]
    pub read_primary: f64,
    #[serde(default)]
    pub read_all: f64,
}

impl MixSpec {
    /// Every operation class with its YAML name: (name, is_write, level, weight).
    pub fn classes(&self) -> [(&'static str, bool, Level, f64); 9] {
        [
            ("write", true, Level::Default, self.write),
            ("write_local", true, Level::Local, self.write_local),
            ("write_quorum", true, Level::Quorum, self.write_quorum),
            ("write_all", true, Level::All, self.write_all),
            ("read", false, Level::Default, self.read),
            ("read_local", false, Level::Local, self.read_local),
            ("read_quorum", false, Level::Quorum, self.read_quorum),
            ("read_primary", false, Level::Primary, self.read_primary),
            ("read_all", false, Level::All, self.read_all),
        ]
    }
}

impl Default for MixSpec {
    fn default() -> Self {
        MixSpec {
            write: 1.0,
            read: 0.0,
            write_local: 0.0,
            write_quorum: 0.0,
            write_all: 0.0,
            read_local: 0.0,
            read_quorum: 0.0,
            read_primary: 0.0,
            read_all: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub enum KeyDistribution {
    #[default]
    Uniform,
    Zipf(f64),
}

/// Written back the way it is read: `uniform` or `{ zipf: 1.1 }`.
impl Serialize for KeyDistribution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        match self {
            KeyDistribution::Uniform => s.serialize_str("uniform"),
            KeyDistribution::Zipf(x) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("zipf", x)?;
                m.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for KeyDistribution {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = KeyDistribution;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("`uniform` or `{ zipf: <exponent> }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<KeyDistribution, E> {
                match v {
                    "uniform" => Ok(KeyDistribution::Uniform),
                    _ => Err(E::custom(format!(
                        "unknown key distribution `{v}`, expected `uniform` or `{{ zipf: <exponent> }}`"
                    ))),
                }
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut m: A,
            ) -> Result<KeyDistribution, A::Error> {
                let k: String = m
                    .next_key()?
                    .ok_or_else(|| serde::de::Error::custom("empty key distribution"))?;
                if k != "zipf" {
                    return Err(serde::de::Error::custom(format!(
                        "unknown key distribution `{k}`, expected `uniform` or `{{ zipf: <exponent> }}`"
                    )));
                }
                let s: f64 = m.next_value()?;
                if m.next_key::<String>()?.is_some() {
                    return Err(serde::de::Error::custom(
                        "`zipf` takes exactly one exponent",
                    ));
                }
                Ok(KeyDistribution::Zipf(s))
            }
        }
        d.deserialize_any(V)
    }
}
