//! [`ResponseFuture`]: the future returned by [`Oidc`](crate::Oidc).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use http::{header, HeaderValue, Response};
use pin_project_lite::pin_project;

use crate::body::ResponseBody;
use crate::pages::Page;

type BoxPage = Pin<Box<dyn Future<Output = Page> + Send + 'static>>;

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
        // The inner service's response; `no_store` marks a protected response as uncacheable.
        Inner { #[pin] future: F, no_store: bool },
        // A login, callback or logout handled by the layer.
        Own { future: BoxPage },
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn inner(future: F, no_store: bool) -> Self {
        Self {
            kind: Kind::Inner { future, no_store },
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

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future, no_store } => {
                let mut res = ready!(future.poll(cx))?;
                if *no_store {
                    // Protected pages must not be replayed from the cache after logout
                    // (the back button) or shown to the next user of a shared computer. One
                    // lookup: a Cache-Control the app set itself stays.
                    res.headers_mut()
                        .entry(header::CACHE_CONTROL)
                        .or_insert(HeaderValue::from_static("no-store"));
                }
                Poll::Ready(Ok(res.map(ResponseBody::inner)))
            }
            KindProj::Own { future } => {
                let page = ready!(future.as_mut().poll(cx));
                Poll::Ready(Ok(page.map(ResponseBody::own)))
            }
        }
    }
}
