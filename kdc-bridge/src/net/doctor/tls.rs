//! The DC's TLS: our own handshake (LDAPS, or StartTLS on 389), to see the chain the DC sends
//! whether or not the configured CA vouches for it, then its issuer, SANs and expiry.
//!
//! The handshake uses rustls's WebPKI verifier over the configured CA bundle, as the
//! directory client does, wrapped so the chain is kept even when verification fails.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use x509_parser::extensions::GeneralName;

use super::reach::Unreachable;
use super::Check;
use crate::net::dc::DcEndpoint;
use crate::proto::der::{tag, Reader};
use crate::proto::krb::asn1::{format_rfc3339, read_integer};

/// The StartTLS extended request (RFC 4511 §4.14.1), message ID 1:
/// `LDAPMessage { 1, extendedReq [APPLICATION 23] { requestName [0] "1.3.6.1.4.1.1466.20037" } }`.
const STARTTLS_REQUEST: &[u8] = b"\x30\x1d\x02\x01\x01\x77\x18\x80\x161.3.6.1.4.1.1466.20037";
/// `[APPLICATION 24]` ExtendedResponse, constructed.
const EXTENDED_RESPONSE: u8 = 0x78;
/// The largest StartTLS response read.
const MAX_STARTTLS_RESPONSE: usize = 4096;

/// One certificate of the chain, as shown to an engineer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    /// Its subject DN.
    pub subject: String,
    /// Its issuer DN.
    pub issuer: String,
    /// Its SANs, as `DNS:name` and `IP:address`.
    pub sans: Vec<String>,
    /// `notAfter`, Unix seconds.
    pub not_after: i64,
}

/// Why the TLS session could not be set up.
#[derive(Debug, Clone, PartialEq)]
pub enum TlsProblem {
    /// The TCP connect failed.
    Connect(Unreachable),
    /// The DC refused StartTLS (LDAP result code) or did not answer it as LDAP.
    StartTls(Option<u32>),
    /// The handshake failed; rustls's reason.
    Handshake(rustls::Error),
    /// The connection broke during the handshake.
    Io(io::ErrorKind),
    /// The host name cannot be a TLS server name.
    BadServerName,
}

/// What the handshake showed.
#[derive(Debug, Clone, PartialEq)]
pub struct TlsOutcome {
    /// The chain the DC sent, leaf first (empty if it sent none, or the handshake did not get
    /// that far).
    pub chain: Vec<CertInfo>,
    /// `TLSv1.3` or `TLSv1.2`, once established.
    pub protocol: Option<String>,
    /// The problem, if the session was not established.
    pub problem: Option<TlsProblem>,
}

/// The WebPKI verifier, remembering the chain it was shown.
#[derive(Debug)]
struct Recording {
    inner: Arc<WebPkiServerVerifier>,
    chain: Mutex<Vec<CertificateDer<'static>>>,
}

impl ServerCertVerifier for Recording {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Ok(mut chain) = self.chain.lock() {
            chain.clear();
            chain.push(end_entity.clone().into_owned());
            chain.extend(intermediates.iter().map(|c| c.clone().into_owned()));
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// Connects to `dc` (at its pinned address, or `ip`), runs StartTLS first if `starttls`, and
/// does the TLS handshake verifying against `roots`.
pub async fn handshake(
    dc: &DcEndpoint,
    ip: IpAddr,
    starttls: bool,
    roots: RootCertStore,
    timeout: Duration,
) -> TlsOutcome {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let failed = |problem| TlsOutcome {
        chain: Vec::new(),
        protocol: None,
        problem: Some(problem),
    };
    let Ok(inner) =
        WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone()).build()
    else {
        return failed(TlsProblem::Handshake(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer,
        )));
    };
    let recording = Arc::new(Recording {
        inner,
        chain: Mutex::new(Vec::new()),
    });
    let config =
        match ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
            Ok(b) => b
                .dangerous()
                .with_custom_certificate_verifier(recording.clone())
                .with_no_client_auth(),
            Err(e) => return failed(TlsProblem::Handshake(e)),
        };
    let Ok(name) = ServerName::try_from(dc.host().to_owned()) else {
        return failed(TlsProblem::BadServerName);
    };
    let addr = dc
        .connect_to()
        .unwrap_or_else(|| SocketAddr::new(ip, dc.port()));

    let session = async {
        let mut tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| TlsProblem::Connect(Unreachable::Io(e.kind())))?;
        if starttls {
            start_tls(&mut tcp).await?;
        }
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = connector.connect(name, tcp).await.map_err(|e| {
            match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(tls) => TlsProblem::Handshake(tls.clone()),
                None => TlsProblem::Io(e.kind()),
            }
        })?;
        let protocol = stream
            .get_ref()
            .1
            .protocol_version()
            .and_then(|v| v.as_str())
            .map(|v| v.replace("TLSv1_", "TLS 1."));
        Ok(protocol)
    };
    let result = match tokio::time::timeout(timeout, session).await {
        Ok(r) => r,
        Err(_) => Err(TlsProblem::Connect(Unreachable::Timeout(timeout))),
    };
    let chain = recording
        .chain
        .lock()
        .map(|c| c.iter().filter_map(|der| describe(der)).collect())
        .unwrap_or_default();
    match result {
        Ok(protocol) => TlsOutcome {
            chain,
            protocol,
            problem: None,
        },
        Err(problem) => TlsOutcome {
            chain,
            protocol: None,
            problem: Some(problem),
        },
    }
}

