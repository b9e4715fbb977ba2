//! Just-in-time provisioning: a login hook gives every user a row in the app's own `users`
//! table, keyed by (issuer, subject), and puts that row's id in the session.
//!
//! ```text
//! psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/provisioning.sql
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --example provisioning --features sqlx
//! ```
//!
//! Then open <http://127.0.0.1:3000/> and sign in as alice, bob or mallory: the first login
//! creates the user's row, each later one counts up `logins` on the same row.
//!
//! - The SQL is run by the operator, not by the app: the app only needs `SELECT`, `INSERT`
//!   and `UPDATE` on `provisioning_demo.users`. At startup it checks that the table is there
//!   and that it may write it, and exits naming the file or the `GRANT` when not.
//! - With `OIDC_AUTO_PROVISION=false` the hook creates no rows: only users who already have
//!   one (added by an administrator, by issuer and subject) get in; the others see a 403
//!   page that tells them to ask for an account.
//! - Without `OIDC_ISSUER_URL`, a development IdP with those three users starts on a free
//!   loopback port; with `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET` the app
//!   signs in there instead. Every other `OIDC_*` variable applies in both cases.
//! - `GET /` shows the app's user and the identity as HTML; `GET /api/me` as JSON.

use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tower_oidc::{Identity, LoginAttempt, LoginDecision, OidcConfig, OidcConfigBuilder, OidcLayer};
use tower_oidc_dev_idp::{DevClient, DevIdp};

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";

/// The claim the hook adds to [`Identity::claims`]: the id of the user's row.
pub const USER_ID_CLAIM: &str = "user_id";

/// What a user without a row sees when auto-provisioning is off.
pub const NOT_REGISTERED: &str =
    "Your account is not registered in this application; ask an administrator to add you.";

/// What a user sees when the users table cannot be read or written; the cause goes to the log.
pub const UNAVAILABLE: &str =
    "Signing in is not possible right now: the application cannot reach its user records. Try again in a moment.";

/// First login: a new row. Later logins: the same row, found by (issuer, subject), with the
/// email and name refreshed from the provider. The email is stored, never matched.
/// Parameters: issuer, subject, email, name.
pub const UPSERT: &str = "\
    INSERT INTO provisioning_demo.users AS u \
        (issuer, subject, email, name, first_login, last_login, logins) \
    VALUES ($1, $2, $3, $4, now(), now(), 1) \
    ON CONFLICT (issuer, subject) DO UPDATE SET \
        email = EXCLUDED.email, name = EXCLUDED.name, \
        first_login = coalesce(u.first_login, now()), last_login = now(), \
        logins = u.logins + 1 \
    RETURNING id";

/// Auto-provisioning off: only an existing row is updated; no row, no login. Parameters as
/// [`UPSERT`].
pub const UPDATE_KNOWN: &str = "\
    UPDATE provisioning_demo.users SET \
        email = $3, name = $4, \
        first_login = coalesce(first_login, now()), last_login = now(), \
        logins = logins + 1 \
    WHERE issuer = $1 AND subject = $2 \
    RETURNING id";

/// The login hook's work: finds or creates the user's row and lets them in with its id as
/// the [`USER_ID_CLAIM`] claim, or refuses. Never panics: a database error refuses the login
/// with [`UNAVAILABLE`] and logs the cause.
pub async fn provision(pool: &PgPool, attempt: &LoginAttempt) -> LoginDecision {
    let who = attempt.identity();
    let query = if attempt.auto_provision() {
        UPSERT
    } else {
        UPDATE_KNOWN
    };
    let row: Result<Option<i64>, sqlx::Error> = sqlx::query_scalar(query)
        .bind(who.issuer())
        .bind(who.subject())
        .bind(who.email())
        .bind(who.name())
        .fetch_optional(pool)
        .await;
    match row {
        Ok(Some(id)) => {
            let mut extra = Map::new();
            extra.insert(USER_ID_CLAIM.to_owned(), Value::from(id));
            LoginDecision::AllowWith(extra)
        }
        Ok(None) => LoginDecision::refuse(NOT_REGISTERED),
        Err(err) => {
            tracing::error!(
                issuer = who.issuer(),
                subject = who.subject(),
                error = %err,
                "cannot provision the user; login refused"
            );
            LoginDecision::refuse(UNAVAILABLE)
        }
    }
}

