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

/// An SP registered without a certificate (the tests write its AuthnRequests themselves).
const SP: &str = "https://plain-sp.example/metadata";
const ACS: &str = "https://plain-sp.example/acs";
/// The pysaml2 SP (tests/saml-sp): its AuthnRequests must be signed.
const PYSAML2_SP: &str = "https://sp.example/metadata";

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
        "idp_initiated = true".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"mail\"".into(),
        "source = \"mail\"".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"groups\"".into(),
        "source = \"groups\"".into(),
        "group_patterns = [\"Engineering\", \"Staff\"]".into(),
        "[[saml.service_providers]]".into(),
        format!("entity_id = \"{PYSAML2_SP}\""),
        "acs = [{ url = \"https://sp.example/acs\" }]".into(),
        format!("certificate = \"{}\"", vectors().join("sp.pem").display()),
        "name_id = { format = \"email\", source = \"mail\" }".into(),
        "slo = { url = \"https://sp.example/slo\", binding = \"post\" }".into(),
        "idp_initiated = true".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"displayName\"".into(),
        "source = \"ldap:displayName\"".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"upn\"".into(),
        "source = \"upn\"".into(),
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
        ])
        .args([
            "--id-attr:ID",
            "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse",
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
    // Only the page's own script runs; no form-action (the SP may redirect after the POST).
    assert!(
        csp.starts_with("default-src 'none'; script-src 'sha256-") && !csp.contains("form-action"),
        "{csp}"
    );
    assert!(r.body.contains("action=\"https://plain-sp.example/acs\""));
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
    assert!(xml.contains("<saml:Audience>https://plain-sp.example/metadata</saml:Audience>"));
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
        .curl("/saml/idp-init?sp=https%3A%2F%2Fplain-sp.example%2Fmetadata&RelayState=%2Fhome")
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
    // IsPassive without credentials: the challenge, whose body hands a signed NoPassive
    // status to the ACS (a browser without a ticket shows it); never the form.
    let r = gw
        .curl(&authn_request("_p1", SP, "IsPassive=\"true\""))
        .send();
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header("www-authenticate"), Some("Negotiate"));
    assert!(!r.body.contains("/saml/login"));
    let xml = saml_response(&r.body);
    assert!(
        xml.contains("urn:oasis:names:tc:SAML:2.0:status:NoPassive"),
        "{xml}"
    );
    assert!(!xml.contains("Assertion"));
    assert!(xmlsec_verify(&gw, &xml, None));
    // With a ticket, IsPassive is no obstacle: Kerberos is silent.
    let alice = gw.kinit("alice");
    let r = gw
        .curl(&authn_request("_p2", SP, "IsPassive=\"true\""))
        .negotiate(&alice)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(saml_response(&r.body).contains(">alice@corp.test</saml:NameID>"));
    // A failed token (NTLM) with IsPassive: the NoPassive status at once.
    let ntlm = format!("Authorization: Negotiate {}", e2e::NTLM_NEGOTIATE);
    let r = gw
        .curl(&authn_request("_p3", SP, "IsPassive=\"true\""))
        .header(&ntlm)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(saml_response(&r.body).contains("NoPassive"));

    // An unregistered SP: the error page, no redirect, no form to anywhere.
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

/// Runs the pysaml2 SP (tests/saml-sp/run.sh): JSON out, or the error.
fn pysaml2(args: &[&str]) -> Result<serde_json::Value, String> {
    let out = Command::new(workspace_root().join("tests/saml-sp/run.sh"))
        .args(args)
        .output()
        .expect("tests/saml-sp/run.sh runs");
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            b => format!("%{b:02X}"),
        })
        .collect()
}

