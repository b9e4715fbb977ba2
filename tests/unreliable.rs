//! An unreliable identity provider: down at startup, down while users are signed in, slow,
//! answering errors or garbage at each endpoint, and flooded with unknown key ids.
//!
//! The in-process provider of `support` misbehaves per endpoint on demand; the outage tests
//! start and stop a real `oidc-provider` process of their own.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::http::{header, StatusCode};
use serde_json::{json, Value};
use support::real::{sign_in, Browser, RealProvider};
use support::*;
use tower_oidc::{AuthErrorKind, Identity, OidcConfig, OidcLayer};

type Setup = MockApp;

/// An app in front of a fresh mock provider, with a 1 s HTTP timeout.
async fn setup() -> Setup {
    MockApp::start(|b| b.with_http_timeout(Duration::from_secs(1))).await
}

/// A jar holding a session minted for `subject`, as if signed in before the trouble started.
fn signed_in(s: &Setup, subject: &str) -> Jar {
    Jar::signed_in(
        &s.layer,
        &Identity::builder(s.idp.issuer.clone(), subject).build(),
    )
}

/// Strips the claims that make the app ask the userinfo endpoint for them.
fn without_profile(mut claims: Value) -> Value {
    let map = claims.as_object_mut().unwrap();
    map.remove("email");
    map.remove("groups");
    claims
}

/// One login from a fresh jar, up to and including the callback (or the first failing step).
/// The ID token lacks email and groups, so the userinfo endpoint is always used.
async fn attempt_login(s: &Setup) -> (Jar, Reply) {
    let mut jar = Jar::default();
    let first = jar.get(&s.app, "/").await;
    if first.status != StatusCode::FOUND {
        return (jar, first);
    }
    let state = query(first.location())["state"].clone();
    let nonce = query(first.location())["nonce"].clone();
    let token = SigningKey::first().sign(&without_profile(s.idp.claims(&s.clock, &nonce)));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut jar, &s.app, &s.idp, &state).await;
    (jar, reply)
}

fn assert_failed(reply: &Reply, jar: &Jar, status: StatusCode, want: AuthErrorKind, ctx: &str) {
    assert_eq!(reply.status, status, "{ctx}: {reply:?}");
    assert_eq!(reply.kind(), want.as_str(), "{ctx}: {}", reply.body);
    assert!(jar.session().is_none(), "{ctx}: no session may be issued");
    assert!(reply.headers.get(header::LOCATION).is_none(), "{ctx}");
    let cache = reply.headers.get(header::CACHE_CONTROL).unwrap();
    assert_eq!(cache, "no-store", "{ctx}");
    if status == StatusCode::SERVICE_UNAVAILABLE {
        assert!(reply.body.contains("unreachable"), "{ctx}: {}", reply.body);
        assert_eq!(reply.headers[header::RETRY_AFTER], "10", "{ctx}");
    }
}

/// The login succeeds end to end and the session works.
async fn assert_login_works(s: &Setup, ctx: &str) {
    s.idp.with(|st| {
        st.userinfo = json!({"sub": "user-1", "email": "jane@example.com",
                              "email_verified": true, "groups": ["readers"]})
    });
    let (mut jar, reply) = attempt_login(s).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{ctx}: {reply:?}");
    assert_eq!(reply.location(), "/", "{ctx}");
    let me = jar.get(&s.app, "/me").await;
    assert_eq!(me.status, StatusCode::OK, "{ctx}: {me:?}");
    assert_eq!(me.json()["email"], "jane@example.com", "{ctx}");
}

/// Which hit counters must stay at zero once `failing` failed: the later steps of the login.
fn later(failing: Endpoint) -> &'static [Endpoint] {
    match failing {
        Endpoint::Discovery => &[Endpoint::Jwks, Endpoint::Token, Endpoint::Userinfo],
        Endpoint::Token => &[Endpoint::Jwks, Endpoint::Userinfo],
        Endpoint::Jwks => &[Endpoint::Userinfo],
        Endpoint::Userinfo | Endpoint::Introspection => &[],
    }
}

fn hits(idp: &MockIdp, e: Endpoint) -> u64 {
    e.count(&idp.hits)
}

