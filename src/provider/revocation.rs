//! The revocation endpoint (RFC 7009): the logout hands the session's refresh token back to
//! the provider, authenticated as the client ([`super::client_auth`]).

use url::Url;

use super::discovery::Metadata;
use super::error::ProviderError;
use super::http::{read_limited, status_error};
use super::Provider;

impl Provider {
    /// Revokes `token` at `endpoint` (RFC 7009 section 2.1), its kind named by `hint`
    /// (`refresh_token` or `access_token`). 200 is success, whether or not the provider knew
    /// the token (section 2.2).
    pub(crate) async fn revoke(
        &self,
        metadata: &Metadata,
        endpoint: &Url,
        token: &str,
        hint: &str,
    ) -> Result<(), ProviderError> {
        let form = vec![("token", token), ("token_type_hint", hint)];
        let request = self.http.post(endpoint.clone());
        let request = self
            .authenticate_client(metadata, request, form)
            .into_request()?;
        let response = self.http.send(request, "revocation endpoint").await?;
        let status = response.status();
        // The body says nothing we use; read (capped) so the connection can be reused.
        let _ = read_limited(response, "revocation response").await;
        if status.is_success() {
            Ok(())
        } else {
            Err(status_error("revocation endpoint", status))
        }
    }
}
