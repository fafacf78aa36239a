//! The order the checks run in: discovery, then per DC its ports, TLS, bind and clock, then
//! the preferred DC, then the service account on the preferred DC.

use std::net::IpAddr;
use std::time::Duration;

use super::account::{choose_keeper, enctype_check, kvno_check, spn_unique_check};
use super::ldap::{bind, bind_check, skew_check, Bound};
use super::reach::{port_required, tcp_check, tcp_reach, udp_check, udp_kdc_probe, TCP_PORTS};
use super::tls::{handshake, tls_checks};
use super::{format_latency, Check, DcTarget, DoctorInput, MAX_DCS};
use crate::net::dc::DcEndpoint;
use crate::net::ldap::{roots_from_pem, Security};
use crate::proto::acceptor::Randomness;

/// Runs every check. `now` is the local time (Unix seconds) the DCs' clocks and
/// certificates are compared with.
pub async fn diagnose(
    input: &DoctorInput<'_>,
    now: i64,
    rng: &mut (dyn Randomness + Send),
) -> Vec<Check> {
    let mut checks = Vec::new();
    let mut targets = discover(input, rng, &mut checks).await;
    let mut best: Option<(Duration, Bound)> = None;
    for target in &mut targets {
        if let Some(bound) = check_dc(input, target, now, rng, &mut checks).await {
            if best.as_ref().is_none_or(|(t, _)| bound.elapsed < *t) {
                best = Some((bound.elapsed, bound));
            }
        }
    }
    let title = "preferred DC (lowest bind latency)";
    let Some((_, mut bound)) = best else {
        checks.push(Check::fail(
            "dc.preferred",
            "",
            title,
            "no DC accepted the service account's bind".to_owned(),
            "no DC is usable: fix the ✘ above (reach, TLS, bind) for at least one DC".to_owned(),
        ));
        for spn in input.spns {
            checks.push(Check::skip(
                "spn.unique",
                &spn_name(spn),
                "SPN registered on exactly one account",
                "no DC to ask",
            ));
        }
        return checks;
    };
    checks.push(Check::pass(
        "dc.preferred",
        &bound.dc,
        title,
        format!("{} (bind in {})", bound.dc, format_latency(bound.elapsed)),
    ));
    account_checks(input, &mut bound, &mut checks).await;
    checks
}

/// `HTTP/gw.corp.test`: an SPN as `servicePrincipalName` holds it (no realm).
fn spn_name(spn: &crate::proto::principal::Principal) -> String {
    spn.components().join("/")
}

/// The DCs: static ones, then discovered ones (each once), at most [`MAX_DCS`].
async fn discover(
    input: &DoctorInput<'_>,
    rng: &mut (dyn Randomness + Send),
    checks: &mut Vec<Check>,
) -> Vec<DcTarget> {
    let config = input.directory;
    let mut targets: Vec<DcTarget> = config
        .dcs
        .iter()
        .map(|dc| DcTarget {
            endpoint: dc.clone(),
            source: "static".to_owned(),
            ip: None,
        })
        .collect();
    let title = "DC discovery";
    if let Some(srv) = &config.discovery {
        let name = format!("_ldap._tcp.{}", srv.domain());
        match srv.ldap_targets(rng).await {
            Ok(records) => {
                let port = config.security.default_port();
                for r in records {
                    let endpoint = DcEndpoint::new(r.target.clone(), port);
                    if !targets.iter().any(|t| t.endpoint.host() == endpoint.host()) {
                        targets.push(DcTarget {
                            endpoint,
                            source: name.clone(),
                            ip: None,
                        });
                    }
                }
            }
            Err(e) => checks.push(Check::fail(
                "dc.discovery",
                srv.domain(),
                "DC discovery (DNS SRV)",
                e.to_string(),
                format!(
                    "the gateway's resolver finds no SRV records for {name}: point \
                     /etc/resolv.conf at the AD DNS servers (or a forwarder for {}), or list \
                     the DCs statically",
                    srv.domain()
                ),
            )),
        }
    }
    targets.truncate(MAX_DCS);
    if targets.is_empty() {
        checks.push(Check::fail(
            "dc.discovery",
            "",
            title,
            "no DC configured or discovered".to_owned(),
            "list the DCs in the configuration, or configure SRV discovery".to_owned(),
        ));
    } else {
        let list: Vec<String> = targets
            .iter()
            .map(|t| format!("{} ({})", t.endpoint, t.source))
            .collect();
        checks.push(Check::pass(
            "dc.discovery",
            "",
            title,
            format!("{} DC(s): {}", targets.len(), list.join(", ")),
        ));
    }
    targets
}

