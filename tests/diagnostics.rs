//! Operator diagnostics: every mistake names its fix. Against the real `oidc-provider` (started
//! by `scripts/test.sh`, and instances of this binary's own with other settings): a wrong
//! client secret, a secret with `+/=` under basic auth at a provider that does not decode it, a
//! code redeemed for another redirect URI, a provider without end-session, a login started at
//! another origin than `BASE_URL`, an issuer mismatch of a numbered provider; and a misspelt
//! variable, from `from_vars` and from the quickstart.
//!
//! The log is captured by one subscriber for the whole binary (tracing caches per-callsite
//! interest process-wide), and each test looks only at the lines of its own provider slug.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use axum::http::{header, Request, StatusCode};
use support::real::*;
use support::*;
use tower_oidc::{OidcConfig, OidcConfigBuilder, OidcLayer, TokenAuthMethod};

/// The secret of `tower-oidc-test-raw-basic` in server.mjs: `+`, `/` and `=`.
const ENCODED_SECRET: &str = "tower+oidc/test=secret==0123456789abcdef";
const COOKIE_KEY: &str = "5OAOdKmDPMQLQsv9UfDUSzTbCzFhyYMs7jYdVAQ8oTQ=";

/// Everything logged so far in this binary (a global subscriber, installed on first use).
fn logs() -> String {
    static BUF: OnceLock<LogBuffer> = OnceLock::new();
    BUF.get_or_init(|| {
        let buf = LogBuffer::default();
        tracing::subscriber::set_global_default(buf.subscriber(tracing::Level::INFO))
            .expect("the only subscriber");
        buf
    })
    .text()
}

/// The logged lines that contain every one of `needles`.
fn log_lines(needles: &[&str]) -> Vec<String> {
    logs()
        .lines()
        .filter(|l| needles.iter().all(|n| l.contains(n)))
        .map(str::to_owned)
        .collect()
}

/// A configuration for the real provider at `issuer`, under its own slug (for its log lines).
fn config(issuer: &str, slug: &str, client_id: &str, secret: &str) -> OidcConfigBuilder {
    logs(); // the subscriber is in place before the layer logs anything
    OidcConfig::builder()
        .with_issuer(issuer)
        .with_provider_slug(slug)
        .with_client_id(client_id)
        .with_client_secret(secret)
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key(COOKIE_KEY)
}

fn app_for(builder: OidcConfigBuilder) -> axum::Router {
    app(OidcLayer::new(builder.build().unwrap()))
}

#[tokio::test]
async fn a_wrong_client_secret_names_the_secret_and_the_auth_method() {
    let e = env();
    let app = app_for(config(
        &e.issuer,
        "wrong-secret",
        &e.client_id,
        "not-the-secret-4711",
    ));
    let mut jar = Jar::default();
    let reply = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "alice").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
    assert_eq!(reply.kind(), "client_rejected");
    for named in [
        "OIDC_CLIENT_SECRET",
        "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
        "invalid_client",
    ] {
        assert!(reply.body.contains(named), "{named}: {}", reply.body);
    }
    assert!(
        !reply.body.contains("RFC 6749"),
        "no encoding hint for a plain secret"
    );
    assert!(
        !reply.body.contains("client authentication failed"),
        "the provider's description stays off the page: {}",
        reply.body
    );
    assert!(!reply.body.contains("not-the-secret-4711"));
    assert!(jar.session().is_none());

    let refused = log_lines(&["event=\"token_refused\"", "provider=\"wrong-secret\""]);
    assert_eq!(refused.len(), 1, "{}", logs());
    assert!(
        refused[0].contains("error=\"invalid_client\"")
            && refused[0].contains("error_description=\"client authentication failed\""),
        "the description goes to the log: {}",
        refused[0]
    );
    assert!(
        !logs().contains("not-the-secret-4711"),
        "no secret in the log"
    );
}

