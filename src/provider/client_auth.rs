//! Client authentication at the provider's back-channel endpoints (the token endpoint, RFC 6749
//! section 2.3.1, and the introspection endpoint, RFC 7662 section 2.1): HTTP Basic or the
//! secret in the form, as configured or as the provider supports.

use base64::Engine as _;

use super::discovery::Metadata;
use super::Provider;
use crate::config::TokenAuthMethod;

/// A form request authenticated as the client.
pub(crate) struct Authenticated<'a> {
    pub(crate) request: reqwest::RequestBuilder,
    pub(crate) form: Vec<(&'a str, &'a str)>,
    /// Whether Basic authentication form-encoded the secret into something else (RFC 6749
    /// section 2.3.1), which some providers do not decode: named when the client is refused.
    pub(crate) basic_with_encoded_secret: bool,
}

impl Provider {
    /// Adds the client's credentials to `request` and `form`: Basic when configured, or (by
    /// default) when the provider supports it or names neither; the secret in the form
    /// otherwise; a client without a secret sends its id only.
    pub(crate) fn authenticate_client<'a>(
        &'a self,
        metadata: &Metadata,
        mut request: reqwest::RequestBuilder,
        mut form: Vec<(&'a str, &'a str)>,
    ) -> Authenticated<'a> {
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
        Authenticated {
            request,
            form,
            basic_with_encoded_secret,
        }
    }
}

impl Authenticated<'_> {
    /// The request with its form as the body, asking for JSON.
    pub(crate) fn into_request(self) -> Result<reqwest::RequestBuilder, super::ProviderError> {
        let body = serde_urlencoded::to_string(&self.form).map_err(|_| {
            super::ProviderError::BadResponse("could not encode the request's form".into())
        })?;
        Ok(self
            .request
            .header(
                http::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(http::header::ACCEPT, "application/json")
            .body(body))
    }
}
