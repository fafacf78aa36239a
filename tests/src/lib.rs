//! The harness for the end-to-end tests in `tests/tests/`: the built `iwa-gateway` between real
//! clients (curl, `iwa-negotiate` on MIT GSSAPI, headless Chromium) and the `iwa-echo` upstream,
//! with tickets from the throw-away Samba AD DC of `tests/ad/samba-ad.sh`.
//!
//! ```text
//! tests/ad/samba-ad.sh up && cargo build -p gateway -p e2e && cargo test -p e2e
//! ```
//!
//! Each test starts its own [`Gateway`] (and upstream) on free loopback ports, with a
//! configuration and a copy of the keytab in its own scratch directory; dropping it kills both
//! processes. When a test fails the directory is kept and the end of the gateway log is printed.
//!
//! Tests run on parallel threads, so nothing here changes process-wide state: Kerberos settings
//! (`KRB5_CONFIG`, `KRB5CCNAME`) are given to each child process only, and every test gets its
//! own credential caches (never the shared `<state>/ccache/USER` files).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::ops::Range;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The realm of the test DC.
pub const REALM: &str = "CORP.TEST";
/// The NTLM NEGOTIATE_MESSAGE a browser sends in `Negotiate` when Kerberos is not available.
pub const NTLM_NEGOTIATE: &str = "TlRMTVNTUAABAAAAB4IIogAAAAAAAAAAAAAAAAAAAAAFASgKAAAADw==";

/// How long a child process gets to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(15);
/// Upper bound for one client command (curl, iwa-negotiate, kinit, Chromium).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

// ------------------------------------------------------------------------------------- paths --

/// The workspace root (the parent of this crate).
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_owned()
}

/// The directory holding the binaries of the current build (`<target>/debug`): the test binary
/// runs from `<target>/debug/deps/`. This follows `CARGO_TARGET_DIR` when one is set.
fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    exe.parent()
        .and_then(Path::parent)
        .map_or_else(|| workspace_root().join("target/debug"), Path::to_owned)
}

/// A binary of this package (`iwa-echo`, `iwa-negotiate`), which cargo builds before the tests.
pub fn e2e_bin(name: &str) -> PathBuf {
    let path = profile_dir().join(name);
    assert!(
        path.is_file(),
        "{} is missing: build it with cargo build -p e2e",
        path.display()
    );
    path
}

/// The gateway binary: `$IWAGW_BIN`, else `iwa-gateway` next to this package's binaries
/// (`<workspace>/target/debug/iwa-gateway`). It is another crate's binary, so `cargo test -p
/// e2e` does not build it.
pub fn gateway_bin() -> PathBuf {
    let path = std::env::var_os("IWAGW_BIN")
        .map_or_else(|| profile_dir().join("iwa-gateway"), PathBuf::from);
    assert!(
        path.is_file(),
        "the gateway binary {} is missing: build it with cargo build -p gateway \
         (or point IWAGW_BIN at one)",
        path.display()
    );
    path
}

// ---------------------------------------------------------------------------------- AD env --

/// The test DC's environment: the `export K='v'` lines of `tests/ad/samba-ad.sh env`.
#[derive(Debug)]
pub struct Ad {
    vars: BTreeMap<String, String>,
}

/// The AD environment, loaded once per test binary. Panics (never skips) when the DC is not
/// running: the end-to-end tests are worthless without it.
pub fn ad() -> &'static Ad {
    static AD: OnceLock<Ad> = OnceLock::new();
    AD.get_or_init(Ad::load)
}

fn samba_ad_script() -> PathBuf {
    workspace_root().join("tests/ad/samba-ad.sh")
}

