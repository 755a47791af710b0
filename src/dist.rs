//! Latency distributions: the YAML spec users write and the compiled samplers the network draws from.
//!
//! A spec is either a bare duration (`40ms`, a constant) or a map tagged by `dist:`. Samples
//! are integer nanoseconds; continuous distributions are drawn in f64 and rounded once, which
//! is bit-reproducible on one platform (see `shared/notes/dependencies.md`).

use crate::time::Span;
use rand::Rng;
use rand_distr::{Distribution, Exp, LogNormal, Normal, Pareto};
use serde::{Deserialize, Deserializer, Serialize};
use std::fmt;

/// A latency distribution as written in a scenario.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum DistSpec {
    Constant {
        value: Span,
    },
    Uniform {
        low: Span,
        high: Span,
    },
    /// Normal, truncated at zero by redrawing.
    Normal {
        mean: Span,
        std_dev: Span,
    },
    /// Log-normal given by its median and the sigma of the underlying normal.
    Lognormal {
        median: Span,
        sigma: f64,
    },
    Exponential {
        mean: Span,
    },
    /// Pareto (type I): never below `scale`, heavy tail for small `shape`.
    Pareto {
        scale: Span,
        shape: f64,
    },
    Mixture {
        components: Vec<MixtureComponent>,
    },
    /// Measured: `(quantile, value)` points, interpolated linearly between them. Given inline
    /// or as `file:` (a CSV of quantiles, read when the scenario is loaded).
    Empirical {
        #[serde(skip_serializing_if = "Option::is_none")]
        file: Option<String>,
        quantiles: Vec<(f64, Span)>,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MixtureComponent {
    pub weight: f64,
    pub latency: DistSpec,
}

/// The tagged form; a separate type so the bare-duration shorthand can sit in front of it
/// without an untagged enum (which would throw away serde's precise error messages).
#[derive(Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
enum TaggedDist {
    Constant {
        value: Span,
    },
    Uniform {
        low: Span,
        high: Span,
    },
    Normal {
        mean: Span,
        std_dev: Span,
    },
    Lognormal {
        median: Span,
        sigma: f64,
    },
    Exponential {
        mean: Span,
    },
    Pareto {
        scale: Span,
        shape: f64,
    },
    Mixture {
        components: Vec<MixtureComponent>,
    },
    Empirical {
        #[serde(default)]
        file: Option<String>,
        #[serde(default)]
        quantiles: Vec<(f64, Span)>,
    },
}

impl From<TaggedDist> for DistSpec {
    fn from(t: TaggedDist) -> DistSpec {
        match t {
            TaggedDist::Constant { value } => DistSpec::Constant { value },
            TaggedDist::Uniform { low, high } => DistSpec::Uniform { low, high },
            TaggedDist::Normal { mean, std_dev } => DistSpec::Normal { mean, std_dev },
            TaggedDist::Lognormal { median, sigma } => DistSpec::Lognormal { median, sigma },
            TaggedDist::Exponential { mean } => DistSpec::Exponential { mean },
            TaggedDist::Pareto { scale, shape } => DistSpec::Pareto { scale, shape },
            TaggedDist::Mixture { components } => DistSpec::Mixture { components },
            TaggedDist::Empirical { file, quantiles } => DistSpec::Empirical { file, quantiles },
        }
    }
}

impl<'de> Deserialize<'de> for DistSpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<DistSpec, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = DistSpec;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str(
                    "a duration like `40ms`, or a map such as `{ dist: lognormal, median: 95ms, sigma: 0.1 }`",
                )
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<DistSpec, E> {
                v.parse::<Span>()
                    .map(|value| DistSpec::Constant { value })
                    .map_err(E::custom)
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<DistSpec, E> {
                if v == 0 {
                    Ok(DistSpec::Constant { value: Span::ZERO })
                } else {
                    Err(E::custom(format!("`{v}` has no unit; write e.g. `{v}ms`")))
                }
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<DistSpec, E> {
                Err(E::custom(format!("`{v}` has no unit; write e.g. `{v}ms`")))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<DistSpec, A::Error> {
                TaggedDist::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(DistSpec::from)
            }
        }
        d.deserialize_any(V)
    }
}

/// Why a distribution's parameters are impossible.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DistError {
    #[error("uniform needs low <= high (got low {low}, high {high})")]
    UniformOrder { low: Span, high: Span },
    #[error("{name} must be a finite number > 0 (got {value})")]
    NotPositive { name: &'static str, value: f64 },
    #[error("{name} must be > 0")]
    ZeroSpan { name: &'static str },
    #[error("a mixture needs at least one component with a positive weight")]
    EmptyMixture,
    #[error("mixture weights must be finite and >= 0 (got {0})")]
    BadWeight(f64),
    #[error("{0}")]
    Empirical(String),
}

/// A compiled distribution ready to sample.
#[derive(Clone, Debug)]
pub enum Sampler {
    Constant(u64),
    Uniform {
        low: u64,
        span: u64,
    },
    Normal(Normal<f64>),
    LogNormal(LogNormal<f64>),
    Exp(Exp<f64>),
    Pareto(Pareto<f64>),
    /// Cumulative weights normalised to 1, and the components.
    Mixture(Vec<(f64, Sampler)>),
    /// Inverse CDF: `(quantile, ns)` points, quantiles strictly increasing.
    Empirical(Vec<(f64, f64)>),
}

fn positive(name: &'static str, value: f64) -> Result<f64, DistError> {
    if value.is_finite() && value > 0.0 {
        Ok(value)
    } else {
        Err(DistError::NotPositive { name, value })
    }
}

impl DistSpec {
    pub fn constant(value: Span) -> DistSpec {
        DistSpec::Constant { value }
    }

    pub fn compile(&self) -> Result<Sampler, DistError> {
        Ok(match self {
            DistSpec::Constant { value } => Sampler::Constant(value.0),
            DistSpec::Uniform { low, high } => {
                if low > high {
                    return Err(DistError::UniformOrder {
                        low: *low,
                        high: *high,
                    });
                }
                Sampler::Uniform {
                    low: low.0,
                    span: high.0 - low.0,
                }
            }
            DistSpec::Normal { mean, std_dev } => {
                if std_dev.0 == 0 {
                    Sampler::Constant(mean.0)
                } else {
                    Sampler::Normal(Normal::new(mean.0 as f64, std_dev.0 as f64).map_err(|_| {
                        DistError::NotPositive {
                            name: "std_dev",
                            value: std_dev.0 as f64,
                        }
                    })?)
                }
            }
            DistSpec::Lognormal { median, sigma } => {
                if median.0 == 0 {
                    return Err(DistError::ZeroSpan { name: "median" });
                }
                let sigma = positive("sigma", *sigma)?;
                Sampler::LogNormal(LogNormal::new((median.0 as f64).ln(), sigma).map_err(|_| {
                    DistError::NotPositive {
                        name: "sigma",
                        value: sigma,
                    }
                })?)
            }
            DistSpec::Exponential { mean } => {
                if mean.0 == 0 {
                    Sampler::Constant(0)
                } else {
                    Sampler::Exp(
                        Exp::new(1.0 / mean.0 as f64)
                            .map_err(|_| DistError::ZeroSpan { name: "mean" })?,
                    )
                }
            }
            DistSpec::Pareto { scale, shape } => {
                if scale.0 == 0 {
                    return Err(DistError::ZeroSpan { name: "scale" });
                }
                let shape = positive("shape", *shape)?;
                Sampler::Pareto(Pareto::new(scale.0 as f64, shape).map_err(|_| {
                    DistError::NotPositive {
                        name: "shape",
                        value: shape,
                    }
                })?)
            }
            DistSpec::Mixture { components } => {
                let mut total = 0.0;
                for c in components {
                    if !c.weight.is_finite() || c.weight < 0.0 {
                        return Err(DistError::BadWeight(c.weight));
                    }
                    total += c.weight;
                }
                if total <= 0.0 {
                    return Err(DistError::EmptyMixture);
                }
                let mut acc = 0.0;
                let mut parts = Vec::with_capacity(components.len());
                for c in components {
                    acc += c.weight / total;
                    parts.push((acc, c.latency.compile()?));
                }
                Sampler::Mixture(parts)
            }
            DistSpec::Empirical { file, quantiles } => {
                let from = file
                    .as_deref()
                    .map_or(String::new(), |f| format!(" (from {f})"));
                let bad = |m: String| DistError::Empirical(format!("empirical{from}: {m}"));
                if quantiles.is_empty() {
                    return Err(bad(
                        "needs `quantiles: [[0.5, 40ms], [0.99, 120ms], ...]` or `file: NAME.csv`"
                            .into(),
                    ));
                }
                let mut prev: Option<(f64, Span)> = None;
                for &(q, v) in quantiles {
                    if !(q.is_finite() && (0.0..=1.0).contains(&q)) {
                        return Err(bad(format!("quantile {q} is not between 0 and 1")));
                    }
                    if let Some((pq, pv)) = prev {
                        if q <= pq {
                            return Err(bad(format!(
                                "quantiles must increase (got {q} after {pq})"
                            )));
                        }
                        if v < pv {
                            return Err(bad(format!(
                                "values must not decrease with the quantile ({v} at {q} is below {pv} at {pq})"
                            )));
                        }
                    }
                    prev = Some((q, v));
                }
                if quantiles.len() == 1 {
                    return Ok(Sampler::Constant(quantiles[0].1 .0));
                }
                Sampler::Empirical(quantiles.iter().map(|&(q, v)| (q, v.0 as f64)).collect())
            }
        })
    }

    /// A representative value (the median where known) used for speed-of-light checks
    /// and for picking sensible defaults; never used to draw samples.
    pub fn nominal(&self) -> Span {
        match self {
            DistSpec::Constant { value } => *value,
            DistSpec::Uniform { low, high } => Span((low.0 + high.0) / 2),
            DistSpec::Normal { mean, .. } => *mean,
            DistSpec::Lognormal { median, .. } => *median,
            DistSpec::Exponential { mean } => Span((mean.0 as f64 * std::f64::consts::LN_2) as u64),
            DistSpec::Pareto { scale, shape } => {
                Span((scale.0 as f64 * 2f64.powf(1.0 / shape.max(1e-9))) as u64)
            }
            DistSpec::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight.max(0.0)).sum();
                if total <= 0.0 {
                    return Span::ZERO;
                }
                Span(
                    components
                        .iter()
                        .map(|c| c.weight.max(0.0) / total * c.latency.nominal().0 as f64)
                        .sum::<f64>() as u64,
                )
            }
            DistSpec::Empirical { quantiles, .. } => Span(empirical_at(
                &quantiles
                    .iter()
                    .map(|&(q, v)| (q, v.0 as f64))
                    .collect::<Vec<_>>(),
                0.5,
            ) as u64),
        }
    }

    /// The analytic mean, where it exists (Pareto with shape <= 1 has none).
    pub fn mean(&self) -> Option<f64> {
        Some(match self {
            DistSpec::Constant { value } => value.0 as f64,
            DistSpec::Uniform { low, high } => (low.0 as f64 + high.0 as f64) / 2.0,
            // Truncation at zero shifts the mean; only exact when the mass below 0 is nil.
            DistSpec::Normal { mean, .. } => mean.0 as f64,
            DistSpec::Lognormal { median, sigma } => median.0 as f64 * (sigma * sigma / 2.0).exp(),
            DistSpec::Exponential { mean } => mean.0 as f64,
            DistSpec::Pareto { scale, shape } => {
                if *shape <= 1.0 {
                    return None;
                }
                scale.0 as f64 * shape / (shape - 1.0)
            }
            DistSpec::Mixture { components } => {
                let total: f64 = components.iter().map(|c| c.weight).sum();
                let mut m = 0.0;
                for c in components {
                    m += c.weight / total * c.latency.mean()?;
                }
                m
            }
            DistSpec::Empirical { quantiles, .. } => {
                // The mean of the piecewise-linear inverse CDF, clamped outside the points.
                let (q0, v0) = (quantiles.first()?.0, quantiles.first()?.1 .0 as f64);
                let (qn, vn) = (quantiles.last()?.0, quantiles.last()?.1 .0 as f64);
                let mut m = q0 * v0 + (1.0 - qn) * vn;
                for w in quantiles.windows(2) {
                    let (a, b) = (w[0], w[1]);
                    m += (b.0 - a.0) * (a.1 .0 as f64 + b.1 .0 as f64) / 2.0;
                }
                m
            }
        })
    }
}

