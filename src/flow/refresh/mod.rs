//! The refresh of a server-side session whose tokens are due (RFC 6749 section 6), off the
//! hot path: one refresh per session in this process (the first request leads, the others
//! join it or are served with the current session while its access token lasts), one across
//! replicas (the store's lock `refresh:{id}`; the record is read again once it is held, and a
//! refresh another replica made is taken as it is). The answer is checked in [`renewed`].
//!
//! A refusal (`invalid_grant`, a bad ID token, the policy) ends the session in the store, so on
//! every replica; an unreachable provider leaves the session as it is until its access token
//! expired `OIDC_REFRESH_GRACE` ago, then 503 until the provider answers again.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::request::Parts;

use crate::error::AuthError;
use crate::identity::Identity;
use crate::provider::ProviderError;
use crate::route::Loaded;
use crate::session::request_cookie;
use crate::shared::Shared;
use crate::store::{wait_for_refresh, Joined, Refreshed, ServerSessions, StoredSession};

mod renewed;

/// How long the refresh lock is held at most (a refresh takes one token request and perhaps
/// a userinfo request, each bounded by the HTTP timeout).
const LOCK_TTL: Duration = Duration::from_secs(30);
/// How long a request whose access token has expired waits for another's refresh.
const WAIT: Duration = Duration::from_secs(5);
/// How long after a refresh that could not reach the provider the next one is tried.
const RETRY_SECS: u64 = 5;
/// How often, and how many times, a replica that found the lock taken reads the record again.
const POLL: Duration = Duration::from_millis(100);
const POLLS: u32 = 50;

/// The session `identity`, due for a refresh, refreshed (or joined to the refresh under way):
/// what the request's route then sees.
pub(crate) fn session(
    shared: Arc<Shared>,
    parts: &Parts,
    identity: Identity,
) -> impl Future<Output = Loaded> + Send + 'static {
    let value = request_cookie(&parts.headers, &shared.cookies.names.session).map(str::to_owned);
    refreshed(shared, value, identity)
}

/// A session loaded from the store (`load`), refreshed first when it is due.
pub(crate) fn after_load(
    shared: Arc<Shared>,
    parts: &Parts,
    load: impl Future<Output = Loaded> + Send + 'static,
) -> impl Future<Output = Loaded> + Send + 'static {
    let value = request_cookie(&parts.headers, &shared.cookies.names.session).map(str::to_owned);
    async move {
        match load.await {
            Loaded::Due(identity) => refreshed(shared, value, identity).await,
            loaded => loaded,
        }
    }
}

/// The refresh of the session `identity` whose cookie is `value`.
async fn refreshed(shared: Arc<Shared>, value: Option<String>, identity: Identity) -> Loaded {
    {
        let (Some(server), Some(value)) = (shared.server.clone(), value) else {
            return Loaded::None;
        };
        let expires = identity
            .data()
            .provider_token
            .as_ref()
            .map_or(0, |t| t.expires_at);
        let now = shared.config.clock.unix_seconds();
        let id = identity.session_id().to_owned();
        let outcome = match server.flights.join(&id) {
            // The access token still lasts: no reason to wait.
            Joined::Follower(_) if now < expires => return Loaded::Session(identity),
            Joined::Follower(rx) => wait_for_refresh(rx, WAIT)
                .await
                .unwrap_or(Refreshed::Unreachable),
            Joined::Leader(tx) => {
                // Its own task: a request given up by its client does not cancel a refresh
                // whose new tokens the provider may already have issued (and rotated).
                let task = {
                    let (shared, server, identity) =
                        (shared.clone(), server.clone(), identity.clone());
                    let value = value.clone();
                    tokio::spawn(async move {
                        let outcome = refresh(&shared, &server, &value, &identity).await;
                        server
                            .flights
                            .land(identity.session_id(), tx, outcome.clone());
                        outcome
                    })
                };
                task.await.unwrap_or(Refreshed::Unreachable)
            }
        };
        match outcome {
            Refreshed::Session(fresh) => Loaded::Session(fresh),
            Refreshed::Ended(None) => Loaded::None,
            Refreshed::Ended(Some(why)) => Loaded::Refused(why),
            Refreshed::Unreachable => {
                let now = shared.config.clock.unix_seconds();
                if now < expires.saturating_add(shared.config.refresh.grace) {
                    Loaded::Session(identity)
                } else {
                    Loaded::ProviderUnavailable
                }
            }
        }
    }
}

/// One refresh of the session `identity` (cookie `value`) across replicas.
async fn refresh(
    shared: &Shared,
    server: &ServerSessions,
    value: &str,
    identity: &Identity,
) -> Refreshed {
    let id = identity.session_id();
    let expires = identity
        .data()
        .provider_token
        .as_ref()
        .map_or(0, |t| t.expires_at);
    let fail = Fail {
        value,
        grace_ends: expires.saturating_add(shared.config.refresh.grace),
    };
    for attempt in 0..=POLLS {
        if attempt > 0 {
            tokio::time::sleep(POLL).await;
        }
        match server.lock_refresh(id, LOCK_TTL).await {
            Ok(true) => {
                let outcome = refresh_locked(shared, server, &fail, id).await;
                server.unlock_refresh(id).await;
                return outcome;
            }
            Ok(false) => {}
            Err(e) => return fail.unreachable(shared, server, &e.to_string()),
        }
        // Another replica is refreshing: its result is in the record once it is done.
        match server.record(id).await {
            Ok(None) => return Refreshed::Ended(None),
            Ok(Some(record)) if !due(shared, &record) => return adopt(server, value, record),
            Ok(Some(_)) => {}
            Err(e) => return fail.unreachable(shared, server, &e.to_string()),
        }
    }
    fail.unreachable(shared, server, "another replica's refresh did not finish")
}

