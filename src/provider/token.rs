//! The token endpoint (code exchange, RFC 6749 section 4.1.3, with client authentication) and
//! the userinfo endpoint (OpenID Connect Core 5.3). The client authentication is
//! [`super::client_auth`]'s.

use std::fmt;

use serde::Deserialize;
use serde_json::{Map, Value};
use url::Url;

use super::discovery::Metadata;
use super::error::ProviderError;
use super::http::{read_limited, status_error};
use super::token_refusal::TokenRefusal;
use super::Provider;

/// What the token endpoint answered (RFC 6749 section 5.1). Debug never shows the tokens.
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub(crate) access_token: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    /// `Bearer` (any case, RFC 6750), or `DPoP` with DPoP on (RFC 9449); not a secret.
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) refresh_token: Option<String>,
    /// Seconds the access token lasts (RFC 6749 section 5.1): a number, or a numeric string as
    /// some providers send; anything else is as if absent.
    #[serde(default)]
    expires_in: Option<Value>,
}

impl TokenResponse {
    /// `expires_in` in seconds, when the provider sent a usable one.
    pub(crate) fn expires_in(&self) -> Option<u64> {
        match self.expires_in.as_ref()? {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "[redacted]"),
            )
            .field("id_token", &self.id_token.as_ref().map(|_| "[redacted]"))
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in())
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
        if let Some(resource) = &self.config.resource {
            form.push(("resource", resource.as_str()));
        }
        self.token_request(metadata, form, &[code, verifier], "code exchange", false)
            .await
    }

    /// Redeems a refresh token (RFC 6749 section 6) for new tokens.
    pub(crate) async fn refresh_tokens(
        &self,
        metadata: &Metadata,
        refresh_token: &str,
    ) -> Result<TokenResponse, ProviderError> {
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(resource) = &self.config.resource {
            form.push(("resource", resource.as_str()));
        }
        // A server error is a provider that cannot answer now: the session is served for the
        // grace, never ended over it.
        self.token_request(metadata, form, &[refresh_token], "refresh", true)
            .await
    }

    /// A form POST to the token endpoint, authenticated as the client; a refusal is read (its
    /// description cleaned of `hide` and the secret) and logged as refusing `what`; with
    /// `server_error_unreachable`, any 5xx counts as the provider unreachable.
    async fn token_request(
        &self,
        metadata: &Metadata,
        form: Vec<(&str, &str)>,
        hide: &[&str],
        what: &str,
        server_error_unreachable: bool,
    ) -> Result<TokenResponse, ProviderError> {
        let dpop = self.dpop_key(metadata);
        let mut retried = false;
        let (status, bytes, basic_with_encoded_secret) = loop {
            let mut request = self.http.post(metadata.token_endpoint.clone());
            if let Some(key) = dpop {
                let proof = self.dpop_proof(key, "POST", &metadata.token_endpoint, None);
                request = request.header(super::dpop::DPOP, proof);
            }
            let authenticated = self.authenticate_client(metadata, request, form.clone());
            let basic_with_encoded_secret = authenticated.basic_with_encoded_secret;
            let request = authenticated.into_request()?;
            let response = self.http.send(request, "token endpoint").await?;
            let status = response.status();
            let new_nonce = dpop.is_some() && self.remember_dpop_nonce(response.headers());
            let bytes = read_limited(response, "token response").await?;
            // RFC 9449 section 8: a 400 `use_dpop_nonce` with a nonce asks for one more try,
            // its proof carrying the nonce; only once, so that a provider cannot loop us.
            if new_nonce
                && !retried
                && status == http::StatusCode::BAD_REQUEST
                && asks_nonce(&bytes)
            {
                retried = true;
                continue;
            }
            break (status, bytes, basic_with_encoded_secret);
        };
        if status.is_client_error() {
            let secret = self
                .config
                .client_secret
                .as_ref()
                .map_or("", |s| s.expose());
            let mut hidden = hide.to_vec();
            hidden.push(secret);
            let refusal =
                TokenRefusal::read(status.as_u16(), &bytes, &hidden, basic_with_encoded_secret);
            tracing::warn!(
                target: "tower_oidc",
                event = "token_refused",
                provider = self.config.slug.as_str(),
                error = refusal.shown_code().as_str(),
                error_description = refusal.description.as_deref().unwrap_or(""),
                "the token endpoint refused the {what}",
            );
            return Err(ProviderError::Rejected(Box::new(refusal)));
        }
        if server_error_unreachable && status.is_server_error() {
            return Err(ProviderError::Unreachable(format!(
                "the token endpoint answered HTTP {}",
                status.as_u16()
            )));
        }
        if !status.is_success() {
            return Err(status_error("token endpoint", status));
        }
        serde_json::from_slice(&bytes)
            .map_err(|_| ProviderError::BadResponse("the token response is not valid JSON".into()))
    }

    /// Fetches the userinfo claims (OpenID Connect Core 5.3) with the access token: a JSON
    /// object, or a signed JWT (`application/jwt`, section 5.3.2) for the caller to verify.
    ///
    /// A DPoP-bound token (`dpop_bound`) goes as `Authorization: DPoP` with a proof naming
    /// it (`ath`); a 401 asking for a nonce is tried once more with it.
    pub(crate) async fn userinfo(
        &self,
        endpoint: &Url,
        access_token: &str,
        dpop_bound: bool,
    ) -> Result<Userinfo, ProviderError> {
        let mut retried = false;
        let response = loop {
            let request = self
                .http
                .get_request(endpoint.as_str())
                .header(http::header::ACCEPT, "application/json, application/jwt");
            let request = if dpop_bound {
                let key = crate::dpop::key();
                let proof = self.dpop_proof(key, "GET", endpoint, Some(access_token));
                request
                    .header(http::header::AUTHORIZATION, format!("DPoP {access_token}"))
                    .header(super::dpop::DPOP, proof)
            } else {
                request.bearer_auth(access_token)
            };
            let response = self.http.send(request, "userinfo endpoint").await?;
            let new_nonce = dpop_bound && self.remember_dpop_nonce(response.headers());
            if new_nonce
                && !retried
                && response.status() == http::StatusCode::UNAUTHORIZED
                && super::dpop::resource_wants_nonce(response.headers())
            {
                retried = true;
                continue;
            }
            break response;
        };
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
            let token = std::str::from_utf8(&bytes)
                .ok()
                .map(str::trim)
                .filter(|t| t.split('.').count() == 3)
                .ok_or_else(|| {
                    ProviderError::BadResponse(
                        "the userinfo response is application/jwt but not a signed JWT (an encrypted userinfo cannot be read: configure the client for signed or plain userinfo)".into(),
                    )
                })?;
            return Ok(Userinfo::Signed(token.to_owned()));
        }
        serde_json::from_slice(&bytes)
            .map(Userinfo::Claims)
            .map_err(|_| {
                ProviderError::BadResponse("the userinfo response is not a JSON object".into())
            })
    }
}

/// Whether a token endpoint's 400 says `use_dpop_nonce` (RFC 9449 section 8).
fn asks_nonce(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .is_some_and(|v| v.get("error").and_then(Value::as_str) == Some("use_dpop_nonce"))
}

/// What the userinfo endpoint answered.
pub(crate) enum Userinfo {
    /// A JSON object of claims (`application/json`).
    Claims(Map<String, Value>),
    /// A signed JWT (`application/jwt`), not yet verified.
    Signed(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_response_debug_redacts_the_tokens() {
        let r: TokenResponse =
            serde_json::from_str(r#"{"access_token":"AT-secret","id_token":"ID-secret","refresh_token":"RT-secret","expires_in":"30"}"#).unwrap();
        let shown = format!("{r:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert_eq!(r.expires_in(), Some(30));
    }
}
