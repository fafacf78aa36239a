//! The directory's measurements into Prometheus, and DC state changes into the log.

use std::time::Duration;

use kdc_bridge::net::ldap::{CacheEvent, Observer, Operation};

use crate::metrics::DirectoryMetrics;

/// Implements kdc-bridge's [`Observer`] over the gateway's registry.
#[derive(Debug, Clone)]
pub struct MetricsObserver {
    metrics: DirectoryMetrics,
}

impl MetricsObserver {
    /// Reports into `metrics`.
    pub fn new(metrics: DirectoryMetrics) -> Self {
        Self { metrics }
    }
}

impl Observer for MetricsObserver {
    fn ldap_operation(
        &self,
        dc: &str,
        op: Operation,
        elapsed: Duration,
        result: Result<(), &'static str>,
    ) {
        let result = result.err().unwrap_or("ok");
        self.metrics
            .ldap_duration
            .with_label_values(&[dc, op.as_str(), result])
            .observe(elapsed.as_secs_f64());
    }

    fn dc_state_changed(&self, dc: &str, up: bool) {
        self.metrics
            .dc_up
            .with_label_values(&[dc])
            .set(i64::from(up));
        if up {
            tracing::info!(event = "dc_up", dc, "domain controller back in rotation");
        } else {
            tracing::warn!(
                event = "dc_down",
                dc,
                "domain controller taken out of rotation"
            );
        }
    }

    fn failover(&self, from: &str, to: &str, reason: &'static str) {
        self.metrics
            .failovers
            .with_label_values(&[from, reason])
            .inc();
        tracing::warn!(
            event = "dc_failover",
            from,
            to,
            reason,
            "directory request moved to the next domain controller"
        );
    }

    fn cache(&self, event: CacheEvent) {
        self.metrics
            .cache
            .with_label_values(&[event.as_str()])
            .inc();
    }
}
