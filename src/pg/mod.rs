//! Running database work as the user's [`PgRole`], and checking at startup that
//! every role of the [`RoleMap`](crate::RoleMap) can be used.
//!
//! The application connects with one LOGIN role (say `app`) that has been granted every role the
//! role map hands out. For each request it opens a transaction, runs `SET LOCAL ROLE "role"` and
//! does its queries there, so PostgreSQL's grants and row-level security decide what the user
//! sees. `SET LOCAL` ends with the transaction, so a pooled connection goes back to `app` whether
//! the transaction commits, rolls back, or is dropped half-way.
//!
//! Make the login role `NOINHERIT`, so that outside such a transaction it has none of the
//! granted roles' rights (with `INHERIT`, a query that forgot to switch would see the union of
//! every role's rows, because grants and policies also apply to a role's members):
//!
//! ```sql
//! CREATE ROLE app LOGIN NOINHERIT PASSWORD '...';
//! CREATE ROLE app_reader NOLOGIN;
//! GRANT app_reader TO app;
//! ```
//!
//! | feature          | module                           | works with                                 |
//! |------------------|----------------------------------|--------------------------------------------|
//! | `sqlx`           | `tower_oidc::pg::sqlx`           | `sqlx::PgPool` and `sqlx::PgConnection`    |
//! | `tokio-postgres` | `tower_oidc::pg::tokio_postgres` | `tokio_postgres::Client` and `Transaction` |
//!
//! Each module has the same three functions: `begin_as` (a transaction already switched to the
//! role), `with_role` (runs a closure in one, commits on `Ok`, rolls back on `Err`) and
//! `check_roles` (the startup check, which reports every role that is missing or that the login
//! role cannot switch to, with the exact SQL that fixes it, as a [`RoleCheckError`]).
//!
//! ```no_run
//! # #[cfg(feature = "sqlx")]
//! # async fn main_() -> Result<(), Box<dyn std::error::Error>> {
//! use tower_oidc::RoleMap;
//!
//! let roles = RoleMap::builder()
//!     .add_rule("readers", "app_reader")
//!     .with_default_role("app_viewer")
//!     .build()?;
//! let pool = sqlx::PgPool::connect("postgres://app@localhost/app").await?;
//! // At startup: refuse to serve with a role the app cannot switch to. The error lists every
//! // gap, one per line, each with the statement that fixes it.
//! tower_oidc::pg::sqlx::check_roles(&pool, &roles).await?;
//!
//! // In a handler: run the user's queries as their role.
//! let role = roles.default_role().expect("configured above");
//! let me: String = tower_oidc::pg::sqlx::with_role(&pool, role, async |conn| {
//!     sqlx::query_scalar("SELECT current_user::text").fetch_one(conn).await
//! })
//! .await?;
//! assert_eq!(me, "app_viewer");
//! # Ok(())
//! # }
//! ```

use std::error::Error as StdError;
use std::fmt;

use crate::PgRole;

#[cfg(feature = "sqlx")]
pub mod sqlx;
#[cfg(feature = "tokio-postgres")]
pub mod tokio_postgres;

pub(crate) use crate::policy::quote_ident;

/// Why the roles of a [`RoleMap`](crate::RoleMap) cannot all be used; returned by the
/// `check_roles` function of `pg::sqlx` and `pg::tokio_postgres`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RoleCheckError {
    /// Some roles are missing or the login role cannot switch to them. Every gap is listed,
    /// one per line, each with the SQL that closes it.
    #[error("{}", DisplayGaps(.0))]
    Gaps(Vec<RoleGap>),
    /// A query of the check itself failed (the database is unreachable, for example).
    #[error("could not check the role map's roles against the database")]
    Database(#[source] Box<dyn StdError + Send + Sync>),
}

impl RoleCheckError {
    // Used by the driver modules only.
    #[cfg_attr(
        not(any(feature = "sqlx", feature = "tokio-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn database(e: impl StdError + Send + Sync + 'static) -> Self {
        Self::Database(Box::new(e))
    }

    /// The gaps found, or an empty slice for [`Database`](Self::Database).
    pub fn gaps(&self) -> &[RoleGap] {
        match self {
            Self::Gaps(gaps) => gaps,
            Self::Database(_) => &[],
        }
    }
}

struct DisplayGaps<'a>(&'a [RoleGap]);

