//! Configuration: [`OidcConfig`], its builder, and loading from environment variables.
//!
//! Every setting is validated once, in [`OidcConfigBuilder::build`]; all problems are reported
//! together, each naming the environment variable (or setting) to change.
//!
//! ```
//! use std::time::Duration;
//! use tower_oidc::OidcConfig;
//!
//! // The defaults: scopes `openid profile email`, routes under `/auth/`, 8 hour sessions.
//! let config = OidcConfig::builder()
//!     .with_issuer("https://login.example.com/realms/staff")
//!     .with_client_id("reports")
//!     .with_client_secret("s3cr3t")
//!     .with_base_url("https://reports.example.com")
//!     .with_cookie_key("a-key-of-at-least-32-bytes-from-a-secret-store")
//!     .build()?;
//! assert_eq!(config.redirect_uri(), "https://reports.example.com/auth/callback");
//!
//! // Customised: other routes, a shorter session, an open health check.
//! let config = OidcConfig::builder()
//!     .with_issuer("https://login.example.com/realms/staff")
//!     .with_client_id("reports")
//!     .with_client_secret("s3cr3t")
//!     .with_base_url("https://reports.example.com")
//!     .with_cookie_key("a-key-of-at-least-32-bytes-from-a-secret-store")
//!     .with_callback_path("/sso/callback")
//!     .with_session_lifetime(Duration::from_secs(3600))
//!     .add_public_path("/healthz")
//!     .build()?;
//! assert_eq!(config.redirect_uri(), "https://reports.example.com/sso/callback");
//! # Ok::<(), tower_oidc::ConfigError>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use url::Url;

use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, ConfigProblem};
use crate::hook::{HookFn, LoginAttempt, LoginDecision};
use crate::policy::{AccessRules, DomainPattern, Policy};
use crate::role::{ClaimPath, RoleMap};

pub(crate) mod file;
mod provider;

pub(crate) use provider::Keys;
pub use provider::ProviderBuilder;
use provider::{MAX_NUMBERED, SUFFIXES};

/// The default scopes, as in tududi and TimeTracker.
pub const DEFAULT_SCOPE: &str = "openid profile email";

/// The largest clock leeway accepted. OpenID Connect Core 3.1.3.7 allows "a small leeway";
/// five minutes is the ceiling common practice (Kerberos, mod_auth_openidc) uses.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

const MIN_COOKIE_KEY_BYTES: usize = 32;

/// An issuer identifier: an absolute `https` URL (or `http` on a loopback host), kept exactly as
/// configured because OpenID Connect compares it byte for byte (Discovery 1.0 section 4.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// The issuer exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The discovery document's URL: the issuer without a trailing `/`, then
    /// `/.well-known/openid-configuration` (Discovery 1.0 section 4).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }

    fn parse(raw: &str, allow_http: bool) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("not an absolute URL ({e})"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("an issuer has no query or fragment".into());
        }
        if url.host_str().is_none() {
            return Err("the URL has no host".into());
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_http || is_loopback(&url) => {}
            "http" => {
                return Err(
                    "must use https (http is accepted only for 127.0.0.1, ::1 and localhost)"
                        .into(),
                )
            }
            other => return Err(format!("unsupported scheme `{other}`, use https")),
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IssuerUrl").field(&self.0).finish()
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An OAuth 2.0 client identifier.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.0).finish()
    }
}

/// An OAuth 2.0 client secret. Prints `[redacted]`; deliberately not `PartialEq`.
#[derive(Clone)]
pub struct ClientSecret(String);

impl ClientSecret {
    /// The secret itself, for sending to the token endpoint.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A short machine name for a provider, used in logs, routes and [`Identity::provider`].
///
/// Lowercase ASCII letters, digits, `-` and `_`; 1 to 32 characters.
///
/// [`Identity::provider`]: crate::Identity::provider
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProviderSlug(String);

impl ProviderSlug {
    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("use 1 to 32 characters from a-z, 0-9, `-` and `_`".into())
        }
    }
}

impl fmt::Debug for ProviderSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProviderSlug").field(&self.0).finish()
    }
}

/// Key material for the cookie encryption keys. Prints `[redacted]`; not `PartialEq`.
#[derive(Clone)]
pub(crate) struct CookieKey(Arc<[u8]>);

impl CookieKey {
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.0
    }

    fn random() -> Self {
        let mut key = [0u8; 32];
        crate::random::fill_random(&mut key);
        Self(Arc::from(&key[..]))
    }

    /// Accepts base64 (standard or URL-safe, padded or not) of at least 32 bytes, or else the
    /// string's own bytes when it is at least 32 bytes long.
    fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let engines = [
            &base64::engine::general_purpose::STANDARD,
            &base64::engine::general_purpose::STANDARD_NO_PAD,
            &base64::engine::general_purpose::URL_SAFE,
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ];
        for engine in engines {
            if let Ok(bytes) = engine.decode(raw) {
                if bytes.len() >= MIN_COOKIE_KEY_BYTES {
                    return Ok(Self(Arc::from(bytes)));
                }
            }
        }
        if raw.len() >= MIN_COOKIE_KEY_BYTES {
            return Ok(Self(Arc::from(raw.as_bytes())));
        }
        Err(format!(
            "too short: use at least {MIN_COOKIE_KEY_BYTES} random bytes, for example the output of `openssl rand -base64 48`"
        ))
    }
}

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey([redacted])")
    }
}

/// When to call the userinfo endpoint after the code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserinfoPolicy {
    /// Only when the ID token lacks a claim the identity needs (email, name, username or groups)
    /// and the provider has a userinfo endpoint.
    #[default]
    WhenClaimsMissing,
    /// At every login.
    Always,
    /// Never; the ID token alone describes the user.
    Never,
}

/// How the client authenticates at the token endpoint (OpenID Connect Core 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// `client_secret_basic` when the provider lists it (or lists nothing), else
    /// `client_secret_post`; `none` for a client without a secret.
    #[default]
    Auto,
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 2.3.1).
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
}

impl TokenAuthMethod {
    fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "auto" => Some(Self::Auto),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            _ => None,
        }
    }
}

/// Which claims hold the user's name, email, username and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The username claim (`OIDC_USERNAME_CLAIM`, default `preferred_username`).
    pub username: String,
    /// The email claim (`OIDC_EMAIL_CLAIM`, default `email`).
    pub email: String,
    /// The groups claim (`OIDC_GROUPS_CLAIM`, default `groups`).
    pub groups: String,
    /// The display name claim (`OIDC_FULL_NAME_CLAIM`, default `name`).
    pub full_name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            email: "email".into(),
            groups: "groups".into(),
            full_name: "name".into(),
        }
    }
}

/// One identity provider and this application's client registration at it.
#[derive(Debug, Clone)]
pub(crate) struct ProviderConfig {
    /// How this provider's settings are named in messages.
    pub(crate) keys: Keys,
    pub(crate) name: String,
    pub(crate) slug: ProviderSlug,
    pub(crate) issuer: IssuerUrl,
    pub(crate) client_id: ClientId,
    pub(crate) client_secret: Option<ClientSecret>,
    pub(crate) scope: String,
    pub(crate) claims: ClaimNames,
    pub(crate) userinfo: UserinfoPolicy,
    pub(crate) token_auth: TokenAuthMethod,
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) policy: Policy,
    pub(crate) auto_provision: bool,
    /// This provider's callback route: the callback path, plus `/{slug}` when there are several.
    pub(crate) callback_path: String,
    /// `{BASE_URL}{callback_path}`: register it at the provider.
    pub(crate) redirect_uri: String,
}

