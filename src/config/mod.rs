//! Configuration: [`OidcConfig`], its builder, and loading from environment variables.
//!
//! Every setting is validated once, in [`OidcConfigBuilder::build`]; all problems are reported
//! together, each naming the environment variable (or setting) to change.
//!
//! The files: `types.rs` the protocol newtypes and setting enums; `cookie_key.rs` what
//! `OIDC_COOKIE_KEY` accepts; `draft.rs` the one per-provider settings draft (and where to add
//! a setting) and [`ProviderBuilder`]; `builder.rs` [`OidcConfigBuilder`]; `env.rs` the
//! variables, numbered ones included; `file.rs` the `OIDC_CONFIG_FILE` TOML file;
//! `validate.rs` drafts to the runtime types; `unknown.rs` the `OIDC_*` variables the layer
//! does not read; and here, the validated [`OidcConfig`] the layer reads.
//!
//! ```
//! use std::time::Duration;
//! use tower_oidc::OidcConfig;
//! # /// Stands for the app's secret store: a key made by `openssl rand -base64 32`.
//! # fn read_secret(_name: &str) -> String {
//! #     use base64::Engine as _;
//! #     let mut key = [0u8; 32];
//! #     aws_lc_rs::rand::fill(&mut key).unwrap();
//! #     base64::engine::general_purpose::STANDARD.encode(key)
//! # }
//!
//! // OIDC_COOKIE_KEY: the output of `openssl rand -base64 32`, the same on every replica.
//! let cookie_key = read_secret("oidc-cookie-key");
//!
//! // The defaults: scopes `openid profile email`, routes under `/auth/`, 8 hour sessions.
//! let config = OidcConfig::builder()
//!     .with_issuer("https://login.example.com/realms/staff")
//!     .with_client_id("reports")
//!     .with_client_secret("s3cr3t")
//!     .with_base_url("https://reports.example.com")
//!     .with_cookie_key(&cookie_key)
//!     .build()?;
//! assert_eq!(config.redirect_uri(), "https://reports.example.com/auth/callback");
//!
//! // A key looks like this one, but this one is public, so it is refused: make your own.
//! let err = OidcConfig::builder()
//!     .with_issuer("https://login.example.com/realms/staff")
//!     .with_client_id("reports")
//!     .with_base_url("https://reports.example.com")
//!     .with_cookie_key("PwnGtci4gzHnQa9OUpQ091Cii0s/wXFc9g+wqX9/Yu8=")
//!     .build()
//!     .unwrap_err();
//! assert!(err.mentions("OIDC_COOKIE_KEY"));
//!
//! // Customised: other routes, a shorter session, an open health check.
//! let config = OidcConfig::builder()
//!     .with_issuer("https://login.example.com/realms/staff")
//!     .with_client_id("reports")
//!     .with_client_secret("s3cr3t")
//!     .with_base_url("https://reports.example.com")
//!     .with_cookie_key(&cookie_key)
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

use url::Url;

use crate::clock::Clock;
use crate::hook::HookFn;
use crate::page_hook::PageHook;
use crate::policy::Policy;
use crate::policy::RoleMap;

mod builder;
pub(crate) mod client_assertion;
mod client_network;
mod cookie_key;
mod dpop;
mod draft;
mod env;
pub(crate) mod file;
pub(crate) mod login_params;
mod network;
mod par;
mod refresh;
mod response_mode;
mod session_store;
mod types;
mod unknown;
mod validate;

