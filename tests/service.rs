//! The Service contract: `call` uses the instance `poll_ready` made ready, and `Identity` /
//! `Option<Identity>` extractors behave with and without the layer.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use tower::{Layer, Service, ServiceExt};
use tower_oidc::{Identity, OidcConfig, OidcLayer};

fn layer() -> OidcLayer {
    let config = OidcConfig::builder()
        .with_issuer("https://id.example.com")
        .with_client_id("app")
        .with_client_secret("secret")
        .with_base_url("https://app.example.com")
        .with_cookie_key("m2SYlP-OV2BJWtaxPC8quau61Ad42jD6GNj7W-H_O_4")
        .add_public_path("/public")
        .build()
        .unwrap();
    OidcLayer::new(config)
}

#[tokio::test]
async fn call_uses_the_service_that_was_made_ready() {
    let layer = layer();
    let cookie = layer.session_cookie(&Identity::builder("https://id.example.com", "u1").build());
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, http::Response<Body>>();
    let mut service = layer.layer(mock);
    // The mock panics if `call` reaches an instance on which `poll_ready` was not called,
    // which is what would happen if the layer cloned the inner service before calling it.
    handle.allow(1);
    let ready = service.ready().await.unwrap();
    let request = Request::get("/")
        .header(header::COOKIE, cookie)
        .body(Body::empty())
        .unwrap();
    let response = ready.call(request);
    let (req, send) = handle
        .next_request()
        .await
        .expect("the inner service got the request");
    assert_eq!(
        req.extensions().get::<Identity>().map(Identity::subject),
        Some("u1")
    );
    send.send_response(http::Response::new(Body::from("ok")));
    let res = tokio::time::timeout(Duration::from_secs(5), response)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn poll_ready_delegates_to_the_inner_service() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, http::Response<Body>>();
    let mut service = layer().layer(mock);
    handle.allow(0);
    let mut task = tokio_test_poll(&mut service);
    assert!(!task(), "not ready while the inner service is not");
    handle.allow(1);
    assert!(task(), "ready once the inner service is");
}

fn tokio_test_poll<S: tower::Service<Request<Body>>>(svc: &mut S) -> impl FnMut() -> bool + '_ {
    move || {
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        matches!(svc.poll_ready(&mut cx), std::task::Poll::Ready(Ok(())))
    }
}

#[tokio::test]
async fn identity_extractor_without_the_layer_is_a_500_naming_it() {
    let app: Router = Router::new().route(
        "/",
        get(|me: Identity| async move { me.subject().to_owned() }),
    );
    let res = app
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let body = http_body_util::BodyExt::collect(res.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("OidcLayer"));
}

#[tokio::test]
async fn optional_identity_on_a_public_path() {
    let layer = layer();
    let cookie = layer.session_cookie(&Identity::builder("https://id.example.com", "u2").build());
    let app: Router = Router::new()
        .route(
            "/public",
            get(|me: Option<Identity>| async move {
                me.map_or("anonymous".to_owned(), |m| m.subject().to_owned())
            }),
        )
        .layer(layer);
    let anon = app
        .clone()
        .oneshot(Request::get("/public").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::OK);
    assert!(
        anon.headers().get(header::CACHE_CONTROL).is_none(),
        "public pages stay cacheable"
    );
    let body = http_body_util::BodyExt::collect(anon.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"anonymous");
    let known = app
        .oneshot(
            Request::get("/public")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let body = http_body_util::BodyExt::collect(known.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"u2");
}

#[tokio::test]
async fn cookies_are_host_prefixed_secure_and_lax_on_https() {
    let layer = layer();
    let cookie = layer.session_cookie(&Identity::builder("https://id.example.com", "u3").build());
    assert!(cookie.starts_with("__Host-oidc-session="));
    // A session from another issuer (not configured) is ignored.
    let foreign = layer.session_cookie(&Identity::builder("https://other.example", "u4").build());
    let app: Router = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(layer);
    let res = app
        .oneshot(
            Request::get("/")
                .header(header::COOKIE, foreign)
                .header(header::ACCEPT, "application/json")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}
