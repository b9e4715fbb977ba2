//! An opaque bearer token seen for the first time: token introspection (RFC 7662) at the first
//! provider with an API audience whose discovery document names an `introspection_endpoint`
//! (an opaque token names no issuer, and it is never sent to a second provider), asked as the
//! client; then, for a token with a user and the `openid` scope, userinfo as at a login; then
//! the same policy and login hook as a login ([`super::bearer`]'s `admit`).
//!
//! The identity is cached until the token's `exp` or the provider's `API_INTROSPECTION_CACHE`
//! from now, whichever comes first, so a token revoked at the provider is refused at most that
//! long after.

use serde_json::Value;

use super::bearer::{admit, invalid};
use super::callback::userinfo;
use crate::bearer::cache::TokenDigest;
use crate::error::AuthError;
use crate::identity::Identity;
use crate::introspected_token;
use crate::shared::Shared;

/// The identity of opaque `token`, and until when it may be cached.
pub(super) async fn verify(
    shared: &Shared,
    token: &str,
    digest: &TokenDigest,
    now: u64,
) -> Result<(Identity, u64), AuthError> {
    let mut found = None;
    for provider in shared.providers.iter() {
        let Some(api) = provider.config.api.as_ref() else {
            continue;
        };
        let metadata = provider.metadata().await.map_err(|e| e.to_auth_error())?;
        if let Some(endpoint) = metadata.introspection_endpoint.clone() {
            found = Some((provider, api, metadata, endpoint));
            break;
        }
    }
    let Some((provider, api, metadata, endpoint)) = found else {
        return Err(invalid(
            "the access token is not a JWT, and no provider of this API introspects opaque tokens",
        ));
    };
    let call = provider.introspect(&metadata, &endpoint, token);
    let answer = crate::meter::provider_call(provider.config.slug.as_str(), "introspection", call)
        .await
        .map_err(|e| e.to_auth_error())?;
    let leeway = shared.config.leeway.as_secs();
    let checked =
        introspected_token::check(answer, provider.config.issuer.as_str(), api, now, leeway)
            .map_err(invalid)?;
    let has_openid = checked
        .claims
        .get("scope")
        .and_then(Value::as_str)
        .is_some_and(|s| s.split(' ').any(|s| s == "openid"));
    let claims = if checked.has_user && has_openid {
        // The token's user, described as at a login: the token itself opens userinfo.
        let audience = crate::jwt::Audience::of(&provider.config, now, shared.config.leeway);
        userinfo::merge(
            provider,
            &metadata,
            Some(token),
            false,
            checked.claims,
            &audience,
        )
        .await?
    } else {
        checked.claims
    };
    let bound = now.saturating_add(api.introspection_cache.as_secs());
    let until = checked.exp.map_or(bound, |exp| exp.min(bound));
    let identity = admit(
        shared,
        provider,
        claims,
        digest,
        checked.exp.unwrap_or(bound),
        now,
    )
    .await?;
    Ok((identity, until))
}
