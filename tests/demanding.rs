//! Demanding providers: `response_mode=form_post`, `private_key_jwt` and `client_secret_jwt`,
//! pushed authorization requests (RFC 9126), signed userinfo and DPoP (RFC 9449). Full logins
//! against real `oidc-provider` instances of the tests' own (server.mjs with `CLIENT_JWKS`,
//! `REQUIRE_PAR`, `JWT_USERINFO`, `DPOP_NONCE`), one per profile and all together; then the
//! attacks and bad input against the in-process provider, each asserting on the status, the
//! cookies and the provider's hits.

mod support;

use std::collections::BTreeMap;

use aws_lc_rs::encoding::AsDer as _;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use serde_json::{json, Value};
use support::real::*;
use support::*;
use tower_oidc::{
    AuthErrorKind, OidcConfig, OidcConfigBuilder, OidcLayer, ResponseMode, TokenAuthMethod,
};

/// Every client of server.mjs shares this secret.
const REAL_SECRET: &str = "tower-oidc-test-secret-0123456789abcdef0123456789";

/// A fresh RSA key (2048 bits) as a PKCS#8 PEM file in the temp folder; returns its path.
fn rsa_key_file(name: &str) -> String {
    let pair = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
    let der = pair.as_der().unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        STANDARD.encode(der.as_ref())
    );
    let path = std::env::temp_dir().join(format!(
        "tower-oidc-demanding-{}-{name}.pem",
        std::process::id()
    ));
    std::fs::write(&path, pem).unwrap();
    path.to_string_lossy().into_owned()
}

/// The builder for the real provider at `issuer`, as client `client_id`.
fn real_config(issuer: &str, client_id: &str) -> OidcConfigBuilder {
    OidcConfig::builder()
        .with_issuer(issuer)
        .with_client_id(client_id)
        .with_scope("openid profile email groups")
        .with_base_url(BASE_URL)
        .with_cookie_key("SyOOR1AK7KPkWn/0K7KNypPzNZWEDOPsIIlcCVoNzXs=")
        .add_public_path("/public")
}

/// Follows the provider's pages from `url` as `user` until it answers with its form_post page
/// (OAuth 2.0 Form Post Response Mode section 2); returns the form's action and fields.
async fn authorize_form_post(
    browser: &Browser,
    url: &str,
    user: &str,
) -> (String, Vec<(String, String)>) {
    let mut next = url.to_owned();
    for _ in 0..20 {
        let res = browser.http.get(&next).send().await.unwrap();
        let status = res.status();
        if status.is_redirection() {
            let location = res.headers()[header::LOCATION].to_str().unwrap();
            assert!(
                !location.starts_with(BASE_URL),
                "a form_post provider redirected to the app: {location}"
            );
            next = browser.absolute(location);
            continue;
        }
        let page = res.text().await.unwrap();
        let action = between(&page, "action=\"", "\"").expect("a form on the provider's page");
        if action.starts_with(BASE_URL) {
            assert!(page.contains("method=\"post\""), "{page}");
            return (action, hidden_fields(&page));
        }
        next = browser.answer_page(&page, user).await;
    }
    panic!("too many redirects at the provider");
}

/// Signs in as alice through `app`, form_post or query as `form_post` says; returns the app's
/// answer to the callback and the authorization URL the app sent the browser to.
async fn real_login(
    app: &axum::Router,
    jar: &mut Jar,
    issuer: &str,
    form_post: bool,
) -> (Reply, String) {
    let browser = Browser::new(issuer);
    let start = jar.get(app, "/").await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    let authorize = start.location().to_owned();
    let reply = if form_post {
        let (action, fields) = authorize_form_post(&browser, &authorize, "alice").await;
        assert_eq!(action, format!("{BASE_URL}/auth/callback"));
        let path = action.strip_prefix(BASE_URL).unwrap().to_owned();
        jar.post_form(app, &path, serde_urlencoded::to_string(&fields).unwrap())
            .await
    } else {
        let back = browser.authorize(&authorize, "alice").await;
        jar.get(app, &path_of(&back)).await
    };
    (reply, authorize)
}

/// The signed-in user's `/me`, after a login that must have succeeded.
async fn signed_in_as_alice(app: &axum::Router, jar: &mut Jar, reply: &Reply) {
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(reply.location(), "/");
    let me = jar.get(app, "/me").await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    let me = me.json();
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["email"], "alice@example.com");
    assert_eq!(me["groups"], json!(["admins", "readers"]));
}

#[tokio::test]
async fn form_post_login_at_the_real_provider() {
    let provider = RealProvider::start_with(0, &[]);
    let config = real_config(&provider.issuer(), "tower-oidc-test")
        .with_client_secret(REAL_SECRET)
        .with_response_mode(ResponseMode::FormPost)
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let start = jar.get(&app, "/").await;
    assert_eq!(query(start.location())["response_mode"], "form_post");
    let login_cookie = start
        .set_cookies()
        .into_iter()
        .find(|c| c.contains("oidc-login-"))
        .unwrap();
    // http loopback: no SameSite attribute, so that the cross-site POST may carry it.
    assert!(!login_cookie.contains("SameSite"), "{login_cookie}");
    assert!(login_cookie.contains("HttpOnly"), "{login_cookie}");
    let mut jar = Jar::default();
    let (reply, _) = real_login(&app, &mut jar, &provider.issuer(), true).await;
    assert_eq!(jar.login_cookies(), 0, "the login cookie is spent");
    signed_in_as_alice(&app, &mut jar, &reply).await;
}

