//! A tiny upstream app for tests and the demo: answers every request with 200 and a JSON
//! object of the method, path and request headers it received.
//!
//! Usage: `iwa-echo 127.0.0.1:8081`

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use tokio::net::TcpListener;

async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut headers = serde_json::Map::new();
    for (name, value) in req.headers() {
        let v = String::from_utf8_lossy(value.as_bytes()).into_owned();
        match headers.get_mut(name.as_str()) {
            Some(serde_json::Value::Array(a)) => a.push(v.into()),
            _ => {
                headers.insert(
                    name.as_str().to_owned(),
                    serde_json::Value::Array(vec![v.into()]),
                );
            }
        }
    }
    let body = serde_json::json!({
        "method": req.method().as_str(),
        "path": req.uri().path(),
        "headers": headers,
    });
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string() + "\n")));
    resp.headers_mut().insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    Ok(resp)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8081".into())
        .parse()
        .map_err(|e| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!("bad address: {e}"),
            )
        })?;
    let listener = TcpListener::bind(addr).await?;
    eprintln!("iwa-echo listening on {}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let _ = Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), hyper::service::service_fn(echo))
                .await;
        });
    }
}
