//! Tests of the builders: the Samba captures' buffers re-encoded to the same octets, built PACs
//! carrying their spec, proptests (round trips, and random or mutated input never panicking),
//! and the seeds of the fuzz corpus.

use super::super::test_support::*;
use super::super::*;
use super::*;
use crate::proto::crypto::{Enctype, Key, KeyUsage};

// --- Samba captures, re-encoded ---------------------------------------------------------------------

#[test]
fn samba_buffers_encode_to_the_same_octets() {
    for (token, keytab) in [
        ("alice-aes256-spnego.bin", "gw.keytab"),
        ("alice-rc4-ticket-spnego.bin", "rc4.keytab"),
        ("carol-300-groups-spnego.bin", "gw.keytab"),
        ("dave-1000-groups-spnego.bin", "gw.keytab"),
    ] {
        let bytes = samba_pac(token, keytab);
        let pac = Pac::extract(&bytes).unwrap();
        assert_eq!(
            pac.logon_info().build(),
            pac.buffer(1).unwrap().data,
            "{token}"
        );
        assert_eq!(
            pac.client_info().unwrap().build(),
            pac.buffer(10).unwrap().data,
            "{token}"
        );
        assert_eq!(
            pac.upn_dns_info().unwrap().build(),
            pac.buffer(12).unwrap().data,
            "{token}"
        );
        let buffers: Vec<(u32, &[u8])> =
            pac.buffers().iter().map(|b| (b.ul_type, b.data)).collect();
        assert_eq!(build_pac(&buffers), bytes, "{token}");
    }
}

// --- Builder round trip and proptests ----------------------------------------------------------------

#[test]
fn built_pac_carries_the_spec() {
    let key = pac_key(Enctype::Aes256CtsHmacSha196);
    let spec = PacSpec::new("alice", "CORP.TEST", 1_795_259_762, 300);
    let bytes = spec.build(&key, &key).unwrap();
    let pac = Pac::extract(&bytes).unwrap();
    assert_eq!(pac.logon_info(), &spec.logon_info());
    assert_eq!(pac.client_info(), Some(&spec.client_info()));
    assert_eq!(pac.upn_dns_info(), Some(&spec.upn_dns_info()));
    assert_eq!(
        pac.user_sid().to_string(),
        "S-1-5-21-1004336348-1177238915-682003330-1102"
    );
    assert_eq!(pac.group_sids().len(), 1 + 300 + 1);
    assert_eq!(pac.upn(), Some("alice@corp.test"));
    assert_eq!(pac.dns_domain(), Some("CORP.TEST"));
    assert_eq!(pac.logon_domain_name(), "CORP");
    assert_eq!(pac.account_name(), "alice");
    assert_eq!(pac.verify_server_checksum(&key), Ok(()));
    assert_eq!(pac.check_client_info(&["alice"], 1_795_259_762), Ok(()));
    let identity = pac.identity().clone();
    assert_eq!(pac.into_identity(), identity);
    // And inside a ticket's authorization-data.
    assert_eq!(
        find_pac(&build_authorization_data(&bytes)),
        Ok(Some(&bytes[..]))
    );
}

mod props {
    use proptest::collection::vec;
    use proptest::prelude::*;

    use super::*;

    fn any_sid() -> impl Strategy<Value = Sid> {
        (
            0u64..=0xffff_ffff_ffff,
            vec(any::<u32>(), 0..=MAX_SUB_AUTHORITIES),
        )
            .prop_map(|(a, s)| Sid::new(a, &s).unwrap())
    }

    fn domain_sid() -> impl Strategy<Value = Sid> {
        (
            0u64..=0xffff_ffff_ffff,
            vec(any::<u32>(), 0..MAX_SUB_AUTHORITIES),
        )
            .prop_map(|(a, s)| Sid::new(a, &s).unwrap())
    }

    fn name() -> impl Strategy<Value = String> {
        // No NUL (dropped or refused by design), any other character including astral ones.
        "[^\u{0}]{0,24}"
    }

    prop_compose! {
        fn any_spec()(
            account_name in name(),
            full_name in name(),
            logon_domain_name in name(),
            dns_domain_name in name(),
            upn in name(),
            client_name in name(),
            authtime in -11_644_473_600i64..1_000_000_000_000,
            domain_sid in domain_sid(),
            user_rid in 1u32..,
            primary_group_rid in any::<u32>(),
            group_rids in vec(any::<u32>(), 0..40),
            extra_sids in vec(any_sid(), 0..8),
            resource_groups in proptest::option::of((domain_sid(), vec(any::<u32>(), 0..8))),
        ) -> PacSpec {
            PacSpec {
                account_name, full_name, logon_domain_name, dns_domain_name, upn, client_name,
                authtime, domain_sid, user_rid, primary_group_rid, group_rids, extra_sids,
                resource_groups,
            }
        }
    }

