//! [`StoredTokens`]: a session's tokens at the provider, kept in the server-side store beside
//! it (never in a cookie, a log or a page), and when the refresh is due.

use serde::{Deserialize, Serialize};

use crate::secret::{AccessToken, Secret};

/// How long an access token without `expires_in` is taken to last (seconds): RFC 6749
/// section 5.1 only recommends the field; an hour is the common default.
pub(crate) const ASSUMED_LIFETIME: u64 = 3_600;

/// A session's tokens. Debug shows none of them.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub(crate) struct StoredTokens {
    pub(crate) access_token: Option<Secret>,
    /// When the access token expires (unix seconds); 0 without one.
    pub(crate) access_expires_at: u64,
    /// The refresh token, when refresh is on and the provider issued one.
    pub(crate) refresh_token: Option<Secret>,
    /// When the refresh is due (unix seconds); `u64::MAX` without a refresh token.
    pub(crate) refresh_at: u64,
    /// Whether the access token is DPoP-bound (`token_type` DPoP, RFC 9449).
    pub(crate) dpop_bound: bool,
}

impl StoredTokens {
    /// The tokens of a token response received at `now`; the refresh due `margin` seconds
    /// before the access token expires, but never before half its life has passed (so that a
    /// token shorter-lived than the margin is not refreshed at every request).
    pub(crate) fn new(
        access_token: Option<String>,
        expires_in: Option<u64>,
        refresh_token: Option<String>,
        now: u64,
        margin: u64,
        dpop_bound: bool,
    ) -> Self {
        let lifetime = expires_in.unwrap_or(ASSUMED_LIFETIME);
        let access_expires_at = match &access_token {
            Some(_) => now.saturating_add(lifetime),
            None => now,
        };
        let refresh_at = match &refresh_token {
            Some(_) => access_expires_at
                .saturating_sub(margin)
                .max(now.saturating_add(lifetime / 2)),
            None => u64::MAX,
        };
        Self {
            access_token: access_token.map(Secret::new),
            access_expires_at,
            refresh_token: refresh_token.map(Secret::new),
            refresh_at,
            dpop_bound,
        }
    }

    /// The access token handed to the app, with its expiry.
    pub(crate) fn provider_token(&self) -> Option<AccessToken> {
        self.access_token.as_ref().map(|t| AccessToken {
            token: t.clone(),
            expires_at: self.access_expires_at,
            dpop_bound: self.dpop_bound,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refresh_is_due_a_margin_before_the_access_token_expires() {
        let t = StoredTokens::new(
            Some("at".into()),
            Some(300),
            Some("rt".into()),
            1_000,
            60,
            false,
        );
        assert_eq!(t.access_expires_at, 1_300);
        assert_eq!(t.refresh_at, 1_240);
        let short = StoredTokens::new(
            Some("at".into()),
            Some(10),
            Some("rt".into()),
            1_000,
            60,
            false,
        );
        assert_eq!(short.refresh_at, 1_005, "half its life, not at once");
        let none = StoredTokens::new(Some("at".into()), None, None, 1_000, 60, false);
        assert_eq!(none.access_expires_at, 1_000 + ASSUMED_LIFETIME);
        assert_eq!(none.refresh_at, u64::MAX, "nothing to refresh with");
        let shown = format!("{t:?}");
        assert!(
            !shown.contains("\"at\"") && !shown.contains("rt\""),
            "{shown}"
        );
        assert_eq!(t.provider_token().unwrap().token.expose(), "at");
    }
}
