//! Issue 4 §3: signed SAML responses per second against raw RSA-2048 signatures per second, in
//! the same run, on one core. A signed response (assertion signed) is: the assertion written in
//! canonical form, its SHA-256 digest, SignedInfo, one RSA-SHA256 signature with the key loaded
//! at start-up, the response around it, base64 and the hand-off page.
//!
//! cargo bench -p gateway --bench saml

use std::path::PathBuf;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use gateway::saml::pages::{self, Lang};
use gateway::saml::response::{
    self, Addressing, AssertionContent, Attribute, AuthnMethod, NameId, Signing,
};
use gateway::saml::sign::Signer;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

fn signer() -> Signer {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/vectors/saml");
    let key = PrivateKeyDer::from_pem_file(dir.join("idp.key")).expect("idp.key");
    let cert = CertificateDer::from_pem_file(dir.join("idp.pem")).expect("idp.pem");
    Signer::new(&key, &cert).expect("an RSA-2048 key")
}

fn bench(c: &mut Criterion) {
    let signer = signer();
    let name_id = NameId {
        value: "BAMCAQYFCAcJCgsMDQ4PEA==".into(),
        format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent".into(),
    };
    // A Microsoft 365-like assertion plus ten groups.
    let attributes = vec![
        Attribute {
            name: "IDPEmail".into(),
            name_format: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified".into(),
            values: vec!["alice@corp.test".into()],
        },
        Attribute {
            name: "groups".into(),
            name_format: "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified".into(),
            values: (0..10).map(|i| format!("App-Group-{i:02}")).collect(),
        },
    ];
    let mut g = c.benchmark_group("saml");
    g.throughput(Throughput::Elements(1));
    g.bench_function("raw_rsa2048_sign", |b| {
        let msg = [7u8; 512];
        b.iter(|| signer.sign_raw(&msg).expect("sign"));
    });
    for (label, signing) in [
        ("signed_response/assertion", Signing::Assertion),
        ("signed_response/both", Signing::Both),
    ] {
        g.bench_function(label, |b| {
            b.iter(|| {
                let to = Addressing {
                    issuer: "https://gw.corp.test/saml/metadata",
                    acs_url: "https://login.microsoftonline.com/login.srf",
                    in_response_to: Some("_0123456789abcdef0123456789abcdef"),
                    response_id: "_fedcba9876543210fedcba9876543210",
                    now: 1_795_259_762,
                };
                let a = AssertionContent {
                    id: "_00112233445566778899aabbccddeeff",
                    audience: "urn:federation:MicrosoftOnline",
                    name_id: &name_id,
                    method: AuthnMethod::Windows,
                    authn_instant: 1_795_259_700,
                    session_index: "_s",
                    session_not_on_or_after: Some(1_795_288_562),
                    not_on_or_after: 1_795_260_062,
                    not_before: 1_795_259_582,
                    attributes: &attributes,
                };
                let xml = response::success(&to, &a, signing, &signer).expect("sign");
                pages::post(
                    Lang::En,
                    "Corp",
                    to.acs_url,
                    "SAMLResponse",
                    &STANDARD.encode(xml),
                    Some("rs"),
                )
            });
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
