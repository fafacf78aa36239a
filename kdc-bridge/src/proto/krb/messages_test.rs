use picky_asn1_der::application_tag::ApplicationTag;
use picky_asn1_der::from_bytes as picky_decode;
use picky_krb::data_types::{AuthenticatorInner, EncApRepPart, EncTicketPartInner};
use picky_krb::messages::ApReq as PickyApReq;
use proptest::prelude::*;

use super::*;
use crate::proto::der::DerError;
use crate::proto::krb::build::*;

/// An Authenticator captured from a Windows client, published as a test vector in
/// Devolutions/picky-rs `picky-krb/src/data_types.rs` (test `authenticator`).
const PICKY_AUTHENTICATOR: &[u8] = &[
    98, 130, 1, 14, 48, 130, 1, 10, 160, 3, 2, 1, 5, 161, 13, 27, 11, 69, 88, 65, 77, 80, 76, 69,
    46, 67, 79, 77, 162, 15, 48, 13, 160, 3, 2, 1, 1, 161, 6, 48, 4, 27, 2, 112, 51, 163, 37, 48,
    35, 160, 5, 2, 3, 0, 128, 3, 161, 26, 4, 24, 16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 62, 0, 0, 0, 164, 3, 2, 1, 8, 165, 17, 24, 15, 50, 48, 50, 50, 48, 52, 48, 53, 48,
    56, 49, 57, 52, 54, 90, 166, 43, 48, 41, 160, 3, 2, 1, 18, 161, 34, 4, 32, 137, 180, 229, 144,
    148, 18, 158, 111, 110, 0, 13, 63, 21, 116, 77, 186, 198, 9, 166, 152, 141, 83, 211, 88, 142,
    95, 34, 169, 63, 91, 71, 97, 167, 6, 2, 4, 104, 244, 223, 174, 168, 111, 48, 109, 48, 107, 160,
    3, 2, 1, 1, 161, 100, 4, 98, 48, 96, 48, 14, 160, 4, 2, 2, 0, 143, 161, 6, 4, 4, 0, 64, 0, 0,
    48, 78, 160, 4, 2, 2, 0, 144, 161, 70, 4, 68, 84, 0, 69, 0, 82, 0, 77, 0, 83, 0, 82, 0, 86, 0,
    47, 0, 112, 0, 51, 0, 46, 0, 113, 0, 107, 0, 97, 0, 116, 0, 105, 0, 111, 0, 110, 0, 46, 0, 99,
    0, 111, 0, 109, 0, 64, 0, 81, 0, 75, 0, 65, 0, 84, 0, 73, 0, 79, 0, 78, 0, 46, 0, 67, 0, 79, 0,
    77, 0,
];

/// An EncAPRepPart from the same source (test `enc_ap_rep_part`): ctime 2022-04-09 11:16:44Z,
/// cusec 43, an aes256 subkey and seq-number 0x4af47a3e.
const PICKY_ENC_AP_REP_PART: &[u8] = &[
    123, 79, 48, 77, 160, 17, 24, 15, 50, 48, 50, 50, 48, 52, 48, 57, 49, 49, 49, 54, 52, 52, 90,
    161, 3, 2, 1, 43, 162, 43, 48, 41, 160, 3, 2, 1, 18, 161, 34, 4, 32, 225, 45, 62, 116, 165,
    142, 214, 44, 102, 216, 202, 158, 12, 78, 40, 121, 161, 178, 118, 68, 81, 178, 188, 246, 235,
    201, 45, 41, 17, 64, 189, 185, 163, 6, 2, 4, 74, 244, 122, 62,
];

#[test]
fn reads_a_windows_authenticator() {
    let a = extract_authenticator(PICKY_AUTHENTICATOR).unwrap();
    assert_eq!(a.crealm, "EXAMPLE.COM");
    assert_eq!(
        a.cname,
        PrincipalName {
            name_type: 1,
            components: vec!["p3"]
        }
    );
    let cksum = a.cksum.unwrap();
    assert_eq!(cksum.cksumtype, 0x8003);
    assert_eq!(cksum.value.len(), 24);
    assert_eq!(a.cusec, 8);
    assert_eq!(
        a.ctime,
        super::super::asn1::parse_time(b"20220405081946Z").unwrap()
    );
    assert_eq!(a.subkey.unwrap().keytype, 18);
    assert_eq!(a.subkey.unwrap().value.len(), 32);
    assert_eq!(a.seq_number, Some(0x68f4_dfae));
    assert!(a.authorization_data.is_some());
}

