//! Shared helpers of kdc-bridge's integration tests: fixtures under `tests/vectors`, found
//! through `CARGO_MANIFEST_DIR` (no network, no files outside the crate).

use std::path::PathBuf;
use std::time::Duration;

use kdc_bridge::proto::acceptor::{
    AcceptRequest, Accepted, Acceptor, AcceptorConfig, PacPolicy, Randomness, DEFAULT_SKEW_SECS,
};
use kdc_bridge::proto::error::AcceptError;
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::MemoryReplayCache;

/// The path of a file under `tests/vectors`.
pub fn vector_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(relative)
}

/// The contents of a file under `tests/vectors`.
pub fn vector(relative: &str) -> Vec<u8> {
    let path = vector_path(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The number on the last line of a text fixture that is not a `#` comment.
pub fn vector_number(relative: &str) -> i64 {
    let text = String::from_utf8(vector(relative)).expect("text fixture");
    text.lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .unwrap_or_else(|| panic!("{relative} holds no number"))
}

/// A deterministic "RNG": the tests need distinct, not secret, bytes.
#[derive(Debug)]
pub struct Counter(pub u64);

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

/// An acceptor for one SPN over a keytab fixture, with its own replay cache, as the gateway
/// configures it.
#[derive(Debug)]
pub struct Service {
    pub acceptor: Acceptor,
    pub keys: ServiceKeys,
    pub replay: MemoryReplayCache,
    rng: Counter,
}

impl Service {
    pub fn new(keytab: &str, spn: &str) -> Self {
        let keytab = Keytab::extract(&vector(keytab)).expect("keytab fixture parses");
        let config = AcceptorConfig {
            spns: vec![Principal::parse(spn).expect("SPN")],
            // Every AD ticket carries a PAC.
            pac: PacPolicy::Require,
            ..AcceptorConfig::default()
        };
        let ttl = Duration::from_secs(2 * DEFAULT_SKEW_SECS.unsigned_abs());
        Self {
            acceptor: Acceptor::new(config),
            keys: ServiceKeys::from_keytab(&keytab),
            replay: MemoryReplayCache::new(ttl, 1000),
            rng: Counter(1),
        }
    }

    /// Verifies `token` as of `now`, without channel bindings.
    pub fn accept(&mut self, token: &[u8], now: i64) -> Result<Accepted, AcceptError> {
        let req = AcceptRequest {
            token,
            now,
            channel_binding: None,
        };
        self.acceptor
            .accept(&self.keys, &self.replay, &mut self.rng, &req)
    }
}
