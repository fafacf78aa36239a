//! `[saml]`: the identity provider and its registry of service providers.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde::Deserialize;

use super::build::{positive, read_secret, resolve, Collector};
use super::identity::GroupPattern;
use super::FileChecks;
use crate::saml::pages::Lang;
use crate::saml::response::Signing;
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
    /// The registered SPs.
    #[serde(default)]
    pub service_providers: Vec<SpSection>,
}

/// `[[saml.service_providers]]` as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpSection {
    /// The SP's entityID (the `Issuer` of its AuthnRequests, the `Audience` of assertions).
    pub entity_id: String,
    /// A name for logs and pages; default: the entityID.
    pub display_name: Option<String>,
    /// Its assertion consumer services (HTTP-POST).
    pub acs: Vec<AcsSection>,
    /// PEM certificate that signs its AuthnRequests.
    pub certificate: Option<PathBuf>,
    /// `required` (default with a certificate), `optional` or `none`.
    pub request_signatures: Option<String>,
    /// The NameID.
    pub name_id: Option<NameIdSection>,
    /// Attributes in the assertion.
    #[serde(default)]
    pub attributes: Vec<AttributeSection>,
    /// `assertion` (default), `response` or `both`.
    pub sign: Option<String>,
    /// Seconds an assertion is valid.
    pub assertion_lifetime_seconds: Option<i64>,
    /// The `Issuer` this SP sees, when it is not the IdP's entityID (Microsoft 365 wants one
    /// per federated domain).
    pub issuer: Option<String>,
}

/// `acs = [{ url, index, default }]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AcsSection {
    /// The URL.
    pub url: String,
    /// Its index (`AssertionConsumerServiceIndex`). Default: its position.
    pub index: Option<u16>,
    /// The one used when the request names none. Default: the first.
    #[serde(default)]
    pub default: bool,
    /// Only `post` (HTTP-POST) is answered.
    pub binding: Option<String>,
}

/// `name_id = { format, source }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NameIdSection {
    /// `unspecified`, `email`, `persistent`, `transient`, `windows`, or a URI.
    pub format: Option<String>,
    /// `upn` (default), `mail`, `sam-account-name`, `object-guid`, `pairwise`, `principal`.
    pub source: Option<String>,
}

/// `[[saml.service_providers.attributes]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeSection {
    /// The attribute's `Name`.
    pub name: String,
    /// `upn`, `sam-account-name`, `principal`, `sid`, `object-guid`, `groups`, or `ldap:<attribute>`.
    pub source: String,
    /// `unspecified` (default), `uri`, `basic`, or a URI.
    pub name_format: Option<String>,
    /// For `groups`: only names (or SIDs) matching one of these globs.
    #[serde(default)]
    pub group_patterns: Vec<String>,
}

/// Whether an SP's AuthnRequests must be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestSignatures {
    /// Unsigned requests are refused.
    Required,
    /// Signed ones are checked, unsigned ones accepted.
    Optional,
    /// Not checked (no certificate).
    None,
}

/// Where a value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    /// `userPrincipalName`.
    Upn,
    /// `mail`.
    Mail,
    /// `sAMAccountName`.
    AccountName,
    /// `alice@CORP.TEST`.
    Principal,
    /// The user's SID.
    Sid,
    /// base64 of `objectGUID` (Microsoft 365's ImmutableID).
    ObjectGuid,
    /// A persistent pairwise ID: per SP, opaque, stable.
    Pairwise,
    /// The groups' names (SIDs when unnamed).
    Groups,
    /// A configured LDAP attribute.
    Ldap(String),
}

/// The NameID rule of an SP.
#[derive(Debug, Clone)]
pub struct NameIdRule {
    /// Format URI.
    pub format: String,
    /// Value.
    pub source: ValueSource,
}

/// One attribute rule.
#[derive(Debug, Clone)]
pub struct AttributeRule {
    /// `Name`.
    pub name: String,
    /// `NameFormat` URI.
    pub name_format: String,
    /// Value.
    pub source: ValueSource,
    /// Group filter (`groups` only).
    pub group_patterns: Vec<GroupPattern>,
}

/// An assertion consumer service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acs {
    /// The URL.
    pub url: String,
    /// Its index.
    pub index: u16,
    /// Whether it is the default.
    pub default: bool,
}

