//! The service keys the acceptor decrypts tickets with, built from a keytab.
//!
//! Each key carries its ticket-decryption key (usage 2) already derived, so no key derivation
//! happens per request. A reload merges the new keytab with the current set: keys that left
//! the file stay usable for a retention period, so tickets issued before a password change
//! (AD tickets live 10 hours by default) keep working.

use std::fmt::Write as _;

use crate::proto::crypto::{Enctype, Key, KeyUsage, UsageKey};
use crate::proto::keytab::Keytab;
use crate::proto::principal::Principal;

/// One usable service key.
#[derive(Debug)]
pub struct ServiceKey {
    /// Its principal, as written in the keytab.
    pub principal: Principal,
    /// Its key version number.
    pub kvno: u32,
    /// Its key.
    pub key: Key,
    /// `key` derived for usage 2.
    pub ticket_key: UsageKey,
    /// `key` derived for usage 17, the PAC server checksum.
    pub pac_key: UsageKey,
    /// When the key disappeared from the keytab file (Unix seconds), if it did.
    pub retired_at: Option<i64>,
}

/// Why no key was found for a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingKey {
    /// What the ticket asked for and what the keytab has, for the log and for `doctor`:
    /// `keytab has no key for HTTP/gw.corp.test@CORP.TEST kvno 3 aes256-cts-hmac-sha1-96; it
    /// has kvno 2 (aes256, aes128, rc4-hmac)`.
    pub detail: String,
}

/// The set of keys in use.
#[derive(Debug, Default)]
pub struct ServiceKeys {
    keys: Vec<ServiceKey>,
}

impl ServiceKeys {
    /// Keys from a freshly read keytab. Entries of unsupported enctypes are skipped.
    pub fn from_keytab(keytab: &Keytab) -> Self {
        let mut keys = Vec::with_capacity(keytab.entries.len());
        for e in &keytab.entries {
            let Some(key) = &e.key else { continue };
            // A keytab may list the same key twice (ktutil merges): keep the first.
            if keys.iter().any(|k: &ServiceKey| {
                k.kvno == e.kvno
                    && k.key.enctype() == key.enctype()
                    && k.principal.matches(&e.principal)
            }) {
                continue;
            }
            // Cannot fail: `Key::from_bytes` checked the length when the keytab was read.
            let (Ok(ticket_key), Ok(pac_key)) = (
                key.usage_key(KeyUsage::KDC_REP_TICKET),
                key.usage_key(KeyUsage::PAC_CHECKSUM),
            ) else {
                continue;
            };
            keys.push(ServiceKey {
                principal: e.principal.clone(),
                kvno: e.kvno,
                ticket_key,
                pac_key,
                key: key.clone(),
                retired_at: None,
            });
        }
        Self { keys }
    }

    /// The set after reloading the keytab at `now`: every key of `keytab`, plus the keys of
    /// `self` that are no longer in it, kept until `retain_secs` after they left.
    pub fn reloaded(&self, keytab: &Keytab, now: i64, retain_secs: i64) -> Self {
        let mut next = Self::from_keytab(keytab);
        for old in &self.keys {
            if next
                .find_exact(&old.principal, old.kvno, old.key.enctype())
                .is_some()
            {
                continue;
            }
            let retired_at = old.retired_at.unwrap_or(now);
            if now.saturating_sub(retired_at) > retain_secs {
                continue;
            }
            next.keys.push(ServiceKey {
                principal: old.principal.clone(),
                kvno: old.kvno,
                key: old.key.clone(),
                ticket_key: old.ticket_key.clone(),
                pac_key: old.pac_key.clone(),
                retired_at: Some(retired_at),
            });
        }
        next
    }

