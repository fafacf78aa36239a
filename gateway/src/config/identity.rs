//! `[identity]`: the headers that carry the signed-in user to the upstream.

use std::collections::BTreeMap;

use super::build::{positive, Collector};
use super::file::IdentitySection;

/// How the identity reaches the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderFormat {
    /// One header per item: user, groups, SID, each configured attribute.
    Headers,
    /// One header holding a JSON object (ASCII only, non-ASCII as `\u` escapes).
    Json {
        /// Its name.
        header: String,
    },
}

/// A group filter: a glob (`*`, `?`, `[…]`) matched against the group's name and SID, case
/// ignored.
#[derive(Debug, Clone)]
pub struct GroupPattern(pub glob::Pattern);

impl GroupPattern {
    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        self.0.matches_with(
            text,
            glob::MatchOptions {
                case_sensitive: false,
                require_literal_separator: false,
                require_literal_leading_dot: false,
            },
        )
    }
}

/// The checked identity header settings.
#[derive(Debug, Clone)]
pub struct IdentityHeaders {
    /// The user header (`alice@CORP.TEST`), in both formats.
    pub user_header: String,
    /// Headers or JSON.
    pub format: HeaderFormat,
    /// The groups header (`headers` format).
    pub groups_header: String,
    /// The SID header (`headers` format).
    pub sid_header: String,
    /// Group filters; empty: every group.
    pub group_patterns: Vec<GroupPattern>,
    /// LDAP attribute → header (`headers` format), or → JSON key.
    pub attributes: Vec<(String, String)>,
    /// Largest header value.
    pub max_header_bytes: usize,
}

impl IdentityHeaders {
    /// Every header name the gateway may set: removed from client requests.
    pub fn names(&self) -> Vec<String> {
        let mut names = vec![self.user_header.clone()];
        match &self.format {
            HeaderFormat::Json { header } => names.push(header.clone()),
            HeaderFormat::Headers => {
                names.push(self.groups_header.clone());
                names.push(self.sid_header.clone());
                names.extend(self.attributes.iter().map(|(_, h)| h.clone()));
            }
        }
        names
    }

    /// Whether `name` or `sid` passes the group filter.
    pub fn keeps_group(&self, name: Option<&str>, sid: &str) -> bool {
        self.group_patterns.is_empty()
            || self
                .group_patterns
                .iter()
                .any(|p| name.is_some_and(|n| p.matches(n)) || p.matches(sid))
    }
}

/// The default attribute headers.
fn default_attribute_headers() -> BTreeMap<String, String> {
    [
        ("mail", "X-Remote-Email"),
        ("displayName", "X-Remote-Name"),
        ("objectGUID", "X-Remote-GUID"),
    ]
    .into_iter()
    .map(|(a, h)| (a.to_owned(), h.to_owned()))
    .collect()
}

fn header_name(c: &mut Collector, key: &str, name: &str) {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        c.add(key, format!("`{name}` is not a valid header name"));
    }
}

/// Checks the header part of `[identity]`; `attributes` are those read from AD.
pub(super) fn build_identity(
    i: &IdentitySection,
    attributes: &[String],
    c: &mut Collector,
) -> IdentityHeaders {
    let user_header = i
        .user_header
        .clone()
        .unwrap_or_else(|| "X-Remote-User".into());
    header_name(c, "identity.user_header", &user_header);
    let format = match i.format.as_deref() {
        None | Some("headers") => HeaderFormat::Headers,
        Some("json") => HeaderFormat::Json {
            header: i
                .json_header
                .clone()
                .unwrap_or_else(|| "X-Remote-Identity".into()),
        },
        Some(other) => {
            c.add(
                "identity.format",
                format!("`{other}` is not one of: headers, json"),
            );
            HeaderFormat::Headers
        }
    };
    if let HeaderFormat::Json { header } = &format {
        header_name(c, "identity.json_header", header);
    }
    let groups_header = i
        .groups_header
        .clone()
        .unwrap_or_else(|| "X-Remote-Groups".into());
    header_name(c, "identity.groups_header", &groups_header);
    let sid_header = i
        .sid_header
        .clone()
        .unwrap_or_else(|| "X-Remote-SID".into());
    header_name(c, "identity.sid_header", &sid_header);
    let mut group_patterns = Vec::new();
    for (n, p) in i.group_patterns.iter().enumerate() {
        match glob::Pattern::new(p) {
            Ok(g) => group_patterns.push(GroupPattern(g)),
            Err(e) => c.add(
                format!("identity.group_patterns[{n}]"),
                format!("`{p}` is not a pattern: {}", e.msg),
            ),
        }
    }
    let configured = i.attribute_headers.is_some();
    let map = i
        .attribute_headers
        .clone()
        .unwrap_or_else(default_attribute_headers);
    let mut headers = Vec::new();
    for (attribute, header) in map {
        let key = format!("identity.attribute_headers.{attribute}");
        if !attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&attribute))
        {
            // The defaults follow `directory.attributes`; a configured one must be read.
            if configured {
                c.add(
                    key,
                    format!("`{attribute}` is not in directory.attributes, so it is never read"),
                );
            }
            continue;
        }
        header_name(c, &key, &header);
        headers.push((attribute, header));
    }
    let max_header_bytes = positive(
        c,
        "identity.max_header_bytes",
        i.max_header_bytes.unwrap_or(8192),
    );
    IdentityHeaders {
        user_header,
        format,
        groups_header,
        sid_header,
        group_patterns,
        attributes: headers,
        max_header_bytes,
    }
}
