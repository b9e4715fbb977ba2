//! [`OidcConfigBuilder`]: every setting as written, in the defaults draft (the single
//! provider, or what numbered providers inherit), one draft per added provider, and the
//! application-wide settings; [`build`](OidcConfigBuilder::build) validates them.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::draft::{push, ProviderDraft, DEFAULT_SCOPE};
use super::types::{AuthMethod, ClaimNames, TokenAuthMethod, UserinfoPolicy};
use super::{file, validate, LocalSession, OidcConfig, ProviderBuilder};
use crate::audit::{AuditSink, Sink};
use crate::clock::{Clock, SystemClock};
use crate::error::{ConfigError, ConfigProblem};
use crate::hook::{HookFn, LoginAttempt, LoginDecision};
use crate::page_hook::{LayerPage, PageHook};
use crate::policy::RoleMap;

/// Builds an [`OidcConfig`]. Every setter takes raw values; [`build`](Self::build) validates
/// them all and reports every problem at once.
#[derive(Clone)]
#[must_use]
pub struct OidcConfigBuilder {
    /// The unnumbered per-provider settings (`with_issuer`, `with_admin_group`, `OIDC_*`,
    /// the file's top level): the provider itself, or the defaults of numbered ones.
    pub(super) defaults: ProviderDraft,
    /// The numbered providers (`add_provider`, `OIDC_PROVIDER_N_*`, `[[providers]]`).
    pub(super) providers: Vec<ProviderDraft>,
    /// Problems found while reading the config file and the variables, reported by `build`.
    pub(super) problems: Vec<ConfigProblem>,
    pub(super) base_url: Option<String>,
    /// `OIDC_REDIRECT_URI`: BASE_URL and the callback path in one.
    pub(super) redirect_uri: Option<String>,
    pub(super) callback_path: String,
    pub(super) login_path: String,
    pub(super) logout_path: String,
    pub(super) providers_path: String,
    pub(super) backchannel_logout_path: String,
    pub(super) public_paths: Vec<String>,
    pub(super) cookie_key: Option<String>,
    /// `OIDC_COOKIE_KEYS_OLD`: earlier keys that still open cookies, in order.
    pub(super) old_cookie_keys: Vec<String>,
    pub(super) allow_random_cookie_key: bool,
    pub(super) leeway: Duration,
    pub(super) session_lifetime: Duration,
    pub(super) post_logout_redirect_uri: Option<String>,
    pub(super) jwks_refetch_cooldown: Duration,
    pub(super) http_timeout: Duration,
    pub(super) extra_root_pems: Vec<Vec<u8>>,
    pub(super) https_proxy: Option<String>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) insecure_http_issuer: bool,
    pub(super) auth_method: Result<AuthMethod, String>,
    pub(super) local_session: Option<LocalSession>,
    pub(super) local_login_url: Option<String>,
    pub(super) require_session: bool,
    pub(super) login_hook: Option<HookFn>,
    pub(super) page_hook: Option<PageHook>,
    pub(super) memory_capacity: usize,
    pub(super) api_paths: Vec<String>,
    pub(super) bearer_only: bool,
    /// Trusted proxies and the login rate limit (`client_network.rs`).
    pub(super) client_network: super::client_network::ClientNetworkDraft,
    /// The session store, its staleness and the idle timeout (`session_store.rs`).
    pub(super) session_store: super::session_store::SessionStoreDraft,
    /// Refresh tokens, their margin and grace (`refresh.rs`).
    pub(super) refresh: super::refresh::RefreshDraft,
    pub(super) audit_sink: Option<Sink>,
    /// `OIDC_JWKS_PATH` (`client_assertion.rs`).
    pub(super) jwks_path: Option<String>,
}

/// How many entries each in-process memory holds by default (see
/// [`OidcConfigBuilder::with_memory_capacity`]).
pub(crate) const DEFAULT_MEMORY_CAPACITY: usize = 100_000;

