//! A Negotiate client on MIT GSSAPI (libgssapi), for tests and the demo.
//!
//! ```text
//! iwa-negotiate tokens --spn HTTP@gw.corp.test [--count N] [--raw]
//!     prints N fresh base64 tokens, one per line (a new security context each)
//! iwa-negotiate get --spn HTTP@gw.corp.test --connect 127.0.0.1:8080 http://gw.corp.test/path
//!     one GET with a fresh token; verifies the mutual-authentication reply with the same
//!     context and prints a JSON summary
//!
//! --channel-binding B64   bind the tokens to a channel: B64 is the application data of the
//!                         GSS channel bindings, e.g. `tls-server-end-point:<hash of the
//!                         server certificate>` (RFC 5929 §4) as browsers send over HTTPS
//! ```
//!
//! Credentials come from the usual MIT environment (`KRB5CCNAME`, `KRB5_CONFIG`).

use std::process::ExitCode;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::rt::TokioIo;
use libgssapi::context::{ClientCtx, CtxFlags};
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_KRB5, GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE};

struct Args {
    mode: String,
    spn: String,
    count: usize,
    raw: bool,
    connect: Option<String>,
    url: Option<String>,
    header: Option<String>,
    channel_binding: Option<Vec<u8>>,
}

fn parse_args() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode = it.next().ok_or("usage: iwa-negotiate tokens|get …")?;
    let mut a = Args {
        mode,
        spn: String::new(),
        count: 1,
        raw: false,
        connect: None,
        url: None,
        header: None,
        channel_binding: None,
    };
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--spn" => a.spn = it.next().ok_or("--spn needs a value")?,
            "--count" => {
                a.count = it
                    .next()
                    .ok_or("--count needs a value")?
                    .parse()
                    .map_err(|_| "bad --count")?
            }
            "--raw" => a.raw = true,
            "--connect" => a.connect = Some(it.next().ok_or("--connect needs host:port")?),
            "--header" => a.header = Some(it.next().ok_or("--header needs 'Name: value'")?),
            "--channel-binding" => {
                let b64 = it.next().ok_or("--channel-binding needs base64")?;
                a.channel_binding = Some(
                    STANDARD
                        .decode(b64)
                        .map_err(|_| "--channel-binding: bad base64")?,
                );
            }
            other if !other.starts_with("--") => a.url = Some(other.to_owned()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if a.spn.is_empty() {
        return Err("--spn HTTP@host is required".into());
    }
    Ok(a)
}

fn new_ctx(spn: &str, raw: bool) -> Result<ClientCtx, String> {
    let name = Name::new(spn.as_bytes(), Some(GSS_NT_HOSTBASED_SERVICE))
        .map_err(|e| format!("name {spn}: {e}"))?;
    let mech = if raw {
        &GSS_MECH_KRB5
    } else {
        &GSS_MECH_SPNEGO
    };
    let flags = CtxFlags::GSS_C_MUTUAL_FLAG | CtxFlags::GSS_C_SEQUENCE_FLAG;
    Ok(ClientCtx::new(None, name, flags, Some(*mech)))
}

fn first_token(ctx: &mut ClientCtx, channel_binding: Option<&[u8]>) -> Result<Vec<u8>, String> {
    match ctx.step(None, channel_binding) {
        Ok(Some(tok)) => Ok(tok.to_vec()),
        Ok(None) => Err("GSSAPI produced no token".into()),
        Err(e) => Err(format!("gss_init_sec_context: {e}")),
    }
}

async fn get(a: &Args) -> Result<serde_json::Value, String> {
    let url: hyper::Uri = a
        .url
        .as_deref()
        .ok_or("get needs a URL")?
        .parse()
        .map_err(|e| format!("bad URL: {e}"))?;
    let host = url.host().ok_or("URL has no host")?.to_owned();
    let port = url.port_u16().unwrap_or(80);
    let connect = a.connect.clone().unwrap_or(format!("{host}:{port}"));
    let mut ctx = new_ctx(&a.spn, a.raw)?;
    let token = first_token(&mut ctx, a.channel_binding.as_deref())?;
    let stream = tokio::net::TcpStream::connect(&connect)
        .await
        .map_err(|e| format!("connect {connect}: {e}"))?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    tokio::spawn(conn);
    let path = url.path_and_query().map_or("/", |p| p.as_str());
    let mut req = hyper::Request::get(path).header("host", &host).header(
        "authorization",
        format!("Negotiate {}", STANDARD.encode(&token)),
    );
    if let Some(h) = &a.header {
        let (k, v) = h.split_once(':').ok_or("--header needs 'Name: value'")?;
        req = req.header(k.trim(), v.trim());
    }
    let req = req.body(Empty::<Bytes>::new()).map_err(|e| e.to_string())?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let www = header("www-authenticate");
    let cookie = header("set-cookie");
    let mutual = match www.as_deref().and_then(|w| w.strip_prefix("Negotiate ")) {
        None => "absent".to_owned(),
        Some(b64) => match STANDARD.decode(b64.trim()) {
            Err(_) => "bad base64".to_owned(),
            Ok(reply) => match ctx.step(Some(&reply), a.channel_binding.as_deref()) {
                Ok(None) => "verified".to_owned(),
                Ok(Some(_)) => "unexpected continuation".to_owned(),
                Err(e) => format!("failed: {e}"),
            },
        },
    };
    let body = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    Ok(serde_json::json!({
        "status": status,
        "mutual": mutual,
        "www_authenticate": www,
        "set_cookie": cookie,
        "body": String::from_utf8_lossy(&body),
    }))
}

#[allow(clippy::print_stdout, reason = "the tool's output is its stdout")]
fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode.as_str() {
        "tokens" => (0..args.count).try_for_each(|_| {
            let mut ctx = new_ctx(&args.spn, args.raw)?;
            let token = first_token(&mut ctx, args.channel_binding.as_deref())?;
            println!("{}", STANDARD.encode(token));
            Ok::<(), String>(())
        }),
        "get" => match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(rt) => rt.block_on(get(&args)).map(|v| println!("{v}")),
            Err(e) => Err(e.to_string()),
        },
        other => Err(format!("unknown mode {other}: use tokens or get")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("iwa-negotiate: {e}");
            ExitCode::FAILURE
        }
    }
}
