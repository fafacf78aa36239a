//! MIT's acceptor as the reference: the `iwa-mit-accept` child process (libgssapi `ServerCtx`),
//! and our acceptor, side by side.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use e2e::{Counter, Scratch};
use kdc_bridge::proto::acceptor::{AcceptRequest, Accepted, Acceptor, AcceptorConfig};
use kdc_bridge::proto::error::AcceptError;
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::MemoryReplayCache;

/// What MIT said about one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mit {
    /// Context established; the client principal.
    Accept(String),
    /// `GSS_S_CONTINUE_NEEDED`: SPNEGO asks for another mechanism, or DCE style. No identity.
    Continue,
    /// An error: major, minor and the message.
    Reject(String),
}

impl Mit {
    pub fn accepted(&self) -> Option<&str> {
        match self {
            Self::Accept(p) => Some(p),
            _ => None,
        }
    }
}

impl fmt::Display for Mit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Accept(p) => write!(f, "accept {p}"),
            Self::Continue => f.write_str("continue"),
            Self::Reject(m) => write!(f, "reject ({m})"),
        }
    }
}

/// How one MIT acceptor process is configured (all of it in the child's environment).
#[derive(Debug, Clone)]
pub struct Oracle {
    pub keytab: PathBuf,
    pub krb5_conf: PathBuf,
    /// `None`: `KRB5RCACHETYPE=none`. `Some(dir)`: MIT's default file replay cache in `dir`.
    pub rcache_dir: Option<PathBuf>,
    /// `--principal`: acquire the acceptor credential for this exact Kerberos principal
    /// instead of the default (any principal in the keytab).
    pub principal: Option<String>,
}

/// A running oracle.
#[derive(Debug)]
pub struct Running {
    child: Child,
    count: usize,
}

impl Oracle {
    /// Starts MIT on `tokens`; collect with [`Running::wait`].
    pub fn spawn(&self, scratch: &Scratch, tokens: &[&[u8]]) -> Running {
        static N: AtomicU32 = AtomicU32::new(0);
        let input = scratch.join(&format!("oracle-{}.in", N.fetch_add(1, Ordering::Relaxed)));
        let mut text = String::with_capacity(tokens.iter().map(|t| t.len() * 4 / 3 + 4).sum());
        for t in tokens {
            text.push_str(&STANDARD.encode(t));
            text.push('\n');
        }
        std::fs::write(&input, text).expect("write oracle input");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_iwa-mit-accept"));
        if let Some(p) = &self.principal {
            cmd.args(["--principal", p]);
        }
        cmd.env("KRB5_KTNAME", format!("FILE:{}", self.keytab.display()))
            .env("KRB5_CONFIG", &self.krb5_conf)
            .env_remove("KRB5CCNAME")
            .env_remove("KRB5_TRACE");
        match &self.rcache_dir {
            None => cmd
                .env("KRB5RCACHETYPE", "none")
                .env_remove("KRB5RCACHEDIR"),
            Some(d) => cmd.env_remove("KRB5RCACHETYPE").env("KRB5RCACHEDIR", d),
        };
        let child = cmd
            .stdin(std::fs::File::open(&input).expect("open oracle input"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn iwa-mit-accept");
        Running {
            child,
            count: tokens.len(),
        }
    }
}

impl Running {
    pub fn wait(self) -> Vec<Mit> {
        let out = self.child.wait_with_output().expect("iwa-mit-accept runs");
        assert!(
            out.status.success(),
            "iwa-mit-accept failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let verdicts: Vec<Mit> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| match l.split_once(' ') {
                Some(("accept", p)) => Mit::Accept(p.to_owned()),
                Some(("continue", _)) => Mit::Continue,
                Some(("reject", m)) => Mit::Reject(m.to_owned()),
                _ => panic!("iwa-mit-accept printed {l:?}"),
            })
            .collect();
        assert_eq!(verdicts.len(), self.count, "one verdict per token");
        verdicts
    }
}

/// Our acceptor over the same keytab bytes, with the keytab's principals as the SPNs.
#[derive(Debug)]
pub struct Ours {
    acceptor: Acceptor,
    keys: ServiceKeys,
}

impl Ours {
    pub fn new(keytab: &Path, max_skew_secs: i64) -> Self {
        let bytes = std::fs::read(keytab).expect("read keytab");
        let keytab = Keytab::extract(&bytes).expect("keytab parses");
        let mut spns: Vec<Principal> = Vec::new();
        for e in &keytab.entries {
            if !spns.contains(&e.principal) {
                spns.push(e.principal.clone());
            }
        }
        let config = AcceptorConfig {
            spns,
            max_skew_secs,
            ..AcceptorConfig::default()
        };
        Self {
            acceptor: Acceptor::new(config),
            keys: ServiceKeys::from_keytab(&keytab),
        }
    }

    pub fn spns(&self) -> &[Principal] {
        &self.acceptor.config().spns
    }

    /// A replay cache sized like the gateway's, for 2 × skew.
    pub fn replay_cache(&self) -> MemoryReplayCache {
        let skew = self.acceptor.config().max_skew_secs.unsigned_abs();
        MemoryReplayCache::new(Duration::from_secs(2 * skew), 10_000)
    }

    /// Verifies `token` at `now`, with a fresh replay cache unless one is given.
    pub fn check(
        &self,
        token: &[u8],
        now: i64,
        replay: Option<&MemoryReplayCache>,
    ) -> Result<Accepted, AcceptError> {
        let fresh;
        let replay = match replay {
            Some(r) => r,
            None => {
                fresh = self.replay_cache();
                &fresh
            }
        };
        let req = AcceptRequest {
            token,
            now,
            channel_binding: None,
        };
        self.acceptor
            .accept(&self.keys, replay, &mut Counter(now as u64), &req)
    }
}
