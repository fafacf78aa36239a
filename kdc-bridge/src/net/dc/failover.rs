//! The DC table, the order requests try DCs in, and the per-request failover plan.
//!
//! A request tries the up DCs from the lowest smoothed latency to the highest (DCs without a
//! sample yet after the measured ones, ties in configuration order), then the down DCs as a last
//! resort, in configuration order. So a DC marked down costs nothing while another DC answers,
//! and a sign-in still gets a chance when every DC was marked down (health state can be older
//! than the network's). Each attempt that fails moves on to the next DC inside the same
//! request, until one answers, the list is exhausted or the request's time budget is spent:
//! [`FailoverPlan::next_attempt`] hands out the remaining budget, and the I/O layer clips every
//! connect, bind and search timeout to it.

use std::time::{Duration, Instant};

use super::health::{Health, HealthPolicy, Outcome, Transition};
use super::DcEndpoint;

/// One DC and its health.
#[derive(Debug, Clone)]
pub struct DcEntry {
    endpoint: DcEndpoint,
    health: Health,
}

impl DcEntry {
    /// The DC.
    pub fn endpoint(&self) -> &DcEndpoint {
        &self.endpoint
    }

    /// Its health.
    pub fn health(&self) -> &Health {
        &self.health
    }
}

/// The DCs of one domain with their health.
#[derive(Debug, Clone)]
pub struct DcTable {
    entries: Vec<DcEntry>,
    policy: HealthPolicy,
}

impl DcTable {
    /// A table of `endpoints` (duplicates dropped), all up.
    pub fn new(endpoints: Vec<DcEndpoint>, policy: HealthPolicy) -> Self {
        let mut table = Self {
            entries: Vec::new(),
            policy,
        };
        table.replace_endpoints(endpoints);
        table
    }

    /// The hysteresis thresholds.
    pub fn policy(&self) -> &HealthPolicy {
        &self.policy
    }

    /// Replaces the DC list (after a new DNS discovery), keeping the health of the DCs that
    /// stay. New DCs start up.
    pub fn replace_endpoints(&mut self, endpoints: Vec<DcEndpoint>) {
        let mut old = std::mem::take(&mut self.entries);
        for endpoint in endpoints {
            if self.entries.iter().any(|e| e.endpoint == endpoint) {
                continue;
            }
            let health = match old.iter().position(|e| e.endpoint == endpoint) {
                Some(i) => old.swap_remove(i).health,
                None => Health::new(),
            };
            self.entries.push(DcEntry { endpoint, health });
        }
    }

    /// The DCs, in configuration (or discovery) order.
    pub fn entries(&self) -> &[DcEntry] {
        &self.entries
    }

    /// Whether any DC is up.
    pub fn any_up(&self) -> bool {
        self.entries.iter().any(|e| e.health.is_up())
    }

    /// Records an outcome for `dc`. Returns the transition it caused; `None` also when `dc` is
    /// no longer in the table (a request that outlived a re-discovery).
    pub fn observe(
        &mut self,
        dc: &DcEndpoint,
        outcome: Outcome,
        now: Instant,
    ) -> Option<Transition> {
        let policy = self.policy;
        self.entries
            .iter_mut()
            .find(|e| &e.endpoint == dc)
            .and_then(|e| e.health.observe(&policy, outcome, now))
    }

    /// The order a request tries the DCs in (see the module documentation).
    pub fn attempt_order(&self) -> Vec<DcEndpoint> {
        let mut up: Vec<(usize, &DcEntry)> = self
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| e.health.is_up())
            .collect();
        // Measured before unmeasured, then by latency, then by position: a total order, and
        // `sort_by_key` is stable anyway.
        up.sort_by_key(|(i, e)| (e.health.latency().is_none(), e.health.latency(), *i));
        let down = self.entries.iter().filter(|e| !e.health.is_up());
        up.into_iter()
            .map(|(_, e)| e)
            .chain(down)
            .map(|e| e.endpoint.clone())
            .collect()
    }

    /// The plan of one request that may spend `budget` from `now`.
    pub fn plan(&self, now: Instant, budget: Duration) -> FailoverPlan {
        FailoverPlan::new(self.attempt_order(), now, budget)
    }
}

/// One try of a request on one DC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The DC to try.
    pub endpoint: DcEndpoint,
    /// 0 for the first DC; more means the request failed over.
    pub index: usize,
    /// What is left of the request's budget: the ceiling of every timeout in this attempt.
    pub remaining: Duration,
}

/// The DCs one request may still try, and the time it may still spend.
#[derive(Debug, Clone)]
pub struct FailoverPlan {
    order: Vec<DcEndpoint>,
    next: usize,
    deadline: Instant,
}

impl FailoverPlan {
    /// A plan over `order`, ending at `now + budget`.
    pub fn new(order: Vec<DcEndpoint>, now: Instant, budget: Duration) -> Self {
        Self {
            order,
            next: 0,
            // An absurd budget saturates instead of overflowing.
            deadline: now.checked_add(budget).unwrap_or(now),
        }
    }

