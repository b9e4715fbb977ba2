//! One test per attack on the relying party, against an in-process provider that misbehaves on
//! purpose. Each asserts on the status, the cookies, the Location header and on which provider
//! endpoints were (not) called.

mod support;

use std::time::Duration;

use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde_json::{json, Value};
use support::*;
use tower_oidc::{AuthError, AuthErrorKind, ClaimNames, OidcLayer};

type Setup = MockApp;

async fn setup() -> Setup {
    MockApp::start(|b| b).await
}

/// Runs a login whose ID token has `claims` edited by `edit`, signed with key-1.
async fn login_with_claims(s: &Setup, jar: &mut Jar, edit: impl FnOnce(Value) -> Value) -> Reply {
    login_with(jar, &s.app, &s.idp, &SigningKey::first(), edit, &s.clock).await
}

fn set(mut v: Value, key: &str, value: Value) -> Value {
    v[key] = value;
    v
}

fn remove(mut v: Value, key: &str) -> Value {
    v.as_object_mut().unwrap().remove(key);
    v
}

fn assert_refused(reply: &Reply, status: StatusCode, want: AuthErrorKind, jar: &Jar) {
    assert_eq!(reply.status, status, "{reply:?}");
    assert_eq!(reply.kind(), want.as_str(), "{}", reply.body);
    assert!(jar.session().is_none(), "no session may be issued");
    assert!(reply.headers.get(header::LOCATION).is_none());
}

/// Answers the login `started` with the ID token `token` and checks that it is refused as an
/// invalid ID token.
async fn refused_id_token(s: &Setup, jar: &mut Jar, started: &Started, token: String) -> Reply {
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(jar, &s.app, &s.idp, &started.state).await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::InvalidIdToken,
        jar,
    );
    reply
}

#[tokio::test]
async fn accepts_a_good_login_and_returns_home() {
    let s = setup().await;
    let mut jar = Jar::default();
    let reply = login_with_claims(&s, &mut jar, |c| c).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/");
    assert!(jar.session().is_some());
    assert_eq!(jar.login_cookies(), 0, "the login cookie is spent");
    let me = jar.get(&s.app, "/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.json()["subject"], "user-1");
    assert_eq!(me.json()["groups"], json!(["readers"]));
    assert_eq!(me.headers[header::CACHE_CONTROL], "no-store");
    // PKCE: the verifier sent to the token endpoint hashes to the challenge; basic auth used.
    let (auth, form) = s.idp.with(|st| st.token_requests[0].clone());
    assert!(auth.unwrap().starts_with("Basic "));
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["redirect_uri"], format!("{BASE_URL}/auth/callback"));
    assert!(form["code_verifier"].len() >= 43);
    assert_eq!(
        s.idp.hits.userinfo(),
        0,
        "the ID token had every claim: no userinfo call"
    );
}

#[tokio::test]
async fn authorization_request_uses_pkce_s256_state_and_nonce() {
    let s = setup().await;
    let mut jar = Jar::default();
    let a = start_login(&mut jar, &s.app, "/").await;
    let b = start_login(&mut jar, &s.app, "/").await;
    let q = query(&a.authorize_url);
    assert_eq!(q["response_type"], "code");
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["scope"], "openid profile email");
    assert!(a.state.len() >= 43 && a.nonce.len() >= 43);
    assert_ne!(a.state, b.state);
    assert_ne!(a.nonce, b.nonce);
    assert_ne!(a.challenge, b.challenge);
}

#[tokio::test]
async fn rejects_callback_with_wrong_state() {
    let s = setup().await;
    let mut jar = Jar::default();
    let _started = start_login(&mut jar, &s.app, "/").await;
    let reply = callback(&mut jar, &s.app, &s.idp, "attacker-chosen-state").await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::LoginExpired,
        &jar,
    );
    assert_eq!(s.idp.hits.token(), 0, "no code may be redeemed");
}

#[tokio::test]
async fn rejects_login_cookie_moved_to_another_state() {
    let s = setup().await;
    let mut jar = Jar::default();
    let _started = start_login(&mut jar, &s.app, "/").await;
    // The attacker renames the victim's login cookie to match a state of their choosing.
    let (_, value) = jar
        .0
        .iter()
        .find(|(k, _)| k.contains("oidc-login-"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let mut forged = Jar::default();
    let state = "evil-state";
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, state.as_bytes());
    forged.0.insert(
        format!("oidc-login-{}", B64.encode(&digest.as_ref()[..9])),
        value,
    );
    let reply = callback(&mut forged, &s.app, &s.idp, state).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::StateMismatch,
        &forged,
    );
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn rejects_callback_without_state() {
    let s = setup().await;
    let mut jar = Jar::default();
    let _started = start_login(&mut jar, &s.app, "/").await;
    let reply = jar
        .get(
            &s.app,
            &format!("/auth/callback?code=x&iss={}", s.idp.issuer),
        )
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::MissingState,
        &jar,
    );
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn rejects_replayed_callback_even_with_the_login_cookie_resent() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let saved = jar.clone();
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    let first = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(first.status, StatusCode::FOUND);
    // Replay in the same browser: the login cookie is gone.
    let again = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.kind(), "login_expired");
    // Replay with the old login cookie: the layer remembers the state was used.
    let mut attacker = saved;
    let replay = callback(&mut attacker, &s.app, &s.idp, &started.state).await;
    assert_refused(
        &replay,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::LoginExpired,
        &attacker,
    );
    assert_eq!(s.idp.hits.token(), 1, "the code was redeemed once only");
}

