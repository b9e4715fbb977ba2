//! [`ProviderError`]: what can go wrong talking to the provider.

use std::fmt;

use super::token_refusal::TokenRefusal;
use crate::error::{AuthError, AuthErrorKind};

/// A failure talking to the provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ProviderError {
    /// Connection refused, DNS failure or timeout.
    Unreachable(String),
    /// The provider answered, but not with something usable.
    BadResponse(String),
    /// The token endpoint refused the request (RFC 6749 section 5.2).
    Rejected(Box<TokenRefusal>),
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unreachable(m) => write!(f, "identity provider unreachable: {m}"),
            Self::BadResponse(m) => write!(f, "bad response from identity provider: {m}"),
            Self::Rejected(refusal) => write!(
                f,
                "identity provider refused the request: {}",
                refusal.shown_code()
            ),
        }
    }
}

impl ProviderError {
    /// The error shown to the user for this failure. A refusal of the token endpoint is
    /// better explained with the provider's settings: [`TokenRefusal::to_auth_error`].
    pub(crate) fn to_auth_error(&self) -> AuthError {
        match self {
            ProviderError::Unreachable(m) => AuthError::new(
                AuthErrorKind::ProviderUnreachable,
                format!("The identity provider could not be reached ({m})."),
            ),
            ProviderError::BadResponse(m) => AuthError::new(
                AuthErrorKind::BadProviderResponse,
                format!("The identity provider gave an unusable answer: {m}."),
            ),
            ProviderError::Rejected(refusal) => AuthError::new(
                AuthErrorKind::CodeRejected,
                format!(
                    "The identity provider refused the sign-in code ({}).",
                    refusal.shown_code()
                ),
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_page() {
        let kind = |e: ProviderError| e.to_auth_error().kind();
        assert_eq!(
            kind(ProviderError::Unreachable("x".into())),
            AuthErrorKind::ProviderUnreachable
        );
        assert_eq!(
            kind(ProviderError::BadResponse("x".into())),
            AuthErrorKind::BadProviderResponse
        );
        assert_eq!(
            kind(ProviderError::Rejected(Box::new(TokenRefusal::read(
                400,
                br#"{"error":"invalid_grant"}"#,
                &[],
                false
            )))),
            AuthErrorKind::CodeRejected
        );
        assert_eq!(
            ProviderError::Unreachable("x".into())
                .to_auth_error()
                .status(),
            http::StatusCode::SERVICE_UNAVAILABLE
        );
    }
}
