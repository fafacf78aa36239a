//! The password form of `/saml/sso`, for browsers that cannot sign in with Kerberos, and its
//! submission, `POST /saml/login`: the password is checked by a bind as the user on a healthy
//! DC, throttled per user and per address before AD's own lockout. The password is never
//! logged, kept, or echoed back.

use http::header::{USER_AGENT, WWW_AUTHENTICATE};
use kdc_bridge::net::ldap::PasswordVerdict;
use kdc_bridge::proto::principal::Principal;
use pingora::proxy::Session;
use pingora::Result;
use policy::throttle::{Gate, Scope};

use super::saml::{internal, read_body};
use super::{Gateway, RequestCtx};
use crate::auth::unix_now;
use crate::negotiate::CHALLENGE;
use crate::saml::form;
use crate::saml::idp::SignIn;
use crate::saml::login::{self, NONCE_COOKIE};
use crate::saml::pages::{self, Lang, LoginMessage};
use crate::saml::request::SsoRequest;
use crate::saml::response::AuthnMethod;

/// Largest form body.
const MAX_FORM_BYTES: usize = 8192;
/// The shortest answer to a failed sign-in.
const FAILURE_FLOOR: std::time::Duration = std::time::Duration::from_millis(600);

/// The throttle's key of a client address: IPv4 as it is, IPv6 by its /64 (one subscriber).
fn address_key(ip: std::net::IpAddr) -> String {
    match ip {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let [a, b, c, d, ..] = v6.segments();
                format!("{a:x}:{b:x}:{c:x}:{d:x}::/64")
            }
        },
    }
}

impl Gateway {
    /// Whether the form can be offered (enabled, a directory to check passwords, session keys
    /// to seal its state).
    pub(super) fn login_available(&self) -> bool {
        self.saml.as_ref().is_some_and(|s| s.login.enabled)
            && self.resolver.directory().is_some()
            && self.sessions.is_some()
    }