/// The inverse CDF of `(quantile, value)` points at `u`: linear between points, clamped to the
/// first and last value outside them (a measured profile is never extrapolated).
fn empirical_at(points: &[(f64, f64)], u: f64) -> f64 {
    let i = points.partition_point(|p| p.0 <= u);
    if i == 0 {
        return points.first().map_or(0.0, |p| p.1);
    }
    if i == points.len() {
        return points[i - 1].1;
    }
    let (a, b) = (points[i - 1], points[i]);
    a.1 + (b.1 - a.1) * (u - a.0) / (b.0 - a.0)
}

/// Reads a CSV of quantiles: a header, then `quantile,value` rows. Values carry a unit (`41ms`)
/// or the header names one (`quantile,latency_ms`, `quantile,us`).
pub fn read_quantiles_csv(text: &str) -> Result<Vec<(f64, Span)>, String> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.trim_start().starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Err("is empty; expected a header such as `quantile,latency_ms`".into());
    };
    let cols: Vec<&str> = header.split(',').map(str::trim).collect();
    if cols.len() != 2 || !cols[0].eq_ignore_ascii_case("quantile") {
        return Err(format!(
            "line 1: expected a header `quantile,latency_ms` (or `quantile,latency` with units in the values), got `{header}`"
        ));
    }
    let unit = cols[1].to_ascii_lowercase();
    let unit_ns: Option<f64> = if unit == "ms" || unit.ends_with("_ms") {
        Some(1e6)
    } else if unit == "us" || unit.ends_with("_us") {
        Some(1e3)
    } else if unit == "ns" || unit.ends_with("_ns") {
        Some(1.0)
    } else if unit == "s" || unit.ends_with("_s") {
        Some(1e9)
    } else {
        None
    };
    let mut out = Vec::new();
    for (i, line) in lines {
        let at = format!("line {}", i + 1);
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        if cells.len() != 2 {
            return Err(format!("{at}: expected two columns, got `{line}`"));
        }
        let q: f64 = cells[0]
            .parse()
            .map_err(|_| format!("{at}: `{}` is not a quantile", cells[0]))?;
        let v = match cells[1].parse::<f64>() {
            Ok(x) => match unit_ns {
                Some(m) if x.is_finite() && x >= 0.0 => Span((x * m).round() as u64),
                Some(_) => return Err(format!("{at}: `{}` must be >= 0", cells[1])),
                None => {
                    return Err(format!(
                        "{at}: `{}` has no unit; write e.g. `{}ms` or name the unit in the header (`quantile,latency_ms`)",
                        cells[1], cells[1]
                    ))
                }
            },
            Err(_) => cells[1]
                .parse::<Span>()
                .map_err(|e| format!("{at}: {e}"))?,
        };
        out.push((q, v));
    }
    if out.is_empty() {
        return Err("has a header but no rows".into());
    }
    Ok(out)
}

