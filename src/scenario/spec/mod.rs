//! The file format: the serde types users write in a scenario YAML (`*Spec`), one file per
//! section; parsing them rejects unknown keys and wrong types with serde's line/column.

mod expect;
mod faults;
mod replication;
mod workload;

pub use expect::*;
pub use faults::*;
pub use replication::*;
pub use workload::*;

use super::*;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub seed: Option<u64>,
    pub duration: Span,
    #[serde(default)]
    pub quiesce_limit: Option<Span>,
    pub regions: Vec<RegionSpec>,
    /// Clock noise and synchronisation for every region (a region's `clock` overrides).
    #[serde(default)]
    pub clocks: ClocksSpec,
    pub network: NetworkSpec,
    #[serde(default)]
    pub replication: ReplicationSpec,
    #[serde(default)]
    pub durability: DurabilitySpec,
    /// Egress pricing, for cost per million writes.
    #[serde(default)]
    pub cost: Option<CostSpec>,
    /// Replica service times (apply a write, serve a read).
    #[serde(default)]
    pub service: Option<ServiceSpec>,
    pub workload: WorkloadSpec,
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// Randomised faults, realised per seed within these bounds.
    #[serde(default)]
    pub weather: Option<WeatherSpec>,
    #[serde(default)]
    pub expect: ExpectSpec,
    #[serde(default)]
    pub report: ReportSpec,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SpanRange {
    pub min: Span,
    pub max: Span,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct SignedRange {
    pub min: SignedSpan,
    pub max: SignedSpan,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProbRange {
    pub min: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum PartitionShape {
    /// One region against the rest.
    Isolate,
    /// The regions split into two random halves.
    Halves,
    /// One direction of one link cut (a -> b only).
    OneWay,
    /// One link cut both ways while both ends still reach everyone else.
    NonTransitive,
}

fn all_shapes() -> Vec<PartitionShape> {
    vec![
        PartitionShape::Isolate,
        PartitionShape::Halves,
        PartitionShape::OneWay,
        PartitionShape::NonTransitive,
    ]
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PartitionWeather {
    pub per_min: f64,
    pub duration: SpanRange,
    #[serde(default = "all_shapes")]
    pub shapes: Vec<PartitionShape>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct CrashWeather {
    pub per_min: f64,
    pub downtime: SpanRange,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DegradeWeather {
    pub per_min: f64,
    pub duration: SpanRange,
    #[serde(default)]
    pub add_latency: Option<SpanRange>,
    #[serde(default)]
    pub loss: Option<ProbRange>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ClockStepWeather {
    pub per_min: f64,
    pub by: SignedRange,
}

/// The `weather:` block: fault rates and bounds; each seed realises its own schedule.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WeatherSpec {
    /// No weather before this time (default 0).
    #[serde(default)]
    pub start: Option<Span>,
    /// No new weather after this time (default `duration`).
    #[serde(default)]
    pub end: Option<Span>,
    #[serde(default)]
    pub partitions: Option<PartitionWeather>,
    #[serde(default)]
    pub crashes: Option<CrashWeather>,
    #[serde(default)]
    pub degrades: Option<DegradeWeather>,
    #[serde(default)]
    pub clock_steps: Option<ClockStepWeather>,
}

/// What the report shows beyond the defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// The window drawn as a message-sequence diagram.
    #[serde(default)]
    pub sequence: Option<SequenceSpec>,
    /// A write pending at a region for longer than this counts as the region stalled (default:
    /// relative to the links' normal lag, see [`default_stall_after`]).
    #[serde(default)]
    pub stall_after: Option<Span>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SequenceSpec {
    pub from: Span,
    pub to: Span,
    /// Only replication messages carrying this key (acks are never keyed).
    #[serde(default)]
    pub key: Option<u64>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct RegionSpec {
    pub name: String,
    #[serde(default)]
    pub clock: ClockSpec,
    /// Where the region is, for the speed-of-light check (preset regions are known already).
    #[serde(default)]
    pub location: Option<LocationSpec>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LocationSpec {
    pub lat: f64,
    pub lon: f64,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    #[serde(default)]
    pub offset: SignedSpan,
    #[serde(default)]
    pub drift_ppm: f64,
    /// Bound of uniform noise on every wall-clock reading (overrides `clocks.noise`).
    #[serde(default)]
    pub noise: Option<Span>,
    /// NTP-like periodic correction (overrides `clocks.ntp`).
    #[serde(default)]
    pub ntp: Option<NtpSpec>,
}

/// Clock settings every region gets unless its own `clock` says otherwise.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClocksSpec {
    #[serde(default)]
    pub noise: Option<Span>,
    #[serde(default)]
    pub ntp: Option<NtpSpec>,
}

/// Who resolves `manual` conflicts, and how fast.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct OperatorSpec {
    /// How long a conflict waits in the queue before the operator resolves it.
    pub delay: Span,
}

/// ntpd-style phase correction: poll, step large errors, slew small ones.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NtpSpec {
    #[serde(default = "default_ntp_interval")]
    pub interval: Span,
    /// How far off one measurement of the clock's error may be (uniform, ±).
    #[serde(default = "default_ntp_accuracy")]
    pub accuracy: Span,
    #[serde(default = "default_ntp_step")]
    pub step_threshold: Span,
    #[serde(default = "default_ntp_slew")]
    pub max_slew_ppm: f64,
}

fn default_ntp_interval() -> Span {
    Span::from_millis(64_000)
}
fn default_ntp_accuracy() -> Span {
    Span::from_millis(1)
}
fn default_ntp_step() -> Span {
    Span::from_millis(128)
}
fn default_ntp_slew() -> f64 {
    500.0
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    pub latency: LatencySpec,
    #[serde(default)]
    pub loss: f64,
    #[serde(default)]
    pub duplicate: f64,
    #[serde(default = "yes")]
    pub fifo: bool,
    /// Per-link bandwidth caps; messages queue behind each other on a capped link.
    #[serde(default)]
    pub bandwidth: Option<BandwidthSpec>,
    /// Latency overrides per message class (measured request/response profiles).
    #[serde(default)]
    pub classes: ClassesSpec,
}

/// `network.classes`: one optional override per message class.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassesSpec {
    #[serde(default)]
    pub replication: Option<ClassLatencySpec>,
    #[serde(default)]
    pub write_request: Option<ClassLatencySpec>,
    #[serde(default)]
    pub write_ack: Option<ClassLatencySpec>,
    #[serde(default)]
    pub read_request: Option<ClassLatencySpec>,
    #[serde(default)]
    pub read_reply: Option<ClassLatencySpec>,
    #[serde(default)]
    pub anti_entropy: Option<ClassLatencySpec>,
    #[serde(default)]
    pub control: Option<ClassLatencySpec>,
}

impl ClassesSpec {
    /// In `MsgClass` order.
    pub fn all(&self) -> [&Option<ClassLatencySpec>; 7] {
        [
            &self.replication,
            &self.write_request,
            &self.write_ack,
            &self.read_request,
            &self.read_reply,
            &self.anti_entropy,
            &self.control,
        ]
    }
    pub fn all_mut(&mut self) -> [&mut Option<ClassLatencySpec>; 7] {
        [
            &mut self.replication,
            &mut self.write_request,
            &mut self.write_ack,
            &mut self.read_request,
            &mut self.read_reply,
            &mut self.anti_entropy,
            &mut self.control,
        ]
    }
}

/// The latency of one message class: replaces the link latency (`default`, or per link in
/// `links`) and/or adds to it (`add`).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ClassLatencySpec {
    #[serde(default)]
    pub default: Option<DistSpec>,
    #[serde(default)]
    pub links: BTreeMap<String, DistSpec>,
    #[serde(default)]
    pub add: Option<DistSpec>,
}

/// `service`: how long a replica takes to apply a write and to serve a read (it handles one
/// input at a time, so inputs queue behind each other).
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    #[serde(default)]
    pub write: Option<DistSpec>,
    #[serde(default)]
    pub read: Option<DistSpec>,
    /// Per-region overrides.
    #[serde(default)]
    pub regions: BTreeMap<String, ServiceTimes>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceTimes {
    #[serde(default)]
    pub write: Option<DistSpec>,
    #[serde(default)]
    pub read: Option<DistSpec>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BandwidthSpec {
    #[serde(default)]
    pub default: Option<Rate>,
    #[serde(default)]
    pub links: BTreeMap<String, Rate>,
}

/// A data rate written as `100 Mbps`, `1 Gbps`, `10 MB/s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct Rate {
    pub bits_per_sec: u64,
}

impl From<Rate> for String {
    fn from(r: Rate) -> String {
        let b = r.bits_per_sec;
        if b.is_multiple_of(1_000_000_000) {
            format!("{} Gbps", b / 1_000_000_000)
        } else if b.is_multiple_of(1_000_000) {
            format!("{} Mbps", b / 1_000_000)
        } else if b.is_multiple_of(1000) {
            format!("{} Kbps", b / 1000)
        } else {
            format!("{b} bps")
        }
    }
}

impl std::str::FromStr for Rate {
    type Err = String;
    fn from_str(text: &str) -> Result<Rate, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (num, unit) = (t[..split].trim(), t[split..].trim());
        let bad =
            || format!("`{text}` is not a data rate; write e.g. `100 Mbps`, `1 Gbps` or `10 MB/s`");
        let x: f64 = num.parse().map_err(|_| bad())?;
        let mult: f64 = match unit {
            "bps" => 1.0,
            "Kbps" | "kbps" => 1e3,
            "Mbps" => 1e6,
            "Gbps" => 1e9,
            "B/s" => 8.0,
            "KB/s" | "kB/s" => 8e3,
            "MB/s" => 8e6,
            "GB/s" => 8e9,
            _ => return Err(bad()),
        };
        let bits = x * mult;
        if !(bits.is_finite() && (1.0..=1e15).contains(&bits)) {
            return Err(format!("`{text}` must be between 1 bps and 1 Pbps"));
        }
        Ok(Rate {
            bits_per_sec: bits.round() as u64,
        })
    }
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Egress prices in US dollars per GB, per directed link.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// A price sheet from `presets/cost/` (see `sim presets`).
    #[serde(default)]
    pub preset: Option<String>,
    /// Scenario region -> the preset's region name (defaults to the latency `map`, then the name).
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub default: Option<f64>,
    #[serde(default)]
    pub links: BTreeMap<String, f64>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LatencySpec {
    #[serde(default)]
    pub preset: Option<String>,
    /// Scenario region name -> preset region name.
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    #[serde(default)]
    pub default: Option<DistSpec>,
    #[serde(default)]
    pub links: BTreeMap<String, DistSpec>,
    #[serde(default)]
    pub jitter: Option<DistSpec>,
}
