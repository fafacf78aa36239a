//! Responses checked by the reference verifier, `xmlsec1 --verify` (libxmlsec1, which does its
//! own exclusive canonicalization): the canonical writer's claim that its bytes are the
//! canonical form holds exactly when these pass.

use std::path::PathBuf;
use std::process::Command;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::*;

fn vectors() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/saml")
}

pub(crate) fn test_signer() -> Signer {
    let key = PrivateKeyDer::from_pem_file(vectors().join("idp.key")).unwrap();
    let cert = CertificateDer::from_pem_file(vectors().join("idp.pem")).unwrap();
    Signer::new(&key, &cert).unwrap()
}

/// Runs `xmlsec1 --verify` on `xml` against the IdP certificate; `xpath` picks the signature
/// (default: the first in document order).
pub(crate) fn xmlsec_verify(xml: &str, xpath: Option<&str>) -> Result<(), String> {
    let dir = std::env::temp_dir().join(format!(
        "iwa-saml-{}-{:x}",
        std::process::id(),
        rand::random::<u64>()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("response.xml");
    std::fs::write(&file, xml).unwrap();
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(vectors().join("idp.pem"))
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:Response",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
        ]);
    if let Some(x) = xpath {
        cmd.args(["--node-xpath", x]);
    }
    let out = cmd
        .arg(&file)
        .output()
        .expect("xmlsec1 is installed (scripts/install-deps.sh)");
    let _ = std::fs::remove_dir_all(&dir);
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

const ASSERTION_SIGNATURE: &str = "//*[local-name()='Assertion']/*[local-name()='Signature']";

fn attributes() -> Vec<Attribute> {
    vec![
        Attribute {
            name: "IDPEmail".into(),
            name_format: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified".into(),
            values: vec!["alice@corp.test".into()],
        },
        Attribute {
            name: "http://schemas.xmlsoap.org/claims/Group".into(),
            name_format: "urn:oasis:names:tc:SAML:2.0:attrname-format:uri".into(),
            // Markup, quotes, non-ASCII, CR and a control character: all must survive
            // canonicalization the same way on both sides.
            values: vec![
                "R&D <lab> \"north\"".into(),
                "営業部".into(),
                "line\r\nbreak\u{7}".into(),
            ],
        },
    ]
}

fn render(signing: Signing, in_response_to: Option<&str>) -> String {
    let name_id = NameId {
        value: "alice@corp.test".into(),
        format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress".into(),
    };
    let attrs = attributes();
    let to = Addressing {
        issuer: "https://gw.corp.test/saml/metadata",
        acs_url: "https://sp.example/acs?x=1&y=2",
        in_response_to,
        response_id: "_r0123456789abcdef",
        now: 1_795_259_762,
    };
    let a = AssertionContent {
        id: "_a0123456789abcdef",
        audience: "https://sp.example/metadata",
        name_id: &name_id,
        method: AuthnMethod::Windows,
        authn_instant: 1_795_259_700,
        session_index: "_s42",
        session_not_on_or_after: Some(1_795_288_562),
        not_on_or_after: 1_795_260_062,
        not_before: 1_795_259_462,
        attributes: &attrs,
    };
    success(&to, &a, signing, &test_signer()).unwrap()
}

#[test]
fn a_signed_assertion_verifies_with_xmlsec1() {
    let xml = render(Signing::Assertion, Some("_req1"));
    xmlsec_verify(&xml, None).unwrap();
    assert_eq!(xml.matches("<ds:Signature ").count(), 1);
    // The signature sits right after the assertion's Issuer (schema order).
    assert!(xml.contains("</saml:Issuer><ds:Signature xmlns:ds="));
    assert!(xml.contains("InResponseTo=\"_req1\""));
    assert!(xml.contains(
        "<saml:AuthnContextClassRef>urn:federation:authentication:windows</saml:AuthnContextClassRef>"
    ));
    assert!(xml.contains("http://www.w3.org/2001/04/xmlenc#sha256"));
    assert!(!xml.contains("xmldsig#sha1"));
}

#[test]
fn response_and_assertion_both_verify_when_both_are_signed() {
    let xml = render(Signing::Both, None);
    assert_eq!(xml.matches("<ds:Signature ").count(), 2);
    xmlsec_verify(&xml, None).unwrap();
    xmlsec_verify(&xml, Some(ASSERTION_SIGNATURE)).unwrap();
    assert!(!xml.contains("InResponseTo"));
}

#[test]
fn a_signed_response_alone_verifies() {
    let xml = render(Signing::Response, Some("_req2"));
    assert_eq!(xml.matches("<ds:Signature ").count(), 1);
    xmlsec_verify(&xml, None).unwrap();
}

#[test]
fn a_tampered_name_id_fails_verification() {
    for signing in [Signing::Assertion, Signing::Response, Signing::Both] {
        let xml = render(signing, Some("_req3"));
        let tampered = xml.replacen(
            ">alice@corp.test</saml:NameID>",
            ">mallory@corp.test</saml:NameID>",
            1,
        );
        assert_ne!(tampered, xml);
        assert!(xmlsec_verify(&tampered, None).is_err(), "{signing:?}");
    }
    let xml = render(Signing::Both, None);
    let tampered = xml.replacen("営業部", "経理部", 1);
    assert!(xmlsec_verify(&tampered, Some(ASSERTION_SIGNATURE)).is_err());
}

#[test]
fn error_responses_carry_both_status_levels_and_verify() {
    let to = Addressing {
        issuer: "https://gw.corp.test/saml/metadata",
        acs_url: "https://sp.example/acs",
        in_response_to: Some("_req4"),
        response_id: "_rerr",
        now: 1_795_259_762,
    };
    let xml = failure(
        &to,
        status::RESPONDER,
        Some(status::NO_PASSIVE),
        "silent sign-in is not possible",
        true,
        &test_signer(),
    )
    .unwrap();
    xmlsec_verify(&xml, None).unwrap();
    assert!(xml.contains(
        "<samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:Responder\">\
         <samlp:StatusCode Value=\"urn:oasis:names:tc:SAML:2.0:status:NoPassive\">\
         </samlp:StatusCode></samlp:StatusCode>"
    ));
    assert!(!xml.contains("Assertion"));
}
