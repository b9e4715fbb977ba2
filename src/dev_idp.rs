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
//! Nested in your app's router, beside the app (the quickstart example does this):
//!
//! ```
//! use axum::Router;
//! use tower_oidc::dev_idp::{DevClient, DevIdp};
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
//! use tower_oidc::dev_idp::{DevClient, DevIdp, DevUser};
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

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use subtle::ConstantTimeEq;
use url::Url;

use crate::clock::{Clock, SystemClock};

/// How long an authorization code can be redeemed (OAuth 2.0 Security BCP: at most a minute or so).
const CODE_TTL_SECS: u64 = 60;
/// How long an access token is valid at the userinfo endpoint.
const ACCESS_TOKEN_TTL_SECS: u64 = 3600;
/// How long an ID token is valid.
const ID_TOKEN_TTL_SECS: u64 = 300;
/// At most this many codes (fresh or recently used) are remembered; the oldest go first.
const MAX_CODES: usize = 1024;
/// At most this many access tokens are remembered; the oldest go first.
const MAX_TOKENS: usize = 4096;
/// The largest query string or form body read, in bytes.
const MAX_PARAMS: usize = 16 * 1024;
/// The longest `state` or `nonce` accepted.
const MAX_STATE: usize = 2048;
/// The scopes this provider knows; others are dropped from the granted scope.
const SCOPES: [&str; 4] = ["openid", "profile", "email", "groups"];
/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "dev-idp";

/// A client (relying party) registered at the [`DevIdp`].
///
/// Redirect URIs are compared exactly, as RFC 6749 section 3.1.2 and the OAuth 2.0 Security BCP
/// require: no prefix matching, no wildcards.
#[derive(Clone)]
pub struct DevClient {
    id: String,
    secret: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
}

impl DevClient {
    /// A confidential client that authenticates at the token endpoint with `secret`, by HTTP
    /// Basic (`client_secret_basic`) or in the form (`client_secret_post`).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: Some(secret.into()),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
        }
    }

    /// A public client: it has no secret and sends only its `client_id` to the token endpoint
    /// (token endpoint auth method `none`); PKCE is what protects its codes.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            secret: None,
            ..Self::new(id, String::new())
        }
    }

    /// Registers a redirect URI (the app's callback, e.g. `http://127.0.0.1:3000/auth/callback`).
    pub fn add_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Registers a URI the provider may send the browser to after logout.
    pub fn add_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// The client identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    fn allows_post_logout(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

impl fmt::Debug for DevClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .finish()
    }
}

/// A test user of the [`DevIdp`].
///
/// `sub` is [`subject`](Self::subject); the `profile` scope releases `name` and
/// `preferred_username`, the `email` scope `email` and `email_verified`; `groups` is always
/// released.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevUser {
    /// The `sub` claim; also what the picker form submits.
    pub subject: String,
    /// The `preferred_username` claim.
    pub preferred_username: Option<String>,
    /// The `name` claim.
    pub name: Option<String>,
    /// The `email` claim.
    pub email: Option<String>,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `groups` claim.
    pub groups: Vec<String>,
}

impl DevUser {
    /// A user whose subject and `preferred_username` are both `username`, with no name, email
    /// or groups yet.
    pub fn new(username: impl Into<String>) -> Self {
        let username = username.into();
        Self {
            subject: username.clone(),
            preferred_username: Some(username),
            name: None,
            email: None,
            email_verified: false,
            groups: Vec::new(),
        }
    }

    /// Sets the subject (`sub`), when it should differ from the username.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the display name (`name`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address and whether it counts as verified (`email_verified`).
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// Adds a group to the `groups` claim.
    pub fn add_group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// The three default users: `alice` (verified email, groups `admins` and `readers`), `bob`
    /// (verified email, group `readers`) and `mallory` (unverified email, no groups).
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::new("alice")
                .with_name("Alice Example")
                .with_email("alice@example.com", true)
                .add_group("admins")
                .add_group("readers"),
            Self::new("bob")
                .with_name("Bob Example")
                .with_email("bob@example.com", true)
                .add_group("readers"),
            Self::new("mallory")
                .with_name("Mallory Example")
                .with_email("mallory@example.net", false),
        ]
    }

    /// The claims this user releases for `scope` (space-separated granted scopes).
    fn claims(&self, scope: &str) -> Map<String, Value> {
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(self.subject.clone()));
        if has("profile") {
            if let Some(name) = &self.name {
                claims.insert("name".into(), Value::String(name.clone()));
            }
            if let Some(username) = &self.preferred_username {
                claims.insert("preferred_username".into(), Value::String(username.clone()));
            }
        }
        if has("email") {
            if let Some(email) = &self.email {
                claims.insert("email".into(), Value::String(email.clone()));
                claims.insert("email_verified".into(), Value::Bool(self.email_verified));
            }
        }
        claims.insert("groups".into(), json!(self.groups));
        claims
    }
}

/// The ES256 key the provider signs ID tokens with, made at start-up.
struct SigningKey {
    pair: EcdsaKeyPair,
    kid: String,
    /// The public key, uncompressed: `0x04 || x || y`.
    public: Vec<u8>,
}

impl SigningKey {
    fn generate() -> Self {
        // Generating a P-256 key takes no input; it fails only when the crypto library itself
        // is broken, and then no provider can run.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("aws-lc-rs could not generate a P-256 key");
        let public = pair.public_key().as_ref().to_vec();
        Self {
            pair,
            kid: random_token(12),
            public,
        }
    }

    fn jwk(&self) -> Value {
        // An uncompressed P-256 point is 65 bytes: 0x04, then x and y of 32 bytes each.
        let point = self.public.get(1..).unwrap_or_default();
        let (x, y) = point.split_at(point.len() / 2);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(x),
            "y": B64.encode(y),
            "use": "sig",
            "alg": "ES256",
            "kid": self.kid,
        })
    }

    /// A compact JWS (RFC 7515) of `claims`, signed ES256.
    fn sign(&self, claims: &Map<String, Value>) -> Option<String> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).ok()?),
            B64.encode(serde_json::to_vec(claims).ok()?)
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .ok()?;
        Some(format!(
            "{signing_input}.{}",
            B64.encode(signature.as_ref())
        ))
    }

    /// The claims of a JWS this key signed, whatever their expiry; `None` for anything else.
    fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header: Map<String, Value> = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256")
            || header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return None;
        }
        let signature = B64.decode(s).ok()?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public)
            .verify(signing_input.as_bytes(), &signature)
            .ok()?;
        serde_json::from_slice(&B64.decode(p).ok()?).ok()
    }
}

