//! Kerberos principal names (RFC 4120 §6.2) in their owned, printable form.

use std::fmt;

/// `KRB_NT_PRINCIPAL`: a user or a service without a host.
pub const NT_PRINCIPAL: i32 = 1;
/// `KRB_NT_SRV_INST`: service and other unique instance (`krbtgt`).
pub const NT_SRV_INST: i32 = 2;
/// `KRB_NT_SRV_HST`: a service with a host name as instance (`HTTP/host`).
pub const NT_SRV_HST: i32 = 3;
/// `KRB_NT_ENTERPRISE`: an enterprise name (`user@upn.suffix`) as one component (RFC 6806).
pub const NT_ENTERPRISE: i32 = 10;

/// The most components a name may have. RFC 4120 sets no limit; real names have one or two,
/// cross-realm `krbtgt` three, and the bound keeps a hostile ticket from allocating freely.
pub const MAX_COMPONENTS: usize = 8;

/// A principal: name components plus a realm, e.g. `HTTP/gw.corp.test@CORP.TEST`.
///
/// Equality is exact. [`Principal::matches`] is the comparison the acceptor uses: Active
/// Directory treats SPNs, user names and realms case-insensitively, and so do we (MIT compares
/// case-sensitively, which breaks when a browser asks for `HTTP/GW.corp.test`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Principal {
    name_type: i32,
    components: Vec<String>,
    realm: String,
}

/// Why a principal string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PrincipalError {
    /// No `@REALM` part.
    #[error("principal `{0}` has no realm (expected name@REALM)")]
    MissingRealm(String),
    /// An empty component or realm, or a trailing backslash.
    #[error("principal `{0}` has an empty component or a dangling escape")]
    Empty(String),
    /// More than [`MAX_COMPONENTS`] components.
    #[error("principal `{0}` has too many components")]
    TooManyComponents(String),
}

impl Principal {
    /// Builds a principal from its parts.
    pub fn new(name_type: i32, components: Vec<String>, realm: String) -> Self {
        Self {
            name_type,
            components,
            realm,
        }
    }

    /// Parses the usual text form `comp1/comp2@REALM`, where `\` escapes `/`, `@` and `\`.
    /// A name with two components gets `NT_SRV_HST`, one component `NT_PRINCIPAL`.
    pub fn parse(s: &str) -> Result<Self, PrincipalError> {
        let mut components = Vec::new();
        let mut current = String::new();
        let mut realm = None;
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some(e) => current.push(e),
                    None => return Err(PrincipalError::Empty(s.to_owned())),
                },
                '/' if realm.is_none() => components.push(std::mem::take(&mut current)),
                '@' if realm.is_none() => {
                    components.push(std::mem::take(&mut current));
                    realm = Some(String::new());
                }
                c => current.push(c),
            }
            if components.len() > MAX_COMPONENTS {
                return Err(PrincipalError::TooManyComponents(s.to_owned()));
            }
        }
        let Some(_) = realm else {
            return Err(PrincipalError::MissingRealm(s.to_owned()));
        };
        if current.is_empty() || components.iter().any(String::is_empty) {
            return Err(PrincipalError::Empty(s.to_owned()));
        }
        let name_type = if components.len() == 2 {
            NT_SRV_HST
        } else {
            NT_PRINCIPAL
        };
        Ok(Self {
            name_type,
            components,
            realm: current,
        })
    }

    /// The name type from the wire (informational: comparisons ignore it, as MIT does).
    pub fn name_type(&self) -> i32 {
        self.name_type
    }

    /// The name components, e.g. `["HTTP", "gw.corp.test"]`.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// The realm, e.g. `CORP.TEST`.
    pub fn realm(&self) -> &str {
        &self.realm
    }

    /// Whether `other` names the same principal, ignoring ASCII case and the name type.
    pub fn matches(&self, other: &Self) -> bool {
        self.realm.eq_ignore_ascii_case(&other.realm) && self.name_matches(&other.components)
    }

    /// Whether the components equal `components`, ignoring ASCII case.
    pub fn name_matches<S: AsRef<str>>(&self, components: &[S]) -> bool {
        self.components.len() == components.len()
            && self
                .components
                .iter()
                .zip(components)
                .all(|(a, b)| a.eq_ignore_ascii_case(b.as_ref()))
    }
}

fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    for c in s.chars() {
        if matches!(c, '/' | '@' | '\\') {
            f.write_str("\\")?;
        }
        fmt::Write::write_char(f, c)?;
    }
    Ok(())
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, c) in self.components.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write_escaped(f, c)?;
        }
        f.write_str("@")?;
        write_escaped(f, &self.realm)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Principal({self})")
    }
}

impl std::str::FromStr for Principal {
    type Err = PrincipalError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        let p = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
        assert_eq!(p.components(), ["HTTP", "gw.corp.test"]);
        assert_eq!(p.realm(), "CORP.TEST");
        assert_eq!(p.name_type(), NT_SRV_HST);
        assert_eq!(p.to_string(), "HTTP/gw.corp.test@CORP.TEST");

        let odd = Principal::parse(r"a\@b\/c@R").unwrap();
        assert_eq!(odd.components(), ["a@b/c"]);
        assert_eq!(odd.to_string(), r"a\@b\/c@R");
        assert_eq!(Principal::parse(&odd.to_string()).unwrap(), odd);

        let utf8 = Principal::parse("田中@CORP.TEST").unwrap();
        assert_eq!(utf8.components(), ["田中"]);
    }

    #[test]
    fn rejects_bad_names() {
        assert!(matches!(
            Principal::parse("HTTP/gw"),
            Err(PrincipalError::MissingRealm(_))
        ));
        assert!(matches!(
            Principal::parse("HTTP//gw@R"),
            Err(PrincipalError::Empty(_))
        ));
        assert!(matches!(
            Principal::parse("alice@"),
            Err(PrincipalError::Empty(_))
        ));
        assert!(matches!(
            Principal::parse("alice\\"),
            Err(PrincipalError::Empty(_))
        ));
        assert!(matches!(
            Principal::parse("a/b/c/d/e/f/g/h/i/j@R"),
            Err(PrincipalError::TooManyComponents(_))
        ));
    }

    #[test]
    fn matching_ignores_case_and_name_type() {
        let configured = Principal::parse("HTTP/gw.corp.test@CORP.TEST").unwrap();
        let wire = Principal::new(
            NT_PRINCIPAL,
            vec!["http".into(), "GW.Corp.Test".into()],
            "corp.test".into(),
        );
        assert!(configured.matches(&wire));
        let other = Principal::parse("HTTP/other.corp.test@CORP.TEST").unwrap();
        assert!(!configured.matches(&other));
    }
}
