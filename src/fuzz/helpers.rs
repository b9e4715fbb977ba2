//! Thin helpers for `tests/fuzz_regressions.rs`: the crate-internal functions the targets
//! exercise, with plain types in and out, for the findings and seeds the public API cannot set
//! up (a session with a chosen expiry, authenticated garbage, a login record of a given age).
//!
//! A cookie's contents travel as the JSON object the crate serializes them to. A session:
//! `subject`, `issuer`, `provider`, `email`, `email_verified`, `name`, `preferred_username`,
//! `groups`, `role`, `admin`, `claims_json`, `app_json`, `authenticated_at`, `expires_at`,
//! `session_id`. A login record, under the short names it is stored with: `s` (state), `n`
//! (nonce), `v` (PKCE verifier), `i` (issuer), `p` (provider slug), `r` (return-to), `t`
//! (created at).
//!
//! The cookie helpers use the keys and cookie names of the layer built from `config`. They
//! panic only when called wrongly (a JSON object that is not a session or login record, an
//! unknown purpose), never for what the crate refuses.

use serde_json::{Map, Value};

use super::support::view;
use crate::config::{file, OidcConfig};
use crate::error::{AuthError, ConfigProblem};
use crate::flow::callback::{admission, identity, query};
use crate::flow::return_to;
use crate::id_token::{self, Expected};
use crate::identity::{Identity, IdentityData};
use crate::provider;
use crate::session::{self, CookieCodec, CookieNames, LoginRecord, Purpose};
use crate::shared::Shared;

/// The longest cookie value the codec accepts (and ever issues).
pub const MAX_COOKIE_VALUE: usize = session::MAX_COOKIE_VALUE;

/// How long a login may take, in seconds, from the redirect to the callback.
pub const LOGIN_TTL_SECS: u64 = session::LOGIN_TTL_SECS;

fn cookies(config: &OidcConfig) -> (CookieCodec, CookieNames) {
    (
        CookieCodec::new(config),
        CookieNames::new(config.secure_cookies),
    )
}

fn session_data(session: Map<String, Value>) -> IdentityData {
    serde_json::from_value(Value::Object(session))
        .unwrap_or_else(|e| panic!("not a session's JSON object: {e}"))
}

/// The key of `purpose`; `session` is the default provider's session key.
fn purpose<'a>(config: &'a OidcConfig, purpose: &str) -> Purpose<'a> {
    match purpose {
        "session" => Purpose::Session {
            provider: config.default_provider().slug(),
            issuer: config.default_provider().issuer().as_str(),
        },
        "login" => Purpose::Login,
        "logout" => Purpose::Logout,
        other => panic!("no cookie purpose {other:?}: `session`, `login` or `logout`"),
    }
}

/// `encode_session`: the session cookie's value and the session as stored (the extra claims
/// are dropped when they do not fit); `None` when even that does not fit.
///
/// # Panics
/// If `session` is not a session's JSON object.
pub fn encode_session(
    config: &OidcConfig,
    session: Map<String, Value>,
) -> Option<(String, Map<String, Value>)> {
    let mut data = session_data(session);
    let (codec, names) = cookies(config);
    let value = session::encode_session(&codec, &names, &mut data)?;
    Some((value, view(&data)))
}

/// `decode_session`: the session a cookie value holds; `None` when forged, malformed or
/// expired at `now` (seconds since the epoch).
pub fn decode_session(config: &OidcConfig, value: &str, now: u64) -> Option<Map<String, Value>> {
    let (codec, names) = cookies(config);
    session::decode_session(&codec, &names, value, now).map(|data| view(&data))
}

/// The [`Identity`] handlers would see for `session`.
///
/// # Panics
/// If `session` is not a session's JSON object.
pub fn session_identity(session: Map<String, Value>) -> Identity {
    Identity::from_data(session_data(session))
}

/// `CookieCodec::seal`: `plaintext` sealed for the cookie `name` with the key of `purpose`
/// (`session`, `login` or `logout`).
///
/// # Panics
/// For another purpose.
pub fn seal(config: &OidcConfig, purpose_name: &str, name: &str, plaintext: &[u8]) -> String {
    cookies(config)
        .0
        .seal(purpose(config, purpose_name), name, plaintext)
}

/// `CookieCodec::open`: the plaintext of the cookie `name`'s `value`, opened with the key of
/// `purpose` (`session`, `login` or `logout`); `None` when it does not open.
///
/// # Panics
/// For another purpose.
pub fn open(config: &OidcConfig, purpose_name: &str, name: &str, value: &str) -> Option<Vec<u8>> {
    cookies(config)
        .0
        .open(purpose(config, purpose_name), name, value)
}