pub use builder::OidcConfigBuilder;
pub use client_assertion::AssertionAudience;
pub use client_network::ForwardedHeader;
pub(crate) use client_network::{LoginRateLimit, TrustedProxies};
pub(crate) use cookie_key::CookieKey;
pub use draft::{ProviderBuilder, DEFAULT_SCOPE};
pub(crate) use env::Keys;
pub(crate) use network::Network;
pub(crate) use refresh::RefreshConfig;
pub use response_mode::ResponseMode;
#[cfg(feature = "redis")]
pub(crate) use session_store::RedisUrl;
pub(crate) use session_store::{SessionStoreConfig, StoreKind};
pub use types::{
    AuthMethod, ClaimNames, ClientId, ClientSecret, IssuerUrl, ProviderSlug, TokenAuthMethod,
    UserinfoPolicy,
};
pub use unknown::UnusedVariable;
pub use validate::MAX_LEEWAY;

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
    /// Bearer access tokens for this app's API (`API_AUDIENCE`), when turned on.
    pub(crate) api: Option<ApiConfig>,
    /// The resource indicator (RFC 8707) the login asks for (`RESOURCE`): sent in the
    /// authorization request and the code exchange.
    pub(crate) resource: Option<String>,
    /// The login parameters sent at every login (`OIDC_PROMPT`, `OIDC_MAX_AGE`, ...).
    pub(crate) login: login_params::LoginParams,
    /// Whether the ID token's `acr` must be one of the requested `acr_values`
    /// (`OIDC_REQUIRE_ACR`).
    pub(crate) require_acr: bool,
    /// This provider's callback route: the callback path, plus `/{slug}` when there are several.
    pub(crate) callback_path: String,
    /// `{BASE_URL}{callback_path}`: register it at the provider.
    pub(crate) redirect_uri: String,
    /// How the provider returns the authorization response (`RESPONSE_MODE`).
    pub(crate) response_mode: ResponseMode,
    /// `private_key_jwt`'s key and audience (`CLIENT_ASSERTION_*`), when configured.
    pub(crate) client_assertion: Option<client_assertion::ClientAssertion>,
    /// Whether every login pushes its parameters first (`REQUIRE_PAR`, RFC 9126).
    pub(crate) require_par: bool,
    /// Whether the token and userinfo calls prove possession of the process's DPoP key
    /// (`DPOP`, RFC 9449), where discovery lists ES256 among its DPoP algorithms.
    pub(crate) dpop: bool,
    /// With back-channel logout on: this provider's back-channel logout route (the path, plus
    /// `/{slug}` when there are several) and `{BASE_URL}{path}`, to register at the provider.
    pub(crate) backchannel_logout: Option<ProviderRoute>,
}

/// One of a provider's routes: its path, and its URL (`BASE_URL` and the path).
#[derive(Debug, Clone)]
pub(crate) struct ProviderRoute {
    pub(crate) path: String,
    pub(crate) url: String,
}

/// What a bearer access token of one provider must say (`OIDC_API_AUDIENCE`).
#[derive(Debug, Clone)]
pub(crate) struct ApiConfig {
    /// The API's audience: the token's `aud` must contain it.
    pub(crate) audience: String,
    /// Whether the token's `typ` must be `at+jwt` (RFC 9068 section 2.1).
    pub(crate) require_at_jwt: bool,
    /// The longest an introspected opaque token is trusted without asking the provider again
    /// (`API_INTROSPECTION_CACHE`); never past the token's own `exp`.
    pub(crate) introspection_cache: std::time::Duration,
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

    /// The back-channel logout URI to register at this provider (its `backchannel_logout_uri`),
    /// when back-channel logout is on for it
    /// ([`OidcConfigBuilder::with_backchannel_logout`]).
    pub fn backchannel_logout_uri(&self) -> Option<&'a str> {
        self.config
            .backchannel_logout
            .as_ref()
            .map(|r| r.url.as_str())
    }

    /// The path that starts a login with this provider: `/auth/login/{slug}`.
    pub fn login_url(&self) -> String {
        format!("{}/{}", self.login_path, self.config.slug.as_str())
    }

    /// Whether users unknown to the login hook may enter (`OIDC_AUTO_PROVISION`).
    pub fn auto_provision(&self) -> bool {
        self.config.auto_provision
    }

    /// The audience of the app's API at this provider (`OIDC_API_AUDIENCE`), when bearer
    /// tokens are accepted from it.
    pub fn api_audience(&self) -> Option<&'a str> {
        self.config.api.as_ref().map(|a| a.audience.as_str())
    }

    /// This provider's role map (its own, or else the global one), if one is configured.
    pub fn role_map(&self) -> Option<&'a RoleMap> {
        self.config.policy.roles.as_deref()
    }
}

