//! `gateway::session::KeyRing::open` on a cookie value, with a fixed key and time.
//!
//! Properties: no panic, no allocation beyond the 4 KiB cookie bound; and a cookie that opens
//! is sealed again into one that opens to the same session. Forging needs the key, so the
//! fuzzer reaches the plaintext checks only through the seeds sealed with it
//! (`fuzz/examples/make_corpus.rs`) and mutations of their `v2.` framing.

#![no_main]

use std::sync::OnceLock;

use gateway::session::{KeyRing, SessionKey};
use libfuzzer_sys::fuzz_target;

/// The key file of the seeds: 32 octets of 0x01, base64.
const KEY_FILE: &[u8] = b"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n";
/// The time the seeds are valid at (they expire an hour later).
const NOW: i64 = 1_795_259_762;
const COOKIE_NAME: &str = "iwagw_session";

fn ring() -> &'static KeyRing {
    static RING: OnceLock<KeyRing> = OnceLock::new();
    RING.get_or_init(|| {
        let key = SessionKey::from_file_contents(KEY_FILE).expect("valid key file");
        KeyRing::new(&[key], COOKIE_NAME)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(value) = std::str::from_utf8(data) else {
        return;
    };
    let ring = ring();
    let Ok(session) = ring.open(value, NOW) else {
        return;
    };
    assert!(session.expires_at > NOW);
    let resealed = ring.seal(&session);
    assert_eq!(ring.open(&resealed, NOW), Ok(session));
});
