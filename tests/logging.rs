//! Logging: sign-in events are emitted and no secret ever reaches a log line.
//!
//! Alone in its own test binary: tracing caches per-callsite interest process-wide, so a test
//! running at the same time on another thread without a subscriber could hide the events.

mod support;

use axum::http::StatusCode;
use serde_json::json;
use support::*;
use tower_oidc::OidcLayer;

#[tokio::test]
async fn logs_never_contain_tokens_codes_or_cookies() {
    let buf = LogBuffer::default();
    let subscriber = buf.subscriber(tracing::Level::TRACE);
    let _guard = tracing::subscriber::set_default(subscriber);

    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let app = app(OidcLayer::new(
        idp.config(&clock)
            .with_admin_group("admins")
            .build()
            .unwrap(),
    ));
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &app, "/").await;
    let token = SigningKey::first().sign(&idp.claims(&clock, &started.nonce));
    idp.with(|st| st.id_token = Some(token.clone()));
    assert_eq!(
        callback(&mut jar, &app, &idp, &started.state).await.status,
        StatusCode::FOUND
    );
    // and a failure
    let mut j2 = Jar::default();
    let bad = login_with(
        &mut j2,
        &app,
        &idp,
        &SigningKey::first(),
        |mut c| {
            c["aud"] = json!("x");
            c
        },
        &clock,
    )
    .await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    // and a provider that does not send the groups claim the admin group relies on
    idp.with(|st| st.userinfo = json!({"sub": "user-1"}));
    let mut j3 = Jar::default();
    let no_groups = login_with(
        &mut j3,
        &app,
        &idp,
        &SigningKey::first(),
        |mut c| {
            c.as_object_mut().unwrap().remove("groups");
            c
        },
        &clock,
    )
    .await;
    assert_eq!(no_groups.status, StatusCode::FOUND);
    let logs = buf.text();
    assert!(
        logs.contains("event=\"login\""),
        "the login event is logged: {logs}"
    );
    assert!(
        logs.contains("event=\"login_failed\"") && logs.contains("kind=\"invalid_id_token\""),
        "the failure and its kind are logged: {logs}"
    );
    assert!(logs.contains("subject=\"user-1\""), "{logs}");
    assert!(
        logs.contains("register this redirect URI at the identity provider")
            && logs.contains("redirect_uri=http://127.0.0.1:3999/auth/callback"),
        "the redirect URI to register is logged at startup: {logs}"
    );
    assert!(
        logs.contains("event=\"claim_missing\"")
            && logs.contains("the `groups` claim is in neither the ID token nor userinfo")
            && logs.contains("`groups`) or add a groups claim mapper"),
        "a missing claim is explained with its fix: {logs}"
    );
    assert!(
        logs.contains("event=\"login_policy\"")
            && logs.contains("not an administrator: not in the admin group `admins`"),
        "at debug, why a user is not an administrator: {logs}"
    );
    for secret in [
        token.as_str(),
        "code-1",
        CLIENT_SECRET,
        "access-token-1",
        started.state.as_str(),
        started.nonce.as_str(),
        jar.session().unwrap().as_str(),
    ] {
        assert!(
            !logs.contains(secret),
            "a secret leaked into the logs: {secret}"
        );
    }
}
