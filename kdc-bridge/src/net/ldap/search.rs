//! A bounded search, and search entries read without panicking.
//!
//! ldap3's `SearchEntry::construct` panics on an entry it cannot parse and guesses which
//! values are text; we read the raw `SearchResultEntry` (RFC 4511 §4.5.2) instead and keep
//! every value as octets:
//!
//! ```text
//! SearchResultEntry ::= [APPLICATION 4] SEQUENCE {
//!      objectName      LDAPDN,
//!      attributes      PartialAttributeList }
//! PartialAttributeList ::= SEQUENCE OF partialAttribute PartialAttribute
//! PartialAttribute ::= SEQUENCE {
//!      type       AttributeDescription,
//!      vals       SET OF value AttributeValue }
//! ```

use std::time::{Duration, Instant};

use ldap3::asn1::StructureTag;
use ldap3::{Ldap, Scope, SearchOptions};

use super::error::{DirectoryError, Operation, Phase};
use crate::net::ldap::connect::{clip, map_error};

/// `SearchResultEntry` is `[APPLICATION 4]`.
const SEARCH_RESULT_ENTRY: u64 = 0x04;
/// RFC 4511 result codes that end a search without an error for us.
const SUCCESS: u32 = 0;
const SIZE_LIMIT_EXCEEDED: u32 = 4;
const NO_SUCH_OBJECT: u32 = 32;

/// One entry: its DN and the values of the attributes returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) dn: String,
    attrs: Vec<(String, Vec<Vec<u8>>)>,
}

impl Entry {
    /// The values of `name` (compared case-insensitively, as LDAP does); empty if absent.
    pub(crate) fn values(&self, name: &str) -> &[Vec<u8>] {
        self.attrs
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_slice())
            .unwrap_or_default()
    }

    /// The first value of `name`.
    pub(crate) fn first(&self, name: &str) -> Option<&[u8]> {
        self.values(name).first().map(Vec::as_slice)
    }

    /// The first value of `name` as UTF-8 text.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.first(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// Reads a `SearchResultEntry`.
    pub(crate) fn extract(tag: StructureTag) -> Option<Self> {
        let mut parts = tag
            .match_id(SEARCH_RESULT_ENTRY)?
            .expect_constructed()?
            .into_iter();
        let dn = String::from_utf8(parts.next()?.expect_primitive()?).ok()?;
        let mut attrs = Vec::new();
        for partial in parts.next()?.expect_constructed()? {
            let mut partial = partial.expect_constructed()?.into_iter();
            let name = String::from_utf8(partial.next()?.expect_primitive()?).ok()?;
            let values = partial
                .next()?
                .expect_constructed()?
                .into_iter()
                .map(StructureTag::expect_primitive)
                .collect::<Option<Vec<_>>>()?;
            attrs.push((name, values));
        }
        if parts.next().is_some() {
            return None;
        }
        Some(Self { dn, attrs })
    }
}

/// One search to run.
#[derive(Debug)]
pub(crate) struct Search<'a> {
    pub(crate) op: Operation,
    pub(crate) base: &'a str,
    pub(crate) scope: Scope,
    pub(crate) filter: &'a str,
    pub(crate) attrs: Vec<String>,
    /// The most entries kept; more is [`DirectoryError::TooLarge`]. Also sent to the DC as
    /// the size limit, so a DC that stops at it ends with `sizeLimitExceeded` and the entries
    /// so far, which we accept.
    pub(crate) max_entries: usize,
}

/// What a search needs from its request: the DC, the timeouts, the budget, the observer.
#[derive(Clone, Copy)]
pub(crate) struct OpContext<'a> {
    pub(crate) dc: &'a str,
    pub(crate) search_timeout: Duration,
    pub(crate) deadline: Instant,
    pub(crate) observer: &'a dyn super::observer::Observer,
}

impl std::fmt::Debug for OpContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpContext")
            .field("dc", &self.dc)
            .field("search_timeout", &self.search_timeout)
            .finish_non_exhaustive()
    }
}

/// Runs `search` on `ldap`, timed and reported to the observer.
pub(crate) async fn run(
    ldap: &mut Ldap,
    ctx: OpContext<'_>,
    search: Search<'_>,
) -> Result<Vec<Entry>, DirectoryError> {
    let started = Instant::now();
    let op = search.op;
    let result = run_unobserved(ldap, ctx, search).await;
    ctx.observer.ldap_operation(
        ctx.dc,
        op,
        started.elapsed(),
        result.as_ref().map(|_| ()).map_err(DirectoryError::reason),
    );
    result
}

