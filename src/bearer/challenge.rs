//! The answers to a request on an API path whose bearer token is missing, malformed or
//! refused (RFC 6750 section 3): JSON, with `WWW-Authenticate: Bearer realm="tower-oidc"` and
//! an `error` code. The description is ours (never a token or claim value), reduced to the
//! characters RFC 6750 section 3 allows in it.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};

use crate::error::{AuthError, AuthErrorKind};
use crate::pages::Page;

/// The realm of the Bearer challenge.
pub(crate) const REALM: &str = "tower-oidc";

/// A JSON answer with `status`, the layer's no-store and nosniff headers, the `error` code and
/// `description`, and the [`AuthError`] in its extensions for the app's own handling.
fn answer(status: StatusCode, err: &AuthError, challenge: Option<String>) -> Page {
    let body = serde_json::json!({
        "error": err.kind().as_str(),
        "error_description": err.reason(),
    });
    let mut res = Response::new(Bytes::from(body.to_string()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    if let Some(value) = challenge.and_then(|c| HeaderValue::try_from(c).ok()) {
        h.insert(header::WWW_AUTHENTICATE, value);
    }
    res.extensions_mut().insert(err.clone());
    res
}

/// `error_description` may hold only %x20-21 / %x23-5B / %x5D-7E (RFC 6750 section 3).
fn description(text: &str) -> String {
    text.chars()
        .filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E))
        .collect()
}

/// 401 without an error code: the request carried no token (RFC 6750 section 3.1).
pub(crate) fn missing() -> Page {
    let err = AuthError::new(AuthErrorKind::Unauthenticated, "send an access token");
    answer(
        StatusCode::UNAUTHORIZED,
        &err,
        Some(format!("Bearer realm=\"{REALM}\"")),
    )
}

/// 400 `invalid_request`: an `Authorization: Bearer` header that is not one token.
pub(crate) fn malformed() -> Page {
    let err = AuthError::new(
        AuthErrorKind::MalformedAuthorization,
        "the Authorization header must be one `Bearer <token>`",
    );
    refused(&err)
}

/// The answer for a refused token: 401 `invalid_token` (and 400 `invalid_request`) with the
/// challenge; the policy's or the hook's refusal (403) and an unreachable provider (503) with
/// their own codes and no challenge, since another token would not help.
pub(crate) fn refused(err: &AuthError) -> Page {
    let challenge = match err.kind() {
        AuthErrorKind::InvalidAccessToken | AuthErrorKind::MalformedAuthorization => Some(format!(
            "Bearer realm=\"{REALM}\", error=\"{}\", error_description=\"{}\"",
            err.kind().as_str(),
            description(err.reason())
        )),
        _ => None,
    };
    answer(err.status(), err, challenge)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_token_gets_the_rfc_6750_challenge() {
        let err = AuthError::new(AuthErrorKind::InvalidAccessToken, "bad \"x\" \\ \u{7f}é.");
        let page = refused(&err);
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            page.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="tower-oidc", error="invalid_token", error_description="bad x  .""#
        );
        assert_eq!(page.headers()[header::CACHE_CONTROL], "no-store");
        let page = malformed();
        assert_eq!(page.status(), StatusCode::BAD_REQUEST);
        assert!(page.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .unwrap()
            .contains(r#"error="invalid_request""#));
        let page = missing();
        assert_eq!(page.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            page.headers()[header::WWW_AUTHENTICATE],
            r#"Bearer realm="tower-oidc""#
        );
        let down = AuthError::new(AuthErrorKind::ProviderUnreachable, "down");
        let page = refused(&down);
        assert_eq!(page.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(page.headers().get(header::WWW_AUTHENTICATE).is_none());
    }
}
