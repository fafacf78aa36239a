//! Kerberos encryption and keyed checksums for the acceptor.
//!
//! Three encryption types, the ones Active Directory issues service tickets with:
//!
//! | etype | name                      | spec                                        | checksum type |
//! |-------|---------------------------|---------------------------------------------|---------------|
//! | 18    | `aes256-cts-hmac-sha1-96` | [RFC 3962] over the [RFC 3961 §5.3] profile | 16            |
//! | 17    | `aes128-cts-hmac-sha1-96` | [RFC 3962] over the [RFC 3961 §5.3] profile | 15            |
//! | 23    | `rc4-hmac`                | [RFC 4757]                                  | -138          |
//!
//! DES and the exportable `rc4-hmac-exp` (24) are not supported.
//!
//! A long-lived [`Key`] turns into a [`UsageKey`] for one key usage number. The usage key holds
//! everything that does not depend on the message: for AES the Ke key schedule and the keyed
//! HMAC-SHA1 states for Ki and Kc, for RC4 the keyed HMAC-MD5 states for K1 and Ksign. The
//! caller caches the usage keys of service keys (usage 2, the ticket enc-part, and 17, the PAC
//! checksums), and derives per-message ones for session keys (usage 11 and 12).
//!
//! Everything here is sans-IO: confounders and random keys are arguments, nothing reads an RNG.
//! Integrity checks compare in constant time, and key material is zeroized on drop.
//!
//! picky-krb's `Cipher` and `derive_key` are the oracle the tests cross-check against, not the
//! implementation: they re-derive the keys on every call (about 3.5 µs per derived key) and
//! compare MACs with `!=`.
//!
//! [RFC 3961 §5.3]: https://www.rfc-editor.org/rfc/rfc3961#section-5.3
//! [RFC 3962]: https://www.rfc-editor.org/rfc/rfc3962
//! [RFC 4757]: https://www.rfc-editor.org/rfc/rfc4757

mod aes;
mod rc4;

use std::fmt;

use ::aes::cipher::array::Array;
use ::aes::cipher::consts::U64;
use hmac::digest::common::KeySizeUser;
use hmac::digest::KeyInit;
use thiserror::Error;
use zeroize::{Zeroize, ZeroizeOnDrop};

use self::aes::AesUsageKey;
use self::rc4::Rc4UsageKey;

/// The longest key of any supported enctype (aes256), in bytes.
pub const MAX_KEY_LEN: usize = 32;

/// The longest confounder of any supported enctype (AES: one cipher block), in bytes.
pub const MAX_CONFOUNDER_LEN: usize = 16;

/// A Kerberos encryption type this crate can decrypt and encrypt with.
///
/// The numbers are the IANA "Kerberos Encryption Type Numbers": 17 and 18 from
/// [RFC 3962 §7](https://www.rfc-editor.org/rfc/rfc3962#section-7), 23 from
/// [RFC 4757 §4](https://www.rfc-editor.org/rfc/rfc4757#section-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Enctype {
    /// `aes256-cts-hmac-sha1-96` (18), the AD default since Windows Server 2008.
    Aes256CtsHmacSha196,
    /// `aes128-cts-hmac-sha1-96` (17).
    Aes128CtsHmacSha196,
    /// `rc4-hmac` (23), keyed with the NT hash; still found on accounts whose
    /// `msDS-SupportedEncryptionTypes` is unset.
    Rc4Hmac,
}

impl Enctype {
    /// All supported enctypes, strongest first.
    pub const ALL: [Self; 3] = [
        Self::Aes256CtsHmacSha196,
        Self::Aes128CtsHmacSha196,
        Self::Rc4Hmac,
    ];

    /// The etype number on the wire (`EncryptedData.etype`, keytab entries).
    pub const fn etype(self) -> i32 {
        match self {
            Self::Aes256CtsHmacSha196 => 0x12,
            Self::Aes128CtsHmacSha196 => 0x11,
            Self::Rc4Hmac => 0x17,
        }
    }

