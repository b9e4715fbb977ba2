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
        app: api(layer),
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
    // Opaque and garbage tokens: 401, never a panic.
    for token in ["opaque-token", "a.b.c", "e30.e30.e30", "x.y"] {
        assert_invalid_token(&bearer(&s.app, "/api/me", token).await);
    }
    assert_eq!(
        s.idp.hits.discovery(),
        0,
        "nothing was asked of the provider"
    );
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

/// The real `oidc-provider` with resource indicators (server.mjs's `API_AUDIENCE`): a client
/// credentials grant for the API's audience gives a JWT access token (`typ` `at+jwt`) that
/// calls the API as the client itself, with its scope.
#[tokio::test]
async fn a_real_providers_client_credentials_token_calls_the_api() {
    const SECRET: &str = "tower-oidc-test-secret-0123456789abcdef0123456789";
    let provider = support::real::RealProvider::start_with(0, &[("API_AUDIENCE", API)]);
    let issuer = provider.issuer();
    let layer = OidcLayer::new(
        tower_oidc::OidcConfig::builder()
            .with_issuer(issuer.clone())
            .with_client_id("tower-oidc-test")
            .with_client_secret(SECRET)
            .with_base_url(BASE_URL)
            .allow_random_cookie_key(true)
            .with_api_audience(API)
            .build()
            .unwrap(),
    );
    let app = api(layer);
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
    let err = with(&[("OIDC_API_REQUIRE_AT_JWT", "false")]).unwrap_err();
    assert!(err.mentions("OIDC_API_REQUIRE_AT_JWT"), "{err}");
    assert!(err.to_string().contains("OIDC_API_AUDIENCE"), "{err}");
}
