//! What the directory client is configured with: DCs, transport security, the service account,
//! timeouts, cache policy and bounds.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use zeroize::Zeroizing;

use super::error::DirectoryError;
use crate::net::dc::discover::SrvDiscovery;
use crate::net::dc::health::HealthPolicy;
use crate::net::dc::DcEndpoint;

/// The attributes looked up besides the fixed ones, unless configured otherwise.
pub const DEFAULT_ATTRIBUTES: [&str; 4] = ["mail", "displayName", "objectGUID", "department"];

/// The service account's password. Wiped on drop; `Debug` prints `[redacted]`.
///
/// The caller reads it from its file. ldap3 copies it into the bind request it encodes, a
/// buffer we cannot wipe: the copy lives for one bind.
#[derive(Clone)]
pub struct BindPassword(Zeroizing<String>);

impl BindPassword {
    /// Wraps the secret.
    pub fn new(secret: Zeroizing<String>) -> Self {
        Self(secret)
    }

    /// The secret, for the bind.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BindPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The account the gateway binds as (simple bind).
#[derive(Debug, Clone)]
pub struct ServiceAccount {
    /// Its DN (`CN=svc-gw,CN=Users,DC=corp,DC=test`) or UPN (`svc-gw@corp.test`): AD accepts
    /// both in a simple bind.
    pub bind_dn: String,
    /// Its password.
    pub password: BindPassword,
}

/// How the connection to a DC is protected.
#[derive(Clone)]
pub enum Security {
    /// LDAP over TLS (`ldaps://`, port 636), verified with this configuration's roots.
    Ldaps(Arc<ClientConfig>),
    /// Plain LDAP upgraded by the StartTLS extended operation (RFC 4511 §4.14, port 389).
    StartTls(Arc<ClientConfig>),
    /// No TLS: the service account's password and every attribute cross the network in clear.
    /// Refused unless [`DirectoryConfig::insecure`] is set too.
    Plain,
}

impl Security {
    /// 636 for LDAPS, 389 otherwise.
    pub fn default_port(&self) -> u16 {
        match self {
            Self::Ldaps(_) => 636,
            Self::StartTls(_) | Self::Plain => 389,
        }
    }

    /// A static label.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ldaps(_) => "ldaps",
            Self::StartTls(_) => "starttls",
            Self::Plain => "plain",
        }
    }
}

impl fmt::Debug for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rustls client configuration (ring provider, TLS 1.2 and 1.3) trusting exactly the CA
/// certificates of `pem`. `path` names the bundle in errors.
pub fn tls_config_from_pem(pem: &[u8], path: &str) -> Result<Arc<ClientConfig>, DirectoryError> {
    let roots = roots_from_pem(pem, path)?;
    let problem = |problem| DirectoryError::CaBundle {
        path: path.to_owned(),
        problem,
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|_| problem("the TLS provider supports no protocol version"))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The trust anchors of a PEM CA bundle: every CERTIFICATE block, at least one. `path` names
/// the bundle in errors.
pub fn roots_from_pem(pem: &[u8], path: &str) -> Result<RootCertStore, DirectoryError> {
    let problem = |problem| DirectoryError::CaBundle {
        path: path.to_owned(),
        problem,
    };
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        let cert = cert.map_err(|_| problem("a PEM certificate does not parse"))?;
        roots
            .add(cert)
            .map_err(|_| problem("a certificate is not a usable trust anchor"))?;
    }
    if roots.is_empty() {
        return Err(problem("no CERTIFICATE block"));
    }
    Ok(roots)
}

/// [`tls_config_from_pem`] over a file (at most 1 MiB).
pub fn load_ca_bundle(path: &Path) -> Result<Arc<ClientConfig>, DirectoryError> {
    const MAX_BUNDLE: u64 = 1 << 20;
    let name = path.display().to_string();
    let read_error = |e: std::io::Error| DirectoryError::CaBundleRead {
        path: name.clone(),
        kind: e.kind(),
    };
    let len = std::fs::metadata(path).map_err(read_error)?.len();
    if len > MAX_BUNDLE {
        return Err(DirectoryError::CaBundle {
            path: name,
            problem: "larger than 1 MiB",
        });
    }
    let pem = std::fs::read(path).map_err(read_error)?;
    tls_config_from_pem(&pem, &name)
}

/// Timeouts of one request. Each step's timeout is also clipped to what is left of
/// `request_budget`, which bounds the whole request across failovers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Resolving the DC's name and the TCP connect.
    pub connect: Duration,
    /// StartTLS and the TLS handshake.
    pub handshake: Duration,
    /// The service account's bind.
    pub bind: Duration,
    /// One search.
    pub search: Duration,
    /// One lookup, across every DC it tries.
    pub request_budget: Duration,
}

