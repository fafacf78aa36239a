//! The IdP's metadata (SAML Metadata §2.3.2, §2.4.3): entityID, `validUntil`,
//! `cacheDuration`, the signing certificate (and the next one during a rollover), the NameID
//! formats the SPs are configured with, and the SSO and single logout endpoints for both
//! bindings.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use kdc_bridge::proto::krb::asn1::format_rfc3339;

use super::sign::DS;
use super::xml::Canonical;
use crate::config::saml::SamlSettings;

const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// The metadata document as of `now` (Unix seconds).
pub fn render(saml: &SamlSettings, now: i64) -> String {
    let mut w = Canonical::with_capacity(8192);
    let valid_until = format_rfc3339(now + saml.metadata_valid_secs);
    let cache = format!("PT{}S", saml.metadata_cache_secs);
    w.open(
        "md:EntityDescriptor",
        &[("md", MD)],
        &[
            ("entityID", &saml.entity_id),
            ("validUntil", &valid_until),
            ("cacheDuration", &cache),
        ],
    );
    w.open(
        "md:IDPSSODescriptor",
        &[],
        &[
            ("protocolSupportEnumeration", PROTOCOL),
            ("WantAuthnRequestsSigned", "false"),
        ],
    );
    for cert in std::iter::once(&saml.signing_cert).chain(saml.next_signing_cert.as_ref()) {
        w.open("md:KeyDescriptor", &[], &[("use", "signing")]);
        w.open("ds:KeyInfo", &[("ds", DS)], &[]);
        w.open("ds:X509Data", &[], &[]);
        w.leaf("ds:X509Certificate", &[], &STANDARD.encode(cert));
        w.close();
        w.close();
        w.close();
    }
    let slo = format!("{}/saml/slo", saml.base_url);
    for binding in [REDIRECT, POST] {
        w.leaf(
            "md:SingleLogoutService",
            &[("Binding", binding), ("Location", &slo)],
            "",
        );
    }
    let mut formats: Vec<&str> = saml.sps.iter().map(|s| s.name_id.format.as_str()).collect();
    formats.push("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified");
    formats.sort_unstable();
    formats.dedup();
    for f in formats {
        w.leaf("md:NameIDFormat", &[], f);
    }
    let sso = format!("{}/saml/sso", saml.base_url);
    for binding in [REDIRECT, POST] {
        w.leaf(
            "md:SingleSignOnService",
            &[("Binding", binding), ("Location", &sso)],
            "",
        );
    }
    w.finish()
}
