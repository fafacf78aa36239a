//! The `samlp:Response` the IdP posts to an SP's ACS (SAML 2.0 Core §3.2.2, §2.3-2.7; Profiles
//! §4.1.4.2): Status, then one Assertion with Issuer, Subject (NameID + bearer confirmation),
//! Conditions, AuthnStatement and AttributeStatement; the Assertion and/or the Response
//! signed. Error responses carry only the Status. Pure: ids, times and the key come in.

use kdc_bridge::proto::krb::asn1::format_rfc3339;

use super::sign::{SignError, Signer};
use super::xml::Canonical;

/// The protocol namespace.
pub const SAMLP: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The assertion namespace.
pub const SAML: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// Top-level and second-level status codes (Core §3.2.2.2).
pub mod status {
    /// The request succeeded.
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
    /// The request could not be performed due to an error on the part of the requester.
    pub const REQUESTER: &str = "urn:oasis:names:tc:SAML:2.0:status:Requester";
    /// The request could not be performed due to an error on the part of the IdP.
    pub const RESPONDER: &str = "urn:oasis:names:tc:SAML:2.0:status:Responder";
    /// `IsPassive` and the IdP cannot authenticate the user passively.
    pub const NO_PASSIVE: &str = "urn:oasis:names:tc:SAML:2.0:status:NoPassive";
    /// The IdP does not support the requested NameID format.
    pub const INVALID_NAME_ID_POLICY: &str =
        "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy";
    /// The request itself is not supported (e.g. a binding we do not answer with).
    pub const REQUEST_UNSUPPORTED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported";
    /// The requested authentication context cannot be satisfied.
    pub const NO_AUTHN_CONTEXT: &str = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext";
    /// The IdP could not authenticate the principal.
    pub const AUTHN_FAILED: &str = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed";
    /// The IdP chooses not to answer the request (stale, wrong destination, …).
    pub const REQUEST_DENIED: &str = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied";
    /// The request's SAML version is too old.
    pub const REQUEST_VERSION_DEPRECATED: &str =
        "urn:oasis:names:tc:SAML:2.0:status:RequestVersionDeprecated";
    /// The response binding the SP asks for is not supported.
    pub const UNSUPPORTED_BINDING: &str = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding";
}

/// How the user signed in: the `AuthnContextClassRef`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthnMethod {
    /// Kerberos (Integrated Windows Authentication).
    Windows,
    /// The login form, over TLS.
    PasswordProtectedTransport,
}

impl AuthnMethod {
    /// The class reference URI.
    pub fn class_ref(self) -> &'static str {
        match self {
            Self::Windows => "urn:federation:authentication:windows",
            Self::PasswordProtectedTransport => {
                "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
            }
        }
    }
}

/// Which elements get a signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signing {
    /// The Assertion only.
    Assertion,
    /// The Response only.
    Response,
    /// Both: the Assertion first, then the Response over it.
    Both,
}

impl Signing {
    fn assertion(self) -> bool {
        matches!(self, Self::Assertion | Self::Both)
    }

    fn response(self) -> bool {
        matches!(self, Self::Response | Self::Both)
    }
}

/// The subject's NameID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    /// Its value.
    pub value: String,
    /// Its format URI.
    pub format: String,
}

/// One `saml:Attribute`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// `Name`.
    pub name: String,
    /// `NameFormat`.
    pub name_format: String,
    /// The values, one `AttributeValue` each.
    pub values: Vec<String>,
}

/// Who the response is for and what it says.
#[derive(Debug, Clone)]
pub struct Addressing<'a> {
    /// The IdP's entityID (`Issuer`).
    pub issuer: &'a str,
    /// The ACS URL (`Destination`, `Recipient`).
    pub acs_url: &'a str,
    /// The AuthnRequest's ID, for SP-initiated sign-ins.
    pub in_response_to: Option<&'a str>,
    /// The response's ID.
    pub response_id: &'a str,
    /// Now, Unix seconds (`IssueInstant`).
    pub now: i64,
}

/// The assertion's content.
#[derive(Debug, Clone)]
pub struct AssertionContent<'a> {
    /// The assertion's ID.
    pub id: &'a str,
    /// The SP's entityID (`Audience`).
    pub audience: &'a str,
    /// The subject.
    pub name_id: &'a NameId,
    /// How and when the user signed in.
    pub method: AuthnMethod,
    /// When, Unix seconds.
    pub authn_instant: i64,
    /// The IdP session's index (for single logout).
    pub session_index: &'a str,
    /// When the IdP session ends, Unix seconds.
    pub session_not_on_or_after: Option<i64>,
    /// `NotOnOrAfter` of the conditions and of the bearer confirmation.
    pub not_on_or_after: i64,
    /// `NotBefore` of the conditions (now minus the allowed skew).
    pub not_before: i64,
    /// The attributes.
    pub attributes: &'a [Attribute],
}

/// A successful response with its assertion.
pub fn success(
    to: &Addressing<'_>,
    assertion: &AssertionContent<'_>,
    signing: Signing,
    signer: &Signer,
) -> Result<String, SignError> {
    let signed_assertion = write_assertion(to, assertion, signing.assertion(), signer)?;
    let mut w = Canonical::with_capacity(signed_assertion.len() + 1024);
    let sig_at = open_response(&mut w, to);
    w.open("samlp:Status", &[], &[]);
    w.leaf("samlp:StatusCode", &[("Value", status::SUCCESS)], "");
    w.close();
    w.raw(&signed_assertion);
    let mut xml = w.finish();
    if signing.response() {
        signer.sign_enveloped(&mut xml, to.response_id, sig_at)?;
    }
    Ok(xml)
}

