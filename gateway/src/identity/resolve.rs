//! The identity of a signed-in principal: AD's answer when there is one, else the ticket's
//! verified PAC, under the degraded-mode policy.
//!
//! | AD says                         | identity                          | sign-in            |
//! |---------------------------------|-----------------------------------|--------------------|
//! | found (fresh, cached or stale)  | AD's groups and attributes        | allowed            |
//! | found, served degraded          | AD's last known answer            | allowed, degraded  |
//! | found, account disabled         | —                                 | refused (403)      |
//! | no such account                 | the PAC's groups                  | allowed            |
//! | no DC answers, nothing cached   | the PAC's groups (`allow-with-pac`) | allowed, or 503 (`deny`, or no PAC) |
//!
//! A disabled account is refused although its ticket is valid: AD's KDC keeps honouring
//! tickets it issued before the account was disabled (for up to their ten-hour lifetime), the
//! directory does not.
//!
//! The PAC of the sign-in is remembered per principal for the session's lifetime, so requests
//! that come with the session cookie (and no ticket) still have it when AD is down.

use std::sync::Arc;
use std::time::Duration;

use kdc_bridge::net::ldap::{
    Directory, DirectoryStatus, Freshness, Guid, Identity, Lookup, Sid, UserKey,
};
use kdc_bridge::proto::pac::PacIdentity;
use kdc_bridge::proto::principal::Principal;

use crate::config::DegradedPolicy;
use crate::metrics::DirectoryMetrics;

use super::{GroupRef, Source, UserIdentity};

/// Why a principal with a valid ticket or cookie is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Denied {
    /// AD says the account is disabled.
    AccountDisabled,
    /// No DC answers, nothing is cached, and the policy (or a missing PAC) does not allow
    /// going on without AD.
    DirectoryUnavailable,
}

impl Denied {
    /// A static label for logs.
    pub fn reason(self) -> &'static str {
        match self {
            Self::AccountDisabled => "account_disabled",
            Self::DirectoryUnavailable => "directory_unavailable",
        }
    }
}

/// Resolves identities; shared by all requests.
pub struct Resolver {
    directory: Option<Directory>,
    degraded: DegradedPolicy,
    pacs: moka::sync::Cache<String, Arc<PacIdentity>>,
    metrics: DirectoryMetrics,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver")
            .field("directory", &self.directory.is_some())
            .field("degraded", &self.degraded)
            .finish_non_exhaustive()
    }
}

impl Resolver {
    /// A resolver over `directory` (none: identities come from PACs only). PACs are kept for
    /// `remember` (the session lifetime), at most `capacity` of them.
    pub fn new(
        directory: Option<Directory>,
        degraded: DegradedPolicy,
        remember: Duration,
        capacity: u64,
        metrics: DirectoryMetrics,
    ) -> Self {
        Self {
            directory,
            degraded,
            pacs: moka::sync::Cache::builder()
                .time_to_live(remember)
                .max_capacity(capacity)
                .build(),
            metrics,
        }
    }

    /// The directory, if configured.
    pub fn directory(&self) -> Option<&Directory> {
        self.directory.as_ref()
    }

    /// Every DC's state, if a directory is configured; also refreshes the degraded gauge.
    pub fn status(&self) -> Option<DirectoryStatus> {
        let status = self.directory.as_ref()?.status();
        self.metrics.degraded.set(i64::from(!status.is_available()));
        Some(status)
    }

