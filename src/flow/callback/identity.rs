//! The claims mapped onto the session's identity (between admission and the session): the
//! configured claim names, what the policy granted, and the remaining claims without the ones
//! that describe the protocol exchange.

use serde_json::{Map, Value};

use crate::identity::IdentityData;
use crate::policy::{email_verified, Grant};
use crate::provider::Provider;
use crate::random::random_token;

/// Claims that describe the protocol exchange rather than the user; not kept in the session.
pub(crate) const PROTOCOL_CLAIMS: &[&str] = &[
    "iss",
    "sub",
    "aud",
    "exp",
    "iat",
    "nbf",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "jti",
    "sid",
    "email_verified",
    "typ",
];

fn string_claim(claims: &mut Map<String, Value>, name: &str) -> Option<String> {
    match claims.remove(name) {
        Some(Value::String(s)) => Some(s),
        Some(other) => {
            claims.insert(name.to_owned(), other);
            None
        }
        None => None,
    }
}

/// Maps claims onto an identity, with what the policy granted. `email_verified` may be the
/// string `"true"` (some providers); groups may be one string or an array of strings (the
/// policy has already refused any other shape).
pub(crate) fn identity_from_claims(
    provider: &Provider,
    mut claims: Map<String, Value>,
    grant: Grant,
    now: u64,
    lifetime: u64,
) -> IdentityData {
    let names = &provider.config.claims;
    let subject = claims
        .get("sub")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let issuer = claims
        .get("iss")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let sid = match claims.get("sid") {
        Some(Value::String(sid)) if !sid.is_empty() => Some(sid.clone()),
        _ => None,
    };
    let email_verified = email_verified(&claims);
    let email = string_claim(&mut claims, &names.email);
    let name = string_claim(&mut claims, &names.full_name);
    let preferred_username = string_claim(&mut claims, &names.username);
    let groups_claim = &provider.config.policy.groups_claim;
    let groups = groups_claim
        .groups(&claims)
        .map(|g| g.into_iter().map(str::to_owned).collect())
        .unwrap_or_default();
    claims.remove(groups_claim.as_str());
    for claim in PROTOCOL_CLAIMS {
        claims.remove(*claim);
    }
    IdentityData {
        subject,
        issuer,
        provider: provider.config.slug.as_str().to_owned(),
        email,
        email_verified,
        name,
        preferred_username,
        groups,
        role: grant.role,
        admin: grant.admin,
        app_json: String::new(),
        claims_json: if claims.is_empty() {
            String::new()
        } else {
            Value::Object(claims).to_string()
        },
        authenticated_at: now,
        expires_at: now.saturating_add(lifetime),
        session_id: random_token(16),
        sid,
        seen_at: now,
        claims: std::sync::OnceLock::new(),
        access: None,
        provider_token: None,
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::shared::test_support::shared;
    use serde_json::json;

    /// What the policy grants a reader; for the tests of this step and the next.
    pub(crate) fn grant() -> Grant {
        Grant {
            role: Some(crate::PgRole::new("app_reader").unwrap()),
            admin: false,
            admin_detail: String::new(),
        }
    }

    #[test]
    fn claims_become_an_identity_without_the_protocol_claims() {
        let s = shared();
        let claims = json!({
            "sub": "u1", "iss": "https://id.example.com", "aud": "app", "nonce": "n",
            "email": "a@example.com", "email_verified": "true", "name": "A",
            "preferred_username": "a", "groups": "staff", "department": "ops", "sid": "op-1"
        });
        let data = identity_from_claims(
            &s.providers[0],
            claims.as_object().cloned().unwrap(),
            grant(),
            1_000,
            60,
        );
        assert_eq!(
            (data.subject.as_str(), data.issuer.as_str()),
            ("u1", "https://id.example.com")
        );
        assert_eq!(data.email.as_deref(), Some("a@example.com"));
        assert!(data.email_verified, "the string \"true\" counts");
        assert_eq!(data.groups, ["staff"], "one string is one group");
        assert_eq!(
            data.claims_json, r#"{"department":"ops"}"#,
            "protocol claims are dropped"
        );
        assert_eq!((data.authenticated_at, data.expires_at), (1_000, 1_060));
        assert_eq!(data.session_id.len(), 22, "16 random bytes");
        assert_eq!(
            data.sid.as_deref(),
            Some("op-1"),
            "kept for back-channel logout"
        );
    }
}