/// What an authorization code was issued for.
#[derive(Clone)]
struct CodeGrant {
    client_id: String,
    redirect_uri: String,
    code_challenge: String,
    nonce: Option<String>,
    subject: String,
    scope: String,
    auth_time: u64,
}

enum CodeState {
    /// Issued and not yet presented.
    Fresh(CodeGrant),
    /// Presented once; remembered until it would have expired, so that a second use is
    /// recognised and revokes the access token issued with the first (RFC 6749 4.1.2).
    Used { access_token: Option<String> },
}

struct CodeEntry {
    state: CodeState,
    expires_at: u64,
}

struct AccessGrant {
    client_id: String,
    subject: String,
    scope: String,
    expires_at: u64,
}

#[derive(Default)]
struct Store {
    codes: HashMap<String, CodeEntry>,
    tokens: HashMap<String, AccessGrant>,
}

impl Store {
    fn prune(&mut self, now: u64) {
        self.codes.retain(|_, c| c.expires_at > now);
        self.tokens.retain(|_, t| t.expires_at > now);
    }

    fn insert_code(&mut self, code: String, entry: CodeEntry) {
        while self.codes.len() >= MAX_CODES {
            let Some(oldest) = self
                .codes
                .iter()
                .min_by_key(|(_, c)| c.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.codes.remove(&oldest);
        }
        self.codes.insert(code, entry);
    }

    fn insert_token(&mut self, token: String, grant: AccessGrant) {
        while self.tokens.len() >= MAX_TOKENS {
            let Some(oldest) = self
                .tokens
                .iter()
                .min_by_key(|(_, t)| t.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.tokens.remove(&oldest);
        }
        self.tokens.insert(token, grant);
    }
}

/// A development OpenID provider: configure it, then serve [`router`](Self::router) under the
/// issuer's path, or let [`spawn`](Self::spawn) serve it on a loopback port.
///
/// Clones share the signing key and the issued codes and tokens.
#[derive(Clone)]
#[must_use]
pub struct DevIdp {
    issuer: String,
    clients: Vec<DevClient>,
    users: Vec<DevUser>,
    key: Arc<SigningKey>,
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
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize_get).post(authorize_post))
            .route("/token", axum::routing::post(token))
            .route("/userinfo", get(userinfo).post(userinfo))
            .route("/logout", get(logout).post(logout))
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
                tracing::warn!(target: "tower_oidc::dev_idp", error = %err, "the development IdP stopped");
            }
        });
        tracing::info!(target: "tower_oidc::dev_idp", %issuer, "development IdP listening");
        Ok(RunningDevIdp {
            issuer,
            addr,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    fn client(&self, id: &str) -> Option<&DevClient> {
        self.clients.iter().find(|c| c.id == id)
    }

    fn user(&self, subject: &str) -> Option<&DevUser> {
        self.users.iter().find(|u| u.subject == subject)
    }

    fn endpoint(&self, path: &str) -> String {
        format!("{}/{path}", self.issuer.trim_end_matches('/'))
    }

    fn store(&self) -> MutexGuard<'_, Store> {
        // The store holds plain data that every update leaves consistent, so a panic elsewhere
        // while the lock was held does not make it unusable.
        self.store.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
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

// ---------------------------------------------------------------------------------------------
// Discovery and keys

async fn discovery(State(idp): State<Arc<DevIdp>>) -> Response {
    let methods: &[&str] = if idp.clients.iter().any(|c| c.secret.is_none()) {
        &["client_secret_basic", "client_secret_post", "none"]
    } else {
        &["client_secret_basic", "client_secret_post"]
    };
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": idp.issuer,
            "authorization_endpoint": idp.endpoint("authorize"),
            "token_endpoint": idp.endpoint("token"),
            "userinfo_endpoint": idp.endpoint("userinfo"),
            "jwks_uri": idp.endpoint("jwks"),
            "end_session_endpoint": idp.endpoint("logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            "scopes_supported": SCOPES,
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                "name", "preferred_username", "email", "email_verified", "groups"
            ],
        }),
        "public, max-age=60",
    )
}

async fn jwks(State(idp): State<Arc<DevIdp>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"keys": [idp.key.jwk()]}),
        "public, max-age=60",
    )
}

// ---------------------------------------------------------------------------------------------
// Authorization endpoint (RFC 6749 4.1.1, OpenID Connect Core 3.1.2)

/// The authorization request's parameters, and on POST the picker's choice.
#[derive(Deserialize, Default)]
struct AuthorizeParams {
    client_id: Option<String>,
    redirect_uri: Option<String>,
    response_type: Option<String>,
    scope: Option<String>,
    state: Option<String>,
    nonce: Option<String>,
    code_challenge: Option<String>,
    code_challenge_method: Option<String>,
    response_mode: Option<String>,
    prompt: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
    /// POST only: the subject of the chosen user.
    user: Option<String>,
    /// POST only: `deny` when the user cancelled.
    action: Option<String>,
}

/// RFC 6749 3.1: a parameter sent without a value counts as omitted.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A request that passed every check.
struct Approved<'a> {
    client: &'a DevClient,
    redirect_uri: &'a str,
    scope: String,
    state: Option<&'a str>,
    nonce: Option<&'a str>,
    code_challenge: &'a str,
}

/// Why an authorization request was refused.
enum Refusal {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (RFC 6749 4.1.2.1).
    Page(StatusCode, String),
    /// Everything else goes back to the client's redirect URI with an error code.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: &'static str,
        state: Option<String>,
    },
}

fn parse_params(raw: &[u8]) -> Result<AuthorizeParams, Refusal> {
    if raw.len() > MAX_PARAMS {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The request is too large.".into(),
        ));
    }
    // serde_urlencoded refuses a parameter given twice, as RFC 6749 3.1 requires.
    serde_urlencoded::from_bytes(raw).map_err(|_| {
        Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The request's parameters could not be read (malformed, or a parameter given twice)."
                .into(),
        )
    })
}

