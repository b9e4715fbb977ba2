//! The provider's signing keys over time: rotation to a new `kid` and a fresh key under the same
//! `kid` are followed at the first login that sees them, however recently the keys were
//! fetched for another reason; floods of unknown `kid`s and forged signatures stay bounded by
//! the refetch floor. Each test asserts on the provider's JWKS hit count.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use support::*;
use tower_oidc::AuthErrorKind;

type Setup = MockApp;

async fn setup() -> Setup {
    MockApp::start(|b| b).await
}

/// The default refetch floor, as the docs of `with_jwks_refetch_cooldown` state it.
const FLOOR: Duration = Duration::from_secs(5);

/// A whole login whose ID token is signed by `key`.
async fn login(s: &Setup, key: &SigningKey) -> Reply {
    login_with(&mut Jar::default(), &s.app, &s.idp, key, |c| c, &s.clock).await
}

/// `key`'s signing key, published under another `kid` (or none).
fn with_kid(key: SigningKey, kid: &str) -> SigningKey {
    let mut key = key;
    key.kid = Some(kid.to_owned());
    key.jwk["kid"] = kid.into();
    key
}

/// The second fixture key, published under the first one's `kid`: a provider restarted with a
/// fresh key under an id it reuses.
fn fresh_key_under_key_1() -> SigningKey {
    with_kid(SigningKey::second(), "key-1")
}

fn assert_signed_in(reply: &Reply, ctx: &str) {
    assert_eq!(reply.status, StatusCode::FOUND, "{ctx}: {reply:?}");
    assert_eq!(reply.location(), "/", "{ctx}");
}

fn assert_refused(reply: &Reply, ctx: &str) {
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{ctx}: {reply:?}");
    assert_eq!(
        reply.kind(),
        AuthErrorKind::InvalidIdToken.as_str(),
        "{ctx}: {}",
        reply.body
    );
}

#[tokio::test]
async fn a_new_kid_right_after_the_first_fetch_is_accepted() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    assert_eq!(s.idp.hits.jwks(), 1, "the first fetch");
    // The provider rotates to key-2 and signs with it at once, the same second.
    s.idp.with(|st| st.jwks = vec![SigningKey::second().jwk]);
    assert_signed_in(&login(&s, &SigningKey::second()).await, "new kid");
    assert_eq!(s.idp.hits.jwks(), 2, "one forced refetch");
    assert_eq!(s.layer.jwks_fetches(), 2);
    // The new key is cached from now on.
    assert_signed_in(&login(&s, &SigningKey::second()).await, "again");
    assert_eq!(s.idp.hits.jwks(), 2);
}

#[tokio::test]
async fn a_new_kid_right_after_the_scheduled_refresh_is_accepted() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    // An hour later the cached keys are stale: the next login refreshes them.
    s.clock.advance(Duration::from_secs(3601));
    assert_signed_in(&login(&s, &SigningKey::first()).await, "after the refresh");
    assert_eq!(s.idp.hits.jwks(), 2, "the scheduled refresh");
    // Rotation right after it: the refresh did not start the refetch floor.
    s.idp.with(|st| st.jwks = vec![SigningKey::second().jwk]);
    assert_signed_in(&login(&s, &SigningKey::second()).await, "new kid");
    assert_eq!(s.idp.hits.jwks(), 3);
}

#[tokio::test]
async fn a_fresh_key_under_the_same_kid_is_accepted_after_one_refetch() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    // The provider restarts with a fresh key under the same kid.
    s.idp.with(|st| st.jwks = vec![fresh_key_under_key_1().jwk]);
    assert_signed_in(&login(&s, &fresh_key_under_key_1()).await, "fresh key");
    assert_eq!(
        s.idp.hits.jwks(),
        2,
        "one forced refetch, then a second try"
    );
    // The old key is gone: its tokens fail, without another fetch within the floor.
    assert_refused(&login(&s, &SigningKey::first()).await, "old key");
    assert_eq!(s.idp.hits.jwks(), 2);
    // And it can happen again later (a second restart with yet another key).
    s.clock.advance(FLOOR);
    s.idp.with(|st| st.jwks = vec![SigningKey::first().jwk]);
    assert_signed_in(&login(&s, &SigningKey::first()).await, "second restart");
    assert_eq!(s.idp.hits.jwks(), 3);
}

#[tokio::test]
async fn accepts_rotated_key_after_one_refetch() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    assert_eq!(s.idp.hits.jwks(), 1);
    // The provider rotates to key-2; a while later someone signs in with a key-2 token.
    s.idp.with(|st| st.jwks = vec![SigningKey::second().jwk]);
    s.clock.advance(Duration::from_secs(120));
    assert_signed_in(&login(&s, &SigningKey::second()).await, "new kid");
    assert_eq!(s.idp.hits.jwks(), 2, "exactly one refetch");
    assert_eq!(s.layer.jwks_fetches(), 2);
}

