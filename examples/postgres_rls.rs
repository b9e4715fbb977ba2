//! Every request runs inside a PostgreSQL transaction as the signed-in user's role, and
//! row-level security decides which rows that role sees.
//!
//! ```text
//! psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/postgres_rls.sql
//! DATABASE_URL=postgres://rls_app:rls_app@127.0.0.1:5432/postgres \
//!     cargo run --example postgres_rls --features sqlx
//! ```
//!
//! Then open <http://127.0.0.1:3000/> and sign in as alice (role `app_admin`: all four
//! documents), bob (`app_reader`: the two shared ones) or mallory (no role: 403).
//!
//! - The role map is `examples/quickstart.toml` unless `OIDC_CONFIG_FILE` names another file.
//! - Without `OIDC_ISSUER_URL`, a development IdP with those three users starts on a free
//!   loopback port; with `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET` the app
//!   signs in there instead.
//! - At startup the app checks that its login role (`rls_app`) may `SET ROLE` to every role
//!   of the map, and exits with the `GRANT` to run when it may not.
//! - `GET /` shows the documents as HTML; `GET /api/documents` as JSON.

use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgConnection, PgPool};
use tower_oidc::{pg, Identity, OidcConfig, OidcLayer, PgRole};
use tower_oidc_dev_idp::{DevClient, DevIdp};

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";
const ROLE_MAP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.toml");

/// One row of `rls_demo.documents` that the user's role may see.
#[derive(Debug, Serialize)]
pub struct Document {
    /// The primary key.
    pub id: i32,
    /// The title.
    pub title: String,
    /// Who it is for: `everyone` or `admins`; the policies read this.
    pub audience: String,
}

/// What one request read, as the user's role.
#[derive(Debug, Serialize)]
pub struct Visible {
    /// `current_user` inside the transaction: the user's role, not the login role.
    pub current_user: String,
    /// The rows row-level security let through.
    pub documents: Vec<Document>,
}

/// The app's routes; wrap them in an `OidcLayer`.
pub fn app(pool: PgPool) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/api/documents", get(api))
        .with_state(pool)
}

/// Reads the documents in a transaction as `role` (`SET LOCAL ROLE`), so that row-level
/// security applies and the pooled connection returns to the login role afterwards.
pub async fn visible(pool: &PgPool, role: &PgRole) -> Result<Visible, sqlx::Error> {
    pg::sqlx::with_role(pool, role, async |conn: &mut PgConnection| {
        let current_user: String = sqlx::query_scalar("SELECT current_user::text")
            .fetch_one(&mut *conn)
            .await?;
        let rows: Vec<(i32, String, String)> =
            sqlx::query_as("SELECT id, title, audience FROM rls_demo.documents ORDER BY id")
                .fetch_all(&mut *conn)
                .await?;
        let documents = rows
            .into_iter()
            .map(|(id, title, audience)| Document {
                id,
                title,
                audience,
            })
            .collect();
        Ok(Visible {
            current_user,
            documents,
        })
    })
    .await
}

fn database_error(err: sqlx::Error) -> Response {
    eprintln!("database error: {err}");
    (StatusCode::INTERNAL_SERVER_ERROR, "database error").into_response()
}

async fn api(State(pool): State<PgPool>, role: PgRole) -> Response {
    match visible(&pool, &role).await {
        Ok(v) => Json(serde_json::json!({
            "role": role.as_str(),
            "current_user": v.current_user,
            "documents": v.documents,
        }))
        .into_response(),
        Err(err) => database_error(err),
    }
}

async fn page(State(pool): State<PgPool>, identity: Identity, role: PgRole) -> Response {
    let v = match visible(&pool, &role).await {
        Ok(v) => v,
        Err(err) => return database_error(err),
    };
    let rows: String = v
        .documents
        .iter()
        .map(|d| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                d.id,
                escape(&d.title),
                escape(&d.audience)
            )
        })
        .collect();
    let who = identity.name().unwrap_or(identity.subject());
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Documents</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto\">\
         <h1>Documents for {who}</h1>\
         <p>This request ran as the PostgreSQL role <code>{role}</code> (<code>current_user</code> = \
         <code>{current}</code>); row-level security shows it {n} document(s).</p>\
         <table><tr><th>id</th><th>title</th><th>audience</th></tr>{rows}</table>\
         <p><a href=\"/auth/logout\">Sign out</a></p></body></html>",
        who = escape(who),
        role = escape(role.as_str()),
        current = escape(&v.current_user),
        n = v.documents.len(),
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
            "DATABASE_URL is not set: run examples/postgres_rls.sql as a superuser, then set \
             DATABASE_URL=postgres://rls_app:rls_app@127.0.0.1:5432/postgres"
        );
        return ExitCode::from(2);
    };
    let base_url = var("BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let config_file = var("OIDC_CONFIG_FILE").unwrap_or_else(|| ROLE_MAP.to_owned());

    // The identity provider: yours from the environment, or a development one.
    let mut dev_idp = None;
    let builder = if var("OIDC_ISSUER_URL").is_some() {
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            "OIDC_CONFIG_FILE" => Some(config_file.clone()),
            _ => var(key),
        })
    } else {
        let secret = "postgres-rls-example-secret";
        let redirect = format!("{}/auth/callback", base_url.trim_end_matches('/'));
        let idp = match DevIdp::spawn(|idp| {
            idp.with_client(DevClient::new("postgres-rls", secret).add_redirect_uri(&redirect))
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
        let builder = OidcConfig::builder()
            .with_config_file(&config_file)
            .with_issuer(idp.issuer())
            .with_client_id("postgres-rls")
            .with_client_secret(secret)
            .with_base_url(&base_url)
            // Sessions live as long as this demo: a random key for this process.
            .allow_random_cookie_key(true);
        dev_idp = Some(idp);
        builder
    };
    let config = match builder.build() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let Some(roles) = config.role_map() else {
        eprintln!(
            "OIDC_CONFIG_FILE: {config_file} has no [roles] table; this example needs a role map"
        );
        return ExitCode::from(2);
    };

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
    // The startup check: every role of the map exists and the login role may switch to it.
    if let Err(err) = pg::sqlx::check_roles(&pool, roles).await {
        eprintln!("{err}");
        return ExitCode::FAILURE;
    }

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
        "postgres_rls example on {base_url}/ (redirect URI {})",
        config.redirect_uri()
    );
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
