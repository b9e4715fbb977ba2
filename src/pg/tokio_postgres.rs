//! The user's role with [tokio-postgres](https://docs.rs/tokio-postgres): [`begin_as`],
//! [`with_role`] and the startup check [`check_roles`]. Needs the `tokio-postgres` feature.
//!
//! A [`Client`] is one connection, and a transaction needs it exclusively (`&mut Client`); with
//! a pool (deadpool-postgres, bb8-postgres) pass the pooled client, which derefs to `Client`.
//!
//! ```no_run
//! # async fn demo(client: &mut tokio_postgres::Client) -> Result<(), tokio_postgres::Error> {
//! use tower_oidc::{pg, PgRole};
//!
//! let role = PgRole::new("app_reader").expect("a valid role name");
//! let me: String = pg::tokio_postgres::with_role(client, &role, async |tx| {
//!     let row = tx.query_one("SELECT current_user::text", &[]).await?;
//!     Ok::<_, tokio_postgres::Error>(row.get(0))
//! })
//! .await?;
//! assert_eq!(me, "app_reader");
//! # Ok(())
//! # }
//! ```

use ::tokio_postgres::error::SqlState;
use ::tokio_postgres::{Client, Error, Transaction};

use super::{RoleCheckError, RoleGap, RoleGapKind};
use crate::{PgRole, RoleMap};

/// Begins a transaction on `client` and switches it to `role` with `SET LOCAL ROLE "role"`.
///
/// Commit it or drop it (dropping rolls back). Either way `SET LOCAL` ends with the transaction,
/// so the client (and a pooled connection behind it) goes back to the login role.
///
/// # Errors
///
/// Whatever tokio-postgres reports for `BEGIN` or the `SET LOCAL ROLE`; a role that does not
/// exist or that the login role was not granted fails here (see [`check_roles`] to find that at
/// startup).
pub async fn begin_as<'c>(client: &'c mut Client, role: &PgRole) -> Result<Transaction<'c>, Error> {
    let tx = client.transaction().await?;
    // The name cannot be a bind parameter of SET ROLE; `set_local_role` quotes it, so it is
    // exactly one identifier whatever it holds.
    tx.batch_execute(&role.set_local_role()).await?;
    Ok(tx)
}

/// Runs `f` inside a [`begin_as`] transaction: commits when it returns `Ok`, rolls back when it
/// returns `Err` (and when the returned future is dropped before it finishes).
///
/// `f` gets the transaction by `&mut`, so it can open savepoints but not end the transaction
/// itself. The future is `Send` when `f`'s is, so this can be awaited in an axum handler.
///
/// # Errors
///
/// `f`'s error, or a [`tokio_postgres::Error`] from beginning, switching
/// or committing.
pub async fn with_role<T, E>(
    client: &mut Client,
    role: &PgRole,
    f: impl AsyncFnOnce(&mut Transaction<'_>) -> Result<T, E>,
) -> Result<T, E>
where
    E: From<Error>,
{
    let mut tx = begin_as(client, role).await?;
    match f(&mut tx).await {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(e) => {
            // `f`'s error is the one worth reporting; a failed ROLLBACK means a broken
            // connection, which the caller sees on its next query.
            let _ = tx.rollback().await;
            Err(e)
        }
    }
}

/// Checks that the login role of `client` can switch to every role that `roles` can hand out.
/// Call it at startup, before serving.
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
pub async fn check_roles(client: &mut Client, roles: &RoleMap) -> Result<(), RoleCheckError> {
    let login_role: String = client
        .query_one("SELECT session_user::text", &[])
        .await
        .map_err(RoleCheckError::database)?
        .try_get(0)
        .map_err(RoleCheckError::database)?;
    let mut gaps = Vec::new();
    for role in roles.roles() {
        let exists = client
            .query_opt(
                "SELECT 1 FROM pg_roles WHERE rolname = $1",
                &[&role.as_str()],
            )
            .await
            .map_err(RoleCheckError::database)?
            .is_some();
        let kind = if !exists {
            Some(RoleGapKind::Missing)
        } else if can_set_role(client, role).await? {
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

/// `BEGIN; SET LOCAL ROLE "role"; ROLLBACK`: `Ok(false)` when the server refuses the switch.
async fn can_set_role(client: &mut Client, role: &PgRole) -> Result<bool, RoleCheckError> {
    let tx = client
        .transaction()
        .await
        .map_err(RoleCheckError::database)?;
    let set = tx.batch_execute(&role.set_local_role()).await;
    tx.rollback().await.map_err(RoleCheckError::database)?;
    match set {
        Ok(()) => Ok(true),
        Err(e) if e.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) => Ok(false),
        Err(e) => Err(RoleCheckError::database(e)),
    }
}
