//! [`ResponseFuture`]: the future returned by [`Oidc`](crate::Oidc).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::request::Parts;
use http::{header, HeaderMap, HeaderValue, Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use crate::body::ResponseBody;
use crate::extract::LayerMarker;
use crate::pages::Page;
use crate::route::{Loaded, Route};
use crate::shared::Shared;

type BoxPage = Pin<Box<dyn Future<Output = Page> + Send + 'static>>;
type BoxLoad = Pin<Box<dyn Future<Output = Loaded> + Send + 'static>>;

/// What a request waiting for its session from the store goes on with: the inner service
/// (the instance `poll_ready` made ready, taken out of the service) and the request.
struct Then<S, B> {
    shared: Arc<Shared>,
    service: S,
    parts: Parts,
    body: B,
}

/// A bearer token's verification: the inner service's future once it passed, or the page
/// that refuses it.
type BoxVerify<F> = Pin<Box<dyn Future<Output = Result<F, Page>> + Send + 'static>>;

/// What a passed request's response needs so that no cache keeps it for someone else.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Caching {
    /// A public path without a session: the response is the app's business.
    AsIs,
    /// A protected path: `Cache-Control: no-store` unless the app set its own, so the page is
    /// not replayed from the cache after logout (the back button) or shown to the next user of
    /// a shared computer.
    Protected,
    /// A public path that a signed-in user reached: the response may be made for them (their
    /// name in a header bar), so `Cache-Control: private, no-store` unless the app set its own,
    /// and `Vary: Cookie` so that no shared cache hands it to anyone else (RFC 9111 section
    /// 4.1, OWASP Session Management Cheat Sheet, "Web Content Caching").
    Personal,
}

impl Caching {
    /// The caching a passed request's response needs.
    pub(crate) fn of(protected: bool, signed_in: bool) -> Self {
        match (protected, signed_in) {
            (true, _) => Self::Protected,
            (false, true) => Self::Personal,
            (false, false) => Self::AsIs,
        }
    }
}

pin_project! {
    /// Response future of [`Oidc`](crate::Oidc).
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        kind: Kind<S, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<S, B>
    where
        S: Service<Request<B>>,
    {
        // The inner service's response, what its caching headers need, and the session
        // cookie re-issued on it (the cookie store's idle timeout).
        Inner { #[pin] future: S::Future, caching: Caching, renewed: Option<Box<HeaderValue>> },
        // A login, callback or logout handled by the layer.
        Own { future: BoxPage },
        // A session not cached yet, being loaded from the server-side store; then the request
        // goes on to the inner service or to a flow.
        Load { future: BoxLoad, then: Option<Then<S, B>> },
        // A bearer token seen for the first time, then the inner service's response.
        Verify { future: BoxVerify<S::Future> },
    }
}

impl<S, B> ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    pub(crate) fn inner(future: S::Future, caching: Caching) -> Self {
        Self::renewed(future, caching, None)
    }

    /// The inner service's response, with the re-issued session cookie `renewed` unless the
    /// app made the response cacheable.
    pub(crate) fn renewed(
        future: S::Future,
        caching: Caching,
        renewed: Option<Box<HeaderValue>>,
    ) -> Self {
        Self {
            kind: Kind::Inner {
                future,
                caching,
                renewed,
            },
        }
    }

    /// Verifies a bearer token, then answers with the inner future `future` yields (a
    /// protected response), or with its page.
    pub(crate) fn verify(
        future: impl Future<Output = Result<S::Future, Page>> + Send + 'static,
    ) -> Self {
        Self {
            kind: Kind::Verify {
                future: Box::pin(future),
            },
        }
    }

    pub(crate) fn own(future: impl Future<Output = Page> + Send + 'static) -> Self {
        Self {
            kind: Kind::Own {
                future: Box::pin(future),
            },
        }
    }

    /// Loads the session (`load`), then hands the request to `service` (already ready) or to
    /// a flow.
    pub(crate) fn load(
        load: impl Future<Output = Loaded> + Send + 'static,
        shared: Arc<Shared>,
        service: S,
        parts: Parts,
        body: B,
    ) -> Self {
        Self {
            kind: Kind::Load {
                future: Box::pin(load),
                then: Some(Then {
                    shared,
                    service,
                    parts,
                    body,
                }),
            },
        }
    }
}

impl<S, B> fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    type Output = Result<Response<ResponseBody<ResBody>>, S::Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            let mut kind = self.as_mut().project().kind;
            let next = match kind.as_mut().project() {
                KindProj::Load { future, then } => {
                    let loaded = ready!(future.as_mut().poll(cx));
                    // Polled again only after it is replaced below.
                    let Some(then) = then.take() else {
                        unreachable!("a loading future is replaced once its load is done");
                    };
                    then.go_on(loaded)
                }
                KindProj::Verify { future } => match ready!(future.as_mut().poll(cx)) {
                    Ok(future) => Kind::Inner {
                        future,
                        caching: Caching::Protected,
                        renewed: None,
                    },
                    Err(page) => return Poll::Ready(Ok(page.map(ResponseBody::own))),
                },
                other => return poll_ready_kind(other, cx),
            };
            kind.set(next);
        }
    }
}