impl Ad {
    fn load() -> Self {
        let script = samba_ad_script();
        let status = Command::new(&script)
            .arg("status")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        if !status.status.success() {
            panic!(
                "the Samba AD DC is not running ({}): start it with tests/ad/samba-ad.sh up",
                String::from_utf8_lossy(&status.stdout).trim()
            );
        }
        let env = Command::new(&script)
            .arg("env")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} env: {e}", script.display()));
        assert!(
            env.status.success(),
            "tests/ad/samba-ad.sh env failed: {}",
            String::from_utf8_lossy(&env.stderr)
        );
        let vars = parse_exports(&String::from_utf8_lossy(&env.stdout));
        assert!(
            vars.contains_key("IWA_AD_PW_ALICE"),
            "tests/ad/samba-ad.sh env printed no passwords: is the DC provisioned? \
             start it with tests/ad/samba-ad.sh up"
        );
        Self { vars }
    }

    /// A variable of `samba-ad.sh env`.
    pub fn var(&self, name: &str) -> &str {
        self.vars
            .get(name)
            .unwrap_or_else(|| panic!("tests/ad/samba-ad.sh env does not set {name}"))
    }

    /// A variable naming a file.
    pub fn path(&self, name: &str) -> PathBuf {
        PathBuf::from(self.var(name))
    }

    /// `KRB5_CONFIG` for clients.
    pub fn krb5_config(&self) -> &str {
        self.var("KRB5_CONFIG")
    }

    /// A fresh TGT for `user` in a new file ccache at `path` (MIT `kinit`, password on stdin).
    pub fn kinit(&self, user: &str, path: &Path) -> Ccache {
        let var = format!("IWA_AD_PW_{}", user.to_ascii_uppercase().replace('-', "_"));
        let password = self.var(&var).to_owned();
        let mut child = Command::new("kinit")
            .arg(format!("{user}@{REALM}"))
            .env("KRB5_CONFIG", self.krb5_config())
            .env("KRB5CCNAME", format!("FILE:{}", path.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit (apt-get install krb5-user)");
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{password}");
        }
        let out = wait_output(child, CLIENT_TIMEOUT, "kinit");
        assert!(
            out.status.success(),
            "kinit {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Ccache {
            path: path.to_owned(),
        }
    }

    /// `tests/ad/samba-ad.sh rotate ACCOUNT KEYTAB`: a new password for a service account, its
    /// new keys (only them) written to `keytab` by rename. Returns the new kvno.
    pub fn rotate(&self, account: &str, keytab: &Path) -> u32 {
        let out = Command::new(samba_ad_script())
            .arg("rotate")
            .arg(account)
            .arg(keytab)
            .output()
            .expect("tests/ad/samba-ad.sh rotate");
        assert!(
            out.status.success(),
            "rotate {account} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        text.trim()
            .parse()
            .unwrap_or_else(|_| panic!("rotate printed `{text}`, not a kvno"))
    }
}

/// Parses `export K='v'` lines (single quotes, `'\''` for a quote).
fn parse_exports(text: &str) -> BTreeMap<String, String> {
    let mut vars = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("export ") else {
            continue;
        };
        let Some((key, value)) = rest.split_once('=') else {
            continue;
        };
        let value = value
            .strip_prefix('\'')
            .and_then(|v| v.strip_suffix('\''))
            .unwrap_or(value)
            .replace("'\\''", "'");
        vars.insert(key.to_owned(), value);
    }
    vars
}

/// A file credential cache owned by one test.
#[derive(Debug, Clone)]
pub struct Ccache {
    path: PathBuf,
}

impl Ccache {
    /// The value for `KRB5CCNAME`.
    pub fn name(&self) -> String {
        format!("FILE:{}", self.path.display())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A copy at `path`, with the service tickets this one holds (a client that already
    /// talked to the gateway).
    pub fn copy_to(&self, path: &Path) -> Self {
        std::fs::copy(&self.path, path).expect("copy the ccache");
        Self {
            path: path.to_owned(),
        }
    }

    /// Applies the Kerberos client environment to a child command.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("KRB5CCNAME", self.name())
            .env("KRB5_CONFIG", ad().krb5_config());
    }

    /// `kvno SPN` into this cache: fetches (or shows the cached) service ticket and returns its
    /// kvno.
    pub fn kvno(&self, spn: &str) -> u32 {
        let mut cmd = Command::new("kvno");
        cmd.arg(spn);
        self.apply(&mut cmd);
        let out = run(cmd, "kvno");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kvno {spn} failed: {}",
            stderr_of(&out)
        );
        // "HTTP/rot.corp.test@CORP.TEST: kvno = 3"
        text.rsplit("kvno = ")
            .next()
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("kvno printed `{text}`"))
    }
}

// ---------------------------------------------------------------------------------- scratch --