    /// The registered name, e.g. `aes256-cts-hmac-sha1-96`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Aes256CtsHmacSha196 => "aes256-cts-hmac-sha1-96",
            Self::Aes128CtsHmacSha196 => "aes128-cts-hmac-sha1-96",
            Self::Rc4Hmac => "rc4-hmac",
        }
    }

    /// A short name for error messages and logs, e.g. `aes256` in
    /// `it has kvno 2 (aes256, aes128, rc4-hmac)`.
    pub const fn short_name(self) -> &'static str {
        match self {
            Self::Aes256CtsHmacSha196 => "aes256",
            Self::Aes128CtsHmacSha196 => "aes128",
            Self::Rc4Hmac => "rc4-hmac",
        }
    }

    /// The protocol key length in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Self::Aes256CtsHmacSha196 => 32,
            Self::Aes128CtsHmacSha196 | Self::Rc4Hmac => 16,
        }
    }

    /// How many confounder bytes [`UsageKey::encrypt`] uses: 16 for AES (one block, [RFC 3962
    /// §6] "cipher block size 16 octets"), 8 for RC4 ([RFC 4757 §5] `Confounder[8]`).
    ///
    /// [RFC 3962 §6]: https://www.rfc-editor.org/rfc/rfc3962#section-6
    /// [RFC 4757 §5]: https://www.rfc-editor.org/rfc/rfc4757#section-5
    pub const fn confounder_len(self) -> usize {
        match self {
            Self::Aes256CtsHmacSha196 | Self::Aes128CtsHmacSha196 => aes::CONFOUNDER_LEN,
            Self::Rc4Hmac => rc4::CONFOUNDER_LEN,
        }
    }

    /// The keyed checksum type that goes with this enctype: `hmac-sha1-96-aes256` (16),
    /// `hmac-sha1-96-aes128` (15) from [RFC 3962 §7], and `hmac-md5` (-138) from [RFC 4757 §4].
    ///
    /// [RFC 3962 §7]: https://www.rfc-editor.org/rfc/rfc3962#section-7
    /// [RFC 4757 §4]: https://www.rfc-editor.org/rfc/rfc4757#section-4
    pub const fn checksum_type(self) -> i32 {
        match self {
            Self::Aes256CtsHmacSha196 => 0x10,
            Self::Aes128CtsHmacSha196 => 0x0f,
            Self::Rc4Hmac => -138,
        }
    }

    /// The length of [`UsageKey::checksum`] in bytes: 12 for AES (HMAC-SHA1-96), 16 for RC4.
    pub const fn checksum_len(self) -> usize {
        match self {
            Self::Aes256CtsHmacSha196 | Self::Aes128CtsHmacSha196 => aes::MAC_LEN,
            Self::Rc4Hmac => rc4::CHECKSUM_LEN,
        }
    }

    /// The length of the ciphertext of an empty plaintext, the shortest that can decrypt:
    /// confounder and MAC (AES: 16 + 12), or checksum and confounder (RC4: 16 + 8).
    pub const fn min_ciphertext_len(self) -> usize {
        match self {
            Self::Aes256CtsHmacSha196 | Self::Aes128CtsHmacSha196 => {
                aes::CONFOUNDER_LEN + aes::MAC_LEN
            }
            Self::Rc4Hmac => rc4::CHECKSUM_LEN + rc4::CONFOUNDER_LEN,
        }
    }

    /// The ciphertext length for a plaintext of `plaintext_len` bytes (neither CTS nor RC4
    /// pads), or `None` on overflow.
    pub const fn ciphertext_len(self, plaintext_len: usize) -> Option<usize> {
        plaintext_len.checked_add(self.min_ciphertext_len())
    }
}

impl fmt::Display for Enctype {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl TryFrom<i32> for Enctype {
    type Error = CryptoError;

