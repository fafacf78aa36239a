//! The load commands: `run`, `compare`, `idle`, `null-server`.

use std::io::{BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderName, HeaderValue};

use crate::compare::Comparison;
use crate::load::conn::{read_roots, tls_config, Connector, Target, Trust};
use crate::load::scenario::{Kind, SamlSp, Scenario};
use crate::load::{self, Amount, LoadSpec, TokenPool};
use crate::report::Report;
use crate::tokens::TokenFile;
use crate::{chart, idle, null_server};

/// Options shared by `run` and `compare`.
#[derive(clap::Args, Clone)]
pub struct LoadArgs {
    /// The token file (`iwa-bench mint`); not needed for the `plain` scenario.
    #[arg(long)]
    tokens: Option<PathBuf>,
    /// negotiate, session, plain or saml-sso; `mixed` takes --mix.
    #[arg(long, default_value = "negotiate")]
    scenario: String,
    /// For `mixed`: kind=weight pairs, e.g. negotiate=7,session=3.
    #[arg(long, value_delimiter = ',')]
    mix: Vec<String>,
    /// Connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// HTTP/2 (ALPN on https, prior knowledge on http).
    #[arg(long)]
    http2: bool,
    /// HTTP/2: concurrent requests per connection.
    #[arg(long, default_value_t = 1)]
    streams: usize,
    /// Open loop at this many requests per second (default: closed loop).
    #[arg(long)]
    rate: Option<f64>,
    /// Seconds to measure (after the warm-up).
    #[arg(long, default_value_t = 10.0, conflicts_with = "requests")]
    duration: f64,
    /// Measure exactly this many requests instead of a duration.
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of warm-up (requests sent, not measured; they use tokens too).
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// Seconds before a request counts as a timeout.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,
    /// Connect to this address instead of the URL's host (the URL still gives Host and SNI).
    #[arg(long)]
    connect: Option<SocketAddr>,
    /// PEM CA certificates for https targets.
    #[arg(long)]
    cacert: Option<PathBuf>,
    /// Do not check the https target's certificate.
    #[arg(long)]
    insecure: bool,
    /// An extra request header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// saml-sso: the SP's entity ID (the AuthnRequest's Issuer).
    #[arg(long)]
    saml_issuer: Option<String>,
    /// saml-sso: the SP's assertion consumer service URL to ask for.
    #[arg(long)]
    saml_acs: Option<String>,
    /// Worker threads (default: the machine's cores).
    #[arg(long)]
    threads: Option<usize>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

/// `iwa-bench run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The target URL (the gateway, Apache, anything that speaks Negotiate).
    #[arg(long)]
    url: String,
    #[command(flatten)]
    load: LoadArgs,
    /// The server's pid: its CPU time (with its children's) per request goes in the report.
    #[arg(long)]
    server_pid: Option<u32>,
    /// The run's name in the report.
    #[arg(long)]
    label: Option<String>,
    /// Write the report as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Append the run's markdown table row (with a header when the file is new).
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// Draw throughput and latency over time (SVG).
    #[arg(long)]
    chart: Option<PathBuf>,
}

/// `iwa-bench compare`.
#[derive(clap::Args)]
pub struct CompareArgs {
    /// Target A.
    #[arg(long)]
    a: String,
    /// Target B.
    #[arg(long)]
    b: String,
    #[command(flatten)]
    load: LoadArgs,
    /// A B pairs.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    #[arg(long)]
    a_pid: Option<u32>,
    #[arg(long)]
    b_pid: Option<u32>,
    #[arg(long, default_value = "A")]
    a_label: String,
    #[arg(long, default_value = "B")]
    b_label: String,
    /// Write all runs and the pairs as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the pairs' markdown table.
    #[arg(long)]
    markdown: Option<PathBuf>,
}

/// `iwa-bench idle`.
#[derive(clap::Args)]
pub struct IdleArgs {
    /// A URL that answers 2xx without authentication (e.g. a public route).
    #[arg(long)]
    url: String,
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Seconds to hold the connections open.
    #[arg(long, default_value_t = 5.0)]
    hold: f64,
    #[arg(long)]
    server_pid: Option<u32>,
    #[arg(long)]
    connect: Option<SocketAddr>,
    #[arg(long = "header")]
    headers: Vec<String>,
    #[arg(long)]
    json: Option<PathBuf>,
}

