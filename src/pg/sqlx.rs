//! The user's role with [sqlx](https://docs.rs/sqlx): [`begin_as`], [`with_role`] and the
//! startup check [`check_roles`]. Needs the `sqlx` feature.
//!
//! ```no_run
//! use axum::{extract::State, http::StatusCode, routing::get, Router};
//! use sqlx::PgPool;
//! use tower_oidc::{pg, Identity};
//!
//! async fn count_documents(
//!     State(pool): State<PgPool>,
//!     identity: Identity,
//! ) -> Result<String, StatusCode> {
//!     let role = identity.role().ok_or(StatusCode::FORBIDDEN)?;
//!     // Row-level security on `documents` decides which rows this role sees.
//!     let n: i64 = pg::sqlx::with_role(&pool, role, async |conn| {
//!         sqlx::query_scalar("SELECT count(*) FROM documents")
//!             .fetch_one(conn)
//!             .await
//!     })
//!     .await
//!     .map_err(|_: sqlx::Error| StatusCode::INTERNAL_SERVER_ERROR)?;
//!     Ok(n.to_string())
//! }
//!
//! # async fn app(pool: PgPool) {
//! let app: Router = Router::new()
//!     .route("/documents/count", get(count_documents))
//!     .with_state(pool);
//! # }
//! ```

use ::sqlx::{Connection, Executor, PgConnection, PgPool, Postgres, Row, Transaction};

use super::{RoleCheckError, RoleGap, RoleGapKind};
use crate::{PgRole, RoleMap};

/// SQLSTATE 42501 `insufficient_privilege`: what `SET ROLE` answers when the session user may
/// not switch to the role.
const INSUFFICIENT_PRIVILEGE: &str = "42501";

/// Begins a transaction on a connection from `pool` and switches it to `role` with
/// `SET LOCAL ROLE "role"`.
///
/// Commit it or drop it (dropping rolls back). Either way `SET LOCAL` ends with the transaction,
/// so the pooled connection returns to the pool as the login role, never as the user's role.
///
/// # Errors
///
/// Whatever sqlx reports for `BEGIN` or the `SET LOCAL ROLE`; a role that does not exist or that
/// the login role was not granted fails here (see [`check_roles`] to find that at startup).
pub async fn begin_as(
    pool: &PgPool,
    role: &PgRole,
) -> Result<Transaction<'static, Postgres>, ::sqlx::Error> {
    let mut tx = pool.begin().await?;
    set_local_role(&mut tx, role).await?;
    Ok(tx)
}

/// Runs `f` inside a [`begin_as`] transaction: commits when it returns `Ok`, rolls back when it
/// returns `Err` (and when the returned future is dropped before it finishes).
///
/// The future is `Send` when `f`'s is, so this can be awaited in an axum handler.
///
/// ```no_run
/// # async fn demo(pool: sqlx::PgPool, role: tower_oidc::PgRole) -> Result<(), sqlx::Error> {
/// let me: String = tower_oidc::pg::sqlx::with_role(&pool, &role, async |conn| {
///     sqlx::query_scalar("SELECT current_user::text").fetch_one(conn).await
/// })
/// .await?;
/// assert_eq!(me, role.as_str());
/// # Ok(())
/// # }
/// ```
///
/// # Errors
///
/// `f`'s error, or a [`sqlx::Error`] from beginning, switching or committing.
pub async fn with_role<T, E>(
    pool: &PgPool,
    role: &PgRole,
    f: impl AsyncFnOnce(&mut PgConnection) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<::sqlx::Error>,
{
    let mut tx = begin_as(pool, role).await?;
    match f(&mut *tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // `f`'s error is the one worth reporting; if the rollback fails too, the connection
            // is closed by sqlx rather than returned to the pool in a transaction.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Checks, on one connection of `pool`, that the login role can switch to every role that
/// `roles` can hand out. Call it at startup, before serving.
///
/// For each role it asks `pg_roles` whether the role exists (the name is a bound parameter),
/// then really tries `SET LOCAL ROLE` in a transaction that it rolls back, so the answer is the
/// server's own, on any PostgreSQL version and whatever membership options apply.
///
/// # Errors
///
/// [`RoleCheckError::Gaps`] listing every role that is missing or not granted to the login role
/// (`session_user`), each with the SQL that fixes it; [`RoleCheckError::Database`] when a query
/// of the check fails.
pub async fn check_roles(pool: &PgPool, roles: &RoleMap) -> Result<(), RoleCheckError> {
    let mut conn = pool.acquire().await.map_err(RoleCheckError::database)?;
    // `Executor` methods (boxed `Send` futures), for the reason given at `set_local_role`.
    let login_role: String = (&mut *conn)
        .fetch_one("SELECT session_user::text")
        .await
        .and_then(|row| row.try_get(0))
        .map_err(RoleCheckError::database)?;
    let mut gaps = Vec::new();
    for role in roles.roles() {
        let exists = (&mut *conn)
            .fetch_optional(
                ::sqlx::query("SELECT 1 FROM pg_roles WHERE rolname = $1").bind(role.as_str()),
            )
            .await
            .map_err(RoleCheckError::database)?
            .is_some();
        let kind = if !exists {
            Some(RoleGapKind::Missing)
        } else if can_set_role(&mut conn, role).await? {
            None
        } else {
            Some(RoleGapKind::NotGranted)
        };
        if let Some(kind) = kind {
            gaps.push(RoleGap::new(role.clone(), login_role.clone(), kind));
        }
    }
    if gaps.is_empty() {
        Ok(())
    } else {
        Err(RoleCheckError::Gaps(gaps))
    }
}

/// Runs `SET LOCAL ROLE "role"` on `conn`.
///
/// A plain `&str` has no bind parameters, so sqlx sends it with the simple query protocol and
/// caches no prepared statement per role name. Calling the `Executor` method (a boxed `Send`
/// future) rather than the generic `async fn`s of `sqlx::query`/`raw_sql` keeps the futures of
/// [`begin_as`] and [`with_role`] `Send` for any caller, axum handlers included.
async fn set_local_role(conn: &mut PgConnection, role: &PgRole) -> Result<(), ::sqlx::Error> {
    let sql = role.set_local_role();
    conn.execute(sql.as_str()).await?;
    Ok(())
}

/// `BEGIN; SET LOCAL ROLE "role"; ROLLBACK`: `Ok(false)` when the server refuses the switch.
async fn can_set_role(conn: &mut PgConnection, role: &PgRole) -> Result<bool, RoleCheckError> {
    let mut tx = conn.begin().await.map_err(RoleCheckError::database)?;
    let set = set_local_role(&mut tx, role).await;
    tx.rollback().await.map_err(RoleCheckError::database)?;
    match set {
        Ok(_) => Ok(true),
        Err(::sqlx::Error::Database(e)) if e.code().as_deref() == Some(INSUFFICIENT_PRIVILEGE) => {
            Ok(false)
        }
        Err(e) => Err(RoleCheckError::database(e)),
    }
}
