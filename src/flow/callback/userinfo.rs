//! Step 5: userinfo (OpenID Connect Core 5.3), fetched only when the ID token lacks a claim the
//! configuration needs, and merged in: it must be the same user (`sub`), and the ID token's
//! claims win: userinfo only fills claims the ID token lacks, a literal dotted name in userinfo
//! (`realm_access.roles`) never shadows the ID token's nested claim of that path, and
//! `email_verified` counts only together with the email it speaks for.

use serde_json::{Map, Value};

use crate::config::{ProviderConfig, UserinfoPolicy};
use crate::error::{AuthError, AuthErrorKind};
use crate::jwt::Audience;
use crate::policy::ClaimPath;
use crate::provider::{Metadata, Provider, Userinfo};

/// The claims, with userinfo's merged in where the policy asks for it (the access token sent
/// with a DPoP proof when `dpop_bound`); a signed userinfo
/// response is checked first ([`crate::userinfo_token`]) against `audience`.
pub(crate) async fn merge(
    provider: &Provider,
    metadata: &Metadata,
    access_token: Option<&str>,
    dpop_bound: bool,
    claims: Map<String, Value>,
    audience: &Audience<'_>,
) -> Result<Map<String, Value>, AuthError> {
    let (Some(endpoint), Some(access_token)) = (&metadata.userinfo_endpoint, access_token) else {
        return Ok(claims);
    };
    if !wants_userinfo(&provider.config, &claims) {
        return Ok(claims);
    }
    let info = fetch(
        provider,
        metadata,
        endpoint,
        access_token,
        dpop_bound,
        audience,
    )
    .await?;
    merge_claims(claims, info)
}

/// Userinfo's claims from `endpoint` with `access_token`; a signed response is checked first
/// ([`crate::userinfo_token`]) against `audience`. Whose claims they are is the caller's check.
pub(crate) async fn fetch(
    provider: &Provider,
    metadata: &Metadata,
    endpoint: &url::Url,
    access_token: &str,
    dpop_bound: bool,
    audience: &Audience<'_>,
) -> Result<Map<String, Value>, AuthError> {
    let call = provider.userinfo(endpoint, access_token, dpop_bound);
    let info = crate::meter::provider_call(provider.config.slug.as_str(), "userinfo", call)
        .await
        .map_err(|e| e.to_auth_error())?;
    match info {
        Userinfo::Claims(info) => Ok(info),
        Userinfo::Signed(token) => {
            crate::userinfo_token::verify(provider, metadata, &token, audience)
                .await
                .map_err(|e| match e {
                    Ok(refusal) => AuthError::new(
                        AuthErrorKind::InvalidUserinfo,
                        format!("The signed userinfo response {refusal}."),
                    ),
                    Err(provider_err) => provider_err.to_auth_error(),
                })
        }
    }
}

/// Adds userinfo's claims to the ID token's; refused when userinfo names another `sub`.
fn merge_claims(
    mut claims: Map<String, Value>,
    mut info: Map<String, Value>,
) -> Result<Map<String, Value>, AuthError> {
    if info.get("sub").and_then(Value::as_str) != claims.get("sub").and_then(Value::as_str) {
        return Err(AuthError::new(
            AuthErrorKind::InvalidUserinfo,
            "The userinfo response belongs to another user (sub mismatch).",
        ));
    }
    let info_verified = info.remove("email_verified");
    let info_email = info.get("email").and_then(Value::as_str).map(str::to_owned);
    let id_token_email = claims.contains_key("email");
    for (name, value) in info {
        if !claims.contains_key(&name) && !shadows_nested(&claims, &name) {
            claims.insert(name, value);
        }
    }
    // `email_verified` vouches for the `email` it came with (OpenID Connect Core 5.1): userinfo's
    // counts only when its email is the one in use, and the ID token's only for its own email.
    let email_in_use = claims.get("email").and_then(Value::as_str);
    let verified_here = info_email.is_some() && info_email.as_deref() == email_in_use;
    if !id_token_email {
        claims.remove("email_verified");
    }
    if verified_here && !claims.contains_key("email_verified") {
        if let Some(verified) = info_verified {
            claims.insert("email_verified".into(), verified);
        }
    }
    Ok(claims)
}

/// Whether a userinfo claim named `name` would hide the ID token's nested claim at the dotted
/// path `name`: a claim path tries the whole name as a top-level claim first.
fn shadows_nested(claims: &Map<String, Value>, name: &str) -> bool {
    ClaimPath::new(name).is_ok_and(|path| path.lookup(claims).is_some())
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
    fn a_dotted_userinfo_name_never_shadows_a_nested_id_token_claim() {
        let id = obj(json!({"sub": "u1", "realm_access": {"roles": ["readers"]}, "a": {}}));
        let info = obj(
            json!({"sub": "u1", "realm_access.roles": ["admins"], "a.b": ["x"],
                              "https://example.com/groups": ["g"]}),
        );
        let merged = merge_claims(id, info).unwrap();
        let path = ClaimPath::new("realm_access.roles").unwrap();
        assert_eq!(path.lookup(&merged), Some(&json!(["readers"])));
        assert!(!merged.contains_key("realm_access.roles"));
        assert_eq!(
            merged["a.b"],
            json!(["x"]),
            "a claim the ID token lacks is filled"
        );
        assert_eq!(merged["https://example.com/groups"], json!(["g"]));
    }

    #[test]
    fn email_verified_counts_only_with_its_own_email() {
        let verified = |id: Value, info: Value| {
            let merged = merge_claims(obj(id), obj(info)).unwrap();
            crate::policy::email_verified(&merged)
        };
        // The ID token's email, unverified there; userinfo verifies another address.
        assert!(!verified(
            json!({"sub": "u", "email": "a@x.com"}),
            json!({"sub": "u", "email": "b@x.com", "email_verified": true}),
        ));
        // ... or verifies no address at all.
        assert!(!verified(
            json!({"sub": "u", "email": "a@x.com"}),
            json!({"sub": "u", "email_verified": true}),
        ));
        // The same address: userinfo's word fills the gap.
        assert!(verified(
            json!({"sub": "u", "email": "a@x.com"}),
            json!({"sub": "u", "email": "a@x.com", "email_verified": true}),
        ));
        // The ID token's own verdict wins.
        assert!(!verified(
            json!({"sub": "u", "email": "a@x.com", "email_verified": false}),
            json!({"sub": "u", "email": "a@x.com", "email_verified": true}),
        ));
        // The email comes from userinfo: only userinfo's verdict speaks for it.
        assert!(verified(
            json!({"sub": "u", "email_verified": false}),
            json!({"sub": "u", "email": "b@x.com", "email_verified": true}),
        ));
        assert!(!verified(
            json!({"sub": "u", "email_verified": true}),
            json!({"sub": "u", "email": "b@x.com"}),
        ));
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
