//! The layer's modes and hooks: the login hook (refuse, or add to the identity), the optional
//! mode that attaches an identity without demanding one, public paths, proxies, and the
//! diagnostics a user sees (clock skew, an expired login link). Against the in-process provider.

mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{header, Request, StatusCode};
use serde_json::{json, Map};
use support::*;
use tower_oidc::{LoginDecision, OidcConfigBuilder, OidcLayer};

async fn setup(
    configure: impl FnOnce(OidcConfigBuilder) -> OidcConfigBuilder,
) -> (MockIdp, Arc<TestClock>, axum::Router) {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(configure(idp.config(&clock)).build().unwrap());
    (idp, clock, app(layer))
}

#[tokio::test]
async fn the_login_hook_sees_the_identity_keyed_by_issuer_and_subject_and_can_add_to_it() {
    /// What the hook saw: issuer, subject, auto_provision, email claim.
    type Seen = Vec<(String, String, bool, Option<String>)>;
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let record = seen.clone();
    let (idp, clock, app) = setup(move |b| {
        b.with_auto_provision(false).with_login_hook(move |login| {
            let record = record.clone();
            async move {
                let id = login.identity();
                record.lock().unwrap().push((
                    id.issuer().to_owned(),
                    id.subject().to_owned(),
                    login.auto_provision(),
                    login.claims()["email"].as_str().map(str::to_owned),
                ));
                let mut extra = Map::new();
                extra.insert("user_id".into(), json!(42));
                LoginDecision::AllowWith(extra)
            }
        })
    })
    .await;
    let mut jar = Jar::default();
    let done = login_with(&mut jar, &app, &idp, &SigningKey::first(), |c| c, &clock).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(
        *seen.lock().unwrap(),
        [(
            idp.issuer.clone(),
            "user-1".to_owned(),
            false,
            Some("jane@example.com".to_owned())
        )]
    );
    let claims = jar
        .send(
            &app,
            Request::get("/claims").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(claims.status, StatusCode::OK, "{claims:?}");
    let body = claims.json();
    assert_eq!(
        body["app"]["user_id"], 42,
        "the hook's addition is in the session"
    );
    assert!(
        body["claims"].get("user_id").is_none(),
        "and kept apart from the provider's claims"
    );
}

#[tokio::test]
async fn the_login_hook_can_refuse_with_its_own_escaped_message() {
    let (idp, clock, app) = setup(|b| {
        b.with_login_hook(|_| async {
            LoginDecision::refuse("Unknown user <b>here</b>; ask an administrator.")
        })
    })
    .await;
    let mut jar = Jar::default();
    let done = login_with(&mut jar, &app, &idp, &SigningKey::first(), |c| c, &clock).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert!(done.body.contains("Error: login_refused"), "{}", done.body);
    assert!(
        done.body
            .contains("Unknown user &lt;b&gt;here&lt;/b&gt;; ask an administrator."),
        "{}",
        done.body
    );
    assert!(jar.session().is_none());
}

#[tokio::test]
async fn the_hook_is_not_called_for_a_login_the_policy_refused() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let (idp, clock, app) = setup(move |b| {
        b.add_allowed_email_domain("example.org")
            .with_login_hook(move |_| {
                counter.fetch_add(1, Ordering::SeqCst);
                async { LoginDecision::Allow }
            })
    })
    .await;
    let mut jar = Jar::default();
    let done = login_with(&mut jar, &app, &idp, &SigningKey::first(), |c| c, &clock).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn the_optional_mode_attaches_an_identity_without_demanding_one() {
    let (idp, clock, app) = setup(|b| b.require_session(false)).await;
    let mut jar = Jar::default();
    // Without a session, a handler that takes Option<Identity> runs, and one that demands an
    // Identity answers 401 itself; nothing redirects.
    let anonymous = jar.get(&app, "/public").await;
    assert_eq!(anonymous.body, "anonymous");
    let demanded = jar.get(&app, "/").await;
    assert_eq!(demanded.status, StatusCode::UNAUTHORIZED);
    assert!(demanded.set_cookies().is_empty());
    // An explicit login still works, and then the identity is there everywhere.
    let started = start_login(&mut jar, &app, "/auth/login").await;
    let token = SigningKey::first().sign(&idp.claims(&clock, &started.nonce));
    idp.with(|s| s.id_token = Some(token));
    assert_eq!(
        callback(&mut jar, &app, &idp, &started.state).await.status,
        StatusCode::FOUND
    );
    assert_eq!(jar.get(&app, "/").await.body, "user-1");
    assert_eq!(jar.get(&app, "/public").await.body, "user-1");
}

#[tokio::test]
async fn public_paths_pass_and_a_protected_one_does_not() {
    let (_idp, _clock, app) =
        setup(|b| b.add_public_path("/healthz").add_public_path("/static/")).await;
    let mut jar = Jar::default();
    // The test app has no /healthz route: the layer passes it through to a 404.
    let health = jar.get(&app, "/healthz").await;
    assert_eq!(health.status, StatusCode::NOT_FOUND);
    let protected = jar.get(&app, "/reports").await;
    assert_eq!(protected.status, StatusCode::FOUND);
}

#[tokio::test]
async fn forwarded_headers_never_change_the_redirect_uri_or_cookie_security() {
    let (_idp, _clock, app) = setup(|b| b).await;
    let mut jar = Jar::default();
    let reply = jar
        .send(
            &app,
            Request::get("/reports")
                .header(header::ACCEPT, "text/html")
                .header("x-forwarded-host", "evil.example")
                .header("x-forwarded-proto", "https")
                .header("forwarded", "host=evil.example;proto=https")
                .header(header::HOST, "evil.example"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let q = query(reply.location());
    assert_eq!(q["redirect_uri"], "http://127.0.0.1:3999/auth/callback");
    let cookie = &reply.set_cookies()[0];
    assert!(!cookie.contains("Secure"), "BASE_URL is http: {cookie}");
    assert!(!cookie.starts_with("__Host-"), "{cookie}");
}

#[tokio::test]
async fn a_clock_skew_is_reported_with_the_measured_seconds() {
    let (idp, clock, app) = setup(|b| b).await;
    let mut jar = Jar::default();
    let now = clock.secs();
    let done = login_with(
        &mut jar,
        &app,
        &idp,
        &SigningKey::first(),
        |mut c| {
            c["iat"] = json!(now + 600);
            c["exp"] = json!(now + 900);
            c
        },
        &clock,
    )
    .await;
    assert_eq!(done.status, StatusCode::UNAUTHORIZED);
    assert!(
        done.body.contains("issued 600 s in the future") && done.body.contains("NTP"),
        "{}",
        done.body
    );
}

#[tokio::test]
async fn a_used_login_link_gets_a_page_that_starts_again() {
    let (idp, clock, app) = setup(|b| b).await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &app, "/reports").await;
    let token = SigningKey::first().sign(&idp.claims(&clock, &started.nonce));
    idp.with(|s| s.id_token = Some(token));
    let first = callback(&mut jar, &app, &idp, &started.state).await;
    assert_eq!(first.status, StatusCode::FOUND);
    let again = callback(&mut jar, &app, &idp, &started.state).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert!(
        again.body.contains("expired or was already used"),
        "{}",
        again.body
    );
    assert!(
        again.body.contains("href=\"/auth/login\""),
        "{}",
        again.body
    );
}
