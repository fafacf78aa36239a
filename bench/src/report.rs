//! What a run measured: each worker records into its own [`Recorder`] (no shared lock on the
//! hot path); the recorders are merged into one [`Report`] at the end, written as JSON and as a
//! markdown table.
//!
//! The numbers add up by construction, and the tests check it: every measured request is
//! either an HTTP status or a transport error, so `requests = Σ statuses + Σ transport_errors`;
//! `ok` is the 2xx responses that passed the scenario's check; the timeline's seconds sum to
//! `requests`.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Latencies from 1 µs to 60 s at 3 significant digits (0.1 % resolution).
fn histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts; a failure would be a bug here.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A response; `passed` is the scenario's check (2xx, and for `saml-sso` a SAMLResponse).
    Status { code: u16, passed: bool },
    /// No response: connect, I/O, protocol or timeout error.
    Transport(&'static str),
}

/// The authentication a request carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// A fresh Negotiate token.
    Negotiate,
    /// A session cookie.
    Cookie,
    /// Nothing.
    None,
}

/// One worker's measurements.
#[derive(Debug)]
pub struct Recorder {
    hist: Histogram<u64>,
    /// (second since the measured start, latency µs, not ok) of every request, for the timeline.
    samples: Vec<(u32, u32, bool)>,
    statuses: BTreeMap<u16, u64>,
    transport: BTreeMap<&'static str, u64>,
    check_failures: u64,
    auth: [u64; 3],
    late: u64,
}

impl Default for Recorder {
    fn default() -> Self {
        Self {
            hist: histogram(),
            samples: Vec::new(),
            statuses: BTreeMap::new(),
            transport: BTreeMap::new(),
            check_failures: 0,
            auth: [0; 3],
            late: 0,
        }
    }
}

impl Recorder {
    /// Records one measured request that started `at` after the measured start.
    pub fn record(&mut self, at: Duration, latency: Duration, auth: Auth, outcome: Outcome) {
        let us = u64::try_from(latency.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(us);
        let second = u32::try_from(at.as_secs()).unwrap_or(u32::MAX);
        let ok =
            matches!(outcome, Outcome::Status { code, passed: true } if (200..300).contains(&code));
        self.samples
            .push((second, u32::try_from(us).unwrap_or(u32::MAX), !ok));
        match outcome {
            Outcome::Status { code, passed } => {
                *self.statuses.entry(code).or_default() += 1;
                if (200..300).contains(&code) && !passed {
                    self.check_failures += 1;
                }
            }
            Outcome::Transport(kind) => *self.transport.entry(kind).or_default() += 1,
        }
        self.auth[auth as usize] += 1;
    }

    /// An open-loop request sent after its scheduled time (no free connection).
    pub fn late(&mut self) {
        self.late += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: Self) {
        // Same bounds on both sides: add cannot fail.
        let _ = self.hist.add(&other.hist);
        self.samples.extend(other.samples);
        for (k, v) in other.statuses {
            *self.statuses.entry(k).or_default() += v;
        }
        for (k, v) in other.transport {
            *self.transport.entry(k).or_default() += v;
        }
        self.check_failures += other.check_failures;
        for (a, b) in self.auth.iter_mut().zip(other.auth) {
            *a += b;
        }
        self.late += other.late;
    }
}

/// Latency percentiles, microseconds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Latency {
    pub p50: u64,
    pub p90: u64,
    pub p99: u64,
    pub p999: u64,
    pub max: u64,
    pub mean: f64,
}

/// One second of the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Second {
    /// Seconds since the measured start.
    pub t: u32,
    pub requests: u64,
    /// Requests that were not `ok`.
    pub failed: u64,
    pub p50_us: u64,
    pub p99_us: u64,
}

/// CPU time of a process tree over the measured part of the run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Cpu {
    /// The process (the server's; absent for the loader).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    pub cpu_s: f64,
    pub cpu_us_per_request: f64,
}

/// Requests by the authentication they carried.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct AuthCounts {
    pub negotiate: u64,
    pub cookie: u64,
    pub none: u64,
}

/// The whole run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub label: String,
    pub scenario: String,
    pub url: String,
    pub http: &'static str,
    pub connections: usize,
    /// `closed` or `open` (fixed rate).
    pub mode: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
    pub duration_s: f64,
    pub requests: u64,
    pub ok: u64,
    pub statuses: BTreeMap<String, u64>,
    pub transport_errors: BTreeMap<String, u64>,
    /// 2xx responses that failed the scenario's check.
    pub check_failures: u64,
    pub throughput_rps: f64,
    pub ok_rps: f64,
    pub latency_us: Latency,
    pub auth: AuthCounts,
    /// Open loop: requests sent after their scheduled time.
    pub late: u64,
    pub server: Option<Cpu>,
    pub loader: Cpu,
    pub tokens_used: usize,
    pub tokens_left: usize,
    /// Why the run ended before its duration or count, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_early: Option<String>,
    pub timeline: Vec<Second>,
}

