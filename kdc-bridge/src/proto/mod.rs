//! The sans-IO core: codecs, crypto and the acceptor.
//!
//! Nothing here reads a clock, a file or a socket: time, randomness and keys are arguments.

pub mod acceptor;
pub mod crypto;
pub mod der;
pub mod error;
pub mod gss;
pub mod keys;
pub mod keytab;
pub mod krb;
#[cfg(any(test, feature = "mint"))]
pub mod mint;
pub mod pac;
pub mod principal;
pub mod replay;
pub mod spnego;
