//! The lookup cache against the test DC with short TTLs: stale-while-revalidate, degraded
//! answers while AD is unreachable, and recovery.
#![cfg(feature = "net")]

mod ldap_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use kdc_bridge::net::ldap::{CacheEvent, Directory, Freshness, Lookup, UserKey};
use ldap_common::{ad, dc_ldaps_addr, Mode, Proxy, Recorder};

const TTL: Duration = Duration::from_millis(300);

fn freshness(lookup: &Lookup) -> Option<Freshness> {
    match lookup {
        Lookup::Found { freshness, .. } | Lookup::NotFound { freshness } => Some(*freshness),
        Lookup::Unavailable { .. } => None,
    }
}

/// Looks up until the answer has `want` (background refreshes finish on their own time).
async fn lookup_until(dir: &Directory, key: &UserKey, want: Freshness) -> Lookup {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let lookup = dir.lookup(key).await;
        if freshness(&lookup) == Some(want) || Instant::now() > deadline {
            return lookup;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stale_while_revalidate_then_degraded_then_recovered() {
    // The DC behind a proxy the test can cut; its certificate still checked for dc1.corp.test.
    let proxy = Proxy::start(dc_ldaps_addr(), Mode::Forward).await;
    let recorder = Arc::new(Recorder::default());
    let mut config = ad().config(vec![proxy.endpoint("dc1.corp.test", 636)], ad().ldaps());
    config.cache.ttl = TTL;
    config.cache.max_stale = Duration::from_secs(60);
    config.cache.refresh_retry = Duration::from_millis(100);
    config.timeouts.request_budget = Duration::from_secs(2);
    let dir = Directory::new(config, recorder.clone()).unwrap();
    let alice = UserKey::upn("alice@corp.test").unwrap();

    let first = dir.lookup(&alice).await;
    assert_eq!(freshness(&first), Some(Freshness::Fresh));
    let original = first.identity().unwrap().clone();
    assert_eq!(
        freshness(&dir.lookup(&alice).await),
        Some(Freshness::Cached)
    );

    // Past the TTL: served at once as stale while a background refresh runs; then the
    // refreshed entry is a new one within its TTL.
    tokio::time::sleep(TTL).await;
    let stale = dir.lookup(&alice).await;
    assert_eq!(freshness(&stale), Some(Freshness::Stale));
    assert!(Arc::ptr_eq(stale.identity().unwrap(), &original));
    assert!(!stale.is_degraded());
    let refreshed = lookup_until(&dir, &alice, Freshness::Cached).await;
    assert_eq!(freshness(&refreshed), Some(Freshness::Cached));
    assert!(!Arc::ptr_eq(refreshed.identity().unwrap(), &original));
    assert_eq!(refreshed.identity().unwrap(), &original, "same attributes");
    // (Polling adds a Stale per lookup until the refresh lands.)
    let mut events = Recorder::cache_events(&recorder.take());
    events.dedup();
    assert_eq!(
        events,
        vec![
            CacheEvent::Miss,
            CacheEvent::Hit,
            CacheEvent::Stale,
            CacheEvent::Hit
        ]
    );

    // AD goes away (connections cut, new ones dropped). Past the TTL the lookup is still
    // answered from the cache: stale first, degraded once the refresh has failed.
    proxy.set_mode(Mode::Drop);
    tokio::time::sleep(TTL).await;
    assert_eq!(freshness(&dir.lookup(&alice).await), Some(Freshness::Stale));
    let degraded = lookup_until(&dir, &alice, Freshness::Degraded).await;
    assert_eq!(freshness(&degraded), Some(Freshness::Degraded));
    assert!(degraded.is_degraded());
    let identity = degraded.identity().unwrap();
    assert_eq!(identity.text("mail"), Some("alice@corp.test"));
    assert!(identity.group_names().any(|g| g == "Staff"));
    assert!(Recorder::cache_events(&recorder.take()).contains(&CacheEvent::RefreshFailed));

    // A user never looked up cannot be served: Unavailable.
    match dir.lookup(&UserKey::sam_account_name("bob").unwrap()).await {
        Lookup::Unavailable { error } => {
            assert_eq!(error.reason(), "connection_lost", "{error:?}");
            assert!(error.retryable());
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }

    // AD is back: the next refresh (after refresh_retry) replaces the entry.
    proxy.set_mode(Mode::Forward);
    let recovered = lookup_until(&dir, &alice, Freshness::Cached).await;
    assert_eq!(freshness(&recovered), Some(Freshness::Cached));
    assert!(!recovered.is_degraded());
    assert!(matches!(
        dir.lookup(&UserKey::sam_account_name("bob").unwrap()).await,
        Lookup::Found {
            freshness: Freshness::Fresh,
            ..
        }
    ));
}

#[tokio::test]
async fn a_stale_entry_past_max_stale_is_not_served() {
    let proxy = Proxy::start(dc_ldaps_addr(), Mode::Forward).await;
    let mut config = ad().config(vec![proxy.endpoint("dc1.corp.test", 636)], ad().ldaps());
    config.cache.ttl = Duration::from_millis(100);
    config.cache.max_stale = Duration::from_millis(200);
    config.timeouts.request_budget = Duration::from_secs(2);
    let dir = Directory::new(config, Arc::new(Recorder::default())).unwrap();
    let carol = UserKey::sam_account_name("carol").unwrap();
    assert_eq!(freshness(&dir.lookup(&carol).await), Some(Freshness::Fresh));
    proxy.set_mode(Mode::Drop);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert!(matches!(
        dir.lookup(&carol).await,
        Lookup::Unavailable { .. }
    ));
}
