//! Configuration: the file ([`file`](mod@file)), checked and converted into [`Config`].
//!
//! Every problem is collected with the key it concerns (`kerberos.spns[1]`) so one run of
//! `iwa-gateway check-config` shows them all.

pub mod file;

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kdc_bridge::proto::gss::ChannelBindingPolicy;
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;

use crate::session::SessionKey;

use self::file::FileConfig;

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
    /// Listeners.
    pub listeners: Vec<ListenerConfig>,
    /// Admin listener.
    pub admin: Option<SocketAddr>,
    /// Kerberos.
    pub kerberos: KerberosConfig,
    /// Session cookie, if enabled.
    pub session: Option<SessionConfig>,
    /// Header carrying the user.
    pub user_header: String,
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

struct Collector {
    problems: Vec<Problem>,
    files: FileChecks,
}

impl Collector {
    fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
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

fn toml_problem(text: &str, e: &toml::de::Error) -> Problem {
    let location = e.span().map(|span| {
        let line = text
            .get(..span.start)
            .map_or(0, |s| s.matches('\n').count())
            + 1;
        format!("line {line}")
    });
    Problem {
        key: location.unwrap_or_else(|| "(file)".into()),
        message: e.message().to_owned(),
    }
}

/// Resolves `p` against the config file's directory.
fn resolve(base: &Path, p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_owned()
    } else {
        base.join(p)
    }
}

/// The largest challenge page read; the built-in one is under 1 KiB.
pub const MAX_CHALLENGE_BODY_BYTES: usize = 1024 * 1024;

/// Reads the challenge page: a regular file of UTF-8, at most [`MAX_CHALLENGE_BODY_BYTES`].
fn read_challenge_body(path: &Path) -> Result<String, String> {
    use std::io::Read as _;
    let cannot_read = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    // Checked before opening: opening a FIFO blocks until someone writes to it.
    let meta = std::fs::metadata(path).map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(format!("{} is not a regular file", path.display()));
    }
    let too_large = || format!("{} is larger than 1 MiB", path.display());
    if meta.len() > MAX_CHALLENGE_BODY_BYTES as u64 {
        return Err(too_large());
    }
    // The bound again, for a file that grows while we read it.
    let mut body = String::new();
    std::fs::File::open(path)
        .and_then(|f| {
            f.take(MAX_CHALLENGE_BODY_BYTES as u64 + 1)
                .read_to_string(&mut body)
        })
        .map_err(cannot_read)?;
    if body.len() > MAX_CHALLENGE_BODY_BYTES {
        return Err(too_large());
    }
    Ok(body)
}

/// Reads a secret file, checking that other users cannot read it.
fn read_secret(c: &mut Collector, key: &str, path: &Path) -> Option<Vec<u8>> {
    use std::os::unix::fs::PermissionsExt as _;
    if c.files == FileChecks::Skip {
        return None;
    }
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            c.add(key, format!("file {} not found", path.display()));
            return None;
        }
        Err(e) => {
            c.add(key, format!("cannot read {}: {e}", path.display()));
            return None;
        }
    };
    // A device or FIFO could be read forever (or block the start-up).
    if !meta.is_file() {
        c.add(key, format!("{} is not a regular file", path.display()));
        return None;
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        c.add(
            key,
            format!(
                "{} can be read by any user (mode {mode:04o}); run chmod 600 on it",
                path.display()
            ),
        );
        return None;
    }
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            c.add(key, format!("cannot read {}: {e}", path.display()));
            None
        }
    }
}

fn socket_addr(c: &mut Collector, key: &str, s: &str) -> Option<SocketAddr> {
    match s.parse() {
        Ok(a) => Some(a),
        Err(_) => {
            c.add(
                key,
                format!("`{s}` is not an address like 127.0.0.1:8080 or [::]:443"),
            );
            None
        }
    }
}

fn positive<T: PartialOrd + Default + Copy + fmt::Display>(
    c: &mut Collector,
    key: &str,
    v: T,
) -> T {
    if v <= T::default() {
        c.add(key, format!("must be greater than 0, got {v}"));
    }
    v
}

