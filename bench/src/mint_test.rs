//! Minted tokens go through the gateway's acceptor (the real one, with its replay cache and PAC
//! verification) with the throw-away keytab of the test AD captured in kdc-bridge's vectors.

use std::path::PathBuf;
use std::time::Duration;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kdc_bridge::proto::acceptor::{AcceptRequest, Acceptor, AcceptorConfig, PacPolicy};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::replay::MemoryReplayCache;

use super::*;

struct Counter(u64);

impl Randomness for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            *b = (self.0 >> 33) as u8;
        }
    }
}

const NOW: i64 = 1_795_259_762;

fn keytab() -> Keytab {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../kdc-bridge/tests/vectors/samba/gw.keytab");
    Keytab::extract(&std::fs::read(path).unwrap()).unwrap()
}

fn spec(format: Format, groups: usize) -> KeytabMint {
    KeytabMint {
        spn: Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap(),
        users: vec!["alice".into(), "bob".into()],
        per_user: 50,
        groups,
        session_enctype: Enctype::Aes256CtsHmacSha196,
        format,
        skew_secs: 300,
    }
}

#[test]
fn every_minted_token_is_accepted_once_with_its_pac() {
    let keytab = keytab();
    let keys = ServiceKeys::from_keytab(&keytab);
    let acceptor = Acceptor::new(AcceptorConfig {
        pac: PacPolicy::Require,
        ..AcceptorConfig::default()
    });
    let replay = MemoryReplayCache::new(Duration::from_secs(600), 10_000);
    for (seed, format) in [(1, Format::Spnego), (2, Format::Raw)] {
        let file = mint(&keytab, &spec(format, 30), NOW, &mut Counter(seed)).unwrap();
        assert_eq!(file.tokens.len(), 100);
        assert_eq!(file.header.valid_until, NOW + 300);
        let mut clients = std::collections::BTreeMap::new();
        for t in &file.tokens {
            let token = STANDARD.decode(t).unwrap();
            let req = AcceptRequest {
                token: &token,
                now: NOW + 10,
                channel_binding: None,
            };
            let ok = acceptor
                .accept(&keys, &replay, &mut Counter(9), &req)
                .expect("a minted token");
            let pac = ok.pac.expect("a verified PAC");
            assert_eq!(
                pac.group_sids.len(),
                30 + 2,
                "groups + Domain Users + asserted identity"
            );
            *clients.entry(ok.client.to_string()).or_insert(0) += 1;
            // Used once: the same token again is a replay.
            assert!(acceptor
                .accept(&keys, &replay, &mut Counter(9), &req)
                .is_err());
        }
        assert_eq!(clients.get("alice@CORP.TEST"), Some(&50));
        assert_eq!(clients.get("bob@CORP.TEST"), Some(&50));
    }
}

#[test]
fn tokens_without_a_pac_and_refusals() {
    let keytab = keytab();
    let file = mint(&keytab, &spec(Format::Spnego, 0), NOW, &mut Counter(2)).unwrap();
    assert_eq!(file.tokens.len(), 100);
    let mut other = spec(Format::Spnego, 0);
    other.spn = Principal::parse("HTTP/other.corp.test@CORP.TEST").unwrap();
    assert!(mint(&keytab, &other, NOW, &mut Counter(3))
        .unwrap_err()
        .contains("no usable key"));
    let mut none = spec(Format::Spnego, 0);
    none.users.clear();
    assert!(mint(&keytab, &none, NOW, &mut Counter(4)).is_err());
}
