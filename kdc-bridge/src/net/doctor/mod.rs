//! `iwa-gateway doctor`: every check an Active Directory connection needs, as data.
//!
//! Each check is a [`Check`]: what was checked, on what, the outcome ([`Status`]), the value
//! measured, and for a failure or a warning the concrete fix. The gateway's CLI only formats
//! them. The checks, one file per kind:
//!
//! - [`reach`]: TCP 88, 389, 636, 464 with latency, and UDP 88 with a real AS-REQ that a KDC
//!   answers with a KRB-ERROR ([`crate::proto::krb::probe`]).
//! - [`tls`]: the LDAPS or StartTLS handshake with the chain the DC sends: issuer, SANs, days
//!   to expiry, and whether the configured CA vouches for it.
//! - [`ldap`]: the bind as the service account, the DC's clock (rootDSE `currentTime`), and
//!   the accounts holding each SPN with their `msDS-KeyVersionNumber` and
//!   `msDS-SupportedEncryptionTypes`.
//! - [`account`]: the pure comparisons of those attributes with the keytab, and their fixes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::net::dc::DcEndpoint;
use crate::net::ldap::DirectoryConfig;
use crate::proto::keytab::KeytabEntry;
use crate::proto::principal::Principal;

pub mod account;
pub mod ldap;
pub mod reach;
pub mod tls;

mod run;

pub use run::diagnose;

/// The most DCs examined (static plus discovered): each costs a few seconds when unreachable.
pub const MAX_DCS: usize = 8;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// As it should be.
    Pass,
    /// Works, but deserves attention; does not fail the run.
    Warn,
    /// Broken: sign-ins or directory lookups fail because of it.
    Fail,
    /// Not checked, because a check it depends on failed.
    Skip,
}

impl Status {
    /// A static label (`pass`, `warn`, `fail`, `skip`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::Fail => "fail",
            Self::Skip => "skip",
        }
    }
}

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// A stable identifier of the kind of check, e.g. `tcp.88` or `spn.unique`.
    pub id: &'static str,
    /// What it was checked on: a DC (`dc1.corp.test`), an SPN, a file; empty when global.
    pub target: String,
    /// What was checked, in words.
    pub title: String,
    /// The outcome.
    pub status: Status,
    /// What was measured or found.
    pub value: String,
    /// For [`Status::Fail`] and [`Status::Warn`]: what to do about it.
    pub fix: Option<String>,
}

impl Check {
    /// A passed check.
    pub fn pass(id: &'static str, target: &str, title: &str, value: String) -> Self {
        Self {
            id,
            target: target.to_owned(),
            title: title.to_owned(),
            status: Status::Pass,
            value,
            fix: None,
        }
    }

    /// A failed check with its fix.
    pub fn fail(id: &'static str, target: &str, title: &str, value: String, fix: String) -> Self {
        Self {
            status: Status::Fail,
            fix: Some(fix),
            ..Self::pass(id, target, title, value)
        }
    }

    /// A warning with its advice.
    pub fn warn(id: &'static str, target: &str, title: &str, value: String, fix: String) -> Self {
        Self {
            status: Status::Warn,
            fix: Some(fix),
            ..Self::pass(id, target, title, value)
        }
    }

    /// A check not run because `because` failed.
    pub fn skip(id: &'static str, target: &str, title: &str, because: &str) -> Self {
        Self {
            status: Status::Skip,
            ..Self::pass(id, target, title, format!("not checked: {because}"))
        }
    }
}

/// What the doctor checks against.
#[derive(Debug)]
pub struct DoctorInput<'a> {
    /// The directory configuration (DCs, discovery, TLS, bind account, base DN, timeouts).
    pub directory: &'a DirectoryConfig,
    /// The CA bundle's path, for the fix texts (`None` with plain LDAP).
    pub ca_file: Option<PathBuf>,
    /// The bind password's file, for the fix texts.
    pub password_file: Option<PathBuf>,
    /// The Kerberos realm (for the UDP probe).
    pub realm: String,
    /// The configured SPNs.
    pub spns: &'a [Principal],
    /// The keytab's entries.
    pub keytab: &'a [KeytabEntry],
    /// The keytab's path, for the fix texts.
    pub keytab_path: PathBuf,
    /// The allowed clock skew.
    pub max_skew: Duration,
    /// How long to wait for each port and for the UDP answer.
    pub probe_timeout: Duration,
}

/// One DC to examine: the LDAP endpoint and the address its other ports are reached at.
#[derive(Debug, Clone)]
pub struct DcTarget {
    /// The endpoint the directory client uses (its host names the TLS certificate).
    pub endpoint: DcEndpoint,
    /// Where it came from: `static` or the SRV name.
    pub source: String,
    /// The address its ports are reached at, once resolved.
    pub ip: Option<IpAddr>,
}

/// The local clock, Unix seconds.
pub(crate) fn unix_now() -> Option<i64> {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?;
    i64::try_from(since.as_secs()).ok()
}

/// `12.3 ms`, `850 µs`.
pub(crate) fn format_latency(d: Duration) -> String {
    let micros = d.as_micros();
    if micros < 1000 {
        format!("{micros} µs")
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_formats() {
        assert_eq!(format_latency(Duration::from_micros(850)), "850 µs");
        assert_eq!(format_latency(Duration::from_micros(12_340)), "12.3 ms");
    }

    #[test]
    fn constructors() {
        let c = Check::fail(
            "tcp.88",
            "dc1",
            "TCP 88",
            "refused".into(),
            "open it".into(),
        );
        assert_eq!(c.status, Status::Fail);
        assert_eq!(c.fix.as_deref(), Some("open it"));
        let s = Check::skip("ldap.bind", "dc1", "bind", "TLS failed");
        assert_eq!(s.value, "not checked: TLS failed");
        assert_eq!(s.status.as_str(), "skip");
    }
}
