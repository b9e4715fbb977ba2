//! [`RoleMap`]: the user's group claims to exactly one [`PgRole`]. Pure, no I/O.
//!
//! Rules are tried in the order written and the first rule whose group the user has wins; a user
//! whose groups match no rule gets the default role, or, without one, no role at all (the layer
//! then refuses the login with 403).
//!
//! ```
//! use serde_json::json;
//! use tower_oidc::RoleMap;
//!
//! // The default: the `groups` claim, exact comparison, no default role.
//! let map = RoleMap::builder()
//!     .add_rule("admins", "app_admin")
//!     .add_rule("readers", "app_reader")
//!     .build()?;
//! let claims = json!({"groups": ["readers", "admins"]});
//! assert_eq!(map.resolve(claims.as_object().unwrap())?.unwrap().as_str(), "app_admin");
//!
//! // Customised for Keycloak realm roles: a nested claim, any case, a default role.
//! let map = RoleMap::builder()
//!     .with_claim("realm_access.roles")
//!     .ignore_case(true)
//!     .add_rule("Admins", "app_admin")
//!     .with_default_role("viewer")
//!     .build()?;
//! let claims = json!({"realm_access": {"roles": ["ADMINS"]}});
//! assert_eq!(map.resolve(claims.as_object().unwrap())?.unwrap().as_str(), "app_admin");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;

use serde_json::{Map, Value};

use crate::error::{ConfigError, ConfigProblem};

use super::claim_path::{ClaimPath, GroupsClaimError};
use super::pg_role::PgRole;

/// How group names from the token are compared with the groups written in rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct GroupMatching {
    /// Compare ignoring case (Unicode lowercase on both sides). Default: exact.
    pub ignore_case: bool,
    /// Drop one leading `/` on both sides, for Keycloak's group paths (`/admins`). Default: no.
    pub strip_leading_slash: bool,
}

impl GroupMatching {
    /// The group as it is compared: borrowed unless case must be folded.
    pub(crate) fn normalize<'a>(&self, group: &'a str) -> Cow<'a, str> {
        let group = if self.strip_leading_slash {
            group.strip_prefix('/').unwrap_or(group)
        } else {
            group
        };
        // Non-ASCII is always folded: titlecase letters are not `is_uppercase` yet lowercase
        // to something else.
        if self.ignore_case && (!group.is_ascii() || group.bytes().any(|b| b.is_ascii_uppercase()))
        {
            Cow::Owned(group.to_lowercase())
        } else {
            Cow::Borrowed(group)
        }
    }
}

/// One rule: members of `group` act as `role`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRule {
    group: String,
    role: PgRole,
}

impl RoleRule {
    /// The group name as written.
    pub fn group(&self) -> &str {
        &self.group
    }

    /// The role its members get.
    pub fn role(&self) -> &PgRole {
        &self.role
    }
}

/// A fast hasher for the rule index: its keys come from configuration and lookups cannot
/// degrade it (at most one hash per user group), so flooding resistance is not needed.
type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<rustc_hash::FxHasher>>;

/// Group claims to one PostgreSQL role (the `[roles]` table of `OIDC_CONFIG_FILE`).
#[derive(Clone)]
pub struct RoleMap {
    claim: ClaimPath,
    claim_is_default: bool,
    default: Option<PgRole>,
    rules: Vec<RoleRule>,
    matching: GroupMatching,
    /// Normalised group -> index of the first rule naming it.
    index: FastMap<Box<str>, usize>,
    /// The byte lengths of the index's keys: bit `n` for a key of `n < 64` bytes, bit 63 also
    /// for every longer key. Most of a user's groups are ruled out by length without hashing.
    lengths: u64,
}

impl fmt::Debug for RoleMap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RoleMap")
            .field("claim", &self.claim)
            .field("default", &self.default)
            .field("rules", &self.rules)
            .field("matching", &self.matching)
            .finish()
    }
}

impl RoleMap {
    /// Starts a role map reading the `groups` claim.
    pub fn builder() -> RoleMapBuilder {
        RoleMapBuilder::default()
    }

