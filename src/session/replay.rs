//! The replay guard: each login's callback is accepted once.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;

use super::expiring::make_room;
use super::login_record::LOGIN_TTL_SECS;

/// Remembers which logins were completed, so a callback URL cannot be replayed even with the
/// login cookie re-sent. Entries expire with the login record (ten minutes).
#[derive(Debug, Default)]
pub(crate) struct ReplayGuard {
    used: Mutex<HashMap<[u8; 32], u64>>,
}

const REPLAY_CAPACITY: usize = 100_000;

impl ReplayGuard {
    /// Marks the login for `state` as used; `false` if it was used already.
    pub(crate) fn consume(&self, state: &str, now: u64) -> bool {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, state.as_bytes()).as_ref());
        // The lock is held only for this map operation, never across an await.
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        // Under a flood the provider's single-use codes remain.
        make_room(&mut used, now, REPLAY_CAPACITY);
        match used.get(&key) {
            Some(expires) if *expires > now => false,
            _ => {
                used.insert(key, now + LOGIN_TTL_SECS);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_guard_allows_each_state_once() {
        let g = ReplayGuard::default();
        assert!(g.consume("s1", 100));
        assert!(!g.consume("s1", 100));
        assert!(g.consume("s2", 100));
        assert!(
            g.consume("s1", 100 + LOGIN_TTL_SECS + 1),
            "expired entries are forgotten"
        );
    }
}
