//! Client authentication at the provider's back-channel endpoints (the token endpoint, RFC 6749
//! section 2.3.1, and the introspection endpoint, RFC 7662 section 2.1): HTTP Basic or the
//! secret in the form, as configured or as the provider supports; or a signed client assertion
//! (RFC 7523 section 2.2, OpenID Connect Core 1.0 section 9): `private_key_jwt` with the
//! client's own key, `client_secret_jwt` with its secret.

use base64::Engine as _;
use jsonwebtoken::{EncodingKey, Header};
use serde::Serialize;

use super::discovery::Metadata;
use super::Provider;
use crate::config::{AssertionAudience, TokenAuthMethod};

/// How long a client assertion is valid: long enough for one request, short enough that a
/// leaked one is soon useless (RFC 7523 section 3 asks for a limit).
pub(crate) const ASSERTION_LIFETIME_SECS: u64 = 60;

/// `client_assertion_type` for a JWT (RFC 7523 section 2.2).
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The claims of a client assertion (RFC 7523 section 3).
#[derive(Serialize)]
struct AssertionClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    jti: String,
    iat: u64,
    exp: u64,
}

/// A form request authenticated as the client.
pub(crate) struct Authenticated<'a> {
    pub(crate) request: reqwest::RequestBuilder,
    pub(crate) form: Vec<(&'a str, &'a str)>,
    /// The signed client assertion, sent in the form beside `client_assertion_type`.
    pub(crate) assertion: Option<String>,
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
        if let Some(assertion) = self.client_assertion(metadata) {
            form.push(("client_id", self.config.client_id.as_str()));
            form.push(("client_assertion_type", JWT_BEARER));
            return Authenticated {
                request,
                form,
                assertion: Some(assertion),
                basic_with_encoded_secret,
            };
        }
        let supports = |m: &str| metadata.token_auth_methods.iter().any(|x| x == m);
        let basic = match self.config.token_auth {
            TokenAuthMethod::ClientSecretBasic => true,
            TokenAuthMethod::ClientSecretPost => false,
            // Without a key (or a secret for client_secret_jwt), which `validate` refuses.
            TokenAuthMethod::PrivateKeyJwt | TokenAuthMethod::ClientSecretJwt => false,
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
            assertion: None,
            basic_with_encoded_secret,
        }
    }

    /// A fresh client assertion when the client authenticates with one: `iss` and `sub` the
    /// client id, `aud` the token endpoint (or the issuer, as configured), a random `jti`
    /// (each assertion is used once: RFC 7523 section 3 point 7), `exp` a minute away.
    fn client_assertion(&self, metadata: &Metadata) -> Option<String> {
        let config = &self.config;
        let (key, alg, kid, audience) = match (config.token_auth, &config.client_assertion) {
            (TokenAuthMethod::PrivateKeyJwt, Some(assertion)) => (
                &assertion.key.key,
                assertion.key.alg,
                Some(assertion.key.kid.clone()),
                assertion.audience,
            ),
            (TokenAuthMethod::ClientSecretJwt, _) => {
                let secret = config.client_secret.as_ref()?;
                let key = EncodingKey::from_secret(secret.expose().as_bytes());
                let audience = config
                    .client_assertion
                    .as_ref()
                    .map_or(AssertionAudience::TokenEndpoint, |a| a.audience);
                return sign(
                    self,
                    metadata,
                    &key,
                    Header::new(jsonwebtoken::Algorithm::HS256),
                    audience,
                );
            }
            _ => return None,
        };
        let mut header = Header::new(alg);
        header.kid = kid;
        sign(self, metadata, key, header, audience)
    }
}

/// Signs one assertion of `provider`'s client.
fn sign(
    provider: &Provider,
    metadata: &Metadata,
    key: &EncodingKey,
    header: Header,
    audience: AssertionAudience,
) -> Option<String> {
    let client_id = provider.config.client_id.as_str();
    let now = provider.clock.unix_seconds();
    let aud = match audience {
        AssertionAudience::Issuer => provider.config.issuer.as_str(),
        _ => metadata.token_endpoint.as_str(),
    };
    let claims = AssertionClaims {
        iss: client_id,
        sub: client_id,
        aud,
        jti: crate::random::random_token(24),
        iat: now,
        exp: now + ASSERTION_LIFETIME_SECS,
    };
    // The key signed a test assertion at startup; a failure now is logged, and the request
    // goes without an assertion, so the provider refuses it with invalid_client.
    jsonwebtoken::encode(&header, &claims, key)
        .map_err(|e| tracing::error!(target: "tower_oidc", error = %e, "the client assertion could not be signed"))
        .ok()
}

impl Authenticated<'_> {
    /// The request with its form as the body, asking for JSON.
    pub(crate) fn into_request(self) -> Result<reqwest::RequestBuilder, super::ProviderError> {
        let mut form = self.form;
        if let Some(assertion) = &self.assertion {
            form.push(("client_assertion", assertion));
        }
        let body = serde_urlencoded::to_string(&form).map_err(|_| {
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
