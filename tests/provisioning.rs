//! `examples/provisioning.rs` on a real PostgreSQL (started by `scripts/test.sh`), signing in
//! through the real OpenID provider: the login hook creates one row per (issuer, subject) and
//! finds it again at the next login, never matches by email, lets in only known users when
//! auto-provisioning is off, and refuses (without a session or a panic) when the database
//! fails. The tests run in parallel: each one owns the rows of its own test user.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/provisioning.rs"]
mod example;

use axum::http::StatusCode;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use support::pg::*;
use support::real::*;
use support::*;
use tower_oidc::{OidcConfig, OidcLayer};

const SETUP_SQL: &str = include_str!("../examples/provisioning.sql");
/// An issuer the test provider is not: its rows must never be matched.
const OTHER_ISSUER: &str = "https://other.example";

/// Runs the example's SQL as the superuser under the advisory lock that
/// tests/postgres_rls.rs takes too, so no two scripts run DDL at once; then deletes every row
/// of `subject` (any issuer), which belongs to the calling test alone. Returns a superuser pool.
async fn setup_database(subject: &str) -> PgPool {
    run_setup_sql(SETUP_SQL).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin_options())
        .await
        .unwrap();
    sqlx::query("DELETE FROM provisioning_demo.users WHERE subject = $1")
        .bind(subject)
        .execute(&pool)
        .await
        .unwrap();
    pool
}

fn layer(e: &Env, pool: PgPool, auto_provision: bool) -> OidcLayer {
    let builder = OidcConfig::builder()
        .with_issuer(e.issuer.clone())
        .with_client_id(e.client_id.clone())
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("GTDCb3k7KV+W1lMxxw2O5uxdfoZykIlbBHu+f7WPZG0=")
        .with_auto_provision(auto_provision);
    OidcLayer::new(example::with_provisioning(builder, pool).build().unwrap())
}

/// A row of `provisioning_demo.users`: (id, issuer, email, logins, has first_login).
type Row = (i64, String, Option<String>, i32, bool);

