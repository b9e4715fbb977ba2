//! The client's own signing key for `private_key_jwt` (RFC 7523 section 2.2, OpenID Connect
//! Core 1.0 section 9): `OIDC_CLIENT_ASSERTION_KEY_FILE` (a PEM or JWK file),
//! `OIDC_CLIENT_ASSERTION_ALG` (`RS256`, `PS256` or `ES256`), `OIDC_CLIENT_ASSERTION_AUDIENCE`
//! (`token_endpoint` or `issuer`), per provider `OIDC_PROVIDER_N_*`, and `OIDC_JWKS_PATH`, the
//! route that serves the public keys; their setters and their validation.
//!
//! The key is read once, at startup, and a test signature is made with it, so a file that
//! cannot be read, holds no private key, or does not fit the algorithm is a startup error
//! naming the variable. Its public half is [`OidcConfig::client_jwks`](super::OidcConfig::client_jwks).

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{json, Value};

use super::draft::ProviderBuilder;
use super::OidcConfigBuilder;

/// The algorithms a client assertion may be signed with.
const ALGORITHMS: &str = "RS256, PS256 or ES256";

/// Whom the assertion is addressed to (`aud`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AssertionAudience {
    /// The token endpoint's URL (OpenID Connect Core 1.0 section 9), the default.
    #[default]
    TokenEndpoint,
    /// The issuer identifier (FAPI 2.0, and providers that accept only it).
    Issuer,
}

