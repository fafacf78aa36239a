//! Sign-in throttling for the password form: failures counted per user and per source address
//! in a sliding window; at the limit the user (or the address) is locked out for a while, and
//! the password is not even checked until then. With the user limit below AD's own
//! `lockoutThreshold`, a password-guessing run stops here before AD locks the account for
//! everyone (its Kerberos sign-ins included).
//!
//! Sans-IO: times are Unix seconds given by the caller. Memory is bounded: at most `capacity`
//! users and as many addresses are tracked; when full, expired entries go first, then the
//! least recently active unlocked one, then the lockout that ends first.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

/// The limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures of one user within `window_secs` that lock the user out.
    pub user_failures: u32,
    /// Failures from one address within `window_secs` that lock the address out.
    pub address_failures: u32,
    /// The sliding window.
    pub window_secs: i64,
    /// How long a lockout lasts.
    pub lockout_secs: i64,
    /// Most users (and most addresses) tracked.
    pub capacity: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        Self {
            user_failures: 5,
            address_failures: 30,
            window_secs: 900,
            lockout_secs: 900,
            capacity: 100_000,
        }
    }
}

/// Who is locked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// The user name.
    User,
    /// The source address.
    Address,
}

/// Whether a sign-in may be tried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    /// Yes.
    Open,
    /// No, until `until` (Unix seconds).
    Locked {
        /// When it ends.
        until: i64,
        /// Whose lockout.
        scope: Scope,
    },
}

#[derive(Debug, Default)]
struct Entry {
    failures: VecDeque<i64>,
    locked_until: i64,
    last_seen: i64,
}

impl Entry {
    fn prune(&mut self, now: i64, window: i64) {
        while self.failures.front().is_some_and(|t| *t <= now - window) {
            self.failures.pop_front();
        }
    }
}

#[derive(Debug, Default)]
struct Table {
    entries: HashMap<String, Entry>,
}

impl Table {
    fn gate(&self, key: &str, now: i64) -> Option<i64> {
        self.entries
            .get(key)
            .map(|e| e.locked_until)
            .filter(|until| *until > now)
    }

    /// Charges an attempt (before its outcome is known, so concurrent attempts count).
    fn charge(&mut self, key: &str, now: i64, p: &ThrottlePolicy) {
        if !self.entries.contains_key(key) && self.entries.len() >= p.capacity {
            self.make_room(now, p);
        }
        let e = self.entries.entry(key.to_owned()).or_default();
        e.last_seen = now;
        e.prune(now, p.window_secs);
        e.failures.push_back(now);
        // Bounded: more than any limit is never needed.
        while e.failures.len() > 1024 {
            e.failures.pop_front();
        }
    }

    /// Attempts in the window, charged ones included.
    fn pending(&mut self, key: &str, now: i64, window: i64) -> usize {
        self.entries.get_mut(key).map_or(0, |e| {
            e.prune(now, window);
            e.failures.len()
        })
    }

    /// After a failure: locks `key` when its attempts in the window reach `limit`.
    fn settle(&mut self, key: &str, now: i64, limit: u32, p: &ThrottlePolicy) -> Option<i64> {
        let e = self.entries.get_mut(key)?;
        e.prune(now, p.window_secs);
        if e.failures.len() >= usize::try_from(limit.max(1)).unwrap_or(usize::MAX) {
            e.locked_until = now + p.lockout_secs;
            e.failures.clear();
            return Some(e.locked_until);
        }
        None
    }

    fn make_room(&mut self, now: i64, p: &ThrottlePolicy) {
        self.entries.retain(|_, e| {
            e.locked_until > now || e.failures.back().is_some_and(|t| *t > now - p.window_secs)
        });
        if self.entries.len() >= p.capacity {
            // Unlocked entries go before locked ones, least recently active first: a flood of
            // new names cannot lift a lockout while there are counters to drop.
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| (e.locked_until > now, e.locked_until, e.last_seen))
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
    }
}

/// The throttle, shared by every request.
#[derive(Debug, Default)]
pub struct Throttle {
    policy: ThrottlePolicy,
    users: Mutex<Table>,
    addresses: Mutex<Table>,
}

