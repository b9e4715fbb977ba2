//! ID tokens and claims: the header and algorithm check, key selection and signature
//! (`jwt::{header, select_key, verify_signature}`), the JWKS parser, the claim checks
//! (`check_claims`), and what follows a valid token: the access policy, the role map and the
//! claims-to-identity mapping (`policy::evaluate`, `identity_from_claims`).
//!
//! The first input byte picks the mode, the rest is its input:
//! - `0`: a token string, checked against a fixed JWKS;
//! - `1`: a JWKS document;
//! - `2`: a claims object (JSON), through the claim checks and the login policy of three providers;
//! - `3`: a token this target signs with a real key (a flags byte picks the key, the header and
//!   a bit to flip; then the claims bytes), so the fuzzer reaches the checks behind the signature.
//!
//! Properties: a token verifies only with our signature over exactly its bytes, and then yields
//! exactly the signed claims; the claim checks agree with a plain reading of OpenID Connect Core
//! 3.1.3.7; an admitted login's identity follows from the claims (subject, issuer, role from the
//! map, admin only by the configured rules, allowed email domains only, no protocol claims kept)
//! and survives the session cookie; refusals are 403s; no message or log holds a token part or
//! a secret.

use std::sync::{LazyLock, OnceLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::Algorithm;
use serde_json::{json, Map, Value};

use super::support::{
    assert_no_secret, config, record_logs, take_logs, view, CLIENT_ID, CLIENT_SECRET, COOKIE_KEY,
    ISSUER, NOW,
};
use crate::error::AuthErrorKind;
use crate::flow::callback::{admission, identity, userinfo};
use crate::id_token::{self, Expected, IdTokenError};
use crate::identity::Identity;
use crate::jwt::{self, Audience, JwtError};
use crate::provider::{self, VerifyKey};
use crate::session::{self, CookieCodec, CookieNames};
use crate::shared::Shared;

const NONCE: &str = "n-0S6_WzA2Mj-fuzz";
const LEEWAY: u64 = 60;

/// The RSA public key of `tests/fixtures/rsa1.pem` (its private half is never used here).
const RSA_N: &str = "m3L6kicPMEOvuyWn4fwyvjX8F447dHqr74cvC7D0Qejs26kw2XxuoOJ52gtZD6dtyqQb48niPm-vbbZkw_3MYjD1tIF9fQ5CsMYTxl_0mFA90SnjQfH4urjSFpaspRW5Bl04hfWA3Erwu7BEQC2wVptK2j_myo_KQ4pIfY8ramHuXUqeWMEgy3jIGyrlpVswVYLupDFe1PyR9-6v3LCoHsnXC9rlHiZi4xc6taM3QKuHBO2o_8GrttGU-qaY6m69ZunwPraMu2DnPiENT5RbKlyarIkXbYLL0ujO8DF5dGubf05Pdw7n52jYFHi9QBflXMUGmZ2pnuGNXmTahqq3fQ";

struct Keys {
    ec: EcdsaKeyPair,
    ed: Ed25519KeyPair,
    jwks: Vec<VerifyKey>,
    /// A token signed by `ec`, with the kid of the fixed JWKS.
    good_token: String,
    /// The providers and policies of the https (one provider) and http (two) configurations.
    https: Shared,
    http: Shared,
    /// The session cookie's codec and names (https).
    codec: CookieCodec,
    names: CookieNames,
}

/// The synchronous part of ID token validation, in the callback's order: the header and its
/// algorithm (against the `advertised` ones), the key, the signature. Returns the claims,
/// unchecked; `Err` carries the refusal's message.
pub(super) fn verify(
    token: &str,
    keys: &[VerifyKey],
    advertised: &[Algorithm],
) -> Result<Map<String, Value>, String> {
    let refusal = |e: JwtError| IdTokenError::from(e).to_string();
    let header = jwt::header(token, advertised).map_err(refusal)?;
    let key = jwt::select_key(keys, &header).map_err(refusal)?;
    jwt::verify_signature(token, &header, key).map_err(refusal)
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        record_logs();
        let rng = SystemRandom::new();
        let ec_doc =
            EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .expect("P-256 key");
        let ec =
            EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, ec_doc.as_ref())
                .expect("P-256 key");
        let ed_doc = Ed25519KeyPair::generate_pkcs8(&rng).expect("Ed25519 key");
        let ed = Ed25519KeyPair::from_pkcs8(ed_doc.as_ref()).expect("Ed25519 key");
        // An uncompressed point: 0x04 || x || y.
        let point = ec.public_key().as_ref();
        let jwks = json!({"keys": [
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "alg": "ES256", "use": "sig",
             "x": B64.encode(&point[1..33]), "y": B64.encode(&point[33..65])},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed-1",
             "x": B64.encode(ed.public_key().as_ref())},
            {"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "n": RSA_N, "e": "AQAB"},
            {"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
        ]});
        let jwks =
            provider::jwks::parse_jwks(jwks.to_string().as_bytes()).expect("our JWKS parses");
        assert_eq!(jwks.len(), 3, "the oct key is never a verification key");
        let input = format!(
            "{}.{}",
            B64.encode(r#"{"alg":"ES256","kid":"ec-1"}"#),
            B64.encode(r#"{"sub":"u1"}"#)
        );
        let sig = ec.sign(&rng, input.as_bytes()).expect("ECDSA signing");
        let good_token = format!("{input}.{}", B64.encode(sig.as_ref()));
        assert!(
            verify(&good_token, &jwks, &[]).is_ok(),
            "our own token does not verify"
        );
        Keys {
            good_token,
            ec,
            ed,
            jwks,
            https: Shared::new(config(true)),
            http: Shared::new(config(false)),
            codec: CookieCodec::new(&config(true)),
            names: CookieNames::new(true),
        }
    })
}

