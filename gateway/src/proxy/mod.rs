//! The Pingora phases: route, authenticate (session cookie or Negotiate), forward with the
//! identity header, answer with the mutual-authentication token and the cookie.
//!
//! Phases stay thin: decisions live in [`crate::auth`], [`crate::negotiate`],
//! [`crate::session`] and [`crate::http_error`].

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use bytes::Bytes;
use http::header::{AUTHORIZATION, COOKIE, SET_COOKIE, WWW_AUTHENTICATE};
use http::HeaderName;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::Result;

use crate::auth::{unix_now, Authenticator};
use crate::config::{Route, RouteAuth};
use crate::http_error::{self, Refusal};
use crate::metrics::Metrics;
use crate::negotiate;
use crate::session::{find_cookie, strip_cookie, CookieRejection, KeyRing, Session as UserSession};

/// Session cookie settings in use.
#[derive(Debug)]
pub struct Sessions {
    /// The key ring and cookie name.
    pub ring: KeyRing,
    /// Cookie lifetime in seconds.
    pub lifetime_secs: i64,
}

/// What the gateway knows about one listening socket.
#[derive(Debug, Clone)]
pub struct ListenerInfo {
    /// The address it listens on.
    pub address: SocketAddr,
    /// Whether it is TLS (cookies get `Secure`).
    pub tls: bool,
    /// The channel-binding hash of its certificate (RFC 5929 tls-server-end-point).
    pub channel_binding: Option<[u8; 16]>,
}

/// The proxy.
#[derive(Debug)]
pub struct Gateway {
    /// Routes, longest prefix first.
    pub routes: Vec<Route>,
    /// Kerberos.
    pub auth: Arc<Authenticator>,
    /// Session cookies, if enabled.
    pub sessions: Option<Sessions>,
    /// The identity header.
    pub user_header: HeaderName,
    /// Headers removed from every client request.
    pub strip_headers: Vec<HeaderName>,
    /// Body of the 401.
    pub challenge_body: Bytes,
    /// Largest `Authorization` value.
    pub max_authorization_bytes: usize,
    /// Listening sockets.
    pub listeners: Vec<ListenerInfo>,
    /// Metrics.
    pub metrics: Metrics,
}

/// Per-request state.
#[derive(Debug, Default)]
pub struct RequestCtx {
    request_id: String,
    started: Option<Instant>,
    route: Option<usize>,
    principal: Option<String>,
    response_token: Option<Vec<u8>>,
    set_cookie: Option<String>,
    upstream_started: Option<Instant>,
}

/// Header carrying the request id to the upstream (and from a front load balancer to us).
const REQUEST_ID: &str = "x-request-id";

/// The request id: the one a front load balancer set, if it is short printable ASCII, so logs
/// line up across hops; otherwise 16 random hex digits.
fn request_id(req: &RequestHeader) -> String {
    if let Some(v) = req.headers.get(REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic()) {
            return String::from_utf8_lossy(b).into_owned();
        }
    }
    format!("{:016x}", rand::random::<u64>())
}

/// Whether `path` falls under `prefix`, on path-segment boundaries (`/app` covers `/app` and
/// `/app/x`, not `/application`).
fn under_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => {
            prefix.ends_with('/')
                || rest.is_empty()
                || rest.starts_with('/')
                || rest.starts_with('?')
        }
        None => false,
    }
}

/// Why a request path is refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// An encoded `/` or `\`, or a raw `\`: upstreams disagree on what they mean, so a
    /// route decision made on them could be undone upstream.
    AmbiguousSeparator,
}

/// The path that routing and the upstream both see: RFC 3986 §5.2.4 dot segments removed
/// (`%2e` counts as `.`), so `/static/../admin` is routed as `/admin`, never under `/static/`.
/// Returns `None` when the path is already normal.
pub fn normalize_path(path: &str) -> Result<Option<String>, PathError> {
    let lower = path.to_ascii_lowercase();
    if path.contains('\\') || lower.contains("%2f") || lower.contains("%5c") {
        return Err(PathError::AmbiguousSeparator);
    }
    let is_dot = |seg: &str| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if !path.split('/').any(is_dot) {
        return Ok(None);
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        match s.as_str() {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            _ => out.push(seg),
        }
    }
    let joined = out.join("/");
    Ok(Some(if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }))
}

/// Whether an upstream may read header `name` as `identity`: the same name ignoring case and
/// `_` versus `-`, since CGI-style upstreams (PHP, WSGI, Rack) see both `X-Remote-User` and
/// `X_Remote_User` as `HTTP_X_REMOTE_USER`.
fn same_for_cgi(name: &str, identity: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    name.len() == identity.len()
        && name
            .bytes()
            .zip(identity.bytes())
            .all(|(a, b)| fold(a) == fold(b))
}

