//! Validation: the builder's drafts become the runtime [`OidcConfig`] and one
//! [`ProviderConfig`] per provider. Every problem is collected, each naming its variable or
//! key, and reported at once, in the order the settings are checked.

use std::time::Duration;

use url::Url;

use self::api::check_api;
use self::cookie_keys::{cookie_key, old_cookie_keys};
use self::providers::providers;
use super::builder::OidcConfigBuilder;
use super::cookie_key::MAKE_KEY;
use super::types::AuthMethod;
use super::{ConfigId, Network, OidcConfig};
use crate::error::{ConfigError, ConfigProblem};

mod api;
mod cookie_keys;
mod provider;
mod providers;

/// The largest clock leeway accepted. OpenID Connect Core 3.1.3.7 allows "a small leeway";
/// five minutes is the ceiling common practice (Kerberos, mod_auth_openidc) uses.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// The problems found so far.
#[derive(Debug, Default)]
struct Problems(Vec<ConfigProblem>);

impl Problems {
    fn push(&mut self, key: &str, message: impl Into<String>) {
        self.0.push(ConfigProblem {
            key: key.to_owned(),
            message: message.into(),
        });
    }
}

/// [`OidcConfigBuilder::build`]: validates every setting, then assembles the configuration.
pub(super) fn build(mut b: OidcConfigBuilder) -> Result<OidcConfig, ConfigError> {
    let mut problems = Problems(std::mem::take(&mut b.problems));
    let problems = &mut problems;
    apply_redirect_uri(&mut b, problems);
    let base_url = base_url(b.base_url.as_deref(), problems);
    check_routes(&b, problems);
    let https = base_url.as_ref().is_some_and(|u| u.scheme() == "https");
    let cookie_key = cookie_key(&b, https, problems);
    let old_cookie_keys = old_cookie_keys(&b, problems);
    let mut network_problems = Vec::new();
    let network = Network::parse(
        &b.extra_root_pems,
        b.https_proxy.as_deref(),
        &mut network_problems,
    );
    for (key, message) in network_problems {
        problems.push(key, message);
    }
    check_durations(&b, problems);
    if b.memory_capacity == 0 {
        problems.push(
            "memory capacity",
            "must be at least 1 (`with_memory_capacity`; the default is 100000)",
        );
    }
    let (trusted_proxies, login_rate_limit) =
        super::client_network::validate(&b.client_network, &mut problems.0);
    let session_store = super::session_store::validate(&b.session_store, &mut problems.0);
    let jwks_path = super::client_assertion::jwks_path(b.jwks_path.as_deref(), |m| {
        problems.push("OIDC_JWKS_PATH", m)
    });
    let post_logout_redirect_uri =
        post_logout_redirect_uri(b.post_logout_redirect_uri.as_deref(), problems);
    let auth_method = auth_method(&b, problems);
    check_local_login_url(b.local_login_url.as_deref(), problems);
    let global_policy = b.defaults.role_map.is_some() || b.defaults.admin_group.is_some();
    let mut providers = providers(&mut b, base_url.as_ref(), problems);
    let refresh = super::refresh::validate(
        &b.refresh,
        &session_store.kind,
        &mut providers,
        &mut problems.0,
    );
    if b.login_hook.is_none() {
        for p in providers.iter().filter(|p| !p.auto_provision) {
            problems.push(
                &p.keys.key("AUTO_PROVISION"),
                "is false, but no login hook is set to tell known users from new ones: everyone would be let in. Set a hook with `OidcConfigBuilder::with_login_hook`, or remove the setting",
            );
        }
    }

    check_api(&b, &providers, problems);

    let (Some(base_url), Some(cookie_key), true) = (base_url, cookie_key, problems.0.is_empty())
    else {
        return Err(ConfigError::new(std::mem::take(&mut problems.0)));
    };

    if cookie_key.is_generated() {
        if b.allow_random_cookie_key {
            tracing::info!(
                target: "tower_oidc",
                "OIDC_COOKIE_KEY is not set: using a random key for this process only, as the app allows"
            );
        } else {
            tracing::warn!(
                target: "tower_oidc",
                "OIDC_COOKIE_KEY is not set: using a random key for this process only; \
                 every restart signs everyone out and replicas cannot read each other's sessions. \
                 Set OIDC_COOKIE_KEY to the output of {MAKE_KEY}."
            );
        }
    }
    if providers.len() > 1 && global_policy {
        tracing::warn!(
            target: "tower_oidc",
            "the global role map and admin group apply to every provider: a group name means the same whichever issuer sent it. \
             If the providers are run by different parties, give each its own ([[providers]] roles / OIDC_PROVIDER_N_ADMIN_GROUP)"
        );
    }

    let secure_cookies = base_url.scheme() == "https";
    let accepts_bearer = providers.iter().any(|p| p.api.is_some());
    Ok(OidcConfig {
        accepts_bearer,
        // `providers` is not empty: without a problem, every draft (at least one) became one.
        redirect_uri: providers[0].redirect_uri.clone(),
        providers,
        base_url,
        secure_cookies,
        callback_path: b.callback_path,
        login_path: b.login_path,
        logout_path: b.logout_path,
        providers_path: b.providers_path,
        backchannel_logout_path: b.backchannel_logout_path,
        public_paths: b.public_paths,
        cookie_key,
        old_cookie_keys,
        leeway: b.leeway,
        session_lifetime: b.session_lifetime,
        post_logout_redirect_uri,
        jwks_refetch_cooldown: b.jwks_refetch_cooldown,
        http_timeout: b.http_timeout,
        network,
        clock: b.clock,
        auth_method,
        local_session: b.local_session,
        local_login_url: b.local_login_url,
        require_session: b.require_session,
        login_hook: b.login_hook,
        page_hook: b.page_hook,
        id: ConfigId::next(),
        memory_capacity: b.memory_capacity,
        api_paths: b.api_paths,
        bearer_only: b.bearer_only,
        trusted_proxies,
        login_rate_limit,
        session_store,
        refresh,
        audit_sink: b.audit_sink,
        jwks_path,
    })
}

