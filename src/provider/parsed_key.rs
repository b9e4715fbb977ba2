//! A signature key of the JWKS as aws-lc-rs verifies with it, parsed once and kept with the
//! cached key set. (`jsonwebtoken` rebuilds the key from its JWK members at every verification:
//! for RSA its modulus, exponent and Montgomery constants, a third of a first-seen token's
//! time; for EC the point, checked on its curve.)

use aws_lc_rs::signature::{self as sig, ParsedPublicKey};
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
use jsonwebtoken::Algorithm;

/// A JWKS key parsed for the algorithms it can verify.
pub(crate) enum ParsedKey {
    /// An RSA key, parsed once per algorithm on first use.
    Rsa(Box<RsaKey>),
    /// An EC or Ed25519 key, parsed for the one algorithm its curve allows (ES256 for P-256,
    /// ES384 for P-384, EdDSA for Ed25519).
    Single(Algorithm, ParsedPublicKey),
}

impl ParsedKey {
    /// The key of a JWK's parameters, or `None` for a key type or curve kept to jsonwebtoken
    /// (P-521) and for members that are not base64url or a key aws-lc-rs rejects.
    pub(crate) fn new(params: &AlgorithmParameters) -> Option<Self> {
        match params {
            AlgorithmParameters::RSA(p) => {
                RsaKey::new(&p.n, &p.e).map(|rsa| Self::Rsa(Box::new(rsa)))
            }
            AlgorithmParameters::EllipticCurve(p) => {
                let (alg, verify, len): (_, &'static sig::EcdsaVerificationAlgorithm, _) = match p
                    .curve
                {
                    EllipticCurve::P256 => (Algorithm::ES256, &sig::ECDSA_P256_SHA256_FIXED, 32),
                    EllipticCurve::P384 => (Algorithm::ES384, &sig::ECDSA_P384_SHA384_FIXED, 48),
                    _ => return None,
                };
                let (x, y) = (b64(&p.x)?, b64(&p.y)?);
                if x.len() != len || y.len() != len {
                    return None;
                }
                // An uncompressed point: 0x04 || x || y (SEC 1 section 2.3.3).
                let point = [&[4u8][..], &x, &y].concat();
                let key = ParsedPublicKey::new(verify, point).ok()?;
                Some(Self::Single(alg, key))
            }
            AlgorithmParameters::OctetKeyPair(p) if p.curve == EllipticCurve::Ed25519 => {
                let key = ParsedPublicKey::new(&sig::ED25519, b64(&p.x)?).ok()?;
                Some(Self::Single(Algorithm::EdDSA, key))
            }
            _ => None,
        }
    }

    /// The key parsed for `alg`; `None` for an algorithm this key does not verify (the caller
    /// then leaves the token to jsonwebtoken, which refuses it).
    pub(crate) fn for_alg(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        match self {
            Self::Rsa(rsa) => rsa.parsed(alg),
            Self::Single(own, key) => (*own == alg).then_some(key),
        }
    }
}

/// Base64url without padding, as JWK members are written (a trailing `=` tolerated).
fn b64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .ok()
}

/// An RSA public key, built once per algorithm.
pub(crate) struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    /// RS256, RS384, RS512, PS256, PS384, PS512, each parsed on first use.
    parsed: [std::sync::OnceLock<Option<ParsedPublicKey>>; 6],
}

impl RsaKey {
    /// From the JWK's base64url `n` and `e`; `None` when they are not base64url.
    fn new(n: &str, e: &str) -> Option<Self> {
        Some(Self {
            n: b64(n)?,
            e: b64(e)?,
            parsed: Default::default(),
        })
    }

    /// The key parsed for `alg`; `None` for an algorithm that is not RSA or a key aws-lc-rs
    /// rejects.
    fn parsed(&self, alg: Algorithm) -> Option<&ParsedPublicKey> {
        let (i, params): (usize, &'static sig::RsaParameters) = match alg {
            Algorithm::RS256 => (0, &sig::RSA_PKCS1_2048_8192_SHA256),
            Algorithm::RS384 => (1, &sig::RSA_PKCS1_2048_8192_SHA384),
            Algorithm::RS512 => (2, &sig::RSA_PKCS1_2048_8192_SHA512),
            Algorithm::PS256 => (3, &sig::RSA_PSS_2048_8192_SHA256),
            Algorithm::PS384 => (4, &sig::RSA_PSS_2048_8192_SHA384),
            Algorithm::PS512 => (5, &sig::RSA_PSS_2048_8192_SHA512),
            _ => return None,
        };
        self.parsed[i]
            .get_or_init(|| {
                let components = sig::RsaPublicKeyComponents {
                    n: self.n.as_slice(),
                    e: self.e.as_slice(),
                };
                components.to_parsed_public_key(params).ok()
            })
            .as_ref()
    }
}
