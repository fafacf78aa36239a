use std::time::Duration;

use super::*;
use crate::proto::crypto::{Key, KeyUsage};
use crate::proto::gss::channel_binding_hash;
use crate::proto::keytab::{Keytab, KeytabEntry};
use crate::proto::krb::messages::TAG_ENC_AP_REP_PART;
use crate::proto::mint::{mint_ap_req, raw_token, spnego_token, TokenSpec};
use crate::proto::replay::MemoryReplayCache;
use crate::proto::spnego::{oid, KrbOid};

/// A deterministic counter "RNG": tests need distinct, not unpredictable, bytes.
struct Counter(u64);

impl Randomness for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            *b = (self.0 >> 56) as u8;
        }
    }
}

const NOW: i64 = 1_795_257_000;

struct Fixture {
    acceptor: Acceptor,
    keys: ServiceKeys,
    replay: MemoryReplayCache,
    rng: Counter,
    service: Principal,
    aes: Key,
    rc4: Key,
}

impl Fixture {
    fn new() -> Self {
        let service = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
        let aes = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x42; 32]).unwrap();
        let aes128 = Key::from_bytes(Enctype::Aes128CtsHmacSha196, &[0x43; 16]).unwrap();
        let rc4 = Key::from_bytes(Enctype::Rc4Hmac, &[0x44; 16]).unwrap();
        let keytab = Keytab {
            entries: vec![
                KeytabEntry::new(service.clone(), 2, aes.clone(), 0),
                KeytabEntry::new(service.clone(), 2, aes128, 0),
                KeytabEntry::new(service.clone(), 2, rc4.clone(), 0),
            ],
        };
        let config = AcceptorConfig {
            spns: vec![service.clone()],
            ..AcceptorConfig::default()
        };
        Self {
            acceptor: Acceptor::new(config),
            keys: ServiceKeys::from_keytab(&keytab),
            replay: MemoryReplayCache::new(Duration::from_secs(600), 1000),
            rng: Counter(7),
            service,
            aes,
            rc4,
        }
    }

    fn spec(&self) -> TokenSpec {
        TokenSpec::new(
            Principal::parse("alice@CORP.TEST").unwrap(),
            Enctype::Aes256CtsHmacSha196,
            NOW,
        )
    }

    fn mint(&mut self, spec: &TokenSpec) -> (Vec<u8>, Key) {
        let service = self.service.clone();
        let key = self.aes.clone();
        let m = mint_ap_req(&service, &key, Some(2), spec, &mut self.rng);
        (spnego_token(&m.ap_req, KrbOid::Microsoft), m.session_key)
    }

    fn accept_at(&mut self, token: &[u8], now: i64) -> Result<Accepted, AcceptError> {
        let req = AcceptRequest {
            token,
            now,
            channel_binding: None,
        };
        self.acceptor
            .accept(&self.keys, &self.replay, &mut self.rng, &req)
    }

    fn accept(&mut self, token: &[u8]) -> Result<Accepted, AcceptError> {
        self.accept_at(token, NOW)
    }
}

/// Decrypts the AP-REP inside a NegTokenResp as a client would, returning the EncAPRepPart.
fn open_ap_rep(resp: &[u8], session_key: &Key) -> Vec<u8> {
    // The AP-REP cipher is the last OCTET STRING; find the GSS framing and parse down.
    let gss_start = resp.windows(2).position(|w| w == [0x02, 0x00]).unwrap() + 2;
    let ap_rep = &resp[gss_start..];
    let decoded: picky_krb::messages::ApRep = picky_asn1_der::from_bytes(ap_rep).unwrap();
    let cipher = decoded.0.enc_part.0.cipher.0 .0;
    session_key
        .usage_key(KeyUsage::AP_REP_ENC_PART)
        .unwrap()
        .decrypt(&cipher)
        .unwrap()
}

#[test]
fn accepts_a_spnego_token_and_answers_with_an_ap_rep() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let (token, session_key) = f.mint(&spec);
    let ok = f.accept(&token).unwrap();
    assert_eq!(ok.client.to_string(), "alice@CORP.TEST");
    assert_eq!(ok.service.to_string(), "HTTP/gw.corp.test@CORP.TEST");
    assert_eq!(
        (ok.ticket_enctype, ok.kvno, ok.session_enctype),
        (
            Enctype::Aes256CtsHmacSha196,
            2,
            Enctype::Aes256CtsHmacSha196
        )
    );
    assert_eq!((ok.auth_time, ok.end_time), (NOW, NOW + 36_000));

    let resp = ok.response_token.unwrap();
    // NegTokenResp: accept-completed and the client's first mechanism (the Microsoft OID).
    assert!(resp.windows(5).any(|w| w == [0xa0, 0x03, 0x0a, 0x01, 0x00]));
    assert!(resp.windows(oid::MS_KRB5.len()).any(|w| w == oid::MS_KRB5));
    let part = open_ap_rep(&resp, &session_key);
    assert_eq!(part[0], TAG_ENC_AP_REP_PART);
    let decoded: picky_krb::data_types::EncApRepPart = picky_asn1_der::from_bytes(&part).unwrap();
    assert_eq!(decoded.0.cusec.0 .0, vec![0]);
    let subkey = decoded.0.subkey.0.unwrap().0;
    assert_eq!(subkey.key_type.0 .0, vec![18]);
    assert!(decoded.0.seq_number.0.is_some());
}

