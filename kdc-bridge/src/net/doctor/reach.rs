//! Can the gateway reach a DC's ports: TCP connects with latency, and a KDC over UDP.
//!
//! A TCP connect proves a listener; UDP has no handshake, so the probe sends a real AS-REQ
//! (for a random principal no account has) and waits for the KDC's KRB-ERROR.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tokio::net::{TcpStream, UdpSocket};

use super::{format_latency, Check};
use crate::proto::acceptor::Randomness;
use crate::proto::krb::probe::{
    build_probe_as_req, extract_probe_reply, krb_error_name, ProbeReply, ProbeRequest,
};

/// The TCP ports of a DC the doctor tries, and what each is for.
pub const TCP_PORTS: [(u16, &str); 4] = [
    (88, "Kerberos KDC"),
    (389, "LDAP, StartTLS"),
    (636, "LDAPS"),
    (464, "kpasswd"),
];

/// The largest UDP answer read; a KRB-ERROR is a few hundred octets.
const MAX_UDP_REPLY: usize = 4096;

/// Why a port could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing answered within the timeout (a firewall that drops, a missing route).
    Timeout(Duration),
    /// What the OS said (refused: the host is there but nothing listens, or a firewall
    /// rejects).
    Io(io::ErrorKind),
    /// Something answered on UDP 88 that is not Kerberos.
    NotKerberos,
}

impl Unreachable {
    /// In words, for a check's value.
    pub fn describe(self) -> String {
        match self {
            Self::Timeout(t) => format!("no answer within {}", format_latency(t)),
            Self::Io(io::ErrorKind::ConnectionRefused) => "connection refused".to_owned(),
            Self::Io(kind) => kind.to_string(),
            Self::NotKerberos => "the answer is not a Kerberos message".to_owned(),
        }
    }
}

/// Connects to `ip:port` and measures how long it took.
pub async fn tcp_reach(ip: IpAddr, port: u16, timeout: Duration) -> Result<Duration, Unreachable> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(SocketAddr::new(ip, port))).await {
        Err(_) => Err(Unreachable::Timeout(timeout)),
        Ok(Err(e)) => Err(Unreachable::Io(e.kind())),
        Ok(Ok(_stream)) => Ok(started.elapsed()),
    }
}

/// Sends the probe AS-REQ for `realm` to `ip:88` over UDP and reads the answer.
pub async fn udp_kdc_probe(
    ip: IpAddr,
    realm: &str,
    now: i64,
    timeout: Duration,
    rng: &mut dyn Randomness,
) -> Result<(Duration, ProbeReply), Unreachable> {
    let mut random = [0u8; 12];
    rng.fill(&mut random);
    let (name, nonce) = random.split_at(8);
    let client: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let client = format!("iwagw-doctor-{client}");
    let mut nonce_bytes = [0u8; 4];
    nonce_bytes.copy_from_slice(nonce.get(..4).unwrap_or(&[0; 4]));
    let request = build_probe_as_req(&ProbeRequest {
        client: &client,
        realm,
        till: now.saturating_add(600),
        nonce: u32::from_be_bytes(nonce_bytes) & 0x7fff_ffff,
    });
    let bind: SocketAddr = if ip.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| Unreachable::Io(e.kind()))?;
    socket
        .connect(SocketAddr::new(ip, 88))
        .await
        .map_err(|e| Unreachable::Io(e.kind()))?;
    let started = Instant::now();
    socket
        .send(&request)
        .await
        .map_err(|e| Unreachable::Io(e.kind()))?;
    let mut buf = vec![0u8; MAX_UDP_REPLY];
    let n = match tokio::time::timeout(timeout, socket.recv(&mut buf)).await {
        Err(_) => return Err(Unreachable::Timeout(timeout)),
        Ok(Err(e)) => return Err(Unreachable::Io(e.kind())),
        Ok(Ok(n)) => n,
    };
    let elapsed = started.elapsed();
    let reply = extract_probe_reply(buf.get(..n).unwrap_or_default())
        .map_err(|_| Unreachable::NotKerberos)?;
    Ok((elapsed, reply))
}

/// Whether a TCP port's failure fails the run: the KDC's and the configured LDAP port's do;
/// the other LDAP port and kpasswd only warn.
pub fn port_required(port: u16, ldap_port: u16) -> bool {
    port == 88 || port == ldap_port
}

