//! The PACs in the tokens captured from the throw-away Samba 4.17 AD DC of `tests/ad` (how,
//! when and with which keytabs: `tests/vectors/README.md`): decrypted with the keytabs,
//! found, parsed and verified, with the exact identity each one asserts.
//!
//! The captures predate a re-provisioning of the test domain, so their domain SID is that of
//! the earlier provisioning; the RIDs are the ones the live DC still gives (alice 1102 in
//! Engineering 1111, Staff 1113 and VPN Users 1114; carol 1104 and dave 1105 in grp-0001… from
//! 1115), see the README.

#[allow(dead_code)]
mod common;

use kdc_bridge::proto::crypto::{Enctype, KeyUsage, UsageKey};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::krb::messages::{extract_ap_req, extract_enc_ticket_part};
use kdc_bridge::proto::pac::{
    buffer_type, find_pac, upn_flags, user_flags, FileTime, Pac, PacError, Sid, UnicodeString,
};
use kdc_bridge::proto::spnego::extract_client_token;

use common::{vector, vector_number};

/// The domain SID of the provisioning the captures come from.
const DOMAIN: &str = "S-1-5-21-979661382-4053109533-1202225340";
/// `S-1-18-1`, authentication authority asserted identity: every Samba PAC has it.
const ASSERTED_IDENTITY: &str = "S-1-18-1";

/// What a captured ticket gives: the PAC octets, the ticket's client and authtime, and the
/// service key derived for the PAC checksum.
struct Ticket {
    pac: Vec<u8>,
    cname: Vec<String>,
    authtime: i64,
    pac_key: UsageKey,
    enctype: Enctype,
    /// The keys of `gw.keytab`, whichever keytab decrypted the ticket.
    gw_keys: ServiceKeys,
}

fn open(token: &str, keytab: &str) -> Ticket {
    let token = vector(token);
    let keys = ServiceKeys::from_keytab(&Keytab::extract(&vector(keytab)).expect("keytab"));
    let ap_req =
        extract_ap_req(extract_client_token(&token).expect("token").ap_req).expect("AP-REQ");
    let ticket = &ap_req.ticket;
    let service = keys
        .find(
            &ticket.sname.to_principal(ticket.realm),
            ticket.enc_part.kvno,
            ticket.enc_part.etype,
        )
        .expect("the keytab has the ticket's key");
    let plain = service
        .ticket_key
        .decrypt(ticket.enc_part.cipher)
        .expect("the ticket decrypts");
    let part = extract_enc_ticket_part(&plain).expect("EncTicketPart");
    let ad = part.authorization_data.expect("authorization-data");
    let pac = find_pac(ad).expect("AD parses").expect("a PAC").to_vec();
    Ticket {
        pac,
        cname: part
            .cname
            .components
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        authtime: part.authtime,
        pac_key: service
            .key
            .usage_key(KeyUsage::PAC_CHECKSUM)
            .expect("usage key"),
        enctype: service.key.enctype(),
        gw_keys: ServiceKeys::from_keytab(&Keytab::extract(&vector("samba/gw.keytab")).unwrap()),
    }
}

fn in_domain(rid: u32) -> Sid {
    format!("{DOMAIN}-{rid}").parse().expect("SID")
}

fn sid(s: &str) -> Sid {
    s.parse().expect("SID")
}

const ALICE_AES: (&str, &str) = ("samba/alice-aes256-spnego.bin", "samba/gw.keytab");
const ALICE_RAW: (&str, &str) = ("samba/alice-aes256-raw.bin", "samba/gw.keytab");
const ALICE_RC4: (&str, &str) = ("samba/alice-rc4-ticket-spnego.bin", "samba/rc4.keytab");
const CAROL: (&str, &str) = ("samba/carol-300-groups-spnego.bin", "samba/gw.keytab");
const DAVE: (&str, &str) = ("samba/dave-1000-groups-spnego.bin", "samba/gw.keytab");
const ALL: [(&str, &str); 5] = [ALICE_AES, ALICE_RAW, ALICE_RC4, CAROL, DAVE];

#[test]
fn every_capture_has_a_pac_that_verifies_and_names_the_client() {
    let captured_at = vector_number("samba/captured-at");
    for (token, keytab) in ALL {
        let t = open(token, keytab);
        let pac = Pac::extract(&t.pac).unwrap_or_else(|e| panic!("{token}: {e:?}"));
        assert_eq!(pac.verify_server_checksum(&t.pac_key), Ok(()), "{token}");
        assert_eq!(
            pac.check_client_info(&t.cname, t.authtime),
            Ok(()),
            "{token}"
        );
        // The tokens were made within the second of the logins.
        assert_eq!(t.authtime, captured_at, "{token}");
        // Samba 4.17 writes the buffers in this order, with the ticket (16) and full (19)
        // signatures of the 2022 fixes for CVE-2022-37967.
        let types: Vec<u32> = pac.buffers().iter().map(|b| b.ul_type).collect();
        assert_eq!(types, [1, 10, 12, 6, 7, 16, 19], "{token}");
        // The UPN_DNS_INFO's SID is the user SID.
        let upn = pac.upn_dns_info().expect("UPN_DNS_INFO");
        assert_eq!(upn.flags, upn_flags::SAM_NAME_AND_SID, "{token}");
        assert_eq!(
            upn.sam_name_and_sid,
            Some((t.cname[0].clone(), pac.user_sid())),
            "{token}"
        );
    }
}

