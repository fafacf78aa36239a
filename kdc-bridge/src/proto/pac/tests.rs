//! Unit tests of the PAC as a whole: the MS-PAC §3 example, `find_pac`, the `PACTYPE` layout,
//! the signatures and the client check, with the exact error of each malformation. The
//! buffers have their own tests next to them, the builders and the proptests are in
//! `build_test.rs`, and the Samba captures are checked by `tests/pac_samba.rs`.

use super::build::{build_authorization_data, build_pac, sign_pac, signature_placeholder, PacSpec};
use super::test_support::*;
use super::*;
use crate::proto::crypto::{Enctype, Key, KeyUsage};

// --- The MS-PAC §3 example -------------------------------------------------------------------

#[test]
fn ms_pac_example_decodes_to_its_annotated_fields() {
    let bytes = ms_pac_example();
    let pac = Pac::extract(&bytes).expect("the spec's example parses");
    let layout: Vec<(u32, usize, usize)> = pac
        .buffers()
        .iter()
        .map(|b| (b.ul_type, b.offset, b.data.len()))
        .collect();
    assert_eq!(
        layout,
        [
            (1, 0x48, 0x4b0),
            (10, 0x4f8, 0x12),
            (6, 0x510, 0x14),
            (7, 0x528, 0x14)
        ]
    );

    let info = pac.logon_info();
    assert_eq!(info.logon_time, FileTime(0x01c6_6a65_0f66_86d1));
    assert_eq!(info.logoff_time, FileTime::NEVER);
    assert_eq!(info.kick_off_time, FileTime::NEVER);
    assert_eq!(info.password_last_set, FileTime(0x01c6_4a78_fe39_d417));
    assert_eq!(info.password_can_change, FileTime(0x01c6_4b42_28a3_9417));
    assert_eq!(info.password_must_change, FileTime(0x01c6_817a_9724_5417));
    assert_eq!(info.effective_name.as_str(), "lzhu");
    assert_eq!(info.full_name.as_str(), "Liqiang(Larry) Zhu");
    assert_eq!(info.logon_script.as_str(), "ntds2.bat");
    // Empty, but with a buffer: not NULL.
    assert_eq!(info.profile_path, UnicodeString::new(""));
    assert!(!info.profile_path.is_null());
    assert_eq!(info.home_directory, UnicodeString::new(""));
    assert_eq!(info.home_directory_drive, UnicodeString::new(""));
    assert_eq!((info.logon_count, info.bad_password_count), (4180, 0));
    assert_eq!((info.user_id, info.primary_group_id), (2_914_711, 513));
    assert_eq!(info.group_ids.len(), 26);
    assert_eq!(
        info.group_ids[0],
        GroupMembership {
            rid: 3_392_609,
            attributes: 7
        }
    );
    assert_eq!(info.group_ids[3].rid, 513);
    assert!(info.group_ids.iter().all(|g| g.attributes == 7));
    assert_eq!(info.user_flags, user_flags::EXTRA_SIDS);
    assert_eq!(info.user_session_key, [0; 16]);
    // Windows counts a terminator into MaximumLength here (24 for 11 characters).
    assert_eq!(
        info.logon_server,
        UnicodeString::new("NTDEV-DC-05").with_maximum_length(24)
    );
    assert_eq!(
        info.logon_domain_name,
        UnicodeString::new("NTDEV").with_maximum_length(12)
    );
    assert_eq!(
        info.logon_domain_id.to_string(),
        "S-1-5-21-397955417-626881126-188441444"
    );
    assert_eq!(info.user_account_control, 0x10);
    assert_eq!(info.extra_sids.len(), 13);
    assert_eq!(
        info.extra_sids[0],
        SidAndAttributes {
            sid: sid("S-1-5-21-773533881-1816936887-355810188-513"),
            attributes: 7
        }
    );
    // Domain-local groups of the user's own domain, flagged SE_GROUP_RESOURCE.
    assert_eq!(
        info.extra_sids[1],
        SidAndAttributes {
            sid: ntdev(3_101_812),
            attributes: 0x2000_0007
        }
    );
    assert_eq!(info.extra_sids[12].sid, ntdev(3_038_983));
    assert_eq!(info.resource_group_domain_sid, None);
    assert!(info.resource_group_ids.is_empty());

    let client = pac.client_info().expect("client info");
    assert_eq!(client.name, "lzhu");
    assert_eq!(client.client_id, FileTime(0x01c6_6a65_0ed9_4900));
    // 2006-04-28T01:42:50Z.
    assert_eq!(client.client_id.to_unix(), 1_146_188_570);
    assert_eq!(pac.check_client_info(&["lzhu"], 1_146_188_570), Ok(()));

    let server = pac.server_signature().expect("server signature");
    assert_eq!(server.signature_type, -138);
    assert_eq!(
        server.signature,
        hex::decode("41edce9a34815d3aef7bc98874805d25").unwrap()
    );
    assert_eq!(server.rodc_identifier, None);
    let kdc = pac.kdc_signature().expect("KDC signature");
    assert_eq!(kdc.signature_type, -138);
    assert_eq!(
        kdc.signature,
        hex::decode("f7a534dab2c02986efe0fbe5110a4f32").unwrap()
    );

    assert_eq!(pac.user_sid(), ntdev(2_914_711));
    assert_eq!(pac.primary_group_sid(), ntdev(513));
    assert_eq!(pac.account_name(), "lzhu");
    assert_eq!(pac.logon_domain_name(), "NTDEV");
    assert_eq!((pac.upn(), pac.dns_domain()), (None, None));
    // The primary group, the 26 GroupIds (513 among them, kept once), the 13 ExtraSids.
    let groups = pac.group_sids();
    assert_eq!(groups.len(), 1 + 25 + 13);
    assert_eq!(groups[0], ntdev(513));
    assert_eq!(groups[1], ntdev(3_392_609));
    assert_eq!(groups[25], ntdev(3_018_354));
    assert_eq!(
        groups[26],
        sid("S-1-5-21-773533881-1816936887-355810188-513")
    );
    assert_eq!(groups[38], ntdev(3_038_983));
}

