//! Single logout, SP-initiated (SAML Profiles §4.4): an SP's `LogoutRequest` over
//! HTTP-Redirect or HTTP-POST ends the user's IdP session (the session cookie), and a signed
//! `LogoutResponse` goes back to the SP's registered single logout URL, over the binding
//! registered for it. Pure: the HTTP side is in `proxy/saml.rs`.

use std::io::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use samael::schema::LogoutRequest;

use super::form::{self, encode};
use super::idp::new_id;
use super::pages::{self, Lang, Page};
use super::request::{
    check_redirect_signature, decode, verify_enveloped, Binding, Refused, MAX_ENCODED_BYTES,
};
use super::response::{self, status, Addressing};
use super::sign::{SignError, Signer};
use crate::config::saml::{SamlSettings, SloBinding};

const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// A checked LogoutRequest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// The SP's entityID.
    pub sp: String,
    /// The request's ID.
    pub id: String,
    /// Returned unchanged.
    pub relay_state: Option<String>,
    /// The NameID the SP names (for the log).
    pub name_id: Option<String>,
    /// Whether it was signed (and checked).
    pub signed: bool,
}

/// How the LogoutResponse goes back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `302 Location`.
    Redirect(String),
    /// The auto-submitted form.
    Post(Page),
}

/// Decodes and checks a LogoutRequest (`raw`: the query string or the form body).
pub fn parse(
    saml: &SamlSettings,
    binding: Binding,
    raw: &str,
    now: i64,
) -> Result<Logout, Refused> {
    let params = form::parse(raw).map_err(|e| Refused::Page {
        reason: "malformed",
        detail: e,
    })?;
    let find = |name: &str| params.iter().find(|p| p.name == name);
    let page = |reason, detail: String| Refused::Page { reason, detail };
    let encoded = find("SAMLRequest").ok_or_else(|| page("malformed", "no SAMLRequest".into()))?;
    if encoded.value.len() > MAX_ENCODED_BYTES {
        return Err(page("too_large", "SAMLRequest larger than 64 KiB".into()));
    }
    let xml = decode(binding, &encoded.value)?;
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(page("malformed", "a DTD in a LogoutRequest".into()));
    }
    let parsed: LogoutRequest = xml
        .parse()
        .map_err(|e| page("malformed", format!("not a LogoutRequest: {e}")))?;
    let issuer = parsed
        .issuer
        .as_ref()
        .and_then(|i| i.value.as_deref())
        .map(str::trim)
        .ok_or_else(|| page("malformed", "LogoutRequest without an Issuer".into()))?;
    let sp = saml.sp(issuer).ok_or_else(|| {
        page(
            "unknown_sp",
            format!("no service provider `{issuer}` is registered"),
        )
    })?;
    if sp.slo.is_none() {
        return Err(page(
            "no_slo_url",
            format!("`{issuer}` has no single logout URL (`slo`) registered"),
        ));
    }
    let id = parsed
        .id
        .clone()
        .ok_or_else(|| page("malformed", "LogoutRequest without an ID".into()))?;
    let (request, signed) = match binding {
        Binding::Redirect => {
            let signed = check_redirect_signature(sp, raw, &params)?;
            (parsed, signed)
        }
        Binding::Post => match verify_enveloped(sp, &xml, &id, parsed.signature.as_ref())? {
            Some(signed_xml) => {
                let r: LogoutRequest = signed_xml.parse().map_err(|e| {
                    page(
                        "bad_signature",
                        format!("the signed content is not a LogoutRequest: {e}"),
                    )
                })?;
                if r.id.as_deref() != Some(id.as_str()) {
                    return Err(page(
                        "bad_signature",
                        "the signed request is not the one sent".into(),
                    ));
                }
                (r, true)
            }
            None => (parsed, false),
        },
    };
    // Logging a user out is an action on their session: only a request the SP signed (Profiles
    // §4.4.4.1 wants the requester authenticated), never one any site could send.
    if !signed {
        return Err(page(
            "unsigned",
            "single logout requests must be signed (the SP needs a `certificate`)".into(),
        ));
    }
    let slo_url = format!("{}/saml/slo", saml.base_url);
    if let Some(d) = request.destination.as_deref().filter(|d| *d != slo_url) {
        return Err(page(
            "destination",
            format!("Destination `{d}` is not this IdP's `{slo_url}`"),
        ));
    }
    if let Some(t) = request.issue_instant {
        if (t.timestamp() - now).abs() > saml.max_skew_secs {
            return Err(page(
                "stale",
                format!(
                    "IssueInstant is {} s away from the IdP's clock",
                    t.timestamp() - now
                ),
            ));
        }
    }
    let relay_state = find("RelayState")
        .map(|p| p.value.clone())
        .filter(|r| r.len() <= saml.max_relay_state_bytes);
    Ok(Logout {
        sp: sp.entity_id.clone(),
        id,
        relay_state,
        name_id: request
            .name_id
            .and_then(|n| Some(n.value).filter(|v| !v.is_empty())),
        signed,
    })
}

/// The `Success` LogoutResponse for `req`, over the SP's registered binding.
pub fn answer(
    saml: &SamlSettings,
    signer: &Signer,
    req: &Logout,
    now: i64,
    lang: Lang,
) -> Result<Option<Answer>, SignError> {
    let Some((sp, slo)) = saml
        .sp(&req.sp)
        .and_then(|sp| sp.slo.as_ref().map(|s| (sp, s)))
    else {
        return Ok(None);
    };
    let response_id = new_id();
    let to = Addressing {
        // The NameID is the UPN for SPs that use `issuer_by_upn_domain` (Microsoft 365).
        issuer: sp.issuer_for(req.name_id.as_deref()),
        acs_url: &slo.url,
        in_response_to: Some(&req.id),
        response_id: &response_id,
        now,
    };
    let post = slo.binding == SloBinding::Post;
    let xml = response::logout(&to, status::SUCCESS, post, signer)?;
    if post {
        return Ok(Some(Answer::Post(pages::post(
            lang,
            &saml.display_name,
            &slo.url,
            "SAMLResponse",
            &STANDARD.encode(&xml),
            req.relay_state.as_deref(),
        ))));
    }
    // HTTP-Redirect (Bindings §3.4.4.1): DEFLATE, base64, then the signature over the query.
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let deflated = e
        .write_all(xml.as_bytes())
        .and_then(|()| e.finish())
        .map_err(|_| SignError)?;
    let mut query = format!("SAMLResponse={}", encode(&STANDARD.encode(deflated)));
    if let Some(r) = &req.relay_state {
        query.push_str(&format!("&RelayState={}", encode(r)));
    }
    query.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
    let sig = signer.sign_raw(query.as_bytes())?;
    query.push_str(&format!("&Signature={}", encode(&STANDARD.encode(sig))));
    let sep = if slo.url.contains('?') { '&' } else { '?' };
    Ok(Some(Answer::Redirect(format!("{}{sep}{query}", slo.url))))
}

#[cfg(test)]
#[path = "logout_test.rs"]
mod tests;
