//! The session cookie: after one successful Negotiate, later requests carry a sealed cookie
//! instead of a new Kerberos token.
//!
//! ```text
//! cookie value = "v2." base64url( key_id(4) | nonce(24) | XChaCha20-Poly1305(key, nonce,
//!                plaintext, aad = cookie name) )
//! plaintext    = issued_at(i64 BE) | expires_at(i64 BE) | auth_time(i64 BE) | method(u8)
//!                | principal (UTF-8)
//! method       = 1 Kerberos, 2 the SAML password form
//! ```
//!
//! A session from the password form signs the user in to SAML service providers only (their
//! assertions say `PasswordProtectedTransport`); proxied routes keep asking for Kerberos. (v1
//! cookies, without the method, are not read: their users sign in again, silently.)
//!
//! ```text
//! ```
//!
//! XChaCha20's 192-bit nonces are drawn at random, which is safe at any issuance rate. The
//! key id (the first 4 octets of SHA-256 over a label and the key) picks the key from the ring,
//! so a new key can be deployed everywhere as a second key before it becomes the first: the
//! first key seals, every key opens. A cookie that is tampered with, expired, or sealed with a
//! key no longer in the ring is simply not a session.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chacha20poly1305::aead::{Aead as _, KeyInit as _, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Cookie format version prefix.
const PREFIX: &str = "v2.";
const KEY_ID_LEN: usize = 4;
const NONCE_LEN: usize = 24;
const HEADER_LEN: usize = 3 * 8 + 1;
/// Longest cookie value we try to open; a real one is far below it.
const MAX_COOKIE_LEN: usize = 4096;

/// A 256-bit session key. `Debug` never shows it.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey([redacted])")
    }
}

impl SessionKey {
    /// Reads a key file: 32 random octets in base64 (`openssl rand -base64 32`).
    pub fn from_file_contents(contents: &[u8]) -> Result<Self, &'static str> {
        let text =
            std::str::from_utf8(contents).map_err(|_| "not text: expected 32 octets in base64")?;
        let mut raw = STANDARD
            .decode(text.trim())
            .map_err(|_| "not base64: expected 32 octets in base64")?;
        let key: Result<[u8; 32], _> = raw.as_slice().try_into();
        raw.zeroize();
        key.map(Self)
            .map_err(|_| "wrong length: expected 32 octets in base64 (openssl rand -base64 32)")
    }

    /// A fresh random key.
    pub fn random() -> Self {
        let mut k = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut k);
        Self(k)
    }

    fn id(&self) -> [u8; KEY_ID_LEN] {
        let digest = Sha256::new()
            .chain_update(b"iwa-gateway session key id\0")
            .chain_update(self.0)
            .finalize();
        let mut id = [0u8; KEY_ID_LEN];
        id.copy_from_slice(&digest[..KEY_ID_LEN]);
        id
    }
}

/// What a session cookie says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The principal, `alice@CORP.TEST`.
    pub principal: String,
    /// When the cookie was issued (Unix seconds).
    pub issued_at: i64,
    /// When it stops being valid (Unix seconds).
    pub expires_at: i64,
    /// When the user authenticated to the KDC (Unix seconds).
    pub auth_time: i64,
    /// How.
    pub method: SignInMethod,
}

/// How a session's user signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignInMethod {
    /// A Kerberos ticket (Negotiate).
    Kerberos,
    /// The SAML password form.
    Password,
}

impl SignInMethod {
    fn to_byte(self) -> u8 {
        match self {
            Self::Kerberos => 1,
            Self::Password => 2,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Kerberos),
            2 => Some(Self::Password),
            _ => None,
        }
    }
}

/// Why a cookie was not accepted (for the metric label; the user just gets Negotiate again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookieRejection {
    /// Not our format or not base64.
    Malformed,
    /// Sealed with a key that is not in the ring.
    UnknownKey,
    /// The AEAD tag does not verify: tampered or forged.
    Tampered,
    /// Past its expiry.
    Expired,
}

impl CookieRejection {
    /// A static label.
    pub fn reason(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::UnknownKey => "unknown_key",
            Self::Tampered => "tampered",
            Self::Expired => "expired",
        }
    }
}

struct RingKey {
    id: [u8; KEY_ID_LEN],
    aead: XChaCha20Poly1305,
}

/// The keys in use: the first seals, all open.
pub struct KeyRing {
    keys: Vec<RingKey>,
    cookie_name: String,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("keys", &self.keys.len())
            .field("cookie_name", &self.cookie_name)
            .finish()
    }
}

impl KeyRing {
    /// A ring over `keys`; an empty list gets one random key (cookies then do not survive a
    /// restart and are not shared between instances).
    pub fn new(keys: &[SessionKey], cookie_name: &str) -> Self {
        let random;
        let keys = if keys.is_empty() {
            random = [SessionKey::random()];
            &random[..]
        } else {
            keys
        };
        let keys = keys
            .iter()
            .map(|k| RingKey {
                id: k.id(),
                aead: XChaCha20Poly1305::new(&k.0.into()),
            })
            .collect();
        Self {
            keys,
            cookie_name: cookie_name.to_owned(),
        }
    }

