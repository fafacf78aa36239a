//! `gateway::negotiate::extract_token` on an `Authorization` header value, with the default
//! 64 KiB limit.
//!
//! Properties: no panic; the decoded token is never empty and never longer than the base64
//! allows (3 octets per 4 characters); and it round-trips through the header the gateway
//! writes itself (`build_final_challenge`).

#![no_main]

use gateway::negotiate::{build_final_challenge, extract_token, HeaderError};
use libfuzzer_sys::fuzz_target;

const MAX: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    match extract_token(data, MAX) {
        Ok(token) => {
            assert!(!token.is_empty());
            assert!(token.len() <= data.len() / 4 * 3 + 2);
            let header = build_final_challenge(&token);
            assert_eq!(extract_token(header.as_bytes(), usize::MAX), Ok(token));
        }
        Err(HeaderError::TooLarge { len, max }) => assert!(len > max && max == MAX),
        Err(e) => assert!(HeaderError::REASONS.contains(&e.reason())),
    }
});
