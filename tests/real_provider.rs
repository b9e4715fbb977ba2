//! Integration tests against a real, certified OpenID provider (npm `oidc-provider`), started
//! by `scripts/test.sh`; the key rotation tests start and restart instances of their own. The
//! app runs in-process; the provider is driven over HTTP exactly as a browser would: its login
//! and consent forms, its logout confirmation.

mod support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::http::{header, Request, StatusCode};
use support::real::*;
use support::*;
use tower_oidc::{AuditEvent, AuditKind, OidcConfig, OidcLayer, TokenAuthMethod};

fn layer_for(e: &Env, client_id: &str, method: TokenAuthMethod) -> OidcLayer {
    layer_at(e, &e.issuer, client_id, method)
}

/// The layer for the provider at `issuer` (one of the test's own, or the shared one).
fn layer_at(e: &Env, issuer: &str, client_id: &str, method: TokenAuthMethod) -> OidcLayer {
    let config = OidcConfig::builder()
        .with_issuer(issuer)
        .with_client_id(client_id)
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_post_logout_redirect_uri(e.post_logout.clone())
        .with_token_auth_method(method)
        .with_cookie_key("SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=")
        .add_public_path("/public")
        .build()
        .unwrap();
    OidcLayer::new(config)
}

#[tokio::test]
async fn full_login_sees_the_providers_claims_including_groups() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let browser = Browser::new(&e.issuer);
    let reply = sign_in(&mut jar, &app, &browser, "/", "alice").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/");
    let me = jar.get(&app, "/me").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    let me = me.json();
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["issuer"], e.issuer.as_str());
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["email_verified"], true);
    assert_eq!(me["name"], "Alice Example");
    assert_eq!(me["preferred_username"], "alice");
    assert_eq!(me["groups"], serde_json::json!(["admins", "readers"]));
}

#[tokio::test]
async fn unverified_user_without_groups_is_reported_as_such() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let reply = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "mallory").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let me = jar.get(&app, "/me").await.json();
    assert_eq!(me["subject"], "mallory");
    assert_eq!(me["email_verified"], false);
    assert_eq!(me["groups"], serde_json::json!([]));
}

#[tokio::test]
async fn client_secret_post_client_signs_in() {
    let e = env();
    let app = app(layer_for(
        &e,
        &e.post_client_id,
        TokenAuthMethod::ClientSecretPost,
    ));
    let mut jar = Jar::default();
    let reply = sign_in(&mut jar, &app, &Browser::new(&e.issuer), "/", "bob").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(jar.get(&app, "/").await.body, "bob");
}

#[tokio::test]
async fn deep_link_returns_there_after_login() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let reply = sign_in(
        &mut jar,
        &app,
        &Browser::new(&e.issuer),
        "/reports?id=7",
        "bob",
    )
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/reports?id=7");
    let page = jar.get(&app, "/reports?id=7").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "bob id=7");
}

#[tokio::test]
async fn api_request_without_session_gets_401_and_no_cookie() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let reply = jar
        .send(
            &app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.set_cookies().is_empty());
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    assert_eq!(reply.json()["error"], "unauthenticated");
}

#[tokio::test]
async fn logout_clears_the_session_and_ends_the_provider_session() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let browser = Browser::new(&e.issuer);
    assert_eq!(
        sign_in(&mut jar, &app, &browser, "/", "alice").await.status,
        StatusCode::FOUND
    );
    assert_eq!(jar.get(&app, "/").await.status, StatusCode::OK);

    let out = jar.get(&app, "/auth/logout").await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert!(jar.session().is_none(), "the session cookie is cleared");
    let end = out.location().to_owned();
    assert!(
        end.starts_with(&format!("{}/session/end", e.issuer)),
        "{end}"
    );
    let q: BTreeMap<_, _> = query(&end);
    assert!(q.contains_key("id_token_hint"));
    assert_eq!(q["client_id"], e.client_id);
    assert_eq!(q["post_logout_redirect_uri"], e.post_logout);

    // The provider asks for confirmation, then returns to the post-logout URI.
    let done = browser.end_session(&end).await;
    assert!(done.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .starts_with(&e.post_logout));

    // Locally signed out, and the provider asks for the login form again.
    let again = jar.get(&app, "/").await;
    assert_eq!(again.status, StatusCode::FOUND);
    let at_idp = browser.http.get(again.location()).send().await.unwrap();
    assert!(at_idp.status().is_redirection());
    let interaction = browser.absolute(at_idp.headers()[header::LOCATION].to_str().unwrap());
    let form = browser
        .http
        .get(&interaction)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"prompt\" value=\"login\""),
        "the provider session has ended"
    );
}

