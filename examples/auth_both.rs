//! `AUTH_METHOD=both`: single sign-on for everyone, plus a password login kept for the app's
//! own administrator (the Mathesar plan: SSO first, a local account only as a way in when the
//! identity provider is down or not yet set up).
//!
//! ```text
//! cargo run --example auth_both
//! LOCAL_ADMIN_PASSWORD='a long passphrase' cargo run --example auth_both
//! ```
//!
//! Open <http://127.0.0.1:3000/>. Without a session a browser gets a chooser page (instead of a
//! redirect to the provider): "Sign in with Development IdP" starts SSO, "Sign in with a local
//! account" leads to `/local/login`, where the username `admin` and the password from
//! `LOCAL_ADMIN_PASSWORD` sign in (when it is unset, a random password is generated and printed
//! at startup). Scripts without any session get 401 JSON.
//!
//! How the two logins share the layer:
//! - the `OidcLayer` still guards every route and handles `/auth/*` (SSO login, callback, logout);
//! - the app keeps its own sessions (a random token in an HttpOnly cookie, remembered in memory)
//!   and tells the layer about them with `with_local_session`: a request whose cookie names a
//!   live local session passes without an SSO session, and the app's own extractor ([`Who`])
//!   then says who it is;
//! - the local login routes live under `/local/`, a public path, so that they are reachable
//!   without a session.
//!
//! Without `OIDC_ISSUER_URL`, the development IdP (alice, bob, mallory; for development only)
//! starts on a free loopback port. With `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID` and
//! `OIDC_CLIENT_SECRET` set, SSO goes there instead; register `{BASE_URL}/auth/callback`. The app
//! listens on the host and port of `BASE_URL` (default `http://127.0.0.1:3000`).
//!
//! Routes: `GET /` (HTML: who you are), `GET /api/me` (JSON, `{"kind": "sso" | "local", ...}`),
//! `GET|POST /local/login`, `POST /local/logout`, and the layer's `/auth/*`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use aws_lc_rs::digest::{digest, SHA256};
use axum::extract::{FromRequestParts, Query, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::json;
use subtle::ConstantTimeEq;
use tower_oidc::{AuthMethod, ConfigError, Identity, OidcConfig, OidcConfigBuilder, OidcLayer};
use tower_oidc_dev_idp::{DevClient, DevIdp, RunningDevIdp};

const DEFAULT_BASE_URL: &str = "http://127.0.0.1:3000";
/// The only local account: the app's own administrator.
pub const LOCAL_USERNAME: &str = "admin";
/// How long a local session lasts (OWASP Session Management: short for privileged accounts).
const LOCAL_SESSION_TTL: Duration = Duration::from_secs(8 * 60 * 60);

/// The app's own login: the administrator's password and the live local sessions.
pub struct LocalLogin {
    /// SHA-256 of the password, so that comparing costs the same whatever the length typed.
    password_hash: [u8; 32],
    /// SHA-256 of each live session token -> when it expires. Keying by the hash keeps the
    /// map's lookup timing unrelated to the token itself.
    sessions: Mutex<HashMap<[u8; 32], Instant>>,
    /// `Secure` and the `__Host-` prefix when BASE_URL is https.
    secure: bool,
}

impl std::fmt::Debug for LocalLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalLogin")
            .field("password", &"[redacted]")
            .field("secure", &self.secure)
            .finish_non_exhaustive()
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, data).as_ref());
    out
}

impl LocalLogin {
    /// The local login for `admin` with `password`; `secure` when the app is served over https.
    pub fn new(password: &str, secure: bool) -> Self {
        Self {
            password_hash: sha256(password.as_bytes()),
            sessions: Mutex::new(HashMap::new()),
            secure,
        }
    }

