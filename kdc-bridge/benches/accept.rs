//! One accept per iteration: SPNEGO token, AES256 ticket, replay check, AP-REP built.
//!
//! `cargo bench -p kdc-bridge --features mint --bench accept`
//!
//! `accept/*`: tokens minted with the service key, every one unique, through the replay cache.
//! `samba_capture/*`: tokens captured from the test AD (tests/vectors/samba), without it.
//!
//! Tokens are minted in chunks outside the timed loops (each is unique, so the replay cache
//! accepts every one). The ticket carries a real PAC signed with the service key, which every
//! accept decodes and verifies (server checksum, client info): a user in 4 groups (~1 KB of
//! enc-part) and in 1000 groups (~9 KB of PAC).

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use kdc_bridge::proto::acceptor::{AcceptRequest, Acceptor, AcceptorConfig, Randomness};
use kdc_bridge::proto::crypto::{Enctype, Key, KeyUsage};
use kdc_bridge::proto::keys::ServiceKeys;
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};
use kdc_bridge::proto::mint::{mint_ap_req, spnego_token, TokenSpec};
use kdc_bridge::proto::pac::build::{build_authorization_data as pac_authorization_data, PacSpec};
use kdc_bridge::proto::principal::Principal;
use kdc_bridge::proto::replay::{Fingerprint, MemoryReplayCache, ReplayCache, ReplayError};
use kdc_bridge::proto::spnego::KrbOid;

struct Xorshift(u64);

impl Randomness for Xorshift {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            *b = self.0 as u8;
        }
    }
}

const NOW: i64 = 1_795_257_000;

/// AD-IF-RELEVANT { AD-WIN2K-PAC } with a PAC for alice in `groups` groups, signed with
/// the service key: what AD puts in a ticket, verified by every accept.
fn signed_pac(key: &Key, groups: usize) -> Vec<u8> {
    let server = key.usage_key(KeyUsage::PAC_CHECKSUM).unwrap();
    let pac = PacSpec::new("alice", "CORP.TEST", NOW, groups)
        .build(&server, &server)
        .unwrap();
    pac_authorization_data(&pac)
}

fn bench(c: &mut Criterion) {
    let service = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
    let key = Key::from_bytes(Enctype::Aes256CtsHmacSha196, &[0x42; 32]).unwrap();
    let keys = ServiceKeys::from_keytab(&Keytab {
        entries: vec![KeytabEntry::new(service.clone(), 2, key.clone(), 0)],
    });
    let acceptor = Acceptor::new(AcceptorConfig {
        spns: vec![service.clone()],
        ..AcceptorConfig::default()
    });
    let client = Principal::parse("alice@CORP.TEST").unwrap();

    // Sized so it never fills during a run: every token is unique.
    let replay = MemoryReplayCache::new(Duration::from_secs(600), 50_000_000);
    let mut group = c.benchmark_group("accept");
    group.measurement_time(Duration::from_secs(8));
    let mut serial = 0u64;
    for (name, groups) in [("small_pac", 4usize), ("1000_groups", 1000)] {
        let ad = signed_pac(&key, groups);
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            // Only the accept loops are timed; tokens are minted in chunks between them, so
            // minting (serial CBC encryption of the ticket) never interleaves with accepting.
            b.iter_custom(|iters| {
                let mut timed = Duration::ZERO;
                let mut left = iters;
                while left > 0 {
                    let chunk = left.min(2_000);
                    left -= chunk;
                    let tokens: Vec<Vec<u8>> = (0..chunk)
                        .map(|_| {
                            serial += 1;
                            let mut spec =
                                TokenSpec::new(client.clone(), Enctype::Aes256CtsHmacSha196, NOW);
                            spec.authorization_data = Some(ad.clone());
                            // A unique (ctime, cusec) per token keeps the replay cache from
                            // refusing it.
                            spec.ctime = NOW + i64::try_from(serial / 1_000_000).unwrap_or(0);
                            spec.cusec = u32::try_from(serial % 1_000_000).unwrap_or(0);
                            let m =
                                mint_ap_req(&service, &key, Some(2), &spec, &mut Xorshift(serial));
                            spnego_token(&m.ap_req, KrbOid::Microsoft)
                        })
                        .collect();
                    let mut rng = Xorshift(7);
                    let started = Instant::now();
                    for token in &tokens {
                        let req = AcceptRequest {
                            token,
                            now: NOW,
                            channel_binding: None,
                        };
                        let ok = acceptor.accept(&keys, &replay, &mut rng, &req).is_ok();
                        assert!(black_box(ok), "a minted token was refused");
                    }
                    timed += started.elapsed();
                }
                timed
            });
        });
    }
    group.finish();
}

/// Lets every authenticator through: the captured tokens are few, so the same one is accepted
/// again and again. The replay check costs the same for every token; `accept/*` include it.
struct NoReplayCheck;

impl ReplayCache for NoReplayCheck {
    fn check_and_insert(&self, _fingerprint: Fingerprint) -> Result<(), ReplayError> {
        Ok(())
    }

    fn len(&self) -> u64 {
        0
    }
}

/// Tokens captured from the Samba AD DC (`tests/vectors/samba`), verified as of their capture
/// time: real tickets with real PACs, without the replay check.
fn bench_samba(c: &mut Criterion) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/samba");
    let read = |name: &str| std::fs::read(dir.join(name)).unwrap();
    let captured_at: i64 = String::from_utf8(read("captured-at"))
        .unwrap()
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('#'))
        .and_then(|l| l.parse().ok())
        .unwrap();
    let keys = ServiceKeys::from_keytab(&Keytab::extract(&read("gw.keytab")).unwrap());
    let service = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
    let acceptor = Acceptor::new(AcceptorConfig {
        spns: vec![service],
        ..AcceptorConfig::default()
    });
    let mut group = c.benchmark_group("samba_capture");
    for (name, file) in [
        ("alice_spnego", "alice-aes256-spnego.bin"),
        ("dave_1000_groups", "dave-1000-groups-spnego.bin"),
    ] {
        let token = read(file);
        let req = AcceptRequest {
            token: &token,
            now: captured_at,
            channel_binding: None,
        };
        let mut rng = Xorshift(3);
        group.throughput(Throughput::Elements(1));
        group.bench_function(name, |b| {
            b.iter(|| {
                let ok = acceptor
                    .accept(&keys, &NoReplayCheck, &mut rng, &req)
                    .is_ok();
                assert!(black_box(ok), "the captured token was refused");
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench, bench_samba);
criterion_main!(benches);
