//! `gateway::config::Config::parse` on a configuration file's text (UTF-8 only: the loader
//! reads the file as a string).
//!
//! The path given is `gateway.toml` in an empty directory (`$TMPDIR/iwagw-fuzz-config-empty`),
//! so relative paths (`keytab = "http.keytab"`) name files that do not exist: parsing,
//! validation and the "not found" problems are exercised without reading anything. After
//! every input the directory must still be empty: checking a configuration never writes.
//!
//! Properties: no panic, no unbounded allocation; a rejected configuration names at least one
//! problem, each with a key.

#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use gateway::config::Config;
use libfuzzer_sys::fuzz_target;

/// One directory for every run (and every parallel job), so none is left behind per process:
/// it stays empty unless checking a configuration writes, which is what the target asserts.
fn base() -> &'static PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        let dir = std::env::temp_dir().join("iwagw-fuzz-config-empty");
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let dir = base();
    let path = dir.join("gateway.toml");
    match Config::parse(text, &path) {
        // Only reachable if the input names readable files by absolute path.
        Ok(_) => {}
        Err(e) => {
            assert!(!e.problems.is_empty(), "an error without a problem");
            assert!(e.problems.iter().all(|p| !p.key.is_empty()));
            assert_eq!(e.file, path);
        }
    }
    let written = std::fs::read_dir(dir).expect("temp dir").count();
    assert_eq!(
        written, 0,
        "checking a configuration wrote into its directory"
    );
});
