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
    /// Token introspection (RFC 7662, RFC 8414 section 2), for opaque access tokens.
    pub(crate) introspection_endpoint: Option<Url>,
    /// Token revocation (RFC 7009, RFC 8414 section 2): the logout revokes the refresh token.
    pub(crate) revocation_endpoint: Option<Url>,
    pub(crate) token_auth_methods: Vec<String>,
    pub(crate) iss_parameter_supported: bool,
    pub(crate) signing_algs: Vec<Algorithm>,
    /// `response_modes_supported`; `None` when not listed (then `query` and `fragment`).
    pub(crate) response_modes: Option<Vec<String>>,
    /// `token_endpoint_auth_signing_alg_values_supported`: the client assertion's algorithms.
    pub(crate) token_auth_signing_algs: Option<Vec<String>>,
    /// Pushed authorization requests (RFC 9126 section 5): the endpoint, and whether the
    /// provider takes no other authorization request.
    pub(crate) par_endpoint: Option<Url>,
    pub(crate) par_required: bool,
    /// `userinfo_signing_alg_values_supported`: a signed userinfo's algorithms.
    pub(crate) userinfo_signing_algs: Vec<Algorithm>,
    /// `dpop_signing_alg_values_supported` (RFC 9449 section 5.1): the DPoP proofs'
    /// algorithms; empty when the provider lists none.
    pub(crate) dpop_algs: Vec<String>,
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
    introspection_endpoint: Option<String>,
    #[serde(default)]
    revocation_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    response_modes_supported: Option<Vec<String>>,
    #[serde(default)]
    token_endpoint_auth_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    pushed_authorization_request_endpoint: Option<String>,
    #[serde(default)]
    require_pushed_authorization_requests: Option<bool>,
    #[serde(default)]
    userinfo_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    dpop_signing_alg_values_supported: Option<Vec<String>>,
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
                let first = {
                    let mut cache = self.write_cache();
                    let first = cache.metadata.is_none();
                    cache.metadata = Some((m.clone(), self.clock.now()));
                    cache.failure = None;
                    first
                };
                if first && m.end_session_endpoint.is_none() {
                    tracing::warn!(
                        target: "tower_oidc",
                        provider = self.config.slug.as_str(),
                        issuer = %self.config.issuer,
                        "the identity provider advertises no end_session_endpoint (OpenID Connect RP-Initiated Logout 1.0): \
                         logout ends the session in this app only, and users stay signed in at the provider. \
                         Enable RP-initiated logout at the provider if it offers it",
                    );
                }
                if first {
                    for mismatch in super::requirements::mismatches(&self.config, &m) {
                        tracing::warn!(
                            target: "tower_oidc",
                            provider = self.config.slug.as_str(),
                            setting = mismatch.key.as_str(),
                            blocks_login = mismatch.blocks_login,
                            "{} {}",
                            mismatch.key,
                            mismatch.message,
                        );
                    }
                }
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
        crate::meter::provider_call(self.config.slug.as_str(), "discovery", async {
            let url = self.config.issuer.discovery_url();
            let body = self.http.get(&url, "discovery document").await?;
            parse_metadata(&body, &self.config.issuer, &self.config.keys.key("ISSUER"))
        })
        .await
    }
}