    /// The session cookie's name.
    pub fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-local-admin"
        } else {
            "local-admin"
        }
    }

    /// Whether the username and password are the administrator's, in constant time.
    fn check(&self, username: &str, password: &str) -> bool {
        let user = sha256(username.as_bytes()).ct_eq(&sha256(LOCAL_USERNAME.as_bytes()));
        let pass = sha256(password.as_bytes()).ct_eq(&self.password_hash);
        (user & pass).into()
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Instant>> {
        // Nothing panics while holding the lock, but a poisoned map is still a valid map.
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Starts a local session: a fresh random 32-byte token, base64url, for the cookie.
    fn start_session(&self) -> String {
        let token = random_token();
        let now = Instant::now();
        let mut sessions = self.sessions();
        sessions.retain(|_, expires| *expires > now);
        sessions.insert(sha256(token.as_bytes()), now + LOCAL_SESSION_TTL);
        token
    }

    /// The request's local session token, if it names a live session. Cheap, no I/O: this is
    /// what the layer calls (through `with_local_session`) on requests without SSO.
    pub fn is_signed_in(&self, headers: &HeaderMap) -> bool {
        self.token(headers).is_some_and(|token| {
            self.sessions()
                .get(&sha256(token.as_bytes()))
                .is_some_and(|expires| *expires > Instant::now())
        })
    }

    fn token<'h>(&self, headers: &'h HeaderMap) -> Option<&'h str> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(name, _)| *name == self.cookie_name())
            .map(|(_, value)| value)
    }

    fn end_session(&self, headers: &HeaderMap) {
        if let Some(token) = self.token(headers) {
            self.sessions().remove(&sha256(token.as_bytes()));
        }
    }

    /// `Set-Cookie` for `value`, or removing the cookie when `None`.
    fn set_cookie(&self, value: Option<&str>) -> String {
        let max_age = value.map_or(0, |_| LOCAL_SESSION_TTL.as_secs());
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
            self.cookie_name(),
            value.unwrap_or("")
        )
    }
}

/// The app behind the layer, with `AUTH_METHOD=both`. `sso` names the identity provider
/// (issuer, client, BASE_URL, ...); this adds the local login to it.
pub fn app(sso: OidcConfigBuilder, local: LocalLogin) -> Result<Router, ConfigError> {
    let local = Arc::new(local);
    let recognises = Arc::clone(&local);
    let config = sso
        .with_auth_method(AuthMethod::Both)
        // Let requests with a live local session through; `Who` identifies them.
        .with_local_session(move |parts: &Parts| recognises.is_signed_in(&parts.headers))
        // Linked from the chooser page, with `?return_to=`.
        .with_local_login_url("/local/login")
        // The local login must be reachable without any session.
        .add_public_path("/local/")
        .build()?;
    Ok(Router::new()
        .route("/", get(home))
        .route("/api/me", get(me))
        .route("/local/login", get(login_form).post(login))
        .route("/local/logout", post(logout))
        .with_state(local)
        .layer(OidcLayer::new(config)))
}

/// SSO through a development IdP on a free loopback port (for development only), with the
/// configuration that points at it. Keep the returned IdP alive: dropping it stops it.
pub async fn dev_sso(base_url: &str) -> std::io::Result<(RunningDevIdp, OidcConfigBuilder)> {
    let secret = random_token();
    let redirect = format!("{}/auth/callback", base_url.trim_end_matches('/'));
    let idp = DevIdp::spawn(|idp| {
        idp.with_client(DevClient::new("auth-both", &secret).add_redirect_uri(redirect))
            .with_default_users()
    })
    .await?;
    let config = OidcConfig::builder()
        .with_issuer(idp.issuer())
        .with_client_id("auth-both")
        .with_client_secret(secret)
        .with_base_url(base_url)
        .with_provider_name("Development IdP")
        .with_provider_slug("dev-idp")
        // Sessions only need to outlive this process.
        .with_cookie_key(random_token());
    Ok((idp, config))
}

/// Who is asking: an SSO user, or the local administrator.
#[derive(Debug)]
pub enum Who {
    /// Signed in through the identity provider; the layer put the identity on the request.
    Sso(Identity),
    /// Signed in with the local password.
    Local,
}

