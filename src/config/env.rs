//! Reading environment variables: the unnumbered `OIDC_*` ones into the defaults draft, the
//! numbered `OIDC_PROVIDER_N_*` ones into one draft per provider, and the names of misspelt
//! numbered ones.

use std::collections::HashMap;

use super::builder::OidcConfigBuilder;
use super::draft::ProviderDraft;
use super::types::{AuthMethod, TokenAuthMethod};
use super::OidcConfig;
use crate::error::{ConfigError, ConfigProblem};

/// How a provider's settings are named in messages: the single-provider variables, or the
/// numbered ones.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keys {
    Single,
    Numbered(usize),
}

impl Keys {
    /// The variable for `suffix` (`ISSUER`, `CLIENT_ID`, `NAME`, ...).
    pub(crate) fn key(self, suffix: &str) -> String {
        match self {
            Keys::Numbered(n) => format!("OIDC_PROVIDER_{n}_{suffix}"),
            Keys::Single => match suffix {
                "ISSUER" => "OIDC_ISSUER_URL".into(),
                "NAME" => "OIDC_PROVIDER_NAME".into(),
                "SLUG" => "OIDC_PROVIDER_SLUG".into(),
                other => format!("OIDC_{other}"),
            },
        }
    }
}

/// Every per-provider variable: its suffix (`OIDC_PROVIDER_N_{suffix}`, and the unnumbered
/// name that [`Keys::key`] gives) and how its value fills a draft. The reader for both forms,
/// and the list misspellings are checked against.
const VARIABLES: &[(&str, Fill)] = &[
    ("NAME", |d, v| d.name = Some(v)),
    ("SLUG", |d, v| d.slug = Some(v)),
    ("ISSUER", |d, v| d.issuer = Some(v)),
    ("CLIENT_ID", |d, v| d.client_id = Some(v)),
    ("CLIENT_SECRET", |d, v| d.client_secret = Some(v)),
    ("SCOPE", |d, v| d.scope = Some(v)),
    ("USERNAME_CLAIM", |d, v| d.username_claim = Some(v)),
    ("EMAIL_CLAIM", |d, v| d.email_claim = Some(v)),
    ("GROUPS_CLAIM", |d, v| d.groups_claim = Some(v)),
    ("FULL_NAME_CLAIM", |d, v| d.full_name_claim = Some(v)),
    ("ALLOWED_EMAIL_DOMAINS", |d, v| {
        d.allowed_email_domains = Some(split_list(&v))
    }),
    ("ADMIN_GROUP", |d, v| d.admin_group = Some(v)),
    ("ADMIN_EMAILS", |d, v| d.admin_emails = Some(split_list(&v))),
    ("ADMIN_EMAIL_DOMAINS", |d, v| {
        d.admin_email_domains = Some(split_list(&v))
    }),
    ("TOKEN_ENDPOINT_AUTH_METHOD", |d, v| {
        d.token_auth = Some(TokenAuthMethod::parse(&v).ok_or(v))
    }),
    ("AUTO_PROVISION", |d, v| {
        d.auto_provision = Some(parse_bool(&v))
    }),
    ("API_AUDIENCE", |d, v| d.api_audience = Some(v)),
    ("API_REQUIRE_AT_JWT", |d, v| {
        d.api_require_at_jwt = Some(parse_bool(&v))
    }),
    ("RESOURCE", |d, v| d.resource = Some(v)),
    ("API_INTROSPECTION_CACHE", |d, v| {
        d.api_introspection_cache = Some(v.trim().parse().map_err(|_| v))
    }),
    ("PROMPT", |d, v| d.prompt = Some(v)),
    ("MAX_AGE", |d, v| {
        d.max_age = Some(super::login_params::max_age(&v))
    }),
    ("ACR_VALUES", |d, v| d.acr_values = Some(v)),
    ("REQUIRE_ACR", |d, v| d.require_acr = Some(parse_bool(&v))),
    ("UI_LOCALES", |d, v| d.ui_locales = Some(v)),
    ("BACKCHANNEL_LOGOUT", |d, v| {
        d.backchannel_logout = Some(parse_bool(&v))
    }),
    ("RESPONSE_MODE", |d, v| {
        d.response_mode = Some(super::ResponseMode::parse(&v))
    }),
    ("CLIENT_ASSERTION_KEY_FILE", |d, v| {
        d.client_assertion_key_file = Some(v)
    }),
    ("CLIENT_ASSERTION_ALG", |d, v| {
        d.client_assertion_alg = Some(v)
    }),
    ("CLIENT_ASSERTION_AUDIENCE", |d, v| {
        d.client_assertion_audience = Some(v)
    }),
    ("REQUIRE_PAR", |d, v| d.require_par = Some(parse_bool(&v))),
    ("DPOP", |d, v| d.dpop = Some(parse_bool(&v))),
];

