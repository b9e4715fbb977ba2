//! Bearer access tokens for APIs (RFC 6750, RFC 9068) against the in-process provider: a good
//! token gets the login's identity and role, and one test per attack, each asserting on the
//! status, the `WWW-Authenticate` challenge and the provider's hit counts.

mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use support::*;
use tower_oidc::{
    Credential, Identity, InsufficientScope, LoginAttempt, LoginDecision, OidcLayer,
    ProviderBuilder, RoleMap, Scope, Scoped,
};

const API: &str = "https://api.example.com";

struct ReadReports;
impl Scope for ReadReports {
    const NAME: &'static str = "reports:read";
}

/// The API under test: `/api/me` shows the identity, `/api/reports` needs `reports:read`,
/// `/api/write` checks `reports:write` in the handler.
fn api(layer: OidcLayer) -> Router {
    Router::new()
        .route(
            "/api/me",
            get(|me: Identity| async move {
                Json(json!({
                    "subject": me.subject(), "issuer": me.issuer(), "email": me.email(),
                    "name": me.name(), "groups": me.groups(), "provider": me.provider(),
                    "role": me.role().map(|r| r.as_str()), "admin": me.is_admin(),
                    "token": me.credential() == Credential::AccessToken,
                    "scopes": me.scopes(), "client_id": me.client_id(), "client": me.is_client(),
                    "expires_at": me.expires_at(),
                }))
            }),
        )
        .route(
            "/api/reports",
            get(|Scoped(me, ..): Scoped<ReadReports>| async move { me.subject().to_owned() }),
        )
        .route(
            "/api/write",
            get(|me: Identity| async move {
                me.require_scope("reports:write")?;
                Ok::<_, InsufficientScope>("written")
            }),
        )
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .layer(layer)
}

fn roles() -> RoleMap {
    RoleMap::builder()
        .add_rule("readers", "app_reader")
        .build()
        .unwrap()
}

struct Api {
    idp: MockIdp,
    clock: Arc<TestClock>,
    app: Router,
    layer: OidcLayer,
}

async fn start(
    edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
) -> Api {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let config = edit(
        idp.config(&clock)
            .with_api_audience(API)
            .with_role_map(roles()),
    );
    let layer = OidcLayer::new(config.build().unwrap());
    Api {
        app: api(layer.clone()),
        layer,
        idp,
        clock,
    }
}

/// The claims of a good access token for a user, with `scope`.
fn claims(s: &Api) -> Value {
    let now = s.clock.secs();
    json!({
        "iss": s.idp.issuer, "sub": "user-1", "aud": API, "exp": now + 300, "iat": now,
        "client_id": "spa", "scope": "openid reports:read", "jti": "t1",
        "email": "jane@example.com", "email_verified": true, "name": "Jane Doe",
        "groups": ["readers"],
    })
}

/// Signs `claims` as RS256 with key-1 and `typ`.
fn sign(claims: &Value, typ: Option<&str>) -> String {
    sign_with(&SigningKey::first(), claims, typ)
}

fn sign_with(key: &SigningKey, claims: &Value, typ: Option<&str>) -> String {
    let mut h = Header::new(Algorithm::RS256);
    h.kid = key.kid.clone();
    h.typ = typ.map(str::to_owned);
    jsonwebtoken::encode(&h, claims, &key.encoding).unwrap()
}

fn at(claims: &Value) -> String {
    sign(claims, Some("at+jwt"))
}

/// A browser signed in to `s` as the mock provider's user.
async fn signed_in(s: &Api) -> Jar {
    let mut jar = Jar::default();
    let login = login_with(
        &mut jar,
        &s.app,
        &s.idp,
        &SigningKey::first(),
        |c| c,
        &s.clock,
    )
    .await;
    assert_eq!(login.status, StatusCode::FOUND, "{login:?}");
    jar
}

async fn call(app: &Router, path: &str, headers: &[(&str, &str)]) -> Reply {
    let mut b = Request::get(path);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    send(app, b.body(axum::body::Body::empty()).unwrap()).await
}

async fn send(app: &Router, req: Request<axum::body::Body>) -> Reply {
    use tower::ServiceExt as _;
    read(app.clone().oneshot(req).await.unwrap()).await
}

async fn bearer(app: &Router, path: &str, token: &str) -> Reply {
    call(app, path, &[("authorization", &format!("Bearer {token}"))]).await
}

/// A 401 `invalid_token` with the RFC 6750 challenge.
fn assert_invalid_token(reply: &Reply) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    let challenge = reply.headers[header::WWW_AUTHENTICATE].to_str().unwrap();
    assert!(
        challenge.starts_with(
            r#"Bearer realm="tower-oidc", error="invalid_token", error_description=""#
        ),
        "{challenge}"
    );
    assert_eq!(reply.json()["error"], "invalid_token");
    assert!(
        reply.headers.get(header::LOCATION).is_none(),
        "never redirected"
    );
    assert!(reply.headers.get(header::SET_COOKIE).is_none());
}

