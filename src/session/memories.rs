//! [`Memories`]: what the process remembers about logins and sessions (the replay guard, the
//! session cache, the revocation list), one set per configuration, shared by every layer built
//! from it.

use std::sync::{Arc, Mutex, Weak};

use super::cache::SessionCache;
use super::ending::Ending;
use super::replay::ReplayGuard;
use super::revocation::Revocations;
use crate::config::{ConfigId, OidcConfig};

/// The in-process memories of one configuration.
///
/// Shared by every layer built from that [`OidcConfig`] or a clone of it (an app that builds
/// `OidcLayer::new(config.clone())` for two routers, or a layer per test), so that a callback
/// completed through one of them cannot be replayed through another, and a logout through one
/// ends the session for all of them. Layers built from configurations built separately (two
/// `OidcConfig::from_env()` calls) remember separately, as two processes would.
#[derive(Debug)]
pub(crate) struct Memories {
    pub(crate) replay: ReplayGuard,
    /// The logout tokens received (by issuer and `jti`), each accepted once.
    pub(crate) logout_tokens: ReplayGuard,
    pub(crate) cache: SessionCache,
    pub(crate) revoked: Revocations,
    /// Whether a session may be cached under several cookie values (the cookie store's idle
    /// timeout re-issues the cookie), so that ending it drops every entry of its id.
    renewing: bool,
}

/// The memories of every configuration that still has a layer, by configuration. Locked only
/// while a layer is built.
static REGISTRY: Mutex<Vec<(ConfigId, Weak<Memories>)>> = Mutex::new(Vec::new());

impl Memories {
    /// The memories of `config`: those of a layer already built from it, or new ones.
    pub(crate) fn of(config: &OidcConfig) -> Arc<Self> {
        let mut registry = REGISTRY.lock().unwrap_or_else(|p| p.into_inner());
        registry.retain(|(_, memories)| memories.strong_count() > 0);
        if let Some(memories) = registry
            .iter()
            .find(|(id, _)| *id == config.id)
            .and_then(|(_, memories)| memories.upgrade())
        {
            return memories;
        }
        let memories = Arc::new(Self {
            replay: ReplayGuard::new(config.memory_capacity),
            logout_tokens: ReplayGuard::new(config.memory_capacity),
            cache: SessionCache::default(),
            revoked: Revocations::new(config.memory_capacity, config.session_lifetime.as_secs()),
            renewing: super::cookie_idle(config) > 0,
        });
        registry.push((config.id, Arc::downgrade(&memories)));
        memories
    }

    /// Ends a session everywhere these memories serve: revoked first, then its cache entry
    /// (`cookie`, the session cookie's value) removed, in that order so that a request opening
    /// the cookie at the same time finds it revoked when it checks again after caching it.
    /// When the revocation list was full and raised its floor, every cached session below the
    /// floor goes too.
    pub(crate) fn end_session(&self, session_id: &str, expires_at: u64, cookie: &str, now: u64) {
        if let Some(floor) = self.revoked.revoke(session_id, expires_at, now) {
            self.cache.forget_expiring_by(floor);
        }
        self.cache.remove(cookie);
        if self.renewing {
            // Earlier values of a re-issued cookie may still be cached, and a cache hit does
            // not ask the revocations.
            self.cache.forget_session(session_id);
        }
    }

    /// Ends the sessions a back-channel logout names, everywhere these memories serve: revoked
    /// first, then their cache entries dropped (the order [`end_session`](Self::end_session)
    /// keeps, for the same reason). Returns how many of them were cached: with the cookie store
    /// the others are refused when their cookie comes, and other processes do not learn of it.
    pub(crate) fn end_sessions(&self, ending: &Ending, now: u64) -> usize {
        if let Some(floor) = self.revoked.end(ending, now) {
            self.cache.forget_expiring_by(floor);
        }
        self.cache.forget_ended(ending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> OidcConfig {
        OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_base_url("https://app.example.com")
            .with_cookie_key("IlzD4pae0xgKesB/FsBsW2mHVTdPgyTAuifsk+NJpzw=")
            .build()
            .expect("a valid test configuration")
    }

    #[test]
    fn clones_of_a_configuration_share_memories_and_other_configurations_do_not() {
        let config = config();
        let first = Memories::of(&config);
        assert!(Arc::ptr_eq(&first, &Memories::of(&config.clone())));
        assert!(!Arc::ptr_eq(&first, &Memories::of(&self::config())));
        let id = config.id;
        drop(first);
        let registered = || {
            REGISTRY
                .lock()
                .unwrap()
                .iter()
                .any(|(i, m)| *i == id && m.strong_count() > 0)
        };
        assert!(!registered(), "gone with the last layer");
    }
}
