//! The cache of opened sessions: the hot path's one map lookup.

use std::collections::HashMap;
use std::fmt;
use std::sync::RwLock;

use crate::identity::Identity;

/// Sessions already opened, so that the next request with the same cookie skips the base64
/// decoding, the AEAD open and the deserialization (and their allocations): the hot path then
/// costs one map lookup and a reference count.
///
/// Entries are keyed by the value's last 16 characters (they encode the AES-GCM tag, which is
/// unpredictable) and hold the whole value, which must match exactly; only values that opened
/// successfully are stored, and the expiry is checked at every hit. Sixteen shards behind
/// `RwLock`s, held only for the lookup or insert, never across an await. Bounded: a full shard
/// drops its expired entries, and if it is still full the new session is simply not cached
/// (it is opened again at each request, as without a cache).
pub(crate) struct SessionCache {
    shards: Vec<RwLock<Shard>>,
}

#[derive(Default)]
struct Shard {
    map: HashMap<[u8; 16], (Box<str>, Identity)>,
    /// When expired entries were last dropped: at most once a second, so a full shard does not
    /// make every miss scan it.
    swept_at: u64,
}

const CACHE_SHARDS: usize = 16;
const CACHE_PER_SHARD: usize = 1024;

impl fmt::Debug for SessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SessionCache").finish_non_exhaustive()
    }
}

impl Default for SessionCache {
    fn default() -> Self {
        Self {
            shards: (0..CACHE_SHARDS)
                .map(|_| RwLock::new(Shard::default()))
                .collect(),
        }
    }
}

impl SessionCache {
    fn key(value: &str) -> Option<([u8; 16], usize)> {
        let tail = value.as_bytes().get(value.len().checked_sub(16)?..)?;
        let mut key = [0u8; 16];
        key.copy_from_slice(tail);
        let shard = key
            .iter()
            .fold(0usize, |a, b| a.wrapping_mul(31).wrapping_add(*b as usize));
        Some((key, shard % CACHE_SHARDS))
    }

    pub(crate) fn get(&self, value: &str, now: u64) -> Option<Identity> {
        let (key, shard) = Self::key(value)?;
        let shard = self.shards[shard].read().unwrap_or_else(|p| p.into_inner());
        let (stored, identity) = shard.map.get(&key)?;
        (**stored == *value && identity.expires_at() > now).then(|| identity.clone())
    }

    pub(crate) fn remove(&self, value: &str) {
        let Some((key, shard)) = Self::key(value) else {
            return;
        };
        let mut shard = self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if shard
            .map
            .get(&key)
            .is_some_and(|(stored, _)| **stored == *value)
        {
            shard.map.remove(&key);
        }
    }

    pub(crate) fn insert(&self, value: &str, identity: Identity, now: u64) {
        let Some((key, shard)) = Self::key(value) else {
            return;
        };
        let mut shard = self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if shard.map.len() >= CACHE_PER_SHARD {
            if shard.swept_at == now {
                return;
            }
            shard.swept_at = now;
            shard.map.retain(|_, (_, id)| id.expires_at() > now);
            if shard.map.len() >= CACHE_PER_SHARD {
                return;
            }
        }
        shard.map.insert(key, (Box::from(value), identity));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityData;

    fn data(groups: usize) -> IdentityData {
        IdentityData::sample(groups)
    }

    #[test]
    fn session_cache_needs_the_exact_value_and_honours_expiry() {
        let cache = SessionCache::default();
        let id = Identity::from_data(data(1));
        let value = "A".repeat(100) + "0123456789abcdef";
        cache.insert(&value, id, 1_000);
        assert_eq!(
            cache
                .get(&value, 1_500)
                .map(|i| i.subject().to_owned())
                .as_deref(),
            Some("248289761001")
        );
        let same_tail = "B".repeat(100) + "0123456789abcdef";
        assert!(
            cache.get(&same_tail, 1_500).is_none(),
            "the whole value must match"
        );
        assert!(cache.get(&value, 2_000).is_none(), "expired");
        assert!(cache.get("short", 1_500).is_none());
    }

    #[test]
    fn session_cache_stays_bounded() {
        let cache = SessionCache::default();
        for i in 0..(CACHE_SHARDS * CACHE_PER_SHARD * 3) {
            cache.insert(&format!("{i:032}"), Identity::from_data(data(0)), 1_000);
        }
        let total: usize = cache
            .shards
            .iter()
            .map(|s| s.read().unwrap().map.len())
            .sum();
        assert!(total <= CACHE_SHARDS * CACHE_PER_SHARD, "{total}");
    }
}
