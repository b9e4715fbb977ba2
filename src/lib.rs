#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod access_token;
mod audit;
mod bearer;
mod body;
mod client_ip;
mod clock;
mod config;
pub mod diagnostics;
mod dpop;
mod error;
mod extract;
mod flow;
mod future;
#[cfg(feature = "__fuzz")]
#[doc(hidden)]
pub mod fuzz;
mod hook;
mod id_token;
mod identity;
mod introspected_token;
mod jwt;
mod layer;
mod logout_token;
mod meter;
mod page_hook;
mod pages;
pub mod pg;
mod policy;
mod provider;
mod random;
mod rate_limit;
mod route;
mod scope;
mod secret;
mod service;
mod session;
mod shared;
mod store;
mod userinfo_token;

pub use audit::{AuditEvent, AuditKind, AuditSink, TracingAuditSink};
pub use body::ResponseBody;
#[cfg(feature = "test-util")]
pub use clock::TestClock;
pub use clock::{Clock, SystemClock};
pub use config::{
    AssertionAudience, AuthMethod, ClaimNames, ClientId, ClientSecret, ConfiguredProvider,
    ForwardedHeader, IssuerUrl, OidcConfig, OidcConfigBuilder, ProviderBuilder, ProviderSlug,
    ResponseMode, TokenAuthMethod, UnusedVariable, UserinfoPolicy, DEFAULT_SCOPE, MAX_LEEWAY,
};
pub use error::{AuthError, AuthErrorKind, ConfigError, ConfigProblem};
pub use extract::IdentityRejection;
pub use future::ResponseFuture;
pub use hook::{LoginAttempt, LoginDecision};
#[cfg(feature = "test-util")]
pub use identity::IdentityBuilder;
pub use identity::{Credential, Identity};
pub use layer::OidcLayer;
pub use page_hook::{escape_html, LayerPage, PageLink};
pub use policy::{
    ClaimPath, GroupMatching, GroupsClaimError, InvalidRoleName, PgRole, RoleMap, RoleMapBuilder,
    RoleRule, MAX_ROLE_NAME_BYTES,
};
pub use scope::{InsufficientScope, Scope, ScopeRejection, Scoped};
pub use secret::AccessToken;
pub use service::Oidc;
pub use store::{SessionsError, UserSession};
