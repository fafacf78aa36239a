//! The Privilege Attribute Certificate, [MS-PAC]: who the user is and which groups they are
//! in, as the KDC put it in the service ticket. Sans-IO: bytes in, typed data out.
//!
//! Three steps, each its own call so the acceptor decides the order and the policy:
//!
//! 1. [`find_pac`]: the PAC in the decrypted ticket's `authorization-data`.
//! 2. [`Pac::extract`]: the `PACTYPE` and its buffers, and the identity derived from them
//!    ([`Pac::user_sid`], [`Pac::group_sids`], …).
//! 3. [`Pac::verify_server_checksum`] with the service key, and [`Pac::check_client_info`]
//!    against the ticket's client and authtime. A PAC must pass both before anything in it is
//!    believed.
//!
//! ## What the server signature covers
//!
//! [MS-PAC §2.8.1]: a keyed checksum (key usage 17, `KERB_NON_KERB_CKSUM_SALT`) with the
//! service key over the whole PAC, "with the Signature fields of both PAC_SIGNATURE_DATA
//! structures set to zero" (server, type 6, and KDC, type 7). The newer KDC-keyed signatures
//! are *not* zeroed: the ticket signature (16) is made before the PAC is signed, and the
//! extended KDC ("full") signature (19) "MUST be generated BEFORE the Server Signature"
//! (§2.8.3), so the server signature covers both. MIT (`verify_pac_checksums` in
//! `src/lib/krb5/krb/pac.c`) zeroes exactly types 6 and 7 for the server checksum, and the
//! Samba AD captures in `tests/vectors/samba/` (which carry 16 and 19) verify that way and not
//! with 16 and 19 zeroed too. As MIT and Samba do, everything after `SignatureType` is zeroed,
//! including an `RODCIdentifier`.
//!
//! ## What is not checked, and why that is fine
//!
//! The KDC signature (7), the ticket signature (16) and the full signature (19) are keyed with
//! the `krbtgt` key, which an acceptor does not have. They let a KDC detect a PAC that a
//! *service* forged or altered (when the ticket comes back to it in S4U2Proxy or a renewal);
//! they protect the KDC from holders of service keys. For us, the server signature already
//! proves the PAC was made by a holder of our own service key: the KDC, or ourselves. Whoever
//! holds that key can mint any ticket for this service anyway (see `proto::mint`), so the
//! `krbtgt` signatures could not stop anyone the server signature lets through. Windows
//! services do the same: they validate the KDC signature only through the optional Netlogon
//! PAC validation round trip ([MS-APDS §3.2.5.1]), which we do not make.
//!
//! [MS-PAC]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/
//! [MS-PAC §2.8.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/a194aa34-81bd-46a0-a931-2e05b87d1098
//! [MS-APDS §3.2.5.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-apds/

#[cfg(any(test, feature = "mint"))]
pub mod build;
mod client_info;
mod error;
mod identity;
mod logon_info;
mod ndr;
mod sid;
mod signature;
mod text;
mod upn_dns_info;
mod verify;

use crate::proto::crypto::UsageKey;
use crate::proto::der::{read_single, tag, Reader};
use crate::proto::krb::asn1::{explicit, in_explicit, read_i32, sequence, Asn1Error};

pub use self::client_info::ClientInfo;
pub use self::error::PacError;
pub use self::identity::PacIdentity;
pub use self::logon_info::{
    group_attributes, user_flags, FileTime, GroupMembership, LogonInfo, SidAndAttributes,
};
pub use self::sid::{Sid, SidParseError, MAX_SUB_AUTHORITIES};
pub use self::signature::SignatureData;
pub use self::text::UnicodeString;
pub use self::upn_dns_info::{upn_flags, UpnDnsInfo};

use self::identity::derive_identity;
use self::ndr::NdrReader;
pub use self::verify::verify_without_logon_info;
use self::verify::{check_client_info, verify_server_checksum, Checked};

/// `ad-type` numbers, [RFC 4120 §7.5.4] and [MS-KILE §3.3.5.7].
///
/// [RFC 4120 §7.5.4]: https://www.rfc-editor.org/rfc/rfc4120#section-7.5.4
/// [MS-KILE §3.3.5.7]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/
pub mod ad_type {
    /// `AD-IF-RELEVANT`: its `ad-data` is another `AuthorizationData`.
    pub const IF_RELEVANT: i32 = 1;
    /// `AD-WIN2K-PAC`: its `ad-data` is the PAC.
    pub const WIN2K_PAC: i32 = 128;
}