    /// The set without retired keys older than `retain_secs` at `now`, or `None` when there
    /// are none to drop. Called periodically, so a retired key stops working when its
    /// retention ends even if the keytab never changes again.
    pub fn pruned(&self, now: i64, retain_secs: i64) -> Option<Self> {
        let expired = |k: &ServiceKey| {
            k.retired_at
                .is_some_and(|t| now.saturating_sub(t) > retain_secs)
        };
        if !self.keys.iter().any(expired) {
            return None;
        }
        let keys = self
            .keys
            .iter()
            .filter(|k| !expired(k))
            .map(|k| ServiceKey {
                principal: k.principal.clone(),
                kvno: k.kvno,
                key: k.key.clone(),
                ticket_key: k.ticket_key.clone(),
                pac_key: k.pac_key.clone(),
                retired_at: k.retired_at,
            })
            .collect();
        Some(Self { keys })
    }

    /// All keys, retired ones included.
    pub fn iter(&self) -> impl Iterator<Item = &ServiceKey> {
        self.keys.iter()
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys at all.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether some key belongs to `principal`.
    pub fn has_principal(&self, principal: &Principal) -> bool {
        self.keys.iter().any(|k| k.principal.matches(principal))
    }

    fn find_exact(
        &self,
        principal: &Principal,
        kvno: u32,
        enctype: Enctype,
    ) -> Option<&ServiceKey> {
        self.keys.iter().find(|k| {
            k.kvno == kvno && k.key.enctype() == enctype && k.principal.matches(principal)
        })
    }

    /// The key for a ticket to `sname` encrypted with `etype` under `kvno`. Without a kvno in
    /// the ticket, the newest matching key is used, as MIT does.
    pub fn find(
        &self,
        sname: &Principal,
        kvno: Option<u32>,
        etype: i32,
    ) -> Result<&ServiceKey, MissingKey> {
        let enctype = Enctype::try_from(etype).ok();
        let found = match (enctype, kvno) {
            (Some(e), Some(kvno)) => self.find_exact(sname, kvno, e),
            (Some(e), None) => self
                .keys
                .iter()
                .filter(|k| k.key.enctype() == e && k.principal.matches(sname))
                .max_by_key(|k| k.kvno),
            (None, _) => None,
        };
        found.ok_or_else(|| MissingKey {
            detail: self.describe_missing(sname, kvno, etype),
        })
    }

    fn describe_missing(&self, sname: &Principal, kvno: Option<u32>, etype: i32) -> String {
        let etype_name = Enctype::try_from(etype)
            .map_or_else(|_| format!("enctype {etype}"), |e| e.name().to_owned());
        let mut s = format!("keytab has no key for {sname}");
        if let Some(kvno) = kvno {
            let _ = write!(s, " kvno {kvno}");
        }
        let _ = write!(s, " {etype_name}");
        let mine: Vec<&ServiceKey> = self
            .keys
            .iter()
            .filter(|k| k.principal.matches(sname))
            .collect();
        if mine.is_empty() {
            let mut others: Vec<String> =
                self.keys.iter().map(|k| k.principal.to_string()).collect();
            others.sort();
            others.dedup();
            if others.is_empty() {
                s.push_str("; the keytab is empty");
            } else {
                let _ = write!(s, "; it only has keys for {}", others.join(", "));
            }
            return s;
        }
        let mut kvnos: Vec<u32> = mine.iter().map(|k| k.kvno).collect();
        kvnos.sort_unstable_by(|a, b| b.cmp(a));
        kvnos.dedup();
        s.push_str("; it has");
        for (i, v) in kvnos.iter().enumerate() {
            let names: Vec<&str> = mine
                .iter()
                .filter(|k| k.kvno == *v)
                .map(|k| k.key.enctype().short_name())
                .collect();
            let sep = if i == 0 { "" } else { "," };
            let _ = write!(s, "{sep} kvno {v} ({})", names.join(", "));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::keytab::KeytabEntry;

    fn entry(p: &str, kvno: u32, enctype: Enctype, fill: u8) -> KeytabEntry {
        let key = Key::from_bytes(enctype, &vec![fill; enctype.key_len()]).unwrap();
        KeytabEntry::new(Principal::parse(p).unwrap(), kvno, key, 0)
    }

    fn gw() -> Principal {
        Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap()
    }

    fn keytab_v2() -> Keytab {
        Keytab {
            entries: vec![
                entry(
                    "HTTP/gw.corp.test@CORP.TEST",
                    2,
                    Enctype::Aes256CtsHmacSha196,
                    1,
                ),
                entry(
                    "HTTP/gw.corp.test@CORP.TEST",
                    2,
                    Enctype::Aes128CtsHmacSha196,
                    2,
                ),
                entry("HTTP/gw.corp.test@CORP.TEST", 2, Enctype::Rc4Hmac, 3),
            ],
        }
    }

    #[test]
    fn finds_by_kvno_and_enctype() {
        let keys = ServiceKeys::from_keytab(&keytab_v2());
        let k = keys.find(&gw(), Some(2), 17).unwrap();
        assert_eq!(k.key.enctype(), Enctype::Aes128CtsHmacSha196);
        let upper = Principal::parse("HTTP/GW.CORP.TEST@CORP.TEST").unwrap();
        assert_eq!(keys.find(&upper, None, 23).unwrap().kvno, 2);
    }

    #[test]
    fn missing_key_says_what_is_there() {
        let keys = ServiceKeys::from_keytab(&keytab_v2());
        let err = keys.find(&gw(), Some(3), 18).unwrap_err();
        assert_eq!(
            err.detail,
            "keytab has no key for HTTP/gw.corp.test@CORP.TEST kvno 3 aes256-cts-hmac-sha1-96; \
             it has kvno 2 (aes256, aes128, rc4-hmac)"
        );
        let other = Principal::parse("HTTP/other.corp.test@CORP.TEST").unwrap();
        assert_eq!(
            keys.find(&other, None, 18).unwrap_err().detail,
            "keytab has no key for HTTP/other.corp.test@CORP.TEST aes256-cts-hmac-sha1-96; \
             it only has keys for HTTP/gw.corp.test@CORP.TEST"
        );
        assert_eq!(
            keys.find(&gw(), Some(2), 1).unwrap_err().detail,
            "keytab has no key for HTTP/gw.corp.test@CORP.TEST kvno 2 enctype 1; \
             it has kvno 2 (aes256, aes128, rc4-hmac)"
        );
    }

    #[test]
    fn reload_keeps_old_kvnos_for_the_retention_period() {
        let v2 = ServiceKeys::from_keytab(&keytab_v2());
        let v3_only = Keytab {
            entries: vec![entry(
                "HTTP/gw.corp.test@CORP.TEST",
                3,
                Enctype::Aes256CtsHmacSha196,
                9,
            )],
        };
        let merged = v2.reloaded(&v3_only, 1000, 3600);
        assert_eq!(merged.len(), 4);
        assert_eq!(merged.find(&gw(), Some(3), 18).unwrap().retired_at, None);
        assert_eq!(
            merged.find(&gw(), Some(2), 18).unwrap().retired_at,
            Some(1000)
        );
        // Without a kvno the newest key wins.
        assert_eq!(merged.find(&gw(), None, 18).unwrap().kvno, 3);

        // A second reload keeps the first retirement time, and drops the key once it is older
        // than the retention period.
        let later = merged.reloaded(&v3_only, 4000, 3600);
        assert_eq!(
            later.find(&gw(), Some(2), 18).unwrap().retired_at,
            Some(1000)
        );
        let much_later = later.reloaded(&v3_only, 4601, 3600);
        assert_eq!(much_later.len(), 1);
        assert!(much_later.find(&gw(), Some(2), 18).is_err());

        // Without any further reload, pruning ends the retired keys on time.
        assert!(merged.pruned(4600, 3600).is_none());
        let pruned = merged.pruned(4601, 3600).unwrap();
        assert_eq!(pruned.len(), 1);
        assert_eq!(pruned.find(&gw(), None, 18).unwrap().kvno, 3);
    }

    #[test]
    fn duplicate_entries_are_merged() {
        let mut kt = keytab_v2();
        kt.entries.push(entry(
            "HTTP/gw.corp.test@CORP.TEST",
            2,
            Enctype::Aes256CtsHmacSha196,
            1,
        ));
        assert_eq!(ServiceKeys::from_keytab(&kt).len(), 3);
    }
}