/// A directory for one test's files. Removed on drop, kept when the test fails.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// A new empty directory under the system temp dir, named after `label`.
    pub fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("iwa-e2e-{label}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create the scratch directory");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o700))
            .expect("chmod the scratch directory");
        Self { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A path inside it.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes a file with `mode`.
    pub fn write(&self, name: &str, contents: &[u8], mode: u32) -> PathBuf {
        let path = self.join(name);
        std::fs::write(&path, contents).expect("write a scratch file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))
            .expect("chmod a scratch file");
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept the test files in {}", self.path.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

// ---------------------------------------------------------------------------------- children --

/// A child process killed (with its process group) and reaped on drop.
#[derive(Debug)]
struct Proc {
    child: Child,
}

impl Proc {
    /// Spawns `cmd` in a process group of its own, so helpers it starts die with it.
    fn spawn(mut cmd: Command, what: &str) -> Self {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self { child }
    }

    /// Whether it exited already (and how).
    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if self.exited().is_none() {
            kill_group(self.child.id());
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// SIGKILL to the process group led by `pid` (a child we spawned with `process_group(0)`).
fn kill_group(pid: u32) {
    let _ = Command::new("kill")
        .arg("-KILL")
        .arg("--")
        .arg(format!("-{pid}"))
        .stderr(Stdio::null())
        .status();
}

/// Waits for a spawned client, killing its process group after `timeout`.
fn wait_output(child: Child, timeout: Duration, what: &str) -> Output {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Ok(out) = rx.recv_timeout(timeout) else {
        kill_group(pid);
        let _ = waiter.join();
        panic!("{what} did not finish within {timeout:?}");
    };
    let _ = waiter.join();
    out.unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Runs a client command to completion (in its own process group, with a timeout).
fn run(mut cmd: Command, what: &str) -> Output {
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    wait_output(child, CLIENT_TIMEOUT, what)
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `n` distinct free loopback ports (bound together, then released for the child to bind).
fn free_ports(n: usize) -> Vec<u16> {
    let listeners: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if ready() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

// -------------------------------------------------------------------------------- processes --

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
        }
    }
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
                    // The TLS listener starts with this one (probing it would log a failed
                    // handshake).
                    && TcpStream::connect(http).is_ok()
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

    /// The host name clients use (`gw.corp.test`); it maps to 127.0.0.1.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The GSSAPI host-based service name, `HTTP@gw.corp.test`.
    pub fn service(&self) -> String {
        format!("HTTP@{}", self.host)
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

    /// Panics with the log if the gateway process died.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.proc.exited() {
            panic!("the gateway exited ({status}):\n{}", self.log());
        }
    }

    /// A curl request to this gateway.
    pub fn curl(&self, path: &str) -> Curl<'_> {
        Curl {
            gw: self,
            path: path.to_owned(),
            ccache: None,
            headers: Vec::new(),
            tls: false,
            http2: false,
        }
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

    /// The gateway's log file as written.
    pub fn raw_log(&self) -> String {
        read_lossy(&self.dir.join("gateway.log"))
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
        "grace_period_seconds = 0\ngraceful_shutdown_timeout_seconds = 1\n"
    );
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
    let _ = writeln!(c, "[identity]\nstrip_headers = [{}]\n", strip.join(", "));
    let _ = writeln!(c, "[[routes]]\nprefix = \"/\"\nupstream = \"{upstream}\"\n");
    let _ = writeln!(
        c,
        "[[routes]]\nprefix = \"/public/\"\nupstream = \"{upstream}\"\nauth = \"public\"\n"
    );
    let _ = writeln!(c, "[log]\nlevel = \"info\"\nformat = \"text\"");
    c
}

/// A key and a certificate for `host` signed by the test DC's CA, as `tls.key`/`tls.pem`.
fn make_tls_cert(dir: &Scratch, host: &str) {
    let ca = ad().path("IWA_AD_CA");
    let ca_key = ad().path("IWA_AD_STATE").join("tls/ca.key");
    let ext = dir.write(
        "tls.ext",
        format!(
            "subjectAltName = DNS:{host}\nextendedKeyUsage = serverAuth\n\
             keyUsage = critical, digitalSignature\nbasicConstraints = CA:FALSE\n"
        )
        .as_bytes(),
        0o600,
    );
    let mut req = Command::new("openssl");
    req.args([
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
    ])
    .args(["-nodes", "-subj", &format!("/CN={host}"), "-keyout"])
    .arg(dir.join("tls.key"))
    .arg("-out")
    .arg(dir.join("tls.csr"));
    let out = run(req, "openssl req");
    assert!(out.status.success(), "openssl req: {}", stderr_of(&out));
    let serial = format!("0x{}", hex_string(&random_bytes(8)));
    let mut sign = Command::new("openssl");
    sign.args([
        "x509",
        "-req",
        "-sha256",
        "-days",
        "2",
        "-set_serial",
        &serial,
        "-in",
    ])
    .arg(dir.join("tls.csr"))
    .arg("-CA")
    .arg(&ca)
    .arg("-CAkey")
    .arg(&ca_key)
    .arg("-extfile")
    .arg(&ext)
    .arg("-out")
    .arg(dir.join("tls.pem"));
    let out = run(sign, "openssl x509 -req");
    assert!(
        out.status.success(),
        "signing the gateway certificate with {}: {}",
        ca_key.display(),
        stderr_of(&out)
    );
    std::fs::set_permissions(dir.join("tls.key"), std::fs::Permissions::from_mode(0o600))
        .expect("chmod tls.key");
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}

/// Removes ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

// ----------------------------------------------------------------------------------- clients --

pub use serde_json::Value;

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

/// `iwa-negotiate tokens`: `count` fresh base64 tokens for `service`, each from a new context.
pub fn tokens(ccache: &Ccache, service: &str, count: usize, raw: bool) -> Vec<String> {
    make_tokens(ccache, service, count, raw, None)
}

/// Like [`tokens`], bound to a channel: `application_data` as in
/// [`tls_server_end_point`].
pub fn bound_tokens(
    ccache: &Ccache,
    service: &str,
    count: usize,
    application_data: &[u8],
) -> Vec<String> {
    make_tokens(ccache, service, count, false, Some(application_data))
}

fn make_tokens(
    ccache: &Ccache,
    service: &str,
    count: usize,
    raw: bool,
    channel_binding: Option<&[u8]>,
) -> Vec<String> {
    let mut cmd = Command::new(e2e_bin("iwa-negotiate"));
    cmd.args(["tokens", "--spn", service, "--count", &count.to_string()]);
    if raw {
        cmd.arg("--raw");
    }
    if let Some(cb) = channel_binding {
        cmd.arg("--channel-binding").arg(STANDARD.encode(cb));
    }
    ccache.apply(&mut cmd);
    let out = run(cmd, "iwa-negotiate tokens");
    assert!(
        out.status.success(),
        "iwa-negotiate tokens failed: {}",
        stderr_of(&out)
    );
    let tokens: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(tokens.len(), count, "iwa-negotiate printed {tokens:?}");
    tokens
}

/// The channel-binding application data a browser sends over HTTPS to a server with the
/// certificate in `pem` (RFC 5929 §4.1 `tls-server-end-point`: SHA-256 of the DER certificate,
/// right for the SHA-256 signatures of our test certificates).
pub fn tls_server_end_point(pem: &Path) -> Vec<u8> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("openssl x509 -in \"$1\" -outform der | openssl dgst -sha256 -binary")
        .arg("sh")
        .arg(pem);
    let out = run(cmd, "openssl (certificate hash)");
    assert!(
        out.status.success() && out.stdout.len() == 32,
        "hash of {}: {}",
        pem.display(),
        stderr_of(&out)
    );
    let mut data = b"tls-server-end-point:".to_vec();
    data.extend_from_slice(&out.stdout);
    data
}

/// A response, from curl or the plain client.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `1.1` or `2` (curl) / `1.1` (plain client).
    pub version: String,
    /// Headers of the final response, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as the JSON `iwa-echo` answers with.
    pub fn echo(&self) -> Echoed {
        let v: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not iwa-echo's JSON ({e}); status {}: {}",
                self.status, self.body
            )
        });
        Echoed(v)
    }
}