#[test]
fn accepts_raw_tokens_and_every_enctype() {
    let mut f = Fixture::new();
    for (enctype, session) in [
        (Enctype::Aes128CtsHmacSha196, Enctype::Aes128CtsHmacSha196),
        (Enctype::Rc4Hmac, Enctype::Rc4Hmac),
        (Enctype::Aes256CtsHmacSha196, Enctype::Rc4Hmac),
    ] {
        let key = match enctype {
            Enctype::Rc4Hmac => f.rc4.clone(),
            Enctype::Aes128CtsHmacSha196 => Key::from_bytes(enctype, &[0x43; 16]).unwrap(),
            Enctype::Aes256CtsHmacSha196 => f.aes.clone(),
        };
        let mut spec = f.spec();
        spec.session_enctype = session;
        let service = f.service.clone();
        let m = mint_ap_req(&service, &key, Some(2), &spec, &mut f.rng);
        let ok = f.accept(&raw_token(&m.ap_req)).unwrap();
        assert_eq!(ok.ticket_enctype, enctype);
        assert_eq!(ok.session_enctype, session);
        // Raw framing answers with the bare AP-REP token; RC4 sessions get no subkey.
        let resp = ok.response_token.unwrap();
        assert_eq!(&resp[..1], &[0x60]);
        let part = open_ap_rep(&resp, &m.session_key);
        let decoded: picky_krb::data_types::EncApRepPart =
            picky_asn1_der::from_bytes(&part).unwrap();
        assert_eq!(decoded.0.subkey.0.is_some(), session != Enctype::Rc4Hmac);
    }
}

#[test]
fn without_mutual_there_is_no_ap_rep() {
    let mut f = Fixture::new();
    let mut spec = f.spec();
    spec.ap_options = 0;
    spec.gss_flags = 0;
    let (token, _) = f.mint(&spec);
    let resp = f.accept(&token).unwrap().response_token.unwrap();
    // A NegTokenResp with negState and supportedMech only.
    assert!(!resp
        .windows(2)
        .any(|w| w == [0xa2, 0x81] || w == [0xa2, 0x82]));

    let service = f.service.clone();
    let key = f.aes.clone();
    let m = mint_ap_req(&service, &key, Some(2), &spec, &mut f.rng);
    assert_eq!(
        f.accept(&raw_token(&m.ap_req)).unwrap().response_token,
        None
    );
}

#[test]
fn a_token_is_accepted_once() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let (token, _) = f.mint(&spec);
    assert!(f.accept(&token).is_ok());
    assert_eq!(f.accept(&token).unwrap_err(), AcceptError::Replay);
}

/// Found by tests/tests/differential.rs: the ticket's sname and realm are cleartext and matched
/// ignoring case, so a replay with `HTTP/GW.CORP.TEST@corp.test` in them used to get a
/// fingerprint of its own and pass.
#[test]
fn a_replay_with_the_cleartext_service_name_recased_is_a_replay() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let (token, _) = f.mint(&spec);
    assert!(f.accept(&token).is_ok());
    let upper_host = replace_first(&token, b"gw.corp.test", b"GW.CORP.TEST");
    let lower_realm = replace_first(&token, b"CORP.TEST", b"corp.test");
    for (what, t) in [("sname", upper_host), ("realm", lower_realm)] {
        assert_ne!(t, token);
        assert_eq!(f.accept(&t).unwrap_err(), AcceptError::Replay, "{what}");
    }
}

/// `buf` with the first occurrence of `from` replaced by `to` (same length).
fn replace_first(buf: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let pos = buf.windows(from.len()).position(|w| w == from).unwrap();
    let mut out = buf.to_vec();
    out[pos..pos + from.len()].copy_from_slice(to);
    out
}

