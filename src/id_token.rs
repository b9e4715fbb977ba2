//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7), with our own clock: what
//! every signed token of the provider carries ([`crate::jwt`]: header, key, signature, `iss`,
//! `aud`, `azp`, `exp`, `nbf`, `iat`), then what only an ID token has (`nonce`, `sub`).

use std::time::Duration;

use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::config::ProviderConfig;
use crate::jwt::{self, skew, Audience, Expiry, JwtError};

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
    #[error("the ID token has no auth_time, which this sign-in's max_age requires (OpenID Connect Core 3.1.2.1)")]
    MissingAuthTime,
    /// How long ago the user signed in at the provider, and the `max_age` asked for (seconds).
    #[error("you signed in at the identity provider {age} s ago, longer than the {max_age} s this application accepts, and the provider did not ask you to sign in again")]
    AuthenticationTooOld { age: u64, max_age: u64 },
    /// Seconds the sign-in time lies ahead of our clock.
    #[error("the ID token's sign-in time (auth_time) is {0} s in the future by this server's clock (more than the allowed leeway): check NTP on both machines")]
    AuthTimeInFuture(u64),
    #[error("the identity provider did not sign you in with an authentication method this application requires (acr)")]
    AcrNotAccepted,
    /// A refreshed ID token whose claim (`iss` or `sub`) is not the session's.
    #[error("the refreshed ID token's {0} is not the session's (OpenID Connect Core 12.2)")]
    OtherSession(&'static str),
}

/// What the token must say: what every signed token of the provider says, and this login's
/// nonce.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) audience: Audience<'a>,
    pub(crate) nonce: &'a str,
    /// The login's `max_age`: then `auth_time` is required, at most this old (plus leeway).
    pub(crate) max_age: Option<u64>,
    /// The `acr` values one of which the token must carry; empty: none required.
    pub(crate) acr: &'a [String],
}

impl<'a> Expected<'a> {
    /// What an ID token of `provider` must say for the login with `nonce`, `max_age` and the
    /// required `acr` values, at `now`.
    pub(crate) fn for_login(
        provider: &'a ProviderConfig,
        (nonce, max_age, acr): (&'a str, Option<u64>, &'a [String]),
        now: u64,
        leeway: Duration,
    ) -> Self {
        Self {
            audience: Audience::of(provider, now, leeway),
            nonce,
            max_age,
            acr,
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
        Some(sub) if !sub.is_empty() && sub.len() <= 255 => {}
        _ => return Err(IdTokenError::MissingSubject),
    }
    if let Some(max_age) = want.max_age {
        check_auth_time(claims, max_age, want)?;
    }
    if !want.acr.is_empty() {
        let acr = claims.get("acr").and_then(Value::as_str);
        if !acr.is_some_and(|acr| want.acr.iter().any(|a| a == acr)) {
            return Err(IdTokenError::AcrNotAccepted);
        }
    }
    Ok(())
}

/// Checks the claims of a refreshed ID token whose signature is valid (OpenID Connect Core
/// 1.0 section 12.2): the common checks, no `nonce` needed, and the `iss` and `sub` of the
/// session it renews (`aud` holding us is a common check).
pub(crate) fn check_refreshed(
    claims: &Map<String, Value>,
    audience: &Audience<'_>,
    issuer: &str,
    subject: &str,
) -> Result<(), IdTokenError> {
    jwt::check_common(claims, audience, Expiry::Required)?;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err(IdTokenError::OtherSession("iss"));
    }
    if claims.get("sub").and_then(Value::as_str) != Some(subject) {
        return Err(IdTokenError::OtherSession("sub"));
    }
    Ok(())
}

