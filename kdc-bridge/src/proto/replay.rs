//! The replay cache (RFC 4120 §3.2.3): an authenticator is accepted once.
//!
//! An entry only needs to live as long as its authenticator could pass the clock-skew check,
//! so entries expire after 2 × skew. The cache is bounded: when it is full, new
//! authentications are refused (fail closed) rather than letting an entry fall out early and
//! opening a replay window. Size it for the peak authentication rate × 2 × skew; with session
//! cookies only first visits authenticate.
//!
//! The in-memory cache uses moka, whose own clock only decides when memory is reclaimed;
//! whether a token is too old is decided by the caller's skew check, with the caller's time.

use std::time::Duration;

use sha2::{Digest as _, Sha256};

/// A fingerprint of one authenticator.
pub type Fingerprint = [u8; 32];

/// Why an authenticator could not be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// It was seen before.
    Replayed,
    /// The cache is full: accepting could let a replay through later.
    Full,
    /// A shared backend did not answer.
    Unavailable,
}

/// A replay cache. The in-memory one is [`MemoryReplayCache`]; a shared one for several
/// gateway instances comes with the regions work.
pub trait ReplayCache: Send + Sync {
    /// Records `fingerprint`, failing if it is already there.
    fn check_and_insert(&self, fingerprint: Fingerprint) -> Result<(), ReplayError>;

    /// How many entries it holds now (approximate).
    fn len(&self) -> u64;

    /// Whether it holds nothing.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The fingerprint of an authenticator: SHA-256 over the client, its time, the service and
/// the authenticator ciphertext, each length-prefixed so fields cannot run into each other.
pub fn fingerprint(
    client: &str,
    ctime: i64,
    cusec: u32,
    server: &str,
    cipher: &[u8],
) -> Fingerprint {
    let mut h = Sha256::new();
    for part in [
        client.as_bytes(),
        &ctime.to_be_bytes(),
        &cusec.to_be_bytes(),
        server.as_bytes(),
        cipher,
    ] {
        // Parts are bounded by the token size (< 4 GiB).
        h.update((part.len() as u32).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// A replay cache that remembers nothing: for inspecting captured tokens, which must be
/// judged the same however often they are inspected. Never use it to serve requests.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoReplayCheck;

impl ReplayCache for NoReplayCheck {
    fn check_and_insert(&self, _fingerprint: Fingerprint) -> Result<(), ReplayError> {
        Ok(())
    }

    fn len(&self) -> u64 {
        0
    }
}

/// An in-process replay cache.
pub struct MemoryReplayCache {
    entries: moka::sync::Cache<Fingerprint, ()>,
    capacity: u64,
}

impl std::fmt::Debug for MemoryReplayCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryReplayCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryReplayCache {
    /// A cache keeping entries for `ttl` (2 × skew), holding at most `capacity` of them.
    pub fn new(ttl: Duration, capacity: u64) -> Self {
        let entries = moka::sync::Cache::builder()
            .time_to_live(ttl)
            // LRU admits every entry; the default TinyLFU policy may refuse to admit a new key,
            // which would silently leave a replay undetected.
            .eviction_policy(moka::policy::EvictionPolicy::lru())
            // Headroom above the refusal threshold so moka never evicts a live entry itself.
            .max_capacity(capacity.saturating_add(capacity / 8 + 64))
            .build();
        Self { entries, capacity }
    }
}

impl ReplayCache for MemoryReplayCache {
    fn check_and_insert(&self, fingerprint: Fingerprint) -> Result<(), ReplayError> {
        if self.entries.entry_count() >= self.capacity {
            // A replay is reported as such even when the cache is full.
            if self.entries.contains_key(&fingerprint) {
                return Err(ReplayError::Replayed);
            }
            // The count lags behind recent writes; settle it before refusing.
            self.entries.run_pending_tasks();
            if self.entries.entry_count() >= self.capacity {
                return Err(ReplayError::Full);
            }
        }
        let entry = self.entries.entry(fingerprint).or_insert(());
        if entry.is_fresh() {
            Ok(())
        } else {
            Err(ReplayError::Replayed)
        }
    }

    fn len(&self) -> u64 {
        self.entries.entry_count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_use_is_a_replay() {
        let c = MemoryReplayCache::new(Duration::from_secs(600), 100);
        let f = fingerprint("alice@CORP.TEST", 1000, 5, "HTTP/gw@CORP.TEST", b"cipher");
        assert_eq!(c.check_and_insert(f), Ok(()));
        assert_eq!(c.check_and_insert(f), Err(ReplayError::Replayed));
        let g = fingerprint("alice@CORP.TEST", 1000, 6, "HTTP/gw@CORP.TEST", b"cipher");
        assert_eq!(c.check_and_insert(g), Ok(()));
    }

    #[test]
    fn fields_cannot_run_together() {
        assert_ne!(
            fingerprint("ab", 1, 0, "c", b""),
            fingerprint("a", 1, 0, "bc", b"")
        );
    }

    #[test]
    fn full_cache_fails_closed() {
        let c = MemoryReplayCache::new(Duration::from_secs(600), 10);
        for i in 0..10u8 {
            assert_eq!(c.check_and_insert([i; 32]), Ok(()));
        }
        c.entries.run_pending_tasks();
        assert_eq!(c.check_and_insert([200; 32]), Err(ReplayError::Full));
        // Earlier entries are all still detected.
        for i in 0..10u8 {
            assert_eq!(c.check_and_insert([i; 32]), Err(ReplayError::Replayed));
        }
    }

    #[test]
    fn entries_expire_after_the_ttl() {
        let c = MemoryReplayCache::new(Duration::from_millis(50), 10);
        assert_eq!(c.check_and_insert([1; 32]), Ok(()));
        std::thread::sleep(Duration::from_millis(120));
        c.entries.run_pending_tasks();
        assert_eq!(c.len(), 0);
        assert_eq!(c.check_and_insert([1; 32]), Ok(()));
    }
}