    /// Whether this client is asked for Kerberos before it sees the form.
    pub(super) fn kerberos_eligible(&self, session: &Session) -> bool {
        let Some(saml) = self.saml.as_deref() else {
            return true;
        };
        let addr = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip());
        let ua = session
            .req_header()
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        saml.kerberos.eligible(addr, ua)
    }

    /// Shows the form for `req`: as the body of the `401 Negotiate` (`challenge`: a browser
    /// without a ticket lands on it), or as a plain 200 page.
    pub(super) async fn show_login(
        &self,
        session: &mut Session,
        req: SsoRequest,
        lang: Lang,
        challenge: bool,
    ) -> Result<bool> {
        let (saml, ring) = match (self.saml.as_deref(), self.sessions.as_ref()) {
            (Some(s), Some(r)) => (s, &r.ring),
            _ => return Err(internal("the login form needs [saml] and session keys")),
        };
        let lifetime = saml.login.form_lifetime_secs;
        let (state, nonce) = login::seal(ring, req, unix_now(), lifetime);
        let status = if challenge { 401 } else { 200 };
        let page = pages::login(lang, &saml.display_name, status, &state, "", None);
        let mut extra = vec![(
            "set-cookie",
            login::nonce_cookie(&nonce, lifetime, self.secure(session)),
        )];
        if challenge {
            extra.push((WWW_AUTHENTICATE.as_str(), CHALLENGE.to_owned()));
        }
        self.page(session, page, extra).await
    }

    /// `POST /saml/login`.
    pub(super) async fn login_submit(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        lang: Lang,
    ) -> Result<bool> {
        let (Some(saml), Some(sessions), Some(directory)) = (
            self.saml.as_deref(),
            self.sessions.as_ref(),
            self.resolver.directory(),
        ) else {
            return self
                .refuse(session, crate::http_error::Refusal::NotFound)
                .await;
        };
        if !saml.login.enabled {
            return self
                .refuse(session, crate::http_error::Refusal::NotFound)
                .await;
        }
        let tenant = saml.display_name.as_str();
        let now = unix_now();
        let started = tokio::time::Instant::now();
        let body = read_body(session, MAX_FORM_BYTES)
            .await?
            .unwrap_or_default();
        let params = form::parse(&body).unwrap_or_default();
        let field = |name: &str| {
            params
                .iter()
                .find(|p| p.name == name)
                .map_or("", |p| p.value.as_str())
        };
        let (sealed, typed, password) = (field("state"), field("username"), field("password"));
        let cookie = super::request_cookie(session, NONCE_COOKIE).map(str::to_owned);
        let state = match login::open(&sessions.ring, sealed, cookie.as_deref(), now) {
            Ok(s) => s,
            Err(e) => {
                self.count("login", e.as_str());
                tracing::info!(
                    target: "security", event = "authentication", method = "password",
                    result = "failure", reason = e.as_str(), request_id = %ctx.request_id,
                    "login form refused before the password was checked"
                );
                let page = if e == login::StateError::Expired {
                    pages::expired(lang, tenant)
                } else {
                    pages::error(lang, tenant, 400)
                };
                return self.page(session, page, Vec::new()).await;
            }
        };
        let client = session
            .client_addr()
            .and_then(|a| a.as_inet())
            .map(|a| a.ip())
            .map_or_else(String::new, address_key);
        let again = |status, message| {
            pages::login(lang, tenant, status, sealed, typed.trim(), Some(message))
        };
        let locked = |until: i64| LoginMessage::Locked {
            minutes: ((until - now).max(1) + 59) / 60,
        };
        // What the logs may show of the typed name: only a valid one (people type passwords
        // there too, and control characters would forge log lines).
        let key = login::user_key(typed);
        let shown = key
            .as_ref()
            .map_or_else(|| "(invalid)".to_owned(), |k| k.name().to_owned());
        // The lockout counts the account as AD names it (its sAMAccountName), so `alice`,
        // `CORP\alice`, `alice@corp.example`, another case or width are one counter.
        let account = match &key {
            Some(k) => directory
                .lookup(k)
                .await
                .identity()
                .and_then(|i| i.sam_account_name.clone())
                .unwrap_or_else(|| k.name().to_owned()),
            None => typed.trim().chars().take(64).collect(),
        };
        if let Gate::Locked { until, scope } = self.throttle.attempt(&account, &client, now) {
            self.count("login", "locked");
            tracing::info!(
                target: "security", event = "authentication", method = "password",
                result = "failure", reason = "locked", scope = scope_str(scope), user = %shown,
                client = %client, until, request_id = %ctx.request_id,
                "password sign-in refused: too many failures"
            );
            return self
                .page(session, again(429, locked(until)), Vec::new())
                .await;
        }
        let verdict = match &key {
            Some(_) if password.is_empty() || password.len() > login::MAX_PASSWORD => {
                PasswordVerdict::Wrong
            }
            Some(key) => match directory.check_password(key, password).await {
                Ok(v) => v,
                Err(e) => {
                    // Not the user's fault: the attempt is not counted.
                    self.throttle.succeeded(&account, &client);
                    self.count("login", "directory_unavailable");
                    tracing::error!(
                        target: "security", event = "authentication", method = "password",
                        result = "failure", reason = "directory_unavailable", error = %e,
                        user = %shown, request_id = %ctx.request_id,
                        "password sign-in impossible: no domain controller answered"
                    );
                    return self
                        .page(session, pages::error(lang, tenant, 503), Vec::new())
                        .await;
                }
            },
            None => PasswordVerdict::NoSuchUser,
        };
        let identity = match verdict {
            PasswordVerdict::Valid(identity) => identity,
            other => {
                self.count("login", other.as_str());
                let gate = self.throttle.failed(&account, &client, now);
                tracing::info!(
                    target: "security", event = "authentication", method = "password",
                    result = "failure", reason = other.as_str(), user = %shown,
                    client = %client, request_id = %ctx.request_id,
                    "password sign-in failed"
                );
                let page = match gate {
                    Gate::Locked { until, .. } => again(429, locked(until)),
                    Gate::Open => again(200, LoginMessage::Failed),
                };
                // Every failure takes as long: an unknown name (one search) must not answer
                // faster than a wrong password (a search, a TLS connection and a bind).
                tokio::time::sleep_until(started + FAILURE_FLOOR).await;
                return self.page(session, page, Vec::new()).await;
            }
        };
        self.throttle.succeeded(&account, &client);
        let realm = saml.login.realm.as_deref().unwrap_or_default();
        let account = identity
            .sam_account_name
            .clone()
            .unwrap_or_else(|| typed.trim().to_owned());
        let principal = format!("{account}@{realm}");
        let Ok(parsed) = Principal::parse(&principal) else {
            return Err(internal("a password sign-in made an invalid principal"));
        };
        tracing::info!(
            target: "security", event = "authentication", method = "password", result = "success",
            principal = %principal, client = %client, request_id = %ctx.request_id,
            "password sign-in succeeded"
        );
        let secure = self.secure(session);
        let session_end = now + sessions.lifetime_secs;
        let cookie = self.issue_cookie(
            &principal,
            now,
            session_end,
            secure,
            crate::session::SignInMethod::Password,
        );
        let Ok(user) = self.resolver.resolve(&parsed, None).await else {
            return self
                .page(session, pages::error(lang, tenant, 503), Vec::new())
                .await;
        };
        let idp = self.idp(saml)?;
        let sign_in = SignIn {
            method: AuthnMethod::PasswordProtectedTransport,
            authn_instant: now,
            session_end: Some(session_end),
        };
        let page = idp
            .assertion(&state.sso, &user, sign_in, now, lang)
            .map_err(internal)?;
        self.count("login", "assertion");
        ctx.principal = Some(principal);
        let mut extra = vec![(
            "set-cookie",
            format!("{NONCE_COOKIE}=; Path=/saml/; Max-Age=0; HttpOnly; SameSite=Strict"),
        )];
        if let Some(c) = cookie {
            extra.push(("set-cookie", c));
        }
        self.page(session, page, extra).await
    }

    fn secure(&self, session: &Session) -> bool {
        self.listener(session).is_some_and(|l| l.tls)
    }
}

fn scope_str(s: Scope) -> &'static str {
    match s {
        Scope::User => "user",
        Scope::Address => "address",
    }
}