/// `OIDC_REDIRECT_URI` (TimeTracker's form) stands for BASE_URL plus the callback path.
fn apply_redirect_uri(b: &mut OidcConfigBuilder, problems: &mut Problems) {
    let Some(raw) = b.redirect_uri.take() else {
        return;
    };
    match Url::parse(raw.trim()) {
        Ok(u) if u.query().is_none() && u.fragment().is_none() && u.host_str().is_some() => {
            let origin = u.origin().ascii_serialization();
            match b.base_url.as_deref().map(|b| b.trim().trim_end_matches('/')) {
                Some(base) if base != origin => problems.push(
                    "OIDC_REDIRECT_URI",
                    format!("`{raw}` is not under BASE_URL `{base}`; set only BASE_URL, or make them agree"),
                ),
                _ => {
                    b.base_url = Some(origin);
                    b.callback_path = u.path().to_owned();
                }
            }
        }
        _ => problems.push(
            "OIDC_REDIRECT_URI",
            format!("`{raw}` must be an absolute URL without query or fragment"),
        ),
    }
}

/// `BASE_URL`: an http(s) origin without a path.
fn base_url(raw: Option<&str>, problems: &mut Problems) -> Option<Url> {
    let mut problem = |message: &str| -> Option<Url> {
        problems.push("BASE_URL", message);
        None
    };
    match raw.map(str::trim) {
        None | Some("") => {
            problem("is not set; use the app's public origin, e.g. https://app.example.com")
        }
        Some(raw) => match Url::parse(raw) {
            Ok(u) if !matches!(u.scheme(), "http" | "https") => problem(&format!(
                "must be an http or https URL (got scheme `{}`)",
                u.scheme()
            )),
            Ok(u) if u.host_str().is_none() => problem("has no host"),
            Ok(u) if u.query().is_some() || u.fragment().is_some() => {
                problem("must not have a query or fragment")
            }
            Ok(u) if u.path() != "/" => {
                problem("must be an origin without a path, e.g. https://app.example.com")
            }
            Ok(u) => Some(u),
            Err(e) => problem(&format!("not an absolute URL ({e})")),
        },
    }
}