/// A client's private signing key, read and tried at startup. Debug shows only its key id and
/// algorithm.
pub(crate) struct SigningKey {
    pub(crate) key: EncodingKey,
    pub(crate) alg: Algorithm,
    /// The JWK's own `kid`, else its RFC 7638 thumbprint.
    pub(crate) kid: String,
    /// The public half, as a JWK with `kid`, `alg` and `use`.
    pub(crate) public_jwk: Value,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// One provider's `private_key_jwt` settings, validated.
#[derive(Debug, Clone)]
pub(crate) struct ClientAssertion {
    pub(crate) key: Arc<SigningKey>,
    pub(crate) audience: AssertionAudience,
}

/// The raw settings of one provider, validated. `key_file` is required when `wanted` (the token
/// endpoint auth method is `private_key_jwt`); `problem(suffix, message)` names each problem
/// under its setting's name.
pub(crate) fn validate(
    key_file: Option<&str>,
    alg: Option<&str>,
    audience: Option<&str>,
    wanted: bool,
    mut problem: impl FnMut(&'static str, String),
) -> Option<ClientAssertion> {
    let audience = match audience.map(str::trim) {
        None | Some("token_endpoint") => AssertionAudience::TokenEndpoint,
        Some("issuer") => AssertionAudience::Issuer,
        Some(other) => {
            problem(
                "CLIENT_ASSERTION_AUDIENCE",
                format!("`{other}` is not `token_endpoint` or `issuer`"),
            );
            AssertionAudience::TokenEndpoint
        }
    };
    let alg = match alg.map(str::trim) {
        None => None,
        Some(raw) => match raw {
            "RS256" => Some(Algorithm::RS256),
            "PS256" => Some(Algorithm::PS256),
            "ES256" => Some(Algorithm::ES256),
            other => {
                problem(
                    "CLIENT_ASSERTION_ALG",
                    format!("`{other}` is not one of {ALGORITHMS}"),
                );
                return None;
            }
        },
    };
    let Some(path) = key_file.map(str::trim).filter(|p| !p.is_empty()) else {
        if wanted {
            problem(
                "CLIENT_ASSERTION_KEY_FILE",
                "is required by private_key_jwt: name a PEM or JWK file holding the client's private key".into(),
            );
        }
        return None;
    };
    match load(path, alg) {
        Ok(key) => Some(ClientAssertion {
            key: Arc::new(key),
            audience,
        }),
        Err(why) => {
            problem("CLIENT_ASSERTION_KEY_FILE", format!("`{path}` {why}"));
            None
        }
    }
}

/// Reads the key file at `path` (never echoing its contents), signs a test assertion with it.
fn load(path: &str, alg: Option<Algorithm>) -> Result<SigningKey, String> {
    // As `Shared::new` does: jsonwebtoken panics at first use when it cannot tell which crypto
    // backend to use; the key is tried here, before any layer exists.
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot be read ({e})"))?;
    let text = text.trim();
    let (key, family_alg, kid) = if text.starts_with('{') {
        from_jwk(text)?
    } else if text.starts_with("-----BEGIN") {
        let (key, alg) = from_pem(text)?;
        (key, alg, None)
    } else {
        return Err("is neither a PEM private key nor a JWK".into());
    };
    let alg = match alg {
        None => family_alg,
        Some(a) if is_ec(a) == is_ec(family_alg) => a,
        Some(a) => {
            return Err(format!(
                "holds a key for {family_alg:?}, which cannot sign {a:?}: set CLIENT_ASSERTION_ALG to match the key"
            ))
        }
    };
    let public = Jwk::from_encoding_key(&key, alg)
        .map_err(|_| "holds a key that cannot be used for signing".to_owned())?;
    jsonwebtoken::encode(&Header::new(alg), &json!({"probe": true}), &key)
        .map_err(|_| "holds a key that cannot sign".to_owned())?;
    let kid = match kid {
        Some(kid) => kid,
        None => public
            .thumbprint(ThumbprintHash::SHA256)
            .map_err(|_| "holds a key whose thumbprint cannot be computed".to_owned())?,
    };
    let mut public_jwk =
        serde_json::to_value(&public).map_err(|_| "holds an unusable key".to_owned())?;
    if let Value::Object(map) = &mut public_jwk {
        map.insert("kid".into(), Value::String(kid.clone()));
        map.insert("alg".into(), Value::String(format!("{alg:?}")));
        map.insert("use".into(), Value::String("sig".into()));
    }
    Ok(SigningKey {
        key,
        alg,
        kid,
        public_jwk,
    })
}

/// Whether `alg` takes an EC key (else RSA), for matching a configured algorithm to a key.
fn is_ec(alg: Algorithm) -> bool {
    matches!(alg, Algorithm::ES256)
}

/// A PEM private key: PKCS#1 (`RSA PRIVATE KEY`), SEC 1 (`EC PRIVATE KEY`, P-256) or PKCS#8
/// (`PRIVATE KEY`, either).
fn from_pem(text: &str) -> Result<(EncodingKey, Algorithm), String> {
    let label = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("-----BEGIN "))
        .and_then(|l| l.strip_suffix("-----"))
        .unwrap_or("");
    let body: String = text
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .flat_map(|l| l.trim().chars())
        .collect();
    let der = STANDARD
        .decode(body)
        .map_err(|_| "is not valid PEM (its base64 does not decode)".to_owned())?;
    let unusable =
        || format!("holds a {label} that is not an RSA (2048 bits or more) or P-256 private key");
    match label {
        "RSA PRIVATE KEY" => {
            signature::RsaKeyPair::from_der(&der).map_err(|_| unusable())?;
            Ok((EncodingKey::from_rsa_der(&der), Algorithm::RS256))
        }
        "EC PRIVATE KEY" => ec(&der).ok_or_else(unusable),
        "PRIVATE KEY" => {
            if signature::RsaKeyPair::from_pkcs8(&der).is_ok() {
                let pkcs1 = pkcs1_from_pkcs8(&der).ok_or_else(unusable)?;
                Ok((EncodingKey::from_rsa_der(pkcs1), Algorithm::RS256))
            } else {
                ec(&der).ok_or_else(unusable)
            }
        }
        "ENCRYPTED PRIVATE KEY" => Err("holds an encrypted key: store it unencrypted, readable by this process only".into()),
        _ => Err("holds no PEM private key (`-----BEGIN PRIVATE KEY-----`, `RSA PRIVATE KEY` or `EC PRIVATE KEY`)".into()),
    }
}

/// A P-256 key in any DER form aws-lc-rs reads, as the PKCS#8 jsonwebtoken signs with.
fn ec(der: &[u8]) -> Option<(EncodingKey, Algorithm)> {
    let pair = signature::EcdsaKeyPair::from_private_key_der(
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
        der,
    )
    .ok()?;
    let pkcs8 = pair.to_pkcs8v1().ok()?;
    Some((EncodingKey::from_ec_der(pkcs8.as_ref()), Algorithm::ES256))
}

/// The PKCS#1 `RSAPrivateKey` inside a PKCS#8 `PrivateKeyInfo` (RFC 5208: a SEQUENCE of the
/// version, the algorithm and an OCTET STRING holding the key).
fn pkcs1_from_pkcs8(der: &[u8]) -> Option<&[u8]> {
    /// One DER element at the start of `input`: its tag, contents and the rest.
    fn element(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, rest) = input.split_first()?;
        let (&first, rest) = rest.split_first()?;
        let (len, rest) = if first < 0x80 {
            (usize::from(first), rest)
        } else {
            let n = usize::from(first & 0x7f);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            (len, &rest[n..])
        };
        (rest.len() >= len).then(|| (tag, &rest[..len], &rest[len..]))
    }
    let (0x30, info, _) = element(der)? else {
        return None;
    };
    let (0x02, _, rest) = element(info)? else {
        return None;
    };
    let (0x30, _, rest) = element(rest)? else {
        return None;
    };
    let (0x04, key, _) = element(rest)? else {
        return None;
    };
    Some(key)
}

