//! An SP's `AuthnRequest` (SAML Core §3.4.1) over HTTP-Redirect (Bindings §3.4: DEFLATE +
//! base64, signature over the query string) or HTTP-POST (Bindings §3.5: base64, enveloped
//! signature), checked against the SP registry: decisions only, no I/O.
//!
//! Two kinds of refusal (Profiles §4.1.3.5 and the issue): when the request cannot be tied to a
//! registered SP and one of its ACS URLs ([`Refused::Page`]), the user gets an error page and
//! nothing is sent anywhere (no open redirect); once it can, requester errors go back to that
//! ACS as a SAML status ([`Refused::Status`]).

use std::io::Read as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use samael::crypto::{
    AllowedSignatureAlgorithm, CertificateDer, Crypto, CryptoProvider, ReduceMode,
};
use samael::schema::AuthnContextComparison;
use samael::schema::AuthnRequest;

use super::form::{self, Param};
use super::response::status;
use crate::config::saml::{Acs, RequestSignatures, SamlSettings, ServiceProvider};

/// Largest `SAMLRequest` value (base64, as sent).
pub const MAX_ENCODED_BYTES: usize = 64 * 1024;
/// Largest AuthnRequest XML after inflating.
pub const MAX_XML_BYTES: usize = 128 * 1024;

const POST_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const RSA_SHA512: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512";

/// How the request came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    /// `GET /saml/sso?SAMLRequest=…` (raw query string).
    Redirect,
    /// `POST /saml/sso`, `application/x-www-form-urlencoded` body.
    Post,
}

impl Binding {
    /// A label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Redirect => "redirect",
            Self::Post => "post",
        }
    }
}

/// A sign-in to answer: for which SP, at which ACS, in response to what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SsoRequest {
    /// The SP's entityID.
    pub sp: String,
    /// The AuthnRequest's ID; `None` when IdP-initiated.
    pub request_id: Option<String>,
    /// Where the response goes.
    pub acs_url: String,
    /// Returned unchanged.
    pub relay_state: Option<String>,
    /// `ForceAuthn`: a session cookie is not enough.
    pub force_authn: bool,
    /// `IsPassive`: no user interaction (no form).
    pub is_passive: bool,
    /// Whether the request was signed (and the signature checked).
    pub signed: bool,
}

/// Why a request is not answered with an assertion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The user sees an error page; `reason` is a label for logs and metrics, `detail` the
    /// log message.
    Page {
        /// Label.
        reason: &'static str,
        /// For the log.
        detail: String,
    },
    /// The SP gets a SAML error status at a registered ACS.
    Status {
        /// Where and to whom.
        request: Box<SsoRequest>,
        /// Second-level status under `Requester`.
        code: &'static str,
        /// Label.
        reason: &'static str,
        /// `StatusMessage`.
        message: String,
    },
}

impl Refused {
    fn page(reason: &'static str, detail: impl Into<String>) -> Self {
        Self::Page {
            reason,
            detail: detail.into(),
        }
    }

    /// The label.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Page { reason, .. } | Self::Status { reason, .. } => reason,
        }
    }
}

