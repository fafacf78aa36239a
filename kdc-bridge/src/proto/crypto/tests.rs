//! Known-answer vectors from MIT krb5, cross-checks against picky-krb, and negative tests.
//!
//! The CTS, n-fold and string-to-key vectors from RFC 3961 and RFC 3962 are in `aes.rs`.

use picky_krb::crypto::aes::{checksum_sha_aes, AesSize};
use picky_krb::crypto::{ChecksumSuite, CipherSuite};
use proptest::prelude::*;

use super::{
    CryptoError, Enctype, Key, KeyUsage, UsageKey, UsageKeys, MAX_CONFOUNDER_LEN, MAX_KEY_LEN,
};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("test vector is hex")
}

fn usage_key(enctype: Enctype, key: &str, usage: u32) -> UsageKey {
    Key::from_bytes(enctype, &unhex(key))
        .expect("vector key has the enctype's length")
        .usage_key(KeyUsage::new(usage))
        .expect("derivation of a valid key")
}

/// Re-encrypts `plaintext` with the confounder recovered from `ciphertext`, which must give
/// `ciphertext` back: both CTS and RC4 are deterministic once the confounder is fixed.
fn reencrypt_with_recovered_confounder(keys: &UsageKey, ciphertext: &[u8]) -> Vec<u8> {
    let mut confounder = [0u8; MAX_CONFOUNDER_LEN];
    let plaintext = match &keys.keys {
        UsageKeys::Aes(aes) => {
            let opened = aes.decrypt(ciphertext).expect("vector decrypts");
            confounder.copy_from_slice(&opened.confounder);
            opened.plaintext
        }
        UsageKeys::Rc4(rc4) => {
            let opened = rc4.decrypt(ciphertext).expect("vector decrypts");
            confounder[..8].copy_from_slice(&opened.confounder);
            opened.plaintext
        }
    };
    keys.encrypt(&plaintext, &confounder)
}

