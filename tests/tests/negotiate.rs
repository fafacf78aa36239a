//! HTTP Negotiate against the real AD DC: sign-in with curl and MIT GSSAPI, mutual
//! authentication, the challenge, replays, RC4 and large tickets, and every refusal.

use std::collections::BTreeMap;

use e2e::{
    decode_token, encode_token, tamper_ticket_cipher, tokens, Gateway, GatewayOptions,
    NegotiateGet, Reply, NTLM_NEGOTIATE,
};

const HANDSHAKES: &str = "iwagw_spnego_handshakes_total";

fn counts(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
}

fn assert_challenge(r: &Reply, what: &str) {
    assert_eq!(r.status, 401, "{what}: {r:?}");
    assert_eq!(
        r.header_all("www-authenticate"),
        ["Negotiate"],
        "{what}: a bare challenge, nothing for the client to learn"
    );
}

/// Issue #1: `curl --negotiate -u :` with alice's ticket gets the page; the upstream sees
/// `X-Remote-User: alice@CORP.TEST` and not the token; the 200 carries the mutual-auth token.
#[test]
fn curl_negotiate_signs_alice_in() {
    let gw = Gateway::start("curl-alice", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    let r = gw.curl("/app/page?x=1").negotiate(&alice).send();

    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    assert_eq!(up.header("authorization"), Vec::<String>::new());
    assert_eq!(up.path(), "/app/page");
    let www = r.header_all("www-authenticate");
    assert_eq!(www.len(), 1, "{www:?}");
    assert!(
        www[0].starts_with("Negotiate ") && www[0].len() > 40,
        "{www:?}"
    );

    let m = gw.metrics();
    assert_eq!(m.handshakes(), counts(&[("success/ok", 1)]));
    // curl with `-u :` sends its token with the first request: no challenge was needed.
    assert_eq!(
        m.value("iwagw_challenges_total", &[("route", "/")]),
        Some(0.0)
    );
    let audit = gw.wait_audit(&["result=\"success\"", "principal=alice@CORP.TEST"]);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("service=HTTP/gw.corp.test@CORP.TEST")
            && audit[0].contains("enctype=\"aes256-cts-hmac-sha1-96\"")
            && audit[0].contains("client=127.0.0.1"),
        "{}",
        audit[0]
    );
    // The log goes to a file: plain text, no terminal colours.
    assert!(
        !gw.raw_log().contains('\u{1b}'),
        "ANSI escapes in the log file"
    );
}

