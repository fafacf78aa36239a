//! `[[saml.service_providers]]`: the SP registry, its NameID and attribute rules.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::build::{resolve, Collector};
use super::identity::GroupPattern;
use super::saml::{read_cert, url};
use crate::saml::response::Signing;

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
    /// The `Issuer` this SP sees, when it is not the IdP's entityID.
    pub issuer: Option<String>,
    /// Where its LogoutResponses go: `{ url, binding = "post" | "redirect" }`.
    pub slo: Option<SloSection>,
    /// Allow `/saml/idp-init` for this SP (default false: an unsolicited response with any
    /// RelayState is only for SPs that expect it).
    #[serde(default)]
    pub idp_initiated: bool,
    /// The `Issuer` by the domain of the user's UPN (Microsoft 365 wants one per federated
    /// domain).
    #[serde(default)]
    pub issuer_by_upn_domain: std::collections::BTreeMap<String, String>,
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

/// `slo = { url, binding }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SloSection {
    /// The SP's SingleLogoutService URL.
    pub url: String,
    /// `redirect` (default) or `post`.
    pub binding: Option<String>,
}

/// How a LogoutResponse is delivered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SloBinding {
    /// A 302 with a signed query string.
    Redirect,
    /// An auto-submitted form with an enveloped signature.
    Post,
}

/// An SP's single logout endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slo {
    /// URL.
    pub url: String,
    /// Binding.
    pub binding: SloBinding,
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
    /// The `Issuer` by UPN domain (lower case).
    pub issuer_by_upn_domain: Vec<(String, String)>,
    /// Its single logout endpoint.
    pub slo: Option<Slo>,
    /// Whether `/saml/idp-init` serves it.
    pub idp_initiated: bool,
}

impl ServiceProvider {
    /// The `Issuer` for a user with this UPN.
    pub fn issuer_for(&self, upn: Option<&str>) -> &str {
        let domain = upn.and_then(|u| u.rsplit_once('@')).map(|(_, d)| d);
        domain
            .and_then(|d| {
                self.issuer_by_upn_domain
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(d))
            })
            .map_or(self.issuer.as_str(), |(_, v)| v.as_str())
    }

    /// The default ACS.
    pub fn default_acs(&self) -> Option<&Acs> {
        self.acs.iter().find(|a| a.default).or(self.acs.first())
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

pub(super) fn build_sp(
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
    let slo = sp.slo.as_ref().map(|s| {
        url(c, &key("slo.url"), &s.url);
        if sp.certificate.is_none() {
            c.add(
                key("slo"),
                "single logout needs the SP's `certificate`: its LogoutRequests must be signed",
            );
        }
        let binding = match s.binding.as_deref() {
            None | Some("redirect") => SloBinding::Redirect,
            Some("post") => SloBinding::Post,
            Some(other) => {
                c.add(
                    key("slo.binding"),
                    format!("`{other}` is not one of: redirect, post"),
                );
                SloBinding::Redirect
            }
        };
        Slo {
            url: s.url.clone(),
            binding,
        }
    });
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
        issuer_by_upn_domain: sp
            .issuer_by_upn_domain
            .iter()
            .map(|(d, i)| (d.to_ascii_lowercase(), i.clone()))
            .collect(),
        slo,
        idp_initiated: sp.idp_initiated,
    }
}
