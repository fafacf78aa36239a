//! Security identifiers and GUIDs in their AD binary forms.

use std::fmt;

/// The most sub-authorities a SID has ([MS-DTYP] §2.4.2: `SubAuthorityCount` ≤ 15).
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// A security identifier, as AD stores it in `objectSid` and `tokenGroups`
/// ([MS-DTYP] §2.4.2.2, "SID--Packet Representation"):
///
/// ```text
/// Revision (1 octet, 1) | SubAuthorityCount (1) | IdentifierAuthority (6, big-endian)
/// | SubAuthority[SubAuthorityCount] (4 octets each, little-endian)
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    sub_authorities: Vec<u32>,
}

impl Sid {
    /// Parses the binary form; the length must be exactly `8 + 4 × count`.
    pub fn extract(bytes: &[u8]) -> Option<Self> {
        let (&revision, rest) = bytes.split_first()?;
        let (&count, rest) = rest.split_first()?;
        let count = usize::from(count);
        if revision != 1 || count > MAX_SUB_AUTHORITIES {
            return None;
        }
        let (authority, rest) = rest.split_first_chunk::<6>()?;
        if rest.len() != count * 4 {
            return None;
        }
        let mut auth = [0u8; 8];
        if let Some(tail) = auth.get_mut(2..) {
            tail.copy_from_slice(authority);
        }
        let sub_authorities = rest
            .chunks_exact(4)
            .filter_map(|c| c.try_into().ok().map(u32::from_le_bytes))
            .collect();
        Some(Self {
            authority: u64::from_be_bytes(auth),
            sub_authorities,
        })
    }

    /// The binary form.
    pub fn build(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * self.sub_authorities.len());
        out.push(1);
        // At most MAX_SUB_AUTHORITIES by construction.
        out.push(u8::try_from(self.sub_authorities.len()).unwrap_or(u8::MAX));
        out.extend_from_slice(self.authority.to_be_bytes().get(2..).unwrap_or_default());
        for s in &self.sub_authorities {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// The last sub-authority: the relative identifier of a domain account or group.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities.last().copied()
    }

    /// The binary form as an LDAP filter value: every octet escaped as `\xx` (RFC 4515 §3).
    pub fn filter_value(&self) -> String {
        use fmt::Write as _;
        let bytes = self.build();
        let mut out = String::with_capacity(bytes.len() * 3);
        for b in bytes {
            let _ = write!(out, "\\{b:02x}");
        }
        out
    }
}

/// The string form `S-1-5-21-…`.
impl fmt::Display for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-1-{}", self.authority)?;
        for s in &self.sub_authorities {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// An `objectGUID`: 16 octets, shown in the mixed-endian string form AD uses
/// ([MS-DTYP] §2.3.4.2: `Data1` u32, `Data2` and `Data3` u16 little-endian, then 8 octets).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Guid([u8; 16]);

impl Guid {
    /// The 16 octets as stored in `objectGUID`; `None` for any other length.
    pub fn extract(bytes: &[u8]) -> Option<Self> {
        bytes.try_into().ok().map(Self)
    }

    /// The 16 octets as stored.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a0, a1, a2, a3, b0, b1, c0, c1, d @ ..] = self.0;
        write!(
            f,
            "{:08x}-{:04x}-{:04x}-",
            u32::from_le_bytes([a0, a1, a2, a3]),
            u16::from_le_bytes([b0, b1]),
            u16::from_le_bytes([c0, c1])
        )?;
        let [d0, d1, e @ ..] = d;
        write!(f, "{d0:02x}{d1:02x}-")?;
        for b in e {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Guid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins of a sample domain), as
    /// [MS-DTYP] §2.4.2.2 lays it out.
    const DOMAIN_ADMINS: [u8; 28] = [
        0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x15, 0x00, 0x00, 0x00, 0xdc, 0xf4, 0xdc,
        0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x00, 0x02, 0x00, 0x00,
    ];

    #[test]
    fn sid_round_trip() {
        let sid = Sid::extract(&DOMAIN_ADMINS).unwrap();
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-512"
        );
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(sid.build(), DOMAIN_ADMINS);
        assert!(sid
            .filter_value()
            .starts_with("\\01\\05\\00\\00\\00\\00\\00\\05\\15"));
        assert_eq!(sid.filter_value().len(), 28 * 3);
        // BUILTIN\Users, S-1-5-32-545.
        let users = Sid::extract(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x21, 2, 0, 0]).unwrap();
        assert_eq!(users.to_string(), "S-1-5-32-545");
    }

    #[test]
    fn sid_rejects_bad_lengths_and_revisions() {
        assert_eq!(Sid::extract(&[]), None);
        assert_eq!(Sid::extract(&DOMAIN_ADMINS[..27]), None);
        let mut long = DOMAIN_ADMINS.to_vec();
        long.push(0);
        assert_eq!(Sid::extract(&long), None);
        let mut rev2 = DOMAIN_ADMINS;
        rev2[0] = 2;
        assert_eq!(Sid::extract(&rev2), None);
        let mut many = vec![1, 16, 0, 0, 0, 0, 0, 5];
        many.extend(std::iter::repeat_n(0, 64));
        assert_eq!(Sid::extract(&many), None);
    }

    #[test]
    fn guid_string_form() {
        // Data1 0x12345678, Data2 0x1234, Data3 0x1234 little-endian; Data4 as stored.
        let bytes = [
            0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x34, 0x12, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
            0xde, 0xf0,
        ];
        let guid = Guid::extract(&bytes).unwrap();
        assert_eq!(guid.to_string(), "12345678-1234-1234-1234-56789abcdef0");
        assert_eq!(guid.as_bytes(), &bytes);
        assert_eq!(Guid::extract(&bytes[..15]), None);
    }

    proptest! {
        #[test]
        fn sid_decode_never_panics_and_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
            if let Some(sid) = Sid::extract(&bytes) {
                prop_assert_eq!(sid.build(), bytes);
            }
        }

        #[test]
        fn sid_encode_decode(authority in 0u64..(1 << 48), subs in proptest::collection::vec(any::<u32>(), 0..=15)) {
            let sid = Sid { authority, sub_authorities: subs };
            prop_assert_eq!(Sid::extract(&sid.build()), Some(sid));
        }
    }
}