/// Removes the identity headers a client sent, in every spelling an upstream may take for them.
fn strip_identity_headers(req: &mut RequestHeader, identity: &[HeaderName]) {
    let doomed: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|n| {
            identity
                .iter()
                .any(|i| same_for_cgi(n.as_str(), i.as_str()))
        })
        .cloned()
        .collect();
    for h in &doomed {
        req.remove_header(h);
    }
}

impl Gateway {
    fn route_for(&self, path: &str) -> Option<usize> {
        self.routes
            .iter()
            .position(|r| under_prefix(path, &r.prefix))
    }

    fn listener(&self, session: &Session) -> Option<&ListenerInfo> {
        let local = session.server_addr().and_then(|a| a.as_inet()).copied()?;
        self.listeners.iter().find(|l| {
            l.address.port() == local.port()
                && (l.address.ip().is_unspecified() || l.address.ip() == local.ip())
        })
    }

    /// Tries the session cookie. Returns the principal if it is valid.
    fn check_cookie(&self, session: &mut Session) -> Option<String> {
        let sessions = self.sessions.as_ref()?;
        let name = sessions.ring.cookie_name();
        let value = find_cookie(
            session
                .req_header()
                .headers
                .get_all(COOKIE)
                .iter()
                .map(|v| v.as_bytes()),
            name,
        )?;
        let outcome = sessions.ring.open(value, unix_now());
        let label = match &outcome {
            Ok(_) => "accepted",
            Err(rejection) => rejection.reason(),
        };
        self.metrics
            .session_cookies
            .with_label_values(&[label])
            .inc();
        match outcome {
            Ok(s) => Some(s.principal),
            Err(CookieRejection::Expired) => None,
            Err(r) => {
                tracing::info!(target: "security", event = "session_cookie", result = "rejected", reason = r.reason());
                None
            }
        }
    }

    /// Removes our cookie from the request so the upstream never sees it.
    fn strip_session_cookie(&self, req: &mut RequestHeader) {
        let Some(sessions) = &self.sessions else {
            return;
        };
        let values: Vec<String> = req
            .headers
            .get_all(COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect();
        if values.is_empty() {
            return;
        }
        req.remove_header(&COOKIE);
        for v in values {
            if let Some(rest) = strip_cookie(&v, sessions.ring.cookie_name()) {
                // Values came from a valid header minus some pairs, so they stay valid.
                let _ = req.append_header(COOKIE, rest);
            }
        }
    }

    fn issue_cookie(
        &self,
        principal: &str,
        auth_time: i64,
        ticket_end: i64,
        secure: bool,
    ) -> Option<String> {
        let sessions = self.sessions.as_ref()?;
        let now = unix_now();
        // A session never outlives the ticket it was made from.
        let expires_at = (now + sessions.lifetime_secs).min(ticket_end);
        if expires_at <= now {
            return None;
        }
        let value = sessions.ring.seal(&UserSession {
            principal: principal.to_owned(),
            issued_at: now,
            expires_at,
            auth_time,
        });
        self.metrics
            .session_cookies
            .with_label_values(&["issued"])
            .inc();
        Some(
            sessions
                .ring
                .set_cookie_header(&value, expires_at - now, secure),
        )
    }

    /// Replaces the request path, keeping the query. False if the result is not a valid URI.
    fn set_path(&self, req: &mut RequestHeader, path: &str) -> bool {
        let pq = match req.uri.query() {
            Some(q) => format!("{path}?{q}"),
            None => path.to_owned(),
        };
        match http::Uri::builder().path_and_query(pq).build() {
            Ok(uri) => {
                req.set_uri(uri);
                true
            }
            Err(_) => false,
        }
    }

    async fn refuse(&self, session: &mut Session, refusal: Refusal) -> Result<bool> {
        let (header, body) = http_error::response(&refusal, &self.challenge_body)?;
        session
            .write_response_header(Box::new(header), false)
            .await?;
        session.write_response_body(Some(body), true).await?;
        Ok(true)
    }
}

#[async_trait]
impl ProxyHttp for Gateway {
    type CTX = RequestCtx;

    fn new_ctx(&self) -> Self::CTX {
        RequestCtx::default()
    }

