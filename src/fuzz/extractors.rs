//! The whole layer and the axum extractors (`Identity`, `Option<Identity>`, `PgRole`), driven by
//! arbitrary requests through `tower::ServiceExt::oneshot`: method, path and query, `Cookie`
//! headers mixing valid session cookies (minted by `OidcLayer::session_cookie`, then edited),
//! login cookies and junk, and the headers the layer reads (`Accept`, `Sec-Fetch-*`, `Origin`,
//! `X-Requested-With`) or anything else.
//!
//! Properties: no panic and no server error; a handler sees an identity only for a session
//! cookie we minted, sent unchanged as the first session cookie, of a configured provider; a
//! protected response with an identity is `no-store`; cookies are only ever removed (no login
//! can complete here); redirects go to same-origin paths or the configured post-logout target;
//! no cookie value or secret appears in an answer or the log.

use arbitrary::Arbitrary;

use super::support::{app, check_answer, decode, send, uri_safe, App, ISSUER, ISSUER_2, NOW};
use crate::identity::Identity;
use crate::policy::PgRole;
use crate::session::{self, LoginRecord};

#[derive(Debug, Arbitrary)]
struct Input {
    https: bool,
    method: Method,
    path: Path,
    query: Option<String>,
    cookies: Vec<Cookie>,
    /// A second `Cookie` header.
    second_header: Vec<Cookie>,
    accept: Option<Accept>,
    sec_fetch_mode: Option<String>,
    sec_fetch_site: Option<String>,
    origin: Option<String>,
    xhr: bool,
    extra: Vec<(String, String)>,
    /// Then `GET /` with the same cookies (after a logout, the session must be refused).
    again: bool,
}

#[derive(Debug, Arbitrary)]
enum Method {
    Get,
    Head,
    Post,
    Delete,
    Options,
    Other(String),
}

#[derive(Debug, Arbitrary)]
enum Path {
    Known(u8),
    Raw(String),
}

const PATHS: &[&str] = &[
    "/",
    "/maybe",
    "/role",
    "/public/page",
    "/public/",
    "/public",
    "/public/../role",
    "/public/%2e%2e/role",
    "/auth/login",
    "/auth/login/staff",
    "/auth/login/partners",
    "/auth/login/nobody",
    "/auth/logout",
    "/auth/callback",
    "/auth/callback/staff",
    "/auth/providers",
    "/nothing/here",
    "//evil.example/",
];

#[derive(Debug, Arbitrary)]
enum Accept {
    Html,
    Json,
    Any,
    Raw(String),
}

#[derive(Debug, Arbitrary)]
enum Cookie {
    /// A valid session of one of the identities below.
    Session(u8),
    /// The same, in double quotes.
    Quoted(u8),
    /// The same, edited.
    Edited { who: u8, edits: Vec<(u16, u8)> },
    /// A valid login cookie.
    Login { state: String, age: u16 },
    /// Any pair.
    Pair { name: String, value: String },
    /// Any text.
    Raw(String),
}

/// The identities whose sessions can be sent: by provider slug and issuer, some configured,
/// some not.
fn identity(app: &App, who: u8) -> (Identity, bool) {
    let (slug, issuer, valid) = match (app.https, who % 4) {
        (true, 0 | 1) => ("default", ISSUER, true),
        (true, 2) => ("staff", ISSUER, false),
        (true, _) => ("default", ISSUER_2, false),
        (false, 0) => ("staff", ISSUER, true),
        (false, 1) => ("partners", ISSUER_2, true),
        (false, 2) => ("partners", ISSUER, false),
        (false, _) => ("default", ISSUER, false),
    };
    let mut b = Identity::builder(issuer, format!("user-{who}"))
        .provider(slug)
        .email(format!("user{who}@example.com"), who.is_multiple_of(2))
        .groups(["readers", "/admins"]);
    if who % 8 < 4 {
        b = b.role(PgRole::new("app_reader").expect("`app_reader` is a valid role name"));
    }
    (b.admin(who.is_multiple_of(3)).build(), valid)
}

/// A minted session: the `name=value` pair, its value, its session id, and whether the layer
/// must accept it.
struct Minted {
    pair: String,
    value: String,
    session_id: String,
    valid: bool,
}

fn mint(app: &App, who: u8) -> Minted {
    let (identity, valid) = identity(app, who);
    let pair = app.layer.session_cookie(&identity);
    let Some((_, value)) = pair.split_once('=') else {
        panic!("OidcLayer::session_cookie did not give name=value: {pair}");
    };
    let value = value.to_owned();
    let Some(session) = session::decode_session(&app.codec, &app.names, &value, NOW) else {
        panic!("a session minted by OidcLayer::session_cookie does not open");
    };
    let session_id = session.session_id;
    Minted {
        pair,
        value,
        session_id,
        valid,
    }
}

