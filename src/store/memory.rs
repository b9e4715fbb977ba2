//! The memory store (`OIDC_SESSION_STORE=memory`): sessions in this process, bounded, ended for
//! every layer of the process at once; gone when the process restarts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::Duration;

use super::{EndedFeed, SessionStore, StoreError, StoreFuture, StoredSession};
use crate::clock::Clock;

/// The sessions of one process.
pub(crate) struct MemoryStore {
    state: Mutex<State>,
    capacity: usize,
    clock: Arc<dyn Clock>,
    feed: OnceLock<Weak<dyn EndedFeed>>,
}

#[derive(Default)]
struct State {
    sessions: HashMap<String, StoredSession>,
    /// (issuer, subject) to session ids.
    users: HashMap<(String, String), HashSet<String>>,
    /// (issuer, sid) to session ids.
    sids: HashMap<(String, String), HashSet<String>>,
    /// Lock name to when it is released.
    locks: HashMap<String, u64>,
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl MemoryStore {
    /// A store of at most `capacity` sessions.
    pub(crate) fn new(capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            state: Mutex::default(),
            capacity,
            clock,
            feed: OnceLock::new(),
        }
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn now(&self) -> u64 {
        self.clock.unix_seconds()
    }
}

impl State {
    fn remove(&mut self, id: &str) -> Option<StoredSession> {
        let s = self.sessions.remove(id)?;
        let user = (s.identity.issuer.clone(), s.identity.subject.clone());
        unlink(&mut self.users, &user, id);
        if let Some(sid) = &s.identity.sid {
            unlink(
                &mut self.sids,
                &(s.identity.issuer.clone(), sid.clone()),
                id,
            );
        }
        Some(s)
    }

    /// Drops every session past its deadline.
    fn sweep(&mut self, now: u64) {
        let gone: Vec<String> = self
            .sessions
            .iter()
            .filter(|(_, s)| s.deadline() <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in gone {
            self.remove(&id);
        }
    }

    fn live(&self, ids: Option<&HashSet<String>>, now: u64) -> Vec<String> {
        ids.into_iter()
            .flatten()
            .filter(|id| self.sessions.get(*id).is_some_and(|s| s.deadline() > now))
            .cloned()
            .collect()
    }
}

fn unlink(
    index: &mut HashMap<(String, String), HashSet<String>>,
    key: &(String, String),
    id: &str,
) {
    if let Some(ids) = index.get_mut(key) {
        ids.remove(id);
        if ids.is_empty() {
            index.remove(key);
        }
    }
}

fn copy(s: &StoredSession) -> StoredSession {
    StoredSession {
        identity: s.identity.duplicate(),
        id_token: s.id_token.clone(),
        seen_at: s.seen_at,
        idle_secs: s.idle_secs,
        tokens: s.tokens.clone(),
    }
}

impl SessionStore for MemoryStore {
    fn create<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, ()> {
        let now = self.now();
        let result = (|| {
            let mut state = self.state();
            if state.sessions.len() >= self.capacity {
                state.sweep(now);
                if state.sessions.len() >= self.capacity {
                    tracing::warn!(target: "tower_oidc", capacity = self.capacity, "the memory session store is full: new sign-ins get 503 until sessions expire (raise `with_memory_capacity`)");
                    return Err(StoreError::Full);
                }
            }
            let d = &session.identity;
            let id = d.session_id.clone();
            state
                .users
                .entry((d.issuer.clone(), d.subject.clone()))
                .or_default()
                .insert(id.clone());
            if let Some(sid) = &d.sid {
                state
                    .sids
                    .entry((d.issuer.clone(), sid.clone()))
                    .or_default()
                    .insert(id.clone());
            }
            state.sessions.insert(id, copy(session));
            Ok(())
        })();
        Box::pin(std::future::ready(result))
    }

    fn load<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>> {
        let now = self.now();
        let state = self.state();
        let found = state
            .sessions
            .get(id)
            .filter(|s| s.deadline() > now)
            .map(copy);
        Box::pin(std::future::ready(Ok(found)))
    }

    fn touch<'a>(&'a self, id: &'a str, seen_at: u64, _deadline: u64) -> StoreFuture<'a, ()> {
        if let Some(s) = self.state().sessions.get_mut(id) {
            s.seen_at = s.seen_at.max(seen_at);
        }
        Box::pin(std::future::ready(Ok(())))
    }

