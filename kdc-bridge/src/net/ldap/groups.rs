//! Naming group SIDs.
//!
//! Names come from a cache shared by all lookups (groups are few and rarely renamed); the SIDs
//! it does not hold are asked for in batches, one subtree search per batch:
//! `(|(objectSid=\01\05…)(objectSid=…)…)` for `objectSid` and `sAMAccountName`. `objectSid`
//! is indexed in AD, so a batch costs about as much as a single lookup. A SID nothing under the
//! base DN has (a well-known SID, a group of another domain) is remembered as unnamed.

use std::collections::HashMap;
use std::sync::Arc;

use ldap3::Scope;

use super::error::{DirectoryError, Operation};
use super::search::{self, OpContext, Search};
use super::sid::{filter_value, Sid};
use super::user::Group;

/// SIDs per search: a filter of about 10 KB.
pub const SID_BATCH: usize = 100;

/// The SID → name cache: `None` for a SID known to have no object under the base DN.
pub(crate) type NameCache = moka::future::Cache<Sid, Option<Arc<str>>>;

/// Names `sids`, asking the DC for those the cache does not know. The groups come back sorted
/// by name, unnamed ones last (by SID).
pub(crate) async fn resolve(
    ldap: &mut ldap3::Ldap,
    ctx: OpContext<'_>,
    base_dn: &str,
    sids: Vec<Sid>,
    cache: &NameCache,
) -> Result<Vec<Group>, DirectoryError> {
    let mut groups = Vec::with_capacity(sids.len());
    let mut missing = Vec::new();
    for sid in sids {
        match cache.get(&sid).await {
            Some(name) => groups.push(Group {
                name: name.map(|n| n.to_string()),
                sid,
            }),
            None => missing.push(sid),
        }
    }
    for batch in missing.chunks(SID_BATCH) {
        let filter: String = std::iter::once("(|".to_owned())
            .chain(
                batch
                    .iter()
                    .map(|s| format!("(objectSid={})", filter_value(s))),
            )
            .chain(std::iter::once(")".to_owned()))
            .collect();
        let entries = search::run(
            ldap,
            ctx,
            Search {
                op: Operation::ResolveSids,
                base: base_dn,
                scope: Scope::Subtree,
                filter: &filter,
                attrs: vec!["objectSid".to_owned(), "sAMAccountName".to_owned()],
                max_entries: batch.len(),
            },
        )
        .await?;
        let mut names: HashMap<Sid, Arc<str>> = HashMap::with_capacity(entries.len());
        for e in &entries {
            let (Some(sid), Some(name)) = (
                e.first("objectSid").and_then(|v| Sid::from_bytes(v).ok()),
                e.text("sAMAccountName"),
            ) else {
                continue;
            };
            names.insert(sid, Arc::from(name));
        }
        for sid in batch {
            let name = names.get(sid).cloned();
            cache.insert(*sid, name.clone()).await;
            groups.push(Group {
                name: name.map(|n| n.to_string()),
                sid: *sid,
            });
        }
    }
    // `None` sorts before `Some`: put the unnamed ones last.
    groups.sort_by(|a, b| {
        (a.name.is_none(), &a.name, &a.sid).cmp(&(b.name.is_none(), &b.name, &b.sid))
    });
    Ok(groups)
}