#[test]
fn builds_the_published_enc_ap_rep_part() {
    let subkey: [u8; 32] = PICKY_ENC_AP_REP_PART[41..73].try_into().unwrap();
    let ctime = super::super::asn1::parse_time(b"20220409111644Z").unwrap();
    let built = build_enc_ap_rep_part(ctime, 43, Some((18, &subkey)), Some(0x4af4_7a3e));
    assert_eq!(built, PICKY_ENC_AP_REP_PART);
    // And picky reads it back as the same structure.
    let _: EncApRepPart = picky_decode(&built).unwrap();
}

#[test]
fn ap_rep_is_what_picky_reads() {
    let ap_rep = build_ap_rep(18, &[1, 2, 3, 4]);
    let decoded: picky_krb::messages::ApRep = picky_decode(&ap_rep).unwrap();
    assert_eq!(decoded.0.enc_part.0.cipher.0 .0, vec![1, 2, 3, 4]);
    assert_eq!(decoded.0.enc_part.0.etype.0 .0, vec![18]);
}

fn sample_ap_req(kvno: Option<u32>) -> Vec<u8> {
    let ticket = build_ticket(
        "CORP.TEST",
        Name {
            name_type: 2,
            components: &["HTTP", "gw.corp.test"],
        },
        18,
        kvno,
        &[0xaa; 100],
    );
    build_ap_req(ap_options::MUTUAL_REQUIRED, &ticket, 18, &[0xbb; 60])
}

#[test]
fn ap_req_round_trips_and_agrees_with_picky() {
    let raw = sample_ap_req(Some(3));
    let req = extract_ap_req(&raw).unwrap();
    assert_eq!(req.ap_options, ap_options::MUTUAL_REQUIRED);
    assert_eq!(req.ticket.realm, "CORP.TEST");
    assert_eq!(req.ticket.sname.components, ["HTTP", "gw.corp.test"]);
    assert_eq!(
        req.ticket.enc_part,
        EncryptedData {
            etype: 18,
            kvno: Some(3),
            cipher: &[0xaa; 100]
        }
    );
    assert_eq!(
        req.authenticator,
        EncryptedData {
            etype: 18,
            kvno: None,
            cipher: &[0xbb; 60]
        }
    );

    let picky: PickyApReq = picky_decode(&raw).unwrap();
    assert_eq!(picky.0.ticket.0 .0.sname.0.name_string.0 .0.len(), 2);
    assert_eq!(picky.0.authenticator.0.cipher.0 .0, vec![0xbb; 60]);
    assert_eq!(picky_asn1_der::to_vec(&picky).unwrap(), raw);
}

#[test]
fn ap_req_rejects_trailing_data_and_bad_versions() {
    let mut raw = sample_ap_req(None);
    raw.push(0);
    assert_eq!(
        extract_ap_req(&raw),
        Err(Asn1Error::Der(DerError::TrailingData { len: 1 }))
    );

    // msg-type 14 -> 15: the integer sits right after pvno.
    let mut wrong_type = sample_ap_req(None);
    let pos = wrong_type
        .windows(5)
        .position(|w| w == [0xa1, 0x03, 0x02, 0x01, 14])
        .unwrap();
    wrong_type[pos + 4] = 15;
    assert_eq!(extract_ap_req(&wrong_type), Err(Asn1Error::BadValue));
}

#[test]
fn every_truncation_is_an_error() {
    let raw = sample_ap_req(Some(7));
    for len in 0..raw.len() {
        assert!(
            extract_ap_req(&raw[..len]).is_err(),
            "prefix of {len} octets accepted"
        );
    }
}