impl Default for OidcConfigBuilder {
    fn default() -> Self {
        Self {
            defaults: ProviderDraft::default(),
            providers: Vec::new(),
            problems: Vec::new(),
            base_url: None,
            redirect_uri: None,
            callback_path: "/auth/callback".into(),
            login_path: "/auth/login".into(),
            logout_path: "/auth/logout".into(),
            providers_path: "/auth/providers".into(),
            backchannel_logout_path: "/auth/backchannel-logout".into(),
            public_paths: Vec::new(),
            cookie_key: None,
            old_cookie_keys: Vec::new(),
            allow_random_cookie_key: false,
            leeway: Duration::from_secs(60),
            session_lifetime: Duration::from_secs(8 * 3600),
            post_logout_redirect_uri: None,
            jwks_refetch_cooldown: Duration::from_secs(5),
            http_timeout: Duration::from_secs(10),
            extra_root_pems: Vec::new(),
            https_proxy: None,
            clock: Arc::new(SystemClock),
            insecure_http_issuer: false,
            auth_method: Ok(AuthMethod::Oidc),
            local_session: None,
            local_login_url: None,
            require_session: true,
            login_hook: None,
            page_hook: None,
            memory_capacity: DEFAULT_MEMORY_CAPACITY,
            api_paths: Vec::new(),
            bearer_only: false,
            client_network: Default::default(),
            session_store: Default::default(),
            refresh: Default::default(),
            audit_sink: None,
            jwks_path: None,
        }
    }
}

impl fmt::Debug for OidcConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = &self.defaults;
        f.debug_struct("OidcConfigBuilder")
            .field("issuer", &d.issuer)
            .field("client_id", &d.client_id)
            .field(
                "client_secret",
                &d.client_secret.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &d.scope.as_deref().unwrap_or(DEFAULT_SCOPE))
            .field("base_url", &self.base_url)
            .field(
                "cookie_key",
                &self.cookie_key.as_ref().map(|_| "[redacted]"),
            )
            .field("old_cookie_keys", &self.old_cookie_keys.len())
            .finish_non_exhaustive()
    }
}