/// A provider whose client `tower-oidc-test-pkjwt` has the public key of `key` (signing with
/// `alg`), with server.mjs's `extra` settings; and that JWKS. The provider's issuer is known only
/// once it runs, and it needs the key: a configuration for any issuer gives the public keys.
fn pkjwt_provider(key: &str, alg: Option<&str>, extra: &[(&str, &str)]) -> (RealProvider, String) {
    let mut keys = real_config("http://127.0.0.1:1", "tower-oidc-test-pkjwt")
        .with_client_assertion_key_file(key);
    if let Some(alg) = alg {
        keys = keys.with_client_assertion_alg(alg);
    }
    let jwks = keys.build().unwrap().client_jwks().expect("a client key");
    let mut env = vec![("CLIENT_JWKS", jwks.as_str())];
    env.extend_from_slice(extra);
    (RealProvider::start_with(0, &env), jwks)
}

#[tokio::test]
async fn private_key_jwt_and_client_secret_jwt_logins_at_the_real_provider() {
    let key = rsa_key_file("pkjwt");
    let (provider, jwks) = pkjwt_provider(&key, None, &[]);
    let jwks: Value = serde_json::from_str(&jwks).unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "RSA");
    assert_eq!(jwks["keys"][0]["alg"], "RS256");
    assert!(
        jwks["keys"][0].get("d").is_none(),
        "public keys only: {jwks}"
    );
    let config = real_config(&provider.issuer(), "tower-oidc-test-pkjwt")
        .with_client_assertion_key_file(&key)
        .build()
        .unwrap();
    alice_signs_in(config, &provider.issuer(), false).await;

    // Another key than the one registered: the page names the key file, not a secret.
    let other = rsa_key_file("unregistered");
    let config = real_config(&provider.issuer(), "tower-oidc-test-pkjwt")
        .with_client_assertion_key_file(&other)
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let (refused, _) = real_login(&app, &mut jar, &provider.issuer(), false).await;
    assert_eq!(
        refused.status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "{refused:?}"
    );
    assert_eq!(refused.kind(), AuthErrorKind::ClientRejected.as_str());
    assert!(
        refused.body.contains("OIDC_CLIENT_ASSERTION_KEY_FILE"),
        "{}",
        refused.body
    );
    assert!(jar.session().is_none());

    let config = real_config(&provider.issuer(), "tower-oidc-test-secret-jwt")
        .with_client_secret(REAL_SECRET)
        .with_token_auth_method(TokenAuthMethod::ClientSecretJwt)
        .build()
        .unwrap();
    alice_signs_in(config, &provider.issuer(), false).await;
}

/// A full login of alice through an app for `config`, at the provider `issuer`; returns the
/// authorization URL the app sent the browser to.
async fn alice_signs_in(config: OidcConfig, issuer: &str, form_post: bool) -> String {
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let (reply, authorize) = real_login(&app, &mut jar, issuer, form_post).await;
    signed_in_as_alice(&app, &mut jar, &reply).await;
    authorize
}

#[tokio::test]
async fn pushed_authorization_requests_at_the_real_provider() {
    // Required by the provider's discovery: the configuration need not say so.
    let provider = RealProvider::start_with(0, &[("REQUIRE_PAR", "on")]);
    let config = real_config(&provider.issuer(), "tower-oidc-test")
        .with_client_secret(REAL_SECRET)
        .build()
        .unwrap();
    let authorize = alice_signs_in(config, &provider.issuer(), false).await;
    let params = query(&authorize);
    assert_eq!(
        params.keys().collect::<Vec<_>>(),
        ["client_id", "request_uri"],
        "only the client and the request URI travel through the browser: {authorize}"
    );
    assert!(params["request_uri"].starts_with("urn:ietf:params:oauth:request_uri:"));

    // Asked for by the configuration, at a provider that only offers it.
    let provider = RealProvider::start_with(0, &[]);
    let config = real_config(&provider.issuer(), "tower-oidc-test-post")
        .with_client_secret(REAL_SECRET)
        .with_token_auth_method(TokenAuthMethod::ClientSecretPost)
        .require_par(true)
        .build()
        .unwrap();
    let authorize = alice_signs_in(config, &provider.issuer(), false).await;
    assert!(query(&authorize).contains_key("request_uri"), "{authorize}");
    assert!(!query(&authorize).contains_key("state"), "{authorize}");
}

#[tokio::test]
async fn signed_userinfo_at_the_real_provider() {
    // The provider's ID tokens carry no profile claims (conformIdTokenClaims): email and groups
    // come from the signed userinfo.
    let provider = RealProvider::start_with(0, &[("JWT_USERINFO", "on")]);
    let config = real_config(&provider.issuer(), "tower-oidc-test")
        .with_client_secret(REAL_SECRET)
        .build()
        .unwrap();
    alice_signs_in(config, &provider.issuer(), false).await;
}

