//! Who the signed-in user is, for the upstream: the principal, the groups (from AD's
//! `tokenGroups`, or the ticket's PAC when AD cannot be asked), the SID and the configured AD
//! attributes; and the headers that carry them.
//!
//! - [`headers`]: the identity as header values, filtered and safely encoded (pure).
//! - `resolve`: the identity of a principal from the PAC and the directory, under the
//!   degraded-mode policy (server only).
//! - `observer`: the directory's measurements into Prometheus (server only).
//! - `health`: DC discovery and health checks in the background (server only).

pub mod headers;
#[cfg(feature = "server")]
pub mod health;
#[cfg(feature = "server")]
pub mod observer;
#[cfg(feature = "server")]
pub mod resolve;

/// A group of the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRef {
    /// Its `sAMAccountName`, when known (from AD, or AD's cached answer).
    pub name: Option<String>,
    /// Its SID (`S-1-5-21-…`).
    pub sid: String,
}

/// Where the groups and attributes come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// AD answered (now, or within the cache's TTL or stale window).
    Directory,
    /// AD's last known answer, served because no DC answers.
    DirectoryDegraded,
    /// Only the ticket's PAC: no directory is configured, or AD does not know the account.
    Pac,
    /// Only the ticket's PAC, because no DC answers and nothing is cached
    /// (`directory.degraded = "allow-with-pac"`).
    PacDegraded,
    /// Neither: no directory and no PAC (a non-AD KDC).
    PrincipalOnly,
}

impl Source {
    /// A static label for logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::DirectoryDegraded => "directory_degraded",
            Self::Pac => "pac",
            Self::PacDegraded => "pac_degraded",
            Self::PrincipalOnly => "principal",
        }
    }

    /// Whether the identity is served without a working directory.
    pub fn is_degraded(self) -> bool {
        matches!(self, Self::DirectoryDegraded | Self::PacDegraded)
    }
}

/// The identity sent to the upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIdentity {
    /// `alice@CORP.TEST`.
    pub principal: String,
    /// The user's SID.
    pub sid: Option<String>,
    /// The groups, in the order AD (or the PAC) lists them.
    pub groups: Vec<GroupRef>,
    /// Configured AD attributes that are set: (attribute, values as text).
    pub attributes: Vec<(String, Vec<String>)>,
    /// The `userPrincipalName` (AD's, else the PAC's).
    pub upn: Option<String>,
    /// The `sAMAccountName` (AD's, else the PAC's account name).
    pub account_name: Option<String>,
    /// The `objectGUID` as stored (16 octets; AD only).
    pub object_guid: Option<[u8; 16]>,
    /// Where it comes from.
    pub source: Source,
}
