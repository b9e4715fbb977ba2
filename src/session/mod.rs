//! Sessions and cookies: the AEAD codec, cookie names and parsing, the session payload, the
//! login record, and the in-process memories (replay guard, session cache, revocations).

mod cache;
mod codec;
mod cookie;
mod expiring;
mod login_record;
mod payload;
mod replay;
mod revocation;

pub(crate) use cache::SessionCache;
pub(crate) use codec::{CookieCodec, Purpose, MAX_COOKIE_VALUE};
pub(crate) use cookie::{request_cookie, request_cookie_bytes, request_cookies, CookieNames};
pub(crate) use login_record::{LoginRecord, LOGIN_TTL_SECS, MAX_PENDING_LOGINS};
pub(crate) use payload::{decode_session, encode_session};
pub(crate) use replay::ReplayGuard;
pub(crate) use revocation::Revocations;

use crate::config::OidcConfig;

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