    fn try_from(etype: i32) -> Result<Self, Self::Error> {
        Self::ALL
            .into_iter()
            .find(|enctype| enctype.etype() == etype)
            .ok_or(CryptoError::UnsupportedEnctype { etype })
    }
}

impl From<Enctype> for i32 {
    fn from(enctype: Enctype) -> Self {
        enctype.etype()
    }
}

/// A key usage number, [RFC 4120 §7.5.1](https://www.rfc-editor.org/rfc/rfc4120#section-7.5.1).
///
/// It separates the keys derived for different purposes: [RFC 3961 §5.3] puts it, "expressed as
/// four octets in big-endian order", into the derivation constant; RC4 puts it little-endian
/// into K1 ([RFC 4757 §5]).
///
/// [RFC 3961 §5.3]: https://www.rfc-editor.org/rfc/rfc3961#section-5.3
/// [RFC 4757 §5]: https://www.rfc-editor.org/rfc/rfc4757#section-5
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyUsage(u32);

impl KeyUsage {
    /// 2: the ticket enc-part, under the service key (AS-REP and TGS-REP tickets).
    pub const KDC_REP_TICKET: Self = Self(2);
    /// 10: the authenticator `cksum`, under the session key.
    pub const AP_REQ_AUTHENTICATOR_CKSUM: Self = Self(10);
    /// 11: the AP-REQ authenticator, under the session key.
    pub const AP_REQ_AUTHENTICATOR: Self = Self(11);
    /// 12: the AP-REP enc-part, under the session key.
    pub const AP_REP_ENC_PART: Self = Self(12);
    /// 17: the PAC server and KDC signatures, `KERB_NON_KERB_CKSUM_SALT`
    /// ([MS-PAC] 2.8.1 and [MS-KILE] 3.1.5.9).
    ///
    /// [MS-PAC]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-pac/
    /// [MS-KILE]: https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-kile/
    pub const PAC_CHECKSUM: Self = Self(17);
    /// 22: GSS-API `KG-USAGE-ACCEPTOR-SEAL`, [RFC 4121 §2].
    ///
    /// [RFC 4121 §2]: https://www.rfc-editor.org/rfc/rfc4121#section-2
    pub const GSS_ACCEPTOR_SEAL: Self = Self(22);
    /// 23: GSS-API `KG-USAGE-ACCEPTOR-SIGN`.
    pub const GSS_ACCEPTOR_SIGN: Self = Self(23);
    /// 24: GSS-API `KG-USAGE-INITIATOR-SEAL`.
    pub const GSS_INITIATOR_SEAL: Self = Self(24);
    /// 25: GSS-API `KG-USAGE-INITIATOR-SIGN`.
    pub const GSS_INITIATOR_SIGN: Self = Self(25);

    /// A usage number not covered by the constants.
    pub const fn new(usage: u32) -> Self {
        Self(usage)
    }

    /// The usage number.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for KeyUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Kerberos protocol key: an enctype and its key bytes.
///
/// The bytes are zeroized on drop and `Debug` prints `[redacted]`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Key {
    #[zeroize(skip)]
    enctype: Enctype,
    /// The key in the first `enctype.key_len()` bytes, zeros after.
    bytes: [u8; MAX_KEY_LEN],
}

impl Key {
    /// Takes key bytes as they come from a keytab or an `EncryptionKey.keyvalue`.
    ///
    /// # Errors
    ///
    /// [`CryptoError::KeyLength`] unless `bytes` is exactly [`Enctype::key_len`] long.
    pub fn from_bytes(enctype: Enctype, bytes: &[u8]) -> Result<Self, CryptoError> {
        let expected = enctype.key_len();
        if bytes.len() != expected {
            return Err(CryptoError::KeyLength {
                enctype,
                expected,
                got: bytes.len(),
            });
        }
        let mut key = Self {
            enctype,
            bytes: [0; MAX_KEY_LEN],
        };
        key.bytes
            .iter_mut()
            .zip(bytes)
            .for_each(|(dst, src)| *dst = *src);
        Ok(key)
    }

    /// A fresh key (for example an AP-REP subkey) from caller-supplied random bytes.
    ///
    /// random-to-key is the identity for all three enctypes ([RFC 3962 §6], [RFC 4757 §4]),
    /// so the key is the first [`Enctype::key_len`] bytes of `rng_bytes`; the rest is unused.
    ///
    /// [RFC 3962 §6]: https://www.rfc-editor.org/rfc/rfc3962#section-6
    /// [RFC 4757 §4]: https://www.rfc-editor.org/rfc/rfc4757#section-4
    pub fn random(enctype: Enctype, rng_bytes: &[u8; MAX_KEY_LEN]) -> Self {
        let mut key = Self {
            enctype,
            bytes: [0; MAX_KEY_LEN],
        };
        key.bytes
            .iter_mut()
            .zip(rng_bytes.iter().take(enctype.key_len()))
            .for_each(|(dst, src)| *dst = *src);
        key
    }