fn check_authorize<'a>(idp: &'a DevIdp, p: &'a AuthorizeParams) -> Result<Approved<'a>, Refusal> {
    let page = |msg: &str| Err(Refusal::Page(StatusCode::BAD_REQUEST, msg.to_owned()));
    let Some(client_id) = given(&p.client_id) else {
        return page("The request has no client_id.");
    };
    let Some(client) = idp.client(client_id) else {
        return page(&format!(
            "No client with the id “{client_id}” is registered at this provider."
        ));
    };
    let Some(redirect_uri) = given(&p.redirect_uri) else {
        return page("The request has no redirect_uri.");
    };
    if !client.allows_redirect(redirect_uri) {
        return page(&format!(
            "The redirect_uri “{redirect_uri}” is not registered for the client “{client_id}”. \
             Redirect URIs must match a registered one exactly."
        ));
    }
    if Url::parse(redirect_uri).is_err() {
        return page("The registered redirect_uri is not an absolute URL.");
    }

    let state = given(&p.state);
    let refuse = |error: &'static str, description: &'static str| {
        Err(Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description,
            state: state.filter(|s| s.len() <= MAX_STATE).map(str::to_owned),
        })
    };
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return refuse("invalid_request", "state is too long");
    }
    if given(&p.request).is_some() {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if given(&p.request_uri).is_some() {
        return refuse("request_uri_not_supported", "request_uri is not supported");
    }
    if given(&p.response_mode).is_some_and(|m| m != "query") {
        return refuse("invalid_request", "only response_mode=query is supported");
    }
    match given(&p.response_type) {
        None => return refuse("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    let requested: Vec<&str> = given(&p.scope)
        .map(|s| s.split(' ').collect())
        .unwrap_or_default();
    if !requested.contains(&"openid") {
        return refuse("invalid_scope", "the scope must contain openid");
    }
    let scope = SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let Some(code_challenge) = given(&p.code_challenge) else {
        return refuse(
            "invalid_request",
            "code_challenge is required (PKCE, RFC 7636)",
        );
    };
    // RFC 7636 4.3: without a method the challenge is `plain`, which this provider refuses.
    if given(&p.code_challenge_method) != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    // BASE64URL(SHA-256(verifier)) is always 43 characters (RFC 7636 4.2).
    if code_challenge.len() != 43 || !code_challenge.bytes().all(is_base64url) {
        return refuse(
            "invalid_request",
            "code_challenge is not a base64url SHA-256 value",
        );
    }
    let nonce = given(&p.nonce);
    if nonce.is_some_and(|n| n.len() > MAX_STATE) {
        return refuse("invalid_request", "nonce is too long");
    }
    // This provider keeps no session, so it can never sign anyone in without showing a page.
    if given(&p.prompt).is_some_and(|v| v.split(' ').any(|x| x == "none")) {
        return refuse(
            "login_required",
            "the development IdP always asks which user to sign in",
        );
    }
    Ok(Approved {
        client,
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
    })
}

async fn authorize_get(State(idp): State<Arc<DevIdp>>, uri: Uri) -> Response {
    let params = match parse_params(uri.query().unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::FOUND),
    };
    match check_authorize(&idp, &params) {
        Ok(approved) => picker_page(&idp, &params, &approved),
        Err(refusal) => refusal_response(&idp, refusal, StatusCode::FOUND),
    }
}

async fn authorize_post(
    State(idp): State<Arc<DevIdp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form must be sent as application/x-www-form-urlencoded.",
        );
    }
    let params = match parse_params(&body) {
        Ok(p) => p,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::SEE_OTHER),
    };
    let approved = match check_authorize(&idp, &params) {
        Ok(a) => a,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::SEE_OTHER),
    };
    if given(&params.action) == Some("deny") {
        return refusal_response(
            &idp,
            Refusal::Redirect {
                redirect_uri: approved.redirect_uri.to_owned(),
                error: "access_denied",
                description: "the user cancelled the sign-in",
                state: approved.state.map(str::to_owned),
            },
            StatusCode::SEE_OTHER,
        );
    }
    let Some(subject) = given(&params.user) else {
        return error_page(StatusCode::BAD_REQUEST, "No test user was chosen.");
    };
    let Some(user) = idp.user(subject) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("There is no test user “{subject}”."),
        );
    };

    let now = idp.now();
    let code = random_token(32);
    let grant = CodeGrant {
        client_id: approved.client.id.clone(),
        redirect_uri: approved.redirect_uri.to_owned(),
        code_challenge: approved.code_challenge.to_owned(),
        nonce: approved.nonce.map(str::to_owned),
        subject: user.subject.clone(),
        scope: approved.scope.clone(),
        auth_time: now,
    };
    {
        let mut store = idp.store();
        store.prune(now);
        store.insert_code(
            code.clone(),
            CodeEntry {
                state: CodeState::Fresh(grant),
                expires_at: now.saturating_add(CODE_TTL_SECS),
            },
        );
    }
    tracing::info!(
        target: "tower_oidc::dev_idp",
        client_id = %approved.client.id,
        subject = %user.subject,
        "development IdP issued an authorization code"
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = approved.state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", idp.issuer.as_str()));
    redirect_with(approved.redirect_uri, &pairs, StatusCode::SEE_OTHER)
}

fn refusal_response(idp: &DevIdp, refusal: Refusal, status: StatusCode) -> Response {
    match refusal {
        Refusal::Page(code, message) => error_page(code, &message),
        Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(state) = state.as_deref() {
                pairs.push(("state", state));
            }
            pairs.push(("iss", idp.issuer.as_str()));
            redirect_with(&redirect_uri, &pairs, status)
        }
    }
}

/// Appends `pairs` to `uri`'s query, keeping any query it already has.
fn redirect_with(uri: &str, pairs: &[(&str, &str)], status: StatusCode) -> Response {
    let Ok(mut url) = Url::parse(uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not an absolute URL.",
        );
    };
    // `query_pairs_mut` would leave a bare `?` behind when there is nothing to add.
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    redirect(url.as_str(), status)
}

// ---------------------------------------------------------------------------------------------
// Token endpoint (RFC 6749 4.1.3 and 5, RFC 7636 4.6, OpenID Connect Core 3.1.3)

#[derive(Deserialize, Default)]
struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

/// An error response of the token endpoint (RFC 6749 5.2).
struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
        }
    }

    fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    fn invalid_client(description: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn into_response(self) -> Response {
        let mut res = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
            "no-store",
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="dev-idp""#),
            );
        }
        res
    }
}

async fn token(State(idp): State<Arc<DevIdp>>, headers: HeaderMap, body: Bytes) -> Response {
    match redeem(&idp, &headers, &body) {
        Ok(res) => res,
        Err(err) => {
            tracing::info!(target: "tower_oidc::dev_idp", error = err.error, reason = err.description, "development IdP refused a token request");
            err.into_response()
        }
    }
}

