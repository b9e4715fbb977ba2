//! Shared test support: a controllable clock, a cookie jar that drives an app in-process, and
//! an in-process identity provider that misbehaves on demand.
#![allow(dead_code, unreachable_pub, missing_docs)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use tower::ServiceExt;
use tower_oidc::{Identity, OidcConfig, OidcConfigBuilder, OidcLayer, PgRole};

pub mod peer;
#[cfg(feature = "sqlx")]
pub mod pg;
pub mod real;

pub const CLIENT_ID: &str = "app";
pub const CLIENT_SECRET: &str = "app-secret-0123456789";
pub const BASE_URL: &str = "http://127.0.0.1:3999";

/// The crate's own test clock (feature `test-util`).
pub use tower_oidc::TestClock;

/// The app used by the tests: `/` and `/reports` are protected, `/public` is open.
pub fn app(layer: OidcLayer) -> Router {
    Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .route(
            "/me",
            get(|me: Identity| async move {
                Json(json!({
                    "subject": me.subject(), "issuer": me.issuer(), "email": me.email(),
                    "email_verified": me.email_verified(), "name": me.name(),
                    "preferred_username": me.preferred_username(), "groups": me.groups(),
                    "provider": me.provider(), "session_id": me.session_id(),
                    "role": me.role().map(|r| r.as_str()), "admin": me.is_admin(),
                }))
            }),
        )
        .route(
            "/claims",
            get(|me: Identity| async move {
                Json(json!({"claims": me.claims().clone(), "app": me.app_data()}))
            }),
        )
        .route(
            "/role",
            get(|role: PgRole| async move { role.set_local_role() }),
        )
        .route(
            "/reports",
            get(|me: Identity, req: Request<Body>| async move {
                format!("{} {}", me.subject(), req.uri().query().unwrap_or(""))
            }),
        )
        .route(
            "/public",
            get(|me: Option<Identity>| async move {
                me.map_or_else(|| "anonymous".to_owned(), |m| m.subject().to_owned())
            }),
        )
        .layer(layer)
}

/// A `tracing` writer into memory: give `move || buf.clone()` to a subscriber's `with_writer`,
/// and read what was logged with [`text`](Self::text).
#[derive(Clone, Default)]
pub struct LogBuffer(Arc<Mutex<Vec<u8>>>);

impl LogBuffer {
    /// A plain-text subscriber (no colours) writing into this buffer, up to `level`.
    pub fn subscriber(&self, level: tracing::Level) -> impl tracing::Subscriber + Send + Sync {
        let writer = self.clone();
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(level)
            .with_writer(move || writer.clone())
            .finish()
    }

    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl std::io::Write for LogBuffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// An example's binary, which `cargo test` builds beside the test binaries (a run filtered with
/// `--test` does not: then `cargo build --examples` first).
pub fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/<profile>/deps/<test>-<hash> -> target/<profile>/examples/<name>
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let bin = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run the tests with `cargo test`, which builds the examples",
        bin.display()
    );
    bin
}

/// The hidden inputs of an HTML form, as (name, value) pairs.
pub fn hidden_fields(page: &str) -> Vec<(String, String)> {
    page.split("<input type=\"hidden\" name=\"")
        .skip(1)
        .filter_map(|rest| {
            let (name, rest) = rest.split_once('"')?;
            let value = rest.split_once("value=\"")?.1.split_once('"')?.0;
            Some((name.to_owned(), value.replace("&amp;", "&")))
        })
        .collect()
}

