//! The gateway's one Prometheus registry.
//!
//! Names follow prometheus.io/docs/practices/naming: prefix `iwagw_`, base units, `_total`
//! counters. Label values only come from bounded sets: static reasons, configured routes.

use prometheus::{
    Encoder as _, Histogram, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec,
    Opts, Registry, TextEncoder,
};

use kdc_bridge::proto::error::AcceptError;

use crate::negotiate::HeaderError;

mod directory;

pub use self::directory::{DirectoryMetrics, LOOKUP_RESULTS};

/// All metrics.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Registry,
    /// `iwagw_spnego_handshakes_total{result,reason}`.
    pub handshakes: IntCounterVec,
    /// `iwagw_accept_duration_seconds`.
    pub accept_duration: Histogram,
    /// `iwagw_token_size_bytes`.
    pub token_size: Histogram,
    /// `iwagw_token_size_max_bytes`: the largest token seen since start (read by `doctor`).
    pub token_size_max: IntGauge,
    /// `iwagw_replay_cache_entries`.
    pub replay_cache_entries: IntGauge,
    /// `iwagw_upstream_duration_seconds{route}`.
    pub upstream_duration: HistogramVec,
    /// `iwagw_session_cookies_total{result}`.
    pub session_cookies: IntCounterVec,
    /// `iwagw_keytab_reloads_total{result}`.
    pub keytab_reloads: IntCounterVec,
    /// `iwagw_keytab_keys{state}`.
    pub keytab_keys: IntGaugeVec,
    /// `iwagw_challenges_total`: 401s sent to clients that sent no credentials.
    pub challenges: IntCounterVec,
    /// `iwagw_saml_requests_total{endpoint,result}`: SAML sign-ins answered, by outcome.
    pub saml: IntCounterVec,
    /// `iwagw_client_connections`: client connections open on the proxy listeners.
    pub connections_open: IntGauge,
    /// `iwagw_client_connections_waiting`: HTTP/1.1 client connections waiting for their next
    /// request (holding no request state).
    pub connections_waiting: IntGauge,
    /// The directory's and the PAC's series.
    pub directory: DirectoryMetrics,
}

pub(crate) fn must<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(v) => v,
        // Metric definitions are constants: a failure here is a programming error found by
        // the first test run, not something input can cause.
        Err(e) => panic!("metric definition: {e}"),
    }
}

impl Metrics {
    /// Registers every metric, with the label values known up front.
    pub fn new(routes: &[String]) -> Self {
        Self::with_dcs(routes, &[])
    }

