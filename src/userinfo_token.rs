//! Signed userinfo responses (OpenID Connect Core 1.0 section 5.3.2, `application/jwt`),
//! checked like an ID token: the header and its algorithm allowlist (the provider's
//! `userinfo_signing_alg_values_supported`, else its ID token algorithms), the key and the
//! signature ([`crate::jwt`], with the same bounded JWKS refetch), `iss` exactly, `aud` our client
//! id (and no untrusted extra audience), `azp` when present, and `exp`, `nbf`, `iat` when present.
//! That it names the ID token's `sub` is checked where the claims are merged.

use serde_json::{Map, Value};

use crate::jwt::{self, Audience, Expiry, JwtError};
use crate::provider::{Metadata, Provider, ProviderError};

/// The claims of a signed userinfo response, once its signature and claims passed. The outer
/// `Err` is `Ok(refusal)` or `Err(provider failure)`.
pub(crate) async fn verify(
    provider: &Provider,
    metadata: &Metadata,
    token: &str,
    audience: &Audience<'_>,
) -> Result<Map<String, Value>, Result<JwtError, ProviderError>> {
    let advertised = if metadata.userinfo_signing_algs.is_empty() {
        &metadata.signing_algs
    } else {
        &metadata.userinfo_signing_algs
    };
    let (_, claims) = jwt::verified(provider, advertised, token).await?;
    check(&claims, audience).map_err(Ok)?;
    Ok(claims)
}

/// The claim checks. A userinfo response need not carry `iat` (section 5.3.2 asks for `iss`
/// and `aud` only): without one it counts as issued now, and `exp` is checked when present.
fn check(claims: &Map<String, Value>, audience: &Audience<'_>) -> Result<(), JwtError> {
    if claims.contains_key("iat") {
        return jwt::check_common(claims, audience, Expiry::WhenPresent);
    }
    let mut with_iat = claims.clone();
    with_iat.insert("iat".into(), Value::from(audience.now));
    jwt::check_common(&with_iat, audience, Expiry::WhenPresent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn audience() -> Audience<'static> {
        Audience {
            issuer: "https://id.example.com",
            client_id: "app",
            trusted_audiences: &[],
            now: 1_000_000,
            leeway: 60,
        }
    }

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn iss_and_aud_are_required_times_only_when_present() {
        let ok = obj(json!({"iss": "https://id.example.com", "aud": "app", "sub": "u"}));
        assert_eq!(check(&ok, &audience()), Ok(()));
        let other_iss = obj(json!({"iss": "https://evil.example.com", "aud": "app"}));
        assert_eq!(check(&other_iss, &audience()), Err(JwtError::WrongIssuer));
        let other_aud = obj(json!({"iss": "https://id.example.com", "aud": "other"}));
        assert_eq!(check(&other_aud, &audience()), Err(JwtError::WrongAudience));
        let no_aud = obj(json!({"iss": "https://id.example.com"}));
        assert_eq!(check(&no_aud, &audience()), Err(JwtError::WrongAudience));
        let expired = obj(json!({"iss": "https://id.example.com", "aud": "app", "exp": 900_000}));
        assert!(matches!(
            check(&expired, &audience()),
            Err(JwtError::Expired(_))
        ));
        let future = obj(json!({"iss": "https://id.example.com", "aud": "app", "iat": 2_000_000}));
        assert!(matches!(
            check(&future, &audience()),
            Err(JwtError::IssuedInFuture(_))
        ));
    }
}