    /// The identity of `principal`. `pac` is the verified PAC of this request's ticket; for a
    /// session-cookie request (no ticket) it is `None` and the sign-in's PAC is used.
    pub async fn resolve(
        &self,
        principal: &Principal,
        pac: Option<Box<PacIdentity>>,
    ) -> Result<UserIdentity, Denied> {
        let name = principal.to_string();
        let pac = match pac {
            Some(p) => {
                let p: Arc<PacIdentity> = Arc::from(p);
                self.pacs.insert(name.clone(), Arc::clone(&p));
                Some(p)
            }
            None => self.pacs.get(&name),
        };
        let count = |r: &str| self.metrics.lookups.with_label_values(&[r]).inc();
        let Some(directory) = &self.directory else {
            count("no_directory");
            return Ok(from_pac(name, pac.as_deref()));
        };
        let Ok(key) = UserKey::from_principal(principal) else {
            // A multi-component client principal (a service) has no user account to look up.
            count("not_found");
            return Ok(from_pac(name, pac.as_deref()));
        };
        match directory.lookup(&key).await {
            Lookup::Found { identity, .. } if identity.disabled => {
                count("disabled");
                Err(Denied::AccountDisabled)
            }
            Lookup::Found {
                identity,
                freshness,
            } => {
                let degraded = freshness == Freshness::Degraded;
                count(if degraded { "found_degraded" } else { "found" });
                Ok(from_directory(name, &identity, degraded))
            }
            Lookup::NotFound { .. } => {
                count("not_found");
                tracing::warn!(
                    event = "directory_lookup",
                    result = "not_found",
                    principal = %name,
                    "AD has no account for this principal under the base DN; using the PAC"
                );
                Ok(from_pac(name, pac.as_deref()))
            }
            Lookup::Unavailable { error } => {
                count("unavailable");
                self.metrics.degraded.set(1);
                match (self.degraded, pac) {
                    (DegradedPolicy::AllowWithPac, Some(pac)) => {
                        tracing::warn!(
                            event = "directory_lookup",
                            result = "unavailable",
                            policy = "allow-with-pac",
                            principal = %name,
                            error = %error,
                            "no domain controller answered; signing in with the ticket's PAC"
                        );
                        let mut id = from_pac(name, Some(&pac));
                        id.source = Source::PacDegraded;
                        Ok(id)
                    }
                    (policy, pac) => {
                        tracing::error!(
                            event = "directory_lookup",
                            result = "unavailable",
                            policy = match policy {
                                DegradedPolicy::AllowWithPac => "allow-with-pac",
                                DegradedPolicy::Deny => "deny",
                            },
                            has_pac = pac.is_some(),
                            principal = %name,
                            error = %error,
                            "no domain controller answered; sign-in refused"
                        );
                        Err(Denied::DirectoryUnavailable)
                    }
                }
            }
        }
    }
}

/// The identity from the PAC alone (or the principal alone without one).
fn from_pac(principal: String, pac: Option<&PacIdentity>) -> UserIdentity {
    let Some(pac) = pac else {
        return UserIdentity {
            principal,
            sid: None,
            groups: Vec::new(),
            attributes: Vec::new(),
            upn: None,
            account_name: None,
            object_guid: None,
            source: Source::PrincipalOnly,
        };
    };
    UserIdentity {
        principal,
        sid: Some(pac.user_sid.to_string()),
        groups: pac
            .group_sids
            .iter()
            .map(|s| GroupRef {
                name: None,
                sid: s.to_string(),
            })
            .collect(),
        attributes: Vec::new(),
        upn: pac.upn.clone(),
        account_name: Some(pac.account_name.clone()).filter(|n| !n.is_empty()),
        object_guid: None,
        source: Source::Pac,
    }
}

/// The identity from AD's answer.
fn from_directory(principal: String, id: &Identity, degraded: bool) -> UserIdentity {
    UserIdentity {
        principal,
        sid: id.object_sid.map(|s| s.to_string()),
        groups: id
            .groups
            .iter()
            .map(|g| GroupRef {
                name: g.name.clone(),
                sid: g.sid.to_string(),
            })
            .collect(),
        attributes: id
            .attributes
            .iter()
            .map(|(a, values)| (a.clone(), values.iter().map(|v| text_of(a, v)).collect()))
            .collect(),
        upn: id.user_principal_name.clone(),
        account_name: id.sam_account_name.clone(),
        object_guid: id.object_guid.map(|g| *g.as_bytes()),
        source: if degraded {
            Source::DirectoryDegraded
        } else {
            Source::Directory
        },
    }
}

/// An attribute value as text: GUIDs and SIDs in their string forms, UTF-8 as it is, other
/// binary values in base64.
fn text_of(attribute: &str, value: &[u8]) -> String {
    use base64::Engine as _;
    if attribute.eq_ignore_ascii_case("objectGUID") {
        if let Some(g) = Guid::extract(value) {
            return g.to_string();
        }
    }
    if attribute.eq_ignore_ascii_case("objectSid") {
        if let Ok(s) = Sid::from_bytes(value) {
            return s.to_string();
        }
    }
    match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => base64::engine::general_purpose::STANDARD.encode(value),
    }
}