/// What the upstream (`iwa-echo`) received.
#[derive(Debug, Clone)]
pub struct Echoed(pub Value);

impl Echoed {
    /// The values of a request header the upstream received (empty if none).
    pub fn header(&self, name: &str) -> Vec<String> {
        self.0["headers"][name.to_ascii_lowercase()]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of every header the upstream received.
    pub fn header_names(&self) -> Vec<String> {
        self.0["headers"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The path it received.
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }
}

/// A curl command against a [`Gateway`].
#[derive(Debug)]
pub struct Curl<'a> {
    gw: &'a Gateway,
    path: String,
    ccache: Option<Ccache>,
    headers: Vec<String>,
    tls: bool,
    http2: bool,
}

impl Curl<'_> {
    /// `--negotiate -u :` with this ccache.
    pub fn negotiate(mut self, ccache: &Ccache) -> Self {
        self.ccache = Some(ccache.clone());
        self
    }

    /// `-H 'Name: value'`.
    pub fn header(mut self, header: &str) -> Self {
        self.headers.push(header.to_owned());
        self
    }

    /// To the TLS listener (`--cacert` the test CA), HTTP/2 if `http2`.
    pub fn https(mut self, http2: bool) -> Self {
        self.tls = true;
        self.http2 = http2;
        self
    }