/// Writes a variable's value into its draft field.
type Fill = fn(&mut ProviderDraft, String);

/// TimeTracker's names for two unnumbered settings, read when ours are unset.
const ALIASES: &[(&str, &str)] = &[("ISSUER", "OIDC_ISSUER"), ("SCOPE", "OIDC_SCOPES")];

/// The most numbered providers read from variables.
const MAX_NUMBERED: usize = 64;

fn suffixes() -> impl Iterator<Item = &'static str> {
    VARIABLES.iter().map(|(suffix, _)| *suffix)
}

impl OidcConfig {
    /// Reads the environment variables (see the crate docs' table):
    /// `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_SCOPE`, `BASE_URL`,
    /// `OIDC_PROVIDER_NAME`, `OIDC_PROVIDER_SLUG`, `OIDC_USERNAME_CLAIM`, `OIDC_EMAIL_CLAIM`,
    /// `OIDC_GROUPS_CLAIM`, `OIDC_FULL_NAME_CLAIM`, `OIDC_ALLOWED_EMAIL_DOMAINS`,
    /// `OIDC_ADMIN_GROUP`, `OIDC_ADMIN_EMAILS`, `OIDC_ADMIN_EMAIL_DOMAINS`,
    /// `OIDC_POST_LOGOUT_REDIRECT_URI`, `OIDC_TOKEN_ENDPOINT_AUTH_METHOD`, the login parameters
    /// `OIDC_PROMPT`, `OIDC_MAX_AGE`, `OIDC_ACR_VALUES`, `OIDC_REQUIRE_ACR`, `OIDC_UI_LOCALES`,
    /// the demanding providers' `OIDC_RESPONSE_MODE`, `OIDC_REQUIRE_PAR`, `OIDC_DPOP`,
    /// `OIDC_CLIENT_ASSERTION_KEY_FILE`, `OIDC_CLIENT_ASSERTION_ALG`,
    /// `OIDC_CLIENT_ASSERTION_AUDIENCE`, `OIDC_JWKS_PATH`,
    /// `OIDC_COOKIE_KEY`,
    /// `OIDC_COOKIE_KEYS_OLD` (a comma-separated list), and the file named by `OIDC_CONFIG_FILE`. A variable set to a non-empty value wins over
    /// the file's value for the same setting.
    ///
    /// Several providers come from the numbered `OIDC_PROVIDER_N_*` variables (from 1, no
    /// gaps). A numbered variable with an unknown suffix is reported too. Any other `OIDC_*`
    /// variable it does not read (a misspelling such as `OIDC_ISSUER_URI`) is logged as a
    /// warning naming the closest known variable; see
    /// [`unused_variables`](Self::unused_variables).
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from a list of variables (for example an env file's
    /// lines, or a test's): unknown `OIDC_PROVIDER_N_*` suffixes are reported, and other unknown
    /// `OIDC_*` names logged, as in `from_env`.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut builder = Self::builder_from_lookup(|key| vars.get(key).cloned());
        builder
            .problems
            .extend(unknown_numbered_variables(vars.keys().cloned()));
        super::unknown::log_unused_variables(vars.keys());
        builder.build()
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup` (handy in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::builder_from_lookup(lookup).build()
    }

    /// A builder preset from variables read through `lookup`, for settings the variables do not
    /// cover (a clock, public paths). Empty values count as unset.
    pub fn builder_from_lookup(lookup: impl Fn(&str) -> Option<String>) -> OidcConfigBuilder {
        let get = |key: &str| lookup(key).filter(|v| !v.trim().is_empty());
        let mut b = OidcConfigBuilder::default();
        // The file first: every variable set wins over it.
        if let Some(path) = get("OIDC_CONFIG_FILE") {
            b = b.with_config_file(path.trim());
        }
        read_provider(&mut b.defaults, |suffix| {
            get(&Keys::Single.key(suffix)).or_else(|| {
                let (_, alias) = ALIASES.iter().find(|(s, _)| *s == suffix)?;
                get(alias)
            })
        });
        if let Some(v) = get("BASE_URL") {
            b.base_url = Some(v);
        }
        if let Some(v) = get("OIDC_REDIRECT_URI") {
            b.redirect_uri = Some(v);
        }
        if let Some(v) = get("AUTH_METHOD") {
            b.auth_method = AuthMethod::parse(&v);
        }
        if let Some(v) = get("OIDC_POST_LOGOUT_REDIRECT_URI") {
            b.post_logout_redirect_uri = Some(v);
        }
        if let Some(v) = get("OIDC_COOKIE_KEY") {
            b.cookie_key = Some(v);
        }
        if let Some(v) = get("OIDC_COOKIE_KEYS_OLD") {
            // Every entry is kept, empty ones too, so that a problem names its position.
            b.old_cookie_keys = v.split(',').map(str::to_owned).collect();
        }
        if let Some(v) = get("OIDC_JWKS_PATH") {
            b.jwks_path = Some(v);
        }
        super::client_network::read_env(&mut b.client_network, get);
        super::session_store::read_env(&mut b, get);
        super::refresh::read_env(&mut b, get);
        read_numbered_providers(&mut b, &get);
        b
    }
}

/// Fills `draft` from the per-provider variables that `var(suffix)` finds set.
fn read_provider(draft: &mut ProviderDraft, var: impl Fn(&str) -> Option<String>) {
    for (suffix, fill) in VARIABLES {
        if let Some(value) = var(suffix) {
            fill(draft, value);
        }
    }
}

/// Reads `OIDC_PROVIDER_N_*` for N from 1 up, into the providers list (overriding what the
/// config file said for the same N). A gap or an `OIDC_PROVIDER_0_*` is a problem.
fn read_numbered_providers(b: &mut OidcConfigBuilder, get: &impl Fn(&str) -> Option<String>) {
    // Providers from the config file count as present: variables refine them.
    let from_file = b.providers.len();
    let present: Vec<usize> = (0..=MAX_NUMBERED)
        .filter(|&n| {
            (n >= 1 && n <= from_file)
                || suffixes().any(|s| get(&format!("OIDC_PROVIDER_{n}_{s}")).is_some())
        })
        .collect();
    if present.first() == Some(&0) {
        b.problems.push(ConfigProblem {
            key: "OIDC_PROVIDER_0_*".into(),
            message: "providers are numbered from 1".into(),
        });
    }
    let Some(&last) = present.last() else {
        return;
    };
    for n in 1..=last {
        if !present.contains(&n) {
            let next = present.iter().find(|&&p| p > n).copied().unwrap_or(last);
            b.problems.push(ConfigProblem {
                key: format!("OIDC_PROVIDER_{n}_*"),
                message: format!(
                    "is missing, but OIDC_PROVIDER_{next}_* is set: providers are numbered from 1 without gaps; renumber them"
                ),
            });
            continue;
        }
        while b.providers.len() < n {
            b.providers.push(ProviderDraft::default());
        }
        read_provider(&mut b.providers[n - 1], |suffix| {
            get(&Keys::Numbered(n).key(suffix))
        });
    }
}

/// Problems for `OIDC_PROVIDER_N_*` names whose suffix we do not know (a misspelling would
/// otherwise be ignored silently).
pub(crate) fn unknown_numbered_variables(
    names: impl Iterator<Item = String>,
) -> Vec<ConfigProblem> {
    let mut problems = Vec::new();
    for name in names {
        let Some(rest) = name.strip_prefix("OIDC_PROVIDER_") else {
            continue;
        };
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            continue;
        }
        let number = &rest[..digits];
        if number.starts_with('0') && number != "0"
            || number.parse::<usize>().map_or(true, |n| n > MAX_NUMBERED)
        {
            problems.push(ConfigProblem {
                key: name.clone(),
                message: format!(
                    "`{number}` is not a provider number: use 1 to {MAX_NUMBERED}, without leading zeros"
                ),
            });
            continue;
        }
        let suffix = rest[digits..].trim_start_matches('_');
        if !suffixes().any(|s| s == suffix) {
            // `ISSUER_URL`: the unnumbered name (`OIDC_ISSUER_URL`) given a number.
            let upper = suffix.to_ascii_uppercase();
            let guess = suffixes()
                .find(|s| Keys::Single.key(s).strip_prefix("OIDC_") == Some(upper.as_str()))
                .or_else(|| super::unknown::closest(&upper, suffixes()))
                .map(|s| format!("did you mean OIDC_PROVIDER_{number}_{s}? "))
                .unwrap_or_default();
            problems.push(ConfigProblem {
                key: name.clone(),
                message: format!(
                    "unknown setting `{suffix}`; {guess}a numbered provider takes {}",
                    suffixes().collect::<Vec<_>>().join(", ")
                ),
            });
        }
    }
    problems
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`), ignoring case.
pub(super) fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(raw.trim().to_owned()),
    }
}