impl OidcConfigBuilder {
    /// The issuer URL (`OIDC_ISSUER_URL`). Discovery must report exactly this issuer.
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.defaults.issuer = Some(issuer.into());
        self
    }

    /// The client id registered at the provider (`OIDC_CLIENT_ID`).
    pub fn with_client_id(mut self, client_id: impl Into<String>) -> Self {
        self.defaults.client_id = Some(client_id.into());
        self
    }

    /// The client secret (`OIDC_CLIENT_SECRET`). Without one the client is public and relies on
    /// PKCE alone (token endpoint authentication `none`).
    pub fn with_client_secret(mut self, secret: impl Into<String>) -> Self {
        self.defaults.client_secret = Some(secret.into());
        self
    }

    /// Space-separated scopes (`OIDC_SCOPE`, default `openid profile email`); must contain `openid`.
    pub fn with_scope(mut self, scope: impl Into<String>) -> Self {
        self.defaults.scope = Some(scope.into());
        self
    }

    /// The app's public origin (`BASE_URL`), e.g. `https://app.example.com`. It decides the
    /// redirect URI and whether cookies are `Secure`; request headers never do.
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// A display name for the provider (`OIDC_PROVIDER_NAME`).
    pub fn with_provider_name(mut self, name: impl Into<String>) -> Self {
        self.defaults.name = Some(name.into());
        self
    }

    /// The provider's slug (`OIDC_PROVIDER_SLUG`, default `default`).
    pub fn with_provider_slug(mut self, slug: impl Into<String>) -> Self {
        self.defaults.slug = Some(slug.into());
        self
    }

    /// Which claims hold username, email, groups and display name.
    pub fn with_claim_names(mut self, claims: ClaimNames) -> Self {
        let d = &mut self.defaults;
        d.username_claim = Some(claims.username);
        d.email_claim = Some(claims.email);
        d.groups_claim = Some(claims.groups);
        d.full_name_claim = Some(claims.full_name);
        self
    }

    /// When to call the userinfo endpoint.
    pub fn with_userinfo(mut self, policy: UserinfoPolicy) -> Self {
        self.defaults.userinfo = Some(policy);
        self
    }

    /// How to authenticate at the token endpoint (`OIDC_TOKEN_ENDPOINT_AUTH_METHOD`: `auto`,
    /// `client_secret_basic` or `client_secret_post`). Use it when the provider registered the
    /// client for one method and also advertises the other.
    pub fn with_token_auth_method(mut self, method: TokenAuthMethod) -> Self {
        self.defaults.token_auth = Some(Ok(method));
        self
    }

    /// An extra audience the ID token may carry besides our client id.
    ///
    /// # Security
    /// An ID token whose `aud` holds an audience that is neither our client id nor trusted is
    /// refused (OpenID Connect Core 3.1.3.7, step 3).
    pub fn add_trusted_audience(mut self, audience: impl Into<String>) -> Self {
        self.defaults.trusted_audiences.push(audience.into());
        self
    }

    /// The audience of this app's API (`OIDC_API_AUDIENCE`, per provider
    /// `OIDC_PROVIDER_N_API_AUDIENCE`): turns on `Authorization: Bearer` access tokens
    /// (RFC 6750) from the provider on the API paths ([`add_api_path`](Self::add_api_path)). A
    /// token passes the same policy as a login (claim names, role map, allowed domains, admin
    /// flag, the login hook) into the same [`Identity`](crate::Identity).
    ///
    /// # Security
    /// Only JWT access tokens (RFC 9068) are accepted: signed with a key of the provider's
    /// JWKS under the ID token's algorithm allowlist, `typ` `at+jwt`, `iss` exactly the
    /// issuer, `aud` containing this audience, `exp`, `nbf`, `iat` within the leeway. An ID
    /// token is never accepted as an access token. Register this audience as a resource (or
    /// API) at the provider, apart from the client id.
    pub fn with_api_audience(mut self, audience: impl Into<String>) -> Self {
        self.defaults.api_audience = Some(audience.into());
        self
    }

    /// Whether access tokens must be typed `at+jwt` (`OIDC_API_REQUIRE_AT_JWT`, default
    /// `true`, RFC 9068 section 4).
    ///
    /// # Security
    /// `false` is for providers that do not type their access tokens. It is accepted only when
    /// the API audience differs from every client id, so that no ID token can carry it, and
    /// tokens with a `nonce` or `at_hash` (claims of ID tokens) are still refused.
    pub fn require_at_jwt(mut self, yes: bool) -> Self {
        self.defaults.api_require_at_jwt = Some(Ok(yes));
        self
    }

    /// The longest time an introspected opaque access token is trusted without asking the
    /// provider again (`OIDC_API_INTROSPECTION_CACHE`, whole seconds from 0 to 86400, default
    /// 60): a token revoked at the provider is refused within this time. Never longer than the
    /// token's own `exp`; `0` asks the provider at every request.
    pub fn with_introspection_cache(mut self, max: Duration) -> Self {
        self.defaults.api_introspection_cache = Some(Ok(max.as_secs()));
        self
    }

    /// The resource indicator (RFC 8707) the login asks its access token for
    /// (`OIDC_RESOURCE`, per provider `OIDC_PROVIDER_N_RESOURCE`; an absolute URI without a
    /// fragment): sent as `resource` in the authorization request and the code exchange.
    /// Providers such as `oidc-provider` issue a JWT access token for an API only then. Such a
    /// token may not open the provider's userinfo endpoint, so the ID token must carry the
    /// claims the configuration reads.
    pub fn with_resource(mut self, resource: impl Into<String>) -> Self {
        self.defaults.resource = Some(resource.into());
        self
    }

    /// A path where bearer tokens are accepted; a path ending in `/` covers everything below
    /// it (`/api/`). Without any, tokens are accepted on every path when an API audience is
    /// set. Elsewhere an `Authorization` header is left to the app.
    pub fn add_api_path(mut self, path: impl Into<String>) -> Self {
        self.api_paths.push(path.into());
        self
    }

    /// Whether the API paths accept bearer tokens only (default `false`: a session cookie
    /// works there too, for the app's own pages calling its API).
    pub fn require_bearer_on_api_paths(mut self, yes: bool) -> Self {
        self.bearer_only = yes;
        self
    }

    /// The callback route (default `/auth/callback`).
    pub fn with_callback_path(mut self, path: impl Into<String>) -> Self {
        self.callback_path = path.into();
        self
    }

    /// The route that starts a login explicitly (default `/auth/login`, takes `?return_to=`).
    pub fn with_login_path(mut self, path: impl Into<String>) -> Self {
        self.login_path = path.into();
        self
    }

    /// The logout route (default `/auth/logout`).
    pub fn with_logout_path(mut self, path: impl Into<String>) -> Self {
        self.logout_path = path.into();
        self
    }

    /// The back-channel logout route (default `/auth/backchannel-logout`; with numbered
    /// providers, `/auth/backchannel-logout/{slug}` for each), served for the providers that
    /// have [`with_backchannel_logout`](Self::with_backchannel_logout) on.
    pub fn with_backchannel_logout_path(mut self, path: impl Into<String>) -> Self {
        self.backchannel_logout_path = path.into();
        self
    }

    /// A path served without a session (an `Identity` is still attached when there is one).
    /// A path ending in `/` covers everything below it.
    pub fn add_public_path(mut self, path: impl Into<String>) -> Self {
        self.public_paths.push(path.into());
        self
    }

    /// The key material for cookie encryption (`OIDC_COOKIE_KEY`): what a key generator
    /// prints, at least 32 random bytes in hex or base64 (`openssl rand -base64 32`). Set the
    /// same key on every replica.
    ///
    /// Without a key, an https `BASE_URL` is a startup error (unless
    /// [`allow_random_cookie_key`](Self::allow_random_cookie_key)); on http a random key is
    /// made for this process, with a warning.
    ///
    /// # Security
    /// A sealed login cookie, which anyone can get, lets an attacker test guesses of the key
    /// offline, and the key forges any session. So passphrases, low-entropy values and the
    /// examples of these docs are refused (the rules are in the crate docs), and the cookie
    /// keys are derived from it with Argon2id (19 MiB, 2 passes; OWASP's Password Storage
    /// Cheat Sheet), once per key per process, so that a guess costs that much work.
    pub fn with_cookie_key(mut self, key: impl Into<String>) -> Self {
        self.cookie_key = Some(key.into());
        self
    }

    /// Adds an earlier cookie key (`OIDC_COOKIE_KEYS_OLD`, a comma-separated list) that still
    /// opens cookies: the key set with [`with_cookie_key`](Self::with_cookie_key) seals every
    /// new cookie, and every key opens them, so that the key can be changed without signing
    /// everyone out. To rotate: make the new key `OIDC_COOKIE_KEY` and the old one
    /// `OIDC_COOKIE_KEYS_OLD` on every replica, then remove the old one once the sessions it
    /// sealed have expired (`OIDC_SESSION_LIFETIME`, 8 hours by default). Each key is checked
    /// like `OIDC_COOKIE_KEY` (a problem names its position in the list, never its value), at
    /// most 8 old keys are taken, and they need `OIDC_COOKIE_KEY` to be set.
    ///
    /// # Security
    /// Every old key still opens (and so forges) sessions: remove a key that leaked instead of
    /// keeping it here, which signs out the sessions it sealed. Each key is stretched with
    /// Argon2id at startup, and a forged cookie costs one decryption per key.
    pub fn add_old_cookie_key(mut self, key: impl Into<String>) -> Self {
        self.old_cookie_keys.push(key.into());
        self
    }

    /// Allows a random cookie key for this process when no key is set (default `false`), also
    /// on an https `BASE_URL`, where a missing `OIDC_COOKIE_KEY` is otherwise a startup
    /// error; and without the warning a missing key gets on http. A key that is set is used
    /// all the same.
    ///
    /// # Security
    /// Sessions then end at every restart, and replicas cannot read each other's cookies: fit
    /// for a demo or a single process whose users may sign in again, not for a deployment
    /// that forgot its key.
    pub fn allow_random_cookie_key(mut self, allow: bool) -> Self {
        self.allow_random_cookie_key = allow;
        self
    }

    /// Leeway for `exp` and `iat` (default 60 s, at most 5 minutes, OpenID Connect Core 3.1.3.7).
    pub fn with_clock_leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The absolute session lifetime (default 8 hours, as mod_auth_openidc's
    /// `OIDCSessionMaxDuration`); after it the user signs in again.
    pub fn with_session_lifetime(mut self, lifetime: Duration) -> Self {
        self.session_lifetime = lifetime;
        self
    }

    /// Where the provider sends the browser after logout (`OIDC_POST_LOGOUT_REDIRECT_URI`).
    /// It must be registered at the provider.
    ///
    /// # Security
    /// Only configuration decides this target, never a request parameter (no open redirect).
    pub fn with_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uri = Some(uri.into());
        self
    }

    /// The refetch floor: the least time between two *forced* JWKS refetches (default 5 s, at
    /// least 1 s).
    ///
    /// A refetch is forced when an ID token's `kid` is not in the cached keys, or its signature
    /// fails with the cached key of its `kid` (a provider restarted with a fresh key under the
    /// same id); the token is then tried once more with the fresh keys. The first fetch and
    /// the hourly scheduled refresh do not start the floor, so a provider that rotates its keys
    /// and signs with the new one at once is followed at the first login that sees it.
    ///
    /// # Security
    /// The floor bounds what a flood of tokens naming random `kid`s can cost the provider: at
    /// most one forced fetch per floor, and a `kid` whose refetch brought no new key forces no
    /// other until the key set changes or the scheduled refresh runs. The JWKS stays cached for
    /// at most an hour either way, so withdrawn keys stop being trusted.
    pub fn with_jwks_refetch_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks_refetch_cooldown = cooldown;
        self
    }

    /// Trusts the certificates of a PEM bundle (a private CA, for example a corporate one)
    /// for https to the providers, besides the system's trust store (which is always used).
    /// May be called more than once. A bundle that is not PEM, or holds no certificate, is a
    /// startup error.
    ///
    /// # Security
    /// Every certificate given here can vouch for any host name, the providers' included:
    /// give only the CA that signs the provider's (or the TLS-inspecting proxy's) certificates.
    pub fn with_extra_root_certificate_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.extra_root_pems.push(pem.as_ref().to_vec());
        self
    }

    /// Sends every https request to the providers through this proxy (`http://host:port`,
    /// credentials allowed as `http://user:password@host:port`), with `CONNECT`. Without it,
    /// the `HTTPS_PROXY` / `NO_PROXY` environment variables apply. Redirects are still never
    /// followed and every response is still capped at 1 MiB. A URL that is not `http://` or
    /// `https://` with a host and nothing after the port is a startup error (never quoting it).
    pub fn with_https_proxy(mut self, url: impl Into<String>) -> Self {
        self.https_proxy = Some(url.into());
        self
    }

    /// The timeout of each HTTP request to the provider (default 10 s).
    pub fn with_http_timeout(mut self, timeout: Duration) -> Self {
        self.http_timeout = timeout;
        self
    }

    /// The clock used for every time decision (default: the system clock).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Reads the TOML file at `path` (what `OIDC_CONFIG_FILE` names): claim names, access rules
    /// and the role map. Settings made on the builder afterwards win over the file's. A file
    /// that cannot be read or parsed is reported by [`build`](Self::build), with the path, the
    /// key and the line.
    pub fn with_config_file(self, path: impl AsRef<std::path::Path>) -> Self {
        let path = path.as_ref();
        match std::fs::read_to_string(path) {
            Ok(text) => self.with_config_toml(&path.display().to_string(), &text),
            Err(e) => {
                let mut b = self;
                b.problems.push(ConfigProblem {
                    key: "OIDC_CONFIG_FILE".into(),
                    message: format!("cannot read {}: {e}", path.display()),
                });
                b
            }
        }
    }

    /// Like [`with_config_file`](Self::with_config_file), from the file's text; `name` stands
    /// for the file in error messages.
    pub fn with_config_toml(mut self, name: &str, text: &str) -> Self {
        let file::Parsed {
            mut file,
            roles,
            provider_roles,
        } = match file::parse(name, text) {
            Ok(parsed) => parsed,
            Err(problems) => {
                self.problems.extend(problems);
                return self;
            }
        };
        file.take_defaults().fill(&mut self.defaults, roles);
        for (p, roles) in file.providers.into_iter().zip(provider_roles) {
            let mut draft = ProviderDraft::default();
            p.fill(&mut draft, roles);
            self.providers.push(draft);
        }
        for (slot, value) in [
            (&mut self.base_url, file.base_url),
            (&mut self.redirect_uri, file.redirect_uri),
            (
                &mut self.post_logout_redirect_uri,
                file.post_logout_redirect_uri,
            ),
            (&mut self.cookie_key, file.cookie_key),
        ] {
            if value.is_some() {
                *slot = value;
            }
        }
        if let Some(keys) = file.cookie_keys_old {
            self.old_cookie_keys = keys;
        }
        if let Some(m) = file.auth_method {
            self.auth_method = AuthMethod::parse(&m);
        }
        if let Some(paths) = file.public_paths {
            self.public_paths.extend(paths);
        }
        if let Some(path) = file.jwks_path {
            self.jwks_path = Some(path);
        }
        super::session_store::read_file(
            &mut self,
            super::session_store::FileSessionStore {
                session_store: file.session_store,
                session_store_staleness: file.session_store_staleness,
                session_idle_timeout: file.session_idle_timeout,
                session_lifetime: file.session_lifetime,
            },
        );
        super::refresh::read_file(
            &mut self,
            super::refresh::FileRefresh {
                refresh: file.refresh,
                refresh_margin: file.refresh_margin,
                refresh_grace: file.refresh_grace,
            },
        );
        self
    }

    /// The role map: which PostgreSQL role each user acts as, from their groups. With one, a
    /// user whose groups match no rule (and no default) is refused at login with 403.
    pub fn with_role_map(mut self, roles: RoleMap) -> Self {
        self.defaults.role_map = Some(roles);
        self
    }

    /// Admits only users whose verified email is in `domain` (`OIDC_ALLOWED_EMAIL_DOMAINS`):
    /// `example.com` exactly (ignoring case), or `*.example.com` for its subdomains.
    ///
    /// # Security
    /// An unverified email never passes (OpenID Connect Core 5.7: unverified claims must not be
    /// trusted), and `evil-example.com` or `example.com.evil.test` never match `example.com`.
    pub fn add_allowed_email_domain(mut self, domain: impl Into<String>) -> Self {
        push(&mut self.defaults.allowed_email_domains, domain.into());
        self
    }

    /// Members of this group are administrators (`OIDC_ADMIN_GROUP`), compared as the role map
    /// compares groups.
    pub fn with_admin_group(mut self, group: impl Into<String>) -> Self {
        self.defaults.admin_group = Some(group.into());
        self
    }

    /// A user with this verified email is an administrator (`OIDC_ADMIN_EMAILS`, ignoring case).
    pub fn add_admin_email(mut self, email: impl Into<String>) -> Self {
        push(&mut self.defaults.admin_emails, email.into());
        self
    }

    /// Users with a verified email in this domain are administrators
    /// (`OIDC_ADMIN_EMAIL_DOMAINS`; `*.example.com` for subdomains).
    pub fn add_admin_email_domain(mut self, domain: impl Into<String>) -> Self {
        push(&mut self.defaults.admin_email_domains, domain.into());
        self
    }

    /// Adds a provider; with more than one, each gets its own routes (`/auth/login/{slug}`,
    /// `/auth/callback/{slug}`) and unauthenticated browsers get a chooser page. The n-th
    /// provider added is `OIDC_PROVIDER_{n}_*` in error messages. Do not combine with
    /// [`with_issuer`](Self::with_issuer).
    pub fn add_provider(mut self, provider: ProviderBuilder) -> Self {
        self.providers.push(provider.draft);
        self
    }

    /// Which sign-ins are accepted (`AUTH_METHOD`, default `oidc`).
    pub fn with_auth_method(mut self, method: AuthMethod) -> Self {
        self.auth_method = Ok(method);
        self
    }

    /// How to recognise a request signed in through the app's own login, for
    /// `AUTH_METHOD=both` (for example a password login kept for the app's administrators).
    /// Such a request passes without an SSO session; the app's own extractors then identify
    /// it. The check runs on every request without an SSO session, so keep it cheap and free of
    /// I/O (read a cookie, or an extension set by an outer layer).
    ///
    /// # Security
    /// Whatever this returns `true` for is let through unauthenticated by the layer: the app's
    /// own login must authenticate those requests itself.
    pub fn with_local_session(
        mut self,
        is_signed_in: impl Fn(&http::request::Parts) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.local_session = Some(Arc::new(is_signed_in));
        self
    }

    /// The app's own login page, linked from the chooser page when `AUTH_METHOD=both`.
    pub fn with_local_login_url(mut self, url: impl Into<String>) -> Self {
        self.local_login_url = Some(url.into());
        self
    }

    /// Whether protected routes demand a session (default `true`). With `false` every request
    /// passes and carries an [`Identity`](crate::Identity) when it has a session: the app
    /// decides per route with `Identity` or `Option<Identity>` extractors.
    pub fn require_session(mut self, yes: bool) -> Self {
        self.require_session = yes;
        self
    }

    /// How many entries each of the layer's in-process memories holds (default 100 000, at
    /// least 1): the replay guard (each completed login's `state`, until its login record
    /// would have expired, ten minutes) and the revocation list (each session ended by logout,
    /// until it would have expired). An entry takes about a hundred bytes.
    ///
    /// # Security
    /// A full memory fails closed: it forgets the half of its entries that expire soonest and
    /// from then on refuses everything those entries could have been, that is every login
    /// record and every session that expires no later than the last one it forgot (a sign-in
    /// must be started again, a user signs in again), rather than let a replayed callback or a
    /// revoked session back in. The memories belong to the configuration: every
    /// [`OidcLayer`](crate::OidcLayer) built from one [`OidcConfig`] (or a clone of it) shares
    /// them; layers built from configurations built separately do not.
    pub fn with_memory_capacity(mut self, entries: usize) -> Self {
        self.memory_capacity = entries;
        self
    }

    /// The route answering `GET` with the providers as JSON (default `/auth/providers`).
    pub fn with_providers_path(mut self, path: impl Into<String>) -> Self {
        self.providers_path = path.into();
        self
    }

    /// The `prompt` sent at every login (`OIDC_PROMPT`; OpenID Connect Core 1.0 section
    /// 3.1.2.1): `none` (no page at the provider: a user not signed in there gets the error
    /// page, `login_required`), or space-separated among `login` (sign in again), `consent`,
    /// `select_account`. Another value is a startup error naming the setting. A login may ask
    /// for its own with `/auth/login?prompt=…` (see the README's "Login parameters").
    pub fn with_prompt(mut self, prompt: impl Into<String>) -> Self {
        self.defaults.prompt = Some(prompt.into());
        self
    }

    /// The `max_age` sent at every login (`OIDC_MAX_AGE`, whole seconds): the provider asks
    /// the user to sign in again when their sign-in there is older.
    ///
    /// # Security
    /// With a `max_age` the ID token must carry `auth_time`, no older than `max_age` plus the
    /// clock leeway, or the login is refused (`AuthErrorKind::AuthenticationTooOld`; OpenID
    /// Connect Core 1.0 section 3.1.2.1 and 3.1.3.7 item 13): a provider that ignored the
    /// request cannot pass an old sign-in off as a fresh one.
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.defaults.max_age = Some(Ok(max_age.as_secs()));
        self
    }

    /// The `acr_values` sent at every login (`OIDC_ACR_VALUES`): space-separated
    /// authentication context class references, in order of preference. A request only,
    /// unless [`require_acr`](Self::require_acr) makes it a requirement.
    pub fn with_acr_values(mut self, acr_values: impl Into<String>) -> Self {
        self.defaults.acr_values = Some(acr_values.into());
        self
    }

    /// Whether the ID token's `acr` must be one of the requested `acr_values`
    /// (`OIDC_REQUIRE_ACR`, default `false`; needs [`with_acr_values`](Self::with_acr_values)).
    ///
    /// # Security
    /// `acr_values` alone is a voluntary claim request (OpenID Connect Core 1.0 section
    /// 3.1.2.1): a provider may sign the user in at another level. Required, a missing `acr`
    /// or one not requested refuses the login (`AuthErrorKind::AcrNotAccepted`), and a login
    /// may narrow the values (`/auth/login?acr_values=…`) but never name others.
    pub fn require_acr(mut self, yes: bool) -> Self {
        self.defaults.require_acr = Some(Ok(yes));
        self
    }

    /// The `ui_locales` sent at every login (`OIDC_UI_LOCALES`): space-separated BCP 47
    /// language tags for the provider's pages, in order of preference.
    pub fn with_ui_locales(mut self, locales: impl Into<String>) -> Self {
        self.defaults.ui_locales = Some(locales.into());
        self
    }

    /// Whether users the login hook does not know may enter (`OIDC_AUTO_PROVISION`, default
    /// `true`); handed to the hook as [`LoginAttempt::auto_provision`].
    pub fn with_auto_provision(mut self, yes: bool) -> Self {
        self.defaults.auto_provision = Some(Ok(yes));
        self
    }

    /// Whether the identity provider may end sessions through OpenID Connect Back-Channel
    /// Logout 1.0 (`OIDC_BACKCHANNEL_LOGOUT`, default `false`): it POSTs a signed logout token
    /// to the back-channel logout route (its URL is logged at startup: register it at the
    /// provider as the client's `backchannel_logout_uri`), and the sessions it names end.
    ///
    /// # Security
    /// Off by default: the route accepts requests from anywhere, and each is a signature
    /// check (and, for an unknown key, at most one JWKS refetch per refetch floor). The logout
    /// token must pass every check of section 2.6 (signature with the ID token's allowlist,
    /// `iss`, `aud`, `iat`, `exp`, a `jti` not seen before, the event, no `nonce`). With the
    /// cookie store, the sessions end in the process that receives the token only (and in
    /// every layer built from the same configuration): other replicas keep accepting them.
    pub fn with_backchannel_logout(mut self, yes: bool) -> Self {
        self.defaults.backchannel_logout = Some(Ok(yes));
        self
    }

    /// The app's look for the layer's HTML pages (error pages, the chooser, the signed-out
    /// and logout-confirmation pages, the unknown-provider page): `hook` gets each page's
    /// data ([`LayerPage`]) and returns its HTML body, or `None` for the built-in page. The
    /// status, the security headers (no framing, the strict Content Security Policy: no
    /// script, no image, no external stylesheet) and the `AuthError` in the extensions stay
    /// the layer's. Escape every text and URL with [`escape_html`](crate::escape_html).
    /// See [the module docs](crate::LayerPage) for an example.
    ///
    /// # Security
    /// The body is sent as the hook wrote it: text put in unescaped is markup.
    pub fn with_page_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&LayerPage<'_>) -> Option<String> + Send + Sync + 'static,
    {
        self.page_hook = Some(PageHook::new(hook));
        self
    }

    /// An async function called after every successful login (after the access rules and the
    /// role map), with the identity, its claims and the auto-provision setting. It may refuse
    /// the login (`403` with its message) or add to the identity's claims; this is where an
    /// app provisions users on first login or links accounts, keyed by `(issuer, subject)`.
    ///
    /// ```
    /// use tower_oidc::{LoginDecision, OidcConfig};
    ///
    /// let builder = OidcConfig::builder().with_login_hook(|login| async move {
    ///     if login.identity().email().is_some_and(|e| e.ends_with("@blocked.example")) {
    ///         return LoginDecision::refuse("This account is blocked.");
    ///     }
    ///     LoginDecision::Allow
    /// });
    /// ```
    pub fn with_login_hook<F, Fut>(mut self, hook: F) -> Self
    where
        F: Fn(LoginAttempt) -> Fut + Send + Sync + 'static,
        Fut: std::future::Future<Output = LoginDecision> + Send + 'static,
    {
        self.login_hook = Some(Arc::new(move |attempt| Box::pin(hook(attempt))));
        self
    }

    /// Where the audit trail goes: every sign-in, failed sign-in, refusal and sign-out, with the
    /// client's address and user agent (see [`AuditEvent`](crate::AuditEvent)); none by
    /// default. [`TracingAuditSink`](crate::TracingAuditSink) writes them as `tracing` events.
    /// Addresses need connect info and, behind a proxy, `OIDC_TRUSTED_PROXIES`
    /// ([`add_trusted_proxy`](Self::add_trusted_proxy)).
    pub fn with_audit_sink(mut self, sink: impl AuditSink) -> Self {
        self.audit_sink = Some(Sink(Arc::new(sink)));
        self
    }

    /// Accepts an `http` issuer on a non-loopback host.
    ///
    /// # Security
    /// Discovery, keys and tokens then travel in clear text and can be replaced by anyone on
    /// the path. Use only on an isolated test network.
    pub fn insecure_allow_http_issuer(mut self, allow: bool) -> Self {
        self.insecure_http_issuer = allow;
        self
    }

    /// Validates every setting. The error lists all problems, each naming its variable.
    pub fn build(self) -> Result<OidcConfig, ConfigError> {
        validate::build(self)
    }
}
