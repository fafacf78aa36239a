//! `[directory]`: Active Directory over LDAP, checked into [`DirectorySettings`].
//!
//! The settings are plain data so that the configuration parses without the `server` feature
//! (the fuzz targets link it that way); [`DirectorySettings::ldap_config`] turns them into
//! kdc-bridge's `DirectoryConfig` when the server starts.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use zeroize::Zeroizing;

use super::build::{positive, read_secret, resolve, socket_addr, Collector};
use super::file::{DcSection, DirectorySection};
use super::FileChecks;

/// The LDAP attributes read for each user unless configured otherwise.
pub const DEFAULT_ATTRIBUTES: [&str; 4] = ["mail", "displayName", "objectGUID", "department"];

/// How the connection to a DC is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LdapSecurity {
    /// LDAP over TLS, port 636.
    Ldaps,
    /// StartTLS on port 389.
    StartTls,
    /// No TLS (only with `insecure = true`).
    Plain,
}

impl LdapSecurity {
    /// 636 for LDAPS, 389 otherwise.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Ldaps => 636,
            Self::StartTls | Self::Plain => 389,
        }
    }
}

/// What sign-in does when no DC answers and nothing is cached for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DegradedPolicy {
    /// Kerberos sign-in goes on with the groups of the ticket's verified PAC (and no
    /// attributes); a ticket without a PAC is refused.
    AllowWithPac,
    /// Sign-in is refused with 503 until a DC answers.
    Deny,
}

/// One statically configured DC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DcAddress {
    /// The name its certificate carries.
    pub host: String,
    /// The LDAP port.
    pub port: u16,
    /// Where to connect instead of resolving `host`.
    pub connect_to: Option<SocketAddr>,
}

impl fmt::Display for DcAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

/// A secret read from a file; `Debug` does not show it.
#[derive(Clone, Default)]
pub struct Secret(pub Zeroizing<String>);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The checked `[directory]` section.
#[derive(Debug, Clone)]
pub struct DirectorySettings {
    /// Static DCs.
    pub dcs: Vec<DcAddress>,
    /// DNS SRV discovery domain.
    pub srv_domain: Option<String>,
    /// Preferred AD site for discovery.
    pub site: Option<String>,
    /// Transport security.
    pub security: LdapSecurity,
    /// The CA bundle's path and contents (empty for plain LDAP).
    pub ca_file: Option<PathBuf>,
    /// The PEM read from `ca_file`.
    pub ca_pem: Vec<u8>,
    /// The service account.
    pub bind_dn: String,
    /// Its password file.
    pub bind_password_file: PathBuf,
    /// Its password.
    pub bind_password: Secret,
    /// Search base.
    pub base_dn: String,
    /// Attributes read for each user.
    pub attributes: Vec<String>,
    /// Behaviour without any DC.
    pub degraded: DegradedPolicy,
    /// Interval of the DC health checks.
    pub health_check_interval: Duration,
    /// Hysteresis: failures to take a DC down.
    pub failures_to_down: u32,
    /// Hysteresis: successes to bring it back.
    pub successes_to_up: u32,
    /// Connections per DC.
    pub pool_size: usize,
    /// Connect, handshake, bind, search and whole-lookup timeouts.
    pub timeouts: [Duration; 5],
    /// Fresh, stale, negative cache lifetimes.
    pub cache_ttl: Duration,
    /// See [`DirectorySettings::cache_ttl`].
    pub cache_max_stale: Duration,
    /// See [`DirectorySettings::cache_ttl`].
    pub negative_cache_ttl: Duration,
    /// Most users cached.
    pub cache_capacity: u64,
    /// Most groups per user.
    pub max_groups: usize,
}

fn dc_address(
    c: &mut Collector,
    key: &str,
    dc: &DcSection,
    default_port: u16,
) -> Option<DcAddress> {
    let (host, port, address) = match dc {
        DcSection::Name(name) => match name.rsplit_once(':') {
            Some((h, p)) if !h.contains(':') => match p.parse::<u16>() {
                Ok(port) => (h.to_owned(), Some(port), None),
                Err(_) => {
                    c.add(key, format!("`{p}` in `{name}` is not a port number"));
                    return None;
                }
            },
            _ => (name.clone(), None, None),
        },
        DcSection::Table(t) => (t.host.clone(), t.port, t.address.as_deref()),
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        c.add(
            key,
            format!("`{host}` is not a host name such as dc1.corp.test"),
        );
        return None;
    }
    let connect_to = match address {
        Some(a) => Some(socket_addr(c, &format!("{key}.address"), a)?),
        None => None,
    };
    Some(DcAddress {
        host,
        port: port.unwrap_or(default_port),
        connect_to,
    })
}

fn millis(c: &mut Collector, key: &str, v: Option<u64>, default: u64) -> Duration {
    Duration::from_millis(positive(c, key, v.unwrap_or(default)))
}

fn seconds(c: &mut Collector, key: &str, v: Option<u64>, default: u64) -> Duration {
    Duration::from_secs(positive(c, key, v.unwrap_or(default)))
}