#[test]
fn ms_pac_example_encodes_to_the_same_octets() {
    let bytes = ms_pac_example();
    let pac = Pac::extract(&bytes).unwrap();
    assert_eq!(pac.logon_info().build(), pac.buffer(1).unwrap().data);
    assert_eq!(
        pac.client_info().unwrap().build(),
        pac.buffer(10).unwrap().data
    );
    let buffers: Vec<(u32, &[u8])> = pac.buffers().iter().map(|b| (b.ul_type, b.data)).collect();
    assert_eq!(build_pac(&buffers), bytes);
}

#[test]
fn ms_pac_example_is_found_in_its_authorization_data() {
    let bytes = ms_pac_example();
    // The spec's dump starts with the AD-IF-RELEVANT contents: an AuthorizationData holding
    // one AD-WIN2K-PAC. Its first 22 octets, then the PAC.
    let mut if_relevant =
        hex::decode("30820552308205 4ea00402020080a182054404820540".replace(' ', "")).unwrap();
    if_relevant.extend_from_slice(&bytes);
    let ticket_ad = crate::proto::krb::build::build_authorization_data(&[(1, &if_relevant)]);
    assert_eq!(find_pac(&ticket_ad), Ok(Some(&bytes[..])));
    assert_eq!(build_authorization_data(&bytes), ticket_ad);
    // The bare AD-IF-RELEVANT contents have no AD-IF-RELEVANT inside: no PAC there.
    assert_eq!(find_pac(&if_relevant), Ok(None));
}

// --- find_pac ---------------------------------------------------------------------------------

#[test]
fn find_pac_searches_every_if_relevant_and_only_them() {
    use crate::proto::krb::build::build_authorization_data as ad;
    let pac = b"pac octets";
    let other = ad(&[(141, b"restrictions")]);
    let with_pac = ad(&[(ad_type::WIN2K_PAC, pac)]);
    assert_eq!(find_pac(&ad(&[])), Ok(None));
    assert_eq!(
        find_pac(&ad(&[(1, &other), (1, &with_pac)])),
        Ok(Some(&pac[..]))
    );
    // At the top level an AD-WIN2K-PAC is not where MS-KILE puts the PAC.
    assert_eq!(find_pac(&ad(&[(ad_type::WIN2K_PAC, pac)])), Ok(None));
    assert_eq!(
        find_pac(&ad(&[(1, &with_pac), (1, &with_pac)])),
        Err(PacError::MultiplePacs)
    );
    let two_in_one = ad(&[(ad_type::WIN2K_PAC, pac), (ad_type::WIN2K_PAC, pac)]);
    assert_eq!(
        find_pac(&ad(&[(1, &two_in_one)])),
        Err(PacError::MultiplePacs)
    );
}

