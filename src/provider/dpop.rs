//! DPoP (RFC 9449) at the provider: whether this provider's calls carry proofs (`DPOP` on and
//! ES256 among discovery's `dpop_signing_alg_values_supported`), the proofs for its token and
//! userinfo endpoints, and the latest server nonce it gave (section 8), remembered from any
//! `DPoP-Nonce` header and sent in the next proof.

use http::HeaderMap;
use url::Url;

use super::discovery::Metadata;
use super::Provider;
use crate::dpop::DpopKey;

/// The proof algorithm of the process's key.
pub(crate) const ALG: &str = "ES256";

/// The request header a proof travels in, and the one a server's nonce comes in.
pub(crate) const DPOP: &str = "DPoP";
const DPOP_NONCE: &str = "DPoP-Nonce";

/// The longest server nonce kept: it goes back in every proof.
const MAX_NONCE: usize = 512;

/// Whether the provider takes proofs signed with the process's key.
pub(crate) fn offered(metadata: &Metadata) -> bool {
    metadata.dpop_algs.iter().any(|a| a == ALG)
}

impl Provider {
    /// The key this provider's token calls prove possession of: `DPOP` is on and discovery
    /// offers ES256.
    pub(crate) fn dpop_key(&self, metadata: &Metadata) -> Option<&'static DpopKey> {
        (self.config.dpop && offered(metadata)).then(crate::dpop::key)
    }

    /// A proof for `method` at `url` with the provider's latest nonce; `access_token` at a
    /// resource (userinfo).
    pub(crate) fn dpop_proof(
        &self,
        key: &DpopKey,
        method: &str,
        url: &Url,
        access_token: Option<&str>,
    ) -> String {
        let nonce = self
            .dpop_nonce
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        key.proof(
            method,
            url,
            self.clock.unix_seconds(),
            nonce.as_deref(),
            access_token,
        )
    }

    /// Keeps the `DPoP-Nonce` of a response, when it has a usable one; whether it had.
    pub(crate) fn remember_dpop_nonce(&self, headers: &HeaderMap) -> bool {
        let Some(nonce) = headers
            .get(DPOP_NONCE)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|n| !n.is_empty() && n.len() <= MAX_NONCE)
        else {
            return false;
        };
        *self.dpop_nonce.lock().unwrap_or_else(|p| p.into_inner()) = Some(nonce.to_owned());
        true
    }
}

/// Whether a userinfo 401 asks for a nonce (RFC 9449 section 9):
/// `WWW-Authenticate: DPoP error="use_dpop_nonce"`.
pub(crate) fn resource_wants_nonce(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::WWW_AUTHENTICATE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| {
            v.trim_start()
                .get(..4)
                .is_some_and(|s| s.eq_ignore_ascii_case("dpop"))
                && v.contains("use_dpop_nonce")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nonce_challenge_is_read_from_the_dpop_scheme_only() {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::WWW_AUTHENTICATE,
            r#"DPoP error="use_dpop_nonce", algs="ES256""#.parse().unwrap(),
        );
        assert!(resource_wants_nonce(&h));
        h.insert(
            http::header::WWW_AUTHENTICATE,
            r#"Bearer error="use_dpop_nonce""#.parse().unwrap(),
        );
        assert!(!resource_wants_nonce(&h));
    }
}
