//! Kerberos and SPNEGO for iwa-gateway.
//!
//! [`proto`] is sans-IO: bytes, time, randomness and keys go in, decisions come out. It never
//! reads a clock, a file or a socket, so every path can be driven by test vectors and fuzzers.
//! [`net`] (feature `net`) is the I/O shell around it: watching the keytab file and, later, the
//! KDC transport and Active Directory over LDAP.

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

pub mod proto;

#[cfg(feature = "net")]
pub mod net;
