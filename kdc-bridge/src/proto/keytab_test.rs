use proptest::prelude::*;

use super::*;

fn key(enctype: Enctype, fill: u8) -> Key {
    Key::from_bytes(enctype, &vec![fill; enctype.key_len()]).unwrap()
}

fn sample() -> Keytab {
    let gw = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
    Keytab {
        entries: vec![
            KeytabEntry::new(
                gw.clone(),
                2,
                key(Enctype::Aes256CtsHmacSha196, 0x11),
                1_700_000_000,
            ),
            KeytabEntry::new(
                gw.clone(),
                2,
                key(Enctype::Aes128CtsHmacSha196, 0x22),
                1_700_000_000,
            ),
            KeytabEntry::new(gw, 300, key(Enctype::Rc4Hmac, 0x33), 1_700_000_001),
        ],
    }
}

fn summary(kt: &Keytab) -> Vec<(String, u32, i32, Vec<u8>, u32)> {
    kt.entries
        .iter()
        .map(|e| {
            let bytes = e
                .key
                .as_ref()
                .map(|k| k.as_bytes().to_vec())
                .unwrap_or_else(|| e.unsupported_key.clone());
            (e.principal.to_string(), e.kvno, e.etype, bytes, e.timestamp)
        })
        .collect()
}

#[test]
fn round_trips() {
    let kt = sample();
    let bytes = kt.build();
    assert_eq!(&bytes[..2], &[0x05, 0x02]);
    let back = Keytab::extract(&bytes).unwrap();
    assert_eq!(summary(&back), summary(&kt));
    assert_eq!(back.build(), bytes);
    // kvno 300 does not fit vno8: the 32-bit field carries it.
    assert_eq!(back.entries[2].kvno, 300);
    assert_eq!(
        back.entries[0].principal.name_type(),
        crate::proto::principal::NT_SRV_HST
    );
}

/// A version 0x501 entry, built by hand from the format description: little-endian, the
/// component count includes the realm, no name type, no 32-bit kvno.
#[test]
fn reads_version_0x501() {
    let mut entry = Vec::new();
    entry.extend_from_slice(&3u16.to_le_bytes()); // realm + 2 components
    for s in ["CORP.TEST", "HTTP", "gw.corp.test"] {
        entry.extend_from_slice(&(s.len() as u16).to_le_bytes());
        entry.extend_from_slice(s.as_bytes());
    }
    entry.extend_from_slice(&7u32.to_le_bytes()); // timestamp
    entry.push(5); // vno8
    entry.extend_from_slice(&23u16.to_le_bytes()); // rc4-hmac
    entry.extend_from_slice(&16u16.to_le_bytes());
    entry.extend_from_slice(&[0xab; 16]);
    let mut file = vec![0x05, 0x01];
    file.extend_from_slice(&(entry.len() as u32).to_le_bytes());
    file.extend_from_slice(&entry);

    let kt = Keytab::extract(&file).unwrap();
    assert_eq!(kt.entries.len(), 1);
    let e = &kt.entries[0];
    assert_eq!(e.principal.to_string(), "HTTP/gw.corp.test@CORP.TEST");
    assert_eq!((e.kvno, e.etype, e.timestamp), (5, 23, 7));
    assert_eq!(e.key.as_ref().unwrap().as_bytes(), &[0xab; 16]);
}

#[test]
fn skips_holes_and_stops_at_zero_size() {
    let one = sample().build();
    let mut file = one[..2].to_vec();
    file.extend_from_slice(&(-5i32).to_be_bytes());
    file.extend_from_slice(&[0xee; 5]);
    file.extend_from_slice(&one[2..]);
    file.extend_from_slice(&0u32.to_be_bytes());
    file.extend_from_slice(&[0xff; 3]); // garbage after the end marker is ignored
    assert_eq!(
        summary(&Keytab::extract(&file).unwrap()),
        summary(&sample())
    );
}

#[test]
fn keeps_unsupported_enctypes_verbatim() {
    let mut bytes = sample().build();
    // Turn the first entry's enctype (18) into des-cbc-md5 (3): same offset in every entry.
    let pos = 2 + 4 + 2 + (2 + 9) + (2 + 4) + (2 + 12) + 4 + 4 + 1;
    assert_eq!(&bytes[pos..pos + 2], &[0x00, 18]);
    bytes[pos + 1] = 3;
    let kt = Keytab::extract(&bytes).unwrap();
    assert_eq!(kt.entries[0].etype, 3);
    assert!(kt.entries[0].key.is_none());
    assert_eq!(kt.build(), bytes);
}

fn err(bytes: &[u8]) -> KeytabError {
    Keytab::extract(bytes).unwrap_err()
}

#[test]
fn rejects_bad_files() {
    assert_eq!(err(&[]), KeytabError::BadVersion { got: vec![] });
    assert_eq!(
        err(&[0x05, 0x03]),
        KeytabError::BadVersion { got: vec![5, 3] }
    );
    let bytes = sample().build();
    assert_eq!(
        err(&bytes[..bytes.len() - 1]),
        KeytabError::Truncated { offset: 158 }
    );
    assert_eq!(err(&bytes[..4]), KeytabError::Truncated { offset: 2 });

    // An rc4 entry relabelled aes256: a 16-octet key for a 32-octet enctype.
    let gw = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
    let mut short = Keytab {
        entries: vec![KeytabEntry::new(gw, 1, key(Enctype::Rc4Hmac, 1), 0)],
    }
    .build();
    let pos = short.len() - 4 - 16 - 2 - 2;
    short[pos + 1] = 18;
    assert_eq!(
        err(&short),
        KeytabError::KeyLength {
            offset: 2,
            enctype: "aes256-cts-hmac-sha1-96",
            expected: 32,
            got: 16
        }
    );
}

proptest! {
    #[test]
    fn random_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut file = vec![0x05, 0x02];
        file.extend(data);
        let _ = Keytab::extract(&file);
    }

    #[test]
    fn truncations_and_flips_never_panic(cut in 0usize..200, pos in 0usize..200, bit in 0u8..8) {
        let mut bytes = sample().build();
        let pos = pos % bytes.len();
        bytes[pos] ^= 1 << bit;
        bytes.truncate(cut.min(bytes.len()));
        let _ = Keytab::extract(&bytes);
    }
}