    /// Runs curl and returns the final response.
    pub fn send(self) -> Reply {
        let dir = &self.gw.dir;
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let head = dir.join(&format!("curl-{n}.head"));
        let body = dir.join(&format!("curl-{n}.body"));
        let (url, port) = if self.tls {
            (self.gw.https_url(&self.path), self.gw.https_addr().port())
        } else {
            (self.gw.url(&self.path), self.gw.http.port())
        };
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "30",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("--resolve")
        .arg(format!("{}:{port}:127.0.0.1", self.gw.host))
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body);
        if self.tls {
            cmd.arg("--cacert").arg(ad().path("IWA_AD_CA"));
            cmd.arg(if self.http2 { "--http2" } else { "--http1.1" });
        }
        for h in &self.headers {
            cmd.arg("-H").arg(h);
        }
        match &self.ccache {
            Some(cc) => {
                cmd.args(["--negotiate", "-u", ":"]);
                cc.apply(&mut cmd);
            }
            None => {
                cmd.env_remove("KRB5CCNAME");
            }
        }
        cmd.arg(&url);
        let out = run(cmd, "curl");
        assert!(
            out.status.success(),
            "curl {url} failed: {}",
            stderr_of(&out)
        );
        let written = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut parts = written.split(' ');
        let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let version = parts.next().unwrap_or_default().to_owned();
        let head = read_lossy(&head);
        // With --negotiate, curl writes the 401 first: keep the last response's headers.
        let last = head
            .split("\r\n\r\n")
            .filter(|b| b.starts_with("HTTP/"))
            .last()
            .unwrap_or_default();
        Reply {
            status,
            version,
            headers: parse_header_lines(last.lines().skip(1)),
            body: read_lossy(&body),
        }
    }
}

fn parse_header_lines<'a>(lines: impl Iterator<Item = &'a str>) -> Vec<(String, String)> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A GET over a new HTTP/1.1 connection (`Connection: close`), headers sent exactly as given.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        let _ = write!(req, "Host: {addr}\r\n");
    }
    for (n, v) in headers {
        let _ = write!(req, "{n}: {v}\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let rest = raw.get(split + 4..)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split(' ');
    let version = parts.next()?.strip_prefix("HTTP/")?.to_owned();
    let status = parts.next()?.parse().ok()?;
    let headers = parse_header_lines(lines);
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Reply {
        status,
        version,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(data.get(..eol)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = data.get(eol + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

// ----------------------------------------------------------------------------------- metrics --

/// A `/metrics` scrape.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The series name with its labels as the text format prints them (labels sorted by name).
    pub fn series(name: &str, labels: &[(&str, &str)]) -> String {
        if labels.is_empty() {
            return name.to_owned();
        }
        let mut labels = labels.to_vec();
        labels.sort_unstable();
        let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
        format!("{name}{{{}}}", inner.join(","))
    }

    /// The value of one series, if present.
    pub fn value(&self, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
        let series = Self::series(name, labels);
        self.0.lines().find_map(|l| {
            l.strip_prefix(&series)
                .and_then(|rest| rest.strip_prefix(' '))
                .and_then(|v| v.trim().parse().ok())
        })
    }

    /// Every `iwagw_spnego_handshakes_total` series with a non-zero value, as
    /// `result/reason → count`.
    pub fn handshakes(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for line in self.0.lines() {
            let Some(rest) = line.strip_prefix("iwagw_spnego_handshakes_total{") else {
                continue;
            };
            let Some((labels, value)) = rest.split_once("} ") else {
                continue;
            };
            let label = |k: &str| {
                labels
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(&format!("{k}=\"")))
                    .map(|v| v.trim_end_matches('"').to_owned())
                    .unwrap_or_default()
            };
            let value: u64 = value.trim().parse().unwrap_or(0);
            if value > 0 {
                out.insert(format!("{}/{}", label("result"), label("reason")), value);
            }
        }
        out
    }
}

// ------------------------------------------------------------------------------------ tokens --

/// Decodes a base64 token.
pub fn decode_token(b64: &str) -> Vec<u8> {
    STANDARD.decode(b64.trim()).expect("a base64 token")
}

/// Encodes a token in base64.
pub fn encode_token(token: &[u8]) -> String {
    STANDARD.encode(token)
}

/// One DER element: its tag and the range of its contents in the buffer.
fn der_at(buf: &[u8], pos: usize) -> Option<(u8, Range<usize>)> {
    let tag = *buf.get(pos)?;
    let first = *buf.get(pos + 1)?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), pos + 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(pos + 2 + i)?);
        }
        (len, pos + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= buf.len()).then_some((tag, start..end))
}

