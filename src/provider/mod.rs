//! The identity provider: one [`Provider`] per configured provider, with its cached discovery
//! document and keys. Only this module talks HTTP to the provider.
//!
//! - [`http`]: the client (no redirects, timeouts, capped bodies);
//! - [`discovery`]: the metadata, fetched lazily and cached;
//! - [`jwks`]: the signing keys, cached, refetched (bounded) for an unknown `kid` or a failed
//!   signature;
//! - [`token`]: the code exchange and userinfo;
//! - [`dpop`]: DPoP proofs (RFC 9449) and the server's latest nonce;
//! - [`par`]: pushed authorization requests (RFC 9126);
//! - [`requirements`]: what the configuration requires against what discovery offers;
//! - [`client_auth`]: the client's authentication at the token and introspection endpoints;
//! - [`introspection`]: token introspection (RFC 7662), for opaque access tokens;
//! - [`token_refusal`]: the token endpoint's error answers, read into the fix they call for;
//! - [`error`]: what can go wrong.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use crate::clock::Clock;
use crate::config::{OidcConfig, ProviderConfig};

pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod dpop;
pub(crate) mod error;
pub(crate) mod http;
pub(crate) mod introspection;
pub(crate) mod jwks;
pub(crate) mod par;
pub(crate) mod parsed_key;
pub(crate) mod requirements;
pub(crate) mod revocation;
pub(crate) mod token;
pub(crate) mod token_refusal;

pub(crate) use discovery::Metadata;
pub(crate) use error::ProviderError;
pub(crate) use jwks::VerifyKey;
pub(crate) use token::{TokenResponse, Userinfo};

use self::http::HttpClient;

#[derive(Default)]
pub(super) struct Cache {
    pub(super) metadata: Option<(Arc<Metadata>, SystemTime)>,
    pub(super) failure: Option<(ProviderError, SystemTime)>,
    pub(super) keys: Option<(Arc<Vec<VerifyKey>>, SystemTime)>,
}

/// One identity provider, with its cached discovery document and keys.
pub(crate) struct Provider {
    pub(crate) config: ProviderConfig,
    /// `response_type`, `client_id`, `redirect_uri`, `scope` (and `resource`), form-encoded
    /// once.
    pub(crate) static_auth_query: String,
    pub(super) http: HttpClient,
    pub(super) clock: Arc<dyn Clock>,
    /// The refetch floor: the least time between two forced JWKS refetches.
    pub(super) jwks_cooldown: Duration,
    // Locks: `cache` is a std lock held only for reads and swaps, never across an await;
    // the async mutexes make fetches single-flight (the JWKS one also guards what bounds the
    // forced refetches).
    pub(super) cache: RwLock<Cache>,
    pub(super) discovery_flight: tokio::sync::Mutex<()>,
    pub(super) jwks_flight: tokio::sync::Mutex<jwks::Refetches>,
    pub(super) jwks_fetches: AtomicU64,
    /// The latest `DPoP-Nonce` the provider sent (std lock, never held across an await).
    pub(super) dpop_nonce: std::sync::Mutex<Option<String>>,
}

impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Provider")
            .field("issuer", &self.config.issuer)
            .field("slug", &self.config.slug)
            .finish_non_exhaustive()
    }
}

impl Provider {
    pub(crate) fn new(config: &ProviderConfig, global: &OidcConfig) -> Self {
        let http = HttpClient::new(global.http_timeout, &global.network);
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", config.client_id.as_str())
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &config.scope);
        if config.response_mode != crate::config::ResponseMode::Query {
            query.append_pair("response_mode", config.response_mode.as_str());
        }
        if let Some(resource) = &config.resource {
            query.append_pair("resource", resource);
        }
        let static_auth_query = query.finish();
        if config.dpop {
            // The key is made at startup, not at the first login.
            crate::dpop::key();
        }
        Self {
            config: config.clone(),
            static_auth_query,
            http,
            clock: global.clock.clone(),
            jwks_cooldown: global.jwks_refetch_cooldown,
            cache: RwLock::new(Cache::default()),
            discovery_flight: tokio::sync::Mutex::new(()),
            jwks_flight: tokio::sync::Mutex::new(jwks::Refetches::default()),
            jwks_fetches: AtomicU64::new(0),
            dpop_nonce: std::sync::Mutex::new(None),
        }
    }

    pub(super) fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn age(&self, at: SystemTime) -> Duration {
        self.clock
            .now()
            .duration_since(at)
            .unwrap_or(Duration::ZERO)
    }
}