#[tokio::test]
async fn errors_and_garbage_at_each_endpoint_are_clear_pages_and_the_next_login_recovers() {
    let faults = [
        (
            Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
            StatusCode::BAD_GATEWAY,
            AuthErrorKind::BadProviderResponse,
        ),
        (
            Fault::Status(StatusCode::NOT_FOUND),
            StatusCode::BAD_GATEWAY,
            AuthErrorKind::BadProviderResponse,
        ),
        (
            Fault::Garbage,
            StatusCode::BAD_GATEWAY,
            AuthErrorKind::BadProviderResponse,
        ),
        // A provider (or its proxy) that says it is down for now is treated like one that
        // cannot be reached: 503 with Retry-After.
        (
            Fault::Status(StatusCode::SERVICE_UNAVAILABLE),
            StatusCode::SERVICE_UNAVAILABLE,
            AuthErrorKind::ProviderUnreachable,
        ),
        (
            Fault::Status(StatusCode::BAD_GATEWAY),
            StatusCode::SERVICE_UNAVAILABLE,
            AuthErrorKind::ProviderUnreachable,
        ),
    ];
    for endpoint in Endpoint::ALL {
        for (fault, status, want) in &faults {
            // The token endpoint's 4xx is an OAuth refusal of the code, tested with the attacks.
            if endpoint == Endpoint::Token && *fault == Fault::Status(StatusCode::NOT_FOUND) {
                continue;
            }
            let ctx = format!("{fault:?} at {endpoint:?}");
            let s = setup().await;
            s.idp.with(|st| st.faults.insert(endpoint, fault.clone()));
            let (jar, reply) = attempt_login(&s).await;
            assert_failed(&reply, &jar, *status, *want, &ctx);
            assert_eq!(hits(&s.idp, endpoint), 1, "{ctx}: asked once");
            for e in later(endpoint) {
                assert_eq!(hits(&s.idp, *e), 0, "{ctx}: {e:?} must not be asked");
            }
            // The provider heals; past the discovery retry pause the same app signs users in.
            s.idp.with(|st| st.faults.clear());
            s.clock.advance(Duration::from_secs(3));
            assert_login_works(&s, &ctx).await;
        }
    }
}

#[tokio::test]
async fn a_slow_provider_times_out_and_holds_up_no_signed_in_user() {
    for endpoint in Endpoint::ALL {
        for fault in [Fault::Delay(Duration::from_secs(120)), Fault::StallBody] {
            let ctx = format!("{fault:?} at {endpoint:?}");
            let s = setup().await;
            let mut user = signed_in(&s, "already-in");
            s.idp.with(|st| st.faults.insert(endpoint, fault.clone()));

            let started = Instant::now();
            let login = {
                let s = s.clone();
                tokio::spawn(async move { attempt_login(&s).await })
            };
            // While the login waits on the provider, a signed-in user is served at once.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let page = tokio::time::timeout(Duration::from_millis(500), user.get(&s.app, "/"))
                .await
                .unwrap_or_else(|_| panic!("{ctx}: a signed-in request waited on the provider"));
            assert_eq!(page.status, StatusCode::OK, "{ctx}");
            assert_eq!(page.body, "already-in", "{ctx}");

            // The login gives up after the 1 s HTTP timeout, with the 503 page; never hangs.
            let (jar, reply) = tokio::time::timeout(Duration::from_secs(10), login)
                .await
                .unwrap_or_else(|_| panic!("{ctx}: the login hung"))
                .unwrap();
            let waited = started.elapsed();
            assert!(waited >= Duration::from_millis(900), "{ctx}: {waited:?}");
            assert_failed(
                &reply,
                &jar,
                StatusCode::SERVICE_UNAVAILABLE,
                AuthErrorKind::ProviderUnreachable,
                &ctx,
            );
            assert!(reply.body.contains("timed out"), "{ctx}: {}", reply.body);
        }
    }
}

