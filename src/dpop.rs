//! DPoP (RFC 9449): the process's proof-of-possession key, an ES256 (P-256) key pair made once
//! from the crypto backend and kept in memory only, and the proof JWTs signed with it.
//!
//! A proof names the request it is for (`htm`, `htu`), is fresh (`jti`, `iat`), carries the
//! server's `nonce` when one was asked for, and at a resource (userinfo, the app's APIs) the
//! hash of the access token it accompanies (`ath`). Its header holds the public key only.

use std::sync::OnceLock;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use serde::Serialize;

/// The process's DPoP key pair and its header, encoded once.
pub(crate) struct DpopKey {
    pair: EcdsaKeyPair,
    /// The base64url of the proof's header: `typ`, `alg` and the public `jwk`.
    header: String,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey([private])")
    }
}

static KEY: OnceLock<DpopKey> = OnceLock::new();

/// The process's key, made at the first call (the layer's construction, when a provider has
/// DPoP on).
pub(crate) fn key() -> &'static DpopKey {
    KEY.get_or_init(DpopKey::generate)
}

#[derive(Serialize)]
struct Claims<'a> {
    jti: String,
    htm: &'a str,
    htu: &'a str,
    iat: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ath: Option<String>,
}

impl DpopKey {
    fn generate() -> Self {
        // As with the CSPRNG: without a key no proof can be made, and there is no safe way on.
        let pair = EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("the crypto backend could not make the DPoP key");
        // An uncompressed P-256 point: 0x04, then x and y of 32 bytes each.
        let point = pair.public_key().as_ref();
        let jwk = serde_json::json!({
            "kty": "EC",
            "crv": "P-256",
            "x": B64.encode(&point[1..33]),
            "y": B64.encode(&point[33..65]),
        });
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
        Self {
            pair,
            header: B64.encode(header.to_string()),
        }
    }

    /// A proof for `method` at `url` (its query and fragment left out), made at `iat` (unix
    /// seconds), with the server's `nonce` and, at a resource, the `access_token` it goes with.
    pub(crate) fn proof(
        &self,
        method: &str,
        url: &url::Url,
        iat: u64,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> String {
        let mut htu = url.clone();
        htu.set_query(None);
        htu.set_fragment(None);
        let claims = Claims {
            jti: crate::random::random_token(24),
            htm: method,
            htu: htu.as_str(),
            iat,
            nonce,
            ath: access_token.map(|t| crate::random::sha256_b64(t.as_bytes())),
        };
        let payload = serde_json::to_vec(&claims).expect("the proof's claims serialize");
        let mut jwt = format!("{}.{}", self.header, B64.encode(payload));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), jwt.as_bytes())
            .expect("the crypto backend could not sign the DPoP proof");
        jwt.push('.');
        jwt.push_str(&B64.encode(signature.as_ref()));
        jwt
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn part(jwt: &str, i: usize) -> Value {
        serde_json::from_slice(&B64.decode(jwt.split('.').nth(i).unwrap()).unwrap()).unwrap()
    }

    #[test]
    fn a_proof_is_signed_fresh_and_names_its_request() {
        let key = key();
        let url = url::Url::parse("https://id.example.com/token?x=1#f").unwrap();
        let a = key.proof("POST", &url, 1_000, None, None);
        let b = key.proof("GET", &url, 1_001, Some("n-1"), Some("AT"));
        let header = part(&a, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert!(header["jwk"].get("d").is_none(), "no private part");
        let (ca, cb) = (part(&a, 1), part(&b, 1));
        assert_ne!(ca["jti"], cb["jti"]);
        assert_eq!(ca["htm"], "POST");
        assert_eq!(ca["htu"], "https://id.example.com/token");
        assert_eq!(ca["iat"], 1_000);
        assert!(ca.get("nonce").is_none() && ca.get("ath").is_none());
        assert_eq!(cb["nonce"], "n-1");
        assert_eq!(cb["ath"], crate::random::sha256_b64(b"AT"));

        // The signature verifies with the header's public key.
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(header["jwk"].clone()).unwrap();
        let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        jsonwebtoken::decode::<Value>(&b, &decoding, &validation).expect("a valid signature");
    }
}
