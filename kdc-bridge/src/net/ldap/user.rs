//! Finding a user and their transitive groups.
//!
//! Two searches on one DC:
//!
//! 1. subtree under the base DN, `(&(sAMAccountType=805306368)(userPrincipalName=…))` or
//!    `(…(sAMAccountName=…))`: the account (805306368 is `SAM_USER_OBJECT`, [MS-SAMR]
//!    §2.2.1.9, indexed, and excludes computers and groups), with the configured attributes;
//! 2. base scope on the user's DN for `tokenGroups`: the SIDs of every group the user is in,
//!    transitively, with the primary group. AD computes this constructed attribute only for a
//!    base-scope search ([MS-ADA3] `Token-Groups`).
//!
//! The SIDs are then named by the `groups` module.

use std::collections::BTreeMap;
use std::fmt;

use ldap3::Scope;

use super::error::{DirectoryError, Operation};
use super::search::{self, Entry, OpContext, Search};
use super::sid::{Guid, Sid};
use crate::proto::principal::Principal;

/// The longest name looked up, in bytes. A `userPrincipalName` has at most 1024 characters in
/// the schema, but real ones are short and the name comes from a client's ticket.
pub const MAX_USER_NAME: usize = 256;

/// `userAccountControl` bit `ACCOUNTDISABLE` ([MS-ADTS] §2.2.16).
const ACCOUNT_DISABLE: u32 = 0x2;

/// The attributes every lookup asks for, besides the configured ones.
const FIXED_ATTRIBUTES: [&str; 5] = [
    "sAMAccountName",
    "userPrincipalName",
    "objectGUID",
    "objectSid",
    "userAccountControl",
];

/// How to find a user.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum UserKey {
    /// By `userPrincipalName` (`alice@corp.test`).
    Upn(String),
    /// By `sAMAccountName` (`alice`).
    SamAccountName(String),
}

impl UserKey {
    /// By UPN, compared case-insensitively as AD does.
    pub fn upn(name: &str) -> Result<Self, DirectoryError> {
        Ok(Self::Upn(checked(name)?))
    }

    /// By `sAMAccountName`, compared case-insensitively as AD does.
    pub fn sam_account_name(name: &str) -> Result<Self, DirectoryError> {
        Ok(Self::SamAccountName(checked(name)?))
    }

    /// The key for a client principal from a ticket: an enterprise name
    /// (`alice@corp.test@CORP.TEST`, RFC 6806) by UPN, a plain one-component name
    /// (`alice@CORP.TEST`) by `sAMAccountName`, which is what AD's KDC matched it against.
    pub fn from_principal(principal: &Principal) -> Result<Self, DirectoryError> {
        match principal.components() {
            [name] if name.contains('@') => Self::upn(name),
            [name] => Self::sam_account_name(name),
            _ => Err(DirectoryError::InvalidUserName),
        }
    }

    /// The name.
    pub fn name(&self) -> &str {
        match self {
            Self::Upn(n) | Self::SamAccountName(n) => n,
        }
    }

    /// The cache key: kind and lowercased name.
    pub(crate) fn cache_key(&self) -> String {
        match self {
            Self::Upn(n) => format!("upn:{}", n.to_lowercase()),
            Self::SamAccountName(n) => format!("sam:{}", n.to_lowercase()),
        }
    }

    /// The search filter (RFC 4515, value escaped).
    fn filter(&self) -> String {
        let (attr, name) = match self {
            Self::Upn(n) => ("userPrincipalName", n),
            Self::SamAccountName(n) => ("sAMAccountName", n),
        };
        format!(
            "(&(sAMAccountType=805306368)({attr}={}))",
            ldap3::ldap_escape(name)
        )
    }
}

impl fmt::Debug for UserKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Upn(n) => write!(f, "upn:{n}"),
            Self::SamAccountName(n) => write!(f, "sam:{n}"),
        }
    }
}