/// A registered SP.
#[derive(Debug, Clone)]
pub struct ServiceProvider {
    /// entityID.
    pub entity_id: String,
    /// For logs and pages.
    pub display_name: String,
    /// ACS endpoints.
    pub acs: Vec<Acs>,
    /// Certificate (DER) that signs its requests.
    pub certificate: Option<Vec<u8>>,
    /// Request signature policy.
    pub request_signatures: RequestSignatures,
    /// NameID.
    pub name_id: NameIdRule,
    /// Attributes.
    pub attributes: Vec<AttributeRule>,
    /// Signatures.
    pub sign: Signing,
    /// Assertion lifetime.
    pub assertion_lifetime_secs: i64,
    /// The `Issuer` for this SP.
    pub issuer: String,
}

impl ServiceProvider {
    /// The default ACS.
    pub fn default_acs(&self) -> Option<&Acs> {
        self.acs.iter().find(|a| a.default).or(self.acs.first())
    }
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

fn name_id_format(c: &mut Collector, key: &str, f: &str) -> String {
    let uri = match f {
        "unspecified" => "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified",
        "email" => "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        "persistent" => "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        "transient" => "urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
        "windows" => "urn:oasis:names:tc:SAML:1.1:nameid-format:WindowsDomainQualifiedName",
        uri if uri.starts_with("urn:") => uri,
        other => {
            c.add(
                key,
                format!("`{other}` is not one of: unspecified, email, persistent, transient, windows, or a urn: URI"),
            );
            "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
        }
    };
    uri.to_owned()
}

fn value_source(c: &mut Collector, key: &str, s: &str, groups_allowed: bool) -> ValueSource {
    match s {
        "upn" => ValueSource::Upn,
        "mail" => ValueSource::Mail,
        "sam-account-name" => ValueSource::AccountName,
        "principal" => ValueSource::Principal,
        "sid" => ValueSource::Sid,
        "object-guid" => ValueSource::ObjectGuid,
        "pairwise" => ValueSource::Pairwise,
        "groups" if groups_allowed => ValueSource::Groups,
        s if s.starts_with("ldap:") && s.len() > 5 => ValueSource::Ldap(s[5..].to_owned()),
        other => {
            let groups = if groups_allowed { "groups, " } else { "" };
            c.add(
                key,
                format!("`{other}` is not one of: upn, mail, sam-account-name, principal, sid, object-guid, pairwise, {groups}ldap:<attribute>"),
            );
            ValueSource::Upn
        }
    }
}

fn read_cert(c: &mut Collector, key: &str, path: &Path) -> Option<Vec<u8>> {
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

fn url(c: &mut Collector, key: &str, u: &str) {
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && http::Uri::try_from(u).is_ok_and(|p| p.host().is_some_and(|h| !h.is_empty()));
    if !ok {
        c.add(key, format!("`{u}` is not an absolute http(s) URL"));
    }
}

/// Checks `[saml]` and reads its files.
pub(super) fn build_saml(s: &SamlSection, base: &Path, c: &mut Collector) -> SamlSettings {
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
        max_relay_state_bytes: s.max_relay_state_bytes.unwrap_or(80),
        pairwise_key,
        sps,
    }
}

fn build_sp(
    sp: &SpSection,
    i: usize,
    idp_entity_id: &str,
    base: &Path,
    c: &mut Collector,
) -> ServiceProvider {
    let key = |k: &str| format!("saml.service_providers[{i}].{k}");
    if sp.entity_id.is_empty() {
        c.add(key("entity_id"), "must not be empty");
    }
    if sp.acs.is_empty() {
        c.add(
            key("acs"),
            "needs at least one assertion consumer service URL",
        );
    }
    let mut acs = Vec::new();
    for (j, a) in sp.acs.iter().enumerate() {
        url(c, &key(&format!("acs[{j}].url")), &a.url);
        if let Some(b) = a.binding.as_deref().filter(|b| *b != "post") {
            c.add(
                key(&format!("acs[{j}].binding")),
                format!("`{b}` is not supported: responses are delivered with HTTP-POST (`post`)"),
            );
        }
        let index = a.index.unwrap_or(u16::try_from(j).unwrap_or(u16::MAX));
        if acs.iter().any(|o: &Acs| o.index == index) {
            c.add(
                key(&format!("acs[{j}].index")),
                format!("index {index} is used twice"),
            );
        }
        acs.push(Acs {
            url: a.url.clone(),
            index,
            default: a.default,
        });
    }
    if acs.iter().filter(|a| a.default).count() > 1 {
        c.add(key("acs"), "more than one ACS is marked `default = true`");
    }
    let certificate = sp
        .certificate
        .as_ref()
        .and_then(|p| read_cert(c, &key("certificate"), &resolve(base, p)));
    let request_signatures = match (sp.request_signatures.as_deref(), sp.certificate.is_some()) {
        (None, true) | (Some("required"), true) => RequestSignatures::Required,
        (Some("optional"), true) => RequestSignatures::Optional,
        (None | Some("none"), _) => RequestSignatures::None,
        (Some("required" | "optional"), false) => {
            c.add(
                key("request_signatures"),
                "checking signatures needs the SP's `certificate`",
            );
            RequestSignatures::None
        }
        (Some(other), _) => {
            c.add(
                key("request_signatures"),
                format!("`{other}` is not one of: required, optional, none"),
            );
            RequestSignatures::None
        }
    };
    let (source, format) = match &sp.name_id {
        Some(n) => (n.source.as_deref(), n.format.as_deref()),
        None => (None, None),
    };
    let source = value_source(c, &key("name_id.source"), source.unwrap_or("upn"), false);
    let default_format = match source {
        ValueSource::Mail => "email",
        ValueSource::ObjectGuid | ValueSource::Pairwise => "persistent",
        _ => "unspecified",
    };
    let name_id = NameIdRule {
        format: name_id_format(c, &key("name_id.format"), format.unwrap_or(default_format)),
        source,
    };
    let attributes = sp
        .attributes
        .iter()
        .enumerate()
        .map(|(j, a)| {
            let k = |f: &str| key(&format!("attributes[{j}].{f}"));
            if a.name.is_empty() {
                c.add(k("name"), "must not be empty");
            }
            let name_format = match a.name_format.as_deref().unwrap_or("unspecified") {
                "unspecified" => {
                    "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified".to_owned()
                }
                "uri" => "urn:oasis:names:tc:SAML:2.0:attrname-format:uri".to_owned(),
                "basic" => "urn:oasis:names:tc:SAML:2.0:attrname-format:basic".to_owned(),
                uri if uri.starts_with("urn:") => uri.to_owned(),
                other => {
                    c.add(
                        k("name_format"),
                        format!("`{other}` is not one of: unspecified, uri, basic, or a urn: URI"),
                    );
                    String::new()
                }
            };
            let group_patterns = a
                .group_patterns
                .iter()
                .enumerate()
                .filter_map(|(n, p)| match glob::Pattern::new(p) {
                    Ok(p) => Some(GroupPattern(p)),
                    Err(e) => {
                        c.add(k(&format!("group_patterns[{n}]")), format!("`{p}`: {e}"));
                        None
                    }
                })
                .collect();
            AttributeRule {
                name: a.name.clone(),
                name_format,
                source: value_source(c, &k("source"), &a.source, true),
                group_patterns,
            }
        })
        .collect();
    let sign = match sp.sign.as_deref() {
        None | Some("assertion") => Signing::Assertion,
        Some("response") => Signing::Response,
        Some("both") => Signing::Both,
        Some(other) => {
            c.add(
                key("sign"),
                format!("`{other}` is not one of: assertion, response, both"),
            );
            Signing::Assertion
        }
    };
    let lifetime = sp.assertion_lifetime_seconds.unwrap_or(300);
    if !(10..=86_400).contains(&lifetime) {
        c.add(
            key("assertion_lifetime_seconds"),
            format!("must be 10 to 86400, got {lifetime}"),
        );
    }
    ServiceProvider {
        entity_id: sp.entity_id.clone(),
        display_name: sp
            .display_name
            .clone()
            .unwrap_or_else(|| sp.entity_id.clone()),
        acs,
        certificate,
        request_signatures,
        name_id,
        attributes,
        sign,
        assertion_lifetime_secs: lifetime,
        issuer: sp
            .issuer
            .clone()
            .unwrap_or_else(|| idp_entity_id.to_owned()),
    }
}
