//! What each request carries: the scenarios of a load run.
//!
//! - `negotiate`: a fresh token on every request (a new sign-in each time: the acceptor's
//!   worst case, and what a replay cache must absorb).
//! - `session`: on each connection one Negotiate, then the session cookie the server set; a
//!   401 drops the cookie and the next request negotiates again.
//! - `plain`: no authentication (a server's baseline with auth disabled, or a public route).
//! - `saml-sso`: the SP-initiated round trip: a new HTTP-Redirect AuthnRequest and a fresh
//!   token; ok only when the answer carries a `SAMLResponse`.
//! - `mixed`: the above by weight (`--mix negotiate=7,session=3`), interleaved evenly.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::HeaderValue;

use crate::report::Auth;

/// One request kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Negotiate,
    Session,
    Plain,
    SamlSso,
}

impl Kind {
    /// Parses a scenario name.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "negotiate" => Ok(Self::Negotiate),
            "session" => Ok(Self::Session),
            "plain" => Ok(Self::Plain),
            "saml-sso" => Ok(Self::SamlSso),
            other => Err(format!(
                "`{other}` is not one of: negotiate, session, plain, saml-sso"
            )),
        }
    }

    /// Whether a request of this kind may need a token.
    pub fn uses_tokens(self) -> bool {
        self != Self::Plain
    }
}

/// The SAML service provider the `saml-sso` requests come from.
#[derive(Debug, Clone)]
pub struct SamlSp {
    /// Its entity ID (the AuthnRequest's Issuer), registered at the IdP.
    pub issuer: String,
    /// Its assertion consumer service URL, if the AuthnRequest should name one.
    pub acs: Option<String>,
}

/// A scenario: the kinds in the order each worker cycles through them.
#[derive(Debug)]
pub struct Scenario {
    /// Its name for the report.
    pub name: String,
    schedule: Vec<Kind>,
    saml: Option<SamlSp>,
    saml_seq: AtomicU64,
}

impl Scenario {
    /// A single-kind scenario.
    pub fn single(kind: Kind, name: &str, saml: Option<SamlSp>) -> Result<Self, String> {
        Self::check_saml(&[kind], &saml)?;
        Ok(Self {
            name: name.to_owned(),
            schedule: vec![kind],
            saml,
            saml_seq: AtomicU64::new(0),
        })
    }

    /// `mixed` from `kind=weight` pairs, spread by smooth weighted round robin so that every
    /// window of the schedule has the mix's proportions.
    pub fn mixed(weights: &[(Kind, u32)], saml: Option<SamlSp>) -> Result<Self, String> {
        let total: u32 = weights.iter().map(|w| w.1).sum();
        if weights.is_empty() || total == 0 {
            return Err("--mix: give at least one kind with a weight above 0".into());
        }
        if total > 1000 {
            return Err("--mix: the weights must add up to 1000 or less".into());
        }
        let kinds: Vec<Kind> = weights.iter().map(|w| w.0).collect();
        Self::check_saml(&kinds, &saml)?;
        let mut current: Vec<i64> = vec![0; weights.len()];
        let mut schedule = Vec::with_capacity(total as usize);
        for _ in 0..total {
            for (c, w) in current.iter_mut().zip(weights) {
                *c += i64::from(w.1);
            }
            let (best, _) = current
                .iter()
                .enumerate()
                .max_by_key(|(i, c)| (**c, std::cmp::Reverse(*i)))
                .unwrap_or((0, &0));
            current[best] -= i64::from(total);
            schedule.push(weights[best].0);
        }
        let name = weights
            .iter()
            .map(|(k, w)| format!("{}={w}", kind_name(*k)))
            .collect::<Vec<_>>()
            .join(",");
        Ok(Self {
            name: format!("mixed({name})"),
            schedule,
            saml,
            saml_seq: AtomicU64::new(0),
        })
    }

    fn check_saml(kinds: &[Kind], saml: &Option<SamlSp>) -> Result<(), String> {
        if kinds.contains(&Kind::SamlSso) && saml.is_none() {
            return Err("the saml-sso scenario needs --saml-issuer (the SP's entity ID)".into());
        }
        Ok(())
    }

    /// Whether any request may need a token.
    pub fn uses_tokens(&self) -> bool {
        self.schedule.iter().any(|k| k.uses_tokens())
    }

    /// The kind of a worker's `n`th request.
    pub fn kind(&self, worker: usize, n: u64) -> Kind {
        let len = self.schedule.len() as u64;
        let i = (worker as u64).wrapping_add(n) % len.max(1);
        self.schedule
            .get(i as usize)
            .copied()
            .unwrap_or(Kind::Plain)
    }

    /// The path and query of a `saml-sso` request to the IdP at `path`.
    pub fn saml_path(&self, path: &str, destination: &str, now: i64) -> String {
        let Some(sp) = &self.saml else {
            return path.to_owned();
        };
        let n = self.saml_seq.fetch_add(1, Ordering::Relaxed);
        let instant = kdc_bridge::proto::krb::asn1::format_rfc3339(now);
        let acs = sp
            .acs
            .as_deref()
            .map(|a| format!(" AssertionConsumerServiceURL=\"{}\"", xml_attr(a)))
            .unwrap_or_default();
        let xml = format!(
            "<samlp:AuthnRequest xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_iwa-bench-{n}-{now}\" \
             Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{}\"{acs}>\
             <saml:Issuer>{}</saml:Issuer></samlp:AuthnRequest>",
            xml_attr(destination),
            xml_attr(&sp.issuer)
        );
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        // Writing into a Vec cannot fail.
        let deflated = e.write_all(xml.as_bytes()).and_then(|()| e.finish());
        let b64 = STANDARD.encode(deflated.unwrap_or_default());
        let sep = if path.contains('?') { '&' } else { '?' };
        format!(
            "{path}{sep}SAMLRequest={}&RelayState=iwa-bench",
            url_encode(&b64)
        )
    }
}

