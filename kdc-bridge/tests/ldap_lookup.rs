//! User lookups against the test DC: attributes, transitive groups through `tokenGroups` with
//! SIDs named, large group counts, unknown and disabled users, and the cache in front.
#![cfg(feature = "net")]

mod ldap_common;

use std::sync::Arc;
use std::time::Instant;

use kdc_bridge::net::ldap::{
    CacheEvent, Directory, Freshness, Identity, Lookup, Operation, UserKey,
};
use ldap_common::{ad, dc_ldaps, Event, Recorder};

fn directory() -> (Directory, Arc<Recorder>) {
    let recorder = Arc::new(Recorder::default());
    let dir = Directory::new(
        ad().config(vec![dc_ldaps()], ad().ldaps()),
        recorder.clone(),
    )
    .unwrap();
    (dir, recorder)
}

fn assert_alice(alice: &Identity) {
    assert_eq!(alice.dn, "CN=alice,CN=Users,DC=corp,DC=test");
    assert_eq!(alice.sam_account_name.as_deref(), Some("alice"));
    assert_eq!(
        alice.user_principal_name.as_deref(),
        Some("alice@corp.test")
    );
    assert_eq!(alice.text("mail"), Some("alice@corp.test"));
    assert_eq!(alice.text("displayName"), Some("Alice Liddell"));
    assert!(!alice.disabled);
    // objectGUID: the raw 16 octets, also parsed.
    let guid = alice.bytes("objectGUID").expect("objectGUID");
    assert_eq!(guid.len(), 16);
    assert_eq!(
        alice
            .object_guid
            .map(|g| *g.as_bytes())
            .as_ref()
            .map(|g| &g[..]),
        Some(guid)
    );
    assert!(alice
        .object_sid
        .as_ref()
        .unwrap()
        .to_string()
        .starts_with("S-1-5-21-"));
    // Transitive groups: Staff only through Engineering; Domain Users is the primary group;
    // Users is the BUILTIN alias.
    let names: Vec<&str> = alice.group_names().collect();
    for expected in ["Domain Users", "Engineering", "Staff", "Users", "VPN Users"] {
        assert!(
            names.contains(&expected),
            "{expected} missing from {names:?}"
        );
    }
    assert!(!names.contains(&"Sales"), "{names:?}");
    // Sorted by name.
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted);
    // Every group SID has a name here (no foreign or well-known SIDs in tokenGroups).
    assert!(
        alice.groups.iter().all(|g| g.name.is_some()),
        "{:?}",
        alice.groups
    );
    let staff = alice
        .groups
        .iter()
        .find(|g| g.name.as_deref() == Some("Staff"))
        .unwrap();
    assert!(staff.sid.to_string().starts_with("S-1-5-21-"));
}

#[tokio::test]
async fn alice_by_upn_and_by_sam_account_name() {
    let (dir, _) = directory();
    let by_upn = dir
        .fetch(&UserKey::upn("alice@corp.test").unwrap())
        .await
        .unwrap()
        .expect("alice by UPN");
    assert_alice(&by_upn);
    // Case-insensitive, as AD.
    let by_sam = dir
        .fetch(&UserKey::sam_account_name("ALICE").unwrap())
        .await
        .unwrap()
        .expect("alice by sAMAccountName");
    assert_eq!(by_sam, by_upn);
}

#[tokio::test]
async fn carol_has_her_300_groups_named() {
    let (dir, _) = directory();
    let carol = dir
        .fetch(&UserKey::sam_account_name("carol").unwrap())
        .await
        .unwrap()
        .expect("carol");
    let grp: Vec<&str> = carol
        .group_names()
        .filter(|n| n.starts_with("grp-"))
        .collect();
    let expected: Vec<String> = (1..=300).map(|i| format!("grp-{i:04}")).collect();
    assert_eq!(grp, expected);
    assert!(carol.group_names().any(|n| n == "Domain Users"));
}

