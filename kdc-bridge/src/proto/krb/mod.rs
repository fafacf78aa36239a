//! Kerberos V5 messages (RFC 4120) as an acceptor sees them.

pub mod asn1;
#[cfg(any(test, feature = "mint"))]
pub mod build;
pub mod messages;
pub mod probe;
