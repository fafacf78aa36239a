//! The GSS-API Kerberos authenticator checksum (RFC 4121 §4.1.1) and channel bindings
//! (RFC 4121 §4.1.1.2, RFC 2744 §3.11, RFC 5929 `tls-server-end-point`).
//!
//! ```text
//! Octet  Name    Description
//! 0..3   Lgth    Number of octets in Bnd field; 16, little-endian
//! 4..19  Bnd     MD5 hash of the channel bindings, or zeros
//! 20..23 Flags   Context establishment flags, little-endian
//! 24..25 DlgOpt  The delegation option identifier (=1)  [optional]
//! 26..27 Dlgth   The length of the Deleg field          [optional]
//! 28..   Deleg   A KRB_CRED message (delegated TGT)     [optional]
//! ..last Exts    Extensions                             [optional]
//! ```

use md5::{Digest as _, Md5};
use subtle::ConstantTimeEq as _;

use crate::proto::error::AcceptError;

/// The checksum type of the GSS authenticator checksum.
pub const CKSUMTYPE_GSSAPI: i32 = 0x8003;

/// GSS context flags (RFC 2744 §5.19) carried in the checksum.
pub mod flags {
    /// GSS_C_DELEG_FLAG: the client delegates a TGT.
    pub const DELEG: u32 = 0x1;
    /// GSS_C_MUTUAL_FLAG: the client wants an AP-REP.
    pub const MUTUAL: u32 = 0x2;
    /// GSS_C_REPLAY_FLAG.
    pub const REPLAY: u32 = 0x4;
    /// GSS_C_SEQUENCE_FLAG.
    pub const SEQUENCE: u32 = 0x8;
    /// GSS_C_CONF_FLAG.
    pub const CONF: u32 = 0x10;
    /// GSS_C_INTEG_FLAG.
    pub const INTEG: u32 = 0x20;
    /// GSS_C_DCE_STYLE: DCE RPC's three-leg variant, never used over HTTP.
    pub const DCE_STYLE: u32 = 0x1000;
}

/// The length of the `Bnd` field.
const BND_LEN: u32 = 16;

/// What a valid GSS checksum told us.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GssChecksum {
    /// The context flags, see [`flags`].
    pub flags: u32,
    /// Whether a delegated credential was included (we do not keep it).
    pub delegated: bool,
    /// Whether the client bound the token to a channel (non-zero `Bnd`, e.g. a TLS certificate).
    pub channel_bound: bool,
}

/// How to treat channel bindings the client sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelBindingPolicy {
    /// Absent (all-zero) bindings are accepted; any others must equal this connection's.
    /// Without TLS on our listener, non-zero bindings fail.
    #[default]
    Enforce,
    /// Bindings are not checked. For deployments where TLS ends on a load balancer in front
    /// of the gateway, whose certificate clients bind to.
    Ignore,
}

/// Parses and checks an authenticator checksum of type 0x8003.
///
/// `expected_binding` is the MD5 of this connection's channel bindings, when we have any
/// (see [`channel_binding_hash`]).
pub fn verify_checksum(
    cksumtype: i32,
    value: &[u8],
    expected_binding: Option<&[u8; 16]>,
    policy: ChannelBindingPolicy,
) -> Result<GssChecksum, AcceptError> {
    if cksumtype != CKSUMTYPE_GSSAPI {
        return Err(AcceptError::BadChecksum {
            what: "checksum type is not 0x8003",
        });
    }
    let short = AcceptError::BadChecksum {
        what: "checksum shorter than 24 octets",
    };
    let (lgth, rest) = value.split_first_chunk::<4>().ok_or(short.clone())?;
    let (bnd, rest) = rest.split_first_chunk::<16>().ok_or(short.clone())?;
    let (flag_bytes, rest) = rest.split_first_chunk::<4>().ok_or(short)?;
    if u32::from_le_bytes(*lgth) != BND_LEN {
        return Err(AcceptError::BadChecksum {
            what: "Lgth is not 16",
        });
    }
    let flags = u32::from_le_bytes(*flag_bytes);
    if bnd != &[0u8; 16] && policy == ChannelBindingPolicy::Enforce {
        match expected_binding {
            Some(expected) if bool::from(bnd.ct_eq(expected)) => {}
            _ => return Err(AcceptError::ChannelBindingMismatch),
        }
    }
    if flags & flags::DCE_STYLE != 0 {
        return Err(AcceptError::UnsupportedOption { what: "DCE style" });
    }
    let mut delegated = false;
    if flags & flags::DELEG != 0 && !rest.is_empty() {
        let bad = AcceptError::BadChecksum {
            what: "delegation field truncated",
        };
        let (dlg_opt, rest) = rest.split_first_chunk::<2>().ok_or(bad.clone())?;
        let (dlgth, rest) = rest.split_first_chunk::<2>().ok_or(bad.clone())?;
        if u16::from_le_bytes(*dlg_opt) != 1 {
            return Err(AcceptError::BadChecksum {
                what: "DlgOpt is not 1",
            });
        }
        if rest.len() < usize::from(u16::from_le_bytes(*dlgth)) {
            return Err(bad);
        }
        delegated = true;
    }
    Ok(GssChecksum {
        flags,
        delegated,
        channel_bound: bnd != &[0u8; 16],
    })
}