#[test]
fn find_pac_rejects_bad_der() {
    use crate::proto::krb::build::build_authorization_data as ad;
    let bad_outer = PacError::BadAuthorizationData {
        what: "AuthorizationData",
    };
    let bad_inner = PacError::BadAuthorizationData {
        what: "AD-IF-RELEVANT",
    };
    assert_eq!(find_pac(&[]), Err(bad_outer.clone()));
    assert_eq!(find_pac(&[0x30, 0x00, 0x00]), Err(bad_outer.clone()));
    assert_eq!(find_pac(&[0x31, 0x00]), Err(bad_outer.clone()));
    assert_eq!(find_pac(&[0x30, 0x02, 0x30, 0x00]), Err(bad_outer.clone()));
    let mut truncated = ad(&[(1, &ad(&[(128, b"x")]))]);
    truncated.pop();
    assert_eq!(find_pac(&truncated), Err(bad_outer));
    assert_eq!(find_pac(&ad(&[(1, b"not DER")])), Err(bad_inner));
    // Only the AD-IF-RELEVANT contents are parsed: other ad-data may be anything.
    assert_eq!(find_pac(&ad(&[(141, b"not DER")])), Ok(None));
}

// --- PACTYPE layout -----------------------------------------------------------------------------

#[test]
fn every_truncation_of_a_small_pac_gives_its_exact_error() {
    let (pac, _) = small_pac();
    let count = u32::from_le_bytes(pac[..4].try_into().unwrap()) as usize;
    let header_len = info_at(count);
    let full = Pac::extract(&pac).unwrap();
    for len in 0..pac.len() {
        let cut = &pac[..len];
        let expected = if len < PACTYPE_LEN {
            PacError::Truncated { what: "PACTYPE" }
        } else if len < header_len {
            PacError::CountTooLarge {
                what: "PACTYPE.cBuffers",
                count: count as u64,
                available: len - PACTYPE_LEN,
            }
        } else {
            let b = full
                .buffers()
                .iter()
                .find(|b| b.offset + b.data.len() > len)
                .expect("some buffer ends after the cut");
            PacError::BufferOutOfRange {
                ul_type: b.ul_type,
                offset: b.offset as u64,
                size: b.data.len() as u32,
                pac_len: len,
            }
        };
        assert_eq!(Pac::extract(cut).unwrap_err(), expected, "cut at {len}");
    }
}

#[test]
fn header_errors() {
    let (pac, _) = small_pac();
    let mut v1 = pac.clone();
    put_u32(&mut v1, 4, 1);
    assert_eq!(
        Pac::extract(&v1).unwrap_err(),
        PacError::BadVersion { got: 1 }
    );

    // A count far beyond the 100 octets, refused before anything is allocated from it.
    let mut huge = pac[..100].to_vec();
    put_u32(&mut huge, 0, 1_000_000);
    assert_eq!(
        Pac::extract(&huge).unwrap_err(),
        PacError::CountTooLarge {
            what: "PACTYPE.cBuffers",
            count: 1_000_000,
            available: 92
        }
    );
    let mut max = pac.clone();
    put_u32(&mut max, 0, u32::MAX);
    assert!(matches!(
        Pac::extract(&max).unwrap_err(),
        PacError::CountTooLarge {
            count: 0xffff_ffff,
            ..
        }
    ));

    // No buffers: nothing to read the identity from.
    let empty = build_pac(&[]);
    assert_eq!(
        Pac::extract(&empty).unwrap_err(),
        PacError::MissingBuffer { ul_type: 1 }
    );
}

