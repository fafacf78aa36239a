//! Active Directory over LDAP: the user's attributes and transitive groups, cached, with DC
//! failover.
//!
//! A [`Directory`] binds as a service account over LDAPS or StartTLS (plain LDAP only when
//! configured as insecure), keeps a few connections per DC, and answers [`Directory::lookup`]
//! from a cache with TTL, negative entries and stale-while-revalidate. A lookup tries the DCs
//! in the order of [`crate::net::dc::failover`] and moves to the next one on a connect
//! failure, a timeout or a broken connection, within one time budget; when none answers, the
//! answer says so ([`Lookup::Unavailable`], or a [`Freshness::Degraded`] cached identity) and
//! the gateway decides. Measurements go to an [`Observer`].
//!
//! One file per operation: `connect` (TCP, TLS, bind), `search` (bounded searches),
//! [`user`] (the account and `tokenGroups`), `groups` (SID → name), `pool`, `cache`, and
//! [`directory`] tying them together.

pub mod config;
pub(crate) mod connect;
pub mod directory;
pub mod error;
pub mod observer;
pub mod sid;
pub mod user;

mod cache;
mod groups;
mod password;
mod pool;
pub(crate) mod search;

pub use config::{
    load_ca_bundle, roots_from_pem, tls_config_from_pem, BindPassword, CachePolicy,
    DirectoryConfig, Security, ServiceAccount, Timeouts, DEFAULT_ATTRIBUTES,
};
pub use directory::{DcStatus, Directory, DirectoryStatus, Freshness, Lookup};
pub use error::{DirectoryError, Operation, Phase};
pub use groups::SID_BATCH;
pub use observer::{CacheEvent, NoopObserver, Observer};
pub use password::PasswordVerdict;
pub use sid::{Guid, Sid};
pub use user::{Group, Identity, UserKey};