async fn run_unobserved(
    ldap: &mut Ldap,
    ctx: OpContext<'_>,
    search: Search<'_>,
) -> Result<Vec<Entry>, DirectoryError> {
    let t = clip(ctx.search_timeout, ctx.deadline);
    let dc = ctx.dc;
    let op = search.op;
    let max = search.max_entries;
    let fail = move |e| map_error(dc, Phase::Search, op, e);
    let exchange = async {
        let limit = i32::try_from(max.saturating_add(1)).unwrap_or(i32::MAX);
        let mut stream = ldap
            .with_search_options(SearchOptions::new().sizelimit(limit))
            .streaming_search(search.base, search.scope, search.filter, search.attrs)
            .await
            .map_err(fail)?;
        let mut entries = Vec::new();
        while let Some(item) = stream.next().await.map_err(fail)? {
            // Continuation references (AD's other partitions) and intermediate responses.
            if item.is_ref() || item.is_intermediate() {
                continue;
            }
            if entries.len() >= max {
                let _ = stream.finish().await;
                return Err(DirectoryError::TooLarge {
                    dc: dc.to_owned(),
                    what: "search entries",
                    limit: max,
                });
            }
            entries.push(
                Entry::extract(item.0).ok_or_else(|| DirectoryError::Malformed {
                    dc: dc.to_owned(),
                    what: "search entry",
                })?,
            );
        }
        let done = stream.finish().await;
        match done.rc {
            SUCCESS | SIZE_LIMIT_EXCEEDED | NO_SUCH_OBJECT => Ok(entries),
            code => Err(DirectoryError::Server {
                dc: dc.to_owned(),
                op,
                code,
            }),
        }
    };
    tokio::time::timeout(t, exchange)
        .await
        .map_err(|_| DirectoryError::Timeout {
            dc: dc.to_owned(),
            phase: Phase::Search,
            after: t,
        })?
}

#[cfg(test)]
mod tests {
    use super::*;
    use ldap3::asn1::{TagClass, PL};

    fn prim(id: u64, bytes: &[u8]) -> StructureTag {
        StructureTag {
            class: TagClass::Universal,
            id,
            payload: PL::P(bytes.to_vec()),
        }
    }

    fn cons(class: TagClass, id: u64, inner: Vec<StructureTag>) -> StructureTag {
        StructureTag {
            class,
            id,
            payload: PL::C(inner),
        }
    }

    fn attr(name: &str, values: &[&[u8]]) -> StructureTag {
        cons(
            TagClass::Universal,
            16,
            vec![
                prim(4, name.as_bytes()),
                cons(
                    TagClass::Universal,
                    17,
                    values.iter().map(|v| prim(4, v)).collect(),
                ),
            ],
        )
    }

    fn entry(dn: &str, attrs: Vec<StructureTag>) -> StructureTag {
        cons(
            TagClass::Application,
            4,
            vec![prim(4, dn.as_bytes()), cons(TagClass::Universal, 16, attrs)],
        )
    }

    #[test]
    fn reads_entries_with_binary_values() {
        let guid: &[u8] = &[0xff, 0xfe, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13];
        let tag = entry(
            "CN=alice,CN=Users,DC=corp,DC=test",
            vec![
                attr("mail", &[b"alice@corp.test"]),
                attr("objectGUID", &[guid]),
                attr("tokenGroups", &[b"a", b"b"]),
            ],
        );
        let e = Entry::extract(tag).unwrap();
        assert_eq!(e.dn, "CN=alice,CN=Users,DC=corp,DC=test");
        assert_eq!(e.text("MAIL"), Some("alice@corp.test"));
        assert_eq!(e.first("objectguid"), Some(guid));
        assert_eq!(e.text("objectGUID"), None);
        assert_eq!(e.values("tokenGroups").len(), 2);
        assert!(e.values("department").is_empty());
    }

    #[test]
    fn refuses_malformed_entries() {
        // Not [APPLICATION 4].
        let mut wrong = entry("CN=x", vec![]);
        wrong.id = 5;
        assert_eq!(Entry::extract(wrong), None);
        // A DN that is constructed.
        let bad_dn = cons(
            TagClass::Application,
            4,
            vec![
                cons(TagClass::Universal, 4, vec![]),
                cons(TagClass::Universal, 16, vec![]),
            ],
        );
        assert_eq!(Entry::extract(bad_dn), None);
        // A value that is constructed.
        let bad_value = entry(
            "CN=x",
            vec![cons(
                TagClass::Universal,
                16,
                vec![
                    prim(4, b"mail"),
                    cons(
                        TagClass::Universal,
                        17,
                        vec![cons(TagClass::Universal, 4, vec![])],
                    ),
                ],
            )],
        );
        assert_eq!(Entry::extract(bad_value), None);
        // Missing attribute list; invalid UTF-8 in the DN.
        let short = cons(TagClass::Application, 4, vec![prim(4, b"CN=x")]);
        assert_eq!(Entry::extract(short), None);
        assert_eq!(
            Entry::extract(entry("\u{0}", vec![])).map(|e| e.dn),
            Some("\u{0}".into())
        );
        let latin1 = cons(
            TagClass::Application,
            4,
            vec![prim(4, &[0xe9]), cons(TagClass::Universal, 16, vec![])],
        );
        assert_eq!(Entry::extract(latin1), None);
        // Trailing elements.
        let mut trailing = entry("CN=x", vec![]);
        if let PL::C(inner) = &mut trailing.payload {
            inner.push(prim(4, b"extra"));
        }
        assert_eq!(Entry::extract(trailing), None);
    }
}
