//! The identity policy, decided from the claims at every login (nothing is sticky), pure and
//! without I/O: the access rules and admin flag ([`access`]), the role map from group claims
//! to one PostgreSQL role ([`role_map`]), the claim paths they read ([`claim_path`]), and the
//! role name itself ([`pg_role`]).

pub(crate) mod access;
pub(crate) mod claim_path;
pub(crate) mod pg_role;
pub(crate) mod role_map;

pub(crate) use access::{email_verified, AccessRules, DomainPattern, Grant, Policy};
pub use claim_path::{ClaimPath, GroupsClaimError};
pub(crate) use pg_role::quote_ident;
pub use pg_role::{InvalidRoleName, PgRole, MAX_ROLE_NAME_BYTES};
pub use role_map::{GroupMatching, RoleMap, RoleMapBuilder, RoleRule};
pub(crate) use role_map::{RoleSource, RuleLines};
