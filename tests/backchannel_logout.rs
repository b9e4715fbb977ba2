//! OpenID Connect Back-Channel Logout 1.0 against the in-process provider: one test per attack
//! on the logout token, each refused with 400 while the signed-in cookie keeps working, and the
//! valid tokens that end sessions by `sid` and by `sub`. The real `oidc-provider`'s
//! back-channel logout is in `tests/real_provider.rs`.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use support::*;
use tower::ServiceExt;
use tower_oidc::{AuditEvent, AuditKind, OidcConfig, OidcLayer, ProviderBuilder};

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";
const ROUTE: &str = "/auth/backchannel-logout";
const SID: &str = "op-session-1";

/// A provider with back-channel logout on, and a browser signed in with the provider's session
/// [`SID`] (its page seen once, so that the session is cached).
async fn signed_in() -> (MockApp, Jar) {
    let s = MockApp::start(|b| b.with_backchannel_logout(true)).await;
    let jar = sign_in(&s, SID).await;
    (s, jar)
}

async fn sign_in(s: &MockApp, sid: &str) -> Jar {
    let mut jar = Jar::default();
    let done = login_with(
        &mut jar,
        &s.app,
        &s.idp,
        &SigningKey::first(),
        |mut c| {
            c["sid"] = json!(sid);
            c
        },
        &s.clock,
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_works(s, &mut jar).await;
    jar
}

/// The signed-in page still answers for `jar`.
async fn assert_works(s: &MockApp, jar: &mut Jar) {
    let page = jar.get(&s.app, "/").await;
    assert_eq!(page.status, StatusCode::OK, "still signed in: {page:?}");
    assert_eq!(page.body, "user-1");
}

/// The session of `jar` has ended: a navigation is sent to the provider, an API call gets 401.
async fn assert_ended(s: &MockApp, jar: &Jar) {
    let mut copy = jar.clone();
    let page = copy.get(&s.app, "/").await;
    assert_eq!(page.status, StatusCode::FOUND, "{page:?}");
    assert!(page.location().starts_with(&s.idp.issuer), "{page:?}");
    let mut copy = jar.clone();
    let api = copy
        .send(
            &s.app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{api:?}");
}

/// A fresh `jti` for every token of this test binary.
fn jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("jti-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The claims of a valid logout token of `idp` for the provider's session [`SID`].
fn logout_claims(idp: &MockIdp, clock: &TestClock) -> Value {
    json!({
        "iss": idp.issuer, "aud": CLIENT_ID, "iat": clock.secs(), "exp": clock.secs() + 120,
        "jti": jti(), "sid": SID, "events": {EVENT: {}},
    })
}

/// Signs `claims` as the provider does: RS256 with key-1, `typ` `logout+jwt`.
fn sign(claims: &Value) -> String {
    let key = SigningKey::first();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.kid.clone();
    header.typ = Some("logout+jwt".into());
    jsonwebtoken::encode(&header, claims, &key.encoding).unwrap()
}

/// POSTs `body` as `content_type` to `path` of `app`, as the provider does.
async fn post(app: &Router, path: &str, content_type: &str, body: impl Into<Body>) -> Reply {
    let request = Request::post(path)
        .header(header::CONTENT_TYPE, content_type)
        .body(body.into())
        .unwrap();
    let reply = read(app.clone().oneshot(request).await.unwrap()).await;
    assert_eq!(
        reply.headers.get(header::CACHE_CONTROL).unwrap(),
        "no-store",
        "{reply:?}"
    );
    reply
}

/// Sends `token` to the back-channel logout route of `s`.
async fn send_token(app: &Router, path: &str, token: &str) -> Reply {
    let form = serde_urlencoded::to_string([("logout_token", token)]).unwrap();
    post(app, path, "application/x-www-form-urlencoded", form).await
}

/// Sends `token` and checks that it is refused with 400 and an error JSON naming `reason`,
/// and that the session of `jar` still works.
async fn assert_refused(s: &MockApp, jar: &mut Jar, token: &str, reason: &str) {
    let reply = send_token(&s.app, ROUTE, token).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    let body = reply.json();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let description = body["error_description"].as_str().unwrap();
    assert!(description.contains(reason), "{reason}: {description}");
    assert_works(s, jar).await;
}

#[tokio::test]
async fn a_logout_token_for_the_sid_ends_the_session_everywhere_in_this_process() {
    let events: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let sink = events.clone();
    let s = MockApp::start(move |b| {
        b.with_backchannel_logout(true)
            .with_audit_sink(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()))
    })
    .await;
    let mut jar = sign_in(&s, SID).await;
    let mut other = sign_in(&s, "op-session-2").await;
    let copy = jar.clone();
    let reply = send_token(&s.app, ROUTE, &sign(&logout_claims(&s.idp, &s.clock))).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, "", "an empty body");
    assert_ended(&s, &copy).await;
    assert_ended(&s, &jar).await;
    assert_works(&s, &mut other).await;
    let kinds: Vec<_> = events.lock().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == AuditKind::BackChannelSignOut)
            .count(),
        1,
        "{kinds:?}"
    );
    // Signing in again gives a new session that the old logout token does not touch.
    s.clock.advance(Duration::from_secs(1));
    jar = sign_in(&s, "op-session-3").await;
    assert_works(&s, &mut jar).await;
}

