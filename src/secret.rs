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
    /// Whether the token is DPoP-bound (`token_type` DPoP, `OIDC_DPOP`).
    pub(crate) dpop_bound: bool,
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

    /// Whether the token is bound to the layer's DPoP key (RFC 9449; `OIDC_DPOP` on and the
    /// provider issued `token_type` `DPoP`): then an API takes it only as
    /// `Authorization: DPoP <token>` together with a proof from
    /// [`dpop_proof`](Self::dpop_proof), not as a bearer token.
    pub fn is_dpop_bound(&self) -> bool {
        self.dpop_bound
    }

    /// A DPoP proof (RFC 9449 section 4) for calling `url` with `method` (`"GET"`, `"POST"`,
    /// ...) with this token, signed with the layer's key: send it as the `DPoP` header beside
    /// `Authorization: DPoP <token>`. It names the method, the URL (without query and
    /// fragment), the time and this token's hash (`ath`), and is fresh at each call (`jti`),
    /// so make one per request. `None` when the token is not DPoP-bound (send it as a bearer
    /// token). A resource server that asks for a nonce (`DPoP-Nonce`) is not served by this
    /// proof.
    ///
    /// ```
    /// use tower_oidc::AccessToken;
    ///
    /// fn headers(token: &AccessToken, url: &str) -> Vec<(&'static str, String)> {
    ///     match token.dpop_proof("GET", url) {
    ///         Some(proof) => vec![
    ///             ("authorization", format!("DPoP {}", token.expose())),
    ///             ("dpop", proof),
    ///         ],
    ///         None => vec![("authorization", format!("Bearer {}", token.expose()))],
    ///     }
    /// }
    /// ```
    pub fn dpop_proof(&self, method: &str, url: &str) -> Option<String> {
        if !self.dpop_bound {
            return None;
        }
        let url = url::Url::parse(url).ok()?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Some(crate::dpop::key().proof(method, &url, now, None, Some(self.expose())))
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
            dpop_bound: false,
        };
        assert!(!format!("{t:?}").contains("1234"));
        assert_eq!(t.expose(), "AT-1234-secret");
        let bytes = postcard::to_allocvec(&s).unwrap();
        let back: Secret = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.expose(), "AT-1234-secret");
    }
}
