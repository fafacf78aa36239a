//! `UPN_DNS_INFO` (buffer type 12), [MS-PAC §2.10].
//!
//! [MS-PAC §2.10]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/1c0d6e11-6443-4846-b744-f9f810a504eb

use super::error::PacError;
use super::ndr::NdrReader;
use super::sid::Sid;
use super::text::decode_utf16;

/// `UPN_DNS_INFO.Flags` bits.
pub mod upn_flags {
    /// U: the account has no `userPrincipalName`; the UPN is constructed
    /// (`sAMAccountName@dnsdomain`).
    pub const CONSTRUCTED_UPN: u32 = 0x0000_0001;
    /// S: the `SamName` and `Sid` extension follows the fixed fields.
    pub const SAM_NAME_AND_SID: u32 = 0x0000_0002;
}

/// The UPN and DNS information.
///
/// ```text
/// | UpnLength (2) | UpnOffset (2) | DnsDomainNameLength (2) | DnsDomainNameOffset (2) |
/// | Flags (4)                                                                       |
/// S flag only (UPN_DNS_INFO_EX):
/// | SamNameLength (2) | SamNameOffset (2) | SidLength (2) | SidOffset (2)              |
/// ```
///
/// Lengths are in octets and offsets from the start of the buffer; the strings are UTF-16LE
/// without a NUL, the SID in its [MS-DTYP §2.4.2.2] binary form. Samba aligns the strings to 8
/// and pads the buffer to 8, so octets that no field points at are allowed.
///
/// [MS-DTYP §2.4.2.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/f992ad60-0fe4-4b87-9fed-beb478836861
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpnDnsInfo {
    /// The user principal name, e.g. `alice@corp.test`.
    pub upn: String,
    /// The DNS name of the account's domain, e.g. `CORP.TEST`.
    pub dns_domain_name: String,
    /// `Flags`, see [`upn_flags`].
    pub flags: u32,
    /// `SamName` and `Sid` when the S flag is set.
    pub sam_name_and_sid: Option<(String, Sid)>,
}

/// Reads a (length, offset) pair and returns the octets it points at in `buf`.
fn field<'a>(
    buf: &'a [u8],
    r: &mut NdrReader<'_>,
    what: &'static str,
) -> Result<&'a [u8], PacError> {
    let len = usize::from(u16::from_le_bytes(r.array(what)?));
    let offset = usize::from(u16::from_le_bytes(r.array(what)?));
    // Both are at most 0xffff: no overflow.
    buf.get(offset..offset + len)
        .ok_or(PacError::Truncated { what })
}

impl UpnDnsInfo {
    /// Parses the buffer.
    ///
    /// # Errors
    ///
    /// [`PacError::Truncated`] when a field points past the buffer, [`PacError::Malformed`]
    /// for bad UTF-16 or a bad SID.
    pub fn extract(buf: &[u8]) -> Result<Self, PacError> {
        const WHAT: &str = "UPN_DNS_INFO";
        let mut r = NdrReader::new(buf);
        let upn = field(buf, &mut r, "UPN_DNS_INFO.Upn")?;
        let dns = field(buf, &mut r, "UPN_DNS_INFO.DnsDomainName")?;
        let flags = u32::from_le_bytes(r.array(WHAT)?);
        let upn = decode_utf16(upn, "UPN_DNS_INFO.Upn")?;
        let dns_domain_name = decode_utf16(dns, "UPN_DNS_INFO.DnsDomainName")?;
        let sam_name_and_sid = if flags & upn_flags::SAM_NAME_AND_SID != 0 {
            let sam = field(buf, &mut r, "UPN_DNS_INFO.SamName")?;
            let sid = field(buf, &mut r, "UPN_DNS_INFO.Sid")?;
            Some((
                decode_utf16(sam, "UPN_DNS_INFO.SamName")?,
                Sid::from_bytes(sid)?,
            ))
        } else {
            None
        };
        Ok(Self {
            upn,
            dns_domain_name,
            flags,
            sam_name_and_sid,
        })
    }

