//! The identity policy through the whole layer: the role map, email domains and the admin
//! flag, decided at every login and carried in the session. Against the in-process provider.

mod support;

use axum::http::StatusCode;
use serde_json::{json, Value};
use support::*;
use tower_oidc::{AuthErrorKind, OidcConfigBuilder, OidcLayer, RoleMap};

struct Setup {
    idp: MockIdp,
    clock: std::sync::Arc<TestClock>,
    app: axum::Router,
}

async fn setup(configure: impl FnOnce(OidcConfigBuilder) -> OidcConfigBuilder) -> Setup {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(configure(idp.config(&clock)).build().unwrap());
    Setup {
        app: app(layer),
        idp,
        clock,
    }
}

fn roles() -> RoleMap {
    RoleMap::builder()
        .add_rule("admins", "app_admin")
        .add_rule("readers", "app_reader")
        .build()
        .unwrap()
}

async fn login(s: &Setup, jar: &mut Jar, edit: impl FnOnce(Value) -> Value) -> Reply {
    login_with(jar, &s.app, &s.idp, &SigningKey::first(), edit, &s.clock).await
}

fn set(claims: Value, key: &str, value: Value) -> Value {
    let mut claims = claims;
    claims[key] = value;
    claims
}

/// A refused login: 403 with the kind, no session cookie kept, and the token endpoint used once.
fn assert_refused(s: &Setup, reply: &Reply, jar: &Jar, kind: AuthErrorKind) {
    assert_eq!(reply.status, StatusCode::FORBIDDEN, "{reply:?}");
    assert_eq!(reply.headers_kind(), Some(kind), "{}", reply.body);
    assert!(reply.body.contains(&format!("Error: {}", kind.as_str())));
    assert!(jar.session().is_none(), "no session after a refusal");
    assert!(
        reply
            .set_cookies()
            .iter()
            .any(|c| c.contains("oidc-session=;") || c.contains("oidc-session=\"\"")),
        "the session cookie is cleared: {:?}",
        reply.set_cookies()
    );
    assert!(
        reply
            .set_cookies()
            .iter()
            .any(|c| c.contains("oidc-logout=;")),
        "and the logout hint of whoever signed in before: {:?}",
        reply.set_cookies()
    );
    assert_eq!(s.idp.hits.token(), 1);
}

trait Kind {
    fn headers_kind(&self) -> Option<AuthErrorKind>;
}

