//! The token endpoint's error answer (RFC 6749 section 5.2), read into what the operator must
//! fix: a wrong client secret or authentication method (`invalid_client`), a client not allowed
//! the code flow (`unauthorized_client`), a spent or expired code (`invalid_grant`), or a redirect
//! URI the provider does not accept.
//!
//! The provider's own `error_description` goes to the log only, sanitized (control characters
//! stripped, anything shaped like a token or code, and the values we sent, blanked) and
//! truncated; pages show our own sentences and at most the filtered OAuth error code.

use serde::Deserialize;

use crate::config::ProviderConfig;
use crate::error::{AuthError, AuthErrorKind};

/// The most characters of the provider's `error_description` that reach the log.
const MAX_DESCRIPTION: usize = 200;
/// A run of token characters this long is blanked in a logged description: codes, tokens and
/// secrets are long random strings, words are not.
const TOKEN_LIKE_RUN: usize = 24;

/// The token endpoint refused the request: its OAuth error code and what we know about the
/// request that was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TokenRefusal {
    /// The HTTP status of the answer.
    pub(crate) status: u16,
    /// The OAuth error code, when it looks like one (see [`safe_code`]).
    pub(crate) code: Option<String>,
    /// The provider's `error_description`, sanitized for the log; never shown on a page.
    pub(crate) description: Option<String>,
    /// Whether the client authenticated with HTTP Basic and a secret that RFC 6749 section
    /// 2.3.1's form-encoding changes (`+`, `/`, `=`, ...), which some providers do not decode.
    pub(crate) basic_with_encoded_secret: bool,
}

impl TokenRefusal {
    /// Reads a 4xx answer of the token endpoint. `sent` are the values of the request (code,
    /// verifier, client secret) that must never reach the log even if the provider echoes them.
    pub(crate) fn read(
        status: u16,
        body: &[u8],
        sent: &[&str],
        basic_with_encoded_secret: bool,
    ) -> Self {
        #[derive(Deserialize)]
        struct OAuthError {
            error: String,
            #[serde(default)]
            error_description: Option<String>,
        }
        let parsed = serde_json::from_slice::<OAuthError>(body).ok();
        Self {
            status,
            code: parsed
                .as_ref()
                .map(|e| safe_code(&e.error))
                .filter(|c| c != UNRECOGNISED),
            description: parsed
                .and_then(|e| e.error_description)
                .map(|d| sanitize(&d, sent))
                .filter(|d| !d.is_empty()),
            basic_with_encoded_secret,
        }
    }

    /// The code as shown in pages and logs: the OAuth code, or the HTTP status without one.
    pub(crate) fn shown_code(&self) -> String {
        match &self.code {
            Some(code) => code.clone(),
            None => format!("HTTP {}", self.status),
        }
    }

