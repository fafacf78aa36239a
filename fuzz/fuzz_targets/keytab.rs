//! `Keytab::extract` on a keytab file (the gateway reads it at start and on every change).
//!
//! Properties: no panic, no allocation sized by a count in the file; and a keytab that parses
//! is written back by `build()` (always format 0x502) into bytes that parse to the same
//! entries, and that `build()` reproduces exactly.

#![no_main]

use kdc_bridge::proto::keytab::Keytab;
use kdc_bridge::proto::principal::Principal;
use libfuzzer_sys::fuzz_target;

type Summary = (Principal, i32, u32, u32, i32, Option<Vec<u8>>);

fn summary(kt: &Keytab) -> Vec<Summary> {
    kt.entries
        .iter()
        .map(|e| {
            (
                e.principal.clone(),
                e.principal.name_type(),
                e.timestamp,
                e.kvno,
                e.etype,
                e.key.as_ref().map(|k| k.as_bytes().to_vec()),
            )
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Ok(kt) = Keytab::extract(data) else {
        return;
    };
    let written = kt.build();
    let back = Keytab::extract(&written).expect("a keytab we wrote parses");
    assert_eq!(summary(&back), summary(&kt));
    assert_eq!(back.build(), written, "writing is not stable");
});
