//! ID tokens and claims, the JWKS parser, and the login policy behind a valid token.
//!
//! The target lives in the crate: `tower_oidc::fuzz::id_token` (its input format and the
//! properties it checks are documented there, in `src/fuzz/id_token.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tower_oidc::fuzz::id_token(data));
