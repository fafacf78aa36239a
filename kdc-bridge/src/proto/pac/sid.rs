//! Security identifiers, [MS-DTYP §2.4.2].
//!
//! [MS-DTYP §2.4.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/78eb9013-1c3a-4970-ad1f-2b1dad588a25

use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use super::error::PacError;
use super::ndr::NdrReader;

/// The most sub-authorities a SID may have ([MS-DTYP §2.4.2.2]: "SubAuthorityCount ... MUST
/// be less than or equal to 15").
///
/// [MS-DTYP §2.4.2.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/f992ad60-0fe4-4b87-9fed-beb478836861
pub const MAX_SUB_AUTHORITIES: usize = 15;

/// The only SID revision.
const SID_REVISION: u8 = 1;

/// A security identifier such as `S-1-5-21-979661382-4053109533-1202225340-1102`.
///
/// [MS-DTYP §2.4.2.2] binary form, which the PAC uses both raw (`UPN_DNS_INFO`) and as the
/// NDR `RPC_SID` ([MS-DTYP §2.4.2.3], the same octets after a 4-octet conformance count):
///
/// ```text
/// | Revision (1) = 1 | SubAuthorityCount (1) | IdentifierAuthority (6, big-endian) |
/// | SubAuthority[SubAuthorityCount] (4 each, little-endian) ...                      |
/// ```
///
/// It is `Copy` and allocation-free: the sub-authorities live in a fixed array whose unused
/// tail is always zero, so the derived equality and order are those of the SID; the hash
/// covers only the used part (a PAC's group SIDs are deduplicated through it).
///
/// [MS-DTYP §2.4.2.2]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/f992ad60-0fe4-4b87-9fed-beb478836861
/// [MS-DTYP §2.4.2.3]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/5cb97814-a1c2-4215-b7dc-76d1f4bfad01
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Sid {
    authority: u64,
    count: u8,
    sub: [u32; MAX_SUB_AUTHORITIES],
}

impl Sid {
    /// A SID from its identifier authority (48 bits) and sub-authorities, or `None` if there
    /// are more than [`MAX_SUB_AUTHORITIES`] or the authority does not fit 48 bits.
    pub fn new(authority: u64, sub_authorities: &[u32]) -> Option<Self> {
        if authority >> 48 != 0 || sub_authorities.len() > MAX_SUB_AUTHORITIES {
            return None;
        }
        let mut sub = [0; MAX_SUB_AUTHORITIES];
        sub.iter_mut()
            .zip(sub_authorities)
            .for_each(|(d, s)| *d = *s);
        Some(Self {
            authority,
            // At most 15 by the check above.
            count: sub_authorities.len() as u8,
            sub,
        })
    }

    /// A SID known when compiling, such as a well-known one: `Sid::from_array(18, [1])` is
    /// `S-1-18-1`. `N` above 15 does not compile; the authority keeps its low 48 bits.
    pub const fn from_array<const N: usize>(authority: u64, sub_authorities: [u32; N]) -> Self {
        const {
            assert!(
                N <= MAX_SUB_AUTHORITIES,
                "a SID has at most 15 sub-authorities"
            )
        };
        let mut sub = [0; MAX_SUB_AUTHORITIES];
        let mut i = 0;
        while i < N {
            #[allow(
                clippy::indexing_slicing,
                reason = "i < N <= 15, checked at compile time"
            )]
            {
                sub[i] = sub_authorities[i];
            }
            i += 1;
        }
        Self {
            authority: authority & 0xffff_ffff_ffff,
            // N <= 15.
            count: N as u8,
            sub,
        }
    }

    /// The identifier authority (5 for `NT AUTHORITY`).
    pub fn authority(&self) -> u64 {
        self.authority
    }

    /// The sub-authorities.
    pub fn sub_authorities(&self) -> &[u32] {
        self.sub.get(..usize::from(self.count)).unwrap_or_default()
    }

    /// The last sub-authority: the RID of an account or group SID.
    pub fn rid(&self) -> Option<u32> {
        self.sub_authorities().last().copied()
    }

    /// This (domain) SID with `rid` appended, as the PAC builds user and group SIDs; `None`
    /// if it already has 15 sub-authorities.
    pub fn with_rid(&self, rid: u32) -> Option<Self> {
        let mut out = *self;
        let slot = out.sub.get_mut(usize::from(self.count))?;
        *slot = rid;
        out.count += 1;
        Some(out)
    }

    /// Replaces the last sub-authority (the RID); nothing without sub-authorities.
    pub(crate) fn set_rid(&mut self, rid: u32) {
        let last = usize::from(self.count).checked_sub(1);
        if let Some(slot) = last.and_then(|i| self.sub.get_mut(i)) {
            *slot = rid;
        }
    }

    /// The binary form (see the type's documentation).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(8 + 4 * usize::from(self.count));
        out.push(SID_REVISION);
        out.push(self.count);
        out.extend_from_slice(self.authority.to_be_bytes().get(2..).unwrap_or_default());
        for s in self.sub_authorities() {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out
    }

    /// Parses the binary form, which must fill `bytes` exactly.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, PacError> {
        let mut r = NdrReader::new(bytes);
        let sid = read_sid_body(&mut r, None)?;
        if r.remaining() != 0 {
            return Err(PacError::Malformed {
                what: "SID: bytes after the sub-authorities",
            });
        }
        Ok(sid)
    }
}

