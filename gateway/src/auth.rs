//! The gateway's side of Kerberos: the acceptor with its live key set, replay cache, clock and
//! randomness, plus the audit line for every decision.

use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use kdc_bridge::proto::acceptor::{AcceptRequest, Accepted, Acceptor, AcceptorConfig, Randomness};
use kdc_bridge::proto::error::{AcceptError, Fault};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::replay::{MemoryReplayCache, ReplayCache as _};
use rand::RngCore as _;

use crate::config::KerberosConfig;
use crate::metrics::Metrics;

/// Unix seconds now.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// The thread-local CSPRNG as the acceptor's (and the directory's) randomness.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandomness;

impl Randomness for ThreadRandomness {
    fn fill(&mut self, buf: &mut [u8]) {
        rand::thread_rng().fill_bytes(buf);
    }
}

/// The acceptor and its state, shared by all requests.
pub struct Authenticator {
    acceptor: Acceptor,
    keys: RwLock<Arc<ServiceKeys>>,
    replay: MemoryReplayCache,
    retention_secs: i64,
    metrics: Metrics,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator")
            .field("acceptor", &self.acceptor)
            .finish_non_exhaustive()
    }
}

impl Authenticator {
    /// Builds it from the configuration; `keys` were read while checking the configuration.
    pub fn new(cfg: &KerberosConfig, keys: ServiceKeys, metrics: Metrics) -> Self {
        let acceptor = Acceptor::new(AcceptorConfig {
            spns: cfg.spns.clone(),
            max_skew_secs: cfg.max_skew_secs,
            channel_bindings: cfg.channel_bindings,
            pac: cfg.pac,
        });
        let ttl = std::time::Duration::from_secs(
            u64::try_from(cfg.max_skew_secs.saturating_mul(2)).unwrap_or(600),
        );
        let this = Self {
            acceptor,
            keys: RwLock::new(Arc::new(keys)),
            replay: MemoryReplayCache::new(ttl, cfg.replay_cache_capacity),
            retention_secs: cfg.retired_key_retention_secs,
            metrics,
        };
        this.publish_key_counts();
        this
    }

    fn current_keys(&self) -> Arc<ServiceKeys> {
        match self.keys.read() {
            Ok(k) => Arc::clone(&k),
            // A poisoned lock only means a reload panicked mid-way; the Arc inside is whole.
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Verifies a token, recording metrics and one audit line.
    pub fn accept(
        &self,
        token: &[u8],
        client: Option<SocketAddr>,
        channel_binding: Option<&[u8; 16]>,
    ) -> Result<Accepted, AcceptError> {
        let keys = self.current_keys();
        let started = Instant::now();
        let req = AcceptRequest {
            token,
            now: unix_now(),
            channel_binding,
        };
        let result = self
            .acceptor
            .accept(&keys, &self.replay, &mut ThreadRandomness, &req);
        self.metrics
            .accept_duration
            .observe(started.elapsed().as_secs_f64());
        self.metrics.token_size.observe(token.len() as f64);
        let len = i64::try_from(token.len()).unwrap_or(i64::MAX);
        // Racy between two requests, off by one token at worst: a hint for `doctor`.
        if len > self.metrics.token_size_max.get() {
            self.metrics.token_size_max.set(len);
        }
        let client = client.map(|a| a.ip().to_string()).unwrap_or_default();
        match &result {
            Ok(ok) => {
                self.metrics
                    .handshakes
                    .with_label_values(&["success", "ok"])
                    .inc();
                tracing::info!(
                    target: "security",
                    event = "authentication",
                    result = "success",
                    principal = %ok.client,
                    client = %client,
                    service = %ok.service,
                    enctype = ok.ticket_enctype.name(),
                    kvno = ok.kvno,
                    "Kerberos authentication succeeded"
                );
            }
            Err(e) => {
                self.record_failure(e.reason());
                if let Some(pac) = e.pac_reason() {
                    self.metrics
                        .directory
                        .pac_failures
                        .with_label_values(&[pac])
                        .inc();
                }
                let detail = e.to_string();
                match e.fault() {
                    Fault::Client => tracing::info!(
                        target: "security", event = "authentication", result = "failure",
                        reason = e.reason(), client = %client, detail = %detail,
                        "Kerberos authentication refused"
                    ),
                    Fault::Internal | Fault::Dependency => tracing::warn!(
                        target: "security", event = "authentication", result = "failure",
                        reason = e.reason(), client = %client, fault = %e.fault(), detail = %detail,
                        "Kerberos authentication failed on our side"
                    ),
                }
            }
        }
        result
    }

    /// Counts a refusal that happened before the acceptor (header problems).
    pub fn record_failure(&self, reason: &'static str) {
        self.metrics
            .handshakes
            .with_label_values(&["failure", reason])
            .inc();
    }

    /// Replaces the keys after the keytab changed, keeping retired ones for the retention time.
    pub fn reload(&self, keytab: &Keytab) {
        let next = Arc::new(
            self.current_keys()
                .reloaded(keytab, unix_now(), self.retention_secs),
        );
        for spn in &self.acceptor.config().spns {
            if !next
                .iter()
                .any(|k| k.retired_at.is_none() && k.principal.matches(spn))
            {
                tracing::warn!(
                    target: "admin", event = "keytab_reload", spn = %spn,
                    "the new keytab has no key for this configured SPN; only retired keys remain for it"
                );
            }
        }
        let (current, retired) = counts(&next);
        self.swap(next);
        self.publish_key_counts();
        tracing::info!(target: "admin", event = "keytab_reload", current, retired, "keytab reloaded");
    }

    /// Drops retired keys whose retention has ended. Called on every keytab poll, so retention
    /// holds even when the file never changes again.
    pub fn prune(&self) {
        let Some(next) = self.current_keys().pruned(unix_now(), self.retention_secs) else {
            return;
        };
        let dropped = self.current_keys().len() - next.len();
        self.swap(Arc::new(next));
        self.publish_key_counts();
        tracing::info!(target: "admin", event = "keytab_prune", dropped, "retired keys reached the end of their retention");
    }

    fn swap(&self, next: Arc<ServiceKeys>) {
        match self.keys.write() {
            Ok(mut k) => *k = next,
            Err(poisoned) => *poisoned.into_inner() = next,
        }
    }

    fn publish_key_counts(&self) {
        let (current, retired) = counts(&self.current_keys());
        self.metrics
            .keytab_keys
            .with_label_values(&["current"])
            .set(current);
        self.metrics
            .keytab_keys
            .with_label_values(&["retired"])
            .set(retired);
    }

    /// Whether any key is loaded (readiness).
    pub fn has_keys(&self) -> bool {
        !self.current_keys().is_empty()
    }

    /// Updates gauges read at scrape time.
    pub fn refresh_gauges(&self) {
        self.metrics
            .replay_cache_entries
            .set(i64::try_from(self.replay.len()).unwrap_or(i64::MAX));
    }
}

fn counts(keys: &ServiceKeys) -> (i64, i64) {
    let retired = keys.iter().filter(|k| k.retired_at.is_some()).count();
    let current = keys.len() - retired;
    (
        i64::try_from(current).unwrap_or(i64::MAX),
        i64::try_from(retired).unwrap_or(i64::MAX),
    )
}
