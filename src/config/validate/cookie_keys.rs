//! `OIDC_COOKIE_KEY` and `OIDC_COOKIE_KEYS_OLD`: the key that seals cookies and the keys that
//! still open them.

use super::Problems;
use crate::config::builder::OidcConfigBuilder;
use crate::config::cookie_key::{CookieKey, MAKE_KEY};

/// `OIDC_COOKIE_KEY`, or a random key for this process: on an https `BASE_URL` (a
/// deployment, where restarts and replicas need one key) only when the app allows it.
pub(super) fn cookie_key(
    b: &OidcConfigBuilder,
    https: bool,
    problems: &mut Problems,
) -> Option<CookieKey> {
    const KEY: &str = "OIDC_COOKIE_KEY";
    match b.cookie_key.as_deref() {
        None if https && !b.allow_random_cookie_key => {
            problems.push(
                KEY,
                format!(
                    "is not set, and BASE_URL is https: set it to the output of {MAKE_KEY}, the same on every replica \
                     (or, to sign everyone out at every restart, allow a random key for this process with \
                     `OidcConfigBuilder::allow_random_cookie_key(true)`)"
                ),
            );
            None
        }
        None => Some(CookieKey::random()),
        Some(raw) => CookieKey::parse(raw)
            .map_err(|e| problems.push(KEY, e))
            .ok(),
    }
}

/// The most keys `OIDC_COOKIE_KEYS_OLD` may hold: each costs an Argon2id stretch at startup,
/// and a forged cookie one decryption.
const MAX_OLD_COOKIE_KEYS: usize = 8;

/// `OIDC_COOKIE_KEYS_OLD`: each entry checked like `OIDC_COOKIE_KEY`, its problems naming its
/// position (never its value).
pub(super) fn old_cookie_keys(b: &OidcConfigBuilder, problems: &mut Problems) -> Vec<CookieKey> {
    const KEY: &str = "OIDC_COOKIE_KEYS_OLD";
    if b.old_cookie_keys.is_empty() {
        return Vec::new();
    }
    if b.cookie_key.is_none() {
        problems.push(
            KEY,
            "is set but OIDC_COOKIE_KEY is not: set the new key as OIDC_COOKIE_KEY (the old keys only open cookies, the new one seals them)",
        );
    }
    let count = b.old_cookie_keys.len();
    if count > MAX_OLD_COOKIE_KEYS {
        problems.push(
            KEY,
            format!(
                "holds {count} keys, more than {MAX_OLD_COOKIE_KEYS}: remove the keys whose sessions have expired"
            ),
        );
        return Vec::new();
    }
    b.old_cookie_keys
        .iter()
        .enumerate()
        .filter_map(|(i, raw)| {
            CookieKey::parse(raw)
                .map_err(|e| problems.push(KEY, format!("key {} of {count} {e}", i + 1)))
                .ok()
        })
        .collect()
}
