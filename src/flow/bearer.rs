//! A bearer access token seen for the first time (RFC 6750). Which check applies is decided by
//! its shape: a JWS (three dot-separated parts) is a JWT access token (RFC 9068), verified
//! here and never sent to the provider, without I/O once the keys are known: the provider
//! its issuer names, the type, the signature against that provider's keys (refetched once for
//! an unknown `kid`, [`crate::jwt`] as for ID tokens), every claim. Any other token is opaque and introspected
//! ([`super::introspect`]). Either way the claims then go through the same policy and login
//! hook as a login, into the same [`Identity`]. The result is cached
//! ([`crate::bearer::cache`]), so the next request with it does no check and no I/O.

use http::request::Parts;
use serde_json::{Map, Value};

use super::callback::admission;
use crate::access_token::{self, AccessTokenError};
use crate::bearer::challenge;
use crate::bearer::header::{credentials, Credentials};
use crate::error::{AuthError, AuthErrorKind};
use crate::identity::{AccessGrant, Identity};
use crate::jwt::{self, JwtError};
use crate::pages::Page;
use crate::provider::Provider;
use crate::random::sha256_b64;
use crate::route::TokenRoute;
use crate::shared::Shared;

/// The answer to an API request that is refused before any token is verified.
pub(crate) fn page(route: TokenRoute) -> Page {
    match route {
        TokenRoute::Missing => challenge::missing(),
        // `Verify` is carried out by the service, which calls the inner service after it.
        TokenRoute::Malformed | TokenRoute::Verify => challenge::malformed(),
    }
}

/// The identity of the request's bearer token, or the page that refuses it.
pub(crate) async fn authenticate(shared: &Shared, parts: &Parts) -> Result<Identity, Page> {
    let Credentials::Bearer(token) = credentials(&parts.headers) else {
        return Err(challenge::malformed());
    };
    let now = shared.config.clock.unix_seconds();
    // Another request with the same token may have verified it meanwhile.
    if let Some(identity) = shared.bearer.get(token.as_bytes(), now) {
        return Ok(identity);
    }
    // The shape decides: three dot-separated parts are a JWS, checked here and never sent to
    // the provider; anything else is opaque, for introspection.
    let verified = if token.bytes().filter(|b| *b == b'.').count() == 2 {
        verify(shared, token, now).await.map(|identity| {
            let exp = identity.expires_at();
            (identity, exp)
        })
    } else {
        super::introspect::verify(shared, token, now).await
    };
    let (identity, until) = verified.map_err(|err| {
        tracing::debug!(
            target: "tower_oidc",
            event = "bearer_refused",
            kind = err.kind().as_str(),
            reason = err.reason(),
        );
        challenge::refused(&err)
    })?;
    shared.bearer.insert(token, identity.clone(), until, now);
    Ok(identity)
}

/// A refused token: 401 `invalid_token`, with `reason` as its description.
pub(super) fn invalid(reason: impl std::fmt::Display) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidAccessToken, reason.to_string())
}

/// A JWT access token.
async fn verify(shared: &Shared, token: &str, now: u64) -> Result<Identity, AuthError> {
    let issuer = access_token::unverified_issuer(token)
        .ok_or_else(|| invalid("the access token is not a well-formed JWT"))?;
    let issuer = issuer.as_str();
    // The issuer picks whose keys and rules decide; its checks follow.
    let (provider, api) = shared
        .providers
        .iter()
        .find_map(|p| {
            let api = p.config.api.as_ref()?;
            (p.config.issuer.as_str() == issuer).then_some((p, api))
        })
        .ok_or_else(|| invalid("the access token was not issued by a provider this API accepts"))?;
    let header = jwt::header(token, &[]).map_err(|e| invalid(signature_reason(&e)))?;
    access_token::check_type(&header, api).map_err(invalid)?;
    let claims = jwt::verified_claims(provider, token, &header)
        .await
        .map_err(|e| match e {
            Ok(err) => invalid(signature_reason(&err)),
            Err(provider_err) => provider_err.to_auth_error(),
        })?;
    let leeway = shared.config.leeway.as_secs();
    access_token::check_claims(&claims, issuer, api, now, leeway).map_err(invalid)?;
    // `check_claims` proved `exp` is a number after `now`.
    let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0) as u64;
    admit(shared, provider, claims, token, exp, now).await
}

/// The signature and header failures, worded for an access token (the ID token's messages
/// name the ID token).
fn signature_reason(err: &JwtError) -> &'static str {
    match err {
        JwtError::AlgorithmNotAllowed => {
            "the access token's signature algorithm is not allowed (only asymmetric ones)"
        }
        JwtError::CriticalHeader => "the access token's header names critical extensions (crit)",
        JwtError::UnknownKey | JwtError::AmbiguousKey => {
            "no key of the provider matches the access token's key id"
        }
        JwtError::BadSignature => "the access token's signature is invalid",
        _ => "the access token is not a well-formed JWT",
    }
}

/// The policy and the login hook on the token's claims, as at a login; the identity lives
/// until `exp`, the token's.
pub(super) async fn admit(
    shared: &Shared,
    provider: &Provider,
    claims: Map<String, Value>,
    token: &str,
    exp: u64,
    now: u64,
) -> Result<Identity, AuthError> {
    let grant = provider
        .config
        .policy
        .evaluate(&claims)
        .map_err(|refusal| AuthError::new(refusal.kind, refusal.reason))?;
    let access = access_grant(&claims);
    let mut data = admission::admit(shared, provider, claims, grant, now).await?;
    data.expires_at = exp;
    data.session_id = sha256_b64(token.as_bytes())[..22].to_owned();
    data.access = Some(Box::new(access));
    Ok(Identity::from_data(data))
}

/// The scopes and the client of a verified token.
fn access_grant(claims: &Map<String, Value>) -> AccessGrant {
    let string = |name: &str| claims.get(name).and_then(Value::as_str);
    let scopes = string("scope")
        .map(|s| {
            s.split(' ')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let client_id = string("client_id")
        .or_else(|| string("azp"))
        .map(str::to_owned);
    let client_only = client_id.is_some() && client_id.as_deref() == string("sub");
    AccessGrant {
        scopes,
        client_id,
        client_only,
    }
}

impl From<AccessTokenError> for AuthError {
    fn from(err: AccessTokenError) -> Self {
        invalid(err)
    }
}