    async fn request_filter(&self, session: &mut Session, ctx: &mut Self::CTX) -> Result<bool> {
        ctx.started = Some(Instant::now());
        ctx.request_id = request_id(session.req_header());
        // Entered only around synchronous work: a guard held across an await would attach
        // other requests' events to this span.
        let span = tracing::info_span!("request", request_id = %ctx.request_id);
        // Identity headers from clients are never trusted, on any route.
        strip_identity_headers(session.req_header_mut(), &self.strip_headers);
        let path = match normalize_path(session.req_header().uri.path()) {
            Ok(None) => session.req_header().uri.path().to_owned(),
            Ok(Some(normal)) => {
                if !self.set_path(session.req_header_mut(), &normal) {
                    return self.refuse(session, Refusal::BadRequest).await;
                }
                normal
            }
            Err(PathError::AmbiguousSeparator) => {
                tracing::info!(target: "request", event = "bad_path", "encoded or back slash in the path");
                return self.refuse(session, Refusal::BadRequest).await;
            }
        };
        let Some(route) = self.route_for(&path) else {
            return self.refuse(session, Refusal::NotFound).await;
        };
        ctx.route = Some(route);
        if self
            .routes
            .get(route)
            .is_none_or(|r| r.auth == RouteAuth::Public)
        {
            // Browsers send the cookie (Path=/) to public routes too; their upstream could
            // replay it to sign in as the user on every other route. Likewise a Negotiate token
            // (curl sends one to every path): we never consumed it, so it would still be fresh.
            self.strip_session_cookie(session.req_header_mut());
            let negotiate = session
                .req_header()
                .headers
                .get(AUTHORIZATION)
                .is_some_and(|v| {
                    v.as_bytes()
                        .get(..9)
                        .is_some_and(|s| s.eq_ignore_ascii_case(b"negotiate"))
                });
            if negotiate {
                session.req_header_mut().remove_header(&AUTHORIZATION);
            }
            return Ok(false);
        }

        if let Some(principal) = self.check_cookie(session) {
            ctx.principal = Some(principal);
            self.strip_session_cookie(session.req_header_mut());
            session.req_header_mut().remove_header(&AUTHORIZATION);
            return Ok(false);
        }

        let Some(value) = session
            .req_header()
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec())
        else {
            if let Some(r) = self.routes.get(route) {
                self.metrics
                    .challenges
                    .with_label_values(&[&r.prefix])
                    .inc();
            }
            return self.refuse(session, Refusal::Challenge).await;
        };
        let token = match negotiate::extract_token(&value, self.max_authorization_bytes) {
            Ok(t) => t,
            Err(e) => {
                self.auth.record_failure(e.reason());
                let client = session
                    .client_addr()
                    .and_then(|a| a.as_inet())
                    .map(|a| a.ip().to_string())
                    .unwrap_or_default();
                span.in_scope(|| {
                    tracing::info!(
                        target: "security", event = "authentication", result = "failure",
                        reason = e.reason(), client = %client, detail = %e,
                        "Negotiate header refused"
                    );
                });
                let refusal = match e {
                    negotiate::HeaderError::TooLarge { .. } => Refusal::HeaderTooLarge,
                    _ => Refusal::Challenge,
                };
                return self.refuse(session, refusal).await;
            }
        };
        let listener = self.listener(session).cloned();
        let client = session.client_addr().and_then(|a| a.as_inet()).copied();
        let binding = listener.as_ref().and_then(|l| l.channel_binding);
        match span.in_scope(|| self.auth.accept(&token, client, binding.as_ref())) {
            Ok(ok) => {
                let principal = ok.client.to_string();
                let secure = listener.as_ref().is_some_and(|l| l.tls);
                ctx.set_cookie = self.issue_cookie(&principal, ok.auth_time, ok.end_time, secure);
                ctx.response_token = ok.response_token;
                ctx.principal = Some(principal);
                session.req_header_mut().remove_header(&AUTHORIZATION);
                self.strip_session_cookie(session.req_header_mut());
                Ok(false)
            }
            Err(_) => self.refuse(session, Refusal::Challenge).await,
        }
    }

    async fn upstream_peer(
        &self,
        _session: &mut Session,
        ctx: &mut Self::CTX,
    ) -> Result<Box<HttpPeer>> {
        let route = ctx.route.and_then(|i| self.routes.get(i)).ok_or_else(|| {
            pingora::Error::explain(
                pingora::ErrorType::InternalError,
                "no route chosen for the request",
            )
        })?;
        // Resolve here, asynchronously: Pingora's HttpPeer::new resolves with a blocking call and
        // panics when the name does not resolve.
        let addr = match route.addr {
            Some(a) => a,
            None => tokio::net::lookup_host(route.upstream.as_str())
                .await
                .ok()
                .and_then(|mut addrs| addrs.next())
                .ok_or_else(|| {
                    // An upstream fault: the client gets a 502.
                    pingora::Error::explain(
                        pingora::ErrorType::ConnectNoRoute,
                        format!("upstream {} does not resolve", route.upstream),
                    )
                    .into_up()
                })?,
        };
        Ok(Box::new(HttpPeer::new(addr, route.tls, route.sni.clone())))
    }

    async fn upstream_request_filter(
        &self,
        _session: &mut Session,
        upstream_request: &mut RequestHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(p) = &ctx.principal {
            upstream_request.insert_header(self.user_header.clone(), p.as_str())?;
        }
        upstream_request.insert_header(REQUEST_ID, ctx.request_id.as_str())?;
        ctx.upstream_started = Some(Instant::now());
        Ok(())
    }

