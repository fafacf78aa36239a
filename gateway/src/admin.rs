//! The admin listener: `/healthz`, `/readyz` and `/metrics`, apart from user traffic.

use std::sync::Arc;

use async_trait::async_trait;
use http::{Response, StatusCode};
use pingora::apps::http_app::ServeHttp;
use pingora::protocols::http::ServerSession;

use crate::auth::Authenticator;
use crate::metrics::Metrics;

/// The admin HTTP app.
#[derive(Debug)]
pub struct Admin {
    /// For readiness and scrape-time gauges.
    pub auth: Arc<Authenticator>,
    /// The registry.
    pub metrics: Metrics,
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
            "/readyz" => {
                if self.auth.has_keys() {
                    plain(StatusCode::OK, "text/plain", b"ready\n".to_vec())
                } else {
                    plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "text/plain",
                        b"no service keys loaded\n".to_vec(),
                    )
                }
            }
            "/metrics" => {
                self.auth.refresh_gauges();
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
