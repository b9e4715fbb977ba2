//! Step 3: the code, redeemed at the token endpoint with the PKCE verifier; the answer must
//! hold an ID token, and its access token must be a bearer token (RFC 6750), or with `DPOP` on
//! (and offered by the provider) a DPoP-bound one (`token_type` DPoP, RFC 9449), which the
//! exchange's proof bound to the process's key. A refusal names what to fix
//! (`provider/token_refusal.rs`).

use std::fmt;

use crate::error::{AuthError, AuthErrorKind};
use crate::provider::{Metadata, Provider, ProviderError, TokenResponse};
use crate::session::LoginRecord;

/// The tokens of a redeemed code. Debug never shows them.
pub(crate) struct Tokens {
    pub(crate) id_token: String,
    pub(crate) access_token: Option<String>,
    pub(crate) refresh_token: Option<String>,
    pub(crate) expires_in: Option<u64>,
    /// Whether the access token is DPoP-bound (`token_type` DPoP).
    pub(crate) dpop_bound: bool,
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
    let exchange = provider.exchange_code(
        metadata,
        code,
        &record.verifier,
        &provider.config.redirect_uri,
    );
    let response = crate::meter::provider_call(provider.config.slug.as_str(), "token", exchange)
        .await
        .map_err(|e| match e {
            // Each refusal names the settings of this provider to fix.
            ProviderError::Rejected(refusal) => refusal.to_auth_error(&provider.config),
            other => other.to_auth_error(),
        })?;
    let dpop = provider.dpop_key(metadata).is_some();
    tokens(response, dpop, &provider.config.keys.key("DPOP"))
}

/// The tokens of a token response; one without an ID token, or whose `token_type` is not
/// `Bearer` (compared without case, RFC 6749 section 5.1), or `DPoP` when the exchange sent a
/// proof (`dpop`), is refused; `dpop_key` is the setting named when DPoP is off.
fn tokens(response: TokenResponse, dpop: bool, dpop_key: &str) -> Result<Tokens, AuthError> {
    let dpop_bound = match response.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => false,
        Some(t) if dpop && t.eq_ignore_ascii_case("dpop") => true,
        found => {
            let what = match found {
                None => "has no token_type (RFC 6749 section 5.1 requires one)".to_owned(),
                Some(t) if t.eq_ignore_ascii_case("dpop") => format!(
                    "holds a DPoP-bound access token (token_type DPoP) but {dpop_key} is off (or the provider's discovery offers no ES256 DPoP proofs): turn {dpop_key} on, or turn off DPoP for this client at the provider"
                ),
                Some(_) => "has a token_type other than Bearer or DPoP".to_owned(),
            };
            return Err(AuthError::new(
                AuthErrorKind::BadProviderResponse,
                format!("The identity provider's token response {what}."),
            ));
        }
    };
    let expires_in = response.expires_in();
    let id_token = response.id_token.ok_or_else(|| {
        AuthError::new(AuthErrorKind::BadProviderResponse, "The identity provider's token response has no id_token; is the `openid` scope allowed for this client?")
    })?;
    Ok(Tokens {
        id_token,
        access_token: response.access_token,
        refresh_token: response.refresh_token,
        expires_in,
        dpop_bound,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_response_needs_an_id_token() {
        let response: TokenResponse =
            serde_json::from_str(r#"{"access_token":"at","token_type":"Bearer"}"#).unwrap();
        let err = tokens(response, false, "OIDC_DPOP").unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::BadProviderResponse);
        assert!(err.reason().contains("`openid` scope"), "{}", err.reason());

        let response: TokenResponse = serde_json::from_str(
            r#"{"access_token":"at","id_token":"a.b.c","token_type":"bearer"}"#,
        )
        .unwrap();
        let t = tokens(response, false, "OIDC_DPOP").unwrap();
        assert_eq!(
            (t.id_token.as_str(), t.access_token.as_deref()),
            ("a.b.c", Some("at"))
        );
        assert_eq!(format!("{t:?}"), "Tokens([redacted])");
    }

    #[test]
    fn only_a_bearer_token_type_is_accepted() {
        for (token_type, reason) in [
            (r#""DPoP""#, "turn OIDC_DPOP on"),
            (r#""dpop""#, "turn OIDC_DPOP on"),
            (r#""mac""#, "other than Bearer or DPoP"),
            (r#""Bearer-ish""#, "other than Bearer or DPoP"),
            ("null", "no token_type"),
        ] {
            let response: TokenResponse = serde_json::from_str(&format!(
                r#"{{"access_token":"at","id_token":"a.b.c","token_type":{token_type}}}"#
            ))
            .unwrap();
            let err = tokens(response, false, "OIDC_DPOP").unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::BadProviderResponse);
            assert!(
                err.reason().contains(reason),
                "{token_type}: {}",
                err.reason()
            );
            assert!(
                !err.reason().contains("Bearer-ish"),
                "the value is not echoed"
            );
        }
        for ok in ["Bearer", "bearer", "BEARER"] {
            let response: TokenResponse = serde_json::from_str(&format!(
                r#"{{"access_token":"at","id_token":"a.b.c","token_type":"{ok}"}}"#
            ))
            .unwrap();
            assert!(tokens(response, false, "OIDC_DPOP").is_ok(), "{ok}");
        }
        for ok in ["DPoP", "dpop", "DPOP"] {
            let response: TokenResponse = serde_json::from_str(&format!(
                r#"{{"access_token":"at","id_token":"a.b.c","token_type":"{ok}"}}"#
            ))
            .unwrap();
            let t = tokens(response, true, "OIDC_DPOP").unwrap();
            assert!(t.dpop_bound, "{ok}");
        }
    }
}
