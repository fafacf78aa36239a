//! `iwa-gateway`: silent Windows sign-in (Kerberos over HTTP Negotiate) in front of web apps.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Parser, Subcommand};
use kdc_bridge::net::keytab_watch::KeytabWatcher;
use kdc_bridge::net::ldap::Directory;
use pingora::apps::http_app::HttpServer;
use pingora::listeners::tls::TlsSettings;
use pingora::listeners::{L4BufferSettings, ListenerConfig, DEFAULT_L4_WRITE_BUFFER_SIZE};
use pingora::protocols::http::v2::server::default_h2_options;
use pingora::server::configuration::ServerConf;
use pingora::server::Server;
use pingora::services::background::GenBackgroundService;
use pingora::services::listening::Service;

use gateway::config::{self, Config, DegradedPolicy, DirectorySettings, FileChecks};
use gateway::identity::health::DirectoryHealth;
use gateway::identity::observer::MetricsObserver;
use gateway::identity::resolve::Resolver;
use gateway::keepalive::{self, KeepAlive};
use gateway::proxy::{Gateway, ListenerInfo, Sessions};
use gateway::{admin, auth, keytab_reload, metrics, session, tls};

/// mimalloc instead of glibc malloc: under load glibc's arena locks and chunk consolidation
/// cost about a fifth of the gateway's CPU (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// What an HTTP/2 header list may hold besides the `Authorization` header (the list's limit
/// is `kerberos.max_authorization_bytes` plus this).
const H2_OTHER_HEADERS: usize = 32 * 1024;

