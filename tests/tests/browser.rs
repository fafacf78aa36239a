//! Issue #9, the headline feature: a browser gets the protected page silently. Headless
//! Chromium, signed in to the domain (a ccache of alice), loads a Negotiate-protected page in
//! one navigation, over HTTP and over HTTPS (HTTP/2, channel bindings).

use e2e::{Chromium, ChromiumRun, Echoed, Gateway, GatewayOptions};

/// The echo JSON Chromium shows (it wraps a JSON response in a `<pre>`).
fn echoed_from_dom(run: &ChromiumRun) -> Echoed {
    let json = run
        .dom
        .split_once("<pre>")
        .and_then(|(_, rest)| rest.split_once("</pre>"))
        .map(|(json, _)| {
            json.replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
        })
        .unwrap_or_else(|| {
            panic!(
                "no upstream JSON in the page:\n{}\nnet log auth events:\n{}",
                run.dom,
                run.net_log.as_deref().unwrap_or("(none)")
            )
        });
    Echoed(serde_json::from_str(&json).expect("the echoed JSON"))
}

fn assert_signed_in_silently(gw: &Gateway, run: &ChromiumRun, path: &str) {
    let up = echoed_from_dom(run);
    assert_eq!(up.path(), path);
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    assert_eq!(up.header("authorization"), Vec::<String>::new());
    let agent = up.header("user-agent");
    assert!(
        agent.first().is_some_and(|a| a.contains("HeadlessChrome/")),
        "{agent:?}"
    );
    let audit = gw.wait_audit(&["result=\"success\"", "principal=alice@CORP.TEST"]);
    assert!(!audit.is_empty(), "no audit line for alice");
    // Chromium answered the challenge; nothing was refused (the favicon request, if any, rides
    // on the session cookie or a second handshake).
    let m = gw.metrics();
    let handshakes = m.handshakes();
    assert!(
        handshakes.keys().all(|k| k == "success/ok"),
        "{handshakes:?}"
    );
    assert!(handshakes.get("success/ok").is_some_and(|n| *n >= 1));
}

#[test]
fn chromium_gets_the_page_silently() {
    let gw = Gateway::start("chromium", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    let run = Chromium::new(&alice, gw.host())
        .net_log()
        .dump_dom(gw.dir(), &gw.url("/intranet/"));

    assert_signed_in_silently(&gw, &run, "/intranet/");
    // A browser session: the response also set the session cookie.
    assert!(gw.metric("iwagw_session_cookies_total", &[("result", "issued")]) >= Some(1.0));
}

/// Over HTTPS Chromium binds its token to our certificate (RFC 5929 `tls-server-end-point`),
/// which the gateway enforces by default: this proves the binding matches, over HTTP/2.
#[test]
fn chromium_gets_the_page_silently_over_https_with_channel_bindings() {
    let gw = Gateway::start(
        "chromium-tls",
        &GatewayOptions {
            tls: true,
            ..GatewayOptions::gw()
        },
    );
    let alice = gw.kinit("alice");

    let run = Chromium::new(&alice, gw.host())
        .trust_gateway_cert(&gw)
        .net_log()
        .dump_dom(gw.dir(), &gw.https_url("/secure/"));

    assert_signed_in_silently(&gw, &run, "/secure/");
    let events = run.net_log.as_deref().unwrap_or_default();
    assert!(
        events.contains("HTTP2_SESSION_INITIALIZED {\"protocol\":\"h2\""),
        "not HTTP/2:\n{events}"
    );
    assert!(
        events.contains("AUTH_CHANNEL_BINDINGS"),
        "Chromium computed no channel bindings:\n{events}"
    );
    let audit = gw.wait_audit(&["result=\"success\"", "principal=alice@CORP.TEST"]);
    assert!(
        audit.iter().all(|l| !l.contains("channel_bindings")),
        "{audit:?}"
    );
}
