//! `/saml/*`: the IdP's endpoints, answered by the gateway itself.
//!
//! - `GET /saml/metadata`
//! - `GET /saml/sso?SAMLRequest=…` (HTTP-Redirect) and `POST /saml/sso` (HTTP-POST)
//! - `GET /saml/idp-init?sp=<entityID>&RelayState=…`
//!
//! - `POST /saml/login`: the password form's submission (`login.rs`)
//! - `GET|POST /saml/slo`: single logout
//!
//! The user is signed in by a valid session cookie (unless `ForceAuthn`), else by Negotiate,
//! else by the password form (`IsPassive`: a `NoPassive` status instead).

use bytes::Bytes;
use http::header::{ACCEPT_LANGUAGE, CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE};
use http::Method;
use kdc_bridge::proto::principal::Principal;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use pingora::Result;

use super::{Gateway, Negotiated, RequestCtx};
use crate::auth::unix_now;
use crate::http_error::Refusal;
use crate::identity::resolve::Denied;
use crate::saml::idp::{Idp, SignIn};
use crate::saml::pages::{Lang, Page};
use crate::saml::request::{self, Binding, Refused, SsoRequest};
use crate::saml::response::{status, AuthnMethod};
use crate::saml::{logout, metadata, pages, request::MAX_ENCODED_BYTES};
use crate::session::SignInMethod;

/// Largest POST body read at `/saml/sso`.
const MAX_BODY_BYTES: usize = MAX_ENCODED_BYTES + 4096;

