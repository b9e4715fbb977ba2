//! One provider's settings as written, before validation: the [`ProviderDraft`] that every
//! reader fills, and [`ProviderBuilder`], the public builder around one.
//!
//! Where to add a per-provider setting: an optional field of [`ProviderDraft`]; the
//! compiler then points at [`ProviderDraft::inherit`] (say whether numbered providers inherit
//! it) and at `validate::provider` (validate it into a new [`ProviderConfig`] field, naming
//! `keys.key(SUFFIX)` in its problems). Then one line per reader: its suffix in
//! `env::VARIABLES` (read as `OIDC_PROVIDER_N_{SUFFIX}` and under the unnumbered name
//! `Keys::key` gives, mostly `OIDC_{SUFFIX}`; misspelt numbered variables are reported), its key in `file.rs` (the field in `FileProvider` and `FileConfig`, a line in
//! `FileProvider::fill` and in `FileConfig::take_defaults`; keys under `[claims]` or `[access]`
//! need only the shared table's field and the `fill` line), and a setter on [`ProviderBuilder`]
//! and on [`OidcConfigBuilder`] writing the field.
//!
//! [`ProviderConfig`]: super::ProviderConfig
//! [`OidcConfigBuilder`]: super::OidcConfigBuilder

use std::fmt;
use std::time::Duration;

use super::types::{TokenAuthMethod, UserinfoPolicy};
use crate::policy::RoleMap;

/// The default scopes, as in tududi and TimeTracker.
pub const DEFAULT_SCOPE: &str = "openid profile email";

/// One provider's settings, each unset until a reader sets it: the environment
/// (`OIDC_*` or `OIDC_PROVIDER_N_*`), the config file (the top level or a `[[providers]]`
/// entry), or the builders. A later write of a value wins over an earlier one (the `add_*`
/// setters append to a list). Raw values: only
/// `validate` decides what is wrong with them, so that every problem is reported at once.
///
/// The unnumbered settings are one draft too, the defaults: it is the provider itself when no
/// numbered provider is configured ([`single`](Self::single)), and otherwise what each
/// numbered draft falls back to ([`inherit`](Self::inherit)).
///
/// No `Debug`: it may hold a secret.
#[derive(Clone, Default)]
pub(crate) struct ProviderDraft {
    /// `NAME`: shown on the chooser page.
    pub(crate) name: Option<String>,
    /// `SLUG`: the provider's routes and its name in logs.
    pub(crate) slug: Option<String>,
    /// `ISSUER` (`OIDC_ISSUER_URL` unnumbered).
    pub(crate) issuer: Option<String>,
    /// `CLIENT_ID`.
    pub(crate) client_id: Option<String>,
    /// `CLIENT_SECRET`.
    pub(crate) client_secret: Option<String>,
    /// `SCOPE`, space-separated (default [`DEFAULT_SCOPE`]).
    pub(crate) scope: Option<String>,
    /// `USERNAME_CLAIM`.
    pub(crate) username_claim: Option<String>,
    /// `EMAIL_CLAIM`.
    pub(crate) email_claim: Option<String>,
    /// `GROUPS_CLAIM`, a name or a dotted path.
    pub(crate) groups_claim: Option<String>,
    /// `FULL_NAME_CLAIM`.
    pub(crate) full_name_claim: Option<String>,
    /// `ALLOWED_EMAIL_DOMAINS`.
    pub(crate) allowed_email_domains: Option<Vec<String>>,
    /// `ADMIN_GROUP`.
    pub(crate) admin_group: Option<String>,
    /// `ADMIN_EMAILS`.
    pub(crate) admin_emails: Option<Vec<String>>,
    /// `ADMIN_EMAIL_DOMAINS`.
    pub(crate) admin_email_domains: Option<Vec<String>>,
    /// `TOKEN_ENDPOINT_AUTH_METHOD`; `Err` holds a value that is not a method, for `validate`
    /// to report.
    pub(crate) token_auth: Option<Result<TokenAuthMethod, String>>,
    /// `AUTO_PROVISION`; `Err` holds a value that is not a boolean.
    pub(crate) auto_provision: Option<Result<bool, String>>,
    /// `BACKCHANNEL_LOGOUT`; `Err` holds a value that is not a boolean.
    pub(crate) backchannel_logout: Option<Result<bool, String>>,
    /// Extra audiences the ID token may carry (builders only).
    pub(crate) trusted_audiences: Vec<String>,
    /// The role map (`[roles]`, `[[providers]] roles`, or the builders).
    pub(crate) role_map: Option<RoleMap>,
    /// When to call the userinfo endpoint (the builder only, for every provider).
    pub(crate) userinfo: Option<UserinfoPolicy>,
    /// `API_AUDIENCE`: the audience of this app's API, which turns bearer tokens on.
    pub(crate) api_audience: Option<String>,
    /// `API_REQUIRE_AT_JWT`; `Err` holds a value that is not a boolean.
    pub(crate) api_require_at_jwt: Option<Result<bool, String>>,
    /// `API_INTROSPECTION_CACHE`, in seconds; `Err` holds a value that is not a number.
    pub(crate) api_introspection_cache: Option<Result<u64, String>>,
    /// `RESOURCE`: the resource indicator (RFC 8707) the login asks its access token for.
    pub(crate) resource: Option<String>,
    /// `PROMPT`, sent as `prompt` at every login.
    pub(crate) prompt: Option<String>,
    /// `MAX_AGE` in seconds; `Err` holds why the value is not a number of seconds.
    pub(crate) max_age: Option<Result<u64, String>>,
    /// `ACR_VALUES`, space-separated.
    pub(crate) acr_values: Option<String>,
    /// `REQUIRE_ACR`; `Err` holds a value that is not a boolean.
    pub(crate) require_acr: Option<Result<bool, String>>,
    /// `UI_LOCALES`, space-separated.
    pub(crate) ui_locales: Option<String>,
    /// `RESPONSE_MODE` (`response_mode.rs`); `Err` holds a value that is not a mode.
    pub(crate) response_mode: Option<Result<super::ResponseMode, String>>,
    /// `CLIENT_ASSERTION_KEY_FILE`, `CLIENT_ASSERTION_ALG`, `CLIENT_ASSERTION_AUDIENCE`
    /// (`client_assertion.rs`).
    pub(crate) client_assertion_key_file: Option<String>,
    pub(crate) client_assertion_alg: Option<String>,
    pub(crate) client_assertion_audience: Option<String>,
    /// `REQUIRE_PAR` (`par.rs`); `Err` holds a value that is not a boolean.
    pub(crate) require_par: Option<Result<bool, String>>,
    /// `DPOP` (`dpop.rs`); `Err` holds a value that is not a boolean.
    pub(crate) dpop: Option<Result<bool, String>>,
}