/// Whether the record's tokens are (still) due.
fn due(shared: &Shared, record: &StoredSession) -> bool {
    record.tokens.refresh_at <= shared.config.clock.unix_seconds()
}

/// The refresh, with the lock held: the record read again, the refresh token redeemed, the
/// answer checked, the new record written.
async fn refresh_locked(
    shared: &Shared,
    server: &ServerSessions,
    fail: &Fail<'_>,
    id: &str,
) -> Refreshed {
    let value = fail.value;
    let record = match server.record(id).await {
        Ok(Some(record)) => record,
        Ok(None) => return Refreshed::Ended(None),
        Err(e) => return fail.unreachable(shared, server, &e.to_string()),
    };
    // Another replica refreshed while this one waited for the lock.
    if !due(shared, &record) {
        return adopt(server, value, record);
    }
    let Some(refresh_token) = record.tokens.refresh_token.clone() else {
        return adopt(server, value, record);
    };
    let d = &record.identity;
    let Some(provider) = shared.provider_for(&d.provider, &d.issuer) else {
        return end(server, id, None, "its provider is no longer configured").await;
    };
    let metadata = match provider.metadata().await {
        Ok(m) => m,
        Err(e) => return fail.unreachable(shared, server, &e.to_string()),
    };
    let call = provider.refresh_tokens(&metadata, refresh_token.expose());
    let answer = crate::meter::provider_call(provider.config.slug.as_str(), "refresh", call).await;
    let response = match answer {
        Ok(response) => response,
        // `invalid_grant` (the user disabled, the grant revoked, a spent token) or any other
        // refusal: the provider no longer vouches for this session.
        Err(ProviderError::Rejected(refusal)) => {
            let why = format!("the provider refused it ({})", refusal.shown_code());
            return end(server, id, None, &why).await;
        }
        Err(e @ ProviderError::BadResponse(_)) => {
            let why = e.to_string();
            return end(server, id, Some(e.to_auth_error()), &why).await;
        }
        Err(e) => return fail.unreachable(shared, server, &e.to_string()),
    };
    let now = shared.config.clock.unix_seconds();
    let fresh = match renewed::check(shared, provider, &metadata, record, response, now).await {
        Ok(fresh) => fresh,
        Err(renewed::Failure::Unreachable(why)) => return fail.unreachable(shared, server, &why),
        Err(renewed::Failure::Refused(err)) => {
            let why = err.reason().to_string();
            return end(server, id, Some(err), &why).await;
        }
        Err(renewed::Failure::NotAdmitted(why)) => return end(server, id, None, &why).await,
    };
    let identity = fresh.identity();
    match server.refreshed(value, &fresh, &identity).await {
        Ok(true) => {
            tracing::info!(
                target: "tower_oidc",
                event = "session_refreshed",
                provider = identity.provider(),
                "a session's tokens were refreshed",
            );
            Refreshed::Session(identity)
        }
        Ok(false) => Refreshed::Ended(None),
        Err(e) => fail.unreachable(shared, server, &e.to_string()),
    }
}

/// The session of `record`, refreshed by another replica (or with nothing to refresh with),
/// cached here.
fn adopt(server: &ServerSessions, value: &str, record: StoredSession) -> Refreshed {
    let identity = record.identity();
    server.adopt(value, &record, &identity);
    Refreshed::Session(identity)
}

/// Ends the session `id` everywhere; `shown` is what a navigation sees (`None`: it signs in
/// again).
async fn end(server: &ServerSessions, id: &str, shown: Option<AuthError>, why: &str) -> Refreshed {
    tracing::warn!(
        target: "tower_oidc",
        event = "session_refresh_refused",
        reason = why,
        "a session's refresh was refused: the session ends",
    );
    if let Err(e) = server.end(id).await {
        tracing::warn!(target: "tower_oidc", event = "session_store_unreachable", error = %e, "an ended session could not be removed from the store");
    }
    Refreshed::Ended(shown)
}

/// What a refresh that could not be made needs: the session's cookie value, and when its
/// grace ends (its access token's expiry plus `OIDC_REFRESH_GRACE`).
struct Fail<'a> {
    value: &'a str,
    grace_ends: u64,
}

impl Fail<'_> {
    /// The provider (or the store) could not be reached: the next try in a moment, but never
    /// later than the grace's end (past it, the hot path must not serve the session).
    fn unreachable(&self, shared: &Shared, server: &ServerSessions, why: &str) -> Refreshed {
        tracing::warn!(
            target: "tower_oidc",
            event = "session_refresh_unreachable",
            reason = why,
            "a session's refresh could not be made: served within OIDC_REFRESH_GRACE, then 503",
        );
        let now = shared.config.clock.unix_seconds();
        let next = now.saturating_add(RETRY_SECS).min(self.grace_ends);
        server.postpone_refresh(self.value, next);
        Refreshed::Unreachable
    }
}
