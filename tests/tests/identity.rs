//! What the upstream is told: identity headers from clients never get through, and the
//! session cookie signs the user in without Kerberos and never reaches the upstream.

use e2e::{Gateway, GatewayOptions, Reply};

const COOKIE: &str = "iwagw_session";

fn session_cookie(r: &Reply) -> String {
    let set = r.header_all("set-cookie");
    assert_eq!(set.len(), 1, "{set:?}");
    let value = set[0]
        .strip_prefix(&format!("{COOKIE}="))
        .and_then(|rest| rest.split(';').next())
        .unwrap_or_else(|| panic!("not our cookie: {}", set[0]));
    value.to_owned()
}

/// Issue #6: a client-supplied `X-Remote-User` (and a header of `identity.strip_headers`)
/// never reaches the upstream, on a negotiate route and on a public one.
#[test]
fn client_identity_headers_are_stripped() {
    let gw = Gateway::start("strip", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    let r = gw
        .curl("/app/")
        .negotiate(&alice)
        .header("X-Remote-User: admin@CORP.TEST")
        .header("x-remote-user: root@CORP.TEST")
        .header("X-Remote-Groups: Domain Admins")
        .header("X-Other: kept")
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    // Without a [directory], the groups are the PAC's SIDs: the client's value is gone.
    let groups = up.header("x-remote-groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(
        groups[0].split(',').all(|g| g.starts_with("S-1-")),
        "{groups:?}"
    );
    assert_eq!(up.header("x-other"), ["kept"]);

    // The same names with `_` for `-`: CGI-style upstreams (PHP, WSGI, Rack) read
    // `X_Remote_User` as HTTP_X_REMOTE_USER, exactly like `X-Remote-User`.
    let r = gw
        .curl("/app/")
        .negotiate(&alice)
        .header("X_Remote_User: admin@CORP.TEST")
        .header("x_remote-GROUPS: Domain Admins")
        .send();
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    let names = up.header_names();
    let mut remote: Vec<&String> = names.iter().filter(|n| n.contains("remote")).collect();
    remote.sort();
    assert_eq!(remote, ["x-remote-groups", "x-remote-sid", "x-remote-user"]);
    assert_eq!(up.header("x-remote-groups").len(), 1);

    let r = gw.get(
        "/public/page",
        &[
            ("X-Remote-User", "admin@CORP.TEST"),
            ("X-Remote-Groups", "Domain Admins"),
            ("X_Remote_User", "admin@CORP.TEST"),
            ("X-Other", "kept"),
        ],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.path(), "/public/page");
    assert_eq!(up.header("x-other"), ["kept"]);
    let names = up.header_names();
    assert!(!names.iter().any(|n| n.contains("remote")), "{names:?}");
    // A public route challenges nobody.
    assert_eq!(r.header("www-authenticate"), None);
}

/// Issue #7: the session cookie. After Negotiate the response sets an `HttpOnly; SameSite=Lax`
/// cookie; the cookie alone signs alice in and is not forwarded; a tampered one gets the
/// challenge.
#[test]
fn session_cookie_signs_in_without_kerberos() {
    let gw = Gateway::start("cookie", &GatewayOptions::gw());
    let alice = gw.kinit("alice");

    let first = gw.curl("/").negotiate(&alice).send();
    assert_eq!(first.status, 200, "{first:?}");
    let set = first.header("set-cookie").unwrap_or_default().to_owned();
    assert!(set.starts_with(&format!("{COOKIE}=v2.")), "{set}");
    for attr in ["; Path=/", "; HttpOnly", "; SameSite=Lax"] {
        assert!(set.contains(attr), "{attr} missing: {set}");
    }
    assert!(!set.contains("Secure"), "plain HTTP: {set}");
    let max_age: u64 = set
        .split("; ")
        .find_map(|a| a.strip_prefix("Max-Age="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Max-Age: {set}"));
    assert!((1..=28_800).contains(&max_age), "{set}");
    let cookie = session_cookie(&first);

    // Only the cookie, plus a client identity header to ignore.
    let own = format!("{COOKIE}={cookie}");
    let r = gw.get(
        "/by-cookie",
        &[("Cookie", &own), ("X-Remote-User", "admin@CORP.TEST")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["alice@CORP.TEST"]);
    assert_eq!(up.header("cookie"), Vec::<String>::new());
    assert_eq!(up.header("authorization"), Vec::<String>::new());
    assert_eq!(r.header("set-cookie"), None, "no new cookie per request");
    assert_eq!(r.header("www-authenticate"), None);

    // The application's own cookies still reach it; ours does not.
    let mixed = format!("theme=dark; {COOKIE}={cookie}; lang=en");
    let r = gw.get("/", &[("Cookie", &mixed)]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.echo().header("cookie"), ["theme=dark; lang=en"]);

    // Browsers send the cookie (Path=/) to public routes too: their upstream must not get it,
    // or it could sign in as alice on every other route.
    let r = gw.get("/public/x", &[("Cookie", &mixed)]);
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("cookie"), ["theme=dark; lang=en"]);
    assert_eq!(up.header("x-remote-user"), Vec::<String>::new());
    let r = gw.get("/public/x", &[("Cookie", &own)]);
    assert_eq!(r.echo().header("cookie"), Vec::<String>::new());

    // One character changed in the middle (inside the sealed part: the key id and nonce take
    // the first 38 characters after `v1.`).
    let mut chars: Vec<char> = cookie.chars().collect();
    let mid = chars.len() / 2;
    assert!(mid > 3 + 38, "{cookie}");
    chars[mid] = if chars[mid] == 'A' { 'B' } else { 'A' };
    let tampered: String = chars.into_iter().collect();
    let r = gw.get("/", &[("Cookie", &format!("{COOKIE}={tampered}"))]);
    assert_eq!(r.status, 401, "{r:?}");
    assert_eq!(r.header_all("www-authenticate"), ["Negotiate"]);

    let m = gw.metrics();
    let cookies = |result: &str| m.value("iwagw_session_cookies_total", &[("result", result)]);
    assert_eq!(cookies("issued"), Some(1.0));
    assert_eq!(cookies("accepted"), Some(2.0));
    assert_eq!(cookies("tampered"), Some(1.0));
    assert_eq!(cookies("malformed"), Some(0.0));
    assert_eq!(cookies("unknown_key"), Some(0.0));
    let audit = gw.wait_audit(&["event=\"session_cookie\"", "reason=\"tampered\""]);
    assert_eq!(audit.len(), 1, "{audit:?}");
    // Cookie sign-ins are not Kerberos handshakes.
    assert_eq!(
        m.value(
            "iwagw_spnego_handshakes_total",
            &[("reason", "ok"), ("result", "success")]
        ),
        Some(1.0)
    );
}
