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
use kdc_bridge::proto::pac::PacIdentity;
use kdc_bridge::proto::principal::Principal;
use pingora::http::{RequestHeader, ResponseHeader};
use pingora::prelude::HttpPeer;
use pingora::proxy::{ProxyHttp, Session};
use pingora::Result;

mod login;
mod request;
mod saml;

use self::request::{
    normalize_path, request_id, strip_identity_headers, under_prefix, PathError, REQUEST_ID,
};
use crate::auth::{unix_now, Authenticator};
use crate::config::saml::SamlSettings;
use crate::config::{IdentityHeaders, Route, RouteAuth};
use crate::http_error::{self, Refusal};
use crate::identity::headers;
use crate::identity::resolve::{Denied, Resolver};
use crate::metrics::Metrics;
use crate::negotiate;
use crate::session::{
    find_cookie, strip_cookie, CookieRejection, KeyRing, Session as UserSession, SignInMethod,
};
use kdc_bridge::proto::acceptor::Accepted;

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
    /// The identity headers.
    pub identity: IdentityHeaders,
    /// Groups and attributes from the PAC and AD.
    pub resolver: Arc<Resolver>,
    /// Headers removed from every client request.
    pub strip_headers: Vec<HeaderName>,
    /// Body of the 401.
    pub challenge_body: Bytes,
    /// Largest `Authorization` value.
    pub max_authorization_bytes: usize,
    /// Listening sockets.
    pub listeners: Vec<ListenerInfo>,
    /// The SAML identity provider, if configured.
    pub saml: Option<Arc<SamlSettings>>,
    /// The password form's throttle.
    pub throttle: policy::throttle::Throttle,
    /// Metrics.
    pub metrics: Metrics,
}

/// The value of the request's cookie `name`.
fn request_cookie<'a>(session: &'a Session, name: &str) -> Option<&'a str> {
    find_cookie(
        session
            .req_header()
            .headers
            .get_all(COOKIE)
            .iter()
            .map(|v| v.as_bytes()),
        name,
    )
}

/// What the request's `Authorization: Negotiate` amounts to.
enum Negotiated {
    /// No `Authorization` header.
    Absent,
    /// A refused header or token (logged and counted).
    Refused(Refusal),
    /// A valid token.
    Accepted {
        /// What the acceptor found.
        ok: Box<Accepted>,
        /// Whether it came over TLS (the cookie gets `Secure`).
        secure: bool,
    },
}

/// Per-request state.
#[derive(Debug, Default)]
pub struct RequestCtx {
    request_id: String,
    started: Option<Instant>,
    route: Option<usize>,
    principal: Option<String>,
    identity_headers: Vec<(String, String)>,
    response_token: Option<Vec<u8>>,
    set_cookie: Option<String>,
    upstream_started: Option<Instant>,
}

impl Gateway {
    /// Resolves the identity of a signed-in `principal` (`pac`: the verified PAC of this
    /// request's ticket) into `ctx`'s identity headers, or the refusal when AD says no.
    async fn identify(
        &self,
        ctx: &mut RequestCtx,
        principal: &str,
        pac: Option<Box<PacIdentity>>,
    ) -> std::result::Result<(), Refusal> {
        let Ok(parsed) = Principal::parse(principal) else {
            // Cookies and tickets only carry principals that parsed before.
            return Err(Refusal::Challenge);
        };
        let identity = match self.resolver.resolve(&parsed, pac).await {
            Ok(id) => id,
            Err(denied) => {
                tracing::info!(
                    target: "security", event = "authorization", result = "failure",
                    reason = denied.reason(), principal = %principal, request_id = %ctx.request_id,
                    "signed-in user refused"
                );
                return Err(match denied {
                    Denied::AccountDisabled => Refusal::Forbidden,
                    Denied::DirectoryUnavailable => Refusal::Unavailable,
                });
            }
        };
        let built = headers::build(&self.identity, &identity);
        if built.groups_dropped > 0 {
            self.metrics
                .directory
                .groups_dropped
                .with_label_values(&[match &self.identity.format {
                    crate::config::HeaderFormat::Headers => self.identity.groups_header.as_str(),
                    crate::config::HeaderFormat::Json { header } => header.as_str(),
                }])
                .inc_by(built.groups_dropped as u64);
            tracing::warn!(
                event = "identity_headers", principal = %principal, dropped = built.groups_dropped,
                "groups left out: the identity header reached identity.max_header_bytes; narrow identity.group_patterns"
            );
        }
        tracing::debug!(
            event = "identity", principal = %principal, source = identity.source.as_str(),
            groups = identity.groups.len(), "identity resolved"
        );
        ctx.identity_headers = built.headers;
        Ok(())
    }

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

