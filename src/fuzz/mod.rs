//! The fuzz targets of `fuzz/` (feature `__fuzz`). Not a public API: hidden, unstable, and only
//! for fuzzing and its regression tests.
//!
//! Each target is one function here that takes the fuzzer's bytes, decodes its case from them
//! (with `arbitrary` where the input is structured), runs the crate's own functions on it, and
//! panics when a property does not hold, with a message saying which. The programs in
//! `fuzz/fuzz_targets/` only hand the bytes over:
//!
//! ```text
//! fuzz_target!(|data: &[u8]| tower_oidc::fuzz::session_cookie(data));
//! ```
//!
//! Being inside the crate, the targets call its internals directly: the same parsers, codecs,
//! checks and policy the layer runs. (The ID token target runs the header, key and signature
//! checks in the callback's order without the callback's JWKS refetch, which needs a provider.)
//! Beside the targets, thin helpers (`helpers.rs`, re-exported here) give
//! `tests/fuzz_regressions.rs` the same functions with plain types in and out, to pin findings
//! down.
//!
//! Every target records all `tracing` events (all levels) and fails if a secret appears in
//! them. Nothing leaves the process: the issuers point at a closed loopback port, so discovery
//! fails at once, and with the fixed clock a failed discovery is never retried.

mod callback_query;
mod extractors;
mod helpers;
mod id_token;
mod role_map_file;
mod session_cookie;
mod support;

pub use helpers::{
    admit, check_claims, decode_session, encode_session, login_cookie_name, open, open_login,
    parse_callback_query, parse_config_file, parse_jwks, provider_denied, safe_return_to, seal,
    seal_login, session_identity, verify_id_token, LOGIN_TTL_SECS, MAX_COOKIE_VALUE,
};

/// The session cookie decoder, the cookie codec, the login record and the `Cookie` header
/// parser: forged and edited cookies never open, sessions round-trip exactly within their
/// lifetime, authenticated garbage never panics or inflates (see `session_cookie.rs`).
pub fn session_cookie(data: &[u8]) {
    session_cookie::run(data);
}

/// The callback's query parser, the `error=` refusal, the return-to check, and the callback
/// route through the layer with a valid login cookie (see `callback_query.rs`).
pub fn callback_query(data: &[u8]) {
    callback_query::run(data);
}

/// ID tokens and claims: header, key selection, signature, the JWKS parser, the claim checks,
/// and the access policy, role map and identity that follow a valid token (see `id_token.rs`).
/// The first byte picks the mode: 0 a token, 1 a JWKS, 2 claims JSON, 3 a token the target
/// signs itself (a flags byte, then the claims).
pub fn id_token(data: &[u8]) {
    id_token::run(data);
}

/// The `OIDC_CONFIG_FILE` parser, the role maps built from it, the configuration built with it,
/// and `RoleMapBuilder` (see `role_map_file.rs`). The first byte picks the mode: 0 file text,
/// 1 file text with a secret line added, 2 structured role-map rules, 3 one key set to a marked
/// value.
pub fn role_map_file(data: &[u8]) {
    role_map_file::run(data);
}

/// The whole layer and the `Identity`, `Option<Identity>` and `PgRole` extractors, driven by
/// arbitrary requests with minted, edited and made-up cookies (see `extractors.rs`).
pub fn extractors(data: &[u8]) {
    extractors::run(data);
}