/// Which sign-ins the layer accepts (`AUTH_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `oidc`: every protected request needs an SSO session.
    #[default]
    Oidc,
    /// `both`: a request the app's own login recognises (see
    /// [`OidcConfigBuilder::with_local_session`]) passes too; everyone else is offered SSO.
    Both,
}

impl AuthMethod {
    fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "oidc" => Ok(Self::Oidc),
            "both" => Ok(Self::Both),
            _ => Err(raw.trim().to_owned()),
        }
    }
}

/// Recognises a request signed in through the app's own login (`AUTH_METHOD=both`).
pub(crate) type LocalSession = Arc<dyn Fn(&http::request::Parts) -> bool + Send + Sync>;

/// A configured provider, as the app may show it (for example on its own login page).
#[derive(Debug, Clone, Copy)]
pub struct ConfiguredProvider<'a> {
    config: &'a ProviderConfig,
    login_path: &'a str,
}

impl<'a> ConfiguredProvider<'a> {
    /// The slug (`OIDC_PROVIDER_N_SLUG`).
    pub fn slug(&self) -> &'a str {
        self.config.slug.as_str()
    }

    /// The display name (`OIDC_PROVIDER_N_NAME`).
    pub fn name(&self) -> &'a str {
        &self.config.name
    }

    /// The issuer.
    pub fn issuer(&self) -> &'a IssuerUrl {
        &self.config.issuer
    }

    /// The client id at this provider.
    pub fn client_id(&self) -> &'a ClientId {
        &self.config.client_id
    }

    /// The space-separated scopes requested.
    pub fn scope(&self) -> &'a str {
        &self.config.scope
    }

    /// The claim names.
    pub fn claim_names(&self) -> &'a ClaimNames {
        &self.config.claims
    }

    /// The redirect URI to register at this provider.
    pub fn redirect_uri(&self) -> &'a str {
        &self.config.redirect_uri
    }

    /// The path that starts a login with this provider: `/auth/login/{slug}`.
    pub fn login_url(&self) -> String {
        format!("{}/{}", self.login_path, self.config.slug.as_str())
    }

    /// Whether users unknown to the login hook may enter (`OIDC_AUTO_PROVISION`).
    pub fn auto_provision(&self) -> bool {
        self.config.auto_provision
    }
}

/// A validated configuration for [`OidcLayer`](crate::OidcLayer).
///
/// Build one with [`OidcConfig::builder`] or [`OidcConfig::from_env`].
#[derive(Clone)]
pub struct OidcConfig {
    pub(crate) providers: Vec<ProviderConfig>,
    pub(crate) base_url: Url,
    pub(crate) redirect_uri: String,
    pub(crate) secure_cookies: bool,
    pub(crate) callback_path: String,
    pub(crate) login_path: String,
    pub(crate) logout_path: String,
    pub(crate) public_paths: Vec<String>,
    pub(crate) cookie_key: CookieKey,
    pub(crate) leeway: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) post_logout_redirect_uri: Option<Url>,
    pub(crate) jwks_refetch_cooldown: Duration,
    pub(crate) http_timeout: Duration,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) providers_path: String,
    pub(crate) auth_method: AuthMethod,
    pub(crate) local_session: Option<LocalSession>,
    pub(crate) local_login_url: Option<String>,
    pub(crate) require_session: bool,
    pub(crate) login_hook: Option<HookFn>,
}

