//! `iwa-bench compare`: the same scenario and the same token file against two targets,
//! alternating A B A B … so that drift of the machine (thermal, other load) hits both alike.
//! Each pair gives a ratio B/A; the median of the pairs is the figure to quote.

use serde::Serialize;

use crate::report::Report;

/// One A-then-B pair.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Pair {
    pub round: usize,
    pub a_rps: f64,
    pub b_rps: f64,
    /// b_rps / a_rps.
    pub rps_ratio: f64,
    pub a_p99_us: u64,
    pub b_p99_us: u64,
    /// Server CPU per request, when both pids were given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub a_cpu_us: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub b_cpu_us: Option<f64>,
    /// b_cpu_us / a_cpu_us.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ratio: Option<f64>,
}

/// The comparison.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Comparison {
    pub a: String,
    pub b: String,
    pub pairs: Vec<Pair>,
    pub median_rps_ratio: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_cpu_ratio: Option<f64>,
    pub runs: Vec<Report>,
}

/// The median (mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn ratio(b: f64, a: f64) -> f64 {
    if a > 0.0 {
        b / a
    } else {
        f64::NAN
    }
}

impl Comparison {
    /// Pairs up `runs` (A, B, A, B, …).
    pub fn from_runs(runs: Vec<Report>) -> Self {
        let pairs: Vec<Pair> = runs
            .chunks_exact(2)
            .enumerate()
            .map(|(i, ab)| {
                let (a, b) = (&ab[0], &ab[1]);
                let a_cpu = a.server.as_ref().map(|c| c.cpu_us_per_request);
                let b_cpu = b.server.as_ref().map(|c| c.cpu_us_per_request);
                Pair {
                    round: i + 1,
                    a_rps: a.throughput_rps,
                    b_rps: b.throughput_rps,
                    rps_ratio: ratio(b.throughput_rps, a.throughput_rps),
                    a_p99_us: a.latency_us.p99,
                    b_p99_us: b.latency_us.p99,
                    a_cpu_us: a_cpu,
                    b_cpu_us: b_cpu,
                    cpu_ratio: a_cpu.zip(b_cpu).map(|(a, b)| ratio(b, a)),
                }
            })
            .collect();
        let rps: Vec<f64> = pairs.iter().map(|p| p.rps_ratio).collect();
        let cpu: Vec<f64> = pairs.iter().filter_map(|p| p.cpu_ratio).collect();
        Self {
            a: runs.first().map(|r| r.label.clone()).unwrap_or_default(),
            b: runs.get(1).map(|r| r.label.clone()).unwrap_or_default(),
            median_rps_ratio: median(&rps),
            median_cpu_ratio: (!cpu.is_empty() && cpu.len() == pairs.len()).then(|| median(&cpu)),
            pairs,
            runs,
        }
    }

    /// The pairs as a markdown table, then the medians.
    pub fn markdown(&self) -> String {
        let mut s = format!(
            "| round | {a} req/s | {b} req/s | B/A | {a} p99 | {b} p99 | {a} CPU/req | {b} CPU/req | B/A CPU |\n\
             |---|---|---|---|---|---|---|---|---|\n",
            a = self.a,
            b = self.b
        );
        let cpu = |c: Option<f64>| c.map_or("–".to_owned(), |c| format!("{c:.1} µs"));
        for p in &self.pairs {
            s += &format!(
                "| {} | {:.0} | {:.0} | {:.2} | {:.2} ms | {:.2} ms | {} | {} | {} |\n",
                p.round,
                p.a_rps,
                p.b_rps,
                p.rps_ratio,
                p.a_p99_us as f64 / 1000.0,
                p.b_p99_us as f64 / 1000.0,
                cpu(p.a_cpu_us),
                cpu(p.b_cpu_us),
                p.cpu_ratio.map_or("–".to_owned(), |r| format!("{r:.3}")),
            );
        }
        s += &format!(
            "\nMedian req/s ratio {b}/{a}: **{:.2}**",
            self.median_rps_ratio,
            a = self.a,
            b = self.b
        );
        if let Some(c) = self.median_cpu_ratio {
            s += &format!("; median server CPU per request ratio: **{c:.3}**");
        }
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[f64::NAN, 5.0]), 5.0);
    }
}
