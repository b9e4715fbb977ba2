//! Return-to targets: where the browser goes after login. Same-origin paths only, never an open
//! redirect.

use http::request::Parts;
use url::Url;

use crate::route::app_uri;

/// The longest return-to target kept; longer ones fall back to `/`. Four pending login cookies
/// must stay well inside the 8 KiB header-line limit of common proxies.
const MAX_RETURN_TO: usize = 512;

/// Accepts a return-to target only if it is a same-origin path: it starts with one `/`, has no
/// backslash or control character (browsers treat `\` as `/`), does not turn into `//` or `/\`
/// once percent-decoded, and resolves to `BASE_URL`'s origin. Anything else is refused.
pub(crate) fn safe_return_to(base: &Url, raw: &str) -> Option<String> {
    fn plain(s: &str) -> bool {
        s.starts_with('/')
            && !s.starts_with("//")
            && !s.contains('\\')
            && !s.chars().any(char::is_control)
    }
    if raw.len() > MAX_RETURN_TO || !plain(raw) {
        return None;
    }
    if !raw.contains('%') {
        // A path-absolute reference (one leading `/`, no `\`, no control character that URL
        // parsers would strip) always resolves to the base's origin (WHATWG URL, "path-absolute-URL
        // string"); the costlier checks below are for encoded forms.
        return Some(raw.to_owned());
    }
    let decoded = percent_decode(raw);
    if !plain(&decoded) {
        return None;
    }
    let resolved = base.join(raw).ok()?;
    (resolved.origin() == base.origin()).then(|| raw.to_owned())
}

/// `s` percent-decoded until it no longer changes, at most three times: a target decoded again
/// by some proxy must be safe too. Plain percent-decoding (RFC 3986 2.1), not form decoding:
/// `+` stays `+`, and a decoded `&` or `=` is just a character (a form parser would cut the
/// target there and check only what comes before it).
fn percent_decode(s: &str) -> String {
    let mut current = s.to_owned();
    for _ in 0..3 {
        let next = percent_encoding::percent_decode_str(&current)
            .decode_utf8_lossy()
            .into_owned();
        if next == current {
            break;
        }
        current = next;
    }
    current
}

/// The return-to target of the explicit login route: its `return_to` query parameter.
pub(crate) fn requested_return_to(base: &Url, parts: &Parts) -> String {
    app_uri(parts)
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "return_to")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|raw| safe_return_to(base, &raw))
        .unwrap_or_else(|| "/".to_owned())
}

/// The return-to target of a protected request: the request's own path and query (as the
/// app's router got it, when the layer sits in a nested router).
pub(crate) fn current_target(base: &Url, parts: &Parts) -> String {
    let target = app_uri(parts)
        .path_and_query()
        .map_or("/", |pq| pq.as_str());
    safe_return_to(base, target).unwrap_or_else(|| "/".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("https://app.example.com").unwrap()
    }

    #[test]
    fn keeps_same_origin_paths() {
        for ok in [
            "/",
            "/reports?id=7",
            "/a/b#frag",
            "/caf%C3%A9",
            "/?next=//x",
        ] {
            assert_eq!(safe_return_to(&base(), ok).as_deref(), Some(ok), "{ok}");
        }
    }

    #[test]
    fn refuses_open_redirects() {
        for bad in [
            "//evil.example",
            "//evil.example/path",
            "https://evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/%2Fevil.example",
            "/%5Cevil.example",
            "%2F%2Fevil.example",
            "/%252Fevil.example",
            // A decoded `&` must not hide what follows it (found by the callback_query fuzzer).
            "/%26F2%00",
            "/%26%5Cevil.example",
            "/a%26b%0d%0aSet-Cookie:x=1",
            "/\tevil",
            "javascript:alert(1)",
            "evil.example",
            "",
        ] {
            assert_eq!(safe_return_to(&base(), bad), None, "{bad}");
        }
    }
}
