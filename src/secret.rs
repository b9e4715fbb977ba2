//! [`Secret`]: a token of the provider's (access or refresh token) that never shows itself:
//! `Debug` prints `[redacted]`, there is no `Display`, and equality is in constant time.

use std::fmt;

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

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

    /// Whether both are the same token (constant time).
    pub(crate) fn same(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A session's access token and when it expires (unix seconds).
#[derive(Clone, Debug)]
pub(crate) struct ProviderToken {
    pub(crate) token: Secret,
    pub(crate) expires_at: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_shows_itself() {
        let s = Secret::new("AT-1234-secret");
        assert_eq!(format!("{s:?}"), "[redacted]");
        let t = ProviderToken {
            token: s.clone(),
            expires_at: 5,
        };
        assert!(!format!("{t:?}").contains("1234"));
        assert!(s.same(&Secret::new("AT-1234-secret")));
        assert!(!s.same(&Secret::new("AT-1234-secreT")));
        let bytes = postcard::to_allocvec(&s).unwrap();
        let back: Secret = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(back.expose(), "AT-1234-secret");
    }
}
