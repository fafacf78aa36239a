//! Connections to the target: TCP or TLS (rustls), HTTP/1.1 or HTTP/2 (ALPN), on hyper's
//! low-level client (`hyper::client::conn`), so the loader controls exactly which request goes
//! on which connection and nothing is pooled or retried behind its back.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Uri};
use http_body_util::Empty;
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// The request body type: every scenario sends GETs.
pub type Body = Empty<Bytes>;

/// Where the requests go.
#[derive(Debug)]
pub struct Target {
    /// The URL as given.
    pub url: Uri,
    /// The address connected to (the URL's host, or `--connect`).
    pub addr: SocketAddr,
    /// `Host` (HTTP/1.1) and `:authority` (HTTP/2).
    pub authority: HeaderValue,
    /// Path and query of the URL.
    pub path: String,
    /// TLS server name, when the URL is https.
    pub tls_name: Option<ServerName<'static>>,
}

impl Target {
    /// Parses `url`; `connect` overrides the address (like curl's `--connect-to`).
    pub async fn new(url: &str, connect: Option<SocketAddr>) -> Result<Self, String> {
        let uri: Uri = url.parse().map_err(|e| format!("--url {url}: {e}"))?;
        let https = match uri.scheme_str() {
            Some("http") => false,
            Some("https") => true,
            _ => return Err(format!("--url {url}: the scheme must be http or https")),
        };
        let host = uri
            .host()
            .ok_or_else(|| format!("--url {url}: no host"))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
        let addr = match connect {
            Some(a) => a,
            None => tokio::net::lookup_host((host.as_str(), port))
                .await
                .map_err(|e| format!("--url {url}: {host} does not resolve: {e}"))?
                .next()
                .ok_or_else(|| format!("--url {url}: {host} has no address"))?,
        };
        let authority = uri
            .authority()
            .map(|a| a.as_str())
            .ok_or_else(|| format!("--url {url}: no host"))?;
        let tls_name = if https {
            Some(
                ServerName::try_from(host.clone())
                    .map_err(|e| format!("--url {url}: {host} is not a TLS server name: {e}"))?,
            )
        } else {
            None
        };
        Ok(Self {
            authority: HeaderValue::from_str(authority).map_err(|e| format!("--url {url}: {e}"))?,
            path: uri
                .path_and_query()
                .map_or("/".to_owned(), |p| p.as_str().to_owned()),
            url: uri,
            addr,
            tls_name,
        })
    }
}

/// How TLS certificates are checked.
#[derive(Debug, Clone)]
pub enum Trust {
    /// Against these roots (`--cacert`).
    Roots(Vec<CertificateDer<'static>>),
    /// Not at all (`--insecure`, for self-signed test servers).
    Insecure,
}

/// The TLS client configuration for `trust`, offering `h2` or `http/1.1` by ALPN.
pub fn tls_config(trust: &Trust, http2: bool) -> Result<Arc<ClientConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let mut config = match trust {
        Trust::Roots(certs) => {
            let mut roots = RootCertStore::empty();
            for c in certs {
                roots.add(c.clone()).map_err(|e| format!("--cacert: {e}"))?;
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerify(provider)))
            .with_no_client_auth(),
    };
    config.alpn_protocols = vec![if http2 {
        b"h2".to_vec()
    } else {
        b"http/1.1".to_vec()
    }];
    Ok(Arc::new(config))
}

/// Reads the PEM certificates of `--cacert`.
pub fn read_roots(path: &std::path::Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("--cacert {}: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("--cacert {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("--cacert {}: no certificate", path.display()));
    }
    Ok(certs)
}

/// `--insecure`: accepts any certificate, still checks the handshake signatures.
#[derive(Debug)]
struct NoVerify(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for NoVerify {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens connections to the target.
pub struct Connector {
    pub target: Arc<Target>,
    tls: Option<TlsConnector>,
    pub http2: bool,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .field("tls", &self.tls.is_some())
            .field("http2", &self.http2)
            .finish()
    }
}

/// A request sender on one connection.
#[derive(Debug)]
pub enum Sender {
    H1(http1::SendRequest<Body>),
    H2(http2::SendRequest<Body>),
}

impl Connector {
    /// A connector for `target`; `tls` is required for https URLs.
    pub fn new(target: Arc<Target>, tls: Option<Arc<ClientConfig>>, http2: bool) -> Self {
        Self {
            tls: tls.map(TlsConnector::from),
            target,
            http2,
        }
    }

    /// A new connection; the error is the kind for the report.
    pub async fn connect(&self) -> Result<Sender, &'static str> {
        let tcp = TcpStream::connect(self.target.addr)
            .await
            .map_err(|_| "connect")?;
        let _ = tcp.set_nodelay(true);
        match (&self.tls, &self.target.tls_name) {
            (Some(tls), Some(name)) => {
                let stream = tls
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|_| "tls handshake")?;
                self.handshake(stream).await
            }
            _ => self.handshake(tcp).await,
        }
    }

    async fn handshake<S>(&self, io: S) -> Result<Sender, &'static str>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let io = TokioIo::new(io);
        if self.http2 {
            let (tx, conn) = http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|_| "http2 handshake")?;
            tokio::spawn(conn);
            Ok(Sender::H2(tx))
        } else {
            let (tx, conn) = http1::handshake(io).await.map_err(|_| "connect")?;
            tokio::spawn(conn);
            Ok(Sender::H1(tx))
        }
    }
}

/// The report's name for a failed request.
pub fn error_kind(e: &hyper::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        "connection closed"
    } else if e.is_parse() || e.is_parse_status() {
        "bad response"
    } else {
        "i/o"
    }
}