impl Gateway {
    pub(super) async fn saml_endpoint(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        path: &str,
    ) -> Result<bool> {
        let Some(saml) = self.saml.as_deref() else {
            return self.refuse(session, Refusal::NotFound).await;
        };
        let now = unix_now();
        let lang = Lang::negotiate(
            session
                .req_header()
                .headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok()),
            saml.default_language,
        );
        let method = session.req_header().method.clone();
        let query = session.req_header().uri.query().unwrap_or("").to_owned();
        let (endpoint, parsed) = match (path, &method) {
            ("/saml/metadata", &Method::GET | &Method::HEAD) => {
                let xml = metadata::render(saml, now);
                return self
                    .write(
                        session,
                        200,
                        "application/samlmetadata+xml",
                        xml.into_bytes(),
                        &[],
                    )
                    .await;
            }
            ("/saml/sso", &Method::GET) => {
                ("sso", request::parse(saml, Binding::Redirect, &query, now))
            }
            ("/saml/sso", &Method::POST) => {
                let Some(body) = read_body(session, MAX_BODY_BYTES).await? else {
                    return self.refuse(session, Refusal::BadRequest).await;
                };
                ("sso", request::parse(saml, Binding::Post, &body, now))
            }
            ("/saml/idp-init", &Method::GET) => ("idp_init", request::idp_initiated(saml, &query)),
            ("/saml/login", &Method::POST) => return self.login_submit(session, ctx, lang).await,
            ("/saml/slo", &Method::GET) => {
                return self
                    .saml_logout(session, ctx, Binding::Redirect, &query, lang)
                    .await
            }
            ("/saml/slo", &Method::POST) => {
                let Some(body) = read_body(session, MAX_BODY_BYTES).await? else {
                    return self.refuse(session, Refusal::BadRequest).await;
                };
                return self
                    .saml_logout(session, ctx, Binding::Post, &body, lang)
                    .await;
            }
            _ => return self.refuse(session, Refusal::NotFound).await,
        };
        let req = match parsed {
            Ok(r) => r,
            Err(refused) => {
                self.count(endpoint, refused.reason());
                let (reason, detail) = match &refused {
                    Refused::Page { reason, detail } => (*reason, detail.as_str()),
                    Refused::Status {
                        reason, message, ..
                    } => (*reason, message.as_str()),
                };
                tracing::info!(
                    target: "security", event = "saml_request", result = "refused", reason,
                    detail, request_id = %ctx.request_id, "SAML request refused"
                );
                let idp = self.idp(saml)?;
                let page = idp.refused(&refused, now, lang).map_err(internal)?;
                return self.page(session, page, Vec::new()).await;
            }
        };
        self.saml_sign_in(session, ctx, endpoint, req, lang).await
    }

    async fn saml_sign_in(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        endpoint: &'static str,
        req: SsoRequest,
        lang: Lang,
    ) -> Result<bool> {
        let saml = self.saml.as_deref().ok_or_else(|| internal("no [saml]"))?;
        let idp = self.idp(saml)?;
        let span = tracing::info_span!("request", request_id = %ctx.request_id);
        let cookie = if req.force_authn {
            None
        } else {
            self.check_cookie_session(session)
        };
        let (principal, pac, sign_in, set_cookie) = if let Some(s) = cookie {
            let sign_in = SignIn {
                method: match s.method {
                    SignInMethod::Kerberos => AuthnMethod::Windows,
                    SignInMethod::Password => AuthnMethod::PasswordProtectedTransport,
                },
                // When the user authenticated to the gateway: the cookie's issue.
                authn_instant: s.issued_at,
                session_end: Some(s.expires_at),
            };
            (s.principal, None, sign_in, None)
        } else {
            match self.negotiate(session, &span) {
                Negotiated::Accepted { ok, secure } => {
                    let principal = ok.client.to_string();
                    let cookie = self.issue_cookie(
                        &principal,
                        ok.auth_time,
                        ok.end_time,
                        secure,
                        SignInMethod::Kerberos,
                    );
                    let sign_in = SignIn {
                        method: AuthnMethod::Windows,
                        // A fresh AP exchange: the user authenticated to the gateway now
                        // (as AD FS says for Windows authentication).
                        authn_instant: unix_now(),
                        session_end: Some(ok.end_time),
                    };
                    (principal, ok.pac, sign_in, cookie)
                }
                // IsPassive: no form. An eligible browser gets the challenge whose body posts
                // the NoPassive status: one with a ticket answers the challenge silently, one
                // without shows the body, which hands the status to the SP.
                Negotiated::Absent if req.is_passive => {
                    let challenge = self.kerberos_eligible(session);
                    return self
                        .no_passive(session, &req, endpoint, lang, challenge)
                        .await;
                }
                Negotiated::Refused(_) if req.is_passive => {
                    return self.no_passive(session, &req, endpoint, lang, false).await;
                }
                Negotiated::Absent if self.login_available() => {
                    // Eligible clients get the challenge with the form as its body: a browser
                    // without a ticket shows the form; others get the form at once.
                    let eligible = self.kerberos_eligible(session);
                    self.count(endpoint, if eligible { "challenge" } else { "form" });
                    return self.show_login(session, req, lang, eligible).await;
                }
                Negotiated::Refused(crate::http_error::Refusal::Challenge)
                    if self.login_available() =>
                {
                    // A failed or NTLM token: the form, never a second 401 (browsers would
                    // pop up a password dialog).
                    self.count(endpoint, "form");
                    return self.show_login(session, req, lang, false).await;
                }
                Negotiated::Absent | Negotiated::Refused(Refusal::Challenge) => {
                    self.count(endpoint, "challenge");
                    return self.refuse(session, Refusal::Challenge).await;
                }
                Negotiated::Refused(refusal) => {
                    self.count(endpoint, "refused");
                    return self.refuse(session, refusal).await;
                }
            }
        };
        let Ok(parsed) = Principal::parse(&principal) else {
            return self.refuse(session, Refusal::Challenge).await;
        };
        let user = match self.resolver.resolve(&parsed, pac).await {
            Ok(u) => u,
            Err(denied) => {
                self.count(endpoint, denied.reason());
                tracing::info!(
                    target: "security", event = "authorization", result = "failure",
                    reason = denied.reason(), principal = %principal, sp = %req.sp,
                    request_id = %ctx.request_id, "signed-in user refused"
                );
                let message = match denied {
                    Denied::AccountDisabled => "the account is disabled",
                    Denied::DirectoryUnavailable => "the directory cannot be reached",
                };
                let page = idp
                    .status(
                        &req,
                        status::RESPONDER,
                        Some(status::AUTHN_FAILED),
                        message,
                        unix_now(),
                        lang,
                    )
                    .map_err(internal)?;
                return self.page(session, page, Vec::new()).await;
            }
        };
        let page = idp
            .assertion(&req, &user, sign_in, unix_now(), lang)
            .map_err(internal)?;
        self.count(endpoint, "assertion");
        tracing::info!(
            target: "security", event = "saml_assertion", result = "success",
            principal = %principal, sp = %req.sp, acs = %req.acs_url,
            signed_request = req.signed, request_id = %ctx.request_id,
            "assertion issued"
        );
        ctx.principal = Some(principal);
        let extra = set_cookie.map(|c| ("set-cookie", c)).into_iter().collect();
        self.page(session, page, extra).await
    }

    /// The signed `Responder`/`NoPassive` status for `req`, as the body of a `401 Negotiate`
    /// (`challenge`) or as a 200 page.
    async fn no_passive(
        &self,
        session: &mut Session,
        req: &SsoRequest,
        endpoint: &str,
        lang: Lang,
        challenge: bool,
    ) -> Result<bool> {
        let saml = self.saml.as_deref().ok_or_else(|| internal("no [saml]"))?;
        self.count(endpoint, if challenge { "challenge" } else { "no_passive" });
        let mut page = self
            .idp(saml)?
            .status(
                req,
                status::RESPONDER,
                Some(status::NO_PASSIVE),
                "the user is not signed in and IsPassive forbids asking",
                unix_now(),
                lang,
            )
            .map_err(internal)?;
        let mut extra = Vec::new();
        if challenge {
            page.status = 401;
            extra.push((
                http::header::WWW_AUTHENTICATE.as_str(),
                crate::negotiate::CHALLENGE.to_owned(),
            ));
        }
        self.page(session, page, extra).await
    }

    /// `/saml/slo`: an SP's LogoutRequest ends this browser's session (the cookie) and gets a
    /// signed LogoutResponse.
    async fn saml_logout(
        &self,
        session: &mut Session,
        ctx: &mut RequestCtx,
        binding: Binding,
        raw: &str,
        lang: Lang,
    ) -> Result<bool> {
        let saml = self.saml.as_deref().ok_or_else(|| internal("no [saml]"))?;
        let now = unix_now();
        let req = match logout::parse(saml, binding, raw, now) {
            Ok(r) => r,
            Err(refused) => {
                self.count("slo", refused.reason());
                let detail = match &refused {
                    Refused::Page { detail, .. } => detail.as_str(),
                    Refused::Status { message, .. } => message.as_str(),
                };
                tracing::info!(
                    target: "security", event = "saml_logout", result = "refused",
                    reason = refused.reason(), detail, request_id = %ctx.request_id,
                    "SAML logout request refused"
                );
                let page = pages::error(lang, &saml.display_name, 400);
                return self.page(session, page, Vec::new()).await;
            }
        };
        let idp = self.idp(saml)?;
        let answer = logout::answer(saml, idp.signer, &req, now, lang)
            .map_err(internal)?
            .ok_or_else(|| internal("the SP's single logout URL disappeared"))?;
        self.count("slo", "logout");
        tracing::info!(
            target: "security", event = "saml_logout", result = "success", sp = %req.sp,
            name_id = req.name_id.as_deref().unwrap_or(""), signed_request = req.signed,
            request_id = %ctx.request_id, "single logout: session ended"
        );
        let mut extra = Vec::new();
        if let Some(sessions) = &self.sessions {
            let secure = if self.listener(session).is_some_and(|l| l.tls) {
                "; Secure"
            } else {
                ""
            };
            extra.push((
                "set-cookie",
                format!(
                    "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax{secure}",
                    sessions.ring.cookie_name()
                ),
            ));
        }
        match answer {
            logout::Answer::Post(page) => self.page(session, page, extra).await,
            logout::Answer::Redirect(location) => {
                extra.push(("location", location));
                self.write(
                    session,
                    302,
                    "text/plain; charset=utf-8",
                    Vec::new(),
                    &extra,
                )
                .await
            }
        }
    }

    pub(super) fn idp<'a>(
        &'a self,
        saml: &'a crate::config::saml::SamlSettings,
    ) -> Result<Idp<'a>> {
        let signer = saml
            .signer
            .as_deref()
            .ok_or_else(|| internal("the SAML signing key is not loaded"))?;
        Ok(Idp { saml, signer })
    }

    pub(super) fn count(&self, endpoint: &str, result: &str) {
        self.metrics
            .saml
            .with_label_values(&[endpoint, result])
            .inc();
    }

    pub(super) async fn page(
        &self,
        session: &mut Session,
        page: Page,
        more: Vec<(&'static str, String)>,
    ) -> Result<bool> {
        let mut extra = vec![
            ("content-security-policy", page.csp),
            ("x-content-type-options", "nosniff".to_owned()),
            ("referrer-policy", "no-referrer".to_owned()),
        ];
        extra.extend(more);
        self.write(
            session,
            page.status,
            "text/html; charset=utf-8",
            page.html.into_bytes(),
            &extra,
        )
        .await
    }

    async fn write(
        &self,
        session: &mut Session,
        status: u16,
        content_type: &str,
        body: Vec<u8>,
        extra: &[(&'static str, String)],
    ) -> Result<bool> {
        let mut h = ResponseHeader::build(status, Some(4 + extra.len()))?;
        h.insert_header(CONTENT_TYPE, content_type)?;
        h.insert_header(CONTENT_LENGTH, body.len().to_string())?;
        h.insert_header(CACHE_CONTROL, "no-store")?;
        for (name, value) in extra {
            h.append_header(*name, value.as_str())?;
        }
        session.write_response_header(Box::new(h), false).await?;
        session
            .write_response_body(Some(Bytes::from(body)), true)
            .await?;
        Ok(true)
    }
}

/// The POST body as UTF-8, at most `max` bytes; `None` when larger or not UTF-8.
pub(super) async fn read_body(session: &mut Session, max: usize) -> Result<Option<String>> {
    let mut body = Vec::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > max {
            return Ok(None);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body).ok())
}

pub(super) fn internal(e: impl std::fmt::Display) -> Box<pingora::Error> {
    pingora::Error::explain(pingora::ErrorType::InternalError, e.to_string())
}
