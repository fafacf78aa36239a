//! The admin listener: `/healthz`, `/readyz` and `/metrics`, apart from user traffic.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::auth::Authenticator;
use crate::config::DegradedPolicy;
use crate::identity::resolve::Resolver;
use crate::metrics::Metrics;

/// The admin HTTP app.
#[derive(Debug)]
pub struct Admin {
    /// For readiness and scrape-time gauges.
    pub auth: Arc<Authenticator>,
    /// The registry.
    pub metrics: Metrics,
    /// The directory's state, for `/readyz`.
    pub resolver: Arc<Resolver>,
    /// What sign-in does without a DC.
    pub degraded: DegradedPolicy,
}

impl Admin {
    /// `/readyz`: 503 without service keys. Without any DC in rotation the gateway still
    /// signs users in from PACs and cache (`allow-with-pac`): it answers 200 with `degraded`
    /// in the body, so a load balancer keeps it, while dashboards and probes that read the
    /// body see it; with `degraded = "deny"` it answers 503.
    fn readiness(&self) -> Response<Vec<u8>> {
        if !self.auth.has_keys() {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                b"not ready: no service keys loaded\n".to_vec(),
            );
        }
        let Some(status) = self.resolver.status() else {
            return plain(StatusCode::OK, "text/plain", b"ready\n".to_vec());
        };
        let mut body = String::new();
        for dc in &status.dcs {
            let latency = dc
                .latency
                .map(|l| format!(" {:.1} ms", l.as_secs_f64() * 1000.0))
                .unwrap_or_default();
            let failure = dc
                .last_failure
                .map(|f| format!(" last failure: {f}"))
                .unwrap_or_default();
            body.push_str(&format!(
                "dc {} {}{latency}{failure}\n",
                dc.dc,
                if dc.up { "up" } else { "down" }
            ));
        }
        if status.is_available() {
            plain(
                StatusCode::OK,
                "text/plain",
                format!("ready\n{body}").into_bytes(),
            )
        } else if self.degraded == DegradedPolicy::Deny {
            plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "text/plain",
                format!(
                    "not ready: no domain controller reachable (directory.degraded = deny)\n{body}"
                )
                .into_bytes(),
            )
        } else {
            plain(
                StatusCode::OK,
                "text/plain",
                format!("degraded: no domain controller reachable; signing in with PACs and cached attributes\n{body}")
                    .into_bytes(),
            )
        }
    }
}

fn plain(status: StatusCode, content_type: &str, body: Vec<u8>) -> Response<Vec<u8>> {
    let mut r = Response::new(body);
    *r.status_mut() = status;
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

#[async_trait]
impl ServeHttp for Admin {
    async fn response(&self, session: &mut ServerSession) -> Response<Vec<u8>> {
        match session.req_header().uri.path() {
            "/healthz" => plain(StatusCode::OK, "text/plain", b"ok\n".to_vec()),
            "/readyz" => self.readiness(),
            "/metrics" => {
                self.auth.refresh_gauges();
                let _ = self.resolver.status();
                plain(
                    StatusCode::OK,
                    "text/plain; version=0.0.4",
                    self.metrics.render(),
                )
            }
            _ => plain(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
        }
    }
}
