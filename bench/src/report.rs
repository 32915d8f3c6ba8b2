//! Figures: percentiles over raw samples, the printed table and the `RESULT` lines.

use std::time::Duration;

/// Latency samples in nanoseconds; percentiles by sorting (no histogram crate in the tree).
#[derive(Default)]
pub struct Samples(Vec<u64>);

impl Samples {
    pub fn with_capacity(n: usize) -> Samples {
        Samples(Vec::with_capacity(n))
    }

    pub fn push(&mut self, d: Duration) {
        self.0.push(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    pub fn extend(&mut self, other: Samples) {
        self.0.extend(other.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The `q` quantile (0..=1) in microseconds; sorts in place.
    pub fn quantile_us(&mut self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        self.0.sort_unstable();
        let rank = ((self.0.len() - 1) as f64 * q).round() as usize;
        self.0[rank] as f64 / 1_000.0
    }

    /// The median in milliseconds.
    pub fn median_ms(&mut self) -> f64 {
        self.quantile_us(0.5) / 1_000.0
    }
}

/// Which direction is better for a metric, so the table can say who won.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Better {
    Higher,
    Lower,
}

/// One compared figure: pgready against one baseline.
pub struct Figure {
    pub scenario: &'static str,
    pub metric: String,
    pub pgready: f64,
    pub baseline_name: String,
    pub baseline: f64,
    pub unit: &'static str,
    pub better: Better,
}

impl Figure {
    /// pgready / baseline.
    pub fn ratio(&self) -> f64 {
        self.pgready / self.baseline
    }

    fn at_least_parity(&self) -> bool {
        match self.better {
            Better::Higher => self.ratio() >= 1.0,
            Better::Lower => self.ratio() <= 1.0,
        }
    }
}

/// Prints the figures as a table, then one `RESULT` JSON line each.
pub fn print(figures: &[Figure]) {
    println!();
    println!(
        "{:<10} {:<44} {:>12} {:>12} {:<10} {:>7}  baseline",
        "scenario", "metric", "pgready", "baseline", "unit", "ratio"
    );
    for f in figures {
        println!(
            "{:<10} {:<44} {:>12} {:>12} {:<10} {:>7.3}{} {}",
            f.scenario,
            f.metric,
            num(f.pgready),
            num(f.baseline),
            f.unit,
            f.ratio(),
            if f.at_least_parity() { " " } else { "*" },
            f.baseline_name,
        );
    }
    println!("(* = worse than parity; ratio = pgready / baseline)");
    println!();
    for f in figures {
        let line = serde_json::json!({
            "scenario": f.scenario,
            "metric": f.metric,
            "pgready": round(f.pgready),
            "baseline": round(f.baseline),
            "baseline_name": f.baseline_name,
            "unit": f.unit,
            "ratio": round(f.ratio()),
        });
        println!("RESULT {line}");
    }
}

fn num(v: f64) -> String {
    if v.abs() >= 1000.0 {
        format!("{v:.0}")
    } else if v.abs() >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.3}")
    }
}

fn round(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Above this 1-minute load average before a run, the bench warns that its timings are noise.
pub const QUIET_LOAD: f64 = 0.5;

/// The 1, 5 and 15-minute load averages of `/proc/loadavg`; `None` where there is none.
pub fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}

/// `0.12 0.34 0.56 (2 CPUs)`, as `uptime` prints the averages.
pub fn load_text(load: Option<[f64; 3]>) -> String {
    let cpus = std::thread::available_parallelism().map_or(0, |n| n.get());
    match load {
        Some([a, b, c]) => format!("{a:.2} {b:.2} {c:.2} ({cpus} CPUs)"),
        None => format!("unknown ({cpus} CPUs)"),
    }
}
