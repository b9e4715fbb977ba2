//! The test users the picker offers, and the claims each releases.

use serde_json::{json, Map, Value};

/// A test user of the [`DevIdp`](crate::DevIdp).
///
/// `sub` is [`subject`](Self::subject); the `profile` scope releases `name` and
/// `preferred_username`, the `email` scope `email` and `email_verified`; `groups` is always
/// released.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DevUser {
    /// The `sub` claim; also what the picker form submits.
    pub subject: String,
    /// The `preferred_username` claim.
    pub preferred_username: Option<String>,
    /// The `name` claim.
    pub name: Option<String>,
    /// The `email` claim.
    pub email: Option<String>,
    /// The `email_verified` claim.
    pub email_verified: bool,
    /// The `groups` claim.
    pub groups: Vec<String>,
}

impl DevUser {
    /// A user whose subject and `preferred_username` are both `username`, with no name, email
    /// or groups yet.
    pub fn new(username: impl Into<String>) -> Self {
        let username = username.into();
        Self {
            subject: username.clone(),
            preferred_username: Some(username),
            name: None,
            email: None,
            email_verified: false,
            groups: Vec::new(),
        }
    }

    /// Sets the subject (`sub`), when it should differ from the username.
    pub fn with_subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }

    /// Sets the display name (`name`).
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the email address and whether it counts as verified (`email_verified`).
    pub fn with_email(mut self, email: impl Into<String>, verified: bool) -> Self {
        self.email = Some(email.into());
        self.email_verified = verified;
        self
    }

    /// Adds a group to the `groups` claim.
    pub fn add_group(mut self, group: impl Into<String>) -> Self {
        self.groups.push(group.into());
        self
    }

    /// The three default users: `alice` (verified email, groups `admins` and `readers`), `bob`
    /// (verified email, group `readers`) and `mallory` (unverified email, no groups).
    pub fn defaults() -> Vec<Self> {
        vec![
            Self::new("alice")
                .with_name("Alice Example")
                .with_email("alice@example.com", true)
                .add_group("admins")
                .add_group("readers"),
            Self::new("bob")
                .with_name("Bob Example")
                .with_email("bob@example.com", true)
                .add_group("readers"),
            Self::new("mallory")
                .with_name("Mallory Example")
                .with_email("mallory@example.net", false),
        ]
    }

    /// The claims this user releases for `scope` (space-separated granted scopes).
    pub(crate) fn claims(&self, scope: &str) -> Map<String, Value> {
        let has = |s: &str| scope.split(' ').any(|x| x == s);
        let mut claims = Map::new();
        claims.insert("sub".into(), Value::String(self.subject.clone()));
        if has("profile") {
            if let Some(name) = &self.name {
                claims.insert("name".into(), Value::String(name.clone()));
            }
            if let Some(username) = &self.preferred_username {
                claims.insert("preferred_username".into(), Value::String(username.clone()));
            }
        }
        if has("email") {
            if let Some(email) = &self.email {
                claims.insert("email".into(), Value::String(email.clone()));
                claims.insert("email_verified".into(), Value::Bool(self.email_verified));
            }
        }
        claims.insert("groups".into(), json!(self.groups));
        claims
    }
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    use serde_json::{json, Map, Value};

    use crate::test_support::*;

    #[tokio::test]
    async fn scope_decides_which_claims_are_released() {
        let f = fixture();
        let reply = choose(&f.router, &authz(&[("scope", "openid unknown")]), "alice").await;
        let code = reply.query("code").unwrap();
        let tokens = redeem(&f.router, &code, VERIFIER).await.json();
        assert_eq!(tokens["scope"], "openid");
        let payload = tokens["id_token"]
            .as_str()
            .unwrap()
            .split('.')
            .nth(1)
            .unwrap();
        let claims: Map<String, Value> =
            serde_json::from_slice(&B64.decode(payload).unwrap()).unwrap();
        assert!(claims.get("email").is_none() && claims.get("name").is_none());
        assert_eq!(claims["groups"], json!(["admins", "readers"]));
    }
}