/// The layer's routes and the public paths: well-formed, distinct, and not below the callback
/// path (whose `/{slug}` children belong to the providers).
fn check_routes(b: &OidcConfigBuilder, problems: &mut Problems) {
    for (key, path) in [
        ("callback path", &b.callback_path),
        ("login path", &b.login_path),
        ("logout path", &b.logout_path),
        ("providers path", &b.providers_path),
        ("back-channel logout path", &b.backchannel_logout_path),
    ] {
        if !is_route_path(path) {
            problems.push(
                key,
                format!("`{path}` must start with `/` and contain no `?`, `#` or `//`"),
            );
        }
    }
    let routes = [
        &b.callback_path,
        &b.login_path,
        &b.logout_path,
        &b.providers_path,
        &b.backchannel_logout_path,
    ];
    if (1..routes.len()).any(|i| routes[..i].contains(&routes[i])) {
        problems.push(
            "callback path",
            "the callback, login, logout, providers and back-channel logout paths must differ",
        );
    }
    // `/auth/callback/{slug}` routes take everything below the callback path.
    let below = format!("{}/", b.callback_path);
    if routes[1..]
        .iter()
        .copied()
        .chain(&b.public_paths)
        .any(|r| r.starts_with(&below))
    {
        problems.push(
            "callback path",
            format!("`{}` would swallow the routes below it (login, logout, providers, public paths): choose a path that is not a prefix of them", b.callback_path),
        );
    }
    for path in &b.public_paths {
        if !is_route_path(path) {
            problems.push("public path", format!("`{path}` must start with `/`"));
        }
    }
}

fn is_route_path(path: &str) -> bool {
    path.starts_with('/') && !path.contains(['?', '#']) && !path.contains("//")
}

fn check_durations(b: &OidcConfigBuilder, problems: &mut Problems) {
    if b.leeway > MAX_LEEWAY {
        problems.push(
            "clock leeway",
            format!("{:?} is more than the allowed {MAX_LEEWAY:?}", b.leeway),
        );
    }
    if b.session_lifetime < Duration::from_secs(60) {
        problems.push("session lifetime", "must be at least one minute");
    }
    if b.jwks_refetch_cooldown < Duration::from_secs(1) {
        problems.push(
            "JWKS refetch cooldown",
            "must be at least one second (with_jwks_refetch_cooldown), so that forged key ids cannot make us hammer the provider",
        );
    }
    if b.http_timeout.is_zero() {
        problems.push("http timeout", "must be more than zero");
    }
}

/// `OIDC_POST_LOGOUT_REDIRECT_URI`: an absolute http(s) URL.
fn post_logout_redirect_uri(raw: Option<&str>, problems: &mut Problems) -> Option<Url> {
    const KEY: &str = "OIDC_POST_LOGOUT_REDIRECT_URI";
    match Url::parse(raw?.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => Some(u),
        Ok(_) => {
            problems.push(KEY, "must be an absolute http(s) URL");
            None
        }
        Err(e) => {
            problems.push(KEY, format!("not an absolute URL ({e})"));
            None
        }
    }
}

/// `AUTH_METHOD`; `both` needs the app's own login check.
fn auth_method(b: &OidcConfigBuilder, problems: &mut Problems) -> AuthMethod {
    let method = match b.auth_method.clone() {
        Ok(m) => m,
        Err(raw) => {
            problems.push(
                "AUTH_METHOD",
                format!("`{raw}` is not supported: use `oidc` (SSO only) or `both` (SSO, and the app's own login for requests it recognises)"),
            );
            AuthMethod::Oidc
        }
    };
    if method == AuthMethod::Both && b.local_session.is_none() {
        problems.push(
            "AUTH_METHOD",
            "is `both`, but the app has not said how to recognise its own login: call `OidcConfigBuilder::with_local_session` (and `with_local_login_url` for the chooser page)",
        );
    }
    method
}

