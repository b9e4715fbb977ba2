//! The token endpoint (code exchange, RFC 6749 section 4.1.3, with client authentication) and
//! the userinfo endpoint (OpenID Connect Core 5.3).

use std::fmt;

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::discovery::Metadata;
use super::error::ProviderError;
use super::http::{read_limited, status_error};
use super::token_refusal::TokenRefusal;
use super::Provider;
use crate::config::TokenAuthMethod;

/// What the token endpoint answered (RFC 6749 section 5.1). Debug never shows the tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    /// `Bearer` (any case) is the only type we can use (RFC 6750); not a secret.
    #[serde(default)]
    pub(crate) token_type: Option<String>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field("token_type", &self.token_type)
            .finish()
    }
}

impl Provider {
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
        // Whether Basic authentication form-encoded the secret into something else (RFC 6749
        // section 2.3.1), which some providers do not decode: named when the client is refused.
        let mut basic_with_encoded_secret = false;
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
                let encoded_secret = enc(secret.expose());
                basic_with_encoded_secret = encoded_secret != secret.expose();
                let credentials =
                    format!("{}:{}", enc(self.config.client_id.as_str()), encoded_secret);
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
        let request = request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body);
        let response = self.http.send(request, "token endpoint").await?;
        let status = response.status();
        let bytes = read_limited(response, "token response").await?;
        if status.is_client_error() {
            let secret = self
                .config
                .client_secret
                .as_ref()
                .map_or("", |s| s.expose());
            let refusal = TokenRefusal::read(
                status.as_u16(),
                &bytes,
                &[code, verifier, secret],
                basic_with_encoded_secret,
            );
            tracing::warn!(
                target: "tower_oidc",
                event = "token_refused",
                provider = self.config.slug.as_str(),
                error = refusal.shown_code().as_str(),
                error_description = refusal.description.as_deref().unwrap_or(""),
                "the token endpoint refused the code exchange",
            );
            return Err(ProviderError::Rejected(Box::new(refusal)));
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
        let request = self
            .http
            .get_request(endpoint.as_str())
            .bearer_auth(access_token)
            .header(http::header::ACCEPT, "application/json");
        let response = self.http.send(request, "userinfo endpoint").await?;
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_debug_redacts_the_tokens() {
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"AT-secret","id_token":"ID-secret"}"#).unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
    }
}
