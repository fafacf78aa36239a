//! MIT's acceptor (libgssapi `ServerCtx`) as a line-oriented oracle, for the differential test
//! (`tests/tests/differential.rs`).
//!
//! ```text
//! iwa-mit-accept [--name HTTP@gw.corp.test | --principal HTTP/gw.corp.test@CORP.TEST] < tokens
//! ```
//!
//! Reads one base64 token per line on stdin and runs each through a fresh
//! `gss_accept_sec_context`. Without options it passes no credential (`GSS_C_NO_CREDENTIAL`:
//! MIT's default acceptor, any key in the keytab); with `--name` (host-based service, which MIT
//! matches against keytab entries of any realm) or `--principal` (an exact Kerberos principal)
//! it acquires that acceptor credential once and passes it every time. Prints one line per
//! token:
//!
//! ```text
//! accept <client principal>
//! continue <minor status>
//! reject <major status> <minor status> <message>
//! ```
//!
//! `continue` is a SPNEGO or DCE-style answer asking for another leg: not an authentication.
//! Configuration comes from the MIT environment of this process only: `KRB5_KTNAME`,
//! `KRB5_CONFIG`, `KRB5RCACHETYPE`, `KRB5RCACHEDIR`.

use std::io::{BufRead as _, BufWriter, Write as _};
use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use libgssapi::context::{SecurityContext as _, ServerCtx};
use libgssapi::credential::{Cred, CredUsage};
use libgssapi::name::Name;
use libgssapi::oid::{Oid, GSS_NT_HOSTBASED_SERVICE, GSS_NT_KRB5_PRINCIPAL};

fn acquire(name: &str, kind: Oid<'static>) -> Result<Cred, String> {
    let name = Name::new(name.as_bytes(), Some(kind)).map_err(|e| format!("name {name}: {e}"))?;
    Cred::acquire(Some(&name), None, CredUsage::Accept, None)
        .map_err(|e| format!("gss_acquire_cred: {e}"))
}

fn verdict(cred: Option<&Cred>, line: &str) -> String {
    let token = match STANDARD.decode(line.trim()) {
        Ok(t) => t,
        Err(e) => return format!("reject 0 0 bad base64 from the test: {e}"),
    };
    let mut ctx = ServerCtx::new(cred.cloned());
    match ctx.step(&token, None) {
        Ok(_) if ctx.is_complete() => match ctx.source_name() {
            Ok(name) => format!("accept {name}"),
            Err(e) => format!("reject 0 0 accepted but no source name: {e}"),
        },
        Ok(_) => "continue 0".to_owned(),
        Err(e) => {
            let message = e.to_string().replace('\n', " ");
            format!("reject {:#x} {} {message}", e.major.bits(), e.minor)
        }
    }
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut name = None;
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--name", Some(n)) => name = Some((n, GSS_NT_HOSTBASED_SERVICE)),
            ("--principal", Some(n)) => name = Some((n, GSS_NT_KRB5_PRINCIPAL)),
            _ => {
                eprintln!(
                    "usage: iwa-mit-accept [--name service@host | --principal name@REALM] \
                     < base64 tokens"
                );
                return ExitCode::from(2);
            }
        }
    }
    let cred = match name.map(|(n, kind)| acquire(&n, kind)).transpose() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("iwa-mit-accept: {e}");
            return ExitCode::FAILURE;
        }
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let line = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("iwa-mit-accept: stdin: {e}");
                return ExitCode::FAILURE;
            }
        };
        if writeln!(out, "{}", verdict(cred.as_ref(), &line)).is_err() {
            return ExitCode::FAILURE;
        }
    }
    if out.flush().is_err() {
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
