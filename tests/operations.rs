//! Running it in production: the audit trail (with the client's address and user agent, and
//! trusted proxies), the login rate limit, and their configuration errors. Through the layer,
//! with the in-process provider; the client's connection is simulated by a middleware that
//! inserts axum's `ConnectInfo`, as `into_make_service_with_connect_info` does.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::{header, StatusCode};
use axum::Router;
use support::peer::{served, Peer};
use support::*;
use tower_oidc::{AuditEvent, AuditKind, AuthErrorKind, LoginDecision, OidcConfig, OidcLayer};

type Events = Arc<Mutex<Vec<AuditEvent>>>;

struct Setup {
    mock: MockApp,
    app: Router,
    peer: Peer,
    events: Events,
}

async fn setup(
    edit: impl FnOnce(tower_oidc::OidcConfigBuilder) -> tower_oidc::OidcConfigBuilder,
) -> Setup {
    let events = Events::default();
    let sink = events.clone();
    let mock = MockApp::start(move |b| {
        edit(b.with_audit_sink(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone())))
    })
    .await;
    let peer = Peer::default();
    let app = served(mock.app.clone(), &peer);
    Setup {
        mock,
        app,
        peer,
        events,
    }
}

impl Setup {
    async fn login(&self, jar: &mut Jar) -> Reply {
        let m = &self.mock;
        login_with(
            jar,
            &self.app,
            &m.idp,
            &SigningKey::first(),
            |c| c,
            &m.clock,
        )
        .await
    }

    fn last(&self) -> AuditEvent {
        self.events
            .lock()
            .unwrap()
            .last()
            .cloned()
            .expect("an event")
    }
}

#[tokio::test]
async fn audit_trail_records_each_event_with_address_and_user_agent() {
    let s = setup(|b| {
        b.with_login_hook(|login| async move {
            if login.claims().get("name").and_then(|v| v.as_str()) == Some("Blocked") {
                return LoginDecision::refuse("blocked");
            }
            LoginDecision::Allow
        })
    })
    .await;
    let issuer = s.mock.idp.issuer.clone();
    s.peer.set("198.51.100.4:50000", None);

    let mut jar = Jar::default();
    let reply = s.login(&mut jar).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    let e = s.last();
    assert_eq!(e.kind, AuditKind::SignIn);
    assert_eq!(e.provider.as_deref(), Some("default"));
    assert_eq!(e.issuer.as_deref(), Some(issuer.as_str()));
    assert_eq!(e.subject.as_deref(), Some("user-1"));
    assert_eq!(e.client_ip, Some("198.51.100.4".parse().unwrap()));
    assert_eq!(e.user_agent.as_deref(), Some("TestBrowser/1.0"));
    assert_eq!(e.error, None);

    let reply = jar.get(&s.app, "/auth/logout").await;
    assert!(reply.status.is_redirection() || reply.status == StatusCode::OK);
    let e = s.last();
    assert_eq!(e.kind, AuditKind::SignOut);
    assert_eq!(e.subject.as_deref(), Some("user-1"));
    assert_eq!(e.client_ip, Some("198.51.100.4".parse().unwrap()));

    // A failed sign-in: a callback whose login this browser never started.
    let mut stranger = Jar::default();
    let reply = callback(&mut stranger, &s.app, &s.mock.idp, "forged-state").await;
    assert!(reply.status.is_client_error(), "{reply:?}");
    let e = s.last();
    assert_eq!(e.kind, AuditKind::SignInFailed);
    assert_eq!(e.error, Some(AuthErrorKind::LoginExpired));
    assert_eq!(e.subject, None);

    // Refused by the app's hook, after the provider said who it is.
    let mut blocked = Jar::default();
    let m = &s.mock;
    let reply = login_with(
        &mut blocked,
        &s.app,
        &m.idp,
        &SigningKey::first(),
        |mut c| {
            c["name"] = "Blocked".into();
            c
        },
        &m.clock,
    )
    .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    let e = s.last();
    assert_eq!(e.kind, AuditKind::SignInRefused);
    assert_eq!(e.error, Some(AuthErrorKind::LoginRefused));
    assert_eq!(e.subject.as_deref(), Some("user-1"));

    let kinds: Vec<_> = s.events.lock().unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds,
        [
            AuditKind::SignIn,
            AuditKind::SignOut,
            AuditKind::SignInFailed,
            AuditKind::SignInRefused
        ]
    );
}

