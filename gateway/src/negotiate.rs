//! HTTP Negotiate (RFC 4559 §4): `Authorization: Negotiate <base64 token>` in, `WWW-Authenticate:
//! Negotiate [<base64 token>]` out.

use base64::alphabet::STANDARD;
use base64::engine::general_purpose::GeneralPurpose;
use base64::engine::{DecodePaddingMode, GeneralPurposeConfig};
use base64::Engine as _;

/// Standard base64 that accepts the token with or without `=` padding (RFC 4559 says padded;
/// some clients drop it).
const B64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why an `Authorization` header carries no usable Negotiate token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// Longer than the configured limit.
    TooLarge {
        /// The header value's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Another scheme (Basic, Bearer, NTLM…).
    OtherScheme,
    /// `Negotiate` with nothing after it.
    Empty,
    /// The token is not base64.
    BadBase64,
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::TooLarge { len, max } => {
                write!(
                    f,
                    "Authorization header of {len} bytes is larger than the {max} allowed"
                )
            }
            Self::OtherScheme => {
                f.write_str("Authorization header uses another scheme than Negotiate")
            }
            Self::Empty => f.write_str("Negotiate without a token"),
            Self::BadBase64 => f.write_str("Negotiate token is not base64"),
        }
    }
}

impl HeaderError {
    /// A static label for logs and metrics.
    pub fn reason(&self) -> &'static str {
        match self {
            Self::TooLarge { .. } => "header_too_large",
            Self::OtherScheme => "other_scheme",
            Self::Empty => "empty_token",
            Self::BadBase64 => "bad_base64",
        }
    }

    /// Every label, for pre-registering metrics.
    pub const REASONS: &'static [&'static str] = &[
        "header_too_large",
        "other_scheme",
        "empty_token",
        "bad_base64",
    ];
}

/// Takes the token out of an `Authorization` header value.
pub fn extract_token(value: &[u8], max_len: usize) -> Result<Vec<u8>, HeaderError> {
    if value.len() > max_len {
        return Err(HeaderError::TooLarge {
            len: value.len(),
            max: max_len,
        });
    }
    let value = value.trim_ascii();
    let (scheme, rest) = match value.iter().position(|b| *b == b' ') {
        Some(i) => value.split_at(i),
        None => (value, &[][..]),
    };
    if !scheme.eq_ignore_ascii_case(b"Negotiate") {
        return Err(HeaderError::OtherScheme);
    }
    let token = rest.trim_ascii();
    if token.is_empty() {
        return Err(HeaderError::Empty);
    }
    let decoded = B64.decode(token).map_err(|_| HeaderError::BadBase64)?;
    if decoded.is_empty() {
        return Err(HeaderError::Empty);
    }
    Ok(decoded)
}

/// The `WWW-Authenticate` value carrying a final token (mutual authentication).
pub fn build_final_challenge(token: &[u8]) -> String {
    format!(
        "Negotiate {}",
        base64::engine::general_purpose::STANDARD.encode(token)
    )
}

/// The bare challenge.
pub const CHALLENGE: &str = "Negotiate";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extracts_tokens() {
        assert_eq!(
            extract_token(b"Negotiate YIIB", 100),
            Ok(vec![0x60, 0x82, 0x01])
        );
        assert_eq!(
            extract_token(b"negotiate   YIIB  ", 100),
            Ok(vec![0x60, 0x82, 0x01])
        );
        assert_eq!(extract_token(b"Negotiate YII=", 100), Ok(vec![0x60, 0x82]));
        assert_eq!(extract_token(b"Negotiate YII", 100), Ok(vec![0x60, 0x82]));
    }

    #[test]
    fn refuses_what_is_not_a_token() {
        assert_eq!(
            extract_token(b"Basic YWxpY2U6cHc=", 100),
            Err(HeaderError::OtherScheme)
        );
        assert_eq!(
            extract_token(b"NegotiateX YIIB", 100),
            Err(HeaderError::OtherScheme)
        );
        assert_eq!(extract_token(b"Negotiate", 100), Err(HeaderError::Empty));
        assert_eq!(extract_token(b"Negotiate   ", 100), Err(HeaderError::Empty));
        assert_eq!(
            extract_token(b"Negotiate ====", 100),
            Err(HeaderError::BadBase64)
        );
        assert_eq!(
            extract_token(b"Negotiate %%%", 100),
            Err(HeaderError::BadBase64)
        );
        assert_eq!(
            extract_token(&[b'a'; 101], 100),
            Err(HeaderError::TooLarge { len: 101, max: 100 })
        );
    }

    #[test]
    fn builds_the_final_challenge() {
        assert_eq!(build_final_challenge(&[0xa1, 0x00]), "Negotiate oQA=");
        assert_eq!(
            extract_token(build_final_challenge(&[1, 2, 3]).as_bytes(), 100),
            Ok(vec![1, 2, 3])
        );
    }
}
