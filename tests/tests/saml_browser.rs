//! Issue 4 §4: a browser meets a SaaS application with the gateway as its IdP. Headless
//! Chromium opens the SP's protected URL (a pysaml2 web application, tests/saml-sp), is
//! redirected to the gateway, signs in silently with alice's ticket, and the response page's
//! script posts the assertion back: the SP's page shows alice. Without a ticket, or from
//! outside the Kerberos networks, the same browser lands on the password form.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

use e2e::{free_ports, real_dc, spki_hash, workspace_root, Chromium, Gateway, GatewayOptions};

/// The SP web application; killed on drop.
struct Sp {
    child: Child,
    url: String,
}

impl Drop for Sp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn vectors() -> std::path::PathBuf {
    workspace_root().join("gateway/tests/vectors/saml")
}

/// A gateway with a TLS listener whose IdP knows the SP on `sp_port` (same host name and
/// certificate as the gateway: the browser trusts one key).
fn gateway(label: &str, sp_port: u16, kerberos_networks: &str) -> Gateway {
    gateway_with(label, sp_port, kerberos_networks, &[])
}

fn gateway_with(label: &str, sp_port: u16, kerberos_networks: &str, login: &[&str]) -> Gateway {
    let mut opts = GatewayOptions::gw().with_directory(&[real_dc()], &[]);
    opts.tls = true;
    opts.files.push((
        "saml.key".into(),
        std::fs::read(vectors().join("idp.key")).expect("idp.key"),
    ));
    let sp = format!("https://gw.corp.test:{sp_port}");
    opts.extra = vec![
        "[saml]".into(),
        "base_url = \"https://gw.corp.test:{https_port}\"".into(),
        "display_name = \"Corp Test\"".into(),
        "signing_key = \"saml.key\"".into(),
        format!("signing_cert = \"{}\"", vectors().join("idp.pem").display()),
        format!("kerberos_networks = [{kerberos_networks}]"),
        "[saml.login]".into(),
    ];
    opts.extra.extend(login.iter().map(|l| (*l).to_owned()));
    opts.extra.extend([
        "[[saml.service_providers]]".into(),
        format!("entity_id = \"{sp}/metadata\""),
        format!("acs = [{{ url = \"{sp}/acs\" }}]"),
        format!("certificate = \"{}\"", vectors().join("sp.pem").display()),
        "name_id = { format = \"email\", source = \"mail\" }".into(),
        // pysaml2 wants the response signed by default, and the assertion too here.
        "sign = \"both\"".into(),
        "[[saml.service_providers.attributes]]".into(),
        "name = \"groups\"".into(),
        "source = \"groups\"".into(),
        "group_patterns = [\"Engineering\"]".into(),
    ]);
    Gateway::start(label, &opts)
}

fn start_sp(gw: &Gateway, port: u16) -> Sp {
    let meta = gw.curl("/saml/metadata").https(false).send();
    assert_eq!(meta.status, 200, "{meta:?}");
    let metadata = gw.dir().join("idp-metadata.xml");
    std::fs::write(&metadata, &meta.body).expect("write the metadata");
    let base = format!("https://gw.corp.test:{port}");
    let mut child = Command::new(workspace_root().join("tests/saml-sp/run.sh"))
        .arg("server")
        .arg("--idp-metadata")
        .arg(&metadata)
        .args(["--port", &port.to_string(), "--base", &base])
        .arg("--cert")
        .arg(gw.dir().join("tls.pem"))
        .arg("--key")
        .arg(gw.dir().join("tls.key"))
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(gw.dir().join("sp.log")).expect("sp log"))
        .spawn()
        .expect("tests/saml-sp/run.sh server starts");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    let _ = BufReader::new(stdout).read_line(&mut line);
    assert_eq!(
        line.trim(),
        "ready",
        "the SP did not start: {}",
        std::fs::read_to_string(gw.dir().join("sp.log")).unwrap_or_default()
    );
    Sp {
        child,
        url: format!("{base}/protected"),
    }
}

fn chromium(gw: &Gateway, ccache: &e2e::Ccache) -> Chromium {
    Chromium::new(ccache, gw.host())
        .trust_gateway_cert(gw)
        // Both the gateway and the SP are gw.corp.test (other ports), mapped to 127.0.0.1.
        // Lets the hand-off page's script post the form before the DOM is dumped.
        .arg("--virtual-time-budget=15000")
}

