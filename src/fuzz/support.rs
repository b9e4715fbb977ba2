//! What the fuzz targets share: the input decoding, a fixed clock, the configurations under test,
//! a recorder that keeps every log line (to prove no secret is logged), one tokio runtime, and
//! the application behind the layer with the checks that hold for every answer.
//!
//! Nothing here leaves the process: the issuers point at a closed loopback port, so discovery
//! fails at once (and, with the fixed clock, is never retried).

use std::fmt::{self, Write as _};
use std::future::Future;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use arbitrary::{Arbitrary, Unstructured};
use serde::Serialize;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};

use crate::clock::TestClock;
use crate::config::OidcConfig;
use crate::identity::Identity;
use crate::layer::OidcLayer;
use crate::policy::PgRole;
use crate::session::{CookieCodec, CookieNames};

/// "Now" for every target, in seconds since the epoch.
pub(super) const NOW: u64 = 1_750_000_000;
/// The client secret of every configuration: it must never appear in a log, page or message.
pub(super) const CLIENT_SECRET: &str = "fuzz-client-secret-7Hq2Lx9VbN4mWc";
/// The cookie key of every configuration: it must never appear anywhere either.
/// Generated (`openssl rand -base64 32`), as a key must be.
pub(super) const COOKIE_KEY: &str = "MjRdIxEqf6xDQCFmBj5zXa9fT84zDmUP+pwLWvnh8TQ=";
/// A closed port on the loopback interface: discovery fails with "connection refused".
pub(super) const ISSUER: &str = "http://127.0.0.1:1/realms/staff";
/// The second provider's issuer (same closed port).
pub(super) const ISSUER_2: &str = "http://127.0.0.1:1/realms/partners";
/// The client id.
pub(super) const CLIENT_ID: &str = "fuzz-app";
/// The https application's origin.
pub(super) const BASE_HTTPS: &str = "https://app.example.com";
/// The http application's origin.
pub(super) const BASE_HTTP: &str = "http://127.0.0.1:3000";
/// The post-logout target: the only absolute URL the layer may redirect to.
pub(super) const POST_LOGOUT: &str = "https://app.example.com/bye";

/// Decodes a structured input the way `libfuzzer_sys::fuzz_target!` decodes a typed one
/// (`arbitrary_take_rest`, and inputs shorter than the type's minimum skipped), so corpora of
/// the typed targets keep their meaning. `None`: not an input of this target.
///
/// With `TOWER_OIDC_FUZZ_DEBUG` set, prints the decoded input to stderr first (what
/// `RUST_LIBFUZZER_DEBUG_PATH` did for the typed targets).
pub(super) fn decode<'a, T: Arbitrary<'a> + fmt::Debug>(data: &'a [u8]) -> Option<T> {
    static DEBUG: OnceLock<bool> = OnceLock::new();
    if data.len() < T::size_hint(0).0 {
        return None;
    }
    let case = T::arbitrary_take_rest(Unstructured::new(data));
    if *DEBUG.get_or_init(|| std::env::var_os("TOWER_OIDC_FUZZ_DEBUG").is_some()) {
        match &case {
            Ok(case) => eprintln!("{case:#?}"),
            Err(e) => eprintln!("not an input of this target: {e}"),
        }
    }
    case.ok()
}

/// What a cookie stores (a session's identity, a login record), as a JSON object: compared
/// field by field, and printed whole when a check fails.
pub(super) fn view<T: Serialize>(stored: &T) -> Map<String, Value> {
    match serde_json::to_value(stored) {
        Ok(Value::Object(map)) => map,
        // Strings, numbers, booleans and lists: always a JSON object.
        other => panic!("a cookie's contents did not serialize as an object: {other:?}"),
    }
}

/// The global role map and access rules of the single-provider (https) configuration.
pub(super) const SINGLE_TOML: &str = r#"
[claims]
groups = "groups"

[access]
allowed_email_domains = ["example.com", "*.example.org"]
admin_group = "admins"
admin_emails = ["boss@example.com"]
admin_email_domains = ["ops.example.com"]

[roles]
default = "app_viewer"
ignore_case = true
strip_leading_slash = true
[[roles.rule]]
group = "admins"
role = "app_admin"
[[roles.rule]]
group = "Readers"
role = "app_reader"
[[roles.rule]]
group = "Ünïcödé"
role = "app_unicode"
"#;