fn build(f: FileConfig, base: &Path, c: &mut Collector) -> Option<Config> {
    let threads = f.server.threads.map(|t| positive(c, "server.threads", t));
    if f.version != VERSION {
        c.add(
            "version",
            format!(
                "unsupported version {}; this gateway reads version {VERSION}",
                f.version
            ),
        );
    }
    let listeners = build_listeners(&f, base, c);
    let admin = f
        .admin
        .as_ref()
        .and_then(|a| socket_addr(c, "admin.address", &a.address));
    let kerberos = match f.kerberos {
        Some(k) => build_kerberos(k, base, c),
        None => {
            c.add(
                "kerberos",
                "missing section: the gateway needs [kerberos] with at least `keytab`",
            );
            None
        }
    };
    let session = build_session(&f.session, base, c);
    let user_header = f
        .identity
        .user_header
        .clone()
        .unwrap_or_else(|| "X-Remote-User".into());
    if http::HeaderName::from_bytes(user_header.as_bytes()).is_err() {
        c.add(
            "identity.user_header",
            format!("`{user_header}` is not a valid header name"),
        );
    }
    let mut strip_headers = vec![user_header.clone()];
    for (i, h) in f.identity.strip_headers.iter().enumerate() {
        if http::HeaderName::from_bytes(h.as_bytes()).is_err() {
            c.add(
                format!("identity.strip_headers[{i}]"),
                format!("`{h}` is not a valid header name"),
            );
        }
        strip_headers.push(h.clone());
    }
    let challenge_body = match &f.challenge.body_file {
        Some(_) if c.files == FileChecks::Skip => String::new(),
        Some(p) => read_challenge_body(&resolve(base, p)).unwrap_or_else(|problem| {
            c.add("challenge.body_file", problem);
            String::new()
        }),
        None => DEFAULT_CHALLENGE_BODY.to_owned(),
    };
    let routes = build_routes(&f.routes, c);
    let log = LogConfig {
        level: f.log.level.clone().unwrap_or_else(|| "info".into()),
        json: match f.log.format.as_deref() {
            None | Some("text") => false,
            Some("json") => true,
            Some(other) => {
                c.add("log.format", format!("`{other}` is not one of: text, json"));
                false
            }
        },
    };
    if tracing_subscriber::EnvFilter::try_new(&log.level).is_err() {
        c.add(
            "log.level",
            format!(
                "`{}` is not a log filter such as `info` or `info,security=debug`",
                log.level
            ),
        );
    }
    Some(Config {
        threads,
        grace_period_secs: f.server.grace_period_seconds.unwrap_or(1),
        graceful_shutdown_timeout_secs: f.server.graceful_shutdown_timeout_seconds.unwrap_or(5),
        listeners,
        admin,
        kerberos: kerberos?,
        session,
        user_header,
        strip_headers,
        challenge_body,
        routes,
        log,
    })
}

fn build_listeners(f: &FileConfig, base: &Path, c: &mut Collector) -> Vec<ListenerConfig> {
    if f.listeners.is_empty() {
        c.add(
            "listeners",
            "no listener: add at least one [[listeners]] with an `address`",
        );
    }
    let mut out = Vec::new();
    for (i, l) in f.listeners.iter().enumerate() {
        let key = format!("listeners[{i}]");
        let Some(address) = socket_addr(c, &format!("{key}.address"), &l.address) else {
            continue;
        };
        let tls = l.tls.as_ref().map(|t| TlsFiles {
            cert: resolve(base, &t.cert),
            key: resolve(base, &t.key),
        });
        if let Some(t) = &tls {
            check_tls_files(c, &key, t);
        }
        if l.http2 == Some(true) && tls.is_none() {
            c.add(
                format!("{key}.http2"),
                "HTTP/2 needs TLS here (browsers only speak h2 over TLS); add [listeners.tls]",
            );
        }
        let http2 = tls.is_some() && l.http2.unwrap_or(true);
        out.push(ListenerConfig {
            address,
            tls,
            http2,
        });
    }
    out
}

/// Checks that the certificate chain and key load and belong together, so a bad file is
/// reported here rather than by the TLS stack at start-up.
fn check_tls_files(c: &mut Collector, key: &str, t: &TlsFiles) {
    if c.files == FileChecks::Skip {
        return;
    }
    let cert_found = t.cert.is_file();
    if !cert_found {
        c.add(
            format!("{key}.tls.cert"),
            format!("file {} not found", t.cert.display()),
        );
    }
    // The mode check before parsing: a key file others can read is refused as it is.
    if read_secret(c, &format!("{key}.tls.key"), &t.key).is_none() || !cert_found {
        return;
    }
    if let Err((is_cert, problem)) = crate::tls::load_certified_key(&t.cert, &t.key) {
        let field = if is_cert { "cert" } else { "key" };
        c.add(format!("{key}.tls.{field}"), problem);
    }
}

