//! [`decide`]: the pure per-request decision, from the request's head alone: pass the request
//! on (with the identity of a valid session), or hand it to one of the layer's flows.

use axum::extract::OriginalUri;
use http::request::Parts;
use http::{header, HeaderValue, Uri};

use std::future::Future;
use std::sync::Arc;

use crate::bearer::header::{bearer_bytes, credentials, Credentials};
use crate::config::OidcConfig;
use crate::identity::Identity;
use crate::session::{
    is_idle, last_use, open_session, request_cookie, request_cookie_bytes, Opened, Purpose,
    RENEW_EVERY,
};
use crate::shared::Shared;
use crate::store::Lookup;

/// What to do with a request. Computed without I/O by [`decide`].
#[derive(Debug)]
pub(crate) enum Route {
    /// Forward to the inner service, with the identity when there is a valid session.
    /// `protected` marks responses that must not be cached.
    Pass {
        identity: Option<Identity>,
        protected: bool,
    },
    /// Like `Pass` with a session, whose cookie is re-issued on the response: the cookie
    /// store's idle timeout, once a minute per session.
    Renew { identity: Identity, protected: bool },
    /// The explicit login route: with a provider (its index), or without (the default
    /// provider, or the chooser page when there is a choice).
    Login(Option<usize>),
    /// `/auth/login/{slug}` with a slug no provider has.
    UnknownProvider,
    /// The providers as JSON.
    Providers,
    /// The public keys of the client assertions (`OIDC_JWKS_PATH`).
    ClientJwks,
    /// The redirect URI.
    Callback,
    /// The logout route.
    Logout,
    /// The back-channel logout route of the provider at this index (only for a provider that
    /// has back-channel logout on).
    BackchannelLogout(usize),
    /// No session, browser navigation: redirect to the provider.
    Redirect,
    /// No session, anything else: 401.
    Unauthorized,
    /// A server-side session not cached here: load it (this id) from the store, then decide.
    Load { id: String },
    /// A server-side session whose tokens are due: refresh them, then decide.
    Refresh { identity: Identity },
    /// A session whose refresh cannot reach the provider, past the grace: 503.
    ProviderUnavailable,
    /// A session whose refresh was refused with this page, for a navigation.
    RefreshRefused(crate::error::AuthError),
    /// A session whose store cannot be reached: 503.
    StoreUnavailable,
    /// An API path, judged by its bearer token alone.
    Token(TokenRoute),
}

/// What the request's session cookie came to.
#[derive(Debug)]
pub(crate) enum Loaded {
    /// A valid session.
    Session(Identity),
    /// A valid session whose cookie is to be re-issued (the cookie store's idle timeout).
    Renew(Identity),
    /// None, or none that is valid.
    None,
    /// A valid session just loaded whose tokens are due: refreshed before the route is
    /// decided (a route that sees one serves it as it is).
    Due(Identity),
    /// One the store cannot tell about now.
    Unavailable,
    /// One whose refresh cannot reach the provider, past the grace.
    ProviderUnavailable,
    /// One whose refresh ended it, with the page a navigation gets.
    Refused(crate::error::AuthError),
}

/// What a request on an API path needs when its token is not in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenRoute {
    /// A well-formed token seen for the first time: verify it, then pass the request on.
    Verify,
    /// A malformed `Authorization: Bearer` header: 400 `invalid_request`.
    Malformed,
    /// No token where only tokens are accepted: 401 with the Bearer challenge.
    Missing,
}

/// A session cookie the request presented that was ours and has expired: for the audit trail
/// and the `logouts{cause="expiry"}` metric.
#[derive(Debug)]
pub(crate) struct ExpiredSession {
    /// The provider's slug and issuer, of a provider still configured.
    pub(crate) provider: String,
    pub(crate) issuer: String,
    pub(crate) subject: String,
}