/// Reads an NDR `RPC_SID` referent: the conformance count, then the SID.
pub(super) fn read_rpc_sid(r: &mut NdrReader<'_>) -> Result<Sid, PacError> {
    let count = r.u32("RPC_SID")?;
    read_sid_body(r, Some(count))
}

/// Reads Revision, SubAuthorityCount, IdentifierAuthority and the sub-authorities; with a
/// `conformance`, SubAuthorityCount must equal it.
fn read_sid_body(r: &mut NdrReader<'_>, conformance: Option<u32>) -> Result<Sid, PacError> {
    let revision = r.u8("SID")?;
    let count = r.u8("SID")?;
    let authority = r.array::<6>("SID")?;
    if revision != SID_REVISION {
        return Err(PacError::Malformed {
            what: "SID: Revision is not 1",
        });
    }
    if usize::from(count) > MAX_SUB_AUTHORITIES {
        return Err(PacError::Malformed {
            what: "SID: more than 15 sub-authorities",
        });
    }
    if conformance.is_some_and(|c| c != u32::from(count)) {
        return Err(PacError::Malformed {
            what: "RPC_SID: conformance differs from SubAuthorityCount",
        });
    }
    let mut sub = [0; MAX_SUB_AUTHORITIES];
    for slot in sub.iter_mut().take(usize::from(count)) {
        *slot = r.u32("SID")?;
    }
    let mut wide = [0; 8];
    wide.iter_mut()
        .skip(2)
        .zip(authority)
        .for_each(|(d, s)| *d = s);
    Ok(Sid {
        authority: u64::from_be_bytes(wide),
        count,
        sub,
    })
}

impl Hash for Sid {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // Consistent with the derived `Eq`: the unused sub-authorities are always zero.
        state.write_u64(self.authority);
        self.sub_authorities().hash(state);
    }
}

