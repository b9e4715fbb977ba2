//! The cache of opened sessions: the hot path's one map lookup.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;

use rustc_hash::FxHasher;

use super::ending::Ending;
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
///
/// The maps hash with Fx, not SipHash: only sessions that opened are inserted, so an attacker
/// cannot choose the keys that are stored (flooding a map needs colliding keys stored in it),
/// and a lookup of a forged value costs one probe like any other.
pub(crate) struct SessionCache {
    shards: [RwLock<Shard>; CACHE_SHARDS],
    per_shard: usize,
}

/// One cached session: the whole cookie value, the identity, and (server-side stores) when its
/// use was last recorded in the store.
struct Entry {
    value: Box<str>,
    identity: Identity,
    seen: AtomicU64,
    /// When the session's tokens are due for a refresh (`u64::MAX`: never).
    refresh_at: AtomicU64,
}

/// A cache hit of a server-side session: the identity, when its use was last recorded, and
/// whether this request is the one to record it again.
pub(crate) struct Hit {
    pub(crate) identity: Identity,
    pub(crate) seen: u64,
    pub(crate) touch: bool,
    /// Whether the session's tokens are due for a refresh.
    pub(crate) refresh_due: bool,
}

#[derive(Default)]
struct Shard {
    map: HashMap<u128, Entry, BuildHasherDefault<FxHasher>>,
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
        Self::with_capacity(CACHE_SHARDS * CACHE_PER_SHARD)
    }
}

