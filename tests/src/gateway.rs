//! The gateway fixture: a built `iwa-gateway` with its own configuration, keytab copy and
//! `iwa-echo` upstream on free loopback ports, and the requests a test makes of it.

use std::fmt::Write as _;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

use crate::ad::{ad, Ccache, REALM};
use crate::curl::Curl;
use crate::http::{http_get, Reply};
use crate::metrics::{strip_ansi, Metrics};
use crate::process::{
    e2e_bin, free_ports, gateway_bin, read_lossy, run, stderr_of, wait_until, Proc, Scratch,
};
use crate::rng::random_bytes;
use crate::tls::make_tls_cert;

/// How long a child process gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The `iwa-echo` upstream.
#[derive(Debug)]
struct Echo {
    addr: SocketAddr,
    _proc: Proc,
}

impl Echo {
    /// Starts it on a free port (retrying when another process takes the port first).
    fn start(dir: &Scratch) -> Self {
        for _ in 0..5 {
            let addr = SocketAddr::from(([127, 0, 0, 1], free_ports(1)[0]));
            let log = std::fs::File::create(dir.join("echo.log")).expect("echo log");
            let mut cmd = Command::new(e2e_bin("iwa-echo"));
            cmd.arg(addr.to_string())
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("echo log"))
                .stderr(log);
            let mut proc = Proc::spawn(cmd, "iwa-echo");
            let up = wait_until(READY_TIMEOUT, || {
                proc.exited().is_none() && TcpStream::connect(addr).is_ok()
            });
            if up {
                return Self { addr, _proc: proc };
            }
        }
        panic!(
            "iwa-echo did not start; log: {}",
            read_lossy(&dir.join("echo.log"))
        );
    }
}

/// How to configure a gateway.
#[derive(Debug, Clone)]
pub struct GatewayOptions {
    /// The keytab to copy (mode 0600) into the gateway's directory.
    pub keytab: PathBuf,
    /// The one accepted SPN, `HTTP/gw.corp.test@CORP.TEST`.
    pub spn: String,
    /// `kerberos.keytab_poll_seconds`.
    pub keytab_poll_seconds: u64,
    /// Add a TLS listener (HTTP/2 enabled) with a certificate for the SPN's host signed by the
    /// test CA.
    pub tls: bool,
    /// `identity.strip_headers`.
    pub strip_headers: Vec<String>,
    /// More lines of `[identity]`.
    pub identity: Vec<String>,
    /// The body of a `[directory]` section, if any (see [`GatewayOptions::with_directory`]).
    pub directory: Option<Vec<String>>,
    /// Files written (mode 0600) into the gateway's directory before it starts.
    pub files: Vec<(String, Vec<u8>)>,
    /// More configuration (whole sections, e.g. `[saml]`), written before the routes;
    /// `{https_port}` stands for the TLS listener's port.
    pub extra: Vec<String>,
    /// More lines of `[server]`.
    pub server: Vec<String>,
}

impl GatewayOptions {
    /// The gateway of `HTTP/gw.corp.test` (aes256, aes128 and rc4 keys).
    pub fn gw() -> Self {
        Self::for_keytab("IWA_AD_GW_KEYTAB", "gw.corp.test")
    }

    /// `HTTP/rc4.corp.test`, whose account only has an RC4 key.
    pub fn rc4() -> Self {
        Self::for_keytab("IWA_AD_RC4_KEYTAB", "rc4.corp.test")
    }

    /// A gateway with the keytab named by `var` for `HTTP/<host>`.
    pub fn for_keytab(var: &str, host: &str) -> Self {
        Self {
            keytab: ad().path(var),
            spn: format!("HTTP/{host}@{REALM}"),
            keytab_poll_seconds: 5,
            tls: false,
            strip_headers: vec!["X-Remote-Groups".into()],
            identity: Vec::new(),
            directory: None,
            files: Vec::new(),
            extra: Vec::new(),
            server: Vec::new(),
        }
    }

