//! The cookie store's idle timeout: the session cookie records its own last use, a session
//! unused for the idle timeout is over, and a cookie whose record is a minute old is
//! re-issued with the time of this request.

use http::HeaderValue;

use super::payload::encode_session;
use super::Cookies;
use crate::identity::{Identity, IdentityData};

/// A session cookie is re-issued when its record of use is this old (seconds): at most one
/// `Set-Cookie` per session per minute, so the idle timeout is met to within a minute.
pub(crate) const RENEW_EVERY: u64 = 60;

/// When the session was last used, as its cookie says: the sign-in for a cookie that never
/// recorded a use.
pub(crate) fn last_use(data: &IdentityData) -> u64 {
    data.seen_at.max(data.authenticated_at)
}

/// Whether a session last used at `seen` is over at `now` for the idle timeout `idle`
/// (seconds; 0: none).
pub(crate) fn is_idle(seen: u64, now: u64, idle: u64) -> bool {
    idle > 0 && now >= seen.saturating_add(idle)
}

/// The `Set-Cookie` that renews the session `identity`, whose request sent the cookie value
/// `old`, with its use recorded at `now`; the new value takes the old one's place in the
/// session cache. `None` when the session was ended meanwhile (the cache then keeps neither
/// value, so the next request checks the revocations) or no longer fits in a cookie.
pub(crate) fn renew(
    cookies: &Cookies,
    old: &str,
    identity: &Identity,
    now: u64,
) -> Option<HeaderValue> {
    let mut data = identity.clone_data();
    data.seen_at = now;
    let value = encode_session(&cookies.codec, &cookies.names, &mut data)?;
    let memories = &cookies.memories;
    memories.cache.remove(old);
    let renewed = Identity::from_data(data);
    memories.cache.insert(&value, renewed.clone(), now);
    // A logout may have revoked the session meanwhile; it revokes before it drops the cache
    // entries, so checking again after inserting closes the window (as a first opening does).
    if memories.revoked.is_revoked(renewed.data()) {
        memories.cache.remove(&value);
        return None;
    }
    let lifetime = identity.expires_at().saturating_sub(now);
    Some(cookies.names.set(&cookies.names.session, &value, lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_is_idle_after_the_timeout_from_its_last_use() {
        let mut data = IdentityData::sample(0);
        assert_eq!(last_use(&data), data.authenticated_at);
        data.seen_at = data.authenticated_at + 500;
        assert_eq!(last_use(&data), data.authenticated_at + 500);
        assert!(!is_idle(1_000, 1_899, 900));
        assert!(is_idle(1_000, 1_900, 900));
        assert!(!is_idle(1_000, 1_000_000, 0), "0 is no idle timeout");
    }
}
