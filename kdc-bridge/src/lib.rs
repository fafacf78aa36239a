//! Kerberos acceptor.
