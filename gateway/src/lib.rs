//! iwa-gateway: silent Windows sign-in (Kerberos over HTTP Negotiate) in front of web apps.
//!
//! The binary (`main.rs`) wires these modules into a Pingora server. They are a library so that
//! fuzz targets and tests can reach the parsers (Negotiate header, configuration).

pub mod admin;
pub mod auth;
pub mod config;
pub mod http_error;
pub mod keytab_reload;
pub mod metrics;
pub mod negotiate;
pub mod proxy;
pub mod session;
pub mod tls;