    /// The key's enctype.
    pub const fn enctype(&self) -> Enctype {
        self.enctype
    }

    /// The key bytes, for encoding an `EncryptionKey`. Never log them.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes
            .get(..self.enctype.key_len())
            .unwrap_or(&self.bytes)
    }

    /// Derives the ready-to-use keys for one usage number.
    ///
    /// For AES this runs the [RFC 3961 §5.3] derivations
    ///
    /// ```text
    /// Kc = DK(base-key, usage | 0x99)
    /// Ke = DK(base-key, usage | 0xAA)
    /// Ki = DK(base-key, usage | 0x55)
    /// ```
    ///
    /// and keeps the Ke key schedule and keyed HMAC states for Ki and Kc. For RC4 it computes
    /// ([RFC 4757 §4, §5])
    ///
    /// ```text
    /// K1    = HMAC-MD5(K, T)                  T: the message type, 4 octets little-endian
    /// Ksign = HMAC-MD5(K, "signaturekey\0")
    /// ```
    ///
    /// Derivation takes well under 2 µs (two or three key schedules and a few HMAC key
    /// setups): fine per message for session keys, but cache the result for long-lived keys.
    ///
    /// # Errors
    ///
    /// [`CryptoError::KeyLength`] if the key bytes do not fit the cipher, which the length
    /// check in [`Key::from_bytes`] already rules out.
    ///
    /// [RFC 3961 §5.3]: https://www.rfc-editor.org/rfc/rfc3961#section-5.3
    /// [RFC 4757 §4, §5]: https://www.rfc-editor.org/rfc/rfc4757#section-4
    pub fn usage_key(&self, usage: KeyUsage) -> Result<UsageKey, CryptoError> {
        let keys = match self.enctype {
            Enctype::Aes256CtsHmacSha196 | Enctype::Aes128CtsHmacSha196 => {
                UsageKeys::Aes(AesUsageKey::derive(self.enctype, self.as_bytes(), usage)?)
            }
            Enctype::Rc4Hmac => UsageKeys::Rc4(Rc4UsageKey::derive(self.as_bytes(), usage)),
        };
        Ok(UsageKey { usage, keys })
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("enctype", &self.enctype)
            .field("bytes", &format_args!("[redacted]"))
            .finish()
    }
}

/// The keys of one [`Key`] for one [`KeyUsage`], ready to decrypt, encrypt and checksum.
///
/// Build it with [`Key::usage_key`]. It is `Send + Sync` and cheap to use from many threads:
/// every operation clones the keyed HMAC state instead of re-deriving it. Its key schedules
/// and HMAC states are zeroized on drop.
#[derive(Clone)]
pub struct UsageKey {
    usage: KeyUsage,
    keys: UsageKeys,
}

#[derive(Clone)]
#[expect(
    clippy::large_enum_variant,
    reason = "AES, the common case, is the large one; boxing it would add an allocation and an \
              indirection per message key for nothing"
)]
enum UsageKeys {
    Aes(AesUsageKey),
    Rc4(Rc4UsageKey),
}

impl UsageKey {
    /// The enctype of the key this was derived from.
    pub const fn enctype(&self) -> Enctype {
        match &self.keys {
            UsageKeys::Aes(keys) => keys.enctype(),
            UsageKeys::Rc4(_) => Enctype::Rc4Hmac,
        }
    }

    /// The usage number this was derived for.
    pub const fn usage(&self) -> KeyUsage {
        self.usage
    }

