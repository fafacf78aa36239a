//! Domain controllers: where they are, which of them are healthy, and which to ask next.
//!
//! Everything here except [`discover`] is plain data and decisions with the time passed in, so
//! the failover behaviour is unit-tested without sockets:
//!
//! - [`health`]: one DC's health with hysteresis (N consecutive failures take it down, M
//!   consecutive successes bring it back) and a smoothed latency.
//! - [`failover`]: the table of DCs, the order a request tries them in, and the per-request
//!   [`failover::FailoverPlan`] that bounds the attempts by a time budget.
//! - [`srv`]: DNS SRV names for AD and the RFC 2782 priority/weight ordering.
//! - [`discover`]: the DNS SRV queries themselves (hickory-resolver).

use std::fmt;
use std::net::SocketAddr;

pub mod discover;
pub mod failover;
pub mod health;
pub mod srv;

/// One domain controller as the LDAP client reaches it.
///
/// `host` is what the TLS certificate must name (a DNS name, or an IP address the certificate
/// has as an IP SAN) and, unless `connect_to` is set, what is resolved to connect. `connect_to`
/// pins the socket address: for DCs whose names are not in DNS, and for tests that put a
/// proxy in front of a DC.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DcEndpoint {
    host: String,
    port: u16,
    connect_to: Option<SocketAddr>,
}

impl DcEndpoint {
    /// A DC at `host:port`.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Self {
            host: host.into(),
            port,
            connect_to: None,
        }
    }

    /// The same DC, reached at `addr` instead of by resolving the host name.
    #[must_use]
    pub fn with_connect_to(mut self, addr: SocketAddr) -> Self {
        self.connect_to = Some(addr);
        self
    }

    /// The host name (or IP address literal) the TLS certificate must match.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The pinned socket address, if any.
    pub fn connect_to(&self) -> Option<SocketAddr> {
        self.connect_to
    }

    /// `host:port` (IPv6 literals in brackets): the DC's label in logs and metrics. It comes
    /// from configuration or DNS, never from a client.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

impl fmt::Debug for DcEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.connect_to {
            Some(addr) => write!(f, "{} (at {addr})", self.label()),
            None => f.write_str(&self.label()),
        }
    }
}

impl fmt::Display for DcEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.label())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_bracket_ipv6() {
        assert_eq!(
            DcEndpoint::new("dc1.corp.test", 636).label(),
            "dc1.corp.test:636"
        );
        assert_eq!(DcEndpoint::new("::1", 389).label(), "[::1]:389");
        let pinned = DcEndpoint::new("dc1.corp.test", 636)
            .with_connect_to("127.0.0.21:636".parse().unwrap());
        assert_eq!(
            format!("{pinned:?}"),
            "dc1.corp.test:636 (at 127.0.0.21:636)"
        );
        assert_ne!(pinned, DcEndpoint::new("dc1.corp.test", 636));
    }
}
