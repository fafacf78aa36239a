//! Issue 3 §6: with a `[directory]`, the upstream gets AD's attributes and (filtered) groups,
//! and dead or hanging DCs ahead of the real one do not fail a sign-in.

use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use e2e::{real_dc, Gateway, GatewayOptions, Value};

/// `alice` through `gw` with a fresh ticket: the upstream's view.
fn alice_headers(gw: &Gateway) -> e2e::Echoed {
    let alice = gw.kinit("alice");
    let r = gw.curl("/app/").negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    r.echo()
}

#[test]
fn headers_carry_ad_attributes_and_the_filtered_groups() {
    let opts = GatewayOptions::gw().with_directory(&[real_dc()], &[]);
    let mut opts = opts;
    opts.identity = vec![
        r#"group_patterns = ["Engineering", "Staff", "VPN*", "Domain Users"]"#.into(),
        r#"attribute_headers = { mail = "X-Remote-Email", displayName = "X-Remote-Name", objectGUID = "X-Remote-GUID", department = "X-Remote-Department" }"#.into(),
    ];
    let gw = Gateway::start("dir-headers", &opts);
    let alice = gw.kinit("alice");
    let r = gw
        .curl("/app/")
        .negotiate(&alice)
        .header("X-Remote-Email: mallory@corp.test")
        .send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let cookie = r
        .header_all("set-cookie")
        .first()
        .and_then(|c| c.split(';').next())
        .map(str::to_owned)
        .expect("a session cookie");
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    assert_eq!(up.header("x-remote-email"), ["alice@corp.test"]);
    assert_eq!(up.header("x-remote-name"), ["Alice Liddell"]);
    let guid = up.header("x-remote-guid");
    assert_eq!(guid.len(), 1);
    assert_eq!(guid[0].len(), 36, "{guid:?}");
    assert_eq!(guid[0].matches('-').count(), 4, "{guid:?}");
    assert!(up.header("x-remote-sid")[0].starts_with("S-1-5-21-"));
    // Staff only through Engineering (nested); Users and the others are filtered out.
    let groups = up.header("x-remote-groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    let mut names: Vec<&str> = groups[0].split(',').collect();
    names.sort_unstable();
    assert_eq!(names, ["Domain Users", "Engineering", "Staff", "VPN Users"]);

    // The session cookie alone gets the same identity.
    let r = gw
        .curl("/app/again")
        .header(&format!("Cookie: {cookie}"))
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let again = r.echo();
    assert_eq!(again.header("x-remote-email"), ["alice@corp.test"]);
    assert_eq!(again.header("x-remote-groups"), groups);

    let m = gw.metrics();
    assert!(
        m.value("iwagw_directory_lookups_total", &[("result", "found")])
            .unwrap_or(0.0)
            >= 2.0
    );
    assert!(
        m.value("iwagw_directory_cache_total", &[("event", "hit")])
            .unwrap_or(0.0)
            >= 1.0
    );
}

#[test]
fn the_json_header_carries_hundreds_of_groups() {
    let mut opts = GatewayOptions::gw().with_directory(&[real_dc()], &[]);
    opts.identity = vec![
        r#"format = "json""#.into(),
        "max_header_bytes = 32768".into(),
    ];
    let gw = Gateway::start("dir-json", &opts);
    let carol = gw.kinit("carol");
    let r = gw.curl("/app/").negotiate(&carol).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let up = r.echo();
    let json = up.header("x-remote-identity");
    assert_eq!(json.len(), 1);
    let v: Value = serde_json::from_str(&json[0]).unwrap();
    assert_eq!(v["user"], "carol@CORP.TEST");
    assert_eq!(v["mail"], "carol@corp.test");
    assert_eq!(v["degraded"], false);
    let groups: Vec<&str> = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(groups.contains(&"grp-0001") && groups.contains(&"grp-0300"));
    assert!(groups.len() >= 302, "{}", groups.len());
    // In JSON format the per-item headers are not set.
    assert!(up.header("x-remote-groups").is_empty());
}

/// A DC that accepts TCP and never answers.
fn hanging_dc() -> (String, Arc<Mutex<Vec<std::net::TcpStream>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let held = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&held);
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            keep.lock().unwrap().push(s);
        }
    });
    (
        format!(r#"{{ host = "dc-hang.corp.test", address = "{addr}" }}"#),
        held,
    )
}

/// A DC address where nothing listens.
fn dead_dc() -> String {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!(r#"{{ host = "dc-dead.corp.test", address = "127.0.0.1:{port}" }}"#)
}

#[test]
fn dead_and_hanging_dcs_ahead_of_the_real_one_do_not_fail_sign_in() {
    let (hanging, held) = hanging_dc();
    let opts = GatewayOptions::gw().with_directory(
        &[dead_dc(), hanging, real_dc()],
        &[
            "connect_timeout_ms = 500",
            "handshake_timeout_ms = 700",
            "request_timeout_ms = 8000",
            "health_check_interval_seconds = 1",
            "failures_to_down = 1",
        ],
    );
    let gw = Gateway::start("dir-failover", &opts);
    for _ in 0..3 {
        let up = alice_headers(&gw);
        assert_eq!(up.header("x-remote-email"), ["alice@corp.test"]);
    }
    assert!(
        !held.lock().unwrap().is_empty(),
        "the hanging DC was never tried"
    );
    let m = gw.metrics();
    assert!(
        m.value("iwagw_directory_lookups_total", &[("result", "found")])
            .unwrap_or(0.0)
            >= 1.0
    );
    // The health checks take the two bad DCs out of rotation and keep the real one.
    let ready = e2e::wait_until(std::time::Duration::from_secs(10), || {
        let r = gw.readyz();
        r.status == 200 && r.body.matches(" down").count() == 2 && r.body.contains(" up")
    });
    assert!(ready, "{}", gw.readyz().body);
    let m = gw.metrics();
    assert_eq!(
        m.value("iwagw_dc_up", &[("dc", "dc-dead.corp.test:636")]),
        Some(0.0)
    );
    assert_eq!(
        m.value("iwagw_dc_up", &[("dc", "dc1.corp.test:636")]),
        Some(1.0)
    );
    assert_eq!(m.value("iwagw_directory_degraded", &[]), Some(0.0));
}
