//! Pushed authorization requests (RFC 9126): the authorization parameters POSTed, with the
//! client's authentication, to the provider's `pushed_authorization_request_endpoint`, which
//! answers the `request_uri` the browser is sent with.

use serde::Deserialize;
use url::Url;

use super::discovery::Metadata;
use super::error::ProviderError;
use super::http::{read_limited, status_error};
use super::Provider;

/// The provider's answer to a pushed request (RFC 9126 section 2.2); its `expires_in` is not
/// needed, the browser is sent on at once.
#[derive(Deserialize)]
struct Pushed {
    request_uri: String,
}

/// The longest `request_uri` accepted: it travels in the browser's URL.
const MAX_REQUEST_URI: usize = 2048;

impl Provider {
    /// Whether this login pushes its parameters: the configuration asks (`REQUIRE_PAR`) or the
    /// provider takes no other authorization request.
    pub(crate) fn pushes(&self, metadata: &Metadata) -> bool {
        self.config.require_par || metadata.par_required
    }

    /// Pushes `query` (the form-encoded authorization parameters) to `endpoint` and returns the
    /// `request_uri` to send the browser with. A refusal (4xx) is a bad response: the
    /// configuration or the registration is wrong, and the page says the provider refused.
    pub(crate) async fn push_authorization(
        &self,
        metadata: &Metadata,
        endpoint: &Url,
        query: &str,
    ) -> Result<String, ProviderError> {
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        // RFC 9126 section 2.1: the parameters of RFC 6749 section 4.1.1 as the body; the client
        // authenticates as at the token endpoint. `client_id` is in the parameters already.
        let form: Vec<(&str, &str)> = pairs
            .iter()
            .filter(|(k, _)| k != "client_id")
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let request = self.http.post(endpoint.clone());
        let mut authenticated = self.authenticate_client(metadata, request, form);
        if !authenticated.form.iter().any(|(k, _)| *k == "client_id") {
            // Basic authentication names the client in its header; oidc-provider, among
            // others, wants `client_id` in the body as well.
            authenticated
                .form
                .push(("client_id", self.config.client_id.as_str()));
        }
        let request = authenticated.into_request()?;
        let call = async {
            let response = self
                .http
                .send(request, "pushed authorization request endpoint")
                .await?;
            let status = response.status();
            let bytes = read_limited(response, "pushed authorization response").await?;
            if status.is_client_error() {
                let code = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(shown_code))
                    .unwrap_or_else(|| format!("HTTP {}", status.as_u16()));
                tracing::warn!(
                    target: "tower_oidc",
                    event = "par_refused",
                    provider = self.config.slug.as_str(),
                    error = code.as_str(),
                    "the pushed authorization request endpoint refused the login's parameters",
                );
                return Err(ProviderError::BadResponse(format!(
                    "the pushed authorization request was refused ({code})"
                )));
            }
            if !status.is_success() {
                return Err(status_error(
                    "pushed authorization request endpoint",
                    status,
                ));
            }
            let pushed: Pushed = serde_json::from_slice(&bytes).map_err(|_| {
                ProviderError::BadResponse(
                    "the pushed authorization response is not JSON with a request_uri".into(),
                )
            })?;
            if pushed.request_uri.is_empty()
                || pushed.request_uri.len() > MAX_REQUEST_URI
                || pushed.request_uri.chars().any(char::is_control)
            {
                return Err(ProviderError::BadResponse(
                    "the pushed authorization response's request_uri is unusable".into(),
                ));
            }
            Ok(pushed.request_uri)
        };
        crate::meter::provider_call(self.config.slug.as_str(), "par", call).await
    }
}

/// An OAuth error code as it may be shown: letters, digits and `_` only, at most 64 bytes.
fn shown_code(code: &str) -> String {
    if code.len() <= 64 && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        code.to_owned()
    } else {
        "unrecognised_error".to_owned()
    }
}
