//! Configuration the way operators write it: the env files from tududi's and TimeTracker's
//! documentation (tests/fixtures/env, each citing its source) load into the expected
//! configuration, and each broken configuration yields its named message, all at once.

use tower_oidc::{AuthMethod, OidcConfig, OidcConfigBuilder};

/// Reads an env file as `docker compose` does: `KEY=value` lines, `#` comments, an inline
/// ` #` comment after an unquoted value, and quotes around a value removed.
fn env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| {
            let (key, value) = l.split_once('=')?;
            let value = value.trim();
            let value = if let Some(q) = value
                .strip_prefix('"')
                .and_then(|v| v.split_once('"').map(|(v, _)| v))
            {
                q.to_owned()
            } else {
                match value.find(" #") {
                    Some(i) => value[..i].trim_end().to_owned(),
                    None => value.to_owned(),
                }
            };
            Some((key.trim().to_owned(), value))
        })
        .collect()
}

fn fixture(name: &str) -> Vec<(String, String)> {
    let path = format!("{}/tests/fixtures/env/{name}", env!("CARGO_MANIFEST_DIR"));
    env_file(&std::fs::read_to_string(&path).unwrap())
}

/// A generated `OIDC_COOKIE_KEY` (`openssl rand -base64 32`): tududi and TimeTracker keep
/// their own session secrets, so their env files lack it, and an https `BASE_URL` needs one.
const COOKIE_KEY: (&str, &str) = (
    "OIDC_COOKIE_KEY",
    "KgYhM1C8Ug3tqZFqLHSFOHcAD9NM2LuyoxwU/ox8k6Q=",
);

fn with(mut vars: Vec<(String, String)>, extra: &[(&str, &str)]) -> Vec<(String, String)> {
    for (k, v) in extra {
        vars.retain(|(key, _)| key != k);
        vars.push(((*k).to_owned(), (*v).to_owned()));
    }
    vars
}

#[test]
fn tududis_single_provider_env_file_loads() {
    // tududi's documentation requires BASE_URL beside this block.
    let vars = with(
        fixture("tududi-single.env"),
        &[("BASE_URL", "https://tududi.example.com"), COOKIE_KEY],
    );
    let config = OidcConfig::from_vars(vars).unwrap();
    let providers: Vec<_> = config.providers().collect();
    assert_eq!(providers.len(), 1);
    let google = providers[0];
    assert_eq!(google.slug(), "google");
    assert_eq!(google.name(), "Google");
    assert_eq!(google.issuer().as_str(), "https://accounts.google.com");
    assert_eq!(
        google.client_id().as_str(),
        "your-client-id.apps.googleusercontent.com"
    );
    assert_eq!(google.scope(), "openid profile email");
    assert!(google.auto_provision());
    assert_eq!(
        google.redirect_uri(),
        "https://tududi.example.com/auth/callback"
    );
    assert!(config.secure_cookies());
    assert_eq!(config.auth_method(), AuthMethod::Oidc);
}

#[test]
fn tududis_numbered_env_file_loads_three_providers_with_their_own_routes() {
    let vars = with(
        fixture("tududi-numbered.env"),
        &[("BASE_URL", "https://tududi.example.com"), COOKIE_KEY],
    );
    let config = OidcConfig::from_vars(vars).unwrap();
    let slugs: Vec<_> = config.providers().map(|p| p.slug().to_owned()).collect();
    assert_eq!(slugs, ["google", "okta", "authentik"]);
    let okta = config.provider("okta").unwrap();
    assert_eq!(okta.name(), "Company SSO");
    assert_eq!(okta.issuer().as_str(), "https://company.okta.com");
    assert_eq!(okta.scope(), "openid profile email", "the default scope");
    assert_eq!(
        okta.redirect_uri(),
        "https://tududi.example.com/auth/callback/okta"
    );
    assert_eq!(okta.login_url(), "/auth/login/okta");
    let authentik = config.provider("authentik").unwrap();
    assert_eq!(
        authentik.issuer().as_str(),
        "https://auth.example.com/application/o/tududi/",
        "kept exactly, trailing slash included"
    );
}

