//! What is done to a client request before routing: its id, its path made normal, and the
//! identity headers it must not carry.

use http::HeaderName;
use pingora::http::RequestHeader;

/// Header carrying the request id to the upstream (and from a front load balancer to us).
pub(super) const REQUEST_ID: &str = "x-request-id";

/// The request id: the one a front load balancer set, if it is short printable ASCII, so logs
/// line up across hops; otherwise 16 random hex digits.
pub(super) fn request_id(req: &RequestHeader) -> String {
    if let Some(v) = req.headers.get(REQUEST_ID) {
        let b = v.as_bytes();
        if !b.is_empty() && b.len() <= 128 && b.iter().all(|c| c.is_ascii_graphic()) {
            return String::from_utf8_lossy(b).into_owned();
        }
    }
    format!("{:016x}", rand::random::<u64>())
}

/// Whether `path` falls under `prefix`, on path-segment boundaries (`/app` covers `/app` and
/// `/app/x`, not `/application`).
pub(super) fn under_prefix(path: &str, prefix: &str) -> bool {
    match path.strip_prefix(prefix) {
        Some(rest) => {
            prefix.ends_with('/')
                || rest.is_empty()
                || rest.starts_with('/')
                || rest.starts_with('?')
        }
        None => false,
    }
}

/// Why a request path is refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathError {
    /// An encoded `/` or `\`, or a raw `\`: upstreams disagree on what they mean, so a
    /// route decision made on them could be undone upstream.
    AmbiguousSeparator,
}

/// The path that routing and the upstream both see: RFC 3986 §5.2.4 dot segments removed
/// (`%2e` counts as `.`), so `/static/../admin` is routed as `/admin`, never under `/static/`.
/// Returns `None` when the path is already normal.
pub fn normalize_path(path: &str) -> Result<Option<String>, PathError> {
    let lower = path.to_ascii_lowercase();
    if path.contains('\\') || lower.contains("%2f") || lower.contains("%5c") {
        return Err(PathError::AmbiguousSeparator);
    }
    let is_dot = |seg: &str| {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        s == "." || s == ".."
    };
    if !path.split('/').any(is_dot) {
        return Ok(None);
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').collect();
    let last = segments.len().saturating_sub(1);
    for (i, seg) in segments.iter().enumerate() {
        let s = seg.to_ascii_lowercase().replace("%2e", ".");
        match s.as_str() {
            "." => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                if out.len() > 1 {
                    out.pop();
                }
                if i == last {
                    out.push("");
                }
            }
            _ => out.push(seg),
        }
    }
    let joined = out.join("/");
    Ok(Some(if joined.starts_with('/') {
        joined
    } else {
        format!("/{joined}")
    }))
}

/// Whether an upstream may read header `name` as `identity`: the same name ignoring case and
/// `_` versus `-`, since CGI-style upstreams (PHP, WSGI, Rack) see both `X-Remote-User` and
/// `X_Remote_User` as `HTTP_X_REMOTE_USER`.
fn same_for_cgi(name: &str, identity: &str) -> bool {
    let fold = |b: u8| {
        if b == b'_' {
            b'-'
        } else {
            b.to_ascii_lowercase()
        }
    };
    name.len() == identity.len()
        && name
            .bytes()
            .zip(identity.bytes())
            .all(|(a, b)| fold(a) == fold(b))
}

/// Removes the identity headers a client sent, in every spelling an upstream may take for them.
pub(super) fn strip_identity_headers(req: &mut RequestHeader, identity: &[HeaderName]) {
    let doomed: Vec<HeaderName> = req
        .headers
        .keys()
        .filter(|n| {
            identity
                .iter()
                .any(|i| same_for_cgi(n.as_str(), i.as_str()))
        })
        .cloned()
        .collect();
    for h in &doomed {
        req.remove_header(h);
    }
}

#[cfg(test)]
mod tests {
    use super::{same_for_cgi, strip_identity_headers, under_prefix};
    use pingora::http::RequestHeader;

    #[test]
    fn dot_segments_are_removed_before_routing() {
        use super::{normalize_path, PathError};
        assert_eq!(normalize_path("/app/x"), Ok(None));
        assert_eq!(
            normalize_path("/static/../admin"),
            Ok(Some("/admin".into()))
        );
        assert_eq!(
            normalize_path("/static/%2e%2e/admin"),
            Ok(Some("/admin".into()))
        );
        assert_eq!(
            normalize_path("/static/%2E./admin/"),
            Ok(Some("/admin/".into()))
        );
        assert_eq!(normalize_path("/a/./b/."), Ok(Some("/a/b/".into())));
        assert_eq!(normalize_path("/../../etc"), Ok(Some("/etc".into())));
        assert_eq!(normalize_path("/a/.."), Ok(Some("/".into())));
        assert_eq!(normalize_path("/a..b/.c"), Ok(None));
        assert_eq!(
            normalize_path("/static%2f..%2fadmin"),
            Err(PathError::AmbiguousSeparator)
        );
        assert_eq!(
            normalize_path("/static\\..\\admin"),
            Err(PathError::AmbiguousSeparator)
        );
    }

    #[test]
    fn prefixes_match_on_segments() {
        assert!(under_prefix("/app", "/app"));
        assert!(under_prefix("/app/x", "/app"));
        assert!(!under_prefix("/application", "/app"));
        assert!(under_prefix("/application", "/"));
        assert!(under_prefix("/app/", "/app/"));
        assert!(!under_prefix("/ap", "/app"));
    }

    #[test]
    fn identity_headers_match_in_every_cgi_spelling() {
        assert!(same_for_cgi("x-remote-user", "x-remote-user"));
        assert!(same_for_cgi("x_remote_user", "x-remote-user"));
        assert!(same_for_cgi("X_Remote-USER", "x-remote-user"));
        assert!(!same_for_cgi("x-remote-users", "x-remote-user"));
        assert!(!same_for_cgi("x-remote-use", "x-remote-user"));
        assert!(!same_for_cgi("x.remote.user", "x-remote-user"));
    }

    #[test]
    fn strips_identity_headers_and_nothing_else() {
        let mut req = RequestHeader::build("GET", b"/", None).unwrap();
        for (n, v) in [
            ("X-Remote-User", "a"),
            ("x_remote_user", "b"),
            ("X_REMOTE_GROUPS", "c"),
            ("X-Other", "d"),
            ("X-Remote-User-Agent", "e"),
        ] {
            req.append_header(n, v).unwrap();
        }
        let identity = [
            http::HeaderName::from_static("x-remote-user"),
            http::HeaderName::from_static("x-remote-groups"),
        ];
        strip_identity_headers(&mut req, &identity);
        let mut left: Vec<&str> = req.headers.keys().map(|n| n.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["x-other", "x-remote-user-agent"]);
    }
}
