//! The identity provider: discovery, the JWKS cache, code exchange and userinfo.
//!
//! This is the only file that talks HTTP to the provider. Its client follows no redirects
//! (a redirect from discovery or the token endpoint could otherwise point us anywhere: SSRF),
//! has connect and total timeouts, and reads at most 1 MiB of any response.
//!
//! Discovery is fetched lazily and cached, so the app starts while the provider is down; a
//! failed fetch is retried by the next login after a short pause. The JWKS is cached too and
//! refetched once when a token names an unknown `kid`: single-flight (one fetch however many
//! logins wait) and at most once per cooldown.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use crate::clock::Clock;
use crate::config::{OidcConfig, ProviderConfig, TokenAuthMethod};

/// The most bytes read from any response of the provider.
const MAX_BODY: usize = 1024 * 1024;
/// After a failed discovery, further logins fail fast for this long instead of piling up.
const DISCOVERY_RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How long discovery metadata is trusted before it is fetched again (kept on failure).
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

/// A failure talking to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProviderError {
    /// Connection refused, DNS failure or timeout.
    Unreachable(String),
    /// The provider answered, but not with something usable.
    BadResponse(String),
    /// The token endpoint refused the request with an OAuth error code.
    Rejected(String),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(m) => write!(f, "identity provider unreachable: {m}"),
            Self::BadResponse(m) => write!(f, "bad response from identity provider: {m}"),
            Self::Rejected(code) => write!(f, "identity provider refused the request: {code}"),
        }
    }
}

/// The parts of the discovery document we use (OpenID Connect Discovery 1.0 section 3).
#[derive(Debug, Clone)]
pub(crate) struct Metadata {
    pub(crate) authorization_endpoint: Url,
    pub(crate) token_endpoint: Url,
    pub(crate) userinfo_endpoint: Option<Url>,
    pub(crate) jwks_uri: Url,
    pub(crate) end_session_endpoint: Option<Url>,
    pub(crate) token_auth_methods: Vec<String>,
    pub(crate) iss_parameter_supported: bool,
    pub(crate) signing_algs: Vec<Algorithm>,
}

#[derive(Deserialize)]
struct RawMetadata {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    jwks_uri: String,
    #[serde(default)]
    end_session_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
}

/// A verification key from the JWKS.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<Algorithm>,
    pub(crate) family: AlgorithmFamily,
    pub(crate) key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// What the token endpoint answered (RFC 6749 section 5.1). Debug never shows the tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[derive(Default)]
struct Cache {
    metadata: Option<(Arc<Metadata>, SystemTime)>,
    failure: Option<(ProviderError, SystemTime)>,
    keys: Option<(Arc<Vec<VerifyKey>>, SystemTime)>,
}

