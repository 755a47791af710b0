//! The `expect` section's file format: bounds on a run's metrics that make it pass or fail.

use super::*;

/// Bounds on a metric: `{ min, max }`, or a bare value meaning `max`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bound<T> {
    pub min: Option<T>,
    pub max: Option<T>,
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Bound<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Full<T> {
            #[serde(default = "none")]
            min: Option<T>,
            #[serde(default = "none")]
            max: Option<T>,
        }
        fn none<T>() -> Option<T> {
            None
        }
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for V<T> {
            type Value = Bound<T>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a bound: a value (the maximum) or `{ min: .., max: .. }`")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, m: A) -> Result<Bound<T>, A::Error> {
                let full: Full<T> =
                    Full::deserialize(serde::de::value::MapAccessDeserializer::new(m))?;
                Ok(Bound {
                    min: full.min,
                    max: full.max,
                })
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::StrDeserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::U64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::I64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Bound<T>, E> {
                let t = T::deserialize(serde::de::value::F64Deserializer::<E>::new(v))?;
                Ok(Bound {
                    min: None,
                    max: Some(t),
                })
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectSpec {
    #[serde(default)]
    pub converged: Option<bool>,
    #[serde(default)]
    pub lost_acked_writes: Option<Bound<u64>>,
    #[serde(default)]
    pub lost_updates: Option<Bound<u64>>,
    #[serde(default)]
    pub skew_lost_updates: Option<Bound<u64>>,
    /// `manual` tables: keys still holding siblings at the end.
    #[serde(default)]
    pub unresolved_conflicts: Option<Bound<u64>>,
    #[serde(default)]
    pub stale_reads: Option<Bound<u64>>,
    #[serde(default)]
    pub failed_writes: Option<Bound<u64>>,
    #[serde(default)]
    pub visibility_p50: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_p90: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_p99: Option<Bound<Span>>,
    #[serde(default)]
    pub visibility_max: Option<Bound<Span>>,
    /// Bound on the slowest convergence after a heal.
    #[serde(default)]
    pub after_heal: Option<Bound<Span>>,
    /// Acknowledged writes lost to failures in total (RPO); bounding it (or
    /// `lost_acked_writes`) lets the `no-lost-acked-writes` check tolerate that many.
    #[serde(default)]
    pub rpo_writes: Option<Bound<u64>>,
    /// The longest RPO window of any failure.
    #[serde(default)]
    pub rpo_window: Option<Bound<Span>>,
    /// The longest RTO of any failure ("never" fails a maximum).
    #[serde(default)]
    pub rto: Option<Bound<Span>>,
    /// Writes accepted by a deposed primary; bounding it lets `single-primary` tolerate them.
    #[serde(default)]
    pub split_brain_writes: Option<Bound<u64>>,
    /// The exact trace digest (hex) this scenario and seed must reproduce.
    #[serde(default)]
    pub trace_digest: Option<String>,
}
