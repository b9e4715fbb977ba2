//! The redirect URI handler, as typed steps run in order:
//!
//! 1. [`login_record`]: the `state`, the login record it names, and the callback route;
//! 2. [`issuer`]: the RFC 9207 `iss` parameter (and the provider's `error`), before anything
//!    is redeemed;
//! 3. [`exchange`]: the code, redeemed with the PKCE verifier;
//! 4. [`verify`]: the ID token's signature and claims;
//! 5. [`userinfo`]: userinfo, merged in when the ID token lacks claims we need;
//! 6. [`admission`]: the access rules and role map, then the app's login hook;
//! 7. [`issue`]: the identity, the session cookie and the redirect back.
//!
//! After any failed check nothing else is called: no token request after a bad `state` or
//! `iss`, no userinfo request after a bad ID token.
//!
//! The response comes in the query (`response_mode=query`, a GET) or as a form the browser
//! POSTs (`response_mode=form_post`, [`handle_form_post`]); a provider's callback route takes
//! only its own mode's method, and both go through the same steps.

use http::header;
use http::request::Parts;

use crate::audit::AuditKind;
use crate::error::AuthError;
use crate::pages::{self, Page};
use crate::provider::Provider;
use crate::shared::Shared;

pub(crate) mod admission;
pub(crate) mod exchange;
pub(crate) mod identity;
pub(crate) mod issue;
pub(crate) mod issuer;
pub(crate) mod login_record;
pub(crate) mod query;
pub(crate) mod userinfo;
pub(crate) mod verify;

/// Why a form_post provider's response in the query is refused.
const NOT_IN_THE_ADDRESS: &str = "This identity provider sends its sign-in responses as a form (response_mode=form_post); a response in the address was not sent by it.";

/// The largest form_post body read: a code, a state, an issuer and perhaps an error
/// description fit in far less.
pub(crate) const MAX_FORM_POST: usize = 16 * 1024;

/// A callback in the query (a GET, or a HEAD).
pub(crate) async fn handle(shared: &Shared, parts: &Parts) -> Page {
    if let Some(page) = wrong_method(shared, parts) {
        return page;
    }
    respond(shared, parts, query::parse(parts.uri.query())).await
}

/// A callback POSTed as a form (`response_mode=form_post`): its body read, capped at
/// [`MAX_FORM_POST`], then the same steps as [`handle`].
pub(crate) async fn handle_form_post<B>(shared: &Shared, parts: &Parts, body: B) -> Page
where
    B: http_body::Body + Send,
    B::Data: Send,
{
    if let Some(page) = super::throttle::refuse(shared, parts) {
        return page;
    }
    if let Some(page) = wrong_method(shared, parts) {
        return page;
    }
    let params = match super::form_body::read(parts, body, MAX_FORM_POST).await {
        Ok(form) => query::parse_form(&form),
        Err(_) => Err(crate::error::AuthError::new(
            crate::error::AuthErrorKind::MalformedCallback,
            "The sign-in response could not be read (a form of at most 16 KiB was expected).",
        )),
    };
    respond(shared, parts, params).await
}

/// 405 when the callback route's provider sends its responses the other way: a form_post
/// provider's route takes POST only (a response in a URL did not come from it), a query
/// provider's GET only. The login is left untouched.
fn wrong_method(shared: &Shared, parts: &Parts) -> Option<Page> {
    let path = crate::route::app_uri(parts).path();
    let provider = shared
        .providers
        .iter()
        .find(|p| p.config.callback_path == path)?;
    let form_post = provider.config.response_mode == crate::config::ResponseMode::FormPost;
    let posted = parts.method == http::Method::POST;
    if form_post == posted {
        return None;
    }
    let (allow, reason) = if form_post {
        ("POST", NOT_IN_THE_ADDRESS)
    } else {
        ("GET", "This identity provider sends its sign-in responses in the address (response_mode=query), not as a form.")
    };
    let err = AuthError::new(crate::error::AuthErrorKind::MalformedCallback, reason);
    tracing::warn!(target: "tower_oidc", event = "login_failed", kind = err.kind().as_str(), reason = %err.reason());
    let mut page = pages::error_page(&err, &shared.config);
    *page.status_mut() = http::StatusCode::METHOD_NOT_ALLOWED;
    page.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static(allow));
    Some(page)
}