    /// With a `[directory]` over `dcs` (TOML values, e.g. a [`real_dc`] table) as the test
    /// AD's service account, plus `lines`; the bind password goes to `bind.password`.
    pub fn with_directory(mut self, dcs: &[String], lines: &[&str]) -> Self {
        let mut body = vec![
            format!("dcs = [{}]", dcs.join(", ")),
            format!("ca_file = \"{}\"", ad().path("IWA_AD_CA").display()),
            format!("bind_dn = \"{}\"", ad().var("IWA_AD_BIND_DN")),
            "bind_password_file = \"bind.password\"".to_owned(),
            format!("base_dn = \"{}\"", ad().var("IWA_AD_BASE_DN")),
        ];
        body.extend(lines.iter().map(|l| (*l).to_owned()));
        self.directory = Some(body);
        self.files.push((
            "bind.password".into(),
            format!("{}\n", ad().var("IWA_AD_BIND_PW")).into_bytes(),
        ));
        self
    }
}

/// Whether a TCP socket on 127.0.0.1 `port` is listening (`/proc/net/tcp`, state 0A).
fn listening(port: u16) -> bool {
    let local = format!("0100007F:{port:04X}");
    std::fs::read_to_string("/proc/net/tcp").is_ok_and(|t| {
        t.lines().skip(1).any(|l| {
            let mut f = l.split_whitespace();
            f.nth(1) == Some(local.as_str()) && f.nth(1) == Some("0A")
        })
    })
}

/// The test AD's DC over LDAPS, as a `directory.dcs` entry.
pub fn real_dc() -> String {
    dc_entry("IWA_AD_DC_HOST", "IWA_AD_DC_IP")
}

/// The test AD's second DC (`tests/ad/samba-ad.sh up dc2`) over LDAPS, as a `directory.dcs`
/// entry.
pub fn real_dc2() -> String {
    dc_entry("IWA_AD_DC2_HOST", "IWA_AD_DC2_IP")
}

fn dc_entry(host_var: &str, ip_var: &str) -> String {
    format!(
        "{{ host = \"{}\", address = \"{}:636\" }}",
        ad().var(host_var),
        ad().var(ip_var)
    )
}

/// A running gateway in front of its own `iwa-echo`, with routes `/` (negotiate) and
/// `/public/` (public).
#[derive(Debug)]
pub struct Gateway {
    host: String,
    http: SocketAddr,
    https: Option<SocketAddr>,
    admin: SocketAddr,
    keytab: PathBuf,
    // Field order is drop order: the gateway dies before its upstream, the files go last.
    proc: Proc,
    _echo: Echo,
    dir: Scratch,
}

impl Gateway {
    /// Starts a gateway (and its upstream) for one test; `label` names its directory.
    pub fn start(label: &str, opts: &GatewayOptions) -> Self {
        let dir = Scratch::new(label);
        let echo = Echo::start(&dir);
        let host = opts
            .spn
            .strip_prefix("HTTP/")
            .and_then(|s| s.split('@').next())
            .unwrap_or("gw.corp.test")
            .to_owned();
        let keytab_bytes = std::fs::read(&opts.keytab)
            .unwrap_or_else(|e| panic!("read {}: {e}", opts.keytab.display()));
        let keytab = dir.write("service.keytab", &keytab_bytes, 0o600);
        dir.write(
            "session.key",
            STANDARD.encode(random_bytes(32)).as_bytes(),
            0o600,
        );
        if opts.tls {
            make_tls_cert(&dir, &host);
        }
        for (name, bytes) in &opts.files {
            dir.write(name, bytes, 0o600);
        }
        let mut last_log = String::new();
        for _ in 0..3 {
            let ports = free_ports(3);
            let http = SocketAddr::from(([127, 0, 0, 1], ports[0]));
            let admin = SocketAddr::from(([127, 0, 0, 1], ports[1]));
            let https = opts
                .tls
                .then(|| SocketAddr::from(([127, 0, 0, 1], ports[2])));
            let config = gateway_config(opts, http, https, admin, echo.addr);
            let config_path = dir.write("gateway.toml", config.as_bytes(), 0o600);
            let log_path = dir.join("gateway.log");
            let log = std::fs::File::create(&log_path).expect("gateway log");
            let mut cmd = Command::new(gateway_bin());
            cmd.arg("run")
                .arg("--config")
                .arg(&config_path)
                .current_dir(dir.path())
                .env_remove("NO_COLOR")
                .env_remove("IWAGW_LOG")
                .stdin(Stdio::null())
                .stdout(log.try_clone().expect("gateway log"))
                .stderr(log);
            let mut proc = Proc::spawn(cmd, "iwa-gateway");
            let up = wait_until(READY_TIMEOUT, || {
                proc.exited().is_none()
                    && http_get(admin, "/readyz", &[]).is_ok_and(|r| r.status == 200)
                    && TcpStream::connect(http).is_ok()
                    // The TLS listener may come a moment later on a loaded machine; a probe
                    // would log a failed handshake, so look for the listening socket instead.
                    && https.is_none_or(|a| listening(a.port()))
            });
            if up {
                return Self {
                    host,
                    http,
                    https,
                    admin,
                    keytab,
                    proc,
                    _echo: echo,
                    dir,
                };
            }
            drop(proc);
            last_log = read_lossy(&log_path);
            if !last_log.contains("in use") {
                break;
            }
        }
        panic!(
            "the gateway did not become ready (config {}):\n{last_log}",
            dir.join("gateway.toml").display()
        );
    }