#[test]
fn a_domain_user_reaches_the_saas_app_without_a_prompt() {
    let sp_port = free_ports(1)[0];
    let gw = gateway("saml-browser", sp_port, "\"127.0.0.0/8\"");
    let sp = start_sp(&gw, sp_port);
    let alice = gw.kinit("alice");
    let run = chromium(&gw, &alice).net_log().dump_dom(gw.dir(), &sp.url);
    let sp_log = std::fs::read_to_string(gw.dir().join("sp.log")).unwrap_or_default();
    assert!(
        run.dom.contains("<p id=\"user\">alice@corp.test</p>"),
        "the SP page:\n{}\nSP log:\n{sp_log}\ngateway log:\n{}\nnet log:\n{}",
        run.dom,
        gw.log(),
        run.net_log.as_deref().unwrap_or("")
    );
    assert!(run.dom.contains("urn:federation:authentication:windows"));
    assert!(run.dom.contains("Engineering"), "{}", run.dom);
    assert!(run.dom.contains("<p id=\"relay\">/protected</p>"));
    assert!(gw.log().contains("assertion issued"));

    // The same browser without a ticket: Negotiate fails in the browser, which shows the
    // 401's body, the form.
    let none = alice.copy_to(&gw.dir().join("empty.ccache"));
    std::fs::remove_file(none.path()).expect("remove the ccache copy");
    let run = chromium(&gw, &none).dump_dom(gw.dir(), &sp.url);
    assert!(
        run.dom.contains("action=\"/saml/login\"") && run.dom.contains("Corp Test"),
        "{}",
        run.dom
    );
}

#[test]
fn a_browser_without_a_ticket_or_outside_the_networks_gets_the_form() {
    let sp_port = free_ports(1)[0];
    let gw = gateway("saml-browser-form", sp_port, "\"10.99.0.0/16\"");
    let sp = start_sp(&gw, sp_port);
    // alice's ticket does not matter: 127.0.0.1 is outside the Kerberos networks.
    let alice = gw.kinit("alice");
    let run = chromium(&gw, &alice).dump_dom(gw.dir(), &sp.url);
    assert!(
        run.dom.contains("action=\"/saml/login\"") && run.dom.contains("<label for=\"password\">"),
        "{}\n{}",
        run.dom,
        gw.log()
    );
    assert!(!gw.log().contains("Kerberos authentication succeeded"));
}

/// Runs tests/saml-sp/browser.py (ChromeDriver) against the SP; its JSON.
fn webdriver(gw: &Gateway, args: &[&str]) -> serde_json::Value {
    let spki = spki_hash(gw);
    let out = Command::new(workspace_root().join("tests/saml-sp/run.sh"))
        .arg("browser")
        .args(args)
        .args(["--spki", &spki, "--map", "gw.corp.test"])
        .output()
        .expect("tests/saml-sp/run.sh browser runs");
    assert!(
        out.status.success(),
        "browser.py {args:?}: {}\ngateway log:\n{}",
        String::from_utf8_lossy(&out.stderr),
        gw.log()
    );
    serde_json::from_slice(&out.stdout).expect("browser.py prints JSON")
}

#[test]
fn the_form_signs_in_locks_out_and_passes_an_accessibility_check() {
    let sp_port = free_ports(1)[0];
    let gw = gateway_with(
        "saml-browser-webdriver",
        sp_port,
        "\"10.99.0.0/16\"",
        &["user_failures = 3", "lockout_seconds = 600"],
    );
    let sp = start_sp(&gw, sp_port);
    let ad = e2e::ad();

    // Two wrong passwords, then the right one: the SP shows alice, signed in by password.
    let v = webdriver(
        &gw,
        &[
            "form",
            "--url",
            &sp.url,
            "--user",
            "alice",
            "--password",
            ad.var("IWA_AD_PW_ALICE"),
            "--wrong",
            "2",
        ],
    );
    let messages: Vec<&str> = v["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    assert_eq!(
        messages, ["The user name or password is incorrect."; 2],
        "{v}"
    );
    let fin = v["final"].as_str().unwrap_or_default();
    assert!(fin.contains("alice@corp.test"), "{v}");
    assert!(fin.contains("PasswordProtectedTransport"), "{v}");

    // Three wrong passwords lock bob out; the right one then changes nothing.
    let v = webdriver(
        &gw,
        &[
            "form",
            "--url",
            &sp.url,
            "--user",
            "CORP\\bob",
            "--password",
            ad.var("IWA_AD_PW_BOB"),
            "--wrong",
            "3",
        ],
    );
    let messages = v["messages"].as_array().expect("messages");
    assert_eq!(
        messages[2], "Too many failed sign-in attempts. Try again in 10 minutes.",
        "{v}"
    );
    let fin = v["final"].as_str().unwrap_or_default();
    assert!(fin.contains("Too many failed sign-in attempts"), "{v}");
    assert!(!fin.contains("bob@corp.test"), "{v}");

    // axe-core (WCAG 2.1 A and AA) finds nothing on the form, and the keyboard reaches the
    // fields and the button in order.
    let axe = String::from_utf8(
        Command::new(workspace_root().join("tests/saml-sp/run.sh"))
            .arg("axe")
            .output()
            .expect("run.sh axe")
            .stdout,
    )
    .expect("a path");
    let v = webdriver(&gw, &["axe", "--url", &sp.url, "--axe", axe.trim()]);
    assert_eq!(v["violations"], serde_json::json!([]), "{v}");
    assert!(v["passes"].as_u64().unwrap_or(0) > 5, "{v}");
    assert_eq!(
        v["tab_order"],
        serde_json::json!(["username", "password", "button"]),
        "{v}"
    );
}
