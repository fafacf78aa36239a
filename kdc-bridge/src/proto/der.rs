//! A minimal DER reader and writer for the GSS-API and SPNEGO framing.
//!
//! Kerberos messages themselves are decoded by `picky-krb`; this module only handles the outer
//! layers that arrive straight from the network (RFC 2743 §3.1 token framing, RFC 4178
//! NegotiationToken), where we want exact control over bounds and trailing data.
//!
//! X.690 §8.1: a TLV is `identifier octet | length octets | contents`. Only low tag numbers
//! (< 31) are accepted, lengths use the definite form with at most four length octets, and every
//! length is checked against the bytes that are actually there before anything is sliced.

use std::fmt;

/// Errors of the DER layer. They are folded into `AcceptError::Malformed` by the callers, which
/// say which structure was being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DerError {
    /// The input ended inside a TLV.
    Truncated,
    /// A high-tag-number identifier (low five bits all set); none is used by SPNEGO.
    HighTagNumber,
    /// The indefinite length form (`0x80`), forbidden in DER.
    IndefiniteLength,
    /// More than four length octets, or a length that does not fit the platform.
    LengthTooLarge,
    /// A tag other than the one the grammar requires here.
    UnexpectedTag {
        /// The identifier octet the grammar requires.
        expected: u8,
        /// The identifier octet found.
        got: u8,
    },
    /// Bytes left over after the outermost value.
    TrailingData {
        /// Number of unread octets.
        len: usize,
    },
}

impl fmt::Display for DerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated => f.write_str("input ends inside a DER value"),
            Self::HighTagNumber => f.write_str("high-tag-number form is not supported"),
            Self::IndefiniteLength => f.write_str("indefinite length is not DER"),
            Self::LengthTooLarge => f.write_str("DER length too large"),
            Self::UnexpectedTag { expected, got } => {
                write!(f, "expected tag 0x{expected:02x}, got 0x{got:02x}")
            }
            Self::TrailingData { len } => write!(f, "{len} trailing octets"),
        }
    }
}

/// Identifier octets used in the GSS-API and SPNEGO framings.
pub mod tag {
    /// `[APPLICATION 0]`, constructed: the RFC 2743 §3.1 InitialContextToken.
    pub const APPLICATION_0: u8 = 0x60;
    /// Universal SEQUENCE, constructed.
    pub const SEQUENCE: u8 = 0x30;
    /// Universal OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// Universal OCTET STRING.
    pub const OCTET_STRING: u8 = 0x04;
    /// Universal ENUMERATED.
    pub const ENUMERATED: u8 = 0x0a;
    /// Universal BIT STRING.
    pub const BIT_STRING: u8 = 0x03;

    /// `[n]` context-specific, constructed (an EXPLICIT tag).
    pub const fn context(n: u8) -> u8 {
        0xa0 | n
    }
}

/// One decoded TLV: its identifier octet and a borrow of its contents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The contents octets (without identifier and length).
    pub value: &'a [u8],
    /// The whole encoding, identifier and length included.
    pub raw: &'a [u8],
}

/// A forward-only reader over a byte slice. It never panics and never allocates.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Whether everything has been read.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The unread part.
    pub fn rest(&self) -> &'a [u8] {
        self.buf.get(self.pos..).unwrap_or_default()
    }

    /// The next identifier octet, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    /// Takes `n` raw octets.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], DerError> {
        let end = self.pos.checked_add(n).ok_or(DerError::Truncated)?;
        let out = self.buf.get(self.pos..end).ok_or(DerError::Truncated)?;
        self.pos = end;
        Ok(out)
    }

    /// Reads any TLV.
    pub fn read_any(&mut self) -> Result<Tlv<'a>, DerError> {
        let start = self.pos;
        let tag = *self.take(1)?.first().ok_or(DerError::Truncated)?;
        if tag & 0x1f == 0x1f {
            return Err(DerError::HighTagNumber);
        }
        let first = *self.take(1)?.first().ok_or(DerError::Truncated)?;
        let len = match first {
            0x80 => return Err(DerError::IndefiniteLength),
            n if n < 0x80 => usize::from(n),
            n => {
                let count = usize::from(n & 0x7f);
                if count > 4 {
                    return Err(DerError::LengthTooLarge);
                }
                let mut len: usize = 0;
                for &b in self.take(count)? {
                    len = len
                        .checked_mul(256)
                        .and_then(|l| l.checked_add(usize::from(b)))
                        .ok_or(DerError::LengthTooLarge)?;
                }
                len
            }
        };
        let value = self.take(len)?;
        let raw = self.buf.get(start..self.pos).ok_or(DerError::Truncated)?;
        Ok(Tlv { tag, value, raw })
    }

    /// Reads a TLV that must carry `expected`.
    pub fn read(&mut self, expected: u8) -> Result<Tlv<'a>, DerError> {
        let tlv = self.read_any()?;
        if tlv.tag != expected {
            return Err(DerError::UnexpectedTag {
                expected,
                got: tlv.tag,
            });
        }
        Ok(tlv)
    }

    /// Reads the TLV `expected` if it is next, for OPTIONAL fields.
    pub fn read_optional(&mut self, expected: u8) -> Result<Option<Tlv<'a>>, DerError> {
        match self.peek_tag() {
            Some(t) if t == expected => self.read(expected).map(Some),
            _ => Ok(None),
        }
    }

    /// Fails unless everything has been read.
    pub fn finish(&self) -> Result<(), DerError> {
        match self.buf.len().saturating_sub(self.pos) {
            0 => Ok(()),
            len => Err(DerError::TrailingData { len }),
        }
    }
}

