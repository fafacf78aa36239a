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
    /// The session cookie.
    #[serde(default)]
    pub session: SessionSection,
    /// Identity headers sent to upstreams.
    #[serde(default)]
    pub identity: IdentitySection,
    /// The 401 challenge page.
    #[serde(default)]
    pub challenge: ChallengeSection,
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
