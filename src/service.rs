//! [`Oidc`]: the Tower service. `poll_ready` delegates; `call` decides ([`decide`]) and then
//! passes the request on or hands it to a flow.

use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::body::ResponseBody;
use crate::flow;
use crate::future::{call_inner, ResponseFuture};
use crate::route::{decide, Route, TokenRoute};
use crate::shared::Shared;

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
    S: Service<Request<ReqBody>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Future: 'static,
    // The back-channel logout route reads the body (axum's `Body` is one such).
    ReqBody: http_body::Body + Send + 'static,
    ReqBody::Data: Send,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S, ReqBody>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        let (parts, body) = req.into_parts();
        let shared = &self.shared;
        let mut expired = None;
        let route = decide(shared, &parts, &mut expired);
        if let Some(session) = &expired {
            flow::audit_trail::session_expired(shared, &parts, session);
        }
        match route {
            Route::Pass {
                identity,
                protected,
            } => {
                // The inner service is called right here, synchronously, so the instance that
                // `poll_ready` made ready is the one used. Were it called later from inside a
                // future, it would first have to be taken out with
                // `std::mem::replace(&mut self.inner, self.inner.clone())`, because a clone is
                // not necessarily ready (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
                let (future, caching) =
                    call_inner(&mut self.inner, parts, body, identity, protected);
                ResponseFuture::inner(future, caching)
            }
            Route::Renew {
                identity,
                protected,
            } => {
                let cookie = renewed_cookie(shared, &parts, &identity);
                // Called right here, as for `Route::Pass`.
                let (future, caching) =
                    call_inner(&mut self.inner, parts, body, Some(identity), protected);
                ResponseFuture::renewed(future, caching, cookie)
            }
            Route::Load { id } => {
                let shared = Arc::clone(shared);
                // The inner service is called later, from the future, once the session is
                // loaded: the instance `poll_ready` made ready is taken out, and a clone left
                // in its place, because a clone is not necessarily ready
                // (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let load = crate::route::load(Arc::clone(&shared), &parts, id);
                // Refreshed first when its tokens are due.
                let load = flow::refresh::after_load(Arc::clone(&shared), &parts, load);
                ResponseFuture::load(load, shared, ready, parts, body)
            }
            Route::Refresh { identity } => {
                let shared = Arc::clone(shared);
                // As for `Load`: the ready instance is taken out before the async refresh
                // (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let refresh = flow::refresh::session(Arc::clone(&shared), &parts, identity);
                ResponseFuture::load(refresh, shared, ready, parts, body)
            }
            Route::Token(TokenRoute::Verify) => {
                // The token is verified asynchronously (a key may have to be fetched), so the
                // ready instance is taken out before the async work and a clone left in its
                // place (https://docs.rs/tower/latest/tower/trait.Service.html#be-careful-when-cloning-inner-services).
                let clone = self.inner.clone();
                let mut ready = std::mem::replace(&mut self.inner, clone);
                let shared = Arc::clone(shared);
                ResponseFuture::verify(async move {
                    let identity = flow::bearer::authenticate(&shared, &parts).await?;
                    let (future, _) = call_inner(&mut ready, parts, body, Some(identity), true);
                    Ok(future)
                })
            }
            Route::Callback if parts.method == http::Method::POST => {
                // A form_post authorization response: the callback reads the body.
                let shared = Arc::clone(shared);
                ResponseFuture::own(async move {
                    flow::callback::handle_form_post(&shared, &parts, body).await
                })
            }
            Route::BackchannelLogout(index) => {
                let shared = Arc::clone(shared);
                ResponseFuture::own(async move {
                    flow::backchannel_logout::handle(&shared, index, &parts, body).await
                })
            }
            route => {
                let shared = Arc::clone(shared);
                ResponseFuture::own(async move { flow::run(&shared, route, parts).await })
            }
        }
    }
}

/// The re-issued session cookie of a request whose cookie's record of use is a minute old (the
/// cookie store's idle timeout).
fn renewed_cookie(
    shared: &Shared,
    parts: &http::request::Parts,
    identity: &crate::identity::Identity,
) -> Option<Box<http::HeaderValue>> {
    let cookies = &shared.cookies;
    let old = crate::session::request_cookie(&parts.headers, &cookies.names.session)?;
    let now = shared.config.clock.unix_seconds();
    crate::session::renew(cookies, old, identity, now).map(Box::new)
}
