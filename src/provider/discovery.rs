//! Discovery (OpenID Connect Discovery 1.0): the provider's metadata, fetched lazily and
//! cached, so the app starts while the provider is down; a failed fetch is retried by the next
//! login after a short pause, and the last good document is kept while the provider is away.

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde::Deserialize;
use url::Url;

use super::error::ProviderError;
use super::Provider;
use crate::config::IssuerUrl;

/// After a failed discovery, further logins fail fast for this long instead of piling up.
const DISCOVERY_RETRY_PAUSE: Duration = Duration::from_secs(2);
/// How long discovery metadata (and the JWKS) is trusted before it is fetched again (kept on
/// failure).
pub(crate) const DISCOVERY_TTL: Duration = Duration::from_secs(3600);

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

impl Provider {
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
        let body = self.http.get(&url, "discovery document").await?;
        parse_metadata(&body, &self.config.issuer)
    }
}

/// Reads a discovery document for `issuer`: the issuer must match exactly (OpenID Connect
/// Discovery 1.0 section 4.3), every endpoint must be an https URL (http only for an http
/// issuer, which the configuration allows on loopback alone).
pub(crate) fn parse_metadata(body: &[u8], issuer: &IssuerUrl) -> Result<Metadata, ProviderError> {
    let raw: RawMetadata = serde_json::from_slice(body).map_err(|e| {
        ProviderError::BadResponse(format!("the discovery document is not valid: {e}"))
    })?;
    if raw.issuer != issuer.as_str() {
        let named: String = raw.issuer.chars().take(200).collect();
        return Err(ProviderError::BadResponse(format!(
            "the discovery document names issuer `{named}` but OIDC_ISSUER_URL is `{issuer}`; they must match exactly"
        )));
    }
    let allow_http = issuer.as_str().starts_with("http://");
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
    let optional = |name: &str, raw: Option<String>| raw.map(|r| endpoint(name, &r)).transpose();
    let signing_algs = raw
        .id_token_signing_alg_values_supported
        .unwrap_or_default()
        .iter()
        .filter_map(|a| a.parse::<Algorithm>().ok())
        .collect();
    Ok(Metadata {
        authorization_endpoint: endpoint("authorization_endpoint", &raw.authorization_endpoint)?,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(s: &str) -> IssuerUrl {
        let config = crate::config::OidcConfig::builder()
            .with_issuer(s)
            .with_client_id("app")
            .with_base_url("http://127.0.0.1:3000")
            .insecure_allow_http_issuer(true)
            .build()
            .expect("a valid test configuration");
        config.providers[0].issuer.clone()
    }

    fn doc(issuer: &str, endpoint_base: &str) -> String {
        format!(
            r#"{{"issuer":"{issuer}","authorization_endpoint":"{endpoint_base}/auth",
                "token_endpoint":"{endpoint_base}/token","jwks_uri":"{endpoint_base}/jwks",
                "id_token_signing_alg_values_supported":["RS256","HS256","none","ES256"],
                "authorization_response_iss_parameter_supported":true}}"#
        )
    }

    #[test]
    fn reads_the_endpoints_and_defaults() {
        let id = "https://id.example.com";
        let m = parse_metadata(doc(id, id).as_bytes(), &issuer(id)).unwrap();
        assert_eq!(m.token_endpoint.as_str(), "https://id.example.com/token");
        assert_eq!(m.userinfo_endpoint, None);
        assert!(m.iss_parameter_supported);
        assert_eq!(
            m.token_auth_methods,
            ["client_secret_basic"],
            "RFC 8414's default"
        );
        // `none` is no algorithm at all; HS256 parses here and is refused by the ID token check.
        assert_eq!(
            m.signing_algs,
            [Algorithm::RS256, Algorithm::HS256, Algorithm::ES256]
        );
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        let id = "https://id.example.com";
        let err =
            parse_metadata(doc(id, id).as_bytes(), &issuer("https://id.example.com/")).unwrap_err();
        let ProviderError::BadResponse(m) = err else {
            panic!("not a bad response: {err:?}");
        };
        assert!(m.contains("must match exactly"), "{m}");
    }

    #[test]
    fn endpoints_must_be_https_unless_the_issuer_is_http() {
        let id = "https://id.example.com";
        let err = parse_metadata(doc(id, "http://id.example.com").as_bytes(), &issuer(id));
        assert!(
            matches!(err, Err(ProviderError::BadResponse(m)) if m.contains("must be an https URL"))
        );
        let local = "http://127.0.0.1:9000";
        assert!(parse_metadata(doc(local, local).as_bytes(), &issuer(local)).is_ok());
        let junk = parse_metadata(b"<html>", &issuer(id));
        assert!(matches!(junk, Err(ProviderError::BadResponse(m)) if m.contains("not valid")));
    }
}