#[test]
fn timetrackers_env_file_loads_with_its_own_names() {
    // TimeTracker names the issuer OIDC_ISSUER, the scopes OIDC_SCOPES, and gives the whole
    // redirect URI instead of BASE_URL; its DNS tuning variables are ignored.
    let vars = with(fixture("timetracker-single.env"), &[COOKIE_KEY]);
    let config = OidcConfig::from_vars(vars).unwrap();
    let p = config.providers().next().unwrap();
    assert_eq!(
        p.issuer().as_str(),
        "https://idp.example.com/realms/your-realm"
    );
    assert_eq!(p.client_id().as_str(), "your-client-id");
    assert_eq!(p.scope(), "openid profile email");
    assert_eq!(
        config.redirect_uri(),
        "https://your-app.example.com/auth/oidc/callback"
    );
    assert_eq!(config.base_url(), "https://your-app.example.com");
    assert_eq!(p.claim_names().username, "preferred_username");
    assert_eq!(p.claim_names().groups, "groups");
    assert_eq!(config.auth_method(), AuthMethod::Oidc);
    assert_eq!(
        config.post_logout_redirect_uri(),
        Some("https://your-app.example.com/")
    );
}

#[test]
fn timetrackers_redirect_uri_must_agree_with_base_url() {
    let vars = with(
        fixture("timetracker-single.env"),
        &[("BASE_URL", "https://other.example.com")],
    );
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("OIDC_REDIRECT_URI"), "{err}");
}