    /// The claim holding the groups.
    pub fn claim(&self) -> &ClaimPath {
        &self.claim
    }

    /// Whether the claim was left to default to the groups claim (`OIDC_GROUPS_CLAIM`).
    pub(crate) fn claim_is_default(&self) -> bool {
        self.claim_is_default
    }

    pub(crate) fn set_claim(&mut self, claim: ClaimPath) {
        self.claim = claim;
    }

    /// The role of users whose groups match no rule.
    pub fn default_role(&self) -> Option<&PgRole> {
        self.default.as_ref()
    }

    /// The rules, in the order they are tried.
    pub fn rules(&self) -> &[RoleRule] {
        &self.rules
    }

    /// How group names are compared.
    pub fn matching(&self) -> GroupMatching {
        self.matching
    }

    /// Every role the map can hand out, each once, in rule order and then the default.
    pub fn roles(&self) -> Vec<&PgRole> {
        let mut roles: Vec<&PgRole> = Vec::new();
        for role in self
            .rules
            .iter()
            .map(|r| &r.role)
            .chain(self.default.as_ref())
        {
            if !roles.contains(&role) {
                roles.push(role);
            }
        }
        roles
    }

    /// The role for these claims: the first rule whose group is among the user's groups,
    /// else the default; `Ok(None)` when neither applies.
    pub fn resolve(&self, claims: &Map<String, Value>) -> Result<Option<PgRole>, GroupsClaimError> {
        let groups = self.claim.groups(claims)?;
        Ok(self.resolve_groups(groups.iter().copied()).cloned())
    }

    /// The role for a list of group names (see [`resolve`](Self::resolve)).
    pub fn resolve_groups<'g>(&self, groups: impl IntoIterator<Item = &'g str>) -> Option<&PgRole> {
        let mut best: Option<usize> = None;
        let mut buf = [0u8; 128];
        for group in groups {
            let group = match self.matching.strip_leading_slash {
                true => group.strip_prefix('/').unwrap_or(group),
                false => group,
            };
            let key = if group.is_ascii() {
                // ASCII keeps its length when folded: rule it out by length first.
                if self.lengths & length_bit(group.len()) == 0 {
                    continue;
                }
                if self.matching.ignore_case && group.len() <= buf.len() {
                    // Fold on the stack; only other scripts need an allocation.
                    let folded = &mut buf[..group.len()];
                    folded.copy_from_slice(group.as_bytes());
                    folded.make_ascii_lowercase();
                    Cow::Borrowed(std::str::from_utf8(folded).unwrap_or_default())
                } else {
                    GroupMatching {
                        strip_leading_slash: false,
                        ..self.matching
                    }
                    .normalize(group)
                }
            } else {
                let key = GroupMatching {
                    strip_leading_slash: false,
                    ..self.matching
                }
                .normalize(group);
                if self.lengths & length_bit(key.len()) == 0 {
                    continue;
                }
                key
            };
            if let Some(&i) = self.index.get(&*key) {
                if best.is_none_or(|b| i < b) {
                    best = Some(i);
                    if i == 0 {
                        break;
                    }
                }
            }
        }
        match best {
            Some(i) => Some(&self.rules[i].role),
            None => self.default.as_ref(),
        }
    }
}

/// Builds a [`RoleMap`]; [`build`](Self::build) validates every rule and reports all problems.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct RoleMapBuilder {
    claim: Option<String>,
    default: Option<String>,
    rules: Vec<(String, String)>,
    matching: GroupMatching,
}

impl RoleMapBuilder {
    /// The claim holding the groups (default: the groups claim, `OIDC_GROUPS_CLAIM` or
    /// `groups`); a dotted path reaches nested claims.
    pub fn with_claim(mut self, claim: impl Into<String>) -> Self {
        self.claim = Some(claim.into());
        self
    }

    /// The role of users whose groups match no rule. Without one they are refused.
    pub fn with_default_role(mut self, role: impl Into<String>) -> Self {
        self.default = Some(role.into());
        self
    }

