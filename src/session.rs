//! Cookies: the AEAD codec, the session cookie, the per-login cookies and replay protection.
//!
//! Every cookie value is `base64url(version || nonce || AES-256-GCM(plaintext))` with the cookie
//! name as associated data, so a value cannot be moved to another cookie. Each purpose (session,
//! login record, logout hint) has its own key, derived with HKDF-SHA256 from `OIDC_COOKIE_KEY`.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Mutex, RwLock};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::{digest, hkdf};
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue};
use serde::{Deserialize, Serialize};

use crate::config::OidcConfig;
use crate::identity::{Identity, IdentityData};
use crate::random::fill_random;

const VERSION: u8 = 1;
const TAG_LEN: usize = 16;
/// Plaintext is stored as is below this size, deflated above it.
const COMPRESS_ABOVE: usize = 1024;
/// The largest inflated session accepted (bounds the work a forged-but-valid cookie can cause).
const MAX_INFLATED: usize = 64 * 1024;
/// A cookie value larger than this is refused: browsers keep at most 4096 bytes per cookie,
/// name and attributes included (RFC 6265 section 6.1).
pub(crate) const MAX_COOKIE_VALUE: usize = 3900;
/// The most bytes a cookie value of [`MAX_COOKIE_VALUE`] base64url characters decodes to.
pub(crate) const MAX_DECODED: usize = MAX_COOKIE_VALUE * 3 / 4 + 3;
/// How long a login may take, from the redirect to the callback.
pub(crate) const LOGIN_TTL_SECS: u64 = 600;
/// At most this many logins may be pending in one browser; starting another expires the oldest.
pub(crate) const MAX_PENDING_LOGINS: usize = 4;

#[derive(Clone, Copy, Debug)]
pub(crate) enum Purpose {
    Session,
    Login,
    Logout,
}

/// Seals and opens cookie values.
pub(crate) struct CookieCodec {
    session: LessSafeKey,
    login: LessSafeKey,
    logout: LessSafeKey,
}

impl fmt::Debug for CookieCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieCodec([redacted])")
    }
}

impl CookieCodec {
    pub(crate) fn new(master: &[u8]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"tower-oidc cookie keys v1").extract(master);
        let derive = |info: &'static [u8]| {
            let infos = [info];
            // HKDF-SHA256 can expand up to 8160 bytes; 32 are asked for.
            let okm = prk
                .expand(&infos, &AES_256_GCM)
                .expect("HKDF output length is valid");
            LessSafeKey::new(UnboundKey::from(okm))
        };
        Self {
            session: derive(b"session"),
            login: derive(b"login"),
            logout: derive(b"logout"),
        }
    }

    fn key(&self, purpose: Purpose) -> &LessSafeKey {
        match purpose {
            Purpose::Session => &self.session,
            Purpose::Login => &self.login,
            Purpose::Logout => &self.logout,
        }
    }

    /// Encrypts `plaintext` for the cookie called `name`.
    pub(crate) fn seal(&self, purpose: Purpose, name: &str, plaintext: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        fill_random(&mut nonce);
        let mut buf = Vec::with_capacity(1 + NONCE_LEN + plaintext.len() + TAG_LEN);
        buf.push(VERSION);
        buf.extend_from_slice(&nonce);
        buf.extend_from_slice(plaintext);
        let tag = self
            .key(purpose)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(name.as_bytes()),
                &mut buf[1 + NONCE_LEN..],
            )
            // Sealing fails only for inputs over AES-GCM's 64 GiB limit.
            .expect("a cookie is far below AES-GCM's size limit");
        buf.extend_from_slice(tag.as_ref());
        B64.encode(&buf)
    }

    /// Decrypts a cookie value; `None` for anything forged, truncated, oversized, or made for
    /// another cookie or purpose.
    pub(crate) fn open(&self, purpose: Purpose, name: &str, value: &str) -> Option<Vec<u8>> {
        let mut buf = [0u8; MAX_DECODED];
        self.open_into(purpose, name, value, &mut buf)
            .map(<[u8]>::to_vec)
    }

    /// Like [`open`](Self::open), decoding into `buf` (no allocation); returns the plaintext.
    pub(crate) fn open_into<'b>(
        &self,
        purpose: Purpose,
        name: &str,
        value: &str,
        buf: &'b mut [u8; MAX_DECODED],
    ) -> Option<&'b [u8]> {
        // We never issue a larger value; anything longer is refused before any work.
        if value.len() > MAX_COOKIE_VALUE {
            return None;
        }
        let len = B64.decode_slice(value, buf).ok()?;
        if len < 1 + NONCE_LEN + TAG_LEN || buf[0] != VERSION {
            return None;
        }
        let (head, sealed) = buf[..len].split_at_mut(1 + NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(&head[1..]).ok()?;
        let plain = self
            .key(purpose)
            .open_in_place(nonce, Aad::from(name.as_bytes()), sealed)
            .ok()?;
        Some(plain)
    }
}

