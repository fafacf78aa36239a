//! Checking a [`FileConfig`] and converting it into a [`Config`]: every value is checked, every
//! problem collected with its key path, and the files the configuration names are read (unless
//! [`FileChecks::Skip`]).

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use kdc_bridge::proto::acceptor::PacPolicy;
use kdc_bridge::proto::gss::ChannelBindingPolicy;
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;

use super::directory::build_directory;
use super::file::{self, FileConfig};
use super::identity::build_identity;
use super::saml::build_saml;
use super::{
    Config, FileChecks, KerberosConfig, ListenerConfig, LogConfig, Problem, Route, RouteAuth,
    SessionConfig, TlsFiles, DEFAULT_CHALLENGE_BODY, VERSION,
};
use crate::session::SessionKey;

pub(super) struct Collector {
    pub(super) problems: Vec<Problem>,
    pub(super) files: FileChecks,
}

impl Collector {
    pub(super) fn add(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            key: key.into(),
            message: message.into(),
        });
    }
}

pub(super) fn toml_problem(text: &str, e: &toml::de::Error) -> Problem {
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
pub(super) fn resolve(base: &Path, p: &Path) -> PathBuf {
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
pub(super) fn read_secret(c: &mut Collector, key: &str, path: &Path) -> Option<Vec<u8>> {
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

pub(super) fn socket_addr(c: &mut Collector, key: &str, s: &str) -> Option<SocketAddr> {
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

pub(super) fn positive<T: PartialOrd + Default + Copy + fmt::Display>(
    c: &mut Collector,
    key: &str,
    v: T,
) -> T {
    if v <= T::default() {
        c.add(key, format!("must be greater than 0, got {v}"));
    }
    v
}

/// The longest `server.keepalive_timeout_seconds`.
const MAX_KEEPALIVE_SECS: u64 = 86_400;

pub(super) fn build(f: FileConfig, base: &Path, c: &mut Collector) -> Option<Config> {
    let threads = f.server.threads.map(|t| positive(c, "server.threads", t));
    let keepalive_timeout_secs = f.server.keepalive_timeout_seconds.unwrap_or(60);
    // Bounded: Pingora's timers add the timeout to the current instant.
    if !(1..=MAX_KEEPALIVE_SECS).contains(&keepalive_timeout_secs) {
        c.add(
            "server.keepalive_timeout_seconds",
            format!(
                "must be between 1 and {MAX_KEEPALIVE_SECS} (a day), got {keepalive_timeout_secs}"
            ),
        );
    }
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
    let mut directory = f
        .directory
        .as_ref()
        .and_then(|d| build_directory(d, base, c));
    let mut saml = f
        .saml
        .as_ref()
        .map(|s| build_saml(s, base, directory.is_some(), c));
    if let (Some(d), Some(s)) = (directory.as_mut(), saml.as_ref()) {
        if s.login.enabled && d.security == super::LdapSecurity::Plain {
            c.add(
                "saml.login.enabled",
                "the password form would send users' passwords to AD in clear: use \
                 directory.security = \"ldaps\" or \"starttls\", or set enabled = false",
            );
        }
        // What the assertions carry is read from AD with the rest.
        for a in s.ldap_attributes() {
            if !d.attributes.iter().any(|o| o.eq_ignore_ascii_case(&a)) {
                d.attributes.push(a);
            }
        }
    }
    let attributes = directory
        .as_ref()
        .map(|d| d.attributes.clone())
        .unwrap_or_default();
    let identity = build_identity(&f.identity, &attributes, c);
    let mut strip_headers = identity.names();
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
    // A gateway that is only a SAML IdP proxies nothing.
    let routes = build_routes(&f.routes, f.saml.is_some(), c);
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
    // The form's principals are in the realm of the service (unless configured).
    if let (Some(s), Some(k)) = (saml.as_mut(), kerberos.as_ref()) {
        if s.login.realm.is_none() {
            s.login.realm = k.spns.first().map(|p| p.realm().to_owned()).or_else(|| {
                k.initial_keys
                    .iter()
                    .next()
                    .map(|k| k.principal.realm().to_owned())
            });
        }
    }
    Some(Config {
        threads,
        grace_period_secs: f.server.grace_period_seconds.unwrap_or(1),
        graceful_shutdown_timeout_secs: f.server.graceful_shutdown_timeout_seconds.unwrap_or(5),
        keepalive_timeout_secs,
        listeners,
        admin,
        kerberos: kerberos?,
        session,
        directory,
        identity,
        saml,
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
    let pac = match k.pac.as_deref() {
        None | Some("verify-if-present") => PacPolicy::VerifyIfPresent,
        Some("require") => PacPolicy::Require,
        Some("ignore") => PacPolicy::Ignore,
        Some(other) => {
            c.add(
                "kerberos.pac",
                format!("`{other}` is not one of: verify-if-present, require, ignore"),
            );
            PacPolicy::VerifyIfPresent
        }
    };
    Some(KerberosConfig {
        keytab,
        pac,
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

fn build_routes(routes: &[file::RouteSection], saml: bool, c: &mut Collector) -> Vec<Route> {
    if routes.is_empty() && !saml {
        c.add(
            "routes",
            "no route: add at least one [[routes]] with `prefix` and `upstream` (or a [saml] section)",
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
