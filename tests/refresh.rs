//! Refresh tokens (`OIDC_REFRESH`): a due session is refreshed once, by the request that
//! finds it due; the others are served or wait for it; rotated and kept refresh tokens; the
//! `AccessToken` extractor; a refreshed ID token of another user, issuer or audience, or with
//! a bad signature, ends the session; `invalid_grant` and a malformed answer end it too (and
//! nothing else); an unreachable provider is served for the grace, then 503, then recovers.
//!
//! Against the in-process mock provider (`tests/support`), with the test clock.

mod support;

use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use support::*;
use tower::ServiceExt;
use tower_oidc::{AccessToken, Identity, OidcLayer};

/// The mock's access tokens last 300 s; the refresh is due 60 s before (the default margin).
const DUE: Duration = Duration::from_secs(250);

fn refresh_app(layer: OidcLayer) -> Router {
    Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .route(
            "/token",
            get(|token: AccessToken| async move { token.expose().to_owned() }),
        )
        .route(
            "/me",
            get(|me: Identity| async move {
                axum::Json(json!({"groups": me.groups(), "admin": me.is_admin()}))
            }),
        )
        .route("/public", get(|| async { "public" }))
        .layer(layer)
}

/// A token endpoint answer: this ID token, access token and (perhaps) refresh token.
fn answer(id_token: &str, access: &str, refresh: Option<&str>) -> String {
    let mut v = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    });
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    v.to_string()
}

struct Signed {
    m: MockApp,
    app: Router,
}

/// A mock provider and the app with refresh on (memory store), `edit` applied.
async fn start(
    edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
) -> Signed {
    let m = MockApp::start(|b| edit(b.with_session_store("memory").with_refresh(true))).await;
    // The refreshed access tokens open userinfo too.
    m.idp.with(|s| {
        s.introspection = Some(
            ["access-token-2", "access-token-3", "access-token-4"]
                .into_iter()
                .map(|t| (t.to_owned(), json!({"active": false})))
                .collect(),
        )
    });
    let app = refresh_app(m.layer.clone());
    Signed { m, app }
}

impl Signed {
    /// Signs a browser in: the token endpoint answers with refresh token `rt-1`.
    async fn sign_in(&self) -> Jar {
        let mut jar = Jar::default();
        let started = start_login(&mut jar, &self.app, "/").await;
        let token = SigningKey::first().sign(&self.m.idp.claims(&self.m.clock, &started.nonce));
        self.m.idp.with(|s| {
            s.token_body = Some(answer(&token, "access-token-1", Some("rt-1")));
            s.token_status = StatusCode::OK;
        });
        let reply = callback(&mut jar, &self.app, &self.m.idp, &started.state).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
        assert!(jar.session().is_some());
        jar
    }

    /// The refresh's answer: an ID token of `claims` (the login's, fresh, no nonce, edited)
    /// signed by `key`, with these access and refresh tokens.
    fn answer_refresh(
        &self,
        key: &SigningKey,
        edit: impl FnOnce(&mut Value),
        access: &str,
        refresh: Option<&str>,
    ) {
        let mut claims = self.m.idp.claims(&self.m.clock, "");
        claims.as_object_mut().unwrap().remove("nonce");
        edit(&mut claims);
        let token = key.sign(&claims);
        self.m
            .idp
            .with(|s| s.token_body = Some(answer(&token, access, refresh)));
    }

    fn token_hits(&self) -> u64 {
        self.m.idp.hits.token()
    }

    /// The last token request's `grant_type` and `refresh_token`.
    fn last_grant(&self) -> (String, String) {
        self.m.idp.with(|s| {
            let (_, form) = s.token_requests.last().unwrap();
            (
                form["grant_type"].clone(),
                form.get("refresh_token").cloned().unwrap_or_default(),
            )
        })
    }
}

/// An API request (JSON, not a navigation) with the jar's cookies.
async fn api(jar: &mut Jar, app: &Router, path: &str) -> Reply {
    jar.send(
        app,
        Request::get(path).header(header::ACCEPT, "application/json"),
    )
    .await
}

