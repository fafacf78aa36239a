//! Kerberos and SPNEGO for iwa-gateway.
//!
//! [`proto`] is sans-IO: bytes, time, randomness and keys go in, decisions come out. It never
//! reads a clock, a file or a socket, so every path can be driven by test vectors and fuzzers.
//! [`net`] (feature `net`) is the I/O shell around it: watching the keytab file and, later, the
//! KDC transport and Active Directory over LDAP.

pub mod proto;

#[cfg(feature = "net")]
pub mod net;
