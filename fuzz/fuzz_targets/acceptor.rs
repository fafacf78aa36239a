//! The whole acceptor, `Acceptor::accept`, on a client token, with a fixed keytab and time.
//!
//! The keytab holds synthetic keys for `HTTP/gw.corp.test@CORP.TEST` (kvno 2, the seeds
//! minted by `fuzz/examples/make_corpus.rs`) and the keys of the throw-away Samba test
//! domain's `svc-gw` and `svc-rc4` (kvno 1, the captured seeds; `kdc-bridge/tests/vectors/
//! samba/`), and the time is the one the seeds were made for. Mutations outside the ciphertexts keep those
//! seeds decrypting, so the checks after decryption are reached; a mutated ciphertext fails
//! its MAC, as it must.
//!
//! Properties: no panic, no unbounded allocation; every error has a reason, fault and Kerberos
//! error code; a success names the configured service and, for SPNEGO, carries a reply.

#![no_main]

use std::sync::OnceLock;

use kdc_bridge::proto::acceptor::{AcceptRequest, Acceptor, AcceptorConfig, Randomness};
use kdc_bridge::proto::crypto::{Enctype, Key};
use kdc_bridge::proto::error::{AcceptError, KrbErrorCode};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::{Fingerprint, ReplayCache, ReplayError};
use kdc_bridge::proto::spnego::{extract_client_token, Framing};
use libfuzzer_sys::fuzz_target;

/// The time every seed was made for: the Samba captures' (2026-11-21T11:16:02Z, see
/// `kdc-bridge/tests/vectors/samba/captured-at`).
const NOW: i64 = 1_795_259_762;
/// The synthetic service keys, as in `kdc-bridge`'s acceptor tests (and `make_corpus`).
const AES256: [u8; 32] = [0x42; 32];
const AES128: [u8; 16] = [0x43; 16];
const RC4: [u8; 16] = [0x44; 16];
const SERVICE: &str = "HTTP/gw.corp.test@CORP.TEST";
const RC4_SERVICE: &str = "HTTP/rc4.corp.test@CORP.TEST";

struct Fixture {
    acceptor: Acceptor,
    keys: ServiceKeys,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let service = Principal::parse(SERVICE).expect("valid principal");
        let mut keytab = Keytab::extract(include_bytes!(
            "../../kdc-bridge/tests/vectors/samba/gw.keytab"
        ))
        .expect("the Samba keytab parses");
        let rc4 = Keytab::extract(include_bytes!(
            "../../kdc-bridge/tests/vectors/samba/rc4.keytab"
        ))
        .expect("the Samba keytab parses");
        keytab.entries.extend(rc4.entries);
        for (enctype, bytes) in [
            (Enctype::Aes256CtsHmacSha196, &AES256[..]),
            (Enctype::Aes128CtsHmacSha196, &AES128[..]),
            (Enctype::Rc4Hmac, &RC4[..]),
        ] {
            let key = Key::from_bytes(enctype, bytes).expect("right length");
            keytab
                .entries
                .push(KeytabEntry::new(service.clone(), 2, key, 0));
        }
        Fixture {
            acceptor: Acceptor::new(AcceptorConfig {
                spns: vec![
                    service,
                    Principal::parse(RC4_SERVICE).expect("valid principal"),
                ],
                ..AcceptorConfig::default()
            }),
            keys: ServiceKeys::from_keytab(&keytab),
        }
    })
}

/// Every input is a first visit: a shared cache would make the outcome depend on earlier
/// inputs, which libFuzzer cannot reproduce.
struct FreshCache;

impl ReplayCache for FreshCache {
    fn check_and_insert(&self, _: Fingerprint) -> Result<(), ReplayError> {
        Ok(())
    }

    fn len(&self) -> u64 {
        0
    }
}

/// A fixed-seed generator, so that each input runs the same way every time.
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

fuzz_target!(|data: &[u8]| {
    let f = fixture();
    let req = AcceptRequest {
        token: data,
        now: NOW,
        channel_binding: None,
    };
    match f
        .acceptor
        .accept(&f.keys, &FreshCache, &mut Counter(1), &req)
    {
        Ok(ok) => {
            let spns = &f.acceptor.config().spns;
            assert!(spns.iter().any(|s| s.matches(&ok.service)));
            assert!(ok.end_time + f.acceptor.config().max_skew_secs >= NOW);
            let framing = extract_client_token(data).map(|t| t.framing);
            if let Ok(Framing::Spnego { .. }) = framing {
                assert!(ok.response_token.is_some(), "SPNEGO always gets an answer");
            }
            if let Some(t) = &ok.response_token {
                assert!(
                    t.len() < 512,
                    "the reply is small and does not grow with the input"
                );
            }
        }
        Err(e) => exercise(&e),
    }
});

fn exercise(e: &AcceptError) {
    assert!(AcceptError::REASONS.contains(&e.reason()));
    let _ = (
        e.fault(),
        e.retryable(),
        KrbErrorCode::from(e),
        e.to_string(),
    );
}
