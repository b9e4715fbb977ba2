//! The login hook: the app's say in every successful login (provisioning, account linking).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::identity::Identity;

/// A successful login, as handed to the hook set with
/// [`OidcConfigBuilder::with_login_hook`](crate::OidcConfigBuilder::with_login_hook).
///
/// Key users by `(identity.issuer(), identity.subject())`, never by email alone.
#[derive(Debug, Clone)]
pub struct LoginAttempt {
    pub(crate) identity: Identity,
    pub(crate) claims: Arc<Map<String, Value>>,
    pub(crate) auto_provision: bool,
}

impl LoginAttempt {
    /// The identity about to be signed in, with its role and admin flag already decided.
    pub fn identity(&self) -> &Identity {
        &self.identity
    }

    /// Every claim of the ID token and userinfo.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }

    /// `OIDC_AUTO_PROVISION` for this provider: when `false`, only users the app already knows
    /// should be let in (refuse the others).
    pub fn auto_provision(&self) -> bool {
        self.auto_provision
    }
}

/// What the hook decides.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum LoginDecision {
    /// Sign the user in.
    Allow,
    /// Sign the user in and keep these entries as [`Identity::app_data`] (for example the
    /// app's own user id), apart from the provider's claims. They travel in the session cookie,
    /// so keep them small.
    AllowWith(Map<String, Value>),
    /// Refuse: the user gets a 403 page with this message (shown as text, HTML-escaped).
    Refuse(String),
}

impl LoginDecision {
    /// [`LoginDecision::Refuse`] with `message`.
    pub fn refuse(message: impl Into<String>) -> Self {
        Self::Refuse(message.into())
    }
}

type HookFuture = Pin<Box<dyn Future<Output = LoginDecision> + Send>>;

/// The stored hook.
pub(crate) type HookFn = Arc<dyn Fn(LoginAttempt) -> HookFuture + Send + Sync>;
