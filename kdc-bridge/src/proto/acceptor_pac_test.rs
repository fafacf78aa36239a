//! The acceptor and the PAC: verified and handed on, or the ticket refused.

use super::*;
use crate::proto::error::KrbErrorCode;
use crate::proto::pac::build::{build_authorization_data, PacSpec, TEST_DOMAIN_SID};
use crate::proto::pac::{PacError, Sid};

/// The PAC `spec` signed with the fixture's AES-256 service key (and any KDC key).
fn signed_pac(f: &Fixture, spec: &PacSpec) -> Vec<u8> {
    let server = f.aes.usage_key(KeyUsage::PAC_CHECKSUM).unwrap();
    let kdc = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x99; 32])
        .unwrap()
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .unwrap();
    spec.build(&server, &kdc).unwrap()
}

/// A token for alice whose ticket carries `pac`.
fn token_with(f: &mut Fixture, pac: &[u8]) -> Vec<u8> {
    let mut spec = f.spec();
    spec.authorization_data = Some(build_authorization_data(pac));
    f.mint(&spec).0
}

fn alice(groups: usize) -> PacSpec {
    PacSpec::new("alice", "CORP.TEST", NOW, groups)
}

fn with_policy(policy: PacPolicy) -> Fixture {
    let mut f = Fixture::new();
    let mut config = f.acceptor.config().clone();
    config.pac = policy;
    f.acceptor = Acceptor::new(config);
    f
}

#[test]
fn a_verified_pac_reaches_the_caller() {
    let mut f = Fixture::new();
    let pac = signed_pac(&f, &alice(2));
    let token = token_with(&mut f, &pac);
    let ok = f.accept(&token).unwrap();
    let id = ok.pac.expect("the PAC's identity");
    assert_eq!(id.user_sid, TEST_DOMAIN_SID.with_rid(1102).unwrap());
    assert_eq!(id.upn.as_deref(), Some("alice@corp.test"));
    assert_eq!(id.logon_domain_name, "CORP");
    let expected: Vec<Sid> = [513, 1200, 1201]
        .iter()
        .map(|&rid| TEST_DOMAIN_SID.with_rid(rid).unwrap())
        .chain(["S-1-18-1".parse().unwrap()])
        .collect();
    // Domain Users is both the primary group and in GroupIds: listed once.
    assert_eq!(id.group_sids, expected);
}

#[test]
fn a_thousand_groups_pass_through() {
    let mut f = Fixture::new();
    let pac = signed_pac(&f, &alice(1000));
    let token = token_with(&mut f, &pac);
    let id = f.accept(&token).unwrap().pac.unwrap();
    assert_eq!(id.group_sids.len(), 1002);
}

/// Flips one octet of a group RID after signing: the server checksum no longer matches.
#[test]
fn an_altered_pac_refuses_the_ticket() {
    let mut f = Fixture::new();
    let mut pac = signed_pac(&f, &alice(2));
    let rid = 1201u32.to_le_bytes();
    let at = pac.windows(4).position(|w| w == rid).unwrap();
    pac[at] ^= 0x01;
    let token = token_with(&mut f, &pac);
    let err = f.accept(&token).unwrap_err();
    assert_eq!(err, AcceptError::BadPac(PacError::BadServerChecksum));
    assert_eq!(err.reason(), "bad_pac");
    assert_eq!(err.pac_reason(), Some("bad_server_checksum"));
    assert_eq!(KrbErrorCode::from(&err), KrbErrorCode::MODIFIED);
    // Refused before the replay cache: a fixed PAC with the same authenticator still passes.
    assert_eq!(f.replay.len(), 0);
}

#[test]
fn a_pac_signed_with_another_key_refuses_the_ticket() {
    let mut f = Fixture::new();
    let other = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x17; 32]).unwrap();
    let server = other.usage_key(KeyUsage::PAC_CHECKSUM).unwrap();
    let pac = alice(1).build(&server, &server).unwrap();
    let token = token_with(&mut f, &pac);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(PacError::BadServerChecksum)
    );
}

#[test]
fn a_pac_for_another_client_refuses_the_ticket() {
    let mut f = Fixture::new();
    let mut spec = alice(1);
    spec.client_name = "mallory".into();
    let pac = signed_pac(&f, &spec);
    let token = token_with(&mut f, &pac);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(PacError::ClientNameMismatch {
            pac: "mallory".into(),
            ticket: "alice".into()
        })
    );
}

#[test]
fn a_pac_from_another_logon_refuses_the_ticket() {
    let mut f = Fixture::new();
    let mut spec = alice(1);
    spec.authtime = NOW - 3600;
    let pac = signed_pac(&f, &spec);
    let token = token_with(&mut f, &pac);
    assert_eq!(
        f.accept(&token).unwrap_err().pac_reason(),
        Some("client_mismatch")
    );
}