/// A private JWK (RFC 7517, 7518 section 6): RSA with every CRT parameter, or EC on P-256.
fn from_jwk(text: &str) -> Result<(EncodingKey, Algorithm, Option<String>), String> {
    let jwk: Value =
        serde_json::from_str(text).map_err(|_| "is not valid JSON (a JWK)".to_owned())?;
    let field = |name: &str| -> Result<Vec<u8>, String> {
        let value = jwk
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("is a JWK without `{name}`: it must hold the private key"))?;
        URL_SAFE_NO_PAD
            .decode(value)
            .map_err(|_| format!("is a JWK whose `{name}` is not base64url"))
    };
    let kid = jwk.get("kid").and_then(Value::as_str).map(str::to_owned);
    match jwk.get("kty").and_then(Value::as_str) {
        Some("RSA") => {
            let components = aws_lc_rs::rsa::KeyPairComponents {
                public_key: aws_lc_rs::rsa::PublicKeyComponents {
                    n: field("n")?,
                    e: field("e")?,
                },
                d: field("d")?,
                p: field("p")?,
                q: field("q")?,
                dP: field("dp")?,
                dQ: field("dq")?,
                qInv: field("qi")?,
            };
            let pair = aws_lc_rs::rsa::KeyPair::from_components(&components)
                .map_err(|_| "is an RSA JWK whose parameters do not form a key".to_owned())?;
            let pkcs8 = pair
                .as_der()
                .map_err(|_| "is an RSA JWK that cannot be encoded".to_owned())?;
            let pkcs1 = pkcs1_from_pkcs8(pkcs8.as_ref())
                .ok_or_else(|| "is an RSA JWK that cannot be encoded".to_owned())?;
            let alg = match jwk.get("alg").and_then(Value::as_str) {
                Some("PS256") => Algorithm::PS256,
                _ => Algorithm::RS256,
            };
            Ok((EncodingKey::from_rsa_der(pkcs1), alg, kid))
        }
        Some("EC") => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err("is an EC JWK on another curve than P-256".into());
            }
            let mut point = vec![4u8];
            point.extend(field("x")?);
            point.extend(field("y")?);
            let pair = signature::EcdsaKeyPair::from_private_key_and_public_key(
                &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &field("d")?,
                &point,
            )
            .map_err(|_| "is an EC JWK whose parameters do not form a key".to_owned())?;
            debug_assert!(!pair.public_key().as_ref().is_empty());
            let pkcs8 = pair
                .to_pkcs8v1()
                .map_err(|_| "is an EC JWK that cannot be encoded".to_owned())?;
            Ok((
                EncodingKey::from_ec_der(pkcs8.as_ref()),
                Algorithm::ES256,
                kid,
            ))
        }
        _ => Err("is a JWK whose `kty` is not `RSA` or `EC`".into()),
    }
}

/// The token endpoint auth method once the key is known: `auto` with a key is
/// `private_key_jwt`.
pub(crate) fn method(
    method: super::TokenAuthMethod,
    assertion: Option<&ClientAssertion>,
) -> super::TokenAuthMethod {
    match (method, assertion) {
        (super::TokenAuthMethod::Auto, Some(_)) => super::TokenAuthMethod::PrivateKeyJwt,
        (method, _) => method,
    }
}

/// The route that serves the public JWKS, validated: a path starting with `/`.
pub(crate) fn jwks_path(raw: Option<&str>, problem: impl FnOnce(String)) -> Option<String> {
    let raw = raw.map(str::trim).filter(|p| !p.is_empty())?;
    if !raw.starts_with('/') || raw.contains(['?', '#']) {
        problem(format!("`{raw}` is not a path such as /auth/jwks"));
        return None;
    }
    Some(raw.to_owned())
}