/// Decides what to do with a request, from its head alone. The hot path (a session seen
/// before) reads one cookie and finds it in the session cache: no I/O, and the cache's shard
/// lock is held only for the lookup, never across an await. `expired` gets the session when
/// the request presented one of ours that has expired (never on the hot path: a valid session
/// is not expired).
pub(crate) fn decide(
    shared: &Shared,
    parts: &Parts,
    expired: &mut Option<ExpiredSession>,
) -> Route {
    let config = &shared.config;
    let path = app_uri(parts).path();
    if let Some(rest) = path.strip_prefix(config.callback_path.as_str()) {
        // `/auth/callback`, or a provider's `/auth/callback/{slug}`; the callback checks that
        // the route belongs to the provider its login was started with.
        if rest.is_empty() || rest.starts_with('/') {
            return Route::Callback;
        }
    }
    if path == config.logout_path {
        return Route::Logout;
    }
    if path.starts_with(config.backchannel_logout_path.as_str()) {
        if let Some(i) = config.providers.iter().position(|p| {
            p.backchannel_logout
                .as_ref()
                .is_some_and(|route| route.path == path)
        }) {
            return Route::BackchannelLogout(i);
        }
    }
    if path == config.providers_path {
        return Route::Providers;
    }
    if config.jwks_path.as_deref() == Some(path) {
        return Route::ClientJwks;
    }
    if let Some(rest) = path.strip_prefix(config.login_path.as_str()) {
        if rest.is_empty() {
            return Route::Login(None);
        }
        if let Some(slug) = rest.strip_prefix('/') {
            return match config
                .providers
                .iter()
                .position(|p| p.slug.as_str() == slug)
            {
                Some(i) => Route::Login(Some(i)),
                None => Route::UnknownProvider,
            };
        }
    }
    // Off unless an API audience is set: then one header lookup, on API paths only.
    if config.accepts_bearer && is_api_path(config, path) {
        if let Some(route) = bearer(shared, parts) {
            return route;
        }
    }
    let value = request_cookie_bytes(&parts.headers, &shared.cookies.names.session);
    let loaded = match (value, &shared.server) {
        (None, _) => Loaded::None,
        (Some(value), None) => session(shared, value, expired),
        (Some(value), Some(server)) => {
            let now = config.clock.unix_seconds();
            match server.lookup(value, now, || stored_session_id(shared, value)) {
                Lookup::Found(identity) => Loaded::Session(identity),
                Lookup::Load(id) => return Route::Load { id },
                Lookup::Refresh(identity) => return Route::Refresh { identity },
                Lookup::Unavailable => Loaded::Unavailable,
                Lookup::Missing => Loaded::None,
            }
        }
    };
    after_load(shared, parts, loaded)
}

/// The route of a request whose session is known: from the cookie or the cache, or loaded
/// from the server-side store.
pub(crate) fn after_load(shared: &Shared, parts: &Parts, loaded: Loaded) -> Route {
    let config = &shared.config;
    let path = app_uri(parts).path();
    let public = is_public(config, path);
    let identity = match loaded {
        Loaded::Session(identity) | Loaded::Due(identity) => Some(identity),
        Loaded::Renew(identity) => {
            return Route::Renew {
                identity,
                protected: !public,
            }
        }
        Loaded::None => None,
        Loaded::Unavailable | Loaded::ProviderUnavailable if public => None,
        Loaded::Unavailable => return Route::StoreUnavailable,
        Loaded::ProviderUnavailable => return Route::ProviderUnavailable,
        Loaded::Refused(_) if public || !config.require_session => None,
        Loaded::Refused(err) if is_navigation(parts) => return Route::RefreshRefused(err),
        Loaded::Refused(_) => return Route::Unauthorized,
    };
    match identity {
        Some(identity) => Route::Pass {
            identity: Some(identity),
            protected: !public,
        },
        None if public || !config.require_session => Route::Pass {
            identity: None,
            protected: false,
        },
        // AUTH_METHOD=both: the app's own login recognises this request.
        None if config
            .local_session
            .as_ref()
            .is_some_and(|is_signed_in| is_signed_in(parts)) =>
        {
            Route::Pass {
                identity: None,
                protected: true,
            }
        }
        None if is_navigation(parts) => Route::Redirect,
        None => Route::Unauthorized,
    }
}

