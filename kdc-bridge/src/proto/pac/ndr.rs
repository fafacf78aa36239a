//! The slice of NDR (DCE 1.1 RPC, chapter 14, little-endian, as profiled by [MS-RPCE]) that
//! the PAC's `KERB_VALIDATION_INFO` uses, and the [MS-RPCE §2.2.6] type serialization header
//! around it.
//!
//! What matters for decoding:
//!
//! - Primitives are aligned to their size, relative to the start of the serialized data; the
//!   padding octets are skipped, not checked.
//! - A pointer is a 4-byte referent ID: zero is NULL, anything else means the referent is
//!   present. Referents of the pointers embedded in a structure are *deferred*: they follow the
//!   structure's fixed part, in the order of the pointers.
//! - A conformant array starts with its `MaximumCount` (4 bytes, 4-aligned); a
//!   conformant-varying array (a string buffer) with `MaximumCount`, `Offset`, `ActualCount`.
//!   Each count is compared with the bytes actually left before anything is sized from it.
//!
//! [MS-RPCE]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rpce/
//! [MS-RPCE §2.2.6]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-rpce/9a1d0f97-eac0-49ab-a197-f1a581c2d6a0

use super::error::PacError;

/// `Version` of the common type header: Type Serialization Version 1.
const TYPE_SERIALIZATION_V1: u8 = 0x01;
/// `Endianness`: little-endian (`0x10`); big-endian (`0x00`) is not used in PACs.
const LITTLE_ENDIAN: u8 = 0x10;
/// `CommonHeaderLength`.
const COMMON_HEADER_LEN: u16 = 8;
/// The common header and the private header together.
#[cfg(any(test, feature = "mint"))]
pub(super) const SERIALIZATION_HEADER_LEN: usize = 16;

/// Splits an [MS-RPCE §2.2.6] type-serialized buffer into its object data.
///
/// ```text
/// Common Type Header (2.2.6.1)         Private Header (2.2.6.2)
/// | Version 0x01 | Endianness 0x10 |   | ObjectBufferLength (4) | Filler (4) |
/// | CommonHeaderLength 0x0008 (2)  |
/// | Filler 0xcccccccc (4)          |
/// ```
///
/// `ObjectBufferLength` "MUST be a multiple of 8" and counts the padding at the end of the
/// data; what follows it in `buf` may only be alignment padding too (fewer than 8 octets).
pub(super) fn split_type_serialization(buf: &[u8]) -> Result<&[u8], PacError> {
    let mut r = NdrReader::new(buf);
    let version = r.u8("type serialization header")?;
    let endianness = r.u8("type serialization header")?;
    let header_len = r.u16("type serialization header")?;
    r.u32("type serialization header")?;
    if version != TYPE_SERIALIZATION_V1 {
        return Err(PacError::Malformed {
            what: "type serialization header: Version is not 1",
        });
    }
    if endianness != LITTLE_ENDIAN {
        return Err(PacError::Malformed {
            what: "type serialization header: not little-endian",
        });
    }
    if header_len != COMMON_HEADER_LEN {
        return Err(PacError::Malformed {
            what: "type serialization header: CommonHeaderLength is not 8",
        });
    }
    let object_len = r.u32("type serialization header")?;
    r.u32("type serialization header")?;
    let object_len = usize::try_from(object_len).map_err(|_| PacError::Truncated {
        what: "serialized object",
    })?;
    if !object_len.is_multiple_of(8) {
        return Err(PacError::Malformed {
            what: "type serialization header: ObjectBufferLength is not a multiple of 8",
        });
    }
    let object = r.bytes(object_len, "serialized object")?;
    if r.remaining() >= 8 {
        return Err(PacError::Malformed {
            what: "bytes after the serialized object",
        });
    }
    Ok(object)
}

