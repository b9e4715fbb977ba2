//! [`ClaimPath`]: where a claim is found, a top-level name or a dotted path into nested objects.

use std::fmt;

use serde_json::{Map, Value};

/// The path to a claim: a top-level name, or a dotted path into nested objects
/// (`realm_access.roles`, `resource_access.my-app.roles`).
///
/// A claim whose own name contains dots (`https://example.com/groups`) is found too: the whole
/// name is tried as a top-level claim first.
#[derive(Clone, PartialEq, Eq)]
pub struct ClaimPath {
    full: Box<str>,
    dotted: bool,
}

/// Standard claims that always hold a string, number or boolean: nothing can be nested below
/// them (OpenID Connect Core 2 and 5.1).
const SCALAR_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "nonce",
    "acr",
    "azp",
    "at_hash",
    "c_hash",
    "sid",
    "jti",
    "name",
    "given_name",
    "family_name",
    "middle_name",
    "nickname",
    "preferred_username",
    "profile",
    "picture",
    "website",
    "email",
    "email_verified",
    "gender",
    "birthdate",
    "zoneinfo",
    "locale",
    "phone_number",
    "phone_number_verified",
    "updated_at",
];

/// Standard claims that are numbers or booleans, so they can never hold group names.
const NON_STRING_CLAIMS: &[&str] = &[
    "exp",
    "iat",
    "nbf",
    "auth_time",
    "email_verified",
    "phone_number_verified",
    "updated_at",
];

impl ClaimPath {
    /// Parses a claim name or dotted path, refusing one that cannot exist in a token.
    pub fn new(path: &str) -> Result<Self, String> {
        let path = path.trim();
        if path.is_empty() {
            return Err("a claim name cannot be empty".into());
        }
        if path.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(format!(
                "`{path}` contains whitespace or control characters"
            ));
        }
        // A URL-style claim name (`https://example.com/groups`) is one name, not a path.
        let dotted = path.contains('.') && !path.contains('/');
        if dotted {
            if path.split('.').any(str::is_empty) {
                return Err(format!(
                    "`{path}` has an empty segment; write nested claims as `outer.inner`"
                ));
            }
            let first = path.split('.').next().unwrap_or_default();
            if SCALAR_CLAIMS.contains(&first) {
                return Err(format!(
                    "`{path}` cannot exist: the standard claim `{first}` is a single value with nothing inside it"
                ));
            }
        }
        Ok(Self {
            full: path.into(),
            dotted,
        })
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// Whether the claim can hold group names (it is not a standard number or boolean claim).
    pub(crate) fn can_hold_groups(&self) -> bool {
        !NON_STRING_CLAIMS.contains(&&*self.full)
    }

    /// The claim's value, if present.
    pub fn lookup<'a>(&self, claims: &'a Map<String, Value>) -> Option<&'a Value> {
        if let Some(v) = claims.get(&*self.full) {
            return Some(v);
        }
        if !self.dotted {
            return None;
        }
        let mut segments = self.full.split('.');
        let mut value = claims.get(segments.next()?)?;
        for segment in segments {
            value = value.as_object()?.get(segment)?;
        }
        Some(value)
    }

    /// The group names at this path: none when absent or `null`, one for a string, all for an
    /// array of strings.
    pub fn groups<'a>(
        &self,
        claims: &'a Map<String, Value>,
    ) -> Result<Vec<&'a str>, GroupsClaimError> {
        match self.lookup(claims) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::String(s)) => Ok(vec![s.as_str()]),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().ok_or_else(|| GroupsClaimError {
                        claim: self.clone(),
                    })
                })
                .collect(),
            Some(_) => Err(GroupsClaimError {
                claim: self.clone(),
            }),
        }
    }
}

impl fmt::Debug for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClaimPath").field(&&*self.full).finish()
    }
}

impl fmt::Display for ClaimPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

/// The groups claim is neither a string nor an array of strings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the `{claim}` claim must be a string or an array of strings")]
pub struct GroupsClaimError {
    claim: ClaimPath,
}
