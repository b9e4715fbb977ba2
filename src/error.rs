//! Errors: configuration problems found at startup, and the reasons a sign-in can fail.

use std::fmt;

use http::StatusCode;

/// One problem found in the configuration, naming the setting to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    /// The environment variable (or builder setting) to change, e.g. `OIDC_ISSUER_URL`.
    pub key: String,
    /// What is wrong with it and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The configuration cannot be used. Every problem found is listed, each with the key to fix.
///
/// Returned by [`OidcConfigBuilder::build`](crate::OidcConfigBuilder::build) and
/// [`OidcConfig::from_env`](crate::OidcConfig::from_env).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    problems: Vec<ConfigProblem>,
}

impl ConfigError {
    pub(crate) fn new(problems: Vec<ConfigProblem>) -> Self {
        debug_assert!(!problems.is_empty());
        Self { problems }
    }

    /// Every problem found, in the order the settings were checked.
    pub fn problems(&self) -> &[ConfigProblem] {
        &self.problems
    }

    /// Whether a problem names `key` (an environment variable or builder setting).
    pub fn mentions(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let [only] = self.problems.as_slice() {
            return write!(f, "invalid OpenID Connect configuration: {only}");
        }
        write!(
            f,
            "invalid OpenID Connect configuration ({} problems):",
            self.problems.len()
        )?;
        for p in &self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// Why a request was not let through, or why a sign-in failed.
///
/// The layer's error pages, its 401 JSON and its chooser page carry an [`AuthError`] in their
/// extensions, so an application can restyle them (for example with axum's `map_response`);
/// the redirect to the provider, the 404 page for an unknown provider, the providers JSON and
/// the logout pages carry none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthErrorKind {
    /// No valid session, and the request is not a browser navigation (API, XHR, non-GET).
    Unauthenticated,
    /// The callback had no `state` parameter.
    MissingState,
    /// The callback's `state` matches no login started in this browser.
    StateMismatch,
    /// The login was started more than ten minutes ago, or its callback was already used.
    LoginExpired,
    /// The callback query string could not be parsed, or had no `code`.
    MalformedCallback,
    /// The authorization response's `iss` parameter (RFC 9207) is not our issuer.
    IssuerMismatch,
    /// The identity provider answered the authorization request with `error=`.
    ProviderDenied,
    /// The identity provider refused the authorization code (`invalid_grant`: expired or already
    /// redeemed, or another error code of the token endpoint).
    CodeRejected,
    /// The identity provider refused this application's client at the token endpoint: a wrong
    /// client secret or authentication method (`invalid_client`), a client not allowed the code
    /// flow (`unauthorized_client`), or a redirect URI it does not accept. A configuration
    /// mistake; the reason names the setting to fix.
    ClientRejected,
    /// The ID token failed validation (signature, issuer, audience, time, nonce, ...).
    InvalidIdToken,
    /// The userinfo response belongs to another subject, or is malformed.
    InvalidUserinfo,
    /// The identity provider could not be reached (connection refused, timeout).
    ProviderUnreachable,
    /// The identity provider answered with something we cannot use.
    BadProviderResponse,
    /// The session would not fit in a cookie.
    SessionTooLarge,
    /// The user's groups match no rule of the role map, and it has no default role.
    NoRole,
    /// An email domain restriction applies and the provider did not verify the user's email.
    EmailNotVerified,
    /// The user's email domain is not among the allowed ones (`OIDC_ALLOWED_EMAIL_DOMAINS`).
    EmailDomainNotAllowed,
    /// The groups claim is neither a string nor an array of strings.
    InvalidGroupsClaim,
    /// The app's login hook refused the user.
    LoginRefused,
    /// The server-side session store (`OIDC_SESSION_STORE`) cannot be reached: a session
    /// cannot be checked, or a new one stored.
    SessionStoreUnavailable,
    /// A bearer access token was refused (RFC 6750 `invalid_token`): not a JWT access token
    /// for this API from a configured provider, or expired, or its signature failed.
    InvalidAccessToken,
    /// The `Authorization` header names the Bearer scheme but is malformed (RFC 6750
    /// `invalid_request`).
    MalformedAuthorization,
    /// The login asked for a sign-in no older than `max_age`, and the ID token's `auth_time`
    /// is older (plus the clock leeway): the provider did not ask the user to sign in again.
    AuthenticationTooOld,
    /// The ID token's `acr` is missing or not one of the requested `acr_values`, which the
    /// configuration requires (`OIDC_REQUIRE_ACR`).
    AcrNotAccepted,
}

impl AuthErrorKind {
    /// A stable snake_case name, used in logs and JSON bodies.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::MissingState => "missing_state",
            Self::StateMismatch => "state_mismatch",
            Self::LoginExpired => "login_expired",
            Self::MalformedCallback => "malformed_callback",
            Self::IssuerMismatch => "issuer_mismatch",
            Self::ProviderDenied => "provider_denied",
            Self::CodeRejected => "code_rejected",
            Self::ClientRejected => "client_rejected",
            Self::InvalidIdToken => "invalid_id_token",
            Self::InvalidUserinfo => "invalid_userinfo",
            Self::ProviderUnreachable => "provider_unreachable",
            Self::BadProviderResponse => "bad_provider_response",
            Self::SessionTooLarge => "session_too_large",
            Self::NoRole => "no_role",
            Self::EmailNotVerified => "email_not_verified",
            Self::EmailDomainNotAllowed => "email_domain_not_allowed",
            Self::InvalidGroupsClaim => "invalid_groups_claim",
            Self::LoginRefused => "login_refused",
            Self::SessionStoreUnavailable => "session_store_unavailable",
            Self::InvalidAccessToken => "invalid_token",
            Self::MalformedAuthorization => "invalid_request",
            Self::AuthenticationTooOld => "authentication_too_old",
            Self::AcrNotAccepted => "acr_not_accepted",
        }
    }

    /// The HTTP status the layer answers with.
    pub fn status(self) -> StatusCode {
        match self {
            Self::Unauthenticated
            | Self::InvalidIdToken
            | Self::InvalidUserinfo
            | Self::InvalidAccessToken
            | Self::AuthenticationTooOld => StatusCode::UNAUTHORIZED,
            Self::ProviderDenied
            | Self::AcrNotAccepted
            | Self::NoRole
            | Self::EmailNotVerified
            | Self::EmailDomainNotAllowed
            | Self::InvalidGroupsClaim
            | Self::LoginRefused => StatusCode::FORBIDDEN,
            Self::MissingState
            | Self::StateMismatch
            | Self::LoginExpired
            | Self::MalformedCallback
            | Self::IssuerMismatch
            | Self::CodeRejected
            | Self::MalformedAuthorization => StatusCode::BAD_REQUEST,
            Self::ProviderUnreachable | Self::SessionStoreUnavailable => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::BadProviderResponse => StatusCode::BAD_GATEWAY,
            Self::SessionTooLarge | Self::ClientRejected => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl fmt::Display for AuthErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed sign-in or a refused request: a kind plus a short human reason.
///
/// The reason never contains a token, code, cookie, secret or claim value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind}: {reason}")]
pub struct AuthError {
    kind: AuthErrorKind,
    reason: String,
}

impl AuthError {
    pub(crate) fn new(kind: AuthErrorKind, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }

    /// What went wrong, as a matchable kind.
    pub fn kind(&self) -> AuthErrorKind {
        self.kind
    }

    /// A short explanation meant for the person in front of the browser.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.kind.status()
    }
}