impl fmt::Display for DisplayGaps<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        let (count, verb) = if n == 1 {
            ("1 role".to_owned(), "is")
        } else {
            (format!("{n} roles"), "are")
        };
        write!(
            f,
            "{count} of the role map {verb} not usable; run these statements as a superuser (or a role with CREATEROLE):"
        )?;
        for gap in self.0 {
            write!(f, "\n  - {gap}")?;
        }
        Ok(())
    }
}

/// One role of the role map that the application cannot switch to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleGap {
    role: PgRole,
    login_role: String,
    kind: RoleGapKind,
}

/// What is wrong with a role; see [`RoleGap`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RoleGapKind {
    /// No role of that name exists.
    Missing,
    /// The role exists, but the login role may not `SET ROLE` to it (it is not a member, or on
    /// PostgreSQL 16 and later its membership lacks the `SET` option).
    NotGranted,
}

impl RoleGap {
    // Used by the driver modules only.
    #[cfg_attr(
        not(any(feature = "sqlx", feature = "tokio-postgres")),
        allow(dead_code)
    )]
    pub(crate) fn new(role: PgRole, login_role: String, kind: RoleGapKind) -> Self {
        Self {
            role,
            login_role,
            kind,
        }
    }

    /// The role of the role map.
    pub fn role(&self) -> &PgRole {
        &self.role
    }

    /// The role the application logged in as (`session_user`).
    pub fn login_role(&self) -> &str {
        &self.login_role
    }

    /// What is wrong.
    pub fn kind(&self) -> RoleGapKind {
        self.kind
    }

    /// The SQL that closes this gap, with every identifier quoted:
    /// `CREATE ROLE "r" NOLOGIN; GRANT "r" TO "login";` for a missing role,
    /// `GRANT "r" TO "login";` for one the login role was not granted.
    pub fn fix(&self) -> String {
        let role = self.role.quoted();
        let login = quote_ident(&self.login_role);
        match self.kind {
            RoleGapKind::Missing => format!("CREATE ROLE {role} NOLOGIN; GRANT {role} TO {login};"),
            RoleGapKind::NotGranted => format!("GRANT {role} TO {login};"),
        }
    }
}

impl fmt::Display for RoleGap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            RoleGapKind::Missing => write!(f, "role {} does not exist", self.role.quoted())?,
            RoleGapKind::NotGranted => write!(
                f,
                "login role {} cannot SET ROLE {}",
                quote_ident(&self.login_role),
                self.role.quoted()
            )?,
        }
        write!(f, "; run: {}", self.fix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(role: &str, login: &str, kind: RoleGapKind) -> RoleGap {
        RoleGap::new(PgRole::new(role).unwrap(), login.into(), kind)
    }

    #[test]
    fn fixes_quote_every_identifier() {
        let missing = gap("app_reader", "app", RoleGapKind::Missing);
        assert_eq!(
            missing.fix(),
            r#"CREATE ROLE "app_reader" NOLOGIN; GRANT "app_reader" TO "app";"#
        );
        assert_eq!(
            missing.to_string(),
            r#"role "app_reader" does not exist; run: CREATE ROLE "app_reader" NOLOGIN; GRANT "app_reader" TO "app";"#
        );
        let odd = gap(
            r#"x"; DROP TABLE t; --"#,
            r#"lo"gin"#,
            RoleGapKind::NotGranted,
        );
        assert_eq!(odd.fix(), r#"GRANT "x""; DROP TABLE t; --" TO "lo""gin";"#);
        assert_eq!(
            odd.to_string(),
            r#"login role "lo""gin" cannot SET ROLE "x""; DROP TABLE t; --"; run: GRANT "x""; DROP TABLE t; --" TO "lo""gin";"#
        );
        assert_eq!(
            quote_ident("Ümlaut"),
            PgRole::new("Ümlaut").unwrap().quoted()
        );
    }

    #[test]
    fn gaps_are_listed_one_per_line() {
        let err = RoleCheckError::Gaps(vec![
            gap("a", "app", RoleGapKind::Missing),
            gap("b", "app", RoleGapKind::NotGranted),
        ]);
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert!(
            lines[0].starts_with("2 roles of the role map are not usable"),
            "{text}"
        );
        assert!(lines[1].contains(r#"CREATE ROLE "a" NOLOGIN; GRANT "a" TO "app";"#));
        assert!(lines[2].ends_with(r#"run: GRANT "b" TO "app";"#));
        assert_eq!(err.gaps().len(), 2);
    }
}
