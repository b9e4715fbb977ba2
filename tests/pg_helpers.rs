//! `tower_oidc::pg` against a real PostgreSQL: the throwaway cluster that `scripts/test.sh`
//! starts (`scripts/pg.sh`) and names in `TOWER_OIDC_TEST_DATABASE_URL` (a superuser URL).
//!
//! Every test makes its own login role, roles and schema with a unique suffix, so the tests run
//! in parallel in one cluster. The application side always connects as a non-superuser LOGIN
//! role that was granted the app roles, as a real deployment would.
#![cfg(all(feature = "sqlx", feature = "tokio-postgres"))]

use std::str::FromStr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use http_body_util::BodyExt;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::PgPool;
use tower::ServiceExt;
use tower_oidc::pg::{self, RoleCheckError, RoleGapKind};
use tower_oidc::{PgRole, RoleMap};

// --- fixture ------------------------------------------------------------------------------

fn database_url() -> String {
    std::env::var("TOWER_OIDC_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "TOWER_OIDC_TEST_DATABASE_URL is not set: run these tests through scripts/test.sh, \
             which starts a throwaway PostgreSQL cluster (or run `source scripts/pg.sh && pg_start` in \
             your shell: it exports the variable)"
        )
    })
}

/// A suffix no other test of this run (nor, very likely, of an earlier run) uses.
fn unique_tag() -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:08x}{n:02}", nanos ^ std::process::id().rotate_left(16))
}

/// A quoted identifier, quoted by the crate itself.
fn q(name: &str) -> String {
    PgRole::new(name)
        .expect("test identifiers are valid")
        .quoted()
}

/// A SQL string literal.
fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

fn role(name: &str) -> PgRole {
    PgRole::new(name).expect("test role names are valid")
}

struct Fixture {
    tag: String,
    /// Superuser connections, for setup and for looking behind the app's back.
    admin: PgPool,
    /// The app's LOGIN role: not a superuser, and NOINHERIT (as `tower_oidc::pg` recommends),
    /// so outside `SET ROLE` it has none of the app roles' rights.
    login: String,
    schema: String,
}

impl Fixture {
    async fn new() -> Self {
        let admin = PgPoolOptions::new()
            .max_connections(2)
            .connect(&database_url())
            .await
            .expect("connect to TOWER_OIDC_TEST_DATABASE_URL as the superuser");
        let tag = unique_tag();
        let fx = Self {
            login: format!("login_{tag}"),
            schema: format!("s_{tag}"),
            tag,
            admin,
        };
        fx.exec(&format!(
            "CREATE ROLE {login} LOGIN NOSUPERUSER NOINHERIT; CREATE SCHEMA {schema}",
            login = q(&fx.login),
            schema = q(&fx.schema),
        ))
        .await;
        fx
    }

    /// A role name unique to this test.
    fn name(&self, base: &str) -> String {
        format!("{base}_{}", self.tag)
    }

    /// `schema.table`, quoted.
    fn table(&self, table: &str) -> String {
        format!("{}.{}", q(&self.schema), q(table))
    }

