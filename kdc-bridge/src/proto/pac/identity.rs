//! The identity a PAC asserts: the user's SID, every group SID once in a stable order, names.
//!
//! A user in 1000 groups has a PAC with 1000 `GroupIds` RIDs, each meaning the SID
//! `LogonDomainId` + RID. Duplicates are dropped without comparing whole SIDs: SIDs in one
//! domain are equal exactly when their RIDs are, so each domain the PAC names (the logon
//! domain, the resource group domain) has a set of RIDs seen, an open-addressing table of
//! integers; only SIDs outside both domains (`ExtraSids` such as `S-1-18-1`, or SIDs from
//! other domains of the forest) are hashed whole. The output SIDs are written by copying the
//! domain's SID and setting the RID in place. A PAC with a few groups (most users) skips the
//! tables: each SID is compared with those kept so far.

use std::collections::HashSet;

use super::logon_info::LogonInfo;
use super::upn_dns_info::UpnDnsInfo;
use super::{PacError, Sid};

/// The identity a PAC asserts, owned, for the acceptor to keep after the ticket is wiped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacIdentity {
    /// The account's SID: `LogonDomainId` + `UserId`.
    pub user_sid: Sid,
    /// `LogonDomainId` + `PrimaryGroupId`.
    pub primary_group_sid: Sid,
    /// Every group SID, first occurrence kept, in this order: the primary group,
    /// `LogonDomainId` + each `GroupIds` RID, each `ExtraSids` SID, `ResourceGroupDomainSid` +
    /// each `ResourceGroupIds` RID.
    pub group_sids: Vec<Sid>,
    /// `EffectiveName`, the `sAMAccountName` (e.g. `alice`).
    pub account_name: String,
    /// `LogonDomainName`, the NetBIOS domain (e.g. `CORP`).
    pub logon_domain_name: String,
    /// The UPN from `UPN_DNS_INFO`, if the PAC has one (e.g. `alice@corp.test`).
    pub upn: Option<String>,
    /// The DNS domain from `UPN_DNS_INFO` (e.g. `CORP.TEST`).
    pub dns_domain: Option<String>,
}

/// Up to this many group SIDs are deduplicated by comparing each with those kept so far.
const FEW: usize = 16;

/// The user and group SIDs and names (see [`PacIdentity`]).
pub(super) fn derive_identity(
    info: &LogonInfo,
    upn_dns: Option<&UpnDnsInfo>,
) -> Result<PacIdentity, PacError> {
    let domain = info.logon_domain_id;
    let no_room = || PacError::Malformed {
        what: "KERB_VALIDATION_INFO.LogonDomainId: no room for a RID",
    };
    let in_domain = |rid| domain.with_rid(rid).ok_or_else(no_room);
    let user_sid = if info.user_id == 0 {
        info.extra_sids
            .first()
            .map(|e| e.sid)
            .ok_or(PacError::Malformed {
                what: "KERB_VALIDATION_INFO: UserId 0 without ExtraSids",
            })?
    } else {
        in_domain(info.user_id)?
    };
    let primary_group_sid = in_domain(info.primary_group_id)?;
    // With UserId 0 the first extra SID is the user, not a group.
    let extra = info
        .extra_sids
        .get(usize::from(info.user_id == 0)..)
        .unwrap_or_default();
    let resource = match info.resource_group_domain_sid {
        Some(d) if !info.resource_group_ids.is_empty() => {
            let template = d.with_rid(0).ok_or(PacError::Malformed {
                what: "KERB_VALIDATION_INFO.ResourceGroupDomainSid: no room for a RID",
            })?;
            Some((d, template))
        }
        _ => None,
    };
    let total = 1 + info.group_ids.len() + extra.len() + info.resource_group_ids.len();
    let resource_ids = if resource.is_some() {
        info.resource_group_ids.as_slice()
    } else {
        &[]
    };
    let group_sids = if total <= FEW {
        // Comparing with each SID kept so far is quicker than setting up tables.
        let mut out: Vec<Sid> = Vec::with_capacity(total);
        let mut keep = |sid: Sid| {
            if !out.contains(&sid) {
                out.push(sid);
            }
        };
        let in_template = |template: Sid, rid| {
            let mut sid = template;
            sid.set_rid(rid);
            sid
        };
        keep(primary_group_sid);
        for g in &info.group_ids {
            keep(in_template(primary_group_sid, g.rid));
        }
        for e in extra {
            keep(e.sid);
        }
        if let Some((_, template)) = resource {
            for g in resource_ids {
                keep(in_template(template, g.rid));
            }
        }
        out
    } else {
        let mut groups = Groups {
            out: Vec::with_capacity(total),
            logon: Domain::new(domain, primary_group_sid, total),
            resource: resource
                .filter(|(d, _)| *d != domain)
                .map(|(d, template)| Domain::new(d, template, resource_ids.len() + extra.len())),
            others: HashSet::new(),
        };
        groups.logon_rid(info.primary_group_id);
        for g in &info.group_ids {
            groups.logon_rid(g.rid);
        }
        for e in extra {
            groups.sid(&e.sid);
        }
        for g in resource_ids {
            groups.resource_rid(g.rid);
        }
        groups.out
    };
    Ok(PacIdentity {
        user_sid,
        primary_group_sid,
        group_sids,
        account_name: info.effective_name.as_str().to_owned(),
        logon_domain_name: info.logon_domain_name.as_str().to_owned(),
        upn: upn_dns.map(|u| u.upn.clone()),
        dns_domain: upn_dns.map(|u| u.dns_domain_name.clone()),
    })
}