/// Two providers with their own claims and role maps (the http configuration).
pub(super) const MULTI_TOML: &str = r#"
[[providers]]
slug = "staff"
name = "Staff"
issuer = "http://127.0.0.1:1/realms/staff"
client_id = "fuzz-app"
client_secret = "fuzz-client-secret-7Hq2Lx9VbN4mWc"
claims = { groups = "realm_access.roles", email = "email" }
access = { admin_group = "/admins" }
[providers.roles]
[[providers.roles.rule]]
group = "staff"
role = "app_staff"

[[providers]]
slug = "partners"
name = "Partners"
issuer = "http://127.0.0.1:1/realms/partners"
client_id = "fuzz-app"
client_secret = "fuzz-client-secret-7Hq2Lx9VbN4mWc"
claims = { groups = "https://example.com/groups", username = "upn" }
access = { allowed_email_domains = ["partner.example"] }
"#;

/// The configuration under test: https with one provider and a global role map, or http with
/// two providers (each its own claims and rules). The clock never moves, so that every run of
/// an input behaves the same.
pub(super) fn config(https: bool) -> OidcConfig {
    let builder = OidcConfig::builder()
        .with_cookie_key(COOKIE_KEY)
        .with_clock(TestClock::at(NOW))
        .insecure_allow_http_issuer(true)
        .with_http_timeout(Duration::from_secs(2))
        .add_public_path("/public/")
        .with_post_logout_redirect_uri(POST_LOGOUT);
    let builder = if https {
        builder
            .with_issuer(ISSUER)
            .with_client_id(CLIENT_ID)
            .with_client_secret(CLIENT_SECRET)
            .with_base_url(BASE_HTTPS)
            .with_config_toml("single.toml", SINGLE_TOML)
    } else {
        builder
            .with_base_url(BASE_HTTP)
            .with_config_toml("multi.toml", MULTI_TOML)
    };
    match builder.build() {
        Ok(config) => config,
        Err(e) => panic!("the fuzz configuration is invalid: {e}"),
    }
}

/// The runtime every target drives its futures on: current-thread, made once.
pub(super) fn block_on<F: Future>(future: F) -> F::Output {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a tokio runtime (the fuzz targets cannot run without one)")
        })
        .block_on(future)
}

static LOG: Mutex<String> = Mutex::new(String::new());

/// Records every span and event field, at every level, as text.
struct Recorder;

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, "{}={} ", field.name(), value);
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        let _ = write!(self.0, "{}={:?} ", field.name(), value);
    }
}

fn log() -> std::sync::MutexGuard<'static, String> {
    LOG.lock().unwrap_or_else(|p| p.into_inner())
}

impl Subscriber for Recorder {
    fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
        Interest::always()
    }

    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn max_level_hint(&self) -> Option<tracing::level_filters::LevelFilter> {
        Some(tracing::level_filters::LevelFilter::TRACE)
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        span.record(&mut Fields(&mut log()));
        Id::from_u64(1)
    }

    fn record(&self, _: &Id, values: &Record<'_>) {
        values.record(&mut Fields(&mut log()));
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut log = log();
        event.record(&mut Fields(&mut log));
        log.push('\n');
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// Installs the log recorder (once per process).
pub(super) fn record_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        // Without the recorder the secret checks on the log would pass vacuously.
        if tracing::subscriber::set_global_default(Recorder).is_err() {
            panic!("another tracing subscriber is installed: the fuzz targets cannot see the log");
        }
    });
}

/// Everything logged since the last call.
pub(super) fn take_logs() -> String {
    std::mem::take(&mut *log())
}

/// Panics if `text` (a log, page or message) contains one of `secrets`.
pub(super) fn assert_no_secret(what: &str, text: &str, secrets: &[&str]) {
    for secret in secrets {
        assert!(
            secret.is_empty() || !text.contains(secret),
            "{what} contains the secret {secret:?}:\n{text}"
        );
    }
}

/// An application behind the layer, with the routes the extractors serve.
#[derive(Debug)]
pub(super) struct App {
    /// The layer (for `session_cookie`).
    pub(super) layer: OidcLayer,
    /// The router, layer included.
    pub(super) router: axum::Router,
    /// The cookie codec with the layer's keys (to mint login cookies, to open sessions).
    pub(super) codec: CookieCodec,
    /// The layer's cookie names.
    pub(super) names: CookieNames,
    /// Whether `BASE_URL` is https (`__Host-` cookies).
    pub(super) https: bool,
}

/// What the identity routes answer: `identity:` then the subject, issuer, provider and session
/// id, one per line.
async fn whoami(identity: Identity) -> String {
    describe(&identity)
}