fn redeem(idp: &DevIdp, headers: &HeaderMap, body: &[u8]) -> Result<Response, TokenError> {
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params: TokenParams = serde_urlencoded::from_bytes(body).map_err(|_| {
        TokenError::invalid_request("malformed parameters, or a parameter given twice")
    })?;
    let client = authenticate(idp, headers, &params)?;

    match given(&params.grant_type) {
        None => return Err(TokenError::invalid_request("grant_type is required")),
        Some("authorization_code") => {}
        Some(_) => {
            return Err(TokenError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ))
        }
    }
    let code =
        given(&params.code).ok_or_else(|| TokenError::invalid_request("code is required"))?;

    let now = idp.now();
    // Take the code out and mark it used before checking anything else about it: whatever
    // happens next, it cannot be redeemed again.
    let grant = {
        let mut store = idp.store();
        store.prune(now);
        let Some(entry) = store.codes.get_mut(code) else {
            return Err(TokenError::invalid_grant("the code is unknown or expired"));
        };
        match std::mem::replace(&mut entry.state, CodeState::Used { access_token: None }) {
            CodeState::Fresh(grant) => grant,
            CodeState::Used { access_token } => {
                // RFC 6749 4.1.2: a code used twice may have been stolen; revoke what it gave.
                store.codes.remove(code);
                if let Some(token) = access_token {
                    store.tokens.remove(&token);
                }
                return Err(TokenError::invalid_grant(
                    "the code was already used; the tokens issued with it are revoked",
                ));
            }
        }
    };
    if grant.client_id != client.id {
        return Err(TokenError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if given(&params.redirect_uri) != Some(grant.redirect_uri.as_str()) {
        return Err(TokenError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = given(&params.code_verifier)
        .ok_or_else(|| TokenError::invalid_grant("code_verifier is required (PKCE)"))?;
    // RFC 7636 4.1: 43 to 128 characters from the unreserved set.
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(TokenError::invalid_grant("code_verifier is malformed"));
    }
    let computed = B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if !bool::from(computed.as_bytes().ct_eq(grant.code_challenge.as_bytes())) {
        return Err(TokenError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let user = idp
        .user(&grant.subject)
        .ok_or_else(|| TokenError::invalid_grant("the user no longer exists"))?;

    let access_token = random_token(32);
    let mut claims = user.claims(&grant.scope);
    claims.insert("iss".into(), Value::String(idp.issuer.clone()));
    claims.insert("aud".into(), Value::String(client.id.clone()));
    claims.insert("exp".into(), json!(now.saturating_add(ID_TOKEN_TTL_SECS)));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), Value::String(nonce.clone()));
    }
    // OpenID Connect Core 3.1.3.6: the left half of SHA-256 of the access token.
    let hash = digest::digest(&digest::SHA256, access_token.as_bytes());
    claims.insert(
        "at_hash".into(),
        Value::String(B64.encode(&hash.as_ref()[..16])),
    );
    let id_token = idp.key.sign(&claims).ok_or_else(|| {
        TokenError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the ID token could not be signed",
        )
    })?;

    {
        let mut store = idp.store();
        if let Some(entry) = store.codes.get_mut(code) {
            entry.state = CodeState::Used {
                access_token: Some(access_token.clone()),
            };
        }
        store.insert_token(
            access_token.clone(),
            AccessGrant {
                client_id: client.id.clone(),
                subject: user.subject.clone(),
                scope: grant.scope.clone(),
                expires_at: now.saturating_add(ACCESS_TOKEN_TTL_SECS),
            },
        );
    }
    let mut res = json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECS,
            "id_token": id_token,
            "scope": grant.scope,
        }),
        "no-store",
    );
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

/// Client authentication (RFC 6749 2.3.1): HTTP Basic with form-urlencoded id and secret, or
/// the id and secret in the body; exactly one method. Public clients send only `client_id`.
fn authenticate<'a>(
    idp: &'a DevIdp,
    headers: &HeaderMap,
    params: &TokenParams,
) -> Result<&'a DevClient, TokenError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(parse_basic(value).ok_or_else(|| {
            TokenError::invalid_client("the Authorization header is not valid HTTP Basic")
        })?),
    };
    let body_id = given(&params.client_id);
    let body_secret = given(&params.client_secret);
    let (id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(TokenError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(secret)) => {
            let id = body_id
                .ok_or_else(|| TokenError::invalid_client("client_secret without client_id"))?;
            (id.to_owned(), Some(secret.to_owned()))
        }
        (None, None) => {
            let id = body_id
                .ok_or_else(|| TokenError::invalid_client("client authentication is required"))?;
            (id.to_owned(), None)
        }
    };
    let client = idp.client(&id);
    let ok = match (client.and_then(|c| c.secret.as_deref()), secret.as_deref()) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        // A public client must not send a secret, a confidential one must.
        (None, None) => client.is_some(),
        _ => false,
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => Err(TokenError::invalid_client("client authentication failed")),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, decoded.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: Option<u8>| char::from(c?).to_digit(16);
                let hi = hex(bytes.next())?;
                let lo = hex(bytes.next())?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

// ---------------------------------------------------------------------------------------------
// Userinfo (OpenID Connect Core 5.3, RFC 6750)

