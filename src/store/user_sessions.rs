//! A user's sessions as the app sees them ([`UserSession`]) and why they could not be listed or
//! ended ([`SessionsError`]): the public side of "sign out everywhere".

use super::StoredSession;

/// One live session of a user, from [`OidcLayer::sessions_of`](crate::OidcLayer::sessions_of).
#[derive(Debug, Clone)]
pub struct UserSession {
    id: String,
    provider: String,
    authenticated_at: u64,
    expires_at: u64,
    seen_at: u64,
}

impl UserSession {
    pub(crate) fn of(s: &StoredSession) -> Self {
        Self {
            id: s.identity.session_id.clone(),
            provider: s.identity.provider.clone(),
            authenticated_at: s.identity.authenticated_at,
            expires_at: s.deadline(),
            seen_at: s.seen_at,
        }
    }

    /// The session's id, as [`Identity::session_id`](crate::Identity::session_id) tells it to
    /// the request it belongs to (to mark "this browser" in a list).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The slug of the provider the user signed in with.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// When the user signed in, in Unix seconds.
    pub fn authenticated_at(&self) -> u64 {
        self.authenticated_at
    }

    /// When the session ends unless it is used or ended first, in Unix seconds: its lifetime,
    /// or sooner with an idle timeout.
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }

    /// When its use was last recorded (at most once a minute), in Unix seconds.
    pub fn last_seen_at(&self) -> u64 {
        self.seen_at
    }
}

/// Why a user's sessions could not be listed or ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SessionsError {
    /// The cookie store keeps nothing on the server, so a user's sessions cannot be found:
    /// set `OIDC_SESSION_STORE` to `memory` or a Redis URL.
    #[error("the cookie session store cannot find a user's sessions: set OIDC_SESSION_STORE to `memory` or a redis:// URL")]
    NeedsServerSideStore,
    /// The session store cannot be reached now; try again.
    #[error("the session store cannot be reached")]
    Unavailable,
}