/// A validated configuration for [`OidcLayer`](crate::OidcLayer).
///
/// Build one with [`OidcConfig::builder`] or [`OidcConfig::from_env`]. Every layer built from
/// one configuration (or its clones) shares the in-process memories of logins and sessions (see
/// [`OidcLayer`](crate::OidcLayer) and
/// [`with_memory_capacity`](OidcConfigBuilder::with_memory_capacity)): build it once.
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
    /// `OIDC_COOKIE_KEYS_OLD`: keys that open cookies but seal none.
    pub(crate) old_cookie_keys: Vec<CookieKey>,
    pub(crate) leeway: Duration,
    pub(crate) session_lifetime: Duration,
    pub(crate) post_logout_redirect_uri: Option<Url>,
    pub(crate) jwks_refetch_cooldown: Duration,
    pub(crate) http_timeout: Duration,
    /// The extra root certificates and the https proxy.
    pub(crate) network: Network,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) providers_path: String,
    /// The back-channel logout route (each provider's is below it when there are several).
    pub(crate) backchannel_logout_path: String,
    pub(crate) auth_method: AuthMethod,
    pub(crate) local_session: Option<LocalSession>,
    pub(crate) local_login_url: Option<String>,
    pub(crate) require_session: bool,
    pub(crate) login_hook: Option<HookFn>,
    /// The app's look for the layer's HTML pages.
    pub(crate) page_hook: Option<PageHook>,
    /// Which configuration this is: made by `build`, kept by clones. The layers built from one
    /// configuration share their in-process memories through it.
    pub(crate) id: ConfigId,
    /// How many entries each in-process memory holds.
    pub(crate) memory_capacity: usize,
    /// Where bearer tokens are accepted (empty: every path but the layer's own routes).
    pub(crate) api_paths: Vec<String>,
    /// Whether API paths take bearer tokens only, no session cookie.
    pub(crate) bearer_only: bool,
    /// Whether any provider accepts bearer tokens (an API audience is set).
    pub(crate) accepts_bearer: bool,
    /// `OIDC_TRUSTED_PROXIES`: whose forwarding header names the client.
    pub(crate) trusted_proxies: TrustedProxies,
    /// `OIDC_LOGIN_RATE_LIMIT`, `None` when off.
    pub(crate) login_rate_limit: Option<LoginRateLimit>,
    /// `OIDC_SESSION_STORE`, its staleness and the idle timeout.
    pub(crate) session_store: SessionStoreConfig,
    /// `OIDC_REFRESH`, its margin and grace.
    pub(crate) refresh: RefreshConfig,
    /// Where the audit trail goes, if anywhere.
    pub(crate) audit_sink: Option<crate::audit::Sink>,
    /// `OIDC_JWKS_PATH`: where the client assertions' public keys are served, if anywhere.
    pub(crate) jwks_path: Option<String>,
}

/// The identity of one built [`OidcConfig`], shared by its clones: a number no other `build`
/// in this process returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ConfigId(u64);

impl ConfigId {
    pub(crate) fn next() -> Self {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        Self(NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
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
            .field("old_cookie_keys", &self.old_cookie_keys)
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
            .field("memory_capacity", &self.memory_capacity)
            .field("api_paths", &self.api_paths)
            .field("bearer_only", &self.bearer_only)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("login_rate_limit", &self.login_rate_limit)
            .field("session_store", &self.session_store)
            .field("jwks_path", &self.jwks_path)
            .field("refresh", &self.refresh)
            .finish_non_exhaustive()
    }
}

impl OidcConfig {
    /// Starts a builder with the defaults.
    pub fn builder() -> OidcConfigBuilder {
        OidcConfigBuilder::default()
    }

    /// The public keys of the providers' `private_key_jwt` clients, as a JWK Set (RFC 7517
    /// section 5) to register at the providers (or to serve at
    /// [`with_jwks_path`](OidcConfigBuilder::with_jwks_path)); `None` when no provider signs
    /// client assertions with a key. Only public keys: the JSON holds no private part.
    pub fn client_jwks(&self) -> Option<String> {
        let mut keys = self
            .providers
            .iter()
            .filter_map(|p| p.client_assertion.as_ref())
            .map(|a| &*a.key)
            .peekable();
        keys.peek()?;
        Some(client_assertion::jwks(keys))
    }

    /// The provider used when there is no choice to make: the first one configured (the
    /// unnumbered `OIDC_*` provider, or `OIDC_PROVIDER_1_*`). See
    /// [`providers`](Self::providers) for all of them.
    pub fn default_provider(&self) -> ConfiguredProvider<'_> {
        // `build` never makes a configuration without a provider.
        ConfiguredProvider {
            config: &self.providers[0],
            login_path: &self.login_path,
        }
    }

