//! ID token validation (OpenID Connect Core 1.0 section 3.1.3.7), with our own clock.
//!
//! jsonwebtoken checks the signature and the algorithm family of the key; every claim check
//! (`iss`, `aud`, `azp`, `exp`, `nbf`, `iat`, `nonce`, `sub`) is done here so that time comes from the injectable [`Clock`](crate::Clock) and each failure
//! has its own reason.

use std::collections::HashSet;
use std::time::Duration;

use jsonwebtoken::{Algorithm, Header, Validation};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::config::ProviderConfig;
use crate::provider::VerifyKey;

/// Signature algorithms accepted for ID tokens: asymmetric ones only. `none` cannot even be
/// parsed, and HMAC is never accepted, so a public key can never be used as an HMAC secret.
pub(crate) const ASYMMETRIC: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Why an ID token was refused. Display never includes claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum IdTokenError {
    #[error("the ID token is not a well-formed JWS")]
    Malformed,
    #[error("the ID token's signature algorithm is not allowed (only asymmetric algorithms the provider advertises)")]
    AlgorithmNotAllowed,
    #[error("the ID token's header names critical extensions (crit), which this application does not understand (RFC 7515 section 4.1.11)")]
    CriticalHeader,
    #[error("no key in the provider's JWKS matches the ID token's key id")]
    UnknownKey,
    #[error("the ID token has no key id and the provider's JWKS holds several keys")]
    AmbiguousKey,
    #[error("the ID token's signature is invalid")]
    BadSignature,
    #[error("the ID token was issued by another issuer")]
    WrongIssuer,
    #[error("the ID token is not meant for this application (audience)")]
    WrongAudience,
    #[error("the ID token carries an untrusted extra audience")]
    UntrustedAudience,
    #[error("the ID token's authorized party (azp) is another client")]
    WrongAuthorizedParty,
    /// Seconds since the token expired, by our clock.
    #[error("the ID token expired {0} s ago by this server's clock; if it was just issued, this server's clock is ahead of the provider's: check NTP on both")]
    Expired(u64),
    #[error("the ID token has no expiry (exp)")]
    MissingExpiry,
    /// Seconds the issue time lies ahead of our clock (the measured skew).
    #[error("the ID token was issued {0} s in the future by this server's clock (more than the allowed leeway): the clocks differ by about that much, check NTP on both machines")]
    IssuedInFuture(u64),
    /// Seconds until the token becomes valid, by our clock.
    #[error("the ID token is not valid for another {0} s (nbf) by this server's clock: check NTP on both machines")]
    NotYetValid(u64),
    #[error("the ID token has no issue time (iat)")]
    MissingIssuedAt,
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
}

/// `later - earlier` in whole seconds, for messages (saturating, never negative).
fn skew(later: f64, earlier: f64) -> u64 {
    let d = (later - earlier).max(0.0);
    if d >= u64::MAX as f64 {
        u64::MAX
    } else {
        d as u64
    }
}

/// What the token must say.
#[derive(Debug)]
pub(crate) struct Expected<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) trusted_audiences: &'a [String],
    pub(crate) nonce: &'a str,
    /// The login's `max_age`: then `auth_time` is required, at most this old (plus leeway).
    pub(crate) max_age: Option<u64>,
    /// The `acr` values one of which the token must carry; empty: none required.
    pub(crate) acr: &'a [String],
    pub(crate) now: u64,
    pub(crate) leeway: u64,
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
            issuer: provider.issuer.as_str(),
            client_id: provider.client_id.as_str(),
            trusted_audiences: &provider.trusted_audiences,
            nonce,
            max_age,
            acr,
            now,
            leeway: leeway.as_secs(),
        }
    }
}

/// Reads the header and checks the algorithm against the allowlist (ours, narrowed to what the
/// provider advertises when it advertises anything). A header with `crit` is refused whatever
/// it lists: we understand no JWS extension, and RFC 7515 section 4.1.11 says a recipient that
/// does not understand one must refuse the token.
pub(crate) fn header(token: &str, advertised: &[Algorithm]) -> Result<Header, IdTokenError> {
    let raw = raw_header(token);
    if raw.as_ref().is_some_and(|h| h.contains_key("crit")) {
        return Err(IdTokenError::CriticalHeader);
    }
    let header = jsonwebtoken::decode_header(token).map_err(|_| {
        // A header that parses as JSON with an `alg` we do not know (`none`, say) is refused
        // for its algorithm; anything else is simply malformed.
        if raw.is_some_and(|h| h.get("alg").is_some_and(Value::is_string)) {
            IdTokenError::AlgorithmNotAllowed
        } else {
            IdTokenError::Malformed
        }
    })?;
    let allowed = ASYMMETRIC.contains(&header.alg)
        && (advertised.is_empty() || advertised.contains(&header.alg));
    if !allowed {
        return Err(IdTokenError::AlgorithmNotAllowed);
    }
    Ok(header)
}

/// The JOSE header as a JSON object, if it is one.
fn raw_header(token: &str) -> Option<Map<String, Value>> {
    use base64::Engine as _;
    let (first, _) = token.split_once('.')?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(first)
        .ok()?;
    serde_json::from_slice(&json).ok()
}

/// Picks the key for `header`: by `kid`, else the single compatible key. `Err(UnknownKey)`
/// means a refetch of the JWKS may help.
pub(crate) fn select_key<'k>(
    keys: &'k [VerifyKey],
    header: &Header,
) -> Result<&'k VerifyKey, IdTokenError> {
    let compatible =
        |k: &&VerifyKey| k.family == header.alg.family() && k.alg.is_none_or(|a| a == header.alg);
    match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(compatible)
            .find(|k| k.kid.as_deref() == Some(kid.as_str()))
            .ok_or(IdTokenError::UnknownKey),
        None => {
            let mut candidates = keys.iter().filter(compatible);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(IdTokenError::UnknownKey),
                (Some(_), Some(_)) => Err(IdTokenError::AmbiguousKey),
            }
        }
    }
}

