//! The quickstart example itself, run as a new user would run it (`cargo run --example
//! quickstart`, no variables): each development user signs in through its built-in IdP and
//! `/api/me` shows the role and admin flag its role map (`examples/quickstart.toml`) gives.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

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

fn start() -> Quickstart {
    let base = format!("http://127.0.0.1:{}", free_port());
    let mut cmd = Command::new(support::example_binary("quickstart"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OIDC_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
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
