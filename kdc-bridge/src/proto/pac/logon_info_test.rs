//! Tests of the logon information: NDR framing, counts, pointers, strings, and the identity
//! derived from it.

use super::super::build::{build_pac, PacSpec, TEST_DOMAIN_SID};
use super::super::test_support::*;
use super::super::*;
use crate::proto::crypto::Enctype;

/// A logon info buffer with one group, one extra SID and one resource group.
fn rich_logon_info() -> LogonInfo {
    let mut spec = PacSpec::new("bob", "CORP.TEST", 1_700_000_000, 1);
    spec.resource_groups = Some((sid("S-1-5-21-1-2-3"), vec![700]));
    spec.logon_info()
}

#[test]
fn logon_info_round_trips() {
    let info = rich_logon_info();
    let bytes = info.build();
    assert_eq!(LogonInfo::extract(&bytes), Ok(info.clone()));
    assert_eq!(LogonInfo::extract(&bytes).unwrap().build(), bytes);
}

#[test]
fn every_truncation_of_the_logon_info_fails() {
    let bytes = rich_logon_info().build();
    for len in 0..bytes.len() {
        let expected = if len < 16 {
            PacError::Truncated {
                what: "type serialization header",
            }
        } else {
            PacError::Truncated {
                what: "serialized object",
            }
        };
        assert_eq!(
            LogonInfo::extract(&bytes[..len]),
            Err(expected),
            "cut at {len}"
        );
    }
}

#[test]
fn every_truncation_of_the_ndr_data_fails() {
    // Cut the NDR data itself and fix up ObjectBufferLength: the reader runs out inside a
    // field, or finds a count that no longer fits.
    let bytes = rich_logon_info().build();
    for len in (16..bytes.len() - 8).step_by(8) {
        let mut cut = bytes[..len].to_vec();
        put_u32(&mut cut, 8, (len - 16) as u32);
        let err = LogonInfo::extract(&cut).unwrap_err();
        assert!(
            matches!(
                err,
                PacError::Truncated { .. } | PacError::CountTooLarge { .. }
            ),
            "cut at {len}: {err:?}"
        );
    }
}

#[test]
fn type_serialization_header_errors() {
    let bytes = rich_logon_info().build();
    let malformed = |at: usize, value: u8, what| {
        let mut b = bytes.clone();
        b[at] = value;
        assert_eq!(
            LogonInfo::extract(&b),
            Err(PacError::Malformed { what }),
            "{what}"
        );
    };
    malformed(0, 2, "type serialization header: Version is not 1");
    malformed(1, 0x00, "type serialization header: not little-endian");
    malformed(
        2,
        16,
        "type serialization header: CommonHeaderLength is not 8",
    );
    malformed(
        8,
        bytes[8] - 4,
        "type serialization header: ObjectBufferLength is not a multiple of 8",
    );
    // ObjectBufferLength 8 short of the data: the rest is not padding.
    let mut short = bytes.clone();
    short[8] -= 8;
    assert_eq!(
        LogonInfo::extract(&short),
        Err(PacError::Malformed {
            what: "bytes after the serialized object"
        })
    );
    // Padding after the object, fewer than 8 octets, is tolerated.
    let mut padded = bytes.clone();
    padded.extend_from_slice(&[0; 7]);
    assert_eq!(LogonInfo::extract(&padded), LogonInfo::extract(&bytes));
    // A NULL PAC_LOGON_INFO pointer.
    let mut null = bytes.clone();
    put_u32(&mut null, 16, 0);
    assert_eq!(
        LogonInfo::extract(&null),
        Err(PacError::Malformed {
            what: "PAC_LOGON_INFO: NULL KERB_VALIDATION_INFO"
        })
    );
}

#[test]
fn fixed_part_offsets_are_where_the_ms_pac_example_has_them() {
    let bytes = ms_pac_example();
    let logon = &bytes[0x48..];
    let u32_at = |at: usize| u32::from_le_bytes(logon[at..at + 4].try_into().unwrap());
    assert_eq!(u32_at(at::EFFECTIVE_NAME), 0x0008_0008);
    assert_eq!(u32_at(at::GROUP_COUNT), 26);
    assert_eq!(u32_at(at::SID_COUNT), 13);
    assert_eq!(u32_at(at::RESOURCE_DOMAIN), 0);
}