struct Request {
    /// The `Cookie` headers.
    headers: Vec<String>,
    /// Every session minted for this request.
    minted: Vec<Minted>,
    /// Every cookie value we made (must never be shown or logged).
    secrets: Vec<String>,
    /// Whether every pair is ours and plain (the first session cookie is then well defined).
    plain: bool,
}

fn cookie_header(app: &App, cookies: Vec<Cookie>, req: &mut Request) {
    let mut pairs = Vec::new();
    for cookie in cookies.into_iter().take(12) {
        match cookie {
            Cookie::Session(who) => {
                let m = mint(app, who);
                pairs.push(m.pair.clone());
                req.minted.push(m);
            }
            Cookie::Quoted(who) => {
                let m = mint(app, who);
                let name = m.pair.split_once('=').map_or("", |(name, _)| name);
                pairs.push(format!("{name}=\"{}\"", m.value));
                req.minted.push(m);
            }
            Cookie::Edited { who, edits } => {
                let m = mint(app, who);
                let mut bytes = m.pair.clone().into_bytes();
                for (at, byte) in edits.into_iter().take(4) {
                    let at = at as usize % bytes.len();
                    bytes[at] = byte;
                }
                pairs.push(String::from_utf8_lossy(&bytes).into_owned());
                req.plain = false;
                req.secrets.push(m.value.clone());
                req.minted.push(m);
            }
            Cookie::Login { state, age } => {
                let name = app.names.login(&state);
                let value = LoginRecord {
                    state,
                    nonce: "nonce-Xr4".into(),
                    verifier: "verifier-Bn7Kq2Wd9Lp4Zs6Hc1Jt8Mv3Gx5Ry0Qa".into(),
                    issuer: ISSUER.into(),
                    provider: if app.https { "default" } else { "staff" }.into(),
                    return_to: "/".into(),
                    created_at: NOW.saturating_sub(u64::from(age)),
                    max_age: None,
                    acr: Vec::new(),
                }
                .seal(&app.codec, &name);
                pairs.push(format!("{name}={value}"));
                req.secrets.push(value);
            }
            Cookie::Pair { name, value } => {
                req.plain = false;
                pairs.push(format!("{name}={value}"));
            }
            Cookie::Raw(raw) => {
                req.plain = false;
                pairs.push(raw);
            }
        }
    }
    if !pairs.is_empty() {
        req.headers.push(pairs.join("; "));
    }
}

/// The configured public path `/public/`: it and everything below it, unless a dot segment
/// (plain or percent-encoded) could lead elsewhere once normalised.
fn is_public(path: &str) -> bool {
    let dots = path.split('/').any(|seg| {
        let seg = seg.to_ascii_lowercase().replace("%2e", ".");
        seg == "." || seg == ".." || seg.contains("%2e")
    });
    !dots && (path == "/public" || path.starts_with("/public/"))
}

/// An identity a handler saw must come from a session we minted for a configured provider and
/// sent unchanged.
fn check_identity(body: &str, req: &Request) {
    let session_id = body.rsplit('\n').next().unwrap_or_default();
    let minted = req
        .minted
        .iter()
        .find(|m| m.session_id == session_id)
        .unwrap_or_else(|| panic!("an identity from no minted session: {body}"));
    assert!(
        minted.valid,
        "a session of an unconfigured provider was accepted"
    );
    let sent = req.headers.iter().any(|h| h.contains(&minted.value));
    assert!(sent, "the session's exact value was not sent");
}

/// The session the layer must read: the first cookie with the session cookie's name, if it is
/// one we minted (only meaningful when every pair is ours and plain).
fn first_session<'r>(app: &App, req: &'r Request) -> Option<&'r Minted> {
    let value = req
        .headers
        .iter()
        .flat_map(|h| h.split("; "))
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == app.names.session)
        .map(|(_, v)| v.trim_matches('"'))?;
    req.minted.iter().find(|m| m.value == value)
}