impl FromRequestParts<Arc<LocalLogin>> for Who {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        local: &Arc<LocalLogin>,
    ) -> Result<Self, Self::Rejection> {
        if let Some(identity) = parts.extensions.get::<Identity>() {
            return Ok(Who::Sso(identity.clone()));
        }
        // Checked again here: the layer's check only decides whether the request may pass.
        if local.is_signed_in(&parts.headers) {
            return Ok(Who::Local);
        }
        let body = Json(json!({ "error": "unauthenticated", "message": "sign in first" }));
        Err((StatusCode::UNAUTHORIZED, body).into_response())
    }
}

/// `GET /`: who you are.
async fn home(who: Who) -> Html<String> {
    let content = match who {
        Who::Sso(id) => format!(
            "<h1>Signed in with SSO as {name}</h1><p>Subject <code>{sub}</code> at <code>{iss}</code>; \
             groups: {groups}.</p><p><a href=\"/api/me\">/api/me</a> · <a href=\"/auth/logout\">Sign out</a></p>",
            name = escape(id.name().unwrap_or(id.subject())),
            sub = escape(id.subject()),
            iss = escape(id.issuer()),
            groups = escape(&id.groups().join(", ")),
        ),
        Who::Local => format!(
            "<h1>Signed in as the local administrator <code>{LOCAL_USERNAME}</code></h1>\
             <p><a href=\"/api/me\">/api/me</a></p>\
             <form method=\"post\" action=\"/local/logout\"><button>Sign out</button></form>"
        ),
    };
    Html(page("Signed in", &content))
}

/// `GET /api/me`: who you are, as JSON.
async fn me(who: Who) -> Json<serde_json::Value> {
    Json(match who {
        Who::Sso(id) => json!({
            "kind": "sso",
            "subject": id.subject(),
            "issuer": id.issuer(),
            "email": id.email(),
            "name": id.name(),
            "groups": id.groups(),
            "role": id.role().map(|r| r.as_str()),
            "admin": id.is_admin(),
            "provider": id.provider(),
        }),
        Who::Local => json!({ "kind": "local", "username": LOCAL_USERNAME, "admin": true }),
    })
}

/// The `return_to` query parameter of the login form.
#[derive(Debug, Deserialize)]
struct ReturnTo {
    return_to: Option<String>,
}

/// The login form's fields.
#[derive(Debug, Deserialize)]
struct Credentials {
    username: String,
    password: String,
    return_to: Option<String>,
}

/// `GET /local/login`: the form.
async fn login_form(Query(q): Query<ReturnTo>) -> Response {
    login_page(StatusCode::OK, same_origin_path(q.return_to.as_deref()), "")
}

/// `POST /local/login`: checks the password; on success a new session and a 303 to `return_to`.
async fn login(State(local): State<Arc<LocalLogin>>, Form(form): Form<Credentials>) -> Response {
    let target = same_origin_path(form.return_to.as_deref());
    if !local.check(&form.username, &form.password) {
        // A real app would also slow down repeated failures (OWASP Authentication Cheat Sheet).
        tracing::warn!(event = "local_login_failed");
        return login_page(
            StatusCode::UNAUTHORIZED,
            target,
            "<p role=\"alert\">Wrong username or password.</p>",
        );
    }
    tracing::info!(event = "local_login", username = LOCAL_USERNAME);
    // Always a new token: a session value planted before login is never promoted (no fixation).
    let token = local.start_session();
    see_other(target, Some(local.set_cookie(Some(&token))))
}

/// `POST /local/logout`: forgets the session and removes the cookie.
async fn logout(State(local): State<Arc<LocalLogin>>, headers: HeaderMap) -> Response {
    local.end_session(&headers);
    see_other("/", Some(local.set_cookie(None)))
}

/// `return_to` if it is a same-origin path (one leading `/`, printable ASCII, no `\`), else
/// `/`: never an open redirect (`//evil.example` and `https://evil.example` give `/`).
fn same_origin_path(raw: Option<&str>) -> &str {
    match raw {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && p.len() <= 1024
                && p.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            p
        }
        _ => "/",
    }
}

