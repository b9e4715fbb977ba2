//! Refresh tokens: `OIDC_REFRESH` (also turned on by `offline_access` in a provider's
//! `OIDC_SCOPE`), `OIDC_REFRESH_MARGIN` and `OIDC_REFRESH_GRACE`, their setters, the config
//! file's keys (`refresh`, `refresh_margin`, `refresh_grace`), and their validation into
//! [`RefreshConfig`].
//!
//! The settings are app-wide: the refresh needs the server-side store, which is app-wide too,
//! and one margin and grace keep one behaviour for every provider.

use std::time::Duration;

use super::builder::OidcConfigBuilder;
use super::session_store::{read_secs, StoreKind};
use super::ProviderConfig;
use crate::error::ConfigProblem;

/// The variable turning refresh on.
pub(crate) const REFRESH: &str = "OIDC_REFRESH";
/// How long before the access token's expiry it is refreshed.
pub(crate) const MARGIN: &str = "OIDC_REFRESH_MARGIN";
/// How long past the access token's expiry an unreachable provider is tolerated.
pub(crate) const GRACE: &str = "OIDC_REFRESH_GRACE";

/// The scope that asks for a refresh token (OpenID Connect Core 1.0 section 11).
pub(crate) const OFFLINE_ACCESS: &str = "offline_access";

const DEFAULT_MARGIN: Duration = Duration::from_secs(60);
const DEFAULT_GRACE: Duration = Duration::from_secs(300);

/// The settings as written, kept by the builder until `build`.
#[derive(Debug, Clone, Default)]
pub(crate) struct RefreshDraft {
    /// `OIDC_REFRESH`; `Err` holds a value that is not a boolean.
    on: Option<Result<bool, String>>,
    margin: Option<Duration>,
    grace: Option<Duration>,
}

/// The validated settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RefreshConfig {
    /// Whether sessions are refreshed (and the logout revokes the refresh token).
    pub(crate) on: bool,
    /// Seconds before the access token's expiry that the refresh is due.
    pub(crate) margin: u64,
    /// Seconds past the access token's expiry that a session is still served while the
    /// provider cannot be reached.
    pub(crate) grace: u64,
}

impl OidcConfigBuilder {
    /// Refreshes each session's tokens at the provider (`OIDC_REFRESH`, `refresh` in the file;
    /// off by default; `offline_access` in a provider's scope turns it on too): before the
    /// access token expires, the layer redeems the refresh token (RFC 6749 section 6), checks
    /// the new ID token as at sign-in (OpenID Connect Core 1.0 section 12.2: same `iss`, `sub`
    /// and `aud`), and runs the access rules and the role map again on the fresh claims. A
    /// refresh the provider refuses ends the session on every replica; the logout revokes the
    /// refresh token (RFC 7009) where the provider has a revocation endpoint.
    ///
    /// The login then asks for the `offline_access` scope and, unless a prompt is configured,
    /// `prompt=consent`, which OpenID Connect Core 1.0 section 11 requires with it.
    ///
    /// # Security
    ///
    /// Needs a server-side session store (`OIDC_SESSION_STORE`): the tokens live there, never
    /// in a cookie, a log or a page. With the cookie store an old copy of the cookie would
    /// replay a spent refresh token, and a rotating provider would end the grant: a startup
    /// error.
    pub fn with_refresh(mut self, on: bool) -> Self {
        self.refresh.on = Some(Ok(on));
        self
    }

    /// How long before the access token's expiry the refresh is due (`OIDC_REFRESH_MARGIN`,
    /// seconds, 60 by default). The request that finds it due refreshes, once per session
    /// across every replica; the others are served meanwhile.
    pub fn with_refresh_margin(mut self, margin: Duration) -> Self {
        self.refresh.margin = Some(margin);
        self
    }

    /// How long past the access token's expiry a signed-in user keeps working while the
    /// provider cannot be reached (`OIDC_REFRESH_GRACE`, seconds, 300 by default); then 503
    /// until the provider answers again. Never longer: the provider must confirm the user.
    pub fn with_refresh_grace(mut self, grace: Duration) -> Self {
        self.refresh.grace = Some(grace);
        self
    }
}

/// Reads the variables of this file through `get` into the builder.
pub(crate) fn read_env(b: &mut OidcConfigBuilder, get: impl Fn(&str) -> Option<String>) {
    if let Some(v) = get(REFRESH) {
        b.refresh.on = Some(super::env::parse_bool(&v));
    }
    read_secs(b, MARGIN, get(MARGIN), |b, d| b.refresh.margin = Some(d));
    read_secs(b, GRACE, get(GRACE), |b, d| b.refresh.grace = Some(d));
}

/// The config file's keys of this file: `refresh`, `refresh_margin` and `refresh_grace`
/// (seconds).
#[derive(Debug, Default)]
pub(crate) struct FileRefresh {
    pub(crate) refresh: Option<bool>,
    pub(crate) refresh_margin: Option<u64>,
    pub(crate) refresh_grace: Option<u64>,
}

/// Applies the config file's keys.
pub(crate) fn read_file(b: &mut OidcConfigBuilder, file: FileRefresh) {
    if let Some(v) = file.refresh {
        b.refresh.on = Some(Ok(v));
    }
    if let Some(v) = file.refresh_margin {
        b.refresh.margin = Some(Duration::from_secs(v));
    }
    if let Some(v) = file.refresh_grace {
        b.refresh.grace = Some(Duration::from_secs(v));
    }
}

