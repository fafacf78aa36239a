//! Security identifiers and GUIDs in their AD binary forms. The SID type is the PAC's
//! ([`crate::proto::pac::Sid`]): one type for the SIDs of tickets and of the directory.

use std::fmt;

pub use crate::proto::pac::Sid;

/// A SID's binary form ([MS-DTYP] §2.4.2.2, as in `objectSid` and `tokenGroups`) as an LDAP
/// filter value: every octet escaped as `\xx` (RFC 4515 §3).
pub fn filter_value(sid: &Sid) -> String {
    use fmt::Write as _;
    let bytes = sid.to_bytes();
    let mut out = String::with_capacity(bytes.len() * 3);
    for b in bytes {
        let _ = write!(out, "\\{b:02x}");
    }
    out
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

    /// S-1-5-21-1004336348-1177238915-682003330-512 (Domain Admins of a sample domain), as
    /// [MS-DTYP] §2.4.2.2 lays it out.
    const DOMAIN_ADMINS: [u8; 28] = [
        0x01, 0x05, 0x00, 0x00, 0x00, 0x00, 0x00, 0x05, 0x15, 0x00, 0x00, 0x00, 0xdc, 0xf4, 0xdc,
        0x3b, 0x83, 0x3d, 0x2b, 0x46, 0x82, 0x8b, 0xa6, 0x28, 0x00, 0x02, 0x00, 0x00,
    ];

    #[test]
    fn sid_round_trip() {
        let sid = Sid::from_bytes(&DOMAIN_ADMINS).unwrap();
        assert_eq!(
            sid.to_string(),
            "S-1-5-21-1004336348-1177238915-682003330-512"
        );
        assert_eq!(sid.rid(), Some(512));
        assert_eq!(sid.to_bytes(), DOMAIN_ADMINS);
        assert!(filter_value(&sid).starts_with("\\01\\05\\00\\00\\00\\00\\00\\05\\15"));
        assert_eq!(filter_value(&sid).len(), 28 * 3);
        // BUILTIN\Users, S-1-5-32-545.
        let users = Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x21, 2, 0, 0]).unwrap();
        assert_eq!(users.to_string(), "S-1-5-32-545");
    }

    #[test]
    fn sid_rejects_bad_lengths_and_revisions() {
        assert!(Sid::from_bytes(&[]).is_err());
        assert!(Sid::from_bytes(&DOMAIN_ADMINS[..27]).is_err());
        let mut long = DOMAIN_ADMINS.to_vec();
        long.push(0);
        assert!(Sid::from_bytes(&long).is_err());
        let mut rev2 = DOMAIN_ADMINS;
        rev2[0] = 2;
        assert!(Sid::from_bytes(&rev2).is_err());
        let mut many = vec![1, 16, 0, 0, 0, 0, 0, 5];
        many.extend(std::iter::repeat_n(0, 64));
        assert!(Sid::from_bytes(&many).is_err());
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
}
