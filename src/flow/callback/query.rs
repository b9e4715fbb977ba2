//! The authorization response's query (RFC 6749 4.1.2, RFC 9207), and the page for an error
//! response from the provider.

use serde::Deserialize;

use crate::error::{AuthError, AuthErrorKind};

/// The authorization response's query parameters.
#[derive(Deserialize, Default)]
pub(crate) struct CallbackQuery {
    pub(crate) code: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) iss: Option<String>,
    pub(crate) error: Option<String>,
}

/// Reads the authorization response's query; a query that is not form-encoded text is refused.
pub(crate) fn parse(query: Option<&str>) -> Result<CallbackQuery, AuthError> {
    match query {
        None => Ok(CallbackQuery::default()),
        Some(q) => serde_urlencoded::from_str(q).map_err(|_| malformed()),
    }
}

/// Reads a form_post response's body (OAuth 2.0 Form Post Response Mode section 2): the same
/// parameters as a query, in a form.
pub(crate) fn parse_form(form: &[u8]) -> Result<CallbackQuery, AuthError> {
    match std::str::from_utf8(form) {
        Ok(text) if !text.is_empty() => parse(Some(text)),
        Ok(_) => Ok(CallbackQuery::default()),
        Err(_) => Err(malformed()),
    }
}

fn malformed() -> AuthError {
    AuthError::new(
        AuthErrorKind::MalformedCallback,
        "The sign-in response could not be read.",
    )
}

/// The refusal for an error response from the provider: its `error` code is echoed only when
/// it looks like one (letters, digits and `_`, at most 64 bytes; RFC 6749 4.1.2.1).
pub(crate) fn provider_denied(error: &str) -> AuthError {
    let code = if error
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && error.len() <= 64
    {
        error
    } else {
        "unrecognised_error"
    };
    // The answers to `prompt=none` (OpenID Connect Core 3.1.2.6): the provider would have had
    // to show a page.
    let why = match code {
        "login_required" => " You are not signed in there, and this sign-in asked it to show no login page (prompt=none).",
        "interaction_required" | "consent_required" | "account_selection_required" => {
            " It needs you to act on one of its pages, and this sign-in asked it to show none (prompt=none)."
        }
        _ => "",
    };
    AuthError::new(
        AuthErrorKind::ProviderDenied,
        format!("The identity provider did not sign you in ({code}).{why}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_parameters_and_refuses_what_is_not_form_encoded() {
        let q = parse(Some("code=c1&state=s1&iss=https%3A%2F%2Fid.example.com")).unwrap();
        assert_eq!(q.code.as_deref(), Some("c1"));
        assert_eq!(q.state.as_deref(), Some("s1"));
        assert_eq!(q.iss.as_deref(), Some("https://id.example.com"));
        assert!(q.error.is_none());
        assert!(parse(None).unwrap().state.is_none());
        let err = parse(Some("state=a&state=b"))
            .err()
            .expect("a repeated parameter");
        assert_eq!(err.kind(), AuthErrorKind::MalformedCallback);
    }

    #[test]
    fn reads_a_posted_form_and_refuses_a_malformed_one() {
        let q = parse_form(b"code=c1&state=s1&iss=https%3A%2F%2Fid.example.com").unwrap();
        assert_eq!(q.code.as_deref(), Some("c1"));
        assert_eq!(q.iss.as_deref(), Some("https://id.example.com"));
        assert!(parse_form(b"").unwrap().state.is_none());
        for bad in [&b"state=a&state=b"[..], b"\xff\xfe=1"] {
            let err = parse_form(bad).err().expect("refused");
            assert_eq!(err.kind(), AuthErrorKind::MalformedCallback);
        }
    }

    #[test]
    fn echoes_only_error_codes_that_look_like_codes() {
        let shown = |e: &str| provider_denied(e).reason().to_owned();
        assert!(shown("access_denied").contains("(access_denied)"));
        assert!(shown("<script>").contains("(unrecognised_error)"));
        assert!(shown(&"a".repeat(65)).contains("(unrecognised_error)"));
        assert_eq!(provider_denied("x").kind(), AuthErrorKind::ProviderDenied);
        assert!(shown("login_required").contains("prompt=none"));
        assert!(!shown("access_denied").contains("prompt=none"));
    }
}
