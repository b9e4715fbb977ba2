//! axum extractors for [`Identity`], [`PgRole`] and [`AccessToken`], and their rejection.
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
//! // The user's one PostgreSQL role (403 when the user has none).
//! async fn role(role: tower_oidc::PgRole) -> String {
//!     role.set_local_role()
//! }
//!
//! // The user's access token at the provider (server-side session stores), to call APIs
//! // on their behalf; refreshed first when it was due (`OIDC_REFRESH`).
//! async fn token(token: tower_oidc::AccessToken) -> String {
//!     format!("valid until {}", token.expires_at())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/", get(page))
//!     .route("/token", get(token))
//!     .route("/public", get(maybe))
//!     .route("/role", get(role));
//! ```

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};

use crate::identity::Identity;
use crate::policy::PgRole;
use crate::secret::AccessToken;

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
    /// The user is signed in but has no PostgreSQL role: no role map is configured. (With a
    /// role map, a user without a role cannot sign in at all.) Answered with 403 and JSON.
    #[error("your account has no role in this application")]
    NoRole,
    /// The session holds no access token (the cookie store keeps none, or the provider issued
    /// none), asked for by the [`AccessToken`] extractor. Answered with 401 and JSON.
    #[error("this session holds no access token")]
    NoAccessToken,
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
            Self::NoRole => (
                StatusCode::FORBIDDEN,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                r#"{"error":"no_role","message":"your account has no role in this application"}"#,
            )
                .into_response(),
            Self::NoAccessToken => (
                StatusCode::UNAUTHORIZED,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                r#"{"error":"no_access_token","message":"this session holds no access token"}"#,
            )
                .into_response(),
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

/// The session's current access token (refreshed first when it was due); 401 without a
/// session or when the session holds none.
impl<S: Send + Sync> FromRequestParts<S> for AccessToken {
    type Rejection = IdentityRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = <Identity as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        identity
            .access_token()
            .cloned()
            .ok_or(IdentityRejection::NoAccessToken)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PgRole {
    type Rejection = IdentityRejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let identity = <Identity as FromRequestParts<S>>::from_request_parts(parts, state).await?;
        identity.role().cloned().ok_or(IdentityRejection::NoRole)
    }
}