/// The address a DC's ports are reached at: its pinned address, or its name resolved.
async fn resolve(dc: &DcEndpoint) -> Option<IpAddr> {
    if let Some(addr) = dc.connect_to() {
        return Some(addr.ip());
    }
    tokio::net::lookup_host((dc.host(), dc.port()))
        .await
        .ok()?
        .next()
        .map(|a| a.ip())
}

/// One DC's checks; its bound connection if the bind worked.
async fn check_dc(
    input: &DoctorInput<'_>,
    target: &mut DcTarget,
    now: i64,
    rng: &mut (dyn Randomness + Send),
    checks: &mut Vec<Check>,
) -> Option<Bound> {
    let dc = target.endpoint.clone();
    let label = dc.label();
    let host = dc.host().to_owned();
    let Some(ip) = resolve(&dc).await else {
        checks.push(Check::fail(
            "dc.resolve",
            &label,
            "DC name resolves",
            format!("{host} does not resolve"),
            format!(
                "add {host} to the DNS the gateway uses (or /etc/hosts), or give the DC's \
                 address as connect_to"
            ),
        ));
        return None;
    };
    target.ip = Some(ip);
    let config = input.directory;
    let timeout = input.probe_timeout;

    // The LDAP port the configuration uses is the endpoint's; the others are the defaults.
    let ldap_port = dc.port();
    let (tcp88, tcp389, tcp636, tcp464, udp) = tokio::join!(
        tcp_reach(ip, 88, timeout),
        tcp_reach(ip, 389, timeout),
        tcp_reach(ip, 636, timeout),
        tcp_reach(ip, 464, timeout),
        udp_kdc_probe(ip, &input.realm, now, timeout, rng),
    );
    let tcp_88_open = tcp88.is_ok();
    for ((port, purpose), result) in TCP_PORTS.iter().zip([tcp88, tcp389, tcp636, tcp464]) {
        let required = port_required(*port, ldap_port);
        checks.push(tcp_check(&host, ip, *port, purpose, required, result));
    }
    checks.push(udp_check(&host, ip, tcp_88_open, udp));

    let ca_file = input
        .ca_file
        .as_ref()
        .map_or_else(|| "the CA bundle".to_owned(), |p| p.display().to_string());
    let starttls = match &config.security {
        Security::Ldaps(_) => Some(false),
        Security::StartTls(_) => Some(true),
        Security::Plain => None,
    };
    match starttls {
        None => checks.push(Check::warn(
            "tls.handshake",
            &label,
            "TLS handshake and certificate chain",
            "plain LDAP: no TLS".to_owned(),
            "the bind password and every attribute cross the network in clear: use LDAPS \
             (636) or StartTLS with the AD CS root in ca_file"
                .to_owned(),
        )),
        Some(starttls) => {
            let pem = input.ca_file.as_ref().and_then(|p| std::fs::read(p).ok());
            match pem.map(|pem| roots_from_pem(&pem, &ca_file)) {
                Some(Ok(roots)) => {
                    let outcome = handshake(&dc, ip, starttls, roots, timeout).await;
                    checks.extend(tls_checks(&dc, &outcome, &ca_file, now));
                }
                Some(Err(e)) => checks.push(Check::fail(
                    "tls.handshake",
                    &label,
                    "TLS handshake and certificate chain",
                    e.to_string(),
                    format!("{ca_file} must hold the AD CS root certificate in PEM"),
                )),
                None => checks.push(Check::fail(
                    "tls.handshake",
                    &label,
                    "TLS handshake and certificate chain",
                    format!("cannot read {ca_file}"),
                    format!("make {ca_file} readable by the gateway"),
                )),
            }
        }
    }

    let bound = bind(&dc, config).await;
    let password_file = input
        .password_file
        .as_ref()
        .map(|p| p.display().to_string());
    let elapsed = bound.as_ref().map(|b| b.elapsed).map_err(Clone::clone);
    checks.push(bind_check(
        &label,
        &config.service_account.bind_dn,
        password_file.as_deref(),
        &elapsed,
    ));
    let mut bound = bound.ok();
    let title = "clock skew (rootDSE currentTime)";
    match &mut bound {
        Some(b) => match b.root_dse().await {
            Ok(dse) => {
                let local = super::unix_now().unwrap_or(now);
                checks.push(skew_check(&label, dse.current_time, local, input.max_skew));
            }
            Err(e) => checks.push(Check::fail(
                "clock.skew",
                &label,
                title,
                format!("cannot read the rootDSE: {e}"),
                format!("{label} answers the bind but not a rootDSE read: check the DC"),
            )),
        },
        None => checks.push(Check::skip("clock.skew", &label, title, "no bind")),
    }
    bound
}

