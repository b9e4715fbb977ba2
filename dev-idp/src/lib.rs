//! A small OpenID provider that runs inside your process, for demos and tests.
//!
//! **For development only.** It signs anyone in as any of its test users, without a password.
//! Never expose it on a network.
//!
//! What it does check is what a real provider checks, so that an app which works against it has
//! not been let off lightly: registered clients and exact redirect URIs (RFC 6749 3.1.2, an
//! unregistered one gets an error page, never a redirect), `response_type=code`, the `openid`
//! scope, PKCE with `S256` (RFC 7636), one-time authorization codes valid for 60 seconds and
//! bound to the client, redirect URI, PKCE challenge and nonce (a second redemption also revokes
//! the tokens of the first, RFC 6749 4.1.2), client authentication by `client_secret_basic` or
//! `client_secret_post` compared in constant time, the RFC 9207 `iss` parameter on every
//! authorization response, ES256-signed ID tokens, bearer-token userinfo, and RP-initiated
//! logout to registered post-logout redirect URIs only.
//!
//! It keeps no login session: every authorization request shows the user picker.
//!
//! It is the provider of `tower-oidc`'s quickstart and tests, and works with any OpenID Connect
//! relying party: it does not depend on `tower-oidc`. Add it where your tests can use it:
//!
//! ```toml
//! [dev-dependencies]
//! tower-oidc-dev-idp = "0.1"
//! ```
//!
//! Nested in your app's router, beside the app (the quickstart example does this):
//!
//! ```
//! use axum::Router;
//! use tower_oidc_dev_idp::{DevClient, DevIdp};
//!
//! let idp = DevIdp::new("http://127.0.0.1:3000/dev-idp")
//!     .with_client(
//!         DevClient::new("quickstart", "a-random-secret")
//!             .add_redirect_uri("http://127.0.0.1:3000/auth/callback")
//!             .add_post_logout_redirect_uri("http://127.0.0.1:3000/public"),
//!     )
//!     .with_default_users();
//! // The IdP's routes go after the `OidcLayer`, so that they are not behind it.
//! let app: Router = Router::new().nest("/dev-idp", idp.router());
//! ```
//!
//! On a port of its own, with your own test users (handy in integration tests):
//!
//! ```
//! use tower_oidc_dev_idp::{DevClient, DevIdp, DevUser};
//!
//! # async fn demo() -> std::io::Result<()> {
//! let idp = DevIdp::spawn(|idp| {
//!     idp.with_client(DevClient::new("app", "s3cr3t").add_redirect_uri("http://127.0.0.1:8080/auth/callback"))
//!         .with_user(DevUser::new("carol").with_name("Carol Example").with_email("carol@example.org", true).add_group("auditors"))
//! })
//! .await?;
//! println!("issuer: {}", idp.issuer());
//! idp.shutdown().await; // or just drop it
//! # Ok(())
//! # }
//! ```
//!
//! The routes, one module each: `/.well-known/openid-configuration` (discovery), `/jwks` (the
//! signing key), `/authorize` (the user picker), `/token` (with client authentication),
//! `/userinfo` and `/logout` (end session). Its `tracing` events have the target
//! `tower_oidc_dev_idp`.

mod authorize;
mod client;
mod client_auth;
mod clock;
mod discovery;
mod end_session;
mod idp;
mod keys;
mod pages;
mod params;
mod picker;
mod response;
mod store;
#[cfg(test)]
mod test_support;
mod token;
mod user;
mod userinfo;

pub use client::DevClient;
pub use clock::{Clock, SystemClock};
pub use idp::{DevIdp, RunningDevIdp};
pub use user::DevUser;