#[tokio::test]
async fn every_demand_together_at_the_real_provider() {
    let key = rsa_key_file("together");
    let extra = [
        ("REQUIRE_PAR", "on"),
        ("JWT_USERINFO", "on"),
        ("DPOP_NONCE", "on"),
    ];
    let (provider, _) = pkjwt_provider(&key, Some("PS256"), &extra);
    let config = real_config(&provider.issuer(), "tower-oidc-test-pkjwt")
        .with_client_assertion_key_file(&key)
        .with_client_assertion_alg("PS256")
        .with_response_mode(ResponseMode::FormPost)
        .require_par(true)
        .dpop(true)
        .with_jwks_path("/auth/jwks")
        .build()
        .unwrap();
    let served = Jar::default()
        .get(&app(OidcLayer::new(config.clone())), "/auth/jwks")
        .await;
    assert_eq!(served.status, StatusCode::OK);
    assert_eq!(
        served.headers[header::CONTENT_TYPE],
        "application/jwk-set+json"
    );
    assert_eq!(served.json()["keys"][0]["alg"], "PS256");
    assert!(served.json()["keys"][0].get("d").is_none());
    let authorize = alice_signs_in(config, &provider.issuer(), true).await;
    assert!(query(&authorize).contains_key("request_uri"), "{authorize}");
}

// ---------------------------------------------------------------------------------------------
// Attacks and bad input, against the in-process provider.
// ---------------------------------------------------------------------------------------------

async fn form_post_app() -> MockApp {
    MockApp::start(|b| b.with_response_mode(ResponseMode::FormPost)).await
}

/// The form_post answer for `started`, with these parameters instead of the right ones.
fn answer(s: &MockApp, state: &str, edit: impl FnOnce(&mut BTreeMap<&str, String>)) -> String {
    let mut form = BTreeMap::from([
        ("code", "code-1".to_owned()),
        ("state", state.to_owned()),
        ("iss", s.idp.issuer.clone()),
    ]);
    edit(&mut form);
    serde_urlencoded::to_string(&form).unwrap()
}

/// Starts a login whose ID token will be good.
async fn started(s: &MockApp, jar: &mut Jar) -> Started {
    let started = start_login(jar, &s.app, "/").await;
    let token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    s.idp.with(|st| st.id_token = Some(token));
    started
}

#[tokio::test]
async fn a_form_post_callback_with_a_wrong_state_or_iss_makes_no_token_call() {
    let s = form_post_app().await;
    let mut jar = Jar::default();
    let login = started(&s, &mut jar).await;
    assert_eq!(query(&login.authorize_url)["response_mode"], "form_post");

    let wrong_state = jar
        .post_form(&s.app, "/auth/callback", answer(&s, "forged-state", |_| {}))
        .await;
    assert_eq!(
        wrong_state.status,
        StatusCode::BAD_REQUEST,
        "{wrong_state:?}"
    );
    assert_eq!(wrong_state.kind(), AuthErrorKind::LoginExpired.as_str());

    let wrong_iss = jar
        .post_form(
            &s.app,
            "/auth/callback",
            answer(&s, &login.state, |f| {
                f.insert("iss", "https://evil.example.com".into());
            }),
        )
        .await;
    assert_eq!(wrong_iss.status, StatusCode::BAD_REQUEST, "{wrong_iss:?}");
    assert_eq!(wrong_iss.kind(), AuthErrorKind::IssuerMismatch.as_str());
    assert!(jar.session().is_none());
    assert_eq!(
        s.idp.hits.token(),
        0,
        "no code is redeemed after a bad state or iss"
    );
}

#[tokio::test]
async fn a_get_to_a_form_post_callback_is_refused_and_the_login_still_works() {
    let s = form_post_app().await;
    let mut jar = Jar::default();
    let login = started(&s, &mut jar).await;
    let get = callback(&mut jar, &s.app, &s.idp, &login.state).await;
    assert_eq!(get.status, StatusCode::METHOD_NOT_ALLOWED, "{get:?}");
    assert_eq!(get.headers[header::ALLOW], "POST");
    assert_eq!(get.kind(), AuthErrorKind::MalformedCallback.as_str());
    assert_eq!(s.idp.hits.token(), 0);
    assert_eq!(jar.login_cookies(), 1, "the login is left untouched");

    let posted = jar
        .post_form(&s.app, "/auth/callback", answer(&s, &login.state, |_| {}))
        .await;
    assert_eq!(posted.status, StatusCode::FOUND, "{posted:?}");
    assert_eq!(posted.location(), "/");
    assert!(jar.session().is_some());
    assert_eq!(s.idp.hits.token(), 1);

    // A query provider's callback takes no POST.
    let q = MockApp::start(|b| b).await;
    let mut jar = Jar::default();
    let login = started(&q, &mut jar).await;
    let post = jar
        .post_form(&q.app, "/auth/callback", answer(&q, &login.state, |_| {}))
        .await;
    assert_eq!(post.status, StatusCode::METHOD_NOT_ALLOWED, "{post:?}");
    assert_eq!(post.headers[header::ALLOW], "GET");
    assert_eq!(q.idp.hits.token(), 0);
}

#[tokio::test]
async fn a_form_posted_error_gets_the_same_page_as_in_the_query() {
    let s = form_post_app().await;
    let mut jar = Jar::default();
    let login = started(&s, &mut jar).await;
    let denied = jar
        .post_form(
            &s.app,
            "/auth/callback",
            answer(&s, &login.state, |f| {
                f.remove("code");
                f.insert("error", "access_denied".into());
            }),
        )
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{denied:?}");
    assert_eq!(denied.kind(), AuthErrorKind::ProviderDenied.as_str());
    assert!(denied.body.contains("(access_denied)"), "{}", denied.body);
    assert_eq!(s.idp.hits.token(), 0);
}