#[test]
fn buffer_offsets_must_be_aligned_inside_and_disjoint() {
    let (pac, _) = small_pac();
    let first = Pac::extract(&pac).unwrap().buffers()[0];
    let second = Pac::extract(&pac).unwrap().buffers()[1];
    let len = pac.len();
    let with = |index: usize, size: Option<u32>, offset: Option<u64>| {
        let mut p = pac.clone();
        let at = info_at(index);
        if let Some(size) = size {
            put_u32(&mut p, at + 4, size);
        }
        if let Some(offset) = offset {
            p[at + 8..at + 16].copy_from_slice(&offset.to_le_bytes());
        }
        Pac::extract(&p).unwrap_err()
    };
    let out = |ul_type, offset: u64, size: u32| PacError::BufferOutOfRange {
        ul_type,
        offset,
        size,
        pac_len: len,
    };
    let size0 = first.data.len() as u32;
    assert_eq!(
        with(0, None, Some(first.offset as u64 + 4)),
        PacError::MisalignedBuffer {
            ul_type: 1,
            offset: first.offset as u64 + 4
        }
    );
    // In the header, past the end, ending past the end, or beyond any usize.
    assert_eq!(with(0, None, Some(0)), out(1, 0, size0));
    assert_eq!(with(0, None, Some(8)), out(1, 8, size0));
    assert_eq!(
        with(0, None, Some(len as u64 + 8)),
        out(1, len as u64 + 8, size0)
    );
    assert_eq!(
        with(0, Some(u32::MAX), None),
        out(1, first.offset as u64, u32::MAX)
    );
    assert_eq!(with(0, None, Some(1 << 63)), out(1, 1 << 63, size0));
    assert_eq!(
        with(0, None, Some(u64::MAX - 7)),
        out(1, u64::MAX - 7, size0)
    );
    // The client info moved into the logon info, and a logon info grown into the next one.
    assert_eq!(
        with(1, None, Some(first.offset as u64 + 8)),
        PacError::OverlappingBuffers {
            first: 1,
            second: 10
        }
    );
    assert_eq!(
        with(0, Some(size0 + 16), None),
        PacError::OverlappingBuffers {
            first: 1,
            second: 10
        }
    );
    // Two buffers of a unique type (the client info made a second logon info).
    let mut dup = pac.clone();
    put_u32(&mut dup, info_at(1), 1);
    assert_eq!(
        Pac::extract(&dup).unwrap_err(),
        PacError::DuplicateBuffer { ul_type: 1 }
    );
    // No logon info at all (the logon info made an unknown type).
    let mut missing = pac.clone();
    put_u32(&mut missing, info_at(0), 0x99);
    assert_eq!(
        Pac::extract(&missing).unwrap_err(),
        PacError::MissingBuffer { ul_type: 1 }
    );
    // Two of an unknown type are kept as they are.
    let mut unknown = pac.clone();
    put_u32(&mut unknown, info_at(1), 0x99);
    put_u32(&mut unknown, info_at(2), 0x99);
    let parsed = Pac::extract(&unknown).unwrap();
    assert_eq!(parsed.client_info(), None);
    assert_eq!(parsed.buffer(0x99).unwrap().data, second.data);
}

#[test]
fn zero_sized_buffers_do_not_overlap_anything_at_their_edge() {
    let logon = PacSpec::new("a", "R", 0, 0).logon_info().build();
    let pac = build_pac(&[(0x99, &[]), (1, &logon), (0x98, &[])]);
    let parsed = Pac::extract(&pac).unwrap();
    assert_eq!(parsed.buffers().len(), 3);
    assert!(parsed.buffer(0x98).unwrap().data.is_empty());
}

// --- Client info and UPN ----------------------------------------------------------------------------

#[test]
fn client_info_is_checked_against_the_ticket() {
    let (bytes, _) = small_pac();
    let pac = Pac::extract(&bytes).unwrap();
    assert_eq!(pac.check_client_info(&["alice"], 1_795_259_762), Ok(()));
    assert_eq!(
        pac.check_client_info(&["Alice"], 1_795_259_762),
        Err(PacError::ClientNameMismatch {
            pac: "alice".into(),
            ticket: "Alice".into()
        })
    );
    assert_eq!(
        pac.check_client_info(&["alice", "admin"], 1_795_259_762),
        Err(PacError::ClientNameMismatch {
            pac: "alice".into(),
            ticket: "alice/admin".into()
        })
    );
    assert_eq!(
        pac.check_client_info::<&str>(&[], 1_795_259_762),
        Err(PacError::ClientNameMismatch {
            pac: "alice".into(),
            ticket: String::new()
        })
    );
    assert_eq!(
        pac.check_client_info(&["alice"], 1_795_259_763),
        Err(PacError::AuthTimeMismatch {
            pac: 1_795_259_762,
            ticket: 1_795_259_763
        })
    );

    // Two components, and an enterprise name (one component with an @), as MIT unparses them.
    for name in [vec!["host", "web.corp.test"], vec!["alice@corp.test"]] {
        let mut spec = PacSpec::new("x", "CORP.TEST", 5, 0);
        spec.client_name = name.join("/");
        let key = pac_key(Enctype::Aes256CtsHmacSha196);
        let bytes = spec.build(&key, &key).unwrap();
        let pac = Pac::extract(&bytes).unwrap();
        assert_eq!(pac.check_client_info(&name, 5), Ok(()));
        let owned: Vec<String> = name.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(pac.check_client_info(&owned, 5), Ok(()));
    }

    // Without client info.
    let logon = PacSpec::new("a", "R", 0, 0).logon_info().build();
    let bytes = build_pac(&[(1, &logon)]);
    assert_eq!(
        Pac::extract(&bytes).unwrap().check_client_info(&["a"], 0),
        Err(PacError::MissingBuffer { ul_type: 10 })
    );
}