fn describe(identity: &Identity) -> String {
    format!(
        "identity:\n{}\n{}\n{}\n{}",
        identity.subject(),
        identity.issuer(),
        identity.provider(),
        identity.session_id()
    )
}

async fn maybe(identity: Option<Identity>) -> String {
    identity.map_or_else(|| "anonymous".to_owned(), |i| describe(&i))
}

async fn role(role: PgRole) -> String {
    role.set_local_role()
}

async fn not_found(identity: Option<Identity>) -> (http::StatusCode, String) {
    (
        http::StatusCode::NOT_FOUND,
        identity.map_or_else(|| "anonymous".to_owned(), |i| describe(&i)),
    )
}

/// The https (single provider) or http (two providers) application, built once.
pub(super) fn app(https: bool) -> &'static App {
    static HTTPS: OnceLock<App> = OnceLock::new();
    static HTTP: OnceLock<App> = OnceLock::new();
    let cell = if https { &HTTPS } else { &HTTP };
    cell.get_or_init(|| {
        record_logs();
        let config = config(https);
        let codec = CookieCodec::new(&config);
        let names = CookieNames::new(config.secure_cookies);
        let layer = OidcLayer::new(config);
        use axum::routing::get;
        let router = axum::Router::new()
            .route("/", get(whoami).post(whoami))
            .route("/maybe", get(maybe))
            .route("/role", get(role))
            .route("/public/{*rest}", get(maybe))
            .fallback(not_found)
            .layer(layer.clone());
        App {
            layer,
            router,
            codec,
            names,
            https,
        }
    })
}

/// A response, its body read.
pub(super) type Answer = http::Response<bytes::Bytes>;

/// Sends `request` through the application.
pub(super) fn send(app: &App, request: http::Request<axum::body::Body>) -> Answer {
    use tower::ServiceExt as _;
    block_on(async {
        let response = app
            .router
            .clone()
            .oneshot(request)
            .await
            .unwrap_or_else(|e| match e {});
        let (parts, body) = response.into_parts();
        let body = match axum::body::to_bytes(body, 1 << 20).await {
            Ok(body) => body,
            Err(e) => panic!("an answer's body is not readable or over 1 MiB: {e}"),
        };
        http::Response::from_parts(parts, body)
    })
}

/// Percent-encodes what may not stand in a URI's path or query, so that most inputs make a
/// valid request target.
pub(super) fn uri_safe(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if (0x21..0x7f).contains(&b)
            && !matches!(
                b,
                b'#' | b'"' | b'<' | b'>' | b'`' | b'{' | b'}' | b'|' | b'\\' | b'^'
            )
        {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// Checks that hold for every answer of the layer: no server error, only cookie removals
/// (no login can complete here), redirects to same-origin paths or the configured post-logout
/// target only, and no secret in the answer or the log. Returns the log.
pub(super) fn check_answer(answer: &Answer, secrets: &[&str]) -> String {
    let status = answer.status().as_u16();
    assert!(
        !matches!(status, 500 | 502),
        "server error {status}: {:?}",
        answer.body()
    );
    for set in answer.headers().get_all(http::header::SET_COOKIE) {
        let Ok(set) = set.to_str() else {
            panic!("a Set-Cookie header is not ASCII: {set:?}");
        };
        let Some((_, rest)) = set.split_once('=') else {
            panic!("a Set-Cookie header is not name=value: {set}");
        };
        assert!(
            rest.starts_with(';') && set.contains("Max-Age=0"),
            "a cookie was set, not removed: {set}"
        );
    }
    if let Some(location) = answer.headers().get(http::header::LOCATION) {
        let Ok(location) = location.to_str() else {
            panic!("the Location header is not ASCII: {location:?}");
        };
        assert!(
            location == POST_LOGOUT
                || (location.starts_with('/')
                    && !location.starts_with("//")
                    && !location.starts_with("/\\")),
            "redirect to {location}"
        );
    }
    let body = String::from_utf8_lossy(answer.body());
    let mut all = secrets.to_vec();
    all.extend([CLIENT_SECRET, COOKIE_KEY]);
    assert_no_secret("the body", &body, &all);
    for (name, value) in answer.headers() {
        assert_no_secret(
            name.as_str(),
            &String::from_utf8_lossy(value.as_bytes()),
            &all,
        );
    }
    let logs = take_logs();
    assert_no_secret("the log", &logs, &all);
    logs
}