#[test]
fn enc_ticket_part_round_trips_and_agrees_with_picky() {
    let ad = build_authorization_data(&[(1, &[0x30, 0x00])]);
    let spec = EncTicketPartSpec {
        flags: 0x4081_0000,
        session_key: (18, &[7; 32]),
        crealm: "CORP.TEST",
        cname: Name {
            name_type: 1,
            components: &["alice"],
        },
        authtime: 1_795_257_000,
        starttime: Some(1_795_257_000),
        endtime: 1_795_293_000,
        renew_till: None,
        authorization_data: Some(&ad),
    };
    let raw = build_enc_ticket_part(&spec);
    let part = extract_enc_ticket_part(&raw).unwrap();
    assert_eq!(part.flags, 0x4081_0000);
    assert_eq!(part.key.keytype, 18);
    assert_eq!(part.key.value, &[7; 32]);
    assert_eq!(part.crealm, "CORP.TEST");
    assert_eq!(part.cname.components, ["alice"]);
    assert_eq!(
        (part.authtime, part.starttime, part.endtime),
        (1_795_257_000, Some(1_795_257_000), 1_795_293_000)
    );
    assert_eq!(part.renew_till, None);
    assert_eq!(part.caddr, None);
    assert_eq!(part.authorization_data, Some(&ad[..]));

    let picky: ApplicationTag<EncTicketPartInner, 3> = picky_decode(&raw).unwrap();
    assert_eq!(picky.0.key.0.key_value.0 .0, vec![7; 32]);
    assert_eq!(picky_asn1_der::to_vec(&picky).unwrap(), raw);
}

#[test]
fn utf8_names_are_read() {
    // AD and MIT put UTF-8 in KerberosString; picky-krb's IA5 strings refuse them.
    let spec = AuthenticatorSpec {
        crealm: "CORP.TEST",
        cname: Name {
            name_type: 1,
            components: &["田中"],
        },
        cksum: None,
        cusec: 0,
        ctime: 0,
        subkey: None,
        seq_number: Some(u32::MAX),
    };
    let raw = build_authenticator(&spec);
    let a = extract_authenticator(&raw).unwrap();
    assert_eq!(a.cname.components, ["田中"]);
    assert_eq!(a.seq_number, Some(u32::MAX));
    assert!(picky_decode::<ApplicationTag<AuthenticatorInner, 2>>(&raw).is_err());
}

#[test]
fn negative_seq_numbers_wrap() {
    let mut raw = build_authenticator(&AuthenticatorSpec {
        crealm: "R",
        cname: Name {
            name_type: 1,
            components: &["u"],
        },
        cksum: None,
        cusec: 0,
        ctime: 0,
        subkey: None,
        seq_number: Some(0x7fff_ffff),
    });
    // Replace `02 04 7f ff ff ff` with `02 04 ff ff ff ff`, i.e. -1 as an old client sends it.
    let pos = raw
        .windows(6)
        .position(|w| w == [2, 4, 0x7f, 0xff, 0xff, 0xff])
        .unwrap();
    raw[pos + 2] = 0xff;
    assert_eq!(
        extract_authenticator(&raw).unwrap().seq_number,
        Some(u32::MAX)
    );
}

#[test]
fn too_many_name_components_are_refused() {
    let comps = ["a"; MAX_COMPONENTS + 1];
    let raw = build_authenticator(&AuthenticatorSpec {
        crealm: "R",
        cname: Name {
            name_type: 1,
            components: &comps,
        },
        cksum: None,
        cusec: 0,
        ctime: 0,
        subkey: None,
        seq_number: None,
    });
    assert_eq!(extract_authenticator(&raw), Err(Asn1Error::BadValue));
}

proptest! {
    #[test]
    fn random_input_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = extract_ap_req(&data);
        let _ = extract_enc_ticket_part(&data);
        let _ = extract_authenticator(&data);
    }

    #[test]
    fn bit_flips_never_panic(pos in 0usize..400, bit in 0u8..8) {
        let mut raw = sample_ap_req(Some(2));
        let pos = pos % raw.len();
        raw[pos] ^= 1 << bit;
        let _ = extract_ap_req(&raw);
    }
}