#[test]
fn counts_must_match_their_arrays_and_fit_the_data() {
    let bytes = rich_logon_info().build();
    let find = |needle: &[u8]| {
        bytes
            .windows(needle.len())
            .position(|w| w == needle)
            .expect("needle")
    };
    let patched = |at: usize, v: u32| {
        let mut b = bytes.clone();
        put_u32(&mut b, at, v);
        LogonInfo::extract(&b)
    };
    // GroupCount says 3, the array's MaximumCount 2.
    assert_eq!(
        patched(at::GROUP_COUNT, 3),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.GroupIds"
        })
    );
    // NULL arrays with counts.
    assert_eq!(
        patched(at::GROUP_IDS, 0),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.GroupIds: NULL with a GroupCount"
        })
    );
    assert_eq!(
        patched(at::EXTRA_SIDS, 0),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.ExtraSids: NULL with a SidCount"
        })
    );
    assert_eq!(
        patched(at::RESOURCE_IDS, 0),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.ResourceGroupIds: NULL with a ResourceGroupCount"
        })
    );
    assert_eq!(
        patched(at::RESOURCE_DOMAIN, 0),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.ResourceGroupIds without a ResourceGroupDomainSid"
        })
    );
    assert_eq!(
        patched(at::LOGON_DOMAIN_ID, 0),
        Err(PacError::Malformed {
            what: "KERB_VALIDATION_INFO.LogonDomainId: NULL"
        })
    );
    // Both GroupCount and MaximumCount at a million: the count is checked against what is
    // left before a Vec is sized from it.
    let mut million = bytes.clone();
    put_u32(&mut million, at::GROUP_COUNT, 1_000_000);
    // The groups array starts with its MaximumCount, 2, right after the strings.
    let conformance = find(&[2, 0, 0, 0, 0x01, 0x02, 0, 0, 7, 0, 0, 0]);
    put_u32(&mut million, conformance, 1_000_000);
    assert!(matches!(
        LogonInfo::extract(&million),
        Err(PacError::CountTooLarge {
            what: "KERB_VALIDATION_INFO.GroupIds",
            count: 1_000_000,
            ..
        })
    ));
    // A million ExtraSids: refused on the cost of pairs and SIDs together.
    assert!(matches!(
        patched(at::SID_COUNT, 1_000_000),
        Err(PacError::CountTooLarge {
            what: "KERB_VALIDATION_INFO.ExtraSids",
            count: 1_000_000,
            ..
        })
    ));
}

#[test]
fn strings_follow_the_rpc_unicode_string_rules() {
    let info = rich_logon_info();
    let bytes = info.build();
    // EffectiveName "bob": Length 6, MaximumLength 6; the buffer is the first deferred
    // referent: MaximumCount 3, Offset 0, ActualCount 3, "bob".
    let header = at::EFFECTIVE_NAME;
    let deferred = bytes
        .windows(18)
        .position(|w| w == b"\x03\0\0\0\0\0\0\0\x03\0\0\0b\0o\0b\0")
        .expect("the EffectiveName buffer");
    let patched = |edits: &[(usize, &[u8])]| {
        let mut b = bytes.clone();
        for (at, v) in edits {
            b[*at..*at + v.len()].copy_from_slice(v);
        }
        LogonInfo::extract(&b)
    };
    let bad = Err(PacError::Malformed {
        what: "KERB_VALIDATION_INFO.EffectiveName",
    });
    // Length above MaximumLength, odd, or set with a NULL buffer.
    assert_eq!(patched(&[(header, &[8, 0])]), bad);
    assert_eq!(patched(&[(header, &[5, 0])]), bad);
    assert_eq!(patched(&[(header + 4, &[0, 0, 0, 0])]), bad);
    // MaximumCount, Offset or ActualCount not what the header says.
    assert_eq!(patched(&[(deferred, &[4])]), bad);
    assert_eq!(patched(&[(deferred + 4, &[1])]), bad);
    assert_eq!(patched(&[(deferred + 8, &[2])]), bad);
    // A NUL inside the name, an unpaired surrogate.
    assert_eq!(patched(&[(deferred + 14, &[0, 0])]), bad);
    assert_eq!(patched(&[(deferred + 14, &[0x00, 0xd8])]), bad);
    // A trailing NUL counted into the string is dropped.
    assert_eq!(
        patched(&[(deferred + 16, &[0, 0])])
            .unwrap()
            .effective_name
            .as_str(),
        "bo"
    );
}