    /// Whether the provider says the redirect URI is the problem: Google's
    /// `redirect_uri_mismatch`, or a description that names the redirect URI.
    fn about_redirect_uri(&self) -> bool {
        self.code.as_deref() == Some("redirect_uri_mismatch")
            || self.description.as_deref().is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d.contains("redirect_uri") || d.contains("redirect uri")
            })
    }

    /// The error for the sign-in page and the log, naming the settings of `config` to fix.
    pub(crate) fn to_auth_error(&self, config: &ProviderConfig) -> AuthError {
        let code = self.shown_code();
        let key = |suffix: &str| config.keys.key(suffix);
        let client = config.client_id.as_str();
        if self.about_redirect_uri() {
            return AuthError::new(
                AuthErrorKind::ClientRejected,
                format!(
                    "The identity provider refused the redirect URI ({code}). Register `{uri}` \
                     as a redirect URI of client `{client}` at the provider, exactly as written; \
                     it is BASE_URL followed by the callback path.",
                    uri = config.redirect_uri,
                ),
            );
        }
        let invalid_client = self.code.as_deref() == Some("invalid_client")
            || (self.code.is_none() && self.status == 401);
        if invalid_client && config.token_auth == crate::config::TokenAuthMethod::PrivateKeyJwt {
            // The client signs an assertion: its key, not a secret, is what the provider refused.
            return AuthError::new(
                AuthErrorKind::ClientRejected,
                format!(
                    "The identity provider did not accept this application's client assertion \
                     ({code}). Check that client `{client}` is registered for private_key_jwt \
                     with the public key of {file} (logged at startup), and {alg} and {aud}.",
                    file = key("CLIENT_ASSERTION_KEY_FILE"),
                    alg = key("CLIENT_ASSERTION_ALG"),
                    aud = key("CLIENT_ASSERTION_AUDIENCE"),
                ),
            );
        }
        if invalid_client {
            let mut reason = format!(
                "The identity provider did not accept this application's client credentials \
                 ({code}). Check {secret} (the secret the provider holds for client `{client}`) \
                 and {method} (the authentication method the client is registered with: \
                 client_secret_basic or client_secret_post).",
                secret = key("CLIENT_SECRET"),
                method = key("TOKEN_ENDPOINT_AUTH_METHOD"),
            );
            if self.basic_with_encoded_secret {
                reason.push_str(&format!(
                    " The secret contains characters that HTTP Basic authentication must \
                     form-encode (RFC 6749 section 2.3.1), and some providers do not decode them: \
                     set {method}=client_secret_post, or give the client a secret of letters and \
                     digits only.",
                    method = key("TOKEN_ENDPOINT_AUTH_METHOD"),
                ));
            }
            return AuthError::new(AuthErrorKind::ClientRejected, reason);
        }
        match self.code.as_deref() {
            Some("unauthorized_client") => AuthError::new(
                AuthErrorKind::ClientRejected,
                format!(
                    "The identity provider does not let client `{client}` redeem sign-in codes \
                     ({code}): allow the authorization code flow (grant type \
                     `authorization_code`) for it at the provider."
                ),
            ),
            // RFC 9449 sections 5 and 8: a provider that requires DPoP, or refused the proof
            // (or asked for a nonce again after the one retry).
            Some("invalid_dpop_proof" | "use_dpop_nonce") if !config.dpop => AuthError::new(
                AuthErrorKind::ClientRejected,
                format!(
                    "The identity provider wants DPoP-bound tokens of client `{client}` \
                     ({code}): set {dpop}=true, or turn off DPoP for the client at the provider.",
                    dpop = key("DPOP"),
                ),
            ),
            Some("invalid_dpop_proof" | "use_dpop_nonce") => AuthError::new(
                AuthErrorKind::BadProviderResponse,
                format!(
                    "The identity provider refused this application's DPoP proof ({code}): check \
                     this server's clock against the provider's, and that the provider's \
                     discovery lists ES256 in dpop_signing_alg_values_supported."
                ),
            ),
            Some("invalid_grant") => AuthError::new(
                AuthErrorKind::CodeRejected,
                format!(
                    "The identity provider refused the sign-in code ({code}): it expired or was \
                     already used, or the provider's clock is wrong. Start the sign-in again. If \
                     every sign-in ends here, check that `{uri}` is registered at the provider \
                     exactly as written and that BASE_URL did not change while signing in.",
                    uri = config.redirect_uri,
                ),
            ),
            _ => AuthError::new(
                AuthErrorKind::CodeRejected,
                format!(
                    "The identity provider refused to redeem the sign-in code ({code}). Start the \
                     sign-in again; the provider's log says why it refused."
                ),
            ),
        }
    }
}

const UNRECOGNISED: &str = "unrecognised error";

/// An OAuth error code is echoed in pages and logs only if it looks like one (RFC 6749 5.2:
/// printable ASCII without quotes or backslash), and never longer than 64 characters.
pub(crate) fn safe_code(code: &str) -> String {
    if !code.is_empty()
        && code.len() <= 64
        && code
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
    {
        code.to_owned()
    } else {
        UNRECOGNISED.into()
    }
}