async fn userinfo(State(idp): State<Arc<DevIdp>>, headers: HeaderMap) -> Response {
    let challenge = |error: Option<&str>| {
        let value = match error {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(e) => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
        };
        let mut res = json_response(
            StatusCode::UNAUTHORIZED,
            &error.map_or_else(|| json!({}), |e| json!({"error": e})),
            "no-store",
        );
        if let Ok(v) = HeaderValue::try_from(value) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        // RFC 6750 3.1: a request without credentials gets a challenge without an error code.
        return challenge(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return challenge(Some("invalid_token"));
    };
    let now = idp.now();
    let grant = {
        let mut store = idp.store();
        store.prune(now);
        store
            .tokens
            .get(token)
            .map(|g| (g.subject.clone(), g.scope.clone()))
    };
    let Some((subject, scope)) = grant else {
        return challenge(Some("invalid_token"));
    };
    match idp.user(&subject) {
        Some(user) => json_response(
            StatusCode::OK,
            &Value::Object(user.claims(&scope)),
            "no-store",
        ),
        None => challenge(Some("invalid_token")),
    }
}

// ---------------------------------------------------------------------------------------------
// RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0)

#[derive(Deserialize, Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

async fn logout(
    State(idp): State<Arc<DevIdp>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw: &[u8] = if method == Method::POST {
        if !is_form(&headers) {
            return error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The form must be sent as application/x-www-form-urlencoded.",
            );
        }
        &body
    } else {
        uri.query().unwrap_or_default().as_bytes()
    };
    let params: LogoutParams = match serde_urlencoded::from_bytes(raw) {
        Ok(p) if raw.len() <= MAX_PARAMS => p,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The logout request's parameters could not be read (malformed, or a parameter given twice).",
            )
        }
    };

    // The hint may have expired (that is normal at logout), but it must be ours.
    let hint = match given(&params.id_token_hint) {
        None => None,
        Some(token) => match idp.key.verify(token) {
            Some(claims)
                if claims.get("iss").and_then(Value::as_str) == Some(idp.issuer.as_str()) =>
            {
                Some(claims)
            }
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The id_token_hint was not issued by this provider.",
                )
            }
        },
    };
    let hint_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(Value::as_str);
    let client_id = match (given(&params.client_id), hint_client) {
        (Some(a), Some(b)) if a != b => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "client_id and the id_token_hint name different clients.",
            )
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    let client = match client_id {
        None => None,
        Some(id) => match idp.client(id) {
            Some(c) => Some(c),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("No client with the id “{id}” is registered at this provider."),
                )
            }
        },
    };

    // This provider keeps no login session; what it can end is the access tokens it issued.
    if let (Some(claims), Some(client)) = (&hint, client) {
        if let Some(subject) = claims.get("sub").and_then(Value::as_str) {
            idp.store()
                .tokens
                .retain(|_, t| !(t.subject == subject && t.client_id == client.id));
        }
    }

    if let Some(target) = given(&params.post_logout_redirect_uri) {
        let Some(client) = client else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "A post_logout_redirect_uri needs a client_id or an id_token_hint to say whose it is.",
            );
        };
        if !client.allows_post_logout(target) {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The post_logout_redirect_uri “{target}” is not registered for the client “{}”.",
                    client.id
                ),
            );
        }
        let state = given(&params.state).filter(|s| s.len() <= MAX_STATE);
        let pairs: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
        return redirect_with(target, &pairs, StatusCode::SEE_OTHER);
    }
    html_response(
        StatusCode::OK,
        layout(
            "Signed out",
            "<h1>You are signed out of the development IdP</h1>\
             <p>It keeps no session of its own, so there was little to do: the next sign-in will \
             ask again which test user you are.</p>",
        ),
    )
}

// ---------------------------------------------------------------------------------------------
// Pages and responses

fn picker_page(idp: &DevIdp, params: &AuthorizeParams, approved: &Approved<'_>) -> Response {
    let mut hidden = String::new();
    for (name, value) in [
        ("client_id", &params.client_id),
        ("redirect_uri", &params.redirect_uri),
        ("response_type", &params.response_type),
        ("scope", &params.scope),
        ("state", &params.state),
        ("nonce", &params.nonce),
        ("code_challenge", &params.code_challenge),
        ("code_challenge_method", &params.code_challenge_method),
        ("response_mode", &params.response_mode),
    ] {
        if let Some(value) = given(value) {
            hidden.push_str(&format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                escape(value)
            ));
        }
    }
    let mut users = String::new();
    for user in &idp.users {
        let title = user
            .name
            .as_deref()
            .or(user.preferred_username.as_deref())
            .unwrap_or(&user.subject);
        let email = match (&user.email, user.email_verified) {
            (Some(e), true) => format!("<span class=\"email\">{}</span>", escape(e)),
            (Some(e), false) => format!(
                "<span class=\"email\">{}</span> <span class=\"badge warn\">email not verified</span>",
                escape(e)
            ),
            (None, _) => "<span class=\"email muted\">no email</span>".to_owned(),
        };
        let groups = if user.groups.is_empty() {
            "<span class=\"muted\">no groups</span>".to_owned()
        } else {
            user.groups
                .iter()
                .map(|g| format!("<span class=\"badge\">{}</span>", escape(g)))
                .collect::<Vec<_>>()
                .join(" ")
        };
        users.push_str(&format!(
            "<li><button type=\"submit\" name=\"user\" value=\"{value}\">\
             <span class=\"who\"><strong>{title}</strong> <code>{subject}</code></span>\
             <span class=\"line\">{email}</span><span class=\"line\">{groups}</span></button></li>",
            value = escape(&user.subject),
            title = escape(title),
            subject = escape(&user.subject),
        ));
    }
    if users.is_empty() {
        users.push_str("<li class=\"muted\">No test users are configured; add some with <code>DevIdp::with_user</code>.</li>");
    }
    let app = Url::parse(approved.redirect_uri)
        .ok()
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let content = format!(
        "<p class=\"warning\"><strong>For development only.</strong> This identity provider signs \
         anyone in as any test user, without a password. Never expose it on a network.</p>\
         <h1>Development identity provider — choose a test user</h1>\
         <p><strong>{client}</strong> at <code>{app}</code> asks you to sign in \
         (scopes: <code>{scope}</code>).</p>\
         <form method=\"post\" action=\"authorize\">{hidden}<ul class=\"users\">{users}</ul>\
         <button type=\"submit\" name=\"action\" value=\"deny\" class=\"cancel\">Cancel sign-in</button></form>\
         <p class=\"muted small\">Issuer <code>{issuer}</code></p>",
        client = escape(&approved.client.id),
        app = escape(&app),
        scope = escape(&approved.scope),
        issuer = escape(&idp.issuer),
    );
    html_response(
        StatusCode::OK,
        layout("Development identity provider", &content),
    )
}

fn error_page(status: StatusCode, message: &str) -> Response {
    let content = format!(
        "<h1>The development IdP cannot continue</h1><p>{}</p>\
         <p class=\"muted small\">This request was not sent back to the application, because it \
         could not be trusted to go there.</p>",
        escape(message)
    );
    html_response(status, layout("Development IdP: error", &content))
}

