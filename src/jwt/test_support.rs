//! The fixtures of the signed-token unit tests ([`crate::jwt`], [`crate::id_token`],
//! [`crate::logout_token`], [`crate::access_token`]): the provider and clock they are checked
//! against, claims written as JSON and edited one member at a time, and the key pairs (the RSA
//! key of `tests/fixtures/rsa1.pem`, fresh EC keys) as a parsed JWKS, with tokens they sign.

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Map, Value};

use super::Audience;
use crate::provider::VerifyKey;

/// The issuer of the test tokens.
pub(crate) const ISSUER: &str = "https://id.example.com";
/// Our client id, the audience of the test tokens.
pub(crate) const CLIENT_ID: &str = "app";
/// The time (Unix seconds) the test tokens are checked at.
pub(crate) const NOW: u64 = 1_000_000;

/// What a token of [`ISSUER`] for [`CLIENT_ID`] must say, checked at [`NOW`] with 60 s of
/// leeway and no trusted extra audience.
pub(crate) fn audience() -> Audience<'static> {
    Audience {
        issuer: ISSUER,
        client_id: CLIENT_ID,
        trusted_audiences: &[],
        now: NOW,
        leeway: 60,
    }
}

/// The claims of a JSON object.
pub(crate) fn claims(json: Value) -> Map<String, Value> {
    match json {
        Value::Object(claims) => claims,
        other => panic!("claims are a JSON object, not {other}"),
    }
}

/// `claims` with the member `key` set to `value`.
pub(crate) fn with(mut claims: Map<String, Value>, key: &str, value: Value) -> Map<String, Value> {
    claims.insert(key.into(), value);
    claims
}

/// `claims` without the members `keys`.
pub(crate) fn without(mut claims: Map<String, Value>, keys: &[&str]) -> Map<String, Value> {
    for key in keys {
        claims.remove(*key);
    }
    claims
}

/// A key pair of the tests: what signs, and the JWKS (of that one key) parsed as the provider's.
pub(crate) struct TestKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) jwks: Vec<VerifyKey>,
}

impl TestKey {
    /// The RSA key of `tests/fixtures/rsa1.pem`, published without `alg` (so for every RSA
    /// algorithm).
    pub(crate) fn rsa() -> Self {
        let encoding =
            EncodingKey::from_rsa_pem(include_bytes!("../../tests/fixtures/rsa1.pem")).unwrap();
        let jwk = jsonwebtoken::jwk::Jwk::from_encoding_key(&encoding, Algorithm::RS256).unwrap();
        let mut jwk = serde_json::to_value(jwk).unwrap();
        jwk.as_object_mut().unwrap().remove("alg");
        Self::with_jwk(encoding, jwk)
    }

    /// A fresh EC key for `alg` (ES256 on P-256, ES384 on P-384), and the key pair that signs
    /// with it directly (for payloads jsonwebtoken would not write).
    pub(crate) fn ec(alg: Algorithm) -> (Self, aws_lc_rs::signature::EcdsaKeyPair) {
        use aws_lc_rs::signature::{self as sig, EcdsaKeyPair, KeyPair as _};
        use base64::Engine as _;
        let (signing, crv) = match alg {
            Algorithm::ES256 => (&sig::ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
            Algorithm::ES384 => (&sig::ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
            other => panic!("no EC test key for {other:?}"),
        };
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, der.as_ref()).unwrap();
        // An uncompressed point: 0x04 || x || y.
        let point = pair.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let jwk = json!({"kty": "EC", "crv": crv, "x": b64.encode(&point[1..=half]),
                         "y": b64.encode(&point[1 + half..])});
        let key = Self::with_jwk(EncodingKey::from_ec_der(der.as_ref()), jwk);
        (key, pair)
    }

    fn with_jwk(encoding: EncodingKey, jwk: Value) -> Self {
        let body = json!({ "keys": [jwk] }).to_string();
        let jwks = crate::provider::jwks::parse_jwks(body.as_bytes()).unwrap();
        Self { encoding, jwks }
    }

    /// The key as the provider's JWKS holds it.
    pub(crate) fn verify_key(&self) -> &VerifyKey {
        &self.jwks[0]
    }

    /// A token of `claims` signed with this key under `header`.
    pub(crate) fn sign(&self, header: &Header, claims: &Value) -> String {
        jsonwebtoken::encode(header, claims, &self.encoding).unwrap()
    }
}
