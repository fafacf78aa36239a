//! Shared helpers of the `ldap_*` tests: the throw-away Samba AD DC of `tests/ad` (on
//! 127.0.0.21), directory configurations for it, an observer that records, and a TCP proxy
//! that can forward to the DC, hang, or drop connections.
//!
//! The tests need the DC and never skip: when it is down they fail with how to start it.

#![allow(dead_code)] // Each test binary uses a different part.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kdc_bridge::net::dc::DcEndpoint;
use kdc_bridge::net::ldap::{
    tls_config_from_pem, BindPassword, CacheEvent, DirectoryConfig, Operation, Security,
    ServiceAccount,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use zeroize::Zeroizing;

/// The DC's address.
pub const DC_IP: &str = "127.0.0.21";

/// The test DC's environment (`tests/ad/samba-ad.sh env`).
#[derive(Debug)]
pub struct Ad {
    vars: BTreeMap<String, String>,
}

/// The AD environment, loaded once per test binary. Panics when the DC is not running.
pub fn ad() -> &'static Ad {
    static AD: OnceLock<Ad> = OnceLock::new();
    AD.get_or_init(Ad::load)
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/ad/samba-ad.sh")
}

impl Ad {
    fn load() -> Self {
        let script = script();
        let status = Command::new(&script)
            .arg("status")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            status.status.success(),
            "the Samba AD DC is not running ({}): start it with tests/ad/samba-ad.sh up",
            String::from_utf8_lossy(&status.stdout).trim()
        );
        let env = Command::new(&script)
            .arg("env")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} env: {e}", script.display()));
        assert!(env.status.success(), "tests/ad/samba-ad.sh env failed");
        let mut vars = BTreeMap::new();
        for line in String::from_utf8_lossy(&env.stdout).lines() {
            let Some((key, value)) = line.strip_prefix("export ").and_then(|r| r.split_once('='))
            else {
                continue;
            };
            let value = value
                .strip_prefix('\'')
                .and_then(|v| v.strip_suffix('\''))
                .unwrap_or(value)
                .replace("'\\''", "'");
            vars.insert(key.to_owned(), value);
        }
        assert!(
            vars.contains_key("IWA_AD_BIND_PW"),
            "tests/ad/samba-ad.sh env printed no bind password: is the DC provisioned? \
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

    /// The CA bundle of the DC's certificate.
    pub fn ca_path(&self) -> PathBuf {
        PathBuf::from(self.var("IWA_AD_CA"))
    }

    /// LDAPS with the DC's CA.
    pub fn ldaps(&self) -> Security {
        Security::Ldaps(self.tls())
    }

    /// StartTLS with the DC's CA.
    pub fn starttls(&self) -> Security {
        Security::StartTls(self.tls())
    }

    fn tls(&self) -> Arc<rustls::ClientConfig> {
        let pem = std::fs::read(self.ca_path()).expect("read the DC's CA");
        tls_config_from_pem(&pem, "ca.pem").expect("the DC's CA parses")
    }

    /// svc-gw, the gateway's service account.
    pub fn service_account(&self) -> ServiceAccount {
        ServiceAccount {
            bind_dn: self.var("IWA_AD_BIND_DN").to_owned(),
            password: BindPassword::new(Zeroizing::new(self.var("IWA_AD_BIND_PW").to_owned())),
        }
    }

    /// A configuration for `dcs` with fast timeouts for tests.
    pub fn config(&self, dcs: Vec<DcEndpoint>, security: Security) -> DirectoryConfig {
        let mut config = DirectoryConfig::new(
            dcs,
            security,
            self.service_account(),
            self.var("IWA_AD_BASE_DN"),
        );
        config.timeouts.connect = Duration::from_millis(500);
        config.timeouts.handshake = Duration::from_millis(700);
        config.timeouts.bind = Duration::from_secs(2);
        config.timeouts.search = Duration::from_secs(5);
        config.timeouts.request_budget = Duration::from_secs(8);
        config
    }
}

/// The DC over LDAPS.
pub fn dc_ldaps() -> DcEndpoint {
    DcEndpoint::new(DC_IP, 636)
}

/// The DC on the LDAP port (StartTLS or plain).
pub fn dc_ldap() -> DcEndpoint {
    DcEndpoint::new(DC_IP, 389)
}