    async fn exec(&self, sql: &str) {
        sqlx::raw_sql(sql)
            .execute(&self.admin)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Creates NOLOGIN roles; `granted` ones are granted to the login role.
    async fn create_role(&self, name: &str, granted: bool) {
        self.exec(&format!("CREATE ROLE {} NOLOGIN", q(name))).await;
        if granted {
            self.exec(&format!("GRANT {} TO {}", q(name), q(&self.login)))
                .await;
        }
    }

    /// `docs(id, owner, body)` with forced row-level security, one policy per role (each sees
    /// and may insert only rows whose `owner` is its name), and a row nobody may see.
    async fn docs_table(&self, roles: &[&str]) {
        let docs = self.table("docs");
        let mut sql = format!(
            "CREATE TABLE {docs} (id int PRIMARY KEY, owner text NOT NULL, body text NOT NULL);
             ALTER TABLE {docs} ENABLE ROW LEVEL SECURITY;
             ALTER TABLE {docs} FORCE ROW LEVEL SECURITY;
             INSERT INTO {docs} VALUES (1000, 'nobody', 'hidden');"
        );
        for (i, r) in roles.iter().enumerate() {
            let (qr, lr) = (q(r), lit(r));
            let id = i * 10;
            sql += &format!(
                "GRANT USAGE ON SCHEMA {schema} TO {qr};
                 GRANT SELECT, INSERT ON {docs} TO {qr};
                 CREATE POLICY {policy} ON {docs} TO {qr} USING (owner = {lr}) WITH CHECK (owner = {lr});
                 INSERT INTO {docs} VALUES ({a}, {lr}, {first}), ({b}, {lr}, {second});",
                schema = q(&self.schema),
                policy = q(&format!("p{i}")),
                a = id + 1,
                b = id + 2,
                first = lit(&format!("{r} first")),
                second = lit(&format!("{r} second")),
            );
        }
        self.exec(&sql).await;
    }

    /// Bodies of `docs` rows with this id, as the superuser sees them (RLS bypassed).
    async fn admin_bodies(&self, id: i32) -> Vec<String> {
        sqlx::query_scalar(&format!(
            "SELECT body FROM {} WHERE id = $1",
            self.table("docs")
        ))
        .bind(id)
        .fetch_all(&self.admin)
        .await
        .expect("superuser reads docs")
    }

    async fn table_exists(&self, table: &str) -> bool {
        sqlx::query_scalar::<_, bool>("SELECT to_regclass($1) IS NOT NULL")
            .bind(self.table(table))
            .fetch_one(&self.admin)
            .await
            .expect("to_regclass")
    }

    /// The app's pool: ONE connection, as the login role, so every use is the same connection.
    async fn app_pool(&self) -> PgPool {
        let options = PgConnectOptions::from_str(&database_url())
            .expect("TOWER_OIDC_TEST_DATABASE_URL is a postgres:// URL")
            .username(&self.login);
        PgPoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .expect("connect as the login role")
    }

    /// The app's tokio-postgres client, as the login role.
    async fn app_client(&self) -> tokio_postgres::Client {
        let mut config = tokio_postgres::Config::from_str(&database_url())
            .expect("TOWER_OIDC_TEST_DATABASE_URL is a postgres:// URL");
        config.user(&self.login);
        let (client, connection) = config
            .connect(tokio_postgres::NoTls)
            .await
            .expect("connect as the login role");
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("tokio-postgres connection ended: {e}");
            }
        });
        client
    }
}

/// `current_user` and the backend's pid on the pool's connection, outside any transaction.
async fn who_sqlx(pool: &PgPool) -> (String, i32) {
    sqlx::query_as("SELECT current_user::text, pg_backend_pid()")
        .fetch_one(pool)
        .await
        .expect("SELECT current_user")
}

async fn who_tokio(client: &tokio_postgres::Client) -> String {
    client
        .query_one("SELECT current_user::text", &[])
        .await
        .expect("SELECT current_user")
        .get(0)
}

/// An application error type, as handlers have: a database error or the app's own refusal.
#[derive(Debug)]
enum AppError<D> {
    Db(D),
    Refused,
}

