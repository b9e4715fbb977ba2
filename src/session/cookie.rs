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
        self.set_with(
            name,
            value,
            max_age_secs,
            "; HttpOnly; SameSite=Lax; Path=/; Max-Age=",
        )
    }

    /// A `Set-Cookie` value for a cookie that must reach a cross-site POST (the login cookie of
    /// a `response_mode=form_post` provider, whose response the browser POSTs from the
    /// provider's site): `SameSite=None; Secure` on https. On an http `BASE_URL` (loopback
    /// only) `Secure` is impossible, and browsers refuse `SameSite=None` without it, so the
    /// cookie goes without a `SameSite` attribute: Chromium then sends it on a top-level
    /// cross-site POST within two minutes of setting it, the others treat it as `None`.
    pub(crate) fn set_cross_site(&self, name: &str, value: &str, max_age_secs: u64) -> HeaderValue {
        let attributes = if self.secure {
            "; HttpOnly; SameSite=None; Path=/; Max-Age="
        } else {
            "; HttpOnly; Path=/; Max-Age="
        };
        self.set_with(name, value, max_age_secs, attributes)
    }

    fn set_with(
        &self,
        name: &str,
        value: &str,
        max_age_secs: u64,
        attributes: &str,
    ) -> HeaderValue {
        let max_age = max_age_secs.to_string();
        let mut s = String::with_capacity(name.len() + value.len() + 64);
        for part in [name, "=", value, attributes, &max_age] {
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
/// pairs without `=` or with a name or value that is not ASCII are skipped, and surrounding
/// double quotes are removed.
pub(crate) fn request_cookies(headers: &HeaderMap) -> impl Iterator<Item = (&str, &str)> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .flat_map(|v| Pairs(v.as_bytes()))
        .filter_map(|(name, value)| Some((ascii(name)?, ascii(value)?)))
}

/// The value of the first cookie called `name`, if it is ASCII.
pub(crate) fn request_cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    request_cookie_bytes(headers, name).and_then(ascii)
}

/// The value of the first cookie called `name`, unchecked: the hot path's one cookie read,
/// which looks the bytes up in the session cache and checks them only when they are new.
///
/// The same answer as searching [`request_cookies`], faster: a pair whose name does not start
/// the pair is skipped with one search for its `;`, so the `=` is looked for only in the pair
/// that matches (cookie names never contain `=`).
pub(crate) fn request_cookie_bytes<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a [u8]> {
    let name = name.as_bytes();
    headers.get_all(header::COOKIE).iter().find_map(|v| {
        let mut rest = v.as_bytes();
        loop {
            let end = memchr::memchr(b';', rest);
            let pair = &rest[..end.unwrap_or(rest.len())];
            if let Some(value) = pair
                .trim_ascii_start()
                .strip_prefix(name)
                .and_then(|after| after.trim_ascii_start().strip_prefix(b"="))
            {
                return Some(unquote(value.trim_ascii()));
            }
            rest = &rest[end? + 1..];
        }
    })
}

/// The `name=value` pairs of one `Cookie` header (RFC 6265 section 4.2.1: pairs separated by
/// `;`, so a split is the whole parse), as bytes: names and values trimmed, values unquoted.
///
/// Works on the header's bytes, not `HeaderValue::to_str`: that checks every byte of a header
/// several hundred bytes long, on every request, before the one value we need is found.
/// `cookie::Cookie::split_parse` also validates every pair's attributes. Our values are
/// base64url and need no decoding.
struct Pairs<'a>(&'a [u8]);

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        while !self.0.is_empty() {
            let (pair, rest) = match memchr::memchr(b';', self.0) {
                Some(i) => (&self.0[..i], &self.0[i + 1..]),
                None => (self.0, &[][..]),
            };
            self.0 = rest;
            let Some(eq) = memchr::memchr(b'=', pair) else {
                continue;
            };
            return Some((
                pair[..eq].trim_ascii(),
                unquote(pair[eq + 1..].trim_ascii()),
            ));
        }
        None
    }
}

/// A value without its surrounding double quotes, if it has them.
fn unquote(value: &[u8]) -> &[u8] {
    value
        .strip_prefix(b"\"")
        .and_then(|v| v.strip_suffix(b"\""))
        .unwrap_or(value)
}

fn ascii(bytes: &[u8]) -> Option<&str> {
    if bytes.is_ascii() {
        std::str::from_utf8(bytes).ok()
    } else {
        None
    }
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
    fn the_first_match_wins_and_odd_pairs_are_skipped() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static(" ; =x; a ; b = 2 ;b=3; \"c\"=4; e=\"; f=\"\""),
        );
        h.append(header::COOKIE, HeaderValue::from_static("b=5"));
        assert_eq!(request_cookie(&h, "b"), Some("2"));
        assert_eq!(request_cookie(&h, "a"), None);
        assert_eq!(request_cookie(&h, ""), Some("x"));
        assert_eq!(request_cookie(&h, "\"c\""), Some("4"));
        assert_eq!(request_cookie(&h, "e"), Some("\""));
        assert_eq!(request_cookie(&h, "f"), Some(""));
        let all: Vec<_> = request_cookies(&h).collect();
        assert_eq!(
            all,
            [
                ("", "x"),
                ("b", "2"),
                ("b", "3"),
                ("\"c\"", "4"),
                ("e", "\""),
                ("f", ""),
                ("b", "5")
            ]
        );
    }

    #[test]
    fn the_fast_search_agrees_with_the_full_parse() {
        // Every header of up to 7 characters from the bytes that matter to the parse.
        const ALPHABET: &[u8] = b"ab=; \"";
        let mut header = Vec::new();
        for len in 0..=7u32 {
            for mut n in 0..ALPHABET.len().pow(len) {
                header.clear();
                for _ in 0..len {
                    header.push(ALPHABET[n % ALPHABET.len()]);
                    n /= ALPHABET.len();
                }
                let mut h = HeaderMap::new();
                h.append(header::COOKIE, HeaderValue::from_bytes(&header).unwrap());
                for name in ["a", "ab", "b"] {
                    let full = Pairs(&header).find(|(n, _)| *n == name.as_bytes());
                    assert_eq!(
                        request_cookie_bytes(&h, name),
                        full.map(|(_, v)| v),
                        "{name} in {:?}",
                        String::from_utf8_lossy(&header)
                    );
                }
            }
        }
    }

    #[test]
    fn a_first_value_that_is_not_ascii_is_not_returned() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_bytes(b"s=caf\xc3\xa9; t=1; s=2").unwrap(),
        );
        assert_eq!(request_cookie(&h, "s"), None);
        assert_eq!(request_cookie_bytes(&h, "s"), Some("café".as_bytes()));
        assert_eq!(request_cookie(&h, "t"), Some("1"));
        assert_eq!(request_cookies(&h).count(), 2);
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
