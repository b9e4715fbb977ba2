//! `OIDC_REQUIRE_PAR` (per provider `OIDC_PROVIDER_N_REQUIRE_PAR`, file key `require_par`):
//! pushed authorization requests (RFC 9126) asked for by the configuration; its setters and its
//! validation.
//!
//! Discovery decides what is possible, the configuration what is required: the login pushes its
//! parameters when the provider's discovery says `require_pushed_authorization_requests`, or
//! when this is on; on, with a provider that has no `pushed_authorization_request_endpoint`,
//! logins fail with a page naming the setting (and the doctor says so).

use super::draft::ProviderBuilder;
use super::OidcConfigBuilder;

impl ProviderBuilder {
    /// Whether logins at this provider must push their parameters first
    /// (`OIDC_PROVIDER_N_REQUIRE_PAR`); see [`OidcConfigBuilder::require_par`].
    pub fn require_par(mut self, yes: bool) -> Self {
        self.draft.require_par = Some(Ok(yes));
        self
    }
}

impl OidcConfigBuilder {
    /// Whether every login pushes its authorization parameters to the provider first (RFC 9126
    /// pushed authorization requests; `OIDC_REQUIRE_PAR`, default `false`): the layer POSTs
    /// them, with the client's authentication, to the provider's
    /// `pushed_authorization_request_endpoint`, and the browser is sent with only `client_id`
    /// and the `request_uri` it answered. Off, a provider whose discovery document says
    /// `require_pushed_authorization_requests` gets pushed requests anyway.
    ///
    /// # Security
    /// The parameters never pass through the browser, so they cannot be read or changed there,
    /// and the provider knows the client before it shows a page (FAPI 2.0 Security Profile
    /// section 5.3.1).
    pub fn require_par(mut self, yes: bool) -> Self {
        self.defaults.require_par = Some(Ok(yes));
        self
    }
}
