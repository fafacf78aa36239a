use super::*;
use crate::config::identity::GroupPattern;
use crate::identity::{GroupRef, Source};

fn config(format: HeaderFormat, patterns: &[&str], max: usize) -> IdentityHeaders {
    IdentityHeaders {
        user_header: "X-Remote-User".into(),
        format,
        groups_header: "X-Remote-Groups".into(),
        sid_header: "X-Remote-SID".into(),
        group_patterns: patterns
            .iter()
            .map(|p| GroupPattern(glob::Pattern::new(p).unwrap()))
            .collect(),
        attributes: vec![
            ("mail".into(), "X-Remote-Email".into()),
            ("displayName".into(), "X-Remote-Name".into()),
        ],
        max_header_bytes: max,
    }
}

fn group(name: Option<&str>, sid: &str) -> GroupRef {
    GroupRef {
        name: name.map(str::to_owned),
        sid: sid.into(),
    }
}

fn alice() -> UserIdentity {
    UserIdentity {
        principal: "alice@CORP.TEST".into(),
        sid: Some("S-1-5-21-1-2-3-1102".into()),
        groups: vec![
            group(Some("Domain Users"), "S-1-5-21-1-2-3-513"),
            group(Some("Engineering"), "S-1-5-21-1-2-3-1111"),
            group(Some("営業部"), "S-1-5-21-1-2-3-1120"),
            group(None, "S-1-18-1"),
        ],
        attributes: vec![
            ("mail".into(), vec!["alice@corp.test".into()]),
            ("displayName".into(), vec!["Alice\r\nX-Injected: 1".into()]),
        ],
        upn: Some("alice@corp.test".into()),
        account_name: Some("alice".into()),
        object_guid: None,
        source: Source::Directory,
    }
}

fn header<'a>(b: &'a Built, name: &str) -> Option<&'a str> {
    b.headers
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

#[test]
fn a_header_per_item_with_every_value_encoded() {
    let b = build(&config(HeaderFormat::Headers, &[], 8192), &alice());
    assert_eq!(header(&b, "X-Remote-User"), Some("alice@CORP.TEST"));
    assert_eq!(header(&b, "X-Remote-SID"), Some("S-1-5-21-1-2-3-1102"));
    assert_eq!(
        header(&b, "X-Remote-Groups"),
        Some("Domain Users,Engineering,%E5%96%B6%E6%A5%AD%E9%83%A8,S-1-18-1")
    );
    assert_eq!(header(&b, "X-Remote-Email"), Some("alice@corp.test"));
    // CR and LF cannot end the header: they are encoded.
    assert_eq!(
        header(&b, "X-Remote-Name"),
        Some("Alice%0D%0AX-Injected: 1")
    );
    assert_eq!(b.groups_dropped, 0);
    for (_, v) in &b.headers {
        assert!(http::HeaderValue::from_str(v).is_ok(), "{v}");
    }
}

#[test]
fn separators_quotes_and_edge_spaces_are_encoded() {
    assert_eq!(encode_item("a,b"), "a%2Cb");
    assert_eq!(encode_item("100%"), "100%25");
    assert_eq!(encode_item("\"q\""), "%22q%22");
    assert_eq!(encode_item(" pad "), "%20pad%20");
    assert_eq!(encode_item("in side"), "in side");
    assert_eq!(encode_item("tab\there"), "tab%09here");
}

#[test]
fn patterns_filter_by_name_or_sid_ignoring_case() {
    let b = build(
        &config(HeaderFormat::Headers, &["engineer*", "S-1-18-*"], 8192),
        &alice(),
    );
    assert_eq!(header(&b, "X-Remote-Groups"), Some("Engineering,S-1-18-1"));
    let none = build(&config(HeaderFormat::Headers, &["nothing"], 8192), &alice());
    assert_eq!(header(&none, "X-Remote-Groups"), None);
}

#[test]
fn groups_past_the_limit_are_dropped_and_counted() {
    let b = build(&config(HeaderFormat::Headers, &[], 30), &alice());
    assert_eq!(
        header(&b, "X-Remote-Groups"),
        Some("Domain Users,Engineering")
    );
    assert_eq!(b.groups_dropped, 2);
}

#[test]
fn json_is_one_ascii_header() {
    let cfg = config(
        HeaderFormat::Json {
            header: "X-Remote-Identity".into(),
        },
        &[],
        8192,
    );
    let b = build(&cfg, &alice());
    let v = header(&b, "X-Remote-Identity").unwrap();
    assert!(v.is_ascii() && !v.contains(['\r', '\n']), "{v}");
    assert!(v.contains("\\u55b6"), "{v}");
    let parsed: serde_json::Value = serde_json::from_str(v).unwrap();
    assert_eq!(parsed["user"], "alice@CORP.TEST");
    assert_eq!(parsed["mail"], "alice@corp.test");
    assert_eq!(parsed["displayName"], "Alice\r\nX-Injected: 1");
    assert_eq!(parsed["groups"][2], "営業部");
    assert_eq!(parsed["groups"].as_array().unwrap().len(), 4);
    assert_eq!(parsed["degraded"], false);
    assert_eq!(header(&b, "X-Remote-Groups"), None);
}

#[test]
fn json_groups_stop_at_the_limit() {
    let cfg = config(
        HeaderFormat::Json {
            header: "X-Remote-Identity".into(),
        },
        &[],
        200,
    );
    let b = build(&cfg, &alice());
    let v = header(&b, "X-Remote-Identity").unwrap();
    assert!(v.len() <= 200, "{} > 200: {v}", v.len());
    assert!(b.groups_dropped > 0);
    let parsed: serde_json::Value = serde_json::from_str(v).unwrap();
    assert_eq!(
        parsed["groups"].as_array().unwrap().len() + b.groups_dropped,
        4
    );
}

#[test]
fn json_says_degraded_when_ad_could_not_answer() {
    let cfg = config(
        HeaderFormat::Json {
            header: "X-Remote-Identity".into(),
        },
        &[],
        8192,
    );
    for (source, degraded) in [
        (Source::Directory, false),
        (Source::Pac, false),
        (Source::DirectoryDegraded, true),
        (Source::PacDegraded, true),
    ] {
        let id = UserIdentity { source, ..alice() };
        let b = build(&cfg, &id);
        let v: serde_json::Value =
            serde_json::from_str(header(&b, "X-Remote-Identity").unwrap()).unwrap();
        assert_eq!(v["degraded"], degraded, "{source:?}");
    }
}
