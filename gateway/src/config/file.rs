//! The configuration file as written by operators: TOML, `version = 1`, unknown keys rejected.
//!
//! These types only describe the file. [`super::Config`] is what the gateway runs on; it is
//! built from a [`FileConfig`] by checking every value and collecting every problem.
//! `docs/configuration.md` documents each key; keep them in step.

use std::path::PathBuf;

use serde::Deserialize;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// Format version; only 1 exists.
    pub version: u32,
    /// Process settings.
    #[serde(default)]
    pub server: ServerSection,
    /// Where clients connect.
    #[serde(default)]
    pub listeners: Vec<ListenerSection>,
    /// Health and metrics endpoints.
    pub admin: Option<AdminSection>,
    /// The service keytab and the acceptor.
    pub kerberos: Option<KerberosSection>,
    /// Active Directory over LDAP: attributes and groups, DCs and failover.
    pub directory: Option<DirectorySection>,
    /// The session cookie.
    #[serde(default)]
    pub session: SessionSection,
    /// Identity headers sent to upstreams.
    #[serde(default)]
    pub identity: IdentitySection,
    /// The 401 challenge page.
    #[serde(default)]
    pub challenge: ChallengeSection,
    /// The SAML 2.0 identity provider.
    pub saml: Option<super::saml::SamlSection>,
    /// Path prefix → upstream.
    #[serde(default)]
    pub routes: Vec<RouteSection>,
    /// Logging.
    #[serde(default)]
    pub log: LogSection,
}

/// `[server]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Worker threads per listener service; default: the number of CPUs.
    pub threads: Option<usize>,
    /// After SIGTERM the listeners stop accepting at once; open connections are served for
    /// this many seconds.
    pub grace_period_seconds: Option<u64>,
    /// Then, seconds given to in-flight requests before the runtime stops.
    pub graceful_shutdown_timeout_seconds: Option<u64>,
    /// How long an HTTP/1.1 connection may wait for its next request.
    pub keepalive_timeout_seconds: Option<u64>,
}

/// `[[listeners]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerSection {
    /// `host:port` to listen on.
    pub address: String,
    /// TLS certificate and key; plain HTTP without it.
    pub tls: Option<TlsSection>,
    /// Offer HTTP/2 over TLS (ALPN h2). Default true with TLS.
    pub http2: Option<bool>,
}

/// `[listeners.tls]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSection {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// `[admin]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSection {
    /// `host:port` for `/healthz`, `/readyz` and `/metrics`.
    pub address: String,
}

/// `[kerberos]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KerberosSection {
    /// The service keytab (MIT format), readable by the gateway only.
    pub keytab: PathBuf,
    /// Service principals accepted, e.g. `HTTP/gw.corp.test@CORP.TEST`. Empty: any in the keytab.
    #[serde(default)]
    pub spns: Vec<String>,
    /// Allowed clock skew (seconds).
    pub max_skew_seconds: Option<i64>,
    /// How often the keytab file is checked for changes (seconds).
    pub keytab_poll_seconds: Option<u64>,
    /// How long keys that left the keytab stay usable (seconds).
    pub retired_key_retention_seconds: Option<i64>,
    /// Most authenticators remembered for replay detection.
    pub replay_cache_capacity: Option<u64>,
    /// `enforce` or `ignore`.
    pub channel_bindings: Option<String>,
    /// Largest accepted `Authorization` header value (bytes).
    pub max_authorization_bytes: Option<usize>,
    /// The ticket's PAC: `verify-if-present` (default), `require` or `ignore`.
    pub pac: Option<String>,
}