/// The steps for the response's parameters, and the page they come to.
async fn respond(
    shared: &Shared,
    parts: &Parts,
    params: Result<query::CallbackQuery, AuthError>,
) -> Page {
    let names = &shared.cookies.names;
    // The login cookie found for this callback, removed in every outcome.
    let mut used_cookie: Option<String> = None;
    // Who the callback turned out to be about, for the audit trail.
    let mut seen = Seen::default();
    let result = match params {
        Ok(params) => run(shared, parts, &params, &mut used_cookie, &mut seen).await,
        Err(err) => Err(err),
    };
    let (kind, error) = match &result {
        Ok(_) => (AuditKind::SignIn, None),
        Err(e) if pages::is_refusal(e.kind()) => (AuditKind::SignInRefused, Some(e.kind())),
        Err(e) => (AuditKind::SignInFailed, Some(e.kind())),
    };
    let provider = seen.provider.map(|p| &p.config);
    match error {
        None => crate::meter::login(provider.map_or("unknown", |p| p.slug.as_str())),
        Some(kind) => crate::meter::login_failure(provider.map(|p| p.slug.as_str()), kind.as_str()),
    }
    super::audit_trail::record(
        shared,
        parts,
        kind,
        provider,
        seen.subject.as_deref(),
        error,
    );
    let mut page = match result {
        Ok(page) => page,
        Err(err) => {
            tracing::warn!(
                target: "tower_oidc",
                event = "login_failed",
                kind = err.kind().as_str(),
                reason = %err.reason(),
            );
            pages::error_page(&err, &shared.config)
        }
    };
    if let Some(name) = used_cookie {
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&name));
    }
    if page.status() == http::StatusCode::FORBIDDEN {
        // Not admitted: whatever session this browser held before (perhaps another user's)
        // must not carry on as if nothing happened.
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&names.session));
        // ... nor its logout hint, which names that earlier user to their provider.
        page.headers_mut()
            .append(header::SET_COOKIE, names.remove(&names.logout));
    }
    page
}

/// What the steps learnt of the login before they ended: its provider and its subject.
#[derive(Default)]
struct Seen<'s> {
    provider: Option<&'s Provider>,
    subject: Option<String>,
}

/// The steps, in order; the first failure ends the callback.
async fn run<'s>(
    shared: &'s Shared,
    parts: &Parts,
    query: &query::CallbackQuery,
    used_cookie: &mut Option<String>,
    seen: &mut Seen<'s>,
) -> Result<Page, AuthError> {
    let now = shared.config.clock.unix_seconds();
    let login = login_record::open(shared, parts, query, now, used_cookie)?;
    let provider = login.provider;
    seen.provider = Some(provider);
    let metadata = provider.metadata().await.map_err(|e| e.to_auth_error())?;
    if provider.config.response_mode == crate::config::ResponseMode::FormPost
        && parts.method != http::Method::POST
    {
        // A login of a form_post provider answered on a route of no provider's (the plain
        // callback path beside numbered providers): not sent by the provider.
        return Err(AuthError::new(
            crate::error::AuthErrorKind::MalformedCallback,
            NOT_IN_THE_ADDRESS,
        ));
    }
    let code = issuer::check(shared, provider, &metadata, query)?;
    let tokens = exchange::redeem(provider, &metadata, code, &login.record).await?;
    let claims = verify::validate(
        shared,
        provider,
        &metadata,
        &tokens.id_token,
        &login.record,
        now,
    )
    .await?;
    seen.subject = claims
        .get("sub")
        .and_then(serde_json::Value::as_str)
        .map(str::to_owned);
    let audience = crate::jwt::Audience::of(&provider.config, now, shared.config.leeway);
    let claims = userinfo::merge(
        provider,
        &metadata,
        tokens.access_token.as_deref(),
        tokens.dpop_bound,
        claims,
        &audience,
    )
    .await?;
    let grant = admission::evaluate(provider, &claims)?;
    let data = admission::admit(shared, provider, claims, grant, now).await?;
    let return_to = &login.record.return_to;
    match &shared.server {
        None => issue::session(shared, data, &tokens.id_token, return_to),
        Some(server) => issue::stored_session(shared, server, data, tokens, return_to).await,
    }
}
