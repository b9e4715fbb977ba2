//! Entry points for the fuzz targets in `fuzz/` (feature `__fuzz`). Not a public API: hidden,
//! unstable, and only for fuzzing and its regression tests.
//!
//! Each item is a thin wrapper over the crate-internal function a target exercises, so the
//! fuzzers run exactly the code the layer runs; none of them adds logic of its own.

use serde_json::{Map, Value};

use crate::config::{file, OidcConfig};
use crate::error::{AuthError, AuthErrorKind, ConfigProblem};
use crate::flow::callback;
use crate::flow::return_to;
use crate::id_token::{self, Expected};
use crate::identity::{Identity, IdentityData};
use crate::policy::{PgRole, RoleMap};
use crate::provider::{self, VerifyKey};
use crate::session::{self, CookieCodec, CookieNames, LoginRecord, Purpose};
use crate::shared::Shared;

/// The longest cookie value the codec accepts (and ever issues).
pub const MAX_COOKIE_VALUE: usize = session::MAX_COOKIE_VALUE;

/// The claims that describe the protocol exchange and are never kept in a session.
pub const PROTOCOL_CLAIMS: &[&str] = callback::issue::PROTOCOL_CLAIMS;

/// How long a login may take, in seconds, from the redirect to the callback.
pub const LOGIN_TTL_SECS: u64 = session::LOGIN_TTL_SECS;

/// Which key a cookie is sealed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CookiePurpose {
    /// The session cookie.
    Session,
    /// A per-login cookie (the login record).
    Login,
    /// The logout hint (the ID token).
    Logout,
}

impl From<CookiePurpose> for Purpose {
    fn from(p: CookiePurpose) -> Self {
        match p {
            CookiePurpose::Session => Purpose::Session,
            CookiePurpose::Login => Purpose::Login,
            CookiePurpose::Logout => Purpose::Logout,
        }
    }
}

/// What a session cookie holds, field by field (the crate's `IdentityData`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SessionFields {
    /// `sub`.
    pub subject: String,
    /// `iss`.
    pub issuer: String,
    /// The provider's slug.
    pub provider: String,
    /// The email claim.
    pub email: Option<String>,
    /// `email_verified`.
    pub email_verified: bool,
    /// The display name claim.
    pub name: Option<String>,
    /// The username claim.
    pub preferred_username: Option<String>,
    /// The groups claim.
    pub groups: Vec<String>,
    /// The role from the role map.
    pub role: Option<PgRole>,
    /// The admin flag.
    pub admin: bool,
    /// The extra claims, JSON object text or empty.
    pub claims_json: String,
    /// What the login hook added, JSON object text or empty.
    pub app_json: String,
    /// Login time, seconds since the epoch.
    pub authenticated_at: u64,
    /// Expiry, seconds since the epoch.
    pub expires_at: u64,
    /// The session id.
    pub session_id: String,
}

impl From<IdentityData> for SessionFields {
    fn from(d: IdentityData) -> Self {
        Self {
            subject: d.subject,
            issuer: d.issuer,
            provider: d.provider,
            email: d.email,
            email_verified: d.email_verified,
            name: d.name,
            preferred_username: d.preferred_username,
            groups: d.groups,
            role: d.role,
            admin: d.admin,
            claims_json: d.claims_json,
            app_json: d.app_json,
            authenticated_at: d.authenticated_at,
            expires_at: d.expires_at,
            session_id: d.session_id,
        }
    }
}

impl From<SessionFields> for IdentityData {
    fn from(f: SessionFields) -> Self {
        Self {
            subject: f.subject,
            issuer: f.issuer,
            provider: f.provider,
            email: f.email,
            email_verified: f.email_verified,
            name: f.name,
            preferred_username: f.preferred_username,
            groups: f.groups,
            role: f.role,
            admin: f.admin,
            claims_json: f.claims_json,
            app_json: f.app_json,
            authenticated_at: f.authenticated_at,
            expires_at: f.expires_at,
            session_id: f.session_id,
            claims: Default::default(),
        }
    }
}

impl SessionFields {
    /// The [`Identity`] the layer would hand to handlers for this session.
    pub fn into_identity(self) -> Identity {
        Identity::from_data(self.into())
    }
}

/// What a login cookie holds (the crate's `LoginRecord`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LoginFields {
    /// The `state` sent to the provider.
    pub state: String,
    /// The `nonce` sent to the provider.
    pub nonce: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The provider's issuer.
    pub issuer: String,
    /// The provider's slug.
    pub provider: String,
    /// Where to go after login.
    pub return_to: String,
    /// When the login started, seconds since the epoch.
    pub created_at: u64,
}

