//! The JWTs a provider signs, ID tokens, logout tokens and JWT access tokens alike: the header
//! and its algorithm allowlist, the key, the signature (refetching the JWKS once, within the
//! bounds of [`crate::provider::jwks`], for an unknown or changed key), and the claims they
//! carry (`iss`, `aud`, `azp`, `exp`, `nbf`, `iat`), checked by our clock.
//!
//! Each RSA, P-256, P-384 and Ed25519 key of the cached JWKS is parsed once (aws-lc-rs,
//! [`crate::provider::parsed_key`]), so its signatures are checked without rebuilding the key;
//! a P-521 key goes through jsonwebtoken, which checks the signature and the algorithm family
//! of the key. The header and the payload are each decoded and parsed once ([`payload`]). Every claim check is done here so that time comes from
//! the injectable [`Clock`](crate::Clock) and each failure has its own reason. What is
//! particular to one kind of token is in [`crate::id_token`], [`crate::logout_token`] and
//! [`crate::access_token`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use aws_lc_rs::signature::ParsedPublicKey;
use jsonwebtoken::{Algorithm, Header, Validation};
use serde::Deserialize as _;
use serde_json::{Map, Value};

use crate::config::ProviderConfig;
use crate::provider::{Provider, ProviderError, VerifyKey};

pub(crate) mod payload;

/// Signature algorithms accepted: asymmetric ones only. `none` cannot even be parsed, and HMAC
/// is never accepted, so a public key can never be used as an HMAC secret (RFC 8725 section
/// 3.1).
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

/// Why a signed token was refused, for any kind of token: each message is the rest of a
/// sentence whose subject names the token ("the ID token ..."). Never includes claim values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum JwtError {
    #[error("is not a well-formed JWS")]
    Malformed,
    #[error("is signed with an algorithm that is not allowed (only asymmetric algorithms the provider advertises)")]
    AlgorithmNotAllowed,
    #[error("names critical extensions in its header (crit), which this application does not understand (RFC 7515 section 4.1.11)")]
    CriticalHeader,
    #[error("names a key id that no key in the provider's JWKS has")]
    UnknownKey,
    #[error("has no key id and the provider's JWKS holds several keys")]
    AmbiguousKey,
    #[error("has an invalid signature")]
    BadSignature,
    #[error("was issued by another issuer")]
    WrongIssuer,
    #[error("is not meant for this application (audience)")]
    WrongAudience,
    #[error("carries an untrusted extra audience")]
    UntrustedAudience,
    #[error("names another client as its authorized party (azp)")]
    WrongAuthorizedParty,
    /// Seconds since the token expired, by our clock.
    #[error("expired {0} s ago by this server's clock; if it was just issued, this server's clock is ahead of the provider's: check NTP on both")]
    Expired(u64),
    #[error("has no expiry (exp)")]
    MissingExpiry,
    /// Seconds the issue time lies ahead of our clock (the measured skew).
    #[error("was issued {0} s in the future by this server's clock (more than the allowed leeway): the clocks differ by about that much, check NTP on both machines")]
    IssuedInFuture(u64),
    /// Seconds until the token becomes valid, by our clock.
    #[error(
        "is not valid for another {0} s (nbf) by this server's clock: check NTP on both machines"
    )]
    NotYetValid(u64),
    #[error("has no issue time (iat)")]
    MissingIssuedAt,
}

/// `later - earlier` in whole seconds, for messages (saturating, never negative).
pub(crate) fn skew(later: f64, earlier: f64) -> u64 {
    let d = (later - earlier).max(0.0);
    if d >= u64::MAX as f64 {
        u64::MAX
    } else {
        d as u64
    }
}

/// Whether a token must carry `exp`: an ID token must (OpenID Connect Core 1.0 section 2), a
/// logout token may (checked when present).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expiry {
    Required,
    WhenPresent,
}

/// Who must have issued the token, to whom, and when it is checked.
#[derive(Debug)]
pub(crate) struct Audience<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) trusted_audiences: &'a [String],
    pub(crate) now: u64,
    pub(crate) leeway: u64,
}

impl<'a> Audience<'a> {
    /// What a token of `provider` must say, checked at `now` with `leeway`.
    pub(crate) fn of(provider: &'a ProviderConfig, now: u64, leeway: Duration) -> Self {
        Self {
            issuer: provider.issuer.as_str(),
            client_id: provider.client_id.as_str(),
            trusted_audiences: &provider.trusted_audiences,
            now,
            leeway: leeway.as_secs(),
        }
    }
}