// --- Signatures -------------------------------------------------------------------------------------

#[test]
fn built_pacs_verify_with_each_enctype() {
    for enctype in Enctype::ALL {
        let key = pac_key(enctype);
        let spec = PacSpec::new("alice", "CORP.TEST", 1_795_259_762, 3);
        let bytes = spec.build(&key, &key).unwrap();
        let pac = Pac::extract(&bytes).unwrap();
        assert_eq!(pac.verify_server_checksum(&key), Ok(()), "{enctype}");
        let server = pac.server_signature().unwrap();
        assert_eq!(server.signature_type, enctype.checksum_type());
        assert_eq!(server.signature.len(), enctype.checksum_len());
        // The KDC signature is the checksum of the server signature.
        let kdc = pac.kdc_signature().unwrap();
        assert_eq!(kdc.signature, key.checksum(server.signature));
    }
}

#[test]
fn every_byte_but_the_two_signatures_is_covered() {
    let (bytes, key) = small_pac();
    let pac = Pac::extract(&bytes).unwrap();
    let field = |t| {
        let b = pac.buffer(t).unwrap();
        b.offset + 4..b.offset + b.data.len()
    };
    let (server, kdc) = (field(6), field(7));
    for at in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[at] ^= 0x01;
        let Ok(parsed) = Pac::extract(&flipped) else {
            continue;
        };
        let result = parsed.verify_server_checksum(&key);
        if kdc.contains(&at) {
            assert_eq!(result, Ok(()), "the KDC signature is zeroed: {at}");
        } else {
            // Mostly BadServerChecksum; a flip in cBuffers drops the KDC signature, one in a
            // SignatureType changes the checksum type.
            assert!(
                matches!(
                    result,
                    Err(PacError::BadServerChecksum
                        | PacError::UnsupportedChecksum { .. }
                        | PacError::MissingBuffer { .. })
                ),
                "flipped byte {at} (server signature {server:?}): {result:?}"
            );
        }
    }
}

