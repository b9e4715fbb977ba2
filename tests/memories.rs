//! The in-process memories (the replay guard, the session cache, the ended sessions): shared by
//! every layer built from one configuration, and failing closed when full. Through the layer,
//! with the in-process provider.

mod support;

use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::Router;
use support::*;
use tower_oidc::{AuthErrorKind, Identity, OidcConfigBuilder, OidcLayer};

const SECOND: Duration = Duration::from_secs(1);

struct Setup {
    idp: MockIdp,
    clock: Arc<TestClock>,
    layer: OidcLayer,
    app: Router,
}

async fn setup(configure: impl FnOnce(OidcConfigBuilder) -> OidcConfigBuilder) -> Setup {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(configure(idp.config(&clock)).build().unwrap());
    let app = app(layer.clone());
    Setup {
        idp,
        clock,
        layer,
        app,
    }
}

/// A login's callback, as a copied URL and login cookie would let someone send it again.
struct Callback {
    /// The jar just before the callback, holding the login cookie.
    jar: Jar,
    state: String,
    /// The ID token the provider answered with.
    id_token: String,
}

impl Callback {
    /// Sends this callback again, the provider answering as the first time.
    async fn replay(&mut self, s: &Setup, app: &Router) -> Reply {
        s.idp.with(|m| m.id_token = Some(self.id_token.clone()));
        callback(&mut self.jar, app, &s.idp, &self.state).await
    }
}

/// Starts a login and has the provider answer it; returns the callback and its reply, `jar`
/// updated by it.
async fn login(s: &Setup, app: &Router, jar: &mut Jar) -> (Callback, Reply) {
    let started = start_login(jar, app, "/").await;
    let id_token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|m| m.id_token = Some(id_token.clone()));
    let before = jar.clone();
    let reply = callback(jar, app, &s.idp, &started.state).await;
    let sent = Callback {
        jar: before,
        state: started.state,
        id_token,
    };
    (sent, reply)
}

fn assert_signed_in(reply: &Reply, jar: &Jar) {
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/");
    assert!(jar.session().is_some());
}

fn assert_replay_refused(reply: &Reply, jar: &Jar, why: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{reply:?}");
    assert_eq!(reply.kind(), AuthErrorKind::LoginExpired.as_str());
    assert!(reply.body.contains(why), "{}", reply.body);
    assert!(jar.session().is_none(), "no session may be issued");
}

#[tokio::test]
async fn layers_built_from_one_configuration_refuse_a_callback_replayed_to_another() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let config = idp.config(&clock).build().unwrap();
    let first = OidcLayer::new(config.clone());
    let second = OidcLayer::new(config);
    let s = Setup {
        idp,
        clock,
        layer: first.clone(),
        app: app(first),
    };
    let mut jar = Jar::default();
    let (mut sent, reply) = login(&s, &s.app, &mut jar).await;
    assert_signed_in(&reply, &jar);
    // The same callback, login cookie and all, to the other layer (another router of the app).
    let tokens = s.idp.hits.token();
    let replayed = sent.replay(&s, &app(second)).await;
    assert_replay_refused(&replayed, &sent.jar, "already used");
    assert_eq!(s.idp.hits.token(), tokens, "the code is not redeemed again");
}

#[tokio::test]
async fn a_logout_through_one_layer_ends_the_session_in_every_layer_of_its_configuration() {
    let s = setup(|b| b).await;
    let other = app(OidcLayer::new(s.layer.config().clone()));
    let mut jar = Jar::default();
    let (_, reply) = login(&s, &s.app, &mut jar).await;
    assert_signed_in(&reply, &jar);
    let mut copy = jar.clone();
    // Both layers have seen (and cached) the session.
    assert_eq!(copy.get(&s.app, "/").await.body, "user-1");
    assert_eq!(copy.get(&other, "/").await.body, "user-1");
    let out = jar.get(&other, "/auth/logout").await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert!(jar.session().is_none());
    // A copy of the cookie taken before logout is refused by the layer that did not see it.
    let stolen = copy.get(&s.app, "/").await;
    assert_eq!(stolen.status, StatusCode::FOUND, "{stolen:?}");
    assert!(stolen.location().starts_with(&s.idp.issuer), "{stolen:?}");
}