/// Reads the header and checks the algorithm against the allowlist (ours, narrowed to what the
/// provider advertises when it advertises anything). A header with `crit` is refused whatever
/// it lists: we understand no JWS extension, and RFC 7515 section 4.1.11 says a recipient that
/// does not understand one must refuse the token. The header is decoded and parsed once.
pub(crate) fn header(token: &str, advertised: &[Algorithm]) -> Result<Header, JwtError> {
    use base64::Engine as _;
    let parts = Parts::of(token).ok_or(JwtError::Malformed)?;
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts.header)
        .map_err(|_| JwtError::Malformed)?;
    let raw: Map<String, Value> = serde_json::from_slice(&json).map_err(|_| JwtError::Malformed)?;
    if raw.contains_key("crit") {
        return Err(JwtError::CriticalHeader);
    }
    // A header with an `alg` we do not know (`none`, say) is refused for its algorithm;
    // anything else is simply malformed.
    let alg_named = raw.get("alg").is_some_and(Value::is_string);
    let header = Header::deserialize(Value::Object(raw)).map_err(|_| {
        if alg_named {
            JwtError::AlgorithmNotAllowed
        } else {
            JwtError::Malformed
        }
    })?;
    let allowed = ASYMMETRIC.contains(&header.alg)
        && (advertised.is_empty() || advertised.contains(&header.alg));
    if !allowed {
        return Err(JwtError::AlgorithmNotAllowed);
    }
    Ok(header)
}

/// The parts of a compact JWS (RFC 7515 section 7.1): exactly three, dot-separated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Parts<'t> {
    header: &'t str,
    pub(crate) payload: &'t str,
    /// The signing input, `header.payload`.
    signed: &'t str,
    signature: &'t str,
}

impl<'t> Parts<'t> {
    /// `None` unless `token` has exactly three dot-separated parts.
    pub(crate) fn of(token: &'t str) -> Option<Self> {
        let (signed, signature) = token.rsplit_once('.')?;
        let (header, payload) = signed.split_once('.')?;
        if payload.contains('.') {
            return None;
        }
        Some(Self {
            header,
            payload,
            signed,
            signature,
        })
    }
}

/// Picks the key for `header`: by `kid`, else the single compatible key. `Err(UnknownKey)`
/// means a refetch of the JWKS may help.
pub(crate) fn select_key<'k>(
    keys: &'k [VerifyKey],
    header: &Header,
) -> Result<&'k VerifyKey, JwtError> {
    let compatible =
        |k: &&VerifyKey| k.family == header.alg.family() && k.alg.is_none_or(|a| a == header.alg);
    match &header.kid {
        Some(kid) => keys
            .iter()
            .filter(compatible)
            .find(|k| k.kid.as_deref() == Some(kid.as_str()))
            .ok_or(JwtError::UnknownKey),
        None => {
            let mut candidates = keys.iter().filter(compatible);
            match (candidates.next(), candidates.next()) {
                (Some(only), None) => Ok(only),
                (None, _) => Err(JwtError::UnknownKey),
                (Some(_), Some(_)) => Err(JwtError::AmbiguousKey),
            }
        }
    }
}

/// Verifies the signature and returns the claims, unchecked (a payload that repeats `exp`,
/// `nbf`, `sub`, `iss` or `aud` is malformed, [`payload`]).
pub(crate) fn verify_signature(
    token: &str,
    header: &Header,
    key: &VerifyKey,
) -> Result<Map<String, Value>, JwtError> {
    match parsed_key(key, header) {
        Some(parsed) => {
            let parts = Parts::of(token).ok_or(JwtError::Malformed)?;
            check_parsed(parts, parsed)?;
            payload::decode(parts.payload).ok_or(JwtError::Malformed)
        }
        None => decode_with_jsonwebtoken::<Map<String, Value>>(token, header, key),
    }
}

/// Verifies the signature of a token whose claims were read beforehand
/// ([`payload::decode`]).
pub(crate) fn check_signature(
    parts: Parts<'_>,
    token: &str,
    header: &Header,
    key: &VerifyKey,
) -> Result<(), JwtError> {
    match parsed_key(key, header) {
        Some(parsed) => check_parsed(parts, parsed),
        None => decode_with_jsonwebtoken::<serde::de::IgnoredAny>(token, header, key).map(drop),
    }
}