fn check_local_login_url(url: Option<&str>, problems: &mut Problems) {
    let Some(url) = url else {
        return;
    };
    if !url.starts_with('/')
        || url.starts_with("//")
        || url.contains('\\')
        || url.chars().any(char::is_control)
    {
        problems.push(
            "local login URL",
            format!("`{url}` must be a path on this app, starting with a single `/`"),
        );
    }
}

/// A per-provider switch, `default` when unset: whether unknown users may enter (default
/// `true`), whether back-channel logout is on (default `false`).
fn boolean(
    raw: Option<Result<bool, String>>,
    default: bool,
    key: &str,
    problems: &mut Problems,
) -> bool {
    match raw.unwrap_or(Ok(default)) {
        Ok(b) => b,
        Err(raw) => {
            problems.push(key, format!("`{raw}` is not `true` or `false`"));
            default
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{temp_file, vars, with_base};

    #[test]
    fn missing_variables_are_all_named_at_once() {
        let err = OidcConfig::from_lookup(|_| None).unwrap_err();
        assert!(err.mentions("OIDC_ISSUER_URL"));
        assert!(err.mentions("OIDC_CLIENT_ID"));
        assert!(err.mentions("BASE_URL"));
        let text = err.to_string();
        assert!(
            text.contains("OIDC_ISSUER_URL") && text.contains("BASE_URL"),
            "{text}"
        );
    }

    #[test]
    fn refuses_http_issuer_off_loopback_and_scope_without_openid() {
        let err = OidcConfig::from_lookup(vars(&[
            ("OIDC_ISSUER_URL", "http://id.example.com"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_SCOPE", "profile email"),
            ("BASE_URL", "https://app.example.com"),
        ]))
        .unwrap_err();
        assert!(err.mentions("OIDC_ISSUER_URL"), "{err}");
        assert!(err.mentions("OIDC_SCOPE"), "{err}");
    }

    #[test]
    fn an_https_base_url_needs_a_cookie_key_unless_a_random_one_is_allowed() {
        let builder = || {
            OidcConfig::builder()
                .with_issuer("https://id.example.com")
                .with_client_id("app")
                .with_base_url("https://app.example.com")
        };
        let err = builder().build().unwrap_err();
        assert_eq!(err.problems().len(), 1, "{err}");
        assert!(err.mentions("OIDC_COOKIE_KEY"), "{err}");
        let text = err.to_string();
        assert!(text.contains("openssl rand -base64 32"), "{text}");
        assert!(text.contains("allow_random_cookie_key(true)"), "{text}");

        let cfg = builder().allow_random_cookie_key(true).build().unwrap();
        assert!(cfg.cookie_key.is_generated());
        // A key that is set is used all the same.
        let cfg = builder()
            .allow_random_cookie_key(true)
            .with_cookie_key("tBh7LtUBa3DPSdeOZcEEGqh6OlURQUXHIqMS6pwFkuo=")
            .build()
            .unwrap();
        assert!(!cfg.cookie_key.is_generated());
        // On http (development) a missing key is a random one, with a warning.
        let cfg = builder()
            .with_base_url("http://127.0.0.1:3000")
            .build()
            .unwrap();
        assert!(cfg.cookie_key.is_generated());
    }

    #[test]
    fn refuses_a_passphrase_as_cookie_key_without_quoting_it() {
        let passphrase = "correct-horse-battery-staple-tower-oidc-keys";
        let err = OidcConfig::from_lookup(with_base(vec![("OIDC_COOKIE_KEY", passphrase.into())]))
            .unwrap_err();
        assert!(err.mentions("OIDC_COOKIE_KEY"), "{err}");
        let text = err.to_string();
        assert!(text.contains("passphrase"), "{text}");
        assert!(text.contains("openssl rand -base64 32"), "{text}");
        assert!(!text.contains(passphrase), "{text}");
    }

    #[test]
    fn old_cookie_keys_are_checked_each_by_its_position_without_quoting_it() {
        let good = "tBh7LtUBa3DPSdeOZcEEGqh6OlURQUXHIqMS6pwFkuo=";
        let old = "9Vf1ZJYyFmM7hQO0c3kqk2xwqQ5nP0ZrR3J1cXbWkCw=";
        let cfg = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_COOKIE_KEY", good.into()),
            ("OIDC_COOKIE_KEYS_OLD", format!(" {old} ")),
        ]))
        .unwrap();
        assert_eq!(cfg.old_cookie_keys.len(), 1);
        let passphrase = "correct-horse-battery-staple-correct-horse";
        let err = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_COOKIE_KEY", good.into()),
            ("OIDC_COOKIE_KEYS_OLD", format!("{old},,{passphrase}")),
        ]))
        .unwrap_err();
        let text = err.to_string();
        assert!(err.mentions("OIDC_COOKIE_KEYS_OLD"), "{text}");
        assert!(text.contains("key 2 of 3 is empty"), "{text}");
        assert!(text.contains("key 3 of 3 "), "{text}");
        assert!(!text.contains("key 1 of 3"), "{text}");
        assert!(!text.contains(passphrase) && !text.contains(old), "{text}");
        // Old keys without a current one, and too many of them.
        let err = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_COOKIE_KEY", String::new()),
            ("OIDC_COOKIE_KEYS_OLD", old.into()),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("OIDC_COOKIE_KEY is not"), "{err}");
        let many = [old; 9].join(",");
        let err = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_COOKIE_KEY", good.into()),
            ("OIDC_COOKIE_KEYS_OLD", many),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("holds 9 keys"), "{err}");
    }

    #[test]
    fn refuses_short_cookie_key_and_bad_base_url() {
        let err = OidcConfig::from_lookup(vars(&[
            ("OIDC_ISSUER_URL", "http://127.0.0.1:9"),
            ("OIDC_CLIENT_ID", "app"),
            ("BASE_URL", "ftp://app.example.com"),
            ("OIDC_COOKIE_KEY", "k3y-v4lue"),
        ]))
        .unwrap_err();
        assert!(err.mentions("OIDC_COOKIE_KEY"), "{err}");
        assert!(err.mentions("BASE_URL"), "{err}");
        assert!(
            !err.to_string().contains("k3y-v4lue"),
            "the key's value must not be echoed"
        );
    }

    #[test]
    fn file_and_variable_problems_are_reported_together() {
        let path = temp_file(
            "bad",
            "[roles]\nclaim = \"groups\"\n[[roles.rule]]\ngroup = \"a\"\nrole = \"\"\n",
        );
        let err = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_CONFIG_FILE", path.display().to_string()),
            (
                "OIDC_ALLOWED_EMAIL_DOMAINS",
                "example.com,exa mple.org".into(),
            ),
            ("OIDC_ADMIN_EMAILS", "not-an-email".into()),
            ("OIDC_GROUPS_CLAIM", "a..b".into()),
        ]))
        .unwrap_err();
        for key in [
            "roles.rule[1].role",
            "OIDC_ALLOWED_EMAIL_DOMAINS",
            "OIDC_ADMIN_EMAILS",
            "OIDC_GROUPS_CLAIM",
        ] {
            assert!(err.mentions(key), "{key}: {err}");
        }
        let text = err.to_string();
        assert!(
            text.contains(&format!("in {} line 5", path.display())),
            "{text}"
        );

        let err = OidcConfig::from_lookup(with_base(vec![(
            "OIDC_CONFIG_FILE",
            "/nonexistent/tower-oidc.toml".into(),
        )]))
        .unwrap_err();
        assert!(err.mentions("OIDC_CONFIG_FILE"), "{err}");
        assert!(
            err.to_string().contains("/nonexistent/tower-oidc.toml"),
            "{err}"
        );
    }
}