#[tokio::test]
async fn a_malformed_form_post_body_is_a_clear_400() {
    let s = form_post_app().await;
    let mut jar = Jar::default();
    let login = started(&s, &mut jar).await;
    let not_utf8 = jar
        .post_form(&s.app, "/auth/callback", vec![0xffu8, 0xfe, b'=', b'1'])
        .await;
    assert_eq!(not_utf8.status, StatusCode::BAD_REQUEST, "{not_utf8:?}");
    assert_eq!(not_utf8.kind(), AuthErrorKind::MalformedCallback.as_str());
    let repeated = format!("state={0}&state={0}&code=c", login.state);
    let twice = jar.post_form(&s.app, "/auth/callback", repeated).await;
    assert_eq!(twice.kind(), AuthErrorKind::MalformedCallback.as_str());
    let huge = format!("code={}&state={}", "a".repeat(20_000), login.state);
    let large = jar.post_form(&s.app, "/auth/callback", huge).await;
    assert_eq!(large.status, StatusCode::BAD_REQUEST, "{large:?}");
    assert_eq!(large.kind(), AuthErrorKind::MalformedCallback.as_str());
    let text = jar
        .send(
            &s.app,
            Request::post("/auth/callback").header(header::CONTENT_TYPE, "text/plain"),
        )
        .await;
    assert_eq!(text.status, StatusCode::BAD_REQUEST, "{text:?}");
    assert_eq!(s.idp.hits.token(), 0);
    // The login is still there to finish.
    let posted = jar
        .post_form(&s.app, "/auth/callback", answer(&s, &login.state, |_| {}))
        .await;
    assert_eq!(posted.status, StatusCode::FOUND, "{posted:?}");
}

#[tokio::test]
async fn the_form_post_login_cookie_alone_crosses_sites_on_https() {
    let s = MockApp::start(|b| {
        b.with_base_url("https://app.example.com")
            .with_response_mode(ResponseMode::FormPost)
    })
    .await;
    let mut jar = Jar::default();
    let start = jar.get(&s.app, "/").await;
    let cookies = start.set_cookies();
    let login = cookies.iter().find(|c| c.contains("oidc-login-")).unwrap();
    assert!(login.starts_with("__Host-"), "{login}");
    assert!(
        login.contains("SameSite=None") && login.contains("Secure"),
        "{login}"
    );
    // A query provider's login cookie stays Lax.
    let q = MockApp::start(|b| b.with_base_url("https://app.example.com")).await;
    let start = Jar::default().get(&q.app, "/").await;
    let cookies = start.set_cookies();
    let login = cookies.iter().find(|c| c.contains("oidc-login-")).unwrap();
    assert!(login.contains("SameSite=Lax"), "{login}");
}

/// A login whose ID token lacks the groups, so userinfo (answering `jwt`) is asked.
async fn login_with_signed_userinfo(
    s: &MockApp,
    jwt: impl FnOnce(&Value) -> String,
) -> (Reply, Jar) {
    let mut jar = Jar::default();
    let login = start_login(&mut jar, &s.app, "/").await;
    let mut claims = s.idp.claims(&s.clock, &login.nonce);
    claims.as_object_mut().unwrap().remove("groups");
    let token = SigningKey::first().sign(&claims);
    let now = s.clock.secs();
    let info = json!({
        "iss": s.idp.issuer, "aud": CLIENT_ID, "sub": "user-1", "iat": now,
        "email": "jane@example.com", "groups": ["auditors"],
    });
    let signed = jwt(&info);
    s.idp.with(|st| {
        st.id_token = Some(token);
        st.userinfo_jwt = Some(signed);
    });
    let reply = callback(&mut jar, &s.app, &s.idp, &login.state).await;
    (reply, jar)
}

#[tokio::test]
async fn a_signed_userinfo_is_checked_like_an_id_token() {
    let s = MockApp::start(|b| b).await;
    let (good, mut jar) = login_with_signed_userinfo(&s, |c| SigningKey::first().sign(c)).await;
    assert_eq!(good.status, StatusCode::FOUND, "{good:?}");
    assert_eq!(
        jar.get(&s.app, "/me").await.json()["groups"],
        json!(["auditors"])
    );

    let (bad_signature, jar) =
        login_with_signed_userinfo(&s, |c| SigningKey::second().sign(c)).await;
    assert_eq!(
        bad_signature.status,
        StatusCode::UNAUTHORIZED,
        "{bad_signature:?}"
    );
    assert_eq!(
        bad_signature.kind(),
        AuthErrorKind::InvalidUserinfo.as_str()
    );
    assert!(jar.session().is_none());

    let (other_user, _) = login_with_signed_userinfo(&s, |c| {
        let mut c = c.clone();
        c["sub"] = json!("user-2");
        SigningKey::first().sign(&c)
    })
    .await;
    assert_eq!(
        other_user.status,
        StatusCode::UNAUTHORIZED,
        "{other_user:?}"
    );
    assert_eq!(other_user.kind(), AuthErrorKind::InvalidUserinfo.as_str());
    assert!(
        other_user.body.contains("another user"),
        "{}",
        other_user.body
    );

    let (other_audience, _) = login_with_signed_userinfo(&s, |c| {
        let mut c = c.clone();
        c["aud"] = json!("someone-else");
        SigningKey::first().sign(&c)
    })
    .await;
    assert_eq!(
        other_audience.kind(),
        AuthErrorKind::InvalidUserinfo.as_str()
    );

    let (not_a_jws, _) = login_with_signed_userinfo(&s, |_| "bm90.YS1qd3Q.eA".into()).await;
    assert_eq!(not_a_jws.status, StatusCode::UNAUTHORIZED, "{not_a_jws:?}");
    let (encrypted, _) = login_with_signed_userinfo(&s, |_| "a.b.c.d.e".into()).await;
    assert_eq!(encrypted.status, StatusCode::BAD_GATEWAY, "{encrypted:?}");
}