#[tokio::test]
async fn a_due_session_is_refreshed_once_and_rotated_and_kept_refresh_tokens_both_work() {
    let s = start(|b| b).await;
    let mut jar = s.sign_in().await;
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-1");
    assert_eq!(s.token_hits(), 1, "the code exchange");

    // Rotation: the provider answers with a new refresh token.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let r = jar.get(&s.app, "/token").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "access-token-2")
    );
    assert_eq!(s.token_hits(), 2, "one refresh");
    assert_eq!(s.last_grant(), ("refresh_token".into(), "rt-1".into()));
    for _ in 0..5 {
        assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-2");
    }
    assert_eq!(s.token_hits(), 2, "no refresh until the next is due");

    // No rotation: the refresh token used stays the one in use.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-3", None);
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-3");
    assert_eq!(s.last_grant().1, "rt-2", "the rotated one");
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-4", None);
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-4");
    assert_eq!(
        s.last_grant().1,
        "rt-2",
        "kept: the provider does not rotate"
    );
    assert_eq!(s.token_hits(), 4, "one token request per expiry");
}

#[tokio::test]
async fn the_fresh_claims_decide_again_at_each_refresh() {
    let s = start(|b| b.with_admin_group("readers")).await;
    let mut jar = s.sign_in().await;
    let me = api(&mut jar, &s.app, "/me").await;
    assert_eq!(me.json()["admin"], true, "{me:?}");
    s.m.clock.advance(DUE);
    s.answer_refresh(
        &SigningKey::first(),
        |c| c["groups"] = json!(["writers"]),
        "access-token-2",
        Some("rt-2"),
    );
    let me = api(&mut jar, &s.app, "/me").await;
    assert_eq!(me.json()["admin"], false, "the group was removed: {me:?}");
    assert_eq!(me.json()["groups"], json!(["writers"]));
}

/// Sends 20 requests with `jar`'s cookies at once; their statuses and bodies.
async fn twenty_at_once(jar: &Jar, app: &Router, path: &str) -> Vec<(StatusCode, String)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = app.clone();
        let req = Request::get(path)
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, jar.header())
            .body(axum::body::Body::empty())
            .unwrap();
        set.spawn(async move {
            let reply = read(app.oneshot(req).await.unwrap()).await;
            (reply.status, reply.body)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.push(r.unwrap());
    }
    all
}

#[tokio::test]
async fn twenty_concurrent_requests_when_due_and_at_expiry_cause_one_refresh_each_time() {
    let s = start(|b| b).await;
    let jar = s.sign_in().await;
    s.m.idp.with(|st| {
        st.faults
            .insert(Endpoint::Token, Fault::Delay(Duration::from_millis(300)))
    });

    // Due, the access token still valid: one refreshes, the others are served meanwhile.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let all = twenty_at_once(&jar, &s.app, "/token").await;
    assert!(all.iter().all(|(st, _)| *st == StatusCode::OK), "{all:?}");
    assert!(all.iter().any(|(_, b)| b == "access-token-2"), "{all:?}");
    assert_eq!(s.token_hits(), 2, "exactly one refresh");

    // At expiry: every request waits for the one refresh and gets the new token.
    s.m.clock.advance(Duration::from_secs(310));
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-3", Some("rt-3"));
    let all = twenty_at_once(&jar, &s.app, "/token").await;
    assert!(
        all.iter()
            .all(|(st, b)| *st == StatusCode::OK && b == "access-token-3"),
        "{all:?}"
    );
    assert_eq!(s.token_hits(), 3, "exactly one refresh");
}

