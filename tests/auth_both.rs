//! `AUTH_METHOD=both`, through the `auth_both` example itself: the chooser page, the local
//! administrator's password login beside SSO, and SSO through the development IdP.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/auth_both.rs"]
mod example;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use example::LocalLogin;
use reqwest::redirect::Policy;
use support::*;
use tower::ServiceExt;
use tower_oidc::OidcConfig;
use tower_oidc_dev_idp::RunningDevIdp;

const PASSWORD: &str = "correct horse battery staple";

/// The example's app with SSO through a development IdP, driven in-process at `BASE_URL`.
async fn setup() -> (RunningDevIdp, Router) {
    let (idp, sso) = example::dev_sso(BASE_URL).await.unwrap();
    let app = example::app(sso, LocalLogin::new(PASSWORD, false)).unwrap();
    (idp, app)
}

/// Posts an HTML form as a browser would, with the jar's cookies.
async fn post_form(jar: &mut Jar, app: &Router, path: &str, form: &[(&str, &str)]) -> Reply {
    let mut req =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if !jar.0.is_empty() {
        req = req.header(header::COOKIE, jar.header());
    }
    let body = serde_urlencoded::to_string(form).unwrap();
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let reply = read(res).await;
    jar.absorb(&reply);
    reply
}

/// `/api/me` as a script asks for it.
async fn api_me(jar: &mut Jar, app: &Router) -> Reply {
    jar.send(
        app,
        Request::get("/api/me").header(header::ACCEPT, "application/json"),
    )
    .await
}

/// Signs in with the local password from the login form for `return_to`.
async fn local_sign_in(jar: &mut Jar, app: &Router, password: &str, return_to: &str) -> Reply {
    let q = serde_urlencoded::to_string([("return_to", return_to)]).unwrap();
    let form = jar.get(app, &format!("/local/login?{q}")).await;
    assert_eq!(form.status, StatusCode::OK, "{form:?}");
    let hidden = hidden_fields(&form.body);
    let mut fields: Vec<(&str, &str)> = hidden
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    fields.extend([("username", "admin"), ("password", password)]);
    post_form(jar, app, "/local/login", &fields).await
}

fn assert_chooser(reply: &Reply, return_to_encoded: &str) {
    assert_eq!(reply.status, StatusCode::OK, "{reply:?}");
    assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
    assert!(
        reply.body.contains(&format!(
            "<a href=\"/auth/login/dev-idp?return_to={return_to_encoded}\">Sign in with Development IdP</a>"
        )),
        "{}",
        reply.body
    );
    assert!(
        reply.body.contains(&format!(
            "<a href=\"/local/login?return_to={return_to_encoded}\">Sign in with a local account</a>"
        )),
        "{}",
        reply.body
    );
}

#[tokio::test]
async fn anonymous_navigation_gets_the_chooser_with_sso_and_local_links() {
    let (_idp, app) = setup().await;
    let mut jar = Jar::default();
    let reply = jar.get(&app, "/?tab=2").await;
    assert_chooser(&reply, "%2F%3Ftab%3D2");
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
}

#[tokio::test]
async fn anonymous_api_request_gets_401_json() {
    let (_idp, app) = setup().await;
    let reply = api_me(&mut Jar::default(), &app).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert_eq!(reply.json()["error"], "unauthenticated");
}

#[tokio::test]
async fn local_admin_signs_in_without_any_sso_session() {
    let (_idp, app) = setup().await;
    let mut jar = Jar::default();
    let reply = local_sign_in(&mut jar, &app, PASSWORD, "/api/me?x=1").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    assert_eq!(reply.location(), "/api/me?x=1");

    let cookies = reply.set_cookies();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let cookie = &cookies[0];
    assert!(cookie.starts_with("local-admin="), "{cookie}");
    for attr in ["; HttpOnly", "; SameSite=Lax", "; Path=/", "; Max-Age="] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(!cookie.contains("Secure"), "http BASE_URL: {cookie}");
    let token = &jar.0["local-admin"];
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .unwrap();
    assert_eq!(raw.len(), 32, "a 32-byte random token");

    assert!(jar.session().is_none(), "no SSO session: {jar:?}");
    let home = jar.get(&app, "/").await;
    assert_eq!(home.status, StatusCode::OK, "{home:?}");
    assert!(
        home.body.contains("local administrator <code>admin</code>"),
        "{}",
        home.body
    );
    assert!(!home.body.contains("Sign in with"), "not the chooser");
    let me = api_me(&mut jar, &app).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(
        me.json(),
        serde_json::json!({"kind": "local", "username": "admin", "admin": true})
    );
    assert_eq!(me.headers[header::CACHE_CONTROL], "no-store", "protected");
}

