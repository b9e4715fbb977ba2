//! Reading request parameters: size limits, empty values, form bodies, allowed alphabets.

use http::{header, HeaderMap};

/// The largest query string or form body read, in bytes.
pub(crate) const MAX_PARAMS: usize = 16 * 1024;
/// The longest `state` or `nonce` accepted.
pub(crate) const MAX_STATE: usize = 2048;

/// RFC 6749 3.1: a parameter sent without a value counts as omitted.
pub(crate) fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// Whether the body is `application/x-www-form-urlencoded`, whatever its parameters.
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| {
            v.trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// The base64url alphabet without padding (RFC 4648 5), of PKCE challenges.
pub(crate) fn is_base64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// RFC 3986 unreserved characters, the alphabet of PKCE verifiers (RFC 7636 4.1).
pub(crate) fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}
