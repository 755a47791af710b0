//! Shipped presets: latency (public inter-region RTT tables), egress price sheets, and region
//! locations for physics checks.
//!
//! The CSVs live in `presets/latency/` and are compiled into the binary, so a preset works from
//! any directory. Each keeps its source line; `sim presets NAME` prints it.

use crate::time::Span;

/// One public RTT table.
pub struct Preset {
    pub name: &'static str,
    pub cloud: &'static str,
    pub file: &'static str,
    csv: &'static str,
}

pub const PRESETS: &[Preset] = &[
    Preset {
        name: "aws-2023",
        cloud: "AWS",
        file: "aws_rtt_ms_2023.csv",
        csv: include_str!("../presets/latency/aws_rtt_ms_2023.csv"),
    },
    Preset {
        name: "aws-2020",
        cloud: "AWS",
        file: "aws_rtt_ms_2020.csv",
        csv: include_str!("../presets/latency/aws_rtt_ms_2020.csv"),
    },
    Preset {
        name: "azure-2025",
        cloud: "Azure",
        file: "azure_rtt_ms_2025.csv",
        csv: include_str!("../presets/latency/azure_rtt_ms_2025.csv"),
    },
    Preset {
        name: "gcp-2023",
        cloud: "GCP",
        file: "gcp_rtt_ms_2023.csv",
        csv: include_str!("../presets/latency/gcp_rtt_ms_2023.csv"),
    },
    Preset {
        name: "ibm-2025",
        cloud: "IBM Cloud",
        file: "ibm_rtt_ms_2025.csv",
        csv: include_str!("../presets/latency/ibm_rtt_ms_2025.csv"),
    },
];

/// A parsed RTT table.
#[derive(Debug, Clone)]
pub struct RttTable {
    pub source: String,
    pub regions: Vec<String>,
    /// `rtt_ms[from][to]`, `None` where the source had no figure.
    pub rtt_ms: Vec<Vec<Option<f64>>>,
}

impl RttTable {
    pub fn index(&self, region: &str) -> Option<usize> {
        self.regions.iter().position(|r| r == region)
    }

    /// One-way latency from `a` to `b`, taken as RTT / 2 (exact to the nanosecond).
    pub fn one_way(&self, a: &str, b: &str) -> Option<Span> {
        let (i, j) = (self.index(a)?, self.index(b)?);
        let rtt = self.rtt_ms[i][j].or(self.rtt_ms[j][i])?;
        Some(Span((rtt * 1e6 / 2.0).round() as u64))
    }
}

pub fn find(name: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.name == name)
}

pub fn names() -> Vec<&'static str> {
    PRESETS.iter().map(|p| p.name).collect()
}

impl Preset {
    /// Parses the embedded CSV. The data is ours and checked by a test, so a malformed table
    /// is a build defect, reported rather than hidden.
    pub fn table(&self) -> RttTable {
        parse_csv(self.csv)
            .unwrap_or_else(|e| panic!("shipped preset {} is malformed: {e}", self.file))
    }
}

fn parse_csv(text: &str) -> Result<RttTable, String> {
    let mut lines = text.lines();
    let source = lines
        .next()
        .and_then(|l| l.strip_prefix('#'))
        .ok_or("missing `#` source line")?
        .trim()
        .to_string();
    let header = lines.next().ok_or("missing header")?;
    let regions: Vec<String> = header
        .split(',')
        .skip(1)
        .map(|s| s.trim().to_string())
        .collect();
    let mut rtt_ms = vec![vec![None; regions.len()]; regions.len()];
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let mut cells = line.split(',');
        let from = cells.next().ok_or("empty row")?.trim();
        let i = regions
            .iter()
            .position(|r| r == from)
            .ok_or_else(|| format!("row `{from}` is not a column"))?;
        for (j, cell) in cells.enumerate() {
            let cell = cell.trim();
            if j >= regions.len() {
                return Err(format!("row `{from}` has too many cells"));
            }
            if !cell.is_empty() {
                rtt_ms[i][j] = Some(cell.parse::<f64>().map_err(|e| format!("`{cell}`: {e}"))?);
            }
        }
    }
    Ok(RttTable {
        source,
        regions,
        rtt_ms,
    })
}

