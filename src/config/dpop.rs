//! `OIDC_DPOP` (per provider `OIDC_PROVIDER_N_DPOP`, file key `dpop`): sender-constrained
//! tokens (RFC 9449) asked for by the configuration; its setters. Validated as a boolean
//! (default off) with the provider's other settings.
//!
//! Discovery decides what is possible: on, the token and userinfo calls carry a DPoP proof when
//! the provider's `dpop_signing_alg_values_supported` lists ES256; on, with a provider that does
//! not, the first discovery logs a warning naming the setting (and the doctor says so), and the
//! calls go without proofs.

use super::draft::ProviderBuilder;
use super::OidcConfigBuilder;

impl ProviderBuilder {
    /// Whether this provider's tokens are bound to the process's DPoP key
    /// (`OIDC_PROVIDER_N_DPOP`); see [`OidcConfigBuilder::dpop`].
    pub fn dpop(mut self, yes: bool) -> Self {
        self.draft.dpop = Some(Ok(yes));
        self
    }
}

impl OidcConfigBuilder {
    /// Whether the layer binds the provider's tokens to its own key (RFC 9449 DPoP; `OIDC_DPOP`,
    /// default `false`): the code exchange, the refresh and the userinfo call carry a proof
    /// signed with an ES256 key the process makes at startup, when the provider's discovery
    /// lists ES256 in `dpop_signing_alg_values_supported` (else a warning names this setting
    /// and the calls go without proofs). The provider then issues `token_type` `DPoP` access
    /// tokens; [`AccessToken::is_dpop_bound`](crate::AccessToken::is_dpop_bound) says so, and
    /// [`AccessToken::dpop_proof`](crate::AccessToken::dpop_proof) makes the proof for the
    /// app's own calls with it. Off, a `DPoP` token response is refused with a page saying so.
    ///
    /// # Security
    /// A stolen access or refresh token is useless without the key, which never leaves the
    /// process's memory (FAPI 2.0 Security Profile section 5.3.2.2).
    pub fn dpop(mut self, yes: bool) -> Self {
        self.defaults.dpop = Some(Ok(yes));
        self
    }
}
