//! Starting a login: the authorization request (RFC 6749 4.1.1 with PKCE, RFC 7636) and the
//! per-login cookie that remembers it.

use http::request::Parts;
use http::{header, HeaderValue};
use url::Url;

use crate::error::{AuthError, AuthErrorKind};
use crate::pages::{self, Page};
use crate::provider::{Provider, ProviderError};
use crate::random::{login_secrets, sha256_b64};
use crate::service::Shared;
use crate::session::{request_cookies, LoginRecord, LOGIN_TTL_SECS, MAX_PENDING_LOGINS};

/// Turns a provider failure into the error shown to the user.
pub(crate) fn provider_error(err: &ProviderError) -> AuthError {
    match err {
        ProviderError::Unreachable(m) => AuthError::new(
            AuthErrorKind::ProviderUnreachable,
            format!("The identity provider could not be reached ({m})."),
        ),
        ProviderError::BadResponse(m) => AuthError::new(
            AuthErrorKind::BadProviderResponse,
            format!("The identity provider gave an unusable answer: {m}."),
        ),
        ProviderError::Rejected(code) => AuthError::new(
            AuthErrorKind::CodeRejected,
            format!("The identity provider refused the sign-in code ({code}); it may have expired or been used already."),
        ),
    }
}

/// Sends the browser to the provider. `return_to` must already be a safe same-origin path.
pub(crate) async fn start(
    shared: &Shared,
    provider: &Provider,
    parts: &Parts,
    return_to: String,
) -> Page {
    let metadata = match provider.metadata().await {
        Ok(m) => m,
        Err(err) => {
            let err = provider_error(&err);
            tracing::warn!(target: "tower_oidc", event = "login_failed", kind = err.kind().as_str(), reason = %err.reason());
            return pages::error_page(&err, &shared.config.login_path, &shared.config.logout_path);
        }
    };
    let now = shared.config.clock.unix_seconds();
    // The verifier has 64 characters: within RFC 7636's 43 to 128, with 384 bits of entropy.
    let [state, nonce, verifier] = login_secrets();
    let record = LoginRecord {
        state,
        nonce,
        verifier,
        issuer: provider.config.issuer.as_str().to_owned(),
        provider: provider.config.slug.as_str().to_owned(),
        return_to,
        created_at: now,
    };
    let challenge = sha256_b64(record.verifier.as_bytes());

    // The parameters that never change are encoded once, at startup; state, nonce and
    // challenge are base64url, which needs no percent-encoding.
    let endpoint = metadata.authorization_endpoint.as_str();
    let mut url = String::with_capacity(endpoint.len() + provider.static_auth_query.len() + 200);
    url.push_str(endpoint);
    url.push(if metadata.authorization_endpoint.query().is_some() {
        '&'
    } else {
        '?'
    });
    url.push_str(&provider.static_auth_query);
    for (key, value) in [
        ("state", &record.state),
        ("nonce", &record.nonce),
        ("code_challenge", &challenge),
    ] {
        url.push('&');
        url.push_str(key);
        url.push('=');
        url.push_str(value);
    }
    url.push_str("&code_challenge_method=S256");

    let names = &shared.cookies.names;
    let name = names.login(&record.state);
    let value = record.seal(&shared.cookies.codec, &name);
    let mut page = pages::redirect(&url);
    let headers = page.headers_mut();
    for stale in stale_logins(shared, parts, now) {
        headers.append(header::SET_COOKIE, names.remove(&stale));
    }
    headers.append(header::SET_COOKIE, names.set(&name, &value, LOGIN_TTL_SECS));
    page
}

/// The login cookies to expire so that, with the new one, at most [`MAX_PENDING_LOGINS`]
/// remain: expired or unreadable ones first, then the oldest.
fn stale_logins(shared: &Shared, parts: &Parts, now: u64) -> Vec<String> {
    let names = &shared.cookies.names;
    let mut pending: Vec<(u64, &str)> = request_cookies(&parts.headers)
        .filter(|(n, _)| n.starts_with(names.login_prefix.as_str()))
        // A request stuffed with login cookies costs at most this many AEAD opens and
        // deletions; the rest are left to expire by themselves.
        .take(4 * MAX_PENDING_LOGINS)
        .map(|(n, v)| {
            let created = LoginRecord::open(&shared.cookies.codec, n, v)
                .map(|r| r.created_at)
                .filter(|t| t.saturating_add(LOGIN_TTL_SECS) > now)
                .unwrap_or(0);
            (created, n)
        })
        .collect();
    pending.sort_unstable();
    pending.dedup_by(|a, b| a.1 == b.1);
    let keep = MAX_PENDING_LOGINS - 1;
    let excess = pending
        .iter()
        .filter(|(t, _)| *t == 0)
        .count()
        .max(pending.len().saturating_sub(keep));
    pending
        .into_iter()
        .take(excess)
        .map(|(_, n)| n.to_owned())
        .collect()
}

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
    parts
        .uri
        .query()
        .and_then(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "return_to")
                .map(|(_, v)| v.into_owned())
        })
        .and_then(|raw| safe_return_to(base, &raw))
        .unwrap_or_else(|| "/".to_owned())
}

/// The return-to target of a protected request: the request's own path and query.
pub(crate) fn current_target(base: &Url, parts: &Parts) -> String {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    safe_return_to(base, target).unwrap_or_else(|| "/".to_owned())
}

/// Whether the request is a top-level browser navigation, which may be redirected to the
/// provider. Everything else (fetch/XHR, JSON clients, non-GET) gets a 401 instead: a redirect
/// would only confuse a script and could start a login from a cross-site request.
pub(crate) fn is_navigation(parts: &Parts) -> bool {
    if parts.method != http::Method::GET && parts.method != http::Method::HEAD {
        return false;
    }
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(mode) = header("sec-fetch-mode") {
        return mode.eq_ignore_ascii_case("navigate");
    }
    if header("x-requested-with").is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest")) {
        return false;
    }
    parts
        .headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v: &HeaderValue| v.to_str().ok())
        .any(|v| v.contains("text/html"))
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

    #[test]
    fn detects_navigation() {
        let parts = |method: &str, headers: &[(&str, &str)]| {
            let mut b = http::Request::builder().method(method).uri("/");
            for (k, v) in headers {
                b = b.header(*k, *v);
            }
            b.body(()).unwrap().into_parts().0
        };
        assert!(is_navigation(&parts("GET", &[("accept", "text/html,*/*")])));
        assert!(is_navigation(&parts(
            "GET",
            &[("sec-fetch-mode", "navigate"), ("accept", "*/*")]
        )));
        assert!(!is_navigation(&parts(
            "GET",
            &[("sec-fetch-mode", "cors"), ("accept", "text/html")]
        )));
        assert!(!is_navigation(&parts(
            "GET",
            &[("accept", "application/json")]
        )));
        assert!(!is_navigation(&parts("POST", &[("accept", "text/html")])));
        assert!(!is_navigation(&parts(
            "GET",
            &[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest")
            ]
        )));
    }
}