/// The key parsed beforehand for the header's algorithm (every RSA, P-256, P-384 and Ed25519
/// key of the cached JWKS); `None` leaves the token to jsonwebtoken.
fn parsed_key<'k>(key: &'k VerifyKey, header: &Header) -> Option<&'k ParsedPublicKey> {
    key.parsed.as_ref()?.for_alg(header.alg)
}

/// The signature of a compact JWS checked with a key parsed beforehand: what
/// `jsonwebtoken::decode` does, without rebuilding the key at each verification.
fn check_parsed(parts: Parts<'_>, key: &ParsedPublicKey) -> Result<(), JwtError> {
    use base64::Engine as _;
    let signature = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(parts.signature)
        .map_err(|_| JwtError::Malformed)?;
    key.verify_sig(parts.signed.as_bytes(), &signature)
        .map_err(|_| JwtError::BadSignature)
}

/// The signature checked by jsonwebtoken (a key with no parsed form, P-521), which checks the
/// algorithm family of the key too, and the claims as `T`.
fn decode_with_jsonwebtoken<T: serde::de::DeserializeOwned>(
    token: &str,
    header: &Header,
    key: &VerifyKey,
) -> Result<T, JwtError> {
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_nbf = false;
    validation.validate_aud = false;
    validation.required_spec_claims = HashSet::new();
    jsonwebtoken::decode::<T>(token, &key.key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            jsonwebtoken::errors::ErrorKind::InvalidSignature
            | jsonwebtoken::errors::ErrorKind::InvalidAlgorithm
            | jsonwebtoken::errors::ErrorKind::InvalidEcdsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidEddsaKey
            | jsonwebtoken::errors::ErrorKind::InvalidRsaKey(_)
            | jsonwebtoken::errors::ErrorKind::InvalidKeyFormat => JwtError::BadSignature,
            _ => JwtError::Malformed,
        })
}

/// The header and the claims (unchecked) of `token`, once its header passed the allowlist and
/// its signature verified with one of `provider`'s keys ([`verified_claims`]). The outer `Err`
/// is `Ok(refusal)` or `Err(provider failure)`.
pub(crate) async fn verified(
    provider: &Provider,
    advertised: &[Algorithm],
    token: &str,
) -> Result<(Header, Map<String, Value>), Result<JwtError, ProviderError>> {
    let header = header(token, advertised).map_err(Ok)?;
    let claims = verified_claims(provider, token, &header).await?;
    Ok((header, claims))
}

/// The claims (unchecked) of `token`, whose `header` passed [`header`], once its signature
/// verified with one of `provider`'s keys ([`with_keys`]). The outer `Err` is `Ok(refusal)`
/// or `Err(provider failure)`.
pub(crate) async fn verified_claims(
    provider: &Provider,
    token: &str,
    header: &Header,
) -> Result<Map<String, Value>, Result<JwtError, ProviderError>> {
    with_keys(provider, header, |key| verify_signature(token, header, key)).await
}

/// Whether the signature of `token`, whose `header` passed [`header`] and whose claims were
/// read beforehand from `parts` ([`payload::decode`]), verifies with one of `provider`'s keys
/// ([`with_keys`]).
pub(crate) async fn verified_signature(
    provider: &Provider,
    parts: Parts<'_>,
    token: &str,
    header: &Header,
) -> Result<(), Result<JwtError, ProviderError>> {
    with_keys(provider, header, |key| {
        check_signature(parts, token, header, key)
    })
    .await
}

/// `verify` with the key of `provider` that fits `header`. When it is not among the cached
/// keys (an unknown `kid`, or a signature that fails with the cached key of its `kid`), the
/// keys are refetched once (single-flight, bounded by the refetch floor) and `verify` is tried
/// again.
async fn with_keys<T>(
    provider: &Provider,
    header: &Header,
    verify: impl Fn(&VerifyKey) -> Result<T, JwtError>,
) -> Result<T, Result<JwtError, ProviderError>> {
    let keys = provider.keys().await.map_err(Err)?;
    let attempt = |keys: &[VerifyKey]| select_key(keys, header).and_then(&verify);
    match attempt(&keys) {
        Err(err @ (JwtError::UnknownKey | JwtError::BadSignature)) => {
            // The provider may have rotated its keys, or restarted with a fresh key under the
            // same `kid`: refetch (single-flight, bounded) and try once more.
            let fresh = provider
                .refetch_keys(&keys, header.kid.as_deref())
                .await
                .map_err(Err)?;
            if Arc::ptr_eq(&fresh, &keys) {
                return Err(Ok(err));
            }
            attempt(&fresh).map_err(Ok)
        }
        other => other.map_err(Ok),
    }
}

