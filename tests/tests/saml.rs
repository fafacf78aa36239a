//! Issue 4: the SAML IdP end to end, with a real ticket from the test AD: metadata, SP-initiated
//! sign-in over HTTP-Redirect (silent Negotiate, then the session cookie), IdP-initiated,
//! `IsPassive` without credentials, an unregistered SP. Every response is checked by
//! `xmlsec1 --verify` against the IdP certificate.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use e2e::{real_dc, workspace_root, Gateway, GatewayOptions};

const SP: &str = "https://sp.example/metadata";
const ACS: &str = "https://sp.example/acs";

fn vectors() -> PathBuf {
    workspace_root().join("gateway/tests/vectors/saml")
}

fn options() -> GatewayOptions {
    let mut opts = GatewayOptions::gw().with_directory(&[real_dc()], &[]);
    let key = std::fs::read(vectors().join("idp.key")).expect("idp.key");
    opts.files.push(("saml.key".into(), key));
    opts.extra = vec![
        "[saml]".into(),
        "base_url = \"https://gw.corp.test\"".into(),
        "display_name = \"Corp Test\"".into(),
        "signing_key = \"saml.key\"".into(),
        format!("signing_cert = \"{}\"", vectors().join("idp.pem").display()),
        "[[saml.service_providers]]".into(),
        format!("entity_id = \"{SP}\""),
        format!("acs = [{{ url = \"{ACS}\" }}]"),
        "name_id = { source = \"upn\" }".into(),
        "sign = \"both\"".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"mail\"".into(),
        "source = \"mail\"".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"groups\"".into(),
        "source = \"groups\"".into(),
        "group_patterns = [\"Engineering\", \"Staff\"]".into(),
    ];
    opts
}

fn authn_request(id: &str, issuer: &str, extra: &str) -> String {
    let now = kdc_bridge::proto::krb::asn1::format_rfc3339(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    );
    let xml = format!(
        "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
         xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"{id}\" Version=\"2.0\" \
         IssueInstant=\"{now}\" AssertionConsumerServiceURL=\"{ACS}\" {extra}>\
         <saml:Issuer>{issuer}</saml:Issuer></samlp:AuthnRequest>"
    );
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(xml.as_bytes()).expect("deflate");
    let b64 = STANDARD.encode(e.finish().expect("deflate"));
    let encoded: String = b64
        .bytes()
        .map(|b| match b {
            b'+' => "%2B".to_owned(),
            b'/' => "%2F".to_owned(),
            b'=' => "%3D".to_owned(),
            b => (b as char).to_string(),
        })
        .collect();
    format!("/saml/sso?SAMLRequest={encoded}&RelayState=rs-1")
}

/// The decoded `SAMLResponse` of a hand-off page.
fn saml_response(html: &str) -> String {
    let start = html
        .find("name=\"SAMLResponse\" value=\"")
        .unwrap_or_else(|| panic!("no SAMLResponse in {html}"))
        + "name=\"SAMLResponse\" value=\"".len();
    let end = start + html[start..].find('"').expect("end of value");
    String::from_utf8(STANDARD.decode(&html[start..end]).expect("base64")).expect("UTF-8")
}

fn xmlsec_verify(gw: &Gateway, xml: &str, xpath: Option<&str>) -> bool {
    let file = std::env::temp_dir().join(format!(
        "iwa-e2e-saml-{}-{}.xml",
        std::process::id(),
        xml.len()
    ));
    std::fs::write(&file, xml).expect("write response");
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
        ]);
    if let Some(x) = xpath {
        cmd.args(["--node-xpath", x]);
    }
    let out = cmd.arg(&file).output().expect("xmlsec1 runs");
    let _ = std::fs::remove_file(&file);
    if !out.status.success() {
        eprintln!(
            "xmlsec1: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            gw.log()
        );
    }
    out.status.success()
}