/// One shipped egress price sheet (`presets/cost/`).
pub struct CostPreset {
    pub name: &'static str,
    pub file: &'static str,
    csv: &'static str,
}

pub const COST_PRESETS: &[CostPreset] = &[CostPreset {
    name: "aws-2024",
    file: "aws_2024.csv",
    csv: include_str!("../presets/cost/aws_2024.csv"),
}];

/// A parsed price sheet: USD per GB by source region, with per-pair overrides.
#[derive(Debug, Clone)]
pub struct PriceSheet {
    pub source: Vec<String>,
    pub by_source: Vec<(String, f64)>,
    pub pairs: Vec<(String, String, f64)>,
}

impl PriceSheet {
    /// The price of sending one GB from `a` to `b`, if the sheet has `a`.
    pub fn price(&self, a: &str, b: &str) -> Option<f64> {
        self.pairs
            .iter()
            .find(|(f, t, _)| f == a && t == b)
            .map(|p| p.2)
            .or_else(|| self.by_source.iter().find(|(f, _)| f == a).map(|p| p.1))
    }
}

impl CostPreset {
    pub fn sheet(&self) -> PriceSheet {
        parse_prices(self.csv)
            .unwrap_or_else(|e| panic!("shipped cost preset {} is malformed: {e}", self.file))
    }
}

pub fn find_cost(name: &str) -> Option<PriceSheet> {
    COST_PRESETS
        .iter()
        .find(|p| p.name == name)
        .map(|p| p.sheet())
}

pub fn cost_names() -> Vec<&'static str> {
    COST_PRESETS.iter().map(|p| p.name).collect()
}

fn parse_prices(text: &str) -> Result<PriceSheet, String> {
    let mut sheet = PriceSheet {
        source: Vec::new(),
        by_source: Vec::new(),
        pairs: Vec::new(),
    };
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(c) = line.strip_prefix('#') {
            sheet.source.push(c.trim().to_string());
            continue;
        }
        let cells: Vec<&str> = line.split(',').map(str::trim).collect();
        let price = |s: &str| s.parse::<f64>().map_err(|e| format!("`{s}`: {e}"));
        match cells.as_slice() {
            [r, p] => sheet.by_source.push((r.to_string(), price(p)?)),
            [a, b, p] => sheet.pairs.push((a.to_string(), b.to_string(), price(p)?)),
            _ => {
                return Err(format!(
                    "`{line}` is neither `region,price` nor `from,to,price`"
                ))
            }
        }
    }
    Ok(sheet)
}

/// Approximate locations (latitude, longitude in degrees) of the data centres behind each preset
/// region name: the metro area the provider names. Used only for the speed-of-light floor.
const LOCATIONS: &[(&str, f64, f64)] = &[
    // AWS
    ("af-south-1", -33.92, 18.42),
    ("ap-east-1", 22.32, 114.17),
    ("ap-northeast-1", 35.68, 139.69),
    ("ap-northeast-2", 37.57, 126.98),
    ("ap-northeast-3", 34.69, 135.50),
    ("ap-south-1", 19.08, 72.88),
    ("ap-southeast-1", 1.35, 103.82),
    ("ap-southeast-2", -33.87, 151.21),
    ("ca-central-1", 45.50, -73.57),
    ("eu-central-1", 50.11, 8.68),
    ("eu-north-1", 59.33, 18.07),
    ("eu-south-1", 45.46, 9.19),
    ("eu-west-1", 53.35, -6.26),
    ("eu-west-2", 51.51, -0.13),
    ("eu-west-3", 48.86, 2.35),
    ("me-south-1", 26.07, 50.56),
    ("sa-east-1", -23.55, -46.63),
    ("us-east-1", 39.04, -77.49),
    ("us-east-2", 39.96, -83.00),
    ("us-west-1", 37.34, -121.89),
    ("us-west-2", 45.84, -119.70),
    // Azure
    ("East US", 36.67, -78.39),
    ("West US 2", 47.23, -119.85),
    ("North Europe", 53.35, -6.26),
    ("UK South", 51.51, -0.13),
    ("Germany West Central", 50.11, 8.68),
    ("Central India", 18.52, 73.86),
    ("Southeast Asia", 1.35, 103.82),
    ("Japan East", 35.68, 139.69),
    ("Australia East", -33.87, 151.21),
    ("Brazil South", -23.55, -46.63),
    // GCP
    ("us-east4", 39.04, -77.49),
    ("us-central1", 41.26, -95.86),
    ("us-west1", 45.60, -121.18),
    ("europe-west1", 50.45, 3.82),
    ("europe-west2", 51.51, -0.13),
    ("europe-west3", 50.11, 8.68),
    ("asia-south1", 19.08, 72.88),
    ("asia-southeast1", 1.35, 103.70),
    ("asia-northeast1", 35.68, 139.69),
    ("australia-southeast1", -33.87, 151.21),
    ("southamerica-east1", -23.53, -46.79),
    // IBM Cloud
    ("Dallas", 32.78, -96.80),
    ("Toronto", 43.65, -79.38),
    ("Washington DC", 38.91, -77.04),
    ("Frankfurt", 50.11, 8.68),
    ("London", 51.51, -0.13),
    ("Madrid", 40.42, -3.70),
    ("Montreal", 45.50, -73.57),
    ("Chennai", 13.08, 80.27),
    ("Osaka", 34.69, 135.50),
    ("Sydney", -33.87, 151.21),
    ("Tokyo", 35.68, 139.69),
    ("Sao Paulo", -23.55, -46.63),
];

