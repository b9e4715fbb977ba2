//! Step 4: the ID token, verified against the provider's keys and checked claim by claim
//! ([`crate::jwt`], [`crate::id_token`]). When its key is not among the cached ones (an unknown
//! `kid`, or a signature that fails with the cached key of its `kid`), the keys are refetched
//! once, within the bounds of [`crate::provider::jwks`], and the token is tried again.

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};
use crate::id_token::{self, Expected, IdTokenError};
use crate::jwt;
use crate::provider::{Metadata, Provider, ProviderError};
use crate::session::LoginRecord;
use crate::shared::Shared;

/// The ID token's claims, once every check passed.
pub(crate) async fn validate(
    shared: &Shared,
    provider: &Provider,
    metadata: &Metadata,
    token: &str,
    record: &LoginRecord,
    now: u64,
) -> Result<Map<String, Value>, AuthError> {
    let expected = Expected::for_login(
        &provider.config,
        (&record.nonce, record.max_age, &record.acr),
        now,
        shared.config.leeway,
    );
    verify(provider, &metadata.signing_algs, token, &expected)
        .await
        .map_err(|e| match e {
            Ok(err) => AuthError::new(kind_of(&err), format!("{err}.")),
            Err(provider_err) => provider_err.to_auth_error(),
        })
}

/// The kind of a refused ID token: a sign-in too old for `max_age`, or an `acr` not
/// accepted, have their own; every other failure is an invalid token.
fn kind_of(err: &IdTokenError) -> AuthErrorKind {
    match err {
        IdTokenError::AuthenticationTooOld { .. } => AuthErrorKind::AuthenticationTooOld,
        IdTokenError::AcrNotAccepted => AuthErrorKind::AcrNotAccepted,
        _ => AuthErrorKind::InvalidIdToken,
    }
}

/// The outer `Err` is `Ok(validation failure)` or `Err(provider failure)`.
async fn verify(
    provider: &Provider,
    advertised: &[jsonwebtoken::Algorithm],
    token: &str,
    expected: &Expected<'_>,
) -> Result<Map<String, Value>, Result<IdTokenError, ProviderError>> {
    let (_, claims) = jwt::verified(provider, advertised, token)
        .await
        .map_err(|e| e.map(IdTokenError::from))?;
    id_token::check_claims(&claims, expected).map_err(Ok)?;
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::test_support::shared;

    fn record() -> LoginRecord {
        LoginRecord {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            issuer: String::new(),
            provider: String::new(),
            return_to: "/".into(),
            created_at: 0,
            max_age: None,
            acr: Vec::new(),
        }
    }

    #[tokio::test]
    async fn a_malformed_or_unsigned_token_is_refused_before_any_key_is_fetched() {
        let s = shared();
        let p = &s.providers[0];
        let metadata = p.cached_metadata();
        assert!(metadata.is_none(), "nothing was fetched yet");
        let m = crate::provider::discovery::parse_metadata(
            br#"{"issuer":"https://id.example.com","authorization_endpoint":"https://id.example.com/a",
                 "token_endpoint":"https://id.example.com/t","jwks_uri":"https://id.example.com/k",
                 "id_token_signing_alg_values_supported":["RS256"]}"#,
            &p.config.issuer,
            "OIDC_ISSUER_URL",
        )
        .unwrap();
        // `{"alg":"none"}` and `{"alg":"HS256"}`, unsigned.
        for token in [
            "not a jwt",
            "eyJhbGciOiJub25lIn0.e30.",
            "eyJhbGciOiJIUzI1NiJ9.e30.x",
        ] {
            let err = validate(&s, p, &m, token, &record(), 1_000)
                .await
                .unwrap_err();
            assert_eq!(err.kind(), AuthErrorKind::InvalidIdToken, "{token}");
        }
        assert_eq!(
            p.jwks_fetches(),
            0,
            "no key was fetched for a token refused by its header"
        );
    }
}