impl fmt::Debug for OidcConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfig")
            .field("providers", &self.providers)
            .field("base_url", &self.base_url.as_str())
            .field("redirect_uri", &self.redirect_uri)
            .field("secure_cookies", &self.secure_cookies)
            .field("callback_path", &self.callback_path)
            .field("login_path", &self.login_path)
            .field("logout_path", &self.logout_path)
            .field("public_paths", &self.public_paths)
            .field("cookie_key", &self.cookie_key)
            .field("leeway", &self.leeway)
            .field("session_lifetime", &self.session_lifetime)
            .field(
                "post_logout_redirect_uri",
                &self.post_logout_redirect_uri.as_ref().map(Url::as_str),
            )
            .field("jwks_refetch_cooldown", &self.jwks_refetch_cooldown)
            .field("http_timeout", &self.http_timeout)
            .field("auth_method", &self.auth_method)
            .field("require_session", &self.require_session)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Starts a builder with the defaults.
    pub fn builder() -> OidcConfigBuilder {
        OidcConfigBuilder::default()
    }

    /// Reads the environment variables (see the crate docs' table):
    /// `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_SCOPE`, `BASE_URL`,
    /// `OIDC_PROVIDER_NAME`, `OIDC_PROVIDER_SLUG`, `OIDC_USERNAME_CLAIM`, `OIDC_EMAIL_CLAIM`,
    /// `OIDC_GROUPS_CLAIM`, `OIDC_FULL_NAME_CLAIM`, `OIDC_ALLOWED_EMAIL_DOMAINS`,
    /// `OIDC_ADMIN_GROUP`, `OIDC_ADMIN_EMAILS`, `OIDC_ADMIN_EMAIL_DOMAINS`,
    /// `OIDC_POST_LOGOUT_REDIRECT_URI`, `OIDC_TOKEN_ENDPOINT_AUTH_METHOD`, `OIDC_COOKIE_KEY`,
    /// and the file named by `OIDC_CONFIG_FILE`. A variable set to a non-empty value wins over
    /// the file's value for the same setting.
    ///
    /// Several providers come from the numbered `OIDC_PROVIDER_N_*` variables (from 1, no
    /// gaps). A numbered variable with an unknown suffix is reported too.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars())
    }

    /// Like [`from_env`](Self::from_env), from a list of variables (for example an env file's
    /// lines, or a test's): unknown `OIDC_PROVIDER_N_*` suffixes are reported as in `from_env`.
    pub fn from_vars<K, V>(vars: impl IntoIterator<Item = (K, V)>) -> Result<Self, ConfigError>
    where
        K: Into<String>,
        V: Into<String>,
    {
        let vars: std::collections::HashMap<String, String> = vars
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let mut builder = Self::builder_from_lookup(|key| vars.get(key).cloned());
        builder
            .file_problems
            .extend(unknown_numbered_variables(vars.keys().cloned()));
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
        if let Some(path) = get("OIDC_CONFIG_FILE") {
            b = b.with_config_file(path.trim());
        }
        // TimeTracker's names (`OIDC_ISSUER`, `OIDC_SCOPES`) are accepted too; ours win.
        if let Some(v) = get("OIDC_ISSUER_URL").or_else(|| get("OIDC_ISSUER")) {
            b.issuer = Some(v);
        }
        if let Some(v) = get("OIDC_CLIENT_ID") {
            b.client_id = Some(v);
        }
        if let Some(v) = get("OIDC_CLIENT_SECRET") {
            b.client_secret = Some(v);
        }
        if let Some(scope) = get("OIDC_SCOPE").or_else(|| get("OIDC_SCOPES")) {
            b.scope = scope;
        }
        if let Some(v) = get("BASE_URL") {
            b.base_url = Some(v);
        }
        if let Some(v) = get("OIDC_REDIRECT_URI") {
            b.redirect_uri = Some(v);
        }
        if let Some(v) = get("OIDC_PROVIDER_NAME") {
            b.provider_name = Some(v);
        }
        if let Some(v) = get("OIDC_PROVIDER_SLUG") {
            b.provider_slug = Some(v);
        }
        if let Some(v) = get("AUTH_METHOD") {
            b.auth_method = AuthMethod::parse(&v);
        }
        if let Some(v) = get("OIDC_AUTO_PROVISION") {
            b.auto_provision = parse_bool(&v);
        }
        b.read_numbered_providers(&get);
        if let Some(v) = get("OIDC_USERNAME_CLAIM") {
            b.claims.username = v;
        }
        if let Some(v) = get("OIDC_EMAIL_CLAIM") {
            b.claims.email = v;
        }
        if let Some(v) = get("OIDC_GROUPS_CLAIM") {
            b.claims.groups = v;
        }
        if let Some(v) = get("OIDC_FULL_NAME_CLAIM") {
            b.claims.full_name = v;
        }
        if let Some(v) = get("OIDC_ALLOWED_EMAIL_DOMAINS") {
            b.allowed_email_domains = split_list(&v);
        }
        if let Some(v) = get("OIDC_ADMIN_GROUP") {
            b.admin_group = Some(v.trim().to_owned());
        }
        if let Some(v) = get("OIDC_ADMIN_EMAILS") {
            b.admin_emails = split_list(&v);
        }
        if let Some(v) = get("OIDC_ADMIN_EMAIL_DOMAINS") {
            b.admin_email_domains = split_list(&v);
        }
        if let Some(v) = get("OIDC_POST_LOGOUT_REDIRECT_URI") {
            b.post_logout_redirect_uri = Some(v);
        }
        if let Some(m) = get("OIDC_TOKEN_ENDPOINT_AUTH_METHOD") {
            b.token_auth = TokenAuthMethod::parse(&m).ok_or(m);
        }
        if let Some(v) = get("OIDC_COOKIE_KEY") {
            b.cookie_key = Some(v);
        }
        b
    }

    /// The redirect URI to register at the (first) identity provider:
    /// `{BASE_URL}{callback path}`, plus `/{slug}` for numbered providers. See
    /// [`providers`](Self::providers) for each provider's.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The issuer of the (first) provider.
    pub fn issuer(&self) -> &IssuerUrl {
        &self.providers[0].issuer
    }

    /// The client id at the (first) provider.
    pub fn client_id(&self) -> &ClientId {
        &self.providers[0].client_id
    }

    /// The display name of the (first) provider (`OIDC_PROVIDER_NAME`).
    pub fn provider_name(&self) -> &str {
        &self.providers[0].name
    }

    /// Every configured provider, in order.
    pub fn providers(&self) -> impl Iterator<Item = ConfiguredProvider<'_>> {
        self.providers.iter().map(|config| ConfiguredProvider {
            config,
            login_path: &self.login_path,
        })
    }

    /// The provider with this slug.
    pub fn provider(&self, slug: &str) -> Option<ConfiguredProvider<'_>> {
        self.providers().find(|p| p.slug() == slug)
    }

    /// `AUTH_METHOD`.
    pub fn auth_method(&self) -> AuthMethod {
        self.auth_method
    }

    /// The post-logout redirect URI (`OIDC_POST_LOGOUT_REDIRECT_URI`).
    pub fn post_logout_redirect_uri(&self) -> Option<&str> {
        self.post_logout_redirect_uri.as_ref().map(Url::as_str)
    }

    /// The app's public origin (`BASE_URL`).
    pub fn base_url(&self) -> &str {
        self.base_url.as_str().trim_end_matches('/')
    }

    /// Whether several providers are configured, or the app's own login sits beside them: an
    /// unauthenticated browser then gets a chooser page instead of a redirect.
    pub(crate) fn offers_choice(&self) -> bool {
        self.providers.len() > 1 || self.auth_method == AuthMethod::Both
    }

    /// The role map of the (first) provider, if one is configured.
    pub fn role_map(&self) -> Option<&RoleMap> {
        self.providers[0].policy.roles.as_deref()
    }

    /// Whether cookies are marked `Secure` and `__Host-` prefixed (`BASE_URL` is https).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }

    pub(crate) fn is_public(&self, path: &str) -> bool {
        // `/static/../admin` must not count as public for a handler or proxy that normalises
        // the path later: any dot segment, plain or percent-encoded, makes a path protected.
        let dot_segment = path.split('/').any(|seg| {
            seg == "."
                || seg == ".."
                || seg
                    .as_bytes()
                    .windows(3)
                    .any(|w| w.eq_ignore_ascii_case(b"%2e"))
        });
        if dot_segment {
            return false;
        }
        self.public_paths.iter().any(|p| {
            if p.ends_with('/') {
                path.starts_with(p.as_str()) || path == &p[..p.len() - 1]
            } else {
                path == p
            }
        })
    }
}

/// Builds an [`OidcConfig`]. Every setter takes raw values; [`build`](Self::build) validates
/// them all and reports every problem at once.
#[derive(Clone)]
#[must_use]
pub struct OidcConfigBuilder {
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    scope: String,
    base_url: Option<String>,
    provider_name: Option<String>,
    provider_slug: Option<String>,
    claims: ClaimNames,
    userinfo: UserinfoPolicy,
    token_auth: Result<TokenAuthMethod, String>,
    trusted_audiences: Vec<String>,
    callback_path: String,
    login_path: String,
    logout_path: String,
    public_paths: Vec<String>,
    cookie_key: Option<String>,
    leeway: Duration,
    session_lifetime: Duration,
    post_logout_redirect_uri: Option<String>,
    jwks_refetch_cooldown: Duration,
    http_timeout: Duration,
    clock: Arc<dyn Clock>,
    insecure_http_issuer: bool,
    role_map: Option<RoleMap>,
    allowed_email_domains: Vec<String>,
    admin_group: Option<String>,
    admin_emails: Vec<String>,
    admin_email_domains: Vec<String>,
    /// Problems found while reading the config file, reported by `build`.
    file_problems: Vec<ConfigProblem>,
    providers: Vec<ProviderBuilder>,
    providers_path: String,
    auth_method: Result<AuthMethod, String>,
    local_session: Option<LocalSession>,
    local_login_url: Option<String>,
    require_session: bool,
    login_hook: Option<HookFn>,
    auto_provision: Result<bool, String>,
    /// `OIDC_REDIRECT_URI`: BASE_URL and the callback path in one.
    redirect_uri: Option<String>,
}

impl Default for OidcConfigBuilder {
    fn default() -> Self {
        Self {
            issuer: None,
            client_id: None,
            client_secret: None,
            scope: DEFAULT_SCOPE.into(),
            base_url: None,
            provider_name: None,
            provider_slug: None,
            claims: ClaimNames::default(),
            userinfo: UserinfoPolicy::default(),
            token_auth: Ok(TokenAuthMethod::Auto),
            trusted_audiences: Vec::new(),
            callback_path: "/auth/callback".into(),
            login_path: "/auth/login".into(),
            logout_path: "/auth/logout".into(),
            public_paths: Vec::new(),
            cookie_key: None,
            leeway: Duration::from_secs(60),
            session_lifetime: Duration::from_secs(8 * 3600),
            post_logout_redirect_uri: None,
            jwks_refetch_cooldown: Duration::from_secs(30),
            http_timeout: Duration::from_secs(10),
            clock: Arc::new(SystemClock),
            insecure_http_issuer: false,
            role_map: None,
            allowed_email_domains: Vec::new(),
            admin_group: None,
            admin_emails: Vec::new(),
            admin_email_domains: Vec::new(),
            file_problems: Vec::new(),
            providers: Vec::new(),
            providers_path: "/auth/providers".into(),
            auth_method: Ok(AuthMethod::Oidc),
            local_session: None,
            local_login_url: None,
            require_session: true,
            login_hook: None,
            auto_provision: Ok(true),
            redirect_uri: None,
        }
    }
}