#[tokio::test]
async fn a_logout_token_for_the_user_ends_every_session_signed_in_before_it() {
    let s = MockApp::start(|b| b.with_backchannel_logout(true)).await;
    let first = sign_in(&s, "op-a").await;
    let second = sign_in(&s, "op-b").await;
    let mut claims = logout_claims(&s.idp, &s.clock);
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!("user-1");
    let reply = send_token(&s.app, ROUTE, &sign(&claims)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ended(&s, &first).await;
    assert_ended(&s, &second).await;
    s.clock.advance(Duration::from_secs(1));
    let mut later = sign_in(&s, "op-c").await;
    assert_works(&s, &mut later).await;
}

#[tokio::test]
async fn with_a_server_side_store_a_logout_token_ends_the_sessions_in_the_store() {
    let s = MockApp::start(|b| b.with_backchannel_logout(true).with_session_store("memory")).await;
    let by_sid = sign_in(&s, SID).await;
    let mut other = sign_in(&s, "op-session-2").await;
    let sessions = |s: &MockApp| {
        let layer = s.layer.clone();
        let issuer = s.idp.issuer.clone();
        async move { layer.sessions_of(&issuer, "user-1").await.unwrap().len() }
    };
    assert_eq!(sessions(&s).await, 2);
    let reply = send_token(&s.app, ROUTE, &sign(&logout_claims(&s.idp, &s.clock))).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ended(&s, &by_sid).await;
    assert_works(&s, &mut other).await;
    assert_eq!(sessions(&s).await, 1, "ended in the store, not only here");
    let mut claims = logout_claims(&s.idp, &s.clock);
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!("user-1");
    let reply = send_token(&s.app, ROUTE, &sign(&claims)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ended(&s, &other).await;
    assert_eq!(sessions(&s).await, 0);
}

/// A logout by `sub` ends the sessions signed in until the token was issued (its `iat`, with
/// the leeway), in the store too: a session the user signed in to after the logout, before
/// the token arrived, is kept.
#[tokio::test]
async fn with_a_server_side_store_a_logout_by_sub_keeps_a_session_signed_in_after_it() {
    let s = MockApp::start(|b| {
        b.with_backchannel_logout(true)
            .with_session_store("memory")
            .with_clock_leeway(Duration::from_secs(5))
    })
    .await;
    let before = sign_in(&s, "op-a").await;
    let mut claims = logout_claims(&s.idp, &s.clock);
    claims.as_object_mut().unwrap().remove("sid");
    claims["sub"] = json!("user-1");
    // Within the leeway of the logout: still ended.
    s.clock.advance(Duration::from_secs(5));
    let within = sign_in(&s, "op-b").await;
    // Past it: a new session, which the logout does not end.
    s.clock.advance(Duration::from_secs(1));
    let mut after = sign_in(&s, "op-c").await;
    let sessions = |s: &MockApp| {
        let layer = s.layer.clone();
        let issuer = s.idp.issuer.clone();
        async move { layer.sessions_of(&issuer, "user-1").await.unwrap() }
    };
    assert_eq!(sessions(&s).await.len(), 3);
    s.clock.advance(Duration::from_secs(30));
    let reply = send_token(&s.app, ROUTE, &sign(&claims)).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_ended(&s, &before).await;
    assert_ended(&s, &within).await;
    assert_works(&s, &mut after).await;
    let left = sessions(&s).await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(
        left[0].authenticated_at(),
        claims["iat"].as_u64().unwrap() + 6
    );
}

#[tokio::test]
async fn rejects_logout_token_with_bad_signature() {
    let (s, mut jar) = signed_in().await;
    // Signed by key-2's private key but claiming key-1's kid.
    let mut forger = SigningKey::second();
    forger.kid = Some("key-1".into());
    let token = forger.sign(&logout_claims(&s.idp, &s.clock));
    let before = s.idp.hits.jwks();
    assert_refused(&s, &mut jar, &token, "signature").await;
    assert!(
        s.idp.hits.jwks() <= before + 1,
        "at most one refetch of the keys"
    );
}

#[tokio::test]
async fn rejects_logout_token_with_alg_none() {
    let (s, mut jar) = signed_in().await;
    let token = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"logout+jwt"}"#),
        B64.encode(logout_claims(&s.idp, &s.clock).to_string())
    );
    assert_refused(&s, &mut jar, &token, "algorithm").await;
}

