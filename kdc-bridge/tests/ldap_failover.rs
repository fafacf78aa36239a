//! Failover against the test DC: a DC that refuses connections and one that accepts and never
//! answers do not fail a lookup; after N failures they are marked down and skipped; health
//! checks bring one back after M successes; and the request budget bounds everything.
#![cfg(feature = "net")]

mod ldap_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdc_bridge::net::dc::health::HealthPolicy;
use kdc_bridge::net::dc::DcEndpoint;
use kdc_bridge::net::ldap::{
    Directory, DirectoryConfig, DirectoryError, Lookup, Operation, Phase, UserKey,
};
use ldap_common::{ad, dc_ldaps, dc_ldaps_addr, dead_dc, Event, Mode, Proxy, Recorder};

const DEAD: &str = "127.0.0.29:636";
const HANGING: &str = "dc1.corp.test:636";
const REAL: &str = "127.0.0.21:636";

fn config(dcs: Vec<DcEndpoint>) -> DirectoryConfig {
    let mut config = ad().config(dcs, ad().ldaps());
    config.health = HealthPolicy {
        failures_to_down: 2,
        successes_to_up: 2,
    };
    config
}

fn failovers(events: &[Event]) -> Vec<(String, String, &'static str)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Failover { from, to, reason } => Some((from.clone(), to.clone(), *reason)),
            _ => None,
        })
        .collect()
}

fn states(events: &[Event]) -> Vec<(String, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::State { dc, up } => Some((dc.clone(), *up)),
            _ => None,
        })
        .collect()
}

fn up(dir: &Directory) -> Vec<(String, bool)> {
    dir.status().dcs.into_iter().map(|d| (d.dc, d.up)).collect()
}

#[tokio::test]
async fn dead_and_hanging_dcs_are_failed_over_marked_down_skipped_and_brought_back() {
    // The hanging DC is a proxy that accepts and never answers, under the DC's other name so
    // that, once it forwards, its certificate is valid.
    let proxy = Proxy::start(dc_ldaps_addr(), Mode::Hang).await;
    let hanging = proxy.endpoint("dc1.corp.test", 636);
    let recorder = Arc::new(Recorder::default());
    let config = config(vec![dead_dc(), hanging, dc_ldaps()]);
    let handshake = config.timeouts.handshake;
    let dir = Directory::new(config, recorder.clone()).unwrap();
    let alice = UserKey::sam_account_name("alice").unwrap();

    // 1. Refused, then a handshake timeout, then the real DC answers.
    let started = Instant::now();
    let found = dir.fetch(&alice).await.unwrap().expect("alice");
    let elapsed = started.elapsed();
    assert_eq!(found.text("mail"), Some("alice@corp.test"));
    assert!(elapsed >= handshake, "{elapsed:?}");
    assert!(elapsed < handshake + Duration::from_secs(1), "{elapsed:?}");
    let events = recorder.take();
    assert_eq!(
        Recorder::connects(&events),
        vec![
            (DEAD.to_owned(), Err("connect_failed")),
            (HANGING.to_owned(), Err("timeout")),
            (REAL.to_owned(), Ok(())),
        ]
    );
    assert_eq!(
        failovers(&events),
        vec![
            (DEAD.to_owned(), HANGING.to_owned(), "connect_failed"),
            (HANGING.to_owned(), REAL.to_owned(), "timeout"),
        ]
    );
    assert!(states(&events).is_empty(), "one failure is not enough");
    assert_eq!(proxy.accepted(), 1);

    // 2. The same again (no health check has measured the DCs, so configuration order): the
    //    second consecutive failure of each marks it down.
    dir.fetch(&alice).await.unwrap().expect("alice");
    let events = recorder.take();
    assert_eq!(failovers(&events).len(), 2, "{events:?}");
    assert_eq!(
        states(&events),
        vec![(DEAD.to_owned(), false), (HANGING.to_owned(), false)]
    );
    assert_eq!(
        up(&dir),
        vec![
            (DEAD.to_owned(), false),
            (HANGING.to_owned(), false),
            (REAL.to_owned(), true)
        ]
    );
    let status = dir.status();
    assert!(status.is_available() && status.is_degraded());
    assert_eq!(status.dcs[0].last_failure, Some("connect_failed"));
    assert_eq!(status.dcs[1].last_failure, Some("timeout"));
    assert_eq!(proxy.accepted(), 2);

    // 3. Down DCs are skipped: lookups go to the up DC only, over its pooled connection.
    let started = Instant::now();
    for _ in 0..3 {
        dir.fetch(&alice).await.unwrap().expect("alice");
    }
    let elapsed = started.elapsed();
    assert!(elapsed < handshake, "{elapsed:?}");
    let events = recorder.take();
    assert!(failovers(&events).is_empty(), "{events:?}");
    assert!(
        events.iter().all(|e| match e {
            Event::Op { dc, .. } => dc == REAL,
            _ => true,
        }),
        "{events:?}"
    );
    assert_eq!(proxy.accepted(), 2, "the hanging DC was not tried again");

    // 4. The hanging DC recovers: one good health check is not enough, two are.
    proxy.set_mode(Mode::Forward);
    dir.check_health().await;
    let events = recorder.take();
    assert!(states(&events).is_empty(), "{events:?}");
    assert!(events.contains(&Event::Op {
        dc: HANGING.to_owned(),
        op: Operation::Probe,
        result: Ok(()),
    }));
    assert!(events.contains(&Event::Op {
        dc: DEAD.to_owned(),
        op: Operation::Connect,
        result: Err("connect_failed"),
    }));
    dir.check_health().await;
    assert_eq!(states(&recorder.take()), vec![(HANGING.to_owned(), true)]);
    assert_eq!(
        up(&dir),
        vec![
            (DEAD.to_owned(), false),
            (HANGING.to_owned(), true),
            (REAL.to_owned(), true)
        ]
    );
    // Both up DCs have a latency from the health checks.
    let status = dir.status();
    assert!(status.dcs[1].latency.is_some() && status.dcs[2].latency.is_some());
}