/// The group SIDs so far, and what has been seen.
struct Groups {
    out: Vec<Sid>,
    logon: Domain,
    /// The resource group domain, when it is not the logon domain (then `logon` serves).
    resource: Option<Domain>,
    /// SIDs in neither domain.
    others: HashSet<Sid>,
}

impl Groups {
    /// Logon domain + `rid`, unless seen.
    fn logon_rid(&mut self, rid: u32) {
        self.logon.push(rid, &mut self.out);
    }

    /// Resource group domain + `rid`, unless seen.
    fn resource_rid(&mut self, rid: u32) {
        match &mut self.resource {
            Some(d) => d.push(rid, &mut self.out),
            None => self.logon.push(rid, &mut self.out),
        }
    }

    /// A whole SID, unless seen.
    fn sid(&mut self, sid: &Sid) {
        if let Some(rid) = rid_in(sid, &self.logon.sid) {
            self.logon.push(rid, &mut self.out);
            return;
        }
        if let Some(d) = self.resource.as_mut() {
            if let Some(rid) = rid_in(sid, &d.sid) {
                d.push(rid, &mut self.out);
                return;
            }
        }
        if self.others.insert(*sid) {
            self.out.push(*sid);
        }
    }
}

/// The RID of `sid` if it is `domain` + one RID.
fn rid_in(sid: &Sid, domain: &Sid) -> Option<u32> {
    let subs = sid.sub_authorities();
    let (rid, prefix) = subs.split_last()?;
    (sid.authority() == domain.authority() && prefix == domain.sub_authorities()).then_some(*rid)
}

/// A domain's SID, a SID of it whose RID is overwritten for each group, and the RIDs seen.
struct Domain {
    sid: Sid,
    template: Sid,
    seen: RidSet,
}

impl Domain {
    /// `template` is `sid` + any RID; room for `expected` RIDs.
    fn new(sid: Sid, template: Sid, expected: usize) -> Self {
        Self {
            sid,
            template,
            seen: RidSet::with_room(expected),
        }
    }

    /// Appends this domain + `rid` to `out` unless the RID was seen.
    fn push(&mut self, rid: u32, out: &mut Vec<Sid>) {
        if self.seen.insert(rid) {
            out.push(self.template);
            if let Some(last) = out.last_mut() {
                last.set_rid(rid);
            }
        }
    }
}

/// A set of RIDs: linear probing over a power-of-two table kept at most half full, with a
/// multiplicative (Fibonacci) hash. A few nanoseconds per RID, where a `HashSet<Sid>` takes
/// about 50 (SipHash over the whole SID).
struct RidSet {
    /// `EMPTY` or a RID.
    slots: Vec<u64>,
    /// `64 - log2(slots.len())`: the hash's top bits index the table.
    shift: u32,
    /// Insertions left before the table would be more than half full.
    room: usize,
}

impl RidSet {
    /// Marks a free slot (no RID is above `u32::MAX`).
    const EMPTY: u64 = u64::MAX;

    /// A set that takes `expected` RIDs at most half full (and grows if given more).
    fn with_room(expected: usize) -> Self {
        let len = expected.saturating_mul(2).max(8).next_power_of_two();
        Self {
            slots: vec![Self::EMPTY; len],
            shift: 64 - len.trailing_zeros(),
            room: len / 2,
        }
    }

    /// Adds `rid`; whether it was new.
    fn insert(&mut self, rid: u32) -> bool {
        if self.room == 0 {
            self.grow();
        }
        let key = u64::from(rid);
        let mask = self.slots.len() - 1;
        // The top bits of the product are below `slots.len()`, which fits usize.
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> self.shift) as usize;
        while let Some(slot) = self.slots.get_mut(i) {
            if *slot == key {
                return false;
            }
            if *slot == Self::EMPTY {
                *slot = key;
                self.room -= 1;
                return true;
            }
            i = (i + 1) & mask;
        }
        // Not reached: `i` stays below `slots.len()`.
        false
    }

    /// Doubles the table.
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        *self = Self::with_room(old.len());
        for key in old.into_iter().filter(|k| *k != Self::EMPTY) {
            // Keys were RIDs.
            self.insert(key as u32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rid_set_keeps_each_rid_once_and_grows() {
        let mut set = RidSet::with_room(0);
        assert_eq!(set.slots.len(), 8);
        assert!((0..1000u32).all(|r| set.insert(r)));
        assert!(set.insert(u32::MAX));
        assert!(!set.insert(7));
        assert!(!set.insert(0));
        assert!((0..1000u32).all(|r| !set.insert(r)));
        assert!(!set.insert(u32::MAX));
        // Never more than half full.
        assert!(set.slots.len() >= 2 * 1001);
    }

    #[test]
    fn rid_in_splits_a_sid_of_the_domain_only() {
        let domain = Sid::from_array(5, [21, 1, 2, 3]);
        assert_eq!(
            rid_in(&Sid::from_array(5, [21, 1, 2, 3, 513]), &domain),
            Some(513)
        );
        assert_eq!(
            rid_in(&Sid::from_array(5, [21, 1, 2, 4, 513]), &domain),
            None
        );
        assert_eq!(
            rid_in(&Sid::from_array(1, [21, 1, 2, 3, 513]), &domain),
            None
        );
        assert_eq!(rid_in(&Sid::from_array(5, [21, 1, 2, 3]), &domain), None);
        assert_eq!(
            rid_in(&Sid::from_array(5, [21, 1, 2, 3, 5, 6]), &domain),
            None
        );
        assert_eq!(
            rid_in(&Sid::from_array(18, []), &Sid::from_array(18, [])),
            None
        );
    }
}