/// Parses `buf` as exactly one TLV with tag `expected`, rejecting trailing data.
pub fn read_single(buf: &[u8], expected: u8) -> Result<Tlv<'_>, DerError> {
    let mut r = Reader::new(buf);
    let tlv = r.read(expected)?;
    r.finish()?;
    Ok(tlv)
}

/// Appends the DER encoding of a length.
fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        // Fits in seven bits: the short form.
        out.push(len as u8);
        return;
    }
    let bytes = len.to_be_bytes();
    let skip = bytes.iter().take_while(|&&b| b == 0).count();
    let significant = bytes.get(skip..).unwrap_or_default();
    // At most size_of::<usize>() octets, so the count fits in the low seven bits.
    out.push(0x80 | significant.len() as u8);
    out.extend_from_slice(significant);
}

/// Appends a TLV whose contents are `value`.
pub fn write_tlv(out: &mut Vec<u8>, tag: u8, value: &[u8]) {
    out.push(tag);
    write_len(out, value.len());
    out.extend_from_slice(value);
}

/// Returns a TLV whose contents are the concatenation of `parts`.
pub fn tlv(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    write_len(&mut out, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_short_and_long_lengths() {
        let mut long = vec![0x04, 0x82, 0x01, 0x00];
        long.extend(std::iter::repeat_n(0xab, 256));
        let tlv = read_single(&long, tag::OCTET_STRING).unwrap();
        assert_eq!(tlv.value.len(), 256);
        assert_eq!(tlv.raw, &long[..]);

        let short = [0x06, 0x02, 0x2a, 0x03];
        let tlv = read_single(&short, tag::OID).unwrap();
        assert_eq!(tlv.value, &[0x2a, 0x03]);
    }

    #[test]
    fn rejects_bad_encodings() {
        assert_eq!(
            read_single(&[0x04, 0x80, 0x00, 0x00], 0x04),
            Err(DerError::IndefiniteLength)
        );
        assert_eq!(
            read_single(&[0x04, 0x03, 0x00], 0x04),
            Err(DerError::Truncated)
        );
        assert_eq!(read_single(&[0x04], 0x04), Err(DerError::Truncated));
        assert_eq!(
            read_single(&[0x1f, 0x01, 0x00], 0x1f),
            Err(DerError::HighTagNumber)
        );
        assert_eq!(
            read_single(&[0x04, 0x85, 1, 0, 0, 0, 0], 0x04),
            Err(DerError::LengthTooLarge)
        );
        assert_eq!(
            read_single(&[0x04, 0x01, 0x00, 0xff], 0x04),
            Err(DerError::TrailingData { len: 1 })
        );
        assert_eq!(
            read_single(&[0x30, 0x00], 0x04),
            Err(DerError::UnexpectedTag {
                expected: 0x04,
                got: 0x30
            })
        );
        // A four-octet length far beyond the input must fail cleanly, not allocate.
        assert_eq!(
            read_single(&[0x04, 0x84, 0xff, 0xff, 0xff, 0xff], 0x04),
            Err(DerError::Truncated)
        );
    }

    #[test]
    fn writes_what_it_reads() {
        for len in [0usize, 1, 127, 128, 255, 256, 65535, 65536] {
            let value = vec![0x5a; len];
            let enc = tlv(tag::OCTET_STRING, &[&value]);
            let back = read_single(&enc, tag::OCTET_STRING).unwrap();
            assert_eq!(back.value, &value[..]);
            let mut enc2 = Vec::new();
            write_tlv(&mut enc2, tag::OCTET_STRING, &value);
            assert_eq!(enc, enc2);
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(data in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let mut r = Reader::new(&data);
            while !r.is_empty() {
                if r.read_any().is_err() {
                    break;
                }
            }
        }

        #[test]
        fn round_trips(tag in 0u8..0x1f, value in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let enc = tlv(tag, &[&value]);
            let back = read_single(&enc, tag).unwrap();
            proptest::prop_assert_eq!(back.value, &value[..]);
        }
    }
}