impl ProviderDraft {
    /// The defaults draft as the only provider (no numbered ones): slug `default` and name
    /// `OpenID Connect` unless set.
    pub(crate) fn single(mut self) -> Self {
        self.slug.get_or_insert_with(|| "default".to_owned());
        self.name.get_or_insert_with(|| "OpenID Connect".to_owned());
        self
    }

    /// A numbered provider's draft completed from `defaults` (the unnumbered settings): what
    /// it leaves unset, it inherits. What identifies a client registration (name, slug,
    /// issuer, client id and secret) and the trusted audiences are never inherited; a set
    /// unnumbered issuer, client id or secret is a problem beside numbered providers
    /// (`validate`), and an unnumbered name or slug is ignored then.
    pub(crate) fn inherit(mut self, defaults: &ProviderDraft) -> Self {
        fn or<T: Clone>(own: &mut Option<T>, default: &Option<T>) {
            if own.is_none() {
                own.clone_from(default);
            }
        }
        // Named field by field, so that a new field cannot be forgotten here.
        let ProviderDraft {
            name: _,
            slug: _,
            issuer: _,
            client_id: _,
            client_secret: _,
            trusted_audiences: _,
            scope,
            username_claim,
            email_claim,
            groups_claim,
            full_name_claim,
            allowed_email_domains,
            admin_group,
            admin_emails,
            admin_email_domains,
            token_auth,
            auto_provision,
            backchannel_logout,
            role_map,
            userinfo,
            api_audience,
            api_require_at_jwt,
            api_introspection_cache,
            resource,
            prompt,
            max_age,
            acr_values,
            require_acr,
            ui_locales,
            response_mode,
            client_assertion_key_file,
            client_assertion_alg,
            client_assertion_audience,
            require_par,
            dpop,
        } = defaults;
        or(&mut self.scope, scope);
        or(&mut self.username_claim, username_claim);
        or(&mut self.email_claim, email_claim);
        or(&mut self.groups_claim, groups_claim);
        or(&mut self.full_name_claim, full_name_claim);
        or(&mut self.allowed_email_domains, allowed_email_domains);
        or(&mut self.admin_group, admin_group);
        or(&mut self.admin_emails, admin_emails);
        or(&mut self.admin_email_domains, admin_email_domains);
        or(&mut self.token_auth, token_auth);
        or(&mut self.auto_provision, auto_provision);
        or(&mut self.backchannel_logout, backchannel_logout);
        or(&mut self.role_map, role_map);
        or(&mut self.userinfo, userinfo);
        or(&mut self.api_audience, api_audience);
        or(&mut self.api_require_at_jwt, api_require_at_jwt);
        or(&mut self.api_introspection_cache, api_introspection_cache);
        or(&mut self.resource, resource);
        or(&mut self.prompt, prompt);
        or(&mut self.max_age, max_age);
        or(&mut self.acr_values, acr_values);
        or(&mut self.require_acr, require_acr);
        or(&mut self.ui_locales, ui_locales);
        or(&mut self.response_mode, response_mode);
        or(
            &mut self.client_assertion_key_file,
            client_assertion_key_file,
        );
        or(&mut self.client_assertion_alg, client_assertion_alg);
        or(
            &mut self.client_assertion_audience,
            client_assertion_audience,
        );
        or(&mut self.require_par, require_par);
        or(&mut self.dpop, dpop);
        self
    }
}

