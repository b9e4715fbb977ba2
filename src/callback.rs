//! The redirect URI handler: checks `state` and `iss` before anything else, redeems the code
//! with the PKCE verifier, validates the ID token, fetches userinfo when needed, and issues a
//! new session cookie.
//!
//! After any failed check nothing else is called: no token request after a bad `state` or
//! `iss`, no userinfo request after a bad ID token.

use std::sync::Arc;

use http::header;
use http::request::Parts;
use serde::Deserialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::config::{ProviderConfig, UserinfoPolicy};
use crate::error::{AuthError, AuthErrorKind};
use crate::hook::{LoginAttempt, LoginDecision};
use crate::id_token::{self, Expected, IdTokenError};
use crate::identity::{Identity, IdentityData};
use crate::login::{provider_error, safe_return_to};
use crate::pages::{self, Page};
use crate::policy::{email_verified, Grant};
use crate::provider::Provider;
use crate::random::random_token;
use crate::service::Shared;
use crate::session::{
    encode_session, request_cookie, LoginRecord, Purpose, LOGIN_TTL_SECS, MAX_COOKIE_VALUE,
};

/// The authorization response's query (RFC 6749 4.1.2, RFC 9207).
#[derive(Deserialize, Default)]
pub(crate) struct CallbackQuery {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) iss: Option<String>,
    pub(crate) error: Option<String>,
}

/// Claims that describe the protocol exchange rather than the user; not kept in the session.
pub(crate) const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "jti",
    "sid",
    "email_verified",
    "typ",
];

/// Reads the authorization response's query; a query that is not form-encoded text is refused.
pub(crate) fn parse_query(query: Option<&str>) -> Result<CallbackQuery, AuthError> {
    match query {
        None => Ok(CallbackQuery::default()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|_| {
            fail(
                AuthErrorKind::MalformedCallback,
                "The sign-in response could not be read.",
            )
        }),
    }
}

/// The refusal for an error response from the provider: its `error` code is echoed only when
/// it looks like one (letters, digits and `_`, at most 64 bytes; RFC 6749 4.1.2.1).
pub(crate) fn provider_denied(error: &str) -> AuthError {
    let code = if error
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && error.len() <= 64
    {
        error
    } else {
        "unrecognised_error"
    };
    fail(
        AuthErrorKind::ProviderDenied,
        format!("The identity provider did not sign you in ({code})."),
    )
}

pub(crate) async fn handle(shared: &Shared, parts: &Parts) -> Page {
    let names = &shared.cookies.names;
    // The login cookie found for this callback, removed in every outcome.
    let mut used_cookie: Option<String> = None;
    let result = run(shared, parts, &mut used_cookie).await;
    let mut page = match result {
        Ok(page) => page,
        Err(err) => {
            tracing::warn!(
                target: "tower_oidc",
                event = "login_failed",
                kind = err.kind().as_str(),
                reason = %err.reason(),
            );
            pages::error_page(&err, &shared.config.login_path, &shared.config.logout_path)
        }
    };
    if let Some(name) = used_cookie {
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&name));
    }
    if page.status() == http::StatusCode::FORBIDDEN {
        // Not admitted: whatever session this browser held before (perhaps another user's)
        // must not carry on as if nothing happened.
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&names.session));
        // ... nor its logout hint, which names that earlier user to their provider.
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&names.logout));
    }
    page
}

fn fail(kind: AuthErrorKind, reason: impl Into<String>) -> AuthError {
    AuthError::new(kind, reason)
}