/// An error response (no assertion): `code` top-level, `detail` second-level, `message` for
/// the SP's logs. Signed when `sign` (the SP wants signed responses).
pub fn failure(
    to: &Addressing<'_>,
    code: &str,
    detail: Option<&str>,
    message: &str,
    sign: bool,
    signer: &Signer,
) -> Result<String, SignError> {
    let mut w = Canonical::with_capacity(2048);
    let sig_at = open_response(&mut w, to);
    w.open("samlp:Status", &[], &[]);
    w.open("samlp:StatusCode", &[], &[("Value", code)]);
    if let Some(detail) = detail {
        w.leaf("samlp:StatusCode", &[("Value", detail)], "");
    }
    w.close();
    if !message.is_empty() {
        w.leaf("samlp:StatusMessage", &[], message);
    }
    w.close();
    let mut xml = w.finish();
    if sign {
        signer.sign_enveloped(&mut xml, to.response_id, sig_at)?;
    }
    Ok(xml)
}

/// A `samlp:LogoutResponse` (Core §3.7.2) with `code`, to `to.acs_url` (the SP's single
/// logout URL); enveloped signature when `sign` (HTTP-POST; the Redirect binding signs the
/// query string instead).
pub fn logout(
    to: &Addressing<'_>,
    code: &str,
    sign: bool,
    signer: &Signer,
) -> Result<String, SignError> {
    let mut w = Canonical::with_capacity(2048);
    let sig_at = open_element(&mut w, "samlp:LogoutResponse", to);
    w.open("samlp:Status", &[], &[]);
    w.leaf("samlp:StatusCode", &[("Value", code)], "");
    w.close();
    let mut xml = w.finish();
    if sign {
        signer.sign_enveloped(&mut xml, to.response_id, sig_at)?;
    }
    Ok(xml)
}

/// Writes the Response start tag and its Issuer; returns where its signature goes.
fn open_response(w: &mut Canonical, to: &Addressing<'_>) -> usize {
    open_element(w, "samlp:Response", to)
}

/// Writes a StatusResponseType start tag (`name`) and its Issuer; returns where the
/// signature goes.
fn open_element(w: &mut Canonical, name: &'static str, to: &Addressing<'_>) -> usize {
    let now = format_rfc3339(to.now);
    let mut attrs = vec![
        ("Destination", to.acs_url),
        ("ID", to.response_id),
        ("IssueInstant", now.as_str()),
        ("Version", "2.0"),
    ];
    if let Some(irt) = to.in_response_to {
        attrs.push(("InResponseTo", irt));
    }
    w.open(name, &[("samlp", SAMLP)], &attrs);
    // Exclusive c14n renders `xmlns:saml` where it is first used: here, and again on the
    // Assertion (a sibling, not a descendant).
    w.open("saml:Issuer", &[("saml", SAML)], &[]);
    w.text(to.issuer);
    w.close();
    w.position()
}

fn write_assertion(
    to: &Addressing<'_>,
    a: &AssertionContent<'_>,
    sign: bool,
    signer: &Signer,
) -> Result<String, SignError> {
    let now = format_rfc3339(to.now);
    let not_on_or_after = format_rfc3339(a.not_on_or_after);
    let mut w = Canonical::with_capacity(2048 + 64 * a.attributes.len());
    w.open(
        "saml:Assertion",
        &[("saml", SAML)],
        &[("ID", a.id), ("IssueInstant", &now), ("Version", "2.0")],
    );
    w.leaf("saml:Issuer", &[], to.issuer);
    let sig_at = w.position();

    w.open("saml:Subject", &[], &[]);
    w.leaf(
        "saml:NameID",
        &[("Format", &a.name_id.format)],
        &a.name_id.value,
    );
    w.open("saml:SubjectConfirmation", &[], &[("Method", BEARER)]);
    let mut data = vec![
        ("NotOnOrAfter", not_on_or_after.as_str()),
        ("Recipient", to.acs_url),
    ];
    if let Some(irt) = to.in_response_to {
        data.push(("InResponseTo", irt));
    }
    w.leaf("saml:SubjectConfirmationData", &data, "");
    w.close();
    w.close();

    let not_before = format_rfc3339(a.not_before);
    w.open(
        "saml:Conditions",
        &[],
        &[
            ("NotBefore", &not_before),
            ("NotOnOrAfter", &not_on_or_after),
        ],
    );
    w.open("saml:AudienceRestriction", &[], &[]);
    w.leaf("saml:Audience", &[], a.audience);
    w.close();
    w.close();

    let instant = format_rfc3339(a.authn_instant);
    let session_end = a.session_not_on_or_after.map(format_rfc3339);
    let mut authn = vec![
        ("AuthnInstant", instant.as_str()),
        ("SessionIndex", a.session_index),
    ];
    if let Some(end) = &session_end {
        authn.push(("SessionNotOnOrAfter", end));
    }
    w.open("saml:AuthnStatement", &[], &authn);
    w.open("saml:AuthnContext", &[], &[]);
    w.leaf("saml:AuthnContextClassRef", &[], a.method.class_ref());
    w.close();
    w.close();

    if !a.attributes.is_empty() {
        w.open("saml:AttributeStatement", &[], &[]);
        for attr in a.attributes {
            w.open(
                "saml:Attribute",
                &[],
                &[("Name", &attr.name), ("NameFormat", &attr.name_format)],
            );
            for v in &attr.values {
                w.leaf("saml:AttributeValue", &[], v);
            }
            w.close();
        }
        w.close();
    }
    let mut xml = w.finish();
    if sign {
        signer.sign_enveloped(&mut xml, a.id, sig_at)?;
    }
    Ok(xml)
}

#[cfg(test)]
#[path = "response_test.rs"]
pub(crate) mod tests;
