//! `iwa-bench idle`: the server's memory with many idle keep-alive connections. Opens N
//! connections, sends one request on each (so the server has set up whatever it keeps per
//! connection), holds them open, and reads the server's resident memory before and after.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue, Request};
use http_body_util::BodyExt as _;
use serde::Serialize;

use crate::load::conn::{error_kind, Body, Connector, Sender};
use crate::procstat;

/// The idle-connection check's result.
#[derive(Debug, Serialize)]
pub struct IdleReport {
    pub url: String,
    pub connections: usize,
    /// Connections that answered their request with a 2xx.
    pub open: usize,
    /// Connections still open at the end of the hold.
    pub open_after_hold: usize,
    pub failures: BTreeMap<String, u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_pid: Option<u32>,
    pub rss_before_bytes: Option<u64>,
    pub rss_open_bytes: Option<u64>,
    pub rss_after_hold_bytes: Option<u64>,
    /// (RSS with the connections open − before) / open.
    pub bytes_per_connection: Option<f64>,
}

impl IdleReport {
    /// A line for the terminal.
    pub fn summary(&self) -> String {
        let mb = |b: Option<u64>| b.map_or("?".to_owned(), |b| format!("{:.1} MB", b as f64 / 1e6));
        format!(
            "{} of {} connections open ({} after the hold); server RSS {} before, {} open, {} after the hold; {} per connection{}",
            self.open,
            self.connections,
            self.open_after_hold,
            mb(self.rss_before_bytes),
            mb(self.rss_open_bytes),
            mb(self.rss_after_hold_bytes),
            self.bytes_per_connection
                .map_or("?".to_owned(), |b| format!("{:.0} bytes", b)),
            if self.failures.is_empty() {
                String::new()
            } else {
                format!("; failures: {:?}", self.failures)
            }
        )
    }
}

async fn open_one(
    connector: Arc<Connector>,
    headers: Arc<Vec<(HeaderName, HeaderValue)>>,
) -> Result<Sender, &'static str> {
    let mut sender = connector.connect().await?;
    let target = &connector.target;
    let mut b =
        Request::get(target.path.as_str()).header(http::header::HOST, target.authority.clone());
    for (k, v) in headers.iter() {
        b = b.header(k, v);
    }
    let req = b.body(Body::new()).map_err(|_| "bad request")?;
    let resp = match &mut sender {
        Sender::H1(tx) => tx.send_request(req).await,
        Sender::H2(_) => return Err("idle checks use HTTP/1.1"),
    }
    .map_err(|e| error_kind(&e))?;
    let ok = resp.status().is_success();
    let mut body = resp.into_body();
    while let Some(f) = body.frame().await {
        f.map_err(|e| error_kind(&e))?;
    }
    if ok {
        Ok(sender)
    } else {
        Err("non-2xx answer")
    }
}

/// Runs the check.
pub async fn run(
    connector: Arc<Connector>,
    connections: usize,
    hold: Duration,
    headers: Vec<(HeaderName, HeaderValue)>,
    server_pid: Option<u32>,
) -> Result<IdleReport, String> {
    if let Some(limit) = procstat::open_files_limit() {
        if limit < connections as u64 + 64 {
            return Err(format!(
                "the open files limit is {limit}, below the {connections} connections asked: \
                 raise it first (`ulimit -n {}`), for the server too",
                connections + 1024
            ));
        }
    }
    let rss = |pid: Option<u32>| pid.and_then(|p| procstat::tree_rss_bytes(p).ok());
    let rss_before = rss(server_pid);
    let headers = Arc::new(headers);
    let mut open = Vec::with_capacity(connections);
    let mut failures: BTreeMap<String, u64> = BTreeMap::new();
    let mut set = tokio::task::JoinSet::new();
    let mut started = 0;
    // At most 256 handshakes in flight: a server's accept queue is finite.
    while started < connections || !set.is_empty() {
        while started < connections && set.len() < 256 {
            set.spawn(open_one(connector.clone(), headers.clone()));
            started += 1;
        }
        match set.join_next().await {
            Some(Ok(Ok(s))) => open.push(s),
            Some(Ok(Err(kind))) => *failures.entry(kind.to_owned()).or_default() += 1,
            Some(Err(e)) => return Err(format!("a connection task failed: {e}")),
            None => break,
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_open = rss(server_pid);
    tokio::time::sleep(hold).await;
    let rss_after = rss(server_pid);
    let open_after_hold = open
        .iter()
        .filter(|s| matches!(s, Sender::H1(tx) if !tx.is_closed()))
        .count();
    let per_conn = match (rss_before, rss_open) {
        (Some(b), Some(o)) if !open.is_empty() => Some((o as f64 - b as f64) / open.len() as f64),
        _ => None,
    };
    Ok(IdleReport {
        url: connector.target.url.to_string(),
        connections,
        open: open.len(),
        open_after_hold,
        failures,
        server_pid,
        rss_before_bytes: rss_before,
        rss_open_bytes: rss_open,
        rss_after_hold_bytes: rss_after,
        bytes_per_connection: per_conn,
    })
}