/// The public JWKS of `keys` (each key once), as JSON.
pub(crate) fn jwks<'k>(keys: impl Iterator<Item = &'k SigningKey>) -> String {
    let mut seen: Vec<&Value> = Vec::new();
    for key in keys {
        if !seen.contains(&&key.public_jwk) {
            seen.push(&key.public_jwk);
        }
    }
    json!({ "keys": seen }).to_string()
}

impl ProviderBuilder {
    /// The client's private key for `private_key_jwt` at this provider
    /// (`OIDC_PROVIDER_N_CLIENT_ASSERTION_KEY_FILE`); see
    /// [`OidcConfigBuilder::with_client_assertion_key_file`].
    pub fn with_client_assertion_key_file(mut self, path: impl Into<String>) -> Self {
        self.draft.client_assertion_key_file = Some(path.into());
        self
    }

    /// The client assertion's algorithm at this provider
    /// (`OIDC_PROVIDER_N_CLIENT_ASSERTION_ALG`): `RS256`, `PS256` or `ES256`.
    pub fn with_client_assertion_alg(mut self, alg: impl Into<String>) -> Self {
        self.draft.client_assertion_alg = Some(alg.into());
        self
    }

    /// The client assertion's audience at this provider
    /// (`OIDC_PROVIDER_N_CLIENT_ASSERTION_AUDIENCE`).
    pub fn with_client_assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.draft.client_assertion_audience = Some(audience_name(audience).into());
        self
    }
}

impl OidcConfigBuilder {
    /// The client's private key for `private_key_jwt` (RFC 7523, OpenID Connect Core 1.0
    /// section 9; `OIDC_CLIENT_ASSERTION_KEY_FILE`): a PEM file (`PRIVATE KEY`,
    /// `RSA PRIVATE KEY` or `EC PRIVATE KEY`: RSA of 2048 bits or more, or P-256) or a private
    /// JWK. With it, the token endpoint auth method `auto` becomes `private_key_jwt`: the
    /// client signs a short assertion (`iss` and `sub` the client id, `aud` the token endpoint,
    /// a fresh `jti`, `exp` 60 s) instead of sending a secret. Register the public key at the
    /// provider: [`OidcConfig::client_jwks`](crate::OidcConfig::client_jwks), logged at
    /// startup, or served at [`with_jwks_path`](Self::with_jwks_path).
    ///
    /// # Security
    /// The file is read once, at startup; keep it readable by this process only.
    pub fn with_client_assertion_key_file(mut self, path: impl Into<String>) -> Self {
        self.defaults.client_assertion_key_file = Some(path.into());
        self
    }

    /// The client assertion's algorithm (`OIDC_CLIENT_ASSERTION_ALG`): `RS256` (the default
    /// for an RSA key), `PS256`, or `ES256` (for a P-256 key, its default).
    pub fn with_client_assertion_alg(mut self, alg: impl Into<String>) -> Self {
        self.defaults.client_assertion_alg = Some(alg.into());
        self
    }

    /// The client assertion's audience (`OIDC_CLIENT_ASSERTION_AUDIENCE`: `token_endpoint`,
    /// the default, or `issuer`).
    pub fn with_client_assertion_audience(mut self, audience: AssertionAudience) -> Self {
        self.defaults.client_assertion_audience = Some(audience_name(audience).into());
        self
    }

    /// Serves the public keys of the client assertions as a JWKS at `path` (`OIDC_JWKS_PATH`,
    /// e.g. `/auth/jwks`; off by default), for a provider that reads the client's keys from a
    /// `jwks_uri`. Only public keys are served.
    pub fn with_jwks_path(mut self, path: impl Into<String>) -> Self {
        self.jwks_path = Some(path.into());
        self
    }
}