pub fn location(region: &str) -> Option<(f64, f64)> {
    LOCATIONS
        .iter()
        .find(|(n, _, _)| *n == region)
        .map(|&(_, lat, lon)| (lat, lon))
}

/// Great-circle distance in kilometres (haversine, mean Earth radius).
pub fn great_circle_km(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1) = (a.0.to_radians(), a.1.to_radians());
    let (lat2, lon2) = (b.0.to_radians(), b.1.to_radians());
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// The one-way physical floor: light in fibre covers about 200,000 km/s.
pub fn fibre_floor(km: f64) -> Span {
    Span((km / 200_000.0 * 1e9) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cost_presets_parse_and_price_by_source() {
        for p in COST_PRESETS {
            let s = p.sheet();
            assert!(
                !s.source.is_empty() && !s.by_source.is_empty(),
                "{}",
                p.name
            );
        }
        let aws = find_cost("aws-2024").unwrap();
        assert_eq!(aws.price("ap-south-1", "us-east-1"), Some(0.086));
        assert_eq!(aws.price("us-east-1", "us-east-2"), Some(0.01));
        assert_eq!(aws.price("us-east-1", "eu-west-1"), Some(0.02));
        assert_eq!(aws.price("nowhere", "us-east-1"), None);
    }

    #[test]
    fn every_shipped_preset_parses_and_is_located() {
        for p in PRESETS {
            let t = p.table();
            assert!(t.regions.len() >= 10, "{}", p.name);
            assert!(!t.source.is_empty());
            for r in &t.regions {
                assert!(location(r).is_some(), "{}: no location for {r}", p.name);
            }
        }
    }

    #[test]
    fn one_way_is_half_the_rtt() {
        let t = find("aws-2023").unwrap().table();
        // us-east-1 -> eu-west-1 in the 2023 table.
        let rtt = t.rtt_ms[t.index("us-east-1").unwrap()][t.index("eu-west-1").unwrap()].unwrap();
        assert_eq!(
            t.one_way("us-east-1", "eu-west-1").unwrap(),
            Span((rtt * 1e6 / 2.0).round() as u64)
        );
    }

    #[test]
    fn shipped_tables_respect_physics() {
        // Public measurements must never beat light in fibre; if one did, our locations are wrong.
        for p in PRESETS {
            let t = p.table();
            for a in &t.regions {
                for b in &t.regions {
                    if a == b {
                        continue;
                    }
                    if let Some(ow) = t.one_way(a, b) {
                        let km = great_circle_km(location(a).unwrap(), location(b).unwrap());
                        assert!(ow >= fibre_floor(km), "{}: {a}->{b} {ow} < floor", p.name);
                    }
                }
            }
        }
    }

    #[test]
    fn london_new_york_distance() {
        let km = great_circle_km((51.51, -0.13), (40.71, -74.01));
        assert!((km - 5570.0).abs() < 30.0, "{km}");
    }
}