impl From<sqlx::Error> for AppError<sqlx::Error> {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<tokio_postgres::Error> for AppError<tokio_postgres::Error> {
    fn from(e: tokio_postgres::Error) -> Self {
        Self::Db(e)
    }
}

// --- sqlx: begin_as / with_role -------------------------------------------------------------

#[tokio::test]
async fn sqlx_begin_as_switches_role_and_row_level_security_shows_each_role_its_rows() {
    let fx = Fixture::new().await;
    let (reader, writer) = (fx.name("reader"), fx.name("writer"));
    fx.create_role(&reader, true).await;
    fx.create_role(&writer, true).await;
    fx.docs_table(&[&reader, &writer]).await;
    let pool = fx.app_pool().await;
    let docs = format!("SELECT body FROM {} ORDER BY id", fx.table("docs"));

    let (login, pid) = who_sqlx(&pool).await;
    assert_eq!(login, fx.login);
    // Without a role the login role itself sees nothing: it has no grant on the table.
    let err = sqlx::query(&docs).fetch_all(&pool).await.unwrap_err();
    assert_eq!(
        err.as_database_error().and_then(|e| e.code()).as_deref(),
        Some("42501"),
        "{err}"
    );

    for (r, expected) in [
        (
            &reader,
            [format!("{reader} first"), format!("{reader} second")],
        ),
        (
            &writer,
            [format!("{writer} first"), format!("{writer} second")],
        ),
    ] {
        let mut tx = pg::sqlx::begin_as(&pool, &role(r)).await.expect("begin_as");
        let (user, session, tx_pid): (String, String, i32) =
            sqlx::query_as("SELECT current_user::text, session_user::text, pg_backend_pid()")
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        assert_eq!((&user, &session), (r, &fx.login));
        assert_eq!(
            tx_pid, pid,
            "max_connections(1): always the same connection"
        );
        let bodies: Vec<String> = sqlx::query_scalar(&docs).fetch_all(&mut *tx).await.unwrap();
        assert_eq!(bodies, expected);
        drop(tx); // neither commit nor rollback: dropping must reset the connection too

        assert_eq!(who_sqlx(&pool).await, (fx.login.clone(), pid));
    }

    // Committing resets it as well.
    let tx = pg::sqlx::begin_as(&pool, &role(&reader)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(who_sqlx(&pool).await, (fx.login.clone(), pid));
}

#[tokio::test]
async fn sqlx_with_role_commits_on_ok_rolls_back_on_err_and_always_resets_the_connection() {
    let fx = Fixture::new().await;
    let writer = fx.name("writer");
    fx.create_role(&writer, true).await;
    fx.docs_table(&[&writer]).await;
    let pool = fx.app_pool().await;
    let (login, pid) = who_sqlx(&pool).await;
    let insert = format!("INSERT INTO {} VALUES ($1, $2, $3)", fx.table("docs"));

    // Ok: the insert is committed.
    let user = pg::sqlx::with_role(
        &pool,
        &role(&writer),
        async |conn| -> Result<String, AppError<sqlx::Error>> {
            sqlx::query(&insert)
                .bind(501)
                .bind(&writer)
                .bind("kept")
                .execute(&mut *conn)
                .await?;
            Ok(sqlx::query_scalar("SELECT current_user::text")
                .fetch_one(&mut *conn)
                .await?)
        },
    )
    .await
    .expect("with_role Ok");
    assert_eq!(user, writer);
    assert_eq!(fx.admin_bodies(501).await, ["kept"]);
    assert_eq!(who_sqlx(&pool).await, (login.clone(), pid));

    // Err from the closure: the insert, visible inside, is rolled back.
    let result = pg::sqlx::with_role(
        &pool,
        &role(&writer),
        async |conn| -> Result<(), AppError<sqlx::Error>> {
            sqlx::query(&insert)
                .bind(502)
                .bind(&writer)
                .bind("discarded")
                .execute(&mut *conn)
                .await?;
            let seen: i64 = sqlx::query_scalar(&format!(
                "SELECT count(*) FROM {} WHERE id = 502",
                fx.table("docs")
            ))
            .fetch_one(&mut *conn)
            .await?;
            assert_eq!(seen, 1, "the insert is visible inside the transaction");
            Err(AppError::Refused)
        },
    )
    .await;
    assert!(matches!(result, Err(AppError::Refused)), "{result:?}");
    assert!(fx.admin_bodies(502).await.is_empty(), "rolled back");
    assert_eq!(who_sqlx(&pool).await, (login.clone(), pid));

    // Err from the database (row-level security refuses another owner's row): rolled back,
    // and the aborted transaction does not leak into the pool.
    let result = pg::sqlx::with_role(
        &pool,
        &role(&writer),
        async |conn| -> Result<(), AppError<sqlx::Error>> {
            sqlx::query(&insert)
                .bind(503)
                .bind("someone else")
                .bind("forged")
                .execute(&mut *conn)
                .await?;
            Ok(())
        },
    )
    .await;
    match result {
        Err(AppError::Db(e)) => assert_eq!(
            e.as_database_error().and_then(|d| d.code()).as_deref(),
            Some("42501"),
            "{e}"
        ),
        other => panic!("expected a row-level security violation, got {other:?}"),
    }
    assert!(fx.admin_bodies(503).await.is_empty());
    assert_eq!(who_sqlx(&pool).await, (login, pid));
}

#[derive(Clone)]
struct SqlxApp {
    pool: PgPool,
    role: PgRole,
}

/// An axum handler awaiting `with_role`: `get(handler)` only compiles when its future is Send.
async fn sqlx_handler(State(app): State<SqlxApp>) -> Result<String, StatusCode> {
    pg::sqlx::with_role(&app.pool, &app.role, async |conn| {
        let user: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *conn)
            .await?;
        let rows: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_roles")
            .fetch_one(&mut *conn)
            .await?;
        Ok::<_, sqlx::Error>(format!("{user} {}", rows > 0))
    })
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

/// The same for a handler holding a `begin_as` transaction across awaits.
async fn sqlx_begin_as_handler(State(app): State<SqlxApp>) -> Result<String, StatusCode> {
    let fail = |_: sqlx::Error| StatusCode::INTERNAL_SERVER_ERROR;
    let mut tx = pg::sqlx::begin_as(&app.pool, &app.role)
        .await
        .map_err(fail)?;
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .map_err(fail)?;
    tx.commit().await.map_err(fail)?;
    Ok(user)
}

#[tokio::test]
async fn sqlx_with_role_and_begin_as_work_in_an_axum_handler() {
    let fx = Fixture::new().await;
    let reader = fx.name("reader");
    fx.create_role(&reader, true).await;
    let app = Router::new()
        .route("/with_role", get(sqlx_handler))
        .route("/begin_as", get(sqlx_begin_as_handler))
        .with_state(SqlxApp {
            pool: fx.app_pool().await,
            role: role(&reader),
        });
    for (path, expected) in [
        ("/with_role", format!("{reader} true")),
        ("/begin_as", reader.clone()),
    ] {
        let response = app
            .clone()
            .oneshot(Request::get(path).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, expected, "{path}");
    }
}

// --- tokio-postgres: begin_as / with_role ---------------------------------------------------

#[tokio::test]
async fn tokio_postgres_begin_as_switches_role_and_row_level_security_shows_each_role_its_rows() {
    let fx = Fixture::new().await;
    let (reader, writer) = (fx.name("reader"), fx.name("writer"));
    fx.create_role(&reader, true).await;
    fx.create_role(&writer, true).await;
    fx.docs_table(&[&reader, &writer]).await;
    let mut client = fx.app_client().await;
    let docs = format!("SELECT body FROM {} ORDER BY id", fx.table("docs"));

    assert_eq!(who_tokio(&client).await, fx.login);
    let err = client.query(&docs, &[]).await.unwrap_err();
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE)
    );