#[tokio::test]
async fn concurrent_logins_during_a_slow_discovery_all_end_within_the_timeout() {
    let s = Arc::new(setup().await);
    s.idp.with(|st| {
        st.faults
            .insert(Endpoint::Discovery, Fault::Delay(Duration::from_secs(120)))
    });
    let started = Instant::now();
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let app = s.app.clone();
            tokio::spawn(async move { Jar::default().get(&app, "/").await })
        })
        .collect();
    for login in logins {
        let reply = tokio::time::timeout(Duration::from_secs(10), login)
            .await
            .expect("a login hung")
            .unwrap();
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(reply.set_cookies().is_empty());
    }
    // Single flight: one discovery request; the logins that queued behind it fail fast on
    // the recorded failure instead of each waiting out its own timeout.
    assert_eq!(s.idp.hits.discovery(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn random_kid_floods_fetch_the_jwks_at_most_once_per_cooldown() {
    let s = Arc::new(setup().await);
    assert_login_works(&s, "warm-up").await;
    assert_eq!(s.idp.hits.jwks(), 1);
    for round in 1..=3u64 {
        // Past the refetch floor, 16 concurrent logins each with a token naming a new kid.
        s.clock.advance(Duration::from_secs(31));
        let logins: Vec<_> = (0..16)
            .map(|i| {
                let s = s.clone();
                tokio::spawn(async move {
                    let mut jar = Jar::default();
                    let mut key = SigningKey::first();
                    key.kid = Some(format!("random-{round}-{i}"));
                    login_with(&mut jar, &s.app, &s.idp, &key, |c| c, &s.clock).await
                })
            })
            .collect();
        for login in logins {
            let reply = login.await.unwrap();
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
        }
        assert_eq!(s.idp.hits.jwks(), 1 + round, "one fetch in round {round}");
        assert_eq!(s.layer.jwks_fetches(), 1 + round);
    }
    // The known key still works throughout.
    assert_login_works(&s, "after the floods").await;
    assert_eq!(s.idp.hits.jwks(), 4, "a known kid needs no fetch");
}

#[tokio::test]
async fn real_provider_down_at_startup_then_up_then_down_again() {
    let e = support::real::env();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let issuer = format!("http://127.0.0.1:{port}");
    // The app starts although nothing answers at the issuer.
    let config = OidcConfig::builder()
        .with_issuer(issuer.clone())
        .with_client_id(e.client_id.clone())
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("AwBfYkhz8O2en9NF5OtahnoGNuoCRwN9cm6Zgb0pZ6s=")
        .with_http_timeout(Duration::from_secs(2))
        .build()
        .expect("configuration needs no provider");
    let app = app(OidcLayer::new(config));

    let reply = Jar::default().get(&app, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert!(
        reply.body.contains("The identity provider is unreachable"),
        "{}",
        reply.body
    );
    assert_eq!(reply.headers[header::RETRY_AFTER], "10");
    assert!(reply.set_cookies().is_empty());

    // The provider comes up; the same app recovers unaided (after its 2 s retry pause).
    let provider = RealProvider::start(port);
    let up = Instant::now();
    let mut jar = Jar::default();
    loop {
        let reply = jar.get(&app, "/").await;
        if reply.status == StatusCode::FOUND {
            assert!(reply.location().starts_with(&issuer), "{reply:?}");
            break;
        }
        assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
        assert!(
            up.elapsed() < Duration::from_secs(10),
            "no recovery after 10 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let browser = Browser::new(&issuer);
    let mut alice = Jar::default();
    let reply = sign_in(&mut alice, &app, &browser, "/reports?id=3", "alice").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/reports?id=3");
    // Bob starts a login just before the provider goes down again.
    let mut bob = Jar::default();
    let bob_start = bob.get(&app, "/").await;
    assert_eq!(bob_start.status, StatusCode::FOUND);
    let bob_state = query(bob_start.location())["state"].clone();

    provider.stop();

    // Signed-in users keep working: the session needs no provider.
    for _ in 0..3 {
        let me = alice.get(&app, "/me").await;
        assert_eq!(me.status, StatusCode::OK, "{me:?}");
        assert_eq!(me.json()["subject"], "alice");
    }
    // Bob's callback cannot redeem its code: the 503 page, no session, his login can restart.
    let q = serde_urlencoded::to_string([
        ("code", "any"),
        ("state", bob_state.as_str()),
        ("iss", issuer.as_str()),
    ])
    .unwrap();
    let reply = bob.get(&app, &format!("/auth/callback?{q}")).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE, "{reply:?}");
    assert_eq!(reply.kind(), "provider_unreachable");
    assert!(bob.session().is_none());
    assert!(reply.body.contains("href=\"/auth/login"), "{}", reply.body);
}