/// MIT krb5 `src/lib/crypto/crypto_tests/t_decrypt.c` (krb5/krb5, commit 01f30a7f), the
/// `ENCTYPE_AES128_CTS_HMAC_SHA1_96`, `ENCTYPE_AES256_CTS_HMAC_SHA1_96` and
/// `ENCTYPE_ARCFOUR_HMAC` cases: (enctype, plaintext, usage, key, ciphertext).
const MIT_T_DECRYPT: &[(Enctype, &str, u32, &str, &str)] = &[
    (
        Enctype::Aes128CtsHmacSha196,
        "",
        0,
        "5a5c0f0ba54f3828b2195e66ca24a289",
        "49ff8e11c173d9583a3254fbe7b1f1df36c538e8416784a1672e6676",
    ),
    (
        Enctype::Aes128CtsHmacSha196,
        "1",
        1,
        "98450e3f3baa13f5c99beb936981b06f",
        "f86742f537b35dc2174a4dbaa920faf9042090b065e1ebb1cad9a65394",
    ),
    (
        Enctype::Aes128CtsHmacSha196,
        "9 bytesss",
        2,
        "9062430c8cda3388922e6d6a509f5b7a",
        "68fb9679601f45c78857b2bf820fd6e53eca8d42fd4b1d7024a09205abb7cd2ec26c355d2f",
    ),
    (
        Enctype::Aes128CtsHmacSha196,
        "13 bytes byte",
        3,
        "033ee6502c54fd23e27791e987983827",
        "ec366d0327a933bf49330e650e49bc6b974637fe80bf532fe51795b4809718e6194724db948d1fd637",
    ),
    (
        Enctype::Aes128CtsHmacSha196,
        "30 bytes bytes bytes bytes byt",
        4,
        "dceeb70b3de76562e689226c76429148",
        "c96081032d5d8eeb7e32b4089f789d0faa481dea74c0f97cbf3146ddfcf8e800156ecb532fc203e30ff600b6\
         3b350939fece510f02d7ff1e7bac",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "",
        0,
        "17f275f2954f2ed1f90c377ba7f4d6a369aa0136e0bf0c927ad6133c693759a9",
        "e5094c55ee7b38262e2b044280b069379a95bf95bd8376fb3281b435",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "1",
        1,
        "b9477e1ff0329c0050e20ce6c72d2dff27e8fe541ab0954429a9cb5b4f7b1e2a",
        "406150b97aeb76d43b36b62cc1ecdfbe6f40e95755e0beb5c27825f3a4",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "9 bytesss",
        2,
        "b1ae4cd8462aff1677053cc9279aac30b796fb81ce21474dd3ddbcfea4ec76d7",
        "09957aa25fcaf88f7b39e4406e633012d5fea21853f6478da7065caef41fd454a40824eec5",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "13 bytes byte",
        3,
        "e5a72be9b7926c1225bafef9c1872e7ba4cdb2b17893d84abd90acdd8764d966",
        "d8f1aafeec84587cc3e700a774e56651a6d693e174ec4473b5e6d96f80297a653fb818ad893e719f96",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "30 bytes bytes bytes bytes byt",
        4,
        "f1c795e9248a09338d82c3f8d5b567040b0110736845041347235b1404231398",
        "d1137a4d634cfece924dbc3bf6790648bd5cff7de0e7b99460211d0daef3d79a295c688858f3b34b9cbd6eeb\
         ae81daf6b734d4d498b6714f1c1d",
    ),
    (
        Enctype::Rc4Hmac,
        "",
        0,
        "f81fec39255f5784e850c4377c88bd85",
        "02c1eb15586144122ec717763dd348bf00434ddc6585954c",
    ),
    (
        Enctype::Rc4Hmac,
        "1",
        1,
        "67d1300d281223867f9647ff48721273",
        "6156e0cc04e0a0874f9fda008f498a7adbbc80b70b14dddbc0",
    ),
    (
        Enctype::Rc4Hmac,
        "9 bytesss",
        2,
        "3e40ab6093695281b3ac1a9304224d98",
        "0f9ad121d99d4a09448e4f1f718c4f5cbe6096262c66f29df232a87c9f98755d55",
    ),
    (
        Enctype::Rc4Hmac,
        "13 bytes byte",
        3,
        "4ba2fbf0379faed87a254d3b353d5a7e",
        "612c57568b17a70352bae8cf26fb9459a6f3353cd35fd439db3107cbec765d326dfc04c1dd",
    ),
    (
        Enctype::Rc4Hmac,
        "30 bytes bytes bytes bytes byt",
        4,
        "68f263db3fce15d031c9eab02d67107a",
        "95f9047c3ad75891c2e9b04b16566dc8b6eb9ce4231afb2542ef87a7b5a0f260a99f0460508de0cecc632d07\
         c354124e46c5d2234eb8",
    ),
];

#[test]
fn decrypts_mit_t_decrypt_vectors() {
    for (enctype, plaintext, usage, key, ciphertext) in MIT_T_DECRYPT {
        let keys = usage_key(*enctype, key, *usage);
        let decrypted = keys.decrypt(&unhex(ciphertext));
        assert_eq!(
            decrypted,
            Ok(plaintext.as_bytes().to_vec()),
            "{enctype} {plaintext:?}"
        );
    }
}

#[test]
fn encrypts_mit_t_decrypt_vectors_given_their_confounder() {
    for (enctype, plaintext, usage, key, ciphertext) in MIT_T_DECRYPT {
        let keys = usage_key(*enctype, key, *usage);
        assert_eq!(
            hex::encode(reencrypt_with_recovered_confounder(
                &keys,
                &unhex(ciphertext)
            )),
            *ciphertext,
            "{enctype} {plaintext:?}"
        );
    }
}

