//! `PAC_CLIENT_INFO` (buffer type 10), [MS-PAC §2.7].
//!
//! [MS-PAC §2.7]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/e465cb27-4bc1-4173-8be0-b5fd64dc9ff7

use super::error::PacError;
use super::logon_info::FileTime;
use super::ndr::NdrReader;
use super::text::decode_utf16;

/// The client information: who the KDC issued the ticket to, and when they authenticated.
///
/// ```text
/// | ClientId (8): FILETIME, the ticket's authtime              |
/// | NameLength (2): octets of Name | Name: UTF-16LE, no NUL ... |
/// ```
///
/// MS-PAC §2.7: the name is the client's principal name "without the realm". Little-endian
/// and unaligned, not NDR. The buffer must be exactly `10 + NameLength` octets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// `ClientId`.
    pub client_id: FileTime,
    /// `Name`.
    pub name: String,
}

impl ClientInfo {
    /// Parses the buffer.
    ///
    /// # Errors
    ///
    /// [`PacError::Truncated`] or [`PacError::Malformed`] (an odd `NameLength`, bad UTF-16,
    /// octets after the name).
    pub fn extract(buf: &[u8]) -> Result<Self, PacError> {
        const WHAT: &str = "PAC_CLIENT_INFO";
        let mut r = NdrReader::new(buf);
        let client_id = FileTime(u64::from_le_bytes(r.array(WHAT)?));
        let len = u16::from_le_bytes(r.array(WHAT)?);
        let name = decode_utf16(r.bytes(usize::from(len), WHAT)?, "PAC_CLIENT_INFO.Name")?;
        if r.remaining() != 0 {
            return Err(PacError::Malformed {
                what: "PAC_CLIENT_INFO: bytes after Name",
            });
        }
        Ok(Self { client_id, name })
    }

    /// Encodes the buffer (names are capped at the 32767 UTF-16 units `NameLength` can count).
    #[cfg(any(test, feature = "mint"))]
    pub fn build(&self) -> Vec<u8> {
        let mut name = super::text::encode_utf16(&self.name);
        name.truncate(0xfffe);
        let mut out = Vec::with_capacity(10 + name.len());
        out.extend_from_slice(&self.client_id.0.to_le_bytes());
        // At most 0xfffe after the truncation.
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&name);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_info_round_trips_and_is_strict() {
        let info = ClientInfo {
            client_id: FileTime::from_unix(1_795_259_762).unwrap(),
            name: "alice".into(),
        };
        let bytes = info.build();
        assert_eq!(bytes.len(), 10 + 10);
        assert_eq!(ClientInfo::extract(&bytes), Ok(info));
        assert_eq!(
            ClientInfo::extract(&bytes[..9]),
            Err(PacError::Truncated {
                what: "PAC_CLIENT_INFO"
            })
        );
        assert_eq!(
            ClientInfo::extract(&bytes[..19]),
            Err(PacError::Truncated {
                what: "PAC_CLIENT_INFO"
            })
        );
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(
            ClientInfo::extract(&longer),
            Err(PacError::Malformed {
                what: "PAC_CLIENT_INFO: bytes after Name"
            })
        );
        let mut odd = bytes.clone();
        odd[8] = 9;
        odd.pop();
        assert_eq!(
            ClientInfo::extract(&odd),
            Err(PacError::Malformed {
                what: "PAC_CLIENT_INFO.Name"
            })
        );
    }
}