    /// The cookie name.
    pub fn cookie_name(&self) -> &str {
        &self.cookie_name
    }

    /// Seals `session` into a cookie value.
    pub fn seal(&self, session: &Session) -> String {
        let mut plain = Vec::with_capacity(HEADER_LEN + session.principal.len());
        plain.extend_from_slice(&session.issued_at.to_be_bytes());
        plain.extend_from_slice(&session.expires_at.to_be_bytes());
        plain.extend_from_slice(&session.auth_time.to_be_bytes());
        plain.push(session.method.to_byte());
        plain.extend_from_slice(session.principal.as_bytes());
        self.seal_bytes(self.cookie_name.as_bytes(), &plain)
    }

    /// Seals `plain` for `purpose` (the AEAD's associated data: a value sealed for one purpose
    /// does not open for another; the session cookie's is its name).
    pub fn seal_bytes(&self, purpose: &[u8], plain: &[u8]) -> String {
        let Some(key) = self.keys.first() else {
            return String::new();
        };
        let mut nonce = [0u8; NONCE_LEN];
        rand::thread_rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain,
            aad: purpose,
        };
        // Encryption only fails for messages over 256 GiB.
        let sealed = key
            .aead
            .encrypt(XNonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut out = Vec::with_capacity(KEY_ID_LEN + NONCE_LEN + sealed.len());
        out.extend_from_slice(&key.id);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&sealed);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(out))
    }

    /// Opens a value sealed by [`KeyRing::seal_bytes`] for `purpose`.
    pub fn open_bytes(&self, purpose: &[u8], value: &str) -> Result<Vec<u8>, CookieRejection> {
        if value.len() > MAX_COOKIE_LEN {
            return Err(CookieRejection::Malformed);
        }
        let b64 = value
            .strip_prefix(PREFIX)
            .ok_or(CookieRejection::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(b64)
            .map_err(|_| CookieRejection::Malformed)?;
        let (id, rest) = raw
            .split_first_chunk::<KEY_ID_LEN>()
            .ok_or(CookieRejection::Malformed)?;
        let (nonce, sealed) = rest
            .split_first_chunk::<NONCE_LEN>()
            .ok_or(CookieRejection::Malformed)?;
        let key = self
            .keys
            .iter()
            .find(|k| &k.id == id)
            .ok_or(CookieRejection::UnknownKey)?;
        let payload = Payload {
            msg: sealed,
            aad: purpose,
        };
        key.aead
            .decrypt(XNonce::from_slice(nonce), payload)
            .map_err(|_| CookieRejection::Tampered)
    }

    /// Opens a cookie value and checks it is valid at `now`.
    pub fn open(&self, value: &str, now: i64) -> Result<Session, CookieRejection> {
        let plain = self.open_bytes(self.cookie_name.as_bytes(), value)?;
        let (issued, rest) = plain
            .split_first_chunk::<8>()
            .ok_or(CookieRejection::Malformed)?;
        let (expires, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(CookieRejection::Malformed)?;
        let (auth, rest) = rest
            .split_first_chunk::<8>()
            .ok_or(CookieRejection::Malformed)?;
        let (method, principal) = rest.split_first().ok_or(CookieRejection::Malformed)?;
        let method = SignInMethod::from_byte(*method).ok_or(CookieRejection::Malformed)?;
        let session = Session {
            principal: String::from_utf8(principal.to_vec())
                .map_err(|_| CookieRejection::Malformed)?,
            issued_at: i64::from_be_bytes(*issued),
            expires_at: i64::from_be_bytes(*expires),
            auth_time: i64::from_be_bytes(*auth),
            method,
        };
        if now >= session.expires_at {
            return Err(CookieRejection::Expired);
        }
        Ok(session)
    }

    /// The `Set-Cookie` value for a sealed session.
    pub fn set_cookie_header(&self, value: &str, max_age: i64, secure: bool) -> String {
        let secure = if secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}",
            self.cookie_name
        )
    }
}

/// Finds our cookie in the `Cookie` headers, returning its value.
pub fn find_cookie<'a>(headers: impl Iterator<Item = &'a [u8]>, name: &str) -> Option<&'a str> {
    for h in headers {
        let Ok(h) = std::str::from_utf8(h) else {
            continue;
        };
        for pair in h.split(';') {
            if let Some((k, v)) = pair.trim().split_once('=') {
                if k == name {
                    return Some(v.trim_matches('"'));
                }
            }
        }
    }
    None
}

