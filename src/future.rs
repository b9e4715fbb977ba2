//! [`ResponseFuture`]: the future returned by [`Oidc`](crate::Oidc).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{header, HeaderMap, HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::pages::Page;

type BoxPage = Pin<Box<dyn Future<Output = Page> + Send + 'static>>;
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
    pub struct ResponseFuture<F> {
        #[pin]
        kind: Kind<F>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F> {
        // The inner service's response, and what its caching headers need.
        Inner { #[pin] future: F, caching: Caching },
        // A login, callback or logout handled by the layer.
        Own { future: BoxPage },
        // A bearer token seen for the first time, then the inner service's response.
        Verify { future: BoxVerify<F> },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F, caching: Caching) -> Self {
        Self {
            kind: Kind::Inner { future, caching },
        }
    }

    /// Verifies a bearer token, then answers with the inner future `future` yields (a
    /// protected response), or with its page.
    pub(crate) fn verify(future: impl Future<Output = Result<F, Page>> + Send + 'static) -> Self {
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
}

impl<F> fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let KindProj::Verify { future } = self.as_mut().project().kind.project() {
            match ready!(future.as_mut().poll(cx)) {
                Ok(inner) => self.as_mut().project().kind.set(Kind::Inner {
                    future: inner,
                    caching: Caching::Protected,
                }),
                Err(page) => return Poll::Ready(Ok(page.map(ResponseBody::own))),
            }
        }
        match self.project().kind.project() {
            KindProj::Inner { future, caching } => {
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
                Poll::Ready(Ok(res.map(ResponseBody::inner)))
            }
            KindProj::Own { future } => {
                let page = ready!(future.as_mut().poll(cx));
                Poll::Ready(Ok(page.map(ResponseBody::own)))
            }
            // Replaced by `Inner` above once it is done.
            KindProj::Verify { .. } => Poll::Pending,
        }
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