    /// Adds a rule: members of `group` act as `role`. Rules are tried in the order added.
    pub fn add_rule(mut self, group: impl Into<String>, role: impl Into<String>) -> Self {
        self.rules.push((group.into(), role.into()));
        self
    }

    /// Compare group names ignoring case.
    pub fn ignore_case(mut self, yes: bool) -> Self {
        self.matching.ignore_case = yes;
        self
    }

    /// Drop a leading `/` from group names before comparing (Keycloak group paths).
    pub fn strip_leading_slash(mut self, yes: bool) -> Self {
        self.matching.strip_leading_slash = yes;
        self
    }

    /// Validates the map; problems are keyed as in the config file (`roles.rule[2].role`).
    pub fn build(self) -> Result<RoleMap, ConfigError> {
        let spans = vec![None; self.rules.len()];
        self.build_with(&RoleSource::default(), &spans)
    }

    pub(crate) fn build_with(
        self,
        source: &RoleSource,
        spans: &[Option<RuleLines>],
    ) -> Result<RoleMap, ConfigError> {
        let mut problems = Vec::new();
        let prefix = source.prefix.as_deref().unwrap_or("roles");
        let mut problem = |key: String, line: Option<usize>, message: String| {
            problems.push(ConfigProblem {
                key: match key.strip_prefix("roles") {
                    Some(rest) => format!("{prefix}{rest}"),
                    None => key,
                },
                message: source.locate(line, message),
            })
        };
        let claim_is_default = self.claim.is_none();
        let claim = match ClaimPath::new(self.claim.as_deref().unwrap_or("groups")) {
            Ok(c) if c.can_hold_groups() => Some(c),
            Ok(c) => {
                problem(
                    "roles.claim".into(),
                    source.claim_line,
                    format!("`{c}` is a number or boolean claim and cannot hold group names"),
                );
                None
            }
            Err(e) => {
                problem("roles.claim".into(), source.claim_line, e);
                None
            }
        };
        let default = match self.default.as_deref().map(PgRole::new) {
            None => None,
            Some(Ok(r)) => Some(r),
            Some(Err(e)) => {
                problem("roles.default".into(), source.default_line, e.to_string());
                None
            }
        };
        let mut rules = Vec::with_capacity(self.rules.len());
        let mut index: FastMap<Box<str>, usize> = FastMap::default();
        let mut lengths = 0u64;
        for (i, (group, role)) in self.rules.into_iter().enumerate() {
            let n = i + 1;
            let lines = spans.get(i).copied().flatten().unwrap_or_default();
            if group.trim().is_empty() {
                problem(
                    format!("roles.rule[{n}].group"),
                    lines.group,
                    "a rule needs a non-empty group".into(),
                );
                continue;
            }
            let role = match PgRole::new(&role) {
                Ok(r) => r,
                Err(e) => {
                    problem(format!("roles.rule[{n}].role"), lines.role, e.to_string());
                    continue;
                }
            };
            let key: Box<str> = self.matching.normalize(&group).into();
            if let Some(&first) = index.get(&key) {
                problem(
                    format!("roles.rule[{n}].group"),
                    lines.group,
                    format!(
                        "duplicate rule: group `{group}` is already matched by rule {} (the first match wins, so this rule could never apply); remove one",
                        first + 1
                    ),
                );
                continue;
            }
            lengths |= length_bit(key.len());
            index.insert(key, rules.len());
            rules.push(RoleRule { group, role });
        }
        match claim {
            Some(claim) if problems.is_empty() => Ok(RoleMap {
                claim,
                claim_is_default,
                default,
                rules,
                matching: self.matching,
                index,
                lengths,
            }),
            _ => Err(ConfigError::new(problems)),
        }
    }
}

/// The bit of [`RoleMap::lengths`] for a key of `len` bytes.
fn length_bit(len: usize) -> u64 {
    1 << len.min(63)
}

