//! The whole layer and its extractors, driven by arbitrary requests.
//!
//! The target lives in the crate: `tower_oidc::fuzz::extractors` (its input format and the
//! properties it checks are documented there, in `src/fuzz/extractors.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tower_oidc::fuzz::extractors(data));