/// The contents of the first element tagged `tag` among the elements filling `within`.
fn der_child(buf: &[u8], within: Range<usize>, tag: u8) -> Option<Range<usize>> {
    let mut pos = within.start;
    while pos < within.end {
        let (t, r) = der_at(buf, pos)?;
        if t == tag {
            return Some(r);
        }
        pos = r.end;
    }
    None
}

/// OID 1.3.6.1.5.5.2 (SPNEGO), contents octets.
const SPNEGO_OID: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x02];

/// Where the ticket's `enc-part` cipher text sits in a Negotiate token (SPNEGO NegTokenInit
/// or a raw krb5 token): RFC 4178 §4.2.1 `mechToken`, RFC 4121 §4.1 `TOK_ID 01 00`, RFC 4120
/// §5.5.1 `AP-REQ ::= [APPLICATION 14] SEQUENCE { …, ticket [3] Ticket, … }`, §5.3
/// `Ticket ::= [APPLICATION 1] SEQUENCE { …, enc-part [3] EncryptedData }`, `EncryptedData ::=
/// SEQUENCE { etype [0], kvno [1] OPTIONAL, cipher [2] OCTET STRING }`.
pub fn ticket_cipher_range(token: &[u8]) -> Option<Range<usize>> {
    let gss = der_child(token, 0..token.len(), 0x60)?;
    let (oid_tag, oid) = der_at(token, gss.start)?;
    if oid_tag != 0x06 {
        return None;
    }
    let krb5_token = if token.get(oid.clone())? == SPNEGO_OID {
        let init = der_child(token, oid.end..gss.end, 0xa0)?;
        let seq = der_child(token, init, 0x30)?;
        let mech_token = der_child(token, seq, 0xa2)?;
        let octets = der_child(token, mech_token, 0x04)?;
        der_child(token, octets, 0x60)?
    } else {
        gss
    };
    let (_, krb5_oid) = der_at(token, krb5_token.start)?;
    // Two octets of TOK_ID (01 00 = AP-REQ) follow the mechanism OID.
    let ap_req = der_child(token, krb5_oid.end + 2..krb5_token.end, 0x6e)?;
    let ap_seq = der_child(token, ap_req, 0x30)?;
    let ticket_field = der_child(token, ap_seq, 0xa3)?;
    let ticket = der_child(token, ticket_field, 0x61)?;
    let ticket_seq = der_child(token, ticket, 0x30)?;
    let enc_part = der_child(token, ticket_seq, 0xa3)?;
    let enc_seq = der_child(token, enc_part, 0x30)?;
    let cipher_field = der_child(token, enc_seq, 0xa2)?;
    der_child(token, cipher_field, 0x04)
}

/// The token with one bit flipped in the middle of the ticket's cipher text.
pub fn tamper_ticket_cipher(token: &[u8]) -> Vec<u8> {
    let range = ticket_cipher_range(token).expect("a Kerberos AP-REQ inside the token");
    let mid = range.start + range.len() / 2;
    let mut out = token.to_vec();
    out[mid] ^= 0x01;
    out
}

