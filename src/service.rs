//! [`Oidc`]: the Tower service, and [`decide`], the pure routing decision it makes per request.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::request::Parts;
use http::{Request, Response};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::config::OidcConfig;
use crate::extract::LayerMarker;
use crate::future::ResponseFuture;
use crate::identity::Identity;
use crate::provider::Provider;
use crate::session::{decode_session, request_cookie, Cookies};
use crate::{callback, login, logout, pages};

/// What the layer and its services share: configuration, providers and cookie keys.
pub(crate) struct Shared {
    pub(crate) config: OidcConfig,
    pub(crate) providers: Vec<Provider>,
    pub(crate) cookies: Cookies,
}

impl Shared {
    pub(crate) fn new(config: OidcConfig) -> Self {
        // jsonwebtoken panics at first use when it cannot tell which crypto backend to use
        // (for example when another crate enables its other backend too); choose ours.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let providers = config
            .providers
            .iter()
            .map(|p| Provider::new(p, &config))
            .collect();
        let cookies = Cookies::new(&config);
        for p in &config.providers {
            tracing::info!(
                target: "tower_oidc",
                provider = p.slug.as_str(),
                issuer = p.issuer.as_str(),
                redirect_uri = %p.redirect_uri,
                "register this redirect URI at the identity provider",
            );
        }
        Self {
            config,
            providers,
            cookies,
        }
    }

    pub(crate) fn default_provider(&self) -> &Provider {
        // `OidcConfigBuilder::build` always produces at least one provider.
        &self.providers[0]
    }

    /// The provider a login record or session names, matched by slug and issuer together.
    pub(crate) fn provider_for(&self, slug: &str, issuer: &str) -> Option<&Provider> {
        self.providers
            .iter()
            .find(|p| p.config.slug.as_str() == slug && p.config.issuer.as_str() == issuer)
    }
}

impl fmt::Debug for Shared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Shared")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// What to do with a request. Computed without I/O by [`decide`].
#[derive(Debug)]
pub(crate) enum Decision {
    /// Forward to the inner service, with the identity when there is a valid session.
    /// `protected` marks responses that must not be cached.
    Pass {
        identity: Option<Identity>,
        protected: bool,
    },
    /// The explicit login route: with a provider (its index), or without (the default
    /// provider, or the chooser page when there is a choice).
    Login(Option<usize>),
    /// `/auth/login/{slug}` with a slug no provider has.
    UnknownProvider,
    /// The providers as JSON.
    Providers,
    /// The redirect URI.
    Callback,
    /// The logout route.
    Logout,
    /// No session, browser navigation: redirect to the provider.
    Redirect,
    /// No session, anything else: 401.
    Unauthorized,
}

/// Decides what to do with a request, from its head alone. The hot path (a valid session)
/// reads one cookie and opens it: no I/O, no lock.
pub(crate) fn decide(shared: &Shared, parts: &Parts) -> Decision {
    let config = &shared.config;
    let path = parts.uri.path();
    if let Some(rest) = path.strip_prefix(config.callback_path.as_str()) {
        // `/auth/callback`, or a provider's `/auth/callback/{slug}`; the callback checks that
        // the route belongs to the provider its login was started with.
        if rest.is_empty() || rest.starts_with('/') {
            return Decision::Callback;
        }
    }
    if path == config.logout_path {
        return Decision::Logout;
    }
    if path == config.providers_path {
        return Decision::Providers;
    }
    if let Some(rest) = path.strip_prefix(config.login_path.as_str()) {
        if rest.is_empty() {
            return Decision::Login(None);
        }
        if let Some(slug) = rest.strip_prefix('/') {
            return match config
                .providers
                .iter()
                .position(|p| p.slug.as_str() == slug)
            {
                Some(i) => Decision::Login(Some(i)),
                None => Decision::UnknownProvider,
            };
        }
    }
    let identity = request_cookie(&parts.headers, &shared.cookies.names.session)
        .and_then(|value| session(shared, value));
    let public = config.is_public(path);
    match identity {
        Some(identity) => Decision::Pass {
            identity: Some(identity),
            protected: !public,
        },
        None if public || !config.require_session => Decision::Pass {
            identity: None,
            protected: false,
        },
        // AUTH_METHOD=both: the app's own login recognises this request.
        None if config
            .local_session
            .as_ref()
            .is_some_and(|is_signed_in| is_signed_in(parts)) =>
        {
            Decision::Pass {
                identity: None,
                protected: true,
            }
        }
        None if login::is_navigation(parts) => Decision::Redirect,
        None => Decision::Unauthorized,
    }
}

