//! [`ProviderBuilder`]: one identity provider of several (`OIDC_PROVIDER_N_*`).

use std::fmt;

use super::TokenAuthMethod;

/// One identity provider and this application's client registration at it, for configurations
/// with several providers (the numbered `OIDC_PROVIDER_N_*` variables, or `[[providers]]` in
/// the config file). Settings left unset fall back to the global ones (`OIDC_SCOPE`, the claim
/// names, the access rules, `OIDC_TOKEN_ENDPOINT_AUTH_METHOD`, `OIDC_AUTO_PROVISION`).
///
/// ```
/// use tower_oidc::{OidcConfig, ProviderBuilder};
///
/// let config = OidcConfig::builder()
///     .with_base_url("https://app.example.com")
///     .add_provider(
///         ProviderBuilder::new("staff")
///             .with_name("Staff (Entra ID)")
///             .with_issuer("https://login.microsoftonline.com/00000000-0000-0000-0000-000000000000/v2.0")
///             .with_client_id("app")
///             .with_client_secret("secret"),
///     )
///     .add_provider(
///         ProviderBuilder::new("contractors")
///             .with_issuer("https://kc.example.com/realms/contractors")
///             .with_client_id("app")
///             .with_client_secret("secret")
///             .add_allowed_email_domain("partner.example"),
///     )
///     .build()?;
/// assert_eq!(config.providers().count(), 2);
/// assert_eq!(
///     config.provider("contractors").unwrap().redirect_uri(),
///     "https://app.example.com/auth/callback/contractors"
/// );
/// # Ok::<(), tower_oidc::ConfigError>(())
/// ```
#[derive(Clone, Default)]
#[must_use]
pub struct ProviderBuilder {
    pub(crate) slug: Option<String>,
    pub(crate) name: Option<String>,
    pub(crate) issuer: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) username_claim: Option<String>,
    pub(crate) email_claim: Option<String>,
    pub(crate) groups_claim: Option<String>,
    pub(crate) full_name_claim: Option<String>,
    pub(crate) allowed_email_domains: Option<Vec<String>>,
    pub(crate) admin_group: Option<String>,
    pub(crate) admin_emails: Option<Vec<String>>,
    pub(crate) admin_email_domains: Option<Vec<String>>,
    pub(crate) token_auth: Option<Result<TokenAuthMethod, String>>,
    pub(crate) auto_provision: Option<Result<bool, String>>,
    pub(crate) trusted_audiences: Vec<String>,
    pub(crate) role_map: Option<crate::policy::RoleMap>,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("slug", &self.slug)
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field(
                "client_secret",
                &self.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl ProviderBuilder {
    /// A provider with this slug (`OIDC_PROVIDER_N_SLUG`): the short name in its routes
    /// (`/auth/login/{slug}`, `/auth/callback/{slug}`) and in [`Identity::provider`].
    ///
    /// [`Identity::provider`]: crate::Identity::provider
    pub fn new(slug: impl Into<String>) -> Self {
        Self {
            slug: Some(slug.into()),
            ..Self::default()
        }
    }

    /// The name shown on the chooser page (`OIDC_PROVIDER_N_NAME`, default: the slug).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The issuer (`OIDC_PROVIDER_N_ISSUER`); discovery must report exactly this.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// The client id registered at this provider (`OIDC_PROVIDER_N_CLIENT_ID`).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.client_id = Some(client_id.into());
        self
    }

    /// The client secret (`OIDC_PROVIDER_N_CLIENT_SECRET`); without one the client is public.
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = Some(secret.into());
        self
    }

    /// Space-separated scopes (`OIDC_PROVIDER_N_SCOPE`, default `OIDC_SCOPE`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.scope = Some(scope.into());
        self
    }

    /// The username claim (`OIDC_PROVIDER_N_USERNAME_CLAIM`).
    pub fn with_username_claim(mut self, claim: impl Into<String>) -> Self {
        self.username_claim = Some(claim.into());
        self
    }

    /// The email claim (`OIDC_PROVIDER_N_EMAIL_CLAIM`).
    pub fn with_email_claim(mut self, claim: impl Into<String>) -> Self {
        self.email_claim = Some(claim.into());
        self
    }

    /// The groups claim, a name or dotted path (`OIDC_PROVIDER_N_GROUPS_CLAIM`).
    pub fn with_groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.groups_claim = Some(claim.into());
        self
    }

    /// The display name claim (`OIDC_PROVIDER_N_FULL_NAME_CLAIM`).
    pub fn with_full_name_claim(mut self, claim: impl Into<String>) -> Self {
        self.full_name_claim = Some(claim.into());
        self
    }

    /// Admits only verified emails in this domain (`OIDC_PROVIDER_N_ALLOWED_EMAIL_DOMAINS`);
    /// see [`OidcConfigBuilder::add_allowed_email_domain`](crate::OidcConfigBuilder::add_allowed_email_domain).
    pub fn add_allowed_email_domain(mut self, domain: impl Into<String>) -> Self {
        self.allowed_email_domains
            .get_or_insert_with(Vec::new)
            .push(domain.into());
        self
    }

    /// Members of this group are administrators (`OIDC_PROVIDER_N_ADMIN_GROUP`).
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.admin_group = Some(group.into());
        self
    }

    /// A verified email that makes an administrator (`OIDC_PROVIDER_N_ADMIN_EMAILS`).
    pub fn add_admin_email(mut self, email: impl Into<String>) -> Self {
        self.admin_emails
            .get_or_insert_with(Vec::new)
            .push(email.into());
        self
    }

    /// A domain whose verified emails are administrators (`OIDC_PROVIDER_N_ADMIN_EMAIL_DOMAINS`).
    pub fn add_admin_email_domain(mut self, domain: impl Into<String>) -> Self {
        self.admin_email_domains
            .get_or_insert_with(Vec::new)
            .push(domain.into());
        self
    }

    /// How to authenticate at this provider's token endpoint
    /// (`OIDC_PROVIDER_N_TOKEN_ENDPOINT_AUTH_METHOD`).
    pub fn with_token_auth_method(mut self, method: TokenAuthMethod) -> Self {
        self.token_auth = Some(Ok(method));
        self
    }

    /// Whether users unknown to the login hook may enter (`OIDC_PROVIDER_N_AUTO_PROVISION`);
    /// see [`OidcConfigBuilder::with_auto_provision`](crate::OidcConfigBuilder::with_auto_provision).
    pub fn with_auto_provision(mut self, yes: bool) -> Self {
        self.auto_provision = Some(Ok(yes));
        self
    }

    /// This provider's own role map, instead of the global one
    /// ([`OidcConfigBuilder::with_role_map`](crate::OidcConfigBuilder::with_role_map), `[roles]`).
    ///
    /// # Security
    /// A group name means something only at the issuer that sent it: when providers are run
    /// by different parties (your company's IdP and a partner's), give each its own map, or a
    /// group named `admins` at the partner's IdP gets your admins' role.
    pub fn with_role_map(mut self, roles: crate::policy::RoleMap) -> Self {
        self.role_map = Some(roles);
        self
    }

    /// An extra audience the ID token may carry besides our client id.
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }
}

