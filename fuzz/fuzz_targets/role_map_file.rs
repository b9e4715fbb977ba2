//! The `OIDC_CONFIG_FILE` parser, the role maps and configurations built from it, `RoleMapBuilder`.
//!
//! The target lives in the crate: `tower_oidc::fuzz::role_map_file` (its input format and the
//! properties it checks are documented there, in `src/fuzz/role_map_file.rs`).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| tower_oidc::fuzz::role_map_file(data));
