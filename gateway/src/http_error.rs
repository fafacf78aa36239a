//! The one place where a refusal becomes an HTTP status, headers and body.
//!
//! Clients only ever see a generic 401 with a fresh `WWW-Authenticate: Negotiate` (RFC 4559 §5):
//! the reason goes to the log and the metrics, never to the client, so a probe learns nothing
//! about our keys, SPNs or clock.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_LENGTH, CONTENT_TYPE, WWW_AUTHENTICATE};
use pingora::http::ResponseHeader;

use crate::negotiate::CHALLENGE;

/// Why a request is answered by the gateway itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No credentials, or credentials that failed: 401 with a fresh challenge.
    Challenge,
    /// The `Authorization` header is larger than allowed: 431.
    HeaderTooLarge,
    /// No route for the path: 404.
    NotFound,
    /// A path we will not route (encoded separators): 400.
    BadRequest,
    /// A signed-in user AD refuses (a disabled account): 403.
    Forbidden,
    /// No domain controller answers and the policy needs one: 503.
    Unavailable,
}

const TOO_LARGE_BODY: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Request header too large</title></head><body><h1>Request header too large</h1>\
<p>Your sign-in token is larger than this gateway accepts. Your account may be a member of very \
many groups; ask your administrator.</p></body></html>\n";

const BAD_REQUEST_BODY: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Bad request</title></head><body><h1>Bad request</h1></body></html>\n";

const FORBIDDEN_BODY: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Access denied</title></head><body><h1>Access denied</h1>\
<p>Your account is disabled in the company directory. Contact your administrator.</p>\
</body></html>\n";

const UNAVAILABLE_BODY: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Sign-in unavailable</title></head><body><h1>Sign-in temporarily unavailable</h1>\
<p>The company directory cannot be reached. Try again in a minute.</p></body></html>\n";

const NOT_FOUND_BODY: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Not found</title></head><body><h1>Not found</h1></body></html>\n";

/// Builds the response for a refusal.
pub fn response(
    refusal: &Refusal,
    challenge_body: &Bytes,
) -> pingora::Result<(ResponseHeader, Bytes)> {
    let (status, body) = match refusal {
        Refusal::Challenge => (401, challenge_body.clone()),
        Refusal::HeaderTooLarge => (431, Bytes::from_static(TOO_LARGE_BODY.as_bytes())),
        Refusal::NotFound => (404, Bytes::from_static(NOT_FOUND_BODY.as_bytes())),
        Refusal::Forbidden => (403, Bytes::from_static(FORBIDDEN_BODY.as_bytes())),
        Refusal::Unavailable => (503, Bytes::from_static(UNAVAILABLE_BODY.as_bytes())),
        Refusal::BadRequest => (400, Bytes::from_static(BAD_REQUEST_BODY.as_bytes())),
    };
    let mut h = ResponseHeader::build(status, Some(5))?;
    if *refusal == Refusal::Challenge {
        h.insert_header(WWW_AUTHENTICATE, CHALLENGE)?;
    }
    if *refusal == Refusal::Unavailable {
        h.insert_header(http::header::RETRY_AFTER, "30")?;
    }
    h.insert_header(CONTENT_TYPE, "text/html; charset=utf-8")?;
    h.insert_header(CONTENT_LENGTH, body.len().to_string())?;
    h.insert_header(CACHE_CONTROL, "no-store")?;
    Ok((h, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenge_is_a_401_with_negotiate() {
        let body = Bytes::from_static(b"<p>x</p>");
        let (h, b) = response(&Refusal::Challenge, &body).unwrap();
        assert_eq!(h.status.as_u16(), 401);
        assert_eq!(h.headers.get(WWW_AUTHENTICATE).unwrap(), "Negotiate");
        assert_eq!(h.headers.get(CONTENT_LENGTH).unwrap(), "8");
        assert_eq!(b, body);
        let (h, _) = response(&Refusal::HeaderTooLarge, &body).unwrap();
        assert_eq!(h.status.as_u16(), 431);
        assert!(h.headers.get(WWW_AUTHENTICATE).is_none());
    }
}