/// Removes our cookie from a `Cookie` header value, returning what is left (None if nothing).
pub fn strip_cookie(header: &str, name: &str) -> Option<String> {
    let rest: Vec<&str> = header
        .split(';')
        .map(str::trim)
        .filter(|p| !p.is_empty() && p.split_once('=').is_none_or(|(k, _)| k != name))
        .collect();
    (!rest.is_empty()).then(|| rest.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(b: u8) -> SessionKey {
        SessionKey([b; 32])
    }

    fn session() -> Session {
        Session {
            principal: "alice@CORP.TEST".into(),
            issued_at: 1000,
            expires_at: 2000,
            auth_time: 900,
            method: SignInMethod::Kerberos,
        }
    }

    #[test]
    fn seals_and_opens() {
        let ring = KeyRing::new(&[key(1)], "iwagw_session");
        let v = ring.seal(&session());
        assert!(v.starts_with("v2."));
        let password = Session {
            method: SignInMethod::Password,
            ..session()
        };
        assert_eq!(ring.open(&ring.seal(&password), 1500), Ok(password));
        assert_eq!(ring.open(&v, 1500), Ok(session()));
        // Two seals of the same session differ (random nonce).
        assert_ne!(ring.seal(&session()), v);
    }

    #[test]
    fn rejects_expired_tampered_and_foreign_cookies() {
        let ring = KeyRing::new(&[key(1)], "iwagw_session");
        let v = ring.seal(&session());
        assert_eq!(ring.open(&v, 2000), Err(CookieRejection::Expired));

        let mut raw = URL_SAFE_NO_PAD.decode(&v[3..]).unwrap();
        let last = raw.len() - 1;
        raw[last] ^= 1;
        let tampered = format!("v2.{}", URL_SAFE_NO_PAD.encode(&raw));
        assert_eq!(ring.open(&tampered, 1500), Err(CookieRejection::Tampered));

        let other = KeyRing::new(&[key(2)], "iwagw_session");
        assert_eq!(other.open(&v, 1500), Err(CookieRejection::UnknownKey));
        // The cookie name is authenticated: a cookie moved to another name does not open.
        let renamed = KeyRing::new(&[key(1)], "other");
        assert_eq!(renamed.open(&v, 1500), Err(CookieRejection::Tampered));

        for bad in [
            "",
            "v2.",
            "v3.AAAA",
            "v2.!!!!",
            "v2.AAAAAAAA",
            "v1.AAAAAAAA",
        ] {
            assert_eq!(
                ring.open(bad, 1500),
                Err(CookieRejection::Malformed),
                "{bad}"
            );
        }
        assert_eq!(
            ring.open(&"v".repeat(5000), 1500),
            Err(CookieRejection::Malformed)
        );
    }

    #[test]
    fn key_rotation_keeps_old_cookies_working() {
        let old = KeyRing::new(&[key(1)], "s");
        let cookie = old.seal(&session());
        // Step 1: the new key is added second everywhere; step 2: it becomes first.
        let rotated = KeyRing::new(&[key(2), key(1)], "s");
        assert_eq!(rotated.open(&cookie, 1500), Ok(session()));
        let new_cookie = rotated.seal(&session());
        assert_eq!(
            KeyRing::new(&[key(2)], "s").open(&new_cookie, 1500),
            Ok(session())
        );
        // Step 3: the old key is retired; its cookies end.
        assert_eq!(
            KeyRing::new(&[key(2)], "s").open(&cookie, 1500),
            Err(CookieRejection::UnknownKey)
        );
    }

    #[test]
    fn key_files_are_base64() {
        let k = SessionKey::from_file_contents(b"AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n")
            .unwrap();
        assert_eq!(k.0, [1; 32]);
        assert_eq!(format!("{k:?}"), "SessionKey([redacted])");
        assert!(SessionKey::from_file_contents(b"AQID")
            .unwrap_err()
            .starts_with("wrong length"));
        assert!(SessionKey::from_file_contents(b"%%%")
            .unwrap_err()
            .starts_with("not base64"));
    }

    #[test]
    fn finds_and_strips_the_cookie() {
        let headers: Vec<&[u8]> = vec![b"a=1; iwagw_session=v1.xyz; b=2"];
        assert_eq!(
            find_cookie(headers.into_iter(), "iwagw_session"),
            Some("v1.xyz")
        );
        assert_eq!(
            strip_cookie("a=1; iwagw_session=v1.xyz; b=2", "iwagw_session").as_deref(),
            Some("a=1; b=2")
        );
        assert_eq!(strip_cookie("iwagw_session=v1.xyz", "iwagw_session"), None);
    }

    #[test]
    fn set_cookie_attributes() {
        let ring = KeyRing::new(&[key(1)], "s");
        assert_eq!(
            ring.set_cookie_header("v", 60, true),
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure"
        );
        assert_eq!(
            ring.set_cookie_header("v", 60, false),
            "s=v; Path=/; Max-Age=60; HttpOnly; SameSite=Lax"
        );
    }
}