/// Audiences accepted beside ours.
static TRUSTED_AUDIENCES: LazyLock<Vec<String>> = LazyLock::new(|| vec!["reports-api".into()]);

/// What an ID token must say.
fn want() -> Expected<'static> {
    Expected {
        audience: Audience {
            issuer: ISSUER,
            client_id: CLIENT_ID,
            trusted_audiences: &TRUSTED_AUDIENCES,
            now: NOW,
            leeway: LEEWAY,
        },
        nonce: NONCE,
        max_age: None,
        acr: &[],
    }
}

/// OpenID Connect Core 3.1.3.7, read plainly.
fn reference_check(c: &Map<String, Value>, want: &Expected<'_>) -> bool {
    let w = &want.audience;
    let num = |k: &str| c.get(k).and_then(Value::as_f64);
    let now = w.now as f64;
    let leeway = w.leeway as f64;
    let aud_ok = match c.get("aud") {
        Some(Value::String(a)) => a == w.client_id,
        Some(Value::Array(list)) => {
            list.iter().all(Value::is_string)
                && list.iter().any(|a| a == w.client_id)
                && list.iter().all(|a| {
                    a == w.client_id || w.trusted_audiences.iter().any(|t| a == t.as_str())
                })
        }
        _ => false,
    };
    c.get("iss").and_then(Value::as_str) == Some(w.issuer)
        && aud_ok
        && c.get("azp").is_none_or(|a| a == w.client_id)
        && num("exp").is_some_and(|e| e + leeway > now)
        && num("nbf").is_none_or(|n| n <= now + leeway)
        && num("iat").is_some_and(|i| i <= now + leeway)
        && c.get("nonce").and_then(Value::as_str) == Some(want.nonce)
        && c.get("sub")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty() && s.len() <= 255)
}

fn email_verified(c: &Map<String, Value>) -> bool {
    match c.get("email_verified") {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The groups at a claim path: a string, or an array of strings (anything else is refused).
fn groups_at<'a>(c: &'a Map<String, Value>, path: &str) -> Option<Vec<&'a str>> {
    let mut value = c.get(path);
    if value.is_none() && path.contains('.') && !path.contains('/') {
        let mut parts = path.split('.');
        value = c.get(parts.next()?);
        for p in parts {
            value = value.and_then(|v| v.as_object()?.get(p));
        }
    }
    match value {
        None | Some(Value::Null) => Some(Vec::new()),
        Some(Value::String(s)) => Some(vec![s]),
        Some(Value::Array(items)) => items.iter().map(Value::as_str).collect(),
        Some(_) => None,
    }
}

fn domain_of(email: &str) -> Option<String> {
    let (local, domain) = email.rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| domain.to_lowercase())
}

/// One provider's expected behaviour, from `support::{SINGLE_TOML, MULTI_TOML}`.
struct Rules {
    groups_claim: &'static str,
    username_claim: &'static str,
    allowed: &'static [&'static str],
    admin_group: Option<&'static str>,
    normalize: fn(&str) -> String,
    roles: &'static [(&'static str, &'static str)],
    default_role: Option<&'static str>,
    has_map: bool,
    admin_emails: &'static [&'static str],
    admin_domains: &'static [&'static str],
}

