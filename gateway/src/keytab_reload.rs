//! The background task that reloads the keytab when its file changes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use kdc_bridge::net::keytab_watch::KeytabWatcher;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// Polls the keytab file and swaps the keys in when it changes. Requests keep using the keys
/// they started with; nothing is dropped.
#[derive(Debug)]
pub struct KeytabReloader {
    /// Where new keys go.
    pub auth: Arc<Authenticator>,
    /// The file watcher.
    pub watcher: std::sync::Mutex<KeytabWatcher>,
    /// Poll interval.
    pub interval: Duration,
    /// Metrics.
    pub metrics: Metrics,
}

impl KeytabReloader {
    fn poll_once(&self) {
        let result = match self.watcher.lock() {
            Ok(mut w) => w.poll(),
            Err(poisoned) => poisoned.into_inner().poll(),
        };
        match result {
            Ok(Some(keytab)) => {
                self.auth.reload(&keytab);
                self.metrics.keytab_reloads.with_label_values(&["ok"]).inc();
            }
            Ok(None) => {}
            Err(e) => {
                self.metrics
                    .keytab_reloads
                    .with_label_values(&["error"])
                    .inc();
                tracing::error!(target: "admin", event = "keytab_reload", error = %e, "keeping the current keys");
            }
        }
    }
}

#[async_trait]
impl BackgroundService for KeytabReloader {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let mut tick = tokio::time::interval(self.interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = tick.tick() => self.poll_once(),
            }
        }
    }
}
