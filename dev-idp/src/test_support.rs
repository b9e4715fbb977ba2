//! Shared fixtures of the unit tests: a provider with a test clock, and helpers to drive its
//! router the way a relying party would.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::sync::Arc;

use aws_lc_rs::digest;
use axum::body::Body;
use axum::Router;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD as B64};
use base64::Engine as _;
use http::{header, HeaderMap, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;
use url::Url;

use crate::{Clock, DevClient, DevIdp, DevUser};

pub(crate) const ISSUER: &str = "http://127.0.0.1:8080/dev-idp";
pub(crate) const CALLBACK: &str = "http://127.0.0.1:8080/auth/callback";
pub(crate) const SECRET: &str = "s3cr3t: with+odd%chars";
pub(crate) const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk-0123456789";

#[derive(Debug)]
pub(crate) struct TestClock(AtomicU64);

impl TestClock {
    pub(crate) fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(self.0.load(Ordering::SeqCst))
    }
}

pub(crate) struct Fixture {
    pub(crate) router: Router,
    pub(crate) clock: Arc<TestClock>,
}

pub(crate) fn fixture() -> Fixture {
    let clock = Arc::new(TestClock(AtomicU64::new(1_700_000_000)));
    let idp = DevIdp::new(ISSUER)
        .with_client(
            DevClient::new("app", SECRET)
                .add_redirect_uri(CALLBACK)
                .add_redirect_uri("http://127.0.0.1:8080/cb?tenant=7")
                .add_post_logout_redirect_uri("http://127.0.0.1:8080/public"),
        )
        .with_client(
            DevClient::new("other", "other-secret").add_redirect_uri("http://127.0.0.1:9090/cb"),
        )
        .with_client(DevClient::public("spa").add_redirect_uri("http://127.0.0.1:8080/spa"))
        .with_default_users()
        .with_user(
            DevUser::new("eve")
                .with_name("<script>alert(1)</script>")
                .add_group("a&b"),
        )
        .with_clock(clock.clone());
    Fixture {
        router: idp.router(),
        clock,
    }
}

pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: String,
}

impl Reply {
    pub(crate) fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.body))
    }

    pub(crate) fn location(&self) -> Url {
        let loc = self
            .headers
            .get(header::LOCATION)
            .expect("a Location header")
            .to_str()
            .unwrap();
        Url::parse(loc).unwrap()
    }

    pub(crate) fn query(&self, name: &str) -> Option<String> {
        self.location()
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

pub(crate) async fn send(router: &Router, req: Request<Body>) -> Reply {
    let res = router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Reply {
        status,
        headers,
        body: String::from_utf8(body.to_vec()).unwrap(),
    }
}

pub(crate) async fn get(router: &Router, path_and_query: &str) -> Reply {
    send(
        router,
        Request::get(path_and_query).body(Body::empty()).unwrap(),
    )
    .await
}

pub(crate) async fn post_form(
    router: &Router,
    path: &str,
    form: &[(&str, &str)],
    auth: Option<&str>,
) -> Reply {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(auth) = auth {
        req = req.header(header::AUTHORIZATION, auth);
    }
    send(
        router,
        req.body(Body::from(serde_urlencoded::to_string(form).unwrap()))
            .unwrap(),
    )
    .await
}

pub(crate) fn challenge(verifier: &str) -> String {
    B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()))
}

pub(crate) fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// A valid authorization request's parameters, with `changes` applied (an empty value
/// removes the parameter).
pub(crate) fn authz(changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let mut params: Vec<(&'static str, String)> = vec![
        ("client_id", "app".into()),
        ("redirect_uri", CALLBACK.into()),
        ("response_type", "code".into()),
        ("scope", "openid profile email".into()),
        ("state", "st-123".into()),
        ("nonce", "n-456".into()),
        ("code_challenge", challenge(VERIFIER)),
        ("code_challenge_method", "S256".into()),
    ];
    for (k, v) in changes {
        params.retain(|(name, _)| name != k);
        if !v.is_empty() {
            params.push((k, (*v).to_owned()));
        }
    }
    params
}

pub(crate) fn query(params: &[(&'static str, String)]) -> String {
    serde_urlencoded::to_string(params).unwrap()
}

pub(crate) async fn choose(
    router: &Router,
    params: &[(&'static str, String)],
    user: &str,
) -> Reply {
    let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    form.push(("user", user));
    post_form(router, "/authorize", &form, None).await
}

/// Signs `user` in and returns the code from the redirect.
pub(crate) async fn code_for(router: &Router, user: &str) -> String {
    let reply = choose(router, &authz(&[]), user).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    reply.query("code").expect("a code")
}

pub(crate) async fn redeem(router: &Router, code: &str, verifier: &str) -> Reply {
    post_form(
        router,
        "/token",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", CALLBACK),
            ("code_verifier", verifier),
        ],
        Some(&basic("app", SECRET)),
    )
    .await
}
