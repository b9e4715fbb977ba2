//! The authorization request's optional parameters (OpenID Connect Core 1.0 section 3.1.2.1):
//! `prompt`, `max_age`, `acr_values`, `ui_locales` configured per provider (`OIDC_PROMPT`,
//! `OIDC_MAX_AGE`, `OIDC_ACR_VALUES`, `OIDC_REQUIRE_ACR`, `OIDC_UI_LOCALES`, and
//! `OIDC_PROVIDER_N_*`), and the rules every value of them obeys, configured or given per login.

/// The longest value of a login parameter: longer ones are refused at startup and dropped when
/// given per login. Providers bound them too (Keycloak's `login_hint` column holds 255).
pub(crate) const MAX_LOGIN_PARAM: usize = 255;

/// The `prompt` values OpenID Connect Core 1.0 section 3.1.2.1 defines.
const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

/// The login parameters one provider sends with every authorization request, validated.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct LoginParams {
    /// `prompt`: space-separated values of [`PROMPTS`], `none` alone.
    pub(crate) prompt: Option<String>,
    /// `login_hint`: per login only (it names one user).
    pub(crate) login_hint: Option<String>,
    /// `max_age` in seconds: the ID token's `auth_time` is then required and checked.
    pub(crate) max_age: Option<u64>,
    /// `acr_values`: space-separated authentication context class references, in order of
    /// preference.
    pub(crate) acr_values: Option<String>,
    /// `ui_locales`: space-separated BCP 47 language tags, in order of preference.
    pub(crate) ui_locales: Option<String>,
}

/// A value fit to travel in a query: at most [`MAX_LOGIN_PARAM`] bytes, not blank, no control
/// character.
pub(crate) fn plain(value: &str) -> Result<&str, &'static str> {
    let value = value.trim();
    if value.is_empty() {
        Err("is empty")
    } else if value.len() > MAX_LOGIN_PARAM {
        Err("is longer than 255 bytes")
    } else if value.chars().any(char::is_control) {
        Err("contains control characters")
    } else {
        Ok(value)
    }
}

/// A `prompt` value: space-separated values among `none`, `login`, `consent` and
/// `select_account`, each once, `none` alone (Core 3.1.2.1); normalised to single spaces.
pub(crate) fn prompt(raw: &str) -> Result<String, String> {
    let raw = plain(raw).map_err(str::to_owned)?;
    let values: Vec<&str> = raw.split_whitespace().collect();
    if let Some(bad) = values.iter().find(|v| !PROMPTS.contains(v)) {
        return Err(format!(
            "`{bad}` is not a prompt value: use none, login, consent or select_account"
        ));
    }
    if values.len() > 1 && values.contains(&"none") {
        return Err("`none` cannot be combined with other prompt values".into());
    }
    if (1..values.len()).any(|i| values[..i].contains(&values[i])) {
        return Err("names a prompt value twice".into());
    }
    Ok(values.join(" "))
}

/// A `ui_locales` value: space-separated language tags (letters, digits and `-`).
pub(crate) fn ui_locales(raw: &str) -> Result<String, String> {
    let raw = plain(raw).map_err(str::to_owned)?;
    let tags: Vec<&str> = raw.split_whitespace().collect();
    let tag = |t: &&str| t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !tags.iter().all(tag) {
        return Err("holds something other than BCP 47 language tags (such as `de-CH fr`)".into());
    }
    Ok(tags.join(" "))
}

/// An `acr_values` value: space-separated references without `"` or `\`.
pub(crate) fn acr_values(raw: &str) -> Result<String, String> {
    let raw = plain(raw).map_err(str::to_owned)?;
    if raw.contains(['"', '\\']) {
        return Err("contains `\"` or `\\`, which no authentication context class holds".into());
    }
    Ok(raw.split_whitespace().collect::<Vec<_>>().join(" "))
}

/// A `max_age` value: whole seconds.
pub(crate) fn max_age(raw: &str) -> Result<u64, String> {
    let raw = raw.trim();
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{raw}` is not a number of seconds"));
    }
    raw.parse()
        .map_err(|_| format!("`{raw}` is too large a number of seconds"))
}

/// The raw settings of one provider's draft, validated: the parameters and whether the ID
/// token's `acr` must be one of `acr_values`. `problem(suffix, message)` names each problem
/// under the setting's own name.
pub(crate) fn validate(
    prompt: Option<&str>,
    max_age: Option<Result<u64, String>>,
    acr_values: Option<&str>,
    require_acr: Option<Result<bool, String>>,
    ui_locales: Option<&str>,
    mut problem: impl FnMut(&'static str, String),
) -> (LoginParams, bool) {
    let mut check = |suffix, parsed: Option<Result<String, String>>| {
        parsed.and_then(|r| r.map_err(|e| problem(suffix, e)).ok())
    };
    let params = LoginParams {
        prompt: check("PROMPT", prompt.map(self::prompt)),
        login_hint: None,
        max_age: None,
        acr_values: check("ACR_VALUES", acr_values.map(self::acr_values)),
        ui_locales: check("UI_LOCALES", ui_locales.map(self::ui_locales)),
    };
    let params = LoginParams {
        max_age: max_age.and_then(|r| r.map_err(|e| problem("MAX_AGE", e)).ok()),
        ..params
    };
    let require_acr = match require_acr.unwrap_or(Ok(false)) {
        Ok(yes) => yes,
        Err(raw) => {
            problem("REQUIRE_ACR", format!("`{raw}` is not `true` or `false`"));
            false
        }
    };
    if require_acr && params.acr_values.is_none() {
        problem(
            "REQUIRE_ACR",
            "needs the acr values to require: set ACR_VALUES for this provider too".into(),
        );
    }
    (params, require_acr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_takes_the_spec_values_only() {
        assert_eq!(prompt(" login  consent ").unwrap(), "login consent");
        assert_eq!(prompt("none").unwrap(), "none");
        assert!(prompt("none login").unwrap_err().contains("`none`"));
        assert!(prompt("create").unwrap_err().contains("`create`"));
        assert!(prompt("login login").is_err());
        assert!(prompt("").is_err());
        assert!(prompt("login\u{7}").is_err());
    }

    #[test]
    fn values_are_bounded_and_plain() {
        assert_eq!(plain(&"a".repeat(255)).map(str::len), Ok(255));
        assert!(plain(&"a".repeat(256)).is_err());
        assert!(plain("a\nb").is_err());
        assert_eq!(ui_locales("de-CH  fr").unwrap(), "de-CH fr");
        assert!(ui_locales("de_CH").is_err());
        assert!(acr_values("urn:a \"b").is_err());
        assert_eq!(max_age(" 300 "), Ok(300));
        assert!(max_age("-1").is_err() && max_age("5m").is_err());
        assert!(max_age("99999999999999999999999").is_err());
    }

    #[test]
    fn validation_names_each_setting_and_require_acr_needs_values() {
        let mut named = Vec::new();
        let (params, require) = validate(
            Some("sometimes"),
            Some(Err("soon".into())),
            None,
            Some(Ok(true)),
            Some("en\u{0}"),
            |suffix, _| named.push(suffix),
        );
        assert_eq!(named, ["PROMPT", "UI_LOCALES", "MAX_AGE", "REQUIRE_ACR"]);
        assert_eq!(params, LoginParams::default());
        assert!(require);
    }
}