fn fold(g: &str) -> String {
    g.strip_prefix('/').unwrap_or(g).to_lowercase()
}

fn exact(g: &str) -> String {
    g.to_owned()
}

const HTTPS_RULES: Rules = Rules {
    groups_claim: "groups",
    username_claim: "preferred_username",
    allowed: &["example.com", "*.example.org"],
    admin_group: Some("admins"),
    normalize: fold,
    roles: &[
        ("admins", "app_admin"),
        ("Readers", "app_reader"),
        ("Ünïcödé", "app_unicode"),
    ],
    default_role: Some("app_viewer"),
    has_map: true,
    admin_emails: &["boss@example.com"],
    admin_domains: &["ops.example.com"],
};

const STAFF_RULES: Rules = Rules {
    groups_claim: "realm_access.roles",
    username_claim: "preferred_username",
    allowed: &[],
    admin_group: Some("/admins"),
    normalize: exact,
    roles: &[("staff", "app_staff")],
    default_role: None,
    has_map: true,
    admin_emails: &[],
    admin_domains: &[],
};

const PARTNER_RULES: Rules = Rules {
    groups_claim: "https://example.com/groups",
    username_claim: "upn",
    allowed: &["partner.example"],
    admin_group: None,
    normalize: exact,
    roles: &[],
    default_role: None,
    has_map: false,
    admin_emails: &[],
    admin_domains: &[],
};

fn domain_matches(pattern: &str, domain: &str) -> bool {
    match pattern.strip_prefix('*') {
        Some(suffix) => domain.len() > suffix.len() && domain.ends_with(suffix),
        None => domain == pattern,
    }
}

/// Runs the login policy of one provider and checks the outcome against `rules`: the callback's
/// steps after a valid ID token (the userinfo decision, the access policy and role map, the
/// claims made into the session's identity).
fn admit(shared: &Shared, provider: usize, claims: &Map<String, Value>, rules: &Rules) {
    let groups = groups_at(claims, rules.groups_claim);
    let email = claims.get("email").and_then(Value::as_str);
    let verified = email_verified(claims);
    let verified_domain = email.filter(|_| verified).and_then(domain_of);
    let allowed = rules.allowed.is_empty()
        || verified_domain
            .as_deref()
            .is_some_and(|d| rules.allowed.iter().any(|p| domain_matches(p, d)));
    let role = groups.as_ref().and_then(|groups| {
        let norm: Vec<String> = groups.iter().map(|g| (rules.normalize)(g)).collect();
        rules
            .roles
            .iter()
            .find(|(g, _)| norm.contains(&(rules.normalize)(g)))
            .map(|(_, r)| *r)
            .or(rules.default_role)
    });
    let p = &shared.providers[provider % shared.providers.len()];
    let _ = userinfo::wants_userinfo(&p.config, claims);
    admission::warn_missing_claims(&p.config, claims);
    match p.config.policy.evaluate(claims) {
        Ok(grant) => {
            let lifetime = shared.config.session_lifetime.as_secs();
            let mut fields =
                identity::identity_from_claims(p, claims.clone(), grant, NOW, lifetime);
            let Some(groups) = groups else {
                panic!("admitted with an unreadable groups claim");
            };
            assert!(allowed, "admitted outside the allowed email domains");
            assert!(!rules.has_map || role.is_some(), "admitted without a role");
            assert_eq!(
                fields.role.as_ref().map(|r| r.as_str()),
                role,
                "the role is not the map's"
            );
            assert_eq!(
                fields.subject,
                claims
                    .get("sub")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                "the subject is not `sub`"
            );
            assert_eq!(
                fields.issuer,
                claims
                    .get("iss")
                    .and_then(Value::as_str)
                    .unwrap_or_default(),
                "the issuer is not `iss`"
            );
            assert_eq!(fields.groups, groups, "the groups are not the claim's");
            assert_eq!(fields.email_verified, verified, "email_verified changed");
            assert_eq!(fields.email.as_deref(), email, "the email changed");
            assert_eq!(
                fields.preferred_username.as_deref(),
                claims.get(rules.username_claim).and_then(Value::as_str),
                "the username is not the configured claim's"
            );
            let admin_group = rules.admin_group.is_some_and(|a| {
                let a = (rules.normalize)(a);
                groups.iter().any(|g| (rules.normalize)(g) == a)
            });
            let admin_email =
                verified && email.is_some_and(|e| rules.admin_emails.contains(&&*e.to_lowercase()));
            let admin_domain = verified_domain
                .as_deref()
                .is_some_and(|d| rules.admin_domains.iter().any(|p| domain_matches(p, d)));
            assert_eq!(
                fields.admin,
                admin_group || admin_email || admin_domain,
                "admin other than by the configured rules"
            );
            assert!(
                fields.expires_at > NOW && fields.authenticated_at == NOW,
                "the session does not start now"
            );
            if !fields.claims_json.is_empty() {
                let Ok(kept) = serde_json::from_str::<Map<String, Value>>(&fields.claims_json)
                else {
                    panic!("the kept claims are not a JSON object");
                };
                for c in identity::PROTOCOL_CLAIMS
                    .iter()
                    .chain([&rules.groups_claim])
                {
                    assert!(!kept.contains_key(*c), "kept the `{c}` claim");
                }
            }
            // And it survives the session cookie (the extra claims may be dropped to fit).
            let k = keys();
            if let Some(value) = session::encode_session(&k.codec, &k.names, &mut fields) {
                let decoded = session::decode_session(&k.codec, &k.names, &value, NOW);
                assert_eq!(
                    decoded.map(|d| view(&d)),
                    Some(view(&fields)),
                    "an admitted session did not survive its cookie"
                );
                let identity = Identity::from_data(fields);
                let _ = identity.claims().len();
            }
        }
        Err(refused) => {
            assert_eq!(refused.kind.status(), 403, "{refused:?}");
            let why_refused = groups.is_none() || !allowed || (rules.has_map && role.is_none());
            assert!(why_refused, "refused for no reason: {refused:?}");
            if groups.is_none() {
                assert_eq!(
                    refused.kind,
                    AuthErrorKind::InvalidGroupsClaim,
                    "an unreadable groups claim refused for another reason"
                );
            }
        }
    }
}

