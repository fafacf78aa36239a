//! The directory's background work: SRV discovery at start and every ten minutes, DC health
//! checks every `directory.health_check_interval_seconds`, and the degraded gauge.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;

use super::resolve::Resolver;
use crate::auth::ThreadRandomness;

/// How often DNS SRV records are read again.
const REDISCOVER_EVERY: Duration = Duration::from_secs(600);

/// Runs health checks and discovery.
#[derive(Debug)]
pub struct DirectoryHealth {
    /// The resolver holding the directory.
    pub resolver: Arc<Resolver>,
    /// Between health checks.
    pub interval: Duration,
    /// Whether DCs come from DNS SRV records.
    pub discovery: bool,
}

impl DirectoryHealth {
    async fn rediscover(&self) {
        let Some(directory) = self.resolver.directory() else {
            return;
        };
        match directory.rediscover(&mut ThreadRandomness).await {
            Ok(n) => tracing::info!(
                target: "admin", event = "dc_discovery", found = n,
                "domain controllers discovered through DNS SRV"
            ),
            Err(e) => tracing::error!(
                target: "admin", event = "dc_discovery", error = %e,
                "DNS SRV discovery of domain controllers failed; keeping the known ones"
            ),
        }
    }
}

#[async_trait]
impl BackgroundService for DirectoryHealth {
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(directory) = self.resolver.directory() else {
            return;
        };
        let mut discovered = None::<Instant>;
        let mut ticks = tokio::time::interval(self.interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = shutdown.changed() => return,
                _ = ticks.tick() => {}
            }
            if self.discovery && discovered.is_none_or(|t| t.elapsed() >= REDISCOVER_EVERY) {
                self.rediscover().await;
                discovered = Some(Instant::now());
            }
            directory.check_health().await;
            // Sets the degraded gauge.
            let _ = self.resolver.status();
        }
    }
}