/// Sends the StartTLS request and reads its response: `success` (0) or the problem.
async fn start_tls(tcp: &mut TcpStream) -> Result<(), TlsProblem> {
    let io = |e: io::Error| TlsProblem::Io(e.kind());
    tcp.write_all(STARTTLS_REQUEST).await.map_err(io)?;
    // The response is one BER element: read the identifier and length octets, then the rest.
    let mut head = [0u8; 2];
    tcp.read_exact(&mut head).await.map_err(io)?;
    let [0x30, first] = head else {
        return Err(TlsProblem::StartTls(None));
    };
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 2 {
            return Err(TlsProblem::StartTls(None));
        }
        let mut octets = [0u8; 2];
        let dst = octets.get_mut(..n).ok_or(TlsProblem::StartTls(None))?;
        tcp.read_exact(dst).await.map_err(io)?;
        dst.iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b))
    };
    if len > MAX_STARTTLS_RESPONSE {
        return Err(TlsProblem::StartTls(None));
    }
    let mut body = vec![0u8; len];
    tcp.read_exact(&mut body).await.map_err(io)?;
    match extract_starttls_result(&body) {
        Some(0) => Ok(()),
        code => Err(TlsProblem::StartTls(code)),
    }
}

/// The result code of an `LDAPMessage` body carrying an ExtendedResponse.
fn extract_starttls_result(body: &[u8]) -> Option<u32> {
    let mut r = Reader::new(body);
    read_integer(&mut r).ok()?;
    let response = r.read(EXTENDED_RESPONSE).ok()?;
    let mut inner = Reader::new(response.value);
    let code = inner.read(tag::ENUMERATED).ok()?.value;
    if code.is_empty() || code.len() > 4 {
        return None;
    }
    Some(code.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

/// Subject, issuer, SANs and expiry of a DER certificate; `None` if it does not parse.
pub fn describe(der: &[u8]) -> Option<CertInfo> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let sans = cert
        .subject_alternative_name()
        .ok()
        .flatten()
        .map(|ext| {
            ext.value
                .general_names
                .iter()
                .filter_map(|n| match n {
                    GeneralName::DNSName(d) => Some(format!("DNS:{d}")),
                    GeneralName::IPAddress(b) => ip_from_octets(b).map(|ip| format!("IP:{ip}")),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    Some(CertInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        sans,
        not_after: cert.validity().not_after.timestamp(),
    })
}

fn ip_from_octets(b: &[u8]) -> Option<IpAddr> {
    if let Ok(v4) = <[u8; 4]>::try_from(b) {
        return Some(IpAddr::V4(Ipv4Addr::from(v4)));
    }
    <[u8; 16]>::try_from(b)
        .ok()
        .map(|v6| IpAddr::V6(Ipv6Addr::from(v6)))
}

/// Days from `now` to `not_after`, rounded down (negative once expired).
pub fn days_left(not_after: i64, now: i64) -> i64 {
    (not_after - now).div_euclid(86_400)
}

/// A certificate expiring sooner than this many days is a warning.
pub const EXPIRY_WARNING_DAYS: i64 = 30;

/// The checks of one DC's TLS: the handshake (with the fix for each way it fails) and the
/// certificate (names, issuer, expiry).
pub fn tls_checks(dc: &DcEndpoint, outcome: &TlsOutcome, ca_file: &str, now: i64) -> Vec<Check> {
    let target = dc.label();
    let host = dc.host();
    let leaf = outcome.chain.first();
    let issuer = leaf.map_or_else(|| "(no certificate seen)".to_owned(), |c| c.issuer.clone());
    let sans = leaf.map_or_else(String::new, |c| c.sans.join(", "));
    let title = "TLS handshake and certificate chain";
    let mut checks = Vec::new();
    let handshake = match &outcome.problem {
        None => Check::pass(
            "tls.handshake",
            &target,
            title,
            format!(
                "{}, chain verified against {ca_file}",
                outcome.protocol.as_deref().unwrap_or("TLS")
            ),
        ),
        Some(TlsProblem::Handshake(rustls::Error::InvalidCertificate(e))) => {
            let (value, fix) = certificate_fix(e, host, &issuer, &sans, ca_file, leaf);
            Check::fail("tls.handshake", &target, title, value, fix)
        }
        Some(TlsProblem::Handshake(e)) => Check::fail(
            "tls.handshake",
            &target,
            title,
            format!("handshake failed: {e}"),
            format!(
                "the DC {host} and the gateway agree on no TLS version or cipher, or the DC \
                 has no certificate for LDAP: enroll a 'Domain Controller' / 'Kerberos \
                 Authentication' certificate on it (AD CS) and allow TLS 1.2 or 1.3"
            ),
        ),
        Some(TlsProblem::StartTls(code)) => Check::fail(
            "tls.handshake",
            &target,
            title,
            match code {
                Some(c) => format!("the DC refused StartTLS (LDAP result {c})"),
                None => "the DC did not answer StartTLS as LDAP".to_owned(),
            },
            format!(
                "{host} has no certificate for LDAP (it refuses StartTLS without one): enroll a \
                 'Domain Controller' certificate (AD CS autoenrollment), or use LDAPS on 636"
            ),
        ),
        Some(TlsProblem::Connect(u)) => {
            return vec![Check::skip(
                "tls.handshake",
                &target,
                title,
                &format!("cannot connect to {} ({})", dc.label(), u.describe()),
            )]
        }
        Some(TlsProblem::Io(kind)) => Check::fail(
            "tls.handshake",
            &target,
            title,
            format!("the connection broke during the handshake: {kind}"),
            format!(
                "something between the gateway and {host} cuts TLS (a proxy or IPS inspecting \
                 LDAP?), or the DC has no usable certificate: check the path and the DC's \
                 certificate store"
            ),
        ),
        Some(TlsProblem::BadServerName) => Check::fail(
            "tls.handshake",
            &target,
            title,
            format!("{host} cannot be a TLS server name"),
            "name the DC by its DNS name (as in its certificate) in the configuration".to_owned(),
        ),
    };
    checks.push(handshake);
    if let Some(leaf) = leaf {
        let days = days_left(leaf.not_after, now);
        let value = format!(
            "{} issued by {}; SANs: {}; expires {} (in {days} days)",
            leaf.subject,
            leaf.issuer,
            if sans.is_empty() { "none" } else { &sans },
            format_rfc3339(leaf.not_after),
        );
        let title = "DC certificate: names and expiry";
        let renew = format!(
            "renew the certificate of {host} (AD CS: the 'Domain Controller' or 'Kerberos \
             Authentication' template with autoenrollment renews it before it expires)"
        );
        checks.push(if days < 0 {
            Check::fail("tls.certificate", &target, title, value, renew)
        } else if days < EXPIRY_WARNING_DAYS {
            Check::warn("tls.certificate", &target, title, value, renew)
        } else {
            Check::pass("tls.certificate", &target, title, value)
        });
    }
    checks
}

/// The value and the fix for a certificate the verifier refused.
fn certificate_fix(
    e: &CertificateError,
    host: &str,
    issuer: &str,
    sans: &str,
    ca_file: &str,
    leaf: Option<&CertInfo>,
) -> (String, String) {
    match e {
        CertificateError::UnknownIssuer | CertificateError::BadSignature => (
            format!("certificate not trusted: issued by {issuer}"),
            format!(
                "the DC's certificate is issued by {issuer}, not by a CA in {ca_file}; put the \
                 issuing CA (the AD CS root) in ca_file"
            ),
        ),
        CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => (
            format!("certificate does not name {host}; it names {sans}"),
            format!(
                "the gateway connects to {host} but the DC's certificate names {sans}: \
                 configure the DC by one of these names (with connect_to for its address if \
                 DNS does not resolve it), or issue a certificate with {host} as a SAN"
            ),
        ),
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => (
            format!(
                "certificate expired on {}",
                leaf.map_or_else(|| "?".to_owned(), |c| format_rfc3339(c.not_after))
            ),
            format!(
                "renew the certificate of {host} (AD CS autoenrollment), and check the gateway's \
                 clock"
            ),
        ),
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => (
            "certificate not valid yet".to_owned(),
            "the gateway's clock is behind: synchronise it (chrony/ntpd against the DCs)"
                .to_owned(),
        ),
        other => (
            format!("certificate refused: {other:?}"),
            format!(
                "the DC's certificate is not usable for TLS server authentication ({other:?}): \
                 enroll one from AD CS issued by a CA in {ca_file}"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starttls_request_is_well_formed() {
        let mut r = Reader::new(STARTTLS_REQUEST);
        let msg = r.read(tag::SEQUENCE).unwrap();
        r.finish().unwrap();
        assert_eq!(msg.value.len(), 0x1d);
        assert!(STARTTLS_REQUEST.ends_with(b"1.3.6.1.4.1.1466.20037"));
    }

    #[test]
    fn reads_starttls_results() {
        // messageID 1, ExtendedResponse { resultCode success, matchedDN "", diagnostic "" }.
        let ok = b"\x02\x01\x01\x78\x07\x0a\x01\x00\x04\x00\x04\x00";
        assert_eq!(extract_starttls_result(ok), Some(0));
        let refused = b"\x02\x01\x01\x78\x07\x0a\x01\x34\x04\x00\x04\x00";
        assert_eq!(extract_starttls_result(refused), Some(52));
        assert_eq!(extract_starttls_result(b"\x02\x01\x01\x61\x00"), None);
        assert_eq!(extract_starttls_result(b""), None);
    }

    #[test]
    fn ip_sans() {
        assert_eq!(
            ip_from_octets(&[127, 0, 0, 21]),
            Some("127.0.0.21".parse().unwrap())
        );
        assert_eq!(ip_from_octets(&[1, 2, 3]), None);
        assert!(describe(b"not a certificate").is_none());
    }

    fn leaf() -> CertInfo {
        CertInfo {
            subject: "CN=dc1.corp.test".into(),
            issuer: "CN=CORP Root CA".into(),
            sans: vec!["DNS:dc1.corp.test".into(), "IP:127.0.0.21".into()],
            not_after: 1_800_000_000,
        }
    }

    #[test]
    fn unknown_issuer_names_the_issuer_and_the_ca_file() {
        let outcome = TlsOutcome {
            chain: vec![leaf()],
            protocol: None,
            problem: Some(TlsProblem::Handshake(rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer,
            ))),
        };
        let dc = DcEndpoint::new("dc1.corp.test", 636);
        let checks = tls_checks(
            &dc,
            &outcome,
            "/etc/iwa/ca.pem",
            1_800_000_000 - 10 * 86_400,
        );
        assert_eq!(checks[0].status, super::super::Status::Fail);
        assert_eq!(
            checks[0].fix.as_deref(),
            Some(
                "the DC's certificate is issued by CN=CORP Root CA, not by a CA in \
                 /etc/iwa/ca.pem; put the issuing CA (the AD CS root) in ca_file"
            )
        );
        // Ten days left: a warning.
        assert_eq!(checks[1].status, super::super::Status::Warn);
        assert!(
            checks[1].value.ends_with("(in 10 days)"),
            "{}",
            checks[1].value
        );
        assert_eq!(days_left(100, 100 + 86_400), -1);
    }
}
