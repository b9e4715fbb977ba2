//! Server-side session stores (`OIDC_SESSION_STORE=memory` or a Redis URL): the
//! [`SessionStore`] trait the layer needs, the stored record, and the replica's side of it
//! ([`ServerSessions`]: the local cache, the feed of ended sessions, the store's health).
//!
//! With a server-side store the session cookie holds only the session's random id (128 bits,
//! sealed like every cookie); the identity, the ID token for logout and the provider's `sid`
//! live in the store until the session expires.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::identity::IdentityData;

mod flights;
mod local;
mod memory;
#[cfg(feature = "redis")]
mod redis;
mod server;
mod tokens;
mod user_sessions;

pub(crate) use flights::{wait as wait_for_refresh, Joined, Refreshed};
pub(crate) use server::{Lookup, ServerSessions};
pub(crate) use tokens::StoredTokens;
pub use user_sessions::{SessionsError, UserSession};

/// What a store call returns, boxed so that the trait stays object-safe.
pub(crate) type StoreFuture<'a, T> =
    Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// A store could not be reached or refused the call. Display never shows a key or a value.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// The store is unreachable (connection refused, timeout, a lost connection).
    #[error("the session store is unreachable: {0}")]
    Unreachable(String),
    /// The store is full (the memory store at its capacity).
    #[error("the session store is full")]
    Full,
}

/// What the layer needs of a session store. Implemented by the memory store (one process) and
/// the Redis store (every replica); tower-sessions' create/save/load/delete cannot express
/// "every session of this user", the feed of ended sessions or the refresh lock, so this is
/// our own.
pub(crate) trait SessionStore: fmt::Debug + Send + Sync + 'static {
    /// Stores a new session until `session.deadline()`.
    fn create<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, ()>;
    /// The session `id`, or `None` when it never existed, ended, expired or cannot be decoded
    /// (logged; the record is left alone).
    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>>;
    /// Records use of the session `id` at `seen_at`, keeping it until `deadline`; nothing for
    /// a session that is gone.
    fn touch<'a>(&'a self, id: &'a str, seen_at: u64, deadline: u64) -> StoreFuture<'a, ()>;
    /// Ends the session `id` and announces it on the feed of ended sessions; the ended record,
    /// if it was there.
    fn end<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>>;
    /// The ids of the sessions of one user: `(issuer, subject)`.
    fn sessions_of<'a>(&'a self, issuer: &'a str, subject: &'a str)
        -> StoreFuture<'a, Vec<String>>;
    /// The ids of the sessions the provider's session `sid` at `issuer` started.
    // Asked by the back-channel logout, which ends sessions by `sid`.
    #[cfg_attr(not(test), allow(dead_code))]
    fn sessions_by_sid<'a>(&'a self, issuer: &'a str, sid: &'a str)
        -> StoreFuture<'a, Vec<String>>;
    /// Replaces the record of a session that is still there (a refresh's new tokens and
    /// identity), keeping when it was last used; `false` when the session is gone (ended
    /// meanwhile: never brought back).
    fn update<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, bool>;
    /// Takes the short lock `name` for `ttl` (a token refresh, one replica at a time): `true`
    /// when this caller has it.
    fn lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool>;
    /// Releases the lock `name` taken by this caller before its `ttl`.
    fn unlock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()>;
    /// Starts delivering ended sessions (and the feed's connection state) to `feed`: at once
    /// in process, through pub/sub across replicas.
    fn watch(&self, feed: std::sync::Weak<dyn EndedFeed>);
    /// Whether the store answers now (a round trip).
    fn ping(&self) -> StoreFuture<'_, ()>;
}

/// Where a store delivers the sessions ended anywhere.
pub(crate) trait EndedFeed: Send + Sync + 'static {
    /// The session `id` ended (here or at another replica).
    fn ended(&self, id: &str);
    /// The feed was (re)connected: what was announced while it was down is unknown.
    fn reconnected(&self);
    /// The feed is down.
    // Only the Redis store's feed can be lost.
    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    fn lost(&self);
}

