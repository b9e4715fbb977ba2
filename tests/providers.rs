//! Several providers: routes per provider, the chooser page, `/auth/providers`, and the mix-up
//! defence (RFC 9700 4.4). Mix-up attacks run against two in-process providers, so that the
//! tests can count token requests; sign-ins run against two real `oidc-provider` instances with
//! different issuers and users, configured through the numbered variables.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use serde_json::json;
use support::real::*;
use support::*;
use tower_oidc::{OidcConfig, OidcLayer, ProviderBuilder};

/// Two in-process providers as `staff` and `contractors`.
async fn two_mocks() -> (MockIdp, MockIdp, Arc<TestClock>, axum::Router) {
    let a = MockIdp::start().await;
    let b = MockIdp::start().await;
    let clock = TestClock::new();
    let provider = |slug: &str, idp: &MockIdp| {
        ProviderBuilder::new(slug)
            .with_name(format!("{slug} SSO"))
            .with_issuer(idp.issuer.clone())
            .with_client_id(CLIENT_ID)
            .with_client_secret(CLIENT_SECRET)
    };
    let config = OidcConfig::builder()
        .with_base_url(BASE_URL)
        .with_cookie_key("Ejfi/eCBtu2hdy7TBhJWhoX8wWQxLjbQT37E7X6FoXY=")
        .with_clock(clock.clone())
        .with_http_timeout(Duration::from_secs(3))
        .add_provider(provider("staff", &a))
        .add_provider(provider("contractors", &b))
        .build()
        .unwrap();
    (a, b, clock, app(OidcLayer::new(config)))
}

/// Starts a login at `/auth/login/{slug}` and returns its state and nonce.
async fn start(jar: &mut Jar, app: &axum::Router, slug: &str) -> (String, String, String) {
    let reply = jar.get(app, &format!("/auth/login/{slug}")).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let q = query(reply.location());
    (
        reply.location().to_owned(),
        q["state"].clone(),
        q["nonce"].clone(),
    )
}

async fn callback_at(
    jar: &mut Jar,
    app: &axum::Router,
    route: &str,
    state: &str,
    iss: &str,
) -> Reply {
    let q =
        serde_urlencoded::to_string([("code", "code-1"), ("state", state), ("iss", iss)]).unwrap();
    jar.get(app, &format!("{route}?{q}")).await
}

