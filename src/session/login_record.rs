//! The login record: what the per-login cookie remembers between the redirect and the callback.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::codec::{CookieCodec, Purpose};

/// How long a login may take, from the redirect to the callback.
pub(crate) const LOGIN_TTL_SECS: u64 = 600;
/// At most this many logins may be pending in one browser; starting another expires the oldest.
pub(crate) const MAX_PENDING_LOGINS: usize = 4;

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
    /// The `max_age` this login sent: the ID token's `auth_time` is checked against it.
    #[serde(rename = "m", default)]
    pub(crate) max_age: Option<u64>,
    /// The `acr` values one of which the ID token must carry (empty: no requirement).
    #[serde(rename = "a", default)]
    pub(crate) acr: Vec<String>,
}

impl fmt::Debug for LoginRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoginRecord")
            .field("issuer", &self.issuer)
            .field("return_to", &self.return_to)
            .field("created_at", &self.created_at)
            .field("max_age", &self.max_age)
            .field("acr", &self.acr)
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
