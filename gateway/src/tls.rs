//! TLS facts the acceptor needs: the channel-binding hash of our certificate.
//!
//! RFC 5929 §4.1 `tls-server-end-point`: the hash of the server certificate (DER) with the hash
//! function of its signature algorithm, SHA-256 when that is MD5 or SHA-1. Browsers bind
//! Negotiate tokens to it on HTTPS (Extended Protection for Authentication).

use std::path::Path;
use std::sync::Arc;

use kdc_bridge::proto::der::{self, tag, Reader};
use kdc_bridge::proto::gss::channel_binding_hash;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// OIDs (contents octets) of signature algorithms hashed with SHA-384 or SHA-512.
const SHA384_SIGS: &[&[u8]] = &[
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c], // sha384WithRSAEncryption
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03],       // ecdsa-with-SHA384
];
const SHA512_SIGS: &[&[u8]] = &[
    &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d], // sha512WithRSAEncryption
    &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04],       // ecdsa-with-SHA512
];

/// The signature algorithm OID of a certificate:
/// `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, … }`.
fn signature_oid(cert: &[u8]) -> Option<&[u8]> {
    let outer = der::read_single(cert, tag::SEQUENCE).ok()?;
    let mut r = Reader::new(outer.value);
    r.read(tag::SEQUENCE).ok()?;
    let alg = r.read(tag::SEQUENCE).ok()?;
    Some(Reader::new(alg.value).read(tag::OID).ok()?.value)
}

/// `tls-server-end-point` application data for a DER certificate.
pub fn server_end_point(cert: &[u8]) -> Vec<u8> {
    let oid = signature_oid(cert).unwrap_or_default();
    let hash = if SHA384_SIGS.contains(&oid) {
        Sha384::digest(cert).to_vec()
    } else if SHA512_SIGS.contains(&oid) {
        Sha512::digest(cert).to_vec()
    } else {
        Sha256::digest(cert).to_vec()
    };
    let mut out = b"tls-server-end-point:".to_vec();
    out.extend_from_slice(&hash);
    out
}

/// The GSS channel-binding hash for the first certificate in a PEM file.
pub fn channel_binding_for_cert_file(path: &Path) -> Result<[u8; 16], String> {
    let cert = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .next()
        .ok_or_else(|| format!("{}: no certificate", path.display()))?
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(channel_binding_hash(&server_end_point(cert.as_ref())))
}

/// Reads a PEM certificate chain and private key into what rustls serves, checking that the
/// key is usable. The error names the file and the problem.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>, (bool, String)> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| (true, format!("cannot read {}: {e}", cert.display())))?
        .collect::<Result<_, _>>()
        .map_err(|e| {
            (
                true,
                format!("{}: not a PEM certificate chain: {e}", cert.display()),
            )
        })?;
    if chain.is_empty() {
        return Err((true, format!("{} holds no PEM certificate", cert.display())));
    }
    let der = PrivateKeyDer::from_pem_file(key).map_err(|e| {
        (
            false,
            format!("{}: not a PEM private key: {e}", key.display()),
        )
    })?;
    let signing = rustls::crypto::ring::sign::any_supported_type(&der).map_err(|e| {
        (
            false,
            format!("{}: unsupported private key: {e}", key.display()),
        )
    })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        (
            false,
            format!(
                "{} does not belong to {}: {e}",
                key.display(),
                cert.display()
            ),
        )
    })?;
    Ok(Arc::new(certified))
}

/// Serves one certificate whatever the SNI.
#[derive(Debug)]
pub struct SingleCert(pub Arc<CertifiedKey>);

impl ResolvesServerCert for SingleCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(Arc::clone(&self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_with_the_signature_hash() {
        // A skeleton certificate: SEQUENCE { SEQUENCE {}, SEQUENCE { OID }, BIT STRING }.
        let with_sig = |oid: &[u8]| {
            let alg = der::tlv(tag::SEQUENCE, &[&der::tlv(tag::OID, &[oid])]);
            der::tlv(
                tag::SEQUENCE,
                &[
                    &der::tlv(tag::SEQUENCE, &[]),
                    &alg,
                    &der::tlv(0x03, &[&[0u8]]),
                ],
            )
        };
        let rsa256 = with_sig(&[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b]);
        assert_eq!(server_end_point(&rsa256).len(), 21 + 32);
        let ec384 = with_sig(SHA384_SIGS[1]);
        assert_eq!(server_end_point(&ec384).len(), 21 + 48);
        let rsa512 = with_sig(SHA512_SIGS[0]);
        assert_eq!(server_end_point(&rsa512).len(), 21 + 64);
        assert!(server_end_point(&rsa256).starts_with(b"tls-server-end-point:"));
    }
}