/// `PAC_INFO_BUFFER.ulType` values, [MS-PAC §2.4].
///
/// [MS-PAC §2.4]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/3341cfa2-6ef5-42e0-b7bc-4544884bf399
pub mod buffer_type {
    /// `KERB_VALIDATION_INFO`, the logon information (§2.5).
    pub const LOGON_INFO: u32 = 0x0000_0001;
    /// `PAC_CREDENTIAL_INFO` (§2.6), PKINIT only.
    pub const CREDENTIALS: u32 = 0x0000_0002;
    /// Server signature (§2.8.1).
    pub const SERVER_CHECKSUM: u32 = 0x0000_0006;
    /// KDC signature (§2.8.5).
    pub const KDC_CHECKSUM: u32 = 0x0000_0007;
    /// `PAC_CLIENT_INFO` (§2.7).
    pub const CLIENT_INFO: u32 = 0x0000_000a;
    /// `S4U_DELEGATION_INFO` (§2.9).
    pub const CONSTRAINED_DELEGATION: u32 = 0x0000_000b;
    /// `UPN_DNS_INFO` (§2.10).
    pub const UPN_DNS_INFO: u32 = 0x0000_000c;
    /// `PAC_CLIENT_CLAIMS_INFO` (§2.11).
    pub const CLIENT_CLAIMS: u32 = 0x0000_000d;
    /// `PAC_DEVICE_INFO` (§2.12).
    pub const DEVICE_INFO: u32 = 0x0000_000e;
    /// `PAC_DEVICE_CLAIMS_INFO` (§2.13).
    pub const DEVICE_CLAIMS: u32 = 0x0000_000f;
    /// Ticket signature (§2.8.2), `krbtgt`-keyed.
    pub const TICKET_CHECKSUM: u32 = 0x0000_0010;
    /// `PAC_ATTRIBUTES_INFO` (§2.14).
    pub const ATTRIBUTES_INFO: u32 = 0x0000_0011;
    /// `PAC_REQUESTOR` (§2.15).
    pub const REQUESTOR: u32 = 0x0000_0012;
    /// Extended KDC ("full PAC") signature (§2.8.3), `krbtgt`-keyed.
    pub const FULL_CHECKSUM: u32 = 0x0000_0013;
}

/// The buffer types that may appear only once: the ones this module reads.
const UNIQUE_TYPES: [u32; 5] = [
    buffer_type::LOGON_INFO,
    buffer_type::SERVER_CHECKSUM,
    buffer_type::KDC_CHECKSUM,
    buffer_type::CLIENT_INFO,
    buffer_type::UPN_DNS_INFO,
];

/// `cBuffers` and `Version`.
const PACTYPE_LEN: usize = 8;
/// `ulType`, `cbBufferSize` and `Offset`.
const PAC_INFO_BUFFER_LEN: usize = 16;
/// MS-PAC §2.4: "Offset ... MUST be a multiple of eight".
const PAC_ALIGNMENT: u64 = 8;

/// Finds the PAC in a ticket's `authorization-data` (the DER of an `AuthorizationData`).
///
/// ```text
/// AuthorizationData       ::= SEQUENCE OF SEQUENCE {
///         ad-type         [0] Int32,
///         ad-data         [1] OCTET STRING
/// }
/// AD-IF-RELEVANT          ::= AuthorizationData       -- ad-type 1
/// ```
///
/// [RFC 4120 §5.2.6]; [MS-KILE §3.3.5.7]: the PAC is the `ad-data` of an `AD-WIN2K-PAC` (128)
/// element inside an `AD-IF-RELEVANT` element. Every `AD-IF-RELEVANT` is searched (as MIT's
/// `krb5_kdc_verify_ticket` does); an `AD-WIN2K-PAC` at the top level is not a PAC (MS-KILE
/// never puts one there) and is ignored.
///
/// # Errors
///
/// - [`PacError::BadAuthorizationData`] if either container is not valid DER.
/// - [`PacError::MultiplePacs`] for more than one `AD-WIN2K-PAC`: AD issues one, and two
///   would leave the choice to whoever reads first.
///
/// `Ok(None)` means the ticket has no PAC (an MIT KDC without the PAC plugin, say); whether
/// that is acceptable is the caller's policy (see [`PacError::NoPac`]).
///
/// [RFC 4120 §5.2.6]: https://www.rfc-editor.org/rfc/rfc4120#section-5.2.6
/// [MS-KILE §3.3.5.7]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/
pub fn find_pac(authorization_data: &[u8]) -> Result<Option<&[u8]>, PacError> {
    let mut found = None;
    for_each_element(authorization_data, "AuthorizationData", |ad_type, data| {
        if ad_type != ad_type::IF_RELEVANT {
            return Ok(());
        }
        for_each_element(data, "AD-IF-RELEVANT", |inner_type, pac| {
            if inner_type == ad_type::WIN2K_PAC {
                if found.is_some() {
                    return Err(PacError::MultiplePacs);
                }
                found = Some(pac);
            }
            Ok(())
        })
    })?;
    Ok(found)
}

