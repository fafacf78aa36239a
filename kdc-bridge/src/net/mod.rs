//! The I/O shell around [`crate::proto`]: files now; the KDC transport and AD over LDAP later.

pub mod keytab_watch;
