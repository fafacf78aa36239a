//! The load generator.
//!
//! Workers each own a connection (HTTP/1.1 keep-alive), or share one per `--streams` group
//! (HTTP/2). In the closed loop each worker sends its next request when the previous answer is
//! in. In the open loop (`--rate`), request `k` is due at `start + k / rate` whatever happened
//! before, and its latency is measured from that due time, not from when a connection became
//! free: a stalled server shows as latency instead of silently lowering the offered load
//! (no coordinated omission, as in wrk2).
//!
//! Tokens come from one [`TokenPool`]: an atomic index, so each token is sent exactly once
//! across all workers (and across the runs of a `compare`). A request whose token was sent is
//! never retried with it. When the pool is empty the run stops and says so.

pub mod conn;
pub mod scenario;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue, Method, Request};
use http_body_util::BodyExt as _;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::procstat;
use crate::report::{Auth, Measured, Outcome, Recorder, Report, RunInfo};
use conn::{error_kind, Body, Connector, Sender};
use scenario::{auth_for, CookieJar, Kind, Scenario};

/// The tokens of a run, each handed out once.
#[derive(Debug)]
pub struct TokenPool {
    tokens: Vec<HeaderValue>,
    next: AtomicUsize,
}

impl TokenPool {
    /// A pool of base64 tokens, as `Negotiate …` header values.
    pub fn new(tokens: &[String]) -> Result<Self, String> {
        let tokens = tokens
            .iter()
            .enumerate()
            .map(|(i, t)| {
                HeaderValue::from_str(&format!("Negotiate {t}"))
                    .map_err(|_| format!("token {} is not a header value", i + 1))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            tokens,
            next: AtomicUsize::new(0),
        })
    }

    /// The next unused token.
    pub fn take(&self) -> Option<HeaderValue> {
        let i = self.next.fetch_add(1, Ordering::Relaxed);
        self.tokens.get(i).cloned()
    }

    /// How many were handed out.
    pub fn used(&self) -> usize {
        self.next.load(Ordering::Relaxed).min(self.tokens.len())
    }

    /// How many are left.
    pub fn left(&self) -> usize {
        self.tokens.len() - self.used()
    }
}

/// How long or how much.
#[derive(Debug, Clone, Copy)]
pub enum Amount {
    /// Measure for this long after the warm-up.
    Duration(Duration),
    /// Measure exactly this many requests after the warm-up.
    Requests(u64),
}

/// A load run.
#[derive(Debug)]
pub struct LoadSpec {
    pub label: String,
    pub connector: Arc<Connector>,
    /// Connections (HTTP/1.1: one worker each).
    pub connections: usize,
    /// HTTP/2: concurrent requests per connection.
    pub streams: usize,
    /// Open loop at this many requests per second; closed loop when `None`.
    pub rate: Option<f64>,
    pub amount: Amount,
    pub warmup: Duration,
    /// Per request, connection included.
    pub timeout: Duration,
    pub scenario: Arc<Scenario>,
    /// Extra headers on every request.
    pub headers: Vec<(HeaderName, HeaderValue)>,
    /// The server's pid, for its CPU time.
    pub server_pid: Option<u32>,
    pub progress: bool,
}

/// State the workers share.
struct Shared {
    start: Instant,
    measured_from: Instant,
    deadline: Option<Instant>,
    count: Option<u64>,
    claimed: AtomicU64,
    slot: AtomicU64,
    stop: AtomicBool,
    stop_reason: Mutex<Option<String>>,
    done: AtomicU64,
    not_ok: AtomicU64,
}

impl Shared {
    fn stop(&self, why: &str) {
        self.stop.store(true, Ordering::Relaxed);
        if let Ok(mut r) = self.stop_reason.lock() {
            r.get_or_insert_with(|| why.to_owned());
        }
    }
}

