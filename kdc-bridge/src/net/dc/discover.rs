//! Finding DCs through DNS SRV records (hickory-resolver).
//!
//! The queries are in [`super::srv`]'s order: `_ldap._tcp.<site>._sites.<domain>` first when a
//! site is configured (its DCs are the close ones), then `_ldap._tcp.<domain>`; each answer is
//! ordered by RFC 2782 and the site's DCs stay ahead of the rest. A site without records is not
//! an error as long as the domain-wide name answers.

use std::net::SocketAddr;

use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use hickory_resolver::TokioResolver;

use super::srv::{kerberos_srv_name, ldap_srv_names, order_srv, SrvRecord};
use crate::net::ldap::DirectoryError;
use crate::proto::acceptor::Randomness;

/// The most SRV records taken from one answer: far above any real domain's DC count, and a
/// bound on what a hostile resolver can make us hold.
pub const MAX_SRV_RECORDS: usize = 256;

/// DNS SRV discovery of one AD domain's DCs.
pub struct SrvDiscovery {
    domain: String,
    site: Option<String>,
    resolver: TokioResolver,
}

impl std::fmt::Debug for SrvDiscovery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SrvDiscovery")
            .field("domain", &self.domain)
            .field("site", &self.site)
            .finish_non_exhaustive()
    }
}

impl SrvDiscovery {
    /// Discovery through the system's resolver configuration (`/etc/resolv.conf`).
    pub fn from_system(domain: &str, site: Option<&str>) -> Result<Self, DirectoryError> {
        let resolver = TokioResolver::builder_tokio()
            .and_then(|b| b.build())
            .map_err(|e| DirectoryError::Dns {
                name: "/etc/resolv.conf".to_owned(),
                reason: e.as_metrics_label(),
            })?;
        Ok(Self::with_resolver(domain, site, resolver))
    }

    /// Discovery through the given name servers (UDP, then TCP for truncated answers).
    pub fn with_name_servers(
        domain: &str,
        site: Option<&str>,
        servers: &[SocketAddr],
    ) -> Result<Self, DirectoryError> {
        let servers = servers
            .iter()
            .map(|addr| {
                let mut udp = ConnectionConfig::udp();
                udp.port = addr.port();
                let mut tcp = ConnectionConfig::tcp();
                tcp.port = addr.port();
                NameServerConfig::new(addr.ip(), true, vec![udp, tcp])
            })
            .collect();
        let config = ResolverConfig::from_name_servers(servers);
        let resolver = TokioResolver::builder_with_config(config, TokioRuntimeProvider::default())
            .build()
            .map_err(|e| DirectoryError::Dns {
                name: domain.to_owned(),
                reason: e.as_metrics_label(),
            })?;
        Ok(Self::with_resolver(domain, site, resolver))
    }

    fn with_resolver(domain: &str, site: Option<&str>, resolver: TokioResolver) -> Self {
        Self {
            domain: domain.trim_end_matches('.').to_owned(),
            site: site.map(str::to_owned),
            resolver,
        }
    }

    /// The domain's DNS name.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The LDAP service's targets: the site's, then the domain's, each answer in RFC 2782
    /// order, a target listed once.
    pub async fn ldap_targets(
        &self,
        rng: &mut (dyn Randomness + Send),
    ) -> Result<Vec<SrvRecord>, DirectoryError> {
        let mut targets: Vec<SrvRecord> = Vec::new();
        let mut last_error = None;
        for name in ldap_srv_names(&self.domain, self.site.as_deref()) {
            match self.lookup(&name).await {
                Ok(records) => {
                    for r in order_srv(records, rng) {
                        if !targets
                            .iter()
                            .any(|t| t.port == r.port && t.target.eq_ignore_ascii_case(&r.target))
                        {
                            targets.push(r);
                        }
                    }
                }
                Err(e) => last_error = Some(e),
            }
        }
        if targets.is_empty() {
            return Err(last_error.unwrap_or(DirectoryError::NoDcs));
        }
        Ok(targets)
    }

    /// The domain's KDCs over TCP (`_kerberos._tcp.<domain>`), in RFC 2782 order.
    pub async fn kerberos_targets(
        &self,
        rng: &mut (dyn Randomness + Send),
    ) -> Result<Vec<SrvRecord>, DirectoryError> {
        let records = self.lookup(&kerberos_srv_name(&self.domain)).await?;
        Ok(order_srv(records, rng))
    }

    async fn lookup(&self, name: &str) -> Result<Vec<SrvRecord>, DirectoryError> {
        let dns = |reason| DirectoryError::Dns {
            name: name.to_owned(),
            reason,
        };
        let answer = self
            .resolver
            .srv_lookup(name)
            .await
            .map_err(|e| dns(e.as_metrics_label()))?;
        let records: Vec<SrvRecord> = answer
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::SRV(srv) => Some(SrvRecord {
                    priority: srv.priority,
                    weight: srv.weight,
                    port: srv.port,
                    target: srv.target.to_ascii(),
                }),
                _ => None,
            })
            .take(MAX_SRV_RECORDS)
            .collect();
        if records.is_empty() {
            return Err(dns("dns_no_records"));
        }
        Ok(records)
    }
}