/// Reads a discovery document for `issuer`: the issuer must match exactly (OpenID Connect
/// Discovery 1.0 section 4.3), every endpoint must be an https URL (http only for an http
/// issuer, which the configuration allows on loopback alone). `issuer_key` is the variable
/// that sets the issuer, named in the mismatch.
pub(crate) fn parse_metadata(
    body: &[u8],
    issuer: &IssuerUrl,
    issuer_key: &str,
) -> Result<Metadata, ProviderError> {
    let raw: RawMetadata = serde_json::from_slice(body).map_err(|e| {
        ProviderError::BadResponse(format!("the discovery document is not valid: {e}"))
    })?;
    if raw.issuer != issuer.as_str() {
        return Err(ProviderError::BadResponse(issuer_mismatch(
            &raw.issuer,
            issuer,
            issuer_key,
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
    let algorithms = |list: Option<Vec<String>>| {
        list.unwrap_or_default()
            .iter()
            .filter_map(|a| a.parse::<Algorithm>().ok())
            .collect()
    };
    let signing_algs = algorithms(raw.id_token_signing_alg_values_supported);
    Ok(Metadata {
        authorization_endpoint: endpoint("authorization_endpoint", &raw.authorization_endpoint)?,
        token_endpoint: endpoint("token_endpoint", &raw.token_endpoint)?,
        userinfo_endpoint: optional("userinfo_endpoint", raw.userinfo_endpoint)?,
        jwks_uri: endpoint("jwks_uri", &raw.jwks_uri)?,
        end_session_endpoint: optional("end_session_endpoint", raw.end_session_endpoint)?,
        introspection_endpoint: optional("introspection_endpoint", raw.introspection_endpoint)?,
        revocation_endpoint: optional("revocation_endpoint", raw.revocation_endpoint)?,
        token_auth_methods: raw
            .token_endpoint_auth_methods_supported
            .unwrap_or_else(|| vec!["client_secret_basic".into()]),
        iss_parameter_supported: raw
            .authorization_response_iss_parameter_supported
            .unwrap_or(false),
        signing_algs,
        response_modes: raw.response_modes_supported,
        token_auth_signing_algs: raw.token_endpoint_auth_signing_alg_values_supported,
        par_endpoint: optional(
            "pushed_authorization_request_endpoint",
            raw.pushed_authorization_request_endpoint,
        )?,
        par_required: raw.require_pushed_authorization_requests.unwrap_or(false),
        userinfo_signing_algs: algorithms(raw.userinfo_signing_alg_values_supported),
        dpop_algs: raw.dpop_signing_alg_values_supported.unwrap_or_default(),
    })
}

/// The discovery document names another issuer than ours: both values, and the fix when it is
/// only a trailing slash.
fn issuer_mismatch(named: &str, issuer: &IssuerUrl, issuer_key: &str) -> String {
    let mut message = issuer_mismatch_message(named, issuer, issuer_key);
    if let Some(fix) = issuer_fix(named, issuer, issuer_key) {
        message.push_str(&format!(" (they differ by a trailing slash): {fix}"));
    }
    message
}

/// What a mismatch of the discovery document's issuer `named` and ours says, without the fix.
pub(crate) fn issuer_mismatch_message(named: &str, issuer: &IssuerUrl, issuer_key: &str) -> String {
    format!(
        "the discovery document names issuer `{}` but {issuer_key} is `{issuer}`; they must match exactly",
        shown_issuer(named)
    )
}

/// The fix when the two issuers differ by a trailing slash only, the commonest slip (Authentik's
/// issuers end with `/`, Keycloak's do not): use the provider's value.
pub(crate) fn issuer_fix(named: &str, issuer: &IssuerUrl, issuer_key: &str) -> Option<String> {
    let named = shown_issuer(named);
    (named != issuer.as_str()
        && named.trim_end_matches('/') == issuer.as_str().trim_end_matches('/'))
    .then(|| format!("set {issuer_key} to `{named}`"))
}

/// A provider's issuer value, fit for a message: no control characters, at most 200 of them.
fn shown_issuer(named: &str) -> String {
    named
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect()
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
        let m = parse_metadata(doc(id, id).as_bytes(), &issuer(id), "OIDC_ISSUER_URL").unwrap();
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
        let err = parse_metadata(
            doc(id, id).as_bytes(),
            &issuer("https://id.example.com/"),
            "OIDC_PROVIDER_2_ISSUER",
        )
        .unwrap_err();
        let ProviderError::BadResponse(m) = err else {
            panic!("not a bad response: {err:?}");
        };
        assert!(m.contains("must match exactly"), "{m}");
        assert!(
            m.contains("but OIDC_PROVIDER_2_ISSUER is `https://id.example.com/`"),
            "the variable of the provider concerned: {m}"
        );
        assert!(
            m.ends_with("set OIDC_PROVIDER_2_ISSUER to `https://id.example.com`"),
            "{m}"
        );
        let other = parse_metadata(
            doc("https://other.example.com", id).as_bytes(),
            &issuer(id),
            "OIDC_ISSUER_URL",
        );
        assert!(
            matches!(other, Err(ProviderError::BadResponse(m)) if !m.contains("trailing slash")),
            "a different issuer is not a slip of a slash"
        );
    }

    #[test]
    fn endpoints_must_be_https_unless_the_issuer_is_http() {
        let id = "https://id.example.com";
        let key = "OIDC_ISSUER_URL";
        let err = parse_metadata(
            doc(id, "http://id.example.com").as_bytes(),
            &issuer(id),
            key,
        );
        assert!(
            matches!(err, Err(ProviderError::BadResponse(m)) if m.contains("must be an https URL"))
        );
        let local = "http://127.0.0.1:9000";
        assert!(parse_metadata(doc(local, local).as_bytes(), &issuer(local), key).is_ok());
        let junk = parse_metadata(b"<html>", &issuer(id), key);
        assert!(matches!(junk, Err(ProviderError::BadResponse(m)) if m.contains("not valid")));
    }
}