/// A provider's free text, made fit for one log line: control characters dropped, the values
/// in `sent` and long token-like runs blanked, at most [`MAX_DESCRIPTION`] characters.
pub(crate) fn sanitize(text: &str, sent: &[&str]) -> String {
    let mut text: String = text.chars().filter(|c| !c.is_control()).collect();
    for value in sent.iter().filter(|v| v.len() >= 4) {
        text = text.replace(value, "[redacted]");
    }
    let token_char = |c: char| c.is_ascii_alphanumeric() || "-._~+/=".contains(c);
    let mut out = String::with_capacity(text.len().min(MAX_DESCRIPTION));
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.chars().count() >= TOKEN_LIKE_RUN {
            out.push_str("[redacted]");
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in text.chars() {
        if token_char(c) {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    let out = out.trim();
    match out.char_indices().nth(MAX_DESCRIPTION) {
        Some((cut, _)) => format!("{}…", &out[..cut]),
        None => out.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_error_codes_are_echoed_only_when_they_look_like_one() {
        assert_eq!(safe_code("invalid_grant"), "invalid_grant");
        assert_eq!(safe_code("urn.example-code_1"), "urn.example-code_1");
        for bad in ["", "has space", "<b>", "quote\"", &"x".repeat(65)] {
            assert_eq!(safe_code(bad), UNRECOGNISED, "{bad}");
        }
    }

    #[test]
    fn a_description_loses_control_characters_secrets_and_length() {
        let sent = ["code-abc-123", "hunter2-secret"];
        let d = sanitize(
            "bad\r\nline\u{1b}[31m code-abc-123 with hunter2-secret and eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln",
            &sent,
        );
        assert_eq!(
            d, "badline[31m [redacted] with [redacted] and [redacted]",
            "{d}"
        );
        let long = sanitize(&"word ".repeat(100), &[]);
        assert_eq!(long.chars().count(), MAX_DESCRIPTION + 1, "{long}");
        assert!(long.ends_with('…'));
        assert_eq!(
            sanitize("client authentication failed", &[]),
            "client authentication failed"
        );
    }

    fn config() -> ProviderConfig {
        crate::OidcConfig::builder()
            .with_issuer("https://id.example.com")
            .with_client_id("app")
            .with_client_secret("s")
            .with_base_url("https://app.example.com")
            .allow_random_cookie_key(true)
            .build()
            .expect("a valid test configuration")
            .providers[0]
            .clone()
    }

    fn refusal(status: u16, body: &str, encoded: bool) -> TokenRefusal {
        TokenRefusal::read(status, body.as_bytes(), &["the-code-value"], encoded)
    }

    #[test]
    fn each_code_names_its_fix() {
        let c = config();
        let e = refusal(401, r#"{"error":"invalid_client"}"#, false).to_auth_error(&c);
        assert_eq!(e.kind(), AuthErrorKind::ClientRejected);
        assert!(e.reason().contains("OIDC_CLIENT_SECRET"), "{}", e.reason());
        assert!(
            e.reason().contains("OIDC_TOKEN_ENDPOINT_AUTH_METHOD"),
            "{}",
            e.reason()
        );
        assert!(
            !e.reason().contains("RFC 6749 section 2.3.1"),
            "{}",
            e.reason()
        );

        let e = refusal(401, "", true).to_auth_error(&c);
        assert_eq!(e.kind(), AuthErrorKind::ClientRejected, "a bare 401");
        assert!(
            e.reason()
                .contains("OIDC_TOKEN_ENDPOINT_AUTH_METHOD=client_secret_post"),
            "{}",
            e.reason()
        );

        let e = refusal(400, r#"{"error":"invalid_grant"}"#, false).to_auth_error(&c);
        assert_eq!(e.kind(), AuthErrorKind::CodeRejected);
        assert!(
            e.reason().contains("expired or was already used"),
            "{}",
            e.reason()
        );
        assert!(e.reason().contains("clock"), "{}", e.reason());

        for body in [
            r#"{"error":"redirect_uri_mismatch","error_description":"Bad Request"}"#,
            r#"{"error":"invalid_grant","error_description":"redirect_uri does not match"}"#,
        ] {
            let e = refusal(400, body, false).to_auth_error(&c);
            assert_eq!(e.kind(), AuthErrorKind::ClientRejected, "{body}");
            assert!(
                e.reason()
                    .contains("Register `https://app.example.com/auth/callback`"),
                "{}",
                e.reason()
            );
        }

        let e = refusal(400, r#"{"error":"unauthorized_client"}"#, false).to_auth_error(&c);
        assert!(e.reason().contains("authorization_code"), "{}", e.reason());
        let e = refusal(400, r#"{"error":"invalid_dpop_proof"}"#, false).to_auth_error(&c);
        assert_eq!(e.kind(), AuthErrorKind::ClientRejected);
        assert!(e.reason().contains("set OIDC_DPOP=true"), "{}", e.reason());
        let mut on = config();
        on.dpop = true;
        let e = refusal(400, r#"{"error":"use_dpop_nonce"}"#, false).to_auth_error(&on);
        assert!(
            e.reason().contains("DPoP proof (use_dpop_nonce)"),
            "{}",
            e.reason()
        );
        let e = refusal(400, r#"{"error":"<script>"}"#, false).to_auth_error(&c);
        assert_eq!(e.kind(), AuthErrorKind::CodeRejected);
        assert!(e.reason().contains("(HTTP 400)"), "{}", e.reason());
    }

    #[test]
    fn the_description_is_kept_for_the_log_and_never_in_the_reason() {
        let c = config();
        let r = refusal(
            400,
            r#"{"error":"invalid_grant","error_description":"grant the-code-value is spent"}"#,
            false,
        );
        assert_eq!(r.description.as_deref(), Some("grant [redacted] is spent"));
        let e = r.to_auth_error(&c);
        assert!(!e.reason().contains("spent"), "{}", e.reason());
    }
}
