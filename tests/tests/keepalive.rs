//! Idle HTTP/1.1 connections: served when their next request comes, closed after
//! `server.keepalive_timeout_seconds` or at shutdown (the gateway waits for each request's
//! first octet before it builds the request's state: gateway/src/keepalive.rs).

use std::io::{ErrorKind, Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use e2e::{Gateway, GatewayOptions};

/// Longer than any wait below: a read that times out means the gateway neither answered nor
/// closed.
const READ_TIMEOUT: Duration = Duration::from_secs(20);

fn gateway(label: &str, keepalive_secs: u64) -> Gateway {
    let mut opts = GatewayOptions::gw();
    opts.server
        .push(format!("keepalive_timeout_seconds = {keepalive_secs}"));
    Gateway::start(label, &opts)
}

fn connect(gw: &Gateway) -> TcpStream {
    let conn = TcpStream::connect(gw.http_addr()).expect("connect to the gateway");
    conn.set_read_timeout(Some(READ_TIMEOUT)).expect("timeout");
    conn
}

/// Reads one response (`Content-Length` or chunked body) and returns its status.
fn read_response(conn: &mut TcpStream) -> u16 {
    let mut raw = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(end) = response_end(&raw) {
            assert_eq!(end, raw.len(), "more than one response");
            let status = std::str::from_utf8(&raw[9..12]).expect("status");
            return status.parse().expect("status code");
        }
        let n = conn.read(&mut buf).expect("the response");
        assert!(
            n > 0,
            "closed mid-response: {}",
            String::from_utf8_lossy(&raw)
        );
        raw.extend_from_slice(&buf[..n]);
    }
}

/// Where the response in `raw` ends, once it is complete.
fn response_end(raw: &[u8]) -> Option<usize> {
    let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&raw[..head_end]).to_ascii_lowercase();
    if head.contains("transfer-encoding: chunked") {
        let body = &raw[head_end..];
        let last = body.windows(5).position(|w| w == b"0\r\n\r\n")?;
        return Some(head_end + last + 5);
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().expect("content-length"));
    (raw.len() >= head_end + length).then_some(head_end + length)
}

fn request(conn: &mut TcpStream, path: &str) -> u16 {
    let req = format!("GET {path} HTTP/1.1\r\nHost: gw.corp.test\r\n\r\n");
    conn.write_all(req.as_bytes()).expect("send the request");
    read_response(conn)
}

/// Whether the gateway closed `conn` (end of stream or reset) before `READ_TIMEOUT`.
fn closed_by_gateway(conn: &mut TcpStream) -> bool {
    let mut buf = [0u8; 64];
    match conn.read(&mut buf) {
        Ok(0) => true,
        Ok(n) => panic!("unexpected octets: {}", String::from_utf8_lossy(&buf[..n])),
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => false,
        Err(_) => true,
    }
}

#[test]
fn an_idle_connection_is_served_then_closed_after_the_keepalive_timeout() {
    let gw = gateway("keepalive-timeout", 3);
    let mut conn = connect(&gw);
    // The first request comes a second after the connection was opened.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(request(&mut conn, "/public/first"), 200);
    // The next one after an idle second, on the same connection.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(request(&mut conn, "/public/second"), 200);
    // A 401 keeps the connection too (Negotiate's round trips need it).
    assert_eq!(request(&mut conn, "/"), 401);
    assert!(
        closed_by_gateway(&mut conn),
        "an idle connection was not closed after the keep-alive timeout"
    );

    // A connection that never sends a request is closed after the same timeout.
    let mut silent = connect(&gw);
    assert!(closed_by_gateway(&mut silent));
}

#[test]
fn a_request_whose_first_octet_comes_alone_is_served() {
    let gw = gateway("keepalive-split", 60);
    let mut conn = connect(&gw);
    for path in ["/public/one", "/public/two"] {
        let req = format!("GET {path} HTTP/1.1\r\nHost: gw.corp.test\r\nX-Pad: 1\r\n\r\n");
        let (first, rest) = req.as_bytes().split_at(1);
        conn.write_all(first).expect("first octet");
        std::thread::sleep(Duration::from_millis(300));
        conn.write_all(rest).expect("the rest");
        assert_eq!(read_response(&mut conn), 200, "{path}");
    }
}

#[test]
fn idle_connections_are_closed_at_shutdown() {
    let mut gw = gateway("keepalive-shutdown", 60);
    let mut used = connect(&gw);
    assert_eq!(request(&mut used, "/public/before"), 200);
    let mut silent = connect(&gw);
    let status = gw
        .terminate(Duration::from_secs(15))
        .expect("the gateway exits after SIGTERM");
    assert!(status.success(), "{status}");
    assert!(closed_by_gateway(&mut used), "kept-alive connection");
    assert!(
        closed_by_gateway(&mut silent),
        "connection without a request"
    );
}

#[test]
fn the_gauges_count_open_and_waiting_connections() {
    let gw = gateway("keepalive-gauges", 60);
    let gauges = || {
        (
            gw.metric("iwagw_client_connections", &[]).unwrap_or(-1.0),
            gw.metric("iwagw_client_connections_waiting", &[])
                .unwrap_or(-1.0),
        )
    };
    let settles_at = |want: (f64, f64)| {
        let mut seen = (-1.0, -1.0);
        let ok = e2e::wait_until(Duration::from_secs(10), || {
            seen = gauges();
            seen == want
        });
        assert!(ok, "gauges (open, waiting) are {seen:?}, not {want:?}");
    };
    settles_at((0.0, 0.0));
    let mut conns: Vec<TcpStream> = (0..3).map(|_| connect(&gw)).collect();
    settles_at((3.0, 3.0));
    // After its response a connection waits again.
    assert_eq!(request(&mut conns[0], "/public/a"), 200);
    settles_at((3.0, 3.0));
    // From a request's first octet on, it is no longer waiting.
    conns[1].write_all(b"G").expect("first octet");
    settles_at((3.0, 2.0));
    conns[1]
        .write_all(b"ET /public/b HTTP/1.1\r\nHost: gw.corp.test\r\n\r\n")
        .expect("the rest");
    assert_eq!(read_response(&mut conns[1]), 200);
    settles_at((3.0, 3.0));
    conns.clear();
    settles_at((0.0, 0.0));
}