fn audience_name(audience: AssertionAudience) -> &'static str {
    match audience {
        AssertionAudience::TokenEndpoint => "token_endpoint",
        AssertionAudience::Issuer => "issuer",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, contents: &str) -> String {
        let path = std::env::temp_dir().join(format!("tower-oidc-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        path.to_string_lossy().into_owned()
    }

    fn problems(file: Option<&str>, alg: Option<&str>) -> Vec<(&'static str, String)> {
        let mut said = Vec::new();
        validate(file, alg, None, true, |k, m| said.push((k, m)));
        said
    }

    #[test]
    fn an_ec_key_in_pem_and_jwk_gives_one_public_key() {
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 = signature::EcdsaKeyPair::generate_pkcs8(
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            &rng,
        )
        .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8.as_ref())
        );
        let path = write("ec.pem", &pem);
        let key = validate(Some(&path), None, None, true, |_, m| panic!("{m}")).unwrap();
        assert_eq!(key.key.alg, Algorithm::ES256);
        assert_eq!(key.key.public_jwk["kty"], "EC");
        assert!(key.key.public_jwk.get("d").is_none(), "public only");
        assert!(!format!("{:?}", key.key).contains(&pem[30..60]));
        let err = problems(Some(&path), Some("RS256"));
        assert_eq!(err[0].0, "CLIENT_ASSERTION_KEY_FILE");
        assert!(err[0].1.contains("cannot sign RS256"), "{err:?}");
    }

    #[test]
    fn unreadable_or_wrong_files_are_named_never_echoed() {
        assert!(problems(None, None)[0]
            .1
            .contains("is required by private_key_jwt"));
        let missing = problems(Some("/nonexistent/key.pem"), None);
        assert_eq!(missing[0].0, "CLIENT_ASSERTION_KEY_FILE");
        assert!(missing[0].1.contains("cannot be read"), "{missing:?}");
        let junk = write(
            "junk.pem",
            "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXZhbHVl\n-----END PRIVATE KEY-----",
        );
        let said = problems(Some(&junk), None);
        assert!(!said[0].1.contains("c2VjcmV0"), "{said:?}");
        assert!(said[0].1.contains("not an RSA"), "{said:?}");
        let text = write("text.key", "secret-value");
        assert!(!problems(Some(&text), None)[0].1.contains("secret-value"));
        assert_eq!(
            problems(Some(&text), Some("HS256"))[0].0,
            "CLIENT_ASSERTION_ALG"
        );
        let jwk = write("sym.jwk", r#"{"kty":"oct","k":"c2VjcmV0"}"#);
        assert!(problems(Some(&jwk), None)[0].1.contains("`kty`"));
    }

    /// A fixture's path (`tests/fixtures/`).
    fn fixture(name: &str) -> String {
        format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn each_key_format_gives_the_same_public_key_as_its_pem() {
        let key = |name: &str, alg: Option<&str>| {
            validate(Some(&fixture(name)), alg, None, true, |k, m| {
                panic!("{name}: {k} {m}")
            })
            .unwrap()
            .key
        };
        let pkcs8 = key("rsa1.pem", None);
        let pkcs1 = key("rsa1-pkcs1.pem", None);
        let jwk = key("rsa1.jwk", None);
        assert_eq!(pkcs8.public_jwk["n"], pkcs1.public_jwk["n"]);
        assert_eq!(pkcs8.public_jwk["n"], jwk.public_jwk["n"]);
        assert_eq!(jwk.kid, "client-rsa1", "the JWK's own kid");
        assert_eq!(pkcs8.kid, pkcs1.kid, "the thumbprint of one key");
        assert_eq!(key("rsa1.pem", Some("PS256")).alg, Algorithm::PS256);
        let sec1 = key("ec1-sec1.pem", None);
        let ec_jwk = key("ec1.jwk", None);
        assert_eq!(sec1.alg, Algorithm::ES256);
        assert_eq!(sec1.public_jwk["x"], ec_jwk.public_jwk["x"]);
        assert_eq!(sec1.kid, ec_jwk.kid);
        for k in [&pkcs8, &jwk, &sec1] {
            for private in ["d", "p", "q", "dp", "dq", "qi"] {
                assert!(
                    k.public_jwk.get(private).is_none(),
                    "{private} in {}",
                    k.public_jwk
                );
            }
        }
        let two = jwks([&*pkcs8, &*pkcs1, &*sec1].into_iter());
        let two: Value = serde_json::from_str(&two).unwrap();
        assert_eq!(two["keys"].as_array().unwrap().len(), 2, "each key once");
    }

    #[test]
    fn pkcs1_is_found_inside_pkcs8() {
        assert_eq!(pkcs1_from_pkcs8(&[0x30, 0x03, 0x02, 0x01, 0x00]), None);
        assert_eq!(pkcs1_from_pkcs8(&[]), None);
        let der = [
            0x30, 0x0a, 0x02, 0x01, 0x00, 0x30, 0x00, 0x04, 0x03, 0xaa, 0xbb, 0xcc,
        ];
        assert_eq!(pkcs1_from_pkcs8(&der), Some(&[0xaa, 0xbb, 0xcc][..]));
    }
}