    for (r, expected) in [
        (
            &reader,
            [format!("{reader} first"), format!("{reader} second")],
        ),
        (
            &writer,
            [format!("{writer} first"), format!("{writer} second")],
        ),
    ] {
        let tx = pg::tokio_postgres::begin_as(&mut client, &role(r))
            .await
            .expect("begin_as");
        let row = tx
            .query_one("SELECT current_user::text, session_user::text", &[])
            .await
            .unwrap();
        assert_eq!(
            (row.get::<_, String>(0), row.get::<_, String>(1)),
            (r.clone(), fx.login.clone())
        );
        let bodies: Vec<String> = tx
            .query(&docs, &[])
            .await
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect();
        assert_eq!(bodies, expected);
        drop(tx); // neither commit nor rollback
        assert_eq!(who_tokio(&client).await, fx.login);
    }

    let tx = pg::tokio_postgres::begin_as(&mut client, &role(&reader))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(who_tokio(&client).await, fx.login);
}

#[tokio::test]
async fn tokio_postgres_with_role_commits_on_ok_rolls_back_on_err_and_always_resets_the_client() {
    let fx = Fixture::new().await;
    let writer = fx.name("writer");
    fx.create_role(&writer, true).await;
    fx.docs_table(&[&writer]).await;
    let mut client = fx.app_client().await;
    let insert = format!("INSERT INTO {} VALUES ($1, $2, $3)", fx.table("docs"));
    let count = format!("SELECT count(*) FROM {} WHERE id = $1", fx.table("docs"));

    let user = pg::tokio_postgres::with_role(
        &mut client,
        &role(&writer),
        async |tx| -> Result<String, AppError<tokio_postgres::Error>> {
            tx.execute(&insert, &[&501i32, &writer, &"kept"]).await?;
            Ok(tx.query_one("SELECT current_user::text", &[]).await?.get(0))
        },
    )
    .await
    .expect("with_role Ok");
    assert_eq!(user, writer);
    assert_eq!(fx.admin_bodies(501).await, ["kept"]);
    assert_eq!(who_tokio(&client).await, fx.login);

    let result = pg::tokio_postgres::with_role(
        &mut client,
        &role(&writer),
        async |tx| -> Result<(), AppError<tokio_postgres::Error>> {
            tx.execute(&insert, &[&502i32, &writer, &"discarded"])
                .await?;
            let seen: i64 = tx.query_one(&count, &[&502i32]).await?.get(0);
            assert_eq!(seen, 1, "the insert is visible inside the transaction");
            Err(AppError::Refused)
        },
    )
    .await;
    assert!(matches!(result, Err(AppError::Refused)), "{result:?}");
    assert!(fx.admin_bodies(502).await.is_empty(), "rolled back");
    assert_eq!(who_tokio(&client).await, fx.login);

    let result = pg::tokio_postgres::with_role(
        &mut client,
        &role(&writer),
        async |tx| -> Result<(), AppError<tokio_postgres::Error>> {
            tx.execute(&insert, &[&503i32, &"someone else", &"forged"])
                .await?;
            Ok(())
        },
    )
    .await;
    match result {
        Err(AppError::Db(e)) => assert_eq!(
            e.code(),
            Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE),
            "{e}"
        ),
        other => panic!("expected a row-level security violation, got {other:?}"),
    }
    assert!(fx.admin_bodies(503).await.is_empty());
    assert_eq!(who_tokio(&client).await, fx.login);
}