fn checked(name: &str) -> Result<String, DirectoryError> {
    if name.is_empty() || name.len() > MAX_USER_NAME || name.chars().any(char::is_control) {
        return Err(DirectoryError::InvalidUserName);
    }
    Ok(name.to_owned())
}

/// A group the user is in.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Group {
    /// Its `sAMAccountName` (`Engineering`, `Domain Users`); `None` when no object with the
    /// SID is under the base DN (a group of another domain or a well-known SID).
    pub name: Option<String>,
    /// Its SID.
    pub sid: Sid,
}

/// What AD says about a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// The account's DN.
    pub dn: String,
    /// `sAMAccountName`.
    pub sam_account_name: Option<String>,
    /// `userPrincipalName`.
    pub user_principal_name: Option<String>,
    /// `objectGUID`: the stable identifier, unchanged by renames.
    pub object_guid: Option<Guid>,
    /// `objectSid`.
    pub object_sid: Option<Sid>,
    /// Whether `userAccountControl` has `ACCOUNTDISABLE`.
    pub disabled: bool,
    /// The configured attributes that are set, under their configured names, values as octets.
    pub attributes: BTreeMap<String, Vec<Vec<u8>>>,
    /// Transitive groups (from `tokenGroups`), sorted by name, unnamed ones last.
    pub groups: Vec<Group>,
}

impl Identity {
    /// The first value of a configured attribute as text (`mail`, `displayName`).
    pub fn text(&self, attribute: &str) -> Option<&str> {
        self.bytes(attribute)
            .and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The first value of a configured attribute.
    pub fn bytes(&self, attribute: &str) -> Option<&[u8]> {
        self.attributes
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(attribute))
            .and_then(|(_, v)| v.first())
            .map(Vec::as_slice)
    }

    /// The names of the groups that have one.
    pub fn group_names(&self) -> impl Iterator<Item = &str> {
        self.groups.iter().filter_map(|g| g.name.as_deref())
    }
}

/// What a user search needs beyond the connection.
#[derive(Debug)]
pub(crate) struct UserQuery<'a> {
    pub(crate) base_dn: &'a str,
    pub(crate) attributes: &'a [String],
    pub(crate) max_groups: usize,
    pub(crate) max_attribute_values: usize,
}

/// The account and its group SIDs, before the SIDs are named.
#[derive(Debug)]
pub(crate) struct Found {
    pub(crate) identity: Identity,
    pub(crate) group_sids: Vec<Sid>,
}

/// Runs both searches. `Ok(None)`: no such user.
pub(crate) async fn find(
    ldap: &mut ldap3::Ldap,
    ctx: OpContext<'_>,
    query: &UserQuery<'_>,
    key: &UserKey,
) -> Result<Option<Found>, DirectoryError> {
    let filter = key.filter();
    let mut attrs: Vec<String> = FIXED_ATTRIBUTES.iter().map(|a| (*a).to_owned()).collect();
    for a in query.attributes {
        if !attrs.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            attrs.push(a.clone());
        }
    }
    let entries = search::run(
        ldap,
        ctx,
        Search {
            op: Operation::FindUser,
            base: query.base_dn,
            scope: Scope::Subtree,
            filter: &filter,
            attrs,
            max_entries: 2,
        },
    )
    .await?;
    let entry = match entries.as_slice() {
        [] => return Ok(None),
        [entry] => entry,
        more => {
            return Err(DirectoryError::Ambiguous {
                dc: ctx.dc.to_owned(),
                count: more.len(),
            })
        }
    };
    let identity = identity_of(ctx.dc, entry, query)?;

    let groups = search::run(
        ldap,
        ctx,
        Search {
            op: Operation::TokenGroups,
            base: &identity.dn,
            scope: Scope::Base,
            filter: "(objectClass=*)",
            attrs: vec!["tokenGroups".to_owned()],
            max_entries: 1,
        },
    )
    .await?;
    let raw = groups
        .first()
        .map(|e| e.values("tokenGroups"))
        .unwrap_or_default();
    if raw.len() > query.max_groups {
        return Err(DirectoryError::TooLarge {
            dc: ctx.dc.to_owned(),
            what: "groups",
            limit: query.max_groups,
        });
    }
    let group_sids = raw
        .iter()
        .map(|v| Sid::from_bytes(v).ok())
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| DirectoryError::Malformed {
            dc: ctx.dc.to_owned(),
            what: "tokenGroups SID",
        })?;
    Ok(Some(Found {
        identity,
        group_sids,
    }))
}

