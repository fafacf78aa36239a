//! Tokens captured from the throw-away Samba 4.17 AD DC of `tests/ad` (how, when and with which
//! keytabs: `tests/vectors/README.md`). Each is accepted as of its capture time with the exact
//! identity, and the usual failures give their exact errors.

mod common;

use kdc_bridge::proto::crypto::Enctype;
use kdc_bridge::proto::error::AcceptError;
use kdc_bridge::proto::gss::flags;
use kdc_bridge::proto::krb::messages::extract_ap_req;
use kdc_bridge::proto::spnego::extract_client_token;

use common::{vector, vector_number, Service};

const GW: &str = "HTTP/gw.corp.test@CORP.TEST";
const RC4: &str = "HTTP/rc4.corp.test@CORP.TEST";

/// One captured token and what it must give.
struct Capture {
    file: &'static str,
    keytab: &'static str,
    spn: &'static str,
    client: &'static str,
    ticket_enctype: Enctype,
    session_enctype: Enctype,
    kvno: u32,
    /// The authenticator's ctime.
    ctime: i64,
    /// The PAC's group SIDs: Domain Users, the groups, and `S-1-18-1`.
    groups: usize,
    /// The ticket's authtime and endtime (ten hours later, AD's default).
    auth_time: i64,
    end_time: i64,
}

/// The script logs in and asks for each token within the same second (2026-11-21T11:16:02Z),
/// so the times coincide; a new capture changes them (the failures print the new values).
const CAPTURES: &[Capture] = &[
    Capture {
        file: "samba/alice-aes256-spnego.bin",
        keytab: "samba/gw.keytab",
        spn: GW,
        client: "alice@CORP.TEST",
        ticket_enctype: Enctype::Aes256CtsHmacSha196,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        kvno: 1,
        groups: 5,
        ctime: 1_795_259_762,
        auth_time: 1_795_259_762,
        end_time: 1_795_295_762,
    },
    Capture {
        file: "samba/alice-aes256-raw.bin",
        keytab: "samba/gw.keytab",
        spn: GW,
        client: "alice@CORP.TEST",
        ticket_enctype: Enctype::Aes256CtsHmacSha196,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        kvno: 1,
        groups: 5,
        ctime: 1_795_259_762,
        auth_time: 1_795_259_762,
        end_time: 1_795_295_762,
    },
    Capture {
        file: "samba/alice-rc4-ticket-spnego.bin",
        keytab: "samba/rc4.keytab",
        spn: RC4,
        client: "alice@CORP.TEST",
        ticket_enctype: Enctype::Rc4Hmac,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        kvno: 1,
        groups: 5,
        ctime: 1_795_259_762,
        auth_time: 1_795_259_762,
        end_time: 1_795_295_762,
    },
    Capture {
        file: "samba/carol-300-groups-spnego.bin",
        keytab: "samba/gw.keytab",
        spn: GW,
        client: "carol@CORP.TEST",
        ticket_enctype: Enctype::Aes256CtsHmacSha196,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        kvno: 1,
        groups: 302,
        ctime: 1_795_259_762,
        auth_time: 1_795_259_762,
        end_time: 1_795_295_762,
    },
    Capture {
        file: "samba/dave-1000-groups-spnego.bin",
        keytab: "samba/gw.keytab",
        spn: GW,
        client: "dave@CORP.TEST",
        ticket_enctype: Enctype::Aes256CtsHmacSha196,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        kvno: 1,
        groups: 1002,
        ctime: 1_795_259_762,
        auth_time: 1_795_259_762,
        end_time: 1_795_295_762,
    },
];

fn captured_at() -> i64 {
    vector_number("samba/captured-at")
}

impl Capture {
    fn token(&self) -> Vec<u8> {
        vector(self.file)
    }

    fn service(&self) -> Service {
        Service::new(self.keytab, self.spn)
    }
}

