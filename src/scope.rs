//! Scopes for handlers: [`Identity::require_scope`] and the [`Scoped`] extractor, answering
//! 403 `insufficient_scope` (RFC 6750 section 3.1).
//!
//! ```
//! use axum::{routing::get, Router};
//! use tower_oidc::{Identity, InsufficientScope, Scope, Scoped};
//!
//! /// The scope that lets a client read reports.
//! struct ReadReports;
//! impl Scope for ReadReports {
//!     const NAME: &'static str = "reports:read";
//! }
//!
//! async fn reports(Scoped(me, ..): Scoped<ReadReports>) -> String {
//!     format!("reports for {}", me.subject())
//! }
//!
//! async fn delete(me: Identity) -> Result<&'static str, InsufficientScope> {
//!     me.require_scope("reports:write")?;
//!     Ok("deleted")
//! }
//!
//! let app: Router = Router::new()
//!     .route("/api/reports", get(reports))
//!     .route("/api/reports/delete", get(delete));
//! ```

use std::marker::PhantomData;

use axum::extract::FromRequestParts;
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{header, HeaderValue, StatusCode};

use crate::bearer::challenge::REALM;
use crate::extract::IdentityRejection;
use crate::identity::{Credential, Identity};

/// A scope a handler requires, named by a type for [`Scoped`].
pub trait Scope {
    /// The scope, as the provider writes it in the token's `scope` claim.
    const NAME: &'static str;
}

/// The [`Identity`] of a request whose access token grants the scope `S`; otherwise 403
/// `insufficient_scope` (or the [`Identity`] extractor's own rejection without an identity).
///
/// # Security
/// Scopes limit what a client may do for its user; a session cookie is the user in person,
/// so a session passes every scope check. Routes that must be reached by tokens alone are
/// set with [`require_bearer_on_api_paths`](crate::OidcConfigBuilder::require_bearer_on_api_paths).
#[derive(Debug)]
pub struct Scoped<S: Scope>(pub Identity, pub PhantomData<S>);

/// The access token does not grant a scope the handler requires: 403 with
/// `WWW-Authenticate: Bearer realm="tower-oidc", error="insufficient_scope", scope="..."`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the access token does not grant the scope this request needs")]
pub struct InsufficientScope {
    scope: &'static str,
}

impl InsufficientScope {
    /// The scope that was required.
    pub fn scope(&self) -> &'static str {
        self.scope
    }
}

impl Identity {
    /// Whether the bearer access token grants `scope` (sessions pass, see [`Scoped`]);
    /// `Err` answers 403 `insufficient_scope`.
    pub fn require_scope(&self, scope: &'static str) -> Result<(), InsufficientScope> {
        let granted = match self.credential() {
            Credential::Session => true,
            _ => self.scopes().iter().any(|s| s == scope),
        };
        if granted {
            Ok(())
        } else {
            Err(InsufficientScope { scope })
        }
    }
}

impl IntoResponse for InsufficientScope {
    fn into_response(self) -> Response {
        // A scope is `scope-token = 1*( %x21 / %x23-5B / %x5D-7E )` (RFC 6749 section 3.3);
        // anything else is left out of the header rather than quoted wrongly.
        let token = self
            .scope
            .bytes()
            .all(|b| matches!(b, 0x21 | 0x23..=0x5B | 0x5D..=0x7E));
        let challenge = if token {
            format!(
                "Bearer realm=\"{REALM}\", error=\"insufficient_scope\", scope=\"{}\"",
                self.scope
            )
        } else {
            format!("Bearer realm=\"{REALM}\", error=\"insufficient_scope\"")
        };
        let body = serde_json::json!({
            "error": "insufficient_scope",
            "error_description": "the access token does not grant the scope this request needs",
            "scope": self.scope,
        });
        let mut res = (
            StatusCode::FORBIDDEN,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.to_string(),
        )
            .into_response();
        if let Ok(value) = HeaderValue::try_from(challenge) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, value);
        }
        res
    }
}

/// Why [`Scoped`] could not be extracted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScopeRejection {
    /// No identity (the [`Identity`] extractor's rejection).
    #[error(transparent)]
    Identity(#[from] IdentityRejection),
    /// The token lacks the scope.
    #[error(transparent)]
    Scope(#[from] InsufficientScope),
}

impl IntoResponse for ScopeRejection {
    fn into_response(self) -> Response {
        match self {
            Self::Identity(r) => r.into_response(),
            Self::Scope(r) => r.into_response(),
        }
    }
}

impl<T: Send + Sync, S: Scope> FromRequestParts<T> for Scoped<S> {
    type Rejection = ScopeRejection;

    async fn from_request_parts(parts: &mut Parts, state: &T) -> Result<Self, Self::Rejection> {
        let identity = <Identity as FromRequestParts<T>>::from_request_parts(parts, state).await?;
        identity.require_scope(S::NAME)?;
        Ok(Scoped(identity, PhantomData))
    }
}