#[tokio::test]
async fn rejects_wrong_iss_parameter_before_the_token_endpoint() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let q = serde_urlencoded::to_string([
        ("code", "c"),
        ("state", started.state.as_str()),
        ("iss", "https://evil.example"),
    ])
    .unwrap();
    let reply = jar.get(&s.app, &format!("/auth/callback?{q}")).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::IssuerMismatch,
        &jar,
    );
    assert_eq!(
        s.idp.hits.token(),
        0,
        "the token endpoint must not be called"
    );
}

#[tokio::test]
async fn rejects_missing_iss_parameter_when_the_provider_promises_it() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let reply = jar
        .get(
            &s.app,
            &format!("/auth/callback?code=c&state={}", started.state),
        )
        .await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::IssuerMismatch,
        &jar,
    );
    assert_eq!(s.idp.hits.token(), 0);
}

/// Answers the login `started` with the provider's `error` (and a description that must not be
/// echoed), and checks that it is refused as the provider's denial.
async fn provider_error(s: &Setup, jar: &mut Jar, started: &Started, error: &str) -> Reply {
    let q = serde_urlencoded::to_string([
        ("error", error),
        ("error_description", "<b>no</b>"),
        ("state", started.state.as_str()),
        ("iss", s.idp.issuer.as_str()),
    ])
    .unwrap();
    let reply = jar.get(&s.app, &format!("/auth/callback?{q}")).await;
    assert_refused(
        &reply,
        StatusCode::FORBIDDEN,
        AuthErrorKind::ProviderDenied,
        jar,
    );
    reply
}

#[tokio::test]
async fn provider_error_response_gets_a_clear_page() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let reply = provider_error(&s, &mut jar, &started, "access_denied").await;
    assert!(reply.body.contains("access_denied"));
    assert!(
        !reply.body.contains("<b>no</b>"),
        "provider text is not echoed"
    );
    assert!(
        reply.body.contains("href=\"/auth/login\""),
        "a link to start again"
    );
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn rejects_alg_none() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let claims = s.idp.claims(&s.clock, &started.nonce);
    let token = format!(
        "{}.{}.",
        B64.encode(br#"{"alg":"none","typ":"JWT"}"#),
        B64.encode(claims.to_string())
    );
    let reply = refused_id_token(&s, &mut jar, &started, token).await;
    assert!(reply.body.contains("algorithm"), "{}", reply.body);
    assert_eq!(
        s.idp.hits.userinfo(),
        0,
        "nothing is called after a failed check"
    );
}

#[tokio::test]
async fn rejects_bad_rs256_signature() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    // Signed by key-2's private key but claiming key-1's kid.
    let mut forger = SigningKey::second();
    forger.kid = Some("key-1".into());
    let token = forger.sign(&s.idp.claims(&s.clock, &started.nonce));
    let reply = refused_id_token(&s, &mut jar, &started, token).await;
    assert!(reply.body.contains("signature"), "{}", reply.body);
    assert_eq!(
        s.idp.hits.jwks(),
        2,
        "one refetch in case the provider changed the key, then refused"
    );
}

#[tokio::test]
async fn rejects_hs256_signed_with_the_public_key() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    // The classic confusion attack: HMAC keyed with the provider's public key material.
    let public_n = SigningKey::first().jwk["n"].as_str().unwrap().to_owned();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    header.kid = Some("key-1".into());
    let token = jsonwebtoken::encode(
        &header,
        &s.idp.claims(&s.clock, &started.nonce),
        &jsonwebtoken::EncodingKey::from_secret(public_n.as_bytes()),
    )
    .unwrap();
    let reply = refused_id_token(&s, &mut jar, &started, token).await;
    assert!(reply.body.contains("algorithm"), "{}", reply.body);
}

#[tokio::test]
async fn rejects_id_token_with_crit_header() {
    let s = setup().await;
    for crit in [json!(["exp"]), json!([]), json!(["b64"])] {
        let mut jar = Jar::default();
        let started = start_login(&mut jar, &s.app, "/").await;
        // A header naming critical extensions; properly signed with key-1.
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some("key-1".into());
        header.crit = serde_json::from_value(crit.clone()).unwrap();
        let token = jsonwebtoken::encode(
            &header,
            &s.idp.claims(&s.clock, &started.nonce),
            &SigningKey::first().encoding,
        )
        .unwrap();
        let reply = refused_id_token(&s, &mut jar, &started, token).await;
        assert!(reply.body.contains("crit"), "{crit}: {}", reply.body);
    }
    assert_eq!(
        s.idp.hits.jwks(),
        0,
        "refused by its header, before any key"
    );
    assert_eq!(s.idp.hits.userinfo(), 0);
}

