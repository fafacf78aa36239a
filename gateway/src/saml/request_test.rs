//! AuthnRequests over both bindings, signed (Redirect: RSA over the query string; POST:
//! enveloped, checked by libxmlsec1) and not, against a registry with one SP.

use std::io::Write as _;
use std::path::PathBuf;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer as Der, PrivateKeyDer};

use super::*;
use crate::config::saml::{NameIdRule, ValueSource};
use crate::saml::form::encode;
use crate::saml::response::Signing;
use crate::saml::sign::Signer;
use crate::saml::xml::Canonical;

pub(crate) const NOW: i64 = 1_795_259_762;
pub(crate) const SP: &str = "https://sp.example/metadata";
const ACS: &str = "https://sp.example/acs";

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/saml")
}

fn sp_cert() -> Vec<u8> {
    Der::from_pem_file(vectors().join("sp.pem"))
        .unwrap()
        .as_ref()
        .to_vec()
}

/// The SP's own key, to sign requests as it would.
pub(crate) fn sp_signer() -> Signer {
    let key = PrivateKeyDer::from_pem_file(vectors().join("sp.key")).unwrap();
    Signer::new(&key, &Der::from(sp_cert())).unwrap()
}

pub(crate) fn settings(signatures: RequestSignatures) -> SamlSettings {
    SamlSettings {
        base_url: "https://gw.corp.test".into(),
        entity_id: "https://gw.corp.test/saml/metadata".into(),
        display_name: "Corp".into(),
        default_language: crate::saml::pages::Lang::En,
        signer: None,
        signing_cert: Vec::new(),
        next_signing_cert: None,
        metadata_valid_secs: 86_400,
        metadata_cache_secs: 3600,
        max_skew_secs: 180,
        max_relay_state_bytes: 80,
        pairwise_key: None,
        kerberos: crate::config::login::KerberosEligibility::default(),
        login: crate::config::login::LoginSettings {
            enabled: false,
            realm: None,
            throttle: policy::throttle::ThrottlePolicy::default(),
            form_lifetime_secs: 900,
        },
        sps: vec![ServiceProvider {
            entity_id: SP.into(),
            display_name: "Example".into(),
            acs: vec![
                Acs {
                    url: ACS.into(),
                    index: 0,
                    default: false,
                },
                Acs {
                    url: "https://sp.example/acs2".into(),
                    index: 1,
                    default: true,
                },
            ],
            certificate: Some(sp_cert()),
            request_signatures: signatures,
            name_id: NameIdRule {
                format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
                source: ValueSource::Mail,
            },
            attributes: Vec::new(),
            sign: Signing::Assertion,
            assertion_lifetime_secs: 300,
            issuer: "https://gw.corp.test/saml/metadata".into(),
            issuer_by_upn_domain: Vec::new(),
            slo: None,
            idp_initiated: true,
        }],
    }
}

/// An AuthnRequest as an SP writes it; `extra` are more attributes of the root.
fn authn_request(issuer: &str, instant: i64, extra: &[(&str, &str)]) -> Canonical {
    let t = kdc_bridge::proto::krb::asn1::format_rfc3339(instant);
    let mut attrs = vec![
        ("ID", "_req1"),
        ("Version", "2.0"),
        ("IssueInstant", t.as_str()),
    ];
    attrs.extend_from_slice(extra);
    let mut w = Canonical::new();
    // Namespaces declared where exclusive c14n renders them (the canonical writer's contract):
    // `saml` on the Issuer, the first element that uses it.
    w.open(
        "samlp:AuthnRequest",
        &[("samlp", "urn:oasis:names:tc:SAML:2.0:protocol")],
        &attrs,
    );
    w.open(
        "saml:Issuer",
        &[("saml", "urn:oasis:names:tc:SAML:2.0:assertion")],
        &[],
    );
    w.text(issuer);
    w.close();
    w
}

pub(crate) fn deflate_b64(xml: &str) -> String {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).unwrap();
    STANDARD.encode(e.finish().unwrap())
}

/// A Redirect-binding query, signed with the SP key when `sign`.
fn redirect(xml: &str, relay: Option<&str>, sign: bool) -> String {
    let mut q = format!("SAMLRequest={}", encode(&deflate_b64(xml)));
    if let Some(r) = relay {
        q.push_str(&format!("&RelayState={}", encode(r)));
    }
    if sign {
        q.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
        let sig = sp_signer().sign_raw(q.as_bytes()).unwrap();
        q.push_str(&format!("&Signature={}", encode(&STANDARD.encode(sig))));
    }
    q
}

fn plain(extra: &[(&str, &str)]) -> String {
    authn_request(SP, NOW, extra).finish()
}