#[test]
fn sp_initiated_sign_in_is_silent_and_the_assertion_verifies() {
    let gw = Gateway::start("saml", &options());
    let meta = gw.curl("/saml/metadata").send();
    assert_eq!(meta.status, 200, "{meta:?}");
    assert!(meta
        .body
        .contains("entityID=\"https://gw.corp.test/saml/metadata\""));
    assert!(meta
        .body
        .contains("Location=\"https://gw.corp.test/saml/sso\""));
    assert!(meta.body.contains("<ds:X509Certificate>"));

    // No ticket: the challenge.
    let path = authn_request("_e2e1", SP, "");
    let r = gw.curl(&path).send();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some("Negotiate"));

    let alice = gw.kinit("alice");
    let r = gw.curl(&path).negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let csp = r.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("form-action https://sp.example/acs"), "{csp}");
    assert!(r.body.contains("action=\"https://sp.example/acs\""));
    assert!(r.body.contains("name=\"RelayState\" value=\"rs-1\""));
    let xml = saml_response(&r.body);
    assert!(xmlsec_verify(&gw, &xml, None), "{xml}");
    assert!(xmlsec_verify(
        &gw,
        &xml,
        Some("//*[local-name()='Assertion']/*[local-name()='Signature']")
    ));
    assert!(xml.contains("InResponseTo=\"_e2e1\""));
    assert!(xml.contains(">alice@corp.test</saml:NameID>"), "{xml}");
    assert!(xml.contains("<saml:Audience>https://sp.example/metadata</saml:Audience>"));
    assert!(xml.contains("urn:federation:authentication:windows"));
    assert!(
        xml.contains("<saml:AttributeValue>Engineering</saml:AttributeValue>"),
        "{xml}"
    );
    assert!(xml.contains("<saml:AttributeValue>Staff</saml:AttributeValue>"));
    assert!(!xml.contains("VPN Users"), "group filter");
    let tampered = xml.replacen(
        ">alice@corp.test</saml:NameID>",
        ">bob@corp.test</saml:NameID>",
        1,
    );
    assert!(!xmlsec_verify(&gw, &tampered, None));

    // The session cookie signs the next request in without Negotiate.
    let cookie = r
        .header("set-cookie")
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap_or("")
        .to_owned();
    let r = gw
        .curl(&authn_request("_e2e2", SP, ""))
        .header(&format!("Cookie: {cookie}"))
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(saml_response(&r.body).contains("InResponseTo=\"_e2e2\""));
    // ForceAuthn: the cookie is not enough.
    let r = gw
        .curl(&authn_request("_e2e3", SP, "ForceAuthn=\"true\""))
        .header(&format!("Cookie: {cookie}"))
        .send();
    assert_eq!(r.status, 401, "{r:?}");

    // IdP-initiated.
    let r = gw
        .curl("/saml/idp-init?sp=https%3A%2F%2Fsp.example%2Fmetadata&RelayState=%2Fhome")
        .negotiate(&alice)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let xml = saml_response(&r.body);
    assert!(xmlsec_verify(&gw, &xml, None));
    assert!(!xml.contains("InResponseTo"));
    assert!(r.body.contains("name=\"RelayState\" value=\"/home\""));

    assert_eq!(
        gw.metric(
            "iwagw_saml_requests_total",
            &[("endpoint", "sso"), ("result", "assertion")]
        ),
        Some(2.0)
    );
}

#[test]
fn passive_unknown_and_unregistered_requests_never_sign_anyone_in() {
    let gw = Gateway::start("saml-refusals", &options());
    // IsPassive without credentials: a signed NoPassive status to the ACS, not a 401.
    let r = gw
        .curl(&authn_request("_p1", SP, "IsPassive=\"true\""))
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let xml = saml_response(&r.body);
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:NoPassive"),
        "{xml}"
    );
    assert!(!xml.contains("Assertion"));
    assert!(xmlsec_verify(&gw, &xml, None));

    // An unregistered SP: the error page, no redirect, no form to anywhere.
    let alice = gw.kinit("alice");
    let r = gw
        .curl(&authn_request("_u1", "https://evil.example", ""))
        .negotiate(&alice)
        .send();
    assert_eq!(r.status, 400, "{r:?}");
    assert!(!r.body.contains("<form"));
    assert!(r
        .header("content-security-policy")
        .unwrap_or_default()
        .contains("form-action 'none'"));
    assert!(gw
        .log()
        .contains("no service provider `https://evil.example` is registered"));
    let r = gw.curl("/saml/sso?SAMLRequest=%%%").send();
    assert_eq!(r.status, 400, "{r:?}");
    let r = gw
        .curl("/saml/sso?SAMLRequest=bm8=")
        .header("Accept-Language: ja")
        .send();
    assert_eq!(r.status, 400);
    assert!(r.body.contains("lang=\"ja\""));
}
