//! Issue #8: the service account's password changes (new kvno) and the keytab file is replaced
//! while users sign in. Nobody gets a failure: tickets for the old kvno keep working from the
//! keys the gateway retains, tickets for the new kvno work once the file is reloaded.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use e2e::{ad, Ccache, Gateway, GatewayOptions, NegotiateGet, Scratch};

const ACCOUNT: &str = "svc-rot";
const SPN: &str = "HTTP/rot.corp.test";

#[test]
fn keytab_rotation_drops_no_request() {
    // One rotation of svc-rot at a time on this DC (two suites running at once would each see
    // the other's kvno). Released when the test ends.
    let lock = std::fs::File::create(ad().path("IWA_AD_STATE").join("rot.e2e.lock"))
        .expect("the rotation lock file");
    lock.lock().expect("the rotation lock");

    // `<state>/rot.keytab` goes stale once any run rotated into a copy, so start from keys
    // exported now: kvno N. Never assume a particular N, every run adds one.
    let setup = Scratch::new("rotation-setup");
    let kvno_old = ad().rotate(ACCOUNT, &setup.join("rot.keytab"));
    let opts = GatewayOptions {
        keytab: setup.join("rot.keytab"),
        keytab_poll_seconds: 1,
        ..GatewayOptions::for_keytab("IWA_AD_ROT_KEYTAB", "rot.corp.test")
    };
    let gw = Gateway::start("rotation", &opts);

    // A client that signed in before the rotation holds a service ticket for kvno N.
    let old = gw.kinit("bob");
    assert_eq!(old.kvno(SPN), kvno_old);

    let stop = AtomicBool::new(false);
    let sent = AtomicU32::new(0);
    let sent_after_reload = AtomicU32::new(0);
    let failures = Mutex::new(Vec::new());
    let new_client: Mutex<Option<Ccache>> = Mutex::new(None);

    let kvno_new = std::thread::scope(|s| {
        // Fresh tokens in a loop: the old ticket throughout, and once the new keys are in, a
        // ticket for the new kvno as well.
        s.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                let fresh = new_client.lock().unwrap().clone();
                for cc in std::iter::once(&old).chain(fresh.as_ref()) {
                    let v = gw.negotiate_get(cc, "/flow", &NegotiateGet::default());
                    sent.fetch_add(1, Ordering::Relaxed);
                    if fresh.is_some() {
                        sent_after_reload.fetch_add(1, Ordering::Relaxed);
                    }
                    if v["status"] != 200 || v["mutual"] != "verified" {
                        failures.lock().unwrap().push(v);
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        });

        std::thread::sleep(Duration::from_millis(500));
        // The keytab is replaced by rename and holds only kvno N+1.
        let kvno_new = ad().rotate(ACCOUNT, gw.keytab_path());
        assert_eq!(kvno_new, kvno_old + 1);
        let reloaded = Instant::now() + Duration::from_secs(10);
        while gw.metric("iwagw_keytab_reloads_total", &[("result", "ok")]) < Some(1.0) {
            assert!(Instant::now() < reloaded, "no keytab reload within 10 s");
            std::thread::sleep(Duration::from_millis(100));
        }

        // A new sign-in gets a ticket for the new kvno (a fresh ccache: MIT caches the old one).
        let fresh = gw.kinit("alice");
        assert_eq!(fresh.kvno(SPN), kvno_new);
        *new_client.lock().unwrap() = Some(fresh);
        let flowing = Instant::now() + Duration::from_secs(20);
        while sent_after_reload.load(Ordering::Relaxed) < 6 {
            assert!(Instant::now() < flowing, "the request loop stalled");
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        kvno_new
    });

    let failures = failures.into_inner().unwrap();
    let sent = sent.into_inner();
    assert!(
        failures.is_empty(),
        "{} of {sent} failed: {failures:?}",
        failures.len()
    );
    assert!(sent >= 10, "only {sent} requests");

    let m = gw.metrics();
    assert_eq!(
        m.handshakes().into_iter().collect::<Vec<_>>(),
        [("success/ok".to_owned(), u64::from(sent))]
    );
    assert!(m.value("iwagw_keytab_reloads_total", &[("result", "ok")]) >= Some(1.0));
    assert_eq!(
        m.value("iwagw_keytab_reloads_total", &[("result", "error")]),
        Some(0.0)
    );
    // The old kvno's keys are retired, not dropped.
    assert!(
        m.value("iwagw_keytab_keys", &[("state", "retired")]) >= Some(1.0),
        "{}",
        m.0
    );
    assert!(m.value("iwagw_keytab_keys", &[("state", "current")]) >= Some(1.0));

    // Both kvnos were accepted after the reload, and the audit log says which.
    let old_ok = gw.wait_audit(&["principal=bob@CORP.TEST", &format!("kvno={kvno_old}")]);
    let new_ok = gw.wait_audit(&["principal=alice@CORP.TEST", &format!("kvno={kvno_new}")]);
    assert!(!old_ok.is_empty() && !new_ok.is_empty());
    let log = gw.log();
    let lines: Vec<&str> = log.lines().collect();
    let reload_line = lines
        .iter()
        .position(|l| l.contains("event=\"keytab_reload\""))
        .expect("a keytab_reload line");
    let last_old = lines
        .iter()
        .rposition(|l| l.contains("principal=bob@CORP.TEST"))
        .unwrap_or(0);
    assert!(
        last_old > reload_line,
        "no old-kvno request after the reload"
    );
}
