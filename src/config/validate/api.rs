//! The bearer-token settings: `API_AUDIENCE`, `API_REQUIRE_AT_JWT`,
//! `API_INTROSPECTION_CACHE` and `RESOURCE` per provider, and the API paths across providers.

use std::time::Duration;

use super::{is_route_path, Problems};
use crate::config::builder::OidcConfigBuilder;
use crate::config::env::Keys;
use crate::config::{ApiConfig, ProviderConfig};

/// How long an introspected token is trusted without asking again, unless configured
/// (`API_INTROSPECTION_CACHE`): a revocation at the provider holds within a minute.
const DEFAULT_INTROSPECTION_CACHE: u64 = 60;

/// The longest `API_INTROSPECTION_CACHE` accepted: a day.
const MAX_INTROSPECTION_CACHE: u64 = 86_400;

/// `API_AUDIENCE`, `API_REQUIRE_AT_JWT` and `API_INTROSPECTION_CACHE`: bearer tokens, when an
/// audience is set.
pub(super) fn api(
    audience: Option<String>,
    require_at_jwt: Option<Result<bool, String>>,
    introspection_cache: Option<Result<u64, String>>,
    keys: Keys,
    problems: &mut Problems,
) -> Option<ApiConfig> {
    let introspection_cache = match introspection_cache.unwrap_or(Ok(DEFAULT_INTROSPECTION_CACHE)) {
        Ok(secs) if secs <= MAX_INTROSPECTION_CACHE => Duration::from_secs(secs),
        Ok(_) | Err(_) => {
            problems.push(
                &keys.key("API_INTROSPECTION_CACHE"),
                format!("must be a whole number of seconds from 0 to {MAX_INTROSPECTION_CACHE}"),
            );
            Duration::from_secs(DEFAULT_INTROSPECTION_CACHE)
        }
    };
    let require_at_jwt = match require_at_jwt.unwrap_or(Ok(true)) {
        Ok(b) => b,
        Err(raw) => {
            problems.push(
                &keys.key("API_REQUIRE_AT_JWT"),
                format!("`{raw}` is not `true` or `false`"),
            );
            true
        }
    };
    let audience = audience.map(|a| a.trim().to_owned());
    match audience.as_deref() {
        None | Some("") => {
            if !require_at_jwt {
                problems.push(
                    &keys.key("API_REQUIRE_AT_JWT"),
                    format!(
                        "is set but {} is not: set the API's audience too, or remove it",
                        keys.key("API_AUDIENCE")
                    ),
                );
            }
            None
        }
        Some(a) if a.chars().any(char::is_control) || a.len() > 1024 => {
            problems.push(
                &keys.key("API_AUDIENCE"),
                "must be one audience of at most 1024 characters, without control characters",
            );
            None
        }
        Some(_) => Some(ApiConfig {
            audience: audience.unwrap_or_default(),
            require_at_jwt,
            introspection_cache,
        }),
    }
}

/// `RESOURCE`: an absolute URI without a fragment (RFC 8707 section 2).
pub(super) fn resource(raw: Option<String>, key: &str, problems: &mut Problems) -> Option<String> {
    let raw = raw.map(|r| r.trim().to_owned()).filter(|r| !r.is_empty())?;
    match url::Url::parse(&raw) {
        Ok(url) if url.fragment().is_none() && raw.len() <= 1024 => Some(raw),
        _ => {
            problems.push(
                key,
                "must be an absolute URI without a fragment (RFC 8707), such as https://api.example.com",
            );
            None
        }
    }
}

/// The API paths, and the `typ` opt-out: only for an audience no ID token of any configured
/// client carries (RFC 9068 section 4: that is what keeps ID tokens out).
pub(super) fn check_api(
    b: &OidcConfigBuilder,
    providers: &[ProviderConfig],
    problems: &mut Problems,
) {
    for path in &b.api_paths {
        if !is_route_path(path) {
            problems.push("api path", format!("`{path}` must start with `/`"));
        }
    }
    for p in providers {
        let Some(api) = p.api.as_ref().filter(|a| !a.require_at_jwt) else {
            continue;
        };
        if providers
            .iter()
            .any(|o| o.client_id.as_str() == api.audience)
        {
            problems.push(
                &p.keys.key("API_REQUIRE_AT_JWT"),
                format!("is false, but {} equals a client id, so an ID token would pass as an access token: give the API its own audience at the provider, or keep the `at+jwt` check", p.keys.key("API_AUDIENCE")),
            );
        }
    }
    if (b.bearer_only || !b.api_paths.is_empty()) && !providers.iter().any(|p| p.api.is_some()) {
        problems.push(
            "OIDC_API_AUDIENCE",
            "is not set, but API paths are configured: set the API's audience to accept bearer tokens there",
        );
    }
}
