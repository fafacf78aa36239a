//! A small pool of bound connections per DC.
//!
//! LDAP multiplexes requests on one connection (message IDs), and ldap3's `Ldap` handle is a
//! cheap clone over the connection's task, so a pool is a few slots, each holding one bound
//! connection that any number of requests share. A slot is (re)connected by the first request
//! that finds it empty, closed or too old; requests that pick the same slot meanwhile wait for
//! that connect (bounded by their own budget) instead of opening connections of their own.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::Ldap;
use tokio::sync::Mutex;

use super::connect::Connector;
use super::error::{DirectoryError, Operation, Phase};
use super::observer::Observer;
use crate::net::dc::DcEndpoint;

struct Pooled {
    ldap: Ldap,
    created: Instant,
    generation: u64,
}

/// A connection handed to one request.
#[derive(Debug)]
pub(crate) struct Lease {
    pub(crate) ldap: Ldap,
    /// Whether the connection served earlier requests (and may have gone stale since).
    pub(crate) reused: bool,
    slot: usize,
    generation: u64,
}

/// The connections to one DC.
pub(crate) struct DcPool {
    dc: DcEndpoint,
    label: String,
    slots: Vec<Mutex<Option<Pooled>>>,
    next: AtomicUsize,
    generation: AtomicU64,
    max_age: Duration,
}

impl std::fmt::Debug for DcPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DcPool")
            .field("dc", &self.label)
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl DcPool {
    /// A pool of `size` (at least 1) connections to `dc`, each replaced after `max_age`.
    pub(crate) fn new(dc: DcEndpoint, size: usize, max_age: Duration) -> Self {
        Self {
            label: dc.label(),
            dc,
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
            generation: AtomicU64::new(0),
            max_age,
        }
    }

    /// The DC's label.
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// A bound connection, opening one if the chosen slot has none usable. `fresh` skips a
    /// pooled connection (after one failed in a way a new connection may not).
    pub(crate) async fn lease(
        &self,
        connector: &Connector,
        deadline: Instant,
        observer: &dyn Observer,
        fresh: bool,
    ) -> Result<Lease, DirectoryError> {
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let Some(slot) = self.slots.get(index) else {
            // Unreachable: index < len.
            return Err(DirectoryError::NoDcs);
        };
        let wait = deadline.saturating_duration_since(Instant::now());
        let mut guard =
            tokio::time::timeout(wait, slot.lock())
                .await
                .map_err(|_| DirectoryError::Timeout {
                    dc: self.label.clone(),
                    phase: Phase::Connect,
                    after: wait,
                })?;
        if let Some(pooled) = guard.as_mut() {
            if !fresh && !pooled.ldap.is_closed() && pooled.created.elapsed() < self.max_age {
                return Ok(Lease {
                    ldap: pooled.ldap.clone(),
                    reused: true,
                    slot: index,
                    generation: pooled.generation,
                });
            }
        }
        *guard = None;
        let started = Instant::now();
        let opened = connector.open(&self.dc, deadline).await;
        let elapsed = started.elapsed();
        observer.ldap_operation(
            &self.label,
            Operation::Connect,
            elapsed,
            opened.as_ref().map(|_| ()).map_err(DirectoryError::reason),
        );
        let ldap = opened?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed);
        *guard = Some(Pooled {
            ldap: ldap.clone(),
            created: Instant::now(),
            generation,
        });
        Ok(Lease {
            ldap,
            reused: false,
            slot: index,
            generation,
        })
    }

    /// Drops the lease's connection from the pool, unless the slot already holds a newer one.
    /// A slot that is locked is being reconnected (or read for a moment): it is left alone
    /// rather than waited for, so a failing request moves on to the next DC at once; a closed
    /// connection left behind is replaced by the next request that picks it.
    pub(crate) fn discard(&self, lease: &Lease) {
        if let Some(Ok(mut guard)) = self.slots.get(lease.slot).map(Mutex::try_lock) {
            if guard
                .as_ref()
                .is_some_and(|p| p.generation == lease.generation)
            {
                *guard = None;
            }
        }
    }
}
