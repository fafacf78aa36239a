//! Who is asked for Kerberos at `/saml/sso`, and `[saml.login]`: the password form for
//! everyone else, with its throttling.

use serde::Deserialize;

use super::build::{positive, Collector};
use super::identity::GroupPattern;
use policy::throttle::ThrottlePolicy;

/// `[saml.login]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginSection {
    /// Offer the password form. Default: true when `[directory]` is configured (it checks
    /// passwords).
    pub enabled: Option<bool>,
    /// The realm of the principals the form signs in (`alice@REALM`). Default: the realm of
    /// the first `kerberos.spns` entry.
    pub realm: Option<String>,
    /// Failed sign-ins of one user within the window that lock the user out of the form.
    pub user_failures: Option<u32>,
    /// Failed sign-ins from one address within the window that lock the address out.
    pub address_failures: Option<u32>,
    /// The window (seconds).
    pub window_seconds: Option<i64>,
    /// How long a lockout lasts (seconds).
    pub lockout_seconds: Option<i64>,
    /// Seconds the form may stay open before it is submitted.
    pub form_lifetime_seconds: Option<i64>,
}

/// Which clients get `401 Negotiate` first.
#[derive(Debug, Clone, Default)]
pub struct KerberosEligibility {
    /// Their address is in one of these (empty: every address).
    pub networks: Vec<ipnet::IpNet>,
    /// Their User-Agent matches none of these (globs, case ignored).
    pub user_agent_deny: Vec<GroupPattern>,
}

impl KerberosEligibility {
    /// Whether a client at `addr` with `user_agent` is asked for Kerberos.
    pub fn eligible(&self, addr: Option<std::net::IpAddr>, user_agent: &str) -> bool {
        let in_network = self.networks.is_empty()
            || addr.is_some_and(|a| {
                let a = match a {
                    std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(a, std::net::IpAddr::V4),
                    v4 => v4,
                };
                self.networks.iter().any(|n| n.contains(&a))
            });
        in_network && !self.user_agent_deny.iter().any(|p| p.matches(user_agent))
    }
}

/// The checked `[saml.login]`.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    /// Whether the form is offered.
    pub enabled: bool,
    /// Realm of the principals it signs in; `None` until taken from the Kerberos settings.
    pub realm: Option<String>,
    /// Throttling.
    pub throttle: ThrottlePolicy,
    /// Form lifetime.
    pub form_lifetime_secs: i64,
}

pub(super) fn build_eligibility(
    networks: &[String],
    deny: &[String],
    c: &mut Collector,
) -> KerberosEligibility {
    let networks = networks
        .iter()
        .enumerate()
        .filter_map(|(i, n)| match n.parse::<ipnet::IpNet>() {
            Ok(net) => Some(net),
            Err(_) => match n.parse::<std::net::IpAddr>() {
                Ok(a) => Some(ipnet::IpNet::from(a)),
                Err(_) => {
                    c.add(
                        format!("saml.kerberos_networks[{i}]"),
                        format!("`{n}` is not a network like 10.0.0.0/8 or 2001:db8::/32"),
                    );
                    None
                }
            },
        })
        .collect();
    let user_agent_deny = deny
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match glob::Pattern::new(p) {
            Ok(p) => Some(GroupPattern(p)),
            Err(e) => {
                c.add(
                    format!("saml.kerberos_user_agent_deny[{i}]"),
                    format!("`{p}`: {e}"),
                );
                None
            }
        })
        .collect();
    KerberosEligibility {
        networks,
        user_agent_deny,
    }
}

pub(super) fn build_login(
    l: &LoginSection,
    has_directory: bool,
    c: &mut Collector,
) -> LoginSettings {
    let enabled = l.enabled.unwrap_or(has_directory);
    if enabled && !has_directory {
        c.add(
            "saml.login.enabled",
            "the password form checks passwords against AD: configure [directory]",
        );
    }
    let d = ThrottlePolicy::default();
    let throttle = ThrottlePolicy {
        user_failures: positive(
            c,
            "saml.login.user_failures",
            l.user_failures.unwrap_or(d.user_failures),
        ),
        address_failures: positive(
            c,
            "saml.login.address_failures",
            l.address_failures.unwrap_or(d.address_failures),
        ),
        window_secs: positive(
            c,
            "saml.login.window_seconds",
            l.window_seconds.unwrap_or(d.window_secs),
        ),
        lockout_secs: positive(
            c,
            "saml.login.lockout_seconds",
            l.lockout_seconds.unwrap_or(d.lockout_secs),
        ),
        capacity: d.capacity,
    };
    LoginSettings {
        enabled,
        realm: l.realm.clone(),
        throttle,
        form_lifetime_secs: positive(
            c,
            "saml.login.form_lifetime_seconds",
            l.form_lifetime_seconds.unwrap_or(900),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::FileChecks;

    #[test]
    fn networks_and_user_agents_decide_who_gets_kerberos() {
        let mut c = Collector {
            problems: Vec::new(),
            files: FileChecks::Skip,
        };
        let e = build_eligibility(
            &[
                "10.0.0.0/8".into(),
                "192.0.2.7".into(),
                "2001:db8::/32".into(),
            ],
            &["*iPhone*".into()],
            &mut c,
        );
        assert!(c.problems.is_empty(), "{:?}", c.problems);
        let ip = |s: &str| Some(s.parse().unwrap());
        assert!(e.eligible(ip("10.1.2.3"), "Mozilla/5.0 (Windows NT 10.0)"));
        assert!(e.eligible(ip("192.0.2.7"), ""));
        assert!(e.eligible(ip("::ffff:10.9.9.9"), ""), "IPv4-mapped IPv6");
        assert!(e.eligible(ip("2001:db8::1"), ""));
        assert!(!e.eligible(ip("192.0.2.8"), ""));
        assert!(!e.eligible(None, ""));
        assert!(!e.eligible(ip("10.1.2.3"), "Mozilla/5.0 (iphone; CPU iPhone OS 17_0)"));
        // No networks: everyone is asked for Kerberos first.
        assert!(KerberosEligibility::default().eligible(None, "x"));

        build_eligibility(&["10.0.0/8".into()], &["[x".into()], &mut c);
        let keys: Vec<&str> = c.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "saml.kerberos_networks[0]",
                "saml.kerberos_user_agent_deny[0]"
            ]
        );
        assert!(c.problems[0]
            .message
            .contains("is not a network like 10.0.0.0/8"));
    }
}
