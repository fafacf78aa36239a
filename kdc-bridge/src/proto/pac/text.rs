//! UTF-16LE text in the PAC: the NDR `RPC_UNICODE_STRING` of `KERB_VALIDATION_INFO` and the
//! counted names of `PAC_CLIENT_INFO` and `UPN_DNS_INFO`.

use super::error::PacError;
use super::ndr::NdrReader;

/// Decodes UTF-16LE octets into a `String`.
///
/// The PAC's counted strings carry no terminator, but a writer that counts one in is
/// tolerated: a single trailing U+0000 is dropped. A NUL anywhere else is refused (C code that
/// reads the same name would stop there, so two readers could disagree on who the user is),
/// as are an odd length and unpaired surrogates.
pub(super) fn decode_utf16(bytes: &[u8], what: &'static str) -> Result<String, PacError> {
    let (units, odd) = bytes.as_chunks::<2>();
    if !odd.is_empty() {
        return Err(PacError::Malformed { what });
    }
    let mut units = units.iter().map(|u| u16::from_le_bytes(*u));
    let mut out = String::with_capacity(bytes.len() / 2);
    let mut nul_seen = false;
    for c in char::decode_utf16(&mut units) {
        let c = c.map_err(|_| PacError::Malformed { what })?;
        if nul_seen {
            return Err(PacError::Malformed { what });
        }
        if c == '\0' {
            nul_seen = true;
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

/// Encodes a string as UTF-16LE octets.
#[cfg(any(test, feature = "mint"))]
pub(super) fn encode_utf16(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(u16::to_le_bytes).collect()
}

/// An `RPC_UNICODE_STRING` ([MS-DTYP §2.3.10]), as NDR carries it in `KERB_VALIDATION_INFO`.
///
/// ```text
/// typedef struct _RPC_UNICODE_STRING {
///     unsigned short Length;           // octets, without a terminator
///     unsigned short MaximumLength;    // octets
///     [size_is(MaximumLength/2), length_is(Length/2)] WCHAR* Buffer;
/// } RPC_UNICODE_STRING;
/// ```
///
/// The header sits in the structure; the buffer is a deferred conformant-varying array
/// (`MaximumCount`, `Offset`, `ActualCount`, then the characters). A NULL `Buffer` and an
/// empty one are different on the wire (AD and Samba send empty strings with a buffer), so
/// both the NULL-ness and `MaximumLength` are kept, which lets the encoder give back the
/// exact octets.
///
/// [MS-DTYP §2.3.10]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-dtyp/94a16bb6-c610-4cb9-8db6-26f15f560061
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UnicodeString {
    text: Option<String>,
    maximum_length: u16,
}

impl UnicodeString {
    /// A non-NULL string whose `MaximumLength` is its length (as Samba writes them).
    pub fn new(text: &str) -> Self {
        let len = text.encode_utf16().count().saturating_mul(2);
        Self {
            text: Some(text.to_owned()),
            maximum_length: u16::try_from(len).unwrap_or(u16::MAX),
        }
    }

    /// A NULL `Buffer`.
    pub fn null() -> Self {
        Self::default()
    }

    /// The same string with another `MaximumLength` (AD counts a terminator in some).
    pub fn with_maximum_length(mut self, maximum_length: u16) -> Self {
        self.maximum_length = maximum_length;
        self
    }

    /// The text; empty for a NULL buffer.
    pub fn as_str(&self) -> &str {
        self.text.as_deref().unwrap_or_default()
    }

    /// Whether `Buffer` was NULL.
    pub fn is_null(&self) -> bool {
        self.text.is_none()
    }

    /// `MaximumLength`, in octets.
    pub fn maximum_length(&self) -> u16 {
        self.maximum_length
    }
}

/// The fixed part of an `RPC_UNICODE_STRING`, read before its deferred buffer.
#[derive(Debug, Clone, Copy)]
pub(super) struct UnicodeStringHeader {
    length: u16,
    maximum_length: u16,
    present: bool,
}

impl UnicodeStringHeader {
    pub(super) fn read(r: &mut NdrReader<'_>, what: &'static str) -> Result<Self, PacError> {
        let length = r.u16(what)?;
        let maximum_length = r.u16(what)?;
        let present = r.pointer(what)?;
        if length > maximum_length || !length.is_multiple_of(2) {
            return Err(PacError::Malformed { what });
        }
        if !present && length != 0 {
            return Err(PacError::Malformed { what });
        }
        Ok(Self {
            length,
            maximum_length,
            present,
        })
    }

    /// Reads the deferred buffer, if the pointer was not NULL:
    ///
    /// ```text
    /// | MaximumCount (4) = MaximumLength/2 | Offset (4) = 0 | ActualCount (4) = Length/2 |
    /// | WCHAR[ActualCount] ...                                                          |
    /// ```
    pub(super) fn read_deferred(
        self,
        r: &mut NdrReader<'_>,
        what: &'static str,
    ) -> Result<UnicodeString, PacError> {
        if !self.present {
            return Ok(UnicodeString {
                text: None,
                maximum_length: self.maximum_length,
            });
        }
        let max = r.u32(what)?;
        let offset = r.u32(what)?;
        let actual = r.u32(what)?;
        if max != u32::from(self.maximum_length / 2)
            || offset != 0
            || actual != u32::from(self.length / 2)
        {
            return Err(PacError::Malformed { what });
        }
        let units = r.fits(actual, 2, what)?;
        let text = decode_utf16(r.bytes(units * 2, what)?, what)?;
        Ok(UnicodeString {
            text: Some(text),
            maximum_length: self.maximum_length,
        })
    }
}

#[cfg(any(test, feature = "mint"))]
mod write {
    use super::super::ndr::NdrWriter;
    use super::{encode_utf16, UnicodeString};

    impl UnicodeString {
        /// The UTF-16LE octets, capped at the 65534 a `Length` can count.
        fn units(&self) -> Vec<u8> {
            let mut bytes = encode_utf16(self.as_str());
            bytes.truncate(0xfffe);
            bytes
        }

        /// Writes the fixed part: `Length`, `MaximumLength` (at least `Length`) and the
        /// pointer.
        pub(in super::super) fn write_header(&self, w: &mut NdrWriter) {
            // At most 0xfffe octets after `units`.
            let len = self.units().len() as u16;
            w.u16(len);
            w.u16(self.maximum_length.max(len));
            w.pointer(!self.is_null());
        }

        /// Writes the deferred buffer (nothing for NULL).
        pub(in super::super) fn write_deferred(&self, w: &mut NdrWriter) {
            if self.is_null() {
                return;
            }
            let units = self.units();
            let len = units.len() as u16;
            w.u32(u32::from(self.maximum_length.max(len) / 2));
            w.u32(0);
            w.u32(u32::from(len / 2));
            w.out.extend_from_slice(&units);
        }
    }
}