/// Every row of `subject`, at any issuer, oldest first.
async fn rows_of(pool: &PgPool, subject: &str) -> Vec<Row> {
    sqlx::query_as(
        "SELECT id, issuer, email, logins, first_login IS NOT NULL \
         FROM provisioning_demo.users WHERE subject = $1 ORDER BY id",
    )
    .bind(subject)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// Adds a row by hand, as an administrator would: (issuer, subject) and maybe an email.
async fn add_user(pool: &PgPool, issuer: &str, subject: &str, email: Option<&str>) -> i64 {
    sqlx::query_scalar(
        "INSERT INTO provisioning_demo.users (issuer, subject, email) VALUES ($1, $2, $3) RETURNING id",
    )
    .bind(issuer)
    .bind(subject)
    .bind(email)
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn first_login_creates_one_row_per_issuer_and_subject_and_later_logins_reuse_it() {
    let e = env();
    let pool = setup_database("alice").await;
    // Same subject, same email, another issuer: a different person as far as we know.
    let other = add_user(&pool, OTHER_ISSUER, "alice", Some("alice@example.com")).await;
    let app = example::app(pool.clone()).layer(layer(&e, pool.clone(), true));

    let mut first = Jar::default();
    let done = sign_in(
        &mut first,
        &app,
        &Browser::new(&e.issuer),
        "/api/me",
        "alice",
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert!(first.session().is_some());
    let rows = rows_of(&pool, "alice").await;
    assert_eq!(
        rows.len(),
        2,
        "a new row beside the other issuer's: {rows:?}"
    );
    let (id, issuer, email, logins, started) = rows[1].clone();
    assert_eq!(issuer, e.issuer);
    assert_eq!(email.as_deref(), Some("alice@example.com"));
    assert_eq!(logins, 1);
    assert!(started, "first_login is set");
    assert_ne!(id, other, "the same email at another issuer is not matched");
    assert_eq!(
        rows[0],
        (
            other,
            OTHER_ISSUER.to_owned(),
            Some("alice@example.com".to_owned()),
            0,
            false
        ),
        "the other issuer's row is untouched"
    );

    let me = first.get(&app, "/api/me").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    let body = me.json();
    assert_eq!(body["user_id"], id);
    assert_eq!(body["subject"], "alice");
    assert_eq!(body["issuer"], e.issuer.as_str());
    assert_eq!(body["email"], "alice@example.com");
    assert_eq!(body["logins"], 1);
    let page = first.get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK, "{page:?}");
    assert!(
        page.body
            .contains(&format!("<strong id=\"user-id\">{id}</strong>")),
        "{}",
        page.body
    );

    // A second login, from a fresh browser: the same row, counted.
    let mut second = Jar::default();
    let done = sign_in(&mut second, &app, &Browser::new(&e.issuer), "/", "alice").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_ne!(first.session(), second.session(), "a new session per login");
    let rows = rows_of(&pool, "alice").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!((rows[1].0, rows[1].3), (id, 2), "same id, logins 2");
    assert_eq!(rows[0].3, 0, "the other issuer's row is still untouched");
    let body = second.get(&app, "/api/me").await.json();
    assert_eq!(body["user_id"], id);
    assert_eq!(body["logins"], 2);
    // The first session carries the same user id and sees the new count.
    assert_eq!(first.get(&app, "/api/me").await.json()["logins"], 2);
}

#[tokio::test]
async fn without_auto_provisioning_only_users_with_a_row_for_their_issuer_get_in() {
    let e = env();
    let pool = setup_database("bob").await;
    // A row for bob's subject and email, but at another issuer: not his.
    let other = add_user(&pool, OTHER_ISSUER, "bob", Some("bob@example.com")).await;
    let app = example::app(pool.clone()).layer(layer(&e, pool.clone(), false));

    let mut refused = Jar::default();
    let done = sign_in(&mut refused, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{done:?}");
    assert!(done.body.contains(example::NOT_REGISTERED), "{}", done.body);
    assert!(done.body.contains("login_refused"), "{}", done.body);
    // A refusal may clear a session cookie (an empty value, Max-Age=0), never set one.
    let sessions: Vec<String> = done
        .set_cookies()
        .into_iter()
        .filter(|c| c.split('=').next().unwrap().ends_with("oidc-session"))
        .collect();
    assert!(
        sessions
            .iter()
            .all(|c| c.contains("=;") && c.contains("Max-Age=0")),
        "no session cookie: {sessions:?}"
    );
    assert!(refused.session().is_none());
    assert_eq!(
        refused.get(&app, "/api/me").await.status,
        StatusCode::FOUND,
        "still not signed in"
    );
    let rows = rows_of(&pool, "bob").await;
    assert_eq!(
        rows,
        [(
            other,
            OTHER_ISSUER.to_owned(),
            Some("bob@example.com".to_owned()),
            0,
            false
        )],
        "no row created, the other issuer's untouched"
    );

    // An administrator adds bob by issuer and subject; now he gets in, as that row.
    let id = add_user(&pool, &e.issuer, "bob", None).await;
    let mut bob = Jar::default();
    let done = sign_in(&mut bob, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert!(bob.session().is_some());
    let body = bob.get(&app, "/api/me").await.json();
    assert_eq!(body["user_id"], id);
    assert_eq!(body["subject"], "bob");
    assert_eq!(body["email"], "bob@example.com");
    assert_eq!(body["logins"], 1);
    let rows = rows_of(&pool, "bob").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(
        rows[1],
        (
            id,
            e.issuer.clone(),
            Some("bob@example.com".to_owned()),
            1,
            true
        ),
        "the email is filled in from the provider at login"
    );
    assert_eq!(rows[0].3, 0);
}

#[tokio::test]
async fn a_database_error_refuses_the_login_with_a_generic_message_and_no_session() {
    let e = env();
    // A database without the table: the startup check names the script, and a login that
    // gets past it anyway is refused, not a panic.
    let name = format!("provisioning_empty_{}", std::process::id());
    let mut admin = PgConnection::connect_with(&admin_options()).await.unwrap();
    sqlx::raw_sql(&format!("DROP DATABASE IF EXISTS {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    sqlx::raw_sql(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin_options().database(&name))
        .await
        .unwrap();

    let err = example::check_table(&pool).await.unwrap_err();
    assert!(err.contains("examples/provisioning.sql"), "{err}");

    let app = example::app(pool.clone()).layer(layer(&e, pool.clone(), true));
    let mut jar = Jar::default();
    let done = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "mallory").await;
    assert_eq!(done.status, StatusCode::FORBIDDEN, "{done:?}");
    assert!(done.body.contains(example::UNAVAILABLE), "{}", done.body);
    assert!(
        !done.body.contains("does not exist") && !done.body.contains("provisioning_demo"),
        "the database's error stays in the log: {}",
        done.body
    );
    assert!(jar.session().is_none());

    pool.close().await;
    sqlx::raw_sql(&format!("DROP DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_startup_check_names_the_missing_grant_and_its_fix() {
    let pool = setup_database("nobody").await;
    let login = format!("provisioning_app_{}", std::process::id());
    let mut admin = PgConnection::connect_with(&admin_options()).await.unwrap();
    sqlx::raw_sql(&format!(
        "DROP ROLE IF EXISTS \"{login}\"; CREATE ROLE \"{login}\" LOGIN PASSWORD 'pw';"
    ))
    .execute(&mut admin)
    .await
    .unwrap();
    let app_pool = PgPoolOptions::new()
        .max_connections(1)
        .connect_with(admin_options().username(&login).password("pw"))
        .await
        .unwrap();
    example::check_table(&pool).await.unwrap();

    let err = example::check_table(&app_pool).await.unwrap_err();
    let fix = format!(
        "GRANT USAGE ON SCHEMA provisioning_demo TO \"{login}\"; \
         GRANT SELECT, INSERT, UPDATE ON provisioning_demo.users TO \"{login}\";"
    );
    assert!(err.contains(&fix), "{err}");

    // Running the named fix is enough, for the check and for the hook's two statements.
    sqlx::raw_sql(&fix).execute(&mut admin).await.unwrap();
    example::check_table(&app_pool).await.unwrap();
    for (query, logins) in [
        (example::UPSERT, 1),
        (example::UPDATE_KNOWN, 2),
        (example::UPSERT, 3),
    ] {
        let id: i64 = sqlx::query_scalar(query)
            .bind(OTHER_ISSUER)
            .bind("nobody")
            .bind(None::<&str>)
            .bind("Nobody")
            .fetch_one(&app_pool)
            .await
            .unwrap_or_else(|err| panic!("{query}: {err}"));
        let rows = rows_of(&pool, "nobody").await;
        assert_eq!(rows.len(), 1, "{rows:?}");
        assert_eq!((rows[0].0, rows[0].3), (id, logins));
    }
    app_pool.close().await;
    sqlx::raw_sql(&format!("DROP OWNED BY \"{login}\"; DROP ROLE \"{login}\""))
        .execute(&mut admin)
        .await
        .unwrap();
}