/// Runs `spec`, taking tokens from `pool`.
pub async fn run(spec: &LoadSpec, pool: Arc<TokenPool>) -> Result<Report, String> {
    if spec.connections == 0 {
        return Err("--connections must be at least 1".into());
    }
    if spec.scenario.uses_tokens() && pool.left() == 0 {
        return Err("no tokens left: mint a token file for this run".into());
    }
    let start = Instant::now();
    let measured_from = start + spec.warmup;
    let (deadline, count) = match spec.amount {
        Amount::Duration(d) => (Some(measured_from + d), None),
        Amount::Requests(n) => (None, Some(n)),
    };
    let shared = Arc::new(Shared {
        start,
        measured_from,
        deadline,
        count,
        claimed: AtomicU64::new(0),
        slot: AtomicU64::new(0),
        stop: AtomicBool::new(false),
        stop_reason: Mutex::new(None),
        done: AtomicU64::new(0),
        not_ok: AtomicU64::new(0),
    });

    // CPU counters at the start of the measured part.
    let pid = spec.server_pid;
    let baseline = tokio::spawn(async move {
        tokio::time::sleep_until(measured_from.into()).await;
        let server = match pid {
            Some(p) => {
                Some(procstat::tree_cpu_seconds(p).map_err(|e| format!("--server-pid {p}: {e}"))?)
            }
            None => None,
        };
        Ok::<_, String>((server, procstat::self_cpu_seconds()))
    });

    let bar = progress_bar(spec.progress);
    let ticker = {
        let shared = shared.clone();
        let bar = bar.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let now = Instant::now();
                if now < shared.measured_from {
                    bar.set_message(format!(
                        "warming up ({:.0} s left)",
                        (shared.measured_from - now).as_secs_f64()
                    ));
                    continue;
                }
                let secs = (now - shared.measured_from).as_secs_f64().max(1e-3);
                let done = shared.done.load(Ordering::Relaxed);
                bar.set_message(format!(
                    "{secs:.0} s  {done} requests  {:.0} req/s  {} not ok",
                    done as f64 / secs,
                    shared.not_ok.load(Ordering::Relaxed)
                ));
            }
        })
    };

    let mut workers = tokio::task::JoinSet::new();
    let streams = if spec.connector.http2 {
        spec.streams.max(1)
    } else {
        1
    };
    let mut id = 0;
    for _ in 0..spec.connections {
        let shared_conn = Arc::new(tokio::sync::Mutex::new(None));
        for _ in 0..streams {
            let w = Worker {
                id,
                connector: spec.connector.clone(),
                conn: if spec.connector.http2 {
                    Conn::Shared(shared_conn.clone())
                } else {
                    Conn::Own(None)
                },
                scenario: spec.scenario.clone(),
                headers: spec.headers.clone(),
                pool: pool.clone(),
                shared: shared.clone(),
                rate: spec.rate,
                timeout: spec.timeout,
                jar: CookieJar::default(),
                rec: Recorder::default(),
            };
            workers.spawn(w.run());
            id += 1;
        }
    }
    let mut rec = Recorder::default();
    while let Some(r) = workers.join_next().await {
        rec.merge(r.map_err(|e| format!("a worker failed: {e}"))?);
    }
    let end = Instant::now();
    ticker.abort();
    bar.finish_and_clear();

    let (server0, loader0) = if baseline.is_finished() {
        baseline.await.map_err(|e| format!("CPU sampler: {e}"))??
    } else {
        // Stopped before the warm-up ended: nothing was measured.
        baseline.abort();
        (None, procstat::self_cpu_seconds())
    };
    let server_cpu = match (pid, server0) {
        (Some(p), Some(c0)) => Some((
            p,
            procstat::tree_cpu_seconds(p).map_err(|e| format!("--server-pid {p}: {e}"))? - c0,
        )),
        _ => None,
    };
    let stopped_early = shared.stop_reason.lock().ok().and_then(|r| r.clone());
    let info = RunInfo {
        label: spec.label.clone(),
        scenario: spec.scenario.name.clone(),
        url: spec.connector.target.url.to_string(),
        http2: spec.connector.http2,
        connections: spec.connections,
        rate: spec.rate,
    };
    let measured = Measured {
        elapsed: end.saturating_duration_since(measured_from),
        server_cpu,
        loader_cpu_s: procstat::self_cpu_seconds() - loader0,
        tokens_used: pool.used(),
        tokens_left: pool.left(),
        stopped_early,
    };
    Ok(Report::build(info, rec, measured))
}

fn progress_bar(show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg}") {
        bar.set_style(style);
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

/// A worker's connection.
enum Conn {
    /// HTTP/1.1: its own.
    Own(Option<Sender>),
    /// HTTP/2: shared by the streams of one connection.
    Shared(Arc<tokio::sync::Mutex<Option<Sender>>>),
}

struct Worker {
    id: usize,
    connector: Arc<Connector>,
    conn: Conn,
    scenario: Arc<Scenario>,
    headers: Vec<(HeaderName, HeaderValue)>,
    pool: Arc<TokenPool>,
    shared: Arc<Shared>,
    rate: Option<f64>,
    timeout: Duration,
    jar: CookieJar,
    rec: Recorder,
}

/// The next request's due time, or `None` when the run is over.
fn next_due(shared: &Shared, rate: Option<f64>) -> Option<Instant> {
    if shared.stop.load(Ordering::Relaxed) {
        return None;
    }
    let due = match rate {
        Some(r) => {
            let k = shared.slot.fetch_add(1, Ordering::Relaxed);
            shared.start + Duration::from_secs_f64(k as f64 / r)
        }
        None => Instant::now(),
    };
    if shared.deadline.is_some_and(|d| due >= d) {
        return None;
    }
    if due >= shared.measured_from {
        if let Some(n) = shared.count {
            if shared.claimed.fetch_add(1, Ordering::Relaxed) >= n {
                return None;
            }
        }
    }
    Some(due)
}

