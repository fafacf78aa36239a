//! The directory's and the PAC's series: LDAP latency per DC, DC up/down, failovers, the
//! lookup cache, lookups by outcome, and PAC failures by reason.

use prometheus::{
    HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
};

use kdc_bridge::proto::pac::PacError;

use super::must;

/// Registered with the gateway's registry.
#[derive(Debug, Clone)]
pub struct DirectoryMetrics {
    /// `iwagw_ldap_operation_duration_seconds{dc,operation,result}`.
    pub ldap_duration: HistogramVec,
    /// `iwagw_dc_up{dc}`: 1 in rotation, 0 out.
    pub dc_up: IntGaugeVec,
    /// `iwagw_dc_failovers_total{from,reason}`.
    pub failovers: IntCounterVec,
    /// `iwagw_directory_cache_total{event}`.
    pub cache: IntCounterVec,
    /// `iwagw_directory_lookups_total{result}`.
    pub lookups: IntCounterVec,
    /// `iwagw_directory_degraded`: 1 while no DC is in rotation.
    pub degraded: IntGauge,
    /// `iwagw_pac_failures_total{reason}`.
    pub pac_failures: IntCounterVec,
    /// `iwagw_identity_groups_dropped_total`: groups left out of a full identity header.
    pub groups_dropped: IntCounterVec,
}

/// The lookup outcomes counted in `iwagw_directory_lookups_total`.
pub const LOOKUP_RESULTS: [&str; 6] = [
    "found",
    "found_degraded",
    "not_found",
    "disabled",
    "unavailable",
    "no_directory",
];

/// The cache events of `iwagw_directory_cache_total`.
const CACHE_EVENTS: [&str; 6] = [
    "hit",
    "negative_hit",
    "miss",
    "stale",
    "degraded",
    "refresh_failed",
];

impl DirectoryMetrics {
    /// Registers the series; `dcs` are the configured DC labels (`host:port`).
    pub fn register(registry: &Registry, dcs: &[String]) -> Self {
        let ldap_duration = must(HistogramVec::new(
            HistogramOpts::new(
                "iwagw_ldap_operation_duration_seconds",
                "LDAP operations (connect, bind, search) per DC, by result.",
            )
            .buckets(vec![
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["dc", "operation", "result"],
        ));
        let dc_up = must(IntGaugeVec::new(
            Opts::new("iwagw_dc_up", "Whether a domain controller is in rotation."),
            &["dc"],
        ));
        for dc in dcs {
            dc_up.with_label_values(&[dc]).set(1);
        }
        let failovers = must(IntCounterVec::new(
            Opts::new(
                "iwagw_dc_failovers_total",
                "Directory requests moved from one DC to the next, by the DC left and why.",
            ),
            &["from", "reason"],
        ));
        let cache = must(IntCounterVec::new(
            Opts::new(
                "iwagw_directory_cache_total",
                "Directory cache events: hits, misses, stale and degraded answers.",
            ),
            &["event"],
        ));
        for e in CACHE_EVENTS {
            cache.with_label_values(&[e]);
        }
        let lookups = must(IntCounterVec::new(
            Opts::new(
                "iwagw_directory_lookups_total",
                "User lookups on sign-in and per request, by outcome.",
            ),
            &["result"],
        ));
        for r in LOOKUP_RESULTS {
            lookups.with_label_values(&[r]);
        }
        let degraded = must(IntGauge::new(
            "iwagw_directory_degraded",
            "1 while no domain controller is in rotation (sign-in runs on PAC and cache).",
        ));
        let pac_failures = must(IntCounterVec::new(
            Opts::new(
                "iwagw_pac_failures_total",
                "Tickets refused for their PAC, by reason.",
            ),
            &["reason"],
        ));
        for r in PacError::REASONS {
            pac_failures.with_label_values(&[r]);
        }
        let groups_dropped = must(IntCounterVec::new(
            Opts::new(
                "iwagw_identity_groups_dropped_total",
                "Groups left out of an identity header that reached identity.max_header_bytes.",
            ),
            &["header"],
        ));
        for c in [
            Box::new(ldap_duration.clone()) as Box<dyn prometheus::core::Collector>,
            Box::new(dc_up.clone()),
            Box::new(failovers.clone()),
            Box::new(cache.clone()),
            Box::new(lookups.clone()),
            Box::new(degraded.clone()),
            Box::new(pac_failures.clone()),
            Box::new(groups_dropped.clone()),
        ] {
            must(registry.register(c));
        }
        Self {
            ldap_duration,
            dc_up,
            failovers,
            cache,
            lookups,
            degraded,
            pac_failures,
            groups_dropped,
        }
    }
}
