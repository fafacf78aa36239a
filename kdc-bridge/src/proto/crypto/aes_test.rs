use ::aes::cipher::{BlockCipherDecrypt, KeyInit};
use ::aes::{Aes128, Aes256, Block};
use picky_krb::crypto::aes::{derive_key, derive_key_from_password, AesSize};
use proptest::prelude::*;

use super::{cts_decrypt, cts_encrypt, dk, folded_constants, n_fold, BLOCK_LEN};

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.replace([' ', '\n'], "")).expect("test vector is hex")
}

fn cts_decrypt_vec<C>(cipher: &C, input: &[u8]) -> Vec<u8>
where
    C: BlockCipherDecrypt + ::aes::cipher::BlockSizeUser<BlockSize = ::aes::cipher::consts::U16>,
{
    let mut head = Block::default();
    let mut tail = vec![0; input.len() - BLOCK_LEN];
    cts_decrypt(cipher, input, &mut head, &mut tail).expect("at least one block");
    [head.as_slice(), &tail].concat()
}

/// RFC 3962 Appendix B, "Some test vectors for CBC with ciphertext stealing, using an
/// initial vector of all-zero", AES 128-bit key `636869636b656e207465726979616b69`
/// ("chicken teriyaki"). (input, output) pairs; the 64-byte input is "I would like the
/// General Gau's Chicken, please, and wonton soup."
const RFC3962_CTS: &[(&str, &str)] = &[
    (
        "4920776f756c64206c696b652074686520",
        "c6353568f2bf8cb4d8a580362da7ff7f97",
    ),
    (
        "4920776f756c64206c696b65207468652047656e6572616c20476175277320",
        "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5",
    ),
    (
        "4920776f756c64206c696b65207468652047656e6572616c2047617527732043",
        "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584",
    ),
    (
        "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c\
         20706c656173652c",
        "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5\
         be7fcbcc98ebf5",
    ),
    (
        "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c\
         20706c656173652c20",
        "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5\
         be7fcbcc98ebf5a8",
    ),
    (
        "4920776f756c64206c696b65207468652047656e6572616c20476175277320436869636b656e2c\
         20706c656173652c20616e6420776f6e746f6e20736f75702e",
        "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a84807efe836ee89a5\
         26730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
    ),
];

#[test]
fn cts_matches_rfc3962_appendix_b() {
    let cipher =
        Aes128::new_from_slice(&unhex("636869636b656e207465726979616b69")).expect("16-byte key");
    for (input, output) in RFC3962_CTS {
        let (input, output) = (unhex(input), unhex(output));
        let mut buf = input.clone();
        assert_eq!(cts_encrypt(&cipher, &mut buf), Some(()));
        assert_eq!(buf, output, "encrypt {} bytes", input.len());
        assert_eq!(
            cts_decrypt_vec(&cipher, &output),
            input,
            "decrypt {} bytes",
            input.len()
        );
    }
}

#[test]
fn cts_one_block_is_plain_aes() {
    // RFC 3962 §5: "If exactly one block is to be encrypted, that block is simply encrypted
    // with AES (also known as ECB mode)." Checked against the first output block of the
    // 32-byte Appendix B vector, which is E(K, P_1) before the swap moves it last.
    let cipher =
        Aes128::new_from_slice(&unhex("636869636b656e207465726979616b69")).expect("16-byte key");
    let mut block = unhex("4920776f756c64206c696b6520746865");
    assert_eq!(cts_encrypt(&cipher, &mut block), Some(()));
    assert_eq!(block, unhex("97687268d6ecccc0c07b25e25ecfe584"));
    assert_eq!(
        cts_decrypt_vec(&cipher, &block),
        unhex("4920776f756c64206c696b6520746865")
    );
}

