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
use crate::bearer::cache::TokenDigest;
use crate::bearer::challenge;
use crate::bearer::header::{credentials, Credentials};
use crate::error::{AuthError, AuthErrorKind};
use crate::identity::{AccessGrant, Identity};
use crate::jwt::{self, JwtError};
use crate::pages::Page;
use crate::provider::Provider;
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
    let digest = TokenDigest::of(token.as_bytes());
    // Another request with the same token may have verified it meanwhile.
    if let Some(identity) = shared.bearer.find(&digest, now) {
        return Ok(identity);
    }
    // The shape decides: three dot-separated parts are a JWS, checked here and never sent to
    // the provider; anything else is opaque, for introspection.
    let verified = if token.bytes().filter(|b| *b == b'.').count() == 2 {
        verify(shared, token, &digest, now).await.map(|identity| {
            let exp = identity.expires_at();
            (identity, exp)
        })
    } else {
        super::introspect::verify(shared, token, &digest, now).await
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
    shared.bearer.insert(&digest, identity.clone(), until, now);
    Ok(identity)
}

/// A refused token: 401 `invalid_token`, with `reason` as its description.
pub(super) fn invalid(reason: impl std::fmt::Display) -> AuthError {
    AuthError::new(AuthErrorKind::InvalidAccessToken, reason.to_string())
}

/// A JWT access token.
async fn verify(
    shared: &Shared,
    token: &str,
    digest: &TokenDigest,
    now: u64,
) -> Result<Identity, AuthError> {
    // The payload is read once, before the signature is checked: its `iss` picks the provider,
    // and once the signature verified, its claims are the token's.
    let malformed = || invalid("the access token is not a well-formed JWT");
    let parts = jwt::Parts::of(token).ok_or_else(malformed)?;
    let claims = jwt::payload::decode(parts.payload).ok_or_else(malformed)?;
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .ok_or_else(malformed)?;
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
    jwt::verified_signature(provider, parts, token, &header)
        .await
        .map_err(|e| match e {
            Ok(err) => invalid(signature_reason(&err)),
            Err(provider_err) => provider_err.to_auth_error(),
        })?;
    let leeway = shared.config.leeway.as_secs();
    access_token::check_claims(&claims, issuer, api, now, leeway).map_err(invalid)?;
    // `check_claims` proved `exp` is a number after `now`.
    let exp = claims.get("exp").and_then(Value::as_f64).unwrap_or(0.0) as u64;
    admit(shared, provider, claims, digest, exp, now).await
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
/// until `exp`, the token's, and its session id is the start of the token's `digest`.
pub(super) async fn admit(
    shared: &Shared,
    provider: &Provider,
    claims: Map<String, Value>,
    digest: &TokenDigest,
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
    data.session_id = {
        use base64::Engine as _;
        // 22 base64url characters: the first 132 bits of the digest.
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest.0[..17])[..22].to_owned()
    };
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