#[test]
fn a_real_sp_library_accepts_the_assertions() {
    let gw = Gateway::start("saml-pysaml2", &options());
    let meta = gw.curl("/saml/metadata").send();
    assert_eq!(meta.status, 200);
    let metadata =
        std::env::temp_dir().join(format!("iwa-e2e-idp-metadata-{}.xml", std::process::id()));
    std::fs::write(&metadata, &meta.body).expect("write metadata");
    let md = metadata.to_str().expect("UTF-8 path");
    let alice = gw.kinit("alice");
    let expect_alice = |v: &serde_json::Value| {
        assert_eq!(v["name_id"], "alice@corp.test", "{v}");
        assert_eq!(
            v["name_id_format"],
            "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        );
        assert_eq!(v["issuer"], "https://gw.corp.test/saml/metadata");
        assert_eq!(v["attributes"]["displayName"][0], "Alice Liddell", "{v}");
        assert_eq!(v["attributes"]["upn"][0], "alice@corp.test");
    };

    // SP-initiated, HTTP-Redirect, signed by pysaml2.
    let req = pysaml2(&["request", "--idp-metadata", md, "--binding", "redirect"]).unwrap();
    let url = req["url"].as_str().expect("url");
    let path = url
        .strip_prefix("https://gw.corp.test")
        .expect("the SSO URL from the metadata");
    let r = gw.curl(path).negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert!(xmlsec_verify(&gw, &saml_response(&r.body), None));
    let b64 = STANDARD.encode(saml_response(&r.body));
    let id = req["request_id"].as_str().expect("id");
    let v = pysaml2(&[
        "verify",
        "--idp-metadata",
        md,
        "--response",
        &b64,
        "--request-id",
        id,
    ])
    .unwrap();
    expect_alice(&v);
    assert_eq!(v["in_response_to"], id);
    assert_eq!(v["authn_context"], "urn:federation:authentication:windows");
    assert!(gw.log().contains("signed_request=true"), "{}", gw.log());

    // SP-initiated, HTTP-POST with an enveloped signature.
    let req = pysaml2(&["request", "--idp-metadata", md, "--binding", "post"]).unwrap();
    let body = format!(
        "SAMLRequest={}&RelayState={}",
        percent_encode(req["saml_request"].as_str().expect("SAMLRequest")),
        percent_encode(req["relay_state"].as_str().expect("RelayState"))
    );
    let r = gw
        .curl("/saml/sso")
        .post_form(&body)
        .negotiate(&alice)
        .send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert!(r.body.contains("name=\"RelayState\" value=\"rs-pysaml2\""));
    assert!(xmlsec_verify(&gw, &saml_response(&r.body), None));
    let b64 = STANDARD.encode(saml_response(&r.body));
    let id = req["request_id"].as_str().expect("id");
    expect_alice(
        &pysaml2(&[
            "verify",
            "--idp-metadata",
            md,
            "--response",
            &b64,
            "--request-id",
            id,
        ])
        .unwrap(),
    );

    // IdP-initiated: unsolicited, accepted by the SP as such.
    let r = gw
        .curl("/saml/idp-init?sp=https%3A%2F%2Fsp.example%2Fmetadata")
        .negotiate(&alice)
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(xmlsec_verify(&gw, &saml_response(&r.body), None));
    let b64 = STANDARD.encode(saml_response(&r.body));
    expect_alice(&pysaml2(&["verify", "--idp-metadata", md, "--response", &b64]).unwrap());

    // The SP refuses a tampered assertion.
    let tampered = STANDARD.encode(saml_response(&r.body).replace(
        ">alice@corp.test</saml:NameID>",
        ">bob@corp.test</saml:NameID>",
    ));
    assert!(pysaml2(&["verify", "--idp-metadata", md, "--response", &tampered]).is_err());

    // This SP must sign: its unsigned request gets the error page.
    let req = pysaml2(&[
        "request",
        "--idp-metadata",
        md,
        "--binding",
        "redirect",
        "--unsigned",
    ])
    .unwrap();
    let path = req["url"]
        .as_str()
        .and_then(|u| u.strip_prefix("https://gw.corp.test"))
        .expect("path");
    let r = gw.curl(path).negotiate(&alice).send();
    assert_eq!(r.status, 400, "{r:?}");
    assert!(gw.log().contains("reason=\"unsigned\""), "{}", gw.log());

    // Single logout from the SP, over both bindings: the session cookie is cleared and the SP
    // accepts the signed LogoutResponse.
    for binding in ["redirect", "post"] {
        let req = pysaml2(&[
            "logout",
            "--idp-metadata",
            md,
            "--binding",
            binding,
            "--name-id",
            "alice@corp.test",
        ])
        .unwrap();
        let r = if binding == "redirect" {
            let path = req["url"]
                .as_str()
                .and_then(|u| u.strip_prefix("https://gw.corp.test"))
                .expect("path");
            gw.curl(path).send()
        } else {
            let body = format!(
                "SAMLRequest={}&RelayState=rs-logout",
                percent_encode(req["saml_request"].as_str().expect("SAMLRequest"))
            );
            gw.curl("/saml/slo").post_form(&body).send()
        };
        assert_eq!(r.status, 200, "{binding}: {r:?}\n{}", gw.log());
        assert!(
            r.header_all("set-cookie")
                .iter()
                .any(|c| c.starts_with("iwagw_session=;") && c.contains("Max-Age=0")),
            "{r:?}"
        );
        let start = r
            .body
            .find("name=\"SAMLResponse\" value=\"")
            .expect("a LogoutResponse")
            + 27;
        let end = start + r.body[start..].find('"').expect("end");
        let lr = String::from_utf8(STANDARD.decode(&r.body[start..end]).expect("base64"))
            .expect("UTF-8");
        assert!(xmlsec_verify(&gw, &lr, None), "{lr}");
        let v = pysaml2(&[
            "verify-logout",
            "--idp-metadata",
            md,
            "--response",
            &r.body[start..end],
        ])
        .unwrap();
        assert_eq!(v["in_response_to"], req["request_id"], "{binding}");
        assert!(r.body.contains("name=\"RelayState\" value=\"rs-logout\""));
    }
    assert!(gw.log().contains("single logout: session ended"));
    let _ = std::fs::remove_file(&metadata);
}

/// The form's hidden `state` and the nonce cookie that goes with it.
fn form_state(r: &e2e::Reply) -> (String, String) {
    let start = r
        .body
        .find("name=\"state\" value=\"")
        .unwrap_or_else(|| panic!("no login form in {}", r.body))
        + "name=\"state\" value=\"".len();
    let end = start + r.body[start..].find('"').expect("end of state");
    let cookie = r
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("iwagw_login="))
        .and_then(|c| c.split(';').next())
        .expect("the nonce cookie")
        .to_owned();
    (r.body[start..end].to_owned(), cookie)
}