/// One identity provider, with its cached discovery document and keys.
pub(crate) struct Provider {
    pub(crate) config: ProviderConfig,
    /// `response_type`, `client_id`, `redirect_uri` and `scope`, form-encoded once.
    pub(crate) static_auth_query: String,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    jwks_cooldown: Duration,
    // Locks: `cache` is a std lock held only for reads and swaps, never across an await;
    // the async mutexes make fetches single-flight.
    cache: RwLock<Cache>,
    discovery_flight: tokio::sync::Mutex<()>,
    jwks_flight: tokio::sync::Mutex<()>,
    jwks_fetches: AtomicU64,
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
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(global.http_timeout.min(Duration::from_secs(5)))
            .timeout(global.http_timeout)
            .user_agent(concat!("tower-oidc/", env!("CARGO_PKG_VERSION")))
            .build()
            // Building fails only when the TLS backend cannot initialise, which is a broken
            // installation rather than a configuration the user can change.
            .expect("the HTTP client's TLS backend failed to initialise");
        let static_auth_query = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", config.client_id.as_str())
            .append_pair("redirect_uri", &config.redirect_uri)
            .append_pair("scope", &config.scope)
            .finish();
        Self {
            config: config.clone(),
            static_auth_query,
            http,
            clock: global.clock.clone(),
            jwks_cooldown: global.jwks_refetch_cooldown,
            cache: RwLock::new(Cache::default()),
            discovery_flight: tokio::sync::Mutex::new(()),
            jwks_flight: tokio::sync::Mutex::new(()),
            jwks_fetches: AtomicU64::new(0),
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, Cache> {
        self.cache.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write_cache(&self) -> std::sync::RwLockWriteGuard<'_, Cache> {
        self.cache.write().unwrap_or_else(|p| p.into_inner())
    }

    fn age(&self, at: SystemTime) -> Duration {
        self.clock
            .now()
            .duration_since(at)
            .unwrap_or(Duration::ZERO)
    }

    /// How many times the JWKS has been fetched (for diagnostics and tests).
    pub(crate) fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// The discovery metadata if it is cached, without I/O.
    pub(crate) fn cached_metadata(&self) -> Option<Arc<Metadata>> {
        self.read_cache().metadata.as_ref().map(|(m, _)| m.clone())
    }

    fn fresh_metadata(&self) -> Option<Arc<Metadata>> {
        let cache = self.read_cache();
        let (m, at) = cache.metadata.as_ref()?;
        (self.age(*at) < DISCOVERY_TTL).then(|| m.clone())
    }

    /// The discovery metadata, fetched on first use and cached.
    pub(crate) async fn metadata(&self) -> Result<Arc<Metadata>, ProviderError> {
        if let Some(m) = self.fresh_metadata() {
            return Ok(m);
        }
        let _flight = self.discovery_flight.lock().await;
        if let Some(m) = self.fresh_metadata() {
            return Ok(m);
        }
        if let Some((err, at)) = self.read_cache().failure.clone() {
            if self.age(at) < DISCOVERY_RETRY_PAUSE {
                // Keep serving the last good document while the provider is away.
                return self.cached_metadata().ok_or(err);
            }
        }
        match self.fetch_metadata().await {
            Ok(m) => {
                let m = Arc::new(m);
                let mut cache = self.write_cache();
                cache.metadata = Some((m.clone(), self.clock.now()));
                cache.failure = None;
                Ok(m)
            }
            Err(err) => {
                tracing::warn!(target: "tower_oidc", issuer = %self.config.issuer, error = %err, "discovery failed");
                let mut cache = self.write_cache();
                cache.failure = Some((err.clone(), self.clock.now()));
                match &cache.metadata {
                    // Keep serving the last good document while the provider is away.
                    Some((m, _)) => Ok(m.clone()),
                    None => Err(err),
                }
            }
        }
    }

    async fn fetch_metadata(&self) -> Result<Metadata, ProviderError> {
        let url = self.config.issuer.discovery_url();
        let body = self.get(&url, "discovery document").await?;
        let raw: RawMetadata = serde_json::from_slice(&body).map_err(|e| {
            ProviderError::BadResponse(format!("the discovery document is not valid: {e}"))
        })?;
        if raw.issuer != self.config.issuer.as_str() {
            return Err(ProviderError::BadResponse(format!(
                "the discovery document names issuer `{}` but OIDC_ISSUER_URL is `{}`; they must match exactly",
                raw.issuer.chars().take(200).collect::<String>(),
                self.config.issuer
            )));
        }
        let allow_http = self.config.issuer.as_str().starts_with("http://");
        let endpoint = |name: &str, raw: &str| -> Result<Url, ProviderError> {
            let url = Url::parse(raw).map_err(|_| {
                ProviderError::BadResponse(format!("the discovery document's {name} is not a URL"))
            })?;
            match url.scheme() {
                "https" => Ok(url),
                "http" if allow_http => Ok(url),
                _ => Err(ProviderError::BadResponse(format!(
                    "the discovery document's {name} must be an https URL"
                ))),
            }
        };
        let optional =
            |name: &str, raw: Option<String>| raw.map(|r| endpoint(name, &r)).transpose();
        let signing_algs = raw
            .id_token_signing_alg_values_supported
            .unwrap_or_default()
            .iter()
            .filter_map(|a| a.parse::<Algorithm>().ok())
            .collect();
        Ok(Metadata {
            authorization_endpoint: endpoint(
                "authorization_endpoint",
                &raw.authorization_endpoint,
            )?,
            token_endpoint: endpoint("token_endpoint", &raw.token_endpoint)?,
            userinfo_endpoint: optional("userinfo_endpoint", raw.userinfo_endpoint)?,
            jwks_uri: endpoint("jwks_uri", &raw.jwks_uri)?,
            end_session_endpoint: optional("end_session_endpoint", raw.end_session_endpoint)?,
            token_auth_methods: raw
                .token_endpoint_auth_methods_supported
                .unwrap_or_else(|| vec!["client_secret_basic".into()]),
            iss_parameter_supported: raw
                .authorization_response_iss_parameter_supported
                .unwrap_or(false),
            signing_algs,
        })
    }

    /// The cached keys: fetched if there are none yet, and again once they are older than the
    /// discovery TTL, so keys the provider withdrew stop being trusted (on failure the old keys
    /// stay in use).
    pub(crate) async fn keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        if let Some((keys, at)) = &self.read_cache().keys {
            if self.age(*at) < DISCOVERY_TTL {
                return Ok(keys.clone());
            }
        }
        self.refresh_keys(None).await
    }

