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
}

/// What the time claims say, when they rule the token out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timing {
    /// Seconds since it expired.
    Expired(u64),
    MissingExpiry,
    /// Seconds until it becomes valid.
    NotYetValid(u64),
    MissingIssuedAt,
    /// Seconds its issue time lies ahead.
    IssuedInFuture(u64),
}

impl From<Timing> for IdTokenError {
    fn from(t: Timing) -> Self {
        match t {
            Timing::Expired(s) => Self::Expired(s),
            Timing::MissingExpiry => Self::MissingExpiry,
            Timing::NotYetValid(s) => Self::NotYetValid(s),
            Timing::MissingIssuedAt => Self::MissingIssuedAt,
            Timing::IssuedInFuture(s) => Self::IssuedInFuture(s),
        }
    }
}

/// `exp` (required), `nbf` (when present) and `iat` (required) at `now`, each with `leeway`
/// seconds of clock skew allowed: shared by ID tokens and access tokens.
pub(crate) fn times(claims: &Map<String, Value>, now: u64, leeway: u64) -> Result<(), Timing> {
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .ok_or(Timing::MissingExpiry)?;
    if exp + (leeway as f64) <= now as f64 {
        return Err(Timing::Expired(skew(now as f64, exp)));
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        if nbf > (now + leeway) as f64 {
            return Err(Timing::NotYetValid(skew(nbf, now as f64)));
        }
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(Timing::MissingIssuedAt)?;
    if iat > (now + leeway) as f64 {
        return Err(Timing::IssuedInFuture(skew(iat, now as f64)));
    }
    Ok(())
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
    pub(crate) now: u64,
    pub(crate) leeway: u64,
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
            issuer: provider.issuer.as_str(),
            client_id: provider.client_id.as_str(),
            trusted_audiences: &provider.trusted_audiences,
            nonce,
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
    if let Some(parsed) = key.rsa.as_ref().and_then(|rsa| rsa.parsed(header.alg)) {
        return verify_with_parsed(token, parsed);
    }
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

/// The signature of a compact JWS checked with a key parsed beforehand (an RSA key of the
/// cached JWKS), then its payload as the claims: what `jsonwebtoken::decode` does, without
/// rebuilding the key at each verification.
fn verify_with_parsed(
    token: &str,
    key: &aws_lc_rs::signature::ParsedPublicKey,
) -> Result<Map<String, Value>, IdTokenError> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (signed, signature) = token.rsplit_once('.').ok_or(IdTokenError::Malformed)?;
    let (_, payload) = signed.split_once('.').ok_or(IdTokenError::Malformed)?;
    if payload.contains('.') {
        return Err(IdTokenError::Malformed);
    }
    let signature = b64.decode(signature).map_err(|_| IdTokenError::Malformed)?;
    key.verify_sig(signed.as_bytes(), &signature)
        .map_err(|_| IdTokenError::BadSignature)?;
    let json = b64.decode(payload).map_err(|_| IdTokenError::Malformed)?;
    serde_json::from_slice(&json).map_err(|_| IdTokenError::Malformed)
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
    times(claims, want.now, want.leeway)?;
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

    #[test]
    fn an_rsa_key_parsed_once_verifies_each_rsa_algorithm_and_refuses_a_tampered_token() {
        use crate::provider::jwks::parse_jwks;
        use jsonwebtoken::Algorithm;
        let pem = include_bytes!("../tests/fixtures/rsa1.pem");
        let encoding = jsonwebtoken::EncodingKey::from_rsa_pem(pem).unwrap();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        let keys = parse_jwks(serde_json::json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
        assert!(keys[0].rsa.is_some());
        for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
            let header = jsonwebtoken::Header::new(alg);
            let claims = serde_json::json!({"sub": "u1", "n": 7});
            let token = jsonwebtoken::encode(&header, &claims, &encoding).unwrap();
            let got = verify_signature(&token, &header, &keys[0]).unwrap();
            assert_eq!(serde_json::Value::Object(got), claims, "{alg:?}");
            let (signed, sig) = token.rsplit_once('.').unwrap();
            let flipped = if sig.starts_with('A') { "B" } else { "A" };
            let tampered = format!("{signed}.{flipped}{}", &sig[1..]);
            assert_eq!(
                verify_signature(&tampered, &header, &keys[0]),
                Err(IdTokenError::BadSignature),
                "{alg:?}"
            );
            let (_, payload) = signed.split_once('.').unwrap();
            let other = token.replacen(payload, "eyJzdWIiOiJ1MiJ9", 1);
            assert_eq!(
                verify_signature(&other, &header, &keys[0]),
                Err(IdTokenError::BadSignature)
            );
            assert_eq!(
                verify_signature(&format!("{token}.x"), &header, &keys[0]),
                Err(IdTokenError::Malformed)
            );
        }
    }

    use serde_json::json;

    fn want() -> Expected<'static> {
        Expected {
            issuer: "https://id.example.com",
            client_id: "app",
            trusted_audiences: &[],
            nonce: "n-0S6_WzA2Mj",
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