    /// How many DCs the plan holds.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether the plan holds no DC at all.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// The budget left at `now`.
    pub fn remaining(&self, now: Instant) -> Duration {
        self.deadline.saturating_duration_since(now)
    }

    /// The next DC to try, or `None` when every DC was tried or the budget is spent.
    pub fn next_attempt(&mut self, now: Instant) -> Option<Attempt> {
        let remaining = self.remaining(now);
        if remaining.is_zero() {
            return None;
        }
        let endpoint = self.order.get(self.next)?.clone();
        let index = self.next;
        self.next += 1;
        Some(Attempt {
            endpoint,
            index,
            remaining,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAIL: Outcome = Outcome::Failure { reason: "timeout" };

    fn dc(n: u8) -> DcEndpoint {
        DcEndpoint::new(format!("dc{n}.corp.test"), 636)
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn sample(n: u64) -> Outcome {
        Outcome::Success {
            latency: Some(ms(n)),
        }
    }

    #[test]
    fn up_by_latency_then_unmeasured_then_down() {
        let policy = HealthPolicy {
            failures_to_down: 2,
            successes_to_up: 2,
        };
        let now = Instant::now();
        let mut t = DcTable::new(vec![dc(1), dc(2), dc(3), dc(4), dc(5), dc(2)], policy);
        assert_eq!(t.entries().len(), 5, "duplicates are dropped");
        // Fresh table: configuration order.
        assert_eq!(t.attempt_order(), vec![dc(1), dc(2), dc(3), dc(4), dc(5)]);

        t.observe(&dc(3), sample(5), now);
        t.observe(&dc(4), sample(40), now);
        t.observe(&dc(2), sample(5), now);
        assert_eq!(t.observe(&dc(1), FAIL, now), None);
        assert_eq!(t.observe(&dc(1), FAIL, now), Some(Transition::Down));
        // dc2 and dc3 tie at 5 ms: configuration order; dc5 has no sample; dc1 is down.
        assert_eq!(t.attempt_order(), vec![dc(2), dc(3), dc(4), dc(5), dc(1)]);
        assert!(t.any_up());

        // Back after two successes.
        assert_eq!(t.observe(&dc(1), sample(1), now), None);
        assert_eq!(t.observe(&dc(1), sample(1), now), Some(Transition::Up));
        assert_eq!(t.attempt_order(), vec![dc(1), dc(2), dc(3), dc(4), dc(5)]);
    }

    #[test]
    fn all_down_still_tries_everyone() {
        let policy = HealthPolicy {
            failures_to_down: 1,
            successes_to_up: 1,
        };
        let now = Instant::now();
        let mut t = DcTable::new(vec![dc(1), dc(2)], policy);
        t.observe(&dc(2), FAIL, now);
        t.observe(&dc(1), FAIL, now);
        assert!(!t.any_up());
        assert_eq!(t.attempt_order(), vec![dc(1), dc(2)]);
    }

    #[test]
    fn rediscovery_keeps_health_of_known_dcs() {
        let policy = HealthPolicy {
            failures_to_down: 1,
            successes_to_up: 1,
        };
        let now = Instant::now();
        let mut t = DcTable::new(vec![dc(1), dc(2)], policy);
        t.observe(&dc(1), FAIL, now);
        t.replace_endpoints(vec![dc(3), dc(1)]);
        let order = t.attempt_order();
        assert_eq!(order, vec![dc(3), dc(1)]);
        assert!(!t.entries()[1].health().is_up());
        // Outcomes for a DC that left the table are dropped.
        assert_eq!(t.observe(&dc(2), FAIL, now), None);
    }

    #[test]
    fn plan_walks_the_order_within_the_budget() {
        let t0 = Instant::now();
        let mut plan = FailoverPlan::new(vec![dc(1), dc(2), dc(3)], t0, ms(1000));
        assert_eq!(plan.len(), 3);
        let a = plan.next_attempt(t0).unwrap();
        assert_eq!((a.endpoint, a.index, a.remaining), (dc(1), 0, ms(1000)));
        let b = plan.next_attempt(t0 + ms(700)).unwrap();
        assert_eq!((b.endpoint, b.index, b.remaining), (dc(2), 1, ms(300)));
        // The budget is spent: dc3 is never tried.
        assert_eq!(plan.next_attempt(t0 + ms(1000)), None);
        assert_eq!(plan.remaining(t0 + ms(2000)), Duration::ZERO);
    }

    #[test]
    fn plan_ends_when_the_dcs_run_out() {
        let t0 = Instant::now();
        let mut plan = FailoverPlan::new(vec![dc(1)], t0, ms(1000));
        assert!(plan.next_attempt(t0).is_some());
        assert_eq!(plan.next_attempt(t0), None);
        let mut empty = FailoverPlan::new(Vec::new(), t0, ms(1000));
        assert!(empty.is_empty());
        assert_eq!(empty.next_attempt(t0), None);
    }
}