/// The route of a request on an API path, judged by its `Authorization` header: a token seen
/// before passes with its cached identity (no signature check, no I/O), a new one is verified,
/// a malformed header refused; a CORS preflight passes. Without a token, `None` lets sessions
/// decide, unless the API paths take tokens only.
fn bearer(shared: &Shared, parts: &Parts) -> Option<Route> {
    // A repeated token is found by its bytes as sent, before any syntax check: only tokens
    // that passed every check are in the cache.
    if let Some(raw) = bearer_bytes(&parts.headers) {
        let now = shared.config.clock.unix_seconds();
        if let Some(identity) = shared.bearer.get(raw, now) {
            return Some(Route::Pass {
                identity: Some(identity),
                protected: true,
            });
        }
    }
    match credentials(&parts.headers) {
        Credentials::Bearer(_) => Some(Route::Token(TokenRoute::Verify)),
        Credentials::Malformed => Some(Route::Token(TokenRoute::Malformed)),
        Credentials::None | Credentials::Other => {
            let config = &shared.config;
            if is_preflight(parts) {
                // A CORS preflight carries no credentials (Fetch standard, CORS-preflight
                // request): the app's CORS layer answers it.
                Some(Route::Pass {
                    identity: None,
                    protected: false,
                })
            } else if !config.bearer_only {
                None
            } else if config
                .local_session
                .as_ref()
                .is_some_and(|is_signed_in| is_signed_in(parts))
            {
                // AUTH_METHOD=both: another scheme (Basic, say) is the app's to judge.
                Some(Route::Pass {
                    identity: None,
                    protected: true,
                })
            } else {
                Some(Route::Token(TokenRoute::Missing))
            }
        }
    }
}

/// A CORS preflight: `OPTIONS` with `Access-Control-Request-Method`.
fn is_preflight(parts: &Parts) -> bool {
    parts.method == http::Method::OPTIONS
        && parts
            .headers
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
}

/// Whether bearer tokens are accepted on `path`: every path when no API path is configured,
/// else the API paths, matched as public paths are.
fn is_api_path(config: &OidcConfig, path: &str) -> bool {
    config.api_paths.is_empty() || matches_any(&config.api_paths, path)
}

/// Whether `path` is one of `paths`: exactly, or below a folder (one ending in `/`).
fn matches_any(paths: &[String], path: &str) -> bool {
    paths.iter().any(|p| match p.strip_suffix('/') {
        Some(folder) => path.starts_with(p.as_str()) || path == folder,
        None => path == p,
    })
}

/// The request's URI as the app sees it: inside a router nested with axum's `Router::nest`,
/// the URI the outer router was called with (axum's `OriginalUri`, which axum sets and a
/// client cannot), so that the configured paths and the return-to targets are the app's
/// own, not the nested router's; otherwise the request's URI.
pub(crate) fn app_uri(parts: &Parts) -> &Uri {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |original| &original.0)
}

/// Whether `path` is one of the configured public paths: exactly, or below a folder (a
/// configured path ending in `/`).
///
/// Matched on the path as sent, and only when that path is already in normal form: a path that
/// a proxy, the router or a file handler could read as another one is never public, so it needs
/// a session like any protected path (fail closed). Checked only after a public path matched,
/// so protected paths cost nothing more.
fn is_public(config: &OidcConfig, path: &str) -> bool {
    matches_any(&config.public_paths, path) && is_normal_path(path)
}

