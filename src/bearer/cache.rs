//! The cache of verified bearer tokens: a token seen before costs one SHA-256 and one map
//! lookup, with no signature check and no I/O.

use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::RwLock;

use rustc_hash::FxHasher;

use crate::identity::Identity;
use crate::random::sha256;

const SHARDS: usize = 16;

/// A token's SHA-256: its key in the cache (the token itself is not kept), computed once per
/// verification.
#[derive(Clone, Copy)]
pub(crate) struct TokenDigest(pub(crate) [u8; 32]);

impl TokenDigest {
    /// The digest of `token`, its bytes as sent.
    pub(crate) fn of(token: &[u8]) -> Self {
        Self(sha256(token))
    }
}

/// One shard: a token's SHA-256 to its identity and the time (Unix seconds) the entry is used
/// until.
type Shard = HashMap<[u8; 32], (Identity, u64), BuildHasherDefault<FxHasher>>;

/// Tokens whose checks, policy and login hook passed, with the identity they gave, keyed by the
/// token's SHA-256 (the token itself is not kept). An entry is used only until the time it was
/// inserted with: a JWT's `exp`; for an introspected token, its `exp` or the configured
/// maximum, whichever comes first. So a cached decision never outlives its token.
///
/// Bounded: a full shard drops its expired entries, and if it is still full the token is not
/// cached (it is verified again at each request). Only verified tokens are inserted, so a flood
/// of forged or distinct invalid tokens never fills it. Sixteen shards behind `RwLock`s held
/// only for the lookup or insert, never across an await; Fx hashing is safe here because the
/// keys are SHA-256 digests of tokens the provider signed.
pub(crate) struct TokenCache {
    shards: [RwLock<Shard>; SHARDS],
    per_shard: usize,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").finish_non_exhaustive()
    }
}

impl TokenCache {
    /// A cache of about `capacity` tokens.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: std::array::from_fn(|_| RwLock::default()),
            per_shard: capacity.div_ceil(SHARDS).max(1),
        }
    }

    fn shard(key: &TokenDigest) -> usize {
        usize::from(key.0[0]) % SHARDS
    }

    /// The identity of `token` (its bytes as sent), if it was verified before and its entry
    /// is still good at `now`.
    pub(crate) fn get(&self, token: &[u8], now: u64) -> Option<Identity> {
        self.find(&TokenDigest::of(token), now)
    }

    /// [`get`](Self::get) for a token whose digest is known.
    pub(crate) fn find(&self, key: &TokenDigest, now: u64) -> Option<Identity> {
        let map = self.shards[Self::shard(key)]
            .read()
            .unwrap_or_else(|p| p.into_inner());
        map.get(&key.0)
            .filter(|(_, until)| *until > now)
            .map(|(identity, _)| identity.clone())
    }

    /// Remembers a verified token's identity until `until` (Unix seconds; nothing is kept when
    /// that is not after `now`).
    pub(crate) fn insert(&self, key: &TokenDigest, identity: Identity, until: u64, now: u64) {
        if until <= now {
            return;
        }
        let mut map = self.shards[Self::shard(key)]
            .write()
            .unwrap_or_else(|p| p.into_inner());
        if map.len() >= self.per_shard {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= self.per_shard {
                return;
            }
        }
        map.insert(key.0, (identity, until));
    }

    /// How many tokens are cached.
    #[cfg_attr(not(any(test, feature = "test-util")), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).len())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityData;

    fn digest(token: &str) -> TokenDigest {
        TokenDigest::of(token.as_bytes())
    }

    fn identity(expires_at: u64) -> Identity {
        let mut data = IdentityData::sample(1);
        data.expires_at = expires_at;
        Identity::from_data(data)
    }

    #[test]
    fn a_token_is_found_until_it_expires() {
        let cache = TokenCache::new(100);
        cache.insert(&digest("token-a"), identity(2_000), 2_000, 1_000);
        assert!(cache.get(b"token-a", 1_999).is_some());
        assert!(cache.get(b"token-a", 2_000).is_none(), "never past exp");
        assert!(cache.get(b"token-b", 1_000).is_none());
        // An entry bound earlier than the identity's expiry (an introspected token's
        // maximum) ends then.
        cache.insert(&digest("token-c"), identity(2_000), 1_060, 1_000);
        assert!(cache.get(b"token-c", 1_059).is_some());
        assert!(cache.get(b"token-c", 1_060).is_none());
        cache.insert(&digest("token-d"), identity(2_000), 1_000, 1_000);
        assert_eq!(cache.len(), 2, "nothing is kept for no time");
    }

    #[test]
    fn the_cache_stays_bounded_and_makes_room_from_expired_entries() {
        let cache = TokenCache::new(32);
        for i in 0..10_000 {
            cache.insert(
                &digest(&format!("token-{i}")),
                identity(2_000),
                2_000,
                1_000,
            );
        }
        assert!(cache.len() <= 32, "{}", cache.len());
        // Once they expired, new tokens take their place.
        cache.insert(&digest("fresh"), identity(5_000), 5_000, 3_000);
        assert!(cache.get(b"fresh", 3_000).is_some());
    }
}
