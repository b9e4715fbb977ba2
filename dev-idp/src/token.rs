//! The token endpoint (RFC 6749 4.1.3 and 5, RFC 7636 4.6, OpenID Connect Core 3.1.3): redeems
//! a code for an access token and a signed ID token.

use std::sync::Arc;

use aws_lc_rs::digest;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

use crate::client_auth::authenticate;
use crate::idp::DevIdp;
use crate::keys::random_token;
use crate::params::{given, is_form, is_unreserved};
use crate::response::json_response;
use crate::store::{AccessGrant, CodeState};

/// How long an access token is valid at the userinfo endpoint.
const ACCESS_TOKEN_TTL_SECS: u64 = 3600;
/// How long an ID token is valid.
const ID_TOKEN_TTL_SECS: u64 = 300;

/// The token request's form (RFC 6749 4.1.3), with the client's credentials when it sends
/// them in the body (`client_secret_post`).
#[derive(Deserialize, Default)]
pub(crate) struct TokenParams {
    grant_type: Option<String>,
    code: Option<String>,
    redirect_uri: Option<String>,
    code_verifier: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) client_secret: Option<String>,
}

/// An error response of the token endpoint (RFC 6749 5.2).
pub(crate) struct TokenError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl TokenError {
    fn new(status: StatusCode, error: &'static str, description: &'static str) -> Self {
        Self {
            status,
            error,
            description,
        }
    }

    pub(crate) fn invalid_request(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub(crate) fn invalid_client(description: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description)
    }

    fn invalid_grant(description: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    fn into_response(self) -> Response {
        let mut res = json_response(
            self.status,
            &json!({"error": self.error, "error_description": self.description}),
            "no-store",
        );
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"Basic realm="dev-idp""#),
            );
        }
        res
    }
}

/// `POST /token`: the token or the error (RFC 6749 5.1 and 5.2); refusals are logged with the
/// reason, never with the code or a secret.
pub(crate) async fn token(
    State(idp): State<Arc<DevIdp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match redeem(&idp, &headers, &body) {
        Ok(res) => res,
        Err(err) => {
            tracing::info!(target: "tower_oidc_dev_idp", error = err.error, reason = err.description, "development IdP refused a token request");
            err.into_response()
        }
    }
}