fn to_ns(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 {
        // Cap at one simulated day: a heavy tail must not overflow the clock.
        x.round().min(86_400e9) as u64
    } else {
        0
    }
}

impl Sampler {
    /// Draws one value in nanoseconds. Constants (most links) return without a call.
    #[inline(always)]
    pub fn sample<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        if let Sampler::Constant(v) = self {
            return *v;
        }
        self.sample_slow(rng)
    }

    #[inline(never)]
    fn sample_slow<R: Rng + ?Sized>(&self, rng: &mut R) -> u64 {
        match self {
            Sampler::Constant(v) => *v,
            Sampler::Uniform { low, span } => {
                if *span == 0 {
                    *low
                } else {
                    low + rng.next_u64() % (span + 1)
                }
            }
            Sampler::Normal(n) => {
                // Truncate at 0 by redrawing; after many misses the mass is negligible.
                for _ in 0..64 {
                    let x = n.sample(rng);
                    if x >= 0.0 {
                        return to_ns(x);
                    }
                }
                0
            }
            Sampler::LogNormal(d) => to_ns(d.sample(rng)),
            Sampler::Exp(d) => to_ns(d.sample(rng)),
            Sampler::Pareto(d) => to_ns(d.sample(rng)),
            Sampler::Mixture(parts) => {
                let u: f64 = unit_f64(rng);
                for (cum, s) in parts {
                    if u < *cum {
                        return s.sample(rng);
                    }
                }
                parts.last().map(|(_, s)| s.sample(rng)).unwrap_or(0)
            }
            Sampler::Empirical(points) => to_ns(empirical_at(points, unit_f64(rng))),
        }
    }

    /// True if every draw returns zero without touching the RNG (no jitter configured).
    pub fn is_zero(&self) -> bool {
        matches!(self, Sampler::Constant(0))
    }
}