    /// Decrypts a ciphertext (`EncryptedData.cipher`) and checks its integrity, returning the
    /// plaintext without the confounder.
    ///
    /// AES, [RFC 3961 §5.3] with CBC-CTS ([RFC 3962 §5]) as E and D:
    ///
    /// ```text
    /// (C1, H1) = ciphertext
    /// P1 = D(Ke, C1)                 P1 = confounder(16) | plaintext
    /// if (H1 != HMAC(Ki, P1)[1..h])  h = 12
    ///     report error
    /// ```
    ///
    /// RC4, [RFC 4757 §5]:
    ///
    /// ```text
    /// (checksum(16), edata) = ciphertext
    /// K3 = HMAC-MD5(K1, checksum)
    /// confounder(8) | plaintext = RC4(K3, edata)
    /// if (checksum != HMAC-MD5(K1, confounder | plaintext))
    ///     report error
    /// ```
    ///
    /// The MAC is compared in constant time, and the decrypted bytes are zeroized before an
    /// integrity error is returned.
    ///
    /// # Errors
    ///
    /// - [`CryptoError::CiphertextTooShort`] below [`Enctype::min_ciphertext_len`].
    /// - [`CryptoError::IntegrityCheckFailed`] if the MAC does not match: the wrong key, the
    ///   wrong usage, or a modified ciphertext.
    ///
    /// [RFC 3961 §5.3]: https://www.rfc-editor.org/rfc/rfc3961#section-5.3
    /// [RFC 3962 §5]: https://www.rfc-editor.org/rfc/rfc3962#section-5
    /// [RFC 4757 §5]: https://www.rfc-editor.org/rfc/rfc4757#section-5
    pub fn decrypt(&self, ciphertext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        match &self.keys {
            UsageKeys::Aes(keys) => keys.decrypt(ciphertext).map(|opened| opened.plaintext),
            UsageKeys::Rc4(keys) => keys.decrypt(ciphertext).map(|opened| opened.plaintext),
        }
    }

    /// Encrypts `plaintext` with the caller's random `confounder`.
    ///
    /// Only the first [`Enctype::confounder_len`] bytes of `confounder` are used (16 for AES,
    /// 8 for RC4); fill all [`MAX_CONFOUNDER_LEN`] from the RNG regardless. The output is
    /// [`Enctype::ciphertext_len`] long:
    ///
    /// ```text
    /// AES: C1 = E(Ke, confounder | plaintext)
    ///      ciphertext = C1 | HMAC(Ki, confounder | plaintext)[1..12]
    /// RC4: checksum = HMAC-MD5(K1, confounder | plaintext); K3 = HMAC-MD5(K1, checksum)
    ///      ciphertext = checksum | RC4(K3, confounder | plaintext)
    /// ```
    pub fn encrypt(&self, plaintext: &[u8], confounder: &[u8; MAX_CONFOUNDER_LEN]) -> Vec<u8> {
        match &self.keys {
            UsageKeys::Aes(keys) => keys.encrypt(plaintext, confounder),
            UsageKeys::Rc4(keys) => {
                let mut rc4_confounder = [0; rc4::CONFOUNDER_LEN];
                rc4_confounder
                    .iter_mut()
                    .zip(confounder)
                    .for_each(|(dst, src)| *dst = *src);
                keys.encrypt(plaintext, &rc4_confounder)
            }
        }
    }

    /// The keyed checksum of `data` ([`Enctype::checksum_type`]), as in a PAC signature or an
    /// authenticator `cksum`.
    ///
    /// ```text
    /// AES (RFC 3961 §5.4, RFC 3962): HMAC-SHA1(Kc, data)[1..12]
    /// RC4 (RFC 4757 §4):             HMAC-MD5(Ksign, MD5(T | data))    T: 4 octets little-endian
    /// ```
    pub fn checksum(&self, data: &[u8]) -> Vec<u8> {
        match &self.keys {
            UsageKeys::Aes(keys) => keys.checksum(data).to_vec(),
            UsageKeys::Rc4(keys) => keys.checksum(data).to_vec(),
        }
    }

    /// Verifies a keyed checksum over `data` in constant time.
    ///
    /// # Errors
    ///
    /// - [`CryptoError::ChecksumLength`] if `expected` is not [`Enctype::checksum_len`] long
    ///   (the checksum type does not match this key's enctype).
    /// - [`CryptoError::ChecksumMismatch`] if it does not match.
    pub fn verify_checksum(&self, data: &[u8], expected: &[u8]) -> Result<(), CryptoError> {
        let enctype = self.enctype();
        if expected.len() != enctype.checksum_len() {
            return Err(CryptoError::ChecksumLength {
                enctype,
                expected: enctype.checksum_len(),
                got: expected.len(),
            });
        }
        let matches = match &self.keys {
            UsageKeys::Aes(keys) => ct_eq(&keys.checksum(data), expected),
            UsageKeys::Rc4(keys) => ct_eq(&keys.checksum(data), expected),
        };
        if matches {
            Ok(())
        } else {
            Err(CryptoError::ChecksumMismatch { enctype })
        }
    }
}