/// The cookie codec and cookie names of one configuration.
#[derive(Debug)]
pub struct CookieJar {
    codec: CookieCodec,
    names: CookieNames,
}

impl CookieJar {
    /// The codec for the master key `key`; the cookie names are `__Host-` prefixed if `secure`.
    pub fn new(key: &[u8], secure: bool) -> Self {
        Self {
            codec: CookieCodec::new(key),
            names: CookieNames::new(secure),
        }
    }

    /// The same keys and names as the layer built from `config`.
    pub fn for_config(config: &OidcConfig) -> Self {
        Self::new(config.cookie_key.bytes(), config.secure_cookies)
    }

    /// The session cookie's name.
    pub fn session_name(&self) -> &str {
        &self.names.session
    }

    /// The logout hint cookie's name.
    pub fn logout_name(&self) -> &str {
        &self.names.logout
    }

    /// The name of the login cookie for `state`.
    pub fn login_name(&self, state: &str) -> String {
        self.names.login(state)
    }

    /// `CookieCodec::seal`.
    pub fn seal(&self, purpose: CookiePurpose, name: &str, plaintext: &[u8]) -> String {
        self.codec.seal(purpose.into(), name, plaintext)
    }

    /// `CookieCodec::open`.
    pub fn open(&self, purpose: CookiePurpose, name: &str, value: &str) -> Option<Vec<u8>> {
        self.codec.open(purpose.into(), name, value)
    }

    /// `encode_session`: the cookie value and the fields as stored (the extra claims are
    /// dropped when they do not fit); `None` when even that does not fit.
    pub fn encode_session(&self, fields: SessionFields) -> Option<(String, SessionFields)> {
        let mut data = IdentityData::from(fields);
        let value = session::encode_session(&self.codec, &self.names, &mut data)?;
        Some((value, data.into()))
    }

    /// `decode_session`: `None` when forged, malformed or expired at `now`.
    pub fn decode_session(&self, value: &str, now: u64) -> Option<SessionFields> {
        session::decode_session(&self.codec, &self.names, value, now).map(Into::into)
    }

    /// `LoginRecord::seal`.
    pub fn seal_login(&self, name: &str, fields: &LoginFields) -> String {
        LoginRecord {
            state: fields.state.clone(),
            nonce: fields.nonce.clone(),
            verifier: fields.verifier.clone(),
            issuer: fields.issuer.clone(),
            provider: fields.provider.clone(),
            return_to: fields.return_to.clone(),
            created_at: fields.created_at,
        }
        .seal(&self.codec, name)
    }

    /// `LoginRecord::open`.
    pub fn open_login(&self, name: &str, value: &str) -> Option<LoginFields> {
        LoginRecord::open(&self.codec, name, value).map(|r| LoginFields {
            state: r.state,
            nonce: r.nonce,
            verifier: r.verifier,
            issuer: r.issuer,
            provider: r.provider,
            return_to: r.return_to,
            created_at: r.created_at,
        })
    }
}

/// The cookies of a request as the layer reads them: `(name, value)` pairs, in order.
pub fn request_cookies(headers: &http::HeaderMap) -> Vec<(String, String)> {
    session::request_cookies(headers)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

/// The authorization response's parameters, as the callback reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallbackParams {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `iss` (RFC 9207).
    pub iss: Option<String>,
    /// `error`.
    pub error: Option<String>,
}

/// The callback's query parser.
pub fn parse_callback_query(query: Option<&str>) -> Result<CallbackParams, AuthError> {
    callback::query::parse(query).map(|q| CallbackParams {
        code: q.code,
        state: q.state,
        iss: q.iss,
        error: q.error,
    })
}

/// The refusal the callback makes of an `error=...` response.
pub fn provider_denied(error: &str) -> AuthError {
    callback::query::provider_denied(error)
}

/// The return-to check: `Some(target)` only for a same-origin path of `base`.
pub fn safe_return_to(base: &url::Url, raw: &str) -> Option<String> {
    return_to::safe_return_to(base, raw)
}

/// A provider's signature keys, parsed from its JWKS document.
#[derive(Debug)]
pub struct Jwks(Vec<VerifyKey>);

