//! The configuration's vocabulary: protocol values parsed once into types that cannot be
//! invalid ([`IssuerUrl`], [`ClientId`], [`ClientSecret`], [`ProviderSlug`]; the cookie key
//! has its own file, `cookie_key.rs`), and the setting enums ([`UserinfoPolicy`], [`TokenAuthMethod`], [`AuthMethod`],
//! [`ClaimNames`]).

use std::fmt;

use url::Url;

/// An issuer identifier: an absolute `https` URL (or `http` on a loopback host), kept exactly as
/// configured because OpenID Connect compares it byte for byte (Discovery 1.0 section 4.3).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IssuerUrl(String);

impl IssuerUrl {
    /// The issuer exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The discovery document's URL: the issuer without a trailing `/`, then
    /// `/.well-known/openid-configuration` (Discovery 1.0 section 4).
    pub fn discovery_url(&self) -> String {
        format!(
            "{}/.well-known/openid-configuration",
            self.0.trim_end_matches('/')
        )
    }

    pub(super) fn parse(raw: &str, allow_http: bool) -> Result<Self, String> {
        let url = Url::parse(raw).map_err(|e| format!("not an absolute URL ({e})"))?;
        if url.query().is_some() || url.fragment().is_some() {
            return Err("an issuer has no query or fragment".into());
        }
        if url.host_str().is_none() {
            return Err("the URL has no host".into());
        }
        match url.scheme() {
            "https" => {}
            "http" if allow_http || is_loopback(&url) => {}
            "http" => {
                return Err(
                    "must use https (http is accepted only for 127.0.0.1, ::1 and localhost)"
                        .into(),
                )
            }
            other => return Err(format!("unsupported scheme `{other}`, use https")),
        }
        Ok(Self(raw.to_owned()))
    }
}

impl fmt::Debug for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("IssuerUrl").field(&self.0).finish()
    }
}

impl fmt::Display for IssuerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// An OAuth 2.0 client identifier.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(pub(super) String);

impl ClientId {
    /// The identifier.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientId").field(&self.0).finish()
    }
}

/// An OAuth 2.0 client secret. Prints `[redacted]`; deliberately not `PartialEq`.
#[derive(Clone)]
pub struct ClientSecret(pub(super) String);

impl ClientSecret {
    /// The secret itself, for sending to the token endpoint.
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientSecret([redacted])")
    }
}

/// A short machine name for a provider, used in logs, routes and [`Identity::provider`].
///
/// Lowercase ASCII letters, digits, `-` and `_`; 1 to 32 characters.
///
/// [`Identity::provider`]: crate::Identity::provider
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProviderSlug(String);

impl ProviderSlug {
    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        let ok = (1..=32).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err("use 1 to 32 characters from a-z, 0-9, `-` and `_`".into())
        }
    }
}

impl fmt::Debug for ProviderSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ProviderSlug").field(&self.0).finish()
    }
}

/// When to call the userinfo endpoint after the code exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum UserinfoPolicy {
    /// Only when the ID token lacks a claim the identity needs (email, name, username or groups)
    /// and the provider has a userinfo endpoint.
    #[default]
    WhenClaimsMissing,
    /// At every login.
    Always,
    /// Never; the ID token alone describes the user.
    Never,
}

/// How the client authenticates at the token endpoint (OpenID Connect Core 9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TokenAuthMethod {
    /// `client_secret_basic` when the provider lists it (or lists nothing), else
    /// `client_secret_post`; `none` for a client without a secret.
    #[default]
    Auto,
    /// HTTP Basic with the form-encoded client id and secret (RFC 6749 2.3.1).
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
    /// A JWT signed with the client's own private key (RFC 7523 section 2.2, OpenID Connect
    /// Core 1.0 section 9): no shared secret; see
    /// [`OidcConfigBuilder::with_client_assertion_key_file`](crate::OidcConfigBuilder::with_client_assertion_key_file).
    /// `Auto` becomes this when a key file is configured.
    PrivateKeyJwt,
    /// A JWT signed (HS256) with the client secret (OpenID Connect Core 1.0 section 9): the
    /// secret itself never travels.
    ClientSecretJwt,
}

impl TokenAuthMethod {
    pub(super) fn parse(raw: &str) -> Option<Self> {
        match raw.trim() {
            "auto" => Some(Self::Auto),
            "client_secret_basic" => Some(Self::ClientSecretBasic),
            "client_secret_post" => Some(Self::ClientSecretPost),
            "private_key_jwt" => Some(Self::PrivateKeyJwt),
            "client_secret_jwt" => Some(Self::ClientSecretJwt),
            _ => None,
        }
    }
}

/// Which claims hold the user's name, email, username and groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimNames {
    /// The username claim (`OIDC_USERNAME_CLAIM`, default `preferred_username`).
    pub username: String,
    /// The email claim (`OIDC_EMAIL_CLAIM`, default `email`).
    pub email: String,
    /// The groups claim (`OIDC_GROUPS_CLAIM`, default `groups`).
    pub groups: String,
    /// The display name claim (`OIDC_FULL_NAME_CLAIM`, default `name`).
    pub full_name: String,
}

impl Default for ClaimNames {
    fn default() -> Self {
        Self {
            username: "preferred_username".into(),
            email: "email".into(),
            groups: "groups".into(),
            full_name: "name".into(),
        }
    }
}

/// Which sign-ins the layer accepts (`AUTH_METHOD`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthMethod {
    /// `oidc`: every protected request needs an SSO session.
    #[default]
    Oidc,
    /// `both`: a request the app's own login recognises (see
    /// [`OidcConfigBuilder::with_local_session`](crate::OidcConfigBuilder::with_local_session)) passes too; everyone else is offered SSO.
    Both,
}

impl AuthMethod {
    pub(super) fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "oidc" => Ok(Self::Oidc),
            "both" => Ok(Self::Both),
            _ => Err(raw.trim().to_owned()),
        }
    }
}