/// A response with its body read.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect()
    }
    /// The error kind an error page names in its footer ("Error: <kind>"), or "".
    pub fn kind(&self) -> String {
        self.body
            .split("Error: ")
            .nth(1)
            .map(|s| s.split('<').next().unwrap().to_owned())
            .unwrap_or_default()
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

pub async fn read(
    res: Response<impl http_body::Body<Data = bytes::Bytes, Error = impl std::fmt::Debug>>,
) -> Reply {
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.expect("body").to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// A browser's cookie jar for the app, applying `Set-Cookie` like a browser (Max-Age=0 deletes).
#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    pub fn absorb(&mut self, reply: &Reply) {
        for c in reply.set_cookies() {
            let first = c.split(';').next().unwrap();
            let (name, value) = first.split_once('=').unwrap();
            if c.contains("Max-Age=0") || value.is_empty() {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    pub fn login_cookies(&self) -> usize {
        self.0.keys().filter(|k| k.contains("oidc-login-")).count()
    }
    pub fn session(&self) -> Option<&String> {
        self.0
            .iter()
            .find(|(k, _)| k.ends_with("oidc-session"))
            .map(|(_, v)| v)
    }

    /// Sends a request to the app as a browser navigation, with this jar's cookies.
    /// A jar holding a session minted by `layer` for `who`, as a finished login would leave.
    pub fn signed_in(layer: &OidcLayer, who: &Identity) -> Self {
        let cookie = layer.session_cookie(who);
        let (name, value) = cookie.split_once('=').unwrap();
        Self(BTreeMap::from([(name.to_owned(), value.to_owned())]))
    }

    pub async fn get(&mut self, app: &Router, path: &str) -> Reply {
        self.send(
            app,
            Request::get(path).header(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8"),
        )
        .await
    }

    /// POSTs `body` as a form to `path`, with this jar's cookies (a form_post callback).
    pub async fn post_form(&mut self, app: &Router, path: &str, body: impl Into<Body>) -> Reply {
        let mut builder =
            Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if !self.0.is_empty() {
            builder = builder.header(header::COOKIE, self.header());
        }
        let res = app
            .clone()
            .oneshot(builder.body(body.into()).unwrap())
            .await
            .unwrap();
        let reply = read(res).await;
        self.absorb(&reply);
        reply
    }

    pub async fn send(&mut self, app: &Router, builder: axum::http::request::Builder) -> Reply {
        let builder = if self.0.is_empty() {
            builder
        } else {
            builder.header(header::COOKIE, self.header())
        };
        let res = app
            .clone()
            .oneshot(builder.body(Body::empty()).unwrap())
            .await
            .unwrap();
        let reply = read(res).await;
        self.absorb(&reply);
        reply
    }
}

/// Query parameters of a URL as a map.
pub fn query(url: &str) -> BTreeMap<String, String> {
    let url = url::Url::parse(url)
        .unwrap_or_else(|_| url::Url::parse(BASE_URL).unwrap().join(url).unwrap());
    url.query_pairs().into_owned().collect()
}

/// A signing key of the mock provider, with its public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: Option<String>,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl SigningKey {
    pub fn rsa(pem: &[u8], kid: Option<&str>) -> Self {
        let encoding = EncodingKey::from_rsa_pem(pem).unwrap();
        let mut jwk = serde_json::to_value(
            jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap(),
        )
        .unwrap();
        let obj = jwk.as_object_mut().unwrap();
        obj.insert("use".into(), json!("sig"));
        match kid {
            Some(k) => {
                obj.insert("kid".into(), json!(k));
            }
            None => {
                obj.remove("kid");
            }
        }
        Self {
            kid: kid.map(str::to_owned),
            encoding,
            jwk,
        }
    }
    pub fn first() -> Self {
        Self::rsa(include_bytes!("../fixtures/rsa1.pem"), Some("key-1"))
    }
    pub fn second() -> Self {
        Self::rsa(include_bytes!("../fixtures/rsa2.pem"), Some("key-2"))
    }
    /// Signs claims as an RS256 JWS with this key's kid.
    pub fn sign(&self, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.kid.clone();
        jsonwebtoken::encode(&header, claims, &self.encoding).unwrap()
    }
}

/// What the mock provider does; tests change it between steps.
pub struct MockState {
    pub issuer: String,
    pub discovery_issuer: Option<String>,
    pub iss_supported: bool,
    pub discovery_body: Option<String>,
    pub jwks: Vec<Value>,
    pub jwks_body: Option<String>,
    /// The ID token the token endpoint returns (the nonce is filled in by the test).
    pub id_token: Option<String>,
    pub token_status: StatusCode,
    pub token_body: Option<String>,
    pub userinfo: Value,
    /// When set, userinfo answers this signed JWT (`application/jwt`) instead.
    pub userinfo_jwt: Option<String>,
    /// When set, discovery names a pushed authorization request endpoint (`/par`), which
    /// answers this status and body; its requests are recorded in `par_requests`.
    pub par: Option<(StatusCode, String)>,
    pub par_requests: Vec<(Option<String>, BTreeMap<String, String>)>,
    pub token_requests: Vec<(Option<String>, BTreeMap<String, String>)>,
    /// Token introspection (RFC 7662): `None`, discovery names no introspection endpoint;
    /// else the answer for each token, the one under `"*"` for any other, `{"active": false}`
    /// without it.
    pub introspection: Option<BTreeMap<String, Value>>,
    /// The introspection requests: their `Authorization` header and form.
    pub introspection_requests: Vec<(Option<String>, BTreeMap<String, String>)>,
    /// Misbehaviour per endpoint (none by default).
    pub faults: BTreeMap<Endpoint, Fault>,
    /// DPoP (RFC 9449): discovery's `dpop_signing_alg_values_supported`, when set.
    pub dpop_algs: Option<Vec<String>>,
    /// The nonce the token or userinfo endpoint demands in a proof (a proof without it gets
    /// `use_dpop_nonce` and the nonce); with `dpop_nonce_never`, even one with it.
    pub dpop_nonces: BTreeMap<Endpoint, String>,
    pub dpop_nonce_never: bool,
    /// Every request to an endpoint: its method, path, `Authorization` and `DPoP` headers.
    pub dpop_seen: Vec<DpopSeen>,
}

/// One request the mock saw, for the DPoP tests.
#[derive(Clone, Debug)]
pub struct DpopSeen {
    pub method: String,
    pub path: String,
    pub authorization: Option<String>,
    pub proof: Option<String>,
}

/// What a DPoP test wants to know of `req`.
fn dpop_seen(req: &Request<Body>) -> DpopSeen {
    let text = |name: &str| {
        req.headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    DpopSeen {
        method: req.method().to_string(),
        path: req.uri().path().to_owned(),
        authorization: text(header::AUTHORIZATION.as_str()),
        proof: text("dpop"),
    }
}

/// The `nonce` claim of a DPoP proof, unverified.
fn proof_nonce(proof: &str) -> Option<String> {
    use base64::Engine as _;
    let part = proof.split('.').nth(1)?;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .ok()?,
    )
    .ok()?;
    claims.get("nonce")?.as_str().map(str::to_owned)
}

/// The mock provider's endpoints, for [`MockState::faults`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Discovery,
    Jwks,
    Token,
    Userinfo,
    Introspection,
}

impl Endpoint {
    /// The endpoints a login uses (introspection is the API's alone).
    pub const ALL: [Endpoint; 4] = [
        Endpoint::Discovery,
        Endpoint::Jwks,
        Endpoint::Token,
        Endpoint::Userinfo,
    ];

    fn of(path: &str) -> Option<Self> {
        Some(match path {
            "/.well-known/openid-configuration" => Self::Discovery,
            "/jwks" => Self::Jwks,
            "/token" => Self::Token,
            "/userinfo" => Self::Userinfo,
            "/introspect" => Self::Introspection,
            _ => return None,
        })
    }

    /// How many requests this endpoint has had.
    pub fn count(self, hits: &Hits) -> u64 {
        self.hits(hits).load(Ordering::SeqCst)
    }

    fn hits(self, hits: &Hits) -> &AtomicU64 {
        match self {
            Self::Discovery => &hits.discovery,
            Self::Jwks => &hits.jwks,
            Self::Token => &hits.token,
            Self::Userinfo => &hits.userinfo,
            Self::Introspection => &hits.introspection,
        }
    }
}

/// How the mock provider misbehaves at one endpoint.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status with an HTML error page, as a failing proxy would.
    Status(StatusCode),
    /// Answers 200 `application/json` with a body that is not JSON.
    Garbage,
    /// Answers normally, after this long.
    Delay(Duration),
    /// Sends a 200 and its headers, then never a byte of the body.
    StallBody,
}

/// A response body that never yields a frame.
struct Stalled;

impl http_body::Body for Stalled {
    type Data = bytes::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Pending
    }
}

