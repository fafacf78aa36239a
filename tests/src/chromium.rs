//! Headless Chromium signed in with a test's ccache, as a browser user meets the gateway.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use serde_json::Value;

use crate::ad::Ccache;
use crate::gateway::Gateway;
use crate::process::{run, stderr_of, Scratch};

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
        let spki = spki_hash(gw);
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

/// The base64 SHA-256 of the gateway certificate's public key (what Chromium's
/// `--ignore-certificate-errors-spki-list` takes).
pub fn spki_hash(gw: &Gateway) -> String {
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
    spki
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
