//! The doctor's LDAP: bind as the service account, read the rootDSE (the DC's clock, its
//! configuration partition), find the accounts that hold an SPN and the domain's NetBIOS name.
//!
//! It goes through the directory client's own connector and bounded searches, so what passes
//! here is what the gateway does at run time.

use std::time::{Duration, Instant};

use ldap3::{Ldap, Scope};

use super::account::SpnOwner;
use super::{format_latency, Check};
use crate::net::dc::DcEndpoint;
use crate::net::ldap::connect::Connector;
use crate::net::ldap::search::{self, Entry, OpContext, Search};
use crate::net::ldap::{DirectoryConfig, DirectoryError, NoopObserver, Operation};
use crate::proto::krb::asn1::parse_time;

/// The most accounts read for one SPN: a duplicate is two; more is listed up to this.
const MAX_SPN_OWNERS: usize = 16;

/// What the rootDSE says.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RootDse {
    /// `currentTime`, Unix seconds.
    pub current_time: Option<i64>,
    /// `configurationNamingContext`.
    pub configuration_nc: Option<String>,
    /// `dnsHostName`.
    pub dns_host_name: Option<String>,
}

/// A bound connection to one DC and how long the connect, TLS and bind took.
#[derive(Debug)]
pub struct Bound {
    /// The connection.
    pub ldap: Ldap,
    /// Connect + TLS + bind.
    pub elapsed: Duration,
    /// The DC's label.
    pub dc: String,
    search_timeout: Duration,
}

/// Connects to `dc` and binds as the configured service account.
pub async fn bind(dc: &DcEndpoint, config: &DirectoryConfig) -> Result<Bound, DirectoryError> {
    let connector = Connector {
        security: config.security.clone(),
        account: config.service_account.clone(),
        timeouts: config.timeouts,
    };
    let started = Instant::now();
    let budget = config.timeouts.connect + config.timeouts.handshake + config.timeouts.bind;
    let deadline = started.checked_add(budget).unwrap_or(started);
    let ldap = connector.open(dc, deadline).await?;
    Ok(Bound {
        ldap,
        elapsed: started.elapsed(),
        dc: dc.label(),
        search_timeout: config.timeouts.search,
    })
}

impl Bound {
    async fn search(
        &mut self,
        base: &str,
        scope: Scope,
        filter: &str,
        attrs: &[&str],
        max_entries: usize,
    ) -> Result<Vec<Entry>, DirectoryError> {
        let now = Instant::now();
        let ctx = OpContext {
            dc: &self.dc,
            search_timeout: self.search_timeout,
            deadline: now.checked_add(self.search_timeout).unwrap_or(now),
            observer: &NoopObserver,
        };
        search::run(
            &mut self.ldap,
            ctx,
            Search {
                op: Operation::Probe,
                base,
                scope,
                filter,
                attrs: attrs.iter().map(|a| (*a).to_owned()).collect(),
                max_entries,
            },
        )
        .await
    }

    /// Reads the rootDSE.
    pub async fn root_dse(&mut self) -> Result<RootDse, DirectoryError> {
        let entries = self
            .search(
                "",
                Scope::Base,
                "(objectClass=*)",
                &["currentTime", "configurationNamingContext", "dnsHostName"],
                1,
            )
            .await?;
        let Some(e) = entries.first() else {
            return Ok(RootDse::default());
        };
        Ok(RootDse {
            current_time: e.text("currentTime").and_then(parse_generalized_time),
            configuration_nc: e.text("configurationNamingContext").map(str::to_owned),
            dns_host_name: e.text("dnsHostName").map(str::to_owned),
        })
    }

    /// The domain's NetBIOS name (`nETBIOSName` of its crossRef in the configuration
    /// partition), or `None` if it cannot be read.
    pub async fn netbios_name(&mut self, configuration_nc: &str, base_dn: &str) -> Option<String> {
        let base = format!("CN=Partitions,{configuration_nc}");
        let filter = format!(
            "(&(objectClass=crossRef)(nCName={})(nETBIOSName=*))",
            ldap3::ldap_escape(base_dn)
        );
        let entries = self
            .search(&base, Scope::OneLevel, &filter, &["nETBIOSName"], 4)
            .await
            .ok()?;
        entries
            .first()
            .and_then(|e| e.text("nETBIOSName"))
            .map(str::to_owned)
    }

