//! The memory-hard stretch of `OIDC_COOKIE_KEY`: Argon2id, computed once per key and origin
//! per process.
//!
//! HKDF alone has no work factor, so a weak key that slipped past the checks of
//! `config/cookie_key.rs` would let a sealed login cookie test millions of guesses a second.
//! Argon2id with OWASP's parameters (Password Storage Cheat Sheet: 19 MiB, 2 passes, 1 lane)
//! makes every guess cost that memory and time, and the `BASE_URL` origin in the salt makes
//! an attacker start over for each app. The result is cached for the process, keyed by a
//! digest of key and salt, so that building many layers (tests, fuzzing) pays once per key.

use std::sync::{Mutex, PoisonError};

use argon2::{Algorithm, Argon2, Params, Version};
use aws_lc_rs::digest;

use crate::config::CookieKey;

/// Argon2id memory in KiB, passes and lanes: OWASP's first recommended configuration.
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// The salt's fixed part; the `BASE_URL` origin follows it.
const SALT_PREFIX: &[u8] = b"tower-oidc OIDC_COOKIE_KEY v2\0";
/// Distinct keys remembered per process (a process normally has one).
const CACHED_KEYS: usize = 16;

/// Stretched keys, by SHA-256 of salt and key.
static STRETCHED: Mutex<Vec<([u8; 32], [u8; 32])>> = Mutex::new(Vec::new());

/// The master secret the cookie keys are derived from, for an app at `origin`.
///
/// A key this process generated is 32 random bytes already, and is used as it is; a
/// configured key is stretched with Argon2id (once per key and origin per process).
pub(crate) fn master_secret(key: &CookieKey, origin: &str) -> [u8; 32] {
    if key.is_generated() {
        let mut secret = [0u8; 32];
        secret.copy_from_slice(key.bytes());
        return secret;
    }
    let mut salt = SALT_PREFIX.to_vec();
    salt.extend_from_slice(origin.as_bytes());
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&(salt.len() as u64).to_be_bytes());
    ctx.update(&salt);
    ctx.update(key.bytes());
    let mut id = [0u8; 32];
    id.copy_from_slice(ctx.finish().as_ref());

    // Held while stretching, so that layers built at once from one key stretch it once.
    let mut cache = STRETCHED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, secret)) = cache.iter().find(|(k, _)| *k == id) {
        return *secret;
    }
    let secret = argon2id(key.bytes(), &salt);
    if cache.len() >= CACHED_KEYS {
        cache.remove(0);
    }
    cache.push((id, secret));
    secret
}

fn argon2id(key: &[u8], salt: &[u8]) -> [u8; 32] {
    let params = Params::new(M_COST_KIB, T_COST, P_COST, Some(32))
        .expect("the Argon2 parameters are constants within Argon2's limits");
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(key, salt, &mut out)
        // Fails only for out-of-range lengths: the key is 32 bytes or more (far below 2^32),
        // the salt longer than Argon2's 8-byte minimum, the output 32 bytes.
        .expect("Argon2id accepts a cookie key, our salt and a 32-byte output");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> CookieKey {
        CookieKey::parse(text).unwrap()
    }

    #[test]
    fn stretches_a_configured_key_per_origin_and_remembers_it() {
        let k = key("rXUHkhEJRazxSy8aW5HUIkh2W5SqKIPK6dKlov23ISo=");
        let a = master_secret(&k, "https://app.example.com");
        assert_ne!(&a[..], k.bytes(), "a configured key is stretched");
        assert_eq!(
            a,
            master_secret(&k, "https://app.example.com"),
            "deterministic"
        );
        assert_ne!(
            a,
            master_secret(&k, "https://staging.example.com"),
            "salted by origin"
        );
        // The known-answer check: Argon2id of the same inputs, computed directly.
        let mut salt = SALT_PREFIX.to_vec();
        salt.extend_from_slice(b"https://app.example.com");
        assert_eq!(a, argon2id(k.bytes(), &salt));
        // The second call is a cache hit: far faster than one Argon2id pass.
        let start = std::time::Instant::now();
        for _ in 0..100 {
            master_secret(&k, "https://app.example.com");
        }
        assert!(
            start.elapsed() < std::time::Duration::from_millis(500),
            "{:?}",
            start.elapsed()
        );
    }

    #[test]
    fn a_generated_key_is_used_as_it_is() {
        let k = CookieKey::random();
        assert_eq!(&master_secret(&k, "http://127.0.0.1:3000")[..], k.bytes());
    }
}
