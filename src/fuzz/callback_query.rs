//! The callback's query parser (`code`, `state`, `iss`, `error`), the refusal of an `error=`
//! response, the return-to check, and the callback route itself driven through the layer with
//! a valid login cookie for the query's state.
//!
//! Properties: the parser agrees with a plain `application/x-www-form-urlencoded` reading
//! (a repeated parameter is refused); an error code reaches the page only when it looks like
//! one; a return-to target is always a same-origin path; the callback never panics, always
//! removes the login cookie it used, never sets a cookie (no login can complete here), and never
//! shows or logs the code, the login cookie or a secret.

use arbitrary::Arbitrary;
use serde_json::{Map, Value};

use super::support::{
    app, check_answer, decode, send, take_logs, uri_safe, BASE_HTTP, BASE_HTTPS, ISSUER, ISSUER_2,
    NOW,
};
use crate::error::AuthErrorKind;
use crate::flow::callback::query::{self, CallbackQuery};
use crate::flow::return_to::safe_return_to;
use crate::session::{LoginRecord, LOGIN_TTL_SECS};

/// A code only this target writes, to find it wherever it leaks.
const CODE: &str = "c0de-Qm8Zr4Tx1Vn6Kp3W";

#[derive(Debug, Arbitrary)]
enum Case {
    /// The parser on any text (the layer only ever passes a valid URI's query).
    Parse(String),
    /// An `error=` response's code.
    Denied(String),
    /// A return-to target.
    ReturnTo { raw: String, https: bool },
    /// The callback route.
    Route(Route),
}

#[derive(Debug, Arbitrary)]
struct Route {
    https: bool,
    /// Which callback route: the plain one or a provider's.
    path: u8,
    /// The parameters, form-encoded in this order (a parameter may come twice).
    params: Vec<Param>,
    /// Raw text appended to the query.
    raw: String,
    /// Whether to add our own `code` parameter (to check it never leaks).
    with_code: bool,
    login: Option<Login>,
    /// Another `Cookie` header, as sent.
    extra_cookie: Option<String>,
}

#[derive(Debug, Arbitrary)]
enum Param {
    State(String),
    Code(String),
    /// `iss`: ours, the other provider's, or anything.
    Iss(Option<String>, bool),
    Error(String),
    Other(String, String),
}

#[derive(Debug, Arbitrary)]
struct Login {
    /// Seconds since the login started (the record is stale from 600).
    age: u16,
    /// Which provider the record names.
    provider: u8,
    /// A state different from the query's, in the record.
    other_state: Option<String>,
    return_to: String,
}

/// The four parameters the callback reads, by name, `null` when absent.
pub(super) fn params(q: CallbackQuery) -> Map<String, Value> {
    [
        ("code", q.code),
        ("state", q.state),
        ("iss", q.iss),
        ("error", q.error),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.map_or(Value::Null, Value::String)))
    .collect()
}

/// `application/x-www-form-urlencoded` read plainly: the four parameters, `Err` on a repeat.
fn reference(query: &str) -> Result<Map<String, Value>, ()> {
    let mut p = params(CallbackQuery::default());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        // Only the four parameters have a slot.
        let Some(slot) = p.get_mut(&*k) else {
            continue;
        };
        if !slot.is_null() {
            return Err(());
        }
        *slot = Value::String(v.into_owned());
    }
    Ok(p)
}

/// The forms a target takes when a proxy percent-decodes it once, twice or thrice.
fn decodings(s: &str) -> Vec<String> {
    let mut out = vec![s.to_owned()];
    for _ in 0..3 {
        let last = out.last().map_or("", String::as_str);
        let next = percent_encoding::percent_decode_str(last)
            .decode_utf8_lossy()
            .into_owned();
        out.push(next);
    }
    out
}

/// The `callback_query` target: `data` decoded as a [`Case`].
pub(super) fn run(data: &[u8]) {
    let Some(case) = decode::<Case>(data) else {
        return;
    };
    match case {
        Case::Parse(text) => {
            let ours = query::parse(Some(&text)).map(params);
            match (&ours, reference(&text)) {
                (Ok(p), Ok(r)) => assert_eq!(p, &r, "the parser disagrees with form decoding"),
                (Err(e), Err(())) => {
                    assert_eq!(e.kind(), AuthErrorKind::MalformedCallback, "{e:?}");
                    assert_eq!(e.status(), 400, "a malformed callback is not a 400");
                }
                (ours, theirs) => panic!("parser disagrees: {ours:?} vs {theirs:?}"),
            }
            assert_eq!(
                query::parse(None).ok().map(params),
                Some(params(CallbackQuery::default())),
                "a callback without a query has parameters"
            );
            take_logs();
        }
        Case::Denied(error) => {
            let err = query::provider_denied(&error);
            assert_eq!(
                err.kind(),
                AuthErrorKind::ProviderDenied,
                "not a provider denial"
            );
            let safe = error.len() <= 64
                && error
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if safe {
                assert!(
                    err.reason().contains(&format!("({error})")),
                    "a safe error code is not shown: {error:?}"
                );
            } else {
                assert_eq!(
                    err.reason(),
                    "The identity provider did not sign you in (unrecognised_error).",
                    "an unsafe error code is shown"
                );
            }
        }
        Case::ReturnTo { raw, https } => {
            let Ok(base) = url::Url::parse(if https { BASE_HTTPS } else { BASE_HTTP }) else {
                panic!("the application's base URL does not parse");
            };
            if let Some(target) = safe_return_to(&base, &raw) {
                assert_eq!(target, raw, "the return-to target was rewritten");
                assert!(target.len() <= 512, "a return-to target over 512 bytes");
                for form in decodings(&target) {
                    assert!(
                        form.is_empty()
                            || (form.starts_with('/')
                                && !form.starts_with("//")
                                && !form.contains('\\')
                                && !form.chars().any(char::is_control)),
                        "{target:?} decodes to {form:?}"
                    );
                }
                let Ok(resolved) = base.join(&target) else {
                    panic!("an accepted return-to target does not resolve: {target:?}");
                };
                assert_eq!(resolved.origin(), base.origin(), "{target:?}");
            }
        }
        Case::Route(route) => callback(route),
    }
}