#[tokio::test]
async fn a_secret_with_plus_slash_equals_under_basic_auth_suggests_client_secret_post() {
    let e = env();
    let client = "tower-oidc-test-raw-basic";
    // At a provider that compares Basic credentials without form-decoding them, the secret
    // that RFC 6749 2.3.1 makes us encode is refused ...
    let app = app_for(config(&e.issuer, "encoded-secret", client, ENCODED_SECRET));
    let mut jar = Jar::default();
    let reply = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(reply.status, StatusCode::INTERNAL_SERVER_ERROR, "{reply:?}");
    assert_eq!(reply.kind(), "client_rejected");
    assert!(
        reply.body.contains("RFC 6749 section 2.3.1")
            && reply
                .body
                .contains("OIDC_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post"),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains(ENCODED_SECRET));
    assert!(!logs().contains(ENCODED_SECRET), "no secret in the log");

    // ... and the suggested fix works.
    let app = app_for(
        config(&e.issuer, "encoded-secret-post", client, ENCODED_SECRET)
            .with_token_auth_method(TokenAuthMethod::ClientSecretPost),
    );
    let mut jar = Jar::default();
    let reply = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(jar.get(&app, "/").await.body, "bob");
}

#[tokio::test]
async fn a_code_redeemed_for_another_redirect_uri_names_the_uri_to_register() {
    let e = env();
    // The login starts at the app whose redirect URI is registered; the callback reaches a
    // replica (same origin, same cookie key) whose callback path was moved, so it redeems the
    // code for a redirect URI the provider never saw.
    let started = app_for(config(&e.issuer, "moved", &e.client_id, &e.secret));
    let moved = app_for(
        config(&e.issuer, "moved", &e.client_id, &e.secret).with_callback_path("/auth/return"),
    );
    let mut jar = Jar::default();
    let start = jar.get(&started, "/").await;
    assert_eq!(start.status, StatusCode::FOUND);
    let back = Browser::new(&e.issuer)
        .authorize(start.location(), "alice")
        .await;
    let query = back.split_once('?').expect("the callback has a query").1;
    let reply = jar.get(&moved, &format!("/auth/return?{query}")).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(reply.kind(), "code_rejected");
    assert!(
        reply.body.contains("invalid_grant")
            && reply.body.contains("expired or was already used")
            && reply.body.contains("clock")
            && reply
                .body
                .contains("check that `http://127.0.0.1:3999/auth/return` is registered"),
        "{}",
        reply.body
    );
    assert!(
        !reply.body.contains("grant request is invalid"),
        "{}",
        reply.body
    );
    let refused = log_lines(&["event=\"token_refused\"", "provider=\"moved\""]);
    assert!(
        refused
            .iter()
            .any(|l| l.contains("error_description=\"grant request is invalid\"")),
        "{}",
        logs()
    );
}

#[tokio::test]
async fn logout_at_a_provider_without_end_session_says_the_provider_session_stays_open() {
    let e = env();
    let provider = RealProvider::start_with(0, &[("RP_INITIATED_LOGOUT", "off")]);
    let issuer = provider.issuer();
    let app = app_for(config(&issuer, "no-end-session", &e.client_id, &e.secret));
    let mut jar = Jar::default();
    let browser = Browser::new(&issuer);
    let reply = sign_in(&mut jar, &app, &browser, "/", "alice").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let warned = log_lines(&["provider=\"no-end-session\"", "no end_session_endpoint"]);
    assert_eq!(
        warned.len(),
        1,
        "warned once, when discovery first succeeds: {warned:?}"
    );
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(
        warned[0].contains("users stay signed in at the provider"),
        "{}",
        warned[0]
    );

    let out = jar.get(&app, "/auth/logout").await;
    assert_eq!(out.status, StatusCode::OK, "{out:?}");
    assert!(jar.session().is_none(), "signed out here");
    assert!(
        out.body
            .contains("Your session at the identity provider was not ended"),
        "{}",
        out.body
    );
    let logged = log_lines(&["event=\"logout_local_only\"", "provider=\"no-end-session\""]);
    assert_eq!(logged.len(), 1, "{}", logs());
    assert!(
        logged[0].contains("the session at the identity provider stays open")
            && logged[0].contains("no end_session_endpoint"),
        "{}",
        logged[0]
    );
    // The provider's session is indeed still open: the next login needs no password.
    let again = jar.get(&app, "/").await;
    let mut next = again.location().to_owned();
    while !next.starts_with(BASE_URL) {
        let res = browser.http.get(&next).send().await.unwrap();
        if !res.status().is_redirection() {
            let page = res.text().await.unwrap();
            assert!(
                !page.contains("name=\"prompt\" value=\"login\""),
                "no login form: the provider session is open"
            );
            break;
        }
        next = browser.absolute(res.headers()[header::LOCATION].to_str().unwrap());
    }
    provider.stop();
}

