//! The provider's signing keys (JWKS): parsed into the keys we can use, cached, and refetched
//! when a token's key is not among them.
//!
//! The cached set is fetched on first use and again once it is older than the discovery TTL
//! (the scheduled refresh). Between those, a token whose `kid` is unknown, or whose signature
//! fails with the cached key of its `kid` (a provider restarted with a fresh key under the same
//! id), forces a refetch at once, so a provider that rotates its keys is followed at the first
//! login that sees the new key. Forced refetches are single-flight (one fetch however many
//! logins wait) and bounded, so a flood of tokens naming random `kid`s cannot make us hammer the
//! provider:
//!
//! - between two forced refetches lies at least the refetch floor
//!   ([`with_jwks_refetch_cooldown`](crate::OidcConfigBuilder::with_jwks_refetch_cooldown),
//!   5 s by default); the first fetch and the scheduled refresh do not start it;
//! - a `kid` whose forced refetch brought no new key does not force another one until the key
//!   set changes or the scheduled refresh runs (the last [`MAX_REMEMBERED_KIDS`] such ids are
//!   remembered).

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use serde::Deserialize;
use serde_json::Value;

use super::discovery::DISCOVERY_TTL;
use super::error::ProviderError;
use super::parsed_key::ParsedKey;
use super::Provider;
use crate::random::sha256;

/// How many `kid`s whose forced refetch brought nothing new are remembered (the oldest is
/// forgotten first; the refetch floor still bounds the fetches of a flood beyond them).
pub(crate) const MAX_REMEMBERED_KIDS: usize = 64;

/// A verification key from the JWKS.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    pub(crate) kid: Option<String>,
    pub(crate) alg: Option<Algorithm>,
    pub(crate) family: AlgorithmFamily,
    pub(crate) key: DecodingKey,
    /// The key parsed once for aws-lc-rs (`None` for a P-521 key, left to `key`).
    pub(crate) parsed: Option<Arc<ParsedKey>>,
    /// SHA-256 of the key's JWK as published (its members in sorted order), to tell whether a
    /// refetch brought anything new.
    pub(crate) thumbprint: [u8; 32],
}

impl fmt::Debug for VerifyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish()
    }
}

/// What bounds the forced refetches; held in the single-flight mutex, so only the task that
/// may fetch reads or changes it.
#[derive(Debug, Default)]
pub(crate) struct Refetches {
    /// When the last forced refetch started (whether or not it succeeded).
    last: Option<SystemTime>,
    /// Digests of the `kid`s whose forced refetch brought no new key, oldest first.
    fruitless: VecDeque<[u8; 32]>,
}

impl Refetches {
    fn remember(&mut self, kid: [u8; 32]) {
        if self.fruitless.len() >= MAX_REMEMBERED_KIDS {
            self.fruitless.pop_front();
        }
        self.fruitless.push_back(kid);
    }
}

/// A `kid` (or its absence) as remembered by [`Refetches`].
fn kid_digest(kid: Option<&str>) -> [u8; 32] {
    match kid {
        // A tag byte keeps "no kid" apart from every real one.
        Some(kid) => sha256(&[b"k", kid.as_bytes()].concat()),
        None => sha256(b"-"),
    }
}

/// Whether two key sets hold the same keys, in any order.
fn same_keys(a: &[VerifyKey], b: &[VerifyKey]) -> bool {
    let prints = |keys: &[VerifyKey]| {
        let mut p: Vec<[u8; 32]> = keys.iter().map(|k| k.thumbprint).collect();
        p.sort_unstable();
        p
    };
    prints(a) == prints(b)
}

impl Provider {
    /// How many times the JWKS has been fetched (for diagnostics and tests).
    pub(crate) fn jwks_fetches(&self) -> u64 {
        self.jwks_fetches.load(Ordering::Relaxed)
    }

