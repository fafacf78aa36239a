//! Readers and writers for the RFC 4120 §5.2 basic types on top of [`crate::proto::der`].
//!
//! Deviations from picky-krb, on purpose: `KerberosString` is read as UTF-8 (AD and MIT put
//! UTF-8 in GeneralString; RFC 4120 §5.2.1 only recommends IA5), and every reader borrows from
//! the input instead of copying.

use crate::proto::der::{self, tag, DerError, Reader};

/// Identifier octets of the universal types Kerberos uses.
pub mod utag {
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// GeneralString, RFC 4120 `KerberosString`.
    pub const GENERAL_STRING: u8 = 0x1b;
    /// GeneralizedTime, RFC 4120 `KerberosTime`.
    pub const GENERALIZED_TIME: u8 = 0x18;
}

/// What went wrong while reading a Kerberos structure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Asn1Error {
    /// The DER framing itself is wrong.
    Der(DerError),
    /// An INTEGER is empty, too long, or out of the field's range.
    BadInteger,
    /// A `KerberosString` is not UTF-8.
    BadString,
    /// A `KerberosTime` is not `YYYYMMDDHHMMSSZ` or not a real date.
    BadTime,
    /// A BIT STRING has an invalid unused-bits octet.
    BadBitString,
    /// A field has a value the protocol does not allow (pvno, msg-type, vno…).
    BadValue,
}

impl From<DerError> for Asn1Error {
    fn from(e: DerError) -> Self {
        Self::Der(e)
    }
}

/// Reads `[n] EXPLICIT` and returns a reader over its contents.
pub fn explicit<'a>(r: &mut Reader<'a>, n: u8) -> Result<Reader<'a>, Asn1Error> {
    Ok(Reader::new(r.read(tag::context(n))?.value))
}

/// Reads an OPTIONAL `[n] EXPLICIT`.
pub fn explicit_optional<'a>(r: &mut Reader<'a>, n: u8) -> Result<Option<Reader<'a>>, Asn1Error> {
    Ok(r.read_optional(tag::context(n))?
        .map(|t| Reader::new(t.value)))
}

/// Runs `f` on the contents of a SEQUENCE and checks it read them all.
pub fn sequence<'a, T>(
    r: &mut Reader<'a>,
    expected_tag: u8,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Asn1Error>,
) -> Result<T, Asn1Error> {
    let mut inner = Reader::new(r.read(expected_tag)?.value);
    let out = f(&mut inner)?;
    inner.finish()?;
    Ok(out)
}

/// Runs `f` on the single value in an EXPLICIT tag and checks nothing follows it.
pub fn in_explicit<'a, T>(
    mut r: Reader<'a>,
    f: impl FnOnce(&mut Reader<'a>) -> Result<T, Asn1Error>,
) -> Result<T, Asn1Error> {
    let out = f(&mut r)?;
    r.finish()?;
    Ok(out)
}

/// Reads a DER INTEGER that must fit an `i64`.
pub fn read_integer(r: &mut Reader<'_>) -> Result<i64, Asn1Error> {
    let v = r.read(utag::INTEGER)?.value;
    if v.is_empty() || v.len() > 8 {
        return Err(Asn1Error::BadInteger);
    }
    let negative = v.first().is_some_and(|b| b & 0x80 != 0);
    let mut n: i64 = if negative { -1 } else { 0 };
    for &b in v {
        n = (n << 8) | i64::from(b);
    }
    Ok(n)
}

/// Reads an `Int32`.
pub fn read_i32(r: &mut Reader<'_>) -> Result<i32, Asn1Error> {
    i32::try_from(read_integer(r)?).map_err(|_| Asn1Error::BadInteger)
}

/// Reads a `UInt32`.
pub fn read_u32(r: &mut Reader<'_>) -> Result<u32, Asn1Error> {
    u32::try_from(read_integer(r)?).map_err(|_| Asn1Error::BadInteger)
}

/// Reads `Microseconds ::= INTEGER (0..999999)`.
pub fn read_microseconds(r: &mut Reader<'_>) -> Result<u32, Asn1Error> {
    let us = read_u32(r)?;
    if us > 999_999 {
        return Err(Asn1Error::BadInteger);
    }
    Ok(us)
}

/// Reads a `KerberosString` (GeneralString) as UTF-8.
pub fn read_string<'a>(r: &mut Reader<'a>) -> Result<&'a str, Asn1Error> {
    let v = r.read(utag::GENERAL_STRING)?.value;
    std::str::from_utf8(v).map_err(|_| Asn1Error::BadString)
}

