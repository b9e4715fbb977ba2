//! The provider itself: the [`DevIdp`] builder, its router, and [`RunningDevIdp`] for one
//! served on a loopback port.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::Router;

use crate::client::DevClient;
use crate::clock::{Clock, SystemClock};
use crate::keys::SigningKey;
use crate::params::MAX_PARAMS;
use crate::store::Store;
use crate::user::DevUser;
use crate::{authorize, discovery, end_session, keys, token, userinfo};

/// A development OpenID provider: configure it, then serve [`router`](Self::router) under the
/// issuer's path, or let [`spawn`](Self::spawn) serve it on a loopback port.
///
/// Clones share the signing key and the issued codes and tokens.
#[derive(Clone)]
#[must_use]
pub struct DevIdp {
    pub(crate) issuer: String,
    pub(crate) clients: Vec<DevClient>,
    pub(crate) users: Vec<DevUser>,
    pub(crate) key: Arc<SigningKey>,
    store: Arc<Mutex<Store>>,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for DevIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIdp")
            .field("issuer", &self.issuer)
            .field("clients", &self.clients)
            .field("users", &self.users)
            .field("kid", &self.key.kid)
            .finish_non_exhaustive()
    }
}

impl DevIdp {
    /// A provider with the issuer identifier `issuer` (the URL its routes are served under, e.g.
    /// `http://127.0.0.1:3000/dev-idp`), a fresh ES256 key, and no clients or users yet.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            clients: Vec::new(),
            users: Vec::new(),
            key: Arc::new(SigningKey::generate()),
            store: Arc::new(Mutex::new(Store::default())),
            clock: Arc::new(SystemClock),
        }
    }

    /// Registers a client. A client registered again under the same id replaces the first.
    pub fn with_client(mut self, client: DevClient) -> Self {
        self.clients.retain(|c| c.id != client.id);
        self.clients.push(client);
        self
    }

    /// Adds a test user. A user added again under the same subject replaces the first.
    pub fn with_user(mut self, user: DevUser) -> Self {
        self.users.retain(|u| u.subject != user.subject);
        self.users.push(user);
        self
    }

    /// Adds the default test users, `alice`, `bob` and `mallory` (see [`DevUser::defaults`]).
    pub fn with_default_users(self) -> Self {
        DevUser::defaults().into_iter().fold(self, Self::with_user)
    }

    /// The clock for code, token and ID token lifetimes (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The issuer identifier, exactly as configured.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The test users, in the order the picker shows them.
    pub fn users(&self) -> &[DevUser] {
        &self.users
    }

    /// The provider's routes, relative to the issuer's path: nest them there, e.g.
    /// `.nest("/dev-idp", idp.router())` for the issuer `http://127.0.0.1:3000/dev-idp`.
    ///
    /// `/.well-known/openid-configuration`, `/jwks`, `/authorize` (GET shows the picker, POST
    /// takes the choice), `/token`, `/userinfo` and `/logout`.
    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/.well-known/openid-configuration",
                get(discovery::discovery),
            )
            .route("/jwks", get(keys::jwks))
            .route(
                "/authorize",
                get(authorize::authorize_get).post(authorize::authorize_post),
            )
            .route("/token", post(token::token))
            .route(
                "/userinfo",
                get(userinfo::userinfo).post(userinfo::userinfo),
            )
            .route(
                "/logout",
                get(end_session::logout).post(end_session::logout),
            )
            .layer(DefaultBodyLimit::max(MAX_PARAMS))
            .with_state(Arc::new(self.clone()))
    }

    /// Starts a provider on `127.0.0.1` at a free port, with the issuer
    /// `http://127.0.0.1:{port}`; `configure` adds its clients and users. It runs on the current
    /// tokio runtime until the returned handle is dropped or [shut down](RunningDevIdp::shutdown).
    pub async fn spawn(configure: impl FnOnce(DevIdp) -> DevIdp) -> io::Result<RunningDevIdp> {
        let listener = tokio::net::TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let idp = configure(DevIdp::new(format!("http://{addr}")));
        let issuer = idp.issuer.clone();
        let app = idp.router();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = rx.await;
                })
                .await;
            if let Err(err) = served {
                tracing::warn!(target: "tower_oidc_dev_idp", error = %err, "the development IdP stopped");
            }
        });
        tracing::info!(target: "tower_oidc_dev_idp", %issuer, "development IdP listening");
        Ok(RunningDevIdp {
            issuer,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    pub(crate) fn client(&self, id: &str) -> Option<&DevClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    pub(crate) fn user(&self, subject: &str) -> Option<&DevUser> {
        self.users.iter().find(|u| u.subject == subject)
    }

    pub(crate) fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.issuer.trim_end_matches('/'))
    }

    pub(crate) fn store(&self) -> MutexGuard<'_, Store> {
        // The store holds plain data that every update leaves consistent, so a panic elsewhere
        // while the lock was held does not make it unusable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.unix_seconds()
    }
}

/// A [`DevIdp`] started by [`DevIdp::spawn`]. Dropping it stops the server.
pub struct RunningDevIdp {
    issuer: String,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl RunningDevIdp {
    /// The issuer identifier, `http://127.0.0.1:{port}`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The address the provider listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting connections and waits until the open ones are finished.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for RunningDevIdp {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

impl fmt::Debug for RunningDevIdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RunningDevIdp")
            .field("issuer", &self.issuer)
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn spawned_idp_serves_discovery_on_loopback() {
        let idp = DevIdp::spawn(|idp| idp.with_default_users()).await.unwrap();
        assert!(idp.issuer().starts_with("http://127.0.0.1:"));
        let body = reqwest::get(format!("{}/.well-known/openid-configuration", idp.issuer()))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(doc["issuer"], idp.issuer());
        assert_eq!(doc["token_endpoint"], format!("{}/token", idp.issuer()));
        idp.shutdown().await;
    }

    #[test]
    fn debug_redacts_client_secrets() {
        let idp = DevIdp::new(ISSUER).with_client(DevClient::new("app", "top-secret-value"));
        let dbg = format!("{idp:?}");
        assert!(!dbg.contains("top-secret-value"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
    }
}