/// What the run was, for the report.
#[derive(Debug, Clone)]
pub struct RunInfo {
    pub label: String,
    pub scenario: String,
    pub url: String,
    pub http2: bool,
    pub connections: usize,
    pub rate: Option<f64>,
}

/// What was measured besides the requests.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    pub elapsed: Duration,
    /// Server CPU seconds over the run and its pid.
    pub server_cpu: Option<(u32, f64)>,
    pub loader_cpu_s: f64,
    pub tokens_used: usize,
    pub tokens_left: usize,
    pub stopped_early: Option<String>,
}

fn percentile(sorted: &[u32], q: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    u64::from(sorted[rank - 1])
}

impl Report {
    /// Builds the report from the merged recorder.
    pub fn build(info: RunInfo, rec: Recorder, m: Measured) -> Self {
        let requests: u64 =
            rec.statuses.values().sum::<u64>() + rec.transport.values().sum::<u64>();
        let two_xx: u64 = rec
            .statuses
            .iter()
            .filter(|(c, _)| (200..300).contains(*c))
            .map(|(_, n)| n)
            .sum();
        let ok = two_xx - rec.check_failures;
        let secs = m.elapsed.as_secs_f64();
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        let per_req = |cpu: f64| {
            if requests > 0 {
                cpu * 1e6 / requests as f64
            } else {
                0.0
            }
        };
        let h = &rec.hist;
        let latency = if h.is_empty() {
            Latency::default()
        } else {
            Latency {
                p50: h.value_at_quantile(0.50),
                p90: h.value_at_quantile(0.90),
                p99: h.value_at_quantile(0.99),
                p999: h.value_at_quantile(0.999),
                max: h.max(),
                mean: h.mean(),
            }
        };
        Self {
            label: info.label,
            scenario: info.scenario,
            url: info.url,
            http: if info.http2 { "2" } else { "1.1" },
            connections: info.connections,
            mode: if info.rate.is_some() {
                "open"
            } else {
                "closed"
            },
            rate: info.rate,
            duration_s: secs,
            requests,
            ok,
            statuses: rec
                .statuses
                .iter()
                .map(|(k, v)| (k.to_string(), *v))
                .collect(),
            transport_errors: rec
                .transport
                .iter()
                .map(|(k, v)| ((*k).to_owned(), *v))
                .collect(),
            check_failures: rec.check_failures,
            throughput_rps: per_s(requests),
            ok_rps: per_s(ok),
            latency_us: latency,
            auth: AuthCounts {
                negotiate: rec.auth[Auth::Negotiate as usize],
                cookie: rec.auth[Auth::Cookie as usize],
                none: rec.auth[Auth::None as usize],
            },
            late: rec.late,
            server: m.server_cpu.map(|(pid, cpu)| Cpu {
                pid: Some(pid),
                cpu_s: cpu,
                cpu_us_per_request: per_req(cpu),
            }),
            loader: Cpu {
                pid: None,
                cpu_s: m.loader_cpu_s,
                cpu_us_per_request: per_req(m.loader_cpu_s),
            },
            tokens_used: m.tokens_used,
            tokens_left: m.tokens_left,
            stopped_early: m.stopped_early,
            timeline: timeline(rec.samples),
        }
    }

    /// The markdown table's header.
    pub fn markdown_header() -> &'static str {
        "| run | scenario | conns | req/s | ok | other | p50 | p90 | p99 | p99.9 | max | server CPU/req | loader CPU/req |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    }

    /// One row of the markdown table.
    pub fn markdown_row(&self) -> String {
        let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
        let server = self.server.as_ref().map_or("–".to_owned(), |c| {
            format!("{:.1} µs", c.cpu_us_per_request)
        });
        format!(
            "| {} | {} | {} | {:.0} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} µs |\n",
            self.label,
            self.scenario,
            self.connections,
            self.throughput_rps,
            self.ok,
            self.requests - self.ok,
            ms(self.latency_us.p50),
            ms(self.latency_us.p90),
            ms(self.latency_us.p99),
            ms(self.latency_us.p999),
            ms(self.latency_us.max),
            server,
            self.loader.cpu_us_per_request,
        )
    }