/// Whether `path` reads the same to every component that may later decode or normalise it
/// (RFC 3986 section 6.2.2, and what servers are known to do beyond it): no dot segments
/// (`/public/../admin`), no empty segments (`//`, which some servers merge), no backslash
/// (a separator on Windows and to some proxies), no `;` (path parameters, which Tomcat and Jetty
/// strip, so `/public/..;/admin` is `/admin` there), and no percent-escape that decodes to `.`,
/// `/`, `\`, `;`, `%` (double encoding, `%252e`) or a control character; a malformed escape is
/// refused too. Other escapes (`%20`, UTF-8) change no segment and are allowed.
fn is_normal_path(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.iter().any(|b| matches!(b, b'\\' | b';'))
        || path.contains("//")
        || path.split('/').any(|seg| seg == "." || seg == "..")
    {
        return false;
    }
    let mut escapes = bytes.iter().enumerate().filter(|(_, b)| **b == b'%');
    escapes.all(|(i, _)| {
        let hex = |at: usize| bytes.get(at).and_then(|b| (*b as char).to_digit(16));
        match (hex(i + 1), hex(i + 2)) {
            (Some(hi), Some(lo)) => {
                let decoded = (hi * 16 + lo) as u8;
                !matches!(decoded, b'.' | b'/' | b'\\' | b';' | b'%') && !decoded.is_ascii_control()
            }
            _ => false,
        }
    })
}

/// The session id a server-side session's cookie holds; `None` for anything else.
fn stored_session_id(shared: &Shared, value: &[u8]) -> Option<String> {
    let names = &shared.cookies.names;
    let value = std::str::from_utf8(value).ok()?;
    let id = shared
        .cookies
        .codec
        .open(Purpose::StoredSession, &names.session, value)?;
    String::from_utf8(id).ok()
}

/// Loads the session `id` of the request's cookie from the server-side store (off the hot
/// path: only for a session this replica has not cached).
pub(crate) fn load(
    shared: Arc<Shared>,
    parts: &Parts,
    id: String,
) -> impl Future<Output = Loaded> + Send + 'static {
    let value = request_cookie(&parts.headers, &shared.cookies.names.session).map(str::to_owned);
    async move {
        let (Some(server), Some(value)) = (&shared.server, value) else {
            return Loaded::None;
        };
        let known = |d: &crate::identity::IdentityData| {
            shared.provider_for(&d.provider, &d.issuer).is_some()
        };
        match server.load(&value, &id, known).await {
            Ok(Some((identity, false))) => Loaded::Session(identity),
            Ok(Some((identity, true))) => Loaded::Due(identity),
            Ok(None) => Loaded::None,
            Err(e) => {
                tracing::warn!(target: "tower_oidc", event = "session_store_unreachable", error = %e, "a session could not be loaded: 503");
                Loaded::Unavailable
            }
        }
    }
}

/// The session of a cookie value (with the cookie store): from the cache, or opened and then
/// cached. An expired session of a provider still configured goes to `expired`, and so does
/// one idle for the idle timeout.
fn session(shared: &Shared, value: &[u8], expired: &mut Option<ExpiredSession>) -> Loaded {
    let cookies = &shared.cookies;
    let memories = &*cookies.memories;
    let now = shared.config.clock.unix_seconds();
    let idle = cookies.idle;
    if idle == 0 {
        if let Some(identity) = memories.cache.get(value, now) {
            return Loaded::Session(identity);
        }
    } else if let Some(hit) = memories.cache.get_seen(value, now, RENEW_EVERY, idle) {
        if !is_idle(hit.seen, now, idle) {
            return match hit.touch {
                true => Loaded::Renew(hit.identity),
                false => Loaded::Session(hit.identity),
            };
        }
        // Idle here: the cookie's own record of use, never newer than the cache's, decides.
    }
    let Ok(value) = std::str::from_utf8(value) else {
        return Loaded::None;
    };
    let data = match open_session(&cookies.codec, &cookies.names, value, now) {
        Opened::Valid(data) if !is_idle(last_use(&data), now, idle) => data,
        Opened::Valid(data) | Opened::Expired(data) => {
            if shared.provider_for(&data.provider, &data.issuer).is_some() {
                *expired = Some(ExpiredSession {
                    provider: data.provider,
                    issuer: data.issuer,
                    subject: data.subject,
                });
            }
            return Loaded::None;
        }
        Opened::Invalid => return Loaded::None,
    };
    if shared.provider_for(&data.provider, &data.issuer).is_none()
        || memories.revoked.is_revoked(&data)
    {
        return Loaded::None;
    }
    let renew = idle > 0 && now >= last_use(&data).saturating_add(RENEW_EVERY);
    let seen = if renew { now } else { last_use(&data) };
    let identity = Identity::from_data(data);
    memories
        .cache
        .insert_seen(value, identity.clone(), now, seen, u64::MAX);
    // A logout may have revoked the session between the check above and the insert; it
    // revokes before it removes the cache entry, so checking again after inserting closes the
    // window.
    if memories.revoked.is_revoked(identity.data()) {
        memories.cache.remove(value);
        return Loaded::None;
    }
    match renew {
        true => Loaded::Renew(identity),
        false => Loaded::Session(identity),
    }
}