#[tokio::test]
async fn a_jwt_access_token_gets_the_same_identity_and_role_as_a_login() {
    let s = start(|b| b).await;
    let token = at(&claims(&s));
    let reply = bearer(&s.app, "/api/me", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    let me = reply.json();
    assert_eq!(me["subject"], "user-1");
    assert_eq!(me["issuer"], s.idp.issuer.as_str());
    assert_eq!(me["email"], "jane@example.com");
    assert_eq!(
        me["role"], "app_reader",
        "the role map decides, as at login"
    );
    assert_eq!(me["provider"], "default");
    assert_eq!(me["token"], true);
    assert_eq!(me["scopes"], json!(["openid", "reports:read"]));
    assert_eq!(me["client_id"], "spa");
    assert_eq!(me["client"], false);
    assert_eq!(me["expires_at"], s.clock.secs() + 300, "lives until exp");

    // A browser session of the same user: the same identity.
    let mut jar = signed_in(&s).await;
    let session = jar.get(&s.app, "/api/me").await.json();
    for field in [
        "subject", "issuer", "email", "name", "groups", "role", "admin", "provider",
    ] {
        assert_eq!(session[field], me[field], "{field}");
    }
    assert_eq!(session["token"], false);
}

#[tokio::test]
async fn a_token_seen_before_needs_no_provider() {
    let s = start(|b| b).await;
    let mut c = claims(&s);
    c["exp"] = json!(s.clock.secs() + 7200);
    let token = at(&c);
    assert_eq!(
        bearer(&s.app, "/api/me", &token).await.status,
        StatusCode::OK
    );
    let (discovery, jwks) = (s.idp.hits.discovery(), s.idp.hits.jwks());
    assert_eq!((discovery, jwks), (1, 1));
    // The provider goes down and rotates its keys, and an hour passes (the keys' cache is
    // stale, so a verification would ask the provider): the cached token still passes, with
    // no request to the provider.
    s.idp.with(|st| {
        st.jwks = vec![SigningKey::second().jwk];
        for e in Endpoint::ALL {
            st.faults
                .insert(e, Fault::Status(StatusCode::INTERNAL_SERVER_ERROR));
        }
    });
    s.clock.advance(Duration::from_secs(3700));
    for _ in 0..3 {
        assert_eq!(
            bearer(&s.app, "/api/me", &token).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(s.idp.hits.discovery(), discovery);
    assert_eq!(s.idp.hits.jwks(), jwks);
    // ... but never past its exp (and the leeway, when it is verified again).
    s.clock.advance(Duration::from_secs(3600));
    assert_eq!(
        bearer(&s.app, "/api/me", &token).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn rejects_alg_none_and_hs256_with_the_public_key() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    let s = start(|b| b).await;
    let payload = B64.encode(claims(&s).to_string());
    let none = format!(
        "{}.{payload}.",
        B64.encode(r#"{"alg":"none","typ":"at+jwt"}"#)
    );
    // The public key as the HMAC secret: the classic key-confusion attack.
    let public = SigningKey::first().jwk.to_string();
    let mut h = Header::new(Algorithm::HS256);
    h.typ = Some("at+jwt".into());
    h.kid = Some("key-1".into());
    let hs = jsonwebtoken::encode(
        &h,
        &claims(&s),
        &EncodingKey::from_secret(public.as_bytes()),
    )
    .unwrap();
    for token in [none.trim_end_matches('.').to_owned() + ".x", hs] {
        let reply = bearer(&s.app, "/api/me", &token).await;
        assert_invalid_token(&reply);
        assert!(reply.body.contains("algorithm"), "{}", reply.body);
    }
    assert_eq!(s.idp.hits.jwks(), 0, "refused by the header alone");
}

#[tokio::test]
async fn rejects_wrong_issuer_audience_expired_and_not_yet_valid() {
    let s = start(|b| b).await;
    let now = s.clock.secs();
    let edit = |key: &str, value: Value| {
        let mut c = claims(&s);
        c[key] = value;
        at(&c)
    };
    for (token, why) in [
        (edit("iss", json!(format!("{}/", s.idp.issuer))), "provider"),
        (edit("aud", json!(CLIENT_ID)), "audience"),
        (
            edit("aud", json!(["https://other.example.com"])),
            "audience",
        ),
        (edit("exp", json!(now - 120)), "expired"),
        (edit("nbf", json!(now + 600)), "not valid yet"),
        (edit("iat", json!(now + 600)), "future"),
    ] {
        let reply = bearer(&s.app, "/api/me", &token).await;
        assert_invalid_token(&reply);
        assert!(reply.body.contains(why), "{why}: {}", reply.body);
    }
}

#[tokio::test]
async fn rejects_an_id_token_used_as_an_access_token() {
    let s = start(|b| b).await;
    // What the login's token endpoint returns: typ JWT, aud the client id, a nonce.
    let id_token = SigningKey::first().sign(&s.idp.claims(&s.clock, "n"));
    let reply = bearer(&s.app, "/api/me", &id_token).await;
    assert_invalid_token(&reply);
    assert!(reply.body.contains("at+jwt"), "{}", reply.body);
    // Even typed at+jwt, its audience is the client, not the API.
    let mut c = s.idp.claims(&s.clock, "n");
    c["aud"] = json!(CLIENT_ID);
    assert_invalid_token(&bearer(&s.app, "/api/me", &at(&c)).await);
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_once_within_the_floor() {
    let s = start(|b| b).await;
    let other = SigningKey::rsa(include_bytes!("fixtures/rsa2.pem"), Some("key-9"));
    let reply = bearer(
        &s.app,
        "/api/me",
        &sign_with(&other, &claims(&s), Some("at+jwt")),
    )
    .await;
    assert_invalid_token(&reply);
    assert_eq!(s.idp.hits.jwks(), 2, "the first fetch, then one refetch");
    let mut c = claims(&s);
    c["jti"] = json!("t2");
    let again = bearer(&s.app, "/api/me", &sign_with(&other, &c, Some("at+jwt"))).await;
    assert_invalid_token(&again);
    assert_eq!(
        s.idp.hits.jwks(),
        2,
        "no second refetch within the refetch floor"
    );
    // The provider rotates to a new key: after the floor, one refetch finds it (a `kid`
    // whose refetch brought nothing is not refetched for again, as for ID tokens).
    let other = SigningKey::rsa(include_bytes!("fixtures/rsa2.pem"), Some("key-10"));
    s.idp.with(|st| st.jwks.push(other.jwk.clone()));
    s.clock.advance(Duration::from_secs(10));
    let mut c = claims(&s);
    c["jti"] = json!("t3");
    let rotated = bearer(&s.app, "/api/me", &sign_with(&other, &c, Some("at+jwt"))).await;
    assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
    assert_eq!(s.idp.hits.jwks(), 3);
}

#[tokio::test]
async fn a_token_of_another_configured_provider_is_refused_on_this_ones_audience() {
    let staff = MockIdp::start().await;
    let partner = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(
        tower_oidc::OidcConfig::builder()
            .with_base_url(BASE_URL)
            .allow_random_cookie_key(true)
            .with_clock(clock.clone())
            .add_provider(
                ProviderBuilder::new("staff")
                    .with_issuer(staff.issuer.clone())
                    .with_client_id("staff-app")
                    .with_api_audience(API),
            )
            .add_provider(
                ProviderBuilder::new("partner")
                    .with_issuer(partner.issuer.clone())
                    .with_client_id("partner-app")
                    .with_api_audience("https://partner-api.example.com"),
            )
            .build()
            .unwrap(),
    );
    let app = api(layer);
    let now = clock.secs();
    let token = |iss: &str, aud: &str| {
        at(&json!({"iss": iss, "sub": "u", "aud": aud, "exp": now + 300, "iat": now}))
    };
    // The partner's issuer, on the staff API's audience: the partner's rules decide, and refuse.
    assert_invalid_token(&bearer(&app, "/api/me", &token(&partner.issuer, API)).await);
    let ok = bearer(&app, "/api/me", &token(&staff.issuer, API)).await;
    assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
    assert_eq!(ok.json()["provider"], "staff");
    let ok = bearer(
        &app,
        "/api/me",
        &token(&partner.issuer, "https://partner-api.example.com"),
    )
    .await;
    assert_eq!(ok.json()["provider"], "partner");
    // An issuer no provider has is refused before any request.
    assert_invalid_token(&bearer(&app, "/api/me", &token("https://evil.example.com", API)).await);
}

#[tokio::test]
async fn a_malformed_or_huge_authorization_header_gets_400_invalid_request() {
    let s = start(|b| b).await;
    let huge = format!("Bearer {}", "a".repeat(20_000));
    for value in [
        "Bearer",
        "Bearer a b",
        "Bearer ===",
        "Bearer ab\"c",
        huge.as_str(),
    ] {
        let reply = call(
            &s.app,
            "/api/me",
            &[("authorization", value), ("accept", "text/html")],
        )
        .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{value:.20}: {reply:?}"
        );
        assert!(reply.headers[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_request""#));
    }
    // Garbage in a JWT's shape: 401, never a panic, and nothing asked of the provider.
    for token in ["a.b.c", "e30.e30.e30"] {
        assert_invalid_token(&bearer(&s.app, "/api/me", token).await);
    }
    assert_eq!(
        s.idp.hits.discovery(),
        0,
        "nothing was asked of the provider"
    );
    // Opaque tokens, where the provider has no introspection endpoint: 401 after discovery.
    for token in ["opaque-token", "x.y"] {
        let reply = bearer(&s.app, "/api/me", token).await;
        assert_invalid_token(&reply);
        assert!(reply.body.contains("introspects"), "{}", reply.body);
    }
    assert_eq!(s.idp.hits.discovery(), 1);
    assert_eq!(s.idp.hits.introspection(), 0);
}

#[tokio::test]
async fn a_bearer_request_is_judged_by_its_token_alone_and_never_redirected() {
    let s = start(|b| b).await;
    let mut jar = signed_in(&s).await;
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
    // A browser navigation with a valid session but a bad token: 401, not the session.
    let reply = call(
        &s.app,
        "/",
        &[
            ("cookie", &jar.header()),
            ("accept", "text/html"),
            ("authorization", "Bearer bad.token.here"),
        ],
    )
    .await;
    assert_invalid_token(&reply);
    // Without a token, the session still works, and Basic is left to the app.
    let reply = call(
        &s.app,
        "/",
        &[("cookie", &jar.header()), ("authorization", "Basic dTpw")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK);
    // A CORS preflight passes without credentials.
    let preflight = send(
        &s.app,
        Request::options("/api/me")
            .header("origin", "https://spa.example.com")
            .header("access-control-request-method", "GET")
            .body(axum::body::Body::empty())
            .unwrap(),
    )
    .await;
    assert_ne!(preflight.status, StatusCode::UNAUTHORIZED, "{preflight:?}");
}

#[tokio::test]
async fn api_paths_and_tokens_only() {
    let s = start(|b| b.add_api_path("/api/").require_bearer_on_api_paths(true)).await;
    let mut jar = signed_in(&s).await;
    // Sessions are not taken on the API...
    let reply = call(
        &s.app,
        "/api/me",
        &[("cookie", &jar.header()), ("accept", "text/html")],
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tower-oidc""#
    );
    // ... tokens are ...
    let token = at(&claims(&s));
    assert_eq!(
        bearer(&s.app, "/api/me", &token).await.status,
        StatusCode::OK
    );
    // ... and elsewhere a token is the app's business: the page still wants a session.
    let reply = call(
        &s.app,
        "/",
        &[
            ("authorization", &format!("Bearer {token}")),
            ("accept", "text/html"),
        ],
    )
    .await;
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "a browser without a session goes to login"
    );
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unreachable_provider_gets_503_and_signed_in_sessions_keep_working() {
    let s = start(|b| b).await;
    let mut jar = signed_in(&s).await;
    // A fresh layer on the same provider knows no keys yet; the provider goes down.
    let fresh = start(|b| b).await;
    fresh.idp.with(|st| {
        for e in Endpoint::ALL {
            st.faults.insert(e, Fault::Status(StatusCode::BAD_GATEWAY));
        }
    });
    let mut c = claims(&fresh);
    c["iss"] = json!(fresh.idp.issuer);
    let reply = bearer(&fresh.app, "/api/me", &at(&c)).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert!(reply.headers.get(header::WWW_AUTHENTICATE).is_none());
    // Sessions of the first layer are not touched by the other's failure.
    s.idp.with(|st| {
        st.faults
            .insert(Endpoint::Jwks, Fault::Status(StatusCode::BAD_GATEWAY))
    });
    assert_eq!(jar.get(&s.app, "/api/me").await.status, StatusCode::OK);
}

#[tokio::test]
async fn scopes_are_required_by_the_extractor_and_the_helper() {
    let s = start(|b| b).await;
    let token = at(&claims(&s));
    assert_eq!(
        bearer(&s.app, "/api/reports", &token).await.status,
        StatusCode::OK
    );
    let reply = bearer(&s.app, "/api/write", &token).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        reply.headers[header::WWW_AUTHENTICATE],
        r#"Bearer realm="tower-oidc", error="insufficient_scope", scope="reports:write""#
    );
    assert_eq!(reply.json()["error"], "insufficient_scope");
    let mut c = claims(&s);
    c["scope"] = json!("openid");
    let reply = bearer(&s.app, "/api/reports", &at(&c)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .contains(r#"scope="reports:read""#));
}

#[tokio::test]
async fn the_policy_and_the_login_hook_decide_for_tokens_once_per_token() {
    let calls = Arc::new(AtomicU64::new(0));
    let seen = calls.clone();
    let s = start(move |b| {
        b.with_auto_provision(false)
            .with_login_hook(move |attempt: LoginAttempt| {
                let seen = seen.clone();
                async move {
                    seen.fetch_add(1, Ordering::SeqCst);
                    if attempt.identity().subject() == "user-1" {
                        LoginDecision::Allow
                    } else {
                        LoginDecision::refuse("Unknown user.")
                    }
                }
            })
    })
    .await;
    let token = at(&claims(&s));
    for _ in 0..3 {
        assert_eq!(
            bearer(&s.app, "/api/me", &token).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the hook runs once per token"
    );
    let mut c = claims(&s);
    c["sub"] = json!("stranger");
    let reply = bearer(&s.app, "/api/me", &at(&c)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(reply.json()["error"], "login_refused");
    // The role map refuses a token whose groups map to no role, as at login.
    let mut c = claims(&s);
    c["groups"] = json!(["nobody"]);
    let reply = bearer(&s.app, "/api/me", &at(&c)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"], "no_role");
}

#[tokio::test]
async fn a_client_credentials_token_says_it_has_no_user() {
    let s = start(|b| b).await;
    let now = s.clock.secs();
    let token = at(&json!({
        "iss": s.idp.issuer, "sub": "reports-cron", "client_id": "reports-cron", "aud": API,
        "exp": now + 300, "iat": now, "scope": "reports:read", "groups": ["readers"],
    }));
    let me = bearer(&s.app, "/api/me", &token).await.json();
    assert_eq!(me["client"], true);
    assert_eq!(me["subject"], "reports-cron");
    assert_eq!(me["role"], "app_reader");
}

#[tokio::test]
async fn without_the_type_check_the_audience_must_not_be_a_client_id() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let err = idp
        .config(&clock)
        .with_api_audience(CLIENT_ID)
        .require_at_jwt(false)
        .build()
        .unwrap_err();
    assert!(err.mentions("OIDC_API_REQUIRE_AT_JWT"), "{err}");
    // With its own audience, an untyped token passes, but never one with ID token claims.
    let s = start(|b| b.require_at_jwt(false)).await;
    assert_eq!(
        bearer(&s.app, "/api/me", &sign(&claims(&s), None))
            .await
            .status,
        StatusCode::OK
    );
    let mut c = claims(&s);
    c["nonce"] = json!("n");
    assert_invalid_token(&bearer(&s.app, "/api/me", &sign(&c, Some("JWT"))).await);
}

/// An opaque token, as the mock's introspection answers for it: active, a user, the scopes.
fn introspected(s: &Api, token: &str, answer: Value) {
    s.idp.with(|st| {
        st.introspection
            .get_or_insert_with(Default::default)
            .insert(token.to_owned(), answer);
        // What userinfo says about the token's user, as for the login's user.
        st.userinfo = json!({"sub": "user-1", "email": "jane@example.com",
            "email_verified": true, "name": "Jane Doe", "groups": ["readers"]});
    });
}

fn active(s: &Api) -> Value {
    let now = s.clock.secs();
    json!({"active": true, "sub": "user-1", "client_id": "spa", "aud": API,
           "scope": "openid reports:read", "exp": now + 600, "iat": now,
           "token_type": "Bearer"})
}

#[tokio::test]
async fn an_opaque_token_is_introspected_as_the_client_and_gets_the_same_identity() {
    let s = start(|b| b).await;
    introspected(&s, "opaque-1", active(&s));
    let reply = bearer(&s.app, "/api/me", "opaque-1").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let me = reply.json();
    assert_eq!(me["subject"], "user-1");
    assert_eq!(me["role"], "app_reader", "userinfo's groups, the role map");
    assert_eq!(me["scopes"], json!(["openid", "reports:read"]));
    assert_eq!(me["client"], false);
    assert_eq!(me["expires_at"], s.clock.secs() + 600);
    // Asked as the client (Basic, as at the token endpoint), with the token and its hint.
    let (auth, form) = s.idp.with(|st| st.introspection_requests[0].clone());
    let basic = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        format!("{CLIENT_ID}:{CLIENT_SECRET}"),
    );
    assert_eq!(auth.as_deref(), Some(format!("Basic {basic}").as_str()));
    assert_eq!(form["token"], "opaque-1");
    assert_eq!(form["token_type_hint"], "access_token");
    assert_eq!((s.idp.hits.introspection(), s.idp.hits.userinfo()), (1, 1));
    // The same identity as the user's browser session.
    let mut jar = signed_in(&s).await;
    let session = jar.get(&s.app, "/api/me").await.json();
    for field in [
        "subject", "issuer", "email", "name", "groups", "role", "provider",
    ] {
        assert_eq!(session[field], me[field], "{field}");
    }
    // Seen again within the cache's bound (60 s by default): the provider is not asked.
    s.clock.advance(Duration::from_secs(59));
    assert_eq!(
        bearer(&s.app, "/api/reports", "opaque-1").await.status,
        StatusCode::OK
    );
    assert_eq!(s.idp.hits.introspection(), 1);
    // Past it, it is asked again; revoked meanwhile, the token is refused.
    introspected(&s, "opaque-1", json!({"active": false}));
    s.clock.advance(Duration::from_secs(1));
    let reply = bearer(&s.app, "/api/me", "opaque-1").await;
    assert_invalid_token(&reply);
    assert!(reply.body.contains("not active"), "{}", reply.body);
    assert_eq!(s.idp.hits.introspection(), 2);
}

#[tokio::test]
async fn the_introspection_cache_never_outlives_the_bound_or_the_tokens_exp() {
    let s = start(|b| b.with_introspection_cache(Duration::from_secs(5))).await;
    let mut answer = active(&s);
    answer["exp"] = json!(s.clock.secs() + 3);
    introspected(&s, "short-lived", answer);
    introspected(&s, "long-lived", active(&s));
    for token in ["short-lived", "long-lived"] {
        assert_eq!(
            bearer(&s.app, "/api/me", token).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(s.idp.hits.introspection(), 2);
    // At 3 s the short-lived token's exp has come: asked again (and, past exp by less than
    // the leeway, the provider's word still holds); the other still cached.
    s.clock.advance(Duration::from_secs(3));
    for token in ["short-lived", "long-lived"] {
        assert_eq!(
            bearer(&s.app, "/api/me", token).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(s.idp.hits.introspection(), 3);
    // At 5 s the configured bound has come for the other.
    s.clock.advance(Duration::from_secs(2));
    assert_eq!(
        bearer(&s.app, "/api/me", "long-lived").await.status,
        StatusCode::OK
    );
    assert_eq!(s.idp.hits.introspection(), 4);
}

#[tokio::test]
async fn introspection_refusals_are_invalid_token() {
    let s = start(|b| b).await;
    let now = s.clock.secs();
    let edit = |key: &str, value: Value| {
        let mut a = active(&s);
        a[key] = value;
        a
    };
    for (token, answer, why) in [
        ("inactive", json!({"active": false}), "not active"),
        (
            "refresh",
            edit("token_type", json!("refresh_token")),
            "not a bearer",
        ),
        (
            "other-api",
            edit("aud", json!("https://other.example.com")),
            "audience",
        ),
        (
            "other-iss",
            edit("iss", json!("https://evil.example.com")),
            "issuer",
        ),
        ("expired", edit("exp", json!(now - 120)), "expired"),
        ("bound", edit("cnf", json!({"jkt": "k"})), "cnf"),
        ("unknown", json!({"active": false}), "not active"),
    ] {
        if token != "unknown" {
            introspected(&s, token, answer);
        }
        let reply = bearer(&s.app, "/api/me", token).await;
        assert_invalid_token(&reply);
        assert!(reply.body.contains(why), "{token}: {}", reply.body);
    }
    assert_eq!(s.idp.hits.userinfo(), 0, "nothing asked of a refused token");
    assert_eq!(s.layer.cached_bearer_tokens(), 0, "refusals are not cached");
}

#[tokio::test]
async fn a_client_credentials_opaque_token_has_no_user_and_no_userinfo() {
    let s = start(|b| b).await;
    let now = s.clock.secs();
    introspected(
        &s,
        "service",
        json!({"active": true, "client_id": "reports-cron", "scope": "reports:read",
               "exp": now + 300, "groups": ["readers"]}),
    );
    let me = bearer(&s.app, "/api/me", "service").await.json();
    assert_eq!(me["client"], true);
    assert_eq!(me["subject"], "reports-cron");
    assert_eq!(me["role"], "app_reader");
    assert_eq!(s.idp.hits.userinfo(), 0);
}

#[tokio::test]
async fn an_unreachable_introspection_gets_503_and_signed_in_sessions_keep_working() {
    let s = start(|b| b).await;
    introspected(&s, "opaque-1", active(&s));
    let mut jar = signed_in(&s).await;
    for fault in [
        Fault::Status(StatusCode::BAD_GATEWAY),
        Fault::Delay(Duration::from_secs(10)),
    ] {
        s.idp
            .with(|st| st.faults.insert(Endpoint::Introspection, fault.clone()));
        let reply = bearer(&s.app, "/api/me", "opaque-1").await;
        assert_eq!(
            reply.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{fault:?}: {reply:?}"
        );
        assert_eq!(reply.json()["error"], "provider_unreachable");
        assert!(reply.headers.get(header::WWW_AUTHENTICATE).is_none());
        assert_eq!(jar.get(&s.app, "/api/me").await.status, StatusCode::OK);
    }
    assert_eq!(s.layer.cached_bearer_tokens(), 0);
    // The provider heals: the same token passes.
    s.idp.with(|st| st.faults.clear());
    assert_eq!(
        bearer(&s.app, "/api/me", "opaque-1").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn a_flood_of_distinct_opaque_tokens_keeps_the_cache_bounded() {
    let s = start(|b| b.with_memory_capacity(32)).await;
    let mut any = active(&s);
    any["scope"] = json!("reports:read");
    any["groups"] = json!(["readers"]);
    s.idp.with(|st| {
        st.introspection = Some([("*".to_owned(), any)].into_iter().collect());
    });
    for i in 0..300 {
        let reply = bearer(&s.app, "/api/me", &format!("flood-{i}")).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(s.layer.cached_bearer_tokens() <= 32);
    }
    assert_eq!(s.idp.hits.introspection(), 300);
    assert!(
        s.layer.cached_bearer_tokens() >= 16,
        "{}",
        s.layer.cached_bearer_tokens()
    );
}

/// The real provider's client secret (server.mjs: every client has it).
const REAL_SECRET: &str = "tower-oidc-test-secret-0123456789abcdef0123456789";

/// A real `oidc-provider` with `API_AUDIENCE`, and the API behind a layer for its client
/// `tower-oidc-test`, with `edit` applied to the configuration.
fn real_api(
    edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
) -> (support::real::RealProvider, String, Router) {
    let provider = support::real::RealProvider::start_with(0, &[("API_AUDIENCE", API)]);
    let issuer = provider.issuer();
    let config = tower_oidc::OidcConfig::builder()
        .with_issuer(issuer.clone())
        .with_client_id("tower-oidc-test")
        .with_client_secret(REAL_SECRET)
        .with_base_url(BASE_URL)
        .allow_random_cookie_key(true)
        .with_api_audience(API);
    let app = api(OidcLayer::new(edit(config).build().unwrap()));
    (provider, issuer, app)
}

/// The real `oidc-provider` with resource indicators (server.mjs's `API_AUDIENCE`): a client
/// credentials grant for the API's audience gives a JWT access token (`typ` `at+jwt`) that
/// calls the API as the client itself, with its scope.
#[tokio::test]
async fn a_real_providers_client_credentials_token_calls_the_api() {
    const SECRET: &str = REAL_SECRET;
    let (_provider, issuer, app) = real_api(|b| b);
    let grant = |resource: &'static str| {
        let issuer = issuer.clone();
        async move {
            let res = reqwest::Client::new()
                .post(format!("{issuer}/token"))
                .basic_auth("tower-oidc-api-client", Some(SECRET))
                .form(&[
                    ("grant_type", "client_credentials"),
                    ("resource", resource),
                    ("scope", "reports:read"),
                ])
                .send()
                .await
                .unwrap();
            let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
            body["access_token"].as_str().unwrap().to_owned()
        }
    };
    let token = grant(API).await;
    let reply = bearer(&app, "/api/me", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let me = reply.json();
    assert_eq!(me["token"], true);
    assert_eq!(me["client"], true, "a client acting for itself");
    assert_eq!(me["subject"], "tower-oidc-api-client");
    assert_eq!(me["client_id"], "tower-oidc-api-client");
    assert_eq!(me["issuer"], issuer.as_str());
    assert_eq!(me["scopes"], json!(["reports:read"]));
    assert_eq!(
        bearer(&app, "/api/reports", &token).await.status,
        StatusCode::OK
    );
    assert_eq!(
        bearer(&app, "/api/write", &token).await.status,
        StatusCode::FORBIDDEN
    );
    // A token tampered with after the provider signed it is refused.
    let at = token.rfind('.').unwrap() + 10;
    let swap = if &token[at..=at] == "A" { "B" } else { "A" };
    let forged = format!("{}{swap}{}", &token[..at], &token[at + 1..]);
    assert_invalid_token(&bearer(&app, "/api/me", &forged).await);
}

#[test]
fn the_api_variables_are_read_and_their_mistakes_named() {
    let base = [
        ("OIDC_ISSUER_URL", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("BASE_URL", "http://127.0.0.1:3999"),
        (
            "OIDC_COOKIE_KEY",
            "bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=",
        ),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        tower_oidc::OidcConfig::from_vars(base.iter().chain(extra).copied())
    };
    let config = with(&[("OIDC_API_AUDIENCE", API)]).unwrap();
    assert_eq!(config.default_provider().api_audience(), Some(API));
    assert_eq!(with(&[]).unwrap().default_provider().api_audience(), None);
    let err = with(&[
        ("OIDC_API_AUDIENCE", API),
        ("OIDC_API_REQUIRE_AT_JWT", "maybe"),
    ])
    .unwrap_err();
    assert!(err.mentions("OIDC_API_REQUIRE_AT_JWT"), "{err}");
    // The resource indicator (RFC 8707): an absolute URI without a fragment.
    assert!(with(&[("OIDC_RESOURCE", API)]).is_ok());
    for bad in ["reports-api", "https://api.example.com/#x"] {
        let err = with(&[("OIDC_RESOURCE", bad)]).unwrap_err();
        assert!(err.mentions("OIDC_RESOURCE"), "{err}");
    }
    let err = with(&[
        ("OIDC_API_AUDIENCE", API),
        ("OIDC_API_INTROSPECTION_CACHE", "a minute"),
    ])
    .unwrap_err();
    assert!(err.mentions("OIDC_API_INTROSPECTION_CACHE"), "{err}");
    assert!(with(&[
        ("OIDC_API_AUDIENCE", API),
        ("OIDC_API_INTROSPECTION_CACHE", "5")
    ])
    .is_ok());
    let err = with(&[("OIDC_API_REQUIRE_AT_JWT", "false")]).unwrap_err();
    assert!(err.mentions("OIDC_API_REQUIRE_AT_JWT"), "{err}");
    assert!(err.to_string().contains("OIDC_API_AUDIENCE"), "{err}");
}

/// The real `oidc-provider` with introspection and revocation: a client credentials grant
/// without `resource` gives an opaque access token, which is introspected (once, then cached)
/// and calls the API as the client; revoked at the provider, it is refused once the
/// introspection cache's bound (1 s here) has passed.
#[tokio::test]
async fn a_real_providers_opaque_token_is_introspected_and_refused_once_revoked() {
    const SECRET: &str = REAL_SECRET;
    let (_provider, issuer, app) = real_api(|b| b.with_introspection_cache(Duration::from_secs(1)));
    let http = reqwest::Client::new();
    let body = |res: reqwest::Response| async move {
        let status = res.status();
        let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
        assert!(status.is_success(), "{status}: {body}");
        body
    };
    let introspections = || {
        let (http, issuer) = (http.clone(), issuer.clone());
        async move {
            let res = http
                .get(format!("{issuer}/_test/hits"))
                .send()
                .await
                .unwrap();
            body(res).await["introspection"].as_u64().unwrap()
        }
    };
    let res = http
        .post(format!("{issuer}/token"))
        .basic_auth("tower-oidc-api-client", Some(SECRET))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    let token = body(res).await["access_token"].as_str().unwrap().to_owned();
    assert_ne!(token.split('.').count(), 3, "an opaque token, not a JWT");

    let reply = bearer(&app, "/api/me", &token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let me = reply.json();
    assert_eq!(me["token"], true);
    assert_eq!(me["client"], true);
    assert_eq!(me["subject"], "tower-oidc-api-client");
    assert_eq!(me["client_id"], "tower-oidc-api-client");
    assert_eq!(me["issuer"], issuer.as_str());
    assert_eq!(introspections().await, 1);
    // Within the bound the provider is not asked again (the bound is 1 s; two quick calls).
    let again = bearer(&app, "/api/me", &token).await;
    assert_eq!(again.status, StatusCode::OK);
    assert!(introspections().await <= 2);

    // Revoked at the provider (RFC 7009, by the client it was issued to).
    let res = http
        .post(format!("{issuer}/token/revocation"))
        .basic_auth("tower-oidc-api-client", Some(SECRET))
        .form(&[
            ("token", token.as_str()),
            ("token_type_hint", "access_token"),
        ])
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let revoked = std::time::Instant::now();
    let refused = loop {
        let reply = bearer(&app, "/api/me", &token).await;
        if reply.status != StatusCode::OK || revoked.elapsed() > Duration::from_secs(5) {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_invalid_token(&refused);
    assert!(refused.body.contains("not active"), "{}", refused.body);
    assert!(
        revoked.elapsed() < Duration::from_millis(2500),
        "refused within the bound: {:?}",
        revoked.elapsed()
    );
    let asked = introspections().await;
    assert!(asked >= 2, "asked again once the bound passed: {asked}");
}

#[tokio::test]
async fn the_resource_is_asked_for_at_login_and_at_the_code_exchange() {
    let s = start(|b| b.with_resource(API)).await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    assert_eq!(query(&started.authorize_url)["resource"], API);
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let (_, form) = s.idp.with(|st| st.token_requests[0].clone());
    assert_eq!(form["resource"], API);
    assert_eq!(form["grant_type"], "authorization_code");
}

/// A real login (the provider's login form, driven over HTTP) against the real `oidc-provider`
/// asking for the API's resource: the app's own login gets the user's session; the access
/// token of a login for the same user and resource, a JWT for the API, calls `/api/me` with
/// the same identity and role. (The layer does not hand the login's access token to the app,
/// so the test runs the same authorization code flow itself to hold one.)
#[tokio::test]
async fn a_real_logins_access_token_calls_the_api_as_the_browser_session() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    const REDIRECT: &str = "http://127.0.0.1:3999/auth/callback";
    const SECRET: &str = REAL_SECRET;
    let (_provider, issuer, app) = real_api(|b| {
        b.with_scope("openid email profile groups")
            .with_resource(API)
            .with_role_map(roles())
    });
    let browser = support::real::Browser::new(&issuer);

    // The app's login, for bob, asking for the API's resource.
    let mut jar = Jar::default();
    let start = jar.get(&app, "/api/me").await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    assert_eq!(query(start.location())["resource"], API);
    let back = browser.authorize(start.location(), "bob").await;
    let reply = jar.get(&app, &support::real::path_of(&back)).await;
    assert!(reply.status.is_redirection(), "{reply:?}");
    let session = jar.get(&app, "/api/me").await;
    assert_eq!(session.status, StatusCode::OK, "{session:?}");
    let session = session.json();
    assert_eq!(session["subject"], "bob");
    assert_eq!(session["role"], "app_reader");

    // The same flow, run by the test, for the access token.
    let verifier = B64.encode([7u8; 32]);
    let challenge = B64.encode(aws_lc_rs::digest::digest(
        &aws_lc_rs::digest::SHA256,
        verifier.as_bytes(),
    ));
    let authorize = format!(
        "{issuer}/auth?{}",
        serde_urlencoded::to_string([
            ("client_id", "tower-oidc-test"),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT),
            ("scope", "openid email profile groups"),
            ("resource", API),
            ("state", "test-state"),
            ("nonce", "test-nonce"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .unwrap()
    );
    let back = browser.authorize(&authorize, "bob").await;
    let code = query(&back)["code"].clone();
    let res = reqwest::Client::new()
        .post(format!("{issuer}/token"))
        .basic_auth("tower-oidc-test", Some(SECRET))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier.as_str()),
            ("resource", API),
        ])
        .send()
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&res.bytes().await.unwrap()).unwrap();
    let token = body["access_token"]
        .as_str()
        .unwrap_or_else(|| panic!("{body}"));
    assert_eq!(
        token.split('.').count(),
        3,
        "a JWT access token for the API"
    );

    let reply = bearer(&app, "/api/me", token).await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    let me = reply.json();
    assert_eq!(me["token"], true);
    assert_eq!(me["client"], false);
    assert_eq!(me["client_id"], "tower-oidc-test");
    for field in [
        "subject", "issuer", "email", "name", "groups", "role", "admin", "provider",
    ] {
        assert_eq!(me[field], session[field], "{field}");
    }
    assert_eq!(session["token"], false);
}
