//! The layer against the built-in development provider, composed as the quickstart does:
//! sign in as each test user by picking them, the way a person would.

mod support;

use axum::http::StatusCode;
use reqwest::redirect::Policy;
use support::*;
use tower_oidc::{OidcConfig, OidcLayer};
use tower_oidc_dev_idp::{DevClient, DevIdp};

async fn sign_in_as(user: &str) -> serde_json::Value {
    let idp = DevIdp::spawn(|idp| {
        idp.with_client(
            DevClient::new("app", CLIENT_SECRET)
                .add_redirect_uri(format!("{BASE_URL}/auth/callback")),
        )
        .with_default_users()
    })
    .await
    .unwrap();
    let config = OidcConfig::builder()
        .with_issuer(idp.issuer())
        .with_client_id("app")
        .with_client_secret(CLIENT_SECRET)
        .with_base_url(BASE_URL)
        .build()
        .unwrap();
    let app = app(OidcLayer::new(config));
    let mut jar = Jar::default();
    let start = jar.get(&app, "/reports?id=3").await;
    assert_eq!(start.status, StatusCode::FOUND);

    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let picker = http.get(start.location()).send().await.unwrap();
    assert_eq!(picker.status(), StatusCode::OK);
    let page = picker.text().await.unwrap();
    assert!(
        page.contains(&format!("value=\"{user}\"")),
        "{user} is offered"
    );
    let mut form = hidden_fields(&page);
    form.push(("user".into(), user.into()));
    let chosen = http
        .post(format!("{}/authorize", idp.issuer()))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let back = chosen.headers()["location"].to_str().unwrap().to_owned();
    assert!(
        back.starts_with(&format!("{BASE_URL}/auth/callback?")),
        "{back}"
    );
    let done = jar.get(&app, back.strip_prefix(BASE_URL).unwrap()).await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    assert_eq!(done.location(), "/reports?id=3");
    let me = jar.get(&app, "/me").await;
    assert_eq!(me.status, StatusCode::OK);
    me.json()
}

#[tokio::test]
async fn alice_signs_in_with_her_groups() {
    let me = sign_in_as("alice").await;
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["groups"], serde_json::json!(["admins", "readers"]));
    assert_eq!(me["email_verified"], true);
}

#[tokio::test]
async fn mallory_signs_in_unverified_and_without_groups() {
    let me = sign_in_as("mallory").await;
    assert_eq!(me["subject"], "mallory");
    assert_eq!(me["groups"], serde_json::json!([]));
    assert_eq!(me["email_verified"], false);
}
