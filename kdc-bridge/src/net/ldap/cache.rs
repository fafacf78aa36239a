//! The lookup cache: TTL, negative entries and stale-while-revalidate.
//!
//! The decisions ([`CacheEntry::state`], [`CacheEntry::claim_refresh`]) take the time as an
//! argument; moka only stores the entries and reclaims them once even a stale entry may no
//! longer be served (`ttl + max_stale` for a user, `negative_ttl` for "no such user").

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::CachePolicy;
use super::user::Identity;

/// What a remembered lookup may be used for at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryState {
    /// Within the TTL: serve.
    Fresh,
    /// Past the TTL but within the stale period: serve, and refresh in the background.
    Stale,
    /// Past everything: ask AD.
    Expired,
}

#[derive(Debug, Default)]
struct RefreshState {
    in_flight: bool,
    /// When the last background refresh ended in failure.
    failed_at: Option<Instant>,
}

/// One remembered lookup.
#[derive(Debug)]
pub(crate) struct CacheEntry {
    /// The user, or `None` for "no such user".
    pub(crate) identity: Option<Arc<Identity>>,
    pub(crate) fetched_at: Instant,
    refresh: Mutex<RefreshState>,
}

impl CacheEntry {
    /// An entry fetched at `fetched_at`.
    pub(crate) fn new(identity: Option<Arc<Identity>>, fetched_at: Instant) -> Self {
        Self {
            identity,
            fetched_at,
            refresh: Mutex::new(RefreshState::default()),
        }
    }

    /// How long moka keeps the entry.
    pub(crate) fn lifetime(&self, policy: &CachePolicy) -> Duration {
        match self.identity {
            Some(_) => policy.ttl.saturating_add(policy.max_stale),
            None => policy.negative_ttl,
        }
    }

    /// What the entry may be used for at `now`.
    pub(crate) fn state(&self, policy: &CachePolicy, now: Instant) -> EntryState {
        let age = now.saturating_duration_since(self.fetched_at);
        match self.identity {
            Some(_) if age < policy.ttl => EntryState::Fresh,
            Some(_) if age < policy.ttl.saturating_add(policy.max_stale) => EntryState::Stale,
            None if age < policy.negative_ttl => EntryState::Fresh,
            _ => EntryState::Expired,
        }
    }

    /// Whether the last background refresh failed: AD could not be reached.
    pub(crate) fn refresh_failed(&self) -> bool {
        self.lock().failed_at.is_some()
    }

    /// Claims the background refresh of a stale entry: `true` when the caller should start
    /// one (none is running, and the last failure is at least `retry` old).
    pub(crate) fn claim_refresh(&self, retry: Duration, now: Instant) -> bool {
        let mut state = self.lock();
        if state.in_flight {
            return false;
        }
        if let Some(failed) = state.failed_at {
            if now.saturating_duration_since(failed) < retry {
                return false;
            }
        }
        state.in_flight = true;
        true
    }

    /// Records the end of a background refresh that did not replace the entry.
    pub(crate) fn refresh_failed_at(&self, now: Instant) {
        let mut state = self.lock();
        state.in_flight = false;
        state.failed_at = Some(now);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RefreshState> {
        // The state is two plain fields: a panic elsewhere cannot leave it inconsistent.
        self.refresh.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// moka's per-entry lifetime.
pub(crate) struct Lifetime(pub(crate) CachePolicy);

impl moka::Expiry<String, Arc<CacheEntry>> for Lifetime {
    fn expire_after_create(
        &self,
        _key: &String,
        value: &Arc<CacheEntry>,
        _created_at: Instant,
    ) -> Option<Duration> {
        Some(value.lifetime(&self.0))
    }

    fn expire_after_update(
        &self,
        _key: &String,
        value: &Arc<CacheEntry>,
        _updated_at: Instant,
        _duration_until_expiry: Option<Duration>,
    ) -> Option<Duration> {
        Some(value.lifetime(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn policy() -> CachePolicy {
        CachePolicy {
            ttl: Duration::from_secs(10),
            max_stale: Duration::from_secs(100),
            negative_ttl: Duration::from_secs(5),
            refresh_retry: Duration::from_secs(3),
            ..CachePolicy::default()
        }
    }

    fn identity() -> Arc<Identity> {
        Arc::new(Identity {
            dn: "CN=alice,CN=Users,DC=corp,DC=test".into(),
            sam_account_name: Some("alice".into()),
            user_principal_name: None,
            object_guid: None,
            object_sid: None,
            disabled: false,
            attributes: BTreeMap::new(),
            groups: Vec::new(),
        })
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn positive_entries_go_fresh_stale_expired() {
        let t0 = Instant::now();
        let e = CacheEntry::new(Some(identity()), t0);
        let p = policy();
        assert_eq!(e.lifetime(&p), secs(110));
        assert_eq!(e.state(&p, t0), EntryState::Fresh);
        assert_eq!(e.state(&p, t0 + secs(9)), EntryState::Fresh);
        assert_eq!(e.state(&p, t0 + secs(10)), EntryState::Stale);
        assert_eq!(e.state(&p, t0 + secs(109)), EntryState::Stale);
        assert_eq!(e.state(&p, t0 + secs(110)), EntryState::Expired);
    }

    #[test]
    fn negative_entries_have_no_stale_period() {
        let t0 = Instant::now();
        let e = CacheEntry::new(None, t0);
        let p = policy();
        assert_eq!(e.lifetime(&p), secs(5));
        assert_eq!(e.state(&p, t0 + secs(4)), EntryState::Fresh);
        assert_eq!(e.state(&p, t0 + secs(5)), EntryState::Expired);
    }

    #[test]
    fn one_refresh_at_a_time_and_a_pause_after_failure() {
        let t0 = Instant::now();
        let e = CacheEntry::new(Some(identity()), t0);
        let retry = secs(3);
        assert!(e.claim_refresh(retry, t0 + secs(11)));
        assert!(!e.claim_refresh(retry, t0 + secs(11)), "one in flight");
        assert!(!e.refresh_failed());
        e.refresh_failed_at(t0 + secs(12));
        assert!(e.refresh_failed());
        assert!(
            !e.claim_refresh(retry, t0 + secs(14)),
            "too soon after a failure"
        );
        assert!(e.claim_refresh(retry, t0 + secs(15)));
        // Still marked failed until a refresh succeeds (which replaces the entry).
        assert!(e.refresh_failed());
    }
}