#[tokio::test]
async fn floods_of_unknown_kids_and_forged_signatures_stay_bounded() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    let random = |i: u32| with_kid(SigningKey::first(), &format!("random-kid-{i}"));
    // A flood right after the first fetch: one forced refetch, then the floor holds.
    for i in 0..20 {
        assert_refused(&login(&s, &random(i)).await, "flood");
    }
    assert_eq!(
        s.idp.hits.jwks(),
        2,
        "one forced refetch for 20 unknown kids"
    );
    s.clock.advance(FLOOR - Duration::from_secs(1));
    for i in 20..25 {
        assert_refused(&login(&s, &random(i)).await, "within the floor");
    }
    assert_eq!(s.idp.hits.jwks(), 2, "still within the floor");
    // Past the floor, a kid whose refetch brought nothing new forces no other ...
    s.clock.advance(Duration::from_secs(1));
    assert_refused(&login(&s, &random(0)).await, "the same kid again");
    assert_eq!(s.idp.hits.jwks(), 2, "one forced refetch per unknown kid");
    // ... but a new one does, once per floor.
    assert_refused(&login(&s, &random(100)).await, "a new kid");
    assert_eq!(s.idp.hits.jwks(), 3);
    assert_refused(&login(&s, &random(101)).await, "another, within the floor");
    assert_eq!(s.idp.hits.jwks(), 3);
    // Forged signatures under the real kid: one refetch, then none for that kid.
    let forger = with_kid(SigningKey::second(), "key-1");
    for round in 0..3 {
        s.clock.advance(FLOOR);
        assert_refused(&login(&s, &forger).await, "forged signature");
        assert_eq!(s.idp.hits.jwks(), 4, "round {round}");
    }
    // The known key works throughout, without a fetch.
    assert_signed_in(&login(&s, &SigningKey::first()).await, "after the floods");
    assert_eq!(s.idp.hits.jwks(), 4);
    // A real rotation after the floods is still followed at once.
    s.clock.advance(FLOOR);
    s.idp
        .with(|st| st.jwks = vec![SigningKey::first().jwk, SigningKey::second().jwk]);
    assert_signed_in(&login(&s, &SigningKey::second()).await, "rotation");
    assert_eq!(s.idp.hits.jwks(), 5);
}

#[tokio::test]
async fn the_refetch_floor_is_settable() {
    let s = MockApp::start(|b| b.with_jwks_refetch_cooldown(Duration::from_secs(60))).await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    let stray = with_kid(SigningKey::first(), "stray");
    assert_refused(&login(&s, &stray).await, "unknown kid");
    assert_eq!(s.idp.hits.jwks(), 2);
    // A rotation 30 s after that forced refetch waits for the 60 s floor.
    s.clock.advance(Duration::from_secs(30));
    s.idp.with(|st| st.jwks = vec![SigningKey::second().jwk]);
    assert_refused(&login(&s, &SigningKey::second()).await, "within the floor");
    assert_eq!(s.idp.hits.jwks(), 2);
    s.clock.advance(Duration::from_secs(30));
    assert_signed_in(&login(&s, &SigningKey::second()).await, "past the floor");
    assert_eq!(s.idp.hits.jwks(), 3);

    let err = s
        .idp
        .config(&s.clock)
        .with_jwks_refetch_cooldown(Duration::from_millis(500))
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("with_jwks_refetch_cooldown"), "{err}");
}

#[tokio::test]
async fn a_failing_forced_refetch_starts_the_floor_too() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    s.idp.with(|st| {
        st.faults.insert(
            Endpoint::Jwks,
            Fault::Status(StatusCode::INTERNAL_SERVER_ERROR),
        );
    });
    let stray = |i: u32| with_kid(SigningKey::first(), &format!("stray-{i}"));
    let reply = login(&s, &stray(0)).await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
    assert_eq!(s.idp.hits.jwks(), 2);
    for i in 1..10 {
        assert_refused(
            &login(&s, &stray(i)).await,
            "the failing provider is spared",
        );
    }
    assert_eq!(s.idp.hits.jwks(), 2);
    // The cached keys still serve the known kid.
    assert_signed_in(&login(&s, &SigningKey::first()).await, "known kid");
}

#[tokio::test]
async fn a_key_withdrawn_by_the_provider_stops_being_trusted() {
    let s = setup().await;
    assert_signed_in(&login(&s, &SigningKey::first()).await, "first login");
    assert_eq!(s.idp.hits.jwks(), 1);
    // The provider withdraws key-1; once the cached set is stale it is fetched again.
    s.idp.with(|st| st.jwks = vec![SigningKey::second().jwk]);
    s.clock.advance(Duration::from_secs(2 * 3600));
    assert_refused(&login(&s, &SigningKey::first()).await, "withdrawn key");
    assert_eq!(
        s.idp.hits.jwks(),
        3,
        "the scheduled refresh, then one forced refetch for the missing kid"
    );
}
