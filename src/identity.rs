//! [`Identity`]: who the request belongs to. Plain data, no HTTP.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::policy::PgRole;
use crate::secret::AccessToken;

/// The signed-in user of a request, inserted into request extensions by the layer.
///
/// Users are keyed by `(issuer, subject)`, never by email alone: an email address can be
/// reassigned, and two providers may both vouch for the same address.
///
/// Cloning is cheap (one reference count).
#[derive(Clone)]
pub struct Identity(Arc<IdentityData>);

/// What a session cookie holds, in postcard (a compact binary serde format): decoding it is the
/// main cost of an authenticated request, and postcard decodes several times faster than JSON.
#[derive(Serialize, Deserialize)]
pub(crate) struct IdentityData {
    pub(crate) subject: String,
    pub(crate) issuer: String,
    pub(crate) provider: String,
    pub(crate) email: Option<String>,
    pub(crate) email_verified: bool,
    pub(crate) name: Option<String>,
    pub(crate) preferred_username: Option<String>,
    pub(crate) groups: Vec<String>,
    pub(crate) role: Option<PgRole>,
    pub(crate) admin: bool,
    /// The extra claims as JSON object text (empty when there are none), parsed on first use
    /// so that requests which never look at them do not pay for it.
    pub(crate) claims_json: String,
    /// What the app's login hook added (JSON object text, empty when nothing), kept apart from
    /// the provider's claims so that a provider can never pose as the app.
    pub(crate) app_json: String,
    pub(crate) authenticated_at: u64,
    pub(crate) expires_at: u64,
    pub(crate) session_id: String,
    /// The provider's session (the ID token's `sid`, OpenID Connect Back-Channel Logout 1.0
    /// section 2.1), by which a logout token may end this session.
    #[serde(default)]
    pub(crate) sid: Option<String>,
    /// When the session was last used, as its cookie records it (the cookie store with an idle
    /// timeout re-issues the cookie at most once a minute); 0 when never recorded, which counts
    /// from `authenticated_at`.
    #[serde(default)]
    pub(crate) seen_at: u64,
    #[serde(skip)]
    pub(crate) claims: OnceLock<Map<String, Value>>,
    /// What a bearer access token said beyond the user; `None` for a session (never in a
    /// cookie).
    #[serde(skip)]
    pub(crate) access: Option<Box<AccessGrant>>,
    /// The session's access token at the provider, for the app's calls on the user's behalf
    /// (server-side stores only; never in a cookie).
    #[serde(skip)]
    pub(crate) provider_token: Option<AccessToken>,
}

/// What a bearer access token grants, beyond the user it names.
#[derive(Debug, Clone, Default)]
pub(crate) struct AccessGrant {
    /// The token's `scope` claim, split on spaces (RFC 9068 section 2.2.3, RFC 8693 4.2).
    pub(crate) scopes: Vec<String>,
    /// The client the token was issued to (`client_id`, else `azp`).
    pub(crate) client_id: Option<String>,
    /// Whether the token was issued to the client itself, with no user (client credentials:
    /// its `sub` is the client's id).
    pub(crate) client_only: bool,
}

/// How a request proved who it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credential {
    /// A session cookie, from a login in the browser.
    Session,
    /// An `Authorization: Bearer` access token (RFC 6750).
    AccessToken,
}

impl Identity {
    pub(crate) fn from_data(data: IdentityData) -> Self {
        Self(Arc::new(data))
    }

    /// The session's data, as its cookie holds it.
    pub(crate) fn data(&self) -> &IdentityData {
        &self.0
    }

    pub(crate) fn clone_data(&self) -> IdentityData {
        self.0.duplicate()
    }

    /// The session's current access token at the provider, for calls on the user's behalf
    /// (see [`AccessToken`]); `None` with the cookie store, for a bearer token's identity, or
    /// when the provider issued none.
    pub fn access_token(&self) -> Option<&AccessToken> {
        self.0.provider_token.as_ref()
    }

    /// The `sub` claim: the provider's stable identifier for the user.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// The issuer that vouched for the user (the ID token's `iss`).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The slug of the provider the user signed in with.
    pub fn provider(&self) -> &str {
        &self.0.provider
    }

    /// The email claim, if the provider sent one. Check [`email_verified`](Self::email_verified)
    /// before letting it decide anything.
    pub fn email(&self) -> Option<&str> {
        self.0.email.as_deref()
    }

