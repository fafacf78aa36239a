//! Checking a user's password for the login form: find the user with the service account (on
//! the pooled connection), then a simple bind as the user's DN on a new TLS connection to the
//! same DC, failing over across DCs like every lookup. The password goes to the DC and nowhere
//! else: it is not logged, cached or kept.
//!
//! AD says why a bind failed in the diagnostic message of `invalidCredentials` (49):
//! `…, data 52e, …` ([MS-ADTS] §3.1.1.3.1.8, the Win32 error codes of `LogonUser`).

use std::time::Instant;

use super::error::DirectoryError;
use super::search::OpContext;
use super::user::{Identity, UserKey};
use super::Directory;
use crate::net::dc::DcEndpoint;

/// What the DC says about a user name and password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordVerdict {
    /// The password is right: the user, as AD sees them.
    Valid(Box<Identity>),
    /// No such user under the base DN.
    NoSuchUser,
    /// Wrong password (`52e`).
    Wrong,
    /// The account is locked out by AD (`775`).
    Locked,
    /// The account is disabled (`533`, or `userAccountControl`).
    Disabled,
    /// The password expired (`532`) or must be changed at next logon (`773`).
    PasswordExpired,
    /// The account expired (`701`).
    AccountExpired,
    /// Outside the allowed logon hours or workstations (`530`, `531`).
    Restricted,
}

impl PasswordVerdict {
    /// A static label for logs and metrics.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Valid(_) => "valid",
            Self::NoSuchUser => "no_such_user",
            Self::Wrong => "wrong_password",
            Self::Locked => "locked_in_ad",
            Self::Disabled => "disabled",
            Self::PasswordExpired => "password_expired",
            Self::AccountExpired => "account_expired",
            Self::Restricted => "restricted",
        }
    }
}

/// The verdict of an `invalidCredentials` bind from AD's diagnostic message.
pub(crate) fn verdict_of(diagnostic: &str) -> PasswordVerdict {
    let code = diagnostic
        .split(", ")
        .find_map(|part| part.trim().strip_prefix("data "))
        .map(|c| c.trim().to_ascii_lowercase());
    match code.as_deref() {
        Some("775") => PasswordVerdict::Locked,
        Some("533") => PasswordVerdict::Disabled,
        Some("532" | "773") => PasswordVerdict::PasswordExpired,
        Some("701") => PasswordVerdict::AccountExpired,
        Some("530" | "531") => PasswordVerdict::Restricted,
        Some("525") => PasswordVerdict::NoSuchUser,
        _ => PasswordVerdict::Wrong,
    }
}

impl Directory {
    /// Checks `password` for the user `key`, on a healthy DC (failing over within the request
    /// budget). An empty password is `Wrong` without asking AD: an LDAP simple bind with an
    /// empty password is an unauthenticated bind, which succeeds.
    pub async fn check_password(
        &self,
        key: &UserKey,
        password: &str,
    ) -> Result<PasswordVerdict, DirectoryError> {
        if password.is_empty() {
            return Ok(PasswordVerdict::Wrong);
        }
        self.with_password_failover(key, password).await
    }

    /// One attempt on one DC: the lookup on the pooled connection `ldap`, then the user's bind
    /// on a connection of its own, closed at once.
    pub(crate) async fn password_on(
        &self,
        ldap: &mut ldap3::Ldap,
        ctx: OpContext<'_>,
        dc: &DcEndpoint,
        key: &UserKey,
        password: &str,
        deadline: Instant,
    ) -> Result<PasswordVerdict, DirectoryError> {
        let Some(identity) = self.fetch_on(ldap, ctx, key).await? else {
            return Ok(PasswordVerdict::NoSuchUser);
        };
        if identity.disabled {
            return Ok(PasswordVerdict::Disabled);
        }
        let connector = self.connector();
        let mut user_conn = connector.connect(dc, deadline).await?;
        let result = connector
            .bind(&mut user_conn, dc, &identity.dn, password, deadline)
            .await;
        let _ = user_conn.unbind().await;
        let result = result?;
        Ok(match result.rc {
            0 => PasswordVerdict::Valid(Box::new(identity)),
            49 => verdict_of(&result.text),
            code => {
                return Err(DirectoryError::Server {
                    dc: dc.label(),
                    op: super::error::Operation::Connect,
                    code,
                })
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ad_diagnostics() {
        let msg = |code| {
            format!("80090308: LdapErr: DSID-0C09044E, comment: AcceptSecurityContext error, data {code}, v4563")
        };
        assert_eq!(verdict_of(&msg("52e")), PasswordVerdict::Wrong);
        assert_eq!(verdict_of(&msg("775")), PasswordVerdict::Locked);
        assert_eq!(verdict_of(&msg("533")), PasswordVerdict::Disabled);
        assert_eq!(verdict_of(&msg("532")), PasswordVerdict::PasswordExpired);
        assert_eq!(verdict_of(&msg("773")), PasswordVerdict::PasswordExpired);
        assert_eq!(verdict_of(&msg("701")), PasswordVerdict::AccountExpired);
        assert_eq!(verdict_of(&msg("530")), PasswordVerdict::Restricted);
        assert_eq!(verdict_of(&msg("525")), PasswordVerdict::NoSuchUser);
        // Samba's own text, and anything unknown: a wrong password.
        assert_eq!(verdict_of("80090308: LdapErr: DSID-0C09041C, comment: AcceptSecurityContext error, data 52e, v1db1"), PasswordVerdict::Wrong);
        assert_eq!(verdict_of(""), PasswordVerdict::Wrong);
    }
}
