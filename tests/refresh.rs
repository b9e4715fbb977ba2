//! Refresh tokens (`OIDC_REFRESH`): a due session is refreshed once, by the request that
//! finds it due; the others are served or wait for it; rotated and kept refresh tokens; the
//! `AccessToken` extractor; a refreshed ID token of another user, issuer or audience, or with
//! a bad signature, ends the session; `invalid_grant` and a malformed answer end it too (and
//! nothing else); an unreachable provider is served for the grace, then 503, then recovers.
//!
//! Against the in-process mock provider (`tests/support`), with the test clock; then against
//! the real `oidc-provider` with short-lived access tokens (memory and Redis stores, two
//! replicas on one Redis), and `examples/access_token.rs` calling userinfo with the token.

mod support;

use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use support::*;
use tower::ServiceExt;
use tower_oidc::{AccessToken, Identity, OidcLayer};

/// The mock's access tokens last 300 s; the refresh is due 60 s before (the default margin).
const DUE: Duration = Duration::from_secs(250);

fn refresh_app(layer: OidcLayer) -> Router {
    Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .route(
            "/token",
            get(|token: AccessToken| async move { token.expose().to_owned() }),
        )
        .route(
            "/me",
            get(|me: Identity| async move {
                axum::Json(json!({"groups": me.groups(), "admin": me.is_admin()}))
            }),
        )
        .route("/public", get(|| async { "public" }))
        .layer(layer)
}

/// A token endpoint answer: this ID token, access token and (perhaps) refresh token.
fn answer(id_token: &str, access: &str, refresh: Option<&str>) -> String {
    let mut v = json!({
        "access_token": access, "token_type": "Bearer", "expires_in": 300, "id_token": id_token,
    });
    if let Some(r) = refresh {
        v["refresh_token"] = json!(r);
    }
    v.to_string()
}

struct Signed {
    m: MockApp,
    app: Router,
}

/// A mock provider and the app with refresh on (memory store), `edit` applied.
async fn start(
    edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
) -> Signed {
    let m = MockApp::start(|b| edit(b.with_session_store("memory").with_refresh(true))).await;
    // The refreshed access tokens open userinfo too.
    m.idp.with(|s| {
        s.introspection = Some(
            ["access-token-2", "access-token-3", "access-token-4"]
                .into_iter()
                .map(|t| (t.to_owned(), json!({"active": false})))
                .collect(),
        )
    });
    let app = refresh_app(m.layer.clone());
    Signed { m, app }
}

impl Signed {
    /// Signs a browser in: the token endpoint answers with refresh token `rt-1`.
    async fn sign_in(&self) -> Jar {
        let mut jar = Jar::default();
        let started = start_login(&mut jar, &self.app, "/").await;
        let token = SigningKey::first().sign(&self.m.idp.claims(&self.m.clock, &started.nonce));
        self.m.idp.with(|s| {
            s.token_body = Some(answer(&token, "access-token-1", Some("rt-1")));
            s.token_status = StatusCode::OK;
        });
        let reply = callback(&mut jar, &self.app, &self.m.idp, &started.state).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
        assert!(jar.session().is_some());
        jar
    }

    /// The refresh's answer: an ID token of `claims` (the login's, fresh, no nonce, edited)
    /// signed by `key`, with these access and refresh tokens.
    fn answer_refresh(
        &self,
        key: &SigningKey,
        edit: impl FnOnce(&mut Value),
        access: &str,
        refresh: Option<&str>,
    ) {
        let mut claims = self.m.idp.claims(&self.m.clock, "");
        claims.as_object_mut().unwrap().remove("nonce");
        edit(&mut claims);
        let token = key.sign(&claims);
        self.m
            .idp
            .with(|s| s.token_body = Some(answer(&token, access, refresh)));
    }

    fn token_hits(&self) -> u64 {
        self.m.idp.hits.token()
    }

    /// The last token request's `grant_type` and `refresh_token`.
    fn last_grant(&self) -> (String, String) {
        self.m.idp.with(|s| {
            let (_, form) = s.token_requests.last().unwrap();
            (
                form["grant_type"].clone(),
                form.get("refresh_token").cloned().unwrap_or_default(),
            )
        })
    }
}

