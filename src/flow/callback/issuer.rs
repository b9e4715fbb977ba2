//! Step 2: the RFC 9207 `iss` parameter, on success and error responses alike, before anything
//! else is believed or redeemed (it defeats mix-up attacks); then the provider's `error`, and
//! the code.

use super::query::{provider_denied, CallbackQuery};
use crate::error::{AuthError, AuthErrorKind};
use crate::provider::{Metadata, Provider};
use crate::shared::Shared;

/// Checks `iss` against the provider the login was started with, then returns the code to
/// redeem (or the provider's error).
pub(crate) fn check<'q>(
    shared: &Shared,
    provider: &Provider,
    metadata: &Metadata,
    query: &'q CallbackQuery,
) -> Result<&'q str, AuthError> {
    match query.iss.as_deref() {
        Some(iss) if iss == provider.config.issuer.as_str() => {}
        Some(iss)
            if shared
                .providers
                .iter()
                .any(|p| p.config.issuer.as_str() == iss) =>
        {
            return Err(AuthError::new(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response came from another configured identity provider than the one this sign-in was started with (mix-up).",
            ));
        }
        Some(_) => {
            return Err(AuthError::new(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response came from another identity provider (iss).",
            ));
        }
        None if metadata.iss_parameter_supported => {
            return Err(AuthError::new(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response lacks the iss parameter its provider promises (RFC 9207).",
            ));
        }
        None => {}
    }
    // An error from the provider ends here.
    if let Some(error) = query.error.as_deref() {
        return Err(provider_denied(error));
    }
    query
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            AuthError::new(
                AuthErrorKind::MalformedCallback,
                "The sign-in response did not carry a code.",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::test_support::{app, ISSUER};
    use crate::ProviderBuilder;

    fn metadata(iss_supported: bool) -> Metadata {
        let url = |p: &str| url::Url::parse(&format!("{ISSUER}/{p}")).unwrap();
        Metadata {
            authorization_endpoint: url("authorize"),
            token_endpoint: url("token"),
            userinfo_endpoint: None,
            jwks_uri: url("jwks"),
            end_session_endpoint: None,
            introspection_endpoint: None,
            revocation_endpoint: None,
            token_auth_methods: vec![],
            iss_parameter_supported: iss_supported,
            signing_algs: vec![],
            response_modes: None,
            token_auth_signing_algs: None,
            par_endpoint: None,
            par_required: false,
            userinfo_signing_algs: vec![],
            dpop_algs: vec![],
        }
    }

    fn query(iss: Option<&str>, code: Option<&str>, error: Option<&str>) -> CallbackQuery {
        CallbackQuery {
            code: code.map(Into::into),
            state: Some("s".into()),
            iss: iss.map(Into::into),
            error: error.map(Into::into),
        }
    }

    fn two_providers() -> Shared {
        app(|b| {
            b.add_provider(
                ProviderBuilder::new("a")
                    .with_issuer(ISSUER)
                    .with_client_id("app")
                    .with_client_secret("secret"),
            )
            .add_provider(
                ProviderBuilder::new("b")
                    .with_issuer("https://other.example.com")
                    .with_client_id("app")
                    .with_client_secret("secret"),
            )
        })
    }

    #[test]
    fn the_right_iss_gives_the_code() {
        let s = two_providers();
        let q = query(Some(ISSUER), Some("c1"), None);
        assert_eq!(
            check(&s, &s.providers[0], &metadata(true), &q).unwrap(),
            "c1"
        );
        let without = query(None, Some("c1"), None);
        assert_eq!(
            check(&s, &s.providers[0], &metadata(false), &without).unwrap(),
            "c1"
        );
    }

    #[test]
    fn refuses_another_providers_iss_a_foreign_iss_and_a_promised_iss_missing() {
        let s = two_providers();
        let p = &s.providers[0];
        let kind = |q: CallbackQuery, m: Metadata| check(&s, p, &m, &q).err().unwrap();
        let mixup = kind(
            query(Some("https://other.example.com"), Some("c"), None),
            metadata(true),
        );
        assert_eq!(mixup.kind(), AuthErrorKind::IssuerMismatch);
        assert!(mixup.reason().contains("mix-up"), "{}", mixup.reason());
        let foreign = kind(
            query(Some("https://evil.example"), Some("c"), None),
            metadata(true),
        );
        assert!(foreign.reason().contains("(iss)"), "{}", foreign.reason());
        let missing = kind(query(None, Some("c"), None), metadata(true));
        assert!(
            missing.reason().contains("RFC 9207"),
            "{}",
            missing.reason()
        );
        // The iss check comes first: an error response with a foreign iss is a mix-up too.
        let err = kind(
            query(Some("https://evil.example"), None, Some("access_denied")),
            metadata(true),
        );
        assert_eq!(err.kind(), AuthErrorKind::IssuerMismatch);
    }

    #[test]
    fn an_error_response_or_a_missing_code_ends_the_callback() {
        let s = two_providers();
        let p = &s.providers[0];
        let kind = |q: CallbackQuery| check(&s, p, &metadata(true), &q).unwrap_err().kind();
        let denied = kind(query(Some(ISSUER), None, Some("access_denied")));
        assert_eq!(denied, AuthErrorKind::ProviderDenied);
        let empty = kind(query(Some(ISSUER), Some(""), None));
        assert_eq!(empty, AuthErrorKind::MalformedCallback);
    }
}