#[test]
fn rc4_as_rep_usage_is_message_type_8() {
    // MIT t_decrypt.c's rc4-hmac "13 bytes byte" vector uses usage 3, which RFC 4757 §3 and
    // MIT's krb5int_arcfour_translate_usage turn into T = 8: usage 8 must open it too, and
    // usage 7 must not.
    let (_, plaintext, _, key, ciphertext) = MIT_T_DECRYPT[13];
    assert_eq!(
        usage_key(Enctype::Rc4Hmac, key, 8).decrypt(&unhex(ciphertext)),
        Ok(plaintext.as_bytes().to_vec())
    );
    assert_eq!(
        usage_key(Enctype::Rc4Hmac, key, 7).decrypt(&unhex(ciphertext)),
        Err(CryptoError::IntegrityCheckFailed {
            enctype: Enctype::Rc4Hmac
        })
    );
}

/// MIT krb5 `src/lib/crypto/crypto_tests/t_cksums.c` (krb5/krb5, commit 01f30a7f), the
/// `CKSUMTYPE_HMAC_SHA1_96_AES128`, `CKSUMTYPE_HMAC_SHA1_96_AES256` and
/// `CKSUMTYPE_HMAC_MD5_ARCFOUR` (-138) cases: (enctype, plaintext, usage, key, checksum).
const MIT_T_CKSUMS: &[(Enctype, &str, u32, &str, &str)] = &[
    (
        Enctype::Aes128CtsHmacSha196,
        "eight nine ten eleven twelve thirteen",
        3,
        "9062430c8cda3388922e6d6a509f5b7a",
        "01a4b088d45628f6946614e3",
    ),
    (
        Enctype::Aes256CtsHmacSha196,
        "fourteen",
        4,
        "b1ae4cd8462aff1677053cc9279aac30b796fb81ce21474dd3ddbcfea4ec76d7",
        "e08739e3279e2903ec8e3836",
    ),
    (
        Enctype::Rc4Hmac,
        "seventeen eighteen nineteen twenty",
        6,
        "f7d3a155af5e238a0b7a871a96ba2ab2",
        "eb38cc97e2230f59da4117dc5859d7ec",
    ),
];

#[test]
fn checksums_match_mit_t_cksums_vectors() {
    for (enctype, plaintext, usage, key, checksum) in MIT_T_CKSUMS {
        let keys = usage_key(*enctype, key, *usage);
        assert_eq!(hex::encode(keys.checksum(plaintext.as_bytes())), *checksum);
        assert_eq!(
            keys.verify_checksum(plaintext.as_bytes(), &unhex(checksum)),
            Ok(())
        );
    }
}

#[test]
fn verify_checksum_rejects_other_data_and_wrong_lengths() {
    for (enctype, plaintext, usage, key, checksum) in MIT_T_CKSUMS {
        let keys = usage_key(*enctype, key, *usage);
        let mut data = plaintext.as_bytes().to_vec();
        data[0] ^= 1;
        assert_eq!(
            keys.verify_checksum(&data, &unhex(checksum)),
            Err(CryptoError::ChecksumMismatch { enctype: *enctype })
        );
        let mut truncated = unhex(checksum);
        truncated.pop();
        assert_eq!(
            keys.verify_checksum(plaintext.as_bytes(), &truncated),
            Err(CryptoError::ChecksumLength {
                enctype: *enctype,
                expected: enctype.checksum_len(),
                got: enctype.checksum_len() - 1,
            })
        );
    }
}

#[test]
fn wrong_usage_fails_the_integrity_check() {
    for (enctype, _, usage, key, ciphertext) in MIT_T_DECRYPT {
        let keys = usage_key(*enctype, key, usage + 100);
        assert_eq!(
            keys.decrypt(&unhex(ciphertext)),
            Err(CryptoError::IntegrityCheckFailed { enctype: *enctype })
        );
    }
}