macro_rules! claim_attack {
    ($name:ident, $edit:expr, $reason:literal) => {
        #[tokio::test]
        async fn $name() {
            let s = setup().await;
            let mut jar = Jar::default();
            let now = s.clock.secs();
            let edit: Box<dyn FnOnce(Value) -> Value> = Box::new(move |c| ($edit)(c, now));
            let reply = login_with_claims(&s, &mut jar, edit).await;
            assert_refused(
                &reply,
                StatusCode::UNAUTHORIZED,
                AuthErrorKind::InvalidIdToken,
                &jar,
            );
            assert!(
                reply.body.contains($reason),
                "expected `{}` in {}",
                $reason,
                reply.body
            );
            assert_eq!(
                s.idp.hits.userinfo(),
                0,
                "nothing is called after a failed check"
            );
        }
    };
}

claim_attack!(
    rejects_wrong_issuer_claim,
    |c, _| set(c, "iss", json!("https://evil.example")),
    "another issuer"
);
claim_attack!(
    rejects_wrong_audience,
    |c, _| set(c, "aud", json!("another-client")),
    "audience"
);
claim_attack!(
    rejects_extra_untrusted_audience_without_azp,
    |c, _| set(c, "aud", json!([CLIENT_ID, "evil-client"])),
    "untrusted extra audience"
);
claim_attack!(
    rejects_wrong_authorized_party,
    |c, _| set(c, "azp", json!("evil-client")),
    "authorized party"
);
claim_attack!(
    rejects_expired_token,
    |c, now: u64| set(c, "exp", json!(now - 120)),
    "expired"
);
claim_attack!(
    rejects_token_issued_in_the_future,
    |c, now: u64| set(c, "iat", json!(now + 600)),
    "future"
);
claim_attack!(
    rejects_token_without_sub,
    |c, _| remove(c, "sub"),
    "subject"
);
claim_attack!(
    rejects_token_without_iat,
    |c, _| remove(c, "iat"),
    "issue time"
);
claim_attack!(rejects_token_without_exp, |c, _| remove(c, "exp"), "expiry");
claim_attack!(
    rejects_wrong_nonce,
    |c, _| set(c, "nonce", json!("another-login")),
    "nonce"
);
claim_attack!(rejects_missing_nonce, |c, _| remove(c, "nonce"), "nonce");

#[tokio::test]
async fn rejects_userinfo_for_another_subject() {
    let s = setup().await;
    s.idp.with(|st| {
        st.userinfo = json!({"sub": "someone-else", "email": "x@example.com", "groups": ["admins"]})
    });
    let mut jar = Jar::default();
    // Without email and groups in the ID token, userinfo is fetched.
    let reply = login_with_claims(&s, &mut jar, |c| remove(remove(c, "email"), "groups")).await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::InvalidUserinfo,
        &jar,
    );
    assert_eq!(s.idp.hits.userinfo(), 1);
}

#[tokio::test]
async fn fetches_userinfo_when_the_id_token_lacks_claims() {
    let s = setup().await;
    s.idp.with(|st| st.userinfo = json!({"sub": "user-1", "email": "jane@corp.example", "groups": ["admins", "readers"], "email_verified": true}));
    let mut jar = Jar::default();
    let reply = login_with_claims(&s, &mut jar, |c| remove(remove(c, "email"), "groups")).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let me = jar.get(&s.app, "/me").await.json();
    assert_eq!(me["email"], "jane@corp.example");
    assert_eq!(me["groups"], json!(["admins", "readers"]));
    assert_eq!(s.idp.hits.userinfo(), 1);
}

#[tokio::test]
async fn userinfo_never_overrides_the_id_tokens_claims() {
    let s = setup().await;
    s.idp.with(|st| {
        st.userinfo = json!({"sub": "user-1", "email": "boss@corp.example", "email_verified": true,
                             "name": "The Boss", "preferred_username": "boss", "groups": ["readers"]})
    });
    let mut jar = Jar::default();
    // Without groups in the ID token, userinfo is fetched; it may only add them.
    let reply = login_with_claims(&s, &mut jar, |c| remove(c, "groups")).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(s.idp.hits.userinfo(), 1);
    let me = jar.get(&s.app, "/me").await.json();
    assert_eq!(me["email"], "jane@example.com");
    assert_eq!(me["name"], "Jane Doe");
    assert_eq!(me["preferred_username"], "jane");
    assert_eq!(me["groups"], json!(["readers"]), "filled from userinfo");
}

#[tokio::test]
async fn a_dotted_userinfo_claim_never_shadows_a_nested_id_token_claim() {
    let s = MockApp::start(|b| {
        b.with_claim_names(ClaimNames {
            groups: "realm_access.roles".into(),
            ..ClaimNames::default()
        })
        .with_admin_group("admins")
    })
    .await;
    s.idp.with(|st| {
        st.userinfo = json!({"sub": "user-1", "email": "jane@example.com",
                             "realm_access.roles": ["admins"]})
    });
    let mut jar = Jar::default();
    let reply = login_with_claims(&s, &mut jar, |c| {
        set(
            remove(remove(c, "groups"), "email"),
            "realm_access",
            json!({"roles": ["readers"]}),
        )
    })
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(s.idp.hits.userinfo(), 1, "the email was missing");
    let me = jar.get(&s.app, "/me").await.json();
    assert_eq!(me["email"], "jane@example.com", "a missing claim is filled");
    assert_eq!(
        me["groups"],
        json!(["readers"]),
        "the ID token's nested claim"
    );
    assert_eq!(me["admin"], false);
}

