//! [`OidcLayer`]: the Tower layer that puts a service behind OpenID Connect sign-in.

use std::fmt;
use std::sync::Arc;

use tower_layer::Layer;

use crate::config::OidcConfig;
#[cfg(feature = "test-util")]
use crate::identity::Identity;
use crate::service::Oidc;
use crate::shared::Shared;
use crate::store::{SessionsError, UserSession};

/// Puts the wrapped service behind OpenID Connect single sign-on.
///
/// Cloning is cheap: clones share the provider cache (discovery, keys) and cookie keys.
///
/// What the process remembers about logins and sessions (the spent `state`s that stop a
/// replayed callback, the sessions ended by logout, the cache of opened sessions) belongs to
/// the [`OidcConfig`]: every layer built from one configuration or a clone of it shares it, so
/// `OidcLayer::new(config.clone())` for a second router is safe. A configuration built
/// separately (a second `OidcConfig::from_env()`) remembers separately, like another process:
/// build the configuration once and clone it, or build one layer and clone that.
///
/// ```no_run
/// use axum::{routing::get, Router};
/// use tower_oidc::{Identity, OidcConfig, OidcLayer};
///
/// # fn main() -> Result<(), tower_oidc::ConfigError> {
/// let config = OidcConfig::from_env()?;
/// let app: Router = Router::new()
///     .route("/", get(|me: Identity| async move { format!("hello {}", me.subject()) }))
///     .layer(OidcLayer::new(config));
/// # Ok(()) }
/// ```
#[derive(Clone)]
#[must_use]
pub struct OidcLayer {
    shared: Arc<Shared>,
}

impl OidcLayer {
    /// Makes the layer. No I/O happens here: discovery is fetched at the first login, so the
    /// app starts even while the identity provider is down.
    pub fn new(config: OidcConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
        }
    }

    /// The configuration in use.
    pub fn config(&self) -> &OidcConfig {
        &self.shared.config
    }

    /// The layer's own routes (login, callback, logout, providers, each provider's login and
    /// callback route) as an axum [`Router`](axum::Router) behind this layer, for an app that
    /// mounts the layer with [`Router::route_layer`](axum::Router::route_layer): that layer
    /// sees only the routes the app defined, so `/auth/*` would answer 404. Merge these routes:
    ///
    /// ```no_run
    /// use axum::{routing::get, Router};
    /// use tower_oidc::{Identity, OidcConfig, OidcLayer};
    ///
    /// # fn main() -> Result<(), tower_oidc::ConfigError> {
    /// let oidc = OidcLayer::new(OidcConfig::from_env()?);
    /// let app: Router = Router::new()
    ///     .route("/", get(|me: Identity| async move { format!("hello {}", me.subject()) }))
    ///     .route_layer(oidc.clone())
    ///     .merge(oidc.routes())
    ///     // Not behind the layer: an unknown path answers 404, whoever asks.
    ///     .route("/health", get(|| async { "ok" }));
    /// # Ok(()) }
    /// ```
    ///
    /// The routes answer only through the layer (their handler is never reached), and the
    /// router has no fallback of its own. With [`Router::layer`](axum::Router::layer) instead,
    /// the layer sees every request, its own routes included, and these are not needed. The
    /// paths are the configured ones, which are the app's paths: merge them into the outermost
    /// router also when the protected routes are in a router mounted with
    /// [`Router::nest`](axum::Router::nest).
    pub fn routes<S>(&self) -> axum::Router<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let config = &self.shared.config;
        // axum reads `{…}` in a route as a parameter; a configured path is literal.
        let literal = |path: &str| path.replace('{', "{{").replace('}', "}}");
        let mut paths = vec![
            literal(&config.login_path),
            format!("{}/{{slug}}", literal(&config.login_path)),
            literal(&config.logout_path),
            literal(&config.providers_path),
        ];
        for callback in std::iter::once(&config.callback_path)
            .chain(config.providers.iter().map(|p| &p.callback_path))
        {
            if !paths.contains(&literal(callback)) {
                paths.push(literal(callback));
            }
        }
        for route in config
            .providers
            .iter()
            .filter_map(|p| p.backchannel_logout.as_ref())
        {
            paths.push(literal(&route.path));
        }
        let mut router = axum::Router::new();
        for path in &paths {
            router = router.route(
                path,
                axum::routing::any(|| async { http::StatusCode::NOT_FOUND }),
            );
        }
        // Only these routes: merged into an app, the app's fallback stays as it is.
        router.route_layer(self.clone())
    }

    /// The live sessions of the user `(issuer, subject)`, in every browser and on every
    /// replica, for a "your sessions" page. Needs a server-side store (`OIDC_SESSION_STORE`
    /// `memory` or a Redis URL); the cookie store keeps nothing to list.
    pub async fn sessions_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<Vec<UserSession>, SessionsError> {
        let server = self.server()?;
        let found = server.sessions_of(issuer, subject).await.map_err(|e| {
            tracing::warn!(target: "tower_oidc", error = %e, "a user's sessions could not be listed");
            SessionsError::Unavailable
        })?;
        Ok(found.iter().map(UserSession::of).collect())
    }

    /// Signs the user `(issuer, subject)` out everywhere: ends each of their sessions, in every
    /// browser, on every replica (within a second with Redis); how many there were. Their
    /// cookies are refused from then on; the provider's own session is not touched (send the
    /// browser to the logout route for that).
    ///
    /// With the cookie store nothing is kept on the server, so this works **in this process
    /// only**: every session of the user signed in until now is revoked here (a copy of such a
    /// cookie is refused by every layer of this process), while other replicas keep accepting
    /// them until they expire; the count is then the sessions this process had cached. Use
    /// `OIDC_SESSION_STORE` `memory` or a Redis URL to reach every replica.
    ///
    /// Counted as `tower_oidc_logouts_total{cause="everywhere"}` and recorded as
    /// [`AuditKind::SignOutEverywhere`](crate::AuditKind::SignOutEverywhere).
    pub async fn end_sessions_of(
        &self,
        issuer: &str,
        subject: &str,
    ) -> Result<usize, SessionsError> {
        crate::flow::ending::everywhere(&self.shared, issuer, subject).await
    }

    /// The server-side sessions, or why there are none.
    fn server(&self) -> Result<&crate::store::ServerSessions, SessionsError> {
        self.shared
            .server
            .as_deref()
            .ok_or(SessionsError::NeedsServerSideStore)
    }

    /// How many times the provider's JWKS has been fetched so far (for diagnostics).
    pub fn jwks_fetches(&self) -> u64 {
        self.shared.providers.iter().map(|p| p.jwks_fetches()).sum()
    }
}

