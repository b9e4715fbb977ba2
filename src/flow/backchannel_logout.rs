//! The back-channel logout route (OpenID Connect Back-Channel Logout 1.0): the provider POSTs a
//! logout token, and once it passes every check ([`crate::jwt`], [`crate::logout_token`], its
//! `jti` seen for the first time) the sessions it names end: in the server-side store, so on
//! every replica, or with the cookie store in this process's memories
//! ([`crate::session::Memories::end_sessions`]); see [`super::ending`]. The answers follow section 2.8: 200 with an
//! empty body, 400 with an error JSON for a bad request or token, and 503 while the provider's
//! discovery or keys cannot be fetched (the token may be fine: the provider may try again);
//! always `Cache-Control: no-store`.

use http::request::Parts;
use http::{header, HeaderValue, Method, StatusCode};
use http_body::Body;

use crate::audit::AuditKind;
use crate::jwt::{self, Audience};
use crate::logout_token::{self, LogoutToken, LogoutTokenError};
use crate::pages::{self, Page};
use crate::provider::{Provider, ProviderError};
use crate::session::{Ending, Replay};
use crate::shared::Shared;

/// The largest request body read: a logout token is a few hundred bytes to a few KiB.
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Why a logout token did not end anything.
enum Refusal {
    /// The request or the token is bad: 400.
    Invalid(String),
    /// The provider's discovery or keys could not be fetched: 503.
    Unavailable(ProviderError),
}

impl From<LogoutTokenError> for Refusal {
    fn from(e: LogoutTokenError) -> Self {
        Self::Invalid(e.to_string())
    }
}

/// Handles a request to the back-channel logout route of the provider at `index`.
pub(crate) async fn handle<B>(shared: &Shared, index: usize, parts: &Parts, body: B) -> Page
where
    B: Body + Send,
    B::Data: Send,
{
    let provider = &shared.providers[index];
    if parts.method != Method::POST {
        let mut page = invalid("the back-channel logout route takes a POST");
        *page.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        page.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("POST"));
        return page;
    }
    let form = match form_body(parts, body).await {
        Ok(form) => form,
        Err(page) => return page,
    };
    let outcome = match logout_token_parameter(&form) {
        Ok(token) => verify(shared, provider, &token).await,
        Err(message) => Err(Refusal::Invalid(message.to_owned())),
    };
    match outcome {
        Ok(token) => end(shared, provider, parts, &token).await,
        Err(Refusal::Invalid(reason)) => {
            tracing::warn!(
                target: "tower_oidc",
                event = "backchannel_logout_refused",
                provider = provider.config.slug.as_str(),
                "{reason}"
            );
            invalid(&reason)
        }
        Err(Refusal::Unavailable(err)) => {
            tracing::warn!(
                target: "tower_oidc",
                event = "backchannel_logout_unavailable",
                provider = provider.config.slug.as_str(),
                "{err}"
            );
            pages::backchannel_logout_refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the identity provider's keys cannot be fetched now; try again later",
            )
        }
    }
}

/// 400 with `invalid_request` and `reason`.
fn invalid(reason: &str) -> Page {
    pages::backchannel_logout_refused(StatusCode::BAD_REQUEST, "invalid_request", reason)
}

/// The body, when it is an `application/x-www-form-urlencoded` form of at most [`MAX_BODY`]
/// bytes; otherwise the page that says what is wrong (413 when too large, else 400).
async fn form_body<B>(parts: &Parts, body: B) -> Result<Vec<u8>, Page>
where
    B: Body + Send,
    B::Data: Send,
{
    use super::form_body::FormBodyError;
    super::form_body::read(parts, body, MAX_BODY)
        .await
        .map_err(|e| match e {
            FormBodyError::NotForm => invalid(
                "the body must be application/x-www-form-urlencoded (Back-Channel Logout 1.0 section 2.5)",
            ),
            FormBodyError::TooLarge => {
                let mut page = invalid("the body is larger than 16 KiB");
                *page.status_mut() = StatusCode::PAYLOAD_TOO_LARGE;
                page
            }
            FormBodyError::Unreadable => invalid("the body could not be read"),
        })
}

/// The one `logout_token` parameter of the form.
fn logout_token_parameter(form: &[u8]) -> Result<String, &'static str> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(form).map_err(|_| "the body is not a well-formed form")?;
    let mut tokens = pairs.into_iter().filter(|(k, _)| k == "logout_token");
    match (tokens.next(), tokens.next()) {
        (Some((_, token)), None) if !token.is_empty() => Ok(token),
        (Some(_), Some(_)) => Err("the form holds more than one logout_token"),
        _ => Err("the form has no logout_token"),
    }
}

