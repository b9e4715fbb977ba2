//! A refresh's answer checked into the session's new record: a bearer access token; a new
//! ID token (when one came) with the same signature and claim checks as at sign-in but no
//! `nonce`, and the session's `iss`, `sub` and `aud` (OpenID Connect Core 1.0 section 12.2);
//! then the access rules and the role map on the fresh claims (userinfo where the login used
//! it). A rotated refresh token replaces the old one; without one the old one stays.

use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};
use crate::flow::callback::{admission, identity::identity_from_claims, userinfo};
use crate::id_token;
use crate::jwt::{self, Audience};
use crate::provider::{Metadata, Provider, TokenResponse};
use crate::secret::Secret;
use crate::shared::Shared;
use crate::store::{StoredSession, StoredTokens};

/// Why the answer gives no new record.
#[derive(Debug)]
pub(super) enum Failure {
    /// Userinfo (or the provider's keys) could not be reached: try again later.
    Unreachable(String),
    /// The answer is unusable or its ID token fails a check: the session ends with this page.
    Refused(AuthError),
    /// The policy no longer admits the user: the session ends, a navigation signs in again.
    NotAdmitted(String),
}

/// The session's new record from the provider's `response` to the refresh of `record`.
pub(super) async fn check(
    shared: &Shared,
    provider: &Provider,
    metadata: &Metadata,
    record: StoredSession,
    response: TokenResponse,
    now: u64,
) -> Result<StoredSession, Failure> {
    let bad = |what: &str| {
        Failure::Refused(AuthError::new(
            AuthErrorKind::BadProviderResponse,
            format!("The identity provider's answer to the session's refresh {what}."),
        ))
    };
    // Bearer, or DPoP when the refresh carried a proof (RFC 9449 section 5).
    let dpop = provider.dpop_key(metadata).is_some();
    let dpop_bound = match response.token_type.as_deref() {
        Some(t) if t.eq_ignore_ascii_case("bearer") => false,
        Some(t) if dpop && t.eq_ignore_ascii_case("dpop") => true,
        _ if dpop => return Err(bad("has no Bearer or DPoP token_type")),
        _ => return Err(bad("has no Bearer token_type")),
    };
    let expires_in = response.expires_in();
    let Some(access_token) = response.access_token else {
        return Err(bad("has no access_token"));
    };
    let old = &record.identity;
    let claims = match &response.id_token {
        Some(token) => Some(id_token_claims(shared, provider, metadata, token, old, now).await?),
        None => None,
    };
    let audience = Audience::of(&provider.config, now, shared.config.leeway);
    let claims = fresh_claims(
        provider,
        metadata,
        &access_token,
        dpop_bound,
        claims,
        old,
        &audience,
    )
    .await?;
    let mut identity = match claims {
        Some(claims) => {
            let grant = admission::evaluate(provider, &claims)
                .map_err(|e| Failure::NotAdmitted(e.reason().to_owned()))?;
            let mut data = identity_from_claims(provider, claims, grant, now, 0);
            // The session stays the one it was: its id, sign-in time, lifetime, provider
            // session and what the app's login hook added at sign-in.
            data.session_id.clone_from(&old.session_id);
            data.authenticated_at = old.authenticated_at;
            data.expires_at = old.expires_at;
            data.sid.clone_from(&old.sid);
            data.app_json.clone_from(&old.app_json);
            data
        }
        None => old.duplicate(),
    };
    let refresh_token = response
        .refresh_token
        .map(Secret::new)
        .or_else(|| record.tokens.refresh_token.clone());
    let tokens = StoredTokens::new(
        Some(access_token),
        expires_in,
        refresh_token.map(|t| t.expose().to_owned()),
        now,
        shared.config.refresh.margin,
        dpop_bound,
    );
    identity.provider_token = tokens.provider_token();
    Ok(StoredSession {
        identity,
        id_token: response.id_token.unwrap_or(record.id_token),
        seen_at: record.seen_at,
        idle_secs: record.idle_secs,
        tokens,
    })
}

/// The new ID token's claims: signature and common checks as at sign-in, no `nonce`, and the
/// session's `iss` and `sub`.
async fn id_token_claims(
    shared: &Shared,
    provider: &Provider,
    metadata: &Metadata,
    token: &str,
    old: &crate::identity::IdentityData,
    now: u64,
) -> Result<Map<String, Value>, Failure> {
    let refused = |why: String| {
        Failure::Refused(AuthError::new(
            AuthErrorKind::InvalidIdToken,
            format!("The refreshed ID token was refused: {why}."),
        ))
    };
    let (_, claims) = jwt::verified(provider, &metadata.signing_algs, token)
        .await
        .map_err(|e| match e {
            Ok(err) => refused(id_token::IdTokenError::from(err).to_string()),
            Err(provider_err) => Failure::Unreachable(provider_err.to_string()),
        })?;
    let audience = Audience::of(&provider.config, now, shared.config.leeway);
    id_token::check_refreshed(&claims, &audience, &old.issuer, &old.subject)
        .map_err(|e| refused(e.to_string()))?;
    Ok(claims)
}

/// The claims the policy decides on: the new ID token's, with userinfo merged in where the
/// login would fetch it; without an ID token, userinfo's (same `sub`) when the provider has
/// the endpoint; `None`: nothing fresh to decide on, the identity stays.
async fn fresh_claims(
    provider: &Provider,
    metadata: &Metadata,
    access_token: &str,
    dpop_bound: bool,
    claims: Option<Map<String, Value>>,
    old: &crate::identity::IdentityData,
    audience: &Audience<'_>,
) -> Result<Option<Map<String, Value>>, Failure> {
    let userinfo_failed = |e: AuthError| match e.kind() {
        AuthErrorKind::ProviderUnreachable => Failure::Unreachable(e.reason().to_owned()),
        _ => Failure::Refused(e),
    };
    if let Some(claims) = claims {
        return userinfo::merge(
            provider,
            metadata,
            Some(access_token),
            dpop_bound,
            claims,
            audience,
        )
        .await
        .map(Some)
        .map_err(userinfo_failed);
    }
    let Some(endpoint) = &metadata.userinfo_endpoint else {
        return Ok(None);
    };
    let mut info = userinfo::fetch(
        provider,
        metadata,
        endpoint,
        access_token,
        dpop_bound,
        audience,
    )
    .await
    .map_err(userinfo_failed)?;
    if info.get("sub").and_then(Value::as_str) != Some(old.subject.as_str()) {
        return Err(Failure::Refused(AuthError::new(
            AuthErrorKind::InvalidUserinfo,
            "The userinfo response belongs to another user (sub mismatch).",
        )));
    }
    info.insert("iss".into(), Value::String(old.issuer.clone()));
    Ok(Some(info))
}