    /// The cached keys: fetched if there are none yet, and again once they are older than the
    /// discovery TTL, so keys the provider withdrew stop being trusted (on failure the old keys
    /// stay in use). Neither fetch starts the refetch floor.
    pub(crate) async fn keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        if let Some(keys) = self.fresh_keys() {
            return Ok(keys);
        }
        let mut refetches = self.jwks_flight.lock().await;
        // Another task may have fetched while this one waited.
        if let Some(keys) = self.fresh_keys() {
            return Ok(keys);
        }
        let stale = self.read_cache().keys.clone();
        match (self.fetch_keys().await, stale) {
            (Ok(keys), _) => {
                // A new set, or the scheduled look at the old one: every `kid` may try again.
                refetches.fruitless.clear();
                Ok(keys)
            }
            // A stale set is better than none while the provider is away.
            (Err(_), Some((keys, _))) => Ok(keys),
            (Err(err), None) => Err(err),
        }
    }

    fn fresh_keys(&self) -> Option<Arc<Vec<VerifyKey>>> {
        match &self.read_cache().keys {
            Some((keys, at)) if self.age(*at) < DISCOVERY_TTL => Some(keys.clone()),
            _ => None,
        }
    }

    /// Refetches the JWKS because a token's key was not in `seen` (its `kid` is unknown, or its
    /// signature failed with the cached key): the keys to try again with, or `seen` itself when
    /// no refetch may be made now (within the refetch floor of the last forced one, or for a
    /// `kid` whose last forced refetch brought nothing new). Single-flight: if another task
    /// fetched since `seen` was read, its keys are returned without a fetch.
    pub(crate) async fn refetch_keys(
        &self,
        seen: &Arc<Vec<VerifyKey>>,
        kid: Option<&str>,
    ) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let mut refetches = self.jwks_flight.lock().await;
        if let Some((keys, _)) = &self.read_cache().keys {
            if !Arc::ptr_eq(seen, keys) {
                return Ok(keys.clone());
            }
        }
        let digest = kid_digest(kid);
        let within_floor = refetches
            .last
            .is_some_and(|at| self.age(at) < self.jwks_cooldown);
        if within_floor || refetches.fruitless.contains(&digest) {
            tracing::debug!(
                target: "tower_oidc",
                issuer = %self.config.issuer,
                reason = if within_floor { "within the refetch floor" } else { "this kid's last refetch brought no new key" },
                "JWKS refetch skipped",
            );
            return Ok(seen.clone());
        }
        // The floor starts before the fetch: a failing provider is not asked again at once.
        refetches.last = Some(self.clock.now());
        let fresh = self.fetch_keys().await?;
        if same_keys(seen, &fresh) {
            refetches.remember(digest);
        } else {
            refetches.fruitless.clear();
        }
        Ok(fresh)
    }

    async fn fetch_keys(&self) -> Result<Arc<Vec<VerifyKey>>, ProviderError> {
        let metadata = self.metadata().await?;
        self.jwks_fetches.fetch_add(1, Ordering::Relaxed);
        let keys = crate::meter::provider_call(self.config.slug.as_str(), "jwks", async {
            let body = self.http.get(metadata.jwks_uri.as_str(), "JWKS").await?;
            parse_jwks(&body)
        })
        .await?;
        let keys = Arc::new(keys);
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
        .filter_map(|v| {
            // serde_json's maps are sorted, so this is the same for the same key however the
            // provider orders its members.
            let thumbprint = sha256(v.to_string().as_bytes());
            Some((serde_json::from_value::<Jwk>(v).ok()?, thumbprint))
        })
        .filter(|(jwk, _)| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|(jwk, thumbprint)| {
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
            let parsed = ParsedKey::new(&jwk.algorithm).map(Arc::new);
            if family == AlgorithmFamily::Rsa && parsed.is_none() {
                // `n` or `e` is not base64url.
                return None;
            }
            Some(VerifyKey {
                kid: jwk.common.key_id.clone(),
                alg,
                family,
                key,
                parsed,
                thumbprint,
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
    fn the_same_keys_in_another_order_or_layout_are_the_same_set() {
        let a = format!(r#"{{"kty":"RSA","kid":"a","n":"{RSA_N}","e":"AQAB"}}"#);
        let a_reordered = format!(r#"{{ "e": "AQAB", "n": "{RSA_N}", "kid": "a", "kty": "RSA" }}"#);
        let b = format!(r#"{{"kty":"RSA","kid":"b","n":"{RSA_N}","e":"AQAB"}}"#);
        let set = |keys: &[&str]| {
            parse_jwks(format!(r#"{{"keys":[{}]}}"#, keys.join(",")).as_bytes()).unwrap()
        };
        assert!(same_keys(&set(&[&a, &b]), &set(&[&b, &a_reordered])));
        assert!(!same_keys(&set(&[&a]), &set(&[&a, &b])));
        assert!(
            !same_keys(&set(&[&a]), &set(&[&b])),
            "another kid is another key"
        );
    }

    #[test]
    fn remembered_kids_are_bounded_and_never_confuse_no_kid_with_a_kid() {
        let mut r = Refetches::default();
        for i in 0..(MAX_REMEMBERED_KIDS + 10) {
            r.remember(kid_digest(Some(&format!("kid-{i}"))));
        }
        assert_eq!(r.fruitless.len(), MAX_REMEMBERED_KIDS);
        assert!(
            !r.fruitless.contains(&kid_digest(Some("kid-0"))),
            "the oldest is forgotten"
        );
        assert!(r.fruitless.contains(&kid_digest(Some("kid-73"))));
        assert_ne!(kid_digest(None), kid_digest(Some("")));
        assert_ne!(kid_digest(None), kid_digest(Some("-")));
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