impl SessionCache {
    /// A cache of about `capacity` sessions (at least one per shard).
    pub(crate) fn with_capacity(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| RwLock::new(Shard::default())),
            per_shard: capacity.div_ceil(CACHE_SHARDS).max(1),
        }
    }

    /// The value's last 16 bytes as the map key, and the shard that holds it.
    fn key(value: &[u8]) -> Option<(u128, usize)> {
        let tail = value.get(value.len().checked_sub(16)?..)?;
        let key = u128::from_le_bytes(tail.try_into().ok()?);
        let mixed = ((key as u64) ^ ((key >> 64) as u64)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Some((key, (mixed >> 32) as usize % CACHE_SHARDS))
    }

    /// The identity of the session `value`, a cookie value as the request sent it (bytes not
    /// yet checked: a stored value is one that opened).
    pub(crate) fn get(&self, value: &[u8], now: u64) -> Option<Identity> {
        let (key, shard) = Self::key(value)?;
        let shard = self.shards[shard].read().unwrap_or_else(|p| p.into_inner());
        let e = shard.map.get(&key)?;
        (e.value.as_bytes() == value && e.identity.expires_at() > now).then(|| e.identity.clone())
    }

    /// Like [`get`](Self::get), for a server-side session whose use is recorded in its store
    /// every `every` seconds: the hit says whether this request is the one to record it (one
    /// request wins the compare-and-swap; the others do not). Never for a session idle for
    /// `idle` seconds (0: no idle timeout).
    pub(crate) fn get_seen(&self, value: &[u8], now: u64, every: u64, idle: u64) -> Option<Hit> {
        let (key, shard) = Self::key(value)?;
        let shard = self.shards[shard].read().unwrap_or_else(|p| p.into_inner());
        let e = shard.map.get(&key)?;
        if e.value.as_bytes() != value || e.identity.expires_at() <= now {
            return None;
        }
        let seen = e.seen.load(Ordering::Relaxed);
        let touch = now >= seen.saturating_add(every)
            && (idle == 0 || now < seen.saturating_add(idle))
            && e.seen
                .compare_exchange(seen, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        Some(Hit {
            identity: e.identity.clone(),
            seen,
            touch,
            refresh_due: now >= e.refresh_at.load(Ordering::Relaxed),
        })
    }

    /// Forgets every session (a server-side store's feed was down: what ended meanwhile is
    /// unknown).
    pub(crate) fn clear(&self) {
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            crate::meter::cached_sessions(-(shard.map.len() as i64));
            shard.map.clear();
        }
    }

    /// How many sessions are cached.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    pub(crate) fn remove(&self, value: &str) {
        let Some((key, shard)) = Self::key(value.as_bytes()) else {
            return;
        };
        let mut shard = self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if shard.map.get(&key).is_some_and(|e| *e.value == *value) {
            shard.map.remove(&key);
            crate::meter::cached_sessions(-1);
        }
    }

    /// Drops every session that expires no later than `floor`: the revocation list, full, now
    /// refuses those, and a cache hit does not ask it. Rare (only when that list overflows), so
    /// one shard at a time is locked for a scan.
    pub(crate) fn forget_expiring_by(&self, floor: u64) {
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            let before = shard.map.len();
            shard.map.retain(|_, e| e.identity.expires_at() > floor);
            crate::meter::cached_sessions(shard.map.len() as i64 - before as i64);
        }
    }

    /// Drops every entry of the session `session_id` (a cookie re-issued by the idle timeout
    /// leaves its earlier values cached). Only at logout, so one shard at a time is locked for
    /// a scan.
    pub(crate) fn forget_session(&self, session_id: &str) {
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            let before = shard.map.len();
            shard
                .map
                .retain(|_, e| e.identity.session_id() != session_id);
            crate::meter::cached_sessions(shard.map.len() as i64 - before as i64);
        }
    }

    /// Drops every session that `ended` covers, and returns how many: a back-channel logout
    /// ended them, and a cache hit does not ask the revocations. Rare, so one shard at a time
    /// is locked for a scan.
    pub(crate) fn forget_ended(&self, ended: &Ending) -> usize {
        let mut dropped = 0;
        for shard in &self.shards {
            let mut shard = shard.write().unwrap_or_else(|p| p.into_inner());
            let before = shard.map.len();
            shard.map.retain(|_, e| !ended.covers(e.identity.data()));
            dropped += before - shard.map.len();
        }
        crate::meter::cached_sessions(-(dropped as i64));
        dropped
    }

    pub(crate) fn insert(&self, value: &str, identity: Identity, now: u64) {
        self.insert_seen(value, identity, now, now, u64::MAX);
    }

    /// Postpones the refresh of the session `value` to `at` (the provider could not be
    /// reached: the next try waits a moment instead of coming with every request).
    pub(crate) fn postpone_refresh(&self, value: &str, at: u64) {
        let Some((key, shard)) = Self::key(value.as_bytes()) else {
            return;
        };
        let shard = self.shards[shard].read().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = shard.map.get(&key).filter(|e| *e.value == *value) {
            e.refresh_at.store(at, Ordering::Relaxed);
        }
    }

    /// Caches the session `value`, its use last recorded at `seen`, its refresh due at
    /// `refresh_at`; replaces an entry of the same value.
    pub(crate) fn insert_seen(
        &self,
        value: &str,
        identity: Identity,
        now: u64,
        seen: u64,
        refresh_at: u64,
    ) {
        let Some((key, shard)) = Self::key(value.as_bytes()) else {
            return;
        };
        let mut shard = self.shards[shard]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if shard.map.len() >= self.per_shard {
            if shard.swept_at == now {
                return;
            }
            shard.swept_at = now;
            let before = shard.map.len();
            shard.map.retain(|_, e| e.identity.expires_at() > now);
            crate::meter::cached_sessions(shard.map.len() as i64 - before as i64);
            if shard.map.len() >= self.per_shard {
                return;
            }
        }
        if shard
            .map
            .insert(
                key,
                Entry {
                    value: Box::from(value),
                    identity,
                    seen: AtomicU64::new(seen),
                    refresh_at: AtomicU64::new(refresh_at),
                },
            )
            .is_none()
        {
            crate::meter::cached_sessions(1);
        }
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
                .get(value.as_bytes(), 1_500)
                .map(|i| i.subject().to_owned())
                .as_deref(),
            Some("248289761001")
        );
        let same_tail = "B".repeat(100) + "0123456789abcdef";
        assert!(
            cache.get(same_tail.as_bytes(), 1_500).is_none(),
            "the whole value must match"
        );
        assert!(cache.get(value.as_bytes(), 2_000).is_none(), "expired");
        assert!(cache.get(b"short", 1_500).is_none());
    }

    #[test]
    fn forgetting_by_expiry_keeps_later_sessions() {
        let cache = SessionCache::default();
        let mut early = data(0);
        early.expires_at = 1_000;
        let mut late = data(0);
        late.expires_at = 3_000;
        let (a, b) = ("A".repeat(40), "B".repeat(40));
        cache.insert(&a, Identity::from_data(early), 500);
        cache.insert(&b, Identity::from_data(late), 500);
        cache.forget_expiring_by(1_000);
        assert!(cache.get(a.as_bytes(), 500).is_none());
        assert!(cache.get(b.as_bytes(), 500).is_some());
    }

    #[test]
    fn a_back_channel_logout_drops_the_sessions_it_ends() {
        let cache = SessionCache::default();
        let mut ended = data(0);
        ended.sid = Some("op-1".into());
        let issuer = ended.issuer.clone();
        let mut kept = data(0);
        kept.sid = Some("op-2".into());
        let (a, b) = ("A".repeat(40), "B".repeat(40));
        cache.insert(&a, Identity::from_data(ended), 500);
        cache.insert(&b, Identity::from_data(kept), 500);
        let by_sid = Ending::Sid {
            issuer,
            sid: "op-1".into(),
        };
        assert_eq!(cache.forget_ended(&by_sid), 1);
        assert!(cache.get(a.as_bytes(), 500).is_none());
        assert!(cache.get(b.as_bytes(), 500).is_some());
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
