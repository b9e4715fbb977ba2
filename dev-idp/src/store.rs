//! What the provider remembers between requests: issued codes and access tokens, bounded.

use std::collections::HashMap;

/// At most this many codes (fresh or recently used) are remembered; the oldest go first.
const MAX_CODES: usize = 1024;
/// At most this many access tokens are remembered; the oldest go first.
const MAX_TOKENS: usize = 4096;

/// What an authorization code was issued for.
#[derive(Clone)]
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: String,
    pub(crate) nonce: Option<String>,
    pub(crate) subject: String,
    pub(crate) scope: String,
    pub(crate) auth_time: u64,
}

pub(crate) enum CodeState {
    /// Issued and not yet presented.
    Fresh(CodeGrant),
    /// Presented once; remembered until it would have expired, so that a second use is
    /// recognised and revokes the access token issued with the first (RFC 6749 4.1.2).
    Used { access_token: Option<String> },
}

pub(crate) struct CodeEntry {
    pub(crate) state: CodeState,
    pub(crate) expires_at: u64,
}

pub(crate) struct AccessGrant {
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) scope: String,
    pub(crate) expires_at: u64,
}

#[derive(Default)]
pub(crate) struct Store {
    pub(crate) codes: HashMap<String, CodeEntry>,
    pub(crate) tokens: HashMap<String, AccessGrant>,
}

impl Store {
    pub(crate) fn prune(&mut self, now: u64) {
        self.codes.retain(|_, c| c.expires_at > now);
        self.tokens.retain(|_, t| t.expires_at > now);
    }

    pub(crate) fn insert_code(&mut self, code: String, entry: CodeEntry) {
        while self.codes.len() >= MAX_CODES {
            let Some(oldest) = self
                .codes
                .iter()
                .min_by_key(|(_, c)| c.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.codes.remove(&oldest);
        }
        self.codes.insert(code, entry);
    }

    pub(crate) fn insert_token(&mut self, token: String, grant: AccessGrant) {
        while self.tokens.len() >= MAX_TOKENS {
            let Some(oldest) = self
                .tokens
                .iter()
                .min_by_key(|(_, t)| t.expires_at)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.tokens.remove(&oldest);
        }
        self.tokens.insert(token, grant);
    }
}