    async fn upstream_response_filter(
        &self,
        _session: &mut Session,
        _upstream_response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let (Some(started), Some(route)) = (
            ctx.upstream_started.take(),
            ctx.route.and_then(|i| self.routes.get(i)),
        ) {
            self.metrics
                .upstream_duration
                .with_label_values(&[&route.prefix])
                .observe(started.elapsed().as_secs_f64());
        }
        Ok(())
    }

    async fn logging(
        &self,
        session: &mut Session,
        error: Option<&pingora::Error>,
        ctx: &mut Self::CTX,
    ) {
        let status = session.response_written().map_or(0, |r| r.status.as_u16());
        let route = ctx
            .route
            .and_then(|i| self.routes.get(i))
            .map_or("", |r| r.prefix.as_str());
        let millis = ctx
            .started
            .map_or(0.0, |t| t.elapsed().as_secs_f64() * 1000.0);
        let req = session.req_header();
        tracing::info!(
            target: "request",
            request_id = %ctx.request_id,
            method = %req.method,
            path = %req.uri.path(),
            route,
            status,
            principal = ctx.principal.as_deref().unwrap_or(""),
            duration_ms = format_args!("{millis:.3}"),
            error = error.map(|e| e.etype().as_str()).unwrap_or(""),
        );
    }

    async fn response_filter(
        &self,
        _session: &mut Session,
        response: &mut ResponseHeader,
        ctx: &mut Self::CTX,
    ) -> Result<()> {
        if let Some(token) = ctx.response_token.take() {
            response.insert_header(WWW_AUTHENTICATE, negotiate::build_final_challenge(&token))?;
        }
        if let Some(cookie) = ctx.set_cookie.take() {
            response.append_header(SET_COOKIE, cookie)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::{same_for_cgi, strip_identity_headers, under_prefix};
    use pingora::http::RequestHeader;

    #[test]
    fn dot_segments_are_removed_before_routing() {
        use super::{normalize_path, PathError};
        assert_eq!(normalize_path("/app/x"), Ok(None));
        assert_eq!(
            normalize_path("/static/../admin"),
            Ok(Some("/admin".into()))
        );
        assert_eq!(
            normalize_path("/static/%2e%2e/admin"),
            Ok(Some("/admin".into()))
        );
        assert_eq!(
            normalize_path("/static/%2E./admin/"),
            Ok(Some("/admin/".into()))
        );
        assert_eq!(normalize_path("/a/./b/."), Ok(Some("/a/b/".into())));
        assert_eq!(normalize_path("/../../etc"), Ok(Some("/etc".into())));
        assert_eq!(normalize_path("/a/.."), Ok(Some("/".into())));
        assert_eq!(normalize_path("/a..b/.c"), Ok(None));
        assert_eq!(
            normalize_path("/static%2f..%2fadmin"),
            Err(PathError::AmbiguousSeparator)
        );
        assert_eq!(
            normalize_path("/static\\..\\admin"),
            Err(PathError::AmbiguousSeparator)
        );
    }

    #[test]
    fn prefixes_match_on_segments() {
        assert!(under_prefix("/app", "/app"));
        assert!(under_prefix("/app/x", "/app"));
        assert!(!under_prefix("/application", "/app"));
        assert!(under_prefix("/application", "/"));
        assert!(under_prefix("/app/", "/app/"));
        assert!(!under_prefix("/ap", "/app"));
    }

    #[test]
    fn identity_headers_match_in_every_cgi_spelling() {
        assert!(same_for_cgi("x-remote-user", "x-remote-user"));
        assert!(same_for_cgi("x_remote_user", "x-remote-user"));
        assert!(same_for_cgi("X_Remote-USER", "x-remote-user"));
        assert!(!same_for_cgi("x-remote-users", "x-remote-user"));
        assert!(!same_for_cgi("x-remote-use", "x-remote-user"));
        assert!(!same_for_cgi("x.remote.user", "x-remote-user"));
    }

    #[test]
    fn strips_identity_headers_and_nothing_else() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (n, v) in [
            ("X-Remote-User", "a"),
            ("x_remote_user", "b"),
            ("X_REMOTE_GROUPS", "c"),
            ("X-Other", "d"),
            ("X-Remote-User-Agent", "e"),
        ] {
            req.append_header(n, v).unwrap();
        }
        let identity = [
            http::HeaderName::from_static("x-remote-user"),
            http::HeaderName::from_static("x-remote-groups"),
        ];
        strip_identity_headers(&mut req, &identity);
        let mut left: Vec<&str> = req.headers.keys().map(|n| n.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-other", "x-remote-user-agent"]);
    }
}