/// Every check of section 2.6, in order, then the `jti` remembered.
async fn verify(shared: &Shared, provider: &Provider, token: &str) -> Result<LogoutToken, Refusal> {
    // The logout token is signed like the provider's ID tokens (section 2.6, step 3): the same
    // allowlist, narrowed to what discovery advertises for them.
    let metadata = provider.metadata().await.map_err(Refusal::Unavailable)?;
    let (header, claims) = jwt::verified(provider, &metadata.signing_algs, token)
        .await
        .map_err(|e| match e {
            Ok(refusal) => Refusal::from(LogoutTokenError::from(refusal)),
            Err(unavailable) => Refusal::Unavailable(unavailable),
        })?;
    logout_token::check_type(&header)?;
    let config = &provider.config;
    let now = shared.config.clock.unix_seconds();
    let want = Audience::of(config, now, shared.config.leeway);
    let checked = logout_token::check_claims(&claims, &want)?;
    // Last, so that a token refused for anything else does not use up its `jti`.
    let seen = seen_key(config.issuer.as_str(), &checked.jti);
    match shared
        .cookies
        .memories
        .logout_tokens
        .consume(&seen, checked.remember_until, now)
    {
        Replay::First => Ok(checked),
        Replay::Again => Err(LogoutTokenError::Replayed.into()),
        Replay::Unknown => Err(LogoutTokenError::ReplayUnknown.into()),
    }
}

/// The replay guard's key of a logout token: its `jti` at its issuer.
fn seen_key(issuer: &str, jti: &str) -> String {
    format!("{issuer}\n{jti}")
}

/// Ends the sessions `token` names: by `sid` when it has one (that session at the provider
/// ended), else every session of its `sub` signed in until the token was issued, in the server-side store
/// (every replica) or this process's memories ([`super::ending::end`]); then 200, or 503 when
/// the store cannot be reached.
async fn end(shared: &Shared, provider: &Provider, parts: &Parts, token: &LogoutToken) -> Page {
    let issuer = provider.config.issuer.as_str().to_owned();
    let now = shared.config.clock.unix_seconds();
    let ending = match (&token.sid, &token.sub) {
        (Some(sid), _) => Ending::Sid {
            issuer,
            sid: sid.clone(),
        },
        // Every session of the user signed in until the logout: by the token's `iat` (with
        // the leeway, for the clocks' skew), so that a session signed in after it, before this
        // token (or the provider's retry of it) arrived, is kept; never later than now.
        (None, Some(subject)) => Ending::Subject {
            issuer,
            subject: subject.clone(),
            before: token
                .issued_at
                .saturating_add(shared.config.leeway.as_secs())
                .min(now),
        },
        (None, None) => unreachable!("check_claims refuses a token without sid and sub"),
    };
    let ended = match super::ending::end(shared, &ending, now).await {
        Ok(ended) => ended,
        Err(e) => {
            // Nothing ended: the provider's retry of this token must be accepted.
            shared
                .cookies
                .memories
                .logout_tokens
                .release(&seen_key(provider.config.issuer.as_str(), &token.jti));
            tracing::warn!(
                target: "tower_oidc",
                event = "backchannel_logout_unavailable",
                provider = provider.config.slug.as_str(),
                error = %e,
                "the sessions of a logout token could not be ended: the session store cannot be reached",
            );
            return pages::backchannel_logout_refused(
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the session store cannot be reached now; try again later",
            );
        }
    };
    tracing::info!(
        target: "tower_oidc",
        event = "backchannel_logout",
        provider = provider.config.slug.as_str(),
        issuer = provider.config.issuer.as_str(),
        subject = token.sub.as_deref(),
        by = if token.sid.is_some() { "sid" } else { "sub" },
        sessions_ended = ended,
        server_side = shared.server.is_some(),
    );
    crate::meter::logout("back_channel");
    super::audit_trail::record(
        shared,
        parts,
        AuditKind::BackChannelSignOut,
        Some(&provider.config),
        token.sub.as_deref(),
        None,
    );
    pages::backchannel_logout_done()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_needs_exactly_one_logout_token() {
        assert_eq!(
            logout_token_parameter(b"logout_token=a.b.c&other=1").as_deref(),
            Ok("a.b.c")
        );
        for bad in [
            &b""[..],
            b"logout_token=",
            b"token=a.b.c",
            b"logout_token=a&logout_token=b",
        ] {
            assert!(
                logout_token_parameter(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
