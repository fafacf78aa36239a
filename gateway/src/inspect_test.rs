use std::path::PathBuf;

use base64::Engine as _;
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};

use super::*;

/// Tokens and keytab captured from the throw-away Samba AD (kdc-bridge/tests/vectors/samba).
fn samba(name: &str) -> Vec<u8> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../kdc-bridge/tests/vectors/samba");
    std::fs::read(dir.join(name)).unwrap()
}

fn captured_at() -> i64 {
    String::from_utf8(samba("captured-at"))
        .unwrap()
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .unwrap()
}

fn gw_keys() -> ServiceKeys {
    ServiceKeys::from_keytab(&Keytab::extract(&samba("gw.keytab")).unwrap())
}

fn run(token: &[u8], keys: &ServiceKeys, at: i64) -> Report {
    inspect(
        token,
        &Inspection {
            keys,
            spns: Vec::new(),
            at,
            max_skew_secs: 300,
        },
    )
}

#[test]
fn a_capture_is_accepted_as_of_its_capture_time() {
    let keys = gw_keys();
    let r = run(&samba("alice-aes256-spnego.bin"), &keys, captured_at());
    assert_eq!(
        r.accepted_client
            .as_ref()
            .map(ToString::to_string)
            .as_deref(),
        Some("alice@CORP.TEST")
    );
    let text = render_text(&r);
    for needle in [
        "mechanism              SPNEGO, Kerberos",
        "service (SPN)          HTTP/gw.corp.test@CORP.TEST",
        "ticket enctype         aes256-cts-hmac-sha1-96",
        "client                 alice@CORP.TEST",
        "PAC account            CORP\\alice",
        "PAC UPN                alice@corp.test",
        "PAC user SID           S-1-5-21-",
        "PAC groups             5: S-1-5-21-",
        "verdict                ACCEPT: alice@CORP.TEST",
    ] {
        assert!(text.contains(needle), "missing `{needle}` in\n{text}");
    }
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["pac"]["group_count"], 5);
    assert_eq!(json["pac"]["group_sids"][4], "S-1-18-1");
    assert_eq!(json["pac"]["upn"], "alice@corp.test");
    // Inspecting twice gives the same verdict: no replay cache.
    assert!(run(&samba("alice-aes256-spnego.bin"), &keys, captured_at())
        .accepted_client
        .is_some());
}

#[test]
fn an_old_capture_says_to_use_at() {
    let keys = gw_keys();
    let r = run(
        &samba("alice-aes256-spnego.bin"),
        &keys,
        captured_at() + 86_400 * 2,
    );
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.reason(), "ticket_expired");
    // The PAC is shown although the ticket is refused.
    assert!(render_text(&r).contains("PAC groups             5:"));
    assert!(
        advice(e, &r.trace).contains("--at"),
        "{}",
        advice(e, &r.trace)
    );
    let one_hour = run(
        &samba("alice-aes256-spnego.bin"),
        &keys,
        captured_at() + 3600,
    );
    let e = one_hour.error.as_ref().unwrap();
    assert_eq!(e.reason(), "clock_skew");
    assert!(advice(e, &one_hour.trace).contains(&format!("--at {}", format_rfc3339(captured_at()))));
}

#[test]
fn a_stale_keytab_gets_the_kvno_fix() {
    // The same keys under kvno + 1, as after a password change the keytab did not follow.
    let mut kt = Keytab::extract(&samba("gw.keytab")).unwrap();
    let bumped: Vec<KeytabEntry> = kt
        .entries
        .drain(..)
        .map(|e| KeytabEntry::new(e.principal.clone(), e.kvno + 1, e.key.clone().unwrap(), 0))
        .collect();
    let keys = ServiceKeys::from_keytab(&Keytab { entries: bumped });
    let r = run(&samba("alice-aes256-spnego.bin"), &keys, captured_at());
    let e = r.error.as_ref().unwrap();
    assert_eq!(e.reason(), "no_key");
    let fix = advice(e, &r.trace);
    let kvno = r.trace.ticket_kvno.unwrap();
    assert!(
        fix.starts_with(&format!("ticket kvno {kvno} (aes256-cts-hmac-sha1-96) but keytab has no key for HTTP/gw.corp.test@CORP.TEST kvno {kvno}")),
        "{fix}"
    );
    assert!(
        fix.ends_with("export a new keytab for HTTP/gw.corp.test@CORP.TEST"),
        "{fix}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["verdict"], "reject");
    assert_eq!(json["reason"], "no_key");
    assert_eq!(json["ticket_kvno"], kvno);
}

#[test]
fn ntlm_and_wrong_spn_explain_themselves() {
    let keys = gw_keys();
    let ntlm = b"NTLMSSP\0\x01\x00\x00\x00\x07\x82\x08\xa2";
    let r = run(ntlm, &keys, captured_at());
    assert_eq!(mechanism(&r), "NTLM");
    assert!(render_text(&r).contains("setspn -Q"));

    let rc4_keys = ServiceKeys::from_keytab(&Keytab::extract(&samba("rc4.keytab")).unwrap());
    let r = run(&samba("alice-aes256-spnego.bin"), &rc4_keys, captured_at());
    assert_eq!(r.error.as_ref().map(AcceptError::reason), Some("wrong_spn"));
}

#[test]
fn pasted_headers_in_every_form() {
    let token = samba("alice-aes256-raw.bin");
    let b64 = base64::engine::general_purpose::STANDARD.encode(&token);
    let (a, b) = b64.split_at(40);
    for pasted in [
        format!("Authorization: Negotiate {b64}\n"),
        format!("authorization:Negotiate {b64}"),
        format!("Negotiate {b64}"),
        format!("  {b64}  "),
        format!("Negotiate {a}\n  {b}\n"),
    ] {
        assert_eq!(
            extract_pasted_token(&pasted).as_deref(),
            Ok(&token[..]),
            "{pasted:?}"
        );
    }
    assert!(extract_pasted_token("Authorization: NTLM TlRMTVNTUAAB")
        .unwrap_err()
        .contains("NTLM"));
    assert_eq!(
        extract_pasted_token("Negotiate %%%"),
        Err("Negotiate token is not base64".into())
    );
}

#[test]
fn at_accepts_rfc3339_and_unix() {
    assert_eq!(parse_at("2026-11-21T11:16:02Z"), Ok(1_795_259_762));
    assert_eq!(parse_at("2026-11-21T20:16:02+09:00"), Ok(1_795_259_762));
    assert_eq!(parse_at("2026-11-21T11:16:02.123456Z"), Ok(1_795_259_762));
    assert_eq!(parse_at("@1795259762"), Ok(1_795_259_762));
    assert_eq!(format_rfc3339(1_795_259_762), "2026-11-21T11:16:02Z");
    for bad in [
        "yesterday",
        "2026-11-21",
        "2026-11-21T11:16:02",
        "2026-13-01T00:00:00Z",
        "2026-11-21T11:16:02+9",
    ] {
        assert!(parse_at(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_1000_group_pac_is_summarised_in_text_and_listed_in_json() {
    let keys = gw_keys();
    let r = run(&samba("dave-1000-groups-spnego.bin"), &keys, captured_at());
    assert!(r.accepted_client.is_some());
    let text = render_text(&r);
    assert!(
        text.contains("PAC groups             1002: ")
            && text.contains("… 994 more (--json lists all)"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&render_json(&r)).unwrap();
    assert_eq!(json["pac"]["group_sids"].as_array().unwrap().len(), 1002);
}
