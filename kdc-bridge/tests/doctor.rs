//! `net::doctor` against the test DC: a healthy setup passes every check; a dead DC address, a
//! CA that did not issue the DC's certificate and a keytab with another kvno each give the
//! right failed check and fix.
#![cfg(feature = "net")]

mod ldap_common;

use std::path::PathBuf;
use std::time::Duration;

use kdc_bridge::net::dc::DcEndpoint;
use kdc_bridge::net::doctor::{diagnose, Check, DoctorInput, Status};
use kdc_bridge::net::ldap::{tls_config_from_pem, DirectoryConfig, Security};
use kdc_bridge::proto::acceptor::Randomness;
use kdc_bridge::proto::keytab::{Keytab, KeytabEntry};
use kdc_bridge::proto::principal::Principal;
use ldap_common::{ad, dc_ldaps, unrelated_ca_pem};

struct Counter(u8);

impl Randomness for Counter {
    fn fill(&mut self, buf: &mut [u8]) {
        for b in buf {
            self.0 = self.0.wrapping_add(37);
            *b = self.0;
        }
    }
}

fn gw_keytab() -> Vec<KeytabEntry> {
    let bytes = std::fs::read(ad().var("IWA_AD_GW_KEYTAB")).unwrap();
    Keytab::extract(&bytes).unwrap().entries
}

fn spn() -> Principal {
    Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap()
}

async fn run(config: &DirectoryConfig, ca_file: PathBuf, keytab: &[KeytabEntry]) -> Vec<Check> {
    let spns = [spn()];
    let input = DoctorInput {
        directory: config,
        ca_file: Some(ca_file),
        password_file: None,
        realm: "CORP.TEST".to_owned(),
        spns: &spns,
        keytab,
        keytab_path: PathBuf::from(ad().var("IWA_AD_GW_KEYTAB")),
        max_skew: Duration::from_secs(300),
        probe_timeout: Duration::from_secs(2),
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let checks = diagnose(&input, now, &mut Counter(0)).await;
    for c in &checks {
        eprintln!(
            "{:?} {} [{}] {}: {} {:?}",
            c.status, c.id, c.target, c.title, c.value, c.fix
        );
    }
    checks
}

fn find<'a>(checks: &'a [Check], id: &str) -> &'a Check {
    checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {checks:#?}"))
}

#[tokio::test]
async fn healthy_setup_passes() {
    let config = ad().config(vec![dc_ldaps()], ad().ldaps());
    let checks = run(&config, ad().ca_path(), &gw_keytab()).await;
    for c in &checks {
        assert_eq!(c.status, Status::Pass, "{c:#?}");
    }
    for id in [
        "dc.discovery",
        "tcp.88",
        "tcp.389",
        "tcp.636",
        "tcp.464",
        "udp.88",
        "tls.handshake",
        "tls.certificate",
        "ldap.bind",
        "clock.skew",
        "dc.preferred",
        "spn.unique",
        "account.kvno",
        "account.enctypes",
    ] {
        find(&checks, id);
    }
    assert!(find(&checks, "udp.88")
        .value
        .starts_with("KDC answered KDC_ERR_C_PRINCIPAL_UNKNOWN (6) for realm CORP.TEST"));
    assert_eq!(find(&checks, "spn.unique").value, "on CORP\\svc-gw");
    assert!(find(&checks, "tls.certificate")
        .value
        .contains("IP:127.0.0.21"));
}

#[tokio::test]
async fn starttls_passes_too() {
    let config = ad().config(vec![ldap_common::dc_ldap()], ad().starttls());
    let checks = run(&config, ad().ca_path(), &gw_keytab()).await;
    assert_eq!(find(&checks, "tls.handshake").status, Status::Pass);
    assert_eq!(find(&checks, "ldap.bind").status, Status::Pass);
}

#[tokio::test]
async fn unreachable_dc_names_the_port_and_the_path() {
    let dead = DcEndpoint::new("127.0.0.99", 636);
    let config = ad().config(vec![dead, dc_ldaps()], ad().ldaps());
    let checks = run(&config, ad().ca_path(), &gw_keytab()).await;
    let ldaps = checks
        .iter()
        .find(|c| c.id == "tcp.636" && c.target == "127.0.0.99")
        .unwrap();
    assert_eq!(ldaps.status, Status::Fail);
    assert_eq!(ldaps.value, "connection refused");
    assert_eq!(
        ldaps.fix.as_deref(),
        Some(
            "nothing answers on TCP port 636 of 127.0.0.99 (127.0.0.99): connection refused; \
             check the firewall/route on the backbone between the gateway and 127.0.0.99 (TCP \
             636 must be allowed from the gateway to the DC)"
        )
    );
    // The live DC is still the preferred one, and the account checks ran on it.
    assert_eq!(find(&checks, "dc.preferred").target, "127.0.0.21:636");
    assert_eq!(find(&checks, "account.kvno").status, Status::Pass);
}

#[tokio::test]
async fn bad_ca_names_the_issuer() {
    let dir = tempdir();
    let ca = dir.join("unrelated-ca.pem");
    let pem = unrelated_ca_pem();
    std::fs::write(&ca, &pem).unwrap();
    let tls = tls_config_from_pem(&pem, "unrelated").unwrap();
    let config = ad().config(vec![dc_ldaps()], Security::Ldaps(tls));
    let checks = run(&config, ca.clone(), &gw_keytab()).await;
    let tls = find(&checks, "tls.handshake");
    assert_eq!(tls.status, Status::Fail);
    let issuer = find(&checks, "tls.certificate")
        .value
        .split(" issued by ")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(
        tls.fix.as_deref(),
        Some(
            format!(
                "the DC's certificate is issued by {issuer}, not by a CA in {}; put the \
                 issuing CA (the AD CS root) in ca_file",
                ca.display()
            )
            .as_str()
        )
    );
    assert_eq!(find(&checks, "ldap.bind").status, Status::Skip);
    assert_eq!(find(&checks, "dc.preferred").status, Status::Fail);
}

#[tokio::test]
async fn wrong_kvno_says_the_password_changed() {
    let mut keytab = gw_keytab();
    for e in &mut keytab {
        e.kvno += 6;
    }
    let config = ad().config(vec![dc_ldaps()], ad().ldaps());
    let checks = run(&config, ad().ca_path(), &keytab).await;
    let kvno = find(&checks, "account.kvno");
    assert_eq!(kvno.status, Status::Fail);
    assert!(
        kvno.fix.as_deref().unwrap().starts_with(
            "the keytab has kvno 7 but AD has msDS-KeyVersionNumber 1 for CORP\\svc-gw: the \
             password changed after the keytab was exported; export a new keytab"
        ),
        "{kvno:#?}"
    );
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("iwagw-doctor-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