fn base() -> Vec<(String, String)> {
    [
        ("BASE_URL", "https://app.example.com"),
        (
            "OIDC_COOKIE_KEY",
            "0261d1a314500db28f9072b1c7f287047d63cf33b88849ae5ae09bafbb61faac",
        ),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect()
}

fn numbered(n: usize, slug: &str, issuer: &str) -> Vec<(String, String)> {
    vec![
        (format!("OIDC_PROVIDER_{n}_SLUG"), slug.to_owned()),
        (format!("OIDC_PROVIDER_{n}_ISSUER"), issuer.to_owned()),
        (format!("OIDC_PROVIDER_{n}_CLIENT_ID"), "app".to_owned()),
        (format!("OIDC_PROVIDER_{n}_CLIENT_SECRET"), "s".to_owned()),
    ]
}

#[test]
fn a_gap_in_the_numbering_is_named() {
    let mut vars = base();
    vars.extend(numbered(1, "a", "https://a.example.com"));
    vars.extend(numbered(3, "c", "https://c.example.com"));
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_2_*"), "{err}");
    assert!(err.to_string().contains("OIDC_PROVIDER_3_*"), "{err}");
}

#[test]
fn numbering_starts_at_one() {
    let mut vars = base();
    vars.extend(numbered(0, "z", "https://z.example.com"));
    vars.extend(numbered(1, "a", "https://a.example.com"));
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_0_*"), "{err}");
}

#[test]
fn two_providers_with_one_issuer_are_refused() {
    let mut vars = base();
    vars.extend(numbered(1, "a", "https://id.example.com"));
    vars.extend(numbered(2, "b", "https://id.example.com/"));
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_2_ISSUER"), "{err}");
    assert!(err.to_string().contains("mix-up"), "{err}");
}

#[test]
fn every_mistake_is_reported_at_once_with_its_variable() {
    let mut vars = base();
    vars.retain(|(k, _)| k != "BASE_URL");
    vars.extend(numbered(1, "staff", "https://a.example.com"));
    vars.extend(numbered(2, "staff", "http://b.example.com"));
    vars.extend([
        (
            "OIDC_PROVIDER_3_ISSUER".to_owned(),
            "https://c.example.com".to_owned(),
        ),
        ("OIDC_PROVIDER_3_ISSUER_URL".to_owned(), "typo".to_owned()),
        (
            "OIDC_ISSUER_URL".to_owned(),
            "https://single.example.com".to_owned(),
        ),
        ("AUTH_METHOD".to_owned(), "local".to_owned()),
        (
            "OIDC_PROVIDER_1_AUTO_PROVISION".to_owned(),
            "maybe".to_owned(),
        ),
    ]);
    let err = OidcConfig::from_vars(vars).unwrap_err();
    for key in [
        "BASE_URL",
        "OIDC_PROVIDER_2_SLUG",
        "OIDC_PROVIDER_2_ISSUER",
        "OIDC_PROVIDER_3_CLIENT_ID",
        "OIDC_PROVIDER_3_SLUG",
        "OIDC_PROVIDER_3_ISSUER_URL",
        "OIDC_ISSUER_URL",
        "AUTH_METHOD",
        "OIDC_PROVIDER_1_AUTO_PROVISION",
    ] {
        assert!(err.mentions(key), "{key} missing from:\n{err}");
    }
    let text = err.to_string();
    assert!(
        text.starts_with("invalid OpenID Connect configuration ("),
        "{text}"
    );
    assert!(!text.contains("\"s\""), "no secret echoed");
}

#[test]
fn auth_method_both_needs_the_apps_own_login_check() {
    let mut vars = base();
    vars.extend([
        (
            "OIDC_ISSUER_URL".to_owned(),
            "https://id.example.com".to_owned(),
        ),
        ("OIDC_CLIENT_ID".to_owned(), "app".to_owned()),
        ("AUTH_METHOD".to_owned(), "both".to_owned()),
    ]);
    let err = OidcConfig::from_vars(vars.clone()).unwrap_err();
    assert!(err.mentions("AUTH_METHOD"), "{err}");
    assert!(err.to_string().contains("with_local_session"), "{err}");
    let lookup = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let config = OidcConfig::builder_from_lookup(lookup)
        .with_local_session(|parts| parts.headers.contains_key("x-local-admin"))
        .build()
        .unwrap();
    assert_eq!(config.auth_method(), AuthMethod::Both);
}

#[test]
fn the_config_file_can_say_what_the_variables_say_and_the_variables_win() {
    let dir = std::env::temp_dir().join(format!("tower-oidc-op-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oidc.toml");
    std::fs::write(
        &path,
        r#"
base_url = "https://file.example.com"
auth_method = "oidc"
public_paths = ["/healthz"]

[[providers]]
slug = "staff"
name = "Staff"
issuer = "https://staff.example.com"
client_id = "app"
client_secret = "from-file"
claims = { groups = "realm_access.roles" }

[[providers]]
slug = "partners"
issuer = "https://partners.example.com"
client_id = "app"
access = { allowed_email_domains = ["partner.example"] }
"#,
    )
    .unwrap();
    let mut vars = base();
    vars.push(("OIDC_CONFIG_FILE".into(), path.display().to_string()));
    vars.push(("OIDC_PROVIDER_2_NAME".into(), "Partners (from env)".into()));
    vars.retain(|(k, _)| k != "BASE_URL");
    let config = OidcConfig::from_vars(vars.clone()).unwrap();
    assert_eq!(config.base_url(), "https://file.example.com");
    let staff = config.provider("staff").unwrap();
    assert_eq!(staff.claim_names().groups, "realm_access.roles");
    assert_eq!(
        config.provider("partners").unwrap().name(),
        "Partners (from env)",
        "the variable wins over the file"
    );

    vars.push(("BASE_URL".into(), "https://env.example.com".into()));
    let config = OidcConfig::from_vars(vars).unwrap();
    assert_eq!(config.base_url(), "https://env.example.com");

    std::fs::write(
        &path,
        "issuer_url = \"https://x.example.com\"\nclient_idd = \"x\"\n",
    )
    .unwrap();
    let err = OidcConfigBuilder::default()
        .with_config_file(&path)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("client_idd"), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
}

#[test]
fn auto_provision_off_without_a_hook_would_let_everyone_in_and_is_refused() {
    let mut vars = base();
    vars.extend(numbered(1, "a", "https://a.example.com"));
    vars.push(("OIDC_PROVIDER_1_AUTO_PROVISION".into(), "false".into()));
    let err = OidcConfig::from_vars(vars.clone()).unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_1_AUTO_PROVISION"), "{err}");
    assert!(err.to_string().contains("with_login_hook"), "{err}");
    let lookup = |k: &str| vars.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let config = OidcConfig::builder_from_lookup(lookup)
        .with_login_hook(|_| async { tower_oidc::LoginDecision::Allow })
        .build()
        .unwrap();
    assert!(!config.provider("a").unwrap().auto_provision());
}

#[test]
fn a_single_numbered_provider_already_has_its_own_routes() {
    let mut vars = base();
    vars.extend(numbered(1, "staff", "https://a.example.com"));
    let config = OidcConfig::from_vars(vars).unwrap();
    assert_eq!(
        config.provider("staff").unwrap().redirect_uri(),
        "https://app.example.com/auth/callback/staff",
        "adding a second provider later keeps this redirect URI"
    );
}

#[test]
fn odd_provider_numbers_and_a_swallowing_callback_path_are_named() {
    let mut vars = base();
    vars.extend(numbered(1, "a", "https://a.example.com"));
    vars.push(("OIDC_PROVIDER_01_SCOPE".into(), "openid".into()));
    vars.push((
        "OIDC_REDIRECT_URI".into(),
        "https://app.example.com/auth".into(),
    ));
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("OIDC_PROVIDER_01_SCOPE"), "{err}");
    assert!(err.mentions("callback path"), "{err}");
}

#[test]
fn each_provider_may_have_its_own_role_map_in_the_file() {
    let dir = std::env::temp_dir().join(format!("tower-oidc-roles-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("oidc.toml");
    std::fs::write(
        &path,
        r#"
[roles]
[[roles.rule]]
group = "admins"
role = "app_admin"

[[providers]]
slug = "staff"
issuer = "https://staff.example.com"
client_id = "app"

[[providers]]
slug = "partners"
issuer = "https://partners.example.com"
client_id = "app"
[providers.roles]
default = "partner_viewer"
"#,
    )
    .unwrap();
    let mut vars = base();
    vars.push(("OIDC_CONFIG_FILE".into(), path.display().to_string()));
    let config = OidcConfig::from_vars(vars.clone()).unwrap();
    assert_eq!(
        config.role_map().unwrap().rules()[0].role().as_str(),
        "app_admin"
    );

    std::fs::write(
        &path,
        "[[providers]]\nslug = \"p\"\nissuer = \"https://p.example.com\"\nclient_id = \"app\"\n\
         [[providers.roles.rule]]\ngroup = \"x\"\nrole = \"none\"\n",
    )
    .unwrap();
    let err = OidcConfig::from_vars(vars).unwrap_err();
    assert!(err.mentions("providers[1].roles.rule[1].role"), "{err}");
    assert!(err.to_string().contains("reserved"), "{err}");
}

#[test]
fn misconfigured_login_parameters_are_named() {
    let mut vars = base();
    vars.extend(numbered(1, "a", "https://a.example.com"));
    vars.extend(numbered(2, "b", "https://b.example.com"));
    vars.extend(
        [
            ("OIDC_PROMPT", "always"),
            ("OIDC_MAX_AGE", "1h"),
            ("OIDC_PROVIDER_2_PROMPT", "login"),
            ("OIDC_PROVIDER_2_MAX_AGE", "3600"),
            ("OIDC_PROVIDER_2_REQUIRE_ACR", "true"),
            ("OIDC_PROVIDER_2_UI_LOCALES", "de_CH"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned())),
    );
    let err = OidcConfig::from_vars(vars.clone()).unwrap_err();
    let text = err.to_string();
    // The inherited mistakes are named at the provider that inherits them.
    assert!(err.mentions("OIDC_PROVIDER_1_PROMPT"), "{text}");
    assert!(text.contains("`always` is not a prompt value"), "{text}");
    assert!(err.mentions("OIDC_PROVIDER_1_MAX_AGE"), "{text}");
    assert!(text.contains("`1h` is not a number of seconds"), "{text}");
    assert!(!err.mentions("OIDC_PROVIDER_2_PROMPT"), "{text}");
    assert!(!err.mentions("OIDC_PROVIDER_2_MAX_AGE"), "{text}");
    assert!(
        err.mentions("OIDC_PROVIDER_2_REQUIRE_ACR"),
        "needs acr values: {text}"
    );
    assert!(err.mentions("OIDC_PROVIDER_2_UI_LOCALES"), "{text}");

    // Fixed, the same settings load.
    vars.retain(|(k, _)| !k.starts_with("OIDC_PROMPT") && k != "OIDC_MAX_AGE");
    vars.retain(|(k, _)| k != "OIDC_PROVIDER_2_UI_LOCALES");
    vars.push((
        "OIDC_PROVIDER_2_ACR_VALUES".into(),
        "urn:example:mfa".into(),
    ));
    OidcConfig::from_vars(vars).unwrap();

    // Unnumbered, and from the builder: the same checks.
    let err = OidcConfig::from_vars(with(
        base(),
        &[
            ("OIDC_ISSUER_URL", "https://id.example.com"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_PROMPT", "none consent"),
            ("OIDC_ACR_VALUES", "urn:\u{1}"),
            ("OIDC_REQUIRE_ACR", "maybe"),
        ],
    ))
    .unwrap_err();
    for key in ["OIDC_PROMPT", "OIDC_ACR_VALUES", "OIDC_REQUIRE_ACR"] {
        assert!(err.mentions(key), "{key}: {err}");
    }
    let err = OidcConfig::builder()
        .with_issuer("https://id.example.com")
        .with_client_id("app")
        .with_base_url("http://127.0.0.1:3000")
        .with_prompt("login login")
        .build()
        .unwrap_err();
    assert!(err.mentions("OIDC_PROMPT"), "{err}");
}
