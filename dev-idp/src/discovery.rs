//! The discovery document (OpenID Connect Discovery 1.0 section 3).

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use http::StatusCode;
use serde_json::json;

use crate::idp::DevIdp;
use crate::response::json_response;

/// The scopes this provider knows; others are dropped from the granted scope.
pub(crate) const SCOPES: [&str; 4] = ["openid", "profile", "email", "groups"];

/// `GET /.well-known/openid-configuration`: every endpoint under the issuer, and what this
/// provider supports.
pub(crate) async fn discovery(State(idp): State<Arc<DevIdp>>) -> Response {
    let methods: &[&str] = if idp.clients.iter().any(|c| c.secret.is_none()) {
        &["client_secret_basic", "client_secret_post", "none"]
    } else {
        &["client_secret_basic", "client_secret_post"]
    };
    json_response(
        StatusCode::OK,
        &json!({
            "issuer": idp.issuer,
            "authorization_endpoint": idp.endpoint("authorize"),
            "token_endpoint": idp.endpoint("token"),
            "userinfo_endpoint": idp.endpoint("userinfo"),
            "jwks_uri": idp.endpoint("jwks"),
            "end_session_endpoint": idp.endpoint("logout"),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["ES256"],
            "token_endpoint_auth_methods_supported": methods,
            "code_challenge_methods_supported": ["S256"],
            "authorization_response_iss_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "claims_parameter_supported": false,
            "scopes_supported": SCOPES,
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "at_hash",
                "name", "preferred_username", "email", "email_verified", "groups"
            ],
        }),
        "public, max-age=60",
    )
}

#[cfg(test)]
mod tests {
    use http::StatusCode;
    use serde_json::json;

    use crate::test_support::*;

    #[tokio::test]
    async fn discovery_names_every_endpoint_under_the_issuer() {
        let f = fixture();
        let reply = get(&f.router, "/.well-known/openid-configuration").await;
        assert_eq!(reply.status, StatusCode::OK);
        let doc = reply.json();
        assert_eq!(doc["issuer"], ISSUER);
        assert_eq!(doc["authorization_endpoint"], format!("{ISSUER}/authorize"));
        assert_eq!(doc["token_endpoint"], format!("{ISSUER}/token"));
        assert_eq!(doc["userinfo_endpoint"], format!("{ISSUER}/userinfo"));
        assert_eq!(doc["jwks_uri"], format!("{ISSUER}/jwks"));
        assert_eq!(doc["end_session_endpoint"], format!("{ISSUER}/logout"));
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
        assert_eq!(
            doc["id_token_signing_alg_values_supported"],
            json!(["ES256"])
        );
        assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
        let jwks = get(&f.router, "/jwks").await.json();
        let key = &jwks["keys"][0];
        assert_eq!(
            (
                key["kty"].as_str(),
                key["crv"].as_str(),
                key["alg"].as_str(),
                key["use"].as_str()
            ),
            (Some("EC"), Some("P-256"), Some("ES256"), Some("sig"))
        );
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert!(
            jwks["keys"][0].get("d").is_none(),
            "the private key must never be published"
        );
    }
}