/// The service account's checks, on the preferred DC.
async fn account_checks(input: &DoctorInput<'_>, bound: &mut Bound, checks: &mut Vec<Check>) {
    let config = input.directory;
    let netbios = match bound.root_dse().await.ok().and_then(|d| d.configuration_nc) {
        Some(nc) => bound.netbios_name(&nc, &config.base_dn).await,
        None => None,
    };
    let netbios = netbios.as_deref();
    let bind_dn = &config.service_account.bind_dn;
    let service_sam = bound.account_sam(&config.base_dn, bind_dn).await;
    let keytab_path = input.keytab_path.display().to_string();
    for spn in input.spns {
        let name = spn_name(spn);
        let entries: Vec<_> = input
            .keytab
            .iter()
            .filter(|e| e.principal.matches(spn))
            .collect();
        let mut kvnos: Vec<u32> = entries.iter().map(|e| e.kvno).collect();
        kvnos.sort_unstable();
        kvnos.dedup();
        let owners = match bound.spn_owners(&config.base_dn, &name).await {
            Ok(o) => o,
            Err(e) => {
                checks.push(Check::fail(
                    "spn.unique",
                    &name,
                    "SPN registered on exactly one account",
                    format!("cannot search servicePrincipalName: {e}"),
                    format!(
                        "the bind account must be able to search {} for servicePrincipalName",
                        config.base_dn
                    ),
                ));
                continue;
            }
        };
        let keeper = choose_keeper(&owners, bind_dn, &kvnos);
        checks.push(spn_unique_check(
            &name,
            &owners,
            keeper,
            netbios,
            service_sam.as_deref(),
        ));
        // The account the keytab should match: the one that keeps the SPN, or the only one.
        let owner = keeper.or(if owners.len() == 1 { Some(0) } else { None });
        let Some(owner) = owner.and_then(|i| owners.get(i)) else {
            checks.push(Check::skip(
                "account.kvno",
                &name,
                "keytab kvno = msDS-KeyVersionNumber",
                "no single account holds the SPN",
            ));
            continue;
        };
        checks.push(kvno_check(&name, owner, &kvnos, netbios, &keytab_path));
        // The enctypes at the account's kvno when the keytab has it, else all of them.
        let current = owner.kvno.filter(|k| kvnos.contains(k));
        let mut at_kvno: Vec<i32> = entries
            .iter()
            .filter(|e| current.is_none_or(|k| e.kvno == k))
            .map(|e| e.etype)
            .collect();
        at_kvno.dedup();
        checks.push(enctype_check(&name, owner, &at_kvno, netbios));
    }
}