#[test]
fn signature_errors() {
    let (bytes, key) = small_pac();
    let pac = Pac::extract(&bytes).unwrap();
    let ticket_key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x5a; 32])
        .unwrap()
        .usage_key(KeyUsage::KDC_REP_TICKET)
        .unwrap();
    assert_eq!(
        pac.verify_server_checksum(&ticket_key),
        Err(PacError::WrongKeyUsage { got: 2 })
    );
    assert_eq!(
        PacError::WrongKeyUsage { got: 2 }.fault(),
        crate::proto::error::Fault::Internal
    );
    assert_eq!(
        pac.verify_server_checksum(&pac_key(Enctype::Rc4Hmac)),
        Err(PacError::ChecksumTypeMismatch {
            expected: -138,
            got: 16
        })
    );
    // The right enctype, the wrong key.
    let other = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x5b; 32])
        .unwrap()
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .unwrap();
    assert_eq!(
        pac.verify_server_checksum(&other),
        Err(PacError::BadServerChecksum)
    );

    let server_at = pac.buffer(6).unwrap().offset;
    // An unkeyed type (CRC32, 1), and a keyed one we do not implement (hmac-sha256-128-aes128, 19).
    for cksumtype in [1, 19] {
        let mut b = bytes.clone();
        put_u32(&mut b, server_at, cksumtype as u32);
        assert_eq!(
            Pac::extract(&b).unwrap().verify_server_checksum(&key),
            Err(PacError::UnsupportedChecksum { cksumtype })
        );
    }
    // A server signature buffer too short for its type, or with 1 octet after it.
    let logon = PacSpec::new("a", "R", 0, 0).logon_info().build();
    let short = [&16i32.to_le_bytes()[..], &[0; 11]].concat();
    let long = [&16i32.to_le_bytes()[..], &[0; 13]].concat();
    let rodc = [&16i32.to_le_bytes()[..], &[0; 14]].concat();
    let kdc = signature_placeholder(&key);
    assert_eq!(
        Pac::extract(&build_pac(&[(1, &logon), (6, &short), (7, &kdc)])).unwrap_err(),
        PacError::Truncated {
            what: "PAC_SIGNATURE_DATA"
        }
    );
    assert_eq!(
        Pac::extract(&build_pac(&[(1, &logon), (6, &long), (7, &kdc)])).unwrap_err(),
        PacError::Malformed {
            what: "PAC_SIGNATURE_DATA: octets after the signature"
        }
    );
    assert_eq!(
        Pac::extract(&build_pac(&[(1, &logon), (6, &[1, 2]), (7, &kdc)])).unwrap_err(),
        PacError::Truncated {
            what: "PAC_SIGNATURE_DATA"
        }
    );
    // An RODCIdentifier after the KDC signature is read, and zeroed with it.
    let mut with_rodc = build_pac(&[(1, &logon), (6, &signature_placeholder(&key)), (7, &rodc)]);
    let rodc_at = Pac::extract(&with_rodc).unwrap().buffer(7).unwrap().offset + 16;
    with_rodc[rodc_at..rodc_at + 2].copy_from_slice(&0x0102u16.to_le_bytes());
    assert_eq!(
        sign_pac(&mut with_rodc, &key, &key),
        Err(PacError::Malformed {
            what: "PAC_SIGNATURE_DATA: size does not fit the key's checksum"
        })
    );
    // Sign it with the RODC identifier in place by hand: server checksum over both zeroed.
    let parsed = Pac::extract(&with_rodc).unwrap();
    assert_eq!(
        parsed.kdc_signature().unwrap().rodc_identifier,
        Some(0x0102)
    );
    let mut zeroed = with_rodc.clone();
    zeroed[rodc_at - 12..rodc_at + 2].fill(0);
    let server_at = parsed.buffer(6).unwrap().offset + 4;
    let sig = key.checksum(&zeroed);
    with_rodc[server_at..server_at + 12].copy_from_slice(&sig);
    assert_eq!(
        Pac::extract(&with_rodc)
            .unwrap()
            .verify_server_checksum(&key),
        Ok(())
    );

    // Missing signatures.
    let no_server = build_pac(&[(1, &logon), (7, &kdc)]);
    assert_eq!(
        Pac::extract(&no_server)
            .unwrap()
            .verify_server_checksum(&key),
        Err(PacError::MissingBuffer { ul_type: 6 })
    );
    let no_kdc = build_pac(&[(1, &logon), (6, &kdc)]);
    assert_eq!(
        Pac::extract(&no_kdc).unwrap().verify_server_checksum(&key),
        Err(PacError::MissingBuffer { ul_type: 7 })
    );
    let mut unsignable = no_kdc.clone();
    assert_eq!(
        sign_pac(&mut unsignable, &key, &key),
        Err(PacError::MissingBuffer { ul_type: 7 })
    );
}

#[test]
fn errors_have_listed_reasons() {
    let samples = [
        PacError::NoPac,
        PacError::MultiplePacs,
        PacError::Truncated { what: "x" },
        PacError::MissingBuffer { ul_type: 6 },
        PacError::UnsupportedChecksum { cksumtype: 1 },
        PacError::ChecksumTypeMismatch {
            expected: 16,
            got: -138,
        },
        PacError::WrongKeyUsage { got: 2 },
        PacError::BadServerChecksum,
        PacError::AuthTimeMismatch { pac: 1, ticket: 2 },
    ];
    for e in samples {
        assert!(PacError::REASONS.contains(&e.reason()), "{}", e.reason());
        assert!(!e.retryable());
    }
    assert_eq!(PacError::BadServerChecksum.reason(), "bad_server_checksum");
    assert_eq!(
        PacError::ClientNameMismatch {
            pac: "a".into(),
            ticket: "b".into()
        }
        .reason(),
        "client_mismatch"
    );
    assert_eq!(PacError::NoPac.fault(), crate::proto::error::Fault::Client);
}