    /// [`Metrics::new`], with the configured DCs' labels.
    pub fn with_dcs(routes: &[String], dcs: &[String]) -> Self {
        let registry = Registry::new();
        let build_info = must(IntGaugeVec::new(
            Opts::new(
                "iwagw_build_info",
                "Build information; the value is always 1.",
            ),
            &["version"],
        ));
        build_info
            .with_label_values(&[env!("CARGO_PKG_VERSION")])
            .set(1);
        let handshakes = must(IntCounterVec::new(
            Opts::new(
                "iwagw_spnego_handshakes_total",
                "Negotiate tokens processed, by result and reason.",
            ),
            &["result", "reason"],
        ));
        handshakes.with_label_values(&["success", "ok"]);
        for r in AcceptError::REASONS.iter().chain(HeaderError::REASONS) {
            handshakes.with_label_values(&["failure", r]);
        }
        let accept_duration = must(Histogram::with_opts(
            HistogramOpts::new(
                "iwagw_accept_duration_seconds",
                "Time to verify one Negotiate token.",
            )
            .buckets(vec![
                0.000_01, 0.000_025, 0.000_05, 0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005,
                0.01, 0.05,
            ]),
        ));
        let token_size = must(Histogram::with_opts(
            HistogramOpts::new(
                "iwagw_token_size_bytes",
                "Size of decoded Negotiate tokens.",
            )
            .buckets(vec![
                512.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0, 32768.0, 65536.0,
            ]),
        ));
        let token_size_max = must(IntGauge::new(
            "iwagw_token_size_max_bytes",
            "Largest decoded Negotiate token seen since start.",
        ));
        let replay_cache_entries = must(IntGauge::new(
            "iwagw_replay_cache_entries",
            "Authenticators held in the replay cache.",
        ));
        let upstream_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "iwagw_upstream_duration_seconds",
                "Time from sending a request upstream to its response header.",
            )
            .buckets(vec![
                0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["route"],
        ));
        for r in routes {
            upstream_duration.with_label_values(&[r]);
        }
        let session_cookies = must(IntCounterVec::new(
            Opts::new(
                "iwagw_session_cookies_total",
                "Session cookies issued, accepted and rejected (by reason).",
            ),
            &["result"],
        ));
        for r in [
            "issued",
            "accepted",
            "malformed",
            "unknown_key",
            "tampered",
            "expired",
        ] {
            session_cookies.with_label_values(&[r]);
        }
        let keytab_reloads = must(IntCounterVec::new(
            Opts::new(
                "iwagw_keytab_reloads_total",
                "Keytab reloads after the file changed, by result.",
            ),
            &["result"],
        ));
        for r in ["ok", "error"] {
            keytab_reloads.with_label_values(&[r]);
        }
        let keytab_keys = must(IntGaugeVec::new(
            Opts::new(
                "iwagw_keytab_keys",
                "Service keys in use: current ones and retired ones still accepted.",
            ),
            &["state"],
        ));
        let challenges = must(IntCounterVec::new(
            Opts::new(
                "iwagw_challenges_total",
                "401 Negotiate challenges sent to requests without credentials.",
            ),
            &["route"],
        ));
        for r in routes {
            challenges.with_label_values(&[r]);
        }
        let saml = must(IntCounterVec::new(
            Opts::new(
                "iwagw_saml_requests_total",
                "SAML requests by endpoint and outcome (assertion, challenge, no_passive, or the refusal reason).",
            ),
            &["endpoint", "result"],
        ));
        let connections_open = must(IntGauge::new(
            "iwagw_client_connections",
            "Client connections open on the proxy listeners.",
        ));
        let connections_waiting = must(IntGauge::new(
            "iwagw_client_connections_waiting",
            "HTTP/1.1 client connections on plain listeners waiting for their next request.",
        ));
        for c in [
            Box::new(build_info) as Box<dyn prometheus::core::Collector>,
            Box::new(connections_open.clone()),
            Box::new(connections_waiting.clone()),
            Box::new(saml.clone()),
            Box::new(handshakes.clone()),
            Box::new(accept_duration.clone()),
            Box::new(token_size.clone()),
            Box::new(token_size_max.clone()),
            Box::new(replay_cache_entries.clone()),
            Box::new(upstream_duration.clone()),
            Box::new(session_cookies.clone()),
            Box::new(keytab_reloads.clone()),
            Box::new(keytab_keys.clone()),
            Box::new(challenges.clone()),
        ] {
            must(registry.register(c));
        }
        let directory = DirectoryMetrics::register(&registry, dcs);
        Self {
            registry,
            directory,
            handshakes,
            accept_duration,
            token_size,
            token_size_max,
            replay_cache_entries,
            upstream_duration,
            session_cookies,
            keytab_reloads,
            keytab_keys,
            challenges,
            saml,
            connections_open,
            connections_waiting,
        }
    }

    /// The text exposition format.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::new();
        // Encoding into a Vec cannot fail for well-formed metrics.
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_with_the_expected_names() {
        let m = Metrics::new(&["/".into()]);
        m.handshakes.with_label_values(&["failure", "replay"]).inc();
        let text = String::from_utf8(m.render()).unwrap();
        for name in [
            "iwagw_build_info{version=",
            "iwagw_spnego_handshakes_total{reason=\"replay\",result=\"failure\"} 1",
            "iwagw_accept_duration_seconds_bucket",
            "iwagw_token_size_bytes_bucket",
            "iwagw_replay_cache_entries 0",
            "iwagw_upstream_duration_seconds_bucket{route=\"/\"",
            "iwagw_session_cookies_total{result=\"issued\"} 0",
            "iwagw_keytab_reloads_total{result=\"ok\"} 0",
            "iwagw_client_connections 0",
            "iwagw_client_connections_waiting 0",
        ] {
            assert!(text.contains(name), "missing {name} in\n{text}");
        }
    }
}
