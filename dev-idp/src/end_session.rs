//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): ends the user's access tokens
//! and returns the browser to a registered post-logout redirect URI only.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, Uri};
use serde::Deserialize;
use serde_json::Value;

use crate::idp::DevIdp;
use crate::pages::{error_page, html_response, layout};
use crate::params::{given, is_form, MAX_PARAMS, MAX_STATE};
use crate::response::redirect_with;

/// The logout request's parameters (RP-Initiated Logout 1.0 section 2).
#[derive(Deserialize, Default)]
struct LogoutParams {
    id_token_hint: Option<String>,
    client_id: Option<String>,
    post_logout_redirect_uri: Option<String>,
    state: Option<String>,
}

/// `GET` or `POST /logout`, the end-session endpoint.
pub(crate) async fn logout(
    State(idp): State<Arc<DevIdp>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let raw: &[u8] = if method == Method::POST {
        if !is_form(&headers) {
            return error_page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The form must be sent as application/x-www-form-urlencoded.",
            );
        }
        &body
    } else {
        uri.query().unwrap_or_default().as_bytes()
    };
    let params: LogoutParams = match serde_urlencoded::from_bytes(raw) {
        Ok(p) if raw.len() <= MAX_PARAMS => p,
        _ => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "The logout request's parameters could not be read (malformed, or a parameter given twice).",
            )
        }
    };

    // The hint may have expired (that is normal at logout), but it must be ours.
    let hint = match given(&params.id_token_hint) {
        None => None,
        Some(token) => match idp.key.verify(token) {
            Some(claims)
                if claims.get("iss").and_then(Value::as_str) == Some(idp.issuer.as_str()) =>
            {
                Some(claims)
            }
            _ => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    "The id_token_hint was not issued by this provider.",
                )
            }
        },
    };
    let hint_client = hint
        .as_ref()
        .and_then(|c| c.get("aud"))
        .and_then(Value::as_str);
    let client_id = match (given(&params.client_id), hint_client) {
        (Some(a), Some(b)) if a != b => {
            return error_page(
                StatusCode::BAD_REQUEST,
                "client_id and the id_token_hint name different clients.",
            )
        }
        (Some(id), _) | (None, Some(id)) => Some(id),
        (None, None) => None,
    };
    let client = match client_id {
        None => None,
        Some(id) => match idp.client(id) {
            Some(c) => Some(c),
            None => {
                return error_page(
                    StatusCode::BAD_REQUEST,
                    &format!("No client with the id “{id}” is registered at this provider."),
                )
            }
        },
    };

    // This provider keeps no login session; what it can end is the access tokens it issued.
    if let (Some(claims), Some(client)) = (&hint, client) {
        if let Some(subject) = claims.get("sub").and_then(Value::as_str) {
            idp.store()
                .tokens
                .retain(|_, t| !(t.subject == subject && t.client_id == client.id));
        }
    }

    if let Some(target) = given(&params.post_logout_redirect_uri) {
        let Some(client) = client else {
            return error_page(
                StatusCode::BAD_REQUEST,
                "A post_logout_redirect_uri needs a client_id or an id_token_hint to say whose it is.",
            );
        };
        if !client.allows_post_logout(target) {
            return error_page(
                StatusCode::BAD_REQUEST,
                &format!(
                    "The post_logout_redirect_uri “{target}” is not registered for the client “{}”.",
                    client.id
                ),
            );
        }
        let state = given(&params.state).filter(|s| s.len() <= MAX_STATE);
        let pairs: Vec<(&str, &str)> = state.map(|s| ("state", s)).into_iter().collect();
        return redirect_with(target, &pairs, StatusCode::SEE_OTHER);
    }
    html_response(
        StatusCode::OK,
        layout(
            "Signed out",
            "<h1>You are signed out of the development IdP</h1>\
             <p>It keeps no session of its own, so there was little to do: the next sign-in will \
             ask again which test user you are.</p>",
        ),
    )
}

#[cfg(test)]
mod tests {
    use http::{header, StatusCode};

    use crate::test_support::*;

    #[tokio::test]
    async fn logout_redirects_only_to_registered_uris() {
        let f = fixture();
        let reply = get(&f.router, "/logout").await;
        assert_eq!(reply.status, StatusCode::OK);
        assert!(reply
            .body
            .contains("You are signed out of the development IdP"));

        let reply = get(
            &f.router,
            "/logout?client_id=app&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.location().as_str(), "http://127.0.0.1:8080/public");

        for q in [
            "client_id=app&post_logout_redirect_uri=http%3A%2F%2Fevil.example%2F",
            "post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
            "client_id=nobody&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
            "id_token_hint=not.a.token&post_logout_redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fpublic",
        ] {
            let reply = get(&f.router, &format!("/logout?{q}")).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{q}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{q}");
        }
    }
}
