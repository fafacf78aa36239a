//! `rc4-hmac` (23), [RFC 4757], the non-exportable variant Active Directory uses.
//!
//! The export variant is a separate enctype, `rc4-hmac-exp` (24), not a per-usage mode: it
//! derives K1 from `"fortybits\0" | T` and overwrites the last 9 octets of K1 with 0xAB before
//! computing K3 ([RFC 4757 §5] "if (export)"). MIT krb5 (`src/lib/crypto/krb/enc_rc4.c`,
//! krb5/krb5) applies both only when the key's enctype is `ENCTYPE_ARCFOUR_HMAC_EXP`. AD keys
//! and tickets use 23, so 24 is not supported.
//!
//! The message type T is the key usage with one translation, see [`message_type`].
//!
//! [RFC 4757]: https://www.rfc-editor.org/rfc/rfc4757
//! [RFC 4757 §5]: https://www.rfc-editor.org/rfc/rfc4757#section-5

use ::rc4::cipher::array::Array;
use ::rc4::cipher::consts::U32;
use ::rc4::{KeyInit, Rc4, StreamCipher};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use zeroize::Zeroize;

use super::{ct_eq, hmac_with_key, CryptoError, Enctype, KeyUsage, Opened};

/// `OCTET Confounder[8]`, [RFC 4757 §5](https://www.rfc-editor.org/rfc/rfc4757#section-5).
pub(super) const CONFOUNDER_LEN: usize = 8;

/// `OCTET Checksum[16]`: an HMAC-MD5 output.
pub(super) const CHECKSUM_LEN: usize = 16;

/// [RFC 4757 §4]: `Ksign = HMAC(Key, "signaturekey")`, "includes zero octet at end".
///
/// [RFC 4757 §4]: https://www.rfc-editor.org/rfc/rfc4757#section-4
const SIGNATURE_KEY: &[u8; 13] = b"signaturekey\0";

/// K1 and Ksign of one key and usage, ready to use.
#[derive(Clone)]
pub(super) struct Rc4UsageKey {
    /// `K1 = HMAC-MD5(K, T)`; for the non-exportable variant `K2 = K1`.
    k1: Hmac<Md5>,
    /// `Ksign = HMAC-MD5(K, "signaturekey\0")`.
    ksign: Hmac<Md5>,
    /// T, 4 octets little-endian.
    message_type: [u8; 4],
}

impl Rc4UsageKey {
    pub(super) fn derive(key: &[u8], usage: KeyUsage) -> Self {
        let message_type = message_type(usage).to_le_bytes();
        let mut k1 = hmac_with_key::<Hmac<Md5>>(key)
            .chain_update(message_type)
            .finalize()
            .into_bytes();
        let mut ksign = hmac_with_key::<Hmac<Md5>>(key)
            .chain_update(SIGNATURE_KEY)
            .finalize()
            .into_bytes();
        let keys = Self {
            k1: hmac_with_key(&k1),
            ksign: hmac_with_key(&ksign),
            message_type,
        };
        k1.iter_mut().for_each(|byte| *byte = 0);
        ksign.iter_mut().for_each(|byte| *byte = 0);
        keys
    }

    /// ```text
    /// (checksum, edata) = ciphertext
    /// K3 = HMAC-MD5(K1, checksum)
    /// confounder | plaintext = RC4(K3, edata)
    /// if (checksum != HMAC-MD5(K2, confounder | plaintext)) report error
    /// ```
    pub(super) fn decrypt(&self, ciphertext: &[u8]) -> Result<Opened<CONFOUNDER_LEN>, CryptoError> {
        let too_short = CryptoError::CiphertextTooShort {
            enctype: Enctype::Rc4Hmac,
            len: ciphertext.len(),
            min: Enctype::Rc4Hmac.min_ciphertext_len(),
        };
        let (checksum, edata) = ciphertext
            .split_first_chunk::<CHECKSUM_LEN>()
            .ok_or(too_short)?;
        let (confounder, data) = edata
            .split_first_chunk::<CONFOUNDER_LEN>()
            .ok_or(too_short)?;

        let mut rc4 = self.rc4_for(checksum);
        let mut confounder = *confounder;
        let mut plaintext = data.to_vec();
        // RC4 has no keystream limit: the checked variants can only fail for other ciphers.
        rc4.unchecked_apply_keystream(&mut confounder);
        rc4.unchecked_apply_keystream(&mut plaintext);

        let mut mac = self.k1.clone();
        mac.update(&confounder);
        mac.update(&plaintext);
        let mut expected = mac.finalize().into_bytes();
        let matches = ct_eq(&expected, checksum);
        expected.iter_mut().for_each(|byte| *byte = 0);
        if !matches {
            confounder.zeroize();
            plaintext.zeroize();
            return Err(CryptoError::IntegrityCheckFailed {
                enctype: Enctype::Rc4Hmac,
            });
        }
        Ok(Opened {
            confounder,
            plaintext,
        })
    }