/// The claims of a JWT, unverified.
fn payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A whole login at the in-process provider with a good ID token, which must succeed.
async fn good_login(s: &MockApp) {
    let mut jar = Jar::default();
    let key = SigningKey::first();
    let reply = login_with(&mut jar, &s.app, &s.idp, &key, |c| c, &s.clock).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
}

#[tokio::test]
async fn each_client_assertion_is_fresh_short_and_names_the_token_endpoint() {
    let key = rsa_key_file("mock");
    let s = MockApp::start(|b| b.with_client_assertion_key_file(&key)).await;
    for _ in 0..2 {
        good_login(&s).await;
    }
    let requests = s.idp.with(|st| st.token_requests.clone());
    let claims: Vec<Value> = requests
        .iter()
        .map(|(auth, form)| {
            assert!(auth.is_none(), "no Basic credentials beside the assertion");
            assert!(!form.contains_key("client_secret"));
            assert_eq!(form["client_id"], CLIENT_ID);
            assert_eq!(
                form["client_assertion_type"],
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            );
            payload(&form["client_assertion"])
        })
        .collect();
    for c in &claims {
        assert_eq!(c["iss"], CLIENT_ID);
        assert_eq!(c["sub"], CLIENT_ID);
        assert_eq!(c["aud"], format!("{}/token", s.idp.issuer));
        assert_eq!(c["exp"].as_u64().unwrap() - c["iat"].as_u64().unwrap(), 60);
    }
    assert_ne!(
        claims[0]["jti"], claims[1]["jti"],
        "a fresh jti per assertion"
    );
    assert!(claims[0]["jti"].as_str().unwrap().len() >= 22);

    // Addressed to the issuer when the provider asks for it.
    let s = MockApp::start(|b| {
        b.with_client_assertion_key_file(&key)
            .with_client_assertion_audience(tower_oidc::AssertionAudience::Issuer)
    })
    .await;
    good_login(&s).await;
    let (_, form) = s.idp.with(|st| st.token_requests[0].clone());
    assert_eq!(payload(&form["client_assertion"])["aud"], s.idp.issuer);
}

#[tokio::test]
async fn a_par_failure_gets_the_provider_error_page() {
    // Required by the configuration, but the provider names no endpoint: the page names the
    // setting.
    let logs = LogBuffer::default();
    let s = MockApp::start(|b| b.require_par(true)).await;
    let reply = {
        let _logged = tracing::subscriber::set_default(logs.subscriber(tracing::Level::WARN));
        Jar::default().get(&s.app, "/").await
    };
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
    assert!(reply.body.contains("OIDC_REQUIRE_PAR"), "{}", reply.body);
    assert_eq!(s.idp.hits.token(), 0);
    let text = logs.text();
    assert!(
        text.contains("OIDC_REQUIRE_PAR is on, but the provider's discovery document names no pushed_authorization_request_endpoint"),
        "a warning at the first discovery: {text}"
    );

    for (status, body, want) in [
        (
            StatusCode::BAD_REQUEST,
            r#"{"error":"invalid_request"}"#,
            StatusCode::BAD_GATEWAY,
        ),
        (StatusCode::CREATED, "<html>", StatusCode::BAD_GATEWAY),
        (
            StatusCode::CREATED,
            r#"{"request_uri":""}"#,
            StatusCode::BAD_GATEWAY,
        ),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "",
            StatusCode::SERVICE_UNAVAILABLE,
        ),
    ] {
        let s = MockApp::start(|b| b.require_par(true)).await;
        s.idp.with(|st| st.par = Some((status, body.to_owned())));
        let reply = Jar::default().get(&s.app, "/").await;
        assert_eq!(reply.status, want, "{status} {body}: {reply:?}");
        assert!(reply.headers.get(header::LOCATION).is_none());
        assert_eq!(s.idp.with(|st| st.par_requests.len()), 1);
    }

    // A good answer: the browser carries only the client id and the request URI; the pushed
    // form holds the parameters and the client's credentials.
    let s = MockApp::start(|b| b.require_par(true)).await;
    s.idp.with(|st| {
        st.par = Some((
            StatusCode::CREATED,
            r#"{"request_uri":"urn:ietf:params:oauth:request_uri:abc","expires_in":60}"#.into(),
        ))
    });
    let reply = Jar::default().get(&s.app, "/").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let params = query(reply.location());
    assert_eq!(params.len(), 2, "{params:?}");
    assert_eq!(
        params["request_uri"],
        "urn:ietf:params:oauth:request_uri:abc"
    );
    let (auth, form) = s.idp.with(|st| st.par_requests[0].clone());
    assert!(auth.unwrap().starts_with("Basic "));
    assert_eq!(form["client_id"], CLIENT_ID);
    assert_eq!(form["code_challenge_method"], "S256");
    assert!(form.contains_key("state") && form.contains_key("nonce"));
}