/// Issue #1: the client accepts the gateway's AP-REP (the same GSS context verifies it), with
/// SPNEGO and with the raw krb5 mechanism.
#[test]
fn mutual_authentication_verifies_with_spnego_and_raw_krb5() {
    let gw = Gateway::start("mutual", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    for raw in [false, true] {
        let v = gw.negotiate_get(
            &alice,
            "/mutual",
            &NegotiateGet {
                raw,
                ..NegotiateGet::default()
            },
        );
        assert_eq!(v["status"], 200, "raw={raw}: {v}");
        assert_eq!(v["mutual"], "verified", "raw={raw}: {v}");
        let body: e2e::Value = serde_json::from_str(v["body"].as_str().unwrap()).unwrap();
        assert_eq!(
            body["headers"]["x-remote-user"][0], "alice@CORP.TEST",
            "{v}"
        );
    }
    assert_eq!(gw.metrics().handshakes(), counts(&[("success/ok", 2)]));
}

/// Issue #2: no ticket → 401, `WWW-Authenticate: Negotiate` and the HTML page.
#[test]
fn no_ticket_gets_the_challenge_page() {
    let gw = Gateway::start("no-ticket", &GatewayOptions::gw());

    let r = gw.get("/app/", &[]);

    assert_challenge(&r, "no Authorization");
    assert_eq!(r.header("content-type"), Some("text/html; charset=utf-8"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("set-cookie"), None);
    assert!(r.body.starts_with("<!DOCTYPE html>"), "{}", r.body);
    assert!(
        r.body.contains("<title>Sign-in required</title>"),
        "{}",
        r.body
    );
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    // Also through curl, which reports the status it ends with.
    assert_eq!(gw.curl("/").send().status, 401);

    let m = gw.metrics();
    assert_eq!(
        m.value("iwagw_challenges_total", &[("route", "/")]),
        Some(2.0)
    );
    assert_eq!(m.handshakes(), counts(&[]));
}

/// Issue #3: the same Authorization header twice → the second is a replay.
#[test]
fn replayed_header_is_refused() {
    let gw = Gateway::start("replay", &GatewayOptions::gw());
    let alice = gw.kinit("alice");
    let token = &tokens(&alice, &gw.service(), 1, false)[0];
    let header = format!("Negotiate {token}");

    let first = gw.get("/", &[("Authorization", &header)]);
    let second = gw.get("/", &[("Authorization", &header)]);

    assert_eq!(first.status, 200, "{first:?}");
    assert_eq!(first.echo().header("x-remote-user"), ["alice@CORP.TEST"]);
    assert_challenge(&second, "replay");
    assert_eq!(second.header("set-cookie"), None);
    let m = gw.metrics();
    assert_eq!(
        m.value(HANDSHAKES, &[("reason", "replay"), ("result", "failure")]),
        Some(1.0)
    );
    assert_eq!(
        m.handshakes(),
        counts(&[("success/ok", 1), ("failure/replay", 1)])
    );
    let audit = gw.wait_audit(&["result=\"failure\"", "reason=\"replay\""]);
    assert_eq!(audit.len(), 1, "{audit:?}");
}

/// Issue #4: a service account without AES (tickets in RC4) still signs users in.
#[test]
fn rc4_only_service_accepts_rc4_tickets() {
    let gw = Gateway::start("rc4", &GatewayOptions::rc4());
    let alice = gw.kinit("alice");

    let r = gw.curl("/").negotiate(&alice).send();

    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.echo().header("x-remote-user"), ["alice@CORP.TEST"]);
    let audit = gw.wait_audit(&["result=\"success\"", "principal=alice@CORP.TEST"]);
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert!(
        audit[0].contains("enctype=\"rc4-hmac\"")
            && audit[0].contains("service=HTTP/rc4.corp.test@CORP.TEST"),
        "{}",
        audit[0]
    );
    // The mutual-auth reply of an RC4 session (no acceptor subkey) verifies too.
    let v = gw.negotiate_get(&alice, "/", &NegotiateGet::default());
    assert_eq!(
        (v["status"].as_u64(), v["mutual"].as_str()),
        (Some(200), Some("verified")),
        "{v}"
    );
    assert_eq!(gw.metrics().handshakes(), counts(&[("success/ok", 2)]));
}

/// Issue #4: users in many groups have large PACs: carol (300 groups, a ~5.1 KB header, ~3.8 KB
/// decoded) and dave (1000 groups, a ~12.6 KB header, ~9.4 KB decoded) sign in.
#[test]
fn users_in_many_groups_sign_in() {
    let gw = Gateway::start("groups", &GatewayOptions::gw());

    for (user, min, max) in [("carol", 2048.0, 4096.0), ("dave", 8192.0, 16384.0)] {
        let cc = gw.kinit(user);
        let before = gw.metrics();
        let r = gw.curl("/").negotiate(&cc).send();
        assert_eq!(r.status, 200, "{user}: {r:?}");
        assert_eq!(
            r.echo().header("x-remote-user"),
            [format!("{user}@CORP.TEST")]
        );
        // The decoded token landed in the (min, max] size bucket.
        let after = gw.metrics();
        let bucket = |m: &e2e::Metrics, le: f64| {
            m.value("iwagw_token_size_bytes_bucket", &[("le", &le.to_string())])
                .unwrap()
        };
        assert_eq!(bucket(&after, min) - bucket(&before, min), 0.0, "{user}");
        assert_eq!(bucket(&after, max) - bucket(&before, max), 1.0, "{user}");
    }
    assert_eq!(gw.metrics().handshakes(), counts(&[("success/ok", 2)]));
}

/// Issue #5: tokens the gateway must refuse, each with its reason, never a 5xx, and the gateway
/// keeps serving.
#[test]
fn bad_tokens_are_refused_with_their_reason() {
    let mut gw = Gateway::start("refusals", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    // A ticket for another service of the realm.
    let other = &tokens(&alice, "HTTP@other.corp.test", 1, false)[0];
    let r = gw.get("/", &[("Authorization", &format!("Negotiate {other}"))]);
    assert_challenge(&r, "ticket for HTTP/other.corp.test");

    // One bit flipped in the middle of the ticket's cipher text.
    let good = tokens(&alice, &gw.service(), 2, false);
    let tampered = encode_token(&tamper_ticket_cipher(&decode_token(&good[0])));
    let r = gw.get("/", &[("Authorization", &format!("Negotiate {tampered}"))]);
    assert_challenge(&r, "tampered ticket");

    // A token cut in half.
    let raw = decode_token(&good[1]);
    let half = encode_token(&raw[..raw.len() / 2]);
    let r = gw.get("/", &[("Authorization", &format!("Negotiate {half}"))]);
    assert_challenge(&r, "truncated token");

    // NTLM inside Negotiate (what browsers send when Kerberos fails), and the NTLM scheme.
    let r = gw.get(
        "/",
        &[("Authorization", &format!("Negotiate {NTLM_NEGOTIATE}"))],
    );
    assert_challenge(&r, "NTLM in Negotiate");
    let r = gw.get("/", &[("Authorization", &format!("NTLM {NTLM_NEGOTIATE}"))]);
    assert_challenge(&r, "NTLM scheme");

    // Not base64; no token at all.
    let r = gw.get("/", &[("Authorization", "Negotiate %%%not*base64%%%")]);
    assert_challenge(&r, "garbage base64");
    let r = gw.get("/", &[("Authorization", "Negotiate")]);
    assert_challenge(&r, "empty token");

    // 70 KB: over the 64 KiB limit.
    let huge = format!("Negotiate {}", "A".repeat(70 * 1024));
    let r = gw.get("/", &[("Authorization", &huge)]);
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(r.header("www-authenticate"), None);
    assert!(r.body.contains("Request header too large"), "{}", r.body);

    // Still serving.
    gw.assert_running();
    let v = gw.negotiate_get(&alice, "/after", &NegotiateGet::default());
    assert_eq!(
        (v["status"].as_u64(), v["mutual"].as_str()),
        (Some(200), Some("verified")),
        "{v}"
    );

    assert_eq!(
        gw.metrics().handshakes(),
        counts(&[
            ("failure/wrong_spn", 1),
            ("failure/decrypt_failed", 1),
            ("failure/malformed", 1),
            ("failure/ntlm", 1),
            ("failure/other_scheme", 1),
            ("failure/bad_base64", 1),
            ("failure/empty_token", 1),
            ("failure/header_too_large", 1),
            ("success/ok", 1),
        ])
    );
    for reason in [
        "wrong_spn",
        "decrypt_failed",
        "malformed",
        "ntlm",
        "other_scheme",
        "bad_base64",
        "empty_token",
        "header_too_large",
    ] {
        let lines = gw.wait_audit(&["result=\"failure\"", &format!("reason=\"{reason}\"")]);
        assert_eq!(lines.len(), 1, "{reason}: {lines:?}");
    }
    let wrong_spn = gw.wait_audit(&["reason=\"wrong_spn\""]);
    assert!(
        wrong_spn[0].contains("HTTP/other.corp.test@CORP.TEST"),
        "{}",
        wrong_spn[0]
    );
}