    fn end<'a>(&'a self, id: &'a str) -> StoreFuture<'a, Option<StoredSession>> {
        let ended = self.state().remove(id);
        if let Some(feed) = self.feed.get().and_then(Weak::upgrade) {
            feed.ended(id);
        }
        Box::pin(std::future::ready(Ok(ended)))
    }

    fn sessions_of<'a>(
        &'a self,
        issuer: &'a str,
        subject: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        let state = self.state();
        let ids = state.live(
            state.users.get(&(issuer.to_owned(), subject.to_owned())),
            self.now(),
        );
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn sessions_by_sid<'a>(
        &'a self,
        issuer: &'a str,
        sid: &'a str,
    ) -> StoreFuture<'a, Vec<String>> {
        let state = self.state();
        let ids = state.live(
            state.sids.get(&(issuer.to_owned(), sid.to_owned())),
            self.now(),
        );
        Box::pin(std::future::ready(Ok(ids)))
    }

    fn update<'a>(&'a self, session: &'a StoredSession) -> StoreFuture<'a, bool> {
        let mut state = self.state();
        let found = match state.sessions.get_mut(session.id()) {
            Some(stored) => {
                let seen = stored.seen_at.max(session.seen_at);
                *stored = copy(session);
                stored.seen_at = seen;
                true
            }
            None => false,
        };
        Box::pin(std::future::ready(Ok(found)))
    }

    fn unlock<'a>(&'a self, name: &'a str) -> StoreFuture<'a, ()> {
        self.state().locks.remove(name);
        Box::pin(std::future::ready(Ok(())))
    }

    fn lock<'a>(&'a self, name: &'a str, ttl: Duration) -> StoreFuture<'a, bool> {
        let now = self.now();
        let mut state = self.state();
        state.locks.retain(|_, until| *until > now);
        let taken = !state.locks.contains_key(name);
        if taken {
            state
                .locks
                .insert(name.to_owned(), now + ttl.as_secs().max(1));
        }
        Box::pin(std::future::ready(Ok(taken)))
    }

    fn watch(&self, feed: Weak<dyn EndedFeed>) {
        let _ = self.feed.set(feed);
    }

    fn ping(&self) -> StoreFuture<'_, ()> {
        Box::pin(std::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::record;
    use super::*;
    use crate::clock::TestClock;

    fn block<T>(f: StoreFuture<'_, T>) -> T {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
            .unwrap()
    }

    #[test]
    fn sessions_are_found_by_user_and_sid_and_ended_for_good() {
        let clock = TestClock::at(1_000);
        let store = MemoryStore::new(10, clock.clone());
        block(store.create(&record("a", "u1", Some("p1"), 1_000)));
        block(store.create(&record("b", "u1", None, 1_000)));
        block(store.create(&record("c", "u2", Some("p1"), 1_000)));
        let mut of_u1 = block(store.sessions_of("https://id.example.com", "u1"));
        of_u1.sort();
        assert_eq!(of_u1, ["a", "b"]);
        let mut by_sid = block(store.sessions_by_sid("https://id.example.com", "p1"));
        by_sid.sort();
        assert_eq!(by_sid, ["a", "c"]);
        assert!(block(store.sessions_of("https://other.example.com", "u1")).is_empty());
        assert_eq!(
            block(store.end("a")).map(|s| s.id_token),
            Some("a.b.c".into())
        );
        assert!(block(store.load("a")).is_none(), "ended");
        assert!(block(store.end("a")).is_none());
        assert_eq!(
            block(store.sessions_of("https://id.example.com", "u1")),
            ["b"]
        );
        clock.advance(Duration::from_secs(3_600));
        assert!(block(store.load("b")).is_none(), "expired");
    }

    #[test]
    fn a_full_store_refuses_new_sessions_until_old_ones_expire() {
        let clock = TestClock::at(1_000);
        let store = MemoryStore::new(1, clock.clone());
        block(store.create(&record("a", "u1", None, 1_000)));
        let refused = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(store.create(&record("b", "u1", None, 1_000)));
        assert!(matches!(refused, Err(StoreError::Full)));
        clock.advance(Duration::from_secs(3_600));
        block(store.create(&record("b", "u1", None, 4_600)));
    }

    #[test]
    fn a_lock_is_held_until_its_time_is_up() {
        let clock = TestClock::at(1_000);
        let store = MemoryStore::new(1, clock.clone());
        assert!(block(store.lock("refresh:a", Duration::from_secs(10))));
        assert!(!block(store.lock("refresh:a", Duration::from_secs(10))));
        clock.advance(Duration::from_secs(10));
        assert!(block(store.lock("refresh:a", Duration::from_secs(10))));
    }
}