fn build_kerberos(
    k: file::KerberosSection,
    base: &Path,
    c: &mut Collector,
) -> Option<KerberosConfig> {
    let keytab = resolve(base, &k.keytab);
    let keys = read_secret(c, "kerberos.keytab", &keytab).and_then(|bytes| {
        match Keytab::extract(&bytes) {
            Ok(kt) => Some(ServiceKeys::from_keytab(&kt)),
            Err(e) => {
                c.add("kerberos.keytab", format!("{}: {e}", keytab.display()));
                None
            }
        }
    });
    if let Some(keys) = &keys {
        if keys.is_empty() {
            c.add(
                "kerberos.keytab",
                format!("{} has no aes256, aes128 or rc4-hmac key", keytab.display()),
            );
        }
    }
    let mut spns = Vec::new();
    for (i, s) in k.spns.iter().enumerate() {
        let key = format!("kerberos.spns[{i}]");
        match Principal::parse(s) {
            Ok(p) => {
                if let Some(keys) = &keys {
                    if !keys.is_empty() && !keys.has_principal(&p) {
                        let mut have: Vec<String> =
                            keys.iter().map(|k| k.principal.to_string()).collect();
                        have.sort();
                        have.dedup();
                        c.add(
                            key,
                            format!(
                                "the keytab has no key for {p}; it has keys for {}",
                                have.join(", ")
                            ),
                        );
                    }
                }
                spns.push(p);
            }
            Err(e) => c.add(key, e.to_string()),
        }
    }
    let channel_bindings = match k.channel_bindings.as_deref() {
        None | Some("enforce") => ChannelBindingPolicy::Enforce,
        Some("ignore") => ChannelBindingPolicy::Ignore,
        Some(other) => {
            c.add(
                "kerberos.channel_bindings",
                format!("`{other}` is not one of: enforce, ignore"),
            );
            ChannelBindingPolicy::Enforce
        }
    };
    let max_skew_secs = positive(
        c,
        "kerberos.max_skew_seconds",
        k.max_skew_seconds.unwrap_or(300),
    );
    let poll = positive(
        c,
        "kerberos.keytab_poll_seconds",
        k.keytab_poll_seconds.unwrap_or(5),
    );
    let retention = k.retired_key_retention_seconds.unwrap_or(36_000);
    if retention < 0 {
        c.add(
            "kerberos.retired_key_retention_seconds",
            format!("must not be negative, got {retention}"),
        );
    }
    let max_auth = k.max_authorization_bytes.unwrap_or(64 * 1024);
    if !(1024..=1024 * 1024).contains(&max_auth) {
        c.add(
            "kerberos.max_authorization_bytes",
            format!("must be between 1024 and 1048576, got {max_auth}"),
        );
    }
    Some(KerberosConfig {
        keytab,
        spns,
        max_skew_secs,
        keytab_poll: Duration::from_secs(poll),
        retired_key_retention_secs: retention,
        replay_cache_capacity: positive(
            c,
            "kerberos.replay_cache_capacity",
            k.replay_cache_capacity.unwrap_or(1_000_000),
        ),
        channel_bindings,
        max_authorization_bytes: max_auth,
        initial_keys: match (keys, c.files) {
            (Some(k), _) => k,
            (None, FileChecks::Skip) => ServiceKeys::default(),
            (None, FileChecks::Read) => return None,
        },
    })
}

fn build_session(
    s: &file::SessionSection,
    base: &Path,
    c: &mut Collector,
) -> Option<SessionConfig> {
    if s.enabled == Some(false) {
        return None;
    }
    let cookie_name = s
        .cookie_name
        .clone()
        .unwrap_or_else(|| "iwagw_session".into());
    if cookie_name.is_empty()
        || !cookie_name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        c.add(
            "session.cookie_name",
            format!("`{cookie_name}` must be letters, digits, `-`, `_` or `.`"),
        );
    }
    let mut keys = Vec::new();
    for (i, p) in s.key_files.iter().enumerate() {
        let key = format!("session.key_files[{i}]");
        let path = resolve(base, p);
        if let Some(bytes) = read_secret(c, &key, &path) {
            match SessionKey::from_file_contents(&bytes) {
                Ok(k) => keys.push(k),
                Err(problem) => c.add(key, format!("{}: {problem}", path.display())),
            }
        }
    }
    let lifetime = positive(
        c,
        "session.lifetime_seconds",
        s.lifetime_seconds.unwrap_or(8 * 3600),
    );
    Some(SessionConfig {
        cookie_name,
        keys,
        lifetime: Duration::from_secs(lifetime),
    })
}

fn build_routes(routes: &[file::RouteSection], c: &mut Collector) -> Vec<Route> {
    if routes.is_empty() {
        c.add(
            "routes",
            "no route: add at least one [[routes]] with `prefix` and `upstream`",
        );
    }
    let mut out: Vec<Route> = Vec::new();
    for (i, r) in routes.iter().enumerate() {
        let key = format!("routes[{i}]");
        if !r.prefix.starts_with('/') {
            c.add(
                format!("{key}.prefix"),
                format!("`{}` must start with /", r.prefix),
            );
        }
        if out.iter().any(|o| o.prefix == r.prefix) {
            c.add(
                format!("{key}.prefix"),
                format!("`{}` is already used by another route", r.prefix),
            );
        }
        let host = match r.upstream.rsplit_once(':') {
            Some((h, p)) if !h.is_empty() && p.parse::<u16>().is_ok_and(|p| p > 0) => {
                h.trim_matches(['[', ']'])
            }
            _ => {
                c.add(
                    format!("{key}.upstream"),
                    format!("`{}` is not host:port", r.upstream),
                );
                ""
            }
        };
        let auth = match r.auth.as_deref() {
            None | Some("negotiate") => RouteAuth::Negotiate,
            Some("public") => RouteAuth::Public,
            Some(other) => {
                c.add(
                    format!("{key}.auth"),
                    format!("`{other}` is not one of: negotiate, public"),
                );
                RouteAuth::Negotiate
            }
        };
        out.push(Route {
            prefix: r.prefix.clone(),
            upstream: r.upstream.clone(),
            addr: r.upstream.parse().ok(),
            tls: r.tls,
            sni: r.sni.clone().unwrap_or_else(|| host.to_owned()),
            auth,
        });
    }
    out.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
    out
}

#[cfg(test)]
#[path = "config_test.rs"]
mod tests;