#[test]
fn an_unsigned_redirect_request_picks_the_default_acs() {
    let q = redirect(&plain(&[("IsPassive", "true")]), Some("state-1"), false);
    let r = parse(
        &settings(RequestSignatures::Optional),
        Binding::Redirect,
        &q,
        NOW,
    )
    .unwrap();
    assert_eq!(r.sp, SP);
    assert_eq!(r.request_id.as_deref(), Some("_req1"));
    assert_eq!(r.acs_url, "https://sp.example/acs2");
    assert_eq!(r.relay_state.as_deref(), Some("state-1"));
    assert!(r.is_passive && !r.force_authn && !r.signed);
}

#[test]
fn a_signed_redirect_request_verifies_over_the_exact_query() {
    let xml = plain(&[("AssertionConsumerServiceURL", ACS), ("ForceAuthn", "true")]);
    let q = redirect(&xml, Some("a b&c"), true);
    let r = parse(
        &settings(RequestSignatures::Required),
        Binding::Redirect,
        &q,
        NOW,
    )
    .unwrap();
    assert!(r.signed && r.force_authn);
    assert_eq!(r.acs_url, ACS);
    assert_eq!(r.relay_state.as_deref(), Some("a b&c"));
    // Parameter order in the URL does not matter; the bytes do.
    let mut parts: Vec<&str> = q.split('&').collect();
    parts.reverse();
    let reordered = parts.join("&");
    assert!(parse(
        &settings(RequestSignatures::Required),
        Binding::Redirect,
        &reordered,
        NOW
    )
    .is_ok());
    // Another (equivalent) encoding of the same RelayState is not what was signed.
    let reencoded = q.replace("RelayState=a%20b", "RelayState=a+b");
    assert_ne!(reencoded, q);
    let e = parse(
        &settings(RequestSignatures::Required),
        Binding::Redirect,
        &reencoded,
        NOW,
    )
    .unwrap_err();
    assert_eq!(e.reason(), "bad_signature");
}

#[test]
fn unsigned_or_tampered_requests_get_an_error_page() {
    let s = settings(RequestSignatures::Required);
    let q = redirect(&plain(&[]), None, false);
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "unsigned"
    );
    let q = redirect(&plain(&[]), Some("x"), true).replace("RelayState=x", "RelayState=y");
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "bad_signature"
    );
    let q = redirect(&plain(&[]), None, true).replace(
        &encode(RSA_SHA256),
        &encode("http://www.w3.org/2000/09/xmldsig#rsa-sha1"),
    );
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "bad_signature"
    );
}

#[test]
fn unknown_sps_and_unregistered_acs_urls_never_get_a_redirect() {
    let s = settings(RequestSignatures::Optional);
    let q = redirect(
        &authn_request("https://evil.example", NOW, &[]).finish(),
        None,
        false,
    );
    assert!(matches!(
        parse(&s, Binding::Redirect, &q, NOW),
        Err(Refused::Page {
            reason: "unknown_sp",
            ..
        })
    ));
    let q = redirect(
        &plain(&[("AssertionConsumerServiceURL", "https://evil.example/acs")]),
        None,
        false,
    );
    assert!(matches!(
        parse(&s, Binding::Redirect, &q, NOW),
        Err(Refused::Page {
            reason: "bad_acs",
            ..
        })
    ));
    let q = redirect(
        &plain(&[("AssertionConsumerServiceIndex", "7")]),
        None,
        false,
    );
    assert!(matches!(
        parse(&s, Binding::Redirect, &q, NOW),
        Err(Refused::Page {
            reason: "bad_acs",
            ..
        })
    ));
    let q = redirect(
        &plain(&[("AssertionConsumerServiceIndex", "0")]),
        None,
        false,
    );
    assert_eq!(parse(&s, Binding::Redirect, &q, NOW).unwrap().acs_url, ACS);
}

#[test]
fn requester_errors_go_back_to_the_acs_as_a_status() {
    let s = settings(RequestSignatures::Optional);
    let stale = authn_request(SP, NOW - 600, &[]).finish();
    let Err(Refused::Status {
        request,
        code,
        reason,
        ..
    }) = parse(&s, Binding::Redirect, &redirect(&stale, None, false), NOW)
    else {
        panic!("a stale request is a requester error");
    };
    assert_eq!((reason, code), ("stale", status::REQUEST_DENIED));
    assert_eq!(request.acs_url, "https://sp.example/acs2");
    let q = redirect(
        &plain(&[("Destination", "https://other.example/sso")]),
        None,
        false,
    );
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "destination"
    );
    let q = redirect(
        &plain(&[(
            "ProtocolBinding",
            "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact",
        )]),
        None,
        false,
    );
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "binding"
    );
    let q = redirect(&plain(&[]), Some(&"r".repeat(81)), false);
    let Err(Refused::Status { request, .. }) = parse(&s, Binding::Redirect, &q, NOW) else {
        panic!("a long RelayState is a requester error");
    };
    assert_eq!(request.relay_state, None);
}