#[tokio::test]
async fn userinfo_email_verified_counts_only_for_the_email_in_use() {
    let s = MockApp::start(|b| b.add_admin_email("jane@example.com")).await;
    // The ID token has Jane's address without a verdict; userinfo verifies another address
    // (which must not count), then Jane's (which does).
    for (userinfo_email, verified) in [("other@example.com", false), ("jane@example.com", true)] {
        s.idp.with(|st| {
            st.userinfo = json!({"sub": "user-1", "email": userinfo_email,
                                 "email_verified": true, "groups": ["readers"]})
        });
        let mut jar = Jar::default();
        let reply = login_with_claims(&s, &mut jar, |c| {
            remove(remove(c, "groups"), "email_verified")
        })
        .await;
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
        let me = jar.get(&s.app, "/me").await.json();
        assert_eq!(me["email"], "jane@example.com", "the ID token's email");
        assert_eq!(me["email_verified"], verified, "{userinfo_email}: {me}");
        assert_eq!(
            me["admin"], verified,
            "an unverified admin email grants nothing"
        );
    }
}

#[tokio::test]
async fn accepts_token_without_kid_when_the_jwks_has_one_key() {
    let s = setup().await;
    s.idp
        .with(|st| st.jwks = vec![SigningKey::rsa(include_bytes!("fixtures/rsa1.pem"), None).jwk]);
    let mut jar = Jar::default();
    let key = SigningKey::rsa(include_bytes!("fixtures/rsa1.pem"), None);
    let reply = login_with(&mut jar, &s.app, &s.idp, &key, |c| c, &s.clock).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert!(jar.session().is_some());
}

#[tokio::test]
async fn rejects_token_without_kid_when_the_jwks_has_several_keys() {
    let s = setup().await;
    s.idp
        .with(|st| st.jwks = vec![SigningKey::first().jwk, SigningKey::second().jwk]);
    let mut jar = Jar::default();
    let key = SigningKey::rsa(include_bytes!("fixtures/rsa1.pem"), None);
    let reply = login_with(&mut jar, &s.app, &s.idp, &key, |c| c, &s.clock).await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::InvalidIdToken,
        &jar,
    );
    assert!(reply.body.contains("several keys"), "{}", reply.body);
}

#[tokio::test]
async fn deep_links_survive_the_round_trip() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/reports?id=7").await;
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(reply.location(), "/reports?id=7");
    let page = jar.get(&s.app, "/reports?id=7").await;
    assert_eq!(page.body, "user-1 id=7");
}

#[tokio::test]
async fn refuses_open_redirects_after_login() {
    let s = setup().await;
    for target in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "/%2Fevil.example",
        "/%5Cevil.example",
        "%2F%2Fevil.example",
        "/%252F%252Fevil.example",
    ] {
        let mut jar = Jar::default();
        let login = jar
            .get(
                &s.app,
                &format!("/auth/login?return_to={}", urlencode(target)),
            )
            .await;
        assert_eq!(login.status, StatusCode::FOUND, "{target}");
        let state = query(login.location())["state"].clone();
        let nonce = query(login.location())["nonce"].clone();
        let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &nonce));
        s.idp.with(|st| st.id_token = Some(token));
        let reply = callback(&mut jar, &s.app, &s.idp, &state).await;
        assert_eq!(reply.status, StatusCode::FOUND, "{target}");
        assert_eq!(reply.location(), "/", "{target} must not be followed");
    }
}

#[tokio::test]
async fn refuses_open_redirect_through_the_request_path() {
    let s = setup().await;
    let mut jar = Jar::default();
    // A request target of `//evil.example` is a valid path; it must not become the return target.
    let started = start_login(&mut jar, &s.app, "//evil.example/x").await;
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(reply.location(), "/");
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn tampered_session_cookie_is_not_a_session() {
    let s = setup().await;
    let mut jar = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut jar, |c| c).await.status,
        StatusCode::FOUND
    );
    let name = jar
        .0
        .keys()
        .find(|k| k.ends_with("oidc-session"))
        .unwrap()
        .clone();
    let value = jar.0[&name].clone();
    let mut bytes = B64.decode(&value).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x01;
    jar.0.insert(name.clone(), B64.encode(&bytes));
    let api = jar
        .send(
            &s.app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(api.status, StatusCode::UNAUTHORIZED);
    let page = jar.get(&s.app, "/").await;
    assert_eq!(
        page.status,
        StatusCode::FOUND,
        "a browser is sent to sign in again"
    );
    // Garbage of every shape is refused the same way, never a panic.
    for junk in [
        "",
        "x",
        "%%%%",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        &"A".repeat(9000),
    ] {
        let mut j = Jar::default();
        j.0.insert(name.clone(), junk.to_owned());
        let r = j
            .send(
                &s.app,
                Request::get("/me").header(header::ACCEPT, "application/json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{junk}");
    }
}

/// A session cookie that another app minted at a real login, with the same `OIDC_COOKIE_KEY`
/// and issuer (a sister app with its own `client_id`, a staging copy at another origin), is no
/// session here: that app's role map and access rules must not stand in for ours. A replica of
/// our app (same configuration) reads ours.
#[tokio::test]
async fn rejects_a_session_minted_by_another_app_sharing_the_key_and_issuer() {
    async fn me(jar: &mut Jar, app: &axum::Router) -> Reply {
        let request = Request::get("/me").header(header::ACCEPT, "application/json");
        jar.send(app, request).await
    }
    let s = setup().await;
    for (what, other, aud) in [
        (
            "a sister app with another client id",
            s.idp.config(&s.clock).with_client_id("sister-app"),
            "sister-app",
        ),
        (
            "a staging copy at another origin",
            s.idp
                .config(&s.clock)
                .with_base_url("http://127.0.0.1:4999"),
            CLIENT_ID,
        ),
    ] {
        let other = app(OidcLayer::new(other.build().unwrap()));
        let mut jar = Jar::default();
        let done = login_with(
            &mut jar,
            &other,
            &s.idp,
            &SigningKey::first(),
            |c| set(c, "aud", json!(aud)),
            &s.clock,
        )
        .await;
        assert_eq!(done.status, StatusCode::FOUND, "{what}: {}", done.body);
        assert_eq!(me(&mut jar, &other).await.status, StatusCode::OK, "{what}");
        let here = me(&mut jar, &s.app).await;
        assert_eq!(
            here.status,
            StatusCode::UNAUTHORIZED,
            "{what}: {}",
            here.body
        );
        assert!(!here.body.contains("user-1"), "{what}: {}", here.body);
    }
    // Our own session opens in a replica: one BASE_URL, one configuration, one key.
    let mut jar = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut jar, |c| c).await.status,
        StatusCode::FOUND
    );
    let replica = app(OidcLayer::new(s.idp.config(&s.clock).build().unwrap()));
    let there = me(&mut jar, &replica).await;
    assert_eq!(there.status, StatusCode::OK, "{}", there.body);
    assert_eq!(there.json()["subject"], "user-1");
}