    /// `GET /readyz` on the admin listener.
    pub fn readyz(&self) -> Reply {
        http_get(self.admin, "/readyz", &[]).expect("the admin listener answers")
    }

    /// The host name clients use (`gw.corp.test`); it maps to 127.0.0.1.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The GSSAPI host-based service name, `HTTP@gw.corp.test`.
    pub fn service(&self) -> String {
        format!("HTTP@{}", self.host)
    }

    /// The gateway's process id (for `iwa-bench --server-pid`).
    pub fn pid(&self) -> u32 {
        self.proc.id()
    }

    /// The plain-HTTP listener.
    pub fn http_addr(&self) -> SocketAddr {
        self.http
    }

    /// The TLS listener.
    pub fn https_addr(&self) -> SocketAddr {
        self.https.expect("the gateway has no TLS listener")
    }

    /// `http://gw.corp.test:PORT/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.host, self.http.port())
    }

    /// `https://gw.corp.test:PORT/path`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}:{}{path}", self.host, self.https_addr().port())
    }

    /// The keytab the gateway reads (a copy the test may replace).
    pub fn keytab_path(&self) -> &Path {
        &self.keytab
    }

    /// The test's scratch directory.
    pub fn dir(&self) -> &Scratch {
        &self.dir
    }

    /// A fresh TGT for `user` in a ccache of this test.
    pub fn kinit(&self, user: &str) -> Ccache {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        ad().kinit(user, &self.dir.join(&format!("{user}-{n}.ccache")))
    }

    /// Sends SIGTERM and waits up to `timeout` for the gateway to exit; its exit status.
    pub fn terminate(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.proc.id().to_string()])
            .status();
        let mut status = None;
        wait_until(timeout, || {
            status = self.proc.exited();
            status.is_some()
        });
        status
    }

    /// Panics with the log if the gateway process died.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.proc.exited() {
            panic!("the gateway exited ({status}):\n{}", self.log());
        }
    }

    /// A curl request to this gateway.
    pub fn curl(&self, path: &str) -> Curl<'_> {
        Curl::new(self, path)
    }

    /// A GET over a plain TCP connection with exactly these extra headers (no client logic).
    pub fn get(&self, path: &str, headers: &[(&str, &str)]) -> Reply {
        let mut all = vec![("Host", self.host.as_str())];
        all.extend_from_slice(headers);
        http_get(self.http, path, &all)
            .unwrap_or_else(|e| panic!("GET {path} from the gateway: {e}"))
    }

    /// `iwa-negotiate get`: one GET with a fresh token, the mutual-authentication reply
    /// verified with the same GSS context.
    pub fn negotiate_get(&self, ccache: &Ccache, path: &str, opts: &NegotiateGet) -> Value {
        let mut cmd = Command::new(e2e_bin("iwa-negotiate"));
        cmd.arg("get")
            .arg("--spn")
            .arg(opts.service.clone().unwrap_or_else(|| self.service()))
            .arg("--connect")
            .arg(self.http.to_string());
        if opts.raw {
            cmd.arg("--raw");
        }
        if let Some(h) = &opts.header {
            cmd.arg("--header").arg(h);
        }
        cmd.arg(self.url(path));
        ccache.apply(&mut cmd);
        let out = run(cmd, "iwa-negotiate get");
        assert!(
            out.status.success(),
            "iwa-negotiate get failed: {}",
            stderr_of(&out)
        );
        serde_json::from_slice(&out.stdout).expect("iwa-negotiate prints JSON")
    }

    /// `/metrics` of the admin listener.
    pub fn metrics(&self) -> Metrics {
        let r = http_get(self.admin, "/metrics", &[]).expect("GET /metrics");
        assert_eq!(r.status, 200, "/metrics: {}", r.body);
        Metrics(r.body)
    }

    /// One series of `/metrics`, e.g.
    /// `metric("iwagw_spnego_handshakes_total", &[("reason", "replay"), ("result", "failure")])`.
    pub fn metric(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        self.metrics().value(name, labels)
    }

    /// The gateway's log so far (stdout and stderr), without ANSI colours.
    pub fn log(&self) -> String {
        strip_ansi(&self.raw_log())
    }

    /// The gateway's log file as written, once it has settled: the gateway writes its log from
    /// a thread of its own, a moment after the event (and after the response it may belong to).
    pub fn raw_log(&self) -> String {
        let path = self.dir.join("gateway.log");
        let mut last = read_lossy(&path);
        for _ in 0..40 {
            std::thread::sleep(Duration::from_millis(25));
            let now = read_lossy(&path);
            if now.len() == last.len() {
                return now;
            }
            last = now;
        }
        last
    }

    /// The audit lines (target `security`) so far.
    pub fn audit_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains(" security: "))
            .map(str::to_owned)
            .collect()
    }

    /// The audit lines containing every one of `needles`, waiting up to 5 s for at least one.
    pub fn wait_audit(&self, needles: &[&str]) -> Vec<String> {
        let mut found = Vec::new();
        wait_until(Duration::from_secs(5), || {
            found = self
                .audit_lines()
                .into_iter()
                .filter(|l| needles.iter().all(|n| l.contains(n)))
                .collect();
            !found.is_empty()
        });
        found
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let log = self.log();
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines.get(lines.len().saturating_sub(40)..).unwrap_or(&[]);
            eprintln!(
                "--- last lines of {} ---\n{}\n---",
                self.dir.join("gateway.log").display(),
                tail.join("\n")
            );
        }
    }
}

