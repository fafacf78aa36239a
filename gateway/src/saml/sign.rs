//! Enveloped XML signatures (XML-DSig 1.1) over elements written by [`Canonical`]: RSA-SHA256,
//! a SHA-256 digest, exclusive canonicalization, and the signing key parsed once at start-up
//! (samael's `sign_xml` parses the DER key on every call, which costs more than the signature).
//! The RSA operation is OpenSSL's (linked for samael anyway): 2,200 signatures/s per core here
//! against ring's 1,300.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest as _, Sha256};

use super::xml::Canonical;

/// XML-DSig's namespace.
pub const DS: &str = "http://www.w3.org/2000/09/xmldsig#";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// Why a signing key cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// Not an RSA key OpenSSL accepts (PKCS#1 or PKCS#8, 2048 to 8192 bits).
    #[error("not a usable RSA private key (PKCS#1 or PKCS#8, 2048-8192 bits): {0}")]
    Rejected(String),
    /// EC and other key types.
    #[error("only RSA signing keys are supported (found {0})")]
    NotRsa(&'static str),
}

/// The IdP's signing key and the certificate published for it.
pub struct Signer {
    key: PKey<Private>,
    cert_b64: String,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("bits", &self.key.bits())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// A signer for `key` whose certificate is `cert`.
    pub fn new(key: &PrivateKeyDer<'_>, cert: &CertificateDer<'_>) -> Result<Self, KeyError> {
        let der = match key {
            PrivateKeyDer::Pkcs1(k) => k.secret_pkcs1_der(),
            PrivateKeyDer::Pkcs8(k) => k.secret_pkcs8_der(),
            PrivateKeyDer::Sec1(_) => return Err(KeyError::NotRsa("an EC key")),
            _ => return Err(KeyError::NotRsa("an unknown key type")),
        };
        let key = PKey::private_key_from_der(der).map_err(|e| KeyError::Rejected(e.to_string()))?;
        if key.rsa().is_err() {
            return Err(KeyError::NotRsa("not an RSA key"));
        }
        if !(2048..=8192).contains(&key.bits()) {
            return Err(KeyError::Rejected(format!("{} bits", key.bits())));
        }
        Ok(Self {
            key,
            cert_b64: STANDARD.encode(cert.as_ref()),
        })
    }

    /// The certificate, base64 DER (as in `ds:X509Certificate`).
    pub fn cert_base64(&self) -> &str {
        &self.cert_b64
    }

    /// A bare RSA-SHA256 signature of `message` (the benchmark's baseline).
    pub fn sign_raw(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), &self.key)
            .map_err(|_| SignError)?;
        signer.update(message).map_err(|_| SignError)?;
        signer.sign_to_vec().map_err(|_| SignError)
    }

    /// Signs the element `xml` (canonical, written by [`Canonical`], without a signature) whose
    /// `ID` is `id`, inserting the `ds:Signature` at byte offset `at` (after its `Issuer`).
    pub fn sign_enveloped(&self, xml: &mut String, id: &str, at: usize) -> Result<(), SignError> {
        if !xml.is_char_boundary(at) {
            return Err(SignError);
        }
        let digest = STANDARD.encode(Sha256::digest(xml.as_bytes()));
        // The canonical form of SignedInfo on its own declares `ds` itself; inside the
        // Signature element the declaration is the Signature's.
        let signed_info = signed_info(&digest, id, true);
        let value = STANDARD.encode(self.sign_raw(signed_info.as_bytes())?);

        let mut sig = Canonical::with_capacity(2048 + self.cert_b64.len());
        sig.open("ds:Signature", &[("ds", DS)], &[]);
        sig.raw(&signed_info_in_signature(&signed_info));
        sig.leaf("ds:SignatureValue", &[], &value);
        sig.open("ds:KeyInfo", &[], &[]);
        sig.open("ds:X509Data", &[], &[]);
        sig.leaf("ds:X509Certificate", &[], &self.cert_b64);
        xml.insert_str(at, &sig.finish());
        Ok(())
    }
}

/// Signing failed (OpenSSL refused; does not happen with a key it accepted).
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error("RSA signing failed")]
pub struct SignError;

fn signed_info(digest_b64: &str, id: &str, declare_ds: bool) -> String {
    let mut w = Canonical::with_capacity(900);
    let ns: &[(&str, &str)] = if declare_ds { &[("ds", DS)] } else { &[] };
    w.open("ds:SignedInfo", ns, &[]);
    w.leaf("ds:CanonicalizationMethod", &[("Algorithm", EXC_C14N)], "");
    w.leaf("ds:SignatureMethod", &[("Algorithm", RSA_SHA256)], "");
    let uri = format!("#{id}");
    w.open("ds:Reference", &[], &[("URI", &uri)]);
    w.open("ds:Transforms", &[], &[]);
    w.leaf("ds:Transform", &[("Algorithm", ENVELOPED)], "");
    w.leaf("ds:Transform", &[("Algorithm", EXC_C14N)], "");
    w.close();
    w.leaf("ds:DigestMethod", &[("Algorithm", SHA256)], "");
    w.leaf("ds:DigestValue", &[], digest_b64);
    w.finish()
}

/// The same SignedInfo without its own `xmlns:ds` (declared by the enclosing Signature).
fn signed_info_in_signature(canonical: &str) -> String {
    canonical.replacen(&format!(" xmlns:ds=\"{DS}\""), "", 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_info_inside_the_signature_drops_only_its_declaration() {
        let alone = signed_info("ZGln", "_abc", true);
        assert!(alone.starts_with(
            "<ds:SignedInfo xmlns:ds=\"http://www.w3.org/2000/09/xmldsig#\"><ds:Canonicalization"
        ));
        let inside = signed_info_in_signature(&alone);
        assert_eq!(inside, signed_info("ZGln", "_abc", false));
        assert!(inside.contains("<ds:Reference URI=\"#_abc\">"));
        assert!(inside.contains("<ds:DigestValue>ZGln</ds:DigestValue>"));
    }
}