    /// A short human summary for the terminal.
    pub fn summary(&self) -> String {
        let mut s = format!(
            "{}: {} requests in {:.1} s = {:.0} req/s, ok {} ({:.0}/s); latency p50 {} µs, p99 {} µs, max {} µs",
            self.label,
            self.requests,
            self.duration_s,
            self.throughput_rps,
            self.ok,
            self.ok_rps,
            self.latency_us.p50,
            self.latency_us.p99,
            self.latency_us.max
        );
        if let Some(c) = &self.server {
            s += &format!("; server CPU {:.1} µs/request", c.cpu_us_per_request);
        }
        s += &format!(
            "; loader CPU {:.1} µs/request",
            self.loader.cpu_us_per_request
        );
        let other: Vec<String> = self
            .statuses
            .iter()
            .filter(|(k, _)| !k.starts_with('2'))
            .map(|(k, v)| format!("{k}: {v}"))
            .chain(
                self.transport_errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {v}")),
            )
            .collect();
        if !other.is_empty() {
            s += &format!("\n  not ok: {}", other.join(", "));
        }
        if self.check_failures > 0 {
            s += &format!(
                "\n  2xx that failed the scenario's check: {}",
                self.check_failures
            );
        }
        if let Some(why) = &self.stopped_early {
            s += &format!("\n  stopped early: {why}");
        }
        s
    }
}

fn timeline(mut samples: Vec<(u32, u32, bool)>) -> Vec<Second> {
    samples.sort_unstable();
    let mut out = Vec::new();
    let mut i = 0;
    while i < samples.len() {
        let t = samples[i].0;
        let j = i + samples[i..].partition_point(|s| s.0 == t);
        let lat: Vec<u32> = samples[i..j].iter().map(|s| s.1).collect();
        out.push(Second {
            t,
            requests: (j - i) as u64,
            failed: samples[i..j].iter().filter(|s| s.2).count() as u64,
            p50_us: percentile(&lat, 0.50),
            p99_us: percentile(&lat, 0.99),
        });
        i = j;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info() -> RunInfo {
        RunInfo {
            label: "t".into(),
            scenario: "negotiate".into(),
            url: "http://127.0.0.1/".into(),
            http2: false,
            connections: 2,
            rate: None,
        }
    }

    #[test]
    fn numbers_add_up() {
        let ms = Duration::from_millis;
        let mut a = Recorder::default();
        let mut b = Recorder::default();
        // 100 requests: latencies 1..=100 ms over two seconds, two workers.
        for i in 1..=100u64 {
            let rec = if i % 2 == 0 { &mut a } else { &mut b };
            let outcome = match i {
                1..=90 => Outcome::Status {
                    code: 200,
                    passed: true,
                },
                91..=94 => Outcome::Status {
                    code: 200,
                    passed: false,
                },
                95..=97 => Outcome::Status {
                    code: 401,
                    passed: true,
                },
                _ => Outcome::Transport("i/o"),
            };
            rec.record(
                ms(if i <= 50 { 100 } else { 1500 }),
                ms(i),
                Auth::Negotiate,
                outcome,
            );
        }
        a.merge(b);
        let m = Measured {
            elapsed: Duration::from_secs(2),
            server_cpu: Some((42, 0.005)),
            loader_cpu_s: 0.002,
            tokens_used: 100,
            tokens_left: 0,
            stopped_early: None,
        };
        let r = Report::build(info(), a, m);
        assert_eq!(r.requests, 100);
        assert_eq!(r.ok, 90);
        assert_eq!(r.check_failures, 4);
        assert_eq!(r.statuses.get("200"), Some(&94));
        assert_eq!(r.statuses.get("401"), Some(&3));
        assert_eq!(r.transport_errors.get("i/o"), Some(&3));
        assert!((r.throughput_rps - 50.0).abs() < 1e-9);
        assert!((r.ok_rps - 45.0).abs() < 1e-9);
        // HDR percentiles at 0.1 % resolution.
        let near = |v: u64, ms: u64| v.abs_diff(ms * 1000) <= ms;
        assert!(near(r.latency_us.p50, 50), "{:?}", r.latency_us);
        assert!(near(r.latency_us.p90, 90));
        assert!(near(r.latency_us.p99, 99));
        assert!(near(r.latency_us.max, 100));
        assert!((r.latency_us.mean - 50_500.0).abs() < 100.0);
        let server = r.server.as_ref().expect("server");
        assert!((server.cpu_us_per_request - 50.0).abs() < 1e-9);
        assert!((r.loader.cpu_us_per_request - 20.0).abs() < 1e-9);
        assert_eq!(r.timeline.len(), 2);
        assert_eq!((r.timeline[0].t, r.timeline[0].requests), (0, 50));
        assert_eq!((r.timeline[1].t, r.timeline[1].requests), (1, 50));
        assert_eq!(r.timeline[0].failed, 0);
        assert_eq!(r.timeline[1].failed, 10);
        assert_eq!(r.timeline[0].p50_us, 25_000);
        assert_eq!(r.timeline[1].p99_us, 100_000);
        let row = r.markdown_row();
        assert!(
            row.starts_with("| t | negotiate | 2 | 50 | 90 | 10 | 50.0"),
            "{row}"
        );
    }

    #[test]
    fn empty_run() {
        let r = Report::build(info(), Recorder::default(), Measured::default());
        assert_eq!((r.requests, r.ok, r.throughput_rps), (0, 0, 0.0));
        assert_eq!(r.latency_us, Latency::default());
        assert!(r.timeline.is_empty());
    }
}