/// Checks the claims every signed token of the provider carries, in this order: `iss` exactly,
/// `aud` (our client id, and no audience that is neither ours nor trusted), `azp` when present,
/// `exp` (with the leeway), `nbf` when present, `iat` (required, not in the future beyond the
/// leeway). OpenID Connect Core 1.0 section 3.1.3.7; Back-Channel Logout 1.0 section 2.6.
pub(crate) fn check_common(
    claims: &Map<String, Value>,
    want: &Audience<'_>,
    expiry: Expiry,
) -> Result<(), JwtError> {
    if claims.get("iss").and_then(Value::as_str) != Some(want.issuer) {
        return Err(JwtError::WrongIssuer);
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(a)) => vec![a.as_str()],
        Some(Value::Array(list)) => {
            let list: Option<Vec<&str>> = list.iter().map(Value::as_str).collect();
            list.ok_or(JwtError::WrongAudience)?
        }
        _ => return Err(JwtError::WrongAudience),
    };
    if !audiences.contains(&want.client_id) {
        return Err(JwtError::WrongAudience);
    }
    if audiences
        .iter()
        .any(|a| *a != want.client_id && !want.trusted_audiences.iter().any(|t| t == a))
    {
        return Err(JwtError::UntrustedAudience);
    }
    match claims.get("azp") {
        None => {}
        Some(Value::String(azp)) if azp == want.client_id => {}
        Some(_) => return Err(JwtError::WrongAuthorizedParty),
    }
    times(claims, want.now, want.leeway, expiry)
}