#[tokio::test]
async fn when_no_dc_answers_the_lookup_says_so_within_the_budget() {
    let proxy = Proxy::start(dc_ldaps_addr(), Mode::Hang).await;
    let recorder = Arc::new(Recorder::default());
    let mut config = config(vec![proxy.endpoint("dc1.corp.test", 636), dead_dc()]);
    config.timeouts.request_budget = Duration::from_secs(3);
    let dir = Directory::new(config, recorder.clone()).unwrap();

    let started = Instant::now();
    let lookup = dir.lookup(&UserKey::upn("alice@corp.test").unwrap()).await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    match &lookup {
        Lookup::Unavailable { error } => assert_eq!(
            *error,
            DirectoryError::Connect {
                dc: DEAD.to_owned(),
                kind: std::io::ErrorKind::ConnectionRefused,
            }
        ),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(lookup.is_degraded());
    // Nothing was cached: the next lookup asks again.
    assert!(matches!(
        dir.lookup(&UserKey::upn("alice@corp.test").unwrap()).await,
        Lookup::Unavailable { .. }
    ));
}

#[tokio::test]
async fn the_budget_clips_the_timeouts_of_later_attempts() {
    // Two hanging DCs, a 700 ms handshake timeout and a 1 s budget: the second attempt gets
    // only what is left, and the request ends on time.
    let first = Proxy::start(dc_ldaps_addr(), Mode::Hang).await;
    let second = Proxy::start(dc_ldaps_addr(), Mode::Hang).await;
    let mut config = config(vec![
        first.endpoint("dc1.corp.test", 636),
        second.endpoint("127.0.0.21", 636),
    ]);
    config.timeouts.request_budget = Duration::from_secs(1);
    let dir = Directory::new(config, Arc::new(Recorder::default())).unwrap();

    let started = Instant::now();
    let error = dir
        .fetch(&UserKey::sam_account_name("alice").unwrap())
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(elapsed < Duration::from_millis(1300), "{elapsed:?}");
    assert!(error.retryable());
    match error {
        DirectoryError::Timeout {
            dc,
            phase: Phase::Handshake,
            after,
        } => {
            assert_eq!(dc, "127.0.0.21:636", "the error of the second DC");
            assert!(after < Duration::from_millis(700), "{after:?}");
        }
        other => panic!("expected a handshake timeout, got {other:?}"),
    }
}
