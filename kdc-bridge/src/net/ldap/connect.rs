//! Opening a bound connection to one DC: TCP connect, LDAPS or StartTLS, the simple bind.
//!
//! We connect the TCP socket ourselves and hand it to ldap3 (`LdapConnSettings::
//! set_std_stream`): the connect gets its own timeout and error, and a DC can be reached at a
//! pinned address while its certificate is checked against its name.

use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, LdapError, StdStream};
use tokio::net::TcpStream;

use super::config::{Security, ServiceAccount, Timeouts};
use super::error::{DirectoryError, Operation, Phase};
use crate::net::dc::DcEndpoint;

/// What every connection needs, shared by the pools.
#[derive(Debug)]
pub(crate) struct Connector {
    pub(crate) security: Security,
    pub(crate) account: ServiceAccount,
    pub(crate) timeouts: Timeouts,
}

/// `timeout`, or what is left until `deadline` if that is shorter.
pub(crate) fn clip(timeout: Duration, deadline: Instant) -> Duration {
    timeout.min(deadline.saturating_duration_since(Instant::now()))
}

impl Connector {
    /// A new connection to `dc`, bound as the service account, with every step done before
    /// `deadline`.
    pub(crate) async fn open(
        &self,
        dc: &DcEndpoint,
        deadline: Instant,
    ) -> Result<Ldap, DirectoryError> {
        let mut ldap = self.connect(dc, deadline).await?;
        let rc = self
            .bind(
                &mut ldap,
                dc,
                &self.account.bind_dn,
                self.account.password.expose(),
                deadline,
            )
            .await?
            .rc;
        if rc != 0 {
            return Err(DirectoryError::BindRejected {
                dc: dc.label(),
                code: rc,
            });
        }
        Ok(ldap)
    }

    /// A new connection to `dc` (TCP, then LDAPS or StartTLS), not bound yet.
    pub(crate) async fn connect(
        &self,
        dc: &DcEndpoint,
        deadline: Instant,
    ) -> Result<Ldap, DirectoryError> {
        let label = dc.label();
        let timeout = |phase, after| DirectoryError::Timeout {
            dc: label.clone(),
            phase,
            after,
        };

        let t = clip(self.timeouts.connect, deadline);
        let tcp = tokio::time::timeout(t, tcp_connect(dc))
            .await
            .map_err(|_| timeout(Phase::Connect, t))?
            .map_err(|kind| DirectoryError::Connect {
                dc: label.clone(),
                kind,
            })?;
        let std_stream = tcp.into_std().map_err(|e| DirectoryError::Connect {
            dc: label.clone(),
            kind: e.kind(),
        })?;

        let host = if dc.host().contains(':') {
            format!("[{}]", dc.host())
        } else {
            dc.host().to_owned()
        };
        let settings = LdapConnSettings::new().set_std_stream(StdStream::Tcp(std_stream));
        let (settings, scheme) = match &self.security {
            Security::Ldaps(tls) => (settings.set_config(tls.clone()), "ldaps"),
            Security::StartTls(tls) => {
                (settings.set_config(tls.clone()).set_starttls(true), "ldap")
            }
            Security::Plain => (settings, "ldap"),
        };
        let url = format!("{scheme}://{host}:{}", dc.port());
        let t = clip(self.timeouts.handshake, deadline);
        let (conn, ldap) = tokio::time::timeout(t, LdapConnAsync::with_settings(settings, &url))
            .await
            .map_err(|_| timeout(Phase::Handshake, t))?
            .map_err(|e| map_error(&label, Phase::Handshake, Operation::Connect, e))?;
        // The connection's I/O task. It ends when the last `Ldap` handle is dropped or the
        // connection breaks; the pool notices through `Ldap::is_closed`.
        tokio::spawn(async move {
            let _ = conn.drive().await;
        });
        Ok(ldap)
    }

    /// A simple bind on `ldap` as `dn`; the LDAP result, whatever its code.
    pub(crate) async fn bind(
        &self,
        ldap: &mut Ldap,
        dc: &DcEndpoint,
        dn: &str,
        password: &str,
        deadline: Instant,
    ) -> Result<ldap3::LdapResult, DirectoryError> {
        let t = clip(self.timeouts.bind, deadline);
        ldap.with_timeout(t)
            .simple_bind(dn, password)
            .await
            .map_err(|e| match e {
                LdapError::Timeout { .. } => DirectoryError::Timeout {
                    dc: dc.label(),
                    phase: Phase::Bind,
                    after: t,
                },
                e => map_error(&dc.label(), Phase::Bind, Operation::Connect, e),
            })
    }
}

/// Connects to the pinned address, or to each address the host resolves to in turn.
async fn tcp_connect(dc: &DcEndpoint) -> Result<TcpStream, io::ErrorKind> {
    if let Some(addr) = dc.connect_to() {
        return TcpStream::connect(addr).await.map_err(|e| e.kind());
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((dc.host(), dc.port()))
        .await
        .map_err(|_| io::ErrorKind::NotFound)?
        .collect();
    let mut last = io::ErrorKind::NotFound;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e.kind(),
        }
    }
    Err(last)
}

/// Maps an ldap3 error met during `phase` of `op` on DC `dc`.
pub(crate) fn map_error(dc: &str, phase: Phase, op: Operation, e: LdapError) -> DirectoryError {
    let dc = dc.to_owned();
    match e {
        LdapError::Io { source } => {
            // tokio-rustls reports a failed handshake as an I/O error wrapping rustls's.
            if let Some(tls) = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return DirectoryError::Tls {
                    dc,
                    error: tls.clone(),
                };
            }
            DirectoryError::ConnectionLost {
                dc,
                phase,
                kind: source.kind(),
            }
        }
        LdapError::Rustls { source } => DirectoryError::Tls { dc, error: source },
        // An IP address or DNS name rustls cannot use as a server name: our configuration.
        LdapError::DNSName { .. } | LdapError::UrlParsing { .. } => DirectoryError::Malformed {
            dc,
            what: "DC host name (not a valid TLS server name)",
        },
        LdapError::Timeout { .. } => DirectoryError::Timeout {
            dc,
            phase,
            after: Duration::ZERO,
        },
        LdapError::LdapResult { result } if phase == Phase::Handshake => {
            DirectoryError::StartTlsRefused {
                dc,
                code: result.rc,
            }
        }
        LdapError::LdapResult { result } => DirectoryError::Server {
            dc,
            op,
            code: result.rc,
        },
        // The connection's task is gone: the socket closed under us.
        LdapError::EndOfStream
        | LdapError::OpSend { .. }
        | LdapError::ResultRecv { .. }
        | LdapError::IdScrubSend { .. }
        | LdapError::MiscSend { .. } => DirectoryError::ConnectionLost {
            dc,
            phase,
            kind: io::ErrorKind::UnexpectedEof,
        },
        _ => DirectoryError::Malformed {
            dc,
            what: "LDAP exchange",
        },
    }
}
