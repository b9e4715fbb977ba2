//! Regression tests for the fuzz targets in `fuzz/` (see `fuzz/README.md`): each input goes
//! through the same crate functions as its target, reached through the thin helpers of
//! `tower_oidc::fuzz` (feature `__fuzz`; plain types in and out), and, where the layer can show
//! the effect, through the layer as well.
//!
//! Three groups:
//! - **Findings**: the exact inputs the fuzzers found, with the fixed behaviour asserted.
//! - **Seeds**: adversarial inputs written by hand for each target (oversized and truncated
//!   cookies, authenticated garbage, invalid UTF-8 and NUL in the query, deeply nested and huge
//!   claims, ...). They are not findings: the code already handled them; they pin that down.
//! - **Targets**: each target function itself (`tower_oidc::fuzz::session_cookie` and the
//!   others) on fixed inputs and the committed seeds, so every entry point runs in CI.

use std::time::Duration;

use axum::body::Body;
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt as _;
use serde_json::{json, Map, Value};
use tower::ServiceExt as _;
use tower_oidc::fuzz::{
    admit, check_claims, decode_session, encode_session, login_cookie_name, open, open_login,
    parse_callback_query, parse_config_file, parse_jwks, provider_denied, safe_return_to, seal,
    seal_login, session_identity, verify_id_token, LOGIN_TTL_SECS, MAX_COOKIE_VALUE,
};
use tower_oidc::{AuthErrorKind, Identity, OidcConfig, OidcLayer, PgRole, RoleMap, TestClock};

const NOW: u64 = 1_750_000_000;
const COOKIE_KEY: &str = "cF4HOXy/KWoM1eFYFopX2mkk10naucbtN14KoL5hZUo=";
const SECRET: &str = "regression-client-secret-Hz4Kd7";
/// A closed loopback port: discovery fails at once with "connection refused".
const ISSUER: &str = "http://127.0.0.1:1/realms/staff";
const ISSUER_2: &str = "http://127.0.0.1:1/realms/partners";
const BASE: &str = "https://app.example.com";
/// The RSA public key of `tests/fixtures/rsa1.pem`.
const RSA_N: &str = "m3L6kicPMEOvuyWn4fwyvjX8F447dHqr74cvC7D0Qejs26kw2XxuoOJ52gtZD6dtyqQb48niPm-vbbZkw_3MYjD1tIF9fQ5CsMYTxl_0mFA90SnjQfH4urjSFpaspRW5Bl04hfWA3Erwu7BEQC2wVptK2j_myo_KQ4pIfY8ramHuXUqeWMEgy3jIGyrlpVswVYLupDFe1PyR9-6v3LCoHsnXC9rlHiZi4xc6taM3QKuHBO2o_8GrttGU-qaY6m69ZunwPraMu2DnPiENT5RbKlyarIkXbYLL0ujO8DF5dGubf05Pdw7n52jYFHi9QBflXMUGmZ2pnuGNXmTahqq3fQ";

fn builder() -> tower_oidc::OidcConfigBuilder {
    OidcConfig::builder()
        .with_cookie_key(COOKIE_KEY)
        .with_clock(TestClock::at(NOW))
        .insecure_allow_http_issuer(true)
        .with_http_timeout(Duration::from_secs(2))
        .with_base_url(BASE)
}