    /// The `sAMAccountName` of the bind account (a DN, or a UPN).
    pub async fn account_sam(&mut self, base_dn: &str, bind_dn: &str) -> Option<String> {
        let entries = if bind_dn.contains('@') && !bind_dn.contains('=') {
            let filter = format!("(userPrincipalName={})", ldap3::ldap_escape(bind_dn));
            self.search(base_dn, Scope::Subtree, &filter, &["sAMAccountName"], 2)
                .await
        } else {
            self.search(
                bind_dn,
                Scope::Base,
                "(objectClass=*)",
                &["sAMAccountName"],
                1,
            )
            .await
        };
        entries
            .ok()?
            .first()
            .and_then(|e| e.text("sAMAccountName"))
            .map(str::to_owned)
    }

    /// Every account under `base_dn` holding `spn` (`HTTP/gw.corp.test`, no realm).
    pub async fn spn_owners(
        &mut self,
        base_dn: &str,
        spn: &str,
    ) -> Result<Vec<SpnOwner>, DirectoryError> {
        let filter = format!("(servicePrincipalName={})", ldap3::ldap_escape(spn));
        let entries = self
            .search(
                base_dn,
                Scope::Subtree,
                &filter,
                &[
                    "sAMAccountName",
                    "msDS-KeyVersionNumber",
                    "msDS-SupportedEncryptionTypes",
                ],
                MAX_SPN_OWNERS,
            )
            .await?;
        Ok(entries
            .iter()
            .map(|e| SpnOwner {
                dn: e.dn.clone(),
                sam: e.text("sAMAccountName").unwrap_or(&e.dn).to_owned(),
                kvno: e.text("msDS-KeyVersionNumber").and_then(|v| v.parse().ok()),
                // A signed 32-bit integer in LDAP.
                enctypes: e
                    .text("msDS-SupportedEncryptionTypes")
                    .and_then(|v| v.parse::<i64>().ok())
                    .map(|v| (v & 0xffff_ffff) as u32),
            })
            .collect())
    }
}

/// Parses an LDAP GeneralizedTime as AD writes it (`20261121135354.0Z`) into Unix seconds.
pub fn parse_generalized_time(s: &str) -> Option<i64> {
    let digits = s.get(..14)?;
    let rest = s.get(14..)?;
    let zone_ok = rest == "Z"
        || rest
            .strip_prefix('.')
            .and_then(|r| r.strip_suffix('Z'))
            .is_some_and(|frac| !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()));
    if !zone_ok {
        return None;
    }
    parse_time(format!("{digits}Z").as_bytes()).ok()
}

/// The check of the bind, with the fix for each way it fails.
pub fn bind_check(
    dc: &str,
    bind_dn: &str,
    password_file: Option<&str>,
    result: &Result<Duration, DirectoryError>,
) -> Check {
    let title = "LDAP bind as the service account";
    let password = password_file.unwrap_or("the configured password file");
    match result {
        Ok(elapsed) => Check::pass(
            "ldap.bind",
            dc,
            title,
            format!(
                "bound as {bind_dn} (connect, TLS and bind in {})",
                format_latency(*elapsed)
            ),
        ),
        Err(DirectoryError::BindRejected { code: 49, .. }) => Check::fail(
            "ldap.bind",
            dc,
            title,
            format!("{bind_dn}: invalid credentials (LDAP result 49)"),
            format!(
                "the password in {password} is not {bind_dn}'s, or the account is disabled, \
                 locked or expired: set the account's current password in {password} (no \
                 trailing newline needed), and check the account in AD"
            ),
        ),
        Err(DirectoryError::BindRejected { code, .. }) => Check::fail(
            "ldap.bind",
            dc,
            title,
            format!("{bind_dn}: bind refused (LDAP result {code})"),
            format!(
                "the DC refuses a simple bind for {bind_dn} (result {code}; 53 means it wants \
                 TLS first): use LDAPS or StartTLS, and check the account"
            ),
        ),
        Err(e @ (DirectoryError::Tls { .. } | DirectoryError::StartTlsRefused { .. })) => {
            Check::skip(
                "ldap.bind",
                dc,
                title,
                &format!("TLS failed ({})", e.reason()),
            )
        }
        Err(e @ (DirectoryError::Connect { .. } | DirectoryError::Timeout { .. })) if !matches!(e, DirectoryError::Timeout { phase, .. } if *phase == crate::net::ldap::Phase::Bind) => {
            Check::skip(
                "ldap.bind",
                dc,
                title,
                &format!("the DC cannot be reached ({e})"),
            )
        }
        Err(e) => Check::fail(
            "ldap.bind",
            dc,
            title,
            e.to_string(),
            format!(
                "the DC did not complete the bind ({}): check that {dc} is a healthy DC and \
                 the network path to it",
                e.reason()
            ),
        ),
    }
}

