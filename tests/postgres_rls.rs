//! `examples/postgres_rls.rs` on a real PostgreSQL (started by `scripts/test.sh`), signing in
//! through the real OpenID provider as each test user: the rows each role sees, mallory's 403,
//! the pooled connection back to the login role after every request, and the startup check's
//! message for a missing grant.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/postgres_rls.rs"]
mod example;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use support::pg::*;
use support::real::*;
use support::*;
use tower_oidc::{pg, OidcConfig, OidcLayer, RoleMap};

const SETUP_SQL: &str = include_str!("../examples/postgres_rls.sql");
const ROLE_MAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.toml");

/// Runs the example's SQL setup as the superuser.
async fn setup_database() {
    run_setup_sql(SETUP_SQL).await;
}

/// A pool of ONE connection as the example's login role, so every request reuses it.
async fn app_pool(login: &str, password: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin_options().username(login).password(password))
        .await
        .unwrap()
}

fn layer(e: &Env) -> OidcLayer {
    let config = OidcConfig::builder()
        .with_config_file(ROLE_MAP)
        .with_issuer(e.issuer.clone())
        .with_client_id(e.client_id.clone())
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("/msiCP3k29GbP2w3ZDhHkinnLuDO1VNzqldLLCy32hQ=")
        .build()
        .unwrap();
    OidcLayer::new(config)
}

async fn current_user(pool: &PgPool) -> String {
    sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(pool)
        .await
        .unwrap()
}

fn ids(body: &Value) -> Vec<i64> {
    body["documents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["id"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn each_user_sees_the_rows_of_their_role_and_the_connection_returns_to_the_login_role() {
    setup_database().await;
    let e = env();
    let pool = app_pool("rls_app", "rls_app").await;
    let app = example::app(pool.clone()).layer(layer(&e));
    let browser = Browser::new(&e.issuer);

    // The login role alone reads nothing: it is NOINHERIT and holds no grant on the table.
    let direct = sqlx::query("SELECT * FROM rls_demo.documents")
        .fetch_all(&pool)
        .await
        .unwrap_err();
    assert!(direct.to_string().contains("permission denied"), "{direct}");

    let mut alice = Jar::default();
    let done = sign_in(&mut alice, &app, &browser, "/api/documents", "alice").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let reply = alice.get(&app, "/api/documents").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["role"], "app_admin");
    assert_eq!(body["current_user"], "app_admin");
    assert_eq!(ids(&body), [1, 2, 3, 4]);
    assert_eq!(
        current_user(&pool).await,
        "rls_app",
        "SET LOCAL ended with the request"
    );

    let mut bob = Jar::default();
    let done = sign_in(&mut bob, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let body = bob.get(&app, "/api/documents").await.json();
    assert_eq!(body["role"], "app_reader");
    assert_eq!(body["current_user"], "app_reader");
    assert_eq!(
        ids(&body),
        [1, 2],
        "row-level security hides the admins' documents"
    );
    let page = bob.get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Holiday rota"));
    assert!(!page.body.contains("Salary review"), "{}", page.body);
    assert_eq!(current_user(&pool).await, "rls_app");

    // Alice again, on the same single connection, right after bob: no role carried over.
    let body = alice.get(&app, "/api/documents").await.json();
    assert_eq!(body["current_user"], "app_admin");
    assert_eq!(ids(&body), [1, 2, 3, 4]);
    assert_eq!(current_user(&pool).await, "rls_app");

    let mut mallory = Jar::default();
    let done = sign_in(&mut mallory, &app, &Browser::new(&e.issuer), "/", "mallory").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{done:?}");
    assert!(
        done.body.contains("no role in this application"),
        "{}",
        done.body
    );
    assert!(mallory.session().is_none());
    let api = mallory.get(&app, "/api/documents").await;
    assert_eq!(
        api.status,
        StatusCode::FOUND,
        "mallory is still not signed in"
    );
}

#[tokio::test]
async fn the_startup_check_names_the_missing_grant_and_its_fix() {
    setup_database().await;
    let login = format!("rls_app_partial_{}", std::process::id());
    let mut admin = PgConnection::connect_with(&admin_options()).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP ROLE IF EXISTS \"{login}\"; CREATE ROLE \"{login}\" LOGIN NOINHERIT PASSWORD 'pw';\
         GRANT app_reader TO \"{login}\";"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let roles: RoleMap = OidcConfig::builder()
        .with_config_file(ROLE_MAP)
        .with_issuer("https://id.example.com")
        .with_client_id("x")
        .with_base_url(BASE_URL)
        .build()
        .unwrap()
        .role_map()
        .unwrap()
        .clone();

    let pool = app_pool(&login, "pw").await;
    let err = pg::sqlx::check_roles(&pool, &roles).await.unwrap_err();
    let text = err.to_string();
    let fix = format!("GRANT \"app_admin\" TO \"{login}\";");
    assert!(text.contains(&fix), "{text}");
    assert!(
        !text.contains("app_reader"),
        "only the gap is reported: {text}"
    );

    // Running the named fix is enough.
    sqlx::raw_sql(&fix).execute(&mut admin).await.unwrap();
    pg::sqlx::check_roles(&pool, &roles).await.unwrap();
    pool.close().await;
    sqlx::raw_sql(&format!("DROP ROLE \"{login}\""))
        .execute(&mut admin)
        .await
        .unwrap();
}