/// Calls `f` with the `ad-type` and `ad-data` of every element of an `AuthorizationData`,
/// which must be exactly `buf`.
fn for_each_element<'a>(
    buf: &'a [u8],
    what: &'static str,
    mut f: impl FnMut(i32, &'a [u8]) -> Result<(), PacError>,
) -> Result<(), PacError> {
    let bad = |_: Asn1Error| PacError::BadAuthorizationData { what };
    let outer = read_single(buf, tag::SEQUENCE).map_err(|e| bad(e.into()))?;
    let mut elements = Reader::new(outer.value);
    while !elements.is_empty() {
        let (ad_type, data) = sequence(&mut elements, tag::SEQUENCE, |e| {
            let ad_type = in_explicit(explicit(e, 0)?, read_i32)?;
            let data = in_explicit(explicit(e, 1)?, |d| Ok(d.read(tag::OCTET_STRING)?.value))?;
            Ok((ad_type, data))
        })
        .map_err(bad)?;
        f(ad_type, data)?;
    }
    Ok(())
}

/// One `PAC_INFO_BUFFER` and the octets it points at.
///
/// ```text
/// typedef struct _PAC_INFO_BUFFER {
///     ULONG ulType;           // see buffer_type
///     ULONG cbBufferSize;     // octets
///     ULONG64 Offset;         // from the start of the PACTYPE, a multiple of 8
/// } PAC_INFO_BUFFER;
/// ```
///
/// Buffers this module does not interpret (credentials, delegation, claims, device info,
/// attributes, requestor, the `krbtgt`-keyed signatures, future types) are kept as these
/// typed ranges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacBuffer<'a> {
    /// `ulType`, see [`buffer_type`].
    pub ul_type: u32,
    /// `Offset`, checked to lie inside the PAC.
    pub offset: usize,
    /// The `cbBufferSize` octets at `offset`.
    pub data: &'a [u8],
}

/// A parsed PAC, borrowing the octets it was read from.
///
/// ```text
/// typedef struct _PACTYPE {
///     ULONG cBuffers;
///     ULONG Version;                      // MUST be 0
///     PAC_INFO_BUFFER Buffers[cBuffers];
/// } PACTYPE;                              // then the buffers, each 8-aligned
/// ```
///
/// [MS-PAC §2.3](https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/6655b92f-ab06-490b-845d-037e6987275f).
/// Nothing in it is authenticated until [`Pac::verify_server_checksum`] and
/// [`Pac::check_client_info`] have passed.
#[derive(Debug, Clone)]
pub struct Pac<'a> {
    bytes: &'a [u8],
    buffers: Vec<PacBuffer<'a>>,
    logon_info: LogonInfo,
    client_info: Option<ClientInfo>,
    upn_dns_info: Option<UpnDnsInfo>,
    server_signature: Option<(PacBuffer<'a>, SignatureData<'a>)>,
    kdc_signature: Option<(PacBuffer<'a>, SignatureData<'a>)>,
    identity: PacIdentity,
}