/// A list variable: items separated by commas, each trimmed.
fn split_list(raw: &str) -> Vec<String> {
    raw.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::{temp_file, vars, with_base};

    #[test]
    #[allow(deprecated)] // `OidcConfig::issuer` must keep working
    fn reads_the_tududi_style_variables() {
        let cfg = OidcConfig::from_lookup(vars(&[
            ("OIDC_ISSUER_URL", "https://id.example.com/realms/main"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "shh"),
            ("OIDC_SCOPE", "openid email groups"),
            ("BASE_URL", "https://app.example.com"),
            ("OIDC_PROVIDER_SLUG", "staff"),
            ("OIDC_GROUPS_CLAIM", "roles"),
            (
                "OIDC_COOKIE_KEY",
                "fB/9H++SndeCxWlngJEIlUojxVdz+73kd87wcaDY2NA=",
            ),
        ]))
        .unwrap();
        assert_eq!(cfg.issuer().as_str(), "https://id.example.com/realms/main");
        assert_eq!(cfg.redirect_uri(), "https://app.example.com/auth/callback");
        assert!(cfg.secure_cookies());
        assert_eq!(cfg.providers[0].scope, "openid email groups");
        assert_eq!(cfg.providers[0].slug.as_str(), "staff");
        assert_eq!(cfg.providers[0].claims.groups, "roles");
    }

    #[test]
    fn reads_access_variables_and_the_role_map_file() {
        let path = temp_file(
            "ok",
            "[claims]\ngroups = \"realm_access.roles\"\n[access]\nadmin_group = \"file-admins\"\n\
             allowed_email_domains = [\"file.example\"]\n\
             [roles]\ndefault = \"viewer\"\n[[roles.rule]]\ngroup = \"admins\"\nrole = \"app_admin\"\n",
        );
        let cfg = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_CONFIG_FILE", path.display().to_string()),
            (
                "OIDC_ALLOWED_EMAIL_DOMAINS",
                "example.com, *.example.org".into(),
            ),
            ("OIDC_ADMIN_EMAILS", "Boss@Example.com".into()),
            ("OIDC_ADMIN_EMAIL_DOMAINS", "ops.example.com".into()),
        ]))
        .unwrap();
        let policy = &cfg.providers[0].policy;
        // The variable wins over the file; the file fills what no variable sets.
        assert_eq!(
            format!("{:?}", policy.access.allowed_email_domains),
            "[example.com, *.example.org]"
        );
        assert_eq!(policy.access.admin_group.as_deref(), Some("file-admins"));
        assert_eq!(policy.access.admin_emails, ["boss@example.com"]);
        assert_eq!(policy.groups_claim.as_str(), "realm_access.roles");
        let roles = cfg.role_map().unwrap();
        assert_eq!(
            roles.claim().as_str(),
            "realm_access.roles",
            "defaults to the groups claim"
        );
        assert_eq!(roles.default_role().unwrap().as_str(), "viewer");

        // OIDC_GROUPS_CLAIM wins over the file's [claims] groups, and the role map follows it.
        let cfg = OidcConfig::from_lookup(with_base(vec![
            ("OIDC_CONFIG_FILE", path.display().to_string()),
            ("OIDC_GROUPS_CLAIM", "roles".into()),
        ]))
        .unwrap();
        assert_eq!(cfg.role_map().unwrap().claim().as_str(), "roles");
    }

    /// A lookup over owned pairs.
    fn lookup(pairs: Vec<(String, String)>) -> impl Fn(&str) -> Option<String> {
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn both_forms_fill_the_same_draft_fields() {
        // Every per-provider variable, unnumbered and numbered, lands in the same field.
        let mut single = Vec::new();
        let mut numbered = Vec::new();
        for suffix in suffixes() {
            single.push((Keys::Single.key(suffix), format!("v-{suffix}")));
            numbered.push((Keys::Numbered(1).key(suffix), format!("v-{suffix}")));
        }
        let a = OidcConfig::builder_from_lookup(lookup(single));
        let b = OidcConfig::builder_from_lookup(lookup(numbered));
        assert!(a.providers.is_empty());
        let (a, b) = (&a.defaults, &b.providers[0]);
        for (x, y) in [
            (&a.name, &b.name),
            (&a.slug, &b.slug),
            (&a.issuer, &b.issuer),
            (&a.client_id, &b.client_id),
            (&a.client_secret, &b.client_secret),
            (&a.scope, &b.scope),
            (&a.username_claim, &b.username_claim),
            (&a.email_claim, &b.email_claim),
            (&a.groups_claim, &b.groups_claim),
            (&a.full_name_claim, &b.full_name_claim),
            (&a.admin_group, &b.admin_group),
        ] {
            assert!(x.is_some() && x == y, "{x:?} {y:?}");
        }
        assert_eq!(a.name.as_deref(), Some("v-NAME"));
        assert_eq!(a.issuer.as_deref(), Some("v-ISSUER"));
        assert_eq!(a.allowed_email_domains, b.allowed_email_domains);
        assert_eq!(a.admin_emails, b.admin_emails);
        assert_eq!(
            a.admin_email_domains.as_deref(),
            Some(&["v-ADMIN_EMAIL_DOMAINS".to_owned()][..])
        );
        assert_eq!(a.admin_email_domains, b.admin_email_domains);
        assert_eq!(
            a.token_auth,
            Some(Err("v-TOKEN_ENDPOINT_AUTH_METHOD".into()))
        );
        assert_eq!(a.token_auth, b.token_auth);
        assert_eq!(a.auto_provision, Some(Err("v-AUTO_PROVISION".into())));
        assert_eq!(a.auto_provision, b.auto_provision);
    }

    #[test]
    fn timetracker_names_count_only_when_ours_are_unset() {
        let b = OidcConfig::builder_from_lookup(lookup(pairs(&[
            ("OIDC_ISSUER", "https://tt.example.com"),
            ("OIDC_SCOPES", "openid tt"),
        ])));
        assert_eq!(b.defaults.issuer.as_deref(), Some("https://tt.example.com"));
        assert_eq!(b.defaults.scope.as_deref(), Some("openid tt"));
        let b = OidcConfig::builder_from_lookup(lookup(pairs(&[
            ("OIDC_ISSUER", "https://tt.example.com"),
            ("OIDC_ISSUER_URL", "https://ours.example.com"),
            ("OIDC_SCOPES", "openid tt"),
            ("OIDC_SCOPE", "openid ours"),
        ])));
        assert_eq!(
            b.defaults.issuer.as_deref(),
            Some("https://ours.example.com")
        );
        assert_eq!(b.defaults.scope.as_deref(), Some("openid ours"));
    }

    #[test]
    fn a_variable_wins_over_the_file_and_an_empty_one_does_not() {
        let path = temp_file(
            "precedence",
            "scope = \"openid file\"\nprovider_name = \"File\"\n[access]\nadmin_group = \"file-admins\"\n\
             [[providers]]\nslug = \"a\"\nissuer = \"https://a.example.com\"\nclient_id = \"app\"\nscope = \"openid file-a\"\n",
        );
        let b = OidcConfig::builder_from_lookup(lookup(pairs(&[
            ("OIDC_CONFIG_FILE", &path.display().to_string()),
            ("OIDC_SCOPE", "openid env"),
            ("OIDC_ADMIN_GROUP", "  "),
            ("OIDC_PROVIDER_1_SCOPE", "openid env-a"),
            ("OIDC_PROVIDER_1_NAME", ""),
        ])));
        assert_eq!(b.defaults.scope.as_deref(), Some("openid env"), "env wins");
        assert_eq!(b.defaults.name.as_deref(), Some("File"), "the file fills");
        assert_eq!(
            b.defaults.admin_group.as_deref(),
            Some("file-admins"),
            "a blank variable counts as unset"
        );
        assert_eq!(
            b.providers.len(),
            1,
            "OIDC_PROVIDER_1_* refines [[providers]] 1"
        );
        assert_eq!(b.providers[0].scope.as_deref(), Some("openid env-a"));
        assert_eq!(b.providers[0].slug.as_deref(), Some("a"));
        assert_eq!(b.providers[0].name, None);
    }

    #[test]
    fn numbered_providers_inherit_the_unnumbered_defaults() {
        let cfg = OidcConfig::from_lookup(lookup(pairs(&[
            ("BASE_URL", "https://app.example.com"),
            (
                "OIDC_COOKIE_KEY",
                "fB/9H++SndeCxWlngJEIlUojxVdz+73kd87wcaDY2NA=",
            ),
            ("OIDC_SCOPE", "openid groups"),
            ("OIDC_GROUPS_CLAIM", "roles"),
            ("OIDC_ADMIN_GROUP", "admins"),
            ("OIDC_TOKEN_ENDPOINT_AUTH_METHOD", "client_secret_post"),
            ("OIDC_PROVIDER_NAME", "ignored beside numbered providers"),
            ("OIDC_PROVIDER_1_SLUG", "a"),
            ("OIDC_PROVIDER_1_ISSUER", "https://a.example.com"),
            ("OIDC_PROVIDER_1_CLIENT_ID", "app"),
            ("OIDC_PROVIDER_1_CLIENT_SECRET", "s"),
            ("OIDC_PROVIDER_2_SLUG", "b"),
            ("OIDC_PROVIDER_2_ISSUER", "https://b.example.com"),
            ("OIDC_PROVIDER_2_CLIENT_ID", "app"),
            ("OIDC_PROVIDER_2_CLIENT_SECRET", "s"),
            ("OIDC_PROVIDER_2_SCOPE", "openid"),
            ("OIDC_PROVIDER_2_ADMIN_GROUP", "b-admins"),
            ("OIDC_PROVIDER_2_TOKEN_ENDPOINT_AUTH_METHOD", "auto"),
        ])))
        .unwrap();
        let [a, b] = &cfg.providers[..] else {
            panic!("two providers")
        };
        assert_eq!(
            a.name, "a",
            "the name defaults to the slug, not OIDC_PROVIDER_NAME"
        );
        assert_eq!(a.scope, "openid groups");
        assert_eq!(a.claims.groups, "roles");
        assert_eq!(a.policy.access.admin_group.as_deref(), Some("admins"));
        assert_eq!(a.token_auth, TokenAuthMethod::ClientSecretPost);
        assert_eq!(b.scope, "openid");
        assert_eq!(b.claims.groups, "roles");
        assert_eq!(b.policy.access.admin_group.as_deref(), Some("b-admins"));
        assert_eq!(b.token_auth, TokenAuthMethod::Auto);
    }

    #[test]
    fn an_inherited_mistake_is_named_at_each_numbered_provider() {
        let err = OidcConfig::from_lookup(lookup(pairs(&[
            ("BASE_URL", "https://app.example.com"),
            ("OIDC_SCOPE", "profile"),
            ("OIDC_PROVIDER_1_SLUG", "a"),
            ("OIDC_PROVIDER_1_ISSUER", "https://a.example.com"),
            ("OIDC_PROVIDER_1_CLIENT_ID", "app"),
            ("OIDC_PROVIDER_2_SLUG", "b"),
            ("OIDC_PROVIDER_2_ISSUER", "https://b.example.com"),
            ("OIDC_PROVIDER_2_CLIENT_ID", "app"),
            ("OIDC_PROVIDER_2_SCOPE", "openid"),
        ])))
        .unwrap_err();
        assert!(err.mentions("OIDC_PROVIDER_1_SCOPE"), "{err}");
        assert!(
            !err.mentions("OIDC_PROVIDER_2_SCOPE"),
            "its own scope: {err}"
        );
        assert!(!err.mentions("OIDC_SCOPE"), "{err}");
    }

    #[test]
    fn misspelt_numbered_variables_are_named() {
        let names = [
            "OIDC_PROVIDER_1_ISSUER_URL",
            "OIDC_PROVIDER_1_SCOPE",
            "OIDC_PROVIDER_65_SLUG",
        ];
        let problems = unknown_numbered_variables(names.iter().map(|n| (*n).to_owned()));
        let keys: Vec<_> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["OIDC_PROVIDER_1_ISSUER_URL", "OIDC_PROVIDER_65_SLUG"]
        );
        assert!(
            problems[0]
                .message
                .contains("NAME, SLUG, ISSUER, CLIENT_ID"),
            "{}",
            problems[0]
        );
        assert!(
            problems[0]
                .message
                .contains("did you mean OIDC_PROVIDER_1_ISSUER?"),
            "{}",
            problems[0]
        );
    }
}