/// One provider at a closed port, with a role map.
fn config() -> OidcConfig {
    builder()
        .with_issuer(ISSUER)
        .with_client_id("app")
        .with_client_secret(SECRET)
        .with_role_map(
            RoleMap::builder()
                .add_rule("readers", "app_reader")
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Two providers: an unauthenticated browser gets the chooser page, which shows the return-to
/// target the layer accepted.
fn two_providers() -> OidcConfig {
    builder()
        .with_config_toml(
            "two.toml",
            &format!(
                "[[providers]]\nslug = \"staff\"\nissuer = \"{ISSUER}\"\nclient_id = \"app\"\n\
                 [[providers]]\nslug = \"partners\"\nissuer = \"{ISSUER_2}\"\nclient_id = \"app\"\n"
            ),
        )
        .build()
        .unwrap()
}

fn app(layer: &OidcLayer) -> Router {
    Router::new()
        .route(
            "/",
            get(|me: Identity| async move { format!("identity:{}", me.subject()) }),
        )
        .route("/role", get(|role: PgRole| async move { role.quoted() }))
        .layer(layer.clone())
}

struct Reply {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Reply {
    fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect()
    }

    /// Everything a browser or a log could see.
    fn everything(&self) -> String {
        let mut all = self.body.clone();
        for (name, value) in &self.headers {
            all.push_str(&format!(
                "\n{name}: {}",
                String::from_utf8_lossy(value.as_bytes())
            ));
        }
        all
    }
}

async fn send(app: &Router, request: Request<Body>) -> Reply {
    let res = app.clone().oneshot(request).await.unwrap();
    let (parts, body) = res.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    Reply {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get_with(uri: &str, cookie: Option<&[u8]>, accept: &str) -> Request<Body> {
    let mut b = Request::get(uri).header(header::ACCEPT, accept);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, http::HeaderValue::from_bytes(c).unwrap());
    }
    b.body(Body::empty()).unwrap()
}

/// The session cookie's name (`BASE` is https).
const SESSION: &str = "__Host-oidc-session";

fn object(value: Value) -> Map<String, Value> {
    value.as_object().cloned().unwrap()
}

/// A session as the cookie stores it.
fn session(expires_at: u64) -> Map<String, Value> {
    object(json!({
        "subject": "248289761001",
        "issuer": ISSUER,
        "provider": "default",
        "email": "jane@example.com",
        "email_verified": false,
        "name": null,
        "preferred_username": null,
        "groups": ["readers"],
        "role": "app_reader",
        "admin": false,
        "claims_json": "",
        "app_json": "",
        "authenticated_at": NOW - 10,
        "expires_at": expires_at,
        "session_id": "sid-1",
    }))
}

/// A login record as the cookie stores it: `s` state, `n` nonce, `v` PKCE verifier, `i`
/// issuer, `p` provider slug, `r` return-to, `t` created at.
fn login_record(
    state: &str,
    nonce: &str,
    verifier: &str,
    return_to: &str,
    created_at: u64,
) -> Map<String, Value> {
    object(json!({
        "s": state,
        "n": nonce,
        "v": verifier,
        "i": ISSUER,
        "p": "default",
        "r": return_to,
        "t": created_at,
        "m": null,
        "a": [],
    }))
}

// ---------------------------------------------------------------------------------------------
// Findings
// ---------------------------------------------------------------------------------------------

/// callback_query, `crash-331b56e21b9a15d16022b9fd525e243480c4a0f7`: the return-to check
/// percent-decoded with a form parser, which cut the target at a decoded `&` and checked only
/// what came before it, so `/%26F2%00` (a NUL once decoded) passed as "/". Fixed by plain
/// percent-decoding (src/flow/return_to.rs `percent_decode`).
#[tokio::test]
async fn return_to_with_a_control_character_behind_a_decoded_ampersand_is_refused() {
    let base = url::Url::parse(BASE).unwrap();
    for raw in [
        "/%26F2%00",
        "/%26%5Cevil.example",
        "/a%26b%0D%0ASet-Cookie:%20x=1",
        "/%2526%2500",
    ] {
        assert_eq!(safe_return_to(&base, raw), None, "{raw}");
    }
    // A target with a plain `&` is still fine.
    assert_eq!(
        safe_return_to(&base, "/r?a=1&b=%2F").as_deref(),
        Some("/r?a=1&b=%2F")
    );

    // Through the layer: the login route's chooser page links with the target it accepted.
    let layer = OidcLayer::new(two_providers());
    let app = app(&layer);
    let reply = send(
        &app,
        get_with("/auth/login?return_to=%2F%2526F2%2500", None, "text/html"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.contains("return_to=%2F\""),
        "not replaced by /: {}",
        reply.body
    );
    assert!(!reply.body.contains("%2526"), "{}", reply.body);
    let reply = send(
        &app,
        get_with(
            "/auth/login?return_to=%2Freports%3Fid%3D7",
            None,
            "text/html",
        ),
    )
    .await;
    assert!(
        reply.body.contains("return_to=%2Freports%3Fid%3D7\""),
        "{}",
        reply.body
    );
}

/// role_map_file, `crash-4385f2db88a89dc3c5fd6c56863101fe4f4be4b6`: a string value where the
/// file wants another type was partly quoted in the error when it held `expected` (the message
/// was cut at the first `expected`, inside the value). Fixed by cutting at the last one
/// (src/config/file.rs `without_value`).
#[test]
fn config_file_type_errors_never_quote_the_value() {
    // The fuzzer's input: key `auto_provision`, value "u\0texpectedve?\0\0\0" + its marker.
    let text = "auto_provision = \"u\\u0000texpectedve?\\u0000\\u0000\\u0000v4lu3-Mk2Qz\"\n";
    let problems = parse_config_file("oidc.toml", text).err().unwrap();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].key, "OIDC_CONFIG_FILE");
    assert_eq!(
        problems[0].message,
        "in oidc.toml line 1: invalid type: string, expected a boolean"
    );
    // A secret put under a non-string key by mistake is not echoed either, whatever it holds.
    let text = "public_paths = \"s3cr3t, expected \\\" leak-Zq9\"\n";
    let err = builder()
        .with_issuer(ISSUER)
        .with_client_id("app")
        .with_config_toml("oidc.toml", text)
        .build()
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("leak-Zq9") && !err.contains("s3cr3t"),
        "{err}"
    );
    assert!(err.contains("expected a sequence"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Seeds (not findings): session_cookie
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn oversized_session_cookie_is_refused() {
    let layer = OidcLayer::new(config());
    let value = "A".repeat(MAX_COOKIE_VALUE + 1);
    assert_eq!(decode_session(layer.config(), &value, NOW), None);
    let cookie = format!("__Host-oidc-session={value}");
    let reply = send(
        &app(&layer),
        get_with("/", Some(cookie.as_bytes()), "application/json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(reply.headers.contains_key(header::WWW_AUTHENTICATE));
    assert!(reply.set_cookies().is_empty());
}

#[tokio::test]
async fn truncated_or_edited_session_cookie_is_refused() {
    let layer = OidcLayer::new(config());
    let app = app(&layer);
    let cookie = layer.session_cookie(
        &Identity::builder(ISSUER, "u1")
            .role(PgRole::new("app_reader").unwrap())
            .build(),
    );
    let ok = send(&app, get_with("/", Some(cookie.as_bytes()), "*/*")).await;
    assert_eq!(ok.body, "identity:u1");
    let mut flipped = cookie.clone().into_bytes();
    let mid = flipped.len() / 2;
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    for bad in [
        &cookie.as_bytes()[..cookie.len() - 1],
        &cookie.as_bytes()[..cookie.len() - 3],
        &flipped[..],
        // Truncated to a length that is not valid base64 at all.
        &cookie.as_bytes()[..cookie.find('=').unwrap() + 6],
    ] {
        let reply = send(&app, get_with("/", Some(bad), "application/json")).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert!(!reply.body.contains("identity:"));
    }
}

#[tokio::test]
async fn session_cookie_with_nul_or_invalid_utf8_is_refused() {
    let config = config();
    for value in ["\0", "AAAA\0AAAA", "\u{FFFD}\u{FFFD}", "AQ==", "AQ"] {
        assert_eq!(decode_session(&config, value, NOW), None, "{value:?}");
        assert_eq!(open(&config, "session", SESSION, value), None);
    }
    // A header with bytes that are not UTF-8 (obs-text) is read as no cookie at all.
    let layer = OidcLayer::new(config);
    let reply = send(
        &app(&layer),
        get_with(
            "/",
            Some(b"__Host-oidc-session=\xff\xfe\x80"),
            "application/json",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

#[test]
fn authenticated_garbage_never_opens_a_session() {
    let config = config();
    let name = SESSION;
    // A deflate bomb: 1 MiB of zeros, far beyond the 64 KiB the decoder inflates.
    let bomb = miniz_oxide::deflate::compress_to_vec(&vec![0u8; 1 << 20], 10);
    let mut flagged_bomb = vec![1u8];
    flagged_bomb.extend_from_slice(&bomb);
    let plaintexts: Vec<Vec<u8>> = vec![
        vec![],
        vec![0],
        vec![1],
        vec![2, 0, 0],
        vec![1, 0xff, 0xfe, 0xfd],
        // postcard: a string claiming 2^63 bytes.
        vec![0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f],
        flagged_bomb,
    ];
    for plain in plaintexts {
        let value = seal(&config, "session", name, &plain);
        assert!(value.len() <= MAX_COOKIE_VALUE, "{} bytes", value.len());
        assert_eq!(
            decode_session(&config, &value, NOW),
            None,
            "{:?}",
            &plain[..plain.len().min(12)]
        );
    }
    // A valid session sealed with another purpose's key does not open either.
    let (value, _) = encode_session(&config, session(NOW + 60)).unwrap();
    let plain = open(&config, "session", name, &value).unwrap();
    let as_login = seal(&config, "login", name, &plain);
    assert_eq!(decode_session(&config, &as_login, NOW), None);
}

#[test]
fn session_lifetime_holds_at_the_extremes_of_time() {
    let config = config();
    let (value, stored) = encode_session(&config, session(NOW + 60)).unwrap();
    assert_eq!(
        decode_session(&config, &value, NOW + 59).as_ref(),
        Some(&stored)
    );
    assert_eq!(decode_session(&config, &value, NOW + 60), None, "expired");
    assert_eq!(
        decode_session(&config, &value, NOW - 311),
        None,
        "issued in the future"
    );
    let mut forever = session(u64::MAX);
    forever.insert("authenticated_at".into(), json!(u64::MAX));
    let (value, stored) = encode_session(&config, forever).unwrap();
    assert_eq!(decode_session(&config, &value, u64::MAX - 1), Some(stored));
    assert_eq!(decode_session(&config, &value, u64::MAX), None);
    assert_eq!(decode_session(&config, &value, 0), None);
}

#[test]
fn login_record_round_trips_and_is_bound_to_its_state() {
    let config = config();
    let state = "s\0tate\u{1F600}";
    let record = login_record(state, "n", &"v".repeat(64), "/r", u64::MAX);
    let name = login_cookie_name(&config, state);
    let value = seal_login(&config, &name, record.clone());
    assert_eq!(open_login(&config, &name, &value), Some(record));
    assert_eq!(
        open_login(&config, &login_cookie_name(&config, "other"), &value),
        None
    );
    assert_eq!(decode_session(&config, &value, NOW), None);
}

// ---------------------------------------------------------------------------------------------
// Seeds (not findings): callback_query
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn repeated_callback_parameter_is_a_malformed_callback() {
    let err = parse_callback_query(Some("state=a&code=c&state=b")).unwrap_err();
    assert_eq!(err.kind(), AuthErrorKind::MalformedCallback);
    let layer = OidcLayer::new(config());
    let reply = send(
        &app(&layer),
        get_with("/auth/callback?state=a&code=c&state=b", None, "text/html"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("Error: malformed_callback"),
        "{}",
        reply.body
    );
    assert!(reply.set_cookies().is_empty());
}

#[tokio::test]
async fn callback_query_with_invalid_utf8_and_nul_is_read_lossily_and_refused() {
    let params = parse_callback_query(Some("state=%FF%00x&code=%C0%AF&iss=%E2%82")).unwrap();
    assert_eq!(
        params,
        object(json!({
            "state": "\u{FFFD}\0x",
            "code": "\u{FFFD}\u{FFFD}",
            "iss": "\u{FFFD}",
            "error": null,
        }))
    );
    let layer = OidcLayer::new(config());
    let reply = send(
        &app(&layer),
        get_with(
            "/auth/callback?state=%FF%00x&code=%C0%AF",
            None,
            "text/html",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("Error: login_expired"),
        "{}",
        reply.body
    );
    assert!(reply.set_cookies().is_empty());
}

#[test]
fn provider_error_codes_are_echoed_only_when_they_look_like_one() {
    assert!(provider_denied("access_denied")
        .reason()
        .contains("(access_denied)"));
    for bad in [
        "<script>alert(1)</script>",
        "a b",
        "x\0y",
        "é",
        &"a".repeat(65),
    ] {
        let err = provider_denied(bad);
        assert_eq!(err.status(), StatusCode::FORBIDDEN);
        assert!(err.reason().contains("(unrecognised_error)"), "{bad}");
    }
}

#[tokio::test]
async fn callback_with_a_valid_login_and_an_unreachable_provider_is_a_503_that_leaks_nothing() {
    let layer = OidcLayer::new(config());
    let app = app(&layer);
    // The layer's cookie keys and names.
    let cookies = layer.config();
    let verifier = "verifier-Lk8Mz2Xc5Vb7Nq1Wr4Ty6Ui9Op3As0Df";
    let record = login_record("state-Qw3", "nonce", verifier, "/", NOW - 5);
    let name = login_cookie_name(cookies, "state-Qw3");
    let value = seal_login(cookies, &name, record.clone());
    let cookie = format!("{name}={value}");
    let uri = "/auth/callback?state=state-Qw3&code=SECRET-CODE-Jh7";
    let reply = send(&app, get_with(uri, Some(cookie.as_bytes()), "text/html")).await;
    assert_eq!(
        reply.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "{}",
        reply.body
    );
    assert!(reply.headers.contains_key(header::RETRY_AFTER));
    let removed = format!("{name}=;");
    assert!(
        reply.set_cookies().iter().any(|c| c.starts_with(&removed)),
        "{:?}",
        reply.set_cookies()
    );
    assert!(reply.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
    let all = reply.everything();
    for secret in ["SECRET-CODE-Jh7", &value, verifier, SECRET, COOKIE_KEY] {
        assert!(!all.contains(secret), "{secret} leaked: {all}");
    }
    // The same response again: the state was used.
    let again = send(&app, get_with(uri, Some(cookie.as_bytes()), "text/html")).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    // A record older than the login lifetime never reaches the provider.
    let mut stale = record;
    stale.insert("s".into(), json!("state-old"));
    stale.insert("t".into(), json!(NOW - LOGIN_TTL_SECS));
    let name = login_cookie_name(cookies, "state-old");
    let cookie = format!("{name}={}", seal_login(cookies, &name, stale));
    let reply = send(
        &app,
        get_with(
            "/auth/callback?state=state-old&code=c",
            Some(cookie.as_bytes()),
            "text/html",
        ),
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(
        reply.body.contains("Error: login_expired"),
        "{}",
        reply.body
    );
}

// ---------------------------------------------------------------------------------------------
// Seeds (not findings): id_token
// ---------------------------------------------------------------------------------------------

/// A JWKS document with the RSA public key of `tests/fixtures/rsa1.pem`.
fn rsa_jwks() -> Vec<u8> {
    let jwks =
        json!({"keys": [{"kty": "RSA", "kid": "rsa-1", "alg": "RS256", "n": RSA_N, "e": "AQAB"}]})
            .to_string()
            .into_bytes();
    assert_eq!(parse_jwks(&jwks), Ok(1));
    jwks
}

/// A token over exactly `payload`, signed with `tests/fixtures/rsa1.pem`.
fn rs256(payload: &[u8]) -> String {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(include_bytes!("fixtures/rsa1.pem")).unwrap();
    let input = format!(
        "{}.{}",
        B64.encode(br#"{"alg":"RS256","kid":"rsa-1"}"#),
        B64.encode(payload)
    );
    let sig =
        jsonwebtoken::crypto::sign(input.as_bytes(), &key, jsonwebtoken::Algorithm::RS256).unwrap();
    format!("{input}.{sig}")
}

fn install_crypto() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}

/// This login's nonce; the rest of what an ID token must say comes from [`config`]: issuer
/// `ISSUER`, client id `app`, no other audience, a leeway of 60 s, now `NOW`.
const NONCE: &str = "n1";

fn good_claims() -> Map<String, Value> {
    json!({"iss": ISSUER, "aud": "app", "sub": "u1", "exp": NOW + 300, "iat": NOW - 10, "nonce": "n1"})
        .as_object()
        .cloned()
        .unwrap()
}

#[test]
fn deeply_nested_claims_are_refused_by_the_parser_not_the_stack() {
    install_crypto();
    let jwks = rsa_jwks();
    let nested = |depth: usize| {
        format!(
            r#"{{"sub":"u1","x":{}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        )
    };
    // Deeper than serde_json's recursion limit (128): a malformed token, no stack overflow.
    let err = verify_id_token(&rs256(nested(100_000).as_bytes()), &jwks, &[]).unwrap_err();
    assert_eq!(err, "the ID token is not a well-formed JWS");
    // Within it: the claims verify, and the identity keeps them.
    let claims = verify_id_token(&rs256(nested(100).as_bytes()), &jwks, &[]).unwrap();
    let no_roles = builder()
        .with_issuer(ISSUER)
        .with_client_id("app")
        .build()
        .unwrap();
    let fields = admit(&no_roles, claims).unwrap();
    assert!(fields["claims_json"]
        .as_str()
        .unwrap()
        .starts_with(r#"{"x":[[[["#));
    let identity = session_identity(fields);
    assert!(identity.claims()["x"].is_array());
}

#[test]
fn huge_numbers_in_time_claims_neither_overflow_nor_pass() {
    let with = |k: &str, v: Value| {
        let mut c = good_claims();
        c.insert(k.into(), v);
        c
    };
    let config = config();
    assert_eq!(
        check_claims(&config, &with("exp", json!(1e308)), NONCE),
        Ok(())
    );
    assert_eq!(
        check_claims(
            &config,
            &with("exp", json!(18_446_744_073_709_551_615u64)),
            NONCE
        ),
        Ok(())
    );
    assert_eq!(
        check_claims(&config, &with("exp", json!(-1e308)), NONCE).unwrap_err(),
        format!(
            "the ID token expired {} s ago by this server's clock; if it was just issued, this server's clock is ahead of the provider's: check NTP on both",
            u64::MAX
        )
    );
    assert!(check_claims(&config, &with("nbf", json!(1e308)), NONCE)
        .unwrap_err()
        .contains(&format!("not valid for another {} s", u64::MAX)));
    assert!(check_claims(&config, &with("iat", json!(1e308)), NONCE)
        .unwrap_err()
        .contains("issued"));
    assert_eq!(
        check_claims(&config, &with("iat", json!(-1e308)), NONCE),
        Ok(())
    );
    assert_eq!(
        check_claims(&config, &with("exp", json!("9999999999")), NONCE).unwrap_err(),
        "the ID token has no expiry (exp)"
    );
    assert_eq!(
        check_claims(&config, &with("sub", json!("x".repeat(256))), NONCE).unwrap_err(),
        "the ID token has no subject (sub)"
    );
}

#[test]
fn tokens_without_an_asymmetric_signature_are_refused() {
    install_crypto();
    let jwks = rsa_jwks();
    for header in [
        r#"{"alg":"none"}"#,
        r#"{"alg":"HS256","kid":"rsa-1"}"#,
        r#"{"alg":"RS256","crit":["x"],"kid":"rsa-1"}"#,
    ] {
        let token = format!("{}.{}.", B64.encode(header), B64.encode(r#"{"sub":"u1"}"#));
        assert!(verify_id_token(&token, &jwks, &[]).is_err(), "{header}");
    }
    // A JWKS offering only a symmetric key offers nothing.
    let err = parse_jwks(br#"{"keys":[{"kty":"oct","k":"c2VjcmV0","alg":"HS256"}]}"#).unwrap_err();
    assert!(err.contains("no usable signature key"), "{err}");
    // Nor does an encryption key.
    let enc = json!({"keys": [{"kty": "RSA", "use": "enc", "n": RSA_N, "e": "AQAB"}]});
    assert!(parse_jwks(enc.to_string().as_bytes()).is_err());
}

/// Noticed while fuzzing, not changed: jsonwebtoken refuses a payload with a repeated claim
/// name (RFC 7519 section 4 allows either that or "last one wins"), as a malformed token.
#[test]
fn repeated_claim_names_make_a_malformed_token() {
    install_crypto();
    let jwks = rsa_jwks();
    let token = rs256(br#"{"sub":"u1","exp":1,"exp":2}"#);
    assert_eq!(
        verify_id_token(&token, &jwks, &[]).unwrap_err(),
        "the ID token is not a well-formed JWS"
    );
    let token = rs256(br#"{"sub":"u1","groups":["a"],"groups":["admins"]}"#);
    let claims = verify_id_token(&token, &jwks, &[]).unwrap();
    assert_eq!(
        claims["groups"],
        json!(["admins"]),
        "the last one wins elsewhere"
    );
}

#[test]
fn groups_claim_of_another_shape_is_refused_with_403() {
    let config = config();
    for groups in [
        json!([1]),
        json!({"a": "readers"}),
        json!(["readers", null]),
        json!(true),
    ] {
        let mut claims = good_claims();
        claims.insert("groups".into(), groups.clone());
        let refused = admit(&config, claims).unwrap_err();
        assert_eq!(
            refused.kind(),
            AuthErrorKind::InvalidGroupsClaim,
            "{groups}"
        );
        assert_eq!(refused.kind().status(), StatusCode::FORBIDDEN);
    }
    let mut claims = good_claims();
    claims.insert("groups".into(), json!("readers"));
    let fields = admit(&config, claims).unwrap();
    assert_eq!(fields["role"].as_str().unwrap(), "app_reader");
}

// ---------------------------------------------------------------------------------------------
// Seeds (not findings): role_map_file
// ---------------------------------------------------------------------------------------------

#[test]
fn config_file_with_nul_bytes_and_bad_escapes_is_reported_with_the_file() {
    for text in [
        "[roles]\0\n",
        "[roles]\ndefault = \"\\q\"\n",
        "[roles]\ndefault = \"\u{0}\"\n",
        "[[roles.rule]]\ngroup = \"g\"\nrole = \"bad\\u0000name\"\n",
        "[roles]\ndefault = \"",
        &"[".repeat(10_000),
        &format!("a = {}1{}\n", "[".repeat(5_000), "]".repeat(5_000)),
    ] {
        let problems = parse_config_file("roles.toml", text).err().unwrap();
        assert!(!problems.is_empty());
        for p in &problems {
            assert!(p.message.contains("roles.toml"), "{p}");
        }
    }
}

#[test]
fn role_map_folds_unicode_case_like_lowercase() {
    // U+212A KELVIN SIGN lowercases to ASCII `k`; U+0130 to two characters.
    let map = RoleMap::builder()
        .ignore_case(true)
        .strip_leading_slash(true)
        .add_rule("k", "app_k")
        .add_rule("\u{130}", "app_i")
        .build()
        .unwrap();
    assert_eq!(map.resolve_groups(["\u{212A}"]).unwrap().as_str(), "app_k");
    assert_eq!(map.resolve_groups(["/K"]).unwrap().as_str(), "app_k");
    assert_eq!(map.resolve_groups(["i\u{307}"]).unwrap().as_str(), "app_i");
    assert_eq!(map.resolve_groups(["//k", "I"]), None);
    let duplicate = RoleMap::builder()
        .ignore_case(true)
        .add_rule("\u{212A}", "a")
        .add_rule("K", "b")
        .build()
        .unwrap_err();
    assert!(duplicate.to_string().contains("duplicate"), "{duplicate}");
}

// ---------------------------------------------------------------------------------------------
// Seeds (not findings): extractors
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_flood_of_login_cookies_gets_a_bounded_answer() {
    let layer = OidcLayer::new(config());
    let cookie: String = (0..200)
        .map(|i| format!("__Host-oidc-login-{i}=x; "))
        .collect();
    let reply = send(
        &app(&layer),
        get_with("/auth/logout", Some(cookie.as_bytes()), "text/html"),
    )
    .await;
    assert!(
        reply.set_cookies().len() <= 2 + 16,
        "{}",
        reply.set_cookies().len()
    );
    assert!(reply.set_cookies().iter().all(|c| c.contains("Max-Age=0")));
}

#[tokio::test]
async fn session_of_an_unconfigured_provider_or_without_a_role_is_not_an_identity_or_a_role() {
    let layer = OidcLayer::new(config());
    let app = app(&layer);
    let other = layer.session_cookie(&Identity::builder(ISSUER_2, "u2").build());
    let reply = send(
        &app,
        get_with("/", Some(other.as_bytes()), "application/json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let no_role = layer.session_cookie(&Identity::builder(ISSUER, "u3").build());
    let reply = send(&app, get_with("/role", Some(no_role.as_bytes()), "*/*")).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("no_role"), "{}", reply.body);
    // The first session cookie decides, even when a valid one follows.
    let valid = layer.session_cookie(
        &Identity::builder(ISSUER, "u4")
            .role(PgRole::new("app_reader").unwrap())
            .build(),
    );
    let both = format!("__Host-oidc-session=junk; {valid}");
    let reply = send(
        &app,
        get_with("/", Some(both.as_bytes()), "application/json"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let both = format!("{valid}; __Host-oidc-session=junk");
    let reply = send(
        &app,
        get_with("/", Some(both.as_bytes()), "application/json"),
    )
    .await;
    assert_eq!(reply.body, "identity:u4");
}

// ---------------------------------------------------------------------------------------------
// The targets themselves, on fixed inputs
// ---------------------------------------------------------------------------------------------

/// Fixed inputs for a target: empty, all zeros, all ones, every byte value in order, a few
/// dozen pseudo-random ones (the same at every run), and the committed seeds under
/// `fuzz/seeds/<target>` (the corpora under `fuzz/corpus/` are not committed). A target
/// panics when a property does not hold, so each input is a check.
fn fixed_inputs(target: &str) -> Vec<Vec<u8>> {
    let mut inputs = vec![
        Vec::new(),
        vec![0],
        vec![0; 64],
        vec![0xff; 64],
        (0..=255).collect(),
        (0..=255).rev().collect(),
    ];
    // xorshift64: deterministic, no dependency.
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..48 {
        let len = (next() % 512) as usize;
        let mut input: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if let Some(first) = input.first_mut() {
            // Every mode of the targets whose first byte picks one.
            *first = (i % 4) as u8;
        }
        inputs.push(input);
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target);
    if let Ok(entries) = std::fs::read_dir(&dir) {
        let mut seeds: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
        seeds.sort();
        for seed in seeds {
            inputs.push(std::fs::read(&seed).unwrap());
        }
    }
    inputs
}

#[test]
fn session_cookie_target_holds_on_fixed_inputs() {
    for input in fixed_inputs("session_cookie") {
        tower_oidc::fuzz::session_cookie(&input);
    }
}

#[test]
fn callback_query_target_holds_on_fixed_inputs() {
    for input in fixed_inputs("callback_query") {
        tower_oidc::fuzz::callback_query(&input);
    }
}

#[test]
fn id_token_target_holds_on_fixed_inputs_and_its_seeds() {
    let inputs = fixed_inputs("id_token");
    assert!(inputs.len() > 54 + 20, "the id_token seeds are missing");
    for input in inputs {
        tower_oidc::fuzz::id_token(&input);
    }
}

#[test]
fn role_map_file_target_holds_on_fixed_inputs_and_its_seeds() {
    let inputs = fixed_inputs("role_map_file");
    assert!(inputs.len() > 54 + 5, "the role_map_file seeds are missing");
    for input in inputs {
        tower_oidc::fuzz::role_map_file(&input);
    }
}

#[test]
fn extractors_target_holds_on_fixed_inputs() {
    for input in fixed_inputs("extractors") {
        tower_oidc::fuzz::extractors(&input);
    }
}