#[tokio::test]
async fn wrong_password_gets_401_and_no_cookie() {
    let (_idp, app) = setup().await;
    let mut jar = Jar::default();
    let reply = local_sign_in(&mut jar, &app, "correct horse battery stapler", "/").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{reply:?}");
    assert!(reply.set_cookies().is_empty(), "{reply:?}");
    assert!(reply.body.contains("Wrong username or password"));
    assert!(
        !reply.body.contains("correct horse"),
        "the password is not echoed"
    );

    let wrong_user = post_form(
        &mut jar,
        &app,
        "/local/login",
        &[("username", "root"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(wrong_user.status, StatusCode::UNAUTHORIZED);
    assert!(wrong_user.set_cookies().is_empty());
    assert!(jar.0.is_empty(), "{jar:?}");
    assert_eq!(
        api_me(&mut jar, &app).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn forged_local_token_is_not_let_through() {
    let (_idp, app) = setup().await;
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([7u8; 32]);
    for value in [forged.as_str(), "", "admin", "true"] {
        let mut jar = Jar::default();
        jar.0.insert("local-admin".into(), value.into());
        assert_chooser(&jar.get(&app, "/").await, "%2F");
        let me = api_me(&mut jar, &app).await;
        assert_eq!(me.status, StatusCode::UNAUTHORIZED, "{value}: {me:?}");
    }
}

#[tokio::test]
async fn local_logout_ends_the_session() {
    let (_idp, app) = setup().await;
    let mut jar = Jar::default();
    let reply = local_sign_in(&mut jar, &app, PASSWORD, "/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let mut stolen = jar.clone();
    assert_eq!(api_me(&mut stolen, &app).await.status, StatusCode::OK);

    let out = post_form(&mut jar, &app, "/local/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER, "{out:?}");
    assert_eq!(out.location(), "/");
    let cookies = out.set_cookies();
    assert!(
        cookies.len() == 1
            && cookies[0].starts_with("local-admin=;")
            && cookies[0].contains("Max-Age=0"),
        "{cookies:?}"
    );
    assert!(jar.0.is_empty(), "{jar:?}");

    // The old token, replayed, no longer works.
    assert_chooser(&stolen.get(&app, "/").await, "%2F");
    assert_eq!(
        api_me(&mut stolen, &app).await.status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn sso_still_works_beside_the_local_login() {
    let (idp, app) = setup().await;
    let mut jar = Jar::default();
    let chooser = jar.get(&app, "/api/me").await;
    assert_chooser(&chooser, "%2Fapi%2Fme");

    // Follow the chooser's SSO link to the development IdP and pick bob there.
    let start = jar
        .get(&app, "/auth/login/dev-idp?return_to=%2Fapi%2Fme")
        .await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    assert!(
        start.location().starts_with(idp.issuer()),
        "{}",
        start.location()
    );
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let picker = http.get(start.location()).send().await.unwrap();
    assert_eq!(picker.status(), StatusCode::OK);
    let mut form = hidden_fields(&picker.text().await.unwrap());
    form.push(("user".into(), "bob".into()));
    let chosen = http
        .post(format!("{}/authorize", idp.issuer()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let back = chosen.headers()["location"].to_str().unwrap().to_owned();
    let done = jar
        .get(&app, back.strip_prefix(BASE_URL).expect("back at the app"))
        .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/api/me");
    assert!(jar.session().is_some(), "an SSO session: {jar:?}");
    assert!(!jar.0.contains_key("local-admin"), "{jar:?}");

    let me = api_me(&mut jar, &app).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    let me = me.json();
    assert_eq!(me["kind"], "sso");
    assert_eq!(me["subject"], "bob");
    assert_eq!(me["issuer"], idp.issuer());
    assert_eq!(me["groups"], serde_json::json!(["readers"]));
    let home = jar.get(&app, "/").await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(home.body.contains("Signed in with SSO as"), "{}", home.body);
}

#[tokio::test]
async fn local_login_return_to_cannot_leave_the_origin() {
    let (_idp, app) = setup().await;
    for evil in [
        "//evil.example",
        "https://evil.example",
        "/\\evil.example",
        "evil.example",
        "/ok\r\nSet-Cookie: x=1",
    ] {
        let mut jar = Jar::default();
        let reply = local_sign_in(&mut jar, &app, PASSWORD, evil).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{evil}: {reply:?}");
        assert_eq!(reply.location(), "/", "{evil}");
        assert_eq!(reply.set_cookies().len(), 1, "{evil}: {reply:?}");

        // Posted directly, without going through the form, too.
        let mut jar = Jar::default();
        let fields = [
            ("username", "admin"),
            ("password", PASSWORD),
            ("return_to", evil),
        ];
        let reply = post_form(&mut jar, &app, "/local/login", &fields).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{evil}: {reply:?}");
        assert_eq!(reply.location(), "/", "{evil}");
    }
}

#[tokio::test]
async fn local_cookie_is_secure_and_host_prefixed_on_https() {
    // No provider is contacted for a local login: an unreachable issuer will do.
    let sso = OidcConfig::builder()
        .with_issuer("http://127.0.0.1:9")
        .with_client_id("app")
        .with_client_secret(CLIENT_SECRET)
        .with_base_url("https://app.example")
        .with_cookie_key("BVxeiTKHbXb2aPwPlqdW1IIMlGKn66/oMBYKjO0T10c=");
    let app = example::app(sso, LocalLogin::new(PASSWORD, true)).unwrap();
    let mut jar = Jar::default();
    let reply = local_sign_in(&mut jar, &app, PASSWORD, "/").await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{reply:?}");
    let cookie = &reply.set_cookies()[0];
    assert!(cookie.starts_with("__Host-local-admin="), "{cookie}");
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    let me = api_me(&mut jar, &app).await;
    assert_eq!(me.status, StatusCode::OK, "{me:?}");
    assert_eq!(me.json()["kind"], "local");
}