/// Installs [`provision`] as the login hook of `builder`.
pub fn with_provisioning(builder: OidcConfigBuilder, pool: PgPool) -> OidcConfigBuilder {
    builder.with_login_hook(move |attempt: LoginAttempt| {
        let pool = pool.clone();
        async move { provision(&pool, &attempt).await }
    })
}

/// The app's user id that the login hook put in the session, if any.
pub fn user_id(identity: &Identity) -> Option<i64> {
    identity
        .app_data()
        .get(USER_ID_CLAIM)
        .and_then(Value::as_i64)
}

/// The startup check: the table exists and this login role may read and write it. The error
/// names the fix.
pub async fn check_table(pool: &PgPool) -> Result<(), String> {
    // From the catalogs, by OID: every role may read them, and no name lookup is refused for
    // want of USAGE on the schema. One privilege per call: given a list, has_table_privilege
    // is true when ANY of them is held. NULL: no such table.
    let (role, allowed): (String, Option<bool>) = sqlx::query_as(
        "SELECT current_user::text, \
             (SELECT has_schema_privilege(n.oid, 'USAGE') \
                 AND has_table_privilege(c.oid, 'SELECT') \
                 AND has_table_privilege(c.oid, 'INSERT') \
                 AND has_table_privilege(c.oid, 'UPDATE') \
              FROM pg_catalog.pg_class c \
              JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
              WHERE n.nspname = 'provisioning_demo' AND c.relname = 'users')",
    )
    .fetch_one(pool)
    .await
    .map_err(|err| format!("DATABASE_URL: cannot query the database: {err}"))?;
    match allowed {
        Some(true) => Ok(()),
        None => Err("the table provisioning_demo.users does not exist: run \
             `psql \"$DATABASE_URL\" -f examples/provisioning.sql` as a role that may create a schema"
            .to_owned()),
        Some(false) => {
            let role = role.replace('"', "\"\"");
            Err(format!(
                "the login role \"{role}\" may not write provisioning_demo.users: run \
                 GRANT USAGE ON SCHEMA provisioning_demo TO \"{role}\"; \
                 GRANT SELECT, INSERT, UPDATE ON provisioning_demo.users TO \"{role}\";"
            ))
        }
    }
}

/// The app's routes; wrap them in an `OidcLayer` whose config has [`with_provisioning`].
pub fn app(pool: PgPool) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/me", get(me))
        .with_state(pool)
}

/// The signed-in user's row, read by the id in the session and checked against the identity.
enum Account {
    Found {
        id: i64,
        logins: i32,
    },
    /// No id in the session (the login hook did not run), or the row is gone.
    Missing,
}

async fn account(pool: &PgPool, identity: &Identity) -> Result<Account, sqlx::Error> {
    let Some(id) = user_id(identity) else {
        return Ok(Account::Missing);
    };
    let logins: Option<i32> = sqlx::query_scalar(
        "SELECT logins FROM provisioning_demo.users WHERE id = $1 AND issuer = $2 AND subject = $3",
    )
    .bind(id)
    .bind(identity.issuer())
    .bind(identity.subject())
    .fetch_optional(pool)
    .await?;
    Ok(logins.map_or(Account::Missing, |logins| Account::Found { id, logins }))
}

fn database_error(err: sqlx::Error) -> Response {
    eprintln!("database error: {err}");
    (StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response()
}

const MISSING: &str =
    "This application has no user record for your session; sign out and in again.";

async fn me(State(pool): State<PgPool>, identity: Identity) -> Response {
    match account(&pool, &identity).await {
        Ok(Account::Found { id, logins }) => Json(json!({
            "user_id": id,
            "subject": identity.subject(),
            "issuer": identity.issuer(),
            "email": identity.email(),
            "logins": logins,
        }))
        .into_response(),
        Ok(Account::Missing) => (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "no_user_record", "message": MISSING })),
        )
            .into_response(),
        Err(err) => database_error(err),
    }
}