    /// Encodes the buffer as Samba lays it out: the header, then each string at the next
    /// multiple of 8, the SID right after the `SamName`, and zero padding to 8.
    #[cfg(any(test, feature = "mint"))]
    pub fn build(&self) -> Vec<u8> {
        use super::text::encode_utf16;

        let has_ext = self.sam_name_and_sid.is_some();
        let flags = if has_ext {
            self.flags | upn_flags::SAM_NAME_AND_SID
        } else {
            self.flags & !upn_flags::SAM_NAME_AND_SID
        };
        let mut body = vec![0u8; if has_ext { 20 } else { 12 }];
        // Appends `bytes` and writes its (length, offset) pair into the header at `slot`.
        let place = |body: &mut Vec<u8>, slot: usize, bytes: &[u8], align8: bool| {
            if align8 {
                body.resize(body.len().next_multiple_of(8), 0);
            }
            // Test data: lengths and offsets far below 64 KiB.
            let pair = [
                (bytes.len() as u16).to_le_bytes(),
                (body.len() as u16).to_le_bytes(),
            ];
            body.extend_from_slice(bytes);
            if let Some(header) = body.get_mut(slot..slot + 4) {
                header.copy_from_slice(pair.as_flattened());
            }
        };
        place(&mut body, 0, &encode_utf16(&self.upn), true);
        place(&mut body, 4, &encode_utf16(&self.dns_domain_name), true);
        if let Some(header) = body.get_mut(8..12) {
            header.copy_from_slice(&flags.to_le_bytes());
        }
        if let Some((sam, sid)) = &self.sam_name_and_sid {
            place(&mut body, 12, &encode_utf16(sam), true);
            place(&mut body, 16, &sid.to_bytes(), false);
        }
        body.resize(body.len().next_multiple_of(8), 0);
        body
    }
}

#[cfg(test)]
mod tests {
    use super::super::build::PacSpec;
    use super::*;

    #[test]
    fn upn_dns_info_round_trips_and_bounds_its_fields() {
        let spec = PacSpec::new("alice", "CORP.TEST", 0, 0);
        let info = spec.upn_dns_info();
        let bytes = info.build();
        assert_eq!(UpnDnsInfo::extract(&bytes), Ok(info.clone()));
        // Samba's layout: 24-octet header, UPN at 0x18, DNS name at 0x38, SamName at 0x50, the SID
        // right after it at 0x5a, padded to 0x78.
        assert_eq!(bytes.len(), 0x78);
        assert_eq!(&bytes[..12], &[30, 0, 0x18, 0, 18, 0, 0x38, 0, 2, 0, 0, 0]);
        assert_eq!(&bytes[12..20], &[10, 0, 0x50, 0, 28, 0, 0x5a, 0]);

        let without = UpnDnsInfo {
            flags: upn_flags::CONSTRUCTED_UPN,
            sam_name_and_sid: None,
            ..info
        };
        assert_eq!(UpnDnsInfo::extract(&without.build()), Ok(without));

        let patched = |at: usize, v: u16| {
            let mut b = bytes.clone();
            b[at..at + 2].copy_from_slice(&v.to_le_bytes());
            UpnDnsInfo::extract(&b)
        };
        assert_eq!(
            patched(2, 0x70),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO.Upn"
            })
        );
        assert_eq!(
            patched(4, 0xffff),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO.DnsDomainName"
            })
        );
        assert_eq!(patched(16, 27), Err(PacError::Truncated { what: "SID" }));
        assert_eq!(
            patched(16, 29),
            Err(PacError::Malformed {
                what: "SID: bytes after the sub-authorities"
            })
        );
        assert_eq!(
            patched(14, 0x78),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO.SamName"
            })
        );
        assert_eq!(
            patched(0, 29),
            Err(PacError::Malformed {
                what: "UPN_DNS_INFO.Upn"
            })
        );
        assert_eq!(
            UpnDnsInfo::extract(&bytes[..16]),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO.Upn"
            })
        );
        // Empty strings at offset 0, then the buffer ends inside Flags.
        assert_eq!(
            UpnDnsInfo::extract(&[0; 10]),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO"
            })
        );
        assert_eq!(
            UpnDnsInfo::extract(&[0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            Err(PacError::Truncated {
                what: "UPN_DNS_INFO.Sid"
            })
        );
    }
}