/// The key a user name is counted under: `CORP\alice`, `alice@corp.example` and `Alice` are
/// the same user.
pub fn user_key(name: &str) -> String {
    let name = name.trim();
    let name = name.rsplit_once('\\').map_or(name, |(_, u)| u);
    let name = name.split_once('@').map_or(name, |(u, _)| u);
    name.to_lowercase()
}

impl Throttle {
    /// A throttle with `policy`.
    pub fn new(policy: ThrottlePolicy) -> Self {
        Self {
            policy,
            users: Mutex::default(),
            addresses: Mutex::default(),
        }
    }

    /// The limits.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Whether `user` from `address` may try a password now, without charging anything.
    pub fn check(&self, user: &str, address: &str, now: i64) -> Gate {
        if let Some(until) = lock(&self.addresses).gate(address, now) {
            return Gate::Locked {
                until,
                scope: Scope::Address,
            };
        }
        if let Some(until) = lock(&self.users).gate(&user_key(user), now) {
            return Gate::Locked {
                until,
                scope: Scope::User,
            };
        }
        Gate::Open
    }

    /// Starts an attempt: refused while locked out, or while as many attempts as the limit are
    /// already in the window (concurrent ones included); otherwise charged as a failure until
    /// [`Throttle::succeeded`] refunds it. Check and charge are one step, so parallel
    /// submissions cannot get past the limit.
    pub fn attempt(&self, user: &str, address: &str, now: i64) -> Gate {
        let p = &self.policy;
        let user = user_key(user);
        let mut addresses = lock(&self.addresses);
        let mut users = lock(&self.users);
        if let Some(until) = addresses.gate(address, now) {
            return Gate::Locked {
                until,
                scope: Scope::Address,
            };
        }
        if let Some(until) = users.gate(&user, now) {
            return Gate::Locked {
                until,
                scope: Scope::User,
            };
        }
        let full = |n: usize, limit: u32| n >= usize::try_from(limit.max(1)).unwrap_or(usize::MAX);
        if full(
            addresses.pending(address, now, p.window_secs),
            p.address_failures,
        ) {
            return Gate::Locked {
                until: now + p.lockout_secs,
                scope: Scope::Address,
            };
        }
        if full(users.pending(&user, now, p.window_secs), p.user_failures) {
            return Gate::Locked {
                until: now + p.lockout_secs,
                scope: Scope::User,
            };
        }
        addresses.charge(address, now, p);
        users.charge(&user, now, p);
        Gate::Open
    }

    /// The attempt failed: its charge stays; returns the lockout it starts, if any.
    pub fn failed(&self, user: &str, address: &str, now: i64) -> Gate {
        let p = &self.policy;
        let by_address = lock(&self.addresses).settle(address, now, p.address_failures, p);
        let by_user = lock(&self.users).settle(&user_key(user), now, p.user_failures, p);
        match (by_user, by_address) {
            (Some(until), _) => Gate::Locked {
                until,
                scope: Scope::User,
            },
            (None, Some(until)) => Gate::Locked {
                until,
                scope: Scope::Address,
            },
            (None, None) => Gate::Open,
        }
    }

    /// Records a failure without an attempt first (`attempt` then `failed`).
    pub fn failure(&self, user: &str, address: &str, now: i64) -> Gate {
        match self.attempt(user, address, now) {
            Gate::Open => self.failed(user, address, now),
            locked => locked,
        }
    }

    /// The attempt succeeded: the user's failures are cleared, and the address gets its charge
    /// back (not more: one right password must not reset a spraying run).
    pub fn succeeded(&self, user: &str, address: &str) {
        lock(&self.users).entries.remove(&user_key(user));
        if let Some(e) = lock(&self.addresses).entries.get_mut(address) {
            e.failures.pop_back();
        }
    }

    /// Users and addresses tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        (
            lock(&self.users).entries.len(),
            lock(&self.addresses).entries.len(),
        )
    }
}

