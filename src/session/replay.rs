//! The replay guard: each login's callback is accepted once.

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lc_rs::digest;

use super::expiring::{make_room, warn_overflow, Floor};

/// Remembers which logins were completed, so a callback URL cannot be replayed even with the
/// login cookie re-sent. An entry lasts as long as its login record is valid (ten minutes from
/// the login's start): after that the record itself is refused.
///
/// Bounded: when full it forgets the logins whose records expire soonest and raises its floor
/// to the last one forgotten, refusing every record that expires no later than that (fail
/// closed: such a login has to be started again).
#[derive(Debug)]
pub(crate) struct ReplayGuard {
    used: Mutex<Used>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Used {
    /// SHA-256 of each used `state`, to when its login record expires.
    map: HashMap<[u8; 32], u64>,
    floor: Floor,
}

/// What the replay guard says about a login's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    /// The first callback of this login: go on.
    First,
    /// This login's callback came before.
    Again,
    /// The guard was full and had to forget logins like this one, so it cannot tell: refused.
    Unknown,
}

impl ReplayGuard {
    /// A guard that remembers at most `capacity` logins.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            used: Mutex::default(),
            capacity,
        }
    }

    /// Marks the login for `state`, whose record expires at `expires_at`, as used.
    pub(crate) fn consume(&self, state: &str, expires_at: u64, now: u64) -> Replay {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, state.as_bytes()).as_ref());
        // The lock is held only for these map operations, never across an await.
        let mut used = self
            .used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(cut) = make_room(&mut used.map, now, self.capacity) {
            let floor = used.floor.raise(cut);
            warn_overflow(
                "the replay guard",
                self.capacity,
                floor,
                "login records",
                "those sign-ins must be started again (a flood of sign-ins?)",
            );
        }
        if used.floor.covers(expires_at) {
            return Replay::Unknown;
        }
        match used.map.get(&key) {
            Some(expires) if *expires > now => Replay::Again,
            _ => {
                used.map.insert(key, expires_at);
                Replay::First
            }
        }
    }

    /// Gives back the use of `state` that [`consume`](Self::consume) granted, for work that
    /// could not be completed (a logout token whose sessions the store could not end), so that
    /// the sender's retry is accepted.
    pub(crate) fn release(&self, state: &str) {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, state.as_bytes()).as_ref());
        self.used
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .map
            .remove(&key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_guard_allows_each_state_once() {
        let g = ReplayGuard::new(10);
        assert_eq!(g.consume("s1", 700, 100), Replay::First);
        assert_eq!(g.consume("s1", 700, 100), Replay::Again);
        assert_eq!(g.consume("s2", 700, 100), Replay::First);
        assert_eq!(
            g.consume("s1", 1_400, 701),
            Replay::First,
            "expired entries are forgotten"
        );
    }

    #[test]
    fn a_released_use_is_granted_again() {
        let g = ReplayGuard::new(10);
        assert_eq!(g.consume("s1", 700, 100), Replay::First);
        g.release("s1");
        assert_eq!(g.consume("s1", 700, 100), Replay::First);
        assert_eq!(g.consume("s1", 700, 100), Replay::Again);
    }

    #[test]
    fn a_full_guard_refuses_what_it_may_have_forgotten() {
        let g = ReplayGuard::new(4);
        for (i, expires) in [610, 620, 630, 640].into_iter().enumerate() {
            assert_eq!(g.consume(&format!("s{i}"), expires, 100), Replay::First);
        }
        // Full: the logins expiring up to 630 are forgotten, and refused from now on, replayed
        // or not.
        assert_eq!(g.consume("s4", 650, 100), Replay::First);
        for (state, expires) in [("s0", 610), ("s2", 630), ("new", 625)] {
            assert_eq!(g.consume(state, expires, 100), Replay::Unknown, "{state}");
        }
        assert_eq!(g.consume("s3", 640, 100), Replay::Again, "still remembered");
        assert_eq!(g.consume("s4", 650, 100), Replay::Again);
    }
}
