//! Issue 3 §6: the real DC stops and comes back mid-run. Sign-ins keep working: a user AD
//! answered for before keeps their cached attributes (degraded), a user never looked up gets
//! the PAC's groups (`allow-with-pac`), `/readyz` and the metrics say degraded, and everything
//! is fresh again once the DC is back.
//!
//! Then a second real DC (`samba-tool domain join`, `tests/ad/samba-ad.sh up dc2`): when the
//! DC a gateway uses stops, the directory request moves to the other one inside the same
//! request, and sign-ins keep fresh attributes, not degraded ones.
//!
//! Its own test binary: stopping the DC would break tests running beside it. The tests in it
//! take turns (`serial`).

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use e2e::{real_dc, real_dc2, wait_until, workspace_root, Gateway, GatewayOptions};

fn samba(args: &[&str]) {
    let out = Command::new(workspace_root().join("tests/ad/samba-ad.sh"))
        .args(args)
        .output()
        .expect("samba-ad.sh runs");
    assert!(out.status.success(), "samba-ad.sh {args:?}: {out:?}");
}

/// Each test stops a DC the other one uses.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Starts dc1 again however the test ends (and stops dc2 when the test started it).
struct Restart {
    stop_dc2: bool,
}

impl Drop for Restart {
    fn drop(&mut self) {
        samba(&["up"]);
        if self.stop_dc2 {
            samba(&["down", "dc2"]);
        }
    }
}

#[test]
fn sign_in_survives_the_dc_stopping_and_coming_back() {
    let _serial = serial();
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

    samba(&["down", "dc1"]);
    let _restart = Restart { stop_dc2: false };
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

    samba(&["up"]);
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

/// `iwagw_ldap_operation_duration_seconds`: user searches that succeeded on `dc` (`host:636`).
fn searches_on(gw: &Gateway, dc: &str) -> f64 {
    gw.metric(
        "iwagw_ldap_operation_duration_seconds_count",
        &[("dc", dc), ("operation", "find_user"), ("result", "ok")],
    )
    .unwrap_or(0.0)
}

/// `iwagw_dc_failovers_total` away from `dc`, whatever the reason.
fn failovers_from(gw: &Gateway, dc: &str) -> f64 {
    let prefix = format!("iwagw_dc_failovers_total{{from=\"{dc}\",");
    gw.metrics()
        .0
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .filter_map(|rest| rest.rsplit_once(' '))
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .sum()
}

#[test]
fn a_second_real_dc_takes_over_inside_the_request() {
    let _serial = serial();
    samba(&["up", "dc2"]);
    let mut restart = Restart { stop_dc2: true };
    // No background health checks during the test (the first one runs at start): only a
    // directory request can find out that a DC stopped, and it must move to the other DC
    // by itself.
    let opts = GatewayOptions::gw().with_directory(
        &[real_dc(), real_dc2()],
        &[
            "cache_ttl_seconds = 1",
            "connect_timeout_ms = 300",
            "request_timeout_ms = 2000",
            "health_check_interval_seconds = 3600",
        ],
    );
    let gw = Gateway::start("dc-failover", &opts);
    // Both probed (a latency each) before the first lookup: the failover order is fixed from
    // then on, and the DC that answers alice is the one bob's lookup tries first.
    let probed = |body: &str, dc: &str| {
        body.lines()
            .any(|l| l.starts_with(&format!("dc {dc} up ")) && l.ends_with(" ms"))
    };
    let up = wait_until(Duration::from_secs(10), || {
        let body = gw.readyz().body;
        probed(&body, "dc1.corp.test:636") && probed(&body, "dc2.corp.test:636")
    });
    assert!(up, "{}", gw.readyz().body);

    let alice = gw.kinit("alice");
    let r = gw.curl("/app/").negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert_eq!(r.echo().header("x-remote-email"), ["alice@corp.test"]);

    // Stop whichever DC answered (both are loopback: either may be the faster one).
    let (used, other, name) = if searches_on(&gw, "dc1.corp.test:636") > 0.0 {
        ("dc1.corp.test:636", "dc2.corp.test:636", "dc1")
    } else {
        ("dc2.corp.test:636", "dc1.corp.test:636", "dc2")
    };
    assert!(searches_on(&gw, used) > 0.0, "{}", gw.metrics().0);
    let before_other = searches_on(&gw, other);
    samba(&["down", name]);
    restart.stop_dc2 = true;

    // bob signs in only now: his KDC is the DC still running (krb5.conf lists both), and
    // the gateway's lookup for him is fresh: it must come from the other DC.
    let bob = gw.kinit("bob");
    let r = gw.curl("/app/").negotiate(&bob).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    let echo = r.echo();
    assert_eq!(echo.header("x-remote-email"), ["bob@corp.test"]);
    assert_eq!(echo.header("x-remote-name"), ["Bob Builder"]);
    assert!(searches_on(&gw, other) > before_other, "{}", gw.metrics().0);
    assert!(failovers_from(&gw, used) >= 1.0, "{}", gw.metrics().0);
    assert!(
        gw.log()
            .contains("directory request moved to the next domain controller"),
        "{}",
        gw.log()
    );
    // Not degraded: AD still answers, through the other DC.
    assert_eq!(
        gw.metric(
            "iwagw_directory_lookups_total",
            &[("result", "found_degraded")]
        ),
        Some(0.0)
    );
    assert_eq!(gw.metric("iwagw_directory_degraded", &[]), Some(0.0));
    let ready = gw.readyz();
    assert!(ready.body.starts_with("ready"), "{}", ready.body);

    // alice's entry is past its TTL: her next sign-in refreshes it from the other DC too.
    std::thread::sleep(Duration::from_millis(1100));
    let r = gw.curl("/app/").negotiate(&alice).send();
    assert_eq!(r.status, 200, "{r:?}\n{}", gw.log());
    assert_eq!(r.echo().header("x-remote-name"), ["Alice Liddell"]);
    drop(restart);
}