/// An API request (JSON, not a navigation) with the jar's cookies.
async fn api(jar: &mut Jar, app: &Router, path: &str) -> Reply {
    jar.send(
        app,
        Request::get(path).header(header::ACCEPT, "application/json"),
    )
    .await
}

#[tokio::test]
async fn a_due_session_is_refreshed_once_and_rotated_and_kept_refresh_tokens_both_work() {
    let s = start(|b| b).await;
    let mut jar = s.sign_in().await;
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-1");
    assert_eq!(s.token_hits(), 1, "the code exchange");

    // Rotation: the provider answers with a new refresh token.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let r = jar.get(&s.app, "/token").await;
    assert_eq!(
        (r.status, r.body.as_str()),
        (StatusCode::OK, "access-token-2")
    );
    assert_eq!(s.token_hits(), 2, "one refresh");
    assert_eq!(s.last_grant(), ("refresh_token".into(), "rt-1".into()));
    for _ in 0..5 {
        assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-2");
    }
    assert_eq!(s.token_hits(), 2, "no refresh until the next is due");

    // No rotation: the refresh token used stays the one in use.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-3", None);
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-3");
    assert_eq!(s.last_grant().1, "rt-2", "the rotated one");
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-4", None);
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-4");
    assert_eq!(
        s.last_grant().1,
        "rt-2",
        "kept: the provider does not rotate"
    );
    assert_eq!(s.token_hits(), 4, "one token request per expiry");
}

#[tokio::test]
async fn the_fresh_claims_decide_again_at_each_refresh() {
    let s = start(|b| b.with_admin_group("readers")).await;
    let mut jar = s.sign_in().await;
    let me = api(&mut jar, &s.app, "/me").await;
    assert_eq!(me.json()["admin"], true, "{me:?}");
    s.m.clock.advance(DUE);
    s.answer_refresh(
        &SigningKey::first(),
        |c| c["groups"] = json!(["writers"]),
        "access-token-2",
        Some("rt-2"),
    );
    let me = api(&mut jar, &s.app, "/me").await;
    assert_eq!(me.json()["admin"], false, "the group was removed: {me:?}");
    assert_eq!(me.json()["groups"], json!(["writers"]));
}

/// Sends 20 requests with `jar`'s cookies at once; their statuses and bodies.
async fn twenty_at_once(jar: &Jar, app: &Router, path: &str) -> Vec<(StatusCode, String)> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let app = app.clone();
        let req = Request::get(path)
            .header(header::ACCEPT, "application/json")
            .header(header::COOKIE, jar.header())
            .body(axum::body::Body::empty())
            .unwrap();
        set.spawn(async move {
            let reply = read(app.oneshot(req).await.unwrap()).await;
            (reply.status, reply.body)
        });
    }
    let mut all = Vec::new();
    while let Some(r) = set.join_next().await {
        all.push(r.unwrap());
    }
    all
}

#[tokio::test]
async fn twenty_concurrent_requests_when_due_and_at_expiry_cause_one_refresh_each_time() {
    let s = start(|b| b).await;
    let jar = s.sign_in().await;
    s.m.idp.with(|st| {
        st.faults
            .insert(Endpoint::Token, Fault::Delay(Duration::from_millis(300)))
    });

    // Due, the access token still valid: one refreshes, the others are served meanwhile.
    s.m.clock.advance(DUE);
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let all = twenty_at_once(&jar, &s.app, "/token").await;
    assert!(all.iter().all(|(st, _)| *st == StatusCode::OK), "{all:?}");
    assert!(all.iter().any(|(_, b)| b == "access-token-2"), "{all:?}");
    assert_eq!(s.token_hits(), 2, "exactly one refresh");

    // At expiry: every request waits for the one refresh and gets the new token.
    s.m.clock.advance(Duration::from_secs(310));
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-3", Some("rt-3"));
    let all = twenty_at_once(&jar, &s.app, "/token").await;
    assert!(
        all.iter()
            .all(|(st, b)| *st == StatusCode::OK && b == "access-token-3"),
        "{all:?}"
    );
    assert_eq!(s.token_hits(), 3, "exactly one refresh");
}