fn lock(m: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    // Plain counters updated in single steps: a panic elsewhere cannot leave them half-written.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> ThrottlePolicy {
        ThrottlePolicy {
            user_failures: 3,
            address_failures: 5,
            window_secs: 60,
            lockout_secs: 300,
            capacity: 4,
        }
    }

    #[test]
    fn the_third_failure_locks_the_user_in_every_spelling() {
        let t = Throttle::new(policy());
        assert_eq!(t.failure("alice", "10.0.0.1", 100), Gate::Open);
        assert_eq!(t.failure("CORP\\Alice", "10.0.0.2", 110), Gate::Open);
        let locked = Gate::Locked {
            until: 420,
            scope: Scope::User,
        };
        assert_eq!(t.failure("alice@corp.example", "10.0.0.3", 120), locked);
        assert_eq!(t.check("ALICE", "10.9.9.9", 121), locked);
        assert_eq!(t.check("bob", "10.0.0.1", 121), Gate::Open);
        assert_eq!(t.check("alice", "10.0.0.1", 420), Gate::Open);
    }

    #[test]
    fn failures_leave_the_window() {
        let t = Throttle::new(policy());
        t.failure("alice", "a", 0);
        t.failure("alice", "a", 30);
        // The first one is 60 s old now: out of the window.
        assert_eq!(t.failure("alice", "a", 60), Gate::Open);
        assert!(matches!(
            t.failure("alice", "a", 61),
            Gate::Locked {
                scope: Scope::User,
                ..
            }
        ));
    }

    #[test]
    fn an_address_spraying_many_users_is_locked() {
        let t = Throttle::new(policy());
        for (i, u) in ["u1", "u2", "u3", "u4"].iter().enumerate() {
            assert_eq!(t.failure(u, "10.6.6.6", i as i64), Gate::Open);
        }
        assert_eq!(
            t.failure("u5", "10.6.6.6", 5),
            Gate::Locked {
                until: 305,
                scope: Scope::Address
            }
        );
        assert!(matches!(
            t.check("anyone", "10.6.6.6", 6),
            Gate::Locked {
                scope: Scope::Address,
                ..
            }
        ));
        // A success does not reset the address.
        t.succeeded("u1", "10.6.6.6");
        assert!(matches!(t.check("u1", "10.6.6.6", 7), Gate::Locked { .. }));
    }

    #[test]
    fn success_clears_the_user() {
        let t = Throttle::new(policy());
        t.failure("alice", "a", 0);
        t.failure("alice", "b", 1);
        assert_eq!(t.attempt("Alice", "b", 2), Gate::Open);
        t.succeeded("Alice", "b");
        assert_eq!(t.failure("alice", "c", 3), Gate::Open);
        // The address got its charge back: b has one failure, not two.
        assert_eq!(
            lock(&t.addresses)
                .entries
                .get("b")
                .map(|e| e.failures.len()),
            Some(1)
        );
    }

    #[test]
    fn memory_is_bounded_and_lockouts_survive_a_flood() {
        let t = Throttle::new(policy());
        t.failure("victim", "x", 0);
        t.failure("victim", "x", 1);
        t.failure("victim", "x", 2); // locked until 302
        for i in 0..200 {
            t.failure(&format!("flood{i}"), &format!("10.1.0.{i}"), 3 + i / 4);
        }
        let (users, addresses) = t.tracked();
        assert!(users <= 4 && addresses <= 4, "{users} {addresses}");
        assert_eq!(
            t.check("victim", "y", 100),
            Gate::Locked {
                until: 302,
                scope: Scope::User
            }
        );
    }

    #[test]
    fn parallel_attempts_cannot_pass_the_limit() {
        let t = Throttle::new(policy());
        // Three submissions in flight for alice: the fourth is refused before any answer.
        for _ in 0..3 {
            assert_eq!(t.attempt("alice", "10.0.0.1", 50), Gate::Open);
        }
        assert!(matches!(
            t.attempt("alice", "10.0.0.2", 50),
            Gate::Locked {
                scope: Scope::User,
                ..
            }
        ));
        // All three fail: locked.
        t.failed("alice", "10.0.0.1", 51);
        assert!(matches!(
            t.check("alice", "x", 52),
            Gate::Locked { until: 351, .. }
        ));
    }
}