/// Options of [`Gateway::negotiate_get`].
#[derive(Debug, Clone, Default)]
pub struct NegotiateGet {
    /// Raw krb5 mechanism instead of SPNEGO.
    pub raw: bool,
    /// Another service name than the gateway's, e.g. `HTTP@other.corp.test`.
    pub service: Option<String>,
    /// One extra request header, `Name: value`.
    pub header: Option<String>,
}

/// The gateway configuration for `opts`.
fn gateway_config(
    opts: &GatewayOptions,
    http: SocketAddr,
    https: Option<SocketAddr>,
    admin: SocketAddr,
    upstream: SocketAddr,
) -> String {
    let mut c = String::new();
    let _ = writeln!(c, "version = 1\n\n[server]\nthreads = 1");
    let _ = writeln!(
        c,
        "grace_period_seconds = 0\ngraceful_shutdown_timeout_seconds = 1"
    );
    for line in &opts.server {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c);
    let _ = writeln!(c, "[[listeners]]\naddress = \"{http}\"\n");
    if let Some(a) = https {
        let _ = writeln!(
            c,
            "[[listeners]]\naddress = \"{a}\"\ntls = {{ cert = \"tls.pem\", key = \"tls.key\" }}\n"
        );
    }
    let _ = writeln!(c, "[admin]\naddress = \"{admin}\"\n");
    let _ = writeln!(
        c,
        "[kerberos]\nkeytab = \"service.keytab\"\nspns = [\"{}\"]\nkeytab_poll_seconds = {}\n",
        opts.spn, opts.keytab_poll_seconds
    );
    let _ = writeln!(c, "[session]\nkey_files = [\"session.key\"]\n");
    let strip: Vec<String> = opts
        .strip_headers
        .iter()
        .map(|h| format!("\"{h}\""))
        .collect();
    let _ = writeln!(c, "[identity]\nstrip_headers = [{}]", strip.join(", "));
    for line in &opts.identity {
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c);
    if let Some(lines) = &opts.directory {
        let _ = writeln!(c, "[directory]\n{}\n", lines.join("\n"));
    }
    let https_port = https.map(|a| a.port().to_string()).unwrap_or_default();
    for line in &opts.extra {
        let line = line.replace("{https_port}", &https_port);
        let _ = writeln!(c, "{line}");
    }
    let _ = writeln!(c);
    let _ = writeln!(c, "[[routes]]\nprefix = \"/\"\nupstream = \"{upstream}\"\n");
    let _ = writeln!(
        c,
        "[[routes]]\nprefix = \"/public/\"\nupstream = \"{upstream}\"\nauth = \"public\"\n"
    );
    let _ = writeln!(c, "[log]\nlevel = \"info\"\nformat = \"text\"");
    c
}
