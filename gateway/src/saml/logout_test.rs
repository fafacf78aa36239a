//! SP-initiated single logout over both bindings: the LogoutResponse verifies (xmlsec1 for
//! POST, the Redirect query signature with the IdP certificate) and answers the request.

use std::io::Read as _;

use super::*;
use crate::config::saml::{RequestSignatures, Slo};
use crate::saml::request::rsa_public_key;
use crate::saml::request::tests::{deflate_b64, settings, sp_signer, NOW, SP};
use crate::saml::response::tests::{test_signer, xmlsec_verify};
use crate::saml::xml::Canonical;

fn logout_request(issuer: &str) -> String {
    let t = kdc_bridge::proto::krb::asn1::format_rfc3339(NOW);
    let mut w = Canonical::new();
    w.open(
        "samlp:LogoutRequest",
        &[("samlp", "urn:oasis:names:tc:SAML:2.0:protocol")],
        &[("ID", "_lo1"), ("Version", "2.0"), ("IssueInstant", &t)],
    );
    w.open(
        "saml:Issuer",
        &[("saml", "urn:oasis:names:tc:SAML:2.0:assertion")],
        &[],
    );
    w.text(issuer);
    w.close();
    w.open(
        "saml:NameID",
        &[("saml", "urn:oasis:names:tc:SAML:2.0:assertion")],
        &[],
    );
    w.text("alice@corp.test");
    w.close();
    w.finish()
}

fn signed_redirect(xml: &str) -> String {
    let mut q = format!("SAMLRequest={}&RelayState=bye", encode(&deflate_b64(xml)));
    q.push_str(&format!("&SigAlg={}", encode(RSA_SHA256)));
    let sig = sp_signer().sign_raw(q.as_bytes()).unwrap();
    q.push_str(&format!("&Signature={}", encode(&STANDARD.encode(sig))));
    q
}

fn settings_with(binding: SloBinding) -> SamlSettings {
    let mut s = settings(RequestSignatures::Required);
    s.sps[0].slo = Some(Slo {
        url: "https://sp.example/slo?tenant=1".into(),
        binding,
    });
    s
}

#[test]
fn a_redirect_logout_gets_a_signed_redirect_response() {
    let s = settings_with(SloBinding::Redirect);
    let req = parse(
        &s,
        Binding::Redirect,
        &signed_redirect(&logout_request(SP)),
        NOW,
    )
    .unwrap();
    assert_eq!((req.id.as_str(), req.signed), ("_lo1", true));
    assert_eq!(req.name_id.as_deref(), Some("alice@corp.test"));
    let Some(Answer::Redirect(location)) = answer(&s, &test_signer(), &req, NOW, Lang::En).unwrap()
    else {
        panic!("a redirect");
    };
    let query = location
        .strip_prefix("https://sp.example/slo?tenant=1&")
        .expect("the SLO URL");
    let params = form::parse(query).unwrap();
    let raw = |n: &str| {
        params
            .iter()
            .find(|p| p.name == n)
            .map(|p| &query[p.raw.clone()])
            .unwrap()
    };
    let signed = format!(
        "{}&{}&{}",
        raw("SAMLResponse"),
        raw("RelayState"),
        raw("SigAlg")
    );
    let sig = STANDARD
        .decode(&params.iter().find(|p| p.name == "Signature").unwrap().value)
        .unwrap();
    let cert = rustls::pki_types::CertificateDer::from(
        STANDARD.decode(test_signer().cert_base64()).unwrap(),
    );
    let key = rsa_public_key(cert.as_ref()).unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
        .verify(signed.as_bytes(), &sig)
        .expect("the IdP's signature over the query");
    let deflated = STANDARD.decode(&params[0].value).unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    assert!(xml.starts_with("<samlp:LogoutResponse "), "{xml}");
    assert!(xml.contains("InResponseTo=\"_lo1\""));
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:status:Success"));
    assert!(raw("RelayState").ends_with("=bye"));
}

#[test]
fn a_post_logout_gets_a_signed_post_response() {
    let s = settings_with(SloBinding::Post);
    let req = parse(
        &s,
        Binding::Redirect,
        &signed_redirect(&logout_request(SP)),
        NOW,
    )
    .unwrap();
    let Some(Answer::Post(page)) = answer(&s, &test_signer(), &req, NOW, Lang::En).unwrap() else {
        panic!("a form");
    };
    let start = page.html.find("name=\"SAMLResponse\" value=\"").unwrap() + 27;
    let end = start + page.html[start..].find('"').unwrap();
    let xml = String::from_utf8(STANDARD.decode(&page.html[start..end]).unwrap()).unwrap();
    xmlsec_verify(&xml, None).unwrap();
    assert!(xml.contains("Destination=\"https://sp.example/slo?tenant=1\""));
}

#[test]
fn logout_requests_that_cannot_be_answered_get_the_error_page() {
    let s = settings_with(SloBinding::Redirect);
    let q = signed_redirect(&logout_request("https://evil.example"));
    assert_eq!(
        parse(&s, Binding::Redirect, &q, NOW).unwrap_err().reason(),
        "unknown_sp"
    );
    let no_slo = settings(RequestSignatures::Required);
    let q = signed_redirect(&logout_request(SP));
    assert_eq!(
        parse(&no_slo, Binding::Redirect, &q, NOW)
            .unwrap_err()
            .reason(),
        "no_slo_url"
    );
    let unsigned = format!("SAMLRequest={}", encode(&deflate_b64(&logout_request(SP))));
    assert_eq!(
        parse(&s, Binding::Redirect, &unsigned, NOW)
            .unwrap_err()
            .reason(),
        "unsigned"
    );
    // Unsigned is refused even for an SP whose AuthnRequests may be unsigned.
    let mut optional = settings_with(SloBinding::Redirect);
    optional.sps[0].request_signatures = RequestSignatures::Optional;
    assert_eq!(
        parse(&optional, Binding::Redirect, &unsigned, NOW)
            .unwrap_err()
            .reason(),
        "unsigned"
    );
    let tampered = q.replace("RelayState=bye", "RelayState=hi");
    assert_eq!(
        parse(&s, Binding::Redirect, &tampered, NOW)
            .unwrap_err()
            .reason(),
        "bad_signature"
    );
}
