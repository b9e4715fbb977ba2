//! Sessions ended by logout: refused until they would have expired.

use std::collections::HashMap;
use std::sync::RwLock;

use super::expiring::{make_room, warn_overflow, Floor};

/// Sessions ended by logout, so that a copy of the cookie taken before logout is refused even
/// though the cookie itself stays valid until it expires. Keyed by the session id (new at every
/// login); entries leave when the session would have expired. Consulted only when a cookie is
/// opened, never on a cache hit: ending a session removes its cache entry.
///
/// Bounded: when full it forgets the sessions that expire soonest and raises its floor to the
/// last one forgotten, refusing every session that expires no later than that (fail closed:
/// those users sign in again), rather than let a revoked session back in.
#[derive(Debug)]
pub(crate) struct Revocations {
    ended: RwLock<Ended>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Ended {
    /// Session id to when the session expires.
    ids: HashMap<String, u64>,
    floor: Floor,
}

impl Revocations {
    /// A list that remembers at most `capacity` ended sessions.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            ended: RwLock::default(),
            capacity,
        }
    }

    /// Ends the session `session_id`, which expires at `expires_at`. Returns the new floor when
    /// the list was full and raised it: the caller drops every cached session expiring no later
    /// than it.
    pub(crate) fn revoke(&self, session_id: &str, expires_at: u64, now: u64) -> Option<u64> {
        let mut ended = self.ended.write().unwrap_or_else(|p| p.into_inner());
        let raised = make_room(&mut ended.ids, now, self.capacity).map(|cut| {
            let floor = ended.floor.raise(cut);
            warn_overflow(
                "the list of ended sessions",
                self.capacity,
                floor,
                "sessions",
                "their users must sign in again",
            );
            floor
        });
        if !ended.floor.covers(expires_at) {
            ended.ids.insert(session_id.to_owned(), expires_at);
        }
        raised
    }

    /// Whether the session `session_id`, expiring at `expires_at`, was ended or lies below the
    /// floor.
    pub(crate) fn is_revoked(&self, session_id: &str, expires_at: u64) -> bool {
        let ended = self.ended.read().unwrap_or_else(|p| p.into_inner());
        ended.floor.covers(expires_at) || ended.ids.contains_key(session_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ended_session_is_refused_until_it_expires() {
        let r = Revocations::new(10);
        assert_eq!(r.revoke("a", 500, 100), None);
        assert!(r.is_revoked("a", 500));
        assert!(!r.is_revoked("b", 500));
    }

    #[test]
    fn a_full_list_refuses_every_session_it_may_have_forgotten() {
        let r = Revocations::new(4);
        for (id, expires) in [("a", 510), ("b", 520), ("c", 530), ("d", 540)] {
            assert_eq!(r.revoke(id, expires, 100), None);
        }
        assert_eq!(r.revoke("e", 550, 100), Some(530));
        for (id, expires) in [("a", 510), ("c", 530), ("never-ended", 525)] {
            assert!(r.is_revoked(id, expires), "{id}");
        }
        assert!(r.is_revoked("d", 540) && r.is_revoked("e", 550));
        assert!(!r.is_revoked("fresh", 531), "a later session is unaffected");
    }
}
