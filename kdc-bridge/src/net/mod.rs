//! The I/O shell around [`crate::proto`]: the keytab file, Active Directory over LDAP, and the
//! discovery, health and failover of domain controllers, and the checks of `doctor`.

pub mod dc;
pub mod doctor;
pub mod keytab_watch;
pub mod ldap;
