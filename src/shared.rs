//! [`Shared`]: what the layer, its services and the flows share, built once per layer.

use std::fmt;
use std::sync::Arc;

use crate::bearer::TokenCache;
use crate::config::OidcConfig;
use crate::provider::Provider;
use crate::rate_limit::LoginLimiter;
use crate::session::Cookies;
use crate::store::ServerSessions;

/// What the layer and its services share: configuration, providers and cookie keys.
pub(crate) struct Shared {
    pub(crate) config: OidcConfig,
    pub(crate) providers: Vec<Provider>,
    pub(crate) cookies: Cookies,
    /// Bearer tokens already verified (empty unless an API audience is set).
    pub(crate) bearer: TokenCache,
    /// The login routes' rate limit, when on.
    pub(crate) login_limiter: Option<LoginLimiter>,
    /// The server-side sessions (`OIDC_SESSION_STORE` other than `cookie`), shared with every
    /// layer built from the same configuration.
    pub(crate) server: Option<Arc<ServerSessions>>,
}

impl Shared {
    pub(crate) fn new(config: OidcConfig) -> Self {
        // jsonwebtoken panics at first use when it cannot tell which crypto backend to use
        // (for example when another crate enables its other backend too); choose ours.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let providers = config
            .providers
            .iter()
            .map(|p| Provider::new(p, &config))
            .collect();
        let cookies = Cookies::new(&config);
        if let Some(jwks) = config.client_jwks() {
            tracing::info!(
                target: "tower_oidc",
                jwks = %jwks,
                "the client's public keys for private_key_jwt (register them at the provider as its jwks, or serve them at OIDC_JWKS_PATH): {jwks}"
            );
        }
        for p in &config.providers {
            tracing::info!(
                target: "tower_oidc",
                provider = p.slug.as_str(),
                issuer = p.issuer.as_str(),
                redirect_uri = %p.redirect_uri,
                "register this redirect URI at the identity provider",
            );
            if let Some(route) = &p.backchannel_logout {
                tracing::info!(
                    target: "tower_oidc",
                    provider = p.slug.as_str(),
                    backchannel_logout_uri = %route.url,
                    "register this back-channel logout URI at the identity provider",
                );
                if config.session_store.kind == crate::config::StoreKind::Cookie {
                    tracing::warn!(
                        target: "tower_oidc",
                        provider = p.slug.as_str(),
                        "back-channel logout with the cookie session store ends sessions in this process only: \
                         other replicas keep accepting them until they expire (the session lifetime)",
                    );
                }
            }
        }
        let bearer = TokenCache::new(if config.accepts_bearer {
            config.memory_capacity
        } else {
            0
        });
        let login_limiter = config
            .login_rate_limit
            .map(|rate| LoginLimiter::new(rate, config.clock.clone(), config.memory_capacity));
        let server = ServerSessions::of(&config);
        if server.is_some() {
            tracing::info!(target: "tower_oidc", store = ?config.session_store.kind, "sessions live in a server-side store; the cookie holds only their id");
        }
        Self {
            config,
            providers,
            cookies,
            bearer,
            login_limiter,
            server,
        }
    }

    pub(crate) fn default_provider(&self) -> &Provider {
        // `OidcConfigBuilder::build` always produces at least one provider.
        &self.providers[0]
    }

    /// The provider a login record or session names, matched by slug and issuer together.
    pub(crate) fn provider_for(&self, slug: &str, issuer: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.config.slug.as_str() == slug && p.config.issuer.as_str() == issuer)
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! A layer's shared state for unit tests: no I/O happens until a test asks the provider for
    //! something.

    use crate::config::OidcConfig;
    use crate::shared::Shared;

    pub(crate) const ISSUER: &str = "https://id.example.com";
    pub(crate) const CLIENT_ID: &str = "app";

    pub(crate) fn shared() -> Shared {
        shared_with(|b| b)
    }

    /// The single provider at [`ISSUER`], with `edit` applied to the builder.
    pub(crate) fn shared_with(
        edit: impl FnOnce(crate::OidcConfigBuilder) -> crate::OidcConfigBuilder,
    ) -> Shared {
        app(|b| {
            edit(
                b.with_issuer(ISSUER)
                    .with_client_id(CLIENT_ID)
                    .with_client_secret("secret"),
            )
        })
    }

    /// An app with only what `edit` configures for its providers.
    pub(crate) fn app(
        edit: impl FnOnce(crate::OidcConfigBuilder) -> crate::OidcConfigBuilder,
    ) -> Shared {
        let builder = OidcConfig::builder()
            .with_base_url("https://app.example.com")
            .with_cookie_key("RKJEyOXmtaPD+3YqgRuE7NZcxNWk9lGCiwlaIXWR5io=");
        Shared::new(edit(builder).build().expect("a valid test configuration"))
    }
}