#[test]
fn refuses_tickets_for_other_services() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let key = f.aes.clone();
    let other = Principal::parse("HTTP/other.corp.test@CORP.TEST").unwrap();
    let m = mint_ap_req(&other, &key, Some(2), &spec, &mut f.rng);
    assert_eq!(
        f.accept(&raw_token(&m.ap_req)).unwrap_err(),
        AcceptError::WrongSpn {
            expected: "HTTP/gw.corp.test@CORP.TEST".into(),
            got: "HTTP/other.corp.test@CORP.TEST".into()
        }
    );
    let realm = Principal::parse("HTTP/gw.corp.test@OTHER.TEST").unwrap();
    let m = mint_ap_req(&realm, &key, Some(2), &spec, &mut f.rng);
    assert_eq!(
        f.accept(&raw_token(&m.ap_req)).unwrap_err(),
        AcceptError::WrongRealm {
            expected: "CORP.TEST".into(),
            got: "OTHER.TEST".into()
        }
    );
    // Case differences in the SPN are fine (AD compares case-insensitively).
    let upper = Principal::parse("HTTP/GW.CORP.TEST@CORP.TEST").unwrap();
    let m = mint_ap_req(&upper, &key, Some(2), &spec, &mut f.rng);
    let ok = f.accept(&raw_token(&m.ap_req)).unwrap();
    // Reported as the keytab spells it, not as the client did.
    assert_eq!(ok.service.to_string(), "HTTP/gw.corp.test@CORP.TEST");
}

#[test]
fn names_the_missing_key_and_the_stale_keytab() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let service = f.service.clone();
    let key = f.aes.clone();
    let m = mint_ap_req(&service, &key, Some(3), &spec, &mut f.rng);
    assert_eq!(
        f.accept(&raw_token(&m.ap_req)).unwrap_err(),
        AcceptError::NoKey {
            detail:
                "keytab has no key for HTTP/gw.corp.test@CORP.TEST kvno 3 aes256-cts-hmac-sha1-96; \
                     it has kvno 2 (aes256, aes128, rc4-hmac)"
                    .into()
        }
    );
    // The password changed but the kvno did not: the ticket is encrypted in another key.
    let new_password_key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x99; 32]).unwrap();
    let m = mint_ap_req(&service, &new_password_key, Some(2), &spec, &mut f.rng);
    let err = f.accept(&raw_token(&m.ap_req)).unwrap_err();
    assert_eq!(
        err,
        AcceptError::TicketDecryptFailed {
            principal: "HTTP/gw.corp.test@CORP.TEST".into(),
            kvno: 2,
            enctype: "aes256-cts-hmac-sha1-96",
            kvno_matched: true
        }
    );
    assert_eq!(err.fault(), crate::proto::error::Fault::Client);
}

#[test]
fn checks_times_as_of_the_given_clock() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let (token, _) = f.mint(&spec);
    assert_eq!(
        f.accept_at(&token, NOW + 301).unwrap_err(),
        AcceptError::ClockSkew {
            ctime: NOW,
            now: NOW + 301,
            skew: 300
        }
    );
    // Ticket times come first, as in MIT (krb5int_validate_times before the skew check):
    // 301 s before the ticket's start it is not valid yet, whatever the authenticator says.
    assert_eq!(
        f.accept_at(&token, NOW - 301).unwrap_err(),
        AcceptError::TicketNotYetValid {
            starttime: NOW,
            now: NOW - 301,
            skew: 300
        }
    );
    let mut early = f.spec();
    early.starttime = Some(NOW - 1000);
    let (early_token, _) = f.mint(&early);
    assert_eq!(
        f.accept_at(&early_token, NOW - 301).unwrap_err(),
        AcceptError::ClockSkew {
            ctime: NOW,
            now: NOW - 301,
            skew: 300
        }
    );
    // Within skew it passes, as of that time.
    assert!(f.accept_at(&token, NOW + 300).is_ok());

    // An expired ticket with a stale authenticator, as a token replayed after the ticket's
    // end: MIT says "Ticket expired", and so do we (found by tests/tests/differential.rs).
    let mut short = f.spec();
    short.endtime = NOW + 4;
    let (short_token, _) = f.mint(&short);
    assert_eq!(
        f.accept_at(&short_token, NOW + 310).unwrap_err(),
        AcceptError::TicketExpired {
            endtime: NOW + 4,
            now: NOW + 310,
            skew: 300
        }
    );

    let mut expired = f.spec();
    expired.authtime = NOW - 40_000;
    expired.starttime = Some(NOW - 40_000);
    expired.endtime = NOW - 301;
    let (token, _) = f.mint(&expired);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::TicketExpired {
            endtime: NOW - 301,
            now: NOW,
            skew: 300
        }
    );

    let mut future = f.spec();
    future.starttime = Some(NOW + 301);
    let (token, _) = f.mint(&future);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::TicketNotYetValid {
            starttime: NOW + 301,
            now: NOW,
            skew: 300
        }
    );

    let mut invalid = f.spec();
    invalid.ticket_flags |= crate::proto::krb::messages::ticket_flags::INVALID;
    let (token, _) = f.mint(&invalid);
    assert_eq!(f.accept(&token).unwrap_err(), AcceptError::TicketInvalid);
}

