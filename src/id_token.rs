//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7), with our own clock: what
//! every signed token of the provider carries ([`crate::jwt`]: header, key, signature, `iss`,
//! `aud`, `azp`, `exp`, `nbf`, `iat`), then what only an ID token has (`nonce`, `sub`).

use std::time::Duration;

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::config::ProviderConfig;
use crate::jwt::{self, Audience, Expiry, JwtError};

/// Why an ID token was refused. Display never includes claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdTokenError {
    /// A check every signed token of the provider passes.
    #[error("the ID token {0}")]
    Jwt(#[from] JwtError),
    #[error("the ID token's nonce does not match this login")]
    NonceMismatch,
    #[error("the ID token has no nonce")]
    MissingNonce,
    #[error("the ID token has no subject (sub)")]
    MissingSubject,
}

/// What the token must say: what every signed token of the provider says, and this login's
/// nonce.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) audience: Audience<'a>,
    pub(crate) nonce: &'a str,
}

impl<'a> Expected<'a> {
    /// What an ID token of `provider` must say for the login with `nonce`, at `now`.
    pub(crate) fn for_login(
        provider: &'a ProviderConfig,
        nonce: &'a str,
        now: u64,
        leeway: Duration,
    ) -> Self {
        Self {
            audience: Audience::of(provider, now, leeway),
            nonce,
        }
    }
}

/// Checks the claims of a token whose signature is valid.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    want: &Expected<'_>,
) -> Result<(), IdTokenError> {
    jwt::check_common(claims, &want.audience, Expiry::Required)?;
    let nonce = claims
        .get("nonce")
        .and_then(Value::as_str)
        .ok_or(IdTokenError::MissingNonce)?;
    if !bool::from(nonce.as_bytes().ct_eq(want.nonce.as_bytes())) {
        return Err(IdTokenError::NonceMismatch);
    }
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(()),
        _ => Err(IdTokenError::MissingSubject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn want() -> Expected<'static> {
        Expected {
            audience: Audience {
                issuer: "https://id.example.com",
                client_id: "app",
                trusted_audiences: &[],
                now: 1_000_000,
                leeway: 60,
            },
            nonce: "n-0S6_WzA2Mj",
        }
    }

    fn good() -> Map<String, Value> {
        json!({"iss": "https://id.example.com", "aud": "app", "sub": "u1", "exp": 1_000_300,
               "iat": 999_990, "nonce": "n-0S6_WzA2Mj"})
        .as_object()
        .unwrap()
        .clone()
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        let mut c = good();
        c.insert(key.into(), value);
        c
    }

    fn without(key: &str) -> Map<String, Value> {
        let mut c = good();
        c.remove(key);
        c
    }

    #[test]
    fn accepts_a_good_token() {
        assert_eq!(check_claims(&good(), &want()), Ok(()));
        assert_eq!(check_claims(&with("aud", json!(["app"])), &want()), Ok(()));
        assert_eq!(check_claims(&with("azp", json!("app")), &want()), Ok(()));
    }

    #[test]
    fn rejects_each_bad_claim() {
        let w = want();
        assert_eq!(
            check_claims(&with("iss", json!("https://id.example.com/")), &w),
            Err(IdTokenError::Jwt(JwtError::WrongIssuer))
        );
        assert_eq!(
            check_claims(&with("aud", json!("other")), &w),
            Err(IdTokenError::Jwt(JwtError::WrongAudience))
        );
        assert_eq!(
            check_claims(&with("aud", json!(["app", "evil"])), &w),
            Err(IdTokenError::Jwt(JwtError::UntrustedAudience))
        );
        assert_eq!(
            check_claims(&with("azp", json!("evil")), &w),
            Err(IdTokenError::Jwt(JwtError::WrongAuthorizedParty))
        );
        assert_eq!(
            check_claims(&with("exp", json!(999_900)), &w),
            Err(IdTokenError::Jwt(JwtError::Expired(100)))
        );
        assert_eq!(
            check_claims(&without("exp"), &w),
            Err(IdTokenError::Jwt(JwtError::MissingExpiry))
        );
        assert_eq!(
            check_claims(&with("iat", json!(1_000_100)), &w),
            Err(IdTokenError::Jwt(JwtError::IssuedInFuture(100)))
        );
        assert_eq!(
            check_claims(&without("iat"), &w),
            Err(IdTokenError::Jwt(JwtError::MissingIssuedAt))
        );
        assert_eq!(
            check_claims(&with("nbf", json!(1_000_600)), &w),
            Err(IdTokenError::Jwt(JwtError::NotYetValid(600)))
        );
        assert_eq!(check_claims(&with("nbf", json!(999_000)), &w), Ok(()));
        assert_eq!(
            check_claims(&with("nonce", json!("other")), &w),
            Err(IdTokenError::NonceMismatch)
        );
        assert_eq!(
            check_claims(&without("nonce"), &w),
            Err(IdTokenError::MissingNonce)
        );
        assert_eq!(
            check_claims(&without("sub"), &w),
            Err(IdTokenError::MissingSubject)
        );
        assert_eq!(
            check_claims(&with("sub", json!("")), &w),
            Err(IdTokenError::MissingSubject)
        );
        assert_eq!(
            check_claims(&with("sub", json!(12)), &w),
            Err(IdTokenError::MissingSubject)
        );
    }

    #[test]
    fn leeway_is_bounded() {
        let w = want();
        assert_eq!(
            check_claims(&with("exp", json!(999_950)), &w),
            Ok(()),
            "within leeway"
        );
        assert_eq!(
            check_claims(&with("iat", json!(1_000_050)), &w),
            Ok(()),
            "within leeway"
        );
    }

    #[test]
    fn trusted_extra_audience_is_accepted() {
        let trusted = vec!["api".to_owned()];
        let mut w = want();
        w.audience.trusted_audiences = &trusted;
        assert_eq!(
            check_claims(&with("aud", json!(["app", "api"])), &w),
            Ok(())
        );
    }
}