async fn inject_faults(
    State((s, hits)): State<Mock>,
    req: Request<Body>,
    next: axum::middleware::Next,
) -> Response<Body> {
    let Some(endpoint) = Endpoint::of(req.uri().path()) else {
        return next.run(req).await;
    };
    // Every request is counted, whether it is answered, delayed or faulted.
    endpoint.hits(&hits).fetch_add(1, Ordering::SeqCst);
    let seen = dpop_seen(&req);
    let challenge = {
        let mut st = s.lock().unwrap();
        let demanded = st.dpop_nonces.get(&endpoint).cloned();
        let never = st.dpop_nonce_never;
        let challenge = match (&seen.proof, demanded) {
            (Some(proof), Some(nonce))
                if never || proof_nonce(proof).as_deref() != Some(nonce.as_str()) =>
            {
                Some(nonce)
            }
            _ => None,
        };
        st.dpop_seen.push(seen);
        challenge
    };
    if let Some(nonce) = challenge {
        return if endpoint == Endpoint::Userinfo {
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header(
                    header::WWW_AUTHENTICATE,
                    r#"DPoP error="use_dpop_nonce", error_description="nonce required""#,
                )
                .header("DPoP-Nonce", nonce)
                .body(Body::empty())
                .unwrap()
        } else {
            Response::builder()
                .status(StatusCode::BAD_REQUEST)
                .header(header::CONTENT_TYPE, "application/json")
                .header("DPoP-Nonce", nonce)
                .body(Body::from(r#"{"error":"use_dpop_nonce"}"#))
                .unwrap()
        };
    }
    let fault = s.lock().unwrap().faults.get(&endpoint).cloned();
    match fault {
        None => next.run(req).await,
        Some(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            next.run(req).await
        }
        Some(Fault::Status(status)) => (
            status,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body><h1>Internal Server Error</h1></body></html>",
        )
            .into_response(),
        Some(Fault::Garbage) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            "<html>\u{0}{\"keys\": [tru",
        )
            .into_response(),
        Some(Fault::StallBody) => Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::new(Stalled))
            .unwrap(),
    }
}

