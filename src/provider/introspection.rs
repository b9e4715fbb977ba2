//! The introspection endpoint (RFC 7662 section 2): the provider's word on an opaque access
//! token, asked as the client (its authentication as at the token endpoint,
//! [`super::client_auth`]), through the same client as every provider call (no redirects,
//! capped bodies).

use serde_json::{Map, Value};
use url::Url;

use super::discovery::Metadata;
use super::error::ProviderError;
use super::http::{read_limited, status_error};
use super::Provider;

impl Provider {
    /// The introspection answer for `token` at `endpoint`: a JSON object (its `active` and
    /// claims are checked by [`crate::introspected_token`]).
    pub(crate) async fn introspect(
        &self,
        metadata: &Metadata,
        endpoint: &Url,
        token: &str,
    ) -> Result<Map<String, Value>, ProviderError> {
        let form = vec![("token", token), ("token_type_hint", "access_token")];
        let request = self.http.post(endpoint.clone());
        let request = self
            .authenticate_client(metadata, request, form)
            .into_request()?;
        let response = self.http.send(request, "introspection endpoint").await?;
        let status = response.status();
        let bytes = read_limited(response, "introspection response").await?;
        if !status.is_success() {
            if status.is_client_error() {
                tracing::warn!(
                    target: "tower_oidc",
                    event = "introspection_refused",
                    provider = self.config.slug.as_str(),
                    status = status.as_u16(),
                    "the introspection endpoint refused this client: check its id, secret and \
                     authentication method, and that the provider lets it introspect",
                );
            }
            return Err(status_error("introspection endpoint", status));
        }
        serde_json::from_slice(&bytes).map_err(|_| {
            ProviderError::BadResponse("the introspection response is not a JSON object".into())
        })
    }
}