/// Checks `[directory]`.
pub(super) fn build_directory(
    d: &DirectorySection,
    base: &Path,
    c: &mut Collector,
) -> Option<DirectorySettings> {
    let security = match d.security.as_deref() {
        None | Some("ldaps") => LdapSecurity::Ldaps,
        Some("starttls") => LdapSecurity::StartTls,
        Some("plain") => LdapSecurity::Plain,
        Some(other) => {
            c.add(
                "directory.security",
                format!("`{other}` is not one of: ldaps, starttls, plain"),
            );
            LdapSecurity::Ldaps
        }
    };
    if security == LdapSecurity::Plain && !d.insecure {
        c.add(
            "directory.security",
            "plain LDAP sends the service account's password and every attribute in clear; \
             use ldaps or starttls, or set `insecure = true` to accept that",
        );
    }
    let dcs: Vec<DcAddress> = d
        .dcs
        .iter()
        .enumerate()
        .filter_map(|(i, dc)| {
            dc_address(
                c,
                &format!("directory.dcs[{i}]"),
                dc,
                security.default_port(),
            )
        })
        .collect();
    if d.dcs.is_empty() && d.srv_domain.is_none() {
        c.add(
            "directory.dcs",
            "no domain controller: list them in `dcs` or set `srv_domain` to discover them",
        );
    }
    if d.site.is_some() && d.srv_domain.is_none() {
        c.add("directory.site", "a site is only used with `srv_domain`");
    }
    let (ca_file, ca_pem) = match (&d.ca_file, security) {
        (Some(p), _) => {
            let path = resolve(base, p);
            let pem = read_ca(c, &path);
            (Some(path), pem)
        }
        (None, LdapSecurity::Plain) => (None, Vec::new()),
        (None, _) => {
            c.add(
                "directory.ca_file",
                "missing: the PEM file of the CA that issued the DCs' certificates (the AD CS \
                 root) is needed to verify them",
            );
            (None, Vec::new())
        }
    };
    let bind_dn = required(c, "directory.bind_dn", d.bind_dn.as_deref());
    let base_dn = required(c, "directory.base_dn", d.base_dn.as_deref());
    if !base_dn.is_empty() && !base_dn.contains('=') {
        c.add(
            "directory.base_dn",
            format!("`{base_dn}` is not a DN such as DC=corp,DC=example"),
        );
    }
    let bind_password_file = match &d.bind_password_file {
        Some(p) => resolve(base, p),
        None => {
            c.add(
                "directory.bind_password_file",
                "missing: a file (mode 600) holding the service account's password",
            );
            PathBuf::new()
        }
    };
    let bind_password = if d.bind_password_file.is_some() {
        read_password(c, &bind_password_file)
    } else {
        Secret::default()
    };
    let attributes = match &d.attributes {
        Some(a) => a.clone(),
        None => DEFAULT_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect(),
    };
    for (i, a) in attributes.iter().enumerate() {
        if a.is_empty() || !a.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
            c.add(
                format!("directory.attributes[{i}]"),
                format!("`{a}` is not an LDAP attribute name"),
            );
        }
    }
    let degraded = match d.degraded.as_deref() {
        None | Some("allow-with-pac") => DegradedPolicy::AllowWithPac,
        Some("deny") => DegradedPolicy::Deny,
        Some(other) => {
            c.add(
                "directory.degraded",
                format!("`{other}` is not one of: allow-with-pac, deny"),
            );
            DegradedPolicy::AllowWithPac
        }
    };
    let timeouts = [
        millis(
            c,
            "directory.connect_timeout_ms",
            d.connect_timeout_ms,
            2000,
        ),
        millis(
            c,
            "directory.handshake_timeout_ms",
            d.handshake_timeout_ms,
            3000,
        ),
        millis(c, "directory.bind_timeout_ms", d.bind_timeout_ms, 3000),
        millis(c, "directory.search_timeout_ms", d.search_timeout_ms, 5000),
        millis(
            c,
            "directory.request_timeout_ms",
            d.request_timeout_ms,
            10_000,
        ),
    ];
    Some(DirectorySettings {
        dcs,
        srv_domain: d.srv_domain.clone(),
        site: d.site.clone(),
        security,
        ca_file,
        ca_pem,
        bind_dn,
        bind_password_file,
        bind_password,
        base_dn,
        attributes,
        degraded,
        health_check_interval: seconds(
            c,
            "directory.health_check_interval_seconds",
            d.health_check_interval_seconds,
            5,
        ),
        failures_to_down: positive(
            c,
            "directory.failures_to_down",
            d.failures_to_down.unwrap_or(3),
        ),
        successes_to_up: positive(
            c,
            "directory.successes_to_up",
            d.successes_to_up.unwrap_or(2),
        ),
        pool_size: positive(c, "directory.pool_size", d.pool_size.unwrap_or(4)),
        timeouts,
        cache_ttl: seconds(c, "directory.cache_ttl_seconds", d.cache_ttl_seconds, 300),
        cache_max_stale: Duration::from_secs(d.cache_max_stale_seconds.unwrap_or(4 * 3600)),
        negative_cache_ttl: Duration::from_secs(d.negative_cache_ttl_seconds.unwrap_or(60)),
        cache_capacity: positive(
            c,
            "directory.cache_capacity",
            d.cache_capacity.unwrap_or(100_000),
        ),
        max_groups: positive(c, "directory.max_groups", d.max_groups.unwrap_or(4096)),
    })
}

