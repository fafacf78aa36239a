//! The directory client: lookups through the cache, failover across DCs, health checks.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use ldap3::Scope;
use tokio::task::{JoinHandle, JoinSet};

use super::cache::{CacheEntry, EntryState, Lifetime};
use super::config::{CachePolicy, DirectoryConfig, Security, Timeouts};
use super::connect::Connector;
use super::error::{DirectoryError, Operation};
use super::groups::{self, NameCache};
use super::observer::{CacheEvent, Observer};
use super::password::PasswordVerdict;
use super::pool::DcPool;
use super::search::{self, OpContext, Search};
use super::user::{self, Identity, UserKey, UserQuery};
use crate::net::dc::discover::SrvDiscovery;
use crate::net::dc::failover::DcTable;
use crate::net::dc::health::{Outcome, Transition};
use crate::net::dc::DcEndpoint;
use crate::proto::acceptor::Randomness;

/// How current a looked-up identity is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Fetched from AD for this lookup.
    Fresh,
    /// From the cache, within its TTL.
    Cached,
    /// From the cache, past its TTL; a background refresh is asking AD.
    Stale,
    /// From the cache, past its TTL, and the last refresh could not reach AD: the last known
    /// attributes, served because the directory is unavailable.
    Degraded,
}

/// The answer to a lookup.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// AD knows the user.
    Found {
        /// What AD says.
        identity: Arc<Identity>,
        /// How current that is.
        freshness: Freshness,
    },
    /// No account has this name.
    NotFound {
        /// [`Freshness::Fresh`] or [`Freshness::Cached`].
        freshness: Freshness,
    },
    /// No DC answered and nothing usable is cached. The gateway decides: allow on the
    /// ticket's PAC alone, or deny.
    Unavailable {
        /// Why the last DC tried failed.
        error: DirectoryError,
    },
}

impl Lookup {
    /// The identity, when found.
    pub fn identity(&self) -> Option<&Arc<Identity>> {
        match self {
            Self::Found { identity, .. } => Some(identity),
            _ => None,
        }
    }

    /// Whether the answer is not backed by a working directory: served degraded, or none.
    pub fn is_degraded(&self) -> bool {
        matches!(
            self,
            Self::Found {
                freshness: Freshness::Degraded,
                ..
            } | Self::Unavailable { .. }
        )
    }
}

/// One DC's state, for `/readyz` and dashboards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcStatus {
    /// The DC's label (`host:port`).
    pub dc: String,
    /// In rotation.
    pub up: bool,
    /// Smoothed health-check and connect latency.
    pub latency: Option<Duration>,
    /// Consecutive outcomes against the current state.
    pub streak: u32,
    /// The reason of the last failure seen.
    pub last_failure: Option<&'static str>,
}

/// Every DC's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryStatus {
    /// The DCs in configuration (then discovery) order.
    pub dcs: Vec<DcStatus>,
}

impl DirectoryStatus {
    /// Whether at least one DC is up: lookups are expected to work.
    pub fn is_available(&self) -> bool {
        self.dcs.iter().any(|d| d.up)
    }

    /// Whether some DC is down (lookups work while another is up).
    pub fn is_degraded(&self) -> bool {
        self.dcs.iter().any(|d| !d.up)
    }
}

/// The AD directory of one domain: cached user lookups over a pool of LDAP connections per DC,
/// with failover and health checks. Cheap to clone (one shared state).
#[derive(Clone)]
pub struct Directory {
    inner: Arc<Inner>,
}

struct Inner {
    connector: Connector,
    base_dn: String,
    attributes: Vec<String>,
    max_groups: usize,
    max_attribute_values: usize,
    pool_size: usize,
    max_connection_age: Duration,
    cache_policy: CachePolicy,
    static_dcs: Vec<DcEndpoint>,
    discovery: Option<SrvDiscovery>,
    table: Mutex<DcTable>,
    pools: Mutex<HashMap<DcEndpoint, Arc<DcPool>>>,
    identities: moka::future::Cache<String, Arc<CacheEntry>>,
    group_names: NameCache,
    observer: Arc<dyn Observer>,
}

impl fmt::Debug for Directory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Directory")
            .field("base_dn", &self.inner.base_dn)
            .field("security", &self.inner.connector.security)
            .field("dcs", &self.status().dcs)
            .finish_non_exhaustive()
    }
}

/// What one attempt on one DC does.
enum Work<'a> {
    Fetch(&'a UserKey),
    Probe,
    Password(&'a UserKey, &'a str),
}

enum Done {
    Fetched(Option<Box<Identity>>),
    Probed(Duration),
    Password(PasswordVerdict),
}

