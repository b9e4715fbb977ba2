//! The session cookie decoder, the cookie codec, the login record and the `Cookie` header parser.
//!
//! The target lives in the crate: `tower_oidc::fuzz::session_cookie` (its input format and the
//! properties it checks are documented there, in `src/fuzz/session_cookie.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tower_oidc::fuzz::session_cookie(data));
