//! Bearer access tokens (RFC 6750) for the app's API: what the layer needs before and after a
//! token is verified (the verification itself is [`crate::flow`]'s `bearer` step, the checks
//! [`crate::access_token`]).
//!
//! - [`header`]: the `Authorization` header, read once: Bearer, another scheme, or malformed;
//! - [`cache`]: tokens already verified, keyed by their SHA-256, never past their `exp`;
//! - [`challenge`]: the RFC 6750 answers (`WWW-Authenticate: Bearer ...`).
//!
//! The scope check for handlers is `crate::scope` (at the Tower edge, beside the extractors).

pub(crate) mod cache;
pub(crate) mod challenge;
pub(crate) mod header;

pub(crate) use cache::TokenCache;
