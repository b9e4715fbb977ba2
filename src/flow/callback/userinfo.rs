//! Step 5: userinfo (OpenID Connect Core 5.3), fetched only when the ID token lacks a claim the
//! configuration needs, and merged in: it must be the same user (`sub`), and it only fills
//! claims the ID token does not have.

use serde_json::{Map, Value};

use crate::config::{ProviderConfig, UserinfoPolicy};
use crate::error::{AuthError, AuthErrorKind};
use crate::provider::{Metadata, Provider};

/// The claims, with userinfo's merged in where the policy asks for it.
pub(crate) async fn merge(
    provider: &Provider,
    metadata: &Metadata,
    access_token: Option<&str>,
    claims: Map<String, Value>,
) -> Result<Map<String, Value>, AuthError> {
    let (Some(endpoint), Some(access_token)) = (&metadata.userinfo_endpoint, access_token) else {
        return Ok(claims);
    };
    if !wants_userinfo(&provider.config, &claims) {
        return Ok(claims);
    }
    let info = provider
        .userinfo(endpoint, access_token)
        .await
        .map_err(|e| e.to_auth_error())?;
    merge_claims(claims, info)
}

/// Adds userinfo's claims to the ID token's; refused when userinfo names another `sub`.
fn merge_claims(
    mut claims: Map<String, Value>,
    info: Map<String, Value>,
) -> Result<Map<String, Value>, AuthError> {
    if info.get("sub").and_then(Value::as_str) != claims.get("sub").and_then(Value::as_str) {
        return Err(AuthError::new(
            AuthErrorKind::InvalidUserinfo,
            "The userinfo response belongs to another user (sub mismatch).",
        ));
    }
    for (k, v) in info {
        claims.entry(k).or_insert(v);
    }
    Ok(claims)
}

/// Whether userinfo is needed: always, never, or (the default) when a claim the configuration
/// reads is missing from the ID token.
pub(crate) fn wants_userinfo(config: &ProviderConfig, claims: &Map<String, Value>) -> bool {
    match config.userinfo {
        UserinfoPolicy::Always => true,
        UserinfoPolicy::Never => false,
        _ => {
            [
                &config.claims.email,
                &config.claims.full_name,
                &config.claims.username,
            ]
            .iter()
            .any(|c| !claims.contains_key(c.as_str()))
                || config.policy.groups_claim.lookup(claims).is_none()
                || config
                    .policy
                    .roles
                    .as_ref()
                    .is_some_and(|r| r.claim().lookup(claims).is_none())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shared::test_support::{shared, shared_with};
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn userinfo_fills_missing_claims_only_for_the_same_user() {
        let id = obj(json!({"sub": "u1", "email": "a@example.com"}));
        let info = obj(json!({"sub": "u1", "email": "b@example.com", "groups": ["g"]}));
        let merged = merge_claims(id.clone(), info).unwrap();
        assert_eq!(
            merged["email"], "a@example.com",
            "the ID token's claim is kept"
        );
        assert_eq!(merged["groups"], json!(["g"]));
        let other = obj(json!({"sub": "u2", "groups": ["g"]}));
        let err = merge_claims(id.clone(), other).unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::InvalidUserinfo);
        let no_sub = obj(json!({"groups": ["g"]}));
        assert!(
            merge_claims(id, no_sub).is_err(),
            "userinfo without sub is refused"
        );
    }

    #[test]
    fn userinfo_is_wanted_only_when_a_needed_claim_is_missing() {
        let s = shared();
        let config = &s.providers[0].config;
        let full = obj(
            json!({"sub": "u", "email": "a@x", "name": "A", "preferred_username": "a", "groups": []}),
        );
        assert!(!wants_userinfo(config, &full));
        let mut partial = full.clone();
        partial.remove("groups");
        assert!(wants_userinfo(config, &partial));

        let always = shared_with(|b| b.with_userinfo(UserinfoPolicy::Always));
        assert!(wants_userinfo(&always.providers[0].config, &full));
        let never = shared_with(|b| b.with_userinfo(UserinfoPolicy::Never));
        assert!(!wants_userinfo(&never.providers[0].config, &partial));
    }
}