/// The names of the cookies, `__Host-` prefixed when `BASE_URL` is https (RFC 6265bis 4.1.3.2).
#[derive(Debug, Clone)]
pub(crate) struct CookieNames {
    pub(crate) session: String,
    pub(crate) logout: String,
    pub(crate) login_prefix: String,
    pub(crate) secure: bool,
}

impl CookieNames {
    pub(crate) fn new(secure: bool) -> Self {
        let prefix = if secure { "__Host-" } else { "" };
        Self {
            session: format!("{prefix}oidc-session"),
            logout: format!("{prefix}oidc-logout"),
            login_prefix: format!("{prefix}oidc-login-"),
            secure,
        }
    }

    /// The login cookie for `state`: named after a hash of it, so the callback finds its record
    /// directly and several tabs can log in at once without overwriting each other.
    pub(crate) fn login(&self, state: &str) -> String {
        let hash = digest::digest(&digest::SHA256, state.as_bytes());
        format!("{}{}", self.login_prefix, B64.encode(&hash.as_ref()[..9]))
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the callback is a cross-site top-level
    /// navigation, which Strict would strip), Path=/, Secure on https.
    ///
    /// Written directly rather than through `cookie::Cookie`'s `Display`: the names are ours and
    /// the values base64url, so nothing needs quoting or encoding, and this runs at every login.
    pub(crate) fn set(&self, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
        let max_age = max_age_secs.to_string();
        let mut s = String::with_capacity(name.len() + value.len() + 64);
        for part in [
            name,
            "=",
            value,
            "; HttpOnly; SameSite=Lax; Path=/; Max-Age=",
            &max_age,
        ] {
            s.push_str(part);
        }
        if self.secure {
            s.push_str("; Secure");
        }
        HeaderValue::try_from(s)
            .expect("cookie names and base64url values are valid header characters")
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub(crate) fn remove(&self, name: &str) -> HeaderValue {
        self.set(name, "", 0)
    }
}

/// Iterates over the request's cookies, across every `Cookie` header, borrowing from them;
/// pairs without `=` are skipped and surrounding double quotes are removed.
///
/// A `Cookie` request header is only `name=value` pairs separated by `;` (RFC 6265 section
/// 4.2.1), so a split is the whole parse; `cookie::Cookie::split_parse` also validates every
/// pair's attributes, which cost a fifth of the hot path. Our values are base64url and need no
/// decoding.
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
}

/// The value of the first cookie called `name` (the hot path's one cookie read).
pub(crate) fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    request_cookies(headers)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

/// Encodes a session; `None` if it cannot fit in a cookie even without its extra claims.
pub(crate) fn encode_session(
    codec: &CookieCodec,
    names: &CookieNames,
    data: &mut IdentityData,
) -> Option<String> {
    let attempt = |data: &IdentityData| {
        let json = postcard::to_allocvec(data).ok()?;
        if json.len() > MAX_INFLATED {
            // The decoder would refuse it.
            return None;
        }
        let mut plain = Vec::with_capacity(json.len() + 1);
        if json.len() > COMPRESS_ABOVE {
            let deflated = miniz_oxide::deflate::compress_to_vec(&json, 6);
            if deflated.len() < json.len() {
                plain.push(1);
                plain.extend_from_slice(&deflated);
            }
        }
        if plain.is_empty() {
            plain.push(0);
            plain.extend_from_slice(&json);
        }
        let value = codec.seal(Purpose::Session, &names.session, &plain);
        (value.len() <= MAX_COOKIE_VALUE).then_some(value)
    };
    if let Some(v) = attempt(data) {
        return Some(v);
    }
    if !data.claims_json.is_empty() {
        tracing::warn!(
            target: "tower_oidc",
            bytes = data.claims_json.len(),
            "session too large for a cookie: dropping the extra claims from the session"
        );
        data.claims_json.clear();
        return attempt(data);
    }
    None
}

/// Decodes a session cookie value; `None` when forged, malformed or expired at `now`.
pub(crate) fn decode_session(
    codec: &CookieCodec,
    names: &CookieNames,
    value: &str,
    now: u64,
) -> Option<IdentityData> {
    let mut buf = [0u8; MAX_DECODED];
    let plain = codec.open_into(Purpose::Session, &names.session, value, &mut buf)?;
    let (&flag, body) = plain.split_first()?;
    let data: IdentityData = match flag {
        0 => postcard::from_bytes(body).ok()?,
        1 => {
            let json =
                miniz_oxide::inflate::decompress_to_vec_with_limit(body, MAX_INFLATED).ok()?;
            postcard::from_bytes(&json).ok()?
        }
        _ => return None,
    };
    (data.expires_at > now && data.authenticated_at <= now.saturating_add(300)).then_some(data)
}

/// What the login cookie remembers between the redirect to the provider and the callback.
#[derive(Serialize, Deserialize)]
pub(crate) struct LoginRecord {
    /// The `state` sent to the provider.
    #[serde(rename = "s")]
    pub(crate) state: String,
    /// The `nonce` sent to the provider.
    #[serde(rename = "n")]
    pub(crate) nonce: String,
    /// The PKCE code verifier.
    #[serde(rename = "v")]
    pub(crate) verifier: String,
    /// The provider's issuer.
    #[serde(rename = "i")]
    pub(crate) issuer: String,
    /// The provider's slug.
    #[serde(rename = "p")]
    pub(crate) provider: String,
    /// Where to go after login: a same-origin path.
    #[serde(rename = "r")]
    pub(crate) return_to: String,
    /// When the login started (seconds since the epoch).
    #[serde(rename = "t")]
    pub(crate) created_at: u64,
}

impl fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRecord")
            .field("issuer", &self.issuer)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl LoginRecord {
    pub(crate) fn seal(&self, codec: &CookieCodec, name: &str) -> String {
        let bytes = postcard::to_allocvec(self).expect("a login record always serializes");
        codec.seal(Purpose::Login, name, &bytes)
    }

    pub(crate) fn open(codec: &CookieCodec, name: &str, value: &str) -> Option<Self> {
        let plain = codec.open(Purpose::Login, name, value)?;
        postcard::from_bytes(&plain).ok()
    }
}

/// Makes room in a map of entries to their expiry times: drops the expired ones, and if it is
/// still at `capacity`, the half that expires soonest. Keeps the map bounded whatever the input.
fn make_room<K: Eq + std::hash::Hash>(map: &mut HashMap<K, u64>, now: u64, capacity: usize) {
    if map.len() < capacity {
        return;
    }
    map.retain(|_, expires| *expires > now);
    if map.len() >= capacity {
        let mut expiries: Vec<u64> = map.values().copied().collect();
        expiries.sort_unstable();
        let cut = expiries[expiries.len() / 2];
        map.retain(|_, e| *e > cut);
    }
}

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

/// Everything cookie-related the service needs, built once from the configuration.
#[derive(Debug)]
pub(crate) struct Cookies {
    pub(crate) codec: CookieCodec,
    pub(crate) names: CookieNames,
    pub(crate) replay: ReplayGuard,
    pub(crate) cache: SessionCache,
    pub(crate) revoked: Revocations,
}

impl Cookies {
    pub(crate) fn new(config: &OidcConfig) -> Self {
        Self {
            codec: CookieCodec::new(config.cookie_key.bytes()),
            names: CookieNames::new(config.secure_cookies),
            replay: ReplayGuard::default(),
            cache: SessionCache::default(),
            revoked: Revocations::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::random_token;

    fn data(groups: usize) -> IdentityData {
        IdentityData {
            subject: "248289761001".into(),
            issuer: "https://id.example.com".into(),
            provider: "default".into(),
            email: Some("jane@example.com".into()),
            email_verified: true,
            name: Some("Jane Doe".into()),
            preferred_username: Some("jane".into()),
            groups: (0..groups)
                .map(|i| format!("department-{}-team-{}", i % 17, i))
                .collect(),
            role: Some(crate::role::PgRole::new("app_reader").unwrap()),
            admin: true,
            claims_json: String::new(),
            app_json: String::new(),
            authenticated_at: 1_000,
            expires_at: 2_000,
            session_id: random_token(16),
            claims: Default::default(),
        }
    }

    #[test]
    fn seal_and_open_round_trip_and_bind_the_name() {
        let codec = CookieCodec::new(&[7u8; 32]);
        let v = codec.seal(Purpose::Session, "a", b"hello");
        assert_eq!(
            codec.open(Purpose::Session, "a", &v).as_deref(),
            Some(&b"hello"[..])
        );
        assert!(
            codec.open(Purpose::Session, "b", &v).is_none(),
            "moved to another cookie"
        );
        assert!(
            codec.open(Purpose::Login, "a", &v).is_none(),
            "used for another purpose"
        );
        assert!(CookieCodec::new(&[8u8; 32])
            .open(Purpose::Session, "a", &v)
            .is_none());
    }

    #[test]
    fn rejects_tampered_truncated_and_garbage_values() {
        let codec = CookieCodec::new(&[7u8; 32]);
        let v = codec.seal(Purpose::Session, "a", b"hello world");
        let mut bytes = B64.decode(&v).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        assert!(codec
            .open(Purpose::Session, "a", &B64.encode(&bytes))
            .is_none());
        assert!(codec
            .open(Purpose::Session, "a", &v[..v.len() - 4])
            .is_none());
        for junk in ["", "%%%", "AAAA", "not base64 at all!", &"A".repeat(20_000)] {
            assert!(codec.open(Purpose::Session, "a", junk).is_none(), "{junk}");
        }
    }

    #[test]
    fn session_with_hundreds_of_groups_stays_under_4_kb() {
        let codec = CookieCodec::new(&[1u8; 32]);
        let names = CookieNames::new(true);
        let mut d = data(300);
        let value = encode_session(&codec, &names, &mut d).expect("fits");
        let header = names.set(&names.session, &value, 3600);
        assert!(header.len() < 4096, "Set-Cookie is {} bytes", header.len());
        let back = decode_session(&codec, &names, &value, 1_500).unwrap();
        assert_eq!(back.groups.len(), 300);
        assert_eq!(back.groups[299], "department-10-team-299");
        assert_eq!(back.role.as_ref().map(|r| r.as_str()), Some("app_reader"));
        assert!(back.admin, "the role and admin flag travel in the session");
    }

    #[test]
    fn expired_session_is_refused() {
        let codec = CookieCodec::new(&[1u8; 32]);
        let names = CookieNames::new(false);
        let value = encode_session(&codec, &names, &mut data(2)).unwrap();
        assert!(decode_session(&codec, &names, &value, 1_999).is_some());
        assert!(decode_session(&codec, &names, &value, 2_000).is_none());
    }

    #[test]
    fn cookies_are_parsed_across_headers_and_quotes() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=\"two\""));
        h.append(header::COOKIE, HeaderValue::from_static("c=3;junk;d"));
        assert_eq!(request_cookie(&h, "b"), Some("two"));
        assert_eq!(request_cookie(&h, "c"), Some("3"));
        assert_eq!(request_cookie(&h, "d"), None);
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

    #[test]
    fn host_prefix_only_on_https() {
        assert_eq!(CookieNames::new(true).session, "__Host-oidc-session");
        assert_eq!(CookieNames::new(false).session, "oidc-session");
        let set = CookieNames::new(true).set("__Host-oidc-session", "v", 60);
        let s = set.to_str().unwrap();
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(s.contains(attr), "{s}");
        }
        assert!(!s.contains("Domain"), "{s}");
    }
}