fn runtime(threads: Option<usize>) -> Result<tokio::runtime::Runtime, String> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    if let Some(t) = threads {
        b.worker_threads(t.max(1));
    }
    b.enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn secs(s: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(s).map_err(|_| format!("{what}: {s} is not a duration in seconds"))
}

fn parse_headers(list: &[String]) -> Result<Vec<(HeaderName, HeaderValue)>, String> {
    list.iter()
        .map(|h| {
            let (k, v) = h
                .split_once(':')
                .ok_or_else(|| format!("--header {h}: expected `Name: value`"))?;
            Ok((
                HeaderName::from_bytes(k.trim().as_bytes())
                    .map_err(|e| format!("--header {h}: {e}"))?,
                HeaderValue::from_str(v.trim()).map_err(|e| format!("--header {h}: {e}"))?,
            ))
        })
        .collect()
}

fn read_tokens(path: &Path) -> Result<TokenFile, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file =
        TokenFile::read(BufReader::new(f)).map_err(|e| format!("{}: {e}", path.display()))?;
    if let Some(w) = file.age_warning(crate::now()) {
        eprintln!("iwa-bench: {}: {w}", path.display());
    }
    Ok(file)
}

fn scenario(a: &LoadArgs) -> Result<Scenario, String> {
    let saml = a.saml_issuer.clone().map(|issuer| SamlSp {
        issuer,
        acs: a.saml_acs.clone(),
    });
    if a.scenario == "mixed" {
        let weights = a
            .mix
            .iter()
            .map(|p| {
                let (k, w) = p
                    .split_once('=')
                    .ok_or_else(|| format!("--mix {p}: expected kind=weight"))?;
                let w: u32 = w
                    .parse()
                    .map_err(|_| format!("--mix {p}: the weight must be a whole number"))?;
                Ok((Kind::parse(k).map_err(|e| format!("--mix: {e}"))?, w))
            })
            .collect::<Result<Vec<_>, String>>()?;
        Scenario::mixed(&weights, saml)
    } else {
        let kind = Kind::parse(&a.scenario).map_err(|e| format!("--scenario: {e}"))?;
        Scenario::single(kind, &a.scenario, saml)
    }
}

/// What `run` and `compare` share, built once.
struct Prepared {
    scenario: Arc<Scenario>,
    pool: Arc<TokenPool>,
    headers: Vec<(HeaderName, HeaderValue)>,
    trust: Option<Trust>,
}

fn prepare(a: &LoadArgs) -> Result<Prepared, String> {
    let scenario = scenario(a)?;
    let tokens = match &a.tokens {
        Some(p) => read_tokens(p)?.tokens,
        None if scenario.uses_tokens() => {
            return Err(format!(
                "the {} scenario needs --tokens (iwa-bench mint)",
                scenario.name
            ))
        }
        None => Vec::new(),
    };
    let trust = match (&a.cacert, a.insecure) {
        (Some(p), _) => Some(Trust::Roots(read_roots(p)?)),
        (None, true) => Some(Trust::Insecure),
        (None, false) => None,
    };
    Ok(Prepared {
        scenario: Arc::new(scenario),
        pool: Arc::new(TokenPool::new(&tokens)?),
        headers: parse_headers(&a.headers)?,
        trust,
    })
}

async fn spec_for(
    url: &str,
    a: &LoadArgs,
    p: &Prepared,
    label: String,
    server_pid: Option<u32>,
) -> Result<LoadSpec, String> {
    let target = Arc::new(Target::new(url, a.connect).await?);
    let tls = if target.tls_name.is_some() {
        let trust = p.trust.clone().ok_or_else(|| {
            format!("{url} is https: give --cacert FILE, or --insecure for a test server")
        })?;
        Some(tls_config(&trust, a.http2)?)
    } else {
        None
    };
    Ok(LoadSpec {
        label,
        connector: Arc::new(Connector::new(target, tls, a.http2)),
        connections: a.connections,
        streams: a.streams,
        rate: a.rate,
        amount: match a.requests {
            Some(n) => Amount::Requests(n),
            None => Amount::Duration(secs(a.duration, "--duration")?),
        },
        warmup: secs(a.warmup, "--warmup")?,
        timeout: secs(a.timeout, "--timeout")?,
        scenario: p.scenario.clone(),
        headers: p.headers.clone(),
        server_pid,
        progress: !a.quiet,
    })
}