/// Reads a `KerberosTime ::= GeneralizedTime -- with no fractional seconds` as Unix seconds.
pub fn read_time(r: &mut Reader<'_>) -> Result<i64, Asn1Error> {
    parse_time(r.read(utag::GENERALIZED_TIME)?.value)
}

/// The last time a `KerberosTime` can express, 9999-12-31T23:59:59Z, in Unix seconds.
pub const LAST_TIME: i64 = 253_402_300_799;

/// Parses `YYYYMMDDHHMMSSZ` (RFC 4120 §5.2.3) into Unix seconds.
///
/// A leap second (`SS` = 60) is read as the first second of the next minute, except on
/// 9999-12-31, where that would be a year four digits cannot write: it is refused, so that
/// [`format_time`] gives back every time this accepts.
pub fn parse_time(v: &[u8]) -> Result<i64, Asn1Error> {
    let digits: &[u8; 15] = v.try_into().map_err(|_| Asn1Error::BadTime)?;
    let (body, zone) = digits.split_at(14);
    if zone != b"Z" || !body.iter().all(u8::is_ascii_digit) {
        return Err(Asn1Error::BadTime);
    }
    let num = |range: std::ops::Range<usize>| -> i64 {
        body.get(range)
            .unwrap_or_default()
            .iter()
            .fold(0, |acc, d| acc * 10 + i64::from(d - b'0'))
    };
    let (year, month, day) = (num(0..4), num(4..6), num(6..8));
    let (hour, minute, second) = (num(8..10), num(10..12), num(12..14));
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(Asn1Error::BadTime);
    }
    let unix = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    if unix > LAST_TIME {
        return Err(Asn1Error::BadTime);
    }
    Ok(unix)
}

/// Formats Unix seconds as a `KerberosTime`.
pub fn format_time(unix: i64) -> [u8; 15] {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = [b'0'; 15];
    let mut put = |pos: usize, width: usize, mut value: i64| {
        for digit in out.iter_mut().skip(pos).take(width).rev() {
            // `value % 10` is in 0..10, so the cast is exact.
            *digit = b'0' + (value.rem_euclid(10)) as u8;
            value /= 10;
        }
    };
    put(0, 4, y);
    put(4, 2, m);
    put(6, 2, d);
    put(8, 2, secs / 3600);
    put(10, 2, secs % 3600 / 60);
    put(12, 2, secs % 60);
    if let Some(zone) = out.last_mut() {
        *zone = b'Z';
    }
    out
}