#[tokio::test]
async fn login_replaces_a_planted_session() {
    let s = setup().await;
    // The attacker signs in as themselves and plants that session in the victim's browser.
    let mut attacker = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut attacker, |c| set(c, "sub", json!("attacker")))
            .await
            .status,
        StatusCode::FOUND
    );
    let mut victim = attacker.clone();
    let planted = victim.session().unwrap().clone();
    let planted_id = victim.get(&s.app, "/me").await.json()["session_id"].clone();
    // The victim signs in as themselves through the login route.
    let login = victim.get(&s.app, "/auth/login").await;
    let q = query(login.location());
    let token = SigningKey::first().sign(&set(
        s.idp.claims(&s.clock, &q["nonce"]),
        "sub",
        json!("victim"),
    ));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut victim, &s.app, &s.idp, &q["state"]).await;
    assert_eq!(reply.status, StatusCode::FOUND);
    assert_ne!(
        victim.session().unwrap(),
        &planted,
        "a new session value at login"
    );
    let me = victim.get(&s.app, "/me").await.json();
    assert_eq!(me["subject"], "victim");
    assert_ne!(me["session_id"], planted_id);
}

#[tokio::test]
async fn api_requests_without_session_get_401_json_and_no_cookie() {
    let s = setup().await;
    let mut jar = Jar::default();
    for req in [
        Request::get("/me").header(header::ACCEPT, "application/json"),
        Request::get("/")
            .header("sec-fetch-mode", "cors")
            .header(header::ACCEPT, "text/html"),
        Request::post("/").header(header::ACCEPT, "text/html"),
        Request::get("/")
            .header("x-requested-with", "XMLHttpRequest")
            .header(header::ACCEPT, "text/html"),
    ] {
        let reply = jar.send(&s.app, req).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(
            reply.set_cookies().is_empty(),
            "no state cookie for API clients"
        );
        assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
        assert_eq!(reply.json()["error"], "unauthenticated");
    }
    assert_eq!(s.idp.hits.discovery(), 0, "401s need no provider");
}

