//! MIT keytab files.
//!
//! Format (MIT krb5 `doc/formats/keytab_file_format.rst`), all integers big-endian in version
//! 0x502 and in the writer's native order (we read little-endian) in version 0x501:
//!
//! ```text
//! keytab {
//!     uint16_t file_format_version;   /* 0x502 */
//!     keytab_entry entries[*];
//! };
//! keytab_entry {
//!     int32_t size;                   /* < 0: a hole of -size octets; 0: end */
//!     uint16_t num_components;        /* 0x501 counts the realm too */
//!     counted_octet_string realm;
//!     counted_octet_string components[num_components];
//!     uint32_t name_type;             /* absent in 0x501 */
//!     uint32_t timestamp;
//!     uint8_t vno8;
//!     keyblock key;                   /* uint16_t type; counted_octet_string */
//!     uint32_t vno;                   /* only if >= 4 octets remain; overrides vno8 if non-zero */
//!     uint32_t flags;                 /* only if >= 4 octets remain */
//! };
//! counted_octet_string { uint16_t length; uint8_t data[length]; };
//! ```

use std::fmt;

use crate::proto::crypto::{Enctype, Key};
use crate::proto::principal::{Principal, MAX_COMPONENTS};

/// Version 0x502: big-endian, with name types.
const VERSION_2: u16 = 0x0502;
/// Version 0x501: native byte order, no name type.
const VERSION_1: u16 = 0x0501;

/// Why a keytab file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeytabError {
    /// The file does not start with 0x05 0x01 or 0x05 0x02.
    #[error("not a keytab: version bytes are {got:02x?}, expected 05 02 or 05 01")]
    BadVersion {
        /// The first two octets.
        got: Vec<u8>,
    },
    /// An entry runs past the end of the file or of its declared size.
    #[error("keytab is truncated inside the entry at offset {offset}")]
    Truncated {
        /// Offset of the entry's size field.
        offset: usize,
    },
    /// An entry is structurally wrong.
    #[error("keytab entry at offset {offset} is invalid: {problem}")]
    BadEntry {
        /// Offset of the entry's size field.
        offset: usize,
        /// What is wrong.
        problem: &'static str,
    },
    /// A key has the wrong length for its enctype.
    #[error(
        "keytab entry at offset {offset} has a {got}-octet key, but {enctype} keys have {expected}"
    )]
    KeyLength {
        /// Offset of the entry's size field.
        offset: usize,
        /// The enctype.
        enctype: &'static str,
        /// The expected length.
        expected: usize,
        /// The length found.
        got: usize,
    },
}

/// One key of one principal.
#[derive(Clone)]
pub struct KeytabEntry {
    /// The principal.
    pub principal: Principal,
    /// When the key was written (seconds since the epoch), as `ktutil`/`samba-tool` set it.
    pub timestamp: u32,
    /// The key version number.
    pub kvno: u32,
    /// The raw enctype number.
    pub etype: i32,
    /// The key, when its enctype is one we support (aes256, aes128, rc4-hmac).
    pub key: Option<Key>,
    /// The raw key octets of an unsupported enctype, kept so the file can be written back.
    unsupported_key: Vec<u8>,
}

impl fmt::Debug for KeytabEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeytabEntry")
            .field("principal", &self.principal)
            .field("kvno", &self.kvno)
            .field("etype", &self.etype)
            .finish_non_exhaustive()
    }
}

impl KeytabEntry {
    /// An entry for a supported key.
    pub fn new(principal: Principal, kvno: u32, key: Key, timestamp: u32) -> Self {
        Self {
            principal,
            timestamp,
            kvno,
            etype: key.enctype().etype(),
            key: Some(key),
            unsupported_key: Vec::new(),
        }
    }
}

/// A parsed keytab: its entries in file order.
#[derive(Debug, Clone, Default)]
pub struct Keytab {
    /// The entries, holes and unsupported enctypes included.
    pub entries: Vec<KeytabEntry>,
}