fn callback(route: Route) {
    let app = app(route.https);
    let path = if route.https {
        ["/auth/callback", "/auth/callback/", "/auth/callback/x"][route.path as usize % 3]
    } else {
        [
            "/auth/callback/staff",
            "/auth/callback/partners",
            "/auth/callback",
        ][route.path as usize % 3]
    };
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for p in &route.params {
        match p {
            Param::State(v) => form.append_pair("state", v),
            Param::Code(v) => form.append_pair("code", v),
            Param::Iss(Some(v), _) => form.append_pair("iss", v),
            Param::Iss(None, first) => {
                form.append_pair("iss", if *first { ISSUER } else { ISSUER_2 })
            }
            Param::Error(v) => form.append_pair("error", v),
            Param::Other(k, v) => form.append_pair(k, v),
        };
    }
    if route.with_code {
        form.append_pair("code", CODE);
    }
    let mut query = form.finish();
    query.push_str(&uri_safe(&route.raw));
    let mut request = http::Request::builder()
        .method("GET")
        .uri(format!("{path}?{query}"))
        .header("accept", "text/html");
    let uri: http::Uri = match format!("{path}?{query}").parse() {
        Ok(u) => u,
        Err(_) => return,
    };
    // The state as the layer will read it.
    let state = query::parse(uri.query())
        .ok()
        .and_then(|p| p.state)
        .filter(|s| !s.is_empty());
    let mut secrets: Vec<String> = vec![CODE.to_owned()];
    let mut login_cookie = None;
    if let (Some(login), Some(state)) = (route.login, &state) {
        let (provider, issuer) = if route.https {
            [("default", ISSUER), ("staff", ISSUER)][login.provider as usize % 2]
        } else {
            [
                ("staff", ISSUER),
                ("partners", ISSUER_2),
                ("staff", ISSUER_2),
            ][login.provider as usize % 3]
        };
        let name = app.names.login(state);
        let record = LoginRecord {
            state: login.other_state.unwrap_or_else(|| state.clone()),
            nonce: "nonce-Lw2Hs9".into(),
            verifier: "verifier-Yt5Bq7Pn0Rc2Jd8Kf4Gh6Sm1Xz3Vw9Ua".into(),
            issuer: issuer.into(),
            provider: provider.into(),
            return_to: login.return_to,
            created_at: NOW.saturating_sub(u64::from(login.age)),
            max_age: None,
            acr: Vec::new(),
        };
        let value = record.seal(&app.codec, &name);
        request = request.header("cookie", format!("{name}={value}"));
        secrets.push(value);
        secrets.push(record.verifier.clone());
        login_cookie = Some((name, record));
    }
    if let Some(extra) = route.extra_cookie {
        match http::HeaderValue::from_str(&extra) {
            Ok(v) => request = request.header("cookie", v),
            Err(_) => return,
        }
    }
    let Ok(request) = request.body(axum::body::Body::empty()) else {
        return;
    };
    let answer = send(app, request);
    let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
    check_answer(&answer, &secrets);
    let status = answer.status().as_u16();
    assert!(
        matches!(status, 400 | 403 | 503),
        "callback answered {status}"
    );
    let removed: Vec<&str> = answer
        .headers()
        .get_all(http::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok()?.split_once('=').map(|(n, _)| n))
        .collect();
    if let Some((name, record)) = &login_cookie {
        assert!(
            removed.contains(&name.as_str()),
            "the login cookie was not removed: {removed:?}"
        );
        let fresh = record.created_at + LOGIN_TTL_SECS > NOW;
        if status == 503 {
            // Only a matching, fresh, unused login of a configured provider gets as far as
            // discovery.
            assert!(
                fresh && Some(&record.state) == state.as_ref(),
                "a stale or mismatched login reached discovery"
            );
        }
    } else {
        assert_ne!(status, 503, "discovery without a login cookie");
    }
    if status == 403 {
        assert!(
            removed.iter().any(|n| n.ends_with("oidc-session")),
            "a refused login kept the session cookie"
        );
    }
}