/// A uniform f64 in [0, 1) from the top 53 bits of one draw.
#[inline]
pub fn unit_f64<R: Rng + ?Sized>(rng: &mut R) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{stream, Concern};

    fn mean_of(spec: &DistSpec, n: usize) -> f64 {
        let s = spec.compile().unwrap();
        let mut rng = stream(1, Concern::Network, 0);
        (0..n).map(|_| s.sample(&mut rng) as f64).sum::<f64>() / n as f64
    }

    #[test]
    fn sample_means_match_closed_forms() {
        let specs = [
            DistSpec::Uniform {
                low: Span::from_millis(10),
                high: Span::from_millis(30),
            },
            DistSpec::Exponential {
                mean: Span::from_millis(2),
            },
            DistSpec::Lognormal {
                median: Span::from_millis(95),
                sigma: 0.1,
            },
            DistSpec::Normal {
                mean: Span::from_millis(50),
                std_dev: Span::from_millis(5),
            },
            DistSpec::Pareto {
                scale: Span::from_millis(10),
                shape: 3.0,
            },
        ];
        for spec in specs {
            let want = spec.mean().unwrap();
            let got = mean_of(&spec, 200_000);
            let rel = (got - want).abs() / want;
            assert!(rel < 0.01, "{spec:?}: mean {got} vs {want} ({rel})");
        }
    }

    #[test]
    fn constant_and_mixture() {
        let c = DistSpec::constant(Span::from_millis(40)).compile().unwrap();
        let mut rng = stream(1, Concern::Network, 0);
        assert_eq!(c.sample(&mut rng), 40_000_000);
        let mix = DistSpec::Mixture {
            components: vec![
                MixtureComponent {
                    weight: 3.0,
                    latency: DistSpec::constant(Span::from_millis(10)),
                },
                MixtureComponent {
                    weight: 1.0,
                    latency: DistSpec::constant(Span::from_millis(100)),
                },
            ],
        };
        let m = mean_of(&mix, 100_000);
        assert!((m - 32.5e6).abs() / 32.5e6 < 0.02, "{m}");
        assert_eq!(mix.mean().unwrap(), 32.5e6);
    }

    #[test]
    fn truncated_normal_never_negative() {
        let s = DistSpec::Normal {
            mean: Span::from_millis(1),
            std_dev: Span::from_millis(5),
        }
        .compile()
        .unwrap();
        let mut rng = stream(3, Concern::Network, 0);
        let zeros = (0..10_000).filter(|_| s.sample(&mut rng) == 0).count();
        assert!(zeros < 100, "redrawing should rarely give up ({zeros})");
    }

    #[test]
    fn impossible_parameters_are_errors() {
        assert!(DistSpec::Uniform {
            low: Span(5),
            high: Span(1)
        }
        .compile()
        .is_err());
        assert!(DistSpec::Lognormal {
            median: Span(5),
            sigma: -1.0
        }
        .compile()
        .is_err());
        assert!(DistSpec::Pareto {
            scale: Span(0),
            shape: 2.0
        }
        .compile()
        .is_err());
        assert!(DistSpec::Mixture { components: vec![] }.compile().is_err());
    }

    #[test]
    fn empirical_interpolates_between_quantiles() {
        let spec = DistSpec::Empirical {
            file: None,
            quantiles: vec![
                (0.0, Span::from_millis(10)),
                (0.5, Span::from_millis(20)),
                (0.9, Span::from_millis(40)),
                (1.0, Span::from_millis(100)),
            ],
        };
        // 0.5*15 + 0.4*30 + 0.1*70 = 26.5 ms.
        assert_eq!(spec.mean().unwrap(), 26.5e6);
        let got = mean_of(&spec, 200_000);
        assert!((got - 26.5e6).abs() / 26.5e6 < 0.01, "{got}");
        assert_eq!(spec.nominal(), Span::from_millis(20));
        let s = spec.compile().unwrap();
        let mut rng = stream(5, Concern::Network, 0);
        let draws: Vec<u64> = (0..100_000).map(|_| s.sample(&mut rng)).collect();
        assert!(draws
            .iter()
            .all(|&d| (10_000_000..=100_000_000).contains(&d)));
        let below_40 = draws.iter().filter(|&&d| d <= 40_000_000).count();
        assert!((89_000..91_000).contains(&below_40), "{below_40}");
        // Outside the given points the profile is clamped, never extrapolated.
        let tail = DistSpec::Empirical {
            file: None,
            quantiles: vec![(0.5, Span::from_millis(20)), (0.99, Span::from_millis(50))],
        };
        let s = tail.compile().unwrap();
        let draws: Vec<u64> = (0..10_000).map(|_| s.sample(&mut rng)).collect();
        assert_eq!(*draws.iter().min().unwrap(), 20_000_000);
        assert_eq!(*draws.iter().max().unwrap(), 50_000_000);
    }

    #[test]
    fn quantile_csv_and_its_errors() {
        let q =
            read_quantiles_csv("quantile,latency_ms\n0,38\n0.5,41.5\n# tail\n1.0,120\n").unwrap();
        assert_eq!(
            q,
            vec![
                (0.0, Span::from_millis(38)),
                (0.5, Span(41_500_000)),
                (1.0, Span::from_millis(120))
            ]
        );
        let q = read_quantiles_csv("quantile,latency\n0.5,40ms\n0.99,2s\n").unwrap();
        assert_eq!(q[1], (0.99, Span::from_secs(2)));
        let e = read_quantiles_csv("quantile,latency\n0.5,40\n").unwrap_err();
        assert!(e.contains("line 2") && e.contains("no unit"), "{e}");
        let e = read_quantiles_csv("p,ms\n").unwrap_err();
        assert!(e.contains("header"), "{e}");
        let e = read_quantiles_csv("quantile,ms\n0.5,x\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
        let bad = |q: Vec<(f64, Span)>| {
            DistSpec::Empirical {
                file: Some("p.csv".into()),
                quantiles: q,
            }
            .compile()
            .unwrap_err()
            .to_string()
        };
        let e = bad(vec![(0.5, Span(2)), (0.4, Span(3))]);
        assert!(e.contains("p.csv") && e.contains("must increase"), "{e}");
        assert!(bad(vec![(0.5, Span(3)), (0.9, Span(2))]).contains("must not decrease"));
        assert!(bad(vec![(1.5, Span(3))]).contains("between 0 and 1"));
        assert!(bad(vec![]).contains("quantiles"));
    }

    #[test]
    fn yaml_forms() {
        let d: DistSpec = serde_yaml::from_str("40ms").unwrap();
        assert_eq!(d, DistSpec::constant(Span::from_millis(40)));
        let d: DistSpec =
            serde_yaml::from_str("{ dist: lognormal, median: 95ms, sigma: 0.1 }").unwrap();
        assert!(matches!(d, DistSpec::Lognormal { .. }));
        let e =
            serde_yaml::from_str::<DistSpec>("{ dist: lognormal, median: 95ms, sigma: 0.1, x: 1 }")
                .unwrap_err()
                .to_string();
        assert!(e.contains("unknown field `x`"), "{e}");
        let e = serde_yaml::from_str::<DistSpec>("{ dist: gaussian }")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown variant `gaussian`"), "{e}");
    }
}
