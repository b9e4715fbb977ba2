//! The relying parties registered at the provider, and what each may use.

use std::fmt;

/// A client (relying party) registered at the [`DevIdp`](crate::DevIdp).
///
/// Redirect URIs are compared exactly, as RFC 6749 section 3.1.2 and the OAuth 2.0 Security BCP
/// require: no prefix matching, no wildcards.
#[derive(Clone)]
pub struct DevClient {
    pub(crate) id: String,
    pub(crate) secret: Option<String>,
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
}

impl DevClient {
    /// A confidential client that authenticates at the token endpoint with `secret`, by HTTP
    /// Basic (`client_secret_basic`) or in the form (`client_secret_post`).
    pub fn new(id: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            id: id.into(),
            secret: Some(secret.into()),
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
        }
    }

    /// A public client: it has no secret and sends only its `client_id` to the token endpoint
    /// (token endpoint auth method `none`); PKCE is what protects its codes.
    pub fn public(id: impl Into<String>) -> Self {
        Self {
            secret: None,
            ..Self::new(id, String::new())
        }
    }

    /// Registers a redirect URI (the app's callback, e.g. `http://127.0.0.1:3000/auth/callback`).
    pub fn add_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.redirect_uris.push(uri.into());
        self
    }

    /// Registers a URI the provider may send the browser to after logout.
    pub fn add_post_logout_redirect_uri(mut self, uri: impl Into<String>) -> Self {
        self.post_logout_redirect_uris.push(uri.into());
        self
    }

    /// The client identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    pub(crate) fn allows_redirect(&self, uri: &str) -> bool {
        self.redirect_uris.iter().any(|r| r == uri)
    }

    pub(crate) fn allows_post_logout(&self, uri: &str) -> bool {
        self.post_logout_redirect_uris.iter().any(|r| r == uri)
    }
}

impl fmt::Debug for DevClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevClient")
            .field("id", &self.id)
            .field("secret", &self.secret.as_ref().map(|_| "[redacted]"))
            .field("redirect_uris", &self.redirect_uris)
            .field("post_logout_redirect_uris", &self.post_logout_redirect_uris)
            .finish()
    }
}
