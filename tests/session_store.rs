//! Server-side session stores (`OIDC_SESSION_STORE`): the memory store in process, the Redis
//! store with a real `redis-server` (its own, started and stopped by each test, from
//! `TOWER_OIDC_TEST_REDIS_SERVER`, which `scripts/test.sh` exports), and two replicas of the
//! quickstart as separate processes against the real `oidc-provider`.
//!
//! What they prove: the cookie holds only an id; a session signed in at one replica works at
//! another; ending it anywhere refuses every copy of its cookie everywhere within a second
//! (measured); "sign out everywhere" ends every browser of a user; an unreachable Redis never
//! signs anyone in (cached sessions for the staleness, then 503; new sign-ins get the 503
//! page) and everything recovers when it is back; a record that cannot be decoded is no
//! session and loses nothing else; an idle session ends; a flood of sign-ins and sign-outs
//! never brings an ended session back.

mod support;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use axum::http::{header, Request, StatusCode};
use support::*;
use tower::ServiceExt;
use tower_oidc::{AuditEvent, AuditKind, OidcConfig, OidcLayer, SessionsError};

// --- a Redis of the test's own -------------------------------------------------------------

/// A `redis-server` on a free loopback port, persisting every write (append-only file, fsync
/// always) in its own directory, stopped by PID when dropped.
struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl RedisServer {
    fn start() -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-oidc-redis-test-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut server = Self {
            child: None,
            port: free_port(),
            dir,
        };
        server.run();
        server
    }

    fn run(&mut self) {
        let bin = std::env::var("TOWER_OIDC_TEST_REDIS_SERVER").unwrap_or_else(|_| {
            panic!("TOWER_OIDC_TEST_REDIS_SERVER is not set: run the tests through scripts/test.sh, which installs and finds redis-server")
        });
        let child = Command::new(bin)
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(&self.dir)
            .args([
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--save",
                "",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server starts");
        self.child = Some(child);
        let give_up = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < give_up, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// Stops it (SIGKILL: every write is already on disk).
    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same port and directory: the same data.
    fn restart(&mut self) {
        self.stop();
        self.run();
    }

    /// The keys under `pattern`.
    async fn keys(&self, pattern: &str) -> Vec<String> {
        let client = redis::Client::open(self.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let mut keys: Vec<String> = redis::cmd("KEYS")
            .arg(pattern)
            .query_async(&mut c)
            .await
            .unwrap();
        keys.sort();
        keys
    }

    async fn hset(&self, key: &str, field: &str, value: &[u8]) {
        let client = redis::Client::open(self.url()).unwrap();
        let mut c = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = redis::cmd("HSET")
            .arg(key)
            .arg(field)
            .arg(value)
            .query_async(&mut c)
            .await
            .unwrap();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

// --- in process ----------------------------------------------------------------------------

/// A layer on `idp` with `store` (built on its own, as another process would build it).
fn replica(
    idp: &MockIdp,
    clock: &std::sync::Arc<TestClock>,
    store: &str,
) -> (OidcLayer, axum::Router) {
    let layer = OidcLayer::new(
        idp.config(clock)
            .with_session_store(store)
            .with_session_store_staleness(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let app = app(layer.clone());
    (layer, app)
}

async fn signed_in(app: &axum::Router, idp: &MockIdp, clock: &TestClock, sub: &str) -> Jar {
    let mut jar = Jar::default();
    let sub = sub.to_owned();
    let done = login_with(
        &mut jar,
        app,
        idp,
        &SigningKey::first(),
        |mut c| {
            c["sub"] = sub.into();
            c
        },
        clock,
    )
    .await;
    assert_eq!(done.status, StatusCode::FOUND, "{done:?}");
    jar
}

async fn status(jar: &Jar, app: &axum::Router, path: &str) -> StatusCode {
    jar.clone().get(app, path).await.status
}

async fn logout(jar: &mut Jar, app: &axum::Router) -> Reply {
    jar.send(
        app,
        Request::get("/auth/logout").header("sec-fetch-site", "same-origin"),
    )
    .await
}

#[tokio::test]
async fn with_the_memory_store_the_cookie_holds_only_an_id_and_a_logout_refuses_every_copy() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (_, app) = replica(&idp, &clock, "memory");
    let mut jar = signed_in(&app, &idp, &clock, "user-1").await;
    let value = jar.session().unwrap().clone();
    assert!(
        value.len() < 100,
        "only a sealed id, not the identity: {} characters",
        value.len()
    );
    assert!(
        !jar.0.keys().any(|k| k.ends_with("oidc-logout")),
        "the ID token is in the store, not in a cookie: {jar:?}"
    );
    assert_eq!(status(&jar, &app, "/").await, StatusCode::OK);
    let copy = jar.clone();
    let out = logout(&mut jar, &app).await;
    assert_eq!(out.status, StatusCode::FOUND);
    assert_eq!(
        status(&copy, &app, "/").await,
        StatusCode::FOUND,
        "the copy is refused"
    );
    let reply = copy.clone().send(&app, Request::get("/me")).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_layers_of_one_configuration_share_the_memory_store() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let config = idp
        .config(&clock)
        .with_session_store("memory")
        .build()
        .unwrap();
    let (a, b) = (
        app(OidcLayer::new(config.clone())),
        app(OidcLayer::new(config)),
    );
    let mut jar = signed_in(&a, &idp, &clock, "user-1").await;
    assert_eq!(status(&jar, &b, "/").await, StatusCode::OK);
    let copy = jar.clone();
    logout(&mut jar, &a).await;
    assert_eq!(status(&copy, &b, "/").await, StatusCode::FOUND);
}

#[tokio::test]
async fn sign_out_everywhere_ends_every_browser_of_the_user_and_only_theirs() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (layer, app) = replica(&idp, &clock, "memory");
    let laptop = signed_in(&app, &idp, &clock, "user-1").await;
    let phone = signed_in(&app, &idp, &clock, "user-1").await;
    let other = signed_in(&app, &idp, &clock, "user-2").await;
    let sessions = layer.sessions_of(&idp.issuer, "user-1").await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions
        .iter()
        .all(|s| s.expires_at() > s.authenticated_at()));
    assert_eq!(
        layer.end_sessions_of(&idp.issuer, "user-1").await.unwrap(),
        2
    );
    assert_eq!(status(&laptop, &app, "/").await, StatusCode::FOUND);
    assert_eq!(status(&phone, &app, "/").await, StatusCode::FOUND);
    assert_eq!(
        status(&other, &app, "/").await,
        StatusCode::OK,
        "another user stays"
    );
    assert!(layer
        .sessions_of(&idp.issuer, "user-1")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        layer
            .sessions_of("https://elsewhere.example", "user-2")
            .await
            .unwrap()
            .len(),
        0,
        "users are keyed by issuer and subject"
    );
}

#[tokio::test]
async fn sign_out_everywhere_with_the_cookie_store_revokes_the_user_in_this_process() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let events = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = events.clone();
    let config = idp
        .config(&clock)
        .with_audit_sink(move |e: &AuditEvent| sink.lock().unwrap().push(e.clone()))
        .build()
        .unwrap();
    let layer = OidcLayer::new(config.clone());
    // Two layers of one configuration: one process.
    let (a, b) = (app(layer.clone()), app(OidcLayer::new(config)));
    let laptop = signed_in(&a, &idp, &clock, "user-1").await;
    let phone = signed_in(&b, &idp, &clock, "user-1").await;
    let other = signed_in(&a, &idp, &clock, "user-2").await;
    assert_eq!(status(&phone, &a, "/").await, StatusCode::OK);
    assert_eq!(status(&laptop, &b, "/").await, StatusCode::OK);
    assert!(
        matches!(
            layer.sessions_of(&idp.issuer, "user-1").await,
            Err(SessionsError::NeedsServerSideStore)
        ),
        "the cookie store cannot list sessions"
    );
    let ended = layer.end_sessions_of(&idp.issuer, "user-1").await.unwrap();
    assert_eq!(
        ended, 2,
        "both sessions were cached in this process (they were used)"
    );
    for jar in [&laptop, &phone] {
        assert_eq!(status(jar, &a, "/").await, StatusCode::FOUND);
        assert_eq!(status(jar, &b, "/").await, StatusCode::FOUND);
    }
    assert_eq!(
        status(&other, &b, "/").await,
        StatusCode::OK,
        "another user stays"
    );
    // A sign-in after the revocation is a new session.
    clock.advance(Duration::from_secs(1));
    let again = signed_in(&a, &idp, &clock, "user-1").await;
    assert_eq!(status(&again, &b, "/").await, StatusCode::OK);
    let events = events.lock().unwrap();
    let everywhere: Vec<_> = events
        .iter()
        .filter(|e| e.kind == AuditKind::SignOutEverywhere)
        .collect();
    assert_eq!(everywhere.len(), 1);
    assert_eq!(everywhere[0].subject.as_deref(), Some("user-1"));
    assert_eq!(everywhere[0].issuer.as_deref(), Some(idp.issuer.as_str()));
}

#[tokio::test]
async fn an_idle_session_ends_and_a_used_one_does_not() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let layer = OidcLayer::new(
        idp.config(&clock)
            .with_session_store("memory")
            .with_session_idle_timeout(Duration::from_secs(600))
            .build()
            .unwrap(),
    );
    let app = app(layer);
    let used = signed_in(&app, &idp, &clock, "user-1").await;
    let idle = signed_in(&app, &idp, &clock, "user-2").await;
    for _ in 0..4 {
        clock.advance(Duration::from_secs(300));
        assert_eq!(status(&used, &app, "/").await, StatusCode::OK);
        // The recorded use reaches the store from the background.
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        status(&idle, &app, "/").await,
        StatusCode::FOUND,
        "unused for 1200 s"
    );
}

/// With the cookie store the cookie carries its last use: re-issued once a minute by the
/// replica that sees the request, read by every other, and an old copy ends after the idle
/// timeout from its own last use. A logout refuses every value the session's cookie had.
#[tokio::test]
async fn the_cookie_store_keeps_an_idle_timeout_in_its_re_issued_cookie() {
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let replica = || {
        let layer = OidcLayer::new(
            idp.config(&clock)
                .with_session_idle_timeout(Duration::from_secs(600))
                .build()
                .unwrap(),
        );
        app(layer)
    };
    let (a, b) = (replica(), replica());
    let mut jar = signed_in(&a, &idp, &clock, "user-1").await;
    let idle = signed_in(&a, &idp, &clock, "user-2").await;
    let first = jar.clone();
    let session_cookies = |reply: &Reply| {
        reply
            .set_cookies()
            .into_iter()
            .filter(|c| c.contains("oidc-session="))
            .collect::<Vec<_>>()
    };

    clock.advance(Duration::from_secs(30));
    let reply = jar.get(&a, "/").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(session_cookies(&reply).is_empty(), "used 30 s ago: kept");

    let mut values = vec![jar.session().unwrap().clone()];
    for _ in 0..2 {
        clock.advance(Duration::from_secs(300));
        let reply = jar.get(&a, "/").await;
        assert_eq!(reply.status, StatusCode::OK);
        let renewed = session_cookies(&reply);
        assert_eq!(renewed.len(), 1, "re-issued once: {renewed:?}");
        assert!(renewed[0].contains("HttpOnly"), "{}", renewed[0]);
        assert_eq!(reply.headers[header::CACHE_CONTROL], "no-store");
        let again = jar.get(&a, "/").await;
        assert!(session_cookies(&again).is_empty(), "once a minute at most");
        values.push(jar.session().unwrap().clone());
    }
    assert_eq!(
        values
            .iter()
            .collect::<std::collections::BTreeSet<_>>()
            .len(),
        3,
        "each renewal is a new value"
    );

    // 630 s after sign-in: the other replica, which never saw this user, reads the last use
    // from the cookie. The first cookie, last used at sign-in, is idle everywhere.
    assert_eq!(status(&jar, &b, "/").await, StatusCode::OK);
    assert_eq!(status(&first, &b, "/").await, StatusCode::FOUND);
    assert_eq!(status(&first, &a, "/").await, StatusCode::FOUND);
    assert_eq!(
        status(&idle, &a, "/").await,
        StatusCode::FOUND,
        "unused for 630 s"
    );

    // An earlier value sent after a renewal (a request that was in flight) is cached again
    // beside the new one; a logout refuses both.
    clock.advance(Duration::from_secs(120));
    let mut earlier = jar.clone();
    assert_eq!(jar.get(&a, "/").await.status, StatusCode::OK);
    assert_ne!(jar.session(), earlier.session(), "renewed");
    assert_eq!(earlier.get(&a, "/").await.status, StatusCode::OK);
    assert_eq!(logout(&mut jar, &a).await.status, StatusCode::FOUND);
    assert_eq!(status(&earlier, &a, "/").await, StatusCode::FOUND);
}

#[test]
fn an_unparsable_store_is_a_startup_error_naming_the_variable_without_its_password() {
    let vars = [
        ("OIDC_ISSUER_URL", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("OIDC_CLIENT_SECRET", "secret"),
        ("BASE_URL", "https://app.example.com"),
        (
            "OIDC_COOKIE_KEY",
            "bCvnPiBwiRM/9WGP/S8Eqz0E/M6iR9nL56UwYgmRmSM=",
        ),
    ];
    for bad in [
        "memcached://:hunter2@cache:11211",
        "redis://:hunter2@",
        "sqlite",
    ] {
        let err = OidcConfig::from_vars(vars.iter().copied().chain([("OIDC_SESSION_STORE", bad)]))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("OIDC_SESSION_STORE"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    let config = OidcConfig::from_vars(vars.iter().copied().chain([(
        "OIDC_SESSION_STORE",
        "rediss://:hunter2@cache.internal:6380/1",
    )]))
    .unwrap();
    let debug = format!("{config:?}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(debug.contains("cache.internal:6380"), "{debug}");
    let err = OidcConfig::from_vars(
        vars.iter()
            .copied()
            .chain([("OIDC_SESSION_IDLE_TIMEOUT", "900")]),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("OIDC_SESSION_IDLE_TIMEOUT"),
        "{err}"
    );
}

// --- Redis, in process ---------------------------------------------------------------------

/// Polls until `jar` is refused at `app`; how long it took. Fails after 5 s.
async fn refused_within(jar: &Jar, app: &axum::Router) -> Duration {
    let start = Instant::now();
    loop {
        if status(jar, app, "/").await == StatusCode::FOUND {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still signed in after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn redis_sessions_are_shared_by_replicas_and_a_logout_reaches_the_other_within_a_second() {
    let redis = RedisServer::start();
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (_, a) = replica(&idp, &clock, &redis.url());
    let (_, b) = replica(&idp, &clock, &redis.url());
    let mut times = Vec::new();
    for round in 0..5 {
        let mut jar = signed_in(&a, &idp, &clock, &format!("user-{round}")).await;
        let keys = redis.keys("tower-oidc:app:s:*").await;
        assert_eq!(keys.len(), 1, "one session record: {keys:?}");
        assert_eq!(redis.keys("tower-oidc:app:u:*").await.len(), 1);
        // B loads it from Redis, then serves it from its cache.
        assert_eq!(status(&jar, &b, "/").await, StatusCode::OK);
        assert_eq!(status(&jar, &b, "/").await, StatusCode::OK);
        let copy = jar.clone();
        logout(&mut jar, &a).await;
        times.push(refused_within(&copy, &b).await);
        assert!(
            redis.keys("tower-oidc:app:s:*").await.is_empty(),
            "the record is gone"
        );
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("logout propagation to another replica (in process, Redis pub/sub): median {median:?} of {times:?}");
    assert!(median < Duration::from_secs(1), "{times:?}");
}

#[tokio::test]
async fn a_record_that_cannot_be_decoded_is_no_session_and_loses_nothing_else() {
    let redis = RedisServer::start();
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (_, a) = replica(&idp, &clock, &redis.url());
    let first = signed_in(&a, &idp, &clock, "user-1").await;
    let keys = redis.keys("tower-oidc:app:s:*").await;
    let second = signed_in(&a, &idp, &clock, "user-2").await;
    redis.hset(&keys[0], "d", b"\xff\x00garbage").await;
    // A fresh replica has nothing cached: both come from Redis.
    let (_, b) = replica(&idp, &clock, &redis.url());
    assert_eq!(status(&first, &b, "/").await, StatusCode::FOUND);
    assert_eq!(status(&second, &b, "/").await, StatusCode::OK);
    assert_eq!(
        redis.keys("tower-oidc:app:s:*").await.len(),
        2,
        "nothing deleted"
    );
}

#[tokio::test]
async fn without_redis_cached_sessions_last_the_staleness_then_503_and_all_recovers() {
    let mut redis = RedisServer::start();
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (_, a) = replica(&idp, &clock, &redis.url());
    let jar = signed_in(&a, &idp, &clock, "user-1").await;
    assert_eq!(status(&jar, &a, "/").await, StatusCode::OK);

    redis.stop();
    // The heartbeat notices within a second; the cached session is served meanwhile.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        status(&jar, &a, "/").await,
        StatusCode::OK,
        "cached, within the staleness"
    );
    clock.advance(Duration::from_secs(6));
    let reply = jar.clone().get(&a, "/").await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "past the staleness"
    );
    assert_eq!(reply.kind(), "session_store_unavailable");
    let mut newcomer = Jar::default();
    let login = newcomer.get(&a, "/").await;
    assert_eq!(
        login.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no new sign-in: {login:?}"
    );
    assert!(
        login.body.contains("Sessions are unavailable"),
        "{}",
        login.body
    );
    let api = jar.clone().send(&a, Request::get("/me")).await;
    assert_eq!(
        api.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "never signed in by an unreachable store"
    );

    redis.restart();
    let start = Instant::now();
    while status(&jar, &a, "/").await != StatusCode::OK {
        assert!(start.elapsed() < Duration::from_secs(10), "did not recover");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Redis persisted the session; a new sign-in works again too.
    let later = signed_in(&a, &idp, &clock, "user-2").await;
    assert_eq!(status(&later, &a, "/").await, StatusCode::OK);
}

#[tokio::test]
async fn a_flood_of_sign_ins_and_sign_outs_never_brings_an_ended_session_back() {
    let redis = RedisServer::start();
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (_, a) = replica(&idp, &clock, &redis.url());
    let (_, b) = replica(&idp, &clock, &redis.url());
    let mut victim = signed_in(&a, &idp, &clock, "victim").await;
    assert_eq!(status(&victim, &b, "/").await, StatusCode::OK);
    let copy = victim.clone();
    logout(&mut victim, &a).await;
    refused_within(&copy, &b).await;
    // Sign-ins and sign-outs of others on both replicas, while the ended cookie keeps trying.
    // The mock provider answers one token at a time, so the sign-ins run one after another.
    for i in 0..40 {
        let (on, off) = if i % 2 == 0 { (&a, &b) } else { (&b, &a) };
        let mut jar = signed_in(on, &idp, &clock, &format!("user-{i}")).await;
        assert_eq!(status(&jar, off, "/").await, StatusCode::OK);
        logout(&mut jar, off).await;
        let (sa, sb) = tokio::join!(status(&copy, &a, "/"), status(&copy, &b, "/"));
        assert_eq!(
            (sa, sb),
            (StatusCode::FOUND, StatusCode::FOUND),
            "round {i}"
        );
    }
    assert!(redis.keys("tower-oidc:app:s:*").await.is_empty());
}

// --- two quickstart processes against the real provider ------------------------------------

/// A quickstart replica: one `BASE_URL` for all, its own `LISTEN_ADDR`.
struct Replica {
    child: Child,
    addr: String,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const COOKIE_KEY: &str = "m2jDH6hq9ZcLq1sB+0ZbCw0zR2yM2mVvH2d0dW1rXz8=";

impl Replica {
    fn start(redis: &str, port: u16) -> Self {
        let env = real::env();
        let addr = format!("127.0.0.1:{port}");
        let mut cmd = Command::new(example_binary("quickstart"));
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("OIDC_") {
                cmd.env_remove(key);
            }
        }
        let child = cmd
            .env("BASE_URL", BASE_URL)
            .env("LISTEN_ADDR", &addr)
            .env("OIDC_ISSUER_URL", &env.issuer)
            .env("OIDC_CLIENT_ID", &env.client_id)
            .env("OIDC_CLIENT_SECRET", &env.secret)
            .env("OIDC_COOKIE_KEY", COOKIE_KEY)
            .env("OIDC_SCOPE", "openid profile email groups")
            .env("OIDC_SESSION_STORE", redis)
            .env(
                "OIDC_CONFIG_FILE",
                concat!(env!("CARGO_MANIFEST_DIR"), "/examples/quickstart.toml"),
            )
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let give_up = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(&addr).is_err() {
            assert!(
                Instant::now() < give_up,
                "the quickstart did not listen on {addr}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, addr }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }
}

/// A client that keeps no cookies: each request carries the `cookie` given.
fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// Signs in as `user` at `replica` through the real provider; the session cookie
/// (`name=value`).
async fn sign_in_at(replica: &Replica, user: &str) -> String {
    let http = http();
    let start = http
        .get(replica.url("/"))
        .header(header::ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let login_cookie = start
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ");
    let browser = real::Browser::new(&real::env().issuer);
    let back = browser
        .authorize(start.headers()[header::LOCATION].to_str().unwrap(), user)
        .await;
    let done = http
        .get(replica.url(&real::path_of(&back)))
        .header(header::COOKIE, login_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::FOUND, "{:?}", done.text().await);
    done.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.contains("oidc-session=") && !c.ends_with('='))
        .expect("a session cookie")
}

async fn me_at(replica: &Replica, cookie: &str) -> (StatusCode, serde_json::Value) {
    let reply = http()
        .get(replica.url("/api/me"))
        .header(header::COOKIE, cookie)
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let body = reply.text().await.unwrap_or_default();
    (status, serde_json::from_str(&body).unwrap_or_default())
}

/// Polls until `cookie` gets 401 at `replica`; how long it took (fails after 5 s).
async fn refused_at(replica: &Replica, cookie: &str) -> Duration {
    let start = Instant::now();
    loop {
        if me_at(replica, cookie).await.0 == StatusCode::UNAUTHORIZED {
            return start.elapsed();
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still signed in after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn two_quickstart_replicas_share_sessions_end_them_together_and_survive_a_restart() {
    let redis = RedisServer::start();
    let (port_a, port_b) = (free_port(), free_port());
    let mut a = Replica::start(&redis.url(), port_a);
    let b = Replica::start(&redis.url(), port_b);

    // Signed in at A, the same cookie works at B.
    let cookie = sign_in_at(&a, "alice").await;
    let (status, me) = me_at(&b, &cookie).await;
    assert_eq!(status, StatusCode::OK, "{me}");
    assert_eq!(me["subject"], "alice");
    assert_eq!(me["sessions"], 1);

    // Restarting A keeps the user signed in there.
    drop(a);
    a = Replica::start(&redis.url(), port_a);
    assert_eq!(me_at(&a, &cookie).await.0, StatusCode::OK);

    // Signed out at A: the copied cookie is refused at B; measured over several rounds.
    let mut times = Vec::new();
    for _ in 0..5 {
        let cookie = sign_in_at(&a, "bob").await;
        assert_eq!(me_at(&b, &cookie).await.0, StatusCode::OK, "cached at B");
        let out = http()
            .get(a.url("/auth/logout"))
            .header(header::COOKIE, &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), StatusCode::FOUND);
        times.push(refused_at(&b, &cookie).await);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!("logout propagation between two quickstart processes (Redis pub/sub): median {median:?} of {times:?}");
    assert!(median < Duration::from_secs(1), "{times:?}");

    // Sign out everywhere, from A, ends alice's sessions in two browsers, at both replicas.
    let second = sign_in_at(&b, "alice").await;
    assert_eq!(me_at(&a, &second).await.1["sessions"], 2);
    let out = http()
        .post(a.url("/sign-out-everywhere"))
        .header(header::COOKIE, &cookie)
        .header(header::ORIGIN, BASE_URL)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    refused_at(&b, &cookie).await;
    refused_at(&b, &second).await;
    refused_at(&a, &second).await;
    let cross_site = http()
        .post(a.url("/sign-out-everywhere"))
        .header(header::COOKIE, sign_in_at(&a, "alice").await)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
}

// --- the memory of the local cache ---------------------------------------------------------

/// The process's resident memory in bytes (Linux `/proc/self/status`, `VmRSS`).
fn resident() -> isize {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let kib: isize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("a VmRSS line");
    kib * 1024
}

#[tokio::test(flavor = "current_thread")]
async fn the_cache_of_100_000_sessions_is_measured_and_bounded() {
    const N: usize = 100_000;
    let idp = MockIdp::start().await;
    let clock = TestClock::new();
    let (layer, app) = replica(&idp, &clock, "memory");
    let who = |i: usize| {
        tower_oidc::Identity::builder(idp.issuer.clone(), format!("user-{i:06}"))
            .provider("default")
            .email(format!("user{i}@example.com"), true)
            .name(format!("User {i}"))
            .preferred_username(format!("user{i}"))
            .groups(["readers", "staff", "finance-emea"])
            .build()
    };
    let mut cookies = Vec::with_capacity(N);
    for i in 0..N {
        cookies.push(layer.stored_session_cookie(&who(i)).await);
    }
    let before = resident();
    for cookie in &cookies {
        let reply = app
            .clone()
            .oneshot(
                Request::get("/")
                    .header(header::COOKIE, cookie)
                    .body(axum::body::Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(reply.status(), StatusCode::OK);
    }
    let cached = resident() - before;
    // Resident memory, so other tests of this binary running meanwhile count too: an upper
    // bound of the cache's own.
    println!(
        "the local cache of {N} sessions holds at most {:.1} MiB ({} bytes per session, resident memory)",
        cached as f64 / (1024.0 * 1024.0),
        cached / N as isize
    );
    assert!(cached > 0 && cached < (N * 2048) as isize, "{cached} bytes");
}