#[test]
fn cts_rejects_less_than_one_block() {
    let cipher = Aes128::new_from_slice(&[0; 16]).expect("16-byte key");
    let mut short = [0u8; 15];
    assert_eq!(cts_encrypt(&cipher, &mut short), None);
    assert_eq!(short, [0; 15]);
    let mut head = Block::default();
    assert_eq!(cts_decrypt(&cipher, &[0; 15], &mut head, &mut []), None);
    // A tail of the wrong length is refused rather than partly written.
    assert_eq!(cts_decrypt(&cipher, &[0; 20], &mut head, &mut [0; 3]), None);
}

/// RFC 3962 Appendix B string-to-key vectors: (128-bit PBKDF2 output, 128-bit AES key,
/// 256-bit PBKDF2 output, 256-bit AES key). Their iteration counts are 1, 2, 1200, 5, 1200,
/// 1200 and 50; picky-krb's `derive_key_from_password` hardcodes the default 4096, so these
/// check `key = DK(tkey, "kerberos")` ([RFC 3962 §4]) on the published PBKDF2 output.
const RFC3962_S2K: &[(&str, &str, &str, &str)] = &[
    // Iteration count = 1, "password", "ATHENA.MIT.EDUraeburn".
    (
        "cdedb5281bb2f801565a1122b2563515",
        "42263c6e89f4fc28b8df68ee09799f15",
        "cdedb5281bb2f801565a1122b25635150ad1f7a04bb9f3a333ecc0e2e1f70837",
        "fe697b52bc0d3ce14432ba036a92e65bbb52280990a2fa27883998d72af30161",
    ),
    // Iteration count = 2.
    (
        "01dbee7f4a9e243e988b62c73cda935d",
        "c651bf29e2300ac27fa469d693bdda13",
        "01dbee7f4a9e243e988b62c73cda935da05378b93244ec8f48a99e61ad799d86",
        "a2e16d16b36069c135d5e9d2e25f896102685618b95914b467c67622225824ff",
    ),
    // Iteration count = 1200.
    (
        "5c08eb61fdf71e4e4ec3cf6ba1f5512b",
        "4c01cd46d632d01e6dbe230a01ed642a",
        "5c08eb61fdf71e4e4ec3cf6ba1f5512ba7e52ddbc5e5142f708a31e2e62b1e13",
        "55a6ac740ad17b4846941051e1e8b0a7548d93b0ab30a8bc3ff16280382b8c2a",
    ),
    // Iteration count = 5, salt 0x1234567878563412.
    (
        "d1daa78615f287e6a1c8b120d7062a49",
        "e9b23d52273747dd5c35cb55be619d8e",
        "d1daa78615f287e6a1c8b120d7062a493f98d203e6be49a6adf4fa574b6e64ee",
        "97a4e786be20d81a382d5ebc96d5909cabcdadc87ca48f574504159f16c36e31",
    ),
    // Iteration count = 1200, 64 x "X", "pass phrase equals block size".
    (
        "139c30c0966bc32ba55fdbf212530ac9",
        "59d1bb789a828b1aa54ef9c2883f69ed",
        "139c30c0966bc32ba55fdbf212530ac9c5ec59f1a452f5cc9ad940fea0598ed1",
        "89adee3608db8bc71f1bfbfe459486b05618b70cbae22092534e56c553ba4b34",
    ),
    // Iteration count = 1200, 65 x "X", "pass phrase exceeds block size".
    (
        "9ccad6d468770cd51b10e6a68721be61",
        "cb8005dc5f90179a7f02104c0018751d",
        "9ccad6d468770cd51b10e6a68721be611a8b4d282601db3b36be9246915ec82a",
        "d78c5c9cb872a8c9dad4697f0bb5b2d21496c82beb2caeda2112fceea057401b",
    ),
    // Iteration count = 50, g-clef (0xf09d849e), "EXAMPLE.COMpianist".
    (
        "6b9cf26d45455a43a5b8bb276a403b39",
        "f149c1f2e154a73452d43e7fe62a56e5",
        "6b9cf26d45455a43a5b8bb276a403b39e7fe37a0c41e02c281ff3069e1e94f52",
        "4b6d9839f84406df1f09cc166db4b83c571848b784a3d6bdc346589a3e393f9e",
    ),
];

