//! JSON responses and redirects.

use axum::body::Body;
use axum::response::Response;
use http::{header, HeaderValue, StatusCode};
use serde_json::Value;
use url::Url;

use crate::pages::error_page;

/// A JSON response with the given `Cache-Control`.
pub(crate) fn json_response(status: StatusCode, value: &Value, cache: &'static str) -> Response {
    let mut res = Response::new(Body::from(value.to_string()));
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

/// A redirect to `location` that is never cached and sends no `Referer` on.
fn redirect(location: &str, status: StatusCode) -> Response {
    let Ok(value) = HeaderValue::try_from(location) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect target is not a valid URL.",
        );
    };
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::LOCATION, value);
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    res
}

/// Appends `pairs` to `uri`'s query, keeping any query it already has.
pub(crate) fn redirect_with(uri: &str, pairs: &[(&str, &str)], status: StatusCode) -> Response {
    let Ok(mut url) = Url::parse(uri) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            "The redirect URI is not an absolute URL.",
        );
    };
    // `query_pairs_mut` would leave a bare `?` behind when there is nothing to add.
    if !pairs.is_empty() {
        url.query_pairs_mut().extend_pairs(pairs);
    }
    redirect(url.as_str(), status)
}
