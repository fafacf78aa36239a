//! How requests are routed: dot segments cannot climb out of a public prefix, ambiguous
//! separators are refused, and nothing that authenticates a user leaks to a public upstream.

use e2e::{tokens, Gateway, GatewayOptions};

/// `/public/../x` is `/x`: routed to the negotiate route (401 without credentials), and an
/// upstream that normalizes paths itself can never be handed `/x` through a public prefix.
#[test]
fn dot_segments_do_not_escape_a_public_prefix() {
    let gw = Gateway::start("dots", &GatewayOptions::gw());
    for path in [
        "/public/../secret",
        "/public/%2e%2e/secret",
        "/public/%2E%2e/secret?q=1",
        "/public/./../secret",
    ] {
        let r = gw.get(path, &[]);
        assert_eq!(r.status, 401, "{path}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Negotiate"), "{path}");
    }
    // Inside the public prefix the normalized path is what the upstream receives.
    let r = gw.get("/public/a/../b?x=1", &[]);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.echo().path(), "/public/b");

    // Encoded or back slashes mean different things to different upstreams: refused.
    for path in [
        "/public%2f..%2fsecret",
        "/public/..%5Csecret",
        "/public\\..\\secret",
    ] {
        let r = gw.get(path, &[]);
        assert_eq!(r.status, 400, "{path}: {r:?}");
    }
    let mut gw = gw;
    gw.assert_running();
}

/// A Negotiate token sent to a public route is never forwarded: we did not consume it, so the
/// public upstream could otherwise replay it to a protected route within the skew window.
#[test]
fn public_routes_never_see_negotiate_tokens() {
    let gw = Gateway::start("public-token", &GatewayOptions::gw());
    let alice = gw.kinit("alice");
    let token = tokens(&alice, &gw.service(), 1, false).remove(0);
    let auth = format!("Negotiate {token}");

    let r = gw.get(
        "/public/page",
        &[("Authorization", &auth), ("Authorization-Extra", "kept")],
    );
    assert_eq!(r.status, 200, "{r:?}");
    let up = r.echo();
    assert_eq!(up.header("authorization"), Vec::<String>::new());
    assert_eq!(up.header("x-remote-user"), Vec::<String>::new());
    assert_eq!(up.header("authorization-extra"), ["kept"]);

    // Other schemes are the public app's business and pass through.
    let r = gw.get("/public/page", &[("Authorization", "Bearer abc")]);
    assert_eq!(r.echo().header("authorization"), ["Bearer abc"]);
}
