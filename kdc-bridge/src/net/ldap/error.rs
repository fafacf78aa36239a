//! The directory's one error type.

use std::fmt;
use std::io;
use std::time::Duration;

use crate::proto::error::Fault;

/// The step of an LDAP exchange a timeout or a lost connection happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Resolving the DC's name and the TCP connect.
    Connect,
    /// StartTLS and the TLS handshake.
    Handshake,
    /// The service account's simple bind.
    Bind,
    /// A search.
    Search,
}

impl Phase {
    /// A static label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::Handshake => "handshake",
            Self::Bind => "bind",
            Self::Search => "search",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The LDAP operations the [`super::Observer`] times, per DC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operation {
    /// A new connection: TCP connect, TLS (LDAPS or StartTLS) and the bind.
    Connect,
    /// The subtree search for the user by `userPrincipalName` or `sAMAccountName`.
    FindUser,
    /// The base-scope search of the user's `tokenGroups`.
    TokenGroups,
    /// The searches that turn group SIDs into names.
    ResolveSids,
    /// A health check (a rootDSE read).
    Probe,
}

impl Operation {
    /// A static label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Connect => "connect",
            Self::FindUser => "find_user",
            Self::TokenGroups => "token_groups",
            Self::ResolveSids => "resolve_sids",
            Self::Probe => "probe",
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a directory lookup, a health check or the directory's set-up failed. Every variant has
/// a static [`reason`](Self::reason) for logs and metric labels; `dc` fields hold the DC's
/// label (`host:port`), from configuration or DNS.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum DirectoryError {
    /// The DC's name did not resolve, or the TCP connect failed (refused, unreachable).
    #[error("cannot connect to DC {dc}: {kind}")]
    Connect {
        /// The DC.
        dc: String,
        /// What the OS said (`NotFound` for a name that does not resolve).
        kind: io::ErrorKind,
    },
    /// A step took longer than its timeout (or than what was left of the request's budget).
    #[error("DC {dc}: {phase} timed out after {after:?}")]
    Timeout {
        /// The DC.
        dc: String,
        /// The step.
        phase: Phase,
        /// The timeout that expired.
        after: Duration,
    },
    /// The TLS handshake failed: a certificate the CA bundle does not vouch for, a name
    /// mismatch, an alert from the DC.
    #[error("TLS with DC {dc} failed: {error}")]
    Tls {
        /// The DC.
        dc: String,
        /// rustls's error, as is.
        error: rustls::Error,
    },
    /// The DC answered the StartTLS request with an error.
    #[error("DC {dc} refused StartTLS (LDAP result {code})")]
    StartTlsRefused {
        /// The DC.
        dc: String,
        /// The LDAP result code.
        code: u32,
    },
    /// The connection broke after it was set up.
    #[error("connection to DC {dc} lost during {phase}: {kind}")]
    ConnectionLost {
        /// The DC.
        dc: String,
        /// The step.
        phase: Phase,
        /// What the OS said.
        kind: io::ErrorKind,
    },
    /// The DC refused the service account's bind: 49 `invalidCredentials` (a wrong password,
    /// or AD's `data 533` for a disabled account), 53 `unwillingToPerform` (a simple bind
    /// without TLS where the DC requires strong authentication).
    #[error("DC {dc} refused the service account's bind (LDAP result {code})")]
    BindRejected {
        /// The DC.
        dc: String,
        /// The LDAP result code.
        code: u32,
    },
    /// A search ended with an LDAP error result.
    #[error("DC {dc}: {op} failed with LDAP result {code}")]
    Server {
        /// The DC.
        dc: String,
        /// The operation.
        op: Operation,
        /// The LDAP result code (51 `busy`, 52 `unavailable`, …).
        code: u32,
    },
    /// The DC's answer does not have the expected shape.
    #[error("DC {dc} sent a malformed {what}")]
    Malformed {
        /// The DC.
        dc: String,
        /// What did not parse.
        what: &'static str,
    },
    /// An answer is larger than we hold (entries, values or groups).
    #[error("DC {dc} returned more than {limit} {what}")]
    TooLarge {
        /// The DC.
        dc: String,
        /// What overflowed.
        what: &'static str,
        /// The bound.
        limit: usize,
    },
    /// More than one account has the name looked up.
    #[error("DC {dc}: {count} accounts match the name looked up")]
    Ambiguous {
        /// The DC.
        dc: String,
        /// How many matched (at least 2).
        count: usize,
    },
    /// The name to look up is empty or too long.
    #[error("invalid user name for a directory lookup")]
    InvalidUserName,
    /// Plain LDAP was configured without saying it is meant to be insecure.
    #[error(
        "plain LDAP sends the service account's password in clear: use LDAPS or StartTLS, or \
         set insecure explicitly"
    )]
    InsecureNotAllowed,
    /// The CA bundle could not be read.
    #[error("cannot read the CA bundle {path}: {kind}")]
    CaBundleRead {
        /// The file.
        path: String,
        /// What the OS said.
        kind: io::ErrorKind,
    },
    /// The CA bundle holds no usable certificate.
    #[error("CA bundle {path}: {problem}")]
    CaBundle {
        /// The file (or `<memory>`).
        path: String,
        /// What is wrong.
        problem: &'static str,
    },
    /// A DNS query for DCs failed.
    #[error("DNS lookup of {name} failed: {reason}")]
    Dns {
        /// The name asked for.
        name: String,
        /// hickory's static label (`dns_no_records`, `timeout`, …).
        reason: &'static str,
    },
    /// There is no DC to ask: none configured, none discovered.
    #[error("no domain controller is configured or discovered")]
    NoDcs,
    /// The request's time budget ran out before any DC could be tried.
    #[error("the directory request's time budget ran out")]
    BudgetExhausted,
}

