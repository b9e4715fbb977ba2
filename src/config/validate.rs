//! Validation: the builder's drafts become the runtime [`OidcConfig`] and one
//! [`ProviderConfig`] per provider. Every problem is collected, each naming its variable or
//! key, and reported at once, in the order the settings are checked.

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::builder::OidcConfigBuilder;
use super::cookie_key::{CookieKey, MAKE_KEY};
use super::draft::{ProviderDraft, DEFAULT_SCOPE};
use super::env::Keys;
use super::types::{
    AuthMethod, ClaimNames, ClientId, ClientSecret, IssuerUrl, ProviderSlug, TokenAuthMethod,
};
use super::{ApiConfig, ConfigId, Network, OidcConfig, ProviderConfig, ProviderRoute};
use crate::error::{ConfigError, ConfigProblem};
use crate::policy::{AccessRules, DomainPattern, Policy};
use crate::policy::{ClaimPath, RoleMap};

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

/// `OIDC_COOKIE_KEY`, or a random key for this process: on an https `BASE_URL` (a
/// deployment, where restarts and replicas need one key) only when the app allows it.
fn cookie_key(b: &OidcConfigBuilder, https: bool, problems: &mut Problems) -> Option<CookieKey> {
    const KEY: &str = "OIDC_COOKIE_KEY";
    match b.cookie_key.as_deref() {
        None if https && !b.allow_random_cookie_key => {
            problems.push(
                KEY,
                format!(
                    "is not set, and BASE_URL is https: set it to the output of {MAKE_KEY}, the same on every replica \
                     (or, to sign everyone out at every restart, allow a random key for this process with \
                     `OidcConfigBuilder::allow_random_cookie_key(true)`)"
                ),
            );
            None
        }
        None => Some(CookieKey::random()),
        Some(raw) => CookieKey::parse(raw)
            .map_err(|e| problems.push(KEY, e))
            .ok(),
    }
}

/// The most keys `OIDC_COOKIE_KEYS_OLD` may hold: each costs an Argon2id stretch at startup,
/// and a forged cookie one decryption.
const MAX_OLD_COOKIE_KEYS: usize = 8;

/// How long an introspected token is trusted without asking again, unless configured
/// (`API_INTROSPECTION_CACHE`): a revocation at the provider holds within a minute.
const DEFAULT_INTROSPECTION_CACHE: u64 = 60;

/// The longest `API_INTROSPECTION_CACHE` accepted: a day.
const MAX_INTROSPECTION_CACHE: u64 = 86_400;

/// `OIDC_COOKIE_KEYS_OLD`: each entry checked like `OIDC_COOKIE_KEY`, its problems naming its
/// position (never its value).
fn old_cookie_keys(b: &OidcConfigBuilder, problems: &mut Problems) -> Vec<CookieKey> {
    const KEY: &str = "OIDC_COOKIE_KEYS_OLD";
    if b.old_cookie_keys.is_empty() {
        return Vec::new();
    }
    if b.cookie_key.is_none() {
        problems.push(
            KEY,
            "is set but OIDC_COOKIE_KEY is not: set the new key as OIDC_COOKIE_KEY (the old keys only open cookies, the new one seals them)",
        );
    }
    let count = b.old_cookie_keys.len();
    if count > MAX_OLD_COOKIE_KEYS {
        problems.push(
            KEY,
            format!(
                "holds {count} keys, more than {MAX_OLD_COOKIE_KEYS}: remove the keys whose sessions have expired"
            ),
        );
        return Vec::new();
    }
    b.old_cookie_keys
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            CookieKey::parse(raw)
                .map_err(|e| problems.push(KEY, format!("key {} of {count} {e}", i + 1)))
                .ok()
        })
        .collect()
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