#[derive(Clone)]
pub struct MockIdp {
    pub issuer: String,
    pub state: Arc<Mutex<MockState>>,
    pub hits: Arc<Hits>,
}

#[derive(Default, Debug)]
pub struct Hits {
    pub discovery: AtomicU64,
    pub jwks: AtomicU64,
    pub token: AtomicU64,
    pub userinfo: AtomicU64,
    pub introspection: AtomicU64,
}

impl Hits {
    pub fn token(&self) -> u64 {
        self.token.load(Ordering::SeqCst)
    }
    pub fn jwks(&self) -> u64 {
        self.jwks.load(Ordering::SeqCst)
    }
    pub fn userinfo(&self) -> u64 {
        self.userinfo.load(Ordering::SeqCst)
    }
    pub fn discovery(&self) -> u64 {
        self.discovery.load(Ordering::SeqCst)
    }
    pub fn introspection(&self) -> u64 {
        self.introspection.load(Ordering::SeqCst)
    }
}

type Mock = (Arc<Mutex<MockState>>, Arc<Hits>);

async fn discovery(State((s, _)): State<Mock>) -> Response<Body> {
    let s = s.lock().unwrap();
    if let Some(body) = &s.discovery_body {
        return (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response();
    }
    let iss = &s.issuer;
    let par = s.par.as_ref().map(|_| format!("{iss}/par"));
    let introspection = s
        .introspection
        .as_ref()
        .map(|_| format!("{iss}/introspect"));
    Json(json!({
        "introspection_endpoint": introspection,
        "pushed_authorization_request_endpoint": par,
        "issuer": s.discovery_issuer.clone().unwrap_or_else(|| iss.clone()),
        "authorization_endpoint": format!("{iss}/authorize"),
        "token_endpoint": format!("{iss}/token"),
        "userinfo_endpoint": format!("{iss}/userinfo"),
        "jwks_uri": format!("{iss}/jwks"),
        "end_session_endpoint": format!("{iss}/logout"),
        "response_types_supported": ["code"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        "authorization_response_iss_parameter_supported": s.iss_supported,
        "dpop_signing_alg_values_supported": s.dpop_algs,
    }))
    .into_response()
}

async fn jwks(State((s, _)): State<Mock>) -> Response<Body> {
    let s = s.lock().unwrap();
    match &s.jwks_body {
        Some(body) => body.clone().into_response(),
        None => Json(json!({ "keys": s.jwks })).into_response(),
    }
}

/// A request's `Authorization` header, as the mock records it.
fn authorization(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn token(
    State((s, _)): State<Mock>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response<Body> {
    let mut s = s.lock().unwrap();
    let auth = authorization(&headers);
    s.token_requests.push((auth, form));
    if let Some(body) = &s.token_body {
        return (
            s.token_status,
            [(header::CONTENT_TYPE, "application/json")],
            body.clone(),
        )
            .into_response();
    }
    let body = json!({
        "access_token": "access-token-1", "token_type": "Bearer", "expires_in": 300,
        "id_token": s.id_token.clone(),
    });
    (s.token_status, Json(body)).into_response()
}

async fn introspect(
    State((s, _)): State<Mock>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response<Body> {
    let mut s = s.lock().unwrap();
    let auth = authorization(&headers);
    let token = form.get("token").cloned().unwrap_or_default();
    s.introspection_requests.push((auth, form));
    let answers = s.introspection.clone().unwrap_or_default();
    let answer = answers
        .get(&token)
        .or_else(|| answers.get("*"))
        .cloned()
        .unwrap_or_else(|| json!({"active": false}));
    Json(answer).into_response()
}

async fn userinfo(State((s, _)): State<Mock>, headers: HeaderMap) -> Response<Body> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("DPoP "))
        });
    // The login's access token, or one the introspection answers for.
    let known = bearer == Some("access-token-1")
        || bearer.is_some_and(|t| {
            let s = s.lock().unwrap();
            s.introspection.as_ref().is_some_and(|a| a.contains_key(t))
        });
    if !known {
        return StatusCode::UNAUTHORIZED.into_response();
    }
    let s = s.lock().unwrap();
    if let Some(jwt) = &s.userinfo_jwt {
        return ([(header::CONTENT_TYPE, "application/jwt")], jwt.clone()).into_response();
    }
    Json(s.userinfo.clone()).into_response()
}

async fn par(
    State((s, _)): State<Mock>,
    headers: HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response<Body> {
    let mut s = s.lock().unwrap();
    let auth = authorization(&headers);
    s.par_requests.push((auth, form));
    let (status, body) = s
        .par
        .clone()
        .unwrap_or((StatusCode::NOT_FOUND, String::new()));
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

impl MockIdp {
    /// Starts the mock provider on 127.0.0.1 with one RS256 key (`key-1`).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(MockState {
            issuer: issuer.clone(),
            discovery_issuer: None,
            iss_supported: true,
            discovery_body: None,
            jwks: vec![SigningKey::first().jwk],
            jwks_body: None,
            id_token: None,
            token_status: StatusCode::OK,
            token_body: None,
            userinfo: json!({}),
            userinfo_jwt: None,
            par: None,
            par_requests: Vec::new(),
            token_requests: Vec::new(),
            introspection: None,
            introspection_requests: Vec::new(),
            faults: BTreeMap::new(),
            dpop_algs: None,
            dpop_nonces: BTreeMap::new(),
            dpop_nonce_never: false,
            dpop_seen: Vec::new(),
        }));
        let hits = Arc::new(Hits::default());
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/introspect", post(introspect))
            .route("/par", post(par))
            .layer(axum::middleware::from_fn_with_state(
                (state.clone(), hits.clone()),
                inject_faults,
            ))
            .with_state((state.clone(), hits.clone()));
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        Self {
            issuer,
            state,
            hits,
        }
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut MockState) -> R) -> R {
        f(&mut self.state.lock().unwrap())
    }

    /// Standard claims for a token answering the login whose nonce is `nonce`.
    pub fn claims(&self, clock: &TestClock, nonce: &str) -> Value {
        let now = clock.secs();
        json!({
            "iss": self.issuer, "sub": "user-1", "aud": CLIENT_ID, "exp": now + 300, "iat": now,
            "nonce": nonce, "email": "jane@example.com", "email_verified": true,
            "name": "Jane Doe", "preferred_username": "jane", "groups": ["readers"],
        })
    }

    /// A configuration builder pointing at this provider, with the test clock.
    pub fn config(&self, clock: &Arc<TestClock>) -> OidcConfigBuilder {
        OidcConfig::builder()
            .with_issuer(self.issuer.clone())
            .with_client_id(CLIENT_ID)
            .with_client_secret(CLIENT_SECRET)
            .with_base_url(BASE_URL)
            .with_cookie_key("bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=")
            .with_clock(clock.clone())
            .with_http_timeout(Duration::from_secs(3))
            .add_public_path("/public")
    }
}