/// An address where nothing listens: connections are refused at once (127.0.0.21 is dc1 and
/// 127.0.0.22 dc2 of tests/ad/samba-ad.sh).
pub fn dead_dc() -> DcEndpoint {
    DcEndpoint::new("127.0.0.29", 636)
}

/// A CA certificate that has nothing to do with the DC (made with openssl).
pub fn unrelated_ca_pem() -> Vec<u8> {
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "/dev/null",
            "-subj",
            "/CN=unrelated test CA",
            "-days",
            "1",
        ])
        .output()
        .expect("openssl (installed by tests/ad/samba-ad.sh up)");
    assert!(
        out.status.success(),
        "openssl req failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// One thing the directory reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An LDAP operation on a DC, with its result.
    Op {
        dc: String,
        op: Operation,
        result: Result<(), &'static str>,
    },
    /// A DC changed state.
    State { dc: String, up: bool },
    /// A request moved from one DC to another.
    Failover {
        from: String,
        to: String,
        reason: &'static str,
    },
    /// A cache event.
    Cache(CacheEvent),
}

/// An observer that records everything.
#[derive(Debug, Default)]
pub struct Recorder {
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// Everything so far, and forgets it.
    pub fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap())
    }

    /// The DCs connected to (attempts), in order, with their results.
    pub fn connects(events: &[Event]) -> Vec<(String, Result<(), &'static str>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Op {
                    dc,
                    op: Operation::Connect,
                    result,
                } => Some((dc.clone(), *result)),
                _ => None,
            })
            .collect()
    }

    /// The cache events.
    pub fn cache_events(events: &[Event]) -> Vec<CacheEvent> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Cache(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn push(&self, e: Event) {
        self.events.lock().unwrap().push(e);
    }
}

impl kdc_bridge::net::ldap::Observer for Recorder {
    fn ldap_operation(
        &self,
        dc: &str,
        op: Operation,
        _elapsed: Duration,
        result: Result<(), &'static str>,
    ) {
        self.push(Event::Op {
            dc: dc.to_owned(),
            op,
            result,
        });
    }

    fn dc_state_changed(&self, dc: &str, up: bool) {
        self.push(Event::State {
            dc: dc.to_owned(),
            up,
        });
    }

    fn failover(&self, from: &str, to: &str, reason: &'static str) {
        self.push(Event::Failover {
            from: from.to_owned(),
            to: to.to_owned(),
            reason,
        });
    }

    fn cache(&self, event: CacheEvent) {
        self.push(Event::Cache(event));
    }
}

/// What the [`Proxy`] does with connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward to the target.
    Forward,
    /// Accept and never answer (a DC that hangs).
    Hang,
    /// Accept and close at once; forwarded connections are cut too (a DC that went away).
    Drop,
}

/// A TCP proxy on 127.0.0.1 in front of a target, whose behaviour a test switches.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accepted: Arc<Mutex<usize>>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// A proxy to `target`, starting in `mode`.
    pub async fn start(target: SocketAddr, mode: Mode) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = watch::channel(mode);
        let accepted = Arc::new(Mutex::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                *count.lock().unwrap() += 1;
                let mode = *rx.borrow();
                match mode {
                    Mode::Hang => held.push(client),
                    Mode::Drop => drop(client),
                    Mode::Forward => {
                        let mut rx = rx.clone();
                        tokio::spawn(async move {
                            let Ok(mut server) = TcpStream::connect(target).await else {
                                return;
                            };
                            let mut client = client;
                            tokio::select! {
                                _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                                _ = rx.wait_for(|m| *m != Mode::Forward) => {}
                            }
                        });
                    }
                }
            }
        });
        Self {
            addr,
            mode: tx,
            accepted,
            task,
        }
    }

    /// The DC as seen through the proxy: the certificate is still checked for `host`.
    pub fn endpoint(&self, host: &str, port: u16) -> DcEndpoint {
        DcEndpoint::new(host, port).with_connect_to(self.addr)
    }

    /// Switches the behaviour for new connections (and cuts forwarded ones unless
    /// `Forward`).
    pub fn set_mode(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> usize {
        *self.accepted.lock().unwrap()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The DC's LDAPS socket address.
pub fn dc_ldaps_addr() -> SocketAddr {
    format!("{DC_IP}:636").parse().unwrap()
}