/// One session as a server-side store keeps it.
#[derive(Serialize, Deserialize)]
pub(crate) struct StoredSession {
    /// Who, their claims and role, when it expires (`identity.expires_at`).
    pub(crate) identity: IdentityData,
    /// The raw ID token, the `id_token_hint` of the logout.
    pub(crate) id_token: String,
    /// When it was last used (recorded at most once a minute).
    pub(crate) seen_at: u64,
    /// `OIDC_SESSION_IDLE_TIMEOUT` in seconds when it was created; 0 for none.
    pub(crate) idle_secs: u64,
    /// The access token, its expiry and the refresh token (redacted in `Debug`).
    pub(crate) tokens: StoredTokens,
}

impl fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSession")
            .field("id", &self.identity.session_id)
            .finish_non_exhaustive()
    }
}

impl StoredSession {
    /// When the session ends: its expiry, or sooner when unused for the idle timeout.
    pub(crate) fn deadline(&self) -> u64 {
        idle_deadline(self.identity.expires_at, self.seen_at, self.idle_secs)
    }

    pub(crate) fn id(&self) -> &str {
        &self.identity.session_id
    }

    /// The session's identity, with its access token for the app.
    pub(crate) fn identity(&self) -> crate::identity::Identity {
        let mut data = self.identity.duplicate();
        data.provider_token = self.tokens.provider_token();
        crate::identity::Identity::from_data(data)
    }

    /// The record's bytes (postcard), for a store that keeps bytes (Redis).
    #[cfg_attr(not(any(test, feature = "redis")), allow(dead_code))]
    pub(crate) fn encode(&self) -> Vec<u8> {
        // Serializing plain strings and numbers into a Vec cannot fail.
        postcard::to_allocvec(self).expect("a session record always serializes")
    }

    /// A record from its bytes; `None` (logged) when they cannot be decoded.
    #[cfg_attr(not(any(test, feature = "redis")), allow(dead_code))]
    pub(crate) fn decode(bytes: &[u8]) -> Option<Self> {
        let decoded = postcard::from_bytes(bytes).ok();
        if decoded.is_none() {
            tracing::warn!(
                target: "tower_oidc",
                event = "session_record_undecodable",
                bytes = bytes.len(),
                "a session record in the store cannot be decoded: treated as no session",
            );
        }
        decoded
    }
}

/// The earlier of the expiry and the idle deadline (`idle_secs` 0: none).
pub(crate) fn idle_deadline(expires_at: u64, seen_at: u64, idle_secs: u64) -> u64 {
    if idle_secs == 0 {
        expires_at
    } else {
        expires_at.min(seen_at.saturating_add(idle_secs))
    }
}

/// The keys' prefix of one app: its client id, so that apps sharing a Redis never see each
/// other's sessions.
#[cfg_attr(not(feature = "redis"), allow(dead_code))]
pub(crate) fn key_prefix(client_id: &str) -> String {
    format!("tower-oidc:{client_id}:")
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn record(id: &str, subject: &str, sid: Option<&str>, now: u64) -> StoredSession {
        let mut identity = IdentityData::sample(1);
        identity.session_id = id.into();
        identity.subject = subject.into();
        identity.issuer = "https://id.example.com".into();
        identity.authenticated_at = now;
        identity.expires_at = now + 3600;
        identity.sid = sid.map(str::to_owned);
        StoredSession {
            identity,
            id_token: "a.b.c".into(),
            seen_at: now,
            idle_secs: 0,
            tokens: StoredTokens::default(),
        }
    }

    #[test]
    fn a_record_round_trips_and_garbage_is_no_session() {
        let r = record("s1", "u1", Some("sid-1"), 1_000);
        let back = StoredSession::decode(&r.encode()).unwrap();
        assert_eq!(back.identity.subject, "u1");
        assert_eq!(back.identity.sid.as_deref(), Some("sid-1"));
        assert_eq!(back.deadline(), 4_600);
        assert!(StoredSession::decode(b"\xff\xff\xff").is_none());
        assert_eq!(idle_deadline(5_000, 1_000, 600), 1_600);
        assert_eq!(idle_deadline(5_000, 1_000, 0), 5_000);
    }
}
