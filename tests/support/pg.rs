//! The throwaway PostgreSQL cluster `scripts/test.sh` starts (`TOWER_OIDC_TEST_DATABASE_URL`).

use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;
use sqlx::{Connection, PgConnection};

/// Connection options for the cluster's superuser; panics (never skips) when the cluster is
/// not there.
pub fn admin_options() -> PgConnectOptions {
    let url = std::env::var("TOWER_OIDC_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!("TOWER_OIDC_TEST_DATABASE_URL is not set: run the tests through scripts/test.sh, which starts PostgreSQL")
    });
    PgConnectOptions::from_str(&url).unwrap()
}

/// Runs an example's SQL setup as the superuser, under one advisory lock shared by every test,
/// so that no two scripts run their DDL at once (tests run in parallel in one cluster).
pub async fn run_setup_sql(sql: &str) {
    let mut conn = PgConnection::connect_with(&admin_options()).await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(7203)")
        .execute(&mut conn)
        .await
        .unwrap();
    let result = sqlx::raw_sql(sql).execute(&mut conn).await;
    sqlx::query("SELECT pg_advisory_unlock(7203)")
        .execute(&mut conn)
        .await
        .unwrap();
    result.unwrap();
}
