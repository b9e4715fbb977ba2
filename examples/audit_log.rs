//! An audit trail in PostgreSQL: every sign-in, failed sign-in, refusal and sign-out becomes
//! a row of `audit_demo.auth_audit_log` (tududi's table: event, user, IP address, user agent,
//! metadata, time).
//!
//! ```text
//! psql "postgres://postgres@127.0.0.1:5432/postgres" -f examples/audit_log.sql
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo run --example audit_log --features sqlx
//! ```
//!
//! Then open <http://127.0.0.1:3000/>, sign in as alice, bob or mallory (refused), sign out,
//! and read the table. Without `OIDC_ISSUER_URL` a development IdP with those users starts on
//! a free loopback port; with `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID` and `OIDC_CLIENT_SECRET`
//! the app signs in there instead. Behind a reverse proxy, set `OIDC_TRUSTED_PROXIES` to its
//! address so that the client's address is the one the proxy forwards.
//!
//! [`PgAuditSink`] is the part to copy: `record` runs inside the request, so it only puts the
//! event on a bounded channel; one task writes the rows. When the channel is full (the
//! database is down or slow), events are dropped and counted in the log rather than slowing
//! down or failing sign-ins.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use axum::routing::get;
use axum::Router;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::sync::mpsc;
use tower_oidc::{AuditEvent, AuditSink, Identity, OidcConfig, OidcLayer};
use tower_oidc_dev_idp::{DevClient, DevIdp};

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";

/// How many events may wait for the writer.
const QUEUE: usize = 1024;

/// One row. Parameters: event, subject, address (text, cast to inet), user agent, metadata
/// (JSON text, cast to jsonb), time (Unix seconds).
pub const INSERT: &str = "\
    INSERT INTO audit_demo.auth_audit_log \
        (event_type, user_id, ip_address, user_agent, metadata, created_at) \
    VALUES ($1, $2, $3::inet, $4, $5::jsonb, to_timestamp($6))";

/// An [`AuditSink`] writing rows to `audit_demo.auth_audit_log` through a background task.
#[derive(Debug, Clone)]
pub struct PgAuditSink {
    queue: mpsc::Sender<AuditEvent>,
    dropped: Arc<AtomicU64>,
}

impl PgAuditSink {
    /// The sink, and the task writing its rows to `pool` (running until every sink is gone).
    pub fn spawn(pool: PgPool) -> (Self, tokio::task::JoinHandle<()>) {
        let (queue, mut events) = mpsc::channel::<AuditEvent>(QUEUE);
        let writer = tokio::spawn(async move {
            while let Some(event) = events.recv().await {
                if let Err(err) = write(&pool, &event).await {
                    tracing::error!(error = %err, event = event.kind.as_str(), "cannot write the audit row");
                }
            }
        });
        let dropped = Arc::default();
        (Self { queue, dropped }, writer)
    }
}

impl AuditSink for PgAuditSink {
    fn record(&self, event: &AuditEvent) {
        if self.queue.try_send(event.clone()).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::error!(
                dropped = n,
                event = event.kind.as_str(),
                "audit queue full: event dropped"
            );
        }
    }
}

/// Inserts one event.
pub async fn write(pool: &PgPool, e: &AuditEvent) -> Result<(), sqlx::Error> {
    let at =
        e.at.duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
    let metadata = json!({
        "provider": e.provider,
        "issuer": e.issuer,
        "error": e.error.map(|k| k.as_str()),
    });
    sqlx::query(INSERT)
        .bind(e.kind.as_str())
        .bind(e.subject.as_deref())
        .bind(e.client_ip.map(|ip| ip.to_string()))
        .bind(e.user_agent.as_deref())
        .bind(metadata.to_string())
        .bind(at)
        .execute(pool)
        .await
        .map(|_| ())
}

/// The app's routes: `/` shows who you are.
pub fn app() -> Router {
    Router::new().route(
        "/",
        get(|me: Identity| async move {
            format!(
                "Signed in as {}. Sign out at /auth/logout; every step is in audit_demo.auth_audit_log.",
                me.subject()
            )
        }),
    )
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
            "DATABASE_URL is not set: run examples/audit_log.sql, then set \
             DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres"
        );
        return ExitCode::from(2);
    };
    let pool = match PgPoolOptions::new()
        .max_connections(2)
        .connect(&database_url)
        .await
    {
        Ok(pool) => pool,
        Err(err) => {
            eprintln!("DATABASE_URL: cannot connect: {err}");
            return ExitCode::FAILURE;
        }
    };
    let base_url = var("BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let (sink, _writer) = PgAuditSink::spawn(pool);

    // Your provider from the environment, or a development one on a free loopback port.
    let mut dev_idp = None;
    let builder = if var("OIDC_ISSUER_URL").is_some() {
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            _ => var(key),
        })
    } else {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(err) => {
                eprintln!("cannot start the development IdP: {err}");
                return ExitCode::FAILURE;
            }
        };
        let issuer = match listener.local_addr() {
            Ok(addr) => format!("http://{addr}"),
            Err(err) => {
                eprintln!("cannot start the development IdP: {err}");
                return ExitCode::FAILURE;
            }
        };
        let secret = "audit-log-example-secret";
        let callback = format!("{base_url}/auth/callback");
        let idp = DevIdp::new(&issuer)
            .with_client(DevClient::new("audit-log", secret).add_redirect_uri(&callback))
            .with_default_users();
        dev_idp = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, idp.router()).await;
        }));
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            _ => var(key),
        })
        .with_issuer(issuer)
        .with_client_id("audit-log")
        .with_client_secret(secret)
        .allow_random_cookie_key(true)
    };
    let config = match builder.with_audit_sink(sink).build() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return ExitCode::from(2);
        }
    };
    let listen = base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!("cannot listen on {listen} (from BASE_URL): {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("audit_log example: open {base_url}/");
    // With connect info: the audit rows get the client's address.
    let app = app()
        .layer(OidcLayer::new(config))
        .into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, app).await;
    drop(dev_idp);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("server error: {err}");
            ExitCode::FAILURE
        }
    }
}
