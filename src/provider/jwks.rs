//! The provider's signing keys (JWKS): parsed into the keys we can use, cached, and refetched
//! once when a token names an unknown `kid`: single-flight (one fetch however many logins wait)
//! and at most once per cooldown.

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use super::discovery::DISCOVERY_TTL;
use super::error::ProviderError;
use super::Provider;

/// A verification key from the JWKS.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<Algorithm>,
    pub(crate) family: AlgorithmFamily,
    pub(crate) key: DecodingKey,
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

impl Provider {
    /// How many times the JWKS has been fetched (for diagnostics and tests).
    pub(crate) fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// The cached keys: fetched if there are none yet, and again once they are older than the
    /// discovery TTL, so keys the provider withdrew stop being trusted (on failure the old keys
    /// stay in use).
    pub(crate) async fn keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        if let Some((keys, at)) = &self.read_cache().keys {
            if self.age(*at) < DISCOVERY_TTL {
                return Ok(keys.clone());
            }
        }
        self.refresh_keys(None).await
    }

    /// Fetches the JWKS. With `seen`, because a token named a key we do not have: single-flight
    /// (if another task refreshed since `seen` was read, its result is used) and rate-limited
    /// (within the cooldown of the last fetch, the cached keys are returned unchanged). Without
    /// `seen`, because there are no keys yet or they are stale.
    pub(crate) async fn refresh_keys(
        &self,
        seen: Option<&Arc<Vec<VerifyKey>>>,
    ) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let _flight = self.jwks_flight.lock().await;
        let cached = self.read_cache().keys.clone();
        if let Some((keys, at)) = &cached {
            let skip = match seen {
                None => self.age(*at) < DISCOVERY_TTL,
                Some(s) => !Arc::ptr_eq(s, keys) || self.age(*at) < self.jwks_cooldown,
            };
            if skip {
                return Ok(keys.clone());
            }
        }
        let fetched = self.fetch_keys().await;
        match (fetched, cached) {
            (Ok(keys), _) => Ok(keys),
            // A stale set is better than none while the provider is away.
            (Err(_), Some((keys, _))) if seen.is_none() => Ok(keys),
            (Err(err), _) => Err(err),
        }
    }

    async fn fetch_keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let metadata = self.metadata().await?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.http.get(metadata.jwks_uri.as_str(), "JWKS").await?;
        let keys = Arc::new(parse_jwks(&body)?);
        tracing::debug!(target: "tower_oidc", issuer = %self.config.issuer, keys = keys.len(), "fetched JWKS");
        self.write_cache().keys = Some((keys.clone(), self.clock.now()));
        Ok(keys)
    }
}

/// Parses a JWKS, keeping the signature keys we can use and skipping the rest: symmetric keys
/// (a public JWKS must never yield an HMAC secret), encryption keys and unknown key types.
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerifyKey>, ProviderError> {
    #[derive(Deserialize)]
    struct RawSet {
        keys: Vec<Value>,
    }
    let set: RawSet = serde_json::from_slice(body).map_err(|_| {
        ProviderError::BadResponse("the JWKS is not a JSON object with `keys`".into())
    })?;
    let keys: Vec<VerifyKey> = set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|jwk| {
            let family = match &jwk.algorithm {
                AlgorithmParameters::RSA(_) => AlgorithmFamily::Rsa,
                AlgorithmParameters::EllipticCurve(_) => AlgorithmFamily::Ec,
                AlgorithmParameters::OctetKeyPair(_) => AlgorithmFamily::Ed,
                _ => return None,
            };
            let alg = match jwk.common.key_algorithm {
                None => None,
                Some(a) => Some(signing_alg(a)?),
            };
            let key = DecodingKey::from_jwk(&jwk).ok()?;
            Some(VerifyKey {
                kid: jwk.common.key_id.clone(),
                alg,
                family,
                key,
            })
        })
        .collect();
    if keys.is_empty() {
        return Err(ProviderError::BadResponse(
            "the JWKS holds no usable signature key".into(),
        ));
    }
    Ok(keys)
}

fn signing_alg(a: KeyAlgorithm) -> Option<Algorithm> {
    Some(match a {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const RSA_N: &str = "m3L6kicPMEOvuyWn4fwyvjX8F447dHqr74cvC7D0Qejs26kw2XxuoOJ52gtZD6dtyqQb48niPm-vbbZkw_3MYjD1tIF9fQ5CsMYTxl_0mFA90SnjQfH4urjSFpaspRW5Bl04hfWA3Erwu7BEQC2wVptK2j_myo_KQ4pIfY8ramHuXUqeWMEgy3jIGyrlpVswVYLupDFe1PyR9-6v3LCoHsnXC9rlHiZi4xc6taM3QKuHBO2o_8GrttGU-qaY6m69ZunwPraMu2DnPiENT5RbKlyarIkXbYLL0ujO8DF5dGubf05Pdw7n52jYFHi9QBflXMUGmZ2pnuGNXmTahqq3fQ";

    #[test]
    fn keeps_signature_keys_and_skips_secrets_encryption_keys_and_junk() {
        let body = format!(
            r#"{{"keys":[
                {{"kty":"RSA","kid":"sig","use":"sig","alg":"RS256","n":"{RSA_N}","e":"AQAB"}},
                {{"kty":"RSA","kid":"enc","use":"enc","n":"{RSA_N}","e":"AQAB"}},
                {{"kty":"oct","kid":"hmac","k":"c2VjcmV0"}},
                {{"kty":"RSA","kid":"odd-alg","alg":"RSA-OAEP","n":"{RSA_N}","e":"AQAB"}},
                {{"kty":"nonsense"}}
            ]}}"#
        );
        let keys = parse_jwks(body.as_bytes()).unwrap();
        let kids: Vec<_> = keys.iter().map(|k| k.kid.as_deref()).collect();
        assert_eq!(kids, [Some("sig")]);
        assert_eq!(keys[0].alg, Some(Algorithm::RS256));
        assert_eq!(keys[0].family, AlgorithmFamily::Rsa);
        assert!(
            !format!("{:?}", keys[0]).contains(RSA_N),
            "Debug shows no key material"
        );
    }

    #[test]
    fn a_set_without_a_usable_key_is_refused() {
        for body in [
            r#"{"keys":[]}"#,
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#,
            "[]",
            "x",
        ] {
            assert!(
                matches!(
                    parse_jwks(body.as_bytes()),
                    Err(ProviderError::BadResponse(_))
                ),
                "{body}"
            );
        }
    }
}