#[test]
fn a_missing_pac_is_refused_only_when_required() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let token = f.mint(&spec).0;
    assert!(f.accept(&token).unwrap().pac.is_none());

    let mut f = with_policy(PacPolicy::Require);
    let token = f.mint(&spec).0;
    let err = f.accept(&token).unwrap_err();
    assert_eq!(err, AcceptError::BadPac(PacError::NoPac));
    assert_eq!(err.pac_reason(), Some("no_pac"));
}

#[test]
fn an_ignored_pac_is_not_read() {
    let mut f = with_policy(PacPolicy::Ignore);
    let token = token_with(&mut f, b"not a PAC at all");
    let ok = f.accept(&token).unwrap();
    assert!(ok.pac.is_none());
}

#[test]
fn an_undecodable_pac_refuses_the_ticket_and_shows_in_the_trace() {
    let mut f = Fixture::new();
    let token = token_with(&mut f, &[0u8; 4]);
    let req = AcceptRequest {
        token: &token,
        now: NOW,
        channel_binding: None,
    };
    let mut trace = Trace::default();
    let err = f
        .acceptor
        .accept_traced(&f.keys, &f.replay, &mut f.rng, &req, &mut trace)
        .unwrap_err();
    assert_eq!(err.pac_reason(), Some("malformed"));
    assert!(matches!(trace.pac, Some(PacTrace::Undecodable(_))));
}

/// The trace shows the PAC of a ticket refused for another reason (here: expired).
#[test]
fn the_trace_decodes_the_pac_of_a_refused_ticket() {
    let mut f = Fixture::new();
    let pac = signed_pac(&f, &alice(3));
    let token = token_with(&mut f, &pac);
    let req = AcceptRequest {
        token: &token,
        now: NOW + 86_400,
        channel_binding: None,
    };
    let mut trace = Trace::default();
    let err = f
        .acceptor
        .accept_traced(&f.keys, &f.replay, &mut f.rng, &req, &mut trace)
        .unwrap_err();
    assert_eq!(err.reason(), "ticket_expired");
    let Some(PacTrace::Decoded(id)) = trace.pac else {
        panic!("no decoded PAC in the trace: {:?}", trace.pac);
    };
    assert_eq!(id.account_name, "alice");
    assert_eq!(id.group_sids.len(), 5);
}

/// What an MIT krb5 1.20+ KDC puts in a ticket: client information and the server and KDC
/// signatures, no logon information (no SIDs).
fn mit_kdc_pac(f: &Fixture, name: &str, authtime: i64) -> Vec<u8> {
    use crate::proto::pac::buffer_type;
    use crate::proto::pac::build::{build_pac, sign_pac, signature_placeholder};
    let server = f.aes.usage_key(KeyUsage::PAC_CHECKSUM).unwrap();
    let kdc = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x99; 32])
        .unwrap()
        .usage_key(KeyUsage::PAC_CHECKSUM)
        .unwrap();
    let client = PacSpec::new(name, "CORP.TEST", authtime, 0)
        .client_info()
        .build();
    let mut pac = build_pac(&[
        (buffer_type::CLIENT_INFO, &client),
        (
            buffer_type::SERVER_CHECKSUM,
            &signature_placeholder(&server),
        ),
        (buffer_type::KDC_CHECKSUM, &signature_placeholder(&kdc)),
    ]);
    sign_pac(&mut pac, &server, &kdc).unwrap();
    pac
}

#[test]
fn an_mit_kdc_pac_is_verified_and_names_no_groups() {
    let mut f = Fixture::new();
    let pac = mit_kdc_pac(&f, "alice", NOW);
    let token = token_with(&mut f, &pac);
    let ok = f.accept(&token).unwrap();
    assert!(ok.pac.is_none(), "no logon information, no PAC identity");

    // Still checked: altered after signing, signed for another client, another logon.
    let mut altered = mit_kdc_pac(&f, "alice", NOW);
    let at = altered.len() - 40;
    altered[at] ^= 0x01;
    let token = token_with(&mut f, &altered);
    assert!(matches!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(_)
    ));
    let pac = mit_kdc_pac(&f, "bob", NOW);
    let token = token_with(&mut f, &pac);
    assert!(matches!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(PacError::ClientNameMismatch { .. })
    ));
    let pac = mit_kdc_pac(&f, "alice", NOW - 60);
    let token = token_with(&mut f, &pac);
    assert!(matches!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(PacError::AuthTimeMismatch { .. })
    ));

    // `require` wants AD's PAC, with the SIDs.
    let mut f = with_policy(PacPolicy::Require);
    let pac = mit_kdc_pac(&f, "alice", NOW);
    let token = token_with(&mut f, &pac);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadPac(PacError::MissingBuffer { ul_type: 1 })
    );
}