#[test]
fn checks_the_authenticator() {
    let mut f = Fixture::new();
    let mut mallory = f.spec();
    mallory.authenticator_client = Some(Principal::parse("mallory@CORP.TEST").unwrap());
    let (token, _) = f.mint(&mallory);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::ClientMismatch {
            ticket: "alice@CORP.TEST".into(),
            authenticator: "mallory@CORP.TEST".into()
        }
    );

    let mut no_cksum = f.spec();
    no_cksum.checksum_override = Some(None);
    let (token, _) = f.mint(&no_cksum);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadChecksum {
            what: "authenticator has no checksum"
        }
    );

    let mut wrong_type = f.spec();
    wrong_type.checksum_override = Some(Some((16, vec![0; 12])));
    let (token, _) = f.mint(&wrong_type);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::BadChecksum {
            what: "checksum type is not 0x8003"
        }
    );

    // Found by tests/tests/differential.rs: MIT refuses an authenticator subkey whose
    // enctype is not permitted; it also sets the enctype of our AP-REP subkey.
    let mut des_subkey = f.spec();
    des_subkey.subkey_override = Some((1, vec![7; 8]));
    let (token, _) = f.mint(&des_subkey);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::UnsupportedEnctype { etype: 1 }
    );
    // Only its enctype matters to us (MIT does not check the length either).
    let mut short_subkey = f.spec();
    short_subkey.subkey_override = Some((18, vec![7; 16]));
    let (token, _) = f.mint(&short_subkey);
    assert!(f.accept(&token).is_ok());

    let mut u2u = f.spec();
    u2u.ap_options |= crate::proto::krb::messages::ap_options::USE_SESSION_KEY;
    let (token, _) = f.mint(&u2u);
    assert_eq!(
        f.accept(&token).unwrap_err(),
        AcceptError::UnsupportedOption {
            what: "user-to-user (use-session-key)"
        }
    );
}

#[test]
fn checks_channel_bindings() {
    let mut f = Fixture::new();
    let cb = channel_binding_hash(b"tls-server-end-point:0123");
    let mut spec = f.spec();
    spec.channel_binding = cb;
    let (token, _) = f.mint(&spec);
    let req = AcceptRequest {
        token: &token,
        now: NOW,
        channel_binding: None,
    };
    assert_eq!(
        f.acceptor
            .accept(&f.keys, &f.replay, &mut f.rng, &req)
            .unwrap_err(),
        AcceptError::ChannelBindingMismatch
    );
    let req = AcceptRequest {
        token: &token,
        now: NOW,
        channel_binding: Some(&cb),
    };
    assert!(f
        .acceptor
        .accept(&f.keys, &f.replay, &mut f.rng, &req)
        .is_ok());
}

#[test]
fn tampering_anywhere_is_refused_without_panic() {
    let mut f = Fixture::new();
    let spec = f.spec();
    let (token, _) = f.mint(&spec);
    for pos in 0..token.len() {
        for bit in [0, 3, 7] {
            let mut t = token.clone();
            t[pos] ^= 1 << bit;
            // A fresh replay cache each time so only the tampering decides.
            f.replay = MemoryReplayCache::new(Duration::from_secs(600), 1000);
            if let Ok(ok) = f.accept(&t) {
                // Only octets outside what is authenticated may change without effect:
                // the SPNEGO wrapper's mech list (still Kerberos) and the ticket's kvno
                // field; either way the identity must be the real one.
                assert_eq!(
                    ok.client.to_string(),
                    "alice@CORP.TEST",
                    "flip at {pos} bit {bit}"
                );
            }
        }
    }
}

#[test]
fn any_principal_in_the_keytab_when_no_spn_is_configured() {
    let mut f = Fixture::new();
    f.acceptor = Acceptor::new(AcceptorConfig::default());
    let spec = f.spec();
    let (token, _) = f.mint(&spec);
    assert!(f.accept(&token).is_ok());
    let key = f.aes.clone();
    let other = Principal::parse("HTTP/other.corp.test@CORP.TEST").unwrap();
    let m = mint_ap_req(&other, &key, Some(2), &spec, &mut f.rng);
    assert!(matches!(
        f.accept(&raw_token(&m.ap_req)),
        Err(AcceptError::WrongSpn { .. })
    ));
}

#[path = "acceptor_pac_test.rs"]
mod pac;