#[test]
fn malformed_input_is_refused_without_panicking() {
    let s = settings(RequestSignatures::Optional);
    for q in [
        "",
        "SAMLRequest=",
        "SAMLRequest=%%%",
        "SAMLRequest=bm90IGRlZmxhdGU%3D",
        &format!("SAMLRequest={}", encode(&deflate_b64("<a>"))),
        &format!(
            "SAMLRequest={}",
            encode(&deflate_b64("<!DOCTYPE x [<!ENTITY e \"e\">]><x>&e;</x>"))
        ),
        &format!(
            "SAMLRequest={}",
            encode(&deflate_b64(&authn_request("", NOW, &[]).finish()))
        ),
    ] {
        assert!(
            matches!(
                parse(&s, Binding::Redirect, q, NOW),
                Err(Refused::Page { .. })
            ),
            "{q}"
        );
    }
    // A deflate bomb stops at the size limit.
    let bomb = deflate_b64(&format!("<a>{}</a>", " ".repeat(10 * MAX_XML_BYTES)));
    let q = format!("SAMLRequest={}", encode(&bomb));
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "too_large"
    );
}

fn post_body(xml: &str) -> String {
    format!(
        "SAMLRequest={}&RelayState=r1",
        encode(&STANDARD.encode(xml))
    )
}

#[test]
fn a_post_request_with_an_enveloped_signature_verifies_with_libxmlsec1() {
    let mut w = authn_request(SP, NOW, &[("AssertionConsumerServiceURL", ACS)]);
    let at = w.position();
    w.open("samlp:NameIDPolicy", &[], &[("AllowCreate", "true")]);
    w.close();
    let mut xml = w.finish();
    sp_signer().sign_enveloped(&mut xml, "_req1", at).unwrap();
    let s = settings(RequestSignatures::Required);
    let r = parse(&s, Binding::Post, &post_body(&xml), NOW).unwrap();
    assert!(r.signed);
    assert_eq!(r.acs_url, ACS);
    assert_eq!(r.relay_state.as_deref(), Some("r1"));

    // The ACS URL changed after signing.
    let tampered = xml.replace(ACS, "https://sp.example/acs2");
    assert_eq!(
        parse(&s, Binding::Post, &post_body(&tampered), NOW)
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
    // Unsigned while required.
    let unsigned = plain(&[]);
    assert_eq!(
        parse(&s, Binding::Post, &post_body(&unsigned), NOW)
            .unwrap_err()
            .reason(),
        "unsigned"
    );
    // Accepted unsigned when optional.
    let r = parse(
        &settings(RequestSignatures::Optional),
        Binding::Post,
        &post_body(&unsigned),
        NOW,
    )
    .unwrap();
    assert!(!r.signed);
}

#[test]
fn idp_initiated_goes_to_the_default_acs() {
    let s = settings(RequestSignatures::Required);
    let r = idp_initiated(&s, &format!("sp={}&RelayState=%2Fhome", encode(SP))).unwrap();
    assert_eq!(
        (r.acs_url.as_str(), r.relay_state.as_deref(), r.request_id),
        ("https://sp.example/acs2", Some("/home"), None)
    );
    assert_eq!(
        idp_initiated(&s, "sp=nope").unwrap_err().reason(),
        "unknown_sp"
    );
    let mut off = settings(RequestSignatures::Required);
    off.sps[0].idp_initiated = false;
    let q = format!("sp={}", encode(SP));
    assert_eq!(
        idp_initiated(&off, &q).unwrap_err().reason(),
        "idp_initiated_off"
    );
}

#[test]
fn an_authentication_context_we_cannot_give_is_a_no_authn_context_status() {
    let s = settings(RequestSignatures::Optional);
    let with_context = |class: &str| {
        let mut w = authn_request(SP, NOW, &[]);
        w.open(
            "samlp:RequestedAuthnContext",
            &[],
            &[("Comparison", "exact")],
        );
        w.open(
            "saml:AuthnContextClassRef",
            &[("saml", "urn:oasis:names:tc:SAML:2.0:assertion")],
            &[],
        );
        w.text(class);
        redirect(&w.finish(), None, false)
    };
    let q = with_context("urn:oasis:names:tc:SAML:2.0:ac:classes:Smartcard");
    let Err(Refused::Status { code, reason, .. }) = parse(&s, Binding::Redirect, &q, NOW) else {
        panic!("a smartcard cannot be offered");
    };
    assert_eq!((reason, code), ("authn_context", status::NO_AUTHN_CONTEXT));
    let q = with_context("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport");
    assert!(parse(&s, Binding::Redirect, &q, NOW).is_ok());
}
