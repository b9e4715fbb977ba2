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
use crate::policy::{AccessRules, DomainPattern, Policy};
use crate::role::{ClaimPath, RoleMap};

mod file;

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
        crate::session::fill_random(&mut key);
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
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Starts a builder with the defaults.
    pub fn builder() -> OidcConfigBuilder {
        OidcConfigBuilder::default()
    }

    /// Reads the single-provider environment variables (see the crate docs' table):
    /// `OIDC_ISSUER_URL`, `OIDC_CLIENT_ID`, `OIDC_CLIENT_SECRET`, `OIDC_SCOPE`, `BASE_URL`,
    /// `OIDC_PROVIDER_NAME`, `OIDC_PROVIDER_SLUG`, `OIDC_USERNAME_CLAIM`, `OIDC_EMAIL_CLAIM`,
    /// `OIDC_GROUPS_CLAIM`, `OIDC_FULL_NAME_CLAIM`, `OIDC_ALLOWED_EMAIL_DOMAINS`,
    /// `OIDC_ADMIN_GROUP`, `OIDC_ADMIN_EMAILS`, `OIDC_ADMIN_EMAIL_DOMAINS`,
    /// `OIDC_POST_LOGOUT_REDIRECT_URI`, `OIDC_TOKEN_ENDPOINT_AUTH_METHOD`, `OIDC_COOKIE_KEY`,
    /// and the file named by `OIDC_CONFIG_FILE`. A variable set to a non-empty value wins over
    /// the file's value for the same setting.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|key| std::env::var(key).ok())
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
        b.issuer = get("OIDC_ISSUER_URL");
        b.client_id = get("OIDC_CLIENT_ID");
        b.client_secret = get("OIDC_CLIENT_SECRET");
        if let Some(scope) = get("OIDC_SCOPE") {
            b.scope = scope;
        }
        b.base_url = get("BASE_URL");
        b.provider_name = get("OIDC_PROVIDER_NAME");
        b.provider_slug = get("OIDC_PROVIDER_SLUG");
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
        b.post_logout_redirect_uri = get("OIDC_POST_LOGOUT_REDIRECT_URI");
        if let Some(m) = get("OIDC_TOKEN_ENDPOINT_AUTH_METHOD") {
            b.token_auth = TokenAuthMethod::parse(&m).ok_or(m);
        }
        b.cookie_key = get("OIDC_COOKIE_KEY");
        b
    }

    /// The redirect URI to register at the identity provider: `{BASE_URL}{callback path}`.
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
        let (file, roles) = match file::parse(name, text) {
            Ok(parsed) => parsed,
            Err(problems) => {
                self.file_problems.extend(problems);
                return self;
            }
        };
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
    pub fn build(self) -> Result<OidcConfig, ConfigError> {
        let mut problems = self.file_problems;
        let mut problem = |key: &str, message: String| {
            problems.push(ConfigProblem {
                key: key.to_owned(),
                message,
            })
        };

        let issuer = match self.issuer.as_deref().map(str::trim) {
            None | Some("") => {
                problem("OIDC_ISSUER_URL", "is not set; use the provider's issuer URL, e.g. https://login.example.com/realms/main".into());
                None
            }
            Some(raw) => match IssuerUrl::parse(raw, self.insecure_http_issuer) {
                Ok(i) => Some(i),
                Err(e) => {
                    problem("OIDC_ISSUER_URL", e);
                    None
                }
            },
        };

        let client_id = match self.client_id.as_deref().map(str::trim) {
            None | Some("") => {
                problem(
                    "OIDC_CLIENT_ID",
                    "is not set; use the client id registered at the provider".into(),
                );
                None
            }
            Some(id) if id.chars().any(char::is_control) => {
                problem("OIDC_CLIENT_ID", "contains control characters".into());
                None
            }
            Some(id) => Some(ClientId(id.to_owned())),
        };

        let client_secret = self.client_secret.map(ClientSecret);
        let token_auth = match self.token_auth {
            Ok(m) => m,
            Err(raw) => {
                problem(
                    "OIDC_TOKEN_ENDPOINT_AUTH_METHOD",
                    format!("`{raw}` is not one of auto, client_secret_basic, client_secret_post"),
                );
                TokenAuthMethod::Auto
            }
        };
        if token_auth != TokenAuthMethod::Auto && client_secret.is_none() {
            problem(
                "OIDC_CLIENT_SECRET",
                "is required by the configured token endpoint auth method".into(),
            );
        }

        let scopes: Vec<&str> = self.scope.split_whitespace().collect();
        if !scopes.contains(&"openid") {
            problem(
                "OIDC_SCOPE",
                format!("must contain `openid` (got `{}`)", self.scope.trim()),
            );
        }
        if scopes
            .iter()
            .any(|s| s.chars().any(|c| c.is_control() || c == '"' || c == '\\'))
        {
            problem(
                "OIDC_SCOPE",
                "contains characters not allowed in a scope (RFC 6749 3.3)".into(),
            );
        }
        let scope = scopes.join(" ");

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
        ] {
            if !is_route_path(path) {
                problem(
                    key,
                    format!("`{path}` must start with `/` and contain no `?`, `#` or `//`"),
                );
            }
        }
        if self.callback_path == self.login_path
            || self.callback_path == self.logout_path
            || self.login_path == self.logout_path
        {
            problem(
                "callback path",
                "the callback, login and logout paths must differ".into(),
            );
        }
        for path in &self.public_paths {
            if !is_route_path(path) {
                problem("public path", format!("`{path}` must start with `/`"));
            }
        }

        let slug = match self.provider_slug.as_deref() {
            None => Some(ProviderSlug("default".into())),
            Some(raw) => match ProviderSlug::parse(raw.trim()) {
                Ok(s) => Some(s),
                Err(e) => {
                    problem("OIDC_PROVIDER_SLUG", e);
                    None
                }
            },
        };

        for (key, claim) in [
            ("OIDC_USERNAME_CLAIM", &self.claims.username),
            ("OIDC_EMAIL_CLAIM", &self.claims.email),
            ("OIDC_GROUPS_CLAIM", &self.claims.groups),
            ("OIDC_FULL_NAME_CLAIM", &self.claims.full_name),
        ] {
            if claim.trim().is_empty() {
                problem(key, "must name a claim".into());
            }
        }
        let groups_claim = match ClaimPath::new(&self.claims.groups) {
            Ok(c) => Some(c),
            Err(e) => {
                problem("OIDC_GROUPS_CLAIM", e);
                None
            }
        };
        let mut domains = |key: &str, list: &[String]| -> Vec<DomainPattern> {
            list.iter()
                .filter_map(|d| match DomainPattern::parse(d) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        problem(key, e);
                        None
                    }
                })
                .collect()
        };
        let allowed_email_domains =
            domains("OIDC_ALLOWED_EMAIL_DOMAINS", &self.allowed_email_domains);
        let admin_email_domains = domains("OIDC_ADMIN_EMAIL_DOMAINS", &self.admin_email_domains);
        let mut admin_emails = Vec::with_capacity(self.admin_emails.len());
        for email in &self.admin_emails {
            let email = email.trim();
            match email.rsplit_once('@') {
                Some((local, domain)) if !local.is_empty() && !domain.is_empty() => {
                    admin_emails.push(email.to_lowercase())
                }
                _ => problem(
                    "OIDC_ADMIN_EMAILS",
                    format!("`{email}` is not an email address"),
                ),
            }
        }
        let admin_group = match self.admin_group.as_deref().map(str::trim) {
            Some("") => {
                problem("OIDC_ADMIN_GROUP", "must name a group".into());
                None
            }
            other => other.map(str::to_owned),
        };
        let role_map = self.role_map.map(|mut map| {
            // The role map reads the groups claim unless it names its own.
            if let (true, Some(groups)) = (map.claim_is_default(), &groups_claim) {
                map.set_claim(groups.clone());
            }
            Arc::new(map)
        });

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
        if client_secret
            .as_ref()
            .is_some_and(|s| s.expose().trim().is_empty())
        {
            problem(
                "OIDC_CLIENT_SECRET",
                "is empty; leave it unset for a public client".into(),
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

        let (
            Some(issuer),
            Some(client_id),
            Some(base_url),
            Some(slug),
            Some(cookie_key),
            Some(groups_claim),
            true,
        ) = (
            issuer,
            client_id,
            base_url,
            slug,
            cookie_key,
            groups_claim,
            problems.is_empty(),
        )
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

        let secure_cookies = base_url.scheme() == "https";
        let redirect_uri = format!(
            "{}{}",
            base_url.as_str().trim_end_matches('/'),
            self.callback_path
        );
        let name = self
            .provider_name
            .unwrap_or_else(|| "OpenID Connect".into());

        Ok(OidcConfig {
            providers: vec![ProviderConfig {
                name,
                slug,
                issuer,
                client_id,
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
                    groups_claim,
                    email_claim: self.claims.email.clone(),
                },
                claims: self.claims,
                userinfo: self.userinfo,
                token_auth,
                trusted_audiences: self.trusted_audiences,
            }],
            base_url,
            redirect_uri,
            secure_cookies,
            callback_path: self.callback_path,
            login_path: self.login_path,
            logout_path: self.logout_path,
            public_paths: self.public_paths,
            cookie_key,
            leeway: self.leeway,
            session_lifetime: self.session_lifetime,
            post_logout_redirect_uri,
            jwks_refetch_cooldown: self.jwks_refetch_cooldown,
            http_timeout: self.http_timeout,
            clock: self.clock,
        })
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
