//! The `Authorization` header: one lookup, then the scheme and the token's syntax (RFC 6750
//! section 2.1), without allocating.

use http::{header, HeaderMap};

/// The longest token accepted. Real access tokens stay below a few KiB; a longer one is
/// refused before anything else looks at it.
pub(crate) const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What the request's `Authorization` header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Credentials<'a> {
    /// No `Authorization` header.
    None,
    /// `Bearer <token>`, the token well-formed (`b64token`).
    Bearer(&'a str),
    /// Another scheme (Basic, say): the app's business (`AUTH_METHOD=both`).
    Other,
    /// The Bearer scheme with no token, a malformed or oversized one, or several
    /// `Authorization` headers (RFC 6750 `invalid_request`).
    Malformed,
}

/// The bytes after `Bearer ` of the request's one `Authorization` header, unchecked: enough
/// to look a token up among those verified before (a hit is, byte for byte, a token that
/// passed [`credentials`] and every check), so a repeated token skips the syntax check.
pub(crate) fn bearer_bytes(headers: &HeaderMap) -> Option<&[u8]> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let value = all.next()?;
    if all.next().is_some() {
        return None;
    }
    let bytes = value.as_bytes();
    let scheme = bytes.get(..6)?;
    (scheme.eq_ignore_ascii_case(b"bearer") && bytes.get(6) == Some(&b' '))
        .then(|| bytes[6..].trim_ascii_start())
}

/// Reads the `Authorization` header. The scheme is matched without regard to case (RFC 9110
/// section 11.1).
pub(crate) fn credentials(headers: &HeaderMap) -> Credentials<'_> {
    let mut all = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = all.next() else {
        return Credentials::None;
    };
    let bytes = value.as_bytes();
    let is_bearer = bytes.len() >= 6 && bytes[..6].eq_ignore_ascii_case(b"bearer");
    if !is_bearer || bytes.get(6).is_some_and(|b| *b != b' ') {
        return if all.next().is_some() {
            Credentials::Malformed
        } else {
            Credentials::Other
        };
    }
    if all.next().is_some() {
        return Credentials::Malformed;
    }
    let token = bytes[6..].trim_ascii_start();
    if is_b64token(token) {
        // `is_b64token` admits ASCII only.
        std::str::from_utf8(token).map_or(Credentials::Malformed, Credentials::Bearer)
    } else {
        Credentials::Malformed
    }
}

/// The bytes of `b64token` before its padding: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" /
/// "/", as a table (one load per byte).
const TOKEN_CHARS: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="` (RFC 6750
/// section 2.1), at most [`MAX_TOKEN_LEN`] bytes.
fn is_b64token(token: &[u8]) -> bool {
    let body_len = token.len() - token.iter().rev().take_while(|b| **b == b'=').count();
    body_len > 0
        && token.len() <= MAX_TOKEN_LEN
        && token[..body_len]
            .iter()
            .all(|b| TOKEN_CHARS[usize::from(*b)])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(values: &[&str]) -> Credentials<'static> {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, v.parse().unwrap());
        }
        // Leaked for the test's 'static: a handful of bytes.
        let h: &'static HeaderMap = Box::leak(Box::new(h));
        credentials(h)
    }

    #[test]
    fn reads_the_scheme_and_the_token() {
        assert_eq!(read(&[]), Credentials::None);
        assert_eq!(
            read(&["Bearer abc.DEF-_~+/=="]),
            Credentials::Bearer("abc.DEF-_~+/==")
        );
        assert_eq!(read(&["bearer  abc"]), Credentials::Bearer("abc"));
        assert_eq!(read(&["BEARER abc"]), Credentials::Bearer("abc"));
        assert_eq!(read(&["Basic dXNlcjpwYXNz"]), Credentials::Other);
        assert_eq!(read(&["Bearerabc"]), Credentials::Other);
        assert_eq!(read(&["DPoP abc"]), Credentials::Other);
    }

    #[test]
    fn the_raw_bearer_bytes_are_read_only_from_one_bearer_header() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer_bytes(&h), None);
        h.insert(header::AUTHORIZATION, "bearer   a b".parse().unwrap());
        assert_eq!(bearer_bytes(&h), Some(&b"a b"[..]));
        h.insert(header::AUTHORIZATION, "Basic abc".parse().unwrap());
        assert_eq!(bearer_bytes(&h), None);
        h.insert(header::AUTHORIZATION, "Bearer a".parse().unwrap());
        h.append(header::AUTHORIZATION, "Bearer a".parse().unwrap());
        assert_eq!(bearer_bytes(&h), None);
    }

    #[test]
    fn malformed_bearer_headers_are_named() {
        let huge = format!("Bearer {}", "a".repeat(MAX_TOKEN_LEN + 1));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer ===",
            "Bearer a=b",
            "Bearer a\"b",
            "Bearer a,b",
            huge.as_str(),
        ] {
            assert_eq!(read(&[bad]), Credentials::Malformed, "{bad:.20}");
        }
        assert_eq!(read(&["Bearer a", "Bearer b"]), Credentials::Malformed);
        assert_eq!(read(&["Basic a", "Bearer b"]), Credentials::Malformed);
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            http::HeaderValue::from_bytes(b"Bearer \xffabc").unwrap(),
        );
        assert_eq!(credentials(&h), Credentials::Malformed);
    }
}