fn kind_name(k: Kind) -> &'static str {
    match k {
        Kind::Negotiate => "negotiate",
        Kind::Session => "session",
        Kind::Plain => "plain",
        Kind::SamlSso => "saml-sso",
    }
}

fn xml_attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

fn url_encode(b64: &str) -> String {
    let mut out = String::with_capacity(b64.len() + b64.len() / 8);
    for c in b64.chars() {
        match c {
            '+' => out.push_str("%2B"),
            '/' => out.push_str("%2F"),
            '=' => out.push_str("%3D"),
            c => out.push(c),
        }
    }
    out
}

/// A worker's cookie for the `session` kind.
#[derive(Debug, Default)]
pub struct CookieJar {
    cookie: Option<HeaderValue>,
}

impl CookieJar {
    /// The `Cookie` header to send, if there is a session.
    pub fn header(&self) -> Option<&HeaderValue> {
        self.cookie.as_ref()
    }

    /// Takes in a response: its `Set-Cookie` headers (name=value only), or forgets the
    /// session on a 401.
    pub fn update(&mut self, status: u16, headers: &http::HeaderMap) {
        if status == 401 {
            self.cookie = None;
            return;
        }
        let pairs: Vec<&str> = headers
            .get_all(http::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .filter_map(|v| v.split(';').next())
            .map(str::trim)
            .filter(|p| p.contains('='))
            .collect();
        if !pairs.is_empty() {
            self.cookie = HeaderValue::from_str(&pairs.join("; ")).ok();
        }
    }
}

/// What a request of `kind` carries, given the worker's jar.
pub fn auth_for(kind: Kind, jar: &CookieJar) -> Auth {
    match kind {
        Kind::Plain => Auth::None,
        Kind::Session if jar.header().is_some() => Auth::Cookie,
        _ => Auth::Negotiate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mix_is_interleaved_in_proportion() {
        let s = Scenario::mixed(&[(Kind::Negotiate, 3), (Kind::Session, 1)], None).expect("mix");
        let first: Vec<Kind> = (0..8).map(|n| s.kind(0, n)).collect();
        assert_eq!(
            first.iter().filter(|k| **k == Kind::Negotiate).count(),
            6,
            "{first:?}"
        );
        // No two sessions in a row: spread, not grouped.
        assert!(first
            .windows(2)
            .all(|w| w != [Kind::Session, Kind::Session]));
        assert_eq!(s.name, "mixed(negotiate=3,session=1)");
        assert!(Scenario::mixed(&[(Kind::Plain, 0)], None).is_err());
        assert!(Scenario::single(Kind::SamlSso, "saml-sso", None).is_err());
    }

    #[test]
    fn jar_keeps_name_value_and_forgets_on_401() {
        let mut jar = CookieJar::default();
        let mut h = http::HeaderMap::new();
        h.append(
            http::header::SET_COOKIE,
            HeaderValue::from_static("iwagw_session=abc; Path=/; HttpOnly; Secure"),
        );
        h.append(http::header::SET_COOKIE, HeaderValue::from_static("b=2"));
        jar.update(200, &h);
        assert_eq!(
            jar.header().map(|v| v.as_bytes()),
            Some(&b"iwagw_session=abc; b=2"[..])
        );
        assert_eq!(auth_for(Kind::Session, &jar), Auth::Cookie);
        jar.update(200, &http::HeaderMap::new());
        assert!(
            jar.header().is_some(),
            "a response without Set-Cookie keeps it"
        );
        jar.update(401, &http::HeaderMap::new());
        assert!(jar.header().is_none());
        assert_eq!(auth_for(Kind::Session, &jar), Auth::Negotiate);
    }

    #[test]
    fn saml_request_is_a_deflated_authn_request() {
        let sp = SamlSp {
            issuer: "urn:sp:bench".into(),
            acs: Some("https://sp.example/acs".into()),
        };
        let s = Scenario::single(Kind::SamlSso, "saml-sso", Some(sp)).expect("scenario");
        let p = s.saml_path("/saml/sso", "https://gw.example/saml/sso", 1_700_000_000);
        let q = p.strip_prefix("/saml/sso?SAMLRequest=").expect("query");
        let (req, relay) = q.split_once('&').expect("relay state");
        assert_eq!(relay, "RelayState=iwa-bench");
        let b64 = req
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        let raw = STANDARD.decode(b64).expect("base64");
        let mut xml = String::new();
        std::io::Read::read_to_string(&mut flate2::read::DeflateDecoder::new(&raw[..]), &mut xml)
            .expect("inflate");
        assert!(
            xml.contains("<saml:Issuer>urn:sp:bench</saml:Issuer>"),
            "{xml}"
        );
        assert!(xml.contains("AssertionConsumerServiceURL=\"https://sp.example/acs\""));
        assert!(
            xml.contains("IssueInstant=\"2023-11-14T22:13:20Z\""),
            "{xml}"
        );
        // Each request has its own ID.
        assert_ne!(
            p,
            s.saml_path("/saml/sso", "https://gw.example/saml/sso", 1_700_000_000)
        );
    }
}