#[test]
fn short_ciphertexts_are_rejected_before_decryption() {
    for enctype in Enctype::ALL {
        let keys = Key::random(enctype, &[7; MAX_KEY_LEN])
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
            .expect("derivation of a valid key");
        let min = enctype.min_ciphertext_len();
        for len in 0..min {
            assert_eq!(
                keys.decrypt(&vec![0; len]),
                Err(CryptoError::CiphertextTooShort { enctype, len, min }),
                "{enctype} {len}"
            );
        }
        assert_eq!(
            keys.decrypt(&vec![0; min]),
            Err(CryptoError::IntegrityCheckFailed { enctype })
        );
    }
}

#[test]
fn enctype_numbers_names_and_sizes() {
    let table = [
        (18, "aes256-cts-hmac-sha1-96", "aes256", 32, 16, 16, 12, 28),
        (17, "aes128-cts-hmac-sha1-96", "aes128", 16, 16, 15, 12, 28),
        (23, "rc4-hmac", "rc4-hmac", 16, 8, -138, 16, 24),
    ];
    for (enctype, row) in Enctype::ALL.into_iter().zip(table) {
        let (etype, name, short, key_len, conf_len, cksumtype, cksum_len, min) = row;
        assert_eq!(Enctype::try_from(etype), Ok(enctype));
        assert_eq!(i32::from(enctype), etype);
        assert_eq!(enctype.name(), name);
        assert_eq!(enctype.to_string(), name);
        assert_eq!(enctype.short_name(), short);
        assert_eq!(enctype.key_len(), key_len);
        assert_eq!(enctype.confounder_len(), conf_len);
        assert_eq!(enctype.checksum_type(), cksumtype);
        assert_eq!(enctype.checksum_len(), cksum_len);
        assert_eq!(enctype.min_ciphertext_len(), min);
        assert_eq!(enctype.ciphertext_len(100), Some(100 + min));
        assert_eq!(enctype.ciphertext_len(usize::MAX), None);
    }
    let kvno_list: Vec<_> = Enctype::ALL.iter().map(|e| e.short_name()).collect();
    assert_eq!(kvno_list.join(", "), "aes256, aes128, rc4-hmac");
}

#[test]
fn unsupported_enctypes_are_named_by_number() {
    // DES (1, 3), des3 (16), rc4-hmac-exp (24), aes-sha2 (19, 20), and garbage.
    for etype in [0, 1, 3, 16, 19, 20, 24, -128, i32::MAX] {
        let err = Enctype::try_from(etype).expect_err("not supported");
        assert_eq!(err, CryptoError::UnsupportedEnctype { etype });
        assert_eq!(
            err.to_string(),
            format!("unsupported encryption type {etype}")
        );
        assert_eq!(err.reason(), "unsupported_enctype");
    }
}

#[test]
fn key_length_is_checked() {
    for enctype in Enctype::ALL {
        for len in [0, 1, 15, 17, 24, 31, 33, 64] {
            if len == enctype.key_len() {
                continue;
            }
            assert_eq!(
                Key::from_bytes(enctype, &vec![0; len]).map(|key| key.enctype()),
                Err(CryptoError::KeyLength {
                    enctype,
                    expected: enctype.key_len(),
                    got: len,
                })
            );
        }
        let key = Key::from_bytes(enctype, &vec![0xab; enctype.key_len()]).expect("right length");
        assert_eq!(key.as_bytes(), vec![0xab; enctype.key_len()].as_slice());
    }
    assert_eq!(
        CryptoError::KeyLength {
            enctype: Enctype::Aes256CtsHmacSha196,
            expected: 32,
            got: 16,
        }
        .to_string(),
        "aes256-cts-hmac-sha1-96 key must be 32 bytes, got 16"
    );
}

#[test]
fn random_key_takes_the_prefix_of_the_rng_bytes() {
    let mut rng_bytes = [0u8; MAX_KEY_LEN];
    rng_bytes
        .iter_mut()
        .zip(1u8..)
        .for_each(|(byte, n)| *byte = n);
    for enctype in Enctype::ALL {
        let key = Key::random(enctype, &rng_bytes);
        assert_eq!(key.enctype(), enctype);
        assert_eq!(key.as_bytes(), &rng_bytes[..enctype.key_len()]);
    }
}

