//! Configuration: the file ([`file`](mod@file)), checked and converted into [`Config`].
//!
//! Every problem is collected with the key it concerns (`kerberos.spns[1]`) so one run of
//! `iwa-gateway check-config` shows them all.

mod build;
pub mod directory;
pub mod file;
pub mod identity;
pub mod login;
pub mod saml;
mod saml_sp;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kdc_bridge::proto::acceptor::PacPolicy;
use kdc_bridge::proto::gss::ChannelBindingPolicy;
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::principal::Principal;

use crate::session::SessionKey;

use self::build::{build, toml_problem, Collector};
use self::file::FileConfig;

pub use self::build::MAX_CHALLENGE_BODY_BYTES;
pub use self::directory::{DcAddress, DegradedPolicy, DirectorySettings, LdapSecurity};
pub use self::identity::{HeaderFormat, IdentityHeaders};

/// The one configuration format version.
pub const VERSION: u32 = 1;

/// One problem in the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The key path, e.g. `kerberos.keytab` or `routes[2].upstream`.
    pub key: String,
    /// What is wrong and, where we can tell, how to fix it.
    pub message: String,
}

/// A configuration that cannot be used, with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// The problems, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{}",
            self.file.display(),
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            writeln!(
                f,
                "  {}: {}",
                p.key,
                p.message.trim_end().replace('\n', "\n    ")
            )?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// A listener.
#[derive(Debug, Clone)]
pub struct ListenerConfig {
    /// Where to listen.
    pub address: SocketAddr,
    /// TLS files, if TLS.
    pub tls: Option<TlsFiles>,
    /// Whether to offer HTTP/2 over TLS.
    pub http2: bool,
}

/// Certificate and key paths.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// PEM certificate chain.
    pub cert: PathBuf,
    /// PEM private key.
    pub key: PathBuf,
}

/// Authentication on a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteAuth {
    /// Kerberos via HTTP Negotiate (or a session cookie).
    Negotiate,
    /// No authentication; identity headers are still stripped.
    Public,
}

/// A route: requests whose path starts with `prefix` go to `upstream`.
#[derive(Debug, Clone)]
pub struct Route {
    /// Path prefix.
    pub prefix: String,
    /// `host:port`.
    pub upstream: String,
    /// The address, when `upstream` is an IP literal (otherwise resolved per request).
    pub addr: Option<SocketAddr>,
    /// TLS to the upstream.
    pub tls: bool,
    /// SNI for TLS.
    pub sni: String,
    /// Authentication.
    pub auth: RouteAuth,
}

/// Kerberos settings.
#[derive(Debug)]
pub struct KerberosConfig {
    /// Keytab path.
    pub keytab: PathBuf,
    /// Accepted SPNs.
    pub spns: Vec<Principal>,
    /// Allowed skew.
    pub max_skew_secs: i64,
    /// Keytab poll interval.
    pub keytab_poll: Duration,
    /// Retention of keys that left the keytab.
    pub retired_key_retention_secs: i64,
    /// Replay cache capacity.
    pub replay_cache_capacity: u64,
    /// Channel bindings policy.
    pub channel_bindings: ChannelBindingPolicy,
    /// What is done with the ticket's PAC.
    pub pac: PacPolicy,
    /// Largest `Authorization` value.
    pub max_authorization_bytes: usize,
    /// The keytab as read while checking the configuration.
    pub initial_keys: ServiceKeys,
}

/// Session cookie settings.
#[derive(Debug)]
pub struct SessionConfig {
    /// Cookie name.
    pub cookie_name: String,
    /// Keys; the first seals new cookies. Empty: a random key made at start-up.
    pub keys: Vec<SessionKey>,
    /// Lifetime.
    pub lifetime: Duration,
}

/// Log settings.
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Tracing filter.
    pub level: String,
    /// JSON lines instead of text.
    pub json: bool,
}

/// The validated configuration.
#[derive(Debug)]
pub struct Config {
    /// Worker threads.
    pub threads: Option<usize>,
    /// Grace period after SIGTERM.
    pub grace_period_secs: u64,
    /// Graceful shutdown timeout.
    pub graceful_shutdown_timeout_secs: u64,
    /// How long an idle HTTP/1.1 connection is kept open.
    pub keepalive_timeout_secs: u64,
    /// Listeners.
    pub listeners: Vec<ListenerConfig>,
    /// Admin listener.
    pub admin: Option<SocketAddr>,
    /// Kerberos.
    pub kerberos: KerberosConfig,
    /// Session cookie, if enabled.
    pub session: Option<SessionConfig>,
    /// Active Directory over LDAP, if configured.
    pub directory: Option<DirectorySettings>,
    /// The identity headers.
    pub identity: IdentityHeaders,
    /// The SAML identity provider, if configured.
    pub saml: Option<saml::SamlSettings>,
    /// Headers removed from every client request (the user header included).
    pub strip_headers: Vec<String>,
    /// Body of the 401 challenge.
    pub challenge_body: String,
    /// Routes, longest prefix first.
    pub routes: Vec<Route>,
    /// Logging.
    pub log: LogConfig,
}

/// The built-in 401 page.
pub const DEFAULT_CHALLENGE_BODY: &str =
    "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Sign-in required</title></head><body><h1>Sign-in required</h1>\
<p>This site signs you in with your Windows account (Kerberos). Use a computer joined to the \
company domain, signed in with your company account, and make sure this site is in your \
browser's Local intranet zone.</p></body></html>\n";

/// Whether checking reads the files the configuration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChecks {
    /// Read the keytab, key files, certificates and pages, and check them.
    Read,
    /// Check only the configuration itself (`check-config --syntax-only`), e.g. for an example
    /// file whose paths exist only on the target machine.
    Skip,
}

impl Config {
    /// Reads and checks `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::load_with(path, FileChecks::Read)
    }

    /// Reads `path` and checks it, reading the files it names or not.
    pub fn load_with(path: &Path, files: FileChecks) -> Result<Self, ConfigError> {
        let fail = |key: &str, message: String| ConfigError {
            file: path.to_owned(),
            problems: vec![Problem {
                key: key.to_owned(),
                message,
            }],
        };
        let text = std::fs::read_to_string(path)
            .map_err(|e| fail("(file)", format!("cannot read: {e}")))?;
        Self::parse_with(&text, path, files)
    }

    /// Checks configuration text; `path` is used for messages and relative paths.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        Self::parse_with(text, path, FileChecks::Read)
    }

    /// Checks configuration text, reading the files it names or not.
    pub fn parse_with(text: &str, path: &Path, files: FileChecks) -> Result<Self, ConfigError> {
        let file: FileConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: path.to_owned(),
            problems: vec![toml_problem(text, &e)],
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let mut c = Collector {
            problems: Vec::new(),
            files,
        };
        let config = build(file, base, &mut c);
        match config {
            Some(cfg) if c.problems.is_empty() => Ok(cfg),
            _ => Err(ConfigError {
                file: path.to_owned(),
                problems: c.problems,
            }),
        }
    }
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