/// `token` with one bit flipped in the middle of the ticket (`ticket`) or authenticator
/// ciphertext, located with our own parsers.
fn flip_in_cipher(token: &[u8], ticket: bool) -> Vec<u8> {
    let ap_req = extract_client_token(token).expect("token parses").ap_req;
    let parsed = extract_ap_req(ap_req).expect("AP-REQ parses");
    let cipher = if ticket {
        parsed.ticket.enc_part.cipher
    } else {
        parsed.authenticator.cipher
    };
    let offset = cipher.as_ptr() as usize - token.as_ptr() as usize + cipher.len() / 2;
    let mut out = token.to_vec();
    out[offset] ^= 0x10;
    out
}

#[test]
fn every_capture_is_accepted_as_of_its_capture_time() {
    let now = captured_at();
    for c in CAPTURES {
        let ok = c
            .service()
            .accept(&c.token(), now)
            .unwrap_or_else(|e| panic!("{}: {e:?}", c.file));
        assert_eq!(ok.client.to_string(), c.client, "{}", c.file);
        assert_eq!(ok.service.to_string(), c.spn, "{}", c.file);
        assert_eq!(
            (ok.ticket_enctype, ok.session_enctype, ok.kvno),
            (c.ticket_enctype, c.session_enctype, c.kvno),
            "{}",
            c.file
        );
        assert_eq!(
            (ok.auth_time, ok.end_time),
            (c.auth_time, c.end_time),
            "{}",
            c.file
        );
        // MIT's client asks for mutual authentication: the answer carries an AP-REP.
        assert!(ok.gss_flags & flags::MUTUAL != 0, "{}", c.file);
        assert!(ok.response_token.is_some(), "{}", c.file);
        // The PAC verified (its content is checked in `pac_samba.rs`) and names the client.
        let pac = ok.pac.unwrap_or_else(|| panic!("{}: no PAC", c.file));
        let account = c.client.split('@').next().unwrap_or_default();
        assert_eq!(pac.account_name, account, "{}", c.file);
        assert_eq!(pac.group_sids.len(), c.groups, "{}", c.file);
    }
}

#[test]
fn an_hour_later_the_authenticator_is_too_old() {
    let now = captured_at() + 3600;
    for c in CAPTURES {
        assert_eq!(
            c.service().accept(&c.token(), now).unwrap_err(),
            AcceptError::ClockSkew {
                ctime: c.ctime,
                now,
                skew: 300
            },
            "{}",
            c.file
        );
    }
}

#[test]
fn a_second_use_is_a_replay() {
    let now = captured_at();
    for c in CAPTURES {
        let mut service = c.service();
        let token = c.token();
        assert!(service.accept(&token, now).is_ok(), "{}", c.file);
        assert_eq!(
            service.accept(&token, now + 1).unwrap_err(),
            AcceptError::Replay,
            "{}",
            c.file
        );
    }
}

#[test]
fn the_rc4_ticket_is_not_for_the_gateway() {
    let rc4 = CAPTURES
        .iter()
        .find(|c| c.spn == RC4)
        .expect("an RC4 capture");
    let mut gw = Service::new("samba/gw.keytab", GW);
    assert_eq!(
        gw.accept(&rc4.token(), captured_at()).unwrap_err(),
        AcceptError::WrongSpn {
            expected: GW.into(),
            got: RC4.into()
        }
    );
}

#[test]
fn a_flipped_bit_in_the_ticket_cipher_fails_its_integrity_check() {
    for c in CAPTURES {
        let token = flip_in_cipher(&c.token(), true);
        assert_eq!(
            c.service().accept(&token, captured_at()).unwrap_err(),
            AcceptError::TicketDecryptFailed {
                principal: c.spn.into(),
                kvno: c.kvno,
                enctype: c.ticket_enctype.name(),
                kvno_matched: true
            },
            "{}",
            c.file
        );
    }
}

#[test]
fn a_flipped_bit_in_the_authenticator_cipher_fails_its_integrity_check() {
    for c in CAPTURES {
        let token = flip_in_cipher(&c.token(), false);
        assert_eq!(
            c.service().accept(&token, captured_at()).unwrap_err(),
            AcceptError::AuthenticatorDecryptFailed,
            "{}",
            c.file
        );
    }
}
