//! DC discovery by DNS SRV through hickory-resolver, against a minimal DNS server on loopback
//! (UDP, SRV answers from a fixed zone, NXDOMAIN otherwise), then a lookup against the
//! discovered DCs on the test DC.
#![cfg(feature = "net")]

mod ldap_common;

use std::net::SocketAddr;
use std::sync::Arc;

use hickory_resolver::proto::op::{Message, OpCode, ResponseCode};
use hickory_resolver::proto::rr::rdata::SRV;
use hickory_resolver::proto::rr::{Name, RData, Record, RecordType};
use kdc_bridge::net::dc::discover::SrvDiscovery;
use kdc_bridge::net::dc::srv::SrvRecord;
use kdc_bridge::net::ldap::{Directory, DirectoryError, UserKey};
use kdc_bridge::proto::acceptor::Randomness;
use ldap_common::{ad, Recorder};
use tokio::net::UdpSocket;

/// (owner name, [(priority, weight, port, target)]).
type Zone = Vec<(&'static str, Vec<(u16, u16, u16, &'static str)>)>;

/// Answers SRV queries from `zone` until the test ends.
async fn dns_server(zone: Zone) -> SocketAddr {
    let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = socket.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = vec![0u8; 1500];
        loop {
            let Ok((n, peer)) = socket.recv_from(&mut buf).await else {
                return;
            };
            let Ok(query) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            let mut response = Message::response(query.metadata.id, OpCode::Query);
            response.metadata.recursion_desired = query.metadata.recursion_desired;
            response.metadata.recursion_available = true;
            response.metadata.authoritative = true;
            let mut found = false;
            if let Some(q) = query.queries.first() {
                response.add_query(q.clone());
                let name = q.name().to_ascii().to_ascii_lowercase();
                for (owner, records) in &zone {
                    if q.query_type() == RecordType::SRV && owner.eq_ignore_ascii_case(&name) {
                        found = true;
                        for (priority, weight, port, target) in records {
                            let srv = SRV::new(
                                *priority,
                                *weight,
                                *port,
                                Name::from_ascii(target).unwrap(),
                            );
                            response.add_answer(Record::from_rdata(
                                q.name().clone(),
                                60,
                                RData::SRV(srv),
                            ));
                        }
                    }
                }
            }
            if !found {
                response.metadata.response_code = ResponseCode::NXDomain;
            }
            let _ = socket.send_to(&response.to_vec().unwrap(), peer).await;
        }
    });
    addr
}

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

fn targets(records: &[SrvRecord]) -> Vec<(String, u16)> {
    records.iter().map(|r| (r.target.clone(), r.port)).collect()
}

fn corp_zone() -> Zone {
    vec![
        (
            "_ldap._tcp.lab._sites.corp.test.",
            vec![(0, 100, 389, "dc3.corp.test.")],
        ),
        (
            "_ldap._tcp.corp.test.",
            vec![
                (10, 100, 389, "dc2.corp.test."),
                (0, 100, 389, "dc1.corp.test."),
                (0, 0, 389, "dc3.corp.test."),
            ],
        ),
        (
            "_kerberos._tcp.corp.test.",
            vec![(0, 100, 88, "dc1.corp.test.")],
        ),
    ]
}

#[tokio::test]
async fn site_dcs_first_then_the_domain_in_rfc_2782_order() {
    let server = dns_server(corp_zone()).await;
    let mut rng = Lcg(7);

    let site = SrvDiscovery::with_name_servers("corp.test", Some("lab"), &[server]).unwrap();
    // dc3 from the site; then the domain's priority 0 (dc1; dc3 already listed), priority 10.
    assert_eq!(
        targets(&site.ldap_targets(&mut rng).await.unwrap()),
        vec![
            ("dc3.corp.test".to_owned(), 389),
            ("dc1.corp.test".to_owned(), 389),
            ("dc2.corp.test".to_owned(), 389),
        ]
    );
    assert_eq!(
        targets(&site.kerberos_targets(&mut rng).await.unwrap()),
        vec![("dc1.corp.test".to_owned(), 88)]
    );

    // A site without records is not an error: the domain's DCs are.
    let nowhere = SrvDiscovery::with_name_servers("corp.test", Some("nowhere"), &[server]).unwrap();
    let found = targets(&nowhere.ldap_targets(&mut rng).await.unwrap());
    assert_eq!(found.len(), 3);
    assert_eq!(
        found[2],
        ("dc2.corp.test".to_owned(), 389),
        "priority 10 last"
    );

    // A domain without records is.
    let other = SrvDiscovery::with_name_servers("other.test", None, &[server]).unwrap();
    match other.ldap_targets(&mut rng).await {
        Err(DirectoryError::Dns { name, reason }) => {
            assert_eq!(name, "_ldap._tcp.other.test.");
            assert_eq!(reason, "dns_no_records");
        }
        other => panic!("expected a DNS error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_directory_of_discovered_dcs_fails_over_among_them() {
    // The targets are address literals so that they connect without a DNS entry for the DC:
    // a refused one first (priority 0), the test DC next.
    let server = dns_server(vec![(
        "_ldap._tcp.lab.test.",
        vec![(0, 100, 389, "127.0.0.29."), (5, 100, 389, "127.0.0.21.")],
    )])
    .await;
    let recorder = Arc::new(Recorder::default());
    let mut config = ad().config(Vec::new(), ad().ldaps());
    config.discovery = Some(SrvDiscovery::with_name_servers("lab.test", None, &[server]).unwrap());
    let dir = Directory::new(config, recorder.clone()).unwrap();
    let alice = UserKey::sam_account_name("alice").unwrap();
    // Before discovery there is no DC to ask.
    assert_eq!(dir.fetch(&alice).await.unwrap_err(), DirectoryError::NoDcs);

    assert_eq!(dir.rediscover(&mut Lcg(1)).await.unwrap(), 2);
    // LDAPS: SRV gives the LDAP port, the DCs are asked on 636.
    let dcs: Vec<String> = dir.status().dcs.into_iter().map(|d| d.dc).collect();
    assert_eq!(dcs, vec!["127.0.0.29:636", "127.0.0.21:636"]);
    let found = dir.fetch(&alice).await.unwrap().expect("alice");
    assert_eq!(found.text("mail"), Some("alice@corp.test"));
    assert_eq!(
        Recorder::connects(&recorder.take()),
        vec![
            ("127.0.0.29:636".to_owned(), Err("connect_failed")),
            ("127.0.0.21:636".to_owned(), Ok(())),
        ]
    );
}
