//! The acceptor's one error type, and its mapping to Kerberos error codes.

use std::fmt;

use crate::proto::krb::asn1::format_rfc3339 as rfc3339;
use crate::proto::pac::PacError;

/// Who is at fault when a token is refused: decides the log level and whether operators get
/// paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// The client sent something wrong (or hostile). Expected in normal operation.
    Client,
    /// Something we depend on failed (the replay cache backend, later AD).
    Dependency,
    /// Our own configuration is wrong (keytab, SPNs). Operators must act.
    Internal,
}

/// Why a token was not accepted. Every variant has a static [`reason`](Self::reason) used as
/// a log field and a metric label.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AcceptError {
    /// The token or a message inside it does not parse.
    #[error("malformed token: bad {what}")]
    Malformed {
        /// Which structure was being read.
        what: &'static str,
    },
    /// A GSS mechanism other than Kerberos, NTLM or NegoEx.
    #[error("unsupported GSS mechanism {oid}")]
    UnsupportedMech {
        /// The mechanism's OID in dotted form.
        oid: String,
    },
    /// An NTLMSSP token, raw or inside SPNEGO: the client has no Kerberos ticket for us.
    #[error("NTLM token refused (the client has no Kerberos ticket for this SPN)")]
    Ntlm,
    /// A NegoEx token (SPNEGO extended negotiation): not supported.
    #[error("NegoEx token refused")]
    NegoEx,
    /// A SPNEGO NegTokenInit without an optimistic Kerberos token.
    #[error("SPNEGO token carries no Kerberos token")]
    NoMechToken,
    /// The ticket's service realm is not the realm of the configured SPN.
    #[error("ticket is for realm {got}, expected {expected}")]
    WrongRealm {
        /// The configured realm(s).
        expected: String,
        /// The ticket's realm.
        got: String,
    },
    /// The ticket is for a service principal that is not configured.
    #[error("ticket is for {got}, which is not a configured SPN ({expected})")]
    WrongSpn {
        /// The configured SPNs.
        expected: String,
        /// The ticket's service principal.
        got: String,
    },
    /// The keytab has no key for the ticket's (principal, kvno, enctype).
    #[error("{detail}")]
    NoKey {
        /// What was asked for and what the keytab has.
        detail: String,
    },
    /// The ticket did not decrypt (integrity check failed) with the keytab's key.
    #[error(
        "ticket for {principal} (kvno {kvno}, {enctype}) does not decrypt with the keytab key{}",
        if *.kvno_matched { ": if every sign-in fails like this, the keytab is probably stale \
            (the service account's password was reset after the keytab was exported); export it \
            again" } else { "" }
    )]
    TicketDecryptFailed {
        /// The service principal.
        principal: String,
        /// The key version used.
        kvno: u32,
        /// The enctype name.
        enctype: &'static str,
        /// Whether the ticket named the kvno of the key we tried.
        kvno_matched: bool,
    },
    /// The authenticator did not decrypt with the ticket's session key.
    #[error("authenticator does not decrypt with the ticket session key")]
    AuthenticatorDecryptFailed,
    /// An enctype we do not implement (DES, aes-sha2…).
    #[error("unsupported enctype {etype}")]
    UnsupportedEnctype {
        /// The enctype number.
        etype: i32,
    },
    /// The ticket's end time (plus skew) has passed.
    #[error("ticket expired at {} (now {}, allowed skew {skew} s)", rfc3339(*.endtime), rfc3339(*.now))]
    TicketExpired {
        /// Ticket end time, Unix seconds.
        endtime: i64,
        /// Our time.
        now: i64,
        /// Allowed skew, seconds.
        skew: i64,
    },
    /// The ticket's start time (minus skew) is in the future.
    #[error("ticket not valid before {} (now {}, allowed skew {skew} s)", rfc3339(*.starttime), rfc3339(*.now))]
    TicketNotYetValid {
        /// Ticket start time, Unix seconds.
        starttime: i64,
        /// Our time.
        now: i64,
        /// Allowed skew, seconds.
        skew: i64,
    },
    /// The ticket has the INVALID flag (an unvalidated postdated ticket).
    #[error("ticket has the INVALID flag")]
    TicketInvalid,
    /// The authenticator's time is too far from ours.
    #[error(
        "authenticator time {} is {} s from ours ({}); allowed skew is {skew} s",
        rfc3339(*.ctime),
        (.ctime - .now).abs(),
        rfc3339(*.now)
    )]
    ClockSkew {
        /// Authenticator time, Unix seconds.
        ctime: i64,
        /// Our time.
        now: i64,
        /// Allowed skew, seconds.
        skew: i64,
    },
    /// The authenticator names another client than the ticket.
    #[error("authenticator client {authenticator} differs from ticket client {ticket}")]
    ClientMismatch {
        /// The ticket's client.
        ticket: String,
        /// The authenticator's client.
        authenticator: String,
    },
    /// This authenticator was seen before.
    #[error("replayed authenticator")]
    Replay,
    /// The replay cache is full or unreachable: accepting would risk a replay.
    #[error("replay cache unavailable: {what}")]
    ReplayCacheUnavailable {
        /// What happened.
        what: &'static str,
    },
    /// The GSS checksum (RFC 4121 §4.1.1) is missing or malformed.
    #[error("bad GSS checksum: {what}")]
    BadChecksum {
        /// What is wrong.
        what: &'static str,
    },
    /// The channel bindings in the GSS checksum do not match this connection.
    #[error("channel bindings do not match this connection")]
    ChannelBindingMismatch,
    /// An option we do not support (user-to-user, DCE style).
    #[error("unsupported option: {what}")]
    UnsupportedOption {
        /// Which option.
        what: &'static str,
    },
    /// The ticket's PAC is missing (when required), does not parse, or fails its server
    /// checksum or client check: the ticket is not to be believed.
    #[error("bad PAC: {0}")]
    BadPac(#[source] PacError),
}

