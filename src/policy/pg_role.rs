//! [`PgRole`]: a PostgreSQL role name that is a valid identifier, quoted whenever it reaches SQL.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// PostgreSQL's longest identifier: `NAMEDATALEN - 1` bytes. Longer names are silently
/// truncated by the server, so two long names could end up as the same role; we refuse them.
pub const MAX_ROLE_NAME_BYTES: usize = 63;

/// A PostgreSQL role name that is a valid identifier: 1 to 63 bytes, no NUL.
///
/// Any other character is allowed (quotes, spaces, non-ASCII), because the name only ever
/// reaches SQL through [`quoted`](Self::quoted), which makes it exactly one identifier.
///
/// ```
/// use tower_oidc::PgRole;
///
/// let role: PgRole = r#"x"; DROP TABLE t; --"#.parse()?;
/// assert_eq!(role.quoted(), r#""x""; DROP TABLE t; --""#);
/// assert_eq!(role.set_local_role(), r#"SET LOCAL ROLE "x""; DROP TABLE t; --""#);
/// assert!("".parse::<PgRole>().is_err());
/// # Ok::<(), tower_oidc::InvalidRoleName>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PgRole(Arc<str>);

/// Why a string is not a valid [`PgRole`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidRoleName {
    /// The name is empty.
    #[error("a role name cannot be empty")]
    Empty,
    /// The name is longer than [`MAX_ROLE_NAME_BYTES`].
    #[error("a role name is at most 63 bytes (this one has {0}); PostgreSQL would truncate it")]
    TooLong(usize),
    /// The name contains a NUL character.
    #[error("a role name cannot contain a NUL character")]
    Nul,
    /// The name is reserved by PostgreSQL: `none` (`SET ROLE "none"` means `SET ROLE NONE`,
    /// which would leave queries running as the login role), `public`, or a `pg_` name.
    #[error("`none`, `public` and names starting with `pg_` are reserved by PostgreSQL (`SET ROLE \"none\"` would even switch back to the login role)")]
    Reserved,
}

impl PgRole {
    /// Validates `name` as a PostgreSQL identifier.
    pub fn new(name: &str) -> Result<Self, InvalidRoleName> {
        if name.is_empty() {
            Err(InvalidRoleName::Empty)
        } else if name.len() > MAX_ROLE_NAME_BYTES {
            Err(InvalidRoleName::TooLong(name.len()))
        } else if name.contains('\0') {
            Err(InvalidRoleName::Nul)
        } else if name == "none" || name == "public" || name.starts_with("pg_") {
            Err(InvalidRoleName::Reserved)
        } else {
            Ok(Self(Arc::from(name)))
        }
    }

    /// The role's name, unquoted. Never paste this into SQL; use [`quoted`](Self::quoted).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name as a quoted identifier: wrapped in `"` with every `"` doubled (PostgreSQL
    /// documentation, 4.1.1 "Identifiers and Key Words"). Always one identifier, whatever the
    /// name holds, and case is kept as written.
    pub fn quoted(&self) -> String {
        quote_ident(&self.0)
    }

    /// `SET LOCAL ROLE "name"`: run it inside a transaction, so the role ends with the
    /// transaction and a pooled connection never carries it into the next request.
    pub fn set_local_role(&self) -> String {
        format!("SET LOCAL ROLE {}", self.quoted())
    }
}

impl FromStr for PgRole {
    type Err = InvalidRoleName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl fmt::Debug for PgRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("PgRole").field(&&*self.0).finish()
    }
}

impl fmt::Display for PgRole {
    /// The unquoted name, for people; SQL takes [`PgRole::quoted`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for PgRole {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for PgRole {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for PgRole {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = Cow::<'de, str>::deserialize(deserializer)?;
        Self::new(&name).map_err(serde::de::Error::custom)
    }
}

/// `name` as a quoted PostgreSQL identifier: wrapped in `"` with every `"` doubled.
pub(crate) fn quote_ident(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_names_are_validated_and_always_quoted() {
        for ok in [
            "app_admin",
            "with space",
            "Ümlaut-Rolle",
            r#"has"quote"#,
            "x",
        ] {
            assert_eq!(PgRole::new(ok).unwrap().as_str(), ok);
        }
        assert_eq!(PgRole::new(""), Err(InvalidRoleName::Empty));
        assert_eq!(PgRole::new("a\0b"), Err(InvalidRoleName::Nul));
        assert_eq!(
            PgRole::new(&"r".repeat(64)),
            Err(InvalidRoleName::TooLong(64))
        );
        assert!(PgRole::new(&"r".repeat(63)).is_ok());
        // `SET ROLE "none"` means `SET ROLE NONE`: back to the login role. Refused, as are the
        // other reserved names; `NONE` in capitals is an ordinary quoted name.
        for reserved in ["none", "public", "pg_read_all_data", "pg_monitor"] {
            assert_eq!(
                PgRole::new(reserved),
                Err(InvalidRoleName::Reserved),
                "{reserved}"
            );
        }
        assert!(PgRole::new("NONE").is_ok());
        // 63 bytes, not 63 characters: 32 two-byte letters are 64 bytes.
        assert_eq!(
            PgRole::new(&"é".repeat(32)),
            Err(InvalidRoleName::TooLong(64))
        );

        let evil = PgRole::new(r#"x"; DROP TABLE t; --"#).unwrap();
        assert_eq!(evil.quoted(), r#""x""; DROP TABLE t; --""#);
        assert_eq!(
            PgRole::new("with space").unwrap().quoted(),
            r#""with space""#
        );
        assert_eq!(PgRole::new("Ümlaut").unwrap().quoted(), "\"Ümlaut\"");
        assert_eq!(
            PgRole::new("Mixed").unwrap().set_local_role(),
            r#"SET LOCAL ROLE "Mixed""#
        );
        // Deserialising validates too.
        assert!(serde_json::from_str::<PgRole>("\"\"").is_err());
        assert_eq!(
            serde_json::from_str::<PgRole>("\"app\"").unwrap().as_str(),
            "app"
        );
    }
}