#[test]
fn user_id_zero_takes_the_first_extra_sid() {
    let mut spec = PacSpec::new("svc", "CORP.TEST", 0, 0);
    spec.user_rid = 0;
    spec.extra_sids = vec![sid("S-1-5-21-9-9-9-1000"), sid("S-1-18-1")];
    let key = pac_key(Enctype::Aes128CtsHmacSha196);
    let pac_bytes = spec.build(&key, &key).unwrap();
    let pac = Pac::extract(&pac_bytes).unwrap();
    assert_eq!(pac.user_sid(), sid("S-1-5-21-9-9-9-1000"));
    assert_eq!(
        pac.group_sids(),
        [TEST_DOMAIN_SID.with_rid(513).unwrap(), sid("S-1-18-1")]
    );

    spec.extra_sids.clear();
    let pac_bytes = spec.build(&key, &key).unwrap();
    assert_eq!(
        Pac::extract(&pac_bytes).unwrap_err(),
        PacError::Malformed {
            what: "KERB_VALIDATION_INFO: UserId 0 without ExtraSids"
        }
    );
}

#[test]
fn group_sids_are_deduplicated_in_a_stable_order() {
    let mut spec = PacSpec::new("eve", "CORP.TEST", 0, 0);
    let domain = TEST_DOMAIN_SID;
    let resource = sid("S-1-5-21-7-7-7");
    spec.group_rids = vec![1300, 513, 1301, 1300];
    spec.extra_sids = vec![
        domain.with_rid(1301).unwrap(),
        sid("S-1-18-1"),
        resource.with_rid(5).unwrap(),
    ];
    spec.resource_groups = Some((resource, vec![5, 6, 5]));
    let key = pac_key(Enctype::Rc4Hmac);
    let bytes = spec.build(&key, &key).unwrap();
    let pac = Pac::extract(&bytes).unwrap();
    let expected: Vec<Sid> = vec![
        domain.with_rid(513).unwrap(),
        domain.with_rid(1300).unwrap(),
        domain.with_rid(1301).unwrap(),
        sid("S-1-18-1"),
        resource.with_rid(5).unwrap(),
        resource.with_rid(6).unwrap(),
    ];
    assert_eq!(pac.group_sids(), expected);
    assert_eq!(
        pac.logon_info().user_flags,
        user_flags::EXTRA_SIDS | user_flags::RESOURCE_GROUPS
    );
    assert!(pac
        .logon_info()
        .resource_group_ids
        .iter()
        .all(|g| g.attributes & group_attributes::RESOURCE != 0));
}

#[test]
fn a_domain_sid_with_fifteen_sub_authorities_has_no_room_for_rids() {
    let mut spec = PacSpec::new("x", "R", 0, 0);
    spec.domain_sid = Sid::new(5, &[1; 15]).unwrap();
    let mut info = spec.logon_info();
    info.extra_sids.clear();
    let logon = info.build();
    let pac = build_pac(&[(1, &logon)]);
    assert_eq!(
        Pac::extract(&pac).unwrap_err(),
        PacError::Malformed {
            what: "KERB_VALIDATION_INFO.LogonDomainId: no room for a RID"
        }
    );
}

#[test]
fn filetimes_convert_to_unix_seconds() {
    assert_eq!(FileTime(0).to_unix(), -11_644_473_600);
    assert_eq!(
        FileTime::from_unix(0),
        Some(FileTime(116_444_736_000_000_000))
    );
    assert_eq!(FileTime(116_444_736_009_999_999).to_unix(), 0);
    assert_eq!(FileTime::from_unix(-11_644_473_601), None);
    assert_eq!(FileTime::from_unix(i64::MAX), None);
    assert_eq!(FileTime(u64::MAX).to_unix(), 1_833_029_933_770);
}
