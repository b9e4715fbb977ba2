//! axum extractors for [`Identity`] and their rejection.
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_oidc::Identity;
//!
//! async fn page(identity: Identity) -> String {
//!     format!("hello {}", identity.subject())
//! }
//!
//! async fn maybe(identity: Option<Identity>) -> &'static str {
//!     if identity.is_some() { "signed in" } else { "anonymous" }
//! }
//!
//! let app: Router = Router::new().route("/", get(page)).route("/public", get(maybe));
//! ```

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};

use crate::identity::Identity;

/// Put on every request the layer lets through without an identity, so the extractor can tell
/// "not signed in" from "the layer is not installed".
#[derive(Debug, Clone, Copy)]
pub(crate) struct LayerMarker;

/// Why an [`Identity`] could not be extracted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityRejection {
    /// The request has no valid session. Answered with 401 and a JSON body.
    #[error("not signed in")]
    Unauthenticated,
    /// `OidcLayer` is not installed around this route. Answered with 500.
    #[error("tower-oidc: OidcLayer is not installed around this route; add `.layer(OidcLayer::new(config))` to the router")]
    MissingLayer,
}

impl IntoResponse for IdentityRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Unauthenticated => {
                let mut res = (
                    StatusCode::UNAUTHORIZED,
                    [(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    )],
                    r#"{"error":"unauthenticated","message":"sign in first"}"#,
                )
                    .into_response();
                res.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static(crate::pages::WWW_AUTHENTICATE),
                );
                res
            }
            Self::MissingLayer => {
                tracing::error!(target: "tower_oidc", "{self}");
                (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
            }
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = IdentityRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(identity) => Ok(identity.clone()),
            None if parts.extensions.get::<LayerMarker>().is_some() => {
                Err(IdentityRejection::Unauthenticated)
            }
            None => Err(IdentityRejection::MissingLayer),
        }
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Identity {
    type Rejection = IdentityRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Identity>() {
            Some(identity) => Ok(Some(identity.clone())),
            None if parts.extensions.get::<LayerMarker>().is_some() => Ok(None),
            None => Err(IdentityRejection::MissingLayer),
        }
    }
}