impl fmt::Debug for UsageKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UsageKey")
            .field("enctype", &self.enctype())
            .field("usage", &self.usage)
            .field("keys", &format_args!("[redacted]"))
            .finish()
    }
}

/// What can go wrong in Kerberos decryption and checksums.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// The etype number is not one of [`Enctype::ALL`] (DES, `rc4-hmac-exp`, RFC 8009, ...).
    #[error("unsupported encryption type {etype}")]
    UnsupportedEnctype {
        /// The etype number as received.
        etype: i32,
    },
    /// A key of the wrong length for its enctype.
    #[error("{enctype} key must be {expected} bytes, got {got}")]
    KeyLength {
        /// The enctype the key was given for.
        enctype: Enctype,
        /// [`Enctype::key_len`].
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A ciphertext too short to hold even the confounder and the MAC.
    #[error("{enctype} ciphertext is {len} bytes, shorter than the minimum of {min}")]
    CiphertextTooShort {
        /// The enctype of the key.
        enctype: Enctype,
        /// The ciphertext length.
        len: usize,
        /// [`Enctype::min_ciphertext_len`].
        min: usize,
    },
    /// The MAC over the decrypted data does not match: wrong key or usage, or tampering.
    #[error("{enctype} ciphertext failed its integrity check")]
    IntegrityCheckFailed {
        /// The enctype of the key.
        enctype: Enctype,
    },
    /// A checksum of the wrong length for the key's checksum type.
    #[error("{enctype} checksum must be {expected} bytes, got {got}")]
    ChecksumLength {
        /// The enctype of the key.
        enctype: Enctype,
        /// [`Enctype::checksum_len`].
        expected: usize,
        /// The length given.
        got: usize,
    },
    /// A keyed checksum that does not match the data.
    #[error("{enctype} checksum does not match")]
    ChecksumMismatch {
        /// The enctype of the key.
        enctype: Enctype,
    },
}

impl CryptoError {
    /// A static label for logs and metrics.
    pub const fn reason(&self) -> &'static str {
        match self {
            Self::UnsupportedEnctype { .. } => "unsupported_enctype",
            Self::KeyLength { .. } => "key_length",
            Self::CiphertextTooShort { .. } => "ciphertext_too_short",
            Self::IntegrityCheckFailed { .. } => "integrity_check_failed",
            Self::ChecksumLength { .. } => "checksum_length",
            Self::ChecksumMismatch { .. } => "checksum_mismatch",
        }
    }
}

/// Plaintext and confounder of a decrypted message; the confounder is kept for tests that
/// re-encrypt known-answer vectors.
struct Opened<const C: usize> {
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "only the known-answer tests re-encrypt with it")
    )]
    confounder: [u8; C],
    plaintext: Vec<u8>,
}

/// Constant-time equality of two byte strings of public length.
fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;

    bool::from(a.ct_eq(b))
}

/// Keys an HMAC whose hash has a 64-byte block (SHA-1, MD5) with a key of at most 64 bytes.
///
/// [RFC 2104 §2]: a key shorter than the block "is appended with zeros" to the block length, so
/// padding it here computes the same HMAC and lets the infallible fixed-size constructor be
/// used. Every key here is at most 32 bytes.
///
/// [RFC 2104 §2]: https://www.rfc-editor.org/rfc/rfc2104#section-2
fn hmac_with_key<M>(key: &[u8]) -> M
where
    M: KeyInit + KeySizeUser<KeySize = U64>,
{
    debug_assert!(
        key.len() <= 64,
        "HMAC keys here are protocol keys of at most 32 bytes"
    );
    let mut padded = [0u8; 64];
    padded
        .iter_mut()
        .zip(key)
        .for_each(|(dst, src)| *dst = *src);
    let mac = M::new(<&Array<u8, U64>>::from(&padded));
    padded.zeroize();
    mac
}

#[cfg(test)]
mod tests;