/// The `Bnd` value for channel bindings carrying only application data, as browsers send for
/// TLS: `application_data = "tls-server-end-point:" || hash(server certificate)`.
///
/// RFC 4121 §4.1.1.2 hashes the RFC 2744 structure with every length and address type as a
/// 32-bit little-endian integer: initiator address type and address, acceptor address type and
/// address (all zero), then the application data.
pub fn channel_binding_hash(application_data: &[u8]) -> [u8; 16] {
    let mut h = Md5::new();
    h.update([0u8; 16]);
    // Lengths above 4 GiB do not occur; saturate rather than wrap.
    let len = u32::try_from(application_data.len()).unwrap_or(u32::MAX);
    h.update(len.to_le_bytes());
    h.update(application_data);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checksum(bnd: [u8; 16], flags: u32, tail: &[u8]) -> Vec<u8> {
        let mut v = 16u32.to_le_bytes().to_vec();
        v.extend_from_slice(&bnd);
        v.extend_from_slice(&flags.to_le_bytes());
        v.extend_from_slice(tail);
        v
    }

    #[test]
    fn accepts_plain_checksums() {
        // The checksum from a Windows authenticator published in picky-krb's tests: zero Bnd,
        // flags 0x3e (mutual, replay, sequence, conf, integ).
        let windows = checksum([0; 16], 0x3e, &[]);
        assert_eq!(
            verify_checksum(0x8003, &windows, None, ChannelBindingPolicy::Enforce),
            Ok(GssChecksum {
                flags: 0x3e,
                delegated: false,
                channel_bound: false
            })
        );
    }

    #[test]
    fn compares_bindings() {
        let cb = channel_binding_hash(b"tls-server-end-point:abc");
        let c = checksum(cb, 2, &[]);
        assert_eq!(
            verify_checksum(0x8003, &c, Some(&cb), ChannelBindingPolicy::Enforce),
            Ok(GssChecksum {
                flags: 2,
                delegated: false,
                channel_bound: true
            })
        );
        assert_eq!(
            verify_checksum(0x8003, &c, None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::ChannelBindingMismatch)
        );
        let other = channel_binding_hash(b"tls-server-end-point:xyz");
        assert_eq!(
            verify_checksum(0x8003, &c, Some(&other), ChannelBindingPolicy::Enforce),
            Err(AcceptError::ChannelBindingMismatch)
        );
        assert!(verify_checksum(0x8003, &c, None, ChannelBindingPolicy::Ignore).is_ok());
    }

    #[test]
    fn binding_hash_matches_the_rfc_layout() {
        // MD5 over 16 zero octets (two address types and two empty addresses), the LE length
        // and the data; for empty data that is MD5 of 20 zero octets.
        let empty = channel_binding_hash(b"");
        let direct: [u8; 16] = Md5::digest([0u8; 20]).into();
        assert_eq!(empty, direct);
    }

    #[test]
    fn rejects_bad_checksums() {
        let ok = checksum([0; 16], 0, &[]);
        assert_eq!(
            verify_checksum(-138, &ok, None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::BadChecksum {
                what: "checksum type is not 0x8003"
            })
        );
        assert_eq!(
            verify_checksum(0x8003, &ok[..23], None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::BadChecksum {
                what: "checksum shorter than 24 octets"
            })
        );
        let mut bad_len = ok.clone();
        bad_len[0] = 15;
        assert_eq!(
            verify_checksum(0x8003, &bad_len, None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::BadChecksum {
                what: "Lgth is not 16"
            })
        );
        assert_eq!(
            verify_checksum(
                0x8003,
                &checksum([0; 16], flags::DCE_STYLE, &[]),
                None,
                ChannelBindingPolicy::Enforce
            ),
            Err(AcceptError::UnsupportedOption { what: "DCE style" })
        );
    }

    #[test]
    fn bounds_the_delegation_field() {
        let good = checksum(
            [0; 16],
            flags::DELEG | flags::MUTUAL,
            &[1, 0, 3, 0, 0xaa, 0xbb, 0xcc],
        );
        assert_eq!(
            verify_checksum(0x8003, &good, None, ChannelBindingPolicy::Enforce),
            Ok(GssChecksum {
                flags: 3,
                delegated: true,
                channel_bound: false
            })
        );
        let short = checksum([0; 16], flags::DELEG, &[1, 0, 9, 0, 0xaa]);
        assert_eq!(
            verify_checksum(0x8003, &short, None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::BadChecksum {
                what: "delegation field truncated"
            })
        );
        let bad_opt = checksum([0; 16], flags::DELEG, &[2, 0, 0, 0]);
        assert_eq!(
            verify_checksum(0x8003, &bad_opt, None, ChannelBindingPolicy::Enforce),
            Err(AcceptError::BadChecksum {
                what: "DlgOpt is not 1"
            })
        );
        // The flag without the field is what MIT sends when it has nothing to forward.
        let flag_only = checksum([0; 16], flags::DELEG, &[]);
        assert_eq!(
            verify_checksum(0x8003, &flag_only, None, ChannelBindingPolicy::Enforce),
            Ok(GssChecksum {
                flags: 1,
                delegated: false,
                channel_bound: false
            })
        );
    }
}
