//! JWT access token checks (RFC 9068): the type, then every claim, with our own clock. The
//! header's algorithm allowlist, the key, the signature and the times are checked as for every
//! token the provider signs ([`crate::jwt`]); the refusals are worded for an access token.

use jsonwebtoken::Header;
use serde_json::{Map, Value};

use crate::config::ApiConfig;
use crate::jwt::{self, Expiry, JwtError};

/// Why an access token was refused. Display never includes a claim value; it is sent as the
/// `error_description` of the `WWW-Authenticate` challenge, so it holds no `"` or `\` either.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AccessTokenError {
    #[error("the access token is not a JWT access token (typ at+jwt, RFC 9068)")]
    NotAccessToken,
    #[error(
        "the token carries ID token claims (nonce, at_hash): an ID token is not an access token"
    )]
    IdTokenClaims,
    #[error("the access token was issued by another issuer")]
    WrongIssuer,
    #[error("the access token is not meant for this API (audience)")]
    WrongAudience,
    #[error("the access token expired")]
    Expired,
    #[error("the access token has no expiry (exp)")]
    MissingExpiry,
    #[error("the access token is not valid yet (nbf)")]
    NotYetValid,
    #[error("the access token has no issue time (iat)")]
    MissingIssuedAt,
    #[error("the access token was issued in the future (iat)")]
    IssuedInFuture,
    #[error("the access token has no subject (sub)")]
    MissingSubject,
}

impl AccessTokenError {
    /// A refusal of [`jwt::times`], worded for an access token (without the skew figures).
    fn of_times(err: JwtError) -> Self {
        match err {
            JwtError::Expired(_) => Self::Expired,
            JwtError::NotYetValid(_) => Self::NotYetValid,
            JwtError::MissingIssuedAt => Self::MissingIssuedAt,
            JwtError::IssuedInFuture(_) => Self::IssuedInFuture,
            // `times` refuses nothing else.
            _ => Self::MissingExpiry,
        }
    }
}

/// The `typ` header (RFC 9068 section 4): `at+jwt` or `application/at+jwt`, compared without
/// regard to case (RFC 7515 section 4.1.9). Where the operator opted out
/// (`OIDC_API_REQUIRE_AT_JWT=false`) a missing `typ` or plain `JWT` passes too, but no other
/// explicit type (`logout+jwt`, say) ever does.
pub(crate) fn check_type(header: &Header, api: &ApiConfig) -> Result<(), AccessTokenError> {
    let typ = header.typ.as_deref().map(str::to_ascii_lowercase);
    match typ.as_deref() {
        Some("at+jwt" | "application/at+jwt") => Ok(()),
        None | Some("jwt") if !api.require_at_jwt => Ok(()),
        _ => Err(AccessTokenError::NotAccessToken),
    }
}

/// Checks the claims of a token whose signature is valid: `iss` exactly the provider's, `aud`
/// containing the API's audience, the times with `leeway`, a `sub`; and, without the `typ`
/// check, no `nonce` or `at_hash` (which only ID tokens carry).
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    api: &ApiConfig,
    now: u64,
    leeway: u64,
) -> Result<(), AccessTokenError> {
    if !api.require_at_jwt && (claims.contains_key("nonce") || claims.contains_key("at_hash")) {
        return Err(AccessTokenError::IdTokenClaims);
    }
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(AccessTokenError::WrongIssuer);
    }
    let audience = api.audience.as_str();
    let ours = match claims.get("aud") {
        Some(Value::String(a)) => a == audience,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience)),
        _ => false,
    };
    if !ours {
        return Err(AccessTokenError::WrongAudience);
    }
    jwt::times(claims, now, leeway, Expiry::Required).map_err(AccessTokenError::of_times)?;
    match claims.get("sub").and_then(Value::as_str) {
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => Ok(()),
        _ => Err(AccessTokenError::MissingSubject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::test_support::{self, claims, ISSUER, NOW};
    use serde_json::json;

    fn api(require_at_jwt: bool) -> ApiConfig {
        ApiConfig {
            audience: "https://api.example.com".into(),
            require_at_jwt,
            introspection_cache: std::time::Duration::from_secs(60),
        }
    }

    fn good() -> Map<String, Value> {
        claims(
            json!({"iss": ISSUER, "aud": ["https://api.example.com", "other"], "sub": "u1",
                      "exp": 1_000_300, "iat": 999_990, "client_id": "spa"}),
        )
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        test_support::with(good(), key, value)
    }

    fn check(c: &Map<String, Value>, api: &ApiConfig) -> Result<(), AccessTokenError> {
        check_claims(c, ISSUER, api, NOW, 60)
    }

    #[test]
    fn accepts_a_good_token_and_rejects_each_bad_claim() {
        let a = api(true);
        assert_eq!(check(&good(), &a), Ok(()));
        assert_eq!(
            check(&with("aud", json!("https://api.example.com")), &a),
            Ok(())
        );
        use AccessTokenError as E;
        for (key, value, want) in [
            ("iss", json!("https://id.example.com/"), E::WrongIssuer),
            ("aud", json!("app"), E::WrongAudience),
            ("aud", json!(["app"]), E::WrongAudience),
            ("exp", json!(999_900), E::Expired),
            ("nbf", json!(1_000_600), E::NotYetValid),
            ("iat", json!(1_000_600), E::IssuedInFuture),
            ("sub", json!(""), E::MissingSubject),
        ] {
            assert_eq!(check(&with(key, value), &a), Err(want), "{key}");
        }
        let c = test_support::without(good(), &["exp"]);
        assert_eq!(check(&c, &a), Err(E::MissingExpiry));
    }

    #[test]
    fn without_the_type_check_id_token_claims_are_refused() {
        assert_eq!(check(&with("nonce", json!("n")), &api(true)), Ok(()));
        for claim in ["nonce", "at_hash"] {
            assert_eq!(
                check(&with(claim, json!("x")), &api(false)),
                Err(AccessTokenError::IdTokenClaims)
            );
        }
    }

    #[test]
    fn the_type_must_be_at_jwt_unless_the_operator_opted_out() {
        let header = |typ: Option<&str>| {
            let mut h = Header::new(jsonwebtoken::Algorithm::RS256);
            h.typ = typ.map(str::to_owned);
            h
        };
        for typ in ["at+jwt", "application/at+jwt", "AT+JWT"] {
            assert_eq!(check_type(&header(Some(typ)), &api(true)), Ok(()), "{typ}");
        }
        for typ in [None, Some("JWT"), Some("logout+jwt")] {
            assert_eq!(
                check_type(&header(typ), &api(true)),
                Err(AccessTokenError::NotAccessToken),
                "{typ:?}"
            );
        }
        assert_eq!(check_type(&header(None), &api(false)), Ok(()));
        assert_eq!(check_type(&header(Some("JWT")), &api(false)), Ok(()));
        assert_eq!(
            check_type(&header(Some("logout+jwt")), &api(false)),
            Err(AccessTokenError::NotAccessToken)
        );
    }
}