impl fmt::Display for Sid {
    /// The [MS-DTYP §2.4.2.1] string form: `S-1-<authority>-<sub>-<sub>…`, the authority in
    /// decimal below 2^32 and as 12 hex digits (`0x…`) from there.
    ///
    /// [MS-DTYP §2.4.2.1]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/c92a27b1-c772-4fa7-a432-15df5f1b66a1
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "S-{SID_REVISION}-")?;
        if self.authority >> 32 == 0 {
            write!(f, "{}", self.authority)?;
        } else {
            write!(f, "0x{:012X}", self.authority)?;
        }
        for s in self.sub_authorities() {
            write!(f, "-{s}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

/// Why a SID string did not parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a SID in S-1-<authority>-<sub>… form (at most 15 sub-authorities)")]
pub struct SidParseError;

impl FromStr for Sid {
    type Err = SidParseError;

    /// Parses the string form that [`Display`](fmt::Display) writes (decimal or `0x` hex
    /// authority, `S` in either case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut parts = s.split('-');
        if !parts.next().is_some_and(|p| p.eq_ignore_ascii_case("S")) || parts.next() != Some("1") {
            return Err(SidParseError);
        }
        let authority = parts.next().ok_or(SidParseError)?;
        let authority = match authority
            .strip_prefix("0x")
            .or_else(|| authority.strip_prefix("0X"))
        {
            Some(hex) if all_digits(hex, 16) => u64::from_str_radix(hex, 16),
            None if all_digits(authority, 10) => authority.parse(),
            _ => return Err(SidParseError),
        }
        .map_err(|_| SidParseError)?;
        let mut sub = [0u32; MAX_SUB_AUTHORITIES];
        let mut count = 0;
        for part in parts {
            let slot = sub.get_mut(count).ok_or(SidParseError)?;
            if !all_digits(part, 10) {
                return Err(SidParseError);
            }
            *slot = part.parse().map_err(|_| SidParseError)?;
            count += 1;
        }
        Self::new(authority, sub.get(..count).unwrap_or_default()).ok_or(SidParseError)
    }
}

/// Whether `s` is non-empty and all digits of `radix` (no sign, which `parse` would take).
fn all_digits(s: &str, radix: u32) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_digit(radix))
}

#[cfg(test)]
mod tests {
    use super::super::error::PacError;
    use super::super::test_support::sid;
    use super::*;

    #[test]
    fn sids_print_and_parse_in_the_ms_dtyp_form() {
        for s in [
            "S-1-5-21-979661382-4053109533-1202225340-1102",
            "S-1-18-1",
            "S-1-5-32-545",
            "S-1-0",
            "S-1-0x123456789ABC-1",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15",
        ] {
            let parsed: Sid = s.parse().unwrap();
            assert_eq!(parsed.to_string(), s);
            assert_eq!(Sid::from_bytes(&parsed.to_bytes()), Ok(parsed));
        }
        assert_eq!(sid("s-1-5-18"), Sid::from_array(5, [18]));
        assert_eq!(sid("S-1-5-21-1-2-3-500").rid(), Some(500));
        assert_eq!(sid("S-1-5").rid(), None);
        for bad in [
            "",
            "S",
            "S-1",
            "S-2-5-1",
            "X-1-5-1",
            "S-1-5-",
            "S-1--5",
            "S-1-+5-1",
            "S-1-5-+1",
            "S-1-5-4294967296",
            "S-1-281474976710656",
            "S-1-0x1000000000000",
            "S-1-5-1-2-3-4-5-6-7-8-9-10-11-12-13-14-15-16",
            "S-1-0x-1",
        ] {
            assert_eq!(bad.parse::<Sid>(), Err(SidParseError), "{bad:?}");
        }
        // The authority prints in decimal below 2^32 and in 12 hex digits from there.
        assert_eq!(
            Sid::new(0xffff_ffff, &[]).unwrap().to_string(),
            "S-1-4294967295"
        );
        assert_eq!(
            Sid::new(1 << 32, &[]).unwrap().to_string(),
            "S-1-0x000100000000"
        );
        assert_eq!(Sid::new(1 << 48, &[]), None);
        assert_eq!(Sid::new(5, &[0; 16]), None);
        assert_eq!(Sid::new(5, &[0; 15]).unwrap().with_rid(1), None);
    }

    #[test]
    fn binary_sids_are_checked() {
        let good = sid("S-1-5-21-1-2-3").to_bytes();
        let malformed =
            |b: &[u8], what| assert_eq!(Sid::from_bytes(b), Err(PacError::Malformed { what }));
        let mut rev = good.clone();
        rev[0] = 2;
        malformed(&rev, "SID: Revision is not 1");
        let mut count = good.clone();
        count[1] = 16;
        malformed(&count, "SID: more than 15 sub-authorities");
        let mut long = good.clone();
        long.push(0);
        malformed(&long, "SID: bytes after the sub-authorities");
        assert_eq!(
            Sid::from_bytes(&good[..good.len() - 1]),
            Err(PacError::Truncated { what: "SID" })
        );
    }
}