    /// Tries the session cookie for a proxied route. Returns the principal if it is valid and
    /// from Kerberos (a password-form session is for SAML only).
    fn check_cookie(&self, session: &mut Session) -> Option<String> {
        self.check_cookie_session(session)
            .filter(|s| s.method == SignInMethod::Kerberos)
            .map(|s| s.principal)
    }

    /// Tries the session cookie. Returns the session if it is valid.
    fn check_cookie_session(&self, session: &mut Session) -> Option<UserSession> {
        let sessions = self.sessions.as_ref()?;
        let value = request_cookie(session, sessions.ring.cookie_name())?;
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
            Ok(s) => Some(s),
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
        method: SignInMethod,
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
            method,
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

    /// Checks the request's `Authorization: Negotiate`, logging and counting a refusal; a
    /// valid token is removed from the request.
    fn negotiate(&self, session: &mut Session, span: &tracing::Span) -> Negotiated {
        let Some(value) = session
            .req_header()
            .headers
            .get(AUTHORIZATION)
            .map(|v| v.as_bytes().to_vec())
        else {
            return Negotiated::Absent;
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
                return Negotiated::Refused(match e {
                    negotiate::HeaderError::TooLarge { .. } => Refusal::HeaderTooLarge,
                    _ => Refusal::Challenge,
                });
            }
        };
        let listener = self.listener(session).cloned();
        let client = session.client_addr().and_then(|a| a.as_inet()).copied();
        let binding = listener.as_ref().and_then(|l| l.channel_binding);
        match span.in_scope(|| self.auth.accept(&token, client, binding.as_ref())) {
            Ok(ok) => {
                session.req_header_mut().remove_header(&AUTHORIZATION);
                Negotiated::Accepted {
                    ok: Box::new(ok),
                    secure: listener.as_ref().is_some_and(|l| l.tls),
                }
            }
            Err(_) => Negotiated::Refused(Refusal::Challenge),
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
        if self.saml.is_some() && path.starts_with("/saml/") {
            return self.saml_endpoint(session, ctx, &path).await;
        }
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
            self.strip_session_cookie(session.req_header_mut());
            session.req_header_mut().remove_header(&AUTHORIZATION);
            if let Err(refusal) = self.identify(ctx, &principal, None).await {
                return self.refuse(session, refusal).await;
            }
            ctx.principal = Some(principal);
            return Ok(false);
        }

        match self.negotiate(session, &span) {
            Negotiated::Absent => {
                if let Some(r) = self.routes.get(route) {
                    self.metrics
                        .challenges
                        .with_label_values(&[&r.prefix])
                        .inc();
                }
                self.refuse(session, Refusal::Challenge).await
            }
            Negotiated::Refused(refusal) => self.refuse(session, refusal).await,
            Negotiated::Accepted { ok, secure } => {
                let principal = ok.client.to_string();
                if let Err(refusal) = self.identify(ctx, &principal, ok.pac).await {
                    return self.refuse(session, refusal).await;
                }
                ctx.set_cookie = self.issue_cookie(
                    &principal,
                    ok.auth_time,
                    ok.end_time,
                    secure,
                    SignInMethod::Kerberos,
                );
                ctx.response_token = ok.response_token;
                ctx.principal = Some(principal);
                self.strip_session_cookie(session.req_header_mut());
                Ok(false)
            }
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
        for (name, value) in ctx.identity_headers.drain(..) {
            upstream_request.insert_header(name, value)?;
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