    /// Whether the provider says it verified the email (`email_verified`); `false` when absent.
    pub fn email_verified(&self) -> bool {
        self.0.email_verified
    }

    /// The display name claim (`name` unless configured otherwise).
    pub fn name(&self) -> Option<&str> {
        self.0.name.as_deref()
    }

    /// The username claim (`preferred_username` unless configured otherwise).
    pub fn preferred_username(&self) -> Option<&str> {
        self.0.preferred_username.as_deref()
    }

    /// The groups claim, as sent by the provider at this login.
    pub fn groups(&self) -> &[String] {
        &self.0.groups
    }

    /// The one PostgreSQL role this user acts as, from the role map at this login; `None` when
    /// no role map is configured. Run queries as it with `SET LOCAL ROLE` (see
    /// [`PgRole::set_local_role`] and the [`pg`](crate::pg) helpers).
    pub fn role(&self) -> Option<&PgRole> {
        self.0.role.as_ref()
    }

    /// Whether the user is an administrator: a member of `OIDC_ADMIN_GROUP`, or with a
    /// verified email in `OIDC_ADMIN_EMAILS` or `OIDC_ADMIN_EMAIL_DOMAINS`.
    pub fn is_admin(&self) -> bool {
        self.0.admin
    }

    /// The other claims of the ID token and userinfo, without the ones above and without
    /// protocol claims (`aud`, `exp`, `iat`, `nonce`, ...). May be trimmed if the session cookie
    /// would otherwise grow past its size limit.
    pub fn claims(&self) -> &Map<String, Value> {
        self.0.claims.get_or_init(|| {
            if self.0.claims_json.is_empty() {
                Map::new()
            } else {
                // Written by us from a `Map` and authenticated by the cookie's AEAD tag.
                serde_json::from_str(&self.0.claims_json).unwrap_or_default()
            }
        })
    }

    /// What the app's login hook added with [`LoginDecision::AllowWith`] (for example the app's
    /// own user id). Separate from [`claims`](Self::claims): nothing the provider sends can
    /// appear here. Parsed on each call; empty when the hook added nothing.
    ///
    /// [`LoginDecision::AllowWith`]: crate::LoginDecision::AllowWith
    pub fn app_data(&self) -> Map<String, Value> {
        if self.0.app_json.is_empty() {
            Map::new()
        } else {
            // Written by us from a `Map` and authenticated by the cookie's AEAD tag.
            serde_json::from_str(&self.0.app_json).unwrap_or_default()
        }
    }

    /// When the user signed in, in seconds since the Unix epoch.
    pub fn authenticated_at(&self) -> u64 {
        self.0.authenticated_at
    }

    /// When the session ends, in seconds since the Unix epoch.
    pub fn expires_at(&self) -> u64 {
        self.0.expires_at
    }

    /// A random identifier of this session, new at every login. For a bearer token, an
    /// identifier derived from the token (the same for every request with it).
    pub fn session_id(&self) -> &str {
        &self.0.session_id
    }

    /// Whether the request came with a session cookie or a bearer access token.
    pub fn credential(&self) -> Credential {
        match self.0.access {
            None => Credential::Session,
            Some(_) => Credential::AccessToken,
        }
    }

    /// The scopes of the bearer access token (its `scope` claim); empty for a session. See
    /// [`require_scope`](Self::require_scope) and [`Scoped`](crate::Scoped).
    pub fn scopes(&self) -> &[String] {
        self.0.access.as_ref().map_or(&[], |a| &a.scopes)
    }

    /// The client the bearer access token was issued to (`client_id`, else `azp`); `None`
    /// for a session or a token that names none.
    pub fn client_id(&self) -> Option<&str> {
        self.0.access.as_ref()?.client_id.as_deref()
    }

    /// Whether this is a client acting for itself, with no user: a bearer token from the
    /// client credentials grant (its `sub` is the client's id). Its subject is then the
    /// client, not a person.
    pub fn is_client(&self) -> bool {
        self.0.access.as_ref().is_some_and(|a| a.client_only)
    }
}