async fn run(
    shared: &Shared,
    parts: &Parts,
    used_cookie: &mut Option<String>,
) -> Result<Page, AuthError> {
    let config = &shared.config;
    let cookies = &shared.cookies;
    let query = parse_query(parts.uri.query())?;

    // 1. state: present, matching a login started in this browser, fresh, and unused.
    let state = query
        .state
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            fail(
                AuthErrorKind::MissingState,
                "The sign-in response did not carry a state parameter.",
            )
        })?;
    let cookie_name = cookies.names.login(state);
    let Some(value) = request_cookie(&parts.headers, &cookie_name) else {
        return Err(fail(
            AuthErrorKind::LoginExpired,
            "No sign-in was started from this browser for this response, or it was already completed.",
        ));
    };
    *used_cookie = Some(cookie_name.clone());
    let record = LoginRecord::open(&cookies.codec, &cookie_name, value).ok_or_else(|| {
        fail(
            AuthErrorKind::StateMismatch,
            "The sign-in record in this browser is not valid.",
        )
    })?;
    if !bool::from(record.state.as_bytes().ct_eq(state.as_bytes())) {
        return Err(fail(
            AuthErrorKind::StateMismatch,
            "The sign-in response does not match the sign-in started in this browser.",
        ));
    }
    let now = config.clock.unix_seconds();
    if record.created_at.saturating_add(LOGIN_TTL_SECS) <= now {
        return Err(fail(
            AuthErrorKind::LoginExpired,
            "The sign-in took longer than ten minutes.",
        ));
    }
    if !cookies.replay.consume(state, now) {
        return Err(fail(
            AuthErrorKind::LoginExpired,
            "This sign-in response was already used.",
        ));
    }
    let provider = shared
        .provider_for(&record.provider, &record.issuer)
        .ok_or_else(|| {
            fail(
                AuthErrorKind::StateMismatch,
                "The sign-in was started for a provider that is no longer configured.",
            )
        })?;
    // Mix-up defence (RFC 9700 4.4): with several providers each has its own callback route,
    // and the response must arrive on the route of the provider the login was started with.
    if parts.uri.path() != provider.config.callback_path {
        return Err(fail(
            AuthErrorKind::IssuerMismatch,
            "The sign-in response arrived at another identity provider's callback route.",
        ));
    }

    // 2. iss (RFC 9207), on success and error responses alike, before anything else is
    //    believed or redeemed: it defeats mix-up attacks.
    let metadata = provider.metadata().await.map_err(|e| provider_error(&e))?;
    match query.iss.as_deref() {
        Some(iss) if iss == provider.config.issuer.as_str() => {}
        Some(iss)
            if shared
                .providers
                .iter()
                .any(|p| p.config.issuer.as_str() == iss) =>
        {
            return Err(fail(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response came from another configured identity provider than the one this sign-in was started with (mix-up).",
            ));
        }
        Some(_) => {
            return Err(fail(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response came from another identity provider (iss).",
            ));
        }
        None if metadata.iss_parameter_supported => {
            return Err(fail(
                AuthErrorKind::IssuerMismatch,
                "The sign-in response lacks the iss parameter its provider promises (RFC 9207).",
            ));
        }
        None => {}
    }
    // 3. An error from the provider ends here.
    if let Some(error) = query.error.as_deref() {
        return Err(provider_denied(error));
    }

    let code = query
        .code
        .as_deref()
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            fail(
                AuthErrorKind::MalformedCallback,
                "The sign-in response did not carry a code.",
            )
        })?;

    // 4. Redeem the code with the PKCE verifier.
    let tokens = provider
        .exchange_code(
            &metadata,
            code,
            &record.verifier,
            &provider.config.redirect_uri,
        )
        .await
        .map_err(|e| provider_error(&e))?;
    let raw_id_token = tokens.id_token.as_deref().ok_or_else(|| {
        fail(AuthErrorKind::BadProviderResponse, "The identity provider's token response has no id_token; is the `openid` scope allowed for this client?")
    })?;

    // 5. The ID token.
    let mut claims = validate_id_token(
        shared,
        provider,
        &metadata.signing_algs,
        raw_id_token,
        &record.nonce,
        now,
    )
    .await
    .map_err(|e| match e {
        Ok(err) => fail(AuthErrorKind::InvalidIdToken, format!("{err}.")),
        Err(provider_err) => provider_error(&provider_err),
    })?;

    // 6. Userinfo, when the ID token lacks claims we need.
    if let (Some(endpoint), Some(access_token)) =
        (&metadata.userinfo_endpoint, tokens.access_token.as_deref())
    {
        if wants_userinfo(&provider.config, &claims) {
            let info = provider
                .userinfo(endpoint, access_token)
                .await
                .map_err(|e| provider_error(&e))?;
            if info.get("sub").and_then(Value::as_str) != claims.get("sub").and_then(Value::as_str)
            {
                return Err(fail(
                    AuthErrorKind::InvalidUserinfo,
                    "The userinfo response belongs to another user (sub mismatch).",
                ));
            }
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
    }

    // 7. The access rules and the role map, decided afresh at every login.
    warn_missing_claims(&provider.config, &claims);
    let grant = provider
        .config
        .policy
        .evaluate(&claims)
        .map_err(|refusal| {
            tracing::debug!(
                target: "tower_oidc",
                event = "login_refused",
                kind = refusal.kind.as_str(),
                detail = %refusal.detail,
            );
            fail(refusal.kind, refusal.reason)
        })?;
    tracing::debug!(
        target: "tower_oidc",
        event = "login_policy",
        provider = provider.config.slug.as_str(),
        role = grant.role.as_ref().map(|r| r.as_str()),
        admin = grant.admin,
        detail = %grant.admin_detail,
    );

    // 8. The session: a new value at every login, so a planted cookie cannot be kept.
    let hook_claims = config.login_hook.as_ref().map(|_| Arc::new(claims.clone()));
    let mut data = identity_from_claims(
        provider,
        claims,
        grant,
        now,
        config.session_lifetime.as_secs(),
    );
    // 9. The app's login hook: provisioning, account linking, or a refusal.
    if let (Some(hook), Some(claims)) = (&config.login_hook, hook_claims) {
        let identity = Identity::from_data(data);
        let attempt = LoginAttempt {
            identity: identity.clone(),
            claims,
            auto_provision: provider.config.auto_provision,
        };
        let decision = hook(attempt).await;
        data = identity.clone_data();
        match decision {
            LoginDecision::Allow => {}
            LoginDecision::AllowWith(extra) => {
                if !extra.is_empty() {
                    data.app_json = Value::Object(extra).to_string();
                }
            }
            LoginDecision::Refuse(message) => {
                return Err(fail(AuthErrorKind::LoginRefused, message));
            }
        }
    }
    let session = encode_session(&cookies.codec, &cookies.names, &mut data).ok_or_else(|| {
        fail(
            AuthErrorKind::SessionTooLarge,
            "Your account's information is too large for a session cookie.",
        )
    })?;
    let identity = Identity::from_data(data);
    tracing::info!(
        target: "tower_oidc",
        event = "login",
        provider = identity.provider(),
        issuer = identity.issuer(),
        subject = identity.subject(),
    );

    let return_to =
        safe_return_to(&config.base_url, &record.return_to).unwrap_or_else(|| "/".to_owned());
    let mut page = pages::redirect(&return_to);
    let lifetime = config.session_lifetime.as_secs();
    let headers = page.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookies
            .names
            .set(&cookies.names.session, &session, lifetime),
    );
    let hint = cookies.codec.seal(
        Purpose::Logout,
        &cookies.names.logout,
        raw_id_token.as_bytes(),
    );
    if hint.len() <= MAX_COOKIE_VALUE {
        headers.append(
            header::SET_COOKIE,
            cookies.names.set(&cookies.names.logout, &hint, lifetime),
        );
    } else {
        // Too large to keep: drop any hint of an earlier user of this browser, so that this
        // user's logout never names someone else to the provider.
        headers.append(
            header::SET_COOKIE,
            cookies.names.remove(&cookies.names.logout),
        );
    }
    page.extensions_mut().insert(identity);
    Ok(page)
}

