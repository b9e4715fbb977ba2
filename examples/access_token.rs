//! Calling an API on the user's behalf: the handler takes the session's [`AccessToken`] and
//! calls the provider's userinfo endpoint with it. With refresh on, the token handed over is
//! always current: a token due for renewal is refreshed before the request reaches the handler.
//!
//! ```text
//! OIDC_ISSUER_URL=https://id.example.com OIDC_CLIENT_ID=app OIDC_CLIENT_SECRET=... \
//! OIDC_SESSION_STORE=memory OIDC_REFRESH=true BASE_URL=http://127.0.0.1:3000 \
//! cargo run --example access_token
//! ```
//!
//! Routes: `GET /api/userinfo` (the provider's userinfo for the signed-in user, fetched with
//! their access token; 401 without a session, 502 when the provider refuses), and the layer's
//! `/auth/*`. Access tokens are kept only with a server-side store (`OIDC_SESSION_STORE`).

use std::process::ExitCode;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;
use tower_oidc::{AccessToken, OidcConfig, OidcLayer};

/// The HTTP client and the provider's userinfo endpoint, from its discovery document.
#[derive(Clone)]
struct Userinfo {
    http: reqwest::Client,
    endpoint: String,
}

/// The provider's userinfo for the request's user, asked with their access token.
async fn userinfo(
    State(u): State<Userinfo>,
    token: AccessToken,
) -> Result<Json<Value>, StatusCode> {
    let res = u
        .http
        .get(&u.endpoint)
        .bearer_auth(token.expose())
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if !res.status().is_success() {
        return Err(StatusCode::BAD_GATEWAY);
    }
    let body = res.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    serde_json::from_str(&body)
        .map(Json)
        .map_err(|_| StatusCode::BAD_GATEWAY)
}

/// The userinfo endpoint named by `issuer`'s discovery document.
async fn discover(http: &reqwest::Client, issuer: &str) -> Result<String, String> {
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let body = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?
        .text()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let doc: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))?;
    doc["userinfo_endpoint"]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{url} names no userinfo_endpoint"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let config = match OidcConfig::from_env() {
        Ok(config) => config,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let issuer = std::env::var("OIDC_ISSUER_URL").unwrap_or_default();
    let base = std::env::var("BASE_URL").unwrap_or_default();
    let http = reqwest::Client::new();
    let endpoint = match discover(&http, &issuer).await {
        Ok(endpoint) => endpoint,
        Err(e) => {
            eprintln!("discovery: {e}");
            return ExitCode::FAILURE;
        }
    };
    let app = Router::new()
        .route("/api/userinfo", get(userinfo))
        .with_state(Userinfo { http, endpoint })
        .layer(OidcLayer::new(config));
    let listen = base
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("cannot listen on {listen} (from BASE_URL): {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("listening on {base}");
    if let Err(e) = axum::serve(listener, app).await {
        eprintln!("server error: {e}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