impl IdentityData {
    /// A copy (the parsed claims are parsed again on first use).
    pub(crate) fn duplicate(&self) -> Self {
        let d = self;
        Self {
            subject: d.subject.clone(),
            issuer: d.issuer.clone(),
            provider: d.provider.clone(),
            email: d.email.clone(),
            email_verified: d.email_verified,
            name: d.name.clone(),
            preferred_username: d.preferred_username.clone(),
            groups: d.groups.clone(),
            role: d.role.clone(),
            admin: d.admin,
            claims_json: d.claims_json.clone(),
            app_json: d.app_json.clone(),
            authenticated_at: d.authenticated_at,
            expires_at: d.expires_at,
            session_id: d.session_id.clone(),
            sid: d.sid.clone(),
            seen_at: d.seen_at,
            claims: OnceLock::new(),
            access: d.access.clone(),
            provider_token: d.provider_token.clone(),
        }
    }
}

#[cfg(test)]
impl IdentityData {
    /// A signed-in user with `groups` groups, for the session module's tests.
    pub(crate) fn sample(groups: usize) -> Self {
        Self {
            subject: "248289761001".into(),
            issuer: "https://id.example.com".into(),
            provider: "default".into(),
            email: Some("jane@example.com".into()),
            email_verified: true,
            name: Some("Jane Doe".into()),
            preferred_username: Some("jane".into()),
            groups: (0..groups)
                .map(|i| format!("department-{}-team-{}", i % 17, i))
                .collect(),
            role: Some(crate::policy::PgRole::new("app_reader").unwrap()),
            admin: true,
            claims_json: String::new(),
            app_json: String::new(),
            authenticated_at: 1_000,
            expires_at: 2_000,
            session_id: crate::random::random_token(16),
            sid: None,
            seen_at: 0,
            claims: Default::default(),
            access: None,
            provider_token: None,
        }
    }
}

#[cfg(feature = "test-util")]
impl Identity {
    /// Starts an identity for tests (feature `test-util`); pair it with
    /// [`OidcLayer::session_cookie`](crate::OidcLayer::session_cookie) to call protected routes
    /// without an identity provider.
    pub fn builder(issuer: impl Into<String>, subject: impl Into<String>) -> IdentityBuilder {
        IdentityBuilder(IdentityData {
            subject: subject.into(),
            issuer: issuer.into(),
            provider: "default".into(),
            email: None,
            email_verified: false,
            name: None,
            preferred_username: None,
            groups: Vec::new(),
            role: None,
            admin: false,
            claims_json: String::new(),
            app_json: String::new(),
            authenticated_at: 0,
            expires_at: 0,
            session_id: String::new(),
            sid: None,
            seen_at: 0,
            claims: OnceLock::new(),
            access: None,
            provider_token: None,
        })
    }
}

/// Builds an [`Identity`] for tests (feature `test-util`).
#[cfg(feature = "test-util")]
#[derive(Debug)]
#[must_use]
pub struct IdentityBuilder(IdentityData);

#[cfg(feature = "test-util")]
impl IdentityBuilder {
    /// The provider slug (default `default`).
    pub fn provider(mut self, slug: impl Into<String>) -> Self {
        self.0.provider = slug.into();
        self
    }

    /// The email and whether it is verified.
    pub fn email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.0.email = Some(email.into());
        self.0.email_verified = verified;
        self
    }

    /// The display name.
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.0.name = Some(name.into());
        self
    }

    /// The username.
    pub fn preferred_username(mut self, username: impl Into<String>) -> Self {
        self.0.preferred_username = Some(username.into());
        self
    }

    /// The groups.
    pub fn groups<I: IntoIterator<Item = S>, S: Into<String>>(mut self, groups: I) -> Self {
        self.0.groups = groups.into_iter().map(Into::into).collect();
        self
    }

    /// The PostgreSQL role.
    pub fn role(mut self, role: PgRole) -> Self {
        self.0.role = Some(role);
        self
    }

    /// The admin flag.
    pub fn admin(mut self, admin: bool) -> Self {
        self.0.admin = admin;
        self
    }

    /// Finishes the identity.
    pub fn build(self) -> Identity {
        Identity::from_data(self.0)
    }
}

impl fmt::Debug for IdentityData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityData")
            .field("subject", &self.subject)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("subject", &self.0.subject)
            .field("issuer", &self.0.issuer)
            .field("provider", &self.0.provider)
            .field("email", &self.0.email)
            .field("email_verified", &self.0.email_verified)
            .field("name", &self.0.name)
            .field("groups", &self.0.groups.len())
            .field("role", &self.0.role)
            .field("admin", &self.0.admin)
            .finish_non_exhaustive()
    }
}