/// A refreshed ID token edited by `edit`, signed by `key`: refused, the session ended.
async fn refused_refresh(key: SigningKey, edit: impl Fn(&mut Value)) {
    let s = start(|b| b).await;
    for navigation in [true, false] {
        let mut jar = s.sign_in().await;
        s.m.clock.advance(DUE);
        s.answer_refresh(&key, &edit, "access-token-2", Some("rt-2"));
        let first = if navigation {
            jar.get(&s.app, "/").await
        } else {
            api(&mut jar, &s.app, "/").await
        };
        if navigation {
            assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
            assert!(first.body.contains("refreshed ID token"), "{}", first.body);
        } else {
            assert_eq!(first.status, StatusCode::UNAUTHORIZED, "{first:?}");
            assert!(!first.body.contains("refreshed"), "a bare 401 for an API");
        }
        // Ended: never served again, neither here nor from the store.
        let again = jar.get(&s.app, "/").await;
        assert_eq!(again.status, StatusCode::FOUND, "{again:?}");
        assert!(again.location().starts_with(&s.m.idp.issuer), "to login");
        assert_eq!(
            api(&mut jar, &s.app, "/token").await.status,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn rejects_refreshed_id_token_of_another_subject() {
    refused_refresh(SigningKey::first(), |c| c["sub"] = json!("user-2")).await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_of_another_issuer() {
    refused_refresh(SigningKey::first(), |c| {
        c["iss"] = json!("https://evil.example.com")
    })
    .await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_with_a_bad_signature() {
    refused_refresh(SigningKey::second(), |_| {}).await;
}

#[tokio::test]
async fn rejects_refreshed_id_token_whose_audience_lacks_us() {
    refused_refresh(SigningKey::first(), |c| c["aud"] = json!("another-app")).await;
}

#[tokio::test]
async fn invalid_grant_ends_the_session_navigation_signs_in_and_api_gets_401() {
    let s = start(|b| b).await;
    let mut browser = s.sign_in().await;
    let mut script = s.sign_in().await;
    s.m.clock.advance(DUE);
    s.m.idp.with(|st| {
        st.token_status = StatusCode::BAD_REQUEST;
        st.token_body =
            Some(r#"{"error":"invalid_grant","error_description":"grant revoked"}"#.into());
    });
    let nav = browser.get(&s.app, "/").await;
    assert_eq!(nav.status, StatusCode::FOUND, "{nav:?}");
    assert!(nav.location().starts_with(&s.m.idp.issuer), "{nav:?}");
    let call = api(&mut script, &s.app, "/").await;
    assert_eq!(call.status, StatusCode::UNAUTHORIZED, "{call:?}");
    assert_eq!(s.token_hits(), 4, "two sign-ins, one refresh each");
    // Ended in the store: the public path no longer sees them, no second refresh is tried.
    assert_eq!(
        api(&mut script, &s.app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(s.token_hits(), 4);
}

#[tokio::test]
async fn a_malformed_refresh_answer_ends_that_session_with_a_clear_page_and_nothing_else() {
    let s = start(|b| b).await;
    let mut first = s.sign_in().await;
    s.m.clock.advance(Duration::from_secs(100));
    let mut second = s.sign_in().await;
    s.m.clock.advance(Duration::from_secs(150));
    s.m.idp
        .with(|st| st.faults.insert(Endpoint::Token, Fault::Garbage));
    let page = first.get(&s.app, "/").await;
    assert_eq!(page.status, StatusCode::BAD_GATEWAY, "{page:?}");
    assert!(
        page.body.contains("<html") || page.body.contains("<!doctype"),
        "a page"
    );
    assert_eq!(
        first.get(&s.app, "/").await.status,
        StatusCode::FOUND,
        "ended"
    );
    // The other session, not due yet, is untouched.
    let other = second.get(&s.app, "/").await;
    assert_eq!(
        (other.status, other.body.as_str()),
        (StatusCode::OK, "user-1")
    );

    // An API request whose refresh gets garbage: 401.
    s.m.idp.with(|st| st.faults.clear());
    let mut third = s.sign_in().await;
    s.m.idp
        .with(|st| st.faults.insert(Endpoint::Token, Fault::Garbage));
    s.m.clock.advance(DUE);
    assert_eq!(
        api(&mut third, &s.app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn an_unreachable_provider_is_served_for_the_grace_then_503_then_recovers() {
    let s = start(|b| b.with_refresh_grace(Duration::from_secs(120))).await;
    let mut jar = s.sign_in().await;
    s.m.idp.with(|st| {
        st.faults.insert(
            Endpoint::Token,
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
        )
    });
    s.m.clock.advance(DUE);
    assert_eq!(
        jar.get(&s.app, "/").await.status,
        StatusCode::OK,
        "due, still valid"
    );
    // Past the access token's expiry, within the grace: still served.
    s.m.clock.advance(Duration::from_secs(60));
    assert_eq!(
        jar.get(&s.app, "/").await.status,
        StatusCode::OK,
        "in the grace"
    );
    let tried = s.token_hits();
    assert!(tried >= 3, "retried: {tried}");
    // Past the grace: 503, and still the provider's word is asked for.
    s.m.clock.advance(Duration::from_secs(120));
    let down = jar.get(&s.app, "/").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    assert_eq!(
        api(&mut jar, &s.app, "/").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(jar.get(&s.app, "/public").await.status, StatusCode::OK);
    // Back: the next try (5 s later) refreshes.
    s.m.idp.with(|st| st.faults.clear());
    s.m.clock.advance(Duration::from_secs(6));
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    let back = jar.get(&s.app, "/token").await;
    assert_eq!(
        (back.status, back.body.as_str()),
        (StatusCode::OK, "access-token-2")
    );
}

#[tokio::test]
async fn a_server_error_at_refresh_is_an_unreachable_provider_not_the_end_of_the_session() {
    let s = start(|b| b).await;
    let mut jar = s.sign_in().await;
    s.m.idp.with(|st| {
        st.faults.insert(
            Endpoint::Token,
            Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
        )
    });
    s.m.clock.advance(DUE);
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
    s.m.idp.with(|st| st.faults.clear());
    s.m.clock.advance(Duration::from_secs(6));
    s.answer_refresh(&SigningKey::first(), |_| {}, "access-token-2", Some("rt-2"));
    assert_eq!(
        jar.get(&s.app, "/token").await.body,
        "access-token-2",
        "kept, refreshed"
    );
}

#[tokio::test]
async fn the_access_token_extractor_needs_a_session_and_redacts_its_debug() {
    let s = start(|b| b).await;
    let mut anonymous = Jar::default();
    assert_eq!(
        api(&mut anonymous, &s.app, "/token").await.status,
        StatusCode::UNAUTHORIZED
    );
    let mut jar = s.sign_in().await;
    assert_eq!(jar.get(&s.app, "/token").await.body, "access-token-1");
    let probe = Router::new()
        .route(
            "/debug",
            get(|t: AccessToken, me: Identity| async move {
                format!("{t:?} {me:?} {:?}", me.access_token())
            }),
        )
        .layer(s.m.layer.clone());
    let shown = jar.get(&probe, "/debug").await.body;
    assert!(!shown.contains("access-token-1"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

// --- against the real oidc-provider --------------------------------------------------------
//
// A provider of each test's own (tests/oidc-provider/server.mjs): access tokens of 4 s (so the
// refresh is due after 2 s: half their life, the default margin being longer), rotated refresh
// tokens, and its test routes (hit counts, a user's groups, a disabled account, an outage).

mod real {
    use super::*;
    use support::real::{env, sign_in, Browser, RealProvider};
    use tower_oidc::OidcConfig;

    /// The wait until a refresh is due again (half of the 4 s access token, and some).
    pub(super) const DUE: Duration = Duration::from_millis(2_300);

    pub(super) struct Real {
        pub(super) idp: RealProvider,
        http: reqwest::Client,
    }

    impl Real {
        pub(super) fn start() -> Self {
            Self::start_with(&[])
        }

        /// The provider with `extra` settings of server.mjs as well.
        pub(super) fn start_with(extra: &[(&str, &str)]) -> Self {
            let mut env = vec![
                ("ACCESS_TOKEN_TTL", "4"),
                ("REFRESH_ROTATION", "on"),
                ("TEST_CONTROL", "on"),
            ];
            env.extend_from_slice(extra);
            let idp = RealProvider::start_with(0, &env);
            Self {
                idp,
                http: reqwest::Client::new(),
            }
        }

        /// The provider's count of `what` (`refresh`, `revocation`).
        pub(super) async fn hits(&self, what: &str) -> u64 {
            let url = format!("{}/_test/hits", self.idp.issuer());
            let body = self
                .http
                .get(url)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let hits: Value = serde_json::from_str(&body).unwrap();
            hits[what].as_u64().unwrap()
        }

        /// One of the provider's test routes, `/_test/{path}`.
        pub(super) async fn control(&self, path: &str) {
            let url = format!("{}/_test/{path}", self.idp.issuer());
            let res = self.http.get(url).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{path}");
        }

        /// The app with refresh on, `store` its session store.
        pub(super) fn app(&self, store: &str) -> Router {
            self.app_with(store, |b| b)
        }

        /// The app with refresh on, `store` its session store, `edit` applied.
        pub(super) fn app_with(
            &self,
            store: &str,
            edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
        ) -> Router {
            let e = env();
            let config = OidcConfig::builder()
                .with_issuer(self.idp.issuer())
                .with_client_id(e.client_id)
                .with_client_secret(e.secret)
                .with_scope("openid profile email groups")
                .with_base_url(BASE_URL)
                .with_cookie_key("SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=")
                .with_session_store(store)
                .with_refresh(true)
                .with_refresh_grace(Duration::from_secs(3))
                .with_admin_group("admins")
                .add_public_path("/public");
            refresh_app(OidcLayer::new(edit(config).build().unwrap()))
        }

        /// A browser signed in at `app` as `user`.
        pub(super) async fn sign_in(&self, app: &Router, user: &str) -> Jar {
            let mut jar = Jar::default();
            let browser = Browser::new(&self.idp.issuer());
            let back = sign_in(&mut jar, app, &browser, "/", user).await;
            assert_eq!(back.status, StatusCode::FOUND, "{back:?}");
            assert!(jar.session().is_some());
            jar
        }
    }
}

/// The session keeps working across several expiries with one refresh each, the removed
/// group takes the admin flag away, and the logout revokes the refresh token.
async fn follows_the_provider(store: &str) {
    let p = real::Real::start();
    let app = p.app(store);
    let mut jar = p.sign_in(&app, "alice").await;
    assert_eq!(api(&mut jar, &app, "/me").await.json()["admin"], true);
    assert_eq!(p.hits("refresh").await, 0);
    let mut tokens = vec![jar.get(&app, "/token").await.body];
    for round in 1..=3 {
        tokio::time::sleep(real::DUE).await;
        for _ in 0..5 {
            let r = jar.get(&app, "/token").await;
            assert_eq!(r.status, StatusCode::OK, "{r:?}");
            tokens.push(r.body);
        }
        assert_eq!(p.hits("refresh").await, round, "one refresh per expiry");
    }
    tokens.dedup();
    assert_eq!(tokens.len(), 4, "a new access token at each refresh");

    p.control("groups?user=alice&groups=readers").await;
    tokio::time::sleep(real::DUE).await;
    let me = api(&mut jar, &app, "/me").await;
    assert_eq!(me.json()["admin"], false, "the group was removed: {me:?}");
    assert_eq!(me.json()["groups"], json!(["readers"]));

    assert_eq!(p.hits("revocation").await, 0);
    let out = jar.get(&app, "/auth/logout").await;
    assert_eq!(out.status, StatusCode::FOUND, "{out:?}");
    assert_eq!(p.hits("revocation").await, 1, "the refresh token revoked");
    assert_eq!(
        api(&mut jar, &app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn real_provider_memory_store_refreshes_once_per_expiry_follows_groups_and_revokes() {
    follows_the_provider("memory").await;
}

#[tokio::test]
async fn real_provider_redis_store_refreshes_once_per_expiry_follows_groups_and_revokes() {
    follows_the_provider(&redis_url()).await;
}

fn redis_url() -> String {
    std::env::var("TOWER_OIDC_TEST_REDIS_URL").unwrap_or_else(|_| {
        panic!("TOWER_OIDC_TEST_REDIS_URL is not set: run the tests through scripts/test.sh, which starts Redis")
    })
}

#[tokio::test]
async fn real_provider_two_replicas_with_one_redis_refresh_once() {
    let p = real::Real::start();
    let (a, b) = (p.app(&redis_url()), p.app(&redis_url()));
    let jar = p.sign_in(&a, "bob").await;
    let mut warm = jar.clone();
    assert_eq!(warm.get(&a, "/").await.status, StatusCode::OK);
    tokio::time::sleep(real::DUE).await;
    let (at_a, at_b) = tokio::join!(
        twenty_at_once(&jar, &a, "/token"),
        twenty_at_once(&jar, &b, "/token")
    );
    for (status, body) in at_a.iter().chain(&at_b) {
        assert_eq!(*status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        p.hits("refresh").await,
        1,
        "exactly one refresh for both replicas"
    );
    // Both now hold the one new token.
    let mut jar = jar;
    let (ta, tb) = (
        jar.get(&a, "/token").await.body,
        jar.get(&b, "/token").await.body,
    );
    assert_eq!(ta, tb);
}

#[tokio::test]
async fn real_provider_a_disabled_user_loses_the_session_at_the_next_refresh() {
    let p = real::Real::start();
    let app = p.app("memory");
    let mut browser = p.sign_in(&app, "bob").await;
    let mut script = p.sign_in(&app, "bob").await;
    assert_eq!(browser.get(&app, "/").await.status, StatusCode::OK);
    p.control("disable?user=bob").await;
    tokio::time::sleep(real::DUE).await;
    let nav = browser.get(&app, "/").await;
    assert_eq!(nav.status, StatusCode::FOUND, "{nav:?}");
    assert!(
        nav.location().starts_with(&p.idp.issuer()),
        "to login: {nav:?}"
    );
    assert_eq!(
        api(&mut script, &app, "/").await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        p.hits("refresh").await,
        2,
        "one refused refresh per session"
    );
}

#[tokio::test]
async fn real_provider_a_grant_revoked_at_the_provider_ends_the_session_at_the_next_refresh() {
    let p = real::Real::start();
    let app = p.app("memory");
    let mut browser = p.sign_in(&app, "bob").await;
    let mut other = p.sign_in(&app, "alice").await;
    let token = browser.get(&app, "/token").await;
    assert_eq!(token.status, StatusCode::OK, "{token:?}");
    p.control(&format!("revoke-grant?token={}", token.body))
        .await;
    tokio::time::sleep(real::DUE).await;
    let nav = browser.get(&app, "/").await;
    assert_eq!(nav.status, StatusCode::FOUND, "{nav:?}");
    assert!(
        nav.location().starts_with(&p.idp.issuer()),
        "to login: {nav:?}"
    );
    assert_eq!(
        other.get(&app, "/").await.status,
        StatusCode::OK,
        "another user's grant stands"
    );
    assert_eq!(p.hits("refresh").await, 2, "one refresh per session");
}

#[tokio::test]
async fn real_provider_down_during_refresh_grace_then_503_then_recovery() {
    let p = real::Real::start();
    let app = p.app("memory");
    let mut jar = p.sign_in(&app, "alice").await;
    let signed_in = std::time::Instant::now();
    p.control("outage?on=1").await;
    tokio::time::sleep(real::DUE).await;
    assert_eq!(
        jar.get(&app, "/").await.status,
        StatusCode::OK,
        "due, token valid"
    );
    // The access token (4 s) plus the grace (3 s) are over.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(signed_in.elapsed())).await;
    let down = jar.get(&app, "/").await;
    assert_eq!(down.status, StatusCode::SERVICE_UNAVAILABLE, "{down:?}");
    p.control("outage?on=0").await;
    let back = jar.get(&app, "/").await;
    assert_eq!(back.status, StatusCode::OK, "recovered: {back:?}");
    assert_eq!(p.hits("refresh").await, 1, "the refresh once it was back");
}

/// `examples/access_token.rs`: its handler calls the real provider's userinfo with the
/// session's access token, before and after the token was refreshed.
#[tokio::test]
async fn the_access_token_example_calls_userinfo_with_a_current_token() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let idp = support::real::RealProvider::start_with(
        0,
        &[
            ("ACCESS_TOKEN_TTL", "4"),
            ("TEST_CONTROL", "on"),
            ("APP_ORIGINS", base.as_str()),
        ],
    );
    let e = support::real::env();
    let mut cmd = Command::new(example_binary("access_token"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OIDC_") {
            cmd.env_remove(key);
        }
    }
    /// The example's process, stopped by its PID however the test ends.
    struct Stopped(std::process::Child);
    impl Drop for Stopped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let mut child = cmd
        .env("OIDC_ISSUER_URL", idp.issuer())
        .env("OIDC_CLIENT_ID", &e.client_id)
        .env("OIDC_CLIENT_SECRET", &e.secret)
        .env("OIDC_SCOPE", "openid profile email")
        .env("OIDC_SESSION_STORE", "memory")
        .env("OIDC_REFRESH", "true")
        .env(
            "OIDC_COOKIE_KEY",
            "SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=",
        )
        .env("BASE_URL", &base)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map(Stopped)
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.0.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening"), "the example said `{line}`");

    let browser = support::real::Browser::new(&idp.issuer());
    let http = &browser.http;
    let start = http
        .get(format!("{base}/api/userinfo"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let to_idp = start.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let (back, _) = browser.authorize_back_to(&to_idp, "alice", &base).await;
    let done = http.get(&back).send().await.unwrap();
    assert_eq!(done.status(), StatusCode::FOUND, "the callback signs in");
    let userinfo = || async {
        let res = http
            .get(format!("{base}/api/userinfo"))
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body: Value = serde_json::from_str(&res.text().await.unwrap()).unwrap_or_default();
        (status, body)
    };
    let (status, info) = userinfo().await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["sub"], "alice");
    assert_eq!(info["email"], "alice@example.com");
    // Past the first access token's expiry: the handler got the refreshed one.
    tokio::time::sleep(Duration::from_millis(4_500)).await;
    let (status, info) = userinfo().await;
    assert_eq!(
        (status, info["sub"].as_str()),
        (StatusCode::OK, Some("alice"))
    );
    let hits = reqwest::Client::new()
        .get(format!("{}/_test/hits", idp.issuer()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hits: Value = serde_json::from_str(&hits).unwrap();
    assert!(hits["refresh"].as_u64().unwrap() >= 1, "{hits}");
}

#[tokio::test]
async fn real_provider_dpop_bound_tokens_refresh_and_stay_bound() {
    // The provider asks for a DPoP nonce at the token endpoint and at userinfo.
    let p = real::Real::start_with(&[("DPOP_NONCE", "on")]);
    let app = p.app_with("memory", |b| b.dpop(true));
    let mut jar = p.sign_in(&app, "alice").await;
    assert_eq!(api(&mut jar, &app, "/me").await.json()["admin"], true);
    let userinfo = format!("{}/me", p.idp.issuer());
    let http = reqwest::Client::new();
    let as_bearer = |token: String| {
        let request = http.get(&userinfo).bearer_auth(token);
        async move { request.send().await.unwrap().status() }
    };
    let first = jar.get(&app, "/token").await.body;
    assert_eq!(as_bearer(first.clone()).await, StatusCode::UNAUTHORIZED);

    // The refresh (with a proof, its nonce retried) gives a new token, bound too; the
    // refreshed claims come through userinfo with a proof.
    p.control("groups?user=alice&groups=readers").await;
    tokio::time::sleep(real::DUE).await;
    let me = api(&mut jar, &app, "/me").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json()["admin"], false, "the group was removed: {me:?}");
    assert_eq!(p.hits("refresh").await, 1);
    let second = jar.get(&app, "/token").await.body;
    assert_ne!(first, second, "a new access token");
    assert_eq!(as_bearer(second).await, StatusCode::UNAUTHORIZED);
    tokio::time::sleep(real::DUE).await;
    assert_eq!(jar.get(&app, "/token").await.status, StatusCode::OK);
    assert_eq!(p.hits("refresh").await, 2, "and the next refresh too");
}