impl Directory {
    /// A directory over `config`'s DCs. Lookups need a tokio runtime; nothing connects until
    /// the first lookup or health check. With SRV discovery and no static DC, call
    /// [`Directory::rediscover`] first.
    pub fn new(
        config: DirectoryConfig,
        observer: Arc<dyn Observer>,
    ) -> Result<Self, DirectoryError> {
        if matches!(config.security, Security::Plain) && !config.insecure {
            return Err(DirectoryError::InsecureNotAllowed);
        }
        if config.dcs.is_empty() && config.discovery.is_none() {
            return Err(DirectoryError::NoDcs);
        }
        let identities = moka::future::Cache::builder()
            .max_capacity(config.cache.capacity)
            .expire_after(Lifetime(config.cache))
            .build();
        let group_names = moka::future::Cache::builder()
            .max_capacity(config.cache.capacity)
            .time_to_live(config.cache.group_name_ttl)
            .build();
        let inner = Inner {
            connector: Connector {
                security: config.security,
                account: config.service_account,
                timeouts: config.timeouts,
            },
            base_dn: config.base_dn,
            attributes: config.attributes,
            max_groups: config.max_groups,
            max_attribute_values: config.max_attribute_values,
            pool_size: config.pool_size,
            max_connection_age: config.max_connection_age,
            cache_policy: config.cache,
            table: Mutex::new(DcTable::new(config.dcs.clone(), config.health)),
            static_dcs: config.dcs,
            discovery: config.discovery,
            pools: Mutex::new(HashMap::new()),
            identities,
            group_names,
            observer,
        };
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Looks a user up through the cache (see [`CachePolicy`]). Never fails: an unreachable
    /// directory is [`Lookup::Unavailable`], or a degraded cached identity.
    pub async fn lookup(&self, key: &UserKey) -> Lookup {
        let inner = &self.inner;
        let policy = inner.cache_policy;
        let cache_key = key.cache_key();
        let now = Instant::now();
        if let Some(entry) = inner.identities.get(&cache_key).await {
            match (entry.state(&policy, now), &entry.identity) {
                (EntryState::Fresh, Some(identity)) => {
                    inner.observer.cache(CacheEvent::Hit);
                    return Lookup::Found {
                        identity: identity.clone(),
                        freshness: Freshness::Cached,
                    };
                }
                (EntryState::Fresh, None) => {
                    inner.observer.cache(CacheEvent::NegativeHit);
                    return Lookup::NotFound {
                        freshness: Freshness::Cached,
                    };
                }
                (EntryState::Stale, Some(identity)) => {
                    if entry.claim_refresh(policy.refresh_retry, now) {
                        self.spawn_refresh(key.clone(), cache_key, entry.clone());
                    }
                    let freshness = if entry.refresh_failed() {
                        inner.observer.cache(CacheEvent::Degraded);
                        Freshness::Degraded
                    } else {
                        inner.observer.cache(CacheEvent::Stale);
                        Freshness::Stale
                    };
                    return Lookup::Found {
                        identity: identity.clone(),
                        freshness,
                    };
                }
                _ => inner.identities.invalidate(&cache_key).await,
            }
        }
        inner.observer.cache(CacheEvent::Miss);
        let this = self.clone();
        let owned_key = key.clone();
        let fetched = inner
            .identities
            .entry(cache_key)
            .or_try_insert_with(async move {
                let found = this.fetch(&owned_key).await?;
                Ok::<_, DirectoryError>(Arc::new(CacheEntry::new(
                    found.map(Arc::new),
                    Instant::now(),
                )))
            })
            .await;
        match fetched {
            Ok(entry) => {
                // Another lookup of the same user may have fetched it meanwhile.
                let freshness = if entry.is_fresh() {
                    Freshness::Fresh
                } else {
                    Freshness::Cached
                };
                match &entry.value().identity {
                    Some(identity) => Lookup::Found {
                        identity: identity.clone(),
                        freshness,
                    },
                    None => Lookup::NotFound { freshness },
                }
            }
            Err(error) => Lookup::Unavailable {
                error: (*error).clone(),
            },
        }
    }

    /// Fetches a user from AD, bypassing the cache, failing over across DCs within the
    /// request budget. `Ok(None)`: no such user.
    pub async fn fetch(&self, key: &UserKey) -> Result<Option<Identity>, DirectoryError> {
        match self.with_failover(Work::Fetch(key)).await? {
            Done::Fetched(found) => Ok(found.map(|b| *b)),
            // Unreachable: fetch work ends in `Fetched`. The arm keeps the match total.
            Done::Probed(_) | Done::Password(_) => Err(DirectoryError::NoDcs),
        }
    }

    /// [`Directory::check_password`]'s failover.
    pub(crate) async fn with_password_failover(
        &self,
        key: &UserKey,
        password: &str,
    ) -> Result<PasswordVerdict, DirectoryError> {
        match self.with_failover(Work::Password(key, password)).await? {
            Done::Password(v) => Ok(v),
            // Unreachable: password work ends in `Password`.
            Done::Fetched(_) | Done::Probed(_) => Err(DirectoryError::NoDcs),
        }
    }

    pub(crate) fn connector(&self) -> &Connector {
        &self.inner.connector
    }

    /// Probes every DC once, concurrently (a rootDSE read, connecting and binding first if
    /// needed), and feeds the outcomes to the health hysteresis. Returns when all are done.
    pub async fn check_health(&self) {
        let dcs: Vec<DcEndpoint> = self
            .table()
            .entries()
            .iter()
            .map(|e| e.endpoint().clone())
            .collect();
        let mut probes = JoinSet::new();
        for dc in dcs {
            let this = self.clone();
            probes.spawn(async move {
                let deadline = deadline_after(this.inner.connector.timeouts.request_budget);
                let result = this.attempt(&dc, Work::Probe, deadline).await;
                // One outcome per probe; its round trip is the DC's latency sample.
                let outcome = match result {
                    Ok(Done::Probed(rtt)) => Outcome::Success { latency: Some(rtt) },
                    Ok(Done::Fetched(_) | Done::Password(_)) => Outcome::Success { latency: None },
                    Err(e) => Outcome::Failure { reason: e.reason() },
                };
                this.observe(&dc, outcome);
            });
        }
        while probes.join_next().await.is_some() {}
    }

    /// Runs [`Directory::check_health`] every `every`, forever; abort the handle to stop.
    pub fn spawn_health_checks(&self, every: Duration) -> JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                this.check_health().await;
            }
        })
    }

    /// Asks DNS for the domain's DCs again (when discovery is configured) and merges them
    /// after the static ones, keeping the health of DCs already known. Returns the number of
    /// DCs now in the table.
    pub async fn rediscover(
        &self,
        rng: &mut (dyn Randomness + Send),
    ) -> Result<usize, DirectoryError> {
        let Some(discovery) = &self.inner.discovery else {
            return Ok(self.table().entries().len());
        };
        let targets = discovery.ldap_targets(rng).await?;
        let ldaps = matches!(self.inner.connector.security, Security::Ldaps(_));
        let mut endpoints = self.inner.static_dcs.clone();
        // AD publishes only the LDAP port in SRV; LDAPS is on 636 of the same hosts.
        endpoints.extend(
            targets
                .into_iter()
                .map(|t| DcEndpoint::new(t.target, if ldaps { 636 } else { t.port })),
        );
        let count = {
            let mut table = self.table();
            table.replace_endpoints(endpoints);
            let keep: Vec<DcEndpoint> = table
                .entries()
                .iter()
                .map(|e| e.endpoint().clone())
                .collect();
            self.pools().retain(|dc, _| keep.contains(dc));
            keep.len()
        };
        Ok(count)
    }

    /// Every DC's state.
    pub fn status(&self) -> DirectoryStatus {
        let table = self.table();
        DirectoryStatus {
            dcs: table
                .entries()
                .iter()
                .map(|e| DcStatus {
                    dc: e.endpoint().label(),
                    up: e.health().is_up(),
                    latency: e.health().latency(),
                    streak: e.health().streak(),
                    last_failure: e.health().last_failure(),
                })
                .collect(),
        }
    }

    /// Runs `work` on the DCs in failover order until one answers.
    async fn with_failover(&self, work: Work<'_>) -> Result<Done, DirectoryError> {
        let mut plan = self
            .table()
            .plan(Instant::now(), self.inner.connector.timeouts.request_budget);
        if plan.is_empty() {
            return Err(DirectoryError::NoDcs);
        }
        let mut last: Option<(String, DirectoryError)> = None;
        while let Some(attempt) = plan.next_attempt(Instant::now()) {
            let label = attempt.endpoint.label();
            if let Some((from, error)) = &last {
                self.inner.observer.failover(from, &label, error.reason());
            }
            let deadline = deadline_after(attempt.remaining);
            let work = match &work {
                Work::Fetch(key) => Work::Fetch(key),
                Work::Probe => Work::Probe,
                Work::Password(key, password) => Work::Password(key, password),
            };
            match self.attempt(&attempt.endpoint, work, deadline).await {
                Ok(done) => {
                    // Lookups differ in size (a user with 1000 groups): they confirm the DC
                    // is up but give no latency sample.
                    self.observe(&attempt.endpoint, Outcome::Success { latency: None });
                    return Ok(done);
                }
                Err(error) => {
                    if error.counts_against_dc() {
                        self.observe(
                            &attempt.endpoint,
                            Outcome::Failure {
                                reason: error.reason(),
                            },
                        );
                    }
                    if !error.fails_over() {
                        return Err(error);
                    }
                    last = Some((label, error));
                }
            }
        }
        Err(last.map_or(DirectoryError::BudgetExhausted, |(_, e)| e))
    }

    /// One attempt on one DC. A pooled connection that turns out to be dead is replaced once:
    /// AD closes idle connections, and that is no reason to fail over.
    async fn attempt(
        &self,
        dc: &DcEndpoint,
        work: Work<'_>,
        deadline: Instant,
    ) -> Result<Done, DirectoryError> {
        let inner = &self.inner;
        let pool = self.pool(dc);
        let mut fresh = false;
        loop {
            let mut lease = pool
                .lease(&inner.connector, deadline, inner.observer.as_ref(), fresh)
                .await?;
            let ctx = OpContext {
                dc: pool.label(),
                search_timeout: inner.connector.timeouts.search,
                deadline,
                observer: inner.observer.as_ref(),
            };
            let result = match &work {
                Work::Fetch(key) => self
                    .fetch_on(&mut lease.ldap, ctx, key)
                    .await
                    .map(|found| Done::Fetched(found.map(Box::new))),
                Work::Probe => probe_on(&mut lease.ldap, ctx).await.map(Done::Probed),
                Work::Password(key, password) => self
                    .password_on(&mut lease.ldap, ctx, dc, key, password, deadline)
                    .await
                    .map(Done::Password),
            };
            match result {
                Ok(done) => return Ok(done),
                Err(error) => {
                    pool.discard(&lease);
                    if lease.reused
                        && !fresh
                        && matches!(error, DirectoryError::ConnectionLost { .. })
                    {
                        fresh = true;
                        continue;
                    }
                    return Err(error);
                }
            }
        }
    }

    pub(crate) async fn fetch_on(
        &self,
        ldap: &mut ldap3::Ldap,
        ctx: OpContext<'_>,
        key: &UserKey,
    ) -> Result<Option<Identity>, DirectoryError> {
        let inner = &self.inner;
        let query = UserQuery {
            base_dn: &inner.base_dn,
            attributes: &inner.attributes,
            max_groups: inner.max_groups,
            max_attribute_values: inner.max_attribute_values,
        };
        let Some(found) = user::find(ldap, ctx, &query, key).await? else {
            return Ok(None);
        };
        let mut identity = found.identity;
        identity.groups = groups::resolve(
            ldap,
            ctx,
            &inner.base_dn,
            found.group_sids,
            &inner.group_names,
        )
        .await?;
        Ok(Some(identity))
    }

    fn spawn_refresh(&self, key: UserKey, cache_key: String, entry: Arc<CacheEntry>) {
        let this = self.clone();
        tokio::spawn(async move {
            match this.fetch(&key).await {
                Ok(found) => {
                    let fresh = CacheEntry::new(found.map(Arc::new), Instant::now());
                    this.inner
                        .identities
                        .insert(cache_key, Arc::new(fresh))
                        .await;
                }
                Err(_) => {
                    entry.refresh_failed_at(Instant::now());
                    this.inner.observer.cache(CacheEvent::RefreshFailed);
                }
            }
        });
    }

    fn observe(&self, dc: &DcEndpoint, outcome: Outcome) {
        let transition = self.table().observe(dc, outcome, Instant::now());
        match transition {
            Some(Transition::Down) => self.inner.observer.dc_state_changed(&dc.label(), false),
            Some(Transition::Up) => self.inner.observer.dc_state_changed(&dc.label(), true),
            None => {}
        }
    }

    fn pool(&self, dc: &DcEndpoint) -> Arc<DcPool> {
        self.pools()
            .entry(dc.clone())
            .or_insert_with(|| {
                Arc::new(DcPool::new(
                    dc.clone(),
                    self.inner.pool_size,
                    self.inner.max_connection_age,
                ))
            })
            .clone()
    }

    fn table(&self) -> MutexGuard<'_, DcTable> {
        // Plain data updated in single steps: a panic elsewhere cannot leave it half-written.
        self.inner
            .table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn pools(&self) -> MutexGuard<'_, HashMap<DcEndpoint, Arc<DcPool>>> {
        self.inner
            .pools
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The timeouts in force.
    pub fn timeouts(&self) -> &Timeouts {
        &self.inner.connector.timeouts
    }
}

/// A health check: the rootDSE, which every DC serves without touching the user database.
async fn probe_on(ldap: &mut ldap3::Ldap, ctx: OpContext<'_>) -> Result<Duration, DirectoryError> {
    let started = Instant::now();
    search::run(
        ldap,
        ctx,
        Search {
            op: Operation::Probe,
            base: "",
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attrs: vec!["currentTime".to_owned()],
            max_entries: 1,
        },
    )
    .await?;
    Ok(started.elapsed())
}

fn deadline_after(budget: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(budget).unwrap_or(now)
}
