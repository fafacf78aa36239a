//! Randomness: the OS's for keys and certificate serials, and a deterministic counter for
//! kdc-bridge's acceptor.

use std::io::Read as _;

use kdc_bridge::proto::acceptor::Randomness;

/// `n` bytes from `/dev/urandom`.
pub(crate) fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut buf))
        .expect("read /dev/urandom");
    buf
}

/// A deterministic "RNG" for the acceptor's AP-REP (sequence number and subkey): the tests need
/// distinct, not secret, bytes.
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