/// The check for one TCP port of `dc` (reached at `ip`).
pub fn tcp_check(
    dc: &str,
    ip: IpAddr,
    port: u16,
    purpose: &str,
    required: bool,
    result: Result<Duration, Unreachable>,
) -> Check {
    let id = match port {
        88 => "tcp.88",
        389 => "tcp.389",
        636 => "tcp.636",
        464 => "tcp.464",
        _ => "tcp.other",
    };
    let title = format!("TCP {port} ({purpose})");
    match result {
        Ok(latency) => Check::pass(
            id,
            dc,
            &title,
            format!("open, connect in {}", format_latency(latency)),
        ),
        Err(why) => {
            let fix = format!(
                "nothing answers on TCP port {port} of {dc} ({ip}): {}; check the \
                 firewall/route on the backbone between the gateway and {dc} (TCP {port} \
                 must be allowed from the gateway to the DC)",
                why.describe()
            );
            if required {
                Check::fail(id, dc, &title, why.describe(), fix)
            } else {
                Check::warn(
                    id,
                    dc,
                    &title,
                    why.describe(),
                    format!("{fix}; the gateway does not use it with this configuration"),
                )
            }
        }
    }
}

/// The check for UDP 88, given whether TCP 88 was open.
pub fn udp_check(
    dc: &str,
    ip: IpAddr,
    tcp_88_open: bool,
    result: Result<(Duration, ProbeReply), Unreachable>,
) -> Check {
    let title = "UDP 88 (Kerberos, AS-REQ probe)";
    match result {
        Ok((latency, ProbeReply::Error(e))) => Check::pass(
            "udp.88",
            dc,
            title,
            format!(
                "KDC answered {} ({}) for realm {} in {}",
                krb_error_name(e.error_code),
                e.error_code,
                e.realm,
                format_latency(latency)
            ),
        ),
        Ok((latency, ProbeReply::AsRep)) => Check::pass(
            "udp.88",
            dc,
            title,
            format!("KDC answered an AS-REP in {}", format_latency(latency)),
        ),
        Err(why) if tcp_88_open => Check::warn(
            "udp.88",
            dc,
            title,
            why.describe(),
            format!(
                "UDP 88 of {dc} ({ip}) does not answer; clients fall back to TCP 88, which is \
                 open, but each sign-in then waits for the UDP timeout first: allow UDP 88 \
                 too, or make clients use TCP (krb5.conf udp_preference_limit = 1; Windows \
                 MaxPacketSize = 1)"
            ),
        ),
        Err(why) => Check::fail(
            "udp.88",
            dc,
            title,
            why.describe(),
            format!(
                "no KDC answers on UDP 88 of {dc} ({ip}) and TCP 88 is closed too: check the \
                 firewall/route on the backbone between the gateway and {dc}, and that the DC \
                 runs the KDC service"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proto::krb::probe::KrbErrorReply;

    fn ip() -> IpAddr {
        "127.0.0.21".parse().unwrap()
    }

    #[test]
    fn tcp_checks_name_the_port_and_the_fix() {
        let ok = tcp_check(
            "dc1",
            ip(),
            88,
            "Kerberos",
            true,
            Ok(Duration::from_micros(300)),
        );
        assert_eq!(ok.status, super::super::Status::Pass);
        assert_eq!(ok.value, "open, connect in 300 µs");

        let refused = tcp_check(
            "dc1",
            ip(),
            636,
            "LDAPS",
            true,
            Err(Unreachable::Io(io::ErrorKind::ConnectionRefused)),
        );
        assert_eq!(refused.status, super::super::Status::Fail);
        assert_eq!(refused.value, "connection refused");
        assert!(refused
            .fix
            .unwrap()
            .contains("check the firewall/route on the backbone between the gateway and dc1"));

        let optional = tcp_check(
            "dc1",
            ip(),
            464,
            "kpasswd",
            false,
            Err(Unreachable::Timeout(Duration::from_secs(2))),
        );
        assert_eq!(optional.status, super::super::Status::Warn);
        assert_eq!(optional.value, "no answer within 2000.0 ms");
        assert!(port_required(88, 636) && port_required(636, 636) && !port_required(389, 636));
    }

    #[test]
    fn udp_checks() {
        let reply = ProbeReply::Error(KrbErrorReply {
            stime: 0,
            error_code: 6,
            realm: "CORP.TEST".into(),
        });
        let ok = udp_check("dc1", ip(), true, Ok((Duration::from_micros(900), reply)));
        assert_eq!(
            ok.value,
            "KDC answered KDC_ERR_C_PRINCIPAL_UNKNOWN (6) for realm CORP.TEST in 900 µs"
        );
        let dropped = Err(Unreachable::Timeout(Duration::from_secs(1)));
        assert_eq!(
            udp_check("dc1", ip(), true, dropped.clone()).status,
            super::super::Status::Warn
        );
        assert_eq!(
            udp_check("dc1", ip(), false, dropped).status,
            super::super::Status::Fail
        );
    }
}
