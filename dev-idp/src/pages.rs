//! The provider's HTML: one layout, strict security headers, escaping, and the error page.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};

/// A page for a request that cannot be answered by a redirect to the client.
pub(crate) fn error_page(status: StatusCode, message: &str) -> Response {
    let content = format!(
        "<h1>The development IdP cannot continue</h1><p>{}</p>\
         <p class=\"muted small\">This request was not sent back to the application, because it \
         could not be trusted to go there.</p>",
        escape(message)
    );
    html_response(status, layout("Development IdP: error", &content))
}

/// The one stylesheet, inline (the CSP allows inline styles and nothing else).
const STYLE: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;background:#f4f5f7;\
color:#1d2330;margin:0}main{max-width:36rem;margin:3rem auto;padding:2rem;background:#fff;\
border-radius:12px;box-shadow:0 2px 12px rgba(0,0,0,.08)}h1{font-size:1.35rem;margin:.5rem 0 1rem}\
.warning{background:#fff4e5;border:1px solid #f5b454;color:#6b3e00;padding:.6rem .8rem;border-radius:8px;\
font-size:.9rem}.users{list-style:none;padding:0;margin:1rem 0;display:grid;gap:.6rem}\
.users button{width:100%;text-align:left;display:grid;gap:.25rem;padding:.8rem 1rem;border:1px solid #d5d9e0;\
border-radius:10px;background:#fff;font:inherit;color:inherit;cursor:pointer}\
.users button:hover,.users button:focus{border-color:#3b6fd8;background:#f3f7ff;outline:none}\
.badge{display:inline-block;background:#e8eefc;color:#27408b;border-radius:999px;padding:0 .55rem;\
font-size:.8rem}.badge.warn{background:#fde8e8;color:#8b1c1c}.muted{color:#6b7280}.small{font-size:.8rem}\
.email{font-size:.9rem}.cancel{background:none;border:none;color:#6b7280;text-decoration:underline;\
cursor:pointer;font:inherit;padding:0}code{font-size:.85em;background:#f1f2f4;padding:0 .25rem;border-radius:4px}";

/// A whole HTML document around `content` (trusted markup); `title` is escaped.
pub(crate) fn layout(title: &str, content: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"robots\" content=\"noindex\"><title>{title}</title><style>{STYLE}</style></head>\
         <body><main>{content}</main></body></html>",
        title = escape(title),
    )
}

/// An HTML response that is never cached, never framed, and runs no script.
pub(crate) fn html_response(status: StatusCode, body: String) -> Response {
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    // No scripts at all; inline styles only. No `form-action`: browsers apply it to the
    // redirect that follows the form post, which goes to the app, another origin in general.
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Escapes text for HTML element content and attribute values.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}