#[tokio::test]
async fn a_login_started_at_another_origin_says_to_open_base_url() {
    let e = env();
    let app = app_for(config(&e.issuer, "origin", &e.client_id, &e.secret));
    // The browser opened http://localhost:3999 while BASE_URL is http://127.0.0.1:3999: its
    // login cookie belongs to localhost, and the callback at 127.0.0.1 arrives without it.
    let mut at_localhost = Jar::default();
    let start = at_localhost
        .send(
            &app,
            Request::get("/reports")
                .header(header::HOST, "localhost:3999")
                .header(header::ACCEPT, "text/html"),
        )
        .await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    assert_eq!(at_localhost.login_cookies(), 1);
    let warned = log_lines(&["event=\"login_origin_mismatch\"", "host=\"localhost:3999\""]);
    assert_eq!(warned.len(), 1, "{}", logs());
    assert!(
        warned[0].contains("Open the app at BASE_URL"),
        "{}",
        warned[0]
    );
    let back = Browser::new(&e.issuer)
        .authorize(start.location(), "alice")
        .await;
    let mut at_base_url = Jar::default();
    let reply = at_base_url.get(&app, &path_of(&back)).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(reply.kind(), "login_expired");
    assert!(
        reply
            .body
            .contains("open http://127.0.0.1:3999 and sign in again"),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn an_issuer_mismatch_names_the_variable_of_the_provider_concerned() {
    let e = env();
    let b = std::env::var("TOWER_OIDC_TEST_ISSUER_B").expect("scripts/test.sh sets it");
    let vars = [
        ("BASE_URL", BASE_URL.to_owned()),
        ("OIDC_COOKIE_KEY", COOKIE_KEY.to_owned()),
        ("OIDC_PROVIDER_1_SLUG", "staff".to_owned()),
        ("OIDC_PROVIDER_1_ISSUER", b),
        ("OIDC_PROVIDER_1_CLIENT_ID", e.client_id.clone()),
        ("OIDC_PROVIDER_1_CLIENT_SECRET", e.secret.clone()),
        ("OIDC_PROVIDER_2_SLUG", "contractors".to_owned()),
        // The provider's issuer has no trailing slash.
        ("OIDC_PROVIDER_2_ISSUER", format!("{}/", e.issuer)),
        ("OIDC_PROVIDER_2_CLIENT_ID", e.client_id.clone()),
        ("OIDC_PROVIDER_2_CLIENT_SECRET", e.secret.clone()),
    ];
    logs();
    let app = app(OidcLayer::new(OidcConfig::from_vars(vars).unwrap()));
    let reply = Jar::default().get(&app, "/auth/login/contractors").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
    assert!(
        reply.body.contains(&format!(
            "but OIDC_PROVIDER_2_ISSUER is `{}/`; they must match exactly",
            e.issuer
        )),
        "{}",
        reply.body
    );
    assert!(
        reply
            .body
            .contains(&format!("set OIDC_PROVIDER_2_ISSUER to `{}`", e.issuer)),
        "{}",
        reply.body
    );
    assert!(!reply.body.contains("OIDC_ISSUER_URL"), "{}", reply.body);
}

#[test]
fn a_misspelt_variable_is_warned_about_with_the_closest_known_name() {
    logs();
    let config = OidcConfig::from_vars([
        ("BASE_URL", "https://app.example.com"),
        ("OIDC_COOKIE_KEY", COOKIE_KEY),
        ("OIDC_ISSUER_URL", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("OIDC_GROUP_CLAIM", "roles"),
        ("OIDC_ENABLED", "true"),
    ]);
    assert!(config.is_ok(), "a warning, not an error: {config:?}");
    let warned = log_lines(&["WARN", "OIDC_GROUP_CLAIM is not a tower-oidc variable"]);
    assert_eq!(warned.len(), 1, "{}", logs());
    assert!(
        warned[0].contains("did you mean OIDC_GROUPS_CLAIM?"),
        "{}",
        warned[0]
    );
    assert!(!warned[0].contains("roles"), "no value in the log");
    let ignored = log_lines(&["INFO", "OIDC_ENABLED is ignored on purpose"]);
    assert_eq!(ignored.len(), 1, "{}", logs());
}

#[test]
fn the_quickstart_warns_about_a_misspelt_variable() {
    let bin = example_binary("quickstart");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut cmd = Command::new(bin);
    for (key, _) in std::env::vars() {
        if key.starts_with("OIDC_") {
            cmd.env_remove(key);
        }
    }
    // Meant to use that provider; with the typo the development IdP starts instead.
    let mut child = cmd
        .env("BASE_URL", format!("http://127.0.0.1:{port}"))
        .env("OIDC_ISSUER_URI", "https://id.example.com")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the quickstart example, built by `cargo test`");
    let mut seen = String::new();
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("pick a test user") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.contains(
            "OIDC_ISSUER_URI is not a tower-oidc variable and is ignored; did you mean OIDC_ISSUER_URL?"
        ),
        "{seen}"
    );
}

/// The README, as the crate docs show it.
fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[tokio::test]
async fn the_readme_says_which_responses_carry_an_auth_error_and_they_do() {
    use tower_oidc::AuthError;
    let text = readme();
    assert!(
        !text.contains("Every response the")
            && text.contains("`GET /auth/providers` and the logout pages carry\nnone"),
        "the README's claim about AuthError"
    );
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(
        idp.config(&clock)
            .with_provider_slug("readme")
            .build()
            .unwrap(),
    );
    let service = app(layer);
    let send = |req: Request<axum::body::Body>| {
        let service = service.clone();
        async move {
            use tower::ServiceExt;
            service.oneshot(req).await.unwrap()
        }
    };
    let get = |path: &str, accept: &str| {
        Request::get(path)
            .header(header::ACCEPT, accept)
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let html = "text/html";
    let carries = |res: &axum::response::Response| res.extensions().get::<AuthError>().is_some();
    // With one: the 401 JSON and the error pages.
    let res = send(get("/", "application/json")).await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(carries(&res));
    let res = send(get("/auth/callback", html)).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(carries(&res));
    // Without: the redirect, the providers JSON, the logout pages.
    let res = send(get("/", html)).await;
    assert_eq!(res.status(), StatusCode::FOUND);
    assert!(!carries(&res));
    let res = send(get("/auth/providers", "application/json")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(!carries(&res));
    let res = send(get("/auth/logout", html)).await;
    assert_eq!(
        res.status(),
        StatusCode::FOUND,
        "to the mock's end-session endpoint"
    );
    assert!(!carries(&res));
    let cross_site = Request::get("/auth/logout")
        .header("sec-fetch-site", "cross-site")
        .body(axum::body::Body::empty())
        .unwrap();
    let res = send(cross_site).await;
    assert_eq!(res.status(), StatusCode::OK, "the confirmation page");
    assert!(!carries(&res));
}

#[tokio::test]
async fn the_readme_says_a_non_admin_signs_in_and_they_do() {
    let text = readme();
    assert!(
        text.contains("they sign in with `Identity::is_admin()` false"),
        "the README's claim about non-admins"
    );
    assert!(!text.contains("a user without a role, or not admin | the `403` page"));
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let app = app(OidcLayer::new(
        idp.config(&clock)
            .with_provider_slug("non-admin")
            .with_admin_group("admins")
            .build()
            .unwrap(),
    ));
    let mut jar = Jar::default();
    let reply = login_with(&mut jar, &app, &idp, &SigningKey::first(), |c| c, &clock).await;
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "signed in, not 403: {reply:?}"
    );
    let me = jar.get(&app, "/me").await.json();
    assert_eq!(me["admin"], false);
}

#[test]
fn the_readme_names_what_does_not_carry_over_from_tududi_and_timetracker() {
    let text = readme();
    for name in [
        "OIDC_ENABLED",
        "ALLOW_SELF_REGISTER",
        "OIDC_DNS_RESOLUTION_STRATEGY",
        "OIDC_IP_CACHE_TTL",
        "OIDC_USE_IP_DIRECTLY",
        "OIDC_USE_DOCKER_INTERNAL",
    ] {
        assert!(
            text.contains(&format!("`{name}`")),
            "{name} is not in the README"
        );
        let unused = OidcConfig::unused_variables([name]);
        assert!(
            unused.len() == 1 && unused[0].is_ignored_on_purpose(),
            "the README says {name} is ignored on purpose, and the layer agrees"
        );
    }
    assert!(
        text.contains("register it again\nat each provider"),
        "redirect URIs"
    );
}
