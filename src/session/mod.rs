//! Sessions and cookies: the key stretch and the AEAD codec, cookie names and parsing, the
//! session payload, the login record, and the in-process memories (replay guard, session
//! cache, revocations).

mod cache;
mod codec;
mod cookie;
mod ending;
mod expiring;
mod login_record;
mod memories;
mod payload;
mod renewal;
mod replay;
mod revocation;
mod stretch;

pub(crate) use cache::SessionCache;
pub(crate) use codec::{CookieCodec, Purpose, MAX_COOKIE_VALUE};
pub(crate) use cookie::{request_cookie, request_cookie_bytes, request_cookies, CookieNames};
pub(crate) use ending::Ending;
pub(crate) use login_record::{LoginRecord, LOGIN_TTL_SECS, MAX_PENDING_LOGINS};
pub(crate) use memories::Memories;
pub(crate) use payload::{decode_session, encode_session, open_session, Opened};
pub(crate) use renewal::{is_idle, last_use, renew, RENEW_EVERY};
pub(crate) use replay::Replay;

use std::sync::Arc;

use crate::config::{OidcConfig, StoreKind};

/// Everything cookie-related the service needs, built once from the configuration.
#[derive(Debug)]
pub(crate) struct Cookies {
    pub(crate) codec: CookieCodec,
    pub(crate) names: CookieNames,
    /// The replay guard, the session cache and the revocations, shared with every layer built
    /// from the same configuration.
    pub(crate) memories: Arc<Memories>,
    /// The idle timeout (seconds) the session cookie keeps itself: with the cookie store only
    /// (a server-side store keeps it in the store); 0 for none.
    pub(crate) idle: u64,
}

impl Cookies {
    pub(crate) fn new(config: &OidcConfig) -> Self {
        Self {
            codec: CookieCodec::new(config),
            names: CookieNames::new(config.secure_cookies),
            memories: Memories::of(config),
            idle: cookie_idle(config),
        }
    }
}

/// The idle timeout the session cookie keeps itself, in seconds (see [`Cookies::idle`]).
pub(crate) fn cookie_idle(config: &OidcConfig) -> u64 {
    match config.session_store.kind {
        StoreKind::Cookie => config
            .session_store
            .idle_timeout
            .map_or(0, |idle| idle.as_secs()),
        _ => 0,
    }
}