fn login(gw: &Gateway, state: &str, cookie: &str, user: &str, password: &str) -> e2e::Reply {
    let body = format!(
        "state={}&username={}&password={}",
        percent_encode(state),
        percent_encode(user),
        percent_encode(password)
    );
    gw.curl("/saml/login")
        .post_form(&body)
        .header(&format!("Cookie: {cookie}"))
        .header("Accept-Language: en")
        .send()
}

#[test]
fn the_password_form_signs_in_and_locks_out_before_ad_does() {
    let mut opts = options();
    // 127.0.0.1 is outside the Kerberos networks: the form comes at once.
    let at = opts
        .extra
        .iter()
        .position(|l| l == "[[saml.service_providers]]")
        .expect("an SP");
    opts.extra
        .insert(at, "kerberos_networks = [\"10.0.0.0/8\"]".into());
    opts.extra.insert(at + 1, "[saml.login]".into());
    opts.extra.insert(at + 2, "user_failures = 3".into());
    opts.extra.insert(at + 3, "lockout_seconds = 600".into());
    let gw = Gateway::start("saml-login", &opts);
    let ad = e2e::ad();
    let alice_pw = ad.var("IWA_AD_PW_ALICE").to_owned();

    let r = gw.curl(&authn_request("_f1", SP, "")).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("<label for=\"password\">"), "{}", r.body);
    let (state, cookie) = form_state(&r);

    let ok = login(&gw, &state, &cookie, "alice", &alice_pw);
    assert_eq!(ok.status, 200, "{ok:?}\n{}", gw.log());
    let xml = saml_response(&ok.body);
    assert!(xmlsec_verify(&gw, &xml, None));
    assert!(xml.contains("InResponseTo=\"_f1\""));
    assert!(xml.contains(">alice@corp.test</saml:NameID>"), "{xml}");
    assert!(xml.contains("urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"));
    assert!(ok
        .header_all("set-cookie")
        .iter()
        .any(|c| c.starts_with("iwagw_session=")));

    // The form's session: later SAML sign-ins say it was a password, and proxied routes still
    // want Kerberos.
    let session = ok
        .header_all("set-cookie")
        .into_iter()
        .find(|c| c.starts_with("iwagw_session="))
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let again = gw
        .curl(&authn_request("_f1b", SP, ""))
        .header(&format!("Cookie: {session}"))
        .send();
    assert_eq!(again.status, 200, "{again:?}");
    assert!(saml_response(&again.body).contains("PasswordProtectedTransport"));
    let app = gw
        .curl("/app/")
        .header(&format!("Cookie: {session}"))
        .send();
    assert_eq!(
        app.status, 401,
        "a password session on a proxied route: {app:?}"
    );

    // Other spellings of a user name; a disabled or unknown account gets the same message
    // as a wrong password.
    let r = gw.curl(&authn_request("_f2", SP, "")).send();
    let (state, cookie) = form_state(&r);
    let bob = login(&gw, &state, &cookie, "CORP\\bob", ad.var("IWA_AD_PW_BOB"));
    assert_eq!(bob.status, 200);
    assert!(saml_response(&bob.body).contains(">bob@corp.test</saml:NameID>"));
    let generic = "The user name or password is incorrect.";
    for (user, pw) in [
        ("mallory", ad.var("IWA_AD_PW_MALLORY")),
        ("nobody", "x"),
        ("carol@corp.test", "wrong"),
    ] {
        let r = login(&gw, &state, &cookie, user, pw);
        assert_eq!(r.status, 200, "{user}: {r:?}");
        assert!(r.body.contains(generic), "{user}: {}", r.body);
        assert!(!r.body.contains("SAMLResponse"));
    }

    // Without the nonce cookie (a form posted from another site): refused before any check.
    let r = gw
        .curl("/saml/login")
        .post_form(&format!(
            "state={}&username=alice&password=x",
            percent_encode(&state)
        ))
        .send();
    assert_eq!(r.status, 400, "{r:?}");

    // dave: two wrong passwords, then the third locks him out; the right one is not even
    // tried while locked.
    let dave_pw = ad.var("IWA_AD_PW_DAVE");
    assert!(login(&gw, &state, &cookie, "dave", "wrong-1")
        .body
        .contains(generic));
    assert!(login(&gw, &state, &cookie, "dave", "wrong-2")
        .body
        .contains(generic));
    let locked = login(&gw, &state, &cookie, "dave", "wrong-3");
    assert_eq!(locked.status, 429, "{locked:?}");
    assert!(
        locked.body.contains("Try again in 10 minutes."),
        "{}",
        locked.body
    );
    let still = login(&gw, &state, &cookie, "DAVE@corp.test", dave_pw);
    assert_eq!(still.status, 429);
    assert!(gw.log().contains("reason=\"locked\""));

    // Passwords never reach the log.
    let log = gw.log();
    for secret in [alice_pw.as_str(), "wrong-1", "wrong-3", dave_pw] {
        assert!(!log.contains(secret), "a password in the log");
    }
    assert_eq!(
        gw.metric(
            "iwagw_saml_requests_total",
            &[("endpoint", "login"), ("result", "assertion")]
        ),
        Some(2.0)
    );
}

#[test]
fn a_failed_or_ntlm_token_gets_the_form_not_a_second_challenge() {
    let gw = Gateway::start("saml-ntlm", &options());
    let path = authn_request("_n1", SP, "");
    // Eligible, no credentials: the 401 carries the form.
    let r = gw.curl(&path).send();
    assert_eq!(r.status, 401);
    assert!(r.body.contains("action=\"/saml/login\""));
    // NTLM (a PC outside the domain): the form with 200.
    let ntlm = format!("Authorization: Negotiate {}", e2e::NTLM_NEGOTIATE);
    let r = gw.curl(&path).header(&ntlm).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert!(r.body.contains("action=\"/saml/login\""));
    assert!(r.header("www-authenticate").is_none());
}