// ---------------------------------------------------------------------------------- Chromium --

/// Where the test expects Debian's Chromium (`apt-get install chromium`).
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// A headless Chromium run: `--dump-dom URL` in a fresh profile, signed in as `ccache`.
///
/// Two Chromium facts make this work without a prompt and on the first request:
/// - On Linux, Chromium only loads the GSSAPI library once the profile's Local State says
///   `net.received_http_auth_negotiate_headers`; the first `Negotiate` challenge a fresh
///   profile sees only sets it and fails (net error -339, `ERR_UNSUPPORTED_AUTH_SCHEME`, no
///   `AUTH_LIBRARY_LOAD` in the net log). We seed Local State with it, as a profile that has
///   met Negotiate before would have.
/// - Chromium builds the SPN from the canonical name (a CNAME lookup), and with
///   `--host-resolver-rules MAP gw.corp.test 127.0.0.1` that is `127.0.0.1` (`HTTP@127.0.0.1`,
///   "Server not found in Kerberos database"). The `--disable-auth-negotiate-cname-lookup`
///   switch no longer exists; the Local State pref `auth.disable_negotiate_cname_lookup`
///   (policy `DisableAuthNegotiateCnameLookup`) does the same.
#[derive(Debug)]
pub struct Chromium {
    args: Vec<String>,
    ccache: Ccache,
    net_log: bool,
}

/// What a Chromium run printed.
#[derive(Debug)]
pub struct ChromiumRun {
    /// The serialised DOM.
    pub dom: String,
    /// Chromium's stderr.
    pub stderr: String,
    /// The auth and HTTP/2 session events of the net log, one line each, when asked for.
    pub net_log: Option<String>,
}

impl Chromium {
    /// Chromium signed in with `ccache`, resolving `host` to 127.0.0.1.
    pub fn new(ccache: &Ccache, host: &str) -> Self {
        assert!(
            Path::new(CHROMIUM).is_file(),
            "{CHROMIUM} is missing: apt-get install chromium (the browser test needs it)"
        );
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            "--auth-server-allowlist=*.corp.test",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .chain([format!("--host-resolver-rules=MAP {host} 127.0.0.1")])
        .collect();
        Self {
            args,
            ccache: ccache.clone(),
            net_log: false,
        }
    }