#[tokio::test]
async fn rejects_logout_token_hs256_signed_with_the_public_key() {
    let (s, mut jar) = signed_in().await;
    let public_n = SigningKey::first().jwk["n"].as_str().unwrap().to_owned();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &logout_claims(&s.idp, &s.clock),
        &jsonwebtoken::EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    assert_refused(&s, &mut jar, &token, "algorithm").await;
}

/// A logout token whose claims `edit` changed, signed properly.
fn edited(s: &MockApp, edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = logout_claims(&s.idp, &s.clock);
    edit(&mut claims);
    sign(&claims)
}

#[tokio::test]
async fn rejects_logout_token_with_wrong_issuer() {
    let (s, mut jar) = signed_in().await;
    let token = edited(&s, |c| c["iss"] = json!("https://evil.example.com"));
    assert_refused(&s, &mut jar, &token, "another issuer").await;
}

#[tokio::test]
async fn rejects_logout_token_with_wrong_audience() {
    let (s, mut jar) = signed_in().await;
    let token = edited(&s, |c| c["aud"] = json!("another-app"));
    assert_refused(&s, &mut jar, &token, "audience").await;
}

#[tokio::test]
async fn rejects_logout_token_without_events() {
    let (s, mut jar) = signed_in().await;
    let token = edited(&s, |c| {
        c.as_object_mut().unwrap().remove("events");
    });
    assert_refused(&s, &mut jar, &token, "back-channel logout event").await;
}

#[tokio::test]
async fn rejects_logout_token_with_another_event() {
    let (s, mut jar) = signed_in().await;
    let token =
        edited(
            &s,
            |c| c["events"] = json!({"http://schemas.openid.net/event/risc/session-revoked": {}}),
        );
    assert_refused(&s, &mut jar, &token, "back-channel logout event").await;
}

#[tokio::test]
async fn rejects_logout_token_with_a_nonce() {
    let (s, mut jar) = signed_in().await;
    let token = edited(&s, |c| c["nonce"] = json!("n-0S6_WzA2Mj"));
    assert_refused(&s, &mut jar, &token, "nonce").await;
}

#[tokio::test]
async fn rejects_an_id_token_sent_as_logout_token() {
    let (s, mut jar) = signed_in().await;
    // What the provider issued at sign-in: no event, a nonce, typ JWT.
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, "n-1"));
    assert_refused(&s, &mut jar, &token, "back-channel logout event").await;
}

