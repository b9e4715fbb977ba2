//! Client authentication at the token endpoint (RFC 6749 2.3.1): `client_secret_basic`,
//! `client_secret_post`, or none for a public client.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use http::{header, HeaderMap, HeaderValue};
use subtle::ConstantTimeEq;

use crate::client::DevClient;
use crate::idp::DevIdp;
use crate::params::given;
use crate::token::{TokenError, TokenParams};

/// Client authentication (RFC 6749 2.3.1): HTTP Basic with form-urlencoded id and secret, or
/// the id and secret in the body; exactly one method. Public clients send only `client_id`.
pub(crate) fn authenticate<'a>(
    idp: &'a DevIdp,
    headers: &HeaderMap,
    params: &TokenParams,
) -> Result<&'a DevClient, TokenError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => Some(parse_basic(value).ok_or_else(|| {
            TokenError::invalid_client("the Authorization header is not valid HTTP Basic")
        })?),
    };
    let body_id = given(&params.client_id);
    let body_secret = given(&params.client_secret);
    let (id, secret) = match (basic, body_secret) {
        (Some(_), Some(_)) => {
            return Err(TokenError::invalid_request(
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if body_id.is_some_and(|b| b != id) {
                return Err(TokenError::invalid_client(
                    "client_id differs from the authenticated client",
                ));
            }
            (id, Some(secret))
        }
        (None, Some(secret)) => {
            let id = body_id
                .ok_or_else(|| TokenError::invalid_client("client_secret without client_id"))?;
            (id.to_owned(), Some(secret.to_owned()))
        }
        (None, None) => {
            let id = body_id
                .ok_or_else(|| TokenError::invalid_client("client authentication is required"))?;
            (id.to_owned(), None)
        }
    };
    let client = idp.client(&id);
    let ok = match (client.and_then(|c| c.secret.as_deref()), secret.as_deref()) {
        (Some(expected), Some(given)) => bool::from(expected.as_bytes().ct_eq(given.as_bytes())),
        // A public client must not send a secret, a confidential one must.
        (None, None) => client.is_some(),
        _ => false,
    };
    match client {
        Some(client) if ok => Ok(client),
        _ => Err(TokenError::invalid_client("client authentication failed")),
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`, decoded.
fn parse_basic(value: &HeaderValue) -> Option<(String, String)> {
    let value = value.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((form_decode(id)?, form_decode(secret)?))
}

/// Decodes `application/x-www-form-urlencoded` text: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = |c: Option<u8>| char::from(c?).to_digit(16);
                let hi = hex(bytes.next())?;
                let lo = hex(bytes.next())?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use http::{header, StatusCode};

    use super::*;
    use crate::test_support::*;

    #[tokio::test]
    async fn token_rejects_bad_client_authentication_with_401() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
        ];
        for auth in [
            Some(basic("app", "wrong")),
            Some(basic("app", "s3cr3t")),
            Some(basic("nobody", SECRET)),
            Some("Basic !!!".to_owned()),
            Some("Bearer abc".to_owned()),
            None,
        ] {
            let reply = post_form(&f.router, "/token", &form, auth.as_deref()).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{auth:?}");
            assert_eq!(reply.json()["error"], "invalid_client");
            assert!(reply.headers.get(header::WWW_AUTHENTICATE).is_some());
        }
        // Bad client authentication does not burn the code of the real client.
        assert_eq!(
            redeem(&f.router, &code, VERIFIER).await.status,
            StatusCode::OK
        );
    }

    #[tokio::test]
    async fn token_accepts_client_secret_post_but_not_two_methods_at_once() {
        let f = fixture();
        let code = code_for(&f.router, "alice").await;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", CALLBACK),
            ("code_verifier", VERIFIER),
            ("client_id", "app"),
            ("client_secret", SECRET),
        ];
        let reply = post_form(&f.router, "/token", &form, Some(&basic("app", SECRET))).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert_eq!(reply.json()["error"], "invalid_request");
        let reply = post_form(&f.router, "/token", &form, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    #[tokio::test]
    async fn public_client_redeems_with_pkce_alone() {
        let f = fixture();
        let params = authz(&[
            ("client_id", "spa"),
            ("redirect_uri", "http://127.0.0.1:8080/spa"),
        ]);
        let code = choose(&f.router, &params, "bob")
            .await
            .query("code")
            .unwrap();
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", "http://127.0.0.1:8080/spa"),
            ("code_verifier", VERIFIER),
            ("client_id", "spa"),
        ];
        let reply = post_form(&f.router, "/token", &form, Some(&basic("spa", "made-up"))).await;
        assert_eq!(
            reply.status,
            StatusCode::UNAUTHORIZED,
            "a public client has no secret"
        );
        let reply = post_form(&f.router, "/token", &form, None).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        // A confidential client cannot skip its secret.
        let code = code_for(&f.router, "alice").await;
        let reply = post_form(
            &f.router,
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", CALLBACK),
                ("code_verifier", VERIFIER),
                ("client_id", "app"),
            ],
            None,
        )
        .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn form_decoding_follows_rfc_6749_2_3_1() {
        assert_eq!(form_decode("a%3Ab+c%25").as_deref(), Some("a:b c%"));
        assert_eq!(form_decode("%zz"), None);
        assert_eq!(form_decode("%4"), None);
    }
}