/// Decodes and checks an AuthnRequest; `raw` is the query string (Redirect) or the form body
/// (POST), `now` Unix seconds.
pub fn parse(
    saml: &SamlSettings,
    binding: Binding,
    raw: &str,
    now: i64,
) -> Result<SsoRequest, Refused> {
    let params = form::parse(raw).map_err(|e| Refused::page("malformed", e))?;
    let find = |name: &str| params.iter().find(|p| p.name == name);
    let encoded =
        find("SAMLRequest").ok_or_else(|| Refused::page("malformed", "no SAMLRequest"))?;
    if encoded.value.len() > MAX_ENCODED_BYTES {
        return Err(Refused::page("too_large", "SAMLRequest larger than 64 KiB"));
    }
    let relay_state = find("RelayState").map(|p| p.value.clone());
    let xml = decode(binding, &encoded.value)?;
    if xml.contains("<!DOCTYPE") || xml.contains("<!ENTITY") {
        return Err(Refused::page("malformed", "a DTD in an AuthnRequest"));
    }
    let parsed: AuthnRequest = xml
        .parse()
        .map_err(|e| Refused::page("malformed", format!("not an AuthnRequest: {e}")))?;
    let issuer = parsed
        .issuer
        .as_ref()
        .and_then(|i| i.value.as_deref())
        .map(str::trim)
        .ok_or_else(|| Refused::page("malformed", "AuthnRequest without an Issuer"))?;
    let sp = saml.sp(issuer).ok_or_else(|| {
        Refused::page(
            "unknown_sp",
            format!("no service provider `{issuer}` is registered"),
        )
    })?;

    // The signature before anything else of the request is believed (ACS URL above all).
    let (request, signed) = match binding {
        Binding::Redirect => {
            let signed = check_redirect_signature(sp, raw, &params)?;
            (parsed, signed)
        }
        Binding::Post => check_post_signature(sp, &xml, parsed)?,
    };

    if request.id.is_empty() || request.id.len() > 256 {
        return Err(Refused::page(
            "malformed",
            "AuthnRequest ID empty or longer than 256 characters",
        ));
    }
    let acs = choose_acs(sp, &request)?;
    let answer = SsoRequest {
        sp: sp.entity_id.clone(),
        request_id: Some(request.id.clone()),
        acs_url: acs.url.clone(),
        relay_state,
        force_authn: request.force_authn.unwrap_or(false),
        is_passive: request.is_passive.unwrap_or(false),
        signed,
    };
    let requester = |reason, code, message: String| Refused::Status {
        request: Box::new(answer.clone()),
        code,
        reason,
        message,
    };
    if answer
        .relay_state
        .as_ref()
        .is_some_and(|r| r.len() > saml.max_relay_state_bytes)
    {
        let mut without = answer.clone();
        without.relay_state = None;
        return Err(Refused::Status {
            request: Box::new(without),
            code: status::REQUEST_DENIED,
            reason: "relay_state_too_long",
            message: format!(
                "RelayState is longer than {} bytes",
                saml.max_relay_state_bytes
            ),
        });
    }
    if request.version != "2.0" {
        return Err(requester(
            "version",
            status::REQUEST_VERSION_DEPRECATED,
            format!("SAML version {} is not 2.0", request.version),
        ));
    }
    let issued = request.issue_instant.timestamp();
    if (issued - now).abs() > saml.max_skew_secs {
        return Err(requester(
            "stale",
            status::REQUEST_DENIED,
            format!(
                "IssueInstant is {} s away from the IdP's clock (allowed: {} s)",
                issued - now,
                saml.max_skew_secs
            ),
        ));
    }
    let sso_url = format!("{}/saml/sso", saml.base_url);
    if let Some(d) = request.destination.as_deref().filter(|d| *d != sso_url) {
        return Err(requester(
            "destination",
            status::REQUEST_DENIED,
            format!("Destination `{d}` is not this IdP's `{sso_url}`"),
        ));
    }
    if let Some(b) = request
        .protocol_binding
        .as_deref()
        .filter(|b| *b != POST_BINDING)
    {
        return Err(requester(
            "binding",
            status::UNSUPPORTED_BINDING,
            format!("ProtocolBinding `{b}`: responses are sent with HTTP-POST only"),
        ));
    }
    if let Some(f) = request
        .name_id_policy
        .as_ref()
        .and_then(|p| p.format.as_deref())
        .filter(|f| !f.ends_with(":nameid-format:unspecified") && *f != sp.name_id.format)
    {
        return Err(requester(
            "name_id_policy",
            status::INVALID_NAME_ID_POLICY,
            format!(
                "NameID format `{f}` is not the one configured for this SP ({})",
                sp.name_id.format
            ),
        ));
    }
    if let Some(classes) = request
        .requested_authn_context
        .as_ref()
        .filter(|c| !matches!(c.comparison, Some(AuthnContextComparison::Maximum)))
        .and_then(|c| c.authn_context_class_refs.as_ref())
        .filter(|c| !c.is_empty())
    {
        // Kerberos answers `…windows`, the form `…PasswordProtectedTransport`; an SP that asks
        // only for something else (a smartcard, MFA) must not get either.
        let ours = |c: &str| OFFERED_CONTEXTS.contains(&c);
        if !classes.iter().any(|c| c.value.as_deref().is_some_and(ours)) {
            let asked: Vec<&str> = classes.iter().filter_map(|c| c.value.as_deref()).collect();
            return Err(requester(
                "authn_context",
                status::NO_AUTHN_CONTEXT,
                format!("requested authentication context {asked:?} is not offered"),
            ));
        }
    }
    Ok(answer)
}

/// The `AuthnContextClassRef`s this IdP's assertions can carry.
const OFFERED_CONTEXTS: [&str; 3] = [
    "urn:federation:authentication:windows",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
    "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified",
];