/// `[directory]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectorySection {
    /// Domain controllers, tried in this order until their latencies are known.
    #[serde(default)]
    pub dcs: Vec<DcSection>,
    /// Find DCs through DNS SRV records of this AD domain (after the static ones).
    pub srv_domain: Option<String>,
    /// The AD site whose DCs are preferred in SRV discovery.
    pub site: Option<String>,
    /// `ldaps` (default), `starttls` or `plain`.
    pub security: Option<String>,
    /// Must be true for `security = "plain"`.
    #[serde(default)]
    pub insecure: bool,
    /// PEM bundle of the CA(s) that issued the DCs' certificates.
    pub ca_file: Option<PathBuf>,
    /// The service account (DN or UPN).
    pub bind_dn: Option<String>,
    /// A file holding the service account's password (mode 600).
    pub bind_password_file: Option<PathBuf>,
    /// Where users and groups are searched.
    pub base_dn: Option<String>,
    /// LDAP attributes read for each user.
    pub attributes: Option<Vec<String>>,
    /// When no DC answers: `allow-with-pac` (default) or `deny`.
    pub degraded: Option<String>,
    /// Seconds between DC health checks.
    pub health_check_interval_seconds: Option<u64>,
    /// Consecutive failures that take a DC out of rotation.
    pub failures_to_down: Option<u32>,
    /// Consecutive successes that bring it back.
    pub successes_to_up: Option<u32>,
    /// LDAP connections kept per DC.
    pub pool_size: Option<usize>,
    /// TCP connect timeout (milliseconds).
    pub connect_timeout_ms: Option<u64>,
    /// TLS handshake timeout (milliseconds).
    pub handshake_timeout_ms: Option<u64>,
    /// Bind timeout (milliseconds).
    pub bind_timeout_ms: Option<u64>,
    /// Search timeout (milliseconds).
    pub search_timeout_ms: Option<u64>,
    /// Budget of one lookup across every DC it tries (milliseconds).
    pub request_timeout_ms: Option<u64>,
    /// Seconds a user's attributes are served without asking AD.
    pub cache_ttl_seconds: Option<u64>,
    /// Seconds after that they are still served (refreshing, or degraded when AD is down).
    pub cache_max_stale_seconds: Option<u64>,
    /// Seconds an unknown user is remembered.
    pub negative_cache_ttl_seconds: Option<u64>,
    /// Most users cached.
    pub cache_capacity: Option<u64>,
    /// Most groups accepted for one user.
    pub max_groups: Option<usize>,
}

/// One entry of `directory.dcs`: `"host[:port]"` or a table.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DcSection {
    /// `"dc1.corp.test"` or `"dc1.corp.test:636"`.
    Name(String),
    /// `{ host = "dc1.corp.test", port = 636, address = "10.0.0.5:636" }`.
    Table(DcTable),
}

/// `{ host, port, address }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DcTable {
    /// The name the DC's certificate carries.
    pub host: String,
    /// Default: 636 for LDAPS, 389 otherwise.
    pub port: Option<u16>,
    /// Connect here instead of resolving `host` (`ip:port`).
    pub address: Option<String>,
}

/// `[session]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSection {
    /// Issue a session cookie after a successful Negotiate. Default true.
    pub enabled: Option<bool>,
    /// Cookie name.
    pub cookie_name: Option<String>,
    /// Key files, first is used to seal new cookies; the others only open existing ones.
    #[serde(default)]
    pub key_files: Vec<PathBuf>,
    /// Cookie lifetime (seconds).
    pub lifetime_seconds: Option<u64>,
}

/// `[identity]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IdentitySection {
    /// Header carrying `user@REALM` to the upstream.
    pub user_header: Option<String>,
    /// More headers to remove from every client request.
    #[serde(default)]
    pub strip_headers: Vec<String>,
    /// `headers` (default: one header per item) or `json` (one header with a JSON object).
    pub format: Option<String>,
    /// The header of the `json` format.
    pub json_header: Option<String>,
    /// The header listing the user's groups (`headers` format).
    pub groups_header: Option<String>,
    /// Only groups whose name (or SID) matches one of these patterns (`*` and `?`, case
    /// ignored) are sent. Default: all.
    #[serde(default)]
    pub group_patterns: Vec<String>,
    /// LDAP attribute → header (`headers` format), e.g. `mail = "X-Remote-Email"`.
    pub attribute_headers: Option<std::collections::BTreeMap<String, String>>,
    /// The header carrying the user's SID (`headers` format).
    pub sid_header: Option<String>,
    /// Largest identity header value (bytes); groups past it are left out and counted.
    pub max_header_bytes: Option<usize>,
}

/// `[challenge]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSection {
    /// An HTML file sent as the body of the 401 challenge.
    pub body_file: Option<PathBuf>,
}

/// `[[routes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RouteSection {
    /// Path prefix, e.g. `/` or `/app/`.
    pub prefix: String,
    /// `host:port` of the upstream.
    pub upstream: String,
    /// Connect to the upstream with TLS.
    #[serde(default)]
    pub tls: bool,
    /// SNI and certificate name for a TLS upstream; default: the upstream host.
    pub sni: Option<String>,
    /// `negotiate` (default) or `public`.
    pub auth: Option<String>,
}

/// `[log]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSection {
    /// A tracing filter such as `info` or `info,security=debug`.
    pub level: Option<String>,
    /// `text` or `json`.
    pub format: Option<String>,
}
