//! curl against a gateway: `--negotiate` with a test's ccache, over plain HTTP or TLS with
//! HTTP/1.1 or HTTP/2.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ad::{ad, Ccache};
use crate::gateway::Gateway;
use crate::http::{parse_header_lines, Reply};
use crate::process::{read_lossy, run, stderr_of};

/// A curl command against a [`Gateway`].
#[derive(Debug)]
pub struct Curl<'a> {
    gw: &'a Gateway,
    path: String,
    ccache: Option<Ccache>,
    headers: Vec<String>,
    form: Option<String>,
    tls: bool,
    http2: bool,
}

impl<'a> Curl<'a> {
    /// A GET of `path` from `gw`, without credentials.
    pub(crate) fn new(gw: &'a Gateway, path: &str) -> Self {
        Self {
            gw,
            path: path.to_owned(),
            ccache: None,
            headers: Vec::new(),
            form: None,
            tls: false,
            http2: false,
        }
    }

    /// `--negotiate -u :` with this ccache.
    pub fn negotiate(mut self, ccache: &Ccache) -> Self {
        self.ccache = Some(ccache.clone());
        self
    }

    /// `-H 'Name: value'`.
    pub fn header(mut self, header: &str) -> Self {
        self.headers.push(header.to_owned());
        self
    }

    /// A POST of this `application/x-www-form-urlencoded` body (already encoded).
    pub fn post_form(mut self, body: &str) -> Self {
        self.form = Some(body.to_owned());
        self
    }

    /// To the TLS listener (`--cacert` the test CA), HTTP/2 if `http2`.
    pub fn https(mut self, http2: bool) -> Self {
        self.tls = true;
        self.http2 = http2;
        self
    }

    /// Runs curl and returns the final response.
    pub fn send(self) -> Reply {
        let dir = self.gw.dir();
        static N: AtomicU32 = AtomicU32::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let head = dir.join(&format!("curl-{n}.head"));
        let body = dir.join(&format!("curl-{n}.body"));
        let (url, port) = if self.tls {
            (self.gw.https_url(&self.path), self.gw.https_addr().port())
        } else {
            (self.gw.url(&self.path), self.gw.http_addr().port())
        };
        let mut cmd = Command::new("curl");
        cmd.args([
            "-sS",
            "--max-time",
            "30",
            "-w",
            "%{http_code} %{http_version}",
        ])
        .arg("--resolve")
        .arg(format!("{}:{port}:127.0.0.1", self.gw.host()))
        .arg("-D")
        .arg(&head)
        .arg("-o")
        .arg(&body);
        if self.tls {
            cmd.arg("--cacert").arg(ad().path("IWA_AD_CA"));
            cmd.arg(if self.http2 { "--http2" } else { "--http1.1" });
        }
        for h in &self.headers {
            cmd.arg("-H").arg(h);
        }
        if let Some(form) = &self.form {
            let file = dir.join(&format!("curl-{n}.form"));
            std::fs::write(&file, form).expect("write the form body");
            cmd.arg("--data-binary").arg(format!("@{}", file.display()));
            cmd.args(["-H", "Content-Type: application/x-www-form-urlencoded"]);
        }
        match &self.ccache {
            Some(cc) => {
                cmd.args(["--negotiate", "-u", ":"]);
                cc.apply(&mut cmd);
            }
            None => {
                cmd.env_remove("KRB5CCNAME");
            }
        }
        cmd.arg(&url);
        let out = run(cmd, "curl");
        assert!(
            out.status.success(),
            "curl {url} failed: {}",
            stderr_of(&out)
        );
        let written = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut parts = written.split(' ');
        let status = parts.next().and_then(|s| s.parse().ok()).unwrap_or(0);
        let version = parts.next().unwrap_or_default().to_owned();
        let head = read_lossy(&head);
        // With --negotiate, curl writes the 401 first: keep the last response's headers.
        let last = head
            .split("\r\n\r\n")
            .filter(|b| b.starts_with("HTTP/"))
            .last()
            .unwrap_or_default();
        Reply {
            status,
            version,
            headers: parse_header_lines(last.lines().skip(1)),
            body: read_lossy(&body),
        }
    }
}
