//! Checking a PAC against the ticket it came in: the server signature (with the service key)
//! and the client information, for AD's PACs ([`super::Pac`]) and for those without logon
//! information that MIT krb5 and Heimdal KDCs sign.

use crate::proto::crypto::{CryptoError, KeyUsage, UsageKey};

use super::signature::{checksum_len, SIGNATURE_TYPE_LEN};
use super::{buffer_type, read_buffers, ClientInfo, PacBuffer, PacError, SignatureData};

/// [`Pac::verify_server_checksum`](super::Pac::verify_server_checksum) over the PAC's octets
/// and its two signature buffers.
pub(super) fn verify_server_checksum(
    bytes: &[u8],
    server_signature: Option<(PacBuffer<'_>, SignatureData<'_>)>,
    kdc_signature: Option<(PacBuffer<'_>, SignatureData<'_>)>,
    key: &UsageKey,
) -> Result<(), PacError> {
    if key.usage() != KeyUsage::PAC_CHECKSUM {
        return Err(PacError::WrongKeyUsage {
            got: key.usage().get(),
        });
    }
    let (server, signature) = server_signature.ok_or(PacError::MissingBuffer {
        ul_type: buffer_type::SERVER_CHECKSUM,
    })?;
    let (kdc, _) = kdc_signature.ok_or(PacError::MissingBuffer {
        ul_type: buffer_type::KDC_CHECKSUM,
    })?;
    let got = signature.signature_type;
    if checksum_len(got).is_none() {
        return Err(PacError::UnsupportedChecksum { cksumtype: got });
    }
    let expected = key.enctype().checksum_type();
    if got != expected {
        return Err(PacError::ChecksumTypeMismatch { expected, got });
    }
    let mut copy = bytes.to_vec();
    for b in [server, kdc] {
        // Inside the PAC: `read_buffers` checked the range, `SignatureData::extract` that
        // the buffer holds at least the type.
        let start = b.offset + SIGNATURE_TYPE_LEN;
        let end = b.offset + b.data.len();
        if let Some(field) = copy.get_mut(start..end) {
            field.fill(0);
        }
    }
    key.verify_checksum(&copy, signature.signature)
        .map_err(|e| match e {
            CryptoError::ChecksumMismatch { .. } => PacError::BadServerChecksum,
            _ => PacError::Malformed {
                what: "PAC_SIGNATURE_DATA: signature length",
            },
        })
}

/// [`Pac::check_client_info`](super::Pac::check_client_info) for the PAC's client information,
/// if it has one.
pub(super) fn check_client_info<S: AsRef<str>>(
    info: Option<&ClientInfo>,
    cname: &[S],
    authtime: i64,
) -> Result<(), PacError> {
    let info = info.ok_or(PacError::MissingBuffer {
        ul_type: buffer_type::CLIENT_INFO,
    })?;
    let ticket = cname
        .iter()
        .map(AsRef::as_ref)
        .collect::<Vec<_>>()
        .join("/");
    if info.name != ticket {
        return Err(PacError::ClientNameMismatch {
            pac: info.name.clone(),
            ticket,
        });
    }
    let pac = info.client_id.to_unix();
    if pac != authtime {
        return Err(PacError::AuthTimeMismatch {
            pac,
            ticket: authtime,
        });
    }
    Ok(())
}

/// Verifies a PAC without logon information, as MIT krb5 (1.20 and later) and Heimdal KDCs
/// issue them: client information and the server and KDC signatures, no SIDs. The server
/// signature and the client information are checked exactly as for an AD PAC
/// ([`Pac::verify_server_checksum`], [`Pac::check_client_info`]); there is no identity to
/// derive.
///
/// # Errors
///
/// The layout errors of [`Pac::extract`], a malformed client information or signature buffer,
/// then those of [`Pac::verify_server_checksum`] and [`Pac::check_client_info`].
///
/// [`Pac::extract`]: super::Pac::extract
/// [`Pac::verify_server_checksum`]: super::Pac::verify_server_checksum
/// [`Pac::check_client_info`]: super::Pac::check_client_info
pub fn verify_without_logon_info<S: AsRef<str>>(
    bytes: &[u8],
    key: &UsageKey,
    cname: &[S],
    authtime: i64,
) -> Result<(), PacError> {
    let buffers = read_buffers(bytes)?;
    let checked = Checked::read(&buffers)?;
    verify_server_checksum(bytes, checked.server_signature, checked.kdc_signature, key)?;
    check_client_info(checked.client_info.as_ref(), cname, authtime)
}

/// What a PAC is checked with, AD's or not: the client information and the two signatures.
pub(super) struct Checked<'a> {
    pub(super) client_info: Option<ClientInfo>,
    pub(super) server_signature: Option<(PacBuffer<'a>, SignatureData<'a>)>,
    pub(super) kdc_signature: Option<(PacBuffer<'a>, SignatureData<'a>)>,
}

impl<'a> Checked<'a> {
    pub(super) fn read(buffers: &[PacBuffer<'a>]) -> Result<Self, PacError> {
        let find = |ul_type| buffers.iter().find(|b| b.ul_type == ul_type).copied();
        let signature = |ul_type| {
            find(ul_type)
                .map(|b| SignatureData::extract(b.data).map(|s| (b, s)))
                .transpose()
        };
        Ok(Self {
            client_info: find(buffer_type::CLIENT_INFO)
                .map(|b| ClientInfo::extract(b.data))
                .transpose()?,
            server_signature: signature(buffer_type::SERVER_CHECKSUM)?,
            kdc_signature: signature(buffer_type::KDC_CHECKSUM)?,
        })
    }
}