/// Whether the request is a top-level browser navigation, which may be redirected to the
/// provider. Everything else (fetch/XHR, JSON clients, non-GET) gets a 401 instead: a redirect
/// would only confuse a script and could start a login from a cross-site request.
fn is_navigation(parts: &Parts) -> bool {
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        return false;
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(mode) = header("sec-fetch-mode") {
        return mode.eq_ignore_ascii_case("navigate");
    }
    if header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest")) {
        return false;
    }
    parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .any(|v| v.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::identity::IdentityData;
    use crate::session::encode_session;
    use crate::shared::test_support::{app, shared, shared_with, ISSUER};
    use crate::ProviderBuilder;

    /// The decision, without the expired session.
    fn decide(shared: &Shared, parts: &Parts) -> Route {
        super::decide(shared, parts, &mut None)
    }

    fn request(path: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::get(path);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    /// A `Cookie` header with a valid session of `shared`'s provider.
    fn session_cookie(shared: &Shared) -> String {
        let now = shared.config.clock.unix_seconds();
        let mut data = IdentityData::sample(1);
        data.issuer = ISSUER.into();
        data.authenticated_at = now;
        data.expires_at = now + 60;
        let names = &shared.cookies.names;
        let value = encode_session(&shared.cookies.codec, names, &mut data).unwrap();
        format!("{}={value}", names.session)
    }

    const HTML: (&str, &str) = ("accept", "text/html");

    #[test]
    fn the_layers_own_routes_are_recognised_by_path() {
        let s = shared();
        let route = |path: &str| decide(&s, &request(path, &[HTML]));
        assert!(matches!(route("/auth/callback"), Route::Callback));
        assert!(matches!(route("/auth/callback/default"), Route::Callback));
        assert!(matches!(route("/auth/logout"), Route::Logout));
        assert!(matches!(route("/auth/providers"), Route::Providers));
        assert!(matches!(route("/auth/login"), Route::Login(None)));
        assert!(matches!(
            route("/auth/login/default"),
            Route::Login(Some(0))
        ));
        assert!(matches!(
            route("/auth/login/nobody"),
            Route::UnknownProvider
        ));
        // Only whole path segments: `/auth/callbackx` is an ordinary protected path.
        assert!(matches!(route("/auth/callbackx"), Route::Redirect));
        assert!(
            matches!(route("/auth/backchannel-logout"), Route::Redirect),
            "not a route of the layer while back-channel logout is off"
        );
        let on = shared_with(|b| b.with_backchannel_logout(true));
        let route = |path: &str| decide(&on, &request(path, &[HTML]));
        assert!(matches!(
            route("/auth/backchannel-logout"),
            Route::BackchannelLogout(0)
        ));
        assert!(matches!(
            route("/auth/backchannel-logout/default"),
            Route::Redirect
        ));
        assert!(matches!(route("/auth/loginx"), Route::Redirect));
    }

    #[test]
    fn a_numbered_provider_is_found_by_its_slug() {
        let s = app(|b| {
            b.add_provider(
                ProviderBuilder::new("staff")
                    .with_issuer(ISSUER)
                    .with_client_id("a"),
            )
            .add_provider(
                ProviderBuilder::new("guests")
                    .with_issuer("https://guests.example.com")
                    .with_client_id("b")
                    .with_backchannel_logout(true),
            )
        });
        let route = decide(&s, &request("/auth/login/guests", &[]));
        assert!(matches!(route, Route::Login(Some(1))));
        let route = |path: &str| decide(&s, &request(path, &[]));
        assert!(matches!(
            route("/auth/backchannel-logout/guests"),
            Route::BackchannelLogout(1)
        ));
        for off in [
            "/auth/backchannel-logout/staff",
            "/auth/backchannel-logout",
            "/auth/backchannel-logout/nobody",
        ] {
            assert!(matches!(route(off), Route::Unauthorized), "{off}");
        }
    }

    #[test]
    fn a_valid_session_passes_with_its_identity_and_is_marked_protected() {
        let s = shared_with(|b| b.add_public_path("/health"));
        let cookie = session_cookie(&s);
        let Route::Pass {
            identity,
            protected,
        } = decide(&s, &request("/", &[("cookie", &cookie)]))
        else {
            panic!("not passed");
        };
        assert_eq!(identity.unwrap().subject(), "248289761001");
        assert!(protected);
        // Cached after the first open: the second request is answered from the cache.
        assert!(s
            .cookies
            .memories
            .cache
            .get(
                cookie.split_once('=').unwrap().1.as_bytes(),
                s.config.clock.unix_seconds()
            )
            .is_some());
        let Route::Pass {
            identity,
            protected,
        } = decide(&s, &request("/health", &[("cookie", &cookie)]))
        else {
            panic!("not passed");
        };
        assert!(
            identity.is_some(),
            "a public path still sees who is signed in"
        );
        assert!(!protected);
    }

    #[test]
    fn without_a_session_navigation_is_redirected_and_anything_else_gets_401() {
        let s = shared_with(|b| b.add_public_path("/health"));
        assert!(matches!(
            decide(&s, &request("/reports", &[HTML])),
            Route::Redirect
        ));
        let api = request("/api/me", &[("accept", "application/json")]);
        assert!(matches!(decide(&s, &api), Route::Unauthorized));
        let forged = request("/", &[HTML, ("cookie", "oidc-session=forged")]);
        assert!(matches!(decide(&s, &forged), Route::Redirect));
        let public = decide(&s, &request("/health", &[HTML]));
        assert!(matches!(
            public,
            Route::Pass {
                identity: None,
                protected: false
            }
        ));
        // A dot segment never makes a path public.
        let dotted = decide(&s, &request("/health/../admin", &[HTML]));
        assert!(matches!(dotted, Route::Redirect));
    }

    #[test]
    fn public_paths_match_exactly_or_by_folder() {
        let s = shared_with(|b| b.add_public_path("/public").add_public_path("/static/"));
        let public = |path: &str| is_public(&s.config, path);
        assert!(public("/public"));
        assert!(!public("/public2"));
        assert!(!public("/public/"));
        assert!(public("/static/app.css"));
        assert!(public("/static/caf%C3%A9%20menu.css"));
        assert!(public("/static"));
        assert!(public("/static/"));
        assert!(!public("/"));
        assert!(!public("/staticx"));
    }

    #[test]
    fn a_path_that_could_be_read_as_another_is_never_public() {
        let s = shared_with(|b| b.add_public_path("/public").add_public_path("/static/"));
        for path in [
            "/static/../admin",
            "/static/./x",
            "/static/%2e%2E/admin",
            "/static/.%2e/admin",
            "/static/%252e%252e/admin",
            "/static/%25",
            "/static/..%2fadmin",
            "/static/..%2Fadmin",
            "/static/..%5cadmin",
            "/static/..\\admin",
            "/static\\..\\admin",
            "/static/..;/admin",
            "/public;jsessionid=x",
            "/static/x;/../admin",
            "/static/x%3b/admin",
            "/static//admin",
            "/static/x//",
            "/static/x%00.css",
            "/static/x%0a",
            "/static/x%7F",
            "/static/x%",
            "/static/x%2",
            "/static/x%zz",
        ] {
            assert!(!is_public(&s.config, path), "{path} must not be public");
            let route = decide(&s, &request(path, &[HTML]));
            assert!(matches!(route, Route::Redirect), "{path}: {route:?}");
        }
    }

    #[test]
    fn an_optional_session_passes_anonymous_requests() {
        let s = shared_with(|b| b.require_session(false));
        let route = decide(&s, &request("/", &[HTML]));
        assert!(matches!(
            route,
            Route::Pass {
                identity: None,
                protected: false
            }
        ));
    }

    #[test]
    fn a_session_of_a_provider_no_longer_configured_is_refused() {
        let s = shared();
        let cookie = session_cookie(&s);
        let other = app(|b| {
            b.with_issuer("https://other.example.com")
                .with_client_id("app")
                .with_client_secret("secret")
        });
        // Same cookie key, other issuer: the session names a provider `other` does not have.
        let route = decide(&other, &request("/", &[HTML, ("cookie", &cookie)]));
        assert!(matches!(route, Route::Redirect));
    }

    #[test]
    fn a_bearer_token_seen_before_passes_from_the_cache_without_io() {
        let s = shared_with(|b| {
            b.with_api_audience("https://api.example.com")
                .add_api_path("/api/")
        });
        let auth = ("authorization", "Bearer eyJ.eyJ.sig");
        // Not seen yet: verified by the flow (which may fetch keys).
        let route = decide(&s, &request("/api/me", &[auth, HTML]));
        assert!(
            matches!(route, Route::Token(TokenRoute::Verify)),
            "{route:?}"
        );
        let mut data = IdentityData::sample(1);
        data.expires_at = s.config.clock.unix_seconds() + 60;
        let until = data.expires_at;
        s.bearer.insert(
            &crate::bearer::cache::TokenDigest::of(b"eyJ.eyJ.sig"),
            Identity::from_data(data),
            until,
            0,
        );
        // Seen: passes right here, synchronously, with its identity; the cookie is not read.
        let cookie = ("cookie", "oidc-session=forged");
        let Route::Pass {
            identity,
            protected,
        } = decide(&s, &request("/api/me", &[auth, cookie]))
        else {
            panic!("not passed");
        };
        assert_eq!(identity.unwrap().subject(), "248289761001");
        assert!(protected);
        assert!(s.providers[0].cached_metadata().is_none(), "no I/O");
        // Outside the API paths the header is the app's business.
        let route = decide(&s, &request("/page", &[auth, HTML]));
        assert!(matches!(route, Route::Redirect), "{route:?}");
        let malformed = decide(&s, &request("/api/me", &[("authorization", "Bearer a b")]));
        assert!(matches!(malformed, Route::Token(TokenRoute::Malformed)));
    }

    #[test]
    fn without_an_api_audience_the_authorization_header_is_not_read() {
        let s = shared();
        let route = decide(
            &s,
            &request("/api/me", &[("authorization", "Bearer a b"), HTML]),
        );
        assert!(matches!(route, Route::Redirect), "{route:?}");
    }

    #[test]
    fn detects_navigation() {
        let parts = |method: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri("/");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert!(is_navigation(&parts("GET", &[("accept", "text/html,*/*")])));
        assert!(is_navigation(&parts(
            "GET",
            &[("sec-fetch-mode", "navigate"), ("accept", "*/*")]
        )));
        assert!(!is_navigation(&parts(
            "GET",
            &[("sec-fetch-mode", "cors"), ("accept", "text/html")]
        )));
        assert!(!is_navigation(&parts(
            "GET",
            &[("accept", "application/json")]
        )));
        assert!(!is_navigation(&parts("POST", &[("accept", "text/html")])));
        assert!(!is_navigation(&parts(
            "GET",
            &[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest")
            ]
        )));
    }
}