/// Validates the ID token; the outer `Err` is `Ok(validation failure)` or `Err(provider failure)`.
async fn validate_id_token(
    shared: &Shared,
    provider: &Provider,
    advertised: &[jsonwebtoken::Algorithm],
    token: &str,
    nonce: &str,
    now: u64,
) -> Result<Map<String, Value>, Result<IdTokenError, crate::provider::ProviderError>> {
    let header = id_token::header(token, advertised).map_err(Ok)?;
    let keys = provider.keys().await.map_err(Err)?;
    let key = match id_token::select_key(&keys, &header) {
        Ok(key) => key.clone(),
        Err(IdTokenError::UnknownKey) => {
            // The provider may have rotated its keys: refetch once (single-flight, rate-limited).
            let fresh = provider.refresh_keys(Some(&keys)).await.map_err(Err)?;
            id_token::select_key(&fresh, &header).map_err(Ok)?.clone()
        }
        Err(e) => return Err(Ok(e)),
    };
    let claims = id_token::verify_signature(token, &header, &key).map_err(Ok)?;
    let expected = Expected {
        issuer: provider.config.issuer.as_str(),
        client_id: provider.config.client_id.as_str(),
        trusted_audiences: &provider.config.trusted_audiences,
        nonce,
        now,
        leeway: shared.config.leeway.as_secs(),
    };
    id_token::check_claims(&claims, &expected).map_err(Ok)?;
    Ok(claims)
}

