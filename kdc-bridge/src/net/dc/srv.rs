//! DNS SRV names of Active Directory and the order RFC 2782 puts their targets in.
//!
//! AD registers (MS-ADTS §6.3.2.3, "DNS Record Registrations"):
//!
//! ```text
//! _ldap._tcp.<SiteName>._sites.<DnsDomainName>   DCs of one site (the client's site first)
//! _ldap._tcp.<DnsDomainName>                     every DC of the domain
//! _kerberos._tcp.<DnsDomainName>                 every KDC of the domain
//! ```
//!
//! RFC 2782 ("Usage rules"): a client tries the lowest priority first; among equal priorities
//! it picks at random, each remaining target with probability proportional to its weight,
//! with weight-0 targets placed first so they get a small chance. A target of `.` means the
//! service is decidedly not available there.

use crate::proto::acceptor::Randomness;

/// One SRV record's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvRecord {
    /// Lower is tried first.
    pub priority: u16,
    /// Relative share among records of the same priority.
    pub weight: u16,
    /// The port of the service on the target.
    pub port: u16,
    /// The target host, without the trailing dot.
    pub target: String,
}

/// The SRV names to ask for the LDAP service of `domain`: the site's first, when a site is
/// configured, then the domain-wide one. Names are fully qualified (trailing dot) so the
/// resolver's search list is not applied.
pub fn ldap_srv_names(domain: &str, site: Option<&str>) -> Vec<String> {
    let domain = domain.trim_end_matches('.');
    let mut names = Vec::with_capacity(2);
    if let Some(site) = site {
        names.push(format!("_ldap._tcp.{site}._sites.{domain}."));
    }
    names.push(format!("_ldap._tcp.{domain}."));
    names
}

/// The SRV name of the domain's KDCs over TCP.
pub fn kerberos_srv_name(domain: &str) -> String {
    format!("_kerberos._tcp.{}.", domain.trim_end_matches('.'))
}

/// Orders one answer's records as RFC 2782 says: ascending priority, and a weighted random
/// order within each priority. Records whose target is `.` (or empty) are dropped; so are
/// repeats of a target and port already listed.
pub fn order_srv(records: Vec<SrvRecord>, rng: &mut dyn Randomness) -> Vec<SrvRecord> {
    let mut records: Vec<SrvRecord> = records
        .into_iter()
        .map(|mut r| {
            r.target = r.target.trim_end_matches('.').to_owned();
            r
        })
        .filter(|r| !r.target.is_empty())
        .collect();
    // Priority first; weight 0 before the others within a priority (RFC 2782).
    records.sort_by_key(|r| (r.priority, r.weight != 0));
    let mut ordered: Vec<SrvRecord> = Vec::with_capacity(records.len());
    let mut rest = records.into_iter().peekable();
    while let Some(first) = rest.next() {
        let priority = first.priority;
        let mut group = vec![first];
        while let Some(r) = rest.next_if(|r| r.priority == priority) {
            group.push(r);
        }
        while !group.is_empty() {
            let total: u64 = group.iter().map(|r| u64::from(r.weight)).sum();
            let pick = random_up_to(rng, total);
            let mut running = 0u64;
            let mut chosen = group.len().saturating_sub(1);
            for (i, r) in group.iter().enumerate() {
                running += u64::from(r.weight);
                if running >= pick {
                    chosen = i;
                    break;
                }
            }
            let r = group.remove(chosen);
            if !ordered
                .iter()
                .any(|o| o.port == r.port && o.target.eq_ignore_ascii_case(&r.target))
            {
                ordered.push(r);
            }
        }
    }
    ordered
}