#[tokio::test]
async fn each_provider_has_its_own_login_and_callback_route() {
    let (a, b, clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let (url, state, nonce) = start(&mut jar, &app, "contractors").await;
    assert!(url.starts_with(&b.issuer), "{url}");
    assert!(
        url.contains("redirect_uri=http%3A%2F%2F127.0.0.1%3A3999%2Fauth%2Fcallback%2Fcontractors"),
        "{url}"
    );
    let mut claims = b.claims(&clock, &nonce);
    claims["sub"] = json!("carol");
    b.with(|s| s.id_token = Some(SigningKey::first().sign(&claims)));
    let done = callback_at(
        &mut jar,
        &app,
        "/auth/callback/contractors",
        &state,
        &b.issuer,
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let me = jar.get(&app, "/me").await.json();
    assert_eq!(me["provider"], "contractors");
    assert_eq!(me["issuer"], b.issuer.as_str());
    assert_eq!(me["subject"], "carol");
    assert_eq!((a.hits.token(), b.hits.token()), (0, 1));
    let token_request = b.with(|s| s.token_requests[0].1.clone());
    assert_eq!(
        token_request["redirect_uri"],
        "http://127.0.0.1:3999/auth/callback/contractors"
    );
}

#[tokio::test]
async fn refuses_a_response_whose_iss_belongs_to_the_other_provider_before_any_token_call() {
    let (a, b, _clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let (_, state, _) = start(&mut jar, &app, "staff").await;
    // The attacker's provider (B) answers, on A's route, a login started with A.
    let reply = callback_at(&mut jar, &app, "/auth/callback/staff", &state, &b.issuer).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply.body.contains("Error: issuer_mismatch"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("mix-up"), "{}", reply.body);
    assert_eq!(
        (a.hits.token(), b.hits.token()),
        (0, 0),
        "no token call at all"
    );
    assert!(jar.session().is_none());
}

#[tokio::test]
async fn refuses_a_response_on_the_other_providers_route_before_any_token_call() {
    let (a, b, _clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let (_, state, _) = start(&mut jar, &app, "staff").await;
    // A's login record, delivered to B's callback route (with A's own iss even).
    let reply = callback_at(
        &mut jar,
        &app,
        "/auth/callback/contractors",
        &state,
        &a.issuer,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply.body.contains("Error: issuer_mismatch"),
        "{}",
        reply.body
    );
    assert_eq!((a.hits.token(), b.hits.token()), (0, 0));
    // And the plain single-provider route belongs to no provider here.
    let (_, state, _) = start(&mut jar, &app, "staff").await;
    let reply = callback_at(&mut jar, &app, "/auth/callback", &state, &a.issuer).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!((a.hits.token(), b.hits.token()), (0, 0));
}

#[tokio::test]
async fn refuses_an_id_token_issued_by_the_other_provider() {
    let (a, b, clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let (_, state, nonce) = start(&mut jar, &app, "staff").await;
    // A's token endpoint hands out a token B issued (same key, so only `iss` tells).
    let claims = b.claims(&clock, &nonce);
    a.with(|s| s.id_token = Some(SigningKey::first().sign(&claims)));
    let reply = callback_at(&mut jar, &app, "/auth/callback/staff", &state, &a.issuer).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert!(reply.body.contains("another issuer"), "{}", reply.body);
    assert_eq!(a.hits.userinfo(), 0);
    assert!(jar.session().is_none());
}

#[tokio::test]
async fn unauthenticated_browsers_get_a_chooser_and_scripts_get_401() {
    let (_a, _b, _clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let page = jar.get(&app, "/reports?id=7").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        page.body.contains(
            "href=\"/auth/login/staff?return_to=%2Freports%3Fid%3D7\">Sign in with staff SSO"
        ),
        "{}",
        page.body
    );
    assert!(page.body.contains("/auth/login/contractors?return_to="));
    assert!(page.set_cookies().is_empty(), "the chooser sets no cookie");

    let api = jar
        .send(
            &app,
            Request::get("/reports").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);

    let explicit = jar.get(&app, "/auth/login?return_to=/x").await;
    assert_eq!(
        explicit.status,
        StatusCode::OK,
        "no default provider to pick"
    );
    assert!(explicit.body.contains("return_to=%2Fx"));
}

#[tokio::test]
async fn lists_the_providers_as_json_and_404s_an_unknown_slug_with_the_valid_ones() {
    let (_a, _b, _clock, app) = two_mocks().await;
    let mut jar = Jar::default();
    let list = jar.get(&app, "/auth/providers").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(
        list.json(),
        json!([
            {"slug": "staff", "name": "staff SSO", "login_url": "/auth/login/staff"},
            {"slug": "contractors", "name": "contractors SSO", "login_url": "/auth/login/contractors"},
        ])
    );
    let unknown = jar.get(&app, "/auth/login/okta").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.body.contains("<code>okta</code>"),
        "{}",
        unknown.body
    );
    assert!(unknown.body.contains("href=\"/auth/login/staff\""));
    assert!(unknown.body.contains("href=\"/auth/login/contractors\""));
    let evil = jar.get(&app, "/auth/login/%3Cscript%3E").await;
    assert_eq!(evil.status, StatusCode::NOT_FOUND);
    assert!(!evil.body.contains("<script>"));
}

/// The two real providers, configured the way an operator would: numbered variables.
fn numbered_layer() -> (OidcLayer, String, String) {
    let e = env();
    let issuer_b = std::env::var("TOWER_OIDC_TEST_ISSUER_B").unwrap_or_else(|_| {
        panic!("TOWER_OIDC_TEST_ISSUER_B is not set: run the tests through scripts/test.sh, which starts both providers")
    });
    let vars = [
        ("BASE_URL", BASE_URL.to_owned()),
        (
            "OIDC_COOKIE_KEY",
            "Za4cQs8tigP51SKsvRqjG4N3aznv8K9xDI265o7XQEg=".into(),
        ),
        ("OIDC_SCOPE", "openid profile email groups".into()),
        ("OIDC_PROVIDER_1_NAME", "Staff".into()),
        ("OIDC_PROVIDER_1_SLUG", "staff".into()),
        ("OIDC_PROVIDER_1_ISSUER", e.issuer.clone()),
        ("OIDC_PROVIDER_1_CLIENT_ID", e.client_id.clone()),
        ("OIDC_PROVIDER_1_CLIENT_SECRET", e.secret.clone()),
        ("OIDC_PROVIDER_2_NAME", "Contractors".into()),
        ("OIDC_PROVIDER_2_SLUG", "contractors".into()),
        ("OIDC_PROVIDER_2_ISSUER", issuer_b.clone()),
        ("OIDC_PROVIDER_2_CLIENT_ID", e.post_client_id.clone()),
        ("OIDC_PROVIDER_2_CLIENT_SECRET", e.secret.clone()),
        (
            "OIDC_PROVIDER_2_TOKEN_ENDPOINT_AUTH_METHOD",
            "client_secret_post".into(),
        ),
    ];
    let config = OidcConfig::from_vars(vars).unwrap();
    (OidcLayer::new(config), e.issuer, issuer_b)
}

#[tokio::test]
async fn signs_in_through_each_of_two_real_providers() {
    let (layer, issuer_a, issuer_b) = numbered_layer();
    let app = app(layer);

    let mut jar = Jar::default();
    let done = sign_in(
        &mut jar,
        &app,
        &Browser::new(&issuer_a),
        "/auth/login/staff",
        "alice",
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let me = jar.get(&app, "/me").await.json();
    assert_eq!(me["provider"], "staff");
    assert_eq!(me["issuer"], issuer_a.as_str());
    assert_eq!(me["subject"], "alice");

    let mut jar = Jar::default();
    let done = sign_in(
        &mut jar,
        &app,
        &Browser::new(&issuer_b),
        "/auth/login/contractors?return_to=/reports",
        "carol",
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/reports");
    let me = jar.get(&app, "/me").await.json();
    assert_eq!(me["provider"], "contractors");
    assert_eq!(me["issuer"], issuer_b.as_str());
    assert_eq!(me["subject"], "carol");
    assert_eq!(me["groups"], json!(["auditors"]));
}

#[tokio::test]
async fn a_real_providers_response_is_refused_on_the_other_providers_login() {
    let (layer, _, issuer_b) = numbered_layer();
    let app = app(layer);
    let mut jar = Jar::default();
    // A login started with staff (A) ...
    let start_a = jar.get(&app, "/auth/login/staff").await;
    let state_a = query(start_a.location())["state"].clone();
    // ... and a genuine authorization response from contractors (B) for another login.
    let start_b = jar.get(&app, "/auth/login/contractors").await;
    let back_b = Browser::new(&issuer_b)
        .authorize(start_b.location(), "carol")
        .await;
    let q_b = query(&back_b);
    assert_eq!(q_b["iss"], issuer_b);
    // The attacker splices B's code and iss into A's login.
    let spliced = serde_urlencoded::to_string([
        ("code", q_b["code"].as_str()),
        ("state", state_a.as_str()),
        ("iss", q_b["iss"].as_str()),
    ])
    .unwrap();
    let reply = jar
        .get(&app, &format!("/auth/callback/staff?{spliced}"))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert!(
        reply.body.contains("Error: issuer_mismatch"),
        "{}",
        reply.body
    );
    assert!(jar.session().is_none());
    // B's code was never redeemed: the genuine callback still works with it.
    let genuine = jar.get(&app, &path_of(&back_b)).await;
    assert_eq!(genuine.status, StatusCode::FOUND, "{genuine:?}");
    assert_eq!(
        jar.get(&app, "/me").await.json()["issuer"],
        issuer_b.as_str()
    );
}
