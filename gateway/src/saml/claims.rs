//! What an SP is told about the user: the NameID and the attributes its rules ask for, from the
//! resolved identity (AD's attributes and groups, or the PAC's).

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use super::response::{Attribute, NameId};
use crate::config::saml::{ServiceProvider, ValueSource};
use crate::identity::UserIdentity;

/// The NameID's source has no value for this user (no UPN, no mail, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingValue(pub &'static str);

/// The NameID for `sp`.
pub fn name_id(
    sp: &ServiceProvider,
    id: &UserIdentity,
    pairwise_key: Option<&[u8]>,
) -> Result<NameId, MissingValue> {
    let value = values(&sp.name_id.source, id, sp, pairwise_key, &[])
        .into_iter()
        .next()
        .ok_or(MissingValue(label(&sp.name_id.source)))?;
    Ok(NameId {
        value,
        format: sp.name_id.format.clone(),
    })
}

/// The attributes for `sp`; an attribute without values is left out.
pub fn attributes(
    sp: &ServiceProvider,
    id: &UserIdentity,
    pairwise_key: Option<&[u8]>,
) -> Vec<Attribute> {
    sp.attributes
        .iter()
        .filter_map(|rule| {
            let values = values(&rule.source, id, sp, pairwise_key, &rule.group_patterns);
            (!values.is_empty()).then(|| Attribute {
                name: rule.name.clone(),
                name_format: rule.name_format.clone(),
                values,
            })
        })
        .collect()
}

fn label(source: &ValueSource) -> &'static str {
    match source {
        ValueSource::Upn => "userPrincipalName",
        ValueSource::Mail => "mail",
        ValueSource::AccountName => "sAMAccountName",
        ValueSource::Principal => "principal",
        ValueSource::Sid => "objectSid",
        ValueSource::ObjectGuid => "objectGUID",
        ValueSource::Pairwise => "pairwise ID (needs the user's SID)",
        ValueSource::Groups => "groups",
        ValueSource::Ldap(_) => "LDAP attribute",
    }
}

fn values(
    source: &ValueSource,
    id: &UserIdentity,
    sp: &ServiceProvider,
    pairwise_key: Option<&[u8]>,
    patterns: &[crate::config::identity::GroupPattern],
) -> Vec<String> {
    let ldap = |name: &str| {
        id.attributes
            .iter()
            .find(|(a, _)| a.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    match source {
        ValueSource::Upn => id.upn.iter().cloned().collect(),
        ValueSource::Mail => ldap("mail"),
        ValueSource::AccountName => id.account_name.iter().cloned().collect(),
        ValueSource::Principal => vec![id.principal.clone()],
        ValueSource::Sid => id.sid.iter().cloned().collect(),
        ValueSource::ObjectGuid => id.object_guid.iter().map(|g| STANDARD.encode(g)).collect(),
        ValueSource::Pairwise => match (pairwise_key, &id.sid) {
            (Some(key), Some(sid)) => vec![pairwise(key, &sp.entity_id, sid)],
            _ => Vec::new(),
        },
        ValueSource::Groups => id
            .groups
            .iter()
            .filter(|g| {
                patterns.is_empty()
                    || patterns.iter().any(|p| {
                        g.name.as_deref().is_some_and(|n| p.matches(n)) || p.matches(&g.sid)
                    })
            })
            .map(|g| g.name.clone().unwrap_or_else(|| g.sid.clone()))
            .collect(),
        ValueSource::Ldap(a) => ldap(a),
    }
}

/// A persistent pairwise ID: HMAC-SHA256(key, SP entityID ‖ 0 ‖ user SID), base64. Stable for a
/// user and an SP, unrelated between SPs, and reveals nothing without the key.
pub fn pairwise(key: &[u8], sp: &str, sid: &str) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(sp.as_bytes());
    ctx.update(&[0]);
    ctx.update(sid.as_bytes());
    STANDARD.encode(ctx.sign().as_ref())
}

#[cfg(test)]
#[path = "claims_test.rs"]
mod tests;
