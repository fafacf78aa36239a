//! The token file: what `iwa-bench mint` writes and a load run reads. Text, one base64 token per
//! line after a header of `# key: value` lines (documented in bench/README.md):
//!
//! ```text
//! # iwa-bench tokens v1
//! # realm: CORP.TEST
//! # spn: HTTP/gw.corp.test@CORP.TEST
//! # source: keytab
//! # format: spnego
//! # minted: 2026-11-21T17:20:00Z
//! # valid-until: 2026-11-21T17:25:00Z
//! # count: 2
//! YIIFaQYGKwYBBQUCoIIFXTCCBVmgMDAuBgkqhkiC9xIBAgIG…
//! YIIFaQYGKwYBBQUCoIIFXTCCBVmgMDAuBgkqhkiC9xIBAgIG…
//! ```
//!
//! `valid-until` is the authenticators' time plus the acceptor's clock skew (5 minutes by
//! default): after it, every token is refused as `clock_skew`. Mint right before a run.

use std::io::{self, BufRead, Write};

use kdc_bridge::proto::krb::asn1::format_rfc3339;

const MAGIC: &str = "# iwa-bench tokens v1";

/// Where the tokens come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Built offline with the service keytab (`mint --keytab`).
    Keytab,
    /// Real tickets from a KDC (`mint --kdc`).
    Kdc,
}

/// What each line holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// SPNEGO NegTokenInit (what browsers send).
    Spnego,
    /// A raw Kerberos GSS token (what `curl --negotiate` with some libraries sends).
    Raw,
}

/// The header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The realm of the SPN.
    pub realm: String,
    /// The service principal the tokens are for.
    pub spn: String,
    /// How they were made.
    pub source: Source,
    /// SPNEGO or raw.
    pub format: Format,
    /// When (Unix seconds).
    pub minted: i64,
    /// After this, the acceptor refuses them (Unix seconds).
    pub valid_until: i64,
}

/// A token file in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenFile {
    /// The header.
    pub header: Header,
    /// The tokens, base64.
    pub tokens: Vec<String>,
}

/// Why a token file cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// I/O.
    #[error("cannot read the token file: {0}")]
    Io(#[from] io::Error),
    /// Not our format.
    #[error("not an iwa-bench token file (the first line must be `{MAGIC}`)")]
    NotATokenFile,
    /// A header line is missing or wrong.
    #[error("header `{key}`: {problem}")]
    Header {
        /// The key.
        key: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// A token line is not base64.
    #[error("line {0}: not a base64 token")]
    Token(usize),
    /// `count` and the lines disagree.
    #[error("the header says {said} tokens, the file has {found}")]
    Count {
        /// In the header.
        said: usize,
        /// Lines.
        found: usize,
    },
}

impl TokenFile {
    /// Writes the file.
    pub fn write(&self, mut out: impl Write) -> io::Result<()> {
        let h = &self.header;
        writeln!(out, "{MAGIC}")?;
        writeln!(out, "# realm: {}", h.realm)?;
        writeln!(out, "# spn: {}", h.spn)?;
        writeln!(
            out,
            "# source: {}",
            match h.source {
                Source::Keytab => "keytab",
                Source::Kdc => "kdc",
            }
        )?;
        writeln!(
            out,
            "# format: {}",
            match h.format {
                Format::Spnego => "spnego",
                Format::Raw => "raw",
            }
        )?;
        writeln!(out, "# minted: {}", format_rfc3339(h.minted))?;
        writeln!(out, "# valid-until: {}", format_rfc3339(h.valid_until))?;
        writeln!(out, "# count: {}", self.tokens.len())?;
        for t in &self.tokens {
            writeln!(out, "{t}")?;
        }
        out.flush()
    }

    /// Reads a file written by [`TokenFile::write`].
    pub fn read(input: impl BufRead) -> Result<Self, TokenFileError> {
        let mut lines = input.lines().enumerate();
        match lines.next() {
            Some((_, Ok(l))) if l.trim_end() == MAGIC => {}
            Some((_, Err(e))) => return Err(e.into()),
            _ => return Err(TokenFileError::NotATokenFile),
        }
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut tokens = Vec::new();
        for (i, line) in lines {
            let line = line?;
            let line = line.trim();
            if let Some(rest) = line.strip_prefix('#') {
                if let Some((k, v)) = rest.split_once(':') {
                    fields.push((k.trim().to_owned(), v.trim().to_owned()));
                }
                continue;
            }
            if line.is_empty() {
                continue;
            }
            let ok = line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='));
            if !ok {
                return Err(TokenFileError::Token(i + 1));
            }
            tokens.push(line.to_owned());
        }
        let field = |key: &'static str| {
            fields
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
                .ok_or(TokenFileError::Header {
                    key,
                    problem: "missing".into(),
                })
        };
        let time = |key: &'static str| -> Result<i64, TokenFileError> {
            let v = field(key)?;
            parse_rfc3339(&v).ok_or(TokenFileError::Header {
                key,
                problem: format!("`{v}` is not a time like 2026-11-21T17:20:00Z"),
            })
        };
        let source = match field("source")?.as_str() {
            "keytab" => Source::Keytab,
            "kdc" => Source::Kdc,
            other => {
                return Err(TokenFileError::Header {
                    key: "source",
                    problem: format!("`{other}` is not keytab or kdc"),
                })
            }
        };
        let format = match field("format")?.as_str() {
            "spnego" => Format::Spnego,
            "raw" => Format::Raw,
            other => {
                return Err(TokenFileError::Header {
                    key: "format",
                    problem: format!("`{other}` is not spnego or raw"),
                })
            }
        };
        let said: usize = field("count")?
            .parse()
            .map_err(|_| TokenFileError::Header {
                key: "count",
                problem: "not a number".into(),
            })?;
        if said != tokens.len() {
            return Err(TokenFileError::Count {
                said,
                found: tokens.len(),
            });
        }
        Ok(Self {
            header: Header {
                realm: field("realm")?,
                spn: field("spn")?,
                source,
                format,
                minted: time("minted")?,
                valid_until: time("valid-until")?,
            },
            tokens,
        })
    }

    /// A warning when the tokens are, or are about to be, too old for the acceptor at `now`.
    pub fn age_warning(&self, now: i64) -> Option<String> {
        let left = self.header.valid_until - now;
        if left <= 0 {
            Some(format!(
                "the tokens expired {} s ago (minted {}, valid until {}): the gateway will refuse \
                 every one as clock_skew; mint again right before the run",
                -left,
                format_rfc3339(self.header.minted),
                format_rfc3339(self.header.valid_until)
            ))
        } else if left < 60 {
            Some(format!(
                "the tokens are valid for {left} s more: a longer run will see clock_skew refusals"
            ))
        } else {
            None
        }
    }
}