#[tokio::test]
async fn rejects_logout_token_of_another_type() {
    let (s, mut jar) = signed_in().await;
    let key = SigningKey::first();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
    header.kid = key.kid.clone();
    header.typ = Some("at+jwt".into());
    let token =
        jsonwebtoken::encode(&header, &logout_claims(&s.idp, &s.clock), &key.encoding).unwrap();
    assert_refused(&s, &mut jar, &token, "type").await;
}

#[tokio::test]
async fn rejects_replayed_logout_token() {
    let (s, mut jar) = signed_in().await;
    // A valid token for another session at the provider: accepted once, then refused.
    let used = jti();
    let token = edited(&s, |c| {
        c["sid"] = json!("someone-elses-session");
        c["jti"] = json!(used);
    });
    let first = send_token(&s.app, ROUTE, &token).await;
    assert_eq!(first.status, StatusCode::OK, "{first:?}");
    assert_works(&s, &mut jar).await;
    assert_refused(&s, &mut jar, &token, "received before").await;
    // Its token id in another token, for our session: refused all the same.
    let reused = edited(&s, |c| c["jti"] = json!(used));
    assert_refused(&s, &mut jar, &reused, "received before").await;
}

#[tokio::test]
async fn rejects_expired_logout_token() {
    let (s, mut jar) = signed_in().await;
    let now = s.clock.secs();
    let token = edited(&s, |c| {
        c["iat"] = json!(now - 200);
        c["exp"] = json!(now - 100);
    });
    assert_refused(&s, &mut jar, &token, "expired").await;
    // Without exp, one issued long ago is refused as too old.
    let token = edited(&s, |c| {
        c["iat"] = json!(now - 3_600);
        c.as_object_mut().unwrap().remove("exp");
    });
    assert_refused(&s, &mut jar, &token, "ago").await;
}

#[tokio::test]
async fn rejects_logout_token_issued_in_the_future() {
    let (s, mut jar) = signed_in().await;
    let now = s.clock.secs();
    let token = edited(&s, |c| {
        c["iat"] = json!(now + 600);
        c["exp"] = json!(now + 900);
    });
    assert_refused(&s, &mut jar, &token, "in the future").await;
}

#[tokio::test]
async fn rejects_logout_token_without_sid_or_sub() {
    let (s, mut jar) = signed_in().await;
    let token = edited(&s, |c| {
        c.as_object_mut().unwrap().remove("sid");
    });
    assert_refused(&s, &mut jar, &token, "neither").await;
    let token = edited(&s, |c| {
        c.as_object_mut().unwrap().remove("jti");
    });
    assert_refused(&s, &mut jar, &token, "jti").await;
}

#[tokio::test]
async fn a_logout_token_of_another_provider_ends_nothing_of_this_one() {
    let a = MockIdp::start().await;
    let b = MockIdp::start().await;
    let clock = TestClock::new();
    let provider = |slug: &str, idp: &MockIdp| {
        ProviderBuilder::new(slug)
            .with_issuer(idp.issuer.clone())
            .with_client_id(CLIENT_ID)
            .with_client_secret(CLIENT_SECRET)
            .with_backchannel_logout(true)
    };
    let config = OidcConfig::builder()
        .with_base_url(BASE_URL)
        .with_cookie_key("Ejfi/eCBtu2hdy7TBhJWhoX8wWQxLjbQT37E7X6FoXY=")
        .with_clock(clock.clone())
        .with_http_timeout(Duration::from_secs(3))
        .add_provider(provider("staff", &a))
        .add_provider(provider("partners", &b))
        .build()
        .unwrap();
    assert_eq!(
        config.providers().nth(1).unwrap().backchannel_logout_uri(),
        Some("http://127.0.0.1:3999/auth/backchannel-logout/partners")
    );
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let reply = jar.get(&app, "/auth/login/staff").await;
    let q = query(reply.location());
    let mut claims = a.claims(&clock, &q["nonce"]);
    claims["sid"] = json!(SID);
    a.with(|st| st.id_token = Some(SigningKey::first().sign(&claims)));
    let form =
        serde_urlencoded::to_string([("code", "c"), ("state", &q["state"]), ("iss", &a.issuer)])
            .unwrap();
    let done = jar.get(&app, &format!("/auth/callback/staff?{form}")).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let works = |jar: &Jar| {
        let mut jar = jar.clone();
        let app = app.clone();
        async move { jar.get(&app, "/").await.status }
    };
    assert_eq!(works(&jar).await, StatusCode::OK);

    // The same user and sid, but issued by the other provider (signed with a key its JWKS
    // holds too): refused at staff's route, accepted at its own without touching staff's
    // session.
    let theirs = sign(&json!({
        "iss": b.issuer, "aud": CLIENT_ID, "iat": clock.secs(), "jti": jti(),
        "sid": SID, "sub": "user-1", "events": {EVENT: {}},
    }));
    let at_staff = send_token(&app, "/auth/backchannel-logout/staff", &theirs).await;
    assert_eq!(at_staff.status, StatusCode::BAD_REQUEST, "{at_staff:?}");
    assert_eq!(works(&jar).await, StatusCode::OK);
    let at_partners = send_token(&app, "/auth/backchannel-logout/partners", &theirs).await;
    assert_eq!(at_partners.status, StatusCode::OK, "{at_partners:?}");
    assert_eq!(works(&jar).await, StatusCode::OK, "another issuer's sid");
}

