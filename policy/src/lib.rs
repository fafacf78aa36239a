//! Tenant access policy (its own issue) and sign-in throttling ([`throttle`]).

// Library code never panics on input: these lints are errors under `clippy -D warnings`.
// A justified exception carries an `#[allow]` with the invariant that makes it safe.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod throttle;
