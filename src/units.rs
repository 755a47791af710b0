//! Human-readable renderings of counts, durations and sizes, shared by every output.

/// Nanoseconds to milliseconds, rounded to the microsecond so JSON stays readable.
pub fn ns_to_ms(ns: u64) -> f64 {
    (ns / 1000) as f64 / 1000.0 + if ns % 1000 >= 500 { 0.001 } else { 0.0 }
}

/// `1234567` -> `1,234,567`.
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Milliseconds in the unit a person would pick: `512us`, `45.2ms`, `2.31s`, `4.5min`.
pub fn human_ms(ms: f64) -> String {
    if !ms.is_finite() {
        return "-".into();
    }
    if ms == 0.0 {
        "0".into()
    } else if ms < 1.0 {
        format!("{:.0}us", ms * 1000.0)
    } else if ms < 100.0 {
        format!("{ms:.1}ms")
    } else if ms < 1000.0 {
        format!("{ms:.0}ms")
    } else if ms < 120_000.0 {
        format!("{:.2}s", ms / 1000.0)
    } else {
        format!("{:.1}min", ms / 60_000.0)
    }
}

pub fn human_bytes(b: u64) -> String {
    let b = b as f64;
    if b < 1024.0 {
        format!("{b} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}

/// Parses a byte size for the command line: a number with an optional binary unit
/// (`8GiB`, `512MiB`, `64KiB`; `G`, `M`, `K` mean the same), or plain bytes; `0` means no bound.
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KiB" | "KB" => 1 << 10,
        "M" | "MiB" | "MB" => 1 << 20,
        "G" | "GiB" | "GB" => 1 << 30,
        "T" | "TiB" | "TB" => 1 << 40,
        u => {
            return Err(format!(
                "unknown size unit `{u}` (use KiB, MiB, GiB or TiB)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size such as 8GiB"))?;
    if !n.is_finite() || n < 0.0 {
        return Err(format!("`{s}` is not a size such as 8GiB"));
    }
    Ok((n * scale as f64).round() as u64)
}
