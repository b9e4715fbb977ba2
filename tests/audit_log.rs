//! `examples/audit_log.rs` on a real PostgreSQL (started by `scripts/test.sh`): each sign-in,
//! failed sign-in, refusal and sign-out becomes a row with the client's address and user
//! agent; a forged forwarding header from an untrusted client is ignored, and the address a
//! trusted proxy forwards is recorded. The provider is the in-process mock.

mod support;

#[allow(dead_code, unreachable_pub)]
#[path = "../examples/audit_log.rs"]
mod example;

use std::time::Duration;

use axum::http::StatusCode;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use support::peer::{served, Peer};
use support::pg::*;
use support::*;
use tower_oidc::LoginDecision;

const SETUP_SQL: &str = include_str!("../examples/audit_log.sql");

/// (event_type, user_id, host(ip_address), user_agent, provider, error), oldest first.
type Row = (
    String,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
);

async fn rows(pool: &PgPool, at_least: usize) -> Vec<Row> {
    for _ in 0..100 {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT event_type, user_id, host(ip_address), user_agent, \
                    metadata->>'provider', metadata->>'error' \
             FROM audit_demo.auth_audit_log ORDER BY id",
        )
        .fetch_all(pool)
        .await
        .unwrap();
        if rows.len() >= at_least {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("fewer than {at_least} audit rows were written");
}

#[tokio::test]
async fn each_event_is_a_row_with_the_address_a_trusted_proxy_may_forward() {
    run_setup_sql(SETUP_SQL).await;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect_with(admin_options())
        .await
        .unwrap();
    // This file owns the table: start from no rows.
    sqlx::query("DELETE FROM audit_demo.auth_audit_log")
        .execute(&pool)
        .await
        .unwrap();
    let (sink, _writer) = example::PgAuditSink::spawn(pool.clone());
    let mock = MockApp::start(move |b| {
        b.with_audit_sink(sink)
            .add_trusted_proxy("10.0.0.0/8")
            .with_login_hook(|login| async move {
                if login.claims().get("name").and_then(|v| v.as_str()) == Some("Blocked") {
                    return LoginDecision::refuse("blocked");
                }
                LoginDecision::Allow
            })
    })
    .await;
    let peer = Peer::default();
    let app = served(mock.app.clone(), &peer);
    let key = SigningKey::first();

    // Directly from a client that forges the forwarding header: its own address counts.
    peer.set("198.51.100.4:50000", Some("203.0.113.66"));
    let mut jar = Jar::default();
    let reply = login_with(&mut jar, &app, &mock.idp, &key, |c| c, &mock.clock).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let reply = jar.get(&app, "/auth/logout").await;
    assert!(reply.status.is_redirection() || reply.status == StatusCode::OK);
    let reply = callback(&mut Jar::default(), &app, &mock.idp, "forged").await;
    assert!(reply.status.is_client_error());

    // Through the trusted proxy: the address it forwards.
    peer.set("10.0.0.2:443", Some("203.0.113.66, 192.0.2.10"));
    let blocked = |mut c: serde_json::Value| {
        c["name"] = "Blocked".into();
        c
    };
    let reply = login_with(
        &mut Jar::default(),
        &app,
        &mock.idp,
        &key,
        blocked,
        &mock.clock,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);

    let s = |v: &str| Some(v.to_owned());
    let ua = s("TestBrowser/1.0");
    let direct = s("198.51.100.4");
    let provider = s("default");
    assert_eq!(
        rows(&pool, 4).await,
        vec![
            (
                "sign_in".into(),
                s("user-1"),
                direct.clone(),
                ua.clone(),
                provider.clone(),
                None
            ),
            (
                "sign_out".into(),
                s("user-1"),
                direct.clone(),
                ua.clone(),
                provider.clone(),
                None
            ),
            (
                "sign_in_failed".into(),
                None,
                direct.clone(),
                ua.clone(),
                None,
                s("login_expired")
            ),
            (
                "sign_in_refused".into(),
                s("user-1"),
                s("192.0.2.10"),
                ua.clone(),
                provider.clone(),
                s("login_refused")
            ),
        ]
    );
}
