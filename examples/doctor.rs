//! The configuration doctor: checks a tower-oidc configuration against the live identity
//! provider before any user tries to sign in.
//!
//! ```text
//! cargo run --example doctor
//! ```
//!
//! It reads the same environment variables and `OIDC_CONFIG_FILE` as the layer
//! (`OidcConfig::from_env`), then prints one line per check (`ok`, `info`, `warn` or `error`),
//! each problem with its fix: variables the layer does not read, the configuration itself, and
//! for each provider discovery and its issuer, the signing keys, the token endpoint auth method,
//! scopes and the groups claim, logout support, RFC 9207, the clock, and whether the provider
//! accepts the redirect URI. It sends no credentials.
//!
//! Exit status: 0 when no check is an error, 1 when one is, 2 when the configuration does not
//! load at all.

use std::process::ExitCode;

use tower_oidc::{diagnostics, OidcConfig};

#[tokio::main]
async fn main() -> ExitCode {
    let names: Vec<String> = std::env::vars_os()
        .filter_map(|(name, _)| name.into_string().ok())
        .collect();
    let mut report = diagnostics::check_environment(&names);
    print!("{report}");

    let config = match OidcConfig::from_env() {
        Ok(config) => config,
        Err(err) => {
            for problem in err.problems() {
                println!("error config: {problem}");
            }
            println!(
                "\nThe configuration does not load ({} problem(s)); fix them and run the doctor again.",
                err.problems().len()
            );
            return ExitCode::from(2);
        }
    };
    for p in config.providers() {
        println!(
            "checking provider `{}` at {} (redirect URI {})",
            p.slug(),
            p.issuer(),
            p.redirect_uri()
        );
    }
    let live = diagnostics::check(&config).await;
    print!("{live}");
    report.append(live);

    let count = |s: diagnostics::Status| report.checks().iter().filter(|c| c.status() == s).count();
    let (errors, warnings) = (
        count(diagnostics::Status::Error),
        count(diagnostics::Status::Warning),
    );
    println!("\n{errors} error(s), {warnings} warning(s)");
    if report.has_errors() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
