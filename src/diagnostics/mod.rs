//! The configuration doctor: a configuration checked against the live provider before any user
//! tries to sign in, one line per check, each problem with its fix. `cargo run --example doctor`
//! runs it on the variables and file the layer reads.
//!
//! For each provider it checks, with the layer's own HTTP client, parsers and allowlists:
//! discovery reachable and its issuer exact; the JWKS fetchable with a key the algorithm
//! allowlist can use; the configured token endpoint auth method supported; the scopes and the
//! groups claim advertised; end-session, back-channel logout and RFC 9207 support; this
//! machine's clock against the provider's `Date`; and that the provider accepts the redirect
//! URI (an authorization request with `prompt=none` must come back to it). It sends no
//! credentials: the client secret never leaves the process.
//!
//! ```no_run
//! use tower_oidc::{diagnostics, OidcConfig};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let names: Vec<String> = std::env::vars().map(|(name, _)| name).collect();
//! let mut report = diagnostics::check_environment(&names);
//! let config = OidcConfig::from_env()?;
//! report.append(diagnostics::check(&config).await);
//! print!("{report}");
//! std::process::exit(if report.has_errors() { 1 } else { 0 });
//! # }
//! ```

use crate::config::OidcConfig;

mod provider;
mod report;

pub use report::{Check, Report, Status};

/// Checks every provider of `config` against the live provider. Never fails: an unreachable
/// provider or a refused request is an [`Status::Error`] line of the report.
pub async fn check(config: &OidcConfig) -> Report {
    let mut report = Report::default();
    for p in &config.providers {
        provider::check(config, p, &mut report).await;
    }
    report
}

/// Checks the names of the environment's variables (for example the keys of
/// [`std::env::vars`]): each `OIDC_*` variable the layer does not read, with the closest known
/// name ([`OidcConfig::unused_variables`]), and whether `OIDC_COOKIE_KEY` is set.
pub fn check_environment<I, S>(names: I) -> Report
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let names: Vec<S> = names.into_iter().collect();
    let mut report = Report::default();
    for unused in OidcConfig::unused_variables(&names) {
        let check = if unused.is_ignored_on_purpose() {
            Check::new(Status::Info, None, "variables", unused.to_string())
        } else {
            let fix = match unused.closest() {
                Some(closest) => format!("rename {} to {closest}", unused.name()),
                None => format!(
                    "remove {}, or use a variable the README lists",
                    unused.name()
                ),
            };
            Check::new(Status::Warning, None, "variables", unused.to_string()).with_fix(fix)
        };
        report.push(check);
    }
    if !names.iter().any(|n| n.as_ref() == "OIDC_COOKIE_KEY") {
        report.push(
            Check::new(
                Status::Warning,
                None,
                "cookie key",
                "OIDC_COOKIE_KEY is not set: every restart signs everyone out, and replicas cannot read each other's sessions",
            )
            .with_fix("set OIDC_COOKIE_KEY to the output of `openssl rand -base64 48`"),
        );
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_check_names_misspellings_and_the_missing_cookie_key() {
        let report = check_environment(["OIDC_ISSUER_URI", "OIDC_ENABLED", "PATH"]);
        let lines = report.to_string();
        assert!(
            lines.contains("warn  variables: OIDC_ISSUER_URI is not a tower-oidc variable")
                && lines.contains("-> fix: rename OIDC_ISSUER_URI to OIDC_ISSUER_URL"),
            "{lines}"
        );
        assert!(
            lines.contains("info  variables: OIDC_ENABLED is ignored on purpose"),
            "{lines}"
        );
        assert!(lines.contains("OIDC_COOKIE_KEY is not set"), "{lines}");
        assert!(!report.has_errors(), "warnings only: {lines}");
        assert_eq!(check_environment(["OIDC_COOKIE_KEY"]).checks(), []);
    }
}