/// The name of the login cookie for `state`.
pub fn login_cookie_name(config: &OidcConfig, state: &str) -> String {
    cookies(config).1.login(state)
}

/// `LoginRecord::seal`: the value of the login cookie `name` holding `record`.
///
/// # Panics
/// If `record` is not a login record's JSON object.
pub fn seal_login(config: &OidcConfig, name: &str, record: Map<String, Value>) -> String {
    let record: LoginRecord = serde_json::from_value(Value::Object(record))
        .unwrap_or_else(|e| panic!("not a login record's JSON object: {e}"));
    record.seal(&cookies(config).0, name)
}

/// `LoginRecord::open`: the record the login cookie `name`'s `value` holds; `None` when it
/// does not open.
pub fn open_login(config: &OidcConfig, name: &str, value: &str) -> Option<Map<String, Value>> {
    LoginRecord::open(&cookies(config).0, name, value).map(|record| view(&record))
}

/// The callback's query parser: `code`, `state`, `iss` and `error`, each a string or `null`.
pub fn parse_callback_query(query: Option<&str>) -> Result<Map<String, Value>, AuthError> {
    query::parse(query).map(super::callback_query::params)
}

/// The refusal the callback makes of an `error=...` response.
pub fn provider_denied(error: &str) -> AuthError {
    query::provider_denied(error)
}

/// The return-to check: `Some(target)` only for a same-origin path of `base`.
pub fn safe_return_to(base: &url::Url, raw: &str) -> Option<String> {
    return_to::safe_return_to(base, raw)
}

/// The JWKS parser: how many usable signature keys the document holds (never 0); `Err`
/// carries the message a provider failure would show.
pub fn parse_jwks(jwks: &[u8]) -> Result<usize, String> {
    provider::jwks::parse_jwks(jwks)
        .map(|keys| keys.len())
        .map_err(|e| e.to_string())
}

/// The synchronous part of ID token validation against the keys of the JWKS document `jwks`,
/// in the callback's order: the header and its algorithm (against `advertised` algorithm names,
/// e.g. `RS256`), the key, the signature. Returns the claims, unchecked; `Err` carries the
/// refusal's message (or the JWKS parser's).
pub fn verify_id_token(
    token: &str,
    jwks: &[u8],
    advertised: &[&str],
) -> Result<Map<String, Value>, String> {
    let keys = provider::jwks::parse_jwks(jwks).map_err(|e| e.to_string())?;
    let advertised: Vec<jsonwebtoken::Algorithm> =
        advertised.iter().filter_map(|a| a.parse().ok()).collect();
    super::id_token::verify(token, &keys, &advertised)
}

/// The ID token claim checks, as the callback makes them for the first provider of `config`
/// (its issuer, client id, trusted audiences and leeway, now by its clock) and this login's
/// `nonce`; `Err` carries the refusal's message.
pub fn check_claims(
    config: &OidcConfig,
    claims: &Map<String, Value>,
    nonce: &str,
) -> Result<(), String> {
    let Some(provider) = config.providers.first() else {
        return Err("the configuration has no provider".into());
    };
    let expected = Expected::for_login(
        provider,
        (nonce, None, &[]),
        config.clock.unix_seconds(),
        config.leeway,
    );
    id_token::check_claims(claims, &expected).map_err(|e| e.to_string())
}

/// The callback's steps after a valid ID token, for the first provider of `config` at its
/// clock's now: the access policy and role map decide, and the claims become the session's
/// contents; `Err` is the refusal (a 403).
pub fn admit(
    config: &OidcConfig,
    claims: Map<String, Value>,
) -> Result<Map<String, Value>, AuthError> {
    let shared = Shared::new(config.clone());
    let provider = shared.default_provider();
    let grant = admission::evaluate(provider, &claims)?;
    let now = shared.config.clock.unix_seconds();
    let lifetime = shared.config.session_lifetime.as_secs();
    let data = identity::identity_from_claims(provider, claims, grant, now, lifetime);
    Ok(view(&data))
}

/// The `OIDC_CONFIG_FILE` parser; `name` stands for the file in messages.
pub fn parse_config_file(name: &str, text: &str) -> Result<(), Vec<ConfigProblem>> {
    file::parse(name, text).map(|_| ())
}
