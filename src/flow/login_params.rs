//! The login parameters of one login: the provider's configured ones, refined by the query of
//! the explicit login route (`GET /auth/login?login_hint=…`). Each parameter given there is
//! checked like a configured one and dropped, with a debug log, when it is too long, carries
//! control characters, is given twice or is not a value its rule accepts; it is never
//! forwarded then.
//!
//! What a login may ask for, and why it is safe:
//! - `login_hint`, `ui_locales`: hints for the provider's pages only.
//! - `prompt`: one of the spec's values (`none`, `login`, `consent`, `select_account`); it
//!   changes which pages the provider shows, never what the callback accepts.
//! - `max_age`: only lowers the configured one, so a login is never held to less than the
//!   configuration asks; the callback checks `auth_time` against it.
//! - `acr_values`: with configured ones, only a subset of them (a login may narrow, never name
//!   others); the callback checks `acr` against it when `OIDC_REQUIRE_ACR` is on.

use crate::config::login_params::{self, LoginParams};
use crate::config::ProviderConfig;

/// The names a login may set.
const NAMES: [&str; 5] = [
    "login_hint",
    "prompt",
    "max_age",
    "acr_values",
    "ui_locales",
];

/// The parameters to send, with the `acr` values the ID token must then carry one of (empty
/// when none is required). `query` is the explicit login route's query; `None` for a login
/// started by redirecting a protected page, whose query is the page's, not ours.
pub(crate) fn for_login(
    provider: &ProviderConfig,
    query: Option<&str>,
) -> (LoginParams, Vec<String>) {
    let mut params = provider.login.clone();
    for (name, value) in requested(query) {
        let accepted = match name {
            "login_hint" => login_params::plain(&value)
                .map(|v| params.login_hint = Some(v.to_owned()))
                .map_err(str::to_owned),
            "prompt" => login_params::prompt(&value).map(|v| params.prompt = Some(v)),
            "ui_locales" => login_params::ui_locales(&value).map(|v| params.ui_locales = Some(v)),
            "max_age" => login_params::max_age(&value).map(|given| {
                params.max_age = Some(params.max_age.map_or(given, |own| own.min(given)));
            }),
            _ => login_params::acr_values(&value).and_then(|given| {
                narrows(provider.login.acr_values.as_deref(), &given)
                    .then(|| params.acr_values = Some(given))
                    .ok_or_else(|| "names acr values the configuration does not".to_owned())
            }),
        };
        if let Err(why) = accepted {
            tracing::debug!(target: "tower_oidc", event = "login_param_dropped", param = name, why = %why, "a login parameter was dropped, not forwarded");
        }
    }
    let acr = match (&params.acr_values, provider.require_acr) {
        (Some(values), true) => values.split(' ').map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    (params, acr)
}

/// Whether `given` names only values among `configured` (anything, when none is configured).
fn narrows(configured: Option<&str>, given: &str) -> bool {
    configured.is_none_or(|own| given.split(' ').all(|g| own.split(' ').any(|o| o == g)))
}

/// The login parameters in `query`, each name once: a name given twice is dropped whole.
fn requested(query: Option<&str>) -> Vec<(&'static str, String)> {
    let mut found: Vec<(&'static str, String)> = Vec::new();
    let mut repeated: Vec<&'static str> = Vec::new();
    let pairs = query.map(|q| url::form_urlencoded::parse(q.as_bytes()));
    for (key, value) in pairs.into_iter().flatten() {
        let Some(name) = NAMES.iter().copied().find(|n| *n == key) else {
            continue;
        };
        if found.iter().any(|(n, _)| *n == name) {
            repeated.push(name);
        } else {
            found.push((name, value.into_owned()));
        }
    }
    for name in &repeated {
        tracing::debug!(target: "tower_oidc", event = "login_param_dropped", param = name, why = "given twice", "a login parameter was dropped, not forwarded");
    }
    found.retain(|(n, _)| !repeated.contains(n));
    found
}

/// The login parameters of `query` fit to travel on (for the chooser's links), form-encoded,
/// each after a `&`; what would be dropped anyway is left out.
pub(crate) fn passed_on(query: Option<&str>) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in requested(query) {
        if login_params::plain(&value).is_ok() {
            out.append_pair(name, &value);
        }
    }
    let out = out.finish();
    if out.is_empty() {
        out
    } else {
        format!("&{out}")
    }
}

/// Appends the parameters to an authorization request URL under construction.
pub(crate) fn append(url: &mut String, params: &LoginParams) {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    let max_age = params.max_age.map(|m| m.to_string());
    for (name, value) in [
        ("prompt", params.prompt.as_deref()),
        ("login_hint", params.login_hint.as_deref()),
        ("max_age", max_age.as_deref()),
        ("acr_values", params.acr_values.as_deref()),
        ("ui_locales", params.ui_locales.as_deref()),
    ] {
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    let query = query.finish();
    if !query.is_empty() {
        url.push('&');
        url.push_str(&query);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::test_support::shared;

    fn provider(acr: Option<&str>, require: bool, max_age: Option<u64>) -> ProviderConfig {
        let mut p = shared().providers[0].config.clone();
        p.login.acr_values = acr.map(str::to_owned);
        p.login.max_age = max_age;
        p.require_acr = require;
        p
    }

    #[test]
    fn a_login_refines_the_configured_parameters() {
        let p = provider(Some("urn:a urn:b"), true, Some(600));
        let (params, acr) = for_login(
            &p,
            Some("login_hint=ann%40example.com&prompt=login&max_age=60&acr_values=urn%3Ab&ui_locales=de-CH&return_to=%2Fx"),
        );
        assert_eq!(params.login_hint.as_deref(), Some("ann@example.com"));
        assert_eq!(params.prompt.as_deref(), Some("login"));
        assert_eq!(params.max_age, Some(60));
        assert_eq!(params.acr_values.as_deref(), Some("urn:b"));
        assert_eq!(params.ui_locales.as_deref(), Some("de-CH"));
        assert_eq!(acr, ["urn:b"]);
        let mut url = String::from("https://id.example.com/auth?x=1");
        append(&mut url, &params);
        assert_eq!(
            url,
            "https://id.example.com/auth?x=1&prompt=login&login_hint=ann%40example.com&max_age=60&acr_values=urn%3Ab&ui_locales=de-CH"
        );
    }

    #[test]
    fn a_login_cannot_loosen_what_is_configured() {
        let p = provider(Some("urn:a urn:b"), true, Some(600));
        let (params, acr) = for_login(&p, Some("max_age=99999&acr_values=urn%3Aweak"));
        assert_eq!(params.max_age, Some(600), "max_age only lowers");
        assert_eq!(
            params.acr_values.as_deref(),
            Some("urn:a urn:b"),
            "only a subset"
        );
        assert_eq!(acr, ["urn:a", "urn:b"]);
        let (_, acr) = for_login(&provider(Some("urn:a"), false, None), None);
        assert!(acr.is_empty(), "not required: only requested");
    }

    #[test]
    fn unfit_or_repeated_values_are_dropped() {
        let p = provider(None, false, None);
        let long = "a".repeat(256);
        for query in [
            format!("login_hint={long}"),
            "login_hint=a%0Ab".into(),
            "login_hint=a&login_hint=b".into(),
            "prompt=create".into(),
            "prompt=none%20login".into(),
            "max_age=-1".into(),
            "ui_locales=de%22".into(),
        ] {
            let (params, _) = for_login(&p, Some(&query));
            assert_eq!(params, LoginParams::default(), "{query}");
        }
        assert_eq!(
            passed_on(Some(&format!("login_hint={long}&prompt=none"))),
            "&prompt=none"
        );
        assert_eq!(passed_on(Some("return_to=%2F")), "");
    }
}