impl<S, B, ResBody> Then<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    /// The request, its session loaded: to the inner service, or to a flow.
    fn go_on(self, loaded: Loaded) -> Kind<S, B> {
        let Then {
            shared,
            mut service,
            parts,
            body,
        } = self;
        match crate::route::after_load(&shared, &parts, loaded) {
            Route::Pass {
                identity,
                protected,
            } => {
                let (future, caching) = call_inner(&mut service, parts, body, identity, protected);
                Kind::Inner {
                    future,
                    caching,
                    renewed: None,
                }
            }
            // Not from a store's session: only the cookie store re-issues its cookie.
            Route::Renew {
                identity,
                protected,
            } => {
                let (future, caching) =
                    call_inner(&mut service, parts, body, Some(identity), protected);
                Kind::Inner {
                    future,
                    caching,
                    renewed: None,
                }
            }
            route => Kind::Own {
                future: Box::pin(async move { crate::flow::run(&shared, route, parts).await }),
            },
        }
    }
}

/// Calls the inner service with the request, the identity (or the marker that the layer saw
/// the request) in its extensions; the response's future and the caching it needs.
pub(crate) fn call_inner<S, B>(
    service: &mut S,
    mut parts: Parts,
    body: B,
    identity: Option<crate::identity::Identity>,
    protected: bool,
) -> (S::Future, Caching)
where
    S: Service<Request<B>>,
{
    let caching = Caching::of(protected, identity.is_some());
    if let Some(identity) = identity {
        parts.extensions.insert(identity);
    } else {
        parts.extensions.insert(LayerMarker);
    }
    (service.call(Request::from_parts(parts, body)), caching)
}

/// Polls the inner service's response or a flow's page.
fn poll_ready_kind<S, B, ResBody>(
    kind: KindProj<'_, S, B>,
    cx: &mut Context<'_>,
) -> Poll<Result<Response<ResponseBody<ResBody>>, S::Error>>
where
    S: Service<Request<B>, Response = Response<ResBody>>,
{
    match kind {
        KindProj::Load { .. } | KindProj::Verify { .. } => unreachable!("handled by the caller"),
        KindProj::Inner {
            future,
            caching,
            renewed,
        } => {
            let mut res = ready!(future.poll(cx))?;
            match caching {
                Caching::AsIs => {}
                Caching::Protected => {
                    // One lookup: a Cache-Control the app set itself stays.
                    res.headers_mut()
                        .entry(header::CACHE_CONTROL)
                        .or_insert(HeaderValue::from_static("no-store"));
                }
                Caching::Personal => personal(res.headers_mut()),
            }
            if let Some(cookie) = renewed.take() {
                add_renewed_cookie(res.headers_mut(), *cookie);
            }
            Poll::Ready(Ok(res.map(ResponseBody::inner)))
        }
        KindProj::Own { future } => {
            let page = ready!(future.as_mut().poll(cx));
            Poll::Ready(Ok(page.map(ResponseBody::own)))
        }
    }
}

/// Adds the re-issued session cookie, unless the app made the response cacheable by shared
/// caches (a `Cache-Control` without `no-store` or `private`), which must never store a
/// session cookie; the next request's response carries it instead.
fn add_renewed_cookie(headers: &mut HeaderMap, cookie: HeaderValue) {
    let personal = headers.get_all(header::CACHE_CONTROL).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',').map(str::trim).any(|d| {
                d.eq_ignore_ascii_case("no-store") || d.to_ascii_lowercase().starts_with("private")
            })
        })
    });
    if personal {
        headers.append(header::SET_COOKIE, cookie);
    }
}

/// Marks a response made for a signed-in user on a public path as theirs alone (see
/// [`Caching::Personal`]). Static header values: no allocation.
fn personal(headers: &mut HeaderMap) {
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("private, no-store"));
    let varies = headers.get_all(header::VARY).iter().any(|v| {
        v.to_str().is_ok_and(|v| {
            v.split(',')
                .map(str::trim)
                .any(|name| name == "*" || name.eq_ignore_ascii_case("cookie"))
        })
    });
    if !varies {
        headers.append(header::VARY, HeaderValue::from_static("Cookie"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caching_follows_the_route_and_the_session() {
        assert_eq!(Caching::of(true, true), Caching::Protected);
        assert_eq!(Caching::of(true, false), Caching::Protected);
        assert_eq!(Caching::of(false, true), Caching::Personal);
        assert_eq!(Caching::of(false, false), Caching::AsIs);
    }

    #[test]
    fn a_renewed_cookie_never_rides_on_a_response_shared_caches_may_keep() {
        let cookie = || HeaderValue::from_static("s=v; HttpOnly");
        for (policy, added) in [
            (Some("no-store"), true),
            (Some("private, max-age=60"), true),
            (Some("Private"), true),
            (Some("public, max-age=60"), false),
            (Some("max-age=60"), false),
            (None, false),
        ] {
            let mut h = HeaderMap::new();
            if let Some(p) = policy {
                h.insert(header::CACHE_CONTROL, HeaderValue::from_static(p));
            }
            add_renewed_cookie(&mut h, cookie());
            assert_eq!(h.contains_key(header::SET_COOKIE), added, "{policy:?}");
        }
    }

    #[test]
    fn a_personal_response_keeps_the_apps_policy_and_varies_on_the_cookie_once() {
        let mut h = HeaderMap::new();
        personal(&mut h);
        assert_eq!(h[header::CACHE_CONTROL], "private, no-store");
        assert_eq!(h[header::VARY], "Cookie");

        let mut h = HeaderMap::new();
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("private, max-age=60"),
        );
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        personal(&mut h);
        assert_eq!(h[header::CACHE_CONTROL], "private, max-age=60");
        let vary: Vec<_> = h.get_all(header::VARY).iter().collect();
        assert_eq!(vary, ["Accept-Encoding", "Cookie"]);

        for already in ["Accept, Cookie", "*"] {
            let mut h = HeaderMap::new();
            h.insert(header::VARY, HeaderValue::from_static(already));
            personal(&mut h);
            assert_eq!(h.get_all(header::VARY).iter().count(), 1, "{already}");
        }
    }
}