impl Worker {
    async fn run(mut self) -> Recorder {
        let mut n: u64 = 0;
        while let Some(due) = next_due(&self.shared, self.rate) {
            if self.rate.is_some() {
                if due > Instant::now() {
                    tokio::time::sleep_until(due.into()).await;
                } else if due + Duration::from_millis(1) < Instant::now() {
                    self.rec.late();
                }
            }
            let kind = self.scenario.kind(self.id, n);
            n += 1;
            let auth = auth_for(kind, &self.jar);
            let Some(req) = self.request(kind, auth) else {
                self.shared.stop("the token file ran out of tokens");
                break;
            };
            let outcome = match tokio::time::timeout(self.timeout, self.send(kind, req)).await {
                Ok(o) => o,
                Err(_) => {
                    self.drop_conn().await;
                    Outcome::Transport("timeout")
                }
            };
            if due >= self.shared.measured_from {
                let ok = matches!(outcome, Outcome::Status { code, passed: true } if (200..300).contains(&code));
                self.shared.done.fetch_add(1, Ordering::Relaxed);
                if !ok {
                    self.shared.not_ok.fetch_add(1, Ordering::Relaxed);
                }
                self.rec.record(
                    due - self.shared.measured_from,
                    due.elapsed(),
                    auth,
                    outcome,
                );
            }
            if matches!(outcome, Outcome::Transport("connect")) {
                // Do not spin against a server that refuses connections.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        self.rec
    }

    fn request(&mut self, kind: Kind, auth: Auth) -> Option<Request<Body>> {
        let target = &self.connector.target;
        let path = if kind == Kind::SamlSso {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            self.scenario
                .saml_path(&target.path, &target.url.to_string(), now)
        } else {
            target.path.clone()
        };
        let uri = if self.connector.http2 {
            let scheme = target.url.scheme_str().unwrap_or("http");
            format!(
                "{scheme}://{}{path}",
                target.authority.to_str().unwrap_or("")
            )
        } else {
            path
        };
        let mut b = Request::builder().method(Method::GET).uri(uri);
        if !self.connector.http2 {
            b = b.header(http::header::HOST, target.authority.clone());
        }
        match auth {
            Auth::Negotiate => b = b.header(http::header::AUTHORIZATION, self.pool.take()?),
            Auth::Cookie => {
                if let Some(c) = self.jar.header() {
                    b = b.header(http::header::COOKIE, c.clone());
                }
            }
            Auth::None => {}
        }
        for (k, v) in &self.headers {
            b = b.header(k, v);
        }
        // The URI comes from a parsed URL plus our own percent-encoded query.
        b.body(Body::new()).ok()
    }

    async fn drop_conn(&mut self) {
        match &mut self.conn {
            Conn::Own(c) => *c = None,
            Conn::Shared(m) => *m.lock().await = None,
        }
    }

    async fn send(&mut self, kind: Kind, req: Request<Body>) -> Outcome {
        let result = match &mut self.conn {
            Conn::Own(slot) => {
                let usable = matches!(slot, Some(Sender::H1(tx)) if !tx.is_closed());
                if !usable {
                    *slot = match self.connector.connect().await {
                        Ok(s) => Some(s),
                        Err(kind) => return Outcome::Transport(kind),
                    };
                }
                match slot {
                    Some(Sender::H1(tx)) => match tx.ready().await {
                        Ok(()) => tx.send_request(req).await,
                        Err(e) => Err(e),
                    },
                    _ => return Outcome::Transport("connect"),
                }
            }
            Conn::Shared(m) => {
                let tx = {
                    let mut g = m.lock().await;
                    let usable = matches!(&*g, Some(Sender::H2(tx)) if !tx.is_closed());
                    if !usable {
                        *g = match self.connector.connect().await {
                            Ok(s) => Some(s),
                            Err(kind) => return Outcome::Transport(kind),
                        };
                    }
                    match &*g {
                        Some(Sender::H2(tx)) => tx.clone(),
                        _ => return Outcome::Transport("connect"),
                    }
                };
                let mut tx = tx;
                match tx.ready().await {
                    Ok(()) => tx.send_request(req).await,
                    Err(e) => Err(e),
                }
            }
        };
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.drop_conn().await;
                return Outcome::Transport(error_kind(&e));
            }
        };
        let code = resp.status().as_u16();
        if kind == Kind::Session {
            self.jar.update(code, resp.headers());
        }
        let mut body = resp.into_body();
        let mut saml_seen = false;
        let mut tail: Vec<u8> = Vec::new();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(f) => {
                    if kind == Kind::SamlSso && !saml_seen {
                        if let Some(d) = f.data_ref() {
                            // Search across frame boundaries: keep the last bytes.
                            tail.extend_from_slice(d);
                            saml_seen = contains(&tail, b"name=\"SAMLResponse\"");
                            let keep = tail.len().saturating_sub(32);
                            tail.drain(..keep);
                        }
                    }
                }
                Err(e) => {
                    self.drop_conn().await;
                    return Outcome::Transport(error_kind(&e));
                }
            }
        }
        let passed = kind != Kind::SamlSso || saml_seen;
        Outcome::Status { code, passed }
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
#[path = "load_test.rs"]
mod tests;
