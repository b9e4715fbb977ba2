//! `OIDC_RESPONSE_MODE` (per provider `OIDC_PROVIDER_N_RESPONSE_MODE`, file key
//! `response_mode`): how the provider sends the authorization response back, its setters and
//! its validation.

use super::draft::ProviderBuilder;
use super::OidcConfigBuilder;

/// How the provider returns the authorization response to the callback route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseMode {
    /// In the callback's query (`response_mode=query`, the default of the code flow: OAuth 2.0
    /// Multiple Response Type Encoding Practices, section 2.1); nothing is sent.
    #[default]
    Query,
    /// As a form POSTed by the browser to the callback route (OAuth 2.0 Form Post Response
    /// Mode): the code never appears in a URL, the browser's history or a proxy's log. The
    /// callback then takes POST only, with the same `state`, `iss` and mix-up checks before
    /// any token request.
    ///
    /// # Security
    /// The POST comes from the provider's site, so the login cookie must be sent on a
    /// cross-site request: for this provider it alone is `SameSite=None; Secure`, which
    /// browsers accept on https only. On an http loopback `BASE_URL` (development) it is sent
    /// without a `SameSite` attribute instead (browsers send such a cookie on a cross-site
    /// top-level POST, Chromium within two minutes of setting it), and a provider on the same
    /// loopback host is same-site anyway. Use https everywhere else.
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` value.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::FormPost => "form_post",
        }
    }

    /// Reads a setting's value; `Err` holds it when it is neither.
    pub(crate) fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim() {
            "query" => Ok(Self::Query),
            "form_post" => Ok(Self::FormPost),
            other => Err(other.to_owned()),
        }
    }
}

/// The raw setting, validated: the default `query` when unset; `problem` names a value that is
/// neither mode.
pub(crate) fn validate(
    raw: Option<Result<ResponseMode, String>>,
    problem: impl FnOnce(String),
) -> ResponseMode {
    match raw {
        None => ResponseMode::Query,
        Some(Ok(mode)) => mode,
        Some(Err(raw)) => {
            problem(format!("`{raw}` is not `query` or `form_post`"));
            ResponseMode::Query
        }
    }
}

impl ProviderBuilder {
    /// How this provider returns the authorization response
    /// (`OIDC_PROVIDER_N_RESPONSE_MODE`: `query`, the default, or `form_post`); see
    /// [`ResponseMode::FormPost`].
    pub fn with_response_mode(mut self, mode: ResponseMode) -> Self {
        self.draft.response_mode = Some(Ok(mode));
        self
    }
}

impl OidcConfigBuilder {
    /// How the provider returns the authorization response (`OIDC_RESPONSE_MODE`: `query`, the
    /// default, or `form_post`); see [`ResponseMode::FormPost`] for what form_post needs.
    pub fn with_response_mode(mut self, mode: ResponseMode) -> Self {
        self.defaults.response_mode = Some(Ok(mode));
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_modes_and_names_anything_else() {
        assert_eq!(
            ResponseMode::parse(" form_post "),
            Ok(ResponseMode::FormPost)
        );
        assert_eq!(ResponseMode::parse("query"), Ok(ResponseMode::Query));
        let mut said = None;
        let mode = validate(Some(ResponseMode::parse("fragment")), |m| said = Some(m));
        assert_eq!(mode, ResponseMode::Query);
        assert_eq!(
            said.as_deref(),
            Some("`fragment` is not `query` or `form_post`")
        );
        assert_eq!(
            validate(None, |_| panic!("unset is fine")),
            ResponseMode::Query
        );
    }
}