/// Our DK, given the base key's cipher.
fn our_dk(key: &[u8], constant: &[u8]) -> Vec<u8> {
    let mut folded = Block::default();
    n_fold(constant, &mut folded);
    let mut out = vec![0; key.len()];
    match key.len() {
        16 => dk(
            &Aes128::new_from_slice(key).expect("16 bytes"),
            folded,
            &mut out,
        ),
        _ => dk(
            &Aes256::new_from_slice(key).expect("32 bytes"),
            folded,
            &mut out,
        ),
    }
    out
}

#[test]
fn dk_kerberos_matches_rfc3962_appendix_b() {
    for (tkey128, key128, tkey256, key256) in RFC3962_S2K {
        assert_eq!(hex::encode(our_dk(&unhex(tkey128), b"kerberos")), *key128);
        assert_eq!(hex::encode(our_dk(&unhex(tkey256), b"kerberos")), *key256);
        // picky-krb's derive_key, the oracle of the cross-checks, agrees.
        let picky128 = derive_key(&unhex(tkey128), b"kerberos", &AesSize::Aes128);
        assert_eq!(hex::encode(picky128.expect("16-byte key")), *key128);
        let picky256 = derive_key(&unhex(tkey256), b"kerberos", &AesSize::Aes256);
        assert_eq!(hex::encode(picky256.expect("32-byte key")), *key256);
    }
}

#[test]
fn string_to_key_uses_pbkdf2_sha1_with_4096_iterations() {
    // Neither RFC 3962 nor MIT's t_str2key.c publishes a 4096-iteration AES vector, so this
    // composes two published ones: RFC 6070 §2 PBKDF2-HMAC-SHA1 with c = 4096 (the first 16
    // bytes of the dkLen = 20 and 25 outputs, and the dkLen = 16 one), then DK(tkey,
    // "kerberos") checked above against RFC 3962 Appendix B.
    let rfc6070: &[(&[u8], &[u8], &str)] = &[
        (b"password", b"salt", "4b007901b765489abead49d926f721d0"),
        (
            b"passwordPASSWORDpassword",
            b"saltSALTsaltSALTsaltSALTsaltSALTsalt",
            "3d2eec4fe41c849b80c8d83662c0e44a",
        ),
        (b"pass\0word", b"sa\0lt", "56fa6aa75548099dcc37d7f03425e0c3"),
    ];
    for (password, salt, tkey) in rfc6070 {
        let expected =
            derive_key(&unhex(tkey), b"kerberos", &AesSize::Aes128).expect("16-byte key");
        let key = derive_key_from_password(password, salt, &AesSize::Aes128).expect("any password");
        assert_eq!(key, expected);
    }
}

/// RFC 3961 Appendix A.1, n-fold: (n in bits, input, output).
const RFC3961_NFOLD: &[(usize, &[u8], &str)] = &[
    (64, b"012345", "be072631276b1955"),
    (56, b"password", "78a07b6caf85fa"),
    (64, b"Rough Consensus, and Running Code", "bb6ed30870b7f0e0"),
    (
        168,
        b"password",
        "59e4a8ca7c0385c3c37b3f6d2000247cb6e6bd5b3e",
    ),
    (
        192,
        b"MASSACHVSETTS INSTITVTE OF TECHNOLOGY",
        "db3b0d8f0b061e603282b308a50841229ad798fab9540c1b",
    ),
    (168, b"Q", "518a54a215a8452a518a54a215a8452a518a54a215"),
    (168, b"ba", "fb25d531ae8974499f52fd92ea9857c4ba24cf297e"),
    (64, b"kerberos", "6b65726265726f73"),
    (128, b"kerberos", "6b65726265726f737b9b5b2b93132b93"),
    (
        168,
        b"kerberos",
        "8372c236344e5f1550cd0747e15d62ca7a5a3bcea4",
    ),
    (
        256,
        b"kerberos",
        "6b65726265726f737b9b5b2b93132b935c9bdcdad95c9899c4cae4dee6d6cae4",
    ),
];