async fn page(State(pool): State<PgPool>, identity: Identity) -> Response {
    let (id, logins) = match account(&pool, &identity).await {
        Ok(Account::Found { id, logins }) => (id, logins),
        Ok(Account::Missing) => return (StatusCode::FORBIDDEN, MISSING).into_response(),
        Err(err) => return database_error(err),
    };
    let who = identity.name().unwrap_or(identity.subject());
    let row = |k: &str, v: &str| format!("<tr><th>{k}</th><td>{}</td></tr>", escape(v));
    let rows = [
        row("subject", identity.subject()),
        row("issuer", identity.issuer()),
        row("provider", identity.provider()),
        row("email", identity.email().unwrap_or("")),
        row("name", identity.name().unwrap_or("")),
        row("groups", &identity.groups().join(", ")),
    ]
    .concat();
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Your account</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto\">\
         <h1>Hello, {who}</h1>\
         <p>You are user <strong id=\"user-id\">{id}</strong> of this application \
         (row <code>provisioning_demo.users.id = {id}</code>), signed in {logins} time(s).</p>\
         <table>{rows}</table>\
         <p><a href=\"/api/me\">As JSON</a> · <a href=\"/auth/logout\">Sign out</a></p></body></html>",
        who = escape(who),
    ))
    .into_response()
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let Some(database_url) = var("DATABASE_URL") else {
        eprintln!(
            "DATABASE_URL is not set: run examples/provisioning.sql, then set \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        return ExitCode::from(2);
    };
    let base_url = var("BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());

    let pool = match PgPoolOptions::new()
        .max_connections(5)
        .connect(&database_url)
        .await
    {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("DATABASE_URL: cannot connect: {err}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(err) = check_table(&pool).await {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }

    // The identity provider: yours from the environment, or a development one. Both read
    // every other variable (OIDC_AUTO_PROVISION among them) from the environment.
    let mut dev_idp = None;
    let builder = if var("OIDC_ISSUER_URL").is_some() {
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            _ => var(key),
        })
    } else {
        let secret = "provisioning-example-secret";
        let redirect = format!("{}/auth/callback", base_url.trim_end_matches('/'));
        let idp = match DevIdp::spawn(|idp| {
            idp.with_client(DevClient::new("provisioning", secret).add_redirect_uri(&redirect))
                .with_default_users()
        })
        .await
        {
            Ok(idp) => idp,
            Err(err) => {
                eprintln!("cannot start the development IdP: {err}");
                return ExitCode::FAILURE;
            }
        };
        let issuer = idp.issuer().to_owned();
        dev_idp = Some(idp);
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            "OIDC_ISSUER_URL" => Some(issuer.clone()),
            "OIDC_CLIENT_ID" => Some("provisioning".to_owned()),
            "OIDC_CLIENT_SECRET" => Some(secret.to_owned()),
            _ => var(key),
        })
        // Without OIDC_COOKIE_KEY, sessions live as long as this demo: a random key.
        .allow_random_cookie_key(true)
    };
    let config = match with_provisioning(builder, pool.clone()).build() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };

    let listen = base_url
        .trim_end_matches('/')
        .rsplit("//")
        .next()
        .unwrap_or("127.0.0.1:3000")
        .to_owned();
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {listen} (from BASE_URL): {err}");
            return ExitCode::FAILURE;
        }
    };
    println!(
        "provisioning example on {base_url}/ (redirect URI {})",
        config.redirect_uri()
    );
    for provider in config.providers() {
        println!(
            "provider {}: auto-provisioning {}",
            provider.slug(),
            if provider.auto_provision() {
                "on (first login creates the user)"
            } else {
                "off (only users with a row get in)"
            },
        );
    }
    if let Some(idp) = &dev_idp {
        println!(
            "development IdP at {}: sign in as alice, bob or mallory",
            idp.issuer()
        );
    }
    let app = app(pool).layer(OidcLayer::new(config));
    if let Err(err) = axum::serve(listener, app).await {
        eprintln!("server error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