/// A number in `0..=max`, uniform enough for load spreading.
fn random_up_to(rng: &mut dyn Randomness, max: u64) -> u64 {
    let mut buf = [0u8; 8];
    rng.fill(&mut buf);
    match max.checked_add(1) {
        Some(modulus) => u64::from_le_bytes(buf) % modulus,
        None => u64::from_le_bytes(buf),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A deterministic generator (the LCG of Knuth's MMIX).
    struct Lcg(u64);

    impl Randomness for Lcg {
        fn fill(&mut self, buf: &mut [u8]) {
            for b in buf {
                self.0 = self
                    .0
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                *b = (self.0 >> 56) as u8;
            }
        }
    }

    /// Always returns the same bytes.
    struct Fixed(u8);

    impl Randomness for Fixed {
        fn fill(&mut self, buf: &mut [u8]) {
            buf.fill(self.0);
        }
    }

    fn srv(priority: u16, weight: u16, target: &str) -> SrvRecord {
        SrvRecord {
            priority,
            weight,
            port: 389,
            target: target.to_owned(),
        }
    }

    fn targets(records: &[SrvRecord]) -> Vec<&str> {
        records.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn names() {
        assert_eq!(
            ldap_srv_names("corp.test", Some("Paris")),
            vec![
                "_ldap._tcp.Paris._sites.corp.test.",
                "_ldap._tcp.corp.test."
            ]
        );
        assert_eq!(
            ldap_srv_names("corp.test.", None),
            vec!["_ldap._tcp.corp.test."]
        );
        assert_eq!(kerberos_srv_name("corp.test"), "_kerberos._tcp.corp.test.");
    }

    #[test]
    fn priority_orders_before_weight() {
        let records = vec![
            srv(20, 100, "c.corp.test."),
            srv(10, 0, "b.corp.test."),
            srv(0, 5, "a.corp.test."),
            srv(30, 1, "."),
        ];
        let ordered = order_srv(records, &mut Lcg(1));
        // The `.` target is dropped, the trailing dots are gone.
        assert_eq!(
            targets(&ordered),
            vec!["a.corp.test", "b.corp.test", "c.corp.test"]
        );
    }

    #[test]
    fn weights_share_first_place() {
        // 90:10 between two DCs of one priority: over 2000 draws the heavy one leads about 90%
        // of the time (binomial standard deviation ≈ 13, so 1700..1900 is > 7 sigma wide).
        let mut rng = Lcg(42);
        let mut heavy_first = 0;
        for _ in 0..2000 {
            let ordered = order_srv(vec![srv(0, 10, "light"), srv(0, 90, "heavy")], &mut rng);
            assert_eq!(ordered.len(), 2);
            if ordered[0].target == "heavy" {
                heavy_first += 1;
            }
        }
        assert!((1700..1900).contains(&heavy_first), "{heavy_first}");
    }

    #[test]
    fn zero_weight_goes_first_only_on_a_zero_draw() {
        let records = || vec![srv(0, 50, "weighted"), srv(0, 0, "zero")];
        // A draw of 0 selects the first record of the running sum: the weight-0 one.
        assert_eq!(
            targets(&order_srv(records(), &mut Fixed(0))),
            vec!["zero", "weighted"]
        );
        // Any other draw passes over it.
        assert_eq!(
            targets(&order_srv(records(), &mut Fixed(7))),
            vec!["weighted", "zero"]
        );
        // All weights 0: every record still comes out.
        let zeros = vec![srv(0, 0, "x"), srv(0, 0, "y"), srv(0, 0, "z")];
        let mut out = targets(&order_srv(zeros, &mut Lcg(3)))
            .into_iter()
            .map(str::to_owned)
            .collect::<Vec<_>>();
        out.sort();
        assert_eq!(out, vec!["x", "y", "z"]);
    }

    #[test]
    fn repeated_targets_are_listed_once() {
        let records = vec![
            srv(0, 1, "dc1.corp.test."),
            srv(5, 1, "DC1.corp.test"),
            srv(5, 1, "dc2.corp.test"),
        ];
        assert_eq!(
            targets(&order_srv(records, &mut Lcg(9))),
            vec!["dc1.corp.test", "dc2.corp.test"]
        );
        assert!(order_srv(Vec::new(), &mut Lcg(9)).is_empty());
    }
}
