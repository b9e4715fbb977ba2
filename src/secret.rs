//! [`Secret`] and [`AccessToken`]: a token of the provider's (access or refresh token) that never shows itself:
//! `Debug` prints `[redacted]`, and there is no `Display` and no `PartialEq`.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A token the provider issued to this client: kept for the provider and the app's own calls
/// only, never printed, logged or shown on a page.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct Secret(Box<str>);

impl Secret {
    pub(crate) fn new(value: impl Into<Box<str>>) -> Self {
        Self(value.into())
    }

    /// The token itself, for the provider's endpoints and the app's calls only.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// The signed-in user's access token at their provider, to call APIs on their behalf (the
/// provider's userinfo, or a resource server that accepts its tokens): current whenever the
/// layer hands it over, since a token due for renewal is refreshed (`OIDC_REFRESH`) before the
/// request reaches the handler.
///
/// Take it as an axum extractor (401 when the session holds none), or from
/// [`Identity::access_token`](crate::Identity::access_token). Only sessions in a server-side
/// store (`OIDC_SESSION_STORE`) keep an access token; with the cookie store there is none.
///
/// ```
/// use tower_oidc::AccessToken;
///
/// async fn my_files(token: AccessToken) -> String {
///     // e.g. reqwest::Client::new().get(url).bearer_auth(token.expose())
///     format!("calling the API with a token valid until {}", token.expires_at())
/// }
/// ```
///
/// # Security
///
/// `Debug` prints `[redacted]` for the token; there is no `Display`. Send it only to the
/// provider or to APIs that expect it, over https, and never log it or put it in a page.
#[derive(Clone)]
pub struct AccessToken {
    pub(crate) token: Secret,
    pub(crate) expires_at: u64,
}

impl AccessToken {
    /// The token itself, for an `Authorization: Bearer` header.
    pub fn expose(&self) -> &str {
        self.token.expose()
    }

    /// When it expires, in seconds since the Unix epoch (from the token response's
    /// `expires_in`; an hour when the provider sent none).
    pub fn expires_at(&self) -> u64 {
        self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &self.token)
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_itself() {
        let s = Secret::new("AT-1234-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let t = AccessToken {
            token: s.clone(),
            expires_at: 5,
        };
        assert!(!format!("{t:?}").contains("1234"));
        assert_eq!(t.expose(), "AT-1234-secret");
        let bytes = postcard::to_allocvec(&s).unwrap();
        let back: Secret = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.expose(), "AT-1234-secret");
    }
}