#[test]
fn misconfigured_demands_are_startup_errors_naming_the_variable() {
    let vars = |extra: &[(&str, &str)]| {
        let mut v = vec![
            ("OIDC_ISSUER_URL", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "app"),
            ("BASE_URL", "https://app.example.com"),
            (
                "OIDC_COOKIE_KEY",
                "bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=",
            ),
        ];
        v.extend_from_slice(extra);
        OidcConfig::from_vars(v)
    };
    let err = vars(&[("OIDC_RESPONSE_MODE", "fragment")]).unwrap_err();
    assert!(err.mentions("OIDC_RESPONSE_MODE"), "{err}");
    let err = vars(&[("OIDC_CLIENT_ASSERTION_KEY_FILE", "/nonexistent/key.pem")]).unwrap_err();
    assert!(err.mentions("OIDC_CLIENT_ASSERTION_KEY_FILE"), "{err}");
    assert!(err.to_string().contains("cannot be read"), "{err}");
    let err = vars(&[("OIDC_TOKEN_ENDPOINT_AUTH_METHOD", "private_key_jwt")]).unwrap_err();
    assert!(err.mentions("OIDC_CLIENT_ASSERTION_KEY_FILE"), "{err}");
    let key = rsa_key_file("startup");
    let err = vars(&[
        ("OIDC_CLIENT_ASSERTION_KEY_FILE", key.as_str()),
        ("OIDC_CLIENT_ASSERTION_ALG", "ES256"),
    ])
    .unwrap_err();
    assert!(err.mentions("OIDC_CLIENT_ASSERTION_KEY_FILE"), "{err}");
    let err = vars(&[("OIDC_REQUIRE_PAR", "sometimes")]).unwrap_err();
    assert!(err.mentions("OIDC_REQUIRE_PAR"), "{err}");
    let err = vars(&[("OIDC_JWKS_PATH", "jwks")]).unwrap_err();
    assert!(err.mentions("OIDC_JWKS_PATH"), "{err}");
    let err = vars(&[("OIDC_DPOP", "maybe")]).unwrap_err();
    assert!(err.mentions("OIDC_DPOP"), "{err}");
    let err = vars(&[
        ("OIDC_PROVIDER_1_ISSUER_URL", "https://one.example.com"),
        ("OIDC_PROVIDER_1_CLIENT_ID", "app"),
        ("OIDC_PROVIDER_1_DPOP", "maybe"),
    ])
    .unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_1_DPOP"), "{err}");
    let file = std::env::temp_dir().join(format!("tower-oidc-dpop-{}.toml", std::process::id()));
    std::fs::write(&file, "dpop = true\n").unwrap();
    let path = file.display().to_string();
    vars(&[("OIDC_CONFIG_FILE", path.as_str())]).expect("the file key dpop is known");
    std::fs::write(&file, "dpop = \"sometimes\"\n").unwrap();
    let err = vars(&[("OIDC_CONFIG_FILE", path.as_str())]).unwrap_err();
    assert!(err.to_string().contains("dpop"), "{err}");
    std::fs::remove_file(&file).unwrap();
    let ok = vars(&[
        ("OIDC_CLIENT_ASSERTION_KEY_FILE", key.as_str()),
        ("OIDC_RESPONSE_MODE", "form_post"),
        ("OIDC_REQUIRE_PAR", "true"),
    ])
    .unwrap();
    assert!(ok.client_jwks().unwrap().contains("\"kty\":\"RSA\""));
}

#[tokio::test]
async fn the_doctor_reports_what_the_provider_does_not_offer() {
    let key = rsa_key_file("doctor");
    let s = MockApp::start(|b| b.require_par(true).with_client_assertion_key_file(&key)).await;
    let config = s
        .idp
        .config(&s.clock)
        .require_par(true)
        .dpop(true)
        .with_client_assertion_key_file(&key);
    let report = tower_oidc::diagnostics::check(&config.build().unwrap()).await;
    let lines: Vec<_> = report
        .checks()
        .iter()
        .filter(|c| c.topic() == "provider requirements")
        .collect();
    assert_eq!(lines.len(), 3, "{report}");
    assert_eq!(lines[0].status(), tower_oidc::diagnostics::Status::Error);
    assert!(
        lines[0].message().starts_with("OIDC_REQUIRE_PAR is on"),
        "{report}"
    );
    assert_eq!(lines[1].status(), tower_oidc::diagnostics::Status::Warning);
    assert!(
        lines[1].message().starts_with("OIDC_DPOP is on")
            && lines[1]
                .message()
                .contains("dpop_signing_alg_values_supported"),
        "{report}"
    );
    assert_eq!(lines[2].status(), tower_oidc::diagnostics::Status::Warning);
    assert!(
        lines[2]
            .message()
            .contains("OIDC_TOKEN_ENDPOINT_AUTH_METHOD is private_key_jwt"),
        "{report}"
    );
    assert!(report.has_errors());

    // A provider that offers it all: one good line.
    let (provider, _) = pkjwt_provider(&key, None, &[("REQUIRE_PAR", "on")]);
    let config = real_config(&provider.issuer(), "tower-oidc-test-pkjwt")
        .with_client_assertion_key_file(&key)
        .with_response_mode(ResponseMode::FormPost)
        .dpop(true)
        .build()
        .unwrap();
    let report = tower_oidc::diagnostics::check(&config).await;
    let good: Vec<_> = report
        .checks()
        .iter()
        .filter(|c| c.topic() == "provider requirements")
        .collect();
    assert_eq!(good.len(), 1, "{report}");
    assert_eq!(
        good[0].status(),
        tower_oidc::diagnostics::Status::Ok,
        "{report}"
    );
    assert!(good[0].message().contains("logins are pushed"), "{report}");
    assert!(good[0].message().contains("DPoP-bound"), "{report}");
    let auth: Vec<_> = report
        .checks()
        .iter()
        .filter(|c| c.topic() == "token endpoint auth")
        .collect();
    assert_eq!(
        auth[0].status(),
        tower_oidc::diagnostics::Status::Ok,
        "{report}"
    );
    assert!(auth[0].message().contains("private_key_jwt"), "{report}");
}