/// Every provider, validated: the numbered ones (each completed from the defaults draft), or
/// else the defaults draft alone. Then the checks across providers: slugs and issuers unique.
fn providers(
    b: &mut OidcConfigBuilder,
    base_url: Option<&Url>,
    problems: &mut Problems,
) -> Vec<ProviderConfig> {
    let drafts = drafts(b, problems);
    // Numbered providers always get their own routes, so adding a second one later does not
    // change the first one's redirect URI.
    let several = drafts.len() > 1 || matches!(drafts.first(), Some((Keys::Numbered(_), _)));
    check_unique_slugs(&drafts, problems);
    let mut providers = Vec::with_capacity(drafts.len());
    for (keys, draft) in drafts {
        let callback_path = match (several, draft.slug.as_deref()) {
            (true, Some(slug)) => format!("{}/{}", b.callback_path, slug.trim()),
            _ => b.callback_path.clone(),
        };
        let url = |path: &str| {
            base_url.map(|base| format!("{}{path}", base.as_str().trim_end_matches('/')))
        };
        let redirect_uri = url(&callback_path);
        let backchannel_path = match (several, draft.slug.as_deref()) {
            (true, Some(slug)) => format!("{}/{}", b.backchannel_logout_path, slug.trim()),
            _ => b.backchannel_logout_path.clone(),
        };
        let backchannel_url = url(&backchannel_path);
        let place = Place {
            keys,
            callback_path,
            redirect_uri,
            backchannel_logout: backchannel_url.map(|url| ProviderRoute {
                path: backchannel_path,
                url,
            }),
            insecure_http_issuer: b.insecure_http_issuer,
        };
        if let Some(p) = provider(place, draft, problems) {
            providers.push(p);
        }
    }
    check_unique_issuers(&providers, problems);
    providers
}

/// The drafts to validate, each with the names of its settings.
fn drafts(b: &mut OidcConfigBuilder, problems: &mut Problems) -> Vec<(Keys, ProviderDraft)> {
    let defaults = std::mem::take(&mut b.defaults);
    if b.providers.is_empty() {
        return vec![(Keys::Single, defaults.single())];
    }
    for (suffix, set) in [
        ("ISSUER", defaults.issuer.is_some()),
        ("CLIENT_ID", defaults.client_id.is_some()),
        ("CLIENT_SECRET", defaults.client_secret.is_some()),
    ] {
        if set {
            problems.push(
                &Keys::Single.key(suffix),
                "is set together with numbered OIDC_PROVIDER_N_* providers: use one form; move it to OIDC_PROVIDER_1_*",
            );
        }
    }
    std::mem::take(&mut b.providers)
        .into_iter()
        .enumerate()
        .map(|(i, p)| (Keys::Numbered(i + 1), p.inherit(&defaults)))
        .collect()
}

fn check_unique_slugs(drafts: &[(Keys, ProviderDraft)], problems: &mut Problems) {
    for (i, (keys, draft)) in drafts.iter().enumerate() {
        let slug = draft.slug.as_deref().map(str::trim);
        if let Some((earlier, _)) = drafts[..i]
            .iter()
            .find(|(_, d)| slug.is_some() && d.slug.as_deref().map(str::trim) == slug)
        {
            problems.push(
                &keys.key("SLUG"),
                format!(
                    "`{}` is already the slug of {}",
                    slug.unwrap_or_default(),
                    earlier.key("SLUG")
                ),
            );
        }
    }
}

fn check_unique_issuers(providers: &[ProviderConfig], problems: &mut Problems) {
    let same = |a: &IssuerUrl, b: &IssuerUrl| {
        a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
    };
    for (i, p) in providers.iter().enumerate() {
        for earlier in &providers[..i] {
            if same(&earlier.issuer, &p.issuer) {
                problems.push(
                    &p.keys.key("ISSUER"),
                    format!(
                        "`{}` is also the issuer of {}: two providers with one issuer cannot be told apart, which defeats the mix-up defence (RFC 9700 4.4); configure the issuer once",
                        p.issuer,
                        earlier.keys.key("ISSUER")
                    ),
                );
            }
        }
    }
}

/// Where a provider sits: how its settings are named, and its routes.
#[derive(Debug)]
struct Place {
    keys: Keys,
    callback_path: String,
    /// `None` when `BASE_URL` is unusable (reported already).
    redirect_uri: Option<String>,
    /// The back-channel logout route, if it is turned on; `None` as for `redirect_uri`.
    backchannel_logout: Option<ProviderRoute>,
    insecure_http_issuer: bool,
}

