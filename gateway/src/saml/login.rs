//! The password form's state: the SAML request it answers, sealed into the form (nothing is
//! kept on the server between showing the form and its submission), bound to a random nonce
//! that also goes into a `SameSite=Strict` cookie, so a form posted from another site (login
//! CSRF) or replayed from another browser is refused. And the user names people type.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kdc_bridge::net::ldap::UserKey;
use serde::{Deserialize, Serialize};

use super::request::SsoRequest;
use crate::session::KeyRing;

/// The AEAD purpose of the sealed state (never a valid cookie name: it has a NUL).
const PURPOSE: &[u8] = b"iwa-gateway login form state\0";
/// The nonce cookie.
pub const NONCE_COOKIE: &str = "iwagw_login";
/// Longest user name accepted.
pub const MAX_USER_NAME: usize = 256;
/// Longest password accepted (AD's limit is 256 UTF-16 units).
pub const MAX_PASSWORD: usize = 1024;

/// What the form carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginState {
    /// The SAML request being answered.
    pub sso: SsoRequest,
    /// Matches the nonce cookie.
    pub nonce: String,
    /// Unix seconds after which the form is stale.
    pub expires: i64,
}

/// Why a submitted form is not even checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StateError {
    /// Tampered, sealed with an unknown key, or not ours.
    Invalid,
    /// Older than the form lifetime.
    Expired,
    /// The nonce cookie is missing or another one.
    CookieMismatch,
}

impl StateError {
    /// A static label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Invalid => "invalid_state",
            Self::Expired => "expired_form",
            Self::CookieMismatch => "csrf",
        }
    }
}

/// A new state for `sso`, valid `lifetime` seconds: (sealed form value, nonce for the cookie).
pub fn seal(ring: &KeyRing, sso: SsoRequest, now: i64, lifetime: i64) -> (String, String) {
    let nonce = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 18]>());
    let state = LoginState {
        sso,
        nonce: nonce.clone(),
        expires: now + lifetime,
    };
    let json = serde_json::to_vec(&state).unwrap_or_default();
    (ring.seal_bytes(PURPOSE, &json), nonce)
}

/// Opens a submitted state and checks it against the nonce cookie.
pub fn open(
    ring: &KeyRing,
    sealed: &str,
    cookie: Option<&str>,
    now: i64,
) -> Result<LoginState, StateError> {
    let json = ring
        .open_bytes(PURPOSE, sealed)
        .map_err(|_| StateError::Invalid)?;
    let state: LoginState = serde_json::from_slice(&json).map_err(|_| StateError::Invalid)?;
    if now > state.expires {
        return Err(StateError::Expired);
    }
    let same = cookie.is_some_and(|c| {
        c.len() == state.nonce.len()
            && subtle::ConstantTimeEq::ct_eq(c.as_bytes(), state.nonce.as_bytes()).into()
    });
    if !same {
        return Err(StateError::CookieMismatch);
    }
    Ok(state)
}

/// The `Set-Cookie` of the nonce (only `/saml/` sees it; the form's lifetime).
pub fn nonce_cookie(nonce: &str, lifetime: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{NONCE_COOKIE}={nonce}; Path=/saml/; Max-Age={lifetime}; HttpOnly; SameSite=Strict{secure}")
}

/// A typed user name: `alice@corp.example` (UPN), `CORP\alice` or `alice` (sAMAccountName).
/// `None` when empty, too long or with control characters.
pub fn user_key(typed: &str) -> Option<UserKey> {
    let name = typed.trim();
    if name.is_empty() || name.len() > MAX_USER_NAME || name.chars().any(char::is_control) {
        return None;
    }
    if let Some((_, user)) = name.rsplit_once('\\') {
        return UserKey::sam_account_name(user).ok();
    }
    if name.contains('@') {
        return UserKey::upn(name).ok();
    }
    UserKey::sam_account_name(name).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::SessionKey;

    fn sso() -> SsoRequest {
        SsoRequest {
            sp: "https://sp".into(),
            request_id: Some("_r".into()),
            acs_url: "https://sp/acs".into(),
            relay_state: Some("rs".into()),
            force_authn: false,
            is_passive: false,
            signed: true,
        }
    }

    #[test]
    fn state_round_trips_only_with_its_cookie_and_in_time() {
        let ring = KeyRing::new(&[SessionKey::random()], "iwagw_session");
        let (sealed, nonce) = seal(&ring, sso(), 1000, 900);
        let state = open(&ring, &sealed, Some(&nonce), 1500).unwrap();
        assert_eq!(state.sso, sso());
        assert_eq!(
            open(&ring, &sealed, None, 1500),
            Err(StateError::CookieMismatch)
        );
        assert_eq!(
            open(&ring, &sealed, Some("other"), 1500),
            Err(StateError::CookieMismatch)
        );
        assert_eq!(
            open(&ring, &sealed, Some(&nonce), 1901),
            Err(StateError::Expired)
        );
        let mut tampered = sealed.clone();
        tampered.push('A');
        assert_eq!(
            open(&ring, &tampered, Some(&nonce), 1500),
            Err(StateError::Invalid)
        );
        // A session cookie is not a form state, and the reverse.
        let other = KeyRing::new(&[SessionKey::random()], "iwagw_session");
        assert_eq!(
            open(&other, &sealed, Some(&nonce), 1500),
            Err(StateError::Invalid)
        );
        assert!(ring.open(&sealed, 1500).is_err());
    }

    #[test]
    fn typed_user_names() {
        assert_eq!(user_key("alice").unwrap().name(), "alice");
        assert_eq!(user_key(" CORP\\alice ").unwrap().name(), "alice");
        assert!(matches!(user_key("alice@corp.test"), Some(UserKey::Upn(_))));
        assert!(user_key("").is_none());
        assert!(user_key("   ").is_none());
        assert!(user_key("al\nice").is_none());
        assert!(user_key(&"a".repeat(300)).is_none());
    }
}