#[tokio::test]
async fn dave_has_his_1000_groups_in_a_few_searches() {
    let (dir, recorder) = directory();
    let started = Instant::now();
    let dave = dir
        .fetch(&UserKey::sam_account_name("dave").unwrap())
        .await
        .unwrap()
        .expect("dave");
    let elapsed = started.elapsed();
    assert_eq!(
        dave.group_names().filter(|n| n.starts_with("grp-")).count(),
        1000
    );
    // 1000 grp-* + Domain Users + Users = 1002 SIDs: 11 batches of at most 100.
    let batches = recorder
        .take()
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::Op {
                    op: Operation::ResolveSids,
                    result: Ok(()),
                    ..
                }
            )
        })
        .count();
    assert_eq!(
        batches,
        dave.groups.len().div_ceil(kdc_bridge::net::ldap::SID_BATCH)
    );
    eprintln!("dave: {} groups in {elapsed:?}", dave.groups.len());
}

#[tokio::test]
async fn mallory_is_found_and_marked_disabled() {
    let (dir, _) = directory();
    let mallory = dir
        .fetch(&UserKey::sam_account_name("mallory").unwrap())
        .await
        .unwrap()
        .expect("mallory");
    assert!(mallory.disabled);
}

#[tokio::test]
async fn an_unknown_user_is_a_cached_negative() {
    let (dir, recorder) = directory();
    let nobody = UserKey::upn("nobody@corp.test").unwrap();
    match dir.lookup(&nobody).await {
        Lookup::NotFound {
            freshness: Freshness::Fresh,
        } => {}
        other => panic!("expected a fresh NotFound, got {other:?}"),
    }
    let first = recorder.take();
    assert_eq!(Recorder::cache_events(&first), vec![CacheEvent::Miss]);
    assert!(first.iter().any(|e| matches!(
        e,
        Event::Op {
            op: Operation::FindUser,
            ..
        }
    )));

    match dir.lookup(&nobody).await {
        Lookup::NotFound {
            freshness: Freshness::Cached,
        } => {}
        other => panic!("expected a cached NotFound, got {other:?}"),
    }
    // Answered by the cache alone: no LDAP operation.
    assert_eq!(recorder.take(), vec![Event::Cache(CacheEvent::NegativeHit)]);
}

#[tokio::test]
async fn lookups_hit_the_cache_and_reuse_pooled_connections() {
    let recorder = Arc::new(Recorder::default());
    let mut config = ad().config(vec![dc_ldaps()], ad().ldaps());
    config.pool_size = 1;
    let dir = Directory::new(config, recorder.clone()).unwrap();
    let alice = UserKey::upn("alice@corp.test").unwrap();
    let first = dir.lookup(&alice).await;
    assert!(
        matches!(
            first,
            Lookup::Found {
                freshness: Freshness::Fresh,
                ..
            }
        ),
        "{first:?}"
    );
    assert_alice(first.identity().unwrap());
    let second = dir.lookup(&alice).await;
    assert!(
        matches!(
            second,
            Lookup::Found {
                freshness: Freshness::Cached,
                ..
            }
        ),
        "{second:?}"
    );
    assert!(Arc::ptr_eq(
        first.identity().unwrap(),
        second.identity().unwrap()
    ));
    assert!(!second.is_degraded());

    // Another user: a second fetch, over a pooled connection; group names partly cached.
    let bob = dir.lookup(&UserKey::sam_account_name("bob").unwrap()).await;
    let bob = bob.identity().expect("bob").clone();
    assert!(bob.group_names().any(|n| n == "Sales"));
    assert!(bob.group_names().any(|n| n == "Staff"));
    let events = recorder.take();
    assert_eq!(
        Recorder::cache_events(&events),
        vec![CacheEvent::Miss, CacheEvent::Hit, CacheEvent::Miss]
    );
    // A pool of one connection: both fetches went over the same bound connection.
    assert_eq!(
        Recorder::connects(&events),
        vec![("127.0.0.21:636".to_owned(), Ok(()))]
    );
}