impl From<PacError> for AcceptError {
    fn from(e: PacError) -> Self {
        Self::BadPac(e)
    }
}

impl AcceptError {
    /// A short, static label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::Malformed { .. } => "malformed",
            Self::UnsupportedMech { .. } => "unsupported_mech",
            Self::Ntlm => "ntlm",
            Self::NegoEx => "negoex",
            Self::NoMechToken => "no_mech_token",
            Self::WrongRealm { .. } => "wrong_realm",
            Self::WrongSpn { .. } => "wrong_spn",
            Self::NoKey { .. } => "no_key",
            Self::TicketDecryptFailed { .. } | Self::AuthenticatorDecryptFailed => "decrypt_failed",
            Self::UnsupportedEnctype { .. } => "unsupported_enctype",
            Self::TicketExpired { .. } => "ticket_expired",
            Self::TicketNotYetValid { .. } => "ticket_not_yet_valid",
            Self::TicketInvalid => "ticket_invalid",
            Self::ClockSkew { .. } => "clock_skew",
            Self::ClientMismatch { .. } => "client_mismatch",
            Self::Replay => "replay",
            Self::ReplayCacheUnavailable { .. } => "replay_cache_unavailable",
            Self::BadChecksum { .. } => "bad_checksum",
            Self::ChannelBindingMismatch => "channel_bindings",
            Self::UnsupportedOption { .. } => "unsupported_option",
            Self::BadPac(_) => "bad_pac",
        }
    }

    /// For [`AcceptError::BadPac`], the PAC's own reason ([`PacError::reason`]), e.g.
    /// `bad_server_checksum`.
    pub fn pac_reason(&self) -> Option<&'static str> {
        match self {
            Self::BadPac(e) => Some(e.reason()),
            _ => None,
        }
    }

    /// Every reason label, for pre-registering metrics.
    pub const REASONS: &'static [&'static str] = &[
        "malformed",
        "unsupported_mech",
        "ntlm",
        "negoex",
        "no_mech_token",
        "wrong_realm",
        "wrong_spn",
        "no_key",
        "decrypt_failed",
        "unsupported_enctype",
        "ticket_expired",
        "ticket_not_yet_valid",
        "ticket_invalid",
        "clock_skew",
        "client_mismatch",
        "replay",
        "replay_cache_unavailable",
        "bad_checksum",
        "channel_bindings",
        "unsupported_option",
        "bad_pac",
    ];

    /// Who is at fault.
    ///
    /// Everything decided from the token is the client's: a stale keytab (`no_key`,
    /// `decrypt_failed`) looks exactly like a forged or tampered ticket from here, and anyone
    /// can send those, so they must not page anyone. A stale keytab shows as most sign-ins
    /// failing with one of these reasons in `iwagw_spnego_handshakes_total`; alert on that rate.
    pub fn fault(&self) -> Fault {
        match self {
            Self::ReplayCacheUnavailable { .. } => Fault::Dependency,
            Self::BadPac(e) => e.fault(),
            _ => Fault::Client,
        }
    }

    /// Whether the same client may succeed by retrying with a fresh token.
    pub fn retryable(&self) -> bool {
        matches!(self, Self::ReplayCacheUnavailable { .. } | Self::Replay)
    }
}

/// RFC 4120 §7.5.9 error codes, for a KRB-ERROR or for logs that operators compare with
/// Windows event logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KrbErrorCode(pub i32);

