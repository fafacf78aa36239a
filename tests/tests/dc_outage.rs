//! Issue 3 §6: the real DC stops and comes back mid-run. Sign-ins keep working: a user AD
//! answered for before keeps their cached attributes (degraded), a user never looked up gets
//! the PAC's groups (`allow-with-pac`), `/readyz` and the metrics say degraded, and everything
//! is fresh again once the DC is back.
//!
//! Its own test binary: stopping the DC would break tests running beside it.

use std::process::Command;
use std::time::Duration;

use e2e::{real_dc, wait_until, workspace_root, Gateway, GatewayOptions};

fn samba(cmd: &str) {
    let out = Command::new(workspace_root().join("tests/ad/samba-ad.sh"))
        .arg(cmd)
        .output()
        .expect("samba-ad.sh runs");
    assert!(out.status.success(), "samba-ad.sh {cmd}: {out:?}");
}

/// Starts the DC again however the test ends.
struct Restart;

impl Drop for Restart {
    fn drop(&mut self) {
        samba("up");
    }
}

#[test]
fn sign_in_survives_the_dc_stopping_and_coming_back() {
    let opts = GatewayOptions::gw().with_directory(
        &[real_dc()],
        &[
            "cache_ttl_seconds = 1",
            "connect_timeout_ms = 300",
            "request_timeout_ms = 2000",
            "health_check_interval_seconds = 1",
            "failures_to_down = 1",
            "successes_to_up = 1",
        ],
    );
    let gw = Gateway::start("dc-outage", &opts);
    let alice = gw.kinit("alice");
    let bob = gw.kinit("bob");
    // Service tickets go to the ccaches now: with the DC (and its KDC) down, curl still
    // makes fresh authenticators from them.
    let r = gw.curl("/app/").negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert_eq!(r.echo().header("x-remote-email"), ["alice@corp.test"]);
    let _ = bob.kvno("HTTP/gw.corp.test@CORP.TEST");

    samba("down");
    let _restart = Restart;
    // Past the TTL: alice's entry is stale and its refresh cannot reach AD.
    std::thread::sleep(Duration::from_millis(1500));
    let r = gw.curl("/app/").negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert_eq!(r.echo().header("x-remote-email"), ["alice@corp.test"]);
    // The refresh runs in the background: a later request sees it failed.
    let degraded = wait_until(Duration::from_secs(10), || {
        let r = gw.curl("/app/").negotiate(&alice).send();
        r.status == 200
            && gw
                .metric(
                    "iwagw_directory_lookups_total",
                    &[("result", "found_degraded")],
                )
                .unwrap_or(0.0)
                >= 1.0
    });
    assert!(degraded, "{}", gw.log());

    // bob was never looked up: the PAC's groups, no attributes.
    let r = gw.curl("/app/").negotiate(&bob).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let up = r.echo();
    assert_eq!(up.header("x-remote-user"), ["bob@CORP.TEST"]);
    assert!(up.header("x-remote-email").is_empty());
    let groups = up.header("x-remote-groups");
    assert_eq!(groups.len(), 1, "{groups:?}");
    assert!(
        groups[0].split(',').all(|g| g.starts_with("S-1-")),
        "{groups:?}"
    );
    assert!(gw.log().contains("signing in with the ticket's PAC"));

    let down = wait_until(Duration::from_secs(10), || {
        let r = gw.readyz();
        r.status == 200 && r.body.starts_with("degraded")
    });
    assert!(down, "{}", gw.readyz().body);
    assert_eq!(gw.metric("iwagw_directory_degraded", &[]), Some(1.0));
    assert_eq!(
        gw.metric("iwagw_dc_up", &[("dc", "dc1.corp.test:636")]),
        Some(0.0)
    );

    samba("up");
    let back = wait_until(Duration::from_secs(20), || {
        let r = gw.readyz();
        r.status == 200 && r.body.starts_with("ready")
    });
    assert!(back, "{}", gw.readyz().body);
    let r = gw.curl("/app/").negotiate(&bob).send();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.echo().header("x-remote-email"), ["bob@corp.test"]);
    assert_eq!(gw.metric("iwagw_directory_degraded", &[]), Some(0.0));
}
