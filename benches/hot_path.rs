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

/// A provider that serves discovery, so the redirect has metadata to use, and `jwks`.
fn discovery_server(rt: &tokio::runtime::Runtime, jwks: serde_json::Value) -> String {
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
        let app = axum::Router::new()
            .route(
                "/.well-known/openid-configuration",
                axum::routing::get(move || async move { axum::Json(doc) }),
            )
            .route(
                "/jwks",
                axum::routing::get(move || async move { axum::Json(jwks) }),
            );
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        issuer
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = discovery_server(&rt, serde_json::json!({"keys": []}));
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
    let identity = Identity::builder(issuer.clone(), "248289761001")
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
    // The same hot path with a server-side store: the session was loaded once (off the hot
    // path), then every request is one cache lookup, no I/O. The memory store always; Redis
    // when TOWER_OIDC_TEST_REDIS_URL names one (scripts/test.sh starts it).
    let mut stores = vec![("memory_store", "memory".to_owned())];
    match std::env::var("TOWER_OIDC_TEST_REDIS_URL") {
        Ok(url) if cfg!(feature = "redis") => stores.push(("redis_store", url)),
        _ => {}
    }
    for (name, store) in stores {
        // Built inside the runtime: the Redis store watches its feed from there.
        let _entered = rt.enter();
        let stored = OidcLayer::new(
            OidcConfig::builder()
                .with_issuer(issuer.clone())
                .with_client_id("bench")
                .with_client_secret("bench-secret")
                .with_base_url("https://app.example.com")
                .with_cookie_key("L9eEm4S/PxayXYq9k6bJphFbxMsl1/T8xrf3R5eUrVE=")
                .with_session_store(store)
                .build()
                .unwrap(),
        );
        let cookie = format!(
            "theme=dark; {}; _ga=GA1.2.3",
            rt.block_on(stored.stored_session_cookie(&identity))
        );
        let request = || {
            Request::get("/reports?id=7")
                .header(header::ACCEPT, "text/html")
                .header(header::COOKIE, cookie.as_str())
                .body(Empty::new())
                .unwrap()
        };
        let mut stored = stored.layer(Inner);
        let first = rt.block_on(stored.clone().oneshot(request())).unwrap();
        assert_eq!(first.status(), StatusCode::OK, "loaded from the {name}");
        group.bench_function(format!("authenticated_through_layer_{name}"), |b| {
            b.iter(|| black_box(poll_once(stored.call(black_box(request()))).unwrap()))
        });
    }
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

/// Bearer tokens: a repeated token (found in the cache of verified tokens) against the bare
/// inner service, and a first-seen token, RS256 and ES256, verified in full (keys already
/// cached, so no I/O: header, signature, claims, policy). The first-seen tokens are never
/// cached: the layer's memories hold one token per shard, filled beforehand with others.
fn bearer(c: &mut Criterion) {
    use aws_lc_rs::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use jsonwebtoken::{Algorithm, EncodingKey, Header};

    const API: &str = "https://api.example.com";
    let rsa = EncodingKey::from_rsa_pem(include_bytes!("../tests/fixtures/rsa1.pem")).unwrap();
    let rng = aws_lc_rs::rand::SystemRandom::new();
    let ec_der = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ec = EncodingKey::from_ec_der(ec_der.as_ref());
    let jwk = |key: &EncodingKey, alg: Algorithm, kid: &str| {
        let mut jwk =
            serde_json::to_value(jsonwebtoken::jwk::Jwk::from_encoding_key(key, alg).unwrap())
                .unwrap();
        jwk["kid"] = serde_json::json!(kid);
        jwk["use"] = serde_json::json!("sig");
        jwk
    };
    let rsa_jwk = jwk(&rsa, Algorithm::RS256, "rsa");
    let keys = serde_json::json!({"keys": [rsa_jwk.clone(), jwk(&ec, Algorithm::ES256, "ec")]});

    let rt = tokio::runtime::Runtime::new().unwrap();
    let issuer = discovery_server(&rt, keys);
    let layer = OidcLayer::new(
        OidcConfig::builder()
            .with_issuer(issuer.clone())
            .with_client_id("bench")
            .with_client_secret("bench-secret")
            .with_base_url("https://app.example.com")
            .with_cookie_key("L9eEm4S/PxayXYq9k6bJphFbxMsl1/T8xrf3R5eUrVE=")
            .with_api_audience(API)
            .with_memory_capacity(1)
            .build()
            .unwrap(),
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let token = |key: &EncodingKey, alg: Algorithm, kid: &str, jti: usize| {
        let mut h = Header::new(alg);
        h.typ = Some("at+jwt".into());
        h.kid = Some(kid.into());
        let claims = serde_json::json!({
            "iss": issuer, "sub": "248289761001", "aud": API, "exp": now + 3600, "iat": now,
            "client_id": "spa", "scope": "openid reports:read", "jti": format!("t{jti}"),
            "email": "jane.doe@example.com", "email_verified": true, "name": "Jane Doe",
            "groups": ["admins", "readers", "finance-emea"],
        });
        format!("Bearer {}", jsonwebtoken::encode(&h, &claims, key).unwrap())
    };
    let request = |auth: &str| {
        Request::get("/api/reports?id=7")
            .header(header::ACCEPT, "application/json")
            .header(header::AUTHORIZATION, auth)
            .body(Empty::new())
            .unwrap()
    };
    let mut layered = layer.layer(Inner);
    // The keys are fetched once, with real I/O, and the memories filled: one token per shard.
    let fill: Vec<String> = (0..200)
        .map(|i| token(&rsa, Algorithm::RS256, "rsa", 1_000_000 + i))
        .collect();
    for auth in &fill {
        let res = rt.block_on(layered.clone().oneshot(request(auth))).unwrap();
        assert_eq!(res.status(), StatusCode::OK, "the token must be accepted");
    }
    let repeated = fill[0].clone();
    assert_eq!(
        poll_once(layered.call(request(&repeated)))
            .unwrap()
            .status(),
        StatusCode::OK
    );
    let fresh = |key: &EncodingKey, alg: Algorithm, kid: &str| -> Vec<String> {
        (0..64).map(|i| token(key, alg, kid, i)).collect()
    };
    let rs256 = fresh(&rsa, Algorithm::RS256, "rsa");
    let es256 = fresh(&ec, Algorithm::ES256, "ec");
    for auth in [&rs256[0], &es256[0]] {
        let res = poll_once(layered.call(request(auth))).unwrap();
        assert_eq!(res.status(), StatusCode::OK, "a first-seen token must pass");
    }

    // The bare RS256 signature check of one of those tokens, two ways: jsonwebtoken's `decode`
    // (which rebuilds the RSA key from its modulus and exponent each time, and parses the
    // claims), and aws-lc-rs with the key parsed once, as the layer now keeps it.
    let rs_token = rs256[0].trim_start_matches("Bearer ").to_owned();
    let decoding =
        jsonwebtoken::DecodingKey::from_jwk(&serde_json::from_value(rsa_jwk.clone()).unwrap())
            .unwrap();
    let mut validation = jsonwebtoken::Validation::new(Algorithm::RS256);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.required_spec_claims.clear();
    let b64 = |s: &serde_json::Value| {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(s.as_str().unwrap())
            .unwrap()
    };
    let (n, e) = (b64(&rsa_jwk["n"]), b64(&rsa_jwk["e"]));
    let parsed = aws_lc_rs::signature::RsaPublicKeyComponents {
        n: &n[..],
        e: &e[..],
    }
    .to_parsed_public_key(&aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256)
    .unwrap();
    let (signed, signature) = rs_token.rsplit_once('.').unwrap();
    let signature = b64(&serde_json::json!(signature));

    let mut group = c.benchmark_group("bearer");
    group.bench_function("rs256_verify_jsonwebtoken_decode", |b| {
        b.iter(|| {
            jsonwebtoken::decode::<serde_json::Value>(black_box(&rs_token), &decoding, &validation)
                .unwrap()
        })
    });
    group.bench_function("rs256_verify_parsed_key", |b| {
        b.iter(|| {
            parsed
                .verify_sig(black_box(signed.as_bytes()), &signature)
                .unwrap()
        })
    });
    let mut bare = Inner;
    group.bench_function("bare_inner_service", |b| {
        b.iter(|| black_box(poll_once(bare.call(black_box(request(&repeated)))).unwrap()))
    });
    group.bench_function("repeated_token_through_layer", |b| {
        b.iter(|| black_box(poll_once(layered.call(black_box(request(&repeated)))).unwrap()))
    });
    for (name, tokens) in [("first_seen_rs256", &rs256), ("first_seen_es256", &es256)] {
        group.bench_function(name, |b| {
            let mut next = 0;
            b.iter(|| {
                next = (next + 1) % tokens.len();
                let res = poll_once(layered.call(black_box(request(&tokens[next])))).unwrap();
                debug_assert_eq!(res.status(), StatusCode::OK);
                black_box(res)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench, router, bearer);
criterion_main!(benches);