/// `auth_time` is present, not in the future beyond the leeway, and at most `max_age` (plus
/// the leeway) ago (OpenID Connect Core 1.0 section 3.1.3.7 item 13).
fn check_auth_time(
    claims: &Map<String, Value>,
    max_age: u64,
    want: &Expected<'_>,
) -> Result<(), IdTokenError> {
    let auth_time = claims
        .get("auth_time")
        .and_then(Value::as_f64)
        .ok_or(IdTokenError::MissingAuthTime)?;
    let now = want.audience.now as f64;
    if auth_time > now + want.audience.leeway as f64 {
        return Err(IdTokenError::AuthTimeInFuture(skew(auth_time, now)));
    }
    if auth_time + max_age as f64 + (want.audience.leeway as f64) < now {
        return Err(IdTokenError::AuthenticationTooOld {
            age: skew(now, auth_time),
            max_age,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwt::test_support::{self, audience, claims, CLIENT_ID, ISSUER};
    use serde_json::json;

    fn want() -> Expected<'static> {
        Expected {
            audience: audience(),
            nonce: "n-0S6_WzA2Mj",
            max_age: None,
            acr: &[],
        }
    }

    fn good() -> Map<String, Value> {
        claims(
            json!({"iss": ISSUER, "aud": CLIENT_ID, "sub": "u1", "exp": 1_000_300,
                      "iat": 999_990, "nonce": "n-0S6_WzA2Mj"}),
        )
    }

    fn with(key: &str, value: Value) -> Map<String, Value> {
        test_support::with(good(), key, value)
    }

    fn without(key: &str) -> Map<String, Value> {
        test_support::without(good(), &[key])
    }

    #[test]
    fn a_refreshed_id_token_must_keep_the_sessions_iss_and_sub_and_needs_no_nonce() {
        let mut claims = good();
        claims.remove("nonce");
        let w = want();
        let sub = claims["sub"].as_str().unwrap().to_owned();
        assert_eq!(
            check_refreshed(&claims, &w.audience, "https://id.example.com", &sub),
            Ok(())
        );
        assert_eq!(
            check_refreshed(
                &claims,
                &w.audience,
                "https://id.example.com",
                "someone-else"
            ),
            Err(IdTokenError::OtherSession("sub"))
        );
        let mut other_aud = claims.clone();
        other_aud.insert("aud".into(), json!("another-app"));
        assert!(matches!(
            check_refreshed(&other_aud, &w.audience, "https://id.example.com", &sub),
            Err(IdTokenError::Jwt(_))
        ));
        let mut other_iss = claims.clone();
        other_iss.insert("iss".into(), json!("https://evil.example.com"));
        assert!(matches!(
            check_refreshed(&other_iss, &w.audience, "https://id.example.com", &sub),
            Err(IdTokenError::Jwt(_))
        ));
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
    fn max_age_requires_a_fresh_enough_auth_time() {
        let w = Expected {
            max_age: Some(300),
            ..want()
        };
        assert_eq!(
            check_claims(&good(), &w),
            Err(IdTokenError::MissingAuthTime)
        );
        assert_eq!(
            check_claims(&with("auth_time", json!("999999")), &w),
            Err(IdTokenError::MissingAuthTime),
            "a string is no time"
        );
        // 300 s max_age plus 60 s leeway.
        assert_eq!(check_claims(&with("auth_time", json!(999_640)), &w), Ok(()));
        assert_eq!(
            check_claims(&with("auth_time", json!(999_639)), &w),
            Err(IdTokenError::AuthenticationTooOld {
                age: 361,
                max_age: 300
            })
        );
        assert_eq!(
            check_claims(&with("auth_time", json!(1_000_061)), &w),
            Err(IdTokenError::AuthTimeInFuture(61))
        );
        assert_eq!(
            check_claims(&good(), &want()),
            Ok(()),
            "no max_age, no auth_time needed"
        );
    }

    #[test]
    fn a_required_acr_must_be_one_requested() {
        let required = ["urn:mfa".to_owned(), "urn:hwk".to_owned()];
        let w = Expected {
            acr: &required,
            ..want()
        };
        assert_eq!(check_claims(&with("acr", json!("urn:hwk")), &w), Ok(()));
        for acr in [json!("urn:pwd"), json!(["urn:mfa"]), json!("")] {
            assert_eq!(
                check_claims(&with("acr", acr.clone()), &w),
                Err(IdTokenError::AcrNotAccepted),
                "{acr}"
            );
        }
        assert_eq!(check_claims(&good(), &w), Err(IdTokenError::AcrNotAccepted));
        assert_eq!(
            check_claims(&with("acr", json!("urn:pwd")), &want()),
            Ok(())
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
