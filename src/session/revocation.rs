//! Sessions ended by logout in this process.

use std::collections::HashMap;
use std::sync::RwLock;

use super::expiring::make_room;

/// Sessions ended by logout in this process, so that a copy of the cookie taken before logout
/// is refused here even though the cookie itself stays valid until it expires. Keyed by the
/// session id (new at every login); entries leave when the session would have expired.
/// Consulted only when a cookie is opened, never on a cache hit: logout removes the cookie's
/// cache entry.
#[derive(Debug, Default)]
pub(crate) struct Revocations {
    ids: RwLock<HashMap<String, u64>>,
}

const REVOCATION_CAPACITY: usize = 100_000;

impl Revocations {
    pub(crate) fn revoke(&self, session_id: &str, expires_at: u64, now: u64) {
        let mut ids = self.ids.write().unwrap_or_else(|p| p.into_inner());
        // Each entry needs a completed login, so the fallback is hard to reach.
        make_room(&mut ids, now, REVOCATION_CAPACITY);
        ids.insert(session_id.to_owned(), expires_at);
    }

    pub(crate) fn is_revoked(&self, session_id: &str) -> bool {
        self.ids
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(session_id)
    }
}