impl Kind for Reply {
    fn headers_kind(&self) -> Option<AuthErrorKind> {
        let marker = "Error: ";
        let at = self.body.find(marker)? + marker.len();
        let name: String = self.body[at..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '_')
            .collect();
        [
            AuthErrorKind::NoRole,
            AuthErrorKind::EmailNotVerified,
            AuthErrorKind::EmailDomainNotAllowed,
            AuthErrorKind::InvalidGroupsClaim,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

#[tokio::test]
async fn the_role_and_admin_flag_travel_in_the_session() {
    let s = setup(|b| b.with_role_map(roles()).with_admin_group("admins")).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| {
        set(c, "groups", json!(["readers", "admins"]))
    })
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    let me = jar.get(&s.app, "/me").await;
    assert_eq!(me.json()["role"], "app_admin");
    assert_eq!(me.json()["admin"], true);
    let role = jar.get(&s.app, "/role").await;
    assert_eq!(role.status, StatusCode::OK);
    assert_eq!(role.body, r#"SET LOCAL ROLE "app_admin""#);
}

#[tokio::test]
async fn a_user_whose_groups_match_no_rule_gets_403_and_no_session() {
    let s = setup(|b| b.with_role_map(roles())).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| set(c, "groups", json!(["contractors"]))).await;
    assert_refused(&s, &done, &jar, AuthErrorKind::NoRole);
    assert!(
        done.body.contains("no role in this application"),
        "{}",
        done.body
    );
    assert!(
        done.body.contains("href=\"/auth/logout\""),
        "offers to sign out to switch accounts"
    );
    let me = jar.get(&s.app, "/me").await;
    assert_eq!(me.status, StatusCode::FOUND, "still not signed in");
}

#[tokio::test]
async fn a_refused_login_ends_the_session_already_in_the_browser() {
    let s = setup(|b| b.with_role_map(roles())).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| set(c, "groups", json!(["readers"]))).await;
    assert_eq!(done.status, StatusCode::FOUND);
    assert!(jar.session().is_some());
    // Someone else signs in from the same browser and is refused: the earlier session goes too.
    let started = start_login(&mut jar, &s.app, "/auth/login").await;
    let claims = set(
        set(
            s.idp.claims(&s.clock, &started.nonce),
            "sub",
            json!("user-2"),
        ),
        "groups",
        json!([]),
    );
    let token = SigningKey::first().sign(&claims);
    s.idp.with(|st| st.id_token = Some(token));
    let done = callback(&mut jar, &s.app, &s.idp, &started.state).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
    assert!(jar.session().is_none(), "the earlier session is cleared");
}

#[tokio::test]
async fn nothing_is_sticky_a_removed_group_loses_the_role_at_the_next_login() {
    let s = setup(|b| b.with_role_map(roles()).with_admin_group("admins")).await;
    let mut jar = Jar::default();
    login(&s, &mut jar, |c| set(c, "groups", json!(["admins"]))).await;
    assert_eq!(jar.get(&s.app, "/me").await.json()["role"], "app_admin");

    let mut next = Jar::default();
    login(&s, &mut next, |c| set(c, "groups", json!(["readers"]))).await;
    let me = next.get(&s.app, "/me").await.json();
    assert_eq!(me["role"], "app_reader");
    assert_eq!(me["admin"], false);

    let mut last = Jar::default();
    let done = login(&s, &mut last, |c| set(c, "groups", json!([]))).await;
    assert_eq!(done.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_groups_claim_of_the_wrong_type_is_a_clear_403() {
    for bad in [
        json!(42),
        json!({"admins": true}),
        json!(["admins", 7]),
        json!(true),
    ] {
        let s = setup(|b| b.with_role_map(roles())).await;
        let mut jar = Jar::default();
        let done = login(&s, &mut jar, |c| set(c, "groups", bad.clone())).await;
        assert_refused(&s, &done, &jar, AuthErrorKind::InvalidGroupsClaim);
    }
    // Also without a role map: the groups claim is still read for the identity.
    let s = setup(|b| b).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| set(c, "groups", json!({"x": 1}))).await;
    assert_refused(&s, &done, &jar, AuthErrorKind::InvalidGroupsClaim);
}

#[tokio::test]
async fn email_domains_match_exactly_and_lookalikes_are_refused() {
    for (email, ok) in [
        ("jane@example.com", true),
        ("jane@EXAMPLE.COM", true),
        ("jane@evil-example.com", false),
        ("jane@example.com.evil.test", false),
        ("jane@sub.example.com", false),
    ] {
        let s = setup(|b| b.add_allowed_email_domain("example.com")).await;
        let mut jar = Jar::default();
        let done = login(&s, &mut jar, |c| set(c, "email", json!(email))).await;
        if ok {
            assert_eq!(done.status, StatusCode::FOUND, "{email}: {done:?}");
        } else {
            assert_refused(&s, &done, &jar, AuthErrorKind::EmailDomainNotAllowed);
        }
    }
}

#[tokio::test]
async fn an_unverified_email_never_passes_a_domain_restriction() {
    let s = setup(|b| b.add_allowed_email_domain("example.com")).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| set(c, "email_verified", json!(false))).await;
    assert_refused(&s, &done, &jar, AuthErrorKind::EmailNotVerified);
}

#[tokio::test]
async fn an_unverified_email_does_not_make_an_admin() {
    let s = setup(|b| b.add_admin_email("jane@example.com")).await;
    let mut jar = Jar::default();
    login(&s, &mut jar, |c| set(c, "email_verified", json!(false))).await;
    assert_eq!(jar.get(&s.app, "/me").await.json()["admin"], false);
    let mut jar = Jar::default();
    login(&s, &mut jar, |c| c).await;
    assert_eq!(jar.get(&s.app, "/me").await.json()["admin"], true);
}

#[tokio::test]
async fn keycloak_realm_roles_with_a_nested_claim_path() {
    let map = RoleMap::builder()
        .with_claim("realm_access.roles")
        .strip_leading_slash(true)
        .ignore_case(true)
        .add_rule("Editors", "app_editor")
        .build()
        .unwrap();
    let s = setup(|b| b.with_role_map(map)).await;
    let mut jar = Jar::default();
    let done = login(&s, &mut jar, |c| {
        set(
            c,
            "realm_access",
            json!({"roles": ["offline_access", "/editors"]}),
        )
    })
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(jar.get(&s.app, "/me").await.json()["role"], "app_editor");
}

#[tokio::test]
async fn the_role_extractor_answers_403_without_a_role_map() {
    let s = setup(|b| b).await;
    let mut jar = Jar::default();
    login(&s, &mut jar, |c| c).await;
    let reply = jar.get(&s.app, "/role").await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(reply.json()["error"], "no_role");
}