/// How a provider's settings are named in messages: the single-provider variables, or the
/// numbered ones.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keys {
    Single,
    Numbered(usize),
}

impl Keys {
    /// The variable for `suffix` (`ISSUER`, `CLIENT_ID`, `NAME`, ...).
    pub(crate) fn key(self, suffix: &str) -> String {
        match self {
            Keys::Numbered(n) => format!("OIDC_PROVIDER_{n}_{suffix}"),
            Keys::Single => match suffix {
                "ISSUER" => "OIDC_ISSUER_URL".into(),
                "NAME" => "OIDC_PROVIDER_NAME".into(),
                "SLUG" => "OIDC_PROVIDER_SLUG".into(),
                other => format!("OIDC_{other}"),
            },
        }
    }
}

/// The per-provider variable suffixes, for reading and for spotting misspelt ones.
pub(crate) const SUFFIXES: &[&str] = &[
    "NAME",
    "SLUG",
    "ISSUER",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "SCOPE",
    "USERNAME_CLAIM",
    "EMAIL_CLAIM",
    "GROUPS_CLAIM",
    "FULL_NAME_CLAIM",
    "ALLOWED_EMAIL_DOMAINS",
    "ADMIN_GROUP",
    "ADMIN_EMAILS",
    "ADMIN_EMAIL_DOMAINS",
    "TOKEN_ENDPOINT_AUTH_METHOD",
    "AUTO_PROVISION",
];

/// The most numbered providers read from variables.
pub(crate) const MAX_NUMBERED: usize = 64;