#[tokio::test]
async fn expired_login_record_is_refused() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    s.clock.advance(Duration::from_secs(601));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::LoginExpired,
        &jar,
    );
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn session_expires_after_its_lifetime() {
    let s = setup().await;
    let mut jar = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut jar, |c| c).await.status,
        StatusCode::FOUND
    );
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
    s.clock.advance(Duration::from_secs(8 * 3600 + 1));
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn pending_login_cookies_stay_bounded() {
    let s = setup().await;
    let mut jar = Jar::default();
    let mut started = Vec::new();
    for _ in 0..10 {
        started.push(start_login(&mut jar, &s.app, "/").await);
        assert!(jar.login_cookies() <= 4, "{} pending", jar.login_cookies());
        assert!(jar.header().len() < 4 * 600, "login cookies stay small");
    }
    // The newest logins still complete.
    let last = started.last().unwrap();
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &last.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    assert_eq!(
        callback(&mut jar, &s.app, &s.idp, &last.state).await.status,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn malformed_callbacks_get_4xx_not_panics() {
    let s = setup().await;
    let mut jar = Jar::default();
    let _ = start_login(&mut jar, &s.app, "/").await;
    for q in [
        "",
        "?",
        "?state",
        "?state=&code=",
        "?%ff%fe=1",
        "?state=%00%01",
        "?code=a&code=b&state=x",
        &format!("?state={}", "x".repeat(10_000)),
    ] {
        let reply = jar.get(&s.app, &format!("/auth/callback{q}")).await;
        assert!(reply.status.is_client_error(), "{q}: {reply:?}");
        assert!(reply.body.contains("/auth/login"));
    }
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn garbage_token_response_is_a_502_page() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    s.idp.with(|st| st.token_body = Some("<html>oops".into()));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_refused(
        &reply,
        StatusCode::BAD_GATEWAY,
        AuthErrorKind::BadProviderResponse,
        &jar,
    );
}

#[tokio::test]
async fn rejects_token_response_that_is_not_bearer() {
    let s = setup().await;
    for (token_type, refusal) in [
        (json!("DPoP"), Some("turn OIDC_DPOP on")),
        (json!("N_A"), Some("other than Bearer")),
        (Value::Null, Some("no token_type")),
        (json!("bEaReR"), None),
    ] {
        let mut jar = Jar::default();
        let started = start_login(&mut jar, &s.app, "/").await;
        let id_token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
        let body = json!({"access_token": "access-token-1", "token_type": token_type,
                          "id_token": id_token});
        s.idp.with(|st| st.token_body = Some(body.to_string()));
        let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
        let Some(reason) = refusal else {
            assert_eq!(
                reply.status,
                StatusCode::FOUND,
                "Bearer in any case: {reply:?}"
            );
            continue;
        };
        assert_refused(
            &reply,
            StatusCode::BAD_GATEWAY,
            AuthErrorKind::BadProviderResponse,
            &jar,
        );
        assert!(reply.body.contains(reason), "{token_type}: {}", reply.body);
        assert_eq!(s.idp.hits.jwks(), 0, "nothing is checked after it");
    }
    assert_eq!(s.idp.hits.userinfo(), 0);
}

#[tokio::test]
async fn rejected_code_is_a_400_page() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    s.idp.with(|st| {
        st.token_status = StatusCode::BAD_REQUEST;
        st.token_body =
            Some(r#"{"error":"invalid_grant","error_description":"code=secret-code"}"#.into());
    });
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_refused(
        &reply,
        StatusCode::BAD_REQUEST,
        AuthErrorKind::CodeRejected,
        &jar,
    );
    assert!(reply.body.contains("invalid_grant"));
    assert!(!reply.body.contains("secret-code"));
}

#[tokio::test]
async fn garbage_jwks_and_discovery_are_502_pages() {
    let s = setup().await;
    let mut jar = Jar::default();
    s.idp.with(|st| {
        st.jwks_body = Some("{\"keys\": [{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}".into())
    });
    let reply = login_with_claims(&s, &mut jar, |c| c).await;
    assert_refused(
        &reply,
        StatusCode::BAD_GATEWAY,
        AuthErrorKind::BadProviderResponse,
        &jar,
    );

    let s = setup().await;
    s.idp.with(|st| st.discovery_body = Some("not json".into()));
    let reply = Jar::default().get(&s.app, "/").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(reply.set_cookies().is_empty());
}

#[tokio::test]
async fn discovery_issuer_mismatch_names_both_values() {
    let s = setup().await;
    s.idp
        .with(|st| st.discovery_issuer = Some("https://other.example".into()));
    let reply = Jar::default().get(&s.app, "/").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY);
    assert!(
        reply.body.contains("https://other.example"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains(&s.idp.issuer), "{}", reply.body);
    assert!(reply.body.contains("OIDC_ISSUER_URL"));
}

#[tokio::test]
async fn unreachable_provider_is_a_503_page_and_sessions_keep_working() {
    // A port nothing listens on.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let issuer = format!("http://{}", dead.local_addr().unwrap());
    drop(dead);
    let clock = TestClock::new();
    let config = tower_oidc::OidcConfig::builder()
        .with_issuer(issuer.clone())
        .with_client_id(CLIENT_ID)
        .with_client_secret(CLIENT_SECRET)
        .with_base_url(BASE_URL)
        .with_cookie_key("08DQO/Fz1Y/vwTfIZ4Q8Zmm+K0xRM4B8bQBQA1Vxge8=")
        .with_clock(clock.clone())
        .build()
        .unwrap();
    let layer = OidcLayer::new(config);
    let app = app(layer.clone());
    let reply = Jar::default().get(&app, "/").await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.body.contains("unreachable"), "{}", reply.body);
    assert!(reply.set_cookies().is_empty());
    // A user with a session is not affected.
    let who = tower_oidc::Identity::builder(issuer, "u1").build();
    let mut jar = Jar::signed_in(&layer, &who);
    let page = jar.get(&app, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.body, "u1");
}

#[tokio::test]
async fn error_responses_carry_the_reason_in_extensions() {
    use tower::ServiceExt;
    let s = setup().await;
    let res = s
        .app
        .clone()
        .oneshot(
            Request::get("/auth/callback")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let err = res
        .extensions()
        .get::<AuthError>()
        .expect("AuthError in extensions");
    assert_eq!(err.kind(), AuthErrorKind::MissingState);
}

#[tokio::test]
async fn cross_site_logout_asks_for_confirmation() {
    let s = setup().await;
    let mut jar = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut jar, |c| c).await.status,
        StatusCode::FOUND
    );
    // A link or image on another site: the session survives and a confirmation form is shown.
    let forged = jar
        .send(
            &s.app,
            Request::get("/auth/logout").header("sec-fetch-site", "cross-site"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::OK);
    assert!(forged.body.contains("method=\"post\""), "{}", forged.body);
    assert!(forged.set_cookies().is_empty());
    assert!(jar.session().is_some());
    let forged_post = jar
        .send(
            &s.app,
            Request::post("/auth/logout").header(header::ORIGIN, "https://evil.example"),
        )
        .await;
    assert_eq!(forged_post.status, StatusCode::OK);
    assert!(jar.session().is_some());
    // The confirmation form, posted from our own origin, signs out.
    let confirmed = jar
        .send(
            &s.app,
            Request::post("/auth/logout").header("sec-fetch-site", "same-origin"),
        )
        .await;
    assert_eq!(confirmed.status, StatusCode::FOUND);
    assert!(
        confirmed
            .location()
            .starts_with(&format!("{}/logout?", s.idp.issuer)),
        "{}",
        confirmed.location()
    );
    assert!(jar.session().is_none());
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::FOUND);
}