/// One identity provider and this application's client registration at it, for configurations
/// with several providers (the numbered `OIDC_PROVIDER_N_*` variables, or `[[providers]]` in
/// the config file). Settings left unset fall back to the global ones (`OIDC_SCOPE`, the claim
/// names, the access rules, `OIDC_TOKEN_ENDPOINT_AUTH_METHOD`, `OIDC_AUTO_PROVISION`).
///
/// ```
/// use tower_oidc::{OidcConfig, ProviderBuilder};
/// # /// Stands for the app's secret store: a key made by `openssl rand -base64 32`.
/// # fn read_secret(_name: &str) -> String {
/// #     use base64::Engine as _;
/// #     let mut key = [0u8; 32];
/// #     aws_lc_rs::rand::fill(&mut key).unwrap();
/// #     base64::engine::general_purpose::STANDARD.encode(key)
/// # }
///
/// let config = OidcConfig::builder()
///     .with_base_url("https://app.example.com")
///     .with_cookie_key(read_secret("oidc-cookie-key"))
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
    pub(crate) draft: ProviderDraft,
}

impl fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.draft;
        f.debug_struct("ProviderBuilder")
            .field("slug", &d.slug)
            .field("issuer", &d.issuer)
            .field("client_id", &d.client_id)
            .field(
                "client_secret",
                &d.client_secret.as_ref().map(|_| "[redacted]"),
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
        let mut builder = Self::default();
        builder.draft.slug = Some(slug.into());
        builder
    }

    /// The name shown on the chooser page (`OIDC_PROVIDER_N_NAME`, default: the slug).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.draft.name = Some(name.into());
        self
    }

    /// The issuer (`OIDC_PROVIDER_N_ISSUER`); discovery must report exactly this.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.draft.issuer = Some(issuer.into());
        self
    }

    /// The client id registered at this provider (`OIDC_PROVIDER_N_CLIENT_ID`).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.draft.client_id = Some(client_id.into());
        self
    }

    /// The client secret (`OIDC_PROVIDER_N_CLIENT_SECRET`); without one the client is public.
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.draft.client_secret = Some(secret.into());
        self
    }

    /// Space-separated scopes (`OIDC_PROVIDER_N_SCOPE`, default `OIDC_SCOPE`).
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.draft.scope = Some(scope.into());
        self
    }

    /// The username claim (`OIDC_PROVIDER_N_USERNAME_CLAIM`).
    pub fn with_username_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.username_claim = Some(claim.into());
        self
    }

    /// The email claim (`OIDC_PROVIDER_N_EMAIL_CLAIM`).
    pub fn with_email_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.email_claim = Some(claim.into());
        self
    }

    /// The groups claim, a name or dotted path (`OIDC_PROVIDER_N_GROUPS_CLAIM`).
    pub fn with_groups_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.groups_claim = Some(claim.into());
        self
    }

    /// The display name claim (`OIDC_PROVIDER_N_FULL_NAME_CLAIM`).
    pub fn with_full_name_claim(mut self, claim: impl Into<String>) -> Self {
        self.draft.full_name_claim = Some(claim.into());
        self
    }

    /// Admits only verified emails in this domain (`OIDC_PROVIDER_N_ALLOWED_EMAIL_DOMAINS`);
    /// see [`OidcConfigBuilder::add_allowed_email_domain`](crate::OidcConfigBuilder::add_allowed_email_domain).
    pub fn add_allowed_email_domain(mut self, domain: impl Into<String>) -> Self {
        push(&mut self.draft.allowed_email_domains, domain.into());
        self
    }

    /// Members of this group are administrators (`OIDC_PROVIDER_N_ADMIN_GROUP`).
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.draft.admin_group = Some(group.into());
        self
    }

    /// A verified email that makes an administrator (`OIDC_PROVIDER_N_ADMIN_EMAILS`).
    pub fn add_admin_email(mut self, email: impl Into<String>) -> Self {
        push(&mut self.draft.admin_emails, email.into());
        self
    }

    /// A domain whose verified emails are administrators (`OIDC_PROVIDER_N_ADMIN_EMAIL_DOMAINS`).
    pub fn add_admin_email_domain(mut self, domain: impl Into<String>) -> Self {
        push(&mut self.draft.admin_email_domains, domain.into());
        self
    }

    /// How to authenticate at this provider's token endpoint
    /// (`OIDC_PROVIDER_N_TOKEN_ENDPOINT_AUTH_METHOD`).
    pub fn with_token_auth_method(mut self, method: TokenAuthMethod) -> Self {
        self.draft.token_auth = Some(Ok(method));
        self
    }

    /// Whether users unknown to the login hook may enter (`OIDC_PROVIDER_N_AUTO_PROVISION`);
    /// see [`OidcConfigBuilder::with_auto_provision`](crate::OidcConfigBuilder::with_auto_provision).
    pub fn with_auto_provision(mut self, yes: bool) -> Self {
        self.draft.auto_provision = Some(Ok(yes));
        self
    }

    /// Whether this provider may end sessions through OpenID Connect Back-Channel Logout 1.0
    /// (`OIDC_PROVIDER_N_BACKCHANNEL_LOGOUT`); see
    /// [`OidcConfigBuilder::with_backchannel_logout`](crate::OidcConfigBuilder::with_backchannel_logout).
    pub fn with_backchannel_logout(mut self, yes: bool) -> Self {
        self.draft.backchannel_logout = Some(Ok(yes));
        self
    }

    /// This provider's own role map, instead of the global one
    /// ([`OidcConfigBuilder::with_role_map`](crate::OidcConfigBuilder::with_role_map), `[roles]`).
    ///
    /// # Security
    /// A group name means something only at the issuer that sent it: when providers are run
    /// by different parties (your company's IdP and a partner's), give each its own map, or a
    /// group named `admins` at the partner's IdP gets your admins' role.
    pub fn with_role_map(mut self, roles: RoleMap) -> Self {
        self.draft.role_map = Some(roles);
        self
    }

    /// The `prompt` sent at every login with this provider (`OIDC_PROVIDER_N_PROMPT`): `none`,
    /// or space-separated among `login`, `consent`, `select_account`; see
    /// [`OidcConfigBuilder::with_prompt`](crate::OidcConfigBuilder::with_prompt).
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.draft.prompt = Some(prompt.into());
        self
    }

    /// The `max_age` sent at every login with this provider (`OIDC_PROVIDER_N_MAX_AGE`); see
    /// [`OidcConfigBuilder::with_max_age`](crate::OidcConfigBuilder::with_max_age).
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.draft.max_age = Some(Ok(max_age.as_secs()));
        self
    }

    /// The `acr_values` sent at every login with this provider (`OIDC_PROVIDER_N_ACR_VALUES`);
    /// see [`OidcConfigBuilder::with_acr_values`](crate::OidcConfigBuilder::with_acr_values).
    pub fn with_acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.draft.acr_values = Some(acr_values.into());
        self
    }

    /// Whether the ID token's `acr` must be one of the requested `acr_values`
    /// (`OIDC_PROVIDER_N_REQUIRE_ACR`); see
    /// [`OidcConfigBuilder::require_acr`](crate::OidcConfigBuilder::require_acr).
    pub fn require_acr(mut self, yes: bool) -> Self {
        self.draft.require_acr = Some(Ok(yes));
        self
    }

    /// The `ui_locales` sent at every login with this provider (`OIDC_PROVIDER_N_UI_LOCALES`).
    pub fn with_ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.draft.ui_locales = Some(locales.into());
        self
    }

    /// An extra audience the ID token may carry besides our client id.
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.draft.trusted_audiences.push(audience.into());
        self
    }

    /// The audience of this app's API at this provider (`OIDC_PROVIDER_N_API_AUDIENCE`): turns
    /// on bearer access tokens from this provider; see
    /// [`OidcConfigBuilder::with_api_audience`](crate::OidcConfigBuilder::with_api_audience).
    pub fn with_api_audience(mut self, audience: impl Into<String>) -> Self {
        self.draft.api_audience = Some(audience.into());
        self
    }

    /// Whether this provider's access tokens must be typed `at+jwt`
    /// (`OIDC_PROVIDER_N_API_REQUIRE_AT_JWT`, default `true`); see
    /// [`OidcConfigBuilder::require_at_jwt`](crate::OidcConfigBuilder::require_at_jwt).
    pub fn require_at_jwt(mut self, yes: bool) -> Self {
        self.draft.api_require_at_jwt = Some(Ok(yes));
        self
    }

    /// The longest time an introspected opaque access token of this provider is trusted
    /// without asking again (`OIDC_PROVIDER_N_API_INTROSPECTION_CACHE`, whole seconds); see
    /// [`OidcConfigBuilder::with_introspection_cache`](crate::OidcConfigBuilder::with_introspection_cache).
    pub fn with_introspection_cache(mut self, max: std::time::Duration) -> Self {
        self.draft.api_introspection_cache = Some(Ok(max.as_secs()));
        self
    }

    /// The resource indicator (RFC 8707) a login at this provider asks its access token for
    /// (`OIDC_PROVIDER_N_RESOURCE`); see
    /// [`OidcConfigBuilder::with_resource`](crate::OidcConfigBuilder::with_resource).
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.draft.resource = Some(resource.into());
        self
    }
}