fn required(c: &mut Collector, key: &str, v: Option<&str>) -> String {
    match v {
        Some(s) if !s.trim().is_empty() => s.trim().to_owned(),
        _ => {
            c.add(key, "missing");
            String::new()
        }
    }
}

/// The CA bundle: read (not secret, any mode) and, with the server, parsed as the LDAP client
/// will use it.
fn read_ca(c: &mut Collector, path: &Path) -> Vec<u8> {
    if c.files == FileChecks::Skip {
        return Vec::new();
    }
    let pem = match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => {
            c.add(
                "directory.ca_file",
                format!("{} is not a regular file", path.display()),
            );
            return Vec::new();
        }
        Ok(m) if m.len() > 1 << 20 => {
            c.add(
                "directory.ca_file",
                format!("{} is larger than 1 MiB", path.display()),
            );
            return Vec::new();
        }
        Ok(_) => std::fs::read(path),
        Err(e) => Err(e),
    };
    match pem {
        Ok(pem) => {
            #[cfg(feature = "server")]
            if let Err(e) =
                kdc_bridge::net::ldap::tls_config_from_pem(&pem, &path.display().to_string())
            {
                c.add("directory.ca_file", e.to_string());
            }
            pem
        }
        Err(e) => {
            c.add(
                "directory.ca_file",
                format!("cannot read {}: {e}", path.display()),
            );
            Vec::new()
        }
    }
}

/// The password file's first line, without its line ending.
fn read_password(c: &mut Collector, path: &Path) -> Secret {
    let Some(bytes) = read_secret(c, "directory.bind_password_file", path) else {
        return Secret::default();
    };
    let bytes = Zeroizing::new(bytes);
    let Ok(text) = std::str::from_utf8(&bytes) else {
        c.add(
            "directory.bind_password_file",
            format!("{} is not UTF-8 text", path.display()),
        );
        return Secret::default();
    };
    let line = text.lines().next().unwrap_or_default();
    if line.is_empty() {
        c.add(
            "directory.bind_password_file",
            format!("{} is empty", path.display()),
        );
    }
    Secret(Zeroizing::new(line.to_owned()))
}

#[cfg(feature = "server")]
mod server {
    use kdc_bridge::net::dc::discover::SrvDiscovery;
    use kdc_bridge::net::dc::health::HealthPolicy;
    use kdc_bridge::net::dc::DcEndpoint;
    use kdc_bridge::net::ldap::{
        tls_config_from_pem, BindPassword, CachePolicy, DirectoryConfig, DirectoryError, Security,
        ServiceAccount, Timeouts,
    };

    use super::{DirectorySettings, LdapSecurity};

    impl DirectorySettings {
        /// The LDAP client's configuration, with SRV discovery through the system resolver
        /// when `srv_domain` is set.
        pub fn ldap_config(&self) -> Result<DirectoryConfig, DirectoryError> {
            let name = self
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            let security = match self.security {
                LdapSecurity::Ldaps => Security::Ldaps(tls_config_from_pem(&self.ca_pem, &name)?),
                LdapSecurity::StartTls => {
                    Security::StartTls(tls_config_from_pem(&self.ca_pem, &name)?)
                }
                LdapSecurity::Plain => Security::Plain,
            };
            let dcs = self
                .dcs
                .iter()
                .map(|d| {
                    let e = DcEndpoint::new(d.host.clone(), d.port);
                    match d.connect_to {
                        Some(a) => e.with_connect_to(a),
                        None => e,
                    }
                })
                .collect();
            let account = ServiceAccount {
                bind_dn: self.bind_dn.clone(),
                password: BindPassword::new(self.bind_password.0.clone()),
            };
            let mut config = DirectoryConfig::new(dcs, security, account, self.base_dn.clone());
            config.insecure = self.security == LdapSecurity::Plain;
            config.attributes.clone_from(&self.attributes);
            let [connect, handshake, bind, search, request_budget] = self.timeouts;
            config.timeouts = Timeouts {
                connect,
                handshake,
                bind,
                search,
                request_budget,
            };
            config.health = HealthPolicy {
                failures_to_down: self.failures_to_down,
                successes_to_up: self.successes_to_up,
            };
            config.cache = CachePolicy {
                ttl: self.cache_ttl,
                max_stale: self.cache_max_stale,
                negative_ttl: self.negative_cache_ttl,
                capacity: self.cache_capacity,
                ..CachePolicy::default()
            };
            config.discovery = self
                .srv_domain
                .as_deref()
                .map(|d| SrvDiscovery::from_system(d, self.site.as_deref()))
                .transpose()?;
            config.pool_size = self.pool_size;
            config.max_groups = self.max_groups;
            Ok(config)
        }
    }
}