    /// Fetches the JWKS. With `seen`, because a token named a key we do not have: single-flight
    /// (if another task refreshed since `seen` was read, its result is used) and rate-limited
    /// (within the cooldown of the last fetch, the cached keys are returned unchanged). Without
    /// `seen`, because there are no keys yet or they are stale.
    pub(crate) async fn refresh_keys(
        &self,
        seen: Option<&Arc<Vec<VerifyKey>>>,
    ) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let _flight = self.jwks_flight.lock().await;
        let cached = self.read_cache().keys.clone();
        if let Some((keys, at)) = &cached {
            let skip = match seen {
                None => self.age(*at) < DISCOVERY_TTL,
                Some(s) => !Arc::ptr_eq(s, keys) || self.age(*at) < self.jwks_cooldown,
            };
            if skip {
                return Ok(keys.clone());
            }
        }
        let fetched = self.fetch_keys().await;
        match (fetched, cached) {
            (Ok(keys), _) => Ok(keys),
            // A stale set is better than none while the provider is away.
            (Err(_), Some((keys, _))) if seen.is_none() => Ok(keys),
            (Err(err), _) => Err(err),
        }
    }

    async fn fetch_keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let metadata = self.metadata().await?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.get(metadata.jwks_uri.as_str(), "JWKS").await?;
        let keys = Arc::new(parse_jwks(&body)?);
        tracing::debug!(target: "tower_oidc", issuer = %self.config.issuer, keys = keys.len(), "fetched JWKS");
        self.write_cache().keys = Some((keys.clone(), self.clock.now()));
        Ok(keys)
    }

    /// Redeems an authorization code (RFC 6749 section 4.1.3) with the PKCE verifier.
    pub(crate) async fn exchange_code(
        &self,
        metadata: &Metadata,
        code: &str,
        verifier: &str,
        redirect_uri: &str,
    ) -> Result<TokenResponse, ProviderError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("code_verifier", verifier),
        ];
        let mut request = self.http.post(metadata.token_endpoint.clone());
        let supports = |m: &str| metadata.token_auth_methods.iter().any(|x| x == m);
        let basic = match self.config.token_auth {
            TokenAuthMethod::ClientSecretBasic => true,
            TokenAuthMethod::ClientSecretPost => false,
            // RFC 6749 section 2.3.1: basic is the one method every server must support;
            // post only when the provider does not offer basic.
            _ => supports("client_secret_basic") || !supports("client_secret_post"),
        };
        match &self.config.client_secret {
            Some(secret) if basic => {
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let credentials = format!(
                    "{}:{}",
                    enc(self.config.client_id.as_str()),
                    enc(secret.expose())
                );
                let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
                request = request.header(http::header::AUTHORIZATION, format!("Basic {encoded}"));
            }
            Some(secret) => {
                form.push(("client_id", self.config.client_id.as_str()));
                form.push(("client_secret", secret.expose()));
            }
            None => form.push(("client_id", self.config.client_id.as_str())),
        }
        let body = serde_urlencoded::to_string(&form)
            .map_err(|_| ProviderError::BadResponse("could not encode the token request".into()))?;
        let response = request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| classify(&e, "token endpoint"))?;
        let status = response.status();
        let bytes = read_limited(response, "token response").await?;
        if status.is_client_error() {
            #[derive(Deserialize)]
            struct OAuthError {
                error: String,
            }
            let code = serde_json::from_slice::<OAuthError>(&bytes)
                .map(|e| safe_code(&e.error))
                .unwrap_or_else(|_| format!("HTTP {}", status.as_u16()));
            return Err(ProviderError::Rejected(code));
        }
        if !status.is_success() {
            return Err(status_error("token endpoint", status));
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| ProviderError::BadResponse("the token response is not valid JSON".into()))
    }

    /// Fetches the userinfo claims (OpenID Connect Core 5.3) with the access token.
    pub(crate) async fn userinfo(
        &self,
        endpoint: &Url,
        access_token: &str,
    ) -> Result<Map<String, Value>, ProviderError> {
        let response = self
            .http
            .get(endpoint.clone())
            .bearer_auth(access_token)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify(&e, "userinfo endpoint"))?;
        let status = response.status();
        let is_jwt = response
            .headers()
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/jwt"));
        let bytes = read_limited(response, "userinfo response").await?;
        if !status.is_success() {
            return Err(status_error("userinfo endpoint", status));
        }
        if is_jwt {
            return Err(ProviderError::BadResponse(
                "signed userinfo responses (application/jwt) are not supported; configure the client for JSON userinfo".into(),
            ));
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            ProviderError::BadResponse("the userinfo response is not a JSON object".into())
        })
    }

    async fn get(&self, url: &str, what: &str) -> Result<bytes::Bytes, ProviderError> {
        let response = self
            .http
            .get(url)
            .header(http::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| classify(&e, what))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(ProviderError::BadResponse(format!(
                "the {what} answered with a redirect (HTTP {}), which is not followed",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(status_error(what, status));
        }
        read_limited(response, what).await
    }
}

/// An unsuccessful status from the provider. 502, 503 and 504 say that the provider (or the
/// proxy in front of it) is down for now, like a refused connection: the user gets the 503 page
/// with `Retry-After`. Anything else is a broken answer: 502.
fn status_error(what: &str, status: http::StatusCode) -> ProviderError {
    let code = status.as_u16();
    if matches!(code, 502..=504) {
        ProviderError::Unreachable(format!(
            "{what}: answered HTTP {code}, temporarily unavailable"
        ))
    } else {
        ProviderError::BadResponse(format!("the {what} answered HTTP {code}"))
    }
}

fn classify(err: &reqwest::Error, what: &str) -> ProviderError {
    if err.is_connect() || err.is_timeout() || err.is_request() {
        let why = if err.is_timeout() {
            "timed out"
        } else {
            "could not connect"
        };
        ProviderError::Unreachable(format!("{what}: {why}"))
    } else {
        ProviderError::BadResponse(format!("{what}: the response could not be read"))
    }
}

async fn read_limited(
    mut response: reqwest::Response,
    what: &str,
) -> Result<bytes::Bytes, ProviderError> {
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BODY as u64)
    {
        return Err(ProviderError::BadResponse(format!(
            "the {what} is larger than 1 MiB"
        )));
    }
    let mut body = bytes::BytesMut::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| classify(&e, what))? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(ProviderError::BadResponse(format!(
                "the {what} is larger than 1 MiB"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// An OAuth error code is echoed in pages and logs only if it looks like one (RFC 6749 5.2:
/// printable ASCII without quotes or backslash), and never longer than 64 characters.
fn safe_code(code: &str) -> String {
    if !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        code.to_owned()
    } else {
        "unrecognised error".into()
    }
}

/// Parses a JWKS, keeping the signature keys we can use and skipping the rest: symmetric keys
/// (a public JWKS must never yield an HMAC secret), encryption keys and unknown key types.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyKey>, ProviderError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<Value>,
    }
    let set: RawSet = serde_json::from_slice(body).map_err(|_| {
        ProviderError::BadResponse("the JWKS is not a JSON object with `keys`".into())
    })?;
    let keys: Vec<VerifyKey> = set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|jwk| {
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
                AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
                AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
                _ => return None,
            };
            let alg = match jwk.common.key_algorithm {
                None => None,
                Some(a) => Some(signing_alg(a)?),
            };
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(VerifyKey {
                kid: jwk.common.key_id.clone(),
                alg,
                family,
                key,
            })
        })
        .collect();
    if keys.is_empty() {
        return Err(ProviderError::BadResponse(
            "the JWKS holds no usable signature key".into(),
        ));
    }
    Ok(keys)
}

fn signing_alg(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}
