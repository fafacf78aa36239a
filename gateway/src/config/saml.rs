//! `[saml]`: the identity provider and its registry of service providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::build::{positive, read_secret, resolve, Collector};
use super::login::{
    build_eligibility, build_login, KerberosEligibility, LoginSection, LoginSettings,
};
use super::saml_sp::build_sp;
pub use super::saml_sp::{
    Acs, AcsSection, AttributeRule, AttributeSection, NameIdRule, NameIdSection, RequestSignatures,
    ServiceProvider, Slo, SloBinding, SloSection, SpSection, ValueSource,
};
use super::FileChecks;
use crate::saml::pages::Lang;
use crate::saml::sign::Signer;

/// `[saml]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamlSection {
    /// The gateway's public base URL, e.g. `https://gw.corp.test` (endpoints are below it).
    pub base_url: String,
    /// The IdP's entityID. Default: `<base_url>/saml/metadata`.
    pub entity_id: Option<String>,
    /// The organization's name, shown on the sign-in pages.
    pub display_name: Option<String>,
    /// `en` (default) or `ja`: the pages' language when `Accept-Language` names neither.
    pub default_language: Option<String>,
    /// PEM private key (RSA, mode 600) that signs responses.
    pub signing_key: PathBuf,
    /// PEM certificate of that key, published in the metadata.
    pub signing_cert: PathBuf,
    /// During a key rollover: the next certificate, published beside the current one.
    pub next_signing_cert: Option<PathBuf>,
    /// Days the metadata is valid (`validUntil`).
    pub metadata_valid_days: Option<u32>,
    /// How long SPs may cache the metadata (`cacheDuration`, seconds).
    pub metadata_cache_seconds: Option<u32>,
    /// Allowed clock skew for `IssueInstant` and `NotBefore` (seconds).
    pub max_skew_seconds: Option<i64>,
    /// Longest `RelayState` accepted (bytes; SAML Bindings §3.4.3 says 80).
    pub max_relay_state_bytes: Option<usize>,
    /// A secret (mode 600) from which persistent pairwise NameIDs are derived.
    pub pairwise_key_file: Option<PathBuf>,
    /// Clients in these networks are asked for Kerberos first (default: every address).
    #[serde(default)]
    pub kerberos_networks: Vec<String>,
    /// Clients whose User-Agent matches one of these globs get the password form at once.
    #[serde(default)]
    pub kerberos_user_agent_deny: Vec<String>,
    /// The password form.
    #[serde(default)]
    pub login: LoginSection,
    /// The registered SPs.
    #[serde(default)]
    pub service_providers: Vec<SpSection>,
}

/// The checked `[saml]`.
#[derive(Debug, Clone)]
pub struct SamlSettings {
    /// Public base URL, no trailing slash.
    pub base_url: String,
    /// IdP entityID.
    pub entity_id: String,
    /// Shown on the pages.
    pub display_name: String,
    /// Pages' language by default.
    pub default_language: Lang,
    /// The signing key (absent when files are not read: `check-config --syntax-only`).
    pub signer: Option<Arc<Signer>>,
    /// DER of the signing certificate.
    pub signing_cert: Vec<u8>,
    /// DER of the next certificate.
    pub next_signing_cert: Option<Vec<u8>>,
    /// `validUntil` = now + this.
    pub metadata_valid_secs: i64,
    /// `cacheDuration`.
    pub metadata_cache_secs: u32,
    /// Allowed skew.
    pub max_skew_secs: i64,
    /// Longest RelayState.
    pub max_relay_state_bytes: usize,
    /// Pairwise ID secret.
    pub pairwise_key: Option<Vec<u8>>,
    /// Who is asked for Kerberos.
    pub kerberos: KerberosEligibility,
    /// The password form.
    pub login: LoginSettings,
    /// Registered SPs.
    pub sps: Vec<ServiceProvider>,
}

impl SamlSettings {
    /// The SP registered under `entity_id`.
    pub fn sp(&self, entity_id: &str) -> Option<&ServiceProvider> {
        self.sps.iter().find(|s| s.entity_id == entity_id)
    }

    /// Every LDAP attribute the rules read (added to the directory's list).
    pub fn ldap_attributes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sp in &self.sps {
            let sources =
                std::iter::once(&sp.name_id.source).chain(sp.attributes.iter().map(|a| &a.source));
            for s in sources {
                let attr = match s {
                    ValueSource::Mail => "mail".to_owned(),
                    ValueSource::Ldap(a) => a.clone(),
                    _ => continue,
                };
                if !out.iter().any(|o: &String| o.eq_ignore_ascii_case(&attr)) {
                    out.push(attr);
                }
            }
        }
        out
    }
}