fn identity_of(dc: &str, entry: &Entry, query: &UserQuery<'_>) -> Result<Identity, DirectoryError> {
    let malformed = |what| DirectoryError::Malformed {
        dc: dc.to_owned(),
        what,
    };
    let object_guid = match entry.first("objectGUID") {
        Some(v) => Some(Guid::extract(v).ok_or_else(|| malformed("objectGUID"))?),
        None => None,
    };
    let object_sid = match entry.first("objectSid") {
        Some(v) => Some(Sid::from_bytes(v).map_err(|_| malformed("objectSid"))?),
        None => None,
    };
    let uac = match entry.text("userAccountControl") {
        // An INTEGER attribute: AD sends the signed decimal form.
        Some(v) => v
            .parse::<i64>()
            .map_err(|_| malformed("userAccountControl"))?,
        None => 0,
    };
    let mut attributes = BTreeMap::new();
    for name in query.attributes {
        let values = entry.values(name);
        if values.is_empty() {
            continue;
        }
        if values.len() > query.max_attribute_values {
            return Err(DirectoryError::TooLarge {
                dc: dc.to_owned(),
                what: "attribute values",
                limit: query.max_attribute_values,
            });
        }
        attributes.insert(name.clone(), values.to_vec());
    }
    Ok(Identity {
        dn: entry.dn.clone(),
        sam_account_name: entry.text("sAMAccountName").map(str::to_owned),
        user_principal_name: entry.text("userPrincipalName").map(str::to_owned),
        object_guid,
        object_sid,
        disabled: uac & i64::from(ACCOUNT_DISABLE) != 0,
        attributes,
        groups: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_filters() {
        let k = UserKey::upn("Alice@Corp.Test").unwrap();
        assert_eq!(k.cache_key(), "upn:alice@corp.test");
        assert_eq!(
            k.filter(),
            "(&(sAMAccountType=805306368)(userPrincipalName=Alice@Corp.Test))"
        );
        // RFC 4515 escaping of filter metacharacters.
        let k = UserKey::sam_account_name("a*)(uid=*").unwrap();
        assert_eq!(
            k.filter(),
            "(&(sAMAccountType=805306368)(sAMAccountName=a\\2a\\29\\28uid=\\2a))"
        );
        assert_eq!(UserKey::upn(""), Err(DirectoryError::InvalidUserName));
        assert_eq!(
            UserKey::sam_account_name(&"a".repeat(257)),
            Err(DirectoryError::InvalidUserName)
        );
        assert_eq!(
            UserKey::sam_account_name("a\nb"),
            Err(DirectoryError::InvalidUserName)
        );
    }

    #[test]
    fn keys_from_principals() {
        let plain = Principal::parse("alice@CORP.TEST").unwrap();
        assert_eq!(
            UserKey::from_principal(&plain),
            Ok(UserKey::SamAccountName("alice".into()))
        );
        let enterprise = Principal::new(
            crate::proto::principal::NT_ENTERPRISE,
            vec!["alice@corp.test".into()],
            "CORP.TEST".into(),
        );
        assert_eq!(
            UserKey::from_principal(&enterprise),
            Ok(UserKey::Upn("alice@corp.test".into()))
        );
        let service = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
        assert_eq!(
            UserKey::from_principal(&service),
            Err(DirectoryError::InvalidUserName)
        );
    }
}
