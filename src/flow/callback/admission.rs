//! Step 6: admission. The access rules and the role map decide afresh at every login (nothing
//! is sticky), then the app's login hook may provision, link or refuse.

use std::sync::Arc;

use serde_json::{Map, Value};

use super::identity::identity_from_claims;
use crate::config::ProviderConfig;
use crate::error::{AuthError, AuthErrorKind};
use crate::hook::{LoginAttempt, LoginDecision};
use crate::identity::{Identity, IdentityData};
use crate::policy::Grant;
use crate::provider::Provider;
use crate::shared::Shared;

/// The provider's policy on the claims: what the user is granted, or why they are refused.
pub(crate) fn evaluate(
    provider: &Provider,
    claims: &Map<String, Value>,
) -> Result<Grant, AuthError> {
    warn_missing_claims(&provider.config, claims);
    let grant = provider.config.policy.evaluate(claims).map_err(|refusal| {
        tracing::debug!(
            target: "tower_oidc",
            event = "login_refused",
            kind = refusal.kind.as_str(),
            detail = %refusal.detail,
        );
        AuthError::new(refusal.kind, refusal.reason)
    })?;
    tracing::debug!(
        target: "tower_oidc",
        event = "login_policy",
        provider = provider.config.slug.as_str(),
        role = grant.role.as_ref().map(|r| r.as_str()),
        admin = grant.admin,
        detail = %grant.admin_detail,
    );
    Ok(grant)
}

/// The session's identity for the granted claims, after the app's login hook (if any) allowed
/// it, with the app data the hook added.
pub(crate) async fn admit(
    shared: &Shared,
    provider: &Provider,
    claims: Map<String, Value>,
    grant: Grant,
    now: u64,
) -> Result<IdentityData, AuthError> {
    let config = &shared.config;
    let hook_claims = config.login_hook.as_ref().map(|_| Arc::new(claims.clone()));
    let mut data = identity_from_claims(
        provider,
        claims,
        grant,
        now,
        config.session_lifetime.as_secs(),
    );
    let (Some(hook), Some(claims)) = (&config.login_hook, hook_claims) else {
        return Ok(data);
    };
    let identity = Identity::from_data(data);
    let attempt = LoginAttempt {
        identity: identity.clone(),
        claims,
        auto_provision: provider.config.auto_provision,
    };
    let decision = hook(attempt).await;
    data = identity.clone_data();
    match decision {
        LoginDecision::Allow => {}
        LoginDecision::AllowWith(extra) => {
            if !extra.is_empty() {
                data.app_json = Value::Object(extra).to_string();
            }
        }
        LoginDecision::Refuse(message) => {
            return Err(AuthError::new(AuthErrorKind::LoginRefused, message));
        }
    }
    Ok(data)
}

/// Claims the configuration relies on but the provider did not send: a provider-side setting
/// (a scope, a claim mapper) is missing. Logged for the operator with the fix.
pub(crate) fn warn_missing_claims(config: &ProviderConfig, claims: &Map<String, Value>) {
    let policy = &config.policy;
    let mut missing: Vec<(&str, &str)> = Vec::new();
    let groups = &policy.groups_claim;
    if (policy.access.admin_group.is_some() || policy.roles.is_some())
        && groups.lookup(claims).is_none()
    {
        missing.push((
            groups.as_str(),
            "request the scope that releases it (often `groups`) or add a groups claim mapper at the provider",
        ));
    }
    if let Some(map) = &policy.roles {
        if map.claim() != groups && map.claim().lookup(claims).is_none() {
            missing.push((
                map.claim().as_str(),
                "request the scope that releases it or add a claim mapper at the provider",
            ));
        }
    }
    if !policy.access.allowed_email_domains.is_empty() && !claims.contains_key(&policy.email_claim)
    {
        missing.push((policy.email_claim.as_str(), "request the `email` scope"));
    }
    for (claim, fix) in missing {
        tracing::warn!(
            target: "tower_oidc",
            event = "claim_missing",
            provider = config.slug.as_str(),
            claim,
            "the `{claim}` claim is in neither the ID token nor userinfo: {fix}",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hook::LoginDecision;
    use crate::policy::RoleMap;
    use crate::shared::test_support::shared_with;
    use serde_json::json;

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    fn with_roles() -> Shared {
        shared_with(|b| {
            b.with_role_map(
                RoleMap::builder()
                    .add_rule("admins", "app_admin")
                    .build()
                    .unwrap(),
            )
        })
    }

    #[test]
    fn the_role_map_decides_and_no_role_is_refused() {
        let s = with_roles();
        let p = &s.providers[0];
        let grant = evaluate(p, &claims(json!({"sub": "u", "groups": ["admins"]}))).unwrap();
        assert_eq!(grant.role.unwrap().as_str(), "app_admin");
        let err = evaluate(p, &claims(json!({"sub": "u", "groups": ["x"]}))).unwrap_err();
        assert_eq!(err.status(), http::StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn without_a_hook_the_identity_is_the_claims_and_the_grant() {
        let s = with_roles();
        let p = &s.providers[0];
        let c = claims(json!({"sub": "u", "iss": "https://id.example.com", "groups": ["admins"]}));
        let grant = evaluate(p, &c).unwrap();
        let data = admit(&s, p, c, grant, 1_000).await.unwrap();
        assert_eq!(data.subject, "u");
        assert_eq!(data.role.as_ref().map(|r| r.as_str()), Some("app_admin"));
        assert_eq!(data.expires_at, 1_000 + s.config.session_lifetime.as_secs());
        assert!(data.app_json.is_empty());
    }

    #[tokio::test]
    async fn the_hook_adds_app_data_or_refuses() {
        let hooked = |allow: bool| {
            shared_with(move |b| {
                b.with_login_hook(move |attempt: LoginAttempt| async move {
                    if allow {
                        let mut extra = Map::new();
                        extra.insert("user_id".into(), json!(7));
                        extra.insert("sub_seen".into(), json!(attempt.identity().subject()));
                        LoginDecision::AllowWith(extra)
                    } else {
                        LoginDecision::refuse("Your account is disabled.")
                    }
                })
            })
        };
        let c = claims(json!({"sub": "u", "iss": "https://id.example.com"}));
        let s = hooked(true);
        let p = &s.providers[0];
        let data = admit(&s, p, c.clone(), evaluate(p, &c).unwrap(), 1_000)
            .await
            .unwrap();
        assert_eq!(data.app_json, r#"{"sub_seen":"u","user_id":7}"#);
        let s = hooked(false);
        let p = &s.providers[0];
        let err = admit(&s, p, c.clone(), evaluate(p, &c).unwrap(), 1_000)
            .await
            .unwrap_err();
        assert_eq!(err.kind(), AuthErrorKind::LoginRefused);
        assert_eq!(err.reason(), "Your account is disabled.");
    }
}