pub(super) fn read_cert(c: &mut Collector, key: &str, path: &Path) -> Option<Vec<u8>> {
    if c.files == FileChecks::Skip {
        return None;
    }
    match CertificateDer::from_pem_file(path) {
        Ok(cert) => Some(cert.as_ref().to_vec()),
        Err(e) => {
            c.add(
                key,
                format!("cannot read a PEM certificate from {}: {e}", path.display()),
            );
            None
        }
    }
}

pub(super) fn url(c: &mut Collector, key: &str, u: &str) {
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && http::Uri::try_from(u).is_ok_and(|p| p.host().is_some_and(|h| !h.is_empty()));
    if !ok {
        c.add(key, format!("`{u}` is not an absolute http(s) URL"));
    }
}

/// Checks `[saml]` and reads its files.
pub(super) fn build_saml(
    s: &SamlSection,
    base: &Path,
    has_directory: bool,
    c: &mut Collector,
) -> SamlSettings {
    let base_url = s.base_url.trim_end_matches('/').to_owned();
    url(c, "saml.base_url", &base_url);
    if base_url.starts_with("http://") {
        c.add(
            "saml.base_url",
            "must be https://: the login form and the assertions cross it",
        );
    }
    let entity_id = s
        .entity_id
        .clone()
        .unwrap_or_else(|| format!("{base_url}/saml/metadata"));
    let signing_cert = read_cert(c, "saml.signing_cert", &resolve(base, &s.signing_cert));
    let signer =
        read_secret(c, "saml.signing_key", &resolve(base, &s.signing_key)).and_then(|pem| {
            let key = PrivateKeyDer::from_pem_slice(&pem).map_err(|e| {
                c.add("saml.signing_key", format!("not a PEM private key: {e}"));
            });
            let (key, cert) = (key.ok()?, signing_cert.as_ref()?);
            Signer::new(&key, &CertificateDer::from(cert.as_slice()))
                .map_err(|e| c.add("saml.signing_key", e.to_string()))
                .ok()
                .map(Arc::new)
        });
    let next_signing_cert = s
        .next_signing_cert
        .as_ref()
        .and_then(|p| read_cert(c, "saml.next_signing_cert", &resolve(base, p)));
    let pairwise_key = s
        .pairwise_key_file
        .as_ref()
        .and_then(|p| read_secret(c, "saml.pairwise_key_file", &resolve(base, p)));
    if let Some(k) = &pairwise_key {
        if k.len() < 32 {
            c.add(
                "saml.pairwise_key_file",
                "holds fewer than 32 bytes; use `head -c 32 /dev/urandom`",
            );
        }
    }
    let max_skew_secs = positive(
        c,
        "saml.max_skew_seconds",
        s.max_skew_seconds.unwrap_or(180),
    );
    let sps = s
        .service_providers
        .iter()
        .enumerate()
        .map(|(i, sp)| build_sp(sp, i, &entity_id, base, c))
        .collect::<Vec<_>>();
    for (i, sp) in sps.iter().enumerate() {
        if sps[..i].iter().any(|o| o.entity_id == sp.entity_id) {
            c.add(
                format!("saml.service_providers[{i}].entity_id"),
                format!("`{}` is registered twice", sp.entity_id),
            );
        }
        let pairwise = std::iter::once(&sp.name_id.source)
            .chain(sp.attributes.iter().map(|a| &a.source))
            .any(|s| *s == ValueSource::Pairwise);
        if pairwise && s.pairwise_key_file.is_none() {
            c.add(
                format!("saml.service_providers[{i}]"),
                "uses pairwise IDs: set saml.pairwise_key_file",
            );
        }
    }
    let default_language = match s.default_language.as_deref() {
        None | Some("en") => Lang::En,
        Some("ja") => Lang::Ja,
        Some(other) => {
            c.add(
                "saml.default_language",
                format!("`{other}` is not one of: en, ja"),
            );
            Lang::En
        }
    };
    SamlSettings {
        base_url,
        entity_id,
        display_name: s
            .display_name
            .clone()
            .unwrap_or_else(|| "iwa-gateway".into()),
        default_language,
        signer,
        signing_cert: signing_cert.unwrap_or_default(),
        next_signing_cert,
        metadata_valid_secs: i64::from(positive(
            c,
            "saml.metadata_valid_days",
            s.metadata_valid_days.unwrap_or(7),
        )) * 86_400,
        metadata_cache_secs: s.metadata_cache_seconds.unwrap_or(3600),
        max_skew_secs,
        max_relay_state_bytes: match s.max_relay_state_bytes.unwrap_or(80) {
            n @ 1..=1024 => n,
            n => {
                // The login form carries it sealed in a value of at most 4 KiB.
                c.add(
                    "saml.max_relay_state_bytes",
                    format!("must be 1 to 1024, got {n}"),
                );
                80
            }
        },
        pairwise_key,
        kerberos: build_eligibility(&s.kerberos_networks, &s.kerberos_user_agent_deny, c),
        login: build_login(&s.login, has_directory, c),
        sps,
    }
}