/// The check of the DC's clock against ours (`local` and `dc_time` in Unix seconds).
pub fn skew_check(dc: &str, dc_time: Option<i64>, local: i64, max_skew: Duration) -> Check {
    let title = "clock skew (rootDSE currentTime)";
    let Some(dc_time) = dc_time else {
        return Check::warn(
            "clock.skew",
            dc,
            title,
            "the rootDSE has no currentTime".to_owned(),
            format!("compare the clocks by hand: w32tm /stripchart /computer:{dc}"),
        );
    };
    let skew = dc_time - local;
    let max = i64::try_from(max_skew.as_secs()).unwrap_or(i64::MAX);
    let value = match skew {
        0 => format!("0 s (in step), allowed {max} s"),
        s if s > 0 => format!("+{s} s (DC ahead of the gateway), allowed {max} s"),
        s => format!("{s} s (DC behind the gateway), allowed {max} s"),
    };
    let fix = || {
        format!(
            "synchronise the gateway's clock with the domain (chrony or systemd-timesyncd \
             against {dc} or the PDC emulator, which is the domain's time source): Kerberos \
             refuses tickets beyond the allowed skew (KRB_AP_ERR_SKEW)"
        )
    };
    if skew.unsigned_abs() > max.unsigned_abs() {
        Check::fail("clock.skew", dc, title, value, fix())
    } else if skew.unsigned_abs() > (max / 2).unsigned_abs() {
        Check::warn("clock.skew", dc, title, value, fix())
    } else {
        Check::pass("clock.skew", dc, title, value)
    }
}

#[cfg(test)]
mod tests {
    use super::super::Status;
    use super::*;

    #[test]
    fn generalized_times() {
        assert_eq!(
            parse_generalized_time("20261121135354.0Z"),
            parse_time(b"20261121135354Z").ok()
        );
        assert_eq!(
            parse_generalized_time("20261121135354Z"),
            parse_time(b"20261121135354Z").ok()
        );
        assert_eq!(parse_generalized_time("20261121135354.Z"), None);
        assert_eq!(parse_generalized_time("20261121135354+0100"), None);
        assert_eq!(parse_generalized_time("2026"), None);
    }

    #[test]
    fn skew() {
        let max = Duration::from_secs(300);
        assert_eq!(
            skew_check("dc1", Some(1000), 1001, max).status,
            Status::Pass
        );
        assert_eq!(
            skew_check("dc1", Some(1000), 1001, max).value,
            "-1 s (DC behind the gateway), allowed 300 s"
        );
        assert_eq!(
            skew_check("dc1", Some(1200), 1000, max).status,
            Status::Warn
        );
        let far = skew_check("dc1", Some(2000), 1000, max);
        assert_eq!(far.status, Status::Fail);
        assert!(far.fix.unwrap().contains("KRB_AP_ERR_SKEW"));
        assert_eq!(skew_check("dc1", None, 1000, max).status, Status::Warn);
    }

    #[test]
    fn bind_failures() {
        let bad = Err(DirectoryError::BindRejected {
            dc: "dc1".into(),
            code: 49,
        });
        let c = bind_check("dc1", "CN=svc-gw", Some("/etc/iwa/bind.pw"), &bad);
        assert_eq!(c.status, Status::Fail);
        assert!(c
            .fix
            .unwrap()
            .starts_with("the password in /etc/iwa/bind.pw"));
        let refused = Err(DirectoryError::Connect {
            dc: "dc1".into(),
            kind: std::io::ErrorKind::ConnectionRefused,
        });
        assert_eq!(
            bind_check("dc1", "CN=svc-gw", None, &refused).status,
            Status::Skip
        );
    }
}