#[tokio::test]
async fn a_request_stuffed_with_login_cookies_is_bounded() {
    let s = setup().await;
    let mut jar = Jar::default();
    for i in 0..200 {
        jar.0
            .insert(format!("oidc-login-junk{i:03}"), "A".repeat(40));
    }
    let reply = jar.get(&s.app, "/").await;
    assert_eq!(reply.status, StatusCode::FOUND);
    let deletions = reply
        .set_cookies()
        .iter()
        .filter(|c| c.contains("Max-Age=0"))
        .count();
    assert!(deletions <= 16, "{deletions} deletions");
    assert!(reply.headers[header::REFERRER_POLICY] == "no-referrer");
}

#[tokio::test]
async fn a_copied_session_cookie_is_refused_after_logout() {
    let s = setup().await;
    let mut jar = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut jar, |c| c).await.status,
        StatusCode::FOUND
    );
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
    let mut thief = jar.clone();
    let out = jar.get(&s.app, "/auth/logout").await;
    assert_eq!(out.status, StatusCode::FOUND);
    let api = thief
        .send(
            &s.app,
            Request::get("/me").header(header::ACCEPT, "application/json"),
        )
        .await;
    assert_eq!(
        api.status,
        StatusCode::UNAUTHORIZED,
        "the copy must not outlive the logout"
    );
    // A new login of the same user works again.
    let mut again = Jar::default();
    assert_eq!(
        login_with_claims(&s, &mut again, |c| c).await.status,
        StatusCode::FOUND
    );
    assert_eq!(again.get(&s.app, "/").await.status, StatusCode::OK);
}

#[tokio::test]
async fn an_overlong_return_target_falls_back_to_home() {
    let s = setup().await;
    let mut jar = Jar::default();
    let long = format!("/reports?q={}", "a".repeat(600));
    let started = start_login(&mut jar, &s.app, &long).await;
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    let reply = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(reply.location(), "/");
}

// Login parameters (OpenID Connect Core 3.1.2.1): configured per provider, refined per login,
// never forwarded when unfit, and what they ask for checked at the callback.

#[tokio::test]
async fn login_parameters_reach_the_provider() {
    let s = MockApp::start(|b| {
        b.with_prompt("select_account")
            .with_max_age(Duration::from_secs(3600))
            .with_acr_values("urn:example:mfa urn:example:pwd")
            .with_ui_locales("de-CH fr")
    })
    .await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let q = query(&started.authorize_url);
    assert_eq!(q["prompt"], "select_account");
    assert_eq!(q["max_age"], "3600");
    assert_eq!(q["acr_values"], "urn:example:mfa urn:example:pwd");
    assert_eq!(q["ui_locales"], "de-CH fr");
    assert!(
        !q.contains_key("login_hint"),
        "a protected page's query is not ours"
    );

    // The explicit login route's query refines them; a protected page's query never does.
    let started = start_login(
        &mut jar,
        &s.app,
        "/auth/login?login_hint=jane%40example.com&prompt=login&max_age=60&acr_values=urn%3Aexample%3Amfa&ui_locales=en",
    )
    .await;
    let q = query(&started.authorize_url);
    assert_eq!(q["login_hint"], "jane@example.com");
    assert_eq!(q["prompt"], "login");
    assert_eq!(q["max_age"], "60");
    assert_eq!(q["acr_values"], "urn:example:mfa");
    assert_eq!(q["ui_locales"], "en");
    let started = start_login(&mut jar, &s.app, "/reports?login_hint=evil&prompt=none").await;
    let q = query(&started.authorize_url);
    assert!(!q.contains_key("login_hint"), "{q:?}");
    assert_eq!(q["prompt"], "select_account");
}

#[tokio::test]
async fn overlong_or_control_character_login_parameters_are_never_forwarded() {
    let s = setup().await;
    let mut jar = Jar::default();
    let long = "a".repeat(256);
    for (param, value) in [
        ("login_hint", long.as_str()),
        ("login_hint", "jane\r\nSet-Cookie: x=1"),
        ("login_hint", "jane\u{0}"),
        ("ui_locales", "en\u{7f}"),
        ("prompt", "create"),
        ("prompt", "none login"),
        ("max_age", "soon"),
    ] {
        let path = format!(
            "/auth/login?{}",
            serde_urlencoded::to_string([(param, value)]).unwrap()
        );
        let started = start_login(&mut jar, &s.app, &path).await;
        let q = query(&started.authorize_url);
        assert!(!q.contains_key(param), "{param}={value:?} forwarded: {q:?}");
        assert!(
            !started.authorize_url.contains("Set-Cookie"),
            "{}",
            started.authorize_url
        );
    }
    // Exactly 255 bytes still travel.
    let hint = "b".repeat(255);
    let started = start_login(&mut jar, &s.app, &format!("/auth/login?login_hint={hint}")).await;
    assert_eq!(query(&started.authorize_url)["login_hint"], hint);
}

