//! The address the browser used, against `BASE_URL`: a hint for the log and the sign-in page
//! when a login cookie went astray because the app was opened at another origin (`localhost`
//! for `127.0.0.1`, an internal host name, http for https). The `Host` header is read for this
//! hint alone; it never decides anything (redirect URIs and cookies come from `BASE_URL`).

use std::sync::Mutex;

use http::request::Parts;
use url::Url;

/// The longest `Host` value repeated in a log line.
const MAX_HOST: usize = 100;

/// The request's host (`Host`, or the URI's authority for HTTP/2), when it is not `BASE_URL`'s
/// host and port. Only characters a host can hold are kept, so the value is safe to log.
pub(crate) fn foreign_host(base: &Url, parts: &Parts) -> Option<String> {
    let raw = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| parts.uri.authority().map(|a| a.as_str()))?;
    let host: String = raw
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(*c))
        .take(MAX_HOST)
        .collect::<String>()
        .to_ascii_lowercase();
    let expected = base_authority(base);
    let same = host == expected
        // `Host: example.com` for the default port.
        || base.port().is_none() && host.strip_suffix(&default_port(base)) == Some(expected.as_str());
    (!same && !host.is_empty()).then_some(host)
}

/// `BASE_URL`'s host, with its port when it is not the scheme's default.
fn base_authority(base: &Url) -> String {
    let host = base.host_str().unwrap_or_default().to_ascii_lowercase();
    match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    }
}

fn default_port(base: &Url) -> String {
    format!(":{}", base.port_or_known_default().unwrap_or(0))
}

/// How many distinct foreign hosts are remembered, so that each is logged once.
const MAX_WARNED_HOSTS: usize = 16;

/// Logs, when a login starts, that the browser came in at another host than `BASE_URL`'s: the
/// login cookie set now belongs to that host, and the provider will send the browser back to
/// `redirect_uri`, where the cookie is not sent. Once per host and process: behind a proxy
/// that rewrites `Host` every login would say it again.
pub(crate) fn warn_if_foreign(base: &Url, parts: &Parts, redirect_uri: &str) {
    static WARNED: Mutex<Vec<String>> = Mutex::new(Vec::new());
    let Some(host) = foreign_host(base, parts) else {
        return;
    };
    {
        let mut warned = WARNED.lock().unwrap_or_else(|p| p.into_inner());
        if warned.contains(&host) || warned.len() >= MAX_WARNED_HOSTS {
            return;
        }
        warned.push(host.clone());
    }
    tracing::warn!(
        target: "tower_oidc",
        event = "login_origin_mismatch",
        host = host.as_str(),
        base_url = base.as_str(),
        "a sign-in started at host `{host}`, but BASE_URL is `{base}`: the sign-in cookie belongs to `{host}`, \
         and the provider returns the browser to `{redirect_uri}`, which will not receive it. \
         Open the app at BASE_URL, or set BASE_URL to the address users open \
         (behind a proxy that rewrites Host this is expected; logged once per host)",
    );
}

/// The sentence a failed callback adds when its login cookie is missing: the likely cause is
/// another origin than `BASE_URL` where the sign-in started.
pub(crate) fn missing_cookie_hint(base: &Url) -> String {
    let origin = base.origin().ascii_serialization();
    format!(
        " If the app was opened at another address than {origin} (another host name, `localhost` \
         instead of `127.0.0.1`, or http instead of https), the sign-in cookie belongs to that \
         address: open {origin} and sign in again."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(host: Option<&str>) -> Parts {
        let mut b = http::Request::get("/auth/callback");
        if let Some(h) = host {
            b = b.header("host", h);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn a_host_other_than_base_urls_is_named() {
        let base = Url::parse("http://127.0.0.1:3000").unwrap();
        assert_eq!(foreign_host(&base, &parts(Some("127.0.0.1:3000"))), None);
        assert_eq!(
            foreign_host(&base, &parts(Some("localhost:3000"))).as_deref(),
            Some("localhost:3000")
        );
        assert_eq!(foreign_host(&base, &parts(None)), None, "no Host, no hint");
        let https = Url::parse("https://App.Example.com").unwrap();
        for same in ["app.example.com", "APP.example.com", "app.example.com:443"] {
            assert_eq!(foreign_host(&https, &parts(Some(same))), None, "{same}");
        }
        assert_eq!(
            foreign_host(&https, &parts(Some("evil\"<>.example"))).as_deref(),
            Some("evil.example"),
            "only host characters reach the log"
        );
    }

    #[test]
    fn the_hint_names_base_urls_origin() {
        let base = Url::parse("http://127.0.0.1:3000/").unwrap();
        assert!(missing_cookie_hint(&base).contains("open http://127.0.0.1:3000 and sign in again"));
    }
}
