//! Cookie-key rotation: with the new key as `OIDC_COOKIE_KEY` and the old one in
//! `OIDC_COOKIE_KEYS_OLD`, sessions and logins in flight sealed with the old key still open,
//! and every new cookie is sealed with the new key.

mod support;

use axum::http::StatusCode;
use support::*;
use tower_oidc::OidcLayer;

/// The key of [`MockIdp::config`], the one in use before the change.
const OLD: &str = "bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=";
const NEW: &str = "io9BCjdYTelF02NCbOlF5ErA+FZA1mSQaF30Cf/2Mq0=";

#[tokio::test]
async fn a_key_change_keeps_users_signed_in() {
    let before = MockApp::start(|b| b).await;
    let (idp, clock) = (&before.idp, &before.clock);
    let mut signed_in = Jar::default();
    let reply = login_with(
        &mut signed_in,
        &before.app,
        idp,
        &SigningKey::first(),
        |c| c,
        clock,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    // Another browser is at the provider while the app restarts.
    let mut pending = Jar::default();
    let started = start_login(&mut pending, &before.app, "/reports").await;

    let with_keys = |current: &str, old: Option<&str>| {
        let mut b = idp.config(clock).with_cookie_key(current);
        if let Some(old) = old {
            b = b.add_old_cookie_key(old);
        }
        app(OidcLayer::new(b.build().unwrap()))
    };
    let rotated = with_keys(NEW, Some(OLD));
    let new_only = with_keys(NEW, None);

    let me = signed_in.clone().get(&rotated, "/").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.body, "user-1");
    // Without the old key, that session is gone.
    let gone = signed_in.clone().get(&new_only, "/").await;
    assert_eq!(gone.status, StatusCode::FOUND, "{gone:?}");

    // The login started under the old key completes under the new one.
    let token = SigningKey::first().sign(&idp.claims(clock, &started.nonce));
    idp.with(|s| s.id_token = Some(token));
    let done = callback(&mut pending, &rotated, idp, &started.state).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/reports");
    // Its session is sealed with the new key: the new key alone opens it, the old one not.
    let me = pending.clone().get(&new_only, "/").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    let old_only = pending.clone().get(&before.app, "/").await;
    assert_eq!(old_only.status, StatusCode::FOUND, "{old_only:?}");
}