/// Where a role map came from, for error messages: a file and the lines of its keys.
#[derive(Debug, Clone, Default)]
pub(crate) struct RoleSource {
    pub(crate) file: Option<String>,
    pub(crate) claim_line: Option<usize>,
    pub(crate) default_line: Option<usize>,
    /// The key of the map in the file: `roles`, or `providers[2].roles`.
    pub(crate) prefix: Option<String>,
}

impl RoleSource {
    fn locate(&self, line: Option<usize>, message: String) -> String {
        match (&self.file, line) {
            (Some(file), Some(line)) => format!("in {file} line {line}: {message}"),
            (Some(file), None) => format!("in {file}: {message}"),
            (None, _) => message,
        }
    }
}

/// The lines of one rule's keys in the config file.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct RuleLines {
    pub(crate) group: Option<usize>,
    pub(crate) role: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn map() -> RoleMap {
        RoleMap::builder()
            .add_rule("admins", "app_admin")
            .add_rule("readers", "app_reader")
            .build()
            .unwrap()
    }

    #[test]
    fn first_rule_in_written_order_wins_whatever_the_token_order() {
        let m = map();
        let role = m.resolve(&claims(json!({"groups": ["readers", "admins"]})));
        assert_eq!(role.unwrap().unwrap().as_str(), "app_admin");
        let role = m.resolve(&claims(json!({"groups": ["other", "readers"]})));
        assert_eq!(role.unwrap().unwrap().as_str(), "app_reader");
    }

    #[test]
    fn no_match_without_default_is_no_role_and_with_default_is_the_default() {
        assert_eq!(map().resolve(&claims(json!({"groups": ["x"]}))), Ok(None));
        assert_eq!(map().resolve(&claims(json!({}))), Ok(None));
        let m = RoleMap::builder()
            .add_rule("admins", "app_admin")
            .with_default_role("viewer")
            .build()
            .unwrap();
        let role = m.resolve(&claims(json!({"groups": []}))).unwrap().unwrap();
        assert_eq!(role.as_str(), "viewer");
        assert_eq!(
            m.roles().iter().map(|r| r.as_str()).collect::<Vec<_>>(),
            ["app_admin", "viewer"]
        );
    }

    #[test]
    fn string_and_array_claims_both_work_and_null_is_no_groups() {
        let m = map();
        let role = m.resolve(&claims(json!({"groups": "readers"}))).unwrap();
        assert_eq!(role.unwrap().as_str(), "app_reader");
        assert_eq!(m.resolve(&claims(json!({"groups": null}))), Ok(None));
    }

    #[test]
    fn wrong_claim_types_are_errors_not_panics() {
        let m = map();
        for bad in [
            json!({"groups": 7}),
            json!({"groups": {"admins": true}}),
            json!({"groups": ["admins", 1]}),
            json!({"groups": [["admins"]]}),
            json!({"groups": true}),
        ] {
            let err = m.resolve(&claims(bad.clone())).unwrap_err();
            assert!(err.to_string().contains("`groups`"), "{bad}: {err}");
        }
    }

    #[test]
    fn nested_keycloak_paths_are_followed() {
        let m = RoleMap::builder()
            .with_claim("resource_access.my-app.roles")
            .add_rule("editor", "app_editor")
            .build()
            .unwrap();
        let c = claims(
            json!({"resource_access": {"my-app": {"roles": ["editor"]}, "other": {"roles": ["x"]}}}),
        );
        assert_eq!(m.resolve(&c).unwrap().unwrap().as_str(), "app_editor");
        // A path through a non-object is simply absent.
        let c = claims(json!({"resource_access": "editor"}));
        assert_eq!(m.resolve(&c), Ok(None));

        let m = RoleMap::builder()
            .with_claim("realm_access.roles")
            .add_rule("admin", "app_admin")
            .build()
            .unwrap();
        let c = claims(json!({"realm_access": {"roles": ["offline_access", "admin"]}}));
        assert_eq!(m.resolve(&c).unwrap().unwrap().as_str(), "app_admin");
    }

    #[test]
    fn url_named_claims_are_one_name() {
        let m = RoleMap::builder()
            .with_claim("https://example.com/groups")
            .add_rule("admins", "app_admin")
            .build()
            .unwrap();
        let c = claims(json!({"https://example.com/groups": ["admins"]}));
        assert_eq!(m.resolve(&c).unwrap().unwrap().as_str(), "app_admin");
    }

    #[test]
    fn matching_is_exact_by_default_with_case_and_slash_options() {
        let c = claims(json!({"groups": ["/Admins"]}));
        assert_eq!(map().resolve(&c), Ok(None));
        let exact_case = RoleMap::builder()
            .strip_leading_slash(true)
            .add_rule("admins", "app_admin")
            .build()
            .unwrap();
        assert_eq!(exact_case.resolve(&c), Ok(None));
        let both = RoleMap::builder()
            .strip_leading_slash(true)
            .ignore_case(true)
            .add_rule("admins", "app_admin")
            .build()
            .unwrap();
        assert_eq!(both.resolve(&c).unwrap().unwrap().as_str(), "app_admin");
        // Titlecase letters fold too (they are not `is_uppercase`).
        let titlecase = RoleMap::builder()
            .ignore_case(true)
            .add_rule("ǅ-admins", "app_admin")
            .build()
            .unwrap();
        let c = claims(json!({"groups": ["Ǆ-ADMINS"]}));
        assert_eq!(
            titlecase.resolve(&c).unwrap().unwrap().as_str(),
            "app_admin"
        );
        let c = claims(json!({"groups": ["ÄDMINS"]}));
        let unicode = RoleMap::builder()
            .ignore_case(true)
            .add_rule("ädmins", "app_admin")
            .build()
            .unwrap();
        assert_eq!(unicode.resolve(&c).unwrap().unwrap().as_str(), "app_admin");
        // Only one leading slash goes, and only when asked.
        let c = claims(json!({"groups": ["//admins"]}));
        assert_eq!(both.resolve(&c), Ok(None));
    }

    #[test]
    fn bad_maps_are_refused_with_every_problem_keyed() {
        let err = RoleMap::builder()
            .with_claim("email.groups")
            .with_default_role("")
            .add_rule("admins", "app_admin")
            .add_rule("Admins", "r".repeat(64))
            .add_rule("admins", "other")
            .add_rule(" ", "x")
            .build()
            .unwrap_err();
        for key in [
            "roles.claim",
            "roles.default",
            "roles.rule[2].role",
            "roles.rule[3].group",
            "roles.rule[4].group",
        ] {
            assert!(err.mentions(key), "{key} missing from: {err}");
        }
        assert!(err.to_string().contains("duplicate"), "{err}");
        // Duplicates are judged after normalisation.
        let err = RoleMap::builder()
            .ignore_case(true)
            .add_rule("admins", "a")
            .add_rule("ADMINS", "b")
            .build()
            .unwrap_err();
        assert!(err.mentions("roles.rule[2].group"), "{err}");
    }

    #[test]
    fn claim_paths_that_cannot_exist_are_refused() {
        for bad in ["", "a..b", ".a", "a.", "sub.groups", "has space", "exp"] {
            let r = RoleMap::builder().with_claim(bad).build();
            assert!(r.is_err(), "`{bad}` should be refused");
        }
        for good in ["groups", "roles", "realm_access.roles", "cognito:groups"] {
            assert!(
                RoleMap::builder().with_claim(good).build().is_ok(),
                "{good}"
            );
        }
    }

    #[test]
    fn two_hundred_groups_against_fifty_rules() {
        let mut b = RoleMap::builder();
        for i in 0..50 {
            b = b.add_rule(format!("rule-group-{i}"), format!("role_{i}"));
        }
        let m = b.build().unwrap();
        let mut groups: Vec<String> = (0..200).map(|i| format!("user-group-{i}")).collect();
        groups.push("rule-group-30".into());
        groups.push("rule-group-7".into());
        let role = m.resolve_groups(groups.iter().map(String::as_str));
        assert_eq!(role.unwrap().as_str(), "role_7");
    }
}