/// Checks the client, the grant, the code and the PKCE verifier, then issues the tokens.
fn redeem(idp: &DevIdp, headers: &HeaderMap, body: &[u8]) -> Result<Response, TokenError> {
    if !is_form(headers) {
        return Err(TokenError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let params: TokenParams = serde_urlencoded::from_bytes(body).map_err(|_| {
        TokenError::invalid_request("malformed parameters, or a parameter given twice")
    })?;
    let client = authenticate(idp, headers, &params)?;

    match given(&params.grant_type) {
        None => return Err(TokenError::invalid_request("grant_type is required")),
        Some("authorization_code") => {}
        Some(_) => {
            return Err(TokenError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "only authorization_code is supported",
            ))
        }
    }
    let code =
        given(&params.code).ok_or_else(|| TokenError::invalid_request("code is required"))?;

    let now = idp.now();
    // Take the code out and mark it used before checking anything else about it: whatever
    // happens next, it cannot be redeemed again.
    let grant = {
        let mut store = idp.store();
        store.prune(now);
        let Some(entry) = store.codes.get_mut(code) else {
            return Err(TokenError::invalid_grant("the code is unknown or expired"));
        };
        match std::mem::replace(&mut entry.state, CodeState::Used { access_token: None }) {
            CodeState::Fresh(grant) => grant,
            CodeState::Used { access_token } => {
                // RFC 6749 4.1.2: a code used twice may have been stolen; revoke what it gave.
                store.codes.remove(code);
                if let Some(token) = access_token {
                    store.tokens.remove(&token);
                }
                return Err(TokenError::invalid_grant(
                    "the code was already used; the tokens issued with it are revoked",
                ));
            }
        }
    };
    if grant.client_id != client.id {
        return Err(TokenError::invalid_grant(
            "the code was issued to another client",
        ));
    }
    if given(&params.redirect_uri) != Some(grant.redirect_uri.as_str()) {
        return Err(TokenError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = given(&params.code_verifier)
        .ok_or_else(|| TokenError::invalid_grant("code_verifier is required (PKCE)"))?;
    // RFC 7636 4.1: 43 to 128 characters from the unreserved set.
    if !(43..=128).contains(&verifier.len()) || !verifier.bytes().all(is_unreserved) {
        return Err(TokenError::invalid_grant("code_verifier is malformed"));
    }
    let computed = B64.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    if !bool::from(computed.as_bytes().ct_eq(grant.code_challenge.as_bytes())) {
        return Err(TokenError::invalid_grant(
            "code_verifier does not match the code_challenge",
        ));
    }
    let user = idp
        .user(&grant.subject)
        .ok_or_else(|| TokenError::invalid_grant("the user no longer exists"))?;

    let access_token = random_token(32);
    let mut claims = user.claims(&grant.scope);
    claims.insert("iss".into(), Value::String(idp.issuer.clone()));
    claims.insert("aud".into(), Value::String(client.id.clone()));
    claims.insert("exp".into(), json!(now.saturating_add(ID_TOKEN_TTL_SECS)));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(grant.auth_time));
    if let Some(nonce) = &grant.nonce {
        claims.insert("nonce".into(), Value::String(nonce.clone()));
    }
    // OpenID Connect Core 3.1.3.6: the left half of SHA-256 of the access token.
    let hash = digest::digest(&digest::SHA256, access_token.as_bytes());
    claims.insert(
        "at_hash".into(),
        Value::String(B64.encode(&hash.as_ref()[..16])),
    );
    let id_token = idp.key.sign(&claims).ok_or_else(|| {
        TokenError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the ID token could not be signed",
        )
    })?;

    {
        let mut store = idp.store();
        if let Some(entry) = store.codes.get_mut(code) {
            entry.state = CodeState::Used {
                access_token: Some(access_token.clone()),
            };
        }
        store.insert_token(
            access_token.clone(),
            AccessGrant {
                client_id: client.id.clone(),
                subject: user.subject.clone(),
                scope: grant.scope.clone(),
                expires_at: now.saturating_add(ACCESS_TOKEN_TTL_SECS),
            },
        );
    }
    let mut res = json_response(
        StatusCode::OK,
        &json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL_SECS,
            "id_token": id_token,
            "scope": grant.scope,
        }),
        "no-store",
    );
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    Ok(res)
}

#[cfg(test)]
mod tests {
    use aws_lc_rs::digest;
    use axum::body::Body;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    use base64::Engine as _;
    use http::{header, Request, StatusCode};
    use serde_json::{json, Map, Value};

    use crate::keys::SigningKey;
    use crate::test_support::*;