/// A refreshed ID token edited by `edit`, signed by `key`: refused, the session ended.
async fn refused_refresh(key: SigningKey, edit: impl Fn(&mut Value)) {
    let s = start(|b| b).await;
    for navigation in [true, false] {
        let mut jar = s.sign_in().await;
        s.m.clock.advance(DUE);
        s.answer_refresh(&key, &edit, "access-token-2", Some("rt-2"));
        let first = if navigation {
            jar.get(&s.app, "/").await
        } else {
            api(&mut jar, &s.app, "/").await
        };
        if navigation {
            assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
            assert!(first.body.contains("refreshed ID token"), "{}", first.body);
        } else {
            assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
            assert!(!first.body.contains("refreshed"), "a bare 401 for an API");
        }
        // Ended: never served again, neither here nor from the store.
        let again = jar.get(&s.app, "/").await;
        assert_eq!(again.status, StatusCode::FOUND, "{again:?}");
        assert!(again.location().starts_with(&s.m.idp.issuer), "to login");
        assert_eq!(
            api(&mut jar, &s.app, "/token").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn rejects_refreshed_id_token_of_another_subject() {
    refused_refresh(SigningKey::first(), |c| c["sub"] = json!("user-2")).await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_of_another_issuer() {
    refused_refresh(SigningKey::first(), |c| {
        c["iss"] = json!("https://evil.example.com")
    })
    .await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_with_a_bad_signature() {
    refused_refresh(SigningKey::second(), |_| {}).await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_whose_audience_lacks_us() {
    refused_refresh(SigningKey::first(), |c| c["aud"] = json!("another-app")).await;
}

#[tokio::test]
async fn invalid_grant_ends_the_session_navigation_signs_in_and_api_gets_401() {
    let s = start(|b| b).await;
    let mut browser = s.sign_in().await;
    let mut script = s.sign_in().await;
    s.m.clock.advance(DUE);
    s.m.idp.with(|st| {
        st.token_status = StatusCode::BAD_REQUEST;
        st.token_body =
            Some(r#"{"error":"invalid_grant","error_description":"grant revoked"}"#.into());
    });
    let nav = browser.get(&s.app, "/").await;
    assert_eq!(nav.status, StatusCode::FOUND, "{nav:?}");
    assert!(nav.location().starts_with(&s.m.idp.issuer), "{nav:?}");
    let call = api(&mut script, &s.app, "/").await;
    assert_eq!(call.status, StatusCode::UNAUTHORIZED, "{call:?}");
    assert_eq!(s.token_hits(), 4, "two sign-ins, one refresh each");
    // Ended in the store: the public path no longer sees them, no second refresh is tried.
    assert_eq!(
        api(&mut script, &s.app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.token_hits(), 4);
}

#[tokio::test]
async fn a_malformed_refresh_answer_ends_that_session_with_a_clear_page_and_nothing_else() {
    let s = start(|b| b).await;
    let mut first = s.sign_in().await;
    s.m.clock.advance(Duration::from_secs(100));
    let mut second = s.sign_in().await;
    s.m.clock.advance(Duration::from_secs(150));
    s.m.idp
        .with(|st| st.faults.insert(Endpoint::Token, Fault::Garbage));
    let page = first.get(&s.app, "/").await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{page:?}");
    assert!(
        page.body.contains("<html") || page.body.contains("<!doctype"),
        "a page"
    );
    assert_eq!(
        first.get(&s.app, "/").await.status,
        StatusCode::FOUND,
        "ended"
    );
    // The other session, not due yet, is untouched.
    let other = second.get(&s.app, "/").await;
    assert_eq!(
        (other.status, other.body.as_str()),
        (StatusCode::OK, "user-1")
    );

    // An API request whose refresh gets garbage: 401.
    s.m.idp.with(|st| st.faults.clear());
    let mut third = s.sign_in().await;
    s.m.idp
        .with(|st| st.faults.insert(Endpoint::Token, Fault::Garbage));
    s.m.clock.advance(DUE);
    assert_eq!(
        api(&mut third, &s.app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_served_for_the_grace_then_503_then_recovers() {
    let s = start(|b| b.with_refresh_grace(Duration::from_secs(120))).await;
    let mut jar = s.sign_in().await;
    s.m.idp.with(|st| {
        st.faults.insert(
            Endpoint::Token,
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
        )
    });
    s.m.clock.advance(DUE);
    assert_eq!(
        jar.get(&s.app, "/").await.status,
        StatusCode::OK,
        "due, still valid"
    );
    // Past the access token's expiry, within the grace: still served.
    s.m.clock.advance(Duration::from_secs(60));
    assert_eq!(
        jar.get(&s.app, "/").await.status,
        StatusCode::OK,
        "in the grace"
    );
    let tried = s.token_hits();
    assert!(tried >= 3, "retried: {tried}");
    // Past the grace: 503, and still the provider's word is asked for.
    s.m.clock.advance(Duration::from_secs(120));
    let down = jar.get(&s.app, "/").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    assert_eq!(
        api(&mut jar, &s.app, "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(jar.get(&s.app, "/public").await.status, StatusCode::OK);
    // Back: the next try (5 s later) refreshes.
    s.m.idp.with(|st| st.faults.clear());
    s.m.clock.advance(Duration::from_secs(6));
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let back = jar.get(&s.app, "/token").await;
    assert_eq!(
        (back.status, back.body.as_str()),
        (StatusCode::OK, "access-token-2")
    );
}

#[tokio::test]
async fn the_access_token_extractor_needs_a_session_and_redacts_its_debug() {
    let s = start(|b| b).await;
    let mut anonymous = Jar::default();
    assert_eq!(
        api(&mut anonymous, &s.app, "/token").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut jar = s.sign_in().await;
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-1");
    let probe = Router::new()
        .route(
            "/debug",
            get(|t: AccessToken, me: Identity| async move {
                format!("{t:?} {me:?} {:?}", me.access_token())
            }),
        )
        .layer(s.m.layer.clone());
    let shown = jar.get(&probe, "/debug").await.body;
    assert!(!shown.contains("access-token-1"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}