#[tokio::test]
async fn malformed_back_channel_requests_get_4xx_not_panics() {
    let (s, mut jar) = signed_in().await;
    let form = "application/x-www-form-urlencoded";
    for (content_type, body, status) in [
        (
            "application/json",
            r#"{"logout_token":"x"}"#.to_owned(),
            400,
        ),
        (form, String::new(), 400),
        (form, "logout_token=".to_owned(), 400),
        (form, "logout_token=a&logout_token=b".to_owned(), 400),
        (form, "logout_token=not.a.jwt".to_owned(), 400),
        (form, "logout_token=%FF%FE%00".to_owned(), 400),
        (
            form,
            "logout_token=eyJhbGciOiJSUzI1NiJ9.%%%.x".to_owned(),
            400,
        ),
        (form, format!("logout_token={}", "A".repeat(20_000)), 413),
    ] {
        let reply = post(&s.app, ROUTE, content_type, body.clone()).await;
        assert_eq!(reply.status.as_u16(), status, "{body:.60}: {reply:?}");
        assert_eq!(reply.json()["error"], "invalid_request", "{reply:?}");
    }
    let get = jar
        .send(
            &s.app,
            Request::get(ROUTE).header(header::ACCEPT, "text/html"),
        )
        .await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED, "{get:?}");
    assert_eq!(get.headers.get(header::ALLOW).unwrap(), "POST");
    assert_works(&s, &mut jar).await;
}

#[tokio::test]
async fn back_channel_logout_is_off_unless_turned_on() {
    let s = MockApp::start(|b| b).await;
    let mut jar = sign_in(&s, SID).await;
    let reply = send_token(&s.app, ROUTE, &sign(&logout_claims(&s.idp, &s.clock))).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_works(&s, &mut jar).await;
    let config = s.idp.config(&s.clock).build().unwrap();
    assert_eq!(
        config.default_provider().backchannel_logout_uri(),
        None,
        "no URI to register while off"
    );
}

#[tokio::test]
async fn an_unreachable_provider_gets_503_and_the_same_token_works_once_it_is_back() {
    let s = MockApp::start(|b| b.with_backchannel_logout(true)).await;
    let token = sign(&logout_claims(&s.idp, &s.clock));
    s.idp.with(|st| {
        st.faults
            .insert(Endpoint::Discovery, Fault::Status(StatusCode::BAD_GATEWAY))
    });
    let down = send_token(&s.app, ROUTE, &token).await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    assert_eq!(down.json()["error"], "temporarily_unavailable");
    s.idp.with(|st| st.faults.clear());
    s.clock.advance(Duration::from_secs(60));
    let back = send_token(&s.app, ROUTE, &token).await;
    assert_eq!(
        back.status,
        StatusCode::OK,
        "the failed attempt did not use up the jti: {back:?}"
    );
}