    #[tokio::test]
    async fn happy_path_id_token_verifies_against_the_jwks() {
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let f = fixture();
        let reply = choose(&f.router, &authz(&[]), "alice").await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location().as_str().split('?').next(), Some(CALLBACK));
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
        let code = reply.query("code").unwrap();

        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        assert_eq!(
            reply.headers.get(header::CACHE_CONTROL).unwrap(),
            "no-store"
        );
        let tokens = reply.json();
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 3600);
        assert_eq!(tokens["scope"], "openid profile email");
        let id_token = tokens["id_token"].as_str().unwrap();
        let access_token = tokens["access_token"].as_str().unwrap();

        let jwks: jsonwebtoken::jwk::JwkSet =
            serde_json::from_str(&get(&f.router, "/jwks").await.body).unwrap();
        let header = jsonwebtoken::decode_header(id_token).unwrap();
        assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
        let jwk = jwks
            .find(header.kid.as_deref().unwrap())
            .expect("the kid is in the JWKS");
        let key = jsonwebtoken::DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
        validation.set_audience(&["app"]);
        validation.set_issuer(&[ISSUER]);
        validation.validate_exp = false; // the test clock is in 2023
        let claims = jsonwebtoken::decode::<Map<String, Value>>(id_token, &key, &validation)
            .unwrap()
            .claims;
        let now = 1_700_000_000u64;
        assert_eq!(claims["sub"], "alice");
        assert_eq!(claims["iss"], ISSUER);
        assert_eq!(claims["aud"], "app");
        assert_eq!(claims["nonce"], "n-456");
        assert_eq!(claims["iat"], now);
        assert_eq!(claims["exp"], now + 300);
        assert_eq!(claims["auth_time"], now);
        assert_eq!(claims["email"], "alice@example.com");
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "Alice Example");
        assert_eq!(claims["preferred_username"], "alice");
        assert_eq!(claims["groups"], json!(["admins", "readers"]));
        let at_hash =
            B64.encode(&digest::digest(&digest::SHA256, access_token.as_bytes()).as_ref()[..16]);
        assert_eq!(claims["at_hash"], at_hash);

        // A token signed with another key is refused by the same checks.
        let forged = SigningKey::generate().sign(&claims).unwrap();
        assert!(jsonwebtoken::decode::<Map<String, Value>>(&forged, &key, &validation).is_err());

        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(info.status, StatusCode::OK);
        let info = info.json();
        assert_eq!(info["sub"], "alice");
        assert_eq!(info["email"], "alice@example.com");
        assert_eq!(info["groups"], json!(["admins", "readers"]));

        // Logout with the hint goes to the registered target and ends the access token.
        let q = serde_urlencoded::to_string([
            ("id_token_hint", id_token),
            ("post_logout_redirect_uri", "http://127.0.0.1:8080/public"),
            ("state", "bye"),
        ])
        .unwrap();
        let reply = get(&f.router, &format!("/logout?{q}")).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(
            reply.location().as_str(),
            "http://127.0.0.1:8080/public?state=bye"
        );
        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(info.status, StatusCode::UNAUTHORIZED);
    }

    #[tokio::test]
    async fn token_rejects_a_wrong_pkce_verifier_and_burns_the_code() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let wrong = "x".repeat(43);
        let reply = redeem(&f.router, &code, &wrong).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(
            reply.json()["error"],
            "invalid_grant",
            "a failed attempt uses the code up"
        );

        let code = code_for(&f.router, "alice").await;
        let reply = redeem(&f.router, &code, "short").await;
        assert_eq!(reply.json()["error"], "invalid_grant");
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
            ],
            Some(&basic("app", SECRET)),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_grant", "no verifier");
    }

    #[tokio::test]
    async fn token_rejects_a_reused_code_and_revokes_its_tokens() {
        let f = fixture();
        let code = code_for(&f.router, "bob").await;
        let first = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(first.status, StatusCode::OK);
        let access_token = first.json()["access_token"].as_str().unwrap().to_owned();
        let second = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(second.status, StatusCode::BAD_REQUEST);
        assert_eq!(second.json()["error"], "invalid_grant");
        let info = send(
            &f.router,
            Request::get("/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
        assert_eq!(
            info.status,
            StatusCode::UNAUTHORIZED,
            "the first redemption's token is revoked"
        );
    }

    #[tokio::test]
    async fn token_rejects_a_code_of_another_client_or_redirect_uri() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
            ],
            Some(&basic("other", "other-secret")),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_grant");

        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", "http://127.0.0.1:8080/cb?tenant=7"),
                ("code_verifier", VERIFIER),
            ],
            Some(&basic("app", SECRET)),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn token_rejects_an_expired_code() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        f.clock.advance(61);
        let reply = redeem(&f.router, &code, VERIFIER).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_grant");
    }

    #[tokio::test]
    async fn token_rejects_other_grants_and_malformed_requests() {
        let f = fixture();
        let auth = basic("app", SECRET);
        let reply = post_form(
            &f.router,
            "/token",
            &[("grant_type", "password"), ("username", "alice")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "unsupported_grant_type");
        let reply = post_form(
            &f.router,
            "/token",
            &[("grant_type", "authorization_code")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = post_form(
            &f.router,
            "/token",
            &[("code", "a"), ("code", "b")],
            Some(&auth),
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = send(
            &f.router,
            Request::post("/token")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from("{}"))
                .unwrap(),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_request");
    }
}