#[tokio::test]
async fn two_logins_interleaved_in_one_cookie_jar_both_succeed() {
    let e = env();
    let app = app(layer_for(&e, &e.client_id, TokenAuthMethod::Auto));
    let mut jar = Jar::default();
    let browser = Browser::new(&e.issuer);
    // Two tabs start a login before either finishes.
    let tab1 = jar.get(&app, "/reports?id=1").await;
    let tab2 = jar.get(&app, "/reports?id=2").await;
    assert_eq!(jar.login_cookies(), 2);
    let back2 = browser.authorize(tab2.location(), "alice").await;
    let back1 = browser.authorize(tab1.location(), "alice").await;
    let done2 = jar.get(&app, &path_of(&back2)).await;
    assert_eq!(done2.status, StatusCode::FOUND, "{done2:?}");
    assert_eq!(done2.location(), "/reports?id=2");
    let done1 = jar.get(&app, &path_of(&back1)).await;
    assert_eq!(done1.status, StatusCode::FOUND, "{done1:?}");
    assert_eq!(done1.location(), "/reports?id=1");
    assert_eq!(jar.login_cookies(), 0);
    assert_eq!(jar.get(&app, "/reports?id=1").await.body, "alice id=1");
}

/// Alice signs in against `provider` (a process of the test's own); the provider is restarted
/// at the same issuer with a fresh key under `kid_after_restart`, and bob signs in right after:
/// the app follows the new key with one forced JWKS refetch. Returns the restarted provider.
async fn bob_signs_in_after(
    e: &Env,
    provider: RealProvider,
    kid_after_restart: Option<&str>,
) -> RealProvider {
    let issuer = provider.issuer();
    let layer = layer_at(e, &issuer, &e.client_id, TokenAuthMethod::Auto);
    let app = app(layer.clone());
    let mut alice = Jar::default();
    let reply = sign_in(&mut alice, &app, &Browser::new(&issuer), "/", "alice").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(layer.jwks_fetches(), 1, "the first fetch");

    let signed_in = Instant::now();
    let provider = provider.restart(kid_after_restart);
    let mut bob = Jar::default();
    let reply = sign_in(&mut bob, &app, &Browser::new(&issuer), "/", "bob").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert!(
        signed_in.elapsed().as_secs() < 30,
        "bob signed in seconds after alice (within the old 30 s cooldown)"
    );
    assert_eq!(layer.jwks_fetches(), 2, "one forced refetch");
    assert_eq!(jar_subject(&mut bob, &app).await, "bob");
    // Alice's session needs no key: it carries on.
    assert_eq!(jar_subject(&mut alice, &app).await, "alice");
    provider
}

async fn jar_subject(jar: &mut Jar, app: &axum::Router) -> String {
    let reply = jar.get(app, "/").await;
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    reply.body
}

#[tokio::test]
async fn a_provider_restarted_with_a_fresh_key_under_the_same_kid_is_followed_at_once() {
    let e = env();
    let provider = RealProvider::start_signing(0, Some("reused-kid"));
    bob_signs_in_after(&e, provider, Some("reused-kid"))
        .await
        .stop();
}

#[tokio::test]
async fn a_provider_rotated_to_a_new_kid_is_followed_at_once() {
    let e = env();
    let provider = RealProvider::start_signing(0, Some("kid-before"));
    bob_signs_in_after(&e, provider, Some("kid-after"))
        .await
        .stop();
}