    prop_compose! {
        /// Specs whose groups repeat: RIDs from a handful of values, extra SIDs in the logon
        /// domain, the resource domain or neither, a resource domain that may be the logon one.
        fn repeating_spec()(
            spec in any_spec(),
            primary_group_rid in 0u32..6,
            group_rids in vec(0u32..6, 0..24),
            extra in vec((0u8..3, 0u32..6), 0..10),
            resource in proptest::option::of((any::<bool>(), domain_sid(), vec(0u32..6, 0..10))),
            user_is_extra_sid in any::<bool>(),
        ) -> PacSpec {
            let resource_domain = resource.as_ref().map(|(same, d, _)| if *same { spec.domain_sid } else { *d });
            // UserId 0: the first extra SID is the user's (here one of the groups' too).
            let extra = if user_is_extra_sid {
                let mut all = vec![(0, 1)];
                all.extend(extra);
                all
            } else {
                extra
            };
            let extra_sids = extra
                .iter()
                .map(|(which, rid)| match (which, resource_domain) {
                    (0, _) => spec.domain_sid.with_rid(*rid).unwrap(),
                    (1, Some(d)) => d.with_rid(*rid).unwrap(),
                    _ => Sid::from_array(18, [*rid]),
                })
                .collect();
            PacSpec {
                user_rid: if user_is_extra_sid { 0 } else { spec.user_rid },
                primary_group_rid,
                group_rids,
                extra_sids,
                resource_groups: resource.map(|(_, _, rids)| (resource_domain.unwrap(), rids)),
                ..spec
            }
        }
    }