impl Jwks {
    /// How many usable keys it holds (never 0).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false: a JWKS without a usable key is refused by [`parse_jwks`].
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The JWKS parser; `Err` carries the message a provider failure would show.
pub fn parse_jwks(body: &[u8]) -> Result<Jwks, String> {
    provider::parse_jwks(body)
        .map(Jwks)
        .map_err(|e| e.to_string())
}

/// The synchronous part of ID token validation, in the callback's order: the header and its
/// algorithm (against `advertised` algorithm names, e.g. `RS256`), the key, the signature.
/// Returns the claims, unchecked; `Err` carries the refusal's message.
pub fn verify_id_token(
    token: &str,
    keys: &Jwks,
    advertised: &[&str],
) -> Result<Map<String, Value>, String> {
    let advertised: Vec<jsonwebtoken::Algorithm> =
        advertised.iter().filter_map(|a| a.parse().ok()).collect();
    let header = id_token::header(token, &advertised).map_err(|e| e.to_string())?;
    let key = id_token::select_key(&keys.0, &header).map_err(|e| e.to_string())?;
    id_token::verify_signature(token, &header, key).map_err(|e| e.to_string())
}

/// What an ID token must say.
#[derive(Debug, Clone, Default)]
pub struct Expectation {
    /// The issuer.
    pub issuer: String,
    /// Our client id.
    pub client_id: String,
    /// Audiences accepted beside ours.
    pub trusted_audiences: Vec<String>,
    /// This login's nonce.
    pub nonce: String,
    /// Now, seconds since the epoch.
    pub now: u64,
    /// The leeway in seconds.
    pub leeway: u64,
}

/// The ID token claim checks; `Err` carries the refusal's message.
pub fn check_claims(claims: &Map<String, Value>, want: &Expectation) -> Result<(), String> {
    let expected = Expected {
        issuer: &want.issuer,
        client_id: &want.client_id,
        trusted_audiences: &want.trusted_audiences,
        nonce: &want.nonce,
        now: want.now,
        leeway: want.leeway,
    };
    id_token::check_claims(claims, &expected).map_err(|e| e.to_string())
}

/// A refused login: the policy's kind, the reason shown to the user, the detail for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// The kind (and HTTP status).
    pub kind: AuthErrorKind,
    /// The message shown to the user.
    pub reason: &'static str,
    /// The detail logged at debug level.
    pub detail: String,
}

/// The login steps that follow a valid ID token, with the providers of one configuration.
#[derive(Debug)]
pub struct LoginSteps {
    shared: Shared,
}

impl LoginSteps {
    /// The providers and policies of `config` (no I/O).
    pub fn new(config: OidcConfig) -> Self {
        Self {
            shared: Shared::new(config),
        }
    }

    /// How many providers there are (at least one).
    pub fn providers(&self) -> usize {
        self.shared.providers.len()
    }

    /// Whether the callback would ask the userinfo endpoint for more claims (provider index
    /// taken modulo the number of providers).
    pub fn wants_userinfo(&self, provider: usize, claims: &Map<String, Value>) -> bool {
        let p = &self.shared.providers[provider % self.providers()];
        callback::userinfo::wants_userinfo(&p.config, claims)
    }

    /// The callback's steps 7 and 8: the access policy and role map decide, and the claims
    /// become the session's contents (provider index taken modulo the number of providers).
    pub fn admit(
        &self,
        provider: usize,
        claims: Map<String, Value>,
        now: u64,
    ) -> Result<SessionFields, Refused> {
        let p = &self.shared.providers[provider % self.providers()];
        callback::admission::warn_missing_claims(&p.config, &claims);
        let grant = p.config.policy.evaluate(&claims).map_err(|r| Refused {
            kind: r.kind,
            reason: r.reason,
            detail: r.detail,
        })?;
        let lifetime = self.shared.config.session_lifetime.as_secs();
        Ok(callback::issue::identity_from_claims(p, claims, grant, now, lifetime).into())
    }
}

/// The role maps of a parsed config file.
#[derive(Debug)]
pub struct ParsedFile {
    /// The global `[roles]`.
    pub roles: Option<RoleMap>,
    /// Each `[[providers]]` entry's own `roles`.
    pub provider_roles: Vec<Option<RoleMap>>,
}

/// The `OIDC_CONFIG_FILE` parser; `name` stands for the file in messages.
pub fn parse_config_file(name: &str, text: &str) -> Result<ParsedFile, Vec<ConfigProblem>> {
    file::parse(name, text).map(|p| ParsedFile {
        roles: p.roles,
        provider_roles: p.provider_roles,
    })
}
