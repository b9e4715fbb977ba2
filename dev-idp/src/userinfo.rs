//! The userinfo endpoint (OpenID Connect Core 5.3), with bearer tokens (RFC 6750).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::idp::DevIdp;
use crate::response::json_response;

/// The realm named in `WWW-Authenticate` challenges.
const REALM: &str = "dev-idp";

/// `GET` or `POST /userinfo`: the claims of the token's user, for the token's scope.
pub(crate) async fn userinfo(State(idp): State<Arc<DevIdp>>, headers: HeaderMap) -> Response {
    let challenge = |error: Option<&str>| {
        let value = match error {
            None => format!("Bearer realm=\"{REALM}\""),
            Some(e) => format!("Bearer realm=\"{REALM}\", error=\"{e}\""),
        };
        let mut res = json_response(
            StatusCode::UNAUTHORIZED,
            &error.map_or_else(|| json!({}), |e| json!({"error": e})),
            "no-store",
        );
        if let Ok(v) = HeaderValue::try_from(value) {
            res.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        res
    };
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        // RFC 6750 3.1: a request without credentials gets a challenge without an error code.
        return challenge(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        return challenge(Some("invalid_token"));
    };
    let now = idp.now();
    let grant = {
        let mut store = idp.store();
        store.prune(now);
        store
            .tokens
            .get(token)
            .map(|g| (g.subject.clone(), g.scope.clone()))
    };
    let Some((subject, scope)) = grant else {
        return challenge(Some("invalid_token"));
    };
    match idp.user(&subject) {
        Some(user) => json_response(
            StatusCode::OK,
            &Value::Object(user.claims(&scope)),
            "no-store",
        ),
        None => challenge(Some("invalid_token")),
    }
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use http::{header, Request, StatusCode};

    use crate::test_support::*;

    #[tokio::test]
    async fn userinfo_requires_a_valid_bearer_token() {
        let f = fixture();
        let reply = get(&f.router, "/userinfo").await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            reply.headers.get(header::WWW_AUTHENTICATE).unwrap(),
            "Bearer realm=\"dev-idp\""
        );
        for auth in ["Bearer nope", "Basic abc", "Bearer"] {
            let reply = send(
                &f.router,
                Request::get("/userinfo")
                    .header(header::AUTHORIZATION, auth)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth}");
            let challenge = reply
                .headers
                .get(header::WWW_AUTHENTICATE)
                .unwrap()
                .to_str()
                .unwrap();
            assert!(
                challenge.starts_with("Bearer") && challenge.contains("error=\"invalid_token\""),
                "{challenge}"
            );
        }
        // An access token expires.
        let code = code_for(&f.router, "alice").await;
        let token = redeem(&f.router, &code, VERIFIER).await.json()["access_token"]
            .as_str()
            .unwrap()
            .to_owned();
        f.clock.advance(3601);
        let reply = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }
}
