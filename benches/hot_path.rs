//! The hot path: an authenticated request through the layer versus the bare inner service, and
//! the redirect of an unauthenticated browser to the provider (discovery already cached).
//!
//! Both paths complete without waiting on anything, so each future is polled once with a no-op
//! waker: no runtime overhead is measured.

use std::convert::Infallible;
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion};
use http::{header, Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use tower::{Layer, Service, ServiceExt};
use tower_oidc::{Identity, OidcConfig, OidcLayer};

fn poll_once<F: Future>(f: F) -> F::Output {
    let mut cx = Context::from_waker(Waker::noop());
    match pin!(f).poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the benchmarked path must not wait"),
    }
}

#[derive(Clone)]
struct Inner;

impl Service<Request<Empty<Bytes>>> for Inner {
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }
    fn call(&mut self, req: Request<Empty<Bytes>>) -> Self::Future {
        let status = if req.extensions().get::<Identity>().is_some() {
            StatusCode::OK
        } else {
            StatusCode::NO_CONTENT
        };
        std::future::ready(Ok(Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(b"hello")))
            .unwrap()))
    }
}

/// A provider that serves only discovery, so the redirect has metadata to use.
fn discovery_server(rt: &tokio::runtime::Runtime) -> String {
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let doc = serde_json::json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
            "response_types_supported": ["code"],
        });
        let app = axum::Router::new().route(
            "/.well-known/openid-configuration",
            axum::routing::get(move || async move { axum::Json(doc) }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = discovery_server(&rt);
    let layer = OidcLayer::new(
        OidcConfig::builder()
            .with_issuer(issuer.clone())
            .with_client_id("bench")
            .with_client_secret("bench-secret")
            .with_base_url("https://app.example.com")
            .with_cookie_key("L9eEm4S/PxayXYq9k6bJphFbxMsl1/T8xrf3R5eUrVE=")
            .build()
            .unwrap(),
    );
    let identity = Identity::builder(issuer, "248289761001")
        .email("jane.doe@example.com", true)
        .name("Jane Doe")
        .preferred_username("jane")
        .groups(["admins", "readers", "finance-emea"])
        .build();
    let cookie = format!(
        "theme=dark; {}; _ga=GA1.2.3",
        layer.session_cookie(&identity)
    );
    let request = || {
        Request::get("/reports?id=7")
            .header(header::ACCEPT, "text/html")
            .header(header::COOKIE, cookie.as_str())
            .body(Empty::new())
            .unwrap()
    };

    // Warm the discovery cache through one real redirect.
    let mut layered = layer.layer(Inner);
    let first = rt
        .block_on(
            layered.clone().oneshot(
                Request::get("/")
                    .header(header::ACCEPT, "text/html")
                    .body(Empty::new())
                    .unwrap(),
            ),
        )
        .unwrap();
    assert_eq!(first.status(), StatusCode::FOUND);
    let authed = poll_once(layered.call(request())).unwrap();
    assert_eq!(
        authed.status(),
        StatusCode::OK,
        "the session cookie must be accepted"
    );

    let mut group = c.benchmark_group("hot_path");
    let mut bare = Inner;
    group.bench_function("bare_inner_service", |b| {
        b.iter(|| black_box(poll_once(bare.call(black_box(request()))).unwrap()))
    });
    group.bench_function("authenticated_through_layer", |b| {
        b.iter(|| black_box(poll_once(layered.call(black_box(request()))).unwrap()))
    });
    // A first request of each session: the cookie is not cached yet, so it is decoded,
    // opened and deserialized (50 000 distinct sessions, more than the cache holds).
    group.bench_function("authenticated_first_request", |b| {
        // Built only when this benchmark is selected.
        let cold: Vec<String> = (0..50_000)
            .map(|_| layer.session_cookie(&identity))
            .collect();
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % cold.len();
            let req = Request::get("/reports?id=7")
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, cold[next].as_str())
                .body(Empty::new())
                .unwrap();
            black_box(poll_once(layered.call(black_box(req))).unwrap())
        })
    });
    let anonymous = || {
        Request::get("/reports?id=7")
            .header(header::ACCEPT, "text/html")
            .body(Empty::new())
            .unwrap()
    };
    group.bench_function("bare_inner_service_anonymous", |b| {
        b.iter(|| black_box(poll_once(bare.call(black_box(anonymous()))).unwrap()))
    });
    group.bench_function("unauthenticated_redirect", |b| {
        b.iter(|| {
            let res = poll_once(layered.call(black_box(anonymous()))).unwrap();
            debug_assert_eq!(res.status(), StatusCode::FOUND);
            black_box(res)
        })
    });
    group.finish();
}

/// The case the pinned load test (benches/load.rs) measures, without the sockets: an axum
/// `Router` with one small JSON handler, bare and behind the layer, each request carrying the
/// same `Cookie` header with a signed-in user's session. Behind the layer it is applied the
/// README's way (`Router::layer`, which wraps each route: axum boxes and clones the route
/// service and boxes the response body again) and around the whole router.
fn router(c: &mut Criterion) {
    use axum::response::IntoResponse;
    use axum::Router;

    async fn handler() -> impl IntoResponse {
        (
            [(header::CONTENT_TYPE, "application/json")],
            r#"{"status":"ok","items":[1,2,3]}"#,
        )
    }
    let layer = OidcLayer::new(
        OidcConfig::builder()
            .with_issuer("https://idp.example.com")
            .with_client_id("bench")
            .with_client_secret("bench-secret")
            .with_base_url("http://127.0.0.1:8080")
            .with_cookie_key("lbF2jsRP7MG3rpViUlb1u3LlrVjW0Dp0/HrtI3Cz9Uk=")
            .build()
            .unwrap(),
    );
    let identity = Identity::builder("https://idp.example.com", "user-000001")
        .email("user1@example.com", true)
        .name("User 1")
        .preferred_username("user1")
        .groups(["readers", "staff", "finance-emea"])
        .build();
    let cookie = format!("theme=dark; {}", layer.session_cookie(&identity));
    let request = || {
        Request::get("/api/me")
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, cookie.as_str())
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let app = || Router::new().route("/api/me", axum::routing::get(handler));
    let mut bare = app();
    let mut per_route = app().layer(layer.clone());
    let mut around = layer.layer(app());
    for status in [
        poll_once(bare.call(request())).unwrap().status(),
        poll_once(per_route.call(request())).unwrap().status(),
        poll_once(around.call(request())).unwrap().status(),
    ] {
        assert_eq!(
            status,
            StatusCode::OK,
            "the session cookie must be accepted"
        );
    }

    let mut group = c.benchmark_group("axum_router");
    group.bench_function("bare_router", |b| {
        b.iter(|| black_box(poll_once(bare.call(black_box(request()))).unwrap()))
    });
    group.bench_function("router_layer", |b| {
        b.iter(|| black_box(poll_once(per_route.call(black_box(request()))).unwrap()))
    });
    group.bench_function("layer_around_router", |b| {
        b.iter(|| black_box(poll_once(around.call(black_box(request()))).unwrap()))
    });
    group.finish();
}

criterion_group!(benches, bench, router);
criterion_main!(benches);