/// Claims the configuration relies on but the provider did not send: a provider-side setting
/// (a scope, a claim mapper) is missing. Logged for the operator with the fix.
pub(crate) fn warn_missing_claims(config: &ProviderConfig, claims: &Map<String, Value>) {
    let policy = &config.policy;
    let mut missing: Vec<(&str, &str)> = Vec::new();
    let groups = &policy.groups_claim;
    if (policy.access.admin_group.is_some() || policy.roles.is_some())
        && groups.lookup(claims).is_none()
    {
        missing.push((
            groups.as_str(),
            "request the scope that releases it (often `groups`) or add a groups claim mapper at the provider",
        ));
    }
    if let Some(map) = &policy.roles {
        if map.claim() != groups && map.claim().lookup(claims).is_none() {
            missing.push((
                map.claim().as_str(),
                "request the scope that releases it or add a claim mapper at the provider",
            ));
        }
    }
    if !policy.access.allowed_email_domains.is_empty() && !claims.contains_key(&policy.email_claim)
    {
        missing.push((policy.email_claim.as_str(), "request the `email` scope"));
    }
    for (claim, fix) in missing {
        tracing::warn!(
            target: "tower_oidc",
            event = "claim_missing",
            provider = config.slug.as_str(),
            claim,
            "the `{claim}` claim is in neither the ID token nor userinfo: {fix}",
        );
    }
}

pub(crate) fn wants_userinfo(config: &ProviderConfig, claims: &Map<String, Value>) -> bool {
    match config.userinfo {
        UserinfoPolicy::Always => true,
        UserinfoPolicy::Never => false,
        _ => {
            [
                &config.claims.email,
                &config.claims.full_name,
                &config.claims.username,
            ]
            .iter()
            .any(|c| !claims.contains_key(c.as_str()))
                || config.policy.groups_claim.lookup(claims).is_none()
                || config
                    .policy
                    .roles
                    .as_ref()
                    .is_some_and(|r| r.claim().lookup(claims).is_none())
        }
    }
}

fn string_claim(claims: &mut Map<String, Value>, name: &str) -> Option<String> {
    match claims.remove(name) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            claims.insert(name.to_owned(), other);
            None
        }
        None => None,
    }
}

/// Maps claims onto an identity, with what the policy granted. `email_verified` may be the
/// string `"true"` (some providers); groups may be one string or an array of strings (the
/// policy has already refused any other shape).
pub(crate) fn identity_from_claims(
    provider: &Provider,
    mut claims: Map<String, Value>,
    grant: Grant,
    now: u64,
    lifetime: u64,
) -> IdentityData {
    let names = &provider.config.claims;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let email_verified = email_verified(&claims);
    let email = string_claim(&mut claims, &names.email);
    let name = string_claim(&mut claims, &names.full_name);
    let preferred_username = string_claim(&mut claims, &names.username);
    let groups_claim = &provider.config.policy.groups_claim;
    let groups = groups_claim
        .groups(&claims)
        .map(|g| g.into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    claims.remove(groups_claim.as_str());
    for claim in PROTOCOL_CLAIMS {
        claims.remove(*claim);
    }
    IdentityData {
        subject,
        issuer,
        provider: provider.config.slug.as_str().to_owned(),
        email,
        email_verified,
        name,
        preferred_username,
        groups,
        role: grant.role,
        admin: grant.admin,
        app_json: String::new(),
        claims_json: if claims.is_empty() {
            String::new()
        } else {
            Value::Object(claims).to_string()
        },
        authenticated_at: now,
        expires_at: now.saturating_add(lifetime),
        session_id: random_token(16),
        claims: std::sync::OnceLock::new(),
    }
}