#[test]
fn alice() {
    for (token, keytab) in [ALICE_AES, ALICE_RAW, ALICE_RC4] {
        let t = open(token, keytab);
        let pac = Pac::extract(&t.pac).unwrap();
        assert_eq!(pac.user_sid().to_string(), format!("{DOMAIN}-1102"));
        assert_eq!(pac.primary_group_sid(), in_domain(513));
        // Domain Users (primary), Engineering, Staff (through Engineering), VPN Users, and
        // the asserted-identity SID. BUILTIN\Users (S-1-5-32-545), which tokenGroups adds on
        // the DC, is never in a PAC.
        let groups: Vec<String> = pac.group_sids().iter().map(Sid::to_string).collect();
        assert_eq!(
            groups,
            [
                format!("{DOMAIN}-513"),
                format!("{DOMAIN}-1111"),
                format!("{DOMAIN}-1113"),
                format!("{DOMAIN}-1114"),
                ASSERTED_IDENTITY.to_owned(),
            ],
            "{token}"
        );
        assert_eq!(pac.account_name(), "alice");
        assert_eq!(pac.logon_domain_name(), "CORP");
        assert_eq!(pac.upn(), Some("alice@corp.test"));
        assert_eq!(pac.dns_domain(), Some("CORP.TEST"));

        let info = pac.logon_info();
        assert_eq!(info.logon_domain_id, sid(DOMAIN));
        assert_eq!((info.user_id, info.primary_group_id), (1102, 513));
        assert_eq!(
            info.group_ids
                .iter()
                .map(|g| (g.rid, g.attributes))
                .collect::<Vec<_>>(),
            [(513, 7), (1111, 7), (1113, 7), (1114, 7)]
        );
        assert_eq!(info.user_flags, user_flags::EXTRA_SIDS);
        assert_eq!(info.extra_sids.len(), 1);
        assert_eq!(info.extra_sids[0].sid, sid(ASSERTED_IDENTITY));
        assert_eq!(info.extra_sids[0].attributes, 7);
        assert_eq!(info.resource_group_domain_sid, None);
        assert_eq!(info.effective_name, UnicodeString::new("alice"));
        assert_eq!(info.full_name, UnicodeString::new("Alice Liddell"));
        // Samba counts a terminator into the MaximumLength of these two.
        assert_eq!(
            info.logon_server,
            UnicodeString::new("DC1").with_maximum_length(8)
        );
        assert_eq!(
            info.logon_domain_name,
            UnicodeString::new("CORP").with_maximum_length(10)
        );
        // NORMAL_ACCOUNT | DONT_EXPIRE_PASSWORD (tests/ad sets the latter on every user).
        assert_eq!(info.user_account_control, 0x210);

        let client = pac.client_info().unwrap();
        assert_eq!(client.name, "alice");
        assert_eq!(client.client_id.to_unix(), 1_795_259_762);
        // LogonTime is the account's last logon as the DC recorded it (the kinit of this
        // capture, 0 to 7 s before the token), to the 100 ns, not the ticket's authtime.
        let logon = info.logon_time.to_unix();
        assert!(
            (1_795_259_755..=1_795_259_762).contains(&logon),
            "{token}: {logon}"
        );
        assert_ne!(info.logon_time.0 % 10_000_000, 0, "{token}");
        assert_eq!(info.logoff_time, FileTime::NEVER);
    }
}

#[test]
fn carol_has_her_300_groups() {
    let t = open(CAROL.0, CAROL.1);
    let pac = Pac::extract(&t.pac).unwrap();
    assert_eq!(pac.user_sid(), in_domain(1104));
    let mut expected = vec![in_domain(513)];
    expected.extend((1115..=1414).map(in_domain));
    expected.push(sid(ASSERTED_IDENTITY));
    assert_eq!(pac.group_sids(), expected);
    assert_eq!(pac.logon_info().group_ids.len(), 301);
    assert_eq!(pac.upn(), Some("carol@corp.test"));
}

#[test]
fn dave_has_his_1000_groups() {
    let t = open(DAVE.0, DAVE.1);
    let pac = Pac::extract(&t.pac).unwrap();
    assert_eq!(pac.user_sid(), in_domain(1105));
    let mut expected = vec![in_domain(513)];
    expected.extend((1115..=2114).map(in_domain));
    expected.push(sid(ASSERTED_IDENTITY));
    assert_eq!(pac.group_sids().len(), 1002);
    assert_eq!(pac.group_sids(), expected);
    assert_eq!(
        pac.buffer(buffer_type::LOGON_INFO).unwrap().data.len(),
        8464
    );
    assert_eq!(pac.verify_server_checksum(&t.pac_key), Ok(()));
}