    /// ```text
    /// checksum = HMAC-MD5(K2, confounder | plaintext)
    /// K3 = HMAC-MD5(K1, checksum)
    /// ciphertext = checksum | RC4(K3, confounder | plaintext)
    /// ```
    pub(super) fn encrypt(&self, plaintext: &[u8], confounder: &[u8; CONFOUNDER_LEN]) -> Vec<u8> {
        let mut mac = self.k1.clone();
        mac.update(confounder);
        mac.update(plaintext);
        let checksum: [u8; CHECKSUM_LEN] = mac.finalize().into_bytes().into();

        let len = CHECKSUM_LEN
            .saturating_add(CONFOUNDER_LEN)
            .saturating_add(plaintext.len());
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&checksum);
        out.extend_from_slice(confounder);
        out.extend_from_slice(plaintext);
        let mut rc4 = self.rc4_for(&checksum);
        if let Some((_, edata)) = out.split_first_chunk_mut::<CHECKSUM_LEN>() {
            rc4.unchecked_apply_keystream(edata);
        }
        out
    }

    /// `HMAC-MD5(Ksign, MD5(T | data))`, [RFC 4757 §4].
    ///
    /// [RFC 4757 §4]: https://www.rfc-editor.org/rfc/rfc4757#section-4
    pub(super) fn checksum(&self, data: &[u8]) -> [u8; CHECKSUM_LEN] {
        let digest = Md5::new()
            .chain_update(self.message_type)
            .chain_update(data)
            .finalize();
        let mut mac = self.ksign.clone();
        mac.update(&digest);
        mac.finalize().into_bytes().into()
    }

    /// RC4 keyed with `K3 = HMAC-MD5(K1, checksum)`.
    fn rc4_for(&self, checksum: &[u8; CHECKSUM_LEN]) -> Rc4 {
        let mut k3: [u8; 16] = self
            .k1
            .clone()
            .chain_update(checksum)
            .finalize()
            .into_bytes()
            .into();
        // The RC4 key schedule reads `key[i mod keylen]`, so K3 | K3 schedules exactly as K3
        // does, and the 32-byte form uses the infallible fixed-size constructor.
        let mut doubled = [0u8; 32];
        doubled
            .iter_mut()
            .zip(k3.iter().cycle())
            .for_each(|(dst, src)| *dst = *src);
        let rc4 = Rc4::new(<&Array<u8, U32>>::from(&doubled));
        k3.zeroize();
        doubled.zeroize();
        rc4
    }
}

/// The RFC 4757 message type T for a key usage, as MIT krb5 and Heimdal compute it: 3 (AS-REP
/// enc-part) becomes 8, any other usage is its own T.
///
/// [RFC 4757 §3](https://www.rfc-editor.org/rfc/rfc4757#section-3) lists T = 8 for both TGS-REP
/// enc-part usages, 8 and 9, but Windows uses 9 for the subkey one: MIT's
/// `krb5int_arcfour_translate_usage` (`src/lib/crypto/krb/enc_rc4.c`, krb5/krb5) maps 9 to 9 and
/// falls back to 8 only on an integrity failure. An acceptor never decrypts a TGS-REP, so no
/// fallback here. MIT also maps 23 to 13 and Heimdal maps 22, 23, 24 to 13, 15, 0 for GSS-API;
/// RFC 4757 §7 GSS tokens pick their own T, so the GSS layer passes it as the usage directly.
fn message_type(usage: KeyUsage) -> u32 {
    match usage.get() {
        3 => 8,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use ::rc4::{KeyInit, Rc4, StreamCipher};
    use proptest::prelude::*;

    use super::{message_type, Rc4UsageKey};
    use crate::proto::crypto::KeyUsage;

    #[test]
    fn message_type_translates_as_rep_only() {
        assert_eq!(message_type(KeyUsage::new(3)), 8);
        for usage in [1, 2, 7, 8, 9, 10, 11, 12, 17, 22, 23, 24, 25] {
            assert_eq!(message_type(KeyUsage::new(usage)), usage);
        }
    }

    proptest! {
        #[test]
        fn doubled_k3_schedules_like_k3(
            key in proptest::array::uniform16(any::<u8>()),
            usage in any::<u32>(),
            checksum in proptest::array::uniform16(any::<u8>()),
            data in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let keys = Rc4UsageKey::derive(&key, KeyUsage::new(usage));
            let k3 = {
                use hmac::Mac;
                keys.k1.clone().chain_update(checksum).finalize().into_bytes()
            };
            let mut reference = Rc4::new_from_slice(&k3).expect("RC4 takes 16-byte keys");
            let mut expected = data.clone();
            reference.apply_keystream(&mut expected);
            let mut got = data;
            keys.rc4_for(&checksum).apply_keystream(&mut got);
            prop_assert_eq!(got, expected);
        }
    }
}
