//! Driving the real OpenID provider (npm `oidc-provider`, started by `scripts/test.sh`) as a
//! browser would: its login and consent forms, and the app's answer to the callback.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use axum::http::{header, StatusCode};
use reqwest::redirect::Policy;

use super::{Jar, Reply, BASE_URL};

/// The variables `scripts/test.sh` exports for the real provider.
pub struct Env {
    pub issuer: String,
    pub client_id: String,
    pub secret: String,
    pub post_client_id: String,
    pub post_logout: String,
}

/// Reads the real provider's variables; panics (never skips) when they are missing.
pub fn env() -> Env {
    let var = |k: &str| {
        std::env::var(k).unwrap_or_else(|_| {
            panic!("{k} is not set: run the integration tests through scripts/test.sh, which starts the OpenID provider")
        })
    };
    Env {
        issuer: var("TOWER_OIDC_TEST_ISSUER"),
        client_id: var("TOWER_OIDC_TEST_CLIENT_ID"),
        secret: var("TOWER_OIDC_TEST_CLIENT_SECRET"),
        post_client_id: var("TOWER_OIDC_TEST_POST_CLIENT_ID"),
        post_logout: var("TOWER_OIDC_TEST_POST_LOGOUT_URI"),
    }
}

/// The browser's side at the provider: its own cookie jar, no automatic redirects.
pub struct Browser {
    pub http: reqwest::Client,
    pub issuer: String,
}

impl Browser {
    pub fn new(issuer: &str) -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .build()
            .unwrap();
        Self {
            http,
            issuer: issuer.to_owned(),
        }
    }

    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with('/') {
            format!("{}{location}", self.issuer)
        } else {
            location.to_owned()
        }
    }

    /// Follows the provider's redirects from `url`, signing in as `user` at the login form and
    /// accepting the consent form, until the provider redirects to the app. Returns that URL.
    pub async fn authorize(&self, url: &str, user: &str) -> String {
        self.authorize_seeing(url, user).await.0
    }

    /// Like [`authorize`](Self::authorize), also returning each page the provider showed.
    pub async fn authorize_seeing(&self, url: &str, user: &str) -> (String, Vec<String>) {
        self.authorize_back_to(url, user, BASE_URL).await
    }

    /// Like [`authorize_seeing`](Self::authorize_seeing), for an app at `base`.
    pub async fn authorize_back_to(
        &self,
        url: &str,
        user: &str,
        base: &str,
    ) -> (String, Vec<String>) {
        let mut next = url.to_owned();
        let mut pages = Vec::new();
        for _ in 0..20 {
            if next.starts_with(base) {
                return (next, pages);
            }
            let res = self.http.get(&next).send().await.unwrap();
            let status = res.status();
            if status.is_redirection() {
                next = self.absolute(res.headers()[header::LOCATION].to_str().unwrap());
                continue;
            }
            let page = res.text().await.unwrap();
            assert_eq!(status, StatusCode::OK, "unexpected provider page: {page}");
            next = self.answer_page(&page, user).await;
            pages.push(page);
        }
        panic!("too many redirects at the provider");
    }

    /// Answers one of the provider's pages, its login form (as `user`) or its consent form;
    /// returns where the provider sends the browser next.
    pub async fn answer_page(&self, page: &str, user: &str) -> String {
        let action = between(page, "action=\"", "\"").expect("a form on the provider's page");
        let form: Vec<(&str, &str)> = if page.contains("name=\"prompt\" value=\"login\"") {
            vec![("prompt", "login"), ("login", user), ("password", "any")]
        } else if page.contains("name=\"prompt\" value=\"consent\"") {
            vec![("prompt", "consent")]
        } else {
            panic!("unknown provider page: {page}");
        };
        let res = self
            .http
            .post(self.absolute(&action))
            .form(&form)
            .send()
            .await
            .unwrap();
        assert!(
            res.status().is_redirection(),
            "form post answered {}",
            res.status()
        );
        self.absolute(res.headers()[header::LOCATION].to_str().unwrap())
    }
}

impl Browser {
    /// Opens the provider's end-session URL `url` and confirms its sign-out form ("yes"): the
    /// provider's session ends. Returns the provider's redirect after the confirmation.
    pub async fn end_session(&self, url: &str) -> reqwest::Response {
        let confirm = self.http.get(url).send().await.unwrap();
        assert_eq!(confirm.status(), StatusCode::OK);
        let page = confirm.text().await.unwrap();
        let xsrf = between(&page, "name=\"xsrf\" value=\"", "\"").expect("xsrf field");
        let action = between(&page, "action=\"", "\"").unwrap();
        let done = self
            .http
            .post(self.absolute(&action))
            .form(&[("xsrf", xsrf.as_str()), ("logout", "yes")])
            .send()
            .await
            .unwrap();
        assert!(done.status().is_redirection(), "{}", done.status());
        done
    }
}

pub fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let from = s.find(start)? + start.len();
    let to = s[from..].find(end)? + from;
    Some(s[from..to].replace("&amp;", "&"))
}

pub fn path_of(url: &str) -> String {
    let u = url::Url::parse(url).unwrap();
    format!("{}?{}", u.path(), u.query().unwrap_or(""))
}

/// Signs in as `user` starting from `path`; returns the app's answer to the callback.
pub async fn sign_in(
    jar: &mut Jar,
    app: &axum::Router,
    browser: &Browser,
    path: &str,
    user: &str,
) -> Reply {
    let start = jar.get(app, path).await;
    assert_eq!(start.status, StatusCode::FOUND, "{start:?}");
    let back = browser.authorize(start.location(), user).await;
    jar.get(app, &path_of(&back)).await
}

/// A real `oidc-provider` process of a test's own (`tests/oidc-provider/server.mjs`, users of set
/// `a`), stopped when dropped. Each start signs with a fresh RS256 key.
pub struct RealProvider {
    child: Child,
    port: u16,
}

impl RealProvider {
    /// Starts one on `port` (0: any free port) under the default key id.
    pub fn start(port: u16) -> Self {
        Self::start_signing(port, None)
    }

    /// Starts one on `port` (0: any free port) whose fresh key has the id `kid` (`None`: the
    /// default, `test-rs256-a`).
    pub fn start_signing(port: u16, kid: Option<&str>) -> Self {
        match kid {
            Some(kid) => Self::start_with(port, &[("SIGNING_KID", kid)]),
            None => Self::start_with(port, &[]),
        }
    }

    /// Starts one on `port` (0: any free port) with other settings than the instances
    /// `scripts/test.sh` starts: server.mjs's variables in `env` (`RP_INITIATED_LOGOUT`,
    /// `TOKEN_AUTH_METHODS`, `SIGNING_KID`, ...).
    pub fn start_with(port: u16, env: &[(&str, &str)]) -> Self {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/oidc-provider");
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("PORT", port.to_string())
            .env("USERS_SET", "a")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node (scripts/test.sh puts it on PATH) and tests/oidc-provider/node_modules");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line
            .trim()
            .strip_prefix("ISSUER=http://127.0.0.1:")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("the provider announced `{}`", line.trim()));
        Self { child, port }
    }

    /// Its issuer, `http://127.0.0.1:<port>`.
    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Stops it and starts it again on the same port (so with the same issuer), with a fresh
    /// key whose id is `kid`: a provider restarted, or rotated to a new key.
    pub fn restart(self, kid: Option<&str>) -> Self {
        let port = self.port;
        self.stop();
        Self::start_signing(port, kid)
    }

    pub fn stop(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for RealProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
