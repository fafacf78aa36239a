//! iwa-gateway: silent Windows sign-in (Kerberos over HTTP Negotiate) in front of web apps.
//!
//! The binary (`main.rs`) wires these modules into a Pingora server. They are a library so that
//! fuzz targets and tests can reach the parsers (Negotiate header, configuration). The modules
//! that need Pingora are behind the default feature `server`.

#[cfg(feature = "server")]
pub mod admin;
pub mod auth;
pub mod config;
#[cfg(feature = "server")]
pub mod doctor;
#[cfg(feature = "server")]
pub mod http_error;
pub mod identity;
pub mod inspect;
#[cfg(feature = "server")]
pub mod keepalive;
#[cfg(feature = "server")]
pub mod keytab_reload;
pub mod metrics;
pub mod negotiate;
#[cfg(feature = "server")]
pub mod proxy;
pub mod saml;
pub mod session;
pub mod tls;