const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;\
color:#1d2330;margin:0}main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;\
border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:.5rem 0 1rem}\
.warning{background:#fff4e5;border:1px solid #f5b454;color:#6b3e00;padding:.6rem .8rem;border-radius:8px;\
font-size:.9rem}.users{list-style:none;padding:0;margin:1rem 0;display:grid;gap:.6rem}\
.users button{width:100%;text-align:left;display:grid;gap:.25rem;padding:.8rem 1rem;border:1px solid #d5d9e0;\
border-radius:10px;background:#fff;font:inherit;color:inherit;cursor:pointer}\
.users button:hover,.users button:focus{border-color:#3b6fd8;background:#f3f7ff;outline:none}\
.badge{display:inline-block;background:#e8eefc;color:#27408b;border-radius:999px;padding:0 .55rem;\
font-size:.8rem}.badge.warn{background:#fde8e8;color:#8b1c1c}.muted{color:#6b7280}.small{font-size:.8rem}\
.email{font-size:.9rem}.cancel{background:none;border:none;color:#6b7280;text-decoration:underline;\
cursor:pointer;font:inherit;padding:0}code{font-size:.85em;background:#f1f2f4;padding:0 .25rem;border-radius:4px}";

fn layout(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{content}</main></body></html>",
        title = escape(title),
    )
}

fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No scripts at all; inline styles only. No `form-action`: browsers apply it to the
    // redirect that follows the form post, which goes to the app, another origin in general.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

fn json_response(status: StatusCode, value: &Value, cache: &'static str) -> Response {
    let mut res = Response::new(Body::from(value.to_string()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

fn redirect(location: &str, status: StatusCode) -> Response {
    let Ok(value) = HeaderValue::try_from(location) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect target is not a valid URL.",
        );
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::LOCATION, value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// RFC 3986 unreserved characters, the alphabet of PKCE verifiers (RFC 7636 4.1).
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `n` random bytes from the operating system, base64url-encoded.
fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // A CSPRNG failure leaves no safe way to make a code or token: stop rather than continue
    // with predictable values.
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random number generator failed");
    B64.encode(buf)
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use http::Request;
    use http_body_util::BodyExt as _;
    use tower::ServiceExt as _;

    use super::*;

    const ISSUER: &str = "http://127.0.0.1:8080/dev-idp";
    const CALLBACK: &str = "http://127.0.0.1:8080/auth/callback";
    const SECRET: &str = "s3cr3t: with+odd%chars";
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-0123456789";

    #[derive(Debug)]
    struct TestClock(AtomicU64);

    impl TestClock {
        fn advance(&self, secs: u64) {
            self.0.fetch_add(secs, Ordering::SeqCst);
        }
    }

    impl Clock for TestClock {
        fn now(&self) -> SystemTime {
            UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
        }
    }

    struct Fixture {
        router: Router,
        clock: Arc<TestClock>,
    }

    fn fixture() -> Fixture {
        let clock = Arc::new(TestClock(AtomicU64::new(1_700_000_000)));
        let idp = DevIdp::new(ISSUER)
            .with_client(
                DevClient::new("app", SECRET)
                    .add_redirect_uri(CALLBACK)
                    .add_redirect_uri("http://127.0.0.1:8080/cb?tenant=7")
                    .add_post_logout_redirect_uri("http://127.0.0.1:8080/public"),
            )
            .with_client(
                DevClient::new("other", "other-secret")
                    .add_redirect_uri("http://127.0.0.1:9090/cb"),
            )
            .with_client(DevClient::public("spa").add_redirect_uri("http://127.0.0.1:8080/spa"))
            .with_default_users()
            .with_user(
                DevUser::new("eve")
                    .with_name("<script>alert(1)</script>")
                    .add_group("a&b"),
            )
            .with_clock(clock.clone());
        Fixture {
            router: idp.router(),
            clock,
        }
    }

    struct Reply {
        status: StatusCode,
        headers: HeaderMap,
        body: String,
    }

    impl Reply {
        fn json(&self) -> Value {
            serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
        }

        fn location(&self) -> Url {
            let loc = self
                .headers
                .get(header::LOCATION)
                .expect("a Location header")
                .to_str()
                .unwrap();
            Url::parse(loc).unwrap()
        }

        fn query(&self, name: &str) -> Option<String> {
            self.location()
                .query_pairs()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.into_owned())
        }
    }

    async fn send(router: &Router, req: Request<Body>) -> Reply {
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        Reply {
            status,
            headers,
            body: String::from_utf8(body.to_vec()).unwrap(),
        }
    }

    async fn get(router: &Router, path_and_query: &str) -> Reply {
        send(
            router,
            Request::get(path_and_query).body(Body::empty()).unwrap(),
        )
        .await
    }

    async fn post_form(
        router: &Router,
        path: &str,
        form: &[(&str, &str)],
        auth: Option<&str>,
    ) -> Reply {
        let mut req =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(auth) = auth {
            req = req.header(header::AUTHORIZATION, auth);
        }
        send(
            router,
            req.body(Body::from(serde_urlencoded::to_string(form).unwrap()))
                .unwrap(),
        )
        .await
    }

    fn challenge(verifier: &str) -> String {
        B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
    }

    fn basic(id: &str, secret: &str) -> String {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        format!(
            "Basic {}",
            STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
        )
    }

    /// A valid authorization request's parameters, with `changes` applied (an empty value
    /// removes the parameter).
    fn authz(changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut params: Vec<(&'static str, String)> = vec![
            ("client_id", "app".into()),
            ("redirect_uri", CALLBACK.into()),
            ("response_type", "code".into()),
            ("scope", "openid profile email".into()),
            ("state", "st-123".into()),
            ("nonce", "n-456".into()),
            ("code_challenge", challenge(VERIFIER)),
            ("code_challenge_method", "S256".into()),
        ];
        for (k, v) in changes {
            params.retain(|(name, _)| name != k);
            if !v.is_empty() {
                params.push((k, (*v).to_owned()));
            }
        }
        params
    }

    fn query(params: &[(&'static str, String)]) -> String {
        serde_urlencoded::to_string(params).unwrap()
    }

    async fn choose(router: &Router, params: &[(&'static str, String)], user: &str) -> Reply {
        let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("user", user));
        post_form(router, "/authorize", &form, None).await
    }

    /// Signs `user` in and returns the code from the redirect.
    async fn code_for(router: &Router, user: &str) -> String {
        let reply = choose(router, &authz(&[]), user).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
        reply.query("code").expect("a code")
    }

    async fn redeem(router: &Router, code: &str, verifier: &str) -> Reply {
        post_form(
            router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", verifier),
            ],
            Some(&basic("app", SECRET)),
        )
        .await
    }

    #[tokio::test]
    async fn discovery_names_every_endpoint_under_the_issuer() {
        let f = fixture();
        let reply = get(&f.router, "/.well-known/openid-configuration").await;
        assert_eq!(reply.status, StatusCode::OK);
        let doc = reply.json();
        assert_eq!(doc["issuer"], ISSUER);
        assert_eq!(doc["authorization_endpoint"], format!("{ISSUER}/authorize"));
        assert_eq!(doc["token_endpoint"], format!("{ISSUER}/token"));
        assert_eq!(doc["userinfo_endpoint"], format!("{ISSUER}/userinfo"));
        assert_eq!(doc["jwks_uri"], format!("{ISSUER}/jwks"));
        assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/logout"));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        let jwks = get(&f.router, "/jwks").await.json();
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str(),
                key["use"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"), Some("sig"))
        );
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(
            jwks["keys"][0].get("d").is_none(),
            "the private key must never be published"
        );
    }

    #[tokio::test]
    async fn authorize_refuses_unregistered_redirect_uri_without_redirecting() {
        let f = fixture();
        for bad in [
            "http://evil.example/callback",
            "http://127.0.0.1:8080/auth/callback/",
            "http://127.0.0.1:8080/auth/callback?x=1",
            "http://127.0.0.1:9090/cb", // registered, but for another client
        ] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&[("redirect_uri", bad)]))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{bad}");
            assert!(reply.body.contains("not registered"), "{}", reply.body);
            // The POST re-validates too.
            let reply = choose(&f.router, &authz(&[("redirect_uri", bad)]), "alice").await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{bad}");
        }
        let reply = get(
            &f.router,
            &format!("/authorize?{}", query(&authz(&[("redirect_uri", "")]))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_client_without_redirecting() {
        let f = fixture();
        for client in ["nobody", "<b>x</b>", ""] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&[("client_id", client)]))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert!(reply.headers.get(header::LOCATION).is_none());
            assert!(!reply.body.contains("<b>x</b>"), "escaped");
        }
    }

    #[tokio::test]
    async fn authorize_refuses_duplicate_or_malformed_parameters_with_a_page() {
        let f = fixture();
        let q = format!("{}&state=again", query(&authz(&[])));
        let reply = get(&f.router, &format!("/authorize?{q}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
        let reply = get(&f.router, "/authorize?client_id=%FF%FE").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn authorize_without_s256_pkce_redirects_with_invalid_request() {
        let f = fixture();
        for changes in [
            vec![("code_challenge", "")],
            vec![("code_challenge_method", "")],
            vec![("code_challenge_method", "plain")],
            vec![("code_challenge", "too-short")],
        ] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&changes))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::FOUND, "{changes:?}");
            let loc = reply.location();
            assert_eq!(loc.as_str().split('?').next(), Some(CALLBACK));
            assert_eq!(
                reply.query("error").as_deref(),
                Some("invalid_request"),
                "{changes:?}"
            );
            assert_eq!(reply.query("state").as_deref(), Some("st-123"));
            assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
            assert_eq!(reply.query("code"), None);
            // And no code from the POST either.
            let reply = choose(&f.router, &authz(&changes), "alice").await;
            assert_eq!(reply.query("error").as_deref(), Some("invalid_request"));
            assert_eq!(reply.query("code"), None);
        }
    }

    #[tokio::test]
    async fn authorize_checks_scope_response_type_and_prompt() {
        let f = fixture();
        let cases = [
            (vec![("scope", "profile email")], "invalid_scope"),
            (vec![("scope", "")], "invalid_scope"),
            (
                vec![("response_type", "token")],
                "unsupported_response_type",
            ),
            (vec![("response_type", "")], "invalid_request"),
            (vec![("prompt", "none")], "login_required"),
            (vec![("response_mode", "form_post")], "invalid_request"),
            (
                vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
                "request_not_supported",
            ),
        ];
        for (changes, error) in cases {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&changes))),
            )
            .await;
            assert_eq!(reply.query("error").as_deref(), Some(error), "{changes:?}");
            assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
        }
    }

    #[tokio::test]
    async fn picker_lists_every_user_escaped_and_warns() {
        let f = fixture();
        let reply = get(
            &f.router,
            &format!("/authorize?{}", query(&authz(&[("state", "\"><script>")]))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::OK);
        let body = &reply.body;
        assert!(body.contains("choose a test user"));
        assert!(body.contains("For development only"));
        for text in [
            "Alice Example",
            "alice@example.com",
            "admins",
            "Bob Example",
            "Mallory Example",
            "email not verified",
        ] {
            assert!(body.contains(text), "{text}");
        }
        assert!(body.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(body.contains("a&amp;b"));
        assert!(
            body.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "state is escaped in its hidden field"
        );
        assert!(!body.contains("<script>"));
        let csp = reply
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("default-src 'none'") && csp.contains("frame-ancestors 'none'"));
    }

    #[tokio::test]
    async fn authorize_post_refuses_an_unknown_user() {
        let f = fixture();
        let reply = choose(&f.router, &authz(&[]), "root").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
        let mut form: Vec<(&str, &str)> = Vec::new();
        let params = authz(&[]);
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let reply = post_form(&f.router, "/authorize", &form, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "no user chosen");
    }

    #[tokio::test]
    async fn cancel_redirects_with_access_denied() {
        let f = fixture();
        let params = authz(&[]);
        let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("action", "deny"));
        let reply = post_form(&f.router, "/authorize", &form, None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.query("error").as_deref(), Some("access_denied"));
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("code"), None);
    }

    #[tokio::test]
    async fn redirect_keeps_the_registered_query() {
        let f = fixture();
        let reply = choose(
            &f.router,
            &authz(&[("redirect_uri", "http://127.0.0.1:8080/cb?tenant=7")]),
            "bob",
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let loc = reply.location();
        assert_eq!(loc.path(), "/cb");
        assert_eq!(reply.query("tenant").as_deref(), Some("7"));
        assert!(reply.query("code").is_some());
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
    }

    #[tokio::test]
    async fn happy_path_id_token_verifies_against_the_jwks() {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let f = fixture();
        let reply = choose(&f.router, &authz(&[]), "alice").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location().as_str().split('?').next(), Some(CALLBACK));
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
        let code = reply.query("code").unwrap();

        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let tokens = reply.json();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 3600);
        assert_eq!(tokens["scope"], "openid profile email");
        let id_token = tokens["id_token"].as_str().unwrap();
        let access_token = tokens["access_token"].as_str().unwrap();

        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&get(&f.router, "/jwks").await.body).unwrap();
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("the kid is in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["app"]);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false; // the test clock is in 2023
        let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
            .unwrap()
            .claims;
        let now = 1_700_000_000u64;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["nonce"], "n-456");
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 300);
        assert_eq!(claims["auth_time"], now);
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "Alice Example");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["groups"], json!(["admins", "readers"]));
        let at_hash =
            B64.encode(&digest::digest(&digest::SHA256, access_token.as_bytes()).as_ref()[..16]);
        assert_eq!(claims["at_hash"], at_hash);

        // A token signed with another key is refused by the same checks.
        let forged = SigningKey::generate().sign(&claims).unwrap();
        assert!(jsonwebtoken::decode::<Map<String, Value>>(&forged, &key, &validation).is_err());

        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(info.status, StatusCode::OK);
        let info = info.json();
        assert_eq!(info["sub"], "alice");
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["groups"], json!(["admins", "readers"]));

        // Logout with the hint goes to the registered target and ends the access token.
        let q = serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://127.0.0.1:8080/public"),
            ("state", "bye"),
        ])
        .unwrap();
        let reply = get(&f.router, &format!("/logout?{q}")).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            reply.location().as_str(),
            "http://127.0.0.1:8080/public?state=bye"
        );
        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn scope_decides_which_claims_are_released() {
        let f = fixture();
        let reply = choose(&f.router, &authz(&[("scope", "openid unknown")]), "alice").await;
        let code = reply.query("code").unwrap();
        let tokens = redeem(&f.router, &code, VERIFIER).await.json();
        assert_eq!(tokens["scope"], "openid");
        let payload = tokens["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: Map<String, Value> =
            serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        assert!(claims.get("email").is_none() && claims.get("name").is_none());
        assert_eq!(claims["groups"], json!(["admins", "readers"]));
    }

    #[tokio::test]
    async fn token_rejects_a_wrong_pkce_verifier_and_burns_the_code() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let wrong = "x".repeat(43);
        let reply = redeem(&f.router, &code, &wrong).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(
            reply.json()["error"],
            "invalid_grant",
            "a failed attempt uses the code up"
        );

        let code = code_for(&f.router, "alice").await;
        let reply = redeem(&f.router, &code, "short").await;
        assert_eq!(reply.json()["error"], "invalid_grant");
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            Some(&basic("app", SECRET)),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_grant", "no verifier");
    }

    #[tokio::test]
    async fn token_rejects_a_reused_code_and_revokes_its_tokens() {
        let f = fixture();
        let code = code_for(&f.router, "bob").await;
        let first = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(first.status, StatusCode::OK);
        let access_token = first.json()["access_token"].as_str().unwrap().to_owned();
        let second = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(second.status, StatusCode::BAD_REQUEST);
        assert_eq!(second.json()["error"], "invalid_grant");
        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            info.status,
            StatusCode::UNAUTHORIZED,
            "the first redemption's token is revoked"
        );
    }

    #[tokio::test]
    async fn token_rejects_bad_client_authentication_with_401() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ];
        for auth in [
            Some(basic("app", "wrong")),
            Some(basic("app", "s3cr3t")),
            Some(basic("nobody", SECRET)),
            Some("Basic !!!".to_owned()),
            Some("Bearer abc".to_owned()),
            None,
        ] {
            let reply = post_form(&f.router, "/token", &form, auth.as_deref()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(reply.json()["error"], "invalid_client");
            assert!(reply.headers.get(header::WWW_AUTHENTICATE).is_some());
        }
        // Bad client authentication does not burn the code of the real client.
        assert_eq!(
            redeem(&f.router, &code, VERIFIER).await.status,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn token_accepts_client_secret_post_but_not_two_methods_at_once() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", "app"),
            ("client_secret", SECRET),
        ];
        let reply = post_form(&f.router, "/token", &form, Some(&basic("app", SECRET))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = post_form(&f.router, "/token", &form, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    #[tokio::test]
    async fn token_rejects_a_code_of_another_client_or_redirect_uri() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
            Some(&basic("other", "other-secret")),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_grant");

        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:8080/cb?tenant=7"),
                ("code_verifier", VERIFIER),
            ],
            Some(&basic("app", SECRET)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn token_rejects_an_expired_code() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        f.clock.advance(61);
        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn token_rejects_other_grants_and_malformed_requests() {
        let f = fixture();
        let auth = basic("app", SECRET);
        let reply = post_form(
            &f.router,
            "/token",
            &[("grant_type", "password"), ("username", "alice")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "unsupported_grant_type");
        let reply = post_form(
            &f.router,
            "/token",
            &[("grant_type", "authorization_code")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = post_form(
            &f.router,
            "/token",
            &[("code", "a"), ("code", "b")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = send(
            &f.router,
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_request");
    }

    #[tokio::test]
    async fn public_client_redeems_with_pkce_alone() {
        let f = fixture();
        let params = authz(&[
            ("client_id", "spa"),
            ("redirect_uri", "http://127.0.0.1:8080/spa"),
        ]);
        let code = choose(&f.router, &params, "bob")
            .await
            .query("code")
            .unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8080/spa"),
            ("code_verifier", VERIFIER),
            ("client_id", "spa"),
        ];
        let reply = post_form(&f.router, "/token", &form, Some(&basic("spa", "made-up"))).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "a public client has no secret"
        );
        let reply = post_form(&f.router, "/token", &form, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        // A confidential client cannot skip its secret.
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
                ("client_id", "app"),
            ],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn userinfo_requires_a_valid_bearer_token() {
        let f = fixture();
        let reply = get(&f.router, "/userinfo").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"dev-idp\""
        );
        for auth in ["Bearer nope", "Basic abc", "Bearer"] {
            let reply = send(
                &f.router,
                Request::get("/userinfo")
                    .header(header::AUTHORIZATION, auth)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth}");
            let challenge = reply
                .headers
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap();
            assert!(
                challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
                "{challenge}"
            );
        }
        // An access token expires.
        let code = code_for(&f.router, "alice").await;
        let token = redeem(&f.router, &code, VERIFIER).await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        f.clock.advance(3601);
        let reply = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn logout_redirects_only_to_registered_uris() {
        let f = fixture();
        let reply = get(&f.router, "/logout").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply
            .body
            .contains("You are signed out of the development IdP"));

        let reply = get(
            &f.router,
            "/logout?client_id=app&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location().as_str(), "http://127.0.0.1:8080/public");

        for q in [
            "client_id=app&post_logout_redirect_uri=http%3A%2F%2Fevil.example%2F",
            "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
            "client_id=nobody&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
            "id_token_hint=not.a.token&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
        ] {
            let reply = get(&f.router, &format!("/logout?{q}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{q}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{q}");
        }
    }

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

    #[test]
    fn form_decoding_follows_rfc_6749_2_3_1() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