/// A 303 to `location` (already a checked same-origin path), optionally setting a cookie.
fn see_other(location: &str, cookie: Option<String>) -> Response {
    let mut res = StatusCode::SEE_OTHER.into_response();
    let h = res.headers_mut();
    h.insert(
        header::LOCATION,
        HeaderValue::from_str(location).unwrap_or(HeaderValue::from_static("/")),
    );
    if let Some(cookie) = cookie.and_then(|c| HeaderValue::try_from(c).ok()) {
        h.insert(header::SET_COOKIE, cookie);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn login_page(status: StatusCode, return_to: &str, message: &str) -> Response {
    let to = escape(return_to);
    let sso: String = url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect();
    let content = format!(
        "<h1>Local administrator</h1>{message}\
         <form method=\"post\" action=\"/local/login\">\
         <input type=\"hidden\" name=\"return_to\" value=\"{to}\">\
         <p><label>Username <input name=\"username\" value=\"{LOCAL_USERNAME}\" autocomplete=\"username\" required></label></p>\
         <p><label>Password <input type=\"password\" name=\"password\" autocomplete=\"current-password\" required autofocus></label></p>\
         <p><button>Sign in</button></p></form>\
         <p><a href=\"/auth/login?return_to={sso}\">Other ways to sign in</a></p>",
        sso = escape(&sso),
    );
    let mut res = (status, Html(page("Local sign-in", &content))).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn page(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
         <body style=\"font-family:system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem\">\
         {content}</body></html>"
    )
}

/// Escapes text for HTML element content and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// 32 random bytes, base64url.
fn random_token() -> String {
    let mut bytes = [0u8; 32];
    aws_lc_rs::rand::fill(&mut bytes)
        .expect("the operating system's random number generator failed");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let var = |key: &str| std::env::var(key).ok().filter(|v| !v.trim().is_empty());
    let base_url = var("BASE_URL").unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    let base_url = base_url.trim().trim_end_matches('/').to_owned();
    let listen = match url::Url::parse(&base_url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => format!(
            "{}:{}",
            u.host_str().unwrap_or_default(),
            u.port_or_known_default().unwrap_or(80)
        ),
        _ => {
            eprintln!("BASE_URL `{base_url}` is not an http(s) origin such as {DEFAULT_BASE_URL}");
            return ExitCode::from(2);
        }
    };

    // The local administrator's password: from the environment, or a fresh one printed below.
    let (password, generated) = match var("LOCAL_ADMIN_PASSWORD") {
        Some(p) => (p, false),
        None => (random_token(), true),
    };
    let local = LocalLogin::new(&password, base_url.starts_with("https://"));

    // SSO: your provider from the environment, or the development IdP.
    let mut dev_idp = None;
    let sso = if var("OIDC_ISSUER_URL").is_some() {
        OidcConfig::builder_from_lookup(|key| match key {
            "BASE_URL" => Some(base_url.clone()),
            _ => var(key),
        })
    } else {
        match dev_sso(&base_url).await {
            Ok((idp, config)) => {
                dev_idp = Some(idp);
                config
            }
            Err(err) => {
                eprintln!("cannot start the development IdP: {err}");
                return ExitCode::FAILURE;
            }
        }
    };
    let app = match app(sso, local) {
        Ok(app) => app,
        Err(err) => {
            eprintln!("The configuration is not usable:\n{err}");
            return ExitCode::from(2);
        }
    };

    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(listener) => listener,
        Err(err) => {
            eprintln!("cannot listen on {listen} (from BASE_URL {base_url}): {err}");
            return ExitCode::FAILURE;
        }
    };
    println!("\ntower-oidc auth_both (AUTH_METHOD=both), listening on {listen}\n");
    match &dev_idp {
        Some(idp) => println!(
            "  SSO: the development IdP at {} (alice, bob, mallory; for development only)",
            idp.issuer()
        ),
        None => println!("  SSO: register {base_url}/auth/callback at your provider"),
    }
    if generated {
        println!("  Local administrator: {LOCAL_USERNAME} / {password}  (generated; set LOCAL_ADMIN_PASSWORD to choose)");
    } else {
        println!("  Local administrator: {LOCAL_USERNAME}, password from LOCAL_ADMIN_PASSWORD");
    }
    println!("\n  Open {base_url}/ and choose how to sign in.\n");

    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    if let Err(err) = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
    {
        eprintln!("server error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