#[derive(Clone)]
struct TokioApp {
    client: Arc<tokio::sync::Mutex<tokio_postgres::Client>>,
    role: PgRole,
}

/// The same Send proof for tokio-postgres: the client behind an async mutex, as apps share it.
async fn tokio_handler(State(app): State<TokioApp>) -> Result<String, StatusCode> {
    let mut client = app.client.lock().await;
    pg::tokio_postgres::with_role(&mut client, &app.role, async |tx| {
        let row = tx.query_one("SELECT current_user::text", &[]).await?;
        Ok::<String, tokio_postgres::Error>(row.get(0))
    })
    .await
    .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)
}

#[tokio::test]
async fn tokio_postgres_with_role_works_in_an_axum_handler() {
    let fx = Fixture::new().await;
    let reader = fx.name("reader");
    fx.create_role(&reader, true).await;
    let app = Router::new()
        .route("/", get(tokio_handler))
        .with_state(TokioApp {
            client: Arc::new(tokio::sync::Mutex::new(fx.app_client().await)),
            role: role(&reader),
        });
    let response = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, reader);
}

// --- names that are not plain identifiers ---------------------------------------------------

#[tokio::test]
async fn odd_role_names_with_quotes_spaces_and_non_ascii_work_with_both_drivers() {
    let fx = Fixture::new().await;
    let odd = format!("it's \"odd\" Rolle ü {}", fx.tag);
    fx.create_role(&odd, true).await;

    let pool = fx.app_pool().await;
    let mut tx = pg::sqlx::begin_as(&pool, &role(&odd))
        .await
        .expect("sqlx begin_as");
    let user: String = sqlx::query_scalar("SELECT current_user::text")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(user, odd);
    drop(tx);
    assert_eq!(who_sqlx(&pool).await.0, fx.login);

    let mut client = fx.app_client().await;
    let tx = pg::tokio_postgres::begin_as(&mut client, &role(&odd))
        .await
        .expect("tokio-postgres begin_as");
    let user: String = tx
        .query_one("SELECT current_user::text", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(user, odd);
    drop(tx);
    assert_eq!(who_tokio(&client).await, fx.login);
}

/// The injected name starts with a real role that owns the target table, so that if the name
/// were pasted into SQL unquoted, `SET LOCAL ROLE` would succeed and the `DROP TABLE` would run
/// with the right to drop it: the test can fail. (Shown at the end with naive formatting.)
#[tokio::test]
async fn an_injection_attempt_as_role_name_stays_one_identifier() {
    let fx = Fixture::new().await;
    let owner = fx.name("owner");
    fx.create_role(&owner, true).await;
    let t = fx.table("t");
    fx.exec(&format!(
        "CREATE TABLE {t} (x int); GRANT USAGE, CREATE ON SCHEMA {schema} TO {o}; ALTER TABLE {t} OWNER TO {o}",
        schema = q(&fx.schema),
        o = q(&owner),
    ))
    .await;
    let evil = role(&format!("{owner}\"; DROP TABLE {t}; --"));

    let pool = fx.app_pool().await;
    let err = pg::sqlx::begin_as(&pool, &evil).await.unwrap_err();
    let db = err.as_database_error().expect("a database error");
    assert_eq!(
        db.code().as_deref(),
        Some("22023"),
        "invalid_parameter_value, as SET ROLE reports an unknown role: {err}"
    );
    // The whole name, quotes and all, is the one role that does not exist.
    assert_eq!(
        db.message(),
        format!("role \"{}\" does not exist", evil.as_str())
    );
    assert!(fx.table_exists("t").await, "table t was dropped via sqlx");
    assert_eq!(who_sqlx(&pool).await.0, fx.login);

    let mut client = fx.app_client().await;
    let err = pg::tokio_postgres::begin_as(&mut client, &evil)
        .await
        .err()
        .expect("SET LOCAL ROLE of a role that does not exist fails");
    assert_eq!(
        err.code(),
        Some(&tokio_postgres::error::SqlState::INVALID_PARAMETER_VALUE),
        "{err}"
    );
    let message = err.as_db_error().expect("a database error").message();
    assert_eq!(
        message,
        format!("role \"{}\" does not exist", evil.as_str())
    );
    assert!(
        fx.table_exists("t").await,
        "table t was dropped via tokio-postgres"
    );
    assert_eq!(who_tokio(&client).await, fx.login);

    // The control: the same name pasted in with naive quoting does drop the table (inside a
    // transaction we roll back), so the checks above were able to fail.
    let naive = format!("SET LOCAL ROLE \"{}\"", evil.as_str());
    let tx = client.transaction().await.unwrap();
    tx.batch_execute(&naive)
        .await
        .expect("naive SQL runs both statements");
    let gone: bool = tx
        .query_one("SELECT to_regclass($1) IS NULL", &[&t])
        .await
        .unwrap()
        .get(0);
    assert!(gone, "naive formatting drops the table");
    tx.rollback().await.unwrap();
    assert!(fx.table_exists("t").await);
}

// --- check_roles ------------------------------------------------------------------------------

/// Three roles: one granted, one that exists but is not granted, one missing.
async fn gap_fixture() -> (Fixture, String, String, String) {
    let fx = Fixture::new().await;
    let (granted, ungranted, missing) =
        (fx.name("granted"), fx.name("ungranted"), fx.name("missing"));
    fx.create_role(&granted, true).await;
    fx.create_role(&ungranted, false).await;
    (fx, granted, ungranted, missing)
}

fn role_map(rules: &[(&str, &str)], default: &str) -> RoleMap {
    let mut b = RoleMap::builder();
    for (group, role) in rules {
        b = b.add_rule(*group, *role);
    }
    b.with_default_role(default).build().unwrap()
}

/// Asserts the gaps for (ungranted, missing), then runs each `fix()` as the superuser.
async fn assert_gaps_and_apply_fixes(
    fx: &Fixture,
    err: RoleCheckError,
    ungranted: &str,
    missing: &str,
) {
    let gaps = match &err {
        RoleCheckError::Gaps(gaps) => gaps,
        other => panic!("expected Gaps, got {other:?}"),
    };
    assert_eq!(gaps.len(), 2, "{err}");
    let login = q(&fx.login);
    let (u, m) = (q(ungranted), q(missing));

    assert_eq!(gaps[0].role().as_str(), ungranted);
    assert_eq!(gaps[0].kind(), RoleGapKind::NotGranted);
    assert_eq!(gaps[0].login_role(), fx.login);
    assert_eq!(gaps[0].fix(), format!("GRANT {u} TO {login};"));
    assert_eq!(gaps[1].role().as_str(), missing);
    assert_eq!(gaps[1].kind(), RoleGapKind::Missing);
    assert_eq!(
        gaps[1].fix(),
        format!("CREATE ROLE {m} NOLOGIN; GRANT {m} TO {login};")
    );

    let text = err.to_string();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(
        lines[1],
        format!("  - login role {login} cannot SET ROLE {u}; run: GRANT {u} TO {login};")
    );
    assert_eq!(
        lines[2],
        format!("  - role {m} does not exist; run: CREATE ROLE {m} NOLOGIN; GRANT {m} TO {login};")
    );

    for gap in gaps {
        fx.exec(&gap.fix()).await;
    }
}

#[tokio::test]
async fn sqlx_check_roles_reports_every_gap_with_the_sql_that_fixes_it() {
    let (fx, granted, ungranted, missing) = gap_fixture().await;
    let pool = fx.app_pool().await;

    // Spawned: the check's future is Send, so it can run in a background task.
    let ok = role_map(&[("g", &granted)], &granted);
    let pool2 = pool.clone();
    tokio::spawn(async move { pg::sqlx::check_roles(&pool2, &ok).await })
        .await
        .unwrap()
        .expect("all present and granted");

    let map = role_map(&[("g1", &granted), ("g2", &ungranted)], &missing);
    let err = pg::sqlx::check_roles(&pool, &map).await.unwrap_err();
    assert_eq!(
        who_sqlx(&pool).await.0,
        fx.login,
        "the check leaves the connection as it was"
    );
    assert_gaps_and_apply_fixes(&fx, err, &ungranted, &missing).await;
    pg::sqlx::check_roles(&pool, &map)
        .await
        .expect("the fixes were the right statements");

    // A failing query is a Database error, not a gap.
    pool.close().await;
    let err = pg::sqlx::check_roles(&pool, &map).await.unwrap_err();
    assert!(matches!(err, RoleCheckError::Database(_)), "{err:?}");
    assert!(std::error::Error::source(&err).is_some());
}

#[tokio::test]
async fn tokio_postgres_check_roles_reports_every_gap_with_the_sql_that_fixes_it() {
    let (fx, granted, ungranted, missing) = gap_fixture().await;
    let mut client = fx.app_client().await;

    let ok = role_map(&[("g", &granted)], &granted);
    let (result, mut client) = tokio::spawn(async move {
        (
            pg::tokio_postgres::check_roles(&mut client, &ok).await,
            client,
        )
    })
    .await
    .unwrap();
    result.expect("all present and granted");

    let map = role_map(&[("g1", &granted), ("g2", &ungranted)], &missing);
    let err = pg::tokio_postgres::check_roles(&mut client, &map)
        .await
        .unwrap_err();
    assert_eq!(who_tokio(&client).await, fx.login);
    assert_gaps_and_apply_fixes(&fx, err, &ungranted, &missing).await;
    pg::tokio_postgres::check_roles(&mut client, &map)
        .await
        .expect("the fixes were the right statements");
}