impl Default for Timeouts {
    /// 2 s connect, 3 s handshake, 3 s bind, 5 s search, 10 s per lookup.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            handshake: Duration::from_secs(3),
            bind: Duration::from_secs(3),
            search: Duration::from_secs(5),
            request_budget: Duration::from_secs(10),
        }
    }
}

/// How long lookups are remembered.
///
/// A found user is served from the cache for `ttl`. For `max_stale` after that it is still
/// served at once while a background refresh asks AD (stale-while-revalidate); if AD cannot be
/// reached, the last known attributes keep being served, marked degraded, until `max_stale` is
/// over. A user AD does not know is remembered for `negative_ttl`, with no stale period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Served without asking AD.
    pub ttl: Duration,
    /// Served while refreshing, or degraded while AD is unreachable.
    pub max_stale: Duration,
    /// "No such user" is remembered this long.
    pub negative_ttl: Duration,
    /// The least time between two background refreshes of one entry while they fail.
    pub refresh_retry: Duration,
    /// How long a group SID's name is remembered.
    pub group_name_ttl: Duration,
    /// The most users remembered.
    pub capacity: u64,
}

impl Default for CachePolicy {
    /// 5 min fresh, 4 h stale, 1 min negative, 10 s between failed refreshes, 1 h group names,
    /// 100 000 users.
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_stale: Duration::from_secs(4 * 3600),
            negative_ttl: Duration::from_secs(60),
            refresh_retry: Duration::from_secs(10),
            group_name_ttl: Duration::from_secs(3600),
            capacity: 100_000,
        }
    }
}

/// Everything the [`super::Directory`] needs.
#[derive(Debug)]
pub struct DirectoryConfig {
    /// Statically configured DCs, tried in this order until latencies are known.
    pub dcs: Vec<DcEndpoint>,
    /// DNS SRV discovery; its DCs come after the static ones.
    pub discovery: Option<SrvDiscovery>,
    /// Transport security.
    pub security: Security,
    /// Must be set for [`Security::Plain`]: an explicit "yes, in clear".
    pub insecure: bool,
    /// The bind account.
    pub service_account: ServiceAccount,
    /// Where users and groups are searched (`DC=corp,DC=test`).
    pub base_dn: String,
    /// Attributes returned in [`super::Identity::attributes`]; default
    /// [`DEFAULT_ATTRIBUTES`].
    pub attributes: Vec<String>,
    /// Timeouts and the per-lookup budget.
    pub timeouts: Timeouts,
    /// DC health hysteresis.
    pub health: HealthPolicy,
    /// The lookup cache.
    pub cache: CachePolicy,
    /// Connections kept per DC (LDAP multiplexes requests on each).
    pub pool_size: usize,
    /// A pooled connection older than this is replaced (AD drops idle connections after
    /// `MaxConnIdleTime`, 900 s by default).
    pub max_connection_age: Duration,
    /// The most groups (`tokenGroups` values) accepted for one user.
    pub max_groups: usize,
    /// The most values accepted for one configured attribute.
    pub max_attribute_values: usize,
}

impl DirectoryConfig {
    /// A configuration with the defaults for everything but the essentials.
    pub fn new(
        dcs: Vec<DcEndpoint>,
        security: Security,
        service_account: ServiceAccount,
        base_dn: impl Into<String>,
    ) -> Self {
        Self {
            dcs,
            discovery: None,
            security,
            insecure: false,
            service_account,
            base_dn: base_dn.into(),
            attributes: DEFAULT_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect(),
            timeouts: Timeouts::default(),
            health: HealthPolicy::default(),
            cache: CachePolicy::default(),
            pool_size: 4,
            max_connection_age: Duration::from_secs(600),
            max_groups: 4096,
            max_attribute_values: 1024,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_debug_is_redacted() {
        let pw = BindPassword::new(Zeroizing::new("hunter2".to_owned()));
        assert_eq!(format!("{pw:?}"), "[redacted]");
        let account = ServiceAccount {
            bind_dn: "CN=svc-gw,CN=Users,DC=corp,DC=test".to_owned(),
            password: pw,
        };
        assert!(!format!("{account:?}").contains("hunter2"));
        assert_eq!(account.password.expose(), "hunter2");
    }

    #[test]
    fn ca_bundle_errors() {
        assert_eq!(
            tls_config_from_pem(b"", "ca.pem").err(),
            Some(DirectoryError::CaBundle {
                path: "ca.pem".to_owned(),
                problem: "no CERTIFICATE block"
            })
        );
        let garbage = b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        assert_eq!(
            tls_config_from_pem(garbage, "ca.pem").err(),
            Some(DirectoryError::CaBundle {
                path: "ca.pem".to_owned(),
                problem: "a certificate is not a usable trust anchor"
            })
        );
        assert_eq!(
            load_ca_bundle(Path::new("/nonexistent/ca.pem")).err(),
            Some(DirectoryError::CaBundleRead {
                path: "/nonexistent/ca.pem".to_owned(),
                kind: std::io::ErrorKind::NotFound
            })
        );
    }
}