/// Validates the draft against the store and the providers; with refresh on, each provider's
/// login asks for `offline_access` (and `prompt=consent` unless a prompt is configured).
pub(crate) fn validate(
    draft: &RefreshDraft,
    store: &StoreKind,
    providers: &mut [ProviderConfig],
    problems: &mut Vec<ConfigProblem>,
) -> RefreshConfig {
    let mut push = |key: &str, message: String| {
        problems.push(ConfigProblem {
            key: key.to_owned(),
            message,
        })
    };
    let asked = match &draft.on {
        Some(Ok(on)) => Some(*on),
        Some(Err(bad)) => {
            let bad: String = bad.chars().take(32).collect();
            push(
                REFRESH,
                format!("`{bad}` is not a boolean: use `true` or `false`"),
            );
            None
        }
        None => None,
    };
    let by_scope = providers
        .iter()
        .any(|p| p.scope.split(' ').any(|s| s == OFFLINE_ACCESS));
    // An explicit `false` wins over the scope: the operator asked for no refresh.
    let on = asked.unwrap_or(by_scope);
    let margin = draft.margin.unwrap_or(DEFAULT_MARGIN).as_secs();
    let grace = draft.grace.unwrap_or(DEFAULT_GRACE).as_secs();
    if grace > 86_400 {
        push(
            GRACE,
            "must be at most 86400 seconds (a day): past its access token's expiry a session is served without the provider's word".into(),
        );
    }
    if margin > 3_600 {
        push(MARGIN, "must be at most 3600 seconds".into());
    }
    if on && *store == StoreKind::Cookie {
        let why = if asked == Some(true) {
            REFRESH
        } else {
            "OIDC_SCOPE (offline_access)"
        };
        push(
            super::session_store::SESSION_STORE,
            format!("is the cookie store, but refresh tokens are on ({why}): set OIDC_SESSION_STORE to `memory` or a redis:// URL, so that the tokens live on the server and a copied cookie cannot replay a spent refresh token"),
        );
    }
    if on {
        for p in providers.iter_mut() {
            if !p.scope.split(' ').any(|s| s == OFFLINE_ACCESS) {
                p.scope.push(' ');
                p.scope.push_str(OFFLINE_ACCESS);
            }
            // OpenID Connect Core 1.0 section 11: "When offline access is requested, a prompt
            // parameter value of consent MUST be used unless other conditions for processing
            // the request permitting offline access to the requested resources are in place"
            // (oidc-provider drops offline_access without it).
            if p.login.prompt.is_none() {
                p.login.prompt = Some("consent".into());
            }
        }
    }
    RefreshConfig { on, margin, grace }
}

#[cfg(test)]
mod tests {
    use crate::OidcConfig;

    fn base() -> crate::OidcConfigBuilder {
        OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_base_url("https://app.example.com")
            .with_cookie_key("IlzD4pae0xgKesB/FsBsW2mHVTdPgyTAuifsk+NJpzw=")
    }

    #[test]
    fn refresh_with_the_cookie_store_is_a_startup_error_naming_the_store() {
        let err = base().with_refresh(true).build().unwrap_err().to_string();
        assert!(err.contains("OIDC_SESSION_STORE"), "{err}");
        let err = base()
            .with_scope("openid offline_access")
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("OIDC_SESSION_STORE"), "{err}");
        assert!(base().with_refresh(false).build().is_ok());
    }

    #[test]
    fn refresh_asks_for_offline_access_and_consent_unless_a_prompt_is_set() {
        let c = base()
            .with_session_store("memory")
            .with_refresh(true)
            .build()
            .unwrap();
        assert!(c.refresh.on);
        assert_eq!(c.refresh.margin, 60);
        assert_eq!(c.refresh.grace, 300);
        assert_eq!(c.providers[0].scope, "openid profile email offline_access");
        assert_eq!(c.providers[0].login.prompt.as_deref(), Some("consent"));
        let c = base()
            .with_session_store("memory")
            .with_scope("openid offline_access")
            .with_prompt("login")
            .with_refresh_margin(std::time::Duration::from_secs(5))
            .build()
            .unwrap();
        assert!(c.refresh.on, "offline_access turns it on");
        assert_eq!(c.refresh.margin, 5);
        assert_eq!(c.providers[0].scope, "openid offline_access");
        assert_eq!(c.providers[0].login.prompt.as_deref(), Some("login"));
        let off = base().with_session_store("memory").build().unwrap();
        assert!(!off.refresh.on);
        assert_eq!(off.providers[0].login.prompt, None);
    }

    #[test]
    fn the_variables_are_read_and_bad_values_named() {
        let env = |k: &str| match k {
            "OIDC_ISSUER_URL" => Some("https://id.example.com".into()),
            "OIDC_CLIENT_ID" => Some("app".into()),
            "BASE_URL" => Some("https://app.example.com".into()),
            "OIDC_COOKIE_KEY" => Some("IlzD4pae0xgKesB/FsBsW2mHVTdPgyTAuifsk+NJpzw=".into()),
            "OIDC_SESSION_STORE" => Some("memory".into()),
            "OIDC_REFRESH" => Some("yes".into()),
            "OIDC_REFRESH_MARGIN" => Some("30s".into()),
            "OIDC_REFRESH_GRACE" => Some("120".into()),
            _ => None,
        };
        let c = OidcConfig::builder_from_lookup(env).build().unwrap();
        assert_eq!(
            (c.refresh.on, c.refresh.margin, c.refresh.grace),
            (true, 30, 120)
        );
        let bad = |k: &str| match k {
            "OIDC_REFRESH" => Some("sometimes".into()),
            "OIDC_REFRESH_GRACE" => Some("long".into()),
            other => env(other),
        };
        let err = OidcConfig::builder_from_lookup(bad)
            .build()
            .unwrap_err()
            .to_string();
        assert!(err.contains("OIDC_REFRESH:"), "{err}");
        assert!(err.contains("OIDC_REFRESH_GRACE"), "{err}");
    }
}