impl DirectoryError {
    /// A static label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Connect { .. } => "connect_failed",
            Self::Timeout { .. } => "timeout",
            Self::Tls { .. } => "tls",
            Self::StartTlsRefused { .. } => "starttls_refused",
            Self::ConnectionLost { .. } => "connection_lost",
            Self::BindRejected { .. } => "bind_rejected",
            Self::Server { .. } => "ldap_error",
            Self::Malformed { .. } => "malformed_response",
            Self::TooLarge { .. } => "too_large",
            Self::Ambiguous { .. } => "ambiguous_user",
            Self::InvalidUserName => "invalid_user_name",
            Self::InsecureNotAllowed => "insecure_not_allowed",
            Self::CaBundleRead { .. } | Self::CaBundle { .. } => "ca_bundle",
            Self::Dns { .. } => "dns",
            Self::NoDcs => "no_dcs",
            Self::BudgetExhausted => "budget_exhausted",
        }
    }

    /// Who has to act: the DC or the network (`Dependency`), our configuration (`Internal`:
    /// CA bundle, service account, limits), or the caller (`Client`: a bad name).
    pub fn fault(&self) -> Fault {
        match self {
            Self::Tls { error, .. } if is_certificate_error(error) => Fault::Internal,
            Self::BindRejected { .. }
            | Self::TooLarge { .. }
            | Self::InsecureNotAllowed
            | Self::CaBundleRead { .. }
            | Self::CaBundle { .. }
            | Self::NoDcs => Fault::Internal,
            Self::InvalidUserName => Fault::Client,
            _ => Fault::Dependency,
        }
    }

    /// Whether the same request may succeed when repeated later or on another DC, with no
    /// change of configuration.
    pub fn retryable(&self) -> bool {
        match self {
            Self::Connect { .. }
            | Self::Timeout { .. }
            | Self::ConnectionLost { .. }
            | Self::Dns { .. }
            | Self::BudgetExhausted => true,
            Self::Tls { error, .. } => !is_certificate_error(error),
            // busy, unavailable, other: the DC is overloaded or shutting down.
            Self::Server { code, .. } => matches!(code, 51 | 52 | 80),
            _ => false,
        }
    }

    /// Whether the error says the DC itself is unwell, so it counts against the DC's health.
    /// A DC that answers "no such user", refuses our password or sends a group list too long
    /// for us is working.
    pub(crate) fn counts_against_dc(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. }
                | Self::Timeout { .. }
                | Self::Tls { .. }
                | Self::StartTlsRefused { .. }
                | Self::ConnectionLost { .. }
                | Self::Malformed { .. }
        ) || matches!(self, Self::Server { code, .. } if matches!(code, 51 | 52 | 80))
    }

    /// Whether another DC may give another answer: everything but errors about the request
    /// itself, the directory's data (every DC holds the same) or configuration shared by all
    /// DCs. A refused bind does fail over: a DC may not have a new password yet.
    pub(crate) fn fails_over(&self) -> bool {
        !matches!(
            self,
            Self::TooLarge { .. }
                | Self::Ambiguous { .. }
                | Self::InvalidUserName
                | Self::InsecureNotAllowed
                | Self::CaBundle { .. }
                | Self::CaBundleRead { .. }
                | Self::NoDcs
                | Self::BudgetExhausted
        )
    }
}

