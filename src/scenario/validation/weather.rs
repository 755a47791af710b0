//! The `weather` section: rates and ranges of random partitions, crashes, degrades and clock
//! steps.

use super::*;

pub(in crate::scenario) fn weather(
    v: &Validator,
    spec: &ScenarioSpec,
) -> Result<Option<Weather>, ScenarioError> {
    let n = spec.regions.len();
    let Some(wx) = &spec.weather else {
        return Ok(None);
    };
    {
        let p = "weather";
        let start = wx.start.unwrap_or(Span::ZERO);
        let end = wx.end.unwrap_or(spec.duration);
        if start >= end || end > spec.duration {
            return Err(v.err(
                p,
                format!(
                    "needs start < end <= duration (got {start} .. {end}, duration {})",
                    spec.duration
                ),
            ));
        }
        let rate = |path: &str, r: f64| -> Result<(), ScenarioError> {
            if r.is_finite() && (0.0..=600.0).contains(&r) {
                Ok(())
            } else {
                Err(v.err(path, format!("per_min must be between 0 and 600, got {r}")))
            }
        };
        let span_range = |path: &str, r: &SpanRange| -> Result<(), ScenarioError> {
            if r.min == Span::ZERO || r.min > r.max {
                Err(v.err(
                    path,
                    format!("needs 0 < min <= max (got {} .. {})", r.min, r.max),
                ))
            } else {
                Ok(())
            }
        };
        if let Some(w) = &wx.partitions {
            rate("weather.partitions.per_min", w.per_min)?;
            span_range("weather.partitions.duration", &w.duration)?;
            if w.shapes.is_empty() {
                return Err(v.err("weather.partitions.shapes", "needs at least one shape"));
            }
            if n < 2 {
                return Err(v.err("weather.partitions", "partitions need at least two regions"));
            }
            if n < 3 && w.shapes == [PartitionShape::NonTransitive] {
                return Err(v.err(
                    "weather.partitions.shapes",
                    "non-transitive cuts need at least three regions",
                ));
            }
        }
        if let Some(w) = &wx.crashes {
            rate("weather.crashes.per_min", w.per_min)?;
            span_range("weather.crashes.downtime", &w.downtime)?;
        }
        if let Some(w) = &wx.degrades {
            rate("weather.degrades.per_min", w.per_min)?;
            span_range("weather.degrades.duration", &w.duration)?;
            if n < 2 {
                return Err(v.err(
                    "weather.degrades",
                    "degraded links need at least two regions",
                ));
            }
            if let Some(l) = &w.add_latency {
                if l.min > l.max {
                    return Err(v.err("weather.degrades.add_latency", "needs min <= max"));
                }
            }
            if let Some(l) = &w.loss {
                v.probability("weather.degrades.loss.min", l.min)?;
                v.probability("weather.degrades.loss.max", l.max)?;
                if l.min > l.max {
                    return Err(v.err("weather.degrades.loss", "needs min <= max"));
                }
            }
            if w.add_latency.is_none() && w.loss.is_none() {
                return Err(v.err("weather.degrades", "needs add_latency, loss or both"));
            }
        }
        if let Some(w) = &wx.clock_steps {
            rate("weather.clock_steps.per_min", w.per_min)?;
            if w.by.min > w.by.max {
                return Err(v.err("weather.clock_steps.by", "needs min <= max"));
            }
        }
        Ok(Some(Weather {
            start: SimTime(start.0),
            end: SimTime(end.0),
            partitions: wx.partitions.clone(),
            crashes: wx.crashes.clone(),
            degrades: wx.degrades.clone(),
            clock_steps: wx.clock_steps.clone(),
        }))
    }
}
