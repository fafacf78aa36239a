//! The SAML 2.0 identity provider (issue 4): responses with their assertions, signed by a key
//! loaded once, written directly in canonical form.
//!
//! - [`xml`]: the canonical XML writer (exclusive c14n output, no canonicalization pass).
//! - [`sign`]: enveloped RSA-SHA256 signatures with a SHA-256 digest.
//! - [`response`]: `samlp:Response` with its assertion, and error responses.
//! - [`form`]: query strings and form bodies, raw ranges kept for signature checks.
//! - [`claims`]: the NameID and attributes an SP gets; [`metadata`]; [`pages`] (en/ja).
//! - `idp`: the answers (server only).
//! - `request`: an SP's AuthnRequest, decoded and checked against the registry (server only:
//!   samael and libxmlsec1).

pub mod claims;
pub mod form;
#[cfg(feature = "server")]
pub mod idp;
#[cfg(feature = "server")]
pub mod login;
#[cfg(feature = "server")]
pub mod logout;
pub mod metadata;
pub mod pages;
#[cfg(feature = "server")]
pub mod request;
pub mod response;
pub mod sign;
pub mod xml;