impl KrbErrorCode {
    /// KRB_AP_ERR_BAD_INTEGRITY.
    pub const BAD_INTEGRITY: Self = Self(31);
    /// KRB_AP_ERR_TKT_EXPIRED.
    pub const TKT_EXPIRED: Self = Self(32);
    /// KRB_AP_ERR_TKT_NYV.
    pub const TKT_NYV: Self = Self(33);
    /// KRB_AP_ERR_REPEAT.
    pub const REPEAT: Self = Self(34);
    /// KRB_AP_ERR_NOT_US.
    pub const NOT_US: Self = Self(35);
    /// KRB_AP_ERR_BADMATCH.
    pub const BADMATCH: Self = Self(36);
    /// KRB_AP_ERR_SKEW.
    pub const SKEW: Self = Self(37);
    /// KRB_AP_ERR_MSG_TYPE.
    pub const MSG_TYPE: Self = Self(40);
    /// KRB_AP_ERR_MODIFIED.
    pub const MODIFIED: Self = Self(41);
    /// KRB_AP_ERR_BADKEYVER.
    pub const BADKEYVER: Self = Self(44);
    /// KRB_AP_ERR_NOKEY.
    pub const NOKEY: Self = Self(45);
    /// KRB_AP_ERR_INAPP_CKSUM.
    pub const INAPP_CKSUM: Self = Self(50);
    /// KDC_ERR_ETYPE_NOSUPP.
    pub const ETYPE_NOSUPP: Self = Self(14);
    /// KDC_ERR_BADOPTION.
    pub const BADOPTION: Self = Self(13);
    /// KRB_ERR_GENERIC.
    pub const GENERIC: Self = Self(60);
}

impl From<&AcceptError> for KrbErrorCode {
    fn from(e: &AcceptError) -> Self {
        match e {
            AcceptError::Malformed { .. } | AcceptError::NoMechToken => Self::MSG_TYPE,
            AcceptError::UnsupportedMech { .. } | AcceptError::Ntlm | AcceptError::NegoEx => {
                Self::MSG_TYPE
            }
            AcceptError::WrongRealm { .. } | AcceptError::WrongSpn { .. } => Self::NOT_US,
            AcceptError::NoKey { .. } => Self::BADKEYVER,
            AcceptError::TicketDecryptFailed { .. } | AcceptError::AuthenticatorDecryptFailed => {
                Self::BAD_INTEGRITY
            }
            AcceptError::UnsupportedEnctype { .. } => Self::ETYPE_NOSUPP,
            AcceptError::TicketExpired { .. } => Self::TKT_EXPIRED,
            AcceptError::TicketNotYetValid { .. } | AcceptError::TicketInvalid => Self::TKT_NYV,
            AcceptError::ClockSkew { .. } => Self::SKEW,
            AcceptError::ClientMismatch { .. } => Self::BADMATCH,
            AcceptError::Replay => Self::REPEAT,
            AcceptError::ReplayCacheUnavailable { .. } => Self::GENERIC,
            AcceptError::BadChecksum { .. } | AcceptError::ChannelBindingMismatch => {
                Self::INAPP_CKSUM
            }
            AcceptError::UnsupportedOption { .. } => Self::BADOPTION,
            // As Windows answers a PAC that fails validation.
            AcceptError::BadPac(_) => Self::MODIFIED,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Client => "client",
            Self::Dependency => "dependency",
            Self::Internal => "internal",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_are_listed() {
        let samples = [
            AcceptError::Malformed { what: "x" },
            AcceptError::Ntlm,
            AcceptError::Replay,
            AcceptError::AuthenticatorDecryptFailed,
            AcceptError::ChannelBindingMismatch,
            AcceptError::BadPac(PacError::BadServerChecksum),
        ];
        for e in samples {
            assert!(AcceptError::REASONS.contains(&e.reason()), "{}", e.reason());
        }
    }

    #[test]
    fn stale_keytab_gets_a_hint_but_not_a_page() {
        let e = AcceptError::TicketDecryptFailed {
            principal: "HTTP/gw.corp.test@CORP.TEST".into(),
            kvno: 2,
            enctype: "aes256-cts-hmac-sha1-96",
            kvno_matched: true,
        };
        assert_eq!(e.reason(), "decrypt_failed");
        // A tampered ticket gives the same error: the client's fault as far as we can tell.
        assert_eq!(e.fault(), Fault::Client);
        assert_eq!(
            AcceptError::ReplayCacheUnavailable { what: "full" }.fault(),
            Fault::Dependency
        );
        assert!(e.to_string().contains("keytab is probably stale"), "{e}");
        assert_eq!(KrbErrorCode::from(&e), KrbErrorCode::BAD_INTEGRITY);
    }
}