/// Reads the `PACTYPE` header and checks every `PAC_INFO_BUFFER`: aligned, inside the PAC
/// and after the header, not overlapping another, and at most one of each
/// [`UNIQUE_TYPES`].
fn read_buffers(bytes: &[u8]) -> Result<Vec<PacBuffer<'_>>, PacError> {
    let mut r = NdrReader::new(bytes);
    let count = r.u32("PACTYPE")?;
    let version = r.u32("PACTYPE")?;
    if version != 0 {
        return Err(PacError::BadVersion { got: version });
    }
    let n = r.fits(count, PAC_INFO_BUFFER_LEN, "PACTYPE.cBuffers")?;
    // In range: `fits` checked that the entries are inside `bytes`.
    let header_len = (PACTYPE_LEN + n * PAC_INFO_BUFFER_LEN) as u64;
    let pac_len = bytes.len();
    let mut buffers = Vec::with_capacity(n);
    for _ in 0..n {
        let ul_type = r.u32("PAC_INFO_BUFFER")?;
        let size = r.u32("PAC_INFO_BUFFER")?;
        let offset = r.u64("PAC_INFO_BUFFER")?;
        if !offset.is_multiple_of(PAC_ALIGNMENT) {
            return Err(PacError::MisalignedBuffer { ul_type, offset });
        }
        let out_of_range = PacError::BufferOutOfRange {
            ul_type,
            offset,
            size,
            pac_len,
        };
        if offset < header_len {
            return Err(out_of_range);
        }
        let found = usize::try_from(offset).ok().and_then(|start| {
            let end = start.checked_add(usize::try_from(size).ok()?)?;
            Some((start, bytes.get(start..end)?))
        });
        let Some((offset, data)) = found else {
            return Err(out_of_range);
        };
        if UNIQUE_TYPES.contains(&ul_type)
            && buffers.iter().any(|b: &PacBuffer<'_>| b.ul_type == ul_type)
        {
            return Err(PacError::DuplicateBuffer { ul_type });
        }
        buffers.push(PacBuffer {
            ul_type,
            offset,
            data,
        });
    }
    let mut by_offset: Vec<&PacBuffer<'_>> = buffers.iter().collect();
    by_offset.sort_by_key(|b| (b.offset, b.data.len()));
    for pair in by_offset.windows(2) {
        if let [a, b] = pair {
            if a.offset + a.data.len() > b.offset {
                return Err(PacError::OverlappingBuffers {
                    first: a.ul_type,
                    second: b.ul_type,
                });
            }
        }
    }
    Ok(buffers)
}

impl<'a> Pac<'a> {
    /// Parses a PAC (the `ad-data` that [`find_pac`] returns) and derives the identity.
    ///
    /// Every count and length from the wire is checked against the octets actually present
    /// before anything is allocated from it, so a PAC that claims a million groups in 100
    /// octets fails at once with [`PacError::CountTooLarge`].
    ///
    /// # Errors
    ///
    /// - Layout: [`PacError::Truncated`], [`PacError::BadVersion`],
    ///   [`PacError::CountTooLarge`], [`PacError::MisalignedBuffer`],
    ///   [`PacError::BufferOutOfRange`], [`PacError::OverlappingBuffers`],
    ///   [`PacError::DuplicateBuffer`].
    /// - [`PacError::MissingBuffer`] without a logon information buffer (type 1).
    /// - [`PacError::Malformed`] (or `Truncated`, `CountTooLarge`) inside the logon
    ///   information, client information, UPN and DNS information or a signature buffer.
    pub fn extract(bytes: &'a [u8]) -> Result<Self, PacError> {
        let buffers = read_buffers(bytes)?;
        let find = |ul_type| buffers.iter().find(|b| b.ul_type == ul_type).copied();
        let logon_info = find(buffer_type::LOGON_INFO)
            .ok_or(PacError::MissingBuffer {
                ul_type: buffer_type::LOGON_INFO,
            })
            .and_then(|b| LogonInfo::extract(b.data))?;
        let upn_dns_info = find(buffer_type::UPN_DNS_INFO)
            .map(|b| UpnDnsInfo::extract(b.data))
            .transpose()?;
        let Checked {
            client_info,
            server_signature,
            kdc_signature,
        } = Checked::read(&buffers)?;
        let identity = derive_identity(&logon_info, upn_dns_info.as_ref())?;
        Ok(Self {
            bytes,
            buffers,
            logon_info,
            client_info,
            upn_dns_info,
            server_signature,
            kdc_signature,
            identity,
        })
    }

    /// The PAC's octets.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }

    /// Every buffer, in `PAC_INFO_BUFFER` order, interpreted or not.
    pub fn buffers(&self) -> &[PacBuffer<'a>] {
        &self.buffers
    }