#[tokio::test]
async fn client_address_comes_from_a_trusted_proxy_only() {
    let s = setup(|b| b.add_trusted_proxy("10.0.0.0/8")).await;

    // An untrusted client forging the header: its own address is recorded.
    s.peer.set("198.51.100.4:50000", Some("203.0.113.77"));
    s.login(&mut Jar::default()).await;
    assert_eq!(s.last().client_ip, Some("198.51.100.4".parse().unwrap()));

    // Through the trusted proxy: the address it appended, not what the client put before it.
    s.peer
        .set("10.0.0.2:443", Some("203.0.113.77, 192.0.2.10, 10.0.0.3"));
    s.login(&mut Jar::default()).await;
    assert_eq!(s.last().client_ip, Some("192.0.2.10".parse().unwrap()));

    // Without trusted proxies, the same header through the same peer is ignored.
    let plain = setup(|b| b).await;
    plain.peer.set("10.0.0.2:443", Some("192.0.2.10"));
    plain.login(&mut Jar::default()).await;
    assert_eq!(plain.last().client_ip, Some("10.0.0.2".parse().unwrap()));
}

#[tokio::test]
async fn a_login_flood_from_one_address_gets_429_while_another_signs_in() {
    let s = setup(|b| b.with_login_rate_limit(5, Duration::from_secs(60))).await;
    s.peer.set("203.0.113.9:40000", None);
    let mut flood = Jar::default();
    for _ in 0..5 {
        let reply = flood.get(&s.app, "/auth/login").await;
        assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    }
    let discoveries = s.mock.idp.hits.discovery();
    let reply = flood.get(&s.app, "/auth/login").await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = reply.headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=12).contains(&retry), "{retry}");
    assert_eq!(reply.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(reply.headers.contains_key(header::CONTENT_SECURITY_POLICY));
    assert!(reply.body.contains("Too many sign-in attempts"));
    assert!(reply.set_cookies().is_empty());
    // The callback and the redirect of a protected page are limited too.
    assert_eq!(
        callback(&mut flood, &s.app, &s.mock.idp, "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        flood.get(&s.app, "/reports").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        s.mock.idp.hits.discovery(),
        discoveries,
        "refused before any work"
    );
    // The open page and a signed-in user are not.
    assert_eq!(flood.get(&s.app, "/public").await.status, StatusCode::OK);

    // Another address signs in normally, and its session works.
    s.peer.set("198.51.100.4:50000", None);
    let mut person = Jar::default();
    let reply = s.login(&mut person).await;
    assert_eq!(reply.status, StatusCode::FOUND, "{reply:?}");
    assert!(person.session().is_some());
    assert_eq!(person.get(&s.app, "/").await.status, StatusCode::OK);

    // After one refill period, the flooding address may try once more.
    s.peer.set("203.0.113.9:40000", None);
    s.mock.clock.advance(Duration::from_secs(12));
    assert_eq!(
        flood.get(&s.app, "/auth/login").await.status,
        StatusCode::FOUND
    );
    assert_eq!(
        flood.get(&s.app, "/auth/login").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

#[tokio::test]
async fn without_connect_info_nothing_is_limited_and_no_address_is_recorded() {
    let s = setup(|b| b.with_login_rate_limit(1, Duration::from_secs(60))).await;
    let mut jar = Jar::default();
    for _ in 0..3 {
        assert_eq!(
            jar.get(&s.app, "/auth/login").await.status,
            StatusCode::FOUND
        );
    }
    s.login(&mut jar).await;
    assert_eq!(s.last().client_ip, None);
}

#[test]
fn malformed_proxy_list_or_rate_is_a_startup_error_naming_the_setting() {
    let base = |extra: (&'static str, &'static str)| {
        move |k: &str| {
            [
                ("OIDC_ISSUER_URL", "https://id.example.com"),
                ("OIDC_CLIENT_ID", "app"),
                ("BASE_URL", "https://app.example.com"),
                (
                    "OIDC_COOKIE_KEY",
                    "bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=",
                ),
                extra,
            ]
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
        }
    };
    for (key, bad) in [
        ("OIDC_TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal"),
        ("OIDC_TRUSTED_PROXIES", "10.0.0.0/40"),
        ("OIDC_TRUSTED_PROXY_HEADER", "x-real-ip"),
        ("OIDC_LOGIN_RATE_LIMIT", "30 per minute"),
        ("OIDC_LOGIN_RATE_LIMIT", "4000000000/second"),
    ] {
        let err = OidcConfig::from_lookup(base((key, bad))).unwrap_err();
        assert!(err.mentions(key), "{key}={bad}: {err}");
    }
    for (key, good) in [
        ("OIDC_TRUSTED_PROXIES", "10.0.0.0/8 ::1"),
        ("OIDC_TRUSTED_PROXY_HEADER", "Forwarded"),
        ("OIDC_LOGIN_RATE_LIMIT", "off"),
    ] {
        let config = OidcConfig::from_lookup(base((key, good)));
        assert!(config.is_ok(), "{key}={good}: {config:?}");
        let _ = OidcLayer::new(config.unwrap());
    }
}

#[tokio::test]
async fn an_expired_session_is_recorded_and_counted_as_a_logout_by_expiry() {
    use tower::{Layer as _, Service as _};
    let s = setup(|b| b.with_session_lifetime(Duration::from_secs(3600))).await;
    s.peer.set("198.51.100.4:50000", None);
    let mut jar = Jar::default();
    assert_eq!(s.login(&mut jar).await.status, StatusCode::FOUND);
    assert_eq!(jar.get(&s.app, "/").await.status, StatusCode::OK);
    let count = || s.events.lock().unwrap().len();
    let before = count();

    // A forged session cookie, or one sealed for another app: no event, whatever the time.
    let (name, value) = jar
        .0
        .iter()
        .find(|(k, _)| k.ends_with("oidc-session"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .unwrap();
    let mut forged = Jar::default();
    let mut bytes = value.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    forged
        .0
        .insert(name.clone(), String::from_utf8(bytes).unwrap());
    s.mock.clock.advance(Duration::from_secs(3601));
    assert_eq!(forged.get(&s.app, "/").await.status, StatusCode::FOUND);
    assert_eq!(count(), before, "a forged cookie is not an expired session");

    // The real one, expired: one event per request that presents it.
    let mut expired = Jar::default();
    expired.0.insert(name.clone(), value.clone());
    assert_eq!(expired.get(&s.app, "/").await.status, StatusCode::FOUND);
    assert_eq!(count(), before + 1);
    let e = s.last();
    assert_eq!(e.kind, AuditKind::SessionExpired);
    assert_eq!(e.kind.as_str(), "session_expired");
    assert_eq!(e.subject.as_deref(), Some("user-1"));
    assert_eq!(e.provider.as_deref(), Some("default"));
    assert_eq!(e.client_ip, Some("198.51.100.4".parse().unwrap()));
    assert_eq!(e.error, None);

    // The metric, counted in the service's own call (no await in between).
    let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
    let handle = recorder.handle();
    let mut service = s.mock.layer.layer(tower::service_fn(|_req| async {
        Ok::<_, std::convert::Infallible>(axum::http::Response::new(axum::body::Body::empty()))
    }));
    let request = || {
        axum::http::Request::get("/api/me")
            .header(header::COOKIE, format!("{name}={value}"))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let reply = metrics::with_local_recorder(&recorder, || service.call(request()))
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::UNAUTHORIZED);
    let text = handle.render();
    assert!(
        text.contains("tower_oidc_logouts_total{cause=\"expiry\"} 1"),
        "{text}"
    );
}
