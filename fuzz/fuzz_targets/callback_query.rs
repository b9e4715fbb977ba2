//! The callback's query parser, the `error=` refusal, the return-to check and the callback route.
//!
//! The target lives in the crate: `tower_oidc::fuzz::callback_query` (its input format and the
//! properties it checks are documented there, in `src/fuzz/callback_query.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tower_oidc::fuzz::callback_query(data));
