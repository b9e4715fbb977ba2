//! [`LocalSessions`]: one replica's side of a server-side store: the bounded cache of the
//! sessions it has seen (the hot path's one map lookup), the feed of sessions ended anywhere
//! that evicts them, and when the store was last known to answer.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::EndedFeed;
use crate::clock::Clock;
use crate::identity::Identity;
use crate::session::SessionCache;

/// How long an ended session's id is remembered, so that a load that raced its end (read
/// before the end, cached after the eviction) is undone. Loads time out long before this.
const ENDED_MEMORY_SECS: u64 = 120;

/// The sessions one replica has cached, and what it knows of its store.
pub(crate) struct LocalSessions {
    pub(crate) cache: SessionCache,
    /// Session id to its cookie value, to evict by id (one value per session: the cookie is
    /// sealed once, at sign-in).
    index: Mutex<HashMap<Box<str>, Box<str>>>,
    /// Sessions ended lately, to when.
    ended: Mutex<HashMap<Box<str>, u64>>,
    capacity: usize,
    clock: Arc<dyn Clock>,
    /// Unix seconds when the store last answered with the feed up.
    healthy_at: AtomicU64,
    feed_up: AtomicBool,
}

impl std::fmt::Debug for LocalSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalSessions")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl LocalSessions {
    pub(crate) fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            cache: SessionCache::with_capacity(capacity),
            index: Mutex::default(),
            ended: Mutex::default(),
            capacity,
            clock,
            healthy_at: AtomicU64::new(0),
            feed_up: AtomicBool::new(false),
        }
    }

    /// Whether the store answered, with the feed up, at most `staleness` seconds ago.
    pub(crate) fn fresh(&self, now: u64, staleness: u64) -> bool {
        now <= self
            .healthy_at
            .load(Ordering::Relaxed)
            .saturating_add(staleness)
    }

    /// Whether the feed of ended sessions is connected.
    pub(crate) fn feed_up(&self) -> bool {
        self.feed_up.load(Ordering::Acquire)
    }

    /// The store answered now; counts only while the feed is up (otherwise an ended session
    /// could be missed).
    pub(crate) fn answered(&self) {
        if self.feed_up() {
            self.healthy_at
                .fetch_max(self.clock.unix_seconds(), Ordering::Relaxed);
        }
    }

    /// Caches the session `value` (its cookie) after a load or a refresh, its refresh due at
    /// `refresh_at`; undone at once when the session ended meanwhile.
    pub(crate) fn insert(&self, value: &str, identity: Identity, seen: u64, refresh_at: u64) {
        let now = self.clock.unix_seconds();
        let id: Box<str> = identity.session_id().into();
        self.cache
            .insert_seen(value, identity, now, seen, refresh_at);
        {
            let mut index = self.index.lock().unwrap_or_else(|p| p.into_inner());
            if index.len() >= self.capacity {
                // Entries the cache dropped (expired, or never cached when full).
                index.retain(|_, v| self.cache.get(v.as_bytes(), now).is_some());
            }
            if index.len() < self.capacity {
                index.insert(id.clone(), value.into());
            }
        }
        // The feed records an end before it evicts, so either it sees the entry above or this
        // check sees its record.
        if self
            .ended
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains_key(&id)
        {
            self.evict(&id);
        }
    }

    fn evict(&self, id: &str) {
        let value = self
            .index
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
        if let Some(value) = value {
            self.cache.remove(&value);
        }
    }

    /// How many sessions are cached (tests and the memory report).
    #[cfg(test)]
    pub(crate) fn cached(&self) -> usize {
        self.cache.len()
    }
}

impl EndedFeed for LocalSessions {
    fn ended(&self, id: &str) {
        let now = self.clock.unix_seconds();
        {
            let mut ended = self.ended.lock().unwrap_or_else(|p| p.into_inner());
            if ended.len() >= self.capacity {
                ended.retain(|_, at| now < at.saturating_add(ENDED_MEMORY_SECS));
                if ended.len() >= self.capacity {
                    // A flood of ends: forget the records, and with them every cached session,
                    // so that none that raced its end survives.
                    ended.clear();
                    self.cache.clear();
                    self.index.lock().unwrap_or_else(|p| p.into_inner()).clear();
                }
            }
            ended.insert(id.into(), now);
        }
        self.evict(id);
    }

    fn reconnected(&self) {
        // What ended while the feed was down is unknown: forget every cached session; each is
        // loaded again from the store at its next request.
        self.cache.clear();
        self.index.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.feed_up.store(true, Ordering::Release);
        self.answered();
    }

    fn lost(&self) {
        self.feed_up.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::TestClock;
    use crate::identity::IdentityData;

    fn identity(id: &str) -> Identity {
        let mut d = IdentityData::sample(0);
        d.session_id = id.into();
        d.expires_at = 10_000;
        Identity::from_data(d)
    }

    #[test]
    fn an_ended_session_is_evicted_even_when_its_load_finishes_after_the_end() {
        let local = LocalSessions::new(100, TestClock::at(1_000));
        local.reconnected();
        local.insert(&"v".repeat(40), identity("a"), 1_000, u64::MAX);
        assert!(local.cache.get("v".repeat(40).as_bytes(), 1_000).is_some());
        local.ended("a");
        assert!(local.cache.get("v".repeat(40).as_bytes(), 1_000).is_none());
        // A load that read the record before the end, cached after it.
        local.insert(&"v".repeat(40), identity("a"), 1_000, u64::MAX);
        assert!(local.cache.get("v".repeat(40).as_bytes(), 1_000).is_none());
    }

    #[test]
    fn the_store_is_fresh_only_while_the_feed_is_up_and_for_the_staleness() {
        let clock = TestClock::at(1_000);
        let local = LocalSessions::new(100, clock.clone());
        assert!(!local.fresh(1_000, 5), "never reached");
        local.answered();
        assert!(!local.fresh(1_000, 5), "the feed is not up yet");
        local.reconnected();
        assert!(local.fresh(1_005, 5));
        assert!(!local.fresh(1_006, 5));
        local.lost();
        clock.advance(std::time::Duration::from_secs(3));
        local.answered();
        assert!(
            !local.fresh(1_006, 5),
            "answers without the feed do not count"
        );
    }

    #[test]
    fn a_reconnected_feed_forgets_every_cached_session() {
        let local = LocalSessions::new(100, TestClock::at(1_000));
        local.reconnected();
        local.insert(&"w".repeat(40), identity("b"), 1_000, u64::MAX);
        assert_eq!(local.cached(), 1);
        local.reconnected();
        assert_eq!(local.cached(), 0);
    }
}
