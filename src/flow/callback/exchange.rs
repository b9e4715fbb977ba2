//! Step 3: the code, redeemed at the token endpoint with the PKCE verifier; the answer must
//! hold an ID token. A refusal names what to fix (`provider/token_refusal.rs`).

use std::fmt;

use crate::error::{AuthError, AuthErrorKind};
use crate::provider::{Metadata, Provider, ProviderError, TokenResponse};
use crate::session::LoginRecord;

/// The tokens of a redeemed code. Debug never shows them.
pub(crate) struct Tokens {
    pub(crate) id_token: String,
    pub(crate) access_token: Option<String>,
}

impl fmt::Debug for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Tokens([redacted])")
    }
}

/// Redeems `code` for the login in `record`.
pub(crate) async fn redeem(
    provider: &Provider,
    metadata: &Metadata,
    code: &str,
    record: &LoginRecord,
) -> Result<Tokens, AuthError> {
    let response = provider
        .exchange_code(
            metadata,
            code,
            &record.verifier,
            &provider.config.redirect_uri,
        )
        .await
        .map_err(|e| match e {
            // Each refusal names the settings of this provider to fix.
            ProviderError::Rejected(refusal) => refusal.to_auth_error(&provider.config),
            other => other.to_auth_error(),
        })?;
    tokens(response)
}

/// The tokens of a token response; one without an ID token is refused.
fn tokens(response: TokenResponse) -> Result<Tokens, AuthError> {
    let id_token = response.id_token.ok_or_else(|| {
        AuthError::new(AuthErrorKind::BadProviderResponse, "The identity provider's token response has no id_token; is the `openid` scope allowed for this client?")
    })?;
    Ok(Tokens {
        id_token,
        access_token: response.access_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_response_needs_an_id_token() {
        let response: TokenResponse =
            serde_json::from_str(r#"{"access_token":"at","token_type":"Bearer"}"#).unwrap();
        let err = tokens(response).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::BadProviderResponse);
        assert!(err.reason().contains("`openid` scope"), "{}", err.reason());

        let response: TokenResponse =
            serde_json::from_str(r#"{"access_token":"at","id_token":"a.b.c"}"#).unwrap();
        let t = tokens(response).unwrap();
        assert_eq!(
            (t.id_token.as_str(), t.access_token.as_deref()),
            ("a.b.c", Some("at"))
        );
        assert_eq!(format!("{t:?}"), "Tokens([redacted])");
    }
}