#[test]
fn debug_output_redacts_key_material() {
    let key = Key::from_bytes(Enctype::Rc4Hmac, &[0x5a; 16]).expect("16 bytes");
    assert_eq!(
        format!("{key:?}"),
        "Key { enctype: Rc4Hmac, bytes: [redacted] }"
    );
    let keys = key.usage_key(KeyUsage::KDC_REP_TICKET).expect("valid key");
    assert_eq!(
        format!("{keys:?}"),
        "UsageKey { enctype: Rc4Hmac, usage: KeyUsage(2), keys: [redacted] }"
    );
    assert_eq!(keys.enctype(), Enctype::Rc4Hmac);
    assert_eq!(keys.usage(), KeyUsage::KDC_REP_TICKET);
}

#[test]
fn encrypt_uses_only_the_enctypes_confounder_length() {
    let mut confounder = [0x11; MAX_CONFOUNDER_LEN];
    for enctype in Enctype::ALL {
        let keys = Key::random(enctype, &[3; MAX_KEY_LEN])
            .usage_key(KeyUsage::AP_REP_ENC_PART)
            .expect("valid key");
        let first = keys.encrypt(b"ap-rep", &confounder);
        assert_eq!(Some(first.len()), enctype.ciphertext_len(6));
        // Bytes past confounder_len() do not change the output.
        let used = enctype.confounder_len();
        confounder[used..].fill(0x22);
        assert_eq!(keys.encrypt(b"ap-rep", &confounder), first);
        confounder.fill(0x11);
        assert_eq!(keys.decrypt(&first), Ok(b"ap-rep".to_vec()));
    }
}

fn picky_cipher(enctype: Enctype) -> Box<dyn picky_krb::crypto::Cipher> {
    match enctype {
        Enctype::Aes128CtsHmacSha196 => CipherSuite::Aes128CtsHmacSha196.cipher(),
        _ => CipherSuite::Aes256CtsHmacSha196.cipher(),
    }
}

fn aes_enctype() -> impl Strategy<Value = Enctype> {
    prop_oneof![
        Just(Enctype::Aes128CtsHmacSha196),
        Just(Enctype::Aes256CtsHmacSha196),
    ]
}

fn any_enctype() -> impl Strategy<Value = Enctype> {
    prop_oneof![
        Just(Enctype::Aes256CtsHmacSha196),
        Just(Enctype::Aes128CtsHmacSha196),
        Just(Enctype::Rc4Hmac),
    ]
}