/// Verifies the signature and returns the claims, unchecked.
pub(crate) fn verify_signature(
    token: &str,
    header: &Header,
    key: &VerifyKey,
) -> Result<Map<String, Value>, IdTokenError> {
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidEddsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => IdTokenError::BadSignature,
            _ => IdTokenError::Malformed,
        })
}

/// Checks the claims of a token whose signature is valid.
pub(crate) fn check_claims(
    claims: &Map<String, Value>,
    want: &Expected<'_>,
) -> Result<(), IdTokenError> {
    if claims.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(IdTokenError::WrongIssuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => {
            let list: Option<Vec<&str>> = list.iter().map(Value::as_str).collect();
            list.ok_or(IdTokenError::WrongAudience)?
        }
        _ => return Err(IdTokenError::WrongAudience),
    };
    if !audiences.contains(&want.client_id) {
        return Err(IdTokenError::WrongAudience);
    }
    if audiences
        .iter()
        .any(|a| *a != want.client_id && !want.trusted_audiences.iter().any(|t| t == a))
    {
        return Err(IdTokenError::UntrustedAudience);
    }
    match claims.get("azp") {
        None => {}
        Some(Value::String(azp)) if azp == want.client_id => {}
        Some(_) => return Err(IdTokenError::WrongAuthorizedParty),
    }
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(IdTokenError::MissingExpiry)?;
    if exp + (want.leeway as f64) <= want.now as f64 {
        return Err(IdTokenError::Expired(skew(want.now as f64, exp)));
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        if nbf > (want.now + want.leeway) as f64 {
            return Err(IdTokenError::NotYetValid(skew(nbf, want.now as f64)));
        }
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(IdTokenError::MissingIssuedAt)?;
    if iat > (want.now + want.leeway) as f64 {
        return Err(IdTokenError::IssuedInFuture(skew(iat, want.now as f64)));
    }
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
    let now = want.now as f64;
    if auth_time > now + want.leeway as f64 {
        return Err(IdTokenError::AuthTimeInFuture(skew(auth_time, now)));
    }
    if auth_time + max_age as f64 + (want.leeway as f64) < now {
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
    use serde_json::json;

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://id.example.com",
            client_id: "app",
            trusted_audiences: &[],
            nonce: "n-0S6_WzA2Mj",
            max_age: None,
            acr: &[],
            now: 1_000_000,
            leeway: 60,
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
            Err(IdTokenError::WrongIssuer)
        );
        assert_eq!(
            check_claims(&with("aud", json!("other")), &w),
            Err(IdTokenError::WrongAudience)
        );
        assert_eq!(
            check_claims(&with("aud", json!(["app", "evil"])), &w),
            Err(IdTokenError::UntrustedAudience)
        );
        assert_eq!(
            check_claims(&with("azp", json!("evil")), &w),
            Err(IdTokenError::WrongAuthorizedParty)
        );
        assert_eq!(
            check_claims(&with("exp", json!(999_900)), &w),
            Err(IdTokenError::Expired(100))
        );
        assert_eq!(
            check_claims(&without("exp"), &w),
            Err(IdTokenError::MissingExpiry)
        );
        assert_eq!(
            check_claims(&with("iat", json!(1_000_100)), &w),
            Err(IdTokenError::IssuedInFuture(100))
        );
        assert_eq!(
            check_claims(&without("iat"), &w),
            Err(IdTokenError::MissingIssuedAt)
        );
        assert_eq!(
            check_claims(&with("nbf", json!(1_000_600)), &w),
            Err(IdTokenError::NotYetValid(600))
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
        let w = Expected {
            trusted_audiences: &trusted,
            ..want()
        };
        assert_eq!(
            check_claims(&with("aud", json!(["app", "api"])), &w),
            Ok(())
        );
    }

    #[test]
    fn header_refuses_none_and_hmac() {
        // {"alg":"none"} . {} . ""
        assert_eq!(
            header("eyJhbGciOiJub25lIn0.e30.", &[]).unwrap_err(),
            IdTokenError::AlgorithmNotAllowed
        );
        // {"alg":"HS256","typ":"JWT"}
        let hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln";
        assert_eq!(
            header(hs, &[]).unwrap_err(),
            IdTokenError::AlgorithmNotAllowed
        );
        assert_eq!(header("garbage", &[]).unwrap_err(), IdTokenError::Malformed);
        // {"alg":"RS256"} allowed unless the provider advertises only ES256
        let rs = "eyJhbGciOiJSUzI1NiJ9.e30.c2ln";
        assert!(header(rs, &[]).is_ok());
        for crit in [
            r#"{"alg":"RS256","crit":["exp"],"exp":1}"#,
            r#"{"alg":"RS256","crit":[]}"#,
            r#"{"alg":"RS256","crit":null}"#,
            r#"{"alg":"RS256","crit":"b64"}"#,
            r#"{"alg":"none","crit":["b64"],"b64":false}"#,
        ] {
            use base64::Engine as _;
            let h = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(crit);
            assert_eq!(
                header(&format!("{h}.e30.c2ln"), &[]).unwrap_err(),
                IdTokenError::CriticalHeader,
                "{crit}"
            );
        }
        assert_eq!(
            header(rs, &[Algorithm::ES256]).unwrap_err(),
            IdTokenError::AlgorithmNotAllowed
        );
    }
}