#[cfg(feature = "test-util")]
impl OidcLayer {
    /// A `Cookie` request header value (`name=value`) carrying a session for `identity`, valid
    /// for the configured session lifetime from now (feature `test-util`). For tests and
    /// benchmarks of protected routes without an identity provider.
    pub fn session_cookie(&self, identity: &Identity) -> String {
        let shared = &self.shared;
        let mut data = identity.clone_data();
        let now = shared.config.clock.unix_seconds();
        data.authenticated_at = now;
        data.expires_at = now + shared.config.session_lifetime.as_secs();
        if data.session_id.is_empty() {
            data.session_id = crate::random::random_token(16);
        }
        let names = &shared.cookies.names;
        let value = crate::session::encode_session(&shared.cookies.codec, names, &mut data)
            .expect("the test identity fits in a session cookie");
        format!("{}={}", names.session, value)
    }

    /// Like [`session_cookie`](Self::session_cookie), for a layer with a server-side store
    /// (`OIDC_SESSION_STORE` `memory` or a Redis URL): the session is stored there, and the
    /// cookie holds only its id (feature `test-util`).
    ///
    /// # Panics
    /// With the cookie store, or when the store cannot be reached.
    pub async fn stored_session_cookie(&self, identity: &Identity) -> String {
        let shared = &self.shared;
        let server = shared
            .server
            .as_ref()
            .expect("stored_session_cookie needs a server-side OIDC_SESSION_STORE");
        let mut data = identity.clone_data();
        let now = shared.config.clock.unix_seconds();
        data.authenticated_at = now;
        data.expires_at = now + shared.config.session_lifetime.as_secs();
        if data.session_id.is_empty() {
            data.session_id = crate::random::random_token(16);
        }
        let names = &shared.cookies.names;
        let value = shared.cookies.codec.seal(
            crate::session::Purpose::StoredSession,
            &names.session,
            data.session_id.as_bytes(),
        );
        let record = crate::store::StoredSession {
            identity: data,
            id_token: String::new(),
            seen_at: now,
            idle_secs: server.idle_secs(),
            tokens: Default::default(),
        };
        server
            .create(&record)
            .await
            .expect("the session store takes the test session");
        format!("{}={}", names.session, value)
    }

    /// How many bearer tokens the layer's cache of verified tokens holds (feature
    /// `test-util`): for tests that it stays bounded.
    pub fn cached_bearer_tokens(&self) -> usize {
        self.shared.bearer.len()
    }
}

impl fmt::Debug for OidcLayer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // OidcConfig's Debug redacts the client secret and cookie key.
        f.debug_struct("OidcLayer")
            .field("config", &self.shared.config)
            .finish()
    }
}

impl<S> Layer<S> for OidcLayer {
    type Service = Oidc<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Oidc::new(inner, self.shared.clone())
    }
}