/// A bounds-checked reader in one byte order.
struct Cursor<'a> {
    buf: &'a [u8],
    pos: usize,
    big_endian: bool,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1)?.first().copied()
    }

    fn u16(&mut self) -> Option<u16> {
        let b: [u8; 2] = self.take(2)?.try_into().ok()?;
        Some(if self.big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }

    fn u32(&mut self) -> Option<u32> {
        let b: [u8; 4] = self.take(4)?.try_into().ok()?;
        Some(if self.big_endian {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }

    fn counted(&mut self) -> Option<&'a [u8]> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }

    fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }
}

impl Keytab {
    /// Parses a whole keytab file.
    pub fn extract(buf: &[u8]) -> Result<Self, KeytabError> {
        let version = match buf.get(..2) {
            Some([0x05, 0x02]) => VERSION_2,
            Some([0x05, 0x01]) => VERSION_1,
            other => {
                return Err(KeytabError::BadVersion {
                    got: other.unwrap_or(buf).to_vec(),
                })
            }
        };
        let mut file = Cursor {
            buf,
            pos: 2,
            big_endian: version == VERSION_2,
        };
        let mut entries = Vec::new();
        while file.remaining() > 0 {
            let offset = file.pos;
            let Some(size) = file.u32() else {
                return Err(KeytabError::Truncated { offset });
            };
            // The size is a signed 32-bit field: negative values mark deleted entries.
            let size = size as i32;
            if size == 0 {
                break;
            }
            let len = usize::try_from(size.unsigned_abs())
                .map_err(|_| KeytabError::Truncated { offset })?;
            let Some(body) = file.take(len) else {
                return Err(KeytabError::Truncated { offset });
            };
            if size < 0 {
                continue;
            }
            let entry_cursor = Cursor {
                buf: body,
                pos: 0,
                big_endian: file.big_endian,
            };
            entries.push(Self::extract_entry(entry_cursor, version, offset)?);
        }
        Ok(Self { entries })
    }

    fn extract_entry(
        mut c: Cursor<'_>,
        version: u16,
        offset: usize,
    ) -> Result<KeytabEntry, KeytabError> {
        let truncated = KeytabError::Truncated { offset };
        let bad = |problem| KeytabError::BadEntry { offset, problem };
        let mut count = usize::from(c.u16().ok_or(truncated.clone())?);
        if version == VERSION_1 {
            count = count.checked_sub(1).ok_or(bad("no components"))?;
        }
        if count == 0 || count > MAX_COMPONENTS {
            return Err(bad("component count out of range"));
        }
        let text = |b: &[u8]| {
            std::str::from_utf8(b)
                .map(str::to_owned)
                .map_err(|_| bad("name is not UTF-8"))
        };
        let realm = text(c.counted().ok_or(truncated.clone())?)?;
        let mut components = Vec::with_capacity(count);
        for _ in 0..count {
            components.push(text(c.counted().ok_or(truncated.clone())?)?);
        }
        let name_type = if version == VERSION_2 {
            // Name types are small positive numbers stored as uint32.
            c.u32().ok_or(truncated.clone())? as i32
        } else {
            crate::proto::principal::NT_PRINCIPAL
        };
        let timestamp = c.u32().ok_or(truncated.clone())?;
        let vno8 = c.u8().ok_or(truncated.clone())?;
        let etype = i32::from(c.u16().ok_or(truncated.clone())?);
        let key_bytes = c.counted().ok_or(truncated)?;
        let mut kvno = u32::from(vno8);
        if c.remaining() >= 4 {
            match c.u32() {
                Some(vno32) if vno32 != 0 => kvno = vno32,
                _ => {}
            }
        }
        let principal = Principal::new(name_type, components, realm);
        let (key, unsupported_key) = match Enctype::try_from(etype) {
            Ok(enctype) => {
                let key =
                    Key::from_bytes(enctype, key_bytes).map_err(|_| KeytabError::KeyLength {
                        offset,
                        enctype: enctype.name(),
                        expected: enctype.key_len(),
                        got: key_bytes.len(),
                    })?;
                (Some(key), Vec::new())
            }
            Err(_) => (None, key_bytes.to_vec()),
        };
        Ok(KeytabEntry {
            principal,
            timestamp,
            kvno,
            etype,
            key,
            unsupported_key,
        })
    }

    /// Writes the keytab in format 0x502.
    pub fn build(&self) -> Vec<u8> {
        let mut out = VERSION_2.to_be_bytes().to_vec();
        for e in &self.entries {
            let mut body = Vec::new();
            let counted = |body: &mut Vec<u8>, b: &[u8]| {
                // Names and keys are far below 64 KiB; longer ones cannot be written.
                body.extend_from_slice(&(b.len() as u16).to_be_bytes());
                body.extend_from_slice(b);
            };
            body.extend_from_slice(&(e.principal.components().len() as u16).to_be_bytes());
            counted(&mut body, e.principal.realm().as_bytes());
            for comp in e.principal.components() {
                counted(&mut body, comp.as_bytes());
            }
            body.extend_from_slice(&(e.principal.name_type() as u32).to_be_bytes());
            body.extend_from_slice(&e.timestamp.to_be_bytes());
            body.push(e.kvno as u8);
            body.extend_from_slice(&(e.etype as u16).to_be_bytes());
            match &e.key {
                Some(key) => counted(&mut body, key.as_bytes()),
                None => counted(&mut body, &e.unsupported_key),
            }
            body.extend_from_slice(&e.kvno.to_be_bytes());
            out.extend_from_slice(&(body.len() as u32).to_be_bytes());
            out.extend_from_slice(&body);
        }
        out
    }
}

#[cfg(test)]
#[path = "keytab_test.rs"]
mod tests;