/// Validates one provider's draft, already completed from the defaults; a setting it leaves
/// unset takes its documented default.
fn provider(place: Place, draft: ProviderDraft, problems: &mut Problems) -> Option<ProviderConfig> {
    let keys = place.keys;
    let key = |suffix: &str| keys.key(suffix);
    // Named field by field, so that a new field cannot be forgotten here.
    let ProviderDraft {
        name,
        slug,
        issuer,
        client_id,
        client_secret,
        scope,
        username_claim,
        email_claim,
        groups_claim,
        full_name_claim,
        allowed_email_domains,
        admin_group,
        admin_emails,
        admin_email_domains,
        token_auth,
        auto_provision,
        backchannel_logout,
        trusted_audiences,
        role_map,
        userinfo,
        api_audience,
        api_require_at_jwt,
        api_introspection_cache,
        resource,
        prompt,
        max_age,
        acr_values,
        require_acr,
        ui_locales,
    } = draft;

    let issuer = self::issuer(issuer, place.insecure_http_issuer, &key("ISSUER"), problems);
    let client_id = self::client_id(client_id, &key("CLIENT_ID"), problems);
    let (client_secret, token_auth) = client_auth(client_secret, token_auth, keys, problems);
    let auto_provision = self::boolean(auto_provision, true, &key("AUTO_PROVISION"), problems);
    let backchannel_logout = self::boolean(
        backchannel_logout,
        false,
        &key("BACKCHANNEL_LOGOUT"),
        problems,
    );
    let scope = self::scope(scope.as_deref(), &key("SCOPE"), problems);
    let api = self::api(
        api_audience,
        api_require_at_jwt,
        api_introspection_cache,
        keys,
        problems,
    );
    let slug = self::slug(slug.as_deref(), &key("SLUG"), problems);
    let resource = self::resource(resource, &key("RESOURCE"), problems);
    let (login, require_acr) = super::login_params::validate(
        prompt.as_deref(),
        max_age,
        acr_values.as_deref(),
        require_acr,
        ui_locales.as_deref(),
        |suffix, message| problems.push(&key(suffix), message),
    );

    let defaults = ClaimNames::default();
    let claims = ClaimNames {
        username: username_claim.unwrap_or(defaults.username),
        email: email_claim.unwrap_or(defaults.email),
        groups: groups_claim.unwrap_or(defaults.groups),
        full_name: full_name_claim.unwrap_or(defaults.full_name),
    };
    let groups_claim = check_claims(&claims, keys, problems);

    let access = AccessRules {
        allowed_email_domains: domains(
            allowed_email_domains,
            &key("ALLOWED_EMAIL_DOMAINS"),
            problems,
        ),
        admin_email_domains: domains(admin_email_domains, &key("ADMIN_EMAIL_DOMAINS"), problems),
        admin_emails: self::admin_emails(admin_emails, &key("ADMIN_EMAILS"), problems),
        admin_group: self::admin_group(admin_group.as_deref(), &key("ADMIN_GROUP"), problems),
    };
    let roles = self::role_map(role_map, groups_claim.as_ref());

    let name = name
        .filter(|n| !n.trim().is_empty())
        .or_else(|| slug.as_ref().map(|s| s.as_str().to_owned()))?;
    Some(ProviderConfig {
        keys,
        name,
        slug: slug?,
        issuer: issuer?,
        client_id: client_id?,
        client_secret,
        scope,
        policy: Policy {
            access,
            roles,
            groups_claim: groups_claim?,
            email_claim: claims.email.clone(),
        },
        claims,
        userinfo: userinfo.unwrap_or_default(),
        token_auth,
        trusted_audiences,
        auto_provision,
        api,
        resource,
        login,
        require_acr,
        callback_path: place.callback_path,
        redirect_uri: place.redirect_uri?,
        backchannel_logout: place.backchannel_logout.filter(|_| backchannel_logout),
    })
}

fn issuer(
    raw: Option<String>,
    allow_http: bool,
    key: &str,
    problems: &mut Problems,
) -> Option<IssuerUrl> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(
                key,
                "is not set; use the provider's issuer URL, e.g. https://login.example.com/realms/main",
            );
            None
        }
        Some(raw) => IssuerUrl::parse(raw, allow_http)
            .map_err(|e| problems.push(key, e))
            .ok(),
    }
}

/// The client secret (a blank one is a mistake) and the token endpoint auth method (one other
/// than `auto` needs a secret).
fn client_auth(
    secret: Option<String>,
    method: Option<Result<TokenAuthMethod, String>>,
    keys: Keys,
    problems: &mut Problems,
) -> (Option<ClientSecret>, TokenAuthMethod) {
    let secret = secret.map(ClientSecret);
    if secret
        .as_ref()
        .is_some_and(|s| s.expose().trim().is_empty())
    {
        problems.push(
            &keys.key("CLIENT_SECRET"),
            "is empty; leave it unset for a public client",
        );
    }
    let method = match method.unwrap_or(Ok(TokenAuthMethod::Auto)) {
        Ok(m) => m,
        Err(raw) => {
            problems.push(
                &keys.key("TOKEN_ENDPOINT_AUTH_METHOD"),
                format!("`{raw}` is not one of auto, client_secret_basic, client_secret_post"),
            );
            TokenAuthMethod::Auto
        }
    };
    if method != TokenAuthMethod::Auto && secret.is_none() {
        problems.push(
            &keys.key("CLIENT_SECRET"),
            "is required by the configured token endpoint auth method",
        );
    }
    (secret, method)
}