fn claims_pipeline(claims: &Map<String, Value>) {
    let w = want();
    let ours = id_token::check_claims(claims, &w);
    assert_eq!(
        ours.is_ok(),
        reference_check(claims, &w),
        "check_claims disagrees: {ours:?} for {claims:?}"
    );
    let k = keys();
    admit(&k.https, 0, claims, &HTTPS_RULES);
    admit(&k.http, 0, claims, &STAFF_RULES);
    admit(&k.http, 1, claims, &PARTNER_RULES);
    let logs = take_logs();
    assert_no_secret("the log", &logs, &[CLIENT_SECRET, COOKIE_KEY]);
}

/// The header of a token this target signs.
#[derive(Debug)]
enum HeaderChoice {
    /// `alg` and `kid` of the signing key, `typ` JWT.
    Good,
    /// `alg` only.
    NoKid,
    /// The right `alg`, another `kid`.
    WrongKid,
    /// Another `alg`, the right `kid`.
    Alg(&'static str),
    /// A header that is not a JSON object.
    Junk,
}

/// Mode 3's input: a flags byte (bit 0: Ed25519 rather than P-256; bits 1-3: the header;
/// bit 4: flip one bit of the token, at the position in the next two bytes), then the claims.
#[derive(Debug)]
struct Signed<'a> {
    header: HeaderChoice,
    ed25519: bool,
    tamper: Option<(u16, u8)>,
    claims: &'a [u8],
}

impl<'a> Signed<'a> {
    fn parse(data: &'a [u8]) -> Option<Self> {
        let (&flags, mut rest) = data.split_first()?;
        let header = match (flags >> 1) & 7 {
            0 | 1 => HeaderChoice::Good,
            2 => HeaderChoice::NoKid,
            3 => HeaderChoice::WrongKid,
            4 => HeaderChoice::Alg("HS256"),
            5 => HeaderChoice::Alg("none"),
            6 => HeaderChoice::Alg(if flags & 1 == 0 { "EdDSA" } else { "ES256" }),
            _ => HeaderChoice::Junk,
        };
        let tamper = if flags & 16 != 0 {
            let (at, r) = rest.split_first_chunk::<2>()?;
            rest = r;
            Some((u16::from_le_bytes(*at), flags >> 5))
        } else {
            None
        };
        Some(Self {
            header,
            ed25519: flags & 1 != 0,
            tamper,
            claims: rest,
        })
    }
}

