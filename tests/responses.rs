//! What leaves the layer besides the handler's body: which paths are public (only normalised
//! ones), the caching headers of passed responses (a signed-in user's response on a public path
//! is never cached for anyone else), and the framing and content policy of every page the layer
//! writes itself. Through the layer, with the in-process provider.

mod support;

use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use support::*;
use tower::ServiceExt;
use tower_oidc::{AuthErrorKind, Identity, OidcLayer};

/// The policy every page of the layer carries.
const CSP: &str =
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; frame-ancestors 'none'";

struct Setup {
    idp: MockIdp,
    clock: std::sync::Arc<TestClock>,
    layer: OidcLayer,
    app: Router,
}

/// `/public` and everything below `/static/` are public; `/static/{*rest}` and the catch-all
/// answer which path they saw, so a test can tell a pass from a refusal; `/cached` (public too) sets
/// its own cache policy.
async fn setup() -> Setup {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(
        idp.config(&clock)
            .add_public_path("/static/")
            .add_public_path("/cached")
            .build()
            .unwrap(),
    );
    let who = |me: Option<Identity>| {
        me.map_or_else(|| "anonymous".to_owned(), |m| m.subject().to_owned())
    };
    let app = Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .route(
            "/public",
            get(move |me: Option<Identity>| async move { who(me) }),
        )
        .route(
            "/cached",
            get(move |me: Option<Identity>| async move {
                (
                    [
                        (header::CACHE_CONTROL, "public, max-age=60"),
                        (header::VARY, "Accept-Encoding"),
                    ],
                    who(me),
                )
            }),
        )
        .route(
            "/static/{*rest}",
            get(move |me: Option<Identity>| async move { format!("static for {}", who(me)) }),
        )
        .fallback(move |me: Option<Identity>| async move { format!("fallback for {}", who(me)) })
        .layer(layer.clone());
    Setup {
        idp,
        clock,
        layer,
        app,
    }
}

fn jane(s: &Setup) -> Identity {
    Identity::builder(s.idp.issuer.clone(), "jane").build()
}

