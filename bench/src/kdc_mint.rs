//! `iwa-bench mint --kdc`: real tokens from a real KDC through MIT GSSAPI (libgssapi): for each
//! user, credentials from a password (MIT `kinit`: an AS exchange with the KDC) or from the
//! existing credential cache, then a fresh security context per token, so each token is a new
//! authenticator (MIT makes each one's `ctime`/`cusec` unique) on the user's service ticket.
//! The KDC is asked once per user for the service ticket; the tokens are then made locally.

use std::io::Write as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::Path;
use std::process::{Command, Stdio};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libgssapi::context::{ClientCtx, CtxFlags};
use libgssapi::name::Name;
use libgssapi::oid::{
    GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE, GSS_NT_KRB5_PRINCIPAL,
};

use crate::tokens::{Format, Header, Source, TokenFile};

/// Whose credentials.
#[derive(Debug)]
pub enum Users {
    /// `user` or `user@REALM` with a password each.
    Passwords(Vec<(String, String)>),
    /// The default credential cache (`KRB5CCNAME`): one user, already signed in.
    Ccache,
}

/// What to mint.
#[derive(Debug)]
pub struct KdcMint {
    /// `HTTP/host@REALM` (a Kerberos principal) or `HTTP@host` (a host-based service name).
    pub spn: String,
    pub users: Users,
    pub per_user: usize,
    pub format: Format,
    pub skew_secs: i64,
}

/// Reads `user:password` lines (blank lines and `#` comments skipped).
pub fn parse_password_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (user, pw) = line
            .split_once(':')
            .ok_or_else(|| format!("line {}: expected user:password", i + 1))?;
        if user.trim().is_empty() {
            return Err(format!("line {}: empty user name", i + 1));
        }
        out.push((user.trim().to_owned(), pw.to_owned()));
    }
    if out.is_empty() {
        return Err("no user:password line".into());
    }
    Ok(out)
}

fn target(spn: &str) -> Result<Name, String> {
    let kind = if spn.contains('/') {
        GSS_NT_KRB5_PRINCIPAL
    } else {
        GSS_NT_HOSTBASED_SERVICE
    };
    Name::new(spn.as_bytes(), Some(kind)).map_err(|e| format!("--spn {spn}: {e}"))
}

/// The realm of `HTTP/host@REALM`; empty for a host-based name (`HTTP@host`), whose realm
/// only the KDC's referral decides.
fn realm_of(spn: &str) -> String {
    spn.rsplit_once('@')
        .filter(|_| spn.contains('/'))
        .map(|(_, r)| r.to_owned())
        .unwrap_or_default()
}

/// Signs `user` in with MIT's `kinit` (password on stdin) into a new file ccache at `path`.
fn kinit(user: &str, password: &str, path: &Path) -> Result<(), String> {
    let mut child = Command::new("kinit")
        .arg(user)
        .env("KRB5CCNAME", format!("FILE:{}", path.display()))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run kinit (MIT krb5-user): {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        // kinit may exit before reading (unknown user): a broken pipe is reported below.
        let _ = writeln!(stdin, "{password}");
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("kinit {user}: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        // kinit's message names the user and the KDC's reason, never the password.
        Err(format!(
            "kinit {user}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// `count` tokens from the default credentials (`KRB5CCNAME`), a new context each.
fn tokens_from_default_ccache(
    spec: &KdcMint,
    who: &str,
    out: &mut Vec<String>,
) -> Result<(), String> {
    let mech = match spec.format {
        Format::Spnego => GSS_MECH_SPNEGO,
        Format::Raw => GSS_MECH_KRB5,
    };
    for _ in 0..spec.per_user {
        let mut ctx = ClientCtx::new(
            None,
            target(&spec.spn)?,
            CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_SEQUENCE_FLAG,
            Some(mech),
        );
        let tok = ctx
            .step(None, None)
            .map_err(|e| format!("{who}: gss_init_sec_context for {}: {e}", spec.spn))?
            .ok_or_else(|| format!("{who}: GSSAPI produced no token"))?;
        out.push(STANDARD.encode(&*tok));
    }
    Ok(())
}

/// Mints the tokens; `now` is Unix seconds.
///
/// With passwords, each user is signed in by `kinit` into a private ccache (a directory of
/// mode 0700, removed afterwards) which is then the process's `KRB5CCNAME` while its tokens
/// are made: MIT's SPNEGO initiator only negotiates with default credentials it acquires
/// itself. Call this before any other thread runs (the CLI does).
pub fn mint(spec: &KdcMint, now: i64) -> Result<TokenFile, String> {
    let mut tokens = Vec::new();
    match &spec.users {
        Users::Ccache => tokens_from_default_ccache(spec, "the credential cache", &mut tokens)?,
        Users::Passwords(list) => {
            let dir = std::env::temp_dir().join(format!("iwa-bench-kdc-{}", std::process::id()));
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&dir)
                .map_err(|e| format!("{}: {e}", dir.display()))?;
            let saved = std::env::var_os("KRB5CCNAME");
            let result = (|| {
                for (i, (user, pw)) in list.iter().enumerate() {
                    let path = dir.join(format!("user-{i}.ccache"));
                    kinit(user, pw, &path)?;
                    std::env::set_var("KRB5CCNAME", format!("FILE:{}", path.display()));
                    tokens_from_default_ccache(spec, user, &mut tokens)?;
                }
                Ok::<(), String>(())
            })();
            match saved {
                Some(v) => std::env::set_var("KRB5CCNAME", v),
                None => std::env::remove_var("KRB5CCNAME"),
            }
            let _ = std::fs::remove_dir_all(&dir);
            result?;
        }
    }
    Ok(TokenFile {
        header: Header {
            realm: realm_of(&spec.spn),
            spn: spec.spn.clone(),
            source: Source::Kdc,
            format: spec.format,
            minted: now,
            valid_until: now + spec.skew_secs,
        },
        tokens,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_file() {
        let users =
            parse_password_file("# bench users\nalice:Pa:ss\n\nbob@CORP.TEST:x\n").expect("parses");
        assert_eq!(
            users,
            vec![
                ("alice".to_owned(), "Pa:ss".to_owned()),
                ("bob@CORP.TEST".to_owned(), "x".to_owned())
            ]
        );
        assert!(parse_password_file("alice\n").is_err());
        assert!(parse_password_file(":pw\n").is_err());
        assert!(parse_password_file("# nothing\n").is_err());
    }
}