#[tokio::test]
async fn a_full_replay_guard_refuses_callbacks_it_may_have_forgotten() {
    let s = setup(|b| b.with_memory_capacity(4)).await;
    let mut jar = Jar::default();
    let (mut early, reply) = login(&s, &s.app, &mut jar).await;
    assert_signed_in(&reply, &jar);
    // A pending login started at the same time as that one, finished only after the flood.
    let mut pending = Jar::default();
    let started = start_login(&mut pending, &s.app, "/").await;
    // A flood of logins, a second apart: the guard fills up and forgets the oldest.
    for _ in 0..4 {
        s.clock.advance(SECOND);
        let mut jar = Jar::default();
        let (_, reply) = login(&s, &s.app, &mut jar).await;
        assert_signed_in(&reply, &jar);
    }
    s.clock.advance(SECOND);
    // Within the login record's ten minutes: replaying the early callback is still refused,
    // though the guard no longer remembers it.
    let tokens = s.idp.hits.token();
    let replayed = early.replay(&s, &s.app).await;
    assert_replay_refused(&replayed, &early.jar, "Too many sign-ins");
    // So is a login as old as it, replayed or not: it has to be started again.
    let late = callback(&mut pending, &s.app, &s.idp, &started.state).await;
    assert_replay_refused(&late, &pending, "Too many sign-ins");
    assert_eq!(s.idp.hits.token(), tokens, "no code redeemed");
    // A new login works.
    let mut jar = Jar::default();
    let (_, reply) = login(&s, &s.app, &mut jar).await;
    assert_signed_in(&reply, &jar);
}

#[tokio::test]
async fn a_full_list_of_ended_sessions_refuses_every_session_it_may_have_forgotten() {
    let s = setup(|b| b.with_memory_capacity(4)).await;
    let who = Identity::builder(s.idp.issuer.clone(), "user-1").build();
    let mint = || Jar::signed_in(&s.layer, &who);
    // A session whose cookie was copied before logout, and one never ended, used (so cached)
    // at the same time.
    let mut ended = mint();
    let mut stolen = ended.clone();
    let mut kept = mint();
    assert_eq!(kept.get(&s.app, "/").await.status, StatusCode::OK);
    assert_eq!(
        ended.get(&s.app, "/auth/logout").await.status,
        StatusCode::FOUND
    );
    assert_eq!(stolen.get(&s.app, "/").await.status, StatusCode::FOUND);
    // More logouts, a second apart, than the list holds: it forgets the oldest.
    for _ in 0..4 {
        s.clock.advance(SECOND);
        let mut jar = mint();
        assert_eq!(
            jar.get(&s.app, "/auth/logout").await.status,
            StatusCode::FOUND
        );
    }
    s.clock.advance(SECOND);
    // The forgotten revocation still holds, and sessions as old as it are refused (their users
    // sign in again), cached or not.
    for (what, jar) in [
        ("the stolen copy", &mut stolen),
        ("the kept session", &mut kept),
    ] {
        let reply = jar.get(&s.app, "/").await;
        assert_eq!(reply.status, StatusCode::FOUND, "{what}: {reply:?}");
        assert!(reply.location().starts_with(&s.idp.issuer), "{what}");
    }
    // A session newer than the cut-off works.
    let reply = mint().get(&s.app, "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.body, "user-1");
}

#[tokio::test]
async fn a_memory_capacity_of_zero_is_a_startup_error() {
    let idp = MockIdp::start().await;
    let err = idp
        .config(&TestClock::new())
        .with_memory_capacity(0)
        .build()
        .unwrap_err()
        .to_string();
    assert!(err.contains("memory capacity"), "{err}");
}