    /// The first buffer of type `ul_type`.
    pub fn buffer(&self, ul_type: u32) -> Option<&PacBuffer<'a>> {
        self.buffers.iter().find(|b| b.ul_type == ul_type)
    }

    /// The logon information (`KERB_VALIDATION_INFO`).
    pub fn logon_info(&self) -> &LogonInfo {
        &self.logon_info
    }

    /// The client information, if the PAC has one (AD always includes it).
    pub fn client_info(&self) -> Option<&ClientInfo> {
        self.client_info.as_ref()
    }

    /// The UPN and DNS information, if the PAC has one.
    pub fn upn_dns_info(&self) -> Option<&UpnDnsInfo> {
        self.upn_dns_info.as_ref()
    }

    /// The server signature (type 6).
    pub fn server_signature(&self) -> Option<&SignatureData<'a>> {
        self.server_signature.as_ref().map(|(_, s)| s)
    }

    /// The KDC signature (type 7). Not verified: see the module documentation.
    pub fn kdc_signature(&self) -> Option<&SignatureData<'a>> {
        self.kdc_signature.as_ref().map(|(_, s)| s)
    }

    /// The derived identity.
    pub fn identity(&self) -> &PacIdentity {
        &self.identity
    }

    /// The derived identity, owned.
    pub fn into_identity(self) -> PacIdentity {
        self.identity
    }

    /// The account's SID, `LogonDomainId` + `UserId` (or, when `UserId` is 0, the first
    /// `ExtraSids` entry, as MS-PAC §2.5 says).
    pub fn user_sid(&self) -> Sid {
        self.identity.user_sid
    }

    /// The primary group's SID.
    pub fn primary_group_sid(&self) -> Sid {
        self.identity.primary_group_sid
    }

    /// Every group SID, deduplicated, in a stable order (see [`PacIdentity::group_sids`]).
    pub fn group_sids(&self) -> &[Sid] {
        &self.identity.group_sids
    }

    /// The account name (`EffectiveName`).
    pub fn account_name(&self) -> &str {
        &self.identity.account_name
    }

    /// The NetBIOS domain name (`LogonDomainName`).
    pub fn logon_domain_name(&self) -> &str {
        &self.identity.logon_domain_name
    }

    /// The UPN, from `UPN_DNS_INFO`.
    pub fn upn(&self) -> Option<&str> {
        self.identity.upn.as_deref()
    }

    /// The DNS domain name, from `UPN_DNS_INFO`.
    pub fn dns_domain(&self) -> Option<&str> {
        self.identity.dns_domain.as_deref()
    }

    /// Verifies the server signature with the service key, derived for
    /// [`KeyUsage::PAC_CHECKSUM`](crate::proto::crypto::KeyUsage::PAC_CHECKSUM) (17): the key
    /// that decrypted the ticket.
    ///
    /// The checksum is computed over a copy of the PAC in which everything after
    /// `SignatureType` in the server (6) and KDC (7) signature buffers is zero; see the module
    /// documentation for why exactly those. The comparison is constant-time.
    ///
    /// # Errors
    ///
    /// - [`PacError::WrongKeyUsage`] if `key` is not for usage 17 (a bug in the caller).
    /// - [`PacError::MissingBuffer`] without a server or KDC signature.
    /// - [`PacError::UnsupportedChecksum`] for a `SignatureType` that is not one of 16, 15
    ///   or -138 (unkeyed types such as SHA-1 included).
    /// - [`PacError::ChecksumTypeMismatch`] if it is not the checksum type of `key`'s
    ///   enctype ([MS-PAC §2.8.1]: "The checksum type corresponds to the key").
    /// - [`PacError::BadServerChecksum`] if it does not match.
    ///
    /// [MS-PAC §2.8.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/a194aa34-81bd-46a0-a931-2e05b87d1098
    pub fn verify_server_checksum(&self, key: &UsageKey) -> Result<(), PacError> {
        verify_server_checksum(self.bytes, self.server_signature, self.kdc_signature, key)
    }

    /// Checks `PAC_CLIENT_INFO` against the ticket: its `Name` must be the ticket's client
    /// name without the realm, and its `ClientId` the ticket's `authtime` (Unix seconds).
    ///
    /// [MS-PAC §2.7]. The name comparison is MIT's (`k5_pac_validate_client`): the client
    /// principal unparsed for display without its realm (components joined by `/`, nothing
    /// escaped) must equal the PAC name exactly, case included. An enterprise name
    /// (`alice@corp.test` as a single component) compares as that one component. The time is
    /// `ClientId` truncated to the second.
    ///
    /// # Errors
    ///
    /// [`PacError::MissingBuffer`] without client information, then
    /// [`PacError::ClientNameMismatch`] or [`PacError::AuthTimeMismatch`].
    ///
    /// [MS-PAC §2.7]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/e465cb27-4bc1-4173-8be0-b5fd64dc9ff7
    pub fn check_client_info<S: AsRef<str>>(
        &self,
        cname: &[S],
        authtime: i64,
    ) -> Result<(), PacError> {
        check_client_info(self.client_info.as_ref(), cname, authtime)
    }
}

#[cfg(test)]
mod test_support;
#[cfg(test)]
mod tests;
