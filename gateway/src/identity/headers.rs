//! The identity as header values.
//!
//! Values are UTF-8, percent-encoded (RFC 3986 §2.1) for every octet a header value must not
//! carry or that would make a list ambiguous: controls (CR and LF included), non-ASCII, `%`,
//! `,` and `"`, and a leading or trailing space. A list (groups, multi-valued attributes) is
//! its items joined by `,`. So `Domain Users` stays as it is, `営業部` becomes `%E5%96%B6…`,
//! and a value can never end a header or start another. Upstreams decode each item with any
//! URL-decoder (`decodeURIComponent`, `urllib.parse.unquote`).
//!
//! The `json` format puts one JSON object in one header, with every non-ASCII character as a
//! `\u` escape, so the value is ASCII without controls.

use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::config::{HeaderFormat, IdentityHeaders};

use super::UserIdentity;

/// The octets encoded besides controls and non-ASCII.
const ITEM: &AsciiSet = &CONTROLS.add(b'%').add(b',').add(b'"');

/// One item of a header value, encoded.
pub fn encode_item(s: &str) -> String {
    let mut out = utf8_percent_encode(s, ITEM).to_string();
    if out.ends_with(' ') {
        out.pop();
        out.push_str("%20");
    }
    if out.starts_with(' ') {
        out.replace_range(..1, "%20");
    }
    out
}

/// The headers for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Built {
    /// (name, value) pairs.
    pub headers: Vec<(String, String)>,
    /// Groups left out because the value reached the size limit.
    pub groups_dropped: usize,
}

/// The names (or SIDs, for groups without a known name) of the groups that pass the filter.
fn kept_groups<'a>(cfg: &IdentityHeaders, id: &'a UserIdentity) -> Vec<&'a str> {
    id.groups
        .iter()
        .filter(|g| cfg.keeps_group(g.name.as_deref(), &g.sid))
        .map(|g| g.name.as_deref().unwrap_or(&g.sid))
        .collect()
}

/// Joins encoded items with `,` up to `max` octets; returns the value and how many items did
/// not fit.
fn bounded_list<'a>(items: impl IntoIterator<Item = &'a str>, max: usize) -> (String, usize) {
    let mut out = String::new();
    let mut dropped = 0;
    for item in items {
        let e = encode_item(item);
        let extra = e.len() + usize::from(!out.is_empty());
        if dropped > 0 || out.len() + extra > max {
            dropped += 1;
            continue;
        }
        if !out.is_empty() {
            out.push(',');
        }
        out.push_str(&e);
    }
    (out, dropped)
}

/// The identity headers for `id`.
pub fn build(cfg: &IdentityHeaders, id: &UserIdentity) -> Built {
    match &cfg.format {
        HeaderFormat::Headers => build_headers(cfg, id),
        HeaderFormat::Json { header } => build_json(cfg, id, header),
    }
}

fn build_headers(cfg: &IdentityHeaders, id: &UserIdentity) -> Built {
    let mut headers = vec![(cfg.user_header.clone(), encode_item(&id.principal))];
    if let Some(sid) = &id.sid {
        headers.push((cfg.sid_header.clone(), encode_item(sid)));
    }
    let groups = kept_groups(cfg, id);
    let (value, groups_dropped) = bounded_list(groups, cfg.max_header_bytes);
    if !value.is_empty() {
        headers.push((cfg.groups_header.clone(), value));
    }
    for (attribute, header) in &cfg.attributes {
        let values = id
            .attributes
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
            .map(|(_, v)| v);
        if let Some(values) = values {
            let (value, _) = bounded_list(values.iter().map(String::as_str), cfg.max_header_bytes);
            if !value.is_empty() {
                headers.push((header.clone(), value));
            }
        }
    }
    Built {
        headers,
        groups_dropped,
    }
}

fn build_json(cfg: &IdentityHeaders, id: &UserIdentity, header: &str) -> Built {
    let mut object = serde_json::Map::new();
    object.insert("user".into(), id.principal.clone().into());
    if let Some(sid) = &id.sid {
        object.insert("sid".into(), sid.clone().into());
    }
    for (attribute, _) in &cfg.attributes {
        if let Some((_, values)) = id
            .attributes
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(attribute))
        {
            let value = match values.as_slice() {
                [one] => one.clone().into(),
                many => many.to_vec().into(),
            };
            object.insert(attribute.clone(), value);
        }
    }
    object.insert("degraded".into(), id.source.is_degraded().into());
    let base = ascii_json(&serde_json::Value::Object(object.clone()));
    let mut groups = Vec::new();
    let mut used = base.len() + r#","groups":[]"#.len();
    let mut groups_dropped = 0;
    for g in kept_groups(cfg, id) {
        let item = ascii_json(&serde_json::Value::from(g));
        let extra = item.len() + usize::from(!groups.is_empty());
        if groups_dropped > 0 || used + extra > cfg.max_header_bytes {
            groups_dropped += 1;
            continue;
        }
        used += extra;
        groups.push(serde_json::Value::from(g));
    }
    object.insert("groups".into(), groups.into());
    Built {
        headers: vec![
            (cfg.user_header.clone(), encode_item(&id.principal)),
            (
                header.to_owned(),
                ascii_json(&serde_json::Value::Object(object)),
            ),
        ],
        groups_dropped,
    }
}

/// JSON text with every non-ASCII character as a `\u` escape (UTF-16 units). Outside strings
/// JSON text is ASCII, so escaping characters wherever they are is correct.
fn ascii_json(v: &serde_json::Value) -> String {
    let text = v.to_string();
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "headers_test.rs"]
mod tests;
