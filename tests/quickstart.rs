//! The quickstart example itself, run as a new user would run it (`cargo run --example
//! quickstart`, no variables): each development user signs in through its built-in IdP and
//! `/api/me` shows the role and admin flag its role map (`examples/quickstart.toml`) gives.
//! And run as an operator might misconfigure it: the passwordless development IdP never
//! starts beside a half-configured provider or on a non-loopback `BASE_URL`, and
//! `OIDC_COOKIE_KEY` must be generated key material.

mod support;

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine as _;

use reqwest::header::{ACCEPT, LOCATION};
use reqwest::redirect::Policy;
use reqwest::StatusCode;
use serde_json::Value;
use support::hidden_fields;

/// The running example, stopped when dropped.
struct Quickstart {
    child: Child,
    base: String,
}

impl Drop for Quickstart {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The quickstart binary without any `OIDC_*` variable of the test's own environment.
fn command() -> Command {
    let mut cmd = Command::new(support::example_binary("quickstart"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("OIDC_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

fn start() -> Quickstart {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut child = command()
        .env("BASE_URL", &base)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut banner = String::new();
    // The banner ends with the line that tells where to open the app.
    for line in lines.by_ref() {
        let line = line.unwrap();
        banner.push_str(&line);
        banner.push('\n');
        if line.contains("pick a test user") {
            break;
        }
    }
    assert!(banner.contains("alice"), "banner: {banner}");
    assert!(
        banner.contains("no role: refused with 403"),
        "the banner tells what each user gets: {banner}"
    );
    // Keep draining stdout so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Quickstart { child, base }
}

/// Signs in as `user` like a browser: `/` redirects to the IdP's picker, the form is posted,
/// and the callback answers. Returns the client (holding the cookies) and the callback reply.
async fn sign_in(app: &Quickstart, user: &str) -> (reqwest::Client, reqwest::Response) {
    let http = reqwest::Client::builder()
        .redirect(Policy::none())
        .cookie_store(true)
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let get = |url: String| http.get(url).header(ACCEPT, "text/html").send();
    // The server may need a moment after printing its banner.
    let start = get(format!("{}/", app.base)).await.unwrap();
    assert_eq!(start.status(), StatusCode::FOUND);
    let to_idp = start.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(
        to_idp.starts_with(&format!("{}/dev-idp/authorize?", app.base)),
        "{to_idp}"
    );
    let picker = get(to_idp).await.unwrap();
    assert_eq!(picker.status(), StatusCode::OK);
    let mut form = hidden_fields(&picker.text().await.unwrap());
    form.push(("user".into(), user.into()));
    let chosen = http
        .post(format!("{}/dev-idp/authorize", app.base))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::SEE_OTHER);
    let callback = chosen.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(callback.starts_with(&format!("{}/auth/callback?", app.base)));
    let done = get(callback).await.unwrap();
    (http, done)
}

async fn me(http: &reqwest::Client, app: &Quickstart) -> (StatusCode, Value) {
    let reply = http
        .get(format!("{}/api/me", app.base))
        .send()
        .await
        .unwrap();
    let status = reply.status();
    let body = reply.text().await.unwrap();
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test]
async fn each_dev_user_gets_the_outcome_of_the_quickstart_role_map() {
    let app = start();

    let (http, done) = sign_in(&app, "alice").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    assert_eq!(done.headers()[LOCATION], "/");
    let (status, alice) = me(&http, &app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(alice["subject"], "alice");
    assert_eq!(alice["role"], "app_admin");
    assert_eq!(alice["admin"], true);
    assert_eq!(alice["provider"], "dev-idp");
    let home = http
        .get(format!("{}/", app.base))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    assert!(home
        .text()
        .await
        .unwrap()
        .contains("<code>app_admin</code>"));

    let (http, done) = sign_in(&app, "bob").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    let (status, bob) = me(&http, &app).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(bob["role"], "app_reader");
    assert_eq!(bob["admin"], false);

    let (http, done) = sign_in(&app, "mallory").await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    let page = done.text().await.unwrap();
    assert!(page.contains("no role in this application"), "{page}");
    assert!(page.contains("Error: no_role"), "{page}");
    let (status, _) = me(&http, &app).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "mallory has no session");
}

/// The value of the sample `name{labels}` in a Prometheus text page, 0 when absent.
fn sample(page: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    page.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            series.split('{').next() == Some(name)
                && labels
                    .iter()
                    .all(|(k, v)| series.contains(&format!("{k}=\"{v}\"")))
        })
        .map(|(_, value)| value.parse::<f64>().unwrap())
        .sum()
}

#[tokio::test]
async fn metrics_count_a_login_a_failed_login_and_a_logout() {
    let app = start();
    let scrape = || async {
        let page = reqwest::get(format!("{}/metrics", app.base)).await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        page.text().await.unwrap()
    };

    let (alice, done) = sign_in(&app, "alice").await;
    assert_eq!(done.status(), StatusCode::FOUND);
    let (_, done) = sign_in(&app, "mallory").await;
    assert_eq!(done.status(), StatusCode::FORBIDDEN);
    let stranger = reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap();
    let forged = stranger
        .get(format!("{}/auth/callback?code=x&state=forged", app.base))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert!(forged.status().is_client_error());
    let out = alice
        .get(format!("{}/auth/logout", app.base))
        .send()
        .await
        .unwrap();
    assert!(out.status().is_redirection(), "{}", out.status());

    let page = scrape().await;
    let provider = ("provider", "dev-idp");
    assert_eq!(
        sample(&page, "tower_oidc_logins_total", &[provider]),
        1.0,
        "{page}"
    );
    let refused = [provider, ("kind", "no_role")];
    assert_eq!(
        sample(&page, "tower_oidc_login_failures_total", &refused),
        1.0
    );
    let forged = [("provider", "unknown"), ("kind", "login_expired")];
    assert_eq!(
        sample(&page, "tower_oidc_login_failures_total", &forged),
        1.0
    );
    assert_eq!(
        sample(&page, "tower_oidc_logouts_total", &[("cause", "user")]),
        1.0
    );
    // Two logins: one discovery (cached after), one JWKS fetch, two code exchanges.
    let call = |endpoint| {
        sample(
            &page,
            "tower_oidc_provider_requests_total",
            &[provider, ("endpoint", endpoint)],
        )
    };
    assert_eq!(call("discovery"), 1.0, "{page}");
    assert_eq!(call("jwks"), 1.0);
    assert_eq!(call("token"), 2.0);
    assert_eq!(
        sample(
            &page,
            "tower_oidc_provider_request_failures_total",
            &[provider]
        ),
        0.0
    );
    assert!(
        page.contains("tower_oidc_provider_request_duration_seconds"),
        "a latency summary: {page}"
    );
}

/// What one start of the quickstart came to.
#[derive(Debug)]
enum Outcome {
    /// It exited before listening.
    Exited { code: Option<i32>, stderr: String },
    /// It printed its banner, so it was listening (it has been stopped since).
    Listening { banner: String },
}

/// Runs the quickstart with `vars` (and a loopback `BASE_URL` on a free port, unless `vars`
/// names one) until it exits or says it is listening.
fn run(vars: &[(&str, &str)]) -> Outcome {
    let mut cmd = command();
    cmd.env("BASE_URL", format!("http://127.0.0.1:{}", free_port()))
        .env("RUST_LOG", "warn")
        .envs(vars.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines_tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let mut stderr = child.stderr.take().unwrap();
    let stderr = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut banner = String::new();
    loop {
        while let Ok(line) = lines.try_recv() {
            banner.push_str(&line);
            banner.push('\n');
            // The banner ends with the line that tells where to open the app.
            if banner.contains("listening on") && line.contains(" Open ") {
                let _ = child.kill();
                let _ = child.wait();
                return Outcome::Listening { banner };
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            return Outcome::Exited {
                code: status.code(),
                stderr: stderr.join().unwrap(),
            };
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the quickstart neither exited nor listened within 60 s: {banner}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The quickstart's refusal to start with `vars`: exit status 2, and its message.
fn refusal(vars: &[(&str, &str)]) -> String {
    match run(vars) {
        Outcome::Exited {
            code: Some(2),
            stderr,
        } => stderr,
        other => panic!("with {vars:?} the quickstart did not refuse to start: {other:?}"),
    }
}

const SECRET: &str = "my-client-secret-Hq7Lm2";

#[test]
fn a_provider_variable_without_an_issuer_never_starts_the_dev_idp() {
    let cases: [(&[(&str, &str)], &str); 4] = [
        (&[("OIDC_CLIENT_ID", "my-app")], "OIDC_ISSUER_URL"),
        (&[("OIDC_CLIENT_SECRET", SECRET)], "OIDC_ISSUER_URL"),
        (
            &[
                ("OIDC_PROVIDER_1_CLIENT_ID", "my-app"),
                ("OIDC_PROVIDER_1_CLIENT_SECRET", SECRET),
            ],
            "OIDC_PROVIDER_1_ISSUER",
        ),
        (
            &[("OIDC_PROVIDER_2_SLUG", "staff")],
            "OIDC_PROVIDER_2_ISSUER",
        ),
    ];
    for (vars, missing) in cases {
        let message = refusal(vars);
        assert!(
            message.contains("development IdP was not started"),
            "{message}"
        );
        assert!(message.contains(missing), "{vars:?}: {message}");
        for (key, _) in vars {
            assert!(message.contains(key), "names {key}: {message}");
        }
        assert!(!message.contains(SECRET), "the secret is echoed: {message}");
    }
}

#[test]
fn a_base_url_off_loopback_never_starts_the_dev_idp() {
    let port = free_port();
    for base in [
        format!("http://0.0.0.0:{port}"),
        format!("http://[::]:{port}"),
        format!("http://192.0.2.10:{port}"),
        format!("http://app.example.com:{port}"),
    ] {
        let message = refusal(&[("BASE_URL", &base)]);
        assert!(message.contains("BASE_URL"), "{message}");
        assert!(message.contains("not a loopback address"), "{message}");
        assert!(message.contains("OIDC_ISSUER_URL"), "{message}");
    }
    // `localhost` is loopback: the development IdP starts there.
    let base = format!("http://localhost:{}", free_port());
    match run(&[("BASE_URL", &base)]) {
        Outcome::Listening { banner } => {
            assert!(banner.contains("development IdP"), "{banner}")
        }
        other => panic!("{other:?}"),
    }
}

/// Your own provider (nothing is fetched from it before the first login), with `vars` added.
fn own_provider<'a>(vars: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut all = vec![
        ("OIDC_ISSUER_URL", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "my-app"),
        ("OIDC_CLIENT_SECRET", SECRET),
    ];
    all.extend_from_slice(vars);
    all
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; n];
    aws_lc_rs::rand::fill(&mut bytes).unwrap();
    bytes
}

#[test]
fn the_cookie_key_must_be_generated_key_material() {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    for key in [
        // A passphrase that decodes as base64url.
        "correct-horse-battery-staple-tower-oidc-keys",
        // The example of the crate docs.
        "PwnGtci4gzHnQa9OUpQ091Cii0s/wXFc9g+wqX9/Yu8=",
        // A made-up string that was long enough before.
        "test-cookie-key-0123456789abcdef0123456789ab",
        "too-short",
    ] {
        let message = refusal(&own_provider(&[("OIDC_COOKIE_KEY", key)]));
        assert!(message.contains("OIDC_COOKIE_KEY"), "{message}");
        assert!(message.contains("openssl rand -base64 32"), "{message}");
        assert!(!message.contains(key), "the key is echoed: {message}");
    }
    // An https BASE_URL needs a key (the listener itself stays plain http behind a proxy).
    let https = format!("https://127.0.0.1:{}", free_port());
    let message = refusal(&own_provider(&[("BASE_URL", &https)]));
    assert!(
        message.contains("OIDC_COOKIE_KEY: is not set, and BASE_URL is https"),
        "{message}"
    );
    // What key generators print starts it, https included.
    for key in [
        STANDARD.encode(random_bytes(32)),
        STANDARD.encode(random_bytes(48)),
        random_bytes(32)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect(),
        URL_SAFE_NO_PAD.encode(random_bytes(32)),
    ] {
        let key = format!("{key}\n");
        match run(&own_provider(&[
            ("BASE_URL", &https),
            ("OIDC_COOKIE_KEY", &key),
        ])) {
            Outcome::Listening { banner } => assert!(banner.contains("Redirect URI"), "{banner}"),
            other => panic!("the generated key {key:?} was refused: {other:?}"),
        }
    }
}