/// iwa-gateway signs users of domain-joined Windows PCs in to web apps without a password
/// prompt (Kerberos over HTTP Negotiate), then forwards their requests with a trusted identity.
#[derive(Debug, Parser)]
#[command(
    name = "iwa-gateway",
    version,
    after_help = "Getting started:\n  \
        1. Write a configuration: examples/gateway.toml is annotated, docs/configuration.md lists every key.\n  \
        2. iwa-gateway check-config /etc/iwa-gateway/gateway.toml\n  \
        3. iwa-gateway run --config /etc/iwa-gateway/gateway.toml\n\n\
        Health and metrics are on the admin listener: /healthz, /readyz, /metrics.\n\
        Set IWAGW_LOG (e.g. info,security=debug) to change what is logged."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Run {
        /// The configuration file (see examples/gateway.toml and docs/configuration.md).
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Check a configuration file, its keytab and key files, then exit: 0 if usable, 1 if not.
    CheckConfig {
        /// The configuration file.
        #[arg(value_name = "FILE")]
        config: PathBuf,
        /// Check only the file itself, not the keytab, keys and certificates it names (for a
        /// file prepared on another machine).
        #[arg(long)]
        syntax_only: bool,
    },
    /// Check the network path and the Active Directory set-up the configuration needs (DC
    /// reach, TLS, bind, clock, SPNs, kvno, enctypes), one line per check with the fix. Exit 0
    /// if nothing failed, 1 if a check failed, 2 if the configuration cannot be read.
    Doctor {
        /// The configuration file.
        #[arg(short, long, value_name = "FILE")]
        config: PathBuf,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Work with Negotiate tokens copied from a browser or a capture.
    #[command(subcommand)]
    Token(TokenCommand),
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Read a Negotiate header or base64 token on stdin, show what it holds and the verdict the
    /// gateway would give, with the fix. Exit 0 if it would be accepted, 1 if not.
    Inspect {
        /// The service keytab to verify with.
        #[arg(long, value_name = "FILE")]
        keytab: PathBuf,
        /// Verify as of this time (RFC 3339, or @unix-seconds), e.g. a capture's time.
        #[arg(long, value_name = "TIME")]
        at: Option<String>,
        /// An accepted SPN, e.g. HTTP/gw.corp.example@CORP.EXAMPLE (repeatable; default: any
        /// principal of the keytab).
        #[arg(long, value_name = "SPN")]
        spn: Vec<String>,
        /// Allowed clock skew in seconds.
        #[arg(long, value_name = "SECONDS", default_value_t = 300)]
        skew: i64,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::CheckConfig {
            config,
            syntax_only,
        } => {
            let files = if syntax_only {
                FileChecks::Skip
            } else {
                FileChecks::Read
            };
            check_config(&config, files)
        }
        Command::Doctor { config, json } => doctor(&config, json),
        Command::Token(TokenCommand::Inspect {
            keytab,
            at,
            spn,
            skew,
            json,
        }) => token_inspect(&keytab, at.as_deref(), &spn, skew, json),
        Command::Run { config } => match Config::load(&config) {
            Ok(cfg) => run(cfg),
            Err(e) => {
                eprint!("{e}");
                ExitCode::FAILURE
            }
        },
    }
}

#[allow(clippy::print_stdout, reason = "the CLI reports to stdout")]
fn check_config(config: &std::path::Path, files: FileChecks) -> ExitCode {
    match Config::load_with(config, files) {
        Ok(cfg) => {
            let keys = match files {
                FileChecks::Read => format!("{} service key(s)", cfg.kerberos.initial_keys.len()),
                FileChecks::Skip => "files not read".to_owned(),
            };
            println!(
                "{}: OK ({} listener(s), {} route(s), {keys})",
                config.display(),
                cfg.listeners.len(),
                cfg.routes.len(),
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprint!("{e}");
            ExitCode::FAILURE
        }
    }
}

#[allow(clippy::print_stdout, reason = "the CLI reports to stdout")]
fn doctor(config: &std::path::Path, json: bool) -> ExitCode {
    use gateway::doctor;
    let cfg = match Config::load(config) {
        Ok(cfg) => cfg,
        Err(e) => {
            eprint!("{e}");
            return ExitCode::from(2);
        }
    };
    let checks = doctor::run_checks(&cfg, config);
    if json {
        println!("{}", doctor::render_json(&checks));
    } else {
        print!("{}", doctor::render_text(&checks));
    }
    ExitCode::from(doctor::exit_code(&checks))
}

#[allow(clippy::print_stdout, reason = "the CLI reports to stdout")]
fn token_inspect(
    keytab: &std::path::Path,
    at: Option<&str>,
    spns: &[String],
    skew: i64,
    json: bool,
) -> ExitCode {
    use gateway::inspect;
    use kdc_bridge::proto::keys::ServiceKeys;
    use kdc_bridge::proto::keytab::Keytab;
    use kdc_bridge::proto::principal::Principal;
    use std::io::Read as _;

    let fail = |msg: String| {
        eprintln!("token inspect: {msg}");
        ExitCode::from(2)
    };
    let keys = match std::fs::read(keytab)
        .map_err(|e| e.to_string())
        .and_then(|b| Keytab::extract(&b).map_err(|e| e.to_string()))
    {
        Ok(kt) => ServiceKeys::from_keytab(&kt),
        Err(e) => return fail(format!("{}: {e}", keytab.display())),
    };
    let mut parsed = Vec::new();
    for s in spns {
        match Principal::parse(s) {
            Ok(p) => parsed.push(p),
            Err(e) => return fail(format!("--spn: {e}")),
        }
    }
    let at = match at.map(inspect::parse_at) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return fail(format!("--at: {e}")),
        None => gateway::auth::unix_now(),
    };
    let mut input = String::new();
    if let Err(e) = std::io::stdin().take(1 << 20).read_to_string(&mut input) {
        return fail(format!("reading stdin: {e}"));
    }
    let token = match inspect::extract_pasted_token(&input) {
        Ok(t) => t,
        Err(e) => return fail(e),
    };
    let report = inspect::inspect(
        &token,
        &inspect::Inspection {
            keys: &keys,
            spns: parsed,
            at,
            max_skew_secs: skew,
        },
    );
    if json {
        println!("{}", inspect::render_json(&report));
    } else {
        print!("{}", inspect::render_text(&report));
    }
    if report.error.is_none() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

/// Logging: formatted in the worker that logs, written by a thread of its own in batches
/// (never dropped: a full queue makes the worker wait). Keep the guard until the end: dropping
/// it flushes what is queued.
fn init_logging(cfg: &config::LogConfig) -> tracing_appender::non_blocking::WorkerGuard {
    let filter = match std::env::var("IWAGW_LOG") {
        Ok(v) => tracing_subscriber::EnvFilter::try_new(&v).unwrap_or_else(|e| {
            eprintln!(
                "IWAGW_LOG=`{v}` is not a log filter ({e}); using log.level `{}`",
                cfg.level
            );
            tracing_subscriber::EnvFilter::new(&cfg.level)
        }),
        Err(_) => tracing_subscriber::EnvFilter::new(&cfg.level),
    };
    // Colours only on a terminal: in a log file or the journal, escape codes would break every
    // `grep 'reason="replay"'` an operator runs on the audit lines.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .lossy(false)
        .thread_name("iwa-gateway log")
        .finish(std::io::BufWriter::new(std::io::stdout()));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_ansi(ansi)
        .with_writer(writer);
    if cfg.json {
        builder.json().init();
    } else {
        builder.init();
    }
    guard
}

/// Tries every address before Pingora does: Pingora retries a busy port for half a minute and
/// then stops that service, leaving a process that looks alive but does not listen.
fn check_addresses(cfg: &Config) -> Result<(), String> {
    let listeners = cfg
        .listeners
        .iter()
        .enumerate()
        .map(|(i, l)| (format!("listeners[{i}].address"), l.address));
    for (key, addr) in listeners.chain(cfg.admin.map(|a| ("admin.address".to_owned(), a))) {
        std::net::TcpListener::bind(addr)
            .map_err(|e| format!("{key}: cannot listen on {addr}: {e}"))?;
    }
    Ok(())
}

fn run(cfg: Config) -> ExitCode {
    if let Err(e) = check_addresses(&cfg) {
        eprintln!("{e}");
        return ExitCode::FAILURE;
    }
    let log_guard = init_logging(&cfg.log);
    let route_labels: Vec<String> = cfg.routes.iter().map(|r| r.prefix.clone()).collect();
    let dc_labels: Vec<String> = cfg
        .directory
        .iter()
        .flat_map(|d| d.dcs.iter().map(ToString::to_string))
        .collect();
    let metrics = metrics::Metrics::with_dcs(&route_labels, &dc_labels);
    let Config {
        kerberos,
        session,
        listeners,
        routes,
        admin,
        directory,
        identity,
        ..
    } = cfg;
    let degraded = directory
        .as_ref()
        .map_or(DegradedPolicy::AllowWithPac, |d| d.degraded);
    let health = directory
        .as_ref()
        .map(|d| (d.health_check_interval, d.srv_domain.is_some()));
    let ldap = match directory
        .as_ref()
        .map(DirectorySettings::ldap_config)
        .transpose()
    {
        Ok(c) => c,
        Err(e) => {
            eprintln!("directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let observer = Arc::new(MetricsObserver::new(metrics.directory.clone()));
    let directory = match ldap.map(|c| Directory::new(c, observer)).transpose() {
        Ok(d) => d,
        Err(e) => {
            eprintln!("directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let session_lifetime = session
        .as_ref()
        .map_or(Duration::from_secs(8 * 3600), |s| s.lifetime);
    let resolver = Arc::new(Resolver::new(
        directory,
        degraded,
        session_lifetime,
        100_000,
        metrics.directory.clone(),
    ));
    let mut kerberos = kerberos;
    let keys = std::mem::take(&mut kerberos.initial_keys);
    let auth = Arc::new(auth::Authenticator::new(&kerberos, keys, metrics.clone()));

    let mut listener_info = Vec::new();
    for l in &listeners {
        let channel_binding = match &l.tls {
            Some(t) => match tls::channel_binding_for_cert_file(&t.cert) {
                Ok(cb) => Some(cb),
                Err(e) => {
                    eprintln!("cannot read the certificate for channel bindings: {e}");
                    return ExitCode::FAILURE;
                }
            },
            None => None,
        };
        listener_info.push(ListenerInfo {
            address: l.address,
            tls: l.tls.is_some(),
            channel_binding,
        });
    }
    let sessions = session.map(|s| {
        if s.keys.is_empty() {
            tracing::warn!(
                target: "admin",
                "session.key_files is empty: using a random key; cookies end at restart and are not shared"
            );
        }
        Sessions {
            ring: session::KeyRing::new(&s.keys, &s.cookie_name),
            lifetime_secs: i64::try_from(s.lifetime.as_secs()).unwrap_or(i64::MAX),
        }
    });
    let mut strip_headers = Vec::new();
    for h in &cfg.strip_headers {
        if let Ok(name) = http::HeaderName::from_bytes(h.as_bytes()) {
            strip_headers.push(name);
        }
    }
    let gateway = Gateway {
        routes,
        auth: Arc::clone(&auth),
        sessions,
        identity,
        resolver: Arc::clone(&resolver),
        strip_headers,
        challenge_body: Bytes::from(cfg.challenge_body),
        max_authorization_bytes: kerberos.max_authorization_bytes,
        listeners: listener_info,
        throttle: policy::throttle::Throttle::new(
            cfg.saml
                .as_ref()
                .map(|s| s.login.throttle)
                .unwrap_or_default(),
        ),
        saml: cfg.saml.map(Arc::new),
        metrics: metrics.clone(),
    };

    let conf = ServerConf {
        threads: cfg
            .threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
        grace_period_seconds: Some(cfg.grace_period_secs),
        graceful_shutdown_timeout_seconds: Some(cfg.graceful_shutdown_timeout_secs),
        ..ServerConf::default()
    };
    let mut server = Server::new_with_opt_and_conf(None, conf);
    server.bootstrap();

    let mut app = pingora::proxy::http_proxy(&server.configuration, gateway);
    let mut h2 = default_h2_options();
    // The h2 default (64 KiB for the whole list) would refuse the largest tokens we accept.
    let limit = kerberos
        .max_authorization_bytes
        .saturating_add(H2_OTHER_HEADERS);
    h2.max_header_list_size(u32::try_from(limit).unwrap_or(u32::MAX));
    app.h2_options = Some(h2);
    let mut proxy = Service::new(
        "iwa-gateway".to_owned(),
        KeepAlive::new(
            app,
            Duration::from_secs(cfg.keepalive_timeout_secs),
            keepalive::Gauges {
                open: metrics.connections_open.clone(),
                waiting: metrics.connections_waiting.clone(),
            },
        ),
    );
    for l in &listeners {
        let addr = l.address.to_string();
        match &l.tls {
            // No user-space read buffer on plain listeners (Pingora's default is 64 KiB per
            // connection, which idle keep-alive connections keep): a request head is read
            // straight into the HTTP parser's own buffer, in as many reads as before.
            None => proxy.add_listener(
                ListenerConfig::tcp(addr)
                    .l4_buffer(L4BufferSettings::new(0, DEFAULT_L4_WRITE_BUFFER_SIZE)),
            ),
            Some(t) => {
                // Loaded by us, not by Pingora, which panics on a bad file at start-up.
                let certified = match tls::load_certified_key(&t.cert, &t.key) {
                    Ok(k) => k,
                    Err((_, problem)) => {
                        eprintln!("listeners: {problem}");
                        return ExitCode::FAILURE;
                    }
                };
                // No paths: with a resolver set, Pingora never reads certificate files.
                let Ok(mut settings) = TlsSettings::intermediate("", "") else {
                    eprintln!("listeners: cannot set up TLS");
                    return ExitCode::FAILURE;
                };
                settings.set_cert_resolver(Arc::new(tls::SingleCert(certified)));
                if l.http2 {
                    settings.enable_h2();
                }
                proxy.add_tls_with_settings(&addr, None, settings);
            }
        }
    }
    server.add_service(proxy);

    if let Some(admin_addr) = admin {
        let app = admin::Admin {
            auth: Arc::clone(&auth),
            metrics: metrics.clone(),
            resolver: Arc::clone(&resolver),
            degraded,
        };
        let mut svc = Service::new("iwa-gateway admin".to_owned(), HttpServer::new_app(app));
        svc.add_tcp(&admin_addr.to_string());
        server.add_service(svc);
    }

    let reloader = keytab_reload::KeytabReloader {
        auth,
        watcher: std::sync::Mutex::new(KeytabWatcher::new(&kerberos.keytab)),
        interval: kerberos.keytab_poll,
        metrics,
        mode_reported: std::sync::atomic::AtomicBool::new(false),
    };
    server.add_service(GenBackgroundService::new(
        "keytab reload".to_owned(),
        Arc::new(reloader),
    ));

    if let Some((interval, discovery)) = health {
        server.add_service(GenBackgroundService::new(
            "directory health".to_owned(),
            Arc::new(DirectoryHealth {
                resolver,
                interval,
                discovery,
            }),
        ));
    }

    tracing::info!(target: "admin", listeners = listeners.len(), "iwa-gateway starting");
    server.run(pingora::server::RunArgs::default());
    // All services have stopped: write out the last log lines before exiting.
    drop(log_guard);
    ExitCode::SUCCESS
}
