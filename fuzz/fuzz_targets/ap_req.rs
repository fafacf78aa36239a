//! The Kerberos message readers on the same input: `extract_ap_req` (what arrives in the
//! token), and `extract_enc_ticket_part` and `extract_authenticator` (what decryption yields,
//! which the fuzzer cannot reach through `acceptor` without the key).
//!
//! Properties: no panic, no allocation beyond the `MAX_COMPONENTS` name bound; and whatever
//! decodes is re-encoded by the `mint` builders and decodes to the same value, except for the
//! fields those builders never write (the authenticator's `kvno` in an AP-REQ, `caddr` in an
//! EncTicketPart, `authorization-data` in an Authenticator), which must come back absent.

#![no_main]

use kdc_bridge::proto::krb::build::{
    build_ap_req, build_authenticator, build_enc_ticket_part, build_ticket, AuthenticatorSpec,
    EncTicketPartSpec, Name,
};
use kdc_bridge::proto::krb::messages::{
    extract_ap_req, extract_authenticator, extract_enc_ticket_part, ApReq, Authenticator,
    EncTicketPart, PrincipalName,
};
use libfuzzer_sys::fuzz_target;

fn name<'a>(p: &'a PrincipalName<'a>) -> Name<'a> {
    Name {
        name_type: p.name_type,
        components: &p.components,
    }
}

fn check_ap_req(req: &ApReq<'_>) {
    let t = &req.ticket;
    let ticket = build_ticket(
        t.realm,
        name(&t.sname),
        t.enc_part.etype,
        t.enc_part.kvno,
        t.enc_part.cipher,
    );
    let a = &req.authenticator;
    let bytes = build_ap_req(req.ap_options, &ticket, a.etype, a.cipher);
    let back = extract_ap_req(&bytes).expect("an AP-REQ we built parses");
    let mut expected = req.clone();
    expected.authenticator.kvno = None;
    assert_eq!(back, expected);
}

fn check_enc_ticket_part(part: &EncTicketPart<'_>) {
    let bytes = build_enc_ticket_part(&EncTicketPartSpec {
        flags: part.flags,
        session_key: (part.key.keytype, part.key.value),
        crealm: part.crealm,
        cname: name(&part.cname),
        authtime: part.authtime,
        starttime: part.starttime,
        endtime: part.endtime,
        renew_till: part.renew_till,
        authorization_data: part.authorization_data,
    });
    let back = extract_enc_ticket_part(&bytes).expect("an EncTicketPart we built parses");
    let mut expected = part.clone();
    expected.caddr = None;
    assert_eq!(back, expected);
}

fn check_authenticator(auth: &Authenticator<'_>) {
    let bytes = build_authenticator(&AuthenticatorSpec {
        crealm: auth.crealm,
        cname: name(&auth.cname),
        cksum: auth.cksum.map(|c| (c.cksumtype, c.value)),
        cusec: auth.cusec,
        ctime: auth.ctime,
        subkey: auth.subkey.map(|k| (k.keytype, k.value)),
        seq_number: auth.seq_number,
    });
    let back = extract_authenticator(&bytes).expect("an Authenticator we built parses");
    let mut expected = auth.clone();
    expected.authorization_data = None;
    assert_eq!(back, expected);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = extract_ap_req(data) {
        check_ap_req(&req);
    }
    if let Ok(part) = extract_enc_ticket_part(data) {
        check_enc_ticket_part(&part);
    }
    if let Ok(auth) = extract_authenticator(data) {
        check_authenticator(&auth);
    }
});