fn write_file(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn append_markdown(path: &Path, row: &str) -> Result<(), String> {
    let new = !path.exists()
        || std::fs::metadata(path)
            .map(|m| m.len() == 0)
            .unwrap_or(true);
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let text = if new {
        format!("{}{row}", Report::markdown_header())
    } else {
        row.to_owned()
    };
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, String> {
    serde_json::to_string_pretty(v).map_err(|e| format!("JSON: {e}"))
}

/// `iwa-bench run`.
pub fn run(a: RunArgs) -> Result<(), String> {
    let p = prepare(&a.load)?;
    let rt = runtime(a.load.threads)?;
    let label = a.label.clone().unwrap_or_else(|| a.url.clone());
    let report = rt.block_on(async {
        let spec = spec_for(&a.url, &a.load, &p, label, a.server_pid).await?;
        load::run(&spec, p.pool.clone()).await
    })?;
    eprintln!("iwa-bench: {}", report.summary());
    if let Some(path) = &a.json {
        write_file(path, &json(&report)?)?;
    }
    if let Some(path) = &a.markdown {
        append_markdown(path, &report.markdown_row())?;
    }
    if let Some(path) = &a.chart {
        chart::draw(&report, path)?;
    }
    Ok(())
}

/// `iwa-bench compare`.
pub fn compare(a: CompareArgs) -> Result<(), String> {
    if a.rounds == 0 {
        return Err("--rounds must be at least 1".into());
    }
    let p = prepare(&a.load)?;
    let rt = runtime(a.load.threads)?;
    let cmp = rt.block_on(async {
        let spec_a = spec_for(&a.a, &a.load, &p, a.a_label.clone(), a.a_pid).await?;
        let spec_b = spec_for(&a.b, &a.load, &p, a.b_label.clone(), a.b_pid).await?;
        let mut runs = Vec::with_capacity(a.rounds * 2);
        for round in 1..=a.rounds {
            for spec in [&spec_a, &spec_b] {
                let r = load::run(spec, p.pool.clone()).await?;
                eprintln!("iwa-bench: round {round}: {}", r.summary());
                let stopped = r.stopped_early.clone();
                runs.push(r);
                if let Some(why) = stopped {
                    return Err(format!("round {round} stopped early: {why}"));
                }
            }
        }
        Ok::<_, String>(Comparison::from_runs(runs))
    })?;
    let md = cmp.markdown();
    eprint!("{md}");
    if let Some(path) = &a.json {
        write_file(path, &json(&cmp)?)?;
    }
    if let Some(path) = &a.markdown {
        write_file(path, &md)?;
    }
    Ok(())
}

/// `iwa-bench idle`.
pub fn idle(a: IdleArgs) -> Result<(), String> {
    let rt = runtime(None)?;
    let report = rt.block_on(async {
        let target = Arc::new(Target::new(&a.url, a.connect).await?);
        if target.tls_name.is_some() {
            return Err("idle: use an http URL".to_owned());
        }
        let connector = Arc::new(Connector::new(target, None, false));
        idle::run(
            connector,
            a.connections,
            secs(a.hold, "--hold")?,
            parse_headers(&a.headers)?,
            a.server_pid,
        )
        .await
    })?;
    eprintln!("iwa-bench: {}", report.summary());
    if let Some(path) = &a.json {
        write_file(path, &json(&report)?)?;
    }
    Ok(())
}

/// `iwa-bench null-server`.
pub fn null_server(listen: SocketAddr, threads: Option<usize>) -> Result<(), String> {
    let rt = runtime(threads)?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|e| format!("--listen {listen}: {e}"))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        #[allow(clippy::print_stdout)]
        {
            println!("listening on {addr}");
        }
        let _ = std::io::stdout().flush();
        null_server::serve(listener, null_server::ok_handler()).await;
        Ok(())
    })
}
