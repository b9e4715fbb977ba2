//! The ways an app mounts the layer: `Router::route_layer` with the layer's own routes merged
//! (`OidcLayer::routes`), and the layer on a sub-router mounted with `Router::nest`, where the
//! configured paths and return-to targets are the app's (axum's `OriginalUri`).

mod support;

use axum::http::{StatusCode, Uri};
use axum::routing::get;
use axum::Router;
use support::*;
use tower_oidc::{Identity, OidcLayer};

fn whoami() -> axum::routing::MethodRouter {
    get(|me: Identity, uri: Uri| async move { format!("{} {uri}", me.subject()) })
}

#[tokio::test]
async fn route_layer_with_the_merged_routes_signs_in() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let oidc = OidcLayer::new(idp.config(&clock).build().unwrap());
    let protected = || Router::new().route("/", whoami()).route_layer(oidc.clone());

    // Without the merged routes the layer never sees `/auth/*`.
    let alone = protected();
    let missing = Jar::default().get(&alone, "/auth/login").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let app = protected().merge(oidc.routes());
    let mut jar = Jar::default();
    // An unknown path is not behind the layer: 404 for everyone.
    let unknown = jar.clone().get(&app, "/nowhere").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
    let explicit = jar.clone().get(&app, "/auth/login").await;
    assert_eq!(explicit.status, StatusCode::FOUND, "{explicit:?}");
    assert!(explicit.location().starts_with(&idp.issuer), "{explicit:?}");
    let providers = jar.clone().get(&app, "/auth/providers").await;
    assert_eq!(providers.status, StatusCode::OK, "{providers:?}");
    assert_eq!(providers.json()[0]["slug"], "default");

    let done = login_with(&mut jar, &app, &idp, &SigningKey::first(), |c| c, &clock).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/");
    let me = jar.get(&app, "/").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body, "user-1 /");
}

/// The configuration of an app whose protected routes are under `/app`: the layer's routes
/// are configured as the app's paths.
fn under_app(idp: &MockIdp, clock: &std::sync::Arc<TestClock>) -> OidcLayer {
    let config = idp
        .config(clock)
        .with_callback_path("/app/auth/callback")
        .with_login_path("/app/auth/login")
        .with_logout_path("/app/auth/logout")
        .with_providers_path("/app/auth/providers")
        .build()
        .unwrap();
    OidcLayer::new(config)
}

/// Signs in through `app`, starting at `/app/reports?x=1`, and checks the redirect URI, the
/// return target and the signed-in request.
async fn sign_in_under_app(app: &Router, idp: &MockIdp, clock: &TestClock) {
    let mut jar = Jar::default();
    // The outer router's own route is not behind the layer.
    let open = jar.clone().get(app, "/").await;
    assert_eq!((open.status, open.body.as_str()), (StatusCode::OK, "open"));

    let started = start_login(&mut jar, app, "/app/reports?x=1").await;
    assert_eq!(
        query(&started.authorize_url)["redirect_uri"],
        format!("{BASE_URL}/app/auth/callback")
    );
    let token = SigningKey::first().sign(&idp.claims(clock, &started.nonce));
    idp.with(|s| s.id_token = Some(token));
    let q = serde_urlencoded::to_string([
        ("code", "code-1"),
        ("state", started.state.as_str()),
        ("iss", idp.issuer.as_str()),
    ])
    .unwrap();
    let done = jar.get(app, &format!("/app/auth/callback?{q}")).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/app/reports?x=1");
    let me = jar.get(app, "/app/reports?x=1").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    // The handler sees the nested router's URI, as axum gives it.
    assert_eq!(me.body, "user-1 /reports?x=1");
}

#[tokio::test]
async fn a_nested_router_behind_the_layer_matches_the_callback_by_the_apps_path() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    // The nested router's fallback is behind the layer too, so the layer sees every path
    // under `/app` (without a fallback of its own, axum sends those to the outer one).
    let inner = Router::new()
        .route("/reports", whoami())
        .fallback(|| async { StatusCode::NOT_FOUND })
        .layer(under_app(&idp, &clock));
    let app = Router::new()
        .route("/", get(|| async { "open" }))
        .nest("/app", inner);
    sign_in_under_app(&app, &idp, &clock).await;
    let unknown = Jar::default().get(&app, "/app/nowhere").await;
    assert_eq!(unknown.status, StatusCode::FOUND, "{unknown:?}");
}

#[tokio::test]
async fn a_nested_sub_router_with_route_layer_and_the_routes_merged_outside() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let oidc = under_app(&idp, &clock);
    let inner = Router::new()
        .route("/reports", whoami())
        .route_layer(oidc.clone());
    let app = Router::new()
        .route("/", get(|| async { "open" }))
        .nest("/app", inner)
        .merge(oidc.routes());
    sign_in_under_app(&app, &idp, &clock).await;
    let unknown = Jar::default().get(&app, "/app/nowhere").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{unknown:?}");
}
