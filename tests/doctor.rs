//! The configuration doctor itself (`cargo run --example doctor`), run as an operator would run
//! it, against the real `oidc-provider` (started by `scripts/test.sh`, or an instance of this
//! binary's own with other settings): a correct configuration passes with exit status 0, and
//! each deliberate mistake is one `error` line with its named fix and a non-zero exit.

mod support;

use std::process::Command;

use support::real::{env, RealProvider};
use support::BASE_URL;

/// What the doctor printed, and its exit status.
struct Run {
    out: String,
    code: i32,
}

impl Run {
    /// The one line about `topic` (of the single provider `default`).
    fn line(&self, status: &str, topic: &str) -> &str {
        let prefix = format!("{status:<5} [default] {topic}: ");
        let lines: Vec<&str> = self
            .out
            .lines()
            .filter(|l| l.starts_with(&prefix))
            .collect();
        assert_eq!(lines.len(), 1, "one `{prefix}` line in:\n{}", self.out);
        lines[0]
    }

    fn errors(&self) -> usize {
        self.out.lines().filter(|l| l.starts_with("error")).count()
    }
}

/// Runs the doctor with only `vars` set among the `OIDC_*` variables and `BASE_URL`.
fn doctor(vars: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(support::example_binary("doctor"));
    for (key, _) in std::env::vars() {
        if key.starts_with("OIDC_") || key == "BASE_URL" {
            cmd.env_remove(key);
        }
    }
    let output = cmd.envs(vars.iter().copied()).output().unwrap();
    Run {
        out: String::from_utf8_lossy(&output.stdout).into_owned(),
        code: output.status.code().expect("exited"),
    }
}

const COOKIE_KEY: &str = "IVSpgc8l17xX7D28IChMyNcud5/hvEtCPw665yRlW1M=";

/// A correct configuration for the real provider at `issuer`, with `changes` applied.
fn with(issuer: &str, changes: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    let e = env();
    let mut vars: Vec<(&'static str, String)> = vec![
        ("OIDC_ISSUER_URL", issuer.to_owned()),
        ("OIDC_CLIENT_ID", e.client_id),
        ("OIDC_CLIENT_SECRET", e.secret),
        ("OIDC_SCOPE", "openid profile email groups".into()),
        ("BASE_URL", BASE_URL.into()),
        ("OIDC_COOKIE_KEY", COOKIE_KEY.into()),
        ("OIDC_POST_LOGOUT_REDIRECT_URI", e.post_logout),
    ];
    for (k, v) in changes {
        vars.retain(|(key, _)| key != k);
        vars.push((k, (*v).to_owned()));
    }
    vars
}

fn run(vars: &[(&'static str, String)]) -> Run {
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    doctor(&vars)
}

#[test]
fn a_correct_configuration_passes_every_check() {
    let e = env();
    let r = run(&with(&e.issuer, &[]));
    assert_eq!(r.code, 0, "{}", r.out);
    assert_eq!(r.errors(), 0, "{}", r.out);
    for topic in [
        "discovery",
        "issuer",
        "clock",
        "signing keys",
        "token endpoint auth",
        "scopes",
        "groups claim",
        "end session",
        "RFC 9207 iss",
        "redirect URI",
    ] {
        r.line("ok", topic);
    }
    assert!(
        r.line("ok", "redirect URI").contains(&format!(
            "the provider accepts `{BASE_URL}/auth/callback` for client `{}`",
            e.client_id
        )),
        "{}",
        r.out
    );
    assert!(
        r.line("info", "post-logout URI")
            .contains(&format!("register `{}`", e.post_logout)),
        "{}",
        r.out
    );
    r.line("info", "back-channel logout");
    assert!(r.out.contains("0 error(s), 0 warning(s)"), "{}", r.out);
    assert!(!r.out.contains(&e.secret), "the secret is never printed");
}

#[test]
fn an_issuer_differing_by_a_trailing_slash_is_named_with_its_fix() {
    let e = env();
    let r = run(&with(&format!("{}/", e.issuer), &[]));
    assert_eq!(r.code, 1, "{}", r.out);
    assert_eq!(r.errors(), 1, "only the issuer: {}", r.out);
    let line = r.line("error", "issuer");
    assert!(
        line.ends_with(&format!("-> fix: set OIDC_ISSUER_URL to `{}`", e.issuer)),
        "{line}"
    );
    // The other checks still ran against the document.
    r.line("ok", "redirect URI");
}

#[test]
fn an_unsupported_token_endpoint_auth_method_is_named_with_its_fix() {
    let e = env();
    // A provider that accepts client_secret_post only.
    let provider = RealProvider::start_with(0, &[("TOKEN_AUTH_METHODS", "client_secret_post")]);
    let r = run(&with(
        &provider.issuer(),
        &[
            ("OIDC_CLIENT_ID", &e.post_client_id),
            ("OIDC_TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_basic"),
        ],
    ));
    assert_eq!(r.code, 1, "{}", r.out);
    let line = r.line("error", "token endpoint auth");
    assert!(
        line.contains("`client_secret_basic` is not among the methods the provider supports (client_secret_post)")
            && line.ends_with("-> fix: set OIDC_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post"),
        "{line}"
    );
    assert_eq!(r.errors(), 1, "{}", r.out);
    provider.stop();
}

#[test]
fn a_scope_the_provider_does_not_know_is_named_with_its_fix() {
    let e = env();
    let r = run(&with(
        &e.issuer,
        &[("OIDC_SCOPE", "openid profile email groups roles")],
    ));
    assert_eq!(r.code, 1, "{}", r.out);
    let line = r.line("error", "scopes");
    assert!(
        line.contains("does not know the scope(s) `roles`")
            && line.ends_with(
                "-> fix: remove `roles` from OIDC_SCOPE, or create the scope at the provider"
            ),
        "{line}"
    );
}

#[test]
fn an_unregistered_redirect_uri_is_named_with_its_fix() {
    let e = env();
    let r = run(&with(&e.issuer, &[("BASE_URL", "http://127.0.0.1:4999")]));
    assert_eq!(r.code, 1, "{}", r.out);
    let line = r.line("error", "redirect URI");
    assert!(
        line.contains(
            "-> fix: register `http://127.0.0.1:4999/auth/callback` as a redirect URI of client"
        ),
        "{line}"
    );
    assert_eq!(r.errors(), 1, "{}", r.out);
}

#[test]
fn an_unreachable_provider_and_a_configuration_that_does_not_load_are_errors() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r = run(&with(&format!("http://127.0.0.1:{port}"), &[]));
    assert_eq!(r.code, 1, "{}", r.out);
    assert!(
        r.line("error", "discovery")
            .contains("-> fix: check OIDC_ISSUER_URL and that this machine reaches the provider"),
        "{}",
        r.out
    );

    // A misspelt issuer variable: a warning naming the right one, and the configuration does
    // not load without it.
    let r = doctor(&[
        ("OIDC_ISSUER_URI", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("BASE_URL", BASE_URL),
    ]);
    assert_eq!(r.code, 2, "{}", r.out);
    assert!(
        r.out.contains(
            "warn  variables: OIDC_ISSUER_URI is not a tower-oidc variable and is ignored; did you mean OIDC_ISSUER_URL? -> fix: rename OIDC_ISSUER_URI to OIDC_ISSUER_URL"
        ),
        "{}",
        r.out
    );
    assert!(
        r.out.contains("error config: OIDC_ISSUER_URL: is not set"),
        "{}",
        r.out
    );
    assert!(
        r.out
            .contains("warn  cookie key: OIDC_COOKIE_KEY is not set"),
        "{}",
        r.out
    );
}
