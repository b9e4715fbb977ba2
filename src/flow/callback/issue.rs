//! Step 7: the session. A new session value at every login (a planted cookie cannot be kept),
//! the logout hint beside it, and the redirect back to where the user was going.

use http::header;
use serde_json::{Map, Value};

use crate::error::{AuthError, AuthErrorKind};
use crate::flow::return_to::safe_return_to;
use crate::identity::{Identity, IdentityData};
use crate::pages::{self, Page};
use crate::policy::{email_verified, Grant};
use crate::provider::Provider;
use crate::random::random_token;
use crate::session::{encode_session, Purpose, MAX_COOKIE_VALUE};
use crate::shared::Shared;

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

/// The redirect back to `return_to` that sets the session cookie for `data` and the logout
/// hint (the raw ID token, sealed) beside it.
pub(crate) fn session(
    shared: &Shared,
    mut data: IdentityData,
    raw_id_token: &str,
    return_to: &str,
) -> Result<Page, AuthError> {
    let config = &shared.config;
    let cookies = &shared.cookies;
    let session = encode_session(&cookies.codec, &cookies.names, &mut data).ok_or_else(|| {
        AuthError::new(
            AuthErrorKind::SessionTooLarge,
            "Your account's information is too large for a session cookie.",
        )
    })?;
    let identity = Identity::from_data(data);
    tracing::info!(
        target: "tower_oidc",
        event = "login",
        provider = identity.provider(),
        issuer = identity.issuer(),
        subject = identity.subject(),
    );

    let return_to = safe_return_to(&config.base_url, return_to).unwrap_or_else(|| "/".to_owned());
    let mut page = pages::redirect(&return_to);
    let lifetime = config.session_lifetime.as_secs();
    let headers = page.headers_mut();
    headers.append(
        header::SET_COOKIE,
        cookies
            .names
            .set(&cookies.names.session, &session, lifetime),
    );
    let hint = cookies.codec.seal(
        Purpose::Logout,
        &cookies.names.logout,
        raw_id_token.as_bytes(),
    );
    if hint.len() <= MAX_COOKIE_VALUE {
        headers.append(
            header::SET_COOKIE,
            cookies.names.set(&cookies.names.logout, &hint, lifetime),
        );
    } else {
        // Too large to keep: drop any hint of an earlier user of this browser, so that this
        // user's logout never names someone else to the provider.
        headers.append(
            header::SET_COOKIE,
            cookies.names.remove(&cookies.names.logout),
        );
    }
    page.extensions_mut().insert(identity);
    Ok(page)
}

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
        claims: std::sync::OnceLock::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::decode_session;
    use crate::shared::test_support::shared;
    use serde_json::json;

    fn grant() -> Grant {
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
            "preferred_username": "a", "groups": "staff", "department": "ops"
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
    }

    #[test]
    fn the_session_cookie_opens_to_the_identity_and_the_target_is_kept_only_when_safe() {
        let s = shared();
        let now = s.config.clock.unix_seconds();
        let claims = json!({"sub": "u1", "iss": "https://id.example.com"});
        let data = identity_from_claims(
            &s.providers[0],
            claims.as_object().cloned().unwrap(),
            grant(),
            now,
            600,
        );
        let page = session(&s, data, "a.b.c", "/reports?id=7").unwrap();
        assert_eq!(page.status(), http::StatusCode::FOUND);
        assert_eq!(page.headers()[header::LOCATION], "/reports?id=7");
        let cookies: Vec<&str> = page
            .headers()
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        let names = &s.cookies.names;
        let value = cookies
            .iter()
            .find_map(|c| c.strip_prefix(&format!("{}=", names.session)))
            .and_then(|c| c.split(';').next())
            .expect("a session cookie");
        let opened = decode_session(&s.cookies.codec, names, value, now).unwrap();
        assert_eq!(opened.subject, "u1");
        assert!(cookies
            .iter()
            .any(|c| c.starts_with(&format!("{}=", names.logout))));
        assert_eq!(page.extensions().get::<Identity>().unwrap().subject(), "u1");

        let data = identity_from_claims(
            &s.providers[0],
            claims.as_object().cloned().unwrap(),
            grant(),
            now,
            600,
        );
        let page = session(&s, data, "a.b.c", "//evil.example").unwrap();
        assert_eq!(page.headers()[header::LOCATION], "/");
    }
}
