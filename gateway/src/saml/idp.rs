//! The identity provider's answers: the metadata, the page that posts a signed response to
//! the SP, the page that posts an error status, and the error page. Pure: the signed-in
//! identity, the time and the language come in.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::claims;
use super::pages::{self, Lang, Page};
use super::request::{Refused, SsoRequest};
use super::response::{self, status, Addressing, AssertionContent, AuthnMethod};
use super::sign::{SignError, Signer};
use crate::config::saml::{SamlSettings, ServiceProvider};
use crate::identity::UserIdentity;

/// How the user signed in, and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn {
    /// Kerberos or the form.
    pub method: AuthnMethod,
    /// Unix seconds.
    pub authn_instant: i64,
    /// When the IdP session (the cookie) ends, Unix seconds.
    pub session_end: Option<i64>,
}

/// A fresh SAML ID (an NCName: `_` and 32 hex digits, 128 random bits).
pub fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    let mut id = String::with_capacity(33);
    id.push('_');
    for b in bytes {
        id.push_str(&format!("{b:02x}"));
    }
    id
}

fn addressing<'a>(
    sp: &'a ServiceProvider,
    req: &'a SsoRequest,
    upn: Option<&str>,
    response_id: &'a str,
    now: i64,
) -> Addressing<'a> {
    Addressing {
        issuer: sp.issuer_for(upn),
        acs_url: &req.acs_url,
        in_response_to: req.request_id.as_deref(),
        response_id,
        now,
    }
}

/// The IdP.
#[derive(Debug)]
pub struct Idp<'a> {
    /// Its settings.
    pub saml: &'a SamlSettings,
    /// Its key.
    pub signer: &'a Signer,
}

impl Idp<'_> {
    /// The page posting a signed assertion for `user` to the request's ACS. A user without the
    /// value the NameID needs gets a `Responder` status instead.
    pub fn assertion(
        &self,
        req: &SsoRequest,
        user: &UserIdentity,
        sign_in: SignIn,
        now: i64,
        lang: Lang,
    ) -> Result<Page, SignError> {
        let Some(sp) = self.saml.sp(&req.sp) else {
            return Ok(pages::error(lang, &self.saml.display_name, 400));
        };
        let key = self.saml.pairwise_key.as_deref();
        let name_id = match claims::name_id(sp, user, key) {
            Ok(n) => n,
            Err(missing) => {
                let message = format!("the user has no {} for the NameID", missing.0);
                return self.status(
                    req,
                    status::RESPONDER,
                    Some(status::INVALID_NAME_ID_POLICY),
                    &message,
                    now,
                    lang,
                );
            }
        };
        let attributes = claims::attributes(sp, user, key);
        let (response_id, assertion_id, session_index) = (new_id(), new_id(), new_id());
        let to = addressing(sp, req, user.upn.as_deref(), &response_id, now);
        let content = AssertionContent {
            id: &assertion_id,
            audience: &sp.entity_id,
            name_id: &name_id,
            method: sign_in.method,
            authn_instant: sign_in.authn_instant,
            session_index: &session_index,
            session_not_on_or_after: sign_in.session_end,
            not_on_or_after: now + sp.assertion_lifetime_secs,
            not_before: now - self.saml.max_skew_secs,
            attributes: &attributes,
        };
        let xml = response::success(&to, &content, sp.sign, self.signer)?;
        Ok(self.post(req, &xml, lang))
    }

    /// The page posting an error status (`code`, `detail`) to the request's ACS.
    pub fn status(
        &self,
        req: &SsoRequest,
        code: &str,
        detail: Option<&str>,
        message: &str,
        now: i64,
        lang: Lang,
    ) -> Result<Page, SignError> {
        let Some(sp) = self.saml.sp(&req.sp) else {
            return Ok(pages::error(lang, &self.saml.display_name, 400));
        };
        let response_id = new_id();
        let to = addressing(sp, req, None, &response_id, now);
        // Error responses carry no assertion: signed whenever the SP gets signatures at all.
        let xml = response::failure(&to, code, detail, message, true, self.signer)?;
        Ok(self.post(req, &xml, lang))
    }

    /// The answer to a refused request: the error page, or a `Requester` status to the ACS.
    pub fn refused(&self, refused: &Refused, now: i64, lang: Lang) -> Result<Page, SignError> {
        match refused {
            Refused::Page { .. } => Ok(pages::error(lang, &self.saml.display_name, 400)),
            Refused::Status {
                request,
                code,
                message,
                ..
            } => self.status(request, status::REQUESTER, Some(code), message, now, lang),
        }
    }

    fn post(&self, req: &SsoRequest, xml: &str, lang: Lang) -> Page {
        pages::post(
            lang,
            &self.saml.display_name,
            &req.acs_url,
            "SAMLResponse",
            &STANDARD.encode(xml),
            req.relay_state.as_deref(),
        )
    }
}
