//! What the directory reports for metrics. The gateway implements [`Observer`] over its
//! Prometheus registry; kdc-bridge registers nothing itself.
//!
//! Suggested series: `iwagw_ldap_operation_duration_seconds{dc,operation,result}` from
//! [`Observer::ldap_operation`], `iwagw_dc_up{dc}` from [`Observer::dc_state_changed`],
//! `iwagw_dc_failovers_total{realm}` from [`Observer::failover`] and
//! `iwagw_directory_cache_total{event}` from [`Observer::cache`]. `dc` is a DC label from
//! configuration or DNS; every other argument is static.

use std::fmt;
use std::time::Duration;

use super::error::Operation;

/// What a lookup found in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheEvent {
    /// A user within the TTL.
    Hit,
    /// A remembered "no such user".
    NegativeHit,
    /// Nothing remembered: AD is asked while the caller waits.
    Miss,
    /// A user past the TTL, served while a background refresh runs.
    Stale,
    /// A user past the TTL whose refresh failed: served as degraded.
    Degraded,
    /// A background refresh failed.
    RefreshFailed,
}

impl CacheEvent {
    /// A static label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::NegativeHit => "negative_hit",
            Self::Miss => "miss",
            Self::Stale => "stale",
            Self::Degraded => "degraded",
            Self::RefreshFailed => "refresh_failed",
        }
    }
}

impl fmt::Display for CacheEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Receives the directory's measurements. Every method has an empty default. Calls happen on
/// the request path: implementations must be quick and must not block.
pub trait Observer: Send + Sync {
    /// One LDAP operation on `dc` took `elapsed`; `result` is `Err(reason)` on failure.
    fn ldap_operation(
        &self,
        dc: &str,
        op: Operation,
        elapsed: Duration,
        result: Result<(), &'static str>,
    ) {
        let _ = (dc, op, elapsed, result);
    }

    /// `dc` went down (`up == false`) or came back.
    fn dc_state_changed(&self, dc: &str, up: bool) {
        let _ = (dc, up);
    }

    /// A request that failed on `from` for `reason` moves on to `to`.
    fn failover(&self, from: &str, to: &str, reason: &'static str) {
        let _ = (from, to, reason);
    }

    /// A cache event.
    fn cache(&self, event: CacheEvent) {
        let _ = event;
    }
}

/// An observer that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl Observer for NoopObserver {}
