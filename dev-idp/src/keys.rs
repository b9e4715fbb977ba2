//! The provider's signing key, the JWKS endpoint that publishes its public half, and the
//! random values (key ids, codes, access tokens) it makes.

use std::sync::Arc;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey, ECDSA_P256_SHA256_FIXED,
    ECDSA_P256_SHA256_FIXED_SIGNING,
};
use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::StatusCode;
use serde_json::{json, Map, Value};

use crate::idp::DevIdp;
use crate::response::json_response;

/// The ES256 key the provider signs ID tokens with, made at start-up.
pub(crate) struct SigningKey {
    pair: EcdsaKeyPair,
    pub(crate) kid: String,
    /// The public key, uncompressed: `0x04 || x || y`.
    public: Vec<u8>,
}

impl SigningKey {
    pub(crate) fn generate() -> Self {
        // Generating a P-256 key takes no input; it fails only when the crypto library itself
        // is broken, and then no provider can run.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("aws-lc-rs could not generate a P-256 key");
        let public = pair.public_key().as_ref().to_vec();
        Self {
            pair,
            kid: random_token(12),
            public,
        }
    }

    pub(crate) fn jwk(&self) -> Value {
        // An uncompressed P-256 point is 65 bytes: 0x04, then x and y of 32 bytes each.
        let point = self.public.get(1..).unwrap_or_default();
        let (x, y) = point.split_at(point.len() / 2);
        json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(x),
            "y": B64.encode(y),
            "use": "sig",
            "alg": "ES256",
            "kid": self.kid,
        })
    }

    /// A compact JWS (RFC 7515) of `claims`, signed ES256.
    pub(crate) fn sign(&self, claims: &Map<String, Value>) -> Option<String> {
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": self.kid});
        let signing_input = format!(
            "{}.{}",
            B64.encode(serde_json::to_vec(&header).ok()?),
            B64.encode(serde_json::to_vec(claims).ok()?)
        );
        let signature = self
            .pair
            .sign(&SystemRandom::new(), signing_input.as_bytes())
            .ok()?;
        Some(format!(
            "{signing_input}.{}",
            B64.encode(signature.as_ref())
        ))
    }

    /// The claims of a JWS this key signed, whatever their expiry; `None` for anything else.
    pub(crate) fn verify(&self, token: &str) -> Option<Map<String, Value>> {
        let mut parts = token.split('.');
        let (Some(h), Some(p), Some(s), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let header: Map<String, Value> = serde_json::from_slice(&B64.decode(h).ok()?).ok()?;
        if header.get("alg").and_then(Value::as_str) != Some("ES256")
            || header.get("kid").and_then(Value::as_str) != Some(self.kid.as_str())
        {
            return None;
        }
        let signature = B64.decode(s).ok()?;
        let signing_input = &token[..h.len() + 1 + p.len()];
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.public)
            .verify(signing_input.as_bytes(), &signature)
            .ok()?;
        serde_json::from_slice(&B64.decode(p).ok()?).ok()
    }
}

/// `GET /jwks`: the public key, as a JWK set (RFC 7517 5).
pub(crate) async fn jwks(State(idp): State<Arc<DevIdp>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({"keys": [idp.key.jwk()]}),
        "public, max-age=60",
    )
}

/// `n` random bytes from the operating system, base64url-encoded.
pub(crate) fn random_token(n: usize) -> String {
    let mut buf = vec![0u8; n];
    // A CSPRNG failure leaves no safe way to make a code or token: stop rather than continue
    // with predictable values.
    aws_lc_rs::rand::fill(&mut buf).expect("the operating system's random number generator failed");
    B64.encode(buf)
}