/// A forward-only NDR reader. It never panics and never allocates.
#[derive(Debug, Clone)]
pub(super) struct NdrReader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> NdrReader<'a> {
    /// Reads `buf`; alignment is relative to its start.
    pub(super) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// How many octets are left.
    pub(super) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// Skips the padding up to the next multiple of `n` (a power of two).
    pub(super) fn align(&mut self, n: usize, what: &'static str) -> Result<(), PacError> {
        let pad = self.pos.wrapping_neg() & (n - 1);
        self.bytes(pad, what).map(|_| ())
    }

    /// Takes `n` raw octets.
    pub(super) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], PacError> {
        let end = self
            .pos
            .checked_add(n)
            .ok_or(PacError::Truncated { what })?;
        let out = self
            .buf
            .get(self.pos..end)
            .ok_or(PacError::Truncated { what })?;
        self.pos = end;
        Ok(out)
    }

    /// Takes `N` raw octets as an array.
    pub(super) fn array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], PacError> {
        self.bytes(N, what)?
            .try_into()
            .map_err(|_| PacError::Truncated { what })
    }

    /// An unaligned octet.
    pub(super) fn u8(&mut self, what: &'static str) -> Result<u8, PacError> {
        let [b] = self.array::<1>(what)?;
        Ok(b)
    }

    /// A 2-aligned little-endian `unsigned short`.
    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16, PacError> {
        self.align(2, what)?;
        Ok(u16::from_le_bytes(self.array(what)?))
    }

    /// A 4-aligned little-endian `unsigned long`.
    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32, PacError> {
        self.align(4, what)?;
        Ok(u32::from_le_bytes(self.array(what)?))
    }

    /// An unaligned little-endian 64-bit integer (`ULONG64` outside NDR).
    pub(super) fn u64(&mut self, what: &'static str) -> Result<u64, PacError> {
        Ok(u64::from_le_bytes(self.array(what)?))
    }

    /// A `FILETIME` (MS-DTYP §2.3.3): two 4-aligned `DWORD`s, low then high, so 4-aligned
    /// as a whole (not 8, unlike an NDR `hyper`).
    pub(super) fn filetime(&mut self, what: &'static str) -> Result<u64, PacError> {
        let low = self.u32(what)?;
        let high = self.u32(what)?;
        Ok(u64::from(high) << 32 | u64::from(low))
    }

    /// A unique or full pointer: whether its referent follows (a non-zero referent ID).
    pub(super) fn pointer(&mut self, what: &'static str) -> Result<bool, PacError> {
        Ok(self.u32(what)? != 0)
    }

    /// The `MaximumCount` of a conformant array of `elem_size`-octet elements, which must be
    /// `expected` (the count field in the structure) and fit in what is left.
    pub(super) fn conformance(
        &mut self,
        expected: u32,
        elem_size: usize,
        what: &'static str,
    ) -> Result<usize, PacError> {
        let max = self.u32(what)?;
        if max != expected {
            return Err(PacError::Malformed { what });
        }
        self.fits(max, elem_size, what)
    }

    /// Fails with [`PacError::CountTooLarge`] unless `count` elements of `elem_size` octets fit
    /// in what is left; returns the count as a `usize` that is safe to allocate for.
    pub(super) fn fits(
        &self,
        count: u32,
        elem_size: usize,
        what: &'static str,
    ) -> Result<usize, PacError> {
        let available = self.remaining();
        usize::try_from(count)
            .ok()
            .filter(|n| n.checked_mul(elem_size).is_some_and(|len| len <= available))
            .ok_or(PacError::CountTooLarge {
                what,
                count: u64::from(count),
                available,
            })
    }
}

/// An NDR writer for the builders: the mirror image of [`NdrReader`], padding with zeros.
#[cfg(any(test, feature = "mint"))]
#[derive(Debug, Default)]
pub(super) struct NdrWriter {
    pub(super) out: Vec<u8>,
    /// The next referent ID: MIDL and Samba number them 0x00020000, 0x00020004, … in
    /// marshalling order.
    next_referent: u32,
}

#[cfg(any(test, feature = "mint"))]
impl NdrWriter {
    pub(super) fn new() -> Self {
        Self {
            out: Vec::with_capacity(512),
            next_referent: 0x0002_0000,
        }
    }

    pub(super) fn align(&mut self, n: usize) {
        self.out.resize(self.out.len().next_multiple_of(n), 0);
    }

    pub(super) fn u8(&mut self, v: u8) {
        self.out.push(v);
    }

    pub(super) fn u16(&mut self, v: u16) {
        self.align(2);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(super) fn u32(&mut self, v: u32) {
        self.align(4);
        self.out.extend_from_slice(&v.to_le_bytes());
    }

    pub(super) fn filetime(&mut self, v: u64) {
        // The low and high halves of a FILETIME; the casts keep exactly 32 bits each.
        self.u32(v as u32);
        self.u32((v >> 32) as u32);
    }

    /// A pointer: a fresh referent ID if `present`, else NULL.
    pub(super) fn pointer(&mut self, present: bool) {
        if present {
            let id = self.next_referent;
            self.next_referent = self.next_referent.wrapping_add(4);
            self.u32(id);
        } else {
            self.u32(0);
        }
    }

    /// Wraps the data in a type serialization version 1 header, padding it to 8.
    pub(super) fn into_type_serialization(mut self) -> Vec<u8> {
        self.align(8);
        let len = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        let mut out = Vec::with_capacity(SERIALIZATION_HEADER_LEN + self.out.len());
        out.extend_from_slice(&[TYPE_SERIALIZATION_V1, LITTLE_ENDIAN]);
        out.extend_from_slice(&COMMON_HEADER_LEN.to_le_bytes());
        out.extend_from_slice(&0xcccc_ccccu32.to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&self.out);
        out
    }
}