fn is_certificate_error(error: &rustls::Error) -> bool {
    matches!(
        error,
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dc() -> String {
        "dc1.corp.test:636".to_owned()
    }

    #[test]
    fn classification() {
        let refused = DirectoryError::Connect {
            dc: dc(),
            kind: io::ErrorKind::ConnectionRefused,
        };
        assert_eq!(refused.reason(), "connect_failed");
        assert_eq!(refused.fault(), Fault::Dependency);
        assert!(refused.retryable() && refused.counts_against_dc() && refused.fails_over());

        let unknown_ca = DirectoryError::Tls {
            dc: dc(),
            error: rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
        };
        assert_eq!(unknown_ca.fault(), Fault::Internal);
        assert!(!unknown_ca.retryable());
        assert!(unknown_ca.counts_against_dc() && unknown_ca.fails_over());

        let alert = DirectoryError::Tls {
            dc: dc(),
            error: rustls::Error::AlertReceived(rustls::AlertDescription::InternalError),
        };
        assert_eq!(alert.fault(), Fault::Dependency);
        assert!(alert.retryable());

        let bind = DirectoryError::BindRejected { dc: dc(), code: 49 };
        assert_eq!(bind.fault(), Fault::Internal);
        assert!(!bind.retryable() && !bind.counts_against_dc() && bind.fails_over());

        let busy = DirectoryError::Server {
            dc: dc(),
            op: Operation::FindUser,
            code: 51,
        };
        assert!(busy.retryable() && busy.counts_against_dc());
        let denied = DirectoryError::Server {
            dc: dc(),
            op: Operation::FindUser,
            code: 50,
        };
        assert!(!denied.retryable() && !denied.counts_against_dc());

        let too_many = DirectoryError::TooLarge {
            dc: dc(),
            what: "groups",
            limit: 4096,
        };
        assert_eq!(too_many.fault(), Fault::Internal);
        assert!(!too_many.retryable() && !too_many.counts_against_dc() && !too_many.fails_over());

        assert_eq!(DirectoryError::InvalidUserName.fault(), Fault::Client);
        assert!(!DirectoryError::InvalidUserName.fails_over());
        assert_eq!(DirectoryError::InsecureNotAllowed.fault(), Fault::Internal);
    }

    #[test]
    fn messages_name_the_dc_and_the_phase() {
        let e = DirectoryError::Timeout {
            dc: dc(),
            phase: Phase::Handshake,
            after: Duration::from_millis(300),
        };
        assert_eq!(
            e.to_string(),
            "DC dc1.corp.test:636: handshake timed out after 300ms"
        );
    }
}