/// The `extractors` target: `data` decoded as an [`Input`].
pub(super) fn run(data: &[u8]) {
    let Some(input) = decode::<Input>(data) else {
        return;
    };
    let app = app(input.https);
    let path = match &input.path {
        Path::Known(i) => PATHS[*i as usize % PATHS.len()].to_owned(),
        Path::Raw(raw) => uri_safe(raw),
    };
    let uri = match &input.query {
        Some(q) => format!("{path}?{}", uri_safe(q)),
        None => path.clone(),
    };
    let Ok(uri) = uri.parse::<http::Uri>() else {
        return;
    };
    let method = match &input.method {
        Method::Get => http::Method::GET,
        Method::Head => http::Method::HEAD,
        Method::Post => http::Method::POST,
        Method::Delete => http::Method::DELETE,
        Method::Options => http::Method::OPTIONS,
        Method::Other(m) => match http::Method::from_bytes(m.as_bytes()) {
            Ok(m) => m,
            Err(_) => return,
        },
    };
    let mut req = Request {
        headers: Vec::new(),
        minted: Vec::new(),
        secrets: Vec::new(),
        plain: true,
    };
    cookie_header(app, input.cookies, &mut req);
    cookie_header(app, input.second_header, &mut req);
    let mut builder = http::Request::builder()
        .method(method.clone())
        .uri(uri.clone());
    for h in &req.headers {
        builder = builder.header(http::header::COOKIE, h.as_str());
    }
    if let Some(accept) = &input.accept {
        builder = builder.header(
            http::header::ACCEPT,
            match accept {
                Accept::Html => "text/html,application/xhtml+xml,*/*;q=0.8",
                Accept::Json => "application/json",
                Accept::Any => "*/*",
                Accept::Raw(raw) => raw.as_str(),
            },
        );
    }
    for (name, value) in [
        ("sec-fetch-mode", &input.sec_fetch_mode),
        ("sec-fetch-site", &input.sec_fetch_site),
        ("origin", &input.origin),
    ] {
        if let Some(v) = value {
            builder = builder.header(name, v.as_str());
        }
    }
    if input.xhr {
        builder = builder.header("x-requested-with", "XMLHttpRequest");
    }
    for (name, value) in input.extra.iter().take(4) {
        if name.eq_ignore_ascii_case("cookie") {
            req.plain = false;
        }
        builder = builder.header(name.as_str(), value.as_str());
    }
    let Ok(request) = builder.body(axum::body::Body::empty()) else {
        return;
    };

    let answer = send(app, request);
    let secrets: Vec<&str> = req
        .minted
        .iter()
        .map(|m| m.value.as_str())
        .chain(req.secrets.iter().map(String::as_str))
        .collect();
    check_answer(&answer, &secrets);

    let status = answer.status();
    let body = String::from_utf8_lossy(answer.body());
    let route = uri.path();
    // What an identity route answered: `identity:\nsubject\nissuer\nprovider\nsession id`.
    let shown = body.starts_with("identity:\n");
    if shown {
        check_identity(&body, &req);
        if !is_public(route) && method != http::Method::HEAD {
            assert_eq!(
                answer
                    .headers()
                    .get(http::header::CACHE_CONTROL)
                    .map(|v| v.as_bytes()),
                Some(&b"no-store"[..]),
                "a protected answer may be cached"
            );
        }
    }
    // With only our own cookies, the first session cookie decides.
    let first = req.plain.then(|| first_session(app, &req)).flatten();
    if req.plain && method == http::Method::GET && matches!(route, "/" | "/maybe" | "/role") {
        match first {
            Some(m) if m.valid && route != "/role" => {
                assert_eq!(status, 200, "a valid session was refused: {body}");
                assert!(body.ends_with(&m.session_id), "another identity: {body}");
            }
            Some(m) if m.valid => {
                assert!(matches!(status.as_u16(), 200 | 403), "{status}");
            }
            // No handler ran: the layer answered (a redirect, the provider chooser, 401, 503).
            _ => assert!(
                !shown && !body.starts_with("SET LOCAL ROLE"),
                "a protected route answered without a session"
            ),
        }
    }

    if input.again {
        let mut builder = http::Request::get("/").header(http::header::ACCEPT, "application/json");
        for h in &req.headers {
            builder = builder.header(http::header::COOKIE, h.as_str());
        }
        let Ok(request) = builder.body(axum::body::Body::empty()) else {
            // The same cookie headers made the first request.
            panic!("the second request is invalid");
        };
        let second = send(app, request);
        check_answer(&second, &secrets);
        let body = String::from_utf8_lossy(second.body());
        if body.starts_with("identity:\n") {
            check_identity(&body, &req);
        }
        let removed = format!("{}=;", app.names.session);
        let logged_out = route == "/auth/logout"
            && answer
                .headers()
                .get_all(http::header::SET_COOKIE)
                .iter()
                .any(|v| v.as_bytes().starts_with(removed.as_bytes()));
        match first {
            Some(m) if m.valid && logged_out => assert_eq!(
                second.status(),
                401,
                "the session still works after logout: {body}"
            ),
            Some(m) if m.valid => assert!(body.ends_with(&m.session_id), "{body}"),
            _ if req.plain => assert!(!body.starts_with("identity:"), "{body}"),
            _ => {}
        }
    }
}