    /// The redirect URI to register at the identity provider, of the default provider
    /// ([`default_provider`](Self::default_provider)): `{BASE_URL}{callback path}`, plus
    /// `/{slug}` for numbered providers. See [`providers`](Self::providers) for each
    /// provider's.
    pub fn redirect_uri(&self) -> &str {
        &self.redirect_uri
    }

    /// The issuer of the default provider.
    #[deprecated(
        since = "0.2.0",
        note = "use `default_provider().issuer()`, or `providers()` for each provider's"
    )]
    pub fn issuer(&self) -> &IssuerUrl {
        self.default_provider().issuer()
    }

    /// The client id at the default provider.
    #[deprecated(
        since = "0.2.0",
        note = "use `default_provider().client_id()`, or `providers()` for each provider's"
    )]
    pub fn client_id(&self) -> &ClientId {
        self.default_provider().client_id()
    }

    /// The display name of the default provider (`OIDC_PROVIDER_NAME`).
    #[deprecated(
        since = "0.2.0",
        note = "use `default_provider().name()`, or `providers()` for each provider's"
    )]
    pub fn provider_name(&self) -> &str {
        self.default_provider().name()
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

    /// The role map of the default provider ([`default_provider`](Self::default_provider)),
    /// if one is configured. See [`providers`](Self::providers) for each provider's.
    pub fn role_map(&self) -> Option<&RoleMap> {
        self.default_provider().role_map()
    }

    /// Whether cookies are marked `Secure` and `__Host-` prefixed (`BASE_URL` is https).
    pub fn secure_cookies(&self) -> bool {
        self.secure_cookies
    }
}

/// Helpers for the unit tests of this module's files.
#[cfg(test)]
mod testing {
    pub(super) fn vars(
        pairs: &'static [(&'static str, &'static str)],
    ) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    pub(super) fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
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
        (
            "OIDC_COOKIE_KEY",
            "fB/9H++SndeCxWlngJEIlUojxVdz+73kd87wcaDY2NA=",
        ),
    ];

    pub(super) fn with_base(extra: Vec<(&'static str, String)>) -> impl Fn(&str) -> Option<String> {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_secrets() {
        let cfg = OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_client_secret("top-secret-value")
            .with_base_url("http://127.0.0.1:3000")
            .with_cookie_key("5pau+0DwyrlwbPFn9jXm9b9d45/4hOaNSs+xaM2VLLo=")
            .build()
            .unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("top-secret-value"), "{dbg}");
        assert!(!dbg.contains("5pau+0Dw"), "{dbg}");
        assert!(dbg.contains("[redacted]"));
        assert!(!cfg.secure_cookies());
    }

    #[test]
    fn the_default_provider_is_the_first_one() {
        let map = |role: &str| RoleMap::builder().add_rule("g", role).build().unwrap();
        let cfg = OidcConfig::builder()
            .with_base_url("https://app.example.com")
            .allow_random_cookie_key(true)
            .with_role_map(map("global_role"))
            .add_provider(
                crate::ProviderBuilder::new("first")
                    .with_name("First")
                    .with_issuer("https://first.example.com")
                    .with_client_id("app-1"),
            )
            .add_provider(
                crate::ProviderBuilder::new("second")
                    .with_issuer("https://second.example.com")
                    .with_client_id("app-2")
                    .with_role_map(map("own_role")),
            )
            .build()
            .unwrap();
        let first = cfg.default_provider();
        assert_eq!(first.slug(), "first");
        assert_eq!(first.name(), "First");
        assert_eq!(first.issuer().as_str(), "https://first.example.com");
        assert_eq!(first.client_id().as_str(), "app-1");
        assert_eq!(cfg.redirect_uri(), first.redirect_uri());
        assert_eq!(
            first.redirect_uri(),
            "https://app.example.com/auth/callback/first"
        );
        let role =
            |p: ConfiguredProvider<'_>| p.role_map().unwrap().rules()[0].role().as_str().to_owned();
        assert_eq!(role(first), "global_role", "inherited");
        assert_eq!(role(cfg.provider("second").unwrap()), "own_role");
        assert_eq!(
            cfg.role_map().unwrap().rules()[0].role().as_str(),
            "global_role"
        );
        #[allow(deprecated)]
        let old = (cfg.issuer(), cfg.client_id(), cfg.provider_name());
        assert_eq!(old, (first.issuer(), first.client_id(), first.name()));
    }
}