proptest! {
    #[test]
    fn aes_agrees_with_picky_krb(
        enctype in aes_enctype(),
        key_bytes in any::<[u8; MAX_KEY_LEN]>(),
        usage in 0i32..=i32::MAX,
        plaintext in proptest::collection::vec(any::<u8>(), 0..200),
        confounder in any::<[u8; MAX_CONFOUNDER_LEN]>(),
    ) {
        let key = Key::random(enctype, &key_bytes);
        let keys = key.usage_key(KeyUsage::new(usage.unsigned_abs())).expect("valid key");
        let picky = picky_cipher(enctype);

        // Ours → picky.
        let ours = keys.encrypt(&plaintext, &confounder);
        let opened = picky.decrypt(key.as_bytes(), usage, &ours).expect("picky decrypts ours");
        prop_assert_eq!(&opened, &plaintext);

        // Picky (its own random confounder) → ours.
        let theirs = picky.encrypt(key.as_bytes(), usage, &plaintext).expect("picky encrypts");
        prop_assert_eq!(keys.decrypt(&theirs), Ok(plaintext.clone()));

        // Keyed checksums: Kc = DK(key, usage | 0x99), HMAC-SHA1-96.
        let size = if enctype == Enctype::Aes128CtsHmacSha196 {
            AesSize::Aes128
        } else {
            AesSize::Aes256
        };
        let suite = if enctype == Enctype::Aes128CtsHmacSha196 {
            ChecksumSuite::HmacSha196Aes128
        } else {
            ChecksumSuite::HmacSha196Aes256
        };
        let checksum = keys.checksum(&plaintext);
        prop_assert_eq!(
            &checksum,
            &checksum_sha_aes(key.as_bytes(), usage, &plaintext, &size).expect("valid key")
        );
        prop_assert_eq!(
            &checksum,
            &suite.hasher().checksum(key.as_bytes(), usage, &plaintext).expect("valid key")
        );
    }

    #[test]
    fn round_trips(
        enctype in any_enctype(),
        key_bytes in any::<[u8; MAX_KEY_LEN]>(),
        usage in any::<u32>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..300),
        confounder in any::<[u8; MAX_CONFOUNDER_LEN]>(),
    ) {
        let keys = Key::random(enctype, &key_bytes)
            .usage_key(KeyUsage::new(usage))
            .expect("valid key");
        let ciphertext = keys.encrypt(&plaintext, &confounder);
        prop_assert_eq!(Some(ciphertext.len()), enctype.ciphertext_len(plaintext.len()));
        prop_assert_eq!(keys.decrypt(&ciphertext), Ok(plaintext.clone()));
        let checksum = keys.checksum(&plaintext);
        prop_assert_eq!(checksum.len(), enctype.checksum_len());
        prop_assert_eq!(keys.verify_checksum(&plaintext, &checksum), Ok(()));
    }

    #[test]
    fn any_flipped_bit_fails_the_integrity_check(
        enctype in any_enctype(),
        key_bytes in any::<[u8; MAX_KEY_LEN]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..100),
        confounder in any::<[u8; MAX_CONFOUNDER_LEN]>(),
        position in any::<proptest::sample::Index>(),
        bit in 0u8..8,
    ) {
        let keys = Key::random(enctype, &key_bytes)
            .usage_key(KeyUsage::AP_REQ_AUTHENTICATOR)
            .expect("valid key");
        let mut ciphertext = keys.encrypt(&plaintext, &confounder);
        let index = position.index(ciphertext.len());
        ciphertext[index] ^= 1 << bit;
        prop_assert_eq!(
            keys.decrypt(&ciphertext),
            Err(CryptoError::IntegrityCheckFailed { enctype })
        );
    }

    #[test]
    fn truncated_ciphertexts_are_rejected(
        enctype in any_enctype(),
        key_bytes in any::<[u8; MAX_KEY_LEN]>(),
        plaintext in proptest::collection::vec(any::<u8>(), 0..100),
        confounder in any::<[u8; MAX_CONFOUNDER_LEN]>(),
        cut in any::<proptest::sample::Index>(),
    ) {
        let keys = Key::random(enctype, &key_bytes)
            .usage_key(KeyUsage::AP_REP_ENC_PART)
            .expect("valid key");
        let ciphertext = keys.encrypt(&plaintext, &confounder);
        let len = cut.index(ciphertext.len());
        let min = enctype.min_ciphertext_len();
        let expected = if len < min {
            CryptoError::CiphertextTooShort { enctype, len, min }
        } else {
            CryptoError::IntegrityCheckFailed { enctype }
        };
        prop_assert_eq!(keys.decrypt(&ciphertext[..len]), Err(expected));
    }

    #[test]
    fn decrypt_never_panics_on_garbage(
        enctype in any_enctype(),
        garbage in proptest::collection::vec(any::<u8>(), 0..100),
    ) {
        let keys = Key::random(enctype, &[9; MAX_KEY_LEN])
            .usage_key(KeyUsage::KDC_REP_TICKET)
            .expect("valid key");
        let result = keys.decrypt(&garbage);
        let min = enctype.min_ciphertext_len();
        let expected = if garbage.len() < min {
            CryptoError::CiphertextTooShort { enctype, len: garbage.len(), min }
        } else {
            CryptoError::IntegrityCheckFailed { enctype }
        };
        prop_assert_eq!(result, Err(expected));
    }
}