/// Runs a login through `path` whose ID token has `claims` edited by `edit`.
async fn login_via(
    s: &Setup,
    jar: &mut Jar,
    path: &str,
    edit: impl FnOnce(Value) -> Value,
) -> Reply {
    let started = start_login(jar, &s.app, path).await;
    let token = SigningKey::first().sign(&edit(s.idp.claims(&s.clock, &started.nonce)));
    s.idp.with(|st| st.id_token = Some(token));
    callback(jar, &s.app, &s.idp, &started.state).await
}

#[tokio::test]
async fn rejects_auth_time_older_than_max_age() {
    let s = MockApp::start(|b| b.with_max_age(Duration::from_secs(300))).await;
    let now = s.clock.secs();
    let mut jar = Jar::default();
    // 300 s of max_age plus the default 60 s leeway: 361 s is too old.
    let reply = login_via(&s, &mut jar, "/", |c| set(c, "auth_time", json!(now - 361))).await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::AuthenticationTooOld,
        &jar,
    );
    assert!(
        reply
            .body
            .contains("Your sign-in at the identity provider is too old"),
        "{}",
        reply.body
    );
    assert!(reply.body.contains("361 s ago"), "{}", reply.body);
    let reply = login_via(&s, &mut jar, "/", |c| set(c, "auth_time", json!(now - 350))).await;
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "within max_age and leeway: {reply:?}"
    );
    assert!(jar.session().is_some());
}

#[tokio::test]
async fn rejects_missing_auth_time_when_max_age_was_asked() {
    let s = setup().await;
    let mut jar = Jar::default();
    // No max_age configured: none needed.
    let reply = login_via(&s, &mut jar, "/auth/login", |c| c).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    // A login that asked for one, through its own query: the record carries it.
    let mut jar = Jar::default();
    let reply = login_via(&s, &mut jar, "/auth/login?max_age=0", |c| c).await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::InvalidIdToken,
        &jar,
    );
    assert!(reply.body.contains("auth_time"), "{}", reply.body);
    let now = s.clock.secs();
    let reply = login_via(&s, &mut jar, "/auth/login?max_age=0", |c| {
        set(c, "auth_time", json!(now - 120))
    })
    .await;
    assert_refused(
        &reply,
        StatusCode::UNAUTHORIZED,
        AuthErrorKind::AuthenticationTooOld,
        &jar,
    );
}

#[tokio::test]
async fn rejects_acr_not_requested_when_required() {
    let s = MockApp::start(|b| {
        b.with_acr_values("urn:example:mfa urn:example:hwk")
            .require_acr(true)
    })
    .await;
    let mut jar = Jar::default();
    for acr in [Some(json!("urn:example:pwd")), None] {
        let reply = login_via(&s, &mut jar, "/", |c| match &acr {
            Some(acr) => set(c, "acr", acr.clone()),
            None => c,
        })
        .await;
        assert_refused(
            &reply,
            StatusCode::FORBIDDEN,
            AuthErrorKind::AcrNotAccepted,
            &jar,
        );
        assert!(
            reply.body.contains("A stronger sign-in is required"),
            "{}",
            reply.body
        );
        assert!(
            !reply.body.contains("urn:example:pwd"),
            "no claim value is shown"
        );
    }
    // A login that narrowed the values is held to its own: `hwk` passes the configuration
    // but not a login that asked for `mfa` alone.
    let reply = login_via(
        &s,
        &mut jar,
        "/auth/login?acr_values=urn%3Aexample%3Amfa",
        |c| set(c, "acr", json!("urn:example:hwk")),
    )
    .await;
    assert_refused(
        &reply,
        StatusCode::FORBIDDEN,
        AuthErrorKind::AcrNotAccepted,
        &jar,
    );
    let reply = login_via(&s, &mut jar, "/", |c| {
        set(c, "acr", json!("urn:example:hwk"))
    })
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert!(jar.session().is_some());

    // Not required: a request only.
    let s = MockApp::start(|b| b.with_acr_values("urn:example:mfa")).await;
    let mut jar = Jar::default();
    let reply = login_via(&s, &mut jar, "/", |c| {
        set(c, "acr", json!("urn:example:pwd"))
    })
    .await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
}

#[tokio::test]
async fn prompt_none_refusals_get_the_clear_error_page() {
    let s = setup().await;
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/auth/login?prompt=none").await;
    assert_eq!(query(&started.authorize_url)["prompt"], "none");
    let reply = provider_error(&s, &mut jar, &started, "login_required").await;
    assert!(reply.body.contains("login_required"), "{}", reply.body);
    assert!(reply.body.contains("prompt=none"), "{}", reply.body);
    assert_eq!(s.idp.hits.token(), 0);
}