/// Formats Unix seconds as RFC 3339 UTC, `2026-11-21T11:16:02Z`, for messages and logs.
pub fn format_rfc3339(unix: i64) -> String {
    let t = format_time(unix);
    let d = |r: std::ops::Range<usize>| {
        t.get(r)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("??")
    };
    format!(
        "{}-{}-{}T{}:{}:{}Z",
        d(0..4),
        d(4..6),
        d(6..8),
        d(8..10),
        d(10..12),
        d(12..14)
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-Compatible
/// Low-Level Date Algorithms", `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`] (same source, `civil_from_days`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Reads `KerberosFlags ::= BIT STRING (SIZE (32..MAX))` into the first 32 flags; bit 0 (the
/// most significant bit of the first octet) is the highest bit of the result, as in RFC 4120.
pub fn read_flags(r: &mut Reader<'_>) -> Result<u32, Asn1Error> {
    let v = r.read(tag::BIT_STRING)?.value;
    let (&unused, bits) = v.split_first().ok_or(Asn1Error::BadBitString)?;
    if unused > 7 || (bits.is_empty() && unused != 0) {
        return Err(Asn1Error::BadBitString);
    }
    let mut word = [0u8; 4];
    for (dst, src) in word.iter_mut().zip(bits) {
        *dst = *src;
    }
    Ok(u32::from_be_bytes(word))
}

/// Encodes an INTEGER.
pub fn integer(n: i64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    // Drop leading octets that only repeat the sign bit of the next one.
    let start = bytes
        .windows(2)
        .take_while(|w| {
            matches!(w, [0x00, b] if b & 0x80 == 0) || matches!(w, [0xff, b] if b & 0x80 != 0)
        })
        .count();
    der::tlv(utag::INTEGER, &[bytes.get(start..).unwrap_or(&bytes)])
}

/// Encodes `[n] EXPLICIT` around an encoded value.
pub fn wrap(n: u8, inner: &[u8]) -> Vec<u8> {
    der::tlv(tag::context(n), &[inner])
}

/// Encodes a `KerberosTime`.
pub fn time(unix: i64) -> Vec<u8> {
    der::tlv(utag::GENERALIZED_TIME, &[&format_time(unix)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_round_trip() {
        for n in [
            0i64,
            1,
            127,
            128,
            255,
            256,
            -1,
            -128,
            -129,
            999_999,
            i64::from(u32::MAX),
        ] {
            let enc = integer(n);
            assert_eq!(read_integer(&mut Reader::new(&enc)).unwrap(), n, "{n}");
        }
        // X.690 §8.3 examples: 128 is 02 02 00 80, -128 is 02 01 80.
        assert_eq!(integer(128), [0x02, 0x02, 0x00, 0x80]);
        assert_eq!(integer(-128), [0x02, 0x01, 0x80]);
        assert_eq!(
            read_u32(&mut Reader::new(&integer(-1))),
            Err(Asn1Error::BadInteger)
        );
        assert_eq!(
            read_microseconds(&mut Reader::new(&integer(1_000_000))),
            Err(Asn1Error::BadInteger)
        );
        assert_eq!(
            read_integer(&mut Reader::new(&[0x02, 0x00])),
            Err(Asn1Error::BadInteger)
        );
    }

    #[test]
    fn times_round_trip() {
        // 2000-03-01T00:00:00Z is 951868800 (a leap-year boundary).
        assert_eq!(parse_time(b"20000301000000Z"), Ok(951_868_800));
        assert_eq!(parse_time(b"19700101000000Z"), Ok(0));
        assert_eq!(parse_time(b"20261121103000Z"), Ok(1_795_257_000));
        assert_eq!(&format_time(1_795_257_000), b"20261121103000Z");
        for t in [0i64, 951_868_800, 1_795_257_000, 4_102_444_799] {
            assert_eq!(parse_time(&format_time(t)), Ok(t));
        }
        for bad in [
            &b"20000230000000Z"[..],
            b"2000030100000Z",
            b"20000301000000z",
            b"2000030100000aZ",
        ] {
            assert_eq!(parse_time(bad), Err(Asn1Error::BadTime), "{bad:?}");
        }
    }

    /// Found by the `ap_req` fuzz target's round trip: a leap second at the end of 9999 was
    /// read as 10000-01-01T00:00:00Z, which `format_time` wrote back as year 0000.
    #[test]
    fn fuzz_ap_req_leap_second_in_9999() {
        assert_eq!(parse_time(b"99991231235960Z"), Err(Asn1Error::BadTime));
        let vector = include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/fuzz-ap_req-leap-9999.bin"
        ));
        assert_eq!(
            crate::proto::krb::messages::extract_enc_ticket_part(vector),
            Err(Asn1Error::BadTime)
        );
        // The last second KerberosTime can write still round-trips, and other leap seconds
        // are still read, as the first second of the next minute.
        assert_eq!(parse_time(b"99991231235959Z"), Ok(LAST_TIME));
        assert_eq!(&format_time(LAST_TIME), b"99991231235959Z");
        assert_eq!(parse_time(b"20161231235960Z"), Ok(1_483_228_800));
    }

    #[test]
    fn flags_take_the_first_32_bits() {
        // forwardable(1) and renewable(8) set: 0x40800000, as RFC 4120 §5.3 numbers the bits.
        let enc = [0x03, 0x05, 0x00, 0x40, 0x80, 0x00, 0x00];
        assert_eq!(read_flags(&mut Reader::new(&enc)), Ok(0x4080_0000));
        assert_eq!(
            read_flags(&mut Reader::new(&[0x03, 0x00])),
            Err(Asn1Error::BadBitString)
        );
        assert_eq!(
            read_flags(&mut Reader::new(&[0x03, 0x01, 0x08])),
            Err(Asn1Error::BadBitString)
        );
    }

    proptest::proptest! {
        #[test]
        fn time_format_parse(t in 0i64..253_402_300_799) {
            proptest::prop_assert_eq!(parse_time(&format_time(t)), Ok(t));
        }

        #[test]
        fn integer_encode_decode(n in proptest::num::i64::ANY) {
            proptest::prop_assert_eq!(read_integer(&mut Reader::new(&integer(n))), Ok(n));
        }
    }
}
