//! The throw-away Samba AD DC (`tests/ad/samba-ad.sh`) seen from a test: its settings, private
//! credential caches with fresh tickets, and service-account key rotation.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use crate::process::{run, stderr_of, wait_output, workspace_root, Scratch, CLIENT_TIMEOUT};

/// The realm of the test DC.
pub const REALM: &str = "CORP.TEST";

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

    /// A copy of the DC's krb5.conf, `name` in `dir`, with `lines` added to `[libdefaults]`:
    /// the client config for a [`Kinit::krb5_config`].
    pub fn krb5_config_with(&self, dir: &Scratch, name: &str, lines: &[&str]) -> PathBuf {
        let text = std::fs::read_to_string(self.krb5_config()).expect("read krb5.conf");
        let extra: String = lines.iter().map(|l| format!("\t{l}\n")).collect();
        let patched = text.replacen("[libdefaults]\n", &format!("[libdefaults]\n{extra}"), 1);
        assert_ne!(patched, text, "krb5.conf has no [libdefaults] section");
        let path = dir.join(name);
        std::fs::write(&path, patched).expect("write krb5.conf copy");
        path
    }

    /// A fresh TGT for `user` in a new file ccache at `path` (MIT `kinit`, password on stdin).
    pub fn kinit(&self, user: &str, path: &Path) -> Ccache {
        self.kinit_with(user, path).run()
    }

    /// A `kinit` for `user` into a new file ccache at `path`, with options, started by
    /// [`Kinit::run`].
    pub fn kinit_with(&self, user: &str, path: &Path) -> Kinit<'_> {
        Kinit {
            ad: self,
            user: user.to_owned(),
            path: path.to_owned(),
            krb5_config: PathBuf::from(self.krb5_config()),
            lifetime: None,
            service: None,
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

/// A pending `kinit` (from [`Ad::kinit_with`]).
#[derive(Debug)]
pub struct Kinit<'a> {
    ad: &'a Ad,
    user: String,
    path: PathBuf,
    krb5_config: PathBuf,
    lifetime: Option<String>,
    service: Option<String>,
}

impl Kinit<'_> {
    /// Another client config than the DC's (see [`Ad::krb5_config_with`]); the ccache keeps it
    /// for the clients it is applied to.
    pub fn krb5_config(mut self, path: &Path) -> Self {
        self.krb5_config = path.to_owned();
        self
    }

    /// kinit `-l`: the ticket lifetime, e.g. `4s`.
    pub fn lifetime(mut self, lifetime: &str) -> Self {
        self.lifetime = Some(lifetime.to_owned());
        self
    }

    /// kinit `-S`: a ticket for this service principal straight from the AS, instead of a TGT.
    pub fn service(mut self, spn: &str) -> Self {
        self.service = Some(spn.to_owned());
        self
    }

    /// Runs kinit, the password on stdin.
    pub fn run(self) -> Ccache {
        let Self {
            ad,
            user,
            path,
            krb5_config,
            lifetime,
            service,
        } = self;
        let var = format!("IWA_AD_PW_{}", user.to_ascii_uppercase().replace('-', "_"));
        let password = ad.var(&var).to_owned();
        let mut cmd = Command::new("kinit");
        if let Some(l) = &lifetime {
            cmd.args(["-l", l]);
        }
        if let Some(s) = &service {
            cmd.args(["-S", s]);
        }
        let mut child = cmd
            .arg(format!("{user}@{REALM}"))
            .env("KRB5_CONFIG", &krb5_config)
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
        Ccache { path, krb5_config }
    }
}

/// A file credential cache owned by one test, with the client config it was made with.
#[derive(Debug, Clone)]
pub struct Ccache {
    path: PathBuf,
    krb5_config: PathBuf,
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
            krb5_config: self.krb5_config.clone(),
        }
    }

    /// Applies the Kerberos client environment to a child command.
    pub fn apply(&self, cmd: &mut Command) {
        cmd.env("KRB5CCNAME", self.name())
            .env("KRB5_CONFIG", &self.krb5_config);
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
}
