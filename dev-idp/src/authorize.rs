//! The authorization endpoint (RFC 6749 4.1.1, OpenID Connect Core 3.1.2): checks the request,
//! shows the user picker on GET, and issues a code for the picked user on POST.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;
use http::{HeaderMap, StatusCode, Uri};
use serde::Deserialize;
use url::Url;

use crate::client::DevClient;
use crate::discovery::SCOPES;
use crate::idp::DevIdp;
use crate::keys::random_token;
use crate::pages::error_page;
use crate::params::{given, is_base64url, is_form, MAX_PARAMS, MAX_STATE};
use crate::picker::picker_page;
use crate::response::redirect_with;
use crate::store::{CodeEntry, CodeGrant, CodeState};

/// How long an authorization code can be redeemed (OAuth 2.0 Security BCP: at most a minute or so).
const CODE_TTL_SECS: u64 = 60;

/// The authorization request's parameters, and on POST the picker's choice.
#[derive(Deserialize, Default)]
pub(crate) struct AuthorizeParams {
    pub(crate) client_id: Option<String>,
    pub(crate) redirect_uri: Option<String>,
    pub(crate) response_type: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) state: Option<String>,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) code_challenge_method: Option<String>,
    pub(crate) response_mode: Option<String>,
    prompt: Option<String>,
    request: Option<String>,
    request_uri: Option<String>,
    /// POST only: the subject of the chosen user.
    user: Option<String>,
    /// POST only: `deny` when the user cancelled.
    action: Option<String>,
}

/// A request that passed every check.
pub(crate) struct Approved<'a> {
    pub(crate) client: &'a DevClient,
    pub(crate) redirect_uri: &'a str,
    pub(crate) scope: String,
    state: Option<&'a str>,
    nonce: Option<&'a str>,
    code_challenge: &'a str,
}

/// Why an authorization request was refused.
enum Refusal {
    /// The client or redirect URI cannot be trusted: show a page, never redirect (RFC 6749 4.1.2.1).
    Page(StatusCode, String),
    /// Everything else goes back to the client's redirect URI with an error code.
    Redirect {
        redirect_uri: String,
        error: &'static str,
        description: &'static str,
        state: Option<String>,
    },
}

/// The parameters of a query string or form body (at most [`MAX_PARAMS`] bytes).
fn parse_params(raw: &[u8]) -> Result<AuthorizeParams, Refusal> {
    if raw.len() > MAX_PARAMS {
        return Err(Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The request is too large.".into(),
        ));
    }
    // serde_urlencoded refuses a parameter given twice, as RFC 6749 3.1 requires.
    serde_urlencoded::from_bytes(raw).map_err(|_| {
        Refusal::Page(
            StatusCode::BAD_REQUEST,
            "The request's parameters could not be read (malformed, or a parameter given twice)."
                .into(),
        )
    })
}