    /// An extra command-line switch.
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Trusts the gateway's TLS certificate (by its public key) for this run.
    pub fn trust_gateway_cert(self, gw: &Gateway) -> Self {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(
                "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der \
                 | openssl dgst -sha256 -binary | base64",
            )
            .arg("sh")
            .arg(gw.dir().join("tls.pem"));
        let out = run(cmd, "openssl (SPKI hash)");
        let spki = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success() && spki.len() == 44,
            "SPKI hash of the gateway certificate: {spki} {}",
            stderr_of(&out)
        );
        self.arg(&format!("--ignore-certificate-errors-spki-list={spki}"))
    }

    /// Capture the net log's authentication and HTTP/2 session events (for assertions and
    /// failure messages).
    pub fn net_log(mut self) -> Self {
        self.net_log = true;
        self
    }

    /// Loads `url` and returns the DOM after load. `dir` holds the profile.
    pub fn dump_dom(&self, dir: &Scratch, url: &str) -> ChromiumRun {
        static N: AtomicU32 = AtomicU32::new(0);
        let profile = dir.join(&format!("chromium-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::create_dir_all(&profile).expect("profile dir");
        std::fs::write(
            profile.join("Local State"),
            r#"{"net":{"received_http_auth_negotiate_headers":true},"auth":{"disable_negotiate_cname_lookup":true,"server_allowlist":"*.corp.test"}}"#,
        )
        .expect("seed Local State");
        let net_log = profile.join("netlog.json");
        let mut cmd = Command::new(CHROMIUM);
        cmd.args(&self.args)
            .arg(format!("--user-data-dir={}", profile.display()))
            .env("HOME", &profile)
            .env_remove("DBUS_SESSION_BUS_ADDRESS");
        if self.net_log {
            cmd.arg(format!("--log-net-log={}", net_log.display()))
                .arg("--net-log-capture-mode=Default");
        }
        cmd.arg("--dump-dom").arg(url);
        self.ccache.apply(&mut cmd);
        let out = run(cmd, "chromium --dump-dom");
        let stderr = stderr_of(&out);
        assert!(
            out.status.success(),
            "chromium exited with {}: {stderr}",
            out.status
        );
        ChromiumRun {
            dom: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
            net_log: self.net_log.then(|| auth_events(&net_log)),
        }
    }
}

/// The `AUTH_*` and `HTTP2_SESSION_INITIALIZED` events of a Chromium net log, one per line.
fn auth_events(path: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(path) else {
        return format!("(no net log at {})", path.display());
    };
    // Chromium may leave the JSON unterminated if it exits early.
    let v: Value = serde_json::from_str(&text)
        .or_else(|_| serde_json::from_str(&format!("{}]}}", text.trim_end().trim_end_matches(','))))
        .unwrap_or(Value::Null);
    let names: BTreeMap<u64, String> = v["constants"]["logEventTypes"]
        .as_object()
        .map(|o| {
            o.iter()
                .filter_map(|(k, n)| n.as_u64().map(|n| (n, k.clone())))
                .collect()
        })
        .unwrap_or_default();
    let mut out = String::new();
    for e in v["events"].as_array().into_iter().flatten() {
        let name = e["type"]
            .as_u64()
            .and_then(|t| names.get(&t))
            .map_or("?", String::as_str);
        if name.contains("AUTH") || name == "HTTP2_SESSION_INITIALIZED" {
            let _ = writeln!(out, "{name} {}", e["params"]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exports() {
        let vars = parse_exports("export A='x y'\nexport B='it'\\''s'\nnoise\n");
        assert_eq!(vars["A"], "x y");
        assert_eq!(vars["B"], "it's");
        assert_eq!(vars.len(), 2);
    }

    #[test]
    fn strips_ansi() {
        assert_eq!(
            strip_ansi("\u{1b}[3mreason\u{1b}[0m\u{1b}[2m=\u{1b}[0m\"replay\""),
            "reason=\"replay\""
        );
    }

    #[test]
    fn reads_metric_series() {
        let m = Metrics(
            "# HELP x\niwagw_spnego_handshakes_total{reason=\"replay\",result=\"failure\"} 1\n\
             iwagw_spnego_handshakes_total{reason=\"ok\",result=\"success\"} 0\n"
                .into(),
        );
        assert_eq!(
            m.value(
                "iwagw_spnego_handshakes_total",
                &[("result", "failure"), ("reason", "replay")]
            ),
            Some(1.0)
        );
        assert_eq!(m.value("iwagw_spnego_handshakes_total", &[]), None);
        assert_eq!(
            m.handshakes().into_iter().collect::<Vec<_>>(),
            [("failure/replay".to_owned(), 1)]
        );
    }

    #[test]
    fn parses_responses() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nA: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.header("a"), r.body.as_str()),
            (200, Some("1"), "abc")
        );
    }

    #[test]
    fn finds_the_ticket_cipher() {
        // 60 len { 06 <krb5 oid> 01 00 6e { 30 { a3 { 61 { 30 { a3 { 30 { a2 { 04 {c0 c1 c2} } } } } } } } } }
        let krb5_oid = [
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02,
        ];
        let cipher = [0x04, 0x03, 0xc0, 0xc1, 0xc2];
        let wrap = |tag: u8, inner: &[u8]| {
            let mut v = vec![tag, u8::try_from(inner.len()).unwrap()];
            v.extend_from_slice(inner);
            v
        };
        let enc = wrap(0x30, &wrap(0xa2, &cipher));
        let ticket = wrap(0x61, &wrap(0x30, &wrap(0xa3, &enc)));
        let ap_req = wrap(0x6e, &wrap(0x30, &wrap(0xa3, &ticket)));
        let mut inner = krb5_oid.to_vec();
        inner.extend_from_slice(&[0x01, 0x00]);
        inner.extend_from_slice(&ap_req);
        let token = wrap(0x60, &inner);
        let range = ticket_cipher_range(&token).unwrap();
        assert_eq!(&token[range], &[0xc0, 0xc1, 0xc2]);
        let tampered = tamper_ticket_cipher(&token);
        assert_eq!(tampered.len(), token.len());
        assert_eq!(
            tampered.iter().zip(&token).filter(|(a, b)| a != b).count(),
            1
        );
    }
}
