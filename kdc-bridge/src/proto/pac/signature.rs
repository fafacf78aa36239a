//! `PAC_SIGNATURE_DATA` (buffer types 6, 7, 16 and 19), [MS-PAC §2.8].
//!
//! [MS-PAC §2.8]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/6e95edd3-af93-41d4-8303-6c7955297315

use crate::proto::crypto::Enctype;

use super::error::PacError;

/// The octets of `SignatureType`.
pub(super) const SIGNATURE_TYPE_LEN: usize = 4;

/// A signature buffer.
///
/// ```text
/// typedef struct _PAC_SIGNATURE_DATA {
///     ULONG SignatureType;        // a keyed checksum type: 16, 15 or -138 (0xFFFFFF76)
///     UCHAR Signature[];          // 12 octets for the AES types, 16 for HMAC-MD5
///     USHORT RODCIdentifier;      // optional: only in PACs of a read-only DC, KDC signature
/// } PAC_SIGNATURE_DATA;
/// ```
///
/// The signature's length follows from its type (MS-PAC §2.8 table; MIT does the same), so a
/// buffer that is 2 octets longer carries an `RODCIdentifier`. For a type this crate does not
/// know, everything after the type is taken as the signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignatureData<'a> {
    /// `SignatureType`, a Kerberos checksum type number.
    pub signature_type: i32,
    /// `Signature`.
    pub signature: &'a [u8],
    /// `RODCIdentifier`.
    pub rodc_identifier: Option<u16>,
}

/// The checksum length of a keyed checksum type this crate implements.
pub(super) fn checksum_len(cksumtype: i32) -> Option<usize> {
    Enctype::ALL
        .into_iter()
        .find(|e| e.checksum_type() == cksumtype)
        .map(Enctype::checksum_len)
}

impl<'a> SignatureData<'a> {
    /// Parses a signature buffer.
    ///
    /// # Errors
    ///
    /// [`PacError::Truncated`] below the 4 octets of the type or the length of a known
    /// checksum type, [`PacError::Malformed`] if a known type is followed by anything but its
    /// signature and an optional `RODCIdentifier`.
    pub fn extract(buf: &'a [u8]) -> Result<Self, PacError> {
        const WHAT: &str = "PAC_SIGNATURE_DATA";
        let (ty, rest) = buf
            .split_first_chunk::<SIGNATURE_TYPE_LEN>()
            .ok_or(PacError::Truncated { what: WHAT })?;
        let signature_type = i32::from_le_bytes(*ty);
        let Some(len) = checksum_len(signature_type) else {
            return Ok(Self {
                signature_type,
                signature: rest,
                rodc_identifier: None,
            });
        };
        let (signature, rodc) = rest
            .split_at_checked(len)
            .ok_or(PacError::Truncated { what: WHAT })?;
        let rodc_identifier = match rodc {
            [] => None,
            [lo, hi] => Some(u16::from_le_bytes([*lo, *hi])),
            _ => {
                return Err(PacError::Malformed {
                    what: "PAC_SIGNATURE_DATA: octets after the signature",
                })
            }
        };
        Ok(Self {
            signature_type,
            signature,
            rodc_identifier,
        })
    }
}