/// Every check of the authorization request, in the order RFC 6749 4.1.2.1 asks for: the
/// client and redirect URI first (a failure there shows a page), then the rest (a failure
/// there is sent back to the redirect URI).
fn check_authorize<'a>(idp: &'a DevIdp, p: &'a AuthorizeParams) -> Result<Approved<'a>, Refusal> {
    let page = |msg: &str| Err(Refusal::Page(StatusCode::BAD_REQUEST, msg.to_owned()));
    let Some(client_id) = given(&p.client_id) else {
        return page("The request has no client_id.");
    };
    let Some(client) = idp.client(client_id) else {
        return page(&format!(
            "No client with the id “{client_id}” is registered at this provider."
        ));
    };
    let Some(redirect_uri) = given(&p.redirect_uri) else {
        return page("The request has no redirect_uri.");
    };
    if !client.allows_redirect(redirect_uri) {
        return page(&format!(
            "The redirect_uri “{redirect_uri}” is not registered for the client “{client_id}”. \
             Redirect URIs must match a registered one exactly."
        ));
    }
    if Url::parse(redirect_uri).is_err() {
        return page("The registered redirect_uri is not an absolute URL.");
    }

    let state = given(&p.state);
    let refuse = |error: &'static str, description: &'static str| {
        Err(Refusal::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            error,
            description,
            state: state.filter(|s| s.len() <= MAX_STATE).map(str::to_owned),
        })
    };
    if state.is_some_and(|s| s.len() > MAX_STATE) {
        return refuse("invalid_request", "state is too long");
    }
    if given(&p.request).is_some() {
        return refuse("request_not_supported", "request objects are not supported");
    }
    if given(&p.request_uri).is_some() {
        return refuse("request_uri_not_supported", "request_uri is not supported");
    }
    if given(&p.response_mode).is_some_and(|m| m != "query") {
        return refuse("invalid_request", "only response_mode=query is supported");
    }
    match given(&p.response_type) {
        None => return refuse("invalid_request", "response_type is required"),
        Some("code") => {}
        Some(_) => {
            return refuse(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    let requested: Vec<&str> = given(&p.scope)
        .map(|s| s.split(' ').collect())
        .unwrap_or_default();
    if !requested.contains(&"openid") {
        return refuse("invalid_scope", "the scope must contain openid");
    }
    let scope = SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let Some(code_challenge) = given(&p.code_challenge) else {
        return refuse(
            "invalid_request",
            "code_challenge is required (PKCE, RFC 7636)",
        );
    };
    // RFC 7636 4.3: without a method the challenge is `plain`, which this provider refuses.
    if given(&p.code_challenge_method) != Some("S256") {
        return refuse("invalid_request", "code_challenge_method must be S256");
    }
    // BASE64URL(SHA-256(verifier)) is always 43 characters (RFC 7636 4.2).
    if code_challenge.len() != 43 || !code_challenge.bytes().all(is_base64url) {
        return refuse(
            "invalid_request",
            "code_challenge is not a base64url SHA-256 value",
        );
    }
    let nonce = given(&p.nonce);
    if nonce.is_some_and(|n| n.len() > MAX_STATE) {
        return refuse("invalid_request", "nonce is too long");
    }
    // This provider keeps no session, so it can never sign anyone in without showing a page.
    if given(&p.prompt).is_some_and(|v| v.split(' ').any(|x| x == "none")) {
        return refuse(
            "login_required",
            "the development IdP always asks which user to sign in",
        );
    }
    Ok(Approved {
        client,
        redirect_uri,
        scope,
        state,
        nonce,
        code_challenge,
    })
}

/// `GET /authorize`: checks the request, then shows the picker (or sends the error back to the
/// registered redirect URI, or shows a page when there is none to trust).
pub(crate) async fn authorize_get(State(idp): State<Arc<DevIdp>>, uri: Uri) -> Response {
    let params = match parse_params(uri.query().unwrap_or_default().as_bytes()) {
        Ok(p) => p,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::FOUND),
    };
    match check_authorize(&idp, &params) {
        Ok(approved) => picker_page(&idp, &params, &approved),
        Err(refusal) => refusal_response(&idp, refusal, StatusCode::FOUND),
    }
}

/// `POST /authorize`: the picker's choice. The whole request is checked again (the form is
/// not trusted more than the query was), then a one-time code is issued for the chosen user.
pub(crate) async fn authorize_post(
    State(idp): State<Arc<DevIdp>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_form(&headers) {
        return error_page(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "The form must be sent as application/x-www-form-urlencoded.",
        );
    }
    let params = match parse_params(&body) {
        Ok(p) => p,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::SEE_OTHER),
    };
    let approved = match check_authorize(&idp, &params) {
        Ok(a) => a,
        Err(refusal) => return refusal_response(&idp, refusal, StatusCode::SEE_OTHER),
    };
    if given(&params.action) == Some("deny") {
        return refusal_response(
            &idp,
            Refusal::Redirect {
                redirect_uri: approved.redirect_uri.to_owned(),
                error: "access_denied",
                description: "the user cancelled the sign-in",
                state: approved.state.map(str::to_owned),
            },
            StatusCode::SEE_OTHER,
        );
    }
    let Some(subject) = given(&params.user) else {
        return error_page(StatusCode::BAD_REQUEST, "No test user was chosen.");
    };
    let Some(user) = idp.user(subject) else {
        return error_page(
            StatusCode::BAD_REQUEST,
            &format!("There is no test user “{subject}”."),
        );
    };

    let now = idp.now();
    let code = random_token(32);
    let grant = CodeGrant {
        client_id: approved.client.id.clone(),
        redirect_uri: approved.redirect_uri.to_owned(),
        code_challenge: approved.code_challenge.to_owned(),
        nonce: approved.nonce.map(str::to_owned),
        subject: user.subject.clone(),
        scope: approved.scope.clone(),
        auth_time: now,
    };
    {
        let mut store = idp.store();
        store.prune(now);
        store.insert_code(
            code.clone(),
            CodeEntry {
                state: CodeState::Fresh(grant),
                expires_at: now.saturating_add(CODE_TTL_SECS),
            },
        );
    }
    tracing::info!(
        target: "tower_oidc_dev_idp",
        client_id = %approved.client.id,
        subject = %user.subject,
        "development IdP issued an authorization code"
    );
    let mut pairs = vec![("code", code.as_str())];
    if let Some(state) = approved.state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", idp.issuer.as_str()));
    redirect_with(approved.redirect_uri, &pairs, StatusCode::SEE_OTHER)
}

/// The page or the error redirect (with `state` and RFC 9207 `iss`) for a refusal.
fn refusal_response(idp: &DevIdp, refusal: Refusal, status: StatusCode) -> Response {
    match refusal {
        Refusal::Page(code, message) => error_page(code, &message),
        Refusal::Redirect {
            redirect_uri,
            error,
            description,
            state,
        } => {
            let mut pairs = vec![("error", error), ("error_description", description)];
            if let Some(state) = state.as_deref() {
                pairs.push(("state", state));
            }
            pairs.push(("iss", idp.issuer.as_str()));
            redirect_with(&redirect_uri, &pairs, status)
        }
    }
}

#[cfg(test)]
mod tests {
    use http::{header, StatusCode};

