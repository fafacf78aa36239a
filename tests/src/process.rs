//! Where the binaries are, per-test scratch directories, and child processes: spawned in a
//! process group of their own, run with a timeout, killed with their helpers on drop.

use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Upper bound for one client command (curl, iwa-negotiate, kinit, Chromium).
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(60);

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

/// The `iwa-bench` binary next to this package's binaries (`cargo build -p bench`).
pub fn bench_bin() -> PathBuf {
    let path = profile_dir().join("iwa-bench");
    assert!(
        path.is_file(),
        "{} is missing: build it with cargo build -p bench",
        path.display()
    );
    path
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
pub(crate) struct Proc {
    child: Child,
}

impl Proc {
    /// The process id.
    pub(crate) fn id(&self) -> u32 {
        self.child.id()
    }

    /// Spawns `cmd` in a process group of its own, so helpers it starts die with it.
    pub(crate) fn spawn(mut cmd: Command, what: &str) -> Self {
        cmd.process_group(0);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
        Self { child }
    }

    /// Whether it exited already (and how).
    pub(crate) fn exited(&mut self) -> Option<std::process::ExitStatus> {
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
pub(crate) fn wait_output(child: Child, timeout: Duration, what: &str) -> Output {
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
pub(crate) fn run(mut cmd: Command, what: &str) -> Output {
    cmd.process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    wait_output(child, CLIENT_TIMEOUT, what)
}

/// A client's stderr as text.
pub(crate) fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// `n` distinct free loopback ports for a child to bind.
///
/// They are taken below the kernel's ephemeral range (`net.ipv4.ip_local_port_range`), where
/// neither `bind(port 0)` nor an outgoing connection's source port ever lands: a port released
/// here and bound by the child a moment later cannot have been taken by a curl, a browser or
/// the gateway's LDAP connection in between (CI once saw the SAML test SP fail with "Address
/// already in use" that way). A process-wide counter keeps this test binary's threads apart; the
/// start is spread by the process id, and every port is still checked by binding it.
pub fn free_ports(n: usize) -> Vec<u16> {
    const FIRST: u32 = 10_000;
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let below = ephemeral_low().max(FIRST + 1_000);
    let span = below - FIRST;
    let start = std::process::id().wrapping_mul(7_919) % span;
    let mut held: Vec<TcpListener> = Vec::with_capacity(n);
    for _ in 0..span {
        if held.len() == n {
            break;
        }
        let offset = (start + NEXT.fetch_add(1, Ordering::Relaxed)) % span;
        let port = u16::try_from(FIRST + offset).expect("ports below the ephemeral range fit");
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", port)) {
            held.push(listener);
        }
    }
    assert_eq!(held.len(), n, "no {n} free loopback ports below {below}");
    held.iter()
        .map(|l| l.local_addr().expect("local addr").port())
        .collect()
}

/// The low end of the kernel's ephemeral port range (Linux's default when unreadable).
fn ephemeral_low() -> u32 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
        .min(u32::from(u16::MAX))
}

/// Polls `ready` every 25 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut ready: impl FnMut() -> bool) -> bool {
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

/// A file's text (lossy UTF-8), or empty when it cannot be read.
pub(crate) fn read_lossy(path: &Path) -> String {
    std::fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default()
}