#[tokio::test]
async fn max_age_and_login_hint_reach_the_provider_and_the_login_completes() {
    let e = env();
    let config = OidcConfig::builder()
        .with_issuer(e.issuer.clone())
        .with_client_id(e.client_id.clone())
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=")
        .with_max_age(std::time::Duration::from_secs(600))
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let browser = Browser::new(&e.issuer);

    let start = jar.get(&app, "/auth/login?login_hint=alice").await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    let sent = query(start.location());
    assert_eq!(sent["max_age"], "600");
    assert_eq!(sent["login_hint"], "alice");
    let (back, pages) = browser.authorize_seeing(start.location(), "alice").await;
    assert!(
        pages[0].contains("name=\"login\"") && pages[0].contains("value=\"alice\""),
        "the provider's login form is filled with the hint: {}",
        pages[0]
    );
    let done = jar.get(&app, &path_of(&back)).await;
    assert_eq!(
        done.status,
        StatusCode::FOUND,
        "auth_time checked and fresh: {done:?}"
    );
    assert_eq!(jar.get(&app, "/me").await.json()["subject"], "alice");

    // Signed in at the provider, a login asking for max_age=0 is made to sign in again there,
    // and its auth_time, fresh, passes.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let start = jar.get(&app, "/auth/login?max_age=0").await;
    assert_eq!(query(start.location())["max_age"], "0");
    let (back, pages) = browser.authorize_seeing(start.location(), "alice").await;
    assert!(
        pages
            .iter()
            .any(|p| p.contains("name=\"prompt\" value=\"login\"")),
        "max_age=0 made the provider ask for the login again: {pages:?}"
    );
    let done = jar.get(&app, &path_of(&back)).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(jar.get(&app, "/me").await.json()["subject"], "alice");
}

#[tokio::test]
async fn the_providers_back_channel_logout_ends_the_session() {
    let e = env();
    // The provider must reach the app: the app listens on a port of this test's own, and a
    // provider of this test's own registers that port's route as the back-channel logout URI.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!(
        "http://{}/auth/backchannel-logout",
        listener.local_addr().unwrap()
    );
    let provider = RealProvider::start_with(0, &[("BACKCHANNEL_LOGOUT_URI", &uri)]);
    let issuer = provider.issuer();
    let events: Arc<Mutex<Vec<AuditEvent>>> = Arc::default();
    let sink = events.clone();
    let config = OidcConfig::builder()
        .with_issuer(issuer.clone())
        .with_client_id(e.client_id.clone())
        .with_client_secret(e.secret.clone())
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=")
        .with_backchannel_logout(true)
        .with_audit_sink(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));
    let served = app.clone();
    let server = tokio::spawn(async move { axum::serve(listener, served).await });
    let mut jar = Jar::default();
    let browser = Browser::new(&issuer);
    assert_eq!(
        sign_in(&mut jar, &app, &browser, "/", "alice").await.status,
        StatusCode::FOUND
    );
    assert_eq!(jar_subject(&mut jar, &app).await, "alice");
    let copy = jar.clone();

    // Signed out at the provider, not through the app: its end-session page and confirmation.
    browser.end_session(&format!("{issuer}/session/end")).await;

    // The provider POSTed the logout token before it answered (oidc-provider awaits it).
    let ended: Vec<_> = events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.kind == AuditKind::BackChannelSignOut)
        .map(|e| e.subject.clone())
        .collect();
    assert_eq!(ended, [Some("alice".to_owned())]);
    // The browser still holds the cookie, and it no longer works; nor does a copy of it.
    assert!(jar.session().is_some());
    let again = jar.get(&app, "/").await;
    assert_eq!(again.status, StatusCode::FOUND, "{again:?}");
    assert!(again.location().starts_with(&issuer), "{again:?}");
    let mut copy = copy;
    let api = copy
        .send(
            &app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED, "{api:?}");
    server.abort();
    provider.stop();
}