/// An IdP-initiated sign-in (`/saml/idp-init?sp=…&RelayState=…`): to the SP's default ACS.
pub fn idp_initiated(saml: &SamlSettings, query: &str) -> Result<SsoRequest, Refused> {
    let params = form::parse(query).map_err(|e| Refused::page("malformed", e))?;
    let find = |name: &str| {
        params
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.clone())
    };
    let entity = find("sp").ok_or_else(|| Refused::page("malformed", "no `sp` parameter"))?;
    let sp = saml.sp(&entity).ok_or_else(|| {
        Refused::page(
            "unknown_sp",
            format!("no service provider `{entity}` is registered"),
        )
    })?;
    if !sp.idp_initiated {
        return Err(Refused::page(
            "idp_initiated_off",
            format!("IdP-initiated sign-in is not enabled for `{entity}` (`idp_initiated = true`)"),
        ));
    }
    let acs = sp
        .default_acs()
        .ok_or_else(|| Refused::page("bad_acs", "the SP has no ACS"))?;
    let relay_state = find("RelayState");
    if relay_state
        .as_ref()
        .is_some_and(|r| r.len() > saml.max_relay_state_bytes)
    {
        return Err(Refused::page("relay_state_too_long", "RelayState too long"));
    }
    Ok(SsoRequest {
        sp: sp.entity_id.clone(),
        request_id: None,
        acs_url: acs.url.clone(),
        relay_state,
        force_authn: false,
        is_passive: false,
        signed: false,
    })
}

pub(super) fn decode(binding: Binding, encoded: &str) -> Result<String, Refused> {
    // Some SPs wrap long base64 values: whitespace is not part of it.
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let bytes = STANDARD
        .decode(compact)
        .map_err(|_| Refused::page("malformed", "SAMLRequest is not base64"))?;
    let xml = match binding {
        Binding::Post => bytes,
        Binding::Redirect => {
            let mut out = Vec::with_capacity(bytes.len() * 4);
            flate2::read::DeflateDecoder::new(bytes.as_slice())
                .take(MAX_XML_BYTES as u64 + 1)
                .read_to_end(&mut out)
                .map_err(|_| Refused::page("malformed", "SAMLRequest is not raw DEFLATE"))?;
            out
        }
    };
    if xml.len() > MAX_XML_BYTES {
        return Err(Refused::page(
            "too_large",
            "AuthnRequest larger than 128 KiB",
        ));
    }
    String::from_utf8(xml).map_err(|_| Refused::page("malformed", "AuthnRequest is not UTF-8"))
}

/// Bindings §3.4.4.1: the signature covers `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as
/// the SP encoded them, in that order, whatever order the query has.
pub(super) fn check_redirect_signature(
    sp: &ServiceProvider,
    raw: &str,
    params: &[Param],
) -> Result<bool, Refused> {
    let find = |name: &str| params.iter().find(|p| p.name == name);
    let Some(signature) = find("Signature") else {
        return match sp.request_signatures {
            RequestSignatures::Required => Err(Refused::page(
                "unsigned",
                "the SP must sign its requests and this one is not signed",
            )),
            _ => Ok(false),
        };
    };
    let (Some(cert), false) = (
        &sp.certificate,
        sp.request_signatures == RequestSignatures::None,
    ) else {
        // Signed, but nothing to check it with: treated as unsigned.
        return Ok(false);
    };
    let sig_alg =
        find("SigAlg").ok_or_else(|| Refused::page("bad_signature", "Signature without SigAlg"))?;
    let alg: &'static dyn ring::signature::VerificationAlgorithm = match sig_alg.value.as_str() {
        RSA_SHA256 => &ring::signature::RSA_PKCS1_2048_8192_SHA256,
        RSA_SHA512 => &ring::signature::RSA_PKCS1_2048_8192_SHA512,
        other => {
            return Err(Refused::page(
                "bad_signature",
                format!("SigAlg `{other}` is not accepted (rsa-sha256 or rsa-sha512)"),
            ))
        }
    };
    let mut signed = String::with_capacity(raw.len());
    for name in ["SAMLRequest", "RelayState", "SigAlg"] {
        if let Some(p) = find(name) {
            if !signed.is_empty() {
                signed.push('&');
            }
            signed.push_str(&raw[p.raw.clone()]);
        }
    }
    let sig = STANDARD
        .decode(signature.value.as_bytes())
        .map_err(|_| Refused::page("bad_signature", "Signature is not base64"))?;
    let key = rsa_public_key(cert)
        .ok_or_else(|| Refused::page("bad_signature", "the SP certificate's key is not RSA"))?;
    ring::signature::UnparsedPublicKey::new(alg, key)
        .verify(signed.as_bytes(), &sig)
        .map_err(|_| {
            Refused::page(
                "bad_signature",
                "the request's signature does not verify with the SP's certificate",
            )
        })?;
    Ok(true)
}

