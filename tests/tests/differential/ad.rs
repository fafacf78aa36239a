//! The throw-away Samba AD DC (tests/ad/samba-ad.sh) seen from a test: its settings, private
//! ccaches and fresh tokens from the project's MIT client.
//!
//! Nothing here sets a process-wide environment variable: every MIT setting goes to a child
//! process.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// The running DC's settings, from `samba-ad.sh env`.
#[derive(Debug)]
pub struct Ad {
    vars: HashMap<String, String>,
}

impl Ad {
    /// The running DC. Panics (the test fails, never skips) when it is not running.
    pub fn require() -> Self {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("tests/ has a parent")
            .to_path_buf();
        let script = repo.join("tests/ad/samba-ad.sh");
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
            .expect("samba-ad.sh env");
        assert!(env.status.success(), "samba-ad.sh env failed");
        let vars = String::from_utf8_lossy(&env.stdout)
            .lines()
            .filter_map(|l| {
                let (k, v) = l.strip_prefix("export ")?.split_once('=')?;
                Some((k.to_owned(), v.trim_matches('\'').to_owned()))
            })
            .collect();
        Self { vars }
    }

    pub fn var(&self, key: &str) -> &str {
        self.vars
            .get(key)
            .unwrap_or_else(|| panic!("samba-ad.sh env has no {key}"))
    }

    pub fn path(&self, key: &str) -> PathBuf {
        PathBuf::from(self.var(key))
    }

    pub fn krb5_conf(&self) -> PathBuf {
        self.path("KRB5_CONFIG")
    }

    fn password(&self, user: &str) -> &str {
        self.var(&format!("IWA_AD_PW_{}", user.to_ascii_uppercase()))
    }

    /// A TGT for `user` in the private ccache `name` under `scratch` (the shared
    /// `samba-ad.sh kinit` ccache could be rewritten by a concurrent test). `lifetime` is
    /// kinit's `-l`; `service` (kinit `-S`) asks the AS for that service ticket instead of a
    /// TGT.
    pub fn kinit(&self, scratch: &Scratch, user: &str, name: &str, krb5_conf: &Path) -> Kinit<'_> {
        Kinit {
            ad: self,
            cc: scratch.file(name),
            user: user.to_owned(),
            krb5_conf: krb5_conf.to_path_buf(),
            lifetime: None,
            service: None,
        }
    }
}

/// A pending `kinit`.
#[derive(Debug)]
pub struct Kinit<'a> {
    ad: &'a Ad,
    cc: PathBuf,
    user: String,
    krb5_conf: PathBuf,
    lifetime: Option<String>,
    service: Option<String>,
}

impl Kinit<'_> {
    pub fn lifetime(mut self, l: &str) -> Self {
        self.lifetime = Some(l.to_owned());
        self
    }

    pub fn service(mut self, s: &str) -> Self {
        self.service = Some(s.to_owned());
        self
    }

    /// Runs kinit; returns the ccache path.
    pub fn run(self) -> PathBuf {
        let Self {
            ad,
            cc,
            user,
            krb5_conf,
            lifetime,
            service,
        } = self;
        let mut cmd = Command::new("kinit");
        if let Some(l) = &lifetime {
            cmd.args(["-l", l]);
        }
        if let Some(s) = &service {
            cmd.args(["-S", s]);
        }
        let _ = std::fs::remove_file(&cc);
        let mut child = cmd
            .arg(format!("{user}@{}", ad.var("IWA_AD_REALM")))
            .env("KRB5_CONFIG", &krb5_conf)
            .env("KRB5CCNAME", format!("FILE:{}", cc.display()))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kinit (krb5-user) is installed");
        let mut stdin = child.stdin.take().expect("piped stdin");
        writeln!(stdin, "{}", ad.password(&user)).expect("write the password to kinit");
        drop(stdin);
        let out = child.wait_with_output().expect("kinit runs");
        assert!(
            out.status.success(),
            "kinit {user} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        cc
    }
}

/// Fresh tokens for `spn` (`HTTP@host`) from `iwa-negotiate tokens`, with the ccache and
/// krb5.conf given to that child only.
pub fn tokens(ccache: &Path, krb5_conf: &Path, spn: &str, count: usize, raw: bool) -> Vec<Vec<u8>> {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_iwa-negotiate"));
    cmd.args(["tokens", "--spn", spn, "--count", &count.to_string()]);
    if raw {
        cmd.arg("--raw");
    }
    let out = cmd
        .env("KRB5CCNAME", format!("FILE:{}", ccache.display()))
        .env("KRB5_CONFIG", krb5_conf)
        .output()
        .expect("iwa-negotiate runs");
    assert!(
        out.status.success(),
        "iwa-negotiate tokens --spn {spn} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tokens: Vec<Vec<u8>> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| STANDARD.decode(l).expect("iwa-negotiate prints base64"))
        .collect();
    assert_eq!(
        tokens.len(),
        count,
        "iwa-negotiate printed {} tokens",
        tokens.len()
    );
    tokens
}

/// A private copy of `krb5_conf` with `lines` added to `[libdefaults]`.
pub fn krb5_conf_with(scratch: &Scratch, krb5_conf: &Path, name: &str, lines: &[&str]) -> PathBuf {
    let text = std::fs::read_to_string(krb5_conf).expect("read krb5.conf");
    let extra: String = lines.iter().map(|l| format!("\t{l}\n")).collect();
    let patched = text.replacen("[libdefaults]\n", &format!("[libdefaults]\n{extra}"), 1);
    assert_ne!(patched, text, "krb5.conf has no [libdefaults] section");
    let path = scratch.file(name);
    std::fs::write(&path, patched).expect("write krb5.conf copy");
    path
}

/// A directory of its own under the target dir, removed when the test passes.
#[derive(Debug)]
pub struct Scratch {
    pub dir: PathBuf,
}

impl Scratch {
    pub fn new(label: &str) -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!(
            "differential-{label}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Self { dir }
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The current time, Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs() as i64
}