/// The test app behind a layer configured for a fresh mock provider, with the test clock.
#[derive(Clone)]
pub struct MockApp {
    pub idp: MockIdp,
    pub clock: Arc<TestClock>,
    pub app: Router,
    pub layer: OidcLayer,
}

impl MockApp {
    /// Starts a mock provider and builds the app for it, with `edit` applied to the
    /// configuration of [`MockIdp::config`].
    pub async fn start(edit: impl FnOnce(OidcConfigBuilder) -> OidcConfigBuilder) -> Self {
        let idp = MockIdp::start().await;
        let clock = TestClock::new();
        let layer = OidcLayer::new(edit(idp.config(&clock)).build().unwrap());
        let app = app(layer.clone());
        Self {
            idp,
            clock,
            app,
            layer,
        }
    }
}

/// A login started in the jar: the authorization request's parameters.
#[derive(Debug)]
pub struct Started {
    pub authorize_url: String,
    pub state: String,
    pub nonce: String,
    pub challenge: String,
}

/// Navigates to `path` without a session and returns the login the app started.
pub async fn start_login(jar: &mut Jar, app: &Router, path: &str) -> Started {
    let reply = jar.get(app, path).await;
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "expected a redirect to the provider: {reply:?}"
    );
    let authorize_url = reply.location().to_owned();
    let q = query(&authorize_url);
    Started {
        state: q["state"].clone(),
        nonce: q["nonce"].clone(),
        challenge: q["code_challenge"].clone(),
        authorize_url,
    }
}

/// Calls the callback as the provider's redirect would, with `code` and the right `iss`.
pub async fn callback(jar: &mut Jar, app: &Router, idp: &MockIdp, state: &str) -> Reply {
    let q = serde_urlencoded::to_string([
        ("code", "code-1"),
        ("state", state),
        ("iss", idp.issuer.as_str()),
    ])
    .unwrap();
    jar.get(app, &format!("/auth/callback?{q}")).await
}

/// Runs a whole login against the mock whose token endpoint returns `claims` signed by `key`.
pub async fn login_with(
    jar: &mut Jar,
    app: &Router,
    idp: &MockIdp,
    key: &SigningKey,
    claims: impl FnOnce(Value) -> Value,
    clock: &TestClock,
) -> Reply {
    let started = start_login(jar, app, "/").await;
    let token = key.sign(&claims(idp.claims(clock, &started.nonce)));
    idp.with(|s| s.id_token = Some(token));
    callback(jar, app, idp, &started.state).await
}