    /// The identity a spec must give: the primary group, the groups, the extra SIDs, the
    /// resource groups, first occurrence kept.
    fn expected_groups(spec: &PacSpec) -> Vec<Sid> {
        let mut all = vec![spec.domain_sid.with_rid(spec.primary_group_rid).unwrap()];
        all.extend(
            spec.group_rids
                .iter()
                .map(|r| spec.domain_sid.with_rid(*r).unwrap()),
        );
        // With UserId 0 the first extra SID is the user, not a group.
        let user_is_extra_sid = usize::from(spec.user_rid == 0);
        all.extend(spec.extra_sids.iter().skip(user_is_extra_sid).copied());
        if let Some((d, rids)) = &spec.resource_groups {
            all.extend(rids.iter().map(|r| d.with_rid(*r).unwrap()));
        }
        let mut out: Vec<Sid> = Vec::new();
        for s in all {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }

    proptest! {
        #[test]
        fn round_trips(spec in any_spec(), enctype in proptest::sample::select(Enctype::ALL.to_vec())) {
            let key = pac_key(enctype);
            let bytes = spec.build(&key, &key).unwrap();
            let pac = Pac::extract(&bytes).unwrap();
            prop_assert_eq!(pac.logon_info(), &spec.logon_info());
            prop_assert_eq!(pac.client_info(), Some(&spec.client_info()));
            prop_assert_eq!(pac.upn_dns_info(), Some(&spec.upn_dns_info()));
            prop_assert_eq!(pac.user_sid(), spec.domain_sid.with_rid(spec.user_rid).unwrap());
            prop_assert_eq!(pac.group_sids(), expected_groups(&spec));
            prop_assert_eq!(pac.account_name(), &spec.account_name);
            prop_assert_eq!(pac.upn(), Some(spec.upn.as_str()));
            prop_assert_eq!(pac.verify_server_checksum(&key), Ok(()));
            let cname: Vec<&str> = spec.client_name.split('/').collect();
            prop_assert_eq!(pac.check_client_info(&cname, spec.authtime), Ok(()));
            // Encoding what was decoded gives the same octets.
            prop_assert_eq!(pac.logon_info().build(), pac.buffer(1).unwrap().data);
        }

        #[test]
        fn repeated_groups_are_kept_once_in_order(spec in repeating_spec()) {
            let key = pac_key(Enctype::Aes256CtsHmacSha196);
            let bytes = spec.build(&key, &key).unwrap();
            let pac = Pac::extract(&bytes).unwrap();
            prop_assert_eq!(pac.group_sids(), expected_groups(&spec));
        }

        #[test]
        fn random_input_never_panics(data in vec(any::<u8>(), 0..512)) {
            let _ = find_pac(&data);
            if let Ok(pac) = Pac::extract(&data) {
                let _ = pac.verify_server_checksum(&pac_key(Enctype::Aes256CtsHmacSha196));
                let _ = pac.check_client_info(&["a"], 0);
            }
            let _ = LogonInfo::extract(&data);
            let _ = UpnDnsInfo::extract(&data);
            let _ = ClientInfo::extract(&data);
            let _ = SignatureData::extract(&data);
        }

        #[test]
        fn mutated_pacs_never_panic(
            edits in vec((any::<proptest::sample::Index>(), any::<u8>()), 1..8),
            cut in any::<proptest::sample::Index>(),
            truncate in any::<bool>(),
            which in 0usize..2,
        ) {
            let bytes = if which == 0 { small_pac().0 } else { ms_pac_example() };
            let mut m = bytes.clone();
            for (at, v) in &edits {
                m[at.index(bytes.len())] = *v;
            }
            if truncate {
                m.truncate(cut.index(bytes.len()));
            }
            if let Ok(pac) = Pac::extract(&m) {
                let _ = pac.verify_server_checksum(&small_pac().1);
                let _ = pac.check_client_info(&["alice"], 0);
                // Whatever decodes re-encodes to something that decodes the same.
                let again = pac.logon_info().build();
                prop_assert_eq!(&LogonInfo::extract(&again).unwrap(), pac.logon_info());
            }
            let ad = build_authorization_data(&m);
            prop_assert_eq!(find_pac(&ad), Ok(Some(&m[..])));
        }
    }
}

/// Writes the seeds of `fuzz/corpus/pac/` (see `fuzz/README.md`). Run on purpose only:
/// `IWA_WRITE_FUZZ_CORPUS=1 cargo test -p kdc-bridge --lib write_pac_fuzz_corpus -- --ignored`.
#[test]
#[ignore = "writes fuzz/corpus/pac; run by hand after a new capture"]
fn write_pac_fuzz_corpus() {
    if std::env::var_os("IWA_WRITE_FUZZ_CORPUS").is_none() {
        return;
    }
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../fuzz/corpus/pac");
    std::fs::create_dir_all(dir).unwrap();
    let write = |name: &str, bytes: &[u8]| std::fs::write(format!("{dir}/{name}"), bytes).unwrap();
    write(
        "samba-alice-aes256.pac",
        &samba_pac("alice-aes256-spnego.bin", "gw.keytab"),
    );
    write(
        "samba-alice-rc4.pac",
        &samba_pac("alice-rc4-ticket-spnego.bin", "rc4.keytab"),
    );
    write(
        "samba-carol-300-groups.pac",
        &samba_pac("carol-300-groups-spnego.bin", "gw.keytab"),
    );
    write(
        "samba-alice-authorization-data.der",
        &samba_authorization_data("alice-aes256-spnego.bin", "gw.keytab"),
    );
    write("ms-pac-example.pac", &ms_pac_example());

    // Every part of the logon info in use (resource groups, a NULL string, a UserId of 0) and
    // the fuzz target's own key, so mutations reach the checksum.
    let key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x42; 32])
        .unwrap()
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .unwrap();
    let mut spec = PacSpec::new("svc", "CORP.TEST", 1_795_259_762, 3);
    spec.client_name = "alice".into();
    spec.resource_groups = Some((sid("S-1-5-21-7-7-7"), vec![1000, 1001]));
    spec.extra_sids.push(sid("S-1-5-21-9-9-9-1000"));
    write(
        "built-resource-groups.pac",
        &spec.build(&key, &key).unwrap(),
    );
    spec.user_rid = 0;
    let mut info = spec.logon_info();
    info.home_directory = UnicodeString::null();
    let logon = info.build();
    let placeholder = signature_placeholder(&key);
    let mut pac = build_pac(&[(1, &logon), (6, &placeholder), (7, &placeholder)]);
    sign_pac(&mut pac, &key, &key).unwrap();
    write("built-user-id-0.pac", &pac);

    // Claims far beyond the data, which must fail before anything is sized from them.
    let (small, _) = small_pac();
    let mut buffers = small[..100].to_vec();
    put_u32(&mut buffers, 0, 1_000_000);
    write("bound-million-buffers.pac", &buffers);
    write("bound-million-groups.pac", &million_groups());
}

/// alice's PAC with GroupCount, and the conformance of GroupIds, at a million.
fn million_groups() -> Vec<u8> {
    let mut pac = samba_pac("alice-aes256-spnego.bin", "gw.keytab");
    let logon = Pac::extract(&pac).unwrap().buffer(1).unwrap().offset;
    put_u32(&mut pac, logon + at::GROUP_COUNT, 1_000_000);
    // The GroupIds array: MaximumCount 4, then Domain Users (513) with attributes 7.
    let conformance = pac
        .windows(12)
        .position(|w| w == [4, 0, 0, 0, 0x01, 0x02, 0, 0, 7, 0, 0, 0])
        .unwrap();
    put_u32(&mut pac, conformance, 1_000_000);
    pac
}

#[test]
fn a_million_groups_in_a_samba_pac_fail_before_allocating() {
    let pac = million_groups();
    assert_eq!(pac.len(), 808);
    assert_eq!(
        Pac::extract(&pac).unwrap_err(),
        PacError::CountTooLarge {
            what: "KERB_VALIDATION_INFO.GroupIds",
            count: 1_000_000,
            available: 128,
        }
    );
}