impl fmt::Debug for OidcConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcConfigBuilder")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .field("base_url", &self.base_url)
            .field(
                "cookie_key",
                &self.cookie_key.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl OidcConfigBuilder {
    /// The issuer URL (`OIDC_ISSUER_URL`). Discovery must report exactly this issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client id registered at the provider (`OIDC_CLIENT_ID`).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret (`OIDC_CLIENT_SECRET`). Without one the client is public and relies on
    /// PKCE alone (token endpoint authentication `none`).
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Space-separated scopes (`OIDC_SCOPE`, default `openid profile email`); must contain `openid`.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = scope.into();
        self
    }

    /// The app's public origin (`BASE_URL`), e.g. `https://app.example.com`. It decides the
    /// redirect URI and whether cookies are `Secure`; request headers never do.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// A display name for the provider (`OIDC_PROVIDER_NAME`).
    pub fn with_provider_name(mut self, name: impl Into<String>) -> Self {
        self.provider_name = Some(name.into());
        self
    }

    /// The provider's slug (`OIDC_PROVIDER_SLUG`, default `default`).
    pub fn with_provider_slug(mut self, slug: impl Into<String>) -> Self {
        self.provider_slug = Some(slug.into());
        self
    }

    /// Which claims hold username, email, groups and display name.
    pub fn with_claim_names(mut self, claims: ClaimNames) -> Self {
        self.claims = claims;
        self
    }

    /// When to call the userinfo endpoint.
    pub fn with_userinfo(mut self, policy: UserinfoPolicy) -> Self {
        self.userinfo = policy;
        self
    }

    /// How to authenticate at the token endpoint (`OIDC_TOKEN_ENDPOINT_AUTH_METHOD`: `auto`,
    /// `client_secret_basic` or `client_secret_post`). Use it when the provider registered the
    /// client for one method and also advertises the other.
    pub fn with_token_auth_method(mut self, method: TokenAuthMethod) -> Self {
        self.token_auth = Ok(method);
        self
    }

    /// An extra audience the ID token may carry besides our client id.
    ///
    /// # Security
    /// An ID token whose `aud` holds an audience that is neither our client id nor trusted is
    /// refused (OpenID Connect Core 3.1.3.7, step 3).
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// The callback route (default `/auth/callback`).
    pub fn with_callback_path(mut self, path: impl Into<String>) -> Self {
        self.callback_path = path.into();
        self
    }

    /// The route that starts a login explicitly (default `/auth/login`, takes `?return_to=`).
    pub fn with_login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The logout route (default `/auth/logout`).
    pub fn with_logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = path.into();
        self
    }

    /// A path served without a session (an `Identity` is still attached when there is one).
    /// A path ending in `/` covers everything below it.
    pub fn add_public_path(mut self, path: impl Into<String>) -> Self {
        self.public_paths.push(path.into());
        self
    }

    /// The key material for cookie encryption (`OIDC_COOKIE_KEY`): base64 of at least 32
    /// random bytes, or a string of at least 32 bytes. Without one a random key is made per
    /// process, so sessions do not survive a restart and do not work across replicas.
    pub fn with_cookie_key(mut self, key: impl Into<String>) -> Self {
        self.cookie_key = Some(key.into());
        self
    }

    /// Leeway for `exp` and `iat` (default 60 s, at most 5 minutes, OpenID Connect Core 3.1.3.7).
    pub fn with_clock_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The absolute session lifetime (default 8 hours, as mod_auth_openidc's
    /// `OIDCSessionMaxDuration`); after it the user signs in again.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Where the provider sends the browser after logout (`OIDC_POST_LOGOUT_REDIRECT_URI`).
    /// It must be registered at the provider.
    ///
    /// # Security
    /// Only configuration decides this target, never a request parameter (no open redirect).
    pub fn with_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The least time between two JWKS refetches caused by an unknown `kid` (default 30 s).
    pub fn with_jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refetch_cooldown = cooldown;
        self
    }

    /// The timeout of each HTTP request to the provider (default 10 s).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The clock used for every time decision (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the TOML file at `path` (what `OIDC_CONFIG_FILE` names): claim names, access rules
    /// and the role map. Settings made on the builder afterwards win over the file's. A file
    /// that cannot be read or parsed is reported by [`build`](Self::build), with the path, the
    /// key and the line.
    pub fn with_config_file(self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => self.with_config_toml(&path.display().to_string(), &text),
            Err(e) => {
                let mut b = self;
                b.file_problems.push(ConfigProblem {
                    key: "OIDC_CONFIG_FILE".into(),
                    message: format!("cannot read {}: {e}", path.display()),
                });
                b
            }
        }
    }

    /// Like [`with_config_file`](Self::with_config_file), from the file's text; `name` stands
    /// for the file in error messages.
    pub fn with_config_toml(mut self, name: &str, text: &str) -> Self {
        let file::Parsed {
            file,
            roles,
            provider_roles,
        } = match file::parse(name, text) {
            Ok(parsed) => parsed,
            Err(problems) => {
                self.file_problems.extend(problems);
                return self;
            }
        };
        for (slot, value) in [
            (&mut self.issuer, file.issuer_url),
            (&mut self.client_id, file.client_id),
            (&mut self.client_secret, file.client_secret),
            (&mut self.base_url, file.base_url),
            (&mut self.redirect_uri, file.redirect_uri),
            (&mut self.provider_name, file.provider_name),
            (&mut self.provider_slug, file.provider_slug),
            (
                &mut self.post_logout_redirect_uri,
                file.post_logout_redirect_uri,
            ),
            (&mut self.cookie_key, file.cookie_key),
        ] {
            if value.is_some() {
                *slot = value;
            }
        }
        if let Some(v) = file.scope {
            self.scope = v;
        }
        if let Some(m) = file.token_endpoint_auth_method {
            self.token_auth = TokenAuthMethod::parse(&m).ok_or(m);
        }
        if let Some(m) = file.auth_method {
            self.auth_method = AuthMethod::parse(&m);
        }
        if let Some(b) = file.auto_provision {
            self.auto_provision = Ok(b);
        }
        if let Some(paths) = file.public_paths {
            self.public_paths.extend(paths);
        }
        for (p, role_map) in file.providers.into_iter().zip(provider_roles) {
            self.providers.push(ProviderBuilder {
                role_map,
                slug: p.slug,
                name: p.name,
                issuer: p.issuer,
                client_id: p.client_id,
                client_secret: p.client_secret,
                scope: p.scope,
                username_claim: p.claims.username,
                email_claim: p.claims.email,
                groups_claim: p.claims.groups,
                full_name_claim: p.claims.full_name,
                allowed_email_domains: p.access.allowed_email_domains,
                admin_group: p.access.admin_group,
                admin_emails: p.access.admin_emails,
                admin_email_domains: p.access.admin_email_domains,
                token_auth: p
                    .token_endpoint_auth_method
                    .map(|m| TokenAuthMethod::parse(&m).ok_or(m)),
                auto_provision: p.auto_provision.map(Ok),
                trusted_audiences: Vec::new(),
            });
        }
        let claims = file.claims;
        for (slot, value) in [
            (&mut self.claims.username, claims.username),
            (&mut self.claims.email, claims.email),
            (&mut self.claims.groups, claims.groups),
            (&mut self.claims.full_name, claims.full_name),
        ] {
            if let Some(v) = value {
                *slot = v;
            }
        }
        let access = file.access;
        if let Some(v) = access.allowed_email_domains {
            self.allowed_email_domains = v;
        }
        if let Some(v) = access.admin_group {
            self.admin_group = Some(v);
        }
        if let Some(v) = access.admin_emails {
            self.admin_emails = v;
        }
        if let Some(v) = access.admin_email_domains {
            self.admin_email_domains = v;
        }
        if roles.is_some() {
            self.role_map = roles;
        }
        self
    }

    /// The role map: which PostgreSQL role each user acts as, from their groups. With one, a
    /// user whose groups match no rule (and no default) is refused at login with 403.
    pub fn with_role_map(mut self, roles: RoleMap) -> Self {
        self.role_map = Some(roles);
        self
    }

    /// Admits only users whose verified email is in `domain` (`OIDC_ALLOWED_EMAIL_DOMAINS`):
    /// `example.com` exactly (ignoring case), or `*.example.com` for its subdomains.
    ///
    /// # Security
    /// An unverified email never passes (OpenID Connect Core 5.7: unverified claims must not be
    /// trusted), and `evil-example.com` or `example.com.evil.test` never match `example.com`.
    pub fn add_allowed_email_domain(mut self, domain: impl Into<String>) -> Self {
        self.allowed_email_domains.push(domain.into());
        self
    }

    /// Members of this group are administrators (`OIDC_ADMIN_GROUP`), compared as the role map
    /// compares groups.
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.admin_group = Some(group.into());
        self
    }

    /// A user with this verified email is an administrator (`OIDC_ADMIN_EMAILS`, ignoring case).
    pub fn add_admin_email(mut self, email: impl Into<String>) -> Self {
        self.admin_emails.push(email.into());
        self
    }

    /// Users with a verified email in this domain are administrators
    /// (`OIDC_ADMIN_EMAIL_DOMAINS`; `*.example.com` for subdomains).
    pub fn add_admin_email_domain(mut self, domain: impl Into<String>) -> Self {
        self.admin_email_domains.push(domain.into());
        self
    }

    /// Adds a provider; with more than one, each gets its own routes (`/auth/login/{slug}`,
    /// `/auth/callback/{slug}`) and unauthenticated browsers get a chooser page. The n-th
    /// provider added is `OIDC_PROVIDER_{n}_*` in error messages. Do not combine with
    /// [`with_issuer`](Self::with_issuer).
    pub fn add_provider(mut self, provider: ProviderBuilder) -> Self {
        self.providers.push(provider);
        self
    }

    /// Which sign-ins are accepted (`AUTH_METHOD`, default `oidc`).
    pub fn with_auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = Ok(method);
        self
    }

    /// How to recognise a request signed in through the app's own login, for
    /// `AUTH_METHOD=both` (for example a password login kept for the app's administrators).
    /// Such a request passes without an SSO session; the app's own extractors then identify
    /// it. The check runs on every request without an SSO session, so keep it cheap and free of
    /// I/O (read a cookie, or an extension set by an outer layer).
    ///
    /// # Security
    /// Whatever this returns `true` for is let through unauthenticated by the layer: the app's
    /// own login must authenticate those requests itself.
    pub fn with_local_session(
        mut self,
        is_signed_in: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.local_session = Some(Arc::new(is_signed_in));
        self
    }

    /// The app's own login page, linked from the chooser page when `AUTH_METHOD=both`.
    pub fn with_local_login_url(mut self, url: impl Into<String>) -> Self {
        self.local_login_url = Some(url.into());
        self
    }

    /// Whether protected routes demand a session (default `true`). With `false` every request
    /// passes and carries an [`Identity`](crate::Identity) when it has a session: the app
    /// decides per route with `Identity` or `Option<Identity>` extractors.
    pub fn require_session(mut self, yes: bool) -> Self {
        self.require_session = yes;
        self
    }

    /// The route answering `GET` with the providers as JSON (default `/auth/providers`).
    pub fn with_providers_path(mut self, path: impl Into<String>) -> Self {
        self.providers_path = path.into();
        self
    }

    /// Whether users the login hook does not know may enter (`OIDC_AUTO_PROVISION`, default
    /// `true`); handed to the hook as [`LoginAttempt::auto_provision`].
    pub fn with_auto_provision(mut self, yes: bool) -> Self {
        self.auto_provision = Ok(yes);
        self
    }

    /// An async function called after every successful login (after the access rules and the
    /// role map), with the identity, its claims and the auto-provision setting. It may refuse
    /// the login (`403` with its message) or add to the identity's claims; this is where an
    /// app provisions users on first login or links accounts, keyed by `(issuer, subject)`.
    ///
    /// ```
    /// use tower_oidc::{LoginDecision, OidcConfig};
    ///
    /// let builder = OidcConfig::builder().with_login_hook(|login| async move {
    ///     if login.identity().email().is_some_and(|e| e.ends_with("@blocked.example")) {
    ///         return LoginDecision::refuse("This account is blocked.");
    ///     }
    ///     LoginDecision::Allow
    /// });
    /// ```
    pub fn with_login_hook<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(LoginAttempt) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = LoginDecision> + Send + 'static,
    {
        self.login_hook = Some(Arc::new(move |attempt| Box::pin(hook(attempt))));
        self
    }

    /// Accepts an `http` issuer on a non-loopback host.
    ///
    /// # Security
    /// Discovery, keys and tokens then travel in clear text and can be replaced by anyone on
    /// the path. Use only on an isolated test network.
    pub fn insecure_allow_http_issuer(mut self, allow: bool) -> Self {
        self.insecure_http_issuer = allow;
        self
    }

    /// Validates every setting. The error lists all problems, each naming its variable.
    pub fn build(mut self) -> Result<OidcConfig, ConfigError> {
        let mut problems = std::mem::take(&mut self.file_problems);
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                message,
            })
        };

        // `OIDC_REDIRECT_URI` (TimeTracker's form) stands for BASE_URL plus the callback path.
        if let Some(raw) = self.redirect_uri.take() {
            match Url::parse(raw.trim()) {
                Ok(u)
                    if u.query().is_none() && u.fragment().is_none() && u.host_str().is_some() =>
                {
                    let origin = u.origin().ascii_serialization();
                    match self.base_url.as_deref().map(|b| b.trim().trim_end_matches('/')) {
                        Some(base) if base != origin => problem(
                            "OIDC_REDIRECT_URI",
                            format!("`{raw}` is not under BASE_URL `{base}`; set only BASE_URL, or make them agree"),
                        ),
                        _ => {
                            self.base_url = Some(origin);
                            self.callback_path = u.path().to_owned();
                        }
                    }
                }
                _ => problem(
                    "OIDC_REDIRECT_URI",
                    format!("`{raw}` must be an absolute URL without query or fragment"),
                ),
            }
        }

        let base_url = match self.base_url.as_deref().map(str::trim) {
            None | Some("") => {
                problem(
                    "BASE_URL",
                    "is not set; use the app's public origin, e.g. https://app.example.com".into(),
                );
                None
            }
            Some(raw) => match Url::parse(raw) {
                Ok(u) if !matches!(u.scheme(), "http" | "https") => {
                    problem(
                        "BASE_URL",
                        format!("must be an http or https URL (got scheme `{}`)", u.scheme()),
                    );
                    None
                }
                Ok(u) if u.host_str().is_none() => {
                    problem("BASE_URL", "has no host".into());
                    None
                }
                Ok(u) if u.query().is_some() || u.fragment().is_some() => {
                    problem("BASE_URL", "must not have a query or fragment".into());
                    None
                }
                Ok(u) if u.path() != "/" => {
                    problem(
                        "BASE_URL",
                        "must be an origin without a path, e.g. https://app.example.com".into(),
                    );
                    None
                }
                Ok(u) => Some(u),
                Err(e) => {
                    problem("BASE_URL", format!("not an absolute URL ({e})"));
                    None
                }
            },
        };

        for (key, path) in [
            ("callback path", &self.callback_path),
            ("login path", &self.login_path),
            ("logout path", &self.logout_path),
            ("providers path", &self.providers_path),
        ] {
            if !is_route_path(path) {
                problem(
                    key,
                    format!("`{path}` must start with `/` and contain no `?`, `#` or `//`"),
                );
            }
        }
        let routes = [
            &self.callback_path,
            &self.login_path,
            &self.logout_path,
            &self.providers_path,
        ];
        if (1..routes.len()).any(|i| routes[..i].contains(&routes[i])) {
            problem(
                "callback path",
                "the callback, login, logout and providers paths must differ".into(),
            );
        }
        // `/auth/callback/{slug}` routes take everything below the callback path.
        let below = format!("{}/", self.callback_path);
        if routes[1..]
            .iter()
            .chain(self.public_paths.iter().collect::<Vec<_>>().iter())
            .any(|r| r.starts_with(&below))
        {
            problem(
                "callback path",
                format!("`{}` would swallow the routes below it (login, logout, providers, public paths): choose a path that is not a prefix of them", self.callback_path),
            );
        }
        for path in &self.public_paths {
            if !is_route_path(path) {
                problem("public path", format!("`{path}` must start with `/`"));
            }
        }

        let (cookie_key, generated) = match self.cookie_key.as_deref() {
            None => (Some(CookieKey::random()), true),
            Some(raw) => match CookieKey::parse(raw) {
                Ok(k) => (Some(k), false),
                Err(e) => {
                    problem("OIDC_COOKIE_KEY", e);
                    (None, false)
                }
            },
        };

        if self.leeway > MAX_LEEWAY {
            problem(
                "clock leeway",
                format!("{:?} is more than the allowed {MAX_LEEWAY:?}", self.leeway),
            );
        }
        if self.session_lifetime < Duration::from_secs(60) {
            problem("session lifetime", "must be at least one minute".into());
        }
        if self.jwks_refetch_cooldown < Duration::from_secs(1) {
            problem(
                "JWKS refetch cooldown",
                "must be at least one second, so that forged key ids cannot make us hammer the provider".into(),
            );
        }
        if self.http_timeout.is_zero() {
            problem("http timeout", "must be more than zero".into());
        }

        let post_logout_redirect_uri = match self.post_logout_redirect_uri.as_deref() {
            None => None,
            Some(raw) => match Url::parse(raw.trim()) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {
                    Some(u)
                }
                Ok(_) => {
                    problem(
                        "OIDC_POST_LOGOUT_REDIRECT_URI",
                        "must be an absolute http(s) URL".into(),
                    );
                    None
                }
                Err(e) => {
                    problem(
                        "OIDC_POST_LOGOUT_REDIRECT_URI",
                        format!("not an absolute URL ({e})"),
                    );
                    None
                }
            },
        };

        let auth_method = match self.auth_method.clone() {
            Ok(m) => m,
            Err(raw) => {
                problem(
                    "AUTH_METHOD",
                    format!("`{raw}` is not supported: use `oidc` (SSO only) or `both` (SSO, and the app's own login for requests it recognises)"),
                );
                AuthMethod::Oidc
            }
        };
        if auth_method == AuthMethod::Both && self.local_session.is_none() {
            problem(
                "AUTH_METHOD",
                "is `both`, but the app has not said how to recognise its own login: call `OidcConfigBuilder::with_local_session` (and `with_local_login_url` for the chooser page)".into(),
            );
        }

        if let Some(url) = &self.local_login_url {
            if !url.starts_with('/')
                || url.starts_with("//")
                || url.contains('\\')
                || url.chars().any(char::is_control)
            {
                problem(
                    "local login URL",
                    format!("`{url}` must be a path on this app, starting with a single `/`"),
                );
            }
        }

        // The providers: the numbered ones, or else the single-provider settings.
        let drafts: Vec<(Keys, ProviderBuilder)> = if self.providers.is_empty() {
            vec![(Keys::Single, self.single_provider())]
        } else {
            for (key, set) in [
                ("OIDC_ISSUER_URL", self.issuer.is_some()),
                ("OIDC_CLIENT_ID", self.client_id.is_some()),
                ("OIDC_CLIENT_SECRET", self.client_secret.is_some()),
            ] {
                if set {
                    problem(
                        key,
                        "is set together with numbered OIDC_PROVIDER_N_* providers: use one form; move it to OIDC_PROVIDER_1_*".into(),
                    );
                }
            }
            std::mem::take(&mut self.providers)
                .into_iter()
                .enumerate()
                .map(|(i, p)| (Keys::Numbered(i + 1), p))
                .collect()
        };
        // Numbered providers always get their own routes, so adding a second one later does not
        // change the first one's redirect URI.
        let several = drafts.len() > 1 || matches!(drafts.first(), Some((Keys::Numbered(_), _)));
        for (i, (keys, draft)) in drafts.iter().enumerate() {
            let slug = draft.slug.as_deref().map(str::trim);
            if let Some((earlier, _)) = drafts[..i]
                .iter()
                .find(|(_, d)| slug.is_some() && d.slug.as_deref().map(str::trim) == slug)
            {
                problem(
                    &keys.key("SLUG"),
                    format!(
                        "`{}` is already the slug of {}",
                        slug.unwrap_or_default(),
                        earlier.key("SLUG")
                    ),
                );
            }
        }
        let mut providers = Vec::with_capacity(drafts.len());
        for (keys, draft) in drafts {
            let callback_path = match (several, draft.slug.as_deref()) {
                (true, Some(slug)) => format!("{}/{}", self.callback_path, slug.trim()),
                _ => self.callback_path.clone(),
            };
            let redirect_uri = base_url
                .as_ref()
                .map(|b| format!("{}{callback_path}", b.as_str().trim_end_matches('/')));
            if let Some(p) = self.provider(keys, draft, callback_path, redirect_uri, &mut problem) {
                providers.push(p);
            }
        }
        for (i, p) in providers.iter().enumerate() {
            for earlier in &providers[..i] {
                let same = |a: &IssuerUrl, b: &IssuerUrl| {
                    a.as_str().trim_end_matches('/') == b.as_str().trim_end_matches('/')
                };
                if same(&earlier.issuer, &p.issuer) {
                    problem(
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

        if self.login_hook.is_none() {
            for p in providers.iter().filter(|p| !p.auto_provision) {
                problem(
                    &p.keys.key("AUTO_PROVISION"),
                    "is false, but no login hook is set to tell known users from new ones: everyone would be let in. Set a hook with `OidcConfigBuilder::with_login_hook`, or remove the setting".into(),
                );
            }
        }

        let (Some(base_url), Some(cookie_key), true) = (base_url, cookie_key, problems.is_empty())
        else {
            return Err(ConfigError::new(problems));
        };

        if generated {
            tracing::warn!(
                target: "tower_oidc",
                "OIDC_COOKIE_KEY is not set: using a random key for this process only; \
                 every restart signs everyone out and replicas cannot read each other's sessions. \
                 Set OIDC_COOKIE_KEY to the output of `openssl rand -base64 48`."
            );
        }

        if providers.len() > 1 && (self.role_map.is_some() || self.admin_group.is_some()) {
            tracing::warn!(
                target: "tower_oidc",
                "the global role map and admin group apply to every provider: a group name means the same whichever issuer sent it. \
                 If the providers are run by different parties, give each its own ([[providers]] roles / OIDC_PROVIDER_N_ADMIN_GROUP)"
            );
        }

        let secure_cookies = base_url.scheme() == "https";
        Ok(OidcConfig {
            redirect_uri: providers[0].redirect_uri.clone(),
            providers,
            base_url,
            secure_cookies,
            callback_path: self.callback_path,
            login_path: self.login_path,
            logout_path: self.logout_path,
            providers_path: self.providers_path,
            public_paths: self.public_paths,
            cookie_key,
            leeway: self.leeway,
            session_lifetime: self.session_lifetime,
            post_logout_redirect_uri,
            jwks_refetch_cooldown: self.jwks_refetch_cooldown,
            http_timeout: self.http_timeout,
            clock: self.clock,
            auth_method,
            local_session: self.local_session,
            local_login_url: self.local_login_url,
            require_session: self.require_session,
            login_hook: self.login_hook,
        })
    }

    /// The single-provider settings as a provider draft.
    fn single_provider(&mut self) -> ProviderBuilder {
        ProviderBuilder {
            slug: Some(
                self.provider_slug
                    .take()
                    .unwrap_or_else(|| "default".to_owned()),
            ),
            name: Some(
                self.provider_name
                    .take()
                    .unwrap_or_else(|| "OpenID Connect".to_owned()),
            ),
            issuer: self.issuer.take(),
            client_id: self.client_id.take(),
            client_secret: self.client_secret.take(),
            trusted_audiences: std::mem::take(&mut self.trusted_audiences),
            ..ProviderBuilder::default()
        }
    }

    /// Validates one provider; its own settings win over the global ones.
    fn provider(
        &self,
        keys: Keys,
        draft: ProviderBuilder,
        callback_path: String,
        redirect_uri: Option<String>,
        problem: &mut impl FnMut(&str, String),
    ) -> Option<ProviderConfig> {
        let key = |suffix: &str| keys.key(suffix);
        let issuer = match draft.issuer.as_deref().map(str::trim) {
            None | Some("") => {
                problem(&key("ISSUER"), "is not set; use the provider's issuer URL, e.g. https://login.example.com/realms/main".into());
                None
            }
            Some(raw) => match IssuerUrl::parse(raw, self.insecure_http_issuer) {
                Ok(i) => Some(i),
                Err(e) => {
                    problem(&key("ISSUER"), e);
                    None
                }
            },
        };
        let client_id = match draft.client_id.as_deref().map(str::trim) {
            None | Some("") => {
                problem(
                    &key("CLIENT_ID"),
                    "is not set; use the client id registered at the provider".into(),
                );
                None
            }
            Some(id) if id.chars().any(char::is_control) => {
                problem(&key("CLIENT_ID"), "contains control characters".into());
                None
            }
            Some(id) => Some(ClientId(id.to_owned())),
        };
        let client_secret = draft.client_secret.map(ClientSecret);
        if client_secret
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty())
        {
            problem(
                &key("CLIENT_SECRET"),
                "is empty; leave it unset for a public client".into(),
            );
        }
        let token_auth = match draft.token_auth.unwrap_or_else(|| self.token_auth.clone()) {
            Ok(m) => m,
            Err(raw) => {
                problem(
                    &key("TOKEN_ENDPOINT_AUTH_METHOD"),
                    format!("`{raw}` is not one of auto, client_secret_basic, client_secret_post"),
                );
                TokenAuthMethod::Auto
            }
        };
        if token_auth != TokenAuthMethod::Auto && client_secret.is_none() {
            problem(
                &key("CLIENT_SECRET"),
                "is required by the configured token endpoint auth method".into(),
            );
        }
        let auto_provision = match draft
            .auto_provision
            .unwrap_or_else(|| self.auto_provision.clone())
        {
            Ok(b) => b,
            Err(raw) => {
                problem(
                    &key("AUTO_PROVISION"),
                    format!("`{raw}` is not `true` or `false`"),
                );
                true
            }
        };

        let scope_raw = draft.scope.unwrap_or_else(|| self.scope.clone());
        let scopes: Vec<&str> = scope_raw.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            problem(
                &key("SCOPE"),
                format!("must contain `openid` (got `{}`)", scope_raw.trim()),
            );
        }
        if scopes
            .iter()
            .any(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            problem(
                &key("SCOPE"),
                "contains characters not allowed in a scope (RFC 6749 3.3)".into(),
            );
        }
        let scope = scopes.join(" ");

        let slug = match draft.slug.as_deref() {
            None => {
                problem(
                    &key("SLUG"),
                    "is not set; every numbered provider needs a slug (its routes are /auth/login/{slug} and /auth/callback/{slug})".into(),
                );
                None
            }
            Some(raw) => match ProviderSlug::parse(raw.trim()) {
                Ok(s) => Some(s),
                Err(e) => {
                    problem(&key("SLUG"), e);
                    None
                }
            },
        };

        let claims = ClaimNames {
            username: draft
                .username_claim
                .unwrap_or_else(|| self.claims.username.clone()),
            email: draft
                .email_claim
                .unwrap_or_else(|| self.claims.email.clone()),
            groups: draft
                .groups_claim
                .unwrap_or_else(|| self.claims.groups.clone()),
            full_name: draft
                .full_name_claim
                .unwrap_or_else(|| self.claims.full_name.clone()),
        };
        for (suffix, claim) in [
            ("USERNAME_CLAIM", &claims.username),
            ("EMAIL_CLAIM", &claims.email),
            ("GROUPS_CLAIM", &claims.groups),
            ("FULL_NAME_CLAIM", &claims.full_name),
        ] {
            if claim.trim().is_empty() {
                problem(&key(suffix), "must name a claim".into());
            }
        }
        let groups_claim = match ClaimPath::new(&claims.groups) {
            Ok(c) => Some(c),
            Err(e) => {
                problem(&key("GROUPS_CLAIM"), e);
                None
            }
        };
        let mut domains = |suffix: &str, list: &[String]| -> Vec<DomainPattern> {
            list.iter()
                .filter_map(|d| match DomainPattern::parse(d) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        problem(&key(suffix), e);
                        None
                    }
                })
                .collect()
        };
        let allowed_email_domains = domains(
            "ALLOWED_EMAIL_DOMAINS",
            draft
                .allowed_email_domains
                .as_deref()
                .unwrap_or(&self.allowed_email_domains),
        );
        let admin_email_domains = domains(
            "ADMIN_EMAIL_DOMAINS",
            draft
                .admin_email_domains
                .as_deref()
                .unwrap_or(&self.admin_email_domains),
        );
        let mut admin_emails = Vec::new();
        for email in draft.admin_emails.as_deref().unwrap_or(&self.admin_emails) {
            let email = email.trim();
            match email.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                    admin_emails.push(email.to_lowercase())
                }
                _ => problem(
                    &key("ADMIN_EMAILS"),
                    format!("`{email}` is not an email address"),
                ),
            }
        }
        let admin_group = match draft
            .admin_group
            .as_deref()
            .or(self.admin_group.as_deref())
            .map(str::trim)
        {
            Some("") => {
                problem(&key("ADMIN_GROUP"), "must name a group".into());
                None
            }
            other => other.map(str::to_owned),
        };
        let role_map = draft
            .role_map
            .or_else(|| self.role_map.clone())
            .map(|mut map| {
                // The role map reads the provider's groups claim unless it names its own.
                if let (true, Some(groups)) = (map.claim_is_default(), &groups_claim) {
                    map.set_claim(groups.clone());
                }
                Arc::new(map)
            });

        let name = draft
            .name
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
                access: AccessRules {
                    allowed_email_domains,
                    admin_group,
                    admin_emails,
                    admin_email_domains,
                },
                roles: role_map,
                groups_claim: groups_claim?,
                email_claim: claims.email.clone(),
            },
            claims,
            userinfo: self.userinfo,
            token_auth,
            trusted_audiences: draft.trusted_audiences,
            auto_provision,
            callback_path,
            redirect_uri: redirect_uri?,
        })
    }
}