/// `2026-11-21T17:20:00Z` (UTC, whole seconds: what [`format_rfc3339`] writes).
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[19] != b'Z' {
        return None;
    }
    let digits: String = [
        &s[0..4],
        &s[5..7],
        &s[8..10],
        &s[11..13],
        &s[14..16],
        &s[17..19],
    ]
    .concat();
    let generalized = format!("{digits}Z");
    kdc_bridge::proto::krb::asn1::parse_time(generalized.as_bytes()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file() -> TokenFile {
        TokenFile {
            header: Header {
                realm: "CORP.TEST".into(),
                spn: "HTTP/gw.corp.test@CORP.TEST".into(),
                source: Source::Keytab,
                format: Format::Spnego,
                minted: 1_795_259_762,
                valid_until: 1_795_260_062,
            },
            tokens: vec!["YIIB".into(), "YIIC+/=".into()],
        }
    }

    #[test]
    fn round_trips() {
        let mut out = Vec::new();
        file().write(&mut out).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.starts_with("# iwa-bench tokens v1\n# realm: CORP.TEST\n"));
        assert!(text.contains("# valid-until: 2026-11-21T11:21:02Z\n"));
        assert_eq!(TokenFile::read(out.as_slice()).unwrap(), file());
    }

    #[test]
    fn refuses_what_it_did_not_write() {
        assert!(matches!(
            TokenFile::read(&b"YIIB\n"[..]),
            Err(TokenFileError::NotATokenFile)
        ));
        let mut out = Vec::new();
        file().write(&mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let bad = text.replace("YIIB", "YI IB");
        assert!(matches!(
            TokenFile::read(bad.as_bytes()),
            Err(TokenFileError::Token(9))
        ));
        let short = text.replace("YIIB\n", "");
        assert!(matches!(
            TokenFile::read(short.as_bytes()),
            Err(TokenFileError::Count { said: 2, found: 1 })
        ));
        let no_spn = text.replace("# spn: HTTP/gw.corp.test@CORP.TEST\n", "");
        assert!(matches!(
            TokenFile::read(no_spn.as_bytes()),
            Err(TokenFileError::Header { key: "spn", .. })
        ));
    }

    #[test]
    fn says_when_tokens_are_too_old() {
        let f = file();
        assert_eq!(f.age_warning(1_795_259_800), None);
        assert!(f
            .age_warning(1_795_260_030)
            .unwrap()
            .contains("valid for 32 s more"));
        assert!(f
            .age_warning(1_795_260_100)
            .unwrap()
            .contains("expired 38 s ago"));
    }
}