    use crate::test_support::*;

    #[tokio::test]
    async fn authorize_refuses_unregistered_redirect_uri_without_redirecting() {
        let f = fixture();
        for bad in [
            "http://evil.example/callback",
            "http://127.0.0.1:8080/auth/callback/",
            "http://127.0.0.1:8080/auth/callback?x=1",
            "http://127.0.0.1:9090/cb", // registered, but for another client
        ] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&[("redirect_uri", bad)]))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{bad}");
            assert!(reply.body.contains("not registered"), "{}", reply.body);
            // The POST re-validates too.
            let reply = choose(&f.router, &authz(&[("redirect_uri", bad)]), "alice").await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{bad}");
            assert!(reply.headers.get(header::LOCATION).is_none(), "{bad}");
        }
        let reply = get(
            &f.router,
            &format!("/authorize?{}", query(&authz(&[("redirect_uri", "")]))),
        )
        .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
    }

    #[tokio::test]
    async fn authorize_refuses_unknown_client_without_redirecting() {
        let f = fixture();
        for client in ["nobody", "<b>x</b>", ""] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&[("client_id", client)]))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST);
            assert!(reply.headers.get(header::LOCATION).is_none());
            assert!(!reply.body.contains("<b>x</b>"), "escaped");
        }
    }

    #[tokio::test]
    async fn authorize_refuses_duplicate_or_malformed_parameters_with_a_page() {
        let f = fixture();
        let q = format!("{}&state=again", query(&authz(&[])));
        let reply = get(&f.router, &format!("/authorize?{q}")).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
        let reply = get(&f.router, "/authorize?client_id=%FF%FE").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    }

    #[tokio::test]
    async fn authorize_without_s256_pkce_redirects_with_invalid_request() {
        let f = fixture();
        for changes in [
            vec![("code_challenge", "")],
            vec![("code_challenge_method", "")],
            vec![("code_challenge_method", "plain")],
            vec![("code_challenge", "too-short")],
        ] {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&changes))),
            )
            .await;
            assert_eq!(reply.status, StatusCode::FOUND, "{changes:?}");
            let loc = reply.location();
            assert_eq!(loc.as_str().split('?').next(), Some(CALLBACK));
            assert_eq!(
                reply.query("error").as_deref(),
                Some("invalid_request"),
                "{changes:?}"
            );
            assert_eq!(reply.query("state").as_deref(), Some("st-123"));
            assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
            assert_eq!(reply.query("code"), None);
            // And no code from the POST either.
            let reply = choose(&f.router, &authz(&changes), "alice").await;
            assert_eq!(reply.query("error").as_deref(), Some("invalid_request"));
            assert_eq!(reply.query("code"), None);
        }
    }

    #[tokio::test]
    async fn authorize_checks_scope_response_type_and_prompt() {
        let f = fixture();
        let cases = [
            (vec![("scope", "profile email")], "invalid_scope"),
            (vec![("scope", "")], "invalid_scope"),
            (
                vec![("response_type", "token")],
                "unsupported_response_type",
            ),
            (vec![("response_type", "")], "invalid_request"),
            (vec![("prompt", "none")], "login_required"),
            (vec![("response_mode", "form_post")], "invalid_request"),
            (
                vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
                "request_not_supported",
            ),
        ];
        for (changes, error) in cases {
            let reply = get(
                &f.router,
                &format!("/authorize?{}", query(&authz(&changes))),
            )
            .await;
            assert_eq!(reply.query("error").as_deref(), Some(error), "{changes:?}");
            assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
        }
    }

    #[tokio::test]
    async fn authorize_post_refuses_an_unknown_user() {
        let f = fixture();
        let reply = choose(&f.router, &authz(&[]), "root").await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST);
        assert!(reply.headers.get(header::LOCATION).is_none());
        let mut form: Vec<(&str, &str)> = Vec::new();
        let params = authz(&[]);
        form.extend(params.iter().map(|(k, v)| (*k, v.as_str())));
        let reply = post_form(&f.router, "/authorize", &form, None).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "no user chosen");
    }

    #[tokio::test]
    async fn cancel_redirects_with_access_denied() {
        let f = fixture();
        let params = authz(&[]);
        let mut form: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        form.push(("action", "deny"));
        let reply = post_form(&f.router, "/authorize", &form, None).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        assert_eq!(reply.query("error").as_deref(), Some("access_denied"));
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("code"), None);
    }

    #[tokio::test]
    async fn redirect_keeps_the_registered_query() {
        let f = fixture();
        let reply = choose(
            &f.router,
            &authz(&[("redirect_uri", "http://127.0.0.1:8080/cb?tenant=7")]),
            "bob",
        )
        .await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER);
        let loc = reply.location();
        assert_eq!(loc.path(), "/cb");
        assert_eq!(reply.query("tenant").as_deref(), Some("7"));
        assert!(reply.query("code").is_some());
        assert_eq!(reply.query("state").as_deref(), Some("st-123"));
        assert_eq!(reply.query("iss").as_deref(), Some(ISSUER));
    }
}