/// Appends to a list setting, starting it if unset (`add_*` setters).
pub(crate) fn push(list: &mut Option<Vec<String>>, item: String) {
    list.get_or_insert_with(Vec::new).push(item);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(scope: &str, admin_group: &str) -> ProviderDraft {
        ProviderDraft {
            scope: Some(scope.into()),
            admin_group: Some(admin_group.into()),
            ..ProviderDraft::default()
        }
    }

    #[test]
    fn a_numbered_draft_inherits_what_it_leaves_unset() {
        let mut defaults = draft("openid groups", "admins");
        defaults.groups_claim = Some("roles".into());
        defaults.auto_provision = Some(Ok(false));
        defaults.allowed_email_domains = Some(vec!["example.com".into()]);
        let own = ProviderDraft {
            scope: Some("openid".into()),
            allowed_email_domains: Some(Vec::new()),
            ..ProviderDraft::default()
        }
        .inherit(&defaults);
        assert_eq!(own.scope.as_deref(), Some("openid"), "its own value wins");
        assert_eq!(
            own.allowed_email_domains,
            Some(Vec::new()),
            "an empty list set is set"
        );
        assert_eq!(own.admin_group.as_deref(), Some("admins"), "inherited");
        assert_eq!(own.groups_claim.as_deref(), Some("roles"), "inherited");
        assert_eq!(own.auto_provision, Some(Ok(false)), "inherited");
        assert_eq!(own.email_claim, None, "unset everywhere stays unset");
    }

    #[test]
    fn a_numbered_draft_never_inherits_the_client_registration() {
        let defaults = ProviderDraft {
            name: Some("Single".into()),
            slug: Some("single".into()),
            issuer: Some("https://id.example.com".into()),
            client_id: Some("app".into()),
            client_secret: Some("secret".into()),
            trusted_audiences: vec!["aud".into()],
            ..ProviderDraft::default()
        };
        let own = ProviderDraft::default().inherit(&defaults);
        assert_eq!(own.name, None);
        assert_eq!(own.slug, None);
        assert_eq!(own.issuer, None);
        assert_eq!(own.client_id, None);
        assert_eq!(own.client_secret, None);
        assert!(own.trusted_audiences.is_empty());
    }

    #[test]
    fn the_single_draft_has_a_default_slug_and_name() {
        let single = ProviderDraft::default().single();
        assert_eq!(single.slug.as_deref(), Some("default"));
        assert_eq!(single.name.as_deref(), Some("OpenID Connect"));
        let named = ProviderDraft {
            slug: Some("staff".into()),
            name: Some("Staff".into()),
            ..ProviderDraft::default()
        }
        .single();
        assert_eq!(named.slug.as_deref(), Some("staff"));
        assert_eq!(named.name.as_deref(), Some("Staff"));
    }

    #[test]
    fn provider_builder_fills_its_draft_and_redacts_the_secret() {
        let b = ProviderBuilder::new("staff")
            .with_client_secret("top-secret")
            .add_admin_email("a@example.com")
            .add_admin_email("b@example.com");
        assert_eq!(b.draft.slug.as_deref(), Some("staff"));
        assert_eq!(
            b.draft.admin_emails.as_deref(),
            Some(&["a@example.com".to_owned(), "b@example.com".to_owned()][..])
        );
        let dbg = format!("{b:?}");
        assert!(
            !dbg.contains("top-secret") && dbg.contains("[redacted]"),
            "{dbg}"
        );
    }
}
