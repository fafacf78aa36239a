//! One DC's health, with hysteresis.
//!
//! The pattern of Pingora's `pingora-load-balancing/src/health_check.rs`: a DC flips state only
//! after a run of consecutive outcomes against its current state (`failures_to_down` failures
//! while up, `successes_to_up` successes while down), so one lost packet does not take a DC
//! out of rotation and one lucky probe does not put a flapping DC back. Every outcome feeds the
//! same counter: failed requests and failed health checks alike; while a DC is down, requests
//! skip it (see [`super::failover`]) and only health checks bring it back.
//!
//! The latency is an exponentially weighted moving average (weight 1/4 on the new sample) of
//! health-check round trips: the same small operation on every DC, so the averages compare DCs
//! rather than users with many groups. Lookups report success or failure without a sample.

use std::time::{Duration, Instant};

/// When a DC changes state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthPolicy {
    /// Consecutive failures that take an up DC down (at least 1).
    pub failures_to_down: u32,
    /// Consecutive successes that bring a down DC back up (at least 1).
    pub successes_to_up: u32,
}

impl Default for HealthPolicy {
    /// Three failures down, two successes up.
    fn default() -> Self {
        Self {
            failures_to_down: 3,
            successes_to_up: 2,
        }
    }
}

/// What one request or health check to a DC found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The DC answered. `latency` is a sample for the average, when the operation was a
    /// health check.
    Success {
        /// The round trip, if it is a comparable sample.
        latency: Option<Duration>,
    },
    /// The DC did not answer properly; `reason` is the error's static reason.
    Failure {
        /// Why, as in [`crate::net::ldap::DirectoryError::reason`].
        reason: &'static str,
    },
}

/// A change of state, reported once when it happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// The DC went down.
    Down,
    /// The DC came back up.
    Up,
}

/// The health of one DC. A new DC is up: configured DCs are assumed to work until they fail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Health {
    up: bool,
    /// Consecutive outcomes against the current state.
    against: u32,
    latency: Option<Duration>,
    changed_at: Option<Instant>,
    last_failure: Option<&'static str>,
}

impl Default for Health {
    fn default() -> Self {
        Self::new()
    }
}

impl Health {
    /// An up DC with no latency sample yet.
    pub fn new() -> Self {
        Self {
            up: true,
            against: 0,
            latency: None,
            changed_at: None,
            last_failure: None,
        }
    }

    /// Whether the DC is in rotation.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The smoothed latency, once there is a sample.
    pub fn latency(&self) -> Option<Duration> {
        self.latency
    }

    /// Consecutive outcomes against the current state: failures while up, successes while
    /// down.
    pub fn streak(&self) -> u32 {
        self.against
    }

    /// When the state last changed (never, for a DC that has been up since it was added).
    pub fn changed_at(&self) -> Option<Instant> {
        self.changed_at
    }

    /// The reason of the last failure seen, for `/readyz`.
    pub fn last_failure(&self) -> Option<&'static str> {
        self.last_failure
    }

    /// Records an outcome at `now`; returns the transition it caused, if any.
    pub fn observe(
        &mut self,
        policy: &HealthPolicy,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Transition> {
        let success = match outcome {
            Outcome::Success { latency } => {
                if let Some(sample) = latency {
                    self.latency = Some(match self.latency {
                        None => sample,
                        Some(avg) => (avg * 3 + sample) / 4,
                    });
                }
                true
            }
            Outcome::Failure { reason } => {
                self.last_failure = Some(reason);
                false
            }
        };
        if success == self.up {
            // An outcome that agrees with the state breaks the streak against it.
            self.against = 0;
            return None;
        }
        self.against = self.against.saturating_add(1);
        let threshold = if self.up {
            policy.failures_to_down
        } else {
            policy.successes_to_up
        };
        if self.against < threshold.max(1) {
            return None;
        }
        self.up = success;
        self.against = 0;
        self.changed_at = Some(now);
        if !success {
            // A DC that comes back must earn a fresh latency figure.
            self.latency = None;
        }
        Some(if success {
            Transition::Up
        } else {
            Transition::Down
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: Outcome = Outcome::Failure {
        reason: "connect_failed",
    };
    const OK: Outcome = Outcome::Success { latency: None };

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn goes_down_after_n_consecutive_failures_only() {
        let policy = HealthPolicy {
            failures_to_down: 3,
            successes_to_up: 2,
        };
        let t0 = Instant::now();
        let mut h = Health::new();
        assert_eq!(h.observe(&policy, FAIL, t0), None);
        assert_eq!(h.observe(&policy, FAIL, t0), None);
        // A success in between resets the streak.
        assert_eq!(h.observe(&policy, OK, t0), None);
        assert_eq!(h.streak(), 0);
        assert_eq!(h.observe(&policy, FAIL, t0), None);
        assert_eq!(h.observe(&policy, FAIL, t0), None);
        assert!(h.is_up());
        let t1 = t0 + ms(10);
        assert_eq!(h.observe(&policy, FAIL, t1), Some(Transition::Down));
        assert!(!h.is_up());
        assert_eq!(h.changed_at(), Some(t1));
        assert_eq!(h.last_failure(), Some("connect_failed"));
        // More failures while down change nothing.
        assert_eq!(h.observe(&policy, FAIL, t1), None);
        assert_eq!(h.streak(), 0);
    }

    #[test]
    fn comes_back_after_m_consecutive_successes_only() {
        let policy = HealthPolicy {
            failures_to_down: 1,
            successes_to_up: 3,
        };
        let t0 = Instant::now();
        let mut h = Health::new();
        assert_eq!(h.observe(&policy, FAIL, t0), Some(Transition::Down));
        assert_eq!(h.observe(&policy, OK, t0), None);
        assert_eq!(h.observe(&policy, OK, t0), None);
        assert_eq!(h.observe(&policy, FAIL, t0), None);
        assert_eq!(h.observe(&policy, OK, t0), None);
        assert_eq!(h.observe(&policy, OK, t0), None);
        assert!(!h.is_up());
        let t1 = t0 + ms(5);
        assert_eq!(h.observe(&policy, OK, t1), Some(Transition::Up));
        assert!(h.is_up());
        assert_eq!(h.changed_at(), Some(t1));
    }

    #[test]
    fn zero_thresholds_act_as_one() {
        let policy = HealthPolicy {
            failures_to_down: 0,
            successes_to_up: 0,
        };
        let now = Instant::now();
        let mut h = Health::new();
        assert_eq!(h.observe(&policy, FAIL, now), Some(Transition::Down));
        assert_eq!(h.observe(&policy, OK, now), Some(Transition::Up));
    }

    #[test]
    fn latency_is_smoothed_and_forgotten_on_down() {
        let policy = HealthPolicy {
            failures_to_down: 1,
            successes_to_up: 1,
        };
        let now = Instant::now();
        let mut h = Health::new();
        let sample = |n| Outcome::Success {
            latency: Some(ms(n)),
        };
        h.observe(&policy, sample(100), now);
        assert_eq!(h.latency(), Some(ms(100)));
        h.observe(&policy, sample(20), now);
        assert_eq!(h.latency(), Some(ms(80)));
        h.observe(&policy, OK, now);
        assert_eq!(h.latency(), Some(ms(80)));
        h.observe(&policy, FAIL, now);
        assert_eq!(h.latency(), None);
        h.observe(&policy, sample(7), now);
        assert_eq!(h.latency(), Some(ms(7)));
        assert!(h.is_up());
    }
}
