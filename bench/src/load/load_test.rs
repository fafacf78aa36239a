//! The load generator against a counting test server on loopback: every token is sent exactly
//! once, sessions negotiate once per connection, the open loop measures from the due time, and
//! the report's numbers match what the server saw.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::Full;
use hyper::Response;

use super::*;
use crate::null_server::{serve, Handler};

/// What the counting server saw: per request, its Authorization and Cookie headers.
#[derive(Default)]
struct Seen {
    requests: Vec<(Option<String>, Option<String>)>,
}

/// A server that records every request; a Negotiate request gets a session cookie; a request
/// with neither a token nor the cookie gets a 401. `delay` slows each answer down.
async fn counting_server(delay: Duration) -> (SocketAddrString, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let s = seen.clone();
    let handler: Handler = Arc::new(move |req| {
        let h = |n: http::HeaderName| {
            let all: Vec<String> = req
                .headers()
                .get_all(n)
                .iter()
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
                .collect();
            assert!(all.len() <= 1, "a header sent twice: {all:?}");
            all.into_iter().next()
        };
        let auth = h(http::header::AUTHORIZATION);
        let cookie = h(http::header::COOKIE);
        s.lock()
            .expect("lock")
            .requests
            .push((auth.clone(), cookie.clone()));
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        let mut resp = Response::new(Full::new(Bytes::from_static(b"ok\n")));
        if auth.is_some() {
            resp.headers_mut().insert(
                http::header::SET_COOKIE,
                HeaderValue::from_static("sess=1; Path=/; HttpOnly"),
            );
        } else if cookie.as_deref() != Some("sess=1") {
            *resp.status_mut() = http::StatusCode::UNAUTHORIZED;
        }
        resp
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    tokio::spawn(serve(listener, handler));
    (addr, seen)
}

type SocketAddrString = String;

fn tokens(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("dG9rZW4t{i:08}")).collect()
}

async fn spec(addr: &str, kind: Kind, connections: usize, amount: Amount) -> LoadSpec {
    let target = Arc::new(
        conn::Target::new(&format!("http://{addr}/app"), None)
            .await
            .expect("target"),
    );
    LoadSpec {
        label: "test".into(),
        connector: Arc::new(Connector::new(target, None, false)),
        connections,
        streams: 1,
        rate: None,
        amount,
        warmup: Duration::ZERO,
        timeout: Duration::from_secs(10),
        scenario: Arc::new(Scenario::single(kind, "test", None).expect("scenario")),
        headers: vec![(
            HeaderName::from_static("x-bench"),
            HeaderValue::from_static("1"),
        )],
        server_pid: Some(std::process::id()),
        progress: false,
    }
}

fn assert_adds_up(r: &Report) {
    let statuses: u64 = r.statuses.values().sum();
    let transport: u64 = r.transport_errors.values().sum();
    assert_eq!(statuses + transport, r.requests, "{r:?}");
    assert_eq!(
        r.timeline.iter().map(|s| s.requests).sum::<u64>(),
        r.requests
    );
    assert_eq!(r.auth.negotiate + r.auth.cookie + r.auth.none, r.requests);
    let two_xx: u64 = r
        .statuses
        .iter()
        .filter(|(k, _)| k.starts_with('2'))
        .map(|(_, v)| v)
        .sum();
    assert_eq!(r.ok, two_xx - r.check_failures);
    assert_eq!(
        r.timeline.iter().map(|s| s.failed).sum::<u64>(),
        r.requests - r.ok
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn negotiate_sends_each_token_exactly_once() {
    let (addr, seen) = counting_server(Duration::ZERO).await;
    let all = tokens(1000);
    let pool = Arc::new(TokenPool::new(&all).expect("pool"));
    let spec = spec(&addr, Kind::Negotiate, 8, Amount::Requests(600)).await;
    let r = run(&spec, pool.clone()).await.expect("run");

    let seen = seen.lock().expect("lock");
    assert_eq!(
        seen.requests.len(),
        600,
        "the server saw every measured request, no more"
    );
    let sent: Vec<&str> = seen
        .requests
        .iter()
        .map(|(a, _)| a.as_deref().expect("every request had a token"))
        .collect();
    let distinct: HashSet<&str> = sent.iter().copied().collect();
    assert_eq!(distinct.len(), 600, "no token was sent twice");
    let minted: HashSet<String> = all.iter().map(|t| format!("Negotiate {t}")).collect();
    assert!(sent.iter().all(|t| minted.contains(*t)));
    assert_eq!(pool.used(), 600);

    assert_eq!(r.requests, 600);
    assert_eq!(r.ok, 600);
    assert_eq!(r.auth.negotiate, 600);
    assert_eq!(r.tokens_used, 600);
    assert_eq!(r.tokens_left, 400);
    assert!(r.stopped_early.is_none());
    assert!(r.server.is_some());
    assert!(r.latency_us.p50 <= r.latency_us.p99 && r.latency_us.p99 <= r.latency_us.max);
    assert_adds_up(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_negotiates_once_per_connection() {
    let (addr, seen) = counting_server(Duration::ZERO).await;
    let pool = Arc::new(TokenPool::new(&tokens(100)).expect("pool"));
    let spec = spec(&addr, Kind::Session, 4, Amount::Requests(200)).await;
    let r = run(&spec, pool.clone()).await.expect("run");

    let seen = seen.lock().expect("lock");
    assert_eq!(seen.requests.len(), 200);
    let with_token = seen.requests.iter().filter(|(a, _)| a.is_some()).count();
    assert_eq!(with_token, 4, "one Negotiate per connection");
    assert!(
        seen.requests
            .iter()
            .all(|(a, c)| a.is_some() != c.is_some()),
        "token xor cookie"
    );
    assert_eq!(pool.used(), 4);
    assert_eq!((r.auth.negotiate, r.auth.cookie), (4, 196));
    assert_eq!(r.ok, 200);
    assert_adds_up(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stops_when_the_tokens_run_out() {
    let (addr, seen) = counting_server(Duration::ZERO).await;
    let pool = Arc::new(TokenPool::new(&tokens(50)).expect("pool"));
    let spec = spec(&addr, Kind::Negotiate, 4, Amount::Requests(100)).await;
    let r = run(&spec, pool).await.expect("run");
    assert_eq!(seen.lock().expect("lock").requests.len(), 50);
    assert_eq!(r.requests, 50);
    assert_eq!(r.tokens_left, 0);
    assert_eq!(
        r.stopped_early.as_deref(),
        Some("the token file ran out of tokens")
    );
    assert_adds_up(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_sends_no_token_and_counts_401s() {
    let (addr, seen) = counting_server(Duration::ZERO).await;
    let pool = Arc::new(TokenPool::new(&[]).expect("pool"));
    let spec = spec(&addr, Kind::Plain, 2, Amount::Requests(30)).await;
    let r = run(&spec, pool).await.expect("run");
    assert!(seen
        .lock()
        .expect("lock")
        .requests
        .iter()
        .all(|(a, c)| a.is_none() && c.is_none()));
    assert_eq!(r.statuses.get("401"), Some(&30));
    assert_eq!(r.ok, 0);
    assert_adds_up(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn open_loop_measures_from_the_due_time() {
    // One connection, a request due every 5 ms, a server that needs at least 20 ms: request k
    // is answered no earlier than k × 20 ms but was due at k × 5 ms, so the last of 20 waited
    // at least 19 × 15 ms. A closed loop (or a loader with coordinated omission) would report
    // about 20 ms for every request.
    let (addr, _seen) = counting_server(Duration::from_millis(20)).await;
    let pool = Arc::new(TokenPool::new(&tokens(100)).expect("pool"));
    let mut spec = spec(&addr, Kind::Negotiate, 1, Amount::Requests(20)).await;
    spec.rate = Some(200.0);
    let r = run(&spec, pool).await.expect("run");
    assert_eq!(r.requests, 20);
    assert_eq!(r.mode, "open");
    assert!(r.latency_us.max >= 285_000, "{:?}", r.latency_us);
    assert!(r.late > 0);
    assert_adds_up(&r);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_streams_share_connections_and_each_token_goes_once() {
    let (addr, seen) = counting_server(Duration::ZERO).await;
    let pool = Arc::new(TokenPool::new(&tokens(500)).expect("pool"));
    let target = Arc::new(
        conn::Target::new(&format!("http://{addr}/app"), None)
            .await
            .expect("target"),
    );
    let mut spec = spec(&addr, Kind::Negotiate, 2, Amount::Requests(300)).await;
    spec.connector = Arc::new(Connector::new(target, None, true));
    spec.streams = 4;
    let r = run(&spec, pool).await.expect("run");
    let seen = seen.lock().expect("lock");
    let distinct: HashSet<&str> = seen
        .requests
        .iter()
        .filter_map(|(a, _)| a.as_deref())
        .collect();
    assert_eq!((seen.requests.len(), distinct.len()), (300, 300));
    assert_eq!((r.http, r.ok), ("2", 300));
    assert_adds_up(&r);
}