/// The PKCS#1 `RSAPublicKey` of a certificate.
pub(super) fn rsa_public_key(cert_der: &[u8]) -> Option<Vec<u8>> {
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).ok()?;
    let spki = cert.public_key();
    (spki.algorithm.algorithm == x509_parser::oid_registry::OID_PKCS1_RSAENCRYPTION)
        .then(|| spki.subject_public_key.data.to_vec())
}

/// An enveloped signature on the root (POST binding): checked by libxmlsec1, and then only
/// what it covers is used (no signature wrapping).
fn check_post_signature(
    sp: &ServiceProvider,
    xml: &str,
    parsed: AuthnRequest,
) -> Result<(AuthnRequest, bool), Refused> {
    let Some(signed) = verify_enveloped(sp, xml, &parsed.id, parsed.signature.as_ref())? else {
        return Ok((parsed, false));
    };
    let request: AuthnRequest = signed.parse().map_err(|e| {
        Refused::page(
            "bad_signature",
            format!("the signed content is not an AuthnRequest: {e}"),
        )
    })?;
    let issuer = |r: &AuthnRequest| r.issuer.as_ref().and_then(|i| i.value.clone());
    if request.id != parsed.id || issuer(&request) != issuer(&parsed) {
        return Err(Refused::page(
            "bad_signature",
            "the signed request is not the one sent",
        ));
    }
    Ok((request, true))
}

/// The enveloped signature of a POST-binding request whose root has `id`: `Ok(Some(signed
/// XML))` when it verifies (only that content may be used), `Ok(None)` when the request is
/// unsigned (or the SP has no certificate) and that is allowed.
pub(super) fn verify_enveloped(
    sp: &ServiceProvider,
    xml: &str,
    id: &str,
    signature: Option<&samael::signature::Signature>,
) -> Result<Option<String>, Refused> {
    let Some(signature) = signature else {
        return match sp.request_signatures {
            RequestSignatures::Required => Err(Refused::page(
                "unsigned",
                "the SP must sign its requests and this one is not signed",
            )),
            _ => Ok(None),
        };
    };
    let (Some(cert), false) = (
        &sp.certificate,
        sp.request_signatures == RequestSignatures::None,
    ) else {
        return Ok(None);
    };
    let reference = signature
        .signed_info
        .reference
        .first()
        .and_then(|r| r.uri.as_deref());
    if reference != Some(format!("#{id}").as_str()) || signature.signed_info.reference.len() != 1 {
        return Err(Refused::page(
            "bad_signature",
            "the signature does not cover the request itself",
        ));
    }
    Crypto::reduce_xml_to_signed_with_allowed_algorithms(
        xml,
        &[CertificateDer::from(cert.clone())],
        ReduceMode::PreDigest,
        Some(&[
            AllowedSignatureAlgorithm::RsaSha256,
            AllowedSignatureAlgorithm::RsaSha512,
        ]),
    )
    .map(Some)
    .map_err(|e| {
        Refused::page(
            "bad_signature",
            format!("the request's signature does not verify: {e}"),
        )
    })
}

/// The ACS: the URL the request names if it is registered, else the index, else the default.
fn choose_acs<'a>(sp: &'a ServiceProvider, request: &AuthnRequest) -> Result<&'a Acs, Refused> {
    if let Some(url) = &request.assertion_consumer_service_url {
        return sp.acs.iter().find(|a| a.url == *url).ok_or_else(|| {
            Refused::page(
                "bad_acs",
                format!("ACS URL `{url}` is not registered for `{}`", sp.entity_id),
            )
        });
    }
    if let Some(index) = request.assertion_consumer_service_index {
        return sp
            .acs
            .iter()
            .find(|a| usize::from(a.index) == index)
            .ok_or_else(|| {
                Refused::page(
                    "bad_acs",
                    format!(
                        "no ACS with index {index} is registered for `{}`",
                        sp.entity_id
                    ),
                )
            });
    }
    sp.default_acs()
        .ok_or_else(|| Refused::page("bad_acs", "the SP has no ACS"))
}

#[cfg(test)]
#[path = "request_test.rs"]
pub(crate) mod tests;