/// An app with a server-side store whose `/token` shows the access token, whether it is
/// DPoP-bound, and a proof for a GET of `proof_for`.
fn dpop_app(layer: OidcLayer, proof_for: String) -> axum::Router {
    use axum::routing::get;
    use tower_oidc::{AccessToken, Identity};
    axum::Router::new()
        .route(
            "/",
            get(|me: Identity| async move { me.subject().to_owned() }),
        )
        .route(
            "/me",
            get(|me: Identity| async move {
                axum::Json(json!({
                    "subject": me.subject(), "email": me.email(), "groups": me.groups(),
                }))
            }),
        )
        .route(
            "/token",
            get(move |t: AccessToken| async move {
                axum::Json(json!({
                    "token": t.expose(), "bound": t.is_dpop_bound(),
                    "proof": t.dpop_proof("GET", &proof_for),
                }))
            }),
        )
        .layer(layer)
}

#[tokio::test]
async fn dpop_logins_at_the_real_provider_bind_the_tokens_and_answer_its_nonces() {
    // "on": the provider asks for a nonce at the token endpoint and at userinfo, so the
    // exchange and the userinfo call (email and groups come from userinfo) are each refused
    // once and retried with it; "token": at the token endpoint only, so the app's own proof
    // (which carries no nonce) opens userinfo.
    for nonce in ["on", "token"] {
        let provider = RealProvider::start_with(0, &[("DPOP_NONCE", nonce)]);
        let issuer = provider.issuer();
        let http = reqwest::Client::new();
        let discovery = http
            .get(format!("{issuer}/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let discovery: Value = serde_json::from_str(&discovery).unwrap();
        assert!(
            discovery["dpop_signing_alg_values_supported"]
                .as_array()
                .unwrap()
                .contains(&json!("ES256")),
            "{discovery}"
        );
        let userinfo = discovery["userinfo_endpoint"].as_str().unwrap().to_owned();
        let config = real_config(&issuer, "tower-oidc-test")
            .with_client_secret(REAL_SECRET)
            .with_session_store("memory")
            .dpop(true)
            .build()
            .unwrap();
        let app = dpop_app(OidcLayer::new(config), userinfo.clone());
        let mut jar = Jar::default();
        let (reply, _) = real_login(&app, &mut jar, &issuer, false).await;
        signed_in_as_alice(&app, &mut jar, &reply).await;

        let token = jar.get(&app, "/token").await;
        assert_eq!(token.status, StatusCode::OK, "{token:?}");
        let token = token.json();
        assert_eq!(token["bound"], true, "the provider issued token_type DPoP");
        let access = token["token"].as_str().unwrap();
        // Bound: as a bearer token the provider refuses it.
        let bearer = http
            .get(&userinfo)
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(bearer.status(), 401, "{nonce}");
        if nonce == "token" {
            let proof = token["proof"].as_str().unwrap();
            let call = || {
                http.get(&userinfo)
                    .header(header::AUTHORIZATION, format!("DPoP {access}"))
                    .header("DPoP", proof)
                    .send()
            };
            let with_proof = call().await.unwrap();
            assert_eq!(with_proof.status(), 200);
            let claims: Value = serde_json::from_str(&with_proof.text().await.unwrap()).unwrap();
            assert_eq!(claims["sub"], "alice");
            // A proof is for one request: replayed, it is refused.
            let replayed = call().await.unwrap();
            assert_eq!(replayed.status(), 401);
        }
    }
}

/// A mock provider offering ES256 DPoP proofs and answering `token_type` DPoP, and the app with
/// DPoP on and userinfo always fetched.
async fn dpop_mock() -> MockApp {
    let s = MockApp::start(|b| {
        b.dpop(true)
            .with_userinfo(tower_oidc::UserinfoPolicy::Always)
    })
    .await;
    s.idp.with(|st| {
        st.dpop_algs = Some(vec!["ES256".into()]);
        st.userinfo = json!({"sub": "user-1"});
    });
    s
}

/// A login at `s` whose token endpoint answers `token_type`; returns the callback's reply.
async fn dpop_login(s: &MockApp, token_type: &str) -> Reply {
    let mut jar = Jar::default();
    let started = start_login(&mut jar, &s.app, "/").await;
    let id_token = SigningKey::first().sign(&s.idp.claims(&s.clock, &started.nonce));
    let body = json!({"access_token": "access-token-1", "token_type": token_type,
                      "expires_in": 300, "id_token": id_token});
    s.idp.with(|st| st.token_body = Some(body.to_string()));
    callback(&mut jar, &s.app, &s.idp, &started.state).await
}

/// The requests the mock saw at `path`.
fn seen_at(s: &MockApp, path: &str) -> Vec<DpopSeen> {
    s.idp.with(|st| {
        st.dpop_seen
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    })
}

#[tokio::test]
async fn each_dpop_proof_is_fresh_and_names_its_request_and_token() {
    let s = dpop_mock().await;
    for _ in 0..2 {
        let reply = dpop_login(&s, "DPoP").await;
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    }
    let iss = &s.idp.issuer;
    let mut jtis = Vec::new();
    for (path, method, bound) in [("/token", "POST", false), ("/userinfo", "GET", true)] {
        let seen = seen_at(&s, path);
        assert_eq!(seen.len(), 2, "{path}: {seen:?}");
        for r in seen {
            assert_eq!(r.method, method);
            let proof = r
                .proof
                .expect("a proof at the token and userinfo endpoints");
            let header: Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(proof.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["typ"], "dpop+jwt");
            assert_eq!(header["alg"], "ES256");
            assert!(header["jwk"].get("d").is_none(), "the public key only");
            let claims = payload(&proof);
            assert_eq!(claims["htm"], method);
            assert_eq!(claims["htu"], format!("{iss}{path}"));
            assert!(claims.get("nonce").is_none(), "no nonce was asked for");
            if bound {
                assert_eq!(r.authorization.as_deref(), Some("DPoP access-token-1"));
                let hash = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, b"access-token-1");
                assert_eq!(claims["ath"], URL_SAFE_NO_PAD.encode(hash.as_ref()));
            } else {
                assert!(
                    claims.get("ath").is_none(),
                    "no access token at the token endpoint"
                );
            }
            jtis.push(claims["jti"].as_str().unwrap().to_owned());
        }
    }
    let unique: std::collections::BTreeSet<_> = jtis.iter().collect();
    assert_eq!(unique.len(), 4, "a fresh jti per proof: {jtis:?}");
    // Discovery and the keys get no proof.
    for path in ["/.well-known/openid-configuration", "/jwks"] {
        assert!(
            seen_at(&s, path).iter().all(|r| r.proof.is_none()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_dpop_nonce_is_answered_by_one_retry_and_remembered() {
    let s = dpop_mock().await;
    s.idp.with(|st| {
        st.dpop_nonces.insert(Endpoint::Token, "nonce-t".into());
        st.dpop_nonces.insert(Endpoint::Userinfo, "nonce-u".into());
    });
    let reply = dpop_login(&s, "DPoP").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let nonces = |path| -> Vec<Option<String>> {
        seen_at(&s, path)
            .iter()
            .map(|r| {
                payload(r.proof.as_ref().unwrap())["nonce"]
                    .as_str()
                    .map(str::to_owned)
            })
            .collect()
    };
    assert_eq!(nonces("/token"), [None, Some("nonce-t".to_owned())]);
    // Userinfo first got the token endpoint's nonce (the latest), then its own.
    assert_eq!(
        nonces("/userinfo"),
        [Some("nonce-t".to_owned()), Some("nonce-u".to_owned())]
    );
    // The next login's proofs carry the latest nonce at once.
    s.idp.with(|st| st.dpop_nonces.remove(&Endpoint::Token));
    let reply = dpop_login(&s, "DPoP").await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert_eq!(nonces("/token")[2], Some("nonce-u".to_owned()));
    assert_eq!(s.idp.hits.token(), 3);
    assert_eq!(s.idp.hits.userinfo(), 3);

    // A provider that asks again and again gets one retry, not a loop.
    s.idp.with(|st| {
        st.dpop_nonces.insert(Endpoint::Token, "nonce-t".into());
        st.dpop_nonce_never = true;
    });
    let reply = dpop_login(&s, "DPoP").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
    assert!(
        reply.body.contains("DPoP proof (use_dpop_nonce)"),
        "{}",
        reply.body
    );
    assert_eq!(s.idp.hits.token(), 5, "the first try and one retry");
    assert_eq!(s.idp.hits.userinfo(), 3, "nothing after a refused exchange");
}

#[tokio::test]
async fn without_es256_in_discovery_no_proof_is_sent_and_a_dpop_token_is_refused() {
    let s = dpop_mock().await;
    s.idp.with(|st| st.dpop_algs = Some(vec!["EdDSA".into()]));
    let reply = dpop_login(&s, "DPoP").await;
    assert_eq!(reply.status, StatusCode::BAD_GATEWAY, "{reply:?}");
    assert!(reply.body.contains("OIDC_DPOP"), "{}", reply.body);
    assert!(seen_at(&s, "/token").iter().all(|r| r.proof.is_none()));
    let reply = dpop_login(&s, "Bearer").await;
    assert_eq!(
        reply.status,
        StatusCode::FOUND,
        "a bearer token still works: {reply:?}"
    );
    let userinfo = seen_at(&s, "/userinfo");
    assert_eq!(userinfo.len(), 1);
    assert_eq!(
        userinfo[0].authorization.as_deref(),
        Some("Bearer access-token-1")
    );
    assert!(userinfo[0].proof.is_none());
}