#[test]
fn nfold_matches_rfc3961_appendix_a1() {
    for (bits, input, output) in RFC3961_NFOLD {
        let mut out = vec![0xff; bits / 8];
        n_fold(input, &mut out);
        assert_eq!(hex::encode(out), *output, "{bits}-fold({input:?})");
    }
}

#[test]
fn nfold_of_nothing_is_zero() {
    let mut out = [0xff; 16];
    n_fold(&[], &mut out);
    assert_eq!(out, [0; 16]);
}

#[test]
fn picky_nfold_matches_rfc3961_appendix_a1() {
    // RFC 3961 Appendix A.1: 128-fold("kerberos") = 6b657262 65726f73 7b9b5b2b 93132b93.
    // picky-krb's n-fold is private; DK(K, c) starts with E(K, n-fold(c)) (RFC 3961 §5.1),
    // so decrypting the first block of its derive_key with K must give the published value.
    let nfold = unhex("6b65726265726f737b9b5b2b93132b93");
    let key128 = unhex("636869636b656e207465726979616b69");
    let derived = derive_key(&key128, b"kerberos", &AesSize::Aes128).expect("16-byte key");
    let mut block = Block::try_from(&derived[..16]).expect("one block");
    Aes128::new_from_slice(&key128)
        .expect("16-byte key")
        .decrypt_block(&mut block);
    assert_eq!(block.as_slice(), nfold.as_slice());

    // The same for a 256-bit key: the block size, not the key size, sets n.
    let key256 = [0x42; 32];
    let derived = derive_key(&key256, b"kerberos", &AesSize::Aes256).expect("32-byte key");
    let mut block = Block::try_from(&derived[..16]).expect("one block");
    Aes256::new_from_slice(&key256)
        .expect("32-byte key")
        .decrypt_block(&mut block);
    assert_eq!(block.as_slice(), nfold.as_slice());
}

#[test]
fn memoized_constants_match_a_fresh_fold() {
    for usage in [0, 2, 11, 12, 17, 31, 32, 1000, u32::MAX] {
        let [u0, u1, u2, u3] = usage.to_be_bytes();
        let fresh = [0xaa, 0x55, 0x99].map(|octet| {
            let mut folded = Block::default();
            n_fold(&[u0, u1, u2, u3, octet], &mut folded);
            folded
        });
        let usage = crate::proto::crypto::KeyUsage::new(usage);
        // Twice: the first call fills the memo, the second reads it.
        assert_eq!(folded_constants(usage), fresh);
        assert_eq!(folded_constants(usage), fresh);
    }
}

proptest! {
    #[test]
    fn dk_agrees_with_picky_derive_key(
        key in proptest::collection::vec(any::<u8>(), 32),
        aes256 in any::<bool>(),
        constant in proptest::collection::vec(any::<u8>(), 1..24),
    ) {
        let (key, size) = if aes256 {
            (&key[..], AesSize::Aes256)
        } else {
            (&key[..16], AesSize::Aes128)
        };
        let picky = derive_key(key, &constant, &size).expect("valid key length");
        prop_assert_eq!(our_dk(key, &constant), picky);
    }

    #[test]
    fn cts_round_trips_and_preserves_length(
        key in proptest::array::uniform16(any::<u8>()),
        data in proptest::collection::vec(any::<u8>(), BLOCK_LEN..200),
    ) {
        let cipher = Aes128::new_from_slice(&key).expect("16-byte key");
        let mut buf = data.clone();
        prop_assert_eq!(cts_encrypt(&cipher, &mut buf), Some(()));
        prop_assert_eq!(buf.len(), data.len());
        prop_assert_eq!(cts_decrypt_vec(&cipher, &buf), data);
    }
}
