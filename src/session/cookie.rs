//! Cookie names, `Set-Cookie` values, and reading the request's `Cookie` headers.

use aws_lc_rs::digest;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue};

/// The names of the cookies, `__Host-` prefixed when `BASE_URL` is https (RFC 6265bis 4.1.3.2).
#[derive(Debug, Clone)]
pub(crate) struct CookieNames {
    pub(crate) session: String,
    pub(crate) logout: String,
    pub(crate) login_prefix: String,
    pub(crate) secure: bool,
}

impl CookieNames {
    pub(crate) fn new(secure: bool) -> Self {
        let prefix = if secure { "__Host-" } else { "" };
        Self {
            session: format!("{prefix}oidc-session"),
            logout: format!("{prefix}oidc-logout"),
            login_prefix: format!("{prefix}oidc-login-"),
            secure,
        }
    }

    /// The login cookie for `state`: named after a hash of it, so the callback finds its record
    /// directly and several tabs can log in at once without overwriting each other.
    pub(crate) fn login(&self, state: &str) -> String {
        let hash = digest::digest(&digest::SHA256, state.as_bytes());
        format!("{}{}", self.login_prefix, B64.encode(&hash.as_ref()[..9]))
    }

    /// A `Set-Cookie` value: HttpOnly, SameSite=Lax (the callback is a cross-site top-level
    /// navigation, which Strict would strip), Path=/, Secure on https.
    ///
    /// Written directly rather than through `cookie::Cookie`'s `Display`: the names are ours and
    /// the values base64url, so nothing needs quoting or encoding, and this runs at every login.
    pub(crate) fn set(&self, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
        let max_age = max_age_secs.to_string();
        let mut s = String::with_capacity(name.len() + value.len() + 64);
        for part in [
            name,
            "=",
            value,
            "; HttpOnly; SameSite=Lax; Path=/; Max-Age=",
            &max_age,
        ] {
            s.push_str(part);
        }
        if self.secure {
            s.push_str("; Secure");
        }
        HeaderValue::try_from(s)
            .expect("cookie names and base64url values are valid header characters")
    }

    /// A `Set-Cookie` value that deletes the cookie.
    pub(crate) fn remove(&self, name: &str) -> HeaderValue {
        self.set(name, "", 0)
    }
}

/// Iterates over the request's cookies, across every `Cookie` header, borrowing from them;
/// pairs without `=` are skipped and surrounding double quotes are removed.
///
/// A `Cookie` request header is only `name=value` pairs separated by `;` (RFC 6265 section
/// 4.2.1), so a split is the whole parse; `cookie::Cookie::split_parse` also validates every
/// pair's attributes, which cost a fifth of the hot path. Our values are base64url and need no
/// decoding.
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(value);
            Some((name.trim(), value))
        })
}

/// The value of the first cookie called `name` (the hot path's one cookie read).
pub(crate) fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    request_cookies(headers)
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_parsed_across_headers_and_quotes() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; b=\"two\""));
        h.append(header::COOKIE, HeaderValue::from_static("c=3;junk;d"));
        assert_eq!(request_cookie(&h, "b"), Some("two"));
        assert_eq!(request_cookie(&h, "c"), Some("3"));
        assert_eq!(request_cookie(&h, "d"), None);
    }

    #[test]
    fn host_prefix_only_on_https() {
        assert_eq!(CookieNames::new(true).session, "__Host-oidc-session");
        assert_eq!(CookieNames::new(false).session, "oidc-session");
        let set = CookieNames::new(true).set("__Host-oidc-session", "v", 60);
        let s = set.to_str().unwrap();
        for attr in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/", "Max-Age=60"] {
            assert!(s.contains(attr), "{s}");
        }
        assert!(!s.contains("Domain"), "{s}");
    }
}