fn values(reply: &Reply, name: header::HeaderName) -> Vec<&str> {
    reply
        .headers
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// Paths below a public folder that a proxy, the router or a file handler could read as
/// another path: encoded slashes and backslashes, path parameters, double encoding, empty and
/// dot segments.
const AMBIGUOUS: &[&str] = &[
    "/static/x/..%2F..%2Fadmin",
    "/static/..%5Cadmin",
    "/static/x\\..\\..\\admin",
    "/static/x/..;/..;/admin",
    "/public;a=b",
    "/static/x/%252E%252E/%252E%252E/admin",
    "/static/x//..//admin",
    "/static/%2E%2E/admin",
    "/static/x/../../admin",
    "/static/app.css%0A",
];

#[tokio::test]
async fn a_path_that_could_be_read_as_another_is_never_public() {
    let s = setup().await;
    // Plain public paths pass without a session.
    for path in ["/public", "/static/app.css", "/static/caf%C3%A9.css"] {
        let reply = Jar::default().get(&s.app, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        assert!(reply.body.ends_with("anonymous"), "{path}: {}", reply.body);
    }
    for path in AMBIGUOUS {
        // A browser is sent to sign in, an API client gets a 401: the handler never runs.
        let reply = Jar::default().get(&s.app, path).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{path}: {reply:?}");
        assert!(
            reply
                .location()
                .starts_with(&format!("{}/authorize?", s.idp.issuer)),
            "{path}: {}",
            reply.location()
        );
        let api = Jar::default()
            .send(
                &s.app,
                Request::get(*path).header(header::ACCEPT, "application/json"),
            )
            .await;
        assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{path}: {api:?}");
        assert_eq!(api.json()["error"], "unauthenticated");
    }
    // Signed in, such a path is served like any protected one: as the user, never cached.
    let mut jar = Jar::signed_in(&s.layer, &jane(&s));
    for path in AMBIGUOUS {
        let reply = jar.get(&s.app, path).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {reply:?}");
        assert!(reply.body.ends_with("jane"), "{path}: {}", reply.body);
        assert_eq!(
            values(&reply, header::CACHE_CONTROL),
            ["no-store"],
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_signed_in_users_response_on_a_public_path_is_never_cached_for_others() {
    let s = setup().await;
    let mut jar = Jar::signed_in(&s.layer, &jane(&s));
    for path in ["/public", "/static/app.css"] {
        let reply = jar.get(&s.app, path).await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply.body.ends_with("jane"), "{}", reply.body);
        assert_eq!(
            values(&reply, header::CACHE_CONTROL),
            ["private, no-store"],
            "{path}"
        );
        assert_eq!(values(&reply, header::VARY), ["Cookie"], "{path}");
    }
    // The app's own cache policy stays; `Vary: Cookie` joins its own `Vary`.
    let reply = jar.get(&s.app, "/cached").await;
    assert_eq!(
        values(&reply, header::CACHE_CONTROL),
        ["public, max-age=60"]
    );
    assert_eq!(values(&reply, header::VARY), ["Accept-Encoding", "Cookie"]);
    // Without a session the response is the app's business: nothing is added.
    let anonymous = Jar::default().get(&s.app, "/public").await;
    assert_eq!(anonymous.body, "anonymous");
    assert!(values(&anonymous, header::CACHE_CONTROL).is_empty());
    assert!(values(&anonymous, header::VARY).is_empty());
    // Protected responses keep their `no-store`.
    let home = jar.get(&s.app, "/").await;
    assert_eq!(home.body, "jane");
    assert_eq!(values(&home, header::CACHE_CONTROL), ["no-store"]);
}

fn assert_unframeable(what: &str, reply: &Reply) {
    assert_eq!(
        values(reply, header::X_FRAME_OPTIONS),
        ["DENY"],
        "{what}: {reply:?}"
    );
    assert_eq!(
        values(reply, header::CONTENT_SECURITY_POLICY),
        [CSP],
        "{what}"
    );
    assert_eq!(values(reply, header::CACHE_CONTROL), ["no-store"], "{what}");
}

#[tokio::test]
async fn every_page_the_layer_writes_refuses_framing() {
    let s = setup().await;
    let app = support::app(s.layer.clone());
    let clock = &s.clock;
    let mut pages = Vec::new();

    let mut jar = Jar::default();
    let started = start_login(&mut jar, &app, "/reports").await;
    pages.push((
        "the redirect to the provider",
        jar.get(&app, "/reports").await,
    ));
    let token = SigningKey::first().sign(&s.idp.claims(clock, &started.nonce));
    s.idp.with(|m| m.id_token = Some(token));
    let back = callback(&mut jar, &app, &s.idp, &started.state).await;
    assert_eq!(back.status, StatusCode::FOUND, "{back:?}");
    pages.push(("the redirect back after login", back));
    let api = Jar::default()
        .send(
            &app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    pages.push(("the 401 JSON", api));
    let error = Jar::default().get(&app, "/auth/callback").await;
    assert_eq!(error.kind(), AuthErrorKind::MissingState.as_str());
    pages.push(("an error page", error));
    pages.push((
        "the providers JSON",
        Jar::default().get(&app, "/auth/providers").await,
    ));
    let unknown = Jar::default().get(&app, "/auth/login/nobody").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    pages.push(("the unknown provider page", unknown));
    let confirm = jar
        .send(
            &app,
            Request::get("/auth/logout").header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert!(confirm.body.contains("method=\"post\""), "{}", confirm.body);
    pages.push(("the logout confirmation", confirm));
    let logout = jar.get(&app, "/auth/logout").await;
    assert_eq!(logout.status, StatusCode::FOUND);
    pages.push(("the redirect to the end-session endpoint", logout));

    // Without an end-session endpoint: the signed-out page.
    let bare = MockIdp::start().await;
    let issuer = bare.issuer.clone();
    bare.with(|m| {
        m.discovery_body = Some(
            serde_json::json!({
                "issuer": issuer, "authorization_endpoint": format!("{issuer}/authorize"),
                "token_endpoint": format!("{issuer}/token"), "jwks_uri": format!("{issuer}/jwks"),
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
            })
            .to_string(),
        )
    });
    let layer = OidcLayer::new(bare.config(clock).build().unwrap());
    let bare_app = support::app(layer.clone());
    let mut signed_in = Jar::signed_in(&layer, &Identity::builder(issuer, "u1").build());
    let signed_out = signed_in.get(&bare_app, "/auth/logout").await;
    assert!(signed_out.body.contains("signed out"), "{signed_out:?}");
    pages.push(("the signed-out page", signed_out));

    // A provider that is down: the 503 page.
    let down = MockIdp::start().await;
    down.with(|m| {
        m.faults.insert(
            Endpoint::Discovery,
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
        )
    });
    let down_app = support::app(OidcLayer::new(down.config(clock).build().unwrap()));
    let unavailable = Jar::default().get(&down_app, "/").await;
    assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
    pages.push(("the 503 page", unavailable));

    // Two providers: the chooser.
    let other = MockIdp::start().await;
    let chooser_layer = OidcLayer::new(
        tower_oidc::OidcConfig::builder()
            .with_base_url(BASE_URL)
            .with_cookie_key("2Ujikjp7WTuadqxfH5ssf/fQSfD9g6MNFk3dQ/abhPs=")
            .add_provider(
                tower_oidc::ProviderBuilder::new("one")
                    .with_issuer(s.idp.issuer.clone())
                    .with_client_id(CLIENT_ID),
            )
            .add_provider(
                tower_oidc::ProviderBuilder::new("two")
                    .with_issuer(other.issuer.clone())
                    .with_client_id(CLIENT_ID),
            )
            .build()
            .unwrap(),
    );
    let chooser = Jar::default().get(&support::app(chooser_layer), "/").await;
    assert!(chooser.body.contains("Sign in with"), "{chooser:?}");
    pages.push(("the chooser", chooser));

    for (what, reply) in &pages {
        assert_unframeable(what, reply);
    }
}

/// The page hook draws the layer's pages from their data; the status, the security headers
/// and the `AuthError` stay the layer's, and `None` keeps the built-in page.
#[tokio::test]
async fn the_page_hook_draws_the_pages_and_the_layer_keeps_status_and_headers() {
    use tower_oidc::{escape_html, LayerPage};
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let config = idp
        .config(&clock)
        .with_page_hook(|page: &LayerPage<'_>| match page {
            LayerPage::SignInFailed {
                error, retry_url, ..
            } => Some(format!(
                "<main class=brand>{} <a href=\"{}\">again</a> {}</main>",
                escape_html(error.reason()),
                escape_html(retry_url),
                error.kind().as_str(),
            )),
            LayerPage::LogoutConfirm { logout_url, .. } => Some(format!(
                "<main class=brand><form method=post action=\"{}\"></form></main>",
                escape_html(logout_url)
            )),
            _ => None,
        })
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));

    // A callback without `state`: 400, drawn by the hook.
    let failed = Jar::default().get(&app, "/auth/callback?code=x").await;
    assert_eq!(failed.status, StatusCode::BAD_REQUEST, "{failed:?}");
    assert!(
        failed.body.starts_with("<main class=brand>")
            && failed.body.contains("<a href=\"/auth/login\">again</a>")
            && failed.body.ends_with(" missing_state</main>"),
        "{}",
        failed.body
    );
    assert_eq!(failed.headers[header::CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(failed.headers[header::X_FRAME_OPTIONS], "DENY");
    assert_eq!(failed.headers[header::CACHE_CONTROL], "no-store");
    assert!(failed.headers[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let res = app
        .clone()
        .oneshot(
            Request::get("/auth/callback?code=x")
                .header(header::ACCEPT, "text/html")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let err = res.extensions().get::<tower_oidc::AuthError>().unwrap();
    assert_eq!(err.kind(), AuthErrorKind::MissingState);

    // A cross-site logout: the hook's confirmation form, with the layer's headers.
    let confirm = Jar::default()
        .send(
            &app,
            Request::get("/auth/logout").header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(confirm.status, StatusCode::OK, "{confirm:?}");
    assert!(
        confirm.body.contains("action=\"/auth/logout\""),
        "{}",
        confirm.body
    );
    assert_eq!(confirm.headers[header::CONTENT_SECURITY_POLICY], CSP);
    assert_eq!(confirm.headers[header::X_FRAME_OPTIONS], "DENY");

    // An unknown slug: the hook returns `None`, so the built-in page.
    let unknown = Jar::default().get(&app, "/auth/login/nobody").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.body.contains("Unknown identity provider"),
        "{}",
        unknown.body
    );
}