/// `exp` (required or when present, with the leeway), `nbf` when present and `iat` (required,
/// not in the future beyond the leeway) at `now`: every signed token's times, access tokens'
/// too.
pub(crate) fn times(
    claims: &Map<String, Value>,
    now: u64,
    leeway: u64,
    expiry: Expiry,
) -> Result<(), JwtError> {
    let exp = match (claims.get("exp"), expiry) {
        (None, Expiry::WhenPresent) => None,
        (exp, _) => Some(exp.and_then(Value::as_f64).ok_or(JwtError::MissingExpiry)?),
    };
    if let Some(exp) = exp {
        if exp + (leeway as f64) <= now as f64 {
            return Err(JwtError::Expired(skew(now as f64, exp)));
        }
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_f64) {
        if nbf > (now + leeway) as f64 {
            return Err(JwtError::NotYetValid(skew(nbf, now as f64)));
        }
    }
    let iat = claims
        .get("iat")
        .and_then(Value::as_f64)
        .ok_or(JwtError::MissingIssuedAt)?;
    if iat > (now + leeway) as f64 {
        return Err(JwtError::IssuedInFuture(skew(iat, now as f64)));
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support;

#[cfg(test)]
mod tests {
    use super::test_support::{audience, claims, with, TestKey, CLIENT_ID, ISSUER};
    use super::*;
    use serde_json::json;

    /// Claims with what [`check_common`] reads and no `exp`.
    fn common() -> Map<String, Value> {
        claims(json!({"iss": ISSUER, "aud": CLIENT_ID, "iat": 999_990}))
    }

    /// `key` verifies a token it signed under `header`, with the claims signed, and refuses
    /// the token with its signature or its payload changed, and with a fourth part.
    fn verifies_only_what_it_signed(key: &TestKey, header: &Header) {
        let alg = header.alg;
        let signed_claims = json!({"sub": "u1", "n": 7});
        let token = key.sign(header, &signed_claims);
        let got = verify_signature(&token, header, key.verify_key()).unwrap();
        assert_eq!(Value::Object(got), signed_claims, "{alg:?}");
        let (signed, sig) = token.rsplit_once('.').unwrap();
        let flipped = if sig.starts_with('A') { "B" } else { "A" };
        let (_, payload) = signed.split_once('.').unwrap();
        for changed in [
            format!("{signed}.{flipped}{}", &sig[1..]),
            token.replacen(payload, "eyJzdWIiOiJ1MiJ9", 1),
        ] {
            assert_eq!(
                verify_signature(&changed, header, key.verify_key()),
                Err(JwtError::BadSignature),
                "{alg:?}"
            );
        }
        assert_eq!(
            verify_signature(&format!("{token}.x"), header, key.verify_key()),
            Err(JwtError::Malformed)
        );
    }

    #[test]
    fn an_rsa_key_parsed_once_verifies_each_rsa_algorithm_and_refuses_a_tampered_token() {
        let key = TestKey::rsa();
        assert!(key.verify_key().parsed.is_some());
        for alg in [Algorithm::RS256, Algorithm::RS512, Algorithm::PS256] {
            verifies_only_what_it_signed(&key, &Header::new(alg));
        }
    }

    #[test]
    fn an_ec_key_parsed_once_verifies_its_curves_algorithm_only() {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        for (alg, other) in [
            (Algorithm::ES256, Algorithm::ES384),
            (Algorithm::ES384, Algorithm::ES256),
        ] {
            let (key, pair) = TestKey::ec(alg);
            let parsed = key
                .verify_key()
                .parsed
                .as_ref()
                .expect("an EC key is parsed");
            assert!(parsed.for_alg(alg).is_some() && parsed.for_alg(other).is_none());
            let header = Header::new(alg);
            verifies_only_what_it_signed(&key, &header);
            // Signed, but with `exp` twice: malformed, as jsonwebtoken has it.
            let input = format!(
                "{}.{}",
                b64.encode(serde_json::to_vec(&header).unwrap()),
                b64.encode(r#"{"sub":"u1","exp":1,"exp":2}"#)
            );
            let rng = aws_lc_rs::rand::SystemRandom::new();
            let signature = pair.sign(&rng, input.as_bytes()).unwrap();
            let repeated = format!("{input}.{}", b64.encode(signature.as_ref()));
            assert_eq!(
                verify_signature(&repeated, &header, key.verify_key()),
                Err(JwtError::Malformed),
                "{alg:?}"
            );
        }
    }

    #[test]
    fn a_jws_has_exactly_three_parts() {
        let parts = Parts::of("h.p.s").unwrap();
        assert_eq!(
            (parts.header, parts.payload, parts.signed, parts.signature),
            ("h", "p", "h.p", "s")
        );
        for token in ["opaque-token", "h.p", "h.p.s.x", "h.p.s.x.y"] {
            assert!(Parts::of(token).is_none(), "{token}");
        }
        assert_eq!(header("h.p", &[]).unwrap_err(), JwtError::Malformed);
    }

    #[test]
    fn expiry_is_required_or_checked_when_present() {
        let w = audience();
        let none = common();
        assert_eq!(
            check_common(&none, &w, Expiry::Required),
            Err(JwtError::MissingExpiry)
        );
        assert_eq!(check_common(&none, &w, Expiry::WhenPresent), Ok(()));
        let expired = with(common(), "exp", json!(999_900));
        assert_eq!(
            check_common(&expired, &w, Expiry::WhenPresent),
            Err(JwtError::Expired(100))
        );
        let text = with(common(), "exp", json!("soon"));
        assert_eq!(
            check_common(&text, &w, Expiry::WhenPresent),
            Err(JwtError::MissingExpiry),
            "an exp that is not a number is refused"
        );
    }

    #[test]
    fn header_refuses_none_and_hmac() {
        // {"alg":"none"} . {} . ""
        assert_eq!(
            header("eyJhbGciOiJub25lIn0.e30.", &[]).unwrap_err(),
            JwtError::AlgorithmNotAllowed
        );
        // {"alg":"HS256","typ":"JWT"}
        let hs = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.e30.c2ln";
        assert_eq!(header(hs, &[]).unwrap_err(), JwtError::AlgorithmNotAllowed);
        assert_eq!(header("garbage", &[]).unwrap_err(), JwtError::Malformed);
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
                JwtError::CriticalHeader,
                "{crit}"
            );
        }
        assert_eq!(
            header(rs, &[Algorithm::ES256]).unwrap_err(),
            JwtError::AlgorithmNotAllowed
        );
    }
}