/// `true` or `false` (also `1`/`0`, `yes`/`no`), ignoring case.
fn parse_bool(raw: &str) -> Result<bool, String> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(raw.trim().to_owned()),
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
        if !SUFFIXES.contains(&suffix) {
            problems.push(ConfigProblem {
                key: name.clone(),
                message: format!(
                    "unknown setting `{suffix}`; a numbered provider takes {}",
                    SUFFIXES.join(", ")
                ),
            });
        }
    }
    problems
}

impl OidcConfigBuilder {
    /// Reads `OIDC_PROVIDER_N_*` for N from 1 up, into the providers list (overriding what the
    /// config file said for the same N). A gap or an `OIDC_PROVIDER_0_*` is a problem.
    fn read_numbered_providers(&mut self, get: &impl Fn(&str) -> Option<String>) {
        // Providers from the config file count as present: variables refine them.
        let from_file = self.providers.len();
        let present: Vec<usize> = (0..=MAX_NUMBERED)
            .filter(|&n| {
                (n >= 1 && n <= from_file)
                    || SUFFIXES
                        .iter()
                        .any(|s| get(&format!("OIDC_PROVIDER_{n}_{s}")).is_some())
            })
            .collect();
        if present.first() == Some(&0) {
            self.file_problems.push(ConfigProblem {
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
                self.file_problems.push(ConfigProblem {
                    key: format!("OIDC_PROVIDER_{n}_*"),
                    message: format!(
                        "is missing, but OIDC_PROVIDER_{next}_* is set: providers are numbered from 1 without gaps; renumber them"
                    ),
                });
                continue;
            }
            while self.providers.len() < n {
                self.providers.push(ProviderBuilder::default());
            }
            let p = &mut self.providers[n - 1];
            let var = |suffix: &str| get(&format!("OIDC_PROVIDER_{n}_{suffix}"));
            let set = |slot: &mut Option<String>, suffix: &str| {
                if let Some(v) = var(suffix) {
                    *slot = Some(v);
                }
            };
            set(&mut p.name, "NAME");
            set(&mut p.slug, "SLUG");
            set(&mut p.issuer, "ISSUER");
            set(&mut p.client_id, "CLIENT_ID");
            set(&mut p.client_secret, "CLIENT_SECRET");
            set(&mut p.scope, "SCOPE");
            set(&mut p.username_claim, "USERNAME_CLAIM");
            set(&mut p.email_claim, "EMAIL_CLAIM");
            set(&mut p.groups_claim, "GROUPS_CLAIM");
            set(&mut p.full_name_claim, "FULL_NAME_CLAIM");
            set(&mut p.admin_group, "ADMIN_GROUP");
            if let Some(v) = var("ALLOWED_EMAIL_DOMAINS") {
                p.allowed_email_domains = Some(split_list(&v));
            }
            if let Some(v) = var("ADMIN_EMAILS") {
                p.admin_emails = Some(split_list(&v));
            }
            if let Some(v) = var("ADMIN_EMAIL_DOMAINS") {
                p.admin_email_domains = Some(split_list(&v));
            }
            if let Some(m) = var("TOKEN_ENDPOINT_AUTH_METHOD") {
                p.token_auth = Some(TokenAuthMethod::parse(&m).ok_or(m));
            }
            if let Some(v) = var("AUTO_PROVISION") {
                p.auto_provision = Some(parse_bool(&v));
            }
        }
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

fn is_route_path(path: &str) -> bool {
    path.starts_with('/') && !path.contains(['?', '#']) && !path.contains("//")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

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
    fn reads_the_tududi_style_variables() {
        let cfg = OidcConfig::from_lookup(vars(&[
            ("OIDC_ISSUER_URL", "https://id.example.com/realms/main"),
            ("OIDC_CLIENT_ID", "app"),
            ("OIDC_CLIENT_SECRET", "shh"),
            ("OIDC_SCOPE", "openid email groups"),
            ("BASE_URL", "https://app.example.com"),
            ("OIDC_PROVIDER_SLUG", "staff"),
            ("OIDC_GROUPS_CLAIM", "roles"),
            ("OIDC_COOKIE_KEY", "0123456789abcdef0123456789abcdef"),
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
    fn debug_redacts_secrets() {
        let cfg = OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_client_secret("top-secret-value")
            .with_base_url("http://127.0.0.1:3000")
            .with_cookie_key("a-cookie-key-that-is-long-enough-123")
            .build()
            .unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("top-secret-value"), "{dbg}");
        assert!(!dbg.contains("a-cookie-key-that"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert!(!cfg.secure_cookies());
    }

    #[test]
    fn public_paths_match_exactly_or_by_folder() {
        let cfg = OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_base_url("http://127.0.0.1:3000")
            .add_public_path("/public")
            .add_public_path("/static/")
            .build()
            .unwrap();
        assert!(cfg.is_public("/public"));
        assert!(!cfg.is_public("/public2"));
        assert!(cfg.is_public("/static/app.css"));
        assert!(cfg.is_public("/static"));
        assert!(!cfg.is_public("/"));
        assert!(!cfg.is_public("/static/../admin"));
        assert!(!cfg.is_public("/static/%2e%2E/admin"));
        assert!(!cfg.is_public("/static/./x"));
    }

    fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
        let dir =
            std::env::temp_dir().join(format!("tower-oidc-config-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("oidc.toml");
        std::fs::write(&path, text).unwrap();
        path
    }

    const BASE: &[(&str, &str)] = &[
        ("OIDC_ISSUER_URL", "https://id.example.com"),
        ("OIDC_CLIENT_ID", "app"),
        ("BASE_URL", "https://app.example.com"),
        ("OIDC_COOKIE_KEY", "0123456789abcdef0123456789abcdef"),
    ];

    fn with_base(extra: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
        move |k| {
            extra
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.clone())
                .or_else(|| {
                    BASE.iter()
                        .find(|(n, _)| *n == k)
                        .map(|(_, v)| (*v).to_owned())
                })
        }
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