/// The identity of a session cookie value: from the cache, or opened and then cached.
fn session(shared: &Shared, value: &str) -> Option<Identity> {
    let cookies = &shared.cookies;
    let now = shared.config.clock.unix_seconds();
    if let Some(identity) = cookies.cache.get(value, now) {
        return Some(identity);
    }
    let data = decode_session(&cookies.codec, &cookies.names, value, now)?;
    shared.provider_for(&data.provider, &data.issuer)?;
    if cookies.revoked.is_revoked(&data.session_id) {
        return None;
    }
    let identity = Identity::from_data(data);
    cookies.cache.insert(value, identity.clone(), now);
    // A logout may have revoked the session between the check above and the insert; it
    // revokes before it removes the cache entry, so checking again after inserting closes the
    // window.
    if cookies.revoked.is_revoked(identity.session_id()) {
        cookies.cache.remove(value);
        return None;
    }
    Some(identity)
}

/// The service made by [`OidcLayer`](crate::OidcLayer). See the crate docs for its behaviour.
pub struct Oidc<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl<S> Oidc<S> {
    pub(crate) fn new(inner: S, shared: Arc<Shared>) -> Self {
        Self { inner, shared }
    }
}

impl<S: Clone> Clone for Oidc<S> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            shared: self.shared.clone(),
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for Oidc<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Oidc")
            .field("inner", &self.inner)
            .field("shared", &self.shared)
            .finish()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for Oidc<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let shared = &self.shared;
        match decide(shared, &parts) {
            Decision::Pass {
                identity,
                protected,
            } => {
                if let Some(identity) = identity {
                    parts.extensions.insert(identity);
                } else {
                    parts.extensions.insert(LayerMarker);
                }
                // The inner service is called right here, synchronously, so the instance that
                // `poll_ready` made ready is the one used. Were it called later from inside a
                // future, it would first have to be taken out with
                // `std::mem::replace(&mut self.inner, self.inner.clone())`, because a clone is
                // not necessarily ready (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
                let future = self.inner.call(Request::from_parts(parts, body));
                ResponseFuture::inner(future, protected)
            }
            decision => {
                let shared = Arc::clone(shared);
                ResponseFuture::own(async move { handle(&shared, decision, parts).await })
            }
        }
    }
}

async fn handle(shared: &Shared, decision: Decision, parts: Parts) -> pages::Page {
    let config = &shared.config;
    let base = &config.base_url;
    match decision {
        Decision::Callback => callback::handle(shared, &parts).await,
        Decision::Logout => logout::handle(shared, &parts).await,
        Decision::Providers => pages::providers_json(config),
        Decision::UnknownProvider => pages::unknown_provider(config, parts.uri.path()),
        Decision::Login(Some(i)) => {
            let return_to = login::requested_return_to(base, &parts);
            login::start(shared, &shared.providers[i], &parts, return_to).await
        }
        Decision::Login(None) => {
            let return_to = login::requested_return_to(base, &parts);
            if config.offers_choice() {
                return pages::chooser(config, &return_to);
            }
            login::start(shared, shared.default_provider(), &parts, return_to).await
        }
        Decision::Redirect => {
            let return_to = login::current_target(base, &parts);
            if config.offers_choice() {
                return pages::chooser(config, &return_to);
            }
            login::start(shared, shared.default_provider(), &parts, return_to).await
        }
        Decision::Unauthorized | Decision::Pass { .. } => {
            pages::unauthorized_json(&shared.config.login_path)
        }
    }
}