/// `API_AUDIENCE`, `API_REQUIRE_AT_JWT` and `API_INTROSPECTION_CACHE`: bearer tokens, when an
/// audience is set.
fn api(
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
fn resource(raw: Option<String>, key: &str, problems: &mut Problems) -> Option<String> {
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
fn check_api(b: &OidcConfigBuilder, providers: &[ProviderConfig], problems: &mut Problems) {
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

fn client_id(raw: Option<String>, key: &str, problems: &mut Problems) -> Option<ClientId> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => {
            problems.push(
                key,
                "is not set; use the client id registered at the provider",
            );
            None
        }
        Some(id) if id.chars().any(char::is_control) => {
            problems.push(key, "contains control characters");
            None
        }
        Some(id) => Some(ClientId(id.to_owned())),
    }
}

/// The scopes, normalised to single spaces; they must contain `openid`.
fn scope(raw: Option<&str>, key: &str, problems: &mut Problems) -> String {
    let raw = raw.unwrap_or(DEFAULT_SCOPE);
    let scopes: Vec<&str> = raw.split_whitespace().collect();
    if !scopes.contains(&"openid") {
        problems.push(key, format!("must contain `openid` (got `{}`)", raw.trim()));
    }
    if scopes
        .iter()
        .any(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
    {
        problems.push(
            key,
            "contains characters not allowed in a scope (RFC 6749 3.3)",
        );
    }
    scopes.join(" ")
}

fn slug(raw: Option<&str>, key: &str, problems: &mut Problems) -> Option<ProviderSlug> {
    let Some(raw) = raw else {
        problems.push(
            key,
            "is not set; every numbered provider needs a slug (its routes are /auth/login/{slug} and /auth/callback/{slug})",
        );
        return None;
    };
    ProviderSlug::parse(raw.trim())
        .map_err(|e| problems.push(key, e))
        .ok()
}

/// Every claim name is set; the groups claim is a valid path (returned).
fn check_claims(claims: &ClaimNames, keys: Keys, problems: &mut Problems) -> Option<ClaimPath> {
    for (suffix, claim) in [
        ("USERNAME_CLAIM", &claims.username),
        ("EMAIL_CLAIM", &claims.email),
        ("GROUPS_CLAIM", &claims.groups),
        ("FULL_NAME_CLAIM", &claims.full_name),
    ] {
        if claim.trim().is_empty() {
            problems.push(&keys.key(suffix), "must name a claim");
        }
    }
    ClaimPath::new(&claims.groups)
        .map_err(|e| problems.push(&keys.key("GROUPS_CLAIM"), e))
        .ok()
}

fn domains(list: Option<Vec<String>>, key: &str, problems: &mut Problems) -> Vec<DomainPattern> {
    list.unwrap_or_default()
        .iter()
        .filter_map(|d| {
            DomainPattern::parse(d)
                .map_err(|e| problems.push(key, e))
                .ok()
        })
        .collect()
}

/// The admin emails, lowercased.
fn admin_emails(list: Option<Vec<String>>, key: &str, problems: &mut Problems) -> Vec<String> {
    let mut emails = Vec::new();
    for email in list.iter().flatten() {
        let email = email.trim();
        match email.rsplit_once('@') {
            Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                emails.push(email.to_lowercase())
            }
            _ => problems.push(key, format!("`{email}` is not an email address")),
        }
    }
    emails
}

fn admin_group(raw: Option<&str>, key: &str, problems: &mut Problems) -> Option<String> {
    match raw.map(str::trim) {
        Some("") => {
            problems.push(key, "must name a group");
            None
        }
        other => other.map(str::to_owned),
    }
}

/// The role map reads the provider's groups claim unless it names its own.
fn role_map(map: Option<RoleMap>, groups_claim: Option<&ClaimPath>) -> Option<Arc<RoleMap>> {
    map.map(|mut map| {
        if let (true, Some(groups)) = (map.claim_is_default(), groups_claim) {
            map.set_claim(groups.clone());
        }
        Arc::new(map)
    })
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

    fn place(keys: Keys) -> Place {
        Place {
            keys,
            callback_path: "/auth/callback/staff".into(),
            redirect_uri: Some("https://app.example.com/auth/callback/staff".into()),
            backchannel_logout: None,
            insecure_http_issuer: false,
        }
    }

    #[test]
    fn one_draft_becomes_a_provider_with_the_defaults_filled_in() {
        let draft = ProviderDraft {
            slug: Some(" staff ".into()),
            issuer: Some(" https://id.example.com ".into()),
            client_id: Some("app".into()),
            scope: Some("  openid   groups ".into()),
            admin_emails: Some(vec!["Boss@Example.com".into()]),
            admin_group: Some(" admins ".into()),
            role_map: Some(
                RoleMap::builder()
                    .add_rule("admins", "app_admin")
                    .build()
                    .unwrap(),
            ),
            groups_claim: Some("realm_access.roles".into()),
            ..ProviderDraft::default()
        };
        let mut problems = Problems::default();
        let p = provider(place(Keys::Numbered(2)), draft, &mut problems).unwrap();
        assert!(problems.0.is_empty(), "{:?}", problems.0);
        assert_eq!(p.slug.as_str(), "staff");
        assert_eq!(p.name, "staff", "the name defaults to the slug");
        assert_eq!(p.issuer.as_str(), "https://id.example.com");
        assert_eq!(p.scope, "openid groups");
        assert_eq!(p.claims.username, "preferred_username");
        assert_eq!(p.token_auth, TokenAuthMethod::Auto);
        assert!(p.auto_provision);
        assert_eq!(p.policy.access.admin_emails, ["boss@example.com"]);
        assert_eq!(p.policy.access.admin_group.as_deref(), Some("admins"));
        assert_eq!(
            p.policy.roles.as_deref().unwrap().claim().as_str(),
            "realm_access.roles",
            "the role map follows the groups claim"
        );
        assert_eq!(
            p.redirect_uri,
            "https://app.example.com/auth/callback/staff"
        );
    }

    #[test]
    fn one_draft_reports_every_problem_under_its_own_names() {
        let draft = ProviderDraft {
            issuer: Some("http://id.example.com".into()),
            client_id: Some("a\u{1}b".into()),
            client_secret: Some(" ".into()),
            scope: Some("profile".into()),
            token_auth: Some(Err("private_key_jwt".into())),
            auto_provision: Some(Err("maybe".into())),
            groups_claim: Some("a..b".into()),
            admin_group: Some(" ".into()),
            admin_emails: Some(vec!["nope".into()]),
            allowed_email_domains: Some(vec!["exa mple.org".into()]),
            ..ProviderDraft::default()
        };
        let mut problems = Problems::default();
        assert!(provider(place(Keys::Numbered(3)), draft.clone(), &mut problems).is_none());
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "OIDC_PROVIDER_3_ISSUER",
                "OIDC_PROVIDER_3_CLIENT_ID",
                "OIDC_PROVIDER_3_CLIENT_SECRET",
                "OIDC_PROVIDER_3_TOKEN_ENDPOINT_AUTH_METHOD",
                "OIDC_PROVIDER_3_AUTO_PROVISION",
                "OIDC_PROVIDER_3_SCOPE",
                "OIDC_PROVIDER_3_SLUG",
                "OIDC_PROVIDER_3_GROUPS_CLAIM",
                "OIDC_PROVIDER_3_ALLOWED_EMAIL_DOMAINS",
                "OIDC_PROVIDER_3_ADMIN_EMAILS",
                "OIDC_PROVIDER_3_ADMIN_GROUP",
            ]
        );

        let mut problems = Problems::default();
        let _ = provider(place(Keys::Single), draft.single(), &mut problems);
        let keys: Vec<&str> = problems.0.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "OIDC_ISSUER_URL",
                "OIDC_CLIENT_ID",
                "OIDC_CLIENT_SECRET",
                "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
                "OIDC_AUTO_PROVISION",
                "OIDC_SCOPE",
                "OIDC_GROUPS_CLAIM",
                "OIDC_ALLOWED_EMAIL_DOMAINS",
                "OIDC_ADMIN_EMAILS",
                "OIDC_ADMIN_GROUP",
            ]
        );
    }
}
