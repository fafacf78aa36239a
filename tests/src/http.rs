//! A plain HTTP/1.1 client that sends headers exactly as given, and the replies of every
//! client (this one and curl), with the JSON `iwa-echo` answers with.

use std::fmt::Write as _;
use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use serde_json::Value;

/// A response, from curl or the plain client.
#[derive(Debug, Clone)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// `1.1` or `2` (curl) / `1.1` (plain client).
    pub version: String,
    /// Headers of the final response, names in lower case, in order.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: String,
}

impl Reply {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The body as the JSON `iwa-echo` answers with.
    pub fn echo(&self) -> Echoed {
        let v: Value = serde_json::from_str(&self.body).unwrap_or_else(|e| {
            panic!(
                "the body is not iwa-echo's JSON ({e}); status {}: {}",
                self.status, self.body
            )
        });
        Echoed(v)
    }
}

/// What the upstream (`iwa-echo`) received.
#[derive(Debug, Clone)]
pub struct Echoed(pub Value);

impl Echoed {
    /// The values of a request header the upstream received (empty if none).
    pub fn header(&self, name: &str) -> Vec<String> {
        self.0["headers"][name.to_ascii_lowercase()]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The names of every header the upstream received.
    pub fn header_names(&self) -> Vec<String> {
        self.0["headers"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// The path it received.
    pub fn path(&self) -> &str {
        self.0["path"].as_str().unwrap_or_default()
    }
}

/// `Name: value` lines as `(lower-case name, value)`.
pub(crate) fn parse_header_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
) -> Vec<(String, String)> {
    lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

/// A GET over a new HTTP/1.1 connection (`Connection: close`), headers sent exactly as given.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> std::io::Result<Reply> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut req = format!("GET {path} HTTP/1.1\r\n");
    if !headers.iter().any(|(n, _)| n.eq_ignore_ascii_case("host")) {
        let _ = write!(req, "Host: {addr}\r\n");
    }
    for (n, v) in headers {
        let _ = write!(req, "{n}: {v}\r\n");
    }
    req.push_str("Connection: close\r\n\r\n");
    stream.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("not an HTTP response: {}", String::from_utf8_lossy(&raw)),
        )
    })
}

fn parse_response(raw: &[u8]) -> Option<Reply> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(raw.get(..split)?).ok()?;
    let rest = raw.get(split + 4..)?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next()?;
    let mut parts = status_line.split(' ');
    let version = parts.next()?.strip_prefix("HTTP/")?.to_owned();
    let status = parts.next()?.parse().ok()?;
    let headers = parse_header_lines(lines);
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(rest)?
    } else {
        rest.to_vec()
    };
    Some(Reply {
        status,
        version,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let eol = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(data.get(..eol)?).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = data.get(eol + 2..)?;
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_responses() {
        let r = parse_response(
            b"HTTP/1.1 200 OK\r\nA: 1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(
            (r.status, r.header("a"), r.body.as_str()),
            (200, Some("1"), "abc")
        );
    }
}