#[test]
fn signature_types_follow_the_keys() {
    // The server signature goes with the service key, the KDC's with the krbtgt key (aes256
    // in this domain), so the RC4 ticket carries one of each.
    for (token, keytab, server) in [
        (ALICE_AES.0, ALICE_AES.1, 16),
        (ALICE_RC4.0, ALICE_RC4.1, -138),
    ] {
        let t = open(token, keytab);
        let pac = Pac::extract(&t.pac).unwrap();
        assert_eq!(t.enctype.checksum_type(), server);
        assert_eq!(pac.server_signature().unwrap().signature_type, server);
        assert_eq!(pac.kdc_signature().unwrap().signature_type, 16);
        assert_eq!(pac.kdc_signature().unwrap().rodc_identifier, None);
    }
}

#[test]
fn another_key_of_the_keytab_is_refused_by_type_or_value() {
    let t = open(ALICE_AES.0, ALICE_AES.1);
    let pac = Pac::extract(&t.pac).unwrap();
    for k in t.gw_keys.iter() {
        let key = k.key.usage_key(KeyUsage::PAC_CHECKSUM).unwrap();
        let expected = match k.key.enctype() {
            Enctype::Aes256CtsHmacSha196 => Ok(()),
            e => Err(PacError::ChecksumTypeMismatch {
                expected: e.checksum_type(),
                got: 16,
            }),
        };
        assert_eq!(
            pac.verify_server_checksum(&key),
            expected,
            "{}",
            k.key.enctype()
        );
    }
    // The rc4 service's key has the right type for the RC4 ticket's PAC but not its value.
    let rc4 = open(ALICE_RC4.0, ALICE_RC4.1);
    let gw_rc4 = t
        .gw_keys
        .iter()
        .find(|k| k.key.enctype() == Enctype::Rc4Hmac)
        .unwrap()
        .key
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .unwrap();
    assert_eq!(
        Pac::extract(&rc4.pac)
            .unwrap()
            .verify_server_checksum(&gw_rc4),
        Err(PacError::BadServerChecksum)
    );
}

/// Verifies `pac` after flipping one bit at `at`.
fn verify_flipped(t: &Ticket, at: usize) -> Result<(), PacError> {
    let mut pac = t.pac.clone();
    pac[at] ^= 0x08;
    Pac::extract(&pac)?.verify_server_checksum(&t.pac_key)
}

#[test]
fn a_flipped_bit_fails_the_server_checksum_except_in_the_kdc_signature() {
    for (token, keytab) in [ALICE_AES, ALICE_RC4, DAVE] {
        let t = open(token, keytab);
        let pac = Pac::extract(&t.pac).unwrap();
        let in_buffer = |ul_type: u32, skip: usize| {
            let b = pac.buffer(ul_type).unwrap();
            b.offset + skip
        };
        // A group RID (the first GroupIds entry sits after the names; its octets are the
        // same in every capture's layout up to there, so take the last group's RID), the
        // client name, the UPN, the server signature itself, the ticket and full signatures.
        let logon = pac.buffer(buffer_type::LOGON_INFO).unwrap();
        let last_rid = logon.data.len() - 24;
        for at in [
            logon.offset + last_rid,
            in_buffer(buffer_type::CLIENT_INFO, 10),
            in_buffer(buffer_type::UPN_DNS_INFO, 0x18),
            in_buffer(buffer_type::SERVER_CHECKSUM, 4),
            in_buffer(buffer_type::TICKET_CHECKSUM, 4),
            in_buffer(buffer_type::FULL_CHECKSUM, 8),
        ] {
            assert_eq!(
                verify_flipped(&t, at),
                Err(PacError::BadServerChecksum),
                "{token}: bit flipped at {at}"
            );
        }
        // The KDC signature is zeroed before the server checksum, so it is not covered.
        assert_eq!(
            verify_flipped(&t, in_buffer(buffer_type::KDC_CHECKSUM, 4)),
            Ok(())
        );
    }
}

#[test]
fn the_ticket_and_full_signatures_are_not_zeroed_for_the_server_checksum() {
    // MS-PAC §2.8: both are made before the server signature, so they are part of what it
    // signs. Zeroing them too (as for the full signature's own computation) does not verify.
    let t = open(ALICE_AES.0, ALICE_AES.1);
    let pac = Pac::extract(&t.pac).unwrap();
    let server = pac.server_signature().unwrap().signature.to_vec();
    let zeroed = |types: &[u32]| {
        let mut copy = t.pac.clone();
        for b in pac.buffers().iter().filter(|b| types.contains(&b.ul_type)) {
            copy[b.offset + 4..b.offset + b.data.len()].fill(0);
        }
        t.pac_key.verify_checksum(&copy, &server)
    };
    assert!(zeroed(&[6, 7]).is_ok());
    assert!(zeroed(&[6, 7, 16, 19]).is_err());
    assert!(zeroed(&[6, 7, 19]).is_err());
}