/// Whether a JSON object repeats a member name at its top level.
fn has_duplicates(json: &[u8]) -> bool {
    struct Unique;
    impl<'de> serde::Deserialize<'de> for Unique {
        fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = Unique;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: serde::de::MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> Result<Unique, A::Error> {
                    let mut seen = std::collections::HashSet::new();
                    while let Some(k) = map.next_key::<String>()? {
                        if !seen.insert(k) {
                            return Err(serde::de::Error::custom("duplicate"));
                        }
                        map.next_value::<serde::de::IgnoredAny>()?;
                    }
                    Ok(Unique)
                }
            }
            d.deserialize_map(V)
        }
    }
    serde_json::from_slice::<Unique>(json).is_err()
}

fn signed(s: Signed<'_>) {
    let k = keys();
    let (alg, kid) = if s.ed25519 {
        ("EdDSA", "ed-1")
    } else {
        ("ES256", "ec-1")
    };
    let header = match s.header {
        HeaderChoice::Good => json!({"alg": alg, "kid": kid, "typ": "JWT"}).to_string(),
        HeaderChoice::NoKid => json!({"alg": alg}).to_string(),
        HeaderChoice::WrongKid => json!({"alg": alg, "kid": "rotated-9"}).to_string(),
        HeaderChoice::Alg(other) => json!({"alg": other, "kid": kid}).to_string(),
        HeaderChoice::Junk => "[\"alg\"]".to_owned(),
    };
    let input = format!("{}.{}", B64.encode(&header), B64.encode(s.claims));
    let sig = if s.ed25519 {
        k.ed.sign(input.as_bytes()).as_ref().to_vec()
    } else {
        k.ec.sign(&SystemRandom::new(), input.as_bytes())
            .expect("ECDSA signing")
            .as_ref()
            .to_vec()
    };
    let token = format!("{input}.{}", B64.encode(sig));
    let mut bytes = token.clone().into_bytes();
    if let Some((at, bit)) = s.tamper {
        let at = at as usize % bytes.len();
        bytes[at] ^= 1 << (bit % 7);
    }
    let tampered = bytes != token.as_bytes();
    let Ok(token) = String::from_utf8(bytes) else {
        return;
    };
    let signed_claims = serde_json::from_slice::<Map<String, Value>>(s.claims).ok();
    let well_formed = matches!(s.header, HeaderChoice::Good | HeaderChoice::NoKid);
    match verify(&token, &k.jwks, &[]) {
        Ok(claims) => {
            assert_eq!(
                Some(&claims),
                signed_claims.as_ref(),
                "verified claims differ from the signed ones (tampered: {tampered})"
            );
            assert!(well_formed, "verified with header {:?}", s.header);
            claims_pipeline(&claims);
        }
        Err(e) => {
            // A payload that repeats a registered claim is refused as malformed (as RFC 7519 4
            // allows; `jwt::payload`). Nothing else may refuse a token our own checks would
            // accept.
            if let (false, true, Some(claims)) = (tampered, well_formed, &signed_claims) {
                assert!(
                    has_duplicates(s.claims) || id_token::check_claims(claims, &want()).is_err(),
                    "our own valid token was refused ({e}): {token}"
                );
            }
            // A refusal never quotes the token (its signature is 86 characters).
            let sig_part = token.rsplit('.').next().unwrap_or_default();
            assert!(sig_part.len() < 16 || !e.contains(sig_part), "{e}");
        }
    }
}

/// The `id_token` target: the first byte picks the mode, the rest is its input.
pub(super) fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let k = keys();
    match mode % 4 {
        0 => {
            let token = String::from_utf8_lossy(rest);
            let advertised: [&[Algorithm]; 3] = [
                &[],
                &[Algorithm::ES256, Algorithm::EdDSA],
                &[Algorithm::RS256],
            ];
            for advertised in advertised {
                if let Ok(claims) = verify(&token, &k.jwks, advertised) {
                    panic!("a token the fuzzer made verified: {token:?} -> {claims:?}");
                }
            }
        }
        1 => {
            if let Ok(jwks) = provider::jwks::parse_jwks(rest) {
                assert!(!jwks.is_empty(), "a JWKS without a usable key was accepted");
                // The fuzzer cannot know our key: our token never verifies against its JWKS.
                assert!(
                    verify(&k.good_token, &jwks, &[]).is_err(),
                    "our token verified against the fuzzer's JWKS"
                );
            }
        }
        2 => {
            if let Ok(claims) = serde_json::from_slice::<Map<String, Value>>(rest) {
                claims_pipeline(&claims);
            }
        }
        _ => {
            if let Some(s) = Signed::parse(rest) {
                signed(s);
            }
        }
    }
    take_logs();
}
