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
    /// Whether the current bad file mode was already reported.
    pub mode_reported: std::sync::atomic::AtomicBool,
}

impl KeytabReloader {
    /// Whether other users can read the keytab; such a file is not loaded (as at start-up).
    fn exposed_mode(&self, path: &std::path::Path) -> Option<u32> {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o007 != 0).then_some(mode)
    }

    fn poll_once(&self) {
        self.auth.prune();
        let path = match self.watcher.lock() {
            Ok(w) => w.path().to_owned(),
            Err(poisoned) => poisoned.into_inner().path().to_owned(),
        };
        if let Some(mode) = self.exposed_mode(&path) {
            if !self
                .mode_reported
                .swap(true, std::sync::atomic::Ordering::Relaxed)
            {
                self.metrics
                    .keytab_reloads
                    .with_label_values(&["error"])
                    .inc();
                tracing::error!(
                    target: "admin", event = "keytab_reload", path = %path.display(),
                    "keytab can be read by any user (mode {mode:04o}); not loading it until chmod 600"
                );
            }
            return;
        }
        self.mode_reported
            .store(false, std::sync::atomic::Ordering::Relaxed);
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
