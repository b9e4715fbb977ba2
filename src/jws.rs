//! A JWS signed by a provider (an ID token or a JWT access token): its key from the provider's
//! JWKS by `kid`, refetched once when the key is unknown or the signature fails with the cached
//! one (single-flight and bounded by [`crate::provider::jwks`]), then the signature.

use std::sync::Arc;

use jsonwebtoken::Header;
use serde_json::{Map, Value};

use crate::id_token::{self, IdTokenError};
use crate::provider::{Provider, ProviderError, VerifyKey};

/// The claims of `token`, unchecked, once a key of `provider` verified its signature. The
/// header must already have passed [`id_token::header`] (the algorithm allowlist). The outer
/// `Err` is `Ok(validation failure)` or `Err(provider failure)`.
pub(crate) async fn verified_claims(
    provider: &Provider,
    token: &str,
    header: &Header,
) -> Result<Map<String, Value>, Result<IdTokenError, ProviderError>> {
    let keys = provider.keys().await.map_err(Err)?;
    match signed_claims(&keys, token, header) {
        Err(err @ (IdTokenError::UnknownKey | IdTokenError::BadSignature)) => {
            // The provider may have rotated its keys, or restarted with a fresh key under the
            // same `kid`: refetch (single-flight, bounded) and try once more.
            let fresh = provider
                .refetch_keys(&keys, header.kid.as_deref())
                .await
                .map_err(Err)?;
            if Arc::ptr_eq(&fresh, &keys) {
                return Err(Ok(err));
            }
            signed_claims(&fresh, token, header).map_err(Ok)
        }
        other => other.map_err(Ok),
    }
}

/// The claims of `token` if one of `keys` fits its header and verifies its signature.
fn signed_claims(
    keys: &[VerifyKey],
    token: &str,
    header: &Header,
) -> Result<Map<String, Value>, IdTokenError> {
    let key = id_token::select_key(keys, header)?;
    id_token::verify_signature(token, header, key)
}
